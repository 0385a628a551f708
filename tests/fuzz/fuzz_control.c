/*
 * libFuzzer target: $CONTROL/tsdb/v1 requests, which any MQTT client may
 * send (serve/src/control.c). The parser is the command runner itself, so
 * the target runs a real engine: one database, opened once on a temporary
 * directory with a fixed clock and a few series (one with a topic longer
 * than a kilobyte, one with quotes and non-ASCII text in its topic), takes
 * each input as a request from client "fuzz" (or, when it starts with a
 * space, from a client whose id is 300 bytes long) through
 * tsdb_serve_control_submit(), then a sentinel request, and drains the results
 * until the sentinel's answer. With one control thread, answers leave in
 * request order, and every command ends with a "done" answer, so the
 * answers of each command of the input are known. Whatever the bytes:
 *   - every answer and replay progress message is valid JSON, strictly (RFC
 *     8259: UTF-8, each name once), {"responses":[{"command":..}]}, on a
 *     topic that is valid UTF-8 and holds no wildcard, in the requester's
 *     own namespaces ($tsdb/reply/<id>, $tsdb/admin/<id>, $tsdb/replay/<id>
 *     for the exact id: on_acl.c lets only that client read them);
 *   - each command of the request (one, when the request is not an object
 *     with a "commands" array) gets exactly one "done", with its command
 *     name and correlation data;
 *   - the ACL rule of the answers (README: ACLs): an answer about a series
 *     is published on $tsdb/reply/<id>/<its topic>, and the error about a
 *     plain topic without series on the reply topic of that very topic;
 *   - nothing leaks (ASan).
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "jsonschema_internal.h"
#include "rfc8259.h"
#include "tsdb/serve.h"
#include "tsdb/topic.h"
#include "tsdb/tsdb.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                  \
  do {                                             \
    fprintf(stderr, "fuzz_control: " __VA_ARGS__); \
    fprintf(stderr, "\n");                         \
    abort();                                       \
  } while (0)

#define NOW INT64_C(1795680000000)
#define MAX_ANSWERS 4096

static tsdb_db *db;
static tsdb_serve *srv;
static char dir[4096];
static uint64_t sentinels;
/* The requester: "fuzz", or, for a request that starts with a space (JSON
 * whitespace, so the request means the same), a client whose id is longer
 * than the engine's fixed buffers ever were. */
static const char *const short_client = "fuzz";
static char long_client[301];
static const char *client;
static char reply[512]; /* $tsdb/reply/<client> */

/* Results are announced through results_notify_fn; the fuzzer sleeps on a
 * condition variable until then. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool announced;

static void notify(void *ud) {
  (void)ud;
  pthread_mutex_lock(&lock);
  announced = true;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&lock);
}

static int64_t fixed_clock(void *ud) {
  (void)ud;
  return NOW;
}

static void quiet(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  (void)msg;
}

/* ---- the database ---- */

static tsdb_series_class *make_class(const char *tpl, const char *const *fields, size_t n, int dup,
                                     const tsdb_label *labels, size_t nlabels) {
  static const char *const units[] = {"ug/m3", "Cel"};
  static const int64_t tiers[] = {60000, 3600000};
  tsdb_series_class_desc d = {.schema_id = "fuzz",
                              .schema_version = 1,
                              .topic_template = tpl,
                              .nfields = n,
                              .field_names = fields,
                              .units = units,
                              .ntiers = 2,
                              .tiers_ms = tiers,
                              .dup_policy = dup,
                              .nlabels = nlabels,
                              .labels = labels};
  tsdb_series_class *cls = NULL;
  if (tsdb_series_class_create(&d, &cls) != 0) FAIL("cannot make a class for %s", tpl);
  return cls;
}

