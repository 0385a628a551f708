/*
 * Format "json": a JSON document (RFC 8259) parsed by cJSON; the JSON Schema
 * validates the whole document and the measurements' pointers read it.
 *
 * The parser is shared by the other JSON-based formats (senml, ttn-v3,
 * sensor.community). cJSON refuses nesting deeper than its
 * CJSON_NESTING_LIMIT (1000) and trailing bytes (require_null_terminated is
 * off, so we check the end ourselves); a number too large for a double
 * (1e400) becomes an infinity, which every numeric keyword and every
 * measurement refuses.
 */
#include <cjson/cJSON.h>

#include "schema_internal.h"

int ingest_decode_json__parse(const void *payload, size_t len, ingest_doc *doc,
                              ingest_error *err) {
  const char *text = payload;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  /* cJSON stops after the first value: bytes after it other than
   * whitespace (or a final NUL, which some publishers send) are an error. */
  if (root && end) {
    const char *p = end, *stop = text + len;
    while (p < stop && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p < stop && !(p + 1 == stop && *p == '\0')) {
      cJSON_Delete(root);
      ingest_error_set(err, INGEST_EDECODE, "format", "",
                       "(root): payload has bytes after the JSON value (at byte %zu)",
                       (size_t)(p - text));
      ingest_extract__expected(err, "JSON");
      return INGEST_EDECODE;
    }
  }
  if (!root) {
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    ingest_error_set(err, INGEST_EDECODE, "format", "",
                     "(root): payload is not valid JSON (error near byte %zu of %zu)", at, len);
    ingest_extract__expected(err, "JSON");
    return INGEST_EDECODE;
  }
  doc->json = root;
  doc->root = ingest_value_from_cjson(root);
  return 0;
}

void ingest_decode_json__release(ingest_doc *doc) { cJSON_Delete(doc->json); }

const ingest_decoder ingest_decode_json = {
    .name = "json",
    .named = false,
    .ts_pointer = true,
    .parse = ingest_decode_json__parse,
    .release = ingest_decode_json__release,
    .configure = NULL,
    .extract = ingest_extract__document,
};
