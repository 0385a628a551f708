/* Engine tests of the catalog: series found by topic filter and labels, many
 * topics, labels rewritten by a new schema version, and a reload. */
#include "test_engine.h"

typedef struct match_list {
  int n; /* all matches; the first 16 are kept */
  char items[16][128];
} match_list;

static int collect_match(void *ud, uint32_t id, const char *topic, const char *field) {
  (void)id;
  match_list *m = ud;
  if (m->n < 16) snprintf(m->items[m->n], 128, "%s|%s", topic, field);
  m->n++;
  return 0;
}

TEST(series_lookup_by_filter_and_labels) {
  atomic_store(&fake_now, 1795680000000);
  tsdb_db *db = open_db(unit_path("db"), true, 1000);
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  tsdb_series_class *cls = make_class(fields, 2, tiers, 1, TSDB_DUP_LAST);
  const char *topics[] = {"city/mitte/s1/air", "city/mitte/s2/air", "city/sennestadt/s3/air"};
  for (int i = 0; i < 3; i++) {
    ingest1(db, cls, topics[i], 0, 1795679000000, 1);
    ingest1(db, cls, topics[i], 1, 1795679000000, 2);
  }
  CHECK_OK(tsdb_sync(db));
  match_list m = {0};
  CHECK_OK(tsdb_series_match(db, "city/#", NULL, NULL, 0, collect_match, &m));
  CHECK_INT(m.n, ==, 6);
  memset(&m, 0, sizeof m);
  CHECK_OK(tsdb_series_match(db, "city/+/+/air", "pm10", NULL, 0, collect_match, &m));
  CHECK_INT(m.n, ==, 3);
  memset(&m, 0, sizeof m);
  tsdb_label l[] = {{"district", "mitte"}};
  CHECK_OK(tsdb_series_match(db, "#", "temp", l, 1, collect_match, &m));
  CHECK_INT(m.n, ==, 2);
  CHECK_STR(m.items[0], "city/mitte/s1/air|temp");
  tsdb_label l2[] = {{"district", "mitte"}, {"station", "s2"}};
  memset(&m, 0, sizeof m);
  CHECK_OK(tsdb_series_match(db, "#", NULL, l2, 2, collect_match, &m));
  CHECK_INT(m.n, ==, 2);
  CHECK_INT(tsdb_series_match(db, "city/#/x", NULL, NULL, 0, collect_match, &m), ==, TSDB_EINVAL);
  close_db(db);
  tsdb_series_class_release(cls);
}

/* The catalog indexes many topics (its index grows and rehashes), keeps a
 * topic's labels once for all its fields, rewrites every field's descriptor
 * when a schema captures other labels, and reads it all back the same. */
TEST(catalog_topics_labels_and_reload) {
  const char *path = unit_path("db");
  atomic_store(&fake_now, 1795680000000);
  static const char *const fields[] = {"pm10", "temp"};
  static const int64_t tiers[] = {60000};
  static const tsdb_label kind[] = {{"kind", "air"}};
  tsdb_series_class_desc d = {.schema_id = "t",
                              .schema_version = 1,
                              .topic_template = "city/{district}/{station}/air",
                              .nfields = 2,
                              .field_names = fields,
                              .ntiers = 1,
                              .tiers_ms = tiers,
                              .nlabels = 1,
                              .labels = kind};
  tsdb_series_class *v1;
  CHECK_OK(tsdb_series_class_create(&d, &v1));
  d.schema_version = 2;
  d.topic_template = "city/{area}/{station}/air"; /* the same topics, other labels */
  tsdb_series_class *v2;
  CHECK_OK(tsdb_series_class_create(&d, &v2));
  tsdb_db *db = open_db(path, true, 1000);
  char topic[64];
  enum { TOPICS = 3000 };
  for (int i = 0; i < TOPICS; i++) {
    snprintf(topic, sizeof topic, "city/d%d/s%d/air", i % 7, i);
    ingest1(db, v1, topic, 0, 1795679000000, i);
    ingest1(db, v1, topic, 1, 1795679000000, -i);
  }
  CHECK_OK(tsdb_sync(db));
  ingest1(db, v2, "city/d3/s10/air", 1, 1795679001000, 5); /* only temp: both get area */
  CHECK_OK(tsdb_sync(db));
  for (int pass = 0; pass < 2; pass++) {
    tsdb_stats st;
    tsdb_stats_get(db, &st);
    CHECK_INT(st.series, ==, 2 * TOPICS);
    for (int i = 0; i < TOPICS; i += 97) {
      uint32_t a, b;
      snprintf(topic, sizeof topic, "city/d%d/s%d/air", i % 7, i);
      CHECK_OK(tsdb_series_find(db, topic, "pm10", &a));
      CHECK_OK(tsdb_series_find(db, topic, "temp", &b));
      CHECK_INT(b, ==, a + 1);
    }
    CHECK_INT(tsdb_series_find(db, "city/d0/s999999/air", "pm10", &(uint32_t){0}), ==,
              TSDB_ENOTFOUND);
    match_list m = {0};
    tsdb_label area[] = {{"area", "d3"}, {"kind", "air"}};
    CHECK_OK(tsdb_series_match(db, "city/#", NULL, area, 2, collect_match, &m));
    CHECK_INT(m.n, ==, 2);
    CHECK_STR(m.items[0], "city/d3/s10/air|pm10");
    CHECK_STR(m.items[1], "city/d3/s10/air|temp");
    memset(&m, 0, sizeof m);
    tsdb_label district[] = {{"district", "d3"}};
    CHECK_OK(tsdb_series_match(db, "city/d3/+/air", "pm10", district, 1, collect_match, &m));
    int in_d3 = 0;
    for (int i = 0; i < TOPICS; i++) in_d3 += i % 7 == 3;
    CHECK_INT(m.n, ==, in_d3 - 1); /* s10 has area now, not district */
    close_db(db);
    db = open_db(path, true, 1000);
  }
  close_db(db);
  tsdb_series_class_release(v1);
  tsdb_series_class_release(v2);
}
