/* Engine logging: "key=value" lines through a sink: the host's callback, or
 * (db.c) the result queue when the host gave none, so that the plugin logs
 * them on its thread, because mosquitto_log_printf() may only be called
 * there. Pure code: no knowledge of where a line goes. */
#ifndef TSDB_LOG_H
#define TSDB_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

typedef struct tsdb_logger {
  tsdb_log_fn fn; /* NULL: lines are dropped */
  void *ud;
  int level;
} tsdb_logger;

void tsdb_log__printf(const tsdb_logger *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A rate limit for lines that a failure can repeat without end (a storage
 * error per write, per read, per RocksDB retry): `burst` lines per `window_ms`,
 * then silence until the window ends; the first line after a silence says
 * how many were left out. Thread-safe.
 */
typedef struct tsdb_ratelimit {
  pthread_mutex_t lock;
  int64_t window_ms;
  uint32_t burst;
  int64_t window_start; /* monotonic ms */
  uint32_t in_window;
  uint64_t suppressed;
} tsdb_ratelimit;

void tsdb_ratelimit__init(tsdb_ratelimit *rl, int64_t window_ms, uint32_t burst);
void tsdb_ratelimit__destroy(tsdb_ratelimit *rl);
/* true: log this line now; *suppressed is then how many were left out
 * since the last line that went out. */
bool tsdb_ratelimit__allow(tsdb_ratelimit *rl, int64_t now_ms, uint64_t *suppressed);

/* tsdb_log__printf() under a rate limit, with " suppressed=N" appended when
 * lines were left out before it. */
void tsdb_log__limited(const tsdb_logger *log, tsdb_ratelimit *rl, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* TSDB_LOG_H */
