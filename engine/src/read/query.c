/*
 * The query planner: aggregates at any step, the last point, and series
 * lookup by topic filter and labels. Runs on the caller's thread over one
 * RocksDB snapshot.
 *
 * Planning a step query over [from, to) with step S:
 *   - the main tier T is the coarsest rollup tier with S % T == 0, so every
 *     T-bucket lies inside exactly one output bucket;
 *   - the aligned middle [ceil(from, T), floor(to, T)) is read in ONE
 *     sequential pass over tier T (pending buckets are recomputed from finer
 *     tiers by read.c), each T-bucket merged into its output bucket;
 *   - the two edges, each shorter than T, are covered greedily by the next
 *     finer tiers and finally by raw points;
 *   - without any tier dividing S, raw points are aggregated directly.
 * So the cost is (to - from) / T bucket reads plus two edges, whatever the
 * number of points in the range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "query.h"
#include "read.h"
#include "timeutil.h"
#include "tsdb/topic.h"

static int64_t ceil_to(int64_t t, int64_t w) {
  int64_t f = tsdb_bucket_floor(t, w);
  return f == t ? t : f + w;
}

static int merge_cb(void *ud, int64_t start, const tsdb_agg *agg) {
  (void)start;
  tsdb_agg__merge(ud, agg);
  return 0;
}

static int add_cb(void *ud, int64_t ts, double v) {
  tsdb_agg__add(ud, ts, v);
  return 0;
}

/* Aggregate of [a, b) using tiers with index <= max_tier, coarsest first. */
static int cover(tsdb_store *st, const tsdb_snap *snap, const tsdb_series_params *sp, int max_tier,
                 int64_t a, int64_t b, tsdb_scan_buf *buf, tsdb_agg *out) {
  if (a >= b) return 0;
  for (int t = max_tier; t >= 0; t--) {
    int64_t w = sp->tiers_ms[t];
    int64_t a2 = ceil_to(a, w), b2 = tsdb_bucket_floor(b, w);
    if (a2 >= b2) continue;
    int rc = tsdb_read__tier(st, snap, sp, t, a2, b2, buf, merge_cb, out);
    if (rc == 0) rc = cover(st, snap, sp, t - 1, a, a2, buf, out);
    if (rc == 0) rc = cover(st, snap, sp, t - 1, b2, b, buf, out);
    return rc;
  }
  return tsdb_read__raw(st, snap, sp, a, b, buf, add_cb, out);
}

/* ---- emitting output buckets with fill ---- */

typedef struct emitter {
  const tsdb_step_query *q;
  tsdb_bucket_fn fn;
  void *ud;
  int64_t step;
  int64_t cur;      /* start of the output bucket being accumulated */
  tsdb_agg acc;     /* its state */
  int64_t next_out; /* start of the next bucket to report (for gaps) */
  uint32_t emitted;
  bool have_prev;
  tsdb_aggregate prev; /* last non-empty bucket reported */
  bool stopped;
  int64_t next_page;
  int rc;
} emitter;

static void report(emitter *e, const tsdb_aggregate *a) {
  if (e->stopped) return;
  if (e->q->limit && e->emitted == e->q->limit) {
    e->stopped = true;
    e->next_page = a->start_ms;
    return;
  }
  int rc = e->fn(e->ud, a);
  e->emitted++;
  if (rc) {
    e->stopped = true;
    e->rc = rc;
    e->next_page = a->start_ms + e->step;
  }
}

static void empty_bucket(tsdb_aggregate *a, int64_t start) {
  memset(a, 0, sizeof *a);
  a->start_ms = start;
  for (int k = 0; k < TSDB_AGG_KINDS; k++)
    if (k != TSDB_AGG_COUNT) tsdb_agg__view_set(a, (tsdb_agg_kind)k, NAN);
}

static double lerp(double x0, double x1, double f) { return x0 + (x1 - x0) * f; }

/* Reports the empty buckets in [e->next_out, upto) under the fill mode;
 * `next` is the non-empty bucket that follows (NULL at the end). */
