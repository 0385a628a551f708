/*
 * aclfile: a Mosquitto acl_file, read as the broker reads it, and the
 * question the HTTP API asks of it: may user U read topic T, i.e. would the
 * broker deliver a message published on T to a client of U subscribed to it.
 *
 * Followed exactly (mosquitto 2.0.11, src/security_default.c: aclfile__parse,
 * add__acl, add__acl_pattern, acl__find_acls, mosquitto_acl_check_default;
 * src/security.c: mosquitto_acl_check, acl__check_dollar; lib/util_topic.c:
 * mosquitto_sub_topic_check, mosquitto_topic_matches_sub):
 * - Parsing. Lines of any length; trailing blanks (isspace) removed; a line
 *   whose first character is '#' is a comment; words are separated by
 *   spaces only (a tab is part of a word). An empty line is skipped.
 *   `topic [read|write|readwrite|deny] <filter>` and
 *   `pattern [read|write|readwrite|deny] <filter>`: without an access word
 *   the access is readwrite, and `topic read` alone is readwrite on the topic
 *   "read", as for the broker; the filter is the rest of the line, blanks
 *   trimmed (it may contain spaces), and must be a valid subscription filter
 *   (at most 65535 bytes and 200 levels). `user <name>`: the rest of the line,
 *   trimmed. Anything else (also "  # text", an indented comment) is an
 *   error, and so is `user` with no name or an unknown access word: the
 *   broker refuses to start on the same lines.
 * - Sections. `topic` lines before the first `user` line belong to
 *   anonymous clients (no user name); after it, to that user; a user named
 *   in two sections has the union. `pattern` lines apply to every client,
 *   wherever they stand.
 * - A READ check, as on delivery: a client with no id is denied; a topic
 *   starting with "$share" is denied (acl__check_dollar); then the client's
 *   section: any matching `deny` line denies, else a matching line with read
 *   access allows (a filter not starting with '$' never matches a topic that
 *   does). Only when the section decides nothing: if any pattern exists and
 *   the user name or the client id contains '+' or '#', denied (not '/': the
 *   2.0.11 rule); then the patterns with %c replaced by the client id and %u
 *   by the user name (a %u pattern is skipped for an anonymous client): a
 *   matching deny pattern denies, else a matching read pattern allows.
 *   Otherwise denied; an acl_file with no rules denies everything.
 *   So a user's own `topic` allow wins over a `pattern deny`, and a user's
 *   `topic deny` wins over any pattern: that is the broker's order.
 * - Subscriptions: the broker's acl_file check grants every SUBSCRIBE (2.0.11
 *   checks read access per message at delivery), so "may read" here is the
 *   delivery check for one concrete topic, never a filter.
 *
 * Not supported (the answer may differ from the broker's):
 * - Anything besides the acl_file deciding: the dynamic-security plugin's
 *   roles and groups, auth plugins (mosquitto-go-auth and the like), and the
 *   order in which the broker combines them with the acl_file.
 * - per_listener_settings true (an acl_file per listener): give the file of
 *   the listener whose users the HTTP API serves.
 * - Bridges (always allowed by the broker), TLS identities as user names
 *   (use_identity_as_username, use_subject_as_username), psk_file.
 * - Reload on SIGHUP: the caller loads the file again when it wants to.
 * - Write and subscribe checks: only read is asked here.
 *
 * Thread safety: load and free are not concurrent with anything; once
 * loaded, tsdb_aclfile__may_read may be called from any number of threads.
 */
#ifndef TSDB_AUTH_ACLFILE_H
#define TSDB_AUTH_ACLFILE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tsdb_aclfile tsdb_aclfile;

/* Loads `path`. Returns 0 and a new ACL in *out (free with
 * tsdb_aclfile__free), or TSDB_EIO (cannot read), TSDB_EPARSE (a line the
 * broker would refuse: err holds "path:line: reason"), TSDB_ENOMEM. */
int tsdb_aclfile__load(const char *path, tsdb_aclfile **out, char *err, size_t errlen);

/* Would the broker deliver a message on `topic` to client `client_id`
 * connected as `username` (NULL: anonymous)? `client_id` is what %c stands
 * for; NULL is denied, as the broker denies a client without an id. A topic
 * that is not a valid topic name (empty, or with '+' or '#') is denied. */
bool tsdb_aclfile__may_read(const tsdb_aclfile *acl, const char *username, const char *client_id,
                            const char *topic);

void tsdb_aclfile__free(tsdb_aclfile *acl);

#endif
