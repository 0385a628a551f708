/*
 * A read-only view of a decoded payload value, independent of the decoder.
 *
 * The validator and the measurement extractor walk payloads through this view,
 * so a JSON payload (cJSON tree) and a MessagePack payload (msgpack_object
 * tree) are checked by the same compiled schema without converting one into
 * the other. A view is two pointers, passed by value; it borrows the decoded
 * tree and is valid only as long as that tree is.
 *
 * Thread-safety: views are immutable; any number of threads may read the same
 * tree.
 */
#ifndef INGEST_VALUE_H
#define INGEST_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ingest_type {
  INGEST_T_INVALID = 0, /* the "absent" view (a missing member) */
  INGEST_T_NULL,
  INGEST_T_BOOL,
  INGEST_T_NUMBER, /* any number; see the int64 op for exact integers */
  INGEST_T_STRING,
  INGEST_T_ARRAY,
  INGEST_T_OBJECT,
  INGEST_T_BINARY /* MessagePack bin/ext: never valid where the schema names a JSON type */
} ingest_type;

/* Iteration state for arrays and objects; opaque to users, zero-initialise. */
typedef struct ingest_iter {
  const void *pos;
  size_t index;
} ingest_iter;

typedef struct ingest_value_ops {
  ingest_type (*type)(const void *node);
  bool (*boolean)(const void *node);
  double (*number)(const void *node);
  /* true and *out set when the number is an integer that fits int64 exactly */
  bool (*int64)(const void *node, int64_t *out);
  /* UTF-8 bytes (not necessarily NUL-terminated) and their length */
  const char *(*string)(const void *node, size_t *len);
  /* number of array elements or object members */
  size_t (*count)(const void *node);
  /* next array element (key NULL) or object member; false at the end. Each
   * step is O(1). Inside an object, a NULL key is a MessagePack map key that
   * is not a string: it matches no property name. Keys are not
   * NUL-terminated in general (use key_len). */
  bool (*next)(const void *node, ingest_iter *it, const char **key, size_t *key_len,
               const void **child);
  /* object member by exact, case-sensitive key (key_len bytes, which may
   * include NUL: such a key never matches a cJSON member), or NULL. Duplicate
   * keys: the first one. */
  const void *(*member)(const void *node, const char *key, size_t key_len);
} ingest_value_ops;

typedef struct ingest_value {
  const ingest_value_ops *ops;
  const void *node;
} ingest_value;

/*
 * Views over the two decoded tree kinds.
 * cJSON: numbers are doubles; int64() is exact only for an integral double
 * within [-2^63, 2^63) (cJSON has already rounded longer integer literals).
 * msgpack-c: nil, boolean, str, array, map map to the JSON kinds; positive and
 * negative integers are numbers and exact int64 (a positive one above
 * INT64_MAX is a number only); float32/64 are numbers (NaN and infinities
 * included, never integers); bin and ext are INGEST_T_BINARY.
 */
ingest_value ingest_value_from_cjson(const void *cjson_item);
ingest_value ingest_value_from_msgpack(const void *msgpack_object);

static inline bool ingest_value_present(ingest_value v) { return v.ops != NULL && v.node != NULL; }
static inline ingest_type ingest_value_type(ingest_value v) {
  return ingest_value_present(v) ? v.ops->type(v.node) : INGEST_T_INVALID;
}

/* Name of a type as JSON Schema spells it ("object", "integer" is never returned). */
const char *ingest_type_name(ingest_type t);

/*
 * RFC 6901 JSON pointers, compiled once (at schema load) and resolved per
 * message without allocating. "" is the whole document.
 */
typedef struct ingest_pointer ingest_pointer;
int ingest_pointer_compile(const char *text, ingest_pointer **out);
void ingest_pointer_free(ingest_pointer *p);
const char *ingest_pointer_text(const ingest_pointer *p);
/* The value at p, or the absent view (INGEST_T_INVALID) when it does not exist. */
ingest_value ingest_pointer_resolve(const ingest_pointer *p, ingest_value root);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_VALUE_H */
