/*
 * libFuzzer target: blocks of rollup buckets (engine/src/core/aggblock.h),
 * read back from RocksDB and merged by its merge operator. The first byte
 * chooses what the rest is (its value modulo 3):
 *   0  a stored block. tsdb_aggblock__decode() must refuse it
 *      (TSDB_ECORRUPT, TSDB_EVERSION) or give as many buckets as
 *      tsdb_aggblock__count() says, with ascending starts; a smaller array
 *      is refused with TSDB_ETOOBIG; the buckets then survive encoding again
 *      (at an effort the input's length chooses);
 *   1  buckets built from the bytes: points of the shapes fuzz_points.h
 *      makes, added into buckets of a tier, some buckets tombstones.
 *      Encoding them (at an effort a byte chooses) must decode to the same
 *      state bit for bit;
 *   2  up to 8 blocks, each a 2-byte length and its bytes, merged as the
 *      merge operator does: the result must be the newest state of every
 *      bucket of the blocks that decode (tombstones kept or dropped as
 *      asked), and the blocks that do not are counted as corrupt.
 * Every buffer is allocated to its exact size, so that ASan sees any read
 * or write past it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggblock.h"
#include "fuzz_points.h"
#include "tsdb/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                   \
  do {                                              \
    fprintf(stderr, "fuzz_aggblock: " __VA_ARGS__); \
    fprintf(stderr, "\n");                          \
    abort();                                        \
  } while (0)

#define MAX_MERGED 8

static const tsdb_codec_effort efforts[] = {TSDB_CODEC_COMPACT, TSDB_CODEC_LIGHT, TSDB_CODEC_FAST};

/* A decoded bucket equals the one encoded: every stored member bit for bit
 * (the mean is not stored: it is the compensated sum over the count); of a
 * tombstone (count 0), only the count is stored. */
static void check_same(const tsdb_agg *got, const tsdb_agg *want, int64_t start, size_t i) {
  if (got->count != want->count)
    FAIL("bucket %zu: count %llu, want %llu", i, (unsigned long long)got->count,
         (unsigned long long)want->count);
  if (want->count == 0) return; /* a tombstone: nothing else is stored */
  const double g[] = {got->sum, got->sum_comp, got->m2, got->min, got->max, got->first, got->last};
  const double w[] = {want->sum, want->sum_comp, want->m2,  want->min,
                      want->max, want->first,    want->last};
  for (size_t k = 0; k < sizeof g / sizeof g[0]; k++)
    if (fuzz_bits(g[k]) != fuzz_bits(w[k]))
      FAIL("bucket %zu at %lld: member %zu is %.17g, want %.17g", i, (long long)start, k, g[k],
           w[k]);
  if (got->first_ts != want->first_ts || got->last_ts != want->last_ts)
    FAIL("bucket %zu: first/last at %lld/%lld, want %lld/%lld", i, (long long)got->first_ts,
         (long long)got->last_ts, (long long)want->first_ts, (long long)want->last_ts);
  double mean = (want->sum + want->sum_comp) / (double)want->count;
  if (fuzz_bits(got->mean) != fuzz_bits(mean)) FAIL("bucket %zu: mean %.17g", i, got->mean);
}

/* Decodes a block into exactly sized arrays; returns the rc, *n buckets. */
static int decode(const uint8_t *block, size_t len, int64_t **starts, tsdb_agg **aggs, size_t *n) {
  uint8_t *in = malloc(len ? len : 1);
  if (!in) abort();
  memcpy(in, block, len);
  *starts = NULL;
  *aggs = NULL;
  *n = 0;
  size_t count = 0;
  int rc = tsdb_aggblock__count(in, len, &count);
  if (rc == 0) {
    if (count > TSDB_CODEC_MAX_POINTS) FAIL("count says %zu buckets", count);
    *starts = malloc((count ? count : 1) * sizeof **starts);
    *aggs = malloc((count ? count : 1) * sizeof **aggs);
    if (!*starts || !*aggs) abort();
    rc = tsdb_aggblock__decode(in, len, *starts, *aggs, count, n);
    if (rc != 0 && rc != TSDB_ECORRUPT && rc != TSDB_EVERSION)
      FAIL("decode: %s", tsdb_err_name(rc));
    if (rc == 0 && *n != count) FAIL("decode gives %zu buckets, count says %zu", *n, count);
    for (size_t i = 1; rc == 0 && i < *n; i++)
      if ((*starts)[i] <= (*starts)[i - 1]) FAIL("starts not ascending at %zu", i);
    if (rc == 0 && count > 0) { /* one bucket too few: refused, nothing written past */
      int64_t *s2 = malloc(count * sizeof *s2);
      tsdb_agg *a2 = malloc(count * sizeof *a2);
      size_t n2 = 0;
      if (!s2 || !a2) abort();
      int rc2 = tsdb_aggblock__decode(in, len, s2, a2, count - 1, &n2);
      if (rc2 != TSDB_ETOOBIG || n2 != count)
        FAIL("decode into %zu of %zu: %s", count - 1, count, tsdb_err_name(rc2));
      free(s2);
      free(a2);
    }
  } else if (rc != TSDB_ECORRUPT && rc != TSDB_EVERSION) {
    FAIL("count: %s", tsdb_err_name(rc));
  }
  free(in);
  if (rc) {
    free(*starts);
    free(*aggs);
    *starts = NULL;
    *aggs = NULL;
  }
  return rc;
}

