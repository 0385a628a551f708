/*
 * $CONTROL/tsdb/v1: command requests in the dynamic-security plugin's JSON
 * convention, run on control threads, answered through the outbox.
 *
 * DESIGN
 * Ownership
 *   - tsdb_control__submit() (the broker thread) copies the client id and the
 *     request bytes into a job; it never parses and never touches RocksDB.
 *   - Control threads own a job from dequeue to free: they parse the JSON,
 *     run each command through the engine's public reads (all of its series on
 *     one snapshot), build the answer and queue it in the outbox.
 * Answers and ACLs
 *   - Each command gets its own {"responses":[...]} publication on
 *     $tsdb/reply/<client id>/<data topic> (or $tsdb/reply/<client id> when
 *     it names no valid data topic), published with no target client: the
 *     broker then applies each subscriber's read ACL, so a client can only
 *     receive answers about topics its ACL lets it read (README: ACLs).
 *   - Every command ends with {"done":true} on $tsdb/reply/<client id>,
 *     whatever it found. `stats` is answered on $tsdb/admin/<client id>/stats,
 *     which an ACL grants to operators only.
 *   - A client id containing '/', '+' or '#' would break that scoping (client
 *     "a/b" could read replies meant for client "a"), so such requests are
 *     refused and logged, never answered. The plugin's ACL check
 *     (plugin/on_acl.c) lets only client X read $tsdb/reply/X/....
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "answers.h"
#include "serve_internal.h"
#include "strbuf.h"
#include "thread.h"
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
  tsdb_serve *srv;
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
  tsdb_serve *srv;
  tsdb_db *db;
  const char *client_id;
  const cJSON *cmd;
  const char *name;
  const cJSON *correlation;
  tsdb_strbuf *out;       /* members of a single answer (after "command") */
  const char *data_topic; /* where a single answer goes (NULL: none); in the request */
  char error[384];        /* set => error answer */
  bool multi;             /* answered per series (then "done", like every command) */
  bool admin;             /* answered on $tsdb/admin/<client>/<command> */
  int64_t now;
} cmd_ctx;

#define CMD_ERROR(ctx, ...) snprintf((ctx)->error, sizeof(ctx)->error, __VA_ARGS__)

/* Payload bytes waiting for the broker above which a control thread pauses
 * before producing more answers (results.h: backpressure). */
#define ANSWER_BACKLOG_BYTES ((size_t)32 << 20)
/* Series one command may touch. */
#define MAX_SELECTED_SERIES 100000

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
static bool arg_time(cmd_ctx *c, const char *name, int64_t dflt, int64_t *out) {
  const cJSON *v = arg(c, name);
  if (!v) {
    *out = dflt;
    return true;
  }
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) {
      CMD_ERROR(c, "argument '%s' must be an integer number of milliseconds since the epoch", name);
      return false;
    }
    *out = (int64_t)d;
    return true;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    int64_t ms;
    if (!strcmp(s, "now")) {
      *out = c->now;
      return true;
    }
    if (s[0] == '-' && tsdb_duration_parse(s + 1, &ms) == 0) {
      *out = c->now - ms;
      return true;
    }
  }
  CMD_ERROR(c,
            "argument '%s' must be milliseconds since the epoch, \"now\" or \"-<duration>\" "
            "such as \"-1h\"",
            name);
  return false;
}

static bool arg_duration(cmd_ctx *c, const char *name, int64_t *out) {
  const cJSON *v = arg(c, name);
  *out = 0;
  if (!v) return true;
  if (!cJSON_IsString(v) || tsdb_duration_parse(v->valuestring, out) != 0) {
    CMD_ERROR(c, "argument '%s' must be a duration such as \"1m\" or \"1h\"", name);
    return false;
  }
  return true;
}

/* ---- answers ---- */

/* $tsdb/reply/<client>/<data topic>, or $tsdb/reply/<client> without one,
 * or $tsdb/admin/<client>/<command> for an operators' answer (stats). An
 * answer whose topic would be longer than MQTT allows is not published: on
 * any other topic, the broker's read ACL of the data topic would not apply
 * to it (README: ACLs). The "done" that ends its command still comes. */
