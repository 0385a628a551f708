/*
 * The tree's memory and its plain accessors. A query's nodes, strings and
 * lists come from one arena of blocks (freed at once, so the parser's error
 * paths free nothing by hand); compiled regexes are the only other
 * resources, kept on a list beside it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql_internal.h"

struct tsdb_promql_block {
  tsdb_promql_block *next;
  size_t used, cap;
  max_align_t data[];
};

struct tsdb_promql_relist {
  tsdb_promql_relist *next;
  tsdb_promql_regex *re;
};

#define BLOCK_MIN 4096

void *tsdb_promql_ast__alloc(tsdb_promql_query *q, size_t size) {
  size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  tsdb_promql_block *b = q->blocks;
  if (!b || b->cap - b->used < size) {
    size_t cap = size > BLOCK_MIN ? size : BLOCK_MIN;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = q->blocks;
    q->blocks = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += size;
  memset(p, 0, size);
  return p;
}

bool tsdb_promql_ast__own_regex(tsdb_promql_query *q, tsdb_promql_regex *re) {
  tsdb_promql_relist *l = malloc(sizeof *l);
  if (!l) {
    tsdb_promql_regex__free(re);
    return false;
  }
  l->re = re;
  l->next = q->regexes;
  q->regexes = l;
  return true;
}

void tsdb_promql_free(tsdb_promql_query *q) {
  if (!q) return;
  while (q->blocks) {
    tsdb_promql_block *b = q->blocks;
    q->blocks = b->next;
    free(b);
  }
  while (q->regexes) {
    tsdb_promql_relist *l = q->regexes;
    q->regexes = l->next;
    tsdb_promql_regex__free(l->re);
    free(l);
  }
  free(q);
}

const tsdb_promql_node *tsdb_promql_root(const tsdb_promql_query *q) { return q->root; }

tsdb_promql_type tsdb_promql_type_of(const tsdb_promql_node *n) {
  switch (n->kind) {
  case TSDB_PROMQL_NUMBER:
    return TSDB_PROMQL_T_SCALAR;
  case TSDB_PROMQL_STRING:
    return TSDB_PROMQL_T_STRING;
  case TSDB_PROMQL_VECTOR:
    return TSDB_PROMQL_T_VECTOR;
  case TSDB_PROMQL_MATRIX:
  case TSDB_PROMQL_SUBQUERY:
    return TSDB_PROMQL_T_MATRIX;
  case TSDB_PROMQL_CALL:
    return n->u.call.fn->ret;
  case TSDB_PROMQL_AGGREGATE:
    return TSDB_PROMQL_T_VECTOR;
  case TSDB_PROMQL_BINARY:
    return tsdb_promql_type_of(n->u.binary.lhs) == TSDB_PROMQL_T_SCALAR &&
                   tsdb_promql_type_of(n->u.binary.rhs) == TSDB_PROMQL_T_SCALAR
               ? TSDB_PROMQL_T_SCALAR
               : TSDB_PROMQL_T_VECTOR;
  case TSDB_PROMQL_UNARY:
    return tsdb_promql_type_of(n->u.unary.expr);
  case TSDB_PROMQL_PAREN:
    return tsdb_promql_type_of(n->u.paren.expr);
  }
  return TSDB_PROMQL_T_NONE;
}

const char *tsdb_promql_op_name(tsdb_promql_op op) {
  static const char *names[] = {"or", "and", "unless", "==", "!=", "<=", "<",     ">=",
                                ">",  "+",   "-",      "*",  "/",  "%",  "atan2", "^"};
  return names[op];
}

const char *tsdb_promql_aggr_name(tsdb_promql_aggr op) {
  static const char *names[] = {"sum",    "avg",    "count", "min",     "max",          "group",
                                "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile"};
  return names[op];
}

/* Prometheus' DocumentedType. */
const char *tsdb_promql_type_name(tsdb_promql_type t) {
  static const char *names[] = {"none", "scalar", "instant vector", "range vector", "string"};
  return names[t];
}

static bool str_eq(tsdb_promql_str a, tsdb_promql_str b) {
  return a.len == b.len && (a.len == 0 || !memcmp(a.s, b.s, a.len));
}

static bool strs_eq(const tsdb_promql_str *a, size_t na, const tsdb_promql_str *b, size_t nb) {
  if (na != nb) return false;
  for (size_t i = 0; i < na; i++)
    if (!str_eq(a[i], b[i])) return false;
  return true;
}

