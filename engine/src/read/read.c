#include "read.h"

#include <stdlib.h>

#include "aggblock.h"
#include "aggcache.h"
#include "codec.h"
#include "keys.h"
#include "timeutil.h"

void tsdb_scan_buf__free(tsdb_scan_buf *b) {
  free(b->ts);
  free(b->values);
  b->ts = NULL;
  b->values = NULL;
  b->cap = 0;
}

static int scan_buf_reserve(tsdb_scan_buf *b, size_t n) {
  if (n <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < n) cap *= 2;
  int64_t *ts = realloc(b->ts, cap * sizeof *ts);
  if (!ts) return TSDB_ENOMEM;
  b->ts = ts;
  double *values = realloc(b->values, cap * sizeof *values);
  if (!values) return TSDB_ENOMEM;
  b->values = values;
  b->cap = cap;
  return 0;
}

int tsdb_read__raw(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                   int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_point_fn fn, void *ud) {
  from = tsdb_ts_clamp(from);
  to = tsdb_ts_clamp(to);
  /* Retention is exact for readers: a point older than the cutoff is gone,
   * whether or not compaction has removed its block yet. */
  if (sp->raw_retention_ms && sp->now != INT64_MIN && from < sp->now - sp->raw_retention_ms)
    from = sp->now - sp->raw_retention_ms;
  if (from >= to) return 0;
  tsdb_store_iter *it;
  int rc =
      tsdb_store__iter_raw(st, snap, sp->id, tsdb_bucket_floor(from, sp->block_span_ms), to, &it);
  if (rc) return rc;
  for (; rc == 0 && tsdb_store__iter_valid(it); tsdb_store__iter_next(it)) {
    size_t vlen;
    const uint8_t *v = tsdb_store__iter_value(it, &vlen);
    tsdb_block_info info;
    if (tsdb_codec__info(v, vlen, &info) != 0) {
      rc = TSDB_ECORRUPT;
      break;
    }
    if (info.max_ts < from || info.min_ts >= to) continue;
    if ((rc = scan_buf_reserve(buf, info.count)) != 0) break;
    size_t n = 0;
    if ((rc = tsdb_codec__decode(v, vlen, buf->ts, buf->values, buf->cap, &n)) != 0) break;
    for (size_t i = 0; i < n && rc == 0; i++) {
      if (buf->ts[i] < from) continue;
      if (buf->ts[i] >= to) break;
      rc = fn(ud, buf->ts[i], buf->values[i]);
    }
  }
  int st_rc = tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  return rc ? rc : st_rc;
}

static int add_to_agg(void *ud, int64_t ts, double v) {
  tsdb_agg__add(ud, ts, v);
  return 0;
}

static int merge_bucket(void *ud, int64_t start, const tsdb_agg *agg) {
  (void)start;
  tsdb_agg__merge(ud, agg);
  return 0;
}

/* Rolling a finer source up into buckets of width w, emitted in order. */
typedef struct rollup_ctx {
  int64_t width;
  int64_t cur;
  tsdb_agg acc;
  tsdb_agg_bucket_fn fn;
  void *ud;
} rollup_ctx;

static int rollup_flush(rollup_ctx *r) {
  int rc = r->acc.count ? r->fn(r->ud, r->cur, &r->acc) : 0;
  tsdb_agg__init(&r->acc);
  return rc;
}

/* Moves to the wide bucket holding ts, emitting the one before. */
static int rollup_move_to(rollup_ctx *r, int64_t ts) {
  int64_t b = tsdb_bucket_floor(ts, r->width);
  if (b == r->cur) return 0;
  int rc = rollup_flush(r);
  r->cur = b;
  return rc;
}

static int rollup_point(void *ud, int64_t ts, double v) {
  rollup_ctx *r = ud;
  int rc = rollup_move_to(r, ts);
  tsdb_agg__add(&r->acc, ts, v);
  return rc;
}

static int rollup_bucket(void *ud, int64_t start, const tsdb_agg *agg) {
  rollup_ctx *r = ud;
  int rc = rollup_move_to(r, start);
  tsdb_agg__merge(&r->acc, agg);
  return rc;
}

int tsdb_read__rollup(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                      int source, int64_t width, int64_t from, int64_t to, tsdb_scan_buf *buf,
                      tsdb_agg_bucket_fn fn, void *ud) {
  while (source >= 0 && sp->tier_complete_from[source] > from) source--;
  rollup_ctx r = {width, INT64_MIN, {0}, fn, ud};
  tsdb_agg__init(&r.acc);
  int rc = source < 0 ? tsdb_read__raw(st, snap, sp, from, to, buf, rollup_point, &r)
                      : tsdb_read__tier(st, snap, sp, source, from, to, buf, rollup_bucket, &r);
  if (rc == 0) rc = rollup_flush(&r);
  return rc;
}

