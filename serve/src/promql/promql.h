/*
 * PromQL front end: a lexer and recursive-descent parser for the whole
 * language as Prometheus documents it
 * (https://prometheus.io/docs/prometheus/latest/querying/basics/,
 * .../operators/, .../functions/; grammar: prometheus promql/parser
 * generated_parser.y and lex.go), a check pass that accepts the subset this
 * server evaluates (issue 15), and a printer to canonical text.
 *
 * The whole grammar is parsed so that a query we cannot evaluate is told
 * exactly what is not supported, and a query that is not PromQL gets the
 * error Prometheus would give. Errors read like Prometheus' ParseErr:
 * "LINE:COL: parse error: MESSAGE", LINE and COL 1-based, COL counted in
 * bytes from the last newline (posrange.StartPosInput).
 *
 * Memory: a parsed tree lives in one arena owned by the tsdb_promql_query;
 * tsdb_promql_free() releases it with every compiled regex. Nothing is
 * shared between queries: separate queries may be used on separate threads
 * at once; one query is not safe to use from two threads while freed.
 */
#ifndef TSDB_PROMQL_H
#define TSDB_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Past this height an expression is refused, so that every recursive walk
 * (parser, checker, printer, free) has a bounded stack. Prometheus has no
 * such bound (Go stacks grow); 256 levels is far beyond any dashboard. */
#define TSDB_PROMQL_MAX_DEPTH 256

typedef struct tsdb_promql_error {
  size_t pos;    /* byte offset of the offending token, 0-based */
  unsigned line; /* 1-based */
  unsigned col;  /* 1-based, bytes since the last newline */
  char msg[320]; /* "LINE:COL: parse error: ..." */
} tsdb_promql_error;

typedef enum tsdb_promql_kind {
  TSDB_PROMQL_NUMBER,
  TSDB_PROMQL_STRING,
  TSDB_PROMQL_VECTOR,   /* instant vector selector */
  TSDB_PROMQL_MATRIX,   /* range vector selector: a VECTOR and a range */
  TSDB_PROMQL_SUBQUERY, /* expr[range:step] */
  TSDB_PROMQL_CALL,
  TSDB_PROMQL_AGGREGATE,
  TSDB_PROMQL_BINARY,
  TSDB_PROMQL_UNARY,
  TSDB_PROMQL_PAREN
} tsdb_promql_kind;

/* Value types, named in messages as Prometheus' DocumentedType does. */
typedef enum tsdb_promql_type {
  TSDB_PROMQL_T_NONE,
  TSDB_PROMQL_T_SCALAR,
  TSDB_PROMQL_T_VECTOR,
  TSDB_PROMQL_T_MATRIX,
  TSDB_PROMQL_T_STRING
} tsdb_promql_type;

/* Binary operators, lowest precedence first (operators/#binary-operator-precedence). */
typedef enum tsdb_promql_op {
  TSDB_PROMQL_OR,
  TSDB_PROMQL_AND,
  TSDB_PROMQL_UNLESS,
  TSDB_PROMQL_EQ,
  TSDB_PROMQL_NE,
  TSDB_PROMQL_LE,
  TSDB_PROMQL_LT,
  TSDB_PROMQL_GE,
  TSDB_PROMQL_GT,
  TSDB_PROMQL_ADD,
  TSDB_PROMQL_SUB,
  TSDB_PROMQL_MUL,
  TSDB_PROMQL_DIV,
  TSDB_PROMQL_MOD,
  TSDB_PROMQL_ATAN2,
  TSDB_PROMQL_POW
} tsdb_promql_op;

typedef enum tsdb_promql_aggr {
  TSDB_PROMQL_SUM,
  TSDB_PROMQL_AVG,
  TSDB_PROMQL_COUNT,
  TSDB_PROMQL_MIN,
  TSDB_PROMQL_MAX,
  TSDB_PROMQL_GROUP,
  TSDB_PROMQL_STDDEV,
  TSDB_PROMQL_STDVAR,
  TSDB_PROMQL_TOPK,
  TSDB_PROMQL_BOTTOMK,
  TSDB_PROMQL_COUNT_VALUES,
  TSDB_PROMQL_QUANTILE
} tsdb_promql_aggr;

typedef enum tsdb_promql_match_op {
  TSDB_PROMQL_MATCH_EQ,  /* = */
  TSDB_PROMQL_MATCH_NE,  /* != */
  TSDB_PROMQL_MATCH_RE,  /* =~ */
  TSDB_PROMQL_MATCH_NRE, /* !~ */
} tsdb_promql_match_op;

/* A byte string in the arena, NUL-terminated after len bytes (it may hold
 * NUL bytes itself: "\x00" is a valid PromQL escape). */
typedef struct tsdb_promql_str {
  const char *s;
  size_t len;
} tsdb_promql_str;

typedef struct tsdb_promql_regex tsdb_promql_regex;

