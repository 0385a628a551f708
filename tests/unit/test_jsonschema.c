/*
 * JSON Schema validator, value views, JSON pointers and RFC 3339 parsing.
 *
 * Most cases go through expect(): the schema is compiled, the instance is
 * validated as a cJSON tree with an error record, again quietly (no record),
 * and once more after conversion to MessagePack through the msgpack view; all
 * runs must agree on the verdict, and failures on keyword, pointer and
 * message. Constants were checked independently (dates with GNU date -u).
 */
#include "unit.h"

#include "ingest/error.h"
#include "ingest/jsonschema.h"
#include "ingest/value.h"

#include <cjson/cJSON.h>
#include <malloc.h>
#include <msgpack.h>

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static cJSON *parse(const char *file, int line, const char *text) {
  cJSON *j = cJSON_Parse(text);
  if (j == NULL) unit__fail(file, line, "cannot parse JSON: %s", text);
  return j;
}

static ingest_jsonschema *compile_at(const char *file, int line, const char *text) {
  cJSON *j = parse(file, line, text);
  ingest_jsonschema *s = NULL;
  ingest_error e;
  int rc = ingest_jsonschema_compile(j, &s, &e);
  cJSON_Delete(j);
  if (rc != 0)
    unit__fail(file, line, "compile failed (%d): %s [%s at %s]", rc, e.message, e.keyword,
               e.schema_path);
  return s;
}
#define COMPILE(text) compile_at(__FILE__, __LINE__, text)

/* compile error: code, keyword and schema path */
static void expect_compile_error_at(const char *file, int line, const char *text, int code,
                                    const char *kw, const char *path) {
  cJSON *j = parse(file, line, text);
  ingest_jsonschema *s = NULL;
  ingest_error e;
  int rc = ingest_jsonschema_compile(j, &s, &e);
  cJSON_Delete(j);
  if (rc == 0) {
    ingest_jsonschema_free(s);
    unit__fail(file, line, "schema compiled but should not: %s", text);
  }
  if (s != NULL) unit__fail(file, line, "out set on failure");
  if (rc != code || e.code != code)
    unit__fail(file, line, "code %d (record %d), want %d: %s", rc, e.code, code, e.message);
  if (strcmp(e.keyword, kw) != 0 || strcmp(e.schema_path, path) != 0)
    unit__fail(file, line, "keyword \"%s\" at \"%s\", want \"%s\" at \"%s\" (%s)", e.keyword,
               e.schema_path, kw, path, e.message);
  if (e.message[0] == '\0') unit__fail(file, line, "empty message");
}
#define COMPILE_ERROR(text, code, kw, path) \
  expect_compile_error_at(__FILE__, __LINE__, text, code, kw, path)

static void pack_json(msgpack_packer *pk, const cJSON *j) {
  if (cJSON_IsNull(j)) {
    msgpack_pack_nil(pk);
  } else if (cJSON_IsFalse(j)) {
    msgpack_pack_false(pk);
  } else if (cJSON_IsTrue(j)) {
    msgpack_pack_true(pk);
  } else if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d)
      msgpack_pack_int64(pk, (int64_t)d);
    else
      msgpack_pack_double(pk, d);
  } else if (cJSON_IsString(j)) {
    size_t n = strlen(j->valuestring);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, j->valuestring, n);
  } else if (cJSON_IsArray(j)) {
    msgpack_pack_array(pk, (size_t)cJSON_GetArraySize(j));
    for (const cJSON *c = j->child; c; c = c->next) pack_json(pk, c);
  } else if (cJSON_IsObject(j)) {
    msgpack_pack_map(pk, (size_t)cJSON_GetArraySize(j));
    for (const cJSON *c = j->child; c; c = c->next) {
      size_t n = strlen(c->string);
      msgpack_pack_str(pk, n);
      msgpack_pack_str_body(pk, c->string, n);
      pack_json(pk, c);
    }
  }
}

/* An unpacked msgpack document that keeps its zone alive. */
typedef struct mp_doc {
  msgpack_sbuffer buf;
  msgpack_unpacked up;
} mp_doc;

static void mp_unpack(mp_doc *d) {
  size_t off = 0;
  msgpack_unpacked_init(&d->up);
  int rc = msgpack_unpack_next(&d->up, d->buf.data, d->buf.size, &off);
  if (rc != MSGPACK_UNPACK_SUCCESS) unit__fail(__FILE__, __LINE__, "msgpack unpack %d", rc);
}

static void mp_from_json(mp_doc *d, const cJSON *j) {
  msgpack_sbuffer_init(&d->buf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &d->buf, msgpack_sbuffer_write);
  pack_json(&pk, j);
  mp_unpack(d);
}

static void mp_free(mp_doc *d) {
  msgpack_unpacked_destroy(&d->up);
  msgpack_sbuffer_destroy(&d->buf);
}

static ingest_error last; /* the record of the last expect() failure */

static void check_instance(const char *file, int line, const ingest_jsonschema *s, const cJSON *j,
                           const char *text, const char *kw, const char *ptr, bool also_msgpack) {
  ingest_error e;
  memset(&e, 0x5a, sizeof e);
  int rc = ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e);
  int quiet = ingest_jsonschema_validate(s, ingest_value_from_cjson(j), NULL);
  if (rc != quiet) unit__fail(file, line, "quiet run disagrees (%d vs %d): %s", quiet, rc, text);
  if (kw == NULL) {
    if (rc != 0)
      unit__fail(file, line, "expected valid: %s\n  got %s at \"%s\": %s", text, e.keyword,
                 e.pointer, e.message);
  } else {
    if (rc != INGEST_EVALIDATE || e.code != INGEST_EVALIDATE)
      unit__fail(file, line, "expected invalid (%s at %s): %s", kw, ptr, text);
    if (strcmp(e.keyword, kw) != 0 || strcmp(e.pointer, ptr) != 0)
      unit__fail(file, line, "%s: got %s at \"%s\", want %s at \"%s\"\n  message: %s", text,
                 e.keyword, e.pointer, kw, ptr, e.message);
    if (e.message[0] == '\0' || e.schema_path[0] == 0x5a || e.expected[0] == 0x5a)
      unit__fail(file, line, "record not filled: %s", text);
    last = e;
  }
  if (!also_msgpack) return;
  mp_doc d;
  mp_from_json(&d, j);
  ingest_error m;
  int mrc = ingest_jsonschema_validate(s, ingest_value_from_msgpack(&d.up.data), &m);
  if (mrc != rc) unit__fail(file, line, "msgpack verdict %d, cJSON %d: %s", mrc, rc, text);
  if (rc != 0 && (strcmp(m.keyword, e.keyword) || strcmp(m.pointer, e.pointer) ||
                  strcmp(m.message, e.message) || strcmp(m.schema_path, e.schema_path)))
    unit__fail(file, line, "msgpack error differs:\n  %s\n  %s", m.message, e.message);
  mp_free(&d);
}

static void expect_at(const char *file, int line, const char *schema, const char *inst,
                      const char *kw, const char *ptr) {
  ingest_jsonschema *s = compile_at(file, line, schema);
  cJSON *j = parse(file, line, inst);
  check_instance(file, line, s, j, inst, kw, ptr, true);
  cJSON_Delete(j);
  ingest_jsonschema_free(s);
}
#define VALID(schema, inst) expect_at(__FILE__, __LINE__, schema, inst, NULL, NULL)
#define INVALID(schema, inst, kw, ptr) expect_at(__FILE__, __LINE__, schema, inst, kw, ptr)

/* ------------------------------------------------------------------------ */
/* type                                                                     */

TEST(type_names) {
  VALID("{\"type\":\"null\"}", "null");
  INVALID("{\"type\":\"null\"}", "0", "type", "");
  VALID("{\"type\":\"boolean\"}", "true");
  INVALID("{\"type\":\"boolean\"}", "\"true\"", "type", "");
  VALID("{\"type\":\"object\"}", "{}");
  INVALID("{\"type\":\"object\"}", "[]", "type", "");
  VALID("{\"type\":\"array\"}", "[1,2]");
  INVALID("{\"type\":\"array\"}", "{}", "type", "");
  VALID("{\"type\":\"string\"}", "\"\"");
  INVALID("{\"type\":\"string\"}", "1", "type", "");
  VALID("{\"type\":\"number\"}", "1.5");
  VALID("{\"type\":\"number\"}", "-7");
  INVALID("{\"type\":\"number\"}", "\"1.5\"", "type", "");
  INVALID("{\"type\":\"number\"}", "null", "type", "");
  VALID("{\"type\":[\"string\",\"null\"]}", "null");
  VALID("{\"type\":[\"string\",\"null\"]}", "\"x\"");
  INVALID("{\"type\":[\"string\",\"null\"]}", "3", "type", "");
  CHECK_STR(last.expected, "string or null");
  CHECK_STR(last.actual, "number");
  COMPILE_ERROR("{\"type\":[]}", INGEST_ESCHEMA, "type", "/type");
}

TEST(type_integer) {
  const char *s = "{\"type\":\"integer\"}";
  VALID(s, "1");
  VALID(s, "1.0"); /* a zero fractional part is an integer (Validation 6.1.1) */
  VALID(s, "-0");
  VALID(s, "-12.0");
  VALID(s, "1e300");
  VALID(s, "9223372036854775807");
  INVALID(s, "1.5", "type", "");
  CHECK_STR(last.message, "(root): expected integer, got non-integer number 1.5");
  INVALID(s, "0.0000001", "type", "");
  INVALID(s, "\"1\"", "type", "");
  INVALID(s, "true", "type", "");
  VALID("{\"type\":[\"integer\",\"string\"]}", "2.0");
  VALID("{\"type\":\"number\"}", "2");
}

/* ------------------------------------------------------------------------ */
/* numbers                                                                  */

TEST(minimum_maximum) {
  const char *s = "{\"minimum\":-10,\"maximum\":1000}";
  VALID(s, "-10");
  VALID(s, "1000");
  VALID(s, "1000.0");
  VALID(s, "0");
  INVALID(s, "-10.000001", "minimum", "");
  INVALID(s, "1000.5", "maximum", "");
  VALID(s, "\"ignored for strings\"");
  VALID(s, "null");
  VALID("{\"minimum\":0.5}", "0.5");
  INVALID("{\"minimum\":0.5}", "0.49999", "minimum", "");
}

TEST(exclusive_bounds) {
  const char *s = "{\"exclusiveMinimum\":0,\"exclusiveMaximum\":100}";
  INVALID(s, "0", "exclusiveMinimum", "");
  CHECK_STR(last.expected, "> 0");
  INVALID(s, "100", "exclusiveMaximum", "");
  CHECK_STR(last.expected, "< 100");
  CHECK_STR(last.message, "(root): 100 is not less than the exclusive maximum 100");
  INVALID(s, "-0.0", "exclusiveMinimum", "");
  VALID(s, "0.0001");
  VALID(s, "99.9999");
  INVALID(s, "100.0", "exclusiveMaximum", "");
  VALID("{\"exclusiveMaximum\":1.5}", "1.4999");
  INVALID("{\"exclusiveMaximum\":1.5}", "1.5", "exclusiveMaximum", "");
}

