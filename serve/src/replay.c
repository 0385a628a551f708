/*
 * Replays: the archived original messages of a topic filter over [from, to),
 * published again on a replay namespace at x N speed or as fast as flow
 * control allows.
 *
 * DESIGN
 * Threads and ownership
 *   - One thread per running replay, at most max_replays at once (a replay
 *     at x60 of an hour takes a minute, and must not hold a control thread
 *     that queries wait for). Each thread owns its replay: a scan of
 *     the engine's time-major archive on one snapshot (tsdb_archive_scan),
 *     its pacing clock and progress schedule. The registry (a list under a mutex) only holds the
 *     handles, so `cancel` can find one and set its flag.
 *   - Messages go out through the outbox (the broker thread publishes
 *     them in the tick), on $tsdb/replay/<client id>/<replay id>/<original
 *     topic> with no target client, so the broker's read ACL decides who
 *     receives them, topic by topic. Live consumers of the original topics
 *     see nothing. Progress goes to $tsdb/replay/<client id>/<replay id>.
 * What progress may say
 *   - The broker's ACL withholds some of the published messages from the
 *     requester, and we cannot know which (Mosquitto 2.0 has no "may client
 *     X read topic T"). So progress never depends on the messages: no count,
 *     no arrival time of a message. A paced replay (x N) reports the point
 *     of the requested range it has reached on the clock alone, position =
 *     from + elapsed x N, and ends ("done", position = to) when that covers
 *     the range, however many messages matched; a "max" replay reports only
 *     its state. "running" leaves every PROGRESS_EVERY_MS of the thread's
 *     clock, also while it waits for pacing or for the backlog.
 * Ordering: messages in arrival order (the archive's key order), with their
 *   original payload. A paced message leaves at from + (arrival - from) / N
 *   on the replay's clock.
 * Flow control: before each message the thread waits while the outbox
 *   holds more than a backlog of bytes (outbox.h), so a replay at "max"
 *   runs as fast as the broker publishes and never fills memory. Waits
 *   (pacing, backlog) are sliced to at most 100 ms, checking for cancellation.
 * Shutdown order: stop() cancels every replay, joins each thread (a thread
 *   notices within one slice), frees the registry. It runs before the engine
 *   closes.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_internal.h"
#include "strbuf.h"
#include "thread.h"
#include "timeutil.h"
#include "tsdb/topic.h"

#define REPLAY_BACKLOG_BYTES ((size_t)8 << 20)
#define PROGRESS_EVERY_MS 1000
#define SLICE_MS 100

typedef struct replay {
  struct replay *next;
  tsdb_serve *srv;
  pthread_t thread;
  char *client_id; /* whole: replays go to $tsdb/replay/<exactly this id>/ */
  char id[40];
  char *filter;
  int64_t from, to;
  double speed; /* 0: as fast as flow control allows */
  atomic_bool cancel;
  atomic_bool finished;
  /* Owned by the replay's thread. */
  int64_t start_ms;         /* monotonic time the replay began */
  int64_t next_progress_ms; /* monotonic time of the next "running" */
} replay;

struct tsdb_replays {
  tsdb_serve *srv;
  pthread_mutex_t lock;
  replay *list;
  size_t running;
  uint64_t counter;
};

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Monotonic time at which a paced replay reaches archive time t. Capped so
 * that a tiny speed over a long range cannot overflow. */
static int64_t paced_due(const replay *r, int64_t t) {
  double d = ceil((double)(t - r->from) / r->speed);
  if (d > 1e15) d = 1e15; /* about 30 000 years */
  return r->start_ms + (int64_t)d;
}

/* Where a paced replay stands: from + elapsed x speed, a function of the
 * clock only, within [from, to]. */
static int64_t paced_position(const replay *r, int64_t now) {
  double p = (double)r->from + (double)(now - r->start_ms) * r->speed;
  return p >= (double)r->to ? r->to : p <= (double)r->from ? r->from : (int64_t)p;
}

/* {"replay":..,"state":..[,"position_ms":..][,"error":..]}: nothing in it
 * depends on the archived messages (see DESIGN). */
static void progress(replay *r, const char *state, int64_t position, const char *error) {
  tsdb_strbuf topic;
  tsdb_strbuf__init(&topic);
  tsdb_strbuf__printf(&topic, "$tsdb/replay/%s/%s", r->client_id, r->id);
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_strbuf__puts(&sb, "{\"replay\":");
  tsdb_strbuf__json_string(&sb, r->id, strlen(r->id));
  tsdb_strbuf__printf(&sb, ",\"state\":\"%s\"", state);
  if (r->speed > 0) tsdb_strbuf__printf(&sb, ",\"position_ms\":%lld", (long long)position);
  if (error) {
    tsdb_strbuf__puts(&sb, ",\"error\":");
    tsdb_strbuf__json_string(&sb, error, strlen(error));
  }
  tsdb_strbuf__putc(&sb, '}');
  bool fits = !tsdb_strbuf__failed(&topic) && topic.len <= TSDB_TOPIC_MAX_LEN;
  if (!tsdb_strbuf__failed(&sb) && fits)
    tsdb_outbox__publish(&r->srv->outbox, topic.data, sb.data, sb.len, 1, false, true);
  tsdb_strbuf__free(&sb);
  tsdb_strbuf__free(&topic);
}

