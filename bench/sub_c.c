/*
 * sub_c: the "best case" DIY pipeline subscriber, as a careful C programmer
 * would write it: libmosquitto receives the air-quality JSON messages, cJSON
 * parses them, each becomes one InfluxDB line-protocol line, and batches go
 * out over one kept-alive HTTP connection to InfluxDB's or VictoriaMetrics'
 * /write endpoint.
 *
 *   sub_c --port MQTT_PORT --http-port PORT --target influx|vm --measurement NAME
 *         [--filter city/+/+/air] [--qos 0|1] [--batch LINES] [--flush-ms MS] [--id ID]
 *
 * DESIGN
 *   libmosquitto's network thread (mosquitto_loop_start) runs the message
 *   callback: parse, format, append to the open batch under a mutex. The main
 *   thread swaps the batch out every --flush-ms or when it holds --batch lines
 *   and POSTs it, so receiving never waits for HTTP. Nothing bounds the open
 *   batch: if the database is slower than the broker, memory grows (and the
 *   broker drops what this client cannot read in time, which is the loss the
 *   benchmark counts).
 *   SIGTERM or SIGINT: disconnect, send what is left, print one JSON line of
 *   counters (received, lines, batches, HTTP errors, parse errors) and exit.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/bench_common.h"

static struct {
  int port, http_port, qos, batch, flush_ms;
  bool vm;
  const char *measurement, *filter, *id;
} opt = {.qos = 0, .batch = 5000, .flush_ms = 100, .filter = "city/+/+/air", .id = "sub-c"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t full = PTHREAD_COND_INITIALIZER;
static bc_buf open_batch;
static int open_lines;
static uint64_t received, parse_errors;
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

/* "2026-11-26T09:15:00.123Z" to ms since the epoch; -1 if not that form. */
static int64_t parse_rfc3339(const char *s) {
  static __thread char cached[20];
  static __thread int64_t cached_s;
  if (strlen(s) < 20 || s[4] != '-' || s[10] != 'T') return -1;
  int64_t sec;
  if (!memcmp(s, cached, 19)) {
    sec = cached_s;
  } else {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
      return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    sec = (int64_t)timegm(&tm);
    memcpy(cached, s, 19);
    cached_s = sec;
  }
  int64_t ms = 0;
  if (s[19] == '.') ms = strtol(s + 20, NULL, 10);
  return sec * 1000 + ms;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  (void)m;
  (void)ud;
  /* city/<district>/<station>/air */
  char district[64], station[64];
  const char *t = msg->topic;
  const char *a = strchr(t, '/'), *b = a ? strchr(a + 1, '/') : NULL,
             *c = b ? strchr(b + 1, '/') : NULL;
  cJSON *doc = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
  __atomic_add_fetch(&received, 1, __ATOMIC_RELAXED);
  if (!c || !doc || (size_t)(b - a - 1) >= sizeof district ||
      (size_t)(c - b - 1) >= sizeof station) {
    __atomic_add_fetch(&parse_errors, 1, __ATOMIC_RELAXED);
    cJSON_Delete(doc);
    return;
  }
  snprintf(district, sizeof district, "%.*s", (int)(b - a - 1), a + 1);
  snprintf(station, sizeof station, "%.*s", (int)(c - b - 1), b + 1);
  cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, "ts");
  int64_t ms = cJSON_IsString(ts) ? parse_rfc3339(ts->valuestring) : -1;
  char line[512];
  int n =
      snprintf(line, sizeof line, "%s,district=%s,station=%s ", opt.measurement, district, station);
  int fields = 0;
  for (cJSON *f = doc->child; f; f = f->next) {
    if (!cJSON_IsNumber(f) || !f->string) continue;
    n += snprintf(line + n, sizeof line - (size_t)n, "%s%s=%.17g", fields ? "," : "", f->string,
                  f->valuedouble);
    fields++;
    if ((size_t)n >= sizeof line - 64) break;
  }
  n += snprintf(line + n, sizeof line - (size_t)n, " %" PRId64 "\n", ms);
  cJSON_Delete(doc);
  if (ms < 0 || !fields) {
    __atomic_add_fetch(&parse_errors, 1, __ATOMIC_RELAXED);
    return;
  }
  pthread_mutex_lock(&lock);
  bc_buf_put(&open_batch, line, (size_t)n);
  if (++open_lines >= opt.batch) pthread_cond_signal(&full);
  pthread_mutex_unlock(&lock);
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
  (void)ud;
  if (rc == 0) mosquitto_subscribe(m, NULL, opt.filter, opt.qos);
}

