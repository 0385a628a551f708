/*
 * tsdb_pub5: publish with MQTT v5 at QoS 1 through Paho MQTT C and report the
 * broker's PUBACK reason code for each message, then whether the connection
 * is still up. Integration tests use it to see the 0x87 (not authorized)
 * refusals that mosquitto_pub and python-paho 1.6 do not expose.
 *
 *   tsdb_pub5 -p PORT -t TOPIC -m PAYLOAD [-t TOPIC -m PAYLOAD ...] [-i CLIENT_ID]
 *
 * Output, one line per message then one summary line:
 *   puback topic=<topic> reason=<decimal code>
 *   connected=<0|1>
 * Exit status 0 when every message got a PUBACK, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>

#define MAX_MESSAGES 64

static volatile int last_reason = -1;

static void on_published(void *ctx, int token, int packet_type, MQTTProperties *props,
                         enum MQTTReasonCodes reason) {
  (void)ctx;
  (void)token;
  (void)packet_type;
  (void)props;
  last_reason = (int)reason;
}

static int on_message(void *ctx, char *topic, int len, MQTTClient_message *m) {
  (void)ctx;
  (void)len;
  MQTTClient_freeMessage(&m);
  MQTTClient_free(topic);
  return 1;
}

static void on_lost(void *ctx, char *cause) {
  (void)ctx;
  fprintf(stderr, "connection lost: %s\n", cause ? cause : "?");
}

int main(int argc, char **argv) {
  const char *port = NULL, *id = "tsdb_pub5";
  const char *topics[MAX_MESSAGES], *payloads[MAX_MESSAGES];
  int ntopics = 0, npayloads = 0, opt;
  while ((opt = getopt(argc, argv, "p:t:m:i:")) != -1) {
    switch (opt) {
    case 'p': port = optarg; break;
    case 't': if (ntopics < MAX_MESSAGES) topics[ntopics++] = optarg; break;
    case 'm': if (npayloads < MAX_MESSAGES) payloads[npayloads++] = optarg; break;
    case 'i': id = optarg; break;
    default: goto usage;
    }
  }
  if (!port || ntopics == 0 || ntopics != npayloads) goto usage;

  char uri[64];
  snprintf(uri, sizeof uri, "tcp://127.0.0.1:%s", port);
  MQTTClient client;
  MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
  create.MQTTVersion = MQTTVERSION_5;
  if (MQTTClient_createWithOptions(&client, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &create) !=
      MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "cannot create client\n");
    return 2;
  }
  MQTTClient_setCallbacks(client, NULL, on_lost, on_message, NULL);
  MQTTClient_setPublished(client, NULL, on_published);
  MQTTClient_connectOptions conn = MQTTClient_connectOptions_initializer5;
  conn.cleanstart = 1;
  MQTTResponse r = MQTTClient_connect5(client, &conn, NULL, NULL);
  if (r.reasonCode != MQTTREASONCODE_SUCCESS) {
    fprintf(stderr, "connect failed: reason %d\n", (int)r.reasonCode);
    MQTTResponse_free(r);
    MQTTClient_destroy(&client);
    return 2;
  }
  MQTTResponse_free(r);

  int status = 0;
  for (int i = 0; i < ntopics; i++) {
    MQTTClient_message msg = MQTTClient_message_initializer;
    msg.payload = (void *)payloads[i];
    msg.payloadlen = (int)strlen(payloads[i]);
    msg.qos = 1;
    MQTTClient_deliveryToken token = 0;
    last_reason = -1;
    r = MQTTClient_publishMessage5(client, topics[i], &msg, &token);
    MQTTResponse_free(r);
    MQTTClient_waitForCompletion(client, token, 5000);
    for (int w = 0; w < 500 && last_reason < 0; w++) usleep(10000);
    printf("puback topic=%s reason=%d\n", topics[i], last_reason);
    if (last_reason < 0) status = 1;
  }
  usleep(100000); /* a disconnect by the broker would have arrived by now */
  printf("connected=%d\n", MQTTClient_isConnected(client) ? 1 : 0);
  fflush(stdout);
  MQTTClient_disconnect5(client, 1000, MQTTREASONCODE_SUCCESS, NULL);
  MQTTClient_destroy(&client);
  return status;

usage:
  fprintf(stderr, "usage: %s -p PORT -t TOPIC -m PAYLOAD [-t TOPIC -m PAYLOAD ...] [-i ID]\n",
          argv[0]);
  return 2;
}
