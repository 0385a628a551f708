/*
 * Regex matchers. Prometheus compiles a matcher's value with Go's regexp
 * (RE2 syntax, https://github.com/google/re2/wiki/Syntax) fully anchored
 * and with `.` matching a newline (model/labels/regexp.go: "^(?s:" re ")$").
 * Debian 12 offers RE2 only for C++, so the matching is PCRE2's (Perl
 * syntax, a superset of most of RE2): the pattern is first read against
 * RE2's syntax and refused where PCRE2 would accept what Go refuses or mean
 * something else: backreferences, lookaround, atomic groups, possessive
 * quantifiers, recursion, conditionals, backtracking verbs, callouts, \K,
 * \G, \Z and the other Perl-only escapes, and repeat counts over 1000
 * (RE2's bound). Anchoring is by PCRE2_ANCHORED | PCRE2_ENDANCHORED on the
 * pattern as written, never by wrapping it in text (so "a)|(b" stays the
 * error it is in Go). PCRE2_DOTALL gives Go's (?s); PCRE2_UTF without UCP
 * gives RE2's ASCII-only \d \w \s \b. Known differences that remain are in
 * docs/promql.md.
 *
 * PCRE2 backtracks where RE2 is linear: a match is bounded by a match limit
 * and a depth limit, and a pattern that reaches them does not match (Go
 * would have answered; such a pattern is pathological for any label value
 * we store).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql_internal.h"

#define RE_MATCH_LIMIT 1000000u
#define RE_DEPTH_LIMIT 10000u
#define RE2_MAX_REPEAT 1000

struct tsdb_promql_regex {
  pcre2_code *code;
  pcre2_match_context *mctx;
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* RE2 syntax that PCRE2 reads differently or that RE2 refuses. NULL when
 * the pattern is within RE2's syntax as far as PCRE2 can tell. */
static const char *re2_refusal(const char *re, size_t len, char *buf, size_t buflen) {
  bool in_class = false, quoted = false, after_quant = false;
  for (size_t i = 0; i < len; i++) {
    char c = re[i];
    bool quant = false;
    if (quoted) { /* \Q...\E is literal in both */
      if (c == '\\' && i + 1 < len && re[i + 1] == 'E') quoted = false, i++;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= len) return "trailing backslash at end of expression";
      char e = re[++i];
      if (e >= '1' && e <= '9') return "backreferences (\\1 ...) are not supported (RE2 syntax)";
      if (e == 'Q') {
        quoted = true;
      } else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
        /* RE2's escapes: \a \f \t \n \r \v \x \d \D \s \S \w \W \p \P \b \B
         * \A \z \C \Q \E; every other letter is an error in Go. */
        if (!strchr("aftnrvxdDsSwWpPbBAzCE", e)) {
          snprintf(buf, buflen, "invalid escape sequence: \\%c (RE2 syntax)", e);
          return buf;
        }
      }
      after_quant = false;
      continue;
    }
    if (in_class) {
      if (c == ']')
        in_class = false;
      else if (c == '[' && i + 1 < len && re[i + 1] == ':') {
        const char *end = memchr(re + i + 2, ']', len - i - 2);
        if (end && end[-1] == ':') i = (size_t)(end - re);
      }
      continue;
    }
    switch (c) {
    case '[':
      in_class = true;
      if (i + 1 < len && re[i + 1] == '^') i++;
      if (i + 1 < len && re[i + 1] == ']') i++; /* a leading ] is literal */
      break;
    case '(':
      if (i + 1 < len && re[i + 1] == '*') return "backtracking verbs (*...) are not supported";
      if (i + 1 < len && re[i + 1] == '?') {
        char g = i + 2 < len ? re[i + 2] : '\0';
        if (g == ':' || (g == 'P' && i + 3 < len && re[i + 3] == '<') ||
            (g == '<' && i + 3 < len && re[i + 3] != '=' && re[i + 3] != '!'))
          break; /* non-capturing and named groups */
        if (strchr("imsU-", g) && g) {
          size_t j = i + 2;
          while (j < len && strchr("imsU-", re[j]) && re[j]) j++;
          if (j < len && (re[j] == ')' || re[j] == ':')) break; /* flags */
        }
        if (g == '=' || g == '!' || (g == '<' && i + 3 < len))
          return "lookaround assertions are not supported (RE2 syntax)";
        if (g == '>') return "atomic groups are not supported (RE2 syntax)";
        if (g == '(') return "conditional groups are not supported (RE2 syntax)";
        snprintf(buf, buflen, "invalid or unsupported Perl syntax: (?%c (RE2 syntax)", g ? g : ' ');
        return buf;
      }
      break;
    case '*':
    case '+':
    case '?':
      if (after_quant) {
        if (c == '+') return "possessive quantifiers are not supported (RE2 syntax)";
        if (c != '?') return "invalid nested repetition operator";
      }
      quant = c != '?' || !after_quant;
      break;
    case '{': {
      size_t j = i + 1;
      long lo = 0, hi = -1;
      if (j >= len || !is_digit(re[j])) break; /* a literal brace, as in RE2 */
      for (; j < len && is_digit(re[j]); j++) lo = lo > 100000 ? lo : lo * 10 + (re[j] - '0');
      if (j < len && re[j] == ',') {
        j++;
        if (j < len && is_digit(re[j])) {
          hi = 0;
          for (; j < len && is_digit(re[j]); j++) hi = hi > 100000 ? hi : hi * 10 + (re[j] - '0');
        }
      }
      if (j >= len || re[j] != '}') break;
      if (lo > RE2_MAX_REPEAT || hi > RE2_MAX_REPEAT)
        return "invalid repeat count: more than 1000 (RE2's limit)";
      if (after_quant) return "invalid nested repetition operator";
      i = j;
      quant = true;
      break;
    }
    default:
      break;
    }
    after_quant = quant;
  }
  if (in_class) return "missing closing ]";
  return NULL;
}

