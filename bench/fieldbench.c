/*
 * fieldbench: our engine next to VictoriaMetrics and InfluxDB on the same
 * data, for bench/run.sh (which starts and stops the servers).
 *
 *   fieldbench count DIR [--compact]
 *       Opens a stopped broker's data directory with the engine and prints
 *       {"series":N,"points":M}: every raw point stored, of every series.
 *       --compact then flushes and fully compacts it and adds its bytes on
 *       disk, as engine_bench measures them: "disk":{"raw","agg","other","wal"}.
 *   fieldbench load --gen PATH --dataset a|b|c|d --days N [--vm PORT] [--influx PORT]
 *       Streams a reference dataset (bench/datasets/gen.c) as line protocol
 *       to the servers' /write endpoints, in batches; prints the points sent.
 *   fieldbench query --dir DIR --vm PORT --influx PORT [--reps N] [--gen PATH]
 *       Loads the query data into the three systems (ours in-process through
 *       the engine API), checks that every query answers the same in all
 *       three (float tolerance 1e-9 relative), then times them with the
 *       systems alternating in every repetition, and prints JSON.
 *
 * The queries (all means, 1 h step):
 *   year1, year30, year365  one series at 10 s for 365 days up to today's
 *                           midnight UTC: the last 1, 30 and 365 days;
 *   last1000                the newest point of each of the 1000 series of
 *                           dataset b (1 day);
 *   group24h                dataset a (100 series, 1 day) with a label
 *                           group = series % 10: the mean of each group per
 *                           hour over 24 h.
 * Bucket edges: ours and InfluxDB's buckets are [t, t+1h); VictoriaMetrics'
 * rollup windows are (t-1h, t], so it is asked for "[1h] offset 1ms" at
 * t = bucket end: (end-1h-1ms, end-1ms], which on data at whole seconds is
 * exactly [start, end). Its start and end are multiples of the step, so its
 * rollup result cache (on by default) serves the repetitions: VictoriaMetrics
 * is timed with a warm cache.
 * Ours is measured in-process (engine API, no transport); the others over
 * HTTP on loopback with a kept-alive connection, timing the request and the
 * answer only (not the client's JSON parsing).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/bench_common.h"
#include "lib/bench_engine.h"
#include "tsdb/tsdb.h"

#define DAY_MS ((int64_t)86400000)
#define HOUR_MS ((int64_t)3600000)
#define DATA_T0_MS ((int64_t)1790812800000) /* gen.c: 2026-10-01T00:00:00Z */

static void die(const char *what) {
  fprintf(stderr, "fieldbench: %s\n", what);
  exit(1);
}

/* ---- count ---- */

typedef struct counter {
  tsdb_db *db;
  uint64_t series, points;
} counter;

static int count_point(void *ud, int64_t ts, double v) {
  (void)ts;
  (void)v;
  ((counter *)ud)->points++;
  return 0;
}

static int count_series(void *ud, uint32_t id, const char *topic, const char *field) {
  (void)topic;
  (void)field;
  counter *c = ud;
  c->series++;
  int rc = tsdb_read_raw(c->db, id, INT64_MIN / 2, INT64_MAX / 2, count_point, c);
  return rc == TSDB_ENOTFOUND ? 0 : rc;
}

static int cmd_count(const char *dir, bool compact) {
  counter c = {.db = bench_engine_open(dir, 5000)};
  int rc = tsdb_series_match(c.db, "#", NULL, NULL, 0, count_series, &c);
  tsdb_disk_usage du = {0};
  if (!rc && compact) {
    tsdb_compact(c.db);
    tsdb_disk_usage_get(c.db, &du);
  }
  tsdb_close(c.db);
  if (rc) {
    fprintf(stderr, "fieldbench: count: %s\n", tsdb_strerror(rc));
    return 1;
  }
  printf("{\"series\":%" PRIu64 ",\"points\":%" PRIu64, c.series, c.points);
  if (compact)
    printf(",\"disk\":{\"raw\":%" PRIu64 ",\"agg\":%" PRIu64 ",\"other\":%" PRIu64
           ",\"wal\":%" PRIu64 "}",
           du.raw, du.agg, du.other, du.wal);
  printf("}\n");
  return 0;
}

/* ---- line protocol to the servers ---- */

typedef struct sink {
  bh_conn vm, influx;
  bool has_vm, has_influx;
  const char *precision; /* "s" or "ms" */
  bc_buf batch, answer;
  size_t lines;
} sink;

