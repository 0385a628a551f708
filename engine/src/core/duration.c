/* Durations as users write them ("10s", "1m", "1d") and clocks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"
#include "tsdb/tsdb.h"

static const struct {
  const char *suffix;
  int64_t ms;
} duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
};

int tsdb_duration_parse(const char *text, int64_t *ms) {
  if (!text || !ms || *text < '0' || *text > '9') return TSDB_EINVAL;
  errno = 0;
  char *end = NULL;
  unsigned long long n = strtoull(text, &end, 10);
  if (errno || end == text || n == 0) return TSDB_EINVAL;
  for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
    if (strcmp(end, duration_units[i].suffix) == 0) {
      if (n > (unsigned long long)(INT64_MAX / duration_units[i].ms)) return TSDB_ERANGE;
      *ms = (int64_t)n * duration_units[i].ms;
      return 0;
    }
  }
  return TSDB_EINVAL;
}

char *tsdb_duration_format(int64_t ms, char *buf, size_t len) {
  /* Largest unit that divides exactly, so "1m" and "90s" both read back. */
  for (size_t i = sizeof duration_units / sizeof duration_units[0]; i-- > 0;) {
    if (ms > 0 && ms % duration_units[i].ms == 0) {
      snprintf(buf, len, "%" PRId64 "%s", ms / duration_units[i].ms, duration_units[i].suffix);
      return buf;
    }
  }
  snprintf(buf, len, "%" PRId64 "ms", ms);
  return buf;
}

int64_t tsdb_time__realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tsdb_time__monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tsdb_time__monotonic_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Civil date from days since 1970-01-01, proleptic Gregorian calendar
 * (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days).
 * No gmtime(): no locale, no global state, any thread.
 */
void tsdb_time__format_rfc3339(int64_t ms, char buf[64]) {
  int64_t secs = ms / 1000, milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  int64_t days = secs / 86400, sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y += 1;
  snprintf(buf, 64,
           "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64
           ".%03" PRId64 "Z",
           y, m, d, sod / 3600, sod / 60 % 60, sod % 60, milli);
}
