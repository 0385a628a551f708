/*
 * Bucket events: a topic's bucket, with every field's aggregate, handed to the
 * host (tsdb_options.bucket_fn) as partial, final or correction.
 */
#include "writer_internal.h"

/* The open accumulator of a series for a tier width and bucket, or NULL. */
static acc *open_acc(tsdb_writer *w, uint32_t series, int64_t tier_ms, int64_t start) {
  const wseries *ws = tsdb_wseries__find(w, series);
  if (!ws) return NULL;
  for (int t = 0; t < TSDB_MAX_TIERS; t++) {
    acc *a = ws->accs[t];
    if (!a || a->tier_ms != tier_ms) continue;
    while (a && a->start > start) a = a->next;
    return a && a->start == start ? a : NULL;
  }
  return NULL;
}

/* The start of the newest stored bucket of a series' tier (INT64_MIN: none).
 * Buckets being finalized are written before they are published, so a
 * bucket that is the newest finds itself. */
static int64_t newest_stored_bucket(tsdb_writer *w, uint32_t series, int64_t tier_ms) {
  int64_t newest = INT64_MIN;
  tsdb_store_iter *it;
  if (tsdb_store__iter_tier(w->env->store, NULL, TSDB_CF_AGG, series, (uint32_t)(tier_ms / 1000),
                            TSDB_TS_MIN, TSDB_TS_MAX, &it) != 0)
    return newest;
  tsdb_store__iter_seek_last(it);
  if (tsdb_store__iter_valid(it)) {
    size_t len, n = 0;
    const uint8_t *v = tsdb_store__iter_value(it, &len);
    bucket_buf *bf = w->buckets ? w->buckets : malloc(sizeof *bf);
    w->buckets = bf;
    if (bf &&
        tsdb_aggblock__decode(v, len, bf->starts, bf->aggs, TSDB_AGGBLOCK_MAX_BUCKETS, &n) == 0)
      for (size_t i = 0; i < n; i++)
        if (bf->aggs[i].count && bf->starts[i] > newest) newest = bf->starts[i];
  }
  tsdb_store__iter_close(it);
  return newest;
}

/*
 * One bucket event for a (topic, tier, bucket) with every field of the topic:
 * each field's aggregate from the given accumulators (being finalized), else
 * from an open accumulator (partial updates), else from the stored bucket.
 */
void tsdb_events__publish_bucket(tsdb_writer *w, const char *topic, size_t topic_len,
                                 int64_t tier_ms, int64_t start, tsdb_bucket_state state,
                                 const final_entry *g, size_t n) {
  tsdb_env *env = w->env;
  uint32_t ids[TSDB_MAX_FIELDS];
  size_t nids = tsdb_catalog__topic_series(&env->catalog, topic, topic_len, ids, TSDB_MAX_FIELDS);
  size_t nfields = 0;
  for (size_t k = 0; k < nids; k++) {
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, ids[k]);
    if (!s) continue;
    const tsdb_agg *agg = NULL;
    tsdb_agg stored;
    for (size_t i = 0; i < n; i++)
      if (g[i].series == ids[k]) agg = &g[i].a->state;
    if (!agg) {
      acc *o = open_acc(w, ids[k], tier_ms, start);
      if (o && !o->refresh) agg = &o->state;
    }
    if (!agg) {
      bool found = false;
      if (tsdb_store__agg_get(env->store, NULL, ids[k], (uint32_t)(tier_ms / 1000), start, &stored,
                              &found) != 0 ||
          !found)
        continue;
      agg = &stored;
    }
    if (agg->count == 0) continue;
    tsdb_agg__view(agg, start, &w->event_aggs[nfields]);
    w->event_fields[nfields] = (tsdb_bucket_field){ids[k], s->field, &w->event_aggs[nfields]};
    nfields++;
  }
  if (!nfields) return;

  /* Only the newest bucket of a topic and tier is retained, so that a
   * correction of an old bucket never hides the latest one from new
   * subscribers. The newest start is tracked on the topic's first series. */
  uint32_t first_series = w->event_fields[0].series;
  const tsdb_series *s0 = tsdb_catalog__get_unlocked(&env->catalog, first_series);
  int t = -1;
  for (size_t i = 0; s0 && i < s0->profile->ntiers; i++)
    if (s0->profile->tiers_ms[i] == tier_ms) t = (int)i;
  bool newest = false;
  if (t >= 0) {
    source *src = tsdb_map__get(&w->sources, topic, topic_len);
    int64_t newest_start = src ? src->newest_final[t] : NEWEST_UNKNOWN;
    if (newest_start == NEWEST_UNKNOWN)
      newest_start = newest_stored_bucket(w, first_series, tier_ms);
    newest = start >= newest_start;
    if (src) src->newest_final[t] = newest ? start : newest_start;
  }
  tsdb_bucket_event ev = {topic, topic_len, tier_ms, start,
                          state, newest,    nfields, w->event_fields};
  env->opts.bucket_fn(&ev, env->opts.bucket_ud);
}

void tsdb_events__publish_group(tsdb_writer *w, const final_entry *g, size_t n) {
  bool correction = false;
  for (size_t i = 0; i < n; i++) correction |= g[i].correction;
  tsdb_events__publish_bucket(w, g[0].topic, g[0].topic_len, g[0].tier_ms, g[0].start,
                              correction ? TSDB_BUCKET_CORRECTION : TSDB_BUCKET_FINAL, g, n);
}

/*
 * Partial updates: an open bucket that changed is published with state
 * "partial" at most every partial_interval_ms, all fields of its topic in
 * one message, so an hourly panel does not lag an hour. A bucket reopened by
 * a late point is not: its correction follows when it closes again.
 */
void tsdb_events__publish_partials(tsdb_writer *w, int64_t now) {
  int64_t interval = w->env->opts.partial_interval_ms;
  for (size_t i = 0; i < w->partial.n; i++) {
    acc *a = w->partial.v[i];
    if (!a || a->last_partial == now || a->refresh || a->existed ||
        now - a->last_partial < interval)
      continue;
    const tsdb_series *s = tsdb_catalog__get_unlocked(&w->env->catalog, a->series);
    if (!s) continue;
    tsdb_events__publish_bucket(w, s->topic->text, s->topic->len, a->tier_ms, a->start,
                                TSDB_BUCKET_PARTIAL, NULL, 0);
    /* Every open field of the topic was in that message. */
    uint32_t ids[TSDB_MAX_FIELDS];
    size_t nids = tsdb_catalog__topic_series(&w->env->catalog, s->topic->text, s->topic->len, ids,
                                             TSDB_MAX_FIELDS);
    for (size_t k = 0; k < nids; k++) {
      acc *o = open_acc(w, ids[k], a->tier_ms, a->start);
      if (o) o->last_partial = now;
    }
  }
  /* Published ones leave the list until they change again; freed ones (NULL)
   * leave it too; the rest wait for their interval. */
  size_t keep = 0;
  for (size_t i = 0; i < w->partial.n; i++) {
    acc *a = w->partial.v[i];
    if (!a) continue;
    if (a->last_partial == now) {
      a->in_partial = false;
      continue;
    }
    a->partial_idx = (uint32_t)keep;
    w->partial.v[keep++] = a;
  }
  w->partial.n = keep;
}
