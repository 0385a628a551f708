/*
 * Schemas: one file = a JSON Schema 2020-12 document (the subset in
 * jsonschema.h) that validates a payload, plus our mapping section "x-tsdb"
 * that says where messages come from, how to decode them and what to store.
 *
 *   "x-tsdb": {
 *     "id": "air-quality",          schema id: 1-64 of A-Z a-z 0-9 - _ .
 *     "version": 3,                 integer >= 1; a new version starts new
 *                                   series descriptors in the engine
 *     "description": "...",         free text, ignored
 *     "topic": "city/{district}/{station}/air",  topic template (tsdb/topic.h);
 *                                   named levels become labels of the series
 *     "format": "json",             the decoder, see "Formats" below
 *     "timestamp": {                optional
 *       "pointer": "/ts",           RFC 6901 pointer into the validated
 *                                   document; without it the format's own
 *                                   time is used (arrival time for json,
 *                                   msgpack and sensor.community)
 *       "format": "rfc3339",        rfc3339 | epoch_s | epoch_ms | epoch_us;
 *                                   required with "pointer", refused without
 *       "max_future": "5m",         refuse times further ahead of the
 *                                   arrival time than this (default 5m)
 *       "max_past": "30d"           refuse times older than this before the
 *                                   arrival time (default: no bound)
 *     },
 *     "measurements": {             fixed-field formats (json, msgpack, ttn-v3):
 *       "pm25": {                   field name: 1-128 of A-Z a-z 0-9 - _ .
 *         "pointer": "/pm25",       where the value is (required)
 *         "unit": "ug/m3",          SenML units registry name (optional)
 *         "precision": 0.1,         resolution of the value (optional, > 0):
 *                                   carried for the engine's codec
 *         "scale": 0.1,             stored value = payload value * scale
 *                                   (optional, default 1); the JSON Schema
 *                                   checks the payload value, before scaling
 *         "description": "..."
 *       }
 *     },
 *     "names": {                    message-named formats (senml,
 *                                   sensor.community), optional:
 *       "map": {                    message name -> field
 *         "SDS_P1": {"field": "pm10", "unit": "ug/m3", "precision": 0.01,
 *                    "scale": 1, "description": "..."}
 *       },
 *       "ignore": ["samples"],      names that are never stored (not errors)
 *       "unmapped": "keep"          other names: keep (stored under their own
 *                                   name, with the message's unit), ignore
 *                                   (dropped) or refuse (the message is
 *                                   refused); default keep
 *     },
 *     "tiers": ["1m", "15m", "1h", "1d"],  rollup tiers (default these four;
 *                                   whole seconds, ascending, each a multiple
 *                                   of the one before; at most 8)
 *     "retention": {                optional; per "raw" and per tier:
 *       "raw": "90d", "1m": "1y"    a duration (units ms s m h d w, and
 *     },                            y = 365d) or "forever" (also the default);
 *                                   raw >= block_span and longer than the
 *                                   coarsest tier, a tier >= its width, and
 *                                   never shorter than a finer level. Handed
 *                                   to the engine's series class, which
 *                                   enforces it.
 *     "duplicates": "last",         same (series, timestamp) again: last (the
 *                                   newest write wins), first (the first
 *                                   stays) or reject (first at storage, and a
 *                                   message carrying the same point twice is
 *                                   refused)
 *     "block_span": "1d",           raw block span (default 1d, >= 1m)
 *     "labels": {"kind": "air"},    static labels for every series (<= 32)
 *     "<format>": {...}             options of the selected format only
 *   }
 *
 * Every member is checked: an unknown member, a wrong type or a value out of
 * range makes the schema fail to load, naming the member's path.
 *
 * Formats (x-tsdb.format), each a decoder in ingest/src/decode_<name>.c:
 *   json              a JSON document; the JSON Schema validates it and the
 *                     measurements' pointers read it.
 *   msgpack           a MessagePack document, the same way (maps with string
 *                     keys are objects; bin/ext match no JSON type).
 *   senml             RFC 8428 SenML JSON: the JSON Schema validates the pack
 *                     (the array), then the records are resolved (section
 *                     4.6): name = bn + n, time = bt + t (a resolved time
 *                     below 2^28 is relative to the arrival time, 4.5.3),
 *                     unit = u or bu, value = bv + v, sum = bs + s. One point
 *                     per record value; the field is the resolved name
 *                     (mapped through "names"). Records with vb store 1 or 0;
 *                     records with only vs or vd store nothing; a sum is the
 *                     series "<name>:sum". Invalid packs of section 4 are
 *                     refused with the section in the message. Options:
 *                     "senml": {"series": "name" | "name+unit",
 *                               "booleans": "number" | "skip",
 *                               "sums": "store" | "skip"}
 *                     ("name+unit" names a series "<name>[<unit>]", for
 *                     devices that send several quantities under one name).
 *   ttn-v3            The Things Stack v3 uplink: the JSON Schema validates
 *                     uplink_message.decoded_payload and the measurements'
 *                     pointers read it; error pointers are reported from the
 *                     message root. The time is received_at (RFC 3339,
 *                     nanoseconds truncated to ms) unless "timestamp" points
 *                     into decoded_payload. Zero fields that The Things Stack
 *                     omits (f_cnt, f_port, ...) are never required. When the
 *                     topic template has a {device} or {app} level, it must
 *                     equal end_device_ids.device_id or
 *                     end_device_ids.application_ids.application_id when the
 *                     message carries them. Options: "ttn-v3": {"simulated":
 *                     "ignore" | "store" | "refuse"} for console-simulated
 *                     uplinks (default ignore: accepted, nothing stored).
 *   sensor.community  airrohr push JSON: the JSON Schema validates the whole
 *                     message; each sensordatavalues entry is a value_type
 *                     (a name, mapped through "names") and a value that is a
 *                     decimal string (or a number). A {sensor} topic level
 *                     must equal esp8266id when the message carries it. The
 *                     time is the arrival time unless "timestamp" points into
 *                     the message (a gateway may add one).
 *
 * A measurement whose pointer resolves to nothing is simply absent from that
 * message (optional fields); one that resolves to a non-number, or to a
 * number that is not finite (after scaling), is an error.
 *
 * Compiled schemas are immutable and may be used from any number of threads;
 * a schema set is reference-counted so the broker can swap in a reloaded set
 * while messages validated by the old one are still queued. Processing a
 * message allocates only inside the JSON or MessagePack parser.
 */
