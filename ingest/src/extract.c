/*
 * Steps the decoders share: JSON Schema validation of the part of a message
 * the format says, timestamps, measurements read by JSON pointers, and the
 * error fields they fill. Nothing here allocates.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonschema_internal.h"
#include "schema_internal.h"

/* 9999-12-31T23:59:59.999Z: later times are certainly wrong, and every time
 * up to it has an RFC 3339 text. */
#define MAX_TS_MS INT64_C(253402300799999)

static const char *const ts_format_names[] = {"", "rfc3339", "epoch_s", "epoch_ms", "epoch_us"};

void ingest_extract__actual(ingest_error *err, ingest_value v) {
  ingest_jsonschema__render(v, err->actual, sizeof err->actual);
}

void ingest_extract__expected(ingest_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->expected, sizeof err->expected, fmt, ap);
  va_end(ap);
}

/* dst = a + b, cut to cap (NUL included); snprintf would do, but gcc's
 * -Wformat-truncation cannot see that cutting is intended. */
static void join(char *dst, size_t cap, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > cap - 1) la = cap - 1;
  if (lb > cap - 1 - la) lb = cap - 1 - la;
  memmove(dst + la, b, lb); /* b may live in dst */
  memmove(dst, a, la);
  dst[la + lb] = '\0';
}

void ingest_extract__prefix_pointer(ingest_error *err, const char *prefix) {
  if (!prefix || !prefix[0]) return;
  char old[sizeof err->pointer];
  memcpy(old, err->pointer, sizeof old);
  join(err->pointer, sizeof err->pointer, prefix, old);
  /* Messages start with "<pointer>: " or "(root): " (jsonschema.h): keep
   * them saying the same thing as the pointer field. */
  const char *shown = old[0] ? old : "(root)";
  size_t n = strlen(shown);
  if (!strncmp(err->message, shown, n) && err->message[n] == ':') {
    char rest[sizeof err->message];
    memcpy(rest, err->message + n, sizeof err->message - n);
    rest[sizeof rest - 1 - n] = '\0';
    join(err->message, sizeof err->message, err->pointer, rest);
  }
}

int ingest_extract__validate(const ingest_schema *s, ingest_value doc, const char *prefix,
                             ingest_error *err) {
  int rc = ingest_jsonschema_validate(s->validator, doc, err);
  if (rc) ingest_extract__prefix_pointer(err, prefix);
  return rc;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* x (a count of some unit) to whole microseconds, rounded: the decimal text
 * a device wrote is what it meant, the double only approximates it. */
static bool to_micros(double x, double us_per_unit, int64_t *us) {
  double d = round(x * us_per_unit);
  if (!(d >= -9.0e18 && d <= 9.0e18)) return false; /* also NaN */
  *us = (int64_t)d;
  return true;
}

bool ingest_extract__seconds_to_ms(double seconds, int64_t *ms) {
  int64_t us;
  if (!to_micros(seconds, 1e6, &us)) return false;
  *ms = floor_div(us, 1000);
  return true;
}

bool ingest_extract__parse_time(ingest_ts_format fmt, ingest_value v, int64_t *out) {
  int64_t ms = 0;
  ingest_type t = ingest_value_type(v);
  if (fmt == TS_RFC3339) {
    size_t n = 0;
    const char *text = t == INGEST_T_STRING ? v.ops->string(v.node, &n) : NULL;
    if (!text || ingest_rfc3339_parse(text, n, &ms) != 0) return false;
  } else if (t == INGEST_T_NUMBER) {
    int64_t i;
    if (v.ops->int64(v.node, &i)) {
      /* Integers exactly, whatever their size (msgpack int64 included). */
      if (fmt == TS_EPOCH_S) {
        if (i < 0 || i > MAX_TS_MS / 1000) return false;
        ms = i * 1000;
      } else {
        ms = fmt == TS_EPOCH_MS ? i : floor_div(i, 1000);
      }
    } else {
      static const double us_per_unit[] = {0, 0, 1e6, 1e3, 1};
      int64_t us;
      if (!to_micros(v.ops->number(v.node), us_per_unit[fmt], &us)) return false;
      ms = floor_div(us, 1000);
    }
  } else {
    return false;
  }
  if (ms < 0 || ms > MAX_TS_MS) return false;
  *out = ms;
  return true;
}

int ingest_extract__check_time(const ingest_schema *s, const ingest_msg *m, int64_t ms,
                               const char *pointer, ingest_value v, ingest_error *err) {
  const char *shown = pointer[0] ? pointer : "(root)";
  if (ms > m->arrival_ms + s->max_future_ms) {
    char future[24];
    tsdb_duration_format(s->max_future_ms, future, sizeof future);
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_future", pointer,
                     "%s: the time is %lld ms ahead of the broker's clock (at most %s allowed)",
                     shown, (long long)(ms - m->arrival_ms), future);
    ingest_extract__expected(err, "<= arrival + %s", future);
    ingest_extract__actual(err, v);
    return INGEST_ETIMESTAMP;
  }
  if (s->max_past_ms && ms < m->arrival_ms - s->max_past_ms) {
    char past[24];
    tsdb_duration_format(s->max_past_ms, past, sizeof past);
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp/max_past", pointer,
                     "%s: the time is %lld ms before the broker's clock (at most %s allowed)",
                     shown, (long long)(m->arrival_ms - ms), past);
    ingest_extract__expected(err, ">= arrival - %s", past);
    ingest_extract__actual(err, v);
    return INGEST_ETIMESTAMP;
  }
  return 0;
}

