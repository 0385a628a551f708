#include "ingest/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ingest_strerror(int err) {
  switch (err) {
  case INGEST_OK:
    return "success";
#define INGEST_STRERROR_CASE_(name, short_name, msg) \
  case INGEST_E##name:                               \
    return msg;
    INGEST_ERRNO_MAP(INGEST_STRERROR_CASE_)
#undef INGEST_STRERROR_CASE_
  default:
    return "unknown error";
  }
}

const char *ingest_err_short(int err) {
  switch (err) {
  case INGEST_OK:
    return "ok";
#define INGEST_SHORT_CASE_(name, short_name, msg) \
  case INGEST_E##name:                            \
    return short_name;
    INGEST_ERRNO_MAP(INGEST_SHORT_CASE_)
#undef INGEST_SHORT_CASE_
  default:
    return "unknown";
  }
}

void ingest_error_clear(ingest_error *err) {
  if (err) memset(err, 0, sizeof *err);
}

int ingest_error_set(ingest_error *err, int code, const char *keyword, const char *pointer,
                     const char *fmt, ...) {
  if (!err) return code;
  /* A new error: the members its setter does not fill stay empty, never
   * left over from an earlier error or from uninitialised memory (an error
   * record once carried "\rV" as its schema_path; issue 12). */
  ingest_error_clear(err);
  err->code = code;
  snprintf(err->keyword, sizeof err->keyword, "%s", keyword ? keyword : "");
  snprintf(err->pointer, sizeof err->pointer, "%s", pointer ? pointer : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}
