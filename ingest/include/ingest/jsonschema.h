/*
 * JSON Schema 2020-12, the subset this project supports, compiled once at load
 * into a tree of checks and evaluated per message without allocating.
 *
 * Supported keywords (exact 2020-12 semantics):
 *   type (string or array of strings; "integer" matches any number with a zero
 *   fractional part, 1.0 included), properties, required, additionalProperties
 *   (boolean or schema), enum, const, minimum, maximum, exclusiveMinimum,
 *   exclusiveMaximum, multipleOf, minLength, maxLength (in Unicode code
 *   points), pattern, items, prefixItems, minItems, maxItems, $ref to local
 *   "#/$defs/..." (and "#"), $defs, allOf, anyOf, oneOf, not,
 *   format "date-time" (RFC 3339 section 5.6, asserted, not just annotated).
 * Accepted and ignored as annotations: $schema (2020-12 only), $id (root
 *   only), $comment, title,
 *   description, examples, default, deprecated, readOnly, writeOnly, and every
 *   key starting with "x-" (our mapping section lives in "x-tsdb").
 * Any other keyword makes compilation fail with INGEST_EUNSUPPORTED naming the
 * keyword and its schema path: a schema is never half-understood.
 *
 * Details and the few deliberate limits:
 *   - Keyword values of the wrong kind ("minimum": "3", "required": "a",
 *     "items": [..] which is draft-07 syntax, multipleOf <= 0, a non-integer
 *     length, duplicate keys in a schema object) fail with INGEST_ESCHEMA.
 *   - $schema, when present, must be the 2020-12 meta-schema URI, else
 *     INGEST_EUNSUPPORTED (another draft means other semantics). $id is only
 *     accepted at the root: below it, it would change how $ref resolves.
 *   - $ref: "#" or "#/json/pointer" into this document (percent-encoding of
 *     the URI fragment is decoded, RFC 6901 section 6), to $defs or any other
 *     subschema. Other documents and anchors ("#name") are INGEST_EUNSUPPORTED.
 *     Recursive schemas are fine; a cycle that never moves into the instance
 *     ({"$ref": "#"} alone, or through allOf/anyOf/oneOf/not only) would never
 *     end and is refused at compile time with INGEST_ESCHEMA. Siblings of
 *     $ref are applied as well (2020-12). Every $defs entry is compiled, used
 *     or not.
 *   - format: only "date-time" (others are INGEST_EUNSUPPORTED rather than
 *     silently unchecked). "T"/"Z" may be lowercase; a space separator is
 *     refused; second 60 only at 23:59 UTC; see ingest_rfc3339_parse().
 *   - Numbers: comparisons are exact for integers (int64, including msgpack
 *     values beyond 2^53) and IEEE doubles otherwise. multipleOf tolerates
 *     the rounding of decimal fractions (0.3 is a multiple of 0.1) by a
 *     relative 4-epsilon check on the quotient. Infinities (1e400 read by
 *     cJSON) and NaN (msgpack) are numbers, never integers, and fail every
 *     numeric keyword and const/enum.
 *   - Strings: minLength/maxLength count code points; a string that is not
 *     valid UTF-8 fails them (other keywords compare bytes).
 *   - MessagePack bin/ext values match no JSON type and equal no const.
 *   - pattern: ECMA-262 syntax, translated at compile time into a POSIX
 *     extended regex (regcomp REG_EXTENDED), matched as a search (unanchored
 *     unless ^/$ are written). Supported: literals, ".", "^", "$", "|",
 *     groups "(...)", "(?:...)", "(?<name>...)", quantifiers * + ? {n}
 *     {n,} {n,m} (lazy forms accepted: laziness cannot change whether a match
 *     exists), classes [...] and [^...] of ASCII characters and ranges,
 *     \d \w \s \D \W \S (ASCII meanings; \s without the non-ASCII
 *     Unicode spaces), escapes \t \n \r \f \v \xHH \uHHHH and escaped
 *     punctuation. Non-ASCII literals outside classes are matched as their
 *     UTF-8 bytes (one code point is one quantifiable atom). Refused
 *     (INGEST_EUNSUPPORTED): lookahead/lookbehind, backreferences, \b \B,
 *     \p{..}, \c, non-ASCII characters inside [...], [] and [^], "^" or "$"
 *     anywhere but the ends of the pattern or of a top-level alternative
 *     (where glibc's line-anchor behaviour beside a newline could differ from
 *     ECMA-262's); refused as
 *     malformed (INGEST_ESCHEMA): unbalanced groups, dangling quantifiers,
 *     an unescaped "{" that is not a quantifier, and anything regcomp rejects
 *     (its message is included). "." and [^...] match one byte of a
 *     multi-byte character, not the character, unless the process runs in a
 *     UTF-8 LC_CTYPE; "." does not match "\n" or "\r" (as in ECMA-262).
 *     Matching uses regexec() with REG_STARTEND (no copy, no NUL needed);
 *     glibc's regexec may allocate internally: "pattern" is the one keyword
 *     whose evaluation is not allocation-free.
 *     Compiling one is bounded (INGEST_ESCHEMA at the pattern's path
 *     beyond): at most 4096 bytes, counts of {n,m} at most 255 (POSIX's
 *     least RE_DUP_MAX), groups nested at most 32 deep, and what regcomp
 *     may allocate, estimated from the pattern's structure (nested and
 *     optional repetitions multiply: "9-]{1,13102}$" made glibc take more
 *     than 2 GB), at most 8 MiB per pattern and 32 MiB for all the
 *     patterns of a schema.
 *   - Depth: a value nested more than 64 levels below the root is refused
 *     (keyword of the applicator that reached it) when the schema descends
 *     that far; schema nesting is limited to 200 levels at compile time.
 *
 * Errors: the keywords of a schema object are checked in the order they are
 * written, except that properties + additionalProperties are checked together
 * in one pass over the instance's members (in the instance's order) at the
 * place of the first of them, and prefixItems + items likewise. The first
 * failure in that order is reported: pointer is its instance location,
 * schema_path the location of the failing keyword in the schema document
 * (where a $ref leads, not the path through the $ref), keyword, expected,
 * actual (the value, compact JSON; for "type" the instance's type name) and a
 * one-sentence message starting with the pointer ("(root)" for the whole
 * message). anyOf/oneOf failures are reported at the anyOf/oneOf itself, with
 * the alternative that came closest (the failure deepest in the instance) in
 * the message. "required" reports the object's location.
 */
