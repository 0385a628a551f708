/*
 * Point-block codec (see codec.h for the contract).
 *
 * Why this design
 * ---------------
 * The blocks end up in RocksDB SST files compressed with zstd, but RocksDB
 * keeps a zstd-compressed SST block only when it saves at least 1/8, and
 * zstd's literal coder is Huffman (whole bits a byte). So the codec does its
 * own entropy coding and stores close to the data's entropy; zstd then mostly
 * leaves the blocks alone (measured alternatives below).
 *
 * Timestamps (int64 ms), one of:
 *  - REGULAR: equal steps, ascending. Only the step is stored (0 bits a
 *    point; it replaces max - min in the header).
 *  - GRID: ascending, every delta a multiple of the common step; only the
 *    gaps are listed (dataset c: minutes with missing readings).
 *  - SEQ: anything else (jitter, disorder, duplicates, INT64 extremes): the
 *    residual sequence of delta or delta-of-delta prediction (Pelkonen et al.,
 *    "Gorilla: A Fast, Scalable, In-Memory Time Series Database", VLDB 2015,
 *    section 4.1.1), divided by the residuals' gcd, entropy-coded as below;
 *    zero residuals cost next to nothing, not one bit each.
 * Values (IEEE doubles, bit-exact), one of:
 *  - CONST: all bit patterns equal.
 *  - DECIMAL: the smallest k <= 15 with v == (double)m / 10^k for integers m,
 *    verified for every value by doing that very division and comparing bits.
 *    The m sequence is predicted (frame of reference, delta, delta-of-delta,
 *    or the rounded mean of the last 2, 4 or 8 values), the residuals divided
 *    by their gcd and entropy-coded; the predictor with the smallest size
 *    estimate (histogram entropy) wins. Sensor decimals (0.1 C, integer
 *    ug/m3, counters) land here.
 *  - XOR: Gorilla's XOR coding (same paper, section 4.1.2) when the block has
 *    no short decimal form (NaN, Inf, -0.0, subnormals, arbitrary doubles),
 *    or when it is smaller than the decimal coding.
 *  - RAW: 8 bytes a value, the bound for incompressible data.
 * Residual entropy coding: rANS (J. Duda, "Asymmetric numeral systems",
 * arXiv:1311.2540, 2013) with a static table per block. Residuals in a window
 * [lo, lo + K) are symbols of their own; others are escapes naming side and
 * bit length, followed by the bits under the leading one (Elias gamma with an
 * entropy-coded length; the window plus exceptions is the idea of patched
 * frame of reference, Zukowski et al., "Super-Scalar RAM-CPU Cache
 * Compression", ICDE 2006). The table is either explicit (one byte a symbol,
 * a 4-bit-mantissa float of its frequency) or "flat" (all window symbols
 * equally likely: uniform data such as dataset b needs no per-symbol table).
 * Blocks of up to 128 points skip the modelling (merge operands must be
 * cheap): delta and zigzag varints. For longer ones only the three predictors
 * with the smallest variance get the full size estimate.
 *
 * Measured with codec_bench --quick (2 days of each dataset), bytes a point on
 * disk after RocksDB zstd and full compaction, blocks of 86400 s | 14400 s
 * (the first row at the commit that added the trailer, the others at earlier
 * commits; the 14400 s figures move by a few % between runs of RocksDB's
 * SST-block compression):
 *
 *                                   a              b              c              d
 *   this codec (version 2)   0.1064 0.1192  0.8428 0.9977  0.5925 0.6371  0.2667 0.2928
 *   version 1 (no trailer)   0.1061 0.1295  0.8414 0.9895  0.5896 0.6232  0.2664 0.2911
 *   values as Gorilla XOR    0.3826 0.4420  1.9407 1.9819  1.4989 1.5972  1.3061 1.4571
 *   a byte a residual (lo +
 *     0..254, else escape),
 *     zstd does the coding   0.1809 0.1876  0.8529 0.8956  0.6084 0.6699  0.3475 0.3801
 *   zigzag varints, zstd     0.1749 0.1877  0.9494 0.9960  0.6107 0.6717  0.3466 0.3750
 *   delta predictor only     0.1061 0.1295  0.9738 1.1447  0.5896 0.6232  0.2985 0.3257
 *   no averaging predictors  0.1061 0.1295  0.8420 0.9895  0.5896 0.6232  0.2985 0.3257
 *   no flat tables           0.1061 0.1295  0.8855 1.1150  0.6033 0.8033  0.2664 0.2911
 * (Gorilla XOR on d costs 4.86 B/point before zstd.) Targets, 0.8 x
 * VictoriaMetrics 1.79.5: a 0.135, b 0.820, c 0.566, d 0.282.
 *
 * Byte-aligned layouts lose because a block's payload is then left to zstd's
 * Huffman coder (81 equiprobable values: 6.42 bits instead of log2 81 = 6.34;
 * 0.84 repeats: 1 bit instead of 0.25); they win only where blocks are so
 * small (b at 14400 s: 240 points) that keys and headers dominate and zstd,
 * once the SST block compresses at all, squeezes those too.
 *
 * Floors the format does not cross: b carries 6.44 bits a point of randomness
 * (log2 81 for 99 %, 1 % spikes of 350 values) = 0.805 B/point before any
 * header; RocksDB adds about 18.5 bytes an entry (key, index; measured with
 * incompressible 1000-1200 byte values), 0.013 B/point for 1440-point blocks;
 * the block header, table and rANS state take 30 bytes (0.021 B/point). c
 * similarly: log2 21 = 4.39 bits a point, plus the gaps. So b and c stay
 * about 2.5 % and 4 % above the 0.8 x VictoriaMetrics targets; at 14400 s,
 * where fixed costs per block are 6 times larger, the gap widens.
 *
 * Format (version 2); varint = LEB128, svarint = zigzag LEB128:
 *   u8 version | u8 user_flags | u8 kinds (bits 0-1 ts kind, 2-3 value kind)
 *   varint count | svarint min_ts
 *   REGULAR: varint step (count > 1 only); otherwise varint max_ts - min_ts
 *   timestamps, values (below), then the trailer:
 *   trailer: the newest point's value, readable in O(1) from the block's end
 *            (the "last point" query needs nothing else): L bytes little
 *            endian, then u8 desc = k << 4 | L. L = 8: the value's IEEE bits
 *            (k = 0); L = 0 and k = 15: not recorded, because the last stored
 *            point is not the only one at max_ts; otherwise the value is
 *            zigzag(m) / 10^k with the smallest such k (0.0 is L = 0, k = 0).
 *            On the reference datasets it adds 0.1-0.5 % to a day block
 *            (codec_bench: the first two rows of the table above).
 *            Version 1 blocks have no trailer and are still read.
 *   timestamps:  GRID  varint gaps, gaps x (varint points since the previous
 *                      gap, varint steps - 2); step = (max - min) / steps
 *                SEQ   u8 predictor | g? << 7, varint ts_0 - min, [varint g],
 *                      sequence
 *   values:      CONST 8 bytes | XOR bit stream | RAW 8 bytes a value |
 *                DECIMAL u8 g? << 7 | k << 3 | predictor, svarint m_0,
 *                      [varint g], sequence (running to the end of the block)
 *   sequence (x_i = prediction_i + g * r_i modulo 2^64, for i = 1..count-1):
 *     varint mode | flat << 2 | K << 3, then
 *     CONST svarint r | VARINT svarint r_i each | RAW 8 bytes each |
 *     RANS svarint lo, [K weight bytes unless flat], varint E,
 *          E x (u8 escape class, u8 weight), [varint stream length, for
 *          timestamps], stream (initial state big-endian, then bytes).
 * The decoder checks everything it reads: bounded reads, the rANS state must
 * return to its initial value with no byte left over, decoded timestamps must
 * match the header's bounds, and no trailing bytes are allowed.
 */
#include "codec.h"

#include "tsdb/error.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The encoder computes each decimal mantissa in several passes and relies on
 * getting the same integer every time, and detect_scale() on IEEE division
 * being exact-rounded: plain IEEE double arithmetic is required. */
#if defined(__FAST_MATH__) || !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "codec.c needs IEEE double arithmetic without -ffast-math or excess precision"
#endif

/* ------------------------------------------------------------------------ */
/* Format constants                                                          */
/* ------------------------------------------------------------------------ */

#define FORMAT_VERSION 2u /* version 1: the same without the trailer */

/* kinds byte: bits 0-1 timestamp kind, bits 2-3 value kind, 4-7 zero. */
enum { TS_REGULAR = 0, TS_GRID = 1, TS_SEQ = 2 };
enum { VAL_CONST = 0, VAL_DECIMAL = 1, VAL_XOR = 2, VAL_RAW = 3 };

/* How one integer residual sequence is stored. */
enum { CODER_CONST = 0, CODER_VARINT = 1, CODER_RANS = 2, CODER_RAW = 3 };

/* Predictors x'_i from the previous values of the sequence. */
enum { P_FOR, P_DELTA, P_DOD, P_AVG2, P_AVG4, P_AVG8, P_COUNT };
#define PRED_HIST 8 /* history the widest predictor looks at */

#define DEC_KMAX 15 /* largest decimal scale tried (4 bits in the section byte) */

/* rANS: 32-bit state, byte-wise renormalisation, probabilities in 1/2^11 or
 * 1/2^12 (rans_bits()). */
#define RANS_MAXBITS 12u
#define RANS_L (1u << 23)
#define RAW_CHUNK 16u /* raw bits pushed through the rANS state at a time */

#define MAX_TOKENS 256u
#define WINDOW_MAX 200u  /* largest window of directly coded residuals */
#define ESC_CLASSES 130u /* 2 sides x bit lengths 0..64 */

