/*
 * Format "senml" (RFC 8428): the worked examples of section 5 as vectors,
 * base-field resolution (4.6), relative times (4.5.3), the invalid cases of
 * section 4, the names map and the format's options.
 */
#include "test_ingest.h"

#define SENML_SCHEMA(extra)                                                           \
  "{\"type\":\"array\",\"x-tsdb\":{\"id\":\"s\",\"version\":1,\"topic\":\"s/{dev}\"," \
  "\"format\":\"senml\"" extra "}}"

static t_out out;

/* RFC 8428 times: Tue Jun 8 18:01:16.001 UTC 2010 and friends. */
#define T_2010 INT64_C(1276020076001)
#define T_2011 INT64_C(1320067464000)

TEST(rfc8428_5_1_1_single_datapoint_is_now) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  CHECK(ingest_schema_named(s));
  CHECK_OK(t_process(s, "s/1", "[{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"Cel\",\"v\":23.1}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  CHECK_INT(out.out.nnames, ==, 1);
  CHECK_STR(out.out.names[0], "urn:dev:ow:10e2073a01080063");
  CHECK_STR(out.out.units[0], "Cel");
  /* No bt and no t: time 0, "roughly now" (section 4.5.3). */
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063", T_ARRIVAL, 23.1);
  ingest_schema_free(s);
}

TEST(rfc8428_5_1_2_multiple_datapoints) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  CHECK_OK(t_process(
      s, NULL,
      "[{\"bn\":\"urn:dev:ow:10e2073a01080063:\",\"n\":\"voltage\",\"u\":\"V\",\"v\":120.1},"
      "{\"n\":\"current\",\"u\":\"A\",\"v\":1.2}]",
      SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063:voltage", T_ARRIVAL, 120.1);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063:current", T_ARRIVAL, 1.2);
  CHECK_STR(t_unit(s, &out, 1), "A");

  /* The second example: current at t = -5 .. 0 relative to bt, bu "A". */
  CHECK_OK(
      t_process(s, NULL,
                "[{\"bn\":\"urn:dev:ow:10e2073a0108006:\",\"bt\":1.276020076001e+09,"
                "\"bu\":\"A\",\"bver\":5,\"n\":\"voltage\",\"u\":\"V\",\"v\":120.1},"
                "{\"n\":\"current\",\"t\":-5,\"v\":1.2},{\"n\":\"current\",\"t\":-4,\"v\":1.3},"
                "{\"n\":\"current\",\"t\":-3,\"v\":1.4},{\"n\":\"current\",\"t\":-2,\"v\":1.5},"
                "{\"n\":\"current\",\"t\":-1,\"v\":1.6},{\"n\":\"current\",\"v\":1.7}]",
                SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 7);
  CHECK_INT(out.out.nnames, ==, 2);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a0108006:voltage", T_2010, 120.1);
  static const double current[] = {1.2, 1.3, 1.4, 1.5, 1.6, 1.7};
  for (int i = 0; i < 6; i++)
    CHECK_POINT(s, &out, "urn:dev:ow:10e2073a0108006:current", T_2010 - (5 - i) * 1000, current[i]);
  long v = t_find(s, &out, "urn:dev:ow:10e2073a0108006:voltage", T_2010);
  long c = t_find(s, &out, "urn:dev:ow:10e2073a0108006:current", T_2010);
  CHECK_STR(t_unit(s, &out, (size_t)v), "V"); /* u wins over bu */
  CHECK_STR(t_unit(s, &out, (size_t)c), "A"); /* bu applies */
  ingest_schema_free(s);
}

/* Section 5.1.3 and its resolved form 5.1.4 are the same 13 measurements.
 * They report %RH, lon and lat under one name, so they need "name+unit". */
static const char *const multiple_measurements =
    "[{\"bn\":\"urn:dev:ow:10e2073a01080063\",\"bt\":1.320067464e+09,\"bu\":\"%RH\",\"v\":20},"
    "{\"u\":\"lon\",\"v\":24.30621},{\"u\":\"lat\",\"v\":60.07965},"
    "{\"t\":60,\"v\":20.3},{\"u\":\"lon\",\"t\":60,\"v\":24.30622},{\"u\":\"lat\",\"t\":60,\"v\":60.07965},"
    "{\"t\":120,\"v\":20.7},{\"u\":\"lon\",\"t\":120,\"v\":24.30623},{\"u\":\"lat\",\"t\":120,\"v\":60.07966},"
    "{\"u\":\"%EL\",\"t\":150,\"v\":98},"
    "{\"t\":180,\"v\":21.2},{\"u\":\"lon\",\"t\":180,\"v\":24.30628},{\"u\":\"lat\",\"t\":180,\"v\":60.07967}]";

static const char *const resolved_data =
    "[{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"%RH\",\"t\":1.320067464e+09,\"v\":20},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lon\",\"t\":1.320067464e+09,\"v\":24.30621},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lat\",\"t\":1.320067464e+09,\"v\":60.07965},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"%RH\",\"t\":1.320067524e+09,\"v\":20.3},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lon\",\"t\":1.320067524e+09,\"v\":24.30622},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lat\",\"t\":1.320067524e+09,\"v\":60.07965},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"%RH\",\"t\":1.320067584e+09,\"v\":20.7},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lon\",\"t\":1.320067584e+09,\"v\":24.30623},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lat\",\"t\":1.320067584e+09,\"v\":60.07966},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"%EL\",\"t\":1.320067614e+09,\"v\":98},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"%RH\",\"t\":1.320067644e+09,\"v\":21.2},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lon\",\"t\":1.320067644e+09,\"v\":24.30628},"
    "{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"lat\",\"t\":1.320067644e+09,\"v\":60.07967}]";

TEST(rfc8428_5_1_3_and_5_1_4_resolve_to_the_same_points) {
  ingest_schema *by_name = t_schema(SENML_SCHEMA(""));
  int rc = t_process(by_name, NULL, multiple_measurements, SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "senml", "/1/u");
  CHECK(strstr(out.err.message, "'%RH' and 'lon'") != NULL);
  ingest_schema_free(by_name);

  ingest_schema *s = t_schema(SENML_SCHEMA(",\"senml\":{\"series\":\"name+unit\"}"));
  static t_out resolved;
  CHECK_OK(t_process(s, NULL, multiple_measurements, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_OK(t_process(s, NULL, resolved_data, SIZE_MAX, T_ARRIVAL, &resolved));
  CHECK_INT(out.out.npoints, ==, 13);
  CHECK_INT(resolved.out.npoints, ==, 13);
  CHECK_INT(out.out.nnames, ==, 4);
  for (size_t i = 0; i < 13; i++) {
    CHECK_STR(t_field(s, &out, i), t_field(s, &resolved, i));
    CHECK_STR(t_unit(s, &out, i), t_unit(s, &resolved, i));
    CHECK_INT(out.out.points[i].ts_ms, ==, resolved.out.points[i].ts_ms);
    CHECK_BITS(out.out.points[i].value, resolved.out.points[i].value);
  }
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063[%RH]", T_2011, 20);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063[lon]", T_2011 + 60000, 24.30622);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063[%EL]", T_2011 + 150000, 98);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063[lat]", T_2011 + 180000, 60.07967);
  ingest_schema_free(s);
}

TEST(rfc8428_5_1_5_multiple_data_types) {
  const char *pack =
      "[{\"bn\":\"urn:dev:ow:10e2073a01080063:\",\"n\":\"temp\",\"u\":\"Cel\",\"v\":23.1},"
      "{\"n\":\"label\",\"vs\":\"Machine Room\"},{\"n\":\"open\",\"vb\":false},"
      "{\"n\":\"nfc-reader\",\"vd\":\"aGkgCg\"}]";
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  CHECK_OK(t_process(s, NULL, pack, SIZE_MAX, T_ARRIVAL, &out));
  /* vs and vd carry no number: only temp and open (false = 0) are stored,
   * and only names with a point are listed. */
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_INT(out.out.nnames, ==, 2);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063:temp", T_ARRIVAL, 23.1);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063:open", T_ARRIVAL, 0);
  ingest_schema_free(s);
  s = t_schema(SENML_SCHEMA(",\"senml\":{\"booleans\":\"skip\"}"));
  CHECK_OK(t_process(s, NULL, pack, SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
}

TEST(rfc8428_5_1_6_collection_of_resources) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  CHECK_OK(t_process(
      s, NULL,
      "[{\"bn\":\"2001:db8::2/\",\"bt\":1.320078429e+09,\"n\":\"temperature\",\"u\":\"Cel\",\"v\":25.2},"
      "{\"n\":\"humidity\",\"u\":\"%RH\",\"v\":30},"
      "{\"bn\":\"2001:db8::1/\",\"n\":\"temperature\",\"u\":\"Cel\",\"v\":12.3},"
      "{\"n\":\"humidity\",\"u\":\"%RH\",\"v\":67}]",
      SIZE_MAX, T_ARRIVAL, &out));
  /* "the last record would use the Base Name from the 3rd record but the
   * Base Time from the first record" */
  CHECK_INT(out.out.npoints, ==, 4);
  CHECK_POINT(s, &out, "2001:db8::2/temperature", 1320078429000, 25.2);
  CHECK_POINT(s, &out, "2001:db8::2/humidity", 1320078429000, 30);
  CHECK_POINT(s, &out, "2001:db8::1/temperature", 1320078429000, 12.3);
  CHECK_POINT(s, &out, "2001:db8::1/humidity", 1320078429000, 67);
  ingest_schema_free(s);
}

TEST(rfc8428_5_1_7_and_lights_examples) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  /* A record of base fields only stores nothing. */
  CHECK_OK(t_process(
      s, NULL,
      "[{\"bn\":\"urn:dev:ow:10e2073a01080063:\"},{\"n\":\"temp\",\"u\":\"Cel\",\"v\":23.1},"
      "{\"n\":\"heat\",\"u\":\"/\",\"v\":1},{\"n\":\"fan\",\"u\":\"/\",\"v\":0}]",
      SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 3);
  CHECK_POINT(s, &out, "urn:dev:ow:10e2073a01080063:fan", T_ARRIVAL, 0);
  /* Section 5.1.7's synchronized lights: t 0.1 s after bt. */
  CHECK_OK(t_process(s, NULL,
                     "[{\"bt\":1.320078429e+09,\"bu\":\"/\",\"n\":\"2001:db8::3\",\"v\":0.5},"
                     "{\"n\":\"2001:db8::4\",\"v\":0.5},{\"n\":\"2001:db8::3\",\"t\":0.1,\"v\":0},"
                     "{\"n\":\"2001:db8::4\",\"t\":0.1,\"v\":0}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 4);
  CHECK_POINT(s, &out, "2001:db8::3", 1320078429000, 0.5);
  CHECK_POINT(s, &out, "2001:db8::4", 1320078429100, 0);
  ingest_schema_free(s);
}

TEST(sensml_stream_without_its_end_is_refused) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  int rc = t_process(
      s, NULL,
      "[{\"bn\":\"urn:dev:ow:10e2073a01080063\",\"bt\":1.320067464e+09,\"bu\":\"%RH\",\"v\":21.2},"
      "{\"t\":10,\"v\":21.3},{\"t\":20,\"v\":21.4},",
      SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "");
  ingest_schema_free(s);
}

TEST(base_value_sum_and_relative_times) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  /* bv is added to v (not to vb); bs + s is the series "<name>:sum". */
  CHECK_OK(t_process(
      s, NULL,
      "[{\"bn\":\"m:\",\"bv\":20,\"bs\":1000,\"bu\":\"Wh\",\"n\":\"a\",\"v\":1.5,\"s\":2.5},"
      "{\"n\":\"b\",\"vb\":true}]",
      SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 4);
  CHECK_POINT(s, &out, "m:a", T_ARRIVAL, 21.5);
  CHECK_POINT(s, &out, "m:a:sum", T_ARRIVAL, 1002.5);
  CHECK_POINT(s, &out, "m:b", T_ARRIVAL, 1);
  CHECK_POINT(s, &out, "m:b:sum", T_ARRIVAL, 1000); /* bs applies on its own */
  CHECK(t_unit(s, &out, (size_t)t_find(s, &out, "m:a:sum", T_ARRIVAL)) == NULL);
  /* A relative bt: every time is relative to arrival. */
  CHECK_OK(t_process(s, NULL, "[{\"bt\":-60,\"n\":\"x\",\"v\":1},{\"n\":\"x\",\"t\":30,\"v\":2}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "x", T_ARRIVAL - 60000, 1);
  CHECK_POINT(s, &out, "x", T_ARRIVAL - 30000, 2);
  /* Fractions of a second: ms, rounded to the microsecond first. */
  CHECK_OK(t_process(s, NULL, "[{\"n\":\"x\",\"t\":-0.0015,\"v\":1}]", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.points[0].ts_ms, ==, T_ARRIVAL - 2);
  /* 2^28 is the first absolute time; just below it is relative (and here
   * 8.5 years ahead of the clock). */
  CHECK_OK(
      t_process(s, NULL, "[{\"n\":\"x\",\"t\":268435456,\"v\":1}]", SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.points[0].ts_ms, ==, INT64_C(268435456000));
  int rc = t_process(s, NULL, "[{\"n\":\"x\",\"t\":268435455,\"v\":1}]", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_future", "/0/t");
  /* Unknown labels are ignored (section 4.4). */
  CHECK_OK(t_process(s, NULL, "[{\"n\":\"x\",\"v\":1,\"l\":\"link\",\"geo\":{\"lat\":1}}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
  s = t_schema(SENML_SCHEMA(",\"senml\":{\"sums\":\"skip\"}"));
  CHECK_OK(t_process(s, NULL,
                     "[{\"n\":\"e\",\"u\":\"Wh\",\"s\":12},{\"n\":\"p\",\"u\":\"W\",\"v\":3}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 1);
  ingest_schema_free(s);
}

TEST(invalid_packs_of_section_4_are_refused) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  static const struct {
    const char *pack, *pointer, *says;
  } cases[] = {
      {"[]", "", "one or more records"},
      {"[1]", "/0", "JSON object"},
      {"[{\"n\":1,\"v\":1}]", "/0/n", "must be a string"},
      {"[{\"n\":\"a\",\"v\":true}]", "/0/v", "must be a number"},
      {"[{\"n\":\"a\",\"vb\":\"true\"}]", "/0/vb", "must be a boolean"},
      {"[{\"n\":\"a\",\"t\":\"2026-11-26T09:15:00Z\",\"v\":1}]", "/0/t", "must be a number"},
      {"[{\"bn\":5,\"n\":\"a\",\"v\":1}]", "/0/bn", "must be a string"},
      {"[{\"n\":\"a\",\"v\":1,\"x_\":2}]", "/0", "must be understood"},
      {"[{\"bver\":0,\"n\":\"a\",\"v\":1}]", "/0/bver", "positive integer"},
      {"[{\"bver\":10.5,\"n\":\"a\",\"v\":1}]", "/0/bver", "positive integer"},
      {"[{\"bver\":11,\"n\":\"a\",\"v\":1}]", "/0/bver", "newer"},
      {"[{\"bver\":5,\"n\":\"a\",\"v\":1},{\"bver\":6,\"n\":\"b\",\"v\":1}]", "/1/bver",
       "same version"},
      {"[{\"n\":\"a\",\"v\":1,\"vb\":true}]", "/0", "exactly one value"},
      {"[{\"n\":\"a\",\"u\":\"Cel\"}]", "/0", "value field"},
      /* Records that carry no measurement (section 4.2), and packs that
       * hold none. */
      {"[{}]", "/0", "carries nothing"},
      {"[{\"l\":\"link\"}]", "/0", "carries nothing"},
      {"[{\"n\":\"a\",\"v\":1},{}]", "/1", "carries nothing"},
      {"[{\"bn\":\"a:\"}]", "", "no record of the pack has a value"},
      {"[{\"bn\":\"a:\",\"bt\":1},{\"bu\":\"Cel\"},{\"bver\":10}]", "",
       "no record of the pack has a value"},
      {"[{\"n\":\"a\",\"v\":1},{\"bn\":\"b:\"}]", "/1", "no record after it"},
      {"[{\"bn\":\"a:\"},{\"n\":\"x\",\"v\":1},{\"bt\":5},{\"bu\":\"A\"}]", "/3",
       "no record after it"},
      {"[{\"v\":1}]", "/0", "is empty"},
      {"[{\"n\":\"-a\",\"v\":1}]", "/0/n", "start with a letter"},
      {"[{\"bn\":\"dev 1/\",\"n\":\"a\",\"v\":1}]", "/0/bn", "character outside"},
      {"[{\"bn\":\"_x\"},{\"n\":\"a\",\"v\":1}]", "/0/bn", "start with a letter"},
      {"[{\"n\":\"a\\u00e9\",\"v\":1}]", "/0/n", "character outside"},
      {"[{\"n\":\"a\",\"u\":\"deg C\",\"v\":1}]", "/0/u", "units registry"},
      {"[{\"bu\":\"\\u00b0C\",\"n\":\"a\",\"v\":1}]", "/0/bu", "units registry"},
      {"[{\"n\":\"a\",\"vd\":\"aGkgCg==\"}]", "/0/vd", "base64url"},
      {"[{\"n\":\"a\",\"vd\":\"a+b/\"}]", "/0/vd", "base64url"},
      {"[{\"n\":\"a\",\"v\":1e400}]", "/0/v", "finite"},
      {"[{\"bv\":1e308,\"n\":\"a\",\"v\":1e308}]", "/0/v", "not a finite number"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = t_process(s, NULL, cases[i].pack, SIZE_MAX, T_ARRIVAL, &out);
    CHECK_MSG(rc == INGEST_EDECODE, "case %zu (%s): rc %d: %s", i, cases[i].pack, rc,
              out.err.message);
    CHECK_MSG(!strcmp(out.err.keyword, "senml"), "case %zu: keyword %s", i, out.err.keyword);
    CHECK_MSG(!strcmp(out.err.pointer, cases[i].pointer),
              "case %zu (%s): pointer '%s', expected '%s'", i, cases[i].pack, out.err.pointer,
              cases[i].pointer);
    CHECK_MSG(strstr(out.err.message, cases[i].says) != NULL, "case %zu: message '%s' lacks '%s'",
              i, out.err.message, cases[i].says);
    CHECK_INT(out.out.npoints, ==, 0);
  }
  /* A name of 255 bytes is fine, 256 is not. */
  char pack[600];
  char name[300];
  memset(name, 'a', 256);
  name[255] = '\0';
  snprintf(pack, sizeof pack, "[{\"n\":\"%s\",\"v\":1}]", name);
  CHECK_OK(t_process(s, NULL, pack, SIZE_MAX, T_ARRIVAL, &out));
  name[255] = 'a';
  name[256] = '\0';
  snprintf(pack, sizeof pack, "[{\"n\":\"%s\",\"v\":1}]", name);
  CHECK_INT(t_process(s, NULL, pack, SIZE_MAX, T_ARRIVAL, &out), ==, INGEST_EDECODE);
  CHECK(strstr(out.err.message, "longer than 255") != NULL);
  /* A label twice is a member name twice: the JSON parser refuses it. */
  int rc = t_process(s, NULL, "[{\"n\":\"a\",\"v\":1,\"v\":2}]", SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EDECODE, "format", "/0");
  CHECK(strstr(out.err.message, "\"v\" appears twice") != NULL);
  /* Base fields that a later measurement uses, a string value only, a base
   * sum: measurements, even when none becomes a stored point. */
  CHECK_OK(t_process(s, NULL, "[{\"bn\":\"a:\"},{\"n\":\"x\",\"vs\":\"on\"}]", SIZE_MAX, T_ARRIVAL,
                     &out));
  CHECK_INT(out.out.npoints, ==, 0);
  CHECK_OK(t_process(s, NULL, "[{\"bs\":10},{\"n\":\"e\"},{\"n\":\"f\",\"s\":1}]", SIZE_MAX,
                     T_ARRIVAL, &out));
  CHECK_POINT(s, &out, "e:sum", T_ARRIVAL, 10);
  CHECK_POINT(s, &out, "f:sum", T_ARRIVAL, 11);
  /* The root: an object is not a pack. */
  CHECK_INT(t_process(s, NULL, "{\"n\":\"a\",\"v\":1}", SIZE_MAX, T_ARRIVAL, &out), ==,
            INGEST_EVALIDATE); /* this schema's "type": "array" says so first */
  ingest_schema_free(s);
}

TEST(names_map_ignore_and_unmapped) {
  ingest_schema *s = t_schema(SENML_SCHEMA(
      ",\"names\":{\"map\":{\"urn:dev:ow:1:temp\":{\"field\":\"temperature\",\"unit\":\"Cel\","
      "\"precision\":0.1},\"urn:dev:ow:1:t10\":{\"field\":\"decitemp\",\"scale\":0.1}},"
      "\"ignore\":[\"urn:dev:ow:1:rssi\"],\"unmapped\":\"refuse\"}"));
  CHECK_INT(ingest_schema_nfields(s), ==, 2);
  CHECK_STR(ingest_schema_field(s, 0), "temperature");
  CHECK_OK(t_process(s, NULL,
                     "[{\"bn\":\"urn:dev:ow:1:\",\"n\":\"temp\",\"v\":21.5},"
                     "{\"n\":\"rssi\",\"u\":\"dBm\",\"v\":-80},{\"n\":\"t10\",\"v\":215}]",
                     SIZE_MAX, T_ARRIVAL, &out));
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_POINT(s, &out, "temperature", T_ARRIVAL, 21.5);
  CHECK_POINT(s, &out, "decitemp", T_ARRIVAL, 21.5);
  CHECK_STR(t_unit(s, &out, 0), "Cel"); /* the map's unit when the record has none */
  int rc = t_process(s, NULL, "[{\"bn\":\"urn:dev:ow:1:\",\"n\":\"hum\",\"v\":40}]", SIZE_MAX,
                     T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/names", "/0/n");
  rc = t_process(s, NULL, "[{\"bn\":\"urn:dev:ow:1:\",\"n\":\"temp\",\"u\":\"K\",\"v\":294.65}]",
                 SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/names", "/0/u");
  ingest_schema_free(s);
}

TEST(duplicates_reject_within_one_pack) {
  ingest_schema *s = t_schema(SENML_SCHEMA(",\"duplicates\":\"reject\""));
  CHECK_INT(ingest_schema_duplicates(s), ==, INGEST_DUP_REJECT);
  CHECK_OK(t_process(s, NULL, "[{\"n\":\"a\",\"v\":1},{\"n\":\"a\",\"t\":-1,\"v\":2}]", SIZE_MAX,
                     T_ARRIVAL, &out));
  int rc = t_process(s, NULL, "[{\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"v\":2},{\"n\":\"a\",\"v\":3}]",
                     SIZE_MAX, T_ARRIVAL, &out);
  CHECK_REFUSED(rc, &out, INGEST_EVALIDATE, "x-tsdb/duplicates", "");
  ingest_schema_free(s);
  /* With "last" the engine keeps the later one: both points go through. */
  s = t_schema(SENML_SCHEMA(""));
  CHECK_OK(t_process(s, NULL, "[{\"n\":\"a\",\"v\":1},{\"n\":\"a\",\"v\":3}]", SIZE_MAX, T_ARRIVAL,
                     &out));
  CHECK_INT(out.out.npoints, ==, 2);
  CHECK_INT(out.out.nnames, ==, 1);
  ingest_schema_free(s);
}

TEST(small_output_buffers_refuse_the_pack) {
  ingest_schema *s = t_schema(SENML_SCHEMA(""));
  tsdb_point points[4];
  const char *names[2], *units[2];
  char text[32];
  ingest_output o;
  ingest_error err;
  const char *three = "[{\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"v\":1},{\"n\":\"c\",\"v\":1}]";
  ingest_output_init(&o, points, 4, names, units, 2, text, sizeof text);
  CHECK_INT(ingest_schema_process(s, NULL, 0, three, strlen(three), T_ARRIVAL, &o, &err), ==,
            INGEST_ETOOBIG);
  CHECK(strstr(err.message, "more than 2 fields") != NULL);
  const char *long_names =
      "[{\"n\":\"aaaaaaaaaaaaaaaaaaaa\",\"v\":1},{\"n\":\"bbbbbbbbbbbbbbbbbbbb\",\"v\":1}]";
  ingest_output_init(&o, points, 4, names, units, 2, text, sizeof text);
  CHECK_INT(ingest_schema_process(s, NULL, 0, long_names, strlen(long_names), T_ARRIVAL, &o, &err),
            ==, INGEST_ETOOBIG);
  CHECK_INT(o.npoints, ==, 0);
  const char *five =
      "[{\"n\":\"a\",\"v\":1},{\"n\":\"a\",\"t\":-1,\"v\":1},{\"n\":\"a\",\"t\":-2,\"v\":1},"
      "{\"n\":\"a\",\"t\":-3,\"v\":1},{\"n\":\"a\",\"t\":-4,\"v\":1}]";
  ingest_output_init(&o, points, 4, names, units, 2, text, sizeof text);
  CHECK_INT(ingest_schema_process(s, NULL, 0, five, strlen(five), T_ARRIVAL, &o, &err), ==,
            INGEST_ETOOBIG);
  CHECK(strstr(err.message, "more than 4 points") != NULL);
  /* Without name buffers at all, a named format cannot store anything. */
  ingest_output_init(&o, points, 4, NULL, NULL, 0, NULL, 0);
  CHECK_INT(ingest_schema_process(s, NULL, 0, three, strlen(three), T_ARRIVAL, &o, &err), ==,
            INGEST_ETOOBIG);
  ingest_schema_free(s);
}
