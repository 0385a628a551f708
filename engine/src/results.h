/*
 * The result queue: engine threads (writer, control) -> the host thread.
 *
 * DESIGN
 * - Producers: the writer thread (aggregate publications, logs) and control
 *   threads (command answers, logs). Consumer: the host's thread, in the
 *   plugin the broker thread inside the TICK callback, which may publish.
 * - Each item is one malloc()ed block (header + topic + payload), built
 *   completely by the producer before it is linked in, so the consumer only
 *   unlinks and reads. The lock is held for a pointer append or a list
 *   detach, never while building or publishing.
 * - Order: FIFO across all producers (one list), so an answer's pages and a
 *   bucket's final/correction updates reach the broker in production order.
 * - Full queue: when more than `max_items` are waiting (the host stopped
 *   draining, e.g. a broker whose tick never fires), new aggregate
 *   publications and logs are dropped and counted; command answers are
 *   always queued, because a requester waits for them and their number is
 *   bounded by the control queue.
 * - Notification: the host may give a function (tsdb_options.
 *   results_notify_fn) that is called when results become available and
 *   none are announced yet: a producer that links an item while `announced`
 *   is false sets it and calls the function, on its own thread, after
 *   releasing the lock. A drain clears `announced` before it detaches, so an
 *   item linked after that announces itself again; a drain that leaves items
 *   behind (its bounds) announces them itself. So at most one notification
 *   is outstanding per drain, and no item waits unannounced.
 * - Shutdown: the owner stops producers first, then frees what is left.
 */
#ifndef TSDB_RESULTS_H
#define TSDB_RESULTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

typedef struct tsdb_result_item {
  struct tsdb_result_item *next;
  tsdb_result result; /* topic and payload point into this allocation */
} tsdb_result_item;

typedef struct tsdb_results {
  pthread_mutex_t lock;
  tsdb_result_item *head, *tail;
  atomic_size_t count;
  size_t max_items;
  atomic_uint_fast64_t dropped;
  atomic_size_t bytes;     /* payload bytes waiting */
  pthread_cond_t drained;  /* signalled when items leave */
  atomic_bool announced;   /* the host was notified of items not yet drained */
  void (*notify)(void *ud);
  void *notify_ud;
  atomic_bool shutting_down; /* waits for backlog end at once (tsdb_shutdown) */
} tsdb_results;

/* notify may be NULL (the host polls). */
int tsdb_results__init(tsdb_results *q, size_t max_items, void (*notify)(void *ud),
                       void *notify_ud);
void tsdb_results__destroy(tsdb_results *q);

/* Queues a publication; copies topic and payload. `essential` items (command
 * answers) ignore max_items. Returns 0, TSDB_ENOMEM or TSDB_EFULL. */
int tsdb_results__publish(tsdb_results *q, const char *topic, const void *payload,
                          size_t len, int qos, bool retain, bool essential);
/* Queues a log line (copied). */
int tsdb_results__log(tsdb_results *q, int level, const char *text);

/* Producers of many answers (control threads) wait here while more than
 * max_bytes of payload wait to be published: backpressure, so a huge query
 * or a replay never fills memory faster than the broker publishes. Returns
 * false when `stop` became true while waiting. */
bool tsdb_results__wait_below(tsdb_results *q, size_t max_bytes, atomic_bool *stop);
/* Shutdown: every wait for the backlog to shrink ends now and from now on
 * (the host stops draining: a producer must not wait for it forever). */
void tsdb_results__end_waits(tsdb_results *q);
/* The same, giving up after timeout_ms: returns 1 when below, 0 on timeout,
 * -1 when `stop` became true. For producers that must act on their own clock
 * while they wait (replay progress). */
int tsdb_results__wait_below_for(tsdb_results *q, size_t max_bytes, atomic_bool *stop,
                                 int64_t timeout_ms);

size_t tsdb_results__drain(tsdb_results *q, size_t max_items, size_t max_bytes,
                           tsdb_result_fn fn, void *ud);

#endif /* TSDB_RESULTS_H */
