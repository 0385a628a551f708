/*
 * The PromQL front end on arbitrary text: parsing must not crash, leak or
 * overrun, and whatever parses must print to text that parses to an equal
 * tree and prints the same again (parse -> print -> parse). Matchers are run
 * on a few values so the regex path is covered too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql.h"

static void match_all(const tsdb_promql_node *n) {
  if (n->kind == TSDB_PROMQL_MATRIX) n = n->u.matrix.vector;
  if (n->kind != TSDB_PROMQL_VECTOR) return;
  for (size_t i = 0; i < n->u.vector.nmatchers; i++) {
    const tsdb_promql_matcher *m = &n->u.vector.matchers[i];
    (void)tsdb_promql_matches(m, "", 0);
    (void)tsdb_promql_matches(m, m->value.s, m->value.len);
    (void)tsdb_promql_matches(m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n\xff", 35);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsdb_promql_query *q = NULL, *q2 = NULL;
  tsdb_promql_error err;
  if (tsdb_promql_parse((const char *)data, size, &q, &err)) {
    if (strncmp(err.msg, "", 1) == 0 || !strstr(err.msg, ": parse error: ")) abort();
    return 0;
  }
  const tsdb_promql_node *root = tsdb_promql_root(q);
  match_all(root);
  (void)tsdb_promql_check(q, &err);
  char *text = tsdb_promql_print(root);
  if (!text) abort();
  if (tsdb_promql_parse(text, strlen(text), &q2, &err)) {
    fprintf(stderr, "printed text does not parse: %s\n  text: %s\n", err.msg, text);
    abort();
  }
  if (!tsdb_promql_equal(root, tsdb_promql_root(q2))) {
    fprintf(stderr, "round trip changed the tree: %s\n", text);
    abort();
  }
  char *again = tsdb_promql_print(tsdb_promql_root(q2));
  if (!again || strcmp(text, again)) {
    fprintf(stderr, "printing is not stable:\n  %s\n  %s\n", text, again ? again : "(null)");
    abort();
  }
  free(again);
  free(text);
  tsdb_promql_free(q2);
  tsdb_promql_free(q);
  return 0;
}
