/*
 * All plugin_opt_* parsing, in one place, into a typed struct.
 *
 * Every option is one row of plugin_options[] (config.c): its type, default,
 * bounds, field and documentation. One parser per type checks the whole value
 * (strtoull with end pointers). A bad value or an unknown option is an error
 * that stops the broker from starting, with a message that names the option,
 * the value and what is allowed. Pure: no broker calls, so it is unit-tested
 * without a broker.
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
  uint64_t queue_size; /* bytes, both halves of the ingest queue together */
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

/* How an option's text is read, and what its plugin_config field holds. */
typedef enum plugin_option_type {
  OPTION_DIRECTORY, /* a non-empty path that fits its char array */
  OPTION_WORD,      /* one of the option's words; the field is the word's enum (an int) */
  OPTION_BOOL,      /* on, true, off or false; the field is a bool */
  OPTION_INTEGER,   /* a decimal integer in [min, max]; the field is 32 or 64 bits */
  OPTION_SIZE,      /* bytes: an integer with an optional K, M or G suffix, in [min, max] */
  OPTION_DURATION   /* milliseconds: "500ms", "5s", "1d" (tsdb_duration_parse), in [min, max] */
} plugin_option_type;

typedef struct plugin_option_word {
  const char *word;
  int value;
} plugin_option_word;

/*
 * One plugin_opt_<name>: the single place that says how it is parsed, what
 * it defaults to, which values it allows and what it means. Parsing, the
 * defaults, the error messages and the README's option table all come from
 * plugin_options[].
 */
typedef struct plugin_option {
  const char *name; /* after "plugin_opt_" */
  plugin_option_type type;
  const char *dflt;  /* written as in mosquitto.conf, and parsed like it */
  uint64_t min, max; /* INTEGER, SIZE (bytes), DURATION (ms) */
  /* DURATION: "0" is allowed too, whatever min says (none, never or off, as
   * the doc says); tsdb_duration_parse refuses a zero duration. */
  bool zero_allowed;
  const plugin_option_word *words; /* WORD: ends with a NULL word */
  size_t offset, size;             /* the plugin_config field it fills */
  const char *doc;                 /* Markdown, as the README shows it */
} plugin_option;

extern const plugin_option plugin_options[];
extern const size_t plugin_option_count;

/* Every option at its default (each default parsed as a configured value). */
void plugin_config__defaults(plugin_config *cfg);

/*
 * Applies one option ("data_dir", "/var/lib/mosquitto/tsdb"). The key is the
 * part after "plugin_opt_". Returns 0, or -1 with a readable reason in err.
 */
int plugin_config__set(plugin_config *cfg, const char *key, const char *value, char *err,
                       size_t errlen);

/* What o allows, as its error message and the README say it ("an integer
 * from 1 to 16"); cut to fit len. */
void plugin_config__allowed(const plugin_option *o, char *buf, size_t len);

/* The word of a WORD option's configured value ("async"), for logs; "?" if
 * the option is not a WORD option. */
const char *plugin_config__word(const plugin_config *cfg, const char *option);

#endif /* PLUGIN_CONFIG_H */
