/*
 * codec_bench: size and speed of the point-block codec on the team's
 * reference datasets (bench/datasets/gen.c), and bytes a point on disk once
 * the blocks sit in a fully compacted RocksDB with zstd.
 *
 *   codec_bench [--quick] [--days N] [--span SECONDS] [--gen PATH]
 *               [--datasets abcd] [--json FILE]
 *
 * For each dataset the generator's line protocol is parsed, the points of
 * each series are cut into blocks by aligned time windows (the "block span",
 * 86400 s and 14400 s unless --span is given), and every block is encoded,
 * decoded (and checked bit for bit), then written to a fresh RocksDB (key =
 * 4-byte big-endian series id + 8-byte big-endian block start in ms; zstd on
 * all levels, 16 KiB table blocks), compacted, and the *.sst files summed.
 *
 * Speeds are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID) over the
 * encode or decode calls alone, in millions of points a second.
 */
#include "codec.h"
#include "lib/bench_common.h"
#include "tsdb/error.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct series {
  int64_t *ts;
  double *v;
  size_t n, cap;
} series;

typedef struct dataset {
  char name;
  int days;
  series *s;
  size_t nseries;
  size_t points;
} dataset;

typedef struct blockref {
  uint32_t series;
  int64_t start; /* block start, ms */
  size_t off, n; /* points in the series arrays */
  size_t enc_off, enc_len;
} blockref;

typedef struct result {
  char name;
  int days;
  long span;
  size_t points, blocks;
  double codec_bpp, disk_bpp, enc_mpps, dec_mpps;
} result;

/* VictoriaMetrics 1.79.5 on the same data (datasets README) and our target,
 * 0.8 of it. */
static double vm_bpp(char d) {
  switch (d) {
  case 'a':
    return 0.169;
  case 'b':
    return 1.025;
  case 'c':
    return 0.708;
  default:
    return 0.353;
  }
}

static void die(const char *what) {
  fprintf(stderr, "codec_bench: %s\n", what);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) die("out of memory");
  return q;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- dataset generation and parsing ---- */

static void find_gen(const char *argv0, char *out, size_t cap) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    snprintf(self, sizeof self, "%s", argv0);
    n = (ssize_t)strlen(self);
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    slash[1] = '\0';
  else
    snprintf(self, sizeof self, "./");
  snprintf(out, cap, "%sdataset_gen", self);
}

/* Parses "meas,series=sN value=V[i] TS" lines. */
static void load(dataset *d, const char *gen) {
  char cmd[PATH_MAX + 64];
  snprintf(cmd, sizeof cmd, "'%s' %c %d", gen, d->name, d->days);
  FILE *f = popen(cmd, "r");
  if (!f) die("cannot run the dataset generator");
  d->nseries = 0;
  d->s = NULL;
  d->points = 0;
  size_t scap = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    char *p = strstr(line, "series=s");
    if (!p) die("unexpected generator output");
    char *e;
    unsigned long id = strtoul(p + 8, &e, 10);
    if (id == 0 || strncmp(e, " value=", 7) != 0) die("unexpected generator output");
    p = e + 7;
    double v = strtod(p, &e);
    if (*e == 'i') e++;
    long long t = strtoll(e, &e, 10);
    size_t sid = id - 1;
    if (sid >= scap) {
      size_t ncap = scap ? scap * 2 : 128;
      while (ncap <= sid) ncap *= 2;
      d->s = xrealloc(d->s, ncap * sizeof *d->s);
      memset(d->s + scap, 0, (ncap - scap) * sizeof *d->s);
      scap = ncap;
    }
    if (sid >= d->nseries) d->nseries = sid + 1;
    series *s = &d->s[sid];
    if (s->n == s->cap) {
      s->cap = s->cap ? s->cap * 2 : 4096;
      s->ts = xrealloc(s->ts, s->cap * sizeof *s->ts);
      s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->ts[s->n] = (int64_t)t * 1000; /* the engine keeps milliseconds */
    s->v[s->n] = v;
    s->n++;
    d->points++;
  }
  int st = pclose(f);
  if (st != 0 || d->points == 0) die("the dataset generator failed (use --gen PATH)");
}

static void unload(dataset *d) {
  for (size_t i = 0; i < d->nseries; i++) {
    free(d->s[i].ts);
    free(d->s[i].v);
  }
  free(d->s);
  d->s = NULL;
}

/* ---- RocksDB ---- */

static uint64_t sst_bytes(const char *dir) {
  uint64_t total = 0;
  DIR *d = opendir(dir);
  if (!d) die("cannot list the database directory");
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l < 4 || strcmp(e->d_name + l - 4, ".sst") != 0) continue;
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) continue;
    struct stat st;
    if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
  }
  closedir(d);
  return total;
}

