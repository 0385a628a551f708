/*
 * passwd: a Mosquitto password file, as the broker's `password_file` reads
 * it, and HTTP Basic credentials checked against it.
 *
 * The rules are those of mosquitto 2.0.11 (src/security_default.c:
 * pwfile__parse, unpwd__decode_passwords, pw__digest; apps/mosquitto_passwd),
 * Debian 12's broker:
 * - One entry a line: `user:$7$<iterations>$<salt b64>$<hash b64>` (what
 *   mosquitto_passwd of 2.0 writes: PBKDF2-HMAC-SHA512, 101 iterations by
 *   default) or `user:$6$<salt b64>$<hash b64>` (SHA-512 of password then
 *   salt: mosquitto 1.6 and `mosquitto_passwd -H sha512`). The salt is 12
 *   bytes, the hash 64; base64 is the standard alphabet with padding.
 * - Lines of any length. A line starting with '#' is a comment; a line
 *   without ':' is ignored (blank lines among them). The user name is the
 *   text before the first ':' with blanks (isspace) trimmed at both ends,
 *   so " bob :" is user "bob" as for the broker; the hash is the text up to
 *   the next ':', trimmed. Leading ':' are skipped (strtok), as the broker does.
 *   Fields of the hash are split on runs of '$' (strtok), as the broker does.
 * - The password is compared as a C string (the broker hashes
 *   strlen(password) bytes), in constant time (CRYPTO_memcmp).
 *
 * Where we differ, on purpose, and always by refusing the file:
 * - An entry the broker would log and drop (no hash, unknown hash type,
 *   iterations < 1, a salt that is not 12 bytes, a hash that is not 64,
 *   a user name or hash over 65535 bytes) makes tsdb_passwd__load fail with
 *   "file:line: what is wrong": the file is shared with the broker, and a
 *   broken entry is an operator's mistake to show, not to hide. We are
 *   stricter in the same way about iterations that are not plain decimal
 *   (the broker uses atoi) and text after the hash (the broker ignores it).
 * - A user named twice fails the load: the broker keeps both in a hash table
 *   and which one it finds depends on the table's internal order.
 * - A plain-text password file (before `mosquitto_passwd -U`) is refused:
 *   the broker, built with TLS as Debian's is, refuses those entries too.
 * Neither a password nor a hash is ever written into an error message.
 *
 * Thread safety: load and free are not concurrent with anything; once
 * loaded, tsdb_passwd__check may be called from any number of threads.
 */
#ifndef TSDB_AUTH_PASSWD_H
#define TSDB_AUTH_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tsdb_passwd tsdb_passwd;

/* Loads `path`. Returns 0 and a new set in *out (free with
 * tsdb_passwd__free), or TSDB_EIO (cannot read), TSDB_EPARSE (a malformed
 * entry: err holds "path:line: reason"), TSDB_ENOMEM. */
int tsdb_passwd__load(const char *path, tsdb_passwd **out, char *err, size_t errlen);

/* true when `username` is in the file and `password` (a C string: the
 * broker, too, hashes only up to the first NUL) hashes to its entry. An
 * unknown user costs the same hashing as a known one, so the answer's time
 * does not tell whether a user exists. */
bool tsdb_passwd__check(const tsdb_passwd *pw, const char *username, const char *password);

size_t tsdb_passwd__count(const tsdb_passwd *pw);
void tsdb_passwd__free(tsdb_passwd *pw);

#endif