#ifndef INGEST_JSONSCHEMA_H
#define INGEST_JSONSCHEMA_H

#include "ingest/error.h"
#include "ingest/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingest_jsonschema ingest_jsonschema;

/*
 * Compiles a schema document (a cJSON tree, borrowed for the call only).
 * On failure returns INGEST_ESCHEMA or INGEST_EUNSUPPORTED and fills err
 * (schema_path, keyword, message). The result is immutable and may be used
 * from any number of threads at once.
 */
int ingest_jsonschema_compile(const void *cjson_schema, ingest_jsonschema **out, ingest_error *err);
void ingest_jsonschema_free(ingest_jsonschema *schema);

/*
 * Validates an instance. Returns 0 when valid, else INGEST_EVALIDATE with the
 * FIRST failure in err (pointer, keyword, schema_path, expected, actual,
 * message). Never allocates (but see "pattern" above). Reentrant.
 * err may be NULL: nothing is formatted then (the fastest way to ask "is it
 * valid?"). A valid instance leaves err untouched. INGEST_EINVAL when schema
 * is NULL or the instance view is absent.
 */
int ingest_jsonschema_validate(const ingest_jsonschema *schema, ingest_value instance,
                               ingest_error *err);

/*
 * RFC 3339 date-time ("2026-11-26T09:15:46.014773143Z", offsets allowed) to
 * milliseconds since the Unix epoch (fractions below 1 ms are truncated).
 * Returns 0, or INGEST_ETIMESTAMP when the text is not a valid date-time.
 * Exactly len bytes are read (no NUL needed). Years 0000-9999, real month
 * lengths with Gregorian leap years, hour 00-23, minute 00-59, second 00-60
 * where 60 (a leap second) is only valid at 23:59 UTC and counts as the first
 * second of the next minute; offsets +-HH:MM up to 23:59; "t"/"z" lowercase
 * accepted (RFC 3339 5.6 NOTE), a space instead of "T" is not. No locale,
 * time zone or other global state is used.
 */
int ingest_rfc3339_parse(const char *text, size_t len, int64_t *ms);

#ifdef __cplusplus
}
#endif

#endif /* INGEST_JSONSCHEMA_H */
