/*
 * The JSON decoder accepts exactly RFC 8259 JSON (issue 12, items 10 and 11):
 * y_ texts must pass and n_ texts must fail, in the spirit of JSONTestSuite
 * (each is also put to jansson, which must agree), the i_ cases we decided
 * (lone surrogates, "\u0000", nesting, huge numbers), the JSON pointers of
 * refusals, the attacks of the issue through every JSON-based format,
 * duplicate member names (JSON and MessagePack, 10 000 members), and a
 * seeded differential run against jansson on generated and mutated texts.
 */
#include <msgpack.h>

#include "json_oracle.h"
#include "test_ingest.h"

typedef struct text {
  const char *name;
  const char *bytes;
  size_t len;
} text;

#define T(name, lit) \
  { name, lit, sizeof(lit) - 1 }

/* Must be accepted, by us and by jansson. */
static const text y_cases[] = {
    T("y_array_empty", "[]"),
    T("y_array_empty_string", "[\"\"]"),
    T("y_array_nested_empty", "[[],[[]],{}]"),
    T("y_array_with_whitespace", " \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n"),
    T("y_object_empty", "{}"),
    T("y_object_empty_key", "{\"\":0}"),
    T("y_object_basic", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
    T("y_object_same_key_other_objects", "[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]"),
    T("y_object_keys_differ_by_escape_only_visually", "{\"a\\/\":1,\"a/b\":2}"),
    T("y_number_0", "0"),
    T("y_number_minus_0", "-0"),
    T("y_number_negative_int", "[-123]"),
    T("y_number_fraction", "[0.5,-0.25,10.000]"),
    T("y_number_exponents", "[1e1,1E1,1e+1,1e-1,1.5E-3,0e0,-0E+00]"),
    T("y_number_long",
      "[0.000000000000000000000000000000000000000000000000000000000000000000000001]"),
    T("y_number_int_beyond_2_63", "[123456789012345678901234567890]"),
    T("y_number_tiny", "[1e-400]"),
    T("y_string_escapes", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]"),
    T("y_string_unicode_escapes", "[\"\\u0041\\u00e9\\u20AC\\uFFFF\\uffFE\"]"),
    T("y_string_surrogate_pair", "[\"\\ud83d\\ude00\\uDBFF\\uDFFF\"]"),
    T("y_string_utf8",
      "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"]"),
    T("y_string_del_is_not_a_control", "[\"\x7f\"]"),
    T("y_string_long_plain",
      "[\"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\"]"),
    T("y_literals", "[true,false,null]"),
    T("y_root_string", "\"x\""),
    T("y_root_number_ws", " 42 "),
    T("y_root_literal", "null"),
    T("y_sensor_message",
      "{\"ts\":\"2026-11-26T09:15:00Z\",\"pm10\":17.2,\"pm25\":9.1,\"humidity\":81.2}"),
};

/* Must be refused as not JSON, by us and by jansson (jansson is not asked
 * about raw NUL bytes: see json_oracle.h). */
static const text n_cases[] = {
    T("n_empty", ""),
    T("n_only_ws", " \n"),
    T("n_number_leading_zero", "[017]"),
    T("n_number_leading_zero_root", "017"),
    T("n_number_minus_leading_zero", "[-01]"),
    T("n_number_leading_zeros_fraction", "[00.5]"),
    T("n_number_dot_end", "[1.]"),
    T("n_number_dot_exponent", "[1.e5]"),
    T("n_number_dot_start", "[.5]"),
    T("n_number_plus", "[+1]"),
    T("n_number_minus_alone", "[-]"),
    T("n_number_minus_space", "[- 1]"),
    T("n_number_double_minus", "[--1]"),
    T("n_number_exponent_empty", "[1e]"),
    T("n_number_exponent_sign_only", "[1e+]"),
    T("n_number_exponent_twice", "[1e5e5]"),
    T("n_number_two_dots", "[1.5.5]"),
    T("n_number_hex", "[0x10]"),
    T("n_number_nan", "[NaN]"),
    T("n_number_infinity", "[Infinity]"),
    T("n_number_minus_infinity", "[-Infinity]"),
    T("n_number_comma_decimal", "[1,5,]"),
    T("n_number_fullwidth_digit", "[\xef\xbc\x91]"),
    T("n_string_control_tab", "[\"a\tb\"]"),
    T("n_string_control_newline", "[\"a\nb\"]"),
    T("n_string_control_1f", "[\"a\x1f\"]"),
    T("n_string_invalid_escape", "[\"\\x41\"]"),
    T("n_string_escape_apostrophe", "[\"\\'\"]"),
    T("n_string_escape_uppercase_u", "[\"\\U0041\"]"),
    T("n_string_unicode_short", "[\"\\u00\"]"),
    T("n_string_unicode_not_hex", "[\"\\uZZZZ\"]"),
    T("n_string_unicode_not_hex_partial", "[\"\\u00g1\"]"),
    T("n_string_lone_high_surrogate", "[\"\\ud800\"]"),
    T("n_string_lone_high_surrogate_then_text", "[\"\\ud800abc\"]"),
    T("n_string_lone_low_surrogate", "[\"\\udc00\"]"),
    T("n_string_high_then_non_surrogate", "[\"\\ud800\\u0041\"]"),
    T("n_string_two_high_surrogates", "[\"\\ud800\\ud800\"]"),
    T("n_string_reversed_pair", "[\"\\ude00\\ud83d\"]"),
    T("n_string_unterminated", "[\"abc"),
    T("n_string_unterminated_escape", "[\"abc\\"),
    T("n_string_single_quotes", "['a']"),
    T("n_utf8_lone_continuation", "[\"\x80\"]"),
    T("n_utf8_invalid_ff", "[\"\xff\"]"),
    T("n_utf8_overlong_slash", "[\"\xc0\xaf\"]"),
    T("n_utf8_overlong_3", "[\"\xe0\x80\xaf\"]"),
    T("n_utf8_overlong_4", "[\"\xf0\x80\x80\xaf\"]"),
    T("n_utf8_surrogate_encoded", "[\"\xed\xa0\x80\"]"),
    T("n_utf8_above_10ffff", "[\"\xf4\x90\x80\x80\"]"),
    T("n_utf8_truncated_sequence", "[\"\xe2\x82\"]"),
    T("n_utf8_f5", "[\"\xf5\x80\x80\x80\"]"),
    T("n_utf8_outside_string", "[1\xc3\xa9]"),
    T("n_bom", "\xef\xbb\xbf[1]"),
    T("n_array_trailing_comma", "[1,]"),
    T("n_array_leading_comma", "[,1]"),
    T("n_array_double_comma", "[1,,2]"),
    T("n_array_missing_comma", "[1 2]"),
    T("n_array_unclosed", "[1"),
    T("n_array_unclosed_comma", "[1,"),
    T("n_array_mismatched", "[1}"),
    T("n_array_colon", "[1:2]"),
    T("n_object_trailing_comma", "{\"a\":1,}"),
    T("n_object_missing_colon", "{\"a\" 1}"),
    T("n_object_missing_value", "{\"a\":}"),
    T("n_object_number_key", "{1:1}"),
    T("n_object_bare_key", "{a:1}"),
    T("n_object_single_quoted_key", "{'a':1}"),
    T("n_object_comma_instead_of_colon", "{\"a\",1}"),
    T("n_object_unclosed", "{\"a\":1"),
    T("n_object_mismatched", "{\"a\":1]"),
    T("n_object_missing_comma", "{\"a\":1 \"b\":2}"),
    T("n_literal_true_capital", "[True]"),
    T("n_literal_truncated", "[tru]"),
    T("n_literal_null_extra", "[nulll]"),
    T("n_literal_undefined", "[undefined]"),
    T("n_ws_form_feed", "[\f1]"),
    T("n_ws_vertical_tab", "[\v1]"),
    T("n_ws_nbsp",
      "[\xc2\xa0"
      "1]"),
    T("n_ws_control_01", "\x01[1]"),
    T("n_trailing_garbage", "[1]x"),
    T("n_trailing_second_value", "[1][2]"),
    T("n_trailing_second_scalar", "1 2"),
    T("n_comment", "[1]//c"),
    T("n_comment_block", "/*c*/[1]"),
    /* Raw NUL bytes: never JSON. */
    T("n_nul_as_ws", "[1,\0 2]"),
    T("n_nul_after_number", "[1\0]"),
    T("n_nul_after_literal", "{\"a\":true\0}"),
    T("n_nul_leading", "\0[1]"),
    T("n_nul_trailing", "[1]\0"),
    T("n_nul_in_string", "[\"a\0b\"]"),
};

static bool has_nul(const text *t) { return memchr(t->bytes, 0, t->len) != NULL; }

static int jansson_accepts(const text *t) {
  json_error_t e;
  json_t *j =
      json_loadb(t->bytes, t->len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &e);
  json_decref(j);
  return j != NULL;
}

TEST(y_texts_are_accepted) {
  for (size_t i = 0; i < sizeof y_cases / sizeof y_cases[0]; i++) {
    const text *t = &y_cases[i];
    ingest_rfc8259_result r;
    ingest_rfc8259_status st = ingest_rfc8259__check(t->bytes, t->len, CJSON_NESTING_LIMIT, &r);
    CHECK_MSG(st == INGEST_RFC8259_OK, "%s refused: %s at %zu", t->name, r.why, r.where);
    CHECK_MSG(jansson_accepts(t), "%s: jansson refuses it", t->name);
    char why[256];
    CHECK_MSG(oracle_judge(t->bytes, t->len, why, sizeof why) != ORACLE_DIFFERS, "%s: %s", t->name,
              why);
  }
}

TEST(n_texts_are_refused) {
  for (size_t i = 0; i < sizeof n_cases / sizeof n_cases[0]; i++) {
    const text *t = &n_cases[i];
    ingest_rfc8259_result r = {0};
    ingest_rfc8259_status st = ingest_rfc8259__check(t->bytes, t->len, CJSON_NESTING_LIMIT, &r);
    CHECK_MSG(st == INGEST_RFC8259_INVALID, "%s: status %d", t->name, (int)st);
    CHECK_MSG(r.why != NULL && r.where <= t->len && r.token <= r.where, "%s: where %zu token %zu",
              t->name, r.where, r.token);
    if (!has_nul(t)) CHECK_MSG(!jansson_accepts(t), "%s: jansson accepts it", t->name);
    char why[256];
    CHECK_MSG(oracle_judge(t->bytes, t->len, why, sizeof why) != ORACLE_DIFFERS, "%s: %s", t->name,
              why);
  }
}

/* The reason names the rule, and where points at the byte at fault. */
TEST(refusals_name_the_rule_and_the_byte) {
  static const struct {
    const char *text;
    size_t where;
    const char *says;
  } cases[] = {
      {"[017]", 2, "no leading zeros"},
      {"{\"v\":1.}", 7, "'.' in a number"},
      {"[1e+]", 4, "exponent"},
      {"[+1]", 1, "'+'"},
      {"[NaN]", 1, "NaN and Infinity"},
      {"[\"a\tb\"]", 3, "control character"},
      {"[\"\\x\"]", 2, "invalid escape"},
      {"[\"ab\\ud800\"]", 4, "lone surrogate"},
      {"[\"\xc0\xaf\"]", 2, "not UTF-8"},
      {"\xef\xbb\xbf{}", 0, "byte order mark"},
      {"[1,]", 3, "trailing commas"},
      {"{\"a\" 1}", 5, "followed by ':'"},
      {"{\"a\":1 \"b\":2}", 7, "separated by ','"},
      {"[1 2]", 3, "separated by ','"},
      {"{a:1}", 1, "member name"},
      {"[1] [2]", 4, "after the JSON value"},
      {"[1,2", 4, "ends before"},
      {"", 0, "empty"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ingest_rfc8259_result r = {0};
    CHECK_MSG(ingest_rfc8259__check(cases[i].text, strlen(cases[i].text), 1000, &r) ==
                  INGEST_RFC8259_INVALID,
              "case %zu (%s) accepted", i, cases[i].text);
    CHECK_MSG(r.where == cases[i].where, "case %zu (%s): where %zu, expected %zu", i, cases[i].text,
              r.where, cases[i].where);
    CHECK_MSG(strstr(r.why, cases[i].says) != NULL, "case %zu: '%s' lacks '%s'", i, r.why,
              cases[i].says);
  }
}

/* i_ cases, decided (see rfc8259.c): "\u0000" is JSON we cannot keep; a
 * lone surrogate is refused; nesting stops where cJSON's does; numbers
 * beyond a double's range are JSON (and become infinities). */
TEST(implementation_defined_cases) {
  ingest_rfc8259_result r;
  const char nul[] = "{\"a\":\"x\\u0000y\",\"b\":1}";
  CHECK_INT(ingest_rfc8259__check(nul, sizeof nul - 1, 1000, &r), ==, INGEST_RFC8259_NUL);
  CHECK_INT(r.where, ==, 7);
  CHECK_INT(r.token, ==, 5);
  CHECK(!r.in_name);
  const char nul_name[] = "{\"a\\u0000\":1}";
  CHECK_INT(ingest_rfc8259__check(nul_name, sizeof nul_name - 1, 1000, &r), ==, INGEST_RFC8259_NUL);
  CHECK(r.in_name);
  /* A syntax error after a \u0000 wins: the text is not JSON at all. */
  const char nul_then_bad[] = "[\"\\u0000\",017]";
  CHECK_INT(ingest_rfc8259__check(nul_then_bad, sizeof nul_then_bad - 1, 1000, &r), ==,
            INGEST_RFC8259_INVALID);
  CHECK(strstr(r.why, "leading zeros") != NULL);
  /* cJSON's limit: 1000 levels parse, 1001 do not; ours is the same. */
  static char deep[2 * 1001 + 1];
  for (int depth = 1000; depth <= 1001; depth++) {
    for (int i = 0; i < depth; i++) {
      deep[i] = '[';
      deep[depth + i] = ']';
    }
    size_t n = 2 * (size_t)depth;
    cJSON *c = cJSON_ParseWithLength(deep, n);
    ingest_rfc8259_status st = ingest_rfc8259__check(deep, n, CJSON_NESTING_LIMIT, &r);
    CHECK_INT(c != NULL, ==, depth == 1000);
    CHECK_INT(st, ==, depth == 1000 ? INGEST_RFC8259_OK : INGEST_RFC8259_DEEP);
    cJSON_Delete(c);
  }
  CHECK_INT(r.where, ==, 1000);
  CHECK_INT(ingest_rfc8259__check("[1e400,-1e400]", 14, 1000, &r), ==, INGEST_RFC8259_OK);
  /* A raw NUL past the bracket that goes too deep is not read: too deep
   * (found by fuzz_json_oracle in CI); one before it is a syntax error. */
  static char deep_nul[1001 + 2];
  memset(deep_nul, '[', 1001);
  deep_nul[1001] = '\0';
  deep_nul[1002] = ']';
  char why[256];
  CHECK_INT(ingest_rfc8259__check(deep_nul, sizeof deep_nul, CJSON_NESTING_LIMIT, &r), ==,
            INGEST_RFC8259_DEEP);
  CHECK_MSG(oracle_judge(deep_nul, sizeof deep_nul, why, sizeof why) != ORACLE_DIFFERS, "%s", why);
  deep_nul[3] = '\0';
  CHECK_INT(ingest_rfc8259__check(deep_nul, sizeof deep_nul, CJSON_NESTING_LIMIT, &r), ==,
            INGEST_RFC8259_INVALID);
  CHECK_MSG(oracle_judge(deep_nul, sizeof deep_nul, why, sizeof why) != ORACLE_DIFFERS, "%s", why);
}

/* Names compared while the text goes by (rfc8259.c), against the tree
 * walk (members.c) they otherwise leave to. */
TEST(duplicate_names_found_by_the_check) {
  static const struct {
    const char *text;
    ingest_rfc8259_status st;
    bool unchecked;
  } cases[] = {
      {"{\"a\":1,\"a\":2}", INGEST_RFC8259_DUPLICATE, false},
      {"{\"m0\":0,\"m1\":1,\"m0\":2}", INGEST_RFC8259_DUPLICATE, false}, /* the last near the end */
      {"{\"\":1,\"\":2}", INGEST_RFC8259_DUPLICATE, false},
      {"{\"12345678\":1,\"12345678\":2}", INGEST_RFC8259_DUPLICATE, false},
      {"{\"aaaaaaaa_X_bbbbbbbb\":1,\"aaaaaaaa_Y_bbbbbbbb\":2}", INGEST_RFC8259_OK, false},
      {"{\"aaaaaaaa_X_bbbbbbbb\":1,\"aaaaaaaa_X_bbbbbbbb\":2}", INGEST_RFC8259_DUPLICATE, false},
      {"{\"temperature\":1,\"temperaturE\":2,\"temperatur\":3}", INGEST_RFC8259_OK, false},
      {"{\"a\":{\"a\":1},\"b\":{\"a\":2,\"b\":3}}", INGEST_RFC8259_OK, false},
      {"{\"a\":{\"b\":1},\"b\":2}", INGEST_RFC8259_OK, false},
      {"{\"a\":{\"b\":1},\"a\":2}", INGEST_RFC8259_DUPLICATE, false},
      {"[{\"a\":1},{\"a\":2}]", INGEST_RFC8259_OK, false},
      {"{\"a\":[{\"x\":1,\"x\":2}]}", INGEST_RFC8259_DUPLICATE, false},
      /* Escaped names are left to the tree walk. */
      {"{\"a\":1,\"\\u0061\":2}", INGEST_RFC8259_OK, true},
      {"{\"\\u0061\":1,\"b\":2}", INGEST_RFC8259_OK, true},
      /* The first of \u0000 and a duplicate wins. */
      {"{\"a\":\"\\u0000\",\"a\":2}", INGEST_RFC8259_NUL, false},
      {"{\"a\":1,\"a\":\"\\u0000\"}", INGEST_RFC8259_DUPLICATE, false},
      /* A syntax error wins over both. */
      {"{\"a\":1,\"a\":2,}", INGEST_RFC8259_INVALID, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ingest_rfc8259_result r;
    ingest_rfc8259_status st =
        ingest_rfc8259__check(cases[i].text, strlen(cases[i].text), 1000, &r);
    CHECK_MSG(st == cases[i].st, "case %zu (%s): status %d", i, cases[i].text, (int)st);
    CHECK_MSG(r.names_unchecked == cases[i].unchecked, "case %zu (%s): unchecked %d", i,
              cases[i].text, r.names_unchecked);
    char why[256];
    CHECK_MSG(oracle_judge(cases[i].text, strlen(cases[i].text), why, sizeof why) != ORACLE_DIFFERS,
              "case %zu: %s", i, why);
  }
}

TEST(pointers_of_offsets) {
  static const struct {
    const char *text;
    size_t at;
    const char *pointer;
  } cases[] = {
      {"{\"a\":017}", 5, "/a"},
      {"{\"a\":1,\"b\":[1,2,\"x\"]}", 17, "/b/2"},
      {"{\"a\":1,\"b\":[1,2,\"x\"]}", 12, "/b/0"},
      {"{\"a\":1,\"b\":[1,2,\"x\"]}", 18, "/b/2"},
      {"{\"a\":1,\"b\":[1,2,\"x\"]}", 13, "/b"}, /* at a ',' of /b */
      {"{\"a\":1,\"b\":[1,2,\"x\"]}", 7, ""},    /* in a member name */
      {"{\"a\":1 \"b\":2}", 7, ""},              /* where ',' belongs */
      {"[[],{},[[{\"k\":[0]}]]]", 15, "/2/0/0/k/0"},
      {"[[],{},[[{\"k\":[0]}]]]", 9, "/2/0/0"},
      {"{\"a/b~c\":{\"\\u00e9\\n\":1}}", 21, "/a~1b~0c/\xc3\xa9\n"},
      {"{\"a/b~c\":{\"\\u00e9\\n\":1}}", 22, "/a~1b~0c"},
      {"{\"\\ud83d\\ude00\":[true]}", 17, "/\xf0\x9f\x98\x80/0"},
      {"{\"a\\u0000b\":[1,017]}", 16,
       "/a\xef\xbf\xbd"
       "b/1"},
      {"\"x\"", 0, ""},
      {"[1] x", 4, ""},
      {"{\"a\":{\"b\":{}},\"c\":[]}", 18, "/c"},
      {"{\"a\":{\"b\":{}},\"c\":[]}", 19, "/c"}, /* in an empty array */
      {"{\"a\":{\"b\":{}},\"c\":[]}", 11, "/a/b"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[192];
    ingest_rfc8259__pointer(cases[i].text, strlen(cases[i].text), cases[i].at, buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, cases[i].pointer), "case %zu (%s at %zu): '%s', expected '%s'", i,
              cases[i].text, cases[i].at, buf, cases[i].pointer);
  }
  /* Longer than the field: cut on a character, ended in "...". */
  static char deep[8192];
  size_t n = 0;
  for (int i = 0; i < 300; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"\xc3\xa9k\":");
  n += (size_t)snprintf(deep + n, sizeof deep - n, "017");
  char buf[64];
  ingest_rfc8259__pointer(deep, n, n - 3, buf, sizeof buf);
  CHECK_INT(strlen(buf), <=, 63);
  CHECK(strncmp(buf, "/\xc3\xa9k/\xc3\xa9k/", 9) == 0);
  CHECK(strcmp(buf + strlen(buf) - 3, "...") == 0);
}

/* ---- through the decoders ------------------------------------------- */

static const char *const formats[] = {
    /* json: ts as an RFC 3339 date-time, checked by the schema too */
    "{\"type\":\"object\",\"properties\":{\"ts\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"v\":{\"type\":\"number\"}},\"x-tsdb\":{\"id\":\"j\",\"version\":1,\"topic\":\"j/{a}\","
    "\"timestamp\":{\"pointer\":\"/ts\",\"format\":\"rfc3339\"},"
    "\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
    "{\"x-tsdb\":{\"id\":\"s\",\"version\":1,\"topic\":\"s/{a}\",\"format\":\"senml\"}}",
    "{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"v3/{app}@{tenant}/devices/{device}/up\","
    "\"format\":\"ttn-v3\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
    "{\"x-tsdb\":{\"id\":\"c\",\"version\":1,\"topic\":\"sc/{chip}-{sensor}\","
    "\"format\":\"sensor.community\"}}",
};
static const char *const topics[] = {"j/1", "s/1", "v3/a@t/devices/d/up", "sc/esp-1"};

static t_out out;

/* A refusal with reason decode, keyword "format", the pointer and a
 * message that says `says`, and an error record that is strict JSON. */
static void refused(size_t f, const char *payload, size_t len, const char *pointer,
                    const char *says) {
  ingest_schema *s = t_schema(formats[f]);
  int rc = t_process(s, topics[f], payload, len, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", pointer);
  CHECK_MSG(strstr(out.err.message, says) != NULL, "'%s' lacks '%s'", out.err.message, says);
  static char rec[INGEST_ERROR_RECORD_MAX];
  ingest_error_context ctx = {
      ingest_schema_id(s), 1, topics[f], strlen(topics[f]), "c", NULL, T_ARRIVAL};
  int n = ingest_error_record_json(&out.err, &ctx, rec, sizeof rec);
  CHECK(n > 0);
  ingest_rfc8259_result r;
  CHECK_MSG(ingest_rfc8259__check(rec, (size_t)n, 1000, &r) == INGEST_RFC8259_OK,
            "record is not strict JSON (%s at %zu): %s", r.why, r.where, rec);
  ingest_schema_free(s);
}

#define REFUSED(f, lit, pointer, says) refused(f, lit, sizeof(lit) - 1, pointer, says)

TEST(issue_attacks_through_every_json_format) {
  /* The date-time cut at the NUL used to pass; now the string is refused. */
  REFUSED(0, "{\"ts\":\"2026-11-26T09:15:00Z\\u0000junk\",\"v\":1}", "/ts", "\\u0000");
  CHECK(strstr(out.err.message, "refused rather than truncated") != NULL);
  CHECK_STR(out.err.expected, "strings without U+0000");
  /* The SenML name t\u0000x used to be stored as "t". */
  REFUSED(1, "[{\"n\":\"t\\u0000x\",\"v\":1}]", "/0/n", "\\u0000");
  REFUSED(1, "[{\"n\":\"t\",\"v\":1,\"x\\u0000\":1}]", "/0", "member name holds");
  REFUSED(2,
          "{\"received_at\":\"2026-11-26T09:15:00Z\",\"uplink_message\":{\"decoded_payload\":"
          "{\"v\":1,\"note\":\"a\\u0000\"}}}",
          "/uplink_message/decoded_payload/note", "\\u0000");
  REFUSED(3, "{\"sensordatavalues\":[{\"value_type\":\"P1\\u0000x\",\"value\":\"1\"}]}",
          "/sensordatavalues/0/value_type", "\\u0000");
  /* Leading zeros, raw NULs, raw control characters, "1.", invalid UTF-8. */
  for (size_t f = 0; f < 4; f++) {
    if (f == 1) {
      REFUSED(f, "[{\"n\":\"a\",\"v\":017}]", "/0/v", "no leading zeros");
      REFUSED(f, "[{\"n\":\"a\",\"v\":1.}]", "/0/v", "'.' in a number");
    } else {
      REFUSED(f, "{\"v\":017}", "/v", "no leading zeros");
      REFUSED(f, "{\"v\":1.}", "/v", "'.' in a number");
    }
    REFUSED(f, "{\"v\":1,\0\"w\":2}", "", "member name");
    REFUSED(f, "{\"v\":\"a\x01\"}", "/v", "control character");
    REFUSED(f, "{\"v\":\"\xc3\x28\"}", "/v", "not UTF-8");
    REFUSED(f, "{\"v\":1} \0", "", "after the JSON value");
    REFUSED(f, "{\"v\":\"\\ud800\"}", "/v", "lone surrogate");
    REFUSED(f, "{\"v\":1", "", "ends before");
  }
  /* What "actual" shows: the bytes at fault, control bytes escaped. */
  REFUSED(0, "{\"v\":\"a\x01\"}", "/v", "control character");
  CHECK_STR(out.err.actual, "\"a\\u0001\"}");
  CHECK_STR(out.err.expected, "JSON (RFC 8259)");
}

TEST(duplicate_members_are_refused) {
  /* The timestamp check used the first ts while both were validated. */
  REFUSED(0, "{\"ts\":\"2026-11-26T09:15:00Z\",\"v\":1,\"ts\":\"9999-12-31T23:59:59Z\"}", "",
          "member \"ts\" appears twice");
  CHECK_STR(out.err.actual, "\"ts\" twice");
  CHECK_STR(out.err.expected, "unique member names");
  REFUSED(1, "[{\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"v\":1,\"v\":2}]", "/1", "\"v\" appears twice");
  REFUSED(2,
          "{\"received_at\":\"2026-11-26T09:15:00Z\",\"uplink_message\":{\"decoded_payload\":"
          "{\"v\":1,\"v\":1e9}}}",
          "/uplink_message/decoded_payload", "\"v\" appears twice");
  REFUSED(3, "{\"sensordatavalues\":[{\"value_type\":\"P1\",\"value\":\"1\",\"value\":\"2\"}]}",
          "/sensordatavalues/0", "\"value\" appears twice");
  /* Equal after unescaping: the same name. */
  REFUSED(0, "{\"v\":1,\"\\u0076\":2}", "", "\"v\" appears twice");
  /* Names that only look alike are different names. */
  ingest_schema *s = t_schema(formats[0]);
  CHECK_OK(t_process(s, "j/1",
                     "{\"ts\":\"2026-11-26T09:15:00Z\",\"v\":1,\"V\":2,\"v \":3,\"x\":{\"v\":4},"
                     "\"y\":[{\"v\":5}]}",
                     SIZE_MAX, T_ARRIVAL, &out));
  /* Pointer escaping of the object's path (RFC 6901). */
  int rc =
      t_process(s, "j/1", "{\"a/b\":[0,{\"c~\":{\"k\":1,\"k\":2}}]}", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "/a~1b/1/c~0");
  ingest_schema_free(s);
}

/* One object of n members named m0..m<n-1>, plus "m<dup>" again at the end
 * when dup >= 0. */
static size_t wide_object(char *buf, size_t cap, size_t n, long dup) {
  size_t len = (size_t)snprintf(buf, cap, "{");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s\"m%zu\":%zu", i ? "," : "", i, i);
  if (dup >= 0) len += (size_t)snprintf(buf + len, cap - len, ",\"m%ld\":0", dup);
  len += (size_t)snprintf(buf + len, cap - len, "}");
  return len;
}

TEST(wide_objects_stay_cheap) {
  /* Sorting, not comparing every pair: 200 000 members would be 2e10 pairs,
   * far past this test's timeout. */
  static char buf[4 << 20];
  ingest_schema *s = t_schema(
      "{\"x-tsdb\":{\"id\":\"w\",\"version\":1,\"topic\":\"w/{a}\","
      "\"measurements\":{\"v\":{\"pointer\":\"/m7\"}}}}");
  size_t sizes[] = {17, 10000, 200000};
  for (size_t k = 0; k < 3; k++) {
    size_t len = wide_object(buf, sizeof buf, sizes[k], -1);
    CHECK_OK(t_process(s, "w/1", buf, len, T_ARRIVAL, &out));
    CHECK_POINT(s, &out, "v", T_ARRIVAL, 7);
    len = wide_object(buf, sizeof buf, sizes[k], (long)sizes[k] / 2);
    int rc = t_process(s, "w/1", buf, len, T_ARRIVAL, &out);
    CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "");
    char says[64];
    snprintf(says, sizeof says, "member \"m%zu\" appears twice", sizes[k] / 2);
    CHECK_MSG(strstr(out.err.message, says) != NULL, "%s", out.err.message);
  }
  /* Both boundaries: members.c compares 16 names pairwise and sorts 17;
   * rfc8259.c keeps 64 names and leaves a 65th to members.c. */
  static const size_t edges[] = {2, 3, 15, 16, 17, 18, 63, 64, 65, 66, 200};
  for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
    size_t n = edges[e];
    size_t len = wide_object(buf, sizeof buf, n, 0);
    CHECK_INT(t_process(s, "w/1", buf, len, T_ARRIVAL, &out), ==, INGEST_EDECODE);
    len = wide_object(buf, sizeof buf, n, (long)n - 1);
    CHECK_INT(t_process(s, "w/1", buf, len, T_ARRIVAL, &out), ==, INGEST_EDECODE);
  }
  ingest_schema_free(s);
}

TEST(duplicate_keys_in_messagepack_maps) {
  ingest_schema *s = t_schema(
      "{\"x-tsdb\":{\"id\":\"m\",\"version\":1,\"topic\":\"m/{a}\","
      "\"format\":\"msgpack\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  /* {"v":1, "w":{"a\0b":1, 7:2, 7:3, "a\0b":4}}: integer keys match no
   * property and are not compared; the string key is a duplicate. */
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "w", 1);
  msgpack_pack_map(&pk, 4);
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "a\0b", 3);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, 7);
  msgpack_pack_int(&pk, 2);
  msgpack_pack_int(&pk, 7);
  msgpack_pack_int(&pk, 3);
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "a\0b", 3);
  msgpack_pack_int(&pk, 4);
  int rc = t_process(s, "m/1", sb.data, sb.size, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "/w");
  CHECK(strstr(out.err.message, "appears twice") != NULL);
  /* Without the second string key it is accepted. */
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, 7);
  msgpack_pack_int(&pk, 2);
  CHECK_OK(t_process(s, "m/1", sb.data, sb.size, T_ARRIVAL, &out));
  msgpack_sbuffer_destroy(&sb);
  ingest_schema_free(s);
}

