/*
 * $CONTROL/tsdb/v1: command requests in the dynamic-security plugin's JSON
 * convention, run on control threads, answered through the result queue.
 *
 * DESIGN
 * Ownership
 *   - tsdb_control__submit() (the broker thread) copies the client id and the
 *     request bytes into a job; it never parses and never touches RocksDB.
 *   - Control threads own a job from dequeue to free: they parse the JSON,
 *     run each command on its own RocksDB snapshot, build the answer and
 *     queue it as a result. They read the catalog under its read lock.
 * Answers and ACLs
 *   - Each command gets its own {"responses":[...]} publication on
 *     $tsdb/reply/<client id>/<data topic> (or $tsdb/reply/<client id> when
 *     it names no valid data topic), published with no target client: the
 *     broker then applies each subscriber's read ACL, so a client can only
 *     receive answers about topics its ACL lets it read (README: ACLs).
 *   - A client id containing '/', '+' or '#' would break that scoping (client
 *     "a/b" could read replies meant for client "a"), so such requests are
 *     refused and logged, never answered.
 * Ordering
 *   - Read your writes: a request is run only after the writer has stored
 *     every message accepted before the request arrived.
 *   - With one control thread (the default) answers leave in request order.
 *     With more, answers to different requests may interleave; a request's
 *     commands are always answered in order.
 * Full queue
 *   - When max_pending_commands requests wait, a new request is answered at
 *     once with a "busy" error for its first command; nothing blocks.
 * Shutdown order
 *   - stop() sets the flag and wakes every thread; each finishes the command
 *     in hand and exits; remaining jobs are freed unanswered; then join.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "read.h"
#include "strbuf.h"
#include "timeutil.h"
#include "tsdb/topic.h"

typedef struct job {
  struct job *next;
  uint64_t seq; /* ingest messages accepted before this request */
  char *client_id;
  char *payload;
  size_t len;
} job;

struct tsdb_control {
  tsdb_db *db;
  pthread_t *threads;
  size_t nthreads;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  job *head, *tail;
  size_t pending;
  bool stop;
};

/* One command's context while it runs. */
typedef struct cmd_ctx {
  tsdb_db *db;
  const char *client_id;
  const cJSON *cmd;
  tsdb_strbuf *out;      /* the response object's members after "command" */
  char data_topic[512];  /* where the answer goes ("" = none) */
  char error[384];       /* set => error response */
  tsdb_scan_buf scan;
} cmd_ctx;

#define CMD_ERROR(ctx, ...) snprintf((ctx)->error, sizeof (ctx)->error, __VA_ARGS__)

/* ---- argument helpers ---- */

static const cJSON *arg(const cmd_ctx *c, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(c->cmd, name);
}

static const char *arg_string(cmd_ctx *c, const char *name, bool required) {
  const cJSON *v = arg(c, name);
  if (!v) {
    if (required) CMD_ERROR(c, "missing argument '%s'", name);
    return NULL;
  }
  if (!cJSON_IsString(v) || !v->valuestring) {
    CMD_ERROR(c, "argument '%s' must be a string", name);
    return NULL;
  }
  return v->valuestring;
}

/*
 * A time argument: an integer (ms since the epoch), "now", or "-<duration>"
 * relative to now ("-1h"). Returns false (with an error) when malformed.
 */
static bool arg_time(cmd_ctx *c, const char *name, int64_t dflt, int64_t now, int64_t *out) {
  const cJSON *v = arg(c, name);
  if (!v) {
    *out = dflt;
    return true;
  }
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) {
      CMD_ERROR(c, "argument '%s' must be an integer number of milliseconds since the epoch",
                name);
      return false;
    }
    *out = (int64_t)d;
    return true;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    int64_t ms;
    if (!strcmp(s, "now")) {
      *out = now;
      return true;
    }
    if (s[0] == '-' && tsdb_duration_parse(s + 1, &ms) == 0) {
      *out = now - ms;
      return true;
    }
  }
  CMD_ERROR(c, "argument '%s' must be milliseconds since the epoch, \"now\" or \"-<duration>\" "
               "such as \"-1h\"",
            name);
  return false;
}

/* ---- query ---- */

typedef struct rows_ctx {
  tsdb_strbuf *sb;
  uint32_t limit;
  uint32_t n;
  int64_t next; /* the first row not returned, when limited */
  bool limited;
} rows_ctx;

#define ROWS_FULL 1

