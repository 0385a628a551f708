/*
 * RocksDB key layouts. Big-endian integers so that byte order is numeric
 * order; signed timestamps get their sign bit flipped so that negative times
 * sort before positive ones.
 *
 *   raw      [series u32][block_start i64]                12 bytes -> point block (codec.h)
 *   agg      [series u32][tier_s u32][block_start i64]    16 bytes -> bucket block (aggblock.h)
 *   pending  [series u32][tier_s u32][bucket_start i64]   16 bytes -> 1 byte reason
 *   catalog  'S' [series u32]                              -> series descriptor (JSON)
 *            'N' topic 0x00 field                          -> series u32
 *   archive  [arrival i64][session u32][seq u32]          16 bytes -> u16 topic length,
 *            topic, original payload (time-major: replays scan time ranges,
 *            retention deletes one range)
 *   default  "format"                                      -> on-disk format version
 *
 * All of one series is contiguous in each column family, so a series' range
 * reads are single seeks and deleting a series is one DeleteRange.
 */
#ifndef TSDB_KEYS_H
#define TSDB_KEYS_H

#include <stdint.h>
#include <string.h>

#define TSDB_RAW_KEY_LEN 12
#define TSDB_AGG_KEY_LEN 16

static inline void tsdb_key__put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline uint32_t tsdb_key__get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void tsdb_key__put_ts(uint8_t *p, int64_t ts) {
  uint64_t u = (uint64_t)ts ^ (1ull << 63);
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(u >> (56 - 8 * i));
}
static inline int64_t tsdb_key__get_ts(const uint8_t *p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u = u << 8 | p[i];
  return (int64_t)(u ^ (1ull << 63));
}

static inline void tsdb_key__raw(uint8_t key[TSDB_RAW_KEY_LEN], uint32_t series,
                                 int64_t block_start) {
  tsdb_key__put_u32(key, series);
  tsdb_key__put_ts(key + 4, block_start);
}
static inline void tsdb_key__agg(uint8_t key[TSDB_AGG_KEY_LEN], uint32_t series, uint32_t tier_s,
                                 int64_t bucket) {
  tsdb_key__put_u32(key, series);
  tsdb_key__put_u32(key + 4, tier_s);
  tsdb_key__put_ts(key + 8, bucket);
}

/* Pending markers (the pending family, agg key layout) of this series id
 * are global: the marker of (tier, start) stands for that bucket of every
 * series (writer.c, "Pending markers"). Series ids start at 1. */
#define TSDB_GLOBAL_MARKER_SERIES 0u

#define TSDB_ARCHIVE_KEY_LEN 16

static inline void tsdb_key__archive(uint8_t key[TSDB_ARCHIVE_KEY_LEN], int64_t arrival,
                                     uint32_t session, uint32_t seq) {
  tsdb_key__put_ts(key, arrival);
  tsdb_key__put_u32(key + 8, session);
  tsdb_key__put_u32(key + 12, seq);
}

#endif /* TSDB_KEYS_H */
