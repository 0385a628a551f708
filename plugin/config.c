#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb.h"

#define QUEUE_SIZE_MIN (64ull << 10)
#define QUEUE_SIZE_MAX (16ull << 30)
#define FLUSH_INTERVAL_MAX 1000
#define GRACE_MAX_MS (24ll * 3600 * 1000)
#define CACHE_MB_MIN 8
#define CACHE_MB_MAX 65536
#define CONTROL_THREADS_MAX 16
#define ANSWER_ROWS_MAX 1000000
#define TICK_RESULTS_MAX 100000

const plugin_option_doc plugin_option_docs[] = {
    {"data_dir", "/var/lib/mosquitto/tsdb",
     "Directory of the embedded RocksDB database. Created if missing; must be writable by the "
     "user the broker runs as."},
    {"schema_dir", "/etc/mosquitto/tsdb/schemas",
     "Directory of schema files: `<name>/schema.json` and `*.schema.json`. Re-read on SIGHUP."},
    {"unmatched", "pass",
     "What to do with a publish whose topic no schema matches: `pass` (deliver untouched) or "
     "`refuse` (drop with reason 0x87)."},
    {"durability", "async",
     "When a QoS 1/2 message is acknowledged: `async` once queued (a broker crash can lose the "
     "last `flush_interval_ms`), `sync` once its points are in RocksDB's write-ahead log (a "
     "broker crash loses nothing acknowledged), `fsync` once the log is also fsynced (power "
     "loss too). QoS 0 messages are never waited for."},
    {"queue_size", "64M",
     "Memory for messages waiting to be written (`K`, `M`, `G` suffixes). When it is full, "
     "messages are refused with 0x87 and counted, never blocked."},
    {"flush_interval_ms", "100",
     "`async` mode: how long the writer gathers messages into one RocksDB batch (0-1000). A "
     "broker crash can lose the messages of this window plus one write; what reached the WAL "
     "is kept. Longer windows write fewer, larger operands: at 20 000 msg/s, 100 ms costs "
     "about half the CPU of 5 ms. Durable (`sync`) messages and waiting queries end a window "
     "at once."},
    {"grace", "5s",
     "How long after a bucket ends its aggregate waits for late points before it is published "
     "as final."},
    {"partial_interval", "5s",
     "How often an open bucket's aggregate is published with state `partial` while points "
     "arrive (per topic and tier), or `0` for finals and corrections only."},
    {"cache_mb", "64",
     "RocksDB block cache in MiB, plus a quarter of it for decoded aggregate blocks (what long "
     "aggregate queries read again and again)."},
    {"control_threads", "1", "Threads that answer `$CONTROL/tsdb/v1` commands (1-16)."},
    {"max_answer_rows", "10000", "Rows per query answer; longer answers are paged with `next`."},
    {"tick_max_results", "256",
     "Publications made per broker loop pass, so a large answer never stalls the broker."},
    {"tick_max_bytes", "256K",
     "Payload bytes published per broker loop pass (at least one message goes), the other bound "
     "on the time the plugin takes from the broker's loop."},
    {"sys_interval", "10s",
     "How often the plugin's metrics are published, retained, under `$SYS/broker/tsdb/` (`0`: "
     "never)."},
    {"refusal_log_interval", "60s",
     "Refused messages are summed up in one log line per interval, so a faulty device cannot "
     "flood the log."},
    {"archive_retention", "7d",
     "How long accepted original messages are kept for `replay` (compressed, in their own "
     "column family), or `0` for no archive and no replay."},
    {"max_replays", "4", "Replays running at once (1-64)."},
    {"error_records", "on",
     "Publish an error record for every refused message on `$tsdb/errors/<client id>`: schema, "
     "JSON pointer, keyword, expected and actual value (`on` or `off`)."},
    {"dead_letter", "off",
     "Republish the original payload of every refused message on `$tsdb/dead/<topic>` (`on` or "
     "`off`)."},
    {"wal_recovery", "point_in_time",
     "What a damaged write-ahead log does at start (a write cut short by a crash, or a damaged "
     "disk): `point_in_time` recovers everything before the damage, drops the rest and says so "
     "at error level, after copying the log files to `<data_dir>/wal-damaged-<time>/`; "
     "`strict` refuses to start."},
    {"acl_fallback", "defer",
     "The plugin's ACL check denies reading another client's answers, replays and error "
     "records (see ACLs). `defer`: every other decision is the broker's `acl_file` or ACL "
     "plugin's. `allow`: for a broker with no ACL at all, where Mosquitto would deny what every "
     "check deferred; the plugin then allows everything else itself, and no `acl_file` or ACL "
     "plugin is asked."},
};
const size_t plugin_option_count = sizeof plugin_option_docs / sizeof plugin_option_docs[0];

