/* The plugin's option parser: defaults, every option, and clear errors. */
#include "config.h"
#include "unit.h"

TEST(defaults_and_valid_values) {
  plugin_config c;
  plugin_config__defaults(&c);
  CHECK_STR(c.data_dir, "/var/lib/mosquitto/tsdb");
  CHECK_INT(c.unmatched, ==, UNMATCHED_PASS);
  CHECK_INT(c.queue_size, ==, 64ull << 20);
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
      {"qeue_size", "64M", "plugin_opt_qeue_size: unknown option"},
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
    CHECK_MSG(plugin_config__set(&c, plugin_option_docs[i].name, plugin_option_docs[i].dflt, err,
                                 sizeof err) == 0,
              "documented default of %s rejected: %s", plugin_option_docs[i].name, err);
  }
}

TEST(readme_documents_every_option_as_the_code_does) {
  FILE *f = fopen(TSDB_SOURCE_DIR "/README.md", "rb");
  CHECK(f != NULL);
  static char readme[1 << 18];
  size_t n = fread(readme, 1, sizeof readme - 1, f);
  fclose(f);
  readme[n] = '\0';
  for (size_t i = 0; i < plugin_option_count; i++) {
    char row[1024];
    snprintf(row, sizeof row, "| `%s` | `%s` | %s |", plugin_option_docs[i].name,
             plugin_option_docs[i].dflt, plugin_option_docs[i].meaning);
    CHECK_MSG(strstr(readme, row) != NULL, "README.md lacks the row:\n%s", row);
  }
}
