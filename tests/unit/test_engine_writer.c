/* Engine tests of the writer: exact rollups under any arrival order, the
 * aggregate publications (partial, final, correction), pending markers and
 * recovery after a reopen or a SIGKILL, passes and bursts, the reject policy,
 * idle series and backfilled tiers. */
#include <signal.h>
#include <sys/wait.h>

#include "db.h"
#include "keys.h"
#include "timeutil.h"
#include "test_engine.h"

typedef struct model_point {
  int64_t ts;
  double v;
  bool set;
} model_point;

/*
 * The property: random points (out of order, duplicates, late after their
 * bucket was finalized) written in random batches under both duplicate
 * policies; afterwards raw data equals the model and every bucket of every
 * tier equals a naive recomputation from the stored raw points, both while
 * buckets are open (computed from raw) and after they are final (stored).
 */
static void rollup_property(uint64_t seed, int policy) {
  char dir[64];
  snprintf(dir, sizeof dir, "db-%d-%llu", policy, (unsigned long long)seed);
  const int64_t base = 1795680000000; /* 2026-11-26T07:20:00Z */
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path(dir), true, 2000);
  static const char *const fields[] = {"a", "b"};
  static const int64_t tiers[] = {10000, 60000, 900000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 3, policy);
  const char *topics[] = {"city/x/s1/air", "city/x/s2/air", "city/y/s3/air"};
  enum { SPAN = 1800, NT = 3, NF = 2 }; /* half an hour of 1 s slots */
  static model_point model[NT][NF][SPAN];
  memset(model, 0, sizeof model);
  int64_t t0 = base - 3600000; /* an hour ago: every bucket already closed */
  uint64_t dups = 0;

  for (int round = 0; round < 6000; round++) {
    int t = (int)(unit_rand(&seed) % NT), f = (int)(unit_rand(&seed) % NF);
    int slot;
    uint64_t r = unit_rand(&seed) % 100;
    if (r < 70)
      slot = (round / 4) % SPAN; /* roughly in order */
    else
      slot = (int)(unit_rand(&seed) % SPAN); /* anywhere: late, out of order, duplicates */
    double v = (double)(int64_t)(unit_rand(&seed) % 2001 - 1000) / 10.0;
    ingest1(db, cls, topics[t], (uint32_t)f, t0 + slot * 1000, v);
    model_point *mp = &model[t][f][slot];
    if (mp->set) dups++;
    if (!mp->set || policy == TSDB_DUP_LAST) mp->v = v;
    mp->ts = t0 + slot * 1000;
    mp->set = true;
    if (unit_rand(&seed) % 50 == 0) {
      CHECK_OK(tsdb_sync(db)); /* a batch boundary */
      /* Sometimes let time pass so buckets get finalized in between. */
      if (unit_rand(&seed) % 2) atomic_fetch_add(&fake_now, 3000);
    }
  }
  CHECK_OK(tsdb_sync(db));

  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      /* Let every bucket become due, then give the writer a pass to
       * finalize: all aggregates now come from the agg column family. */
      atomic_fetch_add(&fake_now, 3600000);
      ingest1(db, cls, "city/z/tick/air", 0, base, 0);
      CHECK_OK(tsdb_sync(db));
      ingest1(db, cls, "city/z/tick/air", 0, base + 1, 0);
      CHECK_OK(tsdb_sync(db));
      tsdb_stats st;
      tsdb_stats_get(db, &st);
      /* Only the tick series' current buckets (one per tier) are still open:
       * everything checked below was finalized into stored aggregates. */
      CHECK_INT(st.open_buckets, <=, 3);
      CHECK(st.buckets_finalized > 0);
    }
    for (int t = 0; t < NT; t++) {
      for (int f = 0; f < NF; f++) {
        uint32_t id;
        CHECK_OK(tsdb_series_find(db, topics[t], fields[f], &id));
        collected c = {0};
        CHECK_OK(tsdb_read_raw(db, id, t0, t0 + SPAN * 1000, collect_point, &c));
        size_t k = 0;
        for (int s = 0; s < SPAN; s++) {
          if (!model[t][f][s].set) continue;
          CHECK_MSG(k < c.n, "missing point slot %d", s);
          CHECK_INT(c.ts[k], ==, model[t][f][s].ts);
          CHECK_BITS(c.v[k], model[t][f][s].v);
          k++;
        }
        CHECK_INT(c.n, ==, k);
        for (size_t ti = 0; ti < 3; ti++) {
          static buckets bs;
          bs.n = 0;
          CHECK_OK(tsdb_read_tier(db, id, tiers[ti], t0 - tiers[ti], t0 + SPAN * 1000 + tiers[ti],
                                  collect_bucket, &bs));
          size_t expected_buckets = 0;
          for (int64_t b = tsdb_bucket_floor(t0, tiers[ti]); b < t0 + SPAN * 1000; b += tiers[ti]) {
            tsdb_aggregate want = naive(&c, b, b + tiers[ti]);
            if (want.count == 0) continue;
            CHECK_MSG(expected_buckets < bs.n, "missing bucket %lld tier %lld", (long long)b,
                      (long long)tiers[ti]);
            check_same_aggregate(&bs.b[expected_buckets], &want);
            expected_buckets++;
          }
          CHECK_INT(bs.n, ==, expected_buckets);
        }
        collected_free(&c);
      }
    }
  }
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK(st.late_points > 0);
  CHECK(st.corrections > 0); /* some late points hit finalized buckets */
  CHECK(dups > 0);
  CHECK_INT(st.duplicates_rejected, ==, policy == TSDB_DUP_REJECT ? dups : 0);
  /* Drain the aggregate publications: each is JSON on $tsdb/agg/<tier>/<topic>. */
  close_db(db);
  tsdb_series_class_release(cls);
}

