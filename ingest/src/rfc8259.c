/*
 * RFC 8259 JSON text syntax, checked in one pass before cJSON builds a tree.
 *
 * Why a pass of our own: cJSON 1.7.15 is lenient where RFC 8259 is not, and
 * some of its leniencies change what a message says. It reads "017" as 17,
 * "1." and "1e" as 1, "\uZZZZ" as an empty character; it takes every byte up
 * to 0x20 (NUL, form feed, other control bytes) as whitespace, raw control
 * characters and invalid UTF-8 inside strings, a byte order mark; and a
 * "\u0000" escape ends its NUL-terminated strings early, so that
 * "2026-11-26T09:15:00Z\u0000junk" is validated as a date-time and a SenML
 * name "t\u0000x" is stored as "t". jansson is strict, but builds its tree
 * at about 2.5 times cJSON's cost on the broker thread; this pass costs a
 * fraction of cJSON's parse, and cJSON then only ever sees valid JSON.
 *
 * The grammar is RFC 8259 sections 2-7: ws is space, tab, LF, CR (section
 * 2); literals true, false, null (section 3); objects and arrays without
 * trailing commas (sections 4, 5); numbers as section 6's ABNF; strings
 * with the escapes of section 7 and no unescaped character below U+0020.
 * Text is UTF-8 (section 8.1), checked with RFC 3629 section 4's table (no
 * overlongs, no encoded surrogates, nothing above U+10FFFF); a byte order
 * mark is refused (section 8.1 lets a parser ignore one, but senders must
 * not add it: one rule, the oracle's, is simpler to state and test).
 *
 * Two texts that match the ABNF are refused, each with its own reason:
 *   - a lone surrogate escape ("\ud800" not followed by a low surrogate
 *     escape, or "\udc00" alone). Section 8.2 notes such strings match the
 *     grammar but make receivers behave unpredictably; they stand for no
 *     Unicode character, have no UTF-8 form (RFC 3629 section 3), and every
 *     string we keep is UTF-8. cJSON and jansson refuse them as well.
 *   - "\u0000" (INGEST_RFC8259_NUL): a valid character, but cJSON's strings
 *     are NUL-terminated and would be cut at it. Refused rather than
 *     truncated; the caller says so.
 * Nesting is bounded by the caller (cJSON's CJSON_NESTING_LIMIT), checked
 * here so that the reason is precise.
 *
 * It also compares the member names of each object as they go by (RFC
 * 8259 section 4 says names SHOULD be unique; we refuse a name twice, see
 * members.c for why), so that a sensor message needs no second walk.
 *
 * The pass is a small state machine over the bytes with a bit stack of open
 * containers (object or array). Plain string bytes are skipped eight at a
 * time (a SWAR test for '"', '\\', control and non-ASCII bytes), because
 * strings are most of a sensor message's bytes. About 130 ns for a
 * 186-byte, 9-member message on the 2-core VM of issue 12, where cJSON's
 * parse and delete of it take about 850 ns.
 */
#include "rfc8259.h"

#include <stdint.h>
#include <string.h>

#include "jsonschema_internal.h"

/* The deepest nesting this pass can track (a bit per level). */
#define MAX_LEVELS 4096

/* Member names of the open objects, to find one twice (RFC 8259 section 4)
 * while the text goes by: a 64-bit fingerprint per name, compared with the
 * names before it in its object, bytes compared only when fingerprints are
 * equal. A sensor message's objects have a few names, so this costs a few
 * integer comparisons per name; an object of more than NAME_SLOTS names (in
 * all open objects together), deeper than NAME_LEVELS, or a name with an
 * escape (equal names may be written differently) is left to members.c,
 * which sorts (r->names_unchecked). */
enum { NAME_SLOTS = 64, NAME_LEVELS = 64 };

typedef struct names {
  uint64_t bloom[NAME_LEVELS]; /* per open object: bit fp >> 58 of each name */
  uint64_t fp[NAME_SLOTS];
  const unsigned char *at[NAME_SLOTS]; /* the name's bytes, after its quote */
  size_t len[NAME_SLOTS];
  unsigned n;                 /* names held for the open objects */
  unsigned base[NAME_LEVELS]; /* where each open object's names start */
} names;

