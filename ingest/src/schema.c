#include "ingest/schema.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "ingest/jsonschema.h"
#include "ingest/value.h"
#include "tsdb/topic.h"

#define SCHEMA_FILE_MAX (1 << 20)
#define DEFAULT_MAX_FUTURE_MS (5 * 60 * 1000)
/* Year 9999-12-31T23:59:59.999Z: later timestamps are certainly wrong. */
#define MAX_TS_MS INT64_C(253402300799999)

typedef enum { TS_ARRIVAL, TS_RFC3339, TS_EPOCH_S, TS_EPOCH_MS, TS_EPOCH_US } ts_format;
typedef enum { FORMAT_JSON, FORMAT_MSGPACK } payload_format;

static const char *const ts_format_names[] = {"arrival", "rfc3339", "epoch_s", "epoch_ms",
                                              "epoch_us"};

struct ingest_schema {
  char *path;
  char *id;
  uint32_t version;
  char *topic;
  tsdb_topic_template *tpl;
  payload_format format;
  ingest_jsonschema *validator;
  ts_format ts_fmt;
  ingest_pointer *ts_pointer;
  int64_t max_future_ms;
  size_t nfields;
  char **fields;
  ingest_pointer **pointers;
  tsdb_series_class *cls;
};

struct ingest_schema_set {
  atomic_int refs;
  size_t n;
  ingest_schema **schemas; /* most specific topic template first */
};

void ingest_schema_free(ingest_schema *s) {
  if (!s) return;
  free(s->path);
  free(s->id);
  free(s->topic);
  tsdb_topic_template_free(s->tpl);
  ingest_jsonschema_free(s->validator);
  ingest_pointer_free(s->ts_pointer);
  for (size_t i = 0; i < s->nfields; i++) {
    free(s->fields[i]);
    ingest_pointer_free(s->pointers[i]);
  }
  free(s->fields);
  free(s->pointers);
  tsdb_series_class_release(s->cls);
  free(s);
}

const char *ingest_schema_id(const ingest_schema *s) { return s->id; }
uint32_t ingest_schema_version(const ingest_schema *s) { return s->version; }
const char *ingest_schema_topic(const ingest_schema *s) { return s->topic; }
size_t ingest_schema_nfields(const ingest_schema *s) { return s->nfields; }
const char *ingest_schema_field(const ingest_schema *s, size_t i) {
  return i < s->nfields ? s->fields[i] : NULL;
}
tsdb_series_class *ingest_schema_class(const ingest_schema *s) { return s->cls; }

/* ---- loading ---- */

