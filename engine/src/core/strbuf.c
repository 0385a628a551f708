#include "strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tsdb_strbuf__init(tsdb_strbuf *sb) { memset(sb, 0, sizeof *sb); }

void tsdb_strbuf__free(tsdb_strbuf *sb) {
  free(sb->data);
  memset(sb, 0, sizeof *sb);
}

char *tsdb_strbuf__take(tsdb_strbuf *sb, size_t *len) {
  char *d = sb->data;
  if (len) *len = sb->len;
  memset(sb, 0, sizeof *sb);
  return d;
}

bool tsdb_strbuf__failed(const tsdb_strbuf *sb) { return sb->failed; }

static bool reserve(tsdb_strbuf *sb, size_t extra) {
  if (sb->failed) return false;
  if (sb->len + extra < sb->cap) return true;
  size_t cap = sb->cap ? sb->cap : 256;
  while (cap <= sb->len + extra) {
    if (cap > SIZE_MAX / 2) {
      sb->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *d = realloc(sb->data, cap);
  if (!d) {
    sb->failed = true;
    return false;
  }
  sb->data = d;
  sb->cap = cap;
  return true;
}

void tsdb_strbuf__append(tsdb_strbuf *sb, const void *data, size_t len) {
  if (!reserve(sb, len)) return;
  if (len) memcpy(sb->data + sb->len, data, len); /* data may be NULL when len is 0 (C11 7.24.1) */
  sb->len += len;
  sb->data[sb->len] = '\0';
}

void tsdb_strbuf__puts(tsdb_strbuf *sb, const char *s) { tsdb_strbuf__append(sb, s, strlen(s)); }

void tsdb_strbuf__putc(tsdb_strbuf *sb, char c) {
  if (!reserve(sb, 1)) return;
  sb->data[sb->len++] = c;
  sb->data[sb->len] = '\0';
}

void tsdb_strbuf__printf(tsdb_strbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(sb, (size_t)n + 1)) return;
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

/* The length of the valid UTF-8 sequence at s (RFC 3629 section 4: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

bool tsdb_utf8_valid(const char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    if ((unsigned char)s[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq((const unsigned char *)s + i, len - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void tsdb_strbuf__json_string(tsdb_strbuf *sb, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  tsdb_strbuf__putc(sb, '"');
  size_t run = 0; /* start of the pending run of bytes that need no escape */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      size_t n = utf8_seq((const unsigned char *)s + i, len - i);
      if (n) {
        i += n - 1;
        continue;
      }
      tsdb_strbuf__append(sb, s + run, i - run);
      run = i + 1;
      tsdb_strbuf__puts(sb, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    tsdb_strbuf__append(sb, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"':
      tsdb_strbuf__puts(sb, "\\\"");
      break;
    case '\\':
      tsdb_strbuf__puts(sb, "\\\\");
      break;
    case '\n':
      tsdb_strbuf__puts(sb, "\\n");
      break;
    case '\r':
      tsdb_strbuf__puts(sb, "\\r");
      break;
    case '\t':
      tsdb_strbuf__puts(sb, "\\t");
      break;
    default: {
      char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
      tsdb_strbuf__append(sb, esc, 6);
    }
    }
  }
  tsdb_strbuf__append(sb, s + run, len - run);
  tsdb_strbuf__putc(sb, '"');
}

void tsdb_strbuf__json_double(tsdb_strbuf *sb, double v) {
  if (!isfinite(v)) {
    tsdb_strbuf__puts(sb, "null");
    return;
  }
  char buf[32];
  tsdb_format_double(v, buf, sizeof buf);
  tsdb_strbuf__puts(sb, buf);
}

void tsdb_strbuf__json_int(tsdb_strbuf *sb, int64_t v) {
  char digits[24];
  size_t n = 0;
  /* Magnitude as unsigned, so that INT64_MIN has one too. */
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[sizeof digits - ++n] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) digits[sizeof digits - ++n] = '-';
  tsdb_strbuf__append(sb, digits + sizeof digits - n, n);
}

bool tsdb_json_plain(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
  }
  return true;
}
