/*
 * The storage layer: the ONLY file of the engine that talks to RocksDB.
 *
 * Column families (key layouts in keys.h):
 *   default  format version
 *   catalog  series descriptors and the (topic, field) -> id index
 *   raw      compressed point blocks, maintained by the merge operator (block.h)
 *   agg      rollup buckets in blocks (aggblock.h), one key per (series, tier,
 *            block span), maintained by a second merge operator
 *   archive  accepted original messages for replay, time-major
 *   pending  markers of buckets whose stored aggregate is not authoritative:
 *            open buckets held in the writer's memory and closed buckets
 *            waiting for a recompute. Written in the same WriteBatch as the
 *            raw points that make a bucket pending, deleted in the same batch
 *            as its final aggregate, so a crash anywhere leaves every bucket
 *            either exact on disk or marked (recovered at the next open), and
 *            a reader on one snapshot sees one or the other. The markers of
 *            series id 0 are global: (tier, start) for every series
 *            (writer.c, "Pending markers").
 *
 * Every RocksDB error string is turned into a TSDB_E* code plus a log line
 * and freed with rocksdb_free(). Thread-safety: RocksDB's own (concurrent
 * readers and writers are fine); a batch or iterator belongs to one thread.
 */
#ifndef TSDB_STORE_H
#define TSDB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "log.h"

typedef enum tsdb_cf_id {
  TSDB_CF_DEFAULT = 0,
  TSDB_CF_CATALOG,
  TSDB_CF_RAW,
  TSDB_CF_AGG,
  TSDB_CF_PENDING,
  TSDB_CF_ARCHIVE,
  TSDB_CF_COUNT
} tsdb_cf_id;

typedef struct tsdb_store tsdb_store;
typedef struct tsdb_wbatch tsdb_wbatch;
typedef struct tsdb_snap tsdb_snap;

/* Asked by RocksDB's compaction threads for every raw block and aggregate
 * bucket it rewrites: true drops the key (retention). Must be thread-safe. */
typedef bool (*tsdb_expired_fn)(void *ud, tsdb_cf_id cf, const uint8_t *key, size_t klen);

typedef struct tsdb_store_options {
  uint32_t cache_mb;
  int wal_recovery; /* tsdb_wal_recovery: what a damaged write-ahead log does to the open */
  const tsdb_logger *log;
  tsdb_expired_fn expired; /* NULL: nothing expires */
  void *expired_ud;
} tsdb_store_options;

/* The kind of a RocksDB error text (an `errptr` of its C API, which holds
 * Status::ToString(): the code's name first, "IO error: No space left on
 * device: While appending to file: ...", "Corruption: bad block ..."):
 * TSDB_ENOSPC for a full disk, TSDB_ECORRUPT for damaged data, TSDB_EIO for
 * anything else. Pure; any thread. */
int tsdb_store__error_kind(const char *msg);

/* Opens (creating) the database. TSDB_EIO or TSDB_ENOSPC: the directory or
 * the database cannot be used now (permissions, not a directory, a full disk,
 * another process holds it); TSDB_ECORRUPT: damaged data, or a damaged write-ahead
 * log under TSDB_WAL_STRICT; TSDB_EVERSION: a format this build does not
 * read. `err` says which, in words. A damaged write-ahead log under
 * TSDB_WAL_POINT_IN_TIME is recovered up to the damage, reported at ERROR
 * with what was dropped, and its files copied aside first. */
int tsdb_store__open(const char *path, const tsdb_store_options *opts, tsdb_store **out, char *err,
                     size_t errlen);
void tsdb_store__close(tsdb_store *st);
/* After a failed write: asks RocksDB to clear its background error (it
 * flushes the memtables and starts a new write-ahead log). 0 when writes
 * may be retried; the error's kind (TSDB_ENOSPC, TSDB_ECORRUPT or TSDB_EIO) with
 * RocksDB's reason in `why` while the cause (a full disk, say) is still
 * there. Writer thread only. */
int tsdb_store__resume(tsdb_store *st, char *why, size_t whylen);
/* The text of the newest storage error. */
void tsdb_store__last_error(tsdb_store *st, char *buf, size_t len);
/* Whether this open dropped damaged write-ahead log records. */
bool tsdb_store__wal_damaged(const tsdb_store *st);

/* ---- writes ---- */
tsdb_wbatch *tsdb_store__batch_new(void);
void tsdb_store__batch_free(tsdb_wbatch *b);
void tsdb_store__batch_clear(tsdb_wbatch *b);
int tsdb_store__batch_count(const tsdb_wbatch *b);
void tsdb_store__batch_raw_merge(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                 int64_t block_start, const uint8_t *block, size_t len);
/* Adds an aggregate block (aggblock.h) as a merge operand of the block key. */
void tsdb_store__batch_agg_merge(tsdb_store *st, tsdb_wbatch *b, uint32_t series, uint32_t tier_s,
                                 int64_t block_start, const uint8_t *block, size_t len);
/* Deletes every aggregate block and pending marker of one tier of a series:
 * a schema dropped the tier. */
void tsdb_store__batch_tier_delete(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                   uint32_t tier_s);
/* RocksDB's memory in bytes: memtables (active, immutable and pinned) and
 * table readers summed over the column families, and the block cache. */
void tsdb_store__memory(tsdb_store *st, uint64_t *memtables, uint64_t *block_cache,
                        uint64_t *table_readers);
