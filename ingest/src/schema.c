/*
 * Schemas: loading a file (JSON Schema + x-tsdb), schema sets with routing by
 * topic, and the per-message driver that hands a payload to its decoder.
 * x-tsdb itself is read in mapping.c, the formats live in decode_*.c.
 */
#include "ingest/schema.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ingest/jsonschema.h"
#include "rfc8259.h"
#include "schema_internal.h"

#define SCHEMA_FILE_MAX (1 << 20)

struct ingest_schema_set {
  atomic_int refs;
  size_t n;
  ingest_schema **schemas; /* most specific topic template first */
};

void ingest_schema_free(ingest_schema *s) {
  if (!s) return;
  ingest_mapping__free(s);
  ingest_jsonschema_free(s->validator);
  free(s->path);
  free(s);
}

const char *ingest_schema_id(const ingest_schema *s) { return s->id; }
uint32_t ingest_schema_version(const ingest_schema *s) { return s->version; }
const char *ingest_schema_topic(const ingest_schema *s) { return s->topic; }
const char *ingest_schema_format(const ingest_schema *s) { return s->decoder->name; }
bool ingest_schema_named(const ingest_schema *s) { return s->decoder->named; }
size_t ingest_schema_nfields(const ingest_schema *s) { return s->nfields; }
const char *ingest_schema_field(const ingest_schema *s, size_t i) {
  return i < s->nfields ? s->fields[i].name : NULL;
}

bool ingest_schema_field_info(const ingest_schema *s, size_t i, ingest_field_info *info) {
  if (i >= s->nfields) return false;
  const ingest_field *f = &s->fields[i];
  *info = (ingest_field_info){f->name, f->unit, f->precision, f->scale};
  return true;
}

ingest_dup_policy ingest_schema_duplicates(const ingest_schema *s) { return s->dup; }

size_t ingest_schema_tiers(const ingest_schema *s, const int64_t **tiers_ms) {
  *tiers_ms = s->tiers_ms;
  return s->ntiers;
}

int64_t ingest_schema_retention_ms(const ingest_schema *s, int64_t tier_ms) {
  if (tier_ms == 0) return s->retention_ms[0];
  for (size_t i = 0; i < s->ntiers; i++)
    if (s->tiers_ms[i] == tier_ms) return s->retention_ms[i + 1];
  return -1;
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

int ingest_schema_load_file(const char *path, ingest_schema **out, ingest_error *err) {
  *out = NULL;
  ingest_error_clear(err);
  size_t len;
  char *text = read_file(path, &len, err);
  if (!text) return err->code;
  ingest_schema *s = calloc(1, sizeof *s);
  /* The same strict RFC 8259 reading as messages get (rfc8259.c): cJSON
   * alone would take "017", trailing garbage after a NUL, or cut a
   * "pattern" or "const" at a \u0000. A name twice is left to the loaders,
   * which refuse it with the member's path where it matters. */
  ingest_rfc8259_result r;
  ingest_rfc8259_status st = ingest_rfc8259__check(text, len, CJSON_NESTING_LIMIT, &r);
  bool strict = st == INGEST_RFC8259_OK || st == INGEST_RFC8259_DUPLICATE;
  cJSON *doc = strict ? cJSON_ParseWithLength(text, len) : NULL;
  int rc = 0;
  if (!s || !(s->path = strdup(path)) || (strict && !doc)) {
    rc = ingest_error_set(err, INGEST_ENOMEM, "", "", "%s: out of memory", path);
  } else if (!strict) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < r.where && i < len; i++) {
      column = text[i] == '\n' ? 1 : column + 1;
      line += text[i] == '\n';
    }
    if (st == INGEST_RFC8259_NUL)
      rc = ingest_error_set(err, INGEST_ESCHEMA, "", "",
                            "%s: line %zu, column %zu: a string holds \\u0000, which cannot be "
                            "kept (strings end at their first NUL)",
                            path, line, column);
    else
      rc = ingest_error_set(err, INGEST_ESCHEMA, "", "",
                            "%s: not valid JSON (line %zu, column %zu): %s", path, line, column,
                            st == INGEST_RFC8259_DEEP ? "nested too deep" : r.why);
  } else if (!cJSON_IsObject(doc)) {
    rc = ingest_error_set(err, INGEST_ESCHEMA, "", "", "%s: a schema must be a JSON object", path);
  } else {
    rc = ingest_mapping__load(s, cJSON_GetObjectItemCaseSensitive(doc, "x-tsdb"), err);
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
  unsigned sx = tsdb_topic_template_specificity(x->tpl),
           sy = tsdb_topic_template_specificity(y->tpl);
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

const ingest_schema *ingest_schema_set_route_index(const ingest_schema_set *set, const char *topic,
                                                   size_t topic_len, size_t *index) {
  for (size_t i = 0; i < set->n; i++) {
    if (tsdb_topic_template_match(set->schemas[i]->tpl, topic, topic_len, NULL)) {
      if (index) *index = i;
      return set->schemas[i];
    }
  }
  return NULL;
}

const ingest_schema *ingest_schema_set_route(const ingest_schema_set *set, const char *topic,
                                             size_t topic_len) {
  return ingest_schema_set_route_index(set, topic, topic_len, NULL);
}

/* ---- processing one message ---- */

void ingest_output_init(ingest_output *out, tsdb_point *points, size_t points_cap,
                        const char **names, const char **units, size_t names_cap, char *text,
                        size_t text_cap) {
  *out = (ingest_output){.points = points,
                         .points_cap = points ? points_cap : 0,
                         .names = names,
                         .units = units,
                         .names_cap = names && units ? names_cap : 0,
                         .text = text,
                         .text_cap = text ? text_cap : 0};
}

/* Duplicates "reject": the same (field, time) twice in one message is
 * refused here; against what is already stored the engine keeps the first.
 * Quadratic, but bounded by the output's capacity, and only for schemas
 * that ask for it. */
static int reject_duplicates(const ingest_schema *s, const ingest_output *out, ingest_error *err) {
  for (size_t i = 1; i < out->npoints; i++) {
    for (size_t j = 0; j < i; j++) {
      const tsdb_point *a = &out->points[j], *b = &out->points[i];
      if (a->field != b->field || a->ts_ms != b->ts_ms) continue;
      const char *name = out->nnames ? out->names[b->field] : s->fields[b->field].name;
      char when[40];
      ingest_extract__format_time(b->ts_ms, when, sizeof when);
      ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/duplicates", "",
                       "(root): field '%s' has two values for the same time %s (duplicates "
                       "\"reject\")",
                       name, when);
      ingest_extract__expected(err, "one value per field and time");
      snprintf(err->actual, sizeof err->actual, "%s twice", name);
      return INGEST_EVALIDATE;
    }
  }
  return 0;
}

int ingest_schema_process(const ingest_schema *s, const char *topic, size_t topic_len,
                          const void *payload, size_t len, int64_t arrival_ms, ingest_output *out,
                          ingest_error *err) {
  out->npoints = out->nnames = out->text_len = 0;
  err->code = 0;
  const ingest_decoder *d = s->decoder;
  ingest_doc doc;
  int rc = d->parse(payload, len, &doc, err);
  if (rc) return rc;
  const ingest_msg m = {topic, topic ? topic_len : 0, arrival_ms};
  rc = d->extract(s, &m, doc.root, out, err);
  d->release(&doc);
  if (rc == 0 && s->dup == INGEST_DUP_REJECT) rc = reject_duplicates(s, out, err);
  if (rc) out->npoints = out->nnames = 0;
  return rc;
}
