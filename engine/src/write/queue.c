#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "class.h"

int tsdb_queue__init(tsdb_queue *q, size_t cap) {
  memset(q, 0, sizeof *q);
  q->cap = cap;
  /* Mapped, not malloc()ed: pages are committed only as the buffers are
   * used, and given back after a burst (tsdb_queue__processed). */
  for (int i = 0; i < 2; i++) {
    void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    q->buf[i] = m == MAP_FAILED ? NULL : m;
  }
  if (!q->buf[0] || !q->buf[1]) goto fail;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_mutex_init(&q->lock, NULL);
  rc |= pthread_cond_init(&q->wake, &ca);
  rc |= pthread_cond_init(&q->done, &ca);
  pthread_condattr_destroy(&ca);
  if (rc) goto fail;
  return 0;
fail:
  for (int i = 0; i < 2; i++)
    if (q->buf[i]) munmap(q->buf[i], cap);
  return TSDB_ENOMEM;
}

static void release_records(uint8_t *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    tsdb_qrec *r = (tsdb_qrec *)(data + off);
    tsdb_series_class_release(r->cls);
    r->cls = NULL;
    off += tsdb_qrec__size_of(r);
  }
}

/* Bytes of the name table of a message, or 0 when a name or unit is bad. */
static size_t names_table_size(const tsdb_ingest_msg *m, bool *ok) {
  *ok = true;
  if (!m->names) return 0;
  size_t n = 0;
  for (size_t i = 0; i < m->nnames; i++) {
    size_t nl = m->names[i] ? strlen(m->names[i]) : 0;
    size_t ul = m->units && m->units[i] ? strlen(m->units[i]) : 0;
    if (nl == 0 || nl > TSDB_MAX_NAME_LEN || ul >= TSDB_QREC_NO_UNIT) *ok = false;
    n += 2 + nl + ul;
  }
  return (n + 7) & ~(size_t)7;
}

void tsdb_queue__destroy(tsdb_queue *q) {
  release_records(q->buf[q->fill], q->used);
  munmap(q->buf[0], q->cap);
  munmap(q->buf[1], q->cap);
  pthread_mutex_destroy(&q->lock);
  pthread_cond_destroy(&q->wake);
  pthread_cond_destroy(&q->done);
}

/* ticket: a durable push (listed, urgent); NULL for a plain one. */
static int push(tsdb_queue *q, const tsdb_ingest_msg *m, tsdb_queue_ticket *ticket);

int tsdb_queue__push(tsdb_queue *q, const tsdb_ingest_msg *m) { return push(q, m, NULL); }

int tsdb_queue__push_durable(tsdb_queue *q, const tsdb_ingest_msg *m) {
  tsdb_queue_ticket t = {NULL, 0, false, false};
  int rc = push(q, m, &t);
  if (rc) return rc;
  /* push() listed the ticket under the lock; the writer resolves it. */
  pthread_mutex_lock(&q->lock);
  while (!t.done && !(q->stop && q->writer_exited)) pthread_cond_wait(&q->done, &q->lock);
  if (!t.done) { /* the writer is gone: take the ticket off the list */
    for (tsdb_queue_ticket **pp = &q->tickets; *pp; pp = &(*pp)->next) {
      if (*pp != &t) continue;
      *pp = t.next;
      break;
    }
  }
  pthread_mutex_unlock(&q->lock);
  return !t.done ? TSDB_ECLOSED : t.ok ? 0 : TSDB_EIO;
}

/* Resolves the waiting tickets with from_seq < seq <= to_seq (lock held). */
static void resolve_tickets(tsdb_queue *q, uint64_t from_seq, uint64_t to_seq, bool ok) {
  tsdb_queue_ticket **pp = &q->tickets;
  while (*pp) {
    tsdb_queue_ticket *t = *pp;
    if (t->seq > from_seq && t->seq <= to_seq) {
      *pp = t->next;
      t->ok = ok;
      t->done = true; /* t may vanish once the lock is released */
    } else {
      pp = &t->next;
    }
  }
}

void tsdb_queue__committed(tsdb_queue *q, uint64_t from_seq, uint64_t seq, bool ok) {
  pthread_mutex_lock(&q->lock);
  resolve_tickets(q, from_seq, seq, ok);
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->done);
}

void tsdb_queue__set_failing(tsdb_queue *q, bool failing) {
  pthread_mutex_lock(&q->lock);
  q->failing = failing;
  if (failing) {
    resolve_tickets(q, 0, UINT64_MAX, false);
    for (size_t off = 0; off < q->used;) {
      tsdb_qrec *r = (tsdb_qrec *)(q->buf[q->fill] + off);
      if (r->flags & TSDB_QREC_DURABLE) r->flags |= TSDB_QREC_DROPPED;
      off += tsdb_qrec__size_of(r);
    }
  }
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->done);
}