/* Is ms within max_future/max_past of the arrival time? (No formatting.) */
static bool time_in_bounds(const ingest_schema *s, const ingest_msg *m, int64_t ms) {
  return ms <= m->arrival_ms + s->max_future_ms &&
         !(s->max_past_ms && ms < m->arrival_ms - s->max_past_ms);
}

int ingest_extract__time(const ingest_schema *s, const ingest_msg *m, ingest_value doc,
                         const char *prefix, int64_t fallback_ms, int64_t *ts, ingest_error *err) {
  if (s->ts_fmt == TS_NONE) {
    *ts = fallback_ms;
    return 0;
  }
  ingest_value v = ingest_pointer_resolve(s->ts_pointer, doc);
  int64_t ms = 0;
  bool present = ingest_value_present(v);
  bool valid = present && ingest_extract__parse_time(s->ts_fmt, v, &ms);
  if (valid && time_in_bounds(s, m, ms)) {
    *ts = ms;
    return 0;
  }
  /* Only a refusal needs the pointer's text. */
  char ptr[sizeof err->pointer];
  join(ptr, sizeof ptr, prefix, ingest_pointer_text(s->ts_pointer));
  const char *shown = ptr[0] ? ptr : "(root)";
  if (!present) {
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", ptr,
                     "%s: the timestamp is missing", shown);
    ingest_extract__expected(err, "%s timestamp", ts_format_names[s->ts_fmt]);
    snprintf(err->actual, sizeof err->actual, "absent");
    return INGEST_ETIMESTAMP;
  }
  if (!valid) {
    ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", ptr,
                     "%s: not a valid %s timestamp (from 1970 to 9999)", shown,
                     ts_format_names[s->ts_fmt]);
    ingest_extract__expected(err, "%s timestamp", ts_format_names[s->ts_fmt]);
    ingest_extract__actual(err, v);
    return INGEST_ETIMESTAMP;
  }
  return ingest_extract__check_time(s, m, ms, ptr, v, err);
}

bool ingest_extract__scaled(const ingest_field *f, double raw, double *out) {
  double d = f->scale == 1 ? raw : raw * f->scale;
  *out = d;
  return isfinite(d);
}

