/*
 * The error record of a refused message (format in ingest/error.h): JSON
 * text written into the caller's buffer, nothing allocated.
 *
 * Each string member has a budget of output bytes. A value whose escaped
 * form would not fit is cut at a character boundary and ends in "...", so
 * the record stays valid JSON and valid UTF-8 (RFC 8259 sections 7 and 8.1)
 * whatever bytes the message or its topic held, and the whole record always
 * fits INGEST_ERROR_RECORD_MAX.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ingest/error.h"
#include "jsonschema_internal.h"
#include "schema_internal.h"

typedef struct out {
  char *p;
  size_t cap, len;
  bool full;
} out;

static void put(out *o, const char *s, size_t n) {
  if (o->full || o->cap - o->len <= n) {
    o->full = true;
    return;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* One character of s (at most 4 bytes of UTF-8) escaped for a JSON string
 * into e; its input length in *used. Invalid bytes become U+FFFD. */
static size_t escape_one(const unsigned char *s, size_t n, char e[8], size_t *used) {
  unsigned char c = s[0];
  *used = 1;
  if (c == '"' || c == '\\') {
    e[0] = '\\';
    e[1] = (char)c;
    return 2;
  }
  if (c < 0x20) {
    static const char hex[] = "0123456789abcdef";
    if (c == '\n') return memcpy(e, "\\n", 2), 2;
    if (c == '\t') return memcpy(e, "\\t", 2), 2;
    if (c == '\r') return memcpy(e, "\\r", 2), 2;
    memcpy(e, "\\u00", 4);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 15];
    return 6;
  }
  if (c < 0x80) {
    e[0] = (char)c;
    return 1;
  }
  size_t k = ingest_jsonschema__utf8_seq(s, n);
  if (k == 0) {
    memcpy(e, "\xEF\xBF\xBD", 3);
    return 3;
  }
  memcpy(e, s, k);
  *used = k;
  return k;
}

/* "name":"value", the value's escaped form cut to budget bytes: written in
 * one pass, rewound to the last character that leaves room for "..." when
 * the whole does not fit. Runs of plain ASCII are copied at once. */
static void member(out *o, bool first, const char *name, const char *value, size_t len,
                   size_t budget) {
  if (!first) put(o, ",", 1);
  put(o, "\"", 1);
  puts_(o, name);
  put(o, "\":\"", 3);
  const unsigned char *s = (const unsigned char *)value;
  size_t spent = 0, cut = SIZE_MAX, i = 0;
  char e[8];
  while (i < len) {
    size_t run = i;
    while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') run++;
    if (run > i) {
      size_t n = run - i;
      if (spent + n <= budget - 3) { /* the common case: all of it fits */
        put(o, value + i, n);
        spent += n;
        i = run;
        continue;
      }
    }
    size_t used, k = escape_one(s + i, len - i, e, &used);
    if (cut == SIZE_MAX && spent + k > budget - 3) cut = o->len;
    if (spent + k > budget) {
      if (!o->full) {
        o->len = cut;
        o->p[cut] = '\0';
      }
      put(o, "...", 3);
      break;
    }
    put(o, e, k);
    spent += k;
    i += used;
  }
  put(o, "\"", 1);
}

int ingest_error_record_json(const ingest_error *err, const ingest_error_context *ctx, char *buf,
                             size_t len) {
  if (!buf || len == 0 || !ctx) return INGEST_ETOOBIG;
  buf[0] = '\0';
  out o = {buf, len, 0, false};
  char num[48];
  put(&o, "{", 1);
  if (ctx->schema_id) {
    member(&o, true, "schema", ctx->schema_id, strlen(ctx->schema_id), 128);
    snprintf(num, sizeof num, ",\"version\":%" PRIu32, ctx->schema_version);
    puts_(&o, num);
  } else {
    puts_(&o, "\"schema\":null,\"version\":null");
  }
  member(&o, false, "topic", ctx->topic ? ctx->topic : "", ctx->topic ? ctx->topic_len : 0, 1024);
  if (ctx->client_id) member(&o, false, "client", ctx->client_id, strlen(ctx->client_id), 256);
  const char *reason = ctx->reason ? ctx->reason : ingest_err_short(err ? err->code : 0);
  member(&o, false, "reason", reason, strlen(reason), 64);
  static const ingest_error none;
  const ingest_error *e = err ? err : &none;
  /* The fields are NUL-terminated within their arrays; strnlen guards a
   * caller that filled one by hand. */
  member(&o, false, "keyword", e->keyword, strnlen(e->keyword, sizeof e->keyword), 128);
  member(&o, false, "pointer", e->pointer, strnlen(e->pointer, sizeof e->pointer), 384);
  member(&o, false, "schema_path", e->schema_path, strnlen(e->schema_path, sizeof e->schema_path),
         384);
  member(&o, false, "expected", e->expected, strnlen(e->expected, sizeof e->expected), 256);
  member(&o, false, "actual", e->actual, strnlen(e->actual, sizeof e->actual), 256);
  member(&o, false, "message", e->message, strnlen(e->message, sizeof e->message), 768);
  char when[40];
  ingest_extract__format_time(ctx->time_ms, when, sizeof when);
  member(&o, false, "time", when, strlen(when), 40);
  snprintf(num, sizeof num, ",\"time_ms\":%" PRId64 "}", ctx->time_ms);
  puts_(&o, num);
  if (o.full) {
    buf[0] = '\0';
    return INGEST_ETOOBIG;
  }
  return (int)o.len;
}
