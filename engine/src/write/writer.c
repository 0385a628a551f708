/*
 * The writer thread: ingest queue -> RocksDB, and every rollup accumulator.
 *
 * DESIGN
 * Ownership
 *   - This thread alone writes RocksDB (raw blocks, aggregates, pending
 *     markers, catalog growth), owns the per-series state (`wseries`), the
 *     topic cache (`source`) and every open rollup accumulator (`acc`).
 *   - Records taken from the queue are owned here until processed; each holds
 *     a reference to its series class, released once its points are staged.
 * One pass (a batch)
 *   1. Take the queue's fill buffer (the queue wakes this thread at most once
 *      per batch window). A pass takes whole messages from its front until
 *      PASS_OPENED buckets were opened or PASS_POINTS points taken; the rest
 *      of a burst goes to the next passes, in order.
 *   2. For each point: resolve its series (creating catalog entries in the
 *      same WriteBatch), stage it for its raw block, and feed each rollup tier:
 *      the accumulator of the point's bucket is created if missing. A point
 *      newer than everything stored for
 *      its series cannot be a duplicate, so it is added incrementally; any
 *      other point (late, out of order, duplicate) marks the accumulator for a
 *      refresh from raw data instead. That is the whole exactness argument:
 *      an accumulator is either "stored points of the bucket + points added"
 *      (each new and unique), or rebuilt from the stored points after commit.
 *   3. Encode each series' staged points as one operand per raw block. Put
 *      the aggregates of buckets that are already due (a backfill moving on)
 *      and a pending marker for every bucket that stays open, then write
 *      everything in ONE WriteBatch with the WAL on. A point is stored once
 *      this write returns, and its buckets are then either final on disk or
 *      marked pending in the same atomic write.
 *   4. Refresh marked accumulators from the committed raw data.
 *   5. Finalize accumulators that became due: write the aggregate and delete
 *      the pending marker in one batch. Once its batch is written, tell the
 *      host of everything finalized (tsdb_options.bucket_fn: serve/
 *      publishes the live aggregates from them).
 * Pending markers
   A bucket opened by a point newer than everything stored for its series
   (live, in-order data: nearly every bucket) and still open at the end of
   its pass is covered by the GLOBAL marker of its (tier, start), written
   once for every series whose bucket it is, in the batch that opens the
   first of them, and deleted in the first batch after the last of them is
   final. (A bucket opened and final in one pass needs no marker at all.)
   Any other bucket (late, out-of-order or recovered data) has a marker of
   its own. So a city's
   100 000 series write two markers a minute between them, not two each
   (the memtable's skiplist inserts were the writer's largest cost), while
   a reader still finds every bucket that is not final on disk: readers
   treat a global marker as a marker of every series (read.c), and
   recovery turns each global marker into markers of the series that have
   raw points in its bucket (tsdb_recover__all).
 When a bucket is due
 *   At end + grace, unless points for it are still arriving (a backfill or a
 *   late device): then `grace` after its last point, or as soon as the series
 *   has moved on to a later bucket of the tier. A bucket finalized before is
 *   published as a "correction" when a late point changes it.
 * Ordering
 *   Records are applied in queue order; a bucket's publications leave in the
 *   order of the changes that caused them (one result queue).
 * Failure
 *   The first failed write (a full disk) puts this thread in a failing
 *   state: the queue refuses new messages and fails every waiting durable
 *   push, whose records are then dropped; nothing of the failed batch is
 *   stored. The records it holds (acknowledged when queued) stay in their
 *   buffer and are staged and written again once RocksDB resumes, which it
 *   is asked to do after 100 ms and then at doubling intervals up to 1 s
 *   (ride_out_failure). Accumulators the batch touched are refreshed from
 *   raw data, and series created in it write their descriptors again. A
 *   stop while storage still fails counts and logs what it held as lost
 *   (lose_held). A staging error that is not storage (no memory) drops its
 *   pass the same way, counted. Crash: open buckets are marked on disk and
 *   rebuilt from raw data at the next start.
 * Opening late
 *   When the engine started without its store (tsdb_options.open_retry),
 *   this thread opens it first, retrying at the same intervals.
 * Full queue
 *   Not this thread's concern: producers are refused (see queue.h).
 * Shutdown order
 *   tsdb_close() stops the queue; this thread drains it, finalizes what is
 *   due, and exits; open buckets stay marked for the next start. Then the
 *   caller joins and frees.
 */
#include "writer_internal.h"

int tsdb_writer__vec_grow(void **v, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 64;
  void *nv = realloc(*v, ncap * elem);
  if (!nv) return TSDB_ENOMEM;
  *v = nv;
  *cap = ncap;
  return 0;
}