TEST(multiple_of) {
  const char *tenth = "{\"multipleOf\":0.1}";
  VALID(tenth, "0.3"); /* 0.3 / 0.1 = 2.9999999999999996 in binary */
  VALID(tenth, "0.7");
  VALID(tenth, "1.1");
  VALID(tenth, "-2.3");
  VALID(tenth, "12345.6");
  VALID(tenth, "0");
  VALID(tenth, "3");
  INVALID(tenth, "0.35", "multipleOf", "");
  CHECK_STR(last.message, "(root): 0.35 is not a multiple of 0.1");
  CHECK_STR(last.expected, "a multiple of 0.1");
  INVALID(tenth, "0.01", "multipleOf", "");
  INVALID(tenth, "1000000000.05", "multipleOf", "");
  VALID("{\"multipleOf\":0.01}", "19.99");
  VALID("{\"multipleOf\":0.0001}", "0.0075");
  INVALID("{\"multipleOf\":0.0001}", "0.00751", "multipleOf", "");
  VALID("{\"multipleOf\":1.5}", "4.5");
  INVALID("{\"multipleOf\":1.5}", "35", "multipleOf", "");
  VALID("{\"multipleOf\":5}", "10");
  VALID("{\"multipleOf\":5}", "-15");
  INVALID("{\"multipleOf\":2}", "7", "multipleOf", "");
  INVALID("{\"multipleOf\":2}", "7.5", "multipleOf", "");
  VALID("{\"multipleOf\":2}", "9007199254740994");
  /* the quotient overflows: not a multiple (JSON Schema test suite) */
  INVALID("{\"type\":\"integer\",\"multipleOf\":0.123456789}", "1e308", "multipleOf", "");
}

TEST(non_finite_numbers) {
  /* cJSON reads 1e400 as infinity: a number, but not an integer, and it
   * fails every numeric keyword */
  VALID("{\"type\":\"number\"}", "1e400");
  INVALID("{\"type\":\"integer\"}", "1e400", "type", "");
  INVALID("{\"type\":\"integer\"}", "-1e400", "type", "");
  INVALID("{\"maximum\":5}", "-1e400", "maximum", "");
  CHECK_STR(last.actual, "-Infinity");
  INVALID("{\"minimum\":5}", "1e400", "minimum", "");
  INVALID("{\"exclusiveMinimum\":5}", "1e400", "exclusiveMinimum", "");
  INVALID("{\"multipleOf\":5}", "1e400", "multipleOf", "");
  INVALID("{\"const\":1}", "1e400", "const", "");
  VALID("{\"type\":\"number\"}", "1e-400"); /* underflows to 0 */
}

/* ------------------------------------------------------------------------ */
/* strings                                                                  */

TEST(string_lengths) {
  const char *s = "{\"minLength\":2,\"maxLength\":3}";
  INVALID(s, "\"a\"", "minLength", "");
  CHECK_STR(last.message, "(root): \"a\" has 1 character, fewer than the minimum length 2");
  VALID(s, "\"ab\"");
  VALID(s, "\"abc\"");
  INVALID(s, "\"abcd\"", "maxLength", "");
  CHECK_STR(last.expected, "at most 3 characters");
  /* code points, not bytes: e-acute is 2 bytes, the emoji 4 */
  VALID("{\"maxLength\":1,\"minLength\":1}", "\"\xc3\xa9\"");
  VALID("{\"maxLength\":1,\"minLength\":1}", "\"\xf0\x9f\x98\x80\"");
  VALID("{\"maxLength\":1,\"minLength\":1}", "\"\\u00e9\"");
  VALID("{\"maxLength\":1,\"minLength\":1}", "\"\\ud83d\\ude00\"");
  INVALID("{\"maxLength\":1}", "\"\xf0\x9f\x98\x80\xc3\xa9\"", "maxLength", "");
  VALID("{\"maxLength\":5}", "\"h\xc3\xa9llo\"");
  INVALID("{\"minLength\":1}", "\"\"", "minLength", "");
  VALID("{\"maxLength\":0}", "\"\"");
  VALID("{\"maxLength\":2}", "17"); /* not a string: ignored */
  /* 2.0 is a valid non-negative integer in a schema */
  VALID("{\"maxLength\":2.0}", "\"ab\"");
}

TEST(string_invalid_utf8) {
  /* cJSON passes raw bytes through: lengths of invalid UTF-8 are failures */
  const char *bad[] = {
      "\"\xff\"", "\"a\xc3\"",   "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
      "\"\x80\"", "\"\xe2\x82\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    INVALID("{\"maxLength\":100}", bad[i], "maxLength", "");
    CHECK_STR(last.expected, "valid UTF-8");
    INVALID("{\"minLength\":0}", bad[i], "minLength", "");
    VALID("{\"type\":\"string\"}", bad[i]); /* no length keyword: not examined */
  }
  /* rendered values stay valid UTF-8: bad bytes become U+FFFD */
  INVALID("{\"maxLength\":100}", "\"a\xff\"", "maxLength", "");
  CHECK_STR(last.actual, "\"a\xef\xbf\xbd\"");
}

TEST(pattern_subset) {
  VALID("{\"pattern\":\"^[a-z]+$\"}", "\"abc\"");
  INVALID("{\"pattern\":\"^[a-z]+$\"}", "\"abC\"", "pattern", "");
  CHECK_STR(last.message, "(root): \"abC\" does not match the pattern ^[a-z]+$");
  VALID("{\"pattern\":\"b\"}", "\"abc\""); /* unanchored: search */
  VALID("{\"pattern\":\"\"}", "\"anything\"");
  VALID("{\"pattern\":\"^\\\\d{3}-\\\\d{2}$\"}", "\"123-45\"");
  INVALID("{\"pattern\":\"^\\\\d{3}-\\\\d{2}$\"}", "\"12a-45\"", "pattern", "");
  VALID("{\"pattern\":\"^\\\\w+\\\\s\\\\S$\"}", "\"ab_9 x\"");
  VALID("{\"pattern\":\"^(?:ab)+$\"}", "\"abab\"");
  VALID("{\"pattern\":\"^(?<id>ab)+?$\"}", "\"abab\"");
  VALID("{\"pattern\":\"^a.c$\"}", "\"abc\"");
  INVALID("{\"pattern\":\"^a.c$\"}", "\"a\\nc\"", "pattern", ""); /* '.' skips \n */
  VALID("{\"pattern\":\"^[^\\\\d]+$\"}", "\"abc\"");
  INVALID("{\"pattern\":\"^[^\\\\d]+$\"}", "\"a1c\"", "pattern", "");
  VALID("{\"pattern\":\"^[\\\\]\\\\-^[]+$\"}", "\"]-^[\"");
  INVALID("{\"pattern\":\"^[\\\\]\\\\-^[]+$\"}", "\"a\"", "pattern", "");
  VALID("{\"pattern\":\"^\\\\.\\\\*\\\\/\\\\}$\"}", "\".*/}\"");
  VALID("{\"pattern\":\"^caf\\u00e9+$\"}", "\"caf\xc3\xa9\xc3\xa9\"");
  VALID("{\"pattern\":\"^\\\\u0041\\\\x42$\"}", "\"AB\"");
  VALID("{\"pattern\":\"^[A-F0-9]{2}(:[A-F0-9]{2}){5}$\"}", "\"00:1A:2B:3C:4D:5E\"");
  VALID("{\"pattern\":\"^(rx|tx)_[0-9]+$\"}", "\"tx_12\"");
  VALID("{\"pattern\":\"^[\\\\s]$\"}", "\"\\t\"");
  VALID("{\"pattern\":\"^-?\\\\d+(\\\\.\\\\d+)?$\"}", "\"-12.50\"");
  INVALID("{\"pattern\":\"^-?\\\\d+(\\\\.\\\\d+)?$\"}", "\"12.\"", "pattern", "");
  VALID("{\"pattern\":\"^[a-]+$\"}", "\"a-a\"");
  VALID("{\"pattern\":\"^[\\\\d-z]+$\"}", "\"1-z\"");
  INVALID("{\"pattern\":\"^[\\\\d-z]+$\"}", "\"y\"", "pattern", "");
  VALID("{\"pattern\":\"^a]b}$\"}", "\"a]b}\"");
  VALID("{\"pattern\":\"^[.][*]$\"}", "\".*\"");
  INVALID("{\"pattern\":\"^[.][*]$\"}", "\"ab\"", "pattern", "");
  VALID("{\"pattern\":\"^(a|b)*c{2,}$\"}", "\"abacc\"");
  INVALID("{\"pattern\":\"^[[:alpha:]]$\"}", "\"a\"", "pattern", ""); /* ECMA: a class then ']' */
  VALID("{\"pattern\":\"^[[:alpha:]]$\"}", "\":]\"");
  VALID("{\"pattern\":\"^x\"}", "42"); /* not a string */
}

