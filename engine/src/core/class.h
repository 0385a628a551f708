/* Series classes (tsdb.h): immutable and reference-counted, so the broker
 * thread can hand one to the writer with each message, and a schema reload
 * can replace them while old messages are still queued. */
#ifndef TSDB_CLASS_H
#define TSDB_CLASS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/topic.h"
#include "tsdb/tsdb.h"

#define TSDB_MAX_TIERS TSDB_SERIES_MAX_TIERS
#define TSDB_MAX_FIELDS 256
#define TSDB_DEFAULT_BLOCK_SPAN_MS 86400000

struct tsdb_series_class {
  atomic_int refs;
  char *schema_id;
  uint32_t schema_version;
  tsdb_topic_template *tpl;
  size_t nfields;
  char **fields;
  char **units; /* entries may be NULL */
  size_t ntiers;
  int64_t tiers_ms[TSDB_MAX_TIERS];
  int dup_policy;
  int64_t block_span_ms;
  size_t nlabels;
  tsdb_label *labels;                        /* owned copies */
  int64_t raw_retention_ms;                  /* 0: forever */
  int64_t tier_retention_ms[TSDB_MAX_TIERS]; /* 0: forever */
};

/* The time a point must be newer than to be stored, or INT64_MIN: raw
 * retention minus the coarsest tier, so that every bucket a late point can
 * touch is still complete in its source tier. */
int64_t tsdb_class__write_cutoff(int64_t now, int64_t raw_retention_ms, size_t ntiers,
                                 const int64_t *tiers_ms);

#endif /* TSDB_CLASS_H */
