/*
 * JSON Schema 2020-12 validator for the subset listed in jsonschema.h.
 *
 * Compilation turns the schema document into a graph of nodes, one per
 * (sub)schema, each holding an array of checks in the order their keywords
 * appear in the schema. Everything is allocated then (an arena of blocks freed
 * together), including a private copy of the schema document that const/enum
 * values and property names point into. Validation walks the graph with the
 * instance, never allocates (see the note on "pattern" in jsonschema.h) and
 * keeps its state on the stack, so one compiled schema serves any number of
 * threads.
 *
 * Error reporting: the keywords of a schema are checked in the order they are
 * written; "properties" and "additionalProperties" are checked together in one
 * pass over the instance's members (in the instance's order) at the place of
 * the first of them, and "prefixItems"/"items" likewise over the elements. The
 * first failure met in that order is reported. Speculative evaluation
 * (anyOf/oneOf/not branches) runs "quiet" (no error record) and only a
 * failing anyOf/oneOf builds its own message, so a valid message never
 * formats anything.
 */
#include "ingest/jsonschema.h"
#include "jsonschema_internal.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef REG_STARTEND
#error "regexec() with REG_STARTEND is required (glibc, musl >= 1.2.4, BSDs)"
#endif

enum {
  /* A value nested deeper than this (in pointer tokens) is refused when the
   * schema descends that far: bounds recursion for recursive schemas. */
  MAX_INSTANCE_DEPTH = 64,
  /* Bound on schema nodes active at once during one validation. Cycles that
   * do not consume the instance are refused at compile time, so only huge
   * schemas can reach it; it keeps the stack bounded regardless. */
  MAX_EVAL_DEPTH = 512,
  /* Schema nesting accepted at compile time. */
  MAX_SCHEMA_DEPTH = 200,
  /* Names (properties + required) tracked in the per-object "seen" bitset;
   * required names beyond it are looked up with member(). */
  SEEN_WORDS = 4,
  SEEN_BITS = SEEN_WORDS * 64,
  /* Longest rendering kept for const/enum "expected" texts. */
  LIT_TEXT_MAX = 160
};

/* What compiling a "pattern" may cost (see the estimate before
 * ecma_to_ere): the source length, the counts of {n,m}, group nesting
 * (regcomp's parser recurses on it), and the memory regcomp may allocate,
 * per pattern and for all the patterns of a schema. A schema is loaded on
 * the broker at start and on SIGHUP, next to the set in force. */
#define PATTERN_MAX_LEN 4096
#define PATTERN_MAX_REPEAT 255
#define PATTERN_MAX_GROUPS 32
#define PATTERN_MAX_BYTES (8 << 20)
#define SCHEMA_PATTERN_MAX_BYTES (32 << 20)
#define STR_(x) #x
#define STR(x) STR_(x)

#define SCHEMA_2020_12 "https://json-schema.org/draft/2020-12/schema"

/* ------------------------------------------------------------------------ */
/* Bounded string building: every error field is filled through this, so a  */
/* long value is cut at a UTF-8 boundary and ends in "...".                 */

typedef struct sbuf {
  char *p;
  size_t cap;
  size_t len;
  bool over;
} sbuf;

static void sb_init(sbuf *b, char *p, size_t cap) {
  b->p = p;
  b->cap = cap;
  b->len = 0;
  b->over = false;
  p[0] = '\0';
}

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->over) return;
  size_t room = b->cap - 1 - b->len;
  if (n > room) {
    memcpy(b->p + b->len, s, room);
    b->len += room;
    b->over = true;
  } else {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  }
  b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_chr(sbuf *b, char c) { sb_put(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sb_put(b, tmp, strlen(tmp));
  if ((size_t)n >= sizeof tmp) b->over = true;
}

/* Ends a truncated buffer in "...", never splitting a UTF-8 sequence. */
static void sb_finish(sbuf *b) {
  if (!b->over || b->cap < 4) return;
  size_t cut = b->cap - 4;
  while (cut > 0 && ((unsigned char)b->p[cut] & 0xC0) == 0x80) cut--;
  memcpy(b->p + cut, "...", 4);
  b->len = cut + 3;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4 table), 0 if
 * invalid: no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (s[2] & 0xC0) != 0x80) return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return s[1] >= lo && s[1] <= hi ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return s[1] >= lo && s[1] <= hi ? 4 : 0;
  }
  return 0;
}

/* Number of code points, or false when s is not valid UTF-8. ASCII runs are
 * skipped eight bytes at a time. */
static bool utf8_count(const char *str, size_t n, size_t *out) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, count = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        count += 8;
        continue;
      }
    }
    size_t k = utf8_seq(s + i, n - i);
    if (k == 0) return false;
    i += k;
    count++;
  }
  *out = count;
  return true;
}

/* Appends bytes that may be invalid UTF-8: invalid bytes become U+FFFD, so
 * every error field is valid UTF-8 whatever the payload held. When json is
 * true, quotes, backslashes and control characters are escaped as in JSON. */
static void sb_text(sbuf *b, const char *str, size_t n, bool json) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n && !b->over) {
    size_t run = i;
    /* copy plain runs in one go */
    while (run < n && s[run] >= 0x20 && s[run] < 0x80 &&
           (!json || (s[run] != '"' && s[run] != '\\')))
      run++;
    if (run > i) {
      sb_put(b, str + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t k = utf8_seq(s + i, n - i);
      if (k == 0) {
        sb_str(b, "\xEF\xBF\xBD");
        i++;
      } else {
        sb_put(b, str + i, k);
        i += k;
      }
    } else if (json && (c == '"' || c == '\\')) {
      sb_chr(b, '\\');
      sb_chr(b, (char)c);
      i++;
    } else if (json) {
      if (c == '\n')
        sb_str(b, "\\n");
      else if (c == '\t')
        sb_str(b, "\\t");
      else if (c == '\r')
        sb_str(b, "\\r");
      else
        sb_printf(b, "\\u%04x", c);
      i++;
    } else {
      sb_chr(b, (char)c); /* control bytes outside JSON text: kept as is */
      i++;
    }
  }
}

/* The shortest fixed-notation text of a non-integral d with at most 9
 * fractional digits, as "%.*g" would print it, without printf: the refused
 * path renders the offending number, and printf's float conversion plus
 * strtod cost more than validating a whole message. k is the smallest count
 * of fractional digits whose decimal reads back as d: r / 10^k with r below
 * 2^53 and 10^k exact is the correctly rounded quotient, so it is the double
 * strtod would give for the text. Returns false when %g would choose an
 * exponent (|d| < 1e-4) or d needs more digits; the slow path decides then. */
static bool format_fixed(char *buf, size_t cap, double d) {
  static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  double a = fabs(d);
  if (!(a >= 1e-4 && a < 1e6) || cap < 32) return false;
  for (int k = 1; k <= 9; k++) {
    double scaled = a * pow10[k];
    if (scaled >= 9007199254740992.0) return false;
    double r = nearbyint(scaled);
    if (r / pow10[k] != a) continue;
    uint64_t digits = (uint64_t)r;
    char tmp[32]; /* reversed: fraction, point, integer part ("0.25") */
    int n = 0;
    for (int i = 0; i < k; i++, digits /= 10) tmp[n++] = (char)('0' + digits % 10);
    tmp[n++] = '.';
    do {
      tmp[n++] = (char)('0' + digits % 10);
      digits /= 10;
    } while (digits);
    size_t o = 0;
    if (d < 0) buf[o++] = '-';
    while (n > 0) buf[o++] = tmp[--n];
    buf[o] = '\0';
    return true;
  }
  return false;
}

/* Shortest "%.*g" text that reads back as the same double (at most 17
 * digits). Both directions use the C library in the current locale, so they
 * agree with each other; a locale decimal comma is then turned into '.'. */
static void format_double(char *buf, size_t cap, double d) {
  if (isnan(d)) {
    snprintf(buf, cap, "NaN");
    return;
  }
  if (isinf(d)) {
    snprintf(buf, cap, d < 0 ? "-Infinity" : "Infinity");
    return;
  }
  if (d != floor(d) && format_fixed(buf, cap, d)) return;
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
  for (char *p = buf; *p; p++)
    if (*p == ',') *p = '.';
}

static void sb_number(sbuf *b, ingest_value v) {
  char tmp[40];
  int64_t i;
  if (v.ops->int64(v.node, &i))
    snprintf(tmp, sizeof tmp, "%" PRId64, i);
  else
    format_double(tmp, sizeof tmp, v.ops->number(v.node));
  sb_str(b, tmp);
}

/* Compact JSON rendering of a value, stopping once the buffer is full. */
static void sb_value(sbuf *b, ingest_value v, unsigned depth) {
  if (b->over) return;
  if (!ingest_value_present(v)) {
    sb_str(b, "absent");
    return;
  }
  const char *key, *s;
  size_t klen, len;
  const void *child;
  ingest_iter it = {0};
  bool first = true;
  switch (v.ops->type(v.node)) {
  case INGEST_T_NULL:
    sb_str(b, "null");
    break;
  case INGEST_T_BOOL:
    sb_str(b, v.ops->boolean(v.node) ? "true" : "false");
    break;
  case INGEST_T_NUMBER:
    sb_number(b, v);
    break;
  case INGEST_T_STRING:
    s = v.ops->string(v.node, &len);
    sb_chr(b, '"');
    sb_text(b, s, len, true);
    sb_chr(b, '"');
    break;
  case INGEST_T_ARRAY:
  case INGEST_T_OBJECT: {
    bool obj = v.ops->type(v.node) == INGEST_T_OBJECT;
    sb_chr(b, obj ? '{' : '[');
    if (depth >= 32) {
      sb_str(b, "...");
      b->over = true;
      return;
    }
    while (!b->over && v.ops->next(v.node, &it, &key, &klen, &child)) {
      if (!first) sb_chr(b, ',');
      first = false;
      if (obj) {
        sb_chr(b, '"');
        if (key)
          sb_text(b, key, klen, true);
        else
          sb_str(b, "(non-string key)");
        sb_str(b, "\":");
      }
      ingest_value c = {v.ops, child};
      sb_value(b, c, depth + 1);
    }
    sb_chr(b, obj ? '}' : ']');
    break;
  }
  case INGEST_T_BINARY:
    sb_str(b, "<binary>");
    break;
  default:
    sb_str(b, "absent");
    break;
  }
}

/* RFC 6901 escaping of one reference token. */
static void sb_token(sbuf *b, const char *key, size_t len) {
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    if (key[i] == '~' || key[i] == '/') {
      sb_text(b, key + start, i - start, false);
      sb_str(b, key[i] == '~' ? "~0" : "~1");
      start = i + 1;
    }
  }
  sb_text(b, key + start, len - start, false);
}

/* ------------------------------------------------------------------------ */
/* Compiled form                                                            */

typedef struct node node;

typedef enum kind {
  K_TYPE,
  K_CONST,
  K_ENUM,
  K_MINIMUM,
  K_MAXIMUM,
  K_XMINIMUM,
  K_XMAXIMUM,
  K_MULTIPLEOF,
  K_MINLENGTH,
  K_MAXLENGTH,
  K_PATTERN,
  K_FORMAT,
  K_MINITEMS,
  K_MAXITEMS,
  K_REQUIRED,
  K_OBJECT, /* properties + additionalProperties, one pass */
  K_ARRAY,  /* prefixItems + items, one pass */
  K_REF,
  K_ALLOF,
  K_ANYOF,
  K_ONEOF,
  K_NOT
} kind;

/* Type bits: one per ingest_type, plus "integer". */
#define TB(t) (1u << (unsigned)(t))
#define TB_INTEGER (1u << 12)

/* A const/enum value, with scalars unpacked so that the common cases (a
 * string or a number) compare without a call through the schema's view. */
typedef struct lit {
  ingest_type t;
  bool b;
  bool exact; /* i holds the number exactly */
  int64_t i;
  double d;
  const char *s;
  size_t len;
  const cJSON *json; /* arrays and objects: compared through views */
} lit;

typedef struct check {
  kind kind;
  const char *keyword;
  const char *path; /* schema path of the keyword */
  union {
    struct {
      unsigned mask;
      const char *text; /* "number or null" */
    } type;
    struct {
      double d;
      int64_t i;
      bool exact; /* integral and within int64: compare as integers */
      const char *text;
    } num;
    size_t count;
    struct {
      regex_t *re;
      const char *src;
    } pat;
    struct {
      const lit *v;
      size_t n;
      const char *text; /* rendered value(s) */
    } lits;
    struct {
      node **v;
      size_t n;
    } subs;
    node *sub;
    struct {
      const uint32_t *idx; /* into node->names */
      size_t n;
    } req;
  } u;
} check;

