/*
 * Global pending markers: one marker per (tier, start) for every series whose
 * in-order bucket is still open at the end of its pass (DESIGN in writer.c).
 */
#include "writer_internal.h"

/* ---- global pending markers ---- */

static void gm_dirty(tsdb_writer *w, global_marker *g) {
  if (g->dirty) return;
  if (VEC_PUSH(w->gdirty, g)) return; /* no memory: looked at again by the next holder */
  g->dirty = true;
}

/* The global marker of (tier_s, start), held once more; NULL without
 * memory (the caller then gives the bucket a marker of its own). */
global_marker *tsdb_markers__hold(tsdb_writer *w, uint32_t tier_s, int64_t start) {
  char key[12];
  memcpy(key, &tier_s, 4);
  memcpy(key + 4, &start, 8);
  global_marker *g = tsdb_map__get(&w->globals, key, sizeof key);
  if (!g) {
    if (!(g = calloc(1, sizeof *g))) return NULL;
    memcpy(g->key, key, sizeof key);
    g->tier_s = tier_s;
    g->start = start;
    if (tsdb_map__put(&w->globals, g->key, sizeof g->key, g)) {
      free(g);
      return NULL;
    }
  }
  if (g->holders++ == 0) gm_dirty(w, g);
  return g;
}

void tsdb_markers__release(tsdb_writer *w, global_marker *g) {
  if (--g->holders == 0) gm_dirty(w, g);
}

/* Puts the marker of each global that gained its first holder and deletes
 * the marker of each that lost its last, into w->batch. */
void tsdb_markers__stage(tsdb_writer *w) {
  for (size_t i = 0; i < w->gdirty.n; i++) {
    global_marker *g = w->gdirty.v[i];
    if (g->holders && g->state == MARKER_NONE) {
      tsdb_store__batch_pending_put(w->env->store, w->batch, TSDB_GLOBAL_MARKER_SERIES, g->tier_s,
                                    g->start);
      g->state = MARKER_QUEUED;
    } else if (!g->holders && g->state == MARKER_ON_DISK) {
      tsdb_store__batch_pending_delete(w->env->store, w->batch, TSDB_GLOBAL_MARKER_SERIES,
                                       g->tier_s, g->start);
      g->state = MARKER_DELETING;
    }
  }
}

/* After the batch of tsdb_markers__stage: written (ok) or not. A global with no
 * holder and no marker is forgotten; the others stay listed while their
 * marker still has to change. */
void tsdb_markers__commit(tsdb_writer *w, bool ok) {
  size_t keep = 0;
  for (size_t i = 0; i < w->gdirty.n; i++) {
    global_marker *g = w->gdirty.v[i];
    if (g->state == MARKER_QUEUED) g->state = ok ? MARKER_ON_DISK : MARKER_NONE;
    if (g->state == MARKER_DELETING) g->state = ok ? MARKER_NONE : MARKER_ON_DISK;
    bool settled = g->holders ? g->state == MARKER_ON_DISK : g->state == MARKER_NONE;
    if (!settled) {
      w->gdirty.v[keep++] = g;
      continue;
    }
    g->dirty = false;
    if (!g->holders) {
      tsdb_map__remove(&w->globals, g->key, sizeof g->key);
      free(g);
    }
  }
  w->gdirty.n = keep;
}
