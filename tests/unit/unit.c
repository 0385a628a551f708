#include "unit.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIT_MAX_TESTS 512

static struct {
  const char *name;
  unit_fn fn;
} unit_tests[UNIT_MAX_TESTS];
static size_t unit_ntests;
static struct {
  const char *name;
  unit_helper_fn fn;
} unit_helpers[16];
static size_t unit_nhelpers;
static char unit_dir[4096];
static char unit_pathbuf[4096];
static const char *unit_current;

void unit__register(const char *name, unit_fn fn) {
  if (unit_ntests == UNIT_MAX_TESTS) {
    fprintf(stderr, "unit: too many tests (max %d)\n", UNIT_MAX_TESTS);
    exit(2);
  }
  unit_tests[unit_ntests].name = name;
  unit_tests[unit_ntests].fn = fn;
  unit_ntests++;
}

void unit__register_helper(const char *name, unit_helper_fn fn) {
  if (unit_nhelpers < sizeof unit_helpers / sizeof unit_helpers[0]) {
    unit_helpers[unit_nhelpers].name = name;
    unit_helpers[unit_nhelpers].fn = fn;
    unit_nhelpers++;
  }
}

void unit__fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "FAIL %s at %s:%d: ", unit_current ? unit_current : "?", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (unit_dir[0]) fprintf(stderr, "  temporary directory kept: %s\n", unit_dir);
  exit(1);
}

static int unit_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* Depth first, without following links. */
static void unit_rmtree(const char *path) { nftw(path, unit_remove, 16, FTW_DEPTH | FTW_PHYS); }

const char *unit_tmpdir(void) {
  if (!unit_dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(unit_dir, sizeof unit_dir, "%s/tsdb-unit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(unit_dir)) {
      fprintf(stderr, "unit: mkdtemp: %s\n", strerror(errno));
      exit(2);
    }
  }
  return unit_dir;
}

const char *unit_path(const char *name) {
  snprintf(unit_pathbuf, sizeof unit_pathbuf, "%s/%s", unit_tmpdir(), name);
  return unit_pathbuf;
}

uint64_t unit_rand(uint64_t *state) {
  /* splitmix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014) */
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int unit_run(size_t i) {
  unit_current = unit_tests[i].name;
  unit_dir[0] = '\0';
  unit_tests[i].fn();
  if (unit_dir[0] && !getenv("TSDB_KEEP_TMP")) unit_rmtree(unit_dir);
  unit_dir[0] = '\0';
  printf("ok %s\n", unit_tests[i].name);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 2 && !strcmp(argv[1], "--helper")) {
    for (size_t i = 0; i < unit_nhelpers; i++)
      if (!strcmp(unit_helpers[i].name, argv[2])) return unit_helpers[i].fn(argc - 3, argv + 3);
    fprintf(stderr, "unit: no helper named '%s'\n", argv[2]);
    return 2;
  }
  if (argc > 1 && !strcmp(argv[1], "--list")) {
    for (size_t i = 0; i < unit_ntests; i++) printf("%s\n", unit_tests[i].name);
    return 0;
  }
  if (argc > 1) {
    for (int a = 1; a < argc; a++) {
      size_t i = 0;
      while (i < unit_ntests && strcmp(unit_tests[i].name, argv[a])) i++;
      if (i == unit_ntests) {
        fprintf(stderr, "unit: no test named '%s'\n", argv[a]);
        return 2;
      }
      unit_run(i);
    }
    return 0;
  }
  for (size_t i = 0; i < unit_ntests; i++) unit_run(i);
  return 0;
}
