/*
 * serve/: the read protocols over the engine's public API (tsdb/tsdb.h).
 * What the engine stores and computes, this layer names and formats for
 * its readers: today the live aggregates published over MQTT.
 */
#ifndef TSDB_SERVE_H
#define TSDB_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The live aggregates: a tsdb_bucket_event_fn (tsdb_options.bucket_fn, ud
 * unused) that publishes each bucket event through tsdb_results_publish() as
 * one message on $tsdb/agg/<tier>/<topic>, QoS 0, retained when it is the
 * newest bucket of its topic and tier:
 *   {"tier":"1m","start":"2026-12-01T10:00:00Z","start_ms":..,"end_ms":..,
 *    "state":"partial"|"final"|"correction",
 *    "<field>_count":..,"<field>_min":..,"<field>_max":..,"<field>_mean":..,
 *    "<field>_sum":..,"<field>_first":..,"<field>_last":..,"<field>_stddev":..}
 * Numbers in their shortest exact form; fields without points in the bucket
 * are left out. Builds the payload in a buffer of the calling thread's own.
 */
void tsdb_serve_publish_bucket(tsdb_db *db, const tsdb_bucket_event *ev, void *ud);

/* "$tsdb/agg/<tier>/<topic>" into buf; false if it does not fit. */
bool tsdb_serve_agg_topic(char *buf, size_t len, int64_t tier_ms, const char *topic,
                          size_t topic_len);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_SERVE_H */