/* "running" when its time has come; returns the time the next one is due. */
static int64_t heartbeat(replay *r, int64_t now) {
  if (now >= r->next_progress_ms) {
    progress(r, "running", r->speed > 0 ? paced_position(r, now) : 0, NULL);
    while (r->next_progress_ms <= now) r->next_progress_ms += PROGRESS_EVERY_MS;
  }
  return r->next_progress_ms;
}

/* Sleeps until the monotonic time `due`, in slices, keeping the progress
 * schedule. False when cancelled. */
static bool wait_until(replay *r, int64_t due) {
  for (;;) {
    if (atomic_load(&r->cancel)) return false;
    int64_t now = tsdb_time__monotonic_ms();
    int64_t next = heartbeat(r, now);
    if (now >= due) return true;
    int64_t d = due - now;
    if (d > SLICE_MS) d = SLICE_MS;
    if (d > next - now) d = next - now;
    sleep_ms(d);
  }
}

/* Waits while the outbox holds more than the backlog, keeping the
 * progress schedule. False when cancelled. */
static bool wait_backlog(replay *r) {
  for (;;) {
    int64_t now = tsdb_time__monotonic_ms();
    int64_t next = heartbeat(r, now);
    int64_t d = next - now;
    int rc = tsdb_outbox__wait_below_for(&r->srv->outbox, REPLAY_BACKLOG_BYTES, &r->cancel,
                                         d < SLICE_MS ? d : SLICE_MS);
    if (rc) return rc > 0;
  }
}

/* The scan's callback result when the replay was cancelled (storage errors
 * are negative). */
#define REPLAY_CANCELLED 1

typedef struct replay_scan {
  replay *r;
  uint64_t sent;         /* for the broker's log only, never for the requester */
  tsdb_strbuf topic;     /* the archived topic, NUL-terminated */
  tsdb_strbuf out_topic; /* where it is replayed */
} replay_scan;

static int replay_message(void *ud, int64_t arrival, const char *topic_bytes, size_t topic_len,
                          const void *payload, size_t len) {
  replay_scan *rs = ud;
  replay *r = rs->r;
  if (atomic_load(&r->cancel)) return REPLAY_CANCELLED;
  heartbeat(r, tsdb_time__monotonic_ms());
  /* Topics of any length (MQTT allows 65 535 bytes); one with a NUL byte
   * was never a valid topic and is skipped. */
  rs->topic.len = 0;
  tsdb_strbuf__append(&rs->topic, topic_bytes, topic_len);
  if (tsdb_strbuf__failed(&rs->topic)) return TSDB_ENOMEM;
  if (memchr(rs->topic.data, '\0', topic_len) ||
      !tsdb_topic_filter_match(r->filter, rs->topic.data))
    return 0;
  /* Keep the original spacing, compressed by the speed factor, measured
   * from the start of the range (not from the first message). */
  if (r->speed > 0 && !wait_until(r, paced_due(r, arrival))) return REPLAY_CANCELLED;
  if (!wait_backlog(r)) return REPLAY_CANCELLED;
  rs->out_topic.len = 0;
  tsdb_strbuf__printf(&rs->out_topic, "$tsdb/replay/%s/%s/%s", r->client_id, r->id, rs->topic.data);
  if (tsdb_strbuf__failed(&rs->out_topic)) return TSDB_ENOMEM;
  /* Longer than MQTT allows: the broker could not publish it (and any
   * other topic would escape the read ACL of the original). */
  if (rs->out_topic.len > TSDB_TOPIC_MAX_LEN) return 0;
  tsdb_outbox__publish(&r->srv->outbox, rs->out_topic.data, payload, len, 1, false, true);
  rs->sent++;
  return 0;
}

