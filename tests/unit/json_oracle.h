/*
 * jansson (Debian's libjansson, strict RFC 8259 by default) as an oracle for
 * the JSON decoder: the unit tests (test_json_strict.c) and a libFuzzer
 * target (fuzz_json_oracle.c) hand it bytes and it says whether our parse
 * (ingest_decode_json__parse: rfc8259.c's check, cJSON, members.c) and
 * jansson agree on them, and, when both accept, that cJSON built the same
 * tree as jansson.
 *
 * jansson runs with JSON_DECODE_ANY (any value at the root, as RFC 8259
 * section 2 allows), JSON_REJECT_DUPLICATES, JSON_DECODE_INT_AS_REAL (every
 * number through strtod, as cJSON does, so that equal trees have equal
 * doubles and no integer is "too big") and JSON_ALLOW_NUL (so that a text
 * with "\u0000" still tells valid from invalid). Where the two differ by
 * design, the oracle says what the answer must be instead:
 *   - a raw NUL byte: never JSON (RFC 8259 has no place for U+0000 outside
 *     an escape), but jansson 2.14's lexer skips one right after a number
 *     or a literal ("[1\0]" loads). We must refuse it as a syntax error,
 *     or as too deep when the nesting limit comes first in the text.
 *   - nesting: ours stops at cJSON's 1000 levels, jansson at 2048; a text
 *     we refuse as too deep is not compared.
 *   - a number beyond the double range (1e400): valid JSON that we accept
 *     (an infinity, refused later by every numeric check), an overflow
 *     error for jansson, which stops reading there: not compared.
 *   - "\u0000": jansson keeps it, we refuse it (cJSON would cut the string).
 * jansson stops at its first error, so a duplicate name or a "\u0000" in a
 * name before a syntax error hides the syntax error from it; the rules
 * below allow for that.
 */
#ifndef TSDB_TESTS_JSON_ORACLE_H
#define TSDB_TESTS_JSON_ORACLE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jansson.h>

#include "jsonschema_internal.h"
#include "rfc8259.h"
#include "schema_internal.h"

typedef enum {
  ORACLE_SAME,    /* agree (and same tree when both accept) */
  ORACLE_SKIPPED, /* a case the oracle cannot judge (see above) */
  ORACLE_DIFFERS  /* a bug: why says what */
} oracle_result;

/* Depth-first comparison of cJSON's tree with jansson's. */
static inline bool oracle_same_tree(const cJSON *c, const json_t *j, int depth) {
  if (depth > 2100) return false;
  switch (c->type & 0xFF) {
  case cJSON_NULL:
    return json_is_null(j);
  case cJSON_False:
    return json_is_false(j);
  case cJSON_True:
    return json_is_true(j);
  case cJSON_Number:
    /* Both read the same text with strtod: the same double, bit for bit
     * (-0 included). */
    return json_is_real(j) &&
           memcmp(&c->valuedouble, &(double){json_real_value(j)}, sizeof(double)) == 0;
  case cJSON_String:
    return json_is_string(j) && strlen(c->valuestring) == json_string_length(j) &&
           memcmp(c->valuestring, json_string_value(j), json_string_length(j)) == 0;
  case cJSON_Array: {
    if (!json_is_array(j)) return false;
    size_t i = 0;
    for (const cJSON *e = c->child; e; e = e->next, i++)
      if (i >= json_array_size(j) || !oracle_same_tree(e, json_array_get(j, i), depth + 1))
        return false;
    return i == json_array_size(j);
  }
  case cJSON_Object: {
    if (!json_is_object(j)) return false;
    size_t n = 0;
    for (const cJSON *m = c->child; m; m = m->next, n++) {
      const json_t *v = json_object_getn(j, m->string, strlen(m->string));
      if (!v || !oracle_same_tree(m, v, depth + 1)) return false;
    }
    return n == json_object_size(j);
  }
  default:
    return false;
  }
}

