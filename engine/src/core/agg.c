#include "agg.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void tsdb_agg__init(tsdb_agg *a) { memset(a, 0, sizeof *a); }

static void neumaier_add(double *sum, double *comp, double v) {
  double t = *sum + v;
  if (fabs(*sum) >= fabs(v))
    *comp += (*sum - t) + v;
  else
    *comp += (v - t) + *sum;
  *sum = t;
}

void tsdb_agg__add(tsdb_agg *a, int64_t ts, double v) {
  if (!isfinite(v)) return;
  if (a->count == 0) {
    a->count = 1;
    a->sum = v;
    a->sum_comp = 0;
    a->mean = v;
    a->m2 = 0;
    a->min = a->max = v;
    a->first_ts = a->last_ts = ts;
    a->first = a->last = v;
    return;
  }
  a->count++;
  neumaier_add(&a->sum, &a->sum_comp, v);
  double delta = v - a->mean;
  a->mean += delta / (double)a->count;
  a->m2 += delta * (v - a->mean);
  if (v < a->min) a->min = v;
  if (v > a->max) a->max = v;
  if (ts < a->first_ts) {
    a->first_ts = ts;
    a->first = v;
  }
  if (ts >= a->last_ts) {
    a->last_ts = ts;
    a->last = v;
  }
}

void tsdb_agg__merge(tsdb_agg *into, const tsdb_agg *b) {
  if (b->count == 0) return;
  if (into->count == 0) {
    *into = *b;
    return;
  }
  double na = (double)into->count, nb = (double)b->count, n = na + nb;
  double delta = b->mean - into->mean;
  into->mean += delta * nb / n;
  into->m2 += b->m2 + delta * delta * na * nb / n;
  into->count += b->count;
  neumaier_add(&into->sum, &into->sum_comp, b->sum);
  into->sum_comp += b->sum_comp;
  if (b->min < into->min) into->min = b->min;
  if (b->max > into->max) into->max = b->max;
  if (b->first_ts < into->first_ts) {
    into->first_ts = b->first_ts;
    into->first = b->first;
  }
  if (b->last_ts >= into->last_ts) {
    into->last_ts = b->last_ts;
    into->last = b->last;
  }
}

double tsdb_agg__sum(const tsdb_agg *a) { return a->sum + a->sum_comp; }

