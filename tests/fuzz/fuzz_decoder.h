/*
 * One libFuzzer target per payload format: the input is a message published
 * on a topic that routes to a shipped schema of that format. Whatever the
 * bytes, ingest_schema_process() must return 0 with sane points, or a
 * refusal with a message and an error record that is valid JSON; ASan and
 * UBSan watch every access. Each fuzz_<format>.c defines FUZZ_SCHEMA_DIR and
 * FUZZ_TOPIC and includes this file.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/schema.h"

#ifndef TSDB_SOURCE_DIR
#error "TSDB_SOURCE_DIR must be defined by the build"
#endif

static ingest_schema *schema;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ingest_error err;
  if (ingest_schema_load_file(TSDB_SOURCE_DIR "/schemas/" FUZZ_SCHEMA_DIR "/schema.json", &schema,
                              &err) != 0) {
    fprintf(stderr, "fuzz: %s\n", err.message);
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static tsdb_point points[INGEST_OUTPUT_POINTS];
  static const char *names[INGEST_OUTPUT_NAMES], *units[INGEST_OUTPUT_NAMES];
  static char text[INGEST_OUTPUT_TEXT];
  static char record[INGEST_ERROR_RECORD_MAX];
  /* A copy of exactly size bytes, so that ASan sees a read past the end. */
  char *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  ingest_output out;
  ingest_output_init(&out, points, INGEST_OUTPUT_POINTS, names, units, INGEST_OUTPUT_NAMES, text,
                     sizeof text);
  ingest_error err;
  int rc = ingest_schema_process(schema, FUZZ_TOPIC, strlen(FUZZ_TOPIC), copy, size,
                                 INT64_C(1795684800000), &out, &err);
  free(copy);
  if (rc == 0) {
    for (size_t i = 0; i < out.npoints; i++) {
      if (!isfinite(out.points[i].value)) abort();
      if (out.nnames ? out.points[i].field >= out.nnames
                     : out.points[i].field >= ingest_schema_nfields(schema))
        abort();
    }
    for (size_t i = 0; i < out.nnames; i++)
      if (!out.names[i][0] || strlen(out.names[i]) > TSDB_MAX_NAME_LEN) abort();
    return 0;
  }
  if (err.code != rc || !err.message[0] || out.npoints != 0) abort();
  ingest_error_context ctx = {ingest_schema_id(schema),
                              ingest_schema_version(schema),
                              FUZZ_TOPIC,
                              strlen(FUZZ_TOPIC),
                              "fuzz",
                              NULL,
                              INT64_C(1795684800000)};
  if (ingest_error_record_json(&err, &ctx, record, sizeof record) <= 0) abort();
  cJSON *j = cJSON_Parse(record);
  if (!cJSON_IsObject(j)) abort();
  cJSON_Delete(j);
  return 0;
}
