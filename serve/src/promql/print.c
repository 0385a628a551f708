/*
 * Canonical PromQL text of a tree, in the layout of Prometheus' printer
 * (promql/parser/printer.go): `sum by (a) (x)`, `a + on (b) group_left (c) d`,
 * `x[5m] offset 1m @ 10.000`, durations as model.Duration.String() gives
 * them, strings double-quoted with Go's escapes. Parsing the text gives an
 * equal tree (the fuzz target checks it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql_internal.h"
#include "strbuf.h"

void tsdb_promql_print__duration(int64_t ms, char *buf, size_t len) {
  const tsdb_promql_duration_unit *units = tsdb_promql_lex__duration_units;
  size_t n = 0;
  if (ms == 0) {
    snprintf(buf, len, "0s");
    return;
  }
  uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
  if (ms < 0 && n + 1 < len) buf[n++] = '-';
  for (size_t i = 0; i < TSDB_PROMQL_DURATION_UNITS && n < len; i++) {
    uint64_t q = v / (uint64_t)units[i].ms;
    if (q == 0) continue;
    v -= q * (uint64_t)units[i].ms;
    int w = snprintf(buf + n, len - n, "%llu%s", (unsigned long long)q, units[i].unit);
    if (w > 0) n += (size_t)w;
  }
  if (n >= len) n = len - 1;
  buf[n] = '\0';
}

static void put_string(tsdb_strbuf *sb, tsdb_promql_str s) {
  tsdb_strbuf__putc(sb, '"');
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.s[i];
    const char *e = NULL;
    switch (c) {
    case '"':
      e = "\\\"";
      break;
    case '\\':
      e = "\\\\";
      break;
    case '\n':
      e = "\\n";
      break;
    case '\t':
      e = "\\t";
      break;
    case '\r':
      e = "\\r";
      break;
    default:
      break;
    }
    if (e) {
      tsdb_strbuf__puts(sb, e);
    } else if (c < 0x20 || c == 0x7f) {
      tsdb_strbuf__printf(sb, "\\x%02x", c);
    } else if (c < 0x80) {
      tsdb_strbuf__putc(sb, (char)c);
    } else {
      /* Valid UTF-8 as it is; any other byte as \xHH, which reads back as that byte. */
      size_t k = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
      bool ok = k > 0 && i + k <= s.len;
      for (size_t j = 1; ok && j < k; j++) ok = ((unsigned char)s.s[i + j] & 0xc0) == 0x80;
      if (ok) {
        uint32_t cp = c & (k == 2 ? 0x1fu : k == 3 ? 0x0fu : 0x07u);
        for (size_t j = 1; j < k; j++) cp = cp << 6 | ((unsigned char)s.s[i + j] & 0x3fu);
        ok = !((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
               cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff));
      }
      if (ok) {
        tsdb_strbuf__append(sb, s.s + i, k);
        i += k - 1;
      } else {
        tsdb_strbuf__printf(sb, "\\x%02x", c);
      }
    }
  }
  tsdb_strbuf__putc(sb, '"');
}

static void put_number(tsdb_strbuf *sb, double v) {
  char buf[40];
  if (isnan(v)) {
    tsdb_strbuf__puts(sb, "NaN");
  } else if (isinf(v)) {
    tsdb_strbuf__puts(sb, v < 0 ? "-Inf" : "Inf");
  } else {
    tsdb_format_double(v, buf, sizeof buf);
    tsdb_strbuf__puts(sb, buf);
  }
}

static void put_labels(tsdb_strbuf *sb, const tsdb_promql_str *l, size_t n) {
  tsdb_strbuf__putc(sb, '(');
  for (size_t i = 0; i < n; i++) {
    if (i) tsdb_strbuf__puts(sb, ", ");
    tsdb_strbuf__append(sb, l[i].s, l[i].len);
  }
  tsdb_strbuf__putc(sb, ')');
}

static void put_mods(tsdb_strbuf *sb, const tsdb_promql_mods *m) {
  char buf[64];
  if (m->has_offset) {
    tsdb_promql_print__duration(m->offset_ms, buf, sizeof buf);
    tsdb_strbuf__printf(sb, " offset %s", buf);
  }
  if (m->at == TSDB_PROMQL_AT_START) tsdb_strbuf__puts(sb, " @ start()");
  if (m->at == TSDB_PROMQL_AT_END) tsdb_strbuf__puts(sb, " @ end()");
  if (m->at == TSDB_PROMQL_AT_TIME) {
    /* The seconds as written (printer.go writes three decimals; the
     * shortest form reads back as the very same double). */
    tsdb_strbuf__puts(sb, " @ ");
    put_number(sb, m->at_seconds);
  }
}