#ifndef INGEST_SCHEMA_H
#define INGEST_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/error.h"
#include "tsdb/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INGEST_MAX_MEASUREMENTS 256 /* fields of one schema */
#define INGEST_MAX_TIERS 8

typedef struct ingest_schema ingest_schema;
typedef struct ingest_schema_set ingest_schema_set;

/* The duplicate policy of x-tsdb.duplicates. */
typedef enum ingest_dup_policy {
  INGEST_DUP_LAST = 0,
  INGEST_DUP_FIRST = 1,
  INGEST_DUP_REJECT = 2
} ingest_dup_policy;

/* Loads and compiles one schema file. On failure returns an INGEST_E* code and
 * err->message names the file and what is wrong (err->schema_path the
 * member). */
int ingest_schema_load_file(const char *path, ingest_schema **out, ingest_error *err);
void ingest_schema_free(ingest_schema *s);

const char *ingest_schema_id(const ingest_schema *s);
uint32_t ingest_schema_version(const ingest_schema *s);
const char *ingest_schema_topic(const ingest_schema *s);
/* "json", "msgpack", "senml", "ttn-v3" or "sensor.community". */
const char *ingest_schema_format(const ingest_schema *s);
/* true for formats whose messages name their own fields (senml,
 * sensor.community): their outputs carry names (ingest_output.nnames > 0). */
bool ingest_schema_named(const ingest_schema *s);

/*
 * The schema's fields: its measurements, or for message-named formats the
 * distinct fields its "names" map leads to (possibly none). Strings are
 * borrowed from the schema.
 */
typedef struct ingest_field_info {
  const char *name;
  const char *unit; /* NULL when none */
  double precision; /* 0 when not given */
  double scale;     /* 1 when not given */
} ingest_field_info;
size_t ingest_schema_nfields(const ingest_schema *s);
const char *ingest_schema_field(const ingest_schema *s, size_t i);
/* Returns false when i is out of range. */
bool ingest_schema_field_info(const ingest_schema *s, size_t i, ingest_field_info *info);

