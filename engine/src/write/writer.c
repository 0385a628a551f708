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
   raw points in its bucket (recover).
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
#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggblock.h"
#include "block.h"
#include "codec.h"
#include "writer.h"
#include "keys.h"
#include "read.h"
#include "thread.h"
#include "timeutil.h"

#define TS_UNKNOWN INT64_MAX /* wseries.max_ts not loaded yet */
#define NEWEST_UNKNOWN INT64_MAX /* source.newest_final not looked up yet */
/* The writer's state of a series with nothing open, and a topic's cached
 * series ids, are dropped after this long without a message. */
#define IDLE_MS (10 * 60 * 1000)
/* The idle sweeps cover their tables this many times per IDLE_MS. */
#define SWEEP_ROUNDS 4
/* Per-pass vectors keep their capacity up to this many entries. */
#define VEC_KEEP 4096
/* Freed accumulators kept for reuse: importing 1-minute data opens and
 * closes a bucket per point, and malloc/free (and the page faults of a heap
 * that a trim just shrank) cost more than the rollup itself. */
#define SPARE_ACCS 4096
#define NO_HEAP UINT32_MAX
/* A pass (one WriteBatch) ends after the message that takes it to this many
 * newly opened buckets, or to PASS_POINTS points. Device traffic adds to
 * buckets that are open already, so a whole window stays one pass and a
 * series gets one raw operand for it. A backfill of 1-minute data opens a
 * bucket per point: whole-queue passes made its accumulators and finals
 * outgrow the CPU caches (engine_bench). PASS_OPENED equals SPARE_ACCS, so
 * the spare list serves a whole pass without malloc. */
#define PASS_OPENED SPARE_ACCS
#define PASS_POINTS (1u << 18)
/* While storage fails, RocksDB is asked to resume after RETRY_FIRST_MS,
 * then at doubling intervals up to RETRY_MAX_MS: a full disk that gets
 * space back is written to again within about a second. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 1000

typedef enum marker_state {
  MARKER_NONE = 0, /* no pending marker anywhere */
  MARKER_QUEUED,   /* its put is in the batch being written */
  MARKER_ON_DISK,  /* committed */
  MARKER_DELETING  /* global markers: its delete is in the batch being written */
} marker_state;

/* The global pending marker of a (tier, start) and the open accumulators
 * it covers (see "Pending markers" above). One allocation; the key is the
 * globals map's. */
typedef struct global_marker {
  char key[12]; /* tier_s and start, as stored in the struct's own bytes */
  uint32_t tier_s;
  int64_t start;
  uint32_t holders; /* open accumulators it covers */
  uint8_t state;    /* marker_state */
  bool dirty;       /* listed in w->gdirty: its marker may have to change */
} global_marker;

/* An open bucket. A city's series each hold one per tier, so the layout is
 * packed: 168 bytes (184 before), of which the exact aggregate state is 88. */
typedef struct acc {
  struct acc *next, *prev; /* in the series' list for its tier, newest first */
  uint32_t series;
  uint8_t tier;           /* index into the series' tiers */
  uint8_t marker;         /* marker_state of its own marker */
  bool refresh : 1;       /* rebuild from raw after the next commit */
  bool queued_refresh : 1;
  bool existed : 1;       /* an aggregate was stored before: updates are corrections */
  bool superseded : 1;    /* the series has a later bucket in this tier */
  bool finalizing : 1;    /* its aggregate is in the batch being written */
  bool in_unmarked : 1;   /* listed in w->unmarked */
  bool in_partial : 1;    /* listed in w->partial (changed since its last partial update) */
  bool in_order : 1;      /* opened by a point newer than all its series stored */
  bool from_global : 1;   /* recovered for a global marker (recover_globals) */
  bool unchanged : 1;     /* ...and rebuilt equal to its stored aggregate: not published */
  uint32_t partial_idx;
  uint32_t heap_pos;        /* NO_HEAP: not in the due-time heap */
  struct global_marker *gm; /* the global marker covering it, or NULL */
  int64_t start;
  int64_t tier_ms;
  int64_t last_touch;   /* wall clock of the last point added */
  int64_t last_partial; /* wall clock of its last partial publication */
  int64_t heap_due;
  tsdb_agg state;
} acc;
_Static_assert(sizeof(void *) != 8 || sizeof(acc) <= 168,
               "acc grew: a city's series hold one per tier");

/* The writer's state of a series: made with its first point, and freed
 * after IDLE_MS without one once nothing of it is open or staged, so that an
 * idle series costs one pointer here (a city has many series that report
 * rarely). All of it can be looked up again in the store. */
typedef struct wseries {
  int64_t max_ts;    /* greatest stored timestamp, INT64_MIN none, TS_UNKNOWN not loaded */
  int64_t last_used; /* engine clock of its last point */
  /* Open accumulators per tier, newest bucket first, so in-order data finds
   * its bucket at the head. (One list for all tiers would save 56 bytes but
   * make a bulk import's coarse tiers walk past every open finer bucket.) */
  acc *accs[TSDB_MAX_TIERS];
  /* Its points of the pass: nstage of them from stage_at in w->stage_ts
   * and w->stage_v once the pass is grouped by series (group_staged). */
  uint32_t nstage, stage_at;
  bool touched;
} wseries;

