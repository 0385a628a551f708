/*
 * Format "ttn-v3": The Things Stack uplinks. received_at with nanoseconds,
 * omitted zero fields, ids against the topic, simulated uplinks, and error
 * pointers reported from the message root.
 */
#include "test_ingest.h"

#define TTN_SCHEMA(ts, extra)                                                                   \
  "{\"type\":\"object\",\"required\":[\"pm10\"],\"properties\":{\"pm10\":{\"type\":\"number\"," \
  "\"minimum\":0},\"t\":{\"type\":\"integer\"}},\"x-tsdb\":{\"id\":\"ttn\",\"version\":1,"      \
  "\"topic\":\"v3/{app}@{tenant}/devices/{device}/up\",\"format\":\"ttn-v3\"" ts                \
  ","                                                                                           \
  "\"measurements\":{\"pm10\":{\"pointer\":\"/pm10\",\"unit\":\"ug/m3\"},"                      \
  "\"pm25\":{\"pointer\":\"/pm25\"}}" extra "}}"

#define TOPIC "v3/city-air@ttn/devices/aq-0042/up"
#define IDS                                                                                \
  "\"end_device_ids\":{\"device_id\":\"aq-0042\",\"application_ids\":{\"application_id\":" \
  "\"city-air\"},\"dev_eui\":\"0004A30B001C0530\"}"

static t_out out;

/* 2026-11-26T09:15:46.014773143Z truncated to the ms. */
#define T_RECEIVED INT64_C(1795684546014)

