#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "aggcache.h"
#include "aggblock.h"
#include "block.h"
#include "codec.h"
#include "keys.h"
#include "store_cxx.h"
#include "timeutil.h"

#define TSDB_FORMAT_VERSION "1"

static const char *const cf_names[TSDB_CF_COUNT] = {"default", "catalog", "raw",
                                                    "agg",     "pending", "archive"};

typedef struct filter_ctx {
  struct tsdb_store *st;
  tsdb_cf_id cf;
} filter_ctx;

/*
 * RocksDB's info log (store_cxx.h: why it is ours). Every line at INFO or
 * above goes to <dir>/LOG, as RocksDB's own logger would write it, through
 * stdio whose errors are ignored: a full disk costs log lines, never the
 * process. WARN and above also go to the engine's log, rate-limited. While
 * the database opens, the lines that say WAL records were dropped are kept
 * for the open's own report.
 */
#define INFO_LOG_MAX_BYTES ((long)16 << 20) /* then LOG becomes LOG.old */

typedef struct info_log {
  pthread_mutex_t lock;
  FILE *file;
  char *path, *old_path;
  bool opening;
  char drops[768];        /* "file: dropping N bytes; Corruption: ..." lines of the open */
  tsdb_ratelimit forward; /* WARN+ lines to the engine's log */
} info_log;

struct tsdb_store {
  rocksdb_t *db;
  tsdb_expired_fn expired;
  void *expired_ud;
  filter_ctx filter_ctx[TSDB_CF_COUNT];
  rocksdb_compactionfilter_t *filters[TSDB_CF_COUNT];
  char *path;
  rocksdb_options_t *db_opts;
  rocksdb_options_t *cf_opts[TSDB_CF_COUNT];
  rocksdb_column_family_handle_t *cf[TSDB_CF_COUNT];
  rocksdb_cache_t *cache;
  rocksdb_block_based_table_options_t *table_opts;
  rocksdb_writeoptions_t *wo_async, *wo_sync;
  rocksdb_readoptions_t *ro_latest;
  tsdb_aggcache *aggcache; /* decoded agg blocks (aggcache.h); NULL: none */
  const tsdb_logger *log;
  info_log info;
  tsdb_ratelimit errors; /* storage error lines */
  pthread_mutex_t error_lock;
  char last_error[256]; /* the newest storage error, for the writer's report */
  bool wal_damaged;     /* this open dropped damaged write-ahead log records */
  /* Merge statistics, updated from RocksDB's background threads. */
  atomic_uint_fast64_t merge_corrupt_inputs;
  atomic_uint_fast64_t merge_dropped_points;
};

struct tsdb_wbatch {
  rocksdb_writebatch_t *wb;
};

struct tsdb_snap {
  const rocksdb_snapshot_t *snap;
};

struct tsdb_store_iter {
  rocksdb_iterator_t *it;
  rocksdb_readoptions_t *ro;
  tsdb_store *st;
  uint8_t *lower, *upper; /* bounds must outlive the iterator */
};

int tsdb_store__error_kind(const char *msg) {
  static const char io[] = "IO error: ", corruption[] = "Corruption: ";
  if (!strncmp(msg, corruption, sizeof corruption - 1)) return TSDB_ECORRUPT;
  /* The subcode's text follows the code's; the errno text ends the message
   * too, which a RocksDB without the subcode would still give. */
  if (!strncmp(msg, io, sizeof io - 1) && strstr(msg, "No space left on device"))
    return TSDB_ENOSPC;
  return TSDB_EIO;
}

/* Turns a RocksDB error string into its kind and a (rate-limited) log line;
 * frees it. A failing disk fails every write and many reads: a line each
 * would flood the broker's log (issue 12 counted 864 in a second). */
static int take_error(tsdb_store *st, char *errptr, const char *what) {
  if (!errptr) return 0;
  int kind = tsdb_store__error_kind(errptr);
  pthread_mutex_lock(&st->error_lock);
  snprintf(st->last_error, sizeof st->last_error, "%s", errptr);
  pthread_mutex_unlock(&st->error_lock);
  tsdb_log__limited(st->log, &st->errors, TSDB_LOG_ERROR,
                    "storage error op=%s kind=%s reason=\"%s\"", what, tsdb_err_name(kind), errptr);
  rocksdb_free(errptr);
  return kind;
}

void tsdb_store__last_error(tsdb_store *st, char *buf, size_t len) {
  pthread_mutex_lock(&st->error_lock);
  snprintf(buf, len, "%s", st->last_error[0] ? st->last_error : "unknown");
  pthread_mutex_unlock(&st->error_lock);
}

/* ---- RocksDB's info log ---- */

static void info_log_open_file(info_log *il) {
  il->file = fopen(il->path, "a");
  if (il->file) setvbuf(il->file, NULL, _IOLBF, 0);
}

static void info_log_line(void *ud, int level, const char *line) {
  tsdb_store *st = ud;
  info_log *il = &st->info;
  static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR", "FATAL", "HEADER"};
  pthread_mutex_lock(&il->lock);
  if (il->file) {
    char when[64];
    tsdb_time__format_rfc3339(tsdb_time__realtime_ms(), when);
    fprintf(il->file, "%s [%s] %s\n", when,
            level >= 0 && level <= TSDB_ROCKS_HEADER ? names[level] : "?", line);
    if (ferror(il->file)) clearerr(il->file); /* a full disk: the line is lost, nothing else */
    long size = ftell(il->file);
    if (size > INFO_LOG_MAX_BYTES) {
      fclose(il->file);
      rename(il->path, il->old_path);
      info_log_open_file(il);
    }
  }
  if (il->opening && level >= TSDB_ROCKS_WARN && strstr(line, "dropping ")) {
    size_t used = strlen(il->drops);
    snprintf(il->drops + used, sizeof il->drops - used, "%s%s", used ? "; " : "", line);
  }
  bool opening = il->opening;
  pthread_mutex_unlock(&il->lock);
  /* While the database opens, its own error says what went wrong, with
   * what RocksDB dropped (tsdb_store__open). */
  if (level >= TSDB_ROCKS_WARN && level != TSDB_ROCKS_HEADER && !opening)
    tsdb_log__limited(st->log, &il->forward,
                      level >= TSDB_ROCKS_ERROR ? TSDB_LOG_ERROR : TSDB_LOG_WARNING, "rocksdb: %s",
                      line);
}