TEST(rollups_exact_under_any_arrival_order_last) {
  rollup_property(1, TSDB_DUP_LAST);
  rollup_property(2, TSDB_DUP_LAST);
}

TEST(rollups_exact_under_any_arrival_order_first) { rollup_property(3, TSDB_DUP_FIRST); }

TEST(rollups_exact_under_any_arrival_order_reject) { rollup_property(4, TSDB_DUP_REJECT); }

/* Drains the results: exactly one publication went to topic, and its
 * payload holds every one of the texts. */
#define expect_one_publication(db, topic, ...) \
  expect_one_publication_of(db, topic, (const char *const[]){__VA_ARGS__, NULL})
static void expect_one_publication_of(tsdb_db *db, const char *topic, const char *const *texts) {
  static pubs p;
  p.n = 0;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  int found = 0;
  for (int i = 0; i < p.n; i++) {
    if (strcmp(p.topics[i], topic)) continue;
    found++;
    for (const char *const *t = texts; *t; t++)
      CHECK_MSG(strstr(p.payloads[i], *t) != NULL, "%s lacks %s", p.payloads[i], *t);
  }
  CHECK_INT(found, ==, 1);
}

TEST(final_and_correction_publications) {
  const int64_t base = 1795680000000;
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
  int64_t b = tsdb_bucket_floor(base, 60000);
  ingest1(db, cls, "city/a/s1/air", 0, b + 1000, 5);
  ingest1(db, cls, "city/a/s1/air", 1, b + 1000, 20);
  ingest1(db, cls, "city/a/s1/air", 0, b + 2000, 7);
  CHECK_OK(tsdb_sync(db));
  pubs p = {0};
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  CHECK_INT(p.n, ==, 0); /* still open */
  atomic_store(&fake_now, b + 60000 + 1000 + 1);
  ingest1(db, cls, "city/a/s2/air", 0, b + 60000 + 1000, 1); /* another topic; wakes the writer */
  CHECK_OK(tsdb_sync(db));
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  CHECK_INT(p.n, ==, 1);
  CHECK_STR(p.topics[0], "$tsdb/agg/1m/city/a/s1/air");
  CHECK(p.retain[0]);
  CHECK_MSG(
      strstr(p.payloads[0], "\"state\":\"final\"") &&
          strstr(p.payloads[0], "\"pm10_count\":2,\"pm10_min\":5,\"pm10_max\":7,\"pm10_mean\":6") &&
          strstr(p.payloads[0], "\"temp_count\":1,\"temp_min\":20"),
      "payload %s", p.payloads[0]);
  /* A late point for the finalized bucket: a correction with every field. */
  ingest1(db, cls, "city/a/s1/air", 0, b + 3000, 9);
  CHECK_OK(tsdb_sync(db));
  atomic_fetch_add(&fake_now, 1500);
  ingest1(db, cls, "city/a/s2/air", 0, b + 60000 + 2000, 1);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air", "\"state\":\"correction\"",
                         "\"pm10_count\":3", "\"temp_count\":1");
  close_db(db);
  tsdb_series_class_release(cls);
}

/* A dashboard sees partial updates while a bucket is open, the final at
 * end + grace, then a correction when a late point changes it; in that
 * order, with the right values after out-of-order points. */
TEST(partial_final_correction_in_order) {
  const int64_t base = 1795680000000; /* a minute boundary */
  atomic_store(&fake_now, base + 1000);
  partial_interval_ms = 5000;
  tsdb_db *db = open_db(unit_path("db"), true, 2000);
  static const char *const fields[] = {"pm10"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  pubs p = {0};
  ingest1(db, cls, "city/a/s1/air", 0, base + 500, 10);
  CHECK_OK(tsdb_sync(db));
  tsdb_serve_drain(serve_of(db), 100, collect_pub, &p);
  CHECK_INT(p.n, ==, 1);
  CHECK_MSG(
      strstr(p.payloads[0], "\"state\":\"partial\"") && strstr(p.payloads[0], "\"pm10_count\":1,"),
      "%s", p.payloads[0]);
  CHECK(p.retain[0]);
  /* Within the interval: changes are held back. */
  atomic_store(&fake_now, base + 3000);
  ingest1(db, cls, "city/a/s1/air", 0, base + 20000, 30); /* out of order below */
  ingest1(db, cls, "city/a/s1/air", 0, base + 10000, 20);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_serve_drain(serve_of(db), 100, collect_pub, &p);
  CHECK_INT(p.n, ==, 0);
  /* After it: one partial with all three points. */
  atomic_store(&fake_now, base + 7000);
  ingest1(db, cls, "city/a/s9/air", 0, base + 1, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air", "\"state\":\"partial\"",
                         "\"pm10_count\":3,\"pm10_min\":10,\"pm10_max\":30,"
                         "\"pm10_mean\":20,\"pm10_sum\":60,\"pm10_first\":10,"
                         "\"pm10_last\":30");
  /* The bucket ends at +60 s; final at +62 s (grace 2 s). */
  atomic_store(&fake_now, base + 62001);
  ingest1(db, cls, "city/a/s9/air", 0, base + 2, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air", "\"state\":\"final\"",
                         "\"pm10_count\":3,");
  /* A late point: no partial for the reopened bucket, a correction when it
   * closes again (grace after its last point). */
  ingest1(db, cls, "city/a/s1/air", 0, base + 40000, 70);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, base + 62001 + 10000);
  ingest1(db, cls, "city/a/s9/air", 0, base + 3, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air", "\"state\":\"correction\"",
                         "\"pm10_count\":4,\"pm10_min\":10,\"pm10_max\":70,");
  close_db(db);
  tsdb_series_class_release(cls);
  partial_interval_ms = 0;
}