static void publish_answer(tsdb_serve *srv, const char *client_id, const char *data_topic,
                           const char *admin_command, const char *body, size_t len) {
  tsdb_strbuf topic;
  tsdb_strbuf__init(&topic);
  if (admin_command)
    tsdb_strbuf__printf(&topic, "$tsdb/admin/%s/%s", client_id, admin_command);
  else if (data_topic && data_topic[0])
    tsdb_strbuf__printf(&topic, "$tsdb/reply/%s/%s", client_id, data_topic);
  else
    tsdb_strbuf__printf(&topic, "$tsdb/reply/%s", client_id);
  if (tsdb_strbuf__failed(&topic) || topic.len > TSDB_TOPIC_MAX_LEN)
    tsdb_log__printf(&srv->log, TSDB_LOG_DEBUG,
                     "control answer not published client=\"%s\" reason=\"%s\"", client_id,
                     tsdb_strbuf__failed(&topic) ? "out of memory"
                                                 : "its topic would be longer than MQTT allows");
  else
    tsdb_outbox__publish(&srv->outbox, topic.data, body, len, 1, false, true);
  tsdb_strbuf__free(&topic);
}

/* {"responses":[{"command":..,"correlationData":..,<members or error>}]} to
 * $tsdb/reply/<client>/<data topic>. */
static void emit(cmd_ctx *c, const char *data_topic, const tsdb_strbuf *members,
                 const char *error) {
  tsdb_outbox__wait_below(&c->srv->outbox, ANSWER_BACKLOG_BYTES, NULL);
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_strbuf__puts(&sb, "{\"responses\":[{\"command\":");
  tsdb_strbuf__json_string(&sb, c->name, strlen(c->name));
  if (c->correlation && cJSON_IsString(c->correlation)) {
    tsdb_strbuf__puts(&sb, ",\"correlationData\":");
    tsdb_strbuf__json_string(&sb, c->correlation->valuestring, strlen(c->correlation->valuestring));
  }
  if (error) {
    tsdb_strbuf__puts(&sb, ",\"error\":");
    tsdb_strbuf__json_string(&sb, error, strlen(error));
  } else if (members && members->len) {
    tsdb_strbuf__append(&sb, members->data, members->len);
  }
  tsdb_strbuf__puts(&sb, "}]}");
  if (tsdb_strbuf__failed(&sb) || (members && tsdb_strbuf__failed(members))) {
    tsdb_strbuf__free(&sb);
    tsdb_strbuf__init(&sb);
    tsdb_strbuf__puts(&sb, "{\"responses\":[{\"command\":");
    tsdb_strbuf__json_string(&sb, c->name, strlen(c->name));
    tsdb_strbuf__puts(&sb, ",\"error\":\"out of memory building the answer\"}]}");
  }
  publish_answer(c->srv, c->client_id, data_topic, c->admin ? c->name : NULL,
                 sb.data ? sb.data : "", sb.len);
  tsdb_strbuf__free(&sb);
}

/* {"responses":[{"command":..,"correlationData":..,"done":true}]} on
 * $tsdb/reply/<client>: the end of every command, whatever it found, so that
 * whether it comes tells nothing about series the client may not read. */
static void emit_done(cmd_ctx *c) {
  tsdb_strbuf done;
  tsdb_strbuf__init(&done);
  tsdb_strbuf__puts(&done, ",\"done\":true");
  c->admin = false;
  emit(c, NULL, &done, NULL);
  tsdb_strbuf__free(&done);
}

/* ---- selecting series: topic filter, labels, fields ---- */

typedef struct selection {
  uint32_t *ids;
  char **topics, **fields;
  size_t n, cap;
  const char **want_fields; /* NULL: any */
  size_t nwant;
} selection;

static void selection_free(selection *sel) {
  for (size_t i = 0; i < sel->n; i++) {
    free(sel->topics[i]);
    free(sel->fields[i]);
  }
  free(sel->ids);
  free(sel->topics);
  free(sel->fields);
  free(sel->want_fields);
  memset(sel, 0, sizeof *sel);
}