static int raw_row(void *ud, int64_t ts, double v) {
  rows_ctx *r = ud;
  if (r->n == r->limit) {
    r->next = ts;
    r->limited = true;
    return ROWS_FULL;
  }
  if (r->n) tsdb_strbuf__putc(r->sb, ',');
  tsdb_strbuf__putc(r->sb, '[');
  tsdb_strbuf__json_int(r->sb, ts);
  tsdb_strbuf__putc(r->sb, ',');
  tsdb_strbuf__json_double(r->sb, v);
  tsdb_strbuf__putc(r->sb, ']');
  r->n++;
  return 0;
}

static int bucket_row(void *ud, int64_t start, const tsdb_agg *agg) {
  rows_ctx *r = ud;
  if (r->n == r->limit) {
    r->next = start;
    r->limited = true;
    return ROWS_FULL;
  }
  tsdb_aggregate a;
  tsdb_agg__view(agg, start, &a);
  if (r->n) tsdb_strbuf__putc(r->sb, ',');
  tsdb_strbuf__putc(r->sb, '[');
  tsdb_strbuf__json_int(r->sb, start);
  tsdb_strbuf__putc(r->sb, ',');
  tsdb_strbuf__json_int(r->sb, (int64_t)a.count);
  const double vals[] = {a.min, a.max, a.mean, a.sum, a.first, a.last, a.stddev};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    tsdb_strbuf__putc(r->sb, ',');
    tsdb_strbuf__json_double(r->sb, vals[i]);
  }
  tsdb_strbuf__putc(r->sb, ']');
  r->n++;
  return 0;
}

static void cmd_query(cmd_ctx *c) {
  tsdb_db *db = c->db;
  const char *topic = arg_string(c, "topic", true);
  if (!topic) return;
  if (!tsdb_topic_name_valid(topic, strlen(topic))) {
    CMD_ERROR(c, "argument 'topic' must be a topic name without wildcards");
    return;
  }
  snprintf(c->data_topic, sizeof c->data_topic, "%s", topic);
  const char *field = arg_string(c, "field", true);
  if (!field) return;
  const char *tier_text = arg_string(c, "tier", false);
  if (c->error[0]) return;
  int64_t now = tsdb_db__now(db), from, to;
  if (!arg_time(c, "from", now - 3600000, now, &from) || !arg_time(c, "to", now, now, &to))
    return;
  if (from > to) {
    CMD_ERROR(c, "'from' (%" PRId64 ") is after 'to' (%" PRId64 ")", from, to);
    return;
  }
  uint32_t limit = db->opts.max_answer_rows;
  const cJSON *lim = arg(c, "limit");
  if (lim) {
    if (!cJSON_IsNumber(lim) || lim->valuedouble < 1 || lim->valuedouble != floor(lim->valuedouble)) {
      CMD_ERROR(c, "argument 'limit' must be a positive integer");
      return;
    }
    if (lim->valuedouble < limit) limit = (uint32_t)lim->valuedouble;
  }

  uint32_t id;
  tsdb_series_params sp;
  if (tsdb_catalog__find(&db->catalog, topic, field, &id) != 0 ||
      tsdb_catalog__params(&db->catalog, id, &sp) != 0) {
    CMD_ERROR(c, "no series for topic '%s' field '%s'", topic, field);
    return;
  }
  sp.now = now;
  int64_t tier_ms = 0;
  if (tier_text && strcmp(tier_text, "raw")) {
    if (tsdb_duration_parse(tier_text, &tier_ms) != 0) {
      CMD_ERROR(c, "argument 'tier' must be \"raw\" or a tier such as \"1m\"");
      return;
    }
    bool known = false;
    for (size_t i = 0; i < sp.ntiers; i++) known |= sp.tiers_ms[i] == tier_ms;
    if (!known) {
      tsdb_strbuf tiers;
      tsdb_strbuf__init(&tiers);
      for (size_t i = 0; i < sp.ntiers; i++) {
        char t[24];
        tsdb_strbuf__printf(&tiers, "%s%s", i ? ", " : "",
                            tsdb_duration_format(sp.tiers_ms[i], t, sizeof t));
      }
      CMD_ERROR(c, "series '%s' field '%s' has no tier '%s' (tiers: %s)", topic, field,
                tier_text, tiers.data ? tiers.data : "none");
      tsdb_strbuf__free(&tiers);
      return;
    }
  }

  tsdb_strbuf *sb = c->out;
  char tier_label[24] = "raw";
  if (tier_ms) tsdb_duration_format(tier_ms, tier_label, sizeof tier_label);
  tsdb_strbuf__puts(sb, ",\"topic\":");
  tsdb_strbuf__json_string(sb, topic, strlen(topic));
  tsdb_strbuf__puts(sb, ",\"field\":");
  tsdb_strbuf__json_string(sb, field, strlen(field));
  tsdb_strbuf__printf(sb, ",\"tier\":\"%s\",\"from\":%" PRId64 ",\"to\":%" PRId64, tier_label,
                      from, to);
  if (tier_ms)
    tsdb_strbuf__puts(sb, ",\"columns\":[\"start_ms\",\"count\",\"min\",\"max\",\"mean\",\"sum\","
                          "\"first\",\"last\",\"stddev\"]");
  else
    tsdb_strbuf__puts(sb, ",\"columns\":[\"ts_ms\",\"value\"]");
  tsdb_strbuf__puts(sb, ",\"rows\":[");
  rows_ctx rows = {sb, limit, 0, 0, false};
  tsdb_snap *snap = tsdb_store__snapshot(db->store);
  int rc = tier_ms ? tsdb_read__tier(db->store, snap, &sp, tsdb_read__tier_index(&sp, tier_ms),
                                     from, to, &c->scan, bucket_row, &rows)
                   : tsdb_read__raw(db->store, snap, &sp, from, to, &c->scan, raw_row, &rows);
  tsdb_store__snapshot_release(db->store, snap);
  if (rc != 0 && rc != ROWS_FULL) {
    CMD_ERROR(c, "storage error while reading: %s", tsdb_strerror(rc));
    return;
  }
  tsdb_strbuf__putc(sb, ']');
  if (rows.limited) tsdb_strbuf__printf(sb, ",\"next\":%" PRId64, rows.next);
}

