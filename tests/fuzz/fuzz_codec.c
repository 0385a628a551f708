/*
 * libFuzzer target: the point-block codec (engine/src/core/codec.h), whose
 * blocks are read back from RocksDB and merged by the compaction filter.
 * The first byte chooses what the rest is:
 *   even  a stored block. tsdb_codec__info() and tsdb_codec__decode() must
 *         refuse it (TSDB_ECORRUPT, TSDB_EVERSION) or agree on it: the
 *         count, the time bounds, the flags and the newest value are those
 *         of the points; a smaller array is refused with TSDB_ETOOBIG; the
 *         points then survive encoding again (at an effort the input's
 *         length chooses);
 *   odd   points built from the bytes (fuzz_points.h). Encoding them (at an
 *         effort a byte chooses), and as an aggregate column, must decode to
 *         the same points bit for bit, with the same bytes each time, within
 *         tsdb_codec__max_size(); a smaller output buffer is refused with
 *         TSDB_ETOOBIG and never written past.
 * Every buffer is allocated to its exact size, so that ASan sees any read
 * or write past it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_points.h"
#include "tsdb/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                \
  do {                                           \
    fprintf(stderr, "fuzz_codec: " __VA_ARGS__); \
    fprintf(stderr, "\n");                       \
    abort();                                     \
  } while (0)

/* Blocks decoded from the input are encoded again at any effort up to this
 * size, FAST beyond (1 M points decode in a few ms; modelling them would
 * dominate). */
#define ROUND_TRIP_MAX 65536

static const tsdb_codec_effort efforts[] = {TSDB_CODEC_COMPACT, TSDB_CODEC_LIGHT, TSDB_CODEC_FAST};

/* Encodes n points (as a column: no trailer, flags 0) into a buffer of
 * exactly tsdb_codec__max_size(n) bytes; the caller frees *out. */
static size_t encode(const int64_t *ts, const double *v, size_t n, uint8_t flags,
                     tsdb_codec_effort effort, bool column, uint8_t **out) {
  size_t cap = tsdb_codec__max_size(n), len = 0;
  *out = malloc(cap);
  if (!*out) abort();
  int rc = column ? tsdb_codec__encode_column(ts, v, n, effort, *out, cap, &len)
                  : tsdb_codec__encode_with(ts, v, n, flags, effort, *out, cap, &len);
  if (rc != 0) FAIL("encode of %zu points, effort %d: %s", n, (int)effort, tsdb_err_name(rc));
  if (len == 0 || len > cap) FAIL("encode wrote %zu bytes of %zu", len, cap);
  return len;
}

/* The header agrees with the points. */
static void check_info(const tsdb_block_info *info, const int64_t *ts, const double *v, size_t n,
                       uint8_t flags, bool trailer) {
  int64_t lo = ts[0], hi = ts[0];
  size_t at_hi = 0;
  for (size_t i = 0; i < n; i++) {
    if (ts[i] < lo) lo = ts[i];
    if (ts[i] > hi) hi = ts[i];
  }
  for (size_t i = 0; i < n; i++) at_hi += ts[i] == hi;
  if (info->count != n || info->min_ts != lo || info->max_ts != hi || info->user_flags != flags)
    FAIL("info says %u points [%lld, %lld] flags %u; they are %zu [%lld, %lld] flags %u",
         info->count, (long long)info->min_ts, (long long)info->max_ts, info->user_flags, n,
         (long long)lo, (long long)hi, flags);
  bool newest = trailer && ts[n - 1] == hi && at_hi == 1;
  if (info->newest_known != newest ||
      (newest && fuzz_bits(info->newest_value) != fuzz_bits(v[n - 1])))
    FAIL("the newest value is %s, it should be %s", info->newest_known ? "known" : "unknown",
         newest ? "known" : "unknown");
}

/* Encodes and decodes; the points must come back bit for bit. */
static void round_trip(const int64_t *ts, const double *v, size_t n, uint8_t flags,
                       tsdb_codec_effort effort, bool column) {
  uint8_t *block;
  size_t len = encode(ts, v, n, flags, effort, column, &block);
  if (effort == TSDB_CODEC_COMPACT) { /* the same points give the same bytes */
    uint8_t *again;
    size_t len2 = encode(ts, v, n, flags, effort, column, &again);
    if (len2 != len || memcmp(block, again, len)) FAIL("two encodings of the same points differ");
    free(again);
  }
  /* Exactly sized, so that a read past the block is seen. */
  uint8_t *exact = malloc(len);
  int64_t *dts = malloc(n * sizeof *dts);
  double *dv = malloc(n * sizeof *dv);
  if (!exact || !dts || !dv) abort();
  memcpy(exact, block, len);
  free(block);
  size_t got = 0;
  int rc = tsdb_codec__decode(exact, len, dts, dv, n, &got);
  if (rc != 0 || got != n)
    FAIL("decode of an encoded block (%zu points, effort %d, column %d): %s, %zu points", n,
         (int)effort, (int)column, tsdb_err_name(rc), got);
  for (size_t i = 0; i < n; i++)
    if (dts[i] != ts[i] || fuzz_bits(dv[i]) != fuzz_bits(v[i]))
      FAIL("point %zu of %zu: (%lld, %016llx) came back as (%lld, %016llx)", i, n, (long long)ts[i],
           (unsigned long long)fuzz_bits(v[i]), (long long)dts[i],
           (unsigned long long)fuzz_bits(dv[i]));
  tsdb_block_info info;
  if ((rc = tsdb_codec__info(exact, len, &info)) != 0) FAIL("info: %s", tsdb_err_name(rc));
  check_info(&info, ts, v, n, column ? 0 : flags, !column);
  free(exact);
  free(dts);
  free(dv);
}

