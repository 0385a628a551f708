/*
 * Helpers of the block fuzzers (fuzz_codec.c, fuzz_aggblock.c): the fuzz
 * bytes read as a cyclic stream, points of one series built from it in the
 * shapes the point codec models (codec.c: regular, gridded and disordered
 * timestamps; constant, decimal, counter and arbitrary values, the IEEE
 * specials among them), bitwise comparison, and the seeds a target writes
 * when TSDB_FUZZ_WRITE_SEEDS names a directory (run.sh), so that the seeds
 * of a block decoder are real blocks of the current format.
 */
#ifndef TSDB_FUZZ_POINTS_H
#define TSDB_FUZZ_POINTS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The input read from the start again once it is used up, so that a short
 * input still describes a long block; an empty one reads zeros. */
typedef struct fuzz_bytes {
  const uint8_t *p;
  size_t n, i;
} fuzz_bytes;

static inline uint8_t fb_u8(fuzz_bytes *b) {
  if (b->n == 0) return 0;
  uint8_t v = b->p[b->i % b->n];
  b->i++;
  return v;
}

/* k bytes, little endian. */
static inline uint64_t fb_u64(fuzz_bytes *b, unsigned k) {
  uint64_t v = 0;
  for (unsigned i = 0; i < k; i++) v |= (uint64_t)fb_u8(b) << (8 * i);
  return v;
}

static inline uint64_t fuzz_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static inline double fuzz_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* A value of another kind now and then: what sensors and faults produce
 * besides decimals, and what the codec must keep bit for bit. */
static inline double fuzz_special(uint8_t k) {
  static const uint64_t bits[] = {
      0x7ff8000000000000u, /* NaN */
      0xfff8000000000000u, /* -NaN */
      0x7ff0000000000001u, /* a signalling NaN's payload */
      0x7ff0000000000000u, /* +Inf */
      0xfff0000000000000u, /* -Inf */
      0x8000000000000000u, /* -0.0 */
      0x0000000000000001u, /* the smallest subnormal */
      0x000fffffffffffffu, /* the largest subnormal */
      0x7fefffffffffffffu, /* DBL_MAX */
      0x43e0000000000000u, /* 2^63 */
  };
  return fuzz_double(bits[k % (sizeof bits / sizeof bits[0])]);
}

static const double fuzz_p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* n points; two bytes choose the shapes of the timestamps and the values. */
static inline void fuzz_points(fuzz_bytes *b, size_t n, int64_t *ts, double *v) {
  uint8_t tshape = fb_u8(b) % 5, vshape = fb_u8(b) % 6;
  uint64_t base = fb_u64(b, 8);
  uint64_t step = fb_u64(b, fb_u8(b) % 5);
  uint64_t k = 0, at = base;
  static const int64_t extremes[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
  for (size_t i = 0; i < n; i++) {
    uint8_t x = fb_u8(b);
    switch (tshape) {
    case 0:
      at = base + i * step;
      break; /* regular */
    case 1:
      k += 1 + (x % 8 == 0 ? x % 5 : 0);
      at = base + k * step;
      break; /* grid, gaps */
    case 2:
      at = base + i * step + (uint64_t)(int64_t)(int8_t)x;
      break; /* jitter */
    case 3:
      at += (uint64_t)(int64_t)(int16_t)(x | fb_u8(b) << 8);
      break; /* disorder */
    default:
      at = x % 8 == 7 ? base : (uint64_t)extremes[x % 7];
      break; /* extremes */
    }
    ts[i] = (int64_t)at;
  }
  unsigned scale = fb_u8(b) % 16;
  int64_t m = (int64_t)(fb_u64(b, 2) % 2000);
  uint64_t same = fb_u64(b, 8);
  for (size_t i = 0; i < n; i++) {
    uint8_t x = fb_u8(b);
    switch (vshape) {
    case 0:
      v[i] = fuzz_double(same);
      break; /* constant */
    case 1:
      m += (int8_t)x;
      v[i] = (double)m / fuzz_p10[scale];
      break; /* decimal walk */
    case 2:
      v[i] = (double)((int64_t)fb_u64(b, 8) >> (x % 64)) / fuzz_p10[scale];
      break;
    case 3:
      v[i] = fuzz_double(fb_u64(b, 8));
      break; /* any bits */
    case 4:  /* a decimal walk with specials and spikes */
      m += (int8_t)x;
      v[i] = x % 16 == 0   ? fuzz_special(fb_u8(b))
             : x % 16 == 1 ? (double)(m * 1000) / fuzz_p10[scale]
                           : (double)m / fuzz_p10[scale];
      break;
    default:
      m += x;
      v[i] = (double)m;
      break; /* a counter */
    }
  }
}

/* Writes one seed file dir/name. */
static inline void fuzz_write_seed(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "fuzz: cannot write seed %s\n", path);
    exit(1);
  }
}

#endif /* TSDB_FUZZ_POINTS_H */
