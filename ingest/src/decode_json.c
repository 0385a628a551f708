/*
 * Format "json": a JSON document (RFC 8259) parsed by cJSON; the JSON Schema
 * validates the whole document and the measurements' pointers read it.
 *
 * The parser is shared by the other JSON-based formats (senml, ttn-v3,
 * sensor.community). Every payload goes through three steps:
 *   1. rfc8259.c checks that the bytes are exactly one RFC 8259 JSON text,
 *      nested at most CJSON_NESTING_LIMIT (1000) levels as cJSON allows,
 *      that no string holds "\u0000" (cJSON would cut it there), and that
 *      no object has a member name twice;
 *   2. cJSON builds the tree (it is lenient, but now only sees valid JSON);
 *   3. members.c looks for names twice in the tree when step 1 could not
 *      compare them all (escaped names, very wide or deep objects).
 * A refusal names the rule (with its RFC section), the byte offset and the
 * JSON pointer of the value at fault ("(root)" when the payload ends early
 * or has bytes after its value). A number too large for a double (1e400)
 * is valid JSON and becomes an infinity, which every numeric keyword and
 * every measurement refuses.
 */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "jsonschema_internal.h"
#include "rfc8259.h"
#include "schema_internal.h"

/* What the check found, as an error record: reason decode, keyword
 * "format", the pointer of the value at fault. */
static int refuse(const char *text, size_t len, ingest_rfc8259_status st,
                  const ingest_rfc8259_result *r, ingest_error *err) {
  char ptr[sizeof err->pointer];
  if (r->where >= len && st == INGEST_RFC8259_INVALID)
    ptr[0] = '\0'; /* the payload ends early: the whole of it */
  else
    ingest_rfc8259__pointer(text, len, r->token, ptr, sizeof ptr);
  const char *shown = ptr[0] ? ptr : "(root)";
  switch (st) {
  case INGEST_RFC8259_DUPLICATE:
    return ingest_members__refuse(ptr, text + r->token + 1, r->len, err);
  case INGEST_RFC8259_DEEP:
    ingest_error_set(err, INGEST_EDECODE, "format", ptr,
                     "%s: objects and arrays are nested deeper than %d levels (at byte %zu of "
                     "%zu)",
                     shown, CJSON_NESTING_LIMIT, r->where, len);
    ingest_extract__expected(err, "JSON nested at most %d levels", CJSON_NESTING_LIMIT);
    break;
  case INGEST_RFC8259_NUL:
    ingest_error_set(err, INGEST_EDECODE, "format", ptr,
                     "%s: the %s holds the escape \\u0000 (at byte %zu); strings are kept up to "
                     "their first NUL, so it would be cut there: refused rather than truncated",
                     shown, r->in_name ? "member name" : "string", r->where);
    ingest_extract__expected(err, "strings without U+0000");
    break;
  default:
    ingest_error_set(err, INGEST_EDECODE, "format", ptr,
                     "%s: not valid JSON at byte %zu of %zu: %s", shown, r->where, len, r->why);
    ingest_extract__expected(err, "JSON (RFC 8259)");
    break;
  }
  /* "actual": the bytes from the token at fault to just past the problem
   * (what follows a \u0000 too: that is what would have been lost), as
   * they are (a control byte as \u0001, invalid UTF-8 as U+FFFD). */
  size_t from = r->token, to = r->where + (st == INGEST_RFC8259_NUL ? 16 : 6);
  if (r->where > from + 24) from = r->where - 16;
  if (from >= len) from = len > 16 ? len - 16 : 0;
  if (to > len) to = len;
  if (to > from + 40) to = from + 40;
  char shown_bytes[6 * 40 + 1];
  size_t n = 0;
  for (size_t i = from; i < to; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c == 0x7F)
      n += (size_t)snprintf(shown_bytes + n, sizeof shown_bytes - n, "\\u%04x", c);
    else
      shown_bytes[n++] = (char)c;
  }
  ingest_jsonschema__render_text(shown_bytes, n, false, err->actual, sizeof err->actual);
  return INGEST_EDECODE;
}

int ingest_decode_json__parse(const void *payload, size_t len, ingest_doc *doc, ingest_error *err) {
  const char *text = payload;
  ingest_rfc8259_result r;
  ingest_rfc8259_status st = ingest_rfc8259__check(text, len, CJSON_NESTING_LIMIT, &r);
  if (st != INGEST_RFC8259_OK) return refuse(text, len, st, &r, err);
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!root) /* valid JSON within cJSON's limits: only an allocation fails */
    return ingest_error_set(err, INGEST_ENOMEM, "format", "",
                            "(root): out of memory decoding the payload (%zu bytes)", len);
  ingest_value v = ingest_value_from_cjson(root);
  int rc = r.names_unchecked ? ingest_members__unique(v, err) : 0;
  if (rc) {
    cJSON_Delete(root);
    return rc;
  }
  doc->json = root;
  doc->root = v;
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
