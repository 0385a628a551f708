/*
 * Schemas: every tested schema loads; every y_* example passes and yields
 * the points its directory's examples.json describes; every n_* example
 * fails with the reason, keyword and pointer in expected-errors.json, and
 * its error record is valid JSON; every example's topic routes to its own
 * schema in the set of all tested schemas (templates do not collide).
 * Plus the mapping section's load errors and MessagePack payloads.
 *
 * The tested schemas of schemas/ are its directories with an examples.json
 * (t_tested_schema_dir): the shipped ones, and any of a user's that carries
 * examples of its own. The rest of schemas/ is the operator's: a user's
 * schema without examples is normal there, and the tests never load it
 * (user_schemas_change_nothing checks that with tests/user-schemas/).
 *
 * examples.json, next to schema.json (expected-errors.json is needed once
 * the directory has n_* files):
 *   {"topic": "city/mitte/s17/air",            default topic of the examples
 *    "arrival": "2026-11-26T09:20:00Z",         the broker's clock for them
 *    "y_full.json": {"topic": "...",            per file, all optional
 *                    "points": 6,               exact number of points
 *                    "check": [{"field": "pm10", "time": "2026-...Z",
 *                               "value": 17.2, "unit": "ug/m3"}]}}
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "ingest/jsonschema.h"
#include "ingest/schema.h"
#include "test_ingest.h"
#include "unit.h"

#ifndef TSDB_SOURCE_DIR
#error "TSDB_SOURCE_DIR must be defined by the build"
#endif

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  CHECK_MSG(f != NULL, "cannot open %s", path);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static cJSON *slurp_json(const char *path, bool required) {
  struct stat st;
  if (!required && stat(path, &st) != 0) return NULL;
  size_t len;
  cJSON *j = cJSON_Parse(slurp(path, &len));
  CHECK_MSG(cJSON_IsObject(j), "%s is not a JSON object", path);
  return j;
}

static const char *str_member(const cJSON *obj, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t parse_time(const char *text, const char *where) {
  int64_t ms;
  CHECK_MSG(text && ingest_rfc3339_parse(text, strlen(text), &ms) == 0, "%s: bad time '%s'", where,
            text ? text : "(none)");
  return ms;
}

/* The points "check" lists are in the output, with their units. */
static void check_points(const ingest_schema *s, const t_out *o, const cJSON *check,
                         const char *path) {
  const cJSON *c;
  cJSON_ArrayForEach(c, check) {
    const char *field = str_member(c, "field");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(c, "value");
    CHECK_MSG(field && cJSON_IsNumber(value), "%s: a check needs field and value", path);
    int64_t ts = parse_time(str_member(c, "time"), path);
    long i = t_find(s, o, field, ts);
    CHECK_MSG(i >= 0, "%s: no point %s at %s", path, field, str_member(c, "time"));
    CHECK_MSG(fabs(o->out.points[i].value - value->valuedouble) <=
                  1e-12 * fmax(1, fabs(value->valuedouble)),
              "%s: %s is %.17g, expected %.17g", path, field, o->out.points[i].value,
              value->valuedouble);
    const cJSON *unit = cJSON_GetObjectItemCaseSensitive(c, "unit");
    if (unit) {
      const char *u = t_unit(s, o, (size_t)i);
      if (cJSON_IsNull(unit))
        CHECK_MSG(u == NULL, "%s: %s has unit %s, expected none", path, field, u);
      else
        CHECK_MSG(u && !strcmp(u, unit->valuestring), "%s: %s has unit %s, expected %s", path,
                  field, u ? u : "(none)", unit->valuestring);
    }
  }
}

