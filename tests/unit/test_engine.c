/* Engine tests: no broker, a real RocksDB in a fresh temporary directory. */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agg.h"
#include "aggblock.h"
#include "block.h"
#include "codec.h"
#include "db.h"
#include "keys.h"
#include "hashmap.h"
#include "strbuf.h"
#include "timeutil.h"
#include "tsdb/topic.h"
#include "tsdb/serve.h"
#include "tsdb/tsdb.h"
#include "unit.h"

/* ---- helpers ---- */

static _Atomic int64_t fake_now;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return atomic_load(&fake_now);
}

static uint32_t partial_interval_ms; /* 0 (off) unless a test sets it */

static tsdb_db *open_db(const char *path, bool fake_time, uint32_t grace_ms) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.partial_interval_ms = partial_interval_ms;
  o.path = path;
  o.queue_bytes = 1 << 20;
  o.flush_interval_ms = 1;
  o.grace_ms = grace_ms;
  o.bucket_fn = tsdb_serve_publish_bucket;
  if (fake_time) o.clock_fn = fake_clock;
  tsdb_db *db = NULL;
  char err[256];
  int rc = tsdb_open(&o, &db, err, sizeof err);
  CHECK_MSG(rc == 0, "tsdb_open: %s", err);
  return db;
}

static tsdb_series_class *make_class_version(const char *const *fields, size_t nfields,
                                             const int64_t *tiers, size_t ntiers, int dup,
                                             uint32_t version) {
  static const char *const units[] = {"ug/m3", "Cel", "%RH", "hPa"};
  tsdb_series_class_desc d = {
      .schema_id = "test",
      .schema_version = version,
      .topic_template = "city/{district}/{station}/air",
      .nfields = nfields,
      .field_names = fields,
      .units = units,
      .ntiers = ntiers,
      .tiers_ms = tiers,
      .dup_policy = dup,
      .block_span_ms = 3600000, /* one hour: blocks get crossed in the tests */
  };
  tsdb_series_class *cls = NULL;
  CHECK_OK(tsdb_series_class_create(&d, &cls));
  return cls;
}

static tsdb_series_class *make_class(const char *const *fields, size_t nfields,
                                     const int64_t *tiers, size_t ntiers, int dup) {
  return make_class_version(fields, nfields, tiers, ntiers, dup, 1);
}

static void ingest1(tsdb_db *db, tsdb_series_class *cls, const char *topic, uint32_t field,
                    int64_t ts, double v) {
  tsdb_point p = {ts, v, field};
  tsdb_ingest_msg m = {.cls = cls, .topic = topic, .topic_len = strlen(topic), .points = &p, .npoints = 1};
  int rc;
  while ((rc = tsdb_ingest(db, &m)) == TSDB_EFULL) usleep(1000);
  CHECK_OK(rc);
}

typedef struct collected {
  size_t n, cap;
  int64_t *ts;
  double *v;
} collected;

static int collect_point(void *ud, int64_t ts, double v) {
  collected *c = ud;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->ts = realloc(c->ts, c->cap * sizeof *c->ts);
    c->v = realloc(c->v, c->cap * sizeof *c->v);
  }
  c->ts[c->n] = ts;
  c->v[c->n] = v;
  c->n++;
  return 0;
}

static void collected_free(collected *c) {
  free(c->ts);
  free(c->v);
  memset(c, 0, sizeof *c);
}

typedef struct buckets {
  size_t n;
  tsdb_aggregate b[4096];
} buckets;

static int collect_bucket(void *ud, const tsdb_aggregate *a) {
  buckets *bs = ud;
  CHECK(bs->n < 4096);
  bs->b[bs->n++] = *a;
  return 0;
}

/* Naive aggregate of points (ascending, unique timestamps) in [from, to). */
static tsdb_aggregate naive(const collected *c, int64_t from, int64_t to) {
  tsdb_aggregate a;
  memset(&a, 0, sizeof a);
  a.start_ms = from;
  double sum = 0, sumsq = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (c->ts[i] < from || c->ts[i] >= to) continue;
    double v = c->v[i];
    if (a.count == 0) {
      a.min = a.max = a.first = v;
      a.first_ts = c->ts[i];
    }
    a.count++;
    sum += v;
    sumsq += v * v;
    if (v < a.min) a.min = v;
    if (v > a.max) a.max = v;
    a.last = v;
    a.last_ts = c->ts[i];
  }
  if (a.count) {
    a.sum = sum;
    a.mean = sum / (double)a.count;
    double var = sumsq / (double)a.count - a.mean * a.mean;
    a.stddev = var > 0 ? sqrt(var) : 0;
  }
  return a;
}

static void check_same_aggregate(const tsdb_aggregate *got, const tsdb_aggregate *want) {
  CHECK_INT(got->start_ms, ==, want->start_ms);
  CHECK_INT(got->count, ==, want->count);
  CHECK_BITS(got->min, want->min);
  CHECK_BITS(got->max, want->max);
  CHECK_BITS(got->first, want->first);
  CHECK_BITS(got->last, want->last);
  CHECK_INT(got->first_ts, ==, want->first_ts);
  CHECK_INT(got->last_ts, ==, want->last_ts);
  CHECK_NEAR(got->sum, want->sum, 1e-12);
  CHECK_NEAR(got->mean, want->mean, 1e-12);
  CHECK_NEAR(got->stddev, want->stddev, 1e-6);
}

/* ---- pure modules ---- */