/* Judges text[0..len); on ORACLE_DIFFERS, why (cap bytes) says what. */
static inline oracle_result oracle_judge(const char *text, size_t len, char *why, size_t cap) {
  ingest_rfc8259_result r;
  ingest_rfc8259_status st = ingest_rfc8259__check(text, len, CJSON_NESTING_LIMIT, &r);
  ingest_doc doc;
  ingest_error err;
  memset(&err, 0, sizeof err);
  int rc = ingest_decode_json__parse(text, len, &doc, &err);
  bool dup = rc != 0 && strcmp(err.expected, "unique member names") == 0;
  oracle_result res = ORACLE_SAME;
  why[0] = '\0';
  /* Our own steps agree: the check's verdict is the parse's, and a
   * duplicate name the check did not see was one it left to members.c. */
  bool consistent = st == INGEST_RFC8259_OK          ? rc == 0 || (dup && r.names_unchecked)
                    : st == INGEST_RFC8259_DUPLICATE ? dup
                                                     : rc != 0 && !dup;
  if (!consistent || (rc != 0 && (err.code != INGEST_EDECODE ||
                                  strcmp(err.keyword, "format") != 0 || err.message[0] == '\0'))) {
    snprintf(why, cap, "check %d but parse rc %d (%.160s)", (int)st, rc, err.message);
    if (rc == 0) ingest_decode_json__release(&doc);
    return ORACLE_DIFFERS;
  }
  const char *nul = memchr(text, 0, len);
  if (nul != NULL) {
    /* Refused as a syntax error, or as too deep when the check stopped
     * before reaching the NUL (it does not read past the bracket). */
    bool refused = st == INGEST_RFC8259_INVALID ||
                   (st == INGEST_RFC8259_DEEP && (size_t)(nul - text) > r.where);
    if (!refused) {
      snprintf(why, cap, "a raw NUL byte, but check says %d", (int)st);
      res = ORACLE_DIFFERS;
    }
    if (rc == 0) ingest_decode_json__release(&doc);
    return res;
  }
  if (st == INGEST_RFC8259_DEEP) return ORACLE_SKIPPED;

  json_error_t e;
  json_t *j = json_loadb(
      text, len,
      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &e);
  enum json_error_code code = j ? json_error_unknown : json_error_code(&e);
  if (j) {
    if (st == INGEST_RFC8259_DUPLICATE) {
      snprintf(why, cap, "jansson accepts, we find a duplicate name: %.160s", err.message);
      res = ORACLE_DIFFERS;
    } else if (st == INGEST_RFC8259_NUL) {
      /* valid JSON that we cannot keep */
    } else if (rc != 0) {
      snprintf(why, cap, "jansson accepts, we refuse: %.160s", err.message);
      res = ORACLE_DIFFERS;
    } else if (!oracle_same_tree(doc.json, j, 0)) {
      snprintf(why, cap, "both accept, but cJSON's tree differs from jansson's");
      res = ORACLE_DIFFERS;
    }
  } else if (code == json_error_numeric_overflow || code == json_error_out_of_memory) {
    res = ORACLE_SKIPPED;
  } else if (code == json_error_duplicate_key) {
    if (rc == 0) {
      snprintf(why, cap, "jansson finds a duplicate name (%s), we accept", e.text);
      res = ORACLE_DIFFERS;
    } else if (st == INGEST_RFC8259_OK && !dup) {
      snprintf(why, cap, "jansson finds a duplicate name, we refuse for: %.160s", err.message);
      res = ORACLE_DIFFERS;
    }
  } else if (code == json_error_null_byte_in_key) {
    if (st != INGEST_RFC8259_NUL && st != INGEST_RFC8259_INVALID) {
      snprintf(why, cap, "a name with \\u0000 (%s), but check says %d", e.text, (int)st);
      res = ORACLE_DIFFERS;
    }
  } else if (st != INGEST_RFC8259_INVALID) {
    snprintf(why, cap, "jansson refuses (%s at %d), check says %d", e.text, e.position, (int)st);
    res = ORACLE_DIFFERS;
  }
  json_decref(j);
  if (rc == 0) ingest_decode_json__release(&doc);
  return res;
}

#endif /* TSDB_TESTS_JSON_ORACLE_H */