static void trim_vectors(tsdb_writer *w) {
  w->touched.n = 0; /* both only live during a pass */
  w->changed.n = 0;
  VEC_TRIM(w->touched);
  VEC_TRIM(w->changed);
  VEC_TRIM(w->refresh);
  VEC_TRIM(w->unmarked);
  VEC_TRIM(w->partial);
  VEC_TRIM(w->finals);
  VEC_TRIM(w->finals_order);
  VEC_TRIM(w->tsdb_finals__sorted);
  VEC_TRIM(w->run);
  w->run_states.n = 0;
  VEC_TRIM(w->run_states);
  if (w->heap_cap > VEC_KEEP && w->heap_n < w->heap_cap / 8) {
    acc **h = realloc(w->heap, w->heap_cap / 2 * sizeof *h);
    if (h) {
      w->heap = h;
      w->heap_cap /= 2;
    }
  }
}

/* ---- a batch ---- */

static int ensure_enc(tsdb_writer *w, size_t n) {
  size_t need = tsdb_codec__max_size(n);
  if (need <= w->enc_cap) return 0;
  uint8_t *e = realloc(w->enc, need);
  if (!e) return TSDB_ENOMEM;
  w->enc = e;
  w->enc_cap = need;
  return 0;
}

/* Sort/dedup one series' staged points and add one merge operand per block. */
static int flush_series(tsdb_writer *w, uint32_t id, wseries *ws) {
  const tsdb_series *s = tsdb_catalog__get_unlocked(&w->env->catalog, id);
  int64_t *stage_ts = w->stage_ts + ws->stage_at;
  double *stage_v = w->stage_v + ws->stage_at;
  size_t n = tsdb_block__normalize(stage_ts, stage_v, ws->nstage, s->profile->dup_policy);
  size_t i = 0;
  while (i < n) {
    int64_t block = tsdb_bucket_floor(stage_ts[i], s->profile->block_span_ms);
    size_t j = i + 1;
    while (j < n && stage_ts[j] < block + s->profile->block_span_ms &&
           j - i < TSDB_CODEC_MAX_POINTS)
      j++;
    int rc = ensure_enc(w, j - i);
    if (rc) return rc;
    size_t len = 0;
    /* An operand: a flush or compaction encodes it again (codec.h). */
    rc = tsdb_codec__encode_with(stage_ts + i, stage_v + i, j - i, (uint8_t)s->profile->dup_policy,
                                 TSDB_CODEC_LIGHT, w->enc, w->enc_cap, &len);
    if (rc) return rc;
    tsdb_store__batch_raw_merge(w->env->store, w->batch, id, block, w->enc, len);
    i = j;
  }
  w->pass_points += n; /* counted as written once the batch is */
  return 0;
}

/* Decodes a record's name table (queue.h) into names[0..r->nnames). */
static int decode_names(const tsdb_qrec *r, msg_name *names) {
  const uint8_t *t = tsdb_qrec__names(r), *end = t + r->names_bytes;
  for (uint32_t i = 0; i < r->nnames; i++) {
    if (t >= end) return TSDB_ECORRUPT;
    names[i].len = *t++;
    names[i].name = (const char *)t;
    t += names[i].len;
    if (t >= end) return TSDB_ECORRUPT;
    uint8_t ul = *t++;
    names[i].unit = ul == TSDB_QREC_NO_UNIT ? NULL : (const char *)t;
    names[i].unit_len = ul == TSDB_QREC_NO_UNIT ? 0 : ul;
    t += names[i].unit_len;
    if (t > end) return TSDB_ECORRUPT;
  }
  return 0;
}

/* Records backfill jobs for the tiers of a series that are not complete. */
static int queue_backfills(tsdb_writer *w, const tsdb_series *s) {
  if (!s->backfilling) return 0;
  tsdb_series_params sp;
  if (tsdb_catalog__params(&w->env->catalog, s->id, &sp) != 0) return 0;
  for (size_t t = 0; t < sp.ntiers; t++) {
    if (sp.tier_complete_from[t] == INT64_MIN) continue;
    uint64_t job = (uint64_t)s->id << 8 | t;
    bool known = false;
    for (size_t i = 0; i < w->backfills.n && !known; i++) known = w->backfills.v[i] == job;
    if (!known && VEC_PUSH(w->backfills, job)) return TSDB_ENOMEM;
  }
  return 0;
}

