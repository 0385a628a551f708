/*
 * MOSQ_EVT_TICK: the only safe way back onto the broker thread. Publishes
 * what the engine produced (aggregates, command answers) and logs its lines,
 * at most tick_max_results per pass so the broker's loop never stalls behind
 * a large answer. Also writes the rate-limited summary of refusals.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

static int mosq_level(int level) {
  switch (level) {
  case TSDB_LOG_ERROR:
    return MOSQ_LOG_ERR;
  case TSDB_LOG_WARNING:
    return MOSQ_LOG_WARNING;
  case TSDB_LOG_NOTICE:
    return MOSQ_LOG_NOTICE;
  case TSDB_LOG_INFO:
    return MOSQ_LOG_INFO;
  default:
    return MOSQ_LOG_DEBUG;
  }
}

typedef struct drain_ctx {
  plugin_state *st;
  bool logs_only;
} drain_ctx;

static void deliver(void *ud, const tsdb_result *r) {
  drain_ctx *ctx = ud;
  if (r->kind == TSDB_RESULT_LOG) {
    mosquitto_log_printf(mosq_level(r->level), PLUGIN_NAME ": %s", r->payload);
    return;
  }
  if (ctx->logs_only || r->payload_len > INT32_MAX) return;
  /* No target client: the broker checks every subscriber's read ACL. */
  int rc = mosquitto_broker_publish_copy(NULL, r->topic, (int)r->payload_len, r->payload, r->qos,
                                         r->retain, NULL);
  if (rc != MOSQ_ERR_SUCCESS)
    mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": publish failed topic=%s error=%d",
                         r->topic, rc);
}

void plugin__drain_results(plugin_state *st, size_t max, bool logs_only) {
  drain_ctx ctx = {st, logs_only};
  tsdb_serve_drain_bounded(st->serve, max, logs_only ? SIZE_MAX : st->cfg.tick_max_bytes, deliver,
                           &ctx);
}

static void log_refusals(plugin_state *st, int64_t now) {
  if (now < st->next_refusal_log_ms) return;
  st->next_refusal_log_ms = now + st->cfg.refusal_log_interval_ms;
  char line[512];
  size_t off = 0;
  uint64_t total = 0;
  for (int i = 0; i < REFUSAL_COUNT; i++) {
    uint64_t n = st->refused[i] - st->refused_logged[i];
    st->refused_logged[i] = st->refused[i];
    if (!n) continue;
    total += n;
    int w = snprintf(line + off, sizeof line - off, " %s=%" PRIu64, plugin__refusal_name(i), n);
    if (w > 0 && (size_t)w < sizeof line - off) off += (size_t)w;
  }
  if (total)
    mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": refused messages=%" PRIu64 "%s", total,
                         line);
}

int plugin__on_tick(int event, void *event_data, void *userdata) {
  (void)event;
  (void)event_data;
  plugin_state *st = userdata;
  plugin_wake__tick(st->wake); /* before the drain: see wake.c, Ordering */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  plugin__drain_results(st, st->cfg.tick_max_results, false);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
  if (us > st->tick_max_us) st->tick_max_us = us;
  int64_t now = plugin__now_ms();
  log_refusals(st, now);
  if (st->cfg.sys_interval_ms && now >= st->next_sys_ms) {
    st->next_sys_ms = now + st->cfg.sys_interval_ms;
    plugin__metrics(st);
  }
  return MOSQ_ERR_SUCCESS;
}
