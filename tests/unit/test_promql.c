/*
 * The PromQL front end (serve/src/promql): y_ cases parse and print as the
 * canonical text given (and that text parses to the same tree), n_ cases
 * fail with the exact message given, refused cases parse but the check
 * pass names what is not supported. Many cases re-express the inputs and
 * expectations of Prometheus' own parser tests
 * (promql/parser/parse_test.go, lex_test.go, printer_test.go).
 */
#include "promql.h"
#include "unit.h"

typedef struct {
  const char *in, *out;
} pair;

static tsdb_promql_query *parse_ok(const char *in) {
  tsdb_promql_query *q = NULL;
  tsdb_promql_error e;
  if (tsdb_promql_parse(in, strlen(in), &q, &e))
    unit__fail(__FILE__, __LINE__, "parse(%s) failed: %s", in, e.msg);
  return q;
}

/* parse, print, parse again: the same tree and the expected text. */
static void check_y(const pair *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tsdb_promql_query *q = parse_ok(cases[i].in);
    char *s = tsdb_promql_print(tsdb_promql_root(q));
    CHECK(s != NULL);
    CHECK_MSG(!strcmp(s, cases[i].out), "print(%s): \"%s\", expected \"%s\"", cases[i].in, s,
              cases[i].out);
    tsdb_promql_query *q2 = parse_ok(s);
    CHECK_MSG(tsdb_promql_equal(tsdb_promql_root(q), tsdb_promql_root(q2)),
              "round trip of %s through \"%s\" changed the tree", cases[i].in, s);
    free(s);
    tsdb_promql_free(q);
    tsdb_promql_free(q2);
  }
}

static void check_n(const pair *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tsdb_promql_query *q = NULL;
    tsdb_promql_error e;
    int rc = tsdb_promql_parse(cases[i].in, strlen(cases[i].in), &q, &e);
    CHECK_MSG(rc == -1 && q == NULL, "parse(%s) should fail", cases[i].in);
    CHECK_MSG(!strcmp(e.msg, cases[i].out), "parse(%s): \"%s\", expected \"%s\"", cases[i].in,
              e.msg, cases[i].out);
  }
}

static void check_refused(const pair *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tsdb_promql_query *q = parse_ok(cases[i].in);
    tsdb_promql_error e;
    CHECK_MSG(tsdb_promql_check(q, &e) == -1, "check(%s) should refuse", cases[i].in);
    CHECK_MSG(!strcmp(e.msg, cases[i].out), "check(%s): \"%s\", expected \"%s\"", cases[i].in,
              e.msg, cases[i].out);
    tsdb_promql_free(q);
  }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(y_numbers) {
  static const pair c[] = {
      {"1", "1"},
      {"0x1F", "31"},
      {"0X10", "16"},
      {"010", "8"},
      {"08", "8"},
      {"1e3", "1000"},
      {"1E-3", "0.001"},
      {".5", "0.5"},
      {"5.", "5"},
      {"Inf", "Inf"},
      {"inf", "Inf"},
      {"-Inf", "-Inf"},
      {"+Inf", "Inf"},
      {"NaN", "NaN"},
      {"nAn", "NaN"},
      {"-1", "-1"},
      {"+1", "1"},
      {"- -1", "1"},
      {"1e+21", "1e+21"},
      {"-(1)", "-(1)"},
      {"123456789012345678901234567890", "1.2345678901234568e+29"},
      {"4.9e-324", "5e-324"},
  };
  check_y(c, N(c));
}

TEST(y_strings) {
  /* Escapes as Go's strconv.Unquote reads them (lex_test.go's strings). */
  static const pair c[] = {
      {"x{a=\"b\"}", "x{a=\"b\"}"},
      {"x{a='b'}", "x{a=\"b\"}"},
      {"x{a=`b\\n`}", "x{a=\"b\\\\n\"}"},
      {"x{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"}", "x{a=\"\\x07\\x08\\x0c\\n\\r\\t\\x0b\\\\\\\"\"}"},
      {"x{a='\\''}", "x{a=\"'\"}"},
      {"x{a=\"\\x41\\101\\u00e9\\U0001F600\"}", "x{a=\"AAé😀\"}"},
      {"x{a=\"日本語\"}", "x{a=\"日本語\"}"},
      {"x{a=\"\\xff\"}", "x{a=\"\\xff\"}"},
      {"x{a=\"\\000\"}", "x{a=\"\\x00\"}"},
      {"x{a=`日本\\`}", "x{a=\"日本\\\\\"}"},
      {"x{a=\"ünïcödé ☃\"}", "x{a=\"ünïcödé ☃\"}"},
  };
  check_y(c, N(c));
}

