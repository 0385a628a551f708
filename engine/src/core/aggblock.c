#include "aggblock.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tsdb/error.h"

/*
 * Layout, version 2 (written):
 *   u8 version, varint n, then per column a tag byte:
 *     TAG_CODED: a codec block follows, preceded by its varint length;
 *     TAG_ZERO: every value is +0.0;
 *     TAG_SAME | k: every value has the bits of the earlier column k.
 *   The first column (counts) is always coded and carries the bucket starts
 *   as its timestamps; the others carry 0..n-1, which the codec stores as a
 *   regular series for free.
 * Why the tags: a tier no wider than the data's interval (a 1m tier on
 *   1-minute data) holds one point a bucket, where sum, min, max, first and
 *   last are the same column and M2 and the compensation are zero. Coding
 *   them again cost CPU at every flush and compaction (engine_bench on the
 *   1-minute datasets b and c: 15-25 % less CPU with compaction included).
 *   Bytes on disk hardly change: zstd already folded the repeated columns.
 * Version 1 (read only): the same without tag bytes, every column coded.
 * The mean is not stored: it is (sum + sum_comp) / count, within an ulp of
 * the running mean, which is all the merge of M2 needs (Chan et al. 1979).
 */
#define AGGBLOCK_VERSION 2
#define AGGBLOCK_VERSION_UNTAGGED 1
#define TAG_CODED 0x00
#define TAG_ZERO 0x01
#define TAG_SAME 0x80

enum {
  COL_COUNT,
  COL_SUM,
  COL_SUM_COMP,
  COL_MIN,
  COL_MAX,
  COL_FIRST,
  COL_LAST,
  COL_M2,
  COL_FIRST_OFF,
  COL_LAST_OFF,
  NCOLS
};

int64_t tsdb_aggblock__span(int64_t tier_ms) {
  const int64_t max_span = 30LL * 86400000;
  int64_t n = max_span / tier_ms;
  if (n > TSDB_AGGBLOCK_MAX_BUCKETS) n = TSDB_AGGBLOCK_MAX_BUCKETS;
  if (n < 1) n = 1;
  return tier_ms * n;
}

