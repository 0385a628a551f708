/* Engine tests of the $CONTROL commands, archive replay and the result
 * outbox's notifications. */
#include "timeutil.h"
#include "test_engine.h"

typedef struct answer {
  int n;
  char topic[8][256];
  char payload[8][8192];
  bool finished; /* the "done" marker that ends every command arrived */
} answer;

/* Publications that are not answers (a replay's messages, which race with
 * the answer to the replay command) are kept here for the test to take. */
static pubs stray_pubs;

static void collect_answer(void *ud, const tsdb_result *r) {
  answer *a = ud;
  if (r->kind == TSDB_RESULT_PUBLISH && strncmp(r->topic, "$tsdb/reply/", 12) &&
      strncmp(r->topic, "$tsdb/admin/", 12)) {
    collect_pub(&stray_pubs, r);
    return;
  }
  if (r->kind != TSDB_RESULT_PUBLISH || a->n == 8) return;
  snprintf(a->topic[a->n], sizeof a->topic[0], "%s", r->topic);
  snprintf(a->payload[a->n], sizeof a->payload[0], "%.*s", (int)r->payload_len, r->payload);
  if (strstr(a->payload[a->n], "\"done\":true")) a->finished = true;
  a->n++;
}

/* Submits a request and collects its answers up to the done marker that
 * ends every command. */
static void control(tsdb_db *db, const char *client, const char *json, answer *a) {
  memset(a, 0, sizeof *a);
  CHECK_OK(tsdb_serve_control_submit(serve_of(db), client, json, strlen(json)));
  for (int i = 0; i < 1000 && !a->finished; i++) {
    tsdb_serve_drain(serve_of(db), 1, collect_answer, a);
    if (!a->finished) usleep(2000);
  }
  CHECK_MSG(a->finished, "no complete answer to %s", json);
}

/* Commands with one answer (stats, replay, cancel): the answer, then done. */
static void control1(tsdb_db *db, const char *client, const char *json, answer *a) {
  control(db, client, json, a);
  CHECK_INT(a->n, ==, 2);
}

/* Moves the publications control() set aside into p. */
static void take_stray_pubs(pubs *p) {
  for (int i = 0; i < stray_pubs.n && p->n < 64; i++, p->n++) {
    memcpy(p->topics[p->n], stray_pubs.topics[i], sizeof p->topics[0]);
    memcpy(p->payloads[p->n], stray_pubs.payloads[i], sizeof p->payloads[0]);
    p->retain[p->n] = stray_pubs.retain[i];
  }
  stray_pubs.n = 0;
}

