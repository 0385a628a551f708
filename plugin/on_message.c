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
 * so internal failures are refusals that are counted and logged.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"
#include "tsdb/topic.h"

typedef struct refusal {
  int code;
  const char *name, *sentence;
} refusal;

static const refusal refusals[REFUSAL_COUNT] = {
#define PLUGIN_REFUSAL_ROW_(name, code, text, sentence) {code, text, sentence},
    PLUGIN_REFUSAL_MAP(PLUGIN_REFUSAL_ROW_)
#undef PLUGIN_REFUSAL_ROW_
};

const char *plugin__refusal_name(int why) {
  return refusals[why].name ? refusals[why].name : ingest_err_short(refusals[why].code);
}

/* The refusal for a failed ingest (INGEST_E*) or engine (TSDB_E*) call. A
 * storage failure of any kind is write_failed (the engine's queue says
 * TSDB_EIO while storage fails); a code no row stands for is internal. */
static plugin_refusal refusal_of(int rc) {
  if (rc == TSDB_ENOSPC || rc == TSDB_ECORRUPT) rc = TSDB_EIO;
  for (int i = 0; i < REFUSAL_COUNT; i++)
    if (refusals[i].code == rc) return (plugin_refusal)i;
  return REFUSAL_INTERNAL;
}

int64_t plugin__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Drops the message with MOSQ_ERR_ACL_DENIED, counts it (in total and for
 * its schema), and tells the publisher why: an error record on
 * $tsdb/errors/<client id>, published with no target client so that the
 * broker's read ACL decides who sees it. Optionally the payload goes to the
 * dead-letter topic $tsdb/dead/<topic>. Per-message log lines are at debug
 * level; the tick writes a rate-limited summary.
 */
static int refuse(plugin_state *st, plugin_refusal why, const struct mosquitto_evt_message *ev,
                  const ingest_schema *schema, size_t schema_index, const ingest_error *err) {
  const char *client = mosquitto_client_id(ev->client);
  ingest_error own;
  if (!err && refusals[why].sentence) {
    /* The plugin's own reasons: no schema, no pointer, one sentence. */
    ingest_error_set(&own, INGEST_EINVAL, "", "", "%s", refusals[why].sentence);
    err = &own;
  }
  st->refused[why]++;
  if (schema && st->schema_stats) st->schema_stats[schema_index].refused[why]++;
  mosquitto_log_printf(
      MOSQ_LOG_DEBUG, PLUGIN_NAME ": refused client=%s topic=%s reason=%s pointer=%s detail=\"%s\"",
      client ? client : "", ev->topic, plugin__refusal_name(why), err ? err->pointer : "",
      err ? err->message : "");
  if (st->cfg.error_records) {
    if (!tsdb_client_id_scopable(client)) {
      st->error_records_unscoped++;
    } else {
      ingest_error_context ctx = {
          .schema_id = schema ? ingest_schema_id(schema) : NULL,
          .schema_version = schema ? ingest_schema_version(schema) : 0,
          .topic = ev->topic,
          .topic_len = strlen(ev->topic),
          .client_id = client,
          .reason = plugin__refusal_name(why),
          .time_ms = plugin__now_ms(),
      };
      int len = ingest_error_record_json(err, &ctx, st->record, sizeof st->record);
      int n = snprintf(st->topic_buf, sizeof st->topic_buf, "$tsdb/errors/%s", client);
      if (len > 0 && n > 0 && (size_t)n < sizeof st->topic_buf &&
          mosquitto_broker_publish_copy(NULL, st->topic_buf, len, st->record, 0, false, NULL) ==
              MOSQ_ERR_SUCCESS)
        st->error_records++;
    }
  }
  if (st->cfg.dead_letter && why != REFUSAL_RESERVED_TOPIC) {
    int n = snprintf(st->topic_buf, sizeof st->topic_buf, "$tsdb/dead/%s", ev->topic);
    if (n > 0 && (size_t)n < sizeof st->topic_buf && ev->payloadlen <= INT32_MAX)
      mosquitto_broker_publish_copy(NULL, st->topic_buf, (int)ev->payloadlen, ev->payload, 0, false,
                                    NULL);
  }
  return MOSQ_ERR_ACL_DENIED;
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
    return refuse(st, REFUSAL_RESERVED_TOPIC, ev, NULL, 0, NULL);

  size_t index = 0;
  const ingest_schema *schema =
      ingest_schema_set_route_index(st->schemas, topic, topic_len, &index);
  if (!schema) {
    if (st->cfg.unmatched == UNMATCHED_REFUSE)
      return refuse(st, REFUSAL_UNMATCHED, ev, NULL, 0, NULL);
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
    return refuse(st, REFUSAL_DECODE, ev, schema, index, &err);
  }

  int64_t arrival = plugin__now_ms();
  ingest_output out;
  ingest_output_init(&out, st->points, INGEST_OUTPUT_POINTS, st->names, st->units,
                     INGEST_OUTPUT_NAMES, st->name_text, sizeof st->name_text);
  int rc = ingest_schema_process(schema, topic, topic_len, ev->payload, ev->payloadlen, arrival,
                                 &out, &err);
  if (rc) return refuse(st, refusal_of(rc), ev, schema, index, &err);
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
    if (rc) return refuse(st, refusal_of(rc), ev, schema, index, NULL);
  }
  st->accepted++;
  st->schema_stats[index].accepted++;
  st->schema_stats[index].points += out.npoints;
  return MOSQ_ERR_SUCCESS;
}
