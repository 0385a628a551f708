/*
 * MOSQ_EVT_MESSAGE: every client publish, on the broker thread.
 *
 * route topic -> decode -> validate -> copy points into the engine's queue.
 * Nothing else: no RocksDB, no I/O, no blocking, no system call (the clock
 * is read through the vDSO). Only two answers are ever returned:
 *   MOSQ_ERR_SUCCESS      the message goes on to subscribers as usual;
 *   MOSQ_ERR_ACL_DENIED   the message is dropped; MQTT v5 QoS >= 1
 *                         publishers get reason 0x87, and stay connected.
 * Any other code would disconnect the publisher (docs/mosquitto-2.0-facts.md),
 * so internal failures are refusals that are counted and logged (refusals.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"
#include "tsdb/topic.h"

int64_t plugin__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    return plugin__refuse(st, REFUSAL_RESERVED_TOPIC, ev, NULL, 0, NULL);

  size_t index = 0;
  const ingest_schema *schema =
      ingest_schema_set_route_index(st->schemas, topic, topic_len, &index);
  if (!schema) {
    if (st->cfg.unmatched == UNMATCHED_REFUSE)
      return plugin__refuse(st, REFUSAL_UNMATCHED, ev, NULL, 0, NULL);
    st->passed_unmatched++;
    return MOSQ_ERR_SUCCESS;
  }
  ingest_error err;
  ingest_error_empty(&err); /* no member left undefined, whatever path refuses */
  if (ev->payloadlen == 0) {
    /* An empty retained publish clears the retained message: not a reading.
     * An empty one that is not retained is nothing a schema accepts. */
    if (ev->retain) return MOSQ_ERR_SUCCESS;
    ingest_error_set(&err, INGEST_EDECODE, "format", "",
                     "(root): empty payload; only an empty retained publish (which clears the "
                     "retained message) may be empty");
    return plugin__refuse(st, REFUSAL_DECODE, ev, schema, index, &err);
  }

  int64_t arrival = plugin__now_ms();
  ingest_output out;
  ingest_output_init(&out, st->points, INGEST_OUTPUT_POINTS, st->names, st->units,
                     INGEST_OUTPUT_NAMES, st->name_text, sizeof st->name_text);
  int rc = ingest_schema_process(schema, topic, topic_len, ev->payload, ev->payloadlen, arrival,
                                 &out, &err);
  if (rc) return plugin__refuse(st, plugin__refusal_of(rc), ev, schema, index, &err);
  if (out.npoints > 0) {
    tsdb_ingest_msg msg = {.cls = ingest_schema_class(schema),
                           .topic = topic,
                           .topic_len = topic_len,
                           .points = out.points,
                           .npoints = out.npoints,
                           .names = out.nnames ? out.names : NULL,
                           .units = out.nnames ? out.units : NULL,
                           .nnames = out.nnames,
                           /* the original, for the replay archive */
                           .payload = ev->payload,
                           .payload_len = ev->payloadlen,
                           .arrival_ms = arrival};
    /* Sync durability: PUBACK leaves after this callback returns, so waiting
     * here for the WAL write is exactly "acknowledged means stored". It
     * blocks the broker thread for one write, only for QoS >= 1. */
    if (st->cfg.durability != DURABILITY_ASYNC && ev->qos >= 1)
      rc = tsdb_ingest_durable(st->db, &msg);
    else
      rc = tsdb_ingest(st->db, &msg);
    if (rc) return plugin__refuse(st, plugin__refusal_of(rc), ev, schema, index, NULL);
  }
  st->accepted++;
  st->schema_stats[index].accepted++;
  st->schema_stats[index].points += out.npoints;
  return MOSQ_ERR_SUCCESS;
}
