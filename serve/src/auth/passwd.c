/*
 * passwd: loading a Mosquitto password file and checking a password against
 * it (passwd.h says which of the broker's rules are followed and where we
 * differ). The hashing is OpenSSL's, as in the broker: PKCS5_PBKDF2_HMAC with
 * SHA-512 for $7$, one SHA-512 over password then salt for $6$
 * (mosquitto 2.0.11 src/security_default.c pw__digest).
 */
#include "passwd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/error.h"

/* mosquitto 2.0.11 src/password_mosq.h: SALT_LEN 12, and a SHA-512 hash;
 * unpwd__decode_passwords drops entries whose decoded salt or hash differ. */
#define PASSWD_SALT_LEN 12
#define PASSWD_HASH_LEN 64
/* pwfile__parse: longer user names or hashes are dropped with a warning
 * (65535 is MQTT's limit for both strings). */
#define PASSWD_FIELD_MAX 65535
/* mosquitto_passwd's default (PW_DEFAULT_ITERATIONS): the dummy's count
 * before any $7$ entry is read. */
#define PASSWD_DEFAULT_ITERATIONS 101

typedef enum { PASSWD_SHA512 = 6, PASSWD_SHA512_PBKDF2 = 7 } passwd_type;

typedef struct passwd_entry {
  char *username;
  passwd_type type;
  int iterations;
  unsigned line;
  unsigned char salt[PASSWD_SALT_LEN];
  unsigned char hash[PASSWD_HASH_LEN];
} passwd_entry;

struct tsdb_passwd {
  passwd_entry *v;
  size_t n;
  /* What an unknown user's check costs: the file's most expensive entry
   * (PBKDF2 at its highest count, or one SHA-512 in a $6$-only file). */
  passwd_type dummy_type;
  int max_iterations;
};

/* misc__trimblanks of mosquitto 2.0.11 (lib/misc_mosq.c): isspace() at
 * both ends. */
static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

/* Standard base64 with padding into exactly `want` bytes. The broker
 * decodes with a BIO_f_base64 and then checks the length; EVP_Decode* is the
 * same decoder without the BIO. */
static bool b64_decode_exact(const char *in, unsigned char *out, size_t want) {
  size_t n = strlen(in);
  unsigned char buf[3 * PASSWD_HASH_LEN];
  if (n == 0 || n > 4 * PASSWD_HASH_LEN) return false;
  EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
  if (!ctx) return false;
  int l1 = 0, l2 = 0;
  EVP_DecodeInit(ctx);
  bool ok = EVP_DecodeUpdate(ctx, buf, &l1, (const unsigned char *)in, (int)n) >= 0 &&
            EVP_DecodeFinal(ctx, buf + l1, &l2) >= 0 && (size_t)l1 + (size_t)l2 == want;
  EVP_ENCODE_CTX_free(ctx);
  if (ok) memcpy(out, buf, want);
  OPENSSL_cleanse(buf, sizeof buf);
  return ok;
}

/* The hash field: $6$salt$hash or $7$iterations$salt$hash, split on runs of
 * '$' as the broker's strtok does. `why` receives a reason that never quotes
 * the field. */
static bool parse_hash(char *field, passwd_entry *e, const char **why) {
  char *save = NULL;
  char *tok = strtok_r(field, "$", &save);
  if (!tok) {
    *why = "empty password hash";
    return false;
  }
  if (!strcmp(tok, "6")) {
    e->type = PASSWD_SHA512;
    e->iterations = 0;
  } else if (!strcmp(tok, "7")) {
    e->type = PASSWD_SHA512_PBKDF2;
    tok = strtok_r(NULL, "$", &save);
    char *end = NULL;
    errno = 0;
    long it = tok ? strtol(tok, &end, 10) : 0;
    if (!tok || !isdigit((unsigned char)tok[0]) || *end || errno || it < 1 || it > INT_MAX) {
      *why = "$7$ hash without a valid iteration count (a decimal number from 1)";
      return false;
    }
    e->iterations = (int)it;
  } else {
    *why =
        "unknown password hash type (mosquitto 2.0 knows $6$ and $7$; a plain-text "
        "password file must first be hashed with mosquitto_passwd -U)";
    return false;
  }
  tok = strtok_r(NULL, "$", &save);
  if (!tok || !b64_decode_exact(tok, e->salt, PASSWD_SALT_LEN)) {
    *why = "password salt is not 12 bytes of base64";
    return false;
  }
  tok = strtok_r(NULL, "$", &save);
  if (!tok || !b64_decode_exact(tok, e->hash, PASSWD_HASH_LEN)) {
    *why = "password hash is not 64 bytes of base64";
    return false;
  }
  if (strtok_r(NULL, "$", &save)) {
    *why = "unexpected text after the password hash";
    return false;
  }
  return true;
}

static int entry_cmp(const void *a, const void *b) {
  const passwd_entry *x = a, *y = b;
  int c = strcmp(x->username, y->username);
  if (c) return c;
  return x->line < y->line ? -1 : x->line > y->line;
}

void tsdb_passwd__free(tsdb_passwd *pw) {
  if (!pw) return;
  for (size_t i = 0; i < pw->n; i++) {
    free(pw->v[i].username);
    OPENSSL_cleanse(&pw->v[i], sizeof pw->v[i]);
  }
  free(pw->v);
  free(pw);
}

