/* The database handle shared by the engine's modules. Internal. */
#ifndef TSDB_DB_H
#define TSDB_DB_H

#include <stdatomic.h>

#include "catalog.h"
#include "log.h"
#include "queue.h"
#include "store.h"
#include "timeutil.h"
#include "tsdb/tsdb.h"

typedef struct tsdb_writer tsdb_writer;
typedef struct tsdb_maint tsdb_maint;

#define TSDB_LATENCY_BUCKETS 32 /* log2 of microseconds: 1 us .. 2^31 us */

typedef struct tsdb_counters {
  atomic_uint_fast64_t messages_ingested;
  atomic_uint_fast64_t points_ingested;
  atomic_uint_fast64_t points_written;
  atomic_uint_fast64_t batches;
  atomic_uint_fast64_t late_points;
  atomic_uint_fast64_t expired_points;
  atomic_uint_fast64_t duplicates_rejected;
  atomic_uint_fast64_t retention_sweeps;
  atomic_uint_fast64_t buckets_finalized;
  atomic_uint_fast64_t corrections;
  atomic_uint_fast64_t write_errors;
  atomic_uint_fast64_t open_buckets; /* a gauge, set by the writer after each pass */
  atomic_uint_fast64_t backfills_pending; /* a gauge, set by the writer after each pass */
  atomic_uint_fast64_t write_latency[TSDB_LATENCY_BUCKETS];
  atomic_uint_fast64_t disk_raw, disk_agg, disk_other, disk_wal; /* refreshed by the writer */
  atomic_uint_fast64_t mem_memtables, mem_block_cache, mem_table_readers; /* likewise */
  atomic_uint_fast64_t sources_cached; /* a gauge: topics in the writer's cache */
  atomic_uint_fast64_t series_active;  /* a gauge: series the writer holds state for */
  atomic_uint_fast64_t memory_trims;   /* free heap pages given back (maint) */
  atomic_uint_fast64_t storage_failures; /* times writes started to fail */
  atomic_uint_fast64_t messages_lost;    /* acknowledged, never written */
  atomic_uint_fast64_t points_lost;
} tsdb_counters;

struct tsdb_db {
  tsdb_options opts;
  char *path;
  tsdb_logger log;
  /* Set once, before store_ready (release): other threads use it only after
   * seeing store_ready (acquire; tsdb_db__store). The writer may set it
   * after tsdb_open() returned (tsdb_options.open_retry). */
  tsdb_store *store;
  atomic_bool store_ready;
  tsdb_catalog catalog;
  tsdb_queue queue;
  tsdb_writer *writer;
  tsdb_maint *maint;
  tsdb_counters counters;
  bool shut_down; /* tsdb_shutdown() ran (host thread) */
};

/* The store once it is open and its catalog loaded, else NULL. Any thread. */
static inline tsdb_store *tsdb_db__store(tsdb_db *db) {
  return atomic_load_explicit(&db->store_ready, memory_order_acquire) ? db->store : NULL;
}

/* Opens the store and loads the catalog, then publishes them
 * (store_ready). TSDB_EIO or TSDB_ENOSPC: not now (retry later); other
 * codes: damaged or unknown data. `err` says why in words. */
int tsdb_db__open_store(tsdb_db *db, char *err, size_t errlen);

/* A quantile of the write latency histogram, in microseconds. */
uint64_t tsdb_db__latency_quantile(tsdb_counters *c, double q);

static inline int64_t tsdb_db__now(const tsdb_db *db) {
  return db->opts.clock_fn ? db->opts.clock_fn(db->opts.clock_ud) : tsdb_time__realtime_ms();
}

int tsdb_writer__start(tsdb_db *db, tsdb_writer **out);
/* The queue must be stopped first; joins the thread and frees the writer. */
void tsdb_writer__join(tsdb_writer *w);

int tsdb_maint__start(tsdb_db *db, tsdb_maint **out);
void tsdb_maint__stop(tsdb_maint *m);
/* One retention sweep (maint.c), on the calling thread. */
void tsdb_maint__sweep(tsdb_db *db);
/* Gives freed heap pages back to the system when enough are free. */
void tsdb_maint__give_back_memory(tsdb_db *db, size_t *free_after_last);
/* The compaction filter's question (maint.c): has retention passed this key? */
bool tsdb_db__key_expired(void *ud, tsdb_cf_id cf, const uint8_t *key, size_t klen);


#endif /* TSDB_DB_H */