/* A cache of the series ids of a topic's fields for the class its messages
 * have; dropped after IDLE_MS without a message (looked up again in
 * the catalog when one comes). One allocation: the struct, ids, topic. */
typedef struct source {
  const char *topic; /* inside this allocation; the sources map's key */
  uint32_t topic_len;
  int64_t last_used; /* engine clock */
  tsdb_series_class *cls;
  tsdb_map *named; /* fields named by the messages themselves -> named_field; NULL: none yet */
  /* Newest bucket published retained per tier of the topic's first series;
   * NEWEST_UNKNOWN: look it up in the store. */
  int64_t newest_final[TSDB_MAX_TIERS];
  uint32_t ids[];  /* per class field; 0 until resolved */
} source;

typedef struct named_field {
  char *name; /* the map key */
  uint32_t id;
} named_field;

/* One entry of a record's name table (queue.h), not NUL-terminated. */
typedef struct msg_name {
  const char *name;
  size_t len;
  const char *unit; /* NULL: none */
  size_t unit_len;
} msg_name;

/* A point of the pass, before its series' points are grouped. */
typedef struct staged_point {
  int64_t ts;
  double v;
  uint32_t series;
} staged_point;

typedef struct final_entry {
  uint32_t series;
  const char *topic; /* the series' topic, valid during the pass */
  size_t topic_len;
  int64_t tier_ms;
  int64_t start;
  bool correction;
  bool silent; /* a recovered bucket equal to what is stored: not published */
  acc *a;
} final_entry;

/*
 * The reject duplicate policy asks, for every late point, whether its
 * (series, timestamp) is staged in this pass or stored. Both answers are
 * indexed for the pass, so that a device sending a backlog of n late points
 * costs O(n) and one block decode per block, not O(n^2) and a decode per
 * point. Reset after each pass: the pass's commit changes what is stored.
 */
typedef struct reject_slot {
  int64_t ts;
  uint32_t series;
  uint32_t gen; /* the slot is used in this pass iff gen == reject_index.gen */
} reject_slot;

typedef struct reject_index {
  reject_slot *slots; /* the staged points of reject-policy series */
  size_t cap, count;  /* cap a power of two, at most half full */
  uint32_t gen;
  uint32_t block_series; /* 0: no stored block loaded */
  int64_t block_start;
  int64_t *block_ts; /* the stored timestamps of that block, ascending */
  size_t block_n, block_cap;
} reject_index;

/* The buckets of one aggregate block (backfill, newest bucket lookups). */
typedef struct bucket_buf {
  int64_t starts[TSDB_AGGBLOCK_MAX_BUCKETS];
  tsdb_agg aggs[TSDB_AGGBLOCK_MAX_BUCKETS];
  size_t n;
} bucket_buf;

#define VEC(type)                                                              \
  struct {                                                                     \
    type *v;                                                                   \
    size_t n, cap;                                                             \
  }

struct tsdb_writer {
  tsdb_env *env;
  pthread_t thread;
  bool started;
  tsdb_wbatch *batch;
  wseries **ws; /* by series id; NULL: nothing held */
  size_t ws_cap;
  size_t ws_sweep_pos; /* the idle sweep's position in ws */
  size_t ws_count;     /* states held */
  tsdb_map sources;
  size_t source_sweep_pos; /* the idle sweep's position in the sources map */
  acc **heap;
  size_t heap_n, heap_cap;
  acc *spare;         /* freed accumulators kept for reuse (linked by next) */
  size_t spare_count; /* at most SPARE_ACCS */
  VEC(uint32_t) touched;
  VEC(staged_point) staged; /* the pass's points in arrival order */
  int64_t *stage_ts;        /* ...grouped by series (group_staged) */
  double *stage_v;
  size_t stage_cap;
  VEC(uint32_t) changed; /* series whose descriptor is in the current batch */
  VEC(acc *) refresh;
  VEC(acc *) unmarked; /* open accumulators whose pending marker is not written yet */
  VEC(acc *) partial;  /* open accumulators changed since their last partial update (NULL: gone) */
  VEC(final_entry) finals;
  VEC(final_entry *) finals_order; /* sort_finals' scratch */
  VEC(final_entry) finals_sorted;   /* likewise */
  VEC(uint64_t) backfills; /* (series << 8 | tier) of tiers still being backfilled */
  tsdb_map globals;               /* (tier_s, start) -> global_marker */
  VEC(global_marker *) gdirty;    /* globals whose marker may have to change */
  reject_index reject; /* the reject policy's duplicate checks, for one pass */
  VEC(acc *) run;       /* refresh_accs' scratch: one cluster's accumulators */
  VEC(tsdb_agg) run_states;
  /* refresh_existed's last stored aggregate block, valid during one
   * refresh_accs (nothing is written meanwhile). */
  tsdb_agg_block existed;
  bool existed_valid;
  uint32_t existed_series, existed_tier_s;
  int64_t existed_block;
  bucket_buf *buckets; /* one aggregate block's buckets, allocated on first use */
  uint8_t *enc;
  size_t enc_cap;
  /* publish_bucket's event: a topic's fields and their aggregates */
  tsdb_bucket_field event_fields[TSDB_MAX_FIELDS];
  tsdb_aggregate event_aggs[TSDB_MAX_FIELDS];
  tsdb_scan_buf scan;
  uint64_t last_seq; /* messages taken from the queue so far */
  uint64_t pass_points; /* points in the batch being written */
  /* Storage failure (see "Failure" above): set by the first failed write,
   * cleared when RocksDB resumes. */
  bool failing;
  int64_t failing_since; /* monotonic ms */
  int64_t recovered_at;  /* monotonic ms of the last recovery */
  uint32_t retry_ms;     /* the next wait before a resume attempt */
  tsdb_ratelimit fail_log, still_failing; /* "failing" and "still failing" lines */
  uint32_t session;  /* archive keys: a random id of this process... */
  uint32_t archive_seq; /* ...and a counter */
  int64_t next_disk_refresh; /* monotonic ms */
  int64_t last_sweep;        /* engine clock of the last idle sweep slice */
};