/* The record a refused publisher would receive parses and says the same. */
static void check_record(const ingest_schema *s, const t_out *o, const char *topic,
                         const char *path) {
  char rec[INGEST_ERROR_RECORD_MAX];
  ingest_error_context ctx = {ingest_schema_id(s),
                              ingest_schema_version(s),
                              topic,
                              strlen(topic),
                              "test-client",
                              NULL,
                              T_ARRIVAL};
  int n = ingest_error_record_json(&o->err, &ctx, rec, sizeof rec);
  CHECK_MSG(n > 0, "%s: no error record", path);
  cJSON *j = cJSON_Parse(rec);
  CHECK_MSG(cJSON_IsObject(j), "%s: the error record is not JSON: %s", path, rec);
  CHECK_STR(str_member(j, "schema"), ingest_schema_id(s));
  CHECK_STR(str_member(j, "pointer"), o->err.pointer);
  CHECK_STR(str_member(j, "keyword"), o->err.keyword);
  CHECK_STR(str_member(j, "reason"), ingest_err_short(o->err.code));
  cJSON_Delete(j);
}

static t_out out;

static int check_schema_dir(const char *dir, const ingest_schema_set *set) {
  char path[8192];
  snprintf(path, sizeof path, "%s/schema.json", dir);
  ingest_schema *s;
  ingest_error err;
  CHECK_MSG(ingest_schema_load_file(path, &s, &err) == 0, "%s", err.message);

  snprintf(path, sizeof path, "%s/expected-errors.json", dir);
  cJSON *expected = slurp_json(path, false); /* absent: no n_* file may be there */
  snprintf(path, sizeof path, "%s/examples.json", dir);
  cJSON *examples = slurp_json(path, true);
  const char *default_topic = str_member(examples, "topic");
  CHECK_MSG(default_topic != NULL, "%s has no \"topic\"", path);
  int64_t arrival = parse_time(str_member(examples, "arrival"), path);

  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *e;
  int examples_seen = 0, negatives = 0;
  while ((e = readdir(d)) != NULL) {
    bool yes = !strncmp(e->d_name, "y_", 2), no = !strncmp(e->d_name, "n_", 2);
    if (!yes && !no) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(examples, e->d_name);
    const char *topic =
        meta && str_member(meta, "topic") ? str_member(meta, "topic") : default_topic;
    int64_t at = meta && str_member(meta, "arrival") ? parse_time(str_member(meta, "arrival"), path)
                                                     : arrival;
    /* The topic reaches this schema among all the tested ones. */
    const ingest_schema *routed = ingest_schema_set_route(set, topic, strlen(topic));
    CHECK_MSG(routed && !strcmp(ingest_schema_id(routed), ingest_schema_id(s)),
              "%s: topic %s routes to %s, not %s", path, topic,
              routed ? ingest_schema_id(routed) : "nothing", ingest_schema_id(s));

    size_t len;
    const char *payload = slurp(path, &len);
    int rc = t_process(s, topic, payload, len, at, &out);
    examples_seen++;
    if (yes) {
      CHECK_MSG(rc == 0, "%s must pass but failed: %s", path, out.err.message);
      const cJSON *np = meta ? cJSON_GetObjectItemCaseSensitive(meta, "points") : NULL;
      if (np)
        CHECK_MSG((double)out.out.npoints == np->valuedouble, "%s: %zu points, expected %g", path,
                  out.out.npoints, np->valuedouble);
      else
        CHECK_MSG(out.out.npoints > 0, "%s passed but produced no points", path);
      if (meta) check_points(s, &out, cJSON_GetObjectItemCaseSensitive(meta, "check"), path);
      continue;
    }
    negatives++;
    CHECK_MSG(rc != 0, "%s must fail but passed", path);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(expected, e->d_name);
    CHECK_MSG(cJSON_IsObject(want), "%s has no entry in expected-errors.json", path);
    const char *reason = str_member(want, "reason");
    const char *keyword = str_member(want, "keyword");
    const char *pointer = str_member(want, "pointer");
    CHECK_MSG(reason && keyword && pointer,
              "%s: expected-errors.json needs reason, keyword, pointer", path);
    CHECK_MSG(!strcmp(ingest_err_short(rc), reason), "%s: reason %s, expected %s (%s)", path,
              ingest_err_short(rc), reason, out.err.message);
    CHECK_MSG(!strcmp(out.err.keyword, keyword), "%s: keyword %s, expected %s (%s)", path,
              out.err.keyword, keyword, out.err.message);
    CHECK_MSG(!strcmp(out.err.pointer, pointer), "%s: pointer '%s', expected '%s' (%s)", path,
              out.err.pointer, pointer, out.err.message);
    CHECK_MSG(out.err.message[0] != '\0', "%s: no message", path);
    check_record(s, &out, topic, path);
  }
  closedir(d);
  CHECK_MSG(examples_seen > negatives, "%s: no y_* example", dir);
  CHECK_MSG(cJSON_GetArraySize(expected) == negatives,
            "%s: expected-errors.json lists %d files, the directory has %d n_* files", dir,
            cJSON_GetArraySize(expected), negatives);
  cJSON_Delete(expected);
  cJSON_Delete(examples);
  ingest_schema_free(s);
  return examples_seen;
}

