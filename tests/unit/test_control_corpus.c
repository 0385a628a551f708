/*
 * The $CONTROL command corpus (tests/control-corpus/, its README has the
 * file format and the data set): every request of a y_* file is answered
 * without an error, every request of an n_* file is refused, and each gets
 * exactly the answers its file lists, in order, on the topics it names. A
 * real engine on a fresh directory with a fixed clock, through
 * tsdb_serve_control_submit() and the result drain, as the plugin runs it.
 *
 * Besides what the files list, every command must end with its "done"
 * answer on $tsdb/reply/<client>, with its command name and correlation
 * data; every answer must be {"responses":[<one response>]}; and everything
 * published goes to the namespaces of the exact client id that asked
 * ($tsdb/reply/<id>, $tsdb/admin/<id>, $tsdb/replay/<id>: README, ACLs).
 */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tsdb/serve.h"
#include "tsdb/tsdb.h"
#include "unit.h"

#ifndef TSDB_SOURCE_DIR
#error "TSDB_SOURCE_DIR must be defined by the build"
#endif

#define CORPUS TSDB_SOURCE_DIR "/tests/control-corpus"
#define NOW INT64_C(1795680000000) /* 2026-11-26T08:00:00Z */
#define MAX_ANSWERS 256

static int64_t fixed_clock(void *ud) {
  (void)ud;
  return NOW;
}

static void quiet(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  (void)msg;
}

/* ---- the data set (README: The database) ---- */

static tsdb_series_class *make_class(const char *tpl, size_t nfields) {
  static const char *const fields[] = {"pm25", "temp"};
  static const char *const units[] = {"ug/m3", "Cel"};
  static const int64_t tiers[] = {60000, 3600000};
  static const tsdb_label labels[] = {{"city", "berlin"}};
  tsdb_series_class_desc d = {.schema_id = "air-quality",
                              .schema_version = 1,
                              .topic_template = tpl,
                              .nfields = nfields,
                              .field_names = fields,
                              .units = units,
                              .ntiers = 2,
                              .tiers_ms = tiers,
                              .dup_policy = TSDB_DUP_LAST,
                              .nlabels = 1,
                              .labels = labels};
  tsdb_series_class *cls = NULL;
  CHECK_OK(tsdb_series_class_create(&d, &cls));
  return cls;
}

/* One message a minute over the two hours before NOW, i = 0..119, each
 * archived with the payload {"i":<i>} and its time as arrival. */
static void ingest(tsdb_db *db, tsdb_series_class *cls, const char *topic, int station) {
  for (int i = 0; i < 120; i++) {
    int64_t ts = NOW - 7200000 + (int64_t)i * 60000;
    double pm25 = station == 1 ? 10 + i % 10 : station == 2 ? 20 + i % 5 : 30 + i % 3;
    double temp = station == 1 ? 20.5 + (i % 4) * 0.25 : 15;
    tsdb_point p[2] = {{ts, pm25, 0}, {ts, temp, 1}};
    char payload[32];
    snprintf(payload, sizeof payload, "{\"i\":%d}", i);
    tsdb_ingest_msg m = {.cls = cls,
                         .topic = topic,
                         .topic_len = strlen(topic),
                         .points = p,
                         .npoints = station == 3 || station == 4 ? 1 : 2,
                         .payload = payload,
                         .payload_len = strlen(payload),
                         .arrival_ms = ts};
    int rc;
    while ((rc = tsdb_ingest(db, &m)) == TSDB_EFULL) usleep(1000);
    CHECK_OK(rc);
  }
}

static void drop(void *ud, const tsdb_result *r) {
  (void)ud;
  (void)r;
}

/* serve/ over the corpus's database. */
static tsdb_serve *corpus_srv;

