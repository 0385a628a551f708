/*
 * Unique member names in every object of a decoded payload.
 *
 * RFC 8259 section 4 says the names within an object SHOULD be unique and
 * that receivers disagree on what a duplicate means: some take the first,
 * some the last, some both. Here they did disagree inside one process: the
 * validator checked both "ts" members, the timestamp came from the first,
 * so a year-9999 second one passed unseen. A message with a name twice in
 * one object is refused instead (MessagePack maps too: the same view walks
 * both trees).
 *
 * For JSON, rfc8259.c already compares the names of small objects as the
 * text goes by, so this walk only runs when it could not (an escaped name,
 * a very wide or deep object); MessagePack always takes it.
 *
 * Cost: one walk over the tree. An object of up to SMALL members compares
 * each name with the ones before it (what a sensor message has: a few
 * short names, mostly of different lengths). A larger one is sorted
 * (bottom-up merge sort: O(n log n) whatever the names, no seed to keep
 * secret as a hash table would need against chosen collisions), so a
 * hostile 10 000-member object costs about what its parse does, never
 * O(n^2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema_internal.h"
#include "schema_internal.h"

#define SMALL 16

typedef struct key {
  const char *s;
  size_t len;
} key;

/* The way down to the object being checked, for the error's pointer. */
typedef struct path {
  const struct path *up;
  const char *key; /* NULL: an array element */
  size_t key_len;
  size_t index;
} path;

static bool key_eq(const key *a, const key *b) {
  return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Order by length, then bytes: cheap when lengths differ. */
static int key_cmp(const key *a, const key *b) {
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return memcmp(a->s, b->s, a->len);
}

/* Sorts k[0..n) with tmp[0..n) as scratch, bottom-up. */
static void merge_sort(key *k, key *tmp, size_t n) {
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) tmp[o++] = key_cmp(&k[j], &k[i]) < 0 ? k[j++] : k[i++];
      while (i < mid) tmp[o++] = k[i++];
      while (j < hi) tmp[o++] = k[j++];
    }
    memcpy(k, tmp, n * sizeof *k);
  }
}

/* RFC 6901 reference token of one name: '~' and '/' escaped (section 3),
 * bytes that are not UTF-8 and NUL (a MessagePack key may hold both) as
 * U+FFFD. */
static void put_token(char *buf, size_t cap, size_t *len, const char *s, size_t n) {
  for (size_t i = 0; i < n && *len + 4 < cap;) {
    unsigned char c = (unsigned char)s[i];
    size_t k = c == 0 ? 0 : ingest_jsonschema__utf8_seq((const unsigned char *)s + i, n - i);
    if (k == 0) {
      memcpy(buf + *len, "\xEF\xBF\xBD", 3);
      *len += 3;
      i++;
    } else if (c == '~' || c == '/') {
      buf[(*len)++] = '~';
      buf[(*len)++] = c == '~' ? '0' : '1';
      i++;
    } else {
      memcpy(buf + *len, s + i, k);
      *len += k;
      i += k;
    }
  }
  buf[*len] = '\0';
}

/* The pointer of the object at p, root first; cut and ended in "..." when
 * it does not fit. */
static void pointer_of(const path *p, char *buf, size_t cap) {
  enum { SHOWN = 96 };
  const path *chain[SHOWN];
  size_t depth = 0;
  for (const path *q = p; q; q = q->up) depth++;
  /* Keep the SHOWN frames nearest the root. */
  const path *q = p;
  for (size_t skip = depth > SHOWN ? depth - SHOWN : 0; skip > 0; skip--) q = q->up;
  size_t n = 0;
  for (; q; q = q->up) chain[n++] = q;
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = n; i-- > 0 && len + 8 < cap;) {
    buf[len++] = '/';
    if (chain[i]->key) {
      put_token(buf, cap - 4, &len, chain[i]->key, chain[i]->key_len);
    } else {
      int w = snprintf(buf + len, cap - 4 - len, "%zu", chain[i]->index);
      len += w > 0 ? (size_t)w : 0;
      if (len > cap - 5) len = cap - 5;
      buf[len] = '\0';
    }
  }
  if (depth > SHOWN || len + 8 >= cap) {
    while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80) len--;
    memcpy(buf + len, "...", 4);
  }
}

