/*
 * The plugin's state: one struct, passed as userdata to every callback. All
 * callbacks run on the broker thread, so nothing here needs a lock; the
 * engine's own threads never see this struct.
 */
#ifndef PLUGIN_PLUGIN_H
#define PLUGIN_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto_broker.h>

#include "config.h"
#include "ingest/schema.h"
#include "tsdb/serve.h"
#include "tsdb/tsdb.h"
#include "wake.h"

#define PLUGIN_NAME "tsdb"
#define PLUGIN_CONTROL_TOPIC "$CONTROL/tsdb/v1"

/*
 * Why a message was refused (MQTT reason 0x87 to v5 QoS >= 1 publishers), one
 * row per reason: the code it stands for, an INGEST_E* code of the payload's
 * or a TSDB_E* code of the engine's (0: the plugin's own reason); its name,
 * unless the ingest code names it (ingest_err_short(): "decode", ...); and
 * the sentence its error record carries, unless the schema or the decoder
 * says why. The name is the counter's, the metric's and the error record's
 * "reason": names are stable.
 */
#define PLUGIN_REFUSAL_MAP(XX)                                              \
  XX(DECODE, INGEST_EDECODE, NULL, NULL)                                    \
  XX(VALIDATE, INGEST_EVALIDATE, NULL, NULL)                                \
  XX(TIMESTAMP, INGEST_ETIMESTAMP, NULL, NULL)                              \
  XX(UNMATCHED, 0, "unmatched",                                             \
     "no schema matches the topic, and this broker refuses such topics "    \
     "(plugin_opt_unmatched refuse)")                                       \
  XX(TOOBIG, INGEST_ETOOBIG, NULL, NULL)                                    \
  XX(QUEUE_FULL, TSDB_EFULL, "queue_full",                                  \
     "the broker's storage queue is full (it is behind): publish it again " \
     "later")                                                               \
  XX(WRITE_FAILED, TSDB_EIO, "write_failed",                                \
     "storage is failing, and nothing is accepted until it works again: "   \
     "publish it again later")                                              \
  XX(RESERVED_TOPIC, 0, "reserved_topic",                                   \
     "topics under $tsdb/ are the broker's own: clients may not publish "   \
     "there")                                                               \
  XX(INTERNAL, 0, "internal", "an internal error of the broker's plugin (see its log)")

typedef enum plugin_refusal {
#define PLUGIN_REFUSAL_ENUM_(name, code, text, sentence) REFUSAL_##name,
  PLUGIN_REFUSAL_MAP(PLUGIN_REFUSAL_ENUM_)
#undef PLUGIN_REFUSAL_ENUM_
      REFUSAL_COUNT
} plugin_refusal;

/* The name of a refusal reason (a plugin_refusal): "queue_full". Never NULL. */
const char *plugin__refusal_name(int why);

/* Counters of one schema, kept across reloads by schema id. */
typedef struct plugin_schema_stats {
  char id[72];
  uint64_t accepted;
  uint64_t points;
  uint64_t refused[REFUSAL_COUNT];
} plugin_schema_stats;

typedef struct plugin_state {
  mosquitto_plugin_id_t *id;
  plugin_config cfg;
  tsdb_db *db;
  tsdb_serve *serve; /* the read protocols over db: aggregates, $CONTROL, replays */
  plugin_wake *wake; /* NULL: results leave at the next loop pass (wake.c) */
  ingest_schema_set *schemas;
  plugin_schema_stats *schema_stats; /* one per schema of the set, same order */
  /* Scratch for the message callback (broker thread only): the extracted
   * points and names, and an error record, without a per-message allocation. */
  tsdb_point points[INGEST_OUTPUT_POINTS];
  const char *names[INGEST_OUTPUT_NAMES];
  const char *units[INGEST_OUTPUT_NAMES];
  char name_text[INGEST_OUTPUT_TEXT];
  char record[INGEST_ERROR_RECORD_MAX];
  char topic_buf[1024];
  uint64_t accepted;
  uint64_t error_records;
  uint64_t error_records_unscoped; /* client ids that cannot scope a topic */
  uint64_t passed_unmatched;
  uint64_t refused[REFUSAL_COUNT];
  uint64_t refused_logged[REFUSAL_COUNT]; /* totals at the last summary line */
  int64_t next_refusal_log_ms;
  int64_t next_sys_ms;
  int64_t tick_max_us; /* longest tick since the last metrics */
} plugin_state;

/* The refusal for a failed ingest (INGEST_E*) or engine (TSDB_E*) call. */
plugin_refusal plugin__refusal_of(int rc);
/* Drops a message with MOSQ_ERR_ACL_DENIED, counted and told (refusals.c);
 * err may be NULL for the plugin's own reasons. Returns MOSQ_ERR_ACL_DENIED. */
int plugin__refuse(plugin_state *st, plugin_refusal why, const struct mosquitto_evt_message *ev,
                   const ingest_schema *schema, size_t schema_index, const ingest_error *err);

/* Callbacks, each in the file of its concern (on_reload in schemas.c). */
int plugin__on_message(int event, void *event_data, void *userdata);
int plugin__on_acl_check(int event, void *event_data, void *userdata);
int plugin__on_tick(int event, void *event_data, void *userdata);
int plugin__on_control(int event, void *event_data, void *userdata);
int plugin__on_reload(int event, void *event_data, void *userdata);

/* The schemas in force (schemas.c). Broker thread. */
/* Loads the schema directory; on failure logs and returns non-zero. */
int plugin__schemas_load(plugin_state *st, ingest_schema_set **out);
/* Puts a loaded set in force with its counters (carried over by schema id)
 * and releases the set it replaces; on failure (out of memory) returns
 * non-zero and the caller keeps set. */
int plugin__schemas_install(plugin_state *st, ingest_schema_set *set);
/* Releases the set in force and its counters. */
void plugin__schemas_release(plugin_state *st);
/* Hands results of the engine to the broker: publications (unless
 * logs_only, as during shutdown) and log lines. */
void plugin__drain_results(plugin_state *st, size_t max, bool logs_only);

int64_t plugin__now_ms(void);

/* Publishes $SYS/broker/tsdb/... and hands the plugin's counters to the
 * engine's stats command (metrics.c). Broker thread. */
void plugin__metrics(plugin_state *st);

#endif /* PLUGIN_PLUGIN_H */