typedef struct tsdb_promql_matcher {
  tsdb_promql_str name;
  tsdb_promql_match_op op;
  tsdb_promql_str value;
  tsdb_promql_regex *re; /* compiled, fully anchored; for =~ and !~ only */
} tsdb_promql_matcher;

typedef enum tsdb_promql_at {
  TSDB_PROMQL_AT_NONE,
  TSDB_PROMQL_AT_TIME,
  TSDB_PROMQL_AT_START,
  TSDB_PROMQL_AT_END
} tsdb_promql_at;

/* offset and @, on vector selectors and subqueries (a range selector keeps
 * them on its vector selector, as Prometheus' AST does). */
typedef struct tsdb_promql_mods {
  bool has_offset;
  int64_t offset_ms;
  tsdb_promql_at at;
  int64_t at_ms;     /* for TSDB_PROMQL_AT_TIME */
  double at_seconds; /* as written, so that printing it loses nothing */
} tsdb_promql_mods;

typedef struct tsdb_promql_function {
  const char *name;
  tsdb_promql_type args[5];
  int nargs;    /* fixed arguments */
  int variadic; /* 0: none; n > 0: up to n optional; -1: any number more */
  tsdb_promql_type ret;
} tsdb_promql_function;

typedef struct tsdb_promql_node tsdb_promql_node;
struct tsdb_promql_node {
  tsdb_promql_kind kind;
  size_t pos; /* byte offset where the expression starts */
  int height; /* 1 for a leaf */
  union {
    double number;
    tsdb_promql_str string;
    struct {
      tsdb_promql_str name; /* empty when given only inside braces */
      tsdb_promql_matcher *matchers;
      size_t nmatchers;
      tsdb_promql_mods mods;
    } vector;
    struct {
      tsdb_promql_node *vector;
      int64_t range_ms;
    } matrix;
    struct {
      tsdb_promql_node *expr;
      int64_t range_ms;
      int64_t step_ms; /* 0 when not given: the evaluation step */
      tsdb_promql_mods mods;
    } subquery;
    struct {
      const tsdb_promql_function *fn;
      tsdb_promql_node **args;
      size_t nargs;
    } call;
    struct {
      tsdb_promql_aggr op;
      tsdb_promql_node *param; /* topk, bottomk, quantile, count_values */
      tsdb_promql_node *expr;
      bool grouping; /* by or without given */
      bool without;
      tsdb_promql_str *labels;
      size_t nlabels;
    } aggregate;
    struct {
      tsdb_promql_op op;
      size_t op_pos; /* where the operator is, for messages */
      bool return_bool;
      tsdb_promql_node *lhs, *rhs;
      int matching;            /* 0 none, 1 on, 2 ignoring */
      int group;               /* 0 none, 1 group_left, 2 group_right */
      tsdb_promql_str *labels; /* of on/ignoring */
      size_t nlabels;
      tsdb_promql_str *include; /* of group_left/group_right */
      size_t ninclude;
    } binary;
    struct {
      bool minus;
      tsdb_promql_node *expr;
    } unary;
    struct {
      tsdb_promql_node *expr;
    } paren;
  } u;
};

typedef struct tsdb_promql_query tsdb_promql_query;

/* Parses text (len bytes, need not be NUL-terminated) into *out, the whole
 * grammar with Prometheus' type checks. 0, or -1 with err filled and *out
 * NULL. The caller frees *out with tsdb_promql_free(). */
int tsdb_promql_parse(const char *text, size_t len, tsdb_promql_query **out,
                      tsdb_promql_error *err);
const tsdb_promql_node *tsdb_promql_root(const tsdb_promql_query *q);
tsdb_promql_type tsdb_promql_type_of(const tsdb_promql_node *n);
void tsdb_promql_free(tsdb_promql_query *q);

/* Whether this server evaluates the query (issue 15's subset). 0, or -1
 * with err naming the first construct that is not supported. */
int tsdb_promql_check(const tsdb_promql_query *q, tsdb_promql_error *err);

/* Canonical PromQL text of a tree, NUL-terminated, malloc'd (the caller
 * frees it), or NULL when out of memory. Parsing it gives an equal tree. */
char *tsdb_promql_print(const tsdb_promql_node *n);

/* Trees equal as values (positions ignored; NaN equals NaN). */
bool tsdb_promql_equal(const tsdb_promql_node *a, const tsdb_promql_node *b);

/* Whether a matcher accepts a label value (an absent label is ""). */
bool tsdb_promql_matches(const tsdb_promql_matcher *m, const char *value, size_t len);

/* Names for messages and the printer. */
const char *tsdb_promql_op_name(tsdb_promql_op op);
const char *tsdb_promql_aggr_name(tsdb_promql_aggr op);
const char *tsdb_promql_type_name(tsdb_promql_type t);

#endif /* TSDB_PROMQL_H */
