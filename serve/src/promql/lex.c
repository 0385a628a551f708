/*
 * The PromQL lexer (prometheus promql/parser/lex.go as the reference for
 * what a token is). It is on demand: the parser asks for one token at a
 * time and says whether it is inside [...], where a colon separates a
 * subquery's range from its step instead of being part of a metric name.
 * Keywords are not told apart here: they are identifiers, and the parser
 * reads them case-insensitively where a keyword may stand, which is what
 * the lexer's keyword table gives in Prometheus.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql_internal.h"

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static bool is_hex(int c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int hex_val(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

/* Length of a valid UTF-8 sequence at s (RFC 3629 section 4), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  if (s[0] < 0x80) return 1;
  size_t k;
  uint32_t cp;
  if ((s[0] & 0xe0) == 0xc0)
    k = 2, cp = s[0] & 0x1fu;
  else if ((s[0] & 0xf0) == 0xe0)
    k = 3, cp = s[0] & 0x0fu;
  else if ((s[0] & 0xf8) == 0xf0)
    k = 4, cp = s[0] & 0x07u;
  else
    return 0;
  if (k > n) return 0;
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3fu);
  }
  if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return k;
}

static void set_error(tsdb_promql_lexer *lx, tsdb_promql_token *t, size_t pos, const char *msg) {
  t->type = TOK_ERROR;
  t->pos = pos;
  t->len = lx->len - pos;
  t->errmsg = msg;
}

/* A duration: one or more (digits unit), units ms s m h d w y. Returns the
 * length matched, 0 if the text there is not that shape. */
static size_t scan_duration(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && is_digit(s[i])) {
    while (i < n && is_digit(s[i])) i++;
    if (i < n && s[i] == 'm' && i + 1 < n && s[i + 1] == 's')
      i += 2;
    else if (i < n && strchr("smhdwy", s[i]) && s[i])
      i++;
    else
      return 0;
  }
  return i;
}

static void lex_number(tsdb_promql_lexer *lx, tsdb_promql_token *t) {
  const char *s = lx->text + lx->pos;
  size_t n = lx->len - lx->pos, i = 0;
  size_t d = scan_duration(s, n);
  if (d > 0 && (d == n || !is_alnum(s[d]))) {
    t->type = TOK_DURATION;
    t->len = d;
    lx->pos += d;
    return;
  }
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    i = 2;
    while (i < n && is_hex(s[i])) i++;
  } else {
    while (i < n && is_digit(s[i])) i++;
    if (i < n && s[i] == '.') {
      i++;
      while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
      i++;
      if (i < n && (s[i] == '+' || s[i] == '-')) i++;
      while (i < n && is_digit(s[i])) i++;
    }
  }
  /* lex.go: a number must not run into a name ("bad number or duration syntax"). */
  if (i < n && (is_alnum(s[i]) || s[i] == '.')) {
    size_t j = i;
    while (j < n && (is_alnum(s[j]) || s[j] == '.')) j++;
    snprintf(lx->errbuf, sizeof lx->errbuf, "bad number or duration syntax: \"%.*s\"",
             (int)(j > 40 ? 40 : j), s);
    set_error(lx, t, lx->pos, lx->errbuf);
    return;
  }
  t->type = TOK_NUMBER;
  t->len = i;
  lx->pos += i;
}

static void lex_string(tsdb_promql_lexer *lx, tsdb_promql_token *t) {
  const char *s = lx->text;
  char q = s[lx->pos];
  size_t i = lx->pos + 1;
  while (i < lx->len) {
    char c = s[i];
    if (c == q) {
      t->type = TOK_STRING;
      t->len = i + 1 - lx->pos;
      lx->pos = i + 1;
      return;
    }
    if (c == '\\' && q != '`') {
      if (i + 1 >= lx->len) break;
      i += 2; /* the escape's meaning is checked by unquote */
      continue;
    }
    if (c == '\n' && q != '`') break;
    size_t k = utf8_len((const unsigned char *)s + i, lx->len - i);
    if (k == 0) {
      set_error(lx, t, i, "invalid UTF-8 rune");
      return;
    }
    i += k;
  }
  set_error(lx, t, lx->pos, q == '`' ? "unterminated raw string" : "unterminated quoted string");
}