void tsdb_store__batch_pending_put(tsdb_store *st, tsdb_wbatch *b, uint32_t series, uint32_t tier_s,
                                   int64_t bucket);
void tsdb_store__batch_pending_delete(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                      uint32_t tier_s, int64_t bucket);
void tsdb_store__batch_archive_put(tsdb_store *st, tsdb_wbatch *b, int64_t arrival,
                                   uint32_t session, uint32_t seq, const char *topic,
                                   size_t topic_len, const void *payload, size_t len);
/* Deletes every archived message that arrived before `before` (one range
 * tombstone) and compacts that range so its space comes back. */
int tsdb_store__archive_delete_before(tsdb_store *st, int64_t before);
void tsdb_store__batch_catalog_put(tsdb_store *st, tsdb_wbatch *b, const void *key, size_t klen,
                                   const void *value, size_t vlen);
/* Writes the batch with the WAL on; sync additionally fsyncs the WAL. */
int tsdb_store__write(tsdb_store *st, tsdb_wbatch *b, bool sync);

/* ---- reads ---- */
/* A consistent view. NULL snapshot arguments below mean "latest". */
tsdb_snap *tsdb_store__snapshot(tsdb_store *st);
void tsdb_store__snapshot_release(tsdb_store *st, tsdb_snap *snap);

typedef struct tsdb_store_iter tsdb_store_iter;

/* An iterator over keys in [lower, upper) of one column family (either bound
 * may be NULL for open). Bounds are copied. */
int tsdb_store__iter_open(tsdb_store *st, const tsdb_snap *snap, tsdb_cf_id cf, const void *lower,
                          size_t lower_len, const void *upper, size_t upper_len,
                          tsdb_store_iter **out);
bool tsdb_store__iter_valid(const tsdb_store_iter *it);
void tsdb_store__iter_next(tsdb_store_iter *it);
/* Backward iteration: position on the last key within the bounds, step back. */
void tsdb_store__iter_seek_last(tsdb_store_iter *it);
void tsdb_store__iter_prev(tsdb_store_iter *it);
const uint8_t *tsdb_store__iter_key(const tsdb_store_iter *it, size_t *len);
const uint8_t *tsdb_store__iter_value(const tsdb_store_iter *it, size_t *len);
/* 0, or the error's kind when the iteration stopped on one (logged). */
int tsdb_store__iter_status(tsdb_store_iter *it);
void tsdb_store__iter_close(tsdb_store_iter *it);

/* Iterators over one series' raw blocks with block_start in [from_block, to),
 * and over its buckets/markers of a tier with start in [from, to). */
int tsdb_store__iter_raw(tsdb_store *st, const tsdb_snap *snap, uint32_t series, int64_t from_block,
                         int64_t to, tsdb_store_iter **out);
int tsdb_store__iter_tier(tsdb_store *st, const tsdb_snap *snap, tsdb_cf_id cf, uint32_t series,
                          uint32_t tier_s, int64_t from, int64_t to, tsdb_store_iter **out);

/* The raw block with the greatest start of a series: its info via *max_ts
 * (INT64_MIN when the series has no points). */
int tsdb_store__raw_max_ts(tsdb_store *st, uint32_t series, int64_t *max_ts);

/* A decoded aggregate block: the buckets of one (series, tier, block). */
typedef struct tsdb_agg_block {
  int64_t *starts;
  tsdb_agg *aggs;
  size_t n, cap;
} tsdb_agg_block;

void tsdb_agg_block__free(tsdb_agg_block *b);

/* The stored block holding `bucket`, decoded into *out (grown as needed;
 * out->n 0 when there is none). */
int tsdb_store__agg_block_get(tsdb_store *st, const tsdb_snap *snap, uint32_t series,
                              uint32_t tier_s, int64_t bucket, tsdb_agg_block *out);

/* One stored bucket (from its block); *found false (and agg empty) when absent. */
int tsdb_store__agg_get(tsdb_store *st, const tsdb_snap *snap, uint32_t series, uint32_t tier_s,
                        int64_t bucket, tsdb_agg *agg, bool *found);

/* Statistics. */
/* The decoded aggregate block cache (aggcache.h), or NULL. */
struct tsdb_aggcache *tsdb_store__aggcache(tsdb_store *st);
uint64_t tsdb_store__merge_corrupt_inputs(const tsdb_store *st);
/* Total size of the SST and WAL files (bytes on disk). */
uint64_t tsdb_store__disk_bytes(tsdb_store *st);
/* Live SST bytes of one column family (RocksDB's total-sst-files-size). */
uint64_t tsdb_store__cf_sst_bytes(tsdb_store *st, tsdb_cf_id cf);
/* Bytes of the write-ahead log files. */
uint64_t tsdb_store__wal_bytes(tsdb_store *st);

/* Full compaction of every column family (benchmarks, tools): 0, or the kind
 * of the first error (a flush failed; every family is still tried). */
int tsdb_store__compact(tsdb_store *st);
/* Compaction of the keys in [lower, upper) of one column family: how the
 * retention sweep makes the compaction filter see expired keys. Blocks. */
void tsdb_store__compact_range(tsdb_store *st, tsdb_cf_id cf, const void *lower, size_t lower_len,
                               const void *upper, size_t upper_len);

/* Bytes on disk by kind (tsdb_disk_usage_get): live SST files of the raw
 * and agg column families, of the others (the replay archive apart), and
 * the write-ahead log. */
void tsdb_store__disk_usage(tsdb_store *st, tsdb_disk_usage *out);

#endif /* TSDB_STORE_H */