bool tsdb_queue__failing(tsdb_queue *q) {
  pthread_mutex_lock(&q->lock);
  bool failing = q->failing;
  pthread_mutex_unlock(&q->lock);
  return failing;
}

bool tsdb_queue__sleep_unless_stopped(tsdb_queue *q, int64_t ms) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t at_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + ms;
  struct timespec at = {(time_t)(at_ms / 1000), (long)(at_ms % 1000) * 1000000L};
  pthread_mutex_lock(&q->lock);
  while (!q->stop && pthread_cond_timedwait(&q->wake, &q->lock, &at) != ETIMEDOUT) {
  }
  bool stopped = q->stop;
  pthread_mutex_unlock(&q->lock);
  return stopped;
}

static int push(tsdb_queue *q, const tsdb_ingest_msg *m, tsdb_queue_ticket *ticket) {
  bool urgent = ticket != NULL;
  if (!m->cls || !m->topic || m->topic_len == 0 || m->topic_len > UINT32_MAX ||
      m->npoints > UINT32_MAX || (m->names && (m->nnames == 0 || m->nnames > UINT32_MAX)))
    return TSDB_EINVAL;
  size_t nfields = m->names ? m->nnames : m->cls->nfields;
  for (size_t i = 0; i < m->npoints; i++)
    if (m->points[i].field >= nfields) return TSDB_EINVAL;
  bool names_ok;
  size_t names_bytes = names_table_size(m, &names_ok);
  if (!names_ok) return TSDB_EINVAL;
  if (m->payload_len > UINT32_MAX || (m->payload_len && !m->payload)) return TSDB_EINVAL;
  tsdb_qrec rec = {m->cls,
                   m->arrival_ms,
                   (uint32_t)m->topic_len,
                   (uint32_t)m->npoints,
                   m->names ? (uint32_t)m->nnames : 0,
                   (uint32_t)names_bytes,
                   (uint32_t)m->payload_len,
                   urgent ? TSDB_QREC_DURABLE : 0};
  size_t need = tsdb_qrec__size_of(&rec);
  if (need > q->cap) return TSDB_ETOOBIG;

  pthread_mutex_lock(&q->lock);
  if (q->stop) {
    pthread_mutex_unlock(&q->lock);
    return TSDB_ECLOSED;
  }
  if (q->failing) {
    pthread_mutex_unlock(&q->lock);
    return TSDB_EIO;
  }
  if (q->used + need > q->cap) {
    pthread_mutex_unlock(&q->lock);
    atomic_fetch_add(&q->full, 1);
    return TSDB_EFULL;
  }
  uint8_t *p = q->buf[q->fill] + q->used;
  memcpy(p, &rec, sizeof rec);
  char *topic = (char *)(p + sizeof rec);
  memcpy(topic, m->topic, m->topic_len);
  memset(topic + m->topic_len, 0, tsdb_qrec__topic_pad(m->topic_len) - m->topic_len);
  uint8_t *pts = (uint8_t *)topic + tsdb_qrec__topic_pad(m->topic_len);
  memcpy(pts, m->points, m->npoints * sizeof(tsdb_point));
  if (names_bytes) {
    uint8_t *t = pts + m->npoints * sizeof(tsdb_point), *end = t + names_bytes;
    for (size_t i = 0; i < m->nnames; i++) {
      size_t nl = strlen(m->names[i]);
      const char *unit = m->units ? m->units[i] : NULL;
      *t++ = (uint8_t)nl;
      memcpy(t, m->names[i], nl);
      t += nl;
      if (unit) {
        size_t ul = strlen(unit);
        *t++ = (uint8_t)ul;
        memcpy(t, unit, ul);
        t += ul;
      } else {
        *t++ = TSDB_QREC_NO_UNIT;
      }
    }
    memset(t, 0, (size_t)(end - t));
  }
  if (m->payload_len) {
    uint8_t *pl = pts + m->npoints * sizeof(tsdb_point) + names_bytes;
    memcpy(pl, m->payload, m->payload_len);
    memset(pl + m->payload_len, 0, ((m->payload_len + 7) & ~(size_t)7) - m->payload_len);
  }
  tsdb_series_class_retain(m->cls);
  size_t before = q->used;
  q->used += need;
  q->pushed++;
  if (ticket) {
    ticket->seq = q->pushed;
    ticket->next = q->tickets;
    q->tickets = ticket;
    q->urgent = true;
  }
  atomic_store_explicit(&q->used_snapshot, q->used, memory_order_relaxed);
  bool wake = q->writer_sleeping || (q->writer_gathering && urgent) ||
              (q->writer_gathering && before < q->cap / 2 && q->used >= q->cap / 2);
  if (wake) {
    q->writer_sleeping = false;
    q->writer_gathering = false;
  }
  pthread_mutex_unlock(&q->lock);
  if (wake) pthread_cond_signal(&q->wake);
  return 0;
}