typedef struct name {
  const char *key;
  size_t len;
  uint32_t hash;
  node *prop; /* NULL: a required name that "properties" does not list */
} name;

struct node {
  const char *path;
  check *checks;
  size_t nchecks;
  bool is_false; /* the boolean schema false */
  /* object pass */
  name *names;
  size_t nnames;
  uint32_t *slots; /* open addressing, name index + 1, 0 = empty */
  uint32_t mask;
  node *additional;
  /* array pass */
  node **prefix;
  size_t nprefix;
  node *items;
  /* Fast leaf summary, for nodes made only of type and numeric bounds (the
   * bulk of sensor schemas): checked inline by the object and array passes.
   * It may only answer "valid"; anything else goes through validate_at,
   * which stays the authority for verdicts and error reports. */
  bool fast;
  bool fast_bounds;
  unsigned fast_types;   /* ~0u: no type keyword */
  double ge, gt, le, lt; /* d >= ge && d > gt && d <= le && d < lt */
  /* compile-time bookkeeping */
  unsigned char color;
  node *all_next;
};

typedef union ahdr {
  union ahdr *next;
  max_align_t align;
} ahdr;

typedef struct rx {
  regex_t re;
  struct rx *next;
} rx;

struct ingest_jsonschema {
  node *root;
  cJSON *doc; /* private copy of the schema document */
  ahdr *allocs;
  rx *regexes;
};

/* FNV-1a, 32 bits: short keys, no seed needed (the table is built from the
 * schema, not from attacker-chosen keys; a collision only costs a probe). */
static uint32_t hash_key(const char *key, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 16777619u;
  }
  return h;
}

static const name *lookup(const node *n, const char *key, size_t len) {
  if (n->slots == NULL) return NULL;
  uint32_t h = hash_key(key, len);
  for (uint32_t i = h & n->mask;; i = (i + 1) & n->mask) {
    uint32_t s = n->slots[i];
    if (s == 0) return NULL;
    const name *nm = &n->names[s - 1];
    if (nm->hash == h && nm->len == len && memcmp(nm->key, key, len) == 0) return nm;
  }
}

/* ------------------------------------------------------------------------ */
/* Compilation                                                              */

typedef struct memo {
  const cJSON *json;
  node *n;
} memo;

typedef struct compiler {
  ingest_jsonschema *s;
  const cJSON *root;
  ingest_error *err;
  node *all;  /* every node, for the cycle check */
  memo *memo; /* subschema -> node, so "$ref"s share nodes and cycles end */
  size_t nmemo, capmemo;
  double pattern_bytes; /* what regcomp may take for the patterns so far */
} compiler;

static void *aalloc(compiler *c, size_t n) {
  ahdr *h = calloc(1, sizeof(ahdr) + n);
  if (h == NULL) return NULL;
  h->next = c->s->allocs;
  c->s->allocs = h;
  return h + 1;
}

__attribute__((format(printf, 5, 6))) static int cerror(compiler *c, int code, const char *path,
                                                        const char *keyword, const char *fmt, ...) {
  ingest_error *e = c->err;
  if (e == NULL) return code;
  ingest_error_clear(e);
  e->code = code;
  sbuf b;
  sb_init(&b, e->keyword, sizeof e->keyword);
  sb_str(&b, keyword);
  sb_finish(&b);
  sb_init(&b, e->schema_path, sizeof e->schema_path);
  sb_str(&b, path);
  sb_finish(&b);
  sb_init(&b, e->message, sizeof e->message);
  sb_str(&b, "schema ");
  sb_str(&b, path[0] ? path : "(root)");
  sb_str(&b, ": ");
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  sb_str(&b, tmp);
  sb_finish(&b);
  return code;
}

static int nomem(compiler *c, const char *path) {
  return cerror(c, INGEST_ENOMEM, path, "", "out of memory");
}

static char *astrndup(compiler *c, const char *s, size_t n) {
  char *p = aalloc(c, n + 1);
  if (p) memcpy(p, s, n);
  return p;
}

/* parent + "/" + escaped(seg) (+ "/" + escaped(seg2)) */
static const char *child_path(compiler *c, const char *parent, const char *seg, const char *seg2) {
  size_t cap = strlen(parent) + 2 * strlen(seg) + (seg2 ? 2 * strlen(seg2) : 0) + 3;
  char *p = aalloc(c, cap);
  if (p == NULL) return NULL;
  sbuf b;
  sb_init(&b, p, cap);
  sb_str(&b, parent);
  sb_chr(&b, '/');
  sb_token(&b, seg, strlen(seg));
  if (seg2) {
    sb_chr(&b, '/');
    sb_token(&b, seg2, strlen(seg2));
  }
  return p;
}

/* parent + "/" + i, for the members of prefixItems/allOf/anyOf/oneOf */
static const char *index_path(compiler *c, const char *parent, size_t i) {
  size_t cap = strlen(parent) + 24;
  char *p = aalloc(c, cap);
  if (p) snprintf(p, cap, "%s/%zu", parent, i);
  return p;
}

static size_t memo_slot(const compiler *c, const cJSON *j) {
  uintptr_t h = (uintptr_t)j;
  h ^= h >> 17;
  h *= 0x9E3779B1u;
  return (size_t)h & (c->capmemo - 1);
}

static node *memo_get(const compiler *c, const cJSON *j) {
  if (c->capmemo == 0) return NULL;
  for (size_t i = memo_slot(c, j);; i = (i + 1) & (c->capmemo - 1)) {
    if (c->memo[i].json == j) return c->memo[i].n;
    if (c->memo[i].json == NULL) return NULL;
  }
}

static bool memo_put(compiler *c, const cJSON *j, node *n) {
  if (2 * (c->nmemo + 1) > c->capmemo) {
    size_t cap = c->capmemo ? 2 * c->capmemo : 64;
    memo *old = c->memo;
    size_t oldcap = c->capmemo;
    c->memo = calloc(cap, sizeof *c->memo);
    if (c->memo == NULL) {
      c->memo = old;
      return false;
    }
    c->capmemo = cap;
    for (size_t i = 0; i < oldcap; i++) {
      if (old[i].json == NULL) continue;
      size_t k = memo_slot(c, old[i].json);
      while (c->memo[k].json) k = (k + 1) & (cap - 1);
      c->memo[k] = old[i];
    }
    free(old);
  }
  size_t k = memo_slot(c, j);
  while (c->memo[k].json) k = (k + 1) & (c->capmemo - 1);
  c->memo[k].json = j;
  c->memo[k].n = n;
  c->nmemo++;
  return true;
}

static const char *json_type_name(const cJSON *j) {
  switch (j->type & 0xFF) {
  case cJSON_NULL:
    return "null";
  case cJSON_False:
  case cJSON_True:
    return "boolean";
  case cJSON_Number:
    return "number";
  case cJSON_String:
    return "string";
  case cJSON_Array:
    return "array";
  case cJSON_Object:
    return "object";
  default:
    return "invalid";
  }
}

/* "number" keyword values: finite numbers only (cJSON reads 1e400 as inf). */
static int get_number(compiler *c, const cJSON *j, const char *path, const char *kw, double *out) {
  if (!cJSON_IsNumber(j))
    return cerror(c, INGEST_ESCHEMA, path, kw, "%s must be a number, not %s", kw,
                  json_type_name(j));
  if (!isfinite(j->valuedouble))
    return cerror(c, INGEST_ESCHEMA, path, kw, "%s is out of the range of a double", kw);
  *out = j->valuedouble;
  return 0;
}

/* Non-negative integers (2.0 counts, as "integer" does in the meta-schema). */
static int get_count(compiler *c, const cJSON *j, const char *path, const char *kw, size_t *out) {
  double d;
  int rc = get_number(c, j, path, kw, &d);
  if (rc) return rc;
  if (d < 0 || d != floor(d))
    return cerror(c, INGEST_ESCHEMA, path, kw, "%s must be a non-negative integer", kw);
  *out = d >= 18446744073709551615.0 ? SIZE_MAX : (size_t)d;
  return 0;
}

static bool exact_int(double d, int64_t *out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  int64_t i = (int64_t)d;
  if ((double)i != d) return false;
  *out = i;
  return true;
}

static const char *number_text(compiler *c, double d) {
  char tmp[40];
  int64_t i;
  if (exact_int(d, &i))
    snprintf(tmp, sizeof tmp, "%" PRId64, i);
  else
    format_double(tmp, sizeof tmp, d);
  return astrndup(c, tmp, strlen(tmp));
}

/* Compact rendering of a schema value, cut at LIT_TEXT_MAX. */
static const char *render_json(compiler *c, const char *prefix, const cJSON *j) {
  char tmp[LIT_TEXT_MAX];
  sbuf b;
  sb_init(&b, tmp, sizeof tmp);
  sb_str(&b, prefix);
  sb_value(&b, ingest_value_from_cjson(j), 0);
  sb_finish(&b);
  return astrndup(c, tmp, strlen(tmp));
}

static int make_lit(compiler *c, const cJSON *j, const char *path, const char *kw, lit *l) {
  ingest_value v = ingest_value_from_cjson(j);
  l->t = v.ops->type(v.node);
  switch (l->t) {
  case INGEST_T_BOOL:
    l->b = cJSON_IsTrue(j);
    break;
  case INGEST_T_NUMBER:
    l->d = j->valuedouble;
    if (!isfinite(l->d))
      return cerror(c, INGEST_ESCHEMA, path, kw, "%s holds a number out of the range of a double",
                    kw);
    l->exact = exact_int(l->d, &l->i);
    break;
  case INGEST_T_STRING:
    l->s = v.ops->string(v.node, &l->len);
    break;
  case INGEST_T_ARRAY:
  case INGEST_T_OBJECT:
    l->json = j;
    break;
  case INGEST_T_NULL:
    break;
  default:
    return cerror(c, INGEST_ESCHEMA, path, kw, "%s holds an invalid value", kw);
  }
  return 0;
}

/* --- ECMA-262 pattern -> POSIX ERE ------------------------------------- */

typedef struct dstr {
  char *p;
  size_t len, cap;
  bool oom;
} dstr;

static void ds_put(dstr *d, const char *s, size_t n) {
  if (d->oom) return;
  if (d->len + n + 1 > d->cap) {
    size_t cap = d->cap ? d->cap : 64;
    while (cap < d->len + n + 1) cap *= 2;
    char *p = realloc(d->p, cap);
    if (p == NULL) {
      d->oom = true;
      return;
    }
    d->p = p;
    d->cap = cap;
  }
  memcpy(d->p + d->len, s, n);
  d->len += n;
  d->p[d->len] = '\0';
}

static void ds_chr(dstr *d, char c) { ds_put(d, &c, 1); }

/* A literal ASCII character outside brackets. */
static void ere_literal(dstr *d, unsigned char c) {
  if (c == ']' || c == '}') {
    /* unambiguous as a one-member bracket expression */
    ds_chr(d, '[');
    ds_chr(d, (char)c);
    ds_chr(d, ']');
  } else if (strchr("^.[$()|*+?{\\", c) != NULL) {
    ds_chr(d, '\\');
    ds_chr(d, (char)c);
  } else {
    ds_chr(d, (char)c);
  }
}

static void set_class(bool set[128], char cls) {
  for (int ch = 1; ch < 128; ch++) {
    bool in;
    if (cls == 'd')
      in = ch >= '0' && ch <= '9';
    else if (cls == 'w')
      in = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '_';
    else /* 's': the ASCII part of ECMA-262 WhiteSpace and LineTerminator */
      in = ch == ' ' || (ch >= '\t' && ch <= '\r');
    if (in) set[ch] = true;
  }
}

/* Emits a POSIX bracket expression for an ASCII set, listing members one by
 * one (no ranges, so collation order never matters) and placing ']' first,
 * '-' last and '^' / '[' where they cannot be read as syntax. */