TEST(open_buckets_recovered_after_reopen) {
  const char *path = unit_path("db");
  const int64_t base = 1795680030000;
  atomic_store(&fake_now, base);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  int64_t b = tsdb_bucket_floor(base, 60000);
  tsdb_db *db = open_db(path, true, 1000);
  ingest1(db, cls, "city/a/s1/air", 0, b + 1000, 1);
  ingest1(db, cls, "city/a/s1/air", 0, b + 2000, 2);
  CHECK_OK(tsdb_sync(db));
  close_db(db); /* the bucket is open: only a pending marker is on disk */

  db = open_db(path, true, 1000);
  ingest1(db, cls, "city/a/s1/air", 0, b + 3000, 3); /* continues the open bucket */
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, b + 60000 + 1001);
  ingest1(db, cls, "city/a/s9/air", 0, b + 61000, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air", "\"v_count\":3,\"v_min\":1,\"v_max\":3");
  close_db(db);
  tsdb_series_class_release(cls);
}

/* Open in-order buckets are covered by one global pending marker per
 * (tier, start) for every series (writer.c, "Pending markers"). Readers
 * must see each series' open bucket as pending (computed from raw data),
 * before and after a restart, and the restart must rebuild and finalize
 * the bucket of every series that has points in it, and no other. */
TEST(global_markers_cover_every_series_across_reopen) {
  const char *path = unit_path("db");
  const int64_t base = 1795680030000;
  atomic_store(&fake_now, base);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000, 3600000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 2, TSDB_DUP_LAST);
  int64_t b = tsdb_bucket_floor(base, 60000);
  tsdb_db *db = open_db(path, true, 1000);
  /* A series whose buckets are long final by the restart: not rebuilt. */
  ingest1(db, cls, "city/a/old/air", 0, b - 3 * 3600000, 9);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, base + 1500); /* its grace after its last point is over */
  ingest1(db, cls, "city/a/s8/air", 0, b + 500, 1);
  CHECK_OK(tsdb_sync(db)); /* finalizes it: its global markers go with the next batch */
  static const char *const topics[] = {"city/a/s1/air", "city/a/s2/air", "city/a/s3/air"};
  for (int i = 0; i < 3; i++)
    for (int k = 0; k <= i; k++) ingest1(db, cls, topics[i], 0, b + 1000 * (k + 1), 10 * (i + 1));
  CHECK_OK(tsdb_sync(db));
  static pubs p;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p); /* the old series' finals */
  uint32_t ids[3];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 3; i++) {
      CHECK_OK(tsdb_series_find(db, topics[i], "v", &ids[i]));
      for (int t = 0; t < 2; t++) {
        static buckets bs;
        bs.n = 0;
        CHECK_OK(
            tsdb_read_tier(db, ids[i], tiers[t], b - 86400000, b + 86400000, collect_bucket, &bs));
        CHECK_INT(bs.n, ==, 1);
        CHECK_INT(bs.b[0].count, ==, (uint64_t)(i + 1));
        CHECK(bs.b[0].min == 10 * (i + 1));
      }
    }
    if (round == 0) {
      close_db(db); /* open buckets: only the global markers are on disk */
      db = open_db(path, true, 1000);
    }
  }
  /* Past the 1m buckets' end and grace: each series' bucket is final. */
  atomic_store(&fake_now, b + 60000 + 1001);
  ingest1(db, cls, "city/a/s9/air", 0, b + 61000, 0);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  int finals = 0;
  for (int i = 0; i < p.n; i++) {
    if (strncmp(p.topics[i], "$tsdb/agg/1m/", 13)) continue;
    CHECK_MSG(strstr(p.topics[i], "/old/") == NULL, "%s was rebuilt: %s", p.topics[i],
              p.payloads[i]);
    for (int k = 0; k < 3; k++) {
      char count[32];
      snprintf(count, sizeof count, "\"v_count\":%d,", k + 1);
      if (!strcmp(p.topics[i] + 13, topics[k])) {
        CHECK_MSG(strstr(p.payloads[i], count) != NULL, "%s: %s", p.topics[i], p.payloads[i]);
        finals++;
      }
    }
  }
  CHECK_INT(finals, ==, 3);
  /* The 1m buckets are stored now, and read the same. */
  for (int i = 0; i < 3; i++) {
    static buckets bs;
    bs.n = 0;
    CHECK_OK(tsdb_read_tier(db, ids[i], 60000, b - 86400000, b + 60000, collect_bucket, &bs));
    CHECK_INT(bs.n, ==, 1);
    CHECK_INT(bs.b[0].count, ==, (uint64_t)(i + 1));
  }
  /* A bucket final before a restart while a sibling still held the global
   * marker (its last point came later) is rebuilt equal: not published
   * again, and no correction. */
  int64_t b2 = b + 60000;
  ingest1(db, cls, topics[0], 0, b2 + 100, 5);
  ingest1(db, cls, topics[1], 0, b2 + 200, 6);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, b2 + 60500);
  ingest1(db, cls, topics[1], 0, b2 + 59000, 7); /* s2's due: its last point + grace */
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, b2 + 61200); /* s1's bucket is due, s2's is not */
  ingest1(db, cls, "city/a/s9/air", 0, b2 + 61100, 0);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  close_db(db);
  db = open_db(path, true, 1000);
  atomic_store(&fake_now, b2 + 62000);
  ingest1(db, cls, "city/a/s9/air", 0, b2 + 61900, 0);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  int s2_finals = 0;
  char s1_topic[64], s2_topic[64];
  snprintf(s1_topic, sizeof s1_topic, "$tsdb/agg/1m/%s", topics[0]);
  snprintf(s2_topic, sizeof s2_topic, "$tsdb/agg/1m/%s", topics[1]);
  for (int i = 0; i < p.n; i++) {
    CHECK_MSG(strcmp(p.topics[i], s1_topic) != 0, "published again: %s", p.payloads[i]);
    if (!strcmp(p.topics[i], s2_topic)) {
      CHECK_MSG(strstr(p.payloads[i], "\"state\":\"final\"") != NULL, "%s", p.payloads[i]);
      s2_finals++;
    }
  }
  CHECK_INT(s2_finals, ==, 1);
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.corrections, ==, 0);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* Every bucket of a tier, read back, equals the naive aggregate of the raw
 * points; returns how many buckets there were. */
