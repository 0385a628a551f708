/*
 * Finals: accumulators that became due are written with their pending marker
 * deleted in one batch, then reported as bucket events.
 */
#include "writer_internal.h"

static int cmp_final(const void *x, const void *y) {
  const final_entry *a = x, *b = y;
  size_t n = a->topic_len < b->topic_len ? a->topic_len : b->topic_len;
  int c = memcmp(a->topic, b->topic, n);
  if (c) return c;
  if (a->topic_len != b->topic_len) return a->topic_len < b->topic_len ? -1 : 1;
  if (a->tier_ms != b->tier_ms) return a->tier_ms < b->tier_ms ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return 0;
}

static int cmp_final_ref(const void *x, const void *y) {
  return cmp_final(*(final_entry *const *)x, *(final_entry *const *)y);
}

static int cmp_final_block(const void *x, const void *y);
static int cmp_final_block_ref(const void *x, const void *y) {
  return cmp_final_block(*(final_entry *const *)x, *(final_entry *const *)y);
}

bool tsdb_finals__sorted(const tsdb_writer *w, int (*cmp_ref)(const void *, const void *)) {
  for (size_t i = 1; i < w->finals.n; i++) {
    const final_entry *a = &w->finals.v[i - 1], *b = &w->finals.v[i];
    if (cmp_ref(&a, &b) > 0) return false;
  }
  return true;
}

/* Sorts w->finals (stable): pointers are sorted, then the entries are moved
 * once, instead of moving 56-byte entries at every step of a merge sort (a
 * bulk import of 1-minute data finalizes a bucket per point). */
void tsdb_finals__sort(tsdb_writer *w, int (*cmp_ref)(const void *, const void *)) {
  size_t n = w->finals.n;
  if (n < 2 || tsdb_finals__sorted(w, cmp_ref)) return;
  /* Each scratch vector is checked on its own: they are swapped with
   * w->finals and trimmed independently, so their capacities differ. */
  bool ok = true;
  if (w->finals_order.cap < n) {
    final_entry **o = realloc(w->finals_order.v, n * sizeof *o);
    if (o) w->finals_order.v = o, w->finals_order.cap = n;
    ok = o != NULL;
  }
  if (ok && w->tsdb_finals__sorted.cap < n) {
    final_entry *t = realloc(w->tsdb_finals__sorted.v, n * sizeof *t);
    if (t) w->tsdb_finals__sorted.v = t, w->tsdb_finals__sorted.cap = n;
    ok = t != NULL;
  }
  if (!ok) { /* out of memory: the slow way, in place */
    qsort(w->finals.v, n, sizeof *w->finals.v,
          cmp_ref == cmp_final_ref ? cmp_final : cmp_final_block);
    return;
  }
  for (size_t i = 0; i < n; i++) w->finals_order.v[i] = &w->finals.v[i];
  qsort(w->finals_order.v, n, sizeof *w->finals_order.v, cmp_ref);
  for (size_t i = 0; i < n; i++) w->tsdb_finals__sorted.v[i] = *w->finals_order.v[i];
  final_entry *v = w->finals.v;
  size_t cap = w->finals.cap;
  w->finals.v = w->tsdb_finals__sorted.v;
  w->finals.cap = w->tsdb_finals__sorted.cap;
  w->tsdb_finals__sorted.v = v;
  w->tsdb_finals__sorted.cap = cap;
}

static void unlink_acc(tsdb_writer *w, acc *a) {
  wseries *h = w->ws[a->series];
  if (a->prev)
    a->prev->next = a->next;
  else
    h->accs[a->tier] = a->next;
  if (a->next) a->next->prev = a->prev;
}

static int cmp_final_block(const void *x, const void *y) {
  const final_entry *a = x, *b = y;
  if (a->series != b->series) return a->series < b->series ? -1 : 1;
  if (a->tier_ms != b->tier_ms) return a->tier_ms < b->tier_ms ? -1 : 1;
  return (a->start > b->start) - (a->start < b->start);
}

/*
 * Adds the collected buckets to w->batch: one aggregate-block operand per
 * (series, tier, block span), with the deletion of their pending markers. A
 * bucket with count 0 deletes the stored bucket. A group that cannot be
 * encoded (out of memory) is given back: it stays open and tries again.
 */
