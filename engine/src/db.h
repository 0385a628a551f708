/* The database handle: the shared state of its threads (env.h) and the
 * threads db.c starts and stops. Internal. */
#ifndef TSDB_DB_H
#define TSDB_DB_H

#include "env.h"
#include "maint.h"
#include "query.h"
#include "writer.h"

struct tsdb_db {
  tsdb_env env;
  tsdb_writer *writer;
  tsdb_maint *maint;
  bool shut_down; /* tsdb_shutdown() ran (host thread) */
};

/* A quantile of the write latency histogram, in microseconds. */
uint64_t tsdb_db__latency_quantile(tsdb_counters *c, double q);

#endif /* TSDB_DB_H */
