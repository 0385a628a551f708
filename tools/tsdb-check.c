/*
 * tsdb-check: the broker's ingest path, on the command line, for schema
 * authors and device developers.
 *
 *   tsdb-check SCHEMA_OR_DIR [options] MESSAGE_FILE...   ("-" reads stdin)
 *   tsdb-check --pack JSON_FILE > MESSAGE.msgpack
 *
 * SCHEMA_OR_DIR is a schema file, a schema directory (holding schema.json),
 * or a directory of schemas (as the broker's schema_dir), which then needs
 * --topic to pick the schema the broker would. Each message is decoded,
 * validated and extracted exactly as the broker does; a refused message
 * prints the error record the broker publishes on $tsdb/errors/<client id>,
 * an accepted one its points.
 *
 * Options:
 *   --topic T        the topic the message is published on (labels, id
 *                    checks of ttn-v3 and sensor.community, routing)
 *   --arrival TIME   the broker's clock: RFC 3339 or ms since the epoch
 *                    (default: now)
 *   --client ID      the client id shown in error records
 *   --examples       take topics and arrival time from the schema
 *                    directory's examples.json (how schemas/ is tested)
 *   --quiet          print only refusals
 *
 * Exit status: 0 when every message is accepted, 1 when one is refused, 2 on
 * a usage error, a schema that does not load or an unreadable file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "ingest/jsonschema.h"
#include "ingest/schema.h"

#define MESSAGE_MAX (16u << 20)

static void usage(void) {
  fprintf(stderr,
          "usage: tsdb-check SCHEMA_OR_DIR [--topic T] [--arrival TIME] [--client ID]\n"
          "                  [--examples] [--quiet] MESSAGE_FILE...   (- for stdin)\n"
          "       tsdb-check --pack JSON_FILE > MESSAGE.msgpack\n");
}

/* The whole file (or stdin for "-"); NULL with a message on failure. */
static char *read_all(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "tsdb-check: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      if (cap >= MESSAGE_MAX) {
        fprintf(stderr, "tsdb-check: %s: larger than %u bytes\n", path, MESSAGE_MAX);
        free(buf);
        buf = NULL;
        break;
      }
      char *more = realloc(buf, cap * 2 + 1);
      if (!more) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = more;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  bool failed = ferror(f) != 0;
  if (f != stdin) fclose(f);
  if (buf && failed) {
    fprintf(stderr, "tsdb-check: %s: read error\n", path);
    free(buf);
    return NULL;
  }
  if (!buf) return NULL;
  buf[n] = '\0';
  *len = n;
  return buf;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_arrival(const char *text, int64_t *ms) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (!errno && *text && !*end && v >= 0) {
    *ms = v;
    return true;
  }
  return ingest_rfc3339_parse(text, strlen(text), ms) == 0;
}

static void format_time(int64_t ms, char *buf, size_t len) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || !gmtime_r(&s, &tm)) {
    snprintf(buf, len, "%" PRId64 "ms", ms);
    return;
  }
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03dZ", date, (int)(ms % 1000));
}

/* ---- --pack: JSON to MessagePack (integral numbers as integers) ---- */

static int pack_value(msgpack_packer *pk, const cJSON *j, int depth) {
  if (depth > 64) return -1;
  if (cJSON_IsNull(j)) return msgpack_pack_nil(pk);
  if (cJSON_IsTrue(j)) return msgpack_pack_true(pk);
  if (cJSON_IsFalse(j)) return msgpack_pack_false(pk);
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == (double)(int64_t)d && d >= -9.2e18 && d <= 9.2e18)
      return msgpack_pack_int64(pk, (int64_t)d);
    return msgpack_pack_double(pk, d);
  }
  if (cJSON_IsString(j)) {
    size_t n = strlen(j->valuestring);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, j->valuestring, n);
  }
  size_t n = 0;
  for (const cJSON *c = j->child; c; c = c->next) n++;
  if (cJSON_IsArray(j)) {
    if (msgpack_pack_array(pk, n)) return -1;
    for (const cJSON *c = j->child; c; c = c->next)
      if (pack_value(pk, c, depth + 1)) return -1;
    return 0;
  }
  if (cJSON_IsObject(j)) {
    if (msgpack_pack_map(pk, n)) return -1;
    for (const cJSON *c = j->child; c; c = c->next) {
      size_t k = strlen(c->string);
      if (msgpack_pack_str(pk, k) || msgpack_pack_str_body(pk, c->string, k) ||
          pack_value(pk, c, depth + 1))
        return -1;
    }
    return 0;
  }
  return -1;
}

