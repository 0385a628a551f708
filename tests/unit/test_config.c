/* The plugin's option parser: defaults, every option, and clear errors. */
#include "config.h"
#include "tsdb/tsdb.h"
#include "tsdb/serve.h"
#include "unit.h"

TEST(defaults_and_valid_values) {
  plugin_config c;
  plugin_config__defaults(&c);
  CHECK_STR(c.data_dir, "/var/lib/mosquitto/tsdb");
  CHECK_INT(c.unmatched, ==, UNMATCHED_PASS);
  CHECK_INT(c.queue_size, ==, 64ull << 20);
  CHECK_STR(c.schema_dir, "/etc/mosquitto/tsdb/schemas");
  CHECK_INT(c.durability, ==, DURABILITY_ASYNC);
  CHECK_INT(c.flush_interval_ms, ==, 100);
  CHECK_INT(c.grace_ms, ==, 5000);
  CHECK_INT(c.partial_interval_ms, ==, 5000);
  CHECK_INT(c.cache_mb, ==, 64);
  CHECK_INT(c.control_threads, ==, 1);
  CHECK_INT(c.max_answer_rows, ==, 10000);
  CHECK_INT(c.tick_max_results, ==, 256);
  CHECK_INT(c.tick_max_bytes, ==, 256u << 10);
  CHECK_INT(c.sys_interval_ms, ==, 10000);
  CHECK_INT(c.refusal_log_interval_ms, ==, 60000);
  CHECK_INT(c.archive_retention_ms, ==, 7LL * 86400000);
  CHECK_INT(c.max_replays, ==, 4);
  CHECK(c.error_records);
  CHECK(!c.dead_letter);
  CHECK_INT(c.wal_recovery, ==, TSDB_WAL_POINT_IN_TIME);
  CHECK_INT(c.acl_fallback, ==, ACL_FALLBACK_DEFER);
  char err[256];
  CHECK_OK(plugin_config__set(&c, "data_dir", "/srv/tsdb", err, sizeof err));
  CHECK_STR(c.data_dir, "/srv/tsdb");
  CHECK_OK(plugin_config__set(&c, "unmatched", "refuse", err, sizeof err));
  CHECK_INT(c.unmatched, ==, UNMATCHED_REFUSE);
  CHECK_OK(plugin_config__set(&c, "queue_size", "256K", err, sizeof err));
  CHECK_INT(c.queue_size, ==, 256ull << 10);
  CHECK_OK(plugin_config__set(&c, "queue_size", "1G", err, sizeof err));
  CHECK_INT(c.queue_size, ==, 1ull << 30);
  CHECK_OK(plugin_config__set(&c, "grace", "0", err, sizeof err));
  CHECK_INT(c.grace_ms, ==, 0);
  CHECK_OK(plugin_config__set(&c, "grace", "30s", err, sizeof err));
  CHECK_INT(c.grace_ms, ==, 30000);
  CHECK_OK(plugin_config__set(&c, "flush_interval_ms", "0", err, sizeof err));
  CHECK_OK(plugin_config__set(&c, "control_threads", "4", err, sizeof err));
  CHECK_INT(c.control_threads, ==, 4);
  CHECK_OK(plugin_config__set(&c, "refusal_log_interval", "5m", err, sizeof err));
  CHECK_INT(c.refusal_log_interval_ms, ==, 300000);
  CHECK_OK(plugin_config__set(&c, "sys_interval", "0", err, sizeof err));
  CHECK_INT(c.sys_interval_ms, ==, 0);
  CHECK_OK(plugin_config__set(&c, "archive_retention", "1m", err, sizeof err));
  CHECK_INT(c.archive_retention_ms, ==, 60000);
  CHECK_OK(plugin_config__set(&c, "max_replays", "64", err, sizeof err));
  CHECK_INT(c.max_replays, ==, 64);
  CHECK_OK(plugin_config__set(&c, "durability", "fsync", err, sizeof err));
  CHECK_INT(c.durability, ==, DURABILITY_FSYNC);
  CHECK_STR(plugin_config__word(&c, "durability"), "fsync");
  CHECK_OK(plugin_config__set(&c, "wal_recovery", "strict", err, sizeof err));
  CHECK_INT(c.wal_recovery, ==, TSDB_WAL_STRICT);
  CHECK_OK(plugin_config__set(&c, "acl_fallback", "allow", err, sizeof err));
  CHECK_INT(c.acl_fallback, ==, ACL_FALLBACK_ALLOW);
  CHECK_STR(plugin_config__word(&c, "acl_fallback"), "allow");
  CHECK_OK(plugin_config__set(&c, "error_records", "false", err, sizeof err));
  CHECK(!c.error_records);
  CHECK_OK(plugin_config__set(&c, "dead_letter", "true", err, sizeof err));
  CHECK(c.dead_letter);
  CHECK_STR(plugin_config__word(&c, "dead_letter"), "?");
}