/* A fresh, empty directory inside the test's temporary directory. The
 * returned path stays valid until the next call. */
static const char *fresh_dir(void) {
  static char dir[4096];
  static int made;
  snprintf(dir, sizeof dir, "%s/dir-%d", unit_tmpdir(), ++made);
  CHECK_MSG(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
  return dir;
}

static bool any_entry(const char *root, const char *name) {
  (void)root;
  return name[0] != '.';
}

/* Links every entry of root that want() accepts into dir, except where dir
 * already has an entry of that name: a schema directory of the chosen
 * schemas, for ingest_schema_set_load_dir(), without copying a file. */
static void link_entries(const char *root, const char *dir,
                         bool (*want)(const char *root, const char *name)) {
  char target[PATH_MAX], link[8192];
  CHECK_MSG(realpath(root, target) != NULL, "%s: %s", root, strerror(errno));
  size_t tlen = strlen(target);
  DIR *d = opendir(root);
  CHECK_MSG(d != NULL, "cannot read %s: %s", root, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!want(root, e->d_name)) continue;
    snprintf(target + tlen, sizeof target - tlen, "/%s", e->d_name);
    snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
    CHECK_MSG(symlink(target, link) == 0 || errno == EEXIST, "symlink %s: %s", link,
              strerror(errno));
  }
  closedir(d);
}

typedef struct {
  int dirs, examples;
} tested_counts;

/* Checks every tested schema directory of root (a schema directory such as
 * schemas/), with their examples routed in the set of them all, built from
 * them alone: nothing else in root is ever loaded. *set_out (if given)
 * receives that set, which the caller releases. */
static tested_counts check_tested_schemas(const char *root, ingest_schema_set **set_out) {
  const char *links = fresh_dir();
  link_entries(root, links, t_tested_schema_dir);
  ingest_schema_set *set;
  char errbuf[512];
  CHECK_MSG(ingest_schema_set_load_dir(links, &set, errbuf, sizeof errbuf) == 0,
            "the tested schemas of %s do not load together: %s", root, errbuf);
  struct dirent **names;
  int n = scandir(links, &names, NULL, alphasort);
  CHECK(n >= 0);
  tested_counts c = {0, 0};
  for (int i = 0; i < n; i++) {
    if (names[i]->d_name[0] != '.') {
      char dir[4096];
      snprintf(dir, sizeof dir, "%s/%s", root, names[i]->d_name);
      c.examples += check_schema_dir(dir, set);
      c.dirs++;
    }
    free(names[i]);
  }
  free(names);
  CHECK_INT(ingest_schema_set_count(set), ==, c.dirs);
  if (set_out)
    *set_out = set;
  else
    ingest_schema_set_release(set);
  return c;
}