TEST(pattern_rejected) {
  COMPILE_ERROR("{\"pattern\":\"^(?=a)\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"(?<!a)b\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"(a)\\\\1\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"\\\\bword\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"\\\\p{L}\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"[\\u00e9]\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"[]\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  /* Anchors only where ECMA-262 and glibc agree: at the ends of the pattern
   * or of a top-level alternative (glibc let "$$\n" match "abc\n"). */
  COMPILE_ERROR("{\"pattern\":\"$$\\n\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"\\n^abc\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"(^a|b)\"}", INGEST_EUNSUPPORTED, "pattern", "/pattern");
  VALID("{\"pattern\":\"^a|b$\"}", "\"xb\"");
  INVALID("{\"pattern\":\"^abc$\"}", "\"abc\\n\"", "pattern", "");
  COMPILE_ERROR("{\"pattern\":\"(ab\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"ab)\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"*a\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"a**\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"[a-\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"[z-a]\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  COMPILE_ERROR("{\"pattern\":\"a{x\"}", INGEST_ESCHEMA, "pattern", "/pattern");
  /* accepted by the translator, refused by regcomp */
  COMPILE_ERROR("{\"properties\":{\"id\":{\"pattern\":\"a{3,2}\"}}}", INGEST_ESCHEMA, "pattern",
                "/properties/id/pattern");
  COMPILE_ERROR("{\"pattern\":5}", INGEST_ESCHEMA, "pattern", "/pattern");
}

/* The message of a schema that must not compile (code ESCHEMA, keyword
 * "pattern" at path), which must say `says`. */
static void pattern_refused_at(const char *file, int line, const char *text, const char *path,
                               const char *says) {
  expect_compile_error_at(file, line, text, INGEST_ESCHEMA, "pattern", path);
  cJSON *j = parse(file, line, text);
  ingest_error e;
  ingest_jsonschema *s = NULL;
  ingest_jsonschema_compile(j, &s, &e);
  cJSON_Delete(j);
  if (strstr(e.message, says) == NULL)
    unit__fail(file, line, "message \"%s\" lacks \"%s\"", e.message, says);
}
#define PATTERN_REFUSED(text, path, says) pattern_refused_at(__FILE__, __LINE__, text, path, says)

/* Issue 12, item 14: a pattern whose compilation would take glibc's regcomp
 * gigabytes is refused before regcomp sees it. */
TEST(pattern_compile_cost_is_bounded) {
  /* Found by fuzzing: more than 2 GB while the schema loaded. */
  PATTERN_REFUSED("{\"type\":\"string\",\"pattern\":\"9-]{1,13102}$\"}", "/pattern",
                  "a repetition count is above 255");
  PATTERN_REFUSED("{\"pattern\":\"a{256}\"}", "/pattern", "above 255");
  PATTERN_REFUSED("{\"pattern\":\"a{0,99999999999999999999}\"}", "/pattern", "above 255");
  PATTERN_REFUSED("{\"pattern\":\"a{1000,}\"}", "/pattern", "above 255");
  /* Counts within bounds that multiply: about 659 MiB. */
  PATTERN_REFUSED("{\"properties\":{\"id\":{\"pattern\":\"^((a{1,255}){1,255})$\"}}}",
                  "/properties/id/pattern", "for one pattern");
  PATTERN_REFUSED("{\"pattern\":\"(((a?){10}){10}){10}\"}", "/pattern", "MiB");
  PATTERN_REFUSED("{\"pattern\":\"([0-9]{0,200}x?){1,40}\"}", "/pattern", "MiB");
  /* A long pattern, deep groups. */
  static char text[8192];
  int n = snprintf(text, sizeof text, "{\"pattern\":\"");
  for (int i = 0; i < 4097; i++) text[n++] = 'a';
  snprintf(text + n, sizeof text - (size_t)n, "\"}");
  PATTERN_REFUSED(text, "/pattern", "longer than 4096 bytes");
  n = snprintf(text, sizeof text, "{\"pattern\":\"");
  for (int i = 0; i < 33; i++) text[n++] = '(';
  text[n++] = 'a';
  for (int i = 0; i < 33; i++) text[n++] = ')';
  snprintf(text + n, sizeof text - (size_t)n, "\"}");
  PATTERN_REFUSED(text, "/pattern", "nested deeper than 32");
  COMPILE_ERROR(
      "{\"pattern\":\"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))\"}",
      INGEST_ESCHEMA, "pattern", "/pattern");
  ingest_jsonschema_free(COMPILE(
      "{\"pattern\":\"((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))\"}"));

  /* What sensor schemas write compiles, and so do the largest legal counts. */
  static const char *const fine[] = {
      "^[A-Za-z0-9._-]{1,64}$",
      "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
      "^[A-F0-9]{2}(:[A-F0-9]{2}){5}$",
      "^.{1,255}$",
      "a{255}",
      "(a?){255}",
      "^(?:[a-z]{1,20}\\\\.){1,20}[a-z]{2,10}$",
  };
  for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
    n = snprintf(text, sizeof text, "{\"pattern\":\"%s\"}", fine[i]);
    ingest_jsonschema_free(COMPILE(text));
  }
  /* A 200-way alternation of station names. */
  n = snprintf(text, sizeof text, "{\"pattern\":\"^(");
  for (int i = 0; i < 200; i++)
    n += snprintf(text + n, sizeof text - (size_t)n, "%sst-%03d", i ? "|" : "", i);
  snprintf(text + n, sizeof text - (size_t)n, ")$\"}");
  ingest_jsonschema_free(COMPILE(text));

  /* The patterns of one schema share a budget: (a?){255} is about 6 MiB,
   * five fit in 32 MiB, the sixth does not. */
  n = snprintf(text, sizeof text, "{\"properties\":{");
  for (int i = 0; i < 6; i++)
    n += snprintf(text + n, sizeof text - (size_t)n, "%s\"p%d\":{\"pattern\":\"(a?){255}\"}",
                  i ? "," : "", i);
  snprintf(text + n, sizeof text - (size_t)n, "}}");
  pattern_refused_at(__FILE__, __LINE__, text, "/properties/p5/pattern",
                     "for the patterns of one schema together");
}

/* What the accepted patterns above really keep allocated, measured with
 * glibc's mallinfo2 (so not under a sanitizer, whose allocator it does not
 * see): within the per-pattern budget the estimate enforces. */
TEST(pattern_compile_memory_within_budget) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  fprintf(stderr, "skipped under a sanitizer\n");
  return;
#endif
  static const char *const largest[] = {
      "{\"pattern\":\"^.{1,255}$\"}",
      "{\"pattern\":\"(a?){255}\"}",
      "{\"pattern\":\"((a?){16}){16}\"}",
      "{\"pattern\":\"(ab|cd){1,255}\"}",
      "{\"pattern\":\"(a{1,255}b{1,255}c{1,255})\"}",
      "{\"pattern\":\"([a-z0-9]{0,100}.?){1,4}\"}",
  };
  for (size_t i = 0; i < sizeof largest / sizeof largest[0]; i++) {
    cJSON *j = parse(__FILE__, __LINE__, largest[i]);
    size_t before = mallinfo2().uordblks;
    ingest_jsonschema *s = NULL;
    ingest_error e;
    int rc = ingest_jsonschema_compile(j, &s, &e);
    size_t kept = mallinfo2().uordblks - before;
    CHECK_MSG(rc == 0, "%s: %s", largest[i], e.message);
    CHECK_MSG(kept < (size_t)8 << 20, "%s keeps %zu bytes", largest[i], kept);
    ingest_jsonschema_free(s);
    cJSON_Delete(j);
  }
}

TEST(format_date_time) {
  const char *s = "{\"format\":\"date-time\"}";
  VALID(s, "\"2026-11-26T09:15:46.014773143Z\"");
  VALID(s, "\"1998-12-31T23:59:60Z\"");
  VALID(s, "\"2026-01-01t00:00:00z\"");
  VALID(s, "\"2026-01-01T00:00:00+05:30\"");
  INVALID(s, "\"2026-01-01 00:00:00Z\"", "format", "");
  CHECK_STR(last.expected, "an RFC 3339 date-time");
  INVALID(s, "\"2026-02-29T00:00:00Z\"", "format", "");
  INVALID(s, "\"yesterday\"", "format", "");
  VALID(s, "12"); /* not a string: not a date-time check */
  COMPILE_ERROR("{\"format\":\"email\"}", INGEST_EUNSUPPORTED, "format", "/format");
  COMPILE_ERROR("{\"format\":1}", INGEST_ESCHEMA, "format", "/format");
}

/* ------------------------------------------------------------------------ */
/* const / enum                                                             */

TEST(const_equality) {
  VALID("{\"const\":1}", "1.0");
  VALID("{\"const\":1.0}", "1");
  INVALID("{\"const\":1}", "true", "const", "");
  INVALID("{\"const\":false}", "0", "const", "");
  INVALID("{\"const\":0}", "false", "const", "");
  VALID("{\"const\":null}", "null");
  INVALID("{\"const\":null}", "0", "const", "");
  VALID("{\"const\":\"a\"}", "\"a\"");
  INVALID("{\"const\":\"a\"}", "\"A\"", "const", "");
  CHECK_STR(last.message, "(root): \"A\" is not the expected constant \"a\"");
  VALID("{\"const\":{\"a\":1,\"b\":[1,{\"c\":null}]}}", "{\"b\":[1.0,{\"c\":null}],\"a\":1}");
  INVALID("{\"const\":{\"a\":1,\"b\":2}}", "{\"a\":1}", "const", "");
  INVALID("{\"const\":{\"a\":1}}", "{\"a\":1,\"b\":2}", "const", "");
  INVALID("{\"const\":{\"a\":1}}", "{\"b\":1}", "const", "");
  VALID("{\"const\":[1,\"x\"]}", "[1.0,\"x\"]");
  INVALID("{\"const\":[1,\"x\"]}", "[\"x\",1]", "const", "");
  INVALID("{\"const\":[1]}", "[true]", "const", "");
  INVALID("{\"const\":[1]}", "[1,1]", "const", "");
  VALID("{\"const\":[]}", "[]");
  INVALID("{\"const\":[]}", "{}", "const", "");
}

TEST(enum_equality) {
  const char *s = "{\"enum\":[\"ok\",\"fail\",1,null,{\"a\":[1]}]}";
  VALID(s, "\"ok\"");
  VALID(s, "\"fail\"");
  VALID(s, "1.0");
  VALID(s, "null");
  VALID(s, "{\"a\":[1.0]}");
  INVALID(s, "\"OK\"", "enum", "");
  CHECK_STR(last.expected, "one of [\"ok\",\"fail\",1,null,{\"a\":[1]}]");
  CHECK_STR(last.message, "(root): \"OK\" is not one of [\"ok\",\"fail\",1,null,{\"a\":[1]}]");
  INVALID(s, "2", "enum", "");
  INVALID(s, "{\"a\":[2]}", "enum", "");
  INVALID(s, "false", "enum", "");
  INVALID("{\"enum\":[]}", "1", "enum", "");
  COMPILE_ERROR("{\"enum\":\"a\"}", INGEST_ESCHEMA, "enum", "/enum");
}

/* ------------------------------------------------------------------------ */
/* arrays                                                                   */

TEST(items_prefix_items) {
  const char *s =
      "{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
      "\"items\":{\"type\":\"boolean\"}}";
  VALID(s, "[]");
  VALID(s, "[\"a\"]");
  VALID(s, "[\"a\",1]");
  VALID(s, "[\"a\",1,true,false]");
  INVALID(s, "[1]", "type", "/0");
  INVALID(s, "[\"a\",\"b\"]", "type", "/1");
  INVALID(s, "[\"a\",1,true,3]", "type", "/3");
  CHECK_STR(last.schema_path, "/items/type");
  VALID(s, "{\"not\":\"an array\"}");
  const char *tuple = "{\"prefixItems\":[{},{}],\"items\":false}";
  VALID(tuple, "[1,2]");
  INVALID(tuple, "[1,2,3]", "items", "/2");
  CHECK_STR(last.message, "/2: the array may hold at most 2 items");
  VALID("{\"items\":{\"type\":\"integer\"}}", "[1,2.0,-3]");
  INVALID("{\"items\":{\"type\":\"integer\"}}", "[1,2.5]", "type", "/1");
  INVALID("{\"items\":false}", "[0]", "items", "/0");
  VALID("{\"items\":false}", "[]");
  VALID("{\"prefixItems\":[{\"const\":1}]}", "[1,\"anything\",null]");
  INVALID("{\"prefixItems\":[false]}", "[1]", "prefixItems", "/0");
  COMPILE_ERROR("{\"items\":[{}]}", INGEST_ESCHEMA, "items", "/items");
  COMPILE_ERROR("{\"prefixItems\":[]}", INGEST_ESCHEMA, "prefixItems", "/prefixItems");
}