static size_t check_tier_exact(tsdb_db *db, uint32_t id, int64_t tier_ms, const collected *c,
                               int64_t from, int64_t to) {
  static buckets got;
  got.n = 0;
  CHECK_OK(tsdb_read_tier(db, id, tier_ms, from, to, collect_bucket, &got));
  size_t k = 0;
  for (int64_t b = tsdb_bucket_floor(from, tier_ms); b < to; b += tier_ms) {
    tsdb_aggregate want = naive(c, b, b + tier_ms);
    if (want.count == 0) continue;
    CHECK_MSG(k < got.n, "tier %lld: missing bucket %lld", (long long)tier_ms, (long long)b);
    check_same_aggregate(&got.b[k], &want);
    k++;
  }
  CHECK_INT(got.n, ==, k);
  return k;
}

/* A database whose writer gathers for a second (a burst or a round
 * between tsdb_sync() calls is one take), on the fake clock. */
static tsdb_db *open_bulk_db(void) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = unit_path("db");
  o.queue_bytes = 16 << 20;
  o.flush_interval_ms = 1000;
  o.grace_ms = 1000;
  o.clock_fn = fake_clock;
  return open_db_with(&o, NULL);
}

/* One field "v", tiers 1m and 15m, last write wins. */
static tsdb_series_class *bulk_class(void) {
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000, 900000};
  return make_class(fields, 1, tiers, 2, TSDB_DUP_LAST);
}

/* The id of field "v" of city/<district>/s<i>/air. */
static uint32_t bulk_series(tsdb_db *db, const char *district, int i) {
  char topic[64];
  snprintf(topic, sizeof topic, "city/%s/s%d/air", district, i);
  uint32_t id = 0;
  CHECK_OK(tsdb_series_find(db, topic, "v", &id));
  return id;
}

/* Passes that finalize thousands of buckets, then fewer, then more again,
 * each pass one station catching up on minutes of data: the writer's sort
 * scratch is swapped, trimmed and regrown between passes. (A bulk import
 * once crashed the writer in sort_finals when the two scratch vectors had
 * drifted apart in size; that needs passes back to back, which this test
 * cannot force: bench/fieldbench's query load is the one that found it.) */