static void sink_flush(sink *s) {
  if (!s->lines) return;
  char path[128];
  if (s->has_vm) {
    snprintf(path, sizeof path, "/write?precision=%s", s->precision);
    int st = bh_request(&s->vm, "POST", path, "text/plain", s->batch.p, s->batch.len, &s->answer);
    if (st < 200 || st > 299) {
      fprintf(stderr, "fieldbench: VictoriaMetrics /write: %d %s\n", st,
              s->answer.p ? (char *)s->answer.p : "");
      exit(1);
    }
  }
  if (s->has_influx) {
    snprintf(path, sizeof path, "/write?db=bench&precision=%s", s->precision);
    int st =
        bh_request(&s->influx, "POST", path, "text/plain", s->batch.p, s->batch.len, &s->answer);
    if (st < 200 || st > 299) {
      fprintf(stderr, "fieldbench: InfluxDB /write: %d %s\n", st,
              s->answer.p ? (char *)s->answer.p : "");
      exit(1);
    }
  }
  s->batch.len = 0;
  s->lines = 0;
}

static void sink_line(sink *s, const char *line, size_t len) {
  bc_buf_put(&s->batch, line, len);
  if (++s->lines >= 50000) sink_flush(s);
}

static void sink_open(sink *s, int vm_port, int influx_port, const char *precision) {
  memset(s, 0, sizeof *s);
  s->precision = precision;
  if (vm_port) {
    bh_init(&s->vm, "127.0.0.1", vm_port);
    s->has_vm = true;
  }
  if (influx_port) {
    bh_init(&s->influx, "127.0.0.1", influx_port);
    s->has_influx = true;
    int st = bh_request(&s->influx, "POST", "/query?q=CREATE%20DATABASE%20bench",
                        "application/x-www-form-urlencoded", NULL, 0, &s->answer);
    if (st != 200) die("InfluxDB: CREATE DATABASE failed");
  }
}

static void sink_close(sink *s) {
  sink_flush(s);
  if (s->has_vm) bh_close(&s->vm);
  if (s->has_influx) bh_close(&s->influx);
  bc_buf_free(&s->batch);
  bc_buf_free(&s->answer);
}

static FILE *open_gen(const char *gen, char dataset, int days) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "'%s' %c %d", gen, dataset, days);
  FILE *in = popen(cmd, "r");
  if (!in) die("cannot run the dataset generator");
  return in;
}

static int cmd_load(const char *gen, char dataset, int days, int vm, int influx) {
  sink s;
  sink_open(&s, vm, influx, "s");
  FILE *in = open_gen(gen, dataset, days);
  char line[256];
  uint64_t n = 0;
  while (fgets(line, sizeof line, in)) {
    sink_line(&s, line, strlen(line));
    n++;
  }
  pclose(in);
  sink_close(&s);
  printf("{\"dataset\":\"%c\",\"days\":%d,\"points\":%" PRIu64 "}\n", dataset, days, n);
  return 0;
}

/* ---- query data ---- */

typedef struct chunk {
  tsdb_point p[1000];
  size_t n;
  char topic[64];
} chunk;

static int64_t year_end_ms;

/* One series, 365 days at 10 s, smooth temperature at 0.1 degrees. */
static uint64_t load_year(tsdb_db *db, sink *s) {
  tsdb_series_class *cls = bench_engine_class("fieldbench", "q/{name}");
  const int64_t end = year_end_ms, start = end - 365 * DAY_MS;
  static chunk c;
  c.n = 0;
  snprintf(c.topic, sizeof c.topic, "q/year");
  uint64_t seed = 12345, n = 0;
  double walk = 0;
  char line[128];
  for (int64_t t = start; t < end; t += 10000) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    walk += ((double)(seed >> 11) / 9007199254740992.0 - 0.5) * 0.02;
    double v =
        round((10 + 6 * sin(2 * M_PI * (double)(t - start) / (double)DAY_MS) + walk) * 10) / 10;
    if (v == 0) v = 0;
    c.p[c.n++] = (tsdb_point){t, v, 0};
    if (c.n == 1000) {
      bench_engine_push(db, cls, c.topic, c.p, c.n);
      c.n = 0;
    }
    int len = snprintf(line, sizeof line, "year,series=s1 value=%.1f %" PRId64 "\n", v, t);
    sink_line(s, line, (size_t)len);
    n++;
  }
  if (c.n) bench_engine_push(db, cls, c.topic, c.p, c.n);
  tsdb_series_class_release(cls);
  return n;
}

