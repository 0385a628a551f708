/*
 * engine_bench: the time-series engine on its own (no broker), on the team's
 * reference datasets (bench/datasets/gen.c, the generator VictoriaMetrics and
 * InfluxDB were measured with).
 *
 *   engine_bench [--quick] [--json FILE] [--gen PATH] [--dir DIR]
 *                [--datasets abcd] [--only ingest|query|idle|day] [--day STATIONS:HOURS]
 *
 * Reports, with the machine it ran on:
 *   - bulk ingest: points/s and CPU-seconds per million points (all threads
 *     of the process, RocksDB's included) with the default tiers 1m/15m/1h/1d
 *     maintained, until every point is durable, and again including a full
 *     compaction; for a and b also with the older half of the days arriving
 *     after the newer half (late data: every point of it rebuilds buckets);
 *   - bytes/point on disk after full compaction: raw points alone (the figure
 *     comparable to VictoriaMetrics and InfluxDB, which keep no rollups) and
 *     with the rollup tiers;
 *   - step-query latency (1 h step, warm cache, median of repetitions) over
 *     1, 30 and 365 days of one series;
 *   - the newest point of every series of each dataset (a dashboard's
 *     "current value" panel), after the compaction;
 *   - resident memory per idle series with 100 k series;
 *   - a simulated day of a city (engine_day.c): 20 000 stations (100 000
 *     series) for 24 hours and 200 000 stations (1 000 000 series) for 2 in
 *     --full, the first for 3 hours in --quick; others with
 *     --day STATIONS:HOURS (repeatable). Not in the default set: --only day
 *     (--full takes about an hour and a half on 2 cores).
 * --quick stays within two minutes: 2 days of each dataset, and the 365-day
 * query series at a 10 s interval instead of 1 s (the query reads the 1 h
 * tier, so its cost does not depend on the raw interval).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/bench_common.h"
#include "engine_day.h"
#include "lib/bench_engine.h"
#include "tsdb/tsdb.h"

#define CHUNK 1000 /* points per bulk message */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long kb = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static void machine(FILE *out) {
  char model[256];
  bc_cpu_model(model, sizeof model);
  fprintf(out, "machine: %ld cores, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

/* ---- datasets ---- */

typedef struct dataset_result {
  char name;
  int days;
  uint64_t points;
  double ingest_wall, ingest_cpu, compact_cpu;
  double raw_bpp, total_bpp;
  size_t nseries;
  bool late;
  double last_ms; /* the newest point of every series, p50 of LAST_REPS */
} dataset_result;

typedef struct series_buf {
  tsdb_point p[CHUNK];
  size_t n;
} series_buf;

/* The dataset in memory, in the generator's order (time-major), so that
 * only the engine is timed, not the parsing. */
typedef struct loaded {
  uint16_t *series;
  tsdb_point *points;
  size_t n, cap;
} loaded;

static void load_dataset(const char *gen, char name, int days, loaded *d) {
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "'%s' %c %d", gen, name, days);
  FILE *in = popen(cmd, "r");
  if (!in) {
    perror("popen");
    exit(1);
  }
  char line[256];
  memset(d, 0, sizeof *d);
  while (fgets(line, sizeof line, in)) {
    /* name,series=sN value=V[i] T  (timestamps in seconds) */
    char *s = strstr(line, "series=s");
    char *v = s ? strstr(s, "value=") : NULL;
    if (!v) continue;
    int series = atoi(s + 8);
    char *end;
    double value = strtod(v + 6, &end);
    if (*end == 'i') end++;
    if (series < 1 || series > 1000) continue;
    if (d->n == d->cap) {
      d->cap = d->cap ? d->cap * 2 : 1 << 20;
      d->series = realloc(d->series, d->cap * sizeof *d->series);
      d->points = realloc(d->points, d->cap * sizeof *d->points);
      if (!d->series || !d->points) exit(1);
    }
    d->series[d->n] = (uint16_t)series;
    d->points[d->n] = (tsdb_point){strtoll(end, NULL, 10) * 1000, value, 0};
    d->n++;
  }
  pclose(in);
}

#define LAST_REPS 7

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* The dashboard's "current value" panel: the newest point of every series of
 * the dataset, one tsdb_read_last() each; p50 of LAST_REPS rounds, in ms. */
static double time_last_points(tsdb_db *db, char name, size_t *nseries) {
  static uint32_t ids[1000];
  size_t n = 0;
  for (int i = 1; i <= 1000; i++) {
    char topic[64];
    snprintf(topic, sizeof topic, "bench/%c/s%d", name, i);
    if (tsdb_series_find(db, topic, "value", &ids[n]) == 0) n++;
  }
  double ms[LAST_REPS];
  for (int r = 0; r < LAST_REPS; r++) {
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
      int64_t ts;
      double v;
      if (tsdb_read_last(db, ids[i], INT64_MAX / 2, &ts, &v)) {
        fprintf(stderr, "bench: no last point for series %u\n", ids[i]);
        exit(1);
      }
    }
    ms[r] = (now_s() - t0) * 1e3;
  }
  qsort(ms, LAST_REPS, sizeof ms[0], cmp_double);
  *nseries = n;
  return ms[LAST_REPS / 2];
}