/* Encodes into exactly tsdb_aggblock__max_size(n) bytes; the caller frees. */
static size_t encode(const int64_t *starts, const tsdb_agg *aggs, size_t n,
                     tsdb_codec_effort effort, uint8_t **out) {
  size_t cap = tsdb_aggblock__max_size(n), len = 0;
  *out = malloc(cap);
  if (!*out) abort();
  int rc = tsdb_aggblock__encode_with(starts, aggs, n, effort, *out, cap, &len);
  if (rc != 0) FAIL("encode of %zu buckets: %s", n, tsdb_err_name(rc));
  if (len == 0 || len > cap) FAIL("encode wrote %zu of %zu bytes", len, cap);
  return len;
}

static void round_trip(const int64_t *starts, const tsdb_agg *aggs, size_t n,
                       tsdb_codec_effort effort) {
  uint8_t *block;
  size_t len = encode(starts, aggs, n, effort, &block);
  int64_t *s2;
  tsdb_agg *a2;
  size_t n2;
  int rc = decode(block, len, &s2, &a2, &n2);
  if (rc != 0 || n2 != n)
    FAIL("decode of an encoded block of %zu buckets: %s, %zu", n, tsdb_err_name(rc), n2);
  for (size_t i = 0; i < n; i++) {
    if (s2[i] != starts[i])
      FAIL("start %zu: %lld, want %lld", i, (long long)s2[i], (long long)starts[i]);
    check_same(&a2[i], &aggs[i], starts[i], i);
  }
  free(block);
  free(s2);
  free(a2);
}

static void decode_mode(const uint8_t *data, size_t size) {
  int64_t *starts;
  tsdb_agg *aggs;
  size_t n;
  if (decode(data, size, &starts, &aggs, &n) == 0 && n > 0)
    round_trip(starts, aggs, n, efforts[size % 3]);
  free(starts);
  free(aggs);
}

/* Buckets of a tier from the bytes; returns how many (at most max). */
static size_t build_buckets(fuzz_bytes *b, size_t max, int64_t *starts, tsdb_agg *aggs) {
  static const int64_t tiers[] = {1000, 60000, 900000, 3600000, 86400000};
  uint8_t t = fb_u8(b);
  int64_t tier = t < 250 ? tiers[t % 5] : 1000 * (int64_t)(1 + fb_u64(b, 3));
  size_t n = 1 + (size_t)(fb_u64(b, 2) % max);
  /* Points for the buckets: about 4 a bucket, in the shapes of raw data. */
  size_t np = 4 * n;
  int64_t *ts = malloc(np * sizeof *ts);
  double *v = malloc(np * sizeof *v);
  if (!ts || !v) abort();
  fuzz_points(b, np, ts, v);
  int64_t start = (int64_t)(fb_u64(b, 6) % (UINT64_C(1) << 44)) / tier * tier;
  size_t p = 0, made = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t x = fb_u8(b);
    tsdb_agg__init(&aggs[made]);
    if (x % 13 != 0) { /* else a tombstone */
      for (size_t k = 0; k < 1u + x % 6; k++, p = (p + 1) % np) {
        uint64_t off = (uint64_t)ts[p] % (uint64_t)tier;
        tsdb_agg__add(&aggs[made], start + (int64_t)off, v[p]);
      }
    }
    starts[made++] = start;
    int64_t gap = tier * (1 + (x % 5 == 0 ? x % 7 : 0));
    if (start > INT64_MAX - gap) break;
    start += gap;
  }
  free(ts);
  free(v);
  return made;
}