TEST(min_max_items) {
  const char *s = "{\"minItems\":1,\"maxItems\":2}";
  INVALID(s, "[]", "minItems", "");
  CHECK_STR(last.message, "(root): the array has 0 items, fewer than the minimum 1");
  VALID(s, "[1]");
  VALID(s, "[1,2]");
  INVALID(s, "[1,2,3]", "maxItems", "");
  VALID(s, "\"abc\"");
  COMPILE_ERROR("{\"minItems\":-1}", INGEST_ESCHEMA, "minItems", "/minItems");
  COMPILE_ERROR("{\"maxItems\":1.5}", INGEST_ESCHEMA, "maxItems", "/maxItems");
}

/* ------------------------------------------------------------------------ */
/* objects                                                                  */

TEST(properties_required) {
  const char *s =
      "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"number\"},"
      "\"id\":{\"type\":\"string\"}},\"required\":[\"t\",\"id\"]}";
  VALID(s, "{\"t\":1,\"id\":\"x\"}");
  VALID(s, "{\"id\":\"x\",\"t\":1,\"extra\":[1]}");
  INVALID(s, "{\"t\":1}", "required", "");
  CHECK_STR(last.message, "(root): required property \"id\" is missing");
  CHECK_STR(last.expected, "property \"id\"");
  CHECK_STR(last.schema_path, "/required");
  INVALID(s, "{\"t\":\"1\",\"id\":\"x\"}", "type", "/t");
  INVALID(s, "[]", "type", "");
  /* required names absent from properties, and required before properties */
  const char *r = "{\"required\":[\"a\",\"b\"],\"properties\":{\"a\":{\"minimum\":0}}}";
  VALID(r, "{\"a\":1,\"b\":null}");
  INVALID(r, "{\"a\":-1}", "required", ""); /* required comes first in the schema */
  INVALID(r, "{\"a\":-1,\"b\":0}", "minimum", "/a");
  VALID("{\"required\":[]}", "{}");
  VALID("{\"required\":[\"a\"]}", "[]");
  /* keys are exact and case-sensitive */
  INVALID("{\"required\":[\"Temp\"]}", "{\"temp\":1}", "required", "");
  INVALID("{\"required\":[\"a\"]}", "{\"aa\":1}", "required", "");
  COMPILE_ERROR("{\"required\":[\"a\",\"a\"]}", INGEST_ESCHEMA, "required", "/required");
  COMPILE_ERROR("{\"required\":\"a\"}", INGEST_ESCHEMA, "required", "/required");
  COMPILE_ERROR("{\"required\":[1]}", INGEST_ESCHEMA, "required", "/required");
}

TEST(many_properties) {
  /* more names than the per-object bitset holds: the rest use member() */
  static char schema[40000], inst[20000];
  size_t o = (size_t)snprintf(schema, sizeof schema, "{\"properties\":{");
  for (int i = 0; i < 300; i++)
    o += (size_t)snprintf(schema + o, sizeof schema - o, "%s\"p%d\":{\"maximum\":%d}", i ? "," : "",
                          i, i);
  snprintf(schema + o, sizeof schema - o,
           "},\"required\":[\"p299\",\"p0\",\"q\"],\"additionalProperties\":false}");
  o = (size_t)snprintf(inst, sizeof inst, "{");
  for (int i = 299; i >= 0; i--)
    o += (size_t)snprintf(inst + o, sizeof inst - o, "\"p%d\":%d,", i, i);
  snprintf(inst + o, sizeof inst - o, "\"q\":1}");
  INVALID(schema, inst, "additionalProperties", "/q");
  schema[strlen(schema) - strlen(",\"additionalProperties\":false}")] = '\0';
  strcat(schema, "}");
  VALID(schema, inst);
  inst[strlen(inst) - strlen("\"q\":1}")] = '\0';
  inst[strlen(inst) - 1] = '}';
  INVALID(schema, inst, "required", "");
  CHECK_STR(last.message, "(root): required property \"q\" is missing");
  char *p = strstr(inst, "\"p299\":299");
  memcpy(p, "\"x299\"", 6);
  INVALID(schema, inst, "required", "");
  CHECK_STR(last.message, "(root): required property \"p299\" is missing");
  memcpy(p, "\"p299\":300", 10);
  INVALID(schema, inst, "maximum", "/p299");
}

TEST(additional_properties) {
  const char *s = "{\"properties\":{\"a\":{},\"b\":{}},\"additionalProperties\":false}";
  VALID(s, "{\"a\":1,\"b\":2}");
  VALID(s, "{}");
  INVALID(s, "{\"a\":1,\"c\":2}", "additionalProperties", "/c");
  CHECK_STR(last.message, "/c: property \"c\" is not allowed (it is not listed in properties)");
  CHECK_STR(last.schema_path, "/additionalProperties");
  const char *typed =
      "{\"properties\":{\"id\":{\"type\":\"string\"}},"
      "\"additionalProperties\":{\"type\":\"number\"}}";
  VALID(typed, "{\"id\":\"x\",\"t\":1,\"h\":2.5}");
  INVALID(typed, "{\"id\":\"x\",\"t\":\"1\"}", "type", "/t");
  CHECK_STR(last.schema_path, "/additionalProperties/type");
  /* "properties" names are not additional even when their value fails */
  INVALID(typed, "{\"id\":5}", "type", "/id");
  CHECK_STR(last.schema_path, "/properties/id/type");
  /* required-only names are still additional */
  INVALID("{\"required\":[\"x\"],\"additionalProperties\":false}", "{\"x\":1}",
          "additionalProperties", "/x");
  INVALID("{\"properties\":{\"debug\":false}}", "{\"debug\":1}", "properties", "/debug");
  CHECK_STR(last.message, "/debug: property \"debug\" is not allowed");
  COMPILE_ERROR("{\"patternProperties\":{\"^x\":{}}}", INGEST_EUNSUPPORTED, "patternProperties",
                "/patternProperties");
  COMPILE_ERROR("{\"properties\":[]}", INGEST_ESCHEMA, "properties", "/properties");
}

TEST(first_error_in_document_order) {
  const char *s = "{\"properties\":{\"b\":{\"maximum\":1},\"a\":{\"maximum\":1}}}";
  /* members in instance order */
  INVALID(s, "{\"a\":5,\"b\":5}", "maximum", "/a");
  INVALID(s, "{\"b\":5,\"a\":5}", "maximum", "/b");
  /* keywords in schema order */
  INVALID("{\"maximum\":1,\"type\":\"integer\"}", "2.5", "maximum", "");
  INVALID("{\"type\":\"integer\",\"maximum\":1}", "2.5", "type", "");
  /* deepest location first within one member */
  INVALID("{\"properties\":{\"a\":{\"items\":{\"properties\":{\"x\":{\"type\":\"string\"}}}}}}",
          "{\"a\":[{\"x\":\"ok\"},{\"x\":1}]}", "type", "/a/1/x");
}

/* ------------------------------------------------------------------------ */
/* applicators                                                              */

TEST(all_any_one_not) {
  const char *all = "{\"allOf\":[{\"type\":\"number\"},{\"minimum\":0},{\"maximum\":10}]}";
  VALID(all, "5");
  INVALID(all, "11", "maximum", "");
  CHECK_STR(last.schema_path, "/allOf/2/maximum");
  INVALID(all, "\"5\"", "type", "");

  const char *any =
      "{\"anyOf\":[{\"type\":\"string\",\"maxLength\":2},{\"type\":\"number\",\"maximum\":3}]}";
  VALID(any, "\"ab\"");
  VALID(any, "2");
  INVALID(any, "5", "anyOf", "");
  CHECK_STR(last.schema_path, "/anyOf");
  CHECK_STR(last.expected, "any of 2 alternatives");
  CHECK_STR(last.message,
            "(root): 5 matches none of the 2 alternatives of anyOf; closest is "
            "#1: (root): 5 is greater than the maximum 3");
  INVALID(any, "null", "anyOf", "");

  const char *one = "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}";
  VALID(one, "1");                /* only the first */
  VALID(one, "2.5");              /* only the second */
  INVALID(one, "3", "oneOf", ""); /* both */
  CHECK_STR(last.message,
            "(root): 3 matches alternatives #0 and #1 of oneOf, but must match "
            "exactly one");
  INVALID(one, "1.5", "oneOf", ""); /* neither */
  CHECK_STR(last.expected, "exactly one of 2 alternatives");

  const char *no = "{\"not\":{\"type\":\"string\"}}";
  VALID(no, "1");
  INVALID(no, "\"x\"", "not", "");
  VALID("{\"not\":false}", "1");
  INVALID("{\"not\":true}", "1", "not", "");
  INVALID("{\"not\":{}}", "1", "not", "");
  VALID("{\"not\":{\"not\":{\"type\":\"null\"}}}", "null");

  /* a nested failure inside an anyOf member at a deeper location */
  INVALID("{\"anyOf\":[{\"type\":\"null\"},{\"properties\":{\"a\":{\"const\":1}}}]}", "{\"a\":2}",
          "anyOf", "");
  CHECK(strstr(last.message, "closest is #1: /a: 2 is not the expected constant 1") != NULL);
  COMPILE_ERROR("{\"anyOf\":[]}", INGEST_ESCHEMA, "anyOf", "/anyOf");
  COMPILE_ERROR("{\"oneOf\":{}}", INGEST_ESCHEMA, "oneOf", "/oneOf");
}

TEST(boolean_schemas) {
  VALID("true", "{\"anything\":[1]}");
  INVALID("false", "1", "false", "");
  CHECK_STR(last.message, "(root): no value is allowed here (the schema at the root is false)");
  VALID("{\"allOf\":[true,{}]}", "1");
  INVALID("{\"allOf\":[true,false]}", "1", "false", "");
  CHECK_STR(last.schema_path, "/allOf/1");
}

/* ------------------------------------------------------------------------ */
/* $ref                                                                     */

