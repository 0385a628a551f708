/* The database handle: wiring of store, catalog, queues and threads. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggcache.h"
#include "db.h"
#include "keys.h"
#include "read.h"

#define MIB ((size_t)1 << 20)

void tsdb_options_init(tsdb_options *o) {
  memset(o, 0, sizeof *o);
  o->queue_bytes = 32 * MIB;
  o->flush_interval_ms = 100;
  o->grace_ms = 5000;
  o->cache_mb = 64;
  o->retention_sweep_ms = 3600000;
  o->archive_retention_ms = 7LL * 86400000;
  o->partial_interval_ms = 5000;
  o->log_level = TSDB_LOG_INFO;
}

static void set_err(char *errbuf, size_t errlen, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
}

/* env.h: open_store. */
static int open_store(tsdb_env *env, char *err, size_t errlen) {
  tsdb_store_options so = {env->opts.cache_mb, env->opts.wal_recovery, &env->log,
                           tsdb_maint__key_expired, env};
  tsdb_store *st = NULL;
  int rc = tsdb_store__open(env->path, &so, &st, err, errlen);
  if (rc) return rc;
  rc = tsdb_catalog__load(&env->catalog, st);
  if (rc) {
    snprintf(err, errlen, "cannot load the series catalog: %s", tsdb_strerror(rc));
    tsdb_store__close(st);
    /* Start the next attempt from an empty catalog. */
    tsdb_catalog__destroy(&env->catalog);
    int irc = tsdb_catalog__init(&env->catalog, &env->log);
    return irc ? irc : rc;
  }
  env->store = st;
  atomic_store_explicit(&env->store_ready, true, memory_order_release);
  return 0;
}

int tsdb_open(const tsdb_options *opts, tsdb_db **out, char *errbuf, size_t errlen) {
  *out = NULL;
  if (!opts || !opts->path || !opts->path[0]) {
    set_err(errbuf, errlen, "no data directory given");
    return TSDB_EINVAL;
  }
  if (opts->queue_bytes < 4096) {
    set_err(errbuf, errlen, "queue size below 4096 bytes");
    return TSDB_EINVAL;
  }
  tsdb_db *db = calloc(1, sizeof *db);
  if (!db) return TSDB_ENOMEM;
  db->env.opts = *opts;
  db->env.path = strdup(opts->path);
  db->env.opts.path = db->env.path;
  db->env.log = (tsdb_logger){opts->log_fn, opts->log_ud, opts->log_level};
  db->env.open_store = open_store;
  char err[512] = "";
  int rc = db->env.path ? 0 : TSDB_ENOMEM;
  bool catalog_ok = false, queue_ok = false;
  if (rc == 0 && (rc = tsdb_catalog__init(&db->env.catalog, &db->env.log)) == 0) catalog_ok = true;
  if (rc == 0 && (rc = tsdb_queue__init(&db->env.queue, opts->queue_bytes)) == 0) queue_ok = true;
  if (rc == 0) {
    rc = open_store(&db->env, err, sizeof err);
    if ((rc == TSDB_EIO || rc == TSDB_ENOSPC) && opts->open_retry) {
      /* The broker runs on; messages are refused until the writer opens it. */
      tsdb_log__printf(&db->env.log, TSDB_LOG_ERROR,
                       "cannot open the database yet, refusing messages (write_failed) and "
                       "retrying every second: %s",
                       err);
      tsdb_queue__set_failing(&db->env.queue, true);
      rc = 0;
      err[0] = '\0';
    }
  }
  if (rc == 0 && (rc = tsdb_writer__start(&db->env, &db->writer)) != 0)
    snprintf(err, sizeof err, "cannot start the writer thread: %s", tsdb_strerror(rc));
  if (rc == 0 && (rc = tsdb_maint__start(&db->env, &db->maint)) != 0)
    snprintf(err, sizeof err, "cannot start the maintenance thread: %s", tsdb_strerror(rc));
  if (rc) {
    set_err(errbuf, errlen, err[0] ? err : tsdb_strerror(rc));
    if (db->writer) {
      tsdb_queue__stop(&db->env.queue);
      tsdb_writer__join(db->writer);
    }
    tsdb_store__close(db->env.store);
    if (queue_ok) tsdb_queue__destroy(&db->env.queue);
    if (catalog_ok) tsdb_catalog__destroy(&db->env.catalog);
    free(db->env.path);
    free(db);
    return rc;
  }
  if (tsdb_env__store(&db->env))
    tsdb_log__printf(&db->env.log, TSDB_LOG_NOTICE, "opened path=%s series=%zu", db->env.path,
                     tsdb_catalog__count(&db->env.catalog));
  *out = db;
  return 0;
}

