/*
 * JSON Schema 2020-12, the subset this project supports, compiled once at load
 * into a tree of checks and evaluated per message without allocating.
 *
 * Supported keywords (exact 2020-12 semantics):
 *   type (string or array of strings; "integer" matches any number with a zero
 *   fractional part, 1.0 included), properties, required, additionalProperties
 *   (boolean or schema), enum, const, minimum, maximum, exclusiveMinimum,
 *   exclusiveMaximum, multipleOf, minLength, maxLength (in Unicode code
 *   points), pattern, items, prefixItems, minItems, maxItems, $ref to local
 *   "#/$defs/..." (and "#"), $defs, allOf, anyOf, oneOf, not,
 *   format "date-time" (RFC 3339 section 5.6, asserted, not just annotated).
 * Accepted and ignored as annotations: $schema, $id, $comment, title,
 *   description, examples, default, deprecated, readOnly, writeOnly, and every
 *   key starting with "x-" (our mapping section lives in "x-tsdb").
 * Any other keyword makes compilation fail with INGEST_EUNSUPPORTED naming the
 * keyword and its schema path: a schema is never half-understood.
 */
#ifndef INGEST_JSONSCHEMA_H
#define INGEST_JSONSCHEMA_H

#include "ingest/error.h"
#include "ingest/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingest_jsonschema ingest_jsonschema;

/*
 * Compiles a schema document (a cJSON tree, borrowed for the call only).
 * On failure returns INGEST_ESCHEMA or INGEST_EUNSUPPORTED and fills err
 * (schema_path, keyword, message). The result is immutable and may be used
 * from any number of threads at once.
 */
int ingest_jsonschema_compile(const void *cjson_schema, ingest_jsonschema **out,
                              ingest_error *err);
void ingest_jsonschema_free(ingest_jsonschema *schema);

/*
 * Validates an instance. Returns 0 when valid, else INGEST_EVALIDATE with the
 * FIRST failure in err (pointer, keyword, schema_path, expected, actual,
 * message). Never allocates. Reentrant.
 */
int ingest_jsonschema_validate(const ingest_jsonschema *schema,
                               ingest_value instance, ingest_error *err);

/*
 * RFC 3339 date-time ("2026-11-26T09:15:46.014773143Z", offsets allowed) to
 * milliseconds since the Unix epoch (fractions below 1 ms are truncated).
 * Returns 0, or INGEST_ETIMESTAMP when the text is not a valid date-time.
 */
int ingest_rfc3339_parse(const char *text, size_t len, int64_t *ms);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_JSONSCHEMA_H */
