/*
 * Format "ttn-v3": uplink messages of The Things Stack v3 (The Things
 * Network), as its MQTT server or a bridge delivers them on
 * v3/{application id}@{tenant id}/devices/{device id}/up:
 *
 *   {"end_device_ids": {"device_id": "aq-0042",
 *                       "application_ids": {"application_id": "city-air"},
 *                       "dev_eui": "0004A30B001C0530"},
 *    "received_at": "2026-11-26T09:15:46.014773143Z",
 *    "uplink_message": {"f_port": 2, "f_cnt": 1841, "frm_payload": "gkHe",
 *                       "decoded_payload": {"pm10": 17.0, ...}, ...}}
 *
 * The device's payload formatter produces decoded_payload, so that is what
 * the schema's JSON Schema validates and its measurement pointers read; the
 * envelope is checked here, and only for what we use. The Things Stack
 * leaves out fields whose value is "", 0 or false (f_cnt of the first
 * uplink, f_port 0, ...), so nothing else of the envelope is required.
 *
 * Time: received_at (the Application Server's reception; RFC 3339 with
 * nanoseconds, truncated to the ms), falling back to
 * uplink_message.received_at; or, when the schema has a timestamp pointer,
 * a time inside decoded_payload (a device with its own clock).
 *
 * Identity: the series are keyed by topic, so the ids come from the topic.
 * When the topic template has a {device} or {app} level, the message's
 * end_device_ids.device_id / application_ids.application_id must equal it
 * (a bridge misconfiguration or a forged uplink is refused, not filed under
 * another device). dev_eui is not stored.
 *
 * Console-simulated uplinks ("simulated": true) are accepted and not stored
 * by default (option "ttn-v3": {"simulated": "ignore" | "store" | "refuse"}).
 */
#include <stdio.h>
#include <string.h>

#include "schema_internal.h"

#define DP "/uplink_message/decoded_payload"

enum { SIM_IGNORE, SIM_STORE, SIM_REFUSE };

static ingest_value member(ingest_value v, const char *key) {
  ingest_value none = {NULL, NULL};
  if (ingest_value_type(v) != INGEST_T_OBJECT) return none;
  const void *c = v.ops->member(v.node, key, strlen(key));
  return c ? (ingest_value){v.ops, c} : none;
}

static int envelope(ingest_error *err, const char *ptr, const char *expected, ingest_value v,
                    const char *text) {
  ingest_error_set(err, INGEST_EDECODE, "ttn-v3", ptr, "%s: %s", ptr[0] ? ptr : "(root)", text);
  ingest_extract__expected(err, "%s", expected);
  if (ingest_value_present(v))
    ingest_extract__actual(err, v);
  else
    snprintf(err->actual, sizeof err->actual, "absent");
  return INGEST_EDECODE;
}

/* An id of the message must equal the topic level of the same meaning. */
static int same_id(const ingest_schema *s, const ingest_msg *m, const tsdb_topic_capture *caps,
                   int cap, ingest_value id, const char *ptr, ingest_error *err) {
  if (cap < 0 || !ingest_value_present(id)) return 0;
  size_t n = 0;
  const char *text = ingest_value_type(id) == INGEST_T_STRING ? id.ops->string(id.node, &n) : NULL;
  const char *level = m->topic + caps[cap].offset;
  if (text && n == caps[cap].len && !memcmp(text, level, n)) return 0;
  const char *name = tsdb_topic_template_capture_name(s->tpl, (size_t)cap);
  ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/topic", ptr,
                   "%s: the message is from another %s than the topic's {%s} level '%.*s'", ptr,
                   name, name, (int)(caps[cap].len > 64 ? 64 : caps[cap].len), level);
  ingest_extract__expected(err, "\"%.*s\" (the topic's {%s})",
                           (int)(caps[cap].len > 64 ? 64 : caps[cap].len), level, name);
  ingest_extract__actual(err, id);
  return INGEST_EVALIDATE;
}

