/*
 * The counters, by name: the stats command's JSON ("engine" and "host"
 * objects) and the Prometheus text exposition format (metric prefix
 * "tsdb_", https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Every metric name the project exports is in this file or in the plugin's
 * host metrics (plugin/metrics.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"
#include "strbuf.h"

/* The engine's counters come first in tsdb_serve_stats, so one offset
 * table covers both structs. */
_Static_assert(offsetof(tsdb_serve_stats, engine) == 0, "engine counters first");

void tsdb_serve_stats_get(tsdb_serve *srv, tsdb_serve_stats *stats) {
  memset(stats, 0, sizeof *stats);
  if (srv->db) tsdb_stats_get(srv->db, &stats->engine);
  stats->commands = atomic_load(&srv->commands);
  stats->results_dropped = atomic_load(&srv->outbox.dropped);
}

char *tsdb_serve_prometheus(const tsdb_serve_stats *all) {
  const tsdb_stats *s = &all->engine;
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  /* Offsets into tsdb_serve_stats: the engine's counters (M) are in its
   * first member, serve/'s own (S) after it. */
  static const struct {
    const char *name, *type, *help;
    size_t offset;
  } metrics[] = {
#define M(field, type, help) {"tsdb_" #field, type, help, offsetof(tsdb_stats, field)}
#define S(field, type, help) \
  { "tsdb_" #field, type, help, offsetof(tsdb_serve_stats, field) }
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
      M(backfills_pending, "gauge",
        "Rollup tiers a schema added, still being built from older data."),
      M(series, "gauge", "Series in the catalog."),
      S(commands, "counter", "$CONTROL command requests run."),
      S(results_dropped, "counter", "Publications dropped because nobody drained them."),
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
#undef S
  };
  for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
    uint64_t v;
    memcpy(&v, (const char *)all + metrics[i].offset, sizeof v);
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

void tsdb_serve__stats_json(tsdb_serve *srv, tsdb_strbuf *sb) {
  tsdb_serve_stats all;
  tsdb_serve_stats_get(srv, &all);
  const tsdb_stats st = all.engine;
  tsdb_strbuf__printf(
      sb,
      ",\"engine\":{\"messages_ingested\":%llu,\"points_ingested\":%llu,\"points_written\":%llu,"
      "\"queue_full\":%llu,\"queue_bytes\":%zu,\"queue_capacity\":%zu,\"batches\":%llu,"
      "\"late_points\":%llu,\"expired_points\":%llu,\"duplicates_rejected\":%llu,"
      "\"buckets_finalized\":%llu,\"corrections\":%llu,\"open_buckets\":%llu,\"backfills_pending\":%llu,"
      "\"series\":%llu,"
      "\"commands\":%llu,\"results_dropped\":%llu,\"write_errors\":%llu,"
      "\"retention_sweeps\":%llu,\"write_latency_p50_us\":%llu,\"write_latency_p99_us\":%llu,"
      "\"disk_bytes\":{\"raw\":%llu,\"agg\":%llu,\"other\":%llu,\"wal\":%llu},"
      "\"rocksdb_memory_bytes\":{\"memtables\":%llu,\"block_cache\":%llu,"
      "\"table_readers\":%llu},\"sources_cached\":%llu,\"series_active\":%llu,\"memory_trims\":%llu,"
      "\"agg_cache\":{\"hits\":%llu,\"misses\":%llu,\"bytes\":%llu},"
      "\"storage_failing\":%llu,\"storage_failures\":%llu,\"messages_lost\":%llu,"
      "\"points_lost\":%llu,\"wal_damaged\":%llu}",
      (unsigned long long)st.messages_ingested, (unsigned long long)st.points_ingested,
      (unsigned long long)st.points_written, (unsigned long long)st.queue_full, st.queue_bytes_used,
      st.queue_bytes_capacity, (unsigned long long)st.batches, (unsigned long long)st.late_points,
      (unsigned long long)st.expired_points, (unsigned long long)st.duplicates_rejected,
      (unsigned long long)st.buckets_finalized, (unsigned long long)st.corrections,
      (unsigned long long)st.open_buckets, (unsigned long long)st.backfills_pending,
      (unsigned long long)st.series, (unsigned long long)all.commands,
      (unsigned long long)all.results_dropped, (unsigned long long)st.write_errors,
      (unsigned long long)st.retention_sweeps, (unsigned long long)st.write_latency_p50_us,
      (unsigned long long)st.write_latency_p99_us, (unsigned long long)st.disk.raw,
      (unsigned long long)st.disk.agg, (unsigned long long)st.disk.other,
      (unsigned long long)st.disk.wal, (unsigned long long)st.memory.memtables,
      (unsigned long long)st.memory.block_cache, (unsigned long long)st.memory.table_readers,
      (unsigned long long)st.sources_cached, (unsigned long long)st.series_active,
      (unsigned long long)st.memory_trims, (unsigned long long)st.agg_cache_hits,
      (unsigned long long)st.agg_cache_misses, (unsigned long long)st.agg_cache_bytes,
      (unsigned long long)st.storage_failing, (unsigned long long)st.storage_failures,
      (unsigned long long)st.messages_lost, (unsigned long long)st.points_lost,
      (unsigned long long)st.wal_damaged);
  char *prom = tsdb_serve_prometheus(&all);
  pthread_mutex_lock(&srv->host_lock);
  tsdb_strbuf__puts(sb, ",\"host\":");
  tsdb_strbuf__puts(sb, srv->host_json ? srv->host_json : "{}");
  tsdb_strbuf__puts(sb, ",\"prometheus\":");
  tsdb_strbuf sp;
  tsdb_strbuf__init(&sp);
  if (prom) tsdb_strbuf__puts(&sp, prom);
  if (srv->host_prometheus) tsdb_strbuf__puts(&sp, srv->host_prometheus);
  pthread_mutex_unlock(&srv->host_lock);
  tsdb_strbuf__json_string(sb, sp.data ? sp.data : "", sp.len);
  tsdb_strbuf__free(&sp);
  free(prom);
}