static tsdb_db *open_corpus_db(void) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = unit_path("db");
  o.flush_interval_ms = 1;
  o.grace_ms = 1000;
  o.partial_interval_ms = 0;
  o.clock_fn = fixed_clock;
  o.log_fn = quiet;
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  so.log_fn = quiet;
  char err[256];
  CHECK_MSG(tsdb_serve_open(&so, &corpus_srv, err, sizeof err) == 0, "tsdb_serve_open: %s", err);
  tsdb_serve_engine_options(corpus_srv, &o);
  o.bucket_fn = NULL; /* commands only: no live aggregates */
  tsdb_db *db = NULL;
  int rc = tsdb_open(&o, &db, err, sizeof err);
  CHECK_MSG(rc == 0, "tsdb_open: %s", err);
  CHECK_MSG(tsdb_serve_start(corpus_srv, db, err, sizeof err) == 0, "tsdb_serve_start: %s", err);
  tsdb_series_class *air = make_class("city/{district}/{station}/air", 2);
  tsdb_series_class *one = make_class("city/{district}/{station}/air", 1);
  tsdb_series_class *lng = make_class("long/{name}/air", 1);
  ingest(db, air, "city/mitte/s1/air", 1);
  ingest(db, air, "city/mitte/s2/air", 2);
  ingest(db, one, "city/pankow/s3/air", 3);
  char long_topic[1024];
  memset(long_topic, 'x', sizeof long_topic);
  memcpy(long_topic, "long/", 5);
  memcpy(long_topic + 1005, "/air", 5); /* 1009 bytes */
  ingest(db, lng, long_topic, 4);
  CHECK_OK(tsdb_sync(db));
  tsdb_series_class_release(air);
  tsdb_series_class_release(one);
  tsdb_series_class_release(lng);
  while (tsdb_serve_drain(corpus_srv, 1000, drop, NULL) > 0) {
  }
  return db;
}

/* ---- running a request ---- */

typedef struct answer {
  char *topic;
  cJSON *response; /* the one element of "responses" */
} answer;

typedef struct answers {
  answer a[MAX_ANSWERS];
  size_t n, dones;
  const char *client;
  char why[512]; /* a malformed answer */
} answers;

/* Every client id a file has used: replays run on after their request. */
static char *clients[64];
static size_t nclients;

/* Whether topic is $tsdb/<ns>/<id> or below it. */
static bool in_namespace(const char *topic, const char *ns, const char *id) {
  size_t nl = strlen(ns), il = strlen(id);
  return !strncmp(topic, "$tsdb/", 6) && !strncmp(topic + 6, ns, nl) && topic[6 + nl] == '/' &&
         !strncmp(topic + 7 + nl, id, il) &&
         (topic[7 + nl + il] == '\0' || topic[7 + nl + il] == '/');
}

static void collect(void *ud, const tsdb_result *r) {
  answers *as = ud;
  if (r->kind != TSDB_RESULT_PUBLISH) return;
  /* Replayed messages and replay progress are not answers, but they go to
   * the namespace of the very client that asked (plugin/on_acl.c lets only
   * that id read it). */
  if (!strncmp(r->topic, "$tsdb/replay/", 13)) {
    bool owned = false;
    for (size_t i = 0; i < nclients && !owned; i++)
      owned = in_namespace(r->topic, "replay", clients[i]);
    if (!owned)
      snprintf(as->why, sizeof as->why, "a replay publication of no client: %.400s", r->topic);
    return;
  }
  if (!in_namespace(r->topic, "reply", as->client) &&
      !in_namespace(r->topic, "admin", as->client)) {
    snprintf(as->why, sizeof as->why, "a publication outside the client's namespaces: %.400s",
             r->topic);
    return;
  }
  cJSON *j = cJSON_ParseWithLength(r->payload, r->payload_len);
  cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "responses");
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != 1 || !cJSON_IsObject(list->child)) {
    snprintf(as->why, sizeof as->why, "an answer that is not {\"responses\":[{..}]}: %.*s",
             (int)r->payload_len, r->payload);
  } else if (as->n < MAX_ANSWERS) {
    as->a[as->n].topic = strdup(r->topic);
    as->a[as->n].response = cJSON_DetachItemViaPointer(list, list->child);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(as->a[as->n].response, "done"))) as->dones++;
    as->n++;
  }
  cJSON_Delete(j);
}

