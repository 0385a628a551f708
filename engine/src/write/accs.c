/*
 * Rollup accumulators: their allocation, the due-time heap (a binary min-heap on
 * heap_due, indexed), one point into every tier, and the refresh of marked
 * accumulators from committed raw data.
 */
#include "writer_internal.h"

acc *tsdb_accs__new(tsdb_writer *w) {
  acc *a = w->spare;
  if (!a) return calloc(1, sizeof *a);
  w->spare = a->next;
  w->spare_count--;
  memset(a, 0, sizeof *a);
  return a;
}

void tsdb_accs__free(tsdb_writer *w, acc *a) {
  if (w->spare_count == SPARE_ACCS) {
    free(a);
    return;
  }
  a->next = w->spare;
  w->spare = a;
  w->spare_count++;
}

/* ---- the due-time heap (binary min-heap on heap_due, indexed) ---- */

static void heap_swap(tsdb_writer *w, size_t i, size_t j) {
  acc *t = w->heap[i];
  w->heap[i] = w->heap[j];
  w->heap[j] = t;
  w->heap[i]->heap_pos = (uint32_t)i; /* tsdb_accs__heap_push keeps heap_n below NO_HEAP */
  w->heap[j]->heap_pos = (uint32_t)j;
}

static void heap_up(tsdb_writer *w, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (w->heap[p]->heap_due <= w->heap[i]->heap_due) break;
    heap_swap(w, i, p);
    i = p;
  }
}

static void heap_down(tsdb_writer *w, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < w->heap_n && w->heap[l]->heap_due < w->heap[m]->heap_due) m = l;
    if (r < w->heap_n && w->heap[r]->heap_due < w->heap[m]->heap_due) m = r;
    if (m == i) return;
    heap_swap(w, i, m);
    i = m;
  }
}

int tsdb_accs__heap_push(tsdb_writer *w, acc *a, int64_t due) {
  if (w->heap_n >= NO_HEAP - 1) return TSDB_ENOMEM; /* positions are 32 bits */
  if (w->heap_n == w->heap_cap) {
    size_t cap = w->heap_cap ? w->heap_cap * 2 : 256;
    acc **h = realloc(w->heap, cap * sizeof *h);
    if (!h) return TSDB_ENOMEM;
    w->heap = h;
    w->heap_cap = cap;
  }
  a->heap_due = due;
  a->heap_pos = (uint32_t)w->heap_n;
  w->heap[w->heap_n++] = a;
  heap_up(w, a->heap_pos);
  return 0;
}

void tsdb_accs__heap_update(tsdb_writer *w, acc *a, int64_t due) {
  int64_t old = a->heap_due;
  a->heap_due = due;
  if (due < old)
    heap_up(w, a->heap_pos);
  else
    heap_down(w, a->heap_pos);
}

acc *tsdb_accs__heap_pop(tsdb_writer *w) {
  acc *top = w->heap[0];
  w->heap_n--;
  if (w->heap_n) {
    w->heap[0] = w->heap[w->heap_n];
    w->heap[0]->heap_pos = 0;
    heap_down(w, 0);
  }
  top->heap_pos = NO_HEAP;
  return top;
}

int64_t tsdb_accs__due(const tsdb_writer *w, const acc *a) {
  int64_t grace = w->env->opts.grace_ms;
  int64_t due = a->start + a->tier_ms + grace;
  if (!a->superseded && a->last_touch + grace > due) due = a->last_touch + grace;
  return due;
}

int tsdb_accs__mark_refresh(tsdb_writer *w, acc *a) {
  a->refresh = true;
  if (a->queued_refresh) return 0;
  a->queued_refresh = true;
  return VEC_PUSH(w->refresh, a);
}

/* ---- one point ---- */

