/*
 * Waking the broker's loop when the engine has results to publish, so that
 * an idle Mosquitto 2.0 publishes them within a millisecond or so instead of
 * at its next loop pass (up to 100 ms later). See wake.c for the design and
 * the facts of Mosquitto 2.0.11 it rests on.
 */
#ifndef PLUGIN_WAKE_H
#define PLUGIN_WAKE_H

typedef struct plugin_wake plugin_wake;

/*
 * Broker thread, in mosquitto_plugin_init (Mosquitto's main thread, which
 * runs the loop): picks a free real-time signal, installs a no-op handler,
 * blocks the signal in this thread (Mosquitto unblocks it only around its
 * epoll_wait) and starts the waker thread. Returns NULL, after logging why,
 * when that is not possible: the plugin then works as before, results
 * leaving at the next loop pass.
 */
plugin_wake *plugin_wake__start(void);

/* tsdb_options.results_notify_fn (ud: the plugin_wake): any thread. Asks
 * the waker thread to wake the broker's loop; never blocks beyond a short
 * mutex hold, never signals itself. */
void plugin_wake__notify(void *ud);

/* Broker thread, first thing in every MOSQ_EVT_TICK: the loop came round,
 * which is what every wake-up waits for. NULL ok. */
void plugin_wake__tick(plugin_wake *w);

/* Broker thread, after tsdb_close() (no engine thread notifies any more):
 * joins the waker thread, then discards a pending signal, restores the
 * previous handler and unblocks the signal. Nothing sends it afterwards.
 * NULL ok. */
void plugin_wake__stop(plugin_wake *w);

#endif /* PLUGIN_WAKE_H */