static int pack(const char *path) {
  size_t len;
  char *text = read_all(path, &len);
  if (!text) return 2;
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  if (!j) {
    fprintf(stderr, "tsdb-check: %s: not valid JSON\n", path);
    return 2;
  }
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int rc = pack_value(&pk, j, 0);
  cJSON_Delete(j);
  if (rc == 0 && fwrite(sb.data, 1, sb.size, stdout) != sb.size) rc = -1;
  msgpack_sbuffer_destroy(&sb);
  if (rc) fprintf(stderr, "tsdb-check: %s: cannot pack\n", path);
  return rc ? 2 : 0;
}

/* ---- checking messages ---- */

typedef struct options {
  const char *topic;
  const char *client;
  int64_t arrival;
  bool arrival_set;
  bool quiet;
  cJSON *examples; /* examples.json with --examples */
} options;

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The topic and arrival time of one message: options, then examples.json. */
static int message_context(const options *o, const char *path, const char **topic,
                           int64_t *arrival) {
  *topic = o->topic;
  *arrival = o->arrival_set ? o->arrival : now_ms();
  if (!o->examples) return 0;
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o->examples, base_name(path));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(meta, "topic");
  if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(o->examples, "topic");
  if (!o->topic && cJSON_IsString(t)) *topic = t->valuestring;
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(meta, "arrival");
  if (!cJSON_IsString(a)) a = cJSON_GetObjectItemCaseSensitive(o->examples, "arrival");
  if (!o->arrival_set && cJSON_IsString(a) && !parse_arrival(a->valuestring, arrival)) {
    fprintf(stderr, "tsdb-check: examples.json: bad arrival '%s'\n", a->valuestring);
    return 2;
  }
  return 0;
}

/* The shortest text that reads back as the same double ("120.1", not
 * "120.09999999999999"). */
static void shortest(double d, char *buf, size_t len) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) return;
  }
}

static void print_points(const ingest_schema *s, const ingest_output *out) {
  for (size_t i = 0; i < out->npoints; i++) {
    const tsdb_point *p = &out->points[i];
    const char *field, *unit;
    if (out->nnames) {
      field = out->names[p->field];
      unit = out->units[p->field];
    } else {
      ingest_field_info info = {0};
      ingest_schema_field_info(s, p->field, &info);
      field = info.name;
      unit = info.unit;
    }
    char when[48], value[32];
    format_time(p->ts_ms, when, sizeof when);
    shortest(p->value, value, sizeof value);
    printf("  %s %s %s%s%s\n", when, field, value, unit ? " " : "", unit ? unit : "");
  }
}

