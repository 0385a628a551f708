/* The serve/ handle shared by its modules. Internal. */
#ifndef TSDB_SERVE_INTERNAL_H
#define TSDB_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "log.h"
#include "outbox.h"
#include "tsdb/serve.h"

typedef struct tsdb_control tsdb_control;
typedef struct tsdb_replays tsdb_replays;

struct tsdb_serve {
  tsdb_serve_options opts;
  tsdb_logger log; /* serve/'s own lines */
  tsdb_outbox outbox;
  tsdb_db *db;                  /* set by tsdb_serve_start */
  int64_t archive_retention_ms; /* the engine's: 0 when replays are off */
  tsdb_control *control;
  tsdb_replays *replays;
  atomic_uint_fast64_t commands;
  pthread_mutex_t host_lock; /* guards the host's metrics below */
  char *host_json, *host_prometheus;
};

int tsdb_control__start(tsdb_serve *srv, tsdb_control **out);
void tsdb_control__stop(tsdb_control *c);
int tsdb_control__submit(tsdb_control *c, const char *client_id, const void *payload, size_t len);

int tsdb_replays__init(tsdb_serve *srv, tsdb_replays **out);
/* Starts a replay thread; the id (given or generated) goes to idbuf.
 * TSDB_EFULL: max_replays run already; TSDB_EINVAL: the client runs one of
 * that id already. */
int tsdb_replays__start(tsdb_replays *rs, const char *client_id, const char *id, const char *filter,
                        int64_t from, int64_t to, double speed, char *idbuf, size_t idlen);
/* Cancels a running replay of this client; TSDB_ENOTFOUND if none. */
int tsdb_replays__cancel(tsdb_replays *rs, const char *client_id, const char *id);
void tsdb_replays__stop(tsdb_replays *rs);

/* The stats command's "engine" object members and the host's, as JSON
 * (metrics.c). */
struct tsdb_strbuf;
void tsdb_serve__stats_json(tsdb_serve *srv, struct tsdb_strbuf *sb);

/* The bucket-event function tsdb_serve_engine_options installs (aggregates.c). */
void tsdb_serve__publish_bucket(const tsdb_bucket_event *ev, void *srv);

#endif /* TSDB_SERVE_INTERNAL_H */