int main(int argc, char **argv) {
  const char *target = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--port"))
      opt.port = atoi(v);
    else if (!strcmp(k, "--http-port"))
      opt.http_port = atoi(v);
    else if (!strcmp(k, "--target"))
      target = v;
    else if (!strcmp(k, "--measurement"))
      opt.measurement = v;
    else if (!strcmp(k, "--filter"))
      opt.filter = v;
    else if (!strcmp(k, "--qos"))
      opt.qos = atoi(v);
    else if (!strcmp(k, "--batch"))
      opt.batch = atoi(v);
    else if (!strcmp(k, "--flush-ms"))
      opt.flush_ms = atoi(v);
    else if (!strcmp(k, "--id"))
      opt.id = v;
    else {
      fprintf(stderr, "sub_c: unknown option %s\n", k);
      return 2;
    }
  }
  if (!opt.port || !opt.http_port || !target || !opt.measurement ||
      (strcmp(target, "vm") && strcmp(target, "influx"))) {
    fprintf(stderr,
            "usage: sub_c --port P --http-port P --target influx|vm --measurement NAME "
            "[--filter F] [--qos Q] [--batch N] [--flush-ms MS] [--id ID]\n");
    return 2;
  }
  opt.vm = !strcmp(target, "vm");
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  mosquitto_lib_init();
  struct mosquitto *m = mosquitto_new(opt.id, true, NULL);
  if (!m) return 1;
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_message_callback_set(m, on_message);
  if (mosquitto_connect(m, "127.0.0.1", opt.port, 60) != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "sub_c: cannot connect to the broker on %d\n", opt.port);
    return 1;
  }
  mosquitto_loop_start(m);

  bh_conn http;
  bh_init(&http, "127.0.0.1", opt.http_port);
  const char *path = opt.vm ? "/write?precision=ms" : "/write?db=bench&precision=ms";
  bc_buf sending = {0}, answer = {0};
  uint64_t lines = 0, batches = 0, http_errors = 0;
  fprintf(stderr, "sub_c: ready\n");
  for (;;) {
    bool last = stop_flag;
    if (last) {
      mosquitto_disconnect(m);
      mosquitto_loop_stop(m, false);
    }
    pthread_mutex_lock(&lock);
    if (!last && open_lines < opt.batch) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += (long)opt.flush_ms * 1000000;
      until.tv_sec += until.tv_nsec / 1000000000;
      until.tv_nsec %= 1000000000;
      pthread_cond_timedwait(&full, &lock, &until);
    }
    bc_buf tmp = open_batch;
    open_batch = sending;
    open_batch.len = 0;
    sending = tmp;
    int n = open_lines;
    open_lines = 0;
    pthread_mutex_unlock(&lock);
    if (n > 0) {
      int status = bh_request(&http, "POST", path, "text/plain", sending.p, sending.len, &answer);
      if (status < 200 || status > 299) {
        http_errors++;
        fprintf(stderr, "sub_c: write answered %d: %.200s\n", status,
                answer.p ? (char *)answer.p : "");
      } else {
        lines += (uint64_t)n;
      }
      batches++;
    }
    if (last) break;
  }
  printf("{\"received\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"batches\":%" PRIu64
         ",\"http_errors\":%" PRIu64 ",\"parse_errors\":%" PRIu64 "}\n",
         received, lines, batches, http_errors, parse_errors);
  fflush(stdout);
  bh_close(&http);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
