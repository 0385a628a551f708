/*
 * tsdb_authcheck: serve/src/auth from the command line, so that the
 * integration tests can put it beside the real mosquitto and mosquitto_passwd.
 *
 *   tsdb_authcheck passwd FILE   stdin: "user<TAB>password" lines
 *   tsdb_authcheck acl FILE      stdin: "user<TAB>client id<TAB>topic" lines,
 *                                user "\N" for an anonymous client
 *
 * Prints one line per query, "1" (accepted / may read) or "0". Exit 0; 2 when
 * the file does not load (the error on stderr), 1 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aclfile.h"
#include "passwd.h"

static char *field(char **p) {
  char *s = *p;
  if (!s) return NULL;
  char *tab = strchr(s, '\t');
  if (tab) {
    *tab = '\0';
    *p = tab + 1;
  } else {
    *p = NULL;
  }
  return s;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "passwd") != 0 && strcmp(argv[1], "acl") != 0)) {
    fprintf(stderr, "usage: %s passwd|acl FILE < queries\n", argv[0]);
    return 1;
  }
  char err[512];
  bool is_passwd = !strcmp(argv[1], "passwd");
  tsdb_passwd *pw = NULL;
  tsdb_aclfile *acl = NULL;
  int rc = is_passwd ? tsdb_passwd__load(argv[2], &pw, err, sizeof err)
                     : tsdb_aclfile__load(argv[2], &acl, err, sizeof err);
  if (rc) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    char *p = line;
    char *user = field(&p);
    bool yes;
    if (is_passwd) {
      char *password = p ? p : "";
      yes = tsdb_passwd__check(pw, user, password);
    } else {
      char *client_id = field(&p);
      char *topic = p;
      if (!client_id || !topic) {
        fprintf(stderr, "bad query line\n");
        free(line);
        tsdb_aclfile__free(acl);
        return 1;
      }
      yes = tsdb_aclfile__may_read(acl, strcmp(user, "\\N") ? user : NULL, client_id, topic);
    }
    printf("%d\n", yes ? 1 : 0);
  }
  free(line);
  tsdb_passwd__free(pw);
  tsdb_aclfile__free(acl);
  return 0;
}
