/*
 * The schemas in force: loading the schema directory, putting a set in force
 * with its per-schema counters, and MOSQ_EVT_RELOAD (SIGHUP), which loads
 * the directory again. All on the broker thread: the message callback reads
 * st->schemas without a lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

int plugin__schemas_load(plugin_state *st, ingest_schema_set **out) {
  char err[512] = "";
  if (ingest_schema_set_load_dir(st->cfg.schema_dir, out, err, sizeof err) != 0) {
    mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": schema error: %s", err);
    return -1;
  }
  for (size_t i = 0; i < ingest_schema_set_count(*out); i++) {
    const ingest_schema *s = ingest_schema_set_at(*out, i);
    mosquitto_log_printf(MOSQ_LOG_INFO, PLUGIN_NAME ": schema id=%s version=%u topic=%s fields=%zu",
                         ingest_schema_id(s), ingest_schema_version(s), ingest_schema_topic(s),
                         ingest_schema_nfields(s));
  }
  return 0;
}

int plugin__schemas_install(plugin_state *st, ingest_schema_set *set) {
  size_t n = ingest_schema_set_count(set);
  plugin_schema_stats *stats = calloc(n ? n : 1, sizeof *stats);
  if (!stats) return -1;
  size_t old_n = st->schemas ? ingest_schema_set_count(st->schemas) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *id = ingest_schema_id(ingest_schema_set_at(set, i));
    snprintf(stats[i].id, sizeof stats[i].id, "%s", id);
    /* A schema that stays (by id) keeps counting where it was. */
    for (size_t k = 0; st->schema_stats && k < old_n; k++)
      if (!strcmp(st->schema_stats[k].id, id)) stats[i] = st->schema_stats[k];
  }
  plugin__schemas_release(st);
  st->schemas = set;
  st->schema_stats = stats;
  return 0;
}

void plugin__schemas_release(plugin_state *st) {
  ingest_schema_set_release(st->schemas);
  free(st->schema_stats);
  st->schemas = NULL;
  st->schema_stats = NULL;
}

/* Mosquitto 2.0.11 runs the reload callbacks in turn and stops at the first
 * that does not return MOSQ_ERR_PLUGIN_DEFER, skipping every later plugin's
 * reload and the v4 auth plugins' security_init (src/security.c,
 * security__init_single): so this one always defers. */
int plugin__on_reload(int event, void *event_data, void *userdata) {
  (void)event;
  (void)event_data;
  plugin_state *st = userdata;
  ingest_schema_set *fresh;
  if (plugin__schemas_load(st, &fresh) != 0) {
    /* All or nothing: the schemas in force stay in force. */
    mosquitto_log_printf(MOSQ_LOG_ERR,
                         PLUGIN_NAME ": reload failed, keeping the %zu schemas in force",
                         ingest_schema_set_count(st->schemas));
    return MOSQ_ERR_PLUGIN_DEFER;
  }
  /* Messages already queued hold their own class references, so the old set
   * can go at once. Both callbacks run on the broker thread: no race. */
  if (plugin__schemas_install(st, fresh) != 0) {
    mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": reload failed (out of memory)");
    ingest_schema_set_release(fresh);
    return MOSQ_ERR_PLUGIN_DEFER;
  }
  mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": reloaded schemas=%zu",
                       ingest_schema_set_count(fresh));
  return MOSQ_ERR_PLUGIN_DEFER;
}
