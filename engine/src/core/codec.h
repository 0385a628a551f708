/*
 * Point-block codec: a pure module (no RocksDB, no threads, no I/O) that turns
 * an array of (timestamp, value) points of ONE series into a compact byte block
 * and back.
 *
 * Where it is used: every raw-data value in RocksDB (column family "raw") and
 * every merge operand written to it is one encoded block. The merge operator
 * (store.c) decodes the base block and its operands, merges them by timestamp
 * under the series' duplicate policy and encodes the result again, so encode
 * and decode are on the compaction path and must be fast.
 *
 * Contract:
 * - Timestamps are int64 milliseconds since the Unix epoch. Any order is
 *   accepted and preserved exactly, duplicates included (the merge operator,
 *   not the codec, removes duplicates); typical input is ascending and
 *   regular, and that case must be the cheap one.
 * - Values are IEEE-754 doubles and round-trip bit-exactly: NaN payloads,
 *   +-Inf, -0.0, subnormals and huge magnitudes included.
 * - `user_flags` is one byte the codec stores and returns untouched (the store
 *   keeps the series' duplicate policy there).
 * - A block never holds more than TSDB_CODEC_MAX_POINTS points.
 * - Decoding untrusted or corrupt bytes never reads or writes out of bounds; it
 *   returns TSDB_ECORRUPT (or TSDB_EVERSION for an unknown format version).
 *
 * Thread-safety: every function is reentrant; no global state.
 *
 * Resources: no heap allocation; encode and decode use at most about 21 KiB
 * of stack (gcc 12 -O2 -fstack-usage: histograms, the rANS decoding table).
 * The format is described at the top of codec.c.
 */
#ifndef TSDB_CODEC_H
#define TSDB_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSDB_CODEC_MAX_POINTS (1u << 20)

typedef struct tsdb_block_info {
  uint32_t count;     /* number of points */
  int64_t min_ts;     /* smallest timestamp in the block */
  int64_t max_ts;     /* largest timestamp in the block */
  uint8_t user_flags; /* the byte given to tsdb_codec__encode() */
  /* The value of the point at max_ts, known when that point is the only one
   * there and stored last (always so in a normalized block); blocks written
   * before format version 2 do not record it. */
  bool newest_known;
  double newest_value;
} tsdb_block_info;

/*
 * Upper bound of the encoded size of n points (16 n + 128 bytes); encode never
 * writes more, and never more than out_cap. Typical blocks are far smaller
 * (0.1 to 1 byte a point), but encode uses the space up to this bound as
 * scratch, so give it max_size(n) and shrink afterwards if memory matters.
 */
size_t tsdb_codec__max_size(size_t n);

/*
 * Encodes n points into out[0..out_cap). On success stores the size in
 * *out_len and returns 0. Returns TSDB_EINVAL for n == 0 or
 * n > TSDB_CODEC_MAX_POINTS, TSDB_ETOOBIG if out_cap is too small (never when
 * out_cap >= tsdb_codec__max_size(n)). With out_cap >= max_size(n) the
 * output depends only on the points and flags (equal input, equal bytes).
 */
int tsdb_codec__encode(const int64_t *ts, const double *values, size_t n, uint8_t user_flags,
                       uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * How hard encode works; every effort writes the same format, so the decoder
 * does not care. Where each is used (store.c, writer.c):
 *  COMPACT  the modelling above: what flushes and compactions write when
 *           they fold a key into its final value;
 *  LIGHT    no modelling (as for blocks of up to 128 points: delta varints,
 *           decimals as varints): merge operands, which a later compaction
 *           encodes again anyway, and partial merges of operands;
 *  FAST     regular timestamps or delta varints, values constant or verbatim:
 *           about a memory copy each way at several times the size, for
 *           values a reader merges, uses once and throws away.
 */
typedef enum tsdb_codec_effort {
  TSDB_CODEC_COMPACT = 0,
  TSDB_CODEC_LIGHT = 1,
  TSDB_CODEC_FAST = 2
} tsdb_codec_effort;

int tsdb_codec__encode_with(const int64_t *ts, const double *values, size_t n, uint8_t user_flags,
                            tsdb_codec_effort effort, uint8_t *out, size_t out_cap,
                            size_t *out_len);

/*
 * The same without the trailer (format version 1, user_flags 0): for the
 * columns of aggregate blocks (aggblock.c), whose newest value nobody asks
 * for, so that each of their ten columns does not pay 2-9 bytes for it.
 */
int tsdb_codec__encode_column(const int64_t *ts, const double *values, size_t n,
                              tsdb_codec_effort effort, uint8_t *out, size_t out_cap,
                              size_t *out_len);

/* Reads the block header and trailer only (O(1)): count, time bounds, flags,
 * the newest point's value. */
int tsdb_codec__info(const uint8_t *in, size_t len, tsdb_block_info *info);

/*
 * Decodes a block into ts[0..cap) and values[0..cap) in stored order; *n gets
 * the count. Returns TSDB_ETOOBIG when cap < count (nothing useful written;
 * *n still gets the count, so the caller can size its arrays and retry).
 * Returns TSDB_ECORRUPT for a damaged block (the whole block is checked: every
 * read is bounded, the entropy coder's final state and the header's time
 * bounds must match, no trailing bytes), TSDB_EVERSION for an unknown format.
 */
int tsdb_codec__decode(const uint8_t *in, size_t len, int64_t *ts, double *values, size_t cap,
                       size_t *n);

#endif /* TSDB_CODEC_H */
