/*
 * ingest_value view over a cJSON tree (cJSON 1.7).
 *
 * cJSON stores every number as a double (valueint is a saturated copy, never
 * used here), so a number is an exact int64 only when that double is integral
 * and inside [-2^63, 2^63): integers beyond 2^53 in the payload text have
 * already been rounded by cJSON's parser, and the view reports the rounded
 * value. Strings and keys are NUL-terminated by cJSON; a "\u0000" escape in the
 * payload ends them early (a cJSON property, not ours).
 */
#include "ingest/value.h"

#include <cjson/cJSON.h>
#include <string.h>

static const cJSON *J(const void *node) { return (const cJSON *)node; }

static ingest_type cj_type(const void *node) {
  switch (J(node)->type & 0xFF) {
  case cJSON_NULL:
    return INGEST_T_NULL;
  case cJSON_False:
  case cJSON_True:
    return INGEST_T_BOOL;
  case cJSON_Number:
    return INGEST_T_NUMBER;
  case cJSON_String:
    return INGEST_T_STRING;
  case cJSON_Array:
    return INGEST_T_ARRAY;
  case cJSON_Object:
    return INGEST_T_OBJECT;
  default: /* cJSON_Invalid, cJSON_Raw: never produced by the parser */
    return INGEST_T_INVALID;
  }
}

static bool cj_boolean(const void *node) { return (J(node)->type & 0xFF) == cJSON_True; }

static double cj_number(const void *node) { return J(node)->valuedouble; }

static bool cj_int64(const void *node, int64_t *out) {
  if ((J(node)->type & 0xFF) != cJSON_Number) return false;
  double d = J(node)->valuedouble;
  /* -2^63 is exactly representable and fits; 2^63 does not. The comparisons
   * are false for NaN, so non-finite values never pass. */
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  int64_t i = (int64_t)d;
  if ((double)i != d) return false; /* a fractional part */
  *out = i;
  return true;
}

static const char *cj_string(const void *node, size_t *len) {
  const char *s = J(node)->valuestring;
  if ((J(node)->type & 0xFF) != cJSON_String || s == NULL) {
    *len = 0;
    return NULL;
  }
  *len = strlen(s);
  return s;
}

static size_t cj_count(const void *node) {
  int t = J(node)->type & 0xFF;
  if (t != cJSON_Array && t != cJSON_Object) return 0;
  size_t n = 0;
  for (const cJSON *c = J(node)->child; c != NULL; c = c->next) n++;
  return n;
}

/* it->pos is the next child to return; index 0 with pos NULL means "not
 * started". Following ->next keeps every step O(1) (cJSON_GetArrayItem would
 * walk from the head each time). */
static bool cj_next(const void *node, ingest_iter *it, const char **key, size_t *key_len,
                    const void **child) {
  int t = J(node)->type & 0xFF;
  if (t != cJSON_Array && t != cJSON_Object) return false;
  const cJSON *c = it->index == 0 ? J(node)->child : (const cJSON *)it->pos;
  if (c == NULL) return false;
  it->pos = c->next;
  it->index++;
  if (t == cJSON_Object && c->string != NULL) {
    *key = c->string;
    *key_len = strlen(c->string);
  } else {
    *key = NULL;
    *key_len = 0;
  }
  *child = c;
  return true;
}

/* Exact, case-sensitive: the cJSON key must have exactly key_len bytes equal
 * to key. Compared byte by byte so that a NUL inside key (which no cJSON key
 * can contain) never matches and the cJSON key is never read past its end. */
static bool key_equals(const char *cj, const char *key, size_t key_len) {
  for (size_t i = 0; i < key_len; i++)
    if (cj[i] == '\0' || cj[i] != key[i]) return false;
  return cj[key_len] == '\0';
}

static const void *cj_member(const void *node, const char *key, size_t key_len) {
  if ((J(node)->type & 0xFF) != cJSON_Object || key == NULL) return NULL;
  for (const cJSON *c = J(node)->child; c != NULL; c = c->next)
    if (c->string != NULL && key_equals(c->string, key, key_len)) return c;
  return NULL;
}

static const ingest_value_ops cjson_ops = {
    .type = cj_type,
    .boolean = cj_boolean,
    .number = cj_number,
    .int64 = cj_int64,
    .string = cj_string,
    .count = cj_count,
    .next = cj_next,
    .member = cj_member,
};

ingest_value ingest_value_from_cjson(const void *cjson_item) {
  ingest_value v = {cjson_item ? &cjson_ops : NULL, cjson_item};
  return v;
}