static void build_mode(const uint8_t *data, size_t size) {
  fuzz_bytes b = {data, size, 0};
  int64_t *starts = malloc(TSDB_AGGBLOCK_MAX_BUCKETS * sizeof *starts);
  tsdb_agg *aggs = malloc(TSDB_AGGBLOCK_MAX_BUCKETS * sizeof *aggs);
  if (!starts || !aggs) abort();
  tsdb_codec_effort effort = efforts[fb_u8(&b) % 3];
  size_t n = build_buckets(&b, TSDB_AGGBLOCK_MAX_BUCKETS, starts, aggs);
  round_trip(starts, aggs, n, effort);
  free(starts);
  free(aggs);
}

static void merge_mode(const uint8_t *data, size_t size) {
  if (size < 1) return;
  bool keep = data[0] & 1;
  tsdb_codec_effort effort = efforts[(data[0] >> 1) % 3];
  size_t pos = 1, nb = 0;
  const char *blocks[MAX_MERGED];
  size_t lens[MAX_MERGED];
  char *copies[MAX_MERGED];
  while (nb < MAX_MERGED && pos + 2 <= size) {
    size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
    pos += 2;
    if (len > size - pos) len = size - pos;
    copies[nb] = malloc(len ? len : 1);
    if (!copies[nb]) abort();
    memcpy(copies[nb], data + pos, len);
    blocks[nb] = copies[nb];
    lens[nb++] = len;
    pos += len;
  }
  if (nb == 0) return;
  /* The model: every block decoded alone, the newest state of a start wins
   * (a later block; within a block, starts are unique). */
  int64_t *ms = NULL;
  tsdb_agg *ma = NULL;
  size_t mn = 0, valid = 0;
  for (size_t i = 0; i < nb; i++) {
    int64_t *s;
    tsdb_agg *a;
    size_t n;
    if (decode((const uint8_t *)blocks[i], lens[i], &s, &a, &n) != 0) continue;
    valid++;
    int64_t *ms2 = realloc(ms, (mn + n + 1) * sizeof *ms);
    tsdb_agg *ma2 = realloc(ma, (mn + n + 1) * sizeof *ma);
    if (!ms2 || !ma2) abort();
    ms = ms2;
    ma = ma2;
    for (size_t k = 0; k < n; k++) {
      size_t j = 0;
      while (j < mn && ms[j] != s[k]) j++;
      ms[j] = s[k];
      ma[j] = a[k];
      if (j == mn) mn++;
    }
    free(s);
    free(a);
  }
  uint8_t *out = NULL;
  size_t out_len = 0;
  uint64_t corrupt = 0;
  int rc = tsdb_aggblock__merge(blocks, lens, nb, keep, effort, &out, &out_len, &corrupt);
  if (corrupt != nb - valid)
    FAIL("merge counts %llu corrupt blocks of %zu, %zu are", (unsigned long long)corrupt, nb,
         nb - valid);
  if (valid == 0) {
    if (rc != TSDB_ECORRUPT || out) FAIL("merge of corrupt blocks only: %s", tsdb_err_name(rc));
  } else {
    if (rc != 0 || !out) FAIL("merge: %s", tsdb_err_name(rc));
    int64_t *s;
    tsdb_agg *a;
    size_t n;
    if (decode(out, out_len, &s, &a, &n) != 0) FAIL("the merged block does not decode");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      /* The model's next start in order that the merge keeps. */
      int64_t want = INT64_MAX;
      size_t at = mn;
      for (size_t j = 0; j < mn; j++)
        if ((keep || ma[j].count) && (i == 0 || ms[j] > s[i - 1]) && ms[j] <= want) {
          want = ms[j];
          at = j;
        }
      if (at == mn || s[i] != want) FAIL("merged bucket %zu starts at %lld", i, (long long)s[i]);
      check_same(&a[i], &ma[at], s[i], i);
      k++;
    }
    size_t kept = 0;
    for (size_t j = 0; j < mn; j++) kept += keep || ma[j].count;
    if (k != kept) FAIL("the merge has %zu buckets, the model %zu", k, kept);
    free(s);
    free(a);
  }
  free(out);
  free(ms);
  free(ma);
  for (size_t i = 0; i < nb; i++) free(copies[i]);
}

/* ---- seeds: blocks written by the encoder, and merges of them ---- */