TEST(duration_parse_and_format) {
  int64_t ms;
  CHECK_OK(tsdb_duration_parse("10s", &ms));
  CHECK_INT(ms, ==, 10000);
  CHECK_OK(tsdb_duration_parse("15m", &ms));
  CHECK_INT(ms, ==, 900000);
  CHECK_OK(tsdb_duration_parse("1d", &ms));
  CHECK_INT(ms, ==, 86400000);
  CHECK_OK(tsdb_duration_parse("250ms", &ms));
  CHECK_INT(ms, ==, 250);
  const char *bad[] = {"", "0s", "-1s", "1", "1x", "s", "1s ", " 1s", "99999999999999999999d", "1.5h"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(tsdb_duration_parse(bad[i], &ms) != 0, "'%s' should not parse", bad[i]);
  char buf[32];
  CHECK_STR(tsdb_duration_format(60000, buf, sizeof buf), "1m");
  CHECK_STR(tsdb_duration_format(90000, buf, sizeof buf), "90s");
  CHECK_STR(tsdb_duration_format(86400000, buf, sizeof buf), "1d");
  CHECK_STR(tsdb_duration_format(1500, buf, sizeof buf), "1500ms");
}

TEST(bucket_floor_handles_negative_times) {
  CHECK_INT(tsdb_bucket_floor(125, 60), ==, 120);
  CHECK_INT(tsdb_bucket_floor(120, 60), ==, 120);
  CHECK_INT(tsdb_bucket_floor(-1, 60), ==, -60);
  CHECK_INT(tsdb_bucket_floor(-60, 60), ==, -60);
  CHECK_INT(tsdb_bucket_floor(-61, 60), ==, -120);
}

TEST(rfc3339_format) {
  char buf[64];
  tsdb_time__format_rfc3339(1795684546014, buf);
  CHECK_STR(buf, "2026-11-26T09:15:46.014Z");
  tsdb_time__format_rfc3339(0, buf);
  CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
  tsdb_time__format_rfc3339(-1, buf);
  CHECK_STR(buf, "1969-12-31T23:59:59.999Z");
  tsdb_time__format_rfc3339(951782400000, buf); /* leap day 2000 */
  CHECK_STR(buf, "2000-02-29T00:00:00.000Z");
}

TEST(topic_template_matching) {
  tsdb_topic_template *t;
  char err[128];
  CHECK_OK(tsdb_topic_template_compile("city/{district}/{station}/air", &t, err, sizeof err));
  tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
  const char *topic = "city/mitte/s17/air";
  CHECK(tsdb_topic_template_match(t, topic, strlen(topic), caps));
  CHECK_INT(tsdb_topic_template_ncaptures(t), ==, 2);
  CHECK_STR(tsdb_topic_template_capture_name(t, 0), "district");
  CHECK(caps[0].len == 5 && !memcmp(topic + caps[0].offset, "mitte", 5));
  CHECK(caps[1].len == 3 && !memcmp(topic + caps[1].offset, "s17", 3));
  const char *no[] = {"city/mitte/s17", "city/mitte/s17/air/x", "city//s17/air", "town/a/b/air",
                      "city/a/b/water"};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    CHECK_MSG(!tsdb_topic_template_match(t, no[i], strlen(no[i]), NULL), "%s matched", no[i]);
  tsdb_topic_template_free(t);

  CHECK_OK(tsdb_topic_template_compile("v3/{app}@{tenant}/devices/{device}/up", &t, err, sizeof err));
  topic = "v3/city-air@ttn/devices/aq-0042/up";
  CHECK(tsdb_topic_template_match(t, topic, strlen(topic), caps));
  CHECK(caps[0].len == 8 && !memcmp(topic + caps[0].offset, "city-air", 8));
  CHECK(caps[1].len == 3 && !memcmp(topic + caps[1].offset, "ttn", 3));
  CHECK(caps[2].len == 7 && !memcmp(topic + caps[2].offset, "aq-0042", 7));
  topic = "v3/city-air/devices/aq-0042/up"; /* no tenant */
  CHECK(!tsdb_topic_template_match(t, topic, strlen(topic), caps));
  tsdb_topic_template_free(t);

  CHECK_OK(tsdb_topic_template_compile("senml/+/#", &t, err, sizeof err));
  CHECK(tsdb_topic_template_match(t, "senml/a", 7, NULL));
  CHECK(tsdb_topic_template_match(t, "senml/a/b/c", 11, NULL));
  CHECK(!tsdb_topic_template_match(t, "senml", 5, NULL));
  tsdb_topic_template_free(t);

  const char *bad[] = {"", "a/{x", "a/{1x}", "a/{x}/{x}", "a/#/b", "a/{x}{y}", "a/b+c"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    CHECK_MSG(tsdb_topic_template_compile(bad[i], &t, err, sizeof err) == TSDB_EINVAL,
              "'%s' compiled", bad[i]);
    CHECK(err[0] != 0);
  }
}

TEST(topic_filter_matching) {
  CHECK(tsdb_topic_filter_match("city/+/s17/air", "city/mitte/s17/air"));
  CHECK(tsdb_topic_filter_match("city/#", "city/mitte/s17/air"));
  CHECK(tsdb_topic_filter_match("city/#", "city"));
  CHECK(tsdb_topic_filter_match("#", "city/x"));
  CHECK(!tsdb_topic_filter_match("#", "$SYS/x"));
  CHECK(!tsdb_topic_filter_match("+/x", "$tsdb/x"));
  CHECK(tsdb_topic_filter_match("$tsdb/#", "$tsdb/agg/1m/a"));
  CHECK(tsdb_topic_filter_match("a/+", "a/"));
  CHECK(!tsdb_topic_filter_match("a/+", "a/b/c"));
  CHECK(!tsdb_topic_filter_match("a/b", "a/bc"));
  CHECK(!tsdb_topic_filter_match("a/bc", "a/b"));
  CHECK(tsdb_topic_filter_valid("a/+/#"));
  CHECK(!tsdb_topic_filter_valid("a/b#"));
  CHECK(!tsdb_topic_filter_valid("a/#/b"));
  CHECK(!tsdb_topic_filter_valid("a+/b"));
}

TEST(hashmap_random_operations) {
  tsdb_map m;
  tsdb_map__init(&m);
  enum { N = 5000 };
  static char keys[N][16];
  static bool present[N];
  uint64_t seed = 42;
  for (int round = 0; round < 40000; round++) {
    int k = (int)(unit_rand(&seed) % N);
    if (!keys[k][0]) snprintf(keys[k], sizeof keys[k], "key-%d", k);
    size_t len = strlen(keys[k]);
    if (unit_rand(&seed) % 3) {
      CHECK_OK(tsdb_map__put(&m, keys[k], len, keys[k]));
      present[k] = true;
    } else {
      void *v = tsdb_map__remove(&m, keys[k], len);
      CHECK((v != NULL) == present[k]);
      present[k] = false;
    }
  }
  size_t count = 0;
  for (int k = 0; k < N; k++) {
    if (!keys[k][0]) continue;
    void *v = tsdb_map__get(&m, keys[k], strlen(keys[k]));
    CHECK((v != NULL) == present[k]);
    count += present[k];
  }
  CHECK_INT(m.count, ==, count);
  /* Removing nearly everything, then shrinking, keeps every survivor. */
  size_t cap = m.cap, kept = 0;
  for (int k = 0; k < N; k++) {
    if (!present[k] || k % 50 == 0) continue;
    tsdb_map__remove(&m, keys[k], strlen(keys[k]));
    present[k] = false;
  }
  tsdb_map__shrink(&m);
  CHECK_INT(m.cap, <, cap);
  for (int k = 0; k < N; k++) {
    if (!keys[k][0]) continue;
    CHECK((tsdb_map__get(&m, keys[k], strlen(keys[k])) != NULL) == present[k]);
    kept += present[k];
  }
  CHECK_INT(m.count, ==, kept);
  tsdb_map__free(&m);
}

TEST(agg_merge_equals_sequential) {
  uint64_t seed = 7;
  for (int round = 0; round < 200; round++) {
    size_t n = 1 + unit_rand(&seed) % 200;
    tsdb_agg all, parts[4];
    tsdb_agg__init(&all);
    for (int p = 0; p < 4; p++) tsdb_agg__init(&parts[p]);
    for (size_t i = 0; i < n; i++) {
      double v = (double)(int64_t)(unit_rand(&seed) % 20001 - 10000) / 10.0;
      int64_t ts = (int64_t)i * 1000;
      tsdb_agg__add(&all, ts, v);
      tsdb_agg__add(&parts[unit_rand(&seed) % 4], ts, v);
    }
    tsdb_agg merged;
    tsdb_agg__init(&merged);
    int order[4] = {2, 0, 3, 1};
    for (int p = 0; p < 4; p++) tsdb_agg__merge(&merged, &parts[order[p]]);
    tsdb_aggregate a, b;
    tsdb_agg__view(&all, 0, &a);
    tsdb_agg__view(&merged, 0, &b);
    check_same_aggregate(&b, &a);
    /* Encoding round-trips exactly. */
    uint8_t buf[TSDB_AGG_MAX_ENCODED];
    tsdb_agg dec;
    CHECK_OK(tsdb_agg__decode(buf, tsdb_agg__encode(&merged, buf), &dec));
    CHECK(memcmp(&dec, &merged, sizeof dec) == 0 || merged.count == 1);
  }
  tsdb_agg a;
  tsdb_agg__init(&a);
  tsdb_agg__add(&a, 1, NAN);
  tsdb_agg__add(&a, 2, INFINITY);
  CHECK_INT(a.count, ==, 0); /* non-finite values never enter aggregates */
}

TEST(block_merge_policies) {
  int64_t ts1[] = {10, 20, 30}, ts2[] = {20, 40};
  double v1[] = {1, 2, 3}, v2[] = {22, 4};
  uint8_t b1[256], b2[256];
  size_t l1, l2;
  for (int policy = 0; policy < 2; policy++) {
    CHECK_OK(tsdb_codec__encode(ts1, v1, 3, (uint8_t)policy, b1, sizeof b1, &l1));
    CHECK_OK(tsdb_codec__encode(ts2, v2, 2, (uint8_t)policy, b2, sizeof b2, &l2));
    const char *blocks[] = {(const char *)b1, (const char *)b2};
    size_t lens[] = {l1, l2};
    uint8_t *out;
    size_t out_len;
    CHECK_OK(tsdb_block__merge(blocks, lens, 2, TSDB_CODEC_COMPACT, &out, &out_len, NULL));
    int64_t ts[8];
    double v[8];
    size_t n;
    CHECK_OK(tsdb_codec__decode(out, out_len, ts, v, 8, &n));
    free(out);
    CHECK_INT(n, ==, 4);
    CHECK(ts[0] == 10 && ts[1] == 20 && ts[2] == 30 && ts[3] == 40);
    CHECK_BITS(v[1], policy == TSDB_DUP_LAST ? 22.0 : 2.0);
  }
  /* A corrupt operand is skipped, not fatal. */
  const char *blocks[] = {(const char *)b1, "garbage"};
  size_t lens[] = {l1, 7};
  uint8_t *out;
  size_t out_len;
  tsdb_block_merge_stats stats = {0, 0};
  CHECK_OK(tsdb_block__merge(blocks, lens, 2, TSDB_CODEC_COMPACT, &out, &out_len, &stats));
  CHECK_INT(stats.corrupt_inputs, ==, 1);
  free(out);
  /* Normalize: stable sort, duplicates by policy. */
  int64_t t3[] = {5, 3, 5, 1, 3};
  double v3[] = {50, 30, 51, 10, 31};
  size_t n = tsdb_block__normalize(t3, v3, 5, TSDB_DUP_LAST);
  CHECK_INT(n, ==, 3);
  CHECK(t3[0] == 1 && t3[1] == 3 && t3[2] == 5);
  CHECK_BITS(v3[1], 31.0);
  CHECK_BITS(v3[2], 51.0);
}

/* Decodes an aggregate block and checks it holds exactly these buckets. */
static void check_block_decodes_to(const uint8_t *block, size_t len, const int64_t *starts,
                                   const tsdb_agg *aggs, size_t n_expected) {
  int64_t *got_starts = malloc(n_expected * sizeof *got_starts);
  tsdb_agg *got = malloc(n_expected * sizeof *got);
  CHECK(got_starts && got);
  size_t n;
  CHECK_OK(tsdb_aggblock__decode(block, len, got_starts, got, n_expected, &n));
  CHECK_INT(n, ==, n_expected);
  for (size_t i = 0; i < n; i++) {
    tsdb_aggregate a, b;
    tsdb_agg__view(&aggs[i], starts[i], &a);
    tsdb_agg__view(&got[i], got_starts[i], &b);
    check_same_aggregate(&b, &a);
  }
  free(got_starts);
  free(got);
}

TEST(aggblock_round_trip_and_merge) {
  uint64_t seed = 5;
  enum { N = 300 };
  static int64_t starts[N], got_starts[N];
  static tsdb_agg aggs[N], got[N];
  for (int i = 0; i < N; i++) {
    starts[i] = 1795680000000 + i * 60000 + (i > 100 ? 60000 : 0); /* a gap */
    tsdb_agg__init(&aggs[i]);
    int k = 1 + (int)(unit_rand(&seed) % 7);
    for (int j = 0; j < k; j++)
      tsdb_agg__add(&aggs[i], starts[i] + j * 5000, (double)(int64_t)(unit_rand(&seed) % 999) / 10.0);
  }
  size_t cap = tsdb_aggblock__max_size(N), len, n;
  uint8_t *buf = malloc(cap);
  CHECK_OK(tsdb_aggblock__encode(starts, aggs, N, buf, cap, &len));
  /* Random values and M2s: far from the best case, still under half of the
   * ~100 bytes one key per bucket took. */
  CHECK_MSG(len < N * 40, "%zu bytes for %d buckets", len, N);
  check_block_decodes_to(buf, len, starts, aggs, N);
  /* Truncation and garbage are errors, never crashes. */
  for (size_t cut = 0; cut < len; cut += 7)
    CHECK(tsdb_aggblock__decode(buf, cut, got_starts, got, N, &n) != 0);
  /* Merge: the newest state of a bucket wins; a count-0 entry deletes. */
  int64_t s2[2] = {starts[0], starts[5]};
  tsdb_agg a2[2];
  tsdb_agg__init(&a2[0]);
  tsdb_agg__add(&a2[0], starts[0], 42.0);
  tsdb_agg__init(&a2[1]); /* tombstone for starts[5] */
  uint8_t op[4096];
  size_t oplen;
  CHECK_OK(tsdb_aggblock__encode(s2, a2, 2, op, sizeof op, &oplen));
  const char *blocks[] = {(const char *)buf, (const char *)op};
  size_t lens[] = {len, oplen};
  uint8_t *merged;
  size_t mlen;
  uint64_t corrupt = 0;
  CHECK_OK(tsdb_aggblock__merge(blocks, lens, 2, false, TSDB_CODEC_COMPACT, &merged, &mlen, &corrupt));
  CHECK_OK(tsdb_aggblock__decode(merged, mlen, got_starts, got, N, &n));
  CHECK_INT(n, ==, N - 1);
  CHECK_INT(got[0].count, ==, 1);
  CHECK_BITS(got[0].first, 42.0);
  CHECK_INT(got_starts[5], ==, starts[6]);
  free(merged);
  /* A partial merge keeps the tombstone for an older base. */
  const char *ops[] = {(const char *)op};
  CHECK_OK(tsdb_aggblock__merge(ops, &oplen, 1, true, TSDB_CODEC_LIGHT, &merged, &mlen, &corrupt));
  CHECK_OK(tsdb_aggblock__decode(merged, mlen, got_starts, got, N, &n));
  CHECK_INT(n, ==, 2);
  CHECK_INT(got[1].count, ==, 0);
  free(merged);
  free(buf);
  CHECK_INT(tsdb_aggblock__span(60000), ==, 86400000);
  CHECK_INT(tsdb_aggblock__span(3600000), ==, 30LL * 86400000);
  CHECK_INT(tsdb_aggblock__span(86400000), ==, 30LL * 86400000);
  CHECK_INT(tsdb_aggblock__span(90LL * 86400000), ==, 90LL * 86400000);
}

/* Blocks of one point a bucket (a 1m tier on 1-minute data) store sum,
 * min, max, first and last once; blocks written by version 1 still read. */
TEST(aggblock_tags_repeated_columns_and_reads_version_1) {
  enum { N = 1440 };
  static int64_t starts[N], got_starts[N];
  static tsdb_agg aggs[N], got[N];
  uint64_t seed = 9;
  for (int i = 0; i < N; i++) {
    starts[i] = 1795680000000 + (int64_t)i * 60000;
    tsdb_agg__init(&aggs[i]);
    tsdb_agg__add(&aggs[i], starts[i] + 7000, (double)(int64_t)(unit_rand(&seed) % 2000) / 10.0);
  }
  size_t cap = tsdb_aggblock__max_size(N), one_len, n;
  uint8_t *one = malloc(cap);
  CHECK_OK(tsdb_aggblock__encode(starts, aggs, N, one, cap, &one_len));
  check_block_decodes_to(one, one_len, starts, aggs, N);
  CHECK_OK(tsdb_aggblock__decode(one, one_len, got_starts, got, N, &n));
  for (int i = 0; i < N; i++) CHECK_INT(got[i].first_ts, ==, starts[i] + 7000);
  /* The same values in two points a bucket: every column differs, so the
   * one-point block must be far smaller. */
  for (int i = 0; i < N; i++) tsdb_agg__add(&aggs[i], starts[i] + 8000, 1.0 + (double)(i % 13));
  size_t two_len;
  uint8_t *two = malloc(cap);
  CHECK_OK(tsdb_aggblock__encode(starts, aggs, N, two, cap, &two_len));
  CHECK_MSG(one_len * 2 < two_len, "one point a bucket %zu bytes, two %zu", one_len, two_len);
  free(two);
  /* A tag naming a later column, or an unknown tag, is corruption. */
  uint8_t bad[4096];
  CHECK(one_len < sizeof bad);
  memcpy(bad, one, one_len);
  /* Walk to the tag of column 3 (min): version, n, then tag [len data]. */
  size_t tag_pos = 1;
  while (bad[tag_pos++] & 0x80) {
  }
  uint8_t tags[4];
  for (int c = 0; c < 4; c++) {
    tags[c] = bad[tag_pos];
    if (c == 3) break;
    tag_pos++;
    if (tags[c] != 0x00) continue;
    size_t clen = 0;
    for (unsigned shift = 0;; shift += 7) {
      clen |= (size_t)(bad[tag_pos] & 0x7f) << shift;
      if (!(bad[tag_pos++] & 0x80)) break;
    }
    tag_pos += clen;
  }
  CHECK_INT(tags[0], ==, 0x00); /* count: coded */
  CHECK_INT(tags[1], ==, 0x00); /* sum: coded */
  CHECK_INT(tags[2], ==, 0x01); /* compensation: zero */
  CHECK_INT(tags[3], ==, 0x81); /* min: the sum's bits */
  bad[tag_pos] = 0x80 | 9;
  CHECK(tsdb_aggblock__decode(bad, one_len, got_starts, got, N, &n) == TSDB_ECORRUPT);
  bad[tag_pos] = 0x07;
  CHECK(tsdb_aggblock__decode(bad, one_len, got_starts, got, N, &n) == TSDB_ECORRUPT);
  free(one);
  /* Three buckets as version 1 wrote them (one point; two points; a
   * tombstone). */
  static const uint8_t v1[] = {
      0x01, 0x03, 0x15, 0x01, 0x00, 0x05, 0x03, 0x80, 0xe0, 0xf2, 0xed, 0xc2, 0x68, 0xa0, 0xfe,
      0x0a, 0x01, 0x01, 0x00, 0x01, 0x02, 0x01, 0x02, 0x03, 0x0e, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x11, 0xcc, 0x21, 0x01, 0xdd, 0x1b, 0xed, 0x05, 0x0e, 0x01, 0x00, 0x00, 0x03, 0x00,
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x11, 0xcc, 0x21, 0x01, 0xd5, 0x26, 0x8a, 0x05, 0x0e, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x09, 0xae, 0x03, 0x01, 0xa1, 0x02, 0x8b, 0x01, 0x0e, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x11, 0xcc, 0x21, 0x01, 0xd5, 0x26, 0x8a, 0x05, 0x0e, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x09, 0xae, 0x03, 0x01, 0xa1, 0x02, 0x8b, 0x01, 0x11, 0x01, 0x00, 0x04, 0x03, 0x00,
      0x01, 0x29, 0x00, 0x01, 0x8a, 0xa0, 0x81, 0x05, 0x89, 0xa0, 0x81, 0x05, 0x0d, 0x01, 0x00,
      0x04, 0x03, 0x00, 0x01, 0x01, 0xd0, 0x0f, 0x01, 0x00, 0xcf, 0x0f, 0x10, 0x01, 0x00, 0x04,
      0x03, 0x00, 0x01, 0x01, 0xd0, 0x0f, 0x01, 0xa0, 0x8a, 0x07, 0xef, 0x99, 0x07};
  CHECK_INT(sizeof v1, ==, 163);
  CHECK_OK(tsdb_aggblock__decode(v1, sizeof v1, got_starts, got, N, &n));
  CHECK_INT(n, ==, 3);
  CHECK_INT(got_starts[0], ==, 1795680000000);
  CHECK_INT(got_starts[2], ==, 1795680180000);
  CHECK_INT(got[0].count, ==, 1);
  CHECK_BITS(got[0].sum, 21.5);
  CHECK_INT(got[0].first_ts, ==, 1795680001000);
  CHECK_INT(got[1].count, ==, 2);
  CHECK_BITS(got[1].min, -3.25);
  CHECK_BITS(got[1].max, 7.0);
  CHECK_BITS(got[1].first, -3.25);
  CHECK_BITS(got[1].last, 7.0);
  CHECK_INT(got[1].last_ts, ==, 1795680119000);
  CHECK_INT(got[2].count, ==, 0);
}

/* ---- the engine with RocksDB ---- */

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
  tsdb_close(db);

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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

TEST(ingest_rejects_bad_input) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  tsdb_point p = {1, 1.0, 1}; /* field 1 does not exist */
  tsdb_ingest_msg m = {.cls = cls, .topic = "city/a/b/air", .topic_len = 12, .points = &p, .npoints = 1};
  CHECK_INT(tsdb_ingest(db, &m), ==, TSDB_EINVAL);
  m.topic_len = 0;
  p.field = 0;
  CHECK_INT(tsdb_ingest(db, &m), ==, TSDB_EINVAL);
  static tsdb_point many[100000];
  tsdb_ingest_msg big = {.cls = cls, .topic = "city/a/b/air", .topic_len = 12, .points = many, .npoints = 100000}; /* 2.4 MB > 1 MiB queue */
  CHECK_INT(tsdb_ingest(db, &big), ==, TSDB_ETOOBIG);
  /* Bad class descriptions. */
  tsdb_series_class *bad;
  static const int64_t not_multiple[] = {60000, 90000};
  tsdb_series_class_desc d = {.schema_id = "x", .topic_template = "a/{b}", .nfields = 1,
                              .field_names = fields, .ntiers = 2, .tiers_ms = not_multiple};
  CHECK_INT(tsdb_series_class_create(&d, &bad), ==, TSDB_EINVAL);
  static const int64_t sub_second[] = {500};
  d.ntiers = 1;
  d.tiers_ms = sub_second;
  CHECK_INT(tsdb_series_class_create(&d, &bad), ==, TSDB_EINVAL);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

TEST(rollups_exact_under_any_arrival_order_last) {
  rollup_property(1, TSDB_DUP_LAST);
  rollup_property(2, TSDB_DUP_LAST);
}

TEST(rollups_exact_under_any_arrival_order_first) { rollup_property(3, TSDB_DUP_FIRST); }

TEST(rollups_exact_under_any_arrival_order_reject) { rollup_property(4, TSDB_DUP_REJECT); }

typedef struct pubs {
  int n;
  char topics[64][128];
  char payloads[64][1024];
  bool retain[64];
} pubs;

static void collect_pub(void *ud, const tsdb_result *r) {
  pubs *p = ud;
  if (r->kind != TSDB_RESULT_PUBLISH || p->n == 64) return;
  snprintf(p->topics[p->n], sizeof p->topics[0], "%s", r->topic);
  snprintf(p->payloads[p->n], sizeof p->payloads[0], "%.*s", (int)r->payload_len, r->payload);
  p->retain[p->n] = r->retain;
  p->n++;
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

/* Drains the results: exactly one publication went to topic, and its
 * payload holds every one of the texts. */
#define expect_one_publication(db, topic, ...)                                                     \
  expect_one_publication_of(db, topic, (const char *const[]){__VA_ARGS__, NULL})
static void expect_one_publication_of(tsdb_db *db, const char *topic, const char *const *texts) {
  static pubs p;
  p.n = 0;
  tsdb_results_drain(db, 1000, collect_pub, &p);
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
  tsdb_results_drain(db, 1000, collect_pub, &p);
  CHECK_INT(p.n, ==, 0); /* still open */
  atomic_store(&fake_now, b + 60000 + 1000 + 1);
  ingest1(db, cls, "city/a/s2/air", 0, b + 60000 + 1000, 1); /* another topic; wakes the writer */
  CHECK_OK(tsdb_sync(db));
  tsdb_results_drain(db, 1000, collect_pub, &p);
  CHECK_INT(p.n, ==, 1);
  CHECK_STR(p.topics[0], "$tsdb/agg/1m/city/a/s1/air");
  CHECK(p.retain[0]);
  CHECK_MSG(strstr(p.payloads[0], "\"state\":\"final\"") &&
                strstr(p.payloads[0], "\"pm10_count\":2,\"pm10_min\":5,\"pm10_max\":7,\"pm10_mean\":6") &&
                strstr(p.payloads[0], "\"temp_count\":1,\"temp_min\":20"),
            "payload %s", p.payloads[0]);
  /* A late point for the finalized bucket: a correction with every field. */
  ingest1(db, cls, "city/a/s1/air", 0, b + 3000, 9);
  CHECK_OK(tsdb_sync(db));
  atomic_fetch_add(&fake_now, 1500);
  ingest1(db, cls, "city/a/s2/air", 0, b + 60000 + 2000, 1);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air",
                         "\"state\":\"correction\"",
                         "\"pm10_count\":3",
                         "\"temp_count\":1");
  tsdb_close(db);
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
  tsdb_results_drain(db, 100, collect_pub, &p);
  CHECK_INT(p.n, ==, 1);
  CHECK_MSG(strstr(p.payloads[0], "\"state\":\"partial\"") &&
                strstr(p.payloads[0], "\"pm10_count\":1,"),
            "%s", p.payloads[0]);
  CHECK(p.retain[0]);
  /* Within the interval: changes are held back. */
  atomic_store(&fake_now, base + 3000);
  ingest1(db, cls, "city/a/s1/air", 0, base + 20000, 30); /* out of order below */
  ingest1(db, cls, "city/a/s1/air", 0, base + 10000, 20);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_results_drain(db, 100, collect_pub, &p);
  CHECK_INT(p.n, ==, 0);
  /* After it: one partial with all three points. */
  atomic_store(&fake_now, base + 7000);
  ingest1(db, cls, "city/a/s9/air", 0, base + 1, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air",
                         "\"state\":\"partial\"",
                         "\"pm10_count\":3,\"pm10_min\":10,\"pm10_max\":30,"
                         "\"pm10_mean\":20,\"pm10_sum\":60,\"pm10_first\":10,"
                         "\"pm10_last\":30");
  /* The bucket ends at +60 s; final at +62 s (grace 2 s). */
  atomic_store(&fake_now, base + 62001);
  ingest1(db, cls, "city/a/s9/air", 0, base + 2, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air",
                         "\"state\":\"final\"",
                         "\"pm10_count\":3,");
  /* A late point: no partial for the reopened bucket, a correction when it
   * closes again (grace after its last point). */
  ingest1(db, cls, "city/a/s1/air", 0, base + 40000, 70);
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, base + 62001 + 10000);
  ingest1(db, cls, "city/a/s9/air", 0, base + 3, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air",
                         "\"state\":\"correction\"",
                         "\"pm10_count\":4,\"pm10_min\":10,\"pm10_max\":70,");
  tsdb_close(db);
  tsdb_series_class_release(cls);
  partial_interval_ms = 0;
}