static void ere_set(dstr *d, const bool set[128], bool negate) {
  bool plain = false;
  for (int ch = 1; ch < 128; ch++)
    if (set[ch] && ch != ']' && ch != '-' && ch != '^' && ch != '[') plain = true;
  if (!negate && !plain && !set[']'] && !set['-'] && !set['['] && set['^']) {
    ds_put(d, "\\^", 2);
    return;
  }
  ds_chr(d, '[');
  if (negate) ds_chr(d, '^');
  bool any = false;
  if (set[']']) {
    ds_chr(d, ']');
    any = true;
  }
  for (int ch = 1; ch < 128; ch++) {
    if (set[ch] && ch != ']' && ch != '-' && ch != '^' && ch != '[') {
      ds_chr(d, (char)ch);
      any = true;
    }
  }
  bool dash = set['-'];
  if (!any && dash) { /* a leading '-' is literal; '^' may follow it */
    ds_chr(d, '-');
    dash = false;
    any = true;
  }
  if (set['['] && !any) {
    ds_chr(d, '[');
    any = true;
    if (set['^']) ds_chr(d, '^');
  } else {
    if (set['^']) ds_chr(d, '^'); /* never first here, or negated */
    if (set['[']) ds_chr(d, '['); /* followed by '-' or the closing ']' */
  }
  if (dash) ds_chr(d, '-');
  ds_chr(d, ']');
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static long hex_escape(const char *s, size_t i, size_t n, size_t digits) {
  long v = 0;
  for (size_t k = 0; k < digits; k++) {
    if (i + k >= n) return -1;
    int h = hexval(s[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static void put_utf8(dstr *d, unsigned long cp) {
  char b[4];
  size_t n;
  if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  }
  ds_put(d, b, n);
}

/*
 * Reads one class atom inside [...] at s[*i]: sets *ch for a single
 * character, or adds a class (\d \w \s) to set and sets *ch = -1.
 * Returns NULL or the reason the atom is not supported.
 */
static const char *bracket_atom(const char *s, size_t n, size_t *i, bool set[128], int *ch) {
  unsigned char c = (unsigned char)s[*i];
  if (c >= 0x80) return "non-ASCII characters inside [...] are not supported";
  if (c != '\\') {
    (*i)++;
    *ch = c;
    return NULL;
  }
  if (*i + 1 >= n) return "pattern ends with a backslash";
  char e = s[*i + 1];
  *i += 2;
  switch (e) {
  case 'd':
  case 'w':
  case 's':
    set_class(set, e);
    *ch = -1;
    return NULL;
  case 'D':
  case 'W':
  case 'S':
    return "negated class escapes (\\D \\W \\S) inside [...] are not supported";
  case 'n':
    *ch = '\n';
    return NULL;
  case 't':
    *ch = '\t';
    return NULL;
  case 'r':
    *ch = '\r';
    return NULL;
  case 'f':
    *ch = '\f';
    return NULL;
  case 'v':
    *ch = '\v';
    return NULL;
  case 'b':
    *ch = '\b';
    return NULL; /* [\b] is backspace in ECMA-262 */
  case 'x':
  case 'u': {
    size_t nd = e == 'x' ? 2 : 4;
    long v = hex_escape(s, *i, n, nd);
    if (v < 0) return "malformed \\x or \\u escape";
    if (v == 0 || v >= 0x80) return "only ASCII characters (not NUL) are supported inside [...]";
    *i += nd;
    *ch = (int)v;
    return NULL;
  }
  default:
    if ((unsigned char)e < 0x80 && !(e >= '0' && e <= '9') &&
        !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))) {
      *ch = (unsigned char)e; /* identity escape of punctuation */
      return NULL;
    }
    return "unsupported escape inside [...]";
  }
}

/* --- what compiling a pattern may cost ------------------------------- */

/*
 * glibc's regcomp expands a counted repetition into copies of its operand
 * (x{2,4} becomes x x x? x?, the optional copies nested) and keeps, for
 * every node of the expanded automaton, its epsilon closure: the nodes it
 * reaches without reading a byte. Along a run of optional or otherwise
 * nullable copies each closure reaches to the end of the run, so their
 * total grows with the square of the run's length: "9-]{1,13102}$" made
 * regcomp allocate more than 2 GB (issue 12, item 14).
 *
 * So each subexpression is summarised as regcomp builds it: n nodes, e
 * closure entries in all, f entries in the closure of its entry, t epsilon
 * nodes whose closure reaches past its end, and whether it matches the
 * empty string. Concatenation adds t(a) * f(b) entries (a's open ends see
 * into b); an optional copy adds a branch node seeing into the copy; a
 * repetition composes its copies one by one, so nested repetitions
 * multiply. Nodes are counted as they are built, those that a {0} drops
 * afterwards included: regcomp builds them all before it sees the {0}.
 * The memory estimate is 200 bytes a node + 16 bytes a closure entry +
 * 8 KiB. On glibc 2.36, for 40 chosen patterns from "x" through
 * "a{1,2000}", "(a{0,30}){0,30}{0,10}" and a 200-way alternation, it was
 * at least what regcomp keeps (mallinfo2) every time, and up to 100 times
 * more for nested optional repetitions; for 3000 random patterns under the
 * limits, the most one kept was 3.2 MiB and the highest peak (resident
 * memory of a process compiling it) 29 MiB, a {0} of a large expansion,
 * which the count of built nodes now bounds as well.
 */
typedef struct rcost {
  double n, e, f, t;
  double made; /* nodes built on the way, those a {0} then drops included */
  bool nullable;
} rcost;

static const rcost RC_EMPTY = {0, 0, 0, 0, 0, true};
static const rcost RC_CHAR = {1, 1, 1, 0, 1, false};
static const rcost RC_EPSILON = {1, 1, 1, 1, 1, true}; /* ^, $, group ends */

static rcost rc_cat(rcost a, rcost b) {
  rcost r = {a.n + b.n,
             a.e + b.e + a.t * b.f,
             a.f + (a.nullable ? b.f : 0),
             b.t + (b.nullable ? a.t : 0),
             a.made + b.made,
             a.nullable && b.nullable};
  return r;
}

static rcost rc_opt(rcost x) {
  rcost r = {x.n + 1, x.e + 1 + x.f, 1 + x.f, x.t + 1, x.made + 1, true};
  return r;
}

static rcost rc_star(rcost x) {
  rcost r = {x.n + 1, x.e + 1 + x.f + x.t * (1 + x.f), 1 + x.f, 1 + x.t, x.made + 1, true};
  return r;
}

static rcost rc_alt(rcost a, rcost b) {
  rcost r = {a.n + b.n + 1,       a.e + b.e + 1 + a.f + b.f,
             1 + a.f + b.f,       a.t + b.t + (a.nullable || b.nullable),
             a.made + b.made + 1, a.nullable || b.nullable};
  return r;
}

static rcost rc_group(rcost x) { return rc_cat(rc_cat(RC_EPSILON, x), RC_EPSILON); }

/* x{lo,hi}, hi < 0 for no upper bound. At most 2 * PATTERN_MAX_REPEAT
 * steps: the counts were bounded before. */
static rcost rc_repeat(rcost x, long lo, long hi) {
  rcost r = RC_EMPTY;
  for (long i = 0; i < lo; i++) r = rc_cat(r, x);
  if (hi < 0) return rc_cat(r, rc_star(x));
  for (long i = lo; i < hi; i++) r = rc_cat(r, rc_opt(x));
  if (r.made < x.made) r.made = x.made; /* x{0}: built, then dropped */
  return r;
}

static double rc_bytes(rcost x) { return 200 * x.made + 16 * x.e + 8192; }

/* The pieces of one group (or of the whole pattern) being read. */
typedef struct rframe {
  rcost alts; /* the alternatives closed so far */
  int nalts;
  rcost cat;  /* the current alternative, without its last atom */
  rcost last; /* its last atom, which a quantifier may still change */
  bool has_last;
} rframe;

static void rf_commit(rframe *f) {
  if (f->has_last) f->cat = rc_cat(f->cat, f->last);
  f->has_last = false;
}

static void rf_atom(rframe *f, rcost a) {
  rf_commit(f);
  f->last = a;
  f->has_last = true;
}

static rcost rf_close(rframe *f) {
  rf_commit(f);
  return f->nalts ? rc_alt(f->alts, f->cat) : f->cat;
}

/* A count of {n,m}, saturated (a longer one is over the limit anyway). */
static long repeat_count(const char *s, size_t from, size_t to) {
  long v = 0;
  for (size_t k = from; k < to; k++) v = v > 100000 ? v : v * 10 + (s[k] - '0');
  return v;
}

/*
 * Translates the supported ECMA-262 subset (see jsonschema.h) into a POSIX
 * extended regular expression. Returns NULL or the reason for refusing, and
 * *unsupported tells a valid-but-unsupported feature from a syntax error.
 * *bytes is what regcomp may allocate for it (the estimate above); the
 * counts, the length and the nesting are bounded here, the estimate by the
 * caller.
 */
static const char *ecma_to_ere(const char *s, dstr *d, bool *unsupported, double *bytes) {
  size_t n = strlen(s);
  size_t i = 0;
  bool atom = false; /* something a quantifier may follow */
  int groups = 0;
  size_t alt_begin = 0; /* where the current top-level alternative starts */
  rframe frames[PATTERN_MAX_GROUPS + 1];
  rframe *f = &frames[0];
  *f = (rframe){RC_EMPTY, 0, RC_EMPTY, RC_EMPTY, false};
  *unsupported = true;
  *bytes = 0;
  if (n > PATTERN_MAX_LEN) {
    *unsupported = false;
    return "longer than " STR(PATTERN_MAX_LEN) " bytes";
  }
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '*':
    case '+':
    case '?':
    case '{': {
      size_t start = i;
      long lo = c == '+', hi = c == '?' ? 1 : -1;
      if (c == '{') {
        size_t k = i + 1;
        while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        bool ok = k > i + 1;
        lo = hi = repeat_count(s, i + 1, k);
        if (ok && k < n && s[k] == ',') {
          size_t m = ++k;
          while (k < n && s[k] >= '0' && s[k] <= '9') k++;
          hi = k > m ? repeat_count(s, m, k) : -1;
        }
        if (!ok || k >= n || s[k] != '}') {
          *unsupported = false;
          return "a literal '{' must be escaped as \\{";
        }
        i = k + 1;
      } else {
        i++;
      }
      if (!atom) {
        *unsupported = false;
        return "quantifier without anything to repeat";
      }
      if (lo > PATTERN_MAX_REPEAT || hi > PATTERN_MAX_REPEAT) {
        *unsupported = false;
        return "a repetition count is above " STR(PATTERN_MAX_REPEAT) " (the least RE_DUP_MAX "
               "POSIX allows; bound a string's length with minLength and maxLength)";
      }
      f->last = rc_repeat(f->last, lo, hi < lo && hi >= 0 ? lo : hi);
      ds_put(d, s + start, i - start);
      /* lazy quantifiers: whether a match exists does not depend on
       * laziness, and that is all "pattern" asks */
      if (i < n && s[i] == '?') i++;
      atom = false;
      break;
    }
    case '(':
      if (i + 1 < n && s[i + 1] == '?') {
        if (i + 2 < n && s[i + 2] == ':') {
          i += 3;
        } else if (i + 2 < n && s[i + 2] == '<' && i + 3 < n && s[i + 3] != '=' &&
                   s[i + 3] != '!') {
          size_t k = i + 3; /* named group: the name does not matter */
          while (k < n && s[k] != '>') k++;
          if (k >= n) {
            *unsupported = false;
            return "unterminated group name";
          }
          i = k + 1;
        } else {
          return "lookahead, lookbehind and inline flags are not supported";
        }
      } else {
        i++;
      }
      if (groups == PATTERN_MAX_GROUPS) {
        *unsupported = false;
        return "groups nested deeper than " STR(PATTERN_MAX_GROUPS) " levels";
      }
      rf_commit(f);
      f = &frames[++groups];
      *f = (rframe){RC_EMPTY, 0, RC_EMPTY, RC_EMPTY, false};
      ds_chr(d, '(');
      atom = false;
      break;
    case ')':
      if (groups == 0) {
        *unsupported = false;
        return "unmatched ')'";
      }
      {
        rcost g = rc_group(rf_close(f));
        f = &frames[--groups];
        rf_atom(f, g);
      }
      ds_chr(d, ')');
      i++;
      atom = true;
      break;
    case '|':
      if (groups == 0) alt_begin = i + 1;
      rf_commit(f);
      f->alts = f->nalts++ ? rc_alt(f->alts, f->cat) : f->cat;
      f->cat = RC_EMPTY;
      ds_chr(d, (char)c);
      i++;
      atom = false;
      break;
    case '^':
    case '$':
      /* ECMA-262 anchors (no m flag) hold only at the input's ends, so one
       * inside a pattern can never match; glibc's regexec instead lets one
       * beside a newline hold there, as a line anchor, even without
       * REG_NEWLINE ("$$\n" matched "abc\n": found by fuzz_pattern). So
       * they are taken only where the two agree: first or last in the
       * pattern or in one of its top-level alternatives. */
      if (groups != 0 || (c == '^' && i != alt_begin) || (c == '$' && i + 1 < n && s[i + 1] != '|'))
        return "'^' and '$' are supported only at the start and at the end of the pattern or "
               "of one of its top-level alternatives";
      rf_commit(f);
      f->cat = rc_cat(f->cat, RC_EPSILON);
      ds_chr(d, (char)c);
      i++;
      atom = false;
      break;
    case '.': /* ECMA-262 '.' does not match line terminators */
      ds_put(d, "[^\n\r]", 5);
      rf_atom(f, RC_CHAR);
      i++;
      atom = true;
      break;
    case '[': {
      bool set[128] = {false};
      bool negate = false;
      i++;
      if (i < n && s[i] == '^') {
        negate = true;
        i++;
      }
      bool closed = false;
      while (i < n) {
        if (s[i] == ']') {
          closed = true;
          i++;
          break;
        }
        int lo, hi;
        const char *why = bracket_atom(s, n, &i, set, &lo);
        if (why) return why;
        if (lo >= 0 && i + 1 < n && s[i] == '-' && s[i + 1] != ']') {
          i++;
          why = bracket_atom(s, n, &i, set, &hi);
          if (why) return why;
          if (hi < 0) return "class escapes cannot end a range inside [...]";
          if (hi < lo) {
            *unsupported = false;
            return "range out of order inside [...]";
          }
          for (int ch = lo; ch <= hi; ch++) set[ch] = true;
        } else if (lo >= 0) {
          set[lo] = true;
        }
      }
      if (!closed) {
        *unsupported = false;
        return "unterminated [...]";
      }
      bool any = false;
      for (int ch = 1; ch < 128; ch++) any = any || set[ch];
      if (!any) return "empty classes [] and [^] are not supported";
      ere_set(d, set, negate);
      rf_atom(f, RC_CHAR);
      atom = true;
      break;
    }
    case '\\': {
      if (i + 1 >= n) {
        *unsupported = false;
        return "pattern ends with a backslash";
      }
      char e = s[i + 1];
      i += 2;
      atom = true;
      rf_atom(f, RC_CHAR);
      bool set[128] = {false};
      switch (e) {
      case 'd':
      case 'w':
      case 's':
        set_class(set, e);
        ere_set(d, set, false);
        break;
      case 'D':
      case 'W':
      case 'S':
        set_class(set, (char)(e - 'A' + 'a'));
        ere_set(d, set, true);
        break;
      case 'n':
        ds_chr(d, '\n');
        break;
      case 't':
        ds_chr(d, '\t');
        break;
      case 'r':
        ds_chr(d, '\r');
        break;
      case 'f':
        ds_chr(d, '\f');
        break;
      case 'v':
        ds_chr(d, '\v');
        break;
      case 'x':
      case 'u': {
        size_t nd = e == 'x' ? 2 : 4;
        long v = hex_escape(s, i, n, nd);
        if (v < 0) {
          *unsupported = false;
          return "malformed \\x or \\u escape";
        }
        i += nd;
        if (v == 0) return "NUL characters are not supported";
        if (v >= 0xD800 && v <= 0xDFFF) return "surrogate escapes are not supported";
        if (v < 0x80) {
          ere_literal(d, (unsigned char)v);
        } else {
          ds_chr(d, '('); /* one code point is one atom for quantifiers */
          put_utf8(d, (unsigned long)v);
          ds_chr(d, ')');
          f->last = rc_group(rc_cat(rc_cat(RC_CHAR, RC_CHAR), v < 0x800 ? RC_EMPTY : RC_CHAR));
        }
        break;
      }
      case 'b':
      case 'B':
        return "word boundaries (\\b, \\B) are not supported";
      default:
        if (e >= '0' && e <= '9') return "backreferences and \\0 are not supported";
        if ((unsigned char)e >= 0x80 || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
          return "unsupported escape (\\p, \\c, \\k, ...)";
        ere_literal(d, (unsigned char)e); /* identity escape of punctuation */
        break;
      }
      break;
    }
    default:
      if (c >= 0x80) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
          *unsupported = false;
          return "pattern is not valid UTF-8";
        }
        ds_chr(d, '(');
        ds_put(d, s + i, k);
        ds_chr(d, ')');
        rcost bytes_of = RC_EMPTY;
        for (size_t b = 0; b < k; b++) bytes_of = rc_cat(bytes_of, RC_CHAR);
        rf_atom(f, rc_group(bytes_of));
        i += k;
      } else {
        ere_literal(d, c);
        rf_atom(f, RC_CHAR);
        i++;
      }
      atom = true;
      break;
    }
  }
  if (groups != 0) {
    *unsupported = false;
    return "unmatched '('";
  }
  if (d->len == 0) ds_put(d, "()", 2); /* the empty pattern matches anything */
  *bytes = rc_bytes(rf_close(f));
  return NULL;
}

