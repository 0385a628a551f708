/*
 * Ingest error codes and the validation error record.
 *
 * Functions return 0 or a negative INGEST_E* code from one X-macro table. A
 * refused message is described by an ingest_error: a fixed-size struct that
 * needs no allocation, filled by the decoder or the validator, and turned into
 * the error record a publisher receives ($tsdb/errors/<client id>).
 */
#ifndef INGEST_ERROR_H
#define INGEST_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The reason a message or a schema was refused. The short name doubles as the
 * per-reason counter name, so keep names stable. */
#define INGEST_ERRNO_MAP(XX)                                                 \
  XX(NOMEM, "nomem", "out of memory")                                        \
  XX(INVAL, "inval", "invalid argument")                                     \
  XX(DECODE, "decode", "payload cannot be decoded")                          \
  XX(VALIDATE, "validate", "payload does not match its schema")              \
  XX(TIMESTAMP, "timestamp", "timestamp missing, malformed or out of range") \
  XX(NOROUTE, "noroute", "no schema matches the topic")                      \
  XX(TOOBIG, "toobig", "too many points or values too large")                \
  XX(SCHEMA, "schema", "schema cannot be loaded")                            \
  XX(UNSUPPORTED, "unsupported", "schema keyword not supported")             \
  XX(IO, "io", "cannot read file")

typedef enum ingest_errno {
  INGEST_OK = 0,
#define INGEST_ERRNO_ENUM_(name, short_name, msg) INGEST_E##name,
  INGEST_ERRNO_FIRST_ = -2000,
  INGEST_ERRNO_MAP(INGEST_ERRNO_ENUM_)
#undef INGEST_ERRNO_ENUM_
      INGEST_ERRNO_END_
} ingest_errno;

/* Text for an error code ("payload does not match its schema"). Never NULL. */
const char *ingest_strerror(int err);
/* Stable short name ("validate"), used for per-reason counters. Never NULL. */
const char *ingest_err_short(int err);

/*
 * What exactly was wrong. Every string is NUL-terminated and truncated to
 * fit (values longer than the field end in "..."). Unused fields are "".
 */
typedef struct ingest_error {
  int code;          /* INGEST_E* */
  char keyword[32];  /* the schema keyword that failed: "maximum", "required", "type", ... */
  char pointer[192]; /* RFC 6901 JSON pointer of the offending value in the message ("/pm25") */
  char schema_path
      [192]; /* RFC 6901 pointer of the keyword in the schema ("/properties/pm25/maximum") */
  char expected[96]; /* what the schema wanted ("<= 1000", "number", "one of [\"a\",\"b\"]") */
  char actual[96];   /* what the message had, truncated ("1200.5", "\"abc\"", "string") */
  char message[256]; /* one readable sentence */
} ingest_error;

/* Resets every field to "" and code to 0. */
void ingest_error_clear(ingest_error *err);

/* The same in effect for a struct about to be handed to the ingest path:
 * every member an empty string, without writing all ~900 bytes (the broker
 * thread does it for every message). */
static inline void ingest_error_empty(ingest_error *err) {
  err->code = 0;
  err->keyword[0] = err->pointer[0] = err->schema_path[0] = '\0';
  err->expected[0] = err->actual[0] = err->message[0] = '\0';
}

/* Fills err (code, keyword, pointer, message from fmt) after clearing it,
 * so that the members the caller does not set next stay empty. Returns code. */
int ingest_error_set(ingest_error *err, int code, const char *keyword, const char *pointer,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * The error record a refused publisher receives on $tsdb/errors/<client id>:
 * one JSON object (RFC 8259), members always in this order:
 *
 *   {"schema":"air-quality","version":1,"topic":"city/mitte/s17/air",
 *    "client":"s17","reason":"validate","keyword":"minimum","pointer":"/pm10",
 *    "schema_path":"/properties/pm10/minimum","expected":">= 0","actual":"-3",
 *    "message":"/pm10: -3 is less than the minimum 0",
 *    "time":"2026-11-26T09:15:00.123Z","time_ms":1795684500123}
 *
 * "schema" and "version" are null when no schema applied (an unmatched or
 * reserved topic); "client" is left out when unknown. "reason" is the
 * stable short name of the code ("decode", "validate", "timestamp",
 * "toobig", ...) unless the context names another one (the plugin's own
 * reasons, e.g. "queue_full"). Every string is valid UTF-8 (invalid bytes
 * become U+FFFD) and is cut at a character boundary, ending in "...", when
 * it is longer than its share of the record (the topic 1024 bytes, the
 * message 768, the others less), so a record never exceeds
 * INGEST_ERROR_RECORD_MAX bytes.
 */
#define INGEST_ERROR_RECORD_MAX 4096

typedef struct ingest_error_context {
  const char *schema_id; /* NULL: no schema applied */
  uint32_t schema_version;
  const char *topic; /* the topic the message was published on; may be NULL */
  size_t topic_len;
  const char *client_id; /* NULL: member left out */
  const char *reason;    /* NULL: ingest_err_short(err->code) */
  int64_t time_ms;       /* when the message was refused, ms since the epoch */
} ingest_error_context;

/*
 * Writes the record for err (may be NULL when only a reason applies) into
 * buf, NUL-terminated. Allocates nothing, keeps no state: reentrant.
 * Returns its length (without the NUL), or INGEST_ETOOBIG (buf holds "" when
 * len > 0) when it does not fit; len >= INGEST_ERROR_RECORD_MAX always fits.
 */
int ingest_error_record_json(const ingest_error *err, const ingest_error_context *ctx, char *buf,
                             size_t len);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_ERROR_H */