/* An output buffer too small for the block: refused, or a block that fits
 * and decodes, never a write past the buffer. */
static void tight_buffer(const int64_t *ts, const double *v, size_t n, uint8_t flags,
                         tsdb_codec_effort effort, size_t cut) {
  uint8_t *block;
  size_t len = encode(ts, v, n, flags, effort, false, &block);
  free(block);
  size_t cap = cut % len;
  uint8_t *small = malloc(cap ? cap : 1);
  if (!small) abort();
  size_t got = 0;
  int rc = tsdb_codec__encode_with(ts, v, n, flags, effort, small, cap, &got);
  if (rc != TSDB_ETOOBIG && !(rc == 0 && got <= cap))
    FAIL("encode into %zu of the %zu bytes needed: %s", cap, len, tsdb_err_name(rc));
  free(small);
}

static void build_mode(const uint8_t *data, size_t size) {
  fuzz_bytes b = {data, size, 0};
  uint8_t h = fb_u8(&b);
  /* Up to 128 points skip the modelling (codec.c); longer ones use it. */
  size_t n = h < 128 ? (size_t)h + 1 : 129 + (size_t)(fb_u64(&b, 2) % 2000);
  uint8_t flags = fb_u8(&b), cut = fb_u8(&b);
  int64_t *ts = malloc(n * sizeof *ts);
  double *v = malloc(n * sizeof *v);
  if (!ts || !v) abort();
  fuzz_points(&b, n, ts, v);
  round_trip(ts, v, n, flags, efforts[cut % 3], false);
  round_trip(ts, v, n, 0, efforts[(cut / 3) % 3], true);
  tight_buffer(ts, v, n, flags, efforts[(cut / 9) % 3], (size_t)cut * 7 + 1);
  free(ts);
  free(v);
}

static void decode_mode(const uint8_t *data, size_t size) {
  uint8_t *in = malloc(size ? size : 1);
  if (!in) abort();
  memcpy(in, data, size);
  tsdb_block_info info;
  int irc = tsdb_codec__info(in, size, &info);
  if (irc != 0 && irc != TSDB_ECORRUPT && irc != TSDB_EVERSION)
    FAIL("info: %s", tsdb_err_name(irc));
  if (irc == 0 && (info.count == 0 || info.count > TSDB_CODEC_MAX_POINTS))
    FAIL("info: a count of %u", info.count);
  size_t n = irc == 0 ? info.count : 1;
  int64_t *ts = malloc(n * sizeof *ts);
  double *v = malloc(n * sizeof *v);
  if (!ts || !v) abort();
  size_t got = 0;
  int rc = tsdb_codec__decode(in, size, ts, v, n, &got);
  if (rc != 0 && rc != TSDB_ECORRUPT && rc != TSDB_EVERSION && !(irc != 0 && rc == TSDB_ETOOBIG))
    FAIL("decode: %s", tsdb_err_name(rc));
  if (rc == 0) {
    if (irc != 0) FAIL("decode accepts a block that info refuses (%s)", tsdb_err_name(irc));
    if (got != n) FAIL("decode gives %zu points, the header says %zu", got, n);
    uint8_t flags = info.user_flags;
    /* Version 1 (an aggregate column) has no trailer: it never knows the
     * newest value, and a block of version 2 always says whether it does. */
    bool trailer = in[0] == 2;
    check_info(&info, ts, v, n, flags, trailer);
    /* One point too few: refused, and nothing written past the arrays. */
    if (n > 1) {
      size_t got2 = 0;
      int64_t *ts2 = malloc((n - 1) * sizeof *ts2);
      double *v2 = malloc((n - 1) * sizeof *v2);
      if (!ts2 || !v2) abort();
      rc = tsdb_codec__decode(in, size, ts2, v2, n - 1, &got2);
      if (rc != TSDB_ETOOBIG || got2 != n)
        FAIL("decode into %zu of %zu: %s", n - 1, n, tsdb_err_name(rc));
      free(ts2);
      free(v2);
    }
    round_trip(ts, v, n, flags, n <= ROUND_TRIP_MAX ? efforts[size % 3] : TSDB_CODEC_FAST,
               !trailer);
  }
  free(ts);
  free(v);
  free(in);
}