/* Significant digits of a number's text: no sign, point, exponent, or
 * leading and trailing zeros. */
static int sig_digits(const char *t) {
  int n = 0, upto = 0, lead = 1;
  for (; *t && *t != 'e'; t++) {
    if (*t < '0' || *t > '9') continue;
    if (lead && *t == '0') continue;
    lead = 0;
    n++;
    if (*t != '0') upto = n;
  }
  return upto ? upto : 1;
}

/* JSON numbers: every double reads back bit for bit, in no more digits
 * than the old "%.15g".."%.17g" search gave, and short decimals (the fast
 * path of dtoa.cc) print as a person writes them. */
TEST(format_double_round_trips_in_fewest_digits) {
  static const struct {
    double v;
    const char *text;
  } exact[] = {{0, "0"},         {-0.0, "-0"},     {20.1, "20.1"},   {0.05, "0.05"},
               {-3, "-3"},       {1013.25, "1013.25"}, {0.1 + 0.2, "0.30000000000000004"},
               {1e21, "1e+21"},  {1e-7, "1e-7"},   {123456.0001, "123456.0001"},
               {-0.0001, "-0.0001"}, {9007199254740993.0, "9007199254740992"}};
  char buf[64];
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
    tsdb_format_double(exact[i].v, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, exact[i].text), "%.17g gave %s, not %s", exact[i].v, buf,
              exact[i].text);
  }
  uint64_t seed = 42;
  for (int i = 0; i < 200000; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    double v;
    if (i % 2) { /* a reading: up to 4 decimals */
      static const double scale[] = {1, 10, 100, 1000, 10000};
      v = (double)((int64_t)(seed >> 20) % 2000000 - 1000000) / scale[(seed >> 8) % 5];
    } else { /* any finite double */
      uint64_t bits = seed ^ (seed << 17);
      memcpy(&v, &bits, sizeof v);
      if (!isfinite(v)) continue;
    }
    tsdb_format_double(v, buf, sizeof buf);
    double back = strtod(buf, NULL);
    CHECK_MSG(memcmp(&back, &v, sizeof v) == 0, "%.17g printed as %s", v, buf);
    char old[64];
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(old, sizeof old, "%.*g", prec, v);
      if (strtod(old, NULL) == v) break;
    }
    CHECK_MSG(sig_digits(buf) <= sig_digits(old), "%s longer than %s", buf, old);
  }
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
  tsdb_close(db); /* the bucket is open: only a pending marker is on disk */

  db = open_db(path, true, 1000);
  ingest1(db, cls, "city/a/s1/air", 0, b + 3000, 3); /* continues the open bucket */
  CHECK_OK(tsdb_sync(db));
  atomic_store(&fake_now, b + 60000 + 1001);
  ingest1(db, cls, "city/a/s9/air", 0, b + 61000, 0);
  CHECK_OK(tsdb_sync(db));
  expect_one_publication(db, "$tsdb/agg/1m/city/a/s1/air",
                         "\"v_count\":3,\"v_min\":1,\"v_max\":3");
  tsdb_close(db);
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
  tsdb_results_drain(db, 1000, collect_pub, &p); /* the old series' finals */
  uint32_t ids[3];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 3; i++) {
      CHECK_OK(tsdb_series_find(db, topics[i], "v", &ids[i]));
      for (int t = 0; t < 2; t++) {
        static buckets bs;
        bs.n = 0;
        CHECK_OK(tsdb_read_tier(db, ids[i], tiers[t], b - 86400000, b + 86400000, collect_bucket,
                                &bs));
        CHECK_INT(bs.n, ==, 1);
        CHECK_INT(bs.b[0].count, ==, (uint64_t)(i + 1));
        CHECK(bs.b[0].min == 10 * (i + 1));
      }
    }
    if (round == 0) {
      tsdb_close(db); /* open buckets: only the global markers are on disk */
      db = open_db(path, true, 1000);
    }
  }
  /* Past the 1m buckets' end and grace: each series' bucket is final. */
  atomic_store(&fake_now, b + 60000 + 1001);
  ingest1(db, cls, "city/a/s9/air", 0, b + 61000, 0);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_results_drain(db, 1000, collect_pub, &p);
  int finals = 0;
  for (int i = 0; i < p.n; i++) {
    if (strncmp(p.topics[i], "$tsdb/agg/1m/", 13)) continue;
    CHECK_MSG(strstr(p.topics[i], "/old/") == NULL, "%s was rebuilt: %s", p.topics[i], p.payloads[i]);
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
  tsdb_results_drain(db, 1000, collect_pub, &p);
  tsdb_close(db);
  db = open_db(path, true, 1000);
  atomic_store(&fake_now, b2 + 62000);
  ingest1(db, cls, "city/a/s9/air", 0, b2 + 61900, 0);
  CHECK_OK(tsdb_sync(db));
  p.n = 0;
  tsdb_results_drain(db, 1000, collect_pub, &p);
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

typedef struct answer {
  int n;
  char topic[8][256];
  char payload[8][8192];
  bool finished; /* the "done" marker that ends every command arrived */
} answer;

/* Publications that are not answers (a replay's messages, which race with
 * the answer to the replay command) are kept here for the test to take. */
static pubs stray_pubs;

static void collect_answer(void *ud, const tsdb_result *r) {
  answer *a = ud;
  if (r->kind == TSDB_RESULT_PUBLISH && strncmp(r->topic, "$tsdb/reply/", 12) &&
      strncmp(r->topic, "$tsdb/admin/", 12)) {
    collect_pub(&stray_pubs, r);
    return;
  }
  if (r->kind != TSDB_RESULT_PUBLISH || a->n == 8) return;
  snprintf(a->topic[a->n], sizeof a->topic[0], "%s", r->topic);
  snprintf(a->payload[a->n], sizeof a->payload[0], "%.*s", (int)r->payload_len, r->payload);
  if (strstr(a->payload[a->n], "\"done\":true")) a->finished = true;
  a->n++;
}

/* Submits a request and collects its answers up to the done marker that
 * ends every command. */
static void control(tsdb_db *db, const char *client, const char *json, answer *a) {
  memset(a, 0, sizeof *a);
  CHECK_OK(tsdb_control_submit(db, client, json, strlen(json)));
  for (int i = 0; i < 1000 && !a->finished; i++) {
    tsdb_results_drain(db, 1, collect_answer, a);
    if (!a->finished) usleep(2000);
  }
  CHECK_MSG(a->finished, "no complete answer to %s", json);
}

/* Commands with one answer (stats, replay, cancel): the answer, then done. */
static void control1(tsdb_db *db, const char *client, const char *json, answer *a) {
  control(db, client, json, a);
  CHECK_INT(a->n, ==, 2);
}

/* Moves the publications control() set aside into p. */
static void take_stray_pubs(pubs *p) {
  for (int i = 0; i < stray_pubs.n && p->n < 64; i++, p->n++) {
    memcpy(p->topics[p->n], stray_pubs.topics[i], sizeof p->topics[0]);
    memcpy(p->payloads[p->n], stray_pubs.payloads[i], sizeof p->payloads[0]);
    p->retain[p->n] = stray_pubs.retain[i];
  }
  stray_pubs.n = 0;
}

TEST(control_commands) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v", "w"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
  for (int i = 0; i < 5; i++) ingest1(db, cls, "city/a/s1/air", 0, 1795679000000 + i, i * 1.5);
  ingest1(db, cls, "city/b/s2/air", 1, 1795679000000, 7);
  answer a;
  /* No sync here: the command must see the points anyway (read your writes). */
  control(db, "me",
          "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"v\","
          "\"from\":1795679000000,\"to\":1795679000010,\"limit\":3,\"correlationData\":\"x1\"}]}",
          &a);
  CHECK_INT(a.n, ==, 2);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air");
  CHECK_MSG(strstr(a.payload[0], "\"correlationData\":\"x1\"") &&
                strstr(a.payload[0], "\"labels\":{\"district\":\"a\",\"station\":\"s1\"}") &&
                strstr(a.payload[0], "\"rows\":[[1795679000000,0],[1795679000001,1.5],[1795679000002,3]]") &&
                strstr(a.payload[0], "\"next\":1795679000003"),
            "%s", a.payload[0]);
  CHECK_STR(a.topic[1], "$tsdb/reply/me");
  CHECK(strstr(a.payload[1], "\"done\":true") && strstr(a.payload[1], "\"correlationData\":\"x1\""));
  /* A filter over several series, answered per series topic; a step with
   * chosen aggregates. */
  control(db, "me",
          "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/+/+/air\",\"step\":\"1m\","
          "\"aggregates\":[\"count\",\"max\"],\"from\":1795678980000,\"to\":1795679040000}]}",
          &a);
  CHECK_INT(a.n, ==, 3);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air");
  CHECK_MSG(strstr(a.payload[0], "\"columns\":[\"start_ms\",\"count\",\"max\"],\"rows\":[[1795678980000,5,6]]"),
            "%s", a.payload[0]);
  CHECK_STR(a.topic[1], "$tsdb/reply/me/city/b/s2/air");
  CHECK(strstr(a.payload[1], "\"field\":\"w\"") && strstr(a.payload[1], "[[1795678980000,1,7]]"));
  /* last and series. */
  control(db, "me", "{\"commands\":[{\"command\":\"last\",\"topic\":\"city/#\",\"labels\":{\"district\":\"a\"}}]}", &a);
  CHECK_INT(a.n, ==, 2);
  CHECK_MSG(strstr(a.payload[0], "\"ts_ms\":1795679000004,\"value\":6"), "%s", a.payload[0]);
  control(db, "me", "{\"commands\":[{\"command\":\"series\",\"topic\":\"city/#\"}]}", &a);
  CHECK_INT(a.n, ==, 3);
  CHECK_MSG(strstr(a.payload[0], "\"fields\":[{\"field\":\"v\"") &&
                strstr(a.payload[0], "\"unit\":\"ug/m3\"") &&
                strstr(a.payload[0], "\"tiers\":[\"1m\"]"),
            "%s", a.payload[0]);
  /* Errors. */
  control(db, "me", "[1,2]", &a);
  CHECK_STR(a.topic[0], "$tsdb/reply/me");
  CHECK(strstr(a.payload[0], "must be an object with a \\\"commands\\\" array") != NULL);
  control(db, "me", "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"v\",\"limit\":0}]}", &a);
  CHECK(strstr(a.payload[0], "'limit' must be a positive integer") != NULL);
  control(db, "me", "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"nope\"}]}", &a);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air"); /* ACL-scoped like the data */
  CHECK(strstr(a.payload[0], "no series for topic 'city/a/s1/air' field 'nope'") != NULL);
  control(db, "me", "{\"commands\":[{\"command\":\"query\",\"topic\":\"nowhere/#\"}]}", &a);
  CHECK_INT(a.n, ==, 1); /* a filter matching nothing: just done, no error */
  CHECK(strstr(a.payload[0], "\"done\":true") != NULL);
  CHECK_INT(tsdb_control_submit(db, "a/b", "{}", 2), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_control_submit(db, "a+", "{}", 2), ==, TSDB_EINVAL);
  tsdb_close(db);
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
  tsdb_ingest_msg m = {.cls = cls, .topic = "senml/dev1", .topic_len = 10, .points = p,
                       .npoints = 3, .names = names, .units = units, .nnames = 2};
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
  tsdb_ingest_msg e = {.cls = cls, .topic = "senml/dev1", .topic_len = 10, .points = p,
                       .npoints = 1, .names = empty, .nnames = 1};
  CHECK_INT(tsdb_ingest(db, &e), ==, TSDB_EINVAL);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

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
  static const int64_t steps[] = {10000, 30000, 60000, 90000, 300000, 900000, 1800000,
                                  3600000, 7200000, 86400000, 7000, 45000};
  static step_rows rows;
  for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
    for (int trial = 0; trial < 4; trial++) {
      int64_t from = t0 - 1000 + (int64_t)(unit_rand(&seed) % 3600000);
      int64_t to = base - (int64_t)(unit_rand(&seed) % 3600000);
      tsdb_step_query q = {.series = id, .from = from, .to = to, .step_ms = steps[si],
                           .fill = TSDB_FILL_NONE};
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
  tsdb_step_query all = {.series = id, .from = t0, .to = base, .step_ms = 600000, .fill = TSDB_FILL_NULL};
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
  tsdb_close(db);
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

typedef struct match_list {
  int n; /* all matches; the first 16 are kept */
  char items[16][128];
} match_list;

static int collect_match(void *ud, uint32_t id, const char *topic, const char *field) {
  (void)id;
  match_list *m = ud;
  if (m->n < 16) snprintf(m->items[m->n], 128, "%s|%s", topic, field);
  m->n++;
  return 0;
}

TEST(series_lookup_by_filter_and_labels) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
  const char *topics[] = {"city/mitte/s1/air", "city/mitte/s2/air", "city/sennestadt/s3/air"};
  for (int i = 0; i < 3; i++) {
    ingest1(db, cls, topics[i], 0, 1795679000000, 1);
    ingest1(db, cls, topics[i], 1, 1795679000000, 2);
  }
  CHECK_OK(tsdb_sync(db));
  match_list m = {0};
  CHECK_OK(tsdb_series_match(db, "city/#", NULL, NULL, 0, collect_match, &m));
  CHECK_INT(m.n, ==, 6);
  memset(&m, 0, sizeof m);
  CHECK_OK(tsdb_series_match(db, "city/+/+/air", "pm10", NULL, 0, collect_match, &m));
  CHECK_INT(m.n, ==, 3);
  memset(&m, 0, sizeof m);
  tsdb_label l[] = {{"district", "mitte"}};
  CHECK_OK(tsdb_series_match(db, "#", "temp", l, 1, collect_match, &m));
  CHECK_INT(m.n, ==, 2);
  CHECK_STR(m.items[0], "city/mitte/s1/air|temp");
  tsdb_label l2[] = {{"district", "mitte"}, {"station", "s2"}};
  memset(&m, 0, sizeof m);
  CHECK_OK(tsdb_series_match(db, "#", NULL, l2, 2, collect_match, &m));
  CHECK_INT(m.n, ==, 2);
  CHECK_INT(tsdb_series_match(db, "city/#/x", NULL, NULL, 0, collect_match, &m), ==, TSDB_EINVAL);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

/* The catalog indexes many topics (its index grows and rehashes), keeps a
 * topic's labels once for all its fields, rewrites every field's descriptor
 * when a schema captures other labels, and reads it all back the same. */
TEST(catalog_topics_labels_and_reload) {
  const char *path = unit_path("db");
  atomic_store(&fake_now, 1795680000000);
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  static const tsdb_label kind[] = {{"kind", "air"}};
  tsdb_series_class_desc d = {.schema_id = "t", .schema_version = 1,
                              .topic_template = "city/{district}/{station}/air", .nfields = 2,
                              .field_names = fields, .ntiers = 1, .tiers_ms = tiers,
                              .nlabels = 1, .labels = kind};
  tsdb_series_class *v1;
  CHECK_OK(tsdb_series_class_create(&d, &v1));
  d.schema_version = 2;
  d.topic_template = "city/{area}/{station}/air"; /* the same topics, other labels */
  tsdb_series_class *v2;
  CHECK_OK(tsdb_series_class_create(&d, &v2));
  tsdb_db *db = open_db(path, true, 1000);
  char topic[64];
  enum { TOPICS = 3000 };
  for (int i = 0; i < TOPICS; i++) {
    snprintf(topic, sizeof topic, "city/d%d/s%d/air", i % 7, i);
    ingest1(db, v1, topic, 0, 1795679000000, i);
    ingest1(db, v1, topic, 1, 1795679000000, -i);
  }
  CHECK_OK(tsdb_sync(db));
  ingest1(db, v2, "city/d3/s10/air", 1, 1795679001000, 5); /* only temp: both get area */
  CHECK_OK(tsdb_sync(db));
  for (int pass = 0; pass < 2; pass++) {
    tsdb_stats st;
    tsdb_stats_get(db, &st);
    CHECK_INT(st.series, ==, 2 * TOPICS);
    for (int i = 0; i < TOPICS; i += 97) {
      uint32_t a, b;
      snprintf(topic, sizeof topic, "city/d%d/s%d/air", i % 7, i);
      CHECK_OK(tsdb_series_find(db, topic, "pm10", &a));
      CHECK_OK(tsdb_series_find(db, topic, "temp", &b));
      CHECK_INT(b, ==, a + 1);
    }
    CHECK_INT(tsdb_series_find(db, "city/d0/s999999/air", "pm10", &(uint32_t){0}), ==,
              TSDB_ENOTFOUND);
    match_list m = {0};
    tsdb_label area[] = {{"area", "d3"}, {"kind", "air"}};
    CHECK_OK(tsdb_series_match(db, "city/#", NULL, area, 2, collect_match, &m));
    CHECK_INT(m.n, ==, 2);
    CHECK_STR(m.items[0], "city/d3/s10/air|pm10");
    CHECK_STR(m.items[1], "city/d3/s10/air|temp");
    memset(&m, 0, sizeof m);
    tsdb_label district[] = {{"district", "d3"}};
    CHECK_OK(tsdb_series_match(db, "city/d3/+/air", "pm10", district, 1, collect_match, &m));
    int in_d3 = 0;
    for (int i = 0; i < TOPICS; i++) in_d3 += i % 7 == 3;
    CHECK_INT(m.n, ==, in_d3 - 1); /* s10 has area now, not district */
    tsdb_close(db);
    db = open_db(path, true, 1000);
  }
  tsdb_close(db);
  tsdb_series_class_release(v1);
  tsdb_series_class_release(v2);
}

static size_t check_tier_exact(tsdb_db *db, uint32_t id, int64_t tier_ms, const collected *c,
                               int64_t from, int64_t to);

/* A series the writer has not seen for a while loses its in-memory state;
 * its next points, late or new, rebuild it from the store: rollups stay
 * exact and only the newest bucket's publication is retained. */
/* Passes that finalize thousands of buckets, then fewer, then more again,
 * each pass one station catching up on minutes of data: the writer's sort
 * scratch is swapped, trimmed and regrown between passes. (A bulk import
 * once crashed the writer in sort_finals when the two scratch vectors had
 * drifted apart in size; that needs passes back to back, which this test
 * cannot force: bench/fieldbench's query load is the one that found it.) */
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
  tsdb_db *db = NULL;
  char err[256];
  CHECK_MSG(tsdb_open(&o, &db, err, sizeof err) == 0, "%s", err);
  return db;
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
    tsdb_ingest_msg m = {.cls = cls, .topic = topic, .topic_len = strlen(topic), .points = pts,
                         .npoints = (size_t)sizes[r]};
    CHECK_OK(tsdb_ingest(db, &m));
    CHECK_OK(tsdb_sync(db));
  }
  tsdb_close(db); /* what stays open is marked pending and read from raw data */
  db = open_db(unit_path("db"), true, 1000);
  for (int r = 0; r < ROUNDS; r++) {
    uint32_t id = bulk_series(db, "bulk", r);
    static buckets bs;
    bs.n = 0;
    CHECK_OK(tsdb_read_tier(db, id, 900000, t0, t0 + (int64_t)sizes[r] * 60000, collect_bucket,
                            &bs));
    CHECK_INT(bs.n, ==, (size_t)(sizes[r] + 14) / 15);
    uint64_t points = 0;
    for (size_t k = 0; k < bs.n; k++) points += bs.b[k].count;
    CHECK_INT(points, ==, (uint64_t)sizes[r]);
  }
  tsdb_close(db);
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
      tsdb_ingest_msg msg = {.cls = cls, .topic = topic, .topic_len = strlen(topic),
                             .points = pts, .npoints = PER_MESSAGE};
      CHECK_OK(tsdb_ingest(db, &msg));
    }
  }
  tsdb_point last = {t0, 1.0, 0};
  tsdb_ingest_msg durable = {.cls = cls, .topic = "city/burst/late/air", .topic_len = 19,
                             .points = &last, .npoints = 1};
  CHECK_OK(tsdb_ingest_durable(db, &durable));
  CHECK_OK(tsdb_sync(db));
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  CHECK_INT(st.points_written, ==, (uint64_t)(SERIES * MESSAGES * PER_MESSAGE + 1));
  /* 12 000 buckets opened: at least three passes. */
  CHECK_INT(st.batches, >=, 3);
  CHECK_INT(st.write_errors, ==, 0);
  tsdb_close(db);
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
  tsdb_close(db);
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
  tsdb_ingest_msg m = {.cls = cls, .topic = "city/senml/s1/air", .topic_len = 17, .points = pts,
                       .npoints = N};
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

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
  tsdb_results_drain(db, 1000, collect_pub, &p);
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
  tsdb_results_drain(db, 1000, collect_pub, &p);
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

