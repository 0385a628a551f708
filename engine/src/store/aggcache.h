/*
 * A cache of decoded aggregate blocks, shared by every reader of the agg
 * column family (control threads, the writer's rebuilds).
 *
 * Why: a long aggregate query spends most of its time decoding blocks (ten
 * columns a bucket; a 365-day query at 1 h decodes 8760 buckets), and a
 * dashboard asks the same long ranges again and again. Blocks whose span
 * has ended rarely change.
 *
 * Correctness does not depend on invalidation: an entry keeps a copy of the
 * encoded bytes it was decoded from, and a lookup only hits when the value
 * RocksDB returns now is byte for byte the same. A changed block (a late
 * point, a correction, a compaction that re-encoded it) simply misses.
 *
 * Memory: at most max_bytes of entries (decoded buckets + encoded copy),
 * least recently used first out. An entry in use by a reader is pinned; it
 * is freed when the last reader releases it, even if evicted meanwhile.
 * Thread-safe: one mutex, held for a lookup (hash, one memcmp) or an insert.
 */
#ifndef TSDB_AGGCACHE_H
#define TSDB_AGGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"

typedef struct tsdb_aggcache tsdb_aggcache;

typedef struct tsdb_aggcache_view {
  const int64_t *starts;
  const tsdb_agg *aggs;
  size_t n;
} tsdb_aggcache_view;

/* NULL when max_bytes is 0 (no cache) or memory is short: callers treat a
 * NULL cache as "always miss". */
tsdb_aggcache *tsdb_aggcache__new(size_t max_bytes);
void tsdb_aggcache__free(tsdb_aggcache *c);

/* The decoded block stored under key if it was decoded from exactly
 * value[0..value_len); pinned until tsdb_aggcache__release(). NULL on a
 * miss (a stale entry is dropped). */
const void *tsdb_aggcache__get(tsdb_aggcache *c, const void *key, size_t key_len, const void *value,
                               size_t value_len, tsdb_aggcache_view *view);

/* Copies n decoded buckets (and the encoded value) in; returns the pinned
 * entry, or NULL when it is not kept (too big for the cache, no memory). */
const void *tsdb_aggcache__put(tsdb_aggcache *c, const void *key, size_t key_len, const void *value,
                               size_t value_len, const int64_t *starts, const tsdb_agg *aggs,
                               size_t n, tsdb_aggcache_view *view);

void tsdb_aggcache__release(tsdb_aggcache *c, const void *entry);

/* Counters for stats: hits, misses, bytes held. */
void tsdb_aggcache__counters(tsdb_aggcache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes);

#endif /* TSDB_AGGCACHE_H */
