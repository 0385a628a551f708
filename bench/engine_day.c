/*
 * A simulated day of a city (engine_bench --only day): the engine without a
 * broker, on a clock this benchmark drives.
 *
 * Shape: S stations of the air-quality kind (5 fields each, so 5 S series,
 * topics city/d<i%16>/s<i>/air), tiers 1m/15m/1h/1d, each station sending
 * one message a minute, spread evenly over the minute, for H simulated hours
 * from midnight UTC. The engine runs as a broker runs it (tsdb_options_init's
 * defaults: 5 s grace, partial publications every 5 s, the replay archive
 * with each message's ~110-byte JSON payload), and this thread drains the
 * publications like the broker's tick, counting them.
 *
 * The clock: before each message the engine's clock is set to the message's
 * time plus 200 ms of transport, and the writer is given the messages of
 * each batch window (flush_interval_ms of that clock) as one pass, as a
 * broker's writer would get them at this rate. The writer finalizes buckets
 * by this clock, so an hour of the day costs what it would on a live
 * broker, in CPU, without waiting an hour.
 *
 * Per simulated hour it prints the CPU of the whole process (every thread:
 * this one's ingest and draining, the writer, RocksDB's flushes and
 * compactions) per point and per message, the writer thread's share, and
 * RSS; at the end peak RSS, RSS per series, and bytes per point on disk
 * after a full compaction (raw, with the tiers, and the catalog; the
 * replay archive is not counted). The
 * question it answers: does the 24th hour cost what the first did, and
 * what does a point cost at 100 000 and 1 000 000 series.
 */
#include "engine_day.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/bench_common.h"
#include "lib/bench_engine.h"
#include "tsdb/serve.h"
#include "tsdb/tsdb.h"

#define DAY_START_MS 1796083200000 /* 2026-12-01T00:00:00Z */
#define TRANSPORT_MS 200
#define FIELDS 5

static _Atomic int64_t day_clock_ms;

static int64_t day_clock(void *ud) {
  (void)ud;
  return atomic_load_explicit(&day_clock_ms, memory_order_relaxed);
}

typedef struct drained {
  uint64_t publications, bytes, logs;
} drained;

static void count_result(void *ud, const tsdb_result *r) {
  drained *d = ud;
  if (r->kind == TSDB_RESULT_PUBLISH) {
    d->publications++;
    d->bytes += r->payload_len;
  } else {
    d->logs++;
  }
}

static long status_kb(const char *key);
static long out_rss_now(void) { return status_kb("VmRSS:"); }

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long kb = 0;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, klen)) kb = strtol(line + klen, NULL, 10);
  fclose(f);
  return kb;
}

/* CPU seconds of this process's threads whose name starts with prefix. */
static double threads_cpu_s(const char *prefix) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  double sum = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300], name[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (!fgets(name, sizeof name, f)) name[0] = '\0';
    fclose(f);
    if (strncmp(name, prefix, strlen(prefix)) != 0) continue;
    sum += bc_thread_cpu_s(getpid(), (pid_t)atoi(e->d_name));
  }
  closedir(d);
  return sum;
}

/* A station's values: smooth walks at a sensor's resolution, so that the
 * codec sees what real stations send (not constants, not noise). */
typedef struct station {
  float v[FIELDS];
} station;