static int received_at(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                       ingest_value up, int64_t *ts, ingest_error *err) {
  const char *ptr = "/received_at";
  ingest_value v = member(root, "received_at");
  if (!ingest_value_present(v)) {
    ptr = "/uplink_message/received_at";
    v = member(up, "received_at");
  }
  if (!ingest_value_present(v)) {
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/received_at",
                     "/received_at: the uplink has no received_at");
    ingest_extract__expected(err, "rfc3339 timestamp");
    snprintf(err->actual, sizeof err->actual, "absent");
    return INGEST_ETIMESTAMP;
  }
  int64_t ms;
  if (!ingest_extract__parse_time(TS_RFC3339, v, &ms)) {
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", ptr,
                     "%s: not a valid rfc3339 timestamp", ptr);
    ingest_extract__expected(err, "rfc3339 timestamp");
    ingest_extract__actual(err, v);
    return INGEST_ETIMESTAMP;
  }
  int rc = ingest_extract__check_time(s, m, ms, ptr, v, err);
  if (rc == 0) *ts = ms;
  return rc;
}

static int extract(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                   ingest_output *out, ingest_error *err) {
  if (ingest_value_type(root) != INGEST_T_OBJECT)
    return envelope(err, "", "object", root, "a The Things Stack uplink is a JSON object");
  ingest_value up = member(root, "uplink_message");
  if (ingest_value_type(up) != INGEST_T_OBJECT)
    return envelope(err, "/uplink_message", "object", up,
                    "not an uplink: only uplink messages carry measurements");

  if (m->topic && (s->ttn.cap_device >= 0 || s->ttn.cap_app >= 0)) {
    tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
    if (tsdb_topic_template_match(s->tpl, m->topic, m->topic_len, caps)) {
      ingest_value ids = member(root, "end_device_ids");
      int rc = same_id(s, m, caps, s->ttn.cap_device, member(ids, "device_id"),
                       "/end_device_ids/device_id", err);
      if (!rc)
        rc = same_id(s, m, caps, s->ttn.cap_app,
                     member(member(ids, "application_ids"), "application_id"),
                     "/end_device_ids/application_ids/application_id", err);
      if (rc) return rc;
    }
  }

  ingest_value sim = member(root, "simulated");
  if (ingest_value_type(sim) == INGEST_T_BOOL && sim.ops->boolean(sim.node)) {
    if (s->ttn.simulated == SIM_IGNORE) return 0;
    if (s->ttn.simulated == SIM_REFUSE) {
      ingest_error_set(err, INGEST_EVALIDATE, "ttn-v3", "/simulated",
                       "/simulated: simulated uplinks are refused by this schema");
      ingest_extract__expected(err, "a real uplink");
      snprintf(err->actual, sizeof err->actual, "true");
      return INGEST_EVALIDATE;
    }
  }

  ingest_value dp = member(up, "decoded_payload");
  if (!ingest_value_present(dp))
    return envelope(err, DP, "object", dp,
                    "no decoded_payload: the device has no payload formatter in The Things "
                    "Stack, or it failed (see decoded_payload_warnings)");
  int rc = ingest_extract__validate(s, dp, DP, err);
  if (rc) return rc;
  int64_t ts = m->arrival_ms;
  if (s->ts_fmt == TS_NONE)
    rc = received_at(s, m, root, up, &ts, err);
  else
    rc = ingest_extract__time(s, m, dp, DP, m->arrival_ms, &ts, err);
  if (rc) return rc;
  return ingest_extract__measurements(s, dp, DP, ts, out, err);
}

static int configure(ingest_schema *s, const void *opts, ingest_error *err) {
  static const char *const keys[] = {"simulated", "description", NULL};
  static const char *const simulated[] = {"ignore", "store", "refuse", NULL};
  int sim = SIM_IGNORE;
  int rc = 0;
  if (opts) {
    rc = ingest_mapping__check_keys(s, opts, keys, "/x-tsdb/ttn-v3", err);
    if (!rc)
      rc = ingest_mapping__choice(s, opts, "simulated", "/x-tsdb/ttn-v3", simulated, &sim, err);
  }
  s->ttn.simulated = sim;
  s->ttn.cap_device = ingest_mapping__capture(s, "device");
  s->ttn.cap_app = ingest_mapping__capture(s, "app");
  return rc;
}

const ingest_decoder ingest_decode_ttn_v3 = {
    .name = "ttn-v3",
    .named = false,
    .ts_pointer = true,
    .parse = ingest_decode_json__parse,
    .release = ingest_decode_json__release,
    .configure = configure,
    .extract = extract,
};