/*
 * Reads run the merge operators too: a key whose operands no compaction has
 * folded yet (the newest block of every active series) is merged on each
 * read, and the result is thrown away. Read paths mark their thread while
 * they are in RocksDB, and a merge for such a thread writes its result with
 * the fast encoding (codec.h) instead of modelling it for the disk; merges on
 * RocksDB's own threads (flush, compaction) write the compact form.
 */
static _Thread_local int reading;
#define READ(call) \
  do {             \
    reading++;     \
    call;          \
    reading--;     \
  } while (0)

/* ---- the raw column family's merge operator (semantics in block.h) ---- */

/* How hard a merge encodes its result (codec.h): for a reader, FAST; a
 * partial merge of operands, LIGHT (a later full merge encodes it again); the
 * final value of a key, COMPACT. */
static tsdb_codec_effort merge_effort(bool full) {
  if (reading) return TSDB_CODEC_FAST;
  return full ? TSDB_CODEC_COMPACT : TSDB_CODEC_LIGHT;
}

static char *merge_blocks(tsdb_store *st, const char *const *blocks, const size_t *lens, size_t n,
                          bool full, unsigned char *success, size_t *new_len) {
  uint8_t *out = NULL;
  tsdb_block_merge_stats stats = {0, 0};
  int rc = tsdb_block__merge(blocks, lens, n, merge_effort(full), &out, new_len, &stats);
  if (stats.corrupt_inputs) atomic_fetch_add(&st->merge_corrupt_inputs, stats.corrupt_inputs);
  if (stats.dropped_points) atomic_fetch_add(&st->merge_dropped_points, stats.dropped_points);
  if (rc == TSDB_ECORRUPT) {
    /* Nothing readable at all: an empty-but-valid result would lose the
     * evidence, a failed merge would stop compaction for the whole DB.
     * Keep the newest input unchanged. */
    char *copy = malloc(lens[n - 1] ? lens[n - 1] : 1);
    if (!copy) {
      *success = 0;
      return NULL;
    }
    memcpy(copy, blocks[n - 1], lens[n - 1]);
    *new_len = lens[n - 1];
    *success = 1;
    return copy;
  }
  *success = rc == 0;
  return (char *)out;
}

static char *raw_merge(tsdb_store *st, const char *existing, size_t existing_len,
                       const char *const *operands, const size_t *operand_lens, int num_operands,
                       bool full, unsigned char *success, size_t *new_len) {
  size_t n = (size_t)num_operands + (existing ? 1 : 0);
  const char *stack_blocks[16];
  size_t stack_lens[16];
  const char **blocks = n <= 16 ? stack_blocks : malloc(n * sizeof *blocks);
  size_t *lens = n <= 16 ? stack_lens : malloc(n * sizeof *lens);
  char *result = NULL;
  if (!blocks || !lens) {
    *success = 0;
    goto cleanup;
  }
  size_t k = 0;
  if (existing) {
    blocks[k] = existing;
    lens[k++] = existing_len;
  }
  for (int i = 0; i < num_operands; i++) {
    blocks[k] = operands[i];
    lens[k++] = operand_lens[i];
  }
  result = merge_blocks(st, blocks, lens, k, full, success, new_len);
cleanup:
  if (blocks != stack_blocks) free((void *)blocks);
  if (lens != stack_lens) free(lens);
  return result;
}

static char *raw_full_merge(void *state, const char *key, size_t key_len, const char *existing,
                            size_t existing_len, const char *const *operands,
                            const size_t *operand_lens, int num_operands, unsigned char *success,
                            size_t *new_len) {
  (void)key;
  (void)key_len;
  return raw_merge(state, existing, existing_len, operands, operand_lens, num_operands, true,
                   success, new_len);
}

static char *raw_partial_merge(void *state, const char *key, size_t key_len,
                               const char *const *operands, const size_t *operand_lens,
                               int num_operands, unsigned char *success, size_t *new_len) {
  (void)key;
  (void)key_len;
  /* An operand has the same format as a full block, so folding operands
   * together is the same operation as a full merge without a base. */
  return raw_merge(state, NULL, 0, operands, operand_lens, num_operands, false, success, new_len);
}

static void raw_delete_value(void *state, const char *value, size_t len) {
  (void)state;
  (void)len;
  free((void *)value);
}

static void raw_merge_destroy(void *state) { (void)state; }
static const char *raw_merge_name(void *state) {
  (void)state;
  return "tsdb.raw_block_merge.v1";
}

/* ---- retention: the compaction filter of the raw and agg families ---- */

static unsigned char retention_filter(void *state, int level, const char *key, size_t klen,
                                      const char *value, size_t vlen, char **new_value,
                                      size_t *new_vlen, unsigned char *changed) {
  (void)level;
  (void)new_value;
  (void)new_vlen;
  *changed = 0;
  filter_ctx *fc = state;
  /* A block every bucket of which was deleted holds nothing: drop it. */
  size_t buckets;
  if (fc->cf == TSDB_CF_AGG && tsdb_aggblock__count((const uint8_t *)value, vlen, &buckets) == 0 &&
      buckets == 0)
    return 1;
  return fc->st->expired(fc->st->expired_ud, fc->cf, (const uint8_t *)key, klen) ? 1 : 0;
}

static void filter_destroy(void *state) { (void)state; }
static const char *filter_name(void *state) {
  (void)state;
  return "tsdb.retention.v1";
}

/* ---- the agg column family's merge operator (semantics in aggblock.h) ---- */

