/*
 * Waking the broker's loop when the engine has results (Mosquitto 2.0.11).
 *
 * Results leave in MOSQ_EVT_TICK, once per loop pass. An idle broker's pass
 * ends in epoll_wait(..., 100 ms), so an answer computed a millisecond after
 * the pass that received its request waited for the next one: 100 ms per
 * command on an idle broker. Mosquitto 2.0 gives a plugin no way to add a
 * descriptor to its epoll set or to shorten the timeout (2.1 has both).
 *
 * What 2.0.11 does (src/mux_epoll.c, src/loop.c, src/mosquitto.c; checked by
 * tests/integration/test_serving.py, test_idle_broker_answers_at_once):
 *   - mux_epoll__handle() sets the thread's signal mask to exactly
 *     {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP} around epoll_wait
 *     (sigprocmask SIG_SETMASK, then back to the previous mask), and treats
 *     an EINTR return as an ordinary pass: no log line. mux_poll.c does the
 *     same around poll().
 *   - mosquitto_main_loop() runs the tick at the end of every pass and sends
 *     what plugins published at the start of the next, before the wait.
 *   - Plugins are initialised and cleaned up on the thread that runs the
 *     loop, after daemonising (main(): security_module_init ... main_loop
 *     ... security_module_cleanup); a reload does not re-run them.
 *
 * DESIGN
 * Mechanism
 *   - A real-time signal sent with pthread_kill() to the broker thread, with
 *     a handler that only counts: it ends epoll_wait with EINTR, the pass
 *     runs, the tick publishes.
 *   - The signal is blocked in the broker thread from init on. Mosquitto's
 *     own mask switch unblocks it exactly around epoll_wait, so it can
 *     interrupt nothing else on that thread (socket and file writes, the
 *     durable-ingest condition wait, another plugin's poll() or sleep);
 *     SA_RESTART is only a second line of defence. Threads the broker
 *     thread starts later inherit the block.
 *   - Which signal: the highest real-time signal that is SIG_DFL and not
 *     blocked in the broker thread at init. A SIG_DFL real-time signal ends
 *     the process, so nobody sends it; a sigwait() user would block it.
 *     glibc keeps its internal signals (32, 33) below SIGRTMIN; Mosquitto
 *     2.0.11 uses SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE only;
 *     librocksdb 7.8, cJSON and msgpack-c install no handler at all. The
 *     search starts at SIGRTMAX because libraries that take one take
 *     SIGRTMIN + n. The first tick checks that the handler is still ours.
 *   - Lost wake-ups: unblocking and waiting are two calls (sigprocmask, then
 *     epoll_wait, not epoll_pwait), so a signal sent while the broker
 *     thread is busy stays pending, is delivered just before epoll_wait, and
 *     does not end it. If the tick of that pass ran before the results
 *     came, they would wait the full 100 ms. So the waker thread insists
 *     until a tick begins after its request: each check interval (1 ms,
 *     doubling to 16 ms) without one, it signals again if the handler has
 *     taken the last signal. It never queues a second one (real-time
 *     signals queue) while one is pending: that one is delivered when the
 *     broker next waits, as a new one would be.
 * Threads and ownership
 *   - Engine threads, and the broker thread when a drain leaves results
 *     behind, call plugin_wake__notify(): `requested` under the mutex and a
 *     condition signal. The engine calls it at most once per drain
 *     (tsdb_options.results_notify_fn), so at most once per loop pass.
 *   - The waker thread alone sends the signal.
 *   - The broker thread bumps `ticks` in every tick, and sets `armed` in the
 *     first one once it has checked it is the thread init ran on.
 * Ordering: a tick bumps `ticks` before it drains, and a drain clears the
 *   engine's announcement before it takes results; so results announced
 *   before the waker read `ticks` are taken by any tick that bumps it later
 *   (or announced again when the tick's bounds leave them behind).
 * Full queue: none; requests coalesce into one flag.
 * Shutdown order (plugin cleanup, broker thread, after tsdb_close(): no
 *   engine thread notifies any more): set `stop` and join the waker (no
 *   signal is sent after that), set the signal to SIG_IGN (which discards an
 *   instance still pending), restore the previous action, unblock it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin.h"
#include "wake.h"

#define WAKE_CHECK_FIRST_US 1000L
#define WAKE_CHECK_MAX_US 16000L

/* The handler only touches a lock-free atomic: async-signal-safe. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free counter");

/* Deliveries per signal number, process-wide like signal dispositions. */
static atomic_uint delivered[NSIG];

struct plugin_wake {
  int signo;
  pthread_t broker; /* the thread that runs Mosquitto's loop */
  struct sigaction previous;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC */
  bool requested;      /* under lock */
  bool stop;           /* under lock */
  atomic_bool armed;
  atomic_uint_fast64_t ticks;
  bool checked;   /* broker thread */
  bool in_flight; /* waker thread: a signal was sent ... */
  unsigned seen;  /* ... when the handler had run this often */
};

static void on_signal(int signo) {
  if (signo > 0 && signo < NSIG)
    atomic_fetch_add_explicit(&delivered[signo], 1, memory_order_relaxed);
}