void tsdb_promql_lex__next(tsdb_promql_lexer *lx, tsdb_promql_token *t) {
  const char *s = lx->text;
  t->errmsg = NULL;
  for (;;) {
    while (lx->pos < lx->len && strchr(" \t\n\r", s[lx->pos]) && s[lx->pos]) lx->pos++;
    if (lx->pos < lx->len && s[lx->pos] == '#') { /* a comment, to the end of the line */
      while (lx->pos < lx->len && s[lx->pos] != '\n') lx->pos++;
      continue;
    }
    break;
  }
  t->pos = lx->pos;
  t->len = 1;
  if (lx->pos >= lx->len) {
    t->type = TOK_EOF;
    t->len = 0;
    return;
  }
  char c = s[lx->pos], c1 = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';
  if (is_digit(c) || (c == '.' && is_digit(c1))) {
    lex_number(lx, t);
    return;
  }
  if (is_alpha(c) || (c == ':' && !lx->in_brackets)) {
    size_t i = lx->pos;
    bool colon = false;
    while (i < lx->len && (is_alnum(s[i]) || (s[i] == ':' && !lx->in_brackets))) {
      if (s[i] == ':') colon = true;
      i++;
    }
    t->type = colon ? TOK_METRIC_IDENT : TOK_IDENT;
    t->len = i - lx->pos;
    lx->pos = i;
    return;
  }
  if (c == '"' || c == '\'' || c == '`') {
    lex_string(lx, t);
    return;
  }
  tsdb_promql_tok two = TOK_EOF;
  switch (c) {
  case '=':
    two = c1 == '=' ? TOK_EQLC : c1 == '~' ? TOK_EQL_REGEX : TOK_EOF;
    t->type = TOK_ASSIGN;
    break;
  case '!':
    two = c1 == '=' ? TOK_NEQ : c1 == '~' ? TOK_NEQ_REGEX : TOK_EOF;
    if (two == TOK_EOF) {
      snprintf(lx->errbuf, sizeof lx->errbuf, "unexpected character after '!': '%c'", c1);
      set_error(lx, t, lx->pos, c1 ? lx->errbuf : "unexpected end of input after '!'");
      return;
    }
    break;
  case '<':
    two = c1 == '=' ? TOK_LTE : TOK_EOF;
    t->type = TOK_LSS;
    break;
  case '>':
    two = c1 == '=' ? TOK_GTE : TOK_EOF;
    t->type = TOK_GTR;
    break;
  case '(':
    t->type = TOK_LPAREN;
    break;
  case ')':
    t->type = TOK_RPAREN;
    break;
  case '{':
    t->type = TOK_LBRACE;
    break;
  case '}':
    t->type = TOK_RBRACE;
    break;
  case '[':
    t->type = TOK_LBRACKET;
    break;
  case ']':
    t->type = TOK_RBRACKET;
    break;
  case ',':
    t->type = TOK_COMMA;
    break;
  case ':':
    t->type = TOK_COLON;
    break;
  case '@':
    t->type = TOK_AT;
    break;
  case '+':
    t->type = TOK_ADD;
    break;
  case '-':
    t->type = TOK_SUB;
    break;
  case '*':
    t->type = TOK_MUL;
    break;
  case '/':
    t->type = TOK_DIV;
    break;
  case '%':
    t->type = TOK_MOD;
    break;
  case '^':
    t->type = TOK_POW;
    break;
  default: {
    size_t k = utf8_len((const unsigned char *)s + lx->pos, lx->len - lx->pos);
    if (k == 0) {
      set_error(lx, t, lx->pos, "invalid UTF-8 rune");
    } else if ((unsigned char)c < 0x20 || c == 0x7f) {
      snprintf(lx->errbuf, sizeof lx->errbuf, "unexpected character: '\\x%02x'", (unsigned)c);
      set_error(lx, t, lx->pos, lx->errbuf);
    } else {
      snprintf(lx->errbuf, sizeof lx->errbuf, "unexpected character: '%.*s'", (int)k, s + lx->pos);
      set_error(lx, t, lx->pos, lx->errbuf);
    }
    return;
  }
  }
  if (two != TOK_EOF) {
    t->type = two;
    t->len = 2;
  }
  lx->pos += t->len;
}

static void put_utf8(char *o, size_t *n, uint32_t cp) {
  if (cp < 0x80) {
    o[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    o[(*n)++] = (char)(0xc0 | cp >> 6);
    o[(*n)++] = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    o[(*n)++] = (char)(0xe0 | cp >> 12);
    o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[(*n)++] = (char)(0x80 | (cp & 0x3f));
  } else {
    o[(*n)++] = (char)(0xf0 | cp >> 18);
    o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[(*n)++] = (char)(0x80 | (cp & 0x3f));
  }
}

/* Go's string escapes (strconv.Unquote, as lex.go's lexEscape accepts
 * them): \a \b \f \n \r \t \v \\ and the quote, \NNN octal (at most 255),
 * \xHH, \uHHHH, \UHHHHHHHH (a Unicode scalar value). A raw `string` has
 * none. The value is never longer than the quoted text. */
bool tsdb_promql_lex__unquote(tsdb_promql_query *q, const char *tok, size_t len,
                              tsdb_promql_str *out, char *msg, size_t msglen) {
  char quote = tok[0];
  char *o = tsdb_promql_ast__alloc(q, len + 1);
  size_t n = 0;
  if (!o) {
    snprintf(msg, msglen, "out of memory");
    return false;
  }
  for (size_t i = 1; i + 1 < len; i++) {
    char c = tok[i];
    if (c != '\\' || quote == '`') {
      o[n++] = c;
      continue;
    }
    char e = tok[++i];
    const char *simple = strchr("abfnrtv\\", e);
    if (e && simple) {
      o[n++] = "\a\b\f\n\r\t\v\\"[simple - "abfnrtv\\"];
    } else if (e == quote) {
      o[n++] = e;
    } else if (e >= '0' && e <= '7') {
      unsigned v = 0;
      for (int k = 0; k < 3; k++, i++) {
        if (i + 1 >= len || tok[i] < '0' || tok[i] > '7') {
          snprintf(msg, msglen, "invalid syntax: octal escape needs 3 digits");
          return false;
        }
        v = v * 8 + (unsigned)(tok[i] - '0');
      }
      i--;
      if (v > 255) {
        snprintf(msg, msglen, "octal escape value > 255: %u", v);
        return false;
      }
      o[n++] = (char)v;
    } else if (e == 'x' || e == 'u' || e == 'U') {
      int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      uint32_t v = 0;
      for (int k = 0; k < digits; k++) {
        if (i + 1 + 1 >= len || !is_hex(tok[i + 1])) {
          snprintf(msg, msglen, "invalid syntax: \\%c escape needs %d hex digits", e, digits);
          return false;
        }
        v = v * 16 + (uint32_t)hex_val(tok[++i]);
      }
      if (e == 'x') {
        o[n++] = (char)v;
      } else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        snprintf(msg, msglen, "escape sequence is an invalid Unicode code point");
        return false;
      } else {
        put_utf8(o, &n, v);
      }
    } else {
      snprintf(msg, msglen, "unknown escape sequence '\\%c'", e);
      return false;
    }
  }
  o[n] = '\0';
  out->s = o;
  out->len = n;
  return true;
}

