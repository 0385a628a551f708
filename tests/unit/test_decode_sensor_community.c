/*
 * Format "sensor.community": string decimals, the names map with ignored,
 * kept and refused value_types, loop statistics, the sensor id against the
 * topic, and arrival time.
 */
#include "test_ingest.h"

#define SC_SCHEMA(names)                                                    \
  "{\"type\":\"object\",\"x-tsdb\":{\"id\":\"sc\",\"version\":1,\"topic\":" \
  "\"sc/{chip}-{sensor}\",\"format\":\"sensor.community\",\"names\":" names "}}"

#define MAP                                                                                      \
  "{\"map\":{\"SDS_P1\":{\"field\":\"pm10\",\"unit\":\"ug/m3\"},\"SDS_P2\":{\"field\":\"pm25\"," \
  "\"unit\":\"ug/m3\"},\"BME280_pressure\":{\"field\":\"pressure\",\"unit\":\"hPa\","            \
  "\"scale\":0.01}},\"ignore\":[\"samples\",\"min_micro\",\"max_micro\",\"interval\"],"          \
  "\"unmapped\":\"%s\"}"

static t_out out;

static ingest_schema *schema(const char *unmapped) {
  char text[1024];
  snprintf(text, sizeof text, SC_SCHEMA(MAP), unmapped);
  return t_schema(text);
}

static char msg[2048];

/* A message whose second value is value (JSON text), after SDS_P1 12.30. */
static const char *with_value(const char *type, const char *value) {
  snprintf(
      msg, sizeof msg,
      "{\"esp8266id\":\"1234567\",\"software_version\":\"NRZ-2020-133\",\"sensordatavalues\":"
      "[{\"value_type\":\"SDS_P1\",\"value\":\"12.30\"},{\"value_type\":\"%s\",\"value\":%s}]}",
      type, value);
  return msg;
}