/* ---- stats ---- */

static void cmd_stats(cmd_ctx *c) {
  tsdb_db *db = c->db;
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  tsdb_strbuf *sb = c->out;
  tsdb_strbuf__printf(
      sb,
      ",\"engine\":{\"messages_ingested\":%llu,\"points_ingested\":%llu,\"points_written\":%llu,"
      "\"queue_full\":%llu,\"queue_bytes\":%zu,\"queue_capacity\":%zu,\"batches\":%llu,"
      "\"late_points\":%llu,\"expired_points\":%llu,\"duplicates_rejected\":%llu,"
      "\"buckets_finalized\":%llu,\"corrections\":%llu,\"open_buckets\":%llu,\"series\":%llu,"
      "\"commands\":%llu,\"results_dropped\":%llu,\"write_errors\":%llu,"
      "\"retention_sweeps\":%llu,\"write_latency_p50_us\":%llu,\"write_latency_p99_us\":%llu,"
      "\"disk_bytes\":{\"raw\":%llu,\"agg\":%llu,\"other\":%llu,\"wal\":%llu}}",
      (unsigned long long)st.messages_ingested, (unsigned long long)st.points_ingested,
      (unsigned long long)st.points_written, (unsigned long long)st.queue_full,
      st.queue_bytes_used, st.queue_bytes_capacity, (unsigned long long)st.batches,
      (unsigned long long)st.late_points, (unsigned long long)st.expired_points,
      (unsigned long long)st.duplicates_rejected, (unsigned long long)st.buckets_finalized,
      (unsigned long long)st.corrections, (unsigned long long)st.open_buckets,
      (unsigned long long)st.series, (unsigned long long)st.commands,
      (unsigned long long)st.results_dropped, (unsigned long long)st.write_errors,
      (unsigned long long)st.retention_sweeps, (unsigned long long)st.write_latency_p50_us,
      (unsigned long long)st.write_latency_p99_us, (unsigned long long)st.disk.raw,
      (unsigned long long)st.disk.agg, (unsigned long long)st.disk.other,
      (unsigned long long)st.disk.wal);
  char *prom = tsdb_stats_prometheus(&st);
  pthread_mutex_lock(&db->host_lock);
  tsdb_strbuf__puts(sb, ",\"host\":");
  tsdb_strbuf__puts(sb, db->host_json ? db->host_json : "{}");
  tsdb_strbuf__puts(sb, ",\"prometheus\":");
  tsdb_strbuf sp;
  tsdb_strbuf__init(&sp);
  if (prom) tsdb_strbuf__puts(&sp, prom);
  if (db->host_prometheus) tsdb_strbuf__puts(&sp, db->host_prometheus);
  pthread_mutex_unlock(&db->host_lock);
  tsdb_strbuf__json_string(sb, sp.data ? sp.data : "", sp.len);
  tsdb_strbuf__free(&sp);
  free(prom);
}

