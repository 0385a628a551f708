/*
 * The three things store.c needs from RocksDB that its C API (7.8) does not
 * offer: an info logger, an event listener, DB::Resume(). See store_cxx.h.
 *
 * The C API's handles are structs whose first (and only) member is the C++
 * object or a pointer to it: `struct rocksdb_t { DB* rep; }` and
 * `struct rocksdb_options_t { Options rep; }` in RocksDB's db/c.cc, the
 * shape they have had since the C API began and that language bindings
 * (gorocksdb, for one) rely on. The types stay opaque here: a handle's
 * address is its first member's address. The library and these headers come
 * from the same Debian package (librocksdb-dev 7.8.3). Every open goes
 * through the logger; tests/integration/test_faults.py exercises the
 * listener and Resume() on a full disk (docs/mosquitto-2.0-facts.md).
 */
#include "store_cxx.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>

namespace {

rocksdb::Options &options_of(rocksdb_options_t *opts) {
  return *reinterpret_cast<rocksdb::Options *>(opts);
}

rocksdb::DB *db_of(rocksdb_t *db) { return *reinterpret_cast<rocksdb::DB **>(db); }

class CallbackLogger final : public rocksdb::Logger {
 public:
  CallbackLogger(rocksdb::InfoLogLevel min_level, tsdb_rocks_log_fn fn, void *ud)
      : rocksdb::Logger(min_level), fn_(fn), ud_(ud) {}

  using rocksdb::Logger::Logv;
  void Logv(const char *format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char *format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    /* RocksDB's lines are short; a longer one (an options dump) is cut. */
    char line[1024];
    int n = vsnprintf(line, sizeof line, format, ap);
    if (n < 0) return;
    size_t len = strnlen(line, sizeof line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    fn_(ud_, static_cast<int>(level), line);
  }

 private:
  tsdb_rocks_log_fn fn_;
  void *ud_;
};

/* Turns RocksDB's own recovery off: the writer calls Resume() instead. */
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool *auto_recovery) override {
    *auto_recovery = false;
  }
};

} // namespace

extern "C" int tsdb_rocks__set_logger(rocksdb_options_t *opts, int min_level, tsdb_rocks_log_fn fn,
                                      void *ud) {
  try {
    auto level = static_cast<rocksdb::InfoLogLevel>(min_level);
    options_of(opts).info_log = std::make_shared<CallbackLogger>(level, fn, ud);
    options_of(opts).info_log_level = level;
    return 0;
  } catch (...) {
    return -1;
  }
}

extern "C" int tsdb_rocks__manual_recovery(rocksdb_options_t *opts) {
  try {
    options_of(opts).listeners.push_back(std::make_shared<ManualRecovery>());
    return 0;
  } catch (...) {
    return -1;
  }
}

extern "C" char *tsdb_rocks__resume(rocksdb_t *db) {
  try {
    rocksdb::Status s = db_of(db)->Resume();
    if (s.ok()) return nullptr;
    return strdup(s.ToString().c_str());
  } catch (...) {
    return strdup("DB::Resume() threw an exception");
  }
}