static bool mods_eq(const tsdb_promql_mods *a, const tsdb_promql_mods *b) {
  return a->has_offset == b->has_offset && a->offset_ms == b->offset_ms && a->at == b->at &&
         a->at_ms == b->at_ms;
}

bool tsdb_promql_equal(const tsdb_promql_node *a, const tsdb_promql_node *b) {
  if (a == NULL || b == NULL) return a == b;
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case TSDB_PROMQL_NUMBER:
    return (isnan(a->u.number) && isnan(b->u.number)) || a->u.number == b->u.number;
  case TSDB_PROMQL_STRING:
    return str_eq(a->u.string, b->u.string);
  case TSDB_PROMQL_VECTOR:
    if (!str_eq(a->u.vector.name, b->u.vector.name) ||
        a->u.vector.nmatchers != b->u.vector.nmatchers ||
        !mods_eq(&a->u.vector.mods, &b->u.vector.mods))
      return false;
    for (size_t i = 0; i < a->u.vector.nmatchers; i++) {
      const tsdb_promql_matcher *x = &a->u.vector.matchers[i], *y = &b->u.vector.matchers[i];
      if (x->op != y->op || !str_eq(x->name, y->name) || !str_eq(x->value, y->value)) return false;
    }
    return true;
  case TSDB_PROMQL_MATRIX:
    return a->u.matrix.range_ms == b->u.matrix.range_ms &&
           tsdb_promql_equal(a->u.matrix.vector, b->u.matrix.vector);
  case TSDB_PROMQL_SUBQUERY:
    return a->u.subquery.range_ms == b->u.subquery.range_ms &&
           a->u.subquery.step_ms == b->u.subquery.step_ms &&
           mods_eq(&a->u.subquery.mods, &b->u.subquery.mods) &&
           tsdb_promql_equal(a->u.subquery.expr, b->u.subquery.expr);
  case TSDB_PROMQL_CALL:
    if (a->u.call.fn != b->u.call.fn || a->u.call.nargs != b->u.call.nargs) return false;
    for (size_t i = 0; i < a->u.call.nargs; i++)
      if (!tsdb_promql_equal(a->u.call.args[i], b->u.call.args[i])) return false;
    return true;
  case TSDB_PROMQL_AGGREGATE:
    return a->u.aggregate.op == b->u.aggregate.op &&
           a->u.aggregate.grouping == b->u.aggregate.grouping &&
           a->u.aggregate.without == b->u.aggregate.without &&
           strs_eq(a->u.aggregate.labels, a->u.aggregate.nlabels, b->u.aggregate.labels,
                   b->u.aggregate.nlabels) &&
           tsdb_promql_equal(a->u.aggregate.param, b->u.aggregate.param) &&
           tsdb_promql_equal(a->u.aggregate.expr, b->u.aggregate.expr);
  case TSDB_PROMQL_BINARY:
    return a->u.binary.op == b->u.binary.op && a->u.binary.return_bool == b->u.binary.return_bool &&
           a->u.binary.matching == b->u.binary.matching && a->u.binary.group == b->u.binary.group &&
           strs_eq(a->u.binary.labels, a->u.binary.nlabels, b->u.binary.labels,
                   b->u.binary.nlabels) &&
           strs_eq(a->u.binary.include, a->u.binary.ninclude, b->u.binary.include,
                   b->u.binary.ninclude) &&
           tsdb_promql_equal(a->u.binary.lhs, b->u.binary.lhs) &&
           tsdb_promql_equal(a->u.binary.rhs, b->u.binary.rhs);
  case TSDB_PROMQL_UNARY:
    return a->u.unary.minus == b->u.unary.minus &&
           tsdb_promql_equal(a->u.unary.expr, b->u.unary.expr);
  case TSDB_PROMQL_PAREN:
    return tsdb_promql_equal(a->u.paren.expr, b->u.paren.expr);
  }
  return false;
}

bool tsdb_promql_matches(const tsdb_promql_matcher *m, const char *value, size_t len) {
  switch (m->op) {
  case TSDB_PROMQL_MATCH_EQ:
    return m->value.len == len && !memcmp(m->value.s, value, len);
  case TSDB_PROMQL_MATCH_NE:
    return !(m->value.len == len && !memcmp(m->value.s, value, len));
  case TSDB_PROMQL_MATCH_RE:
    return tsdb_promql_regex__match(m->re, value, len);
  case TSDB_PROMQL_MATCH_NRE:
    return !tsdb_promql_regex__match(m->re, value, len);
  }
  return false;
}