/* The series id of a point's field, creating the series when it is new. */
static int resolve_series(tsdb_writer *w, source *src, const tsdb_qrec *r, const char *topic,
                          const msg_name *names, uint32_t f, uint32_t *out) {
  tsdb_env *env = w->env;
  named_field *nf = NULL;
  if (names) {
    nf = src->named ? tsdb_map__get(src->named, names[f].name, names[f].len) : NULL;
    if (nf) {
      *out = nf->id;
      return 0;
    }
  } else if (src->ids[f]) {
    *out = src->ids[f];
    return 0;
  }
  const char *fname;
  size_t flen;
  const char *unit;
  char unit_buf[TSDB_QREC_NO_UNIT + 1];
  if (names) {
    fname = names[f].name;
    flen = names[f].len;
    unit = NULL;
    if (names[f].unit) {
      memcpy(unit_buf, names[f].unit, names[f].unit_len);
      unit_buf[names[f].unit_len] = '\0';
      unit = unit_buf;
    }
  } else {
    fname = r->cls->fields[f];
    flen = strlen(fname);
    unit = r->cls->units[f];
  }
  tsdb_series *s;
  bool changed;
  int rc = tsdb_catalog__ensure(&env->catalog, env->store, w->batch, r->cls, topic, r->topic_len,
                                fname, flen, unit, tsdb_env__now(env), &s, &changed);
  if (rc) return rc;
  if (changed && (rc = VEC_PUSH(w->changed, s->id))) return rc;
  if (changed && (rc = queue_backfills(w, s))) return rc;
  if (names) {
    if (!src->named && !(src->named = calloc(1, sizeof *src->named))) return TSDB_ENOMEM;
    nf = calloc(1, sizeof *nf);
    if (!nf || !(nf->name = strndup(fname, flen)) ||
        tsdb_map__put(src->named, nf->name, flen, nf)) {
      if (nf) free(nf->name);
      free(nf);
      return TSDB_ENOMEM;
    }
    nf->id = s->id;
  } else {
    src->ids[f] = s->id;
  }
  *out = s->id;
  return 0;
}

/* The first index of the ascending v[0..n) whose value is >= ts (n if none). */
size_t tsdb_writer__lower_bound_ts(const int64_t *v, size_t n, int64_t ts) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid] < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Messages and points of the records in data[0..len) that are to be
 * written (not dropped). */
static void count_records(const uint8_t *data, size_t len, uint64_t *msgs, uint64_t *points) {
  *msgs = *points = 0;
  for (size_t off = 0; off < len;) {
    const tsdb_qrec *r = (const tsdb_qrec *)(data + off);
    if (!(r->flags & TSDB_QREC_DROPPED)) {
      (*msgs)++;
      *points += r->npoints;
    }
    off += tsdb_qrec__size_of(r);
  }
}

/* The records in data[0..len) are done with: their class references go. */
static void release_records(uint8_t *data, size_t len) {
  for (size_t off = 0; off < len;) {
    tsdb_qrec *r = (tsdb_qrec *)(data + off);
    tsdb_series_class_release(r->cls);
    r->cls = NULL;
    off += tsdb_qrec__size_of(r);
  }
}

/* Storage fails: the durable records still held were answered TSDB_EIO
 * (tsdb_queue__set_failing), so they must never be written. */
static void drop_durable(uint8_t *data, size_t len) {
  for (size_t off = 0; off < len;) {
    tsdb_qrec *r = (tsdb_qrec *)(data + off);
    if (r->flags & TSDB_QREC_DURABLE) r->flags |= TSDB_QREC_DROPPED;
    off += tsdb_qrec__size_of(r);
  }
}

/*
 * Stages the records of data[0..len) until the pass is full (PASS_OPENED,
 * PASS_POINTS) or an error: *used is the bytes and *records the messages
 * taken, each one whole. On error the pass's messages fail together. The
 * records keep their class references until their pass is written
 * (release_records): a pass whose write fails is staged again later.
 */