/* Two hours of minutes before NOW, every message archived for replay. */
static void ingest(tsdb_series_class *cls, const char *topic, size_t nfields, double base) {
  for (int i = 0; i < 120; i++) {
    tsdb_point p[2];
    for (size_t f = 0; f < nfields; f++)
      p[f] = (tsdb_point){NOW - 7200000 + i * 60000, base + (i % 7) + (double)f / 10, (uint32_t)f};
    char payload[64];
    snprintf(payload, sizeof payload, "{\"i\":%d}", i);
    tsdb_ingest_msg m = {.cls = cls,
                         .topic = topic,
                         .topic_len = strlen(topic),
                         .points = p,
                         .npoints = nfields,
                         .payload = payload,
                         .payload_len = strlen(payload),
                         .arrival_ms = NOW - 7200000 + i * 60000};
    int rc;
    while ((rc = tsdb_ingest(db, &m)) == TSDB_EFULL) usleep(1000);
    if (rc) FAIL("ingest: %s", tsdb_strerror(rc));
  }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void close_db(void) {
  tsdb_serve_stop(srv);
  tsdb_close(db);
  tsdb_serve_close(srv);
  db = NULL;
  srv = NULL;
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void drop_result(void *ud, const tsdb_result *r) {
  (void)ud;
  (void)r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/tsdb-fuzz-control-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) FAIL("mkdtemp %s: %s", dir, strerror(errno));
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = dir;
  o.queue_bytes = 4 << 20;
  o.flush_interval_ms = 1;
  o.grace_ms = 1000;
  o.cache_mb = 8;
  o.partial_interval_ms = 0;
  o.clock_fn = fixed_clock;
  o.log_fn = quiet;
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  so.max_answer_rows = 100; /* the paging path, at a fuzzer's pace */
  so.results_notify_fn = notify;
  so.log_fn = quiet;
  char err[256];
  if (tsdb_serve_open(&so, &srv, err, sizeof err) != 0) FAIL("tsdb_serve_open: %s", err);
  tsdb_serve_engine_options(srv, &o);
  o.bucket_fn = NULL; /* commands only: no live aggregates */
  if (tsdb_open(&o, &db, err, sizeof err) != 0) FAIL("tsdb_open: %s", err);
  if (tsdb_serve_start(srv, db, err, sizeof err) != 0) FAIL("tsdb_serve_start: %s", err);
  memset(long_client, 'z', sizeof long_client - 1);
  memcpy(long_client, "fuzz-", 5);
  atexit(close_db);
  static const char *const fields[] = {"pm25", "temp"};
  static const tsdb_label labels[] = {{"city", "berlin"}, {"district", "static"}};
  tsdb_series_class *air =
      make_class("city/{district}/{station}/air", fields, 2, TSDB_DUP_LAST, labels, 2);
  tsdb_series_class *one = make_class("{a}/{b}", fields, 1, TSDB_DUP_REJECT, NULL, 0);
  ingest(air, "city/mitte/s1/air", 2, 10);
  ingest(air, "city/pankow/s2/air", 2, 20);
  ingest(air, "city/m\"itte\\/caf\xc3\xa9/air", 1, 30);
  char long_topic[1200];
  memset(long_topic, 'x', sizeof long_topic);
  memcpy(long_topic, "city/", 5);
  memcpy(long_topic + sizeof long_topic - 8, "/s3/air", 8);
  ingest(air, long_topic, 1, 40);
  ingest(one, "plain/topic", 1, 50);
  if (tsdb_sync(db) != 0) FAIL("sync");
  tsdb_series_class_release(air);
  tsdb_series_class_release(one);
  while (tsdb_serve_drain(srv, 1000, drop_result, NULL) > 0) {
  }
  return 0;
}

/* ---- answers ---- */

typedef struct answer {
  char *topic;
  cJSON *json; /* the one response */
} answer;

typedef struct answers {
  answer a[MAX_ANSWERS];
  size_t n;
  char sentinel[64];
  bool finished; /* the sentinel's done arrived */
} answers;

static bool utf8_valid(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    if ((unsigned char)s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = ingest_jsonschema__utf8_seq((const unsigned char *)s + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

static void strict_json(const char *topic, const char *payload, size_t len) {
  ingest_rfc8259_result r;
  ingest_rfc8259_status st = ingest_rfc8259__check(payload, len, 64, &r);
  if (st != INGEST_RFC8259_OK)
    FAIL("the payload on %.200s is not valid JSON (%d: %s at %zu): %.*s", topic, (int)st,
         r.why ? r.why : "", r.where, (int)(len < 2000 ? len : 2000), payload);
}

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
  size_t tlen = strlen(r->topic);
  if (!tsdb_topic_name_valid(r->topic, tlen) || !utf8_valid(r->topic, tlen))
    FAIL("a publication on a topic that is not valid: %.300s", r->topic);
  /* Replays run on after their request: those of either client. */
  const char *owner = in_namespace(r->topic, "replay", short_client)  ? short_client
                      : in_namespace(r->topic, "replay", long_client) ? long_client
                                                                      : NULL;
  if (owner) {
    /* Progress ($tsdb/replay/<client>/<id>) is JSON; the messages below it
     * are what was archived. */
    if (!strchr(r->topic + 14 + strlen(owner), '/'))
      strict_json(r->topic, r->payload, r->payload_len);
    return;
  }
  if (!in_namespace(r->topic, "reply", client) && !in_namespace(r->topic, "admin", client))
    FAIL("a publication outside the requester's namespaces: %.400s", r->topic);
  strict_json(r->topic, r->payload, r->payload_len);
  cJSON *j = cJSON_ParseWithLength(r->payload, r->payload_len);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "responses");
  const cJSON *one = cJSON_IsArray(list) && cJSON_GetArraySize(list) == 1 ? list->child : NULL;
  if (!cJSON_IsObject(one) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(one, "command")))
    FAIL("an answer that is not {\"responses\":[{\"command\":..}]}: %.*s", (int)r->payload_len,
         r->payload);
  const cJSON *corr = cJSON_GetObjectItemCaseSensitive(one, "correlationData");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(one, "done")) && cJSON_IsString(corr) &&
      !strcmp(corr->valuestring, as->sentinel)) {
    as->finished = true;
    cJSON_Delete(j);
    return;
  }
  if (cJSON_IsString(corr) && !strcmp(corr->valuestring, as->sentinel)) { /* its error */
    cJSON_Delete(j);
    return;
  }
  if (as->n == MAX_ANSWERS) FAIL("more than %d answers", MAX_ANSWERS);
  as->a[as->n].topic = strdup(r->topic);
  as->a[as->n].json = cJSON_DetachItemViaPointer((cJSON *)list, (cJSON *)one);
  if (!as->a[as->n].topic) abort();
  as->n++;
  cJSON_Delete(j);
}

