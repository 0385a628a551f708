/*
 * The series catalog: a series is (topic, field) with a stable numeric id,
 * labels (named levels of the topic template plus the schema's static
 * labels), a unit, the schema id and version, its rollup tiers, duplicate
 * policy and raw block span.
 *
 * Ownership and threads: the writer thread is the only mutator (it creates
 * series while writing the batch that first uses them, so a series and its
 * first points become durable together). Any thread may read. Mutations take
 * the write lock; readers take the read lock and copy what they need, never
 * keeping a pointer into the catalog after unlocking.
 *
 * Memory: a city has many series that report rarely, so an idle series must
 * cost little: a 40-byte record in an id-indexed page, a share of its topic's
 * entry (text and captured labels, from an arena), and pointers to interned
 * field names and profiles (what a schema version says about its series).
 */
#ifndef TSDB_CATALOG_H
#define TSDB_CATALOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "class.h"
#include "hashmap.h"
#include "store.h"

/*
 * What series of one schema version, unit, and storage layout share: interned
 * (one per distinct combination, alive until the catalog is destroyed), so
 * that a series costs a few pointers, not a copy of its schema.
 */
typedef struct tsdb_profile {
  struct tsdb_profile *next; /* the catalog's list */
  char *unit;                /* NULL: none */
  char *schema_id;
  uint32_t schema_version;
  int dup_policy;
  size_t ntiers;
  int64_t tiers_ms[TSDB_MAX_TIERS];
  int64_t block_span_ms;
  int64_t raw_retention_ms;                  /* 0: forever */
  int64_t tier_retention_ms[TSDB_MAX_TIERS]; /* 0: forever */
  size_t nlabels;
  tsdb_label *labels; /* the schema's static labels */
} tsdb_profile;

/*
 * A topic: its text and the labels its template captured, shared by the
 * topic's series (a station's fields). Allocated from the catalog's arena;
 * immutable (a schema that captures other labels gets a new entry).
 */
typedef struct tsdb_topic_entry {
  uint32_t first_id; /* the topic's series, in creation order, via next_in_topic */
  uint16_t len;
  uint8_t nlabels;
  char text[]; /* topic '\0', then nlabels times key '\0' value '\0' */
} tsdb_topic_entry;

/* A series, kept in the catalog's id-indexed pages: its address is stable
 * for the catalog's life, and updates change it in place under the lock. */
typedef struct tsdb_series {
  uint32_t id;            /* 0: no series has this id */
  uint32_t next_in_topic; /* 0: the last */
  const tsdb_topic_entry *topic;
  const char *field; /* interned */
  const tsdb_profile *profile;
  bool persisted;   /* its descriptor is known to be on disk */
  bool backfilling; /* a tier is still being backfilled (tsdb_catalog__params) */
} tsdb_series;

/* What readers copy out. */
typedef struct tsdb_series_params {
  uint32_t id;
  size_t ntiers;
  int64_t tiers_ms[TSDB_MAX_TIERS];
  int dup_policy;
  int64_t block_span_ms;
  int64_t raw_retention_ms;                  /* 0: forever */
  int64_t tier_retention_ms[TSDB_MAX_TIERS]; /* 0: forever */
  /* A tier added to an existing series holds buckets only from this time
   * on until the writer's backfill has computed the older ones (it moves
   * this back); INT64_MIN: complete. */
  int64_t tier_complete_from[TSDB_MAX_TIERS];
  /* Read paths hide what retention has passed, as of this time. The caller
   * sets it (tsdb_catalog__params sets INT64_MIN: nothing hidden). */
  int64_t now;
} tsdb_series_params;

#define TSDB_CATALOG_PAGE 1024 /* series per page */

