/*
 * The writer's internals, shared by the files of write/ (writer.c has the
 * DESIGN): its constants, the state it owns, and the functions one file of it
 * calls in another. Nothing outside write/ includes this.
 */
#ifndef TSDB_WRITER_INTERNAL_H
#define TSDB_WRITER_INTERNAL_H

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

#define TS_UNKNOWN INT64_MAX     /* wseries.max_ts not loaded yet */
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
  uint8_t tier;     /* index into the series' tiers */
  uint8_t marker;   /* marker_state of its own marker */
  bool refresh : 1; /* rebuild from raw after the next commit */
  bool queued_refresh : 1;
  bool existed : 1;     /* an aggregate was stored before: updates are corrections */
  bool superseded : 1;  /* the series has a later bucket in this tier */
  bool finalizing : 1;  /* its aggregate is in the batch being written */
  bool in_unmarked : 1; /* listed in w->unmarked */
  bool in_partial : 1;  /* listed in w->partial (changed since its last partial update) */
  bool in_order : 1;    /* opened by a point newer than all its series stored */
  bool from_global : 1; /* recovered for a global marker (recover_globals) */
  bool unchanged : 1;   /* ...and rebuilt equal to its stored aggregate: not published */
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
   * and w->stage_v once the pass is grouped by series (tsdb_wseries__group_staged). */
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
  uint32_t ids[]; /* per class field; 0 until resolved */
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

#define VEC(type)  \
  struct {         \
    type *v;       \
    size_t n, cap; \
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
  int64_t *stage_ts;        /* ...grouped by series (tsdb_wseries__group_staged) */
  double *stage_v;
  size_t stage_cap;
  VEC(uint32_t) changed; /* series whose descriptor is in the current batch */
  VEC(acc *) refresh;
  VEC(acc *) unmarked; /* open accumulators whose pending marker is not written yet */
  VEC(acc *) partial;  /* open accumulators changed since their last partial update (NULL: gone) */
  VEC(final_entry) finals;
  VEC(final_entry *) finals_order;      /* tsdb_finals__sort' scratch */
  VEC(final_entry) tsdb_finals__sorted; /* likewise */
  VEC(uint64_t) backfills;              /* (series << 8 | tier) of tiers still being backfilled */
  tsdb_map globals;                     /* (tier_s, start) -> global_marker */
  VEC(global_marker *) gdirty;          /* globals whose marker may have to change */
  reject_index reject;                  /* the reject policy's duplicate checks, for one pass */
  VEC(acc *) run; /* tsdb_accs__refresh' scratch: one cluster's accumulators */
  VEC(tsdb_agg) run_states;
  /* tsdb_accs__refresh_existed's last stored aggregate block, valid during one
   * tsdb_accs__refresh (nothing is written meanwhile). */
  tsdb_agg_block existed;
  bool existed_valid;
  uint32_t existed_series, existed_tier_s;
  int64_t existed_block;
  bucket_buf *buckets; /* one aggregate block's buckets, allocated on first use */
  uint8_t *enc;
  size_t enc_cap;
  /* tsdb_events__publish_bucket's event: a topic's fields and their aggregates */
  tsdb_bucket_field event_fields[TSDB_MAX_FIELDS];
  tsdb_aggregate event_aggs[TSDB_MAX_FIELDS];
  tsdb_scan_buf scan;
  uint64_t last_seq;    /* messages taken from the queue so far */
  uint64_t pass_points; /* points in the batch being written */
  /* Storage failure (see "Failure" above): set by the first failed write,
   * cleared when RocksDB resumes. */
  bool failing;
  int64_t failing_since;                  /* monotonic ms */
  int64_t recovered_at;                   /* monotonic ms of the last recovery */
  uint32_t retry_ms;                      /* the next wait before a resume attempt */
  tsdb_ratelimit fail_log, still_failing; /* "failing" and "still failing" lines */
  uint32_t session;          /* archive keys: a random id of this tsdb_writer__process... */
  uint32_t archive_seq;      /* ...and a counter */
  int64_t next_disk_refresh; /* monotonic ms */
  int64_t last_sweep;        /* engine clock of the last idle sweep slice */
};

#define VEC_PUSH(vec, item)                                                     \
  (((vec).n < (vec).cap ||                                                      \
    tsdb_writer__vec_grow((void **)&(vec).v, &(vec).cap, sizeof *(vec).v) == 0) \
       ? ((vec).v[(vec).n++] = (item), 0)                                       \
       : TSDB_ENOMEM)

