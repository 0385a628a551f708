/*
 * Point-block codec: exact round trips (timestamps and value bits), header
 * info, buffer limits, and robustness against corrupt blocks.
 */
#include "codec.h"
#include "tsdb/error.h"
#include "unit.h"

/* ---- helpers ---- */

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Value kind of an encoded block (bits 2-3 of byte 2, see codec.c), to check
 * that fallbacks really happen. */
enum { VK_CONST = 0, VK_DECIMAL = 1, VK_XOR = 2, VK_RAW = 3 };
static int value_kind(const uint8_t *blk) { return (blk[2] >> 2) & 3; }

typedef struct pts {
  int64_t *ts;
  double *v;
  size_t n;
} pts;

static pts pts_new(size_t n) {
  pts p;
  p.ts = calloc(n ? n : 1, sizeof *p.ts);
  p.v = calloc(n ? n : 1, sizeof *p.v);
  p.n = n;
  CHECK(p.ts && p.v);
  return p;
}

static void pts_free(pts *p) {
  free(p->ts);
  free(p->v);
}

/* Encodes, checks the size bound, info and a bit-exact decode; returns the
 * encoded size. If blk is not NULL it gets a malloc()ed copy of the block. */
static size_t roundtrip_flags(const int64_t *ts, const double *v, size_t n, uint8_t flags,
                              uint8_t **blk) {
  size_t cap = tsdb_codec__max_size(n), len = 0;
  uint8_t *buf = malloc(cap);
  CHECK(buf);
  CHECK_OK(tsdb_codec__encode(ts, v, n, flags, buf, cap, &len));
  CHECK(len > 0 && len <= cap);

  int64_t lo = ts[0], hi = ts[0];
  for (size_t i = 1; i < n; i++) {
    if (ts[i] < lo) lo = ts[i];
    if (ts[i] > hi) hi = ts[i];
  }
  size_t at_hi = 0;
  for (size_t i = 0; i < n; i++) at_hi += ts[i] == hi;
  tsdb_block_info info;
  CHECK_OK(tsdb_codec__info(buf, len, &info));
  CHECK_INT(info.count, ==, n);
  CHECK_INT(info.min_ts, ==, lo);
  CHECK_INT(info.max_ts, ==, hi);
  CHECK_INT(info.user_flags, ==, flags);
  /* The newest point's value is in the trailer when it is the last point
   * and the only one at max_ts. */
  CHECK_INT(info.newest_known, ==, ts[n - 1] == hi && at_hi == 1);
  if (info.newest_known) CHECK(bits_of(info.newest_value) == bits_of(v[n - 1]));

  int64_t *dts = malloc(n * sizeof *dts);
  double *dv = malloc(n * sizeof *dv);
  CHECK(dts && dv);
  size_t m = 0;
  CHECK_OK(tsdb_codec__decode(buf, len, dts, dv, n, &m));
  CHECK_INT(m, ==, n);
  for (size_t i = 0; i < n; i++) {
    CHECK_MSG(dts[i] == ts[i], "ts[%zu]: %" PRId64 " vs %" PRId64, i, dts[i], ts[i]);
    CHECK_MSG(bits_of(dv[i]) == bits_of(v[i]),
              "v[%zu]: %.17g (0x%016" PRIx64 ") vs %.17g (0x%016" PRIx64 ")", i, dv[i],
              bits_of(dv[i]), v[i], bits_of(v[i]));
  }
  /* encoding is deterministic */
  uint8_t *again = malloc(cap);
  size_t len2 = 0;
  CHECK(again);
  CHECK_OK(tsdb_codec__encode(ts, v, n, flags, again, cap, &len2));
  CHECK_INT(len2, ==, len);
  CHECK(memcmp(buf, again, len) == 0);
  free(again);
  free(dts);
  free(dv);
  if (blk)
    *blk = buf;
  else
    free(buf);
  return len;
}

static size_t roundtrip(const int64_t *ts, const double *v, size_t n) {
  return roundtrip_flags(ts, v, n, 0, NULL);
}

static void regular_ts(pts *p, int64_t start, int64_t step) {
  for (size_t i = 0; i < p->n; i++) p->ts[i] = start + (int64_t)i * step;
}

/* A smooth 0.1-precision temperature, like the reference dataset a. */
static void temperature(pts *p, uint64_t *rng, double noise) {
  double walk = 0;
  for (size_t i = 0; i < p->n; i++) {
    walk += ((double)(unit_rand(rng) % 2001) - 1000.0) * 1e-5;
    double x = 15 + 6 * sin((double)i * 2 * M_PI / 8640.0) + walk;
    if (noise > 0) x += noise * (((double)(unit_rand(rng) % 2001) - 1000.0) / 1000.0);
    x = round(x * 10) / 10;
    p->v[i] = x == 0 ? 0 : x;
  }
}

#define T0 1790812800000LL /* 2026-10-01T00:00:00Z in ms */

/* ---- round trips ---- */

TEST(regular_decimal) {
  uint64_t rng = 1;
  pts p = pts_new(8640);
  regular_ts(&p, T0, 10000);
  temperature(&p, &rng, 0);
  size_t len = roundtrip(p.ts, p.v, p.n);
  /* a smooth regular series must cost well under 2 bits a point */
  CHECK_MSG(len * 8 < 2 * p.n, "%zu bytes for %zu points", len, p.n);
  pts_free(&p);
}

