/*
 * x-tsdb, the mapping section of a schema file (documented in
 * ingest/schema.h), read once at load time into struct ingest_schema.
 *
 * Every member is checked and every error names the member's path
 * ("/x-tsdb/timestamp/format"): a typo must never silently change what is
 * stored, so unknown members are errors too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "schema_internal.h"

#define DEFAULT_MAX_FUTURE_MS (5 * 60 * 1000)
#define MAX_LABELS 32
#define MAX_NAME_ENTRIES 1024
#define DAY_MS INT64_C(86400000)

static const char *const ts_format_names[] = {"",         "rfc3339",  "epoch_s",
                                              "epoch_ms", "epoch_us", NULL};

int ingest_mapping__bad(ingest_error *err, const char *path, const char *where, const char *fmt,
                        ...) {
  char detail[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  ingest_error_set(err, INGEST_ESCHEMA, "x-tsdb", where, "%s: %s: %s", path, where, detail);
  snprintf(err->schema_path, sizeof err->schema_path, "%s", where);
  return INGEST_ESCHEMA;
}

#define BAD(...) ingest_mapping__bad(err, s->path, __VA_ARGS__)

static int nomem(const ingest_schema *s, ingest_error *err) {
  return ingest_error_set(err, INGEST_ENOMEM, "", "", "%s: out of memory", s->path);
}

int ingest_mapping__check_keys(const ingest_schema *s, const void *obj, const char *const *allowed,
                               const char *where, ingest_error *err) {
  const cJSON *m;
  cJSON_ArrayForEach(m, (const cJSON *)obj) {
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(m->string, allowed[i]);
    if (!ok) return BAD(where, "unknown member '%s'", m->string);
    /* cJSON keeps duplicate keys; the second would be silently ignored. */
    for (const cJSON *o = ((const cJSON *)obj)->child; o != m; o = o->next)
      if (!strcmp(o->string, m->string)) return BAD(where, "member '%s' appears twice", m->string);
  }
  return 0;
}

int ingest_mapping__choice(const ingest_schema *s, const void *obj, const char *member,
                           const char *where, const char *const *choices, int *out,
                           ingest_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)obj, member);
  if (!v) return 0;
  for (int i = 0; choices[i]; i++) {
    if (cJSON_IsString(v) && !strcmp(v->valuestring, choices[i])) {
      *out = i;
      return 0;
    }
  }
  char list[160] = "";
  size_t off = 0;
  for (int i = 0; choices[i]; i++) {
    int n = snprintf(list + off, sizeof list - off, "%s\"%s\"", i ? ", " : "", choices[i]);
    if (n < 0 || (size_t)n >= sizeof list - off) break;
    off += (size_t)n;
  }
  char w[192];
  snprintf(w, sizeof w, "%s/%s", where, member);
  return BAD(w, "must be one of %s", list);
}

int ingest_mapping__capture(const ingest_schema *s, const char *name) {
  size_t n = tsdb_topic_template_ncaptures(s->tpl);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(tsdb_topic_template_capture_name(s->tpl, i), name)) return (int)i;
  return -1;
}

static bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

static bool valid_name(const char *str, size_t max) {
  size_t n = strlen(str);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!id_char(str[i])) return false;
  return true;
}

static int parse_duration(const cJSON *v, int64_t *ms) {
  return cJSON_IsString(v) ? tsdb_duration_parse(v->valuestring, ms) : TSDB_EINVAL;
}

/* Retention durations also take "y" (365 days, as Prometheus counts a year):
 * nobody writes "365d". */
static int parse_retention(const cJSON *v, int64_t *ms) {
  if (!cJSON_IsString(v)) return TSDB_EINVAL;
  const char *t = v->valuestring;
  if (!strcmp(t, "forever")) {
    *ms = 0;
    return 0;
  }
  size_t n = strlen(t);
  if (n >= 2 && t[n - 1] == 'y') {
    int64_t years = 0;
    for (size_t i = 0; i + 1 < n; i++) {
      if (t[i] < '0' || t[i] > '9' || years > 1000000) return TSDB_EINVAL;
      years = years * 10 + (t[i] - '0');
    }
    if (years == 0 || years > 10000) return TSDB_EINVAL;
    *ms = years * 365 * DAY_MS;
    return 0;
  }
  return tsdb_duration_parse(t, ms);
}

