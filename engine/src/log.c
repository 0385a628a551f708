#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void tsdb_log__printf(const tsdb_logger *log, int level, const char *fmt, ...) {
  if (!log || level > log->level) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (log->fn)
    log->fn(log->ud, level, line);
  else if (log->results)
    tsdb_results__log(log->results, level, line);
}
