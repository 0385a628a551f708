/*
 * serve/src/auth: the broker's password_file and acl_file. The password
 * lines were written by Debian 12's mosquitto_passwd 2.0.11 (the passwords
 * are in the comments); tests/integration/test_auth_files.py compares the
 * same code with the real tool and broker over many more cases.
 */
#include "unit.h"

#include "passwd.h"
#include "tsdb/error.h"

/* mosquitto_passwd -c -b pw alice 'p@ss word:$x' */
#define ALICE                                                              \
  "alice:$7$101$HVFgwA5Ow5tYGkOf$B3x8IoiUBhaGzUtZEFtNKjkljMA9suArmbgIsCH/" \
  "+RF9TJ/F60RzgA4Z/m8ox0P0qouhOh14Uz1TFgdwEj4kqA=="
/* mosquitto_passwd -b pw 'bob smith' 'ümlaut' */
#define BOB                                                            \
  "bob smith:$7$101$0HaYmaB32OnSsvrO$QPjeJPejc7mFAlsMgQv5NceAyWOQUa4/" \
  "iyJBqeEi3ZoGhYO12QUORYUbboRh3Xo6RVM9ZPzSZjfCJyX+AMT6vA=="
/* mosquitto_passwd -H sha512 -b pw carol c */
#define CAROL                                                                  \
  "carol:$6$WwtTLHBzr/IOsZJM$kqpEgx5KyuuSp2nBodLgZmLDHmqT3CDLqlei7RW8LWsxXj9N" \
  "SnJiyvGCIVIQFQFpKsbNSzsgyUq/vVi8ei99iQ=="
/* mosquitto_passwd -b pw dave '' */
#define DAVE                                                                    \
  "dave:$7$101$sBb76/gF/+oS9ZNy$cd2aCUP8SkcbF+YP7uGyr5kY5FGrPXIS3XfViJx0Q6b6Eh" \
  "6DhFd6vCZFmHI7AlorPg1uuKxamBm/6v/mOo6MgA=="
/* mosquitto_passwd -b pw ' lead' z: written with the blank, which the
 * broker trims when it reads the file. */
#define LEAD                                                                    \
  " lead:$7$101$1fbpDBUGQydO0E2A$UKjiHm0ryY0BekxWKyEv4j+Ww4HyYykyFXS0p2oiPzH6Z" \
  "nEjtJjjD4TAJh9B5taqBozxI73pMStCQ5z2FHhoqg=="

