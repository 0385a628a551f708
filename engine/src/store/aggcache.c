#include "aggcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* One decoded block, in one allocation: the entry, the bucket starts, the
 * aggregates, the key and the encoded value. */
typedef struct entry {
  struct entry *prev, *next; /* recency list, newest first; only while cached */
  size_t refs;               /* readers holding it */
  bool cached;               /* in the map and the list */
  size_t key_len, value_len, n, bytes;
  int64_t *starts;
  tsdb_agg *aggs;
  uint8_t *key, *value;
} entry;

struct tsdb_aggcache {
  pthread_mutex_t lock;
  tsdb_map map; /* key -> entry; keys live in the entries */
  entry *newest, *oldest;
  size_t bytes, max_bytes;
  uint64_t hits, misses;
};

tsdb_aggcache *tsdb_aggcache__new(size_t max_bytes) {
  if (max_bytes == 0) return NULL;
  tsdb_aggcache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (pthread_mutex_init(&c->lock, NULL)) {
    free(c);
    return NULL;
  }
  tsdb_map__init(&c->map);
  c->max_bytes = max_bytes;
  return c;
}

void tsdb_aggcache__free(tsdb_aggcache *c) {
  if (!c) return;
  /* Every reader has released its entries: the store closes after them. */
  for (entry *e = c->newest, *next; e; e = next) {
    next = e->next;
    free(e);
  }
  tsdb_map__free(&c->map);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

static void unlink_entry(tsdb_aggcache *c, entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->newest = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->oldest = e->prev;
  e->prev = e->next = NULL;
}

static void push_newest(tsdb_aggcache *c, entry *e) {
  e->prev = NULL;
  e->next = c->newest;
  if (c->newest) c->newest->prev = e;
  c->newest = e;
  if (!c->oldest) c->oldest = e;
}

/* Takes e out of the cache (lock held); frees it unless a reader holds it. */
static void drop(tsdb_aggcache *c, entry *e) {
  unlink_entry(c, e);
  tsdb_map__remove(&c->map, (const char *)e->key, e->key_len);
  e->cached = false;
  c->bytes -= e->bytes;
  if (e->refs == 0) free(e);
}

static void fill_view(const entry *e, tsdb_aggcache_view *view) {
  view->starts = e->starts;
  view->aggs = e->aggs;
  view->n = e->n;
}

const void *tsdb_aggcache__get(tsdb_aggcache *c, const void *key, size_t key_len, const void *value,
                               size_t value_len, tsdb_aggcache_view *view) {
  if (!c) return NULL;
  pthread_mutex_lock(&c->lock);
  entry *e = tsdb_map__get(&c->map, key, key_len);
  if (e && (e->value_len != value_len || memcmp(e->value, value, value_len) != 0)) {
    drop(c, e); /* the block changed since */
    e = NULL;
  }
  if (!e) {
    c->misses++;
    pthread_mutex_unlock(&c->lock);
    return NULL;
  }
  unlink_entry(c, e);
  push_newest(c, e);
  e->refs++;
  c->hits++;
  pthread_mutex_unlock(&c->lock);
  fill_view(e, view);
  return e;
}

const void *tsdb_aggcache__put(tsdb_aggcache *c, const void *key, size_t key_len, const void *value,
                               size_t value_len, const int64_t *starts, const tsdb_agg *aggs,
                               size_t n, tsdb_aggcache_view *view) {
  if (!c) return NULL;
  size_t bytes = sizeof(entry) + n * (sizeof *starts + sizeof *aggs) + key_len + value_len;
  /* One block never takes more than a quarter: the cache serves many series. */
  if (bytes > c->max_bytes / 4) return NULL;
  entry *e = malloc(bytes);
  if (!e) return NULL;
  memset(e, 0, sizeof *e);
  e->starts = (int64_t *)(e + 1);
  e->aggs = (tsdb_agg *)(e->starts + n);
  e->key = (uint8_t *)(e->aggs + n);
  e->value = e->key + key_len;
  memcpy(e->starts, starts, n * sizeof *starts);
  memcpy(e->aggs, aggs, n * sizeof *aggs);
  memcpy(e->key, key, key_len);
  memcpy(e->value, value, value_len);
  e->key_len = key_len;
  e->value_len = value_len;
  e->n = n;
  e->bytes = bytes;
  e->refs = 1;
  pthread_mutex_lock(&c->lock);
  entry *old = tsdb_map__get(&c->map, key, key_len);
  if (old) drop(c, old); /* another reader decoded it meanwhile, or it is stale */
  if (tsdb_map__put(&c->map, (const char *)e->key, key_len, e) != 0) {
    pthread_mutex_unlock(&c->lock);
    free(e);
    return NULL;
  }
  e->cached = true;
  push_newest(c, e);
  c->bytes += bytes;
  while (c->bytes > c->max_bytes && c->oldest && c->oldest != e) drop(c, c->oldest);
  pthread_mutex_unlock(&c->lock);
  fill_view(e, view);
  return e;
}

void tsdb_aggcache__release(tsdb_aggcache *c, const void *handle) {
  if (!c || !handle) return;
  entry *e = (entry *)handle;
  pthread_mutex_lock(&c->lock);
  e->refs--;
  bool gone = e->refs == 0 && !e->cached;
  pthread_mutex_unlock(&c->lock);
  if (gone) free(e);
}

void tsdb_aggcache__counters(tsdb_aggcache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes) {
  *hits = *misses = *bytes = 0;
  if (!c) return;
  pthread_mutex_lock(&c->lock);
  *hits = c->hits;
  *misses = c->misses;
  *bytes = c->bytes;
  pthread_mutex_unlock(&c->lock);
}
