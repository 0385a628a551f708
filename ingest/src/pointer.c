/*
 * Generic helpers over ingest_value views: JSON type names and RFC 6901 JSON
 * pointers.
 *
 * A pointer is compiled once into decoded reference tokens (one allocation
 * holding the struct, the token table, the decoded bytes and the original
 * text) and resolved per message by walking the view, without allocating.
 */
#include "ingest/error.h"
#include "ingest/value.h"

#include <stdlib.h>
#include <string.h>

const char *ingest_type_name(ingest_type t) {
  switch (t) {
  case INGEST_T_NULL:
    return "null";
  case INGEST_T_BOOL:
    return "boolean";
  case INGEST_T_NUMBER:
    return "number";
  case INGEST_T_STRING:
    return "string";
  case INGEST_T_ARRAY:
    return "array";
  case INGEST_T_OBJECT:
    return "object";
  case INGEST_T_BINARY:
    return "binary";
  case INGEST_T_INVALID:
  default:
    return "absent";
  }
}

typedef struct token {
  const char *s; /* decoded: "~1" -> "/", "~0" -> "~"; may contain NUL bytes */
  size_t len;
  size_t index;  /* the array index, when is_index */
  bool is_index; /* RFC 6901 section 4: "0" or a digit 1-9 followed by digits */
} token;

struct ingest_pointer {
  size_t ntok;
  token *tok;
  const char *text; /* as compiled */
};

/* Array index per RFC 6901 section 4: no leading zeros, no sign, and it must
 * fit size_t. "-" (the element after the last) is not an index: it never
 * resolves. */
static bool parse_index(const char *s, size_t len, size_t *out) {
  if (len == 0 || (len > 1 && s[0] == '0')) return false;
  size_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    size_t d = (size_t)(s[i] - '0');
    if (v > (SIZE_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

int ingest_pointer_compile(const char *text, ingest_pointer **out) {
  if (out == NULL) return INGEST_EINVAL;
  *out = NULL;
  if (text == NULL) return INGEST_EINVAL;
  size_t tlen = strlen(text);
  /* RFC 6901 section 3: "" or a sequence of "/" reference-token */
  if (tlen > 0 && text[0] != '/') return INGEST_EINVAL;
  size_t ntok = 0;
  for (size_t i = 0; i < tlen; i++) {
    if (text[i] == '/') ntok++;
    /* "~" must be followed by "0" or "1" (escaped = "~" ( "0" / "1" )) */
    if (text[i] == '~' && (i + 1 >= tlen || (text[i + 1] != '0' && text[i + 1] != '1')))
      return INGEST_EINVAL;
  }
  /* decoded bytes never outnumber the text; + 1 for the copy's NUL */
  size_t size = sizeof(ingest_pointer) + ntok * sizeof(token) + tlen + tlen + 1;
  char *mem = malloc(size);
  if (mem == NULL) return INGEST_ENOMEM;
  ingest_pointer *p = (ingest_pointer *)(void *)mem;
  p->ntok = ntok;
  p->tok = (token *)(void *)(mem + sizeof(ingest_pointer));
  char *bytes = (char *)(p->tok + ntok);
  char *copy = bytes + tlen;
  memcpy(copy, text, tlen + 1);
  p->text = copy;

  size_t t = 0, o = 0;
  for (size_t i = 0; i < tlen;) {
    i++; /* the "/" */
    token *tk = &p->tok[t++];
    tk->s = bytes + o;
    size_t start = o;
    while (i < tlen && text[i] != '/') {
      if (text[i] == '~') {
        /* section 4: "~1" first becomes "/", then "~0" becomes "~"; decoding
         * each escape once, left to right, is equivalent ("~01" -> "~1") */
        bytes[o++] = text[i + 1] == '1' ? '/' : '~';
        i += 2;
      } else {
        bytes[o++] = text[i++];
      }
    }
    tk->len = o - start;
    tk->is_index = parse_index(tk->s, tk->len, &tk->index);
  }
  *out = p;
  return 0;
}

void ingest_pointer_free(ingest_pointer *p) { free(p); }

const char *ingest_pointer_text(const ingest_pointer *p) { return p ? p->text : ""; }

ingest_value ingest_pointer_resolve(const ingest_pointer *p, ingest_value root) {
  ingest_value absent = {NULL, NULL};
  if (p == NULL || !ingest_value_present(root)) return absent;
  ingest_value cur = root;
  for (size_t i = 0; i < p->ntok; i++) {
    const token *tk = &p->tok[i];
    ingest_type t = cur.ops->type(cur.node);
    if (t == INGEST_T_OBJECT) {
      const void *child = cur.ops->member(cur.node, tk->s, tk->len);
      if (child == NULL) return absent;
      cur.node = child;
    } else if (t == INGEST_T_ARRAY) {
      if (!tk->is_index) return absent;
      /* the view offers only sequential access: walk to the element */
      ingest_iter it = {0};
      const char *key;
      size_t key_len;
      const void *child = NULL;
      size_t n = 0;
      for (;;) {
        if (!cur.ops->next(cur.node, &it, &key, &key_len, &child)) return absent;
        if (n++ == tk->index) break;
      }
      cur.node = child;
    } else {
      return absent;
    }
  }
  return cur;
}
