/*
 * Recovery at start: pending markers (per series and global) left by a crash
 * become open accumulators again, rebuilt from stored raw points.
 */
#include "writer_internal.h"

/* Opens a recovered accumulator for (series, tier t, start), marked for a
 * rebuild from raw data; NULL when it cannot (no memory). */
static acc *recover_acc(tsdb_writer *w, uint32_t id, int t, int64_t tier_ms, int64_t start,
                        int64_t now) {
  wseries *h = tsdb_wseries__get(w, id);
  acc **pp = h ? &h->accs[t] : NULL;
  while (pp && *pp && (*pp)->start > start) pp = &(*pp)->next;
  if (pp && *pp && (*pp)->start == start) return *pp; /* both kinds of marker named it */
  acc *a = h ? tsdb_accs__new(w) : NULL;
  if (!a) return NULL;
  a->series = id;
  a->tier = (uint8_t)t;
  a->start = start;
  a->tier_ms = tier_ms;
  a->last_touch = now;
  a->superseded = true; /* nothing will extend it but late points */
  tsdb_agg__init(&a->state);
  a->next = *pp;
  a->prev = pp == &h->accs[t] ? NULL : (acc *)((char *)pp - offsetof(acc, next));
  if (*pp) (*pp)->prev = a;
  *pp = a;
  tsdb_accs__heap_push(w, a, tsdb_accs__due(w, a));
  tsdb_accs__mark_refresh(w, a);
  return a;
}

/* The global markers left by the last run (see "Pending markers"). */
typedef struct recovered_global {
  uint32_t tier_s;
  int64_t start;
} recovered_global;

/*
 * Each global marker stands for its bucket in every series with raw points
 * there: those get a marker of their own, in the batch that deletes the
 * global one, and are rebuilt like any marked bucket. The series are found
 * by the newest raw timestamp of each (one seek a series).
 */
static void recover_globals(tsdb_writer *w, const recovered_global *g, size_t ng, int64_t now,
                            size_t *recovered) {
  tsdb_env *env = w->env;
  int64_t oldest = INT64_MAX;
  for (size_t i = 0; i < ng; i++)
    if (g[i].start < oldest) oldest = g[i].start;
  uint32_t limit = tsdb_catalog__id_limit(&env->catalog);
  for (uint32_t id = 1; id < limit; id++) {
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, id);
    int64_t max_ts;
    if (!s || tsdb_store__raw_max_ts(env->store, id, &max_ts) != 0 || max_ts == INT64_MIN ||
        max_ts < oldest)
      continue;
    for (size_t i = 0; i < ng; i++) {
      int64_t tier_ms = (int64_t)g[i].tier_s * 1000;
      int t = -1;
      for (size_t k = 0; k < s->profile->ntiers; k++)
        if (s->profile->tiers_ms[k] == tier_ms) t = (int)k;
      if (t < 0 || g[i].start > max_ts) continue;
      acc *a = recover_acc(w, id, t, tier_ms, g[i].start, now);
      if (!a || a->marker == MARKER_ON_DISK) continue;
      a->from_global = true;
      tsdb_store__batch_pending_put(env->store, w->batch, id, g[i].tier_s, g[i].start);
      a->marker = MARKER_ON_DISK; /* once the batch below is written */
      (*recovered)++;
    }
  }
  for (size_t i = 0; i < ng; i++)
    tsdb_store__batch_pending_delete(env->store, w->batch, TSDB_GLOBAL_MARKER_SERIES, g[i].tier_s,
                                     g[i].start);
}

/* Rebuilds accumulators for buckets left pending by a crash or a shutdown. */
void tsdb_recover__all(tsdb_writer *w) {
  tsdb_env *env = w->env;
  int64_t now = tsdb_env__now(env);
  tsdb_store_iter *it;
  if (tsdb_store__iter_open(env->store, NULL, TSDB_CF_PENDING, NULL, 0, NULL, 0, &it) != 0) return;
  tsdb_store__batch_clear(w->batch);
  size_t recovered = 0, dropped = 0;
  VEC(recovered_global) globals = {NULL, 0, 0};
  bool globals_ok = true;
  for (; tsdb_store__iter_valid(it); tsdb_store__iter_next(it)) {
    size_t klen;
    const uint8_t *k = tsdb_store__iter_key(it, &klen);
    if (klen != TSDB_AGG_KEY_LEN) continue;
    uint32_t id = tsdb_key__get_u32(k), tier_s = tsdb_key__get_u32(k + 4);
    int64_t start = tsdb_key__get_ts(k + 8);
    if (id == TSDB_GLOBAL_MARKER_SERIES) {
      recovered_global g = {tier_s, start};
      if (VEC_PUSH(globals, g)) globals_ok = false;
      continue;
    }
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, id);
    int t = -1;
    for (size_t i = 0; s && i < s->profile->ntiers; i++)
      if (s->profile->tiers_ms[i] == (int64_t)tier_s * 1000) t = (int)i;
    acc *a = t >= 0 ? recover_acc(w, id, t, (int64_t)tier_s * 1000, start, now) : NULL;
    if (!a) { /* the series or tier is gone: its marker means nothing now */
      tsdb_store__batch_pending_delete(env->store, w->batch, id, tier_s, start);
      dropped++;
      continue;
    }
    a->marker = MARKER_ON_DISK;
    recovered++;
  }
  tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  /* Without the whole list, the global markers stay: the next start tries
   * again, and readers keep treating their buckets as pending. */
  if (globals.n && globals_ok) recover_globals(w, globals.v, globals.n, now, &recovered);
  size_t nglobals = globals.n;
  free(globals.v);
  /* Should this write fail, the global markers stay on disk beside the
   * buckets opened for them: readers still see those buckets as pending,
   * and the next start recovers them again (a rebuild is idempotent). */
  if (dropped || nglobals) tsdb_writer__store_write(w, false);
  if (recovered) tsdb_accs__refresh(w);
  if (recovered || dropped)
    tsdb_log__printf(&env->log, TSDB_LOG_NOTICE,
                     "recovered open buckets count=%zu dropped_markers=%zu global_markers=%zu",
                     recovered, dropped, nglobals);
}