bool tsdb_promql_lex__number(const char *tok, size_t len, double *out) {
  char buf[512];
  if (len >= sizeof buf) {
    /* Only decimal digits can be this long; strtod reads them all. */
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, tok, len);
    copy[len] = '\0';
    char *end;
    *out = strtod(copy, &end);
    bool ok = *end == '\0' && !isinf(*out);
    free(copy);
    return ok;
  }
  memcpy(buf, tok, len);
  buf[len] = '\0';
  if ((len > 3 && !strncasecmp(buf, "inf", 3)) || (len > 3 && !strncasecmp(buf, "nan", 3)))
    return false;
  if (!strcasecmp(buf, "inf")) {
    *out = INFINITY;
    return true;
  }
  if (!strcasecmp(buf, "nan")) {
    *out = NAN;
    return true;
  }
  char *end;
  errno = 0;
  if (len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
    /* ParseInt(s, 0, 64): hexadecimal, at most int64's range. */
    long long v = strtoll(buf, &end, 16);
    if (*end || errno) return false;
    *out = (double)v;
    return true;
  }
  if (len > 1 && buf[0] == '0' && strspn(buf, "01234567") == len) {
    /* ParseInt(s, 0, 64) reads a leading 0 as octal: 010 is 8 (Go's rule). */
    long long v = strtoll(buf, &end, 8);
    if (!*end && !errno) {
      *out = (double)v;
      return true;
    }
  }
  errno = 0;
  *out = strtod(buf, &end);
  /* ParseFloat: an overflowing literal is an error, an underflow is not. */
  return *end == '\0' && !(errno == ERANGE && isinf(*out));
}

const tsdb_promql_duration_unit tsdb_promql_lex__duration_units[TSDB_PROMQL_DURATION_UNITS] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1}};

bool tsdb_promql_lex__duration(const char *tok, size_t len, bool number, int64_t *ms, char *msg,
                               size_t msglen) {
  const tsdb_promql_duration_unit *units = tsdb_promql_lex__duration_units;
  if (number) {
    /* Prometheus 3 reads a plain number where a duration stands as seconds. */
    double v;
    if (!tsdb_promql_lex__number(tok, len, &v) || !(fabs(v * 1000.0) < 9.2e18)) {
      snprintf(msg, msglen, "not a valid duration string: \"%.*s\"", (int)(len > 60 ? 60 : len),
               tok);
      return false;
    }
    *ms = (int64_t)llround(v * 1000.0);
    return true;
  }
  int64_t total = 0;
  size_t i = 0, next_unit = 0;
  while (i < len) {
    int64_t v = 0;
    bool over = false;
    while (i < len && is_digit(tok[i])) {
      if (v > (INT64_MAX - 9) / 10)
        over = true;
      else
        v = v * 10 + (tok[i] - '0');
      i++;
    }
    size_t u = 0, ulen = (i + 1 < len && tok[i] == 'm' && tok[i + 1] == 's') ? 2 : 1;
    for (u = 0; u < TSDB_PROMQL_DURATION_UNITS; u++)
      if (strlen(units[u].unit) == ulen && !strncmp(units[u].unit, tok + i, ulen)) break;
    if (u < next_unit || u == TSDB_PROMQL_DURATION_UNITS) {
      snprintf(msg, msglen, "not a valid duration string: \"%.*s\"", (int)(len > 60 ? 60 : len),
               tok);
      return false;
    }
    next_unit = u + 1;
    i += ulen;
    if (over || v > INT64_MAX / units[u].ms || total > INT64_MAX - v * units[u].ms) {
      snprintf(msg, msglen, "duration out of range");
      return false;
    }
    total += v * units[u].ms;
  }
  *ms = total;
  return true;
}
