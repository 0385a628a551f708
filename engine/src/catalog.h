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
 * keeping a tsdb_series pointer after unlocking, because an update replaces
 * the struct.
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

typedef struct tsdb_series {
  uint32_t id;
  char *key; /* topic '\0' field: the by_key map's key */
  size_t key_len;
  const char *topic; /* = key */
  size_t topic_len;
  const char *field; /* inside key */
  char *unit;
  char *schema_id;
  uint32_t schema_version;
  size_t nlabels;
  tsdb_label *labels;
  size_t ntiers;
  int64_t tiers_ms[TSDB_MAX_TIERS];
  int dup_policy;
  int64_t block_span_ms;
  int64_t raw_retention_ms;                   /* 0: forever */
  int64_t tier_retention_ms[TSDB_MAX_TIERS]; /* 0: forever */
  /* A tier added to an existing series holds buckets only from this time
   * on until the writer's backfill has computed the older ones (it moves
   * this back); INT64_MIN: complete. */
  int64_t tier_complete_from[TSDB_MAX_TIERS];
  bool persisted; /* its descriptor is known to be on disk */
} tsdb_series;

/* What readers copy out. */
typedef struct tsdb_series_params {
  uint32_t id;
  size_t ntiers;
  int64_t tiers_ms[TSDB_MAX_TIERS];
  int dup_policy;
  int64_t block_span_ms;
  int64_t raw_retention_ms;                   /* 0: forever */
  int64_t tier_retention_ms[TSDB_MAX_TIERS]; /* 0: forever */
  int64_t tier_complete_from[TSDB_MAX_TIERS]; /* see tsdb_series */
  /* Read paths hide what retention has passed, as of this time. The caller
   * sets it (tsdb_catalog__params sets INT64_MIN: nothing hidden). */
  int64_t now;
} tsdb_series_params;

typedef struct tsdb_topic_entry {
  char *topic;
  size_t topic_len;
  uint32_t *ids;
  size_t n, cap;
} tsdb_topic_entry;

typedef struct tsdb_catalog {
  pthread_rwlock_t lock;
  tsdb_map by_key;   /* "topic\0field" -> tsdb_series */
  tsdb_map by_topic; /* topic -> tsdb_topic_entry */
  tsdb_series **by_id;
  size_t id_cap;
  uint32_t next_id;
  size_t count;
  const tsdb_logger *log;
} tsdb_catalog;

int tsdb_catalog__init(tsdb_catalog *cat, const tsdb_logger *log);
void tsdb_catalog__destroy(tsdb_catalog *cat);
/* Loads every descriptor from the store (at open, before any thread runs). */
int tsdb_catalog__load(tsdb_catalog *cat, tsdb_store *st);

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

/* Any thread. */
int tsdb_catalog__find(tsdb_catalog *cat, const char *topic, const char *field, uint32_t *id);
int tsdb_catalog__params(tsdb_catalog *cat, uint32_t id, tsdb_series_params *out);
size_t tsdb_catalog__count(tsdb_catalog *cat);
/* The ids of every series of a topic (up to max), in creation order. */
size_t tsdb_catalog__topic_series(tsdb_catalog *cat, const char *topic, size_t topic_len,
                                  uint32_t *ids, size_t max);
/* Appends JSON members describing a series (",\"unit\":..,\"labels\":{..},
 * \"schema\":..,\"version\":..,\"tiers\":[..],\"retention\":{..}") to a
 * tsdb_strbuf; false when the series is unknown. */
struct tsdb_strbuf;
bool tsdb_catalog__describe(tsdb_catalog *cat, uint32_t id, struct tsdb_strbuf *sb, bool full);

/* A series' field name copied into buf (empty when unknown). */
void tsdb_catalog__field_name(tsdb_catalog *cat, uint32_t id, char *buf, size_t len);

#endif /* TSDB_CATALOG_H */