TEST(shipped_schemas_accept_y_and_refuse_n) {
  ingest_schema_set *set;
  tested_counts c = check_tested_schemas(TSDB_SOURCE_DIR "/schemas", &set);
  /* The eight of the README's table: a shipped directory that lost its
   * examples.json must not drop out of the tests unnoticed. */
  CHECK(c.dirs >= 8);
  CHECK(c.examples >= 4 * c.dirs);
  CHECK(ingest_schema_set_route(set, "city/mitte/air", 14) == NULL);
  ingest_schema_set_release(set);
}

static bool air_quality_twins(const char *root, const char *name) {
  (void)root;
  return !strcmp(name, "air-quality") || !strcmp(name, "user-equivalent-topic");
}

/* Issue 12, item 17: a user's own schemas beside the shipped ones in schemas/,
 * where ./run.sh reads them, change nothing the tests check. The entries of
 * tests/user-schemas/ (its README.md says what each one is) and of schemas/
 * are linked into one temporary schema directory, which the broker would
 * refuse to load; its tested schemas must be exactly those of schemas/ plus
 * the one user directory that has an examples.json. */
TEST(user_schemas_change_nothing) {
  const char *shipped = TSDB_SOURCE_DIR "/schemas", *user = TSDB_SOURCE_DIR "/tests/user-schemas";
  char mixed[4096];
  snprintf(mixed, sizeof mixed, "%s", fresh_dir());
  link_entries(user, mixed, any_entry);
  link_entries(shipped, mixed, any_entry); /* a fixture's name, should schemas/ have it, wins */

  /* What made the tests fail before: the whole directory does not load
   * (user-same-topic, user-broken), and a template equivalent to a shipped
   * one takes its topics (user-equivalent-topic). */
  ingest_schema_set *set;
  char errbuf[512];
  CHECK(ingest_schema_set_load_dir(mixed, &set, errbuf, sizeof errbuf) != 0);
  const char *twins = fresh_dir();
  link_entries(mixed, twins, air_quality_twins);
  if (ingest_schema_set_load_dir(twins, &set, errbuf, sizeof errbuf) == 0) {
    /* Unless the loader comes to refuse such twins: the first id wins. */
    CHECK_STR(ingest_schema_id(ingest_schema_set_route(set, "city/mitte/s17/air", 18)),
              "aa-user-air");
    ingest_schema_set_release(set);
  }

  tested_counts alone = check_tested_schemas(shipped, NULL);
  tested_counts beside = check_tested_schemas(mixed, NULL);
  CHECK_INT(beside.dirs, ==, alone.dirs + 1);         /* user-with-examples */
  CHECK_INT(beside.examples, ==, alone.examples + 2); /* its y_wet and n_moisture_above_100 */
}

static const char *write_schema(const char *name, const char *text) {
  const char *path = unit_path(name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  return path;
}

#define MAPPING_OK \
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
  const char *path =
      write_schema("u.schema.json", "{\"patternProperties\":{},\"x-tsdb\":{" MAPPING_OK "}}");
  ingest_schema *s;
  ingest_error err;
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_EUNSUPPORTED);
  CHECK(strstr(err.message, "patternProperties") != NULL);
  path = write_schema("j.schema.json", "{\n\"type\": \"object\",\n\"x-tsdb\": {,}\n}");
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_ESCHEMA);
  CHECK_MSG(
      strstr(err.message, "not valid JSON (line 3, column 12): a member name is a string") != NULL,
      "%s", err.message);
  /* Strict as messages are: no "017", no \u0000 cut from a pattern. */
  path = write_schema("z.schema.json", "{\"maximum\": 017,\n\"x-tsdb\":{" MAPPING_OK "}}");
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_ESCHEMA);
  CHECK_MSG(strstr(err.message,
                   "not valid JSON (line 1, column 14): a number has no leading zeros") != NULL,
            "%s", err.message);
  path = write_schema(
      "n.schema.json",
      "{\"properties\":{\"id\":{\"pattern\":\"^a\\u0000|\"}},\n\"x-tsdb\":{" MAPPING_OK "}}");
  CHECK_INT(ingest_schema_load_file(path, &s, &err), ==, INGEST_ESCHEMA);
  CHECK_MSG(strstr(err.message, "line 1, column 35: a string holds \\u0000") != NULL, "%s",
            err.message);
}