/* One measurement value: a finite number after scaling, or an error. */
static int measurement(const ingest_schema *s, size_t i, ingest_value v, const char *prefix,
                       int64_t ts, ingest_output *out, ingest_error *err) {
  const ingest_field *f = &s->fields[i];
  double d = 0;
  bool number = ingest_value_type(v) == INGEST_T_NUMBER;
  if (!number || !ingest_extract__scaled(f, v.ops->number(v.node), &d)) {
    char ptr[sizeof err->pointer];
    join(ptr, sizeof ptr, prefix, ingest_pointer_text(f->pointer));
    ingest_error_set(err, INGEST_EVALIDATE, "x-tsdb/measurements", ptr,
                     "%s: measurement '%s' must be a %snumber", ptr[0] ? ptr : "(root)", f->name,
                     number ? "finite " : "");
    ingest_extract__expected(err, number ? "finite number" : "number");
    ingest_extract__actual(err, v);
    return INGEST_EVALIDATE;
  }
  return ingest_output__point(out, ts, d, (uint32_t)i, err);
}

int ingest_extract__measurements(const ingest_schema *s, ingest_value doc, const char *prefix,
                                 int64_t ts, ingest_output *out, ingest_error *err) {
  if (s->root_fast && ingest_value_type(doc) == INGEST_T_OBJECT) {
    /* One pass over the members; the first of duplicate keys wins, as in
     * a pointer lookup, and results go out in field order, as below. */
    const void *found[64];
    uint64_t seen = 0, all = s->nfields == 64 ? UINT64_MAX : (UINT64_C(1) << s->nfields) - 1;
    ingest_iter it = {0};
    const char *key;
    size_t klen, hint = 0;
    const void *child;
    while (seen != all && doc.ops->next(doc.node, &it, &key, &klen, &child)) {
      if (!key) continue;
      /* Payloads usually list members in the schema's order. */
      size_t i = hint < s->nfields ? hint : 0;
      size_t tries = 0;
      for (; tries < s->nfields; tries++, i = i + 1 == s->nfields ? 0 : i + 1) {
        const ingest_field *f = &s->fields[i];
        if (f->root_key_len == klen && !memcmp(f->root_key, key, klen)) break;
      }
      if (tries == s->nfields) continue;
      hint = i + 1;
      if (seen >> i & 1) continue;
      seen |= UINT64_C(1) << i;
      found[i] = child;
    }
    for (size_t i = 0; i < s->nfields; i++) {
      if (!(seen >> i & 1)) continue;
      int rc = measurement(s, i, (ingest_value){doc.ops, found[i]}, prefix, ts, out, err);
      if (rc) return rc;
    }
    return 0;
  }
  for (size_t i = 0; i < s->nfields; i++) {
    ingest_value v = ingest_pointer_resolve(s->fields[i].pointer, doc);
    if (!ingest_value_present(v)) continue;
    int rc = measurement(s, i, v, prefix, ts, out, err);
    if (rc) return rc;
  }
  return 0;
}

/* Days since 1970-01-01 to a civil date: the inverse of Howard Hinnant's
 * days_from_civil (see rfc3339.c), with 400-year eras of 146097 days. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
  const unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *digits(char *p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
  return p + width;
}

void ingest_extract__format_time(int64_t ms, char *buf, size_t cap) {
  int64_t days = ms / 86400000, rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    days--;
  }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  if (y < 0 || y > 9999 || cap < 25) {
    snprintf(buf, cap, "%" PRId64 "ms", ms);
    return;
  }
  /* printf is slow for this on the refusal path; the layout is fixed. */
  char *p = digits(buf, (unsigned)y, 4);
  *p++ = '-';
  p = digits(p, mo, 2);
  *p++ = '-';
  p = digits(p, d, 2);
  *p++ = 'T';
  p = digits(p, (unsigned)(rem / 3600000), 2);
  *p++ = ':';
  p = digits(p, (unsigned)(rem / 60000 % 60), 2);
  *p++ = ':';
  p = digits(p, (unsigned)(rem / 1000 % 60), 2);
  *p++ = '.';
  p = digits(p, (unsigned)(rem % 1000), 3);
  *p++ = 'Z';
  *p = '\0';
}

int ingest_extract__document(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                             ingest_output *out, ingest_error *err) {
  int rc = ingest_extract__validate(s, root, "", err);
  int64_t ts = m->arrival_ms;
  if (!rc) rc = ingest_extract__time(s, m, root, "", m->arrival_ms, &ts, err);
  if (!rc) rc = ingest_extract__measurements(s, root, "", ts, out, err);
  return rc;
}
