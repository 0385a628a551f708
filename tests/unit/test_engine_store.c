/* Engine tests of the store: ingest and read back across a reopen, refused
 * input, names from the message, the decoded-block cache, and a store that
 * cannot be opened. */
#include "agg.h"
#include "store.h"
#include "timeutil.h"
#include "test_engine.h"

TEST(ingest_query_reopen) {
  const char *path = unit_path("db");
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000, 3600000};
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(path, true, 1000);
  tsdb_series_class *cls = make_class(fields, 2, tiers, 2, TSDB_DUP_LAST);
  int64_t t0 = 1795680000000 - 7200000;
  for (int i = 0; i < 1000; i++) {
    ingest1(db, cls, "city/mitte/s17/air", 0, t0 + i * 1000, i * 0.1);
    ingest1(db, cls, "city/mitte/s17/air", 1, t0 + i * 1000, 20.0 - i * 0.01);
  }
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/mitte/s17/air", "pm10", &id));
  CHECK_INT(tsdb_series_find(db, "city/mitte/s17/air", "nope", &id), ==, TSDB_ENOTFOUND);
  CHECK_OK(tsdb_series_find(db, "city/mitte/s17/air", "pm10", &id));
  collected c = {0};
  CHECK_OK(tsdb_read_raw(db, id, t0, t0 + 1000000, collect_point, &c));
  CHECK_INT(c.n, ==, 1000);
  for (int i = 0; i < 1000; i++) {
    CHECK_INT(c.ts[i], ==, t0 + i * 1000);
    CHECK_BITS(c.v[i], i * 0.1);
  }
  buckets bs = {0};
  CHECK_OK(tsdb_read_tier(db, id, 60000, t0, t0 + 1000000, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 17); /* 1000 s = 16 full minutes and a part */
  for (size_t i = 0; i < bs.n; i++) {
    tsdb_aggregate want = naive(&c, bs.b[i].start_ms, bs.b[i].start_ms + 60000);
    check_same_aggregate(&bs.b[i], &want);
  }
  CHECK_INT(tsdb_read_tier(db, id, 300000, t0, t0 + 1, collect_bucket, &bs), ==, TSDB_ENOTFOUND);
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.points_written, ==, 2000);
  CHECK_INT(st.series, ==, 2);
  close_db(db);

  db = open_db(path, true, 1000);
  collected c2 = {0};
  CHECK_OK(tsdb_series_find(db, "city/mitte/s17/air", "pm10", &id));
  CHECK_OK(tsdb_read_raw(db, id, t0, t0 + 1000000, collect_point, &c2));
  CHECK_INT(c2.n, ==, 1000);
  CHECK(memcmp(c.ts, c2.ts, 1000 * sizeof *c.ts) == 0);
  CHECK(memcmp(c.v, c2.v, 1000 * sizeof *c.v) == 0);
  /* Writing more after a reopen continues the same series. */
  ingest1(db, cls, "city/mitte/s17/air", 0, t0 + 2000000, 99);
  CHECK_OK(tsdb_sync(db));
  tsdb_stats_get(db, &st);
  CHECK_INT(st.series, ==, 2);
  collected_free(&c);
  collected_free(&c2);
  close_db(db);
  tsdb_series_class_release(cls);
}

TEST(ingest_rejects_bad_input) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  tsdb_point p = {1, 1.0, 1}; /* field 1 does not exist */
  tsdb_ingest_msg m = {
      .cls = cls, .topic = "city/a/b/air", .topic_len = 12, .points = &p, .npoints = 1};
  CHECK_INT(tsdb_ingest(db, &m), ==, TSDB_EINVAL);
  m.topic_len = 0;
  p.field = 0;
  CHECK_INT(tsdb_ingest(db, &m), ==, TSDB_EINVAL);
  static tsdb_point many[100000];
  tsdb_ingest_msg big = {.cls = cls,
                         .topic = "city/a/b/air",
                         .topic_len = 12,
                         .points = many,
                         .npoints = 100000}; /* 2.4 MB > 1 MiB queue */
  CHECK_INT(tsdb_ingest(db, &big), ==, TSDB_ETOOBIG);
  /* Bad class descriptions. */
  tsdb_series_class *bad;
  static const int64_t not_multiple[] = {60000, 90000};
  tsdb_series_class_desc d = {.schema_id = "x",
                              .topic_template = "a/{b}",
                              .nfields = 1,
                              .field_names = fields,
                              .ntiers = 2,
                              .tiers_ms = not_multiple};
  CHECK_INT(tsdb_series_class_create(&d, &bad), ==, TSDB_EINVAL);
  static const int64_t sub_second[] = {500};
  d.ntiers = 1;
  d.tiers_ms = sub_second;
  CHECK_INT(tsdb_series_class_create(&d, &bad), ==, TSDB_EINVAL);
  close_db(db);
  tsdb_series_class_release(cls);
}

