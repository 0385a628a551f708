/*
 * libFuzzer target: JSON Schema "pattern", whose ECMA-262 regular
 * expressions are translated into POSIX EREs for regcomp (ingest/src/
 * jsonschema.c, ecma_to_ere), held against PCRE2 as the oracle. The input
 * is a pattern, a NUL byte, then subject strings separated by 0xff bytes.
 * The pattern goes through the public compiler as {"pattern": <pattern>},
 * which must compile it or refuse it at the keyword "pattern" with a
 * reason. When it compiles, and PCRE2 compiles the same pattern, every
 * subject must be found valid exactly when PCRE2 finds a match.
 *
 * Where the oracle differs from ECMA-262 the fuzzer bridges or avoids it:
 *   - PCRE2 runs with PCRE2_ALT_BSUX (\uHHHH, \xHH as in ECMA-262),
 *     PCRE2_DOLLAR_ENDONLY and the newline convention ANYCRLF, so that "$"
 *     is the end and "." excludes \n and \r as in ECMA-262;
 *   - \v is rewritten to \x0b (PCRE2 reads a class of vertical spaces), and
 *     "[" inside a class to "\[" (PCRE2 reads "[:alpha:]" as a POSIX class);
 *   - subjects are ASCII (each byte is taken modulo 128, NUL included):
 *     the translation matches "." and [^...] against one byte, not one code
 *     point (jsonschema.h), and the Unicode meanings of \s are left out;
 *   - patterns the translation accepts and PCRE2 refuses (duplicate group
 *     names, which ECMA-262 refuses too) are skipped.
 * Subjects are MessagePack strings, which may hold NUL bytes, as a
 * MessagePack payload's may: matching takes a length (REG_STARTEND).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <msgpack.h>
#include <pcre2.h>

#include "ingest/jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                  \
  do {                                             \
    fprintf(stderr, "fuzz_pattern: " __VA_ARGS__); \
    fprintf(stderr, "\n");                         \
    abort();                                       \
  } while (0)

#define MAX_SUBJECTS 8
#define MAX_SUBJECT_LEN 256

/* The pattern in PCRE2's reading of the same meaning (see the top). */
static char *for_pcre2(const char *p) {
  size_t n = strlen(p);
  char *out = malloc(4 * n + 1), *o = out;
  if (!out) abort();
  bool in_class = false;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\\' && i + 1 < n) {
      if (p[i + 1] == 'v') {
        memcpy(o, "\\x0b", 4);
        o += 4;
      } else {
        *o++ = p[i];
        *o++ = p[i + 1];
      }
      i++;
    } else if (p[i] == '[') {
      if (in_class) *o++ = '\\';
      *o++ = '[';
      if (!in_class && i + 1 < n && p[i + 1] == '^') *o++ = p[++i];
      in_class = true;
    } else {
      if (p[i] == ']') in_class = false;
      *o++ = p[i];
    }
  }
  *o = '\0';
  return out;
}

static bool valid(const ingest_jsonschema *schema, const char *s, size_t len) {
  msgpack_object str = {.type = MSGPACK_OBJECT_STR};
  str.via.str.ptr = s;
  str.via.str.size = (uint32_t)len;
  ingest_error err;
  int rc = ingest_jsonschema_validate(schema, ingest_value_from_msgpack(&str), &err);
  if (rc != 0 && (rc != INGEST_EVALIDATE || strcmp(err.keyword, "pattern")))
    FAIL("validate: %d at keyword '%s': %s", rc, err.keyword, err.message);
  return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t plen = nul ? (size_t)(nul - data) : size;
  char *pattern = malloc(plen + 1);
  if (!pattern) abort();
  memcpy(pattern, data, plen);
  pattern[plen] = '\0';

  cJSON *sdoc = cJSON_CreateObject();
  if (!sdoc || !cJSON_AddStringToObject(sdoc, "pattern", pattern)) abort();
  ingest_jsonschema *schema = NULL;
  ingest_error err;
  int rc = ingest_jsonschema_compile(sdoc, &schema, &err);
  cJSON_Delete(sdoc);
  if (rc != 0) {
    if (schema || !err.message[0] || strcmp(err.keyword, "pattern") ||
        (rc != INGEST_ESCHEMA && rc != INGEST_EUNSUPPORTED && rc != INGEST_ENOMEM))
      FAIL("compile of '%s': %d at keyword '%s': %s", pattern, rc, err.keyword, err.message);
    free(pattern);
    return 0;
  }

  char *pp = for_pcre2(pattern);
  int perr;
  PCRE2_SIZE perr_at;
  pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
  if (!cctx) abort();
  pcre2_set_newline(cctx, PCRE2_NEWLINE_ANYCRLF);
  pcre2_code *re =
      pcre2_compile((PCRE2_SPTR)pp, PCRE2_ZERO_TERMINATED,
                    PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &perr, &perr_at, cctx);
  pcre2_compile_context_free(cctx);
  pcre2_match_context *mctx = pcre2_match_context_create(NULL);
  pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
  if (!mctx) abort();
  pcre2_set_match_limit(mctx, 1000000);
  const uint8_t *rest = nul ? nul + 1 : data + size;
  size_t rsize = nul ? size - plen - 1 : 0;
  char subject[MAX_SUBJECT_LEN];
  for (size_t k = 0, pos = 0; k < MAX_SUBJECTS && pos <= rsize; k++) {
    size_t len = 0;
    for (; pos < rsize && rest[pos] != 0xff; pos++)
      if (len < MAX_SUBJECT_LEN) subject[len++] = (char)(rest[pos] & 0x7f);
    pos++; /* the separator */
    /* The subject's bytes and a NUL: with REG_STARTEND, glibc's regexec()
     * reads [0, len) only, but ASan's interceptor of regexec() reads the
     * string up to its NUL whatever the flags, and would report a read past
     * an exact copy. */
    char *exact = malloc(len + 1);
    if (!exact) abort();
    memcpy(exact, subject, len);
    exact[len] = '\0';
    bool ours = valid(schema, exact, len);
    if (re) {
      if (!md) abort();
      int m = pcre2_match(re, (PCRE2_SPTR)exact, len, 0, 0, md, mctx);
      if ((m >= 0 || m == PCRE2_ERROR_NOMATCH) && ours != (m >= 0)) {
        fprintf(stderr,
                "fuzz_pattern: pattern '%s' (PCRE2: '%s'): valid %d, PCRE2 match %d; "
                "subject:",
                pattern, pp, ours, m >= 0);
        for (size_t i = 0; i < len; i++) fprintf(stderr, " %02x", (unsigned char)exact[i]);
        fprintf(stderr, "\n");
        abort();
      }
    }
    free(exact);
  }
  pcre2_match_data_free(md);
  pcre2_match_context_free(mctx);
  pcre2_code_free(re);
  free(pp);
  ingest_jsonschema_free(schema);
  free(pattern);
  return 0;
}