/* A reference dataset into ours (topic prefix/[g<series%10>/]s<series>) and
 * the servers (with a group tag when grouped). */
static uint64_t load_dataset(tsdb_db *db, sink *s, const char *gen, char dataset, int days,
                             bool grouped, int64_t *last_ts) {
  tsdb_series_class *cls =
      bench_engine_class("fieldbench", grouped ? "a/{group}/{series}" : "b/{series}");
  static chunk chunks[1001];
  for (int i = 0; i <= 1000; i++) chunks[i].n = 0;
  FILE *in = open_gen(gen, dataset, days);
  char line[256], out[300];
  uint64_t n = 0;
  while (fgets(line, sizeof line, in)) {
    char *sp = strstr(line, "series=s"), *vp = sp ? strstr(sp, "value=") : NULL;
    if (!vp) continue;
    int series = atoi(sp + 8);
    char *end;
    double v = strtod(vp + 6, &end);
    if (*end == 'i') end++;
    int64_t ts = strtoll(end, NULL, 10) * 1000;
    if (series < 1 || series > 1000) continue;
    if (ts > *last_ts) *last_ts = ts;
    chunk *c = &chunks[series];
    if (!c->n) {
      if (grouped)
        snprintf(c->topic, sizeof c->topic, "a/g%d/s%d", series % 10, series);
      else
        snprintf(c->topic, sizeof c->topic, "b/s%d", series);
    }
    c->p[c->n++] = (tsdb_point){ts, v, 0};
    if (c->n == 1000) {
      bench_engine_push(db, cls, c->topic, c->p, c->n);
      c->n = 0;
    }
    /* The same line, with the group tag added, in ms. */
    size_t mlen = (size_t)(strchr(line, ',') - line);
    int len;
    if (grouped)
      len = snprintf(out, sizeof out, "%.*s,group=g%d,series=s%d value=%.17g %" PRId64 "\n",
                     (int)mlen, line, series % 10, series, v, ts);
    else
      len = snprintf(out, sizeof out, "%.*s,series=s%d value=%.17g %" PRId64 "\n", (int)mlen, line,
                     series, v, ts);
    sink_line(s, out, (size_t)len);
    n++;
  }
  pclose(in);
  for (int i = 1; i <= 1000; i++)
    if (chunks[i].n) bench_engine_push(db, cls, chunks[i].topic, chunks[i].p, chunks[i].n);
  tsdb_series_class_release(cls);
  return n;
}

/* ---- answers: (key, bucket start) -> value, for the equality check ---- */

typedef struct row {
  char key[16];
  int64_t t;
  double v;
} row;

typedef struct answer {
  row *r;
  size_t n, cap;
} answer;

static void answer_add(answer *a, const char *key, int64_t t, double v) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 1024;
    a->r = realloc(a->r, a->cap * sizeof *a->r);
    if (!a->r) die("out of memory");
  }
  snprintf(a->r[a->n].key, sizeof a->r[a->n].key, "%s", key);
  a->r[a->n].t = t;
  a->r[a->n].v = v;
  a->n++;
}

static int row_cmp(const void *x, const void *y) {
  const row *a = x, *b = y;
  int c = strcmp(a->key, b->key);
  if (c) return c;
  return (a->t > b->t) - (a->t < b->t);
}

/* Returns the number of mismatches (and prints the first few). */
static size_t compare(const char *what, answer *ours, answer *other) {
  qsort(ours->r, ours->n, sizeof *ours->r, row_cmp);
  qsort(other->r, other->n, sizeof *other->r, row_cmp);
  size_t bad = 0;
  if (ours->n != other->n) {
    fprintf(stderr, "fieldbench: %s: %zu rows, ours %zu\n", what, other->n, ours->n);
    bad++;
  }
  for (size_t i = 0; i < ours->n && i < other->n; i++) {
    row *a = &ours->r[i], *b = &other->r[i];
    double tol = 1e-9 * fmax(1.0, fabs(a->v));
    if (strcmp(a->key, b->key) || a->t != b->t || fabs(a->v - b->v) > tol) {
      if (bad < 3)
        fprintf(stderr, "fieldbench: %s: ours %s@%" PRId64 "=%.10g, theirs %s@%" PRId64 "=%.10g\n",
                what, a->key, a->t, a->v, b->key, b->t, b->v);
      bad++;
    }
  }
  return bad;
}

