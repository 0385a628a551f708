/*
 * Malformed and hostile payloads, through every format: each one gets a
 * reason (code, message, a valid error record) or valid points, and never a
 * crash (this file also runs under ASan/UBSan). Truncated JSON, invalid
 * UTF-8, nesting 1000 deep, 1 MB strings, 1e400, NaN and infinities in
 * MessagePack, lying MessagePack lengths, and seeded random mutations of
 * the shipped examples.
 */
#include <dirent.h>
#include <math.h>

#include <msgpack.h>

#include "test_ingest.h"

#ifndef TSDB_SOURCE_DIR
#error "TSDB_SOURCE_DIR must be defined by the build"
#endif

static const char *const schemas[] = {
    /* json */
    "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\",\"maximum\":100},\"s\":"
    "{\"type\":\"string\",\"maxLength\":8}},\"x-tsdb\":{\"id\":\"j\",\"version\":1,\"topic\":\"j/{a}\","
    "\"timestamp\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},"
    "\"measurements\":{\"v\":{\"pointer\":\"/v\"},\"w\":{\"pointer\":\"/w/0\"}}}}",
    /* msgpack */
    "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"}},\"x-tsdb\":{\"id\":\"m\","
    "\"version\":1,\"topic\":\"m/{a}\",\"format\":\"msgpack\",\"measurements\":{\"v\":{\"pointer\":\"/v\"},"
    "\"w\":{\"pointer\":\"/w\"}}}}",
    /* senml, keeping every name */
    "{\"x-tsdb\":{\"id\":\"s\",\"version\":1,\"topic\":\"s/{a}\",\"format\":\"senml\",\"duplicates\":\"reject\"}}",
    /* ttn-v3 */
    "{\"x-tsdb\":{\"id\":\"t\",\"version\":1,\"topic\":\"v3/{app}@{tenant}/devices/{device}/up\","
    "\"format\":\"ttn-v3\",\"measurements\":{\"v\":{\"pointer\":\"/v\"}}}}",
    /* sensor.community, keeping every name */
    "{\"x-tsdb\":{\"id\":\"c\",\"version\":1,\"topic\":\"sc/{chip}-{sensor}\",\"format\":\"sensor.community\"}}",
};
static const char *const topics[] = {"j/1", "m/1", "s/1", "v3/a@t/devices/d/up", "sc/esp-1"};
#define NFORMATS (sizeof schemas / sizeof schemas[0])

static t_out out;

/* One payload through one schema: a reason or sane points, and a record. */
static void survive(const ingest_schema *s, const char *topic, const void *p, size_t len) {
  int rc = t_process(s, topic, p, len, T_ARRIVAL, &out);
  if (rc == 0) {
    for (size_t i = 0; i < out.out.npoints; i++) {
      CHECK(isfinite(out.out.points[i].value));
      if (out.out.nnames) CHECK(out.out.points[i].field < out.out.nnames);
    }
    for (size_t i = 0; i < out.out.nnames; i++) CHECK(out.out.names[i][0] != '\0');
    return;
  }
  CHECK_MSG(out.err.code == rc, "rc %d but err.code %d", rc, out.err.code);
  CHECK_MSG(out.err.message[0] != '\0', "rc %d without a message", rc);
  CHECK_INT(out.out.npoints, ==, 0);
  CHECK(rc == INGEST_EDECODE || rc == INGEST_EVALIDATE || rc == INGEST_ETIMESTAMP ||
        rc == INGEST_ETOOBIG);
  static char rec[INGEST_ERROR_RECORD_MAX];
  ingest_error_context ctx = {ingest_schema_id(s), 1, topic, strlen(topic), "c", NULL, T_ARRIVAL};
  CHECK(ingest_error_record_json(&out.err, &ctx, rec, sizeof rec) > 0);
  cJSON *j = cJSON_Parse(rec);
  CHECK_MSG(cJSON_IsObject(j), "record is not JSON: %s", rec);
  cJSON_Delete(j);
}