static size_t seed_bytes(uint8_t mode, const int64_t *starts, const tsdb_agg *aggs, size_t n,
                         tsdb_codec_effort effort, uint8_t **out) {
  uint8_t *block;
  size_t len = encode(starts, aggs, n, effort, &block);
  *out = malloc(len + 1);
  if (!*out) abort();
  (*out)[0] = mode;
  memcpy(*out + 1, block, len);
  free(block);
  return len + 1;
}

static void write_seeds(const char *dir) {
  static int64_t starts[TSDB_AGGBLOCK_MAX_BUCKETS];
  static tsdb_agg aggs[TSDB_AGGBLOCK_MAX_BUCKETS];
  uint64_t r = 7;
  /* A day of 1-minute buckets of 10-second temperatures; an hour of
   * 1-minute buckets of one point each (the repeated-column tags); one with
   * tombstones. */
  for (int shape = 0; shape < 3; shape++) {
    size_t n = shape == 1 ? 60 : TSDB_AGGBLOCK_MAX_BUCKETS;
    for (size_t i = 0; i < n; i++) {
      starts[i] = INT64_C(1795651200000) + (int64_t)i * 60000;
      tsdb_agg__init(&aggs[i]);
      if (shape == 2 && i % 9 == 4) continue;
      for (int k = 0; k < (shape == 1 ? 1 : 6); k++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        tsdb_agg__add(&aggs[i], starts[i] + k * 10000, (double)(200 + (int)(r >> 61)) / 10);
      }
    }
    for (size_t e = 0; e < 3; e++) {
      uint8_t *seed;
      size_t len = seed_bytes(0, starts, aggs, n, efforts[e], &seed);
      char name[32];
      snprintf(name, sizeof name, "block-%d-%zu", shape, e);
      fuzz_write_seed(dir, name, seed, len);
      free(seed);
    }
  }
  /* One bucket whose points came 30 and 50 s into it: its offset columns
   * are stored as constants, 8 bytes each. */
  tsdb_agg__init(&aggs[0]);
  tsdb_agg__add(&aggs[0], starts[0] + 30000, 21.5);
  tsdb_agg__add(&aggs[0], starts[0] + 50000, 22.5);
  uint8_t *single;
  size_t slen = seed_bytes(0, starts, aggs, 1, TSDB_CODEC_COMPACT, &single);
  fuzz_write_seed(dir, "block-single", single, slen);
  free(single);
  /* A merge: a block, then a newer one over part of it, with a tombstone. */
  uint8_t *first, *second;
  size_t l1 = seed_bytes(0, starts, aggs, 10, TSDB_CODEC_LIGHT, &first);
  tsdb_agg__init(&aggs[6]);
  size_t l2 = seed_bytes(0, starts + 5, aggs + 5, 3, TSDB_CODEC_LIGHT, &second);
  size_t len = 2 + 2 + (l1 - 1) + 2 + (l2 - 1);
  uint8_t *m = malloc(len);
  if (!m) abort();
  size_t pos = 0;
  m[pos++] = 2; /* the merge */
  m[pos++] = 0; /* dropping tombstones, effort COMPACT */
  m[pos++] = (uint8_t)(l1 - 1);
  m[pos++] = (uint8_t)((l1 - 1) >> 8);
  memcpy(m + pos, first + 1, l1 - 1);
  pos += l1 - 1;
  m[pos++] = (uint8_t)(l2 - 1);
  m[pos++] = (uint8_t)((l2 - 1) >> 8);
  memcpy(m + pos, second + 1, l2 - 1);
  fuzz_write_seed(dir, "merge", m, len);
  free(m);
  free(first);
  free(second);
  /* Descriptions of buckets. */
  for (uint8_t s = 0; s < 10; s++) {
    uint8_t d[32] = {1, (uint8_t)(s * 51), (uint8_t)(s * 7 + 3),
                     1, (uint8_t)(s % 5),  (uint8_t)(s * 3)};
    for (size_t i = 6; i < sizeof d; i++) d[i] = (uint8_t)(i * 29 + s);
    char name[32];
    snprintf(name, sizeof name, "buckets-%u", s);
    fuzz_write_seed(dir, name, d, sizeof d);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *dir = getenv("TSDB_FUZZ_WRITE_SEEDS");
  if (dir) {
    write_seeds(dir);
    exit(0);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 3) {
  case 0:
    decode_mode(data + 1, size - 1);
    break;
  case 1:
    build_mode(data + 1, size - 1);
    break;
  default:
    merge_mode(data + 1, size - 1);
    break;
  }
  return 0;
}
