/*
 * aclfile: loading a Mosquitto acl_file and the broker's read check over it
 * (aclfile.h says which rules are followed and what is not supported).
 */
#include "aclfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/error.h"

/* mosquitto 2.0.11 include/mosquitto.h: MOSQ_ACL_NONE, _READ, _WRITE. */
#define ACL_NONE 0x00
#define ACL_READ 0x01
#define ACL_WRITE 0x02
/* lib/util_topic.c, broker build: filters over 65535 bytes or with more
 * than TOPIC_HIERARCHY_LIMIT (200) '/' are invalid. */
#define ACL_TOPIC_MAX 65535
#define ACL_LEVELS_MAX 200

typedef struct acl_rule {
  char *filter;
  int access; /* ACL_NONE is a deny line */
} acl_rule;

typedef struct acl_rules {
  acl_rule *v;
  size_t n, cap;
} acl_rules;

typedef struct acl_section {
  char *username; /* NULL: the anonymous section, the lines before any `user` */
  acl_rules rules;
} acl_section;

struct tsdb_aclfile {
  acl_section *sections;
  size_t nsections, capsections;
  acl_rules patterns;
};

/* misc__trimblanks of mosquitto 2.0.11 (lib/misc_mosq.c). */
static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

/* mosquitto_sub_topic_check of 2.0.11, broker build. */
static bool filter_valid(const char *s) {
  size_t len = 0, levels = 0;
  char prev = '\0';
  for (; s[len]; len++) {
    char c = s[len], next = s[len + 1];
    if (c == '+' && ((prev != '\0' && prev != '/') || (next != '\0' && next != '/'))) return false;
    if (c == '#' && ((prev != '\0' && prev != '/') || next != '\0')) return false;
    if (c == '/') levels++;
    prev = c;
  }
  return len <= ACL_TOPIC_MAX && levels <= ACL_LEVELS_MAX;
}

/* Does topic name `topic` match the valid filter `filter`? MQTT 3.1.1
 * section 4.7 as mosquitto_topic_matches_sub implements it: '+' is one level
 * (also an empty one), '#' the rest including none ("a/#" matches "a"), and a
 * filter and a topic match only when both or neither start with '$'. */
static bool filter_match(const char *filter, const char *topic) {
  if (!filter[0] || !topic[0]) return false;
  if ((filter[0] == '$') != (topic[0] == '$')) return false;
  const char *f = filter, *t = topic;
  for (;;) {
    if (f[0] == '#') return true;
    const char *fe = strchr(f, '/'), *te = strchr(t, '/');
    size_t fl = fe ? (size_t)(fe - f) : strlen(f), tl = te ? (size_t)(te - t) : strlen(t);
    if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0)) return false;
    if (!fe && !te) return true;
    if (!te) return !strcmp(fe, "/#"); /* the topic ended: only "/#" may follow */
    if (!fe) return false;
    f = fe + 1;
    t = te + 1;
  }
}

static bool rules_push(acl_rules *r, const char *filter, int access) {
  if (r->n == r->cap) {
    size_t ncap = r->cap ? 2 * r->cap : 8;
    acl_rule *nv = realloc(r->v, ncap * sizeof *nv);
    if (!nv) return false;
    r->v = nv;
    r->cap = ncap;
  }
  char *copy = strdup(filter);
  if (!copy) return false;
  r->v[r->n++] = (acl_rule){.filter = copy, .access = access};
  return true;
}

static void rules_free(acl_rules *r) {
  for (size_t i = 0; i < r->n; i++) free(r->v[i].filter);
  free(r->v);
}

/* add__acl's lookup: sections by user name, NULL the anonymous one. */
static acl_section *section_find(const tsdb_aclfile *acl, const char *username) {
  for (size_t i = 0; i < acl->nsections; i++) {
    const char *u = acl->sections[i].username;
    if (username ? (u && !strcmp(u, username)) : !u) return &acl->sections[i];
  }
  return NULL;
}