static void answers_free(answers *as) {
  for (size_t i = 0; i < as->n; i++) {
    free(as->a[i].topic);
    cJSON_Delete(as->a[i].response);
  }
  memset(as, 0, sizeof *as);
}

/* The request's bytes: "request" (JSON, sent as printed), "request_text"
 * (a string, sent as its bytes) or "request_hex" (bytes that no JSON
 * string can hold). Malloc()ed. */
static char *request_bytes(const cJSON *file, size_t *len, char *why, size_t whylen) {
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(file, "request");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(file, "request_text");
  const cJSON *hex = cJSON_GetObjectItemCaseSensitive(file, "request_hex");
  if ((req != NULL) + (text != NULL) + (hex != NULL) != 1) {
    snprintf(why, whylen, "give one of request, request_text and request_hex");
    return NULL;
  }
  char *out = NULL;
  if (req) {
    out = cJSON_PrintUnformatted(req);
    *len = out ? strlen(out) : 0;
  } else if (cJSON_IsString(text)) {
    out = strdup(text->valuestring);
    *len = out ? strlen(out) : 0;
  } else if (cJSON_IsString(hex) && strlen(hex->valuestring) % 2 == 0) {
    size_t n = strlen(hex->valuestring) / 2;
    out = malloc(n + 1);
    for (size_t i = 0; out && i < n; i++) {
      unsigned v;
      if (sscanf(hex->valuestring + 2 * i, "%2x", &v) != 1) {
        free(out);
        out = NULL;
        break;
      }
      out[i] = (char)v;
    }
    *len = n;
  }
  if (!out) snprintf(why, whylen, "request_text or request_hex is malformed");
  return out;
}

/* How many commands the engine will see: a "commands" array's length, or
 * one (the refusal) for anything else. */
static size_t command_count(const cJSON *file) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(file, "request"), "commands");
  return cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 1;
}

/* ---- comparing ---- */

/* want matches got: objects by the members want names (got may have more),
 * arrays element by element, scalars equal (numbers exactly when both are
 * integers, else within a relative 1e-12: means and deviations depend on
 * the order of floating-point operations); {"$type": "<JSON type>"} matches
 * any value of that type. *path says where a mismatch is. */
static bool matches(const cJSON *want, const cJSON *got, char *path, size_t cap) {
  const cJSON *type = cJSON_IsObject(want) && cJSON_GetArraySize(want) == 1
                          ? cJSON_GetObjectItemCaseSensitive(want, "$type")
                          : NULL;
  if (cJSON_IsString(type)) {
    const char *t = type->valuestring;
    bool ok = (!strcmp(t, "number") && cJSON_IsNumber(got)) ||
              (!strcmp(t, "string") && cJSON_IsString(got)) ||
              (!strcmp(t, "object") && cJSON_IsObject(got)) ||
              (!strcmp(t, "array") && cJSON_IsArray(got)) ||
              (!strcmp(t, "boolean") && cJSON_IsBool(got)) ||
              (!strcmp(t, "null") && cJSON_IsNull(got));
    return ok;
  }
  if (cJSON_IsObject(want)) {
    if (!cJSON_IsObject(got)) return false;
    const cJSON *m;
    cJSON_ArrayForEach(m, want) {
      size_t at = strlen(path);
      snprintf(path + at, cap - at, "/%s", m->string);
      if (!matches(m, cJSON_GetObjectItemCaseSensitive(got, m->string), path, cap)) return false;
      path[at] = '\0';
    }
    return true;
  }
  if (cJSON_IsArray(want)) {
    if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got)) return false;
    const cJSON *w = want->child, *g = got->child;
    for (int i = 0; w; i++, w = w->next, g = g->next) {
      size_t at = strlen(path);
      snprintf(path + at, cap - at, "/%d", i);
      if (!matches(w, g, path, cap)) return false;
      path[at] = '\0';
    }
    return true;
  }
  if (!got || (want->type & 0xff) != (got->type & 0xff)) return false;
  if (cJSON_IsNumber(want)) {
    double a = want->valuedouble, b = got->valuedouble;
    if (a == floor(a) && b == floor(b)) return a == b;
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
  }
  if (cJSON_IsString(want)) return !strcmp(want->valuestring, got->valuestring);
  return true; /* null, true, false */
}