static char *agg_merge(tsdb_store *st, const char *existing, size_t existing_len,
                       const char *const *operands, const size_t *operand_lens, int num_operands,
                       bool full, unsigned char *success, size_t *new_len) {
  size_t n = (size_t)num_operands + (existing ? 1 : 0);
  const char *stack_blocks[16];
  size_t stack_lens[16];
  const char **blocks = n <= 16 ? stack_blocks : malloc(n * sizeof *blocks);
  size_t *lens = n <= 16 ? stack_lens : malloc(n * sizeof *lens);
  uint8_t *out = NULL;
  *success = 0;
  if (blocks && lens) {
    size_t k = 0;
    if (existing) {
      blocks[k] = existing;
      lens[k++] = existing_len;
    }
    for (int i = 0; i < num_operands; i++) {
      blocks[k] = operands[i];
      lens[k++] = operand_lens[i];
    }
    uint64_t corrupt = 0;
    /* Tombstones must survive a partial merge: they may still have to
     * delete a bucket of an older base value. */
    int rc =
        tsdb_aggblock__merge(blocks, lens, k, !full, merge_effort(full), &out, new_len, &corrupt);
    if (corrupt) atomic_fetch_add(&st->merge_corrupt_inputs, corrupt);
    if (rc == TSDB_ECORRUPT) {
      /* Nothing readable: keep the newest input rather than stop compaction. */
      out = malloc(lens[k - 1] ? lens[k - 1] : 1);
      if (out) {
        memcpy(out, blocks[k - 1], lens[k - 1]);
        *new_len = lens[k - 1];
        rc = 0;
      }
    }
    *success = rc == 0 && out;
  }
  if (blocks != stack_blocks) free((void *)blocks);
  if (lens != stack_lens) free(lens);
  return (char *)out;
}

static char *agg_full_merge(void *state, const char *key, size_t key_length, const char *existing,
                            size_t existing_len, const char *const *operands,
                            const size_t *operand_lens, int num_operands, unsigned char *success,
                            size_t *new_len) {
  (void)key;
  (void)key_length;
  return agg_merge(state, existing, existing_len, operands, operand_lens, num_operands, true,
                   success, new_len);
}

static char *agg_partial_merge(void *state, const char *key, size_t key_length,
                               const char *const *operands, const size_t *operand_lens,
                               int num_operands, unsigned char *success, size_t *new_len) {
  (void)key;
  (void)key_length;
  return agg_merge(state, NULL, 0, operands, operand_lens, num_operands, false, success, new_len);
}

static const char *agg_merge_name(void *state) {
  (void)state;
  return "tsdb.agg_block_merge.v1";
}

/* ---- open / close ---- */

static int mkdir_error(const char *dir, char *err, size_t errlen) {
  int e = errno;
  snprintf(err, errlen, "cannot create directory '%s': %s", dir, strerror(e));
  return e == ENOSPC ? TSDB_ENOSPC : TSDB_EIO;
}

static int mkdir_p(const char *path, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    snprintf(err, errlen, "data directory path too long");
    return TSDB_EINVAL;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0750) && errno != EEXIST) return mkdir_error(buf, err, errlen);
    *p = '/';
  }
  if (mkdir(buf, 0750) && errno != EEXIST) return mkdir_error(buf, err, errlen);
  return 0;
}

static rocksdb_options_t *make_cf_options(tsdb_store *st, tsdb_cf_id cf) {
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_block_based_table_factory(o, st->table_opts);
  /* zstd everywhere: sensor data is cold after a day, and these blocks are
   * already compact, so the extra CPU of zstd over lz4 buys real bytes. */
  rocksdb_options_set_compression(o, rocksdb_zstd_compression);
  rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
  rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
  if (cf == TSDB_CF_RAW) {
    rocksdb_mergeoperator_t *m = rocksdb_mergeoperator_create(
        st, raw_merge_destroy, raw_full_merge, raw_partial_merge, raw_delete_value, raw_merge_name);
    /* The options take ownership (a shared_ptr inside RocksDB). */
    rocksdb_options_set_merge_operator(o, m);
    /* No inline merges (max_successive_merges stays 0): one would re-encode
     * the series' whole day block at write time every N operands, and
     * counting a key's operands on every insert cost a quarter of the
     * writer's CPU at 20 000 msg/s (perf, bench/loadgen). Readers fold the
     * memtable's operands with the FAST effort; flushes fold them for good. */
  }
  if (cf == TSDB_CF_AGG) {
    rocksdb_mergeoperator_t *m = rocksdb_mergeoperator_create(
        st, raw_merge_destroy, agg_full_merge, agg_partial_merge, raw_delete_value, agg_merge_name);
    rocksdb_options_set_merge_operator(o, m);
    /* No inline merges either: at a city's shape every series closes a
     * 1-minute bucket a minute, each one operand on the same block key, and
     * counting the key's operands on every insert (and folding them every
     * 64th) cost 15 % of the writer's CPU at 10 000 series (engine_bench
     * --only day). Flushes and compactions fold them. */
  }
  if (st->expired && (cf == TSDB_CF_RAW || cf == TSDB_CF_AGG || cf == TSDB_CF_ARCHIVE)) {
    /* Retention runs inside compactions, never on the write path. The
     * filter is not owned by the options: freed after the DB closes. */
    st->filter_ctx[cf] = (filter_ctx){st, cf};
    st->filters[cf] = rocksdb_compactionfilter_create(&st->filter_ctx[cf], filter_destroy,
                                                      retention_filter, filter_name);
    rocksdb_options_set_compaction_filter(o, st->filters[cf]);
  }
  return o;
}

/* RocksDB's WALRecoveryMode values (include/rocksdb/options.h). */
enum { WAL_ABSOLUTE_CONSISTENCY = 1, WAL_POINT_IN_TIME = 2 };