typedef struct scan {
  const unsigned char *base, *end;
  ingest_rfc8259_result *r;
  ingest_rfc8259_status found; /* the first \u0000 or duplicate name: r says where */
  bool escaped;                /* the last string had an escape */
  names nm;
} scan;

static bool level_is_object(const uint64_t *object, unsigned d) {
  return (object[d / 64] >> (d % 64)) & 1;
}

static void set_level(uint64_t *object, unsigned d, bool is_object) {
  if (is_object)
    object[d / 64] |= UINT64_C(1) << (d % 64);
  else
    object[d / 64] &= ~(UINT64_C(1) << (d % 64));
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Inlined: it runs before every token, and mostly finds nothing to skip. */
static inline __attribute__((always_inline)) const unsigned char *skip_ws(
    const unsigned char *p, const unsigned char *end) {
  while (p < end && *p <= ' ' && is_ws(*p)) p++; /* compact JSON: one comparison */
  return p;
}

/* Records a syntax error; returns NULL for the token scanners. Cold: the
 * compiler keeps it out of the way of the paths valid text takes. */
__attribute__((cold)) static const unsigned char *fail(scan *sc, const unsigned char *where,
                                                       const unsigned char *token, bool in_name,
                                                       const char *why) {
  sc->r->where = (size_t)(where - sc->base);
  sc->r->token = (size_t)(token - sc->base);
  sc->r->in_name = in_name;
  sc->r->why = why;
  return NULL;
}

static const char *const ends_early = "the payload ends before the JSON text is complete";

/* A byte that ends a run of plain string bytes. */
static bool special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

/* Nonzero when one of the eight bytes of w is special(): the high bit of
 * each such byte. The "has a byte less than n" test of the Bit Twiddling
 * Hacks collection, for n = 0x20 and for zero after XOR with '"' and '\\',
 * plus the high bit itself. It never misses a byte; a borrow only carries
 * upward from a true hit, so the lowest flagged byte is always a true one. */
static uint64_t special8(uint64_t w) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

static long hex4(const unsigned char *p, const unsigned char *end) {
  if (end - p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    int h = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* A string at p (on its opening quote); returns the byte after its closing
 * quote, or NULL. */
static const unsigned char *string(scan *sc, const unsigned char *p, bool name) {
  const unsigned char *start = p, *end = sc->end;
  p++;
  sc->escaped = false;
  for (;;) {
    if (end - p >= 8) {
      uint64_t w, hit;
      memcpy(&w, p, 8);
      if ((hit = special8(w)) == 0) {
        p += 8;
        continue;
      }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      /* The lowest flagged byte is a true hit: straight to it. */
      p += (unsigned)__builtin_ctzll(hit) / 8;
#else
      while (!special(*p)) p++;
#endif
    } else {
      while (p < end && !special(*p)) p++;
      if (p == end) return fail(sc, end, start, name, ends_early);
    }
    unsigned char c = *p;
    if (c == '"') return p + 1;
    if (c >= 0x80) {
      size_t n = ingest_jsonschema__utf8_seq(p, (size_t)(end - p));
      if (n == 0)
        return fail(sc, p, start, name,
                    "a string holds bytes that are not UTF-8 (RFC 8259 section 8.1, RFC 3629 "
                    "section 4)");
      p += n;
      continue;
    }
    if (c < 0x20)
      return fail(sc, p, start, name,
                  "a control character (below U+0020) in a string must be escaped (RFC 8259 "
                  "section 7)");
    /* A backslash. */
    sc->escaped = true;
    if (end - p < 2) return fail(sc, end, start, name, ends_early);
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      p += 2;
      continue;
    case 'u':
      break;
    default:
      return fail(sc, p, start, name,
                  "invalid escape: RFC 8259 section 7 allows only \\\" \\\\ \\/ \\b \\f \\n \\r "
                  "\\t and \\uXXXX");
    }
    long cp = hex4(p + 2, end);
    if (cp < 0) {
      if (end - p < 6) return fail(sc, end, start, name, ends_early);
      return fail(sc, p, start, name,
                  "\\u must be followed by four hex digits (RFC 8259 section 7)");
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      /* Section 7: a character above U+FFFF is a high then a low
       * surrogate escape; anything else is a lone surrogate (see above). */
      long lo =
          cp <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8, end) : -1;
      if (!(lo >= 0xDC00 && lo <= 0xDFFF)) {
        if (cp <= 0xDBFF && end - p < 12 && (end - p < 7 || p[6] == '\\'))
          return fail(sc, end, start, name, ends_early);
        return fail(sc, p, start, name,
                    "a lone surrogate escape is no Unicode character (RFC 8259 section 8.2) "
                    "and has no UTF-8 form");
      }
      p += 12;
      continue;
    }
    if (cp == 0 && sc->found == INGEST_RFC8259_OK) {
      sc->found = INGEST_RFC8259_NUL;
      sc->r->where = (size_t)(p - sc->base);
      sc->r->token = (size_t)(start - sc->base);
      sc->r->in_name = name;
      sc->r->why = "a string holds \\u0000 (U+0000)";
    }
    p += 6;
  }
}

/* Of the name s[0..n), followed by at least one byte (its closing quote)
 * before end: its first and last 8 bytes and its length, mixed. */
static uint64_t fingerprint(const unsigned char *s, size_t n, const unsigned char *end) {
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
  } else {
    /* Byte i at bits 8i, however the bytes are read: a name near the end
     * of the text and the same name before it must mix alike. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - s >= 8) {
      memcpy(&a, s, 8);
      a &= (UINT64_C(1) << (8 * n)) - 1;
    } else
#endif
      for (size_t i = 0; i < n; i++) a |= (uint64_t)s[i] << (8 * i);
  }
  return (a * 0x9E3779B97F4A7C15u) ^ (b * 0xC2B2AE3D27D4EB4Fu) ^ n;
}

/* The name that the string at token (its quote) up to end (after its
 * closing quote) holds, in the object at level d. */
static void name_seen(scan *sc, unsigned d, const unsigned char *token, const unsigned char *end) {
  names *nm = &sc->nm;
  if (sc->r->names_unchecked || sc->found != INGEST_RFC8259_OK) return;
  if (d >= NAME_LEVELS || sc->escaped || nm->n == NAME_SLOTS) {
    sc->r->names_unchecked = true;
    return;
  }
  const unsigned char *s = token + 1;
  size_t n = (size_t)(end - 1 - s);
  uint64_t fp = fingerprint(s, n, sc->end), bit = UINT64_C(1) << (fp >> 58);
  /* Most names meet no name of their object with the same bloom bit. */
  for (unsigned i = nm->bloom[d] & bit ? nm->base[d] : nm->n; i < nm->n; i++) {
    if (nm->fp[i] == fp && nm->len[i] == n && memcmp(nm->at[i], s, n) == 0) {
      sc->found = INGEST_RFC8259_DUPLICATE;
      sc->r->where = sc->r->token = (size_t)(token - sc->base);
      sc->r->len = n;
      sc->r->in_name = true;
      sc->r->why = "a member name appears twice in one object (RFC 8259 section 4)";
      return;
    }
  }
  nm->bloom[d] |= bit;
  nm->fp[nm->n] = fp;
  nm->at[nm->n] = s;
  nm->len[nm->n] = n;
  nm->n++;
}

/* A number at p (on '-' or a digit), RFC 8259 section 6:
 *   [ "-" ] ( "0" / digit1-9 *digit ) [ "." 1*digit ] [ ("e"/"E") [ "+"/"-" ] 1*digit ] */
static const unsigned char *number(scan *sc, const unsigned char *p) {
  const unsigned char *start = p, *end = sc->end;
  if (*p == '-' && (++p == end || !is_digit(*p)))
    return fail(sc, p, start, false, "a '-' must be followed by a digit (RFC 8259 section 6)");
  if (*p == '0') {
    if (++p < end && is_digit(*p))
      return fail(sc, p, start, false, "a number has no leading zeros (RFC 8259 section 6)");
  } else {
    while (p < end && is_digit(*p)) p++;
  }
  if (p < end && *p == '.') {
    if (++p == end || !is_digit(*p))
      return fail(sc, p, start, false,
                  "a '.' in a number must be followed by a digit (RFC 8259 section 6)");
    while (p < end && is_digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !is_digit(*p))
      return fail(sc, p, start, false, "an exponent needs a digit (RFC 8259 section 6)");
    while (p < end && is_digit(*p)) p++;
  }
  return p;
}

static const unsigned char *literal(scan *sc, const unsigned char *p, const char *word, size_t n) {
  if ((size_t)(sc->end - p) >= n && !memcmp(p, word, n)) return p + n;
  if ((size_t)(sc->end - p) < n && !memcmp(p, word, (size_t)(sc->end - p)))
    return fail(sc, sc->end, p, false, ends_early);
  return fail(sc, p, p, false,
              "not a JSON value: the literals are true, false and null (RFC 8259 section 3)");
}

/* Why c cannot start a value. */
static const char *not_a_value(unsigned char c) {
  switch (c) {
  case '+':
    return "a number cannot start with '+' (RFC 8259 section 6)";
  case '.':
    return "a number cannot start with '.' (RFC 8259 section 6)";
  case 'N':
  case 'I':
    return "NaN and Infinity are not JSON numbers (RFC 8259 section 6)";
  case '\'':
    return "strings are in double quotes (RFC 8259 section 7)";
  case ']':
  case '}':
  case ',':
  case ':':
    return "a value is missing (RFC 8259 section 3)";
  default:
    return "not a JSON value (RFC 8259 section 3)";
  }
}

ingest_rfc8259_status ingest_rfc8259__check(const char *text, size_t len, unsigned max_depth,
                                            ingest_rfc8259_result *r) {
  scan sc;
  sc.base = (const unsigned char *)text;
  sc.end = sc.base + len;
  sc.r = r;
  sc.found = INGEST_RFC8259_OK;
  sc.nm.n = 0;
  r->names_unchecked = false;
  const unsigned char *p = sc.base, *end = sc.end;
  uint64_t object[MAX_LEVELS / 64]; /* bit d: level d is an object */
  unsigned depth = 0;
  if (max_depth > MAX_LEVELS) max_depth = MAX_LEVELS;
  if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
    fail(&sc, p, p, false,
         "the payload starts with a byte order mark, which senders must not add (RFC 8259 "
         "section 8.1)");
    return INGEST_RFC8259_INVALID;
  }

value:
  p = skip_ws(p, end);
  if (p == end) {
    fail(&sc, end, end, false, len == 0 ? "the payload is empty" : ends_early);
    return INGEST_RFC8259_INVALID;
  }
  switch (*p) {
  case '{':
  case '[':
    if (depth == max_depth) {
      r->where = r->token = (size_t)(p - sc.base);
      r->in_name = false;
      r->why = "objects and arrays are nested too deep";
      return INGEST_RFC8259_DEEP;
    }
    set_level(object, depth, *p == '{');
    depth++;
    if (*p == '{') {
      if (depth - 1 < NAME_LEVELS) {
        sc.nm.base[depth - 1] = sc.nm.n;
        sc.nm.bloom[depth - 1] = 0;
      }
      p = skip_ws(p + 1, end);
      if (p < end && *p == '}') {
        p++;
        depth--;
        goto after;
      }
      goto name;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
      p++;
      depth--;
      goto after;
    }
    goto value;
  case '"':
    p = string(&sc, p, false);
    break;
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    p = number(&sc, p);
    break;
  case 't':
    p = literal(&sc, p, "true", 4);
    break;
  case 'f':
    p = literal(&sc, p, "false", 5);
    break;
  case 'n':
    p = literal(&sc, p, "null", 4);
    break;
  default:
    fail(&sc, p, p, false, not_a_value(*p));
    return INGEST_RFC8259_INVALID;
  }
  if (p == NULL) return INGEST_RFC8259_INVALID;
  goto after;

name: /* p is past whitespace */
  if (p == end) {
    fail(&sc, end, end, false, ends_early);
    return INGEST_RFC8259_INVALID;
  }
  if (*p != '"') {
    fail(&sc, p, p, false, "a member name is a string in double quotes (RFC 8259 section 4)");
    return INGEST_RFC8259_INVALID;
  }
  {
    const unsigned char *token = p;
    p = string(&sc, p, true);
    if (p == NULL) return INGEST_RFC8259_INVALID;
    name_seen(&sc, depth - 1, token, p);
  }
  p = skip_ws(p, end);
  if (p == end || *p != ':') {
    fail(&sc, p, p, false,
         p == end ? ends_early : "a member name must be followed by ':' (RFC 8259 section 4)");
    return INGEST_RFC8259_INVALID;
  }
  p++;
  goto value;

after:
  p = skip_ws(p, end);
  if (depth == 0) {
    if (p != end) {
      fail(&sc, p, p, false, "the payload has bytes after the JSON value (RFC 8259 section 2)");
      return INGEST_RFC8259_INVALID;
    }
    return sc.found;
  }
  if (p == end) {
    fail(&sc, end, end, false, ends_early);
    return INGEST_RFC8259_INVALID;
  }
  bool in_object = level_is_object(object, depth - 1);
  unsigned char close = in_object ? '}' : ']';
  if (*p == ',') {
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) {
      fail(&sc, p, p, false,
           "a ',' must be followed by another member or element: no trailing commas (RFC 8259 "
           "sections 4 and 5)");
      return INGEST_RFC8259_INVALID;
    }
    if (in_object) goto name;
    goto value;
  }
  if (*p == close) {
    p++;
    depth--;
    if (in_object && depth < NAME_LEVELS) sc.nm.n = sc.nm.base[depth];
    goto after;
  }
  fail(&sc, p, p, false,
       in_object
           ? "members are separated by ',' and the object ends with '}' (RFC 8259 section 4)"
           : "elements are separated by ',' and the array ends with ']' (RFC 8259 section 5)");
  return INGEST_RFC8259_INVALID;
}