static const char *write_file(const char *name, const char *text) {
  const char *path = unit_path(name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  return path;
}

static tsdb_passwd *load_pw(const char *text) {
  char err[256] = "";
  tsdb_passwd *pw = NULL;
  int rc = tsdb_passwd__load(write_file("pw", text), &pw, err, sizeof err);
  CHECK_MSG(rc == 0, "load failed: %s", err);
  return pw;
}

/* Loading fails with TSDB_EPARSE and an error naming the line. */
static void check_pw_refused(const char *text, const char *line_and_reason) {
  char err[256] = "";
  tsdb_passwd *pw = NULL;
  const char *path = write_file("bad", text);
  CHECK_INT(tsdb_passwd__load(path, &pw, err, sizeof err), ==, TSDB_EPARSE);
  CHECK(pw == NULL);
  char want[512];
  snprintf(want, sizeof want, "%s:%s", path, line_and_reason);
  CHECK_STR(err, want);
}

TEST(passwd_mosquitto_passwd_lines) {
  tsdb_passwd *pw = load_pw(ALICE "\n" BOB "\n" CAROL "\n" DAVE "\n" LEAD "\n");
  CHECK_INT(tsdb_passwd__count(pw), ==, 5);
  CHECK(tsdb_passwd__check(pw, "alice", "p@ss word:$x"));
  CHECK(!tsdb_passwd__check(pw, "alice", "p@ss word:$"));
  CHECK(!tsdb_passwd__check(pw, "alice", "p@ss word:$xx"));
  CHECK(!tsdb_passwd__check(pw, "alice", ""));
  CHECK(!tsdb_passwd__check(pw, "Alice", "p@ss word:$x"));
  CHECK(tsdb_passwd__check(pw, "bob smith", "\xc3\xbcmlaut"));
  CHECK(!tsdb_passwd__check(pw, "bob", "\xc3\xbcmlaut"));
  CHECK(tsdb_passwd__check(pw, "carol", "c")); /* $6$: salted SHA-512 */
  CHECK(!tsdb_passwd__check(pw, "carol", "C"));
  CHECK(tsdb_passwd__check(pw, "dave", ""));
  CHECK(!tsdb_passwd__check(pw, "dave", " "));
  CHECK(tsdb_passwd__check(pw, "lead", "z"));
  CHECK(!tsdb_passwd__check(pw, " lead", "z"));
  CHECK(!tsdb_passwd__check(pw, "nobody", "z"));
  CHECK(!tsdb_passwd__check(pw, NULL, "z"));
  CHECK(!tsdb_passwd__check(pw, "alice", NULL));
  tsdb_passwd__free(pw);
}

TEST(passwd_file_layout_as_the_broker_reads_it) {
  /* Comments in the first column, lines without ':' skipped, CRLF, blanks
   * around both fields, no final newline. */
  tsdb_passwd *pw = load_pw("# users\n\nnot an entry\r\n" ALICE
                            "\r\n  # indented, has no colon\n"
                            "\t" CAROL "  \n" DAVE);
  CHECK_INT(tsdb_passwd__count(pw), ==, 3);
  CHECK(tsdb_passwd__check(pw, "alice", "p@ss word:$x"));
  CHECK(tsdb_passwd__check(pw, "carol", "c"));
  CHECK(tsdb_passwd__check(pw, "dave", ""));
  tsdb_passwd__free(pw);
  pw = load_pw("");
  CHECK_INT(tsdb_passwd__count(pw), ==, 0);
  CHECK(!tsdb_passwd__check(pw, "alice", ""));
  tsdb_passwd__free(pw);
}

TEST(passwd_malformed_lines_name_file_and_line) {
  check_pw_refused(ALICE "\nbob:\n", "2: no password hash after the user name");
  check_pw_refused("bob\n\nbob:secret\n",
                   "3: unknown password hash type (mosquitto 2.0 knows $6$ and $7$; a plain-text "
                   "password file must first be hashed with mosquitto_passwd -U)");
  check_pw_refused("bob:$7$0$HVFgwA5Ow5tYGkOf$B3x8\n",
                   "1: $7$ hash without a valid iteration count (a decimal number from 1)");
  check_pw_refused("bob:$7$1x$HVFgwA5Ow5tYGkOf$B3x8\n",
                   "1: $7$ hash without a valid iteration count (a decimal number from 1)");
  check_pw_refused("bob:$7$101$HVFgwA5Ow5tY$B3x8\n", "1: password salt is not 12 bytes of base64");
  check_pw_refused("bob:$7$101$HVFgwA5Ow5tYGkOf$B3x8\n",
                   "1: password hash is not 64 bytes of base64");
  check_pw_refused("bob:$6$HVFgwA5Ow5tYGkOf\n", "1: password hash is not 64 bytes of base64");
  check_pw_refused(ALICE "$x\n", "1: unexpected text after the password hash");
  check_pw_refused(ALICE ":x\n", "1: a second ':' after the password hash");
  check_pw_refused(ALICE "\n" CAROL "\n" ALICE "\n", "3: user already defined on line 1");
  char err[256];
  tsdb_passwd *pw = NULL;
  CHECK_INT(tsdb_passwd__load(unit_path("missing"), &pw, err, sizeof err), ==, TSDB_EIO);
}

TEST(passwd_errors_never_quote_a_hash) {
  char err[256] = "";
  tsdb_passwd *pw = NULL;
  /* A hash of the wrong length: the message must not carry any of it. */
  CHECK_INT(tsdb_passwd__load(write_file("bad", "eve:$7$101$SECRETSALT12$SECRETHASH\n"), &pw, err,
                              sizeof err),
            ==, TSDB_EPARSE);
  CHECK(strstr(err, "SECRET") == NULL);
  CHECK(strstr(err, "eve") == NULL);
}
