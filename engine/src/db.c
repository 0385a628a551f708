/* The database handle: wiring of store, catalog, queues and threads. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggcache.h"
#include "db.h"
#include "read.h"
#include "strbuf.h"

#define MIB ((size_t)1 << 20)

void tsdb_options_init(tsdb_options *o) {
  memset(o, 0, sizeof *o);
  o->queue_bytes = 32 * MIB;
  o->flush_interval_ms = 100;
  o->grace_ms = 5000;
  o->cache_mb = 64;
  o->control_threads = 1;
  o->max_answer_rows = 10000;
  o->max_pending_commands = 256;
  o->retention_sweep_ms = 3600000;
  o->archive_retention_ms = 7LL * 86400000;
  o->max_replays = 4;
  o->max_results = 100000;
  o->publish_aggregates = true;
  o->partial_interval_ms = 5000;
  o->log_level = TSDB_LOG_INFO;
}

static void set_err(char *errbuf, size_t errlen, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
}

/* The log sink when the host gave none: the result queue, which the host
 * drains on its own thread. */
static void log_to_results(void *ud, int level, const char *line) {
  tsdb_results__log(ud, level, line);
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
  pthread_mutex_init(&db->host_lock, NULL);
  db->opts = *opts;
  db->path = strdup(opts->path);
  db->opts.path = db->path;
  db->log = opts->log_fn
                ? (tsdb_logger){opts->log_fn, opts->log_ud, opts->log_level}
                : (tsdb_logger){log_to_results, &db->results, opts->log_level};
  char err[512] = "";
  int rc = db->path ? 0 : TSDB_ENOMEM;
  bool results_ok = false, catalog_ok = false, queue_ok = false;
  if (rc == 0 && (rc = tsdb_results__init(&db->results, opts->max_results ? opts->max_results : 1,
                                            opts->results_notify_fn, opts->results_notify_ud)) == 0)
    results_ok = true;
  if (rc == 0 && (rc = tsdb_catalog__init(&db->catalog, &db->log)) == 0) catalog_ok = true;
  if (rc == 0 && (rc = tsdb_queue__init(&db->queue, opts->queue_bytes)) == 0) queue_ok = true;
  if (rc == 0) {
    rc = tsdb_db__open_store(db, err, sizeof err);
    if ((rc == TSDB_EIO || rc == TSDB_ENOSPC) && opts->open_retry) {
      /* The broker runs on; messages are refused until the writer opens it. */
      tsdb_log__printf(&db->log, TSDB_LOG_ERROR,
                       "cannot open the database yet, refusing messages (write_failed) and "
                       "retrying every second: %s",
                       err);
      tsdb_queue__set_failing(&db->queue, true);
      rc = 0;
      err[0] = '\0';
    }
  }
  if (rc == 0 && (rc = tsdb_writer__start(db, &db->writer)) != 0)
    snprintf(err, sizeof err, "cannot start the writer thread: %s", tsdb_strerror(rc));
  if (rc == 0 && (rc = tsdb_replays__init(db, &db->replays)) != 0)
    snprintf(err, sizeof err, "cannot set up replays: %s", tsdb_strerror(rc));
  if (rc == 0 && (rc = tsdb_control__start(db, &db->control)) != 0)
    snprintf(err, sizeof err, "cannot start the control threads: %s", tsdb_strerror(rc));
  if (rc == 0 && (rc = tsdb_maint__start(db, &db->maint)) != 0)
    snprintf(err, sizeof err, "cannot start the maintenance thread: %s", tsdb_strerror(rc));
  if (rc) {
    set_err(errbuf, errlen, err[0] ? err : tsdb_strerror(rc));
    tsdb_control__stop(db->control);
    tsdb_replays__stop(db->replays);
    if (db->writer) {
      tsdb_queue__stop(&db->queue);
      tsdb_writer__join(db->writer);
    }
    tsdb_store__close(db->store);
    if (queue_ok) tsdb_queue__destroy(&db->queue);
    if (catalog_ok) tsdb_catalog__destroy(&db->catalog);
    if (results_ok) tsdb_results__destroy(&db->results);
    free(db->path);
    free(db);
    return rc;
  }
  if (tsdb_db__store(db))
    tsdb_log__printf(&db->log, TSDB_LOG_NOTICE, "opened path=%s series=%zu", db->path,
                     tsdb_catalog__count(&db->catalog));
  *out = db;
  return 0;
}

