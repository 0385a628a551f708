#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define SECOND_MS 1000ull
#define MINUTE_MS (60 * SECOND_MS)
#define DAY_MS (24 * 60 * MINUTE_MS)
/* Durations are int64_t milliseconds: no other upper bound. */
#define DURATION_NO_MAX ((uint64_t)INT64_MAX)

#define FIELD(member) \
  .offset = offsetof(plugin_config, member), .size = sizeof(((plugin_config *)0)->member)

static const plugin_option_word unmatched_words[] = {
    {"pass", UNMATCHED_PASS}, {"refuse", UNMATCHED_REFUSE}, {NULL, 0}};
static const plugin_option_word durability_words[] = {
    {"async", DURABILITY_ASYNC}, {"sync", DURABILITY_SYNC}, {"fsync", DURABILITY_FSYNC}, {NULL, 0}};
static const plugin_option_word wal_recovery_words[] = {
    {"point_in_time", TSDB_WAL_POINT_IN_TIME}, {"strict", TSDB_WAL_STRICT}, {NULL, 0}};
static const plugin_option_word acl_fallback_words[] = {
    {"defer", ACL_FALLBACK_DEFER}, {"allow", ACL_FALLBACK_ALLOW}, {NULL, 0}};

/* In the README's order. No default depends on another option's value. */
const plugin_option plugin_options[] = {
    {.name = "data_dir",
     .type = OPTION_DIRECTORY,
     .dflt = "/var/lib/mosquitto/tsdb",
     FIELD(data_dir),
     .doc = "Directory of the embedded RocksDB database. Created if missing; must be writable by "
            "the user the broker runs as."},
    {.name = "schema_dir",
     .type = OPTION_DIRECTORY,
     .dflt = "/etc/mosquitto/tsdb/schemas",
     FIELD(schema_dir),
     .doc = "Directory of schema files: `<name>/schema.json` and `*.schema.json`. Re-read on "
            "SIGHUP."},
    {.name = "unmatched",
     .type = OPTION_WORD,
     .dflt = "pass",
     .words = unmatched_words,
     FIELD(unmatched),
     .doc = "What to do with a publish whose topic no schema matches: `pass` (deliver untouched) "
            "or `refuse` (drop with reason 0x87)."},
    {.name = "durability",
     .type = OPTION_WORD,
     .dflt = "async",
     .words = durability_words,
     FIELD(durability),
     .doc = "When a QoS 1/2 message is acknowledged: `async` once queued (a broker crash can lose "
            "the last `flush_interval_ms`), `sync` once its points are in RocksDB's write-ahead "
            "log (a broker crash loses nothing acknowledged), `fsync` once the log is also "
            "fsynced (power loss too). QoS 0 messages are never waited for."},
    {.name = "queue_size",
     .type = OPTION_SIZE,
     .dflt = "64M",
     .min = 64 * KIB,
     .max = 16 * GIB,
     FIELD(queue_size),
     .doc = "Memory for messages waiting to be written (`K`, `M`, `G` suffixes). When it is full, "
            "messages are refused with 0x87 and counted, never blocked."},
    {.name = "flush_interval_ms",
     .type = OPTION_INTEGER,
     .dflt = "100",
     .min = 0,
     .max = 1000,
     FIELD(flush_interval_ms),
     .doc = "`async` mode: how long the writer gathers messages into one RocksDB batch. A broker "
            "crash can lose the messages of this window plus one write; what reached the WAL is "
            "kept. Longer windows write fewer, larger operands: at 20 000 msg/s, 100 ms costs "
            "about half the CPU of 5 ms. Durable (`sync`) messages and waiting queries end a "
            "window at once."},
    {.name = "grace",
     .type = OPTION_DURATION,
     .dflt = "5s",
     .min = 0,
     .max = DAY_MS,
     .zero_allowed = true,
     FIELD(grace_ms),
     .doc = "How long after a bucket ends its aggregate waits for late points before it is "
            "published as final."},
    {.name = "partial_interval",
     .type = OPTION_DURATION,
     .dflt = "5s",
     .min = 0,
     .max = DAY_MS,
     .zero_allowed = true,
     FIELD(partial_interval_ms),
     .doc = "How often an open bucket's aggregate is published with state `partial` while points "
            "arrive (per topic and tier), or `0` for finals and corrections only."},
    {.name = "cache_mb",
     .type = OPTION_INTEGER,
     .dflt = "64",
     .min = 8,
     .max = 65536,
     FIELD(cache_mb),
     .doc = "RocksDB block cache in MiB, plus a quarter of it for decoded aggregate blocks (what "
            "long aggregate queries read again and again)."},
    {.name = "control_threads",
     .type = OPTION_INTEGER,
     .dflt = "1",
     .min = 1,
     .max = 16,
     FIELD(control_threads),
     .doc = "Threads that answer `$CONTROL/tsdb/v1` commands."},
    {.name = "max_answer_rows",
     .type = OPTION_INTEGER,
     .dflt = "10000",
     .min = 1,
     .max = 1000000,
     FIELD(max_answer_rows),
     .doc = "Rows per query answer; longer answers are paged with `next`."},
    {.name = "tick_max_results",
     .type = OPTION_INTEGER,
     .dflt = "256",
     .min = 1,
     .max = 100000,
     FIELD(tick_max_results),
     .doc = "Publications made per broker loop pass, so a large answer never stalls the broker."},
    {.name = "tick_max_bytes",
     .type = OPTION_SIZE,
     .dflt = "256K",
     .min = 1 * KIB,
     .max = 64 * MIB,
     FIELD(tick_max_bytes),
     .doc = "Payload bytes published per broker loop pass (at least one message goes), the other "
            "bound on the time the plugin takes from the broker's loop."},
    {.name = "sys_interval",
     .type = OPTION_DURATION,
     .dflt = "10s",
     .min = SECOND_MS,
     .max = DURATION_NO_MAX,
     .zero_allowed = true,
     FIELD(sys_interval_ms),
     .doc = "How often the plugin's metrics are published, retained, under `$SYS/broker/tsdb/` "
            "(`0`: never)."},
    {.name = "refusal_log_interval",
     .type = OPTION_DURATION,
     .dflt = "60s",
     .min = SECOND_MS,
     .max = DURATION_NO_MAX,
     FIELD(refusal_log_interval_ms),
     .doc = "Refused messages are summed up in one log line per interval, so a faulty device "
            "cannot flood the log."},
    {.name = "archive_retention",
     .type = OPTION_DURATION,
     .dflt = "7d",
     .min = MINUTE_MS,
     .max = DURATION_NO_MAX,
     .zero_allowed = true,
     FIELD(archive_retention_ms),
     .doc = "How long accepted original messages are kept for `replay` (compressed, in their own "
            "column family), or `0` for no archive and no replay."},
    {.name = "max_replays",
     .type = OPTION_INTEGER,
     .dflt = "4",
     .min = 1,
     .max = 64,
     FIELD(max_replays),
     .doc = "Replays running at once."},
    {.name = "error_records",
     .type = OPTION_BOOL,
     .dflt = "on",
     FIELD(error_records),
     .doc = "Publish an error record for every refused message on `$tsdb/errors/<client id>`: "
            "schema, JSON pointer, keyword, expected and actual value."},
    {.name = "dead_letter",
     .type = OPTION_BOOL,
     .dflt = "off",
     FIELD(dead_letter),
     .doc = "Republish the original payload of every refused message on `$tsdb/dead/<topic>`."},
    {.name = "wal_recovery",
     .type = OPTION_WORD,
     .dflt = "point_in_time",
     .words = wal_recovery_words,
     FIELD(wal_recovery),
     .doc = "What a damaged write-ahead log does at start (a write cut short by a crash, or a "
            "damaged disk): `point_in_time` recovers everything before the damage, drops the rest "
            "and says so at error level, after copying the log files to "
            "`<data_dir>/wal-damaged-<time>/`; `strict` refuses to start."},
    {.name = "acl_fallback",
     .type = OPTION_WORD,
     .dflt = "defer",
     .words = acl_fallback_words,
     FIELD(acl_fallback),
     .doc = "The plugin's ACL check denies reading another client's answers, replays and error "
            "records (see ACLs). `defer`: every other decision is the broker's `acl_file` or ACL "
            "plugin's. `allow`: for a broker with no ACL at all, where Mosquitto would deny what "
            "every check deferred; the plugin then allows everything else itself, and no "
            "`acl_file` or ACL plugin is asked."},
};
const size_t plugin_option_count = sizeof plugin_options / sizeof plugin_options[0];

