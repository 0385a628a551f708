/*
 * MOSQ_EVT_MESSAGE: every client publish, on the broker thread.
 *
 * route topic -> decode -> validate -> copy points into the engine's queue.
 * Nothing else: no RocksDB, no I/O, no blocking, no system call (the clock
 * is read through the vDSO). Only two answers are ever returned:
 *   MOSQ_ERR_SUCCESS      the message goes on to subscribers as usual;
 *   MOSQ_ERR_ACL_DENIED   the message is dropped; MQTT v5 QoS >= 1
 *                         publishers get reason 0x87, and stay connected.
 * Any other code would disconnect the publisher (MOSQUITTO-2.0-FACTS.md),
 * so internal failures are refusals that are counted and logged.
 */
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

const char *const plugin_refusal_names[REFUSAL_COUNT] = {
#define PLUGIN_REFUSAL_NAME_(name, text) text,
    PLUGIN_REFUSAL_MAP(PLUGIN_REFUSAL_NAME_)
#undef PLUGIN_REFUSAL_NAME_
};

int64_t plugin__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int refuse(plugin_state *st, plugin_refusal why, const char *client, const char *topic,
                  const ingest_error *err) {
  st->refused[why]++;
  /* Per-message detail only at debug level; the tick writes a rate-limited
   * summary at notice level. */
  mosquitto_log_printf(MOSQ_LOG_DEBUG,
                       PLUGIN_NAME ": refused client=%s topic=%s reason=%s pointer=%s detail=\"%s\"",
                       client ? client : "", topic, plugin_refusal_names[why],
                       err ? err->pointer : "", err ? err->message : "");
  return MOSQ_ERR_ACL_DENIED;
}

static plugin_refusal refusal_of(int ingest_rc) {
  switch (ingest_rc) {
  case INGEST_EDECODE: return REFUSAL_DECODE;
  case INGEST_EVALIDATE: return REFUSAL_VALIDATE;
  case INGEST_ETIMESTAMP: return REFUSAL_TIMESTAMP;
  default: return REFUSAL_INTERNAL;
  }
}

int plugin__on_message(int event, void *event_data, void *userdata) {
  (void)event;
  struct mosquitto_evt_message *ev = event_data;
  plugin_state *st = userdata;
  const char *topic = ev->topic;
  size_t topic_len = strlen(topic);

  /* $tsdb/... is ours: a client publishing there could forge aggregates or
   * answers that other clients trust. */
  if (topic_len >= 6 && !memcmp(topic, "$tsdb/", 6))
    return refuse(st, REFUSAL_RESERVED_TOPIC, mosquitto_client_id(ev->client), topic, NULL);

  const ingest_schema *schema = ingest_schema_set_route(st->schemas, topic, topic_len);
  if (!schema) {
    if (st->cfg.unmatched == UNMATCHED_REFUSE)
      return refuse(st, REFUSAL_UNMATCHED, mosquitto_client_id(ev->client), topic, NULL);
    st->passed_unmatched++;
    return MOSQ_ERR_SUCCESS;
  }
  /* An empty retained publish clears the retained message: not a reading. */
  if (ev->payloadlen == 0) return MOSQ_ERR_SUCCESS;

  ingest_error err;
  /* Names and units of message-named formats (SenML, sensor.community) live
   * here only until tsdb_ingest() has copied them. */
  const char *names[INGEST_OUTPUT_NAMES];
  const char *units[INGEST_OUTPUT_NAMES];
  char name_text[INGEST_OUTPUT_TEXT];
  ingest_output out;
  ingest_output_init(&out, st->points, sizeof st->points / sizeof st->points[0], names, units,
                     INGEST_OUTPUT_NAMES, name_text, sizeof name_text);
  int rc = ingest_schema_process(schema, topic, topic_len, ev->payload, ev->payloadlen,
                                 plugin__now_ms(), &out, &err);
  if (rc) return refuse(st, refusal_of(rc), mosquitto_client_id(ev->client), topic, &err);
  if (out.npoints > 0) {
    tsdb_ingest_msg msg = {.cls = ingest_schema_class(schema), .topic = topic,
                           .topic_len = topic_len, .points = out.points, .npoints = out.npoints,
                           .names = out.nnames ? out.names : NULL,
                           .units = out.nnames ? out.units : NULL, .nnames = out.nnames};
    rc = tsdb_ingest(st->db, &msg);
    if (rc == TSDB_EFULL)
      return refuse(st, REFUSAL_QUEUE_FULL, mosquitto_client_id(ev->client), topic, NULL);
    if (rc) return refuse(st, REFUSAL_INTERNAL, mosquitto_client_id(ev->client), topic, NULL);
  }
  st->accepted++;
  return MOSQ_ERR_SUCCESS;
}