int tsdb_db__open_store(tsdb_db *db, char *err, size_t errlen) {
  tsdb_store_options so = {db->opts.cache_mb, db->opts.wal_recovery, &db->log,
                           tsdb_db__key_expired, db};
  tsdb_store *st = NULL;
  int rc = tsdb_store__open(db->path, &so, &st, err, errlen);
  if (rc) return rc;
  rc = tsdb_catalog__load(&db->catalog, st);
  if (rc) {
    snprintf(err, errlen, "cannot load the series catalog: %s", tsdb_strerror(rc));
    tsdb_store__close(st);
    /* Start the next attempt from an empty catalog. */
    tsdb_catalog__destroy(&db->catalog);
    int irc = tsdb_catalog__init(&db->catalog, &db->log);
    return irc ? irc : rc;
  }
  db->store = st;
  atomic_store_explicit(&db->store_ready, true, memory_order_release);
  return 0;
}

void tsdb_shutdown(tsdb_db *db) {
  if (!db || db->shut_down) return;
  db->shut_down = true;
  /* Order: stop the producers of work (maintenance, control, replays, then ingest),
   * let the writer drain and exit, then close storage. The host no longer
   * drains results (its tick is unregistered), so nothing may wait for it. */
  tsdb_results__end_waits(&db->results);
  tsdb_maint__stop(db->maint);
  tsdb_control__stop(db->control);
  tsdb_replays__stop(db->replays);
  tsdb_queue__stop(&db->queue);
  tsdb_writer__join(db->writer);
  db->maint = NULL;
  db->control = NULL;
  db->replays = NULL;
  db->writer = NULL;
  atomic_store_explicit(&db->store_ready, false, memory_order_release);
  tsdb_store__close(db->store);
  db->store = NULL;
}

void tsdb_close(tsdb_db *db) {
  if (!db) return;
  tsdb_shutdown(db);
  tsdb_queue__destroy(&db->queue);
  tsdb_catalog__destroy(&db->catalog);
  tsdb_results__destroy(&db->results);
  free(db->host_json);
  free(db->host_prometheus);
  pthread_mutex_destroy(&db->host_lock);
  free(db->path);
  free(db);
}

int tsdb_sync(tsdb_db *db) { return tsdb_queue__sync(&db->queue); }

/* The message as queued: the arrival time filled in, the payload kept only
 * when the archive is on. */
static tsdb_ingest_msg queued_form(const tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = *msg;
  if (!m.arrival_ms) m.arrival_ms = tsdb_db__now(db);
  if (!db->opts.archive_retention_ms) {
    m.payload = NULL;
    m.payload_len = 0;
  }
  return m;
}

int tsdb_ingest(tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = queued_form(db, msg);
  msg = &m;
  int rc = tsdb_queue__push(&db->queue, msg);
  if (rc == 0) {
    atomic_fetch_add_explicit(&db->counters.messages_ingested, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->counters.points_ingested, msg->npoints, memory_order_relaxed);
  }
  return rc;
}

int tsdb_ingest_durable(tsdb_db *db, const tsdb_ingest_msg *msg) {
  tsdb_ingest_msg m = queued_form(db, msg);
  msg = &m;
  int rc = tsdb_queue__push_durable(&db->queue, msg);
  if (rc == 0) {
    atomic_fetch_add_explicit(&db->counters.messages_ingested, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->counters.points_ingested, msg->npoints, memory_order_relaxed);
  }
  return rc;
}

size_t tsdb_results_drain(tsdb_db *db, size_t max_items, tsdb_result_fn fn, void *ud) {
  return tsdb_results__drain(&db->results, max_items, SIZE_MAX, fn, ud);
}

size_t tsdb_results_drain_bounded(tsdb_db *db, size_t max_items, size_t max_bytes,
                                  tsdb_result_fn fn, void *ud) {
  return tsdb_results__drain(&db->results, max_items, max_bytes, fn, ud);
}

size_t tsdb_results_pending(const tsdb_db *db) {
  return atomic_load(&((tsdb_db *)db)->results.count);
}

int tsdb_control_submit(tsdb_db *db, const char *client_id, const void *payload, size_t len) {
  return tsdb_control__submit(db->control, client_id, payload, len);
}

int tsdb_series_find(tsdb_db *db, const char *topic, const char *field, uint32_t *id) {
  return tsdb_catalog__find(&db->catalog, topic, field, id);
}