void plugin_config__defaults(plugin_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->data_dir, sizeof c->data_dir, "/var/lib/mosquitto/tsdb");
  snprintf(c->schema_dir, sizeof c->schema_dir, "/etc/mosquitto/tsdb/schemas");
  c->unmatched = UNMATCHED_PASS;
  c->queue_size = 64ull << 20;
  c->flush_interval_ms = 100;
  c->grace_ms = 5000;
  c->partial_interval_ms = 5000;
  c->cache_mb = 64;
  c->control_threads = 1;
  c->max_answer_rows = 10000;
  c->tick_max_results = 256;
  c->tick_max_bytes = 256u << 10;
  c->sys_interval_ms = 10000;
  c->refusal_log_interval_ms = 60000;
  c->archive_retention_ms = 7LL * 86400000;
  c->max_replays = 4;
  c->error_records = true;
  c->dead_letter = false;
  c->wal_recovery = TSDB_WAL_POINT_IN_TIME;
  c->acl_fallback = ACL_FALLBACK_DEFER;
}

static int parse_bool(const char *value, bool *out) {
  if (!strcmp(value, "on") || !strcmp(value, "true")) {
    *out = true;
    return 0;
  }
  if (!strcmp(value, "off") || !strcmp(value, "false")) {
    *out = false;
    return 0;
  }
  return -1;
}

static int fail(char *err, size_t errlen, const char *key, const char *value, const char *want) {
  snprintf(err, errlen, "plugin_opt_%s: invalid value '%s': expected %s", key, value, want);
  return -1;
}

