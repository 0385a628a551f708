/* The PromQL front end's modules and what they share. Internal. */
#ifndef TSDB_PROMQL_INTERNAL_H
#define TSDB_PROMQL_INTERNAL_H

#include <stdarg.h>

#include "promql.h"

/* ---- ast.c: the arena a query's tree lives in ---- */
typedef struct tsdb_promql_block tsdb_promql_block;
typedef struct tsdb_promql_relist tsdb_promql_relist;
struct tsdb_promql_query {
  tsdb_promql_node *root;
  tsdb_promql_block *blocks;
  tsdb_promql_relist *regexes; /* freed with the query */
  const char *text;            /* a copy of the query, for the check pass' positions */
  size_t text_len;
};
/* Zeroed memory from the query's arena, or NULL when out of memory. */
void *tsdb_promql_ast__alloc(tsdb_promql_query *q, size_t size);
/* Keeps re to free it with q; false when out of memory (re is then freed). */
bool tsdb_promql_ast__own_regex(tsdb_promql_query *q, tsdb_promql_regex *re);

/* ---- lex.c ---- */
typedef enum tsdb_promql_tok {
  TOK_EOF,
  TOK_ERROR,
  TOK_IDENT,        /* [a-zA-Z_][a-zA-Z0-9_]* (keywords included) */
  TOK_METRIC_IDENT, /* an identifier with a colon: a metric name only */
  TOK_NUMBER,
  TOK_DURATION,
  TOK_STRING,
  TOK_LPAREN,
  TOK_RPAREN,
  TOK_LBRACE,
  TOK_RBRACE,
  TOK_LBRACKET,
  TOK_RBRACKET,
  TOK_COMMA,
  TOK_COLON,
  TOK_AT,
  TOK_ASSIGN,    /* = */
  TOK_EQLC,      /* == */
  TOK_NEQ,       /* != */
  TOK_EQL_REGEX, /* =~ */
  TOK_NEQ_REGEX, /* !~ */
  TOK_LSS,
  TOK_LTE,
  TOK_GTR,
  TOK_GTE,
  TOK_ADD,
  TOK_SUB,
  TOK_MUL,
  TOK_DIV,
  TOK_MOD,
  TOK_POW
} tsdb_promql_tok;

typedef struct tsdb_promql_token {
  tsdb_promql_tok type;
  size_t pos, len;
  const char *errmsg; /* for TOK_ERROR: static text, or the lexer's buffer */
} tsdb_promql_token;

typedef struct tsdb_promql_lexer {
  const char *text;
  size_t len, pos;
  bool in_brackets; /* a colon is TOK_COLON, not part of a name */
  char errbuf[128];
} tsdb_promql_lexer;

void tsdb_promql_lex__next(tsdb_promql_lexer *lx, tsdb_promql_token *t);
/* The value of a TOK_STRING token, unquoted into the arena; NULL with msg
 * filled on a bad escape (or out of memory). */
bool tsdb_promql_lex__unquote(tsdb_promql_query *q, const char *tok, size_t len,
                              tsdb_promql_str *out, char *msg, size_t msglen);
/* The value of a TOK_NUMBER token (strconv.ParseInt base 0, then ParseFloat). */
bool tsdb_promql_lex__number(const char *tok, size_t len, double *out);
/* The duration units, largest first (model.Duration): what a duration may
 * say, and how one is printed. */
typedef struct tsdb_promql_duration_unit {
  const char *unit;
  int64_t ms;
} tsdb_promql_duration_unit;
#define TSDB_PROMQL_DURATION_UNITS 7
extern const tsdb_promql_duration_unit tsdb_promql_lex__duration_units[TSDB_PROMQL_DURATION_UNITS];
/* The value of a TOK_DURATION or TOK_NUMBER token as milliseconds
 * (model.ParseDuration: units y w d h m s ms, each at most once, in that
 * order). false with msg filled when not valid or out of range. */
bool tsdb_promql_lex__duration(const char *tok, size_t len, bool number, int64_t *ms, char *msg,
                               size_t msglen);

/* ---- parse.c ---- */
/* Fills err with "LINE:COL: parse error: " and the message, for the byte
 * offset pos of text. */
void tsdb_promql_parse__error(const char *text, size_t len, size_t pos, tsdb_promql_error *err,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void tsdb_promql_parse__verror(const char *text, size_t len, size_t pos, tsdb_promql_error *err,
                               const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
const tsdb_promql_function *tsdb_promql_parse__function(const char *name, size_t len);

/* ---- regex.c: RE2 syntax checked, matched with PCRE2 ---- */
int tsdb_promql_regex__compile(const char *re, size_t len, tsdb_promql_regex **out, char *msg,
                               size_t msglen);
bool tsdb_promql_regex__match(const tsdb_promql_regex *re, const char *s, size_t len);
void tsdb_promql_regex__free(tsdb_promql_regex *re);

/* ---- print.c ---- */
/* The duration as Prometheus prints it (model.Duration.String): "1h30m", "0s". */
void tsdb_promql_print__duration(int64_t ms, char *buf, size_t len);

#endif /* TSDB_PROMQL_INTERNAL_H */
