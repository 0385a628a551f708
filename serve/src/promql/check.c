/*
 * The subset of PromQL this server evaluates (issue 15): selectors with
 * = != =~ !~, range selectors, offset; the functions avg_over_time,
 * min_over_time, max_over_time, sum_over_time, count_over_time,
 * last_over_time, stddev_over_time and time(); the aggregations sum, avg,
 * min, max, count with by/without; arithmetic and comparisons where at
 * least one side is a scalar; unary signs and parentheses. Anything else
 * parsed fine but is refused here, naming the construct, in the shape of
 * Prometheus' parse errors so that the HTTP layer answers it as bad_data.
 */
#include <stdarg.h>
#include <string.h>

#include "promql_internal.h"

static const char *const supported_functions[] = {"avg_over_time",
                                                  "min_over_time",
                                                  "max_over_time",
                                                  "sum_over_time",
                                                  "count_over_time",
                                                  "last_over_time",
                                                  "stddev_over_time",
                                                  "time",
                                                  NULL};

typedef struct checker {
  const tsdb_promql_query *q;
  tsdb_promql_error *err;
} checker;

static int refuse(const checker *c, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(const checker *c, size_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tsdb_promql_parse__verror(c->q->text, c->q->text_len, pos, c->err, fmt, ap);
  va_end(ap);
  return -1;
}

static int check_mods(const checker *c, const tsdb_promql_node *n, const tsdb_promql_mods *m) {
  if (m->at != TSDB_PROMQL_AT_NONE) return refuse(c, n->pos, "the @ modifier is not supported");
  return 0;
}

static int check(const checker *c, const tsdb_promql_node *n) {
  switch (n->kind) {
  case TSDB_PROMQL_NUMBER:
    return 0;
  case TSDB_PROMQL_STRING:
    return refuse(c, n->pos, "string literals are not supported");
  case TSDB_PROMQL_VECTOR:
    return check_mods(c, n, &n->u.vector.mods);
  case TSDB_PROMQL_MATRIX:
    return check_mods(c, n, &n->u.matrix.vector->u.vector.mods);
  case TSDB_PROMQL_SUBQUERY:
    return refuse(c, n->pos, "subqueries are not supported");
  case TSDB_PROMQL_CALL: {
    bool ok = false;
    for (const char *const *f = supported_functions; *f; f++)
      if (!strcmp(*f, n->u.call.fn->name)) ok = true;
    if (!ok) return refuse(c, n->pos, "function \"%s\" is not supported", n->u.call.fn->name);
    for (size_t i = 0; i < n->u.call.nargs; i++)
      if (check(c, n->u.call.args[i])) return -1;
    return 0;
  }
  case TSDB_PROMQL_AGGREGATE:
    if (n->u.aggregate.op > TSDB_PROMQL_MAX)
      return refuse(c, n->pos, "aggregation \"%s\" is not supported",
                    tsdb_promql_aggr_name(n->u.aggregate.op));
    return check(c, n->u.aggregate.expr);
  case TSDB_PROMQL_BINARY: {
    tsdb_promql_op op = n->u.binary.op;
    if (op <= TSDB_PROMQL_UNLESS || op == TSDB_PROMQL_ATAN2)
      return refuse(c, n->u.binary.op_pos, "binary operator \"%s\" is not supported",
                    tsdb_promql_op_name(op));
    if (tsdb_promql_type_of(n->u.binary.lhs) == TSDB_PROMQL_T_VECTOR &&
        tsdb_promql_type_of(n->u.binary.rhs) == TSDB_PROMQL_T_VECTOR)
      return refuse(c, n->u.binary.op_pos,
                    "binary operator \"%s\" between two instant vectors is not supported (one "
                    "side must be a scalar)",
                    tsdb_promql_op_name(op));
    if (check(c, n->u.binary.lhs)) return -1;
    return check(c, n->u.binary.rhs);
  }
  case TSDB_PROMQL_UNARY:
    return check(c, n->u.unary.expr);
  case TSDB_PROMQL_PAREN:
    return check(c, n->u.paren.expr);
  }
  return refuse(c, n->pos, "unknown expression");
}

int tsdb_promql_check(const tsdb_promql_query *q, tsdb_promql_error *err) {
  checker c = {q, err};
  return check(&c, q->root);
}