/* ------------------------------------------------------------------------ */
/* The pointer of a byte offset (error path only)                           */

typedef struct pbuf {
  char *p;
  size_t cap, len;
  bool over;
} pbuf;

static void pb_put(pbuf *b, const char *s, size_t n) {
  if (b->over) return;
  if (n > b->cap - 1 - b->len) {
    n = b->cap - 1 - b->len;
    b->over = true;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void pb_cp(pbuf *b, unsigned long cp) {
  char u[4];
  size_t n;
  if (cp == 0) cp = 0xFFFD; /* a C string cannot hold it */
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  if (n == 1 && (u[0] == '~' || u[0] == '/'))
    pb_put(b, u[0] == '~' ? "~0" : "~1", 2); /* RFC 6901 section 3 */
  else
    pb_put(b, u, n);
}

/* One reference token: the member name s[0..n) as it is written between
 * its quotes (escapes decoded), or an array index. */
static void pb_name(pbuf *b, const unsigned char *s, size_t n) {
  pb_put(b, "/", 1);
  for (size_t i = 0; i < n && !b->over;) {
    if (s[i] != '\\') {
      size_t k = s[i] < 0x80 ? 1 : ingest_jsonschema__utf8_seq(s + i, n - i);
      if (k == 0) {
        pb_cp(b, 0xFFFD);
        i++;
      } else if (k == 1) {
        pb_cp(b, s[i]);
        i++;
      } else {
        pb_put(b, (const char *)s + i, k);
        i += k;
      }
      continue;
    }
    if (i + 1 >= n) break;
    unsigned char e = s[i + 1];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *at = memchr(from, e, sizeof from - 1);
    if (at) {
      pb_cp(b, (unsigned char)to[at - from]);
      i += 2;
      continue;
    }
    long cp = hex4(s + i + 2, s + n);
    if (cp < 0) break;
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
      long lo = hex4(s + i + 2, s + n);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      }
    }
    pb_cp(b, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : (unsigned long)cp);
  }
}