#define VEC_PUSH(vec, item)                                                    \
  (((vec).n < (vec).cap || vec_grow((void **)&(vec).v, &(vec).cap, sizeof *(vec).v) == 0)     \
       ? ((vec).v[(vec).n++] = (item), 0)                                      \
       : TSDB_ENOMEM)

static int vec_grow(void **v, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 64;
  void *nv = realloc(*v, ncap * elem);
  if (!nv) return TSDB_ENOMEM;
  *v = nv;
  *cap = ncap;
  return 0;
}

/* A burst (a bulk import, a catch-up) grows the per-pass vectors; their
 * memory is given back once the pass is over rather than held for good. */
#define VEC_TRIM(vec)                                                          \
  do {                                                                         \
    if ((vec).n == 0 && (vec).cap > VEC_KEEP) {                                \
      free((vec).v);                                                           \
      (vec).v = NULL;                                                          \
      (vec).cap = 0;                                                           \
    }                                                                          \
  } while (0)

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
  VEC_TRIM(w->finals_sorted);
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

static acc *acc_new(tsdb_writer *w) {
  acc *a = w->spare;
  if (!a) return calloc(1, sizeof *a);
  w->spare = a->next;
  w->spare_count--;
  memset(a, 0, sizeof *a);
  return a;
}