static uint64_t disk_size(const blockref *b, size_t nb, const uint8_t *enc) {
  char dir[] = "/tmp/codec-bench-XXXXXX";
  const char *base = getenv("TMPDIR");
  char path[PATH_MAX];
  if (base && *base) {
    snprintf(path, sizeof path, "%s/codec-bench-XXXXXX", base);
    if (!mkdtemp(path)) die("mkdtemp failed");
  } else {
    if (!mkdtemp(dir)) die("mkdtemp failed");
    snprintf(path, sizeof path, "%s", dir);
  }
  char *err = NULL;
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_compression(o, rocksdb_zstd_compression);
  int levels[7];
  for (int i = 0; i < 7; i++) levels[i] = rocksdb_zstd_compression;
  rocksdb_options_set_compression_per_level(o, levels, 7);
  rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
  rocksdb_block_based_options_set_block_size(t, 16 * 1024);
  rocksdb_options_set_block_based_table_factory(o, t);
  rocksdb_t *db = rocksdb_open(o, path, &err);
  if (err) die(err);
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  rocksdb_writeoptions_disable_WAL(wo, 1);
  rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
  for (size_t i = 0; i < nb; i++) {
    uint8_t key[12];
    for (int k = 0; k < 4; k++) key[k] = (uint8_t)(b[i].series >> (24 - 8 * k));
    uint64_t s = (uint64_t)b[i].start;
    for (int k = 0; k < 8; k++) key[4 + k] = (uint8_t)(s >> (56 - 8 * k));
    rocksdb_writebatch_put(wb, (const char *)key, sizeof key, (const char *)enc + b[i].enc_off,
                           b[i].enc_len);
    if (rocksdb_writebatch_count(wb) >= 1024 || i + 1 == nb) {
      rocksdb_write(db, wo, wb, &err);
      if (err) die(err);
      rocksdb_writebatch_clear(wb);
    }
  }
  rocksdb_compact_range(db, NULL, 0, NULL, 0);
  rocksdb_close(db);
  rocksdb_writebatch_destroy(wb);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_block_based_options_destroy(t);
  rocksdb_options_destroy(o);
  uint64_t bytes = sst_bytes(path);
  bc_rmtree(path);
  return bytes;
}

/* ---- one dataset, one span ---- */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void run(const dataset *d, long span, result *r) {
  const int64_t span_ms = (int64_t)span * 1000;
  blockref *b = NULL;
  size_t nb = 0, bcap = 0, maxn = 0, enc_total = 0;
  for (size_t s = 0; s < d->nseries; s++) {
    const series *se = &d->s[s];
    for (size_t i = 0; i < se->n;) {
      int64_t start = floor_div(se->ts[i], span_ms) * span_ms;
      size_t j = i;
      while (j < se->n && se->ts[j] < start + span_ms && j - i < TSDB_CODEC_MAX_POINTS) j++;
      if (nb == bcap) {
        bcap = bcap ? bcap * 2 : 1024;
        b = xrealloc(b, bcap * sizeof *b);
      }
      b[nb] = (blockref){(uint32_t)s, start, i, j - i, enc_total, 0};
      enc_total += tsdb_codec__max_size(j - i);
      if (j - i > maxn) maxn = j - i;
      nb++;
      i = j;
    }
  }
  uint8_t *enc = xrealloc(NULL, enc_total);
  int64_t *ts = xrealloc(NULL, maxn * sizeof *ts);
  double *v = xrealloc(NULL, maxn * sizeof *v);

  /* encode, timed */
  double t0 = cpu_now();
  for (size_t i = 0; i < nb; i++) {
    const series *se = &d->s[b[i].series];
    int rc = tsdb_codec__encode(se->ts + b[i].off, se->v + b[i].off, b[i].n, 0, enc + b[i].enc_off,
                                tsdb_codec__max_size(b[i].n), &b[i].enc_len);
    if (rc) die(tsdb_strerror(rc));
  }
  double t_enc = cpu_now() - t0;

  /* decode, timed */
  size_t decoded = 0;
  t0 = cpu_now();
  for (size_t i = 0; i < nb; i++) {
    size_t n;
    int rc = tsdb_codec__decode(enc + b[i].enc_off, b[i].enc_len, ts, v, maxn, &n);
    if (rc) die(tsdb_strerror(rc));
    decoded += n;
  }
  double t_dec = cpu_now() - t0;

  /* check, untimed */
  size_t bytes = 0;
  for (size_t i = 0; i < nb; i++) {
    const series *se = &d->s[b[i].series];
    size_t n;
    tsdb_block_info info;
    if (tsdb_codec__info(enc + b[i].enc_off, b[i].enc_len, &info) || info.count != b[i].n ||
        info.min_ts != se->ts[b[i].off] || info.max_ts != se->ts[b[i].off + b[i].n - 1])
      die("block info mismatch");
    if (tsdb_codec__decode(enc + b[i].enc_off, b[i].enc_len, ts, v, maxn, &n) || n != b[i].n ||
        memcmp(ts, se->ts + b[i].off, n * sizeof *ts) || memcmp(v, se->v + b[i].off, n * sizeof *v))
      die("round trip mismatch");
    bytes += b[i].enc_len;
  }
  if (decoded != d->points) die("point count mismatch");

  uint64_t disk = disk_size(b, nb, enc);
  r->name = d->name;
  r->days = d->days;
  r->span = span;
  r->points = d->points;
  r->blocks = nb;
  r->codec_bpp = (double)bytes / (double)d->points;
  r->disk_bpp = (double)disk / (double)d->points;
  r->enc_mpps = (double)d->points / t_enc / 1e6;
  r->dec_mpps = (double)d->points / t_dec / 1e6;
  free(enc);
  free(ts);
  free(v);
  free(b);
}