static const char *const field_names[FIELDS] = {"pm10", "pm25", "no2", "temperature", "humidity"};
static const double resolution[FIELDS] = {0.1, 0.1, 1, 0.1, 1};
static const double start_value[FIELDS] = {20, 12, 30, 5, 70};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rng_unit(void) { /* [0, 1), PCG-style LCG output */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static tsdb_series_class *day_class(void) {
  static const int64_t tiers[] = {60000, 900000, 3600000, 86400000};
  static const char *const units[FIELDS] = {"ug/m3", "ug/m3", "ug/m3", "Cel", "%RH"};
  tsdb_series_class_desc d = {.schema_id = "air-quality",
                              .schema_version = 1,
                              .topic_template = "city/{district}/{station}/air",
                              .nfields = FIELDS,
                              .field_names = field_names,
                              .units = units,
                              .ntiers = 4,
                              .tiers_ms = tiers};
  tsdb_series_class *cls;
  if (tsdb_series_class_create(&d, &cls)) {
    fprintf(stderr, "engine_bench: cannot make the day's class\n");
    exit(1);
  }
  return cls;
}

void engine_day_run(const char *dir, const engine_day_params *p, engine_day_result *out) {
  char path[4200];
  snprintf(path, sizeof path, "%s/day", dir);
  bc_rmtree(path);
  atomic_store(&day_clock_ms, DAY_START_MS);
  tsdb_options o;
  tsdb_options_init(&o); /* the engine's defaults, as a broker runs it */
  o.path = path;
  o.log_level = TSDB_LOG_WARNING;
  o.clock_fn = day_clock;
  /* serve/ over it as the plugin runs them: the live aggregates, $CONTROL. */
  tsdb_serve_options so;
  tsdb_serve_options_init(&so);
  tsdb_serve *srv = NULL;
  char err[256];
  if (tsdb_serve_open(&so, &srv, err, sizeof err)) {
    fprintf(stderr, "engine_bench: %s\n", err);
    exit(1);
  }
  tsdb_serve_engine_options(srv, &o);
  tsdb_db *db = bench_engine_open_with(&o);
  if (tsdb_serve_start(srv, db, err, sizeof err)) {
    fprintf(stderr, "engine_bench: %s\n", err);
    exit(1);
  }
  tsdb_series_class *cls = day_class();
  size_t nst = p->stations;
  station *st = calloc(nst, sizeof *st);
  char **topics = calloc(nst, sizeof *topics);
  if (!st || !topics) exit(1);
  for (size_t i = 0; i < nst; i++) {
    char t[64];
    snprintf(t, sizeof t, "city/d%zu/s%zu/air", i % 16, i);
    topics[i] = strdup(t);
    for (int f = 0; f < FIELDS; f++) st[i].v[f] = (float)(start_value[f] * (0.5 + rng_unit()));
  }
  memset(out, 0, sizeof *out);
  out->stations = nst;
  out->series = nst * FIELDS;
  out->hours = p->hours;

  /* The start: the engine open, nothing ingested (RocksDB's part apart). */
  tsdb_store_memory mem0;
  tsdb_store_memory_get(db, &mem0);
  long base_kb =
      out_rss_now() - (long)((mem0.memtables + mem0.block_cache + mem0.table_readers) >> 10);
  drained dr = {0, 0, 0};
  uint64_t full_waits = 0;
  printf(
      "\n| hour | CPU µs/point | CPU µs/msg | writer µs/point | wall s | RSS MB | "
      "publications/msg |\n|---|---|---|---|---|---|---|\n");
  fflush(stdout);
  double cpu0 = bc_self_cpu_s(), writer0 = threads_cpu_s("tsdb-writer"),
         wall0 = (double)bc_now_ns() / 1e9;
  uint64_t pubs0 = 0;
  /* Messages in one batch window at this rate (at least one). */
  size_t per_pass = nst * o.flush_interval_ms / 60000, since_pass = 0;
  if (per_pass == 0) per_pass = 1;
  tsdb_point pts[FIELDS];
  char payload[256];
  for (int h = 0; h < p->hours; h++) {
    for (int m = 0; m < 60; m++) {
      int64_t minute = DAY_START_MS + ((int64_t)h * 60 + m) * 60000;
      for (size_t i = 0; i < nst; i++) {
        int64_t ts = minute + (int64_t)(i * 60000 / nst);
        atomic_store_explicit(&day_clock_ms, ts + TRANSPORT_MS, memory_order_relaxed);
        station *s = &st[i];
        for (int f = 0; f < FIELDS; f++) {
          double step = (rng_unit() - 0.5) * 4 * resolution[f];
          double v = round(((double)s->v[f] + step) / resolution[f]) * resolution[f];
          if (v < 0) v = 0;
          s->v[f] = (float)v;
          pts[f] = (tsdb_point){ts, v, (uint32_t)f};
        }
        int len = snprintf(payload, sizeof payload,
                           "{\"ts\":%" PRId64
                           ",\"pm10\":%.1f,\"pm25\":%.1f,\"no2\":%.0f,"
                           "\"temperature\":%.1f,\"humidity\":%.0f}",
                           ts, s->v[0], s->v[1], s->v[2], s->v[3], s->v[4]);
        tsdb_ingest_msg msg = {.cls = cls,
                               .topic = topics[i],
                               .topic_len = strlen(topics[i]),
                               .points = pts,
                               .npoints = FIELDS,
                               .payload = payload,
                               .payload_len = (size_t)len,
                               .arrival_ms = ts + TRANSPORT_MS};
        int rc;
        while ((rc = tsdb_ingest(db, &msg)) == TSDB_EFULL) {
          full_waits++;
          tsdb_serve_drain(srv, SIZE_MAX, count_result, &dr);
          usleep(200);
        }
        if (rc) {
          fprintf(stderr, "engine_bench: ingest: %s\n", tsdb_strerror(rc));
          exit(1);
        }
        /* A broker's writer takes what arrived in its batch window
         * (flush_interval_ms of the clock) in one pass, and its tick
         * publishes meanwhile: the same here, waiting for the writer so that
         * the clock never runs ahead of it. */
        if (++since_pass == per_pass) {
          since_pass = 0;
          tsdb_sync(db);
          tsdb_serve_drain(srv, SIZE_MAX, count_result, &dr);
        }
      }
    }
    /* The hour is in: wait until the writer has stored it, so its cost
     * lands in this hour's figure. */
    tsdb_sync(db);
    tsdb_serve_drain(srv, SIZE_MAX, count_result, &dr);
    double cpu1 = bc_self_cpu_s(), writer1 = threads_cpu_s("tsdb-writer"),
           wall1 = (double)bc_now_ns() / 1e9;
    double msgs = (double)nst * 60, points = msgs * FIELDS;
    engine_day_hour *hr = &out->hour[h];
    hr->cpu_us_per_point = (cpu1 - cpu0) * 1e6 / points;
    hr->writer_us_per_point = (writer1 - writer0) * 1e6 / points;
    hr->wall_s = wall1 - wall0;
    hr->rss_kb = status_kb("VmRSS:");
    printf("| %d | %.2f | %.2f | %.2f | %.1f | %.0f | %.2f |\n", h + 1, hr->cpu_us_per_point,
           hr->cpu_us_per_point * FIELDS, hr->writer_us_per_point, hr->wall_s,
           (double)hr->rss_kb / 1024, (double)(dr.publications - pubs0) / msgs);
    fflush(stdout);
    pubs0 = dr.publications;
    cpu0 = cpu1;
    writer0 = writer1;
    wall0 = wall1;
  }
  tsdb_serve_stats all;
  tsdb_serve_stats_get(srv, &all);
  const tsdb_stats s = all.engine;
  tsdb_store_memory mem;
  tsdb_store_memory_get(db, &mem);
  out->rocksdb_kb = (long)((mem.memtables + mem.block_cache + mem.table_readers) >> 10);
  /* RSS per active series: what the engine holds beyond RocksDB's buffers
   * and caches (which do not grow with the series) and beyond the start. */
  out->rss_per_series =
      (double)((out_rss_now() - out->rocksdb_kb) - base_kb) * 1024.0 / (double)out->series;
  out->points = s.points_written;
  out->peak_rss_kb = status_kb("VmHWM:");
  out->rss_kb = status_kb("VmRSS:");
  out->publications = dr.publications;
  out->results_dropped = all.results_dropped;
  out->full_waits = full_waits;
  tsdb_compact(db);
  tsdb_disk_usage du;
  tsdb_disk_usage_get(db, &du);
  out->raw_bpp = (double)du.raw / (double)out->points;
  out->tiers_bpp = (double)(du.raw + du.agg) / (double)out->points;
  out->other_bpp = (double)du.other / (double)out->points;
  printf("\nday: %zu stations, %zu series, %d h, %" PRIu64
         " points; peak RSS %.0f MB "
         "(%.0f B per series), RSS at the end %.0f MB, of which RocksDB's memtables, block "
         "cache and table readers %.0f MB; RSS per active series beyond those and the start: "
         "%.0f B; on disk after compaction: raw %.3f B/pt, "
         "with tiers %.3f B/pt, catalog and markers %.3f B/pt (the replay archive apart); %" PRIu64
         " publications, %" PRIu64 " dropped; %" PRIu64 " waits on a full queue\n",
         nst, nst * FIELDS, p->hours, out->points, (double)out->peak_rss_kb / 1024,
         (double)out->peak_rss_kb * 1024 / (double)out->series, (double)out->rss_kb / 1024,
         (double)out->rocksdb_kb / 1024, out->rss_per_series, out->raw_bpp, out->tiers_bpp,
         out->other_bpp, out->publications, out->results_dropped, out->full_waits);
  if (p->hours > 1)
    printf("day: hour %d / hour 1 CPU per point: %.2f\n", p->hours,
           out->hour[p->hours - 1].cpu_us_per_point / out->hour[0].cpu_us_per_point);
  fflush(stdout);
  tsdb_serve_stop(srv);
  tsdb_close(db);
  tsdb_serve_close(srv);
  tsdb_series_class_release(cls);
  for (size_t i = 0; i < nst; i++) free(topics[i]);
  free(topics);
  free(st);
  bc_rmtree(path);
}
