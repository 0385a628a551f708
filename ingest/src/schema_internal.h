/*
 * Inside the ingest library: the compiled schema, the decoder interface and
 * the helpers the decoders share. Nothing here is public.
 *
 * A message goes through schema.c's ingest_schema_process():
 *
 *   decoder->parse      bytes -> tree (cJSON or msgpack-c; their allocations
 *                       are the only ones of the whole path)
 *   decoder->extract    envelope checks, JSON Schema validation of the part
 *                       the format says, timestamp, points
 *   decoder->release    frees the tree
 *
 * Decoders are const tables of functions (decode.c lists them); each lives in
 * its own decode_<name>.c and knows nothing of the others.
 */
#ifndef INGEST_SCHEMA_INTERNAL_H
#define INGEST_SCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ingest/jsonschema.h"
#include "ingest/schema.h"
#include "ingest/value.h"
#include "tsdb/topic.h"

typedef enum { TS_NONE, TS_RFC3339, TS_EPOCH_S, TS_EPOCH_MS, TS_EPOCH_US } ingest_ts_format;
typedef enum { UNMAPPED_KEEP, UNMAPPED_IGNORE, UNMAPPED_REFUSE } ingest_unmapped;

/* One field: a measurement (pointer set) or a target of the names map. */
typedef struct ingest_field {
  char *name;
  char *unit;              /* NULL: none */
  double precision;        /* 0: not given */
  double scale;            /* 1: not given */
  ingest_pointer *pointer; /* measurements only */
  /* The member name when the pointer is one object member of the root
   * ("/pm10"), the common case: see root_fast. */
  const char *root_key;
  size_t root_key_len;
} ingest_field;

/* An entry of the names map or of the ignore list, sorted by key. */
typedef struct ingest_name_entry {
  char *key;
  size_t key_len;
  uint32_t field; /* index into fields (map entries only) */
} ingest_name_entry;

typedef struct ingest_decoder ingest_decoder;

struct ingest_schema {
  char *path;
  char *id;
  uint32_t version;
  char *topic;
  tsdb_topic_template *tpl;
  const ingest_decoder *decoder;
  ingest_jsonschema *validator;

  ingest_ts_format ts_fmt; /* TS_NONE: the format's own time */
  ingest_pointer *ts_pointer;
  int64_t max_future_ms;
  int64_t max_past_ms; /* 0: no bound */

  size_t nfields;
  ingest_field *fields;
  /* Every measurement is a root member and there are at most 64: they are
   * all found in one pass over the root's members instead of one member
   * lookup each. */
  bool root_fast;

  size_t nmap, nignore;
  ingest_name_entry *map, *ignore;
  ingest_unmapped unmapped;

  size_t ntiers;
  int64_t tiers_ms[INGEST_MAX_TIERS];
  int64_t retention_ms[INGEST_MAX_TIERS + 1]; /* [0] raw, [1 + i] tier i; 0 forever */
  ingest_dup_policy dup;
  int64_t block_span_ms;

  tsdb_series_class *cls;

  /* Options of the selected format, set by its decoder's configure(). */
  struct {
    bool name_unit; /* series "name+unit" */
    bool skip_booleans;
    bool skip_sums;
  } senml;
  struct {
    int simulated;           /* 0 ignore, 1 store, 2 refuse */
    int cap_device, cap_app; /* topic captures, -1 when the template has none */
  } ttn;
  struct {
    int cap_sensor;
  } sc;
};

/* A decoded payload. */
typedef struct ingest_doc {
  ingest_value root;
  void *json;          /* cJSON tree */
  msgpack_unpacked mp; /* msgpack-c zone and object */
} ingest_doc;

/* What a decoder knows of the message besides its bytes. */
typedef struct ingest_msg {
  const char *topic; /* NULL: unknown */
  size_t topic_len;
  int64_t arrival_ms;
} ingest_msg;

struct ingest_decoder {
  const char *name;
  /* Messages name their fields: x-tsdb takes "names", not "measurements". */
  bool named;
  /* "timestamp.pointer" may be used. */
  bool ts_pointer;
  int (*parse)(const void *payload, size_t len, ingest_doc *doc, ingest_error *err);
  void (*release)(ingest_doc *doc);
  /* Load time: reads the format's own x-tsdb member (a cJSON object, or NULL
   * when absent) into s. NULL when the format has no options. */
  int (*configure)(ingest_schema *s, const void *options, ingest_error *err);
  int (*extract)(const ingest_schema *s, const ingest_msg *m, ingest_value root, ingest_output *out,
                 ingest_error *err);
};

extern const ingest_decoder ingest_decode_json;
extern const ingest_decoder ingest_decode_msgpack;
extern const ingest_decoder ingest_decode_senml;
extern const ingest_decoder ingest_decode_ttn_v3;
extern const ingest_decoder ingest_decode_sensor_community;

/* decode.c: the decoder named name, or NULL. */
const ingest_decoder *ingest_decode__find(const char *name);
/* A comma-separated list of the format names, for error messages. */
const char *ingest_decode__names(void);

/* decode_json.c / decode_msgpack.c: the parsers, shared by the decoders
 * whose payload is JSON. */
int ingest_decode_json__parse(const void *payload, size_t len, ingest_doc *doc, ingest_error *err);
void ingest_decode_json__release(ingest_doc *doc);

/* members.c: every object of the decoded payload has unique member names
 * (RFC 8259 section 4); else INGEST_EDECODE, keyword "format", the object's
 * pointer and the name in err. O(n log n) in the members of an object. */