TEST(schema_set_refuses_duplicates_and_keeps_nothing) {
  write_schema("a.schema.json", "{\"x-tsdb\":{" MAPPING_OK "}}");
  write_schema(
      "b.schema.json",
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
  write_schema(
      "generic.schema.json",
      "{\"x-tsdb\":{\"id\":\"g\",\"version\":1,\"topic\":\"city/{d}/{s}/{kind}\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}");
  write_schema(
      "air.schema.json",
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
  int64_t arrival = 1795684546000;
  CHECK_OK(t_process(s, "t/1", "{\"t\":1795684500.25,\"m\":{\"x\":1.5}}", SIZE_MAX, arrival, &out));
  CHECK_INT(out.out.npoints, ==, 1); /* y is absent: no point, no error */
  CHECK_INT(out.out.points[0].ts_ms, ==, 1795684500250);
  CHECK_INT(out.out.points[0].field, ==, 0);
  CHECK_INT(out.out.nnames, ==, 0);
  /* A decimal that a double only approximates is the time it says. */
  CHECK_OK(t_process(s, "t/1", "{\"t\":1276020076.001,\"m\":{\"x\":1}}", SIZE_MAX, arrival, &out));
  CHECK_INT(out.out.points[0].ts_ms, ==, 1276020076001);
  int rc = t_process(s, "t/1", "{\"t\":1795684700,\"m\":{\"x\":1}}", SIZE_MAX, arrival, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_future", "/t");
  CHECK(strstr(out.err.message, "ahead of the broker's clock") != NULL);
  rc = t_process(s, "t/1", "{\"t\":1795684500,\"m\":{\"x\":1},\"y\":\"2\"}", SIZE_MAX, arrival,
                 &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/measurements", "/y");
  CHECK_STR(out.err.actual, "\"2\"");
  rc = t_process(s, "t/1", "{\"m\":{\"x\":1}}", SIZE_MAX, arrival, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/t");
  rc = t_process(s, "t/1", "{\"t\":-5,\"m\":{\"x\":1}}", SIZE_MAX, arrival, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/t");
  /* Milliseconds sent where seconds are expected: beyond the year 9999. */
  rc = t_process(s, "t/1", "{\"t\":1795684500000,\"m\":{\"x\":1}}", SIZE_MAX, arrival, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp", "/t");
  ingest_schema_free(s);
}

TEST(epoch_units_and_max_past) {
  static const struct {
    const char *format, *payload;
    int64_t ms;
  } cases[] = {
      {"epoch_ms", "{\"t\":1795684500123,\"v\":1}", 1795684500123},
      {"epoch_ms", "{\"t\":1795684500123.9,\"v\":1}", 1795684500123},
      {"epoch_us", "{\"t\":1795684500123456,\"v\":1}", 1795684500123},
      {"epoch_s", "{\"t\":1795684500,\"v\":1}", 1795684500000},
      {"rfc3339", "{\"t\":\"2026-11-26T09:15:00.123456789Z\",\"v\":1}", 1795684500123},
      {"rfc3339", "{\"t\":\"2026-11-26T10:15:00+01:00\",\"v\":1}", 1795684500000},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[512];
    snprintf(text, sizeof text,
             "{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t/{a}\",\"timestamp\":"
             "{\"pointer\":\"/t\",\"format\":\"%s\",\"max_past\":\"1d\"},"
             "\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
             cases[i].format);
    ingest_schema *s = t_schema(text);
    CHECK_OK(t_process(s, NULL, cases[i].payload, SIZE_MAX, T_ARRIVAL, &out));
    CHECK_INT(out.out.points[0].ts_ms, ==, cases[i].ms);
    /* Two days later the same message is older than max_past. */
    int rc = t_process(s, NULL, cases[i].payload, SIZE_MAX, T_ARRIVAL + 2 * 86400000, &out);
    CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_past", "/t");
    ingest_schema_free(s);
  }
}

TEST(arrival_time_without_a_timestamp) {
  ingest_schema *s = t_schema("{\"x-tsdb\":{" MAPPING_OK "}}");
  CHECK_OK(t_process(s, "t/x", "{\"v\":2.5}", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  CHECK_INT(out.out.points[0].ts_ms, ==, T_ARRIVAL);
  CHECK_BITS(out.out.points[0].value, 2.5);
  ingest_schema_free(s);
}

TEST(scale_applies_after_validation) {
  /* A station sending tenths of a degree as integers. */
  ingest_schema *s = t_schema(
      "{\"properties\":{\"t\":{\"type\":\"integer\",\"minimum\":-500,\"maximum\":600}},"
      "\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t/{a}\","
      "\"measurements\":{\"temperature\":{\"pointer\":\"/t\",\"unit\":\"Cel\",\"scale\":0.1,"
      "\"precision\":0.1}}}}");
  CHECK_OK(t_process(s, NULL, "{\"t\":215}", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_NEAR(out.out.points[0].value, 21.5, 1e-12);
  int rc = t_process(s, NULL, "{\"t\":601}", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "maximum", "/t");
  ingest_field_info info;
  CHECK(ingest_schema_field_info(s, 0, &info));
  CHECK_STR(info.unit, "Cel");
  CHECK_BITS(info.precision, 0.1);
  CHECK_BITS(info.scale, 0.1);
  CHECK(!ingest_schema_field_info(s, 1, &info));
  ingest_schema_free(s);
}

TEST(output_capacity_refuses_whole_messages) {
  ingest_schema *s = t_schema(
      "{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"t/{a}\",\"measurements\":{"
      "\"a\":{\"pointer\":\"/a\"},\"b\":{\"pointer\":\"/b\"},\"c\":{\"pointer\":\"/c\"}}}}");
  tsdb_point two[2];
  ingest_output o;
  ingest_output_init(&o, two, 2, NULL, NULL, 0, NULL, 0);
  ingest_error err;
  const char *msg = "{\"a\":1,\"b\":2,\"c\":3}";
  CHECK_INT(ingest_schema_process(s, NULL, 0, msg, strlen(msg), T_ARRIVAL, &o, &err), ==,
            INGEST_ETOOBIG);
  CHECK_INT(o.npoints, ==, 0);
  CHECK_STR(ingest_err_short(err.code), "toobig");
  msg = "{\"a\":1,\"c\":3}";
  CHECK_OK(ingest_schema_process(s, NULL, 0, msg, strlen(msg), T_ARRIVAL, &o, &err));
  CHECK_INT(o.npoints, ==, 2);
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
  CHECK_STR(ingest_schema_format(s), "msgpack");
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
  CHECK_OK(t_process(s, NULL, sb.data, sb.size, 1795684546000, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  CHECK_INT(out.out.points[0].ts_ms, ==, 1795684500000);
  CHECK_BITS(out.out.points[0].value, 21.5);
  /* Trailing bytes and truncation are decode errors. */
  char buf[64];
  memcpy(buf, sb.data, sb.size);
  buf[sb.size] = (char)0xc0;
  int rc = t_process(s, NULL, buf, sb.size + 1, 1795684546000, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "");
  CHECK(strstr(out.err.message, "1 bytes after") != NULL);
  rc = t_process(s, NULL, sb.data, sb.size - 2, 1795684546000, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "");
  CHECK(strstr(out.err.message, "truncated") != NULL);
  /* NaN is refused by the schema's maximum (and would never enter a rollup). */
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 2);
  msgpack_pack_str_body(&pk, "ts", 2);
  msgpack_pack_int64(&pk, 1795684500000);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_double(&pk, NAN);
  rc = t_process(s, NULL, sb.data, sb.size, 1795684546000, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "maximum", "/v");
  msgpack_sbuffer_destroy(&sb);
  ingest_schema_free(s);
}