static size_t count_keys(tsdb_db *db, tsdb_cf_id cf, uint32_t series) {
  uint8_t lo[4], hi[4];
  tsdb_key__put_u32(lo, series);
  tsdb_key__put_u32(hi, series + 1);
  tsdb_store_iter *it;
  CHECK_OK(tsdb_store__iter_open(db->store, NULL, cf, lo, 4, hi, 4, &it));
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
  tsdb_series_class_desc d = {.schema_id = "r", .schema_version = 1,
                              .topic_template = "city/{d}/{s}/air", .nfields = 1,
                              .field_names = fields, .ntiers = 2, .tiers_ms = tiers,
                              .block_span_ms = 600000, .raw_retention_ms = hour,
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
  tsdb_close(db);
  tsdb_series_class_release(cls);
  /* Bad retention: a tier shorter than raw, raw shorter than the coarsest tier. */
  static const int64_t short_tier[] = {1800000, 6 * 3600000};
  d.tier_retention_ms = short_tier;
  CHECK_INT(tsdb_series_class_create(&d, &cls), ==, TSDB_EINVAL);
  d.tier_retention_ms = tier_ret;
  d.raw_retention_ms = 600000;
  CHECK_INT(tsdb_series_class_create(&d, &cls), ==, TSDB_EINVAL);
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
    tsdb_ingest_msg m = {.cls = cls, .topic = "city/k/s1/air", .topic_len = 13, .points = pts,
                         .npoints = 500};
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
  tsdb_close(db);

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
  tsdb_close(db);

  /* After a reopen the descriptors say complete, so reads use only the stored
   * blocks of the new tiers; the 5-minute tier's blocks are gone. */
  db = open_db(path, true, 1000);
  tsdb_series_params sp;
  CHECK_OK(tsdb_catalog__params(&db->catalog, id, &sp));
  CHECK_INT(sp.ntiers, ==, 3);
  for (size_t t = 0; t < sp.ntiers; t++) CHECK_INT(sp.tier_complete_from[t], ==, INT64_MIN);
  check_tier_exact(db, id, 600000, &c, t0, base + hour);
  check_tier_exact(db, id, 3600000, &c, t0, base + hour);
  check_tier_exact(db, id, 60000, &c, t0, base + hour);
  uint8_t lo[TSDB_AGG_KEY_LEN], hi[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(lo, id, 300, INT64_MIN);
  tsdb_key__agg(hi, id, 300, INT64_MAX);
  tsdb_store_iter *it;
  CHECK_OK(tsdb_store__iter_open(db->store, NULL, TSDB_CF_AGG, lo, sizeof lo, hi, sizeof hi, &it));
  CHECK(!tsdb_store__iter_valid(it));
  tsdb_store__iter_close(it);
  tsdb_key__agg(lo, id, 600, INT64_MIN);
  tsdb_key__agg(hi, id, 600, INT64_MAX);
  CHECK_OK(tsdb_store__iter_open(db->store, NULL, TSDB_CF_AGG, lo, sizeof lo, hi, sizeof hi, &it));
  CHECK(tsdb_store__iter_valid(it));
  tsdb_store__iter_close(it);
  collected_free(&c);
  tsdb_close(db);
  tsdb_series_class_release(v1);
  tsdb_series_class_release(v2);
}

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
    tsdb_close(db);
  }
}