static acl_section *section_get(tsdb_aclfile *acl, const char *username) {
  acl_section *s = section_find(acl, username);
  if (s) return s;
  if (acl->nsections == acl->capsections) {
    size_t ncap = acl->capsections ? 2 * acl->capsections : 8;
    acl_section *nv = realloc(acl->sections, ncap * sizeof *nv);
    if (!nv) return NULL;
    acl->sections = nv;
    acl->capsections = ncap;
  }
  char *copy = NULL;
  if (username && !(copy = strdup(username))) return NULL;
  s = &acl->sections[acl->nsections++];
  *s = (acl_section){.username = copy};
  return s;
}

void tsdb_aclfile__free(tsdb_aclfile *acl) {
  if (!acl) return;
  for (size_t i = 0; i < acl->nsections; i++) {
    free(acl->sections[i].username);
    rules_free(&acl->sections[i].rules);
  }
  free(acl->sections);
  rules_free(&acl->patterns);
  free(acl);
}

/* One line of aclfile__parse. Returns NULL or the reason it is refused;
 * *nomem on allocation failure. `user` is the current section's name. */
static const char *parse_line(tsdb_aclfile *acl, char *buf, char **user, bool *nomem) {
  size_t len = strlen(buf);
  while (len > 0 && isspace((unsigned char)buf[len - 1])) buf[--len] = '\0';
  if (buf[0] == '#') return NULL;
  char *save = NULL;
  char *word = strtok_r(buf, " ", &save);
  if (!word) return NULL;
  if (!strcmp(word, "topic") || !strcmp(word, "pattern")) {
    bool pattern = word[0] == 'p';
    char *access_s = strtok_r(NULL, " ", &save);
    if (!access_s) return "topic or pattern line without a topic";
    char *filter = strtok_r(NULL, "", &save);
    if (filter) {
      filter = trim(filter);
    } else {
      /* "topic x" is readwrite on x; so is "topic read", on the topic "read". */
      filter = access_s;
      access_s = NULL;
    }
    int access = ACL_READ | ACL_WRITE;
    if (!access_s || !strcmp(access_s, "readwrite"))
      access = ACL_READ | ACL_WRITE;
    else if (!strcmp(access_s, "read"))
      access = ACL_READ;
    else if (!strcmp(access_s, "write"))
      access = ACL_WRITE;
    else if (!strcmp(access_s, "deny"))
      access = ACL_NONE;
    else
      return "invalid access type (read, write, readwrite or deny)";
    if (!filter_valid(filter)) return "invalid topic filter";
    acl_rules *rules = &acl->patterns;
    if (!pattern) {
      acl_section *s = section_get(acl, *user);
      if (!s) {
        *nomem = true;
        return "out of memory";
      }
      rules = &s->rules;
    }
    if (!rules_push(rules, filter, access)) {
      *nomem = true;
      return "out of memory";
    }
    return NULL;
  }
  if (!strcmp(word, "user")) {
    char *name = strtok_r(NULL, "", &save);
    if (!name) return "user line without a user name";
    char *copy = strdup(trim(name));
    if (!copy) {
      *nomem = true;
      return "out of memory";
    }
    free(*user);
    *user = copy;
    return NULL;
  }
  return "not a comment, topic, pattern or user line";
}