static struct timespec monotonic_at(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  return ts;
}

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool tsdb_queue__take(tsdb_queue *q, int64_t deadline_ms, uint32_t window_ms, uint8_t **data,
                      size_t *len, uint64_t *seq) {
  *data = NULL;
  *len = 0;
  pthread_mutex_lock(&q->lock);
  while (q->used == 0 && !q->stop) {
    q->writer_sleeping = true;
    if (deadline_ms < 0) {
      pthread_cond_wait(&q->wake, &q->lock);
    } else {
      struct timespec at = monotonic_at(deadline_ms);
      if (pthread_cond_timedwait(&q->wake, &q->lock, &at) == ETIMEDOUT) break;
    }
  }
  q->writer_sleeping = false;
  if (q->used > 0 && !q->stop && !q->urgent && window_ms > 0 && q->used < q->cap / 2) {
    /* Gather a batch: the WAL write and per-batch work are paid once for
     * everything that arrives in the window. */
    q->writer_gathering = true;
    struct timespec at = monotonic_at(monotonic_ms() + window_ms);
    while (q->writer_gathering && !q->stop &&
           pthread_cond_timedwait(&q->wake, &q->lock, &at) != ETIMEDOUT) {
    }
    q->writer_gathering = false;
  }
  bool alive = !(q->stop && q->used == 0);
  q->urgent = false;
  if (q->used > 0) {
    *data = q->buf[q->fill];
    *len = q->used;
    q->fill ^= 1;
    q->used = 0;
    atomic_store_explicit(&q->used_snapshot, 0, memory_order_relaxed);
  }
  *seq = q->pushed;
  pthread_mutex_unlock(&q->lock);
  return alive;
}

void tsdb_queue__release_pages(tsdb_queue *q, uint8_t *data, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (len <= TSDB_QUEUE_KEEP_BYTES + page) return;
  /* While a burst goes on, the pages are about to be filled again. */
  if (atomic_load_explicit(&q->used_snapshot, memory_order_relaxed) > TSDB_QUEUE_KEEP_BYTES) return;
  /* The buffer is mapped, so page-aligned from its start. */
  size_t from = TSDB_QUEUE_KEEP_BYTES, to = (len + page - 1) / page * page;
  madvise(data + from, to - from, MADV_DONTNEED); /* advice: failure changes nothing */
}

void tsdb_queue__processed(tsdb_queue *q, uint64_t seq) {
  pthread_mutex_lock(&q->lock);
  if (seq > q->processed) q->processed = seq;
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->done);
}

uint64_t tsdb_queue__pushed(tsdb_queue *q) {
  pthread_mutex_lock(&q->lock);
  uint64_t n = q->pushed;
  pthread_mutex_unlock(&q->lock);
  return n;
}

int tsdb_queue__wait_processed(tsdb_queue *q, uint64_t seq) {
  pthread_mutex_lock(&q->lock);
  /* Every pushed message wakes the writer if it sleeps, so it will get to
   * seq without help; after stop it drains everything before exiting. A
   * reader waiting is a reason to end the gathering window now, as a
   * durable push is: read-your-writes must not cost a whole window. */
  bool wake = false;
  if (q->processed < seq) {
    q->urgent = true;
    wake = q->writer_gathering;
    q->writer_gathering = false;
  }
  if (wake) pthread_cond_signal(&q->wake);
  /* While storage fails the writer makes no progress: a reader reads what
   * is stored rather than wait for a recovery. */
  while (q->processed < seq && !q->failing) {
    if (q->stop && q->writer_exited) break;
    pthread_cond_wait(&q->done, &q->lock);
  }
  int rc = q->processed >= seq ? 0 : q->failing ? TSDB_EIO : TSDB_ECLOSED;
  pthread_mutex_unlock(&q->lock);
  return rc;
}

int tsdb_queue__sync(tsdb_queue *q) { return tsdb_queue__wait_processed(q, tsdb_queue__pushed(q)); }

void tsdb_queue__writer_exited(tsdb_queue *q) {
  pthread_mutex_lock(&q->lock);
  q->writer_exited = true;
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->done);
}

void tsdb_queue__stop(tsdb_queue *q) {
  pthread_mutex_lock(&q->lock);
  q->stop = true;
  pthread_mutex_unlock(&q->lock);
  pthread_cond_broadcast(&q->wake);
  pthread_cond_broadcast(&q->done);
}