/* Six archived messages, arriving a second apart from 1795679100000, on
 * city/a/s1/air (even) and city/b/s2/air (odd), payload {"v":i}. */
static void archive_six(tsdb_db *db, tsdb_series_class *cls) {
  for (int i = 0; i < 6; i++) {
    char payload[64];
    snprintf(payload, sizeof payload, "{\"v\":%d}", i);
    tsdb_point p = {1795679000000 + i, i, 0};
    const char *topic = i % 2 ? "city/b/s2/air" : "city/a/s1/air";
    tsdb_ingest_msg m = {.cls = cls, .topic = topic, .topic_len = strlen(topic), .points = &p,
                         .npoints = 1, .payload = payload, .payload_len = strlen(payload),
                         .arrival_ms = 1795679100000 + i * 1000};
    CHECK_OK(tsdb_ingest(db, &m));
  }
}

/* Drains publications into p until one on `topic` contains `needle` (or
 * about 10 s pass); returns its index, or -1. */
static int drain_until(tsdb_db *db, pubs *p, const char *topic, const char *needle) {
  take_stray_pubs(p);
  for (int i = 0; i < 10000; i++) {
    for (int k = 0; k < p->n; k++)
      if (!strcmp(p->topics[k], topic) && strstr(p->payloads[k], needle)) return k;
    if (p->n < 64) tsdb_results_drain(db, 1, collect_pub, p);
    usleep(1000);
  }
  return -1;
}