static rocksdb_t *open_db(tsdb_store *st, const char *path, int wal_mode, char **errptr) {
  rocksdb_options_set_wal_recovery_mode(st->db_opts, wal_mode);
  const rocksdb_options_t *cf_opts[TSDB_CF_COUNT];
  for (int i = 0; i < TSDB_CF_COUNT; i++) cf_opts[i] = st->cf_opts[i];
  pthread_mutex_lock(&st->info.lock);
  st->info.drops[0] = '\0';
  st->info.opening = true;
  pthread_mutex_unlock(&st->info.lock);
  rocksdb_t *db = rocksdb_open_column_families(st->db_opts, path, TSDB_CF_COUNT, cf_names, cf_opts,
                                               st->cf, errptr);
  pthread_mutex_lock(&st->info.lock);
  st->info.opening = false;
  pthread_mutex_unlock(&st->info.lock);
  return db;
}

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (out < 0) {
    close(in);
    return -1;
  }
  char buf[65536];
  ssize_t n;
  int rc = 0;
  while (rc == 0 && (n = read(in, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno != EINTR) rc = -1;
      continue;
    }
    for (ssize_t off = 0; rc == 0 && off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno != EINTR) rc = -1;
      if (w > 0) off += w;
    }
  }
  if (rc == 0 && fsync(out) != 0) rc = -1;
  int saved = errno;
  close(in);
  close(out);
  errno = saved;
  return rc;
}

/* Copies the write-ahead log files (NNNNNN.log) into a new directory
 * <path>/wal-damaged-<UTC time>: a point-in-time recovery then drops the
 * damaged part for good, so the evidence is kept first. */
static int save_wal_files(const char *path, char *saved, size_t savedlen, char *why,
                          size_t whylen) {
  char stamp[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  if (snprintf(saved, savedlen, "%s/wal-damaged-%s", path, stamp) >= (int)savedlen) {
    snprintf(why, whylen, "path too long");
    return -1;
  }
  if (mkdir(saved, 0750) != 0 && errno != EEXIST) {
    snprintf(why, whylen, "cannot create '%s': %s", saved, strerror(errno));
    return -1;
  }
  DIR *d = opendir(path);
  if (!d) {
    snprintf(why, whylen, "cannot list '%s': %s", path, strerror(errno));
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n <= 4 || strcmp(e->d_name + n - 4, ".log")) continue;
    char from[PATH_MAX], to[PATH_MAX];
    if (snprintf(from, sizeof from, "%s/%s", path, e->d_name) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/%s", saved, e->d_name) >= (int)sizeof to) {
      snprintf(why, whylen, "path too long");
      rc = -1;
    } else if (copy_file(from, to) != 0) {
      snprintf(why, whylen, "cannot copy '%s': %s", from, strerror(errno));
      rc = -1;
    }
  }
  closedir(d);
  return rc;
}

/*
 * Opens the database, first with RocksDB's strictest WAL recovery
 * (kAbsoluteConsistency: any damaged or incomplete record fails the open).
 * Its default, point-in-time recovery, replays the log up to the first bad
 * record and drops the rest without a word to the application: a log
 * replaced by 4 KiB of garbage started an empty database with no warning
 * (issue 12). So a damage is always reported, with what RocksDB says it
 * dropped (file, bytes, reason), and then either refused (TSDB_WAL_STRICT)
 * or recovered up to the damage after a copy of the log files is saved.
 */
static int open_with_wal_policy(tsdb_store *st, const char *path, int policy, char *err,
                                size_t errlen) {
  char *errptr = NULL;
  st->db = open_db(st, path, WAL_ABSOLUTE_CONSISTENCY, &errptr);
  if (st->db) return 0;
  char drops[sizeof st->info.drops];
  pthread_mutex_lock(&st->info.lock);
  snprintf(drops, sizeof drops, "%s", st->info.drops);
  pthread_mutex_unlock(&st->info.lock);
  bool wal_damage = strstr(errptr, "Corruption") && drops[0];
  if (!wal_damage) {
    snprintf(err, errlen, "cannot open RocksDB at '%s': %s", path, errptr);
    int rc = tsdb_store__error_kind(errptr);
    rocksdb_free(errptr);
    return rc;
  }
  rocksdb_free(errptr);
  errptr = NULL;
  if (policy == TSDB_WAL_STRICT) {
    snprintf(err, errlen,
             "the write-ahead log in '%s' is damaged (%s); starting would drop the damaged "
             "records and every later one. To start anyway, keeping everything before the "
             "damage, set plugin_opt_wal_recovery point_in_time (a copy of the log files is "
             "kept in the data directory)",
             path, drops);
    return TSDB_ECORRUPT;
  }
  char saved[PATH_MAX], why[PATH_MAX + 128];
  bool kept = save_wal_files(path, saved, sizeof saved, why, sizeof why) == 0;
  st->db = open_db(st, path, WAL_POINT_IN_TIME, &errptr);
  if (!st->db) {
    snprintf(err, errlen, "cannot open RocksDB at '%s' (its write-ahead log is damaged: %s): %s",
             path, drops, errptr);
    rocksdb_free(errptr);
    return TSDB_ECORRUPT;
  }
  st->wal_damaged = true;
  if (kept)
    tsdb_log__printf(st->log, TSDB_LOG_ERROR,
                     "write-ahead log damaged, recovered up to the damage: %s. Every write "
                     "logged after the damage is lost. The damaged log files were copied to %s",
                     drops, saved);
  else
    tsdb_log__printf(st->log, TSDB_LOG_ERROR,
                     "write-ahead log damaged, recovered up to the damage: %s. Every write "
                     "logged after the damage is lost. No copy of the damaged log files could "
                     "be kept (%s)",
                     drops, why);
  return 0;
}

