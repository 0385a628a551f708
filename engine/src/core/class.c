#include "class.h"

#include <stdlib.h>
#include <string.h>

static void class_free(tsdb_series_class *c) {
  if (!c) return;
  free(c->schema_id);
  tsdb_topic_template_free(c->tpl);
  for (size_t i = 0; i < c->nfields; i++) {
    if (c->fields) free(c->fields[i]);
    if (c->units) free(c->units[i]);
  }
  free(c->fields);
  free(c->units);
  for (size_t i = 0; i < c->nlabels; i++) {
    free((char *)c->labels[i].key);
    free((char *)c->labels[i].value);
  }
  free(c->labels);
  free(c);
}

static const char *const dup_policies[] = {
    [TSDB_DUP_LAST] = "last",
    [TSDB_DUP_FIRST] = "first",
    [TSDB_DUP_REJECT] = "reject",
};
#define NDUP_POLICIES (sizeof dup_policies / sizeof dup_policies[0])

const char *tsdb_dup_policy_name(int policy) {
  return policy >= 0 && (size_t)policy < NDUP_POLICIES ? dup_policies[policy] : NULL;
}

int tsdb_dup_policy_find(const char *name) {
  for (size_t i = 0; i < NDUP_POLICIES; i++)
    if (!strcmp(dup_policies[i], name)) return (int)i;
  return TSDB_ENOTFOUND;
}

static char *dup_or_null(const char *s, int *rc) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *rc = TSDB_ENOMEM;
  return d;
}

int tsdb_series_class_create(const tsdb_series_class_desc *d, tsdb_series_class **out) {
  *out = NULL;
  /* nfields may be 0 for formats whose messages name every field. */
  if (!d || !d->schema_id || !d->topic_template || d->nfields > TSDB_MAX_FIELDS ||
      (d->nfields && !d->field_names) || d->ntiers > TSDB_MAX_TIERS ||
      (d->ntiers && !d->tiers_ms) || (d->nlabels && !d->labels) ||
      !tsdb_dup_policy_name(d->dup_policy) || d->block_span_ms < 0 || d->block_span_ms % 1000)
    return TSDB_EINVAL;
  for (size_t i = 0; i < d->ntiers; i++) {
    /* Whole seconds (keys store tiers in seconds) and each tier a multiple of
     * the previous one, so a coarse bucket is exactly a union of fine ones. */
    if (d->tiers_ms[i] < 1000 || d->tiers_ms[i] % 1000 || d->tiers_ms[i] / 1000 > UINT32_MAX)
      return TSDB_EINVAL;
    if (i > 0 && (d->tiers_ms[i] <= d->tiers_ms[i - 1] || d->tiers_ms[i] % d->tiers_ms[i - 1]))
      return TSDB_EINVAL;
  }
  for (size_t i = 0; i < d->nfields; i++)
    if (!d->field_names[i] || !d->field_names[i][0]) return TSDB_EINVAL;
  if (d->raw_retention_ms < 0) return TSDB_EINVAL;
  for (size_t i = 0; d->tier_retention_ms && i < d->ntiers; i++) {
    int64_t r = d->tier_retention_ms[i];
    if (r < 0) return TSDB_EINVAL;
    /* 0 is forever; otherwise a tier outlives raw points and covers a bucket. */
    if (r && (d->raw_retention_ms == 0 || r < d->raw_retention_ms || r < d->tiers_ms[i]))
      return TSDB_EINVAL;
  }
  if (d->raw_retention_ms && d->ntiers && d->raw_retention_ms <= d->tiers_ms[d->ntiers - 1])
    return TSDB_EINVAL; /* raw points must outlive the coarsest bucket they feed */

  tsdb_series_class *c = calloc(1, sizeof *c);
  if (!c) return TSDB_ENOMEM;
  atomic_init(&c->refs, 1);
  int rc = 0;
  c->schema_id = dup_or_null(d->schema_id, &rc);
  c->schema_version = d->schema_version;
  c->nfields = d->nfields;
  c->fields = calloc(d->nfields ? d->nfields : 1, sizeof *c->fields);
  c->units = calloc(d->nfields ? d->nfields : 1, sizeof *c->units);
  if (!c->fields || !c->units) rc = TSDB_ENOMEM;
  for (size_t i = 0; rc == 0 && i < d->nfields; i++) {
    c->fields[i] = dup_or_null(d->field_names[i], &rc);
    if (d->units) c->units[i] = dup_or_null(d->units[i], &rc);
  }
  c->ntiers = d->ntiers;
  for (size_t i = 0; i < d->ntiers; i++) c->tiers_ms[i] = d->tiers_ms[i];
  c->dup_policy = d->dup_policy;
  c->block_span_ms = d->block_span_ms ? d->block_span_ms : TSDB_DEFAULT_BLOCK_SPAN_MS;
  c->raw_retention_ms = d->raw_retention_ms;
  for (size_t i = 0; d->tier_retention_ms && i < d->ntiers; i++)
    c->tier_retention_ms[i] = d->tier_retention_ms[i];
  if (rc == 0 && d->nlabels) {
    c->labels = calloc(d->nlabels, sizeof *c->labels);
    if (!c->labels) rc = TSDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < d->nlabels; i++) {
      c->nlabels++;
      c->labels[i].key = dup_or_null(d->labels[i].key, &rc);
      c->labels[i].value = dup_or_null(d->labels[i].value, &rc);
      if (!c->labels[i].key || !c->labels[i].value) rc = rc ? rc : TSDB_EINVAL;
    }
  }
  if (rc == 0) rc = tsdb_topic_template_compile(d->topic_template, &c->tpl, NULL, 0);
  if (rc) {
    class_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void tsdb_series_class_retain(tsdb_series_class *c) {
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void tsdb_series_class_release(tsdb_series_class *c) {
  if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) class_free(c);
}

int64_t tsdb_class__write_cutoff(int64_t now, int64_t raw_retention_ms, size_t ntiers,
                                 const int64_t *tiers_ms) {
  if (raw_retention_ms == 0) return INT64_MIN;
  return now - raw_retention_ms + (ntiers ? tiers_ms[ntiers - 1] : 0);
}