static void *replay_main(void *arg) {
  replay *r = arg;
  tsdb_serve *srv = r->srv;
  r->start_ms = tsdb_time__monotonic_ms();
  r->next_progress_ms = r->start_ms + PROGRESS_EVERY_MS;
  replay_scan scan = {r, 0, {0}, {0}};
  tsdb_strbuf__init(&scan.topic);
  tsdb_strbuf__init(&scan.out_topic);
  int rc = tsdb_archive_scan(srv->db, r->from, r->to, replay_message, &scan);
  tsdb_strbuf__free(&scan.topic);
  tsdb_strbuf__free(&scan.out_topic);
  bool cancelled = rc == REPLAY_CANCELLED;
  const char *error = rc < 0 ? tsdb_strerror(rc) : NULL;
  /* A paced replay covers its whole range, whatever matched in it. */
  if (!error && !cancelled && r->speed > 0 && !wait_until(r, paced_due(r, r->to))) cancelled = true;
  const char *state = error ? "error" : cancelled ? "cancelled" : "done";
  int64_t position = r->speed > 0 ? paced_position(r, tsdb_time__monotonic_ms()) : 0;
  if (!error && !cancelled) position = r->to;
  progress(r, state, position, error);
  tsdb_log__printf(&srv->log, TSDB_LOG_INFO, "replay %s client=%s id=%s sent=%llu",
                   error       ? "failed"
                   : cancelled ? "cancelled"
                               : "done",
                   r->client_id, r->id, (unsigned long long)scan.sent);
  atomic_store(&r->finished, true);
  return NULL;
}

/* Joins and frees finished replays (caller holds the lock). */
static void reap(tsdb_replays *rs) {
  replay **pp = &rs->list;
  while (*pp) {
    replay *r = *pp;
    if (!atomic_load(&r->finished)) {
      pp = &r->next;
      continue;
    }
    pthread_join(r->thread, NULL);
    *pp = r->next;
    rs->running--;
    free(r->filter);
    free(r->client_id);
    free(r);
  }
}

int tsdb_replays__init(tsdb_serve *srv, tsdb_replays **out) {
  tsdb_replays *rs = calloc(1, sizeof *rs);
  if (!rs) return TSDB_ENOMEM;
  rs->srv = srv;
  if (pthread_mutex_init(&rs->lock, NULL)) {
    free(rs);
    return TSDB_ENOMEM;
  }
  *out = rs;
  return 0;
}

int tsdb_replays__start(tsdb_replays *rs, const char *client_id, const char *id, const char *filter,
                        int64_t from, int64_t to, double speed, char *idbuf, size_t idlen) {
  pthread_mutex_lock(&rs->lock);
  reap(rs);
  int rc = 0;
  char gen[40];
  if (!id || !*id) {
    snprintf(gen, sizeof gen, "r%llu", (unsigned long long)++rs->counter);
    id = gen;
  }
  for (replay *r = rs->list; r && rc == 0; r = r->next)
    if (!strcmp(r->client_id, client_id) && !strcmp(r->id, id) && !atomic_load(&r->finished))
      rc = TSDB_EINVAL; /* the same client already runs a replay of that id */
  if (rc == 0 && rs->running >= rs->srv->opts.max_replays) rc = TSDB_EFULL;
  replay *r = rc == 0 ? calloc(1, sizeof *r) : NULL;
  if (rc == 0 && (!r || !(r->filter = strdup(filter)) || !(r->client_id = strdup(client_id))))
    rc = TSDB_ENOMEM;
  if (rc == 0) {
    r->srv = rs->srv;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->from = from;
    r->to = to;
    r->speed = speed;
    if (tsdb_thread__start(&r->thread, "tsdb-replay", replay_main, r)) {
      rc = TSDB_ETHREAD;
    } else {
      r->next = rs->list;
      rs->list = r;
      rs->running++;
      snprintf(idbuf, idlen, "%s", r->id);
      r = NULL;
    }
  }
  if (r) {
    free(r->filter);
    free(r->client_id);
    free(r);
  }
  pthread_mutex_unlock(&rs->lock);
  return rc;
}

int tsdb_replays__cancel(tsdb_replays *rs, const char *client_id, const char *id) {
  int rc = TSDB_ENOTFOUND;
  pthread_mutex_lock(&rs->lock);
  for (replay *r = rs->list; r; r = r->next) {
    /* Only the client that started a replay can cancel it. */
    if (!strcmp(r->client_id, client_id) && !strcmp(r->id, id) && !atomic_load(&r->finished)) {
      atomic_store(&r->cancel, true);
      rc = 0;
    }
  }
  pthread_mutex_unlock(&rs->lock);
  return rc;
}

void tsdb_replays__stop(tsdb_replays *rs) {
  if (!rs) return;
  pthread_mutex_lock(&rs->lock);
  for (replay *r = rs->list; r; r = r->next) atomic_store(&r->cancel, true);
  pthread_mutex_unlock(&rs->lock);
  /* Threads end within one pacing slice or backlog wait. */
  for (;;) {
    pthread_mutex_lock(&rs->lock);
    reap(rs);
    bool empty = rs->list == NULL;
    pthread_mutex_unlock(&rs->lock);
    if (empty) break;
    sleep_ms(10);
  }
  pthread_mutex_destroy(&rs->lock);
  free(rs);
}