int tsdb_read__tier_index(const tsdb_series_params *sp, int64_t tier_ms) {
  for (size_t i = 0; i < sp->ntiers; i++)
    if (sp->tiers_ms[i] == tier_ms) return (int)i;
  return -2;
}

int tsdb_read__agg_range(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp,
                         int source, int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_agg *out) {
  tsdb_agg__init(out);
  /* A tier still being backfilled is no source for the part before its
   * boundary: use the next finer one. */
  while (source >= 0 && sp->tier_complete_from[source] > from) source--;
  if (source == TSDB_TIER_RAW) return tsdb_read__raw(st, snap, sp, from, to, buf, add_to_agg, out);
  return tsdb_read__tier(st, snap, sp, source, from, to, buf, merge_bucket, out);
}

/* The stored buckets of one tier, block by block, in start order. */
typedef struct block_cursor {
  tsdb_store_iter *it;
  tsdb_aggcache *cache;     /* decoded blocks (NULL: none) */
  int64_t span;             /* the tier's block span */
  int64_t cacheable_before; /* blocks that ended by then are worth caching */
  const void *pin;          /* the cache entry the view points into */
  const int64_t *starts;    /* the current block: a cache entry's or own */
  const tsdb_agg *aggs;
  int64_t *own_starts; /* decoded here when the cache does not keep it */
  tsdb_agg *own_aggs;
  size_t cap, n, i;
  int rc;
} block_cursor;

static void cursor_unpin(block_cursor *c) {
  tsdb_aggcache__release(c->cache, c->pin);
  c->pin = NULL;
}

/* Decodes the current block into the cursor's own arrays. */
static bool decode_own(block_cursor *c, const uint8_t *v, size_t vlen, size_t count) {
  if (count > c->cap) {
    free(c->own_starts);
    free(c->own_aggs);
    c->cap = count;
    c->own_starts = malloc(count * sizeof *c->own_starts);
    c->own_aggs = malloc(count * sizeof *c->own_aggs);
    if (!c->own_starts || !c->own_aggs) {
      c->rc = TSDB_ENOMEM;
      c->cap = 0;
      return false;
    }
  }
  if ((c->rc = tsdb_aggblock__decode(v, vlen, c->own_starts, c->own_aggs, c->cap, &c->n)) != 0)
    return false;
  c->starts = c->own_starts;
  c->aggs = c->own_aggs;
  return true;
}

/* Positions on the next stored bucket; false at the end (or on error). */
static bool cursor_valid(block_cursor *c) {
  while (c->i >= c->n) {
    cursor_unpin(c);
    if (c->rc || !tsdb_store__iter_valid(c->it)) return false;
    size_t vlen, klen, count = 0;
    const uint8_t *v = tsdb_store__iter_value(c->it, &vlen);
    const uint8_t *k = tsdb_store__iter_key(c->it, &klen);
    if ((c->rc = tsdb_aggblock__count(v, vlen, &count)) != 0) return false;
    /* A block whose span has ended changes only with late data: decoded
     * once, it serves every later query until then (aggcache.h). The open
     * block changes with every write and is decoded each time. */
    bool cacheable = c->cache && klen == TSDB_AGG_KEY_LEN &&
                     tsdb_key__get_ts(k + 8) + c->span <= c->cacheable_before;
    tsdb_aggcache_view view;
    if (cacheable && (c->pin = tsdb_aggcache__get(c->cache, k, klen, v, vlen, &view)) != NULL) {
      c->starts = view.starts;
      c->aggs = view.aggs;
      c->n = view.n;
    } else {
      if (!decode_own(c, v, vlen, count)) return false;
      if (cacheable && (c->pin = tsdb_aggcache__put(c->cache, k, klen, v, vlen, c->own_starts,
                                                    c->own_aggs, c->n, &view)) != NULL) {
        c->starts = view.starts;
        c->aggs = view.aggs;
      }
    }
    c->i = 0;
    tsdb_store__iter_next(c->it);
  }
  return true;
}

