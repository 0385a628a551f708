#include "agg.h"

#include <math.h>
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

void tsdb_agg__view(const tsdb_agg *a, int64_t start_ms, tsdb_aggregate *out) {
  memset(out, 0, sizeof *out);
  out->start_ms = start_ms;
  out->count = a->count;
  if (a->count == 0) return;
  out->sum = tsdb_agg__sum(a);
  out->min = a->min;
  out->max = a->max;
  out->mean = a->mean;
  double var = a->m2 / (double)a->count;
  out->stddev = var > 0 ? sqrt(var) : 0.0;
  out->first_ts = a->first_ts;
  out->first = a->first;
  out->last_ts = a->last_ts;
  out->last = a->last;
}
