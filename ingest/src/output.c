/*
 * The output of one message, in buffers the caller owns (ingest_output in
 * ingest/schema.h): points, and for message-named formats a small table of
 * names and units whose text lives in the caller's text buffer. Nothing is
 * allocated; a full buffer refuses the message (INGEST_ETOOBIG) rather than
 * storing part of it.
 */
#include <string.h>

#include "schema_internal.h"

int ingest_output__point(ingest_output *out, int64_t ts, double value, uint32_t field,
                         ingest_error *err) {
  if (out->npoints == out->points_cap)
    return ingest_error_set(err, INGEST_ETOOBIG, "x-tsdb", "",
                            "(root): the message has more than %zu points", out->points_cap);
  out->points[out->npoints++] = (tsdb_point){ts, value, field};
  return 0;
}

/* n bytes of text, NUL-terminated, appended to out->text; NULL when full. */
static char *text_put(ingest_output *out, const char *a, size_t alen, const char *b, size_t blen) {
  size_t need = alen + blen + 1;
  if (out->text_cap - out->text_len < need) return NULL;
  char *p = out->text + out->text_len;
  if (alen) memcpy(p, a, alen);
  if (blen) memcpy(p + alen, b, blen);
  p[alen + blen] = '\0';
  out->text_len += need;
  return p;
}

/* name == a.b; a NUL inside a or b never matches (name has none). */
static bool equals2(const char *name, const char *a, size_t alen, const char *b, size_t blen) {
  return strlen(name) == alen + blen && (alen == 0 || !memcmp(name, a, alen)) &&
         (blen == 0 || !memcmp(name + alen, b, blen));
}

int ingest_output__name(ingest_output *out, const char *a, size_t alen, const char *b, size_t blen,
                        const char *static_name, const char *unit, size_t unit_len,
                        bool static_unit, uint32_t *idx, ingest_error *err) {
  for (size_t i = 0; i < out->nnames; i++) {
    if (!equals2(out->names[i], a, alen, b, blen)) continue;
    *idx = (uint32_t)i;
    const char *u = out->units[i];
    bool same = unit ? (u && strlen(u) == unit_len && !memcmp(u, unit, unit_len)) : !u;
    return same ? 0 : INGEST_EVALIDATE;
  }
  if (out->nnames == out->names_cap)
    return ingest_error_set(err, INGEST_ETOOBIG, "x-tsdb", "",
                            "(root): the message names more than %zu fields", out->names_cap);
  const char *name = static_name;
  if (!name && !(name = text_put(out, a, alen, b, blen)))
    return ingest_error_set(err, INGEST_ETOOBIG, "x-tsdb", "",
                            "(root): the message's field names exceed %zu bytes", out->text_cap);
  const char *u = unit;
  if (unit && !static_unit && !(u = text_put(out, unit, unit_len, NULL, 0)))
    return ingest_error_set(err, INGEST_ETOOBIG, "x-tsdb", "",
                            "(root): the message's field names exceed %zu bytes", out->text_cap);
  out->names[out->nnames] = name;
  out->units[out->nnames] = u;
  *idx = (uint32_t)out->nnames++;
  return 0;
}
