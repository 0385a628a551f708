/*
 * ingest_bench: what the broker thread spends on one message in
 * ingest_schema_process() (decode + JSON Schema validation + timestamp +
 * extraction), for the targets of issue 4:
 *
 *   JSON, ~200 bytes, 6 numeric fields       <= 1.5 us
 *   the same content as MessagePack          <= 1.0 us
 *   a refused message                        <= an accepted one
 *
 * CPU time of this thread (CLOCK_THREAD_CPUTIME_ID) over many iterations,
 * the median of several runs, in ns per message. The parser alone (cJSON,
 * msgpack-c) is measured too, to show where the time goes.
 *
 *   ingest_bench [--iterations N] [--runs R]
 */
#include "lib/bench_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "ingest/schema.h"
#include "rfc8259.h"

static const char schema_text[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"required\":[\"ts\",\"temperature\",\"humidity\",\"pressure\"],\"additionalProperties\":false,"
    "\"properties\":{"
    "\"station\":{\"type\":\"string\",\"maxLength\":32},"
    "\"ts\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"temperature\":{\"type\":\"number\",\"minimum\":-50,\"maximum\":60},"
    "\"humidity\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100},"
    "\"pressure\":{\"type\":\"number\",\"minimum\":850,\"maximum\":1100},"
    "\"wind_speed\":{\"type\":\"number\",\"minimum\":0,\"maximum\":75},"
    "\"wind_direction\":{\"type\":\"number\",\"minimum\":0,\"exclusiveMaximum\":360},"
    "\"rain_1h\":{\"type\":\"number\",\"minimum\":0,\"maximum\":300},"
    "\"firmware\":{\"type\":\"string\",\"maxLength\":32}},"
    "\"x-tsdb\":{\"id\":\"bench\",\"version\":1,\"topic\":\"city/{district}/{station}/weather\","
    "\"format\":\"%s\",\"timestamp\":{\"pointer\":\"/ts\",\"format\":\"rfc3339\"},"
    "\"measurements\":{"
    "\"temperature\":{\"pointer\":\"/temperature\",\"unit\":\"Cel\"},"
    "\"humidity\":{\"pointer\":\"/humidity\",\"unit\":\"%%RH\"},"
    "\"pressure\":{\"pointer\":\"/pressure\",\"unit\":\"hPa\"},"
    "\"wind_speed\":{\"pointer\":\"/wind_speed\",\"unit\":\"m/s\"},"
    "\"wind_direction\":{\"pointer\":\"/wind_direction\",\"unit\":\"deg\"},"
    "\"rain_1h\":{\"pointer\":\"/rain_1h\",\"unit\":\"mm\"}}}}";

#define TOPIC "city/tempelhof/wx-03/weather"
#define ARRIVAL INT64_C(1795684800000)

/* 6 numeric fields, a timestamp and two strings: 200 bytes. */
static const char accepted_json[] =
    "{\"station\":\"wx-tempelhof-03\",\"ts\":\"2026-11-26T09:15:00.000Z\",\"temperature\":4.52,"
    "\"humidity\":81.3,\"pressure\":1013.25,\"wind_speed\":3.4,\"wind_direction\":245,"
    "\"rain_1h\":0.2,\"firmware\":\"2.4.1-rc3-build-17\"}";
/* Refused at the first measured field (early) and at the last (late). */
static const char refused_early_json[] =
    "{\"station\":\"wx-tempelhof-03\",\"ts\":\"2026-11-26T09:15:00.000Z\",\"temperature\":94.52,"
    "\"humidity\":81.3,\"pressure\":1013.25,\"wind_speed\":3.4,\"wind_direction\":245,"
    "\"rain_1h\":0.2,\"firmware\":\"2.4.1-rc3-build-17\"}";
static const char refused_late_json[] =
    "{\"station\":\"wx-tempelhof-03\",\"ts\":\"2026-11-26T09:15:00.000Z\",\"temperature\":4.52,"
    "\"humidity\":81.3,\"pressure\":1013.25,\"wind_speed\":3.4,\"wind_direction\":245,"
    "\"rain_1h\":-0.2,\"firmware\":\"2.4.1-rc3-build-17\"}";

/* Issue 12: refused by the strict decoder, not by the schema. */
static const char not_json[] =
    "{\"station\":\"wx-tempelhof-03\",\"ts\":\"2026-11-26T09:15:00.000Z\",\"temperature\":04.52,"
    "\"humidity\":81.3,\"pressure\":1013.25,\"wind_speed\":3.4,\"wind_direction\":245,"
    "\"rain_1h\":0.2,\"firmware\":\"2.4.1-rc3-build-17\"}";
static const char name_twice[] =
    "{\"station\":\"wx-tempelhof-03\",\"ts\":\"2026-11-26T09:15:00.000Z\",\"temperature\":4.52,"
    "\"humidity\":81.3,\"pressure\":1013.25,\"wind_speed\":3.4,\"wind_direction\":245,"
    "\"rain_1h\":0.2,\"ts\":\"9999-12-31T23:59:59.000Z\"}";

/* An object of n members m0..m<n-1>, and "m<n/2>" again when twice. */
static char *wide(size_t n, bool twice, size_t *len) {
  char *b = malloc(16 * n + 64);
  if (!b) exit(1);
  size_t o = (size_t)sprintf(b, "{");
  for (size_t i = 0; i < n; i++) o += (size_t)sprintf(b + o, "%s\"m%zu\":%zu", i ? "," : "", i, i);
  if (twice) o += (size_t)sprintf(b + o, ",\"m%zu\":0", n / 2);
  o += (size_t)sprintf(b + o, "}");
  *len = o;
  return b;
}

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static ingest_schema *load(const char *format) {
  char path[] = "/tmp/ingest_bench_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  char text[sizeof schema_text + 64];
  int n = snprintf(text, sizeof text, schema_text, format);
  ssize_t w = write(fd, text, (size_t)n);
  close(fd);
  ingest_schema *s = NULL;
  ingest_error err;
  if (w == n && ingest_schema_load_file(path, &s, &err) != 0)
    fprintf(stderr, "ingest_bench: %s\n", err.message);
  unlink(path);
  return s;
}

/* The same content as MessagePack, packed the way a device would: integers
 * as integers, everything else as float64 or str. */
static void to_msgpack(const char *json, msgpack_sbuffer *sb) {
  cJSON *j = cJSON_Parse(json);
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, (size_t)cJSON_GetArraySize(j));
  for (const cJSON *c = j->child; c; c = c->next) {
    size_t k = strlen(c->string);
    msgpack_pack_str(&pk, k);
    msgpack_pack_str_body(&pk, c->string, k);
    if (cJSON_IsString(c)) {
      size_t v = strlen(c->valuestring);
      msgpack_pack_str(&pk, v);
      msgpack_pack_str_body(&pk, c->valuestring, v);
    } else if (c->valuedouble == (double)(int64_t)c->valuedouble) {
      msgpack_pack_int64(&pk, (int64_t)c->valuedouble);
    } else {
      msgpack_pack_double(&pk, c->valuedouble);
    }
  }
  cJSON_Delete(j);
}