static void survive_all(const void *p, size_t len) {
  for (size_t f = 0; f < NFORMATS; f++) {
    ingest_schema *s = t_schema(schemas[f]);
    survive(s, topics[f], p, len);
    ingest_schema_free(s);
  }
}

static int refused(size_t format, const void *p, size_t len) {
  ingest_schema *s = t_schema(schemas[format]);
  survive(s, topics[format], p, len);
  int rc = out.err.code;
  ingest_schema_free(s);
  return rc;
}

TEST(empty_truncated_and_invalid_utf8) {
  survive_all("", 0);
  survive_all("{", 1);
  survive_all("{\"v\":1", 6);
  survive_all("[{\"n\":\"a\",\"v\":1}", 16);
  CHECK_INT(refused(0, "{\"v\":1", 6), ==, INGEST_EDECODE);
  CHECK_INT(refused(0, "{\"v\":1} x", 9), ==, INGEST_EDECODE); /* trailing bytes */
  CHECK_INT(refused(0, "{\"t\":1,\"v\":1} \n", 15), ==, 0);    /* trailing whitespace */
  /* A final NUL (a C string's terminator sent along) is not JSON either
   * (RFC 8259 section 2): refused with a reason that says where it is. */
  CHECK_INT(refused(0, "{\"t\":1,\"v\":1}\0", 14), ==, INGEST_EDECODE);
  CHECK(strstr(out.err.message, "at byte 13 of 14: the payload has bytes after") != NULL);
  CHECK_INT(refused(0, "{\"t\":1,\"v\":1}\0\0", 15), ==, INGEST_EDECODE);
  /* Invalid UTF-8 is refused by the JSON decoders (RFC 8259 section 8.1),
   * wherever it is: a name, a value, a SenML name, a value_type. */
  const char bad_utf8[] = "{\"\xff\xfe\":\"\xc3\x28\",\"s\":\"\xed\xa0\x80\",\"v\":1}";
  survive_all(bad_utf8, sizeof bad_utf8 - 1);
  CHECK_INT(refused(0, bad_utf8, sizeof bad_utf8 - 1), ==, INGEST_EDECODE);
  CHECK_STR(out.err.keyword, "format");
  CHECK(strstr(out.err.message, "not UTF-8") != NULL);
  const char senml_utf8[] = "[{\"n\":\"caf\xc3\xa9\xff\",\"v\":1}]";
  CHECK_INT(refused(2, senml_utf8, sizeof senml_utf8 - 1), ==, INGEST_EDECODE);
  CHECK_STR(out.err.pointer, "/0/n");
  const char sc_utf8[] = "{\"sensordatavalues\":[{\"value_type\":\"\xff\",\"value\":\"1\"}]}";
  CHECK_INT(refused(4, sc_utf8, sizeof sc_utf8 - 1), ==, INGEST_EDECODE);
  CHECK_STR(out.err.pointer, "/sensordatavalues/0/value_type");
  survive_all("{\"v\":1,\"\0\":2}", 13);
  survive_all("\xef\xbb\xbf{\"v\":1}", 10); /* a byte order mark */
  CHECK_INT(refused(0, "\xef\xbb\xbf{\"t\":1,\"v\":1}", 16), ==, INGEST_EDECODE);
  CHECK(strstr(out.err.message, "byte order mark") != NULL);
}

static char big[(1 << 20) + 64];

/* prefix, then 'a' up to 1 MiB, then suffix; returns the length. */
static size_t big_payload(const char *prefix, const char *suffix) {
  size_t n = 1 << 20, lp = strlen(prefix), ls = strlen(suffix);
  memset(big, 'a', n);
  memcpy(big, prefix, lp);
  memcpy(big + n - ls, suffix, ls);
  return n;
}

