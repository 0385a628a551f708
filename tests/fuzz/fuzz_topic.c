/*
 * libFuzzer target: topic templates and filters (engine/include/tsdb/topic.h).
 * A template comes from a schema file, a topic from any publisher. The input
 * is a template, a NUL byte, a topic, a NUL byte, and bytes that fill the
 * template's captures. Whatever the bytes:
 *   - compiling refuses with TSDB_EINVAL and a reason, or gives a template
 *     with its text, at most TSDB_TOPIC_MAX_CAPTURES captures with distinct
 *     valid names;
 *   - a match is explained by its captures: each is a non-empty span of one
 *     topic level, and the template's literals with the captured texts (and
 *     the topic's own levels for '+' and '#') rebuild the topic;
 *   - a topic built from the template with capture texts that cannot end
 *     early (see build_topic) matches and gives back exactly those texts;
 *   - a valid filter without braces, compiled as a template, matches the
 *     same topics as tsdb_topic_filter_match(): two implementations of one
 *     rule (apart from MQTT's rule for topics starting with '$', checked on
 *     its own).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/error.h"
#include "tsdb/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                \
  do {                                           \
    fprintf(stderr, "fuzz_topic: " __VA_ARGS__); \
    fprintf(stderr, "\n");                       \
    abort();                                     \
  } while (0)

/* One level of a template or a topic, as the fuzzer splits it
 * independently of topic.c. */
typedef struct tlevel {
  const char *text;
  size_t len;
} tlevel;

static size_t levels_of(const char *s, size_t len, tlevel *out, size_t max) {
  size_t n = 0, pos = 0;
  for (;;) {
    size_t end = pos;
    while (end < len && s[end] != '/') end++;
    if (n == max) return n;
    out[n++] = (tlevel){s + pos, end - pos};
    if (end == len) return n;
    pos = end + 1;
  }
}

static void check_compiled(const tsdb_topic_template *t, const char *text) {
  if (strcmp(tsdb_topic_template_text(t), text)) FAIL("the template's text changed");
  size_t nc = tsdb_topic_template_ncaptures(t);
  if (nc > TSDB_TOPIC_MAX_CAPTURES) FAIL("%zu captures", nc);
  for (size_t i = 0; i < nc; i++) {
    const char *name = tsdb_topic_template_capture_name(t, i);
    if (!name || !name[0]) FAIL("capture %zu has no name", i);
    for (const char *p = name; *p; p++) {
      bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
                (p > name && *p >= '0' && *p <= '9');
      if (!ok) FAIL("capture name '%s'", name);
    }
    for (size_t k = 0; k < i; k++)
      if (!strcmp(name, tsdb_topic_template_capture_name(t, k))) FAIL("name '%s' twice", name);
    char needle[300];
    snprintf(needle, sizeof needle, "{%s}", name);
    if (!strstr(text, needle)) FAIL("capture '%s' is not in the template", name);
  }
  if (tsdb_topic_template_capture_name(t, nc)) FAIL("a name past the captures");
}

/* A match must be explained by its captures, numbered in template order. */
static void check_explained(const char *text, const char *topic, size_t tlen,
                            const tsdb_topic_capture *caps, size_t nc) {
  enum { MAXL = 4096 };
  static tlevel tl[MAXL], ol[MAXL];
  size_t ntl = levels_of(text, strlen(text), tl, MAXL);
  size_t nol = levels_of(topic, tlen, ol, MAXL);
  if (ntl == MAXL || nol == MAXL) return;
  for (size_t i = 0; i < nc; i++) {
    if (caps[i].len == 0 || caps[i].offset > tlen || caps[i].len > tlen - caps[i].offset)
      FAIL("capture %zu spans [%zu, +%zu) of %zu bytes", i, caps[i].offset, caps[i].len, tlen);
    if (memchr(topic + caps[i].offset, '/', caps[i].len)) FAIL("capture %zu holds a '/'", i);
  }
  size_t ci = 0;
  for (size_t l = 0; l < ntl; l++) {
    if (tl[l].len == 1 && tl[l].text[0] == '#') return; /* the rest, whatever it is */
    if (l >= nol) FAIL("matched with fewer topic levels than the template has");
    if (tl[l].len == 1 && tl[l].text[0] == '+') continue;
    /* Rebuild the level from its literals and the captured texts. */
    const char *s = tl[l].text, *end = s + tl[l].len;
    size_t at = 0;
    while (s < end) {
      if (*s == '{') {
        const char *close = memchr(s, '}', (size_t)(end - s));
        if (!close || ci >= nc) FAIL("a capture the fuzzer cannot find");
        if (caps[ci].offset != (size_t)(ol[l].text - topic) + at)
          FAIL("capture %zu is not where the level's literals put it", ci);
        at += caps[ci].len;
        ci++;
        s = close + 1;
      } else {
        const char *open = memchr(s, '{', (size_t)(end - s));
        size_t n = (size_t)((open ? open : end) - s);
        if (at + n > ol[l].len || memcmp(ol[l].text + at, s, n))
          FAIL("level %zu: literal '%.*s' is not at %zu of '%.*s'", l, (int)n, s, at,
               (int)ol[l].len, ol[l].text);
        at += n;
        s += n;
      }
    }
    if (at != ol[l].len)
      FAIL("level %zu: '%.*s' is longer than the template explains", l, (int)ol[l].len, ol[l].text);
  }
  if (nol != ntl) FAIL("matched %zu topic levels with %zu template levels", nol, ntl);
  if (ci != nc) FAIL("%zu of %zu captures explained", ci, nc);
}