int tsdb_read_raw(tsdb_db *db, uint32_t series, int64_t from, int64_t to, tsdb_point_fn fn,
                  void *ud) {
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&db->catalog, series, &sp);
  if (rc) return rc;
  sp.now = tsdb_db__now(db);
  tsdb_scan_buf buf = {0};
  tsdb_snap *snap = tsdb_store__snapshot(db->store);
  rc = tsdb_read__raw(db->store, snap, &sp, from, to, &buf, fn, ud);
  tsdb_store__snapshot_release(db->store, snap);
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
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&db->catalog, series, &sp);
  if (rc) return rc;
  int tier = tsdb_read__tier_index(&sp, tier_ms);
  if (tier < 0) return TSDB_ENOTFOUND;
  sp.now = tsdb_db__now(db);
  tsdb_scan_buf buf = {0};
  tier_adapter ta = {fn, ud};
  tsdb_snap *snap = tsdb_store__snapshot(db->store);
  rc = tsdb_read__tier(db->store, snap, &sp, tier, from, to, &buf, tier_adapt, &ta);
  tsdb_store__snapshot_release(db->store, snap);
  tsdb_scan_buf__free(&buf);
  return rc;
}

void tsdb_retention_sweep(tsdb_db *db) { tsdb_maint__sweep(db); }

int tsdb_compact(tsdb_db *db) {
  return tsdb_db__store(db) ? tsdb_store__compact(db->store) : 0;
}

void tsdb_disk_usage_get(tsdb_db *db, tsdb_disk_usage *out) {
  memset(out, 0, sizeof *out);
  if (!tsdb_db__store(db)) return;
  out->raw = tsdb_store__cf_sst_bytes(db->store, TSDB_CF_RAW);
  out->agg = tsdb_store__cf_sst_bytes(db->store, TSDB_CF_AGG);
  out->other = tsdb_store__cf_sst_bytes(db->store, TSDB_CF_DEFAULT) +
               tsdb_store__cf_sst_bytes(db->store, TSDB_CF_CATALOG) +
               tsdb_store__cf_sst_bytes(db->store, TSDB_CF_PENDING);
  out->wal = tsdb_store__wal_bytes(db->store);
}

void tsdb_store_memory_get(tsdb_db *db, tsdb_store_memory *out) {
  memset(out, 0, sizeof *out);
  if (!tsdb_db__store(db)) return;
  tsdb_store__memory(db->store, &out->memtables, &out->block_cache, &out->table_readers);
}

