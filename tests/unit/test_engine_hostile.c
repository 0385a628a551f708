/*
 * Bytes the engine reads back from disk are not trusted: a damaged disk, a
 * bug of an older version or a hand-edited store may hold anything. These
 * are the cases the fuzzers (tests/fuzz/) found, each refused with an error
 * and never undefined behaviour, plus the JSON the engine writes from such
 * bytes. No RocksDB: the pure code, and the catalog without its store.
 */
#include "aggblock.h"
#include "catalog.h"
#include "codec.h"
#include "strbuf.h"
#include "tsdb/error.h"
#include "answers.h"
#include "unit.h"

/* ---- aggregate blocks ---- */

/* One bucket at `start` with points 30 s and 50 s into it. */
static size_t one_bucket_block(int64_t start, uint8_t *out, size_t cap) {
  tsdb_agg a;
  tsdb_agg__init(&a);
  tsdb_agg__add(&a, start + 30000, 21.5);
  tsdb_agg__add(&a, start + 50000, 22.5);
  size_t len = 0;
  CHECK_OK(tsdb_aggblock__encode(&start, &a, 1, out, cap, &len));
  return len;
}

TEST(aggblock_column_longer_than_the_block_is_corrupt) {
  /* Two buckets, then the header says one: each column holds two points.
   * That is damage, not an array too small for the block (TSDB_ETOOBIG
   * would tell a caller to retry with more room). */
  int64_t starts[2] = {1795651200000, 1795651260000};
  tsdb_agg aggs[2];
  for (int i = 0; i < 2; i++) {
    tsdb_agg__init(&aggs[i]);
    tsdb_agg__add(&aggs[i], starts[i] + 1000, 20 + i);
  }
  static uint8_t block[4096];
  size_t len = 0;
  CHECK_OK(tsdb_aggblock__encode(starts, aggs, 2, block, sizeof block, &len));
  CHECK_INT(block[1], ==, 2); /* the count varint */
  block[1] = 1;
  size_t n = 0;
  CHECK_OK(tsdb_aggblock__count(block, len, &n));
  CHECK_INT(n, ==, 1);
  int64_t got_starts[TSDB_AGGBLOCK_MAX_BUCKETS];
  static tsdb_agg got[TSDB_AGGBLOCK_MAX_BUCKETS];
  CHECK_INT(tsdb_aggblock__decode(block, len, got_starts, got, TSDB_AGGBLOCK_MAX_BUCKETS, &n), ==,
            TSDB_ECORRUPT);
}

TEST(aggblock_offsets_beyond_a_timestamp_are_corrupt) {
  /* The offset of a bucket's first and last point from its start is stored
   * as a double; one that is not a whole number of ms, or would carry the
   * time out of int64 (converting it was undefined), is damage. */
  static const double bad[] = {1e300, -1e300, 0x1p63, 0x1p54, 30000.5, INFINITY};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    for (int col = 0; col < 2; col++) {
      static uint8_t block[4096];
      int64_t start = 1795651200000;
      size_t len = one_bucket_block(start, block, sizeof block);
      /* The offsets 30000 and 50000 are stored as 8-byte constants. */
      double want = col ? 50000 : 30000;
      uint8_t *at = NULL;
      for (size_t i = 0; i + 8 <= len && !at; i++)
        if (!memcmp(block + i, &want, 8)) at = block + i;
      CHECK(at != NULL);
      memcpy(at, &bad[k], 8);
      int64_t s[1];
      tsdb_agg a[1];
      size_t n = 0;
      CHECK_INT(tsdb_aggblock__decode(block, len, s, a, 1, &n), ==, TSDB_ECORRUPT);
    }
  }
  /* The same block unharmed decodes to what was encoded. */
  static uint8_t block[4096];
  size_t len = one_bucket_block(INT64_C(1795651200000), block, sizeof block);
  int64_t s[1];
  tsdb_agg a[1];
  size_t n = 0;
  CHECK_OK(tsdb_aggblock__decode(block, len, s, a, 1, &n));
  CHECK_INT(a[0].first_ts, ==, INT64_C(1795651230000));
  CHECK_INT(a[0].last_ts, ==, INT64_C(1795651250000));
}

/* ---- the catalog's stored descriptors ---- */

static const tsdb_logger no_log = {NULL, NULL, TSDB_LOG_DEBUG};

static int load(tsdb_catalog *cat, uint32_t id, const char *json) {
  return tsdb_catalog__load_descriptor(cat, id, json, strlen(json));
}

