#include "tsdb/error.h"

const char *tsdb_strerror(int err) {
  switch (err) {
  case TSDB_OK:
    return "success";
#define TSDB_STRERROR_CASE_(name, msg) \
  case TSDB_E##name:                   \
    return msg;
    TSDB_ERRNO_MAP(TSDB_STRERROR_CASE_)
#undef TSDB_STRERROR_CASE_
  default:
    return "unknown error";
  }
}

const char *tsdb_err_name(int err) {
  switch (err) {
  case TSDB_OK:
    return "TSDB_OK";
#define TSDB_ERRNAME_CASE_(name, msg) \
  case TSDB_E##name:                  \
    return "TSDB_E" #name;
    TSDB_ERRNO_MAP(TSDB_ERRNAME_CASE_)
#undef TSDB_ERRNAME_CASE_
  default:
    return "TSDB_EUNKNOWN";
  }
}