TEST(bulk_passes_of_changing_sizes_finalize_every_bucket) {
  const int64_t t0 = 1795680000000 - 30 * 86400000LL;
  atomic_store(&fake_now, 1795680000000);
  /* a round is one pass: tsdb_sync() ends the window */
  tsdb_db *db = open_bulk_db();
  tsdb_series_class *cls = bulk_class();
  static const int sizes[] = {6000, 3000, 2500, 7000, 3500, 100, 3200, 3100, 5000, 2000};
  enum { ROUNDS = sizeof sizes / sizeof sizes[0] };
  static tsdb_point pts[7000];
  for (int r = 0; r < ROUNDS; r++) {
    /* One point a minute: every point finalizes the minute before it. */
    for (int i = 0; i < sizes[r]; i++) pts[i] = (tsdb_point){t0 + (int64_t)i * 60000, i % 97, 0};
    char topic[64];
    snprintf(topic, sizeof topic, "city/bulk/s%d/air", r);
    tsdb_ingest_msg m = {.cls = cls,
                         .topic = topic,
                         .topic_len = strlen(topic),
                         .points = pts,
                         .npoints = (size_t)sizes[r]};
    CHECK_OK(tsdb_ingest(db, &m));
    CHECK_OK(tsdb_sync(db));
  }
  close_db(db); /* what stays open is marked pending and read from raw data */
  db = open_db(unit_path("db"), true, 1000);
  for (int r = 0; r < ROUNDS; r++) {
    uint32_t id = bulk_series(db, "bulk", r);
    static buckets bs;
    bs.n = 0;
    CHECK_OK(
        tsdb_read_tier(db, id, 900000, t0, t0 + (int64_t)sizes[r] * 60000, collect_bucket, &bs));
    CHECK_INT(bs.n, ==, (size_t)(sizes[r] + 14) / 15);
    uint64_t points = 0;
    for (size_t k = 0; k < bs.n; k++) points += bs.b[k].count;
    CHECK_INT(points, ==, (uint64_t)sizes[r]);
  }
  close_db(db);
  tsdb_series_class_release(cls);
}

/* A burst taken from the queue at once is written in several passes of
 * whole messages (writer.c, PASS_OPENED); a durable push behind it returns
 * once its own pass is written, and nothing is lost between the passes. */
TEST(a_burst_is_written_in_passes_of_whole_messages) {
  const int64_t t0 = 1795680000000 - 30 * 86400000LL;
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_bulk_db(); /* the whole burst is one take */
  tsdb_series_class *cls = bulk_class();
  enum { SERIES = 3, MESSAGES = 4, PER_MESSAGE = 1000 };
  static tsdb_point pts[PER_MESSAGE];
  /* Interleaved: each message opens a 1-minute bucket per point. */
  for (int m = 0; m < MESSAGES; m++) {
    for (int s = 0; s < SERIES; s++) {
      for (int i = 0; i < PER_MESSAGE; i++) {
        int k = m * PER_MESSAGE + i;
        pts[i] = (tsdb_point){t0 + (int64_t)k * 60000, (double)(k % 89 + s), 0};
      }
      char topic[64];
      snprintf(topic, sizeof topic, "city/burst/s%d/air", s);
      tsdb_ingest_msg msg = {.cls = cls,
                             .topic = topic,
                             .topic_len = strlen(topic),
                             .points = pts,
                             .npoints = PER_MESSAGE};
      CHECK_OK(tsdb_ingest(db, &msg));
    }
  }
  tsdb_point last = {t0, 1.0, 0};
  tsdb_ingest_msg durable = {
      .cls = cls, .topic = "city/burst/late/air", .topic_len = 19, .points = &last, .npoints = 1};
  CHECK_OK(tsdb_ingest_durable(db, &durable));
  CHECK_OK(tsdb_sync(db));
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.points_written, ==, (uint64_t)(SERIES * MESSAGES * PER_MESSAGE + 1));
  /* 12 000 buckets opened: at least three passes. */
  CHECK_INT(st.batches, >=, 3);
  CHECK_INT(st.write_errors, ==, 0);
  close_db(db);
  db = open_db(unit_path("db"), true, 1000);
  for (int s = 0; s < SERIES; s++) {
    uint32_t id = bulk_series(db, "burst", s);
    static buckets bs;
    bs.n = 0;
    const int64_t end = t0 + (int64_t)MESSAGES * PER_MESSAGE * 60000;
    CHECK_OK(tsdb_read_tier(db, id, 60000, t0, end, collect_bucket, &bs));
    CHECK_INT(bs.n, ==, (size_t)(MESSAGES * PER_MESSAGE));
    for (size_t k = 0; k < bs.n; k++) {
      CHECK_INT(bs.b[k].start_ms, ==, t0 + (int64_t)k * 60000);
      CHECK_INT(bs.b[k].count, ==, 1);
      CHECK(bs.b[k].sum == (double)((int)k % 89 + s));
    }
    bs.n = 0;
    CHECK_OK(tsdb_read_tier(db, id, 900000, t0, end, collect_bucket, &bs));
    uint64_t points = 0;
    for (size_t k = 0; k < bs.n; k++) points += bs.b[k].count;
    CHECK_INT(points, ==, (uint64_t)(MESSAGES * PER_MESSAGE));
  }
  close_db(db);
  tsdb_series_class_release(cls);
}

typedef struct raw_points {
  size_t n;
  int64_t *ts;
  double *v;
} raw_points;

static int collect_raw(void *ud, int64_t ts, double v) {
  raw_points *r = ud;
  r->ts[r->n] = ts;
  r->v[r->n] = v;
  r->n++;
  return 0;
}

/* The reject policy on a backlog: one message of late points spanning three
 * blocks repeats stored points and its own points. Exactly the repeats are
 * refused, and the first value of each timestamp stays. */
