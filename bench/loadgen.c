/*
 * loadgen: an MQTT v5 load generator for the broker benchmarks, on raw
 * sockets (see DESIGN below), and a sink that only counts, to measure the
 * generator's own ceiling.
 *
 *   loadgen pub  --port P [--publishers N] [--rate MSGS_PER_S | 0 = max]
 *                [--duration S | --count M] [--qos 0|1] [--kind json|msgpack|senml]
 *                [--series S] [--ooo FRACTION] [--latency-every MS] [--inflight K]
 *                [--pid NAME=PID]... [--settle-max S] [--batch 1] [--id PREFIX] [--json FILE]
 *                [--ts base|now] [--ts-start S] [--ts-step S] [--interval S]
 *                [--settle-every N] [--spread 1]
 *   loadgen sink --port P [--seconds S]
 *
 * Payloads match the shipped schemas (schemas/):
 *   json     air-quality      city/d<i%16>/s<i>/air      {"ts":"<RFC 3339 ms>","pm10":..,
 *                                                        "pm25":..,"no2":..,"temperature":..,
 *                                                        "humidity":..}  (5 points, ~110 B)
 *   msgpack  traffic-counter  city/d<i%16>/c<i>/traffic  ts (epoch ms), period, vehicles, cars,
 *                                                        trucks, speed_avg, occupancy (5 points)
 *   senml    senml            city/d<i%16>/n<i>/senml    5 records with bt (s) (5 points)
 * Timestamps (--ts):
 *   base  (the default) series i sends rounds r = 0, 1, ... with time
 *         start + r * step, so every (series, time) is unique and every stored
 *         point can be counted. --ts-start is seconds from now (default -43200:
 *         12 hours before the start, inside every shipped schema's max_past),
 *         --ts-step seconds per round (default 0.1). With --ts-start -3600
 *         --ts-step 60 and --count 60 x series, every series gets an hour of
 *         once-a-minute data, sent as fast as the broker takes it.
 *   now   every message carries the wall-clock time it is encoded, as a real
 *         station sends it; a series never repeats a millisecond (a second
 *         message in the same ms gets the next one).
 *   The latency probes keep the base rule at 100 ms steps in base mode and
 *   take the wall clock in now mode.
 *
 * Reports one JSON object: messages sent and their rate, QoS 1 acknowledgements
 * (0x00, 0x87 and other reason codes, and publish-to-PUBACK latency), the
 * end-to-end latency of probe messages through a subscriber, and the CPU
 * seconds of every --pid process between the first message and the moment
 * they are all idle again after the last one (so a pipeline's tail of work
 * counts), per process and per message, and their resident set size at the
 * end. --interval S adds cumulative samples (messages sent, CPU and RSS of
 * every --pid) every S seconds of the run, for figures per minute of a long
 * run.
 *
 * DESIGN
 *   One thread, non-blocking sockets, poll(). Each publisher connection owns a
 *   disjoint set of series (i % N == publisher) and an output buffer; messages
 *   are encoded into the buffer as they fall due (target rate) or as long as
 *   the socket takes them (max rate), and written in large chunks, so the
 *   generator costs well under a microsecond a message and the broker is the
 *   bottleneck. With --batch 1 every message is written on its own, as a
 *   device would send it (at a target rate below saturation the broker then
 *   reads one message per read, its most expensive case). QoS 1 publishers keep at most min(--inflight, the broker's
 *   Receive Maximum) messages unacknowledged.
 *   The end of a run is a fence: each publisher sends one QoS 1 message after
 *   its last one and the run ends when every fence is acknowledged. A broker
 *   handles a connection's packets in order, so by then it has processed
 *   every message, also at QoS 0, and the rate is not flattered by bytes
 *   still sitting in socket buffers.
 *   Latency probes: every --latency-every ms, publisher 0 sends a message of
 *   the same kind on the probe series city/lat/p0/... carrying its send time
 *   (CLOCK_MONOTONIC ns) in the user property "t"; the generator's own
 *   subscriber to city/lat/+/+ takes the difference. Probes are ordinary
 *   messages of the load (validated and stored like the rest) and are counted
 *   in it. Only the probe topic is subscribed, so the rest of the load is not
 *   delivered to anybody.
 *   Out of order: a fraction of messages is held back and sent 10 rounds of
 *   its series later, so it reaches the broker older than what its series
 *   already stored.
 *   Keep-alive: every connection (the publishers and the probe subscriber)
 *   sends PINGREQ when it has sent nothing for half of KEEPALIVE_S, so the
 *   broker, which closes a connection silent for 1.5 keep-alives, keeps even
 *   the subscriber (which otherwise only reads) through runs of any length.
 *   PINGRESPs are counted; a connection that sees none for a whole
 *   keep-alive after a PINGREQ is reported and ends the run.
 *   --settle-every N (with --rate 0): after every N messages, once they are
 *   all written to the sockets, generation pauses until the first --pid
 *   process is idle (at most --settle-max s), so a store that queues what
 *   it has not written yet never holds more than N messages: as fast as it
 *   goes without refusing.
 *   Everything is bounded: --duration or --count, a 30 s limit on the fence,
 *   and --settle-max on the idle wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/bench_common.h"

#define MAX_PUBS 256
#define MAX_PIDS 8
#define FIELDS 5
#define STEP_MS 100
#define OUT_HIGH (256 * 1024) /* bytes encoded ahead per publisher */
#define MAX_LAT_SAMPLES (4u << 20)
#define KEEPALIVE_S 60 /* what bm_handshake() asks for */
#define MAX_INTERVALS 4096

typedef enum kind { KIND_JSON, KIND_MSGPACK, KIND_SENML } kind;
typedef enum ts_mode { TS_BASE, TS_NOW } ts_mode;

