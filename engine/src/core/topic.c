#include "tsdb/topic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/error.h"

typedef enum { SEG_LITERAL, SEG_CAPTURE } seg_kind;

typedef struct segment {
  seg_kind kind;
  unsigned short capture; /* SEG_CAPTURE: index into names */
  const char *text;       /* SEG_LITERAL: points into the template's copy */
  size_t len;
} segment;

typedef enum { LEVEL_SEGMENTS, LEVEL_PLUS, LEVEL_HASH } level_kind;

typedef struct level {
  level_kind kind;
  size_t first_seg, nsegs;
} level;

struct tsdb_topic_template {
  char *text;
  char *literals; /* copy of the template, literal runs point into it */
  size_t nlevels;
  level *levels;
  size_t nsegs;
  segment *segs;
  size_t ncaptures;
  char *names[TSDB_TOPIC_MAX_CAPTURES];
  unsigned specificity;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return TSDB_EINVAL;
}

static bool name_char(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

void tsdb_topic_template_free(tsdb_topic_template *t) {
  if (!t) return;
  for (size_t i = 0; i < t->ncaptures; i++) free(t->names[i]);
  free(t->text);
  free(t->literals);
  free(t->levels);
  free(t->segs);
  free(t);
}

int tsdb_topic_template_compile(const char *text, tsdb_topic_template **out, char *err,
                                size_t errlen) {
  *out = NULL;
  if (!text || !*text) return fail(err, errlen, "%s", "topic template is empty");
  size_t tlen = strlen(text);
  tsdb_topic_template *t = calloc(1, sizeof *t);
  if (!t) return TSDB_ENOMEM;
  size_t max_levels = 1, max_segs = 0;
  for (size_t i = 0; i < tlen; i++) max_levels += text[i] == '/';
  max_segs = tlen + 1; /* at most one segment per character */
  t->text = strdup(text);
  t->literals = strdup(text);
  t->levels = calloc(max_levels, sizeof *t->levels);
  t->segs = calloc(max_segs, sizeof *t->segs);
  if (!t->text || !t->literals || !t->levels || !t->segs) {
    tsdb_topic_template_free(t);
    return TSDB_ENOMEM;
  }
  int rc = 0;
  size_t pos = 0;
  while (rc == 0) {
    size_t end = pos;
    while (end < tlen && text[end] != '/') end++;
    level *lv = &t->levels[t->nlevels++];
    const char *ltext = text + pos;
    size_t llen = end - pos;
    if (llen == 1 && ltext[0] == '+') {
      lv->kind = LEVEL_PLUS;
    } else if (llen == 1 && ltext[0] == '#') {
      if (end != tlen) {
        rc = fail(err, errlen, "'#' must be the last level of topic template '%s'", text);
        break;
      }
      lv->kind = LEVEL_HASH;
    } else {
      lv->kind = LEVEL_SEGMENTS;
      lv->first_seg = t->nsegs;
      size_t i = pos;
      while (i < end && rc == 0) {
        segment *sg = &t->segs[t->nsegs];
        if (text[i] == '{') {
          size_t close = i + 1;
          while (close < end && text[close] != '}') close++;
          if (close == end) {
            rc = fail(err, errlen, "unclosed '{' in topic template '%s'", text);
            break;
          }
          size_t nlen = close - i - 1;
          bool ok = nlen > 0;
          for (size_t k = 0; ok && k < nlen; k++) ok = name_char(text[i + 1 + k], k == 0);
          if (!ok) {
            rc = fail(err, errlen,
                      "bad capture name in topic template '%s' (use [A-Za-z_][A-Za-z0-9_]*)", text);
            break;
          }
          if (lv->nsegs > 0 && t->segs[t->nsegs - 1].kind == SEG_CAPTURE) {
            rc = fail(err, errlen,
                      "two captures without a literal between them in topic template '%s'", text);
            break;
          }
          for (size_t k = 0; k < t->ncaptures; k++) {
            if (strlen(t->names[k]) == nlen && !memcmp(t->names[k], text + i + 1, nlen)) {
              rc = fail(err, errlen, "capture name used twice in topic template '%s'", text);
              break;
            }
          }
          if (rc) break;
          if (t->ncaptures == TSDB_TOPIC_MAX_CAPTURES) {
            rc = fail(err, errlen, "too many captures in topic template '%s'", text);
            break;
          }
          t->names[t->ncaptures] = strndup(text + i + 1, nlen);
          if (!t->names[t->ncaptures]) {
            rc = TSDB_ENOMEM;
            break;
          }
          sg->kind = SEG_CAPTURE;
          sg->capture = (unsigned short)t->ncaptures++;
          i = close + 1;
        } else {
          size_t j = i;
          while (j < end && text[j] != '{') {
            if (text[j] == '}' || text[j] == '+' || text[j] == '#') {
              rc = fail(err, errlen, "'}', '+' or '#' inside a level of topic template '%s'", text);
              break;
            }
            j++;
          }
          if (rc) break;
          sg->kind = SEG_LITERAL;
          sg->text = t->literals + i;
          sg->len = j - i;
          t->specificity += (unsigned)(j - i);
          i = j;
        }
        t->nsegs++;
        lv->nsegs++;
      }
      if (lv->nsegs == 1 && t->segs[lv->first_seg].kind == SEG_LITERAL) t->specificity += 1u << 16;
    }
    if (end == tlen) break;
    pos = end + 1;
  }
  if (rc) {
    tsdb_topic_template_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

const char *tsdb_topic_template_text(const tsdb_topic_template *t) { return t->text; }
size_t tsdb_topic_template_ncaptures(const tsdb_topic_template *t) { return t->ncaptures; }
const char *tsdb_topic_template_capture_name(const tsdb_topic_template *t, size_t i) {
  return i < t->ncaptures ? t->names[i] : NULL;
}
unsigned tsdb_topic_template_specificity(const tsdb_topic_template *t) { return t->specificity; }

/* Matches one level's segments against s[0..len). Captures take the
 * shortest text up to the next literal (the last capture takes the rest). */
static bool match_level(const tsdb_topic_template *t, const level *lv, const char *s, size_t len,
                        size_t base, tsdb_topic_capture *caps) {
  size_t p = 0;
  for (size_t k = 0; k < lv->nsegs; k++) {
    const segment *sg = &t->segs[lv->first_seg + k];
    if (sg->kind == SEG_LITERAL) {
      if (len - p < sg->len || memcmp(s + p, sg->text, sg->len)) return false;
      p += sg->len;
      continue;
    }
    size_t stop;
    if (k + 1 == lv->nsegs) {
      stop = len;
    } else {
      const segment *next = &t->segs[lv->first_seg + k + 1]; /* a literal */
      stop = p + 1;                                          /* captures are non-empty */
      while (stop + next->len <= len && memcmp(s + stop, next->text, next->len)) stop++;
      if (stop + next->len > len) return false;
    }
    if (stop <= p) return false;
    if (caps) {
      caps[sg->capture].offset = base + p;
      caps[sg->capture].len = stop - p;
    }
    p = stop;
  }
  return p == len;
}

bool tsdb_topic_template_match(const tsdb_topic_template *t, const char *topic, size_t len,
                               tsdb_topic_capture *caps) {
  size_t pos = 0;
  for (size_t li = 0; li < t->nlevels; li++) {
    const level *lv = &t->levels[li];
    if (lv->kind == LEVEL_HASH) return true;
    if (pos > len) return false; /* the topic has fewer levels */
    size_t end = pos;
    while (end < len && topic[end] != '/') end++;
    if (lv->kind == LEVEL_SEGMENTS && !match_level(t, lv, topic + pos, end - pos, pos, caps))
      return false;
    pos = end + 1;
  }
  return pos == len + 1; /* every topic level consumed */
}

bool tsdb_topic_filter_match(const char *filter, const char *topic) {
  /* MQTT 5.0 section 4.7.2: wildcards at the first level never match a
   * topic beginning with '$'. */
  if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) return false;
  const char *f = filter, *t = topic;
  for (;;) {
    if (f[0] == '#' && f[1] == '\0') return true;
    if (f[0] == '+' && (f[1] == '/' || f[1] == '\0')) {
      while (*t && *t != '/') t++;
      f++;
    } else {
      while (*f && *f != '/' && *f == *t) {
        f++;
        t++;
      }
      if ((*f && *f != '/') || (*t && *t != '/')) return false;
    }
    if (!*f && !*t) return true;
    if (!*f || !*t) {
      /* "a/#" also matches "a" (section 4.7.1.2). */
      return *t == '\0' && f[0] == '/' && f[1] == '#' && f[2] == '\0';
    }
    f++;
    t++;
  }
}

bool tsdb_topic_name_valid(const char *topic, size_t len) {
  if (len == 0 || len > TSDB_TOPIC_MAX_LEN) return false;
  for (size_t i = 0; i < len; i++)
    if (topic[i] == '+' || topic[i] == '#' || topic[i] == '\0') return false;
  return true;
}

bool tsdb_topic_filter_valid(const char *filter) {
  size_t len = strlen(filter);
  if (len == 0 || len > TSDB_TOPIC_MAX_LEN) return false;
  for (size_t i = 0; i < len; i++) {
    bool level_start = i == 0 || filter[i - 1] == '/';
    bool level_end = i + 1 == len || filter[i + 1] == '/';
    if (filter[i] == '+' && !(level_start && level_end)) return false;
    if (filter[i] == '#' && !(level_start && i + 1 == len)) return false;
  }
  return true;
}