TEST(catalog_refuses_numbers_beyond_their_types) {
  tsdb_catalog cat;
  CHECK_OK(tsdb_catalog__init(&cat, &no_log));
  /* Every number a descriptor holds, beyond what its C type holds:
   * converting it was undefined behaviour. */
  static const char *const bad[] = {
      "{\"topic\":\"a\",\"field\":\"x\",\"version\":4294967296}",
      "{\"topic\":\"a\",\"field\":\"x\",\"version\":1e300}",
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[60000,1e300]}",
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[9223372036854775808]}",
      "{\"topic\":\"a\",\"field\":\"x\",\"block_span_ms\":1e19}",
      "{\"topic\":\"a\",\"field\":\"x\",\"retention_ms\":{\"raw\":1e300}}",
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[60000],"
      "\"retention_ms\":{\"tiers\":[-1e300]}}",
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[60000],\"complete_from_ms\":[-1e19]}",
      /* a tier twice, or out of order (found by fuzz_catalog) */
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[60000,3600000,3600000]}",
      "{\"topic\":\"a\",\"field\":\"x\",\"tiers_ms\":[3600000,60000]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(load(&cat, (uint32_t)i + 1, bad[i]) == TSDB_ECORRUPT, "%s", bad[i]);
  CHECK_INT(tsdb_catalog__count(&cat), ==, 0);
  /* The largest values of each type are read. */
  CHECK_OK(load(&cat, 20,
                "{\"topic\":\"a\",\"field\":\"x\",\"version\":4294967295,"
                "\"tiers_ms\":[60000],\"complete_from_ms\":[-9223372036854775808]}"));
  tsdb_series_params p;
  CHECK_OK(tsdb_catalog__params(&cat, 20, &p));
  CHECK_INT(p.ntiers, ==, 1);
  CHECK_INT(p.tier_complete_from[0], ==, INT64_MIN);
  tsdb_catalog__destroy(&cat);
}

TEST(catalog_describes_each_label_once) {
  /* A schema's static label named like a label its template captures (and a
   * damaged descriptor repeating a name): each name once in the object,
   * the captured value. */
  tsdb_catalog cat;
  CHECK_OK(tsdb_catalog__init(&cat, &no_log));
  CHECK_OK(load(&cat, 1,
                "{\"topic\":\"city/mitte/s1/air\",\"field\":\"pm25\","
                "\"labels\":{\"district\":\"mitte\",\"station\":\"s1\",\"station\":\"s2\"},"
                "\"schema_labels\":{\"district\":\"static\",\"city\":\"berlin\"}}"));
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_series_info info;
  CHECK_OK(tsdb_catalog__info(&cat, 1, &info));
  tsdb_serve__series_info_json(&sb, &info, false);
  tsdb_series_info_free(&info);
  CHECK_STR(sb.data, ",\"labels\":{\"district\":\"mitte\",\"station\":\"s1\",\"city\":\"berlin\"}");
  tsdb_strbuf__free(&sb);
  tsdb_catalog__destroy(&cat);
}

/* ---- JSON written from such bytes ---- */

static void check_json_string(const char *in, size_t len, const char *want) {
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_strbuf__json_string(&sb, in, len);
  CHECK_MSG(sb.len == strlen(want) && !memcmp(sb.data, want, sb.len), "got %s, want %s", sb.data,
            want);
  tsdb_strbuf__free(&sb);
}

TEST(json_strings_are_utf8_whatever_the_bytes) {
  /* Valid UTF-8 is kept as it is, escapes as before. */
  check_json_string("caf\xc3\xa9 \xf0\x9f\x98\x80 \"\\\n\x01", 15,
                    "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\\"\\\\\\n\\u0001\"");
  /* Every byte that is not part of a valid sequence becomes U+FFFD: a lone
   * continuation, an overlong form, a surrogate, a code point above
   * U+10FFFF, a sequence cut short by the end. */
#define R "\xef\xbf\xbd"
  check_json_string("a\x80z", 3, "\"a" R "z\"");
  check_json_string("\xc0\xaf", 2, "\"" R R "\"");
  check_json_string("\xed\xa0\x80", 3, "\"" R R R "\"");
  check_json_string("\xf4\x90\x80\x80", 4, "\"" R R R R "\"");
  check_json_string("ok\xc3", 3, "\"ok" R "\"");
#undef R
  CHECK(tsdb_utf8_valid("caf\xc3\xa9", 5));
  CHECK(!tsdb_utf8_valid("caf\xc3", 4));
  CHECK(!tsdb_utf8_valid("\xff", 1));
  CHECK(tsdb_json_plain("pm25_mean", 9));
  CHECK(!tsdb_json_plain("caf\xc3\xa9", 5)); /* non-ASCII takes the checked path */
}