static char *read_file(const char *path, size_t *len, ingest_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    ingest_error_set(err, INGEST_EIO, "", "", "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(SCHEMA_FILE_MAX + 1);
  size_t n = buf ? fread(buf, 1, SCHEMA_FILE_MAX + 1, f) : 0;
  bool read_error = ferror(f) != 0;
  fclose(f);
  if (!buf) {
    ingest_error_set(err, INGEST_ENOMEM, "", "", "%s: out of memory", path);
    return NULL;
  }
  if (read_error || n > SCHEMA_FILE_MAX) {
    free(buf);
    ingest_error_set(err, INGEST_EIO, "", "", "%s: %s", path,
                     read_error ? "read error" : "larger than 1 MiB");
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.';
}

static bool valid_name(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!id_char(s[i])) return false;
  return true;
}

/* Sets a schema-load error naming the file and the x-tsdb member. */
static int bad(ingest_error *err, const char *path, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(ingest_error *err, const char *path, const char *where, const char *fmt, ...) {
  char detail[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  ingest_error_set(err, INGEST_ESCHEMA, "x-tsdb", where, "%s: %s: %s", path, where, detail);
  snprintf(err->schema_path, sizeof err->schema_path, "%s", where);
  return INGEST_ESCHEMA;
}

static int parse_duration(const cJSON *v, int64_t *ms) {
  return cJSON_IsString(v) ? tsdb_duration_parse(v->valuestring, ms) : TSDB_EINVAL;
}

/* Every key of x-tsdb must be known: a typo must not silently change meaning. */
static int check_keys(const cJSON *obj, const char *const *allowed, ingest_error *err,
                      const char *path, const char *where) {
  const cJSON *m;
  cJSON_ArrayForEach(m, obj) {
    bool ok = false;
    for (size_t i = 0; allowed[i]; i++) ok |= !strcmp(m->string, allowed[i]);
    if (!ok) return bad(err, path, where, "unknown member '%s'", m->string);
  }
  return 0;
}

static int load_mapping(ingest_schema *s, const cJSON *x, ingest_error *err) {
  const char *path = s->path;
  static const char *const keys[] = {"id", "version", "topic", "format", "timestamp",
                                     "measurements", "tiers", "duplicates", "block_span",
                                     "labels", "description", NULL};
  if (!cJSON_IsObject(x)) return bad(err, path, "/x-tsdb", "must be an object");
  int rc = check_keys(x, keys, err, path, "/x-tsdb");
  if (rc) return rc;

  const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
  if (!cJSON_IsString(id) || !valid_name(id->valuestring, 64))
    return bad(err, path, "/x-tsdb/id", "must be a string of 1-64 letters, digits, '-', '_', '.'");
  s->id = strdup(id->valuestring);

  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(x, "version");
  if (!cJSON_IsNumber(ver) || ver->valuedouble < 1 || ver->valuedouble > UINT32_MAX ||
      ver->valuedouble != floor(ver->valuedouble))
    return bad(err, path, "/x-tsdb/version", "must be an integer >= 1");
  s->version = (uint32_t)ver->valuedouble;

  const cJSON *topic = cJSON_GetObjectItemCaseSensitive(x, "topic");
  if (!cJSON_IsString(topic)) return bad(err, path, "/x-tsdb/topic", "must be a topic template");
  char terr[256];
  if (tsdb_topic_template_compile(topic->valuestring, &s->tpl, terr, sizeof terr) != 0)
    return bad(err, path, "/x-tsdb/topic", "%s", terr);
  s->topic = strdup(topic->valuestring);

  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(x, "format");
  if (!fmt || (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "json")))
    s->format = FORMAT_JSON;
  else if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "msgpack"))
    s->format = FORMAT_MSGPACK;
  else
    return bad(err, path, "/x-tsdb/format", "must be \"json\" or \"msgpack\"");

  s->ts_fmt = TS_ARRIVAL;
  s->max_future_ms = DEFAULT_MAX_FUTURE_MS;
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(x, "timestamp");
  if (ts) {
    static const char *const ts_keys[] = {"pointer", "format", "max_future", NULL};
    if (!cJSON_IsObject(ts)) return bad(err, path, "/x-tsdb/timestamp", "must be an object");
    if ((rc = check_keys(ts, ts_keys, err, path, "/x-tsdb/timestamp"))) return rc;
    const cJSON *ptr = cJSON_GetObjectItemCaseSensitive(ts, "pointer");
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(ts, "format");
    if (!cJSON_IsString(ptr) || ingest_pointer_compile(ptr->valuestring, &s->ts_pointer) != 0)
      return bad(err, path, "/x-tsdb/timestamp/pointer", "must be a JSON pointer such as \"/ts\"");
    s->ts_fmt = TS_ARRIVAL;
    for (int i = TS_RFC3339; i <= TS_EPOCH_US; i++)
      if (cJSON_IsString(tf) && !strcmp(tf->valuestring, ts_format_names[i])) s->ts_fmt = (ts_format)i;
    if (s->ts_fmt == TS_ARRIVAL)
      return bad(err, path, "/x-tsdb/timestamp/format",
                 "must be one of rfc3339, epoch_s, epoch_ms, epoch_us");
    const cJSON *mf = cJSON_GetObjectItemCaseSensitive(ts, "max_future");
    if (mf && parse_duration(mf, &s->max_future_ms) != 0)
      return bad(err, path, "/x-tsdb/timestamp/max_future", "must be a duration such as \"5m\"");
  }

  const cJSON *meas = cJSON_GetObjectItemCaseSensitive(x, "measurements");
  int nmeas = cJSON_IsObject(meas) ? cJSON_GetArraySize(meas) : 0;
  if (nmeas < 1 || nmeas > INGEST_MAX_MEASUREMENTS)
    return bad(err, path, "/x-tsdb/measurements", "must be an object of 1 to %d measurements",
               INGEST_MAX_MEASUREMENTS);
  s->fields = calloc((size_t)nmeas, sizeof *s->fields);
  s->pointers = calloc((size_t)nmeas, sizeof *s->pointers);
  const char **units = calloc((size_t)nmeas, sizeof *units);
  if (!s->fields || !s->pointers || !units) {
    free(units);
    return ingest_error_set(err, INGEST_ENOMEM, "", "", "%s: out of memory", path);
  }
  const cJSON *m;
  rc = 0;
  cJSON_ArrayForEach(m, meas) {
    static const char *const m_keys[] = {"pointer", "unit", "description", NULL};
    char where[192];
    snprintf(where, sizeof where, "/x-tsdb/measurements/%s", m->string);
    if (!valid_name(m->string, 128)) {
      rc = bad(err, path, where, "a field name is 1-128 letters, digits, '-', '_', '.'");
      break;
    }
    if (!cJSON_IsObject(m)) {
      rc = bad(err, path, where, "must be an object with a \"pointer\"");
      break;
    }
    if ((rc = check_keys(m, m_keys, err, path, where))) break;
    const cJSON *ptr = cJSON_GetObjectItemCaseSensitive(m, "pointer");
    const cJSON *unit = cJSON_GetObjectItemCaseSensitive(m, "unit");
    if (!cJSON_IsString(ptr) ||
        ingest_pointer_compile(ptr->valuestring, &s->pointers[s->nfields]) != 0) {
      rc = bad(err, path, where, "\"pointer\" must be a JSON pointer such as \"/pm25\"");
      break;
    }
    if (unit && !cJSON_IsString(unit)) {
      s->nfields++;
      rc = bad(err, path, where, "\"unit\" must be a string");
      break;
    }
    units[s->nfields] = unit ? unit->valuestring : NULL;
    s->fields[s->nfields++] = strdup(m->string);
  }
  if (rc) {
    free(units);
    return rc;
  }

  int64_t tiers[8];
  size_t ntiers = 0;
  const cJSON *tl = cJSON_GetObjectItemCaseSensitive(x, "tiers");
  if (!tl) {
    static const int64_t dflt[] = {60000, 900000, 3600000, 86400000};
    memcpy(tiers, dflt, sizeof dflt);
    ntiers = 4;
  } else if (!cJSON_IsArray(tl) || cJSON_GetArraySize(tl) > 8) {
    rc = bad(err, path, "/x-tsdb/tiers", "must be an array of at most 8 durations");
  } else {
    const cJSON *t;
    cJSON_ArrayForEach(t, tl) {
      int64_t ms;
      if (parse_duration(t, &ms) != 0 || ms % 1000) {
        rc = bad(err, path, "/x-tsdb/tiers", "each tier is a whole number of seconds such as \"10s\" or \"1m\"");
        break;
      }
      if (ntiers > 0 && (ms <= tiers[ntiers - 1] || ms % tiers[ntiers - 1])) {
        rc = bad(err, path, "/x-tsdb/tiers",
                 "tiers must ascend and each must be a multiple of the one before");
        break;
      }
      tiers[ntiers++] = ms;
    }
  }
  int dup = TSDB_DUP_LAST;
  const cJSON *dupv = cJSON_GetObjectItemCaseSensitive(x, "duplicates");
  if (rc == 0 && dupv) {
    if (cJSON_IsString(dupv) && !strcmp(dupv->valuestring, "last"))
      dup = TSDB_DUP_LAST;
    else if (cJSON_IsString(dupv) && !strcmp(dupv->valuestring, "first"))
      dup = TSDB_DUP_FIRST;
    else
      rc = bad(err, path, "/x-tsdb/duplicates", "must be \"last\" or \"first\"");
  }
  int64_t span = 0;
  const cJSON *spanv = cJSON_GetObjectItemCaseSensitive(x, "block_span");
  if (rc == 0 && spanv && (parse_duration(spanv, &span) != 0 || span % 1000 || span < 60000))
    rc = bad(err, path, "/x-tsdb/block_span", "must be a whole number of seconds, at least \"1m\"");

  tsdb_label labels[32];
  size_t nlabels = 0;
  const cJSON *lv = cJSON_GetObjectItemCaseSensitive(x, "labels");
  if (rc == 0 && lv) {
    if (!cJSON_IsObject(lv) || cJSON_GetArraySize(lv) > 32) {
      rc = bad(err, path, "/x-tsdb/labels", "must be an object of at most 32 string labels");
    } else {
      const cJSON *l;
      cJSON_ArrayForEach(l, lv) {
        if (!cJSON_IsString(l) || !valid_name(l->string, 64)) {
          rc = bad(err, path, "/x-tsdb/labels", "label '%s' must have a simple name and a string value",
                   l->string);
          break;
        }
        labels[nlabels++] = (tsdb_label){l->string, l->valuestring};
      }
    }
  }
  if (rc == 0) {
    tsdb_series_class_desc d = {
        .schema_id = s->id,
        .schema_version = s->version,
        .topic_template = s->topic,
        .nfields = s->nfields,
        .field_names = (const char *const *)s->fields,
        .units = units,
        .ntiers = ntiers,
        .tiers_ms = tiers,
        .dup_policy = dup,
        .block_span_ms = span,
        .nlabels = nlabels,
        .labels = labels,
    };
    int trc = tsdb_series_class_create(&d, &s->cls);
    if (trc) rc = bad(err, path, "/x-tsdb", "invalid mapping (%s)", tsdb_strerror(trc));
  }
  free(units);
  return rc;
}

