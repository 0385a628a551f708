/*
 * Per-series state (wseries: newest stored timestamp, open accumulators, the
 * pass's staged points) and the topic cache (source: a topic's series ids for
 * its class), with their idle sweeps.
 */
#include "writer_internal.h"

/* ---- per-series state ---- */

wseries *tsdb_wseries__find(const tsdb_writer *w, uint32_t id) {
  return id < w->ws_cap ? w->ws[id] : NULL;
}

/* The state of a series, made if it has none. */
wseries *tsdb_wseries__get(tsdb_writer *w, uint32_t id) {
  if (id >= w->ws_cap) {
    size_t cap = w->ws_cap ? w->ws_cap : 1024;
    while (cap <= id) cap *= 2;
    wseries **ws = realloc(w->ws, cap * sizeof *ws);
    if (!ws) return NULL;
    memset(ws + w->ws_cap, 0, (cap - w->ws_cap) * sizeof *ws);
    w->ws = ws;
    w->ws_cap = cap;
  }
  if (w->ws[id]) return w->ws[id];
  wseries *ws = calloc(1, sizeof *ws);
  if (!ws) return NULL;
  ws->max_ts = TS_UNKNOWN;
  w->ws[id] = ws;
  w->ws_count++;
  return ws;
}

void tsdb_wseries__free(wseries *ws) {
  for (int t = 0; t < TSDB_MAX_TIERS; t++) {
    acc *a = ws->accs[t];
    while (a) {
      acc *next = a->next;
      free(a);
      a = next;
    }
  }
  free(ws);
}

static bool ws_open(const wseries *ws) {
  for (int t = 0; t < TSDB_MAX_TIERS; t++)
    if (ws->accs[t]) return true;
  return false;
}

/* Frees a slice of the series states idle for IDLE_MS with nothing open. */
void tsdb_wseries__sweep(tsdb_writer *w, int64_t now, size_t budget) {
  for (size_t i = 0; i < budget && w->ws_cap; i++) {
    if (w->ws_sweep_pos >= w->ws_cap) w->ws_sweep_pos = 0;
    size_t id = w->ws_sweep_pos++;
    wseries *ws = w->ws[id];
    if (!ws || ws->touched || ws_open(ws) || now - ws->last_used < IDLE_MS) continue;
    tsdb_wseries__free(ws);
    w->ws[id] = NULL;
    w->ws_count--;
  }
}

/* Points are staged for the whole pass in one vector, not per series: a
 * series reporting once a minute would otherwise keep its own arrays
 * between passes (about 100 bytes of its memory). */
int tsdb_wseries__stage_point(tsdb_writer *w, wseries *ws, uint32_t id, int64_t ts, double v) {
  staged_point p = {ts, v, id};
  if (VEC_PUSH(w->staged, p)) return TSDB_ENOMEM;
  ws->nstage++;
  return 0;
}

/* Groups the pass's points by series into w->stage_ts/stage_v, in arrival
 * order within a series (a counting sort over the touched series: O(n)). */
int tsdb_wseries__group_staged(tsdb_writer *w) {
  size_t n = w->staged.n;
  if (n > w->stage_cap) {
    int64_t *t = realloc(w->stage_ts, n * sizeof *t);
    if (t) w->stage_ts = t;
    double *v = t ? realloc(w->stage_v, n * sizeof *v) : NULL;
    if (v) w->stage_v = v;
    if (!t || !v) return TSDB_ENOMEM;
    w->stage_cap = n;
  }
  uint32_t at = 0;
  for (size_t i = 0; i < w->touched.n; i++) {
    wseries *ws = w->ws[w->touched.v[i]];
    ws->stage_at = at;
    at += ws->nstage;
    ws->nstage = 0; /* counts again as the points are placed */
  }
  for (size_t i = 0; i < n; i++) {
    const staged_point *p = &w->staged.v[i];
    wseries *ws = w->ws[p->series];
    uint32_t pos = ws->stage_at + ws->nstage++;
    w->stage_ts[pos] = p->ts;
    w->stage_v[pos] = p->v;
  }
  return 0;
}

/* ---- sources: topic -> series ids of the message's class ---- */

/* Forgets the source's resolved series ids (they are looked up again). */
void tsdb_wseries__source_forget(source *src) {
  memset(src->ids, 0, src->cls->nfields * sizeof *src->ids);
  if (!src->named) return;
  size_t pos = 0;
  named_field *nf;
  while ((nf = tsdb_map__next(src->named, &pos)) != NULL) {
    free(nf->name);
    free(nf);
  }
  tsdb_map__free(src->named);
  free(src->named);
  src->named = NULL;
}

void tsdb_wseries__source_free(source *src) {
  tsdb_wseries__source_forget(src);
  tsdb_series_class_release(src->cls);
  free(src);
}

source *tsdb_wseries__source_get(tsdb_writer *w, const char *topic, size_t len,
                                 tsdb_series_class *cls, int64_t now) {
  source *src = tsdb_map__get(&w->sources, topic, len);
  if (src && src->cls == cls) {
    src->last_used = now;
    return src;
  }
  /* New, or the schema set was reloaded: the fields are resolved again by
   * name on demand. */
  size_t nids = cls->nfields ? cls->nfields : 1;
  source *fresh = calloc(1, sizeof *fresh + nids * sizeof *fresh->ids + len + 1);
  if (!fresh) return NULL;
  char *text = (char *)(fresh->ids + nids);
  memcpy(text, topic, len);
  text[len] = '\0';
  fresh->topic = text;
  fresh->topic_len = (uint32_t)len;
  fresh->last_used = now;
  for (int t = 0; t < TSDB_MAX_TIERS; t++) fresh->newest_final[t] = NEWEST_UNKNOWN;
  tsdb_series_class_retain(cls);
  fresh->cls = cls;
  if (tsdb_map__put(&w->sources, fresh->topic, len, fresh)) { /* replaces src */
    tsdb_wseries__source_free(fresh);
    return NULL;
  }
  if (src) tsdb_wseries__source_free(src);
  return fresh;
}

/* Drops a slice of the sources that have seen no message for IDLE_MS,
 * so that the cache holds the active topics, not every topic ever seen. */
void tsdb_wseries__sweep_sources(tsdb_writer *w, int64_t now, size_t budget) {
  tsdb_map *m = &w->sources;
  if (m->cap == 0) return;
  for (size_t i = 0; i < budget; i++) {
    if (w->source_sweep_pos >= m->cap) w->source_sweep_pos = 0;
    size_t pos = w->source_sweep_pos;
    source *src = tsdb_map__next(m, &pos);
    if (!src) {
      w->source_sweep_pos = 0;
      break;
    }
    w->source_sweep_pos = pos;
    if (now - src->last_used < IDLE_MS) continue;
    /* Removal shifts a later entry into this slot: look at it again. */
    tsdb_map__remove(m, src->topic, src->topic_len);
    w->source_sweep_pos = pos - 1;
    tsdb_wseries__source_free(src);
  }
  size_t cap = m->cap;
  tsdb_map__shrink(m);
  if (m->cap != cap) w->source_sweep_pos = 0;
}