#define HIST_HALF 128
#define HIST_BINS 256
#define CHUNK 256
#define SMALL_N 128 /* fewer residuals than this: no modelling, varints */

/* ------------------------------------------------------------------------ */
/* Small integer helpers (all arithmetic on stored data is modulo 2^64, so    */
/* that corrupt input can never overflow a signed type).                     */
/* ------------------------------------------------------------------------ */

static inline int64_t u2i(uint64_t x) { return (x >> 63) ? -(int64_t)(~x) - 1 : (int64_t)x; }

static inline uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (v < 0 ? ~(uint64_t)0 : 0); }

static inline int64_t unzz(uint64_t u) { return u2i((u >> 1) ^ (~(u & 1) + 1)); }

static inline unsigned bitlen(uint64_t x) { return x ? 64u - (unsigned)__builtin_clzll(x) : 0u; }

static inline uint64_t absu(int64_t v) { return v < 0 ? ~(uint64_t)v + 1 : (uint64_t)v; }

/* Arithmetic shift right of a two's-complement value held in a uint64: the
 * floor division by 2^s the averaging predictors need, without relying on
 * implementation-defined signed shifts. */
static inline uint64_t asr(uint64_t x, unsigned s) {
  return (x >> s) | ((x >> 63) ? ~(~(uint64_t)0 >> s) : 0);
}

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static inline uint64_t dbits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static inline double bitsd(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* log2 for the size estimates only (x >= 1): exponent plus a cubic fit of
 * log2 on [1, 2) (error < 0.005 bit), no libm call, since it runs a few
 * hundred times per block. */
static inline double lg2(double x) {
  uint64_t b = dbits(x);
  double e = (double)(int)((b >> 52) & 0x7ff) - 1023.0;
  double m = bitsd((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull) - 1.0;
  return e + m * (1.4425449 + m * (-0.7181452 + m * 0.2757460));
}

/* ------------------------------------------------------------------------ */
/* Bounded byte writer and reader                                            */
/* ------------------------------------------------------------------------ */

typedef struct wbuf {
  uint8_t *p;
  size_t pos, cap;
  bool full; /* a write did not fit: the result is unusable */
} wbuf;

static inline void put_u8(wbuf *w, uint8_t b) {
  if (w->pos < w->cap)
    w->p[w->pos++] = b;
  else
    w->full = true;
}

static inline void put_varint(wbuf *w, uint64_t v) {
  if (w->cap - w->pos >= 10) {
    uint8_t *p = w->p + w->pos;
    while (v >= 0x80) {
      *p++ = (uint8_t)(v | 0x80);
      v >>= 7;
    }
    *p++ = (uint8_t)v;
    w->pos = (size_t)(p - w->p);
    return;
  }
  while (v >= 0x80) {
    put_u8(w, (uint8_t)(v | 0x80));
    v >>= 7;
  }
  put_u8(w, (uint8_t)v);
}

static inline void put_svarint(wbuf *w, int64_t v) { put_varint(w, zz(v)); }

static void put_u64le(wbuf *w, uint64_t v) {
  if (w->cap - w->pos < 8) {
    w->full = true;
    return;
  }
  for (unsigned i = 0; i < 8; i++) w->p[w->pos++] = (uint8_t)(v >> (8 * i));
}

static inline size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

typedef struct rbuf {
  const uint8_t *p;
  size_t pos, len;
  bool bad; /* read past the end or malformed: the block is corrupt */
} rbuf;

static inline uint8_t get_u8(rbuf *r) {
  if (r->pos < r->len) return r->p[r->pos++];
  r->bad = true;
  return 0;
}

static inline uint64_t get_varint(rbuf *r) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->pos >= r->len) break;
    uint8_t b = r->p[r->pos++];
    if (shift == 63 && b > 1) break; /* more than 64 bits */
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  r->bad = true;
  return 0;
}

static inline int64_t get_svarint(rbuf *r) { return unzz(get_varint(r)); }

static uint64_t get_u64le(rbuf *r) {
  if (r->len - r->pos < 8) {
    r->bad = true;
    r->pos = r->len;
    return 0;
  }
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; i++) v |= (uint64_t)r->p[r->pos + i] << (8 * i);
  r->pos += 8;
  return v;
}

/* ------------------------------------------------------------------------ */
/* rANS (J. Duda, "Asymmetric numeral systems: entropy coding combining       */
/* speed of Huffman coding with compression rate of arithmetic coding",       */
/* arXiv:1311.2540, 2013), in the streaming form with a 32-bit state kept in  */
/* [L, 256 L) and byte output. The encoder runs backwards and writes bytes    */
/* downwards from the end of a buffer so that the decoder reads forwards.     */
/* The encoder starts from state L; the decoder must end in state L having     */
/* consumed every byte, which doubles as an integrity check.                  */
/* ------------------------------------------------------------------------ */

typedef struct renc {
  uint32_t x;
  uint8_t *p;         /* next byte goes to *--p */
  const uint8_t *lim; /* lowest writable address */
  bool full;
} renc;

static inline void renc_emit(renc *e, uint32_t xmax) {
  while (e->x >= xmax) {
    if (e->p == e->lim) {
      e->full = true;
      e->x = RANS_L; /* keep the state sane; output is discarded anyway */
      return;
    }
    *--e->p = (uint8_t)e->x;
    e->x >>= 8;
  }
}

static inline void renc_put(renc *e, uint32_t start, uint32_t freq, unsigned sb) {
  renc_emit(e, freq << (31u - sb));
  uint32_t q = e->x / freq;
  e->x = (q << sb) + (e->x - q * freq) + start;
}

/* nb <= RAW_CHUNK raw bits, coded as a symbol of probability 2^-nb. */
static inline void renc_bits(renc *e, uint32_t bits, unsigned nb) {
  renc_emit(e, 1u << (31u - nb));
  e->x = (e->x << nb) | bits;
}

static inline void renc_flush(renc *e) {
  for (unsigned i = 0; i < 4; i++) {
    if (e->p == e->lim) {
      e->full = true;
      return;
    }
    *--e->p = (uint8_t)(e->x >> (8 * i));
  }
}

typedef struct rdec {
  uint32_t x;
  const uint8_t *p, *end;
  bool bad;
} rdec;

static inline void rdec_fill(rdec *d) {
  while (d->x < RANS_L) {
    if (d->p == d->end) {
      d->bad = true;
      d->x = RANS_L;
      return;
    }
    d->x = (d->x << 8) | *d->p++;
  }
}

static void rdec_init(rdec *d, const uint8_t *p, size_t len) {
  d->p = p;
  d->end = p + len;
  d->bad = len < 4;
  d->x = 0;
  if (!d->bad) {
    d->x = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    d->p += 4;
  }
  if (d->x < RANS_L) d->bad = true;
}

/* Decoding table: one entry per slot, sym | (freq-1) << 8 | (slot-cum) << 20. */
static inline unsigned rdec_sym(rdec *d, const uint32_t *tab, unsigned sb) {
  uint32_t e = tab[d->x & ((1u << sb) - 1u)];
  d->x = (((e >> 8) & 0xfffu) + 1u) * (d->x >> sb) + (e >> 20);
  rdec_fill(d);
  return e & 0xffu;
}

static inline uint32_t rdec_bits(rdec *d, unsigned nb) {
  uint32_t v = d->x & ((1u << nb) - 1u);
  d->x >>= nb;
  rdec_fill(d);
  return v;
}

static inline bool rdec_done(const rdec *d) { return !d->bad && d->x == RANS_L && d->p == d->end; }

/* ------------------------------------------------------------------------ */
/* Residual tokens. A residual r is coded as token r - lo when it lies in the */
/* window [lo, lo + K); otherwise as an escape token naming its side and the  */
/* bit length nb of its distance d from the window, followed by the nb - 1    */
/* bits of d below the leading one (the Elias-gamma idea, with the length     */
/* entropy-coded). Escape tokens exist only for classes the block uses.       */
/* ------------------------------------------------------------------------ */

typedef struct rtable {
  uint64_t lo;               /* window start, two's complement */
  uint32_t K;                /* window width; tokens K.. are escapes */
  uint32_t E;                /* number of escape classes */
  uint8_t cls[MAX_TOKENS];   /* escape token - K -> class */
  uint16_t freq[MAX_TOKENS]; /* per token */
  uint16_t cum[MAX_TOKENS];
  uint8_t tok_of_cls[ESC_CLASSES]; /* encoder: class -> token (0xff none) */
  bool flat;
  unsigned sb; /* probabilities in 1/2^sb */
} rtable;

/* Probability precision from the number of residuals: short blocks use 2^11
 * slots, which halves the decoder's table building and costs them next to
 * nothing; both sides derive it, so it is not stored. */
static inline unsigned rans_bits(size_t nres) { return nres < 256 ? 11u : RANS_MAXBITS; }

static inline unsigned esc_class(int64_t r, int64_t lo, uint32_t K, uint64_t *d) {
  if (r < lo) {
    *d = (uint64_t)lo - (uint64_t)r - 1;
    return bitlen(*d);
  }
  *d = (uint64_t)r - (uint64_t)lo - K;
  return 65u + bitlen(*d);
}

/* ------------------------------------------------------------------------ */
/* Sequence sources: timestamps as they are, or values as decimal integers    */
/* m = v * 10^k (exactness verified by detect_scale()).                      */
/* ------------------------------------------------------------------------ */

