/* The helpers declared in test_engine.h, compiled into every engine test. */
#include "test_engine.h"

_Atomic int64_t fake_now;
int64_t fake_clock(void *ud) {
  (void)ud;
  return atomic_load(&fake_now);
}

uint32_t partial_interval_ms;

/* The databases open_db*() opened and serve/ over each. */
#define OPEN_MAX 8
static struct {
  tsdb_db *db;
  tsdb_serve *srv;
} open_dbs[OPEN_MAX];

tsdb_db *open_db_with(tsdb_options *engine, const tsdb_serve_options *serve) {
  tsdb_serve_options defaults;
  tsdb_serve_options_init(&defaults);
  tsdb_serve *srv = NULL;
  char err[256];
  CHECK_MSG(tsdb_serve_open(serve ? serve : &defaults, &srv, err, sizeof err) == 0,
            "tsdb_serve_open: %s", err);
  tsdb_serve_engine_options(srv, engine);
  tsdb_db *db = NULL;
  CHECK_MSG(tsdb_open(engine, &db, err, sizeof err) == 0, "tsdb_open: %s", err);
  CHECK_MSG(tsdb_serve_start(srv, db, err, sizeof err) == 0, "tsdb_serve_start: %s", err);
  for (int i = 0; i < OPEN_MAX; i++)
    if (!open_dbs[i].db) {
      open_dbs[i].db = db;
      open_dbs[i].srv = srv;
      return db;
    }
  CHECK_MSG(false, "more than %d databases open at once", OPEN_MAX);
  return NULL;
}

tsdb_db *open_db(const char *path, bool fake_time, uint32_t grace_ms) {
  tsdb_options o;
  tsdb_options_init(&o);
  o.partial_interval_ms = partial_interval_ms;
  o.path = path;
  o.queue_bytes = 1 << 20;
  o.flush_interval_ms = 1;
  o.grace_ms = grace_ms;
  if (fake_time) o.clock_fn = fake_clock;
  return open_db_with(&o, NULL);
}

tsdb_serve *serve_of(tsdb_db *db) {
  for (int i = 0; i < OPEN_MAX; i++)
    if (open_dbs[i].db == db) return open_dbs[i].srv;
  CHECK_MSG(false, "a database open_db() did not open");
  return NULL;
}

void close_db(tsdb_db *db) {
  if (!db) return;
  tsdb_serve *srv = serve_of(db);
  tsdb_serve_stop(srv);
  tsdb_close(db);
  tsdb_serve_close(srv);
  for (int i = 0; i < OPEN_MAX; i++)
    if (open_dbs[i].db == db) open_dbs[i].db = NULL;
}

tsdb_series_class *make_class_version(const char *const *fields, size_t nfields,
                                      const int64_t *tiers, size_t ntiers, int dup,
                                      uint32_t version) {
  static const char *const units[] = {"ug/m3", "Cel", "%RH", "hPa"};
  tsdb_series_class_desc d = {
      .schema_id = "test",
      .schema_version = version,
      .topic_template = "city/{district}/{station}/air",
      .nfields = nfields,
      .field_names = fields,
      .units = units,
      .ntiers = ntiers,
      .tiers_ms = tiers,
      .dup_policy = dup,
      .block_span_ms = 3600000, /* one hour: blocks get crossed in the tests */
  };
  tsdb_series_class *cls = NULL;
  CHECK_OK(tsdb_series_class_create(&d, &cls));
  return cls;
}

tsdb_series_class *make_class(const char *const *fields, size_t nfields, const int64_t *tiers,
                              size_t ntiers, int dup) {
  return make_class_version(fields, nfields, tiers, ntiers, dup, 1);
}

void ingest1(tsdb_db *db, tsdb_series_class *cls, const char *topic, uint32_t field, int64_t ts,
             double v) {
  tsdb_point p = {ts, v, field};
  tsdb_ingest_msg m = {
      .cls = cls, .topic = topic, .topic_len = strlen(topic), .points = &p, .npoints = 1};
  int rc;
  while ((rc = tsdb_ingest(db, &m)) == TSDB_EFULL) usleep(1000);
  CHECK_OK(rc);
}

int collect_point(void *ud, int64_t ts, double v) {
  collected *c = ud;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->ts = realloc(c->ts, c->cap * sizeof *c->ts);
    c->v = realloc(c->v, c->cap * sizeof *c->v);
  }
  c->ts[c->n] = ts;
  c->v[c->n] = v;
  c->n++;
  return 0;
}

void collected_free(collected *c) {
  free(c->ts);
  free(c->v);
  memset(c, 0, sizeof *c);
}

int collect_bucket(void *ud, const tsdb_aggregate *a) {
  buckets *bs = ud;
  CHECK(bs->n < 4096);
  bs->b[bs->n++] = *a;
  return 0;
}

tsdb_aggregate naive(const collected *c, int64_t from, int64_t to) {
  tsdb_aggregate a;
  memset(&a, 0, sizeof a);
  a.start_ms = from;
  double sum = 0, sumsq = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (c->ts[i] < from || c->ts[i] >= to) continue;
    double v = c->v[i];
    if (a.count == 0) {
      a.min = a.max = a.first = v;
      a.first_ts = c->ts[i];
    }
    a.count++;
    sum += v;
    sumsq += v * v;
    if (v < a.min) a.min = v;
    if (v > a.max) a.max = v;
    a.last = v;
    a.last_ts = c->ts[i];
  }
  if (a.count) {
    a.sum = sum;
    a.mean = sum / (double)a.count;
    double var = sumsq / (double)a.count - a.mean * a.mean;
    a.stddev = var > 0 ? sqrt(var) : 0;
  }
  return a;
}

void check_same_aggregate(const tsdb_aggregate *got, const tsdb_aggregate *want) {
  CHECK_INT(got->start_ms, ==, want->start_ms);
  CHECK_INT(got->count, ==, want->count);
  CHECK_BITS(got->min, want->min);
  CHECK_BITS(got->max, want->max);
  CHECK_BITS(got->first, want->first);
  CHECK_BITS(got->last, want->last);
  CHECK_INT(got->first_ts, ==, want->first_ts);
  CHECK_INT(got->last_ts, ==, want->last_ts);
  CHECK_NEAR(got->sum, want->sum, 1e-12);
  CHECK_NEAR(got->mean, want->mean, 1e-12);
  CHECK_NEAR(got->stddev, want->stddev, 1e-6);
}

void collect_pub(void *ud, const tsdb_result *r) {
  pubs *p = ud;
  if (r->kind != TSDB_RESULT_PUBLISH || p->n == 64) return;
  snprintf(p->topics[p->n], sizeof p->topics[0], "%s", r->topic);
  snprintf(p->payloads[p->n], sizeof p->payloads[0], "%.*s", (int)r->payload_len, r->payload);
  p->retain[p->n] = r->retain;
  p->n++;
}