static void fill_gap(emitter *e, int64_t upto, const tsdb_aggregate *next) {
  int fill = e->q->fill;
  for (int64_t s = e->next_out; s < upto && !e->stopped; s += e->step) {
    tsdb_aggregate a;
    empty_bucket(&a, s);
    if (fill == TSDB_FILL_NONE) continue;
    if (fill == TSDB_FILL_PREVIOUS && e->have_prev) {
      a = e->prev;
      a.start_ms = s;
      a.count = 0;
      a.filled = true;
    } else if (fill == TSDB_FILL_LINEAR && e->have_prev && next) {
      /* Linear in time between the neighbours' bucket starts; every value
       * but the count (0: no points). */
      double f = (double)(s - e->prev.start_ms) / (double)(next->start_ms - e->prev.start_ms);
      for (int k = 0; k < TSDB_AGG_KINDS; k++) {
        if (k == TSDB_AGG_COUNT) continue;
        tsdb_agg_kind kind = (tsdb_agg_kind)k;
        tsdb_agg__view_set(
            &a, kind, lerp(tsdb_aggregate_get(&e->prev, kind), tsdb_aggregate_get(next, kind), f));
      }
      a.filled = true;
    }
    report(e, &a);
  }
  if (e->next_out < upto) e->next_out = upto;
}

/* Closes the output bucket being accumulated. */
static void flush_current(emitter *e) {
  if (e->acc.count == 0) return;
  tsdb_aggregate a;
  tsdb_agg__view(&e->acc, e->cur, &a);
  fill_gap(e, e->cur, &a);
  report(e, &a);
  e->prev = a;
  e->have_prev = true;
  e->next_out = e->cur + e->step;
  tsdb_agg__init(&e->acc);
}

static void feed(emitter *e, int64_t start, const tsdb_agg *agg) {
  int64_t out = tsdb_bucket_floor(start, e->step);
  if (out != e->cur) {
    flush_current(e);
    e->cur = out;
  }
  tsdb_agg__merge(&e->acc, agg);
}

static int feed_bucket(void *ud, int64_t start, const tsdb_agg *agg) {
  emitter *e = ud;
  feed(e, start, agg);
  return e->stopped ? 1 : 0;
}

static int feed_point(void *ud, int64_t ts, double v) {
  emitter *e = ud;
  tsdb_agg one;
  tsdb_agg__init(&one);
  tsdb_agg__add(&one, ts, v);
  feed(e, ts, &one);
  return e->stopped ? 1 : 0;
}

int tsdb_query__step(tsdb_env *env, const tsdb_snap *given, const tsdb_step_query *q,
                     tsdb_bucket_fn fn, void *ud, int64_t *next) {
  if (!q || !fn || q->step_ms <= 0 || q->from > q->to || q->fill < TSDB_FILL_NONE ||
      q->fill > TSDB_FILL_LINEAR)
    return TSDB_EINVAL;
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&env->catalog, q->series, &sp);
  if (rc) return rc;
  sp.now = tsdb_env__now(env);
  if (next) *next = q->to;
  tsdb_step_query clamped = *q;
  clamped.from = tsdb_ts_clamp(q->from);
  clamped.to = tsdb_ts_clamp(q->to);
  q = &clamped;
  if (q->from == q->to) return 0;

  int main_tier = -1;
  for (size_t i = 0; i < sp.ntiers; i++)
    if (q->step_ms % sp.tiers_ms[i] == 0) main_tier = (int)i;

  emitter e;
  memset(&e, 0, sizeof e);
  e.q = q;
  e.fn = fn;
  e.ud = ud;
  e.step = q->step_ms;
  e.cur = tsdb_bucket_floor(q->from, q->step_ms);
  e.next_out = e.cur;
  tsdb_agg__init(&e.acc);

  tsdb_scan_buf buf = {0};
  tsdb_snap *own = given ? NULL : tsdb_store__snapshot(env->store);
  const tsdb_snap *snap = given ? given : own;
  if (main_tier < 0) {
    rc = tsdb_read__raw(env->store, snap, &sp, q->from, q->to, &buf, feed_point, &e);
  } else {
    int64_t w = sp.tiers_ms[main_tier];
    int64_t a = ceil_to(q->from, w), b = tsdb_bucket_floor(q->to, w);
    if (a >= b) {
      /* The whole range lies inside one tier bucket: only finer sources. */
      tsdb_agg edge;
      tsdb_agg__init(&edge);
      rc = cover(env->store, snap, &sp, main_tier - 1, q->from, q->to, &buf, &edge);
      if (rc == 0) feed(&e, q->from, &edge);
    } else {
      tsdb_agg left, right;
      tsdb_agg__init(&left);
      tsdb_agg__init(&right);
      rc = cover(env->store, snap, &sp, main_tier - 1, q->from, a, &buf, &left);
      if (rc == 0) rc = cover(env->store, snap, &sp, main_tier - 1, b, q->to, &buf, &right);
      if (rc == 0) {
        feed(&e, q->from, &left);
        rc = tsdb_read__tier(env->store, snap, &sp, main_tier, a, b, &buf, feed_bucket, &e);
        if (rc == 1 && e.stopped) rc = 0;
        if (rc == 0 && !e.stopped) feed(&e, b, &right);
      }
    }
  }
  if (rc == 1 && e.stopped) rc = 0;
  if (own) tsdb_store__snapshot_release(env->store, own);
  tsdb_scan_buf__free(&buf);
  if (rc == 0 && !e.stopped) {
    flush_current(&e);
    /* Trailing empty buckets up to `to`. */
    fill_gap(&e, q->to, NULL);
  }
  if (next && e.stopped && e.rc == 0) *next = e.next_page;
  return rc ? rc : e.rc;
}