/* ---- our queries (in-process) ---- */

typedef struct q_ctx {
  tsdb_db *db;
  answer *ans; /* NULL while timing */
  const char *key;
  double sum[48], cnt[48];
  int64_t from;
  uint32_t ids[1000];
  size_t nids;
} q_ctx;

static int on_bucket(void *ud, const tsdb_aggregate *b) {
  q_ctx *c = ud;
  if (c->ans) answer_add(c->ans, c->key, b->start_ms, b->mean);
  return 0;
}

static int on_group_bucket(void *ud, const tsdb_aggregate *b) {
  q_ctx *c = ud;
  int64_t k = (b->start_ms - c->from) / HOUR_MS;
  if (k >= 0 && k < 48) {
    c->sum[k] += b->sum;
    c->cnt[k] += (double)b->count;
  }
  return 0;
}

static int collect_id(void *ud, uint32_t id, const char *topic, const char *field) {
  (void)topic;
  (void)field;
  q_ctx *c = ud;
  if (c->nids < 1000) c->ids[c->nids++] = id;
  return 0;
}

static void ours_year(tsdb_db *db, int days, answer *ans) {
  q_ctx c = {.db = db, .ans = ans, .key = ""};
  uint32_t id;
  if (tsdb_series_find(db, "q/year", "value", &id)) die("q/year not found");
  tsdb_step_query q = {.series = id,
                       .from = year_end_ms - days * DAY_MS,
                       .to = year_end_ms,
                       .step_ms = HOUR_MS,
                       .fill = TSDB_FILL_NONE};
  int rc = tsdb_query_step(db, &q, on_bucket, &c, NULL);
  if (rc) die(tsdb_strerror(rc));
}

static void ours_last(tsdb_db *db, answer *ans) {
  q_ctx c = {.db = db};
  int rc = tsdb_series_match(db, "b/+", "value", NULL, 0, collect_id, &c);
  if (rc) die(tsdb_strerror(rc));
  for (size_t i = 0; i < c.nids; i++) {
    int64_t ts;
    double v;
    if (tsdb_read_last(db, c.ids[i], INT64_MAX / 2, &ts, &v)) die("read_last");
    if (ans) answer_add(ans, "", ts, v);
  }
}

static void ours_group(tsdb_db *db, int64_t from, answer *ans) {
  for (int g = 0; g < 10; g++) {
    q_ctx c = {.db = db, .from = from};
    char gv[8];
    snprintf(gv, sizeof gv, "g%d", g);
    tsdb_label lab = {"group", gv};
    int rc = tsdb_series_match(db, "a/#", "value", &lab, 1, collect_id, &c);
    if (rc) die(tsdb_strerror(rc));
    for (size_t i = 0; i < c.nids; i++) {
      tsdb_step_query q = {.series = c.ids[i],
                           .from = from,
                           .to = from + DAY_MS,
                           .step_ms = HOUR_MS,
                           .fill = TSDB_FILL_NONE};
      rc = tsdb_query_step(db, &q, on_group_bucket, &c, NULL);
      if (rc) die(tsdb_strerror(rc));
    }
    if (ans)
      for (int k = 0; k < 24; k++)
        if (c.cnt[k] > 0) answer_add(ans, gv, from + k * HOUR_MS, c.sum[k] / c.cnt[k]);
  }
}

/* ---- their queries (HTTP) ---- */

typedef struct remote {
  bh_conn vm, influx;
  bc_buf body;
} remote;

/* Times one request; the answer stays in r->body. Returns ms. */
static double http_timed(bh_conn *c, const char *path, bc_buf *body) {
  int64_t t0 = bc_now_ns();
  int st = bh_request(c, "GET", path, NULL, NULL, 0, body);
  double ms = (double)(bc_now_ns() - t0) / 1e6;
  if (st != 200) {
    fprintf(stderr, "fieldbench: GET %s: %d %.300s\n", path, st, body->p ? (char *)body->p : "");
    exit(1);
  }
  return ms;
}

