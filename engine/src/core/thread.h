/*
 * Starting an engine thread. Every thread the engine and serve/ start (the
 * writer, maintenance, control, replay) starts here, so each is born with
 * every signal blocked and a name.
 *
 * Why signals are blocked before pthread_create(): signals belong to the
 * host's threads (the broker handles SIGHUP, SIGINT, SIGTERM, SIGUSR1/2). A
 * process-directed signal goes to any thread that does not block it
 * (POSIX, 2.4.1 "Signal Generation and Delivery"); a thread that blocked
 * signals only once it ran would leave a window in which the broker's
 * SIGHUP could land on it. A new thread inherits its creator's mask
 * (pthread_create(3)), so the creator blocks everything, creates, and
 * restores its own mask.
 *
 * Why a name: `top -H`, perf and the benchmarks' per-thread CPU read it
 * (at most 15 characters, pthread_setname_np(3)).
 */
#ifndef TSDB_THREAD_H
#define TSDB_THREAD_H

#include <pthread.h>

/* 0, or TSDB_ETHREAD when the thread could not be created. */
int tsdb_thread__start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg);

#endif /* TSDB_THREAD_H */