/* Pushes every series' points with lo <= ts < hi, in messages of CHUNK
 * points as they fill, in the data's time order. */
static void push_range(tsdb_db *db, tsdb_series_class *cls, char name, const loaded *d, int64_t lo,
                       int64_t hi) {
  static series_buf bufs[1001];
  char topic[64];
  memset(bufs, 0, sizeof bufs);
  for (size_t i = 0; i < d->n; i++) {
    if (d->points[i].ts_ms < lo || d->points[i].ts_ms >= hi) continue;
    series_buf *b = &bufs[d->series[i]];
    b->p[b->n++] = d->points[i];
    if (b->n == CHUNK) {
      snprintf(topic, sizeof topic, "bench/%c/s%d", name, (int)d->series[i]);
      bench_engine_push(db, cls, topic, b->p, b->n);
      b->n = 0;
    }
  }
  for (int i = 1; i <= 1000; i++) {
    if (!bufs[i].n) continue;
    snprintf(topic, sizeof topic, "bench/%c/s%d", name, i);
    bench_engine_push(db, cls, topic, bufs[i].p, bufs[i].n);
  }
}

/* late: the older half of the days arrives after the newer half (history
 * imported for stations that already report live), so every point of it is
 * late and rebuilds its buckets from stored data. */
static void run_dataset(const char *gen, const char *dir, char name, int days, bool late,
                        dataset_result *r) {
  char path[8400];
  loaded d;
  load_dataset(gen, name, days, &d);
  snprintf(path, sizeof path, "%s/ds-%c", dir, name);
  bc_rmtree(path);
  tsdb_db *db = bench_engine_open(path, 5000);
  tsdb_series_class *cls = bench_engine_class("bench", "bench/{dataset}/{series}");
  double w0 = now_s(), c0 = bc_self_cpu_s();
  /* Streaming bulk import. */
  if (late) {
    /* The first days / 2 days are the history. */
    int64_t mid = d.points[0].ts_ms - d.points[0].ts_ms % 86400000 + (int64_t)(days / 2) * 86400000;
    push_range(db, cls, name, &d, mid, INT64_MAX);
    push_range(db, cls, name, &d, INT64_MIN, mid);
  } else {
    push_range(db, cls, name, &d, INT64_MIN, INT64_MAX);
  }
  tsdb_sync(db);
  double w1 = now_s(), c1 = bc_self_cpu_s();
  tsdb_compact(db);
  double c2 = bc_self_cpu_s();
  r->last_ms = time_last_points(db, name, &r->nseries);
  tsdb_disk_usage du;
  tsdb_disk_usage_get(db, &du);
  tsdb_close(db);
  tsdb_series_class_release(cls);
  bc_rmtree(path);
  r->name = name;
  r->late = late;
  r->days = days;
  r->points = d.n;
  r->ingest_wall = w1 - w0;
  r->ingest_cpu = c1 - c0;
  r->compact_cpu = c2 - c1;
  r->raw_bpp = (double)du.raw / (double)d.n;
  r->total_bpp = (double)(du.raw + du.agg + du.other) / (double)d.n;
  free(d.series);
  free(d.points);
}

/* ---- queries ---- */

typedef struct query_result {
  int days;
  int64_t interval_s;
  double p50_ms, p99_ms;
  size_t buckets;
} query_result;