static int stage_records(tsdb_writer *w, uint8_t *data, size_t len, int64_t now, size_t *used,
                         uint64_t *records) {
  tsdb_env *env = w->env;
  size_t off = 0, points = 0;
  uint64_t taken = 0;
  int rc = 0;
  msg_name *names = NULL;
  size_t names_cap = 0;
  size_t opened_before = w->unmarked.n; /* markers a failed write left owed */
  while (rc == 0 && off < len &&
         (taken == 0 || (w->unmarked.n - opened_before < PASS_OPENED && points < PASS_POINTS))) {
    tsdb_qrec *r = (tsdb_qrec *)(data + off);
    off += tsdb_qrec__size_of(r);
    taken++;
    /* Its publisher was told the write failed (sync durability): never stored. */
    if (r->flags & TSDB_QREC_DROPPED) continue;
    points += r->npoints;
    const char *topic = tsdb_qrec__topic(r);
    const tsdb_point *pts = tsdb_qrec__points(r);
    if (r->payload_len)
      tsdb_store__batch_archive_put(env->store, w->batch, r->arrival_ms, w->session,
                                    w->archive_seq++, topic, r->topic_len, tsdb_qrec__payload(r),
                                    r->payload_len);
    source *src = tsdb_wseries__source_get(w, topic, r->topic_len, r->cls, now);
    if (!src) rc = TSDB_ENOMEM;
    if (rc == 0 && r->nnames > names_cap) {
      msg_name *n = realloc(names, r->nnames * sizeof *n);
      if (!n)
        rc = TSDB_ENOMEM;
      else
        names = n, names_cap = r->nnames;
    }
    if (rc == 0 && r->nnames) rc = decode_names(r, names);
    for (uint32_t i = 0; rc == 0 && i < r->npoints; i++) {
      uint32_t id;
      rc = resolve_series(w, src, r, topic, r->nnames ? names : NULL, pts[i].field, &id);
      if (rc) break;
      const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, id);
      if (pts[i].ts_ms < tsdb_class__write_cutoff(now, s->profile->raw_retention_ms,
                                                  s->profile->ntiers, s->profile->tiers_ms)) {
        /* Retention has already passed it: storing it would resurrect data
         * and leave its coarse buckets incomplete. */
        atomic_fetch_add(&env->counters.expired_points, 1);
        continue;
      }
      wseries *ws = tsdb_wseries__get(w, id);
      if (!ws) {
        rc = TSDB_ENOMEM;
        break;
      }
      if (ws->max_ts == TS_UNKNOWN) {
        int64_t max_ts;
        if (tsdb_store__raw_max_ts(env->store, id, &max_ts) != 0) max_ts = INT64_MAX - 1;
        /* On a read error assume "anything may be stored": every point then
         * takes the exact (refresh) path. */
        ws->max_ts = max_ts;
      }
      if (s->profile->dup_policy == TSDB_DUP_REJECT) {
        if (pts[i].ts_ms <= ws->max_ts && tsdb_reject__is_duplicate(w, id, pts[i].ts_ms)) {
          atomic_fetch_add(&env->counters.duplicates_rejected, 1);
          continue;
        }
        if ((rc = tsdb_reject__add(&w->reject, id, pts[i].ts_ms))) break;
      }
      ws->last_used = now;
      if (!ws->touched) {
        ws->touched = true;
        if ((rc = VEC_PUSH(w->touched, id))) break;
      }
      if ((rc = tsdb_wseries__stage_point(w, ws, id, pts[i].ts_ms, pts[i].value))) break;
      rc = tsdb_accs__rollup_point(w, id, ws, s, pts[i].ts_ms, pts[i].value, now);
    }
  }
  free(names);
  *used = off;
  *records = taken;
  return rc;
}

/* ---- storage failure ---- */

/*
 * The first failed write, of any kind (a full disk, damaged data, other
 * I/O), puts the writer in the failing state: the queue refuses new messages
 * (TSDB_EIO: the plugin answers 0x87 write_failed) and answers waiting
 * durable pushes TSDB_EIO, until RocksDB resumes (see ride_out_failure).
 * Logged once here, with the kind, not per write.
 */
static void enter_failing(tsdb_writer *w, int kind) {
  if (w->failing) return;
  tsdb_env *env = w->env;
  w->failing = true;
  w->failing_since = tsdb_time__monotonic_ms();
  /* A failure soon after a recovery keeps the backoff it had reached. */
  if (w->failing_since - w->recovered_at > 10 * RETRY_MAX_MS) w->retry_ms = RETRY_FIRST_MS;
  tsdb_queue__set_failing(&env->queue, true);
  atomic_fetch_add(&env->counters.storage_failures, 1);
  char why[256];
  tsdb_store__last_error(env->store, why, sizeof why);
  tsdb_log__limited(&env->log, &w->fail_log, TSDB_LOG_ERROR,
                    "storage failing kind=%s reason=\"%s\": new messages are refused "
                    "(write_failed) until a write succeeds; acknowledged messages not yet "
                    "written are kept in memory and written then",
                    tsdb_err_name(kind), why);
}

/* Writes the writer's batch; a failure enters the failing state. */
int tsdb_writer__store_write(tsdb_writer *w, bool sync) {
  int rc = tsdb_store__write(w->env->store, w->batch, sync);
  if (rc) {
    atomic_fetch_add(&w->env->counters.write_errors, 1);
    enter_failing(w, rc);
  }
  return rc;
}

/* The batch failed: the collected accumulators stay open and retry later. */
static void restore_finals(tsdb_writer *w, int64_t now) {
  for (size_t i = 0; i < w->finals.n; i++) {
    w->finals.v[i].a->finalizing = false;
    tsdb_accs__heap_push(w, w->finals.v[i].a, now + 1000);
  }
  w->finals.n = 0;
}