TEST(regular_noisy_decimal) {
  uint64_t rng = 2;
  pts p = pts_new(8640);
  regular_ts(&p, T0, 10000);
  temperature(&p, &rng, 0.1);
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

TEST(constant_values) {
  pts p = pts_new(1440);
  regular_ts(&p, T0, 60000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = 21.5;
  size_t len = roundtrip(p.ts, p.v, p.n);
  CHECK_MSG(len < 40, "constant block took %zu bytes", len);
  for (size_t i = 0; i < p.n; i++) p.v[i] = from_bits(0x7ff8000000000123ull); /* NaN payload */
  len = roundtrip(p.ts, p.v, p.n);
  CHECK_MSG(len < 40, "constant NaN block took %zu bytes", len);
  pts_free(&p);
}

TEST(irregular_timestamps) {
  uint64_t rng = 3;
  pts p = pts_new(5000);
  int64_t t = T0;
  for (size_t i = 0; i < p.n; i++) {
    t += 9000 + (int64_t)(unit_rand(&rng) % 2001); /* 10 s +- 1 s jitter */
    p.ts[i] = t;
    p.v[i] = (double)(unit_rand(&rng) % 1000) / 10.0;
  }
  roundtrip(p.ts, p.v, p.n);
  /* gaps on a 60 s grid, like dataset c */
  t = T0;
  for (size_t i = 0; i < p.n; i++) {
    t += 60000 * (unit_rand(&rng) % 50 == 0 ? 2 + (int64_t)(unit_rand(&rng) % 50) : 1);
    p.ts[i] = t;
  }
  roundtrip(p.ts, p.v, p.n);
  /* wildly irregular */
  for (size_t i = 0; i < p.n; i++) p.ts[i] = T0 + (int64_t)(unit_rand(&rng) >> 20);
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

TEST(nonmonotonic_and_duplicate_timestamps) {
  uint64_t rng = 4;
  pts p = pts_new(3000);
  regular_ts(&p, T0, 1000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)i;
  /* swaps */
  for (size_t k = 0; k < 200; k++) {
    size_t a = unit_rand(&rng) % p.n, b = unit_rand(&rng) % p.n;
    int64_t t = p.ts[a];
    p.ts[a] = p.ts[b];
    p.ts[b] = t;
  }
  roundtrip(p.ts, p.v, p.n);
  /* duplicates */
  for (size_t i = 1; i < p.n; i += 3) p.ts[i] = p.ts[i - 1];
  roundtrip(p.ts, p.v, p.n);
  /* all equal */
  for (size_t i = 0; i < p.n; i++) p.ts[i] = T0;
  roundtrip(p.ts, p.v, p.n);
  /* descending, regular */
  for (size_t i = 0; i < p.n; i++) p.ts[i] = T0 - (int64_t)i * 1000;
  roundtrip(p.ts, p.v, p.n);
  /* small blocks too */
  int64_t ts[5] = {5, 3, 3, 9, -1};
  double v[5] = {1, 2, 3, 4, 5};
  roundtrip(ts, v, 5);
  pts_free(&p);
}

TEST(negative_timestamps) {
  pts p = pts_new(1000);
  regular_ts(&p, -500000, 1000); /* crosses zero */
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)i * 0.5;
  roundtrip(p.ts, p.v, p.n);
  regular_ts(&p, -9000000000000LL, 37);
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

TEST(int64_extreme_timestamps) {
  int64_t ts[6] = {INT64_MIN, INT64_MAX, 0, INT64_MIN + 1, INT64_MAX - 1, -1};
  double v[6] = {1, 2, 3, 4, 5, 6};
  for (size_t n = 1; n <= 6; n++) roundtrip(ts, v, n);
  int64_t t2[2] = {INT64_MAX, INT64_MIN};
  roundtrip(t2, v, 2);
  /* regular up to the very top */
  pts p = pts_new(100);
  regular_ts(&p, INT64_MAX - 99 * 1000, 1000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)i;
  roundtrip(p.ts, p.v, p.n);
  regular_ts(&p, INT64_MIN, 1000);
  roundtrip(p.ts, p.v, p.n);
  /* huge deltas, larger than INT64_MAX, in a long block (modelled path) */
  uint64_t rng = 5;
  for (size_t i = 0; i < p.n; i++) p.ts[i] = (int64_t)unit_rand(&rng);
  roundtrip(p.ts, p.v, p.n);
  for (size_t i = 0; i < p.n; i++) p.ts[i] = (i & 1) ? INT64_MAX : INT64_MIN;
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

/* Found by fuzz_codec: a step of 2^63 between -1 and INT64_MAX has every
 * delta equal modulo 2^64 and the first point the smallest, and was stored
 * as a regular block that decoded to other times (refused as corrupt). */
TEST(a_step_of_half_the_range_is_not_regular) {
  for (size_t n = 3; n <= 200; n += 197) {
    pts p = pts_new(n);
    for (size_t i = 0; i < n; i++) {
      p.ts[i] = (i & 1) ? INT64_MAX : -1;
      p.v[i] = (double)i;
    }
    roundtrip(p.ts, p.v, p.n);
    for (size_t i = 0; i < n; i++) p.ts[i] = (i & 1) ? 0 : INT64_MIN;
    roundtrip(p.ts, p.v, p.n);
    pts_free(&p);
  }
}

static const uint64_t special_bits[] = {
    0x7ff8000000000000ull, /* quiet NaN */
    0x7ff8000000000001ull, /* quiet NaN, payload */
    0x7ff0000000000001ull, /* signalling NaN */
    0xfff8000000000000ull, /* negative NaN */
    0x7fffffffffffffffull, /* NaN, all payload bits */
    0xfff0deadbeef0000ull, /* negative signalling NaN, payload */
    0x7ff0000000000000ull, /* +Inf */
    0xfff0000000000000ull, /* -Inf */
    0x8000000000000000ull, /* -0.0 */
    0x0000000000000000ull, /* +0.0 */
    0x0000000000000001ull, /* smallest subnormal */
    0x000fffffffffffffull, /* largest subnormal */
    0x8000000000000001ull, /* negative subnormal */
    0x0010000000000000ull, /* DBL_MIN */
    0x7fefffffffffffffull, /* DBL_MAX */
    0xffefffffffffffffull, /* -DBL_MAX */
};
#define NSPECIAL (sizeof special_bits / sizeof special_bits[0])

TEST(special_values) {
  pts p = pts_new(400);
  regular_ts(&p, T0, 1000);
  /* each special alone in a decimal block, at the start, middle and end */
  for (size_t s = 0; s < NSPECIAL; s++) {
    for (int where = 0; where < 3; where++) {
      for (size_t i = 0; i < p.n; i++) p.v[i] = (double)(i % 17) / 10.0;
      size_t at = where == 0 ? 0 : where == 1 ? p.n / 2 : p.n - 1;
      p.v[at] = from_bits(special_bits[s]);
      uint8_t *blk;
      roundtrip_flags(p.ts, p.v, p.n, 0, &blk);
      if (special_bits[s] != 0) /* +0.0 is a decimal like any other */
        CHECK_MSG(value_kind(blk) != VK_DECIMAL, "special %zu coded as decimal", s);
      free(blk);
    }
  }
  /* all of them, cycled */
  for (size_t i = 0; i < p.n; i++) p.v[i] = from_bits(special_bits[i % NSPECIAL]);
  roundtrip(p.ts, p.v, p.n);
  /* small blocks */
  for (size_t n = 1; n <= NSPECIAL; n++) {
    for (size_t i = 0; i < n; i++) p.v[i] = from_bits(special_bits[(i * 7) % NSPECIAL]);
    roundtrip(p.ts, p.v, n);
  }
  pts_free(&p);
}

TEST(huge_and_tiny_magnitudes) {
  static const double vals[] = {1e308,
                                -1e308,
                                1e-308,
                                4.9e-324,
                                1.7976931348623157e308,
                                2.2250738585072014e-308,
                                1e-300,
                                1e300,
                                123456789012345678.0,
                                9.2233720368547758e18,
                                -9.2233720368547758e18,
                                1e19,
                                1e-19};
  size_t nv = sizeof vals / sizeof vals[0];
  pts p = pts_new(600);
  regular_ts(&p, T0, 1000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = vals[i % nv];
  roundtrip(p.ts, p.v, p.n);
  for (size_t i = 0; i < nv; i++) {
    for (size_t j = 0; j < p.n; j++) p.v[j] = vals[i] * (1.0 + (double)(j % 3));
    roundtrip(p.ts, p.v, p.n);
  }
  pts_free(&p);
}

TEST(single_point) {
  int64_t ts[1] = {T0};
  for (size_t s = 0; s < NSPECIAL; s++) {
    double v[1] = {from_bits(special_bits[s])};
    roundtrip(ts, v, 1);
  }
  static const double dec[] = {0, 1, -1, 21.5, 0.1, 1e-9, 123456.789, 4503599627370497.0};
  for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
    ts[0] = (int64_t)i * -1234567;
    roundtrip(ts, &dec[i], 1);
  }
  ts[0] = INT64_MIN;
  roundtrip(ts, dec, 1);
  ts[0] = INT64_MAX;
  roundtrip(ts, dec, 1);
}

TEST(max_points) {
  const size_t n = TSDB_CODEC_MAX_POINTS;
  uint64_t rng = 6;
  pts p = pts_new(n);
  regular_ts(&p, T0, 10000);
  temperature(&p, &rng, 0.05);
  roundtrip(p.ts, p.v, n);
  /* worst case for the size bound: random timestamps and random bits */
  for (size_t i = 0; i < n; i++) {
    p.ts[i] = (int64_t)unit_rand(&rng);
    p.v[i] = from_bits(unit_rand(&rng));
  }
  roundtrip(p.ts, p.v, n);
  /* limits */
  size_t len = 0;
  uint8_t buf[64];
  CHECK_INT(tsdb_codec__encode(p.ts, p.v, n + 1, 0, buf, sizeof buf, &len), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_codec__encode(p.ts, p.v, 0, 0, buf, sizeof buf, &len), ==, TSDB_EINVAL);
  pts_free(&p);
}

TEST(mixed_decimal_falls_back) {
  pts p = pts_new(2000);
  regular_ts(&p, T0, 1000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)(i % 100) / 10.0;
  uint8_t *blk;
  size_t dec_len = roundtrip_flags(p.ts, p.v, p.n, 0, &blk);
  CHECK_INT(value_kind(blk), ==, VK_DECIMAL);
  free(blk);
  /* one value that is no short decimal anywhere in the block */
  p.v[1234] = 1.0 / 3.0 * 1e-10;
  size_t len = roundtrip_flags(p.ts, p.v, p.n, 0, &blk);
  CHECK_INT(value_kind(blk), !=, VK_DECIMAL);
  CHECK(len > dec_len);
  free(blk);
  /* -0.0 is not the decimal 0 */
  p.v[1234] = -0.0;
  roundtrip_flags(p.ts, p.v, p.n, 0, &blk);
  CHECK_INT(value_kind(blk), !=, VK_DECIMAL);
  free(blk);
  /* random doubles: must still be exact, whatever the coding */
  uint64_t rng = 7;
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)unit_rand(&rng) / 18446744073709551616.0;
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

TEST(decimal_scale_edges) {
  /* 0.1 + 0.2 is not 0.3: the codec must return the exact bits either way */
  static const double odd[] = {
      0.1 + 0.2,           0.3,    1.1 * 1.1, 2.675,   0.15,    1e-9,
      123456789.123456789, -0.001, 1e-18,     1.5e-17, 0.1 * 3, 100.0 / 3.0};
  size_t no = sizeof odd / sizeof odd[0];
  pts p = pts_new(300);
  regular_ts(&p, T0, 1000);
  for (size_t i = 0; i < no; i++) {
    for (size_t j = 0; j < p.n; j++) p.v[j] = odd[i] + (double)(j % 5);
    roundtrip(p.ts, p.v, p.n);
    for (size_t j = 0; j < p.n; j++) p.v[j] = (j % 2) ? odd[i] : (double)j / 10.0;
    roundtrip(p.ts, p.v, p.n);
  }
  /* integers beyond 2^53, where not every integer is a double */
  static const double big[] = {9007199254740992.0,
                               9007199254740994.0,
                               18014398509481988.0,
                               1152921504606846976.0,
                               4611686018427387904.0 + 1024.0,
                               -9223372036854775808.0,
                               9223372036854774784.0,
                               1e18,
                               1e17 + 8.0};
  size_t nb = sizeof big / sizeof big[0];
  for (size_t j = 0; j < p.n; j++) p.v[j] = big[j % nb];
  roundtrip(p.ts, p.v, p.n);
  for (size_t j = 0; j < p.n; j++) p.v[j] = 9007199254740992.0 + 2.0 * (double)j;
  roundtrip(p.ts, p.v, p.n);
  /* mixed scales: the block needs the largest */
  for (size_t j = 0; j < p.n; j++) p.v[j] = j % 3 == 0 ? 0.5 : j % 3 == 1 ? 0.25 : 0.125;
  uint8_t *blk;
  roundtrip_flags(p.ts, p.v, p.n, 0, &blk);
  CHECK_INT(value_kind(blk), ==, VK_DECIMAL);
  free(blk);
  /* a precision that appears only at the end */
  for (size_t j = 0; j < p.n; j++) p.v[j] = (double)j;
  p.v[p.n - 1] = 0.123456789;
  roundtrip(p.ts, p.v, p.n);
  /* multiples of 10, 5 and 2^20 (a common factor in the residuals) */
  for (size_t j = 0; j < p.n; j++) p.v[j] = 1000.0 + 10.0 * (double)((j * 7) % 13);
  roundtrip(p.ts, p.v, p.n);
  for (size_t j = 0; j < p.n; j++) p.v[j] = 1048576.0 * (double)(j % 9);
  roundtrip(p.ts, p.v, p.n);
  /* mantissas at the ends of the int64 range, where a window around the
   * first value would overflow a signed computation */
  for (size_t j = 0; j < p.n; j++) p.v[j] = j % 2 ? -9223372036854775808.0 : -9223372036854774784.0;
  roundtrip(p.ts, p.v, p.n);
  for (size_t j = 0; j < p.n; j++) p.v[j] = -9223372036854775808.0 + 1024.0 * (double)(j % 50);
  roundtrip(p.ts, p.v, p.n);
  for (size_t j = 0; j < p.n; j++) p.v[j] = 9223372036854774784.0 - 1024.0 * (double)(j % 50);
  roundtrip(p.ts, p.v, p.n);
  for (size_t j = 0; j < p.n; j++)
    p.v[j] = (j % 2 ? -1.0 : 1.0) * (9223372036854774784.0 - (double)(j % 7) * 1024.0);
  roundtrip(p.ts, p.v, p.n);
  /* negative decimals, counters */
  for (size_t j = 0; j < p.n; j++) p.v[j] = -40.0 + (double)j * 0.25;
  roundtrip(p.ts, p.v, p.n);
  pts_free(&p);
}

TEST(user_flags_and_info) {
  pts p = pts_new(50);
  regular_ts(&p, T0, 1000);
  for (size_t i = 0; i < p.n; i++) p.v[i] = (double)i;
  for (unsigned f = 0; f < 256; f++) roundtrip_flags(p.ts, p.v, p.n, (uint8_t)f, NULL);

  uint8_t buf[4096];
  size_t len;
  CHECK_OK(tsdb_codec__encode(p.ts, p.v, p.n, 7, buf, sizeof buf, &len));
  tsdb_block_info info;
  /* every strict prefix of the header is rejected */
  for (size_t l = 0; l < 12; l++) CHECK_INT(tsdb_codec__info(buf, l, &info), ==, TSDB_ECORRUPT);
  /* unknown format version */
  uint8_t save = buf[0];
  buf[0] = (uint8_t)(save + 1);
  CHECK_INT(tsdb_codec__info(buf, len, &info), ==, TSDB_EVERSION);
  size_t n;
  CHECK_INT(tsdb_codec__decode(buf, len, p.ts, p.v, p.n, &n), ==, TSDB_EVERSION);
  buf[0] = 0;
  CHECK_INT(tsdb_codec__info(buf, len, &info), ==, TSDB_EVERSION);
  buf[0] = save;
  CHECK_OK(tsdb_codec__info(buf, len, &info));
  /* bad arguments */
  CHECK_INT(tsdb_codec__info(NULL, len, &info), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_codec__info(buf, len, NULL), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_codec__decode(buf, len, NULL, p.v, p.n, &n), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_codec__encode(NULL, p.v, p.n, 0, buf, sizeof buf, &len), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_codec__encode(p.ts, p.v, p.n, 0, NULL, sizeof buf, &len), ==, TSDB_EINVAL);
  pts_free(&p);
}

static size_t from_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  CHECK(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned b;
    CHECK(sscanf(hex + 2 * i, "%2x", &b) == 1);
    out[i] = (uint8_t)b;
  }
  return n;
}

/* Blocks the version 1 encoder wrote (before the trailer) still decode, and
 * report no newest value. */
TEST(version_1_blocks_still_decode) {
  static const struct {
    const char *hex;
    size_t n;
    int64_t ts[6];
    uint64_t bits[6];
  } v1[] = {
      /* regular timestamps, decimal values */
      {"01030406809096cc9e68e0d40309ac02010606060714",
       6,
       {T0, T0 + 60000, T0 + 120000, T0 + 180000, T0 + 240000, T0 + 300000},
       {0x402e000000000000, 0x402e99999999999a, 0x402f333333333333, 0x402fcccccccccccd,
        0x402f000000000000, 0x4030800000000000}},
      /* gaps on a grid, a constant */
      {"01030105809096cc9e68a0d11902010001010000000000001c40",
       5,
       {T0, T0 + 60000, T0 + 180000, T0 + 240000, T0 + 420000},
       {0x401c000000000000, 0x401c000000000000, 0x401c000000000000, 0x401c000000000000,
        0x401c000000000000}},
      /* disorder and a duplicate, XOR values: NaN, -0.0, 1e300, +Inf, the
       * smallest subnormal */
      {"01030a05d09f96cc9e68c03e01a01f01bf3e807d00af6d7ff8000000000000c06ffff07dfc6fc8791000eb3c0"
       "38fc8791000eb3e1ffff800000000000080",
       5,
       {T0 + 5000, T0 + 1000, T0 + 9000, T0 + 9000, T0 + 2000},
       {0x7ff8000000000000, 0x8000000000000000, 0x7e37e43c8800759c, 0x7ff0000000000000,
        0x0000000000000001}},
      /* values verbatim (the FAST effort) */
      {"01030c03809096cc9e68e0d4036211c137dd9abf3fd790dba40c242e419c1042595b2596be",
       3,
       {T0, T0 + 60000, T0 + 120000},
       {0, 0, 0}},
  };
  static const double fast_values[3] = {0.1234567891234, 987654.321987654, -3.3e-7};
  for (size_t b = 0; b < sizeof v1 / sizeof v1[0]; b++) {
    uint8_t blk[128];
    size_t len = from_hex(v1[b].hex, blk, sizeof blk);
    tsdb_block_info info;
    CHECK_OK(tsdb_codec__info(blk, len, &info));
    CHECK_INT(info.count, ==, v1[b].n);
    CHECK_INT(info.user_flags, ==, 3);
    CHECK(!info.newest_known);
    int64_t ts[6];
    double v[6];
    size_t n = 0;
    CHECK_OK(tsdb_codec__decode(blk, len, ts, v, 6, &n));
    CHECK_INT(n, ==, v1[b].n);
    for (size_t i = 0; i < n; i++) {
      CHECK_INT(ts[i], ==, v1[b].ts[i]);
      uint64_t want = b == 3 ? bits_of(fast_values[i]) : v1[b].bits[i];
      CHECK_MSG(bits_of(v[i]) == want, "block %zu value %zu: 0x%016" PRIx64, b, i, bits_of(v[i]));
    }
  }
}

/* The trailer records the newest point's value in its shortest exact form,
 * only when the last point is the one newest point, and a trailer that
 * disagrees with the points is corruption. */
TEST(newest_point_in_the_trailer) {
  static const double values[] = {0.0,
                                  -0.0,
                                  21.5,
                                  -7,
                                  1e300,
                                  -1e-300,
                                  5e-324,
                                  INFINITY,
                                  4.9406564584124654e-324,
                                  123456789012345678.0,
                                  0.1 + 0.2,
                                  9007199254740993.0,
                                  -123.456};
  int64_t ts[4] = {T0, T0 + 1000, T0 + 2000, T0 + 3000};
  double v[4] = {1, 2, 3, 0};
  for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
    v[3] = values[k];
    uint8_t *blk = NULL;
    size_t len = roundtrip_flags(ts, v, 4, 0, &blk);
    tsdb_block_info info;
    CHECK_OK(tsdb_codec__info(blk, len, &info));
    CHECK(info.newest_known);
    CHECK(bits_of(info.newest_value) == bits_of(values[k]));
    /* change the recorded value's last payload byte (or the descriptor of a
     * zero): decoding must notice */
    size_t at = len >= 2 && (blk[len - 1] & 15) ? len - 2 : len - 1;
    blk[at] ^= 1;
    int64_t dts[4];
    double dv[4];
    size_t n;
    CHECK(tsdb_codec__decode(blk, len, dts, dv, 4, &n) != 0);
    free(blk);
  }
  v[3] = NAN;
  roundtrip(ts, v, 4);
  /* not recorded: a duplicate newest timestamp, the newest point not last,
   * all points at one timestamp */
  int64_t dup[4] = {T0, T0 + 1000, T0 + 2000, T0 + 2000};
  int64_t mid[4] = {T0, T0 + 3000, T0 + 1000, T0 + 2000};
  int64_t same[4] = {T0, T0, T0, T0};
  const int64_t *shapes[3] = {dup, mid, same};
  for (int k = 0; k < 3; k++) {
    uint8_t *blk = NULL;
    size_t len = roundtrip_flags(shapes[k], v, 4, 0, &blk);
    tsdb_block_info info;
    CHECK_OK(tsdb_codec__info(blk, len, &info));
    CHECK(!info.newest_known);
    free(blk);
  }
  /* one point is its own newest */
  tsdb_block_info info;
  uint8_t *blk = NULL;
  size_t len = roundtrip_flags(ts, v, 1, 0, &blk);
  CHECK_OK(tsdb_codec__info(blk, len, &info));
  CHECK(info.newest_known && bits_of(info.newest_value) == bits_of(1.0));
  free(blk);
  /* columns of aggregate blocks go without it (format version 1) */
  uint8_t col[256];
  size_t clen = 0, n = 0;
  CHECK_OK(tsdb_codec__encode_column(ts, v, 4, TSDB_CODEC_COMPACT, col, sizeof col, &clen));
  CHECK_INT(col[0], ==, 1);
  CHECK_OK(tsdb_codec__info(col, clen, &info));
  CHECK(!info.newest_known && info.count == 4 && info.user_flags == 0);
  int64_t dts[4];
  double dv[4];
  CHECK_OK(tsdb_codec__decode(col, clen, dts, dv, 4, &n));
  for (size_t i = 0; i < 4; i++) CHECK(dts[i] == ts[i] && bits_of(dv[i]) == bits_of(v[i]));
}

TEST(buffer_too_small) {
  uint64_t rng = 8;
  pts p = pts_new(2000);
  regular_ts(&p, T0, 10000);
  temperature(&p, &rng, 0.05);
  size_t cap = tsdb_codec__max_size(p.n), len;
  uint8_t *buf = malloc(cap);
  CHECK(buf);
  CHECK_OK(tsdb_codec__encode(p.ts, p.v, p.n, 0, buf, cap, &len));
  /* exactly enough works; anything less does not */
  uint8_t *exact = malloc(len);
  size_t len2;
  CHECK(exact);
  CHECK_OK(tsdb_codec__encode(p.ts, p.v, p.n, 0, exact, len, &len2));
  CHECK_INT(len2, ==, len);
  CHECK(memcmp(exact, buf, len) == 0);
  for (size_t c = 0; c < len; c += (c < 64 ? 1 : 97))
    CHECK_INT(tsdb_codec__encode(p.ts, p.v, p.n, 0, buf, c, &len2), ==, TSDB_ETOOBIG);
  CHECK_INT(tsdb_codec__encode(p.ts, p.v, p.n, 0, buf, len - 1, &len2), ==, TSDB_ETOOBIG);
  /* decode into too little room: count reported, error returned */
  CHECK_OK(tsdb_codec__encode(p.ts, p.v, p.n, 0, buf, cap, &len));
  size_t n = 0;
  CHECK_INT(tsdb_codec__decode(buf, len, p.ts, p.v, p.n - 1, &n), ==, TSDB_ETOOBIG);
  CHECK_INT(n, ==, p.n);
  free(exact);
  free(buf);
  pts_free(&p);
}

/* ---- property tests: random data of each shape, fixed seeds ---- */

enum {
  SHAPE_TEMP,
  SHAPE_NOISY,
  SHAPE_UNIFORM_SPIKES,
  SHAPE_COUNTER_GAPS,
  SHAPE_JITTER,
  SHAPE_RANDOM_BITS,
  SHAPE_RANDOM_DOUBLES,
  SHAPE_FEW_DISTINCT,
  SHAPE_DECIMAL_K,
  SHAPE_MIXED_SPECIAL,
  SHAPE_STEPS,
  SHAPE_COUNT
};

static void make_shape(pts *p, int shape, uint64_t *rng) {
  const size_t n = p->n;
  int64_t t = T0 + (int64_t)(unit_rand(rng) % 1000) * 1000;
  double x = 0;
  int k = (int)(unit_rand(rng) % 10);
  for (size_t i = 0; i < n; i++) {
    switch (shape) {
    case SHAPE_TEMP:
    case SHAPE_NOISY:
      t += 10000;
      x += ((double)(unit_rand(rng) % 2001) - 1000.0) * 1e-4;
      p->v[i] =
          round((x + (shape == SHAPE_NOISY ? (double)(unit_rand(rng) % 17) / 10.0 : 0)) * 10) / 10;
      break;
    case SHAPE_UNIFORM_SPIKES:
      t += 60000;
      p->v[i] = unit_rand(rng) % 100 == 0 ? (double)(150 + unit_rand(rng) % 350)
                                          : (double)(unit_rand(rng) % 81);
      break;
    case SHAPE_COUNTER_GAPS:
      t += 60000 * (unit_rand(rng) % 300 == 0 ? 1 + (int64_t)(unit_rand(rng) % 60) : 1);
      x += (double)(unit_rand(rng) % 21);
      p->v[i] = x;
      break;
    case SHAPE_JITTER:
      t += 1000 + (int64_t)(unit_rand(rng) % 100) - 50;
      p->v[i] = (double)(int64_t)(unit_rand(rng) % 100000) / 1000.0 - 50.0;
      break;
    case SHAPE_RANDOM_BITS:
      t = (int64_t)unit_rand(rng);
      p->v[i] = from_bits(unit_rand(rng));
      break;
    case SHAPE_RANDOM_DOUBLES:
      t += (int64_t)(unit_rand(rng) % 100000);
      p->v[i] = ((double)unit_rand(rng) - 9.2e18) * 1e-10;
      break;
    case SHAPE_FEW_DISTINCT:
      t += 5000;
      p->v[i] = (double)(unit_rand(rng) % 4) * 0.5 - 1.0;
      break;
    case SHAPE_DECIMAL_K: {
      t += 1000;
      static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
      p->v[i] = (double)((int64_t)(unit_rand(rng) % 2000001) - 1000000) / p10[k];
      break;
    }
    case SHAPE_MIXED_SPECIAL:
      t += unit_rand(rng) % 10 == 0 ? -5000 : 5000; /* goes back now and then */
      p->v[i] = unit_rand(rng) % 20 == 0 ? from_bits(special_bits[unit_rand(rng) % NSPECIAL])
                                         : (double)(unit_rand(rng) % 1000) / 10.0;
      break;
    default: /* SHAPE_STEPS: long constant runs */
      t += 30000;
      if (unit_rand(rng) % 500 == 0) x = (double)(unit_rand(rng) % 5000) / 100.0;
      p->v[i] = x;
      break;
    }
    p->ts[i] = t;
  }
}

TEST(property_shapes) {
  static const size_t sizes[] = {1, 2, 3, 7, 31, 32, 33, 34, 64, 200, 240, 1440, 8640};
  int64_t *ts = malloc(8640 * sizeof *ts);
  double *v = malloc(8640 * sizeof *v);
  CHECK(ts && v);
  for (int shape = 0; shape < SHAPE_COUNT; shape++) {
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      for (uint64_t seed = 1; seed <= 3; seed++) {
        uint64_t rng = seed * 1000003u + (uint64_t)shape * 7919u + sizes[si];
        pts p = {ts, v, sizes[si]};
        make_shape(&p, shape, &rng);
        roundtrip(ts, v, p.n);
      }
    }
  }
  free(ts);
  free(v);
}

/* The light and fast encodings (operands, read-time merges) decode to the
 * same points, bit for bit, for every shape and size, with the same decoder. */
TEST(light_and_fast_encodings_roundtrip) {
  static const size_t sizes[] = {1, 2, 3, 33, 200, 1440, 8640};
  int64_t *ts = malloc(8640 * sizeof *ts), *dts = malloc(8640 * sizeof *dts);
  double *v = malloc(8640 * sizeof *v), *dv = malloc(8640 * sizeof *dv);
  size_t cap = tsdb_codec__max_size(8640);
  uint8_t *buf = malloc(cap);
  CHECK(ts && dts && v && dv && buf);
  for (int shape = 0; shape < SHAPE_COUNT; shape++) {
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      uint64_t rng = 77u + (uint64_t)shape * 7919u + sizes[si];
      pts p = {ts, v, sizes[si]};
      make_shape(&p, shape, &rng);
      for (int effort = TSDB_CODEC_LIGHT; effort <= TSDB_CODEC_FAST; effort++) {
        size_t len = 0, m = 0;
        CHECK_OK(tsdb_codec__encode_with(ts, v, p.n, 2, (tsdb_codec_effort)effort, buf, cap, &len));
        tsdb_block_info info;
        CHECK_OK(tsdb_codec__info(buf, len, &info));
        CHECK_INT(info.user_flags, ==, 2);
        CHECK_OK(tsdb_codec__decode(buf, len, dts, dv, p.n, &m));
        CHECK_INT(m, ==, p.n);
        for (size_t i = 0; i < p.n; i++) {
          CHECK_INT(dts[i], ==, ts[i]);
          CHECK_INT(bits_of(dv[i]), ==, bits_of(v[i]));
        }
      }
    }
  }
  free(ts);
  free(dts);
  free(v);
  free(dv);
  free(buf);
}

