/*
 * Format "senml": RFC 8428 Sensor Measurement Lists in the JSON
 * representation (RFC 8428 section 5): a pack is an array of records; base fields
 * (bn, bt, bu, bv, bs, bver) apply to their record and every later one until
 * replaced (RFC 8428 section 4.1); regular fields (n, u, v, vs, vb, vd, s, t, ut)
 * belong to their record (4.2).
 *
 * The JSON Schema validates the pack as published. Then each record is
 * resolved (RFC 8428 section 4.6) and becomes points:
 *   name  = bn + n, which must match section 4.5.1's characters;
 *   unit  = u, else bu (4.5.2);
 *   time  = bt + t, a missing one counting as 0; a result below 2^28 is
 *           relative to the arrival time (4.5.3), otherwise seconds since the
 *           epoch, rounded to the microsecond and truncated to the ms;
 *   value = bv + v for a number (4.5.4); vb is stored as 1/0 (option
 *           "booleans": "skip" drops it); vs and vd carry no number and are
 *           not stored (vd must still be base64url, section 5);
 *   sum   = bs + s, stored as the series "<name>:sum" without a unit (its
 *           unit is the unit times seconds); option "sums": "skip" drops it.
 * The field of a point is the resolved name, looked up in x-tsdb.names.
 * With option "series": "name+unit" it is "<name>[<unit>]" instead, for
 * devices that report several quantities under one name (the "lon"/"lat"
 * records of section 5.1.3); otherwise one name with two units in a pack is
 * refused, because a series has one unit.
 *
 * Refused, with the section in the message: a root that is not an array or
 * is empty (RFC 8428 section 3: "one or more records"), a record that is not an
 * object, a field of the wrong type, an unknown label ending in "_" (4.4,
 * must-understand), a version above 10 or a version that changes within the
 * pack (4.4), more than one value field or neither value nor sum in a record
 * with regular fields (4.2), an invalid resolved name (4.5.1), a non-finite
 * value or time. A label twice in one record is refused by the JSON parser
 * (a member name twice, members.c).
 *
 * Section 4.2 makes a value field (or a sum) required in every record. One
 * exception is kept, because section 5.1.7's own example uses it: a record
 * of base fields only, which sets them for the records after it and stores
 * nothing. So refused as well: a record with neither a value, a sum nor a
 * base field ([{}], or only unknown labels); base fields that no later
 * record with a value or a sum uses; and a pack in which no record has a
 * value or a sum, which holds no measurement at all.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonschema_internal.h"
#include "schema_internal.h"

#define SENML_VERSION 10
#define RELATIVE_LIMIT 268435456.0 /* 2^28 seconds, RFC 8428 section 4.5.3 */
#define UNIT_MAX 32

enum label { BN, BT, BU, BV, BS, BVER, N, U, V, VS, VB, VD, S, T, UT, NLABELS, UNKNOWN, MUST };

static const char *const label_names[NLABELS] = {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u",
                                                 "v",  "vs", "vb", "vd", "s",  "t",    "ut"};

/* JSON types of section 5's table. */
static const ingest_type label_types[NLABELS] = {
    [BN] = INGEST_T_STRING, [BT] = INGEST_T_NUMBER, [BU] = INGEST_T_STRING,
    [BV] = INGEST_T_NUMBER, [BS] = INGEST_T_NUMBER, [BVER] = INGEST_T_NUMBER,
    [N] = INGEST_T_STRING,  [U] = INGEST_T_STRING,  [V] = INGEST_T_NUMBER,
    [VS] = INGEST_T_STRING, [VB] = INGEST_T_BOOL,   [VD] = INGEST_T_STRING,
    [S] = INGEST_T_NUMBER,  [T] = INGEST_T_NUMBER,  [UT] = INGEST_T_NUMBER};

static enum label label_of(const char *k, size_t n) {
  for (int i = 0; i < NLABELS; i++)
    if (strlen(label_names[i]) == n && !memcmp(label_names[i], k, n)) return (enum label)i;
  /* Section 4.4: labels ending in "_" must be understood or refused. */
  return n > 0 && k[n - 1] == '_' ? MUST : UNKNOWN;
}

