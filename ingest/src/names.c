/*
 * Message-named fields (senml, sensor.community): what the schema's "names"
 * section says about a name found in a message.
 */
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

static int cmp_key(const void *k, const void *e) {
  const ingest_name_entry *key = k, *entry = e;
  size_t n = key->key_len < entry->key_len ? key->key_len : entry->key_len;
  int c = memcmp(key->key, entry->key, n);
  if (c) return c;
  return key->key_len < entry->key_len ? -1 : key->key_len > entry->key_len;
}

ingest_name_action ingest_names__lookup(const ingest_schema *s, const char *name, size_t len,
                                        uint32_t *field) {
  /* The entry is only a search key: its key is never written through. */
  ingest_name_entry key = {(char *)(uintptr_t)name, len, 0};
  const ingest_name_entry *e =
      s->nmap ? bsearch(&key, s->map, s->nmap, sizeof *s->map, cmp_key) : NULL;
  if (e) {
    *field = e->field;
    return NAME_STORE;
  }
  if (s->nignore && bsearch(&key, s->ignore, s->nignore, sizeof *s->ignore, cmp_key))
    return NAME_IGNORE;
  *field = UINT32_MAX;
  switch (s->unmapped) {
  case UNMAPPED_KEEP:
    return NAME_STORE;
  case UNMAPPED_IGNORE:
    return NAME_IGNORE;
  default:
    return NAME_REFUSE;
  }
}

/* RFC 8428 section 4.5.1: the resolved name "MUST consist only of characters
 * out of the set "A" to "Z", "a" to "z", and "0" to "9", as well as "-",
 * ":", ".", "/", and "_"; furthermore, it MUST start with a character out of
 * the set "A" to "Z", "a" to "z", or "0" to "9"." The same rule keeps names
 * of other formats safe as series names (in topics, JSON and logs). */
static bool alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool ingest_names__valid(const char *name, size_t len) {
  if (len == 0 || len > TSDB_MAX_NAME_LEN || !alnum(name[0])) return false;
  for (size_t i = 1; i < len; i++) {
    char c = name[i];
    if (!alnum(c) && c != '-' && c != ':' && c != '.' && c != '/' && c != '_') return false;
  }
  return true;
}
