/*
 * RFC 3339 section 5.6 "date-time" to milliseconds since the Unix epoch.
 *
 *   date-time  = full-date "T" full-time      ; "t" also accepted (5.6 NOTE)
 *   full-date  = date-fullyear "-" date-month "-" date-mday
 *   full-time  = partial-time time-offset
 *   partial-time = time-hour ":" time-minute ":" time-second [time-secfrac]
 *   time-secfrac = "." 1*DIGIT
 *   time-offset  = "Z" / ("+" / "-") time-hour ":" time-minute ; "z" accepted
 *
 * Ranges are checked (section 5.7): month 01-12, day within the month with
 * Gregorian leap years, hour 00-23, minute 00-59, second 00-60. A leap second
 * (60) is accepted only where one can occur, at 23:59 UTC once the offset is
 * applied (the rule the JSON Schema test suite applies to format
 * "date-time"); it maps onto the first second of the next minute, as POSIX
 * time does. The space separator allowed "for readability" by the 5.6 NOTE is
 * not part of the date-time production and is refused.
 *
 * Pure arithmetic: no locale, no TZ, no libc time functions (timegm & co read
 * global state), so it is reentrant and gives the same answer everywhere.
 */
#include "ingest/error.h"
#include "ingest/jsonschema.h"

#include <stdbool.h>
#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date: Howard Hinnant's
 * days_from_civil ("chrono-Compatible Low-Level Date Algorithms",
 * howardhinnant.github.io/date_algorithms.html). Shifting the year to start in
 * March puts the leap day last, so the day of the year is a linear formula;
 * 400-year eras of 146097 days make it exact for every year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
  return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(unsigned y, unsigned m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* n ASCII digits at s[*i], advancing *i; false if any is not a digit. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out) {
  if (len - *i < n) return false;
  unsigned v = 0;
  for (unsigned k = 0; k < n; k++) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (unsigned)(c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

static bool lit(const char *s, size_t len, size_t *i, char c) {
  if (*i >= len || s[*i] != c) return false;
  (*i)++;
  return true;
}

int ingest_rfc3339_parse(const char *text, size_t len, int64_t *ms) {
  unsigned year, month, day, hour, minute, second;
  size_t i = 0;
  if (text == NULL || ms == NULL) return INGEST_ETIMESTAMP;
  if (!digits(text, len, &i, 4, &year) || !lit(text, len, &i, '-') ||
      !digits(text, len, &i, 2, &month) || !lit(text, len, &i, '-') ||
      !digits(text, len, &i, 2, &day))
    return INGEST_ETIMESTAMP;
  if (i >= len || (text[i] != 'T' && text[i] != 't')) return INGEST_ETIMESTAMP;
  i++;
  if (!digits(text, len, &i, 2, &hour) || !lit(text, len, &i, ':') ||
      !digits(text, len, &i, 2, &minute) || !lit(text, len, &i, ':') ||
      !digits(text, len, &i, 2, &second))
    return INGEST_ETIMESTAMP;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60)
    return INGEST_ETIMESTAMP;

  /* time-secfrac: any number of digits; milliseconds are the first three,
   * the rest is truncated */
  unsigned frac_ms = 0;
  if (i < len && text[i] == '.') {
    i++;
    size_t start = i;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
      if (i - start < 3) frac_ms = frac_ms * 10 + (unsigned)(text[i] - '0');
      i++;
    }
    if (i == start) return INGEST_ETIMESTAMP;
    for (size_t k = i - start; k < 3; k++) frac_ms *= 10;
  }

  int offset_min = 0; /* local time = UTC + offset */
  if (i < len && (text[i] == 'Z' || text[i] == 'z')) {
    i++;
  } else if (i < len && (text[i] == '+' || text[i] == '-')) {
    int sign = text[i] == '-' ? -1 : 1;
    unsigned oh, om;
    i++;
    if (!digits(text, len, &i, 2, &oh) || !lit(text, len, &i, ':') ||
        !digits(text, len, &i, 2, &om) || oh > 23 || om > 59)
      return INGEST_ETIMESTAMP;
    offset_min = sign * (int)(oh * 60 + om);
  } else {
    return INGEST_ETIMESTAMP;
  }
  if (i != len) return INGEST_ETIMESTAMP;

  if (second == 60) {
    int utc_min = ((int)(hour * 60 + minute) - offset_min) % 1440;
    if (utc_min < 0) utc_min += 1440;
    if (utc_min != 23 * 60 + 59) return INGEST_ETIMESTAMP;
  }

  int64_t secs = days_from_civil(year, month, day) * 86400 +
                 (int64_t)(hour * 3600 + minute * 60 + second) - (int64_t)offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return 0;
}
