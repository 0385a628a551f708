/*
 * Doubles as the shortest text that reads back as the same double, for every
 * JSON number the engine writes (aggregate publications, command answers).
 *
 * Google's double-conversion (Debian's libdouble-conversion) does it in one
 * pass (Grisu3, with a bignum fallback: Loitsch, "Printing Floating-Point
 * Numbers Quickly and Accurately with Integers", PLDI 2010). The printf way,
 * "%.15g" then "%.17g" until strtod() gives the value back, cost a quarter of
 * the writer's CPU at 10 000 series: an aggregate publication carries 40
 * numbers.
 */
#include <double-conversion/double-to-string.h>

#include <cmath>
#include <cstdint>
#include <cstring>

extern "C" {
#include "strbuf.h"
}

namespace {

/* Plain decimal from 1e-6 up to 1e21, exponential outside (as JavaScript's
 * Number.prototype.toString, which JSON readers know); "-0" stays "-0". */
const double_conversion::DoubleToStringConverter &converter() {
  static const double_conversion::DoubleToStringConverter c(
      double_conversion::DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN, "inf", "nan", 'e',
      -6, 21, 6, 0);
  return c;
}

/*
 * The common case first: a sensor reading or an extreme of readings has a
 * few decimals (20.1, 1013.25, 7). If v == m / 10^k for an integer
 * |m| < 2^53 and k <= 4, the text of m with k decimals reads back as v (the
 * division and strtod both round correctly to the nearest double of the
 * same real number), and the smallest such k has the fewest digits: the text
 * ToShortest would give, in a tenth of its time. Returns the length, or -1
 * for the general path.
 */
int short_decimal(double v, char *out, size_t len) {
  static const double pow10[] = {1, 10, 100, 1000, 10000};
  if (!(v > -1e15 && v < 1e15) || (v == 0 && std::signbit(v))) return -1;
  for (int k = 0; k <= 4; k++) {
    double m = std::nearbyint(v * pow10[k]);
    if (std::fabs(m) >= 9007199254740992.0) return -1; /* 2^53: no longer exact */
    if (m / pow10[k] != v) continue;
    uint64_t u = static_cast<uint64_t>(std::fabs(m));
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u || n <= k); /* at least one digit before the point */
    size_t need = static_cast<size_t>(n) + (k ? 1 : 0) + (m < 0 ? 1 : 0);
    if (need >= len) return -1;
    size_t at = 0;
    if (m < 0) out[at++] = '-';
    for (int i = n - 1; i >= 0; i--) {
      out[at++] = digits[i];
      if (i == k && k) out[at++] = '.';
    }
    out[at] = '\0';
    return static_cast<int>(at);
  }
  return -1;
}

} // namespace

extern "C" void tsdb_format_double(double v, char *buf, size_t len) {
  if (len == 0) return;
  if (short_decimal(v, buf, len) >= 0) return;
  char text[64];
  double_conversion::StringBuilder sb(text, sizeof text);
  converter().ToShortest(v, &sb);
  int n = sb.position();
  sb.Finalize();
  if (n < 0 || static_cast<size_t>(n) >= len) n = static_cast<int>(len) - 1;
  std::memcpy(buf, text, static_cast<size_t>(n));
  buf[n] = '\0';
}