TEST(string_decimals) {
  ingest_schema *s = schema("ignore");
  static const struct {
    const char *text;
    double value;
  } good[] = {{"\"5.10\"", 5.1},    {"\"-71\"", -71}, {"\"0\"", 0},     {"\"1e3\"", 1000},
              {"\"2.5E-1\"", 0.25}, {"\"007\"", 7},   {"12.25", 12.25}, {"-0.5", -0.5}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECK_OK(t_process(s, NULL, with_value("SDS_P2", good[i].text), SIZE_MAX, T_ARRIVAL, &out));
    CHECK_INT(out.out.npoints, ==, 2);
    CHECK_POINT(s, &out, "pm25", T_ARRIVAL, good[i].value);
  }
  static const char *const bad[] = {
      "\"nan\"",   "\"\"",
      "\" 1\"",    "\"1 \"",
      "\"1.\"",    "\".5\"",
      "\"0x10\"",  "\"1,5\"",
      "\"+1\"",    "\"inf\"",
      "\"1e400\"", "\"1e\"",
      "\"--1\"",   "\"12.30.1\"",
      "true",      "null",
      "[1]",       "\"1234567890123456789012345678901234567890123456789012345678901234567890\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = t_process(s, NULL, with_value("SDS_P2", bad[i]), SIZE_MAX, T_ARRIVAL, &out);
    CHECK_MSG(rc == INGEST_EDECODE, "value %s: rc %d", bad[i], rc);
    CHECK_STR(out.err.keyword, "sensor.community");
    CHECK_STR(out.err.pointer, "/sensordatavalues/1/value");
  }
  /* An ignored name is not parsed at all. */
  CHECK_OK(t_process(s, NULL, with_value("samples", "\"n/a\""), SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
}

TEST(the_payloads_example_with_scaling_and_arrival_time) {
  ingest_schema *s = schema("ignore");
  const char *m =
      "{\"esp8266id\": \"1234567\", \"software_version\": \"NRZ-2020-133\", \"sensordatavalues\": "
      "[{\"value_type\": \"SDS_P1\", \"value\": \"12.30\"}, {\"value_type\": \"SDS_P2\", \"value\": \"5.10\"},"
      " {\"value_type\": \"BME280_temperature\", \"value\": \"21.40\"}, {\"value_type\": "
      "\"BME280_pressure\", \"value\": \"100567.00\"}, {\"value_type\": \"BME280_humidity\", \"value\": "
      "\"45.10\"}, {\"value_type\": \"samples\", \"value\": \"880471\"}, {\"value_type\": \"signal\", "
      "\"value\": \"-71\"}]}";
  CHECK_OK(t_process(s, "sc/esp8266-1234567", m, SIZE_MAX, T_ARRIVAL, &out));
  /* Mapped: pm10, pm25, pressure (Pa scaled to hPa); the rest ignored. */
  CHECK_INT(out.out.npoints, ==, 3);
  CHECK_INT(out.out.nnames, ==, 3);
  CHECK_POINT(s, &out, "pm10", T_ARRIVAL, 12.3);
  CHECK_POINT(s, &out, "pressure", T_ARRIVAL, 1005.67);
  CHECK_STR(t_unit(s, &out, 2), "hPa");
  ingest_schema_free(s);
}

TEST(unmapped_value_types_keep_ignore_or_refuse) {
  const char *m = with_value("SPS30_P0", "\"4.91\"");
  ingest_schema *s = schema("keep");
  CHECK_OK(t_process(s, NULL, m, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_POINT(s, &out, "SPS30_P0", T_ARRIVAL, 4.91);
  CHECK(t_unit(s, &out, 1) == NULL);
  /* A kept name becomes a series name: RFC 8428 section 4.5.1 characters. */
  int rc = t_process(s, NULL, with_value("SPS30 P0", "\"4.91\""), SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/names", "/sensordatavalues/1/value_type");
  ingest_schema_free(s);
  s = schema("ignore");
  CHECK_OK(t_process(s, NULL, m, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
  s = schema("refuse");
  rc = t_process(s, NULL, m, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/names", "/sensordatavalues/1/value_type");
  /* Loop statistics stay ignored even when everything else is refused. */
  CHECK_OK(t_process(s, NULL, with_value("min_micro", "\"28\""), SIZE_MAX, T_ARRIVAL, &out));
  ingest_schema_free(s);
}

TEST(sensor_id_against_the_topic) {
  ingest_schema *s = schema("ignore");
  const char *m = with_value("SDS_P2", "\"5.10\"");
  CHECK_OK(t_process(s, "sc/esp8266-1234567", m, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_OK(t_process(s, "sc/esp32-1234567", m, SIZE_MAX, T_ARRIVAL, &out));
  int rc = t_process(s, "sc/esp8266-7654321", m, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/topic", "/esp8266id");
  /* A numeric id compares as its decimal text. */
  CHECK_OK(t_process(
      s, "sc/esp8266-1234567",
      "{\"esp8266id\":1234567,\"sensordatavalues\":[{\"value_type\":\"SDS_P1\",\"value\":\"1\"}]}",
      SIZE_MAX, T_ARRIVAL, &out));
  /* No id in the message: the topic alone decides. */
  CHECK_OK(t_process(s, "sc/esp8266-7654321",
                     "{\"sensordatavalues\":[{\"value_type\":\"SDS_P1\",\"value\":\"1\"}]}",
                     SIZE_MAX, T_ARRIVAL, &out));
  ingest_schema_free(s);
}

TEST(structure_errors) {
  ingest_schema *s = schema("keep");
  static const struct {
    const char *msg, *pointer;
  } cases[] = {
      {"{\"esp8266id\":\"1\"}", "/sensordatavalues"},
      {"{\"sensordatavalues\":{\"SDS_P1\":\"1\"}}", "/sensordatavalues"},
      {"{\"sensordatavalues\":[{\"value\":\"1\"}]}", "/sensordatavalues/0/value_type"},
      {"{\"sensordatavalues\":[{\"value_type\":1,\"value\":\"1\"}]}",
       "/sensordatavalues/0/value_type"},
      {"{\"sensordatavalues\":[\"SDS_P1\"]}", "/sensordatavalues/0/value_type"},
      {"{\"sensordatavalues\":[{\"value_type\":\"SDS_P1\"}]}", "/sensordatavalues/0/value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = t_process(s, NULL, cases[i].msg, SIZE_MAX, T_ARRIVAL, &out);
    CHECK_MSG(rc == INGEST_EDECODE, "case %zu: rc %d %s", i, rc, out.err.message);
    CHECK_MSG(!strcmp(out.err.pointer, cases[i].pointer), "case %zu: pointer %s", i,
              out.err.pointer);
  }
  CHECK_INT(t_process(s, NULL, "[1]", SIZE_MAX, T_ARRIVAL, &out), ==, INGEST_EVALIDATE);
  /* An empty list is a message without readings: nothing to store. */
  CHECK_OK(t_process(s, NULL, "{\"sensordatavalues\":[]}", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 0);
  ingest_schema_free(s);
}

TEST(gateway_time) {
  ingest_schema *s = t_schema(
      "{\"x-tsdb\":{\"id\":\"sc\",\"version\":1,\"topic\":\"sc/{sensor}\",\"format\":\"sensor.community\","
      "\"timestamp\":{\"pointer\":\"/received\",\"format\":\"rfc3339\"}}}");
  CHECK_OK(t_process(
      s, "sc/1",
      "{\"received\":\"2026-11-26T09:17:00Z\",\"sensordatavalues\":[{\"value_type\":\"SDS_P1\",\"value\":\"3\"}]}",
      SIZE_MAX, T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "SDS_P1", 1795684620000, 3);
  ingest_schema_free(s);
}