/* ---- seeds: blocks of typical shapes, and descriptions of points ---- */

static void seed_block(const char *dir, const char *name, const int64_t *ts, const double *v,
                       size_t n, tsdb_codec_effort effort, bool column) {
  uint8_t *block;
  /* The store keeps the series' duplicate policy in the flags (2: reject). */
  size_t len = encode(ts, v, n, column ? 0 : 2, effort, column, &block);
  uint8_t *seed = malloc(len + 1);
  if (!seed) abort();
  seed[0] = 0; /* decode mode */
  memcpy(seed + 1, block, len);
  fuzz_write_seed(dir, name, seed, len + 1);
  free(seed);
  free(block);
}

static void write_seeds(const char *dir) {
  enum { N = 1440 };
  static int64_t ts[N];
  static double v[N];
  uint64_t r = 42;
  /* A day of minutes, temperature in tenths. */
  for (size_t i = 0; i < N; i++) {
    ts[i] = INT64_C(1795651200000) + (int64_t)i * 60000;
    r = r * 6364136223846793005u + 1442695040888963407u;
    v[i] = (double)(200 + (int)(i / 60) + (int)(r >> 62)) / 10;
  }
  seed_block(dir, "minutes-tenths", ts, v, N, TSDB_CODEC_COMPACT, false);
  seed_block(dir, "minutes-tenths-light", ts, v, N, TSDB_CODEC_LIGHT, false);
  seed_block(dir, "minutes-tenths-fast", ts, v, N, TSDB_CODEC_FAST, false);
  seed_block(dir, "minutes-tenths-column", ts, v, N, TSDB_CODEC_COMPACT, true);
  seed_block(dir, "small-tenths", ts, v, 100, TSDB_CODEC_COMPACT, false);
  /* Gaps in the minutes, integer readings. */
  size_t m = 0;
  for (size_t i = 0; i < N; i++) {
    if (i % 17 == 3) continue;
    ts[m] = INT64_C(1795651200000) + (int64_t)i * 60000;
    v[m++] = (double)(10 + i % 23);
  }
  seed_block(dir, "grid-integers", ts, v, m, TSDB_CODEC_COMPACT, false);
  /* Jitter and disorder, two decimals; a repeated timestamp. */
  for (size_t i = 0; i < N; i++) {
    r = r * 6364136223846793005u + 1442695040888963407u;
    ts[i] = INT64_C(1795651200000) + (int64_t)i * 10000 + (int64_t)(r >> 59) - 16;
    v[i] = (double)(101325 - (int)(r >> 60)) / 100;
  }
  ts[N - 1] = ts[N - 2];
  seed_block(dir, "jitter-hundredths", ts, v, N, TSDB_CODEC_COMPACT, false);
  /* The IEEE specials among decimals; arbitrary doubles. */
  for (size_t i = 0; i < 300; i++) v[i] = i % 7 ? (double)i / 4 : fuzz_special((uint8_t)i);
  seed_block(dir, "specials", ts, v, 300, TSDB_CODEC_COMPACT, false);
  for (size_t i = 0; i < 300; i++) {
    r = r * 6364136223846793005u + 1442695040888963407u;
    v[i] = fuzz_double(r);
  }
  seed_block(dir, "arbitrary", ts, v, 300, TSDB_CODEC_COMPACT, false);
  for (size_t i = 0; i < 300; i++) v[i] = 3.25;
  seed_block(dir, "constant", ts, v, 300, TSDB_CODEC_COMPACT, false);
  /* Extreme timestamps. */
  ts[0] = INT64_MIN;
  ts[1] = INT64_MAX;
  ts[2] = 0;
  seed_block(dir, "extremes", ts, v, 3, TSDB_CODEC_COMPACT, false);
  /* Descriptions of points: each shape of timestamps and values. */
  for (uint8_t t = 0; t < 5; t++) {
    for (uint8_t s = 0; s < 6; s++) {
      uint8_t d[24] = {1, (uint8_t)(t * 30 + s), 0x80, 0x05, 7, t, s};
      for (size_t i = 7; i < sizeof d; i++) d[i] = (uint8_t)(i * 37 + t + s);
      char name[32];
      snprintf(name, sizeof name, "points-%u-%u", t, s);
      fuzz_write_seed(dir, name, d, sizeof d);
    }
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
  if (data[0] & 1)
    build_mode(data + 1, size - 1);
  else
    decode_mode(data + 1, size - 1);
  return 0;
}
