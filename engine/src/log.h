/* Engine logging: "key=value" lines through the host's callback, or into the
 * result queue when the host gave none (the plugin logs them on its thread,
 * because mosquitto_log_printf() may only be called there). */
#ifndef TSDB_LOG_H
#define TSDB_LOG_H

#include "results.h"
#include "tsdb/tsdb.h"

typedef struct tsdb_logger {
  tsdb_log_fn fn;
  void *ud;
  int level;
  tsdb_results *results;
} tsdb_logger;

void tsdb_log__printf(const tsdb_logger *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TSDB_LOG_H */
