/*
 * Schemas: every shipped schema loads; every y_* example passes and yields
 * points; every n_* example fails with the reason, keyword and pointer in its
 * directory's expected-errors.json. Plus the mapping section's load errors and
 * MessagePack payloads.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "ingest/schema.h"
#include "unit.h"

#ifndef TSDB_SOURCE_DIR
#error "TSDB_SOURCE_DIR must be defined by the build"
#endif

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  CHECK_MSG(f != NULL, "cannot open %s", path);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static int check_schema_dir(const char *dir) {
  char path[8192];
  snprintf(path, sizeof path, "%s/schema.json", dir);
  ingest_schema *s;
  ingest_error err;
  CHECK_MSG(ingest_schema_load_file(path, &s, &err) == 0, "%s", err.message);

  snprintf(path, sizeof path, "%s/expected-errors.json", dir);
  size_t len;
  cJSON *expected = cJSON_Parse(slurp(path, &len));
  CHECK_MSG(cJSON_IsObject(expected), "%s is not a JSON object", path);

  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *e;
  int examples = 0, negatives = 0;
  tsdb_point points[INGEST_MAX_MEASUREMENTS];
  while ((e = readdir(d)) != NULL) {
    bool yes = !strncmp(e->d_name, "y_", 2), no = !strncmp(e->d_name, "n_", 2);
    if (!yes && !no) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    const char *payload = slurp(path, &len);
    size_t n = 0;
    int rc = ingest_schema_process(s, payload, len, now_ms(), points, &n, &err);
    examples++;
    if (yes) {
      CHECK_MSG(rc == 0, "%s must pass but failed: %s", path, err.message);
      CHECK_MSG(n > 0, "%s passed but produced no points", path);
      continue;
    }
    negatives++;
    CHECK_MSG(rc != 0, "%s must fail but passed", path);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(expected, e->d_name);
    CHECK_MSG(cJSON_IsObject(want), "%s has no entry in expected-errors.json", path);
    const char *reason = cJSON_GetObjectItemCaseSensitive(want, "reason")->valuestring;
    const char *keyword = cJSON_GetObjectItemCaseSensitive(want, "keyword")->valuestring;
    const char *pointer = cJSON_GetObjectItemCaseSensitive(want, "pointer")->valuestring;
    CHECK_MSG(!strcmp(ingest_err_short(rc), reason), "%s: reason %s, expected %s (%s)", path,
              ingest_err_short(rc), reason, err.message);
    CHECK_MSG(!strcmp(err.keyword, keyword), "%s: keyword %s, expected %s (%s)", path,
              err.keyword, keyword, err.message);
    CHECK_MSG(!strcmp(err.pointer, pointer), "%s: pointer '%s', expected '%s' (%s)", path,
              err.pointer, pointer, err.message);
    CHECK_MSG(err.message[0] != '\0', "%s: no message", path);
  }
  closedir(d);
  CHECK_INT(cJSON_GetArraySize(expected), ==, negatives);
  cJSON_Delete(expected);
  ingest_schema_free(s);
  return examples;
}

TEST(shipped_schemas_accept_y_and_refuse_n) {
  const char *root = TSDB_SOURCE_DIR "/schemas";
  DIR *d = opendir(root);
  CHECK(d != NULL);
  struct dirent *e;
  int schemas = 0, examples = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) continue;
    examples += check_schema_dir(dir);
    schemas++;
  }
  closedir(d);
  CHECK(schemas >= 1);
  CHECK(examples >= 2 * schemas);
  /* And they load together as one routed set. */
  ingest_schema_set *set;
  char err[512];
  CHECK_MSG(ingest_schema_set_load_dir(root, &set, err, sizeof err) == 0, "%s", err);
  CHECK_INT(ingest_schema_set_count(set), ==, schemas);
  const ingest_schema *s = ingest_schema_set_route(set, "city/mitte/s17/air", 18);
  CHECK(s != NULL);
  CHECK_STR(ingest_schema_id(s), "air-quality");
  CHECK(ingest_schema_set_route(set, "city/mitte/air", 14) == NULL);
  ingest_schema_set_release(set);
}

