/*
 * Read paths shared by the writer (recomputing a bucket from raw points) and
 * the control threads (queries). Each scan reads one consistent snapshot
 * (NULL: the latest state) and streams: memory is one decoded block at a
 * time, whatever the range.
 */
#ifndef TSDB_READ_H
#define TSDB_READ_H

#include <stdint.h>

#include "agg.h"
#include "catalog.h"
#include "store.h"

/* A reusable decode buffer, grown to the largest block seen. */
typedef struct tsdb_scan_buf {
  int64_t *ts;
  double *values;
  size_t cap;
} tsdb_scan_buf;

void tsdb_scan_buf__free(tsdb_scan_buf *b);

/* Calls fn for every raw point with from <= ts < to, ascending. A non-zero
 * return of fn stops the scan and is returned. */
int tsdb_read__raw(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                   int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_point_fn fn, void *ud);

/*
 * Tiers are chained: tier k is computed from tier k-1, tier 0 from raw
 * points (TSDB_TIER_RAW). So a bucket's cost is the number of finer buckets
 * it spans, not the number of points, and coarse tiers stay computable after
 * raw points have expired.
 */
#define TSDB_TIER_RAW (-1)

/* The aggregate of [from, to) computed from source tier `source` (an index
 * into sp->tiers_ms, or TSDB_TIER_RAW). from and to must be multiples of the
 * source tier's width. */
int tsdb_read__agg_range(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                         int source, int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_agg *out);

/*
 * Buckets of tier index `tier` with from <= start < to, ascending, exact: a
 * stored bucket is used as is unless a pending marker says it is not
 * authoritative; then it is computed from the finer tier (recursively down to
 * raw points). fn gets non-empty buckets.
 */
typedef int (*tsdb_agg_bucket_fn)(void *ud, int64_t start, const tsdb_agg *agg);
int tsdb_read__tier(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp, int tier,
                    int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_agg_bucket_fn fn, void *ud);

/* The buckets of width `width` over [from, to) (from aligned to it), rolled
 * up in one pass from source tier `source` (or TSDB_TIER_RAW): the way a
 * tier is computed where it is not stored yet (backfill). Non-empty buckets,
 * ascending. */
int tsdb_read__rollup(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                      int source, int64_t width, int64_t from, int64_t to, tsdb_scan_buf *buf,
                      tsdb_agg_bucket_fn fn, void *ud);

/* Index of a tier width in sp, or -2 when the series has no such tier. */
int tsdb_read__tier_index(const tsdb_series_params *sp, int64_t tier_ms);

#endif /* TSDB_READ_H */
