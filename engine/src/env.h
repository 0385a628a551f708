/*
 * What the engine's threads share: the options, the logger, the store and
 * its catalog, the ingest queue and the counters. The database handle
 * (db.c) owns one and starts the threads; the writer, maintenance and the
 * reads get this instead of the handle, so no module depends on db.c.
 * Internal.
 */
#ifndef TSDB_ENV_H
#define TSDB_ENV_H

#include <stdatomic.h>

#include "catalog.h"
#include "log.h"
#include "queue.h"
#include "store.h"
#include "timeutil.h"
#include "tsdb/tsdb.h"

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
  atomic_uint_fast64_t open_buckets;      /* a gauge, set by the writer after each pass */
  atomic_uint_fast64_t backfills_pending; /* a gauge, set by the writer after each pass */
  atomic_uint_fast64_t write_latency[TSDB_LATENCY_BUCKETS];
  atomic_uint_fast64_t disk_raw, disk_agg, disk_other, disk_wal; /* refreshed by the writer */
  atomic_uint_fast64_t mem_memtables, mem_block_cache, mem_table_readers; /* likewise */
  atomic_uint_fast64_t sources_cached;   /* a gauge: topics in the writer's cache */
  atomic_uint_fast64_t series_active;    /* a gauge: series the writer holds state for */
  atomic_uint_fast64_t memory_trims;     /* free heap pages given back (maint) */
  atomic_uint_fast64_t storage_failures; /* times writes started to fail */
  atomic_uint_fast64_t messages_lost;    /* acknowledged, never written */
  atomic_uint_fast64_t points_lost;
} tsdb_counters;

typedef struct tsdb_env tsdb_env;
struct tsdb_env {
  tsdb_options opts;
  char *path;
  tsdb_logger log;
  /* Set once, before store_ready (release): other threads use it only after
   * seeing store_ready (acquire; tsdb_env__store). The writer may set it
   * after tsdb_open() returned (tsdb_options.open_retry), through
   * open_store. */
  tsdb_store *store;
  atomic_bool store_ready;
  /* Opens the store and loads the catalog, then publishes them
   * (store_ready). TSDB_EIO or TSDB_ENOSPC: not now (retry later); other
   * codes: damaged or unknown data. `err` says why in words. Set by db.c. */
  int (*open_store)(tsdb_env *env, char *err, size_t errlen);
  tsdb_catalog catalog;
  tsdb_queue queue;
  tsdb_counters counters;
};

/* The store once it is open and its catalog loaded, else NULL. Any thread. */
static inline tsdb_store *tsdb_env__store(tsdb_env *env) {
  return atomic_load_explicit(&env->store_ready, memory_order_acquire) ? env->store : NULL;
}

static inline int64_t tsdb_env__now(const tsdb_env *env) {
  return env->opts.clock_fn ? env->opts.clock_fn(env->opts.clock_ud) : tsdb_time__realtime_ms();
}

#endif /* TSDB_ENV_H */