typedef struct work {
  const ingest_schema *s;
  const char *payload;
  size_t len;
  int expect; /* 0 or the refusal code */
  int kind;   /* 0 process, 1 cJSON parse only, 2 msgpack unpack only,
                 3 process and format the error record, 4 the RFC 8259 check only */
  long div;   /* this case runs iterations / div messages a batch (0: 1) */
} work;

static tsdb_point points[INGEST_OUTPUT_POINTS];

static int once(const work *w) {
  if (w->kind == 1) {
    cJSON *j = cJSON_ParseWithLength(w->payload, w->len);
    int rc = j ? 0 : -1;
    cJSON_Delete(j);
    return rc;
  }
  if (w->kind == 4) {
    ingest_rfc8259_result r;
    return ingest_rfc8259__check(w->payload, w->len, 1000, &r) == INGEST_RFC8259_OK ? 0 : -1;
  }
  if (w->kind == 2) {
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = msgpack_unpack_next(&up, w->payload, w->len, &off) == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
    msgpack_unpacked_destroy(&up);
    return rc;
  }
  ingest_output out;
  ingest_output_init(&out, points, INGEST_OUTPUT_POINTS, NULL, NULL, 0, NULL, 0);
  ingest_error err;
  int rc =
      ingest_schema_process(w->s, TOPIC, sizeof TOPIC - 1, w->payload, w->len, ARRIVAL, &out, &err);
  if (rc == 0 && out.npoints != 6) return -1;
  if (rc && w->kind == 3) {
    static char record[INGEST_ERROR_RECORD_MAX];
    ingest_error_context ctx = {ingest_schema_id(w->s),
                                ingest_schema_version(w->s),
                                TOPIC,
                                sizeof TOPIC - 1,
                                "wx-03",
                                NULL,
                                ARRIVAL};
    if (ingest_error_record_json(&err, &ctx, record, sizeof record) <= 0) return -1;
  }
  return rc;
}