int tsdb_accs__rollup_point(tsdb_writer *w, uint32_t id, wseries *ws, const tsdb_series *s,
                            int64_t ts, double v, int64_t now) {
  bool is_new = ts > ws->max_ts;
  if (!is_new) atomic_fetch_add(&w->env->counters.late_points, 1);
  for (uint8_t t = 0; t < s->profile->ntiers; t++) {
    int64_t tier = s->profile->tiers_ms[t];
    int64_t b = tsdb_bucket_floor(ts, tier);
    acc **pp = &ws->accs[t];
    while (*pp && (*pp)->start > b) pp = &(*pp)->next;
    acc *a = *pp && (*pp)->start == b ? *pp : NULL;
    if (!a) {
      a = tsdb_accs__new(w);
      if (!a) return TSDB_ENOMEM;
      a->series = id;
      a->tier = t;
      a->start = b;
      a->tier_ms = tier;
      a->last_touch = now;
      tsdb_agg__init(&a->state);
      /* A newer bucket of this tier exists: the series has moved past this
       * one. Or this one is the newest: the previous newest is done. */
      a->superseded = pp != &ws->accs[t];
      acc *older = *pp;
      if (!a->superseded && older && !older->superseded) {
        older->superseded = true;
        if (older->heap_pos != NO_HEAP) tsdb_accs__heap_update(w, older, tsdb_accs__due(w, older));
      }
      a->next = older;
      a->prev = pp == &ws->accs[t] ? NULL : (acc *)((char *)pp - offsetof(acc, next));
      if (older) older->prev = a;
      *pp = a;
      /* Its pending marker is written with the batch only if it is still
       * open then; a bucket already due goes straight to the agg family. */
      /* Not in the due-time heap yet: at the end of this pass it is either
       * finalized at once (a backfill moving on) or pushed there. A bulk
       * import thus never pays heap operations for buckets that close. */
      a->heap_pos = NO_HEAP;
      a->in_unmarked = true;
      if (VEC_PUSH(w->unmarked, a)) return TSDB_ENOMEM;
      bool stored_before = ws->max_ts != INT64_MIN && ws->max_ts >= b;
      /* In order: if still open at the end of the pass, the global marker of
       * its (tier, start) covers it. */
      a->in_order = is_new && !stored_before;
      /* Points of this bucket may already be stored: rebuild after commit. */
      if (stored_before && tsdb_accs__mark_refresh(w, a)) return TSDB_ENOMEM;
    }
    a->last_touch = now;
    if (is_new) {
      if (!a->refresh) tsdb_agg__add(&a->state, ts, v);
    } else if (tsdb_accs__mark_refresh(w, a)) {
      return TSDB_ENOMEM;
    }
    if (!a->in_partial && w->env->opts.partial_interval_ms && w->env->opts.bucket_fn) {
      if (w->partial.n >= UINT32_MAX) return TSDB_ENOMEM;
      a->partial_idx = (uint32_t)w->partial.n;
      if (VEC_PUSH(w->partial, a)) return TSDB_ENOMEM;
      a->in_partial = true;
    }
  }
  if (is_new) ws->max_ts = ts;
  return 0;
}

static int cmp_acc_series_start(const void *x, const void *y) {
  const acc *a = *(acc *const *)x, *b = *(acc *const *)y;
  if (a->series != b->series) return a->series < b->series ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->tier > b->tier) - (a->tier < b->tier);
}

static int cmp_acc_tier_start(const void *x, const void *y) {
  const acc *a = *(acc *const *)x, *b = *(acc *const *)y;
  if (a->tier != b->tier) return a->tier < b->tier ? -1 : 1;
  return (a->start > b->start) - (a->start < b->start);
}

/* One cluster of a series' accumulators rebuilt from one raw read: per tier
 * the accumulators in start order and a cursor. */
typedef struct refresh_run {
  acc **accs;
  tsdb_agg *states;
  size_t begin[TSDB_MAX_TIERS + 1], cur[TSDB_MAX_TIERS];
  uint8_t ntiers;
} refresh_run;

static int refresh_point(void *ud, int64_t ts, double v) {
  refresh_run *r = ud;
  for (uint8_t t = 0; t < r->ntiers; t++) {
    size_t i = r->cur[t], end = r->begin[t + 1];
    while (i < end && r->accs[i]->start + r->accs[i]->tier_ms <= ts) i++;
    r->cur[t] = i;
    if (i < end && r->accs[i]->start <= ts) tsdb_agg__add(&r->states[i], ts, v);
  }
  return 0;
}

/* Rebuilds the accumulators w->run.v[0..n) of one series, whose buckets
 * overlap into one time range inside raw retention, from ONE read of that
 * range. Reading each bucket on its own would fold the same raw block (with
 * its memtable operands) once per bucket, and a coarse bucket would read
 * its pending finer buckets one by one: importing history for a live
 * station cost 40 CPU-s per million points that way (engine_bench, 6 days of
 * dataset b). Every tier is an exact aggregate of the raw points, so a
 * bucket computed from them directly equals the chained one. */
static int refresh_cluster(tsdb_writer *w, const tsdb_series_params *sp, size_t n) {
  acc **v = w->run.v;
  if (w->run_states.cap < n) {
    tsdb_agg *st = realloc(w->run_states.v, n * sizeof *st);
    if (!st) return TSDB_ENOMEM;
    w->run_states.v = st;
    w->run_states.cap = n;
  }
  qsort(v, n, sizeof *v, cmp_acc_tier_start);
  refresh_run r = {.accs = v, .states = w->run_states.v};
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    tsdb_agg__init(&r.states[i]);
    if (v[i]->start < lo) lo = v[i]->start;
    if (v[i]->start + v[i]->tier_ms > hi) hi = v[i]->start + v[i]->tier_ms;
    while (r.ntiers <= v[i]->tier) r.begin[r.ntiers++] = i;
  }
  r.begin[r.ntiers] = n;
  for (uint8_t t = 0; t < r.ntiers; t++) r.cur[t] = r.begin[t];
  int rc = tsdb_read__raw(w->env->store, NULL, sp, lo, hi, &w->scan, refresh_point, &r);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) v[i]->state = r.states[i];
  return 0;
}

/* Whether two aggregates are the same state, bit for bit in what the
 * aggregate blocks store (the mean is derived when a block is decoded). */