int tsdb_store__open(const char *path, const tsdb_store_options *opts, tsdb_store **out, char *err,
                     size_t errlen) {
  *out = NULL;
  int rc = mkdir_p(path, err, errlen);
  if (rc) return rc;
  tsdb_store *st = calloc(1, sizeof *st);
  if (!st) return TSDB_ENOMEM;
  st->log = opts->log;
  st->expired = opts->expired;
  st->expired_ud = opts->expired_ud;
  st->path = strdup(path);
  pthread_mutex_init(&st->error_lock, NULL);
  tsdb_ratelimit__init(&st->errors, 10000, 3);
  pthread_mutex_init(&st->info.lock, NULL);
  tsdb_ratelimit__init(&st->info.forward, 60000, 20);
  size_t plen = strlen(path);
  st->info.path = malloc(plen + 5);
  st->info.old_path = malloc(plen + 9);
  if (!st->path || !st->info.path || !st->info.old_path) {
    tsdb_store__close(st);
    return TSDB_ENOMEM;
  }
  snprintf(st->info.path, plen + 5, "%s/LOG", path);
  snprintf(st->info.old_path, plen + 9, "%s/LOG.old", path);
  info_log_open_file(&st->info);
  st->cache = rocksdb_cache_create_lru((size_t)(opts->cache_mb ? opts->cache_mb : 64) << 20);
  /* A quarter more for decoded aggregate blocks; without it (no memory)
   * reads decode every time. */
  st->aggcache = tsdb_aggcache__new((size_t)(opts->cache_mb ? opts->cache_mb : 64) << 18);
  st->table_opts = rocksdb_block_based_options_create();
  rocksdb_block_based_options_set_block_cache(st->table_opts, st->cache);
  rocksdb_block_based_options_set_block_size(st->table_opts, 16 * 1024);
  rocksdb_block_based_options_set_cache_index_and_filter_blocks(st->table_opts, 1);
  rocksdb_block_based_options_set_format_version(st->table_opts, 5);

  st->db_opts = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(st->db_opts, 1);
  rocksdb_options_set_create_missing_column_families(st->db_opts, 1);
  rocksdb_options_increase_parallelism(st->db_opts, 2);
  rocksdb_options_set_max_background_jobs(st->db_opts, 2);
  rocksdb_options_set_max_total_wal_size(st->db_opts, 256ull << 20);
  if (tsdb_rocks__set_logger(st->db_opts, TSDB_ROCKS_INFO, info_log_line, st) != 0 ||
      tsdb_rocks__manual_recovery(st->db_opts) != 0) {
    tsdb_store__close(st);
    return TSDB_ENOMEM;
  }

  for (int i = 0; i < TSDB_CF_COUNT; i++) st->cf_opts[i] = make_cf_options(st, (tsdb_cf_id)i);
  st->wo_async = rocksdb_writeoptions_create();
  st->wo_sync = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(st->wo_sync, 1);
  st->ro_latest = rocksdb_readoptions_create();

  rc = open_with_wal_policy(st, path, opts->wal_recovery, err, errlen);
  if (rc) {
    tsdb_store__close(st);
    return rc;
  }

  /* On-disk format: refuse to open data written in a format we do not know. */
  char *errptr = NULL;
  size_t vlen = 0;
  char *version =
      rocksdb_get_cf(st->db, st->ro_latest, st->cf[TSDB_CF_DEFAULT], "format", 6, &vlen, &errptr);
  if (errptr) {
    snprintf(err, errlen, "cannot read the format version: %s", errptr);
    rc = tsdb_store__error_kind(errptr);
    rocksdb_free(errptr);
    tsdb_store__close(st);
    return rc;
  }
  if (!version) {
    rocksdb_put_cf(st->db, st->wo_sync, st->cf[TSDB_CF_DEFAULT], "format", 6, TSDB_FORMAT_VERSION,
                   strlen(TSDB_FORMAT_VERSION), &errptr);
    if (errptr) {
      snprintf(err, errlen, "cannot write the format version: %s", errptr);
      rc = tsdb_store__error_kind(errptr);
      rocksdb_free(errptr);
      tsdb_store__close(st);
      return rc;
    }
  } else {
    bool ok = vlen == strlen(TSDB_FORMAT_VERSION) && !memcmp(version, TSDB_FORMAT_VERSION, vlen);
    if (!ok) {
      snprintf(err, errlen, "data in '%s' has on-disk format '%.*s'; this build reads '%s'", path,
               (int)(vlen > 16 ? 16 : vlen), version, TSDB_FORMAT_VERSION);
      rocksdb_free(version);
      tsdb_store__close(st);
      return TSDB_EVERSION;
    }
    rocksdb_free(version);
  }
  *out = st;
  return 0;
}

int tsdb_store__resume(tsdb_store *st, char *why, size_t whylen) {
  char *errptr = tsdb_rocks__resume(st->db);
  if (!errptr) return 0;
  snprintf(why, whylen, "%s", errptr);
  int rc = tsdb_store__error_kind(errptr);
  rocksdb_free(errptr);
  return rc;
}

bool tsdb_store__wal_damaged(const tsdb_store *st) { return st->wal_damaged; }

void tsdb_store__close(tsdb_store *st) {
  if (!st) return;
  if (st->db) {
    for (int i = 0; i < TSDB_CF_COUNT; i++)
      if (st->cf[i]) rocksdb_column_family_handle_destroy(st->cf[i]);
    rocksdb_close(st->db);
  }
  for (int i = 0; i < TSDB_CF_COUNT; i++)
    if (st->cf_opts[i]) rocksdb_options_destroy(st->cf_opts[i]);
  for (int i = 0; i < TSDB_CF_COUNT; i++)
    if (st->filters[i]) rocksdb_compactionfilter_destroy(st->filters[i]);
  /* The options own the info logger: nothing logs after this. */
  if (st->db_opts) rocksdb_options_destroy(st->db_opts);
  if (st->table_opts) rocksdb_block_based_options_destroy(st->table_opts);
  if (st->cache) rocksdb_cache_destroy(st->cache);
  tsdb_aggcache__free(st->aggcache);
  if (st->wo_async) rocksdb_writeoptions_destroy(st->wo_async);
  if (st->wo_sync) rocksdb_writeoptions_destroy(st->wo_sync);
  if (st->ro_latest) rocksdb_readoptions_destroy(st->ro_latest);
  if (st->info.file) fclose(st->info.file);
  free(st->info.path);
  free(st->info.old_path);
  pthread_mutex_destroy(&st->info.lock);
  tsdb_ratelimit__destroy(&st->info.forward);
  pthread_mutex_destroy(&st->error_lock);
  tsdb_ratelimit__destroy(&st->errors);
  free(st->path);
  free(st);
}

/* ---- writes ---- */

tsdb_wbatch *tsdb_store__batch_new(void) {
  tsdb_wbatch *b = malloc(sizeof *b);
  if (!b) return NULL;
  b->wb = rocksdb_writebatch_create();
  return b;
}

