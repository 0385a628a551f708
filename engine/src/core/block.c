#include "block.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tsdb/tsdb.h"

typedef struct point_pos {
  int64_t ts;
  size_t pos; /* position in write order: the tie-breaker that keeps the sort stable */
  double value;
} point_pos;

static int cmp_point_pos(const void *a, const void *b) {
  const point_pos *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static bool strictly_ascending(const int64_t *ts, size_t n) {
  for (size_t i = 1; i < n; i++)
    if (ts[i] <= ts[i - 1]) return false;
  return true;
}

/* Sorts (stable) and dedups in place; pp is scratch of n elements. */
static size_t sort_dedup(int64_t *ts, double *values, size_t n, int policy, point_pos *pp) {
  for (size_t i = 0; i < n; i++) pp[i] = (point_pos){ts[i], i, values[i]};
  qsort(pp, n, sizeof *pp, cmp_point_pos);
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    if (out > 0 && ts[out - 1] == pp[i].ts) {
      /* Same timestamp as the previous kept point: pp is in write order
       * within equal timestamps, so LAST overwrites and FIRST keeps. */
      if (policy == TSDB_DUP_LAST) values[out - 1] = pp[i].value;
      continue;
    }
    ts[out] = pp[i].ts;
    values[out] = pp[i].value;
    out++;
  }
  return out;
}

size_t tsdb_block__normalize(int64_t *ts, double *values, size_t n, int policy) {
  if (n < 2 || strictly_ascending(ts, n)) return n;
  point_pos *pp = malloc(n * sizeof *pp);
  if (!pp) {
    /* Without scratch memory fall back to an in-place insertion sort: slow
     * but correct, and only reached when memory is exhausted. */
    for (size_t i = 1; i < n; i++) {
      int64_t t = ts[i];
      double v = values[i];
      size_t j = i;
      while (j > 0 && ts[j - 1] > t) {
        ts[j] = ts[j - 1];
        values[j] = values[j - 1];
        j--;
      }
      ts[j] = t;
      values[j] = v;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
      if (out > 0 && ts[out - 1] == ts[i]) {
        if (policy == TSDB_DUP_LAST) values[out - 1] = values[i];
        continue;
      }
      ts[out] = ts[i];
      values[out] = values[i];
      out++;
    }
    return out;
  }
  size_t out = sort_dedup(ts, values, n, policy, pp);
  free(pp);
  return out;
}

int tsdb_block__merge(const char *const *blocks, const size_t *lens, size_t n,
                      tsdb_codec_effort effort, uint8_t **out, size_t *out_len,
                      tsdb_block_merge_stats *stats) {
  *out = NULL;
  *out_len = 0;
  size_t total = 0, valid = 0;
  int policy = TSDB_DUP_LAST;
  bool ordered = true; /* every valid input lies after the previous one */
  int64_t prev_max = 0;
  tsdb_block_info info;
  for (size_t i = 0; i < n; i++) {
    if (tsdb_codec__info((const uint8_t *)blocks[i], lens[i], &info) != 0) continue;
    if (valid > 0 && info.min_ts <= prev_max) ordered = false;
    prev_max = info.max_ts;
    policy = info.user_flags;
    total += info.count;
    valid++;
  }
  if (valid == 0) {
    if (stats) stats->corrupt_inputs += n;
    return TSDB_ECORRUPT;
  }

  int64_t *ts = malloc(total * sizeof *ts);
  double *values = malloc(total * sizeof *values);
  int rc = 0;
  if (!ts || !values) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    size_t got = 0;
    if (tsdb_codec__info((const uint8_t *)blocks[i], lens[i], &info) != 0 ||
        tsdb_codec__decode((const uint8_t *)blocks[i], lens[i], ts + count, values + count,
                           total - count, &got) != 0) {
      if (stats) stats->corrupt_inputs++;
      ordered = false; /* the skipped input may have been the separator */
      continue;
    }
    /* Each stored block is ascending and unique by construction, but a block
     * written by an older or foreign writer might not be: check, cheaply. */
    if (!strictly_ascending(ts + count, got)) ordered = false;
    count += got;
  }
  if (!ordered) {
    point_pos *pp = malloc(count * sizeof *pp);
    if (!pp) {
      rc = TSDB_ENOMEM;
      goto cleanup;
    }
    count = sort_dedup(ts, values, count, policy, pp);
    free(pp);
  }
  if (count > TSDB_CODEC_MAX_POINTS) {
    /* Keep the oldest points: a block cannot grow without bound. The span
     * of a series must be chosen so that this never happens (README). */
    if (stats) stats->dropped_points += count - TSDB_CODEC_MAX_POINTS;
    count = TSDB_CODEC_MAX_POINTS;
  }
  if (count == 0) {
    rc = TSDB_ECORRUPT;
    goto cleanup;
  }
  size_t cap = tsdb_codec__max_size(count);
  uint8_t *buf = malloc(cap);
  if (!buf) {
    rc = TSDB_ENOMEM;
    goto cleanup;
  }
  rc = tsdb_codec__encode_with(ts, values, count, (uint8_t)policy, effort, buf, cap, out_len);
  if (rc) {
    free(buf);
    goto cleanup;
  }
  *out = buf;
cleanup:
  free(ts);
  free(values);
  return rc;
}