static const char *write_schema(const char *name, const char *text) {
  const char *path = unit_path(name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  return path;
}

#define MAPPING_OK                                                                         \
  "\"id\":\"t\",\"version\":1,\"topic\":\"t/{a}\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}"

TEST(mapping_errors_name_the_member) {
  static const struct {
    const char *schema;
    const char *where;
  } cases[] = {
      {"{\"type\":\"object\"}", "/x-tsdb"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"tiers\":[\"1m\",\"90s\"]}}", "/x-tsdb/tiers"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"tiers\":[\"500ms\"]}}", "/x-tsdb/tiers"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"tier\":[\"1m\"]}}", "/x-tsdb"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"duplicates\":\"newest\"}}", "/x-tsdb/duplicates"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"format\":\"xml\"}}", "/x-tsdb/format"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"timestamp\":{\"pointer\":\"ts\",\"format\":\"rfc3339\"}}}",
       "/x-tsdb/timestamp/pointer"},
      {"{\"x-tsdb\":{" MAPPING_OK ",\"timestamp\":{\"pointer\":\"/ts\",\"format\":\"iso\"}}}",
       "/x-tsdb/timestamp/format"},
      {"{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t/{a\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
       "/x-tsdb/topic"},
      {"{\"x-tsdb\":{\"id\":\"t t\",\"version\":1,\"topic\":\"t\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
       "/x-tsdb/id"},
      {"{\"x-tsdb\":{\"id\":\"t\",\"version\":0,\"topic\":\"t\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
       "/x-tsdb/version"},
      {"{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t\",\"measurements\":{}}}",
       "/x-tsdb/measurements"},
      {"{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t\",\"measurements\":{\"a/b\":{\"pointer\":\"/v\"}}}}",
       "/x-tsdb/measurements/a/b"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *path = write_schema("bad.schema.json", cases[i].schema);
    ingest_schema *s = NULL;
    ingest_error err;
    CHECK_MSG(ingest_schema_load_file(path, &s, &err) == INGEST_ESCHEMA, "case %zu loaded", i);
    CHECK_MSG(!strcmp(err.schema_path, cases[i].where), "case %zu: path '%s', expected '%s' (%s)",
              i, err.schema_path, cases[i].where, err.message);
    CHECK_MSG(strstr(err.message, path) != NULL, "message does not name the file: %s", err.message);
  }
  /* A JSON Schema keyword we do not support is never ignored. */
  const char *path = write_schema("u.schema.json", "{\"patternProperties\":{},\"x-tsdb\":{" MAPPING_OK "}}");
  ingest_schema *s;
  ingest_error err;
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_EUNSUPPORTED);
  CHECK(strstr(err.message, "patternProperties") != NULL);
  path = write_schema("j.schema.json", "{\n\"type\": \"object\",\n\"x-tsdb\": {,}\n}");
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_ESCHEMA);
  CHECK_MSG(strstr(err.message, "not valid JSON (near line 3)") != NULL, "%s", err.message);
}

