/*
 * Format "sensor.community": the JSON that airrohr firmware (sensor.community,
 * formerly luftdaten.info) pushes over HTTP, brought onto MQTT by a gateway:
 *
 *   {"esp8266id": "1234567", "software_version": "NRZ-2020-133",
 *    "sensordatavalues": [{"value_type": "SDS_P1", "value": "12.30"},
 *                         {"value_type": "BME280_pressure", "value": "100567.00"}]}
 *
 * The JSON Schema validates the whole message. Each entry of
 * sensordatavalues names its own field (value_type, looked up in
 * x-tsdb.names: mapped, ignored, kept under its own name or refused) and
 * carries a decimal in a string ("12.30", "-71"; a JSON number is accepted
 * too). The decimal grammar is strict: an optional "-", digits, an optional
 * fraction and exponent; "nan", "", " 1" or "0x10" are refused, so a broken
 * sensor is noticed instead of stored. Names that are kept must be valid
 * series names (RFC 8428 section 4.5.1's characters).
 *
 * The firmware sends no time: the arrival time is used, unless the schema
 * points at a time the gateway added. When the topic template has a
 * {sensor} level, esp8266id must equal it.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define DECIMAL_MAX 64

/* strtod() follows LC_NUMERIC, which a host process may have set to a
 * locale with a decimal comma: parse in the "C" locale, made once. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static bool digits(const char *p, size_t n, size_t *i) {
  size_t start = *i;
  while (*i < n && p[*i] >= '0' && p[*i] <= '9') (*i)++;
  return *i > start;
}

/* -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)? to a finite double. */
static bool decimal(const char *p, size_t n, double *out) {
  size_t i = 0;
  if (n == 0 || n > DECIMAL_MAX) return false;
  if (p[i] == '-') i++;
  if (!digits(p, n, &i)) return false;
  if (i < n && p[i] == '.') {
    i++;
    if (!digits(p, n, &i)) return false;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    if (!digits(p, n, &i)) return false;
  }
  if (i != n) return false;
  char buf[DECIMAL_MAX + 1];
  memcpy(buf, p, n);
  buf[n] = '\0';
  pthread_once(&c_locale_once, make_c_locale);
  double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
  *out = d;
  return isfinite(d);
}

static ingest_value member(ingest_value v, const char *key) {
  ingest_value none = {NULL, NULL};
  if (ingest_value_type(v) != INGEST_T_OBJECT) return none;
  const void *c = v.ops->member(v.node, key, strlen(key));
  return c ? (ingest_value){v.ops, c} : none;
}

static int bad(ingest_error *err, int code, const char *keyword, const char *ptr,
               const char *expected, ingest_value v, const char *text) {
  ingest_error_set(err, code, keyword, ptr, "%s: %s", ptr[0] ? ptr : "(root)", text);
  ingest_extract__expected(err, "%s", expected);
  if (ingest_value_present(v))
    ingest_extract__actual(err, v);
  else
    snprintf(err->actual, sizeof err->actual, "absent");
  return code;
}

static int same_sensor(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                       ingest_error *err) {
  if (s->sc.cap_sensor < 0 || !m->topic) return 0;
  ingest_value id = member(root, "esp8266id");
  if (!ingest_value_present(id)) return 0;
  tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
  if (!tsdb_topic_template_match(s->tpl, m->topic, m->topic_len, caps)) return 0;
  const tsdb_topic_capture *c = &caps[s->sc.cap_sensor];
  const char *level = m->topic + c->offset;
  char num[24];
  const char *text = NULL;
  size_t n = 0;
  int64_t i;
  if (ingest_value_type(id) == INGEST_T_STRING) {
    text = id.ops->string(id.node, &n);
  } else if (ingest_value_type(id) == INGEST_T_NUMBER && id.ops->int64(id.node, &i)) {
    n = (size_t)snprintf(num, sizeof num, "%lld", (long long)i);
    text = num;
  }
  if (text && n == c->len && !memcmp(text, level, n)) return 0;
  int shown = (int)(c->len > 64 ? 64 : c->len);
  ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/topic", "/esp8266id",
                   "/esp8266id: the message is from another sensor than the topic's {sensor} "
                   "level '%.*s'",
                   shown, level);
  ingest_extract__expected(err, "\"%.*s\" (the topic's {sensor})", shown, level);
  ingest_extract__actual(err, id);
  return INGEST_EVALIDATE;
}