TEST(ref_defs) {
  const char *s =
      "{\"$defs\":{\"pct\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100},"
      "\"reading\":{\"properties\":{\"hum\":{\"$ref\":\"#/$defs/pct\"}}}},"
      "\"properties\":{\"r\":{\"$ref\":\"#/$defs/reading\"}}}";
  VALID(s, "{\"r\":{\"hum\":50}}");
  INVALID(s, "{\"r\":{\"hum\":150}}", "maximum", "/r/hum");
  CHECK_STR(last.schema_path, "/$defs/pct/maximum");
  /* a pointer into another subschema, escapes and percent-encoding */
  const char *p =
      "{\"$defs\":{\"a/b\":{\"properties\":{\"c~d\":{\"const\":7}}}},"
      "\"properties\":{\"x\":{\"$ref\":\"#/%24defs/a~1b/properties/c~0d\"}}}";
  VALID(p, "{\"x\":7}");
  INVALID(p, "{\"x\":8}", "const", "/x");
  CHECK_STR(last.schema_path, "/$defs/a~1b/properties/c~0d/const");
  /* $ref to the root and siblings of $ref (applied too, 2020-12) */
  const char *root =
      "{\"properties\":{\"n\":{\"$ref\":\"#\",\"required\":[\"v\"]}},\"type\":\"object\"}";
  VALID(root, "{\"n\":{\"v\":1,\"n\":{\"v\":2}}}");
  INVALID(root, "{\"n\":{\"v\":1,\"n\":{}}}", "required", "/n/n");
  INVALID(root, "{\"n\":{\"v\":1,\"n\":3}}", "type", "/n/n");
  /* unused $defs are compiled: errors there are found */
  COMPILE_ERROR("{\"$defs\":{\"x\":{\"uniqueItems\":true}}}", INGEST_EUNSUPPORTED, "uniqueItems",
                "/$defs/x/uniqueItems");
  COMPILE_ERROR("{\"$ref\":\"#/$defs/missing\"}", INGEST_ESCHEMA, "$ref", "/$ref");
  COMPILE_ERROR("{\"$ref\":\"other.json#/a\"}", INGEST_EUNSUPPORTED, "$ref", "/$ref");
  COMPILE_ERROR("{\"$ref\":\"#anchor\"}", INGEST_EUNSUPPORTED, "$ref", "/$ref");
  COMPILE_ERROR("{\"$ref\":\"#/a~2\"}", INGEST_ESCHEMA, "$ref", "/$ref");
  COMPILE_ERROR("{\"$ref\":3}", INGEST_ESCHEMA, "$ref", "/$ref");
  COMPILE_ERROR("{\"$ref\":\"#/required\",\"required\":[]}", INGEST_ESCHEMA, "", "/required");
}

TEST(ref_recursive_tree) {
  const char *tree =
      "{\"$defs\":{\"node\":{\"type\":\"object\",\"required\":[\"value\"],"
      "\"properties\":{\"value\":{\"type\":\"number\"},"
      "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
      "\"additionalProperties\":false}},\"$ref\":\"#/$defs/node\"}";
  VALID(tree, "{\"value\":1}");
  VALID(tree,
        "{\"value\":1,\"children\":[{\"value\":2},{\"value\":3,\"children\":[{\"value\":4}]}]}");
  INVALID(
      tree,
      "{\"value\":1,\"children\":[{\"value\":2},{\"value\":3,\"children\":[{\"value\":\"4\"}]}]}",
      "type", "/children/1/children/0/value");
  CHECK_STR(last.schema_path, "/$defs/node/properties/value/type");
  INVALID(tree, "{\"value\":1,\"children\":[{}]}", "required", "/children/0");
  INVALID(tree, "{\"value\":1,\"children\":[{\"value\":1,\"x\":0}]}", "additionalProperties",
          "/children/0/x");
}

TEST(ref_cycles_refused) {
  /* a cycle that never moves into the instance would never end */
  COMPILE_ERROR("{\"$ref\":\"#\"}", INGEST_ESCHEMA, "$ref", "/$ref");
  COMPILE_ERROR(
      "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},"
      "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a\"}}}",
      INGEST_ESCHEMA, "$ref", "/$defs/b/allOf/0/$ref");
  COMPILE_ERROR("{\"anyOf\":[{\"type\":\"null\"},{\"not\":{\"$ref\":\"#\"}}]}", INGEST_ESCHEMA,
                "$ref", "/anyOf/1/not/$ref");
  /* through an applicator that descends: fine */
  ingest_jsonschema *s = COMPILE("{\"items\":{\"$ref\":\"#\"}}");
  ingest_jsonschema_free(s);
}

/* ------------------------------------------------------------------------ */
/* compile errors                                                           */

TEST(compile_unsupported_and_bad_values) {
  COMPILE_ERROR("{\"properties\":{\"x\":{\"uniqueItems\":true}}}", INGEST_EUNSUPPORTED,
                "uniqueItems", "/properties/x/uniqueItems");
  COMPILE_ERROR("{\"if\":{}}", INGEST_EUNSUPPORTED, "if", "/if");
  COMPILE_ERROR("{\"maximun\":3}", INGEST_EUNSUPPORTED, "maximun", "/maximun");
  COMPILE_ERROR("{\"definitions\":{}}", INGEST_EUNSUPPORTED, "definitions", "/definitions");
  COMPILE_ERROR("{\"properties\":{\"t\":{\"minimum\":\"3\"}}}", INGEST_ESCHEMA, "minimum",
                "/properties/t/minimum");
  {
    cJSON *j = cJSON_Parse("{\"properties\":{\"t\":{\"minimum\":\"3\"}}}");
    ingest_jsonschema *s;
    ingest_error e;
    CHECK_INT(ingest_jsonschema_compile(j, &s, &e), ==, INGEST_ESCHEMA);
    CHECK_STR(e.message, "schema /properties/t/minimum: minimum must be a number, not string");
    cJSON_Delete(j);
  }
  COMPILE_ERROR("{\"maximum\":1e400}", INGEST_ESCHEMA, "maximum", "/maximum");
  COMPILE_ERROR("{\"multipleOf\":0}", INGEST_ESCHEMA, "multipleOf", "/multipleOf");
  COMPILE_ERROR("{\"multipleOf\":-2}", INGEST_ESCHEMA, "multipleOf", "/multipleOf");
  COMPILE_ERROR("{\"maxLength\":\"3\"}", INGEST_ESCHEMA, "maxLength", "/maxLength");
  COMPILE_ERROR("{\"type\":\"int\"}", INGEST_ESCHEMA, "type", "/type");
  COMPILE_ERROR("{\"type\":[\"string\",\"string\"]}", INGEST_ESCHEMA, "type", "/type");
  COMPILE_ERROR("{\"type\":3}", INGEST_ESCHEMA, "type", "/type");
  COMPILE_ERROR("{\"not\":3}", INGEST_ESCHEMA, "", "/not");
  COMPILE_ERROR("{\"additionalProperties\":\"no\"}", INGEST_ESCHEMA, "", "/additionalProperties");
  COMPILE_ERROR("[]", INGEST_ESCHEMA, "", "");
  COMPILE_ERROR("{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}", INGEST_EUNSUPPORTED,
                "$schema", "/$schema");
  COMPILE_ERROR("{\"properties\":{\"a\":{\"$id\":\"x\"}}}", INGEST_EUNSUPPORTED, "$id",
                "/properties/a/$id");
  COMPILE_ERROR("{\"type\":\"number\",\"type\":\"string\"}", INGEST_ESCHEMA, "type", "");
  COMPILE_ERROR("{\"properties\":{\"a~b/c\":{\"minLength\":-1}}}", INGEST_ESCHEMA, "minLength",
                "/properties/a~0b~1c/minLength");
}

TEST(compile_annotations_ignored) {
  const char *s =
      "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"urn:x\","
      "\"$comment\":\"c\",\"title\":\"t\",\"description\":\"d\",\"examples\":[1],"
      "\"default\":2,\"deprecated\":false,\"readOnly\":true,\"writeOnly\":false,"
      "\"x-tsdb\":{\"measurement\":\"air\",\"fields\":{\"anything\":[\"goes\"]}},"
      "\"properties\":{\"a\":{\"x-unit\":\"ppm\",\"title\":\"A\",\"type\":\"number\"}}}";
  VALID(s, "{\"a\":1}");
  INVALID(s, "{\"a\":\"1\"}", "type", "/a");
}

/* ------------------------------------------------------------------------ */
/* error record                                                             */

TEST(error_record_fields) {
  const char *s =
      "{\"type\":\"object\",\"properties\":{\"pm25\":{\"type\":\"number\","
      "\"minimum\":0,\"maximum\":1000}},\"required\":[\"pm25\"]}";
  ingest_jsonschema *c = COMPILE(s);
  cJSON *j = cJSON_Parse("{\"pm25\":1200.5}");
  ingest_error e;
  CHECK_INT(ingest_jsonschema_validate(c, ingest_value_from_cjson(j), &e), ==, INGEST_EVALIDATE);
  CHECK_INT(e.code, ==, INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "maximum");
  CHECK_STR(e.pointer, "/pm25");
  CHECK_STR(e.schema_path, "/properties/pm25/maximum");
  CHECK_STR(e.expected, "<= 1000");
  CHECK_STR(e.actual, "1200.5");
  CHECK_STR(e.message, "/pm25: 1200.5 is greater than the maximum 1000");
  cJSON_Delete(j);

  j = cJSON_Parse("{\"pm25\":\"12\"}");
  CHECK_INT(ingest_jsonschema_validate(c, ingest_value_from_cjson(j), &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "type");
  CHECK_STR(e.expected, "number");
  CHECK_STR(e.actual, "string");
  CHECK_STR(e.message, "/pm25: expected number, got string \"12\"");
  cJSON_Delete(j);

  /* a valid instance leaves the record alone */
  j = cJSON_Parse("{\"pm25\":12}");
  strcpy(e.keyword, "untouched");
  CHECK_OK(ingest_jsonschema_validate(c, ingest_value_from_cjson(j), &e));
  CHECK_STR(e.keyword, "untouched");
  cJSON_Delete(j);
  ingest_jsonschema_free(c);
}

TEST(error_record_truncation) {
  /* a long value is cut with "...", keeping UTF-8 whole */
  char inst[2000];
  strcpy(inst, "\"");
  for (int i = 0; i < 300; i++) strcat(inst, "\xc3\xa9");
  strcat(inst, "\"");
  INVALID("{\"maxLength\":3}", inst, "maxLength", "");
  size_t n = strlen(last.actual);
  CHECK(n < sizeof last.actual);
  CHECK(n >= sizeof last.actual - 5);
  CHECK_STR(last.actual + n - 3, "...");
  CHECK(last.actual[0] == '"');
  /* everything before "..." is whole two-byte sequences after the quote */
  CHECK_INT((n - 4) % 2, ==, 0);
  CHECK(strlen(last.message) < sizeof last.message);

  /* a long key in the pointer, with escapes, cut with "..." */
  char obj[1200], key[400];
  memset(key, 'k', 300);
  key[0] = '~';
  key[1] = '/';
  key[300] = '\0';
  snprintf(obj, sizeof obj, "{\"%s\":1}", key);
  ingest_jsonschema *s = COMPILE("{\"additionalProperties\":false}");
  cJSON *j = cJSON_Parse(obj);
  ingest_error e;
  CHECK_INT(ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e), ==, INGEST_EVALIDATE);
  CHECK_INT(strncmp(e.pointer, "/~0~1kkk", 8), ==, 0);
  CHECK_INT(strlen(e.pointer), ==, sizeof e.pointer - 1);
  CHECK_STR(e.pointer + sizeof e.pointer - 4, "...");
  CHECK_STR(e.message + strlen(e.message) - 3, "...");
  cJSON_Delete(j);
  ingest_jsonschema_free(s);
}

