/*
 * A growable byte buffer for building JSON answers and topics off the broker
 * thread. Allocation failure is sticky: after one, every append is a no-op
 * and tsdb_strbuf__failed() is true, so builders check once at the end.
 */
#ifndef TSDB_STRBUF_H
#define TSDB_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb_strbuf {
  char *data; /* NUL-terminated while len < cap */
  size_t len;
  size_t cap;
  bool failed;
} tsdb_strbuf;

void tsdb_strbuf__init(tsdb_strbuf *sb);
void tsdb_strbuf__free(tsdb_strbuf *sb);
/* Detaches the buffer (caller frees with free()); sb is reset. */
char *tsdb_strbuf__take(tsdb_strbuf *sb, size_t *len);
bool tsdb_strbuf__failed(const tsdb_strbuf *sb);
void tsdb_strbuf__append(tsdb_strbuf *sb, const void *data, size_t len);
void tsdb_strbuf__puts(tsdb_strbuf *sb, const char *s);
void tsdb_strbuf__putc(tsdb_strbuf *sb, char c);
void tsdb_strbuf__printf(tsdb_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quoted and escaped (RFC 8259 section 7). JSON is
 * UTF-8 (section 8.1): a byte that is not part of a valid UTF-8 sequence
 * (a catalog read back from a damaged disk, a request's bytes) becomes
 * U+FFFD, so that the text is always valid JSON. */
void tsdb_strbuf__json_string(tsdb_strbuf *sb, const char *s, size_t len);
/* A JSON number in its shortest round-trip form; NaN and +-Inf become null
 * because JSON has no spelling for them (RFC 8259 section 6). */
void tsdb_strbuf__json_double(tsdb_strbuf *sb, double v);
void tsdb_strbuf__json_int(tsdb_strbuf *sb, int64_t v);
/* Whether s is printable ASCII that needs no escape inside a JSON string
 * (RFC 8259 section 7); other text goes through tsdb_strbuf__json_string(). */
bool tsdb_json_plain(const char *s, size_t len);

/* Whether s[0..len) is valid UTF-8 (RFC 3629 section 4). */
bool tsdb_utf8_valid(const char *s, size_t len);

/* The shortest text that reads back as the same double (dtoa.cc): plain
 * decimal from 1e-6 to 1e21, exponential ("1e+21") outside. */
void tsdb_format_double(double v, char *buf, size_t len);

#endif /* TSDB_STRBUF_H */
