/*
 * The ingest queue: producers (the broker thread) -> the writer thread.
 *
 * DESIGN
 * - Two preallocated buffers of `cap` bytes. Producers append records
 *   (class, topic, points) to the "fill" buffer under a mutex held for one
 *   memcpy; the writer swaps the buffers under the same mutex and decodes the
 *   full one without holding it. No allocation and no system call on the
 *   producer side in the common case.
 * - Wake-ups: a producer signals the condition variable only when the writer
 *   is asleep waiting for data. After it wakes, the writer gathers for up to
 *   `batch window` ms before swapping, so under load there is at most one
 *   wake-up per batch, never one per message. A producer also wakes a
 *   gathering writer once the fill buffer is half full.
 * - Order: records are handed to the writer in push order.
 * - Full: when the fill buffer cannot take a record (the writer is behind by
 *   a whole buffer), push fails with TSDB_EFULL at once; it never waits. The
 *   caller refuses the message (MQTT 0x87) and counts it.
 * - Sequence numbers: push counts messages; the writer reports the ranges it
 *   has written to the WAL (committed, or failed) and the count it has fully
 *   processed (rollups too), so a durable push can wait for its own write and
 *   tsdb_sync() for "everything before me".
 * - Durable pushes (the plugin's sync durability: PUBACK only after the WAL
 *   write) mark the queue urgent: the writer skips its gathering window, and
 *   the pusher waits on a ticket of its own until its message's write has
 *   returned. That blocks the pushing thread by design, and only for
 *   messages that asked for it.
 * - Failing storage: once a write has failed, the writer marks the queue
 *   failing until a write succeeds again. Pushes are then refused at once
 *   with TSDB_EIO (the caller refuses the message: nothing is acknowledged
 *   that cannot be written), every durable push still waiting is answered
 *   TSDB_EIO and its record is dropped, never written later. Records
 *   already taken or queued and not durable (acknowledged when queued) are
 *   kept and written once storage works again (writer.c).
 * - Shutdown: stop() makes further pushes fail with TSDB_ECLOSED and wakes
 *   the writer, which drains what is queued and exits.
 */
#ifndef TSDB_QUEUE_H
#define TSDB_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

/*
 * One record in a buffer: this header, the topic (NUL-padded to 8 bytes), the
 * points, then (when nnames > 0) the message's own field names: per name a
 * length byte, the name, a length byte and the unit (255 = no unit), the
 * whole table padded to 8 bytes; then the original payload for the replay
 * archive, padded to 8 bytes (payload_len 0: none).
 */
typedef struct tsdb_qrec {
  tsdb_series_class *cls; /* a reference owned by the record; NULL once released */
  int64_t arrival_ms;
  uint32_t topic_len;
  uint32_t npoints;
  uint32_t nnames;
  uint32_t names_bytes; /* padded size of the name table */
  uint32_t payload_len;
  uint32_t flags; /* TSDB_QREC_* */
} tsdb_qrec;

#define TSDB_QREC_NO_UNIT 255
#define TSDB_QREC_DURABLE 1u /* its pusher waits for the write (push_durable) */
#define TSDB_QREC_DROPPED 2u /* its pusher was told it failed: never write it */

static inline size_t tsdb_qrec__topic_pad(size_t len) { return (len + 8) & ~(size_t)7; }
static inline size_t tsdb_qrec__size_of(const tsdb_qrec *r) {
  return sizeof(tsdb_qrec) + tsdb_qrec__topic_pad(r->topic_len) + r->npoints * sizeof(tsdb_point) +
         r->names_bytes + (((size_t)r->payload_len + 7) & ~(size_t)7);
}
static inline const uint8_t *tsdb_qrec__names(const tsdb_qrec *r) {
  return (const uint8_t *)((const char *)(r + 1) + tsdb_qrec__topic_pad(r->topic_len) +
                           r->npoints * sizeof(tsdb_point));
}
static inline const uint8_t *tsdb_qrec__payload(const tsdb_qrec *r) {
  return tsdb_qrec__names(r) + r->names_bytes;
}
static inline const char *tsdb_qrec__topic(const tsdb_qrec *r) { return (const char *)(r + 1); }
static inline const tsdb_point *tsdb_qrec__points(const tsdb_qrec *r) {
  return (const tsdb_point *)((const char *)(r + 1) + tsdb_qrec__topic_pad(r->topic_len));
}

