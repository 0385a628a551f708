/*
 * Metrics: $SYS/broker/tsdb/... published retained every sys_interval, the
 * way Mosquitto publishes its own $SYS tree (plain decimal strings), and the
 * plugin's counters handed to the engine so that the `stats` command can
 * answer with both, also as Prometheus text. Broker thread only: the counters
 * read here are written on this thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

static void sys_publish(const char *topic, uint64_t value) {
  char v[24];
  int n = snprintf(v, sizeof v, "%" PRIu64, value);
  mosquitto_broker_publish_copy(NULL, topic, n, v, 0, true, NULL);
}

/* A growable text; allocation failure just truncates the metrics text. */
typedef struct text {
  char *p;
  size_t len, cap;
} text;

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (cap < t->len + (size_t)n + 1) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) return;
    t->p = p;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

void plugin__metrics(plugin_state *st) {
  tsdb_stats es;
  tsdb_stats_get(st->db, &es);
  uint64_t refused = 0;
  for (int i = 0; i < REFUSAL_COUNT; i++) refused += st->refused[i];
  char topic[256];

  sys_publish("$SYS/broker/tsdb/messages/accepted", st->accepted);
  sys_publish("$SYS/broker/tsdb/messages/refused", refused);
  sys_publish("$SYS/broker/tsdb/messages/unmatched", st->passed_unmatched);
  for (int i = 0; i < REFUSAL_COUNT; i++) {
    snprintf(topic, sizeof topic, "$SYS/broker/tsdb/messages/refused/%s", plugin__refusal_name(i));
    sys_publish(topic, st->refused[i]);
  }
  sys_publish("$SYS/broker/tsdb/points/written", es.points_written);
  sys_publish("$SYS/broker/tsdb/points/late", es.late_points);
  sys_publish("$SYS/broker/tsdb/points/expired", es.expired_points);
  sys_publish("$SYS/broker/tsdb/points/duplicates_rejected", es.duplicates_rejected);
  sys_publish("$SYS/broker/tsdb/queue/bytes", es.queue_bytes_used);
  sys_publish("$SYS/broker/tsdb/queue/full", es.queue_full);
  sys_publish("$SYS/broker/tsdb/write/latency_p50_us", es.write_latency_p50_us);
  sys_publish("$SYS/broker/tsdb/write/latency_p99_us", es.write_latency_p99_us);
  sys_publish("$SYS/broker/tsdb/write/errors", es.write_errors);
  sys_publish("$SYS/broker/tsdb/storage/failing", es.storage_failing);
  sys_publish("$SYS/broker/tsdb/storage/failures", es.storage_failures);
  sys_publish("$SYS/broker/tsdb/storage/wal_damaged", es.wal_damaged);
  sys_publish("$SYS/broker/tsdb/messages/lost", es.messages_lost);
  sys_publish("$SYS/broker/tsdb/points/lost", es.points_lost);
  sys_publish("$SYS/broker/tsdb/series", es.series);
  sys_publish("$SYS/broker/tsdb/buckets/open", es.open_buckets);
  sys_publish("$SYS/broker/tsdb/backfills/pending", es.backfills_pending);
  sys_publish("$SYS/broker/tsdb/disk/bytes",
              es.disk.raw + es.disk.agg + es.disk.other + es.disk.wal);
  sys_publish("$SYS/broker/tsdb/error_records", st->error_records);
  /* The longest time the plugin held the broker's loop in a tick. */
  sys_publish("$SYS/broker/tsdb/tick/max_us", (uint64_t)st->tick_max_us);
  st->tick_max_us = 0;

  /* The plugin's counters for the stats command. */
  size_t n = ingest_schema_set_count(st->schemas);
  text json = {0}, prom = {0};
  text_printf(&json,
              "{\"accepted\":%" PRIu64 ",\"unmatched_passed\":%" PRIu64
              ",\"error_records\":%" PRIu64 ",\"refused\":{",
              st->accepted, st->passed_unmatched, st->error_records);
  text_printf(&prom,
              "# HELP tsdb_plugin_messages Messages by outcome and reason.\n"
              "# TYPE tsdb_plugin_messages counter\n"
              "tsdb_plugin_messages{outcome=\"accepted\"} %" PRIu64 "\n",
              st->accepted);
  for (int i = 0; i < REFUSAL_COUNT; i++) {
    text_printf(&json, "%s\"%s\":%" PRIu64, i ? "," : "", plugin__refusal_name(i), st->refused[i]);
    text_printf(&prom, "tsdb_plugin_messages{outcome=\"refused\",reason=\"%s\"} %" PRIu64 "\n",
                plugin__refusal_name(i), st->refused[i]);
  }
  text_printf(&json, "},\"schemas\":{");
  text_printf(&prom,
              "# HELP tsdb_plugin_schema_messages Messages by schema and outcome.\n"
              "# TYPE tsdb_plugin_schema_messages counter\n");
  for (size_t k = 0; k < n; k++) {
    const plugin_schema_stats *ss = &st->schema_stats[k];
    uint64_t r = 0;
    for (int i = 0; i < REFUSAL_COUNT; i++) r += ss->refused[i];
    text_printf(&json, "%s\"%s\":{\"accepted\":%" PRIu64 ",\"points\":%" PRIu64 ",\"refused\":{",
                k ? "," : "", ss->id, ss->accepted, ss->points);
    for (int i = 0; i < REFUSAL_COUNT; i++)
      text_printf(&json, "%s\"%s\":%" PRIu64, i ? "," : "", plugin__refusal_name(i),
                  ss->refused[i]);
    text_printf(&json, "}}");
    text_printf(&prom,
                "tsdb_plugin_schema_messages{schema=\"%s\",outcome=\"accepted\"} %" PRIu64
                "\n"
                "tsdb_plugin_schema_messages{schema=\"%s\",outcome=\"refused\"} %" PRIu64 "\n",
                ss->id, ss->accepted, ss->id, r);
    snprintf(topic, sizeof topic, "$SYS/broker/tsdb/schemas/%s/accepted", ss->id);
    sys_publish(topic, ss->accepted);
    snprintf(topic, sizeof topic, "$SYS/broker/tsdb/schemas/%s/refused", ss->id);
    sys_publish(topic, r);
  }
  text_printf(&json, "}}");
  tsdb_serve_host_metrics_set(st->serve, json.p, prom.p);
  free(json.p);
  free(prom.p);
}
