/*
 * Open-addressing hash map from byte strings to pointers (linear probing,
 * backward-shift deletion: Knuth, TAOCP vol. 3, 6.4 Algorithm R), used for
 * topic and series lookups. Keys are borrowed: the caller keeps each key alive
 * (usually inside the value) until it is removed. Not thread-safe.
 */
#ifndef TSDB_HASHMAP_H
#define TSDB_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsdb_map_slot {
  uint64_t hash; /* 0: empty */
  const char *key;
  size_t key_len;
  void *value;
} tsdb_map_slot;

typedef struct tsdb_map {
  tsdb_map_slot *slots;
  size_t cap; /* power of two, or 0 */
  size_t count;
} tsdb_map;

void tsdb_map__init(tsdb_map *m);
void tsdb_map__free(tsdb_map *m); /* frees slots only, not keys or values */
uint64_t tsdb_map__hash(const char *key, size_t len);
void *tsdb_map__get(const tsdb_map *m, const char *key, size_t len);
/* Inserts or replaces; returns 0 or TSDB_ENOMEM. */
int tsdb_map__put(tsdb_map *m, const char *key, size_t len, void *value);
/* Removes and returns the value, or NULL when absent. */
void *tsdb_map__remove(tsdb_map *m, const char *key, size_t len);
/* Iteration: start with *pos = 0; returns NULL at the end. */
/* Gives back slot memory after many removals (the map is under 1/8 full).
 * Invalidates iteration positions. */
void tsdb_map__shrink(tsdb_map *m);
void *tsdb_map__next(const tsdb_map *m, size_t *pos);

#endif /* TSDB_HASHMAP_H */