int tsdb_promql_regex__compile(const char *re, size_t len, tsdb_promql_regex **out, char *msg,
                               size_t msglen) {
  char buf[96];
  *out = NULL;
  const char *why = re2_refusal(re, len, buf, sizeof buf);
  if (why) {
    snprintf(msg, msglen, "error parsing regexp: %s: `%.*s`", why, (int)(len > 40 ? 40 : len), re);
    return -1;
  }
  tsdb_promql_regex *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(msg, msglen, "out of memory");
    return -1;
  }
  int code;
  PCRE2_SIZE off;
  r->code = pcre2_compile(
      (PCRE2_SPTR)re, len,
      PCRE2_UTF | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_MATCH_INVALID_UTF,
      &code, &off, NULL);
  if (!r->code) {
    PCRE2_UCHAR text[120];
    pcre2_get_error_message(code, text, sizeof text);
    snprintf(msg, msglen, "error parsing regexp: %s at offset %zu: `%.*s`", (const char *)text,
             (size_t)off, (int)(len > 40 ? 40 : len), re);
    free(r);
    return -1;
  }
  r->mctx = pcre2_match_context_create(NULL);
  if (!r->mctx) {
    tsdb_promql_regex__free(r);
    snprintf(msg, msglen, "out of memory");
    return -1;
  }
  pcre2_set_match_limit(r->mctx, RE_MATCH_LIMIT);
  pcre2_set_depth_limit(r->mctx, RE_DEPTH_LIMIT);
  *out = r;
  return 0;
}

bool tsdb_promql_regex__match(const tsdb_promql_regex *re, const char *s, size_t len) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
  if (!md) return false;
  int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, re->mctx);
  pcre2_match_data_free(md);
  return rc >= 0;
}

void tsdb_promql_regex__free(tsdb_promql_regex *re) {
  if (!re) return;
  pcre2_match_context_free(re->mctx);
  pcre2_code_free(re->code);
  free(re);
}