static int count_bucket(void *ud, const tsdb_aggregate *a) {
  (void)a;
  (*(size_t *)ud)++;
  return 0;
}

static void run_queries(const char *dir, bool quick, query_result out[3]) {
  char path[4200];
  snprintf(path, sizeof path, "%s/query", dir);
  bc_rmtree(path);
  tsdb_db *db = bench_engine_open(path, 5000);
  tsdb_series_class *cls = bench_engine_class("bench", "bench/{dataset}/{series}");
  const int64_t day = 86400000, interval = quick ? 10000 : 1000;
  /* A year up to today (midnight UTC): buckets in the future could not be
   * final, and the broker refuses such timestamps anyway. */
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const int64_t end = ((int64_t)wall.tv_sec * 1000 / day) * day;
  const int64_t start = end - 365 * day;
  static tsdb_point chunk[3600];
  size_t n = 0;
  uint64_t seed = 12345;
  double walk = 0;
  /* Smooth temperature at 0.1 °C, like dataset a, one point per interval. */
  for (int64_t t = start; t < end; t += interval) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    walk += ((double)(seed >> 11) / 9007199254740992.0 - 0.5) * 0.02;
    double v = round((10 + 6 * sin(2 * M_PI * (double)(t - start) / (double)day) + walk) * 10) / 10;
    chunk[n++] = (tsdb_point){t, v, 0};
    if (n == 3600) {
      bench_engine_push(db, cls, "bench/query/s1", chunk, n);
      n = 0;
    }
  }
  if (n) bench_engine_push(db, cls, "bench/query/s1", chunk, n);
  tsdb_sync(db);
  tsdb_compact(db);
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  if (st.open_buckets > 8)
    fprintf(stderr, "engine_bench: %llu buckets still open after ingest\n",
            (unsigned long long)st.open_buckets);
  uint32_t id;
  tsdb_series_find(db, "bench/query/s1", "value", &id);
  static const int spans[3] = {1, 30, 365};
  for (int k = 0; k < 3; k++) {
    enum { REPS = 41 };
    double lat[REPS];
    size_t buckets = 0;
    for (int rep = 0; rep < REPS; rep++) {
      tsdb_step_query q = {.series = id,
                           .from = end - spans[k] * day,
                           .to = end,
                           .step_ms = 3600000,
                           .fill = TSDB_FILL_NONE};
      size_t nb = 0;
      double t0 = now_s();
      tsdb_query_step(db, &q, count_bucket, &nb, NULL);
      lat[rep] = (now_s() - t0) * 1000;
      buckets = nb;
    }
    qsort(lat, REPS, sizeof lat[0], bc_cmp_double);
    out[k] = (query_result){spans[k], interval / 1000, lat[REPS / 2], lat[REPS - 1], buckets};
  }
  tsdb_close(db);
  tsdb_series_class_release(cls);
  bc_rmtree(path);
}

/* ---- memory per idle series ---- */

/* The idle measurement runs on a clock it can move forward: the series are
 * created, then an hour passes without a message for them. */
static _Atomic int64_t idle_clock_offset_ms;
static int64_t idle_clock(void *ud) {
  (void)ud;
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 + atomic_load(&idle_clock_offset_ms);
}