static const double P10[DEC_KMAX + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* Round half to even without libm: below 2^52 adding and subtracting 2^52
 * leaves the integer the FPU's default rounding picked; above, every double is
 * already an integer. */
static inline double round_even(double x) {
  double ax = fabs(x);
  if (ax < 4503599627370496.0) return copysign((ax + 4503599627370496.0) - 4503599627370496.0, x);
  return x;
}

/* m with v == m / 10^k in IEEE division, bit for bit; false if there is none. */
static inline bool to_decimal(double v, double p10, int64_t *m) {
  double r = round_even(v * p10);
  if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return false;
  *m = (int64_t)r;
  return dbits((double)*m / p10) == dbits(v);
}

/* Smallest k such that every value is exactly m_i / 10^k, or -1. */
static int detect_scale(const double *v, size_t n) {
  int k = 0;
  int64_t m;
  for (size_t i = 0; i < n;) {
    if (to_decimal(v[i], P10[k], &m)) {
      i++;
      continue;
    }
    /* the first scale at which this value is exact; earlier values must be
     * checked again at that scale (exact at k does not imply exact at k' > k
     * once m passes 2^53) */
    do {
      if (++k > DEC_KMAX) return -1;
    } while (!to_decimal(v[i], P10[k], &m));
    i = 0;
  }
  return k;
}

typedef struct src {
  const int64_t *ts; /* non-NULL: timestamps */
  const double *v;   /* else decimal values */
  double p10;
  size_t n;
} src;

/* x_i for i in [start, start + cnt), with x_i = x_0 for i < 0 (the history
 * every predictor starts from). */
static void fill(const src *s, ptrdiff_t start, size_t cnt, uint64_t *xb) {
  size_t j0 = start < 0 ? (size_t)-start : 0;
  if (j0 > cnt) j0 = cnt;
  size_t first = start < 0 ? 0 : (size_t)start; /* index of xb[j0] */
  if (s->ts) {
    for (size_t j = 0; j < j0; j++) xb[j] = (uint64_t)s->ts[0];
    const int64_t *t = s->ts + first;
    for (size_t j = j0; j < cnt; j++) xb[j] = (uint64_t)t[j - j0];
  } else {
    const double p10 = s->p10;
    for (size_t j = 0; j < j0; j++) xb[j] = (uint64_t)(int64_t)round_even(s->v[0] * p10);
    const double *v = s->v + first;
    for (size_t j = j0; j < cnt; j++) xb[j] = (uint64_t)(int64_t)round_even(v[j - j0] * p10);
  }
}

/* Predicted value from h[-1], h[-2], ... (h points at x_i). */
static inline __attribute__((always_inline)) uint64_t predict(int p, const uint64_t *h) {
  switch (p) {
  case P_FOR:
    return 0;
  case P_DELTA:
    return h[-1];
  case P_DOD:
    return 2 * h[-1] - h[-2];
  case P_AVG2:
    return asr(h[-1] + h[-2] + 1, 1);
  case P_AVG4:
    return asr(h[-1] + h[-2] + h[-3] + h[-4] + 2, 2);
  default:
    return asr(h[-1] + h[-2] + h[-3] + h[-4] + h[-5] + h[-6] + h[-7] + h[-8] + 4, 3);
  }
}

/* Residuals (x_i - predicted) / g for i in [start, start + cnt), start >= 1. */
static void residuals(const src *s, int p, uint64_t g, size_t start, size_t cnt, int64_t *res) {
  uint64_t xb[PRED_HIST + CHUNK];
  fill(s, (ptrdiff_t)start - PRED_HIST, cnt + PRED_HIST, xb);
  const uint64_t *x = xb + PRED_HIST;
  switch (p) {
#define RESID_CASE(P)                                                        \
  case P:                                                                    \
    for (size_t j = 0; j < cnt; j++) res[j] = u2i(x[j] - predict(P, x + j)); \
    break;
    RESID_CASE(P_FOR)
    RESID_CASE(P_DELTA)
    RESID_CASE(P_DOD)
    RESID_CASE(P_AVG2)
    RESID_CASE(P_AVG4)
    RESID_CASE(P_AVG8)
#undef RESID_CASE
  }
  if (g != 1)
    for (size_t j = 0; j < cnt; j++) res[j] /= (int64_t)g;
}

/* ------------------------------------------------------------------------ */
/* Modelling: per predictor, a histogram of residuals near a centre, then the */
/* window and table that minimise an entropy estimate of the coded size.      */
/* ------------------------------------------------------------------------ */

typedef struct pstat {
  uint64_t g;     /* gcd of |residual|, 0 while all are zero */
  int64_t center; /* histogram bin HIST_HALF holds this residual */
  int64_t first;  /* first residual, for the all-equal test */
  bool allsame;
  uint64_t oor_n;  /* residuals outside the histogram */
  double oor_bits; /* their escape payload bits, estimated */
  uint32_t hist[HIST_BINS];
} pstat;

static void stat_init(pstat *st, int64_t center) {
  st->center = center;
  st->oor_n = 0;
  st->oor_bits = 0;
  memset(st->hist, 0, sizeof st->hist);
}

/* A cheap size proxy to rank predictors before the exact-ish estimate: bits
 * of a Gaussian with the residuals' variance, plus the escapes. */
static double stat_proxy(const pstat *st, uint64_t n) {
  int64_t s1 = 0, s2 = 0; /* at most 2^20 x 2^14: no overflow */
  for (int j = 0; j < HIST_BINS; j++) {
    int64_t x = j - HIST_HALF, c = st->hist[j];
    s1 += c * x;
    s2 += c * x * x;
  }
  double nin = (double)(n - st->oor_n), m1 = nin > 0 ? (double)s1 / nin : 0;
  double var = nin > 0 ? (double)s2 / nin - m1 * m1 : 0;
  return nin * 0.5 * lg2(1.0 + 17.08 * var) + st->oor_bits + 2.0 * (double)st->oor_n;
}

typedef struct choice {
  int pred;
  uint64_t g;
  int coder;
  int64_t lo;
  uint32_t K;
  bool flat;
  double bits;
} choice;

static inline void stat_add(pstat *st, int64_t r) {
  uint64_t b = (uint64_t)r - (uint64_t)st->center + HIST_HALF;
  if (__builtin_expect(b < HIST_BINS, 1)) {
    st->hist[b]++;
  } else {
    uint64_t d =
        r < st->center ? (uint64_t)st->center - (uint64_t)r : (uint64_t)r - (uint64_t)st->center;
    st->oor_n++;
    st->oor_bits += (double)(bitlen(d) - 1);
  }
}

/* Estimated bits of coding the residuals summarised in st (n of them) with
 * the best window; fills the window fields of *c. Candidate windows are cut
 * where the histogram's tails pass a few fractions of the mass, and each is
 * priced both with a table (empirical entropy + 8 bits a table entry) and
 * flat (log2 K a residual); residuals outside pay an escape. */
static double choose_window(const pstat *st, uint64_t n, choice *c) {
  uint32_t C[HIST_BINS + 1]; /* prefix sums: count, */
  double CL[HIST_BINS + 1];  /* count * log2(count), */
  uint32_t B[HIST_BINS + 1]; /* escape payload bits */
  int jlo = 0, jhi = HIST_BINS - 1;
  while (jlo < HIST_BINS && !st->hist[jlo]) jlo++;
  while (jhi > jlo && !st->hist[jhi]) jhi--;
  const double N = (double)n;
  const double oor =
      st->oor_bits + (st->oor_n ? (double)st->oor_n * lg2(N / (double)st->oor_n) + 16 : 0);
  c->lo = st->center;
  c->K = 0;
  c->flat = false;
  if (jlo == HIST_BINS) return oor;

  for (int j = 0; j <= jlo; j++) {
    C[j] = B[j] = 0;
    CL[j] = 0;
  }
  for (int j = jlo; j <= jhi; j++) {
    uint32_t h = st->hist[j];
    unsigned nb = bitlen((uint64_t)(j < HIST_HALF ? HIST_HALF - j : j - HIST_HALF));
    C[j + 1] = C[j] + h;
    B[j + 1] = B[j] + h * (nb > 1 ? nb - 1 : 0);
    CL[j + 1] = CL[j];
    if (h > 1) CL[j + 1] += h * lg2(h);
  }
  for (int j = jhi + 1; j < HIST_BINS; j++) {
    C[j + 1] = C[j];
    B[j + 1] = B[j];
    CL[j + 1] = CL[j];
  }
  const double NH = C[HIST_BINS], lgN = lg2(N), BT = B[HIST_BINS] + st->oor_bits;

  /* no window at all: every residual is an escape, classed by the bit
   * length of its distance from the centre (bins [HALF + 2^(b-1), HALF + 2^b)
   * above, mirrored below) */
  double best = oor + B[HIST_BINS];
  for (int side = 0; side < 2; side++) {
    for (int nb = 0; nb <= 8; nb++) {
      int from = nb ? 1 << (nb - 1) : 0, to = 1 << nb; /* distances [from, to) */
      int lo = side ? HIST_HALF + from : HIST_HALF - to;
      int hi = side ? HIST_HALF + to : HIST_HALF - from; /* bins [lo, hi) */
      if (lo < 0) lo = 0;
      if (hi > HIST_BINS) hi = HIST_BINS;
      if (hi <= lo) continue;
      double cnt = (double)(C[hi] - C[lo]);
      if (cnt > 0) best += cnt * lg2(N / cnt) + 16;
    }
  }

  static const double q[] = {0, 0.0005, 0.002, 0.01, 0.03};
  int lc[5], hc[5];
  for (int t = 0, j = jlo; t < 5; t++) {
    while (j < jhi && C[j + 1] - C[jlo] <= q[t] * NH) j++;
    lc[t] = j;
  }
  for (int t = 0, j = jhi; t < 5; t++) {
    while (j > jlo && (double)(C[jhi + 1] - C[j]) <= q[t] * NH) j--;
    hc[t] = j;
  }
  for (int a = 0; a < 5; a++) {
    if (a && lc[a] == lc[a - 1]) continue;
    for (int b = 0; b < 5; b++) {
      if (b && hc[b] == hc[b - 1]) continue;
      int lo = lc[a], hi = hc[b];
      if (hi < lo || (unsigned)(hi - lo + 1) > WINDOW_MAX) continue;
      double K = (double)(hi - lo + 1);
      double nin = (double)(C[hi + 1] - C[lo]), nout = N - nin;
      if (nin <= 0) continue;
      double esc = 0;
      if (nout > 0) esc = nout * (lg2(N / nout) + 1.5) + (BT - (double)(B[hi + 1] - B[lo])) + 24;
      double ex = nin * lgN - (CL[hi + 1] - CL[lo]) + 8 * K + 16 + esc;
      double fl = nin * (lg2(N / nin) + lg2(K)) + 8 + esc;
      if (ex < best) {
        best = ex;
        c->lo = u2i((uint64_t)st->center + (uint64_t)(int64_t)(lo - HIST_HALF));
        c->K = (uint32_t)K;
        c->flat = false;
      }
      if (fl < best) {
        best = fl;
        c->lo = u2i((uint64_t)st->center + (uint64_t)(int64_t)(lo - HIST_HALF));
        c->K = (uint32_t)K;
        c->flat = true;
      }
    }
  }
  return best;
}

/* Chooses predictor, scale and coder for x_1..x_{n-1} among the predictors
 * in mask. */
static void choose(const src *s, unsigned mask, choice *best) {
  const size_t n = s->n;
  const uint64_t nres = n - 1;
  pstat st[P_COUNT];
  uint64_t xb[PRED_HIST + CHUNK];
  int64_t x0;
  fill(s, 0, 1, xb);
  x0 = u2i(xb[0]);

  for (int p = 0; p < P_COUNT; p++) {
    if (!(mask & (1u << p))) continue;
    st[p].g = 0;
    st[p].allsame = true;
    stat_init(&st[p], p == P_FOR ? x0 : 0);
  }
  /* pass 1: gcd of the residuals and histograms assuming gcd 1 */
  bool gdone = false;
  int64_t res[CHUNK];
  for (size_t start = 1; start < n; start += CHUNK) {
    size_t cnt = n - start < CHUNK ? n - start : CHUNK;
    fill(s, (ptrdiff_t)start - PRED_HIST, cnt + PRED_HIST, xb);
    const uint64_t *x = xb + PRED_HIST;
    bool anyg = false;
    for (int p = 0; p < P_COUNT; p++) {
      if (!(mask & (1u << p))) continue;
      pstat *sp = &st[p];
      switch (p) {
#define RESID_CASE(P)                                                        \
  case P:                                                                    \
    for (size_t j = 0; j < cnt; j++) res[j] = u2i(x[j] - predict(P, x + j)); \
    break;
        RESID_CASE(P_FOR)
        RESID_CASE(P_DELTA)
        RESID_CASE(P_DOD)
        RESID_CASE(P_AVG2)
        RESID_CASE(P_AVG4)
        RESID_CASE(P_AVG8)
#undef RESID_CASE
      }
      if (start == 1) sp->first = res[0];
      int64_t diff = 0;
      for (size_t j = 0; j < cnt; j++) {
        stat_add(sp, res[j]);
        diff |= res[j] ^ sp->first;
      }
      if (diff) sp->allsame = false;
      if (!gdone && sp->g != 1) {
        for (size_t j = 0; j < cnt && sp->g != 1; j++) {
          uint64_t a = absu(res[j]);
          if (sp->g == 0)
            sp->g = a;
          else if (a % sp->g)
            sp->g = gcd_u64(sp->g, a);
        }
        if (sp->g != 1) anyg = true;
      }
    }
    if (!anyg) gdone = true;
  }
  /* pass 2, only for predictors whose residuals share a factor (timestamps
   * in whole seconds or minutes, values in steps of 5, ...) */
  for (int p = 0; p < P_COUNT; p++) {
    if (!(mask & (1u << p))) continue;
    if (st[p].g == 0 || st[p].g > (uint64_t)INT64_MAX / 2) st[p].g = 1;
    if (st[p].g == 1 || st[p].allsame) continue;
    stat_init(&st[p], p == P_FOR ? x0 / (int64_t)st[p].g : 0);
    for (size_t start = 1; start < n; start += CHUNK) {
      size_t cnt = n - start < CHUNK ? n - start : CHUNK;
      residuals(s, p, st[p].g, start, cnt, res);
      for (size_t j = 0; j < cnt; j++) stat_add(&st[p], res[j]);
    }
  }

  /* the full estimate only for the three best by the proxy */
  double proxy[P_COUNT];
  unsigned keep = 0;
  for (int p = 0; p < P_COUNT; p++)
    proxy[p] = (mask & (1u << p)) ? (st[p].allsame ? -1.0 : stat_proxy(&st[p], nres)) : HUGE_VAL;
  for (int kept = 0; kept < 3; kept++) {
    int m = -1;
    for (int p = 0; p < P_COUNT; p++)
      if (proxy[p] < HUGE_VAL && (m < 0 || proxy[p] < proxy[m])) m = p;
    if (m < 0) break;
    keep |= 1u << m;
    proxy[m] = HUGE_VAL;
  }
  mask = keep;
  best->bits = HUGE_VAL;
  for (int p = 0; p < P_COUNT; p++) {
    if (!(mask & (1u << p))) continue;
    choice c;
    c.pred = p;
    c.g = st[p].g;
    if (st[p].allsame) {
      c.coder = CODER_CONST;
      c.g = 1;
      c.lo = st[p].first;
      c.K = 0;
      c.flat = false;
      c.bits = 0;
    } else {
      c.coder = CODER_RANS;
      c.bits = choose_window(&st[p], nres, &c);
    }
    if (c.bits < best->bits) *best = c;
  }
}

/* ------------------------------------------------------------------------ */
/* rANS tables                                                               */
/* ------------------------------------------------------------------------ */

/* Scales counts (summing to n) to frequencies summing to M, every used token
 * keeping at least 1. */
static void normalize(const uint64_t *cnt, unsigned ntok, uint64_t n, uint16_t *freq, uint32_t M) {
  uint32_t sum = 0;
  unsigned big = 0;
  for (unsigned t = 0; t < ntok; t++) {
    uint32_t f = 0;
    if (cnt[t]) {
      f = (uint32_t)((cnt[t] * M + n / 2) / n);
      if (f == 0) f = 1;
    }
    freq[t] = (uint16_t)f;
    sum += f;
    if (f > freq[big]) big = t;
  }
  /* rounding up rare tokens may overshoot: take it back from the largest
   * frequencies, where it costs least (there are at most 256 tokens, so a
   * frequency above 1 always exists) */
  while (sum > M) {
    unsigned m = 0;
    for (unsigned t = 1; t < ntok; t++)
      if (freq[t] > freq[m]) m = t;
    uint32_t take = sum - M;
    if (take > freq[m] / 2u) take = freq[m] / 2u;
    freq[m] = (uint16_t)(freq[m] - take);
    sum -= take;
  }
  freq[big] = (uint16_t)(freq[big] + (M - sum));
}

static void table_cum(rtable *t) {
  uint32_t c = 0;
  for (uint32_t i = 0; i < t->K + t->E; i++) {
    t->cum[i] = (uint16_t)c;
    c += t->freq[i];
  }
}

/* Table frequencies travel as one byte each, a float with a 4-bit mantissa
 * (relative error under 1/32, which costs well under 0.01 bit a symbol);
 * both sides then rescale the weights with normalize(), in integers, so they
 * agree exactly. */
static inline uint32_t wdec(uint8_t b) { return b < 16 ? b : (16u + (b & 15u)) << ((b >> 4) - 1); }

static uint8_t wenc(uint32_t f) { /* f <= 2^RANS_MAXBITS */
  if (f < 16) return (uint8_t)f;
  unsigned e = bitlen(f) - 5; /* f in [16 << e, 32 << e) */
  uint32_t m = (f + ((1u << e) >> 1)) >> e;
  if (m == 32) {
    m = 16;
    e++;
  }
  return (uint8_t)((e + 1) << 4 | (m - 16));
}

/* Frequencies of the flat model: escapes as given, the window shares the rest
 * equally. */
static bool flat_freqs(rtable *t, const uint8_t *wesc) {
  uint32_t esc = 0;
  for (uint32_t e = 0; e < t->E; e++) {
    t->freq[t->K + e] = (uint16_t)wdec(wesc[e]);
    esc += t->freq[t->K + e];
  }
  const uint32_t M = 1u << t->sb;
  if (t->K == 0 || esc > M - t->K) return false;
  uint32_t rem = M - esc;
  for (uint32_t i = 0; i < t->K; i++) t->freq[i] = (uint16_t)(rem / t->K + (i < rem % t->K));
  return true;
}

static bool explicit_freqs(rtable *t, const uint8_t *w) {
  uint64_t wt[MAX_TOKENS], sum = 0;
  for (uint32_t i = 0; i < t->K + t->E; i++) sum += wt[i] = wdec(w[i]);
  if (sum == 0) return false;
  normalize(wt, t->K + t->E, sum, t->freq, 1u << t->sb);
  return true;
}

/* Counts the tokens of the chosen model and builds the table; w gets the
 * weight bytes to store. */
static bool build_table(const src *s, const choice *c, rtable *t, uint8_t *w) {
  uint64_t cnt[MAX_TOKENS + ESC_CLASSES];
  uint64_t ccls[ESC_CLASSES];
  int64_t res[CHUNK];
  memset(cnt, 0, sizeof cnt);
  memset(ccls, 0, sizeof ccls);
  const int64_t lo = c->lo;
  const uint32_t K = c->K;
  for (size_t start = 1; start < s->n; start += CHUNK) {
    size_t m = s->n - start < CHUNK ? s->n - start : CHUNK;
    residuals(s, c->pred, c->g, start, m, res);
    for (size_t j = 0; j < m; j++) {
      uint64_t u = (uint64_t)res[j] - (uint64_t)lo;
      if (u < K) {
        cnt[u]++;
      } else {
        uint64_t d;
        ccls[esc_class(res[j], lo, K, &d)]++;
      }
    }
  }
  t->lo = (uint64_t)lo;
  t->K = K;
  t->E = 0;
  t->flat = c->flat;
  t->sb = rans_bits(s->n - 1);
  memset(t->tok_of_cls, 0xff, sizeof t->tok_of_cls);
  for (unsigned k = 0; k < ESC_CLASSES; k++) {
    if (!ccls[k]) continue;
    if (K + t->E >= MAX_TOKENS) return false;
    t->cls[t->E] = (uint8_t)k;
    t->tok_of_cls[k] = (uint8_t)(K + t->E);
    cnt[K + t->E] = ccls[k];
    t->E++;
  }
  const uint32_t ntok = K + t->E;
  uint16_t f[MAX_TOKENS];
  normalize(cnt, ntok, s->n - 1, f, 1u << t->sb);
  for (uint32_t i = 0; i < ntok; i++) w[i] = wenc(f[i]);
  bool ok = t->flat ? flat_freqs(t, w + K) : explicit_freqs(t, w);
  if (!ok) { /* escapes too heavy for a flat window: give every token its own */
    t->flat = false;
    ok = explicit_freqs(t, w);
  }
  table_cum(t);
  return ok;
}

static void write_table(wbuf *w, const rtable *t, const uint8_t *wt) {
  put_svarint(w, u2i(t->lo));
  if (!t->flat)
    for (uint32_t i = 0; i < t->K; i++) put_u8(w, wt[i]);
  put_varint(w, t->E);
  for (uint32_t e = 0; e < t->E; e++) {
    put_u8(w, t->cls[e]);
    put_u8(w, wt[t->K + e]);
  }
}

static bool read_table(rbuf *r, rtable *t, uint32_t K, bool flat, unsigned sb) {
  uint8_t wt[MAX_TOKENS];
  t->sb = sb;
  t->lo = (uint64_t)get_svarint(r);
  t->K = K;
  t->flat = flat;
  if (K > WINDOW_MAX) return false;
  if (!flat)
    for (uint32_t i = 0; i < K; i++) wt[i] = get_u8(r);
  uint64_t E = get_varint(r);
  if (r->bad || E > MAX_TOKENS - K || K + E == 0) return false;
  t->E = (uint32_t)E;
  for (uint32_t e = 0; e < t->E; e++) {
    uint8_t cl = get_u8(r);
    if (cl >= ESC_CLASSES) return false;
    t->cls[e] = cl;
    wt[K + e] = get_u8(r);
  }
  if (r->bad) return false;
  if (!(flat ? flat_freqs(t, wt + K) : explicit_freqs(t, wt))) return false;
  table_cum(t);
  return true;
}

static void build_slots(const rtable *t, uint32_t *slots) {
  for (uint32_t s = 0; s < t->K + t->E; s++) {
    uint32_t f = t->freq[s], c = t->cum[s];
    if (!f) continue;
    uint32_t base = s | (f - 1u) << 8;
    for (uint32_t i = 0; i < f; i++) slots[c + i] = base | i << 20;
  }
}

/* ------------------------------------------------------------------------ */
/* Integer sequence sections                                                 */
/* ------------------------------------------------------------------------ */

/* rANS-codes residuals 1..n-1 backwards into [lim, end); returns the first
 * byte of the stream, or NULL if it did not fit. */
static uint8_t *rans_encode(const src *s, const choice *c, const rtable *t, uint8_t *lim,
                            uint8_t *end) {
  renc e = {RANS_L, end, lim, false};
  int64_t res[CHUNK];
  const int64_t lo = u2i(t->lo);
  const uint32_t K = t->K;
  size_t n = s->n;
  size_t last = n - 1; /* residual indices 1..last */
  size_t nchunks = (last + CHUNK - 1) / CHUNK;
  for (size_t ci = nchunks; ci-- > 0 && !e.full;) {
    size_t start = 1 + ci * CHUNK;
    size_t cnt = n - start < CHUNK ? n - start : CHUNK;
    residuals(s, c->pred, c->g, start, cnt, res);
    for (size_t j = cnt; j-- > 0;) {
      int64_t r = res[j];
      uint64_t u = (uint64_t)r - (uint64_t)lo;
      if (u < K) {
        renc_put(&e, t->cum[u], t->freq[u], t->sb);
        continue;
      }
      uint64_t d;
      unsigned cl = esc_class(r, lo, K, &d);
      unsigned nb = cl >= 65 ? cl - 65 : cl;
      if (nb > 1) { /* the bits below the leading one, low chunk read first */
        unsigned extra = nb - 1;
        unsigned nch = (extra + RAW_CHUNK - 1) / RAW_CHUNK;
        for (unsigned k = nch; k-- > 0;) {
          unsigned sh = k * RAW_CHUNK;
          unsigned w = extra - sh < RAW_CHUNK ? extra - sh : RAW_CHUNK;
          renc_bits(&e, (uint32_t)((d >> sh) & ((1u << w) - 1u)), w);
        }
      }
      unsigned tok = t->tok_of_cls[cl];
      renc_put(&e, t->cum[tok], t->freq[tok], t->sb);
    }
  }
  renc_flush(&e);
  return e.full ? NULL : e.p;
}

/*
 * Writes the coder part of a sequence section: residuals 1..n-1 of source s
 * under choice c. If `last` is false the rANS stream is preceded by its
 * length. Falls back to raw 8-byte residuals when modelling does not pay, so
 * that the section never exceeds 8 bytes a residual plus a few bytes.
 */
static void write_coder(wbuf *w, const src *s, choice *c, bool last) {
  const size_t nres = s->n - 1;
  int64_t res[CHUNK];
  if (nres == 0) return;
  if (c->coder == CODER_CONST) {
    put_varint(w, CODER_CONST);
    put_svarint(w, c->lo);
    return;
  }
  if (c->coder == CODER_RANS) {
    rtable t;
    uint8_t wt[MAX_TOKENS];
    size_t mark = w->pos;
    if (build_table(s, c, &t, wt)) {
      put_varint(w, (uint64_t)CODER_RANS | (uint64_t)t.flat << 2 | (uint64_t)t.K << 3);
      write_table(w, &t, wt);
      /* the stream is written backwards from the end of the free space, then
       * moved down behind its length (memmove: the two may overlap) */
      size_t rawsize = 8 * nres;
      if (!w->full) {
        uint8_t *end = w->p + w->cap;
        uint8_t *beg = rans_encode(s, c, &t, w->p + w->pos, end);
        size_t slen = beg ? (size_t)(end - beg) : 0;
        size_t lv = last ? 0 : varint_len(slen);
        if (beg && slen + lv + (w->pos - mark) < rawsize) {
          if (lv + slen > w->cap - w->pos) {
            w->full = true;
            return;
          }
          memmove(w->p + w->pos + lv, beg, slen);
          if (!last) put_varint(w, slen);
          w->pos += slen;
          return;
        }
      }
      w->pos = mark;
      w->full = false;
    }
    c->coder = CODER_RAW;
  }
  if (c->coder == CODER_VARINT) {
    /* only for short sequences; still bounded by the raw size */
    size_t bytes = 0;
    for (size_t start = 1; start < s->n; start += CHUNK) {
      size_t cnt = s->n - start < CHUNK ? s->n - start : CHUNK;
      residuals(s, c->pred, c->g, start, cnt, res);
      for (size_t j = 0; j < cnt; j++) bytes += varint_len(zz(res[j]));
    }
    if (bytes <= 8 * nres) {
      put_varint(w, CODER_VARINT);
      for (size_t start = 1; start < s->n && !w->full; start += CHUNK) {
        size_t cnt = s->n - start < CHUNK ? s->n - start : CHUNK;
        residuals(s, c->pred, c->g, start, cnt, res);
        for (size_t j = 0; j < cnt; j++) put_svarint(w, res[j]);
      }
      return;
    }
    c->coder = CODER_RAW;
  }
  put_varint(w, CODER_RAW);
  for (size_t start = 1; start < s->n && !w->full; start += CHUNK) {
    size_t cnt = s->n - start < CHUNK ? s->n - start : CHUNK;
    residuals(s, c->pred, c->g, start, cnt, res);
    for (size_t j = 0; j < cnt; j++) put_u64le(w, (uint64_t)res[j]);
  }
}

/* Sink for decoded x_i: timestamps, or decimals turned back into doubles. */
enum { OUT_TS, OUT_VAL };

typedef struct seqout {
  int64_t *ts;
  double *v;
  double p10;
} seqout;

static inline __attribute__((always_inline)) void emit(int out, const seqout *o, size_t i,
                                                       uint64_t x) {
  if (out == OUT_TS)
    o->ts[i] = u2i(x);
  else
    o->v[i] = (double)u2i(x) / o->p10;
}

/* Residual source for decoding: yields r_1..r_{n-1}. */
typedef struct rsrc {
  int coder;
  rbuf *r; /* VARINT, RAW */
  rdec d;  /* RANS */
  const rtable *t;
  const uint32_t *slots;
  int64_t cval; /* CONST */
} rsrc;

static inline __attribute__((always_inline)) uint64_t next_resid(int coder, rsrc *rs) {
  switch (coder) {
  case CODER_CONST:
    return (uint64_t)rs->cval;
  case CODER_VARINT:
    return (uint64_t)get_svarint(rs->r);
  case CODER_RAW:
    return get_u64le(rs->r);
  default: {
    unsigned sym = rdec_sym(&rs->d, rs->slots, rs->t->sb);
    const rtable *t = rs->t;
    if (sym < t->K) return t->lo + sym;
    if (sym >= t->K + t->E) {
      rs->d.bad = true;
      return 0;
    }
    unsigned cl = t->cls[sym - t->K];
    unsigned nb = cl >= 65 ? cl - 65 : cl;
    uint64_t d = nb ? (uint64_t)1 << (nb - 1) : 0;
    if (nb > 1) {
      unsigned extra = nb - 1;
      for (unsigned sh = 0; sh < extra; sh += RAW_CHUNK) {
        unsigned w = extra - sh < RAW_CHUNK ? extra - sh : RAW_CHUNK;
        d |= (uint64_t)rdec_bits(&rs->d, w) << sh;
      }
    }
    return cl >= 65 ? t->lo + t->K + d : t->lo - 1 - d;
  }
  }
}

/* Inverse of the predictors; running sums replace the encoder's explicit
 * ones (equal modulo 2^64, which is all that matters). */
static inline __attribute__((always_inline)) void decode_loop(int out, int pred, int coder,
                                                              rsrc *rs, const seqout *o, size_t n,
                                                              uint64_t x0, uint64_t g) {
  uint64_t ring[8]; /* ring[j & 7] = x_j, x_j = x_0 for j < 0 */
  uint64_t h1 = x0, h2 = x0, sum4 = 4 * x0, sum8 = 8 * x0;
  for (int i = 0; i < 8; i++) ring[i] = x0;
  emit(out, o, 0, x0);
  for (size_t i = 1; i < n; i++) {
    uint64_t p;
    switch (pred) {
    case P_FOR:
      p = 0;
      break;
    case P_DELTA:
      p = h1;
      break;
    case P_DOD:
      p = 2 * h1 - h2;
      break;
    case P_AVG2:
      p = asr(h1 + h2 + 1, 1);
      break;
    case P_AVG4:
      p = asr(sum4 + 2, 2);
      break;
    default:
      p = asr(sum8 + 4, 3);
      break;
    }
    uint64_t x = p + next_resid(coder, rs) * g;
    if (pred == P_AVG4 || pred == P_AVG8) {
      sum8 += x - ring[i & 7];
      sum4 += x - ring[(i - 4) & 7];
      ring[i & 7] = x;
    }
    h2 = h1;
    h1 = x;
    emit(out, o, i, x);
  }
}

/* The rANS loops are specialised per predictor (the hot path: whole blocks
 * after compaction); the short varint/raw/constant sequences share one
 * generic loop per output. */
static void decode_dispatch(int out, int pred, int coder, rsrc *rs, const seqout *o, size_t n,
                            uint64_t x0, uint64_t g) {
#define DL(O, P)                                    \
  if (out == (O) && pred == (P)) {                  \
    decode_loop(O, P, CODER_RANS, rs, o, n, x0, g); \
    return;                                         \
  }
  if (coder == CODER_RANS) {
    DL(OUT_TS, P_DELTA)
    DL(OUT_TS, P_DOD)
    DL(OUT_VAL, P_FOR)
    DL(OUT_VAL, P_DELTA)
    DL(OUT_VAL, P_DOD)
    DL(OUT_VAL, P_AVG2)
    DL(OUT_VAL, P_AVG4)
    DL(OUT_VAL, P_AVG8)
  }
#undef DL
  if (out == OUT_TS)
    decode_loop(OUT_TS, pred, coder, rs, o, n, x0, g);
  else
    decode_loop(OUT_VAL, pred, coder, rs, o, n, x0, g);
}

/* Reads the coder part of a sequence section and produces x_0..x_{n-1}. */
static bool read_coder(rbuf *r, const seqout *o, int out, int pred, size_t n, uint64_t x0,
                       uint64_t g, bool last) {
  rsrc rs;
  rtable t;
  uint32_t slots[1u << RANS_MAXBITS];
  memset(&rs, 0, sizeof rs);
  if (n == 1) {
    emit(out, o, 0, x0);
    return true;
  }
  uint64_t hdr = get_varint(r);
  if (r->bad) return false;
  rs.coder = (int)(hdr & 3);
  rs.r = r;
  rs.t = &t;
  rs.slots = slots;
  rs.cval = 0;
  if (rs.coder == CODER_CONST) {
    if (hdr != CODER_CONST) return false;
    rs.cval = get_svarint(r);
    if (r->bad) return false;
    g = 1;
  } else if (rs.coder == CODER_VARINT || rs.coder == CODER_RAW) {
    if (hdr >> 2) return false;
    /* each residual needs at least one (eight) byte(s) */
    size_t need = rs.coder == CODER_RAW ? 8 : 1;
    if ((r->len - r->pos) / need < n - 1) return false;
  } else {
    uint64_t K = hdr >> 3;
    if (K > WINDOW_MAX) return false;
    if (!read_table(r, &t, (uint32_t)K, (hdr >> 2) & 1, rans_bits(n - 1))) return false;
    size_t slen = r->len - r->pos;
    if (!last) {
      uint64_t l = get_varint(r);
      if (r->bad || l > r->len - r->pos) return false;
      slen = (size_t)l;
    }
    build_slots(&t, slots);
    rdec_init(&rs.d, r->p + r->pos, slen);
    r->pos += slen;
    if (rs.d.bad) return false;
  }
  decode_dispatch(out, pred, rs.coder, &rs, o, n, x0, g);
  if (rs.coder == CODER_RANS) return rdec_done(&rs.d);
  return !r->bad;
}

/* ------------------------------------------------------------------------ */
/* Gorilla XOR for values that are not short decimals (T. Pelkonen et al.,    */
/* "Gorilla: A Fast, Scalable, In-Memory Time Series Database", VLDB 2015,    */
/* section 4.1.2): first value verbatim; then '0' for an unchanged value,     */
/* '10' + the meaningful bits when the XOR fits the previous window of        */
/* leading/trailing zeros, else '11' + 5 bits leading zeros + 6 bits length   */
/* + the meaningful bits.                                                     */
/* ------------------------------------------------------------------------ */

typedef struct bitw {
  uint8_t *p, *end;
  uint64_t acc;
  unsigned n;
  bool full;
} bitw;

static inline void bw_put(bitw *w, uint64_t v, unsigned nb) { /* nb <= 32 */
  w->acc = (w->acc << nb) | v;
  w->n += nb;
  while (w->n >= 8) {
    w->n -= 8;
    if (w->p == w->end) {
      w->full = true;
      return;
    }
    *w->p++ = (uint8_t)(w->acc >> w->n);
  }
}

static inline void bw_put64(bitw *w, uint64_t v, unsigned nb) { /* nb <= 64 */
  if (nb > 32) {
    bw_put(w, v >> 32, nb - 32);
    nb = 32;
  }
  bw_put(w, v & ((nb == 32) ? 0xffffffffull : ((1ull << nb) - 1)), nb);
}

static inline void bw_flush(bitw *w) {
  if (w->n) bw_put(w, 0, 8 - w->n);
}

typedef struct bitr {
  const uint8_t *p, *end;
  uint64_t acc;
  unsigned n;
  bool bad;
} bitr;

static inline uint64_t br_get(bitr *r, unsigned nb) { /* nb <= 32 */
  while (r->n < nb) {
    if (r->p == r->end) {
      r->bad = true;
      return 0;
    }
    r->acc = (r->acc << 8) | *r->p++;
    r->n += 8;
  }
  r->n -= nb;
  return (r->acc >> r->n) & ((1ull << nb) - 1);
}

static inline uint64_t br_get64(bitr *r, unsigned nb) {
  uint64_t hi = 0;
  if (nb > 32) {
    hi = br_get(r, nb - 32) << 32;
    nb = 32;
  }
  return hi | br_get(r, nb);
}

/* Size in bytes of xor_encode()'s output, without writing it. */
static size_t xor_size(const double *v, size_t n) {
  uint64_t bits = 64, prev = dbits(v[0]);
  unsigned plead = 65, ptrail = 0;
  for (size_t i = 1; i < n; i++) {
    uint64_t cur = dbits(v[i]), x = cur ^ prev;
    prev = cur;
    if (!x) {
      bits++;
      continue;
    }
    unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
    if (lead > 31) lead = 31;
    if (plead <= 64 && lead >= plead && trail >= ptrail) {
      bits += 2 + 64 - plead - ptrail;
    } else {
      bits += 13 + 64 - lead - trail;
      plead = lead;
      ptrail = trail;
    }
  }
  return (size_t)((bits + 7) / 8);
}

/* Returns bytes written, or 0 if it did not fit in [p, end). */
static size_t xor_encode(const double *v, size_t n, uint8_t *p, uint8_t *end) {
  bitw w = {p, end, 0, 0, false};
  uint64_t prev = dbits(v[0]);
  unsigned plead = 65, ptrail = 0; /* no window yet */
  bw_put64(&w, prev, 64);
  for (size_t i = 1; i < n && !w.full; i++) {
    uint64_t cur = dbits(v[i]), x = cur ^ prev;
    prev = cur;
    if (!x) {
      bw_put(&w, 0, 1);
      continue;
    }
    unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
    if (lead > 31) lead = 31;
    if (plead <= 64 && lead >= plead && trail >= ptrail) {
      bw_put(&w, 2, 2);
      bw_put64(&w, x >> ptrail, 64 - plead - ptrail);
    } else {
      unsigned len = 64 - lead - trail;
      bw_put(&w, 3, 2);
      bw_put(&w, lead, 5);
      bw_put(&w, len & 63, 6);
      bw_put64(&w, x >> trail, len);
      plead = lead;
      ptrail = trail;
    }
  }
  bw_flush(&w);
  return w.full ? 0 : (size_t)(w.p - p);
}

static bool xor_decode(const uint8_t *p, size_t len, double *v, size_t n) {
  bitr r = {p, p + len, 0, 0, false};
  uint64_t prev = br_get64(&r, 64);
  unsigned plead = 65, ptrail = 0;
  v[0] = bitsd(prev);
  for (size_t i = 1; i < n && !r.bad; i++) {
    if (br_get(&r, 1)) {
      if (br_get(&r, 1)) {
        unsigned lead = (unsigned)br_get(&r, 5), len6 = (unsigned)br_get(&r, 6);
        unsigned l = len6 ? len6 : 64;
        if (lead + l > 64) return false;
        plead = lead;
        ptrail = 64 - lead - l;
      } else if (plead > 64) {
        return false;
      }
      prev ^= br_get64(&r, 64 - plead - ptrail) << ptrail;
    }
    v[i] = bitsd(prev);
  }
  /* only zero padding may follow, within the last byte */
  return !r.bad && r.p == r.end && (r.acc & ((1ull << r.n) - 1)) == 0;
}

/* ------------------------------------------------------------------------ */
/* Blocks                                                                    */
/* ------------------------------------------------------------------------ */

size_t tsdb_codec__max_size(size_t n) {
  /* header 28 + timestamp section (8 bytes a point + 32) + value section
   * (8 bytes a point + 32) */
  if (n > TSDB_CODEC_MAX_POINTS) n = TSDB_CODEC_MAX_POINTS;
  return 128 + 16 * n;
}

typedef struct header {
  uint8_t version, flags, kinds;
  uint64_t count;
  int64_t min_ts, max_ts;
  bool newest_known; /* the trailer records the value at max_ts (version 2) */
  double newest_value;
} header;

/* ---- the trailer (version 2): the newest point's value ---- */

#define TRAILER_NONE 0xf0u /* k = 15, L = 0: not recorded */

/* Appends the trailer for the last stored point, value v; newest: it is the
 * only point at max_ts. */
static void put_trailer(wbuf *w, bool newest, double v) {
  if (!newest) {
    put_u8(w, TRAILER_NONE);
    return;
  }
  for (int k = 0; k <= DEC_KMAX; k++) {
    int64_t m;
    if (!to_decimal(v, P10[k], &m)) continue;
    uint64_t z = zz(m);
    if (z >> 56) break; /* 8 bytes: store the bits */
    unsigned len = 0;
    for (; z; z >>= 8, len++) put_u8(w, (uint8_t)z);
    put_u8(w, (uint8_t)((unsigned)k << 4 | len));
    return;
  }
  put_u64le(w, dbits(v));
  put_u8(w, 8);
}

/* Reads the trailer of in[0..len), whose header ends at `body`: *tlen gets
 * its size. Version 1 blocks have none. */
static int read_trailer(const uint8_t *in, size_t len, size_t body, header *h, size_t *tlen) {
  *tlen = 0;
  h->newest_known = false;
  if (h->version < 2) return 0;
  if (len <= body) return TSDB_ECORRUPT;
  uint8_t desc = in[len - 1];
  unsigned L = desc & 15u, k = desc >> 4;
  if (desc == TRAILER_NONE) {
    *tlen = 1;
    return 0;
  }
  if (L > 8 || (L == 8 && k) || len - body < 1u + L) return TSDB_ECORRUPT;
  uint64_t z = 0;
  for (unsigned i = 0; i < L; i++) z |= (uint64_t)in[len - 1 - L + i] << (8 * i);
  h->newest_known = true;
  h->newest_value = L == 8 ? bitsd(z) : (double)unzz(z) / P10[k];
  *tlen = 1u + L;
  return 0;
}

static int read_header(rbuf *r, header *h) {
  if (r->len < 1) return TSDB_ECORRUPT;
  h->version = get_u8(r);
  if (h->version != FORMAT_VERSION && h->version != 1) return TSDB_EVERSION;
  h->flags = get_u8(r);
  h->kinds = get_u8(r);
  h->count = get_varint(r);
  h->min_ts = get_svarint(r);
  if (r->bad || h->kinds >> 4 || (h->kinds & 3) == 3 || h->count == 0 ||
      h->count > TSDB_CODEC_MAX_POINTS)
    return TSDB_ECORRUPT;
  /* max = min + range must not pass INT64_MAX (the subtraction is the exact
   * distance, which always fits in a uint64) */
  const uint64_t room = (uint64_t)INT64_MAX - (uint64_t)h->min_ts;
  uint64_t range = 0;
  if ((h->kinds & 3) != TS_REGULAR) {
    range = get_varint(r);
  } else if (h->count > 1) { /* regular blocks store the step instead */
    uint64_t step = get_varint(r);
    if (step > room / (h->count - 1)) return TSDB_ECORRUPT;
    range = step * (h->count - 1);
  }
  if (r->bad || range > room) return TSDB_ECORRUPT;
  h->max_ts = u2i((uint64_t)h->min_ts + range);
  return 0;
}

int tsdb_codec__info(const uint8_t *in, size_t len, tsdb_block_info *info) {
  if (!in || !info) return TSDB_EINVAL;
  rbuf r = {in, 0, len, false};
  header h;
  int rc = read_header(&r, &h);
  size_t tlen;
  if (rc == 0) rc = read_trailer(in, len, r.pos, &h, &tlen);
  if (rc) return rc;
  info->count = (uint32_t)h.count;
  info->min_ts = h.min_ts;
  info->max_ts = h.max_ts;
  info->user_flags = h.flags;
  info->newest_known = h.newest_known;
  info->newest_value = h.newest_known ? h.newest_value : 0;
  return 0;
}

/* ---- timestamps ---- */

/* Regular: ts_i = min + i * step. Every delta equal and the first point the
 * smallest is not enough: deltas are compared modulo 2^64, and a step of
 * 2^63 goes back and forth between two times (-1, INT64_MAX, -1, ...), so
 * max - min must also be (n - 1) steps exactly. Only the step is stored, in
 * the header, in place of max - min. */
static bool ts_regular(const int64_t *ts, size_t n, int64_t min_ts, int64_t max_ts) {
  const uint64_t step = n > 1 ? (uint64_t)ts[1] - (uint64_t)ts[0] : 0;
  size_t i = 1;
  while (i < n && (uint64_t)ts[i] - (uint64_t)ts[i - 1] == step) i++;
  if (i != n || ts[0] != min_ts) return false;
  const uint64_t range = (uint64_t)max_ts - (uint64_t)min_ts;
  return n < 2 || (step <= range / (n - 1) && step * (n - 1) == range);
}

/* Timestamps that are not regular. */
static void encode_ts(wbuf *w, const int64_t *ts, size_t n, int64_t min_ts, uint8_t *kind,
                      tsdb_codec_effort effort) {
  size_t i;
  if (effort == TSDB_CODEC_FAST) goto seq;
  /* Grid: ascending, every delta a multiple of the common step g; only the
   * gaps (deltas of more than one step) are listed, as (points since the
   * previous gap, steps - 2). g is not stored: the decoder derives it from
   * max - min and the total number of steps. */
  bool asc = true;
  uint64_t g = 0;
  for (i = 1; i < n && asc; i++) {
    uint64_t d = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
    asc = ts[i] > ts[i - 1];
    if (g != 1 && (g == 0 || d % g)) g = gcd_u64(g, d);
  }
  if (asc) {
    size_t bytes = 1, gaps = 0, prev = 0;
    for (i = 1; i < n && bytes <= 8 + n / 32; i++) {
      uint64_t d = ((uint64_t)ts[i] - (uint64_t)ts[i - 1]) / g;
      if (d != 1) {
        bytes += varint_len(i - prev - 1) + varint_len(d - 2);
        prev = i;
        gaps++;
      }
    }
    if (bytes <= 8 + n / 32) {
      *kind = TS_GRID;
      put_varint(w, gaps);
      prev = 0;
      for (i = 1; i < n; i++) {
        uint64_t d = ((uint64_t)ts[i] - (uint64_t)ts[i - 1]) / g;
        if (d != 1) {
          put_varint(w, i - prev - 1);
          put_varint(w, d - 2);
          prev = i;
        }
      }
      return;
    }
  }
seq:
  *kind = TS_SEQ;
  src s = {ts, NULL, 1.0, n};
  choice c;
  if (effort != TSDB_CODEC_COMPACT || n - 1 < SMALL_N) {
    c.pred = P_DELTA;
    c.g = 1;
    c.coder = CODER_VARINT;
  } else {
    choose(&s, 1u << P_DELTA | 1u << P_DOD, &c);
  }
  put_u8(w, (uint8_t)(c.pred | (c.g != 1) << 7));
  put_varint(w, (uint64_t)ts[0] - (uint64_t)min_ts);
  if (c.g != 1) put_varint(w, c.g);
  write_coder(w, &s, &c, false);
}

static bool decode_ts(rbuf *r, const header *h, int64_t *ts) {
  const size_t n = (size_t)h->count;
  const uint64_t range = (uint64_t)h->max_ts - (uint64_t)h->min_ts;
  switch (h->kinds & 3) {
  case TS_REGULAR: {
    if (n == 1) {
      ts[0] = h->min_ts;
      return range == 0;
    }
    if (range % (n - 1)) return false;
    uint64_t step = range / (n - 1), t = (uint64_t)h->min_ts;
    for (size_t i = 0; i < n; i++, t += step) ts[i] = u2i(t);
    return true;
  }
  case TS_GRID: {
    if (n == 1) return false;
    uint64_t gaps = get_varint(r);
    if (r->bad || gaps > n - 1 || n - 1 > range) return false;
    /* first pass: total grid slots, which with the range gives the step */
    size_t save = r->pos;
    uint64_t slots = n - 1, idx = 0;
    for (uint64_t k = 0; k < gaps; k++) {
      uint64_t skip = get_varint(r), d = get_varint(r);
      /* slots <= range throughout, so none of this can overflow */
      if (r->bad || skip >= n - 1 - idx || d >= range || d + 1 > range - slots) return false;
      idx += skip + 1;
      slots += d + 1;
    }
    if (slots == 0 || range % slots) return false;
    uint64_t step = range / slots, t = (uint64_t)h->min_ts;
    r->pos = save;
    size_t i = 0;
    ts[0] = h->min_ts;
    for (uint64_t k = 0; k < gaps; k++) {
      uint64_t skip = get_varint(r), d = get_varint(r);
      for (uint64_t j = 0; j < skip; j++) {
        t += step;
        ts[++i] = u2i(t);
      }
      t += (d + 2) * step;
      ts[++i] = u2i(t);
    }
    while (i + 1 < n) {
      t += step;
      ts[++i] = u2i(t);
    }
    return t == (uint64_t)h->max_ts;
  }
  default: {
    uint8_t b = get_u8(r);
    int pred = b & 0x7f;
    uint64_t off = get_varint(r), g = b & 0x80 ? get_varint(r) : 1;
    if (r->bad || pred >= P_COUNT || off > range || g < 1u + (b >> 7u)) return false;
    seqout o = {ts, NULL, 1.0};
    if (!read_coder(r, &o, OUT_TS, pred, n, (uint64_t)h->min_ts + off, g, false)) return false;
    int64_t lo = ts[0], hi = ts[0];
    for (size_t i = 1; i < n; i++) {
      if (ts[i] < lo) lo = ts[i];
      if (ts[i] > hi) hi = ts[i];
    }
    return lo == h->min_ts && hi == h->max_ts;
  }
  }
}

/* ---- values ---- */

static void encode_values(wbuf *w, const double *v, size_t n, uint8_t *kind,
                          tsdb_codec_effort effort) {
  const uint64_t v0 = dbits(v[0]);
  size_t i = 1;
  while (i < n && dbits(v[i]) == v0) i++;
  if (i == n) {
    *kind = VAL_CONST;
    put_u64le(w, v0);
    return;
  }
  const size_t mark = w->pos;
  if (effort == TSDB_CODEC_FAST) goto raw;
  int k = detect_scale(v, n);
  if (k >= 0) {
    src s = {NULL, v, P10[k], n};
    choice c;
    if (effort != TSDB_CODEC_COMPACT || n - 1 < SMALL_N) {
      c.pred = P_DELTA;
      c.g = 1;
      c.coder = CODER_VARINT;
    } else {
      choose(&s, (1u << P_COUNT) - 1, &c);
    }
    int64_t m0 = 0;
    (void)to_decimal(v[0], P10[k], &m0); /* verified by detect_scale() */
    *kind = VAL_DECIMAL;
    put_u8(w, (uint8_t)((c.g != 1) << 7 | k << 3 | c.pred));
    put_svarint(w, m0);
    if (c.g != 1) put_varint(w, c.g);
    write_coder(w, &s, &c, true);
    /* decimals that need long mantissas may do better as XOR */
    if (!w->full && w->pos - mark <= 6 * n) return;
  }
  /* Gorilla XOR if it beats the decimal attempt; verbatim if neither pays */
  const bool dec_ok = k >= 0 && !w->full && w->pos - mark <= 8 * n;
  const size_t dec_len = dec_ok ? w->pos - mark : SIZE_MAX;
  w->full = false;
  size_t xlen = xor_size(v, n);
  if (xlen <= 8 * n && xlen < dec_len) {
    *kind = VAL_XOR;
    w->pos = mark;
    if (xlen > w->cap - mark || xor_encode(v, n, w->p + mark, w->p + mark + xlen) != xlen) {
      w->full = true;
      return;
    }
    w->pos = mark + xlen;
    return;
  }
  if (dec_ok) return;
raw:
  w->pos = mark;
  *kind = VAL_RAW;
  for (size_t j = 0; j < n; j++) put_u64le(w, dbits(v[j]));
}

static bool decode_values(rbuf *r, const header *h, double *v) {
  const size_t n = (size_t)h->count;
  switch ((h->kinds >> 2) & 3) {
  case VAL_CONST: {
    double c = bitsd(get_u64le(r));
    for (size_t i = 0; i < n; i++) v[i] = c;
    return !r->bad;
  }
  case VAL_DECIMAL: {
    uint8_t b = get_u8(r);
    int k = (b >> 3) & 15, pred = b & 7;
    int64_t m0 = get_svarint(r);
    uint64_t g = b & 0x80 ? get_varint(r) : 1;
    if (r->bad || pred >= P_COUNT || g < 1u + (b >> 7u)) return false;
    seqout o = {NULL, v, P10[k]};
    return read_coder(r, &o, OUT_VAL, pred, n, (uint64_t)m0, g, true);
  }
  case VAL_XOR: {
    bool ok = xor_decode(r->p + r->pos, r->len - r->pos, v, n);
    r->pos = r->len;
    return ok;
  }
  default:
    if ((r->len - r->pos) / 8 < n) return false;
    for (size_t i = 0; i < n; i++) v[i] = bitsd(get_u64le(r));
    return true;
  }
}

static int encode_block(const int64_t *ts, const double *values, size_t n, uint8_t user_flags,
                        tsdb_codec_effort effort, bool trailer, uint8_t *out, size_t out_cap,
                        size_t *out_len) {
  if (!ts || !values || !out || !out_len || n == 0 || n > TSDB_CODEC_MAX_POINTS) return TSDB_EINVAL;
  size_t lim = tsdb_codec__max_size(n);
  wbuf w = {out, 0, out_cap < lim ? out_cap : lim, false};
  int64_t lo = ts[0], hi = ts[0];
  bool hi_repeats = false;
  for (size_t i = 1; i < n; i++) {
    if (ts[i] < lo) lo = ts[i];
    if (ts[i] > hi) {
      hi = ts[i];
      hi_repeats = false;
    } else if (ts[i] == hi) {
      hi_repeats = true;
    }
  }
  uint8_t tkind = 0, vkind = 0;
  put_u8(&w, trailer ? FORMAT_VERSION : 1);
  put_u8(&w, user_flags);
  put_u8(&w, 0); /* kinds, patched below */
  put_varint(&w, n);
  put_svarint(&w, lo);
  if (!ts_regular(ts, n, lo, hi)) {
    put_varint(&w, (uint64_t)hi - (uint64_t)lo);
    encode_ts(&w, ts, n, lo, &tkind, effort);
  } else if (n > 1) {
    put_varint(&w, ((uint64_t)hi - (uint64_t)lo) / (n - 1));
  }
  if (w.full) return TSDB_ETOOBIG;
  encode_values(&w, values, n, &vkind, effort);
  if (trailer) put_trailer(&w, ts[n - 1] == hi && !hi_repeats, values[n - 1]);
  if (w.full) return TSDB_ETOOBIG;
  out[2] = (uint8_t)(tkind | vkind << 2);
  *out_len = w.pos;
  return 0;
}

int tsdb_codec__encode_with(const int64_t *ts, const double *values, size_t n, uint8_t user_flags,
                            tsdb_codec_effort effort, uint8_t *out, size_t out_cap,
                            size_t *out_len) {
  return encode_block(ts, values, n, user_flags, effort, true, out, out_cap, out_len);
}

int tsdb_codec__encode_column(const int64_t *ts, const double *values, size_t n,
                              tsdb_codec_effort effort, uint8_t *out, size_t out_cap,
                              size_t *out_len) {
  return encode_block(ts, values, n, 0, effort, false, out, out_cap, out_len);
}

int tsdb_codec__encode(const int64_t *ts, const double *values, size_t n, uint8_t user_flags,
                       uint8_t *out, size_t out_cap, size_t *out_len) {
  return tsdb_codec__encode_with(ts, values, n, user_flags, TSDB_CODEC_COMPACT, out, out_cap,
                                 out_len);
}

int tsdb_codec__decode(const uint8_t *in, size_t len, int64_t *ts, double *values, size_t cap,
                       size_t *n) {
  if (!in || !ts || !values || !n) return TSDB_EINVAL;
  rbuf r = {in, 0, len, false};
  header h;
  int rc = read_header(&r, &h);
  if (rc) return rc;
  if (h.count > cap) {
    *n = (size_t)h.count;
    return TSDB_ETOOBIG;
  }
  size_t tlen;
  if ((rc = read_trailer(in, len, r.pos, &h, &tlen)) != 0) return rc;
  r.len -= tlen;
  if (!decode_ts(&r, &h, ts) || r.bad) return TSDB_ECORRUPT;
  if (!decode_values(&r, &h, values) || r.bad || r.pos != r.len) return TSDB_ECORRUPT;
  if (h.version >= 2) {
    /* The trailer must say what the points say: recorded exactly when the
     * last point is the only one at max_ts, with that point's bits. */
    const size_t last = (size_t)h.count - 1;
    bool newest = ts[last] == h.max_ts;
    for (size_t i = 0; newest && i < last; i++)
      if (ts[i] == h.max_ts) newest = false;
    if (newest != h.newest_known || (newest && dbits(h.newest_value) != dbits(values[last])))
      return TSDB_ECORRUPT;
  }
  *n = (size_t)h.count;
  return 0;
}