static void acc_free(tsdb_writer *w, acc *a) {
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
  w->heap[i]->heap_pos = (uint32_t)i; /* heap_push keeps heap_n below NO_HEAP */
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

static int heap_push(tsdb_writer *w, acc *a, int64_t due) {
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

static void heap_update(tsdb_writer *w, acc *a, int64_t due) {
  int64_t old = a->heap_due;
  a->heap_due = due;
  if (due < old)
    heap_up(w, a->heap_pos);
  else
    heap_down(w, a->heap_pos);
}

static acc *heap_pop(tsdb_writer *w) {
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

/* ---- per-series state ---- */

static wseries *ws_find(const tsdb_writer *w, uint32_t id) {
  return id < w->ws_cap ? w->ws[id] : NULL;
}

/* The state of a series, made if it has none. */
static wseries *ws_get(tsdb_writer *w, uint32_t id) {
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

static void ws_free(wseries *ws) {
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
static void sweep_series(tsdb_writer *w, int64_t now, size_t budget) {
  for (size_t i = 0; i < budget && w->ws_cap; i++) {
    if (w->ws_sweep_pos >= w->ws_cap) w->ws_sweep_pos = 0;
    size_t id = w->ws_sweep_pos++;
    wseries *ws = w->ws[id];
    if (!ws || ws->touched || ws_open(ws) || now - ws->last_used < IDLE_MS) continue;
    ws_free(ws);
    w->ws[id] = NULL;
    w->ws_count--;
  }
}

/* Points are staged for the whole pass in one vector, not per series: a
 * series reporting once a minute would otherwise keep its own arrays
 * between passes (about 100 bytes of its memory). */
static int stage_point(tsdb_writer *w, wseries *ws, uint32_t id, int64_t ts, double v) {
  staged_point p = {ts, v, id};
  if (VEC_PUSH(w->staged, p)) return TSDB_ENOMEM;
  ws->nstage++;
  return 0;
}

/* Groups the pass's points by series into w->stage_ts/stage_v, in arrival
 * order within a series (a counting sort over the touched series: O(n)). */
static int group_staged(tsdb_writer *w) {
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

static int64_t acc_due(const tsdb_writer *w, const acc *a) {
  int64_t grace = w->env->opts.grace_ms;
  int64_t due = a->start + a->tier_ms + grace;
  if (!a->superseded && a->last_touch + grace > due) due = a->last_touch + grace;
  return due;
}

static int mark_refresh(tsdb_writer *w, acc *a) {
  a->refresh = true;
  if (a->queued_refresh) return 0;
  a->queued_refresh = true;
  return VEC_PUSH(w->refresh, a);
}

/* ---- global pending markers ---- */

static void gm_dirty(tsdb_writer *w, global_marker *g) {
  if (g->dirty) return;
  if (VEC_PUSH(w->gdirty, g)) return; /* no memory: looked at again by the next holder */
  g->dirty = true;
}

/* The global marker of (tier_s, start), held once more; NULL without
 * memory (the caller then gives the bucket a marker of its own). */
static global_marker *gm_hold(tsdb_writer *w, uint32_t tier_s, int64_t start) {
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

static void gm_release(tsdb_writer *w, global_marker *g) {
  if (--g->holders == 0) gm_dirty(w, g);
}

/* Puts the marker of each global that gained its first holder and deletes
 * the marker of each that lost its last, into w->batch. */
static void stage_globals(tsdb_writer *w) {
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

/* After the batch of stage_globals: written (ok) or not. A global with no
 * holder and no marker is forgotten; the others stay listed while their
 * marker still has to change. */
static void commit_globals(tsdb_writer *w, bool ok) {
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

/* ---- sources: topic -> series ids of the message's class ---- */

/* Forgets the source's resolved series ids (they are looked up again). */
static void source_forget(source *src) {
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

static void source_free(source *src) {
  source_forget(src);
  tsdb_series_class_release(src->cls);
  free(src);
}

static source *source_get(tsdb_writer *w, const char *topic, size_t len,
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
    source_free(fresh);
    return NULL;
  }
  if (src) source_free(src);
  return fresh;
}

/* Drops a slice of the sources that have seen no message for IDLE_MS,
 * so that the cache holds the active topics, not every topic ever seen. */
static void sweep_sources(tsdb_writer *w, int64_t now, size_t budget) {
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
    source_free(src);
  }
  size_t cap = m->cap;
  tsdb_map__shrink(m);
  if (m->cap != cap) w->source_sweep_pos = 0;
}

/* ---- one point ---- */

static int rollup_point(tsdb_writer *w, uint32_t id, wseries *ws, const tsdb_series *s,
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
      a = acc_new(w);
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
        if (older->heap_pos != NO_HEAP) heap_update(w, older, acc_due(w, older));
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
      if (stored_before && mark_refresh(w, a)) return TSDB_ENOMEM;
    }
    a->last_touch = now;
    if (is_new) {
      if (!a->refresh) tsdb_agg__add(&a->state, ts, v);
    } else if (mark_refresh(w, a)) {
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
    while (j < n && stage_ts[j] < block + s->profile->block_span_ms && j - i < TSDB_CODEC_MAX_POINTS)
      j++;
    int rc = ensure_enc(w, j - i);
    if (rc) return rc;
    size_t len = 0;
    /* An operand: a flush or compaction encodes it again (codec.h). */
    rc = tsdb_codec__encode_with(stage_ts + i, stage_v + i, j - i,
                                 (uint8_t)s->profile->dup_policy, TSDB_CODEC_LIGHT, w->enc,
                                 w->enc_cap, &len);
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
static size_t lower_bound_ts(const int64_t *v, size_t n, int64_t ts) {
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

/* ---- the reject policy's duplicate index ---- */

static size_t reject_hash(uint32_t series, int64_t ts, size_t mask) {
  /* 64-bit mix (the finalizer of MurmurHash3, Appleby 2011) */
  uint64_t h = (uint64_t)ts ^ ((uint64_t)series << 32 | series);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb3f99ec2ddb9ull;
  h ^= h >> 33;
  return (size_t)h & mask;
}

static reject_slot *reject_find(reject_index *x, uint32_t series, int64_t ts) {
  if (!x->cap) return NULL;
  size_t mask = x->cap - 1;
  for (size_t i = reject_hash(series, ts, mask);; i = (i + 1) & mask) {
    reject_slot *sl = &x->slots[i];
    if (sl->gen != x->gen) return sl; /* free: where it would go */
    if (sl->series == series && sl->ts == ts) return sl;
  }
}

/* Records a staged point of a reject-policy series. */
static int reject_add(reject_index *x, uint32_t series, int64_t ts) {
  if ((x->count + 1) * 2 > x->cap) {
    size_t ncap = x->cap ? x->cap * 2 : 256;
    reject_slot *old = x->slots;
    size_t ocap = x->cap;
    x->slots = calloc(ncap, sizeof *x->slots);
    if (!x->slots) {
      x->slots = old;
      return TSDB_ENOMEM;
    }
    x->cap = ncap;
    uint32_t gen = x->gen;
    x->gen = 1; /* the new array's slots are all free (gen 0) */
    x->count = 0;
    for (size_t i = 0; i < ocap; i++) {
      if (old[i].gen != gen) continue;
      reject_slot *sl = reject_find(x, old[i].series, old[i].ts);
      *sl = (reject_slot){old[i].ts, old[i].series, x->gen};
      x->count++;
    }
    free(old);
  }
  reject_slot *sl = reject_find(x, series, ts);
  if (sl->gen != x->gen) {
    *sl = (reject_slot){ts, series, x->gen};
    x->count++;
  }
  return 0;
}

static int collect_block_ts(void *ud, int64_t ts, double v) {
  (void)v;
  reject_index *x = ud;
  if (x->block_n == x->block_cap) {
    size_t ncap = x->block_cap ? x->block_cap * 2 : 1024;
    int64_t *t = realloc(x->block_ts, ncap * sizeof *t);
    if (!t) return TSDB_ENOMEM;
    x->block_ts = t;
    x->block_cap = ncap;
  }
  x->block_ts[x->block_n++] = ts;
  return 0;
}

/* Forgets the pass: O(1) but for a generation wrap and memory kept after a
 * burst. */
static void reject_reset(reject_index *x) {
  x->count = 0;
  x->block_series = 0;
  x->block_n = 0;
  if (x->cap > 2 * VEC_KEEP) {
    free(x->slots);
    x->slots = NULL;
    x->cap = 0;
  } else if (++x->gen == 0) {
    if (x->slots) memset(x->slots, 0, x->cap * sizeof *x->slots);
    x->gen = 1;
  }
  if (x->block_cap > 128 * 1024) {
    free(x->block_ts);
    x->block_ts = NULL;
    x->block_cap = 0;
  }
}

/* Reject policy: is (series, ts) staged in this pass, or stored? Only asked
 * for points not newer than everything stored (late ones). A read error
 * counts as "not stored": the point is then kept, never lost. */
static bool is_duplicate(tsdb_writer *w, uint32_t id, int64_t ts) {
  reject_index *x = &w->reject;
  reject_slot *sl = reject_find(x, id, ts);
  if (sl && sl->gen == x->gen) return true;
  tsdb_series_params sp;
  if (tsdb_catalog__params(&w->env->catalog, id, &sp) != 0) return false;
  int64_t block = tsdb_bucket_floor(ts, sp.block_span_ms);
  if (x->block_series != id || x->block_start != block) {
    x->block_series = 0;
    x->block_n = 0;
    int64_t end = block > INT64_MAX - sp.block_span_ms ? INT64_MAX : block + sp.block_span_ms;
    if (tsdb_read__raw(w->env->store, NULL, &sp, block, end, &w->scan, collect_block_ts, x) != 0)
      return false;
    x->block_series = id;
    x->block_start = block;
  }
  size_t at = lower_bound_ts(x->block_ts, x->block_n, ts);
  return at < x->block_n && x->block_ts[at] == ts;
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
    source *src = source_get(w, topic, r->topic_len, r->cls, now);
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
      if (pts[i].ts_ms <
          tsdb_class__write_cutoff(now, s->profile->raw_retention_ms, s->profile->ntiers, s->profile->tiers_ms)) {
        /* Retention has already passed it: storing it would resurrect data
         * and leave its coarse buckets incomplete. */
        atomic_fetch_add(&env->counters.expired_points, 1);
        continue;
      }
      wseries *ws = ws_get(w, id);
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
        if (pts[i].ts_ms <= ws->max_ts && is_duplicate(w, id, pts[i].ts_ms)) {
          atomic_fetch_add(&env->counters.duplicates_rejected, 1);
          continue;
        }
        if ((rc = reject_add(&w->reject, id, pts[i].ts_ms))) break;
      }
      ws->last_used = now;
      if (!ws->touched) {
        ws->touched = true;
        if ((rc = VEC_PUSH(w->touched, id))) break;
      }
      if ((rc = stage_point(w, ws, id, pts[i].ts_ms, pts[i].value))) break;
      rc = rollup_point(w, id, ws, s, pts[i].ts_ms, pts[i].value, now);
    }
  }
  free(names);
  *used = off;
  *records = taken;
  return rc;
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
static void refresh_existed(tsdb_writer *w, acc *a) {
  if (a->existed) return;
  /* Accumulators come in (series, start) order, so consecutive ones share
   * their stored block: one read (and merge) for all of them. */
  uint32_t tier_s = (uint32_t)(a->tier_ms / 1000);
  int64_t span = tsdb_aggblock__span(a->tier_ms);
  int64_t block = tsdb_bucket_floor(a->start, span);
  if (!w->existed_valid || w->existed_series != a->series || w->existed_tier_s != tier_s ||
      w->existed_block != block) {
    w->existed_valid = false;
    if (tsdb_store__agg_block_get(w->env->store, NULL, a->series, tier_s, a->start,
                                  &w->existed) != 0)
      return; /* unknown: not a correction, as before on a read error */
    w->existed_valid = true;
    w->existed_series = a->series;
    w->existed_tier_s = tier_s;
    w->existed_block = block;
  }
  const tsdb_agg_block *b = &w->existed;
  size_t at = lower_bound_ts(b->starts, b->n, a->start);
  a->existed = at < b->n && b->starts[at] == a->start && b->aggs[at].count > 0;
  /* A global marker stands for buckets of series that were final already
   * (others still held it): rebuilt from the same points in the same
   * order, they equal what is stored and are no correction. */
  if (a->existed && a->from_global) a->unchanged = agg_same(&b->aggs[at], &a->state);
}

/* Rebuilds marked accumulators from the committed data: clusters of a
 * series' buckets inside raw retention from one raw read each
 * (refresh_cluster), any other bucket from its next finer tier. */
static void refresh_accs(tsdb_writer *w) {
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
      refresh_existed(w, a);
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
      refresh_existed(w, b);
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

/* The open accumulator of a series for a tier width and bucket, or NULL. */
static acc *open_acc(tsdb_writer *w, uint32_t series, int64_t tier_ms, int64_t start) {
  const wseries *ws = ws_find(w, series);
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
    if (bf && tsdb_aggblock__decode(v, len, bf->starts, bf->aggs, TSDB_AGGBLOCK_MAX_BUCKETS,
                                    &n) == 0)
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
static void publish_bucket(tsdb_writer *w, const char *topic, size_t topic_len, int64_t tier_ms,
                           int64_t start, tsdb_bucket_state state, const final_entry *g,
                           size_t n) {
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
    w->event_fields[nfields] =
        (tsdb_bucket_field){ids[k], s->field, &w->event_aggs[nfields]};
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
  tsdb_bucket_event ev = {topic, topic_len, tier_ms, start, state, newest, nfields,
                          w->event_fields};
  env->opts.bucket_fn(&ev, env->opts.bucket_ud);
}

static void publish_group(tsdb_writer *w, const final_entry *g, size_t n) {
  bool correction = false;
  for (size_t i = 0; i < n; i++) correction |= g[i].correction;
  publish_bucket(w, g[0].topic, g[0].topic_len, g[0].tier_ms, g[0].start,
                 correction ? TSDB_BUCKET_CORRECTION : TSDB_BUCKET_FINAL, g, n);
}

/*
 * Partial updates: an open bucket that changed is published with state
 * "partial" at most every partial_interval_ms, all fields of its topic in
 * one message, so an hourly panel does not lag an hour. A bucket reopened by
 * a late point is not: its correction follows when it closes again.
 */
static void publish_partials(tsdb_writer *w, int64_t now) {
  int64_t interval = w->env->opts.partial_interval_ms;
  for (size_t i = 0; i < w->partial.n; i++) {
    acc *a = w->partial.v[i];
    if (!a || a->last_partial == now || a->refresh || a->existed ||
        now - a->last_partial < interval)
      continue;
    const tsdb_series *s = tsdb_catalog__get_unlocked(&w->env->catalog, a->series);
    if (!s) continue;
    publish_bucket(w, s->topic->text, s->topic->len, a->tier_ms, a->start, TSDB_BUCKET_PARTIAL,
                   NULL, 0);
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

static bool finals_sorted(const tsdb_writer *w, int (*cmp_ref)(const void *, const void *)) {
  for (size_t i = 1; i < w->finals.n; i++) {
    const final_entry *a = &w->finals.v[i - 1], *b = &w->finals.v[i];
    if (cmp_ref(&a, &b) > 0) return false;
  }
  return true;
}

/* Sorts w->finals (stable): pointers are sorted, then the entries are moved
 * once, instead of moving 56-byte entries at every step of a merge sort (a
 * bulk import of 1-minute data finalizes a bucket per point). */
static void sort_finals(tsdb_writer *w, int (*cmp_ref)(const void *, const void *)) {
  size_t n = w->finals.n;
  if (n < 2 || finals_sorted(w, cmp_ref)) return;
  /* Each scratch vector is checked on its own: they are swapped with
   * w->finals and trimmed independently, so their capacities differ. */
  bool ok = true;
  if (w->finals_order.cap < n) {
    final_entry **o = realloc(w->finals_order.v, n * sizeof *o);
    if (o) w->finals_order.v = o, w->finals_order.cap = n;
    ok = o != NULL;
  }
  if (ok && w->finals_sorted.cap < n) {
    final_entry *t = realloc(w->finals_sorted.v, n * sizeof *t);
    if (t) w->finals_sorted.v = t, w->finals_sorted.cap = n;
    ok = t != NULL;
  }
  if (!ok) { /* out of memory: the slow way, in place */
    qsort(w->finals.v, n, sizeof *w->finals.v,
          cmp_ref == cmp_final_ref ? cmp_final : cmp_final_block);
    return;
  }
  for (size_t i = 0; i < n; i++) w->finals_order.v[i] = &w->finals.v[i];
  qsort(w->finals_order.v, n, sizeof *w->finals_order.v, cmp_ref);
  for (size_t i = 0; i < n; i++) w->finals_sorted.v[i] = *w->finals_order.v[i];
  final_entry *v = w->finals.v;
  size_t cap = w->finals.cap;
  w->finals.v = w->finals_sorted.v;
  w->finals.cap = w->finals_sorted.cap;
  w->finals_sorted.v = v;
  w->finals_sorted.cap = cap;
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
  sort_finals(w, cmp_final_block_ref);
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
        heap_push(w, w->finals.v[k].a, now + 1000);
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
static void collect_due(tsdb_writer *w, int64_t now) {
  tsdb_env *env = w->env;
  /* Accumulators opened in this pass that are due already. */
  for (size_t i = 0; i < w->unmarked.n; i++) {
    acc *a = w->unmarked.v[i];
    if (a->heap_pos != NO_HEAP || a->finalizing || a->refresh || acc_due(w, a) > now) continue;
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, a->series);
    final_entry e = {a->series, s ? s->topic->text : "", s ? s->topic->len : 0, a->tier_ms,
                     a->start, a->existed && !a->unchanged, a->unchanged, a};
    if (VEC_PUSH(w->finals, e)) break;
    a->finalizing = true;
  }
  while (w->heap_n && w->heap[0]->heap_due <= now) {
    acc *a = w->heap[0];
    int64_t due = acc_due(w, a);
    if (a->refresh) due = now + 1000; /* its rebuild is pending or failed */
    if (due > now) {
      heap_update(w, a, due);
      continue;
    }
    heap_pop(w);
    const tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, a->series);
    final_entry e = {a->series, s ? s->topic->text : "", s ? s->topic->len : 0, a->tier_ms,
                     a->start, a->existed && !a->unchanged, a->unchanged, a};
    if (VEC_PUSH(w->finals, e)) {
      heap_push(w, a, now + 1000); /* out of memory: try again later */
      break;
    }
    a->finalizing = true;
  }
  stage_finals(w, now);
}

/* Accumulators opened in this pass that stay open go into the heap. */
static void schedule_unmarked(tsdb_writer *w) {
  for (size_t i = 0; i < w->unmarked.n; i++) {
    acc *a = w->unmarked.v[i];
    if (!a->finalizing && a->heap_pos == NO_HEAP) heap_push(w, a, acc_due(w, a));
  }
}

/* The batch holding the collected aggregates is written: publish, free. */
static void commit_finals(tsdb_writer *w) {
  tsdb_env *env = w->env;
  if (w->finals.n == 0) return;
  atomic_fetch_add(&env->counters.buckets_finalized, w->finals.n);
  if (env->opts.bucket_fn) {
    sort_finals(w, cmp_final_ref);
    for (size_t i = 0; i < w->finals.n;) {
      size_t j = i + 1;
      while (j < w->finals.n && cmp_final(&w->finals.v[i], &w->finals.v[j]) == 0) j++;
      bool silent = true;
      for (size_t k = i; k < j; k++) silent &= w->finals.v[k].silent;
      if (!silent) publish_group(w, w->finals.v + i, j - i);
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
    if (a->gm) gm_release(w, a->gm);
    unlink_acc(w, a);
    acc_free(w, a);
  }
  w->finals.n = 0;
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
static int store_write(tsdb_writer *w, bool sync) {
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
    heap_push(w, w->finals.v[i].a, now + 1000);
  }
  w->finals.n = 0;
}

/* Finalizes, in a batch of their own, accumulators due at `now`. */
static void finalize_due(tsdb_writer *w, int64_t now) {
  tsdb_store__batch_clear(w->batch);
  w->finals.n = 0;
  collect_due(w, now);
  stage_globals(w); /* deletes the markers whose last bucket was final before */
  if (w->finals.n == 0 && w->gdirty.n == 0) return;
  if (store_write(w, false) != 0) {
    commit_globals(w, false);
    restore_finals(w, now);
    return;
  }
  commit_globals(w, true);
  commit_finals(w);
}

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
static bool backfill_step(tsdb_writer *w) {
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
    int rc = oldest == INT64_MAX ? 0
                                 : tsdb_read__rollup(env->store, NULL, &sp, src_tier, width, lo,
                                                     boundary, &w->scan, collect_backfill_bucket,
                                                     bf);
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
    if (rc == 0) rc = store_write(w, false);
    if (rc) {
      tsdb_log__printf(&env->log, TSDB_LOG_ERROR, "backfill failed series=%u tier=%zu error=%s",
                       id, t, tsdb_err_name(rc));
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

/*
 * One pass over the front of data[0..len), which ends at message `seq`:
 * returns the bytes it took (whole messages; all of them unless the pass
 * filled up) and sets *pass_seq to the message count where it ended.
 */
static size_t process(tsdb_writer *w, uint8_t *data, size_t len, uint64_t seq,
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
    if (rc == 0) rc = group_staged(w);
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
      collect_due(w, now);
      for (size_t i = 0; i < w->unmarked.n; i++) {
        acc *a = w->unmarked.v[i];
        if (a->finalizing) continue; /* opened and final in this batch: no marker */
        /* Held only by buckets that stay open: a bulk import, whose buckets
         * open and close within a pass, would otherwise put and delete
         * every global marker once a pass. */
        if (a->in_order && !a->gm) a->gm = gm_hold(w, (uint32_t)(a->tier_ms / 1000), a->start);
        if (a->gm) continue; /* without memory for it: a marker of its own */
        tsdb_store__batch_pending_put(env->store, w->batch, a->series,
                                      (uint32_t)(a->tier_ms / 1000), a->start);
        a->marker = MARKER_QUEUED;
      }
      stage_globals(w);
      int64_t t0 = tsdb_time__monotonic_us();
      rc = store_write(w, env->opts.fsync_wal);
      int64_t us = tsdb_time__monotonic_us() - t0;
      int bucket = 0;
      while (bucket < TSDB_LATENCY_BUCKETS - 1 && ((int64_t)1 << bucket) < us) bucket++;
      atomic_fetch_add(&env->counters.write_latency[bucket], 1);
    }
    /* Durable pushes wait for exactly this: their points are in the WAL (or
     * their write failed). Rollup work below does not delay their PUBACK. */
    tsdb_queue__committed(&env->queue, w->last_seq, seq, rc == 0);
    if (staged) commit_globals(w, rc == 0);
    if (rc == 0) {
      atomic_fetch_add(&env->counters.points_written, w->pass_points);
      for (size_t i = 0; i < w->changed.n; i++) {
        tsdb_series *s = tsdb_catalog__get_unlocked(&env->catalog, w->changed.v[i]);
        if (s) s->persisted = true;
      }
      schedule_unmarked(w); /* skips those finalized in this batch */
      for (size_t i = 0; i < w->unmarked.n; i++) {
        if (w->unmarked.v[i]->marker == MARKER_QUEUED) w->unmarked.v[i]->marker = MARKER_ON_DISK;
        w->unmarked.v[i]->in_unmarked = false;
      }
      w->unmarked.n = 0;
      commit_finals(w);
    } else {
      restore_finals(w, now);
      schedule_unmarked(w);
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
      while ((src = tsdb_map__next(&w->sources, &pos)) != NULL) source_forget(src);
      for (size_t i = 0; i < w->touched.n; i++) {
        wseries *ws = w->ws[w->touched.v[i]];
        ws->max_ts = TS_UNKNOWN;
        for (int t = 0; t < TSDB_MAX_TIERS; t++)
          for (acc *a = ws->accs[t]; a; a = a->next) mark_refresh(w, a);
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
    reject_reset(&w->reject);
    if (rc == 0 && w->refresh.n) refresh_accs(w);
  } else if (w->refresh.n) {
    refresh_accs(w);
  }
  if (!w->failing) {
    finalize_due(w, now);
    if (w->partial.n) publish_partials(w, now);
    if (w->backfills.n) backfill_step(w);
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
    sweep_sources(w, now, src_budget);
    sweep_series(w, now, ws_budget);
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
                       "storage works again after %" PRId64 " ms: writes resumed, messages "
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

/* Opens a recovered accumulator for (series, tier t, start), marked for a
 * rebuild from raw data; NULL when it cannot (no memory). */
static acc *recover_acc(tsdb_writer *w, uint32_t id, int t, int64_t tier_ms, int64_t start,
                        int64_t now) {
  wseries *h = ws_get(w, id);
  acc **pp = h ? &h->accs[t] : NULL;
  while (pp && *pp && (*pp)->start > start) pp = &(*pp)->next;
  if (pp && *pp && (*pp)->start == start) return *pp; /* both kinds of marker named it */
  acc *a = h ? acc_new(w) : NULL;
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
  heap_push(w, a, acc_due(w, a));
  mark_refresh(w, a);
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
static void recover(tsdb_writer *w) {
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
  if (dropped || nglobals) store_write(w, false);
  if (recovered)
    refresh_accs(w);
  if (recovered || dropped)
    tsdb_log__printf(&env->log, TSDB_LOG_NOTICE,
                     "recovered open buckets count=%zu dropped_markers=%zu global_markers=%zu",
                     recovered, dropped, nglobals);
}

static void *writer_main(void *arg) {
  tsdb_writer *w = arg;
  tsdb_env *env = w->env;
  if (!tsdb_env__store(env) && !open_store_retrying(w)) {
    lose_held(w, NULL, 0);
    tsdb_queue__writer_exited(&env->queue);
    return NULL;
  }
  recover(w);
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
    bool alive = tsdb_queue__take(&env->queue, deadline, env->opts.flush_interval_ms, &data, &len,
                                  &seq);
    /* A burst is taken whole and written in passes (PASS_OPENED). */
    size_t off = 0;
    do {
      uint64_t pass_seq;
      bool pass_failed;
      size_t used = process(w, data ? data + off : NULL, len - off, seq, &pass_seq, &pass_failed);
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
    if (w->ws[i]) ws_free(w->ws[i]);
  free(w->ws);
  size_t pos = 0;
  source *src;
  while ((src = tsdb_map__next(&w->sources, &pos)) != NULL) source_free(src);
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
  free(w->finals_sorted.v);
  free(w->enc);
  free(w->buckets);
  tsdb_scan_buf__free(&w->scan);
  tsdb_store__batch_free(w->batch);
  tsdb_ratelimit__destroy(&w->still_failing);
  tsdb_ratelimit__destroy(&w->fail_log);
  free(w);
}
