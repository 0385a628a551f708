/* Helpers of the field benchmarks: see bench_common.h. */
#include "bench_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- buffers ---- */

void bc_buf_reserve(bc_buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  unsigned char *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "bench: out of memory\n");
    exit(1);
  }
  b->p = p;
  b->cap = cap;
}

void bc_buf_put(bc_buf *b, const void *data, size_t n) {
  bc_buf_reserve(b, n + 1);
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
}

void bc_buf_puts(bc_buf *b, const char *s) { bc_buf_put(b, s, strlen(s)); }

void bc_buf_printf(bc_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  bc_buf_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void bc_buf_free(bc_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- clocks and CPU ---- */

int64_t bc_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bc_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double stat_cpu_s(const char *path);

double bc_proc_cpu_s(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  return stat_cpu_s(path);
}

double bc_thread_cpu_s(pid_t pid, pid_t tid) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
  return stat_cpu_s(path);
}

static double stat_cpu_s(const char *path) {
  char line[2048];
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  /* The command name (field 2) may hold spaces: fields count from its ')'. */
  char *p = strrchr(line, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void bc_cpu_model(char *out, size_t cap) {
  snprintf(out, cap, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *p = strchr(line, ':');
    if (p) {
      p++;
      while (*p == ' ' || *p == '\t') p++;
      p[strcspn(p, "\n")] = '\0';
      snprintf(out, cap, "%s", p);
    }
    break;
  }
  fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void bc_rmtree(const char *path) {
  /* Depth first, without following links: files, then their directories. */
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

double bc_self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

long bc_proc_rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

/* ---- TCP ---- */

int bc_tcp_connect(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
      connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int bc_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---- MQTT v5 ---- */

static size_t varint(uint8_t *out, uint32_t v) {
  size_t n = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v) byte |= 0x80;
    out[n++] = byte;
  } while (v);
  return n;
}

static void put_u16(bc_buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  bc_buf_put(b, x, 2);
}

static void put_str(bc_buf *b, const char *s, size_t n) {
  put_u16(b, (uint16_t)n);
  bc_buf_put(b, s, n);
}

static void put_header(bc_buf *b, uint8_t first, size_t remaining) {
  uint8_t h[5];
  h[0] = first;
  size_t n = varint(h + 1, (uint32_t)remaining);
  bc_buf_put(b, h, n + 1);
}

void bm_encode_connect(bc_buf *b, const char *client_id, uint16_t keepalive_s) {
  size_t idlen = strlen(client_id);
  /* protocol name(6) level(1) flags(1) keepalive(2) props len(1)=0, id */
  size_t rem = 6 + 1 + 1 + 2 + 1 + 2 + idlen;
  put_header(b, BM_CONNECT << 4, rem);
  put_str(b, "MQTT", 4);
  uint8_t x[4] = {5, 0x02 /* clean start */, (uint8_t)(keepalive_s >> 8), (uint8_t)keepalive_s};
  bc_buf_put(b, x, 4);
  uint8_t zero = 0;
  bc_buf_put(b, &zero, 1);
  put_str(b, client_id, idlen);
}

void bm_encode_publish(bc_buf *b, const char *topic, size_t topic_len, int qos, uint16_t pid,
                       const char *uprop_key, const char *uprop_val, const void *payload,
                       size_t payload_len) {
  size_t props = 0;
  if (uprop_key) props = 1 + 2 + strlen(uprop_key) + 2 + strlen(uprop_val);
  uint8_t pv[5];
  size_t pvn = varint(pv, (uint32_t)props);
  size_t rem = 2 + topic_len + (qos ? 2 : 0) + pvn + props + payload_len;
  bc_buf_reserve(b, rem + 8);
  put_header(b, (uint8_t)(BM_PUBLISH << 4 | qos << 1), rem);
  put_str(b, topic, topic_len);
  if (qos) put_u16(b, pid);
  bc_buf_put(b, pv, pvn);
  if (uprop_key) {
    uint8_t id = 0x26;
    bc_buf_put(b, &id, 1);
    put_str(b, uprop_key, strlen(uprop_key));
    put_str(b, uprop_val, strlen(uprop_val));
  }
  bc_buf_put(b, payload, payload_len);
}

void bm_encode_subscribe(bc_buf *b, uint16_t pid, const char *filter, int qos) {
  size_t fl = strlen(filter);
  put_header(b, BM_SUBSCRIBE << 4 | 0x2, 2 + 1 + 2 + fl + 1);
  put_u16(b, pid);
  uint8_t zero = 0, opts = (uint8_t)qos;
  bc_buf_put(b, &zero, 1);
  put_str(b, filter, fl);
  bc_buf_put(b, &opts, 1);
}

void bm_encode_puback(bc_buf *b, uint16_t pid, uint8_t reason) {
  if (reason == 0) {
    put_header(b, BM_PUBACK << 4, 2);
    put_u16(b, pid);
  } else {
    put_header(b, BM_PUBACK << 4, 3);
    put_u16(b, pid);
    bc_buf_put(b, &reason, 1);
  }
}

void bm_encode_connack(bc_buf *b, uint16_t receive_max) {
  /* flags, reason, props: receive maximum (0x21) */
  put_header(b, BM_CONNACK << 4, 2 + 1 + 3);
  uint8_t x[6] = {0, 0, 3, 0x21, (uint8_t)(receive_max >> 8), (uint8_t)receive_max};
  bc_buf_put(b, x, 6);
}

ssize_t bm_reader_fill(bm_reader *r, int fd) {
  if (r->off > 0 && r->off == r->in.len) {
    r->in.len = 0;
    r->off = 0;
  } else if (r->off > (1u << 16)) {
    memmove(r->in.p, r->in.p + r->off, r->in.len - r->off);
    r->in.len -= r->off;
    r->off = 0;
  }
  bc_buf_reserve(&r->in, 65536);
  ssize_t n = read(fd, r->in.p + r->in.len, r->in.cap - r->in.len);
  if (n > 0) r->in.len += (size_t)n;
  return n;
}

int bm_reader_next(bm_reader *r, uint8_t *first, const uint8_t **body, size_t *len) {
  size_t avail = r->in.len - r->off;
  const uint8_t *p = r->in.p + r->off;
  if (avail < 2) return 0;
  uint32_t rem = 0;
  size_t i = 1;
  for (int shift = 0;; shift += 7) {
    if (i >= avail) return 0;
    if (shift > 21) return -1;
    rem |= (uint32_t)(p[i] & 0x7f) << shift;
    if (!(p[i++] & 0x80)) break;
  }
  if (avail < i + rem) return 0;
  *first = p[0];
  *body = p + i;
  *len = rem;
  r->off += i + rem;
  return 1;
}

static int read_varint(const uint8_t *p, size_t len, size_t *used, uint32_t *v) {
  *v = 0;
  for (size_t i = 0; i < 4 && i < len; i++) {
    *v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) {
      *used = i + 1;
      return 0;
    }
  }
  return -1;
}

int bm_parse_publish(uint8_t first, const uint8_t *body, size_t len, bm_publish *out) {
  memset(out, 0, sizeof *out);
  out->qos = (first >> 1) & 3;
  if (len < 2) return -1;
  size_t tl = (size_t)body[0] << 8 | body[1];
  size_t off = 2 + tl;
  if (off > len) return -1;
  out->topic = (const char *)body + 2;
  out->topic_len = tl;
  if (out->qos) {
    if (off + 2 > len) return -1;
    out->pid = (uint16_t)(body[off] << 8 | body[off + 1]);
    off += 2;
  }
  size_t used;
  uint32_t pl;
  if (read_varint(body + off, len - off, &used, &pl) || off + used + pl > len) return -1;
  out->props = body + off + used;
  out->props_len = pl;
  off += used + pl;
  out->payload = body + off;
  out->payload_len = len - off;
  return 0;
}

int bm_find_user_property(const uint8_t *props, size_t len, const char *key, char *val,
                          size_t vlen) {
  size_t off = 0, klen = strlen(key);
  while (off < len) {
    uint8_t id = props[off++];
    if (id == 0x26) {
      if (off + 2 > len) return 0;
      size_t kl = (size_t)props[off] << 8 | props[off + 1];
      const uint8_t *k = props + off + 2;
      off += 2 + kl;
      if (off + 2 > len) return 0;
      size_t vl = (size_t)props[off] << 8 | props[off + 1];
      const uint8_t *v = props + off + 2;
      off += 2 + vl;
      if (off > len) return 0;
      if (kl == klen && !memcmp(k, key, klen)) {
        if (vl >= vlen) vl = vlen - 1;
        memcpy(val, v, vl);
        val[vl] = 0;
        return 1;
      }
    } else {
      /* Only the properties a broker forwards on PUBLISH are expected here. */
      switch (id) {
      case 0x01:
        off += 1;
        break; /* payload format */
      case 0x02:
        off += 4;
        break; /* expiry */
      case 0x23:
        off += 2;
        break;     /* topic alias */
      case 0x0B: { /* subscription id */
        size_t used;
        uint32_t v;
        if (read_varint(props + off, len - off, &used, &v)) return 0;
        off += used;
        break;
      }
      case 0x03:
      case 0x08:
      case 0x09: { /* content type, response topic, correlation */
        if (off + 2 > len) return 0;
        off += 2 + ((size_t)props[off] << 8 | props[off + 1]);
        break;
      }
      default:
        return 0;
      }
    }
  }
  return 0;
}

static int read_packet_blocking(int fd, bm_reader *r, uint8_t *first, const uint8_t **body,
                                size_t *len) {
  for (;;) {
    int rc = bm_reader_next(r, first, body, len);
    if (rc) return rc;
    ssize_t n = bm_reader_fill(r, fd);
    if (n == 0) return -1;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return -1;
  }
}

int bm_handshake(int fd, const char *client_id) {
  bc_buf b = {0};
  bm_encode_connect(&b, client_id, 60);
  int rc = bc_write_all(fd, b.p, b.len);
  bc_buf_free(&b);
  if (rc) return -1;
  bm_reader r = {0};
  uint8_t first;
  const uint8_t *body;
  size_t len;
  int result = -1;
  if (read_packet_blocking(fd, &r, &first, &body, &len) == 1 && first >> 4 == BM_CONNACK &&
      len >= 3 && body[1] == 0) {
    result = 65535;
    size_t used;
    uint32_t pl;
    if (!read_varint(body + 2, len - 2, &used, &pl)) {
      const uint8_t *p = body + 2 + used, *end = p + pl;
      while (p < end) {
        uint8_t id = *p++;
        if (id == 0x21 && p + 2 <= end) {
          result = p[0] << 8 | p[1];
          p += 2;
        } else if (id == 0x24 || id == 0x25 || id == 0x28 || id == 0x29 || id == 0x2A) {
          p += 1;
        } else if (id == 0x22 || id == 0x13) {
          p += 2;
        } else if (id == 0x27 || id == 0x11) {
          p += 4;
        } else if (id == 0x12 || id == 0x1A || id == 0x1C || id == 0x1F || id == 0x15 ||
                   id == 0x16) {
          p += 2 + (p[0] << 8 | p[1]);
        } else if (id == 0x26) {
          p += 2 + (p[0] << 8 | p[1]);
          p += 2 + (p[0] << 8 | p[1]);
        } else {
          break;
        }
      }
    }
  }
  bc_buf_free(&r.in);
  return result;
}

int bm_subscribe_sync(int fd, bm_reader *r, const char *filter, int qos) {
  bc_buf b = {0};
  bm_encode_subscribe(&b, 1, filter, qos);
  int rc = bc_write_all(fd, b.p, b.len);
  bc_buf_free(&b);
  if (rc) return -1;
  uint8_t first;
  const uint8_t *body;
  size_t len;
  for (;;) {
    if (read_packet_blocking(fd, r, &first, &body, &len) != 1) return -1;
    if (first >> 4 == BM_SUBACK) return len >= 4 && body[len - 1] <= 2 ? 0 : -1;
  }
}

/* ---- HTTP ---- */

void bh_init(bh_conn *c, const char *host, int port) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
  c->fd = -1;
}

void bh_close(bh_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  bc_buf_free(&c->in);
}

/* Reads more bytes into c->in; -1 on EOF or error. */
static int http_fill(bh_conn *c) {
  bc_buf_reserve(&c->in, 65536);
  ssize_t n;
  do n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  c->in.len += (size_t)n;
  c->in.p[c->in.len] = 0;
  return 0;
}

static char *find_header(char *head, const char *name) {
  size_t nl = strlen(name);
  for (char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') return p + 3 + nl;
  }
  return NULL;
}

static int http_once(bh_conn *c, const char *method, const char *path, const char *ctype,
                     const void *data, size_t len, bc_buf *body) {
  if (c->fd < 0) {
    c->fd = bc_tcp_connect(c->host, c->port);
    if (c->fd < 0) return -2;
    c->in.len = 0;
  }
  char head[8192];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n%s%s%s"
                    "Connection: keep-alive\r\n\r\n",
                    method, path, c->host, c->port, len, ctype ? "Content-Type: " : "",
                    ctype ? ctype : "", ctype ? "\r\n" : "");
  if (hn < 0 || (size_t)hn >= sizeof head) return -1;
  if (bc_write_all(c->fd, head, (size_t)hn) || (len && bc_write_all(c->fd, data, len))) return -2;
  c->in.len = 0;
  char *end;
  for (;;) {
    if (c->in.len && (end = strstr((char *)c->in.p, "\r\n\r\n"))) break;
    if (http_fill(c)) return -2;
  }
  size_t hlen = (size_t)(end - (char *)c->in.p) + 4;
  end[2] = 0; /* terminate the head after its last header line's CRLF */
  int status = 0;
  if (sscanf((char *)c->in.p, "HTTP/1.%*d %d", &status) != 1) return -1;
  char *cl = find_header((char *)c->in.p, "Content-Length");
  char *te = find_header((char *)c->in.p, "Transfer-Encoding");
  bool chunked = te && strstr(te, "chunked") && strstr(te, "chunked") < strstr(te, "\r\n");
  bool close_after = false;
  char *conn = find_header((char *)c->in.p, "Connection");
  if (conn && !strncasecmp(conn + strspn(conn, " "), "close", 5)) close_after = true;
  body->len = 0;
  if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
    /* No body, whatever the headers say (RFC 9110 section 6.4.1). */
  } else if (chunked) {
    size_t pos = hlen;
    for (;;) {
      char *crlf;
      while (!(crlf = strstr((char *)c->in.p + pos, "\r\n")))
        if (http_fill(c)) return -2;
      size_t n = strtoul((char *)c->in.p + pos, NULL, 16);
      size_t data_at = (size_t)(crlf - (char *)c->in.p) + 2;
      while (c->in.len < data_at + n + 2)
        if (http_fill(c)) return -2;
      bc_buf_put(body, c->in.p + data_at, n);
      pos = data_at + n + 2;
      if (n == 0) break;
    }
  } else if (cl) {
    size_t n = strtoul(cl, NULL, 10);
    while (c->in.len < hlen + n)
      if (http_fill(c)) return -2;
    bc_buf_put(body, c->in.p + hlen, n);
  } else {
    /* Neither: the body runs until the connection closes. */
    while (http_fill(c) == 0) {
    }
    bc_buf_put(body, c->in.p + hlen, c->in.len - hlen);
    close_after = true;
  }
  bc_buf_reserve(body, 1);
  body->p[body->len] = 0;
  if (close_after) {
    close(c->fd);
    c->fd = -1;
  }
  return status;
}

int bh_request(bh_conn *c, const char *method, const char *path, const char *content_type,
               const void *data, size_t len, bc_buf *body) {
  int rc = http_once(c, method, path, content_type, data, len, body);
  if (rc == -2) {
    /* The server closed the kept-alive connection: once more on a new one. */
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    rc = http_once(c, method, path, content_type, data, len, body);
  }
  if (rc < 0) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    return -1;
  }
  return rc;
}

void bh_urlencode(bc_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      bc_buf_put(b, &ch, 1);
    } else {
      char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      bc_buf_put(b, e, 3);
    }
  }
}

int bc_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bc_percentile(double *sorted, size_t n, double p) {
  if (!n) return 0;
  size_t k = (size_t)(p * (double)n + 0.999999);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return sorted[k - 1];
}