int ingest_members__refuse(const char *pointer, const char *name, size_t len, ingest_error *err) {
  char shown[72];
  ingest_jsonschema__render_text(name, len, true, shown, sizeof shown);
  ingest_error_set(err, INGEST_EDECODE, "format", pointer,
                   "%s: member \"%s\" appears twice in one object; names must be unique, as "
                   "receivers disagree on which one counts (RFC 8259 section 4)",
                   pointer[0] ? pointer : "(root)", shown);
  ingest_extract__expected(err, "unique member names");
  snprintf(err->actual, sizeof err->actual, "\"%s\" twice", shown);
  return INGEST_EDECODE;
}

static int duplicate(const path *p, const key *k, ingest_error *err) {
  char ptr[sizeof err->pointer];
  pointer_of(p, ptr, sizeof ptr);
  return ingest_members__refuse(ptr, k->s, k->len, err);
}

/* The names of one object. Not recursive: its buffers never sit on the
 * stack of the walk below. */
static int check_object(ingest_value v, const path *p, ingest_error *err) {
  ingest_iter it = {0};
  const void *child;
  key small[SMALL + 1];
  size_t m = 0;
  while (v.ops->next(v.node, &it, &small[m].s, &small[m].len, &child)) {
    if (small[m].s == NULL) continue; /* a MessagePack key that is not a string */
    for (size_t j = 0; j < m; j++)
      if (key_eq(&small[j], &small[m])) return duplicate(p, &small[m], err);
    if (++m > SMALL) break;
  }
  if (m <= SMALL) return 0;
  size_t n = v.ops->count(v.node);
  key *k = malloc(2 * n * sizeof *k);
  if (k == NULL)
    return ingest_error_set(err, INGEST_ENOMEM, "format", "",
                            "(root): out of memory checking an object of %zu members", n);
  memcpy(k, small, m * sizeof *k);
  while (m < n && v.ops->next(v.node, &it, &k[m].s, &k[m].len, &child))
    if (k[m].s != NULL) m++;
  merge_sort(k, k + n, m);
  int rc = 0;
  for (size_t j = 1; j < m && rc == 0; j++)
    if (key_eq(&k[j - 1], &k[j])) rc = duplicate(p, &k[j], err);
  free(k);
  return rc;
}

/* Depth is bounded by the parsers (cJSON 1000 levels, MessagePack 32). */
static int walk(ingest_value v, const path *p, ingest_error *err) {
  ingest_type t = v.ops->type(v.node);
  if (t != INGEST_T_OBJECT && t != INGEST_T_ARRAY) return 0;
  if (t == INGEST_T_OBJECT) {
    int rc = check_object(v, p, err);
    if (rc) return rc;
  }
  ingest_iter it = {0};
  const char *k;
  size_t klen;
  const void *child;
  path down = {p, NULL, 0, 0};
  for (; v.ops->next(v.node, &it, &k, &klen, &child); down.index++) {
    ingest_value c = {v.ops, child};
    ingest_type ct = c.ops->type(child);
    if (ct != INGEST_T_OBJECT && ct != INGEST_T_ARRAY) continue;
    down.key = t == INGEST_T_OBJECT ? (k ? k : "") : NULL;
    down.key_len = t == INGEST_T_OBJECT ? klen : 0;
    int rc = walk(c, &down, err);
    if (rc) return rc;
  }
  return 0;
}

int ingest_members__unique(ingest_value root, ingest_error *err) {
  if (!ingest_value_present(root)) return 0;
  return walk(root, NULL, err);
}