static void vm_path(bc_buf *p, const char *query, int64_t start_ms, int64_t end_ms, bool range) {
  p->len = 0;
  bc_buf_puts(p, range ? "/api/v1/query_range?query=" : "/api/v1/query?query=");
  bh_urlencode(p, query);
  if (range)
    bc_buf_printf(p, "&start=%.3f&end=%.3f&step=3600", (double)start_ms / 1000.0,
                  (double)end_ms / 1000.0);
  else
    bc_buf_printf(p, "&time=%.3f", (double)end_ms / 1000.0);
}

static void influx_path(bc_buf *p, const char *query) {
  p->len = 0;
  bc_buf_puts(p, "/query?db=bench&epoch=ms&q=");
  bh_urlencode(p, query);
}

/* VictoriaMetrics matrix/vector answers into rows; `by` names the label
 * that keys the rows (NULL: none), shift_ms moves the times to bucket starts. */
static void parse_vm(const char *json, const char *by, int64_t shift_ms, answer *ans) {
  cJSON *doc = cJSON_Parse(json);
  cJSON *res = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "data"), "result");
  cJSON *s;
  cJSON_ArrayForEach(s, res) {
    const char *key = "";
    cJSON *lab = by ? cJSON_GetObjectItem(cJSON_GetObjectItem(s, "metric"), by) : NULL;
    if (cJSON_IsString(lab)) key = lab->valuestring;
    cJSON *vals = cJSON_GetObjectItem(s, "values"), *one = cJSON_GetObjectItem(s, "value");
    cJSON *pt;
    if (vals) {
      cJSON_ArrayForEach(pt, vals) {
        int64_t t = (int64_t)llround(cJSON_GetArrayItem(pt, 0)->valuedouble * 1000) + shift_ms;
        answer_add(ans, key, t, strtod(cJSON_GetArrayItem(pt, 1)->valuestring, NULL));
      }
    } else if (one) {
      answer_add(ans, key, 0, strtod(cJSON_GetArrayItem(one, 1)->valuestring, NULL));
    }
  }
  cJSON_Delete(doc);
}

static void parse_influx(const char *json, const char *by, answer *ans, bool keep_time) {
  cJSON *doc = cJSON_Parse(json);
  cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "results"), 0);
  cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(r0, "series")) {
    const char *key = "";
    cJSON *lab = by ? cJSON_GetObjectItem(cJSON_GetObjectItem(s, "tags"), by) : NULL;
    if (cJSON_IsString(lab)) key = lab->valuestring;
    cJSON *pt;
    cJSON_ArrayForEach(pt, cJSON_GetObjectItem(s, "values")) {
      cJSON *v = cJSON_GetArrayItem(pt, 1);
      if (!cJSON_IsNumber(v)) continue; /* an empty bucket */
      int64_t t = keep_time ? (int64_t)cJSON_GetArrayItem(pt, 0)->valuedouble : 0;
      answer_add(ans, key, t, v->valuedouble);
    }
  }
  cJSON_Delete(doc);
}

/* ---- the benchmark ---- */

enum { Q_YEAR1, Q_YEAR30, Q_YEAR365, Q_LAST, Q_GROUP, NQ };
static const char *const qnames[NQ] = {"year1", "year30", "year365", "last1000", "group24h"};
static const char *const qdesc[NQ] = {
    "1 series, 1 day, 1 h step (mean)", "1 series, 30 days, 1 h step (mean)",
    "1 series, 365 days, 1 h step (mean)", "last point of 1000 series",
    "100 series, 24 h, 1 h step, mean by label (10 groups)"};

typedef struct query_spec {
  bc_buf vm, influx;
  int64_t vm_shift;
  const char *by;
  bool vm_keep_time_zero; /* last: compare values only */
} query_spec;

static int64_t group_from, last_time;

static void run_ours(tsdb_db *db, int q, answer *ans) {
  switch (q) {
  case Q_YEAR1:
    ours_year(db, 1, ans);
    break;
  case Q_YEAR30:
    ours_year(db, 30, ans);
    break;
  case Q_YEAR365:
    ours_year(db, 365, ans);
    break;
  case Q_LAST:
    ours_last(db, ans);
    break;
  default:
    ours_group(db, group_from, ans);
    break;
  }
}