TEST(schema_set_refuses_duplicates_and_keeps_nothing) {
  write_schema("a.schema.json", "{\"x-tsdb\":{" MAPPING_OK "}}");
  write_schema("b.schema.json",
               "{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"other/{a}\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  ingest_schema_set *set = NULL;
  char err[512];
  CHECK_INT(ingest_schema_set_load_dir(unit_tmpdir(), &set, err, sizeof err), ==, INGEST_ESCHEMA);
  CHECK(set == NULL);
  CHECK_MSG(strstr(err, "schema id 't' is already used") != NULL, "%s", err);
  CHECK(ingest_schema_set_load_dir("/nonexistent-dir", &set, err, sizeof err) != 0);
  CHECK(strstr(err, "/nonexistent-dir") != NULL);
}

TEST(routing_prefers_the_most_specific_template) {
  write_schema("generic.schema.json",
               "{\"x-tsdb\":{\"id\":\"g\",\"version\":1,\"topic\":\"city/{d}/{s}/{kind}\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  write_schema("air.schema.json",
               "{\"x-tsdb\":{\"id\":\"a\",\"version\":1,\"topic\":\"city/{d}/{s}/air\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  ingest_schema_set *set;
  char err[512];
  CHECK_MSG(ingest_schema_set_load_dir(unit_tmpdir(), &set, err, sizeof err) == 0, "%s", err);
  CHECK_STR(ingest_schema_id(ingest_schema_set_route(set, "city/a/b/air", 12)), "a");
  CHECK_STR(ingest_schema_id(ingest_schema_set_route(set, "city/a/b/noise", 14)), "g");
  ingest_schema_set_release(set);
}

TEST(timestamps_and_measurement_extraction) {
  const char *path = write_schema(
      "ts.schema.json",
      "{\"type\":\"object\",\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t/{a}\","
      "\"timestamp\":{\"pointer\":\"/t\",\"format\":\"epoch_s\",\"max_future\":\"1m\"},"
      "\"measurements\":{\"x\":{\"pointer\":\"/m/x\"},\"y\":{\"pointer\":\"/y\"}}}}");
  ingest_schema *s;
  ingest_error err;
  CHECK_OK(ingest_schema_load_file(path, &s, &err));
  tsdb_point p[2];
  size_t n;
  int64_t arrival = 1795684546000;
  const char *ok = "{\"t\":1795684500.25,\"m\":{\"x\":1.5}}";
  CHECK_OK(ingest_schema_process(s, ok, strlen(ok), arrival, p, &n, &err));
  CHECK_INT(n, ==, 1); /* y is absent: no point, no error */
  CHECK_INT(p[0].ts_ms, ==, 1795684500250);
  CHECK_INT(p[0].field, ==, 0);
  const char *future = "{\"t\":1795684700,\"m\":{\"x\":1}}";
  CHECK_INT(ingest_schema_process(s, future, strlen(future), arrival, p, &n, &err), ==, INGEST_ETIMESTAMP);
  CHECK(strstr(err.message, "ahead of the broker's clock") != NULL);
  const char *not_number = "{\"t\":1795684500,\"m\":{\"x\":1},\"y\":\"2\"}";
  CHECK_INT(ingest_schema_process(s, not_number, strlen(not_number), arrival, p, &n, &err), ==, INGEST_EVALIDATE);
  CHECK_STR(err.pointer, "/y");
  CHECK_STR(err.actual, "\"2\"");
  const char *no_ts = "{\"m\":{\"x\":1}}";
  CHECK_INT(ingest_schema_process(s, no_ts, strlen(no_ts), arrival, p, &n, &err), ==, INGEST_ETIMESTAMP);
  CHECK_STR(err.pointer, "/t");
  const char *negative = "{\"t\":-5,\"m\":{\"x\":1}}";
  CHECK_INT(ingest_schema_process(s, negative, strlen(negative), arrival, p, &n, &err), ==, INGEST_ETIMESTAMP);
  ingest_schema_free(s);
}

TEST(msgpack_payloads) {
  const char *path = write_schema(
      "mp.schema.json",
      "{\"type\":\"object\",\"required\":[\"v\"],\"properties\":{\"v\":{\"type\":\"number\",\"maximum\":100}},"
      "\"x-tsdb\":{\"id\":\"m\",\"version\":1,\"topic\":\"m/{a}\",\"format\":\"msgpack\","
      "\"timestamp\":{\"pointer\":\"/ts\",\"format\":\"epoch_ms\"},"
      "\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  ingest_schema *s;
  ingest_error err;
  CHECK_OK(ingest_schema_load_file(path, &s, &err));
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 2);
  msgpack_pack_str_body(&pk, "ts", 2);
  msgpack_pack_int64(&pk, 1795684500000);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_float(&pk, 21.5f);
  tsdb_point p[1];
  size_t n;
  CHECK_OK(ingest_schema_process(s, sb.data, sb.size, 1795684546000, p, &n, &err));
  CHECK_INT(n, ==, 1);
  CHECK_INT(p[0].ts_ms, ==, 1795684500000);
  CHECK_BITS(p[0].value, 21.5);
  /* Trailing bytes and truncation are decode errors. */
  char buf[64];
  memcpy(buf, sb.data, sb.size);
  buf[sb.size] = (char)0xc0;
  CHECK_INT(ingest_schema_process(s, buf, sb.size + 1, 1795684546000, p, &n, &err), ==, INGEST_EDECODE);
  CHECK_INT(ingest_schema_process(s, sb.data, sb.size - 2, 1795684546000, p, &n, &err), ==, INGEST_EDECODE);
  /* NaN is refused by the schema's maximum (and would never enter a rollup). */
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 2);
  msgpack_pack_str_body(&pk, "ts", 2);
  msgpack_pack_int64(&pk, 1795684500000);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_double(&pk, NAN);
  CHECK_INT(ingest_schema_process(s, sb.data, sb.size, 1795684546000, p, &n, &err), ==, INGEST_EVALIDATE);
  msgpack_sbuffer_destroy(&sb);
  ingest_schema_free(s);
}

TEST(hostile_json_payloads_get_a_reason) {
  const char *path = write_schema("h.schema.json",
                                  "{\"type\":\"object\",\"x-tsdb\":{" MAPPING_OK "}}");
  ingest_schema *s;
  ingest_error err;
  CHECK_OK(ingest_schema_load_file(path, &s, &err));
  tsdb_point p[1];
  size_t n;
  static char deep[4096];
  for (int i = 0; i < 2000; i++) deep[i] = '[';
  CHECK(ingest_schema_process(s, deep, 2000, 0, p, &n, &err) != 0);
  CHECK(err.message[0]);
  const char *huge = "{\"v\":1e400}";
  CHECK(ingest_schema_process(s, huge, strlen(huge), 0, p, &n, &err) != 0);
  const char *bad_utf8 = "{\"v\":\"\xff\xfe\"}";
  CHECK(ingest_schema_process(s, bad_utf8, strlen(bad_utf8), 0, p, &n, &err) != 0);
  static char big[1 << 20];
  memset(big, 'a', sizeof big);
  memcpy(big, "{\"v\":\"", 6);
  memcpy(big + sizeof big - 2, "\"}", 2);
  CHECK(ingest_schema_process(s, big, sizeof big, 0, p, &n, &err) != 0);
  CHECK(strlen(err.actual) < sizeof err.actual);
  ingest_schema_free(s);
}