void tsdb_stats_get(tsdb_db *db, tsdb_stats *s) {
  memset(s, 0, sizeof *s);
  tsdb_counters *c = &db->counters;
  s->messages_ingested = atomic_load(&c->messages_ingested);
  s->points_ingested = atomic_load(&c->points_ingested);
  s->points_written = atomic_load(&c->points_written);
  s->queue_full = atomic_load(&db->queue.full);
  s->batches = atomic_load(&c->batches);
  s->late_points = atomic_load(&c->late_points);
  s->expired_points = atomic_load(&c->expired_points);
  s->duplicates_rejected = atomic_load(&c->duplicates_rejected);
  s->retention_sweeps = atomic_load(&c->retention_sweeps);
  s->buckets_finalized = atomic_load(&c->buckets_finalized);
  s->corrections = atomic_load(&c->corrections);
  s->open_buckets = atomic_load(&c->open_buckets);
  s->backfills_pending = atomic_load(&c->backfills_pending);
  s->series = tsdb_catalog__count(&db->catalog);
  s->commands = atomic_load(&c->commands);
  s->results_dropped = atomic_load(&db->results.dropped);
  s->write_errors = atomic_load(&c->write_errors);
  s->queue_bytes_used = atomic_load(&db->queue.used_snapshot);
  s->queue_bytes_capacity = 2 * db->queue.cap;
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
  tsdb_store *st = tsdb_db__store(db);
  if (st) {
    tsdb_aggcache__counters(tsdb_store__aggcache(st), &s->agg_cache_hits, &s->agg_cache_misses,
                            &s->agg_cache_bytes);
    s->wal_damaged = tsdb_store__wal_damaged(st);
  }
  s->storage_failing = tsdb_queue__failing(&db->queue); /* the queue refuses while it is */
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

void tsdb_host_metrics_set(tsdb_db *db, const char *json, const char *prometheus) {
  char *j = json ? strdup(json) : NULL, *p = prometheus ? strdup(prometheus) : NULL;
  pthread_mutex_lock(&db->host_lock);
  free(db->host_json);
  free(db->host_prometheus);
  db->host_json = j;
  db->host_prometheus = p;
  pthread_mutex_unlock(&db->host_lock);
}

char *tsdb_stats_prometheus(const tsdb_stats *s) {
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  static const struct {
    const char *name, *type, *help;
    size_t offset;
  } metrics[] = {
#define M(field, type, help) {"tsdb_" #field, type, help, offsetof(tsdb_stats, field)}
      M(messages_ingested, "counter", "Messages queued for storage."),
      M(points_ingested, "counter", "Points queued for storage."),
      M(points_written, "counter", "Points written to RocksDB."),
      M(queue_full, "counter", "Messages refused because the ingest queue was full."),
      M(batches, "counter", "Write batches."),
      M(late_points, "counter", "Points not newer than their series' newest point."),
      M(expired_points, "counter", "Points dropped because retention had passed them."),
      M(duplicates_rejected, "counter", "Points refused by the reject duplicate policy."),
      M(buckets_finalized, "counter", "Rollup buckets finalized."),
      M(corrections, "counter", "Finalized buckets changed again by late points."),
      M(open_buckets, "gauge", "Rollup buckets open in memory."),
      M(backfills_pending, "gauge", "Rollup tiers a schema added, still being built from older data."),
      M(series, "gauge", "Series in the catalog."),
      M(commands, "counter", "$CONTROL command requests run."),
      M(results_dropped, "counter", "Publications dropped because nobody drained them."),
      M(write_errors, "counter", "Failed RocksDB writes."),
      M(retention_sweeps, "counter", "Background retention passes."),
      M(write_latency_p50_us, "gauge", "Median batch write latency (upper bucket bound)."),
      M(write_latency_p99_us, "gauge", "99th percentile batch write latency (upper bound)."),
      M(sources_cached, "gauge", "Topics whose series ids the writer caches."),
      M(series_active, "gauge", "Series with a point in the last 10 minutes or an open bucket."),
      M(memory_trims, "counter", "Times free heap pages were given back to the system."),
      M(agg_cache_hits, "counter", "Aggregate blocks served decoded from the cache."),
      M(agg_cache_misses, "counter", "Aggregate blocks looked up in the cache and decoded."),
      M(agg_cache_bytes, "gauge", "Memory the decoded aggregate block cache holds."),
      M(storage_failing, "gauge", "1 while writes to storage fail and messages are refused."),
      M(storage_failures, "counter", "Times writes to storage started to fail."),
      M(messages_lost, "counter", "Accepted (acknowledged) messages that were never written."),
      M(points_lost, "counter", "Points of accepted messages that were never written."),
      M(wal_damaged, "gauge", "1 when this start dropped damaged write-ahead log records."),
#undef M
  };
  for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
    uint64_t v;
    memcpy(&v, (const char *)s + metrics[i].offset, sizeof v);
    tsdb_strbuf__printf(&sb, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", metrics[i].name,
                        metrics[i].help, metrics[i].name, metrics[i].type, metrics[i].name,
                        (unsigned long long)v);
  }
  tsdb_strbuf__printf(&sb,
                      "# HELP tsdb_queue_bytes Bytes waiting in the ingest queue.\n"
                      "# TYPE tsdb_queue_bytes gauge\ntsdb_queue_bytes %zu\n"
                      "# HELP tsdb_disk_bytes Bytes on disk by kind.\n"
                      "# TYPE tsdb_disk_bytes gauge\n"
                      "tsdb_disk_bytes{kind=\"raw\"} %llu\ntsdb_disk_bytes{kind=\"agg\"} %llu\n"
                      "tsdb_disk_bytes{kind=\"other\"} %llu\ntsdb_disk_bytes{kind=\"wal\"} %llu\n"
                      "# HELP tsdb_rocksdb_memory_bytes Memory RocksDB holds, by kind.\n"
                      "# TYPE tsdb_rocksdb_memory_bytes gauge\n"
                      "tsdb_rocksdb_memory_bytes{kind=\"memtables\"} %llu\n"
                      "tsdb_rocksdb_memory_bytes{kind=\"block_cache\"} %llu\n"
                      "tsdb_rocksdb_memory_bytes{kind=\"table_readers\"} %llu\n",
                      s->queue_bytes_used, (unsigned long long)s->disk.raw,
                      (unsigned long long)s->disk.agg, (unsigned long long)s->disk.other,
                      (unsigned long long)s->disk.wal, (unsigned long long)s->memory.memtables,
                      (unsigned long long)s->memory.block_cache,
                      (unsigned long long)s->memory.table_readers);
  if (tsdb_strbuf__failed(&sb)) {
    tsdb_strbuf__free(&sb);
    return NULL;
  }
  return tsdb_strbuf__take(&sb, NULL);
}
