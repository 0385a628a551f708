/*
 * The maintenance thread: retention and memory in the background.
 *
 * DESIGN
 * How retention works
 *   - Readers never see expired data: read paths hide raw points older than
 *     now - raw retention and buckets that ended before now - tier retention
 *     (read.c), so retention is exact the moment it passes.
 *   - Disk space comes back through RocksDB's compaction filter on the raw and
 *     agg column families (tsdb_maint__key_expired), which drops expired keys in
 *     every compaction that happens to rewrite them.
 *   - The replay archive is time-major: one DeleteRange of everything that
 *     arrived before now - archive retention, and a compaction of it.
 *   - Keys are series-major, so the oldest blocks of a quiet series may sit in
 *     files no compaction touches. This thread therefore sweeps every
 *     `retention_sweep_ms`: per series with retention it seeks the oldest raw
 *     block and bucket of each tier, and when one has expired it asks RocksDB
 *     to compact just the key range of those series (adjacent series are
 *     merged into one range). It never writes and never holds a lock while
 *     compacting.
 * How memory comes back
 *   - Every MEMORY_CHECK_MS, when the C library holds more than
 *     TRIM_MIN_FREE_BYTES of freed heap and that amount has changed by half
 *     as much since the last trim, malloc_trim(0) gives the free pages
 *     back to the system (glibc; elsewhere nothing is done). Freed memory in
 *     the middle of an arena otherwise stays resident for good: a bulk import
 *     or a catch-up frees its accumulators and batches, but the long-lived
 *     catalog between them would pin the pages. It is process-wide, so the
 *     broker's own free pages go back too; it briefly holds each arena's lock.
 * Ownership: it reads the catalog under its read lock (copying what it needs)
 *   and calls RocksDB's thread-safe compaction API. Nothing else is shared.
 * Ordering: none needed; a sweep is idempotent.
 * Shutdown order: stop() sets the flag and signals; the thread finishes the
 *   compaction in progress (RocksDB offers no cancel in its C API) and exits;
 *   then join. It stops before the store closes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggblock.h"
#include "maint.h"
#include "keys.h"
#include "thread.h"
#include "timeutil.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MEMORY_CHECK_MS 10000
#define TRIM_MIN_FREE_BYTES (8u << 20)

struct tsdb_maint {
  tsdb_env *env;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool stop;
  bool started;
};

static bool archive_expired(tsdb_env *env, const uint8_t *key, size_t klen) {
  return env->opts.archive_retention_ms && klen == TSDB_ARCHIVE_KEY_LEN &&
         tsdb_key__get_ts(key) < tsdb_env__now(env) - env->opts.archive_retention_ms;
}

bool tsdb_maint__key_expired(void *ud, tsdb_cf_id cf, const uint8_t *key, size_t klen) {
  tsdb_env *env = ud;
  if (cf == TSDB_CF_ARCHIVE) return archive_expired(env, key, klen);
  if (klen < 4) return false;
  tsdb_series_params sp;
  if (tsdb_catalog__params(&env->catalog, tsdb_key__get_u32(key), &sp) != 0) return false;
  int64_t now = tsdb_env__now(env);
  if (cf == TSDB_CF_RAW && klen == TSDB_RAW_KEY_LEN) {
    if (!sp.raw_retention_ms) return false;
    return tsdb_key__get_ts(key + 4) + sp.block_span_ms <= now - sp.raw_retention_ms;
  }
  if (cf == TSDB_CF_AGG && klen == TSDB_AGG_KEY_LEN) {
    int64_t tier_ms = (int64_t)tsdb_key__get_u32(key + 4) * 1000;
    for (size_t i = 0; i < sp.ntiers; i++) {
      if (sp.tiers_ms[i] != tier_ms) continue;
      int64_t ret = sp.tier_retention_ms[i];
      /* A whole block goes once its last bucket has expired. */
      return ret && tsdb_key__get_ts(key + 8) + tsdb_aggblock__span(tier_ms) <= now - ret;
    }
  }
  return false; /* unknown series or a tier the schema dropped: keep */
}

/* true when the series has an expired raw block or bucket on disk. */
static bool has_expired(tsdb_env *env, const tsdb_series_params *sp, int64_t now) {
  tsdb_store_iter *it;
  bool found = false;
  if (sp->raw_retention_ms) {
    int64_t cutoff = now - sp->raw_retention_ms - sp->block_span_ms;
    if (tsdb_store__iter_raw(env->store, NULL, sp->id, TSDB_TS_MIN, cutoff + 1, &it) == 0) {
      found = tsdb_store__iter_valid(it);
      tsdb_store__iter_close(it);
    }
  }
  for (size_t i = 0; !found && i < sp->ntiers; i++) {
    if (!sp->tier_retention_ms[i]) continue;
    int64_t cutoff = now - sp->tier_retention_ms[i] - tsdb_aggblock__span(sp->tiers_ms[i]);
    if (tsdb_store__iter_tier(env->store, NULL, TSDB_CF_AGG, sp->id,
                              (uint32_t)(sp->tiers_ms[i] / 1000), TSDB_TS_MIN, cutoff + 1,
                              &it) == 0) {
      found = tsdb_store__iter_valid(it);
      tsdb_store__iter_close(it);
    }
  }
  return found;
}