void tsdb_store__batch_free(tsdb_wbatch *b) {
  if (!b) return;
  rocksdb_writebatch_destroy(b->wb);
  free(b);
}

/* Clearing keeps the batch's buffer; one that grew past this (a burst, a
 * catch-up) is given back rather than held for the life of the writer. */
#define BATCH_KEEP_BYTES (4u << 20)

void tsdb_store__batch_clear(tsdb_wbatch *b) {
  size_t size = 0;
  rocksdb_writebatch_data(b->wb, &size);
  if (size > BATCH_KEEP_BYTES) {
    rocksdb_writebatch_t *fresh = rocksdb_writebatch_create();
    if (fresh) {
      rocksdb_writebatch_destroy(b->wb);
      b->wb = fresh;
      return;
    }
  }
  rocksdb_writebatch_clear(b->wb);
}
int tsdb_store__batch_count(const tsdb_wbatch *b) {
  return rocksdb_writebatch_count((rocksdb_writebatch_t *)b->wb);
}

void tsdb_store__batch_raw_merge(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                 int64_t block_start, const uint8_t *block, size_t len) {
  uint8_t key[TSDB_RAW_KEY_LEN];
  tsdb_key__raw(key, series, block_start);
  rocksdb_writebatch_merge_cf(b->wb, st->cf[TSDB_CF_RAW], (const char *)key, sizeof key,
                              (const char *)block, len);
}