TEST(reject_policy_backlog_refuses_exactly_the_repeats) {
  atomic_store(&fake_now, 1795680000000);
  const int64_t t0 = 1795680000000 - 10 * 86400000LL;
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_REJECT);
  enum { N = 25000 }; /* every 10 s: about 2.9 days */
  static tsdb_point pts[3 * N];
  for (int i = 0; i < N; i++) pts[i] = (tsdb_point){t0 + (int64_t)i * 10000, i, 0};
  tsdb_ingest_msg m = {
      .cls = cls, .topic = "city/senml/s1/air", .topic_len = 17, .points = pts, .npoints = N};
  CHECK_OK(tsdb_ingest(db, &m));
  CHECK_OK(tsdb_sync(db));
  /* The backlog, newest first: new timestamps 5 s after each stored one,
   * every 7th stored timestamp again, every 11th new one again. */
  size_t n = 0, repeats = 0;
  for (int i = N - 1; i >= 0; i--) {
    pts[n++] = (tsdb_point){t0 + (int64_t)i * 10000 + 5000, -i, 0};
    if (i % 7 == 0) pts[n++] = (tsdb_point){t0 + (int64_t)i * 10000, 1e6, 0}, repeats++;
    if (i % 11 == 0) pts[n++] = (tsdb_point){t0 + (int64_t)i * 10000 + 5000, 2e6, 0}, repeats++;
  }
  m.points = pts;
  m.npoints = n;
  CHECK_OK(tsdb_ingest(db, &m));
  CHECK_OK(tsdb_sync(db));
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.duplicates_rejected, ==, repeats);
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/senml/s1/air", "v", &id));
  static int64_t ts[2 * N + 1];
  static double v[2 * N + 1];
  raw_points r = {0, ts, v};
  CHECK_OK(tsdb_read_raw(db, id, t0, t0 + (int64_t)N * 10000, collect_raw, &r));
  CHECK_INT(r.n, ==, (size_t)(2 * N));
  for (int i = 0; i < N; i++) {
    CHECK_INT(ts[2 * i], ==, t0 + (int64_t)i * 10000);
    CHECK(v[2 * i] == i);
    CHECK_INT(ts[2 * i + 1], ==, t0 + (int64_t)i * 10000 + 5000);
    CHECK(v[2 * i + 1] == -i);
  }
  close_db(db);
  tsdb_series_class_release(cls);
}

/* A series the writer has not seen for a while loses its in-memory state;
 * its next points, late or new, rebuild it from the store: rollups stay
 * exact and only the newest bucket's publication is retained. */
TEST(idle_series_state_is_dropped_and_rebuilt) {
  const int64_t minute = 60000;
  const int64_t base = 1795680000000 - 1795680000000 % minute;
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000, 600000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 2, TSDB_DUP_LAST);
  for (int i = 0; i < 30; i++) ingest1(db, cls, "city/q/s1/air", 0, base + i * 10000, i);
  CHECK_OK(tsdb_sync(db));
  /* Twenty minutes pass; another series keeps the writer busy. */
  for (int k = 1; k <= 20; k++) {
    atomic_store(&fake_now, base + k * minute);
    ingest1(db, cls, "city/q/keep/air", 0, base + k * minute, k);
    CHECK_OK(tsdb_sync(db));
  }
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.series_active, ==, 1);
  CHECK_INT(st.sources_cached, ==, 1);
  CHECK_INT(st.open_buckets, <=, 4); /* only the busy series: two of each tier */
  pubs p = {0};
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  /* A late point in a closed bucket, and a new one. */
  int64_t now = base + 21 * minute;
  atomic_store(&fake_now, now);
  ingest1(db, cls, "city/q/s1/air", 0, base + 5000, 100);
  ingest1(db, cls, "city/q/s1/air", 0, now, 7);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, now + 2 * minute);
  ingest1(db, cls, "city/q/keep/air", 0, now + 2 * minute, 0);
  CHECK_OK(tsdb_sync(db));
  collected all = {0};
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/q/s1/air", "v", &id));
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &all));
  CHECK_INT(all.n, ==, 32);
  check_tier_exact(db, id, 60000, &all, base, now + minute);
  check_tier_exact(db, id, 600000, &all, base, now + minute);
  memset(&p, 0, sizeof p);
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  int corrections = 0, finals = 0;
  for (int i = 0; i < p.n; i++) {
    if (strcmp(p.topics[i], "$tsdb/agg/1m/city/q/s1/air")) continue;
    if (strstr(p.payloads[i], "\"state\":\"correction\"")) {
      corrections++;
      CHECK(!p.retain[i]); /* an old bucket must not hide the newest */
    } else if (strstr(p.payloads[i], "\"state\":\"final\"")) {
      finals++;
      CHECK(p.retain[i]);
    }
  }
  CHECK_INT(corrections, ==, 1);
  CHECK_INT(finals, ==, 1);
  collected_free(&all);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* A new schema version that adds tiers: the tiers answer exactly at once
 * (from finer data while the writer builds them), the writer backfills
 * their history into stored blocks, and a dropped tier's blocks go. */