TEST(y_durations) {
  static const pair c[] = {
      {"x[5m]", "x[5m]"},
      {"x[1h30m]", "x[1h30m]"},
      {"x[90m]", "x[1h30m]"},
      {"x[1y2w3d4h5m6s7ms]", "x[1y2w3d4h5m6s7ms]"},
      {"x[1000ms]", "x[1s]"},
      {"x[7d]", "x[1w]"},
      {"x[365d]", "x[1y]"},
      {"x[5]", "x[5s]"},
      {"x[1.5]", "x[1s500ms]"},
      {"x offset 0s", "x offset 0s"},
      {"x offset -5m", "x offset -5m"},
      {"x offset +5m", "x offset 5m"},
      {"x[5m] offset 1w", "x[5m] offset 1w"},
      {"x[5m:]", "x[5m:]"},
      {"x[5m:1m]", "x[5m:1m]"},
      {"x[5m:0s]", "x[5m:]"},
      {"x[106751991167d]", "x[292471208y35w2d]"},
  };
  check_y(c, N(c));
}

TEST(y_selectors) {
  static const pair c[] = {
      {"foo", "foo"},
      {"foo{}", "foo"},
      {"foo:bar", "foo:bar"},
      {":foo", ":foo"},
      {"foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h|i\"}",
       "foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h|i\"}"},
      {"foo{a=\"b\",}", "foo{a=\"b\"}"},
      {"{__name__=\"foo\"}", "{__name__=\"foo\"}"},
      {"{a=~\".+\"}", "{a=~\".+\"}"},
      {"{a!=\"\"}", "{a!=\"\"}"},
      {"foo{on=\"x\", by=\"y\", offset=\"z\", sum=\"w\"}",
       "foo{on=\"x\", by=\"y\", offset=\"z\", sum=\"w\"}"},
      {"sum", "sum"},
      {"on", "on"},
      {"offset", "offset"},
      {"bool", "bool"},
      {"min_over_time", "min_over_time"},
      {"foo # a comment\n", "foo"},
      {"  foo\n\t{a=\"b\"}  ", "foo{a=\"b\"}"},
      {"foo @ 1603774568", "foo @ 1603774568"},
      {"foo @ -1.5", "foo @ -1.5"},
      {"foo @ start()", "foo @ start()"},
      {"foo @ end() offset 5m", "foo offset 5m @ end()"},
      {"foo offset 5m @ 100", "foo offset 5m @ 100"},
      {"foo[5m] @ 100 offset 1m", "foo[5m] offset 1m @ 100"},
  };
  check_y(c, N(c));
}

TEST(y_operators_and_precedence) {
  static const pair c[] = {
      {"1 + 2", "1 + 2"},
      {"1 - 2", "1 - 2"},
      {"1 * 2", "1 * 2"},
      {"1 / 2", "1 / 2"},
      {"1 % 2", "1 % 2"},
      {"1 ^ 2", "1 ^ 2"},
      {"1 == bool 2", "1 == bool 2"},
      {"1 != bool 2", "1 != bool 2"},
      {"1 < bool 2", "1 < bool 2"},
      {"1 <= bool 2", "1 <= bool 2"},
      {"1 > bool 2", "1 > bool 2"},
      {"1 >= bool 2", "1 >= bool 2"},
      {"1 atan2 2", "1 atan2 2"},
      {"a and b", "a and b"},
      {"a or b", "a or b"},
      {"a unless b", "a unless b"},
      {"a AND b", "a and b"},
      {"foo == 1", "foo == 1"},
      {"foo == bool 1", "foo == bool 1"},
      {"2.5 / bar", "2.5 / bar"},
      {"foo * on(a) bar", "foo * on (a) bar"},
      {"foo * ignoring(a, b) bar", "foo * ignoring (a, b) bar"},
      {"foo * on(a) group_left bar", "foo * on (a) group_left () bar"},
      {"foo * on(a) group_left(b) bar", "foo * on (a) group_left (b) bar"},
      {"foo * ignoring(a) group_right(b, c) bar", "foo * ignoring (a) group_right (b, c) bar"},
      {"foo > bool on(a) bar", "foo > bool on (a) bar"},
      {"foo and on() bar", "foo and on () bar"},
      {"1 + on() 2", "1 + 2"},
      {"-foo", "-foo"},
      {"+foo", "+foo"},
      {"-foo offset 5m", "-foo offset 5m"},
      {"--foo", "--foo"},
  };
  check_y(c, N(c));
}

static const tsdb_promql_node *strip(const tsdb_promql_node *n) {
  while (n->kind == TSDB_PROMQL_PAREN) n = n->u.paren.expr;
  return n;
}