/* What keeps a connection alive (see DESIGN). */
typedef struct keepalive {
  int64_t last_tx_ns;   /* last time anything was written */
  int64_t ping_sent_ns; /* 0: no PINGREQ outstanding */
} keepalive;

typedef struct delayed {
  uint32_t series;
  uint32_t round;
  uint64_t due; /* publisher's message index at which it goes out */
} delayed;

typedef struct publisher {
  int fd;
  bc_buf out;
  size_t out_off;
  bm_reader in;
  uint64_t generated; /* messages encoded, delayed ones included once sent */
  uint64_t index;     /* position in the regular sequence */
  uint32_t inflight, window;
  uint16_t next_pid;
  int64_t *sent_ns; /* by packet id, QoS 1 */
  delayed *fifo;
  size_t fifo_head, fifo_len, fifo_cap;
  bool fence_sent, fence_acked;
  uint16_t fence_pid;
  char cached_date[32];
  int64_t cached_sec;
  keepalive ka;
} publisher;

typedef struct series_state {
  int v[FIELDS];   /* tenths */
  int64_t last_ts; /* TS_NOW: the last timestamp sent */
} series_state;

static struct {
  const char *host;
  int port;
  int npubs;
  double rate;
  double duration;
  uint64_t count;
  int qos;
  kind kind;
  uint32_t series, per_pub;
  double ooo;
  double latency_every_ms;
  uint32_t inflight;
  double settle_max;
  int batch; /* 1: every message is its own write(), like a device */
  const char *id;
  const char *json;
  ts_mode ts;
  double ts_start_s, ts_step_s;
  double interval_s;
  uint64_t settle_every;
  int spread;
  int npids;
  char pid_names[MAX_PIDS][32];
  pid_t pids[MAX_PIDS];
} opt = {.host = "127.0.0.1",
         .npubs = 4,
         .duration = 5,
         .qos = 0,
         .kind = KIND_JSON,
         .series = 1000,
         .latency_every_ms = 10,
         .inflight = 1000,
         .settle_max = 10,
         .id = "lg",
         .ts = TS_BASE,
         .ts_start_s = -12 * 3600,
         .ts_step_s = STEP_MS / 1000.0};

static series_state *state;
static uint64_t rng = 0x2545F4914F6CDD1DULL;
static int64_t base_ms, probe_base_ms, step_ms;
static volatile sig_atomic_t stop_flag;

