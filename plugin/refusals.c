/*
 * Refusals: why a message is dropped (one table, PLUGIN_REFUSAL_MAP in
 * plugin.h), how an ingest or engine error becomes a reason (a storage
 * failure of any kind, full disk or damaged data, is write_failed), and what
 * a refusal does: count, log at debug level, tell the publisher, and
 * optionally keep the payload on the dead-letter topic. Broker thread only.
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

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
plugin_refusal plugin__refusal_of(int rc) {
  if (rc == TSDB_ENOSPC || rc == TSDB_ECORRUPT) rc = TSDB_EIO;
  for (int i = 0; i < REFUSAL_COUNT; i++)
    if (refusals[i].code == rc) return (plugin_refusal)i;
  return REFUSAL_INTERNAL;
}

/*
 * Drops the message with MOSQ_ERR_ACL_DENIED, counts it (in total and for
 * its schema), and tells the publisher why: an error record on
 * $tsdb/errors/<client id>, published with no target client so that the
 * broker's read ACL decides who sees it. Optionally the payload goes to the
 * dead-letter topic $tsdb/dead/<topic>. Per-message log lines are at debug
 * level; the tick writes a rate-limited summary.
 */
int plugin__refuse(plugin_state *st, plugin_refusal why, const struct mosquitto_evt_message *ev,
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