/* Renders the tree with every binary and unary node parenthesized. */
static void shape(const tsdb_promql_node *n, char *buf, size_t len) {
  size_t l = strlen(buf);
  n = strip(n);
  if (n->kind == TSDB_PROMQL_BINARY) {
    snprintf(buf + l, len - l, "(");
    shape(n->u.binary.lhs, buf, len);
    l = strlen(buf);
    snprintf(buf + l, len - l, " %s ", tsdb_promql_op_name(n->u.binary.op));
    shape(n->u.binary.rhs, buf, len);
    l = strlen(buf);
    snprintf(buf + l, len - l, ")");
  } else if (n->kind == TSDB_PROMQL_UNARY) {
    snprintf(buf + l, len - l, "(%c", n->u.unary.minus ? '-' : '+');
    shape(n->u.unary.expr, buf, len);
    l = strlen(buf);
    snprintf(buf + l, len - l, ")");
  } else {
    char *s = tsdb_promql_print(n);
    snprintf(buf + l, len - l, "%s", s);
    free(s);
  }
}

TEST(y_precedence_shapes) {
  /* operators/#binary-operator-precedence, and parse_test.go's cases:
   * ^ right-assoc, others left; unary binds like * (so -a^b is -(a^b)). */
  static const pair c[] = {
      {"a + b * c", "(a + (b * c))"},
      {"a * b + c", "((a * b) + c)"},
      {"a - b - c", "((a - b) - c)"},
      {"a / b / c", "((a / b) / c)"},
      {"a ^ b ^ c", "(a ^ (b ^ c))"},
      {"a * b ^ c", "(a * (b ^ c))"},
      {"-a ^ b", "(-(a ^ b))"},
      {"-a * b", "((-a) * b)"},
      {"-a + b", "((-a) + b)"},
      {"a * -b ^ c", "(a * (-(b ^ c)))"},
      {"2 ^ -1 * 3", "((2 ^ -1) * 3)"},
      {"a == b + c", "(a == (b + c))"},
      {"a and b == c", "(a and (b == c))"},
      {"a or b and c", "(a or (b and c))"},
      {"a and b or c", "((a and b) or c)"},
      {"a unless b and c", "((a unless b) and c)"},
      {"a atan2 b ^ c", "(a atan2 (b ^ c))"},
      {"a % b atan2 c", "((a % b) atan2 c)"},
      {"a > b < c", "((a > b) < c)"},
      {"(a + b) * c", "((a + b) * c)"},
      {"a + b offset 5m", "(a + b offset 5m)"},
  };
  for (size_t i = 0; i < N(c); i++) {
    tsdb_promql_query *q = parse_ok(c[i].in);
    char buf[256] = "";
    shape(tsdb_promql_root(q), buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, c[i].out), "shape(%s): %s, expected %s", c[i].in, buf, c[i].out);
    tsdb_promql_free(q);
  }
}

TEST(y_functions_and_aggregations) {
  static const pair c[] = {
      {"avg_over_time(x[5m])", "avg_over_time(x[5m])"},
      {"min_over_time(x[5m])", "min_over_time(x[5m])"},
      {"max_over_time(x[5m])", "max_over_time(x[5m])"},
      {"sum_over_time(x[5m])", "sum_over_time(x[5m])"},
      {"count_over_time(x[5m])", "count_over_time(x[5m])"},
      {"last_over_time(x[5m])", "last_over_time(x[5m])"},
      {"stddev_over_time(x[5m])", "stddev_over_time(x[5m])"},
      {"time()", "time()"},
      {"rate(x[5m])", "rate(x[5m])"},
      {"round(x)", "round(x)"},
      {"round(x, 5)", "round(x, 5)"},
      {"hour()", "hour()"},
      {"label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")",
       "label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")"},
      {"label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")",
       "label_replace(x, \"d\", \"$1\", \"s\", \"(.*)\")"},
      {"histogram_quantile(0.9, rate(x[5m]))", "histogram_quantile(0.9, rate(x[5m]))"},
      {"sum(x)", "sum(x)"},
      {"avg(x)", "avg(x)"},
      {"min(x)", "min(x)"},
      {"max(x)", "max(x)"},
      {"count(x)", "count(x)"},
      {"sum by (a) (x)", "sum by (a) (x)"},
      {"sum(x) by (a)", "sum by (a) (x)"},
      {"sum without (a, b) (x)", "sum without (a, b) (x)"},
      {"sum(x) without (a,b,)", "sum without (a, b) (x)"},
      {"sum by () (x)", "sum by () (x)"},
      {"SUM BY (a) (x)", "sum by (a) (x)"},
      {"sum by (on, by, offset) (x)", "sum by (on, by, offset) (x)"},
      {"topk(5, x)", "topk(5, x)"},
      {"bottomk(5, x)", "bottomk(5, x)"},
      {"quantile(0.5, x)", "quantile(0.5, x)"},
      {"count_values(\"v\", x)", "count_values(\"v\", x)"},
      {"stddev(x)", "stddev(x)"},
      {"stdvar(x)", "stdvar(x)"},
      {"group(x)", "group(x)"},
      {"sum(avg_over_time(x{a=~\"b.*\"}[1h] offset 1d)) by (a) / 100",
       "sum by (a) (avg_over_time(x{a=~\"b.*\"}[1h] offset 1d)) / 100"},
      {"max_over_time(rate(x[5m])[1h:5m])", "max_over_time(rate(x[5m])[1h:5m])"},
      {"(x)[5m:]", "(x)[5m:]"},
      {"sum(x)[5m:] offset 1m", "sum(x)[5m:] offset 1m"},
      {"x offset 1m [5m:]", "x offset 1m[5m:]"},
      {"\"s\"", "\"s\""},
  };
  check_y(c, N(c));
}