typedef struct tsdb_catalog {
  pthread_rwlock_t lock;
  uint64_t *index; /* topic -> first series (catalog.c: the topic index) */
  size_t index_cap, index_count;
  tsdb_map fields;    /* interned field names */
  tsdb_map backfills; /* series with a tier being backfilled -> its boundaries */
  tsdb_profile *profiles;
  tsdb_series **pages; /* id / TSDB_CATALOG_PAGE -> a page of series */
  size_t npages;
  struct tsdb_arena_chunk *arena; /* topic entries */
  size_t arena_used;              /* in the newest chunk */
  uint32_t next_id;
  size_t count;
  const tsdb_logger *log;
} tsdb_catalog;

int tsdb_catalog__init(tsdb_catalog *cat, const tsdb_logger *log);
void tsdb_catalog__destroy(tsdb_catalog *cat);
/* Loads every descriptor from the store (at open, before any thread runs). */
int tsdb_catalog__load(tsdb_catalog *cat, tsdb_store *st);
/* Indexes one stored descriptor, the JSON value of key 'S' + id, as
 * tsdb_catalog__load() does for each (so at open, alone): TSDB_ECORRUPT for
 * one it cannot read, which the load skips, or TSDB_ENOMEM. The bytes come
 * from disk and are not trusted; the fuzzer calls it without a store. */
int tsdb_catalog__load_descriptor(tsdb_catalog *cat, uint32_t id, const char *text, size_t len);

/*
 * Writer thread only. Returns the series of (topic, field name) creating or
 * updating it as needed from the class and the field's unit; catalog puts go
 * into `batch`. *changed is set when the descriptor was written (so the
 * caller can mark it persisted after the batch commits).
 */
int tsdb_catalog__ensure(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                         const tsdb_series_class *cls, const char *topic, size_t topic_len,
                         const char *field, size_t field_len, const char *unit, int64_t now,
                         tsdb_series **out, bool *changed);

/* Writer thread only: moves a tier's backfill boundary (INT64_MIN: done)
 * and puts the descriptor into `batch`. */
int tsdb_catalog__set_complete_from(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                                    uint32_t id, size_t tier, int64_t from);
/* Writer thread only: the series by id without locking (the writer is the
 * only mutator, so its own reads need no lock). NULL if unknown. */
tsdb_series *tsdb_catalog__get_unlocked(tsdb_catalog *cat, uint32_t id);
/* A series' topic text and length. */
static inline const char *tsdb_series__topic(const tsdb_series *s) { return s->topic->text; }
static inline size_t tsdb_series__topic_len(const tsdb_series *s) { return s->topic->len; }

/* Any thread. */
int tsdb_catalog__find(tsdb_catalog *cat, const char *topic, const char *field, uint32_t *id);
int tsdb_catalog__params(tsdb_catalog *cat, uint32_t id, tsdb_series_params *out);
size_t tsdb_catalog__count(tsdb_catalog *cat);
/* Every id in use is below this. */
uint32_t tsdb_catalog__id_limit(tsdb_catalog *cat);
/* The series whose topic matches an MQTT filter, with the field (NULL: any)
 * and every given label; copies of (id, topic, field) are passed to fn after
 * the lock is released, in id order. fn returning non-zero stops. */
typedef int (*tsdb_catalog_match_fn)(void *ud, uint32_t id, const char *topic, const char *field);
int tsdb_catalog__match(tsdb_catalog *cat, const char *filter, const char *field,
                        const tsdb_label *labels, size_t nlabels, tsdb_catalog_match_fn fn,
                        void *ud);
/* The ids of every series of a topic (up to max), in creation order. */
size_t tsdb_catalog__topic_series(tsdb_catalog *cat, const char *topic, size_t topic_len,
                                  uint32_t *ids, size_t max);
/* A copy of what the catalog knows of a series (tsdb_series_describe). */
int tsdb_catalog__info(tsdb_catalog *cat, uint32_t id, tsdb_series_info *out);

/* A series' field name copied into buf (empty when unknown). */
void tsdb_catalog__field_name(tsdb_catalog *cat, uint32_t id, char *buf, size_t len);

#endif /* TSDB_CATALOG_H */