static int compile_pattern(compiler *c, const char *src, const char *path, regex_t **out) {
  dstr d = {0};
  bool unsupported;
  double bytes;
  const char *why = ecma_to_ere(src, &d, &unsupported, &bytes);
  if (why == NULL && d.oom) why = "out of memory";
  if (why) {
    free(d.p);
    return cerror(c, unsupported ? INGEST_EUNSUPPORTED : INGEST_ESCHEMA, path, "pattern",
                  "pattern \"%.120s\": %s", src, why);
  }
  /* Before regcomp, not after: what it would allocate is the danger. */
  if (bytes > PATTERN_MAX_BYTES || c->pattern_bytes + bytes > SCHEMA_PATTERN_MAX_BYTES) {
    free(d.p);
    bool alone = bytes > PATTERN_MAX_BYTES;
    return cerror(c, INGEST_ESCHEMA, path, "pattern",
                  "pattern \"%.80s\": compiling it could take about %.0f MiB, more than the "
                  "%d MiB allowed %s (nested or long optional repetitions multiply; bound a "
                  "string's length with minLength and maxLength)",
                  src, bytes / 1048576.0,
                  (alone ? PATTERN_MAX_BYTES : SCHEMA_PATTERN_MAX_BYTES) / 1048576,
                  alone ? "for one pattern" : "for the patterns of one schema together");
  }
  c->pattern_bytes += bytes;
  rx *r = aalloc(c, sizeof *r);
  if (r == NULL) {
    free(d.p);
    return nomem(c, path);
  }
  int rc = regcomp(&r->re, d.p, REG_EXTENDED | REG_NOSUB);
  free(d.p);
  if (rc != 0) {
    char msg[128];
    regerror(rc, &r->re, msg, sizeof msg);
    return cerror(c, INGEST_ESCHEMA, path, "pattern", "pattern \"%.120s\" cannot be compiled: %s",
                  src, msg);
  }
  r->next = c->s->regexes;
  c->s->regexes = r;
  *out = &r->re;
  return 0;
}

/* --- schemas ----------------------------------------------------------- */

static node *compile_schema(compiler *c, const cJSON *j, const char *path, unsigned depth);

static bool is_annotation(const char *k) {
  static const char *const names[] = {
      "$comment", "title",      "description", "examples",
      "default",  "deprecated", "readOnly",    "writeOnly",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(k, names[i]) == 0) return true;
  return k[0] == 'x' && k[1] == '-';
}

static int schema_array(compiler *c, const cJSON *j, const char *path, const char *kw,
                        unsigned depth, node ***out, size_t *n) {
  if (!cJSON_IsArray(j) || j->child == NULL)
    return cerror(c, INGEST_ESCHEMA, path, kw, "%s must be a non-empty array of schemas", kw);
  size_t count = (size_t)cJSON_GetArraySize(j);
  node **v = aalloc(c, count * sizeof *v);
  if (v == NULL) return nomem(c, path);
  size_t i = 0;
  for (const cJSON *e = j->child; e; e = e->next, i++) {
    v[i] = compile_schema(c, e, index_path(c, path, i), depth + 1);
    if (v[i] == NULL) return c->err ? c->err->code : INGEST_ESCHEMA;
  }
  *out = v;
  *n = count;
  return 0;
}

static int percent_decode(const char *s, char *out) {
  size_t o = 0;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] == '%') {
      int h = hexval(s[i + 1]), l = h < 0 ? -1 : hexval(s[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0)) return -1;
      out[o++] = (char)(h * 16 + l);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return 0;
}

/* "$ref": "#" or "#/json/pointer" (percent-encoded as a URI fragment, RFC 6901
 * section 6), resolved in this document. */
static node *compile_ref(compiler *c, const cJSON *j, const char *path, unsigned depth) {
  if (!cJSON_IsString(j)) {
    cerror(c, INGEST_ESCHEMA, path, "$ref", "$ref must be a string, not %s", json_type_name(j));
    return NULL;
  }
  const char *ref = j->valuestring;
  if (ref[0] != '#') {
    cerror(c, INGEST_EUNSUPPORTED, path, "$ref",
           "$ref \"%.100s\": only references inside this schema (\"#\" or "
           "\"#/...\") are supported",
           ref);
    return NULL;
  }
  char *dec = malloc(strlen(ref) + 1);
  if (dec == NULL) {
    nomem(c, path);
    return NULL;
  }
  if (percent_decode(ref + 1, dec) != 0) {
    free(dec);
    cerror(c, INGEST_ESCHEMA, path, "$ref", "$ref \"%.100s\": bad percent-encoding", ref);
    return NULL;
  }
  if (dec[0] != '\0' && dec[0] != '/') {
    free(dec);
    cerror(c, INGEST_EUNSUPPORTED, path, "$ref",
           "$ref \"%.100s\": anchors are not supported, use a JSON pointer", ref);
    return NULL;
  }
  ingest_pointer *p;
  int rc = ingest_pointer_compile(dec, &p);
  if (rc != 0) {
    free(dec);
    if (rc == INGEST_ENOMEM)
      nomem(c, path);
    else
      cerror(c, INGEST_ESCHEMA, path, "$ref", "$ref \"%.100s\" is not a valid JSON pointer", ref);
    return NULL;
  }
  ingest_value t = ingest_pointer_resolve(p, ingest_value_from_cjson(c->root));
  ingest_pointer_free(p);
  if (!ingest_value_present(t)) {
    free(dec);
    cerror(c, INGEST_ESCHEMA, path, "$ref", "$ref \"%.100s\" points to nothing", ref);
    return NULL;
  }
  /* the decoded pointer is the target's canonical schema path */
  const char *tpath = astrndup(c, dec, strlen(dec));
  free(dec);
  if (tpath == NULL) {
    nomem(c, path);
    return NULL;
  }
  return compile_schema(c, (const cJSON *)t.node, tpath, depth + 1);
}

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "string",  "integer"};
static const unsigned type_bits[] = {TB(INGEST_T_NULL),  TB(INGEST_T_BOOL),   TB(INGEST_T_OBJECT),
                                     TB(INGEST_T_ARRAY), TB(INGEST_T_NUMBER), TB(INGEST_T_STRING),
                                     TB_INTEGER};

static int compile_type(compiler *c, const cJSON *j, const char *path, check *k) {
  const cJSON *one = j;
  size_t count = 1;
  if (cJSON_IsArray(j)) {
    count = (size_t)cJSON_GetArraySize(j);
    one = j->child;
    if (count == 0) /* meta-schema: minItems 1 */
      return cerror(c, INGEST_ESCHEMA, path, "type", "type must not be an empty array");
  } else if (!cJSON_IsString(j)) {
    return cerror(c, INGEST_ESCHEMA, path, "type",
                  "type must be a string or an array of strings, not %s", json_type_name(j));
  }
  char text[128];
  sbuf b;
  sb_init(&b, text, sizeof text);
  size_t i = 0;
  for (; one; one = cJSON_IsArray(j) ? one->next : NULL, i++) {
    if (!cJSON_IsString(one))
      return cerror(c, INGEST_ESCHEMA, path, "type", "type names must be strings");
    size_t t = 0;
    while (t < 7 && strcmp(one->valuestring, type_names[t]) != 0) t++;
    if (t == 7)
      return cerror(c, INGEST_ESCHEMA, path, "type", "unknown type \"%.60s\"", one->valuestring);
    if (k->u.type.mask & type_bits[t])
      return cerror(c, INGEST_ESCHEMA, path, "type", "type \"%s\" is listed twice", type_names[t]);
    k->u.type.mask |= type_bits[t];
    if (i > 0) sb_str(&b, i + 1 == count ? " or " : ", ");
    sb_str(&b, type_names[t]);
  }
  k->u.type.text = astrndup(c, text, strlen(text));
  return k->u.type.text ? 0 : nomem(c, path);
}

