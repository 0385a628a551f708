/*
 * Doubles as the shortest text that reads back as the same double, for every
 * JSON number the engine writes (aggregate publications, command answers).
 *
 * Google's double-conversion (Debian's libdouble-conversion) does it in one
 * pass (Grisu3, with a bignum fallback: Loitsch, "Printing Floating-Point
 * Numbers Quickly and Accurately with Integers", PLDI 2010). The printf way,
 * "%.15g" then "%.17g" until strtod() gives the value back, cost a quarter of
 * the writer's CPU at 100 000 series: an aggregate publication carries 40
 * numbers.
 */
#include <double-conversion/double-to-string.h>

#include <cstring>

extern "C" {
#include "strbuf.h"
}

namespace {

/* Plain decimal from 1e-6 up to 1e21, exponential outside (as JavaScript's
 * Number.prototype.toString, which JSON readers know); "-0" stays "-0". */
const double_conversion::DoubleToStringConverter &converter() {
  static const double_conversion::DoubleToStringConverter c(
      double_conversion::DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN, "inf", "nan",
      'e', -6, 21, 6, 0);
  return c;
}

} // namespace

extern "C" void tsdb_format_double(double v, char *buf, size_t len) {
  if (len == 0) return;
  char text[64];
  double_conversion::StringBuilder sb(text, sizeof text);
  converter().ToShortest(v, &sb);
  int n = sb.position();
  sb.Finalize();
  if (n < 0 || static_cast<size_t>(n) >= len) n = static_cast<int>(len) - 1;
  std::memcpy(buf, text, static_cast<size_t>(n));
  buf[n] = '\0';
}