int tsdb_passwd__load(const char *path, tsdb_passwd **out, char *err, size_t errlen) {
  int rc = 0;
  size_t cap = 0;
  char *buf = NULL;
  size_t bufcap = 0;
  unsigned line = 0;
  *out = NULL;
  tsdb_passwd *pw = calloc(1, sizeof *pw);
  FILE *f = fopen(path, "r");
  if (!pw) {
    rc = TSDB_ENOMEM;
    snprintf(err, errlen, "%s: out of memory", path);
    goto cleanup;
  }
  if (!f) {
    rc = TSDB_EIO;
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    goto cleanup;
  }
  pw->dummy_type = PASSWD_SHA512;
  pw->max_iterations = PASSWD_DEFAULT_ITERATIONS;
  while (getline(&buf, &bufcap, f) >= 0) {
    line++;
    /* pwfile__parse: comments only in the first column; a line without
     * ':' (a blank one too) is skipped silently. */
    if (buf[0] == '#' || !strchr(buf, ':')) continue;
    char *save = NULL;
    char *user = strtok_r(buf, ":", &save);
    if (!user) continue; /* only ':'s: the broker adds nothing either */
    user = trim(user);
    char *hash = strtok_r(NULL, ":", &save);
    const char *why = NULL;
    passwd_entry e = {.line = line};
    if (strlen(user) > PASSWD_FIELD_MAX) {
      why = "user name longer than 65535 bytes";
    } else if (!hash || !*(hash = trim(hash))) {
      why = "no password hash after the user name";
    } else if (strlen(hash) > PASSWD_FIELD_MAX) {
      why = "password hash longer than 65535 bytes";
    } else {
      char *rest = strtok_r(NULL, "", &save);
      if (rest && *trim(rest))
        why = "a second ':' after the password hash";
      else
        parse_hash(hash, &e, &why);
    }
    if (why) {
      rc = TSDB_EPARSE;
      snprintf(err, errlen, "%s:%u: %s", path, line, why);
      OPENSSL_cleanse(&e, sizeof e);
      goto cleanup;
    }
    if (pw->n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      passwd_entry *nv = realloc(pw->v, ncap * sizeof *nv);
      if (!nv) {
        rc = TSDB_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto cleanup;
      }
      pw->v = nv;
      cap = ncap;
    }
    if (!(e.username = strdup(user))) {
      rc = TSDB_ENOMEM;
      snprintf(err, errlen, "%s: out of memory", path);
      goto cleanup;
    }
    if (e.type == PASSWD_SHA512_PBKDF2 && pw->dummy_type != PASSWD_SHA512_PBKDF2) {
      pw->dummy_type = PASSWD_SHA512_PBKDF2;
      pw->max_iterations = e.iterations;
    } else if (e.type == PASSWD_SHA512_PBKDF2 && e.iterations > pw->max_iterations) {
      pw->max_iterations = e.iterations;
    }
    pw->v[pw->n++] = e;
  }
  if (ferror(f)) {
    rc = TSDB_EIO;
    snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
    goto cleanup;
  }
  if (pw->n) qsort(pw->v, pw->n, sizeof *pw->v, entry_cmp);
  for (size_t i = 1; i < pw->n; i++) {
    if (!strcmp(pw->v[i - 1].username, pw->v[i].username)) {
      rc = TSDB_EPARSE;
      snprintf(err, errlen, "%s:%u: user already defined on line %u", path, pw->v[i].line,
               pw->v[i - 1].line);
      goto cleanup;
    }
  }
  *out = pw;
  pw = NULL;
cleanup:
  if (buf) OPENSSL_cleanse(buf, bufcap);
  free(buf);
  if (f) fclose(f);
  tsdb_passwd__free(pw);
  return rc;
}

static const passwd_entry *find(const tsdb_passwd *pw, const char *username) {
  size_t lo = 0, hi = pw->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(username, pw->v[mid].username);
    if (!c) return &pw->v[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* pw__digest of mosquitto 2.0.11. */
static bool digest(const passwd_entry *e, const char *password, unsigned char *out) {
  size_t plen = strlen(password);
  if (plen > PASSWD_FIELD_MAX) return false; /* MQTT's bound; keeps the int casts exact */
  if (e->type == PASSWD_SHA512_PBKDF2)
    return PKCS5_PBKDF2_HMAC(password, (int)plen, e->salt, PASSWD_SALT_LEN, e->iterations,
                             EVP_sha512(), PASSWD_HASH_LEN, out) == 1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
            EVP_DigestUpdate(ctx, password, plen) == 1 &&
            EVP_DigestUpdate(ctx, e->salt, PASSWD_SALT_LEN) == 1 &&
            EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == PASSWD_HASH_LEN;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool tsdb_passwd__check(const tsdb_passwd *pw, const char *username, const char *password) {
  if (!pw || !username || !password) return false;
  const passwd_entry *e = find(pw, username);
  /* An unknown user hashes against a dummy entry as costly as the file's
   * most expensive one, so the time taken does not reveal who exists. */
  passwd_entry dummy = {.type = pw->dummy_type, .iterations = pw->max_iterations};
  unsigned char got[PASSWD_HASH_LEN];
  bool ok = digest(e ? e : &dummy, password, got);
  ok = ok && e && CRYPTO_memcmp(got, e->hash, PASSWD_HASH_LEN) == 0;
  OPENSSL_cleanse(got, sizeof got);
  return ok;
}

size_t tsdb_passwd__count(const tsdb_passwd *pw) { return pw ? pw->n : 0; }