void tsdb_store__batch_agg_merge(tsdb_store *st, tsdb_wbatch *b, uint32_t series, uint32_t tier_s,
                                 int64_t block_start, const uint8_t *block, size_t len) {
  uint8_t key[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(key, series, tier_s, block_start);
  rocksdb_writebatch_merge_cf(b->wb, st->cf[TSDB_CF_AGG], (const char *)key, sizeof key,
                              (const char *)block, len);
}

void tsdb_store__batch_tier_delete(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                   uint32_t tier_s) {
  uint8_t lo[TSDB_AGG_KEY_LEN], hi[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(lo, series, tier_s, INT64_MIN);
  tsdb_key__agg(hi, series, tier_s, INT64_MAX);
  /* No block starts at INT64_MAX, so the exclusive end leaves nothing behind. */
  rocksdb_writebatch_delete_range_cf(b->wb, st->cf[TSDB_CF_AGG], (const char *)lo, sizeof lo,
                                     (const char *)hi, sizeof hi);
  rocksdb_writebatch_delete_range_cf(b->wb, st->cf[TSDB_CF_PENDING], (const char *)lo, sizeof lo,
                                     (const char *)hi, sizeof hi);
}

void tsdb_store__batch_pending_put(tsdb_store *st, tsdb_wbatch *b, uint32_t series, uint32_t tier_s,
                                   int64_t bucket) {
  uint8_t key[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(key, series, tier_s, bucket);
  rocksdb_writebatch_put_cf(b->wb, st->cf[TSDB_CF_PENDING], (const char *)key, sizeof key, "p", 1);
}

void tsdb_store__batch_pending_delete(tsdb_store *st, tsdb_wbatch *b, uint32_t series,
                                      uint32_t tier_s, int64_t bucket) {
  uint8_t key[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(key, series, tier_s, bucket);
  rocksdb_writebatch_delete_cf(b->wb, st->cf[TSDB_CF_PENDING], (const char *)key, sizeof key);
}

void tsdb_store__batch_archive_put(tsdb_store *st, tsdb_wbatch *b, int64_t arrival,
                                   uint32_t session, uint32_t seq, const char *topic,
                                   size_t topic_len, const void *payload, size_t len) {
  uint8_t key[TSDB_ARCHIVE_KEY_LEN];
  tsdb_key__archive(key, arrival, session, seq);
  /* Value: u16 topic length, topic, payload, given to RocksDB as slices. */
  uint8_t tl[2] = {(uint8_t)(topic_len >> 8), (uint8_t)topic_len};
  const char *parts[3] = {(const char *)tl, topic, payload ? (const char *)payload : ""};
  size_t lens[3] = {2, topic_len, len};
  const char *kparts[1] = {(const char *)key};
  size_t klens[1] = {sizeof key};
  rocksdb_writebatch_putv_cf(b->wb, st->cf[TSDB_CF_ARCHIVE], 1, kparts, klens, 3, parts, lens);
}

int tsdb_store__archive_delete_before(tsdb_store *st, int64_t before) {
  uint8_t lo[8], hi[8];
  tsdb_key__put_ts(lo, INT64_MIN);
  tsdb_key__put_ts(hi, before);
  char *errptr = NULL;
  rocksdb_delete_range_cf(st->db, st->wo_async, st->cf[TSDB_CF_ARCHIVE], (const char *)lo,
                          sizeof lo, (const char *)hi, sizeof hi, &errptr);
  int rc = take_error(st, errptr, "archive_delete_range");
  if (rc == 0)
    rocksdb_compact_range_cf(st->db, st->cf[TSDB_CF_ARCHIVE], (const char *)lo, sizeof lo,
                             (const char *)hi, sizeof hi);
  return rc;
}

void tsdb_store__batch_catalog_put(tsdb_store *st, tsdb_wbatch *b, const void *key, size_t klen,
                                   const void *value, size_t vlen) {
  rocksdb_writebatch_put_cf(b->wb, st->cf[TSDB_CF_CATALOG], key, klen, value, vlen);
}

int tsdb_store__write(tsdb_store *st, tsdb_wbatch *b, bool sync) {
  char *errptr = NULL;
  rocksdb_write(st->db, sync ? st->wo_sync : st->wo_async, b->wb, &errptr);
  return take_error(st, errptr, "write");
}

/* ---- reads ---- */

tsdb_snap *tsdb_store__snapshot(tsdb_store *st) {
  tsdb_snap *s = malloc(sizeof *s);
  if (!s) return NULL;
  s->snap = rocksdb_create_snapshot(st->db);
  return s;
}

void tsdb_store__snapshot_release(tsdb_store *st, tsdb_snap *snap) {
  if (!snap) return;
  rocksdb_release_snapshot(st->db, snap->snap);
  free(snap);
}

int tsdb_store__iter_open(tsdb_store *st, const tsdb_snap *snap, tsdb_cf_id cf, const void *lower,
                          size_t lower_len, const void *upper, size_t upper_len,
                          tsdb_store_iter **out) {
  *out = NULL;
  tsdb_store_iter *it = calloc(1, sizeof *it);
  if (!it) return TSDB_ENOMEM;
  it->st = st;
  it->ro = rocksdb_readoptions_create();
  if (snap) rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
  if (lower) {
    it->lower = malloc(lower_len ? lower_len : 1);
    if (!it->lower) goto nomem;
    memcpy(it->lower, lower, lower_len);
    rocksdb_readoptions_set_iterate_lower_bound(it->ro, (const char *)it->lower, lower_len);
  }
  if (upper) {
    it->upper = malloc(upper_len ? upper_len : 1);
    if (!it->upper) goto nomem;
    memcpy(it->upper, upper, upper_len);
    rocksdb_readoptions_set_iterate_upper_bound(it->ro, (const char *)it->upper, upper_len);
  }
  it->it = rocksdb_create_iterator_cf(st->db, it->ro, st->cf[cf]);
  if (lower)
    READ(rocksdb_iter_seek(it->it, (const char *)it->lower, lower_len));
  else
    READ(rocksdb_iter_seek_to_first(it->it));
  *out = it;
  return 0;
nomem:
  tsdb_store__iter_close(it);
  return TSDB_ENOMEM;
}

bool tsdb_store__iter_valid(const tsdb_store_iter *it) { return rocksdb_iter_valid(it->it) != 0; }
void tsdb_store__iter_next(tsdb_store_iter *it) { READ(rocksdb_iter_next(it->it)); }
void tsdb_store__iter_seek_last(tsdb_store_iter *it) { READ(rocksdb_iter_seek_to_last(it->it)); }
void tsdb_store__iter_prev(tsdb_store_iter *it) { READ(rocksdb_iter_prev(it->it)); }

const uint8_t *tsdb_store__iter_key(const tsdb_store_iter *it, size_t *len) {
  return (const uint8_t *)rocksdb_iter_key(it->it, len);
}

const uint8_t *tsdb_store__iter_value(const tsdb_store_iter *it, size_t *len) {
  return (const uint8_t *)rocksdb_iter_value(it->it, len);
}

int tsdb_store__iter_status(tsdb_store_iter *it) {
  char *errptr = NULL;
  rocksdb_iter_get_error(it->it, &errptr);
  return take_error(it->st, errptr, "iterate");
}

void tsdb_store__iter_close(tsdb_store_iter *it) {
  if (!it) return;
  if (it->it) rocksdb_iter_destroy(it->it);
  if (it->ro) rocksdb_readoptions_destroy(it->ro);
  free(it->lower);
  free(it->upper);
  free(it);
}

int tsdb_store__iter_raw(tsdb_store *st, const tsdb_snap *snap, uint32_t series, int64_t from_block,
                         int64_t to, tsdb_store_iter **out) {
  uint8_t lower[TSDB_RAW_KEY_LEN], upper[TSDB_RAW_KEY_LEN];
  tsdb_key__raw(lower, series, from_block);
  tsdb_key__raw(upper, series, to);
  return tsdb_store__iter_open(st, snap, TSDB_CF_RAW, lower, sizeof lower, upper, sizeof upper,
                               out);
}

int tsdb_store__iter_tier(tsdb_store *st, const tsdb_snap *snap, tsdb_cf_id cf, uint32_t series,
                          uint32_t tier_s, int64_t from, int64_t to, tsdb_store_iter **out) {
  uint8_t lower[TSDB_AGG_KEY_LEN], upper[TSDB_AGG_KEY_LEN];
  tsdb_key__agg(lower, series, tier_s, from);
  tsdb_key__agg(upper, series, tier_s, to);
  return tsdb_store__iter_open(st, snap, cf, lower, sizeof lower, upper, sizeof upper, out);
}

int tsdb_store__raw_max_ts(tsdb_store *st, uint32_t series, int64_t *max_ts) {
  *max_ts = INT64_MIN;
  uint8_t lower[TSDB_RAW_KEY_LEN], upper[4];
  tsdb_key__raw(lower, series, INT64_MIN);
  /* Upper bound: the first key of the next series. */
  tsdb_key__put_u32(upper, series + 1);
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lower, sizeof lower);
  if (series != UINT32_MAX)
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)upper, sizeof upper);
  rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, ro, st->cf[TSDB_CF_RAW]);
  READ(rocksdb_iter_seek_to_last(it));
  int rc = 0;
  if (rocksdb_iter_valid(it)) {
    size_t vlen;
    const char *v = rocksdb_iter_value(it, &vlen);
    tsdb_block_info info;
    if (tsdb_codec__info((const uint8_t *)v, vlen, &info) == 0)
      *max_ts = info.max_ts;
    else
      rc = TSDB_ECORRUPT;
  }
  char *errptr = NULL;
  rocksdb_iter_get_error(it, &errptr);
  if (errptr) rc = take_error(st, errptr, "raw_max_ts");
  rocksdb_iter_destroy(it);
  rocksdb_readoptions_destroy(ro);
  return rc;
}

void tsdb_agg_block__free(tsdb_agg_block *b) {
  free(b->starts);
  free(b->aggs);
  *b = (tsdb_agg_block){0};
}