static int select_one(void *ud, uint32_t id, const char *topic, const char *field) {
  selection *sel = ud;
  if (sel->want_fields) {
    bool ok = false;
    for (size_t i = 0; i < sel->nwant && !ok; i++) ok = !strcmp(sel->want_fields[i], field);
    if (!ok) return 0;
  }
  if (sel->n == MAX_SELECTED_SERIES) return TSDB_ETOOBIG;
  if (sel->n == sel->cap) {
    size_t cap = sel->cap ? sel->cap * 2 : 16;
    uint32_t *ids = realloc(sel->ids, cap * sizeof *ids);
    if (ids) sel->ids = ids;
    char **t = realloc(sel->topics, cap * sizeof *t);
    if (t) sel->topics = t;
    char **f = realloc(sel->fields, cap * sizeof *f);
    if (f) sel->fields = f;
    if (!ids || !t || !f) return TSDB_ENOMEM;
    sel->cap = cap;
  }
  sel->ids[sel->n] = id;
  sel->topics[sel->n] = strdup(topic);
  sel->fields[sel->n] = strdup(field);
  sel->n++;
  return sel->topics[sel->n - 1] && sel->fields[sel->n - 1] ? 0 : TSDB_ENOMEM;
}

/*
 * "topic" (an MQTT filter; a plain topic matches itself), optional "labels"
 * (an object of strings, all must match) and optional "field" or "fields".
 * Answers go per series to $tsdb/reply/<client>/<its topic>, so a client
 * only receives what its read ACL allows. A filter with wildcards that
 * matches nothing is therefore not an error (that would tell a client that
 * series it may not read exist or not); a plain topic without series is one,
 * answered on that topic's reply topic.
 */
static bool select_series(cmd_ctx *c, selection *sel) {
  memset(sel, 0, sizeof *sel);
  const char *filter = arg_string(c, "topic", true);
  if (!filter) return false;
  if (!tsdb_topic_filter_valid(filter)) {
    CMD_ERROR(c, "argument 'topic' must be a topic or a topic filter");
    return false;
  }
  bool plain = !strpbrk(filter, "+#");
  if (plain) c->data_topic = filter;
  const cJSON *field = arg(c, "field"), *fields = arg(c, "fields");
  if (field && fields) {
    CMD_ERROR(c, "give 'field' or 'fields', not both");
    return false;
  }
  if (field) {
    if (!cJSON_IsString(field)) {
      CMD_ERROR(c, "argument 'field' must be a string");
      return false;
    }
    sel->want_fields = malloc(sizeof *sel->want_fields);
    if (!sel->want_fields) return false;
    sel->want_fields[0] = field->valuestring;
    sel->nwant = 1;
  } else if (fields) {
    int n = cJSON_IsArray(fields) ? cJSON_GetArraySize(fields) : -1;
    if (n < 1) {
      CMD_ERROR(c, "argument 'fields' must be a non-empty array of strings");
      return false;
    }
    sel->want_fields = malloc((size_t)n * sizeof *sel->want_fields);
    if (!sel->want_fields) return false;
    const cJSON *f;
    cJSON_ArrayForEach(f, fields) {
      if (!cJSON_IsString(f)) {
        CMD_ERROR(c, "argument 'fields' must be a non-empty array of strings");
        return false;
      }
      sel->want_fields[sel->nwant++] = f->valuestring;
    }
  }
  tsdb_label labels[32];
  size_t nlabels = 0;
  const cJSON *lv = arg(c, "labels");
  if (lv) {
    if (!cJSON_IsObject(lv) || cJSON_GetArraySize(lv) > 32) {
      CMD_ERROR(c, "argument 'labels' must be an object of at most 32 string values");
      return false;
    }
    const cJSON *l;
    cJSON_ArrayForEach(l, lv) {
      if (!cJSON_IsString(l)) {
        CMD_ERROR(c, "argument 'labels' must be an object of at most 32 string values");
        return false;
      }
      labels[nlabels++] = (tsdb_label){l->string, l->valuestring};
    }
  }
  int rc = tsdb_series_match(c->db, filter, NULL, labels, nlabels, select_one, sel);
  if (rc == TSDB_ETOOBIG) {
    CMD_ERROR(c, "the selection matches more than %d series; narrow 'topic' or 'labels'",
              MAX_SELECTED_SERIES);
    return false;
  }
  if (rc) {
    CMD_ERROR(c, "cannot select series: %s", tsdb_strerror(rc));
    return false;
  }
  if (plain && sel->n == 0) {
    if (sel->nwant == 1)
      CMD_ERROR(c, "no series for topic '%s' field '%s'", filter, sel->want_fields[0]);
    else
      CMD_ERROR(c, "no series for topic '%s'", filter);
    return false;
  }
  c->multi = true;
  c->data_topic = NULL;
  return true;
}