static int compile_required(compiler *c, const cJSON *j, const char *path) {
  if (!cJSON_IsArray(j))
    return cerror(c, INGEST_ESCHEMA, path, "required",
                  "required must be an array of strings, not %s", json_type_name(j));
  for (const cJSON *e = j->child; e; e = e->next) {
    if (!cJSON_IsString(e))
      return cerror(c, INGEST_ESCHEMA, path, "required", "required must list strings, found %s",
                    json_type_name(e));
    for (const cJSON *f = j->child; f != e; f = f->next)
      if (strcmp(f->valuestring, e->valuestring) == 0)
        return cerror(c, INGEST_ESCHEMA, path, "required", "required lists \"%.60s\" twice",
                      e->valuestring);
  }
  return 0;
}

/* Adds name to the node's table (once); returns its index or -1 (no memory). */
static long add_name(compiler *c, node *n, size_t cap, const char *key, node *prop) {
  size_t len = strlen(key);
  for (size_t i = 0; i < n->nnames; i++) {
    if (n->names[i].len == len && memcmp(n->names[i].key, key, len) == 0) {
      if (prop) n->names[i].prop = prop;
      return (long)i;
    }
  }
  (void)c;
  if (n->nnames >= cap) return -1;
  name *nm = &n->names[n->nnames];
  nm->key = key;
  nm->len = len;
  nm->hash = hash_key(key, len);
  nm->prop = prop;
  return (long)n->nnames++;
}

static int build_name_table(compiler *c, node *n) {
  uint32_t size = 4;
  while (size < 2 * n->nnames) size *= 2;
  n->slots = aalloc(c, size * sizeof *n->slots);
  if (n->slots == NULL) return nomem(c, n->path);
  n->mask = size - 1;
  for (size_t i = 0; i < n->nnames; i++) {
    uint32_t s = n->names[i].hash & n->mask;
    while (n->slots[s]) s = (s + 1) & n->mask;
    n->slots[s] = (uint32_t)i + 1;
  }
  return 0;
}

/* Fills the fast leaf summary when every check is type or a numeric bound
 * whose comparison in double is exact (bounds beyond 2^53 need int64). */
static void summarize(node *n) {
  n->fast_types = ~0u;
  n->ge = n->gt = -INFINITY;
  n->le = n->lt = INFINITY;
  for (size_t i = 0; i < n->nchecks; i++) {
    const check *k = &n->checks[i];
    if (k->kind == K_TYPE) {
      n->fast_types = k->u.type.mask;
      continue;
    }
    if (k->kind != K_MINIMUM && k->kind != K_MAXIMUM && k->kind != K_XMINIMUM &&
        k->kind != K_XMAXIMUM)
      return;
    if (!(fabs(k->u.num.d) < 9007199254740992.0)) return;
    double b = k->u.num.d;
    n->fast_bounds = true;
    if (k->kind == K_MINIMUM) n->ge = fmax(n->ge, b);
    if (k->kind == K_XMINIMUM) n->gt = fmax(n->gt, b);
    if (k->kind == K_MAXIMUM) n->le = fmin(n->le, b);
    if (k->kind == K_XMAXIMUM) n->lt = fmin(n->lt, b);
  }
  n->fast = !n->is_false;
}

static node *compile_schema(compiler *c, const cJSON *j, const char *path, unsigned depth) {
  node *n = memo_get(c, j);
  if (n) return n; /* compiled, or being compiled higher up (recursion) */
  if (path == NULL) {
    nomem(c, "");
    return NULL;
  }
  if (depth > MAX_SCHEMA_DEPTH) {
    cerror(c, INGEST_ESCHEMA, path, "", "schema nested deeper than %d levels", MAX_SCHEMA_DEPTH);
    return NULL;
  }
  n = aalloc(c, sizeof *n);
  if (n == NULL || !memo_put(c, j, n)) {
    nomem(c, path);
    return NULL;
  }
  n->path = path;
  n->all_next = c->all;
  c->all = n;
  if (cJSON_IsBool(j)) {
    n->is_false = cJSON_IsFalse(j);
    return n;
  }
  if (!cJSON_IsObject(j)) {
    cerror(c, INGEST_ESCHEMA, path, "", "a schema must be an object or a boolean, not %s",
           json_type_name(j));
    return NULL;
  }

  size_t nkw = 0, nnames = 0;
  for (const cJSON *kw = j->child; kw; kw = kw->next) {
    nkw++;
    for (const cJSON *o = j->child; o != kw; o = o->next)
      if (strcmp(o->string, kw->string) == 0) {
        cerror(c, INGEST_ESCHEMA, path, kw->string, "keyword \"%.60s\" appears twice", kw->string);
        return NULL;
      }
    if (!strcmp(kw->string, "properties") || !strcmp(kw->string, "required"))
      nnames += (size_t)cJSON_GetArraySize(kw);
  }
  n->checks = aalloc(c, (nkw ? nkw : 1) * sizeof *n->checks);
  n->names = aalloc(c, (nnames ? nnames : 1) * sizeof *n->names);
  if (!n->checks || !n->names) {
    nomem(c, path);
    return NULL;
  }
  bool object_pass = false, array_pass = false;
  const cJSON *required = NULL;
  check *req_check = NULL;

  for (const cJSON *kw = j->child; kw; kw = kw->next) {
    const char *k = kw->string;
    const char *kp = child_path(c, path, k, NULL);
    if (kp == NULL) {
      nomem(c, path);
      return NULL;
    }
    check *ck = &n->checks[n->nchecks];
    ck->keyword = k;
    ck->path = kp;
    int rc = 0;
    bool emit = true;
    double d;

    if (!strcmp(k, "type")) {
      ck->kind = K_TYPE;
      rc = compile_type(c, kw, kp, ck);
    } else if (!strcmp(k, "const") || !strcmp(k, "enum")) {
      bool is_enum = k[0] == 'e';
      if (is_enum && !cJSON_IsArray(kw)) {
        cerror(c, INGEST_ESCHEMA, kp, k, "enum must be an array, not %s", json_type_name(kw));
        return NULL;
      }
      size_t count = is_enum ? (size_t)cJSON_GetArraySize(kw) : 1;
      lit *v = aalloc(c, (count ? count : 1) * sizeof *v);
      if (v == NULL) {
        nomem(c, kp);
        return NULL;
      }
      size_t i = 0;
      for (const cJSON *e = is_enum ? kw->child : kw; e && rc == 0; e = is_enum ? e->next : NULL)
        rc = make_lit(c, e, kp, k, &v[i++]);
      ck->kind = is_enum ? K_ENUM : K_CONST;
      ck->u.lits.v = v;
      ck->u.lits.n = count;
      ck->u.lits.text = render_json(c, is_enum ? "one of " : "", kw);
      if (rc == 0 && ck->u.lits.text == NULL) rc = nomem(c, kp);
    } else if (!strcmp(k, "minimum") || !strcmp(k, "maximum") || !strcmp(k, "exclusiveMinimum") ||
               !strcmp(k, "exclusiveMaximum") || !strcmp(k, "multipleOf")) {
      rc = get_number(c, kw, kp, k, &d);
      if (rc == 0 && k[0] == 'm' && k[1] == 'u' && d <= 0)
        rc = cerror(c, INGEST_ESCHEMA, kp, k, "multipleOf must be greater than 0");
      ck->kind = !strcmp(k, "minimum")            ? K_MINIMUM
                 : !strcmp(k, "maximum")          ? K_MAXIMUM
                 : !strcmp(k, "exclusiveMinimum") ? K_XMINIMUM
                 : !strcmp(k, "exclusiveMaximum") ? K_XMAXIMUM
                                                  : K_MULTIPLEOF;
      ck->u.num.d = d;
      ck->u.num.exact = rc == 0 && exact_int(d, &ck->u.num.i);
      if (rc == 0 && (ck->u.num.text = number_text(c, d)) == NULL) rc = nomem(c, kp);
    } else if (!strcmp(k, "minLength") || !strcmp(k, "maxLength") || !strcmp(k, "minItems") ||
               !strcmp(k, "maxItems")) {
      rc = get_count(c, kw, kp, k, &ck->u.count);
      ck->kind = !strcmp(k, "minLength")   ? K_MINLENGTH
                 : !strcmp(k, "maxLength") ? K_MAXLENGTH
                 : !strcmp(k, "minItems")  ? K_MINITEMS
                                           : K_MAXITEMS;
    } else if (!strcmp(k, "pattern")) {
      if (!cJSON_IsString(kw))
        rc = cerror(c, INGEST_ESCHEMA, kp, k, "pattern must be a string, not %s",
                    json_type_name(kw));
      else
        rc = compile_pattern(c, kw->valuestring, kp, &ck->u.pat.re);
      ck->kind = K_PATTERN;
      ck->u.pat.src = rc == 0 ? kw->valuestring : NULL;
    } else if (!strcmp(k, "format")) {
      if (!cJSON_IsString(kw))
        rc =
            cerror(c, INGEST_ESCHEMA, kp, k, "format must be a string, not %s", json_type_name(kw));
      else if (strcmp(kw->valuestring, "date-time") != 0)
        rc = cerror(c, INGEST_EUNSUPPORTED, kp, k,
                    "format \"%.60s\" is not supported (only \"date-time\")", kw->valuestring);
      ck->kind = K_FORMAT;
    } else if (!strcmp(k, "required")) {
      rc = compile_required(c, kw, kp);
      ck->kind = K_REQUIRED;
      required = kw;
      req_check = ck;
    } else if (!strcmp(k, "properties")) {
      if (!cJSON_IsObject(kw)) {
        cerror(c, INGEST_ESCHEMA, kp, k, "properties must be an object, not %s",
               json_type_name(kw));
        return NULL;
      }
      for (const cJSON *p = kw->child; p; p = p->next) {
        for (const cJSON *o = kw->child; o != p; o = o->next)
          if (strcmp(o->string, p->string) == 0) {
            cerror(c, INGEST_ESCHEMA, kp, k, "property \"%.60s\" is defined twice", p->string);
            return NULL;
          }
        node *sub = compile_schema(c, p, child_path(c, kp, p->string, NULL), depth + 1);
        if (sub == NULL) return NULL;
        if (add_name(c, n, nnames, p->string, sub) < 0) {
          nomem(c, kp);
          return NULL;
        }
      }
      ck->kind = K_OBJECT;
      emit = !object_pass;
      object_pass = true;
    } else if (!strcmp(k, "additionalProperties")) {
      n->additional = compile_schema(c, kw, kp, depth + 1);
      if (n->additional == NULL) return NULL;
      ck->kind = K_OBJECT;
      emit = !object_pass;
      object_pass = true;
    } else if (!strcmp(k, "prefixItems")) {
      rc = schema_array(c, kw, kp, k, depth, &n->prefix, &n->nprefix);
      ck->kind = K_ARRAY;
      emit = !array_pass;
      array_pass = true;
    } else if (!strcmp(k, "items")) {
      if (cJSON_IsArray(kw)) {
        cerror(c, INGEST_ESCHEMA, kp, k,
               "items must be a schema in 2020-12 (use prefixItems for tuples)");
        return NULL;
      }
      n->items = compile_schema(c, kw, kp, depth + 1);
      if (n->items == NULL) return NULL;
      ck->kind = K_ARRAY;
      emit = !array_pass;
      array_pass = true;
    } else if (!strcmp(k, "allOf") || !strcmp(k, "anyOf") || !strcmp(k, "oneOf")) {
      rc = schema_array(c, kw, kp, k, depth, &ck->u.subs.v, &ck->u.subs.n);
      ck->kind = k[0] == 'a' ? (k[1] == 'l' ? K_ALLOF : K_ANYOF) : K_ONEOF;
    } else if (!strcmp(k, "not")) {
      ck->kind = K_NOT;
      ck->u.sub = compile_schema(c, kw, kp, depth + 1);
      if (ck->u.sub == NULL) return NULL;
    } else if (!strcmp(k, "$ref")) {
      ck->kind = K_REF;
      ck->u.sub = compile_ref(c, kw, kp, depth);
      if (ck->u.sub == NULL) return NULL;
    } else if (!strcmp(k, "$defs")) {
      emit = false;
      if (!cJSON_IsObject(kw)) {
        cerror(c, INGEST_ESCHEMA, kp, k, "$defs must be an object, not %s", json_type_name(kw));
        return NULL;
      }
      /* compiled even when unused: a schema is never half-understood */
      for (const cJSON *e = kw->child; e; e = e->next)
        if (compile_schema(c, e, child_path(c, kp, e->string, NULL), depth + 1) == NULL)
          return NULL;
    } else if (!strcmp(k, "$schema")) {
      emit = false;
      if (!cJSON_IsString(kw))
        rc = cerror(c, INGEST_ESCHEMA, kp, k, "$schema must be a string");
      else if (strcmp(kw->valuestring, SCHEMA_2020_12) != 0 &&
               strcmp(kw->valuestring, SCHEMA_2020_12 "#") != 0)
        rc =
            cerror(c, INGEST_EUNSUPPORTED, kp, k,
                   "$schema \"%.80s\" is not supported (only " SCHEMA_2020_12 ")", kw->valuestring);
    } else if (!strcmp(k, "$id")) {
      emit = false;
      if (j != c->root)
        rc = cerror(c, INGEST_EUNSUPPORTED, kp, k,
                    "$id is only supported at the root (it would change how "
                    "$ref resolves below it)");
      else if (!cJSON_IsString(kw))
        rc = cerror(c, INGEST_ESCHEMA, kp, k, "$id must be a string");
    } else if (is_annotation(k)) {
      emit = false;
    } else {
      cerror(c, INGEST_EUNSUPPORTED, kp, k, "keyword \"%.60s\" is not supported", k);
      return NULL;
    }
    if (rc != 0) return NULL;
    if (emit) n->nchecks++;
  }

  if (required) {
    size_t count = (size_t)cJSON_GetArraySize(required);
    uint32_t *idx = aalloc(c, (count ? count : 1) * sizeof *idx);
    if (idx == NULL) {
      nomem(c, path);
      return NULL;
    }
    size_t i = 0;
    for (const cJSON *e = required->child; e; e = e->next) {
      long at = add_name(c, n, nnames, e->valuestring, NULL);
      if (at < 0) {
        nomem(c, path);
        return NULL;
      }
      idx[i++] = (uint32_t)at;
    }
    req_check->u.req.idx = idx;
    req_check->u.req.n = count;
  }
  if (n->nnames > 0 && build_name_table(c, n) != 0) return NULL;
  summarize(n);
  return n;
}

