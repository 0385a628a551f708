/*
 * Backfill of a tier a schema added: built from the finer tiers' stored
 * buckets, a bounded step per pass.
 */
#include "writer_internal.h"

/* ---- backfill of a tier a schema added ---- */

static int collect_backfill_bucket(void *ud, int64_t start, const tsdb_agg *agg) {
  bucket_buf *b = ud;
  if (b->n == TSDB_AGGBLOCK_MAX_BUCKETS) return TSDB_ETOOBIG;
  b->starts[b->n] = start;
  b->aggs[b->n] = *agg;
  b->n++;
  return 0;
}

/* The oldest timestamp of a source (raw or a tier) before `before`, or
 * INT64_MAX when it has nothing there. */
static int64_t oldest_before(tsdb_writer *w, const tsdb_series_params *sp, int src_tier,
                             int64_t before) {
  tsdb_store_iter *it = NULL;
  int64_t oldest = INT64_MAX;
  if (src_tier < 0) {
    if (tsdb_store__iter_raw(w->env->store, NULL, sp->id, TSDB_TS_MIN, before, &it) == 0 &&
        tsdb_store__iter_valid(it)) {
      size_t vlen;
      const uint8_t *v = tsdb_store__iter_value(it, &vlen);
      tsdb_block_info info;
      if (tsdb_codec__info(v, vlen, &info) == 0) oldest = info.min_ts;
    }
  } else {
    if (tsdb_store__iter_tier(w->env->store, NULL, TSDB_CF_AGG, sp->id,
                              (uint32_t)(sp->tiers_ms[src_tier] / 1000), TSDB_TS_MIN, before,
                              &it) == 0 &&
        tsdb_store__iter_valid(it)) {
      size_t klen;
      oldest = tsdb_key__get_ts(tsdb_store__iter_key(it, &klen) + 8); /* a block start */
    }
  }
  tsdb_store__iter_close(it);
  return oldest;
}

/*
 * One step of the oldest backfill job: the next (older) chunk of at most one
 * aggregate block of buckets, rolled up from the finer source, written with
 * the moved boundary in one batch. Returns true while work remains.
 */
bool tsdb_backfill__step(tsdb_writer *w) {
  tsdb_env *env = w->env;
  while (w->backfills.n) {
    uint64_t job = w->backfills.v[0];
    uint32_t id = (uint32_t)(job >> 8);
    size_t t = (size_t)(job & 0xff);
    tsdb_series_params sp;
    if (tsdb_catalog__params(&env->catalog, id, &sp) != 0 || t >= sp.ntiers ||
        sp.tier_complete_from[t] == INT64_MIN) {
      w->backfills.v[0] = w->backfills.v[--w->backfills.n]; /* done or gone */
      continue;
    }
    int64_t width = sp.tiers_ms[t], boundary = sp.tier_complete_from[t];
    int src_tier = (int)t - 1;
    while (src_tier >= 0 && sp.tier_complete_from[src_tier] != INT64_MIN) src_tier--;
    int64_t oldest = oldest_before(w, &sp, src_tier, boundary);
    int64_t span = tsdb_aggblock__span(width);
    /* Back to the start of the block holding boundary - 1, or to the data. */
    int64_t lo = tsdb_bucket_floor(boundary - 1, span);
    bool last = oldest == INT64_MAX || lo <= tsdb_bucket_floor(oldest, width);
    if (last && oldest != INT64_MAX) lo = tsdb_bucket_floor(oldest, width);
    if (!w->buckets && !(w->buckets = malloc(sizeof *w->buckets))) return true;
    bucket_buf *bf = w->buckets;
    bf->n = 0;
    int rc = oldest == INT64_MAX
                 ? 0
                 : tsdb_read__rollup(env->store, NULL, &sp, src_tier, width, lo, boundary, &w->scan,
                                     collect_backfill_bucket, bf);
    tsdb_store__batch_clear(w->batch);
    if (rc == 0 && bf->n) {
      size_t need = tsdb_aggblock__max_size(bf->n), len = 0;
      if (need > w->enc_cap) {
        uint8_t *e = realloc(w->enc, need);
        if (!e) return true;
        w->enc = e;
        w->enc_cap = need;
      }
      rc = tsdb_aggblock__encode_with(bf->starts, bf->aggs, bf->n, TSDB_CODEC_LIGHT, w->enc,
                                      w->enc_cap, &len);
      if (rc == 0)
        tsdb_store__batch_agg_merge(env->store, w->batch, id, (uint32_t)(width / 1000),
                                    tsdb_bucket_floor(lo, span), w->enc, len);
    }
    if (rc == 0)
      rc = tsdb_catalog__set_complete_from(&env->catalog, env->store, w->batch, id, t,
                                           last ? INT64_MIN : lo);
    if (rc == 0) rc = tsdb_writer__store_write(w, false);
    if (rc) {
      tsdb_log__printf(&env->log, TSDB_LOG_ERROR, "backfill failed series=%u tier=%zu error=%s", id,
                       t, tsdb_err_name(rc));
      w->backfills.v[0] = w->backfills.v[--w->backfills.n]; /* retried at the next start */
      return w->backfills.n > 0;
    }
    if (last) {
      char tier[24];
      tsdb_log__printf(&env->log, TSDB_LOG_INFO, "backfill done series=%u tier=%s", id,
                       tsdb_duration_format(width, tier, sizeof tier));
    }
    return true;
  }
  return false;
}