/* Finalizes, in a batch of their own, accumulators due at `now`. */
static void finalize_due(tsdb_writer *w, int64_t now) {
  tsdb_store__batch_clear(w->batch);
  w->finals.n = 0;
  tsdb_finals__collect_due(w, now);
  tsdb_markers__stage(w); /* deletes the markers whose last bucket was final before */
  if (w->finals.n == 0 && w->gdirty.n == 0) return;
  if (tsdb_writer__store_write(w, false) != 0) {
    tsdb_markers__commit(w, false);
    restore_finals(w, now);
    return;
  }
  tsdb_markers__commit(w, true);
  tsdb_finals__commit(w);
}

/*
 * One pass over the front of data[0..len), which ends at message `seq`:
 * returns the bytes it took (whole messages; all of them unless the pass
 * filled up) and sets *pass_seq to the message count where it ended.
 */
size_t tsdb_writer__process(tsdb_writer *w, uint8_t *data, size_t len, uint64_t seq,
                            uint64_t *pass_seq, bool *pass_failed) {
  tsdb_env *env = w->env;
  int64_t now = tsdb_env__now(env);
  size_t used = 0;
  *pass_seq = seq;
  *pass_failed = false;
  if (len > 0) {
    tsdb_store__batch_clear(w->batch);
    w->touched.n = 0;
    w->changed.n = 0;
    w->finals.n = 0;
    w->pass_points = 0;
    uint64_t records;
    int rc = stage_records(w, data, len, now, &used, &records);
    if (used < len) *pass_seq = seq = w->last_seq + records;
    if (rc == 0) rc = tsdb_wseries__group_staged(w);
    for (size_t i = 0; rc == 0 && i < w->touched.n; i++)
      rc = flush_series(w, w->touched.v[i], w->ws[w->touched.v[i]]);
    bool staged = rc == 0;
    if (rc) {
      /* Not a storage failure (no memory, say): retrying could fail the
       * same way for good, so the pass's messages are dropped, counted and
       * said, like a crash would lose them. */
      uint64_t msgs = 0, pts = 0;
      count_records(data, used, &msgs, &pts);
      atomic_fetch_add(&env->counters.messages_lost, msgs);
      atomic_fetch_add(&env->counters.points_lost, pts);
      tsdb_log__printf(&env->log, TSDB_LOG_ERROR,
                       "cannot stage a batch error=%s messages_lost=%" PRIu64
                       " points_lost=%" PRIu64,
                       tsdb_err_name(rc), msgs, pts);
    }
    if (rc == 0) {
      /* Buckets already due (a backfill moving on, a late point) go into this
       * same batch; only those still open get a pending marker. */
      tsdb_finals__collect_due(w, now);
      for (size_t i = 0; i < w->unmarked.n; i++) {
        acc *a = w->unmarked.v[i];
        if (a->finalizing) continue; /* opened and final in this batch: no marker */
        /* Held only by buckets that stay open: a bulk import, whose buckets
         * open and close within a pass, would otherwise put and delete
         * every global marker once a pass. */
        if (a->in_order && !a->gm)
          a->gm = tsdb_markers__hold(w, (uint32_t)(a->tier_ms / 1000), a->start);
        if (a->gm) continue; /* without memory for it: a marker of its own */
        tsdb_store__batch_pending_put(env->store, w->batch, a->series,
                                      (uint32_t)(a->tier_ms / 1000), a->start);
        a->marker = MARKER_QUEUED;
      }
      tsdb_markers__stage(w);
      int64_t t0 = tsdb_time__monotonic_us();
      rc = tsdb_writer__store_write(w, env->opts.fsync_wal);
      int64_t us = tsdb_time__monotonic_us() - t0;
      int bucket = 0;
      while (bucket < TSDB_LATENCY_BUCKETS - 1 && ((int64_t)1 << bucket) < us) bucket++;
      atomic_fetch_add(&env->counters.write_latency[bucket], 1);
    }
    /* Durable pushes wait for exactly this: their points are in the WAL (or
     * their write failed). Rollup work below does not delay their PUBACK. */
    tsdb_queue__committed(&env->queue, w->last_seq, seq, rc == 0);
    if (staged) tsdb_markers__commit(w, rc == 0);
    if (rc == 0) {
      atomic_fetch_add(&env->counters.points_written, w->pass_points);
      for (size_t i = 0; i < w->changed.n; i++) {
        tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, w->changed.v[i]);
        if (s) s->persisted = true;
      }
      tsdb_finals__schedule_unmarked(w); /* skips those finalized in this batch */
      for (size_t i = 0; i < w->unmarked.n; i++) {
        if (w->unmarked.v[i]->marker == MARKER_QUEUED) w->unmarked.v[i]->marker = MARKER_ON_DISK;
        w->unmarked.v[i]->in_unmarked = false;
      }
      w->unmarked.n = 0;
      tsdb_finals__commit(w);
    } else {
      restore_finals(w, now);
      tsdb_finals__schedule_unmarked(w);
      /* Nothing was written: markers stay owed, tried again next pass. */
      for (size_t i = 0; i < w->unmarked.n; i++)
        if (w->unmarked.v[i]->marker == MARKER_QUEUED) w->unmarked.v[i]->marker = MARKER_NONE;
      /* A failed write keeps the pass's messages to write them again once
       * storage works (the caller); a staging error dropped them above. */
      *pass_failed = staged;
      /* Nothing of the batch is stored: forget what we believed, including
       * the topic -> series cache, so new series write their descriptors
       * again with their next points. */
      size_t pos = 0;
      source *src;
      while ((src = tsdb_map__next(&w->sources, &pos)) != NULL) tsdb_wseries__source_forget(src);
      for (size_t i = 0; i < w->touched.n; i++) {
        wseries *ws = w->ws[w->touched.v[i]];
        ws->max_ts = TS_UNKNOWN;
        for (int t = 0; t < TSDB_MAX_TIERS; t++)
          for (acc *a = ws->accs[t]; a; a = a->next) tsdb_accs__mark_refresh(w, a);
      }
    }
    for (size_t i = 0; i < w->touched.n; i++) {
      wseries *h = w->ws[w->touched.v[i]];
      h->touched = false;
      h->nstage = 0;
    }
    w->staged.n = 0;
    if (w->stage_cap > 4 * VEC_KEEP) { /* a bulk import passed: give the memory back */
      free(w->stage_ts);
      free(w->stage_v);
      w->stage_ts = NULL;
      w->stage_v = NULL;
      w->stage_cap = 0;
    }
    atomic_fetch_add(&env->counters.batches, 1);
    tsdb_reject__reset(&w->reject);
    if (rc == 0 && w->refresh.n) tsdb_accs__refresh(w);
  } else if (w->refresh.n) {
    tsdb_accs__refresh(w);
  }
  if (!w->failing) {
    finalize_due(w, now);
    if (w->partial.n) tsdb_events__publish_partials(w, now);
    if (w->backfills.n) tsdb_backfill__step(w);
  }
  /* Disk usage for stats and metrics, read here because RocksDB's property
   * reads must stay off the broker thread. */
  int64_t mono = tsdb_time__monotonic_ms();
  if (mono >= w->next_disk_refresh) {
    w->next_disk_refresh = mono + 10000;
    tsdb_disk_usage du;
    tsdb_store__disk_usage(env->store, &du);
    atomic_store(&env->counters.disk_raw, du.raw);
    atomic_store(&env->counters.disk_agg, du.agg);
    atomic_store(&env->counters.disk_other, du.other);
    atomic_store(&env->counters.disk_wal, du.wal);
    uint64_t memtables, block_cache, table_readers;
    tsdb_store__memory(env->store, &memtables, &block_cache, &table_readers);
    atomic_store(&env->counters.mem_memtables, memtables);
    atomic_store(&env->counters.mem_block_cache, block_cache);
    atomic_store(&env->counters.mem_table_readers, table_readers);
  }
  /* The idle sweeps go over their tables once every IDLE_MS / SWEEP_ROUNDS
   * of the engine clock, a slice per pass in proportion to the time since the
   * last: their cost is per second, not per pass. A fixed slice per pass
   * cost a third of the CPU at 10 000 series (engine_bench --only day),
   * where passes are small. */
  if (now < w->last_sweep) w->last_sweep = now; /* the clock was set back */
  int64_t elapsed = now - w->last_sweep, round = IDLE_MS / SWEEP_ROUNDS;
  if (elapsed > round) elapsed = round;
  size_t src_budget = (size_t)((double)w->sources.cap * (double)elapsed / (double)round);
  size_t ws_budget = (size_t)((double)w->ws_cap * (double)elapsed / (double)round);
  if (len == 0) src_budget = ws_budget = 65536; /* an idle wake-up: nothing else waits */
  if (src_budget || ws_budget) {
    w->last_sweep = now;
    tsdb_wseries__sweep_sources(w, now, src_budget);
    tsdb_wseries__sweep(w, now, ws_budget);
  }
  trim_vectors(w);
  return used;
}

