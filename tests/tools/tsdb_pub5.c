/*
 * tsdb_pub5: publish with MQTT v5 at QoS 1 through Paho MQTT C and report the
 * broker's PUBACK reason code for each message, then whether the connection
 * is still up. Integration tests use it to see the 0x87 (not authorized)
 * refusals that mosquitto_pub and python-paho 1.6 do not expose.
 *
 *   tsdb_pub5 -p PORT -t TOPIC -m PAYLOAD [-t TOPIC -m PAYLOAD ...] [-i CLIENT_ID]
 *   tsdb_pub5 -p PORT -f FILE [-i CLIENT_ID]
 *
 * With -f, FILE holds one message per line: the topic, a tab, the payload
 * (any number of lines; the fault tests publish thousands).
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

#include <stdatomic.h>

static atomic_int last_reason = -1;

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

/* Reads "topic\tpayload" lines into growing arrays (the lines are kept). */
static int read_file(const char *path, const char ***topics, const char ***payloads, int *n) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int cap = 0;
  char *line = NULL;
  size_t linecap = 0;
  ssize_t len;
  while ((len = getline(&line, &linecap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = '\0';
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      *topics = realloc((void *)*topics, (size_t)cap * sizeof **topics);
      *payloads = realloc((void *)*payloads, (size_t)cap * sizeof **payloads);
      if (!*topics || !*payloads) return -1;
    }
    (*topics)[*n] = line;
    (*payloads)[*n] = tab + 1;
    (*n)++;
    line = NULL; /* kept by the arrays */
    linecap = 0;
  }
  free(line);
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  const char *port = NULL, *id = "tsdb_pub5", *file = NULL;
  const char *arg_topics[MAX_MESSAGES], *arg_payloads[MAX_MESSAGES];
  const char **topics = arg_topics, **payloads = arg_payloads;
  int ntopics = 0, npayloads = 0, opt;
  while ((opt = getopt(argc, argv, "p:t:m:i:f:")) != -1) {
    switch (opt) {
    case 'p':
      port = optarg;
      break;
    case 't':
      if (ntopics < MAX_MESSAGES) arg_topics[ntopics++] = optarg;
      break;
    case 'm':
      if (npayloads < MAX_MESSAGES) arg_payloads[npayloads++] = optarg;
      break;
    case 'i':
      id = optarg;
      break;
    case 'f':
      file = optarg;
      break;
    default:
      goto usage;
    }
  }
  if (file) {
    if (ntopics) goto usage;
    topics = NULL;
    payloads = NULL;
    if (read_file(file, &topics, &payloads, &ntopics) != 0) {
      fprintf(stderr, "cannot read %s\n", file);
      return 2;
    }
    npayloads = ntopics;
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
    /* The PUBACK's callback sets last_reason (MQTTClient_waitForCompletion
     * polls in 100 ms steps: far too slow for thousands of messages). */
    for (int w = 0; w < 50000 && last_reason < 0; w++) usleep(100);
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
  fprintf(stderr,
          "usage: %s -p PORT (-t TOPIC -m PAYLOAD [-t TOPIC -m PAYLOAD ...] | -f FILE) [-i ID]\n",
          argv[0]);
  return 2;
}