/* Appends to a NUL-terminated string in a fixed buffer; what does not fit is
 * cut off (a long list of option names in an error message, say). */
__attribute__((format(printf, 3, 4))) static void appendf(char *buf, size_t len, const char *fmt,
                                                          ...) {
  if (!len) return;
  size_t used = strlen(buf);
  if (used + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

/* A byte count as the largest suffix that divides it exactly: "64K", "16G". */
static void append_size(char *buf, size_t len, uint64_t bytes) {
  static const struct {
    char suffix;
    unsigned shift;
  } units[] = {{'G', 30}, {'M', 20}, {'K', 10}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    uint64_t unit = 1ull << units[i].shift;
    if (bytes && bytes % unit == 0) {
      appendf(buf, len, "%llu%c", (unsigned long long)(bytes / unit), units[i].suffix);
      return;
    }
  }
  appendf(buf, len, "%llu", (unsigned long long)bytes);
}

static void append_duration(char *buf, size_t len, uint64_t ms) {
  char text[32];
  appendf(buf, len, "%s", tsdb_duration_format((int64_t)ms, text, sizeof text));
}

void plugin_config__allowed(const plugin_option *o, char *buf, size_t len) {
  if (len) buf[0] = '\0';
  switch (o->type) {
  case OPTION_DIRECTORY:
    appendf(buf, len, "a non-empty directory path of at most %zu bytes", o->size - 1);
    break;
  case OPTION_WORD:
    for (const plugin_option_word *w = o->words; w->word; w++)
      appendf(buf, len, "%s'%s'", w == o->words ? "" : w[1].word ? ", " : " or ", w->word);
    break;
  case OPTION_BOOL:
    appendf(buf, len, "'on' or 'off'");
    break;
  case OPTION_INTEGER:
    appendf(buf, len, "an integer from %llu to %llu", (unsigned long long)o->min,
            (unsigned long long)o->max);
    break;
  case OPTION_SIZE:
    appendf(buf, len, "a size from ");
    append_size(buf, len, o->min);
    appendf(buf, len, " to ");
    append_size(buf, len, o->max);
    appendf(buf, len, ", e.g. %s", o->dflt);
    break;
  case OPTION_DURATION:
    appendf(buf, len, "a duration");
    if (o->min && o->max != DURATION_NO_MAX) {
      appendf(buf, len, " from ");
      append_duration(buf, len, o->min);
      appendf(buf, len, " to ");
      append_duration(buf, len, o->max);
    } else if (o->min) {
      appendf(buf, len, " of at least ");
      append_duration(buf, len, o->min);
    } else if (o->max != DURATION_NO_MAX) {
      appendf(buf, len, " up to ");
      append_duration(buf, len, o->max);
    }
    appendf(buf, len, ", e.g. %s%s", o->dflt, o->zero_allowed ? " (or 0)" : "");
    break;
  }
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

static int parse_integer(const char *value, uint64_t *out) {
  /* strtoull would skip white space and accept a sign. */
  if (*value < '0' || *value > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(value, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_size(const char *value, uint64_t *out) {
  if (*value < '0' || *value > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(value, &end, 10);
  if (errno) return -1;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k')
    shift = 10, end++;
  else if (*end == 'M' || *end == 'm')
    shift = 20, end++;
  else if (*end == 'G' || *end == 'g')
    shift = 30, end++;
  if (*end || v > (UINT64_MAX >> shift)) return -1;
  *out = v << shift;
  return 0;
}

static int parse_duration(const char *value, bool zero_allowed, uint64_t *out) {
  if (zero_allowed && !strcmp(value, "0")) {
    *out = 0;
    return 0;
  }
  int64_t ms;
  if (tsdb_duration_parse(value, &ms)) return -1;
  *out = (uint64_t)ms; /* positive: tsdb_duration_parse refuses zero and negatives */
  return 0;
}

/* The field is 32 or 64 bits (a unit test holds every row to it), and the
 * row's max fits it, so the value does. */
static void store_number(void *field, size_t size, uint64_t value) {
  if (size == sizeof(uint32_t)) {
    uint32_t narrow = (uint32_t)value;
    memcpy(field, &narrow, sizeof narrow);
  } else {
    memcpy(field, &value, sizeof value);
  }
}

/* Parses value into o's field; leaves the field as it was on failure. */
static int option_parse(const plugin_option *o, const char *value, plugin_config *c) {
  unsigned char *field = (unsigned char *)c + o->offset;
  uint64_t number = 0;
  int rc = -1;
  switch (o->type) {
  case OPTION_DIRECTORY: {
    size_t n = strlen(value);
    if (n == 0 || n >= o->size) return -1;
    memcpy(field, value, n + 1);
    return 0;
  }
  case OPTION_WORD:
    for (const plugin_option_word *w = o->words; w->word; w++) {
      if (!strcmp(value, w->word)) {
        memcpy(field, &w->value, sizeof w->value);
        return 0;
      }
    }
    return -1;
  case OPTION_BOOL: {
    bool on;
    if (parse_bool(value, &on)) return -1;
    memcpy(field, &on, sizeof on);
    return 0;
  }
  case OPTION_INTEGER:
    rc = parse_integer(value, &number);
    break;
  case OPTION_SIZE:
    rc = parse_size(value, &number);
    break;
  case OPTION_DURATION:
    rc = parse_duration(value, o->zero_allowed, &number);
    /* "0" (none, never or off) is allowed whatever min says. */
    if (rc == 0 && number == 0) {
      store_number(field, o->size, 0);
      return 0;
    }
    break;
  }
  if (rc || number < o->min || number > o->max) return -1;
  store_number(field, o->size, number);
  return 0;
}

static const plugin_option *option_find(const char *name) {
  for (size_t i = 0; i < plugin_option_count; i++)
    if (!strcmp(plugin_options[i].name, name)) return &plugin_options[i];
  return NULL;
}

void plugin_config__defaults(plugin_config *c) {
  memset(c, 0, sizeof *c);
  /* Every default parses: test_config holds each row to it. */
  for (size_t i = 0; i < plugin_option_count; i++)
    (void)option_parse(&plugin_options[i], plugin_options[i].dflt, c);
}

int plugin_config__set(plugin_config *c, const char *key, const char *value, char *err,
                       size_t errlen) {
  if (!value) value = "";
  if (errlen) err[0] = '\0';
  const plugin_option *o = option_find(key);
  if (!o) {
    appendf(err, errlen, "plugin_opt_%s: unknown option (known:", key);
    for (size_t i = 0; i < plugin_option_count; i++)
      appendf(err, errlen, "%s %s", i ? "," : "", plugin_options[i].name);
    appendf(err, errlen, ")");
    return -1;
  }
  if (option_parse(o, value, c) == 0) return 0;
  char allowed[256];
  plugin_config__allowed(o, allowed, sizeof allowed);
  appendf(err, errlen, "plugin_opt_%s: invalid value '%s': expected %s", key, value, allowed);
  return -1;
}

const char *plugin_config__word(const plugin_config *c, const char *option) {
  const plugin_option *o = option_find(option);
  if (!o || o->type != OPTION_WORD) return "?";
  int value;
  memcpy(&value, (const unsigned char *)c + o->offset, sizeof value);
  for (const plugin_option_word *w = o->words; w->word; w++)
    if (w->value == value) return w->word;
  return "?";
}
