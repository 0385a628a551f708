/*
 * The error record a refused publisher receives: every member, JSON escaping,
 * valid UTF-8 whatever the payload held, bounded size, time formatting.
 */
#include "test_ingest.h"

static char rec[INGEST_ERROR_RECORD_MAX];

static const char *member(const cJSON *j, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
  CHECK_MSG(cJSON_IsString(v), "no string member %s", name);
  return v->valuestring;
}

/* Valid UTF-8 (RFC 3629), so that any JSON parser takes it. */
static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    int n = (*p >= 0xC2 && *p <= 0xDF)   ? 1
            : (*p >= 0xE0 && *p <= 0xEF) ? 2
            : (*p >= 0xF0 && *p <= 0xF4) ? 3
                                         : -1;
    if (n < 0) return false;
    for (int i = 1; i <= n; i++)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

TEST(record_of_a_validation_failure) {
  ingest_schema *s = t_schema(
      "{\"properties\":{\"pm10\":{\"type\":\"number\",\"minimum\":0}},"
      "\"x-tsdb\":{\"id\":\"air\",\"version\":3,\"topic\":\"city/{d}/{s}/air\","
      "\"measurements\":{\"pm10\":{\"pointer\":\"/pm10\"}}}}");
  static t_out out;
  CHECK_INT(t_process(s, "city/mitte/s17/air", "{\"pm10\":-3}", SIZE_MAX, T_ARRIVAL, &out), ==,
            INGEST_EVALIDATE);
  ingest_error_context ctx = {
      ingest_schema_id(s), ingest_schema_version(s), "city/mitte/s17/air", 18, "s17", NULL,
      1795684500123};
  int n = ingest_error_record_json(&out.err, &ctx, rec, sizeof rec);
  CHECK_INT(n, ==, (long long)strlen(rec));
  /* Members in the documented order. */
  CHECK_STR(rec,
            "{\"schema\":\"air\",\"version\":3,\"topic\":\"city/mitte/s17/air\",\"client\":\"s17\","
            "\"reason\":\"validate\",\"keyword\":\"minimum\",\"pointer\":\"/pm10\","
            "\"schema_path\":\"/properties/pm10/minimum\",\"expected\":\">= 0\",\"actual\":\"-3\","
            "\"message\":\"/pm10: -3 is less than the minimum 0\","
            "\"time\":\"2026-11-26T09:15:00.123Z\",\"time_ms\":1795684500123}");
  ingest_schema_free(s);
}

TEST(no_schema_and_own_reasons) {
  ingest_error_context ctx = {NULL, 0, "$tsdb/agg/1m/x", 14, NULL, "reserved_topic", 0};
  CHECK(ingest_error_record_json(NULL, &ctx, rec, sizeof rec) > 0);
  cJSON *j = cJSON_Parse(rec);
  CHECK(cJSON_IsObject(j));
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "schema")));
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "version")));
  CHECK(cJSON_GetObjectItemCaseSensitive(j, "client") == NULL);
  CHECK_STR(member(j, "reason"), "reserved_topic");
  CHECK_STR(member(j, "pointer"), "");
  CHECK_STR(member(j, "time"), "1970-01-01T00:00:00.000Z");
  cJSON_Delete(j);
  ingest_error err;
  ingest_error_clear(&err);
  err.code = INGEST_ETOOBIG;
  ctx.reason = NULL;
  ctx.time_ms = INT64_C(951782400000) + 86400000 - 1; /* 2000-02-29T23:59:59.999Z */
  CHECK(ingest_error_record_json(&err, &ctx, rec, sizeof rec) > 0);
  j = cJSON_Parse(rec);
  CHECK_STR(member(j, "reason"), "toobig");
  CHECK_STR(member(j, "time"), "2000-02-29T23:59:59.999Z");
  cJSON_Delete(j);
}

TEST(hostile_bytes_stay_valid_json_and_utf8) {
  ingest_error err;
  ingest_error_clear(&err);
  err.code = INGEST_EVALIDATE;
  /* Quotes, backslashes, control characters, invalid and truncated UTF-8. */
  snprintf(err.actual, sizeof err.actual, "\"a\\b\"\n\t\x01\xff\xc3");
  snprintf(err.message, sizeof err.message, "caf\xc3\xa9 \xe2\x82 \xf0\x9f\x98\x80 \x7f");
  snprintf(err.pointer, sizeof err.pointer, "/a~1b/\x02");
  char topic[] = "city/\"x\"/\xfe/air";
  ingest_error_context ctx = {"s", 1, topic, strlen(topic), "c\"l\\i", NULL, 1795684500000};
  CHECK(ingest_error_record_json(&err, &ctx, rec, sizeof rec) > 0);
  CHECK_MSG(utf8_valid(rec), "not UTF-8: %s", rec);
  cJSON *j = cJSON_Parse(rec);
  CHECK_MSG(cJSON_IsObject(j), "not JSON: %s", rec);
  CHECK_STR(member(j, "actual"), "\"a\\b\"\n\t\x01\xef\xbf\xbd\xef\xbf\xbd");
  CHECK_STR(member(j, "message"), "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80 \x7f");
  CHECK_STR(member(j, "topic"), "city/\"x\"/\xef\xbf\xbd/air");
  CHECK_STR(member(j, "client"), "c\"l\\i");
  CHECK_STR(member(j, "pointer"), "/a~1b/\x02");
  cJSON_Delete(j);
}

