/*
 * mosquitto-tsdb engine: an embedded time-series store on RocksDB with rollup
 * tiers that stay exact under late and duplicate points. It knows no wire
 * protocol: the writer reports rollup buckets as typed events
 * (tsdb_options.bucket_fn), and readers use the calls below. The read
 * protocols (MQTT-shaped answers, later HTTP) are serve/'s (tsdb/serve.h).
 *
 * Threads (see write/writer.c for the full DESIGN notes):
 *   - any thread      tsdb_ingest(): copies, never blocks beyond a short
 *                     mutex hold, never does I/O; reads run on the caller's
 *                     thread on RocksDB snapshots;
 *   - writer thread   owns RocksDB writes, the series catalog's growth and
 *                     every rollup accumulator, and calls bucket_fn;
 *   - maint thread    retention sweeps and memory upkeep.
 *
 * Time is int64 milliseconds since the Unix epoch (UTC) everywhere.
 * Every function returns 0 or a negative TSDB_E* code (tsdb/error.h) unless
 * documented otherwise.
 */
#ifndef TSDB_TSDB_H
#define TSDB_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsdb_db tsdb_db;
typedef struct tsdb_series_class tsdb_series_class;

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */

typedef enum tsdb_log_level {
  TSDB_LOG_ERROR = 0,
  TSDB_LOG_WARNING = 1,
  TSDB_LOG_NOTICE = 2,
  TSDB_LOG_INFO = 3,
  TSDB_LOG_DEBUG = 4
} tsdb_log_level;

/* Called from engine threads; must be thread-safe. `msg` is "key=value ..."
 * text without the plugin prefix and without a newline. */
typedef void (*tsdb_log_fn)(void *ud, int level, const char *msg);

/* ------------------------------------------------------------------------ */
/* Durations ("10s", "1m", "15m", "1h", "1d", "500ms", "2w")                  */

/* Parses a duration into milliseconds. Accepts <integer><unit> with unit one
 * of ms, s, m, h, d, w; rejects zero, negatives, overflow and trailing text. */