/*
 * Storage fails: wait and ask RocksDB to resume, at growing intervals, until
 * it does (true: the held messages are written next) or the engine stops
 * (false). Nothing is taken from the queue meanwhile, and the queue refuses
 * new messages, so what is held is what was acknowledged before the failure.
 */
static bool ride_out_failure(tsdb_writer *w) {
  tsdb_env *env = w->env;
  for (;;) {
    bool stopping = tsdb_queue__sleep_unless_stopped(&env->queue, w->retry_ms);
    char why[256] = "";
    int kind = tsdb_store__resume(env->store, why, sizeof why);
    if (kind == 0) {
      w->recovered_at = tsdb_time__monotonic_ms();
      int64_t ms = w->recovered_at - w->failing_since;
      w->failing = false;
      tsdb_queue__set_failing(&env->queue, false);
      tsdb_log__printf(&env->log, TSDB_LOG_NOTICE,
                       "storage works again after %" PRId64
                       " ms: writes resumed, messages "
                       "accepted again",
                       ms);
      return true;
    }
    if (stopping) return false;
    w->retry_ms = w->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->retry_ms * 2;
    tsdb_log__limited(&env->log, &w->still_failing, TSDB_LOG_ERROR,
                      "storage still failing after %" PRId64 " ms kind=%s reason=\"%s\"",
                      tsdb_time__monotonic_ms() - w->failing_since, tsdb_err_name(kind), why);
  }
}