/* The base fields in force. */
typedef struct base {
  const char *bn;
  size_t bn_len;
  size_t bn_record; /* where bn was set, for error pointers */
  double bt;
  size_t bt_record; /* where bt was set, for error pointers */
  bool has_bt;
  const char *bu;
  size_t bu_len;
  double bv;
  double bs;
  bool has_bs;
  int64_t version;
} base;

/* A SenML rule failed: reason decode, keyword "senml", pointer /i or /i/label. */
__attribute__((format(printf, 6, 7))) static int fail(ingest_error *err, size_t rec, int label,
                                                      ingest_value actual, const char *expected,
                                                      const char *fmt, ...) {
  char ptr[64];
  if (label >= 0)
    snprintf(ptr, sizeof ptr, "/%zu/%s", rec, label_names[label]);
  else
    snprintf(ptr, sizeof ptr, "/%zu", rec);
  char text[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  ingest_error_set(err, INGEST_EDECODE, "senml", ptr, "%s: %s", ptr, text);
  ingest_extract__expected(err, "%s", expected);
  if (ingest_value_present(actual))
    ingest_extract__actual(err, actual);
  else
    snprintf(err->actual, sizeof err->actual, "absent");
  return INGEST_EDECODE;
}

static bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == ':' || c == '.' || c == '/' || c == '_';
}

/* Section 4.5.1 on the concatenation a + b, without building it: NULL when
 * valid, else what is wrong; *in_a tells whether a (bn) is at fault. */
static const char *name_problem(const char *a, size_t alen, const char *b, size_t blen,
                                bool *in_a) {
  *in_a = false;
  size_t len = alen + blen;
  if (len == 0) return "is empty";
  if (len > TSDB_MAX_NAME_LEN) return "is longer than 255 bytes";
  char first = alen ? a[0] : b[0];
  *in_a = alen > 0;
  if (!name_char(first) || first == '-' || first == ':' || first == '.' || first == '/' ||
      first == '_')
    return "does not start with a letter or digit";
  for (size_t i = 0; i < alen; i++)
    if (!name_char(a[i])) return "has a character outside A-Z a-z 0-9 - : . / _";
  *in_a = false;
  for (size_t i = 0; i < blen; i++)
    if (!name_char(b[i])) return "has a character outside A-Z a-z 0-9 - : . / _";
  return NULL;
}

