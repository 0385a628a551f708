/*
 * The serve/ handle and its lifecycle (tsdb/serve.h): the outbox first, then
 * the engine is opened with serve/'s bucket events, then the control and
 * replay threads start on it; they stop before the engine closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

void tsdb_serve_options_init(tsdb_serve_options *o) {
  memset(o, 0, sizeof *o);
  o->control_threads = 1;
  o->max_answer_rows = 10000;
  o->max_pending_commands = 256;
  o->max_replays = 4;
  o->max_results = 100000;
  o->log_level = TSDB_LOG_INFO;
}

static void set_err(char *errbuf, size_t errlen, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
}

/* A log sink into the outbox: the host logs the line on its own thread. */
static void log_to_outbox(void *ud, int level, const char *line) {
  tsdb_outbox__log(ud, level, line);
}

int tsdb_serve_open(const tsdb_serve_options *opts, tsdb_serve **out, char *errbuf, size_t errlen) {
  *out = NULL;
  tsdb_serve *srv = calloc(1, sizeof *srv);
  if (!srv) {
    set_err(errbuf, errlen, tsdb_strerror(TSDB_ENOMEM));
    return TSDB_ENOMEM;
  }
  srv->opts = *opts;
  int rc = tsdb_outbox__init(&srv->outbox, opts->max_results ? opts->max_results : 1,
                             opts->results_notify_fn, opts->results_notify_ud);
  if (rc) {
    set_err(errbuf, errlen, tsdb_strerror(rc));
    free(srv);
    return rc;
  }
  pthread_mutex_init(&srv->host_lock, NULL);
  srv->log = opts->log_fn ? (tsdb_logger){opts->log_fn, opts->log_ud, opts->log_level}
                          : (tsdb_logger){log_to_outbox, &srv->outbox, opts->log_level};
  *out = srv;
  return 0;
}

void tsdb_serve_engine_options(tsdb_serve *srv, tsdb_options *engine) {
  engine->bucket_fn = tsdb_serve__publish_bucket;
  engine->bucket_ud = srv;
  if (!engine->log_fn) {
    engine->log_fn = log_to_outbox;
    engine->log_ud = &srv->outbox;
  }
}

int tsdb_serve_start(tsdb_serve *srv, tsdb_db *db, char *errbuf, size_t errlen) {
  srv->db = db;
  tsdb_options eo;
  tsdb_options_get(db, &eo);
  srv->archive_retention_ms = eo.archive_retention_ms;
  char err[256];
  int rc = tsdb_replays__init(srv, &srv->replays);
  if (rc) {
    snprintf(err, sizeof err, "cannot set up replays: %s", tsdb_strerror(rc));
  } else if ((rc = tsdb_control__start(srv, &srv->control)) != 0) {
    snprintf(err, sizeof err, "cannot start the control threads: %s", tsdb_strerror(rc));
    tsdb_replays__stop(srv->replays);
    srv->replays = NULL;
  }
  if (rc) set_err(errbuf, errlen, err);
  return rc;
}

void tsdb_serve_stop(tsdb_serve *srv) {
  if (!srv) return;
  /* The host no longer drains (its tick is unregistered), so nothing may
   * wait for it; then the producers stop. */
  tsdb_outbox__end_waits(&srv->outbox);
  tsdb_control__stop(srv->control);
  tsdb_replays__stop(srv->replays);
  srv->control = NULL;
  srv->replays = NULL;
}

void tsdb_serve_close(tsdb_serve *srv) {
  if (!srv) return;
  tsdb_serve_stop(srv);
  tsdb_outbox__destroy(&srv->outbox);
  free(srv->host_json);
  free(srv->host_prometheus);
  pthread_mutex_destroy(&srv->host_lock);
  free(srv);
}

size_t tsdb_serve_drain(tsdb_serve *srv, size_t max_items, tsdb_result_fn fn, void *ud) {
  return tsdb_outbox__drain(&srv->outbox, max_items, SIZE_MAX, fn, ud);
}

size_t tsdb_serve_drain_bounded(tsdb_serve *srv, size_t max_items, size_t max_bytes,
                                tsdb_result_fn fn, void *ud) {
  return tsdb_outbox__drain(&srv->outbox, max_items, max_bytes, fn, ud);
}

size_t tsdb_serve_pending(const tsdb_serve *srv) {
  return atomic_load(&((tsdb_serve *)srv)->outbox.count);
}

int tsdb_serve_control_submit(tsdb_serve *srv, const char *client_id, const void *payload,
                              size_t len) {
  if (!srv->control) return TSDB_ECLOSED;
  return tsdb_control__submit(srv->control, client_id, payload, len);
}

void tsdb_serve_host_metrics_set(tsdb_serve *srv, const char *json, const char *prometheus) {
  char *j = json ? strdup(json) : NULL, *p = prometheus ? strdup(prometheus) : NULL;
  pthread_mutex_lock(&srv->host_lock);
  free(srv->host_json);
  free(srv->host_prometheus);
  srv->host_json = j;
  srv->host_prometheus = p;
  pthread_mutex_unlock(&srv->host_lock);
}
