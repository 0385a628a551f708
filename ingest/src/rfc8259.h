/*
 * RFC 8259 JSON text syntax: the strict check that runs before cJSON builds a
 * tree (rfc8259.c). Nothing here is public.
 */
#ifndef INGEST_RFC8259_H
#define INGEST_RFC8259_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ingest_rfc8259_status {
  INGEST_RFC8259_OK = 0,
  /* Not a JSON text: why says what is wrong, at where. */
  INGEST_RFC8259_INVALID,
  /* A JSON text nested deeper than the limit (where: the opening bracket
   * that went too deep); the rest was not read. */
  INGEST_RFC8259_DEEP,
  /* A valid JSON text holding a string with a \u0000 escape (where: the
   * escape), which a NUL-terminated string cannot keep. */
  INGEST_RFC8259_NUL,
  /* A valid JSON text with a member name twice in one object (token: the
   * second one, len bytes between its quotes, no escapes). */
  INGEST_RFC8259_DUPLICATE
} ingest_rfc8259_status;

typedef struct ingest_rfc8259_result {
  size_t where; /* byte offset of the problem */
  size_t token; /* start of the token at fault (string, number, literal) */
  size_t len;   /* DUPLICATE: the length of the name */
  bool in_name; /* that token is a member name */
  /* Always set: some member names were not compared (an escape in a name,
   * very wide or deep objects); when the check passes, members.c must look
   * for duplicates in the tree. */
  bool names_unchecked;
  const char *why; /* static text naming the rule, with its RFC section */
} ingest_rfc8259_result;

/*
 * Checks that text[0..len) is exactly one JSON text (RFC 8259 sections 2-7):
 * whitespace is only space, tab, LF and CR; numbers follow section 6 (no
 * leading zeros, no "1.", no "+1", no NaN); strings hold no unescaped
 * control characters, only the escapes of section 7, no lone surrogate
 * (section 8.2, see rfc8259.c), and valid UTF-8 (RFC 3629 section 4); no
 * byte order mark and nothing but whitespace after the value. Containers
 * nest at most max_depth levels. Member names are compared within each
 * object as they go by (see names_unchecked). A syntax error wins over a
 * \u0000 or a duplicate name found before it, so INGEST_RFC8259_NUL and
 * _DUPLICATE mean the text is otherwise valid JSON; of those two, the first
 * in the text is reported. Allocates nothing; reentrant. r is filled unless
 * the result is OK (names_unchecked always).
 */
ingest_rfc8259_status ingest_rfc8259__check(const char *text, size_t len, unsigned max_depth,
                                            ingest_rfc8259_result *r);

/*
 * The RFC 6901 JSON pointer of the value that holds byte `at` of text, whose
 * bytes before `at` are a valid beginning of a JSON text (as check() leaves
 * them before the problem it reports): the member or element at `at`, or the
 * object or array when `at` is between its values or in a member name. ""
 * is the whole text. Written into buf (cap bytes, NUL-terminated), cut at a
 * UTF-8 boundary and ended in "..." when longer; invalid bytes and U+0000 in
 * names become U+FFFD. Error path only: it scans the text again.
 */
void ingest_rfc8259__pointer(const char *text, size_t len, size_t at, char *buf, size_t cap);

#endif /* INGEST_RFC8259_H */