/* A topic made from the template: each capture and each '+' level takes the
 * next fill text (up to a NUL, '/', '+' or '#'; "x" when that is empty);
 * '#' takes nothing. A capture that a literal follows takes the shortest
 * text before it, so its text leaves out the literal's first character,
 * which could end it early. Returns false when no topic could be made. */
static bool build_topic(const char *text, const uint8_t *fill, size_t nfill, char *out, size_t cap,
                        size_t *len, tsdb_topic_capture *want, size_t *nwant) {
  size_t o = 0, f = 0, nc = 0;
  const char *s = text;
  while (*s) {
    if (*s == '{' || (*s == '+' && (s == text || s[-1] == '/'))) {
      bool capture = *s == '{';
      const char *after = capture ? strchr(s, '}') + 1 : s + 1;
      char stop = capture && *after != '/' ? *after : '\0';
      size_t start = o;
      for (; f < nfill && fill[f] && !strchr("/+#", fill[f]); f++)
        if ((char)fill[f] != stop && o + 1 < cap) out[o++] = (char)fill[f];
      if (f < nfill) f++; /* the separator */
      if (o == start && stop != 'x' && o + 1 < cap) out[o++] = 'x';
      if (o == start) return false;
      if (capture) want[nc++] = (tsdb_topic_capture){start, o - start};
      s = after;
    } else if (*s == '#' && (s == text || s[-1] == '/') && s[1] == '\0') {
      if (o > 0 && out[o - 1] == '/') o--; /* "a/#" matches "a" */
      s++;
    } else {
      if (o + 1 >= cap) return false;
      out[o++] = *s++;
    }
  }
  out[o] = '\0';
  *len = o;
  *nwant = nc;
  return o > 0;
}

static void check_template(const char *text, const char *topic, size_t tlen, const uint8_t *fill,
                           size_t nfill) {
  tsdb_topic_template *t = NULL;
  char err[256] = "";
  int rc = tsdb_topic_template_compile(text, &t, err, sizeof err);
  if (rc != 0) {
    if (rc != TSDB_EINVAL || t || !err[0]) FAIL("compile: %s, reason '%s'", tsdb_err_name(rc), err);
    return;
  }
  check_compiled(t, text);
  size_t nc = tsdb_topic_template_ncaptures(t);
  tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
  bool matched = tsdb_topic_template_match(t, topic, tlen, caps);
  if (matched) check_explained(text, topic, tlen, caps, nc);
  if (tsdb_topic_template_match(t, topic, tlen, NULL) != matched)
    FAIL("a match depends on whether captures are asked for");
  char built[1024];
  size_t blen;
  tsdb_topic_capture want[TSDB_TOPIC_MAX_CAPTURES];
  size_t nwant;
  if (build_topic(text, fill, nfill, built, sizeof built, &blen, want, &nwant)) {
    if (!tsdb_topic_template_match(t, built, blen, caps))
      FAIL("'%s' does not match '%s', which was built from it", built, text);
    if (nwant != nc) FAIL("built %zu captures of %zu", nwant, nc);
    for (size_t i = 0; i < nc; i++)
      if (caps[i].offset != want[i].offset || caps[i].len != want[i].len)
        FAIL("'%s' against '%s': capture %zu is '%.*s', want '%.*s'", built, text, i,
             (int)caps[i].len, built + caps[i].offset, (int)want[i].len, built + want[i].offset);
  }
  tsdb_topic_template_free(t);
}

/* The filter matcher against the template matcher. */
static void check_filter(const char *filter, const char *name) {
  if (!tsdb_topic_filter_valid(filter)) return;
  bool by_filter = tsdb_topic_filter_match(filter, name);
  if (name[0] == '$') {
    if ((filter[0] == '+' || filter[0] == '#') && by_filter)
      FAIL("'%s' matches '%s', which starts with '$'", filter, name);
    return;
  }
  if (strpbrk(filter, "{}") || !tsdb_topic_name_valid(name, strlen(name))) return;
  tsdb_topic_template *t = NULL;
  char err[256];
  if (tsdb_topic_template_compile(filter, &t, err, sizeof err) != 0)
    FAIL("the valid filter '%s' is not a valid template: %s", filter, err);
  bool by_template = tsdb_topic_template_match(t, name, strlen(name), NULL);
  if (by_filter != by_template)
    FAIL("'%s' against '%s': the filter matcher says %d, the template matcher %d", name, filter,
         by_filter, by_template);
  tsdb_topic_template_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul1 = memchr(data, 0, size);
  size_t l1 = nul1 ? (size_t)(nul1 - data) : size;
  const uint8_t *rest = nul1 ? nul1 + 1 : data + size;
  size_t rsize = nul1 ? size - l1 - 1 : 0;
  const uint8_t *nul2 = memchr(rest, 0, rsize);
  size_t l2 = nul2 ? (size_t)(nul2 - rest) : rsize;
  const uint8_t *fill = nul2 ? nul2 + 1 : rest + rsize;
  size_t nfill = nul2 ? rsize - l2 - 1 : 0;
  /* The topic in exactly its bytes (matching takes a length), so that ASan
   * sees a read past it; the C strings for the functions that take them. */
  char *text = malloc(l1 + 1), *topic = malloc(l2 ? l2 : 1), *name = malloc(l2 + 1);
  if (!text || !topic || !name) abort();
  memcpy(text, data, l1);
  text[l1] = '\0';
  memcpy(topic, rest, l2);
  memcpy(name, rest, l2);
  name[l2] = '\0';
  check_template(text, topic, l2, fill, nfill);
  check_filter(text, name);
  free(text);
  free(topic);
  free(name);
  return 0;
}