/*
 * The engine stops while storage still fails: the acknowledged messages held
 * (data[0..len)) and those still queued cannot be written. They are counted
 * (messages_lost, points_lost) and said, the only way anything acknowledged
 * is lost short of a crash.
 */
static void lose_held(tsdb_writer *w, uint8_t *data, size_t len) {
  tsdb_env *env = w->env;
  uint64_t msgs = 0, pts = 0;
  if (data) {
    count_records(data, len, &msgs, &pts);
    release_records(data, len);
  }
  uint8_t *rest;
  size_t rest_len;
  uint64_t seq;
  tsdb_queue__take(&env->queue, -1, 0, &rest, &rest_len, &seq);
  if (rest) {
    uint64_t m = 0, p = 0;
    count_records(rest, rest_len, &m, &p);
    msgs += m;
    pts += p;
    release_records(rest, rest_len);
  }
  w->last_seq = seq;
  tsdb_queue__processed(&env->queue, seq);
  atomic_fetch_add(&env->counters.messages_lost, msgs);
  atomic_fetch_add(&env->counters.points_lost, pts);
  if (msgs)
    tsdb_log__printf(&env->log, TSDB_LOG_ERROR,
                     "stopping while storage fails: messages_lost=%" PRIu64 " points_lost=%" PRIu64
                     " (acknowledged, not written)",
                     msgs, pts);
}

/*
 * The store could not be opened when the engine started (open_retry): try
 * again at growing intervals up to RETRY_MAX_MS until it opens (true) or
 * the engine stops (false). The queue refuses messages meanwhile.
 */
static bool open_store_retrying(tsdb_writer *w) {
  tsdb_env *env = w->env;
  int64_t since = tsdb_time__monotonic_ms();
  for (;;) {
    if (tsdb_queue__sleep_unless_stopped(&env->queue, w->retry_ms)) return false;
    char err[512] = "";
    int rc = env->open_store(env, err, sizeof err);
    if (rc == 0) {
      w->retry_ms = RETRY_FIRST_MS;
      tsdb_queue__set_failing(&env->queue, false);
      tsdb_log__printf(&env->log, TSDB_LOG_NOTICE,
                       "opened path=%s series=%zu after %" PRId64 " ms: messages accepted",
                       env->path, tsdb_catalog__count(&env->catalog),
                       tsdb_time__monotonic_ms() - since);
      return true;
    }
    w->retry_ms = w->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->retry_ms * 2;
    tsdb_log__limited(&env->log, &w->still_failing, TSDB_LOG_ERROR,
                      "still cannot open the database after %" PRId64 " ms: %s",
                      tsdb_time__monotonic_ms() - since, err);
  }
}

