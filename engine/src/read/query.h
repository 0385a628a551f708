/* The query planner and the reads behind the public tsdb_query_step(),
 * tsdb_read_last() and tsdb_series_match() (query.c). Internal. */
#ifndef TSDB_QUERY_H
#define TSDB_QUERY_H

#include "env.h"

/* snap: NULL for a snapshot of its own. */
int tsdb_query__step(tsdb_env *env, const tsdb_snap *snap, const tsdb_step_query *q,
                     tsdb_bucket_fn fn, void *ud, int64_t *next);
int tsdb_query__last(tsdb_env *env, const tsdb_snap *snap, uint32_t series, int64_t before,
                     int64_t *ts, double *value);
int tsdb_query__series_match(tsdb_env *env, const char *filter, const char *field,
                             const tsdb_label *labels, size_t nlabels, tsdb_series_fn fn, void *ud);

#endif /* TSDB_QUERY_H */