static bool agg_same(const tsdb_agg *x, const tsdb_agg *y) {
  return x->count == y->count && !memcmp(&x->sum, &y->sum, sizeof x->sum) &&
         !memcmp(&x->sum_comp, &y->sum_comp, sizeof x->sum_comp) &&
         !memcmp(&x->m2, &y->m2, sizeof x->m2) && !memcmp(&x->min, &y->min, sizeof x->min) &&
         !memcmp(&x->max, &y->max, sizeof x->max) && x->first_ts == y->first_ts &&
         x->last_ts == y->last_ts && !memcmp(&x->first, &y->first, sizeof x->first) &&
         !memcmp(&x->last, &y->last, sizeof x->last);
}

/* Whether the stored aggregate of the accumulator's bucket exists (its
 * updates are corrections then). */
void tsdb_accs__refresh_existed(tsdb_writer *w, acc *a) {
  if (a->existed) return;
  /* Accumulators come in (series, start) order, so consecutive ones share
   * their stored block: one read (and merge) for all of them. */
  uint32_t tier_s = (uint32_t)(a->tier_ms / 1000);
  int64_t span = tsdb_aggblock__span(a->tier_ms);
  int64_t block = tsdb_bucket_floor(a->start, span);
  if (!w->existed_valid || w->existed_series != a->series || w->existed_tier_s != tier_s ||
      w->existed_block != block) {
    w->existed_valid = false;
    if (tsdb_store__agg_block_get(w->env->store, NULL, a->series, tier_s, a->start, &w->existed) !=
        0)
      return; /* unknown: not a correction, as before on a read error */
    w->existed_valid = true;
    w->existed_series = a->series;
    w->existed_tier_s = tier_s;
    w->existed_block = block;
  }
  const tsdb_agg_block *b = &w->existed;
  size_t at = tsdb_writer__lower_bound_ts(b->starts, b->n, a->start);
  a->existed = at < b->n && b->starts[at] == a->start && b->aggs[at].count > 0;
  /* A global marker stands for buckets of series that were final already
   * (others still held it): rebuilt from the same points in the same
   * order, they equal what is stored and are no correction. */
  if (a->existed && a->from_global) a->unchanged = agg_same(&b->aggs[at], &a->state);
}

/* Rebuilds marked accumulators from the committed data: clusters of a
 * series' buckets inside raw retention from one raw read each
 * (refresh_cluster), any other bucket from its next finer tier. */
void tsdb_accs__refresh(tsdb_writer *w) {
  tsdb_env *env = w->env;
  int64_t now = tsdb_env__now(env);
  w->existed_valid = false;
  qsort(w->refresh.v, w->refresh.n, sizeof *w->refresh.v, cmp_acc_series_start);
  for (size_t i = 0; i < w->refresh.n;) {
    acc *a = w->refresh.v[i];
    tsdb_series_params sp;
    if (tsdb_catalog__params(&env->catalog, a->series, &sp) != 0) {
      a->queued_refresh = false; /* the series is gone */
      i++;
      continue;
    }
    int64_t raw_from = sp.raw_retention_ms ? now - sp.raw_retention_ms : INT64_MIN;
    if (a->start < raw_from) {
      /* Raw points are gone (in part): from the next finer tier, which
       * reads the finer tiers' pending buckets down to what raw is left. */
      tsdb_agg state;
      i++;
      if (tsdb_read__agg_range(env->store, NULL, &sp, (int)a->tier - 1, a->start,
                               a->start + a->tier_ms, &w->scan, &state) != 0)
        continue; /* stays queued: the next pass tries again */
      a->state = state;
      tsdb_accs__refresh_existed(w, a);
      a->refresh = false;
      a->queued_refresh = false;
      continue;
    }
    /* A cluster: this series' following buckets while they overlap. */
    w->run.n = 0;
    int64_t end = a->start + a->tier_ms;
    bool oom = false;
    while (i < w->refresh.n && w->refresh.v[i]->series == a->series &&
           w->refresh.v[i]->start < end) {
      acc *b = w->refresh.v[i];
      if (VEC_PUSH(w->run, b)) {
        oom = true;
        break;
      }
      if (b->start + b->tier_ms > end) end = b->start + b->tier_ms;
      i++;
    }
    /* Out of memory or a failed read: they stay queued for the next pass. */
    if (oom || refresh_cluster(w, &sp, w->run.n) != 0) break;
    for (size_t k = 0; k < w->run.n; k++) {
      acc *b = w->run.v[k];
      tsdb_accs__refresh_existed(w, b);
      b->refresh = false;
      b->queued_refresh = false;
    }
  }
  /* Keep only those that failed. */
  size_t keep = 0;
  for (size_t i = 0; i < w->refresh.n; i++)
    if (w->refresh.v[i]->queued_refresh) w->refresh.v[keep++] = w->refresh.v[i];
  w->refresh.n = keep;
  w->existed_valid = false;
  if (w->existed.cap > 4096) tsdb_agg_block__free(&w->existed);
}