/* ------------------------------------------------------------------------ */
/* msgpack view                                                             */

TEST(msgpack_view_types) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 12);
  msgpack_pack_nil(&pk);                /* 0 */
  msgpack_pack_true(&pk);               /* 1 */
  msgpack_pack_uint64(&pk, UINT64_MAX); /* 2 */
  msgpack_pack_int64(&pk, INT64_MIN);   /* 3 */
  msgpack_pack_float(&pk, 2.5f);        /* 4 */
  msgpack_pack_double(&pk, NAN);        /* 5 */
  msgpack_pack_str(&pk, 3);             /* 6 */
  msgpack_pack_str_body(&pk, "a\0b", 3);
  msgpack_pack_bin(&pk, 2); /* 7 */
  msgpack_pack_bin_body(&pk, "\x01\x02", 2);
  msgpack_pack_ext(&pk, 1, 5); /* 8 */
  msgpack_pack_ext_body(&pk, "\x01", 1);
  msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX); /* 9 */
  msgpack_pack_double(&pk, 3.0);                 /* 10 */
  msgpack_pack_map(&pk, 3);                      /* 11 */
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "a\0b", 3);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, 7); /* a non-string key */
  msgpack_pack_int(&pk, 2);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "a", 1);
  msgpack_pack_int(&pk, 3);

  mp_doc d = {.buf = sb};
  mp_unpack(&d);
  ingest_value root = ingest_value_from_msgpack(&d.up.data);
  CHECK_INT(ingest_value_type(root), ==, INGEST_T_ARRAY);
  CHECK_INT(root.ops->count(root.node), ==, 12);
  ingest_value el[12];
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *child;
  for (int i = 0; i < 12; i++) {
    CHECK(root.ops->next(root.node, &it, &key, &klen, &child));
    CHECK(key == NULL);
    el[i].ops = root.ops;
    el[i].node = child;
  }
  CHECK(!root.ops->next(root.node, &it, &key, &klen, &child));
  int64_t i64;
  CHECK_INT(ingest_value_type(el[0]), ==, INGEST_T_NULL);
  CHECK_INT(ingest_value_type(el[1]), ==, INGEST_T_BOOL);
  CHECK(el[1].ops->boolean(el[1].node));
  CHECK_INT(ingest_value_type(el[2]), ==, INGEST_T_NUMBER);
  CHECK(!el[2].ops->int64(el[2].node, &i64)); /* above INT64_MAX: number only */
  CHECK_BITS(el[2].ops->number(el[2].node), 18446744073709551615.0);
  CHECK(el[3].ops->int64(el[3].node, &i64));
  CHECK(i64 == INT64_MIN);
  CHECK_BITS(el[4].ops->number(el[4].node), 2.5);
  CHECK(!el[4].ops->int64(el[4].node, &i64));
  CHECK(isnan(el[5].ops->number(el[5].node)));
  CHECK(!el[5].ops->int64(el[5].node, &i64));
  size_t len;
  const char *s = el[6].ops->string(el[6].node, &len);
  CHECK_INT(len, ==, 3);
  CHECK(memcmp(s, "a\0b", 3) == 0);
  CHECK_INT(ingest_value_type(el[7]), ==, INGEST_T_BINARY);
  CHECK_INT(ingest_value_type(el[8]), ==, INGEST_T_BINARY);
  CHECK(el[9].ops->int64(el[9].node, &i64));
  CHECK(i64 == INT64_MAX);
  CHECK(el[10].ops->int64(el[10].node, &i64));
  CHECK_INT(i64, ==, 3);

  ingest_value m = el[11];
  CHECK_INT(ingest_value_type(m), ==, INGEST_T_OBJECT);
  CHECK(m.ops->member(m.node, "a\0b", 3) != NULL);
  CHECK(m.ops->member(m.node, "a", 1) != NULL);
  CHECK(m.ops->member(m.node, "a\0", 2) == NULL);
  CHECK(m.ops->member(m.node, "A", 1) == NULL);
  ingest_iter mi = {0};
  int nonstr = 0, n = 0;
  while (m.ops->next(m.node, &mi, &key, &klen, &child)) {
    n++;
    if (key == NULL) nonstr++;
  }
  CHECK_INT(n, ==, 3);
  CHECK_INT(nonstr, ==, 1);

  /* through the validator */
  ingest_jsonschema *sc;
  ingest_error e;
  sc = COMPILE(
      "{\"prefixItems\":[{\"type\":\"null\"},{\"const\":true},{\"type\":\"integer\",\"minimum\":1e19},"
      "{\"type\":\"integer\",\"maximum\":-9223372036854775807},{\"multipleOf\":0.5},"
      "{\"type\":\"number\"},{\"maxLength\":3,\"minLength\":3},{},{},"
      "{\"const\":9223372036854775807},{\"type\":\"integer\",\"const\":3}]}");
  CHECK_OK(ingest_jsonschema_validate(sc, root, &e));
  ingest_jsonschema_free(sc);
  /* NaN fails every numeric keyword and is not an integer */
  const char *nan_schemas[] = {"{\"prefixItems\":[{},{},{},{},{},{\"maximum\":1}]}",
                               "{\"prefixItems\":[{},{},{},{},{},{\"minimum\":1}]}",
                               "{\"prefixItems\":[{},{},{},{},{},{\"multipleOf\":1}]}",
                               "{\"prefixItems\":[{},{},{},{},{},{\"type\":\"integer\"}]}",
                               "{\"prefixItems\":[{},{},{},{},{},{\"const\":0}]}"};
  for (size_t i = 0; i < 5; i++) {
    sc = COMPILE(nan_schemas[i]);
    CHECK_INT(ingest_jsonschema_validate(sc, root, &e), ==, INGEST_EVALIDATE);
    CHECK_STR(e.pointer, "/5");
    CHECK_STR(e.actual, i == 3 ? "number" : "NaN");
    ingest_jsonschema_free(sc);
  }
  /* binary is never a JSON type */
  sc = COMPILE(
      "{\"prefixItems\":[{},{},{},{},{},{},{},{\"type\":[\"string\",\"array\",\"object\",\"number\",\"null\",\"boolean\"]}]}");
  CHECK_INT(ingest_jsonschema_validate(sc, root, &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.pointer, "/7");
  CHECK_STR(e.actual, "binary");
  ingest_jsonschema_free(sc);
  /* a non-string key never matches a property: additional */
  sc = COMPILE(
      "{\"prefixItems\":[{},{},{},{},{},{},{},{},{},{},{},"
      "{\"properties\":{\"a\":{},\"7\":{}},\"additionalProperties\":{\"type\":\"string\"}}]}");
  CHECK_INT(ingest_jsonschema_validate(sc, root, &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "type");
  ingest_jsonschema_free(sc);
  /* "a\0b" is not "a" */
  sc = COMPILE(
      "{\"prefixItems\":[{},{},{},{},{},{},{},{},{},{},{},"
      "{\"properties\":{\"a\":{\"const\":3}}, \"required\":[\"a\"]}]}");
  CHECK_OK(ingest_jsonschema_validate(sc, root, &e));
  ingest_jsonschema_free(sc);
  sc = COMPILE("{\"prefixItems\":[{},{},{},{},{},{},{\"const\":\"a\"}]}");
  CHECK_INT(ingest_jsonschema_validate(sc, root, &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.actual, "\"a\\u0000b\"");
  ingest_jsonschema_free(sc);
  mp_free(&d);
}

TEST(msgpack_big_integers_exact) {
  /* beyond 2^53 doubles cannot tell neighbours apart; int64 can */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_int64(&pk, 9007199254740993LL);
  mp_doc d = {.buf = sb};
  mp_unpack(&d);
  ingest_value v = ingest_value_from_msgpack(&d.up.data);
  ingest_error e;
  ingest_jsonschema *s = COMPILE("{\"maximum\":9007199254740992}");
  CHECK_INT(ingest_jsonschema_validate(s, v, &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.message, "(root): 9007199254740993 is greater than the maximum 9007199254740992");
  ingest_jsonschema_free(s);
  s = COMPILE("{\"const\":9007199254740992}");
  CHECK_INT(ingest_jsonschema_validate(s, v, &e), ==, INGEST_EVALIDATE);
  ingest_jsonschema_free(s);
  s = COMPILE("{\"multipleOf\":2}");
  CHECK_INT(ingest_jsonschema_validate(s, v, &e), ==, INGEST_EVALIDATE);
  ingest_jsonschema_free(s);
  mp_free(&d);
}

/* ------------------------------------------------------------------------ */
/* cJSON view                                                               */

TEST(cjson_view) {
  cJSON *j = cJSON_Parse(
      "{\"a\":1,\"ab\":2.5,\"c\":[1,2,3],\"big\":9223372036854775808,"
      "\"min\":-9223372036854775808,\"s\":\"x\\u00e9\",\"A\":0}");
  ingest_value v = ingest_value_from_cjson(j);
  CHECK_INT(ingest_value_type(v), ==, INGEST_T_OBJECT);
  CHECK_INT(v.ops->count(v.node), ==, 7);
  CHECK(v.ops->member(v.node, "a", 1) != NULL);
  CHECK(v.ops->member(v.node, "ab", 1) != NULL); /* key_len 1: "a" */
  CHECK(v.ops->member(v.node, "a\0", 2) == NULL);
  CHECK(v.ops->member(v.node, "abc", 3) == NULL);
  CHECK(v.ops->member(v.node, "", 0) == NULL);
  const void *a = v.ops->member(v.node, "A", 1);
  CHECK(a != NULL && a != v.ops->member(v.node, "a", 1));
  int64_t i;
  ingest_value x = {v.ops, v.ops->member(v.node, "a", 1)};
  CHECK(x.ops->int64(x.node, &i) && i == 1);
  x.node = v.ops->member(v.node, "ab", 2);
  CHECK(!x.ops->int64(x.node, &i));
  x.node = v.ops->member(v.node, "big", 3);
  CHECK(!x.ops->int64(x.node, &i)); /* 2^63 does not fit */
  x.node = v.ops->member(v.node, "min", 3);
  CHECK(x.ops->int64(x.node, &i) && i == INT64_MIN);
  x.node = v.ops->member(v.node, "s", 1);
  size_t len;
  CHECK_STR(x.ops->string(x.node, &len), "x\xc3\xa9");
  CHECK_INT(len, ==, 3);
  x.node = v.ops->member(v.node, "c", 1);
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *child;
  double sum = 0;
  while (x.ops->next(x.node, &it, &key, &klen, &child)) {
    CHECK(key == NULL);
    sum += x.ops->number(child);
  }
  CHECK_BITS(sum, 6.0);
  CHECK(!x.ops->next(x.node, &it, &key, &klen, &child));
  ingest_iter oi = {0};
  CHECK(v.ops->next(v.node, &oi, &key, &klen, &child));
  CHECK_INT(klen, ==, 1);
  CHECK(key[0] == 'a');
  cJSON *empty = cJSON_CreateArray();
  ingest_iter ei = {0};
  ingest_value ev = ingest_value_from_cjson(empty);
  CHECK(!ev.ops->next(ev.node, &ei, &key, &klen, &child));
  CHECK(!ev.ops->next(ev.node, &ei, &key, &klen, &child));
  cJSON_Delete(empty);
  CHECK(!ingest_value_present(ingest_value_from_cjson(NULL)));
  CHECK_INT(ingest_value_type(ingest_value_from_cjson(NULL)), ==, INGEST_T_INVALID);
  CHECK_STR(ingest_type_name(INGEST_T_OBJECT), "object");
  CHECK_STR(ingest_type_name(INGEST_T_BINARY), "binary");
  cJSON_Delete(j);
}

/* ------------------------------------------------------------------------ */
/* JSON pointers                                                            */

static const char *resolve_text(const char *doc, const char *ptr, char *out, size_t cap) {
  cJSON *j = cJSON_Parse(doc);
  ingest_pointer *p;
  CHECK_OK(ingest_pointer_compile(ptr, &p));
  CHECK_STR(ingest_pointer_text(p), ptr);
  ingest_value v = ingest_pointer_resolve(p, ingest_value_from_cjson(j));
  if (!ingest_value_present(v)) {
    snprintf(out, cap, "(absent)");
  } else {
    char *s = cJSON_PrintUnformatted((const cJSON *)v.node);
    snprintf(out, cap, "%s", s);
    free(s);
  }
  /* the same through msgpack */
  mp_doc d;
  mp_from_json(&d, j);
  ingest_value m = ingest_pointer_resolve(p, ingest_value_from_msgpack(&d.up.data));
  CHECK(ingest_value_present(m) == ingest_value_present(v));
  mp_free(&d);
  ingest_pointer_free(p);
  cJSON_Delete(j);
  return out;
}

TEST(json_pointer) {
  /* RFC 6901 section 5 examples */
  const char *doc =
      "{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,"
      "\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8}";
  char buf[256];
  CHECK_STR(resolve_text(doc, "", buf, sizeof buf),
            "{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,\"g|h\":4,"
            "\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8}");
  CHECK_STR(resolve_text(doc, "/foo", buf, sizeof buf), "[\"bar\",\"baz\"]");
  CHECK_STR(resolve_text(doc, "/foo/0", buf, sizeof buf), "\"bar\"");
  CHECK_STR(resolve_text(doc, "/foo/1", buf, sizeof buf), "\"baz\"");
  CHECK_STR(resolve_text(doc, "/", buf, sizeof buf), "0");
  CHECK_STR(resolve_text(doc, "/a~1b", buf, sizeof buf), "1");
  CHECK_STR(resolve_text(doc, "/c%d", buf, sizeof buf), "2");
  CHECK_STR(resolve_text(doc, "/e^f", buf, sizeof buf), "3");
  CHECK_STR(resolve_text(doc, "/g|h", buf, sizeof buf), "4");
  CHECK_STR(resolve_text(doc, "/i\\j", buf, sizeof buf), "5");
  CHECK_STR(resolve_text(doc, "/k\"l", buf, sizeof buf), "6");
  CHECK_STR(resolve_text(doc, "/ ", buf, sizeof buf), "7");
  CHECK_STR(resolve_text(doc, "/m~0n", buf, sizeof buf), "8");
  /* misses */
  CHECK_STR(resolve_text(doc, "/foo/2", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/foo/-", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/foo/01", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/foo/+1", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/foo/0/x", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/foo/99999999999999999999999", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/a~1b/x", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/M~0n", buf, sizeof buf), "(absent)");
  CHECK_STR(resolve_text(doc, "/m~1n", buf, sizeof buf), "(absent)");
  /* "~01" is "~1", not "/" */
  CHECK_STR(resolve_text("{\"~1\":1,\"/\":2}", "/~01", buf, sizeof buf), "1");
  CHECK_STR(resolve_text("{\"0\":{\"10\":[5]}}", "/0/10/0", buf, sizeof buf), "5");
  CHECK_STR(resolve_text("[[1,[2,3]]]", "/0/1/1", buf, sizeof buf), "3");
  /* invalid pointers */
  ingest_pointer *p = (ingest_pointer *)1;
  CHECK_INT(ingest_pointer_compile("a", &p), ==, INGEST_EINVAL);
  CHECK(p == NULL);
  CHECK_INT(ingest_pointer_compile("/~", &p), ==, INGEST_EINVAL);
  CHECK_INT(ingest_pointer_compile("/~2", &p), ==, INGEST_EINVAL);
  CHECK_INT(ingest_pointer_compile("/a~", &p), ==, INGEST_EINVAL);
  CHECK_INT(ingest_pointer_compile(NULL, &p), ==, INGEST_EINVAL);
  CHECK_OK(ingest_pointer_compile("/x", &p));
  CHECK(!ingest_value_present(ingest_pointer_resolve(p, ingest_value_from_cjson(NULL))));
  ingest_pointer_free(p);
  ingest_pointer_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* RFC 3339                                                                 */

static int64_t ts(const char *text) {
  int64_t ms = INT64_MIN;
  int rc = ingest_rfc3339_parse(text, strlen(text), &ms);
  CHECK_MSG(rc == 0, "rejected: %s", text);
  return ms;
}

static bool ts_ok(const char *text) {
  int64_t ms;
  return ingest_rfc3339_parse(text, strlen(text), &ms) == 0;
}

TEST(rfc3339_valid) {
  /* date -u -d '2026-11-26T09:15:46Z' +%s -> 1795684546 */
  CHECK_INT(ts("2026-11-26T09:15:46.014773143Z"), ==, 1795684546014LL);
  CHECK_INT(ts("2026-11-26T09:15:46Z"), ==, 1795684546000LL);
  CHECK_INT(ts("2026-11-26t09:15:46.9z"), ==, 1795684546900LL);
  CHECK_INT(ts("2026-11-26T09:15:46.01Z"), ==, 1795684546010LL);
  /* offsets: the same instant */
  CHECK_INT(ts("2026-11-26T10:15:46.014+01:00"), ==, 1795684546014LL);
  CHECK_INT(ts("2026-11-26T01:45:46.014-07:30"), ==, 1795684546014LL);
  CHECK_INT(ts("2026-11-26T09:15:46-00:00"), ==, 1795684546000LL);
  CHECK_INT(ts("1970-01-01T00:00:00Z"), ==, 0);
  CHECK_INT(ts("1969-12-31T23:59:59.999Z"), ==, -1); /* truncation towards the past */
  CHECK_INT(ts("1970-01-01T00:59:59+01:00"), ==, -1000);
  /* date -u -d '2000-02-29T00:00:00Z' +%s -> 951782400 */
  CHECK_INT(ts("2000-02-29T00:00:00Z"), ==, 951782400000LL);
  /* date -u -d '2024-02-29T12:30:00Z' +%s -> 1709209800 */
  CHECK_INT(ts("2024-02-29T12:30:00Z"), ==, 1709209800000LL);
  /* leap second: 1998-12-31T23:59:59Z is 915148799 (date -u); :60 is the next */
  CHECK_INT(ts("1998-12-31T23:59:60Z"), ==, 915148800000LL);
  CHECK_INT(ts("1998-12-31T15:59:60.123-08:00"), ==, 915148800123LL);
  /* date -u -d '0001-01-01T00:00:00Z' +%s -> -62135596800; year 0 is leap (366 days) */
  CHECK_INT(ts("0001-01-01T00:00:00Z"), ==, -62135596800000LL);
  CHECK_INT(ts("0000-01-01T00:00:00Z"), ==, -62167219200000LL);
  /* date -u -d '9999-12-31T23:59:59Z' +%s -> 253402300799 */
  CHECK_INT(ts("9999-12-31T23:59:59.999999Z"), ==, 253402300799999LL);
  CHECK_INT(ts("2026-01-01T00:00:00.123456789012345678901234567890Z"), ==, 1767225600123LL);
}

TEST(rfc3339_invalid) {
  const char *bad[] = {
      "",
      "2026-11-26",
      "2026-11-26T09:15:46",    /* no offset */
      "2026-11-26 09:15:46Z",   /* space separator */
      "2026-11-26T09:15Z",      /* no seconds */
      "2026-11-26T09:15:46.Z",  /* empty fraction */
      "2026-11-26T09:15:46,5Z", /* comma fraction */
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-02-29T00:00:00Z", /* not a leap year */
      "1900-02-29T00:00:00Z", /* divisible by 100 */
      "2026-01-01T24:00:00Z",
      "2026-01-01T23:60:00Z",
      "2026-01-01T23:59:61Z",
      "1998-12-31T23:58:60Z",      /* leap second, wrong minute */
      "1998-12-31T22:59:60Z",      /* leap second, wrong hour */
      "1998-12-31T23:59:60+01:00", /* 22:59:60 UTC */
      "2026-01-01T00:00:00+24:00",
      "2026-01-01T00:00:00+01:60",
      "2026-01-01T00:00:00+0100",
      "2026-01-01T00:00:00+01",
      "2026-01-01T00:00:00ZZ",
      "2026-01-01T00:00:00Z ",
      " 2026-01-01T00:00:00Z",
      "26-01-01T00:00:00Z",
      "+2026-01-01T00:00:00Z",
      "20260-01-01T00:00:00Z",
      "2026-1-01T00:00:00Z",
      "2026-01-01T0:00:00Z",
      "2026-01-01X00:00:00Z",
      "2026/01/01T00:00:00Z",
      "2026-01-01T00:00:00.5",
      "2026-01-01T00:00:00\xef\xbc\xba",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(!ts_ok(bad[i]), "accepted: \"%s\"", bad[i]);
  /* lengths are honoured: no NUL needed, none read past */
  int64_t ms;
  CHECK_OK(ingest_rfc3339_parse("2026-01-01T00:00:00Zjunk", 20, &ms));
  CHECK_INT(ingest_rfc3339_parse("2026-01-01T00:00:00Zjunk", 19, &ms), ==, INGEST_ETIMESTAMP);
  CHECK_INT(ingest_rfc3339_parse(NULL, 0, &ms), ==, INGEST_ETIMESTAMP);
}

TEST(rfc3339_against_days_count) {
  /* every day 0000..9999 (sampled with a fixed seed) against a naive count */
  uint64_t seed = 42;
  for (int n = 0; n < 20000; n++) {
    unsigned y = (unsigned)(unit_rand(&seed) % 10000);
    unsigned m = (unsigned)(unit_rand(&seed) % 12) + 1;
    unsigned dmax = m == 2 ? ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28)
                           : (m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31);
    unsigned d = (unsigned)(unit_rand(&seed) % dmax) + 1;
    /* naive: days from 1970 by summing years and months */
    int64_t days = 0;
    for (unsigned yy = 1970; yy < y; yy++)
      days += ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0) ? 366 : 365;
    for (unsigned yy = y; yy < 1970; yy++)
      days -= ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0) ? 366 : 365;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (unsigned mm = 1; mm < m; mm++)
      days += mdays[mm - 1] + (mm == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    days += d - 1;
    char text[40];
    snprintf(text, sizeof text, "%04u-%02u-%02uT12:34:56.789Z", y, m, d);
    CHECK_INT(ts(text), ==, (days * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000 + 789);
  }
}

/* ------------------------------------------------------------------------ */
/* hostile input                                                            */

static cJSON *deep_array(int depth) {
  cJSON *root = cJSON_CreateArray(), *cur = root;
  for (int i = 1; i < depth; i++) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(cur, a);
    cur = a;
  }
  return root;
}

TEST(hostile_deep_nesting) {
  ingest_jsonschema *rec = COMPILE("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
  ingest_jsonschema *flat = COMPILE("{\"type\":\"array\",\"maxItems\":1,\"const\":[]}");
  ingest_error e;
  /* 1000 levels: refused at the depth bound, no crash */
  cJSON *deep = deep_array(1000);
  CHECK_INT(ingest_jsonschema_validate(rec, ingest_value_from_cjson(deep), &e), ==,
            INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "items");
  CHECK(strstr(e.message, "nested deeper than 64 levels") != NULL);
  CHECK_INT(ingest_jsonschema_validate(rec, ingest_value_from_cjson(deep), NULL), ==,
            INGEST_EVALIDATE);
  /* const compares and renders a deep value without trouble */
  CHECK_INT(ingest_jsonschema_validate(flat, ingest_value_from_cjson(deep), &e), ==,
            INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "const");
  CHECK(strlen(e.actual) < sizeof e.actual);
  cJSON_Delete(deep);
  /* exactly at the bound: 64 levels below the root validate */
  deep = deep_array(65);
  CHECK_OK(ingest_jsonschema_validate(rec, ingest_value_from_cjson(deep), &e));
  cJSON_Delete(deep);
  deep = deep_array(66);
  CHECK_INT(ingest_jsonschema_validate(rec, ingest_value_from_cjson(deep), &e), ==,
            INGEST_EVALIDATE);
  cJSON_Delete(deep);
  /* objects too, through properties and additionalProperties */
  ingest_jsonschema *obj = COMPILE("{\"additionalProperties\":{\"$ref\":\"#\"}}");
  cJSON *root = cJSON_CreateObject(), *cur = root;
  for (int i = 0; i < 1000; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(cur, "a", o);
    cur = o;
  }
  CHECK_INT(ingest_jsonschema_validate(obj, ingest_value_from_cjson(root), &e), ==,
            INGEST_EVALIDATE);
  CHECK_STR(e.keyword, "additionalProperties");
  CHECK_INT(strncmp(e.pointer, "/a/a/a/a", 8), ==, 0);
  cJSON_Delete(root);
  ingest_jsonschema_free(obj);
  ingest_jsonschema_free(rec);
  ingest_jsonschema_free(flat);
}

TEST(hostile_large_strings) {
  size_t n = 1u << 20;
  char *big = malloc(n + 1);
  uint64_t seed = 7;
  for (size_t i = 0; i < n; i++) big[i] = (char)('a' + unit_rand(&seed) % 26);
  big[n] = '\0';
  cJSON *j = cJSON_CreateString(big);
  ingest_error e;
  ingest_jsonschema *s =
      COMPILE("{\"maxLength\":1048576,\"pattern\":\"^[a-z]*$\",\"minLength\":1}");
  CHECK_OK(ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e));
  ingest_jsonschema_free(s);
  s = COMPILE("{\"maxLength\":1048575}");
  CHECK_INT(ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e), ==, INGEST_EVALIDATE);
  CHECK(strstr(e.message, "has 1048576 characters") != NULL);
  CHECK(strlen(e.actual) < sizeof e.actual);
  ingest_jsonschema_free(s);
  s = COMPILE("{\"pattern\":\"z$\",\"format\":\"date-time\"}");
  CHECK_INT(ingest_jsonschema_validate(s, ingest_value_from_cjson(j), NULL), ==, INGEST_EVALIDATE);
  ingest_jsonschema_free(s);
  cJSON_Delete(j);
  /* invalid UTF-8 a megabyte long */
  big[n - 1] = (char)0xff;
  j = cJSON_CreateString(big);
  s = COMPILE("{\"maxLength\":2000000}");
  CHECK_INT(ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e), ==, INGEST_EVALIDATE);
  CHECK_STR(e.expected, "valid UTF-8");
  ingest_jsonschema_free(s);
  cJSON_Delete(j);
  free(big);
}

TEST(hostile_random_bytes) {
  /* random byte strings through the date parser, patterns, lengths: no
   * crash, and the quiet and reporting runs agree */
  uint64_t seed = 1234;
  ingest_jsonschema *s = COMPILE(
      "{\"anyOf\":[{\"format\":\"date-time\"},"
      "{\"maxLength\":5,\"pattern\":\"^[0-9:T.Z+-]+$\"}]}");
  for (int n = 0; n < 5000; n++) {
    char buf[40];
    size_t len = (size_t)(unit_rand(&seed) % sizeof buf);
    const char *alphabet = "0123456789-:TtZz.+ \xff\xc3";
    for (size_t i = 0; i < len; i++) {
      uint64_t r = unit_rand(&seed);
      buf[i] = r % 4 == 0 ? (char)(r >> 8) : alphabet[(r >> 8) % strlen(alphabet)];
    }
    int64_t ms;
    (void)ingest_rfc3339_parse(buf, len, &ms);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_str(&pk, len);
    msgpack_pack_str_body(&pk, buf, len);
    mp_doc d = {.buf = sb};
    mp_unpack(&d);
    ingest_error e;
    ingest_value v = ingest_value_from_msgpack(&d.up.data);
    int a = ingest_jsonschema_validate(s, v, &e);
    int b = ingest_jsonschema_validate(s, v, NULL);
    CHECK_INT(a, ==, b);
    mp_free(&d);
  }
  ingest_jsonschema_free(s);
}

/* A fixed-seed property test: random JSON values against a schema using most
 * keywords; cJSON and msgpack views and quiet/reporting runs must agree. */
static cJSON *random_json(uint64_t *seed, int depth) {
  uint64_t r = unit_rand(seed);
  static const char *const strs[] = {
      "ok", "fail", "2026-01-01T00:00:00Z", "", "abc", "\xc3\xa9t\xc3\xa9", "x1", "ZZZ"};
  static const char *const keys[] = {"t", "h", "id", "tags", "ts", "x", "n"};
  int kind = (int)(r % (depth > 3 ? 5 : 7));
  switch (kind) {
  case 0:
    return cJSON_CreateNull();
  case 1:
    return cJSON_CreateBool(r & 256);
  case 2: {
    double vals[] = {0, 1, -1, 0.5, 1.5, 100, 101, 0.3, -40, 1e10, 25.0, 99.9};
    return cJSON_CreateNumber(vals[(r >> 8) % 12]);
  }
  case 3:
  case 4:
    return cJSON_CreateString(strs[(r >> 8) % 8]);
  case 5: {
    cJSON *a = cJSON_CreateArray();
    int n = (int)((r >> 8) % 4);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, random_json(seed, depth + 1));
    return a;
  }
  default: {
    cJSON *o = cJSON_CreateObject();
    int n = (int)((r >> 8) % 5);
    for (int i = 0; i < n; i++) {
      const char *k = keys[unit_rand(seed) % 7];
      if (!cJSON_GetObjectItemCaseSensitive(o, k))
        cJSON_AddItemToObject(o, k, random_json(seed, depth + 1));
    }
    return o;
  }
  }
}

TEST(property_views_agree) {
  ingest_jsonschema *s = COMPILE(
      "{\"$defs\":{\"pct\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100,\"multipleOf\":0.5}},"
      "\"anyOf\":[{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"number\",\"exclusiveMinimum\":-50},"
      "\"h\":{\"$ref\":\"#/$defs/pct\"},\"id\":{\"type\":\"string\",\"pattern\":\"^[a-z]+[0-9]*$\",\"maxLength\":4},"
      "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"ok\",\"fail\",null]},\"maxItems\":2},"
      "\"ts\":{\"format\":\"date-time\"},\"n\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":50}]},"
      "\"x\":{\"not\":{\"type\":\"array\"}}},\"required\":[\"t\"],\"additionalProperties\":false},"
      "{\"type\":\"array\",\"prefixItems\":[{\"const\":\"ok\"}],\"items\":{\"type\":[\"number\",\"string\"]}},"
      "{\"type\":\"string\",\"minLength\":3}]}");
  uint64_t seed = 2024;
  int valid = 0, invalid = 0;
  for (int n = 0; n < 3000; n++) {
    cJSON *j = random_json(&seed, 0);
    ingest_error e;
    int rc = ingest_jsonschema_validate(s, ingest_value_from_cjson(j), &e);
    if (rc == 0)
      valid++;
    else
      invalid++;
    char *text = cJSON_PrintUnformatted(j);
    check_instance(__FILE__, __LINE__, s, j, text, rc == 0 ? NULL : e.keyword,
                   rc == 0 ? NULL : e.pointer, true);
    free(text);
    cJSON_Delete(j);
  }
  CHECK(valid > 100 && invalid > 100);
  ingest_jsonschema_free(s);
}

TEST(null_arguments) {
  ingest_jsonschema *s = NULL;
  ingest_error e;
  CHECK_INT(ingest_jsonschema_compile(NULL, &s, &e), ==, INGEST_EINVAL);
  s = COMPILE("{}");
  CHECK_INT(ingest_jsonschema_validate(s, ingest_value_from_cjson(NULL), &e), ==, INGEST_EINVAL);
  CHECK_INT(ingest_jsonschema_validate(NULL, ingest_value_from_cjson(NULL), NULL), ==,
            INGEST_EINVAL);
  ingest_jsonschema_free(s);
  ingest_jsonschema_free(NULL);
  /* a compile error without a record */
  cJSON *j = cJSON_Parse("{\"nope\":1}");
  CHECK_INT(ingest_jsonschema_compile(j, &s, NULL), ==, INGEST_EUNSUPPORTED);
  cJSON_Delete(j);
}