/* The common head of a per-series answer. */
static void series_head(cmd_ctx *c, tsdb_strbuf *sb, const selection *sel, size_t i) {
  tsdb_strbuf__puts(sb, ",\"topic\":");
  tsdb_strbuf__json_string(sb, sel->topics[i], strlen(sel->topics[i]));
  tsdb_strbuf__puts(sb, ",\"field\":");
  tsdb_strbuf__json_string(sb, sel->fields[i], strlen(sel->fields[i]));
  tsdb_serve__series_json(sb, c->db, sel->ids[i], false);
}

/* ---- query ---- */

typedef struct rows_ctx {
  tsdb_strbuf *sb;
  uint32_t limit;
  uint32_t n;
  int64_t next; /* the first row not returned, when limited */
  bool limited;
  bool aggs[TSDB_AGG_KINDS];
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

static int bucket_row(void *ud, const tsdb_aggregate *a) {
  rows_ctx *r = ud;
  if (r->n == r->limit) {
    r->next = a->start_ms;
    r->limited = true;
    return ROWS_FULL;
  }
  if (r->n) tsdb_strbuf__putc(r->sb, ',');
  tsdb_strbuf__putc(r->sb, '[');
  tsdb_strbuf__json_int(r->sb, a->start_ms);
  for (int i = 0; i < TSDB_AGG_KINDS; i++) {
    if (!r->aggs[i]) continue;
    tsdb_strbuf__putc(r->sb, ',');
    if (i == TSDB_AGG_COUNT)
      tsdb_strbuf__json_int(r->sb, (int64_t)a->count);
    else /* NaN (an empty filled bucket) is null */
      tsdb_strbuf__json_double(r->sb, tsdb_aggregate_get(a, (tsdb_agg_kind)i));
  }
  tsdb_strbuf__putc(r->sb, ']');
  r->n++;
  return 0;
}

static void cmd_query(cmd_ctx *c) {
  tsdb_db *db = c->db;
  int64_t from, to, step = 0, tier = 0;
  if (!arg_time(c, "from", c->now - 3600000, &from) || !arg_time(c, "to", c->now, &to)) return;
  if (from > to) {
    CMD_ERROR(c, "'from' (%" PRId64 ") is after 'to' (%" PRId64 ")", from, to);
    return;
  }
  if (!arg_duration(c, "step", &step)) return;
  const char *tier_text = arg_string(c, "tier", false);
  if (c->error[0]) return;
  if (tier_text && strcmp(tier_text, "raw")) {
    if (tsdb_duration_parse(tier_text, &tier) != 0) {
      CMD_ERROR(c, "argument 'tier' must be \"raw\" or a tier such as \"1m\"");
      return;
    }
    if (step && step != tier) {
      CMD_ERROR(c, "give 'step' or 'tier', not both");
      return;
    }
    step = tier;
  }
  rows_ctx proto = {0};
  const cJSON *aggs = arg(c, "aggregates");
  if (aggs) {
    if (!step) {
      CMD_ERROR(c, "argument 'aggregates' needs a 'step'");
      return;
    }
    int n = cJSON_IsArray(aggs) ? cJSON_GetArraySize(aggs) : 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, aggs) {
      int k = cJSON_IsString(a) ? tsdb_agg_find(a->valuestring) : TSDB_ENOTFOUND;
      if (k < 0)
        n = 0;
      else
        proto.aggs[k] = true;
    }
    if (n < 1) {
      char names[128] = "";
      for (int k = 0, off = 0; k < TSDB_AGG_KINDS && off < (int)sizeof names; k++)
        off += snprintf(names + off, sizeof names - (size_t)off, "%s%s", k ? ", " : "",
                        tsdb_agg_name(k));
      CMD_ERROR(c, "argument 'aggregates' must be a non-empty array of %s", names);
      return;
    }
  } else {
    for (int i = 0; i < TSDB_AGG_KINDS; i++) proto.aggs[i] = true;
  }
  int fill = TSDB_FILL_NONE;
  const char *fill_text = arg_string(c, "fill", false);
  if (c->error[0]) return;
  if (fill_text) {
    static const char *const fills[] = {"none", "null", "previous", "linear"};
    fill = -1;
    for (int i = 0; i < 4; i++)
      if (!strcmp(fills[i], fill_text)) fill = i;
    if (fill < 0 || !step) {
      CMD_ERROR(c, "argument 'fill' must be none, null, previous or linear, with a 'step'");
      return;
    }
  }
  uint32_t limit = c->srv->opts.max_answer_rows;
  const cJSON *lim = arg(c, "limit");
  if (lim) {
    if (!cJSON_IsNumber(lim) || lim->valuedouble < 1 ||
        lim->valuedouble != floor(lim->valuedouble)) {
      CMD_ERROR(c, "argument 'limit' must be a positive integer");
      return;
    }
    if (lim->valuedouble < limit) limit = (uint32_t)lim->valuedouble;
  }
  selection sel;
  if (!select_series(c, &sel)) {
    selection_free(&sel);
    return;
  }
  char step_text[24] = "raw";
  if (step) tsdb_duration_format(step, step_text, sizeof step_text);
  /* Every series of the answer as of one moment. */
  tsdb_snapshot *snap = tsdb_snapshot_take(db);
  for (size_t i = 0; i < sel.n; i++) {
    tsdb_strbuf sb;
    tsdb_strbuf__init(&sb);
    series_head(c, &sb, &sel, i);
    tsdb_strbuf__printf(&sb, ",\"step\":\"%s\",\"from\":%" PRId64 ",\"to\":%" PRId64, step_text,
                        from, to);
    if (step) {
      tsdb_strbuf__puts(&sb, ",\"columns\":[\"start_ms\"");
      for (int k = 0; k < TSDB_AGG_KINDS; k++)
        if (proto.aggs[k]) tsdb_strbuf__printf(&sb, ",\"%s\"", tsdb_agg_name(k));
      tsdb_strbuf__putc(&sb, ']');
    } else {
      tsdb_strbuf__puts(&sb, ",\"columns\":[\"ts_ms\",\"value\"]");
    }
    tsdb_strbuf__puts(&sb, ",\"rows\":[");
    rows_ctx rows = proto;
    rows.sb = &sb;
    rows.limit = limit;
    int rc;
    if (step) {
      /* The planner: the coarsest tier dividing the step, edges from finer
       * tiers or raw points (query.c). */
      tsdb_step_query q = {
          .series = sel.ids[i], .from = from, .to = to, .step_ms = step, .fill = fill, .limit = 0};
      rc = tsdb_query_step_at(db, snap, &q, bucket_row, &rows, NULL);
    } else {
      rc = tsdb_read_raw_at(db, snap, sel.ids[i], from, to, raw_row, &rows);
    }
    tsdb_strbuf__putc(&sb, ']');
    if (rows.limited) tsdb_strbuf__printf(&sb, ",\"next\":%" PRId64, rows.next);
    char err[128] = "";
    if (rc != 0 && rc != ROWS_FULL)
      snprintf(err, sizeof err, "storage error while reading: %s", tsdb_strerror(rc));
    emit(c, sel.topics[i], &sb, err[0] ? err : NULL);
    tsdb_strbuf__free(&sb);
  }
  tsdb_snapshot_release(db, snap);
  selection_free(&sel);
}

