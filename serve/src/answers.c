#include "answers.h"

#include <string.h>

static void json_duration_or_null(tsdb_strbuf *sb, int64_t ms) {
  char d[24];
  if (!ms) {
    tsdb_strbuf__puts(sb, "null");
    return;
  }
  tsdb_strbuf__putc(sb, '"');
  tsdb_strbuf__puts(sb, tsdb_duration_format(ms, d, sizeof d));
  tsdb_strbuf__putc(sb, '"');
}

void tsdb_serve__series_json(tsdb_strbuf *sb, tsdb_db *db, uint32_t series, bool full) {
  tsdb_series_info info;
  int rc = tsdb_series_describe(db, series, &info);
  if (rc == TSDB_ENOMEM) sb->failed = true; /* the answer says "out of memory", not less */
  if (rc) return;
  tsdb_serve__series_info_json(sb, &info, full);
  tsdb_series_info_free(&info);
}

void tsdb_serve__series_info_json(tsdb_strbuf *sb, const tsdb_series_info *s, bool full) {
  const tsdb_series_info info = *s;
  if (info.unit) {
    tsdb_strbuf__puts(sb, ",\"unit\":");
    tsdb_strbuf__json_string(sb, info.unit, strlen(info.unit));
  }
  tsdb_strbuf__puts(sb, ",\"labels\":{");
  for (size_t i = 0; i < info.nlabels; i++) {
    if (i) tsdb_strbuf__putc(sb, ',');
    tsdb_strbuf__json_string(sb, info.labels[i].key, strlen(info.labels[i].key));
    tsdb_strbuf__putc(sb, ':');
    tsdb_strbuf__json_string(sb, info.labels[i].value, strlen(info.labels[i].value));
  }
  tsdb_strbuf__putc(sb, '}');
  if (full) {
    char d[24];
    tsdb_strbuf__puts(sb, ",\"schema\":");
    tsdb_strbuf__json_string(sb, info.schema_id, strlen(info.schema_id));
    tsdb_strbuf__printf(sb, ",\"version\":%u,\"tiers\":[", (unsigned)info.schema_version);
    for (size_t i = 0; i < info.ntiers; i++)
      tsdb_strbuf__printf(sb, "%s\"%s\"", i ? "," : "",
                          tsdb_duration_format(info.tiers_ms[i], d, sizeof d));
    tsdb_strbuf__puts(sb, "],\"retention\":{\"raw\":");
    json_duration_or_null(sb, info.raw_retention_ms);
    for (size_t i = 0; i < info.ntiers; i++) {
      tsdb_strbuf__printf(sb, ",\"%s\":", tsdb_duration_format(info.tiers_ms[i], d, sizeof d));
      json_duration_or_null(sb, info.tier_retention_ms[i]);
    }
    tsdb_strbuf__printf(sb, "},\"duplicates\":\"%s\"", tsdb_dup_policy_name(info.dup_policy));
  }
}
