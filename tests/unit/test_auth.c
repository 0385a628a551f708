/*
 * serve/src/auth: the broker's password_file and acl_file. The password
 * lines were written by Debian 12's mosquitto_passwd 2.0.11 (the passwords
 * are in the comments); tests/integration/test_auth_files.py compares the
 * same code with the real tool and broker over many more cases.
 */
#include "unit.h"

#include "aclfile.h"
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

static tsdb_aclfile *load_acl(const char *text) {
  char err[256] = "";
  tsdb_aclfile *acl = NULL;
  int rc = tsdb_aclfile__load(write_file("acl", text), &acl, err, sizeof err);
  CHECK_MSG(rc == 0, "load failed: %s", err);
  return acl;
}

static void check_acl_refused(const char *text, const char *line_and_reason) {
  char err[256] = "";
  tsdb_aclfile *acl = NULL;
  const char *path = write_file("bad", text);
  CHECK_INT(tsdb_aclfile__load(path, &acl, err, sizeof err), ==, TSDB_EPARSE);
  CHECK(acl == NULL);
  char want[512];
  snprintf(want, sizeof want, "%s:%s", path, line_and_reason);
  CHECK_STR(err, want);
}

#define READS(acl, u, c, t) tsdb_aclfile__may_read((acl), (u), (c), (t))

TEST(acl_sections_anonymous_and_users) {
  tsdb_aclfile *acl = load_acl(
      "# before any user: anonymous clients\n"
      "topic read public/#\n"
      "user alice\n"
      "topic read city/#\n"
      "topic write city/w\n"
      "topic city/rw\n" /* no access word: readwrite */
      "user bob\n"
      "topic readwrite bob/#\n"
      "user alice\n" /* a second section: the union */
      "topic read extra\n");
  CHECK(READS(acl, NULL, "c", "public/x"));
  CHECK(!READS(acl, NULL, "c", "city/x"));
  CHECK(READS(acl, "alice", "c", "city/x"));
  CHECK(READS(acl, "alice", "c", "city"));      /* "a/#" matches "a" */
  CHECK(!READS(acl, "alice", "c", "public/x")); /* a user does not get the anonymous lines */
  CHECK(READS(acl, "alice", "c", "extra"));
  CHECK(READS(acl, "alice", "c", "city/w")); /* city/# allows it */
  CHECK(READS(acl, "alice", "c", "city/rw"));
  CHECK(READS(acl, "bob", "c", "bob/x"));
  CHECK(!READS(acl, "bob", "c", "city/x"));
  CHECK(!READS(acl, "carol", "c", "public/x")); /* no section, no patterns */
  CHECK(!READS(acl, "alice", NULL, "city/x"));  /* no client id: denied */
  CHECK(!READS(acl, "alice", "c", "city/+"));   /* not a topic name */
  CHECK(!READS(acl, "alice", "c", ""));
  tsdb_aclfile__free(acl);
}

TEST(acl_deny_first_and_write_only) {
  tsdb_aclfile *acl = load_acl(
      "user alice\n"
      "topic read city/#\n"
      "topic write w/#\n"
      "topic deny city/secret/#\n" /* after the allow: still first */
      "pattern read city/secret/%u\n"
      "pattern read w/%u\n");
  CHECK(READS(acl, "alice", "c", "city/open"));
  CHECK(!READS(acl, "alice", "c", "city/secret"));
  CHECK(!READS(acl, "alice", "c", "city/secret/alice")); /* the section's deny ends it */
  CHECK(READS(acl, "alice", "c", "w/alice"));            /* write-only line: the patterns decide */
  CHECK(!READS(acl, "alice", "c", "w/x"));
  tsdb_aclfile__free(acl);
}