/* ---- main ---- */

static void usage(void) {
  fprintf(stderr,
          "usage: codec_bench [--quick] [--days N] [--span SECONDS] [--gen PATH] "
          "[--datasets abcd] [--json FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  bool quick = false;
  int days = 0;
  long span = 0;
  const char *json = NULL, *sets = "abcd";
  char gen[PATH_MAX] = "";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      quick = true;
    else if (!strcmp(argv[i], "--days") && i + 1 < argc)
      days = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--span") && i + 1 < argc)
      span = atol(argv[++i]);
    else if (!strcmp(argv[i], "--gen") && i + 1 < argc)
      snprintf(gen, sizeof gen, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--json") && i + 1 < argc)
      json = argv[++i];
    else if (!strcmp(argv[i], "--datasets") && i + 1 < argc)
      sets = argv[++i];
    else
      usage();
  }
  if (days < 0 || span < 0) usage();
  if (!gen[0]) find_gen(argv[0], gen, sizeof gen);
  if (access(gen, X_OK) != 0) {
    fprintf(stderr,
            "codec_bench: no dataset generator at %s (build target dataset_gen or pass --gen)\n",
            gen);
    return 1;
  }
  long spans[2] = {86400, 14400};
  int nspans = 2;
  if (span) {
    spans[0] = span;
    nspans = 1;
  }

  char model[256];
  bc_cpu_model(model, sizeof model);
  long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  printf("machine: %ld CPUs, %s\n", nproc, model);
  printf("mode: %s\n\n", quick ? "quick" : days ? "custom days" : "full");
  printf("%-3s %4s %6s %10s %8s %8s %8s %8s %8s %9s %9s\n", "set", "days", "span", "points",
         "blocks", "codecB/p", "diskB/p", "target", "VM", "enc Mp/s", "dec Mp/s");

  result res[16];
  int nres = 0;
  for (const char *p = sets; *p && nres < 16 - 2; p++) {
    dataset d = {*p, 0, NULL, 0, 0};
    if (*p < 'a' || *p > 'd') usage();
    d.days = days ? days : quick ? 2 : (*p == 'c' ? 7 : 30);
    load(&d, gen);
    for (int k = 0; k < nspans; k++) {
      result *r = &res[nres++];
      run(&d, spans[k], r);
      printf("%-3c %4d %6ld %10zu %8zu %8.4f %8.4f %8.3f %8.3f %9.1f %9.1f\n", r->name, r->days,
             r->span, r->points, r->blocks, r->codec_bpp, r->disk_bpp, 0.8 * vm_bpp(r->name),
             vm_bpp(r->name), r->enc_mpps, r->dec_mpps);
      fflush(stdout);
    }
    unload(&d);
  }

  if (json) {
    FILE *f = fopen(json, "w");
    if (!f) {
      fprintf(stderr, "codec_bench: cannot write %s: %s\n", json, strerror(errno));
      return 1;
    }
    fprintf(f, "{\n  \"machine\": {\"nproc\": %ld, \"cpu\": \"", nproc);
    for (const char *c = model; *c; c++)
      if (*c == '"' || *c == '\\')
        fprintf(f, "\\%c", *c);
      else if ((unsigned char)*c >= 0x20)
        fputc(*c, f);
    fprintf(f, "\"},\n  \"mode\": \"%s\",\n  \"results\": [\n",
            quick  ? "quick"
            : days ? "custom"
                   : "full");
    for (int i = 0; i < nres; i++) {
      const result *r = &res[i];
      fprintf(f,
              "    {\"dataset\": \"%c\", \"days\": %d, \"span_s\": %ld, \"points\": %zu, "
              "\"blocks\": %zu, \"codec_bytes_per_point\": %.5f, \"disk_bytes_per_point\": %.5f, "
              "\"target_bytes_per_point\": %.4f, \"vm_bytes_per_point\": %.3f, "
              "\"encode_mpoints_per_s\": %.2f, \"decode_mpoints_per_s\": %.2f}%s\n",
              r->name, r->days, r->span, r->points, r->blocks, r->codec_bpp, r->disk_bpp,
              0.8 * vm_bpp(r->name), vm_bpp(r->name), r->enc_mpps, r->dec_mpps,
              i + 1 < nres ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
  }
  return 0;
}
