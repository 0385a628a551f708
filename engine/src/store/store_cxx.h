/*
 * What RocksDB 7.8's C API lacks and the store needs, reached through its
 * C++ API on the handles the C API made (store_cxx.cc). Internal to store.c.
 *
 * - An info logger of our own. RocksDB's default logger writes <dir>/LOG
 *   through a file writer that, once one write has failed (a full disk),
 *   trips an assertion on its next line; Debian's librocksdb 7.8.3 is built
 *   with assertions on, so the whole broker aborted a few seconds after the
 *   first "No space left on device" (issue 12). Ours never writes through
 *   RocksDB's file writer: every line goes to a callback.
 * - Manual error recovery. RocksDB's own recovery from a full disk waits,
 *   in a thread of its SstFileManager, until the free space exceeds its
 *   reserve (64 MiB and more: never, on a small volume), and while it waits
 *   DB::Resume() answers "busy". We turn that off and call DB::Resume()
 *   ourselves when the writer retries.
 *
 * Every function catches C++ exceptions at the boundary: none crosses into C.
 */
#ifndef TSDB_STORE_CXX_H
#define TSDB_STORE_CXX_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RocksDB's InfoLogLevel values. */
enum {
  TSDB_ROCKS_DEBUG = 0,
  TSDB_ROCKS_INFO,
  TSDB_ROCKS_WARN,
  TSDB_ROCKS_ERROR,
  TSDB_ROCKS_FATAL,
  TSDB_ROCKS_HEADER
};

/* One line RocksDB logged, already formatted (no trailing newline). Called
 * from any RocksDB thread, and from the thread that opens the database. */
typedef void (*tsdb_rocks_log_fn)(void *ud, int level, const char *line);

/* Makes `opts` log every line at `min_level` or above through fn (ud must
 * outlive every database opened with these options). 0, or -1 when out of
 * memory (the options keep RocksDB's default logger then). */
int tsdb_rocks__set_logger(rocksdb_options_t *opts, int min_level, tsdb_rocks_log_fn fn, void *ud);

/* Adds an event listener that turns RocksDB's automatic error recovery off,
 * so that tsdb_rocks__resume() decides when to try. 0 or -1. */
int tsdb_rocks__manual_recovery(rocksdb_options_t *opts);

/* DB::Resume(): clears a background error (a failed write, flush or
 * compaction) once its cause is gone, flushing the memtables and starting
 * a new write-ahead log. NULL when the database accepts writes again, else
 * an error text to free with rocksdb_free(). */
char *tsdb_rocks__resume(rocksdb_t *db);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_STORE_CXX_H */
