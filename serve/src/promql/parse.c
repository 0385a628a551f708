/*
 * The PromQL parser: recursive descent over the whole grammar of
 * prometheus promql/parser/generated_parser.y, with the type checks its
 * checkAST does, so that an error names what Prometheus would name.
 *
 * Binary operators by precedence climbing (operators/#binary-operator-
 * precedence): or < and unless < comparisons < + - < * / % atan2 < ^, all
 * left-associative but ^. A unary sign has the precedence of * (the
 * grammar's `unary_op expr %prec MUL`): -a^b is -(a^b), -a*b is (-a)*b,
 * and a sign before a number literal folds into the literal. offset, @,
 * [range] and [range:step] bind tighter than any operator.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql_internal.h"

#define S TSDB_PROMQL_T_SCALAR
#define V TSDB_PROMQL_T_VECTOR
#define M TSDB_PROMQL_T_MATRIX
#define STR TSDB_PROMQL_T_STRING

/* Prometheus' functions (functions.go, the ones not behind a feature flag),
 * sorted by name for bsearch. */
static const tsdb_promql_function functions[] = {
    {"abs", {V}, 1, 0, V},
    {"absent", {V}, 1, 0, V},
    {"absent_over_time", {M}, 1, 0, V},
    {"acos", {V}, 1, 0, V},
    {"acosh", {V}, 1, 0, V},
    {"asin", {V}, 1, 0, V},
    {"asinh", {V}, 1, 0, V},
    {"atan", {V}, 1, 0, V},
    {"atanh", {V}, 1, 0, V},
    {"avg_over_time", {M}, 1, 0, V},
    {"ceil", {V}, 1, 0, V},
    {"changes", {M}, 1, 0, V},
    {"clamp", {V, S, S}, 3, 0, V},
    {"clamp_max", {V, S}, 2, 0, V},
    {"clamp_min", {V, S}, 2, 0, V},
    {"cos", {V}, 1, 0, V},
    {"cosh", {V}, 1, 0, V},
    {"count_over_time", {M}, 1, 0, V},
    {"day_of_month", {V}, 0, 1, V},
    {"day_of_week", {V}, 0, 1, V},
    {"day_of_year", {V}, 0, 1, V},
    {"days_in_month", {V}, 0, 1, V},
    {"deg", {V}, 1, 0, V},
    {"delta", {M}, 1, 0, V},
    {"deriv", {M}, 1, 0, V},
    {"exp", {V}, 1, 0, V},
    {"floor", {V}, 1, 0, V},
    {"histogram_avg", {V}, 1, 0, V},
    {"histogram_count", {V}, 1, 0, V},
    {"histogram_fraction", {S, S, V}, 3, 0, V},
    {"histogram_quantile", {S, V}, 2, 0, V},
    {"histogram_stddev", {V}, 1, 0, V},
    {"histogram_stdvar", {V}, 1, 0, V},
    {"histogram_sum", {V}, 1, 0, V},
    {"hour", {V}, 0, 1, V},
    {"idelta", {M}, 1, 0, V},
    {"increase", {M}, 1, 0, V},
    {"irate", {M}, 1, 0, V},
    {"label_join", {V, STR, STR, STR}, 3, -1, V},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V},
    {"last_over_time", {M}, 1, 0, V},
    {"ln", {V}, 1, 0, V},
    {"log10", {V}, 1, 0, V},
    {"log2", {V}, 1, 0, V},
    {"max_over_time", {M}, 1, 0, V},
    {"min_over_time", {M}, 1, 0, V},
    {"minute", {V}, 0, 1, V},
    {"month", {V}, 0, 1, V},
    {"pi", {S}, 0, 0, S},
    {"predict_linear", {M, S}, 2, 0, V},
    {"present_over_time", {M}, 1, 0, V},
    {"quantile_over_time", {S, M}, 2, 0, V},
    {"rad", {V}, 1, 0, V},
    {"rate", {M}, 1, 0, V},
    {"resets", {M}, 1, 0, V},
    {"round", {V, S}, 1, 1, V},
    {"scalar", {V}, 1, 0, S},
    {"sgn", {V}, 1, 0, V},
    {"sin", {V}, 1, 0, V},
    {"sinh", {V}, 1, 0, V},
    {"sort", {V}, 1, 0, V},
    {"sort_desc", {V}, 1, 0, V},
    {"sqrt", {V}, 1, 0, V},
    {"stddev_over_time", {M}, 1, 0, V},
    {"stdvar_over_time", {M}, 1, 0, V},
    {"sum_over_time", {M}, 1, 0, V},
    {"tan", {V}, 1, 0, V},
    {"tanh", {V}, 1, 0, V},
    {"time", {S}, 0, 0, S},
    {"timestamp", {V}, 1, 0, V},
    {"vector", {S}, 1, 0, V},
    {"year", {V}, 0, 1, V},
};