static int parse_u64(const char *value, uint64_t min, uint64_t max, uint64_t *out) {
  if (*value < '0' || *value > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(value, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_size(const char *value, uint64_t min, uint64_t max, uint64_t *out) {
  if (*value < '0' || *value > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(value, &end, 10);
  if (errno) return -1;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, end++;
  else if (*end == 'M' || *end == 'm') shift = 20, end++;
  else if (*end == 'G' || *end == 'g') shift = 30, end++;
  if (*end || v > (UINT64_MAX >> shift)) return -1;
  v <<= shift;
  if (v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_path(const char *value, char *out, size_t len) {
  if (!*value || strlen(value) >= len) return -1;
  snprintf(out, len, "%s", value);
  return 0;
}

int plugin_config__set(plugin_config *c, const char *key, const char *value, char *err,
                       size_t errlen) {
  uint64_t u;
  int64_t ms;
  if (!value) value = "";
  if (!strcmp(key, "data_dir")) {
    if (parse_path(value, c->data_dir, sizeof c->data_dir))
      return fail(err, errlen, key, value, "a directory path");
  } else if (!strcmp(key, "schema_dir")) {
    if (parse_path(value, c->schema_dir, sizeof c->schema_dir))
      return fail(err, errlen, key, value, "a directory path");
  } else if (!strcmp(key, "unmatched")) {
    if (!strcmp(value, "pass"))
      c->unmatched = UNMATCHED_PASS;
    else if (!strcmp(value, "refuse"))
      c->unmatched = UNMATCHED_REFUSE;
    else
      return fail(err, errlen, key, value, "'pass' or 'refuse'");
  } else if (!strcmp(key, "durability")) {
    if (!strcmp(value, "async"))
      c->durability = DURABILITY_ASYNC;
    else if (!strcmp(value, "sync"))
      c->durability = DURABILITY_SYNC;
    else if (!strcmp(value, "fsync"))
      c->durability = DURABILITY_FSYNC;
    else
      return fail(err, errlen, key, value, "'async', 'sync' or 'fsync'");
  } else if (!strcmp(key, "queue_size")) {
    if (parse_size(value, QUEUE_SIZE_MIN, QUEUE_SIZE_MAX, &u))
      return fail(err, errlen, key, value, "a size from 64K to 16G, e.g. 64M");
    c->queue_size = u;
  } else if (!strcmp(key, "flush_interval_ms")) {
    if (parse_u64(value, 0, FLUSH_INTERVAL_MAX, &u))
      return fail(err, errlen, key, value, "an integer from 0 to 1000");
    c->flush_interval_ms = (uint32_t)u;
  } else if (!strcmp(key, "grace")) {
    if (!strcmp(value, "0")) {
      c->grace_ms = 0;
    } else if (tsdb_duration_parse(value, &ms) || ms > GRACE_MAX_MS) {
      return fail(err, errlen, key, value, "a duration up to 1d, e.g. 5s (or 0)");
    } else {
      c->grace_ms = ms;
    }
  } else if (!strcmp(key, "partial_interval")) {
    if (!strcmp(value, "0")) {
      c->partial_interval_ms = 0;
    } else if (tsdb_duration_parse(value, &ms) || ms > GRACE_MAX_MS) {
      return fail(err, errlen, key, value, "a duration up to 1d, e.g. 5s (or 0)");
    } else {
      c->partial_interval_ms = ms;
    }
  } else if (!strcmp(key, "cache_mb")) {
    if (parse_u64(value, CACHE_MB_MIN, CACHE_MB_MAX, &u))
      return fail(err, errlen, key, value, "an integer from 8 to 65536");
    c->cache_mb = (uint32_t)u;
  } else if (!strcmp(key, "control_threads")) {
    if (parse_u64(value, 1, CONTROL_THREADS_MAX, &u))
      return fail(err, errlen, key, value, "an integer from 1 to 16");
    c->control_threads = (uint32_t)u;
  } else if (!strcmp(key, "max_answer_rows")) {
    if (parse_u64(value, 1, ANSWER_ROWS_MAX, &u))
      return fail(err, errlen, key, value, "an integer from 1 to 1000000");
    c->max_answer_rows = (uint32_t)u;
  } else if (!strcmp(key, "tick_max_results")) {
    if (parse_u64(value, 1, TICK_RESULTS_MAX, &u))
      return fail(err, errlen, key, value, "an integer from 1 to 100000");
    c->tick_max_results = (uint32_t)u;
  } else if (!strcmp(key, "tick_max_bytes")) {
    if (parse_size(value, 1024, 64ull << 20, &u))
      return fail(err, errlen, key, value, "a size from 1K to 64M, e.g. 256K");
    c->tick_max_bytes = u;
  } else if (!strcmp(key, "sys_interval")) {
    if (!strcmp(value, "0")) {
      c->sys_interval_ms = 0;
    } else if (tsdb_duration_parse(value, &ms) || ms < 1000) {
      return fail(err, errlen, key, value, "a duration of at least 1s, e.g. 10s (or 0)");
    } else {
      c->sys_interval_ms = ms;
    }
  } else if (!strcmp(key, "refusal_log_interval")) {
    if (tsdb_duration_parse(value, &ms) || ms < 1000)
      return fail(err, errlen, key, value, "a duration of at least 1s, e.g. 60s");
    c->refusal_log_interval_ms = ms;
  } else if (!strcmp(key, "archive_retention")) {
    if (!strcmp(value, "0")) {
      c->archive_retention_ms = 0;
    } else if (tsdb_duration_parse(value, &ms) || ms < 60000) {
      return fail(err, errlen, key, value, "a duration of at least 1m, e.g. 7d (or 0)");
    } else {
      c->archive_retention_ms = ms;
    }
  } else if (!strcmp(key, "max_replays")) {
    if (parse_u64(value, 1, 64, &u)) return fail(err, errlen, key, value, "an integer from 1 to 64");
    c->max_replays = (uint32_t)u;
  } else if (!strcmp(key, "error_records")) {
    if (parse_bool(value, &c->error_records)) return fail(err, errlen, key, value, "'on' or 'off'");
  } else if (!strcmp(key, "dead_letter")) {
    if (parse_bool(value, &c->dead_letter)) return fail(err, errlen, key, value, "'on' or 'off'");
  } else if (!strcmp(key, "wal_recovery")) {
    if (!strcmp(value, "point_in_time"))
      c->wal_recovery = TSDB_WAL_POINT_IN_TIME;
    else if (!strcmp(value, "strict"))
      c->wal_recovery = TSDB_WAL_STRICT;
    else
      return fail(err, errlen, key, value, "'point_in_time' or 'strict'");
  } else if (!strcmp(key, "acl_fallback")) {
    if (!strcmp(value, "defer"))
      c->acl_fallback = ACL_FALLBACK_DEFER;
    else if (!strcmp(value, "allow"))
      c->acl_fallback = ACL_FALLBACK_ALLOW;
    else
      return fail(err, errlen, key, value, "'defer' or 'allow'");
  } else {
    char known[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < plugin_option_count; i++) {
      int n = snprintf(known + off, sizeof known - off, "%s%s", i ? ", " : "",
                       plugin_option_docs[i].name);
      if (n > 0 && (size_t)n < sizeof known - off) off += (size_t)n;
    }
    snprintf(err, errlen, "plugin_opt_%s: unknown option (known: %s)", key, known);
    return -1;
  }
  return 0;
}