void tsdb_shutdown(tsdb_db *db) {
  if (!db || db->shut_down) return;
  db->shut_down = true;
  /* Order: stop the producers of work (maintenance, then ingest), let the
   * writer drain and exit, then close storage. The readers of serve/ stopped
   * before (tsdb_serve_stop). */
  tsdb_maint__stop(db->maint);
  tsdb_queue__stop(&db->env.queue);
  tsdb_writer__join(db->writer);
  db->maint = NULL;
  db->writer = NULL;
  atomic_store_explicit(&db->env.store_ready, false, memory_order_release);
  tsdb_store__close(db->env.store);
  db->env.store = NULL;
}

void tsdb_close(tsdb_db *db) {
  if (!db) return;
  tsdb_shutdown(db);
  tsdb_queue__destroy(&db->env.queue);
  tsdb_catalog__destroy(&db->env.catalog);
  free(db->env.path);
  free(db);
}

int tsdb_sync(tsdb_db *db) { return tsdb_queue__sync(&db->env.queue); }

/* The message as queued: the arrival time filled in, the payload kept only
 * when the archive is on. */
static tsdb_ingest_msg queued_form(const tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = *msg;
  if (!m.arrival_ms) m.arrival_ms = tsdb_env__now(&db->env);
  if (!db->env.opts.archive_retention_ms) {
    m.payload = NULL;
    m.payload_len = 0;
  }
  return m;
}

int tsdb_ingest(tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = queued_form(db, msg);
  msg = &m;
  int rc = tsdb_queue__push(&db->env.queue, msg);
  if (rc == 0) {
    atomic_fetch_add_explicit(&db->env.counters.messages_ingested, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->env.counters.points_ingested, msg->npoints,
                              memory_order_relaxed);
  }
  return rc;
}

int tsdb_ingest_durable(tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = queued_form(db, msg);
  msg = &m;
  int rc = tsdb_queue__push_durable(&db->env.queue, msg);
  if (rc == 0) {
    atomic_fetch_add_explicit(&db->env.counters.messages_ingested, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->env.counters.points_ingested, msg->npoints,
                              memory_order_relaxed);
  }
  return rc;
}

int tsdb_series_find(tsdb_db *db, const char *topic, const char *field, uint32_t *id) {
  return tsdb_catalog__find(&db->env.catalog, topic, field, id);
}

int64_t tsdb_now(tsdb_db *db) { return tsdb_env__now(&db->env); }

void tsdb_options_get(tsdb_db *db, tsdb_options *out) { *out = db->env.opts; }

bool tsdb_storage_ready(tsdb_db *db) { return tsdb_env__store(&db->env) != NULL; }

uint64_t tsdb_ingest_position(tsdb_db *db) { return tsdb_queue__pushed(&db->env.queue); }

int tsdb_wait_written(tsdb_db *db, uint64_t position) {
  return tsdb_queue__wait_processed(&db->env.queue, position);
}

int tsdb_series_describe(tsdb_db *db, uint32_t series, tsdb_series_info *out) {
  return tsdb_catalog__info(&db->env.catalog, series, out);
}

int tsdb_archive_scan(tsdb_db *db, int64_t from, int64_t to, tsdb_archive_fn fn, void *ud) {
  tsdb_store *store = tsdb_env__store(&db->env);
  if (!store) return TSDB_EIO;
  uint8_t lo[8], hi[8];
  tsdb_key__put_ts(lo, from);
  tsdb_key__put_ts(hi, to);
  tsdb_snap *snap = tsdb_store__snapshot(store);
  tsdb_store_iter *it = NULL;
  int rc = tsdb_store__iter_open(store, snap, TSDB_CF_ARCHIVE, lo, sizeof lo, hi, sizeof hi, &it);
  for (; rc == 0 && tsdb_store__iter_valid(it); tsdb_store__iter_next(it)) {
    size_t klen, vlen;
    const uint8_t *k = tsdb_store__iter_key(it, &klen);
    const uint8_t *v = tsdb_store__iter_value(it, &vlen);
    /* [u16 topic length][topic][payload] (keys.h); anything else is not a
     * message this engine archived, and is skipped. */
    if (klen != TSDB_ARCHIVE_KEY_LEN || vlen < 2) continue;
    size_t tlen = (size_t)v[0] << 8 | v[1];
    if (tlen == 0 || tlen > vlen - 2) continue;
    rc = fn(ud, tsdb_key__get_ts(k), (const char *)v + 2, tlen, v + 2 + tlen, vlen - 2 - tlen);
    if (rc) break;
  }
  if (rc == 0 && it) rc = tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  tsdb_store__snapshot_release(store, snap);
  return rc;
}

