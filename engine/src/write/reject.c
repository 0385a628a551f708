/*
 * The reject policy's duplicate index: for one pass, which (series, timestamp)
 * are stored or staged already.
 */
#include "writer_internal.h"

/* ---- the reject policy's duplicate index ---- */

static size_t reject_hash(uint32_t series, int64_t ts, size_t mask) {
  /* 64-bit mix (the finalizer of MurmurHash3, Appleby 2011) */
  uint64_t h = (uint64_t)ts ^ ((uint64_t)series << 32 | series);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb3f99ec2ddb9ull;
  h ^= h >> 33;
  return (size_t)h & mask;
}

static reject_slot *reject_find(reject_index *x, uint32_t series, int64_t ts) {
  if (!x->cap) return NULL;
  size_t mask = x->cap - 1;
  for (size_t i = reject_hash(series, ts, mask);; i = (i + 1) & mask) {
    reject_slot *sl = &x->slots[i];
    if (sl->gen != x->gen) return sl; /* free: where it would go */
    if (sl->series == series && sl->ts == ts) return sl;
  }
}

/* Records a staged point of a reject-policy series. */
int tsdb_reject__add(reject_index *x, uint32_t series, int64_t ts) {
  if ((x->count + 1) * 2 > x->cap) {
    size_t ncap = x->cap ? x->cap * 2 : 256;
    reject_slot *old = x->slots;
    size_t ocap = x->cap;
    x->slots = calloc(ncap, sizeof *x->slots);
    if (!x->slots) {
      x->slots = old;
      return TSDB_ENOMEM;
    }
    x->cap = ncap;
    uint32_t gen = x->gen;
    x->gen = 1; /* the new array's slots are all free (gen 0) */
    x->count = 0;
    for (size_t i = 0; i < ocap; i++) {
      if (old[i].gen != gen) continue;
      reject_slot *sl = reject_find(x, old[i].series, old[i].ts);
      *sl = (reject_slot){old[i].ts, old[i].series, x->gen};
      x->count++;
    }
    free(old);
  }
  reject_slot *sl = reject_find(x, series, ts);
  if (sl->gen != x->gen) {
    *sl = (reject_slot){ts, series, x->gen};
    x->count++;
  }
  return 0;
}

static int collect_block_ts(void *ud, int64_t ts, double v) {
  (void)v;
  reject_index *x = ud;
  if (x->block_n == x->block_cap) {
    size_t ncap = x->block_cap ? x->block_cap * 2 : 1024;
    int64_t *t = realloc(x->block_ts, ncap * sizeof *t);
    if (!t) return TSDB_ENOMEM;
    x->block_ts = t;
    x->block_cap = ncap;
  }
  x->block_ts[x->block_n++] = ts;
  return 0;
}

/* Forgets the pass: O(1) but for a generation wrap and memory kept after a
 * burst. */
void tsdb_reject__reset(reject_index *x) {
  x->count = 0;
  x->block_series = 0;
  x->block_n = 0;
  if (x->cap > 2 * VEC_KEEP) {
    free(x->slots);
    x->slots = NULL;
    x->cap = 0;
  } else if (++x->gen == 0) {
    if (x->slots) memset(x->slots, 0, x->cap * sizeof *x->slots);
    x->gen = 1;
  }
  if (x->block_cap > 128 * 1024) {
    free(x->block_ts);
    x->block_ts = NULL;
    x->block_cap = 0;
  }
}

/* Reject policy: is (series, ts) staged in this pass, or stored? Only asked
 * for points not newer than everything stored (late ones). A read error
 * counts as "not stored": the point is then kept, never lost. */
bool tsdb_reject__is_duplicate(tsdb_writer *w, uint32_t id, int64_t ts) {
  reject_index *x = &w->reject;
  reject_slot *sl = reject_find(x, id, ts);
  if (sl && sl->gen == x->gen) return true;
  tsdb_series_params sp;
  if (tsdb_catalog__params(&w->env->catalog, id, &sp) != 0) return false;
  int64_t block = tsdb_bucket_floor(ts, sp.block_span_ms);
  if (x->block_series != id || x->block_start != block) {
    x->block_series = 0;
    x->block_n = 0;
    int64_t end = block > INT64_MAX - sp.block_span_ms ? INT64_MAX : block + sp.block_span_ms;
    if (tsdb_read__raw(w->env->store, NULL, &sp, block, end, &w->scan, collect_block_ts, x) != 0)
      return false;
    x->block_series = id;
    x->block_start = block;
  }
  size_t at = tsdb_writer__lower_bound_ts(x->block_ts, x->block_n, ts);
  return at < x->block_n && x->block_ts[at] == ts;
}