/* Evaluation cycles that never move to a child of the instance ($ref back to
 * an enclosing schema through allOf/anyOf/oneOf/not/$ref only) would recurse
 * forever on every instance: refuse them (colours: 0 new, 1 on stack, 2 done). */
static int find_cycle(compiler *c, node *n, unsigned depth) {
  if (n->color == 2) return 0;
  if (depth > 4 * MAX_SCHEMA_DEPTH)
    return cerror(c, INGEST_ESCHEMA, n->path, "$ref",
                  "chain of $ref/allOf/anyOf/oneOf/not deeper than %d", 4 * MAX_SCHEMA_DEPTH);
  n->color = 1;
  for (size_t i = 0; i < n->nchecks; i++) {
    const check *k = &n->checks[i];
    node *const *subs;
    size_t ns;
    node *one;
    switch (k->kind) {
    case K_REF:
    case K_NOT:
      one = k->u.sub;
      subs = &one;
      ns = 1;
      break;
    case K_ALLOF:
    case K_ANYOF:
    case K_ONEOF:
      subs = k->u.subs.v;
      ns = k->u.subs.n;
      break;
    default:
      continue;
    }
    for (size_t s = 0; s < ns; s++) {
      if (subs[s]->color == 1)
        return cerror(c, INGEST_ESCHEMA, k->path, k->keyword,
                      "%s leads back to %s without descending into the instance: "
                      "validation would never end",
                      k->keyword, subs[s]->path[0] ? subs[s]->path : "the root schema");
      int rc = find_cycle(c, subs[s], depth + 1);
      if (rc) return rc;
    }
  }
  n->color = 2;
  return 0;
}

void ingest_jsonschema_free(ingest_jsonschema *schema) {
  if (schema == NULL) return;
  for (rx *r = schema->regexes; r; r = r->next) regfree(&r->re);
  ahdr *h = schema->allocs;
  while (h) {
    ahdr *next = h->next;
    free(h);
    h = next;
  }
  cJSON_Delete(schema->doc);
  free(schema);
}