/* A burst (a bulk import, a catch-up) grows the per-pass vectors; their
 * memory is given back once the pass is over rather than held for good. */
#define VEC_TRIM(vec)                           \
  do {                                          \
    if ((vec).n == 0 && (vec).cap > VEC_KEEP) { \
      free((vec).v);                            \
      (vec).v = NULL;                           \
      (vec).cap = 0;                            \
    }                                           \
  } while (0)

/* writer.c */
int tsdb_writer__vec_grow(void **v, size_t *cap, size_t elem);
size_t tsdb_writer__lower_bound_ts(const int64_t *v, size_t n, int64_t ts);
int tsdb_writer__store_write(tsdb_writer *w, bool sync);
size_t tsdb_writer__process(tsdb_writer *w, uint8_t *data, size_t len, uint64_t seq,
                            uint64_t *pass_seq, bool *pass_failed);

/* accs.c */
acc *tsdb_accs__new(tsdb_writer *w);
void tsdb_accs__free(tsdb_writer *w, acc *a);
int tsdb_accs__heap_push(tsdb_writer *w, acc *a, int64_t due);
void tsdb_accs__heap_update(tsdb_writer *w, acc *a, int64_t due);
acc *tsdb_accs__heap_pop(tsdb_writer *w);
int64_t tsdb_accs__due(const tsdb_writer *w, const acc *a);
int tsdb_accs__mark_refresh(tsdb_writer *w, acc *a);
int tsdb_accs__rollup_point(tsdb_writer *w, uint32_t id, wseries *ws, const tsdb_series *s,
                            int64_t ts, double v, int64_t now);
void tsdb_accs__refresh_existed(tsdb_writer *w, acc *a);
void tsdb_accs__refresh(tsdb_writer *w);

/* wseries.c */
wseries *tsdb_wseries__find(const tsdb_writer *w, uint32_t id);
wseries *tsdb_wseries__get(tsdb_writer *w, uint32_t id);
void tsdb_wseries__free(wseries *ws);
void tsdb_wseries__sweep(tsdb_writer *w, int64_t now, size_t budget);
int tsdb_wseries__stage_point(tsdb_writer *w, wseries *ws, uint32_t id, int64_t ts, double v);
int tsdb_wseries__group_staged(tsdb_writer *w);
void tsdb_wseries__source_forget(source *src);
void tsdb_wseries__source_free(source *src);
source *tsdb_wseries__source_get(tsdb_writer *w, const char *topic, size_t len,
                                 tsdb_series_class *cls, int64_t now);
void tsdb_wseries__sweep_sources(tsdb_writer *w, int64_t now, size_t budget);

/* markers.c */
global_marker *tsdb_markers__hold(tsdb_writer *w, uint32_t tier_s, int64_t start);
void tsdb_markers__release(tsdb_writer *w, global_marker *g);
void tsdb_markers__stage(tsdb_writer *w);
void tsdb_markers__commit(tsdb_writer *w, bool ok);

/* reject.c */
int tsdb_reject__add(reject_index *x, uint32_t series, int64_t ts);
void tsdb_reject__reset(reject_index *x);
bool tsdb_reject__is_duplicate(tsdb_writer *w, uint32_t id, int64_t ts);

/* events.c */
void tsdb_events__publish_bucket(tsdb_writer *w, const char *topic, size_t topic_len,
                                 int64_t tier_ms, int64_t start, tsdb_bucket_state state,
                                 const final_entry *g, size_t n);
void tsdb_events__publish_group(tsdb_writer *w, const final_entry *g, size_t n);
void tsdb_events__publish_partials(tsdb_writer *w, int64_t now);

/* finals.c */
bool tsdb_finals__sorted(const tsdb_writer *w, int (*cmp_ref)(const void *, const void *));
void tsdb_finals__sort(tsdb_writer *w, int (*cmp_ref)(const void *, const void *));
void tsdb_finals__collect_due(tsdb_writer *w, int64_t now);
void tsdb_finals__schedule_unmarked(tsdb_writer *w);
void tsdb_finals__commit(tsdb_writer *w);

/* backfill.c */
bool tsdb_backfill__step(tsdb_writer *w);

/* recover.c */
void tsdb_recover__all(tsdb_writer *w);

#endif /* TSDB_WRITER_INTERNAL_H */