static void *writer_main(void *arg) {
  tsdb_writer *w = arg;
  tsdb_env *env = w->env;
  if (!tsdb_env__store(env) && !open_store_retrying(w)) {
    lose_held(w, NULL, 0);
    tsdb_queue__writer_exited(&env->queue);
    return NULL;
  }
  tsdb_recover__all(w);
  uint32_t ids = tsdb_catalog__id_limit(&env->catalog);
  for (uint32_t id = 1; id < ids; id++) {
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, (uint32_t)id);
    if (s) queue_backfills(w, s);
  }
  for (;;) {
    int64_t deadline = -1;
    if (w->backfills.n) {
      deadline = tsdb_time__monotonic_ms(); /* keep going, between batches */
    } else if (w->heap_n) {
      /* Due times are wall clock; waits are monotonic. Re-check at least
       * every second so that a wall-clock step cannot strand a bucket. */
      int64_t wait = w->heap[0]->heap_due - tsdb_env__now(env);
      if (wait < 0) wait = 0;
      if (wait > 1000) wait = 1000;
      deadline = tsdb_time__monotonic_ms() + wait;
    } else if (w->sources.count || w->ws_cap) {
      deadline = tsdb_time__monotonic_ms() + 1000; /* the idle sweeps */
    }
    uint8_t *data;
    size_t len;
    uint64_t seq;
    bool alive =
        tsdb_queue__take(&env->queue, deadline, env->opts.flush_interval_ms, &data, &len, &seq);
    /* A burst is taken whole and written in passes (PASS_OPENED). */
    size_t off = 0;
    do {
      uint64_t pass_seq;
      bool pass_failed;
      size_t used = tsdb_writer__process(w, data ? data + off : NULL, len - off, seq, &pass_seq,
                                         &pass_failed);
      if (!pass_failed) {
        if (used) release_records(data + off, used);
        off += used;
        w->last_seq = pass_seq;
        tsdb_queue__processed(&env->queue, pass_seq);
      }
      atomic_store(&env->counters.open_buckets, w->heap_n);
      atomic_store(&env->counters.backfills_pending, w->backfills.n);
      atomic_store(&env->counters.sources_cached, w->sources.count);
      atomic_store(&env->counters.series_active, w->ws_count);
      if (w->failing) {
        if (data) drop_durable(data + off, len - off);
        if (!ride_out_failure(w)) {
          lose_held(w, data ? data + off : NULL, len - off);
          alive = false;
          break;
        }
      }
    } while (off < len);
    if (data) tsdb_queue__release_pages(&env->queue, data, len);
    if (!alive) break;
  }
  tsdb_queue__writer_exited(&env->queue);
  return NULL;
}

int tsdb_writer__start(tsdb_env *env, tsdb_writer **out) {
  *out = NULL;
  tsdb_writer *w = calloc(1, sizeof *w);
  if (!w) return TSDB_ENOMEM;
  w->env = env;
  w->reject.gen = 1; /* slots are free unless they carry the pass's gen */
  tsdb_ratelimit__init(&w->still_failing, 30000, 1);
  tsdb_ratelimit__init(&w->fail_log, 60000, 3);
  w->retry_ms = RETRY_FIRST_MS;
  w->recovered_at = INT64_MIN / 2;
  tsdb_map__init(&w->sources);
  tsdb_map__init(&w->globals);
  /* Archive keys must not collide with those of an earlier run that wrote
   * in the same millisecond: a random session id tells runs apart. */
  {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                 (uint64_t)getpid() << 32;
    x ^= x >> 31;
    w->session = (uint32_t)(x * 0xBF58476D1CE4E5B9ull >> 32);
  }
  w->batch = tsdb_store__batch_new();
  if (!w->batch) {
    tsdb_ratelimit__destroy(&w->still_failing);
    tsdb_ratelimit__destroy(&w->fail_log);
    free(w);
    return TSDB_ENOMEM;
  }
  if (tsdb_thread__start(&w->thread, "tsdb-writer", writer_main, w)) {
    tsdb_store__batch_free(w->batch);
    tsdb_ratelimit__destroy(&w->still_failing);
    tsdb_ratelimit__destroy(&w->fail_log);
    free(w);
    return TSDB_ETHREAD;
  }
  w->started = true;
  *out = w;
  return 0;
}

void tsdb_writer__join(tsdb_writer *w) {
  if (!w) return;
  if (w->started) pthread_join(w->thread, NULL);
  for (size_t i = 0; i < w->ws_cap; i++)
    if (w->ws[i]) tsdb_wseries__free(w->ws[i]);
  free(w->ws);
  size_t pos = 0;
  source *src;
  while ((src = tsdb_map__next(&w->sources, &pos)) != NULL) tsdb_wseries__source_free(src);
  tsdb_map__free(&w->sources);
  pos = 0;
  global_marker *g;
  while ((g = tsdb_map__next(&w->globals, &pos)) != NULL) free(g);
  tsdb_map__free(&w->globals);
  free(w->gdirty.v);
  free(w->heap);
  while (w->spare) {
    acc *next = w->spare->next;
    free(w->spare);
    w->spare = next;
  }
  free(w->touched.v);
  free(w->staged.v);
  free(w->stage_ts);
  free(w->stage_v);
  free(w->changed.v);
  free(w->refresh.v);
  free(w->unmarked.v);
  free(w->partial.v);
  free(w->backfills.v);
  free(w->reject.slots);
  free(w->run.v);
  free(w->run_states.v);
  tsdb_agg_block__free(&w->existed);
  free(w->reject.block_ts);
  free(w->finals.v);
  free(w->finals_order.v);
  free(w->tsdb_finals__sorted.v);
  free(w->enc);
  free(w->buckets);
  tsdb_scan_buf__free(&w->scan);
  tsdb_store__batch_free(w->batch);
  tsdb_ratelimit__destroy(&w->still_failing);
  tsdb_ratelimit__destroy(&w->fail_log);
  free(w);
}