TEST(n_syntax) {
  static const pair c[] = {
      {"", "1:1: parse error: no expression found in input"},
      {"  # only a comment", "1:1: parse error: no expression found in input"},
      {"1 +", "1:4: parse error: unexpected end of input"},
      {"+", "1:2: parse error: unexpected end of input"},
      {"(1", "1:3: parse error: unexpected end of input in paren expression, expected \")\""},
      {"1)", "1:2: parse error: unexpected \")\""},
      {"1 2", "1:3: parse error: unexpected number \"2\""},
      {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
      {"foo by", "1:5: parse error: unexpected <by>"},
      {"@", "1:1: parse error: unexpected <@>"},
      {"5m", "1:1: parse error: unexpected duration \"5m\""},
      {"=", "1:1: parse error: unexpected \"=\""},
      {"!", "1:1: parse error: unexpected end of input after '!'"},
      {"a ! b", "1:3: parse error: unexpected character after '!': ' '"},
      {"a $ b", "1:3: parse error: unexpected character: '$'"},
      {"a ☃ b", "1:3: parse error: unexpected character: '☃'"},
      {"a \xff b", "1:3: parse error: invalid UTF-8 rune"},
      {"x{a=\"\xc3\"}", "1:6: parse error: invalid UTF-8 rune"},
      {"foo{", "1:5: parse error: unexpected end of input in label matching, expected label"},
      {"foo{a}",
       "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator"},
      {"foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string"},
      {"foo{a=b}",
       "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"},
      {"foo{a=\"b\" c=\"d\"}",
       "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
      {"foo{a:b=\"c\"}",
       "1:5: parse error: unexpected metric identifier \"a:b\" in label matching, expected label"},
      {"foo{a==\"b\"}",
       "1:6: parse error: unexpected <op:==> in label matching, expected label matching operator"},
      {"{a=\"b\"",
       "1:7: parse error: unexpected end of input in label matching, expected \",\" or \"}\""},
      {"x{a=\"b}", "1:5: parse error: unterminated quoted string"},
      {"x{a=\"b\nc\"}", "1:5: parse error: unterminated quoted string"},
      {"x{a=`b}", "1:5: parse error: unterminated raw string"},
      {"x{a=\"\\q\"}", "1:5: parse error: unknown escape sequence '\\q'"},
      {"x{a=\"\\x4\"}", "1:5: parse error: invalid syntax: \\x escape needs 2 hex digits"},
      {"x{a=\"\\400\"}", "1:5: parse error: octal escape value > 255: 256"},
      {"x{a=\"\\12\"}", "1:5: parse error: invalid syntax: octal escape needs 3 digits"},
      {"x{a=\"\\uD800\"}", "1:5: parse error: escape sequence is an invalid Unicode code point"},
      {"x{a=\"\\U00110000\"}",
       "1:5: parse error: escape sequence is an invalid Unicode code point"},
      {"x{a='\"\\\"'}", "1:5: parse error: unknown escape sequence '\\\"'"},
      {"sum by (a:b) (x)",
       "1:9: parse error: unexpected metric identifier \"a:b\" in grouping opts, expected label"},
      {"sum by a (x)",
       "1:8: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
      {"sum by (a) (x) by (b)", "1:16: parse error: unexpected <by> in aggregation"},
      {"sum(x",
       "1:6: parse error: unexpected end of input in aggregation, expected \",\" or \")\""},
      {"rate(x[5m]",
       "1:11: parse error: unexpected end of input in function call, expected \",\" or \")\""},
      {"foo * on a bar",
       "1:10: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
      {"line1\n  + ", "2:5: parse error: unexpected end of input"},
      {"foo\n\n  }", "3:3: parse error: unexpected \"}\""},
  };
  check_n(c, N(c));
}

TEST(n_numbers_and_durations) {
  static const pair c[] = {
      {"1a", "1:1: parse error: bad number or duration syntax: \"1a\""},
      {"1.2.3", "1:1: parse error: bad number or duration syntax: \"1.2.3\""},
      {"0x", "1:1: parse error: error parsing number: \"0x\""},
      {"0xg", "1:1: parse error: bad number or duration syntax: \"0xg\""},
      {"1e", "1:1: parse error: error parsing number: \"1e\""},
      {"0x8000000000000000", "1:1: parse error: error parsing number: \"0x8000000000000000\""},
      {"1e400", "1:1: parse error: error parsing number: \"1e400\""},
      {"5mm", "1:1: parse error: bad number or duration syntax: \"5mm\""},
      {"x[1m1h]", "1:3: parse error: not a valid duration string: \"1m1h\""},
      {"x[1h1h]", "1:3: parse error: not a valid duration string: \"1h1h\""},
      {"x[5ms5s]", "1:3: parse error: not a valid duration string: \"5ms5s\""},
      {"x[0s]", "1:2: parse error: duration must be greater than 0"},
      {"x[-5m]", "1:3: parse error: unexpected <op:-> in range selector, expected duration"},
      {"x[5m:-1m]", "1:2: parse error: duration must be greater than 0"},
      {"x[99999999999999999999y]", "1:3: parse error: duration out of range"},
      {"x[300000000y]", "1:3: parse error: duration out of range"},
      {"x[5m",
       "1:5: parse error: unexpected end of input in range selector, expected \":\" or \"]\""},
      {"x[5m:1m", "1:8: parse error: unexpected end of input in subquery selector, expected \"]\""},
      {"x[]", "1:3: parse error: unexpected \"]\" in range selector, expected duration"},
      {"x[a]",
       "1:3: parse error: unexpected identifier \"a\" in range selector, expected duration"},
      {"x offset", "1:9: parse error: unexpected end of input in offset, expected duration"},
      {"x offset a", "1:10: parse error: unexpected identifier \"a\" in offset, expected duration"},
      {"x @", "1:4: parse error: unexpected end of input in @, expected timestamp"},
      {"x @ Inf", "1:3: parse error: timestamp out of bounds for @ modifier"},
      {"x @ 1e20", "1:3: parse error: timestamp out of bounds for @ modifier"},
      {"x @ start", "1:10: parse error: unexpected end of input in @, expected \"(\""},
  };
  check_n(c, N(c));
}

TEST(n_semantics) {
  /* checkAST's errors, as parse_test.go expects them. */
  static const pair c[] = {
      {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
      {"1 + bool 2", "1:3: parse error: bool modifier can only be used on comparison operators"},
      {"foo + bool bar",
       "1:5: parse error: bool modifier can only be used on comparison operators"},
      {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"foo or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
      {"foo and on(a) group_left(b) bar",
       "1:1: parse error: no grouping allowed for \"and\" operation"},
      {"foo * on(a) group_left(a) bar",
       "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
      {"1 + on(a) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
      {"foo[5m] + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"1 + foo[5m]",
       "1:5: parse error: binary expression must contain only scalar and instant vector types"},
      {"\"a\" + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"-foo[5m]",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
      {"-\"a\"",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\""},
      {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{a=~\".*\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{a!~\".+\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{a!=\"b\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"foo{__name__=\"bar\"}",
       "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
      {"sum(x[5m])",
       "1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
      {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
      {"sum(x, y)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"},
      {"topk(x)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
      {"topk(\"a\", x)",
       "1:6: parse error: expected type scalar in aggregation parameter, got string"},
      {"count_values(1, x)",
       "1:14: parse error: expected type string in aggregation parameter, got scalar"},
      {"sum(1)",
       "1:5: parse error: expected type instant vector in aggregation expression, got scalar"},
      {"rate(x)",
       "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
      {"avg_over_time(x)",
       "1:15: parse error: expected type range vector in call to function \"avg_over_time\", got instant vector"},
      {"abs(x[5m])",
       "1:5: parse error: expected type instant vector in call to function \"abs\", got range vector"},
      {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
      {"rate()", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 0"},
      {"round(x, 1, 2)",
       "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"label_join(x, \"a\")",
       "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"},
      {"label_join(x, \"a\", \",\", 1)",
       "1:25: parse error: expected type string in call to function \"label_join\", got scalar"},
      {"foo(x)", "1:1: parse error: unknown function with name \"foo\""},
      {"holt_winters(x[5m], 0.5, 0.5)",
       "1:1: parse error: unknown function with name \"holt_winters\""},
      {"foo[5m][5m]", "1:1: parse error: ranges only allowed for vector selectors"},
      {"(foo)[5m]", "1:1: parse error: ranges only allowed for vector selectors"},
      {"foo[5m][1h:]",
       "1:1: parse error: subquery is only allowed on instant vector, got range vector instead"},
      {"foo offset 5m[5m]", "1:1: parse error: no offset modifiers allowed before range"},
      {"foo @ 1 [5m]", "1:1: parse error: no @ modifiers allowed before range"},
      {"foo offset 1m offset 2m", "1:15: parse error: offset may not be set multiple times"},
      {"foo @ 1 @ 2", "1:9: parse error: @ <timestamp> may not be set multiple times"},
      {"sum(foo) offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
      {"(foo) @ 5",
       "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
      {"1 offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
  };
  check_n(c, N(c));
}

TEST(n_regex) {
  /* RE2 syntax: what PCRE2 would accept but Go's regexp refuses or reads otherwise. */
  static const pair c[] = {
      {"x{a=~\"(a\"}",
       "1:6: parse error: error parsing regexp: missing closing parenthesis at offset 2: `(a`"},
      {"x{a=~\"a)|(b\"}",
       "1:6: parse error: error parsing regexp: unmatched closing parenthesis at offset 1: `a)|(b`"},
      {"x{a=~\"(a)\\\\1\"}",
       "1:6: parse error: error parsing regexp: backreferences (\\1 ...) are not supported (RE2 syntax): `(a)\\1`"},
      {"x{a=~\"(?=a)\"}",
       "1:6: parse error: error parsing regexp: lookaround assertions are not supported (RE2 syntax): `(?=a)`"},
      {"x{a=~\"(?!a)\"}",
       "1:6: parse error: error parsing regexp: lookaround assertions are not supported (RE2 syntax): `(?!a)`"},
      {"x{a=~\"(?<=a)b\"}",
       "1:6: parse error: error parsing regexp: lookaround assertions are not supported (RE2 syntax): `(?<=a)b`"},
      {"x{a=~\"(?<!a)b\"}",
       "1:6: parse error: error parsing regexp: lookaround assertions are not supported (RE2 syntax): `(?<!a)b`"},
      {"x{a=~\"(?>a)\"}",
       "1:6: parse error: error parsing regexp: atomic groups are not supported (RE2 syntax): `(?>a)`"},
      {"x{a=~\"a*+\"}",
       "1:6: parse error: error parsing regexp: possessive quantifiers are not supported (RE2 syntax): `a*+`"},
      {"x{a=~\"a{2}+\"}",
       "1:6: parse error: error parsing regexp: possessive quantifiers are not supported (RE2 syntax): `a{2}+`"},
      {"x{a=~\"a**\"}",
       "1:6: parse error: error parsing regexp: invalid nested repetition operator: `a**`"},
      {"x{a=~\"(?(1)a|b)\"}",
       "1:6: parse error: error parsing regexp: conditional groups are not supported (RE2 syntax): `(?(1)a|b)`"},
      {"x{a=~\"(?R)\"}",
       "1:6: parse error: error parsing regexp: invalid or unsupported Perl syntax: (?R (RE2 syntax): `(?R)`"},
      {"x{a=~\"(*FAIL)\"}",
       "1:6: parse error: error parsing regexp: backtracking verbs (*...) are not supported: `(*FAIL)`"},
      {"x{a=~\"a\\\\Kb\"}",
       "1:6: parse error: error parsing regexp: invalid escape sequence: \\K (RE2 syntax): `a\\Kb`"},
      {"x{a=~\"a\\\\Z\"}",
       "1:6: parse error: error parsing regexp: invalid escape sequence: \\Z (RE2 syntax): `a\\Z`"},
      {"x{a=~\"\\\\h\"}",
       "1:6: parse error: error parsing regexp: invalid escape sequence: \\h (RE2 syntax): `\\h`"},
      {"x{a=~\"a{1234567890123}\"}",
       "1:6: parse error: error parsing regexp: invalid repeat count: more than 1000 (RE2's limit): "
       "`a{1234567890123}`"},
      {"x{a=~\"a{1001}\"}",
       "1:6: parse error: error parsing regexp: invalid repeat count: more than 1000 (RE2's limit): `a{1001}`"},
      {"x{a=~\"[a\"}", "1:6: parse error: error parsing regexp: missing closing ]: `[a`"},
      {"x{a=~\"\\\\\"}",
       "1:6: parse error: error parsing regexp: trailing backslash at end of expression: `\\`"},
  };
  check_n(c, N(c));
}

TEST(regex_anchoring_and_syntax) {
  static const struct {
    const char *re, *value;
    bool match;
  } c[] = {
      {"b", "abc", false},
      {"abc", "abc", true},
      {"a|ab", "ab", true},
      {"a.*", "a\nb", true},
      {"(a|b)+", "abba", true},
      {"a", "a\n", false},
      {"é+", "ééé", true},
      {"(?i)ABC", "abc", true},
      {"[[:alpha:]]+", "abc", true},
      {"\\d+", "123", true},
      {"\\d+", "١٢٣", false},
      {"\\pL+", "éa", true},
      {"(?P<n>a)b", "ab", true},
      {"(?<n>a)b", "ab", true},
      {"a{2,3}", "aaa", true},
      {"a{2,3}", "aaaa", false},
      {"x{", "x{", true},
      {"\\Qa.b\\E", "a.b", true},
      {"\\Qa.b\\E", "axb", false},
      {"[]a]+", "]a", true},
      {"(?s:.)", "\n", true},
      {"(?:a|b)c", "bc", true},
      {"", "", true},
      {"", "a", false},
      {"(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false},
  };
  for (size_t i = 0; i < N(c); i++) {
    char q[256];
    snprintf(q, sizeof q, "x{a=~`%s`}", c[i].re);
    tsdb_promql_query *pq = parse_ok(q);
    const tsdb_promql_node *n = tsdb_promql_root(pq);
    const tsdb_promql_matcher *m = &n->u.vector.matchers[0];
    CHECK_MSG(tsdb_promql_matches(m, c[i].value, strlen(c[i].value)) == c[i].match,
              "%s against \"%s\": expected %d", c[i].re, c[i].value, c[i].match);
    tsdb_promql_free(pq);
  }
  tsdb_promql_query *pq = parse_ok("x{a!~\"b.*\", c=\"d\", e!=\"f\"}");
  const tsdb_promql_node *n = tsdb_promql_root(pq);
  CHECK(!tsdb_promql_matches(&n->u.vector.matchers[0], "bcd", 3));
  CHECK(tsdb_promql_matches(&n->u.vector.matchers[0], "abc", 3));
  CHECK(tsdb_promql_matches(&n->u.vector.matchers[1], "d", 1));
  CHECK(!tsdb_promql_matches(&n->u.vector.matchers[1], "dd", 2));
  CHECK(tsdb_promql_matches(&n->u.vector.matchers[2], "", 0));
  CHECK(!tsdb_promql_matches(&n->u.vector.matchers[2], "f", 1));
  tsdb_promql_free(pq);
}

TEST(supported_subset) {
  static const char *ok[] = {
      "foo",
      "foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h\"}",
      "foo[5m]",
      "foo offset 5m",
      "foo[5m] offset -1h",
      "avg_over_time(foo[5m])",
      "min_over_time(foo[5m])",
      "max_over_time(foo[5m])",
      "sum_over_time(foo[5m])",
      "count_over_time(foo[5m])",
      "last_over_time(foo[5m])",
      "stddev_over_time(foo[5m])",
      "time()",
      "time() - 60",
      "sum(foo)",
      "avg by (a) (foo)",
      "min without (a) (foo)",
      "max(foo) by (a, b)",
      "count(foo)",
      "sum by (topic) (avg_over_time(pm10{schema=\"air\"}[1h])) * 2 + 1",
      "foo > 50",
      "50 < bool foo",
      "-foo",
      "(foo + 1) / 2 ^ 3 % 4",
      "1 + 2",
      "2 > bool 1",
      "foo == bool 1",
  };
  for (size_t i = 0; i < N(ok); i++) {
    tsdb_promql_query *q = parse_ok(ok[i]);
    tsdb_promql_error e;
    CHECK_MSG(tsdb_promql_check(q, &e) == 0, "check(%s): %s", ok[i], e.msg);
    tsdb_promql_free(q);
  }
}

TEST(refused_constructs) {
  static const pair c[] = {
      {"rate(foo[5m])", "1:1: parse error: function \"rate\" is not supported"},
      {"sum(rate(foo[5m]))", "1:5: parse error: function \"rate\" is not supported"},
      {"abs(foo)", "1:1: parse error: function \"abs\" is not supported"},
      {"quantile_over_time(0.5, foo[5m])",
       "1:1: parse error: function \"quantile_over_time\" is not supported"},
      {"topk(3, foo)", "1:1: parse error: aggregation \"topk\" is not supported"},
      {"bottomk(3, foo)", "1:1: parse error: aggregation \"bottomk\" is not supported"},
      {"quantile(0.5, foo)", "1:1: parse error: aggregation \"quantile\" is not supported"},
      {"count_values(\"v\", foo)",
       "1:1: parse error: aggregation \"count_values\" is not supported"},
      {"stddev(foo)", "1:1: parse error: aggregation \"stddev\" is not supported"},
      {"stdvar(foo)", "1:1: parse error: aggregation \"stdvar\" is not supported"},
      {"group(foo)", "1:1: parse error: aggregation \"group\" is not supported"},
      {"foo and bar", "1:5: parse error: binary operator \"and\" is not supported"},
      {"foo or bar", "1:5: parse error: binary operator \"or\" is not supported"},
      {"foo unless bar", "1:5: parse error: binary operator \"unless\" is not supported"},
      {"foo atan2 1", "1:5: parse error: binary operator \"atan2\" is not supported"},
      {"foo + bar",
       "1:5: parse error: binary operator \"+\" between two instant vectors is not supported (one side must be a scalar)"},
      {"foo > on(a) bar",
       "1:5: parse error: binary operator \">\" between two instant vectors is not supported (one side must be a scalar)"},
      {"foo[5m:1m]", "1:1: parse error: subqueries are not supported"},
      {"max_over_time(foo[1h:])", "1:15: parse error: subqueries are not supported"},
      {"foo @ 100", "1:1: parse error: the @ modifier is not supported"},
      {"foo[5m] @ end()", "1:1: parse error: the @ modifier is not supported"},
      {"\"text\"", "1:1: parse error: string literals are not supported"},
      {"1 +\n  abs(foo)", "2:3: parse error: function \"abs\" is not supported"},
  };
  check_refused(c, N(c));
}

TEST(depth_is_bounded) {
  /* Nesting within the bound parses; one level past it is a clear error. */
  char *s = malloc(4 * TSDB_PROMQL_MAX_DEPTH + 16);
  CHECK(s != NULL);
  for (int depth = TSDB_PROMQL_MAX_DEPTH - 2; depth <= TSDB_PROMQL_MAX_DEPTH + 1; depth++) {
    size_t n = 0;
    for (int i = 0; i < depth; i++) s[n++] = '(';
    s[n++] = '1';
    for (int i = 0; i < depth; i++) s[n++] = ')';
    s[n] = '\0';
    tsdb_promql_query *q = NULL;
    tsdb_promql_error e;
    int rc = tsdb_promql_parse(s, n, &q, &e);
    if (depth < TSDB_PROMQL_MAX_DEPTH) {
      CHECK_MSG(rc == 0, "depth %d: %s", depth, e.msg);
      tsdb_promql_free(q);
    } else {
      CHECK_INT(rc, ==, -1);
      CHECK_MSG(strstr(e.msg, "expression nested too deeply (more than 256 levels)") != NULL, "%s",
                e.msg);
    }
  }
  /* A long chain of operators is as deep as it is long: bounded too. */
  size_t n = 0;
  char *chain = malloc(100000 * 2 + 2);
  CHECK(chain != NULL);
  for (int i = 0; i < 100000; i++) chain[n++] = '1', chain[n++] = '+';
  chain[n++] = '1';
  tsdb_promql_query *q = NULL;
  tsdb_promql_error e;
  CHECK_INT(tsdb_promql_parse(chain, n, &q, &e), ==, -1);
  CHECK(strstr(e.msg, "nested too deeply") != NULL);
  /* Deep unary signs and deep function nesting too. */
  memset(chain, '-', 100000);
  chain[100000] = '1';
  CHECK_INT(tsdb_promql_parse(chain, 100001, &q, &e), ==, -1);
  CHECK(strstr(e.msg, "nested too deeply") != NULL);
  n = 0;
  for (int i = 0; i < 1000; i++) memcpy(chain + n, "abs(", 4), n += 4;
  chain[n++] = 'x';
  for (int i = 0; i < 1000; i++) chain[n++] = ')';
  CHECK_INT(tsdb_promql_parse(chain, n, &q, &e), ==, -1);
  CHECK(strstr(e.msg, "nested too deeply") != NULL);
  free(chain);
  free(s);
}

TEST(long_inputs) {
  /* A 1 MB label value, a selector with 10 000 matchers, a 100 000-digit number. */
  size_t big = 1 << 20;
  char *s = malloc(big + 64);
  CHECK(s != NULL);
  int n = snprintf(s, 64, "x{a=\"");
  memset(s + n, 'v', big);
  memcpy(s + n + big, "\"}", 3);
  tsdb_promql_query *q = parse_ok(s);
  CHECK_INT(tsdb_promql_root(q)->u.vector.matchers[0].value.len, ==, big);
  char *p = tsdb_promql_print(tsdb_promql_root(q));
  CHECK_STR(p, s);
  free(p);
  tsdb_promql_free(q);
  free(s);

  size_t cap = 10000 * 16 + 16, len = 0;
  s = malloc(cap);
  CHECK(s != NULL);
  len += (size_t)snprintf(s, cap, "x{");
  for (int i = 0; i < 10000; i++) len += (size_t)snprintf(s + len, cap - len, "l%d=\"v\",", i);
  len += (size_t)snprintf(s + len, cap - len, "}");
  q = parse_ok(s);
  CHECK_INT(tsdb_promql_root(q)->u.vector.nmatchers, ==, 10000);
  tsdb_promql_free(q);
  free(s);

  s = malloc(100002);
  CHECK(s != NULL);
  memset(s, '9', 100000);
  s[100000] = '\0';
  tsdb_promql_error e;
  CHECK_INT(tsdb_promql_parse(s, 100000, &q, &e), ==, -1); /* ParseFloat: out of range */
  CHECK(strstr(e.msg, "error parsing number") != NULL);
  memset(s, '0', 100000);
  s[0] = '1';
  s[1] = '.';
  q = parse_ok(s);
  CHECK_BITS(tsdb_promql_root(q)->u.number, 1.0);
  tsdb_promql_free(q);
  free(s);
}

TEST(not_nul_terminated) {
  /* The text is len bytes: what follows must not be read. */
  const char text[] = "foo{a=\"b\"}XYZ";
  tsdb_promql_query *q = NULL;
  tsdb_promql_error e;
  CHECK_OK(tsdb_promql_parse(text, 10, &q, &e));
  char *p = tsdb_promql_print(tsdb_promql_root(q));
  CHECK_STR(p, "foo{a=\"b\"}");
  free(p);
  tsdb_promql_free(q);
  CHECK_INT(tsdb_promql_parse("a\0b", 3, &q, &e), ==, -1);
  CHECK_STR(e.msg, "1:2: parse error: unexpected character: '\\x00'");
}