int tsdb_aclfile__load(const char *path, tsdb_aclfile **out, char *err, size_t errlen) {
  int rc = 0;
  char *buf = NULL, *user = NULL;
  size_t bufcap = 0;
  unsigned line = 0;
  *out = NULL;
  tsdb_aclfile *acl = calloc(1, sizeof *acl);
  FILE *f = fopen(path, "r");
  if (!acl) {
    rc = TSDB_ENOMEM;
    snprintf(err, errlen, "%s: out of memory", path);
    goto cleanup;
  }
  if (!f) {
    rc = TSDB_EIO;
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    goto cleanup;
  }
  while (getline(&buf, &bufcap, f) >= 0) {
    line++;
    bool nomem = false;
    const char *why = parse_line(acl, buf, &user, &nomem);
    if (why) {
      rc = nomem ? TSDB_ENOMEM : TSDB_EPARSE;
      snprintf(err, errlen, "%s:%u: %s", path, line, why);
      goto cleanup;
    }
  }
  if (ferror(f)) {
    rc = TSDB_EIO;
    snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
    goto cleanup;
  }
  *out = acl;
  acl = NULL;
cleanup:
  free(buf);
  free(user);
  if (f) fclose(f);
  tsdb_aclfile__free(acl);
  return rc;
}

/* The pattern with %c and %u replaced, as mosquitto_acl_check_default builds
 * it: each "%c" becomes the client id, each "%u" the user name (a pattern
 * with %u is never asked for an anonymous client). Caller frees. */
static char *substitute(const char *pattern, const char *username, const char *client_id) {
  size_t clen = strlen(client_id), ulen = username ? strlen(username) : 0;
  size_t max = clen > ulen ? clen : ulen, plen = strlen(pattern);
  char *out = malloc(plen * (max > 2 ? max : 2) / 2 + plen + 1);
  if (!out) return NULL;
  char *o = out;
  for (size_t i = 0; i < plen; i++) {
    if (i + 1 < plen && pattern[i] == '%') {
      if (pattern[i + 1] == 'c') {
        memcpy(o, client_id, clen);
        o += clen;
        i++;
        continue;
      }
      if (username && pattern[i + 1] == 'u') {
        memcpy(o, username, ulen);
        o += ulen;
        i++;
        continue;
      }
    }
    *o++ = pattern[i];
  }
  *o = '\0';
  return out;
}

/* -1 deny, 1 allow, 0 nothing decided: the section's order, where the
 * broker puts deny lines first (add__acl), so any matching deny wins. */
static int rules_decide(const acl_rules *r, const char *topic) {
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < r->n; i++) {
      const acl_rule *rule = &r->v[i];
      if ((rule->access == ACL_NONE) != (pass == 0)) continue;
      if (topic[0] == '$' && rule->filter[0] != '$') continue;
      if (!filter_match(rule->filter, topic)) continue;
      if (rule->access == ACL_NONE) return -1;
      if (rule->access & ACL_READ) return 1;
    }
  }
  return 0;
}

static bool has_wildcard(const char *s) { return strpbrk(s, "+#") != NULL; }

bool tsdb_aclfile__may_read(const tsdb_aclfile *acl, const char *username, const char *client_id,
                            const char *topic) {
  if (!acl || !client_id || !topic || !topic[0] || has_wildcard(topic)) return false;
  /* acl__check_dollar: "$share..." topics are never read. */
  if (!strncmp(topic, "$share", 6)) return false;
  const acl_section *s = section_find(acl, username);
  if (s) {
    int d = rules_decide(&s->rules, topic);
    if (d) return d > 0;
  }
  if (!acl->patterns.n) return false;
  /* The broker's guard against ids that would widen a pattern (2.0.11
   * checks '+' and '#'; 1.x also refused '/'). */
  if ((username && has_wildcard(username)) || has_wildcard(client_id)) return false;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < acl->patterns.n; i++) {
      const acl_rule *rule = &acl->patterns.v[i];
      if ((rule->access == ACL_NONE) != (pass == 0)) continue;
      if (!username && strstr(rule->filter, "%u")) continue;
      char *filter = substitute(rule->filter, username, client_id);
      if (!filter) return false; /* out of memory: deny, as the broker does */
      bool match = filter_match(filter, topic);
      free(filter);
      if (!match) continue;
      if (rule->access == ACL_NONE) return false;
      if (rule->access & ACL_READ) return true;
    }
  }
  return false;
}
