/* Engine tests of the pure modules (engine/src/core/): durations, buckets,
 * topics, the hash map, aggregates, blocks and number formatting. No RocksDB. */
#include "agg.h"
#include "aggblock.h"
#include "block.h"
#include "codec.h"
#include "hashmap.h"
#include "strbuf.h"
#include "timeutil.h"
#include "tsdb/topic.h"
#include "test_engine.h"

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
  const char *bad[] = {"",    "0s", "-1s", "1", "1x", "s", "1s ", " 1s", "99999999999999999999d",
                       "1.5h"};
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

  CHECK_OK(
      tsdb_topic_template_compile("v3/{app}@{tenant}/devices/{device}/up", &t, err, sizeof err));
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
      tsdb_agg__add(&aggs[i], starts[i] + j * 5000,
                    (double)(int64_t)(unit_rand(&seed) % 999) / 10.0);
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
  CHECK_OK(
      tsdb_aggblock__merge(blocks, lens, 2, false, TSDB_CODEC_COMPACT, &merged, &mlen, &corrupt));
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
  } exact[] = {{0, "0"},
               {-0.0, "-0"},
               {20.1, "20.1"},
               {0.05, "0.05"},
               {-3, "-3"},
               {1013.25, "1013.25"},
               {0.1 + 0.2, "0.30000000000000004"},
               {1e21, "1e+21"},
               {1e-7, "1e-7"},
               {123456.0001, "123456.0001"},
               {-0.0001, "-0.0001"},
               {9007199254740993.0, "9007199254740992"}};
  char buf[64];
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
    tsdb_format_double(exact[i].v, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, exact[i].text), "%.17g gave %s, not %s", exact[i].v, buf, exact[i].text);
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

/* Aggregates by name: one table, in the order answers and payloads use;
 * a bucket's view holds each kind's value from the state. */
TEST(aggregate_kinds_by_name) {
  static const char *const names[TSDB_AGG_KINDS] = {"count", "min",   "max",  "mean",
                                                    "sum",   "first", "last", "stddev"};
  for (int k = 0; k < TSDB_AGG_KINDS; k++) {
    CHECK_STR(tsdb_agg_name(k), names[k]);
    CHECK_INT(tsdb_agg_find(names[k]), ==, k);
  }
  CHECK(tsdb_agg_name(-1) == NULL);
  CHECK(tsdb_agg_name(TSDB_AGG_KINDS) == NULL);
  CHECK_INT(tsdb_agg_find("median"), ==, TSDB_ENOTFOUND);
  CHECK_INT(tsdb_agg_find("Count"), ==, TSDB_ENOTFOUND);
  CHECK_INT(tsdb_agg_find(""), ==, TSDB_ENOTFOUND);
  tsdb_agg s;
  tsdb_agg__init(&s);
  static const double v[] = {4, -1, 2.5, 9};
  for (int i = 0; i < 4; i++) tsdb_agg__add(&s, 1000 + i, v[i]);
  tsdb_aggregate a;
  tsdb_agg__view(&s, 0, &a);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_COUNT), 4.0);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_MIN), -1.0);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_MAX), 9.0);
  CHECK_NEAR(tsdb_aggregate_get(&a, TSDB_AGG_MEAN), 3.625, 1e-15);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_SUM), 14.5);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_FIRST), 4.0);
  CHECK_BITS(tsdb_aggregate_get(&a, TSDB_AGG_LAST), 9.0);
  CHECK_NEAR(tsdb_aggregate_get(&a, TSDB_AGG_STDDEV), sqrt(12.921875), 1e-12);
  CHECK_INT(a.first_ts, ==, 1000);
  CHECK_INT(a.last_ts, ==, 1003);
  tsdb_agg__view_set(&a, TSDB_AGG_MEAN, 7);
  CHECK_BITS(a.mean, 7.0);
  tsdb_agg__view_set(&a, TSDB_AGG_COUNT, 7); /* the count is not a value to set */
  CHECK_INT(a.count, ==, 4);
}

/* Duplicate policies by name, as schemas and the catalog write them. */
TEST(dup_policies_by_name) {
  CHECK_STR(tsdb_dup_policy_name(TSDB_DUP_LAST), "last");
  CHECK_STR(tsdb_dup_policy_name(TSDB_DUP_FIRST), "first");
  CHECK_STR(tsdb_dup_policy_name(TSDB_DUP_REJECT), "reject");
  CHECK(tsdb_dup_policy_name(-1) == NULL);
  CHECK(tsdb_dup_policy_name(TSDB_DUP_REJECT + 1) == NULL);
  for (int p = TSDB_DUP_LAST; p <= TSDB_DUP_REJECT; p++)
    CHECK_INT(tsdb_dup_policy_find(tsdb_dup_policy_name(p)), ==, p);
  CHECK_INT(tsdb_dup_policy_find("newest"), ==, TSDB_ENOTFOUND);
}