size_t tsdb_aggblock__max_size(size_t n) {
  return 1 + 10 + NCOLS * (1 + 10 + tsdb_codec__max_size(n ? n : 1));
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t i = 0;
  while (v >= 0x80) {
    p[i++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[i++] = (uint8_t)v;
  return i;
}

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (*pos >= len) return TSDB_ECORRUPT;
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return TSDB_ECORRUPT;
}

static double column_value(const tsdb_agg *a, int64_t start, int col) {
  switch (col) {
  case COL_COUNT:
    return (double)a->count;
  case COL_SUM:
    return a->count ? a->sum : 0;
  case COL_SUM_COMP:
    return a->count ? a->sum_comp : 0;
  case COL_MIN:
    return a->count ? a->min : 0;
  case COL_MAX:
    return a->count ? a->max : 0;
  case COL_FIRST:
    return a->count ? a->first : 0;
  case COL_LAST:
    return a->count ? a->last : 0;
  case COL_M2:
    return a->count ? a->m2 : 0;
  case COL_FIRST_OFF:
    return a->count ? (double)(a->first_ts - start) : 0;
  default:
    return a->count ? (double)(a->last_ts - start) : 0;
  }
}

/* Every column of n buckets, column-major: cols + c * n is column c. */
static void fill_columns(const int64_t *starts, const tsdb_agg *aggs, size_t n, double *cols) {
  for (size_t i = 0; i < n; i++) {
    const tsdb_agg *a = &aggs[i];
    if (a->count == 0) { /* a tombstone: every column but the count is 0 */
      for (int c = 0; c < NCOLS; c++) cols[(size_t)c * n + i] = 0;
      continue;
    }
    cols[COL_COUNT * n + i] = (double)a->count;
    cols[COL_SUM * n + i] = a->sum;
    cols[COL_SUM_COMP * n + i] = a->sum_comp;
    cols[COL_MIN * n + i] = a->min;
    cols[COL_MAX * n + i] = a->max;
    cols[COL_FIRST * n + i] = a->first;
    cols[COL_LAST * n + i] = a->last;
    cols[COL_M2 * n + i] = a->m2;
    cols[COL_FIRST_OFF * n + i] = (double)(a->first_ts - starts[i]);
    cols[COL_LAST_OFF * n + i] = (double)(a->last_ts - starts[i]);
  }
}

/* How column c is stored: TAG_ZERO when every value is +0.0, TAG_SAME | k
 * for the first earlier column k with the same bits everywhere, else
 * TAG_CODED. */
static int column_tag(const double *cols, size_t n, int c) {
  const double *col = cols + (size_t)c * n;
  size_t i = 0;
  uint64_t bits;
  for (; i < n; i++) {
    memcpy(&bits, &col[i], sizeof bits);
    if (bits) break;
  }
  if (i == n) return TAG_ZERO;
  for (int k = 0; k < c; k++)
    if (memcmp(col, cols + (size_t)k * n, n * sizeof *col) == 0) return TAG_SAME | k;
  return TAG_CODED;
}

int tsdb_aggblock__encode_with(const int64_t *starts, const tsdb_agg *aggs, size_t n,
                               tsdb_codec_effort effort, uint8_t *out, size_t cap, size_t *len) {
  if (n > TSDB_CODEC_MAX_POINTS || cap < tsdb_aggblock__max_size(n)) return TSDB_ETOOBIG;
  size_t pos = 0;
  out[pos++] = AGGBLOCK_VERSION;
  pos += put_varint(out + pos, n);
  if (n == 0) {
    *len = pos;
    return 0;
  }
  double *cols = malloc(NCOLS * n * sizeof *cols);
  int64_t *idx = malloc(n * sizeof *idx);
  int rc = 0;
  if (!cols || !idx) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  for (size_t i = 0; i < n; i++) idx[i] = (int64_t)i;
  fill_columns(starts, aggs, n, cols);
  for (int c = 0; c < NCOLS; c++) {
    int tag = c == COL_COUNT ? TAG_CODED : column_tag(cols, n, c);
    out[pos++] = (uint8_t)tag;
    if (tag != TAG_CODED) continue;
    /* Encode after a gap for the length, then move it into place. */
    size_t gap = 10, clen = 0;
    rc = tsdb_codec__encode_column(c == COL_COUNT ? starts : idx, cols + (size_t)c * n, n, effort,
                                   out + pos + gap, cap - pos - gap, &clen);
    if (rc) goto cleanup;
    size_t vl = put_varint(out + pos, clen);
    memmove(out + pos + vl, out + pos + gap, clen);
    pos += vl + clen;
  }
  *len = pos;
cleanup:
  free(cols);
  free(idx);
  return rc;
}

int tsdb_aggblock__encode(const int64_t *starts, const tsdb_agg *aggs, size_t n, uint8_t *out,
                          size_t cap, size_t *len) {
  return tsdb_aggblock__encode_with(starts, aggs, n, TSDB_CODEC_COMPACT, out, cap, len);
}

int tsdb_aggblock__count(const uint8_t *in, size_t len, size_t *n) {
  size_t pos = 0;
  uint64_t v;
  if (len < 2) return TSDB_ECORRUPT;
  uint8_t version = in[pos++];
  if (version != AGGBLOCK_VERSION && version != AGGBLOCK_VERSION_UNTAGGED) return TSDB_EVERSION;
  if (get_varint(in, len, &pos, &v) || v > TSDB_CODEC_MAX_POINTS) return TSDB_ECORRUPT;
  *n = (size_t)v;
  return 0;
}

/* start + x, a bucket's first or last point from its offset column. The
 * encoder writes whole milliseconds inside the bucket: an offset that is not
 * a whole number within +-2^53, or that would carry the time out of int64,
 * is damage (converting or adding it would be undefined). */
static bool offset_ts(int64_t start, double x, int64_t *out) {
  if (!(x >= -0x1p53 && x <= 0x1p53) || (double)(int64_t)x != x) return false;
  int64_t off = (int64_t)x;
  if (off > 0 ? start > INT64_MAX - off : start < INT64_MIN - off) return false;
  *out = start + off;
  return true;
}

int tsdb_aggblock__decode(const uint8_t *in, size_t len, int64_t *starts, tsdb_agg *aggs,
                          size_t cap, size_t *n) {
  size_t pos = 0, count;
  int rc = tsdb_aggblock__count(in, len, &count);
  if (rc) return rc;
  *n = count;
  if (count > cap) return TSDB_ETOOBIG;
  if (count == 0) return 0;
  pos = 1;
  uint64_t v;
  get_varint(in, len, &pos, &v);
  double *col = malloc(count * sizeof *col);
  int64_t *ts = malloc(count * sizeof *ts);
  if (!col || !ts) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  const bool tagged = in[0] == AGGBLOCK_VERSION;
  for (int c = 0; c < NCOLS; c++) {
    int tag = TAG_CODED;
    if (tagged) {
      if (pos >= len) {
        rc = TSDB_ECORRUPT;
        break;
      }
      tag = in[pos++];
      bool valid = tag == TAG_CODED ||
                   (c > COL_COUNT && (tag == TAG_ZERO || (tag & TAG_SAME && (tag & 0x7f) < c)));
      if (!valid) {
        rc = TSDB_ECORRUPT;
        break;
      }
    }
    if (tag == TAG_ZERO) {
      memset(col, 0, count * sizeof *col); /* all bits zero: +0.0 */
    } else if (tag & TAG_SAME) {
      /* The earlier column's values, read back as the encoder computed them. */
      for (size_t i = 0; i < count; i++) col[i] = column_value(&aggs[i], starts[i], tag & 0x7f);
    } else {
      uint64_t clen;
      size_t got = 0;
      if ((rc = get_varint(in, len, &pos, &clen)) != 0) break;
      if (clen > len - pos) {
        rc = TSDB_ECORRUPT;
        break;
      }
      rc = tsdb_codec__decode(in + pos, (size_t)clen, c == COL_COUNT ? starts : ts, col, count,
                              &got);
      /* A column of more points than the block has buckets is damage, not
       * a short array: the caller sized it from the count. */
      if (rc == TSDB_ETOOBIG || (rc == 0 && got != count)) rc = TSDB_ECORRUPT;
      if (rc) break;
      pos += (size_t)clen;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
      tsdb_agg *a = &aggs[i];
      double x = col[i];
      switch (c) {
      case COL_COUNT:
        if (!(x >= 0 && x < 1.8e19)) {
          rc = TSDB_ECORRUPT;
          break;
        }
        memset(a, 0, sizeof *a);
        a->count = (uint64_t)x;
        break;
      case COL_SUM:
        a->sum = x;
        break;
      case COL_SUM_COMP:
        a->sum_comp = x;
        break;
      case COL_MIN:
        a->min = x;
        break;
      case COL_MAX:
        a->max = x;
        break;
      case COL_FIRST:
        a->first = x;
        break;
      case COL_LAST:
        a->last = x;
        break;
      case COL_M2:
        a->m2 = x;
        break;
      case COL_FIRST_OFF:
        if (!offset_ts(starts[i], x, &a->first_ts)) rc = TSDB_ECORRUPT;
        break;
      default:
        if (!offset_ts(starts[i], x, &a->last_ts)) rc = TSDB_ECORRUPT;
        break;
      }
    }
    if (rc) break;
  }
  if (rc == 0 && pos != len) rc = TSDB_ECORRUPT;
  for (size_t i = 0; rc == 0 && i < count; i++) {
    if (i > 0 && starts[i] <= starts[i - 1]) rc = TSDB_ECORRUPT;
    if (aggs[i].count) aggs[i].mean = (aggs[i].sum + aggs[i].sum_comp) / (double)aggs[i].count;
  }
cleanup:
  free(col);
  free(ts);
  return rc;
}

typedef struct bucket_pos {
  int64_t start;
  size_t pos; /* write order: the newest wins */
} bucket_pos;

static int cmp_bucket_pos(const void *a, const void *b) {
  const bucket_pos *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

int tsdb_aggblock__merge(const char *const *blocks, const size_t *lens, size_t n,
                         bool keep_tombstones, tsdb_codec_effort effort, uint8_t **out,
                         size_t *out_len, uint64_t *corrupt) {
  *out = NULL;
  *out_len = 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t c;
    if (tsdb_aggblock__count((const uint8_t *)blocks[i], lens[i], &c) == 0) total += c;
  }
  int64_t *starts = malloc((total ? total : 1) * sizeof *starts);
  tsdb_agg *aggs = malloc((total ? total : 1) * sizeof *aggs);
  bucket_pos *order = malloc((total ? total : 1) * sizeof *order);
  int64_t *out_starts = malloc((total ? total : 1) * sizeof *out_starts);
  tsdb_agg *out_aggs = malloc((total ? total : 1) * sizeof *out_aggs);
  uint8_t *buf = NULL;
  int rc = 0;
  if (!starts || !aggs || !order || !out_starts || !out_aggs) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  size_t have = 0, valid = 0;
  for (size_t i = 0; i < n; i++) {
    size_t got = 0;
    if (tsdb_aggblock__decode((const uint8_t *)blocks[i], lens[i], starts + have, aggs + have,
                              total - have, &got) != 0) {
      if (corrupt) (*corrupt)++;
      continue;
    }
    have += got;
    valid++;
  }
  if (valid == 0) {
    rc = TSDB_ECORRUPT;
    goto cleanup;
  }
  for (size_t i = 0; i < have; i++) order[i] = (bucket_pos){starts[i], i};
  /* Buckets are mostly finalized in time order, so the inputs, oldest
   * first, are usually already one ascending run: then there is no sort. */
  bool ascending = true;
  for (size_t i = 1; i < have && ascending; i++) ascending = starts[i] > starts[i - 1];
  if (!ascending) qsort(order, have, sizeof *order, cmp_bucket_pos);
  size_t m = 0;
  for (size_t i = 0; i < have; i++) {
    /* The last of a run of equal starts is the newest write. */
    if (i + 1 < have && order[i + 1].start == order[i].start) continue;
    const tsdb_agg *a = &aggs[order[i].pos];
    if (a->count == 0 && !keep_tombstones) continue;
    out_starts[m] = order[i].start;
    out_aggs[m] = *a;
    m++;
  }
  size_t cap = tsdb_aggblock__max_size(m);
  buf = malloc(cap);
  if (!buf) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  rc = tsdb_aggblock__encode_with(out_starts, out_aggs, m, effort, buf, cap, out_len);
  if (rc == 0) {
    *out = buf;
    buf = NULL;
  }
cleanup:
  free(starts);
  free(aggs);
  free(order);
  free(out_starts);
  free(out_aggs);
  free(buf);
  return rc;
}
