/*
 * Schemas: one file = a JSON Schema 2020-12 document (the subset in
 * jsonschema.h) that validates a payload, plus our mapping section "x-tsdb"
 * that says where messages come from and what to store:
 *
 *   "x-tsdb": {
 *     "id": "air-quality",                 schema id (letters, digits, - _ .)
 *     "version": 3,                        integer >= 1
 *     "topic": "city/{district}/{station}/air",   topic template (tsdb/topic.h)
 *     "format": "json",                    "json" or "msgpack"
 *     "timestamp": {                       optional; absent = arrival time
 *       "pointer": "/ts",                  RFC 6901 pointer into the payload
 *       "format": "rfc3339",               rfc3339 | epoch_s | epoch_ms | epoch_us
 *       "max_future": "5m"                 refuse timestamps further ahead than
 *                                          this of the arrival time (default 5m)
 *     },
 *     "measurements": {                    field -> where its value is
 *       "pm25": {"pointer": "/pm25", "unit": "ug/m3"}
 *     },
 *     "tiers": ["1m", "15m", "1h", "1d"],  rollup tiers (default these four)
 *     "duplicates": "last",                last | first
 *     "block_span": "1d",                  raw block span (default 1d)
 *     "labels": {"kind": "air"}            static labels for every series
 *   }
 *
 * A measurement whose pointer resolves to nothing is simply absent from that
 * message (optional fields); one that resolves to a non-number is an error.
 *
 * Compiled schemas are immutable; a schema set is reference-counted so the
 * broker can swap in a reloaded set while messages validated by the old one
 * are still queued. Processing a message allocates only inside the JSON or
 * MessagePack parser.
 */
#ifndef INGEST_SCHEMA_H
#define INGEST_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/error.h"
#include "tsdb/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INGEST_MAX_MEASUREMENTS 256

typedef struct ingest_schema ingest_schema;
typedef struct ingest_schema_set ingest_schema_set;

/* Loads and compiles one schema file. On failure returns an INGEST_E* code and
 * err->message names the file and what is wrong. */
int ingest_schema_load_file(const char *path, ingest_schema **out, ingest_error *err);
void ingest_schema_free(ingest_schema *s);

const char *ingest_schema_id(const ingest_schema *s);
uint32_t ingest_schema_version(const ingest_schema *s);
const char *ingest_schema_topic(const ingest_schema *s);
size_t ingest_schema_nfields(const ingest_schema *s);
const char *ingest_schema_field(const ingest_schema *s, size_t i);
/* The engine class of the series this schema produces (borrowed). */
tsdb_series_class *ingest_schema_class(const ingest_schema *s);

/*
 * Loads every schema of a directory: each "<name>/schema.json" in a
 * sub-directory and each "*.schema.json" file directly in it. All or nothing:
 * on the first bad file returns its error (errbuf names the file) and no set.
 * Duplicate schema ids or identical topic templates are errors.
 */
int ingest_schema_set_load_dir(const char *dir, ingest_schema_set **out, char *errbuf,
                               size_t errlen);
size_t ingest_schema_set_count(const ingest_schema_set *set);
const ingest_schema *ingest_schema_set_at(const ingest_schema_set *set, size_t i);
void ingest_schema_set_retain(ingest_schema_set *set);  /* thread-safe */
void ingest_schema_set_release(ingest_schema_set *set); /* thread-safe; NULL ok */

/* The schema for a topic: the most specific matching template, or NULL. */
const ingest_schema *ingest_schema_set_route(const ingest_schema_set *set, const char *topic,
                                             size_t topic_len);

/*
 * Decodes, validates and extracts one message. points must hold
 * ingest_schema_nfields(s) entries; *npoints gets how many were filled.
 * Returns 0, or INGEST_EDECODE / INGEST_EVALIDATE / INGEST_ETIMESTAMP with
 * err filled. Reentrant; allocates only inside the payload parser.
 */
int ingest_schema_process(const ingest_schema *s, const void *payload, size_t len,
                          int64_t arrival_ms, tsdb_point *points, size_t *npoints,
                          ingest_error *err);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_SCHEMA_H */
