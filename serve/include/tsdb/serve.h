/*
 * serve/: the read protocols over the engine's public API (tsdb/tsdb.h).
 * What the engine stores and computes, this layer names, formats and sends
 * to its readers, as (topic, payload) results that the host (the Mosquitto
 * plugin, a test, a benchmark) drains and publishes on its own thread:
 *   - the live aggregates: the writer's bucket events as $tsdb/agg/<tier>/<topic>
 *     (aggregates.c);
 *   - the $CONTROL/tsdb/v1 commands, answered on $tsdb/reply/<client id>/...
 *     (control.c), and replays of the archive on $tsdb/replay/... (replay.c);
 *   - the counters as a JSON object and Prometheus text (metrics.c);
 *   - the outbox that carries all of it, and the engine's log lines, to the
 *     host (outbox.c).
 *
 * Threads: control threads and replay threads of its own; the writer thread
 * calls its bucket-event function; the host's thread drains.
 *
 * Lifecycle (the order matters: the engine's writer publishes into the
 * outbox from the moment it starts):
 *   tsdb_serve_open()            the outbox
 *   tsdb_serve_engine_options()  bucket events (and log lines) into it
 *   tsdb_open()                  the engine
 *   tsdb_serve_start()           control and replay threads on the engine
 *   ... tsdb_ingest(), tsdb_serve_control_submit(), tsdb_serve_drain() ...
 *   tsdb_serve_stop()            control and replays stop; no wait for the host
 *   tsdb_close()                 the engine (its writer's last events still go out)
 *   tsdb_serve_close()           what was not drained is freed
 */
#ifndef TSDB_SERVE_H
#define TSDB_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsdb_serve tsdb_serve;

typedef struct tsdb_serve_options {
  uint32_t control_threads;      /* threads running $CONTROL commands; default 1 */
  uint32_t max_answer_rows;      /* rows per query answer page; default 10000 */
  uint32_t max_pending_commands; /* queued $CONTROL requests before "busy"; default 256 */
  uint32_t max_replays;          /* replays running at once; default 4 */
  size_t max_results; /* undrained results before aggregates are dropped; default 100000 */
  /* Called when results become available to drain while none are announced
   * yet: at most once until the next tsdb_serve_drain*() starts (a drain
   * that leaves results behind calls it again, on the draining thread).
   * Called from any thread; must be quick and thread-safe and must not call
   * into the engine or serve/. NULL: the host polls. The plugin wakes the
   * broker's loop with it. */
  void (*results_notify_fn)(void *ud);
  void *results_notify_ud;
  /* serve/'s own log lines (a refused request, a replay's end): through
   * this function, or NULL: into the outbox (TSDB_RESULT_LOG), like the
   * engine's with tsdb_serve_engine_options(). */
  tsdb_log_fn log_fn;
  void *log_ud;
  int log_level; /* default TSDB_LOG_INFO */
} tsdb_serve_options;

/* Fills every field with its default. */
void tsdb_serve_options_init(tsdb_serve_options *opts);

/* The outbox, ready for the engine's bucket events. errbuf may be NULL. */
int tsdb_serve_open(const tsdb_serve_options *opts, tsdb_serve **out, char *errbuf, size_t errlen);

/*
 * Sets what the engine needs to feed serve/: bucket events become the live
 * aggregates, and, when the host gave the engine no log function, the
 * engine's log lines go to the outbox at the engine's log_level.
 */
void tsdb_serve_engine_options(tsdb_serve *srv, tsdb_options *engine);

/* Starts the control and replay threads on an open engine. */
int tsdb_serve_start(tsdb_serve *srv, tsdb_db *db, char *errbuf, size_t errlen);

/* Stops the control threads (each finishes the command in hand; waiting
 * requests are dropped unanswered) and every replay, and ends every wait
 * for the host to drain (it may have stopped draining). Before tsdb_close. */
void tsdb_serve_stop(tsdb_serve *srv);