/* ---- corrupt input: must never crash, read out of bounds or loop ---- */

static size_t build_corpus(uint8_t **blocks, size_t *lens, size_t max) {
  static const size_t sizes[] = {1, 5, 40, 300, 1500};
  size_t nb = 0;
  int64_t *ts = malloc(1500 * sizeof *ts);
  double *v = malloc(1500 * sizeof *v);
  CHECK(ts && v);
  for (int shape = 0; shape < SHAPE_COUNT && nb < max; shape++) {
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0] && nb < max; si++) {
      uint64_t rng = (uint64_t)shape * 31u + si;
      pts p = {ts, v, sizes[si]};
      make_shape(&p, shape, &rng);
      size_t cap = tsdb_codec__max_size(p.n);
      blocks[nb] = malloc(cap);
      CHECK(blocks[nb]);
      CHECK_OK(tsdb_codec__encode(ts, v, p.n, (uint8_t)shape, blocks[nb], cap, &lens[nb]));
      nb++;
    }
  }
  free(ts);
  free(v);
  return nb;
}

/* Decodes untrusted bytes from an exact-size heap copy, so that any read
 * past the end is caught by the sanitizers. */
static int try_decode(const uint8_t *in, size_t len, int64_t *ts, double *v, size_t cap) {
  uint8_t *copy = malloc(len ? len : 1);
  CHECK(copy);
  if (len) memcpy(copy, in, len);
  tsdb_block_info info;
  size_t n = (size_t)-1;
  int irc = tsdb_codec__info(copy, len, &info);
  int rc = tsdb_codec__decode(copy, len, ts, v, cap, &n);
  CHECK_MSG(rc == 0 || rc == TSDB_ECORRUPT || rc == TSDB_EVERSION || rc == TSDB_ETOOBIG,
            "unexpected decode result %d", rc);
  if (rc == 0) {
    /* whatever decodes must agree with its header */
    CHECK_OK(irc);
    CHECK_INT(n, ==, info.count);
    CHECK(n <= cap);
    for (size_t i = 0; i < n; i++) CHECK(ts[i] >= info.min_ts && ts[i] <= info.max_ts);
  }
  free(copy);
  return rc;
}

