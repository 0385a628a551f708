/*
 * MOSQ_EVT_CONTROL for $CONTROL/tsdb/v1.
 *
 * A command request is copied to the engine's control queue and answered
 * later from a control thread through the tick; this callback never parses
 * or reads storage. It always returns success: a non-zero return would
 * disconnect the client (docs/mosquitto-2.0-facts.md); errors become answers.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"

int plugin__on_control(int event, void *event_data, void *userdata) {
  (void)event;
  struct mosquitto_evt_control *ev = event_data;
  plugin_state *st = userdata;
  const char *client = mosquitto_client_id(ev->client);
  tsdb_serve_control_submit(st->serve, client ? client : "", ev->payload, ev->payloadlen);
  return MOSQ_ERR_SUCCESS;
}
