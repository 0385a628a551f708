/*
 * Merging point blocks: the logic behind the raw column family's RocksDB
 * merge operator, kept free of RocksDB so it can be tested and fuzzed alone.
 *
 * Why a merge operator: a point must count as stored once its WriteBatch is
 * in the WAL, yet rewriting a whole compressed block per point would cost
 * O(block) per write. Instead each write batch adds, per (series, block), one
 * small encoded block as a merge operand; RocksDB keeps operands in the WAL
 * and memtable and folds them into the base block during flush/compaction
 * and on read. Late, out-of-order and duplicate points need no special path:
 * they are operands of the block their timestamp falls in.
 *
 * Merge semantics: inputs are ordered oldest first (the base, then operands in
 * write order). The result holds each timestamp once, ascending. For a
 * timestamp present in several inputs the policy of the NEWEST input decides:
 * TSDB_DUP_LAST keeps the newest write, TSDB_DUP_FIRST and TSDB_DUP_REJECT
 * the oldest (for REJECT the writer has normally refused the later ones).
 */
#ifndef TSDB_BLOCK_H
#define TSDB_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

typedef struct tsdb_block_merge_stats {
  uint64_t corrupt_inputs; /* inputs skipped because they did not decode */
  uint64_t dropped_points; /* points beyond TSDB_CODEC_MAX_POINTS */
} tsdb_block_merge_stats;

/*
 * Merges n encoded blocks into one, encoded with the given effort (codec.h).
 * On success *out is a malloc()ed block of *out_len bytes and 0 is returned.
 * Corrupt inputs are skipped and counted; if nothing decodes, returns
 * TSDB_ECORRUPT.
 */
int tsdb_block__merge(const char *const *blocks, const size_t *lens, size_t n,
                      tsdb_codec_effort effort, uint8_t **out, size_t *out_len,
                      tsdb_block_merge_stats *stats);

/*
 * Sorts points by timestamp (stable) and removes repeated timestamps under
 * the policy (LAST keeps the later element, FIRST the earlier). Returns the
 * new count. Used by the writer before encoding an operand.
 */
size_t tsdb_block__normalize(int64_t *ts, double *values, size_t n, int policy);

#endif /* TSDB_BLOCK_H */