/* The cases are measured round-robin, one batch of each per run, so that
 * load from elsewhere on the machine falls on all of them alike; each
 * reports the median of its runs. */
typedef struct bench_case {
  const char *group, *name;
  work w;
  double per[64];
  double median, min, max;
} bench_case;

static void measure(bench_case *cases, size_t n, long iterations, int runs) {
  for (size_t c = 0; c < n; c++) {
    if (once(&cases[c].w) != cases[c].w.expect) {
      fprintf(stderr, "ingest_bench: %s %s: unexpected result\n", cases[c].group, cases[c].name);
      exit(1);
    }
    long each = iterations / (cases[c].w.div > 1 ? cases[c].w.div : 1);
    for (long i = 0; i < each / 10; i++) once(&cases[c].w); /* warm up */
  }
  for (int r = 0; r < runs; r++) {
    for (size_t c = 0; c < n; c++) {
      const work *w = &cases[c].w;
      long each = iterations / (w->div > 1 ? w->div : 1);
      if (each < 1) each = 1;
      int fails = 0;
      double t0 = cpu_ns();
      for (long i = 0; i < each; i++) fails += once(w) != w->expect;
      cases[c].per[r] = (cpu_ns() - t0) / (double)each;
      if (fails) {
        fprintf(stderr, "ingest_bench: %s: %d unexpected results\n", cases[c].name, fails);
        exit(1);
      }
    }
  }
  for (size_t c = 0; c < n; c++) {
    qsort(cases[c].per, (size_t)runs, sizeof cases[c].per[0], bc_cmp_double);
    cases[c].median = cases[c].per[runs / 2];
    cases[c].min = cases[c].per[0];
    cases[c].max = cases[c].per[runs - 1];
  }
}

static void machine(void) {
  struct utsname u;
  char model[256];
  bc_cpu_model(model, sizeof model);
  uname(&u);
  printf("machine: %s, %ld CPUs online, %s %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
         u.sysname, u.release, u.machine);
  printf("build:   gcc %s%s, cJSON %s, msgpack-c %s\n", __VERSION__,
#ifdef NDEBUG
         " -DNDEBUG",
#else
         "",
#endif
         cJSON_Version(), msgpack_version());
}

