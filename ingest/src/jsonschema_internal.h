/*
 * Helpers of the validator (jsonschema.c) that the rest of ingest shares, so
 * that every error field is rendered one way: compact JSON for values, valid
 * UTF-8 always (invalid bytes become U+FFFD), long texts cut at a UTF-8
 * boundary and ended with "...".
 */
#ifndef INGEST_JSONSCHEMA_INTERNAL_H
#define INGEST_JSONSCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest/value.h"

/* Compact JSON text of v ("17.2", "\"abc\"", "{\"a\":1}", "absent"). */
void ingest_jsonschema__render(ingest_value v, char *buf, size_t cap);
/* text[0..len) as valid UTF-8; with json, quotes, backslashes and control
 * characters are escaped as inside a JSON string. */
void ingest_jsonschema__render_text(const char *text, size_t len, bool json, char *buf, size_t cap);
/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4), 0 if invalid
 * or n is 0. */
size_t ingest_jsonschema__utf8_seq(const unsigned char *s, size_t n);

#endif /* INGEST_JSONSCHEMA_INTERNAL_H */