/* The topic an expected answer names: "data_topic" under the client's reply
 * topic, "admin" under its admin topic, else the client's reply topic. */
static void want_topic(const cJSON *w, const char *client, char *buf, size_t cap) {
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(w, "data_topic");
  const cJSON *admin = cJSON_GetObjectItemCaseSensitive(w, "admin");
  if (cJSON_IsString(admin))
    snprintf(buf, cap, "$tsdb/admin/%s/%s", client, admin->valuestring);
  else if (cJSON_IsString(data))
    snprintf(buf, cap, "$tsdb/reply/%s/%s", client, data->valuestring);
  else
    snprintf(buf, cap, "$tsdb/reply/%s", client);
}

/* Checks one file; returns false with the reason in why. */
static bool check_file(const char *name, char *why, size_t whylen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", CORPUS, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, whylen, "cannot open it");
    return false;
  }
  static char text[1 << 20];
  size_t tlen = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[tlen] = '\0';
  cJSON *file = cJSON_ParseWithLength(text, tlen);
  bool ok = false;
  static answers as;
  memset(&as, 0, sizeof as);
  char *req = NULL;
  const cJSON *want = cJSON_GetObjectItemCaseSensitive(file, "answers");
  const cJSON *client_j = cJSON_GetObjectItemCaseSensitive(file, "client");
  const cJSON *refused = cJSON_GetObjectItemCaseSensitive(file, "submit_refused");
  const char *client = cJSON_IsString(client_j) ? client_j->valuestring : "corpus";
  size_t len = 0;
  if (!cJSON_IsObject(file) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(file, "about")) ||
      !cJSON_IsArray(want)) {
    snprintf(why, whylen, "not an object with \"about\" and \"answers\"");
    goto out;
  }
  if (!(req = request_bytes(file, &len, why, whylen))) goto out;
  as.client = client;
  bool known = false;
  for (size_t i = 0; i < nclients; i++) known |= !strcmp(clients[i], client);
  if (!known && nclients < sizeof clients / sizeof clients[0]) clients[nclients++] = strdup(client);
  int rc = tsdb_serve_control_submit(corpus_srv, client, req, len);
  if (cJSON_IsString(refused)) { /* refused before it is queued: no answer at all */
    if (strcmp(tsdb_err_name(rc), refused->valuestring)) {
      snprintf(why, whylen, "submit returned %s, want %s", tsdb_err_name(rc), refused->valuestring);
      goto out;
    }
    usleep(50000);
    tsdb_serve_drain(corpus_srv, SIZE_MAX, collect, &as);
    if (as.n) snprintf(why, whylen, "a refused request got %zu answers", as.n);
    if (as.why[0]) snprintf(why, whylen, "%s", as.why);
    ok = as.n == 0 && !as.why[0] && cJSON_GetArraySize(want) == 0;
    goto out;
  }
  if (rc != 0) {
    snprintf(why, whylen, "submit: %s", tsdb_strerror(rc));
    goto out;
  }
  size_t ncmd = command_count(file);
  for (int i = 0; i < 10000 && as.dones < ncmd; i++) {
    if (!tsdb_serve_drain(corpus_srv, SIZE_MAX, collect, &as)) usleep(1000);
  }
  if (as.why[0]) {
    snprintf(why, whylen, "%s", as.why);
    goto out;
  }
  if (as.dones != ncmd) {
    snprintf(why, whylen, "%zu done answers for %zu commands", as.dones, ncmd);
    goto out;
  }
  /* Every command's answers end with its done; the rest is compared. */
  const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(file, "request"), "commands");
  const cJSON *cmd = cJSON_IsArray(cmds) ? cmds->child : NULL;
  const cJSON *w = want->child;
  bool y = name[0] == 'y', any_error = false;
  for (size_t i = 0; i < as.n; i++) {
    const cJSON *got = as.a[i].response;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(got, "done"))) {
      const cJSON *corr = cJSON_GetObjectItemCaseSensitive(cmd, "correlationData");
      char topic[512], where[64] = "";
      snprintf(topic, sizeof topic, "$tsdb/reply/%s", client);
      if (strcmp(as.a[i].topic, topic) ||
          (cJSON_IsString(corr) &&
           !matches(corr, cJSON_GetObjectItemCaseSensitive(got, "correlationData"), where,
                    sizeof where))) {
        snprintf(why, whylen, "done %zu on %s with the wrong correlation data", i, as.a[i].topic);
        goto out;
      }
      if (cmd) cmd = cmd->next;
      continue;
    }
    any_error |= cJSON_GetObjectItemCaseSensitive(got, "error") != NULL;
    char *printed = cJSON_PrintUnformatted(got);
    if (!w) {
      snprintf(why, whylen, "answer %zu is not in the file: %s %s", i, as.a[i].topic,
               printed ? printed : "?");
      free(printed);
      goto out;
    }
    char topic[2048], where[512] = "";
    want_topic(w, client, topic, sizeof topic);
    if (strcmp(topic, as.a[i].topic)) {
      snprintf(why, whylen, "answer %zu is on %.900s, want %.900s", i, as.a[i].topic, topic);
      free(printed);
      goto out;
    }
    if (!matches(cJSON_GetObjectItemCaseSensitive(w, "response"), got, where, sizeof where)) {
      snprintf(why, whylen, "answer %zu differs at %s: %.3000s", i, where[0] ? where : "(root)",
               printed ? printed : "?");
      free(printed);
      goto out;
    }
    free(printed);
    w = w->next;
  }
  if (w) {
    snprintf(why, whylen, "%d answers in the file, fewer came", cJSON_GetArraySize(want));
    goto out;
  }
  if (y && any_error) {
    snprintf(why, whylen, "a y_ request got an error");
    goto out;
  }
  if (!y && !any_error) {
    snprintf(why, whylen, "an n_ request got no error");
    goto out;
  }
  ok = true;
