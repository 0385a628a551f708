/*
 * Helpers shared by the engine tests (test_engine_*.c, one executable each;
 * test_engine_helpers.c is compiled into every one of them). No broker: a
 * real RocksDB in the fresh temporary directory of each test, a fake clock,
 * and collectors for what the engine reads back or publishes.
 */
#ifndef TSDB_TESTS_TEST_ENGINE_H
#define TSDB_TESTS_TEST_ENGINE_H

#include <stdatomic.h>
#include <unistd.h>

#include "tsdb/serve.h"
#include "tsdb/tsdb.h"
#include "unit.h"

/* The engine's clock when a test opens it with fake_time. */
extern _Atomic int64_t fake_now;
int64_t fake_clock(void *ud);
/* The partial interval the next open_db() uses: 0 (off) unless a test sets it. */
extern uint32_t partial_interval_ms;

/* Opens a database at path with a 1 MiB queue, a 1 ms flush interval and
 * aggregate publications on, with serve/ over it as the plugin runs them;
 * the test fails if it cannot. */
tsdb_db *open_db(const char *path, bool fake_time, uint32_t grace_ms);
/* The same with the caller's options (serve: NULL for the defaults). */
tsdb_db *open_db_with(tsdb_options *engine, const tsdb_serve_options *serve);
/* serve/ over a database open_db*() opened. */
tsdb_serve *serve_of(tsdb_db *db);
/* Stops serve/, closes the database, frees serve/ (the plugin's order). */
void close_db(tsdb_db *db);
/* A class of schema "test" on city/{district}/{station}/air, blocks of one hour. */
tsdb_series_class *make_class_version(const char *const *fields, size_t nfields,
                                      const int64_t *tiers, size_t ntiers, int dup,
                                      uint32_t version);
tsdb_series_class *make_class(const char *const *fields, size_t nfields, const int64_t *tiers,
                              size_t ntiers, int dup);
/* Ingests one point, waiting while the queue is full. */
void ingest1(tsdb_db *db, tsdb_series_class *cls, const char *topic, uint32_t field, int64_t ts,
             double v);

/* Raw points read back; collect_point() is a tsdb_read_raw() callback. */
typedef struct collected {
  size_t n, cap;
  int64_t *ts;
  double *v;
} collected;
int collect_point(void *ud, int64_t ts, double v);
void collected_free(collected *c);

/* Buckets read back; collect_bucket() is a tsdb_read_tier() callback. */
typedef struct buckets {
  size_t n;
  tsdb_aggregate b[4096];
} buckets;
int collect_bucket(void *ud, const tsdb_aggregate *a);

/* Naive aggregate of points (ascending, unique timestamps) in [from, to). */
tsdb_aggregate naive(const collected *c, int64_t from, int64_t to);
void check_same_aggregate(const tsdb_aggregate *got, const tsdb_aggregate *want);

/* Publications drained from the results; collect_pub() keeps the first 64. */
typedef struct pubs {
  int n;
  char topics[64][128];
  char payloads[64][1024];
  bool retain[64];
} pubs;
void collect_pub(void *ud, const tsdb_result *r);

#endif /* TSDB_TESTS_TEST_ENGINE_H */