const tsdb_promql_function *tsdb_promql_parse__function(const char *name, size_t len) {
  size_t lo = 0, hi = sizeof functions / sizeof functions[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    size_t fl = strlen(functions[mid].name);
    int c = strncmp(name, functions[mid].name, len < fl ? len : fl);
    if (c == 0) c = len < fl ? -1 : len > fl ? 1 : 0;
    if (c == 0) return &functions[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

void tsdb_promql_parse__verror(const char *text, size_t len, size_t pos, tsdb_promql_error *err,
                               const char *fmt, va_list ap) {
  /* posrange.StartPosInput: the line counts newlines before pos, the
   * column is pos minus the last newline's offset. */
  unsigned line = 1;
  size_t last_nl = (size_t)-1;
  if (pos > len) pos = len;
  for (size_t i = 0; i < pos; i++)
    if (text[i] == '\n') line++, last_nl = i;
  err->pos = pos;
  err->line = line;
  err->col = (unsigned)(pos - last_nl);
  int n = snprintf(err->msg, sizeof err->msg, "%u:%u: parse error: ", err->line, err->col);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof err->msg) vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
}

void tsdb_promql_parse__error(const char *text, size_t len, size_t pos, tsdb_promql_error *err,
                              const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tsdb_promql_parse__verror(text, len, pos, err, fmt, ap);
  va_end(ap);
}

typedef struct parser {
  tsdb_promql_lexer lx;
  tsdb_promql_token tok;
  tsdb_promql_query *q;
  tsdb_promql_error *err;
  bool failed;
  int depth;
} parser;

static void *fail(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void *fail(parser *p, size_t pos, const char *fmt, ...) {
  if (p->failed) return NULL; /* the first error is the one reported, as Prometheus does */
  va_list ap;
  va_start(ap, fmt);
  tsdb_promql_parse__verror(p->lx.text, p->lx.len, pos, p->err, fmt, ap);
  va_end(ap);
  p->failed = true;
  return NULL;
}

static void advance(parser *p) { tsdb_promql_lex__next(&p->lx, &p->tok); }

static tsdb_promql_token peek(parser *p) {
  tsdb_promql_lexer copy = p->lx;
  tsdb_promql_token t;
  tsdb_promql_lex__next(&copy, &t);
  return t;
}

static const char *tok_text(const parser *p) { return p->lx.text + p->tok.pos; }

static bool is_kw(const parser *p, const char *kw) {
  return p->tok.type == TOK_IDENT && strlen(kw) == p->tok.len &&
         !strncasecmp(tok_text(p), kw, p->tok.len);
}

static int aggr_of(const char *s, size_t len) {
  for (int i = 0; i <= TSDB_PROMQL_QUANTILE; i++) {
    const char *n = tsdb_promql_aggr_name((tsdb_promql_aggr)i);
    if (strlen(n) == len && !strncasecmp(s, n, len)) return i;
  }
  return -1;
}

static bool word_in(const char *s, size_t len, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == len && !strncasecmp(s, *list, len)) return true;
  return false;
}

static const char *const keywords[] = {"by",         "without",     "on",   "ignoring",
                                       "group_left", "group_right", "bool", "offset",
                                       "start",      "end",         NULL};
static const char *const op_words[] = {"and", "or", "unless", "atan2", NULL};

/* Item.desc() of lex.go, for "unexpected ..." messages. */
static const char *describe(const parser *p, char *buf, size_t len) {
  static const char *punct[] = {
      [TOK_LPAREN] = "\"(\"",     [TOK_RPAREN] = "\")\"",     [TOK_LBRACE] = "\"{\"",
      [TOK_RBRACE] = "\"}\"",     [TOK_LBRACKET] = "\"[\"",   [TOK_RBRACKET] = "\"]\"",
      [TOK_COMMA] = "\",\"",      [TOK_COLON] = "\":\"",      [TOK_AT] = "<@>",
      [TOK_ASSIGN] = "\"=\"",     [TOK_EQLC] = "<op:==>",     [TOK_NEQ] = "<op:!=>",
      [TOK_EQL_REGEX] = "\"=~\"", [TOK_NEQ_REGEX] = "\"!~\"", [TOK_LSS] = "<op:<>",
      [TOK_LTE] = "<op:<=>",      [TOK_GTR] = "<op:>>",       [TOK_GTE] = "<op:>=>",
      [TOK_ADD] = "<op:+>",       [TOK_SUB] = "<op:->",       [TOK_MUL] = "<op:*>",
      [TOK_DIV] = "<op:/>",       [TOK_MOD] = "<op:%>",       [TOK_POW] = "<op:^>"};
  const tsdb_promql_token *t = &p->tok;
  const char *s = tok_text(p);
  int n = t->len > 40 ? 40 : (int)t->len;
  const char *more = t->len > 40 ? "..." : "";
  switch (t->type) {
  case TOK_EOF:
    return "end of input";
  case TOK_ERROR:
    return t->errmsg;
  case TOK_IDENT:
    if (aggr_of(s, t->len) >= 0)
      snprintf(buf, len, "<aggr:%.*s>", n, s);
    else if (word_in(s, t->len, op_words))
      snprintf(buf, len, "<op:%.*s>", n, s);
    else if (word_in(s, t->len, keywords))
      snprintf(buf, len, "<%.*s>", n, s);
    else
      snprintf(buf, len, "identifier \"%.*s%s\"", n, s, more);
    return buf;
  case TOK_METRIC_IDENT:
    snprintf(buf, len, "metric identifier \"%.*s%s\"", n, s, more);
    return buf;
  case TOK_NUMBER:
    snprintf(buf, len, "number \"%.*s%s\"", n, s, more);
    return buf;
  case TOK_DURATION:
    snprintf(buf, len, "duration \"%.*s%s\"", n, s, more);
    return buf;
  case TOK_STRING:
    snprintf(buf, len, "string %.*s%s", n, s, more);
    return buf;
  default:
    return punct[t->type];
  }
}

static void *unexpected(parser *p, const char *context, const char *expected) {
  char buf[96];
  if (p->tok.type == TOK_ERROR) return fail(p, p->tok.pos, "%s", p->tok.errmsg);
  return fail(p, p->tok.pos, "unexpected %s%s%s%s%s", describe(p, buf, sizeof buf),
              context ? " in " : "", context ? context : "", expected ? ", expected " : "",
              expected ? expected : "");
}

static bool expect(parser *p, tsdb_promql_tok type, const char *context, const char *expected) {
  if (p->tok.type != type) {
    unexpected(p, context, expected);
    return false;
  }
  advance(p);
  return true;
}

static tsdb_promql_node *node(parser *p, tsdb_promql_kind kind, size_t pos, int height) {
  if (height > TSDB_PROMQL_MAX_DEPTH)
    return fail(p, pos, "expression nested too deeply (more than %d levels)",
                TSDB_PROMQL_MAX_DEPTH);
  tsdb_promql_node *n = tsdb_promql_ast__alloc(p->q, sizeof *n);
  if (!n) return fail(p, pos, "out of memory");
  n->kind = kind;
  n->pos = pos;
  n->height = height;
  return n;
}

static bool copy_str(parser *p, const char *s, size_t len, tsdb_promql_str *out) {
  char *c = tsdb_promql_ast__alloc(p->q, len + 1);
  if (!c) return fail(p, p->tok.pos, "out of memory"), false;
  memcpy(c, s, len);
  out->s = c;
  out->len = len;
  return true;
}

/* A growable list of pointers or strings in the arena, doubled as needed. */
static bool grow(parser *p, void **v, size_t n, size_t *cap, size_t elem) {
  if (n < *cap) return true;
  size_t ncap = *cap ? *cap * 2 : 4;
  void *nv = tsdb_promql_ast__alloc(p->q, ncap * elem);
  if (!nv) return fail(p, p->tok.pos, "out of memory"), false;
  if (n) memcpy(nv, *v, n * elem);
  *v = nv;
  *cap = ncap;
  return true;
}

static tsdb_promql_node *parse_expr(parser *p, int min_prec);

/* A label name: any identifier, keywords included (grammar: maybe_label). */
static bool label_name(parser *p, const char *context, const char *expected, tsdb_promql_str *out) {
  if (p->tok.type != TOK_IDENT) return unexpected(p, context, expected), false;
  if (!copy_str(p, tok_text(p), p->tok.len, out)) return false;
  advance(p);
  return true;
}

/* "(" [label {"," label} [","]] ")" */
static bool grouping_labels(parser *p, tsdb_promql_str **labels, size_t *n) {
  size_t cap = 0;
  *labels = NULL;
  *n = 0;
  if (!expect(p, TOK_LPAREN, "grouping opts", "\"(\"")) return false;
  while (p->tok.type != TOK_RPAREN) {
    if (!grow(p, (void **)labels, *n, &cap, sizeof **labels)) return false;
    if (!label_name(p, "grouping opts", "label", &(*labels)[*n])) return false;
    (*n)++;
    if (p->tok.type == TOK_COMMA)
      advance(p);
    else if (p->tok.type != TOK_RPAREN)
      return unexpected(p, "grouping opts", "\",\" or \")\""), false;
  }
  advance(p);
  return true;
}

static bool matcher_matches_empty(const tsdb_promql_matcher *m) {
  return tsdb_promql_matches(m, "", 0);
}

/* name? "{" matchers "}"? with the name given as tok (or none). */
static tsdb_promql_node *parse_selector(parser *p, bool named) {
  size_t pos = p->tok.pos;
  tsdb_promql_node *n = node(p, TSDB_PROMQL_VECTOR, pos, 1);
  if (!n) return NULL;
  if (named) {
    if (!copy_str(p, tok_text(p), p->tok.len, &n->u.vector.name)) return NULL;
    advance(p);
  }
  if (p->tok.type == TOK_LBRACE) {
    size_t cap = 0;
    advance(p);
    while (p->tok.type != TOK_RBRACE) {
      tsdb_promql_matcher m = {0};
      if (!label_name(p, "label matching", "label", &m.name)) return NULL;
      switch (p->tok.type) {
      case TOK_ASSIGN:
        m.op = TSDB_PROMQL_MATCH_EQ;
        break;
      case TOK_NEQ:
        m.op = TSDB_PROMQL_MATCH_NE;
        break;
      case TOK_EQL_REGEX:
        m.op = TSDB_PROMQL_MATCH_RE;
        break;
      case TOK_NEQ_REGEX:
        m.op = TSDB_PROMQL_MATCH_NRE;
        break;
      default:
        return unexpected(p, "label matching", "label matching operator");
      }
      advance(p);
      if (p->tok.type != TOK_STRING) return unexpected(p, "label matching", "string");
      char msg[128];
      if (!tsdb_promql_lex__unquote(p->q, tok_text(p), p->tok.len, &m.value, msg, sizeof msg))
        return fail(p, p->tok.pos, "%s", msg);
      if (m.op == TSDB_PROMQL_MATCH_RE || m.op == TSDB_PROMQL_MATCH_NRE) {
        if (tsdb_promql_regex__compile(m.value.s, m.value.len, &m.re, msg, sizeof msg))
          return fail(p, p->tok.pos, "%s", msg);
        if (!tsdb_promql_ast__own_regex(p->q, m.re)) return fail(p, p->tok.pos, "out of memory");
      }
      advance(p);
      if (!grow(p, (void **)&n->u.vector.matchers, n->u.vector.nmatchers, &cap, sizeof m))
        return NULL;
      n->u.vector.matchers[n->u.vector.nmatchers++] = m;
      if (p->tok.type == TOK_COMMA)
        advance(p);
      else if (p->tok.type != TOK_RBRACE)
        return unexpected(p, "label matching", "\",\" or \"}\"");
    }
    advance(p);
  }
  /* checkAST's rules for a vector selector. */
  if (n->u.vector.name.len) {
    for (size_t i = 0; i < n->u.vector.nmatchers; i++) {
      const tsdb_promql_matcher *m = &n->u.vector.matchers[i];
      if (m->name.len == 8 && !memcmp(m->name.s, "__name__", 8))
        return fail(p, pos, "metric name must not be set twice: \"%s\" or \"%s\"",
                    n->u.vector.name.s, m->value.s);
    }
  } else {
    bool not_empty = false;
    for (size_t i = 0; i < n->u.vector.nmatchers; i++)
      if (!matcher_matches_empty(&n->u.vector.matchers[i])) not_empty = true;
    if (!not_empty)
      return fail(p, pos, "vector selector must contain at least one non-empty matcher");
  }
  return n;
}

/* "(" [expr {"," expr} [","]] ")" */
static bool call_args(parser *p, const char *context, tsdb_promql_node ***args, size_t *n,
                      int *height) {
  size_t cap = 0;
  *args = NULL;
  *n = 0;
  if (!expect(p, TOK_LPAREN, context, "\"(\"")) return false;
  while (p->tok.type != TOK_RPAREN) {
    if (!grow(p, (void **)args, *n, &cap, sizeof **args)) return false;
    tsdb_promql_node *a = parse_expr(p, 0);
    if (!a) return false;
    if (a->height + 1 > *height) *height = a->height + 1;
    (*args)[(*n)++] = a;
    if (p->tok.type == TOK_COMMA)
      advance(p);
    else if (p->tok.type != TOK_RPAREN)
      return unexpected(p, context, "\",\" or \")\""), false;
  }
  advance(p);
  return true;
}

static tsdb_promql_node *parse_aggregate(parser *p, tsdb_promql_aggr op) {
  size_t pos = p->tok.pos;
  tsdb_promql_node *n = node(p, TSDB_PROMQL_AGGREGATE, pos, 1);
  if (!n) return NULL;
  n->u.aggregate.op = op;
  advance(p);
  for (int before = 1; before >= 0; before--) {
    if (is_kw(p, "by") || is_kw(p, "without")) {
      if (n->u.aggregate.grouping) return unexpected(p, "aggregation", NULL);
      n->u.aggregate.grouping = true;
      n->u.aggregate.without = is_kw(p, "without");
      advance(p);
      if (!grouping_labels(p, &n->u.aggregate.labels, &n->u.aggregate.nlabels)) return NULL;
    }
    if (before) {
      tsdb_promql_node **args;
      size_t nargs;
      if (!call_args(p, "aggregation", &args, &nargs, &n->height)) return NULL;
      if (n->height > TSDB_PROMQL_MAX_DEPTH)
        return fail(p, pos, "expression nested too deeply (more than %d levels)",
                    TSDB_PROMQL_MAX_DEPTH);
      size_t want = op >= TSDB_PROMQL_TOPK ? 2 : 1;
      if (nargs == 0) return fail(p, pos, "no arguments for aggregate expression provided");
      if (nargs != want)
        return fail(p, pos,
                    "wrong number of arguments for aggregate expression provided, expected %zu, "
                    "got %zu",
                    want, nargs);
      n->u.aggregate.param = want == 2 ? args[0] : NULL;
      n->u.aggregate.expr = args[want - 1];
    }
  }
  tsdb_promql_type t = tsdb_promql_type_of(n->u.aggregate.expr);
  if (t != TSDB_PROMQL_T_VECTOR)
    return fail(p, n->u.aggregate.expr->pos,
                "expected type instant vector in aggregation expression, got %s",
                tsdb_promql_type_name(t));
  if (n->u.aggregate.param) {
    tsdb_promql_type want = op == TSDB_PROMQL_COUNT_VALUES ? STR : S;
    t = tsdb_promql_type_of(n->u.aggregate.param);
    if (t != want)
      return fail(p, n->u.aggregate.param->pos, "expected type %s in aggregation parameter, got %s",
                  tsdb_promql_type_name(want), tsdb_promql_type_name(t));
  }
  return n;
}

static tsdb_promql_node *parse_call(parser *p) {
  size_t pos = p->tok.pos;
  const tsdb_promql_function *fn = tsdb_promql_parse__function(tok_text(p), p->tok.len);
  if (!fn)
    return fail(p, pos, "unknown function with name \"%.*s\"",
                (int)(p->tok.len > 60 ? 60 : p->tok.len), tok_text(p));
  tsdb_promql_node *n = node(p, TSDB_PROMQL_CALL, pos, 1);
  if (!n) return NULL;
  n->u.call.fn = fn;
  advance(p);
  if (!call_args(p, "function call", &n->u.call.args, &n->u.call.nargs, &n->height)) return NULL;
  if (n->height > TSDB_PROMQL_MAX_DEPTH)
    return fail(p, pos, "expression nested too deeply (more than %d levels)",
                TSDB_PROMQL_MAX_DEPTH);
  size_t na = n->u.call.nargs, fixed = (size_t)fn->nargs;
  if (fn->variadic == 0 && na != fixed)
    return fail(p, pos, "expected %zu argument(s) in call to \"%s\", got %zu", fixed, fn->name, na);
  if (fn->variadic != 0 && na < fixed)
    return fail(p, pos, "expected at least %zu argument(s) in call to \"%s\", got %zu", fixed,
                fn->name, na);
  if (fn->variadic > 0 && na > fixed + (size_t)fn->variadic)
    return fail(p, pos, "expected at most %zu argument(s) in call to \"%s\", got %zu",
                fixed + (size_t)fn->variadic, fn->name, na);
  for (size_t i = 0; i < na; i++) {
    /* The last declared type stands for every further argument (label_join). */
    size_t declared = fixed + (fn->variadic != 0 ? 1 : 0);
    size_t ti = i < declared ? i : declared - 1;
    tsdb_promql_type want = fn->args[ti], t = tsdb_promql_type_of(n->u.call.args[i]);
    if (t != want)
      return fail(p, n->u.call.args[i]->pos, "expected type %s in call to function \"%s\", got %s",
                  tsdb_promql_type_name(want), fn->name, tsdb_promql_type_name(t));
  }
  return n;
}

static tsdb_promql_node *parse_primary(parser *p) {
  tsdb_promql_token t = p->tok;
  const char *s = tok_text(p);
  switch (t.type) {
  case TOK_NUMBER: {
    tsdb_promql_node *n = node(p, TSDB_PROMQL_NUMBER, t.pos, 1);
    if (!n) return NULL;
    if (!tsdb_promql_lex__number(s, t.len, &n->u.number))
      return fail(p, t.pos, "error parsing number: \"%.*s\"", (int)(t.len > 60 ? 60 : t.len), s);
    advance(p);
    return n;
  }
  case TOK_STRING: {
    tsdb_promql_node *n = node(p, TSDB_PROMQL_STRING, t.pos, 1);
    char msg[128];
    if (!n) return NULL;
    if (!tsdb_promql_lex__unquote(p->q, s, t.len, &n->u.string, msg, sizeof msg))
      return fail(p, t.pos, "%s", msg);
    advance(p);
    return n;
  }
  case TOK_LPAREN: {
    advance(p);
    tsdb_promql_node *e = parse_expr(p, 0);
    if (!e) return NULL;
    if (!expect(p, TOK_RPAREN, "paren expression", "\")\"")) return NULL;
    tsdb_promql_node *n = node(p, TSDB_PROMQL_PAREN, t.pos, e->height + 1);
    if (n) n->u.paren.expr = e;
    return n;
  }
  case TOK_LBRACE:
    return parse_selector(p, false);
  case TOK_METRIC_IDENT:
    return parse_selector(p, true);
  case TOK_IDENT: {
    if ((t.len == 3 && (!strncasecmp(s, "inf", 3) || !strncasecmp(s, "nan", 3)))) {
      tsdb_promql_node *n = node(p, TSDB_PROMQL_NUMBER, t.pos, 1);
      if (!n) return NULL;
      tsdb_promql_lex__number(s, t.len, &n->u.number);
      advance(p);
      return n;
    }
    tsdb_promql_token next = peek(p);
    int aggr = aggr_of(s, t.len);
    bool grouping_next = next.type == TOK_IDENT &&
                         ((next.len == 2 && !strncasecmp(p->lx.text + next.pos, "by", 2)) ||
                          (next.len == 7 && !strncasecmp(p->lx.text + next.pos, "without", 7)));
    if (aggr >= 0 && (next.type == TOK_LPAREN || grouping_next))
      return parse_aggregate(p, (tsdb_promql_aggr)aggr);
    if (next.type == TOK_LPAREN) return parse_call(p);
    return parse_selector(p, true);
  }
  default:
    return unexpected(p, NULL, NULL);
  }
}

static bool signed_duration(parser *p, const char *context, int64_t *ms) {
  bool neg = false;
  size_t pos = p->tok.pos;
  if (p->tok.type == TOK_SUB || p->tok.type == TOK_ADD) {
    neg = p->tok.type == TOK_SUB;
    advance(p);
  }
  if (p->tok.type != TOK_DURATION && p->tok.type != TOK_NUMBER)
    return unexpected(p, context, "duration"), false;
  char msg[128];
  if (!tsdb_promql_lex__duration(tok_text(p), p->tok.len, p->tok.type == TOK_NUMBER, ms, msg,
                                 sizeof msg))
    return fail(p, pos, "%s", msg), false;
  if (neg) *ms = -*ms;
  advance(p);
  return true;
}

/* The offset and @ of n, or NULL when n cannot have them. */
static tsdb_promql_mods *mods_of(tsdb_promql_node *n) {
  if (n->kind == TSDB_PROMQL_VECTOR) return &n->u.vector.mods;
  if (n->kind == TSDB_PROMQL_MATRIX) return &n->u.matrix.vector->u.vector.mods;
  if (n->kind == TSDB_PROMQL_SUBQUERY) return &n->u.subquery.mods;
  return NULL;
}

static tsdb_promql_node *parse_postfix(parser *p, tsdb_promql_node *n) {
  for (;;) {
    size_t pos = p->tok.pos;
    if (p->tok.type == TOK_LBRACKET) {
      int64_t range, step = 0;
      bool sub = false;
      p->lx.in_brackets = true;
      advance(p);
      if (p->tok.type != TOK_DURATION && p->tok.type != TOK_NUMBER)
        return p->lx.in_brackets = false, unexpected(p, "range selector", "duration");
      if (!signed_duration(p, "range selector", &range)) return NULL;
      if (p->tok.type == TOK_COLON) {
        sub = true;
        advance(p);
        if (p->tok.type != TOK_RBRACKET && !signed_duration(p, "subquery selector", &step))
          return NULL;
      }
      p->lx.in_brackets = false;
      if (p->tok.type != TOK_RBRACKET)
        return unexpected(p, sub ? "subquery selector" : "range selector",
                          sub ? "\"]\"" : "\":\" or \"]\"");
      if (range <= 0) return fail(p, pos, "duration must be greater than 0");
      if (sub && step < 0) return fail(p, pos, "duration must be greater than 0");
      advance(p);
      if (sub) {
        tsdb_promql_type t = tsdb_promql_type_of(n);
        if (t != TSDB_PROMQL_T_VECTOR)
          return fail(p, n->pos, "subquery is only allowed on instant vector, got %s instead",
                      tsdb_promql_type_name(t));
        tsdb_promql_node *s = node(p, TSDB_PROMQL_SUBQUERY, n->pos, n->height + 1);
        if (!s) return NULL;
        s->u.subquery.expr = n;
        s->u.subquery.range_ms = range;
        s->u.subquery.step_ms = step;
        n = s;
      } else {
        if (n->kind != TSDB_PROMQL_VECTOR)
          return fail(p, n->pos, "ranges only allowed for vector selectors");
        if (n->u.vector.mods.has_offset)
          return fail(p, n->pos, "no offset modifiers allowed before range");
        if (n->u.vector.mods.at != TSDB_PROMQL_AT_NONE)
          return fail(p, n->pos, "no @ modifiers allowed before range");
        tsdb_promql_node *m = node(p, TSDB_PROMQL_MATRIX, n->pos, n->height + 1);
        if (!m) return NULL;
        m->u.matrix.vector = n;
        m->u.matrix.range_ms = range;
        n = m;
      }
    } else if (is_kw(p, "offset")) {
      advance(p);
      int64_t off;
      if (!signed_duration(p, "offset", &off)) return NULL;
      tsdb_promql_mods *m = mods_of(n);
      if (!m)
        return fail(p, n->pos,
                    "offset modifier must be preceded by an instant vector selector or range "
                    "vector selector or a subquery");
      if (m->has_offset) return fail(p, pos, "offset may not be set multiple times");
      m->has_offset = true;
      m->offset_ms = off;
    } else if (p->tok.type == TOK_AT) {
      advance(p);
      tsdb_promql_at at = TSDB_PROMQL_AT_TIME;
      int64_t at_ms = 0;
      double at_s = 0;
      if (is_kw(p, "start") || is_kw(p, "end")) {
        at = is_kw(p, "start") ? TSDB_PROMQL_AT_START : TSDB_PROMQL_AT_END;
        advance(p);
        if (!expect(p, TOK_LPAREN, "@", "\"(\"") || !expect(p, TOK_RPAREN, "@", "\")\""))
          return NULL;
      } else {
        bool neg = false;
        if (p->tok.type == TOK_SUB || p->tok.type == TOK_ADD) {
          neg = p->tok.type == TOK_SUB;
          advance(p);
        }
        double v;
        bool special = (is_kw(p, "inf") || is_kw(p, "nan"));
        if (p->tok.type != TOK_NUMBER && !special) return unexpected(p, "@", "timestamp");
        if (!tsdb_promql_lex__number(tok_text(p), p->tok.len, &v))
          return fail(p, p->tok.pos, "error parsing number");
        if (neg) v = -v;
        /* timestamp.FromFloatSeconds must stay within int64 milliseconds. */
        if (!(fabs(v) < 9.2e15)) return fail(p, pos, "timestamp out of bounds for @ modifier");
        at_ms = (int64_t)llround(v * 1000.0);
        at_s = v;
        advance(p);
      }
      tsdb_promql_mods *m = mods_of(n);
      if (!m)
        return fail(p, n->pos,
                    "@ modifier must be preceded by an instant vector selector or range vector "
                    "selector or a subquery");
      if (m->at != TSDB_PROMQL_AT_NONE)
        return fail(p, pos, "@ <timestamp> may not be set multiple times");
      m->at = at;
      m->at_ms = at_ms;
      m->at_seconds = at_s;
    } else {
      return n;
    }
  }
}

static tsdb_promql_node *parse_unary(parser *p) {
  if (p->tok.type == TOK_ADD || p->tok.type == TOK_SUB) {
    size_t pos = p->tok.pos;
    bool minus = p->tok.type == TOK_SUB;
    advance(p);
    /* `unary_op expr %prec MUL`: the operand takes only ^ and tighter. */
    tsdb_promql_node *e = parse_expr(p, 6);
    if (!e) return NULL;
    if (e->kind == TSDB_PROMQL_NUMBER) {
      if (minus) e->u.number = -e->u.number;
      e->pos = pos;
      return e;
    }
    tsdb_promql_type t = tsdb_promql_type_of(e);
    if (t != TSDB_PROMQL_T_SCALAR && t != TSDB_PROMQL_T_VECTOR)
      return fail(p, pos,
                  "unary expression only allowed on expressions of type scalar or instant vector, "
                  "got \"%s\"",
                  tsdb_promql_type_name(t));
    tsdb_promql_node *n = node(p, TSDB_PROMQL_UNARY, pos, e->height + 1);
    if (n) {
      n->u.unary.minus = minus;
      n->u.unary.expr = e;
    }
    return n;
  }
  tsdb_promql_node *n = parse_primary(p);
  return n ? parse_postfix(p, n) : NULL;
}

static int binop_of(const parser *p, tsdb_promql_op *op) {
  static const struct {
    tsdb_promql_tok tok;
    tsdb_promql_op op;
    int prec;
  } ops[] = {
      {TOK_EQLC, TSDB_PROMQL_EQ, 3}, {TOK_NEQ, TSDB_PROMQL_NE, 3},  {TOK_LTE, TSDB_PROMQL_LE, 3},
      {TOK_LSS, TSDB_PROMQL_LT, 3},  {TOK_GTE, TSDB_PROMQL_GE, 3},  {TOK_GTR, TSDB_PROMQL_GT, 3},
      {TOK_ADD, TSDB_PROMQL_ADD, 4}, {TOK_SUB, TSDB_PROMQL_SUB, 4}, {TOK_MUL, TSDB_PROMQL_MUL, 5},
      {TOK_DIV, TSDB_PROMQL_DIV, 5}, {TOK_MOD, TSDB_PROMQL_MOD, 5}, {TOK_POW, TSDB_PROMQL_POW, 6}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (p->tok.type == ops[i].tok) return *op = ops[i].op, ops[i].prec;
  if (is_kw(p, "or")) return *op = TSDB_PROMQL_OR, 1;
  if (is_kw(p, "and")) return *op = TSDB_PROMQL_AND, 2;
  if (is_kw(p, "unless")) return *op = TSDB_PROMQL_UNLESS, 2;
  if (is_kw(p, "atan2")) return *op = TSDB_PROMQL_ATAN2, 5;
  return 0;
}

static bool is_comparison(tsdb_promql_op op) {
  return op >= TSDB_PROMQL_EQ && op <= TSDB_PROMQL_GT;
}
static bool is_set(tsdb_promql_op op) { return op <= TSDB_PROMQL_UNLESS; }

static tsdb_promql_node *check_binary(parser *p, tsdb_promql_node *n, size_t op_pos) {
  tsdb_promql_op op = n->u.binary.op;
  tsdb_promql_type lt = tsdb_promql_type_of(n->u.binary.lhs),
                   rt = tsdb_promql_type_of(n->u.binary.rhs);
  if (n->u.binary.return_bool && !is_comparison(op))
    return fail(p, op_pos, "bool modifier can only be used on comparison operators");
  if (is_comparison(op) && !n->u.binary.return_bool && lt == S && rt == S)
    return fail(p, op_pos, "comparisons between scalars must use BOOL modifier");
  if (n->u.binary.matching == 1)
    for (size_t i = 0; i < n->u.binary.nlabels; i++)
      for (size_t j = 0; j < n->u.binary.ninclude; j++)
        if (n->u.binary.labels[i].len == n->u.binary.include[j].len &&
            !memcmp(n->u.binary.labels[i].s, n->u.binary.include[j].s, n->u.binary.labels[i].len))
          return fail(p, op_pos, "label \"%s\" must not occur in ON and GROUP clause at once",
                      n->u.binary.labels[i].s);
  if (lt != S && lt != V)
    return fail(p, n->u.binary.lhs->pos,
                "binary expression must contain only scalar and instant vector types");
  if (rt != S && rt != V)
    return fail(p, n->u.binary.rhs->pos,
                "binary expression must contain only scalar and instant vector types");
  if (lt != V || rt != V) {
    if (n->u.binary.nlabels > 0)
      return fail(p, n->pos, "vector matching only allowed between instant vectors");
    /* Prometheus drops an empty on()/ignoring() between scalars. */
    n->u.binary.matching = 0;
    n->u.binary.group = 0;
    n->u.binary.ninclude = 0;
  } else if (is_set(op) && n->u.binary.group != 0) {
    return fail(p, n->pos, "no grouping allowed for \"%s\" operation", tsdb_promql_op_name(op));
  }
  if ((lt == S || rt == S) && is_set(op))
    return fail(p, n->pos, "set operator \"%s\" not allowed in binary scalar expression",
                tsdb_promql_op_name(op));
  return n;
}

static tsdb_promql_node *parse_expr(parser *p, int min_prec) {
  if (++p->depth > TSDB_PROMQL_MAX_DEPTH) {
    p->depth--;
    return fail(p, p->tok.pos, "expression nested too deeply (more than %d levels)",
                TSDB_PROMQL_MAX_DEPTH);
  }
  tsdb_promql_node *lhs = parse_unary(p);
  tsdb_promql_op op;
  int prec;
  while (lhs && (prec = binop_of(p, &op)) >= min_prec && prec > 0) {
    size_t op_pos = p->tok.pos;
    advance(p);
    tsdb_promql_node *n = node(p, TSDB_PROMQL_BINARY, lhs->pos, 1);
    if (!n) break;
    n->u.binary.op = op;
    n->u.binary.op_pos = op_pos;
    n->u.binary.lhs = lhs;
    if (is_kw(p, "bool")) {
      n->u.binary.return_bool = true;
      advance(p);
    }
    if (is_kw(p, "on") || is_kw(p, "ignoring")) {
      n->u.binary.matching = is_kw(p, "on") ? 1 : 2;
      advance(p);
      if (!grouping_labels(p, &n->u.binary.labels, &n->u.binary.nlabels)) break;
      if (is_kw(p, "group_left") || is_kw(p, "group_right")) {
        n->u.binary.group = is_kw(p, "group_left") ? 1 : 2;
        advance(p);
        if (p->tok.type == TOK_LPAREN &&
            !grouping_labels(p, &n->u.binary.include, &n->u.binary.ninclude))
          break;
      }
    }
    /* ^ is right-associative, the rest left. */
    n->u.binary.rhs = parse_expr(p, op == TSDB_PROMQL_POW ? prec : prec + 1);
    if (!n->u.binary.rhs) break;
    int h = lhs->height > n->u.binary.rhs->height ? lhs->height : n->u.binary.rhs->height;
    n->height = h + 1;
    if (n->height > TSDB_PROMQL_MAX_DEPTH) {
      fail(p, op_pos, "expression nested too deeply (more than %d levels)", TSDB_PROMQL_MAX_DEPTH);
      break;
    }
    lhs = check_binary(p, n, op_pos);
  }
  p->depth--;
  return p->failed ? NULL : lhs;
}

int tsdb_promql_parse(const char *text, size_t len, tsdb_promql_query **out,
                      tsdb_promql_error *err) {
  *out = NULL;
  tsdb_promql_query *q = calloc(1, sizeof *q);
  if (!q) {
    tsdb_promql_parse__error("", 0, 0, err, "out of memory");
    return -1;
  }
  char *copy = tsdb_promql_ast__alloc(q, len + 1);
  if (!copy) {
    tsdb_promql_free(q);
    tsdb_promql_parse__error("", 0, 0, err, "out of memory");
    return -1;
  }
  if (len) memcpy(copy, text, len);
  q->text = copy;
  q->text_len = len;
  parser p = {.lx = {.text = copy, .len = len}, .q = q, .err = err};
  advance(&p);
  if (p.tok.type == TOK_EOF) {
    fail(&p, 0, "no expression found in input");
  } else {
    q->root = parse_expr(&p, 0);
    if (q->root && p.tok.type != TOK_EOF) unexpected(&p, NULL, NULL);
  }
  if (p.failed) {
    tsdb_promql_free(q);
    return -1;
  }
  *out = q;
  return 0;
}
