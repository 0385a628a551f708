/*
 * A small unit-test harness in the libuv style: every TEST(name) in a file is
 * registered at load time, the executable runs one named test (CTest starts one
 * process per test, so a crash or hang is isolated and timed out per test) or,
 * with no argument, all of them in turn.
 *
 * CHECK* failures print file:line and the compared values, then end the test
 * process with exit status 1. Tests that need files get a fresh temporary
 * directory from unit_tmpdir(), removed after a passing run (kept when
 * TSDB_KEEP_TMP is set, to inspect a failure).
 */
#ifndef TSDB_TESTS_UNIT_H
#define TSDB_TESTS_UNIT_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit__register(const char *name, unit_fn fn);
void unit__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* A fresh, empty directory for this test; valid until the process ends. */
const char *unit_tmpdir(void);
/* A path inside unit_tmpdir(); the returned string is owned by the harness. */
const char *unit_path(const char *name);
/* A deterministic PRNG (splitmix64) so that every property test has a fixed seed. */
uint64_t unit_rand(uint64_t *state);

/* A helper entry point that is not a test: `exe --helper NAME ARGS...` runs
 * it (for tests that need a fresh child process, e.g. one to kill). */
typedef int (*unit_helper_fn)(int argc, char **argv);
void unit__register_helper(const char *name, unit_helper_fn fn);
#define UNIT_HELPER(name)                                                      \
  static int helper_##name(int argc, char **argv);                             \
  __attribute__((constructor)) static void unit_register_helper_##name(void) { \
    unit__register_helper(#name, helper_##name);                               \
  }                                                                            \
  static int helper_##name(int argc, char **argv)

#define TEST(name)                                                      \
  static void test_##name(void);                                        \
  __attribute__((constructor)) static void unit_register_##name(void) { \
    unit__register(#name, test_##name);                                 \
  }                                                                     \
  static void test_##name(void)

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) unit__fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
  } while (0)

#define CHECK_MSG(cond, ...)                                  \
  do {                                                        \
    if (!(cond)) unit__fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define CHECK_INT(a, op, b)                                                                     \
  do {                                                                                          \
    long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                               \
    if (!(unit_a_ op unit_b_))                                                                  \
      unit__fail(__FILE__, __LINE__, "CHECK_INT(%s %s %s): %lld vs %lld", #a, #op, #b, unit_a_, \
                 unit_b_);                                                                      \
  } while (0)

#define CHECK_OK(expr)                                                               \
  do {                                                                               \
    long long unit_rc_ = (long long)(expr);                                          \
    if (unit_rc_ != 0)                                                               \
      unit__fail(__FILE__, __LINE__, "CHECK_OK(%s) returned %lld", #expr, unit_rc_); \
  } while (0)

#define CHECK_STR(a, b)                                                             \
  do {                                                                              \
    const char *unit_sa_ = (a), *unit_sb_ = (b);                                    \
    if (unit_sa_ == NULL || unit_sb_ == NULL || strcmp(unit_sa_, unit_sb_))         \
      unit__fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" vs \"%s\"", #a, #b, \
                 unit_sa_ ? unit_sa_ : "(null)", unit_sb_ ? unit_sb_ : "(null)");   \
  } while (0)

/* Doubles compared by bits (NaN payloads, -0.0 and infinities included). */
#define CHECK_BITS(a, b)                                          \
  do {                                                            \
    double unit_da_ = (a), unit_db_ = (b);                        \
    uint64_t unit_ua_, unit_ub_;                                  \
    memcpy(&unit_ua_, &unit_da_, 8);                              \
    memcpy(&unit_ub_, &unit_db_, 8);                              \
    if (unit_ua_ != unit_ub_)                                     \
      unit__fail(__FILE__, __LINE__,                              \
                 "CHECK_BITS(%s, %s): %.17g (0x%016" PRIx64       \
                 ") vs %.17g "                                    \
                 "(0x%016" PRIx64 ")",                            \
                 #a, #b, unit_da_, unit_ua_, unit_db_, unit_ub_); \
  } while (0)

/* Doubles equal within a relative tolerance (or both NaN). */
#define CHECK_NEAR(a, b, rel)                                                                      \
  do {                                                                                             \
    double unit_da_ = (a), unit_db_ = (b);                                                         \
    double unit_scale_ = fmax(1.0, fmax(fabs(unit_da_), fabs(unit_db_)));                          \
    if (!((isnan(unit_da_) && isnan(unit_db_)) || fabs(unit_da_ - unit_db_) <= (rel)*unit_scale_)) \
      unit__fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s): %.17g vs %.17g", #a, #b, unit_da_,       \
                 unit_db_);                                                                        \
  } while (0)

#endif /* TSDB_TESTS_UNIT_H */