TEST(received_at_with_nanoseconds_and_omitted_zero_fields) {
  ingest_schema *s = t_schema(TTN_SCHEMA("", ""));
  CHECK_STR(ingest_schema_format(s), "ttn-v3");
  CHECK(!ingest_schema_named(s));
  /* f_port, f_cnt, frm_payload, rx_metadata, settings: all absent. */
  CHECK_OK(t_process(s, TOPIC,
                     "{" IDS ",\"received_at\":\"2026-11-26T09:15:46.014773143Z\","
                     "\"uplink_message\":{\"decoded_payload\":{\"pm10\":0,\"pm25\":9.5}}}",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_INT(out.out.nnames, ==, 0);
  CHECK_POINT(s, &out, "pm10", T_RECEIVED, 0);
  CHECK_POINT(s, &out, "pm25", T_RECEIVED, 9.5);
  /* Without the top-level received_at, the network server's. */
  CHECK_OK(t_process(s, TOPIC,
                     "{\"uplink_message\":{\"received_at\":\"2026-11-26T09:15:45.810281452Z\","
                     "\"decoded_payload\":{\"pm10\":3}}}",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "pm10", 1795684545810, 3);
  int rc = t_process(s, TOPIC, "{\"uplink_message\":{\"decoded_payload\":{\"pm10\":3}}}", SIZE_MAX,
                     T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/received_at");
  rc = t_process(
      s, TOPIC,
      "{\"received_at\":\"2026-11-26 09:15:46\",\"uplink_message\":{\"decoded_payload\":{\"pm10\":3}}}",
      SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/received_at");
  rc = t_process(
      s, TOPIC,
      "{\"received_at\":\"2026-11-26T10:15:46Z\",\"uplink_message\":{\"decoded_payload\":{\"pm10\":3}}}",
      SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_future", "/received_at");
  ingest_schema_free(s);
}

TEST(errors_point_into_the_uplink) {
  ingest_schema *s = t_schema(TTN_SCHEMA("", ""));
  int rc = t_process(s, TOPIC,
                     "{" IDS
                     ",\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":"
                     "{\"decoded_payload\":{\"pm10\":-1}}}",
                     SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "minimum", "/uplink_message/decoded_payload/pm10");
  CHECK_MSG(!strncmp(out.err.message, "/uplink_message/decoded_payload/pm10: ", 38), "%s",
            out.err.message);
  rc = t_process(
      s, TOPIC,
      "{\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":{\"decoded_payload\":{}}}",
      SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "required", "/uplink_message/decoded_payload");
  CHECK_MSG(!strncmp(out.err.message, "/uplink_message/decoded_payload: ", 33), "%s",
            out.err.message);
  /* A measurement the JSON Schema does not type, of the wrong type. */
  rc =
      t_process(s, TOPIC,
                "{\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":{\"decoded_payload\":"
                "{\"pm10\":1,\"pm25\":\"9\"}}}",
                SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/measurements",
                "/uplink_message/decoded_payload/pm25");
  rc = t_process(s, TOPIC,
                 "{\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":{\"f_port\":2,"
                 "\"frm_payload\":\"AQI=\"}}",
                 SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "ttn-v3", "/uplink_message/decoded_payload");
  rc = t_process(s, TOPIC, "{\"received_at\":\"2026-11-26T09:15:46Z\",\"join_accept\":{}}",
                 SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "ttn-v3", "/uplink_message");
  rc = t_process(s, TOPIC, "[1,2]", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "ttn-v3", "");
  ingest_schema_free(s);
}

TEST(ids_must_match_the_topic) {
  ingest_schema *s = t_schema(TTN_SCHEMA("", ""));
  const char *other_device =
      "{\"end_device_ids\":{\"device_id\":\"aq-0043\",\"application_ids\":{\"application_id\":\"city-air\"}},"
      "\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":{\"decoded_payload\":{\"pm10\":1}}}";
  int rc = t_process(s, TOPIC, other_device, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/topic", "/end_device_ids/device_id");
  CHECK_STR(out.err.actual, "\"aq-0043\"");
  CHECK(strstr(out.err.expected, "aq-0042") != NULL);
  /* The right topic for it, or no topic at all (tsdb-check without --topic). */
  CHECK_OK(
      t_process(s, "v3/city-air@ttn/devices/aq-0043/up", other_device, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_OK(t_process(s, NULL, other_device, SIZE_MAX, T_ARRIVAL, &out));
  rc =
      t_process(s, "v3/city-water@ttn/devices/aq-0043/up", other_device, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/topic",
                "/end_device_ids/application_ids/application_id");
  /* A device id that is not a string is not the topic's. */
  rc = t_process(s, TOPIC,
                 "{\"end_device_ids\":{\"device_id\":42},\"received_at\":\"2026-11-26T09:15:46Z\","
                 "\"uplink_message\":{\"decoded_payload\":{\"pm10\":1}}}",
                 SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/topic", "/end_device_ids/device_id");
  ingest_schema_free(s);
  /* A template without {device}/{app} checks nothing. */
  s = t_schema(
      "{\"x-tsdb\":{\"id\":\"ttn\",\"version\":1,\"topic\":\"lorawan/{node}\",\"format\":\"ttn-v3\","
      "\"measurements\":{\"pm10\":{\"pointer\":\"/pm10\"}}}}");
  CHECK_OK(t_process(s, "lorawan/x", other_device, SIZE_MAX, T_ARRIVAL, &out));
  ingest_schema_free(s);
}

TEST(simulated_uplinks) {
  const char *sim = "{" IDS
                    ",\"received_at\":\"2026-11-26T09:15:46Z\",\"simulated\":true,"
                    "\"uplink_message\":{\"decoded_payload\":{\"pm10\":12}}}";
  ingest_schema *s = t_schema(TTN_SCHEMA("", ""));
  CHECK_OK(t_process(s, TOPIC, sim, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 0); /* accepted, nothing stored */
  ingest_schema_free(s);
  s = t_schema(TTN_SCHEMA("", ",\"ttn-v3\":{\"simulated\":\"store\"}"));
  CHECK_OK(t_process(s, TOPIC, sim, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
  s = t_schema(TTN_SCHEMA("", ",\"ttn-v3\":{\"simulated\":\"refuse\"}"));
  int rc = t_process(s, TOPIC, sim, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "ttn-v3", "/simulated");
  ingest_schema_free(s);
}

TEST(device_time_inside_decoded_payload) {
  ingest_schema *s =
      t_schema(TTN_SCHEMA(",\"timestamp\":{\"pointer\":\"/t\",\"format\":\"epoch_s\"}", ""));
  CHECK_OK(t_process(s, TOPIC,
                     "{" IDS ",\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":"
                     "{\"decoded_payload\":{\"pm10\":5,\"t\":1795684200}}}",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "pm10", 1795684200000, 5);
  int rc = t_process(s, TOPIC,
                     "{" IDS
                     ",\"received_at\":\"2026-11-26T09:15:46Z\",\"uplink_message\":"
                     "{\"decoded_payload\":{\"pm10\":5}}}",
                     SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp",
                "/uplink_message/decoded_payload/t");
  ingest_schema_free(s);
}

TEST(ttn_options_are_checked) {
  ingest_error err;
  t_schema_fails(TTN_SCHEMA("", ",\"ttn-v3\":{\"simulated\":\"maybe\"}"), &err);
  CHECK_STR(err.schema_path, "/x-tsdb/ttn-v3/simulated");
  t_schema_fails(TTN_SCHEMA("", ",\"ttn-v3\":{\"simulate\":\"store\"}"), &err);
  CHECK_STR(err.schema_path, "/x-tsdb/ttn-v3");
  t_schema_fails(TTN_SCHEMA("", ",\"senml\":{}"), &err);
  CHECK_STR(err.schema_path, "/x-tsdb");
}