TEST(archive_replay_and_cancel) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  archive_six(db, cls);
  answer a;
  control1(db, "op", "{\"commands\":[{\"command\":\"replay\",\"topic\":\"city/a/#\",\"from\":1795679100000,"
                    "\"to\":1795679105000,\"id\":\"x\"}]}", &a);
  CHECK_MSG(strstr(a.payload[0], "\"replay\":\"x\"") && strstr(a.payload[0], "\"speed\":\"max\""),
            "%s", a.payload[0]);
  /* The replayed messages, then the progress message "done", which says
   * nothing about them: no count, and for "max" no position. */
  static pubs p;
  p.n = 0;
  CHECK_INT(drain_until(db, &p, "$tsdb/replay/op/x", "\"state\":\"done\""), ==, 3);
  CHECK_STR(p.topics[0], "$tsdb/replay/op/x/city/a/s1/air");
  CHECK_STR(p.payloads[0], "{\"v\":0}");
  CHECK_STR(p.payloads[1], "{\"v\":2}");
  CHECK_STR(p.payloads[2], "{\"v\":4}"); /* arrival 1795679104000 < to */
  CHECK_STR(p.payloads[3], "{\"replay\":\"x\",\"state\":\"done\"}");
  /* A slow replay (x 0.001: a second of archive per 1000 s) is cancelled. */
  control1(db, "op", "{\"commands\":[{\"command\":\"replay\",\"topic\":\"#\",\"from\":1795679100000,"
                    "\"to\":1795679106000,\"speed\":0.001,\"id\":\"slow\"}]}", &a);
  /* Its first message arrived at `from`: it goes at once; the next is 1000 s
   * away. */
  p.n = 0;
  CHECK(drain_until(db, &p, "$tsdb/replay/op/slow/city/a/s1/air", "{\"v\":0}") >= 0);
  control1(db, "someone-else", "{\"commands\":[{\"command\":\"cancel\",\"replay\":\"slow\"}]}", &a);
  CHECK(strstr(a.payload[0], "no replay 'slow' of yours is running") != NULL);
  control1(db, "op", "{\"commands\":[{\"command\":\"cancel\",\"replay\":\"slow\"}]}", &a);
  CHECK(strstr(a.payload[0], "\"cancelled\":true") != NULL);
  p.n = 0;
  int k = drain_until(db, &p, "$tsdb/replay/op/slow", "\"state\":\"cancelled\"");
  CHECK(k >= 0);
  /* Its position is where the clock had taken it: a few ms of archive time. */
  long long pos = -1;
  CHECK_MSG(sscanf(p.payloads[k], "{\"replay\":\"slow\",\"state\":\"cancelled\",\"position_ms\":%lld}",
                   &pos) == 1, "%s", p.payloads[k]);
  CHECK_INT(pos, >=, 1795679100000);
  CHECK_INT(pos, <, 1795679101000);
  CHECK(strstr(p.payloads[k], "sent") == NULL);
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

