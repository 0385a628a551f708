/*
 * libFuzzer target: the JSON Schema compiler and validator. The input is a
 * schema document, a NUL byte, and an instance (both JSON). The schema must
 * compile or be refused with a message; the instance must be judged the
 * same with and without an error record (the quiet path is what anyOf,
 * oneOf and not use), and a refusal must name a keyword and say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t slen = nul ? (size_t)(nul - data) : size;
  cJSON *sdoc = cJSON_ParseWithLength((const char *)data, slen);
  if (!sdoc) return 0;
  ingest_jsonschema *schema = NULL;
  ingest_error err;
  int rc = ingest_jsonschema_compile(sdoc, &schema, &err);
  cJSON_Delete(sdoc); /* the compiled schema keeps its own copy */
  if (rc != 0) {
    if (schema || !err.message[0] ||
        (rc != INGEST_ESCHEMA && rc != INGEST_EUNSUPPORTED && rc != INGEST_ENOMEM))
      abort();
    return 0;
  }
  if (nul) {
    size_t ilen = size - slen - 1;
    char *copy = malloc(ilen ? ilen : 1);
    if (copy) {
      memcpy(copy, nul + 1, ilen);
      cJSON *inst = cJSON_ParseWithLength(copy, ilen);
      if (inst) {
        ingest_value v = ingest_value_from_cjson(inst);
        int loud = ingest_jsonschema_validate(schema, v, &err);
        int quiet = ingest_jsonschema_validate(schema, v, NULL);
        if (loud != quiet) abort();
        if (loud && (loud != INGEST_EVALIDATE || !err.keyword[0] || !err.message[0])) abort();
        cJSON_Delete(inst);
      }
      free(copy);
    }
  }
  ingest_jsonschema_free(schema);
  return 0;
}
