/* Engine tests of reads and the query planner: step queries against a naive
 * aggregation, fill modes, and the last point. */
#include "timeutil.h"
#include "test_engine.h"

typedef struct step_rows {
  size_t n;
  tsdb_aggregate b[8192];
} step_rows;

static int collect_step(void *ud, const tsdb_aggregate *a) {
  step_rows *r = ud;
  CHECK(r->n < 8192);
  r->b[r->n++] = *a;
  return 0;
}

/* Step queries at random steps and misaligned ranges equal a naive
 * aggregation of the raw points, whatever tier the planner picks; open
 * (pending) and finalized buckets alike. */
TEST(step_queries_equal_naive_aggregation) {
  const int64_t base = 1795680000000;
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {10000, 60000, 900000, 3600000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 4, TSDB_DUP_LAST);
  uint64_t seed = 99;
  int64_t t0 = base - 6 * 3600000;
  /* Six hours of 1-second data with gaps, then finalize about half of it. */
  for (int64_t t = t0; t < base; t += 1000) {
    if (unit_rand(&seed) % 100 < 3) t += (int64_t)(unit_rand(&seed) % 600) * 1000;
    ingest1(db, cls, "city/q/s1/air", 0, t, (double)(int64_t)(unit_rand(&seed) % 1000) / 10.0);
    if (t == t0 + 3 * 3600000) {
      CHECK_OK(tsdb_sync(db));
      atomic_store(&fake_now, base + 7200000); /* everything so far is due */
    }
  }
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/q/s1/air", "v", &id));
  collected c = {0};
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
  static const int64_t steps[] = {10000,   30000,   60000,   90000,    300000, 900000,
                                  1800000, 3600000, 7200000, 86400000, 7000,   45000};
  static step_rows rows;
  for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
    for (int trial = 0; trial < 4; trial++) {
      int64_t from = t0 - 1000 + (int64_t)(unit_rand(&seed) % 3600000);
      int64_t to = base - (int64_t)(unit_rand(&seed) % 3600000);
      tsdb_step_query q = {
          .series = id, .from = from, .to = to, .step_ms = steps[si], .fill = TSDB_FILL_NONE};
      rows.n = 0;
      int64_t next = 0;
      CHECK_OK(tsdb_query_step(db, &q, collect_step, &rows, &next));
      CHECK_INT(next, ==, to);
      size_t k = 0;
      for (int64_t b = tsdb_bucket_floor(from, steps[si]); b < to; b += steps[si]) {
        int64_t lo = b < from ? from : b, hi = b + steps[si] > to ? to : b + steps[si];
        tsdb_aggregate want = naive(&c, lo, hi);
        if (want.count == 0) continue;
        want.start_ms = b;
        CHECK_MSG(k < rows.n, "step %lld: missing bucket %lld", (long long)steps[si], (long long)b);
        check_same_aggregate(&rows.b[k], &want);
        k++;
      }
      CHECK_INT(rows.n, ==, k);
    }
  }
  /* Paging: limit and next give the same buckets as one query. */
  tsdb_step_query all = {
      .series = id, .from = t0, .to = base, .step_ms = 600000, .fill = TSDB_FILL_NULL};
  static step_rows whole;
  whole.n = 0;
  CHECK_OK(tsdb_query_step(db, &all, collect_step, &whole, NULL));
  CHECK_INT(whole.n, ==, 36); /* six hours of 10-minute buckets, empty ones as null */
  rows.n = 0;
  tsdb_step_query page = all;
  page.limit = 7;
  for (int i = 0; i < 20 && page.from < page.to; i++) {
    int64_t next;
    CHECK_OK(tsdb_query_step(db, &page, collect_step, &rows, &next));
    page.from = next;
  }
  CHECK_INT(rows.n, ==, whole.n);
  for (size_t i = 0; i < rows.n; i++) {
    CHECK_INT(rows.b[i].start_ms, ==, whole.b[i].start_ms);
    CHECK_INT(rows.b[i].count, ==, whole.b[i].count);
  }
  collected_free(&c);
  close_db(db);
  tsdb_series_class_release(cls);
}