/* unit, precision, scale of a measurement or a map entry. */
static int field_props(ingest_schema *s, const cJSON *obj, const char *where, ingest_field *f,
                       ingest_error *err) {
  const cJSON *unit = cJSON_GetObjectItemCaseSensitive(obj, "unit");
  const cJSON *prec = cJSON_GetObjectItemCaseSensitive(obj, "precision");
  const cJSON *scale = cJSON_GetObjectItemCaseSensitive(obj, "scale");
  if (unit) {
    /* Units are SenML registry names ("Cel", "%RH", "ug/m3"): printable
     * ASCII without spaces, and short. */
    bool ok = cJSON_IsString(unit) && unit->valuestring[0] && strlen(unit->valuestring) <= 32;
    for (const char *p = ok ? unit->valuestring : ""; *p && ok; p++) ok = *p > 0x20 && *p < 0x7F;
    if (!ok)
      return BAD(
          where,
          "\"unit\" must be a units registry name such as \"Cel\" (1-32 printable ASCII characters)");
    if (!(f->unit = strdup(unit->valuestring))) return nomem(s, err);
  }
  f->precision = 0;
  if (prec) {
    if (!cJSON_IsNumber(prec) || !isfinite(prec->valuedouble) || prec->valuedouble <= 0)
      return BAD(where, "\"precision\" must be a number > 0, such as 0.1");
    f->precision = prec->valuedouble;
  }
  f->scale = 1;
  if (scale) {
    if (!cJSON_IsNumber(scale) || !isfinite(scale->valuedouble) || scale->valuedouble == 0)
      return BAD(where, "\"scale\" must be a finite number other than 0, such as 0.1");
    f->scale = scale->valuedouble;
  }
  return 0;
}

static int load_measurements(ingest_schema *s, const cJSON *meas, ingest_error *err) {
  int nmeas = cJSON_IsObject(meas) ? cJSON_GetArraySize(meas) : 0;
  if (nmeas < 1 || nmeas > INGEST_MAX_MEASUREMENTS)
    return BAD("/x-tsdb/measurements", "must be an object of 1 to %d measurements",
               INGEST_MAX_MEASUREMENTS);
  int rc;
  if (!(s->fields = calloc((size_t)nmeas, sizeof *s->fields))) return nomem(s, err);
  const cJSON *m;
  cJSON_ArrayForEach(m, meas) {
    static const char *const keys[] = {"pointer", "unit",        "precision",
                                       "scale",   "description", NULL};
    char where[192];
    snprintf(where, sizeof where, "/x-tsdb/measurements/%s", m->string);
    if (!valid_name(m->string, 128))
      return BAD(where, "a field name is 1-128 letters, digits, '-', '_', '.'");
    for (size_t i = 0; i < s->nfields; i++)
      if (!strcmp(s->fields[i].name, m->string)) return BAD(where, "appears twice");
    if (!cJSON_IsObject(m)) return BAD(where, "must be an object with a \"pointer\"");
    if ((rc = ingest_mapping__check_keys(s, m, keys, where, err))) return rc;
    ingest_field *f = &s->fields[s->nfields++];
    if (!(f->name = strdup(m->string))) return nomem(s, err);
    const cJSON *ptr = cJSON_GetObjectItemCaseSensitive(m, "pointer");
    if (!cJSON_IsString(ptr) || ingest_pointer_compile(ptr->valuestring, &f->pointer) != 0)
      return BAD(where, "\"pointer\" must be a JSON pointer such as \"/pm25\"");
    if ((rc = field_props(s, m, where, f, err))) return rc;
    /* "/name" without escapes is one member of the root. */
    const char *t = ingest_pointer_text(f->pointer);
    if (t[0] == '/' && !strchr(t + 1, '/') && !strchr(t, '~')) {
      f->root_key = t + 1;
      f->root_key_len = strlen(t + 1);
    }
  }
  s->root_fast = s->nfields <= 64;
  for (size_t i = 0; i < s->nfields; i++) s->root_fast &= s->fields[i].root_key != NULL;
  return 0;
}

