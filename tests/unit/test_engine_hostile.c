/*
 * Bytes the engine reads back from disk are not trusted: a damaged disk, a
 * bug of an older version or a hand-edited store may hold anything. These
 * are the cases the fuzzers (tests/fuzz/) found, each refused with an error
 * and never undefined behaviour. No RocksDB.
 */
#include "aggblock.h"
#include "codec.h"
#include "tsdb/error.h"
#include "unit.h"

/* ---- aggregate blocks ---- */

TEST(aggblock_column_longer_than_the_block_is_corrupt) {
  /* Two buckets, then the header says one: each column holds two points.
   * That is damage, not an array too small for the block (TSDB_ETOOBIG
   * would tell a caller to retry with more room). */
  int64_t starts[2] = {1795651200000, 1795651260000};
  tsdb_agg aggs[2];
  for (int i = 0; i < 2; i++) {
    tsdb_agg__init(&aggs[i]);
    tsdb_agg__add(&aggs[i], starts[i] + 1000, 20 + i);
  }
  static uint8_t block[4096];
  size_t len = 0;
  CHECK_OK(tsdb_aggblock__encode(starts, aggs, 2, block, sizeof block, &len));
  CHECK_INT(block[1], ==, 2); /* the count varint */
  block[1] = 1;
  size_t n = 0;
  CHECK_OK(tsdb_aggblock__count(block, len, &n));
  CHECK_INT(n, ==, 1);
  int64_t got_starts[TSDB_AGGBLOCK_MAX_BUCKETS];
  static tsdb_agg got[TSDB_AGGBLOCK_MAX_BUCKETS];
  CHECK_INT(tsdb_aggblock__decode(block, len, got_starts, got, TSDB_AGGBLOCK_MAX_BUCKETS, &n), ==,
            TSDB_ECORRUPT);
}
