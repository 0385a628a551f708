/*
 * The mergeable aggregate state behind every rollup bucket.
 *
 * count, sum, min, max, first, last, mean and stddev of a set of points, kept
 * in a form where merge(state(A), state(B)) == state(A u B) for disjoint A, B
 * in any order. That is what keeps rollups exact under any arrival order: a
 * bucket can be rebuilt from raw points, from finer buckets, or incrementally,
 * and give the same answer.
 *
 * - sum uses Neumaier's compensated summation (Neumaier 1974, "Rundungsfehler-
 *   analyse einiger Verfahren zur Summation endlicher Summen"), so sums of
 *   millions of readings agree with a recomputation to ~1 ulp.
 * - mean and M2 (sum of squared deviations) use Welford's update (Welford
 *   1962) and the pairwise merge of Chan, Golub and LeVeque ("Updating
 *   formulae and a pairwise algorithm for computing sample variances", 1979).
 * - first/last are the values at the smallest/largest timestamp.
 * - Non-finite values (NaN, +-Inf) are stored as raw points but never enter
 *   an aggregate: their order-dependent comparisons would make rollups
 *   depend on arrival order.
 *
 * Pure; no allocation.
 */
#ifndef TSDB_AGG_H
#define TSDB_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

typedef struct tsdb_agg {
  uint64_t count;
  double sum, sum_comp;
  double mean, m2;
  double min, max;
  int64_t first_ts, last_ts;
  double first, last;
} tsdb_agg;

#define TSDB_AGG_MAX_ENCODED 96

void tsdb_agg__init(tsdb_agg *a);
void tsdb_agg__add(tsdb_agg *a, int64_t ts, double v);
void tsdb_agg__merge(tsdb_agg *into, const tsdb_agg *other);
/* The compensated sum. */
double tsdb_agg__sum(const tsdb_agg *a);
/* Encodes into out (>= TSDB_AGG_MAX_ENCODED bytes); returns the length. */
size_t tsdb_agg__encode(const tsdb_agg *a, uint8_t *out);
int tsdb_agg__decode(const uint8_t *in, size_t len, tsdb_agg *a);
/* The public view of a bucket: every kind's value from the state (none but
 * start_ms when the state is empty). */
void tsdb_agg__view(const tsdb_agg *a, int64_t start_ms, tsdb_aggregate *out);
/* Sets one kind's value in a view; not the count (an integer). */
void tsdb_agg__view_set(tsdb_aggregate *a, tsdb_agg_kind kind, double v);

#endif /* TSDB_AGG_H */