TEST(deep_nesting_and_huge_values) {
  static char deep[4096];
  for (int i = 0; i < 1000; i++) {
    deep[i] = '[';
    deep[1000 + i] = ']';
  }
  survive_all(deep, 2000);
  for (int i = 0; i < 400; i++) memcpy(deep + 5 * i, "{\"a\":", 5);
  survive_all(deep, 2000);
  /* 1 MB strings: as a value, as a key, as a SenML name, as a value_type. */
  size_t n = big_payload("{\"t\":1795684500000,\"s\":\"", "\"}");
  survive_all(big, n);
  CHECK_INT(refused(0, big, n), ==, INGEST_EVALIDATE);
  CHECK(strlen(out.err.actual) < sizeof out.err.actual);
  n = big_payload("{\"", "\":1}");
  survive_all(big, n);
  n = big_payload("[{\"v\":1,\"n\":\"", "\"}]");
  CHECK_INT(refused(2, big, n), ==, INGEST_EDECODE); /* longer than 255 bytes */
  n = big_payload("{\"sensordatavalues\":[{\"value\":\"1\",\"value_type\":\"", "\"}]}");
  survive_all(big, n);
  CHECK_INT(refused(4, big, n), ==, INGEST_EVALIDATE);
  /* 1e400 is an infinity for cJSON: refused as a measurement everywhere. */
  CHECK_INT(refused(0, "{\"v\":1e400}", SIZE_MAX), ==, INGEST_EVALIDATE);
  CHECK_INT(refused(0, "{\"t\":1,\"w\":[-1e400]}", SIZE_MAX), ==, INGEST_EVALIDATE);
  CHECK_INT(refused(2, "[{\"n\":\"a\",\"v\":1e400}]", SIZE_MAX), ==, INGEST_EDECODE);
  CHECK_INT(refused(2, "[{\"n\":\"a\",\"t\":1e400,\"v\":1}]", SIZE_MAX), ==, INGEST_EDECODE);
  CHECK_INT(
      refused(
          3,
          "{\"received_at\":\"2026-11-26T09:15:00Z\",\"uplink_message\":{\"decoded_payload\":{\"v\":1e400}}}",
          SIZE_MAX),
      ==, INGEST_EVALIDATE);
  CHECK_INT(refused(4, "{\"sensordatavalues\":[{\"value_type\":\"x\",\"value\":1e400}]}", SIZE_MAX),
            ==, INGEST_EDECODE);
  CHECK_INT(refused(0, "{\"t\":1e400,\"v\":1}", SIZE_MAX), ==, INGEST_ETIMESTAMP);
  CHECK_INT(refused(0, "{\"t\":-1e400,\"v\":1}", SIZE_MAX), ==, INGEST_ETIMESTAMP);
  CHECK_INT(refused(0, "{\"t\":9.3e18,\"v\":1}", SIZE_MAX), ==, INGEST_ETIMESTAMP);
}

static void pack_map_v_double(msgpack_packer *pk, double d) {
  msgpack_pack_map(pk, 1);
  msgpack_pack_str(pk, 1);
  msgpack_pack_str_body(pk, "v", 1);
  msgpack_pack_double(pk, d);
}

