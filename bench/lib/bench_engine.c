#include "lib/bench_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tsdb_db *bench_engine_open_with(const tsdb_options *o) {
  tsdb_db *db;
  char err[512];
  if (tsdb_open(o, &db, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    exit(1);
  }
  return db;
}

tsdb_db *bench_engine_open(const char *path, uint32_t grace_ms) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = path;
  o.queue_bytes = 64u << 20;
  o.flush_interval_ms = 1;
  o.grace_ms = grace_ms;
  o.log_level = TSDB_LOG_WARNING;
  o.retention_sweep_ms = 0;
  return bench_engine_open_with(&o);
}

tsdb_series_class *bench_engine_class(const char *schema_id, const char *topic_template) {
  static const char *const fields[] = {"value"};
  static const int64_t tiers[] = {60000, 900000, 3600000, 86400000};
  tsdb_series_class_desc d = {.schema_id = schema_id,
                              .schema_version = 1,
                              .topic_template = topic_template,
                              .nfields = 1,
                              .field_names = fields,
                              .ntiers = 4,
                              .tiers_ms = tiers};
  tsdb_series_class *cls;
  int rc = tsdb_series_class_create(&d, &cls);
  if (rc) {
    fprintf(stderr, "bench: series class %s: %s\n", topic_template, tsdb_strerror(rc));
    exit(1);
  }
  return cls;
}

void bench_engine_push(tsdb_db *db, tsdb_series_class *cls, const char *topic,
                       const tsdb_point *points, size_t n) {
  tsdb_ingest_msg m = {
      .cls = cls, .topic = topic, .topic_len = strlen(topic), .points = points, .npoints = n};
  int rc;
  while ((rc = tsdb_ingest(db, &m)) == TSDB_EFULL) usleep(200);
  if (rc) {
    fprintf(stderr, "bench: ingest %s: %s\n", topic, tsdb_strerror(rc));
    exit(1);
  }
}