TEST(bad_values_are_errors_that_name_option_and_value) {
  static const struct {
    const char *key, *value, *want;
  } bad[] = {
      {"queue_size", "lots", "plugin_opt_queue_size: invalid value 'lots': expected a size"},
      {"queue_size", "1K", "plugin_opt_queue_size: invalid value '1K'"},
      {"queue_size", "17G", "plugin_opt_queue_size: invalid value '17G'"},
      {"queue_size", "-5M", "invalid value '-5M'"},
      {"queue_size", "64MB", "invalid value '64MB'"},
      {"flush_interval_ms", "1001", "expected an integer from 0 to 1000"},
      {"flush_interval_ms", " 5", "invalid value ' 5'"},
      {"grace", "2d", "plugin_opt_grace: invalid value '2d'"},
      {"unmatched", "drop", "expected 'pass' or 'refuse'"},
      {"control_threads", "0", "expected an integer from 1 to 16"},
      {"cache_mb", "99999999999999999999", "plugin_opt_cache_mb: invalid value"},
      {"data_dir", "", "plugin_opt_data_dir: invalid value ''"},
      {"refusal_log_interval", "10ms", "plugin_opt_refusal_log_interval: invalid value '10ms'"},
      {"data_dir", "", "expected a non-empty directory path of at most 1023 bytes"},
      {"durability", "none", "expected 'async', 'sync' or 'fsync'"},
      {"grace", "0s", "expected a duration up to 1d, e.g. 5s (or 0)"},
      {"sys_interval", "999ms", "expected a duration of at least 1s, e.g. 10s (or 0)"},
      {"refusal_log_interval", "0", "expected a duration of at least 1s, e.g. 60s"},
      {"archive_retention", "59s", "expected a duration of at least 1m, e.g. 7d (or 0)"},
      {"tick_max_bytes", "1023", "expected a size from 1K to 64M, e.g. 256K"},
      {"max_replays", "65", "expected an integer from 1 to 64"},
      {"error_records", "yes",
       "plugin_opt_error_records: invalid value 'yes': expected 'on' or 'off'"},
      {"wal_recovery", "lax", "expected 'point_in_time' or 'strict'"},
      {"qeue_size", "64M", "plugin_opt_qeue_size: unknown option"},
      {"qeue_size", "64M", "(known: data_dir, schema_dir, unmatched, durability, queue_size,"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    plugin_config c;
    plugin_config__defaults(&c);
    char err[512] = "";
    CHECK_MSG(plugin_config__set(&c, bad[i].key, bad[i].value, err, sizeof err) != 0,
              "%s=%s accepted", bad[i].key, bad[i].value);
    CHECK_MSG(strstr(err, bad[i].want) != NULL, "'%s' does not contain '%s'", err, bad[i].want);
  }
}

TEST(every_documented_option_is_accepted) {
  for (size_t i = 0; i < plugin_option_count; i++) {
    plugin_config c;
    plugin_config__defaults(&c);
    char err[512] = "";
    CHECK_MSG(plugin_config__set(&c, plugin_options[i].name, plugin_options[i].dflt, err,
                                 sizeof err) == 0,
              "documented default of %s rejected: %s", plugin_options[i].name, err);
  }
}

/* config.c stores numbers, words and flags through offsetof: each row must
 * name a field of the width its type writes, and bounds that fit it. */
TEST(every_option_fills_a_field_of_its_type) {
  for (size_t i = 0; i < plugin_option_count; i++) {
    const plugin_option *o = &plugin_options[i];
    CHECK_MSG(o->offset + o->size <= sizeof(plugin_config), "%s: field out of the struct", o->name);
    for (size_t k = 0; k < i; k++)
      CHECK_MSG(plugin_options[k].offset != o->offset, "%s and %s fill the same field",
                plugin_options[k].name, o->name);
    switch (o->type) {
    case OPTION_DIRECTORY:
      CHECK_MSG(o->size > 1, "%s: no room for a path", o->name);
      break;
    case OPTION_WORD:
      CHECK_MSG(o->size == sizeof(int) && o->words && o->words[0].word && o->words[1].word,
                "%s: a word option needs an int-sized field and two words or more", o->name);
      break;
    case OPTION_BOOL:
      CHECK_MSG(o->size == sizeof(bool), "%s: not a bool field", o->name);
      break;
    case OPTION_INTEGER:
    case OPTION_SIZE:
    case OPTION_DURATION:
      CHECK_MSG(o->size == sizeof(uint32_t) || o->size == sizeof(uint64_t),
                "%s: a number field is 32 or 64 bits", o->name);
      CHECK_MSG(o->min <= o->max, "%s: min above max", o->name);
      CHECK_MSG(o->size == sizeof(uint64_t) || o->max <= UINT32_MAX, "%s: max does not fit",
                o->name);
      CHECK_MSG(o->type != OPTION_DURATION || o->max <= INT64_MAX, "%s: max does not fit", o->name);
      break;
    }
  }
}

/* The broker and the benchmarks share the engine's and serve/'s defaults
 * (bench/ opens the engine with tsdb_options_init() "as a broker runs it"):
 * the plugin's defaults must give the same options. */
TEST(plugin_defaults_are_the_engine_defaults) {
  plugin_config c;
  plugin_config__defaults(&c);
  tsdb_options o;
  tsdb_options_init(&o);
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  CHECK_INT(o.queue_bytes, ==, c.queue_size / 2); /* each of the queue's two halves */
  CHECK_INT(o.flush_interval_ms, ==, c.flush_interval_ms);
  CHECK_INT(o.grace_ms, ==, c.grace_ms);
  CHECK_INT(o.partial_interval_ms, ==, c.partial_interval_ms);
  CHECK_INT(o.cache_mb, ==, c.cache_mb);
  CHECK_INT(so.control_threads, ==, c.control_threads);
  CHECK_INT(so.max_answer_rows, ==, c.max_answer_rows);
  CHECK_INT(o.archive_retention_ms, ==, c.archive_retention_ms);
  CHECK_INT(so.max_replays, ==, c.max_replays);
  CHECK_INT(o.wal_recovery, ==, c.wal_recovery);
  CHECK_INT(o.fsync_wal, ==, c.durability == DURABILITY_FSYNC);
}

/* The README's option table, as plugin_options[] makes it; free() it. */
static char *readme_option_table(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK(f != NULL);
  fprintf(f, "| option | default | allowed | meaning |\n|---|---|---|---|\n");
  for (size_t i = 0; i < plugin_option_count; i++) {
    char allowed[256];
    plugin_config__allowed(&plugin_options[i], allowed, sizeof allowed);
    fprintf(f, "| `%s` | `%s` | %s | %s |\n", plugin_options[i].name, plugin_options[i].dflt,
            allowed, plugin_options[i].doc);
  }
  CHECK(fclose(f) == 0);
  return text;
}

/* `test_config --helper readme_option_table` prints the table to paste into
 * README.md after a change to plugin_options[]. */
UNIT_HELPER(readme_option_table) {
  (void)argc;
  (void)argv;
  char *table = readme_option_table();
  fputs(table, stdout);
  free(table);
  return 0;
}

TEST(readme_documents_every_option_as_the_code_does) {
  FILE *f = fopen(TSDB_SOURCE_DIR "/README.md", "rb");
  CHECK(f != NULL);
  static char readme[1 << 18];
  size_t n = fread(readme, 1, sizeof readme - 1, f);
  fclose(f);
  readme[n] = '\0';
  char *table = readme_option_table();
  CHECK_MSG(strstr(readme, table) != NULL,
            "README.md lacks the option table as the code has it; paste the output of "
            "`build/tests/test_config --helper readme_option_table`:\n%s",
            table);
  free(table);
}