int ingest_jsonschema_compile(const void *cjson_schema, ingest_jsonschema **out,
                              ingest_error *err) {
  if (err) ingest_error_clear(err);
  if (out == NULL || cjson_schema == NULL)
    return ingest_error_set(err, INGEST_EINVAL, "", "", "no schema given");
  *out = NULL;
  ingest_jsonschema *s = calloc(1, sizeof *s);
  if (s == NULL) return ingest_error_set(err, INGEST_ENOMEM, "", "", "out of memory");
  s->doc = cJSON_Duplicate((const cJSON *)cjson_schema, 1);
  if (s->doc == NULL) {
    free(s);
    return ingest_error_set(err, INGEST_ENOMEM, "", "", "out of memory");
  }
  compiler c = {.s = s, .root = s->doc, .err = err};
  ingest_error local;
  if (c.err == NULL) c.err = &local;
  int rc = 0;
  s->root = compile_schema(&c, s->doc, "", 0);
  if (s->root == NULL) {
    rc = c.err->code ? c.err->code : INGEST_ESCHEMA;
  } else {
    /* from the root first, so that a cycle is reported at the keyword that
     * closes it when read from the top */
    rc = find_cycle(&c, s->root, 0);
    for (node *n = c.all; n && rc == 0; n = n->all_next) rc = find_cycle(&c, n, 0);
  }
  free(c.memo);
  if (rc != 0) {
    ingest_jsonschema_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                               */

enum { PK_ROOT, PK_KEY, PK_INDEX, PK_NONSTR };

/* The instance location, as a chain of stack frames: built for free while
 * descending and turned into a JSON pointer only when an error is reported. */
typedef struct vpath {
  const struct vpath *up;
  const char *key;
  size_t len; /* key length, or the array index */
  unsigned depth;
  unsigned char kind;
} vpath;

typedef struct vctx {
  ingest_error *err; /* NULL: quiet (a speculative branch) */
  bool closest;      /* anyOf/oneOf may re-run branches to explain a failure */
} vctx;

/* Values travel as two scalars (ops, node) on the hot path: a by-value
 * ingest_value spilled as two 8-byte stores and reloaded as one 16-byte load
 * costs a store-forwarding stall on every call. */
static bool validate_at(const vctx *c, const node *n, const ingest_value_ops *ops, const void *inst,
                        const vpath *at, unsigned ed);

static inline bool validate_node(const vctx *c, const node *n, ingest_value v, const vpath *at,
                                 unsigned ed) {
  return validate_at(c, n, v.ops, v.node, at, ed);
}

static void render_pointer(sbuf *b, const vpath *at) {
  const vpath *chain[MAX_INSTANCE_DEPTH + 2];
  size_t n = 0;
  for (const vpath *p = at; p && p->kind != PK_ROOT; p = p->up)
    if (n < sizeof chain / sizeof chain[0]) chain[n++] = p;
  while (n-- > 0) {
    const vpath *p = chain[n];
    sb_chr(b, '/');
    if (p->kind == PK_KEY)
      sb_token(b, p->key, p->len);
    else if (p->kind == PK_INDEX)
      sb_printf(b, "%zu", p->len);
    else
      sb_str(b, "(non-string key)");
  }
}

static void sb_vformat(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The messages use "%s", "%zu" and "%d" almost only: those are appended
 * directly (printf costs more than validating a message, and refusing must
 * not cost more than accepting); anything else goes to vsnprintf. */
static void sb_vformat(sbuf *b, const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  size_t start = b->len;
  bool over = b->over;
  const char *p = fmt;
  while (*p) {
    const char *pct = strchr(p, '%');
    if (!pct) {
      sb_str(b, p);
      break;
    }
    sb_put(b, p, (size_t)(pct - p));
    char num[24];
    if (pct[1] == 's') {
      sb_str(b, va_arg(ap, const char *));
      p = pct + 2;
    } else if (pct[1] == 'z' && pct[2] == 'u') {
      snprintf(num, sizeof num, "%zu", va_arg(ap, size_t));
      sb_str(b, num);
      p = pct + 3;
    } else if (pct[1] == 'd') {
      snprintf(num, sizeof num, "%d", va_arg(ap, int));
      sb_str(b, num);
      p = pct + 2;
    } else if (pct[1] == '%') {
      sb_chr(b, '%');
      p = pct + 2;
    } else {
      /* Something else: start over with the C library. */
      b->len = start;
      b->over = over;
      b->p[start] = '\0';
      char tmp[512];
      int n = vsnprintf(tmp, sizeof tmp, fmt, again);
      if (n >= 0) {
        sb_str(b, tmp);
        if ((size_t)n >= sizeof tmp) b->over = true;
      }
      break;
    }
  }
  va_end(again);
}

__attribute__((format(printf, 3, 4))) static void set_field(char *field, size_t cap,
                                                            const char *fmt, ...) {
  sbuf b;
  sb_init(&b, field, cap);
  va_list ap;
  va_start(ap, fmt);
  sb_vformat(&b, fmt, ap);
  va_end(ap);
  sb_finish(&b);
}

/* The sentence: "<pointer>: <text>", "(root)" for the whole message. */
__attribute__((format(printf, 2, 3))) static void set_message(ingest_error *e, const char *fmt,
                                                              ...) {
  sbuf b;
  sb_init(&b, e->message, sizeof e->message);
  sb_str(&b, e->pointer[0] ? e->pointer : "(root)");
  sb_str(&b, ": ");
  va_list ap;
  va_start(ap, fmt);
  sb_vformat(&b, fmt, ap);
  va_end(ap);
  sb_finish(&b);
}

/* Starts an error record: code, keyword, pointer, schema path, and the value
 * rendered as "actual". */
static ingest_error *begin(const vctx *c, const vpath *at, const char *keyword,
                           const char *schema_path, ingest_value v) {
  ingest_error *e = c->err;
  /* Every field is rewritten below or by the caller; emptying them one byte
   * each is all a full clear would add (and a refusal is a hot path). */
  e->code = INGEST_EVALIDATE;
  e->expected[0] = e->message[0] = '\0';
  sbuf b;
  sb_init(&b, e->keyword, sizeof e->keyword);
  sb_str(&b, keyword);
  sb_finish(&b);
  sb_init(&b, e->schema_path, sizeof e->schema_path);
  sb_str(&b, schema_path);
  sb_finish(&b);
  sb_init(&b, e->pointer, sizeof e->pointer);
  render_pointer(&b, at);
  sb_finish(&b);
  sb_init(&b, e->actual, sizeof e->actual);
  sb_value(&b, v, 0);
  sb_finish(&b);
  return e;
}

static const char *plural(size_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

static bool fail_false(const vctx *c, const node *n, ingest_value v, const vpath *at) {
  if (!c->err) return false;
  ingest_error *e = begin(c, at, "false", n->path, v);
  set_field(e->expected, sizeof e->expected, "nothing (schema false)");
  set_message(e, "no value is allowed here (the schema at %s is false)",
              n->path[0] ? n->path : "the root");
  return false;
}

static bool fail_deep(const vctx *c, const char *kw, const char *path, ingest_value v,
                      const vpath *at) {
  if (!c->err) return false;
  ingest_error *e = begin(c, at, kw, path, v);
  set_field(e->expected, sizeof e->expected, "nesting depth <= %d", MAX_INSTANCE_DEPTH);
  set_message(e, "value is nested deeper than %d levels, which is not accepted",
              MAX_INSTANCE_DEPTH);
  return false;
}

/* --- numbers ----------------------------------------------------------- */

/* Sign of (instance - bound), exact for integers beyond 2^53 when both sides
 * are int64 (a msgpack uint64/int64 or an integral schema bound). */
static inline int cmp_bound(ingest_value v, double d, const check *k) {
  if (k->u.num.exact && !(fabs(d) < 9007199254740992.0)) {
    int64_t i;
    if (v.ops->int64(v.node, &i)) return (i > k->u.num.i) - (i < k->u.num.i);
  }
  return (d > k->u.num.d) - (d < k->u.num.d);
}

/*
 * multipleOf (Validation section 6.2.1). Integers against an integral divisor
 * are checked exactly with %. Otherwise the quotient q = x / m is computed in
 * double and accepted when it is within 4 * DBL_EPSILON * |q| of an integer:
 * x and m each carry a relative rounding error of at most 2^-53 from their
 * decimal text and the division adds one more, so a value that is a multiple
 * in decimal (0.3 of 0.1: q = 2.9999999999999996) is within ~1.5 epsilon,
 * while a real remainder (0.35 of 0.1: q = 3.4999999999999996) is far off. A
 * quotient that overflows (1e308 / 0.123) is not a multiple.
 */
static bool is_multiple(ingest_value v, double d, const check *k) {
  if (k->u.num.exact) {
    int64_t i;
    if (v.ops->int64(v.node, &i)) return i % k->u.num.i == 0;
  }
  double q = d / k->u.num.d;
  if (!isfinite(q)) return false;
  return fabs(q - round(q)) <= 4 * DBL_EPSILON * fabs(q);
}

static bool fail_number(const vctx *c, const check *k, ingest_value v, const vpath *at,
                        bool finite) {
  if (!c->err) return false;
  ingest_error *e = begin(c, at, k->keyword, k->path, v);
  const char *b = k->u.num.text;
  switch (k->kind) {
  case K_MINIMUM:
    set_field(e->expected, sizeof e->expected, ">= %s", b);
    if (finite) set_message(e, "%s is less than the minimum %s", e->actual, b);
    break;
  case K_MAXIMUM:
    set_field(e->expected, sizeof e->expected, "<= %s", b);
    if (finite) set_message(e, "%s is greater than the maximum %s", e->actual, b);
    break;
  case K_XMINIMUM:
    set_field(e->expected, sizeof e->expected, "> %s", b);
    if (finite) set_message(e, "%s is not greater than the exclusive minimum %s", e->actual, b);
    break;
  case K_XMAXIMUM:
    set_field(e->expected, sizeof e->expected, "< %s", b);
    if (finite) set_message(e, "%s is not less than the exclusive maximum %s", e->actual, b);
    break;
  default:
    set_field(e->expected, sizeof e->expected, "a multiple of %s", b);
    if (finite) set_message(e, "%s is not a multiple of %s", e->actual, b);
    break;
  }
  if (!finite) set_message(e, "%s is not a finite number (%s %s)", e->actual, k->keyword, b);
  return false;
}

/* --- equality (const, enum): JSON equality, Core section 4.2.2 ---------- */

static bool numbers_equal(ingest_value a, ingest_value b) {
  double x = a.ops->number(a.node), y = b.ops->number(b.node);
  if (!isfinite(x) || !isfinite(y) || x != y) return false;
  int64_t i, j;
  /* equal doubles can still be different integers beyond 2^53 */
  if (a.ops->int64(a.node, &i) && b.ops->int64(b.node, &j)) return i == j;
  return true;
}

static bool values_equal(ingest_value a, ingest_value b, unsigned depth) {
  ingest_type t = a.ops->type(a.node);
  if (t != b.ops->type(b.node) || depth > 2 * MAX_INSTANCE_DEPTH) return false;
  const char *s1, *s2, *k1, *k2;
  size_t l1, l2, kl1, kl2;
  const void *c1, *c2;
  ingest_iter i1 = {0}, i2 = {0};
  switch (t) {
  case INGEST_T_NULL:
    return true;
  case INGEST_T_BOOL:
    return a.ops->boolean(a.node) == b.ops->boolean(b.node);
  case INGEST_T_NUMBER:
    return numbers_equal(a, b);
  case INGEST_T_STRING:
    s1 = a.ops->string(a.node, &l1);
    s2 = b.ops->string(b.node, &l2);
    return l1 == l2 && (l1 == 0 || memcmp(s1, s2, l1) == 0);
  case INGEST_T_ARRAY:
    if (a.ops->count(a.node) != b.ops->count(b.node)) return false;
    while (a.ops->next(a.node, &i1, &k1, &kl1, &c1)) {
      if (!b.ops->next(b.node, &i2, &k2, &kl2, &c2)) return false;
      ingest_value x = {a.ops, c1}, y = {b.ops, c2};
      if (!values_equal(x, y, depth + 1)) return false;
    }
    return true;
  case INGEST_T_OBJECT:
    /* member order is irrelevant: same number of members, and each member
     * of a found in b with an equal value */
    if (a.ops->count(a.node) != b.ops->count(b.node)) return false;
    while (a.ops->next(a.node, &i1, &k1, &kl1, &c1)) {
      if (k1 == NULL) return false;
      c2 = b.ops->member(b.node, k1, kl1);
      if (c2 == NULL) return false;
      ingest_value x = {a.ops, c1}, y = {b.ops, c2};
      if (!values_equal(x, y, depth + 1)) return false;
    }
    return true;
  default: /* binary and absent values equal nothing a schema can hold */
    return false;
  }
}

static bool lit_equals(const lit *l, ingest_type t, ingest_value v) {
  if (l->t != t) return false;
  switch (t) {
  case INGEST_T_NULL:
    return true;
  case INGEST_T_BOOL:
    return l->b == v.ops->boolean(v.node);
  case INGEST_T_NUMBER: {
    double d = v.ops->number(v.node);
    if (!isfinite(d) || d != l->d) return false;
    int64_t i;
    if (l->exact && fabs(d) >= 9007199254740992.0 && v.ops->int64(v.node, &i)) return i == l->i;
    return true;
  }
  case INGEST_T_STRING: {
    size_t len;
    const char *s = v.ops->string(v.node, &len);
    return len == l->len && (len == 0 || memcmp(s, l->s, len) == 0);
  }
  default:
    return values_equal(ingest_value_from_cjson(l->json), v, 0);
  }
}

/* --- objects and arrays ------------------------------------------------ */

static bool seen_get(const uint64_t *seen, uint32_t idx) {
  return (seen[idx >> 6] >> (idx & 63)) & 1u;
}

/* true only when the fast leaf summary proves v valid against n */
static inline bool fast_valid(const node *n, const ingest_value_ops *ops, const void *inst) {
  ingest_type t = ops->type(inst);
  unsigned m = n->fast_types;
  if (!(m & TB(t))) {
    if (t != INGEST_T_NUMBER || !(m & TB_INTEGER)) return false;
    double d = ops->number(inst);
    /* integral and small enough for double to be exact, else the slow path */
    if (!(fabs(d) < 9007199254740992.0) || d != floor(d)) return false;
  }
  if (t != INGEST_T_NUMBER || !n->fast_bounds) return true;
  double d = ops->number(inst);
  return fabs(d) < 9007199254740992.0 && d >= n->ge && d > n->gt && d <= n->le && d < n->lt;
}

static bool fail_member_false(const vctx *c, const node *n, const node *sub, const char *kw,
                              ingest_value cv, const vpath *p) {
  if (!c->err) return false;
  ingest_error *e = begin(c, p, kw, sub->path, cv);
  char key[80];
  sbuf b;
  sb_init(&b, key, sizeof key);
  if (p->kind == PK_KEY)
    sb_text(&b, p->key, p->len, true);
  else
    sb_str(&b, "(non-string key)");
  sb_finish(&b);
  if (kw[0] == 'p') { /* "properties": {"name": false} */
    set_field(e->expected, sizeof e->expected, "no property \"%s\"", key);
    set_message(e, "property \"%s\" is not allowed", key);
  } else {
    set_field(e->expected, sizeof e->expected, "no additional properties");
    set_message(e, "property \"%s\" is not allowed%s", key,
                n->nnames ? " (it is not listed in properties)" : "");
  }
  return false;
}

/* finish_seen: after a failure, keep going through the remaining members
 * for their names only, so that "seen" is complete ("required" still has to
 * be judged then; see validate_at). */
static bool object_pass(const vctx *c, const node *n, const ingest_value_ops *ops, const void *obj,
                        const vpath *at, unsigned ed, uint64_t *seen, bool finish_seen) {
  const ingest_value v = {ops, obj};
  memset(seen, 0, SEEN_WORDS * sizeof *seen);
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *child;
  size_t expect = 0; /* the name after the last one found */
  bool ok = true;
  while (v.ops->next(v.node, &it, &key, &klen, &child)) {
    const node *sub = NULL;
    const char *kw = "additionalProperties";
    if (key) {
      /* Payloads usually list members in the schema's order: try the name
       * after the previous match before hashing the key. */
      const name *nm = NULL;
      if (expect < n->nnames && n->names[expect].len == klen &&
          memcmp(n->names[expect].key, key, klen) == 0)
        nm = &n->names[expect];
      else
        nm = lookup(n, key, klen);
      if (nm) {
        size_t idx = (size_t)(nm - n->names);
        expect = idx + 1;
        if (idx < SEEN_BITS) seen[idx >> 6] |= 1ull << (idx & 63);
        if (nm->prop) {
          sub = nm->prop;
          kw = "properties";
        }
      }
    }
    if (!ok) continue; /* only names now */
    if (sub == NULL) sub = n->additional;
    if (sub == NULL || (sub->fast && fast_valid(sub, ops, child))) continue;
    vpath p = {at, key, klen, at->depth + 1, key ? PK_KEY : PK_NONSTR};
    ingest_value cv = {v.ops, child};
    if (sub->is_false)
      ok = fail_member_false(c, n, sub, kw, cv, &p);
    else if (p.depth > MAX_INSTANCE_DEPTH)
      ok = fail_deep(c, kw, sub->path, cv, &p);
    else
      ok = validate_at(c, sub, ops, child, &p, ed + 1);
    if (!ok && !finish_seen) return false;
  }
  return ok;
}

/* Only the names, for "required" when no properties pass ran before it. */
static void seen_pass(const node *n, ingest_value v, uint64_t *seen) {
  memset(seen, 0, SEEN_WORDS * sizeof *seen);
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *child;
  size_t expect = 0; /* the same order hint as object_pass */
  while (v.ops->next(v.node, &it, &key, &klen, &child)) {
    const name *nm = NULL;
    if (key && expect < n->nnames && n->names[expect].len == klen &&
        memcmp(n->names[expect].key, key, klen) == 0)
      nm = &n->names[expect];
    else if (key)
      nm = lookup(n, key, klen);
    size_t idx = nm ? (size_t)(nm - n->names) : SEEN_BITS;
    if (nm) expect = idx + 1;
    if (idx < SEEN_BITS) seen[idx >> 6] |= 1ull << (idx & 63);
  }
}

/* "required": every listed name was seen (or, beyond the bitset, is a
 * member). */
static bool required_ok(const vctx *c, const node *n, const check *k, ingest_value v,
                        const vpath *at, const uint64_t *seen) {
  for (size_t i = 0; i < k->u.req.n; i++) {
    uint32_t idx = k->u.req.idx[i];
    const name *nm = &n->names[idx];
    bool present =
        idx < SEEN_BITS ? seen_get(seen, idx) : v.ops->member(v.node, nm->key, nm->len) != NULL;
    if (present) continue;
    if (!c->err) return false;
    ingest_error *e = begin(c, at, "required", k->path, v);
    char key[80];
    sbuf b;
    sb_init(&b, key, sizeof key);
    sb_text(&b, nm->key, nm->len, true);
    sb_finish(&b);
    set_field(e->expected, sizeof e->expected, "property \"%s\"", key);
    set_message(e, "required property \"%s\" is missing", key);
    return false;
  }
  return true;
}

static bool array_pass(const vctx *c, const node *n, const ingest_value_ops *ops, const void *arr,
                       const vpath *at, unsigned ed) {
  const ingest_value v = {ops, arr};
  ingest_iter it = {0};
  const char *key;
  size_t klen;
  const void *child;
  for (size_t i = 0; v.ops->next(v.node, &it, &key, &klen, &child); i++) {
    const node *sub;
    const char *kw;
    if (i < n->nprefix) {
      sub = n->prefix[i];
      kw = "prefixItems";
    } else if (n->items) {
      sub = n->items;
      kw = "items";
    } else {
      break;
    }
    if (sub->fast && fast_valid(sub, ops, child)) continue;
    vpath p = {at, NULL, i, at->depth + 1, PK_INDEX};
    ingest_value cv = {v.ops, child};
    if (sub->is_false) {
      if (!c->err) return false;
      ingest_error *e = begin(c, &p, kw, sub->path, cv);
      if (kw[0] == 'i') {
        set_field(e->expected, sizeof e->expected, "at most %zu %s", n->nprefix,
                  plural(n->nprefix, "item", "items"));
        set_message(e, "the array may hold at most %zu %s", n->nprefix,
                    plural(n->nprefix, "item", "items"));
      } else {
        set_field(e->expected, sizeof e->expected, "no item at index %zu", i);
        set_message(e, "no item is allowed at index %zu", i);
      }
      return false;
    }
    if (p.depth > MAX_INSTANCE_DEPTH) return fail_deep(c, kw, sub->path, cv, &p);
    if (!validate_at(c, sub, ops, child, &p, ed + 1)) return false;
  }
  return true;
}

/* --- applicators ------------------------------------------------------- */

/* Re-runs the branches of a failed anyOf/oneOf with a scratch record to name
 * the one that came closest: the failure deepest in the instance, a failure
 * other than "type" at equal depth, else the first. */
static int closest_branch(const vctx *c, const check *k, ingest_value v, const vpath *at,
                          unsigned ed, ingest_error *best) {
  if (!c->err || !c->closest) return -1;
  ingest_error scratch;
  vctx sub = {&scratch, false};
  int best_i = -1, best_score = -1;
  for (size_t i = 0; i < k->u.subs.n; i++) {
    if (validate_node(&sub, k->u.subs.v[i], v, at, ed + 1)) continue;
    int score = 0;
    for (const char *p = scratch.pointer; *p; p++) score += *p == '/';
    score = score * 2 + (strcmp(scratch.keyword, "type") != 0);
    if (score > best_score) {
      best_score = score;
      best_i = (int)i;
      *best = scratch;
    }
  }
  return best_i;
}

static bool fail_none(const vctx *c, const check *k, ingest_value v, const vpath *at, unsigned ed) {
  if (!c->err) return false;
  ingest_error best;
  int bi = closest_branch(c, k, v, at, ed, &best);
  ingest_error *e = begin(c, at, k->keyword, k->path, v);
  set_field(e->expected, sizeof e->expected, "%s of %zu alternatives",
            k->kind == K_ONEOF ? "exactly one" : "any", k->u.subs.n);
  if (bi >= 0)
    set_message(e, "%s matches none of the %zu alternatives of %s; closest is #%d: %s", e->actual,
                k->u.subs.n, k->keyword, bi, best.message);
  else
    set_message(e, "%s matches none of the %zu alternatives of %s", e->actual, k->u.subs.n,
                k->keyword);
  return false;
}

/* --- the node ---------------------------------------------------------- */

static bool validate_at(const vctx *c, const node *n, const ingest_value_ops *ops, const void *inst,
                        const vpath *at, unsigned ed) {
  const ingest_value v = {ops, inst};
  if (n->is_false) return fail_false(c, n, v, at);
  if (ed > MAX_EVAL_DEPTH) {
    if (!c->err) return false;
    ingest_error *e = begin(c, at, "$ref", n->path, v);
    set_field(e->expected, sizeof e->expected, "schema depth <= %d", MAX_EVAL_DEPTH);
    set_message(e, "schema evaluation nested deeper than %d levels", MAX_EVAL_DEPTH);
    return false;
  }
  const ingest_type t = v.ops->type(v.node);
  /* per-node evaluation state, lazily filled */
  double d = 0;
  bool have_d = false;
  const char *s = NULL;
  size_t len = 0, cps = 0;
  bool have_cps = false, utf8_ok = true;
  uint64_t seen[SEEN_WORDS];
  bool pass_done = false, object_done = false;

  for (size_t ci = 0; ci < n->nchecks; ci++) {
    const check *k = &n->checks[ci];
    switch (k->kind) {
    case K_TYPE: {
      unsigned m = k->u.type.mask;
      if (m & TB(t)) break;
      if (t == INGEST_T_NUMBER && (m & TB_INTEGER)) {
        /* "integer": any number with a zero fractional part (Validation
         * 6.1.1, Core 4.2.1), so 1.0 is one; infinities and NaN are not */
        int64_t i;
        d = v.ops->number(v.node);
        have_d = true;
        if (v.ops->int64(v.node, &i) || (isfinite(d) && d == floor(d))) break;
      }
      if (!c->err) return false;
      ingest_error *e = begin(c, at, "type", k->path, v);
      set_field(e->expected, sizeof e->expected, "%s", k->u.type.text);
      const char *tn =
          t == INGEST_T_NUMBER && (m & TB_INTEGER) ? "non-integer number" : ingest_type_name(t);
      set_field(e->actual, sizeof e->actual, "%s", ingest_type_name(t));
      if (t == INGEST_T_BINARY)
        set_message(e, "expected %s, got binary data", k->u.type.text);
      else {
        char shown[64];
        sbuf b;
        sb_init(&b, shown, sizeof shown);
        sb_value(&b, v, 0);
        sb_finish(&b);
        set_message(e, "expected %s, got %s %s", k->u.type.text, tn, shown);
      }
      return false;
    }
    case K_CONST:
    case K_ENUM: {
      size_t i = 0;
      while (i < k->u.lits.n && !lit_equals(&k->u.lits.v[i], t, v)) i++;
      if (i < k->u.lits.n) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, k->keyword, k->path, v);
      set_field(e->expected, sizeof e->expected, "%s", k->u.lits.text);
      if (k->kind == K_CONST)
        set_message(e, "%s is not the expected constant %s", e->actual, k->u.lits.text);
      else
        set_message(e, "%s is not %s", e->actual, k->u.lits.text);
      return false;
    }
    case K_MINIMUM:
    case K_MAXIMUM:
    case K_XMINIMUM:
    case K_XMAXIMUM:
    case K_MULTIPLEOF: {
      if (t != INGEST_T_NUMBER) break;
      if (!have_d) {
        d = v.ops->number(v.node);
        have_d = true;
      }
      /* non-finite numbers (1e400 read as inf, a msgpack NaN) fail every
       * numeric keyword: they compare with nothing meaningfully */
      if (!isfinite(d)) return fail_number(c, k, v, at, false);
      bool ok;
      switch (k->kind) {
      case K_MINIMUM:
        ok = cmp_bound(v, d, k) >= 0;
        break;
      case K_MAXIMUM:
        ok = cmp_bound(v, d, k) <= 0;
        break;
      case K_XMINIMUM:
        ok = cmp_bound(v, d, k) > 0;
        break;
      case K_XMAXIMUM:
        ok = cmp_bound(v, d, k) < 0;
        break;
      default:
        ok = is_multiple(v, d, k);
        break;
      }
      if (!ok) return fail_number(c, k, v, at, true);
      break;
    }
    case K_MINLENGTH:
    case K_MAXLENGTH: {
      if (t != INGEST_T_STRING) break;
      if (!have_cps) {
        s = v.ops->string(v.node, &len);
        utf8_ok = utf8_count(s, len, &cps);
        have_cps = true;
      }
      bool min = k->kind == K_MINLENGTH;
      if (utf8_ok && (min ? cps >= k->u.count : cps <= k->u.count)) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, k->keyword, k->path, v);
      if (!utf8_ok) {
        set_field(e->expected, sizeof e->expected, "valid UTF-8");
        set_message(e, "string is not valid UTF-8, so its length (%s) cannot be checked",
                    k->keyword);
        return false;
      }
      set_field(e->expected, sizeof e->expected, "%s %zu %s", min ? "at least" : "at most",
                k->u.count, plural(k->u.count, "character", "characters"));
      set_message(e, "%s has %zu %s, %s the %s length %zu", e->actual, cps,
                  plural(cps, "character", "characters"), min ? "fewer than" : "more than",
                  min ? "minimum" : "maximum", k->u.count);
      return false;
    }
    case K_PATTERN: {
      if (t != INGEST_T_STRING) break;
      s = v.ops->string(v.node, &len);
      int rc = REG_NOMATCH;
      if (len <= (size_t)INT_MAX) {
        /* REG_STARTEND: the bytes need no NUL terminator (msgpack strings have
         * none) and may contain NUL; no copy is made */
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)len;
        rc = regexec(k->u.pat.re, len ? s : "", 1, m, REG_STARTEND);
      }
      if (rc == 0) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, "pattern", k->path, v);
      set_field(e->expected, sizeof e->expected, "matches %s", k->u.pat.src);
      set_message(e, "%s does not match the pattern %s", e->actual, k->u.pat.src);
      return false;
    }
    case K_FORMAT: {
      if (t != INGEST_T_STRING) break;
      s = v.ops->string(v.node, &len);
      int64_t ms;
      if (ingest_rfc3339_parse(s, len, &ms) == 0) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, "format", k->path, v);
      set_field(e->expected, sizeof e->expected, "an RFC 3339 date-time");
      set_message(e, "%s is not an RFC 3339 date-time (like 2026-01-31T12:00:00Z)", e->actual);
      return false;
    }
    case K_MINITEMS:
    case K_MAXITEMS: {
      if (t != INGEST_T_ARRAY) break;
      size_t count = v.ops->count(v.node);
      bool min = k->kind == K_MINITEMS;
      if (min ? count >= k->u.count : count <= k->u.count) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, k->keyword, k->path, v);
      set_field(e->expected, sizeof e->expected, "%s %zu %s", min ? "at least" : "at most",
                k->u.count, plural(k->u.count, "item", "items"));
      set_message(e, "the array has %zu %s, %s the %s %zu", count, plural(count, "item", "items"),
                  min ? "fewer than" : "more than", min ? "minimum" : "maximum", k->u.count);
      return false;
    }
    case K_REQUIRED: {
      if (t != INGEST_T_OBJECT) break;
      if (!pass_done && ci + 1 < n->nchecks && n->checks[ci + 1].kind == K_OBJECT) {
        /* "required" right before "properties" (the usual order): the
         * object pass fills the same names while it validates the members,
         * which saves a pass over them. Should it fail, it still goes
         * through the remaining names, and "required" is judged first: its
         * error replaces the object's. Either way the outcome is the
         * written order's. */
        if (!object_pass(c, n, ops, inst, at, ed, seen, true)) {
          required_ok(c, n, k, v, at, seen);
          return false;
        }
        pass_done = object_done = true;
      }
      if (!pass_done) {
        seen_pass(n, v, seen);
        pass_done = true;
      }
      if (!required_ok(c, n, k, v, at, seen)) return false;
      break;
    }
    case K_OBJECT:
      if (t != INGEST_T_OBJECT || object_done) break;
      if (!object_pass(c, n, ops, inst, at, ed, seen, false)) return false;
      pass_done = true;
      break;
    case K_ARRAY:
      if (t != INGEST_T_ARRAY) break;
      if (!array_pass(c, n, ops, inst, at, ed)) return false;
      break;
    case K_REF:
      if (!validate_node(c, k->u.sub, v, at, ed + 1)) return false;
      break;
    case K_ALLOF:
      for (size_t i = 0; i < k->u.subs.n; i++)
        if (!validate_node(c, k->u.subs.v[i], v, at, ed + 1)) return false;
      break;
    case K_ANYOF: {
      const vctx quiet = {NULL, false};
      size_t i = 0;
      while (i < k->u.subs.n && !validate_node(&quiet, k->u.subs.v[i], v, at, ed + 1)) i++;
      if (i == k->u.subs.n) return fail_none(c, k, v, at, ed);
      break;
    }
    case K_ONEOF: {
      const vctx quiet = {NULL, false};
      size_t first = SIZE_MAX, second = SIZE_MAX;
      for (size_t i = 0; i < k->u.subs.n && second == SIZE_MAX; i++) {
        if (!validate_node(&quiet, k->u.subs.v[i], v, at, ed + 1)) continue;
        if (first == SIZE_MAX)
          first = i;
        else
          second = i;
      }
      if (first == SIZE_MAX) return fail_none(c, k, v, at, ed);
      if (second == SIZE_MAX) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, "oneOf", k->path, v);
      set_field(e->expected, sizeof e->expected, "exactly one of %zu alternatives", k->u.subs.n);
      set_message(e, "%s matches alternatives #%zu and #%zu of oneOf, but must match exactly one",
                  e->actual, first, second);
      return false;
    }
    case K_NOT: {
      const vctx quiet = {NULL, false};
      if (!validate_node(&quiet, k->u.sub, v, at, ed + 1)) break;
      if (!c->err) return false;
      ingest_error *e = begin(c, at, "not", k->path, v);
      set_field(e->expected, sizeof e->expected, "not to match %s", k->u.sub->path);
      set_message(e, "%s must not match the schema in \"not\" (%s)", e->actual, k->u.sub->path);
      return false;
    }
    }
  }
  return true;
}