/* The public snapshot is the store's (RocksDB's) snapshot. */
tsdb_snapshot *tsdb_snapshot_take(tsdb_db *db) {
  tsdb_store *store = tsdb_env__store(&db->env);
  return store ? (tsdb_snapshot *)tsdb_store__snapshot(store) : NULL;
}

void tsdb_snapshot_release(tsdb_db *db, tsdb_snapshot *snap) {
  if (snap) tsdb_store__snapshot_release(db->env.store, (tsdb_snap *)snap);
}

int tsdb_read_raw(tsdb_db *db, uint32_t series, int64_t from, int64_t to, tsdb_point_fn fn,
                  void *ud) {
  return tsdb_read_raw_at(db, NULL, series, from, to, fn, ud);
}

int tsdb_read_raw_at(tsdb_db *db, const tsdb_snapshot *given, uint32_t series, int64_t from,
                     int64_t to, tsdb_point_fn fn, void *ud) {
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&db->env.catalog, series, &sp);
  if (rc) return rc;
  sp.now = tsdb_env__now(&db->env);
  tsdb_scan_buf buf = {0};
  tsdb_snap *own = given ? NULL : tsdb_store__snapshot(db->env.store);
  rc = tsdb_read__raw(db->env.store, given ? (const tsdb_snap *)given : own, &sp, from, to, &buf,
                      fn, ud);
  if (own) tsdb_store__snapshot_release(db->env.store, own);
  tsdb_scan_buf__free(&buf);
  return rc;
}

typedef struct tier_adapter {
  tsdb_bucket_fn fn;
  void *ud;
} tier_adapter;

static int tier_adapt(void *ud, int64_t start, const tsdb_agg *agg) {
  tier_adapter *t = ud;
  tsdb_aggregate a;
  tsdb_agg__view(agg, start, &a);
  return t->fn(t->ud, &a);
}

int tsdb_read_tier(tsdb_db *db, uint32_t series, int64_t tier_ms, int64_t from, int64_t to,
                   tsdb_bucket_fn fn, void *ud) {
  return tsdb_read_tier_at(db, NULL, series, tier_ms, from, to, fn, ud);
}

int tsdb_read_tier_at(tsdb_db *db, const tsdb_snapshot *given, uint32_t series, int64_t tier_ms,
                      int64_t from, int64_t to, tsdb_bucket_fn fn, void *ud) {
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&db->env.catalog, series, &sp);
  if (rc) return rc;
  int tier = tsdb_read__tier_index(&sp, tier_ms);
  if (tier < 0) return TSDB_ENOTFOUND;
  sp.now = tsdb_env__now(&db->env);
  tsdb_scan_buf buf = {0};
  tier_adapter ta = {fn, ud};
  tsdb_snap *own = given ? NULL : tsdb_store__snapshot(db->env.store);
  rc = tsdb_read__tier(db->env.store, given ? (const tsdb_snap *)given : own, &sp, tier, from, to,
                       &buf, tier_adapt, &ta);
  if (own) tsdb_store__snapshot_release(db->env.store, own);
  tsdb_scan_buf__free(&buf);
  return rc;
}

void tsdb_retention_sweep(tsdb_db *db) { tsdb_maint__sweep(&db->env); }

int tsdb_query_step(tsdb_db *db, const tsdb_step_query *q, tsdb_bucket_fn fn, void *ud,
                    int64_t *next) {
  return tsdb_query__step(&db->env, NULL, q, fn, ud, next);
}

int tsdb_query_step_at(tsdb_db *db, const tsdb_snapshot *snap, const tsdb_step_query *q,
                       tsdb_bucket_fn fn, void *ud, int64_t *next) {
  return tsdb_query__step(&db->env, (const tsdb_snap *)snap, q, fn, ud, next);
}

int tsdb_read_last(tsdb_db *db, uint32_t series, int64_t before, int64_t *ts, double *value) {
  return tsdb_query__last(&db->env, NULL, series, before, ts, value);
}

int tsdb_read_last_at(tsdb_db *db, const tsdb_snapshot *snap, uint32_t series, int64_t before,
                      int64_t *ts, double *value) {
  return tsdb_query__last(&db->env, (const tsdb_snap *)snap, series, before, ts, value);
}