/* Progress never depends on which messages matched (the broker's ACL may
 * withhold any of them from the requester): a replay of messages and one of
 * nothing report the same, paced ones on the clock over the whole range. */
TEST(replay_progress_does_not_depend_on_the_messages) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  archive_six(db, cls);
  answer a;
  static pubs p;
  /* "max": the same final message, whether three messages matched or none. */
  const char *max_done = "{\"replay\":\"m\",\"state\":\"done\"}";
  for (int round = 0; round < 2; round++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"commands\":[{\"command\":\"replay\",\"topic\":\"%s\",\"from\":"
             "1795679100000,\"to\":1795679105000,\"id\":\"m\"}]}", round ? "city/none/#" : "city/a/#");
    control1(db, "op", cmd, &a);
    p.n = 0;
    int k = drain_until(db, &p, "$tsdb/replay/op/m", "\"state\":");
    CHECK(k >= 0);
    CHECK_STR(p.payloads[k], max_done);
    CHECK_INT(k, ==, round ? 0 : 3);
  }
  /* Paced at x4 over 5 s of archive: 1.25 s, a "running" at 1 s with the
   * clock's position, then "done" at `to`; the same with nothing matching. */
  const int64_t from = 1795679100000, to = 1795679105000;
  for (int round = 0; round < 2; round++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"commands\":[{\"command\":\"replay\",\"topic\":\"%s\",\"from\":"
             "%lld,\"to\":%lld,\"speed\":4,\"id\":\"p\"}]}", round ? "city/none/#" : "city/a/#",
             (long long)from, (long long)to);
    int64_t t0 = tsdb_time__monotonic_ms();
    control1(db, "op", cmd, &a);
    CHECK_MSG(strstr(a.payload[0], "\"speed\":4"), "%s", a.payload[0]);
    p.n = 0;
    int k = drain_until(db, &p, "$tsdb/replay/op/p", "\"state\":\"done\"");
    int64_t took = tsdb_time__monotonic_ms() - t0;
    CHECK(k >= 0);
    /* The range, not the last message (at 1 s), decides the end. */
    CHECK_INT(took, >=, 1250 - 2);
    char want[128];
    snprintf(want, sizeof want, "{\"replay\":\"p\",\"state\":\"done\",\"position_ms\":%lld}",
             (long long)to);
    CHECK_STR(p.payloads[k], want);
    int running = 0, messages = 0;
    for (int i = 0; i < k; i++) {
      if (!strncmp(p.topics[i], "$tsdb/replay/op/p/", 18)) {
        messages++;
        continue;
      }
      CHECK_STR(p.topics[i], "$tsdb/replay/op/p");
      long long pos;
      CHECK_MSG(sscanf(p.payloads[i], "{\"replay\":\"p\",\"state\":\"running\",\"position_ms\":%lld}",
                       &pos) == 1, "%s", p.payloads[i]);
      CHECK_INT(pos, >=, from + 3900); /* about 1 s at x4 */
      CHECK_INT(pos, <=, to);
      running++;
    }
    CHECK_INT(running, >=, 1);
    CHECK_INT(messages, ==, round ? 0 : 3);
  }
  tsdb_close(db);
  tsdb_series_class_release(cls);
}