int main(int argc, char **argv) {
  long iterations = 200000;
  int runs = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--iterations"))
      iterations = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs"))
      runs = atoi(argv[i + 1]);
  }
  if (iterations < 1 || runs < 1 || runs > 64) {
    fprintf(stderr, "usage: ingest_bench [--iterations N] [--runs 1..64]\n");
    return 2;
  }
  ingest_schema *js = load("json"), *ms = load("msgpack");
  if (!js || !ms) return 1;
  msgpack_sbuffer acc, early, late;
  msgpack_sbuffer_init(&acc);
  msgpack_sbuffer_init(&early);
  msgpack_sbuffer_init(&late);
  to_msgpack(accepted_json, &acc);
  to_msgpack(refused_early_json, &early);
  to_msgpack(refused_late_json, &late);

  size_t wide_ok_len, wide_dup_len;
  char *wide_ok = wide(10000, false, &wide_ok_len), *wide_dup = wide(10000, true, &wide_dup_len);

  machine();
  printf(
      "method:  CPU time of this thread (CLOCK_THREAD_CPUTIME_ID), %ld messages per batch,\n"
      "         %d batches of every case taken in turn, median (min, max) in ns/message\n\n",
      iterations, runs);
  bench_case cases[] = {
      {"JSON",
       "accepted (6 points)",
       {js, accepted_json, sizeof accepted_json - 1, 0, 0, 0},
       {0},
       0,
       0,
       0},
      {"JSON",
       "refused at the first field",
       {js, refused_early_json, sizeof refused_early_json - 1, INGEST_EVALIDATE, 0, 0},
       {0},
       0,
       0,
       0},
      {"JSON",
       "refused at the last field",
       {js, refused_late_json, sizeof refused_late_json - 1, INGEST_EVALIDATE, 0, 0},
       {0},
       0,
       0,
       0},
      {"JSON",
       "refused + its error record",
       {js, refused_late_json, sizeof refused_late_json - 1, INGEST_EVALIDATE, 3, 0},
       {0},
       0,
       0,
       0},
      {"JSON",
       "cJSON parse + delete alone",
       {js, accepted_json, sizeof accepted_json - 1, 0, 1, 0},
       {0},
       0,
       0,
       0},
      {"MessagePack", "accepted (6 points)", {ms, acc.data, acc.size, 0, 0, 0}, {0}, 0, 0, 0},
      {"MessagePack",
       "refused at the first field",
       {ms, early.data, early.size, INGEST_EVALIDATE, 0, 0},
       {0},
       0,
       0,
       0},
      {"MessagePack",
       "refused at the last field",
       {ms, late.data, late.size, INGEST_EVALIDATE, 0, 0},
       {0},
       0,
       0,
       0},
      {"MessagePack",
       "refused + its error record",
       {ms, late.data, late.size, INGEST_EVALIDATE, 3, 0},
       {0},
       0,
       0,
       0},
      {"MessagePack",
       "msgpack-c unpack + destroy alone",
       {ms, acc.data, acc.size, 0, 2, 0},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "RFC 8259 check alone",
       {js, accepted_json, sizeof accepted_json - 1, 0, 4, 0},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "refused: not JSON (04.52)",
       {js, not_json, sizeof not_json - 1, INGEST_EDECODE, 0, 0},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "refused: a member name twice",
       {js, name_twice, sizeof name_twice - 1, INGEST_EDECODE, 0, 0},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "10 000 members: cJSON parse alone",
       {js, wide_ok, wide_ok_len, 0, 1, 1000},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "10 000 members: refused (required)",
       {js, wide_ok, wide_ok_len, INGEST_EVALIDATE, 0, 1000},
       {0},
       0,
       0,
       0},
      {"JSON, strict decoding (issue 12)",
       "10 000 members: refused (a name twice)",
       {js, wide_dup, wide_dup_len, INGEST_EDECODE, 0, 1000},
       {0},
       0,
       0,
       0},
  };
  size_t ncases = sizeof cases / sizeof cases[0];
  measure(cases, ncases, iterations, runs);
  for (size_t c = 0; c < ncases; c++) {
    if (c == 0 || strcmp(cases[c].group, cases[c - 1].group)) printf("%s\n", cases[c].group);
    printf("  %-38s %6zu B  %8.0f ns  (%.0f, %.0f)\n", cases[c].name, cases[c].w.len,
           cases[c].median, cases[c].min, cases[c].max);
  }
  double json_ok = cases[0].median, mp_ok = cases[5].median;
  double json_ref = fmax(cases[1].median, cases[2].median);
  double mp_ref = fmax(cases[6].median, cases[7].median);
  printf("\ntargets (issue 4), on medians\n");
  printf("  JSON accepted <= 1500 ns:          %s (%.0f ns)\n", json_ok <= 1500 ? "met" : "MISSED",
         json_ok);
  printf("  MessagePack accepted <= 1000 ns:   %s (%.0f ns)\n", mp_ok <= 1000 ? "met" : "MISSED",
         mp_ok);
  printf("  refused <= accepted, JSON:         %s (slowest refusal %.0f ns)\n",
         json_ref <= json_ok ? "met" : "MISSED", json_ref);
  printf("  refused <= accepted, MessagePack:  %s (slowest refusal %.0f ns)\n",
         mp_ref <= mp_ok ? "met" : "MISSED", mp_ref);

  free(wide_ok);
  free(wide_dup);
  msgpack_sbuffer_destroy(&acc);
  msgpack_sbuffer_destroy(&early);
  msgpack_sbuffer_destroy(&late);
  ingest_schema_free(js);
  ingest_schema_free(ms);
  return 0;
}