static void compact_series_run(tsdb_env *env, uint32_t lo, uint32_t hi) {
  uint8_t lower[4], upper[4];
  tsdb_key__put_u32(lower, lo);
  tsdb_key__put_u32(upper, hi + 1);
  tsdb_store__compact_range(env->store, TSDB_CF_RAW, lower, 4, upper, hi == UINT32_MAX ? 0 : 4);
  tsdb_store__compact_range(env->store, TSDB_CF_AGG, lower, 4, upper, hi == UINT32_MAX ? 0 : 4);
}

/* Compacts a run of series; once more where expired keys survived. The
 * compaction filter sees plain values only (RocksDB's C API has no
 * FilterMergeOperand), and a raw block that was still a stack of merge
 * operands becomes a plain value in the first pass: the second pass, over
 * the files that pass wrote, then drops it. */
static void compact_run_until_clean(tsdb_env *env, uint32_t lo, uint32_t hi, int64_t now) {
  compact_series_run(env, lo, hi);
  bool again = false;
  for (uint32_t id = lo; !again && id <= hi; id++) {
    tsdb_series_params sp;
    again = tsdb_catalog__params(&env->catalog, id, &sp) == 0 && has_expired(env, &sp, now);
    if (id == UINT32_MAX) break;
  }
  if (again) compact_series_run(env, lo, hi);
}

void tsdb_maint__sweep(tsdb_env *env) {
  if (!tsdb_env__store(env)) return; /* not open yet (tsdb_options.open_retry) */
  int64_t now = tsdb_env__now(env);
  size_t ids = tsdb_catalog__id_limit(&env->catalog);
  uint32_t run_lo = 0, run_hi = 0;
  bool in_run = false;
  size_t compacted = 0;
  for (uint32_t id = 1; id < ids; id++) {
    tsdb_series_params sp;
    bool expired = tsdb_catalog__params(&env->catalog, id, &sp) == 0 && has_expired(env, &sp, now);
    if (expired) {
      if (!in_run) run_lo = id;
      run_hi = id;
      in_run = true;
      compacted++;
    } else if (in_run) {
      compact_run_until_clean(env, run_lo, run_hi, now);
      in_run = false;
    }
  }
  if (in_run) compact_run_until_clean(env, run_lo, run_hi, now);
  /* The archive is time-major: one range covers everything expired. */
  if (env->opts.archive_retention_ms)
    tsdb_store__archive_delete_before(env->store, now - env->opts.archive_retention_ms);
  atomic_fetch_add(&env->counters.retention_sweeps, 1);
  if (compacted)
    tsdb_log__printf(&env->log, TSDB_LOG_INFO, "retention sweep series_with_expired_data=%zu",
                     compacted);
}

void tsdb_maint__give_back_memory(tsdb_env *env, size_t *free_after_last) {
#ifdef __GLIBC__
  /* Trimmed pages stay counted as free, so only a change of the free total
   * says there is something new to give back. */
  struct mallinfo2 mi = mallinfo2();
  size_t delta = mi.fordblks > *free_after_last ? mi.fordblks - *free_after_last
                                                : *free_after_last - mi.fordblks;
  if (mi.fordblks < TRIM_MIN_FREE_BYTES || delta < TRIM_MIN_FREE_BYTES / 2) return;
  malloc_trim(0);
  *free_after_last = mallinfo2().fordblks;
  atomic_fetch_add(&env->counters.memory_trims, 1);
#else
  (void)env;
  (void)free_after_last;
#endif
}

static void *maint_main(void *arg) {
  tsdb_maint *m = arg;
  int64_t sweep_ms = m->env->opts.retention_sweep_ms;
  int64_t next_sweep = sweep_ms ? tsdb_time__monotonic_ms() + sweep_ms : INT64_MAX;
  size_t free_after_trim = 0;
  pthread_mutex_lock(&m->lock);
  while (!m->stop) {
    int64_t wake = tsdb_time__monotonic_ms() + MEMORY_CHECK_MS;
    if (next_sweep < wake) wake = next_sweep;
    struct timespec at = {.tv_sec = (time_t)(wake / 1000),
                          .tv_nsec = (long)(wake % 1000) * 1000000L};
    while (!m->stop && pthread_cond_timedwait(&m->cv, &m->lock, &at) == 0) {
    }
    if (m->stop) break;
    pthread_mutex_unlock(&m->lock);
    if (tsdb_time__monotonic_ms() >= next_sweep) {
      tsdb_maint__sweep(m->env);
      next_sweep = tsdb_time__monotonic_ms() + sweep_ms;
    }
    tsdb_maint__give_back_memory(m->env, &free_after_trim);
    pthread_mutex_lock(&m->lock);
  }
  pthread_mutex_unlock(&m->lock);
  return NULL;
}

int tsdb_maint__start(tsdb_env *env, tsdb_maint **out) {
  *out = NULL;
  tsdb_maint *m = calloc(1, sizeof *m);
  if (!m) return TSDB_ENOMEM;
  m->env = env;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_mutex_init(&m->lock, NULL) | pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc) {
    free(m);
    return TSDB_ENOMEM;
  }
  if (tsdb_thread__start(&m->thread, "tsdb-maint", maint_main, m)) {
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cv);
    free(m);
    return TSDB_ETHREAD;
  }
  m->started = true;
  *out = m;
  return 0;
}

void tsdb_maint__stop(tsdb_maint *m) {
  if (!m) return;
  pthread_mutex_lock(&m->lock);
  m->stop = true;
  pthread_mutex_unlock(&m->lock);
  pthread_cond_broadcast(&m->cv);
  if (m->started) pthread_join(m->thread, NULL);
  pthread_mutex_destroy(&m->lock);
  pthread_cond_destroy(&m->cv);
  free(m);
}
