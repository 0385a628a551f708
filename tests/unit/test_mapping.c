/*
 * x-tsdb: formats, timestamps, measurements and names, retention, duplicate
 * policy, precision and scale. Every mistake names its member.
 */
#include "test_ingest.h"

#define BASE "\"id\":\"m\",\"version\":2,\"topic\":\"m/{a}\""
#define MEAS "\"measurements\":{\"v\":{\"pointer\":\"/v\"}}"

static void fails_at(const char *x_tsdb, const char *where, const char *says) {
  char text[2048];
  snprintf(text, sizeof text, "{\"x-tsdb\":{%s}}", x_tsdb);
  ingest_error err;
  CHECK_INT(t_schema_fails(text, &err), ==, INGEST_ESCHEMA);
  CHECK_MSG(!strcmp(err.schema_path, where), "%s: at '%s', expected '%s' (%s)", x_tsdb,
            err.schema_path, where, err.message);
  CHECK_MSG(strstr(err.message, says) != NULL, "%s: message '%s' lacks '%s'", x_tsdb, err.message,
            says);
}

TEST(formats_and_their_members) {
  fails_at(BASE ",\"format\":\"cbor\"," MEAS, "/x-tsdb/format", "\"senml\"");
  fails_at(BASE ",\"format\":\"senml\"," MEAS, "/x-tsdb/measurements", "use \"names\"");
  fails_at(BASE ",\"format\":\"json\",\"names\":{}", "/x-tsdb/names", "only for formats");
  fails_at(BASE ",\"format\":\"sensor.community\",\"timestamp\":{\"format\":\"rfc3339\"}",
           "/x-tsdb/timestamp/format", "only meaningful with a \"pointer\"");
  fails_at(BASE ",\"format\":\"senml\",\"timestamp\":{\"pointer\":\"/0/t\",\"format\":\"epoch_s\"}",
           "/x-tsdb/timestamp/pointer", "from the message itself");
  fails_at(BASE ",\"format\":\"json\",\"json\":{}," MEAS, "/x-tsdb/json", "has no options");
  fails_at(BASE ",\"format\":\"json\",\"senml\":{}," MEAS, "/x-tsdb", "unknown member 'senml'");
  fails_at(BASE ",\"format\":\"senml\",\"senml\":[]", "/x-tsdb/senml", "object of options");
  fails_at(BASE ",\"format\":\"senml\",\"senml\":{\"series\":\"unit\"}", "/x-tsdb/senml/series",
           "\"name+unit\"");
  fails_at(BASE ",\"id\":\"again\"," MEAS, "/x-tsdb", "appears twice");
  /* A message-named format without a map: its class has one placeholder. */
  ingest_schema *s = t_schema("{\"x-tsdb\":{" BASE ",\"format\":\"senml\"}}");
  CHECK_INT(ingest_schema_nfields(s), ==, 0);
  CHECK(ingest_schema_class(s) != NULL);
  CHECK_STR(ingest_schema_format(s), "senml");
  CHECK_INT(ingest_schema_version(s), ==, 2);
  ingest_schema_free(s);
}