TEST(corrupt_truncated) {
  uint8_t *blocks[64];
  size_t lens[64];
  size_t nb = build_corpus(blocks, lens, 64);
  int64_t *ts = malloc(4096 * sizeof *ts);
  double *v = malloc(4096 * sizeof *v);
  CHECK(ts && v);
  for (size_t b = 0; b < nb; b++) {
    CHECK_OK(try_decode(blocks[b], lens[b], ts, v, 4096));
    for (size_t l = 0; l < lens[b]; l++)
      CHECK_MSG(try_decode(blocks[b], l, ts, v, 4096) != 0,
                "block %zu truncated to %zu of %zu decoded", b, l, lens[b]);
    /* trailing garbage is rejected too */
    uint8_t *longer = malloc(lens[b] + 1);
    CHECK(longer);
    memcpy(longer, blocks[b], lens[b]);
    longer[lens[b]] = 0;
    CHECK(try_decode(longer, lens[b] + 1, ts, v, 4096) != 0);
    free(longer);
    free(blocks[b]);
  }
  free(ts);
  free(v);
}

TEST(corrupt_bit_flips) {
  uint8_t *blocks[64];
  size_t lens[64];
  size_t nb = build_corpus(blocks, lens, 64);
  int64_t *ts = malloc(4096 * sizeof *ts);
  double *v = malloc(4096 * sizeof *v);
  CHECK(ts && v);
  uint64_t rng = 9;
  for (size_t b = 0; b < nb; b++) {
    uint8_t *m = malloc(lens[b]);
    CHECK(m);
    size_t nbits = lens[b] * 8;
    size_t trials = nbits < 4000 ? nbits : 4000;
    for (size_t k = 0; k < trials; k++) {
      memcpy(m, blocks[b], lens[b]);
      size_t bit = nbits < 4000 ? k : (size_t)(unit_rand(&rng) % nbits);
      m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      try_decode(m, lens[b], ts, v, 4096);
      /* and a second flip or a random byte elsewhere */
      m[unit_rand(&rng) % lens[b]] = (uint8_t)unit_rand(&rng);
      try_decode(m, lens[b], ts, v, 4096);
    }
    free(m);
    free(blocks[b]);
  }
  free(ts);
  free(v);
}

TEST(corrupt_random_bytes) {
  uint64_t rng = 10;
  int64_t *ts = malloc(4096 * sizeof *ts);
  double *v = malloc(4096 * sizeof *v);
  uint8_t buf[512];
  CHECK(ts && v);
  for (int k = 0; k < 200000; k++) {
    size_t len = (size_t)(unit_rand(&rng) % sizeof buf);
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)unit_rand(&rng);
    if (len > 0 && k % 2) buf[0] = (uint8_t)(k % 4 == 1 ? 1 : 2); /* get past the version byte */
    if (len > 2 && k % 4 == 1) buf[2] &= 0x0f;
    if (len > 4 && k % 8 == 1) { /* a small count, so that decoding goes deep */
      buf[3] = (uint8_t)(unit_rand(&rng) % 128);
    }
    try_decode(buf, len, ts, v, 4096);
  }
  free(ts);
  free(v);
}
