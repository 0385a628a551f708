#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#include "tsdb/error.h"

void tsdb_map__init(tsdb_map *m) { memset(m, 0, sizeof *m); }

void tsdb_map__free(tsdb_map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

uint64_t tsdb_map__hash(const char *key, size_t len) {
  /* FNV-1a 64 (Fowler, Noll, Vo), then a murmur3 fmix64 finalizer so the low
   * bits used for the slot index depend on every input byte. */
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h ? h : 1; /* 0 marks an empty slot */
}

static tsdb_map_slot *find(const tsdb_map *m, uint64_t h, const char *key, size_t len) {
  if (!m->cap) return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    tsdb_map_slot *s = &m->slots[i];
    if (!s->hash) return NULL;
    if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) return s;
  }
}

void *tsdb_map__get(const tsdb_map *m, const char *key, size_t len) {
  tsdb_map_slot *s = find(m, tsdb_map__hash(key, len), key, len);
  return s ? s->value : NULL;
}

static void insert_slot(tsdb_map_slot *slots, size_t cap, const tsdb_map_slot *src) {
  size_t mask = cap - 1;
  size_t i = src->hash & mask;
  while (slots[i].hash) i = (i + 1) & mask;
  slots[i] = *src;
}

static int resize(tsdb_map *m, size_t cap) {
  tsdb_map_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return TSDB_ENOMEM;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].hash) insert_slot(slots, cap, &m->slots[i]);
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

int tsdb_map__put(tsdb_map *m, const char *key, size_t len, void *value) {
  uint64_t h = tsdb_map__hash(key, len);
  tsdb_map_slot *s = find(m, h, key, len);
  if (s) {
    s->key = key; /* the new value may own a new copy of the key */
    s->value = value;
    return 0;
  }
  /* Keep the load factor at or below 3/4 so probe sequences stay short. */
  if ((m->count + 1) * 4 > m->cap * 3) {
    int rc = resize(m, m->cap ? m->cap * 2 : 16);
    if (rc) return rc;
  }
  tsdb_map_slot slot = {h, key, len, value};
  insert_slot(m->slots, m->cap, &slot);
  m->count++;
  return 0;
}

void *tsdb_map__remove(tsdb_map *m, const char *key, size_t len) {
  tsdb_map_slot *s = find(m, tsdb_map__hash(key, len), key, len);
  if (!s) return NULL;
  void *value = s->value;
  size_t mask = m->cap - 1;
  size_t hole = (size_t)(s - m->slots);
  /* Backward-shift deletion: pull later members of the probe run into the
   * hole when their home slot is not between the hole and their position. */
  for (size_t j = (hole + 1) & mask; m->slots[j].hash; j = (j + 1) & mask) {
    size_t home = m->slots[j].hash & mask;
    size_t dist_j = (j - home) & mask, dist_hole = (hole - home) & mask;
    if (dist_hole < dist_j) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  memset(&m->slots[hole], 0, sizeof m->slots[hole]);
  m->count--;
  return value;
}

void tsdb_map__shrink(tsdb_map *m) {
  if (m->count == 0) {
    tsdb_map__free(m);
    return;
  }
  if (m->count * 8 >= m->cap) return; /* hysteresis: puts grow it at 3/4 */
  size_t cap = m->cap;
  while (cap > 16 && m->count * 4 < cap) cap /= 2; /* to between 1/4 and 1/2 full */
  resize(m, cap);                                  /* out of memory: it stays as it is */
}

void *tsdb_map__next(const tsdb_map *m, size_t *pos) {
  while (*pos < m->cap) {
    tsdb_map_slot *s = &m->slots[(*pos)++];
    if (s->hash) return s->value;
  }
  return NULL;
}