static void put_selector(tsdb_strbuf *sb, const tsdb_promql_node *n) {
  tsdb_strbuf__append(sb, n->u.vector.name.s, n->u.vector.name.len);
  if (n->u.vector.nmatchers || !n->u.vector.name.len) {
    static const char *ops[] = {"=", "!=", "=~", "!~"};
    tsdb_strbuf__putc(sb, '{');
    for (size_t i = 0; i < n->u.vector.nmatchers; i++) {
      const tsdb_promql_matcher *m = &n->u.vector.matchers[i];
      if (i) tsdb_strbuf__puts(sb, ", ");
      tsdb_strbuf__append(sb, m->name.s, m->name.len);
      tsdb_strbuf__puts(sb, ops[m->op]);
      put_string(sb, m->value);
    }
    tsdb_strbuf__putc(sb, '}');
  }
}

static void put(tsdb_strbuf *sb, const tsdb_promql_node *n) {
  char buf[64];
  switch (n->kind) {
  case TSDB_PROMQL_NUMBER:
    put_number(sb, n->u.number);
    break;
  case TSDB_PROMQL_STRING:
    put_string(sb, n->u.string);
    break;
  case TSDB_PROMQL_VECTOR:
    put_selector(sb, n);
    put_mods(sb, &n->u.vector.mods);
    break;
  case TSDB_PROMQL_MATRIX:
    put_selector(sb, n->u.matrix.vector);
    tsdb_promql_print__duration(n->u.matrix.range_ms, buf, sizeof buf);
    tsdb_strbuf__printf(sb, "[%s]", buf);
    put_mods(sb, &n->u.matrix.vector->u.vector.mods);
    break;
  case TSDB_PROMQL_SUBQUERY:
    put(sb, n->u.subquery.expr);
    tsdb_promql_print__duration(n->u.subquery.range_ms, buf, sizeof buf);
    tsdb_strbuf__printf(sb, "[%s:", buf);
    if (n->u.subquery.step_ms) {
      tsdb_promql_print__duration(n->u.subquery.step_ms, buf, sizeof buf);
      tsdb_strbuf__puts(sb, buf);
    }
    tsdb_strbuf__putc(sb, ']');
    put_mods(sb, &n->u.subquery.mods);
    break;
  case TSDB_PROMQL_CALL:
    tsdb_strbuf__printf(sb, "%s(", n->u.call.fn->name);
    for (size_t i = 0; i < n->u.call.nargs; i++) {
      if (i) tsdb_strbuf__puts(sb, ", ");
      put(sb, n->u.call.args[i]);
    }
    tsdb_strbuf__putc(sb, ')');
    break;
  case TSDB_PROMQL_AGGREGATE:
    tsdb_strbuf__puts(sb, tsdb_promql_aggr_name(n->u.aggregate.op));
    if (n->u.aggregate.grouping) {
      tsdb_strbuf__puts(sb, n->u.aggregate.without ? " without " : " by ");
      put_labels(sb, n->u.aggregate.labels, n->u.aggregate.nlabels);
      tsdb_strbuf__putc(sb, ' ');
    }
    tsdb_strbuf__putc(sb, '(');
    if (n->u.aggregate.param) {
      put(sb, n->u.aggregate.param);
      tsdb_strbuf__puts(sb, ", ");
    }
    put(sb, n->u.aggregate.expr);
    tsdb_strbuf__putc(sb, ')');
    break;
  case TSDB_PROMQL_BINARY:
    put(sb, n->u.binary.lhs);
    tsdb_strbuf__printf(sb, " %s", tsdb_promql_op_name(n->u.binary.op));
    if (n->u.binary.return_bool) tsdb_strbuf__puts(sb, " bool");
    if (n->u.binary.matching) {
      tsdb_strbuf__puts(sb, n->u.binary.matching == 1 ? " on " : " ignoring ");
      put_labels(sb, n->u.binary.labels, n->u.binary.nlabels);
      if (n->u.binary.group) {
        tsdb_strbuf__puts(sb, n->u.binary.group == 1 ? " group_left " : " group_right ");
        put_labels(sb, n->u.binary.include, n->u.binary.ninclude);
      }
    }
    tsdb_strbuf__putc(sb, ' ');
    put(sb, n->u.binary.rhs);
    break;
  case TSDB_PROMQL_UNARY:
    tsdb_strbuf__putc(sb, n->u.unary.minus ? '-' : '+');
    put(sb, n->u.unary.expr);
    break;
  case TSDB_PROMQL_PAREN:
    tsdb_strbuf__putc(sb, '(');
    put(sb, n->u.paren.expr);
    tsdb_strbuf__putc(sb, ')');
    break;
  }
}

char *tsdb_promql_print(const tsdb_promql_node *n) {
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  put(&sb, n);
  if (tsdb_strbuf__failed(&sb)) {
    tsdb_strbuf__free(&sb);
    return NULL;
  }
  size_t len;
  char *s = tsdb_strbuf__take(&sb, &len);
  if (!s) s = calloc(1, 1);
  return s;
}