/* 0 accepted, 1 refused, 2 cannot check. */
static int check_one(const ingest_schema *single, const ingest_schema_set *set, const options *o,
                     const char *path) {
  const char *topic;
  int64_t arrival;
  if (message_context(o, path, &topic, &arrival)) return 2;
  const ingest_schema *s = single;
  if (!s) {
    if (!topic) {
      fprintf(stderr, "tsdb-check: %s: a schema directory needs --topic to choose a schema\n",
              path);
      return 2;
    }
    s = ingest_schema_set_route(set, topic, strlen(topic));
    if (!s) {
      fprintf(stderr, "tsdb-check: %s: no schema matches topic '%s'\n", path, topic);
      return 2;
    }
  }
  size_t len;
  char *payload = read_all(path, &len);
  if (!payload) return 2;

  static tsdb_point points[INGEST_OUTPUT_POINTS];
  static const char *names[INGEST_OUTPUT_NAMES], *units[INGEST_OUTPUT_NAMES];
  static char text[INGEST_OUTPUT_TEXT];
  ingest_output out;
  ingest_output_init(&out, points, INGEST_OUTPUT_POINTS, names, units, INGEST_OUTPUT_NAMES, text,
                     sizeof text);
  ingest_error err;
  ingest_error_clear(&err);
  int rc =
      ingest_schema_process(s, topic, topic ? strlen(topic) : 0, payload, len, arrival, &out, &err);
  free(payload);
  if (rc == 0) {
    if (!o->quiet) {
      printf("%s: accepted, %zu point%s (schema %s v%" PRIu32 ")\n", path, out.npoints,
             out.npoints == 1 ? "" : "s", ingest_schema_id(s), ingest_schema_version(s));
      print_points(s, &out);
    }
    return 0;
  }
  char record[INGEST_ERROR_RECORD_MAX];
  ingest_error_context ctx = {ingest_schema_id(s),
                              ingest_schema_version(s),
                              topic,
                              topic ? strlen(topic) : 0,
                              o->client,
                              NULL,
                              arrival};
  ingest_error_record_json(&err, &ctx, record, sizeof record);
  printf("%s: refused\n%s\n", path, record);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--pack")) return pack(argv[2]);
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  options o = {0};
  bool use_examples = false;
  const char *schema_arg = argv[1];
  const char **files = calloc((size_t)argc, sizeof *files);
  size_t nfiles = 0;
  if (!files) return 2;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(a, "--topic") && has_value) {
      o.topic = argv[++i];
    } else if (!strcmp(a, "--client") && has_value) {
      o.client = argv[++i];
    } else if (!strcmp(a, "--arrival") && has_value) {
      if (!parse_arrival(argv[++i], &o.arrival)) {
        fprintf(stderr, "tsdb-check: --arrival: '%s' is neither RFC 3339 nor ms\n", argv[i]);
        free(files);
        return 2;
      }
      o.arrival_set = true;
    } else if (!strcmp(a, "--examples")) {
      use_examples = true;
    } else if (!strcmp(a, "--quiet")) {
      o.quiet = true;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "tsdb-check: unknown option '%s'\n", a);
      usage();
      free(files);
      return 2;
    } else {
      files[nfiles++] = a;
    }
  }
  if (nfiles == 0) {
    usage();
    free(files);
    return 2;
  }

  ingest_schema *single = NULL;
  ingest_schema_set *set = NULL;
  char path[4096];
  int status = 0;
  if (is_dir(schema_arg)) {
    snprintf(path, sizeof path, "%s/schema.json", schema_arg);
    struct stat st;
    if (stat(path, &st) == 0) {
      ingest_error err;
      if (ingest_schema_load_file(path, &single, &err) != 0) {
        fprintf(stderr, "tsdb-check: %s\n", err.message);
        status = 2;
      }
    } else {
      char errbuf[1024];
      if (ingest_schema_set_load_dir(schema_arg, &set, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "tsdb-check: %s\n", errbuf);
        status = 2;
      }
    }
  } else {
    ingest_error err;
    if (ingest_schema_load_file(schema_arg, &single, &err) != 0) {
      fprintf(stderr, "tsdb-check: %s\n", err.message);
      status = 2;
    }
  }
  if (status == 0 && use_examples) {
    char ex[4096 + 16];
    if (single && !is_dir(schema_arg)) {
      char dir[4096];
      snprintf(dir, sizeof dir, "%s", schema_arg);
      char *slash = strrchr(dir, '/');
      snprintf(ex, sizeof ex, "%s/examples.json", slash ? (*slash = '\0', dir) : ".");
    } else {
      snprintf(ex, sizeof ex, "%s/examples.json", schema_arg);
    }
    size_t len;
    char *text = read_all(ex, &len);
    o.examples = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!cJSON_IsObject(o.examples)) {
      fprintf(stderr, "tsdb-check: %s: not a JSON object\n", ex);
      status = 2;
    }
  }
  /* Every message is checked even after a bad one: the status is the worst. */
  bool loaded = status == 0;
  for (size_t i = 0; loaded && i < nfiles; i++) {
    int rc = check_one(single, set, &o, files[i]);
    if (rc > status) status = rc;
  }
  fflush(stdout);
  cJSON_Delete(o.examples);
  ingest_schema_free(single);
  ingest_schema_set_release(set);
  free(files);
  return status;
}