static atomic_int notified;
static void count_notify(void *ud) {
  (void)ud;
  atomic_fetch_add(&notified, 1);
}

/* The host hears once that results wait, until a drain starts; a drain that
 * leaves results behind says so again. */
TEST(results_notify_once_per_drain) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = unit_path("db");
  o.queue_bytes = 1 << 20;
  o.results_notify_fn = count_notify;
  tsdb_db *db = NULL;
  char err[256];
  CHECK_MSG(tsdb_open(&o, &db, err, sizeof err) == 0, "tsdb_open: %s", err);
  /* The "opened" log line waits: announced once. */
  CHECK_INT(tsdb_results_pending(db), >=, 1);
  CHECK_INT(atomic_load(&notified), ==, 1);
  static pubs p;
  tsdb_results_drain(db, 1000, collect_pub, &p);
  /* Three answers while nobody drains: one notification. */
  int before = atomic_load(&notified);
  for (int i = 0; i < 3; i++) {
    const char *req = "{\"commands\":[{\"command\":\"stats\"}]}";
    CHECK_OK(tsdb_control_submit(db, "me", req, strlen(req)));
  }
  for (int i = 0; i < 5000 && tsdb_results_pending(db) < 3; i++) usleep(1000);
  CHECK_INT(tsdb_results_pending(db), >=, 3);
  CHECK_INT(atomic_load(&notified), ==, before + 1);
  /* One drained, the rest announced again by the drain itself. */
  CHECK_INT(tsdb_results_drain(db, 1, collect_pub, &p), ==, 1);
  CHECK_INT(atomic_load(&notified), ==, before + 2);
  tsdb_results_drain(db, 1000, collect_pub, &p);
  int after = atomic_load(&notified);
  const char *req = "{\"commands\":[{\"command\":\"stats\"}]}";
  CHECK_OK(tsdb_control_submit(db, "me", req, strlen(req)));
  for (int i = 0; i < 5000 && atomic_load(&notified) == after; i++) usleep(1000);
  CHECK_INT(atomic_load(&notified), >, after);
  tsdb_close(db);
}

TEST(open_reports_an_unreadable_store) {
  const char *path = unit_path("db");
  tsdb_db *db = open_db(path, false, 1000);
  tsdb_close(db);
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
