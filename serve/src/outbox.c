#include "outbox.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int tsdb_outbox__init(tsdb_outbox *q, size_t max_items, void (*notify)(void *ud), void *notify_ud) {
  memset(q, 0, sizeof *q);
  q->notify = notify;
  q->notify_ud = notify_ud;
  if (pthread_mutex_init(&q->lock, NULL)) return TSDB_ENOMEM;
  if (pthread_cond_init(&q->drained, NULL)) {
    pthread_mutex_destroy(&q->lock);
    return TSDB_ENOMEM;
  }
  q->max_items = max_items;
  return 0;
}

void tsdb_outbox__destroy(tsdb_outbox *q) {
  tsdb_result_item *it = q->head;
  while (it) {
    tsdb_result_item *next = it->next;
    free(it);
    it = next;
  }
  q->head = q->tail = NULL;
  pthread_mutex_destroy(&q->lock);
  pthread_cond_destroy(&q->drained);
}

/* Tells the host once that there is something to drain (see outbox.h). */
static void announce(tsdb_outbox *q) {
  if (q->notify && !atomic_exchange(&q->announced, true)) q->notify(q->notify_ud);
}

static void append(tsdb_outbox *q, tsdb_result_item *item) {
  atomic_fetch_add(&q->bytes, item->result.payload_len);
  pthread_mutex_lock(&q->lock);
  if (q->tail)
    q->tail->next = item;
  else
    q->head = item;
  q->tail = item;
  atomic_fetch_add(&q->count, 1);
  pthread_mutex_unlock(&q->lock);
  announce(q);
}

int tsdb_outbox__publish(tsdb_outbox *q, const char *topic, const void *payload, size_t len,
                         int qos, bool retain, bool essential) {
  if (!essential && atomic_load(&q->count) >= q->max_items) {
    atomic_fetch_add(&q->dropped, 1);
    return TSDB_EFULL;
  }
  size_t tlen = strlen(topic);
  tsdb_result_item *item = malloc(sizeof *item + tlen + 1 + len + 1);
  if (!item) {
    atomic_fetch_add(&q->dropped, 1);
    return TSDB_ENOMEM;
  }
  char *t = (char *)(item + 1);
  char *p = t + tlen + 1;
  memcpy(t, topic, tlen + 1);
  if (len) memcpy(p, payload, len);
  p[len] = '\0';
  item->next = NULL;
  item->result = (tsdb_result){.kind = TSDB_RESULT_PUBLISH,
                               .topic = t,
                               .payload = p,
                               .payload_len = len,
                               .qos = qos,
                               .retain = retain};
  append(q, item);
  return 0;
}

int tsdb_outbox__log(tsdb_outbox *q, int level, const char *text) {
  if (atomic_load(&q->count) >= q->max_items) {
    atomic_fetch_add(&q->dropped, 1);
    return TSDB_EFULL;
  }
  size_t len = strlen(text);
  tsdb_result_item *item = malloc(sizeof *item + len + 1);
  if (!item) return TSDB_ENOMEM;
  char *p = (char *)(item + 1);
  memcpy(p, text, len + 1);
  item->next = NULL;
  item->result =
      (tsdb_result){.kind = TSDB_RESULT_LOG, .payload = p, .payload_len = len, .level = level};
  append(q, item);
  return 0;
}

int tsdb_outbox__wait_below_for(tsdb_outbox *q, size_t max_bytes, atomic_bool *stop,
                                int64_t timeout_ms) {
  if (atomic_load(&q->bytes) <= max_bytes) return 1;
  struct timespec end;
  clock_gettime(CLOCK_REALTIME, &end);
  if (timeout_ms >= 0) {
    end.tv_sec += (time_t)(timeout_ms / 1000);
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
      end.tv_sec++;
      end.tv_nsec -= 1000000000L;
    }
  }
  int rc = 0;
  pthread_mutex_lock(&q->lock);
  for (;;) {
    if (atomic_load(&q->bytes) <= max_bytes) {
      rc = 1;
      break;
    }
    if ((stop && atomic_load(stop)) || atomic_load(&q->shutting_down)) {
      rc = -1;
      break;
    }
    /* At most 50 ms at a time, so that a stop request is noticed even if
     * nobody drains. */
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    if (timeout_ms >= 0 &&
        (at.tv_sec > end.tv_sec || (at.tv_sec == end.tv_sec && at.tv_nsec >= end.tv_nsec)))
      break;
    at.tv_nsec += 50 * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
      at.tv_sec++;
      at.tv_nsec -= 1000000000L;
    }
    if (timeout_ms >= 0 &&
        (at.tv_sec > end.tv_sec || (at.tv_sec == end.tv_sec && at.tv_nsec > end.tv_nsec)))
      at = end;
    pthread_cond_timedwait(&q->drained, &q->lock, &at);
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

void tsdb_outbox__end_waits(tsdb_outbox *q) {
  atomic_store(&q->shutting_down, true);
  pthread_mutex_lock(&q->lock);
  pthread_cond_broadcast(&q->drained);
  pthread_mutex_unlock(&q->lock);
}

bool tsdb_outbox__wait_below(tsdb_outbox *q, size_t max_bytes, atomic_bool *stop) {
  return tsdb_outbox__wait_below_for(q, max_bytes, stop, -1) == 1;
}

size_t tsdb_outbox__drain(tsdb_outbox *q, size_t max_items, size_t max_bytes, tsdb_result_fn fn,
                          void *ud) {
  if (max_items == 0) return 0;
  /* Items linked from here on announce themselves (outbox.h). */
  atomic_store(&q->announced, false);
  if (atomic_load(&q->count) == 0) return 0;
  /* Detach up to max_items (and about max_bytes) under the lock; hand them
   * over without it. */
  pthread_mutex_lock(&q->lock);
  tsdb_result_item *first = q->head, *last = NULL, *it = q->head;
  size_t n = 0, bytes = 0;
  while (it && n < max_items && (n == 0 || bytes < max_bytes)) {
    bytes += it->result.payload_len;
    last = it;
    it = it->next;
    n++;
  }
  q->head = it;
  if (!it) q->tail = NULL;
  if (last) last->next = NULL;
  atomic_fetch_sub(&q->count, n);
  atomic_fetch_sub(&q->bytes, bytes);
  bool left = q->head != NULL;
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->drained);
  if (left) announce(q); /* the bounds kept some: the host should come back soon */

  for (it = first; it;) {
    tsdb_result_item *next = it->next;
    fn(ud, &it->result);
    free(it);
    it = next;
  }
  return n;
}