int ingest_members__unique(ingest_value root, ingest_error *err);
/* The refusal of a duplicate name[0..len) in the object at pointer. */
int ingest_members__refuse(const char *pointer, const char *name, size_t len, ingest_error *err);

/* mapping.c: x-tsdb at load time (everything except the JSON Schema). */
int ingest_mapping__load(ingest_schema *s, const void *x_tsdb, ingest_error *err);
void ingest_mapping__free(ingest_schema *s);
/* A load error naming the file and the x-tsdb member (where). */
int ingest_mapping__bad(ingest_error *err, const char *path, const char *where, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
/* The index of the topic template's capture named name, or -1. */
int ingest_mapping__capture(const ingest_schema *s, const char *name);
/* Parses a string member that must be one of choices (NULL-terminated);
 * absent leaves *out. */
int ingest_mapping__choice(const ingest_schema *s, const void *obj, const char *member,
                           const char *where, const char *const *choices, int *out,
                           ingest_error *err);
/* Every member of obj is one of allowed (NULL-terminated). */
int ingest_mapping__check_keys(const ingest_schema *s, const void *obj, const char *const *allowed,
                               const char *where, ingest_error *err);

/* extract.c: steps shared by the decoders. */

/* JSON Schema validation of doc; error pointers are prefixed with prefix
 * (where doc is inside the message, "" for the root). */
int ingest_extract__validate(const ingest_schema *s, ingest_value doc, const char *prefix,
                             ingest_error *err);
/* The time of the message: the "timestamp" pointer into doc when the schema
 * has one, else *fallback_ms (the format's own time, or arrival). Checks
 * the bounds either way. */
int ingest_extract__time(const ingest_schema *s, const ingest_msg *m, ingest_value doc,
                         const char *prefix, int64_t fallback_ms, int64_t *ts, ingest_error *err);
/* max_future/max_past for a time found at pointer (value v, for "actual"). */
int ingest_extract__check_time(const ingest_schema *s, const ingest_msg *m, int64_t ms,
                               const char *pointer, ingest_value v, ingest_error *err);
/* A timestamp value in the schema's format (rfc3339 string, or an epoch
 * number) to ms; false when malformed or out of range. */
bool ingest_extract__parse_time(ingest_ts_format fmt, ingest_value v, int64_t *ms);
/* Seconds (SenML, epoch_s: may be fractional) to ms: rounded to the
 * microsecond first (so 1276020076.001 is ...001 ms, not ...000.9999), then
 * truncated to the ms like RFC 3339 fractions. false when out of range. */
bool ingest_extract__seconds_to_ms(double seconds, int64_t *ms);
/* The measurements of a fixed-field schema, all at time ts. */
int ingest_extract__measurements(const ingest_schema *s, ingest_value doc, const char *prefix,
                                 int64_t ts, ingest_output *out, ingest_error *err);
/* The three steps above for a document that is the message itself (plain
 * JSON, MessagePack): validate, its time (else arrival), its measurements. */
int ingest_extract__document(const ingest_schema *s, const ingest_msg *m, ingest_value root,
                             ingest_output *out, ingest_error *err);
/* Applies a field's scale and checks the result is finite. */
bool ingest_extract__scaled(const ingest_field *f, double raw, double *out);
/* ms since the epoch as RFC 3339 UTC with milliseconds
 * ("2026-11-26T09:15:00.123Z"). */
void ingest_extract__format_time(int64_t ms, char *buf, size_t cap);
/* Prefixes err->pointer (and the pointer that starts err->message). */
void ingest_extract__prefix_pointer(ingest_error *err, const char *prefix);
/* The value rendered as compact JSON into err->actual. */
void ingest_extract__actual(ingest_error *err, ingest_value v);
/* Fills err->expected with printf-style text. */
void ingest_extract__expected(ingest_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* names.c: message-named fields (senml, sensor.community). */

typedef enum { NAME_STORE, NAME_IGNORE, NAME_REFUSE } ingest_name_action;
/* What the schema says about a name: map it (*field set), ignore it, keep it
 * (*field = UINT32_MAX) or refuse the message. */
ingest_name_action ingest_names__lookup(const ingest_schema *s, const char *name, size_t len,
                                        uint32_t *field);
/* RFC 8428 section 4.5.1 name characters: A-Z a-z 0-9 - : . / _, starting
 * with a letter or digit, 1..TSDB_MAX_NAME_LEN bytes. Kept names of every
 * format must pass (they become series names). */
bool ingest_names__valid(const char *name, size_t len);

/* output.c */

/* Appends a point; INGEST_ETOOBIG (err filled) when out is full. */
int ingest_output__point(ingest_output *out, int64_t ts, double value, uint32_t field,
                         ingest_error *err);
/*
 * The index in out->names of the name a.b (the concatenation of a[0..alen)
 * and b[0..blen), copied into out->text unless static_name, which must then
 * be a NUL-terminated string that outlives the output and equals a.b), with
 * unit (copied unless static_unit; NULL for none). When the name is already
 * there with another unit, returns INGEST_EVALIDATE and *idx the existing
 * entry without filling err: the caller reports the conflict.
 * INGEST_ETOOBIG (err filled) when names or text are full. Call it only for
 * a name that gets a point, so that every name is used.
 */
int ingest_output__name(ingest_output *out, const char *a, size_t alen, const char *b, size_t blen,
                        const char *static_name, const char *unit, size_t unit_len,
                        bool static_unit, uint32_t *idx, ingest_error *err);
#endif /* INGEST_SCHEMA_INTERNAL_H */
