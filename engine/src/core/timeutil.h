/* Bucket arithmetic and clocks. Pure except tsdb_time__now_*(). */
#ifndef TSDB_TIMEUTIL_H
#define TSDB_TIMEUTIL_H

#include <stdint.h>

/*
 * Start of the bucket of width `width` (> 0) holding t: the largest multiple
 * of width that is <= t. C's `/` truncates toward zero, so for negative t
 * (before 1970) the plain t - t % width would round up; correct for that.
 */
static inline int64_t tsdb_bucket_floor(int64_t t, int64_t width) {
  int64_t r = t % width;
  if (r < 0) r += width;
  return t - r;
}

/* Timestamps the read paths work in: wide enough for any real data, narrow
 * enough that bucket arithmetic near the ends cannot overflow. Range
 * arguments are clamped into it. */
#define TSDB_TS_MIN (-(INT64_C(1) << 62))
#define TSDB_TS_MAX (INT64_C(1) << 62)
static inline int64_t tsdb_ts_clamp(int64_t t) {
  return t < TSDB_TS_MIN ? TSDB_TS_MIN : t > TSDB_TS_MAX ? TSDB_TS_MAX : t;
}

int64_t tsdb_time__realtime_ms(void);
int64_t tsdb_time__monotonic_ms(void);
int64_t tsdb_time__monotonic_us(void);
/* "2026-11-26T09:15:00.000Z" (24 chars + NUL for years 0-9999) from ms since epoch. */
void tsdb_time__format_rfc3339(int64_t ms, char buf[64]);

#endif /* TSDB_TIMEUTIL_H */
