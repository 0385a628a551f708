/*
 * Engine error codes.
 *
 * Every engine function that can fail returns 0 or one of these negative codes.
 * The codes come from one X-macro table so that the enum, tsdb_err_name() and
 * tsdb_strerror() can never disagree. New codes go at the end: a code's value
 * never changes.
 *
 * A storage failure has one of three kinds: TSDB_ENOSPC (the disk is full),
 * TSDB_ECORRUPT (damaged data, on disk or in a stored value) and TSDB_EIO
 * (any other failure of the storage).
 */
#ifndef TSDB_ERROR_H
#define TSDB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define TSDB_ERRNO_MAP(XX)                          \
  XX(NOMEM, "out of memory")                        \
  XX(INVAL, "invalid argument")                     \
  XX(IO, "storage I/O error")                       \
  XX(CORRUPT, "corrupt or unreadable data")         \
  XX(FULL, "queue full")                            \
  XX(NOTFOUND, "not found")                         \
  XX(RANGE, "value out of range")                   \
  XX(TOOBIG, "result or record too large")          \
  XX(VERSION, "unsupported on-disk format version") \
  XX(CLOSED, "database is closing")                 \
  XX(THREAD, "cannot start a thread")               \
  XX(PARSE, "cannot parse")                         \
  XX(NOSPC, "no space left on device")

typedef enum tsdb_errno {
  TSDB_OK = 0,
#define TSDB_ERRNO_ENUM_(name, msg) TSDB_E##name,
  TSDB_ERRNO_FIRST_ = -1000,
  TSDB_ERRNO_MAP(TSDB_ERRNO_ENUM_)
#undef TSDB_ERRNO_ENUM_
      TSDB_ERRNO_END_
} tsdb_errno;

/* Human-readable text for an error code ("queue full"). Never NULL. Thread-safe. */
const char *tsdb_strerror(int err);

/* Symbolic name of an error code ("TSDB_EFULL"). Never NULL. Thread-safe. */
const char *tsdb_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_ERROR_H */