/* Fixed little-endian layout so files move between machines. */
static uint8_t *put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 8;
}
static uint8_t *put_f64(uint8_t *p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  return put_u64(p, u);
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static double get_f64(const uint8_t *p) {
  uint64_t u = get_u64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

enum { AGG_EMPTY = 0x10, AGG_SINGLE = 0x11, AGG_FULL = 0x12 };

size_t tsdb_agg__encode(const tsdb_agg *a, uint8_t *out) {
  uint8_t *p = out;
  if (a->count == 0) {
    *p++ = AGG_EMPTY;
  } else if (a->count == 1) {
    /* One point: everything else follows from it. Common for coarse data. */
    *p++ = AGG_SINGLE;
    p = put_u64(p, (uint64_t)a->first_ts);
    p = put_f64(p, a->first);
  } else {
    *p++ = AGG_FULL;
    p = put_u64(p, a->count);
    p = put_f64(p, a->sum);
    p = put_f64(p, a->sum_comp);
    p = put_f64(p, a->mean);
    p = put_f64(p, a->m2);
    p = put_f64(p, a->min);
    p = put_f64(p, a->max);
    p = put_u64(p, (uint64_t)a->first_ts);
    p = put_f64(p, a->first);
    p = put_u64(p, (uint64_t)a->last_ts);
    p = put_f64(p, a->last);
  }
  return (size_t)(p - out);
}

int tsdb_agg__decode(const uint8_t *in, size_t len, tsdb_agg *a) {
  tsdb_agg__init(a);
  if (len < 1) return TSDB_ECORRUPT;
  switch (in[0]) {
  case AGG_EMPTY:
    return len == 1 ? 0 : TSDB_ECORRUPT;
  case AGG_SINGLE:
    if (len != 17) return TSDB_ECORRUPT;
    tsdb_agg__add(a, (int64_t)get_u64(in + 1), get_f64(in + 9));
    return 0;
  case AGG_FULL: {
    if (len != 1 + 11 * 8) return TSDB_ECORRUPT;
    const uint8_t *p = in + 1;
    a->count = get_u64(p);
    a->sum = get_f64(p + 8);
    a->sum_comp = get_f64(p + 16);
    a->mean = get_f64(p + 24);
    a->m2 = get_f64(p + 32);
    a->min = get_f64(p + 40);
    a->max = get_f64(p + 48);
    a->first_ts = (int64_t)get_u64(p + 56);
    a->first = get_f64(p + 64);
    a->last_ts = (int64_t)get_u64(p + 72);
    a->last = get_f64(p + 80);
    return a->count >= 2 ? 0 : TSDB_ECORRUPT;
  }
  default:
    return TSDB_ECORRUPT;
  }
}

/* ---- the aggregate kinds ---- */

static double count_of(const tsdb_agg *a) { return (double)a->count; }
static double min_of(const tsdb_agg *a) { return a->min; }
static double max_of(const tsdb_agg *a) { return a->max; }
static double mean_of(const tsdb_agg *a) { return a->mean; }
static double first_of(const tsdb_agg *a) { return a->first; }
static double last_of(const tsdb_agg *a) { return a->last; }

/* The population standard deviation, from Welford's M2. */
static double stddev_of(const tsdb_agg *a) {
  double var = a->m2 / (double)a->count;
  return var > 0 ? sqrt(var) : 0.0;
}

/*
 * One row per kind: its name, its value from the mergeable state (called
 * with count > 0), and the member of the public view that holds it. Another
 * kind (a quantile from a sketch, an energetic mean in dB, a circular mean)
 * is another row, with what it needs in tsdb_agg's state (merged and encoded
 * with the rest) and a member in tsdb_aggregate.
 */
typedef struct agg_kind {
  const char *name;
  double (*value)(const tsdb_agg *a);
  size_t view; /* offset of its double in tsdb_aggregate (the count: unused) */
} agg_kind;

static const agg_kind kinds[TSDB_AGG_KINDS] = {
    [TSDB_AGG_COUNT] = {"count", count_of, 0},
    [TSDB_AGG_MIN] = {"min", min_of, offsetof(tsdb_aggregate, min)},
    [TSDB_AGG_MAX] = {"max", max_of, offsetof(tsdb_aggregate, max)},
    [TSDB_AGG_MEAN] = {"mean", mean_of, offsetof(tsdb_aggregate, mean)},
    [TSDB_AGG_SUM] = {"sum", tsdb_agg__sum, offsetof(tsdb_aggregate, sum)},
    [TSDB_AGG_FIRST] = {"first", first_of, offsetof(tsdb_aggregate, first)},
    [TSDB_AGG_LAST] = {"last", last_of, offsetof(tsdb_aggregate, last)},
    [TSDB_AGG_STDDEV] = {"stddev", stddev_of, offsetof(tsdb_aggregate, stddev)},
};

const char *tsdb_agg_name(int kind) {
  return kind >= 0 && kind < TSDB_AGG_KINDS ? kinds[kind].name : NULL;
}

int tsdb_agg_find(const char *name) {
  for (int k = 0; k < TSDB_AGG_KINDS; k++)
    if (!strcmp(kinds[k].name, name)) return k;
  return TSDB_ENOTFOUND;
}

double tsdb_aggregate_get(const tsdb_aggregate *a, tsdb_agg_kind kind) {
  if (kind == TSDB_AGG_COUNT) return (double)a->count;
  double v;
  memcpy(&v, (const char *)a + kinds[kind].view, sizeof v);
  return v;
}

void tsdb_agg__view_set(tsdb_aggregate *a, tsdb_agg_kind kind, double v) {
  if (kind == TSDB_AGG_COUNT) return;
  memcpy((char *)a + kinds[kind].view, &v, sizeof v);
}

void tsdb_agg__view(const tsdb_agg *a, int64_t start_ms, tsdb_aggregate *out) {
  memset(out, 0, sizeof *out);
  out->start_ms = start_ms;
  out->count = a->count;
  if (a->count == 0) return;
  for (int k = 0; k < TSDB_AGG_KINDS; k++)
    if (k != TSDB_AGG_COUNT) tsdb_agg__view_set(out, (tsdb_agg_kind)k, kinds[k].value(a));
  out->first_ts = a->first_ts;
  out->last_ts = a->last_ts;
}