TEST(fields_named_by_the_message) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"unused"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  const char *names[] = {"urn:dev:ow:10e2073a01080063:temp", "urn:dev:ow:10e2073a01080063:hum"};
  const char *units[] = {"Cel", NULL};
  tsdb_point p[3] = {{1795679000000, 23.1, 0}, {1795679000000, 41.0, 1}, {1795679001000, 23.2, 0}};
  tsdb_ingest_msg m = {.cls = cls,
                       .topic = "senml/dev1",
                       .topic_len = 10,
                       .points = p,
                       .npoints = 3,
                       .names = names,
                       .units = units,
                       .nnames = 2};
  CHECK_OK(tsdb_ingest(db, &m));
  CHECK_OK(tsdb_ingest(db, &m)); /* the same message again: duplicates, last wins */
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "senml/dev1", names[0], &id));
  collected c = {0};
  CHECK_OK(tsdb_read_raw(db, id, 0, INT64_MAX, collect_point, &c));
  CHECK_INT(c.n, ==, 2);
  CHECK_BITS(c.v[1], 23.2);
  collected_free(&c);
  CHECK_OK(tsdb_series_find(db, "senml/dev1", names[1], &id));
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.series, ==, 2);
  /* Bad name tables are refused. */
  m.nnames = 1; /* point 1 names field 1 */
  CHECK_INT(tsdb_ingest(db, &m), ==, TSDB_EINVAL);
  const char *empty[] = {""};
  tsdb_ingest_msg e = {.cls = cls,
                       .topic = "senml/dev1",
                       .topic_len = 10,
                       .points = p,
                       .npoints = 1,
                       .names = empty,
                       .nnames = 1};
  CHECK_INT(tsdb_ingest(db, &e), ==, TSDB_EINVAL);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* Decoded aggregate blocks of ended spans are cached; a block that changed
 * since (a late point) is never served from the cache. */
TEST(decoded_agg_blocks_are_cached_and_never_stale) {
  const int64_t day = 86400000, now = 1795680000000;
  atomic_store(&fake_now, now);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000}; /* blocks of one day */
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  const int64_t t0 = tsdb_bucket_floor(now - 5 * day, day);
  for (int64_t t = t0; t < t0 + 3 * day; t += 600000) ingest1(db, cls, "city/a/s1/air", 0, t, 1);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, now + 10000); /* every bucket due */
  ingest1(db, cls, "city/a/s2/air", 0, now, 1);
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/a/s1/air", "v", &id));
  static buckets bs;
  tsdb_stats st;
  for (int round = 0; round < 2; round++) {
    bs.n = 0;
    CHECK_OK(tsdb_read_tier(db, id, 60000, t0, t0 + 3 * day, collect_bucket, &bs));
    CHECK_INT(bs.n, ==, 3 * 144);
    tsdb_stats_get(db, &st);
    if (round == 0) {
      CHECK_INT(st.agg_cache_hits, ==, 0);
      CHECK_INT(st.agg_cache_misses, ==, 3);
      CHECK(st.agg_cache_bytes > 3 * 144 * sizeof(tsdb_agg));
    } else {
      CHECK_INT(st.agg_cache_hits, ==, 3);
    }
  }
  /* A late point in the first day's first bucket: that block's bytes
   * change, so it misses and is decoded again; the others still hit. */
  ingest1(db, cls, "city/a/s1/air", 0, t0 + 30000, 41);
  CHECK_OK(tsdb_sync(db));
  atomic_fetch_add(&fake_now, 10000);
  ingest1(db, cls, "city/a/s2/air", 0, now + 10000, 1);
  CHECK_OK(tsdb_sync(db));
  bs.n = 0;
  CHECK_OK(tsdb_read_tier(db, id, 60000, t0, t0 + 3 * day, collect_bucket, &bs));
  CHECK_INT(bs.n, ==, 3 * 144);
  CHECK_INT(bs.b[0].start_ms, ==, t0);
  CHECK_INT(bs.b[0].count, ==, 2);
  CHECK_BITS(bs.b[0].max, 41.0);
  CHECK_INT(bs.b[1].count, ==, 1);
  tsdb_stats_get(db, &st);
  CHECK_INT(st.agg_cache_hits, ==, 5);
  CHECK_INT(st.agg_cache_misses, ==, 4);
  close_db(db);
  tsdb_series_class_release(cls);
}