/* ---- last ---- */

static void cmd_last(cmd_ctx *c) {
  int64_t before;
  if (!arg_time(c, "before", INT64_MAX, &before)) return;
  selection sel;
  if (!select_series(c, &sel)) {
    selection_free(&sel);
    return;
  }
  tsdb_snapshot *snap = tsdb_snapshot_take(c->db); /* every series as of one moment */
  for (size_t i = 0; i < sel.n; i++) {
    int64_t ts;
    double v;
    int rc = tsdb_read_last_at(c->db, snap, sel.ids[i], before, &ts, &v);
    tsdb_strbuf sb;
    tsdb_strbuf__init(&sb);
    series_head(c, &sb, &sel, i);
    if (rc == 0) {
      tsdb_strbuf__printf(&sb, ",\"ts_ms\":%" PRId64 ",\"value\":", ts);
      tsdb_strbuf__json_double(&sb, v);
    } else {
      tsdb_strbuf__puts(&sb, ",\"ts_ms\":null,\"value\":null");
    }
    char err[128] = "";
    if (rc && rc != TSDB_ENOTFOUND)
      snprintf(err, sizeof err, "storage error while reading: %s", tsdb_strerror(rc));
    emit(c, sel.topics[i], &sb, err[0] ? err : NULL);
    tsdb_strbuf__free(&sb);
  }
  tsdb_snapshot_release(c->db, snap);
  selection_free(&sel);
}

