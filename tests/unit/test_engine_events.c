/* The engine's bucket events (tsdb_options.bucket_fn), as a host that is not
 * serve/ sees them: typed, in order, with the newest-bucket flag. A real
 * RocksDB in a fresh temporary directory, a clock the test drives (the
 * helpers of test_engine.h, without serve/). */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test_engine.h"
typedef struct seen_event {
  char topic[64];
  int64_t tier_ms, start_ms;
  tsdb_bucket_state state;
  bool newest;
  size_t nfields;
  char field[2][16];
  uint64_t count[2];
  double max[2];
} seen_event;

typedef struct events {
  atomic_int n; /* written on the writer thread, read after tsdb_sync() */
  seen_event v[32];
} events;

static void on_bucket(const tsdb_bucket_event *ev, void *ud) {
  events *e = ud;
  int i = atomic_load(&e->n);
  if (i == 32) return;
  seen_event *s = &e->v[i];
  snprintf(s->topic, sizeof s->topic, "%.*s", (int)ev->topic_len, ev->topic);
  s->tier_ms = ev->tier_ms;
  s->start_ms = ev->start_ms;
  s->state = ev->state;
  s->newest = ev->newest;
  s->nfields = ev->nfields;
  for (size_t k = 0; k < ev->nfields && k < 2; k++) {
    snprintf(s->field[k], sizeof s->field[k], "%s", ev->fields[k].field);
    s->count[k] = ev->fields[k].agg->count;
    s->max[k] = ev->fields[k].agg->max;
  }
  atomic_store(&e->n, i + 1);
}

static tsdb_db *open_with(const char *path, tsdb_bucket_event_fn fn, events *e) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = path;
  o.queue_bytes = 1 << 20;
  o.flush_interval_ms = 1;
  o.grace_ms = 1000;
  o.partial_interval_ms = 0;
  o.clock_fn = fake_clock;
  o.bucket_fn = fn;
  o.bucket_ud = e;
  tsdb_db *db = NULL;
  char err[256];
  CHECK_MSG(tsdb_open(&o, &db, err, sizeof err) == 0, "tsdb_open: %s", err);
  return db;
}

static tsdb_series_class *air_class(void) {
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  return make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
}

/* One point, stored before it returns. */
static void put(tsdb_db *db, tsdb_series_class *cls, const char *topic, uint32_t field, int64_t ts,
                double v) {
  ingest1(db, cls, topic, field, ts, v);
  CHECK_OK(tsdb_sync(db));
}

/* A bucket closes: one FINAL event with every field of the topic, newest;
 * a late point in it after a newer bucket closed: a CORRECTION that is not
 * the newest (a retained message must not go back to it). */
TEST(final_then_correction_of_an_older_bucket) {
  const int64_t b = 1795680000000; /* a minute boundary */
  atomic_store(&fake_now, b);
  events e = {0};
  tsdb_db *db = open_with(unit_path("db"), on_bucket, &e);
  tsdb_series_class *cls = air_class();
  put(db, cls, "city/a/s1/air", 0, b + 1000, 5);
  put(db, cls, "city/a/s1/air", 1, b + 1000, 20);
  put(db, cls, "city/a/s1/air", 0, b + 2000, 7);
  CHECK_INT(atomic_load(&e.n), ==, 0); /* still open */

  atomic_store(&fake_now, b + 60000 + 1001);
  put(db, cls, "city/a/s1/air", 0, b + 60000 + 1000, 1); /* the next bucket; wakes the writer */
  CHECK_INT(atomic_load(&e.n), ==, 1);
  seen_event *f = &e.v[0];
  CHECK_STR(f->topic, "city/a/s1/air");
  CHECK_INT(f->tier_ms, ==, 60000);
  CHECK_INT(f->start_ms, ==, b);
  CHECK_INT(f->state, ==, TSDB_BUCKET_FINAL);
  CHECK(f->newest);
  CHECK_INT(f->nfields, ==, 2);
  CHECK_STR(f->field[0], "pm10");
  CHECK_INT(f->count[0], ==, 2);
  CHECK(f->max[0] == 7);
  CHECK_STR(f->field[1], "temp");
  CHECK_INT(f->count[1], ==, 1);

  /* The second bucket closes (newest), then a late point reopens the first. */
  atomic_store(&fake_now, b + 120000 + 1001);
  put(db, cls, "city/a/s2/air", 0, b + 120000 + 1000, 1);
  CHECK_INT(atomic_load(&e.n), ==, 2);
  CHECK_INT(e.v[1].start_ms, ==, b + 60000);
  CHECK(e.v[1].newest);
  put(db, cls, "city/a/s1/air", 0, b + 3000, 9);
  atomic_store(&fake_now, b + 120000 + 2600);
  put(db, cls, "city/a/s2/air", 0, b + 120000 + 2000, 1);
  int n = atomic_load(&e.n);
  CHECK_INT(n, ==, 3);
  seen_event *c = &e.v[2];
  CHECK_STR(c->topic, "city/a/s1/air");
  CHECK_INT(c->start_ms, ==, b);
  CHECK_INT(c->state, ==, TSDB_BUCKET_CORRECTION);
  CHECK(!c->newest);
  CHECK_INT(c->count[0], ==, 3);
  CHECK(c->max[0] == 9);
  CHECK_INT(c->nfields, ==, 2);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

/* Without a callback the writer still finalizes buckets; it keeps no
 * partial-update state for them. */
TEST(no_callback_buckets_still_close) {
  const int64_t b = 1795680000000;
  atomic_store(&fake_now, b);
  tsdb_db *db = open_with(unit_path("db"), NULL, NULL);
  tsdb_series_class *cls = air_class();
  put(db, cls, "city/a/s1/air", 0, b + 1000, 5);
  atomic_store(&fake_now, b + 60000 + 1001);
  put(db, cls, "city/a/s1/air", 0, b + 60000 + 1000, 1);
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.buckets_finalized, ==, 1);
  CHECK_INT(st.open_buckets, ==, 1);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}