static void wait_for_answers(answers *as) {
  while (!as->finished) {
    pthread_mutex_lock(&lock);
    while (!announced) pthread_cond_wait(&cv, &lock);
    announced = false;
    pthread_mutex_unlock(&lock);
    tsdb_serve_drain(srv, SIZE_MAX, collect, as);
  }
}

/* ---- the checks of one command's answers ---- */

static const char *string_member(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Answers a[0..n) of one command (its done included, last). */
static void check_command(const cJSON *cmd, const answer *a, size_t n) {
  const answer *done = &a[n - 1];
  const char *name = cJSON_IsObject(cmd) ? string_member(cmd, "command") : NULL;
  const char *want_name = name ? name : "unknown";
  const char *got = string_member(done->json, "command");
  /* Known commands are answered by their table name, unknown ones by what
   * the request said: the same text either way. */
  if (strcmp(got, want_name)) FAIL("the done of command '%.100s' says '%.100s'", want_name, got);
  if (strcmp(done->topic, reply)) FAIL("a done on %.300s", done->topic);
  const char *corr = cJSON_IsObject(cmd) ? string_member(cmd, "correlationData") : NULL;
  const char *got_corr = string_member(done->json, "correlationData");
  if ((corr == NULL) != (got_corr == NULL) || (corr && strcmp(corr, got_corr)))
    FAIL("the done of '%.100s' carries the wrong correlation data", want_name);
  const char *plain = cJSON_IsObject(cmd) ? string_member(cmd, "topic") : NULL;
  if (plain && strpbrk(plain, "+#")) plain = NULL;
  for (size_t i = 0; i + 1 < n; i++) {
    const cJSON *o = a[i].json;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "done")))
      FAIL("command '%.100s' has two done answers", want_name);
    if (strcmp(string_member(o, "command"), want_name))
      FAIL("an answer of command '%.100s' says '%.100s'", want_name, string_member(o, "command"));
    const char *topic = string_member(o, "topic");
    bool about_series = cJSON_GetObjectItemCaseSensitive(o, "field") ||
                        cJSON_GetObjectItemCaseSensitive(o, "fields");
    if (about_series) {
      if (!topic || strncmp(a[i].topic, reply, strlen(reply)) || a[i].topic[strlen(reply)] != '/' ||
          strcmp(a[i].topic + strlen(reply) + 1, topic))
        FAIL("an answer about series '%.200s' is published on '%.300s'", topic ? topic : "?",
             a[i].topic);
    }
    const char *error = string_member(o, "error");
    if (error && plain && !strncmp(error, "no series for topic '", 21)) {
      if (strncmp(a[i].topic, reply, strlen(reply)) || a[i].topic[strlen(reply)] != '/' ||
          strcmp(a[i].topic + strlen(reply) + 1, plain))
        FAIL("the error about topic '%.200s' is published on '%.300s'", plain, a[i].topic);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static answers as;
  memset(&as, 0, sizeof as);
  snprintf(as.sentinel, sizeof as.sentinel, "fuzz-sentinel-%llu", (unsigned long long)++sentinels);
  char sentinel[128];
  int sl = snprintf(sentinel, sizeof sentinel,
                    "{\"commands\":[{\"command\":\"sentinel\",\"correlationData\":\"%s\"}]}",
                    as.sentinel);
  /* Exactly the request's bytes: the engine copies them. */
  char *req = malloc(size ? size : 1);
  if (!req) abort();
  memcpy(req, data, size);
  client = size && data[0] == ' ' ? long_client : short_client;
  snprintf(reply, sizeof reply, "$tsdb/reply/%s", client);
  int rc = tsdb_serve_control_submit(srv, client, req, size);
  free(req);
  if (rc != 0) FAIL("submit: %s", tsdb_strerror(rc));
  if (tsdb_serve_control_submit(srv, client, sentinel, (size_t)sl) != 0)
    FAIL("submit the sentinel");
  wait_for_answers(&as);

  /* The commands as the engine reads them: UTF-8 (RFC 8259 section 8.1),
   * then cJSON, as control.c. */
  cJSON *root =
      utf8_valid((const char *)data, size) ? cJSON_ParseWithLength((const char *)data, size) : NULL;
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "commands");
  size_t ncmd = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 1;
  const cJSON *cmd = cJSON_IsArray(list) ? list->child : NULL;
  size_t start = 0, k = 0;
  for (size_t i = 0; i < as.n; i++) {
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(as.a[i].json, "done"))) continue;
    if (k == ncmd) FAIL("more done answers than the %zu commands", ncmd);
    check_command(cmd, as.a + start, i + 1 - start);
    if (cmd) cmd = cmd->next;
    start = i + 1;
    k++;
  }
  if (k != ncmd || start != as.n)
    FAIL("%zu done answers for %zu commands, %zu answers after the last", k, ncmd, as.n - start);
  cJSON_Delete(root);
  for (size_t i = 0; i < as.n; i++) {
    free(as.a[i].topic);
    cJSON_Delete(as.a[i].json);
  }
  return 0;
}