/* ---- series ---- */

static void cmd_series(cmd_ctx *c) {
  selection sel;
  if (!select_series(c, &sel)) {
    selection_free(&sel);
    return;
  }
  /* One answer per topic listing its fields; the selection is in id order,
   * so group by topic as it comes. */
  bool *done = calloc(sel.n ? sel.n : 1, sizeof *done);
  for (size_t i = 0; done && i < sel.n; i++) {
    if (done[i]) continue;
    tsdb_strbuf sb;
    tsdb_strbuf__init(&sb);
    tsdb_strbuf__puts(&sb, ",\"topic\":");
    tsdb_strbuf__json_string(&sb, sel.topics[i], strlen(sel.topics[i]));
    tsdb_strbuf__puts(&sb, ",\"fields\":[");
    size_t n = 0;
    for (size_t k = i; k < sel.n; k++) {
      if (done[k] || strcmp(sel.topics[k], sel.topics[i])) continue;
      done[k] = true;
      tsdb_strbuf__puts(&sb, n++ ? ",{\"field\":" : "{\"field\":");
      tsdb_strbuf__json_string(&sb, sel.fields[k], strlen(sel.fields[k]));
      tsdb_strbuf__printf(&sb, ",\"id\":%u", (unsigned)sel.ids[k]);
      tsdb_serve__series_json(&sb, c->db, sel.ids[k], true);
      tsdb_strbuf__putc(&sb, '}');
    }
    tsdb_strbuf__putc(&sb, ']');
    emit(c, sel.topics[i], &sb, NULL);
    tsdb_strbuf__free(&sb);
  }
  free(done);
  selection_free(&sel);
}

/* ---- replay and cancel ---- */

static bool valid_replay_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_'))
      return false;
  }
  return true;
}

