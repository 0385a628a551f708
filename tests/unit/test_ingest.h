/*
 * Helpers shared by the ingest tests (test_schemas.c, test_decode_*.c,
 * test_mapping.c, test_error_record.c): schema files written into the
 * test's temporary directory, and one call that processes a message into a
 * static output.
 */
#ifndef TSDB_TESTS_TEST_INGEST_H
#define TSDB_TESTS_TEST_INGEST_H

#include <stdbool.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ingest/jsonschema.h"
#include "ingest/schema.h"
#include "unit.h"

/* 2026-11-26T09:20:00Z: the arrival time of most test messages. */
#define T_ARRIVAL INT64_C(1795684800000)

static inline const char *t_write(const char *name, const char *text) {
  const char *path = unit_path(name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  return path;
}

/* Loads a schema from text; fails the test with the loader's message. */
static inline ingest_schema *t_schema(const char *text) {
  ingest_schema *s = NULL;
  ingest_error err;
  const char *path = t_write("t.schema.json", text);
  int rc = ingest_schema_load_file(path, &s, &err);
  CHECK_MSG(rc == 0, "schema does not load: %s", err.message);
  return s;
}

/* The load error of a schema text (the schema must fail to load). */
static inline int t_schema_fails(const char *text, ingest_error *err) {
  ingest_schema *s = NULL;
  const char *path = t_write("bad.schema.json", text);
  int rc = ingest_schema_load_file(path, &s, err);
  CHECK_MSG(rc != 0, "schema loaded but must not: %s", text);
  CHECK(s == NULL);
  return rc;
}

typedef struct t_out {
  tsdb_point points[INGEST_OUTPUT_POINTS];
  const char *names[INGEST_OUTPUT_NAMES];
  const char *units[INGEST_OUTPUT_NAMES];
  char text[INGEST_OUTPUT_TEXT];
  ingest_output out;
  ingest_error err;
} t_out;

/* Processes payload (len bytes; strlen when len is SIZE_MAX) into o. */
static inline int t_process(const ingest_schema *s, const char *topic, const void *payload,
                            size_t len, int64_t arrival, t_out *o) {
  if (len == SIZE_MAX) len = strlen(payload);
  ingest_output_init(&o->out, o->points, INGEST_OUTPUT_POINTS, o->names, o->units,
                     INGEST_OUTPUT_NAMES, o->text, sizeof o->text);
  return ingest_schema_process(s, topic, topic ? strlen(topic) : 0, payload, len, arrival, &o->out,
                               &o->err);
}

/* The field name of point i. */
static inline const char *t_field(const ingest_schema *s, const t_out *o, size_t i) {
  uint32_t f = o->out.points[i].field;
  return o->out.nnames ? o->out.names[f] : ingest_schema_field(s, f);
}

/* The unit of point i (NULL: none). */
static inline const char *t_unit(const ingest_schema *s, const t_out *o, size_t i) {
  uint32_t f = o->out.points[i].field;
  if (o->out.nnames) return o->out.units[f];
  ingest_field_info info;
  return ingest_schema_field_info(s, f, &info) ? info.unit : NULL;
}

/* Index of the point (field, ts) or -1. */
static inline long t_find(const ingest_schema *s, const t_out *o, const char *field, int64_t ts) {
  for (size_t i = 0; i < o->out.npoints; i++)
    if (!strcmp(t_field(s, o, i), field) && o->out.points[i].ts_ms == ts) return (long)i;
  return -1;
}

/* The point (field, ts) exists with value v (within 1e-12 relative). */
#define CHECK_POINT(s, o, field, ts, v)                                                \
  do {                                                                                 \
    long t_i_ = t_find((s), (o), (field), (ts));                                       \
    CHECK_MSG(t_i_ >= 0, "no point %s at %lld (%zu points)", (field), (long long)(ts), \
              (o)->out.npoints);                                                       \
    CHECK_NEAR((o)->out.points[t_i_].value, (v), 1e-12);                               \
  } while (0)

/* The refusal: code, keyword, pointer. */
#define CHECK_REFUSED(rc, o, code, kw, ptr)                                              \
  do {                                                                                   \
    CHECK_MSG((rc) == (code), "rc %d (%s), expected %s: %s", (rc), ingest_err_short(rc), \
              ingest_err_short(code), (o)->err.message);                                 \
    CHECK_MSG(!strcmp((o)->err.keyword, (kw)), "keyword '%s', expected '%s': %s",        \
              (o)->err.keyword, (kw), (o)->err.message);                                 \
    CHECK_MSG(!strcmp((o)->err.pointer, (ptr)), "pointer '%s', expected '%s': %s",       \
              (o)->err.pointer, (ptr), (o)->err.message);                                \
    CHECK_MSG((o)->err.message[0] != '\0', "no message");                                \
    CHECK_INT((o)->out.npoints, ==, 0);                                                  \
  } while (0)

/* Whether root/name (root: a schema directory such as schemas/) is a tested
 * schema: a directory with an examples.json. The shipped schemas all are;
 * every other entry (a user's schema directory or *.schema.json file, with or
 * without example files, loadable or not) is the operator's, and the tests
 * never load it. README: "Shipped schemas and their examples". */
static inline bool t_tested_schema_dir(const char *root, const char *name) {
  char path[8192];
  struct stat st;
  if (name[0] == '.') return false;
  snprintf(path, sizeof path, "%s/%s/examples.json", root, name);
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

#endif /* TSDB_TESTS_TEST_INGEST_H */
