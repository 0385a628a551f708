/*
 * All plugin_opt_* parsing, in one place, into a typed struct.
 *
 * Every option has a default, a named range, and a parser that checks the
 * whole value (strtoull/strtod with end pointers). A bad value or an unknown
 * option is an error that stops the broker from starting, with a message that
 * names the option, the value and what was expected. Pure: no broker calls,
 * so it is unit-tested without a broker.
 */
#ifndef PLUGIN_CONFIG_H
#define PLUGIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum plugin_unmatched { UNMATCHED_PASS = 0, UNMATCHED_REFUSE = 1 } plugin_unmatched;

/* When the broker acknowledges a QoS >= 1 message (PUBACK/PUBREC). */
typedef enum plugin_durability {
  DURABILITY_ASYNC = 0, /* once queued; written within flush_interval_ms */
  DURABILITY_SYNC = 1,  /* once in RocksDB's WAL: survives a broker crash */
  DURABILITY_FSYNC = 2  /* once the WAL is fsynced: survives a power loss */
} plugin_durability;

/* What the plugin's ACL check answers outside its reply namespaces. */
typedef enum plugin_acl_fallback {
  ACL_FALLBACK_DEFER = 0, /* the broker's acl_file or ACL plugin decides */
  ACL_FALLBACK_ALLOW = 1  /* a broker without any ACL: the plugin allows */
} plugin_acl_fallback;

typedef struct plugin_config {
  char data_dir[1024];
  char schema_dir[1024];
  plugin_unmatched unmatched;
  plugin_durability durability;
  uint64_t queue_size;        /* bytes, both halves of the ingest queue together */
  uint32_t flush_interval_ms;
  int64_t grace_ms;
  int64_t partial_interval_ms;
  uint32_t cache_mb;
  uint32_t control_threads;
  uint32_t max_answer_rows;
  uint32_t tick_max_results;
  uint64_t tick_max_bytes;
  int64_t sys_interval_ms;
  int64_t refusal_log_interval_ms;
  int64_t archive_retention_ms;
  uint32_t max_replays;
  bool error_records; /* publish an error record to a refused publisher */
  bool dead_letter;   /* republish refused payloads on $tsdb/dead/<topic> */
  int wal_recovery;   /* tsdb_wal_recovery */
  plugin_acl_fallback acl_fallback;
} plugin_config;

/* The option table, for the README and for `--help`-style listings. */
typedef struct plugin_option_doc {
  const char *name;
  const char *dflt;
  const char *meaning;
} plugin_option_doc;

extern const plugin_option_doc plugin_option_docs[];
extern const size_t plugin_option_count;

void plugin_config__defaults(plugin_config *cfg);

/*
 * Applies one option ("data_dir", "/var/lib/mosquitto/tsdb"). The key is the
 * part after "plugin_opt_". Returns 0, or -1 with a readable reason in err.
 */
int plugin_config__set(plugin_config *cfg, const char *key, const char *value, char *err,
                       size_t errlen);

#endif /* PLUGIN_CONFIG_H */