TEST(step_query_fill_modes) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  int64_t t0 = 1795670000000 - 1795670000000 % 60000;
  ingest1(db, cls, "city/f/s1/air", 0, t0 + 1000, 10);          /* minute 0 */
  ingest1(db, cls, "city/f/s1/air", 0, t0 + 3 * 60000 + 1, 40); /* minute 3 */
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/f/s1/air", "v", &id));
  static step_rows rows;
  tsdb_step_query q = {.series = id, .from = t0, .to = t0 + 5 * 60000, .step_ms = 60000};
  q.fill = TSDB_FILL_NONE;
  rows.n = 0;
  CHECK_OK(tsdb_query_step(db, &q, collect_step, &rows, NULL));
  CHECK_INT(rows.n, ==, 2);
  q.fill = TSDB_FILL_NULL;
  rows.n = 0;
  CHECK_OK(tsdb_query_step(db, &q, collect_step, &rows, NULL));
  CHECK_INT(rows.n, ==, 5);
  CHECK(rows.b[1].count == 0 && isnan(rows.b[1].mean) && !rows.b[1].filled);
  CHECK(isnan(rows.b[4].mean));
  q.fill = TSDB_FILL_PREVIOUS;
  rows.n = 0;
  CHECK_OK(tsdb_query_step(db, &q, collect_step, &rows, NULL));
  CHECK_INT(rows.n, ==, 5);
  CHECK(rows.b[2].filled && rows.b[2].count == 0);
  CHECK_BITS(rows.b[2].mean, 10.0);
  CHECK_BITS(rows.b[4].mean, 40.0);
  q.fill = TSDB_FILL_LINEAR;
  rows.n = 0;
  CHECK_OK(tsdb_query_step(db, &q, collect_step, &rows, NULL));
  CHECK_INT(rows.n, ==, 5);
  CHECK_NEAR(rows.b[1].mean, 20.0, 1e-12);
  CHECK_NEAR(rows.b[2].mean, 30.0, 1e-12);
  CHECK(isnan(rows.b[4].mean)); /* nothing after it to interpolate towards */
  CHECK_INT(rows.b[0].start_ms, ==, t0);
  /* Bad queries. */
  q.step_ms = 0;
  CHECK_INT(tsdb_query_step(db, &q, collect_step, &rows, NULL), ==, TSDB_EINVAL);
  q.step_ms = 60000;
  q.series = 9999;
  CHECK_INT(tsdb_query_step(db, &q, collect_step, &rows, NULL), ==, TSDB_ENOTFOUND);
  /* Last point. */
  int64_t ts;
  double v;
  CHECK_OK(tsdb_read_last(db, id, INT64_MAX, &ts, &v));
  CHECK_INT(ts, ==, t0 + 3 * 60000 + 1);
  CHECK_BITS(v, 40.0);
  CHECK_OK(tsdb_read_last(db, id, t0 + 3 * 60000 + 1, &ts, &v));
  CHECK_INT(ts, ==, t0 + 1000);
  CHECK_INT(tsdb_read_last(db, id, t0 + 1000, &ts, &v), ==, TSDB_ENOTFOUND);
  close_db(db);
  tsdb_series_class_release(cls);
}

static int count_points(void *ud, int64_t ts, double v) {
  (void)ts;
  (void)v;
  ++*(int *)ud;
  return 0;
}

static int count_buckets(void *ud, const tsdb_aggregate *a) {
  *(uint64_t *)ud += a->count;
  return 0;
}

/* Reads given a snapshot see the database as it was when it was taken,
 * whatever is written after; reads without one see the latest state. */
TEST(reads_on_a_snapshot_see_one_moment) {
  const int64_t base = 1795680000000;
  atomic_store(&fake_now, base + 3600000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"pm10"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  for (int i = 0; i < 10; i++) ingest1(db, cls, "city/a/s1/air", 0, base + i * 1000, i);
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/a/s1/air", "pm10", &id));
  tsdb_snapshot *snap = tsdb_snapshot_take(db);
  CHECK(snap != NULL);
  for (int i = 10; i < 25; i++) ingest1(db, cls, "city/a/s1/air", 0, base + i * 1000, i);
  CHECK_OK(tsdb_sync(db));
  int then = 0, now = 0;
  CHECK_OK(tsdb_read_raw_at(db, snap, id, base, base + 60000, count_points, &then));
  CHECK_OK(tsdb_read_raw(db, id, base, base + 60000, count_points, &now));
  CHECK_INT(then, ==, 10);
  CHECK_INT(now, ==, 25);
  tsdb_step_query q = {.series = id, .from = base, .to = base + 60000, .step_ms = 60000};
  uint64_t in_step = 0;
  CHECK_OK(tsdb_query_step_at(db, snap, &q, count_buckets, &in_step, NULL));
  CHECK_INT(in_step, ==, 10);
  int64_t ts;
  double v;
  CHECK_OK(tsdb_read_last_at(db, snap, id, INT64_MAX, &ts, &v));
  CHECK_INT(ts, ==, base + 9000);
  CHECK_OK(tsdb_read_last(db, id, INT64_MAX, &ts, &v));
  CHECK_INT(ts, ==, base + 24000);
  tsdb_snapshot_release(db, snap);
  close_db(db);
  tsdb_series_class_release(cls);
}