static void cmd_replay(cmd_ctx *c) {
  tsdb_serve *srv = c->srv;
  if (!srv->archive_retention_ms) {
    CMD_ERROR(c, "replay is off: the broker keeps no archive (archive_retention 0)");
    return;
  }
  const char *filter = arg_string(c, "topic", true);
  if (!filter) return;
  if (!tsdb_topic_filter_valid(filter)) {
    CMD_ERROR(c, "argument 'topic' must be a topic or a topic filter");
    return;
  }
  int64_t from, to;
  if (!arg_time(c, "from", c->now - 3600000, &from) || !arg_time(c, "to", c->now, &to)) return;
  if (from > to) {
    CMD_ERROR(c, "'from' (%" PRId64 ") is after 'to' (%" PRId64 ")", from, to);
    return;
  }
  double speed = 0;
  const cJSON *sv = arg(c, "speed");
  if (sv && !(cJSON_IsString(sv) && !strcmp(sv->valuestring, "max"))) {
    if (!cJSON_IsNumber(sv) || !(sv->valuedouble > 0) || sv->valuedouble > 1e6) {
      CMD_ERROR(c,
                "argument 'speed' must be a factor > 0 (60 replays an hour in a minute) or "
                "\"max\"");
      return;
    }
    speed = sv->valuedouble;
  }
  const char *id = arg_string(c, "id", false);
  if (c->error[0]) return;
  if (id && !valid_replay_id(id)) {
    CMD_ERROR(c, "argument 'id' must be 1-32 letters, digits, '-' or '_'");
    return;
  }
  char idbuf[40];
  int rc = tsdb_replays__start(srv->replays, c->client_id, id, filter, from, to, speed, idbuf,
                               sizeof idbuf);
  if (rc == TSDB_EFULL) {
    CMD_ERROR(c, "busy: %u replays are running; retry later", (unsigned)srv->opts.max_replays);
    return;
  }
  if (rc == TSDB_EINVAL) {
    CMD_ERROR(c, "a replay with id '%s' is already running", id);
    return;
  }
  if (rc) {
    CMD_ERROR(c, "cannot start the replay: %s", tsdb_strerror(rc));
    return;
  }
  tsdb_strbuf *sb = c->out;
  tsdb_strbuf__puts(sb, ",\"replay\":");
  tsdb_strbuf__json_string(sb, idbuf, strlen(idbuf));
  tsdb_strbuf__puts(sb, ",\"topic\":");
  tsdb_strbuf__json_string(sb, filter, strlen(filter));
  tsdb_strbuf__printf(sb, ",\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"speed\":", from, to);
  if (speed > 0)
    tsdb_strbuf__json_double(sb, speed);
  else
    tsdb_strbuf__puts(sb, "\"max\"");
  tsdb_strbuf__printf(sb,
                      ",\"messages\":\"$tsdb/replay/%s/%s/<topic>\",\"progress\":"
                      "\"$tsdb/replay/%s/%s\"",
                      c->client_id, idbuf, c->client_id, idbuf);
}

static void cmd_cancel(cmd_ctx *c) {
  const char *id = arg_string(c, "replay", true);
  if (!id) return;
  if (tsdb_replays__cancel(c->srv->replays, c->client_id, id) != 0) {
    CMD_ERROR(c, "no replay '%s' of yours is running", id);
    return;
  }
  tsdb_strbuf__puts(c->out, ",\"replay\":");
  tsdb_strbuf__json_string(c->out, id, strlen(id));
  tsdb_strbuf__puts(c->out, ",\"cancelled\":true");
}

/* ---- stats ---- */

/* The engine's and the plugin's counters (series, per-schema traffic):
 * operators' business, so answered on $tsdb/admin/<client>/stats, which the
 * broker's ACL grants to operators only (README: ACLs). */
static void cmd_stats(cmd_ctx *c) {
  c->admin = true;
  tsdb_serve__stats_json(c->srv, c->out);
}

/* ---- dispatch ---- */

typedef struct command_def {
  const char *name;
  void (*run)(cmd_ctx *c);
} command_def;

static const command_def commands[] = {
    {"query", cmd_query}, {"last", cmd_last},     {"series", cmd_series},
    {"stats", cmd_stats}, {"replay", cmd_replay}, {"cancel", cmd_cancel},
};

static void error_answer(tsdb_serve *srv, const char *client_id, const char *command_name,
                         const cJSON *correlation, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void error_answer(tsdb_serve *srv, const char *client_id, const char *command_name,
                         const cJSON *correlation, const char *fmt, ...) {
  cmd_ctx c;
  memset(&c, 0, sizeof c);
  c.srv = srv;
  c.db = srv->db;
  c.client_id = client_id;
  c.name = command_name;
  c.correlation = correlation;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c.error, sizeof c.error, fmt, ap);
  va_end(ap);
  emit(&c, NULL, NULL, c.error);
  emit_done(&c);
}

