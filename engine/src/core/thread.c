#include "thread.h"

#include <signal.h>

#include "tsdb/error.h"

int tsdb_thread__start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg) {
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  int rc = pthread_create(thread, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (rc != 0) return TSDB_ETHREAD;
  pthread_setname_np(*thread, name);
  return 0;
}