TEST(tiers_a_schema_adds_are_backfilled) {
  const int64_t hour = 3600000;
  const int64_t base = 1795680000000 - 1795680000000 % hour;
  const char *path = unit_path("db");
  atomic_store(&fake_now, base);
  static const char *const fields[] = {"v"};
  static const int64_t tiers_v1[] = {60000, 300000};
  static const int64_t tiers_v2[] = {60000, 600000, 3600000};
  tsdb_series_class *v1 = make_class_version(fields, 1, tiers_v1, 2, TSDB_DUP_LAST, 1);
  tsdb_series_class *v2 = make_class_version(fields, 1, tiers_v2, 3, TSDB_DUP_LAST, 2);
  tsdb_db *db = open_db(path, true, 1000);
  uint64_t seed = 7;
  int64_t t0 = base - 30 * hour;
  for (int64_t t = t0; t < base; t += 20000) {
    if (unit_rand(&seed) % 1000 < 2) t += (int64_t)(unit_rand(&seed) % 180) * 20000;
    ingest1(db, v1, "city/b/s1/air", 0, t, (double)(int64_t)(unit_rand(&seed) % 5000) / 10.0);
  }
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, base + 5000); /* everything is due */
  ingest1(db, v1, "city/b/s2/air", 0, base + 1000, 1);
  CHECK_OK(tsdb_sync(db));
  uint32_t id;
  CHECK_OK(tsdb_series_find(db, "city/b/s1/air", "v", &id));
  collected c = {0};
  CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
  close_db(db);

  atomic_store(&fake_now, base + hour / 2);
  db = open_db(path, true, 1000);
  ingest1(db, v2, "city/b/s1/air", 0, base + hour / 2, 42.5);
  CHECK_OK(tsdb_sync(db));
  CHECK_OK(collect_point(&c, base + hour / 2, 42.5));
  /* Exact whether or not the backfill has finished. */
  CHECK_INT(check_tier_exact(db, id, 600000, &c, t0, base + hour), >, 100);
  CHECK_INT(check_tier_exact(db, id, 3600000, &c, t0, base + hour), >, 15);
  tsdb_stats st;
  for (int i = 0; i < 10000; i++) {
    tsdb_stats_get(db, &st);
    if (st.backfills_pending == 0) break;
    usleep(1000);
  }
  CHECK_INT(st.backfills_pending, ==, 0);
  close_db(db);

  /* After a reopen the descriptors say complete, so reads use only the stored
   * blocks of the new tiers; the 5-minute tier's blocks are gone. */
  db = open_db(path, true, 1000);
  tsdb_series_params sp;
  CHECK_OK(tsdb_catalog__params(&db->env.catalog, id, &sp));
  CHECK_INT(sp.ntiers, ==, 3);
  for (size_t t = 0; t < sp.ntiers; t++) CHECK_INT(sp.tier_complete_from[t], ==, INT64_MIN);
  check_tier_exact(db, id, 600000, &c, t0, base + hour);
  check_tier_exact(db, id, 3600000, &c, t0, base + hour);
  check_tier_exact(db, id, 60000, &c, t0, base + hour);
  uint8_t lo[TSDB_AGG_KEY_LEN], hi[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(lo, id, 300, INT64_MIN);
  tsdb_key__agg(hi, id, 300, INT64_MAX);
  tsdb_store_iter *it;
  CHECK_OK(
      tsdb_store__iter_open(db->env.store, NULL, TSDB_CF_AGG, lo, sizeof lo, hi, sizeof hi, &it));
  CHECK(!tsdb_store__iter_valid(it));
  tsdb_store__iter_close(it);
  tsdb_key__agg(lo, id, 600, INT64_MIN);
  tsdb_key__agg(hi, id, 600, INT64_MAX);
  CHECK_OK(
      tsdb_store__iter_open(db->env.store, NULL, TSDB_CF_AGG, lo, sizeof lo, hi, sizeof hi, &it));
  CHECK(tsdb_store__iter_valid(it));
  tsdb_store__iter_close(it);
  collected_free(&c);
  close_db(db);
  tsdb_series_class_release(v1);
  tsdb_series_class_release(v2);
}

/* The child of the SIGKILL test, started with exec (a fork alone would
 * inherit RocksDB's thread pool without its threads): ingests batches of 500
 * points forever, and after every third it waits for tsdb_sync() and writes
 * the batch number to the file descriptor it was given. */
UNIT_HELPER(sigkill_writer) {
  if (argc != 2) return 2;
  const char *path = argv[0];
  int fd = atoi(argv[1]);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {10000, 60000};
  const int64_t t0 = 1795600000000;
  tsdb_db *db = open_db(path, false, 1000);
  tsdb_series_class *cls = make_class(fields, 1, tiers, 2, TSDB_DUP_LAST);
  static tsdb_point pts[500];
  for (int batch = 0;; batch++) {
    for (int i = 0; i < 500; i++)
      pts[i] = (tsdb_point){t0 + (int64_t)batch * 500000 + i * 1000, batch + i * 0.5, 0};
    tsdb_ingest_msg m = {
        .cls = cls, .topic = "city/k/s1/air", .topic_len = 13, .points = pts, .npoints = 500};
    while (tsdb_ingest(db, &m) == TSDB_EFULL) usleep(100);
    if (batch % 3 == 0) {
      tsdb_sync(db);
      if (write(fd, &batch, sizeof batch) != sizeof batch) return 3;
    }
  }
}