/* ---- differential run against jansson ------------------------------- */

static uint64_t seed = 0x8259c0ffeeULL;

static size_t pick(size_t n) { return (size_t)(unit_rand(&seed) % n); }

typedef struct gen {
  char *p;
  size_t len, cap;
} gen;

static void put(gen *g, const char *s, size_t n) {
  if (g->len + n > g->cap) n = g->cap - g->len;
  memcpy(g->p + g->len, s, n);
  g->len += n;
}

static void puts_(gen *g, const char *s) { put(g, s, strlen(s)); }

static void ws(gen *g) {
  static const char *const w[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
  puts_(g, w[pick(7)]);
}

static void gen_string(gen *g) {
  static const char *const pieces[] = {"a",
                                       "key",
                                       "pm10",
                                       "ts",
                                       "v",
                                       "\\\"",
                                       "\\\\",
                                       "\\/",
                                       "\\n",
                                       "\\t",
                                       "\\u0041",
                                       "\\u00e9",
                                       "\\u20ac",
                                       "\\ud83d\\ude00",
                                       "\\u0000",
                                       "\\ud800",
                                       "\\udc00",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xff",
                                       "\xc0\xaf",
                                       "\xed\xa0\x80",
                                       "\x01",
                                       "\x7f",
                                       " ",
                                       "\\x",
                                       "'"};
  put(g, "\"", 1);
  size_t n = pick(4);
  for (size_t i = 0; i < n; i++) {
    /* mostly valid pieces */
    size_t k = pick(10) < 8 ? pick(14) : pick(sizeof pieces / sizeof pieces[0]);
    puts_(g, pieces[k]);
  }
  put(g, "\"", 1);
}

static void gen_number(gen *g) {
  static const char *const ints[] = {"0", "1", "-1", "17", "-0", "123456789", "01", "-", "+1"};
  static const char *const fracs[] = {"", "", "", ".5", ".25", ".000001", ".", ".e1"};
  static const char *const exps[] = {"", "", "", "e5", "E-3", "e+10", "e", "e+", "e308", "e-400"};
  puts_(g, ints[pick(10) < 8 ? pick(6) : pick(9)]);
  puts_(g, fracs[pick(8)]);
  puts_(g, exps[pick(10)]);
}

static void gen_value(gen *g, int depth) {
  size_t k = depth > 6 ? 3 + pick(4) : pick(8);
  switch (k) {
  case 0:
  case 1: {
    put(g, "{", 1);
    size_t n = pick(5);
    /* Duplicates happen. Names that share their first and last 8 bytes,
     * or differ only in case or length, test rfc8259.c's fingerprints;
     * an escaped name (rarely: it hands the whole text to members.c)
     * tests that path. */
    static const char *const names[] = {"\"a\"",
                                        "\"b\"",
                                        "\"ts\"",
                                        "\"m0\"",
                                        "\"m1\"",
                                        "\"temperature\"",
                                        "\"temperaturE\"",
                                        "\"temperatur\"",
                                        "\"aaaaaaaa_X_bbbbbbbb\"",
                                        "\"aaaaaaaa_Y_bbbbbbbb\"",
                                        "\"12345678\"",
                                        "\"1234567\"",
                                        "\"\\u0061\""};
    size_t nnames = sizeof names / sizeof names[0];
    for (size_t i = 0; i < n; i++) {
      if (i) put(g, ",", 1);
      ws(g);
      size_t which = pick(40);
      if (which == 0)
        gen_string(g);
      else
        puts_(g, names[which == 1 ? nnames - 1 : pick(nnames - 1)]);
      ws(g);
      put(g, ":", 1);
      ws(g);
      gen_value(g, depth + 1);
      ws(g);
    }
    put(g, "}", 1);
    break;
  }
  case 2: {
    put(g, "[", 1);
    size_t n = pick(5);
    for (size_t i = 0; i < n; i++) {
      if (i) put(g, ",", 1);
      ws(g);
      gen_value(g, depth + 1);
      ws(g);
    }
    put(g, "]", 1);
    break;
  }
  case 3:
  case 4:
    gen_string(g);
    break;
  case 5:
    gen_number(g);
    break;
  default: {
    static const char *const lits[] = {"true", "false", "null", "tru", "nul", "True"};
    puts_(g, lits[pick(10) < 9 ? pick(3) : pick(6)]);
    break;
  }
  }
}

/* 0-3 random edits with bytes that matter to the grammar. */
static void mutate(gen *g) {
  static const char alphabet[] = "{}[],:\"\\ 0123456789-+.eEtfnu\x00\x01\x7f\x80\xc3\xff\t\n\f";
  size_t edits = pick(4);
  for (size_t e = 0; e < edits && g->len > 0; e++) {
    size_t at = pick(g->len);
    char c = alphabet[pick(sizeof alphabet - 1)];
    switch (pick(3)) {
    case 0:
      g->p[at] = c;
      break;
    case 1:
      memmove(g->p + at, g->p + at + 1, g->len - at - 1);
      g->len--;
      break;
    default:
      if (g->len < g->cap) {
        memmove(g->p + at + 1, g->p + at, g->len - at);
        g->p[at] = c;
        g->len++;
      }
      break;
    }
  }
}

TEST(differential_against_jansson) {
  static char buf[1 << 16];
  size_t judged = 0, skipped = 0, accepted = 0;
  for (int i = 0; i < 60000; i++) {
    gen g = {buf, 0, sizeof buf};
    ws(&g);
    gen_value(&g, 0);
    ws(&g);
    if (i % 3) mutate(&g);
    char why[256];
    oracle_result res = oracle_judge(buf, g.len, why, sizeof why);
    if (res == ORACLE_DIFFERS) {
      char shown[256];
      ingest_jsonschema__render_text(buf, g.len, true, shown, sizeof shown);
      CHECK_MSG(false, "iteration %d: %s: \"%s\"", i, why, shown);
    }
    if (res == ORACLE_SKIPPED) skipped++;
    judged++;
    ingest_rfc8259_result r;
    accepted += ingest_rfc8259__check(buf, g.len, 1000, &r) == INGEST_RFC8259_OK;
  }
  /* The generator must reach both verdicts often. */
  CHECK_INT(accepted, >, judged / 5);
  CHECK_INT(accepted, <, judged * 4 / 5);
  CHECK_INT(skipped, <, judged / 20);
}