int ingest_schema_load_file(const char *path, ingest_schema **out, ingest_error *err) {
  *out = NULL;
  ingest_error_clear(err);
  size_t len;
  char *text = read_file(path, &len, err);
  if (!text) return err->code;
  ingest_schema *s = calloc(1, sizeof *s);
  cJSON *doc = cJSON_ParseWithLength(text, len);
  int rc = 0;
  if (!s || !(s->path = strdup(path))) {
    rc = ingest_error_set(err, INGEST_ENOMEM, "", "", "%s: out of memory", path);
  } else if (!doc) {
    /* cJSON reports where parsing stopped: give the line. */
    const char *at = cJSON_GetErrorPtr();
    size_t line = 1;
    for (const char *p = text; at && p < at && p < text + len; p++) line += *p == '\n';
    rc = ingest_error_set(err, INGEST_ESCHEMA, "", "", "%s: not valid JSON (near line %zu)",
                          path, line);
  } else if (!cJSON_IsObject(doc)) {
    rc = ingest_error_set(err, INGEST_ESCHEMA, "", "", "%s: a schema must be a JSON object", path);
  } else {
    rc = load_mapping(s, cJSON_GetObjectItemCaseSensitive(doc, "x-tsdb"), err);
    if (rc == 0) {
      rc = ingest_jsonschema_compile(doc, &s->validator, err);
      if (rc) {
        /* Prefix the file so the operator knows which schema to fix. */
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        int n = snprintf(err->message, sizeof err->message, "%s: ", path);
        if (n > 0 && (size_t)n < sizeof err->message)
          snprintf(err->message + n, sizeof err->message - (size_t)n, "%.*s",
                   (int)(sizeof err->message - (size_t)n - 1), msg);
      }
    }
  }
  cJSON_Delete(doc);
  free(text);
  if (rc) {
    ingest_schema_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- sets ---- */

static int cmp_specificity(const void *a, const void *b) {
  const ingest_schema *x = *(const ingest_schema *const *)a, *y = *(const ingest_schema *const *)b;
  unsigned sx = tsdb_topic_template_specificity(x->tpl), sy = tsdb_topic_template_specificity(y->tpl);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->id, y->id);
}

static void set_free(ingest_schema_set *set) {
  if (!set) return;
  for (size_t i = 0; i < set->n; i++) ingest_schema_free(set->schemas[i]);
  free(set->schemas);
  free(set);
}

static int filter_entries(const struct dirent *e) { return e->d_name[0] != '.'; }

int ingest_schema_set_load_dir(const char *dir, ingest_schema_set **out, char *errbuf,
                               size_t errlen) {
  *out = NULL;
  struct dirent **names = NULL;
  int n = scandir(dir, &names, filter_entries, alphasort);
  if (n < 0) {
    snprintf(errbuf, errlen, "cannot read schema directory '%s': %s", dir, strerror(errno));
    return INGEST_EIO;
  }
  ingest_schema_set *set = calloc(1, sizeof *set);
  int rc = 0;
  if (!set || !(set->schemas = calloc((size_t)n + 1, sizeof *set->schemas))) {
    rc = INGEST_ENOMEM;
    snprintf(errbuf, errlen, "out of memory loading schemas");
  }
  atomic_init(&set->refs, 1);
  for (int i = 0; rc == 0 && i < n; i++) {
    char path[PATH_MAX];
    struct stat st;
    const char *name = names[i]->d_name;
    size_t nlen = strlen(name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      snprintf(path, sizeof path, "%s/%s/schema.json", dir, name);
      if (stat(path, &st) != 0) continue;
    } else if (!(nlen > 12 && !strcmp(name + nlen - 12, ".schema.json"))) {
      continue;
    }
    ingest_schema *s;
    ingest_error err;
    rc = ingest_schema_load_file(path, &s, &err);
    if (rc) {
      snprintf(errbuf, errlen, "%s", err.message);
      break;
    }
    for (size_t k = 0; k < set->n; k++) {
      if (!strcmp(set->schemas[k]->id, s->id)) {
        snprintf(errbuf, errlen, "%s: schema id '%s' is already used by %s", path, s->id,
                 set->schemas[k]->path);
        rc = INGEST_ESCHEMA;
      } else if (!strcmp(set->schemas[k]->topic, s->topic)) {
        snprintf(errbuf, errlen, "%s: topic template '%s' is already used by %s", path, s->topic,
                 set->schemas[k]->path);
        rc = INGEST_ESCHEMA;
      }
    }
    if (rc) {
      ingest_schema_free(s);
      break;
    }
    set->schemas[set->n++] = s;
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  if (rc) {
    set_free(set);
    return rc;
  }
  qsort(set->schemas, set->n, sizeof *set->schemas, cmp_specificity);
  *out = set;
  return 0;
}

size_t ingest_schema_set_count(const ingest_schema_set *set) { return set->n; }
const ingest_schema *ingest_schema_set_at(const ingest_schema_set *set, size_t i) {
  return i < set->n ? set->schemas[i] : NULL;
}

void ingest_schema_set_retain(ingest_schema_set *set) {
  atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
}

void ingest_schema_set_release(ingest_schema_set *set) {
  if (set && atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) set_free(set);
}

const ingest_schema *ingest_schema_set_route(const ingest_schema_set *set, const char *topic,
                                             size_t topic_len) {
  for (size_t i = 0; i < set->n; i++)
    if (tsdb_topic_template_match(set->schemas[i]->tpl, topic, topic_len, NULL))
      return set->schemas[i];
  return NULL;
}

/* ---- processing one message ---- */

static void render_actual(ingest_value v, char *buf, size_t len) {
  switch (ingest_value_type(v)) {
  case INGEST_T_NUMBER:
    snprintf(buf, len, "%.17g", v.ops->number(v.node));
    break;
  case INGEST_T_STRING: {
    size_t n;
    const char *s = v.ops->string(v.node, &n);
    if (n + 3 > len)
      snprintf(buf, len, "\"%.*s...\"", (int)(len > 6 ? len - 6 : 0), s);
    else
      snprintf(buf, len, "\"%.*s\"", (int)n, s);
    break;
  }
  default:
    snprintf(buf, len, "%s", ingest_type_name(ingest_value_type(v)));
  }
}

static int timestamp_of(const ingest_schema *s, ingest_value root, int64_t arrival_ms,
                        int64_t *out, ingest_error *err) {
  if (s->ts_fmt == TS_ARRIVAL) {
    *out = arrival_ms;
    return 0;
  }
  ingest_value v = ingest_pointer_resolve(s->ts_pointer, root);
  const char *ptr = ingest_pointer_text(s->ts_pointer);
  int rc = 0;
  int64_t ms = 0;
  if (!ingest_value_present(v)) {
    rc = ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", ptr,
                          "%s: the timestamp is missing", ptr);
    snprintf(err->expected, sizeof err->expected, "%s timestamp", ts_format_names[s->ts_fmt]);
    snprintf(err->actual, sizeof err->actual, "absent");
    return rc;
  }
  if (s->ts_fmt == TS_RFC3339) {
    size_t n = 0;
    const char *text = ingest_value_type(v) == INGEST_T_STRING ? v.ops->string(v.node, &n) : NULL;
    if (!text || ingest_rfc3339_parse(text, n, &ms) != 0) rc = INGEST_ETIMESTAMP;
  } else if (ingest_value_type(v) == INGEST_T_NUMBER) {
    static const double scale[] = {0, 0, 1000.0, 1.0, 0.001};
    double d = v.ops->number(v.node) * scale[s->ts_fmt];
    if (!isfinite(d) || d < 0 || d > (double)MAX_TS_MS)
      rc = INGEST_ETIMESTAMP;
    else
      ms = (int64_t)floor(d);
  } else {
    rc = INGEST_ETIMESTAMP;
  }
  if (rc == 0 && (ms < 0 || ms > MAX_TS_MS)) rc = INGEST_ETIMESTAMP;
  if (rc) {
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", ptr,
                     "%s: not a valid %s timestamp", ptr, ts_format_names[s->ts_fmt]);
    snprintf(err->expected, sizeof err->expected, "%s timestamp", ts_format_names[s->ts_fmt]);
    render_actual(v, err->actual, sizeof err->actual);
    return rc;
  }
  if (ms > arrival_ms + s->max_future_ms) {
    char future[24];
    tsdb_duration_format(s->max_future_ms, future, sizeof future);
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_future", ptr,
                     "%s: the timestamp is %" PRId64 " ms ahead of the broker's clock (at most %s "
                     "allowed)",
                     ptr, ms - arrival_ms, future);
    snprintf(err->expected, sizeof err->expected, "<= arrival + %s", future);
    render_actual(v, err->actual, sizeof err->actual);
    return INGEST_ETIMESTAMP;
  }
  *out = ms;
  return 0;
}