/* ---- dispatch ---- */

typedef struct command_def {
  const char *name;
  void (*run)(cmd_ctx *c);
} command_def;

static const command_def commands[] = {
    {"query", cmd_query},
    {"stats", cmd_stats},
};

static bool client_id_scopable(const char *id) {
  return id[0] && !strpbrk(id, "/+#");
}

static void publish_answer(tsdb_db *db, const char *client_id, const char *data_topic,
                           const char *body, size_t len) {
  char topic[1024];
  int n = data_topic && data_topic[0]
              ? snprintf(topic, sizeof topic, "$tsdb/reply/%s/%s", client_id, data_topic)
              : snprintf(topic, sizeof topic, "$tsdb/reply/%s", client_id);
  if (n < 0 || (size_t)n >= sizeof topic) {
    n = snprintf(topic, sizeof topic, "$tsdb/reply/%s", client_id);
    if (n < 0 || (size_t)n >= sizeof topic) return;
  }
  tsdb_results__publish(&db->results, topic, body, len, 1, false, true);
}

/* Builds {"responses":[{"command":..., ...}]} for one command and queues it. */
static void answer(tsdb_db *db, const char *client_id, const char *command_name,
                   const cJSON *correlation, cmd_ctx *c, tsdb_strbuf *members) {
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_strbuf__puts(&sb, "{\"responses\":[{\"command\":");
  tsdb_strbuf__json_string(&sb, command_name, strlen(command_name));
  if (correlation && cJSON_IsString(correlation)) {
    tsdb_strbuf__puts(&sb, ",\"correlationData\":");
    tsdb_strbuf__json_string(&sb, correlation->valuestring, strlen(correlation->valuestring));
  }
  if (c->error[0]) {
    tsdb_strbuf__puts(&sb, ",\"error\":");
    tsdb_strbuf__json_string(&sb, c->error, strlen(c->error));
  } else if (members->len) {
    tsdb_strbuf__append(&sb, members->data, members->len);
  }
  tsdb_strbuf__puts(&sb, "}]}");
  if (tsdb_strbuf__failed(&sb) || tsdb_strbuf__failed(members)) {
    tsdb_strbuf__free(&sb);
    tsdb_strbuf__init(&sb);
    tsdb_strbuf__puts(&sb, "{\"responses\":[{\"command\":");
    tsdb_strbuf__json_string(&sb, command_name, strlen(command_name));
    tsdb_strbuf__puts(&sb, ",\"error\":\"out of memory building the answer\"}]}");
  }
  publish_answer(db, client_id, c->data_topic, sb.data ? sb.data : "", sb.len);
  tsdb_strbuf__free(&sb);
}

static void error_answer(tsdb_db *db, const char *client_id, const char *command_name,
                         const cJSON *correlation, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void error_answer(tsdb_db *db, const char *client_id, const char *command_name,
                         const cJSON *correlation, const char *fmt, ...) {
  cmd_ctx c;
  memset(&c, 0, sizeof c);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c.error, sizeof c.error, fmt, ap);
  va_end(ap);
  tsdb_strbuf empty;
  tsdb_strbuf__init(&empty);
  answer(db, client_id, command_name, correlation, &c, &empty);
}

static void handle(tsdb_db *db, const job *j) {
  atomic_fetch_add(&db->counters.commands, 1);
  cJSON *root = cJSON_ParseWithLength(j->payload, j->len);
  const cJSON *list = root ? cJSON_GetObjectItemCaseSensitive(root, "commands") : NULL;
  if (!root || !cJSON_IsArray(list)) {
    error_answer(db, j->client_id, "unknown", NULL, "%s",
                 root ? "request must be an object with a \"commands\" array"
                      : "request is not valid JSON");
    cJSON_Delete(root);
    return;
  }
  tsdb_scan_buf scan = {0};
  const cJSON *cmd;
  cJSON_ArrayForEach(cmd, list) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cmd, "command");
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(cmd, "correlationData");
    if (!cJSON_IsObject(cmd) || !cJSON_IsString(name)) {
      error_answer(db, j->client_id, "unknown", corr, "%s",
                   "each command must be an object with a string \"command\"");
      continue;
    }
    const command_def *def = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
      if (!strcmp(commands[i].name, name->valuestring)) def = &commands[i];
    if (!def) {
      error_answer(db, j->client_id, name->valuestring, corr,
                   "unknown command '%s' (supported: query, stats)", name->valuestring);
      continue;
    }
    tsdb_strbuf members;
    tsdb_strbuf__init(&members);
    cmd_ctx c;
    memset(&c, 0, sizeof c);
    c.db = db;
    c.client_id = j->client_id;
    c.cmd = cmd;
    c.out = &members;
    c.scan = scan;
    def->run(&c);
    scan = c.scan;
    answer(db, j->client_id, def->name, corr, &c, &members);
    tsdb_strbuf__free(&members);
  }
  tsdb_scan_buf__free(&scan);
  cJSON_Delete(root);
}