static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}
static double urand(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

/* ---- payloads ---- */

static char *put_int(char *p, long v) {
  char tmp[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? (unsigned long)(-v) : (unsigned long)v;
  do tmp[n++] = (char)('0' + u % 10);
  while (u /= 10);
  if (neg) *p++ = '-';
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_tenths(char *p, int v) {
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  p = put_int(p, v / 10);
  *p++ = '.';
  *p++ = (char)('0' + v % 10);
  return p;
}

static char *put_lit(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

static const int vmin[FIELDS] = {0, 0, 0, -200, 0}, vmax[FIELDS] = {1500, 1500, 1500, 400, 1000};

static void step_series(series_state *s) {
  for (int f = 0; f < FIELDS; f++) {
    s->v[f] += (int)(rnd() % 7) - 3;
    if (s->v[f] < vmin[f]) s->v[f] = vmin[f];
    if (s->v[f] > vmax[f]) s->v[f] = vmax[f];
  }
}

static void rfc3339(publisher *pb, int64_t ts_ms, char *out) {
  int64_t sec = ts_ms / 1000;
  if (sec != pb->cached_sec) {
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(pb->cached_date, sizeof pb->cached_date, "%Y-%m-%dT%H:%M:%S", &tm);
    pb->cached_sec = sec;
  }
  int ms = (int)(ts_ms % 1000);
  sprintf(out, "%s.%03dZ", pb->cached_date, ms);
}

/* The five measurements of the JSON and SenML kinds, in the order both
 * write them (the air-quality schema's members), in tenths. */
static const struct {
  const char *name, *senml_unit;
} measurement[FIELDS] = {{"pm10", "ug/m3"},
                         {"pm25", "ug/m3"},
                         {"no2", "ug/m3"},
                         {"temperature", "Cel"},
                         {"humidity", "%RH"}};

static int measurement_tenths(const series_state *s, int f) {
  return f == 0 && s->v[1] > s->v[0] ? s->v[1] : s->v[f]; /* PM10 includes PM2.5 */
}

/* Topic and payload of one message of a series (series == opt.series: the
 * latency probe series). Returns the payload length. */
static size_t encode_payload(publisher *pb, uint32_t series, uint32_t round, char *topic,
                             size_t *topic_len, uint8_t *buf) {
  series_state *s = &state[series];
  step_series(s);
  bool probe = series == opt.series;
  int64_t ts;
  if (opt.ts == TS_NOW) {
    ts = bc_wall_ms();
    if (ts <= s->last_ts) ts = s->last_ts + 1;
    s->last_ts = ts;
  } else if (probe) {
    ts = probe_base_ms + (int64_t)round * STEP_MS;
  } else {
    ts = base_ms + (int64_t)round * step_ms;
  }
  char *t = topic;
  t = put_lit(t, "city/");
  if (probe) {
    t = put_lit(t, "lat/p");
    t = put_int(t, 0);
  } else {
    *t++ = 'd';
    t = put_int(t, series % 16);
    *t++ = '/';
    *t++ = opt.kind == KIND_JSON ? 's' : opt.kind == KIND_MSGPACK ? 'c' : 'n';
    t = put_int(t, series);
  }
  t = put_lit(t, opt.kind == KIND_JSON ? "/air" : opt.kind == KIND_MSGPACK ? "/traffic" : "/senml");
  *topic_len = (size_t)(t - topic);
  char *p = (char *)buf;
  if (opt.kind == KIND_JSON) {
    char when[40];
    rfc3339(pb, ts, when);
    p = put_lit(p, "{\"ts\":\"");
    p = put_lit(p, when);
    *p++ = '"';
    for (int f = 0; f < FIELDS; f++) {
      p = put_lit(p, ",\"");
      p = put_lit(p, measurement[f].name);
      p = put_lit(p, "\":");
      p = put_tenths(p, measurement_tenths(s, f));
    }
    *p++ = '}';
  } else if (opt.kind == KIND_MSGPACK) {
    uint8_t *m = buf;
    *m++ = 0x87; /* map of 7 */
#define MP_KEY(k)                 \
  do {                            \
    size_t kl_ = strlen(k);       \
    *m++ = (uint8_t)(0xa0 | kl_); \
    memcpy(m, k, kl_);            \
    m += kl_;                     \
  } while (0)
    MP_KEY("ts");
    *m++ = 0xcf;
    for (int i = 7; i >= 0; i--) *m++ = (uint8_t)((uint64_t)ts >> (8 * i));
    MP_KEY("period");
    *m++ = 60;
    int cars = s->v[0] / 10, trucks = s->v[2] / 50;
    MP_KEY("vehicles");
    *m++ = 0xcd;
    *m++ = (uint8_t)((cars + trucks) >> 8);
    *m++ = (uint8_t)(cars + trucks);
    MP_KEY("cars");
    *m++ = 0xcd;
    *m++ = (uint8_t)(cars >> 8);
    *m++ = (uint8_t)cars;
    MP_KEY("trucks");
    *m++ = 0xcd;
    *m++ = (uint8_t)(trucks >> 8);
    *m++ = (uint8_t)trucks;
    double speed = (double)(s->v[1] % 1300) / 10.0, occ = (double)(s->v[4]) / 10.0;
    uint64_t bits;
    MP_KEY("speed_avg");
    *m++ = 0xcb;
    memcpy(&bits, &speed, 8);
    for (int i = 7; i >= 0; i--) *m++ = (uint8_t)(bits >> (8 * i));
    MP_KEY("occupancy");
    *m++ = 0xcb;
    memcpy(&bits, &occ, 8);
    for (int i = 7; i >= 0; i--) *m++ = (uint8_t)(bits >> (8 * i));
#undef MP_KEY
    return (size_t)(m - buf);
  } else {
    p = put_lit(p, "[{\"bt\":");
    p = put_int(p, ts / 1000);
    *p++ = '.';
    int ms = (int)(ts % 1000);
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    for (int f = 0; f < FIELDS; f++) {
      p = put_lit(p, f ? "},{\"n\":\"" : ",\"n\":\"");
      p = put_lit(p, measurement[f].name);
      p = put_lit(p, "\",\"u\":\"");
      p = put_lit(p, measurement[f].senml_unit);
      p = put_lit(p, "\",\"v\":");
      p = put_tenths(p, measurement_tenths(s, f));
    }
    p = put_lit(p, "}]");
  }
  return (size_t)(p - (char *)buf);
}

/* ---- statistics ---- */

typedef struct samples {
  double *v;
  size_t n, cap;
} samples;

static void sample_add(samples *s, double x) {
  if (s->n == s->cap) {
    if (s->cap >= MAX_LAT_SAMPLES) return;
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) exit(1);
  }
  s->v[s->n++] = x;
}

static struct {
  uint64_t sent, acked_ok, refused_87, other_reason, probes_sent, probes_received;
  uint64_t pings_sent, pongs_received;
  samples e2e_ms, ack_ms;
} stats;

/* ---- publishing ---- */

static publisher pubs[MAX_PUBS];
static uint32_t probe_round;

static void emit(publisher *pb, uint32_t series, uint32_t round, bool probe, int qos) {
  char topic[128];
  size_t tlen;
  uint8_t payload[512];
  size_t plen = encode_payload(pb, series, round, topic, &tlen, payload);
  uint16_t pid = 0;
  int64_t now = 0;
  if (qos) {
    pid = pb->next_pid;
    pb->next_pid = (uint16_t)(pb->next_pid == 65535 ? 1 : pb->next_pid + 1);
    now = bc_now_ns();
    pb->sent_ns[pid] = now;
    pb->inflight++;
  }
  if (probe) {
    char t[32];
    if (!now) now = bc_now_ns();
    snprintf(t, sizeof t, "%" PRId64, now);
    bm_encode_publish(&pb->out, topic, tlen, qos, pid, "t", t, payload, plen);
    stats.probes_sent++;
  } else {
    bm_encode_publish(&pb->out, topic, tlen, qos, pid, NULL, NULL, payload, plen);
  }
  stats.sent++;
  pb->generated++;
}

/* The next message of publisher p's own sequence, with out-of-order holds. */
static void emit_next(int p, int qos) {
  publisher *pb = &pubs[p];
  for (;;) {
    if (pb->fifo_len && pb->fifo[pb->fifo_head].due <= pb->index) {
      delayed d = pb->fifo[pb->fifo_head];
      pb->fifo_head = (pb->fifo_head + 1) % pb->fifo_cap;
      pb->fifo_len--;
      emit(pb, d.series, d.round, false, qos);
      return;
    }
    uint64_t k = pb->index++;
    uint32_t local = (uint32_t)(k % opt.per_pub), round = (uint32_t)(k / opt.per_pub);
    uint32_t series = (uint32_t)p + (uint32_t)opt.npubs * local;
    if (opt.ooo > 0 && urand() < opt.ooo && pb->fifo_len < pb->fifo_cap) {
      size_t tail = (pb->fifo_head + pb->fifo_len) % pb->fifo_cap;
      pb->fifo[tail] = (delayed){series, round, k + 10ull * opt.per_pub};
      pb->fifo_len++;
      continue;
    }
    emit(pb, series, round, false, qos);
    return;
  }
}

static bool flush_out(publisher *pb) {
  while (pb->out_off < pb->out.len) {
    ssize_t w = send(pb->fd, pb->out.p + pb->out_off, pb->out.len - pb->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      fprintf(stderr, "loadgen: send: %s\n", strerror(errno));
      exit(1);
    }
    pb->out_off += (size_t)w;
    pb->ka.last_tx_ns = bc_now_ns();
  }
  pb->out.len = pb->out_off = 0;
  return true;
}

/* ---- keep-alive ---- */

/* True when the connection should send a PINGREQ now. Ends the run when a
 * PINGREQ has gone unanswered for a whole keep-alive. */
static bool keepalive_due(keepalive *ka, int64_t now, const char *what) {
  const int64_t ka_ns = (int64_t)KEEPALIVE_S * 1000000000;
  if (ka->ping_sent_ns && now - ka->ping_sent_ns > ka_ns) {
    fprintf(stderr, "loadgen: no PINGRESP on the %s connection for %d s\n", what, KEEPALIVE_S);
    exit(1);
  }
  return !ka->ping_sent_ns && now - ka->last_tx_ns >= ka_ns / 2;
}

static void keepalive_pong(keepalive *ka) {
  ka->ping_sent_ns = 0;
  stats.pongs_received++;
}

static const uint8_t pingreq[2] = {BM_PINGREQ << 4, 0};

/* Publishers: the PINGREQ goes into the output buffer, behind any data. */
static void publisher_keepalive(publisher *pb, int64_t now) {
  if (!keepalive_due(&pb->ka, now, "publisher")) return;
  bc_buf_put(&pb->out, pingreq, sizeof pingreq);
  pb->ka.ping_sent_ns = now;
  stats.pings_sent++;
}

/* The probe subscriber writes nothing else: two bytes into an empty socket
 * buffer; on EAGAIN the next pass tries again. */
static void subscriber_keepalive(int fd, keepalive *ka, int64_t now) {
  if (!keepalive_due(ka, now, "subscriber")) return;
  if (send(fd, pingreq, sizeof pingreq, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof pingreq) {
    ka->last_tx_ns = ka->ping_sent_ns = now;
    stats.pings_sent++;
  }
}

static void handle_pub_input(publisher *pb) {
  for (;;) {
    ssize_t n = bm_reader_fill(&pb->in, pb->fd);
    if (n == 0) {
      fprintf(stderr, "loadgen: the broker closed a publisher connection\n");
      exit(1);
    }
    if (n < 0) break;
  }
  uint8_t first;
  const uint8_t *body;
  size_t len;
  int rc;
  while ((rc = bm_reader_next(&pb->in, &first, &body, &len)) == 1) {
    int type = first >> 4;
    if (type == BM_PUBACK && len >= 2) {
      uint16_t pid = (uint16_t)(body[0] << 8 | body[1]);
      uint8_t reason = len >= 3 ? body[2] : 0;
      if (pb->inflight) pb->inflight--;
      if (pb->fence_sent && pid == pb->fence_pid) pb->fence_acked = true;
      if (reason < 0x80) /* 0x00, or 0x10 "no matching subscribers" */
        stats.acked_ok++;
      else if (reason == 0x87)
        stats.refused_87++;
      else
        stats.other_reason++;
      if (pb->sent_ns[pid]) {
        sample_add(&stats.ack_ms, (double)(bc_now_ns() - pb->sent_ns[pid]) / 1e6);
        pb->sent_ns[pid] = 0;
      }
    } else if (type == BM_PINGRESP) {
      keepalive_pong(&pb->ka);
    } else if (type == BM_DISCONNECT) {
      fprintf(stderr, "loadgen: DISCONNECT from the broker, reason 0x%02x\n", len ? body[0] : 0);
      exit(1);
    }
  }
  if (rc < 0) {
    fprintf(stderr, "loadgen: malformed packet from the broker\n");
    exit(1);
  }
}

static void handle_sub_input(int fd, bm_reader *r, keepalive *ka) {
  for (;;) {
    ssize_t n = bm_reader_fill(r, fd);
    if (n == 0) {
      fprintf(stderr, "loadgen: the broker closed the subscriber connection\n");
      exit(1);
    }
    if (n < 0) break;
  }
  int64_t now = bc_now_ns();
  uint8_t first;
  const uint8_t *body;
  size_t len;
  while (bm_reader_next(r, &first, &body, &len) == 1) {
    if (first >> 4 == BM_PINGRESP) keepalive_pong(ka);
    if (first >> 4 != BM_PUBLISH) continue;
    bm_publish pm;
    char t[32];
    if (bm_parse_publish(first, body, len, &pm) == 0 &&
        bm_find_user_property(pm.props, pm.props_len, "t", t, sizeof t)) {
      stats.probes_received++;
      sample_add(&stats.e2e_ms, (double)(now - strtoll(t, NULL, 10)) / 1e6);
    }
  }
}

static void set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- CPU of the measured processes ---- */

static double pids_cpu_n(int npids, double *each) {
  double total = 0;
  for (int i = 0; i < npids; i++) {
    double c = bc_proc_cpu_s(opt.pids[i]);
    if (c < 0) c = 0;
    if (each) each[i] = c;
    total += c;
  }
  return total;
}

static double pids_cpu(double *each) { return pids_cpu_n(opt.npids, each); }

/* Waits until the first npids processes have used less than 2 % of a core
 * over 500 ms, at most settle_max seconds; returns the seconds waited. */
static double settle_n(int npids) {
  int64_t t0 = bc_now_ns();
  double hist[6];
  int n = 0;
  for (;;) {
    double c = pids_cpu_n(npids, NULL);
    hist[n % 6] = c;
    n++;
    if (n >= 6 && c - hist[n % 6] < 0.01) break;
    if ((double)(bc_now_ns() - t0) / 1e9 > opt.settle_max) break;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return (double)(bc_now_ns() - t0) / 1e9;
}

static double settle(void) { return settle_n(opt.npids); }

/* ---- pub ---- */

static int run_pub(void) {
  if (opt.npubs < 1 || opt.npubs > MAX_PUBS) {
    fprintf(stderr, "loadgen: --publishers must be 1 to %d\n", MAX_PUBS);
    return 2;
  }
  opt.per_pub = (opt.series + (uint32_t)opt.npubs - 1) / (uint32_t)opt.npubs;
  opt.series = opt.per_pub * (uint32_t)opt.npubs;
  state = calloc(opt.series + 1, sizeof *state);
  for (uint32_t i = 0; i <= opt.series; i++)
    for (int f = 0; f < FIELDS; f++)
      state[i].v[f] = vmin[f] + (int)(rnd() % (uint64_t)((vmax[f] - vmin[f]) / 4 + 1));
  /* Whole seconds, as before --ts-start existed: the old default sends the
   * same timestamps. */
  int64_t now_s = bc_wall_ms() / 1000;
  base_ms = (now_s + (int64_t)llround(opt.ts_start_s)) * 1000;
  probe_base_ms = (now_s - 12 * 3600) * 1000;
  step_ms = (int64_t)llround(opt.ts_step_s * 1000);

  /* The probe subscriber first, so that no probe is missed. */
  int sub_fd = -1;
  bm_reader sub_in = {0};
  keepalive sub_ka = {.last_tx_ns = bc_now_ns()};
  char cid[128];
  if (opt.latency_every_ms > 0) {
    sub_fd = bc_tcp_connect(opt.host, opt.port);
    snprintf(cid, sizeof cid, "%s-sub-%d", opt.id, (int)getpid());
    if (sub_fd < 0 || bm_handshake(sub_fd, cid) < 0 ||
        bm_subscribe_sync(sub_fd, &sub_in, "city/lat/+/+", 0)) {
      fprintf(stderr, "loadgen: cannot subscribe on port %d\n", opt.port);
      return 1;
    }
    set_nonblocking(sub_fd);
  }
  for (int p = 0; p < opt.npubs; p++) {
    publisher *pb = &pubs[p];
    pb->fd = bc_tcp_connect(opt.host, opt.port);
    snprintf(cid, sizeof cid, "%s-pub%d-%d", opt.id, p, (int)getpid());
    int rm = pb->fd < 0 ? -1 : bm_handshake(pb->fd, cid);
    if (rm < 0) {
      fprintf(stderr, "loadgen: cannot connect publisher %d to port %d\n", p, opt.port);
      return 1;
    }
    pb->window = (uint32_t)rm < opt.inflight ? (uint32_t)rm : opt.inflight;
    pb->next_pid = 1;
    pb->sent_ns = calloc(65536, sizeof *pb->sent_ns);
    pb->fifo_cap = opt.ooo > 0 ? 20u * opt.per_pub + 16 : 1;
    pb->fifo = calloc(pb->fifo_cap, sizeof *pb->fifo);
    pb->cached_sec = -1;
    pb->ka.last_tx_ns = bc_now_ns();
    set_nonblocking(pb->fd);
  }

  double cpu0_each[MAX_PIDS], cpu1_each[MAX_PIDS];
  pids_cpu(cpu0_each);
  /* --interval: cumulative samples, the first at the start. */
  typedef struct sample_row {
    double t, cpu[MAX_PIDS], self;
    uint64_t sent;
    long rss[MAX_PIDS];
  } sample_row;
  sample_row *rows = NULL;
  size_t nrows = 0;
  if (opt.interval_s > 0) rows = calloc(MAX_INTERVALS, sizeof *rows);
  /* The first process's main thread alone: for a broker, the thread that
   * bounds its throughput (a plugin's own threads run beside it). */
  double main0 = opt.npids ? bc_thread_cpu_s(opt.pids[0], opt.pids[0]) : 0;
  double self0 = bc_self_cpu_s();
  const int64_t t0 = bc_now_ns();
  const int64_t end = t0 + (int64_t)(opt.duration * 1e9);
  int64_t next_row = t0;
  uint64_t next_pause = opt.settle_every;
  /* --count: each publisher its share, so that at --rate 0 the first ones
   * do not send everything (and, with --ts-step, run rounds ahead). */
  const uint64_t pub_budget = (opt.count + (uint64_t)opt.npubs - 1) / (uint64_t)opt.npubs;
  double paused_s = 0;
  const int64_t fence_deadline_extra = 30 * (int64_t)1000000000;
  int64_t next_probe = t0;
  bool generating = true;
  int64_t gen_end = 0;
  struct pollfd pfd[MAX_PUBS + 1];

  for (;;) {
    int64_t now = bc_now_ns();
    if (rows && now >= next_row && nrows < MAX_INTERVALS) {
      sample_row *row = &rows[nrows++];
      row->t = (double)(now - t0) / 1e9;
      row->sent = stats.sent;
      row->self = bc_self_cpu_s();
      pids_cpu(row->cpu);
      for (int i = 0; i < opt.npids; i++) row->rss[i] = bc_proc_rss_kb(opt.pids[i]);
      next_row += (int64_t)(opt.interval_s * 1e9);
    }
    if (generating && (stop_flag || now >= end || (opt.count && stats.sent >= opt.count))) {
      generating = false;
      gen_end = now;
      /* Delayed messages go out now, then the QoS 1 fences. */
      for (int p = 0; p < opt.npubs; p++) {
        publisher *pb = &pubs[p];
        while (pb->fifo_len) {
          delayed d = pb->fifo[pb->fifo_head];
          pb->fifo_head = (pb->fifo_head + 1) % pb->fifo_cap;
          pb->fifo_len--;
          emit(pb, d.series, d.round, false, opt.qos);
        }
      }
    }
    if (generating && opt.settle_every && opt.npids && stats.sent >= next_pause) {
      bool flushed = true;
      for (int p = 0; p < opt.npubs; p++)
        if (pubs[p].out.len > pubs[p].out_off && !flush_out(&pubs[p])) flushed = false;
      if (flushed) {
        paused_s += settle_n(1);
        next_pause = stats.sent + opt.settle_every;
        now = bc_now_ns();
      }
    }
    if (generating && !(opt.settle_every && stats.sent >= next_pause)) {
      double elapsed = (double)(now - t0) / 1e9;
      for (int p = 0; p < opt.npubs; p++) {
        publisher *pb = &pubs[p];
        /* Publisher p's k-th message falls due at k / (rate / npubs) s; with
         * --spread 1 the publishers are out of phase, (p + 1) / npubs of
         * that interval apart, as independent stations are, instead of all
         * sending at once. */
        double phase = opt.spread ? (double)(p + 1) / opt.npubs : 1.0;
        uint64_t due =
            opt.rate > 0 ? (uint64_t)(elapsed * opt.rate / opt.npubs + phase) : UINT64_MAX;
        while (pb->generated < due && pb->out.len - pb->out_off < OUT_HIGH &&
               (opt.qos == 0 || pb->inflight < pb->window) &&
               !(opt.count && (stats.sent >= opt.count || pb->index >= pub_budget)) &&
               !(opt.settle_every && stats.sent >= next_pause)) {
          emit_next(p, opt.qos);
          if (opt.batch == 1 && !flush_out(pb)) break;
        }
      }
      if (opt.latency_every_ms > 0 && now >= next_probe &&
          (opt.qos == 0 || pubs[0].inflight < pubs[0].window)) {
        emit(&pubs[0], opt.series, probe_round++, true, opt.qos);
        next_probe += (int64_t)(opt.latency_every_ms * 1e6);
        if (next_probe < now) next_probe = now;
      }
    } else {
      bool done = true;
      for (int p = 0; p < opt.npubs; p++) {
        publisher *pb = &pubs[p];
        if (!pb->fence_sent && pb->inflight < (pb->window ? pb->window : 1)) {
          /* A fence: one more regular message of its sequence, at QoS 1. */
          pb->fence_pid = pb->next_pid;
          pb->fence_sent = true;
          emit_next(p, 1);
        }
        if (!pb->fence_acked || (opt.qos && pb->inflight)) done = false;
      }
      if (done) break;
      if (now - gen_end > fence_deadline_extra) {
        fprintf(stderr, "loadgen: the broker did not acknowledge the end of the run in 30 s\n");
        return 1;
      }
    }
    for (int p = 0; p < opt.npubs; p++) publisher_keepalive(&pubs[p], now);
    if (sub_fd >= 0) subscriber_keepalive(sub_fd, &sub_ka, now);
    int n = 0;
    for (int p = 0; p < opt.npubs; p++) {
      publisher *pb = &pubs[p];
      bool pending = pb->out.len > pb->out_off && !flush_out(pb);
      pfd[n].fd = pb->fd;
      pfd[n].events = (short)(POLLIN | (pending ? POLLOUT : 0));
      pfd[n].revents = 0;
      n++;
    }
    if (sub_fd >= 0) {
      pfd[n].fd = sub_fd;
      pfd[n].events = POLLIN;
      pfd[n].revents = 0;
      n++;
    }
    /* At a target rate wake up every 0.5 ms to encode what fell due; at max
     * rate only when a socket is ready. */
    int timeout = opt.rate > 0 || !generating ? 1 : 10;
    int rc = poll(pfd, (nfds_t)n, timeout);
    if (rc < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (!pfd[i].revents) continue;
      if (i < opt.npubs) {
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) handle_pub_input(&pubs[i]);
        if (pfd[i].revents & POLLOUT) flush_out(&pubs[i]);
      } else {
        handle_sub_input(sub_fd, &sub_in, &sub_ka);
      }
    }
  }
  const int64_t t_done = bc_now_ns();
  /* Probes still on their way. */
  for (int i = 0; i < 20 && sub_fd >= 0 && stats.probes_received < stats.probes_sent; i++) {
    struct pollfd q = {.fd = sub_fd, .events = POLLIN};
    if (poll(&q, 1, 10) > 0) handle_sub_input(sub_fd, &sub_in, &sub_ka);
  }
  double self1 = bc_self_cpu_s();
  double settle_s = opt.npids ? settle() : 0;
  pids_cpu(cpu1_each);
  long rss_end[MAX_PIDS];
  for (int i = 0; i < opt.npids; i++) rss_end[i] = bc_proc_rss_kb(opt.pids[i]);
  double main1 = opt.npids ? bc_thread_cpu_s(opt.pids[0], opt.pids[0]) : 0;
  for (int p = 0; p < opt.npubs; p++) close(pubs[p].fd);
  if (sub_fd >= 0) close(sub_fd);

  double secs = (double)(t_done - t0) / 1e9;
  qsort(stats.e2e_ms.v, stats.e2e_ms.n, sizeof(double), bc_cmp_double);
  qsort(stats.ack_ms.v, stats.ack_ms.n, sizeof(double), bc_cmp_double);
  bc_buf j = {0};
  double cpu_total = 0;
  bc_buf_printf(
      &j,
      "{\"batch\":%d,\"kind\":\"%s\",\"qos\":%d,\"publishers\":%d,\"series\":%u,\"rate\":%.0f,"
      "\"ooo\":%.3f,\"sent\":%" PRIu64
      ",\"seconds\":%.4f,\"msgs_per_s\":%.1f,"
      "\"acked_ok\":%" PRIu64 ",\"refused_0x87\":%" PRIu64 ",\"other_reason\":%" PRIu64
      ",\"probes_sent\":%" PRIu64 ",\"probes_received\":%" PRIu64 ",\"pings_sent\":%" PRIu64
      ",\"pongs_received\":%" PRIu64 ",\"ts\":\"%s\",\"ts_start_s\":%.3f,\"ts_step_s\":%.3f",
      opt.batch,
      opt.kind == KIND_JSON      ? "json"
      : opt.kind == KIND_MSGPACK ? "msgpack"
                                 : "senml",
      opt.qos, opt.npubs, opt.series, opt.rate, opt.ooo, stats.sent, secs,
      (double)stats.sent / secs, stats.acked_ok, stats.refused_87, stats.other_reason,
      stats.probes_sent, stats.probes_received, stats.pings_sent, stats.pongs_received,
      opt.ts == TS_NOW ? "now" : "base", opt.ts_start_s, opt.ts_step_s);
  bc_buf_printf(&j,
                ",\"e2e_p50_ms\":%.4f,\"e2e_p99_ms\":%.4f,\"ack_p50_ms\":%.4f,\"ack_p99_ms\":%.4f",
                bc_percentile(stats.e2e_ms.v, stats.e2e_ms.n, 0.5),
                bc_percentile(stats.e2e_ms.v, stats.e2e_ms.n, 0.99),
                bc_percentile(stats.ack_ms.v, stats.ack_ms.n, 0.5),
                bc_percentile(stats.ack_ms.v, stats.ack_ms.n, 0.99));
  bc_buf_printf(&j,
                ",\"points_per_msg\":%d,\"loadgen_cpu_s\":%.3f,\"settle_s\":%.2f,"
                "\"paused_s\":%.2f,\"cpu_s\":{",
                FIELDS, self1 - self0, settle_s, paused_s);
  for (int i = 0; i < opt.npids; i++) {
    double c = cpu1_each[i] - cpu0_each[i];
    cpu_total += c;
    bc_buf_printf(&j, "%s\"%s\":%.3f", i ? "," : "", opt.pid_names[i], c);
  }
  bc_buf_printf(&j, "},\"rss_kb\":{");
  for (int i = 0; i < opt.npids; i++)
    bc_buf_printf(&j, "%s\"%s\":%ld", i ? "," : "", opt.pid_names[i], rss_end[i]);
  bc_buf_printf(&j,
                "},\"cpu_total_s\":%.3f,\"cpu_us_per_msg\":%.3f,\"main_thread_cpu_s\":%.3f,"
                "\"main_thread_us_per_msg\":%.3f",
                cpu_total, stats.sent ? cpu_total / (double)stats.sent * 1e6 : 0, main1 - main0,
                stats.sent ? (main1 - main0) / (double)stats.sent * 1e6 : 0);
  if (rows) {
    /* Cumulative since the start of the run; the last row is the end of the
     * settle wait. */
    sample_row *last = nrows < MAX_INTERVALS ? &rows[nrows++] : &rows[nrows - 1];
    last->t = (double)(bc_now_ns() - t0) / 1e9;
    last->sent = stats.sent;
    last->self = bc_self_cpu_s();
    memcpy(last->cpu, cpu1_each, sizeof last->cpu);
    memcpy(last->rss, rss_end, sizeof last->rss);
    bc_buf_printf(&j, ",\"intervals\":[");
    for (size_t k = 0; k < nrows; k++) {
      bc_buf_printf(&j, "%s{\"t\":%.3f,\"sent\":%" PRIu64 ",\"loadgen_cpu_s\":%.3f,\"cpu_s\":{",
                    k ? "," : "", rows[k].t, rows[k].sent, rows[k].self - self0);
      for (int i = 0; i < opt.npids; i++)
        bc_buf_printf(&j, "%s\"%s\":%.3f", i ? "," : "", opt.pid_names[i],
                      rows[k].cpu[i] - cpu0_each[i]);
      bc_buf_printf(&j, "},\"rss_kb\":{");
      for (int i = 0; i < opt.npids; i++)
        bc_buf_printf(&j, "%s\"%s\":%ld", i ? "," : "", opt.pid_names[i], rows[k].rss[i]);
      bc_buf_printf(&j, "}}");
    }
    bc_buf_printf(&j, "]");
    free(rows);
  }
  bc_buf_printf(&j, "}\n");
  fputs((char *)j.p, stdout);
  if (opt.json) {
    FILE *f = fopen(opt.json, "w");
    if (f) {
      fputs((char *)j.p, f);
      fclose(f);
    }
  }
  return 0;
}

/* ---- sink: an MQTT endpoint that only counts ---- */

typedef struct sink_conn {
  int fd;
  bm_reader in;
  bc_buf out;
} sink_conn;

static int run_sink(double seconds) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)opt.port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64)) {
    perror("loadgen sink: bind");
    return 1;
  }
  set_nonblocking(ls);
  sink_conn conns[MAX_PUBS + 2];
  int nconn = 0;
  uint64_t publishes = 0;
  const int64_t end = bc_now_ns() + (int64_t)(seconds * 1e9);
  fprintf(stderr, "loadgen sink: listening on %d\n", opt.port);
  while (!stop_flag && bc_now_ns() < end) {
    struct pollfd pfd[MAX_PUBS + 3];
    pfd[0] = (struct pollfd){.fd = ls, .events = POLLIN};
    for (int i = 0; i < nconn; i++)
      pfd[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    if (poll(pfd, (nfds_t)nconn + 1, 100) <= 0) continue;
    if (pfd[0].revents & POLLIN) {
      int fd = accept(ls, NULL, NULL);
      if (fd >= 0 && nconn < MAX_PUBS + 2) {
        set_nonblocking(fd);
        memset(&conns[nconn], 0, sizeof conns[nconn]);
        conns[nconn++].fd = fd;
      } else if (fd >= 0) {
        close(fd);
      }
    }
    for (int i = 0; i < nconn; i++) {
      if (!pfd[i + 1].revents) continue;
      sink_conn *c = &conns[i];
      bool closed = false;
      for (;;) {
        ssize_t n = bm_reader_fill(&c->in, c->fd);
        if (n == 0) closed = true;
        if (n <= 0) break;
      }
      uint8_t first;
      const uint8_t *body;
      size_t len;
      while (bm_reader_next(&c->in, &first, &body, &len) == 1) {
        int type = first >> 4;
        if (type == BM_CONNECT) {
          bm_encode_connack(&c->out, 20);
        } else if (type == BM_PUBLISH) {
          publishes++;
          if ((first >> 1) & 3) {
            bm_publish pm;
            if (!bm_parse_publish(first, body, len, &pm)) bm_encode_puback(&c->out, pm.pid, 0);
          }
        } else if (type == BM_SUBSCRIBE && len >= 2) {
          uint8_t suback[6] = {BM_SUBACK << 4, 4, body[0], body[1], 0, 0};
          bc_buf_put(&c->out, suback, 6);
        } else if (type == BM_PINGREQ) {
          uint8_t pr[2] = {BM_PINGRESP << 4, 0};
          bc_buf_put(&c->out, pr, 2);
        } else if (type == BM_DISCONNECT) {
          closed = true;
        }
      }
      if (c->out.len) {
        int fl = fcntl(c->fd, F_GETFL);
        fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
        if (bc_write_all(c->fd, c->out.p, c->out.len)) closed = true;
        fcntl(c->fd, F_SETFL, fl);
        c->out.len = 0;
      }
      if (closed) {
        close(c->fd);
        bc_buf_free(&c->in.in);
        bc_buf_free(&c->out);
        conns[i] = conns[--nconn];
        pfd[i + 1] = pfd[nconn + 1];
        i--;
      }
    }
  }
  printf("{\"publishes\":%" PRIu64 "}\n", publishes);
  close(ls);
  return 0;
}

/* ---- main ---- */

static int usage(void) {
  fprintf(stderr,
          "usage: loadgen pub --port P [--host H] [--publishers N] [--rate R|0] [--duration S]\n"
          "                   [--count M] [--qos 0|1] [--kind json|msgpack|senml] [--series S]\n"
          "                   [--ooo F] [--latency-every MS] [--inflight K] [--pid NAME=PID]...\n"
          "                   [--settle-max S] [--batch 1] [--id PREFIX] [--json FILE]\n"
          "                   [--seed N] [--ts base|now] [--ts-start S] [--ts-step S]\n"
          "                   [--interval S] [--settle-every N] [--spread 1]\n"
          "       loadgen sink --port P [--seconds S]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  bool sink = !strcmp(argv[1], "sink");
  if (!sink && strcmp(argv[1], "pub")) return usage();
  double seconds = 60;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    i++;
    if (!strcmp(a, "--port"))
      opt.port = atoi(v);
    else if (!strcmp(a, "--host"))
      opt.host = v;
    else if (!strcmp(a, "--publishers"))
      opt.npubs = atoi(v);
    else if (!strcmp(a, "--rate"))
      opt.rate = atof(v);
    else if (!strcmp(a, "--duration"))
      opt.duration = atof(v);
    else if (!strcmp(a, "--count"))
      opt.count = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--qos"))
      opt.qos = atoi(v) ? 1 : 0;
    else if (!strcmp(a, "--series"))
      opt.series = (uint32_t)atoi(v);
    else if (!strcmp(a, "--ooo"))
      opt.ooo = atof(v);
    else if (!strcmp(a, "--latency-every"))
      opt.latency_every_ms = atof(v);
    else if (!strcmp(a, "--inflight"))
      opt.inflight = (uint32_t)atoi(v);
    else if (!strcmp(a, "--settle-max"))
      opt.settle_max = atof(v);
    else if (!strcmp(a, "--batch"))
      opt.batch = atoi(v);
    else if (!strcmp(a, "--id"))
      opt.id = v;
    else if (!strcmp(a, "--json"))
      opt.json = v;
    else if (!strcmp(a, "--seconds"))
      seconds = atof(v);
    else if (!strcmp(a, "--seed"))
      rng ^= strtoull(v, NULL, 10) * 0x9E3779B97F4A7C15ULL;
    else if (!strcmp(a, "--ts-start"))
      opt.ts_start_s = atof(v);
    else if (!strcmp(a, "--ts-step"))
      opt.ts_step_s = atof(v);
    else if (!strcmp(a, "--interval"))
      opt.interval_s = atof(v);
    else if (!strcmp(a, "--settle-every"))
      opt.settle_every = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--spread"))
      opt.spread = atoi(v);
    else if (!strcmp(a, "--ts")) {
      if (!strcmp(v, "base"))
        opt.ts = TS_BASE;
      else if (!strcmp(v, "now"))
        opt.ts = TS_NOW;
      else
        return usage();
    } else if (!strcmp(a, "--kind")) {
      if (!strcmp(v, "json"))
        opt.kind = KIND_JSON;
      else if (!strcmp(v, "msgpack"))
        opt.kind = KIND_MSGPACK;
      else if (!strcmp(v, "senml"))
        opt.kind = KIND_SENML;
      else
        return usage();
    } else if (!strcmp(a, "--pid")) {
      const char *eq = strchr(v, '=');
      if (!eq || opt.npids == MAX_PIDS) return usage();
      snprintf(opt.pid_names[opt.npids], sizeof opt.pid_names[0], "%.*s", (int)(eq - v), v);
      opt.pids[opt.npids++] = (pid_t)atoi(eq + 1);
    } else {
      return usage();
    }
  }
  if (!opt.port || opt.series < 1 || opt.ooo < 0 || opt.ooo >= 1) return usage();
  return sink ? run_sink(seconds) : run_pub();
}