int tsdb_duration_parse(const char *text, int64_t *ms);
/* Canonical short text of a duration ("1m", "90s", "1d"); returns buf. */
char *tsdb_duration_format(int64_t ms, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Database                                                                  */

typedef enum tsdb_dup_policy {
  TSDB_DUP_LAST = 0,  /* the same (series, timestamp) again: the newest write wins */
  TSDB_DUP_FIRST = 1, /* the first write wins; later ones are dropped silently */
  TSDB_DUP_REJECT = 2 /* the first write wins; later ones are refused and counted
                         (tsdb_stats.duplicates_rejected) */
} tsdb_dup_policy;

/* The name of a duplicate policy, as schemas ("duplicates": "reject") and the
 * catalog's descriptors write it; NULL for a value that is none.
 * Thread-safe. */
const char *tsdb_dup_policy_name(int policy);
/* The policy of a name, or TSDB_ENOTFOUND. Thread-safe. */
int tsdb_dup_policy_find(const char *name);

typedef int64_t (*tsdb_clock_fn)(void *ud); /* wall clock, ms since epoch */

/* What opening a database whose write-ahead log is damaged does (a log cut
 * short by a crash mid-write, or corrupted on disk). */
typedef enum tsdb_wal_recovery {
  /* Replay the log up to the damage and drop the rest, after copying the
   * log files to <path>/wal-damaged-<time>/; logged at ERROR with what
   * RocksDB dropped (file, bytes, reason). */
  TSDB_WAL_POINT_IN_TIME = 0,
  /* Refuse to open (TSDB_ECORRUPT), saying what is damaged and how to
   * start anyway. */
  TSDB_WAL_STRICT = 1
} tsdb_wal_recovery;

/* ------------------------------------------------------------------------ */
/* Bucket events: what the writer tells the host about rollup buckets        */

typedef struct tsdb_aggregate tsdb_aggregate;

typedef enum tsdb_bucket_state {
  TSDB_BUCKET_PARTIAL = 0,   /* an open bucket, as far as it goes (partial_interval_ms) */
  TSDB_BUCKET_FINAL = 1,     /* the bucket closed: grace passed since its end */
  TSDB_BUCKET_CORRECTION = 2 /* a final bucket changed again (a late point, a rebuild) */
} tsdb_bucket_state;

/* One field of the topic: its series and the bucket's aggregate. */
typedef struct tsdb_bucket_field {
  uint32_t series;
  const char *field;
  const tsdb_aggregate *agg;
} tsdb_bucket_field;

/* A bucket of one topic and tier, with every field of the topic that has
 * points in it (fields in the catalog's order). Valid during the call. */
typedef struct tsdb_bucket_event {
  const char *topic;
  size_t topic_len;
  int64_t tier_ms;
  int64_t start_ms; /* the bucket is [start_ms, start_ms + tier_ms) */
  tsdb_bucket_state state;
  /* No newer bucket of this topic and tier was published: a host that keeps
   * the latest one (a retained message) keeps this one. An old bucket's
   * correction is not the newest. */
  bool newest;
  size_t nfields;
  const tsdb_bucket_field *fields;
} tsdb_bucket_event;

/* Called on the writer thread: must be quick, must not block on the writer
 * (no tsdb_sync, no ingest). */
typedef void (*tsdb_bucket_event_fn)(const tsdb_bucket_event *ev, void *ud);

typedef struct tsdb_options {
  const char *path;            /* RocksDB directory (created if missing); required */
  size_t queue_bytes;          /* ingest queue capacity, each of its two halves; default 32 MiB */
  uint32_t flush_interval_ms;  /* async mode: how long the writer gathers a batch; default 100 */
  uint32_t grace_ms;           /* a bucket is final this long after its end; default 5000 */
  uint32_t cache_mb;           /* RocksDB block cache; default 64 */
  uint32_t retention_sweep_ms; /* how often expired data is compacted away; default 1 h */
  int64_t
      archive_retention_ms; /* keep original messages for replay this long; 0 off; default 7 d */
  /* Called on the writer thread for every bucket event (tsdb_bucket_event
   * below), after its bucket is stored. NULL (the default): no events, and
   * the writer keeps no partial-update state. serve/ publishes them as the
   * live aggregates (tsdb_serve_engine_options). */
  tsdb_bucket_event_fn bucket_fn;
  void *bucket_ud;
  uint32_t partial_interval_ms; /* open buckets publish "partial" this often; 0 off; default 5000 */
  tsdb_log_fn log_fn;           /* NULL: no log lines (serve/ can queue them for the host) */
  void *log_ud;
  int log_level;          /* records above this level are not produced; default INFO */
  bool fsync_wal;         /* fsync the WAL with every batch (power-loss safe); default false */
  tsdb_clock_fn clock_fn; /* NULL: CLOCK_REALTIME. Tests inject a clock. */
  void *clock_ud;
  int wal_recovery; /* tsdb_wal_recovery; default TSDB_WAL_POINT_IN_TIME */
  /* When the store cannot be opened for a storage reason (permissions, not
   * a directory, a full disk, another process holding it: TSDB_EIO or
   * TSDB_ENOSPC), tsdb_open() still succeeds: ingest is refused with
   * TSDB_EIO and tsdb_storage_ready() is false (serve/ answers commands
   * "storage unavailable") while the writer retries the open, at most every
   * second. Damaged data and unknown formats still fail tsdb_open(). Default
   * false: tsdb_open() fails. */
  bool open_retry;
} tsdb_options;

/* Fills every field with its default (path NULL). */
void tsdb_options_init(tsdb_options *opts);

/*
 * Opens (creating if needed) the store at opts->path, recovers rollup work
 * that a crash interrupted, and starts the writer and maintenance threads.
 * On failure returns an error and, if errbuf is given, a readable reason.
 */
int tsdb_open(const tsdb_options *opts, tsdb_db **out, char *errbuf, size_t errlen);

/*
 * Stops accepting input, drains the ingest queue into RocksDB, finalizes
 * nothing that is still open (open buckets are recovered at the next open),
 * joins every thread and closes the store. Its last log lines (what a stop
 * while storage fails has lost, say) have gone to log_fn, and
 * tsdb_stats_get() keeps working, until tsdb_close().
 * Idempotent; safe to call with NULL.
 */
void tsdb_shutdown(tsdb_db *db);

/* tsdb_shutdown() if it has not run, then frees everything. Safe to call
 * with NULL. */
void tsdb_close(tsdb_db *db);

/* Blocks until everything ingested before the call is committed to RocksDB
 * (and its rollups updated). For tests, benchmarks and shutdown; never call
 * it on a broker thread. */
int tsdb_sync(tsdb_db *db);

/* ------------------------------------------------------------------------ */
/* Series classes: what a schema says about the series its messages produce  */

typedef struct tsdb_label {
  const char *key;
  const char *value;
} tsdb_label;

typedef struct tsdb_series_class_desc {
  const char *schema_id; /* e.g. "air-quality" */
  uint32_t schema_version;
  const char *topic_template;     /* "city/{district}/{station}/air": named levels become labels */
  size_t nfields;                 /* 0 when every message names its fields */
  const char *const *field_names; /* measurement names, e.g. "pm25" */
  const char *const *units;       /* per field, may be NULL or contain NULL */
  size_t ntiers;
  const int64_t *tiers_ms; /* rollup tiers, each a whole number of seconds, ascending */
  int dup_policy;          /* tsdb_dup_policy */
  int64_t block_span_ms;   /* raw block span; 0: default (1 day) */
  size_t nlabels;
  const tsdb_label *labels; /* static labels added to every series */
  /* Retention, 0 = forever. Raw points older than raw_retention_ms, and
   * buckets of tier i that ended more than tier_retention_ms[i] ago, are
   * invisible at once and removed in the background. Each tier must keep at
   * least as long as raw points (coarse tiers are rebuilt from finer ones). */
  int64_t raw_retention_ms;
  const int64_t *tier_retention_ms; /* ntiers entries, or NULL: forever */
} tsdb_series_class_desc;

/* Creates an immutable, reference-counted class (count 1). Strings are copied. */
int tsdb_series_class_create(const tsdb_series_class_desc *desc, tsdb_series_class **out);
void tsdb_series_class_retain(tsdb_series_class *cls);  /* thread-safe */
void tsdb_series_class_release(tsdb_series_class *cls); /* thread-safe; NULL ok */

/* ------------------------------------------------------------------------ */
/* Ingest                                                                    */

typedef struct tsdb_point {
  int64_t ts_ms;
  double value;
  uint32_t field; /* index into the class's field_names, or into msg->names */
} tsdb_point;

#define TSDB_MAX_NAME_LEN 255

typedef struct tsdb_ingest_msg {
  tsdb_series_class *cls; /* retained by the queue until written */
  const char *topic;      /* the concrete topic the message arrived on */
  size_t topic_len;
  const tsdb_point *points;
  size_t npoints;
  /*
   * Optional: field names carried by the message itself, for formats whose
   * series are named in the payload (SenML "bn"+"n", sensor.community
   * "value_type"). When names is set, point.field indexes names[] (and
   * units[], which may be NULL or hold NULLs) instead of the class's fields.
   * Names are 1..TSDB_MAX_NAME_LEN bytes without NUL; copied.
   */
  const char *const *names;
  const char *const *units;
  size_t nnames;
  /*
   * Optional: the original message, kept in the replay archive (when the
   * archive is on) with its arrival time (0: now). Copied.
   */
  const void *payload;
  size_t payload_len;
  int64_t arrival_ms;
} tsdb_ingest_msg;

/*
 * Copies the message into the bounded ingest queue and returns at once.
 * Makes no system call in the common case: the writer is woken at most once
 * per batch window. Returns TSDB_EFULL when the queue is full (the caller
 * refuses the message and counts it), TSDB_EIO while storage fails (from
 * the first failed write until a write succeeds again: the caller refuses
 * the message), TSDB_ECLOSED while closing, TSDB_EINVAL for a bad field
 * index or empty topic. A message accepted (0) is written even if storage
 * fails after it: the writer keeps it and writes it once storage works
 * again; only a stop while storage still fails loses it, counted in
 * tsdb_stats.messages_lost.
 */
int tsdb_ingest(tsdb_db *db, const tsdb_ingest_msg *msg);

/*
 * Like tsdb_ingest(), then BLOCKS until the message's points are in
 * RocksDB's write-ahead log (fsynced when fsync_wal is set): a process crash
 * after it returns 0 cannot lose them. The writer skips its batching window
 * for it. Returns TSDB_EIO when that write failed or storage fails (nothing
 * of the message is stored, and it never will be), TSDB_EFULL without
 * waiting when the queue is full. For the
 * plugin's sync durability: the broker sends PUBACK after this returns.
 */
int tsdb_ingest_durable(tsdb_db *db, const tsdb_ingest_msg *msg);

/* ------------------------------------------------------------------------ */
/* What the read protocols (serve/) need from the engine. Thread-safe.        */

/* The engine's clock (tsdb_options.clock_fn, else CLOCK_REALTIME), in ms. */
int64_t tsdb_now(tsdb_db *db);

/* A copy of the options the database was opened with (path borrowed from
 * the database, valid until tsdb_close). */
void tsdb_options_get(tsdb_db *db, tsdb_options *out);

/* Whether the store is open (false while tsdb_options.open_retry retries,
 * and after tsdb_shutdown). */
bool tsdb_storage_ready(tsdb_db *db);

/* Read your writes: the position of the ingest queue (messages accepted so
 * far), and a wait until the writer has processed every message before
 * such a position: 0, or TSDB_EIO when storage fails (the writer makes no
 * progress then: a reader reads what is stored rather than wait for a
 * recovery), or TSDB_ECLOSED when the database is shutting down. */
uint64_t tsdb_ingest_position(tsdb_db *db);
int tsdb_wait_written(tsdb_db *db, uint64_t position);

#define TSDB_SERIES_MAX_TIERS 8

/* A series as the catalog describes it; every string is a copy. */
typedef struct tsdb_series_info {
  uint32_t id;
  char *topic;
  char *field;
  char *unit; /* NULL: none */
  char *schema_id;
  uint32_t schema_version;
  /* The topic template's named levels, then the schema's static labels. */
  size_t nlabels;
  tsdb_label *labels;
  size_t ntiers;
  int64_t tiers_ms[TSDB_SERIES_MAX_TIERS];
  int64_t raw_retention_ms;                         /* 0: forever */
  int64_t tier_retention_ms[TSDB_SERIES_MAX_TIERS]; /* 0: forever */
  int dup_policy;                                   /* tsdb_dup_policy */
} tsdb_series_info;

/* 0, TSDB_ENOTFOUND or TSDB_ENOMEM; free with tsdb_series_info_free. */
int tsdb_series_describe(tsdb_db *db, uint32_t series, tsdb_series_info *out);
void tsdb_series_info_free(tsdb_series_info *info);

/* The replay archive: every accepted message with from <= arrival < to, in
 * arrival order, on one snapshot taken at the start. fn returning non-zero
 * stops the scan (and is returned); it may take its time (a paced replay),
 * the snapshot stays. Returns a storage error otherwise. */
typedef int (*tsdb_archive_fn)(void *ud, int64_t arrival_ms, const char *topic, size_t topic_len,
                               const void *payload, size_t len);
int tsdb_archive_scan(tsdb_db *db, int64_t from, int64_t to, tsdb_archive_fn fn, void *ud);

/* ------------------------------------------------------------------------ */
/* Direct reads (tests, benchmarks, tools). Thread-safe; read a snapshot.     */

/* The aggregate of one bucket or of a whole range. */
struct tsdb_aggregate {
  int64_t start_ms;
  uint64_t count;
  double sum, min, max, mean, stddev; /* stddev: population, 0 for count 1 */
  int64_t first_ts, last_ts;
  double first, last;
  bool filled; /* an empty bucket given values by a fill mode (count is 0) */
};

/* The aggregates of a bucket, by the names that queries ask for
 * ("aggregates":["count","max"]), answers name their columns and the
 * $tsdb/agg payloads their keys with, in this order. One table (agg.c)
 * holds each kind's name and how its value comes from a bucket's mergeable
 * state. */
typedef enum tsdb_agg_kind {
  TSDB_AGG_COUNT = 0, /* an integer: tsdb_aggregate.count */
  TSDB_AGG_MIN,
  TSDB_AGG_MAX,
  TSDB_AGG_MEAN,
  TSDB_AGG_SUM,
  TSDB_AGG_FIRST,
  TSDB_AGG_LAST,
  TSDB_AGG_STDDEV,
  TSDB_AGG_KINDS
} tsdb_agg_kind;

/* The name of an aggregate kind ("mean"); NULL for a value that is none.
 * Thread-safe. */
const char *tsdb_agg_name(int kind);
/* The kind of an aggregate name, or TSDB_ENOTFOUND. Thread-safe. */
int tsdb_agg_find(const char *name);
/* The value of one kind in a bucket (the count as a double). */
double tsdb_aggregate_get(const tsdb_aggregate *a, tsdb_agg_kind kind);

typedef int (*tsdb_point_fn)(void *ud, int64_t ts_ms, double value);
typedef int (*tsdb_bucket_fn)(void *ud, const tsdb_aggregate *bucket);

/*
 * Reads on a snapshot. Each read below sees the database on one RocksDB
 * snapshot: its own, or the one given to its _at form, so that several
 * reads (a multi-series answer, a page and the next) see the same state.
 * A snapshot holds what it sees in memory and on disk until it is released:
 * keep it for one answer, not for minutes.
 */
typedef struct tsdb_snapshot tsdb_snapshot;
/* NULL when the store is not open (tsdb_storage_ready). Thread-safe. */
tsdb_snapshot *tsdb_snapshot_take(tsdb_db *db);
/* Before tsdb_shutdown. NULL is fine. */
void tsdb_snapshot_release(tsdb_db *db, tsdb_snapshot *snap);

/* Series id of (topic, field), or TSDB_ENOTFOUND. */
int tsdb_series_find(tsdb_db *db, const char *topic, const char *field, uint32_t *id);

/* Raw points of a series with from <= ts < to, ascending. fn returning
 * non-zero stops the scan (and is returned). */
int tsdb_read_raw(tsdb_db *db, uint32_t series, int64_t from, int64_t to, tsdb_point_fn fn,
                  void *ud);
int tsdb_read_raw_at(tsdb_db *db, const tsdb_snapshot *snap, uint32_t series, int64_t from,
                     int64_t to, tsdb_point_fn fn, void *ud);

/* Buckets of a rollup tier with from <= start < to, ascending, exact even for
 * buckets that are still open. Empty buckets are not reported. */
int tsdb_read_tier(tsdb_db *db, uint32_t series, int64_t tier_ms, int64_t from, int64_t to,
                   tsdb_bucket_fn fn, void *ud);
int tsdb_read_tier_at(tsdb_db *db, const tsdb_snapshot *snap, uint32_t series, int64_t tier_ms,
                      int64_t from, int64_t to, tsdb_bucket_fn fn, void *ud);

/* How a step query reports buckets without points. */
typedef enum tsdb_fill {
  TSDB_FILL_NONE = 0,     /* omit them */
  TSDB_FILL_NULL = 1,     /* report them with count 0 and NaN values */
  TSDB_FILL_PREVIOUS = 2, /* repeat the values of the previous non-empty bucket */
  TSDB_FILL_LINEAR = 3    /* interpolate each value between its non-empty neighbours */
} tsdb_fill;

typedef struct tsdb_step_query {
  uint32_t series;
  int64_t from, to; /* the range [from, to) */
  int64_t step_ms;  /* > 0; buckets are aligned to multiples of it since the epoch */
  int fill;         /* tsdb_fill */
  uint32_t limit;   /* buckets to report at most; 0: no limit */
} tsdb_step_query;

/*
 * Aggregates of a series at any step. Bucket k covers [k*step, (k+1)*step)
 * clipped to [from, to); start_ms is k*step. The planner reads the coarsest
 * rollup tier that divides the step for the aligned middle of the range (one
 * sequential scan) and covers the partial edges from finer tiers or raw
 * points, so the cost grows with the buckets returned, not with the points in
 * the range. When the limit stops the answer early, *next (if given) is the
 * `from` of the next page; otherwise it is set to `to`.
 */
int tsdb_query_step(tsdb_db *db, const tsdb_step_query *q, tsdb_bucket_fn fn, void *ud,
                    int64_t *next);
int tsdb_query_step_at(tsdb_db *db, const tsdb_snapshot *snap, const tsdb_step_query *q,
                       tsdb_bucket_fn fn, void *ud, int64_t *next);

/* The last raw point of a series with ts < before: TSDB_ENOTFOUND if none. */
int tsdb_read_last(tsdb_db *db, uint32_t series, int64_t before, int64_t *ts, double *value);
int tsdb_read_last_at(tsdb_db *db, const tsdb_snapshot *snap, uint32_t series, int64_t before,
                      int64_t *ts, double *value);

/* Series whose topic matches an MQTT filter, whose field equals `field`
 * (NULL: any) and which carry every given label. fn gets each id, topic and
 * field, in id order; a non-zero return stops (and is returned). */
typedef int (*tsdb_series_fn)(void *ud, uint32_t id, const char *topic, const char *field);
int tsdb_series_match(tsdb_db *db, const char *filter, const char *field, const tsdb_label *labels,
                      size_t nlabels, tsdb_series_fn fn, void *ud);

/* Runs one retention sweep now on the calling thread (the maintenance thread
 * does this every retention_sweep_ms): compacts away expired data. Blocks. */
void tsdb_retention_sweep(tsdb_db *db);

/* Bytes on disk (SST files after compaction, per column family; and the WAL). */
typedef struct tsdb_disk_usage {
  uint64_t raw;   /* compressed point blocks */
  uint64_t agg;   /* rollup buckets */
  uint64_t other; /* catalog, pending markers, format */
  uint64_t wal;   /* write-ahead log files */
} tsdb_disk_usage;

void tsdb_disk_usage_get(tsdb_db *db, tsdb_disk_usage *out);

/* Memory RocksDB holds (bytes): memtables, cached blocks (bounded by
 * cache_mb), and the index and filter blocks of open table files. */
typedef struct tsdb_store_memory {
  uint64_t memtables;
  uint64_t block_cache;
  uint64_t table_readers;
} tsdb_store_memory;

void tsdb_store_memory_get(tsdb_db *db, tsdb_store_memory *out);

/* Flushes memtables and compacts every column family fully (tools,
 * benchmarks). Blocks; never call it on a broker thread. 0, or the kind of
 * the first storage error (TSDB_ENOSPC, TSDB_ECORRUPT, TSDB_EIO); a store
 * not open yet is nothing to compact (0). */
int tsdb_compact(tsdb_db *db);

/* Engine counters, for the stats command, metrics and tests. */
typedef struct tsdb_stats {
  uint64_t messages_ingested;
  uint64_t points_ingested;
  uint64_t points_written;
  uint64_t queue_full;
  uint64_t batches;
  uint64_t late_points;         /* points that needed a rollup recompute */
  uint64_t expired_points;      /* points dropped because retention had already passed them */
  uint64_t duplicates_rejected; /* points refused by the reject duplicate policy */
  uint64_t retention_sweeps;    /* background passes that compacted expired data away */
  uint64_t buckets_finalized;
  uint64_t corrections;
  uint64_t open_buckets;      /* rollup buckets held open by the writer */
  uint64_t backfills_pending; /* (series, tier) pairs a schema added, still being built */
  uint64_t series;
  uint64_t write_errors;
  size_t queue_bytes_used;
  size_t queue_bytes_capacity;
  uint64_t write_latency_p50_us; /* of the writer's batch writes (WAL), log2 buckets */
  uint64_t write_latency_p99_us;
  tsdb_disk_usage disk;      /* refreshed by the writer about every 10 s */
  tsdb_store_memory memory;  /* likewise */
  uint64_t sources_cached;   /* topics whose series ids the writer caches */
  uint64_t series_active;    /* series with a point in the last 10 minutes or an open bucket */
  uint64_t memory_trims;     /* times free heap pages were given back to the system */
  uint64_t agg_cache_hits;   /* aggregate blocks served decoded from the cache */
  uint64_t agg_cache_misses; /* aggregate blocks looked up and decoded (absent or changed) */
  uint64_t agg_cache_bytes;  /* memory the cache holds (at most cache_mb / 4 MiB) */
  uint64_t storage_failing;  /* 1 while writes fail (or the store is not open yet) */
  uint64_t storage_failures; /* times writes started to fail */
  uint64_t messages_lost;    /* accepted (acknowledged) messages never written */
  uint64_t points_lost;      /* their points */
  uint64_t wal_damaged;      /* 1 when this open dropped damaged write-ahead log records */
} tsdb_stats;

void tsdb_stats_get(tsdb_db *db, tsdb_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_TSDB_H */
