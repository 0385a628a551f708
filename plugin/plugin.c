/*
 * mosquitto-tsdb: the Mosquitto 2.0 plugin (API v5) entry points.
 *
 * This file holds only the three exported functions and callback
 * registration; the work is in on_message.c, on_acl.c, on_tick.c,
 * on_control.c and schemas.c (loading and SIGHUP reload), and in the
 * broker-free engine (engine/) and ingest (ingest/) libraries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "plugin.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions);
EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                                 struct mosquitto_opt *options, int option_count);
EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                                    int option_count);

EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions) {
  for (int i = 0; i < supported_version_count; i++)
    if (supported_versions[i] == 5) return 5;
  return -1;
}

static void engine_open_fail(plugin_state *st) {
  tsdb_serve_close(st->serve);
  plugin_wake__stop(st->wake);
  plugin__schemas_release(st);
  free(st);
}

EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                                 struct mosquitto_opt *options, int option_count) {
  plugin_state *st = calloc(1, sizeof *st);
  if (!st) return MOSQ_ERR_NOMEM;
  st->id = identifier;
  plugin_config__defaults(&st->cfg);
  for (int i = 0; i < option_count; i++) {
    char err[512];
    if (plugin_config__set(&st->cfg, options[i].key, options[i].value, err, sizeof err) != 0) {
      mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": configuration error: %s", err);
      free(st);
      return MOSQ_ERR_INVAL;
    }
  }
  ingest_schema_set *set;
  if (plugin__schemas_load(st, &set) != 0) {
    free(st);
    return MOSQ_ERR_INVAL;
  }
  if (plugin__schemas_install(st, set) != 0) {
    ingest_schema_set_release(set);
    free(st);
    return MOSQ_ERR_NOMEM;
  }

  tsdb_options o;
  tsdb_options_init(&o);
  o.path = st->cfg.data_dir;
  o.queue_bytes = (size_t)(st->cfg.queue_size / 2);
  o.flush_interval_ms = st->cfg.flush_interval_ms;
  o.grace_ms = (uint32_t)st->cfg.grace_ms;
  o.partial_interval_ms = (uint32_t)st->cfg.partial_interval_ms;
  o.cache_mb = st->cfg.cache_mb;
  o.fsync_wal = st->cfg.durability == DURABILITY_FSYNC;
  o.archive_retention_ms = st->cfg.archive_retention_ms;
  o.wal_recovery = st->cfg.wal_recovery;
  /* A data directory that cannot be used now (permissions, a full disk)
   * must not take the broker down: messages are refused until it can. */
  o.open_retry = true;
  /* serve/ first: the engine's writer publishes into its outbox from the
   * start. Engine and serve/ logs come back through it to on_tick, because
   * mosquitto_log_printf() may only be called on the broker thread. */
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  so.control_threads = st->cfg.control_threads;
  so.max_answer_rows = st->cfg.max_answer_rows;
  so.max_replays = st->cfg.max_replays;
  st->wake = plugin_wake__start(); /* on the broker thread, before any engine thread */
  so.results_notify_fn = st->wake ? plugin_wake__notify : NULL;
  so.results_notify_ud = st->wake;
  char err[512] = "";
  int rc = tsdb_serve_open(&so, &st->serve, err, sizeof err);
  if (rc == 0) {
    tsdb_serve_engine_options(st->serve, &o);
    rc = tsdb_open(&o, &st->db, err, sizeof err);
    if (rc == 0 && (rc = tsdb_serve_start(st->serve, st->db, err, sizeof err)) != 0) {
      tsdb_close(st->db);
      st->db = NULL;
    }
  }
  if (rc) {
    mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot open the database in '%s': %s",
                         st->cfg.data_dir, err);
    engine_open_fail(st);
    return MOSQ_ERR_UNKNOWN;
  }
  st->next_refusal_log_ms = plugin__now_ms() + st->cfg.refusal_log_interval_ms;

  int reg = mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, plugin__on_message, NULL, st);
  reg |=
      mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, plugin__on_acl_check, NULL, st);
  reg |= mosquitto_callback_register(identifier, MOSQ_EVT_TICK, plugin__on_tick, NULL, st);
  reg |= mosquitto_callback_register(identifier, MOSQ_EVT_CONTROL, plugin__on_control,
                                     PLUGIN_CONTROL_TOPIC, st);
  reg |= mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, plugin__on_reload, NULL, st);
  if (reg != MOSQ_ERR_SUCCESS) {
    mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot register callbacks");
    mosquitto_callback_unregister(identifier, MOSQ_EVT_MESSAGE, plugin__on_message, NULL);
    mosquitto_callback_unregister(identifier, MOSQ_EVT_ACL_CHECK, plugin__on_acl_check, NULL);
    mosquitto_callback_unregister(identifier, MOSQ_EVT_TICK, plugin__on_tick, NULL);
    mosquitto_callback_unregister(identifier, MOSQ_EVT_CONTROL, plugin__on_control,
                                  PLUGIN_CONTROL_TOPIC);
    mosquitto_callback_unregister(identifier, MOSQ_EVT_RELOAD, plugin__on_reload, NULL);
    tsdb_serve_stop(st->serve);
    tsdb_close(st->db);
    engine_open_fail(st);
    return MOSQ_ERR_UNKNOWN;
  }
  tsdb_stats stats;
  tsdb_stats_get(st->db, &stats);
  mosquitto_log_printf(stats.storage_failing ? MOSQ_LOG_ERR : MOSQ_LOG_NOTICE,
                       PLUGIN_NAME
                       ": started data_dir=%s schema_dir=%s schemas=%zu unmatched=%s durability=%s "
                       "acl_fallback=%s storage=%s",
                       st->cfg.data_dir, st->cfg.schema_dir, ingest_schema_set_count(st->schemas),
                       plugin_config__word(&st->cfg, "unmatched"),
                       plugin_config__word(&st->cfg, "durability"),
                       plugin_config__word(&st->cfg, "acl_fallback"),
                       stats.storage_failing ? "unavailable (messages refused, retrying)" : "ok");
  *userdata = st;
  return MOSQ_ERR_SUCCESS;
}

EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                                    int option_count) {
  (void)options;
  (void)option_count;
  plugin_state *st = userdata;
  if (!st) return MOSQ_ERR_SUCCESS;
  /* Order: stop new work reaching the engine, shut it down (drains the
   * ingest queue into RocksDB and joins its threads), log what it said,
   * then free it. */
  mosquitto_callback_unregister(st->id, MOSQ_EVT_MESSAGE, plugin__on_message, NULL);
  mosquitto_callback_unregister(st->id, MOSQ_EVT_ACL_CHECK, plugin__on_acl_check, NULL);
  mosquitto_callback_unregister(st->id, MOSQ_EVT_CONTROL, plugin__on_control, PLUGIN_CONTROL_TOPIC);
  mosquitto_callback_unregister(st->id, MOSQ_EVT_RELOAD, plugin__on_reload, NULL);
  mosquitto_callback_unregister(st->id, MOSQ_EVT_TICK, plugin__on_tick, NULL);
  tsdb_serve_stop(st->serve);
  tsdb_shutdown(st->db);
  plugin__drain_results(st, SIZE_MAX, true);
  tsdb_stats stats;
  tsdb_stats_get(st->db, &stats);
  tsdb_close(st->db);
  tsdb_serve_close(st->serve);
  plugin_wake__stop(st->wake); /* after the engine and serve/: nothing notifies any more */
  mosquitto_log_printf(stats.messages_lost ? MOSQ_LOG_ERR : MOSQ_LOG_NOTICE,
                       PLUGIN_NAME
                       ": stopped accepted=%llu points_written=%llu series=%llu messages_lost=%llu "
                       "points_lost=%llu",
                       (unsigned long long)st->accepted, (unsigned long long)stats.points_written,
                       (unsigned long long)stats.series, (unsigned long long)stats.messages_lost,
                       (unsigned long long)stats.points_lost);
  plugin__schemas_release(st);
  free(st);
  return MOSQ_ERR_SUCCESS;
}
