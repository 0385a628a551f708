/*
 * MOSQ_EVT_ACL_CHECK: each of the plugin's reply namespaces belongs to one
 * client.
 *
 *   $tsdb/reply/<X>[/<data topic>]        command answers
 *   $tsdb/replay/<X>/<replay>[/<topic>]   replayed messages and progress
 *   $tsdb/errors/<X>                      error records of refused messages
 *   $tsdb/admin/<X>/<what>                answers only operators may read
 *
 * are meant for the client whose id is exactly X. An acl_file cannot say
 * that: `pattern read $tsdb/replay/%c/#` expands, for a client that calls
 * itself "alice-1/r1", to $tsdb/replay/alice-1/r1/#, which is alice-1's
 * replay r1 (issue 12; Mosquitto 2.0.11 refuses %c substitution for ids
 * with '+' or '#', not with '/'). So this check denies reading (and
 * subscribing to) a namespace of another client id, and any of them to a
 * client id with '/', '+' or '#' (nothing is ever published for those).
 * Everything else it leaves to the broker's ACL: within its own namespace a
 * client still needs the acl_file's grant (bob's deny lines for
 * $tsdb/reply/+/city/secret/# keep working).
 *
 * How Mosquitto 2.0.11 combines ACL answers (src/security.c,
 * mosquitto_acl_check, and docs/mosquitto-2.0-facts.md): $SYS writes and
 * $share publishes are decided before any callback; then the MOSQ_EVT_ACL_CHECK
 * callbacks run in registration order and the first answer other than
 * MOSQ_ERR_PLUGIN_DEFER decides; then v4 auth plugins; if every check
 * deferred the answer is a denial. Plugins register when they load, and the
 * acl_file's check registers after all plugins (mosquitto_security_init_default,
 * also after a SIGHUP), so this check always runs before the acl_file's.
 * Deferring therefore hands the decision to the acl_file or to a later ACL
 * plugin, and on a broker with none of them would deny everything: that is
 * what `acl_fallback allow` is for.
 *
 * Broker thread, per subscription filter and per delivered message: string
 * comparisons only, no allocation.
 */
#include <stdbool.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "plugin.h"
#include "tsdb/topic.h"

static const char *const owned_namespaces[] = {"reply", "replay", "errors", "admin"};

/* The length of the topic level starting at s. */
static size_t level_len(const char *s) {
  const char *slash = strchr(s, '/');
  return slash ? (size_t)(slash - s) : strlen(s);
}

/*
 * For a topic or filter under $tsdb/: whether its second level is one of
 * the owned namespaces, and where the owner level starts (*owner, NULL when
 * the topic ends before it).
 */
static bool owned_namespace(const char *topic, const char **owner) {
  if (strncmp(topic, "$tsdb/", 6) != 0) return false;
  const char *ns = topic + 6;
  size_t n = level_len(ns);
  for (size_t i = 0; i < sizeof owned_namespaces / sizeof owned_namespaces[0]; i++) {
    if (strlen(owned_namespaces[i]) == n && !memcmp(ns, owned_namespaces[i], n)) {
      *owner = ns[n] == '/' ? ns + n + 1 : NULL;
      return true;
    }
  }
  return false;
}

/* Whether the owner level starting at `owner` is exactly `client`. */
static bool owner_is(const char *owner, const char *client) {
  size_t n = level_len(owner);
  return n == strlen(client) && !memcmp(owner, client, n);
}

int plugin__on_acl_check(int event, void *event_data, void *userdata) {
  (void)event;
  const struct mosquitto_evt_acl_check *ev = event_data;
  const plugin_state *st = userdata;
  int fallback =
      st->cfg.acl_fallback == ACL_FALLBACK_ALLOW ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PLUGIN_DEFER;
  if (ev->access != MOSQ_ACL_READ && ev->access != MOSQ_ACL_SUBSCRIBE) return fallback;
  const char *topic = ev->topic;
  if (!topic) return fallback;
  if (ev->access == MOSQ_ACL_SUBSCRIBE && !strncmp(topic, "$share/", 7)) {
    /* $share/<group>/<filter>: the filter is what is read. */
    const char *group_end = strchr(topic + 7, '/');
    if (!group_end) return fallback;
    topic = group_end + 1;
  }
  const char *owner;
  if (!owned_namespace(topic, &owner)) return fallback;
  const char *client = mosquitto_client_id(ev->client);
  if (!tsdb_client_id_scopable(client)) return MOSQ_ERR_ACL_DENIED;
  if (!owner) return fallback; /* "$tsdb/reply": nothing is published there */
  if (owner_is(owner, client)) return fallback;
  /* A filter with a wildcard at the owner level ("$tsdb/reply/#") may be
   * subscribed: the check of each message it would deliver (READ, with
   * the real topic) lets through only the client's own. */
  if (ev->access == MOSQ_ACL_SUBSCRIBE && (owner[0] == '+' || owner[0] == '#') &&
      level_len(owner) == 1)
    return fallback;
  return MOSQ_ERR_ACL_DENIED;
}