static int extract(const ingest_schema *s, ingest_value root, int64_t arrival_ms,
                   tsdb_point *points, size_t *npoints, ingest_error *err) {
  int rc = ingest_jsonschema_validate(s->validator, root, err);
  if (rc) return rc;
  int64_t ts = arrival_ms;
  if ((rc = timestamp_of(s, root, arrival_ms, &ts, err))) return rc;
  size_t n = 0;
  for (size_t i = 0; i < s->nfields; i++) {
    ingest_value v = ingest_pointer_resolve(s->pointers[i], root);
    if (!ingest_value_present(v)) continue;
    const char *ptr = ingest_pointer_text(s->pointers[i]);
    if (ingest_value_type(v) != INGEST_T_NUMBER) {
      ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/measurements", ptr,
                       "%s: measurement '%s' must be a number", ptr, s->fields[i]);
      snprintf(err->expected, sizeof err->expected, "number");
      render_actual(v, err->actual, sizeof err->actual);
      return INGEST_EVALIDATE;
    }
    double d = v.ops->number(v.node);
    if (!isfinite(d)) {
      ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/measurements", ptr,
                       "%s: measurement '%s' must be a finite number", ptr, s->fields[i]);
      snprintf(err->expected, sizeof err->expected, "finite number");
      render_actual(v, err->actual, sizeof err->actual);
      return INGEST_EVALIDATE;
    }
    points[n++] = (tsdb_point){ts, d, (uint32_t)i};
  }
  *npoints = n;
  return 0;
}