static int extract(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                   ingest_output *out, ingest_error *err) {
  int rc = ingest_extract__validate(s, root, "", err);
  if (rc) return rc;
  if (ingest_value_type(root) != INGEST_T_OBJECT)
    return bad(err, INGEST_EDECODE, "sensor.community", "", "object", root,
               "a sensor.community message is a JSON object");
  if ((rc = same_sensor(s, m, root, err))) return rc;
  int64_t ts = m->arrival_ms;
  if ((rc = ingest_extract__time(s, m, root, "", m->arrival_ms, &ts, err))) return rc;
  ingest_value list = member(root, "sensordatavalues");
  if (ingest_value_type(list) != INGEST_T_ARRAY)
    return bad(err, INGEST_EDECODE, "sensor.community", "/sensordatavalues", "array", list,
               "sensordatavalues must be an array of {\"value_type\", \"value\"}");

  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *node;
  char ptr[64];
  for (size_t i = 0; list.ops->next(list.node, &it, &key, &klen, &node); i++) {
    ingest_value e = {list.ops, node};
    ingest_value vt = member(e, "value_type"), val = member(e, "value");
    snprintf(ptr, sizeof ptr, "/sensordatavalues/%zu/value_type", i);
    if (ingest_value_type(vt) != INGEST_T_STRING)
      return bad(err, INGEST_EDECODE, "sensor.community", ptr, "string", vt,
                 "each entry needs a value_type string");
    size_t nlen;
    const char *name = vt.ops->string(vt.node, &nlen);
    uint32_t field;
    ingest_name_action act = ingest_names__lookup(s, name, nlen, &field);
    if (act == NAME_IGNORE) continue; /* loop statistics, unmapped new sensors, ... */
    if (act == NAME_REFUSE)
      return bad(err, INGEST_EVALIDATE, "x-tsdb/names", ptr, "a name of x-tsdb.names.map", vt,
                 "this value_type is not one the schema maps (names.unmapped is \"refuse\")");
    snprintf(ptr, sizeof ptr, "/sensordatavalues/%zu/value", i);
    double d;
    size_t vlen;
    bool ok;
    if (ingest_value_type(val) == INGEST_T_STRING) {
      const char *text = val.ops->string(val.node, &vlen);
      ok = decimal(text, vlen, &d);
    } else {
      ok = ingest_value_type(val) == INGEST_T_NUMBER && isfinite(d = val.ops->number(val.node));
    }
    if (!ok)
      return bad(err, INGEST_EDECODE, "sensor.community", ptr, "a decimal such as \"12.30\"", val,
                 "the value is not a decimal number");
    uint32_t idx;
    if (field != UINT32_MAX) {
      const ingest_field *f = &s->fields[field];
      if (!ingest_extract__scaled(f, d, &d))
        return bad(err, INGEST_EVALIDATE, "x-tsdb/names", ptr, "finite number", val,
                   "the value is not finite after scaling");
      rc = ingest_output__name(out, f->name, strlen(f->name), NULL, 0, f->name, f->unit,
                               f->unit ? strlen(f->unit) : 0, true, &idx, err);
    } else {
      snprintf(ptr, sizeof ptr, "/sensordatavalues/%zu/value_type", i);
      if (!ingest_names__valid(name, nlen))
        return bad(err, INGEST_EVALIDATE, "x-tsdb/names", ptr,
                   "A-Z a-z 0-9 - : . / _, starting with a letter or digit", vt,
                   "a value_type kept as a series name must use RFC 8428 section 4.5.1's "
                   "characters");
      rc = ingest_output__name(out, name, nlen, NULL, 0, NULL, NULL, 0, true, &idx, err);
    }
    if (rc) return rc;
    if ((rc = ingest_output__point(out, ts, d, idx, err))) return rc;
  }
  return 0;
}

static int configure(ingest_schema *s, const void *opts, ingest_error *err) {
  static const char *const keys[] = {"description", NULL};
  s->sc.cap_sensor = ingest_mapping__capture(s, "sensor");
  return opts ? ingest_mapping__check_keys(s, opts, keys, "/x-tsdb/sensor.community", err) : 0;
}

const ingest_decoder ingest_decode_sensor_community = {
    .name = "sensor.community",
    .named = true,
    .ts_pointer = true,
    .parse = ingest_decode_json__parse,
    .release = ingest_decode_json__release,
    .configure = configure,
    .extract = extract,
};