TEST(measurements_units_precision_scale) {
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"unit\":\"deg C\"}}",
           "/x-tsdb/measurements/v", "units registry name");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"unit\":\"\"}}",
           "/x-tsdb/measurements/v", "units registry name");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"precision\":0}}",
           "/x-tsdb/measurements/v", "\"precision\"");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"precision\":\"0.1\"}}",
           "/x-tsdb/measurements/v", "\"precision\"");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"scale\":0}}",
           "/x-tsdb/measurements/v", "\"scale\"");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\",\"offset\":3}}",
           "/x-tsdb/measurements/v", "unknown member 'offset'");
  fails_at(BASE ",\"measurements\":{\"v\":{\"pointer\":\"/v\"},\"v\":{\"pointer\":\"/w\"}}",
           "/x-tsdb/measurements/v", "appears twice");
  ingest_schema *s =
      t_schema("{\"x-tsdb\":{" BASE
               ",\"measurements\":{\"a\":{\"pointer\":\"/a\","
               "\"unit\":\"m/s2\",\"precision\":0.001,\"scale\":-2},\"b\":{\"pointer\":\"/b\"}}}}");
  ingest_field_info info;
  CHECK(ingest_schema_field_info(s, 0, &info));
  CHECK_STR(info.name, "a");
  CHECK_STR(info.unit, "m/s2");
  CHECK_BITS(info.precision, 0.001);
  CHECK_BITS(info.scale, -2);
  CHECK(ingest_schema_field_info(s, 1, &info));
  CHECK(info.unit == NULL);
  CHECK_BITS(info.precision, 0);
  CHECK_BITS(info.scale, 1);
  static t_out out;
  CHECK_OK(t_process(s, NULL, "{\"a\":1.5,\"b\":2}", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "a", T_ARRIVAL, -3);
  /* A value that scaling makes infinite is refused. */
  int rc = t_process(s, NULL, "{\"a\":1e308}", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/measurements", "/a");
  ingest_schema_free(s);
}

TEST(names_section) {
  const char *named = BASE ",\"format\":\"sensor.community\",\"names\":";
  char text[1024];
  snprintf(text, sizeof text, "%s%s", named, "{\"unmapped\":\"drop\"}");
  fails_at(text, "/x-tsdb/names/unmapped", "\"keep\", \"ignore\", \"refuse\"");
  snprintf(text, sizeof text, "%s%s", named, "{\"map\":{\"A\":{\"field\":\"x y\"}}}");
  fails_at(text, "/x-tsdb/names/map/A", "\"field\"");
  snprintf(text, sizeof text, "%s%s", named, "{\"map\":{\"A\":{\"unit\":\"Cel\"}}}");
  fails_at(text, "/x-tsdb/names/map/A", "\"field\"");
  snprintf(
      text, sizeof text, "%s%s", named,
      "{\"map\":{\"A\":{\"field\":\"t\",\"unit\":\"Cel\"},\"B\":{\"field\":\"t\",\"unit\":\"K\"}}}");
  fails_at(text, "/x-tsdb/names/map/B", "described differently");
  snprintf(text, sizeof text, "%s%s", named,
           "{\"map\":{\"A\":{\"field\":\"t\"}},\"ignore\":[\"A\"]}");
  fails_at(text, "/x-tsdb/names/ignore", "also in the map");
  snprintf(text, sizeof text, "%s%s", named, "{\"ignore\":[\"A\",\"A\"]}");
  fails_at(text, "/x-tsdb/names/ignore", "appears twice");
  snprintf(text, sizeof text, "%s%s", named, "{\"ignore\":[1]}");
  fails_at(text, "/x-tsdb/names/ignore", "strings");
  snprintf(text, sizeof text, "%s%s", named,
           "{\"map\":{\"A\":{\"field\":\"t\"},\"A\":{\"field\":\"u\"}}}");
  fails_at(text, "/x-tsdb/names/map", "appears twice");
  /* Two names may lead to one field when they describe it alike. */
  snprintf(
      text, sizeof text, "{\"x-tsdb\":{%s%s}}", named,
      "{\"map\":{\"SDS_P1\":{\"field\":\"pm10\",\"unit\":\"ug/m3\"},\"PMS_P1\":{\"field\":\"pm10\","
      "\"unit\":\"ug/m3\"},\"signal\":{\"field\":\"rssi\",\"unit\":\"dBm\"}}}");
  ingest_schema *s = t_schema(text);
  CHECK_INT(ingest_schema_nfields(s), ==, 2);
  CHECK_STR(ingest_schema_field(s, 0), "pm10");
  CHECK_STR(ingest_schema_field(s, 1), "rssi");
  ingest_schema_free(s);
}

TEST(tiers_and_retention) {
  fails_at(BASE "," MEAS ",\"retention\":{\"raw\":\"90d\",\"1m\":\"30d\"}", "/x-tsdb/retention",
           "less time than a finer level");
  fails_at(BASE "," MEAS ",\"retention\":{\"1m\":\"1y\"}", "/x-tsdb/retention",
           "less time than a finer level (forever)");
  fails_at(BASE "," MEAS ",\"retention\":{\"2m\":\"1y\"}", "/x-tsdb/retention/2m",
           "not one of the schema's tiers");
  fails_at(BASE "," MEAS ",\"retention\":{\"hot\":\"1y\"}", "/x-tsdb/retention/hot", "neither");
  fails_at(BASE "," MEAS ",\"retention\":{\"raw\":\"12h\"}", "/x-tsdb/retention/raw",
           "at least the block span");
  fails_at(BASE "," MEAS ",\"tiers\":[\"1h\"],\"retention\":{\"raw\":\"1d\",\"1h\":\"30m\"}",
           "/x-tsdb/retention/1h", "at least the tier itself");
  fails_at(BASE "," MEAS ",\"retention\":{\"raw\":\"90 days\"}", "/x-tsdb/retention/raw",
           "duration");
  fails_at(BASE "," MEAS ",\"retention\":{\"raw\":\"90d\",\"1m\":\"1y\",\"60s\":\"2y\"}",
           "/x-tsdb/retention/60s", "given twice");
  fails_at(BASE "," MEAS ",\"retention\":[\"90d\"]", "/x-tsdb/retention", "must be an object");
  fails_at(BASE "," MEAS ",\"block_span\":\"1h\",\"retention\":{\"raw\":\"1d\"}",
           "/x-tsdb/retention/raw", "longer than the coarsest tier");
  fails_at(BASE "," MEAS ",\"tiers\":[\"1m\",\"1m\"]", "/x-tsdb/tiers", "ascend");

  ingest_schema *s = t_schema("{\"x-tsdb\":{" BASE "," MEAS
                              ",\"tiers\":[\"10s\",\"1m\",\"1h\"],"
                              "\"block_span\":\"1h\",\"retention\":{\"raw\":\"2h\",\"10s\":\"7d\","
                              "\"1m\":\"1y\",\"1h\":\"forever\"}}}");
  const int64_t *tiers;
  CHECK_INT(ingest_schema_tiers(s, &tiers), ==, 3);
  CHECK_INT(tiers[0], ==, 10000);
  CHECK_INT(ingest_schema_retention_ms(s, 0), ==, 2 * 3600000);
  CHECK_INT(ingest_schema_retention_ms(s, 10000), ==, 7 * INT64_C(86400000));
  CHECK_INT(ingest_schema_retention_ms(s, 60000), ==, 365 * INT64_C(86400000));
  CHECK_INT(ingest_schema_retention_ms(s, 3600000), ==, 0);   /* forever */
  CHECK_INT(ingest_schema_retention_ms(s, 86400000), ==, -1); /* not a tier */
  ingest_schema_free(s);
  /* No retention at all: everything forever; no tiers at all is allowed. */
  s = t_schema("{\"x-tsdb\":{" BASE "," MEAS ",\"tiers\":[]}}");
  CHECK_INT(ingest_schema_tiers(s, &tiers), ==, 0);
  CHECK_INT(ingest_schema_retention_ms(s, 0), ==, 0);
  ingest_schema_free(s);
}

TEST(duplicate_policies) {
  fails_at(BASE "," MEAS ",\"duplicates\":\"newest\"", "/x-tsdb/duplicates",
           "\"last\", \"first\", \"reject\"");
  static const char *const names[] = {"last", "first", "reject"};
  for (int i = 0; i < 3; i++) {
    char text[512];
    snprintf(text, sizeof text, "{\"x-tsdb\":{" BASE "," MEAS ",\"duplicates\":\"%s\"}}", names[i]);
    ingest_schema *s = t_schema(text);
    CHECK_INT(ingest_schema_duplicates(s), ==, i);
    ingest_schema_free(s);
  }
  /* "reject" refuses a fixed-field message only if it repeats a point,
   * which one JSON document cannot: it always passes here. */
  ingest_schema *s = t_schema("{\"x-tsdb\":{" BASE "," MEAS ",\"duplicates\":\"reject\"}}");
  static t_out out;
  CHECK_OK(t_process(s, NULL, "{\"v\":1}", SIZE_MAX, T_ARRIVAL, &out));
  ingest_schema_free(s);
}

TEST(timestamp_members) {
  fails_at(BASE "," MEAS
                ",\"timestamp\":{\"pointer\":\"/t\",\"format\":\"rfc3339\",\"max_past\":\"soon\"}",
           "/x-tsdb/timestamp/max_past", "duration");
  fails_at(BASE "," MEAS
                ",\"timestamp\":{\"pointer\":\"/t\",\"format\":\"rfc3339\",\"skew\":\"1m\"}",
           "/x-tsdb/timestamp", "unknown member 'skew'");
  fails_at(BASE "," MEAS ",\"timestamp\":{\"pointer\":\"/t\"}", "/x-tsdb/timestamp/format",
           "rfc3339, epoch_s");
  fails_at(BASE "," MEAS ",\"timestamp\":\"/t\"", "/x-tsdb/timestamp", "must be an object");
  /* max_future alone (arrival time) is accepted and harmless. */
  ingest_schema *s =
      t_schema("{\"x-tsdb\":{" BASE "," MEAS ",\"timestamp\":{\"max_future\":\"1m\"}}}");
  ingest_schema_free(s);
}
