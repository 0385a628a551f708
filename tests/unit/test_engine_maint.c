/* Engine tests of maintenance: retention and its sweep. */
#include "db.h"
#include "keys.h"
#include "timeutil.h"
#include "test_engine.h"

static size_t count_keys(tsdb_db *db, tsdb_cf_id cf, uint32_t series) {
  uint8_t lo[4], hi[4];
  tsdb_key__put_u32(lo, series);
  tsdb_key__put_u32(hi, series + 1);
  tsdb_store_iter *it;
  CHECK_OK(tsdb_store__iter_open(db->env.store, NULL, cf, lo, 4, hi, 4, &it));
  size_t n = 0;
  for (; tsdb_store__iter_valid(it); tsdb_store__iter_next(it)) n++;
  tsdb_store__iter_close(it);
  return n;
}

TEST(retention_drops_exactly_what_expired) {
  const int64_t hour = 3600000;
  const int64_t base = 1795680000000 - 1795680000000 % hour; /* on an hour */
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path("db"), true, 0);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000, 600000};
  static const int64_t tier_ret[] = {2 * 3600000, 6 * 3600000};
  tsdb_series_class_desc d = {.schema_id = "r",
                              .schema_version = 1,
                              .topic_template = "city/{d}/{s}/air",
                              .nfields = 1,
                              .field_names = fields,
                              .ntiers = 2,
                              .tiers_ms = tiers,
                              .block_span_ms = 600000,
                              .raw_retention_ms = hour,
                              .tier_retention_ms = tier_ret};
  tsdb_series_class *cls;
  CHECK_OK(tsdb_series_class_create(&d, &cls));
  /* Points from 59 minutes ago up to now, one a minute; the writer refuses
   * those older than raw retention minus the coarsest tier (50 minutes). */
  for (int m = 59; m >= 1; m--) ingest1(db, cls, "city/r/s1/air", 0, base - m * 60000, m);
  CHECK_OK(tsdb_sync(db));
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.expired_points, ==, 9); /* minutes 59..51 */
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/r/s1/air", "v", &id));
  collected c = {0};
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
  CHECK_INT(c.n, ==, 50);
  collected_free(&c);

  /* 30 minutes later raw points older than an hour are invisible, exactly. */
  atomic_store(&fake_now, base + 30 * 60000);
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
  CHECK_INT(c.n, ==, 30); /* base - 30 min .. base - 1 min */
  CHECK_INT(c.ts[0], ==, base - 30 * 60000);
  collected_free(&c);
  buckets bs = {0};
  CHECK_OK(tsdb_read_tier(db, id, 60000, INT64_MIN, INT64_MAX, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 50); /* the 1m tier keeps two hours */

  /* Three hours later: raw gone, the 1m tier gone, the 10m tier still there. */
  atomic_store(&fake_now, base + 3 * hour);
  ingest1(db, cls, "city/r/s9/air", 0, base + 3 * hour - 1, 0); /* finalize what is due */
  CHECK_OK(tsdb_sync(db));
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
  CHECK_INT(c.n, ==, 0);
  collected_free(&c);
  bs.n = 0;
  CHECK_OK(tsdb_read_tier(db, id, 60000, INT64_MIN, INT64_MAX, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 0);
  bs.n = 0;
  CHECK_OK(tsdb_read_tier(db, id, 600000, INT64_MIN, INT64_MAX, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 5); /* 50 minutes of points in five 10-minute buckets */
  uint64_t total = 0;
  for (size_t i = 0; i < bs.n; i++) total += bs.b[i].count;
  CHECK_INT(total, ==, 50);

  /* On disk the expired keys are still there until a sweep compacts them:
   * raw blocks (10-minute spans here) and aggregate blocks (a day of 1m
   * buckets, ten days of 10m buckets) go once everything in them expired. */
  CHECK(count_keys(db, TSDB_CF_RAW, id) > 0);
  CHECK_INT(count_keys(db, TSDB_CF_AGG, id), ==, 2);
  tsdb_retention_sweep(db);
  CHECK_INT(count_keys(db, TSDB_CF_RAW, id), ==, 0);
  CHECK_INT(count_keys(db, TSDB_CF_AGG, id), ==, 2); /* the 1m block's day is not over */
  atomic_store(&fake_now, tsdb_bucket_floor(base, 86400000) + 86400000 + 2 * hour);
  tsdb_retention_sweep(db);
  /* The 10m block (ten days of buckets) stays on disk, but its buckets are
   * past their six hours and invisible. */
  CHECK_INT(count_keys(db, TSDB_CF_AGG, id), ==, 1);
  bs.n = 0;
  CHECK_OK(tsdb_read_tier(db, id, 600000, INT64_MIN, INT64_MAX, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 0);
  tsdb_stats_get(db, &st);
  CHECK_INT(st.retention_sweeps, ==, 2);
  close_db(db);
  tsdb_series_class_release(cls);
  /* Bad retention: a tier shorter than raw, raw shorter than the coarsest tier. */
  static const int64_t short_tier[] = {1800000, 6 * 3600000};
  d.tier_retention_ms = short_tier;
  CHECK_INT(tsdb_series_class_create(&d, &cls), ==, TSDB_EINVAL);
  d.tier_retention_ms = tier_ret;
  d.raw_retention_ms = 600000;
  CHECK_INT(tsdb_series_class_create(&d, &cls), ==, TSDB_EINVAL);
}