static double run_idle_series(const char *dir, int nseries) {
  char path[4200], topic[64];
  snprintf(path, sizeof path, "%s/idle", dir);
  bc_rmtree(path);
  tsdb_options o;
  tsdb_options_init(&o); /* the engine's defaults, as a broker runs it */
  o.path = path;
  o.grace_ms = 0; /* buckets are final at once */
  o.log_level = TSDB_LOG_WARNING;
  o.clock_fn = idle_clock;
  tsdb_db *db = bench_engine_open_with(&o);
  tsdb_series_class *cls = bench_engine_class("bench", "bench/{dataset}/{series}");
  /* Warm the engine (threads, caches) with one series before the baseline. */
  tsdb_point p = {1790812800000, 1.0, 0};
  bench_engine_push(db, cls, "bench/idle/warm", &p, 1);
  tsdb_sync(db);
  tsdb_compact(db);
  long before = rss_kb();
  for (int i = 0; i < nseries; i++) {
    snprintf(topic, sizeof topic, "bench/idle/s%d", i);
    p.value = i;
    bench_engine_push(db, cls, topic, &p, 1);
  }
  tsdb_sync(db);
  tsdb_compact(db);
  /* An hour without messages: the writer's topic cache lets them go, and the
   * maintenance thread gives freed memory back. Wait for both (real time:
   * the cache sweep runs every second, the memory check every ten). */
  atomic_store(&idle_clock_offset_ms, 3600000);
  tsdb_stats st;
  tsdb_stats_get(db, &st);
  uint64_t trims = st.memory_trims;
  /* Then a trim by the maintenance thread, and RSS once it has settled. */
  int evicted_at = -1;
  for (int waited = 0; waited < 900; waited++) {
    usleep(100000);
    tsdb_stats_get(db, &st);
    if (evicted_at < 0 && st.sources_cached <= 1 && st.series_active <= 1) {
      evicted_at = waited;
      trims = st.memory_trims;
    }
    if (evicted_at >= 0 && (st.memory_trims >= trims + 1 || waited - evicted_at >= 210)) break;
  }
  sleep(1);
  long after = rss_kb();
  printf(
      "idle series: %llu series, %llu active, %llu topics cached, %llu heap trims, RocksDB "
      "memtables %llu KiB, block cache %llu KiB, table readers %llu KiB\n",
      (unsigned long long)st.series, (unsigned long long)st.series_active,
      (unsigned long long)st.sources_cached, (unsigned long long)st.memory_trims,
      (unsigned long long)st.memory.memtables >> 10,
      (unsigned long long)st.memory.block_cache >> 10,
      (unsigned long long)st.memory.table_readers >> 10);
  tsdb_close(db);
  tsdb_series_class_release(cls);
  bc_rmtree(path);
  return (double)(after - before) * 1024.0 / nseries;
}

/* glibc raises its mmap threshold after large blocks are freed (RocksDB's
 * write batches, memtable arenas), so later large blocks land inside the heap
 * and their freed pages stay resident. run.sh and the Docker image therefore
 * start the broker with a fixed threshold; the idle measurement is run both
 * ways, each in a fresh process (tunables are read at start). */
#define MALLOC_TUNABLE "glibc.malloc.mmap_threshold=131072"