ingest_dup_policy ingest_schema_duplicates(const ingest_schema *s);
/* The rollup tiers (ascending, ms); returns their number (<= INGEST_MAX_TIERS). */
size_t ingest_schema_tiers(const ingest_schema *s, const int64_t **tiers_ms);
/* How long data of a tier is kept: tier_ms 0 is the raw points. Returns 0 for
 * "forever" (also when nothing was said), -1 when tier_ms is not a tier of
 * the schema. */
int64_t ingest_schema_retention_ms(const ingest_schema *s, int64_t tier_ms);

/* The engine class of the series this schema produces (borrowed). For a
 * message-named format the class's fields are its map's fields (or one
 * placeholder field "*" when it maps nothing): its messages always carry
 * their own names. Duplicates "reject" is stored as TSDB_DUP_FIRST. The
 * class carries the retention. */
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
/* The same, giving the schema's index in the set (for per-schema counters)
 * through *index when a schema matches. */
const ingest_schema *ingest_schema_set_route_index(const ingest_schema_set *set, const char *topic,
                                                   size_t topic_len, size_t *index);
const ingest_schema *ingest_schema_set_route(const ingest_schema_set *set, const char *topic,
                                             size_t topic_len);

/*
 * What one message produced. The caller provides every buffer (nothing is
 * allocated per message) and initialises it with ingest_output_init();
 * ingest_schema_process() fills the counters.
 *
 *   points[0..npoints)   the points; point.field indexes the schema class's
 *                        fields when nnames is 0, else names[]/units[];
 *   names[0..nnames)     field names carried by the message (message-named
 *                        formats only), NUL-terminated, each used by at
 *                        least one point; units[i] is the unit of names[i]
 *                        or NULL. They point into text[] or into the
 *                        schema, so they are valid until the buffers are
 *                        reused or the schema is freed, whichever is first:
 *                        exactly what tsdb_ingest_msg needs (it copies).
 *
 * When a buffer is too small the message is refused with INGEST_ETOOBIG (a
 * message is stored whole or not at all). Sizes that fit every shipped
 * schema: INGEST_OUTPUT_POINTS, INGEST_OUTPUT_NAMES, INGEST_OUTPUT_TEXT.
 */
#define INGEST_OUTPUT_POINTS INGEST_MAX_MEASUREMENTS
#define INGEST_OUTPUT_NAMES 256
#define INGEST_OUTPUT_TEXT 8192

typedef struct ingest_output {
  tsdb_point *points;
  size_t points_cap, npoints;
  const char **names;
  const char **units;
  size_t names_cap, nnames;
  char *text;
  size_t text_cap, text_len;
} ingest_output;

/* names/units/text may be NULL (with 0 capacities) for fixed-field formats. */
void ingest_output_init(ingest_output *out, tsdb_point *points, size_t points_cap,
                        const char **names, const char **units, size_t names_cap, char *text,
                        size_t text_cap);

/*
 * Decodes, validates and extracts one message that arrived on topic (may be
 * NULL when unknown: then the id checks against topic levels are skipped) at
 * arrival_ms (ms since the epoch: the time of records without their own, the
 * base of SenML relative times, and the reference of max_future/max_past).
 *
 * Returns 0 with out filled (npoints may be 0: e.g. a SenML pack of strings
 * only, or an ignored simulated TTN uplink), or with err filled:
 *   INGEST_EDECODE     not the format (bad JSON/MessagePack, an invalid SenML
 *                      pack, not a TTN uplink, a value that is not a decimal);
 *   INGEST_EVALIDATE   the JSON Schema or the mapping refused it;
 *   INGEST_ETIMESTAMP  missing, malformed, too far in the future or past;
 *   INGEST_ETOOBIG     more points, names or name text than out can hold.
 * err->pointer is always from the root of the message as published.
 * Reentrant; allocates only inside the payload parser.
 */
int ingest_schema_process(const ingest_schema *s, const char *topic, size_t topic_len,
                          const void *payload, size_t len, int64_t arrival_ms, ingest_output *out,
                          ingest_error *err);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_SCHEMA_H */