TEST(long_values_are_cut_and_the_record_bounded) {
  ingest_error err;
  ingest_error_clear(&err);
  err.code = INGEST_EDECODE;
  /* Every field full of characters that escape to six bytes. */
  memset(err.keyword, 1, sizeof err.keyword - 1);
  memset(err.pointer, 1, sizeof err.pointer - 1);
  memset(err.schema_path, 1, sizeof err.schema_path - 1);
  memset(err.expected, 1, sizeof err.expected - 1);
  memset(err.actual, 1, sizeof err.actual - 1);
  memset(err.message, 1, sizeof err.message - 1);
  static char topic[65535];
  memset(topic, 'x', sizeof topic);
  char id[65];
  memset(id, 'i', 64);
  id[64] = '\0';
  static char client[65535];
  memset(client, '"', sizeof client - 1);
  ingest_error_context ctx = {
      id, UINT32_MAX, topic, sizeof topic, client, NULL, INT64_C(253402300799999)};
  int n = ingest_error_record_json(&err, &ctx, rec, sizeof rec);
  CHECK_MSG(n > 0 && n < INGEST_ERROR_RECORD_MAX, "length %d", n);
  cJSON *j = cJSON_Parse(rec);
  CHECK_MSG(cJSON_IsObject(j), "not JSON: %s", rec);
  const char *t = member(j, "topic");
  CHECK_INT(strlen(t), ==, 1024);
  CHECK(!strcmp(t + 1021, "..."));
  CHECK_STR(member(j, "time"), "9999-12-31T23:59:59.999Z");
  CHECK_INT(cJSON_GetObjectItemCaseSensitive(j, "version")->valuedouble, ==, UINT32_MAX);
  cJSON_Delete(j);
  /* A short topic is never cut. */
  ctx.topic_len = 1021;
  CHECK(ingest_error_record_json(&err, &ctx, rec, sizeof rec) > 0);
  j = cJSON_Parse(rec);
  CHECK_INT(strlen(member(j, "topic")), ==, 1021);
  cJSON_Delete(j);
  /* A buffer that is too small: nothing, and a code. */
  char small[64];
  CHECK_INT(ingest_error_record_json(&err, &ctx, small, sizeof small), ==, INGEST_ETOOBIG);
  CHECK_STR(small, "");
  CHECK_INT(ingest_error_record_json(&err, &ctx, small, 0), ==, INGEST_ETOOBIG);
}

/* The refusals of issue 12 through the real decoders: each record is JSON,
 * UTF-8, and names reason, keyword and pointer, whatever bytes the payload
 * held where the record quotes it. */
TEST(records_of_strict_json_refusals) {
  ingest_schema *json = t_schema(
      "{\"x-tsdb\":{\"id\":\"j\",\"version\":1,\"topic\":\"j/{a}\","
      "\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  ingest_schema *senml = t_schema(
      "{\"x-tsdb\":{\"id\":\"s\",\"version\":1,\"topic\":\"s/{a}\","
      "\"format\":\"senml\"}}");
  static const struct {
    bool senml;
    const char *payload;
    size_t len;
    const char *keyword, *pointer;
  } cases[] = {
#define C(senml, lit, kw, ptr) {senml, lit, sizeof(lit) - 1, kw, ptr}
      C(false, "{\"v\":\"\x01\xff\xc3\"}", "format", "/v"), /* control byte, bad UTF-8 */
      C(false, "{\"v\":1,\0\"\\\"\":2}", "format", ""),     /* a raw NUL */
      C(false, "{\"v\":017}", "format", "/v"),
      C(false, "{\"v\":\"a\\u0000\\\"\\\\\"}", "format", "/v"),    /* \u0000 then escapes */
      C(false, "{\"\\\"q\\\\\":1,\"\\\"q\\\\\":2}", "format", ""), /* a name twice, escaped */
      C(false, "{\"a/~\":{\"\xc3\xa9\":1,\"\xc3\xa9\":2}}", "format", "/a~1~0"),
      C(false, "\xef\xbb\xbf{\"v\":1}", "format", ""),
      C(true, "[{}]", "senml", "/0"),
      C(true, "[{\"bn\":\"a:\",\"bt\":1}]", "senml", ""),
      C(true, "[{\"n\":\"a\",\"v\":1},{\"bu\":\"Cel\"}]", "senml", "/1"),
#undef C
  };
  static t_out out;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const ingest_schema *s = cases[i].senml ? senml : json;
    const char *topic = cases[i].senml ? "s/1" : "j/1";
    int rc = t_process(s, topic, cases[i].payload, cases[i].len, T_ARRIVAL, &out);
    CHECK_MSG(rc == INGEST_EDECODE, "case %zu: rc %d: %s", i, rc, out.err.message);
    ingest_error_context ctx = {ingest_schema_id(s), 1, topic, 3, "dev-7", NULL, T_ARRIVAL};
    CHECK(ingest_error_record_json(&out.err, &ctx, rec, sizeof rec) > 0);
    CHECK_MSG(utf8_valid(rec), "case %zu: not UTF-8: %s", i, rec);
    cJSON *j = cJSON_Parse(rec);
    CHECK_MSG(cJSON_IsObject(j), "case %zu: not JSON: %s", i, rec);
    CHECK_STR(member(j, "reason"), "decode");
    CHECK_STR(member(j, "keyword"), cases[i].keyword);
    CHECK_MSG(!strcmp(member(j, "pointer"), cases[i].pointer), "case %zu: pointer %s", i,
              member(j, "pointer"));
    CHECK(member(j, "message")[0] != '\0');
    cJSON_Delete(j);
  }
  ingest_schema_free(json);
  ingest_schema_free(senml);
}