/* Units are registry names ("Cel", "%RH", "m/s2"): printable ASCII. */
static bool valid_unit(const char *u, size_t n) {
  if (n > UNIT_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (u[i] <= 0x20 || u[i] >= 0x7F) return false;
  return true;
}

/* RFC 4648 section 5 alphabet (base64url), padding omitted (RFC 8428
 * section 5); a length of 1 modulo 4 cannot encode whole bytes. */
static bool base64url(const char *d, size_t n) {
  if (n % 4 == 1) return false;
  for (size_t i = 0; i < n; i++) {
    char c = d[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  }
  return true;
}

typedef struct emit_ctx {
  const ingest_schema *s;
  ingest_output *out;
  ingest_error *err;
  size_t rec;
  bool has_n, has_u; /* for error pointers: /i/n and /i/u, else /i */
} emit_ctx;

static void record_ptr(const emit_ctx *c, char *ptr, size_t cap, bool field, const char *label) {
  if (field)
    snprintf(ptr, cap, "/%zu/%s", c->rec, label);
  else
    snprintf(ptr, cap, "/%zu", c->rec);
}

/* One point of a resolved record under the series name[0..len), mapped
 * through x-tsdb.names. */
static int emit(const emit_ctx *c, const char *name, size_t len, const char *unit, size_t unit_len,
                int64_t ts, double value, ingest_value shown) {
  const ingest_schema *s = c->s;
  uint32_t field;
  ingest_name_action act = ingest_names__lookup(s, name, len, &field);
  if (act == NAME_IGNORE) return 0;
  char ptr[64];
  record_ptr(c, ptr, sizeof ptr, c->has_n, "n");
  if (act == NAME_REFUSE) {
    ingest_error_set(c->err, INGEST_EVALIDATE, "x-tsdb/names", ptr,
                     "%s: '%.*s' is not a name this schema maps (names.unmapped is \"refuse\")",
                     ptr, (int)len, name);
    ingest_extract__expected(c->err, "a name of x-tsdb.names.map");
    ingest_extract__actual(c->err, shown);
    return INGEST_EVALIDATE;
  }
  uint32_t idx;
  int rc;
  if (field != UINT32_MAX) {
    const ingest_field *f = &s->fields[field];
    if (unit && f->unit && (strlen(f->unit) != unit_len || memcmp(f->unit, unit, unit_len))) {
      record_ptr(c, ptr, sizeof ptr, c->has_u, "u");
      ingest_error_set(c->err, INGEST_EVALIDATE, "x-tsdb/names", ptr,
                       "%s: '%.*s' comes in unit '%.*s', but the schema stores field '%s' in '%s'",
                       ptr, (int)len, name, (int)unit_len, unit, f->name, f->unit);
      ingest_extract__expected(c->err, "unit %s", f->unit);
      snprintf(c->err->actual, sizeof c->err->actual, "%.*s", (int)unit_len, unit);
      return INGEST_EVALIDATE;
    }
    if (!ingest_extract__scaled(f, value, &value)) {
      ingest_error_set(c->err, INGEST_EVALIDATE, "x-tsdb/names", ptr,
                       "%s: the value of '%s' is not finite after scaling", ptr, f->name);
      ingest_extract__expected(c->err, "finite number");
      ingest_extract__actual(c->err, shown);
      return INGEST_EVALIDATE;
    }
    const char *fu = f->unit ? f->unit : NULL;
    rc = ingest_output__name(c->out, f->name, strlen(f->name), NULL, 0, f->name, fu,
                             fu ? strlen(fu) : 0, true, &idx, c->err);
  } else {
    rc = ingest_output__name(c->out, name, len, NULL, 0, NULL, unit, unit_len, false, &idx, c->err);
    if (rc == INGEST_EVALIDATE) {
      const char *other = c->out->units[idx];
      record_ptr(c, ptr, sizeof ptr, c->has_u, "u");
      ingest_error_set(c->err, INGEST_EDECODE, "senml", ptr,
                       "%s: '%.*s' has units '%s' and '%.*s' in one pack; a series has one unit "
                       "(x-tsdb option \"senml\": {\"series\": \"name+unit\"} keeps them apart)",
                       ptr, (int)len, name, other ? other : "(none)", (int)unit_len,
                       unit ? unit : "(none)");
      ingest_extract__expected(c->err, "unit %s", other ? other : "(none)");
      snprintf(c->err->actual, sizeof c->err->actual, "%.*s", (int)unit_len,
               unit ? unit : "(none)");
      return INGEST_EDECODE;
    }
  }
  if (rc) return rc;
  return ingest_output__point(c->out, ts, value, idx, c->err);
}

static int extract(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                   ingest_output *out, ingest_error *err) {
  int rc = ingest_extract__validate(s, root, "", err);
  if (rc) return rc;
  if (ingest_value_type(root) != INGEST_T_ARRAY || root.ops->count(root.node) == 0) {
    ingest_error_set(err, INGEST_EDECODE, "senml", "",
                     "(root): a SenML pack is an array of one or more records (RFC 8428 "
                     "sections 3 and 5)");
    ingest_extract__expected(err, "array of records");
    ingest_extract__actual(err, root);
    return INGEST_EDECODE;
  }
  base b = {.bn = "", .version = SENML_VERSION};
  size_t measurements = 0;  /* records with a value or a sum */
  bool base_only = false;   /* a record of base fields only since the last one */
  size_t base_only_rec = 0; /* the latest of them, for the error */
  ingest_value base_only_r = {0};
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *node;
  for (size_t rec = 0; root.ops->next(root.node, &it, &key, &klen, &node); rec++) {
    ingest_value r = {root.ops, node};
    if (ingest_value_type(r) != INGEST_T_OBJECT)
      return fail(err, rec, -1, r, "object",
                  "a SenML record is a JSON object (RFC 8428 section 5)");

    ingest_value lab[NLABELS] = {{0}};
    ingest_iter fi = {0};
    const void *child;
    while (r.ops->next(r.node, &fi, &key, &klen, &child)) {
      enum label l = key ? label_of(key, klen) : UNKNOWN;
      ingest_value v = {r.ops, child};
      if (l == MUST)
        return fail(err, rec, -1, v, "only labels this receiver understands",
                    "label '%.*s' ends in '_' and must be understood, which it is not "
                    "(RFC 8428 section 4.4)",
                    (int)(klen > 40 ? 40 : klen), key);
      if (l == UNKNOWN) continue; /* section 4.4: ignored */
      /* A label twice never gets here: the parser refuses a member name
       * twice in any object (members.c). */
      if (ingest_value_type(v) != label_types[l])
        return fail(err, rec, (int)l, v, ingest_type_name(label_types[l]),
                    "'%s' must be a %s (RFC 8428 section 5)", label_names[l],
                    ingest_type_name(label_types[l]));
      if (label_types[l] == INGEST_T_NUMBER && !isfinite(v.ops->number(v.node)))
        return fail(err, rec, (int)l, v, "finite number", "'%s' must be a finite number",
                    label_names[l]);
      lab[l] = v;
    }

    /* Base fields apply to this record and the following ones (4.1). */
    size_t n;
    if (ingest_value_present(lab[BVER])) {
      int64_t ver;
      if (!lab[BVER].ops->int64(lab[BVER].node, &ver) || ver < 1)
        return fail(err, rec, BVER, lab[BVER], "positive integer",
                    "bver must be a positive integer (RFC 8428 section 4.1)");
      if (ver > SENML_VERSION)
        return fail(err, rec, BVER, lab[BVER], "<= 10",
                    "version %lld is newer than the version 10 this receiver implements "
                    "(RFC 8428 section 4.4)",
                    (long long)ver);
      if (rec > 0 && ver != b.version)
        return fail(err, rec, BVER, lab[BVER], "the pack's version",
                    "all records of a pack have the same version (RFC 8428 section 4.4)");
      b.version = ver;
    }
    if (ingest_value_present(lab[BN])) {
      b.bn = lab[BN].ops->string(lab[BN].node, &b.bn_len);
      b.bn_record = rec;
    }
    if (ingest_value_present(lab[BT])) {
      b.bt = lab[BT].ops->number(lab[BT].node);
      b.has_bt = true;
      b.bt_record = rec;
    }
    if (ingest_value_present(lab[BU])) {
      b.bu = lab[BU].ops->string(lab[BU].node, &b.bu_len);
      if (!valid_unit(b.bu, b.bu_len))
        return fail(
            err, rec, BU, lab[BU], "a units registry name",
            "a unit is a SenML units registry name such as \"Cel\" (RFC 8428 section 12.1)");
    }
    if (ingest_value_present(lab[BV])) b.bv = lab[BV].ops->number(lab[BV].node);
    if (ingest_value_present(lab[BS])) {
      b.bs = lab[BS].ops->number(lab[BS].node);
      b.has_bs = true;
    }

    bool regular = false, based = false;
    for (int l = N; l < NLABELS; l++) regular |= ingest_value_present(lab[l]);
    for (int l = BN; l <= BVER; l++) based |= ingest_value_present(lab[l]);
    if (!regular && !based)
      return fail(err, rec, -1, r, "a value field or a sum",
                  "a record with no value field (v, vs, vb, vd), no sum and no base field "
                  "carries nothing (RFC 8428 section 4.2)");
    if (!regular) {
      /* Only base fields: section 4.2 wants a value or a sum in every
       * record, but section 5.1.7's example opens with such a record, for
       * the ones after it. Kept if a later record is a measurement. */
      base_only = true;
      base_only_rec = rec;
      base_only_r = r;
      continue;
    }
    int nvalues = ingest_value_present(lab[V]) + ingest_value_present(lab[VS]) +
                  ingest_value_present(lab[VB]) + ingest_value_present(lab[VD]);
    if (nvalues > 1)
      return fail(err, rec, -1, r, "one of v, vs, vb, vd",
                  "a record has exactly one value field (RFC 8428 section 4.2)");
    bool has_sum = ingest_value_present(lab[S]) || b.has_bs;
    if (nvalues == 0 && !has_sum)
      return fail(err, rec, -1, r, "a value or a sum",
                  "a record needs a value field (v, vs, vb, vd) or a sum (RFC 8428 section 4.2)");

    measurements++;
    base_only = false;

    /* Name (4.5.1). */
    const char *nm = "";
    size_t nm_len = 0;
    if (ingest_value_present(lab[N])) nm = lab[N].ops->string(lab[N].node, &nm_len);
    bool in_bn;
    const char *problem = name_problem(b.bn, b.bn_len, nm, nm_len, &in_bn);
    if (problem && in_bn) {
      char shown[96];
      ingest_jsonschema__render_text(b.bn, b.bn_len, false, shown, sizeof shown);
      cJSON bn_shown = {.type = cJSON_String, .valuestring = shown};
      return fail(err, b.bn_record, BN, ingest_value_from_cjson(&bn_shown),
                  "A-Z a-z 0-9 - : . / _, starting with a letter or digit",
                  "the base name '%s' %s (RFC 8428 section 4.5.1)", shown, problem);
    }
    if (problem) {
      char shown[96];
      ingest_jsonschema__render_text(b.bn, b.bn_len > 48 ? 48 : b.bn_len, false, shown, 49);
      size_t sl = strlen(shown);
      ingest_jsonschema__render_text(nm, nm_len, false, shown + sl, sizeof shown - sl);
      ingest_value v = ingest_value_present(lab[N]) ? lab[N] : r;
      return fail(err, rec, ingest_value_present(lab[N]) ? N : -1, v,
                  "A-Z a-z 0-9 - : . / _, starting with a letter or digit, 1-255 bytes",
                  "the resolved name (bn + n) '%s' %s (RFC 8428 section 4.5.1)", shown, problem);
    }

    /* Unit (4.5.2). An empty unit is no unit. */
    const char *unit = b.bu;
    size_t unit_len = b.bu_len;
    if (ingest_value_present(lab[U])) {
      unit = lab[U].ops->string(lab[U].node, &unit_len);
      if (!valid_unit(unit, unit_len))
        return fail(
            err, rec, U, lab[U], "a units registry name",
            "a unit is a SenML units registry name such as \"Cel\" (RFC 8428 section 12.1)");
    }
    if (unit_len == 0) unit = NULL;

    /* Time (4.5.3). */
    double t = (b.has_bt ? b.bt : 0) +
               (ingest_value_present(lab[T]) ? lab[T].ops->number(lab[T].node) : 0);
    int64_t ts;
    bool ok = isfinite(t) && ingest_extract__seconds_to_ms(t, &ts);
    if (ok && t < RELATIVE_LIMIT) ts += m->arrival_ms; /* relative to "now" */
    char tptr[64];
    ingest_value tv = lab[T];
    if (ingest_value_present(lab[T])) {
      snprintf(tptr, sizeof tptr, "/%zu/t", rec);
    } else if (b.has_bt) {
      snprintf(tptr, sizeof tptr, "/%zu/bt", b.bt_record);
      tv = (ingest_value){0};
    } else {
      snprintf(tptr, sizeof tptr, "/%zu", rec);
    }
    if (!ok || ts < 0 || ts > INT64_C(253402300799999)) {
      ingest_error_set(err, INGEST_ETIMESTAMP, "x-tsdb/timestamp", tptr,
                       "%s: the resolved time bt + t = %.17g is not a time from 1970 to 9999 "
                       "(RFC 8428 section 4.5.3)",
                       tptr, t);
      ingest_extract__expected(err, "seconds since 1970, or relative below 2^28");
      snprintf(err->actual, sizeof err->actual, "%.17g", t);
      return INGEST_ETIMESTAMP;
    }
    if (ingest_value_present(tv)) {
      if ((rc = ingest_extract__check_time(s, m, ts, tptr, tv, err))) return rc;
    } else {
      /* No t of its own: show the resolved time. */
      cJSON shown = {.type = cJSON_Number, .valuedouble = t};
      if ((rc = ingest_extract__check_time(s, m, ts, tptr, ingest_value_from_cjson(&shown), err)))
        return rc;
    }

    /* The series name: bn + n, or bn + n + "[unit]". */
    char full[TSDB_MAX_NAME_LEN + 1];
    size_t flen =
        (size_t)snprintf(full, sizeof full, "%.*s%.*s", (int)b.bn_len, b.bn, (int)nm_len, nm);
    if (s->senml.name_unit && unit) {
      int w = snprintf(full + flen, sizeof full - flen, "[%.*s]", (int)unit_len, unit);
      if (w < 0 || (size_t)w >= sizeof full - flen)
        return fail(err, rec, -1, r, "at most 255 bytes",
                    "the series name with its unit is longer than %d bytes", TSDB_MAX_NAME_LEN);
      flen += (size_t)w;
    }
    emit_ctx c = {s, out, err, rec, ingest_value_present(lab[N]), ingest_value_present(lab[U])};

    /* Value (4.5.4). */
    if (ingest_value_present(lab[V])) {
      double v = b.bv + lab[V].ops->number(lab[V].node);
      if (!isfinite(v))
        return fail(err, rec, V, lab[V], "finite number", "bv + v is not a finite number");
      if ((rc = emit(&c, full, flen, unit, unit_len, ts, v, lab[V]))) return rc;
    } else if (ingest_value_present(lab[VB])) {
      if (!s->senml.skip_booleans &&
          (rc = emit(&c, full, flen, unit, unit_len, ts, lab[VB].ops->boolean(lab[VB].node) ? 1 : 0,
                     lab[VB])))
        return rc;
    } else if (ingest_value_present(lab[VD])) {
      const char *d = lab[VD].ops->string(lab[VD].node, &n);
      if (!base64url(d, n))
        return fail(err, rec, VD, lab[VD], "base64url without padding",
                    "vd is base64url-encoded data without padding (RFC 8428 section 5, RFC 4648 "
                    "section 5)");
    }
    /* vs: a string, nothing to store. */

    /* Sum (4.5.4): its own series. */
    if (has_sum && !s->senml.skip_sums) {
      double sum = b.bs + (ingest_value_present(lab[S]) ? lab[S].ops->number(lab[S].node) : 0);
      if (!isfinite(sum))
        return fail(err, rec, S, lab[S], "finite number", "bs + s is not a finite number");
      char sname[TSDB_MAX_NAME_LEN + 1];
      int w = snprintf(sname, sizeof sname, "%.*s%.*s:sum", (int)b.bn_len, b.bn, (int)nm_len, nm);
      if (w < 0 || (size_t)w >= sizeof sname)
        return fail(err, rec, -1, r, "at most 255 bytes",
                    "the sum's series name is longer than %d bytes", TSDB_MAX_NAME_LEN);
      ingest_value shown = ingest_value_present(lab[S]) ? lab[S] : r;
      if ((rc = emit(&c, sname, (size_t)w, NULL, 0, ts, sum, shown))) return rc;
    }
  }
  if (measurements == 0) {
    ingest_error_set(err, INGEST_EDECODE, "senml", "",
                     "(root): no record of the pack has a value field or a sum: a pack is a list "
                     "of measurements (RFC 8428 sections 4 and 4.2)");
    ingest_extract__expected(err, "a record with v, vs, vb, vd or s");
    snprintf(err->actual, sizeof err->actual, "%zu record%s of base fields only",
             root.ops->count(root.node), root.ops->count(root.node) == 1 ? "" : "s");
    return INGEST_EDECODE;
  }
  if (base_only)
    return fail(err, base_only_rec, -1, base_only_r, "a later measurement",
                "this record has only base fields, and no record after it has a value or a sum "
                "for them to apply to (RFC 8428 sections 4.1 and 4.2)");
  return 0;
}

static int configure(ingest_schema *s, const void *opts, ingest_error *err) {
  static const char *const keys[] = {"series", "booleans", "sums", "description", NULL};
  static const char *const series[] = {"name", "name+unit", NULL};
  static const char *const booleans[] = {"number", "skip", NULL};
  static const char *const sums[] = {"store", "skip", NULL};
  int a = 0, b = 0, c = 0;
  int rc = 0;
  if (opts) {
    rc = ingest_mapping__check_keys(s, opts, keys, "/x-tsdb/senml", err);
    if (!rc) rc = ingest_mapping__choice(s, opts, "series", "/x-tsdb/senml", series, &a, err);
    if (!rc) rc = ingest_mapping__choice(s, opts, "booleans", "/x-tsdb/senml", booleans, &b, err);
    if (!rc) rc = ingest_mapping__choice(s, opts, "sums", "/x-tsdb/senml", sums, &c, err);
  }
  s->senml.name_unit = a == 1;
  s->senml.skip_booleans = b == 1;
  s->senml.skip_sums = c == 1;
  return rc;
}

const ingest_decoder ingest_decode_senml = {
    .name = "senml",
    .named = true,
    .ts_pointer = false,
    .parse = ingest_decode_json__parse,
    .release = ingest_decode_json__release,
    .configure = configure,
    .extract = extract,
};