static void *control_main(void *arg) {
  tsdb_control *c = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    pthread_mutex_lock(&c->lock);
    while (!c->head && !c->stop) pthread_cond_wait(&c->cv, &c->lock);
    if (c->stop) {
      pthread_mutex_unlock(&c->lock);
      return NULL;
    }
    job *j = c->head;
    c->head = j->next;
    if (!c->head) c->tail = NULL;
    c->pending--;
    pthread_mutex_unlock(&c->lock);
    /* Read your writes: a command sees every message the broker accepted
     * before it, so a publisher that queries right after publishing finds
     * its data. The wait is here, never on the broker thread. */
    tsdb_queue__wait_processed(&c->db->queue, j->seq);
    handle(c->db, j);
    free(j);
  }
}

int tsdb_control__submit(tsdb_control *c, const char *client_id, const void *payload,
                         size_t len) {
  tsdb_db *db = c->db;
  if (!client_id || !client_id_scopable(client_id)) {
    tsdb_log__printf(&db->log, TSDB_LOG_WARNING,
                     "control request refused client=\"%s\" reason=\"a client id with '/', '+' "
                     "or '#' cannot be given ACL-scoped answers\"",
                     client_id ? client_id : "");
    return TSDB_EINVAL;
  }
  size_t idlen = strlen(client_id);
  job *j = malloc(sizeof *j + idlen + 1 + len + 1);
  if (!j) return TSDB_ENOMEM;
  j->next = NULL;
  j->client_id = (char *)(j + 1);
  memcpy(j->client_id, client_id, idlen + 1);
  j->payload = j->client_id + idlen + 1;
  memcpy(j->payload, payload, len);
  j->payload[len] = '\0';
  j->len = len;
  j->seq = tsdb_queue__pushed(&db->queue);
  pthread_mutex_lock(&c->lock);
  bool full = c->pending >= db->opts.max_pending_commands || c->stop;
  if (!full) {
    if (c->tail)
      c->tail->next = j;
    else
      c->head = j;
    c->tail = j;
    c->pending++;
  }
  pthread_mutex_unlock(&c->lock);
  if (full) {
    error_answer(db, client_id, "unknown", NULL, "%s",
                 "busy: too many commands waiting; retry later");
    free(j);
    return TSDB_EFULL;
  }
  pthread_cond_signal(&c->cv);
  return 0;
}

int tsdb_control__start(tsdb_db *db, tsdb_control **out) {
  *out = NULL;
  tsdb_control *c = calloc(1, sizeof *c);
  if (!c) return TSDB_ENOMEM;
  c->db = db;
  if (pthread_mutex_init(&c->lock, NULL) || pthread_cond_init(&c->cv, NULL)) {
    free(c);
    return TSDB_ENOMEM;
  }
  size_t n = db->opts.control_threads ? db->opts.control_threads : 1;
  c->threads = calloc(n, sizeof *c->threads);
  if (!c->threads) {
    tsdb_control__stop(c);
    return TSDB_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (pthread_create(&c->threads[i], NULL, control_main, c)) {
      tsdb_control__stop(c);
      return TSDB_ETHREAD;
    }
    c->nthreads++;
  }
  *out = c;
  return 0;
}

void tsdb_control__stop(tsdb_control *c) {
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  c->stop = true;
  pthread_mutex_unlock(&c->lock);
  pthread_cond_broadcast(&c->cv);
  for (size_t i = 0; i < c->nthreads; i++) pthread_join(c->threads[i], NULL);
  job *j = c->head;
  while (j) {
    job *next = j->next;
    free(j);
    j = next;
  }
  free(c->threads);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cv);
  free(c);
}