TEST(control_commands) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v", "w"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
  for (int i = 0; i < 5; i++) ingest1(db, cls, "city/a/s1/air", 0, 1795679000000 + i, i * 1.5);
  ingest1(db, cls, "city/b/s2/air", 1, 1795679000000, 7);
  answer a;
  /* No sync here: the command must see the points anyway (read your writes). */
  control(db, "me",
          "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"v\","
          "\"from\":1795679000000,\"to\":1795679000010,\"limit\":3,\"correlationData\":\"x1\"}]}",
          &a);
  CHECK_INT(a.n, ==, 2);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air");
  CHECK_MSG(strstr(a.payload[0], "\"correlationData\":\"x1\"") &&
                strstr(a.payload[0], "\"labels\":{\"district\":\"a\",\"station\":\"s1\"}") &&
                strstr(a.payload[0],
                       "\"rows\":[[1795679000000,0],[1795679000001,1.5],[1795679000002,3]]") &&
                strstr(a.payload[0], "\"next\":1795679000003"),
            "%s", a.payload[0]);
  CHECK_STR(a.topic[1], "$tsdb/reply/me");
  CHECK(strstr(a.payload[1], "\"done\":true") &&
        strstr(a.payload[1], "\"correlationData\":\"x1\""));
  /* A filter over several series, answered per series topic; a step with
   * chosen aggregates. */
  control(db, "me",
          "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/+/+/air\",\"step\":\"1m\","
          "\"aggregates\":[\"count\",\"max\"],\"from\":1795678980000,\"to\":1795679040000}]}",
          &a);
  CHECK_INT(a.n, ==, 3);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air");
  CHECK_MSG(strstr(a.payload[0],
                   "\"columns\":[\"start_ms\",\"count\",\"max\"],\"rows\":[[1795678980000,5,6]]"),
            "%s", a.payload[0]);
  CHECK_STR(a.topic[1], "$tsdb/reply/me/city/b/s2/air");
  CHECK(strstr(a.payload[1], "\"field\":\"w\"") && strstr(a.payload[1], "[[1795678980000,1,7]]"));
  /* last and series. */
  control(
      db, "me",
      "{\"commands\":[{\"command\":\"last\",\"topic\":\"city/#\",\"labels\":{\"district\":\"a\"}}]}",
      &a);
  CHECK_INT(a.n, ==, 2);
  CHECK_MSG(strstr(a.payload[0], "\"ts_ms\":1795679000004,\"value\":6"), "%s", a.payload[0]);
  control(db, "me", "{\"commands\":[{\"command\":\"series\",\"topic\":\"city/#\"}]}", &a);
  CHECK_INT(a.n, ==, 3);
  CHECK_MSG(strstr(a.payload[0], "\"fields\":[{\"field\":\"v\"") &&
                strstr(a.payload[0], "\"unit\":\"ug/m3\"") &&
                strstr(a.payload[0], "\"tiers\":[\"1m\"]"),
            "%s", a.payload[0]);
  /* Errors. */
  control(db, "me", "[1,2]", &a);
  CHECK_STR(a.topic[0], "$tsdb/reply/me");
  CHECK(strstr(a.payload[0], "must be an object with a \\\"commands\\\" array") != NULL);
  control(
      db, "me",
      "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"v\",\"limit\":0}]}",
      &a);
  CHECK(strstr(a.payload[0], "'limit' must be a positive integer") != NULL);
  control(db, "me",
          "{\"commands\":[{\"command\":\"query\",\"topic\":\"city/a/s1/air\",\"field\":\"nope\"}]}",
          &a);
  CHECK_STR(a.topic[0], "$tsdb/reply/me/city/a/s1/air"); /* ACL-scoped like the data */
  CHECK(strstr(a.payload[0], "no series for topic 'city/a/s1/air' field 'nope'") != NULL);
  control(db, "me", "{\"commands\":[{\"command\":\"query\",\"topic\":\"nowhere/#\"}]}", &a);
  CHECK_INT(a.n, ==, 1); /* a filter matching nothing: just done, no error */
  CHECK(strstr(a.payload[0], "\"done\":true") != NULL);
  CHECK_INT(tsdb_serve_control_submit(serve_of(db), "a/b", "{}", 2), ==, TSDB_EINVAL);
  CHECK_INT(tsdb_serve_control_submit(serve_of(db), "a+", "{}", 2), ==, TSDB_EINVAL);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* Six archived messages, arriving a second apart from 1795679100000, on
 * city/a/s1/air (even) and city/b/s2/air (odd), payload {"v":i}. */
static void archive_six(tsdb_db *db, tsdb_series_class *cls) {
  for (int i = 0; i < 6; i++) {
    char payload[64];
    snprintf(payload, sizeof payload, "{\"v\":%d}", i);
    tsdb_point p = {1795679000000 + i, i, 0};
    const char *topic = i % 2 ? "city/b/s2/air" : "city/a/s1/air";
    tsdb_ingest_msg m = {.cls = cls,
                         .topic = topic,
                         .topic_len = strlen(topic),
                         .points = &p,
                         .npoints = 1,
                         .payload = payload,
                         .payload_len = strlen(payload),
                         .arrival_ms = 1795679100000 + i * 1000};
    CHECK_OK(tsdb_ingest(db, &m));
  }
}

/* Drains publications into p until one on `topic` contains `needle` (or
 * about 10 s pass); returns its index, or -1. */
static int drain_until(tsdb_db *db, pubs *p, const char *topic, const char *needle) {
  take_stray_pubs(p);
  for (int i = 0; i < 10000; i++) {
    for (int k = 0; k < p->n; k++)
      if (!strcmp(p->topics[k], topic) && strstr(p->payloads[k], needle)) return k;
    if (p->n < 64) tsdb_serve_drain(serve_of(db), 1, collect_pub, p);
    usleep(1000);
  }
  return -1;
}