/* A durable push waiting for its write: on the pusher's stack, listed in
 * the queue while it waits. */
typedef struct tsdb_queue_ticket {
  struct tsdb_queue_ticket *next;
  uint64_t seq;
  bool done, ok;
} tsdb_queue_ticket;

typedef struct tsdb_queue {
  pthread_mutex_t lock;
  pthread_cond_t wake; /* the writer waits here */
  pthread_cond_t done; /* tsdb_sync() waits here */
  uint8_t *buf[2];
  size_t cap;
  int fill;    /* buffer producers append to */
  size_t used; /* bytes in buf[fill] */
  bool writer_sleeping;
  bool writer_gathering;
  bool urgent; /* a durable push waits: no gathering window */
  bool stop;
  bool writer_exited;
  bool failing;               /* storage fails: pushes are refused (TSDB_EIO) */
  uint64_t pushed;            /* messages accepted */
  tsdb_queue_ticket *tickets; /* durable pushes waiting for their write */
  uint64_t processed;         /* messages the writer has finished */
  atomic_uint_fast64_t full;
  atomic_size_t used_snapshot; /* for stats, without the lock */
} tsdb_queue;

int tsdb_queue__init(tsdb_queue *q, size_t cap);
void tsdb_queue__destroy(tsdb_queue *q); /* releases classes of unprocessed records */

/* TSDB_EIO at once while storage fails (tsdb_queue__set_failing). */
int tsdb_queue__push(tsdb_queue *q, const tsdb_ingest_msg *msg);
/* Push, then wait until the message's write to the WAL has returned:
 * 0 when it is stored, TSDB_EIO when that write failed or storage fails
 * (nothing of it is stored, and it never will be). Blocks the caller. */
int tsdb_queue__push_durable(tsdb_queue *q, const tsdb_ingest_msg *msg);
/* Writer: the messages (from_seq, seq] have been written (ok) or not (!ok). */
void tsdb_queue__committed(tsdb_queue *q, uint64_t from_seq, uint64_t seq, bool ok);
/* Writer: storage fails (true) or works again (false). Failing answers
 * every waiting durable push TSDB_EIO and marks the durable records still
 * in the fill buffer TSDB_QREC_DROPPED (the writer marks those of the buffer
 * it holds itself). */
void tsdb_queue__set_failing(tsdb_queue *q, bool failing);
/* Whether storage fails now (the stats' storage_failing). */
bool tsdb_queue__failing(tsdb_queue *q);
/* Writer: sleeps up to ms (CLOCK_MONOTONIC) or until stop; true once stopped. */
bool tsdb_queue__sleep_unless_stopped(tsdb_queue *q, int64_t ms);

/*
 * Writer: waits until data is queued, `deadline_ms` (CLOCK_MONOTONIC ms, or
 * -1 for none) passes, or stop. Then gathers for window_ms and takes the
 * fill buffer into data and len (len 0 on timeout) and seq (the push count
 * the taken data ends at). Returns false once stopped and empty.
 */
bool tsdb_queue__take(tsdb_queue *q, int64_t deadline_ms, uint32_t window_ms, uint8_t **data,
                      size_t *len, uint64_t *seq);
/* Writer: every message up to seq is committed and its rollups updated. */
/* Writer: gives back the pages a taken buffer used beyond the first
 * TSDB_QUEUE_KEEP_BYTES once a burst is over (the other buffer holds little),
 * so that a burst does not keep the whole queue resident; they are mapped
 * again (zeroed) when a burst comes back. */
#define TSDB_QUEUE_KEEP_BYTES (1u << 20)
void tsdb_queue__release_pages(tsdb_queue *q, uint8_t *data, size_t len);
void tsdb_queue__processed(tsdb_queue *q, uint64_t seq);
/* Waits until everything pushed before the call is processed (or stop). */
int tsdb_queue__sync(tsdb_queue *q);
/* The number of messages pushed so far (a point in the queue's history). */
uint64_t tsdb_queue__pushed(tsdb_queue *q);
/* Waits until the writer has processed the first `seq` messages (or stop). */
int tsdb_queue__wait_processed(tsdb_queue *q, uint64_t seq);
void tsdb_queue__stop(tsdb_queue *q);
/* Writer: it will process nothing more (unblocks waiters after stop). */
void tsdb_queue__writer_exited(tsdb_queue *q);

#endif /* TSDB_QUEUE_H */