static void handle(tsdb_serve *srv, const job *j) {
  tsdb_db *db = srv->db;
  atomic_fetch_add(&srv->commands, 1);
  /* JSON is UTF-8 (RFC 8259 section 8.1), which cJSON does not check: the
   * request's strings end up in answers and in their topics. */
  bool utf8 = tsdb_utf8_valid(j->payload, j->len);
  cJSON *root = utf8 ? cJSON_ParseWithLength(j->payload, j->len) : NULL;
  const cJSON *list = root ? cJSON_GetObjectItemCaseSensitive(root, "commands") : NULL;
  if (!root || !cJSON_IsArray(list)) {
    error_answer(srv, j->client_id, "unknown", NULL, "%s",
                 root   ? "request must be an object with a \"commands\" array"
                 : utf8 ? "request is not valid JSON"
                        : "request is not valid JSON: it is not UTF-8 (RFC 8259 section 8.1)");
    cJSON_Delete(root);
    return;
  }
  const cJSON *cmd;
  cJSON_ArrayForEach(cmd, list) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cmd, "command");
    const cJSON *corr = cJSON_GetObjectItemCaseSensitive(cmd, "correlationData");
    if (!cJSON_IsObject(cmd) || !cJSON_IsString(name)) {
      error_answer(srv, j->client_id, "unknown", corr, "%s",
                   "each command must be an object with a string \"command\"");
      continue;
    }
    const command_def *def = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
      if (!strcmp(commands[i].name, name->valuestring)) def = &commands[i];
    if (!def) {
      char list_text[128] = "";
      size_t off = 0;
      for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        int n = snprintf(list_text + off, sizeof list_text - off, "%s%s", i ? ", " : "",
                         commands[i].name);
        if (n > 0 && (size_t)n < sizeof list_text - off) off += (size_t)n;
      }
      error_answer(srv, j->client_id, name->valuestring, corr,
                   "unknown command '%s' (supported: %s)", name->valuestring, list_text);
      continue;
    }
    if (!tsdb_storage_ready(db)) {
      /* Not open yet (tsdb_options.open_retry): nothing to read. */
      error_answer(srv, j->client_id, def->name, corr, "%s",
                   "storage unavailable: the database is not open yet (see the broker's log); "
                   "retry later");
      continue;
    }
    tsdb_strbuf members;
    tsdb_strbuf__init(&members);
    cmd_ctx c;
    memset(&c, 0, sizeof c);
    c.srv = srv;
    c.db = db;
    c.client_id = j->client_id;
    c.cmd = cmd;
    c.name = def->name;
    c.correlation = corr;
    c.out = &members;
    c.now = tsdb_now(db);
    def->run(&c);
    if (c.error[0])
      emit(&c, c.data_topic, NULL, c.error);
    else if (!c.multi) /* per-series answers went out already */
      emit(&c, c.data_topic, &members, NULL);
    /* The end marker comes after every command and carries no count: it
     * says nothing about series the client may not read (issue 12: it once
     * came only when a plain topic's series existed). */
    emit_done(&c);
    tsdb_strbuf__free(&members);
  }
  cJSON_Delete(root);
}

static void *control_main(void *arg) {
  tsdb_control *c = arg;
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
    tsdb_wait_written(c->srv->db, j->seq);
    handle(c->srv, j);
    free(j);
  }
}

bool tsdb_client_id_scopable(const char *id) { return id && id[0] && !strpbrk(id, "/+#"); }

int tsdb_control__submit(tsdb_control *c, const char *client_id, const void *payload, size_t len) {
  tsdb_serve *srv = c->srv;
  if (!tsdb_client_id_scopable(client_id)) {
    tsdb_log__printf(&srv->log, TSDB_LOG_WARNING,
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
  j->seq = tsdb_ingest_position(srv->db);
  pthread_mutex_lock(&c->lock);
  bool full = c->pending >= srv->opts.max_pending_commands || c->stop;
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
    error_answer(srv, client_id, "unknown", NULL, "%s",
                 "busy: too many commands waiting; retry later");
    free(j);
    return TSDB_EFULL;
  }
  pthread_cond_signal(&c->cv);
  return 0;
}

int tsdb_control__start(tsdb_serve *srv, tsdb_control **out) {
  *out = NULL;
  tsdb_control *c = calloc(1, sizeof *c);
  if (!c) return TSDB_ENOMEM;
  c->srv = srv;
  if (pthread_mutex_init(&c->lock, NULL) || pthread_cond_init(&c->cv, NULL)) {
    free(c);
    return TSDB_ENOMEM;
  }
  size_t n = srv->opts.control_threads ? srv->opts.control_threads : 1;
  c->threads = calloc(n, sizeof *c->threads);
  if (!c->threads) {
    tsdb_control__stop(c);
    return TSDB_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (tsdb_thread__start(&c->threads[i], "tsdb-control", control_main, c)) {
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
