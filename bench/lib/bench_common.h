/*
 * Small helpers shared by the field benchmarks (loadgen, sub_c, fieldbench):
 * growable byte buffers, clocks, /proc CPU accounting, a blocking raw MQTT v5
 * wire codec and a keep-alive HTTP/1.1 client. Loopback only; no TLS.
 * Everything here is single-threaded per object: share nothing across
 * threads without a lock.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- buffers ---- */

typedef struct bc_buf {
  unsigned char *p;
  size_t len, cap;
} bc_buf;

void bc_buf_reserve(bc_buf *b, size_t extra); /* exits on out of memory (tools only) */
void bc_buf_put(bc_buf *b, const void *data, size_t n);
void bc_buf_puts(bc_buf *b, const char *s);
void bc_buf_printf(bc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bc_buf_free(bc_buf *b);

/* ---- clocks and CPU ---- */

int64_t bc_now_ns(void);  /* CLOCK_MONOTONIC */
int64_t bc_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch */
/* utime + stime of a process (all its threads, dead ones too) in seconds, from
 * /proc/<pid>/stat; -1 when it cannot be read. */
double bc_proc_cpu_s(pid_t pid);
/* The same for one thread (the process's main thread: tid == pid). */
double bc_thread_cpu_s(pid_t pid, pid_t tid);
double bc_self_cpu_s(void); /* getrusage(RUSAGE_SELF) */
/* Resident set size of a process in KiB (VmRSS of /proc/<pid>/status); -1
 * when it cannot be read. */
long bc_proc_rss_kb(pid_t pid);

/* The CPU's model name from /proc/cpuinfo ("unknown" when absent). */
void bc_cpu_model(char *out, size_t cap);
/* Removes a directory tree (best effort; benchmark scratch only). */
void bc_rmtree(const char *path);

/* ---- TCP ---- */

/* Connects to 127.0.0.1:port (TCP_NODELAY), -1 on failure. */
int bc_tcp_connect(const char *host, int port);
int bc_write_all(int fd, const void *p, size_t n); /* blocking fd; 0 or -1 */

/* ---- MQTT v5 wire format (OASIS MQTT 5.0, section 2 and 3) ---- */

enum {
  BM_CONNECT = 1,
  BM_CONNACK = 2,
  BM_PUBLISH = 3,
  BM_PUBACK = 4,
  BM_SUBSCRIBE = 8,
  BM_SUBACK = 9,
  BM_PINGREQ = 12,
  BM_PINGRESP = 13,
  BM_DISCONNECT = 14
};

void bm_encode_connect(bc_buf *b, const char *client_id, uint16_t keepalive_s);
/* One PUBLISH. uprop_key/uprop_val: one optional user property (NULL: none). */
void bm_encode_publish(bc_buf *b, const char *topic, size_t topic_len, int qos, uint16_t pid,
                       const char *uprop_key, const char *uprop_val, const void *payload,
                       size_t payload_len);
void bm_encode_subscribe(bc_buf *b, uint16_t pid, const char *filter, int qos);
void bm_encode_puback(bc_buf *b, uint16_t pid, uint8_t reason);
void bm_encode_connack(bc_buf *b, uint16_t receive_max);

/* An incremental reader of packets from a socket. */
typedef struct bm_reader {
  bc_buf in;
  size_t off;
} bm_reader;

/* Reads what is available (fd may be non-blocking). Returns bytes read, 0 on
 * EOF, -1 on EAGAIN or error (errno tells). */
ssize_t bm_reader_fill(bm_reader *r, int fd);
/* Next complete packet: 1 with its first byte and body, 0 if incomplete,
 * -1 if malformed. The body stays valid until the next fill. */
int bm_reader_next(bm_reader *r, uint8_t *first, const uint8_t **body, size_t *len);

typedef struct bm_publish {
  const char *topic;
  size_t topic_len;
  int qos;
  uint16_t pid;
  const uint8_t *props;
  size_t props_len;
  const uint8_t *payload;
  size_t payload_len;
} bm_publish;

int bm_parse_publish(uint8_t first, const uint8_t *body, size_t len, bm_publish *out);
/* Finds user property `key` in a property block; copies its value (NUL
 * terminated) into val. Returns 1 if found. */
int bm_find_user_property(const uint8_t *props, size_t len, const char *key, char *val,
                          size_t vlen);

/* Blocking: CONNECT + CONNACK. Returns the broker's Receive Maximum (65535
 * when absent) or -1 on failure. */
int bm_handshake(int fd, const char *client_id);
/* Blocking: SUBSCRIBE + SUBACK; 0 when granted. */
int bm_subscribe_sync(int fd, bm_reader *r, const char *filter, int qos);

/* ---- HTTP/1.1 client, keep-alive, Content-Length or chunked answers ---- */

typedef struct bh_conn {
  char host[64];
  int port;
  int fd;
  bc_buf in;
} bh_conn;

void bh_init(bh_conn *c, const char *host, int port);
void bh_close(bh_conn *c);
/* Sends one request and reads the whole answer into body (reset first).
 * Reconnects once if the kept-alive connection was closed. Returns the HTTP
 * status, or -1 on a transport error. */
int bh_request(bh_conn *c, const char *method, const char *path, const char *content_type,
               const void *data, size_t len, bc_buf *body);

/* Percent-encodes s for a URL query (RFC 3986 unreserved kept). */
void bh_urlencode(bc_buf *b, const char *s);

/* ---- misc ---- */

int bc_cmp_double(const void *a, const void *b);
double bc_percentile(double *sorted, size_t n, double p); /* nearest rank */

#endif