/* Frees what is left; after tsdb_close. NULL is fine. */
void tsdb_serve_close(tsdb_serve *srv);

/* ------------------------------------------------------------------------ */
/* Results: what the host publishes (or logs) on its own thread              */

typedef enum tsdb_result_kind {
  TSDB_RESULT_PUBLISH = 1, /* publish payload on topic (qos, retain) */
  TSDB_RESULT_LOG = 2      /* a log line (level, payload is the text) */
} tsdb_result_kind;

typedef struct tsdb_result {
  int kind;
  const char *topic;   /* PUBLISH: NUL-terminated topic */
  const char *payload; /* PUBLISH: bytes; LOG: NUL-terminated text */
  size_t payload_len;
  int qos;
  bool retain;
  int level; /* LOG */
} tsdb_result;

typedef void (*tsdb_result_fn)(void *ud, const tsdb_result *result);

/*
 * Hands up to max_items ready results to fn, in production order, on the
 * calling thread; the result is valid during the call only. Returns the
 * number handed over. Never blocks on I/O; holds the queue lock only to
 * detach the items.
 */
size_t tsdb_serve_drain(tsdb_serve *srv, size_t max_items, tsdb_result_fn fn, void *ud);
/* The same, also stopping once max_bytes of payload were handed over (at
 * least one item always goes): the broker's tick bounds its time with it. */
size_t tsdb_serve_drain_bounded(tsdb_serve *srv, size_t max_items, size_t max_bytes,
                                tsdb_result_fn fn, void *ud);
/* Number of results waiting to be drained (approximate, lock-free read). */
size_t tsdb_serve_pending(const tsdb_serve *srv);

/* ------------------------------------------------------------------------ */
/* $CONTROL/tsdb/v1 commands                                                 */

/*
 * Queues a command request ({"commands":[...]} JSON, dynamic-security style)
 * from client_id for a control thread; copies both. Each command's answer is
 * published as {"responses":[...]} on $tsdb/reply/<client id>/<data topic>
 * (or $tsdb/reply/<client id> when no data topic applies) with no target
 * client, so the broker's read ACL decides who receives it. When the queue is
 * full a "busy" error answer is produced instead. A client id that cannot be
 * given ACL-scoped answers (tsdb_client_id_scopable) is refused with
 * TSDB_EINVAL and logged. Never blocks on I/O.
 */
int tsdb_serve_control_submit(tsdb_serve *srv, const char *client_id, const void *payload,
                              size_t len);

/* Whether a client id can own a reply namespace ($tsdb/reply/<id>/...):
 * not NULL or empty, and without '/', '+' or '#', which would make
 * "$tsdb/reply/<id>" reach into another client's namespace or be a filter. */
bool tsdb_client_id_scopable(const char *id);

/* ------------------------------------------------------------------------ */
/* Counters                                                                  */

/* The engine's counters and serve/'s own. */
typedef struct tsdb_serve_stats {
  tsdb_stats engine;
  uint64_t commands;        /* $CONTROL requests run */
  uint64_t results_dropped; /* publications dropped because nobody drained them */
} tsdb_serve_stats;

void tsdb_serve_stats_get(tsdb_serve *srv, tsdb_serve_stats *stats);

/* Counters of the host (the plugin: accepted/refused per schema and reason)
 * for the stats command, as a JSON object text and Prometheus text lines;
 * copied. Thread-safe. */
void tsdb_serve_host_metrics_set(tsdb_serve *srv, const char *json, const char *prometheus);

/* The counters in the Prometheus text exposition format (metric prefix
 * "tsdb_"), malloc()ed; NULL on out of memory. */
char *tsdb_serve_prometheus(const tsdb_serve_stats *stats);

/* "$tsdb/agg/<tier>/<topic>" into buf; false if it does not fit. */
bool tsdb_serve_agg_topic(char *buf, size_t len, int64_t tier_ms, const char *topic,
                          size_t topic_len);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_SERVE_H */