TEST(archive_replay_and_cancel) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  archive_six(db, cls);
  answer a;
  control1(db, "op",
           "{\"commands\":[{\"command\":\"replay\",\"topic\":\"city/a/#\",\"from\":1795679100000,"
           "\"to\":1795679105000,\"id\":\"x\"}]}",
           &a);
  CHECK_MSG(strstr(a.payload[0], "\"replay\":\"x\"") && strstr(a.payload[0], "\"speed\":\"max\""),
            "%s", a.payload[0]);
  /* The replayed messages, then the progress message "done", which says
   * nothing about them: no count, and for "max" no position. */
  static pubs p;
  p.n = 0;
  CHECK_INT(drain_until(db, &p, "$tsdb/replay/op/x", "\"state\":\"done\""), ==, 3);
  CHECK_STR(p.topics[0], "$tsdb/replay/op/x/city/a/s1/air");
  CHECK_STR(p.payloads[0], "{\"v\":0}");
  CHECK_STR(p.payloads[1], "{\"v\":2}");
  CHECK_STR(p.payloads[2], "{\"v\":4}"); /* arrival 1795679104000 < to */
  CHECK_STR(p.payloads[3], "{\"replay\":\"x\",\"state\":\"done\"}");
  /* A slow replay (x 0.001: a second of archive per 1000 s) is cancelled. */
  control1(db, "op",
           "{\"commands\":[{\"command\":\"replay\",\"topic\":\"#\",\"from\":1795679100000,"
           "\"to\":1795679106000,\"speed\":0.001,\"id\":\"slow\"}]}",
           &a);
  /* Its first message arrived at `from`: it goes at once; the next is 1000 s
   * away. */
  p.n = 0;
  CHECK(drain_until(db, &p, "$tsdb/replay/op/slow/city/a/s1/air", "{\"v\":0}") >= 0);
  control1(db, "someone-else", "{\"commands\":[{\"command\":\"cancel\",\"replay\":\"slow\"}]}", &a);
  CHECK(strstr(a.payload[0], "no replay 'slow' of yours is running") != NULL);
  control1(db, "op", "{\"commands\":[{\"command\":\"cancel\",\"replay\":\"slow\"}]}", &a);
  CHECK(strstr(a.payload[0], "\"cancelled\":true") != NULL);
  p.n = 0;
  int k = drain_until(db, &p, "$tsdb/replay/op/slow", "\"state\":\"cancelled\"");
  CHECK(k >= 0);
  /* Its position is where the clock had taken it: a few ms of archive time. */
  long long pos = -1;
  CHECK_MSG(sscanf(p.payloads[k],
                   "{\"replay\":\"slow\",\"state\":\"cancelled\",\"position_ms\":%lld}", &pos) == 1,
            "%s", p.payloads[k]);
  CHECK_INT(pos, >=, 1795679100000);
  CHECK_INT(pos, <, 1795679101000);
  CHECK(strstr(p.payloads[k], "sent") == NULL);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* Progress never depends on which messages matched (the broker's ACL may
 * withhold any of them from the requester): a replay of messages and one of
 * nothing report the same, paced ones on the clock over the whole range. */