TEST(acl_patterns_substitute_and_guard) {
  tsdb_aclfile *acl = load_acl(
      "pattern read clients/%c/#\n"
      "pattern read users/%u/#\n"
      "pattern deny users/%u/private\n"
      "pattern read x%cy/%u%u\n"
      "topic read open\n"
      "user bob\n"
      "topic read users/alice/private\n"
      "pattern deny open/#\n");
  CHECK(READS(acl, NULL, "id1", "clients/id1/a"));
  CHECK(!READS(acl, NULL, "id1", "clients/id2/a"));
  CHECK(!READS(acl, NULL, "id1", "users//a")); /* %u patterns skip anonymous clients */
  CHECK(READS(acl, "alice", "id1", "users/alice/a"));
  CHECK(!READS(acl, "alice", "id1", "users/alice/private"));
  /* bob's own line is checked before the patterns: the deny pattern never runs */
  CHECK(READS(acl, "bob", "id1", "users/alice/private"));
  CHECK(!READS(acl, "bob", "id1", "users/bob/private"));
  CHECK(READS(acl, "alice", "a/b", "clients/a/b/c")); /* '/' in an id is allowed in 2.0.11 */
  CHECK(READS(acl, "u", "C", "xCy/uu"));
  /* '+' or '#' in a user name or id: every pattern is denied, the section's lines still hold */
  CHECK(!READS(acl, "al+ce", "id1", "users/al+ce/a"));
  CHECK(!READS(acl, "alice", "i#", "users/alice/a"));
  CHECK(READS(acl, NULL, "i+", "open"));
  CHECK(!READS(acl, NULL, "i+", "clients/i/a"));
  tsdb_aclfile__free(acl);
}

TEST(acl_dollar_topics) {
  tsdb_aclfile *acl = load_acl(
      "topic read #\n"
      "topic read $tsdb/agg/#\n"
      "topic read $share/#\n"
      "pattern read +/%c\n");
  CHECK(READS(acl, NULL, "c", "a/b"));
  CHECK(!READS(acl, NULL, "c", "$tsdb/reply/x")); /* '#' never matches a '$' topic */
  CHECK(READS(acl, NULL, "c", "$tsdb/agg/1m/a"));
  CHECK(!READS(acl, NULL, "c", "$share/g/a")); /* never read, whatever the file says */
  CHECK(!READS(acl, NULL, "c", "$x/c"));       /* nor does '+' */
  CHECK(READS(acl, NULL, "c", "x/c"));
  tsdb_aclfile__free(acl);
}

TEST(acl_file_layout_as_the_broker_reads_it) {
  tsdb_aclfile *acl = load_acl(
      "\n   \n#comment\r\n"
      "user   bob smith  \r\n"
      "topic   read    spaced topic/#  \n"
      "topic read\n" /* readwrite on the topic "read" */);
  CHECK(READS(acl, "bob smith", "c", "spaced topic/a"));
  CHECK(READS(acl, "bob smith", "c", "read"));
  tsdb_aclfile__free(acl);
}

TEST(acl_refused_lines_name_file_and_line) {
  check_acl_refused("topic read a\n  # indented\n",
                    "2: not a comment, topic, pattern or user line");
  check_acl_refused("topic\tread x\n", /* words are separated by spaces only */
                    "1: not a comment, topic, pattern or user line");
  check_acl_refused("topic foo bar\n", "1: invalid access type (read, write, readwrite or deny)");
  check_acl_refused("topic read a/#/b\n", "1: invalid topic filter");
  check_acl_refused("pattern read a+\n", "1: invalid topic filter");
  check_acl_refused("user\n", "1: user line without a user name");
  check_acl_refused("user   \n", "1: user line without a user name");
  check_acl_refused("topic\n", "1: topic or pattern line without a topic");
  char err[256];
  tsdb_aclfile *acl = NULL;
  CHECK_INT(tsdb_aclfile__load(unit_path("missing"), &acl, err, sizeof err), ==, TSDB_EIO);
  /* No rules at all: nothing may be read. */
  acl = load_acl("# nothing\n");
  CHECK(!READS(acl, NULL, "c", "a"));
  CHECK(!READS(acl, "alice", "c", "a"));
  tsdb_aclfile__free(acl);
}
