#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "timeutil.h"

static void emit(const tsdb_logger *log, int level, const char *line) {
  if (log->fn) log->fn(log->ud, level, line);
}

void tsdb_log__printf(const tsdb_logger *log, int level, const char *fmt, ...) {
  if (!log || level > log->level) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  emit(log, level, line);
}

void tsdb_ratelimit__init(tsdb_ratelimit *rl, int64_t window_ms, uint32_t burst) {
  pthread_mutex_init(&rl->lock, NULL);
  rl->window_ms = window_ms;
  rl->burst = burst;
  rl->window_start = INT64_MIN;
  rl->in_window = 0;
  rl->suppressed = 0;
}

void tsdb_ratelimit__destroy(tsdb_ratelimit *rl) { pthread_mutex_destroy(&rl->lock); }

bool tsdb_ratelimit__allow(tsdb_ratelimit *rl, int64_t now_ms, uint64_t *suppressed) {
  pthread_mutex_lock(&rl->lock);
  if (rl->window_start == INT64_MIN || now_ms - rl->window_start >= rl->window_ms) {
    rl->window_start = now_ms;
    rl->in_window = 0;
  }
  bool allow = rl->in_window < rl->burst;
  if (allow) {
    rl->in_window++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
  } else {
    rl->suppressed++;
  }
  pthread_mutex_unlock(&rl->lock);
  return allow;
}

void tsdb_log__limited(const tsdb_logger *log, tsdb_ratelimit *rl, int level, const char *fmt,
                       ...) {
  if (!log || level > log->level) return;
  uint64_t suppressed;
  if (!tsdb_ratelimit__allow(rl, tsdb_time__monotonic_ms(), &suppressed)) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (suppressed && n >= 0 && (size_t)n < sizeof line)
    snprintf(line + n, sizeof line - (size_t)n, " suppressed=%" PRIu64, suppressed);
  emit(log, level, line);
}