int tsdb_series_match(tsdb_db *db, const char *filter, const char *field, const tsdb_label *labels,
                      size_t nlabels, tsdb_series_fn fn, void *ud) {
  return tsdb_query__series_match(&db->env, filter, field, labels, nlabels, fn, ud);
}

int tsdb_compact(tsdb_db *db) {
  return tsdb_env__store(&db->env) ? tsdb_store__compact(db->env.store) : 0;
}

void tsdb_disk_usage_get(tsdb_db *db, tsdb_disk_usage *out) {
  memset(out, 0, sizeof *out);
  tsdb_store *store = tsdb_env__store(&db->env);
  if (store) tsdb_store__disk_usage(store, out);
}

void tsdb_store_memory_get(tsdb_db *db, tsdb_store_memory *out) {
  memset(out, 0, sizeof *out);
  if (!tsdb_env__store(&db->env)) return;
  tsdb_store__memory(db->env.store, &out->memtables, &out->block_cache, &out->table_readers);
}

void tsdb_stats_get(tsdb_db *db, tsdb_stats *s) {
  memset(s, 0, sizeof *s);
  tsdb_counters *c = &db->env.counters;
  s->messages_ingested = atomic_load(&c->messages_ingested);
  s->points_ingested = atomic_load(&c->points_ingested);
  s->points_written = atomic_load(&c->points_written);
  s->queue_full = atomic_load(&db->env.queue.full);
  s->batches = atomic_load(&c->batches);
  s->late_points = atomic_load(&c->late_points);
  s->expired_points = atomic_load(&c->expired_points);
  s->duplicates_rejected = atomic_load(&c->duplicates_rejected);
  s->retention_sweeps = atomic_load(&c->retention_sweeps);
  s->buckets_finalized = atomic_load(&c->buckets_finalized);
  s->corrections = atomic_load(&c->corrections);
  s->open_buckets = atomic_load(&c->open_buckets);
  s->backfills_pending = atomic_load(&c->backfills_pending);
  s->series = tsdb_catalog__count(&db->env.catalog);
  s->write_errors = atomic_load(&c->write_errors);
  s->queue_bytes_used = atomic_load(&db->env.queue.used_snapshot);
  s->queue_bytes_capacity = 2 * db->env.queue.cap;
  s->write_latency_p50_us = tsdb_db__latency_quantile(c, 0.50);
  s->write_latency_p99_us = tsdb_db__latency_quantile(c, 0.99);
  s->disk.raw = atomic_load(&c->disk_raw);
  s->disk.agg = atomic_load(&c->disk_agg);
  s->disk.other = atomic_load(&c->disk_other);
  s->disk.wal = atomic_load(&c->disk_wal);
  s->memory.memtables = atomic_load(&c->mem_memtables);
  s->memory.block_cache = atomic_load(&c->mem_block_cache);
  s->memory.table_readers = atomic_load(&c->mem_table_readers);
  s->sources_cached = atomic_load(&c->sources_cached);
  s->series_active = atomic_load(&c->series_active);
  s->memory_trims = atomic_load(&c->memory_trims);
  tsdb_store *st = tsdb_env__store(&db->env);
  if (st) {
    tsdb_aggcache__counters(tsdb_store__aggcache(st), &s->agg_cache_hits, &s->agg_cache_misses,
                            &s->agg_cache_bytes);
    s->wal_damaged = tsdb_store__wal_damaged(st);
  }
  s->storage_failing = tsdb_queue__failing(&db->env.queue); /* the queue refuses while it is */
  s->storage_failures = atomic_load(&c->storage_failures);
  s->messages_lost = atomic_load(&c->messages_lost);
  s->points_lost = atomic_load(&c->points_lost);
}

uint64_t tsdb_db__latency_quantile(tsdb_counters *c, double q) {
  uint64_t total = 0;
  for (int i = 0; i < TSDB_LATENCY_BUCKETS; i++) total += atomic_load(&c->write_latency[i]);
  if (!total) return 0;
  uint64_t want = (uint64_t)((double)total * q), seen = 0;
  for (int i = 0; i < TSDB_LATENCY_BUCKETS; i++) {
    seen += atomic_load(&c->write_latency[i]);
    if (seen > want) return (uint64_t)1 << i; /* the bucket's upper bound, in µs */
  }
  return (uint64_t)1 << (TSDB_LATENCY_BUCKETS - 1);
}