static int cmd_query(const char *dir, const char *gen, int vm_port, int influx_port, int reps,
                     const char *json_out) {
  const int64_t now = bc_wall_ms();
  year_end_ms = now / DAY_MS * DAY_MS;
  tsdb_db *db = bench_engine_open(dir, 5000);
  sink s;
  sink_open(&s, vm_port, influx_port, "ms");
  int64_t t0 = bc_now_ns();
  uint64_t n_year = load_year(db, &s);
  int64_t last_b = 0, last_a = 0;
  uint64_t n_b = load_dataset(db, &s, gen, 'b', 1, false, &last_b);
  uint64_t n_a = load_dataset(db, &s, gen, 'a', 1, true, &last_a);
  sink_close(&s);
  tsdb_sync(db);
  tsdb_compact(db);
  fprintf(stderr, "fieldbench: loaded %" PRIu64 " + %" PRIu64 " + %" PRIu64 " points in %.1f s\n",
          n_year, n_b, n_a, (double)(bc_now_ns() - t0) / 1e9);
  group_from = DATA_T0_MS;
  last_time = last_b + 1000;

  remote r;
  memset(&r, 0, sizeof r);
  bh_init(&r.vm, "127.0.0.1", vm_port);
  bh_init(&r.influx, "127.0.0.1", influx_port);
  /* VictoriaMetrics makes fresh data searchable after a flush. */
  if (bh_request(&r.vm, "GET", "/internal/force_flush", NULL, NULL, 0, &r.body) != 200)
    die("VictoriaMetrics force_flush failed");

  query_spec qs[NQ];
  memset(qs, 0, sizeof qs);
  char iq[512];
  static const int yd[3] = {1, 30, 365};
  for (int k = 0; k < 3; k++) {
    int64_t from = year_end_ms - yd[k] * DAY_MS;
    vm_path(&qs[k].vm, "avg_over_time(year_value[1h] offset 1ms)", from + HOUR_MS, year_end_ms,
            true);
    qs[k].vm_shift = -HOUR_MS;
    snprintf(iq, sizeof iq,
             "SELECT mean(value) FROM year WHERE time >= %" PRId64 "ms AND time < %" PRId64
             "ms GROUP BY time(1h)",
             from, year_end_ms);
    influx_path(&qs[k].influx, iq);
  }
  vm_path(&qs[Q_LAST].vm, "last_over_time(pm25_value[2d])", 0, last_time, false);
  influx_path(&qs[Q_LAST].influx, "SELECT last(value) FROM pm25 GROUP BY \"series\"");
  qs[Q_LAST].by = NULL;
  vm_path(&qs[Q_GROUP].vm, "avg by (group) (avg_over_time(temperature_value[1h] offset 1ms))",
          group_from + HOUR_MS, group_from + DAY_MS, true);
  qs[Q_GROUP].vm_shift = -HOUR_MS;
  qs[Q_GROUP].by = "group";
  snprintf(iq, sizeof iq,
           "SELECT mean(value) FROM temperature WHERE time >= %" PRId64 "ms AND time < %" PRId64
           "ms GROUP BY time(1h), \"group\"",
           group_from, group_from + DAY_MS);
  influx_path(&qs[Q_GROUP].influx, iq);

  /* Correctness first: the same answer from all three. */
  size_t mism_vm[NQ], mism_influx[NQ], rows[NQ];
  for (int q = 0; q < NQ; q++) {
    answer a = {0}, v = {0}, f = {0};
    run_ours(db, q, &a);
    http_timed(&r.vm, (char *)qs[q].vm.p, &r.body);
    parse_vm((char *)r.body.p, qs[q].by, qs[q].vm_shift, &v);
    http_timed(&r.influx, (char *)qs[q].influx.p, &r.body);
    parse_influx((char *)r.body.p, qs[q].by, &f, q != Q_LAST);
    if (q == Q_LAST) {
      /* Values only (VictoriaMetrics answers at the query time): compare the
       * sorted multisets of the 1000 last values. */
      for (size_t i = 0; i < a.n; i++) a.r[i].t = (int64_t)llround(a.r[i].v * 1000);
      for (size_t i = 0; i < v.n; i++) v.r[i].t = (int64_t)llround(v.r[i].v * 1000);
      for (size_t i = 0; i < f.n; i++) f.r[i].t = (int64_t)llround(f.r[i].v * 1000);
    }
    rows[q] = a.n;
    char what[64];
    snprintf(what, sizeof what, "%s vs VictoriaMetrics", qnames[q]);
    mism_vm[q] = compare(what, &a, &v);
    snprintf(what, sizeof what, "%s vs InfluxDB", qnames[q]);
    mism_influx[q] = compare(what, &a, &f);
    free(a.r);
    free(v.r);
    free(f.r);
  }

  /* Timing: in every repetition each query runs on the three systems, in an
   * order that rotates, so drifts of a noisy machine hit them alike. */
  double *lat[NQ][3];
  for (int q = 0; q < NQ; q++)
    for (int sy = 0; sy < 3; sy++) lat[q][sy] = calloc((size_t)reps, sizeof(double));
  for (int rep = -1; rep < reps; rep++) { /* rep -1 warms up */
    for (int q = 0; q < NQ; q++) {
      for (int k = 0; k < 3; k++) {
        int sy = (k + rep + 3 + q) % 3;
        double ms;
        if (sy == 0) {
          int64_t t = bc_now_ns();
          run_ours(db, q, NULL);
          ms = (double)(bc_now_ns() - t) / 1e6;
        } else if (sy == 1) {
          ms = http_timed(&r.vm, (char *)qs[q].vm.p, &r.body);
        } else {
          ms = http_timed(&r.influx, (char *)qs[q].influx.p, &r.body);
        }
        if (rep >= 0) lat[q][sy][rep] = ms;
      }
    }
  }
  tsdb_close(db);
  bc_buf j = {0};
  bc_buf_printf(&j, "{\"reps\":%d,\"ours_measured\":\"in-process engine API\",\"queries\":[", reps);
  for (int q = 0; q < NQ; q++) {
    double p[3][2];
    for (int sy = 0; sy < 3; sy++) {
      qsort(lat[q][sy], (size_t)reps, sizeof(double), bc_cmp_double);
      p[sy][0] = bc_percentile(lat[q][sy], (size_t)reps, 0.5);
      p[sy][1] = bc_percentile(lat[q][sy], (size_t)reps, 0.99);
    }
    bc_buf_printf(&j,
                  "%s{\"name\":\"%s\",\"what\":\"%s\",\"rows\":%zu,\"mismatch_vm\":%zu,"
                  "\"mismatch_influx\":%zu,\"ours_p50_ms\":%.4f,\"ours_p99_ms\":%.4f,"
                  "\"vm_p50_ms\":%.4f,\"vm_p99_ms\":%.4f,\"influx_p50_ms\":%.4f,"
                  "\"influx_p99_ms\":%.4f}",
                  q ? "," : "", qnames[q], qdesc[q], rows[q], mism_vm[q], mism_influx[q], p[0][0],
                  p[0][1], p[1][0], p[1][1], p[2][0], p[2][1]);
  }
  bc_buf_printf(&j, "]}\n");
  fputs((char *)j.p, stdout);
  if (json_out) {
    FILE *f = fopen(json_out, "w");
    if (f) {
      fputs((char *)j.p, f);
      fclose(f);
    }
  }
  bh_close(&r.vm);
  bh_close(&r.influx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) goto usage;
  const char *gen = NULL, *dir = NULL, *json = NULL;
  int vm = 0, influx = 0, days = 1, reps = 21;
  char dataset = 'a';
  if (!strcmp(argv[1], "count")) {
    if (argc == 3 || (argc == 4 && !strcmp(argv[3], "--compact")))
      return cmd_count(argv[2], argc == 4);
    goto usage;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--gen"))
      gen = v;
    else if (!strcmp(k, "--dir"))
      dir = v;
    else if (!strcmp(k, "--json"))
      json = v;
    else if (!strcmp(k, "--vm"))
      vm = atoi(v);
    else if (!strcmp(k, "--influx"))
      influx = atoi(v);
    else if (!strcmp(k, "--days"))
      days = atoi(v);
    else if (!strcmp(k, "--reps"))
      reps = atoi(v);
    else if (!strcmp(k, "--dataset"))
      dataset = v[0];
    else
      goto usage;
  }
  if (!strcmp(argv[1], "load") && gen) return cmd_load(gen, dataset, days, vm, influx);
  if (!strcmp(argv[1], "query") && dir && gen && vm && influx && reps > 0)
    return cmd_query(dir, gen, vm, influx, reps, json);
usage:
  fprintf(stderr,
          "usage: fieldbench count DIR [--compact]\n"
          "       fieldbench load --gen PATH --dataset a|b|c|d --days N [--vm PORT] "
          "[--influx PORT]\n"
          "       fieldbench query --dir DIR --gen PATH --vm PORT --influx PORT "
          "[--reps N] [--json FILE]\n");
  return 2;
}