/* The end of the string that starts at s[i] (its opening quote): the byte
 * after the closing quote, or n. */
static size_t string_end(const unsigned char *s, size_t i, size_t n) {
  for (i++; i < n; i++) {
    if (s[i] == '\\')
      i++;
    else if (s[i] == '"')
      return i + 1;
  }
  return n;
}

void ingest_rfc8259__pointer(const char *text, size_t len, size_t at, char *buf, size_t cap) {
  enum { FRAMES = 96 }; /* more tokens than a pointer field can show */
  struct {
    size_t name, name_len; /* objects: the current member's name, as written */
    size_t index;          /* arrays: the current element */
  } frame[FRAMES];
  uint64_t object[MAX_LEVELS / 64];
  /* S_VALUE: at or in a value (of the innermost container's current member
   * or element); S_NAME: where a member name or '}' is; S_AFTER: after a
   * value, where ',' or the closing bracket is. */
  enum { S_VALUE, S_NAME, S_AFTER } state = S_VALUE;
  const unsigned char *s = (const unsigned char *)text;
  unsigned depth = 0;
  size_t i = 0;
  if (cap == 0) return;
  buf[0] = '\0';
  if (at > len) at = len;
  for (;;) {
    while (i < at && is_ws(s[i])) i++;
    if (i >= at) break;
    unsigned char c = s[i];
    if (state == S_VALUE && (c == '{' || c == '[')) {
      if (depth == MAX_LEVELS) break;
      set_level(object, depth, c == '{');
      if (depth < FRAMES) frame[depth].index = 0;
      depth++;
      i++;
      state = c == '{' ? S_NAME : S_VALUE;
      if (c == '[') { /* an empty array has no element 0 */
        size_t k = i;
        while (k < len && is_ws(s[k])) k++;
        if (k < len && s[k] == ']') state = S_AFTER;
      }
    } else if (state == S_VALUE) {
      size_t next = i;
      if (c == '"') {
        next = string_end(s, i, len);
      } else {
        while (next < len && !is_ws(s[next]) && s[next] != ',' && s[next] != ']' && s[next] != '}')
          next++;
      }
      if (at < next) break; /* inside this scalar */
      i = next;
      state = S_AFTER;
    } else if (state == S_NAME && c == '"') {
      size_t next = string_end(s, i, len);
      if (at < next) break; /* inside the name: the object's pointer */
      if (depth <= FRAMES) {
        frame[depth - 1].name = i + 1;
        frame[depth - 1].name_len = next - i - 2;
      }
      i = next;
      while (i < at && is_ws(s[i])) i++;
      if (i >= at || s[i] != ':') break;
      i++;
      state = S_VALUE;
    } else if (depth > 0 && c == ',') {
      i++;
      state = level_is_object(object, depth - 1) ? S_NAME : S_VALUE;
      if (state == S_VALUE && depth <= FRAMES) frame[depth - 1].index++;
    } else if (depth > 0 && (c == '}' || c == ']')) {
      i++;
      depth--;
      state = S_AFTER;
    } else {
      break; /* the problem itself, or after the value */
    }
    if (depth == 0 && state == S_AFTER) break;
  }
  /* Every open container's current member or element, except the
   * innermost one's when `at` is not at or in one of its values. */
  unsigned shown = state == S_VALUE || depth == 0 ? depth : depth - 1;
  pbuf b = {buf, cap, 0, false};
  for (unsigned d = 0; d < shown && d < FRAMES && !b.over; d++) {
    if (level_is_object(object, d)) {
      pb_name(&b, s + frame[d].name, frame[d].name_len);
    } else {
      char rev[24];
      size_t n = 0, v = frame[d].index;
      do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
      } while (v);
      pb_put(&b, "/", 1);
      while (n > 0) pb_put(&b, &rev[--n], 1);
    }
  }
  if (shown > FRAMES) b.over = true;
  if (b.over && cap >= 4) {
    size_t cut = b.len < cap - 4 ? b.len : cap - 4;
    while (cut > 0 && ((unsigned char)buf[cut] & 0xC0) == 0x80) cut--;
    memcpy(buf + cut, "...", 4);
  }
}