/* Installs the handler on the highest free real-time signal; 0 if none. */
static int take_signal(struct sigaction *previous) {
  sigset_t blocked;
  if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0) return 0;
  for (int s = SIGRTMAX; s >= SIGRTMIN; s--) {
    struct sigaction cur;
    if (sigaction(s, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL ||
        sigismember(&blocked, s) == 1)
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(s, &sa, previous) != 0) continue;
    if (!(previous->sa_flags & SA_SIGINFO) && previous->sa_handler == SIG_DFL) return s;
    sigaction(s, previous, NULL); /* someone took it in between: give it back */
  }
  return 0;
}

static struct timespec after_us(long us) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_nsec += us * 1000L;
  t.tv_sec += t.tv_nsec / 1000000000L;
  t.tv_nsec %= 1000000000L;
  return t;
}

/* Signals the broker thread until a tick begins after the request (see
 * DESIGN: lost wake-ups). Called and returns with w->lock held. */
static void wake_broker(plugin_wake *w) {
  if (!atomic_load(&w->armed)) return; /* the first tick drains everything anyway */
  uint_fast64_t ticks = atomic_load(&w->ticks);
  long check_us = WAKE_CHECK_FIRST_US;
  while (!w->stop) {
    /* A signal still pending (the broker is busy) is delivered when it next
     * waits, like a new one would be: send again only once it was taken. */
    if (w->in_flight && atomic_load(&delivered[w->signo]) != w->seen) w->in_flight = false;
    if (!w->in_flight) {
      w->seen = atomic_load(&delivered[w->signo]);
      if (pthread_kill(w->broker, w->signo) == 0) {
        w->in_flight = true;
        check_us = WAKE_CHECK_FIRST_US;
      }
    }
    struct timespec at = after_us(check_us);
    pthread_cond_timedwait(&w->cond, &w->lock, &at); /* early on stop or a new request */
    if (atomic_load(&w->ticks) != ticks) return;
    /* Taken, but no pass followed: it came just before the wait. Again at
     * once; otherwise look less and less often. */
    if (!(w->in_flight && atomic_load(&delivered[w->signo]) != w->seen) &&
        check_us < WAKE_CHECK_MAX_US)
      check_us *= 2;
  }
}

static void *waker_main(void *arg) {
  plugin_wake *w = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->requested && !w->stop) pthread_cond_wait(&w->cond, &w->lock);
    if (w->stop) break;
    w->requested = false;
    wake_broker(w);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

plugin_wake *plugin_wake__start(void) {
  plugin_wake *w = calloc(1, sizeof *w);
  if (!w) {
    mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": wake-up off reason=out_of_memory");
    return NULL;
  }
  w->broker = pthread_self();
  pthread_condattr_t ca;
  bool cond_ok = false, lock_ok = pthread_mutex_init(&w->lock, NULL) == 0;
  if (lock_ok && pthread_condattr_init(&ca) == 0) {
    cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&w->cond, &ca) == 0;
    pthread_condattr_destroy(&ca);
  }
  const char *why = NULL;
  if (!cond_ok) why = "cannot_create_lock";
  if (!why && !(w->signo = take_signal(&w->previous))) why = "no_free_realtime_signal";
  if (!why) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, w->signo);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    if (pthread_create(&w->thread, NULL, waker_main, w) != 0) {
      why = "cannot_start_thread";
      pthread_sigmask(SIG_UNBLOCK, &one, NULL);
      sigaction(w->signo, &w->previous, NULL);
    }
  }
  if (why) {
    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         PLUGIN_NAME
                         ": wake-up off reason=%s: results leave at the broker's "
                         "next loop pass (up to 100 ms when idle)",
                         why);
    if (cond_ok) pthread_cond_destroy(&w->cond);
    if (lock_ok) pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
  }
  mosquitto_log_printf(MOSQ_LOG_INFO, PLUGIN_NAME ": wake-up signal=%d (SIGRTMIN+%d)", w->signo,
                       w->signo - SIGRTMIN);
  return w;
}

void plugin_wake__notify(void *ud) {
  plugin_wake *w = ud;
  pthread_mutex_lock(&w->lock);
  w->requested = true;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

void plugin_wake__tick(plugin_wake *w) {
  if (!w) return;
  if (!w->checked) {
    w->checked = true;
    struct sigaction cur;
    if (!pthread_equal(pthread_self(), w->broker))
      mosquitto_log_printf(MOSQ_LOG_WARNING,
                           PLUGIN_NAME ": wake-up off reason=tick_on_another_thread");
    else if (sigaction(w->signo, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
             cur.sa_handler != on_signal)
      mosquitto_log_printf(MOSQ_LOG_WARNING,
                           PLUGIN_NAME ": wake-up off reason=signal_taken signal=%d", w->signo);
    else
      atomic_store(&w->armed, true);
  }
  atomic_fetch_add(&w->ticks, 1);
}

void plugin_wake__stop(plugin_wake *w) {
  if (!w) return;
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  /* Nobody sends it any more. Ignoring it discards a pending instance on
   * every thread (POSIX sigaction), so the old action (SIG_DFL: terminate)
   * can never meet one. */
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(w->signo, &ign, NULL);
  sigaction(w->signo, &w->previous, NULL);
  if (pthread_equal(pthread_self(), w->broker)) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, w->signo);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  }
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