/* ---- last point ---- */

int tsdb_query__last(tsdb_env *env, const tsdb_snap *snap, uint32_t series, int64_t before,
                     int64_t *ts, double *value) {
  tsdb_series_params sp;
  int rc = tsdb_catalog__params(&env->catalog, series, &sp);
  if (rc) return rc;
  /* Points older than raw retention are gone, whether or not compaction has
   * removed them yet. */
  const int64_t cutoff = sp.raw_retention_ms ? tsdb_env__now(env) - sp.raw_retention_ms : INT64_MIN;
  if (before <= cutoff) return TSDB_ENOTFOUND;
  tsdb_store_iter *it;
  /* Blocks that start before `before`, newest first. */
  rc = tsdb_store__iter_raw(env->store, snap, series, INT64_MIN, before, &it);
  if (rc) return rc;
  tsdb_scan_buf buf = {0};
  rc = TSDB_ENOTFOUND;
  for (tsdb_store__iter_seek_last(it); tsdb_store__iter_valid(it); tsdb_store__iter_prev(it)) {
    size_t vlen, n = 0;
    const uint8_t *v = tsdb_store__iter_value(it, &vlen);
    tsdb_block_info info;
    if (tsdb_codec__info(v, vlen, &info) != 0) {
      rc = TSDB_ECORRUPT;
      break;
    }
    if (info.min_ts >= before) continue;
    if (info.newest_known && info.max_ts < before) {
      /* The usual case, the newest block of a live series: O(1), from the
       * block's trailer (codec.c). */
      if (info.max_ts >= cutoff) {
        *ts = info.max_ts;
        *value = info.newest_value;
        rc = 0;
      }
      break; /* older blocks hold nothing newer, nor anything unexpired */
    }
    if (buf.cap < info.count) {
      tsdb_scan_buf__free(&buf);
      buf.ts = malloc(info.count * sizeof *buf.ts);
      buf.values = malloc(info.count * sizeof *buf.values);
      if (!buf.ts || !buf.values) {
        rc = TSDB_ENOMEM;
        break;
      }
      buf.cap = info.count;
    }
    if (tsdb_codec__decode(v, vlen, buf.ts, buf.values, buf.cap, &n) != 0) {
      rc = TSDB_ECORRUPT;
      break;
    }
    for (size_t i = n; i-- > 0 && buf.ts[i] >= cutoff;) {
      if (buf.ts[i] < before) {
        *ts = buf.ts[i];
        *value = buf.values[i];
        rc = 0;
        break;
      }
    }
    if (rc == 0) break;
  }
  int st_rc = tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  tsdb_scan_buf__free(&buf);
  return st_rc ? st_rc : rc;
}

/* ---- series lookup ---- */

int tsdb_query__series_match(tsdb_env *env, const char *filter, const char *field,
                             const tsdb_label *labels, size_t nlabels, tsdb_series_fn fn,
                             void *ud) {
  if (!filter || !tsdb_topic_filter_valid(filter) || (nlabels && !labels) || !fn)
    return TSDB_EINVAL;
  return tsdb_catalog__match(&env->catalog, filter, field, labels, nlabels, fn, ud);
}