int tsdb_store__agg_block_get(tsdb_store *st, const tsdb_snap *snap, uint32_t series,
                              uint32_t tier_s, int64_t bucket, tsdb_agg_block *out) {
  uint8_t key[TSDB_AGG_KEY_LEN];
  int64_t span = tsdb_aggblock__span((int64_t)tier_s * 1000);
  int64_t block = bucket - ((bucket % span) + span) % span;
  tsdb_key__agg(key, series, tier_s, block);
  out->n = 0;
  rocksdb_readoptions_t *ro = st->ro_latest;
  rocksdb_readoptions_t *own = NULL;
  if (snap) {
    own = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(own, snap->snap);
    ro = own;
  }
  char *errptr = NULL;
  size_t vlen = 0;
  reading++;
  char *v = rocksdb_get_cf(st->db, ro, st->cf[TSDB_CF_AGG], (const char *)key, sizeof key, &vlen,
                           &errptr);
  reading--;
  if (own) rocksdb_readoptions_destroy(own);
  if (errptr) return take_error(st, errptr, "agg_get");
  if (!v) return 0;
  size_t n = 0;
  int rc = tsdb_aggblock__count((const uint8_t *)v, vlen, &n);
  if (rc == 0 && n > out->cap) {
    size_t cap = n;
    int64_t *starts = realloc(out->starts, cap * sizeof *starts);
    if (starts) out->starts = starts;
    tsdb_agg *aggs = starts ? realloc(out->aggs, cap * sizeof *aggs) : NULL;
    if (aggs) out->aggs = aggs;
    if (starts && aggs)
      out->cap = cap;
    else
      rc = TSDB_ENOMEM;
  }
  if (rc == 0 && n)
    rc = tsdb_aggblock__decode((const uint8_t *)v, vlen, out->starts, out->aggs, n, &n);
  out->n = rc == 0 ? n : 0;
  rocksdb_free(v);
  return rc;
}

int tsdb_store__agg_get(tsdb_store *st, const tsdb_snap *snap, uint32_t series, uint32_t tier_s,
                        int64_t bucket, tsdb_agg *agg, bool *found) {
  tsdb_agg_block b = {0};
  tsdb_agg__init(agg);
  *found = false;
  int rc = tsdb_store__agg_block_get(st, snap, series, tier_s, bucket, &b);
  for (size_t i = 0; rc == 0 && i < b.n; i++) {
    if (b.starts[i] == bucket && b.aggs[i].count > 0) {
      *agg = b.aggs[i];
      *found = true;
    }
  }
  tsdb_agg_block__free(&b);
  return rc;
}

tsdb_aggcache *tsdb_store__aggcache(tsdb_store *st) { return st->aggcache; }

uint64_t tsdb_store__merge_corrupt_inputs(const tsdb_store *st) {
  return atomic_load(&((tsdb_store *)st)->merge_corrupt_inputs);
}

uint64_t tsdb_store__cf_sst_bytes(tsdb_store *st, tsdb_cf_id cf) {
  char *v = rocksdb_property_value_cf(st->db, st->cf[cf], "rocksdb.total-sst-files-size");
  uint64_t n = v ? strtoull(v, NULL, 10) : 0;
  rocksdb_free(v);
  return n;
}

static uint64_t cf_property(tsdb_store *st, int cf, const char *name) {
  uint64_t n = 0;
  return rocksdb_property_int_cf(st->db, st->cf[cf], name, &n) == 0 ? n : 0;
}

void tsdb_store__memory(tsdb_store *st, uint64_t *memtables, uint64_t *block_cache,
                        uint64_t *table_readers) {
  *memtables = *table_readers = 0;
  for (int cf = 0; cf < TSDB_CF_COUNT; cf++) {
    *memtables += cf_property(st, cf, "rocksdb.size-all-mem-tables");
    *table_readers += cf_property(st, cf, "rocksdb.estimate-table-readers-mem");
  }
  *block_cache = rocksdb_cache_get_usage(st->cache);
}

static uint64_t dir_bytes_ext(const char *path, const char *ext) {
  uint64_t total = 0;
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  size_t elen = strlen(ext);
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n <= elen || strcmp(e->d_name + n - elen, ext)) continue;
    char file[PATH_MAX];
    struct stat stt;
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    if (stat(file, &stt) == 0) total += (uint64_t)stt.st_size;
  }
  closedir(d);
  return total;
}

uint64_t tsdb_store__wal_bytes(tsdb_store *st) { return dir_bytes_ext(st->path, ".log"); }

static uint64_t dir_bytes(const char *path) {
  uint64_t total = 0;
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    bool counted = (n > 4 && !strcmp(e->d_name + n - 4, ".sst")) ||
                   (n > 4 && !strcmp(e->d_name + n - 4, ".log"));
    if (!counted) continue;
    char file[PATH_MAX];
    struct stat stt;
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    if (stat(file, &stt) == 0) total += (uint64_t)stt.st_size;
  }
  closedir(d);
  return total;
}

uint64_t tsdb_store__disk_bytes(tsdb_store *st) { return dir_bytes(st->path); }

int tsdb_store__compact(tsdb_store *st) {
  rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
  rocksdb_flushoptions_set_wait(fo, 1);
  int rc = 0;
  for (int i = 0; i < TSDB_CF_COUNT; i++) {
    char *errptr = NULL;
    rocksdb_flush_cf(st->db, fo, st->cf[i], &errptr);
    int frc = take_error(st, errptr, "flush");
    if (rc == 0) rc = frc;
    rocksdb_compact_range_cf(st->db, st->cf[i], NULL, 0, NULL, 0);
  }
  rocksdb_flushoptions_destroy(fo);
  return rc;
}

void tsdb_store__compact_range(tsdb_store *st, tsdb_cf_id cf, const void *lower, size_t lower_len,
                               const void *upper, size_t upper_len) {
  rocksdb_compact_range_cf(st->db, st->cf[cf], lower, lower_len, upper, upper_len);
}

void tsdb_store__disk_usage(tsdb_store *st, tsdb_disk_usage *out) {
  out->raw = tsdb_store__cf_sst_bytes(st, TSDB_CF_RAW);
  out->agg = tsdb_store__cf_sst_bytes(st, TSDB_CF_AGG);
  out->other = tsdb_store__cf_sst_bytes(st, TSDB_CF_DEFAULT) +
               tsdb_store__cf_sst_bytes(st, TSDB_CF_CATALOG) +
               tsdb_store__cf_sst_bytes(st, TSDB_CF_PENDING);
  out->wal = tsdb_store__wal_bytes(st);
}