int ingest_schema_process(const ingest_schema *s, const void *payload, size_t len,
                          int64_t arrival_ms, tsdb_point *points, size_t *npoints,
                          ingest_error *err) {
  *npoints = 0;
  err->code = 0;
  if (s->format == FORMAT_JSON) {
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
    if (!doc) {
      size_t at = end && end >= (const char *)payload ? (size_t)(end - (const char *)payload) : 0;
      ingest_error_set(err, INGEST_EDECODE, "format", "", "payload is not valid JSON (error near byte %zu)", at);
      snprintf(err->expected, sizeof err->expected, "JSON");
      return INGEST_EDECODE;
    }
    int rc = extract(s, ingest_value_from_cjson(doc), arrival_ms, points, npoints, err);
    cJSON_Delete(doc);
    return rc;
  }
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  size_t off = 0;
  msgpack_unpack_return ur = msgpack_unpack_next(&up, payload, len, &off);
  int rc;
  if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
    ingest_error_set(err, INGEST_EDECODE, "format", "",
                     ur == MSGPACK_UNPACK_SUCCESS ? "payload has %zu bytes after the MessagePack value"
                                                  : "payload is not valid MessagePack (%zu bytes read)",
                     ur == MSGPACK_UNPACK_SUCCESS ? len - off : off);
    snprintf(err->expected, sizeof err->expected, "MessagePack");
    rc = INGEST_EDECODE;
  } else {
    rc = extract(s, ingest_value_from_msgpack(&up.data), arrival_ms, points, npoints, err);
  }
  msgpack_unpacked_destroy(&up);
  return rc;
}
