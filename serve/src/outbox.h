/*
 * The outbox: serve/'s result queue, from the engine's and serve/'s threads
 * to the host's thread.
 *
 * DESIGN
 * - Producers: the writer thread (aggregate publications through the bucket
 *   events, the engine's log lines), control threads (command answers,
 *   logs) and replay threads (replayed messages, progress). Consumer: the host's thread, in the
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
 * - Notification: the host may give a function (tsdb_serve_options.
 *   results_notify_fn) that is called when results become available and
 *   none are announced yet: a producer that links an item while `announced`
 *   is false sets it and calls the function, on its own thread, after
 *   releasing the lock. A drain clears `announced` before it detaches, so an
 *   item linked after that announces itself again; a drain that leaves items
 *   behind (its bounds) announces them itself. So at most one notification
 *   is outstanding per drain, and no item waits unannounced.
 * - Shutdown: the owner stops producers first, then frees what is left.
 */
#ifndef TSDB_OUTBOX_H
#define TSDB_OUTBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/serve.h"

typedef struct tsdb_result_item {
  struct tsdb_result_item *next;
  tsdb_result result; /* topic and payload point into this allocation */
} tsdb_result_item;

typedef struct tsdb_outbox {
  pthread_mutex_t lock;
  tsdb_result_item *head, *tail;
  atomic_size_t count;
  size_t max_items;
  atomic_uint_fast64_t dropped;
  atomic_size_t bytes;    /* payload bytes waiting */
  pthread_cond_t drained; /* signalled when items leave */
  atomic_bool announced;  /* the host was notified of items not yet drained */
  void (*notify)(void *ud);
  void *notify_ud;
  atomic_bool shutting_down; /* waits for backlog end at once (tsdb_shutdown) */
} tsdb_outbox;

/* notify may be NULL (the host polls). */
int tsdb_outbox__init(tsdb_outbox *q, size_t max_items, void (*notify)(void *ud), void *notify_ud);
void tsdb_outbox__destroy(tsdb_outbox *q);

/* Queues a publication; copies topic and payload. `essential` items (command
 * answers) ignore max_items. Returns 0, TSDB_ENOMEM or TSDB_EFULL. */
int tsdb_outbox__publish(tsdb_outbox *q, const char *topic, const void *payload, size_t len,
                         int qos, bool retain, bool essential);
/* Queues a log line (copied). */
int tsdb_outbox__log(tsdb_outbox *q, int level, const char *text);

/* Producers of many answers (control threads) wait here while more than
 * max_bytes of payload wait to be published: backpressure, so a huge query
 * or a replay never fills memory faster than the broker publishes. Returns
 * false when `stop` became true while waiting. */
bool tsdb_outbox__wait_below(tsdb_outbox *q, size_t max_bytes, atomic_bool *stop);
/* Shutdown: every wait for the backlog to shrink ends now and from now on
 * (the host stops draining: a producer must not wait for it forever). */
void tsdb_outbox__end_waits(tsdb_outbox *q);
/* The same, giving up after timeout_ms: returns 1 when below, 0 on timeout,
 * -1 when `stop` became true. For producers that must act on their own clock
 * while they wait (replay progress). */
int tsdb_outbox__wait_below_for(tsdb_outbox *q, size_t max_bytes, atomic_bool *stop,
                                int64_t timeout_ms);

size_t tsdb_outbox__drain(tsdb_outbox *q, size_t max_items, size_t max_bytes, tsdb_result_fn fn,
                          void *ud);

#endif /* TSDB_OUTBOX_H */