static double idle_in_child(const char *dir, int nseries, bool tuned) {
  int fds[2];
  if (pipe(fds)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    if (tuned)
      setenv("GLIBC_TUNABLES", MALLOC_TUNABLE, 1);
    else
      unsetenv("GLIBC_TUNABLES");
    char n[32];
    snprintf(n, sizeof n, "%d", nseries);
    execl("/proc/self/exe", "engine_bench", "--idle-child", n, "--dir", dir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char out[4096];
  size_t len = 0;
  ssize_t r;
  while (len + 1 < sizeof out && (r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)r;
  out[len] = '\0';
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  const char *res = strstr(out, "IDLE_BYTES_PER_SERIES ");
  const char *info = strstr(out, "idle series:");
  if (info)
    fwrite(info, 1, (size_t)(res && res > info ? res - info : (ptrdiff_t)strlen(info)), stdout);
  return res ? strtod(res + 22, NULL) : -1;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--idle-child") && !strcmp(argv[3], "--dir")) {
    double bps = run_idle_series(argv[4], atoi(argv[2]));
    printf("IDLE_BYTES_PER_SERIES %.1f\n", bps);
    return 0;
  }
  bool quick = false;
  const char *json = NULL, *gen = NULL, *dir = NULL, *datasets = "abcd", *only = NULL;
  engine_day_params days[4];
  size_t ndays = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      quick = true;
    else if (!strcmp(argv[i], "--json") && i + 1 < argc)
      json = argv[++i];
    else if (!strcmp(argv[i], "--gen") && i + 1 < argc)
      gen = argv[++i];
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--datasets") && i + 1 < argc)
      datasets = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "--day") && i + 1 < argc && ndays < 4) {
      char *end;
      days[ndays].stations = strtoul(argv[++i], &end, 10);
      days[ndays].hours = *end == ':' ? atoi(end + 1) : 0;
      if (!days[ndays].stations || days[ndays].hours < 1 ||
          days[ndays].hours > ENGINE_DAY_MAX_HOURS) {
        fprintf(stderr, "%s: --day STATIONS:HOURS, hours 1..%d\n", argv[0], ENGINE_DAY_MAX_HOURS);
        return 2;
      }
      ndays++;
    } else {
      fprintf(stderr,
              "usage: %s [--quick] [--json FILE] [--gen PATH] [--dir DIR] [--datasets abcd] "
              "[--only ingest|query|idle|day] [--day STATIONS:HOURS]...\n",
              argv[0]);
      return 2;
    }
  }
  if (only && !strcmp(only, "day") && !getenv("GLIBC_TUNABLES")) {
    /* Memory is measured as the broker runs (run.sh, docker/): tunables are
     * read at start, so run again with them. */
    setenv("GLIBC_TUNABLES", MALLOC_TUNABLE, 1);
    execv("/proc/self/exe", argv);
    perror("engine_bench: execv");
    return 1;
  }
  char genpath[4200];
  if (!gen) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return 1;
    self[n] = 0;
    *strrchr(self, '/') = 0;
    snprintf(genpath, sizeof genpath, "%s/dataset_gen", self);
    gen = genpath;
  }
  char tmp[] = "/tmp/engine-bench-XXXXXX";
  if (!dir) {
    if (!mkdtemp(tmp)) return 1;
    dir = tmp;
  }
  machine(stdout);
  printf("mode: %s\n\n", quick ? "quick" : "full");
  fflush(stdout);

  const struct {
    char name;
    int days_full, days_quick;
    double vm_bpp; /* VictoriaMetrics 1.79.5, datasets/README.md */
  } sets[] = {{'a', 30, 2, 0.169}, {'b', 30, 2, 1.025}, {'c', 7, 2, 0.708}, {'d', 30, 2, 0.353}};
  /* The four datasets in time order, then a and b with the older half late. */
  enum { NRUNS = 6 };
  static const int run_set[NRUNS] = {0, 1, 2, 3, 0, 1};
  dataset_result dr[NRUNS];
  memset(dr, 0, sizeof dr);
  bool do_ingest = !only || !strcmp(only, "ingest"), do_query = !only || !strcmp(only, "query"),
       do_idle = !only || !strcmp(only, "idle"), do_day = only && !strcmp(only, "day");
  if (do_day && ndays == 0) {
    days[ndays++] = (engine_day_params){20000, quick ? 3 : 24};
    if (!quick) days[ndays++] = (engine_day_params){200000, 2}; /* 1 000 000 series */
  }
  static engine_day_result day_res[4];
  for (size_t k = 0; k < ndays && do_day; k++) {
    printf("simulated day: %zu stations (%zu series), %d hours\n", days[k].stations,
           days[k].stations * 5, days[k].hours);
    engine_day_run(dir, &days[k], &day_res[k]);
  }
  if (do_ingest)
    printf(
        "| dataset | days | points | ingest Mpts/s | CPU-s per Mpts | incl. compaction | raw B/pt | "
        "VM B/pt | ours/VM | with tiers B/pt | last point of every series |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int k = 0; k < NRUNS && do_ingest; k++) {
    int i = run_set[k];
    if (!strchr(datasets, sets[i].name)) continue;
    run_dataset(gen, dir, sets[i].name, quick ? sets[i].days_quick : sets[i].days_full, k >= 4,
                &dr[k]);
    double mp = (double)dr[k].points / 1e6;
    printf("| %c%s | %d | %" PRIu64
           " | %.2f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %zu in %.2f ms |\n",
           dr[k].name, dr[k].late ? ", older half late" : "", dr[k].days, dr[k].points,
           mp / dr[k].ingest_wall, dr[k].ingest_cpu / mp,
           (dr[k].ingest_cpu + dr[k].compact_cpu) / mp, dr[k].raw_bpp, sets[i].vm_bpp,
           dr[k].raw_bpp / sets[i].vm_bpp, dr[k].total_bpp, dr[k].nseries, dr[k].last_ms);
    fflush(stdout);
  }

  query_result qr[3];
  memset(qr, 0, sizeof qr);
  if (do_query) run_queries(dir, quick, qr);
  if (do_query)
    printf(
        "\n| query (1 h step) | interval | buckets | p50 ms | p99 ms |\n|---|---|---|---|---|\n");
  for (int k = 0; k < 3 && do_query; k++)
    printf("| %d days | %" PRId64 " s | %zu | %.3f | %.3f |\n", qr[k].days, qr[k].interval_s,
           qr[k].buckets, qr[k].p50_ms, qr[k].p99_ms);
  if (do_query) printf("365 days / 1 day p50 ratio: %.2f\n", qr[2].p50_ms / qr[0].p50_ms);

  int nidle = 100000;
  double bps = 0, bps_default = 0;
  if (do_idle) {
    bps_default = idle_in_child(dir, nidle, false);
    printf(
        "RSS per idle series (%d series, an hour without messages), glibc malloc defaults: "
        "%.0f bytes\n",
        nidle, bps_default);
    bps = idle_in_child(dir, nidle, true);
    printf(
        "RSS per idle series (%d series, an hour without messages), GLIBC_TUNABLES=%s "
        "(as run.sh and docker/ start the broker): %.0f bytes\n",
        nidle, MALLOC_TUNABLE, bps);
  }

  if (json) {
    FILE *f = fopen(json, "w");
    if (f) {
      fprintf(f, "{\"mode\":\"%s\",\"datasets\":[", quick ? "quick" : "full");
      bool first = true;
      for (int k = 0; k < NRUNS; k++) {
        if (!dr[k].points) continue;
        double mp = (double)dr[k].points / 1e6;
        fprintf(
            f,
            "%s{\"dataset\":\"%c\",\"late\":%s,\"days\":%d,\"points\":%" PRIu64
            ",\"ingest_mpts_per_s\":%.4f,\"cpu_s_per_mpts\":%.4f,\"cpu_s_per_mpts_incl_compaction\":%.4f,"
            "\"raw_bytes_per_point\":%.4f,\"vm_bytes_per_point\":%.3f,\"bytes_per_point_with_tiers\":%.4f,"
            "\"series\":%zu,\"last_point_of_every_series_ms\":%.4f}",
            first ? "" : ",", dr[k].name, dr[k].late ? "true" : "false", dr[k].days, dr[k].points,
            mp / dr[k].ingest_wall, dr[k].ingest_cpu / mp,
            (dr[k].ingest_cpu + dr[k].compact_cpu) / mp, dr[k].raw_bpp, sets[run_set[k]].vm_bpp,
            dr[k].total_bpp, dr[k].nseries, dr[k].last_ms);
        first = false;
      }
      fprintf(f, "],\"queries\":[");
      for (int k = 0; k < 3; k++)
        fprintf(f,
                "%s{\"days\":%d,\"interval_s\":%" PRId64
                ",\"buckets\":%zu,\"p50_ms\":%.4f,\"p99_ms\":%.4f}",
                k ? "," : "", qr[k].days, qr[k].interval_s, qr[k].buckets, qr[k].p50_ms,
                qr[k].p99_ms);
      fprintf(f,
              "],\"idle_series\":%d,\"rss_bytes_per_idle_series\":%.1f,"
              "\"rss_bytes_per_idle_series_malloc_defaults\":%.1f,\"days\":[",
              nidle, bps, bps_default);
      for (size_t k = 0; k < ndays && do_day; k++) {
        const engine_day_result *d = &day_res[k];
        fprintf(f,
                "%s{\"stations\":%zu,\"series\":%zu,\"hours\":%d,\"points\":%" PRIu64
                ",\"peak_rss_kb\":%ld,\"rss_kb\":%ld,\"rocksdb_kb\":%ld,"
                "\"rss_bytes_per_active_series\":%.1f,\"raw_bytes_per_point\":%.4f,"
                "\"bytes_per_point_with_tiers\":%.4f,\"publications\":%" PRIu64
                ",\"cpu_us_per_point_by_hour\":[",
                k ? "," : "", d->stations, d->series, d->hours, d->points, d->peak_rss_kb,
                d->rss_kb, d->rocksdb_kb, d->rss_per_series, d->raw_bpp, d->tiers_bpp,
                d->publications);
        for (int h = 0; h < d->hours; h++)
          fprintf(f, "%s%.3f", h ? "," : "", d->hour[h].cpu_us_per_point);
        fprintf(f, "]}");
      }
      fprintf(f, "]}\n");
      fclose(f);
    }
  }
  if (dir == tmp) bc_rmtree(tmp);
  return 0;
}