int ingest_jsonschema_validate(const ingest_jsonschema *schema, ingest_value instance,
                               ingest_error *err) {
  if (schema == NULL || !ingest_value_present(instance))
    return ingest_error_set(err, INGEST_EINVAL, "", "", "no schema or no instance");
  /* without an error record nothing is ever formatted */
  const vctx c = {err, true};
  const vpath root = {NULL, NULL, 0, 0, PK_ROOT};
  return validate_node(&c, schema->root, instance, &root, 0) ? 0 : INGEST_EVALIDATE;
}

/* ------------------------------------------------------------------------ */
/* Shared with the decoders and the error records (jsonschema_internal.h):   */
/* every "actual" field of an error is rendered the same way.               */

void ingest_jsonschema__render(ingest_value v, char *buf, size_t cap) {
  if (cap == 0) return;
  sbuf b;
  sb_init(&b, buf, cap);
  sb_value(&b, v, 0);
  sb_finish(&b);
}

void ingest_jsonschema__render_text(const char *text, size_t len, bool json, char *buf,
                                    size_t cap) {
  if (cap == 0) return;
  sbuf b;
  sb_init(&b, buf, cap);
  sb_text(&b, text, len, json);
  sb_finish(&b);
}

size_t ingest_jsonschema__utf8_seq(const unsigned char *s, size_t n) {
  return n == 0 ? 0 : utf8_seq(s, n);
}