/*
 * A writer process is killed with SIGKILL while it ingests (see the helper
 * above). After the kill the parent opens the store: it must open, hold
 * every acknowledged batch exactly, and its rollups must equal a naive
 * recomputation of whatever raw points survived.
 */
TEST(sigkill_mid_batch_loses_no_acknowledged_batch) {
  static const int64_t tiers[] = {10000, 60000};
  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  CHECK(sl > 0);
  self[sl] = 0;
  for (int trial = 0; trial < 5; trial++) {
    char name[32];
    snprintf(name, sizeof name, "db%d", trial);
    char path[4200];
    snprintf(path, sizeof path, "%s", unit_path(name));
    int fds[2];
    CHECK(pipe(fds) == 0);
    const int64_t t0 = 1795600000000;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      char fd[16];
      snprintf(fd, sizeof fd, "%d", fds[1]);
      execl(self, self, "--helper", "sigkill_writer", path, fd, (char *)NULL);
      _exit(127);
    }
    close(fds[1]);
    uint64_t seed = 1000 + (uint64_t)trial;
    int wanted = 3 + (int)(unit_rand(&seed) % 40), acked = -1, b;
    while (acked < wanted && read(fds[0], &b, sizeof b) == sizeof b) acked = b;
    usleep((useconds_t)(unit_rand(&seed) % 3000)); /* somewhere inside a later batch */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (read(fds[0], &b, sizeof b) == sizeof b) acked = b;
    close(fds[0]);
    CHECK_MSG(acked >= 0, "the writer acknowledged nothing (status %d)", status);

    tsdb_db *db = open_db(path, false, 1000);
    uint32_t id;
    CHECK_OK(tsdb_series_find(db, "city/k/s1/air", "v", &id));
    collected c = {0};
    CHECK_OK(tsdb_read_raw(db, id, INT64_MIN, INT64_MAX, collect_point, &c));
    CHECK_MSG(c.n >= (size_t)(acked + 1) * 500, "trial %d: %zu points, %d batches acknowledged",
              trial, c.n, acked + 1);
    for (size_t i = 0; i < c.n; i++) {
      int64_t k = (c.ts[i] - t0) / 1000;
      CHECK_INT(c.ts[i], ==, t0 + (int64_t)i * 1000); /* a prefix, no holes */
      CHECK_BITS(c.v[i], (double)(k / 500) + (double)(k % 500) * 0.5);
    }
    for (int ti = 0; ti < 2; ti++) {
      static buckets bs;
      bs.n = 0;
      CHECK_OK(tsdb_read_tier(db, id, tiers[ti], INT64_MIN, INT64_MAX, collect_bucket, &bs));
      size_t k = 0;
      for (int64_t bk = tsdb_bucket_floor(t0, tiers[ti]); bk <= c.ts[c.n - 1]; bk += tiers[ti]) {
        tsdb_aggregate want = naive(&c, bk, bk + tiers[ti]);
        if (!want.count) continue;
        CHECK(k < bs.n);
        check_same_aggregate(&bs.b[k], &want);
        k++;
      }
      CHECK_INT(bs.n, ==, k);
    }
    collected_free(&c);
    close_db(db);
  }
}

typedef struct long_pub {
  int n;
  size_t topic_len;
  bool topic_ok;
} long_pub;

static const char *long_pub_want;

static void collect_long_pub(void *ud, const tsdb_result *r) {
  long_pub *lp = ud;
  if (r->kind != TSDB_RESULT_PUBLISH) return;
  lp->n++;
  lp->topic_len = strlen(r->topic);
  lp->topic_ok = !strcmp(r->topic, long_pub_want);
}

/* A topic of any length MQTT allows has its live aggregates on
 * $tsdb/agg/<tier>/<topic> (a fixed 1 KB buffer once left topics past it
 * without any, found by fuzz_control's long topic). */
TEST(aggregates_of_a_long_topic_are_published) {
  const int64_t base = 1795680000000;
  atomic_store(&fake_now, base);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"pm10"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  static char topic[3000], want[3100];
  memset(topic, 's', sizeof topic - 1);
  memcpy(topic, "city/a/", 7);
  memcpy(topic + sizeof topic - 5, "/air", 5); /* city/a/sss.../air: 2 999 bytes */
  snprintf(want, sizeof want, "$tsdb/agg/1m/%s", topic);
  long_pub_want = want;
  int64_t b = tsdb_bucket_floor(base, 60000);
  ingest1(db, cls, topic, 0, b + 1000, 5);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, b + 60000 + 1000 + 1);
  ingest1(db, cls, "city/a/s2/air", 0, b + 60000 + 1000, 1); /* wakes the writer */
  CHECK_OK(tsdb_sync(db));
  long_pub lp = {0};
  tsdb_serve_drain(serve_of(db), 1000, collect_long_pub, &lp);
  CHECK_INT(lp.n, ==, 1);
  CHECK_INT(lp.topic_len, ==, strlen(want));
  CHECK(lp.topic_ok);
  close_db(db);
  tsdb_series_class_release(cls);
}