TEST(msgpack_nan_infinities_and_lying_lengths) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  const double odd[] = {NAN, -NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < 4; i++) {
    msgpack_sbuffer_clear(&sb);
    pack_map_v_double(&pk, odd[i]);
    CHECK_INT(refused(1, sb.data, sb.size), ==, INGEST_EVALIDATE);
    CHECK_STR(out.err.keyword, "x-tsdb/measurements");
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "v", 1);
    msgpack_pack_float(&pk, (float)odd[i]);
    CHECK_INT(refused(1, sb.data, sb.size), ==, INGEST_EVALIDATE);
  }
  /* Integers beyond 2^53 and 2^63 are numbers, stored as doubles. */
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str(&pk, 1);
  msgpack_pack_str_body(&pk, "v", 1);
  msgpack_pack_uint64(&pk, UINT64_MAX);
  CHECK_INT(refused(1, sb.data, sb.size), ==, 0);
  msgpack_sbuffer_destroy(&sb);
  /* Headers that promise more than the payload holds: refused before
   * msgpack-c would allocate for them. */
  static const struct {
    const char *bytes;
    size_t len;
  } lies[] = {
      {"\xdd\xff\xff\xff\xff", 5},              /* array32 of 4 billion */
      {"\xdf\xff\xff\xff\xff", 5},              /* map32 */
      {"\xdc\xff\xff", 3},                      /* array16 */
      {"\x81\xa1v\xdb\xff\xff\xff\xff", 8},     /* str32 */
      {"\x81\xa1v\xc6\x00\x01\x00\x00", 8},     /* bin32 */
      {"\x81\xa1v\xc9\x00\x00\x00\x10\x01", 9}, /* ext32 */
      {"\x81\xa1v\xd8\x01", 5},                 /* fixext16 */
      {"\x81\xa1v\xcb\x40", 5},                 /* float64 cut */
      {"\x81\xa1v\xc1", 4},                     /* reserved byte */
      {"\x92\x01", 2},                          /* fixarray short of an element */
      {"\xc0\xc0", 2},                          /* two values */
  };
  for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
    CHECK_MSG(refused(1, lies[i].bytes, lies[i].len) == INGEST_EDECODE, "lie %zu accepted", i);
    survive_all(lies[i].bytes, lies[i].len);
  }
  static char deep[1001];
  memset(deep, 0x91, 1000);
  deep[1000] = (char)0xc0;
  CHECK_INT(refused(1, deep, 1001), ==, INGEST_EDECODE);
  CHECK(strstr(out.err.message, "deeper than 32") != NULL);
  /* 32 levels is msgpack-c's own limit and still decodes (then the schema
   * wants an object at the root); 33 do not. */
  CHECK_INT(refused(1, deep + 1000 - 32, 33), ==, INGEST_EVALIDATE);
  CHECK_STR(out.err.keyword, "type");
  CHECK_INT(refused(1, deep + 1000 - 33, 34), ==, INGEST_EDECODE);
  /* A map with a non-string key matches no property. */
  CHECK_INT(refused(1, "\x82\x01\x02\xa1v\x05", 6), ==, 0);
  CHECK_INT(out.out.npoints, ==, 1);
}

static uint64_t seed = 0x5eed5eedULL;

static void mutate_file(const char *path) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  static char orig[1 << 16], buf[1 << 16];
  size_t len = fread(orig, 1, sizeof orig, f);
  fclose(f);
  for (int round = 0; round < 200; round++) {
    memcpy(buf, orig, len);
    size_t n = len;
    int edits = 1 + (int)(unit_rand(&seed) % 4);
    for (int e = 0; e < edits && n > 0; e++) {
      size_t at = unit_rand(&seed) % n;
      switch (unit_rand(&seed) % 5) {
      case 0:
        buf[at] = (char)unit_rand(&seed);
        break; /* a random byte */
      case 1:
        buf[at] ^= (char)(1u << (unit_rand(&seed) % 8));
        break; /* a flipped bit */
      case 2:
        n = at;
        break; /* truncated */
      case 3:
        memmove(buf + at, buf + at + 1, n - at - 1), n--;
        break; /* a byte gone */
      default:
        buf[at] = "\"{}[],:0\\-e.\xff"[unit_rand(&seed) % 14];
        break; /* syntax */
      }
    }
    survive_all(buf, n);
  }
}

TEST(mutated_shipped_examples) {
  const char *root = TSDB_SOURCE_DIR "/schemas";
  DIR *d = opendir(root);
  CHECK(d != NULL);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d)) != NULL) {
    /* The tested schemas' examples only: the rest of schemas/ is a user's. */
    if (!t_tested_schema_dir(root, e->d_name)) continue;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
    DIR *sd = opendir(dir);
    CHECK(sd != NULL);
    struct dirent *x;
    while ((x = readdir(sd)) != NULL) {
      if (strncmp(x->d_name, "y_", 2)) continue;
      char path[8192];
      snprintf(path, sizeof path, "%s/%s", dir, x->d_name);
      mutate_file(path);
      files++;
    }
    closedir(sd);
  }
  closedir(d);
  CHECK(files >= 16);
}

TEST(random_bytes) {
  static char buf[256];
  for (int i = 0; i < 2000; i++) {
    size_t n = unit_rand(&seed) % sizeof buf;
    for (size_t k = 0; k < n; k++) buf[k] = (char)unit_rand(&seed);
    survive_all(buf, n);
  }
}