static int cmp_entry(const void *a, const void *b) {
  const ingest_name_entry *x = a, *y = b;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* The index of the map's field called name, adding it if new; a field that
 * several names lead to must be described the same way by each of them. */
static int map_field(ingest_schema *s, const char *name, const ingest_field *props,
                     const char *where, uint32_t *idx, ingest_error *err) {
  for (size_t i = 0; i < s->nfields; i++) {
    ingest_field *f = &s->fields[i];
    if (strcmp(f->name, name)) continue;
    bool same_unit =
        (f->unit == NULL) == (props->unit == NULL) && (!f->unit || !strcmp(f->unit, props->unit));
    if (!same_unit || f->precision != props->precision || f->scale != props->scale)
      return BAD(
          where,
          "field '%s' is described differently by another name (unit, precision and scale must agree)",
          name);
    *idx = (uint32_t)i;
    return 0;
  }
  if (s->nfields == INGEST_MAX_MEASUREMENTS)
    return BAD(where, "at most %d fields", INGEST_MAX_MEASUREMENTS);
  ingest_field *f = &s->fields[s->nfields];
  memset(f, 0, sizeof *f);
  f->name = strdup(name);
  f->unit = props->unit ? strdup(props->unit) : NULL;
  if (!f->name || (props->unit && !f->unit)) {
    free(f->name);
    free(f->unit);
    return nomem(s, err);
  }
  f->precision = props->precision;
  f->scale = props->scale;
  *idx = (uint32_t)s->nfields++;
  return 0;
}

static int add_entry(ingest_schema *s, ingest_name_entry *list, size_t *n, const char *key,
                     uint32_t field, const char *where, ingest_error *err) {
  size_t len = strlen(key);
  if (len == 0 || len > TSDB_MAX_NAME_LEN)
    return BAD(where, "a name is 1-%d bytes", TSDB_MAX_NAME_LEN);
  ingest_name_entry *e = &list[*n];
  if (!(e->key = strdup(key))) return nomem(s, err);
  e->key_len = len;
  e->field = field;
  (*n)++;
  return 0;
}

static int load_names(ingest_schema *s, const cJSON *names, ingest_error *err) {
  static const char *const keys[] = {"map", "ignore", "unmapped", "description", NULL};
  static const char *const unmapped[] = {"keep", "ignore", "refuse", NULL};
  s->unmapped = UNMAPPED_KEEP;
  if (!names) return 0;
  if (!cJSON_IsObject(names)) return BAD("/x-tsdb/names", "must be an object");
  int rc = ingest_mapping__check_keys(s, names, keys, "/x-tsdb/names", err);
  int choice = UNMAPPED_KEEP;
  if (!rc)
    rc = ingest_mapping__choice(s, names, "unmapped", "/x-tsdb/names", unmapped, &choice, err);
  if (rc) return rc;
  s->unmapped = (ingest_unmapped)choice;

  const cJSON *map = cJSON_GetObjectItemCaseSensitive(names, "map");
  const cJSON *ign = cJSON_GetObjectItemCaseSensitive(names, "ignore");
  if (map && (!cJSON_IsObject(map) || cJSON_GetArraySize(map) > MAX_NAME_ENTRIES))
    return BAD("/x-tsdb/names/map", "must be an object of at most %d names", MAX_NAME_ENTRIES);
  if (ign && (!cJSON_IsArray(ign) || cJSON_GetArraySize(ign) > MAX_NAME_ENTRIES))
    return BAD("/x-tsdb/names/ignore", "must be an array of at most %d names", MAX_NAME_ENTRIES);
  size_t nmap = map ? (size_t)cJSON_GetArraySize(map) : 0;
  size_t nign = ign ? (size_t)cJSON_GetArraySize(ign) : 0;
  s->map = calloc(nmap + 1, sizeof *s->map);
  s->ignore = calloc(nign + 1, sizeof *s->ignore);
  if (!s->map || !s->ignore) return nomem(s, err);

  const cJSON *m;
  cJSON_ArrayForEach(m, map) {
    static const char *const m_keys[] = {"field", "unit",        "precision",
                                         "scale", "description", NULL};
    char where[320];
    snprintf(where, sizeof where, "/x-tsdb/names/map/%.255s", m->string);
    if (!cJSON_IsObject(m)) return BAD(where, "must be an object with a \"field\"");
    if ((rc = ingest_mapping__check_keys(s, m, m_keys, where, err))) return rc;
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(m, "field");
    if (!cJSON_IsString(field) || !valid_name(field->valuestring, 128))
      return BAD(where, "\"field\" must be a field name of 1-128 letters, digits, '-', '_', '.'");
    ingest_field props = {0};
    rc = field_props(s, m, where, &props, err);
    uint32_t idx = 0;
    if (!rc) rc = map_field(s, field->valuestring, &props, where, &idx, err);
    free(props.unit);
    if (!rc) rc = add_entry(s, s->map, &s->nmap, m->string, idx, where, err);
    if (rc) return rc;
  }
  const cJSON *i;
  cJSON_ArrayForEach(i, ign) {
    if (!cJSON_IsString(i)) return BAD("/x-tsdb/names/ignore", "must hold strings");
    if ((rc = add_entry(s, s->ignore, &s->nignore, i->valuestring, 0, "/x-tsdb/names/ignore", err)))
      return rc;
  }
  qsort(s->map, s->nmap, sizeof *s->map, cmp_entry);
  qsort(s->ignore, s->nignore, sizeof *s->ignore, cmp_entry);
  for (size_t k = 1; k < s->nmap; k++)
    if (!cmp_entry(&s->map[k - 1], &s->map[k]))
      return BAD("/x-tsdb/names/map", "'%s' appears twice", s->map[k].key);
  for (size_t k = 1; k < s->nignore; k++)
    if (!cmp_entry(&s->ignore[k - 1], &s->ignore[k]))
      return BAD("/x-tsdb/names/ignore", "'%s' appears twice", s->ignore[k].key);
  for (size_t k = 0; k < s->nignore; k++)
    if (bsearch(&s->ignore[k], s->map, s->nmap, sizeof *s->map, cmp_entry))
      return BAD("/x-tsdb/names/ignore", "'%s' is also in the map", s->ignore[k].key);
  return 0;
}

static int load_timestamp(ingest_schema *s, const cJSON *ts, ingest_error *err) {
  static const char *const keys[] = {"pointer",  "format",      "max_future",
                                     "max_past", "description", NULL};
  s->ts_fmt = TS_NONE;
  s->max_future_ms = DEFAULT_MAX_FUTURE_MS;
  s->max_past_ms = 0;
  if (!ts) return 0;
  if (!cJSON_IsObject(ts)) return BAD("/x-tsdb/timestamp", "must be an object");
  int rc = ingest_mapping__check_keys(s, ts, keys, "/x-tsdb/timestamp", err);
  if (rc) return rc;
  const cJSON *ptr = cJSON_GetObjectItemCaseSensitive(ts, "pointer");
  const cJSON *tf = cJSON_GetObjectItemCaseSensitive(ts, "format");
  if (ptr) {
    if (!s->decoder->ts_pointer)
      return BAD("/x-tsdb/timestamp/pointer", "format '%s' takes its time from the message itself",
                 s->decoder->name);
    if (!cJSON_IsString(ptr) || ingest_pointer_compile(ptr->valuestring, &s->ts_pointer) != 0)
      return BAD("/x-tsdb/timestamp/pointer", "must be a JSON pointer such as \"/ts\"");
    int f = TS_NONE;
    for (int i = TS_RFC3339; ts_format_names[i]; i++)
      if (cJSON_IsString(tf) && !strcmp(tf->valuestring, ts_format_names[i])) f = i;
    if (f == TS_NONE)
      return BAD("/x-tsdb/timestamp/format", "must be one of rfc3339, epoch_s, epoch_ms, epoch_us");
    s->ts_fmt = (ingest_ts_format)f;
  } else if (tf) {
    return BAD("/x-tsdb/timestamp/format", "is only meaningful with a \"pointer\"");
  }
  const cJSON *mf = cJSON_GetObjectItemCaseSensitive(ts, "max_future");
  if (mf && parse_duration(mf, &s->max_future_ms) != 0)
    return BAD("/x-tsdb/timestamp/max_future", "must be a duration such as \"5m\"");
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(ts, "max_past");
  if (mp && parse_retention(mp, &s->max_past_ms) != 0)
    return BAD("/x-tsdb/timestamp/max_past", "must be a duration such as \"30d\" or \"forever\"");
  return 0;
}

static int load_tiers(ingest_schema *s, const cJSON *tl, ingest_error *err) {
  if (!tl) {
    static const int64_t dflt[] = {60000, 900000, 3600000, 86400000};
    memcpy(s->tiers_ms, dflt, sizeof dflt);
    s->ntiers = 4;
    return 0;
  }
  if (!cJSON_IsArray(tl) || cJSON_GetArraySize(tl) > INGEST_MAX_TIERS)
    return BAD("/x-tsdb/tiers", "must be an array of at most %d durations", INGEST_MAX_TIERS);
  const cJSON *t;
  cJSON_ArrayForEach(t, tl) {
    int64_t ms;
    if (parse_duration(t, &ms) != 0 || ms % 1000)
      return BAD("/x-tsdb/tiers",
                 "each tier is a whole number of seconds such as \"10s\" or \"1m\"");
    if (s->ntiers > 0 && (ms <= s->tiers_ms[s->ntiers - 1] || ms % s->tiers_ms[s->ntiers - 1]))
      return BAD("/x-tsdb/tiers",
                 "tiers must ascend and each must be a multiple of the one before");
    s->tiers_ms[s->ntiers++] = ms;
  }
  return 0;
}

static int load_retention(ingest_schema *s, const cJSON *r, ingest_error *err) {
  for (size_t i = 0; i <= INGEST_MAX_TIERS; i++) s->retention_ms[i] = 0;
  if (!r) return 0;
  if (!cJSON_IsObject(r))
    return BAD("/x-tsdb/retention", "must be an object such as {\"raw\": \"90d\", \"1h\": \"5y\"}");
  bool seen[INGEST_MAX_TIERS + 1] = {false};
  const cJSON *m;
  cJSON_ArrayForEach(m, r) {
    char where[96];
    snprintf(where, sizeof where, "/x-tsdb/retention/%.60s", m->string);
    size_t slot = 0;
    int64_t tier = 0;
    if (strcmp(m->string, "raw") != 0) {
      if (tsdb_duration_parse(m->string, &tier) != 0)
        return BAD(where, "is neither \"raw\" nor a tier");
      slot = SIZE_MAX;
      for (size_t i = 0; i < s->ntiers; i++)
        if (s->tiers_ms[i] == tier) slot = i + 1;
      if (slot == SIZE_MAX) return BAD(where, "is not one of the schema's tiers");
    }
    if (seen[slot]) return BAD(where, "is given twice");
    seen[slot] = true;
    int64_t keep;
    if (parse_retention(m, &keep) != 0)
      return BAD(where, "must be a duration such as \"90d\" or \"5y\", or \"forever\"");
    int64_t width = slot == 0 ? (s->block_span_ms ? s->block_span_ms : DAY_MS) : tier;
    if (keep != 0 && keep < width)
      return BAD(where, "must be at least %s (%s)",
                 slot == 0 ? "the block span" : "the tier itself",
                 slot == 0 ? "raw points are deleted a whole block at a time"
                           : "a shorter retention would never hold one bucket");
    s->retention_ms[slot] = keep;
  }
  /* Raw points feed every tier (chained: each from the next finer one), so
   * they must outlive the coarsest bucket; and a coarser level is kept at
   * least as long as a finer one. The engine insists on the first. */
  if (s->retention_ms[0] && s->ntiers && s->retention_ms[0] <= s->tiers_ms[s->ntiers - 1])
    return BAD("/x-tsdb/retention/raw", "must be longer than the coarsest tier (%" PRId64 "s)",
               s->tiers_ms[s->ntiers - 1] / 1000);
  for (size_t i = 1; i <= s->ntiers; i++) {
    int64_t finer = s->retention_ms[i - 1], coarser = s->retention_ms[i];
    if (finer == 0 && coarser != 0)
      return BAD("/x-tsdb/retention",
                 "tier %" PRId64 "s is kept for less time than a finer level (forever)",
                 s->tiers_ms[i - 1] / 1000);
    if (finer != 0 && coarser != 0 && coarser < finer)
      return BAD("/x-tsdb/retention", "tier %" PRId64 "s is kept for less time than a finer level",
                 s->tiers_ms[i - 1] / 1000);
  }
  return 0;
}

static int load_labels(ingest_schema *s, const cJSON *lv, tsdb_label *labels, size_t *nlabels,
                       ingest_error *err) {
  *nlabels = 0;
  if (!lv) return 0;
  if (!cJSON_IsObject(lv) || cJSON_GetArraySize(lv) > MAX_LABELS)
    return BAD("/x-tsdb/labels", "must be an object of at most %d string labels", MAX_LABELS);
  const cJSON *l;
  cJSON_ArrayForEach(l, lv) {
    if (!cJSON_IsString(l) || !valid_name(l->string, 64))
      return BAD("/x-tsdb/labels", "label '%s' must have a simple name and a string value",
                 l->string);
    labels[(*nlabels)++] = (tsdb_label){l->string, l->valuestring};
  }
  return 0;
}

static int make_class(ingest_schema *s, const tsdb_label *labels, size_t nlabels,
                      ingest_error *err) {
  const char *names[INGEST_MAX_MEASUREMENTS];
  const char *units[INGEST_MAX_MEASUREMENTS];
  size_t n = s->nfields;
  for (size_t i = 0; i < n; i++) {
    names[i] = s->fields[i].name;
    units[i] = s->fields[i].unit;
  }
  tsdb_series_class_desc d = {
      .schema_id = s->id,
      .schema_version = s->version,
      .topic_template = s->topic,
      .nfields = n,
      .field_names = names,
      .units = units,
      .ntiers = s->ntiers,
      .tiers_ms = s->tiers_ms,
      /* INGEST_DUP_* and TSDB_DUP_* share their values (schema.h). */
      .dup_policy = s->dup == INGEST_DUP_REJECT  ? TSDB_DUP_REJECT
                    : s->dup == INGEST_DUP_FIRST ? TSDB_DUP_FIRST
                                                 : TSDB_DUP_LAST,
      .block_span_ms = s->block_span_ms,
      .nlabels = nlabels,
      .labels = labels,
      .raw_retention_ms = s->retention_ms[0],
      .tier_retention_ms = s->ntiers ? &s->retention_ms[1] : NULL,
  };
  int trc = tsdb_series_class_create(&d, &s->cls);
  if (trc) return BAD("/x-tsdb", "invalid mapping (%s)", tsdb_strerror(trc));
  return 0;
}

int ingest_mapping__load(ingest_schema *s, const void *xv, ingest_error *err) {
  const cJSON *x = xv;
  if (!cJSON_IsObject(x)) return BAD("/x-tsdb", "must be an object");

  /* The format comes first: it decides which other members are allowed. */
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(x, "format");
  if (!fmt) {
    s->decoder = &ingest_decode_json;
  } else if (!cJSON_IsString(fmt) || !(s->decoder = ingest_decode__find(fmt->valuestring))) {
    return BAD("/x-tsdb/format", "must be one of %s", ingest_decode__names());
  }
  const char *keys[] = {"id",           "version", "topic",       "format",         "timestamp",
                        "measurements", "names",   "tiers",       "retention",      "duplicates",
                        "block_span",   "labels",  "description", s->decoder->name, NULL};
  int rc = ingest_mapping__check_keys(s, x, keys, "/x-tsdb", err);
  if (rc) return rc;

  const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
  if (!cJSON_IsString(id) || !valid_name(id->valuestring, 64))
    return BAD("/x-tsdb/id", "must be a string of 1-64 letters, digits, '-', '_', '.'");
  if (!(s->id = strdup(id->valuestring))) return nomem(s, err);

  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(x, "version");
  if (!cJSON_IsNumber(ver) || !(ver->valuedouble >= 1 && ver->valuedouble <= UINT32_MAX) ||
      ver->valuedouble != floor(ver->valuedouble))
    return BAD("/x-tsdb/version", "must be an integer >= 1");
  s->version = (uint32_t)ver->valuedouble;

  const cJSON *topic = cJSON_GetObjectItemCaseSensitive(x, "topic");
  if (!cJSON_IsString(topic)) return BAD("/x-tsdb/topic", "must be a topic template");
  char terr[256];
  if (tsdb_topic_template_compile(topic->valuestring, &s->tpl, terr, sizeof terr) != 0)
    return BAD("/x-tsdb/topic", "%s", terr);
  if (!(s->topic = strdup(topic->valuestring))) return nomem(s, err);

  if ((rc = load_timestamp(s, cJSON_GetObjectItemCaseSensitive(x, "timestamp"), err))) return rc;

  const cJSON *meas = cJSON_GetObjectItemCaseSensitive(x, "measurements");
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(x, "names");
  if (s->decoder->named) {
    if (meas)
      return BAD("/x-tsdb/measurements",
                 "format '%s' names its fields in the message: use \"names\"", s->decoder->name);
    if (!(s->fields = calloc(INGEST_MAX_MEASUREMENTS, sizeof *s->fields))) return nomem(s, err);
    if ((rc = load_names(s, names, err))) return rc;
  } else {
    if (names)
      return BAD(
          "/x-tsdb/names",
          "only for formats that name their fields in the message (senml, sensor.community)");
    if ((rc = load_measurements(s, meas, err))) return rc;
  }

  if ((rc = load_tiers(s, cJSON_GetObjectItemCaseSensitive(x, "tiers"), err))) return rc;

  /* The engine's names; INGEST_DUP_* and TSDB_DUP_* share their values. */
  const char *dups[INGEST_DUP_REJECT + 2] = {NULL};
  for (int i = 0; i <= INGEST_DUP_REJECT; i++) dups[i] = tsdb_dup_policy_name(i);
  int dup = INGEST_DUP_LAST;
  if ((rc = ingest_mapping__choice(s, x, "duplicates", "/x-tsdb", dups, &dup, err))) return rc;
  s->dup = (ingest_dup_policy)dup;

  s->block_span_ms = 0;
  const cJSON *spanv = cJSON_GetObjectItemCaseSensitive(x, "block_span");
  if (spanv && (parse_duration(spanv, &s->block_span_ms) != 0 || s->block_span_ms % 1000 ||
                s->block_span_ms < 60000))
    return BAD("/x-tsdb/block_span", "must be a whole number of seconds, at least \"1m\"");

  if ((rc = load_retention(s, cJSON_GetObjectItemCaseSensitive(x, "retention"), err))) return rc;

  tsdb_label labels[MAX_LABELS];
  size_t nlabels = 0;
  if ((rc = load_labels(s, cJSON_GetObjectItemCaseSensitive(x, "labels"), labels, &nlabels, err)))
    return rc;

  if (s->decoder->configure) {
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(x, s->decoder->name);
    if (opts && !cJSON_IsObject(opts)) {
      char where[64];
      snprintf(where, sizeof where, "/x-tsdb/%s", s->decoder->name);
      return BAD(where, "must be an object of options");
    }
    if ((rc = s->decoder->configure(s, opts, err))) return rc;
  } else if (cJSON_GetObjectItemCaseSensitive(x, s->decoder->name)) {
    char where[64];
    snprintf(where, sizeof where, "/x-tsdb/%s", s->decoder->name);
    return BAD(where, "format '%s' has no options", s->decoder->name);
  }
  return make_class(s, labels, nlabels, err);
}

void ingest_mapping__free(ingest_schema *s) {
  for (size_t i = 0; s->fields && i < s->nfields; i++) {
    free(s->fields[i].name);
    free(s->fields[i].unit);
    ingest_pointer_free(s->fields[i].pointer);
  }
  free(s->fields);
  for (size_t i = 0; s->map && i < s->nmap; i++) free(s->map[i].key);
  for (size_t i = 0; s->ignore && i < s->nignore; i++) free(s->ignore[i].key);
  free(s->map);
  free(s->ignore);
  ingest_pointer_free(s->ts_pointer);
  tsdb_topic_template_free(s->tpl);
  tsdb_series_class_release(s->cls);
  free(s->id);
  free(s->topic);
}