int tsdb_read__tier(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp, int tier,
                    int64_t from, int64_t to, tsdb_scan_buf *buf, tsdb_agg_bucket_fn fn, void *ud) {
  if (tier < 0 || (size_t)tier >= sp->ntiers) return TSDB_EINVAL;
  from = tsdb_ts_clamp(from);
  to = tsdb_ts_clamp(to);
  int64_t tier_ms = sp->tiers_ms[tier];
  uint32_t tier_s = (uint32_t)(tier_ms / 1000);
  /* A bucket expires when its end is at or before now - retention: the first
   * visible bucket is the one holding that cutoff. */
  if (sp->tier_retention_ms[tier] && sp->now != INT64_MIN) {
    int64_t first = tsdb_bucket_floor(sp->now - sp->tier_retention_ms[tier], tier_ms);
    if (from < first) from = first;
  }
  from = tsdb_bucket_floor(from, tier_ms);
  if (from >= to) return 0;
  /* Buckets before a backfill boundary are not stored yet: roll them up
   * from finer data (only while a backfill runs). */
  int64_t complete = sp->tier_complete_from[tier];
  if (from < complete) {
    int64_t upto = complete < to ? complete : to;
    int rc = tsdb_read__rollup(st, snap, sp, tier - 1, tier_ms, from, upto, buf, fn, ud);
    if (rc) return rc;
    from = upto;
  }
  if (from >= to) return 0;
  block_cursor cur = {0};
  cur.cache = tsdb_store__aggcache(st);
  cur.span = tsdb_aggblock__span(tier_ms);
  cur.cacheable_before = sp->now; /* INT64_MIN (unknown): nothing is cached */
  tsdb_store_iter *pend_it = NULL, *glob_it = NULL;
  int rc =
      tsdb_store__iter_tier(st, snap, TSDB_CF_AGG, sp->id, tier_s,
                            tsdb_bucket_floor(from, tsdb_aggblock__span(tier_ms)), to, &cur.it);
  if (rc == 0)
    rc = tsdb_store__iter_tier(st, snap, TSDB_CF_PENDING, sp->id, tier_s, from, to, &pend_it);
  /* The global markers stand for this series' buckets too (writer.c,
   * "Pending markers"). */
  if (rc == 0)
    rc = tsdb_store__iter_tier(st, snap, TSDB_CF_PENDING, TSDB_GLOBAL_MARKER_SERIES, tier_s, from,
                               to, &glob_it);
  /* Merge-join the stored buckets with the pending markers by start time. */
  while (rc == 0) {
    bool have_a = cursor_valid(&cur), have_own = tsdb_store__iter_valid(pend_it),
         have_glob = tsdb_store__iter_valid(glob_it), have_p = have_own || have_glob;
    if (cur.rc) {
      rc = cur.rc;
      break;
    }
    if (have_a && (cur.starts[cur.i] < from || cur.starts[cur.i] >= to)) {
      cur.i++; /* the block's buckets outside the range */
      continue;
    }
    if (!have_a && !have_p) break;
    size_t klen;
    int64_t a_start = have_a ? cur.starts[cur.i] : INT64_MAX, own_start = INT64_MAX,
            glob_start = INT64_MAX;
    if (have_own) own_start = tsdb_key__get_ts(tsdb_store__iter_key(pend_it, &klen) + 8);
    if (have_glob) glob_start = tsdb_key__get_ts(tsdb_store__iter_key(glob_it, &klen) + 8);
    int64_t p_start = own_start < glob_start ? own_start : glob_start;
    tsdb_agg agg;
    int64_t start;
    if (p_start <= a_start) {
      /* Not authoritative on disk: compute it from the finer source. */
      start = p_start;
      rc = tsdb_read__agg_range(st, snap, sp, tier - 1, start, start + tier_ms, buf, &agg);
      if (own_start == p_start) tsdb_store__iter_next(pend_it);
      if (glob_start == p_start) tsdb_store__iter_next(glob_it);
      if (a_start == p_start) cur.i++;
    } else {
      start = a_start;
      agg = cur.aggs[cur.i++];
    }
    if (rc == 0 && agg.count > 0) rc = fn(ud, start, &agg);
  }
  int rc_a = cur.it ? tsdb_store__iter_status(cur.it) : 0;
  int rc_p = pend_it ? tsdb_store__iter_status(pend_it) : 0;
  if (rc_p == 0 && glob_it) rc_p = tsdb_store__iter_status(glob_it);
  tsdb_store__iter_close(cur.it);
  tsdb_store__iter_close(pend_it);
  tsdb_store__iter_close(glob_it);
  cursor_unpin(&cur);
  free(cur.own_starts);
  free(cur.own_aggs);
  return rc ? rc : rc_a ? rc_a : rc_p;
}
