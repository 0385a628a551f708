/*
 * What the benchmarks that drive the engine in-process (engine_bench,
 * fieldbench) share: the series class of a one-field dataset with the
 * default rollup tiers, and an ingest that waits while the queue is full.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

/* Opens a store for bulk loading: a 64 MB queue, writes flushed at once, no
 * aggregate publications, no retention sweeps, warnings only. Exits with
 * the engine's message when it cannot be opened. */
tsdb_db *bench_engine_open(const char *path, uint32_t grace_ms);
/* Opens with the caller's options; exits with the engine's message when it
 * cannot. */
tsdb_db *bench_engine_open_with(const tsdb_options *o);

/* One field "value", tiers 1m/15m/1h/1d, topics of topic_template. Exits
 * with a message when the class cannot be made. */
tsdb_series_class *bench_engine_class(const char *schema_id, const char *topic_template);

/* Ingests n points of one topic; a full queue is waited out (the benchmark
 * measures the engine's pace, not its refusals). Exits on any other error. */
void bench_engine_push(tsdb_db *db, tsdb_series_class *cls, const char *topic,
                       const tsdb_point *points, size_t n);

#endif
