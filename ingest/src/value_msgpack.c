/*
 * ingest_value view over a msgpack-c object tree (msgpack_object, C API 4.0).
 *
 * Mapping onto the JSON data model:
 *   nil -> null, boolean -> bool, str -> string, array -> array, map -> object;
 *   positive/negative integer -> number, and an exact int64 unless a positive
 *     integer exceeds INT64_MAX (then it is a number only, rounded to double);
 *   float32/float64 -> number (an exact int64 when integral and in range, as
 *     for JSON; NaN and infinities are numbers that are never integers);
 *   bin/ext -> INGEST_T_BINARY, which no JSON type accepts.
 * Map keys that are not strings (integers, binaries, ...) have no JSON
 * counterpart: next() returns such a member with key NULL (inside an object,
 * a NULL key means "not a string"), and member() can never find it, so it never
 * matches a property name (it is an additional property for the validator).
 */
#include "ingest/value.h"

#include <msgpack.h>
#include <string.h>

static const msgpack_object *M(const void *node) { return (const msgpack_object *)node; }

static ingest_type mp_type(const void *node) {
  switch (M(node)->type) {
  case MSGPACK_OBJECT_NIL:
    return INGEST_T_NULL;
  case MSGPACK_OBJECT_BOOLEAN:
    return INGEST_T_BOOL;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    return INGEST_T_NUMBER;
  case MSGPACK_OBJECT_STR:
    return INGEST_T_STRING;
  case MSGPACK_OBJECT_ARRAY:
    return INGEST_T_ARRAY;
  case MSGPACK_OBJECT_MAP:
    return INGEST_T_OBJECT;
  case MSGPACK_OBJECT_BIN:
  case MSGPACK_OBJECT_EXT:
    return INGEST_T_BINARY;
  default:
    return INGEST_T_INVALID;
  }
}

static bool mp_boolean(const void *node) {
  return M(node)->type == MSGPACK_OBJECT_BOOLEAN && M(node)->via.boolean;
}

static double mp_number(const void *node) {
  switch (M(node)->type) {
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    return (double)M(node)->via.u64;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    return (double)M(node)->via.i64;
  case MSGPACK_OBJECT_FLOAT32: /* msgpack-c widens float32 into f64 */
  case MSGPACK_OBJECT_FLOAT64:
    return M(node)->via.f64;
  default:
    return 0.0;
  }
}

static bool mp_int64(const void *node, int64_t *out) {
  switch (M(node)->type) {
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (M(node)->via.u64 > (uint64_t)INT64_MAX) return false;
    *out = (int64_t)M(node)->via.u64;
    return true;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    *out = M(node)->via.i64;
    return true;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: {
    double d = M(node)->via.f64;
    /* false for NaN and infinities as well */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
    int64_t i = (int64_t)d;
    if ((double)i != d) return false;
    *out = i;
    return true;
  }
  default:
    return false;
  }
}

static const char *mp_string(const void *node, size_t *len) {
  if (M(node)->type != MSGPACK_OBJECT_STR) {
    *len = 0;
    return NULL;
  }
  *len = M(node)->via.str.size;
  /* an empty str may carry a NULL pointer; callers get a valid one */
  return M(node)->via.str.ptr ? M(node)->via.str.ptr : "";
}

static size_t mp_count(const void *node) {
  if (M(node)->type == MSGPACK_OBJECT_ARRAY) return M(node)->via.array.size;
  if (M(node)->type == MSGPACK_OBJECT_MAP) return M(node)->via.map.size;
  return 0;
}

/* Elements are contiguous in msgpack-c, so the index alone is the state. */
static bool mp_next(const void *node, ingest_iter *it, const char **key, size_t *key_len,
                    const void **child) {
  const msgpack_object *o = M(node);
  if (o->type == MSGPACK_OBJECT_ARRAY) {
    if (it->index >= o->via.array.size) return false;
    *key = NULL;
    *key_len = 0;
    *child = &o->via.array.ptr[it->index++];
    return true;
  }
  if (o->type == MSGPACK_OBJECT_MAP) {
    if (it->index >= o->via.map.size) return false;
    const msgpack_object_kv *kv = &o->via.map.ptr[it->index++];
    if (kv->key.type == MSGPACK_OBJECT_STR) {
      *key = kv->key.via.str.ptr ? kv->key.via.str.ptr : "";
      *key_len = kv->key.via.str.size;
    } else {
      *key = NULL; /* not a string: matches no property name */
      *key_len = 0;
    }
    *child = &kv->val;
    return true;
  }
  return false;
}

/* Keys carry their length, so comparison is length + bytes: exact, case
 * sensitive, and NUL bytes inside keys compare like any other byte. */
static const void *mp_member(const void *node, const char *key, size_t key_len) {
  const msgpack_object *o = M(node);
  if (o->type != MSGPACK_OBJECT_MAP || key == NULL) return NULL;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len &&
        (key_len == 0 || memcmp(k->via.str.ptr, key, key_len) == 0))
      return &o->via.map.ptr[i].val;
  }
  return NULL;
}

static const ingest_value_ops msgpack_ops = {
    .type = mp_type,
    .boolean = mp_boolean,
    .number = mp_number,
    .int64 = mp_int64,
    .string = mp_string,
    .count = mp_count,
    .next = mp_next,
    .member = mp_member,
};

ingest_value ingest_value_from_msgpack(const void *object) {
  ingest_value v = {object ? &msgpack_ops : NULL, object};
  return v;
}