TEST(replay_progress_does_not_depend_on_the_messages) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"v"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 1, tiers, 1, TSDB_DUP_LAST);
  archive_six(db, cls);
  answer a;
  static pubs p;
  /* "max": the same final message, whether three messages matched or none. */
  const char *max_done = "{\"replay\":\"m\",\"state\":\"done\"}";
  for (int round = 0; round < 2; round++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "{\"commands\":[{\"command\":\"replay\",\"topic\":\"%s\",\"from\":"
             "1795679100000,\"to\":1795679105000,\"id\":\"m\"}]}",
             round ? "city/none/#" : "city/a/#");
    control1(db, "op", cmd, &a);
    p.n = 0;
    int k = drain_until(db, &p, "$tsdb/replay/op/m", "\"state\":");
    CHECK(k >= 0);
    CHECK_STR(p.payloads[k], max_done);
    CHECK_INT(k, ==, round ? 0 : 3);
  }
  /* Paced at x4 over 5 s of archive: 1.25 s, a "running" at 1 s with the
   * clock's position, then "done" at `to`; the same with nothing matching. */
  const int64_t from = 1795679100000, to = 1795679105000;
  for (int round = 0; round < 2; round++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "{\"commands\":[{\"command\":\"replay\",\"topic\":\"%s\",\"from\":"
             "%lld,\"to\":%lld,\"speed\":4,\"id\":\"p\"}]}",
             round ? "city/none/#" : "city/a/#", (long long)from, (long long)to);
    int64_t t0 = tsdb_time__monotonic_ms();
    control1(db, "op", cmd, &a);
    CHECK_MSG(strstr(a.payload[0], "\"speed\":4"), "%s", a.payload[0]);
    p.n = 0;
    int k = drain_until(db, &p, "$tsdb/replay/op/p", "\"state\":\"done\"");
    int64_t took = tsdb_time__monotonic_ms() - t0;
    CHECK(k >= 0);
    /* The range, not the last message (at 1 s), decides the end. */
    CHECK_INT(took, >=, 1250 - 2);
    char want[128];
    snprintf(want, sizeof want, "{\"replay\":\"p\",\"state\":\"done\",\"position_ms\":%lld}",
             (long long)to);
    CHECK_STR(p.payloads[k], want);
    int running = 0, messages = 0;
    for (int i = 0; i < k; i++) {
      if (!strncmp(p.topics[i], "$tsdb/replay/op/p/", 18)) {
        messages++;
        continue;
      }
      CHECK_STR(p.topics[i], "$tsdb/replay/op/p");
      long long pos;
      CHECK_MSG(sscanf(p.payloads[i],
                       "{\"replay\":\"p\",\"state\":\"running\",\"position_ms\":%lld}", &pos) == 1,
                "%s", p.payloads[i]);
      CHECK_INT(pos, >=, from + 3900); /* about 1 s at x4 */
      CHECK_INT(pos, <=, to);
      running++;
    }
    CHECK_INT(running, >=, 1);
    CHECK_INT(messages, ==, round ? 0 : 3);
  }
  close_db(db);
  tsdb_series_class_release(cls);
}

static atomic_int notified;
static void count_notify(void *ud) {
  (void)ud;
  atomic_fetch_add(&notified, 1);
}

/* The host hears once that results wait, until a drain starts; a drain that
 * leaves results behind says so again. */
TEST(results_notify_once_per_drain) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.path = unit_path("db");
  o.queue_bytes = 1 << 20;
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  so.results_notify_fn = count_notify;
  tsdb_db *db = open_db_with(&o, &so);
  /* The "opened" log line waits: announced once. */
  CHECK_INT(tsdb_serve_pending(serve_of(db)), >=, 1);
  CHECK_INT(atomic_load(&notified), ==, 1);
  static pubs p;
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  /* Three answers while nobody drains: one notification. */
  int before = atomic_load(&notified);
  for (int i = 0; i < 3; i++) {
    const char *req = "{\"commands\":[{\"command\":\"stats\"}]}";
    CHECK_OK(tsdb_serve_control_submit(serve_of(db), "me", req, strlen(req)));
  }
  for (int i = 0; i < 5000 && tsdb_serve_pending(serve_of(db)) < 3; i++) usleep(1000);
  CHECK_INT(tsdb_serve_pending(serve_of(db)), >=, 3);
  CHECK_INT(atomic_load(&notified), ==, before + 1);
  /* One drained, the rest announced again by the drain itself. */
  CHECK_INT(tsdb_serve_drain(serve_of(db), 1, collect_pub, &p), ==, 1);
  CHECK_INT(atomic_load(&notified), ==, before + 2);
  tsdb_serve_drain(serve_of(db), 1000, collect_pub, &p);
  int after = atomic_load(&notified);
  const char *req = "{\"commands\":[{\"command\":\"stats\"}]}";
  CHECK_OK(tsdb_serve_control_submit(serve_of(db), "me", req, strlen(req)));
  for (int i = 0; i < 5000 && atomic_load(&notified) == after; i++) usleep(1000);
  CHECK_INT(atomic_load(&notified), >, after);
  close_db(db);
}