out:
  free(req);
  answers_free(&as);
  cJSON_Delete(file);
  return ok;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file of the corpus starting with `prefix`, in name order, against
 * one database; all failures are listed before the test fails. */
static void run_corpus(char prefix) {
  DIR *d = opendir(CORPUS);
  CHECK_MSG(d != NULL, "cannot open %s", CORPUS);
  char *names[512];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 512) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == prefix && e->d_name[1] == '_' && len > 5 &&
        !strcmp(e->d_name + len - 5, ".json"))
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  CHECK_MSG(n > 0, "no %c_*.json in %s", prefix, CORPUS);
  tsdb_db *db = open_corpus_db();
  size_t failed = 0;
  for (size_t i = 0; i < n; i++) {
    char why[8192] = "";
    if (!check_file(names[i], why, sizeof why)) {
      fprintf(stderr, "%s: %s\n", names[i], why);
      failed++;
    }
    free(names[i]);
  }
  /* What replays still publish. */
  static answers late;
  memset(&late, 0, sizeof late);
  late.client = "corpus";
  for (int i = 0; i < 20; i++) {
    tsdb_serve_drain(corpus_srv, SIZE_MAX, collect, &late);
    usleep(10000);
  }
  if (late.why[0]) {
    fprintf(stderr, "after the files: %s\n", late.why);
    failed++;
  }
  answers_free(&late);
  tsdb_serve_stop(corpus_srv);
  tsdb_close(db);
  tsdb_serve_close(corpus_srv);
  corpus_srv = NULL;
  for (size_t i = 0; i < nclients; i++) free(clients[i]);
  nclients = 0;
  CHECK_MSG(failed == 0, "%zu of %zu %c_ files failed (listed above)", failed, n, prefix);
}

TEST(y_requests_get_their_answers) { run_corpus('y'); }

TEST(n_requests_get_their_refusals) { run_corpus('n'); }