TEST(open_reports_an_unreadable_store) {
  const char *path = unit_path("db");
  tsdb_db *db = open_db(path, false, 1000);
  close_db(db);
  /* Unreadable directory content is an error, not a crash. */
  char file[4200];
  snprintf(file, sizeof file, "%s/CURRENT", path);
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  fputs("MANIFEST-999999\n", f);
  fclose(f);
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = path;
  char err[512] = "";
  CHECK(tsdb_open(&o, &db, err, sizeof err) != 0);
  CHECK(strstr(err, "cannot open RocksDB") != NULL);
}

/* RocksDB's error texts (Status::ToString(): the code's name first, then an
 * I/O error's subcode) keep their kind: a full disk, damaged data, the rest. */
TEST(rocksdb_errors_keep_their_kind) {
  static const struct {
    const char *text;
    int kind;
  } cases[] = {
      {"IO error: No space left on device: While appending to file: /data/000012.log: No space "
       "left on device",
       TSDB_ENOSPC},
      {"IO error: No space left on device", TSDB_ENOSPC},
      /* Without the subcode, the errno text still says it. */
      {"IO error: While appending to file: /data/000012.log: No space left on device", TSDB_ENOSPC},
      {"Corruption: block checksum mismatch: stored = 1, computed = 2  in /data/000007.sst",
       TSDB_ECORRUPT},
      {"Corruption: CURRENT file does not end with newline", TSDB_ECORRUPT},
      {"IO error: No such file or directory: While opening a file for sequentially reading: "
       "/data/MANIFEST-999999: No such file or directory",
       TSDB_EIO},
      {"IO error: While open a file for appending: /data/LOCK: Read-only file system", TSDB_EIO},
      {"Invalid argument: Column family not found: raw", TSDB_EIO},
      {"Resource busy: ", TSDB_EIO},
      {"", TSDB_EIO},
      /* Only the code's name at the start decides. */
      {"Invalid argument: No space left on device", TSDB_EIO},
      {"IO error: While reading /data/Corruption: x", TSDB_EIO},
      {"corruption: lower case is not RocksDB's", TSDB_EIO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK_MSG(tsdb_store__error_kind(cases[i].text) == cases[i].kind, "\"%s\": %s, not %s",
              cases[i].text, tsdb_err_name(tsdb_store__error_kind(cases[i].text)),
              tsdb_err_name(cases[i].kind));
  CHECK_STR(tsdb_err_name(TSDB_ENOSPC), "TSDB_ENOSPC");
  CHECK_STR(tsdb_strerror(TSDB_ENOSPC), "no space left on device");
  CHECK_STR(tsdb_err_name(TSDB_ECORRUPT), "TSDB_ECORRUPT");
  CHECK_STR(tsdb_err_name(TSDB_EIO), "TSDB_EIO");
}

/* The open says what RocksDB said, of the kind it said: damaged data is
 * TSDB_ECORRUPT, a data directory that is a file TSDB_EIO. */
TEST(open_errors_keep_their_kind) {
  const char *path = unit_path("db");
  tsdb_db *db = open_db(path, false, 1000);
  tsdb_close(db);
  char file[4200];
  snprintf(file, sizeof file, "%s/CURRENT", path);
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  fputs("MANIFEST-000001", f); /* no newline */
  fclose(f);
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = path;
  char err[512] = "";
  CHECK_INT(tsdb_open(&o, &db, err, sizeof err), ==, TSDB_ECORRUPT);
  CHECK_MSG(strstr(err, "Corruption: ") != NULL, "%s", err);
  const char *plain = unit_path("plain-file");
  f = fopen(plain, "w");
  CHECK(f != NULL);
  fclose(f);
  o.path = plain;
  err[0] = '\0';
  CHECK_INT(tsdb_open(&o, &db, err, sizeof err), ==, TSDB_EIO);
  CHECK_MSG(strstr(err, "IO error: ") != NULL, "%s", err);
}