static void stage_finals(tsdb_writer *w, int64_t now) {
  if (w->finals.n == 0) return;
  tsdb_finals__sort(w, cmp_final_block_ref);
  int64_t starts[TSDB_AGGBLOCK_MAX_BUCKETS];
  static _Thread_local tsdb_agg aggs[TSDB_AGGBLOCK_MAX_BUCKETS];
  size_t keep = 0;
  for (size_t i = 0; i < w->finals.n;) {
    const final_entry e = w->finals.v[i];
    int64_t span = tsdb_aggblock__span(e.tier_ms);
    int64_t block = tsdb_bucket_floor(e.start, span);
    size_t first = i, n = 0;
    while (i < w->finals.n && w->finals.v[i].series == e.series &&
           w->finals.v[i].tier_ms == e.tier_ms && w->finals.v[i].start < block + span) {
      starts[n] = w->finals.v[i].start;
      aggs[n] = w->finals.v[i].a->state;
      n++;
      i++;
    }
    size_t need = tsdb_aggblock__max_size(n), len = 0;
    int rc = 0;
    if (need > w->enc_cap) {
      uint8_t *enc = realloc(w->enc, need);
      if (enc) {
        w->enc = enc;
        w->enc_cap = need;
      } else {
        rc = TSDB_ENOMEM;
      }
    }
    if (rc == 0)
      rc = tsdb_aggblock__encode_with(starts, aggs, n, TSDB_CODEC_LIGHT, w->enc, w->enc_cap, &len);
    if (rc) {
      for (size_t k = first; k < i; k++) {
        w->finals.v[k].a->finalizing = false;
        tsdb_accs__heap_push(w, w->finals.v[k].a, now + 1000);
      }
      continue;
    }
    uint32_t tier_s = (uint32_t)(e.tier_ms / 1000);
    tsdb_store__batch_agg_merge(w->env->store, w->batch, e.series, tier_s, block, w->enc, len);
    for (size_t k = first; k < i; k++) {
      acc *a = w->finals.v[k].a;
      if (a->marker == MARKER_ON_DISK)
        tsdb_store__batch_pending_delete(w->env->store, w->batch, a->series, tier_s, a->start);
      w->finals.v[keep++] = w->finals.v[k];
    }
  }
  w->finals.n = keep;
}

/*
 * Moves every accumulator that is due at `now` (and needs no rebuild) into
 * w->batch: its aggregate, and the deletion of its marker if one was
 * written. The caller writes the batch, then commits or restores them.
 */
void tsdb_finals__collect_due(tsdb_writer *w, int64_t now) {
  tsdb_env *env = w->env;
  /* Accumulators opened in this pass that are due already. */
  for (size_t i = 0; i < w->unmarked.n; i++) {
    acc *a = w->unmarked.v[i];
    if (a->heap_pos != NO_HEAP || a->finalizing || a->refresh || tsdb_accs__due(w, a) > now)
      continue;
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, a->series);
    final_entry e = {a->series, s ? s->topic->text : "",     s ? s->topic->len : 0, a->tier_ms,
                     a->start,  a->existed && !a->unchanged, a->unchanged,          a};
    if (VEC_PUSH(w->finals, e)) break;
    a->finalizing = true;
  }
  while (w->heap_n && w->heap[0]->heap_due <= now) {
    acc *a = w->heap[0];
    int64_t due = tsdb_accs__due(w, a);
    if (a->refresh) due = now + 1000; /* its rebuild is pending or failed */
    if (due > now) {
      tsdb_accs__heap_update(w, a, due);
      continue;
    }
    tsdb_accs__heap_pop(w);
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, a->series);
    final_entry e = {a->series, s ? s->topic->text : "",     s ? s->topic->len : 0, a->tier_ms,
                     a->start,  a->existed && !a->unchanged, a->unchanged,          a};
    if (VEC_PUSH(w->finals, e)) {
      tsdb_accs__heap_push(w, a, now + 1000); /* out of memory: try again later */
      break;
    }
    a->finalizing = true;
  }
  stage_finals(w, now);
}

/* Accumulators opened in this pass that stay open go into the heap. */
void tsdb_finals__schedule_unmarked(tsdb_writer *w) {
  for (size_t i = 0; i < w->unmarked.n; i++) {
    acc *a = w->unmarked.v[i];
    if (!a->finalizing && a->heap_pos == NO_HEAP) tsdb_accs__heap_push(w, a, tsdb_accs__due(w, a));
  }
}

/* The batch holding the collected aggregates is written: publish, free. */
void tsdb_finals__commit(tsdb_writer *w) {
  tsdb_env *env = w->env;
  if (w->finals.n == 0) return;
  atomic_fetch_add(&env->counters.buckets_finalized, w->finals.n);
  if (env->opts.bucket_fn) {
    tsdb_finals__sort(w, cmp_final_ref);
    for (size_t i = 0; i < w->finals.n;) {
      size_t j = i + 1;
      while (j < w->finals.n && cmp_final(&w->finals.v[i], &w->finals.v[j]) == 0) j++;
      bool silent = true;
      for (size_t k = i; k < j; k++) silent &= w->finals.v[k].silent;
      if (!silent) tsdb_events__publish_group(w, w->finals.v + i, j - i);
      for (size_t k = i; k < j; k++)
        if (w->finals.v[k].correction) atomic_fetch_add(&env->counters.corrections, 1);
      i = j;
    }
  }
  for (size_t i = 0; i < w->finals.n; i++) {
    acc *a = w->finals.v[i].a;
    if (a->in_unmarked) {
      /* Only after a failed write can a finalized accumulator still owe its
       * marker: take it off that list (rare, so a linear search). */
      for (size_t k = 0; k < w->unmarked.n; k++) {
        if (w->unmarked.v[k] != a) continue;
        w->unmarked.v[k] = w->unmarked.v[--w->unmarked.n];
        break;
      }
    }
    if (a->in_partial) w->partial.v[a->partial_idx] = NULL;
    if (a->gm) tsdb_markers__release(w, a->gm);
    unlink_acc(w, a);
    tsdb_accs__free(w, a);
  }
  w->finals.n = 0;
}
