/*
 * paho_ceiling: how fast Paho MQTT C (the synchronous client, paho-mqtt3c)
 * publishes on one connection, against `loadgen sink`, and what it costs in
 * CPU a message. bench.py runs it next to loadgen's own ceiling: it is why
 * loadgen writes raw MQTT instead of using Paho.
 *
 *   paho_ceiling --port P [--seconds S] [--qos 0|1]
 *
 * Prints {"msgs_per_s":..,"cpu_us_per_msg":..,"sent":..}. The payload is a
 * fixed 5-field air-quality JSON message of the same size as loadgen's.
 */
#include <MQTTClient.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bench_common.h"

int main(int argc, char **argv) {
  int port = 0, qos = 0;
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port"))
      port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds"))
      seconds = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--qos"))
      qos = atoi(argv[i + 1]) ? 1 : 0;
  }
  if (!port) {
    fprintf(stderr, "usage: paho_ceiling --port P [--seconds S] [--qos 0|1]\n");
    return 2;
  }
  char uri[64];
  snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
  MQTTClient c;
  if (MQTTClient_create(&c, uri, "paho-ceiling", MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
      MQTTCLIENT_SUCCESS)
    return 1;
  MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
  co.keepAliveInterval = 60;
  co.cleansession = 1;
  co.maxInflightMessages = 20;
  if (MQTTClient_connect(c, &co) != MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "paho_ceiling: cannot connect to %s\n", uri);
    return 1;
  }
  static const char payload[] =
      "{\"ts\":\"2026-11-26T01:20:47.000Z\",\"pm10\":31.7,\"pm25\":31.7,"
      "\"no2\":1.9,\"temperature\":-14.8,\"humidity\":2.9}";
  char topic[64];
  uint64_t sent = 0;
  double cpu0 = bc_self_cpu_s();
  int64_t t0 = bc_now_ns(), end = t0 + (int64_t)(seconds * 1e9);
  while (bc_now_ns() < end) {
    for (int k = 0; k < 256; k++) {
      snprintf(topic, sizeof topic, "city/d%d/s%" PRIu64 "/air", (int)(sent % 16), sent % 1000);
      MQTTClient_deliveryToken tok;
      if (MQTTClient_publish(c, topic, (int)(sizeof payload - 1), payload, qos, 0, &tok) !=
          MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "paho_ceiling: publish failed\n");
        return 1;
      }
      if (qos) MQTTClient_waitForCompletion(c, tok, 10000);
      sent++;
    }
  }
  double secs = (double)(bc_now_ns() - t0) / 1e9, cpu = bc_self_cpu_s() - cpu0;
  MQTTClient_disconnect(c, 1000);
  MQTTClient_destroy(&c);
  printf("{\"sent\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"cpu_us_per_msg\":%.3f}\n", sent,
         (double)sent / secs, cpu / (double)sent * 1e6);
  return 0;
}
