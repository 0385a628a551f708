/*
 * Blocks of rollup buckets: how the agg column family stores aggregates.
 *
 * Why blocks: one RocksDB key per bucket costs a memtable insert per bucket
 * (for 1-minute data and a 1-minute tier, one per point) and ~100 bytes per
 * bucket on disk, 40x the raw points it summarizes. A block holds the
 * consecutive buckets of one series and tier inside an aligned span
 * (tsdb_aggblock__span), each state column encoded with the value-aware point
 * codec (codec.h): counts, sums, minima, maxima, first and last values of
 * sensor data are mostly fixed-precision decimals, just like the points.
 *
 * Writes are merge operands holding the buckets finalized in one write; a
 * bucket's newest state replaces older ones (every finalization writes the
 * whole exact state of the bucket). A bucket with count 0 is a tombstone: it
 * removes the bucket and is dropped once a full merge has applied it.
 *
 * Pure: no RocksDB, no threads.
 */
#ifndef TSDB_AGGBLOCK_H
#define TSDB_AGGBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "codec.h"

/* Most buckets in one block. */
#define TSDB_AGGBLOCK_MAX_BUCKETS 1440

/* The block span of a tier: a whole number of buckets, at most 1440 and at
 * most 30 days (so that retention can drop whole blocks reasonably soon after
 * their buckets expire), at least one bucket. */
int64_t tsdb_aggblock__span(int64_t tier_ms);

/* Upper bound of the encoded size of n buckets. */
size_t tsdb_aggblock__max_size(size_t n);

/* Encodes n buckets (starts strictly ascending). */
int tsdb_aggblock__encode(const int64_t *starts, const tsdb_agg *aggs, size_t n, uint8_t *out,
                          size_t cap, size_t *len);

/* The number of buckets in a block (O(1)). */
int tsdb_aggblock__count(const uint8_t *in, size_t len, size_t *n);

/* Decodes into starts[0..cap) and aggs[0..cap); TSDB_ETOOBIG if cap is small. */
int tsdb_aggblock__decode(const uint8_t *in, size_t len, int64_t *starts, tsdb_agg *aggs,
                          size_t cap, size_t *n);

/* Encodes with a given effort (codec.h); tsdb_aggblock__encode is COMPACT. */
int tsdb_aggblock__encode_with(const int64_t *starts, const tsdb_agg *aggs, size_t n,
                               tsdb_codec_effort effort, uint8_t *out, size_t cap, size_t *len);

/*
 * Merges blocks given oldest first: per bucket start the newest state wins.
 * keep_tombstones: true for partial merges (operands that may still apply to
 * an older base), false when the result is the whole key's value. The result
 * is encoded with the given effort (codec.h). On success *out is malloc()ed.
 * Corrupt inputs are skipped and counted in *corrupt.
 */
int tsdb_aggblock__merge(const char *const *blocks, const size_t *lens, size_t n,
                         bool keep_tombstones, tsdb_codec_effort effort, uint8_t **out,
                         size_t *out_len, uint64_t *corrupt);

#endif /* TSDB_AGGBLOCK_H */
