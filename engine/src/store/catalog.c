#include "catalog.h"

#include <inttypes.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "keys.h"

/* ---- the arena of topic entries ---- */

/* Topic entries live as long as the catalog (one is only replaced when a
 * schema captures other labels from its topic), so they are carved from
 * large chunks: no per-entry allocation overhead, and no long-lived small
 * blocks scattered among the writer's short-lived ones, which would keep the
 * heap's pages from ever being given back. */
#define ARENA_CHUNK_BYTES (64 * 1024)

typedef struct tsdb_arena_chunk {
  struct tsdb_arena_chunk *prev;
  size_t cap;
  alignas(max_align_t) char data[];
} tsdb_arena_chunk;

static void *arena_alloc(tsdb_catalog *cat, size_t size) {
  size = (size + 7) & ~(size_t)7;
  tsdb_arena_chunk *c = cat->arena;
  if (!c || cat->arena_used + size > c->cap) {
    size_t cap = size > ARENA_CHUNK_BYTES ? size : ARENA_CHUNK_BYTES;
    c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->prev = cat->arena;
    c->cap = cap;
    cat->arena = c;
    cat->arena_used = 0;
  }
  void *p = c->data + cat->arena_used;
  cat->arena_used += size;
  return p;
}

/* ---- topic entries ---- */

/* A topic's labels as captured by a template: key/value texts. */
typedef struct label_ref {
  const char *key, *value;
  size_t key_len, value_len;
} label_ref;

static const char *entry_labels(const tsdb_topic_entry *te) { return te->text + te->len + 1; }

static bool entry_labels_equal(const tsdb_topic_entry *te, const label_ref *labels, size_t n) {
  if (te->nlabels != n) return false;
  const char *p = entry_labels(te);
  for (size_t i = 0; i < n; i++) {
    size_t kl = strlen(p);
    if (kl != labels[i].key_len || memcmp(p, labels[i].key, kl)) return false;
    p += kl + 1;
    size_t vl = strlen(p);
    if (vl != labels[i].value_len || memcmp(p, labels[i].value, vl)) return false;
    p += vl + 1;
  }
  return true;
}

static tsdb_topic_entry *entry_make(tsdb_catalog *cat, const char *topic, size_t len,
                                    const label_ref *labels, size_t n) {
  size_t size = sizeof(tsdb_topic_entry) + len + 1;
  for (size_t i = 0; i < n; i++) size += labels[i].key_len + labels[i].value_len + 2;
  tsdb_topic_entry *te = arena_alloc(cat, size);
  if (!te) return NULL;
  te->first_id = 0;
  te->len = (uint16_t)len;
  te->nlabels = (uint8_t)n;
  char *p = te->text;
  memcpy(p, topic, len);
  p[len] = '\0';
  p += len + 1;
  for (size_t i = 0; i < n; i++) {
    memcpy(p, labels[i].key, labels[i].key_len);
    p[labels[i].key_len] = '\0';
    p += labels[i].key_len + 1;
    memcpy(p, labels[i].value, labels[i].value_len);
    p[labels[i].value_len] = '\0';
    p += labels[i].value_len + 1;
  }
  return te;
}

/* ---- interned field names and profiles ---- */

static const char *intern_field(tsdb_catalog *cat, const char *name, size_t len) {
  const char *f = tsdb_map__get(&cat->fields, name, len);
  if (f) return f;
  char *copy = malloc(len + 1);
  if (!copy) return NULL;
  memcpy(copy, name, len);
  copy[len] = '\0';
  if (tsdb_map__put(&cat->fields, copy, len, copy)) {
    free(copy);
    return NULL;
  }
  return copy;
}

static bool str_equal(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool profile_equal(const tsdb_profile *a, const tsdb_profile *b) {
  if (!str_equal(a->unit, b->unit) || !str_equal(a->schema_id, b->schema_id) ||
      a->schema_version != b->schema_version || a->dup_policy != b->dup_policy ||
      a->ntiers != b->ntiers || a->block_span_ms != b->block_span_ms ||
      a->raw_retention_ms != b->raw_retention_ms || a->nlabels != b->nlabels)
    return false;
  for (size_t i = 0; i < a->ntiers; i++)
    if (a->tiers_ms[i] != b->tiers_ms[i] || a->tier_retention_ms[i] != b->tier_retention_ms[i])
      return false;
  for (size_t i = 0; i < a->nlabels; i++)
    if (strcmp(a->labels[i].key, b->labels[i].key) ||
        strcmp(a->labels[i].value, b->labels[i].value))
      return false;
  return true;
}

static void profile_free(tsdb_profile *p) {
  free(p->unit);
  free(p->schema_id);
  for (size_t i = 0; i < p->nlabels; i++) {
    free((char *)p->labels[i].key);
    free((char *)p->labels[i].value);
  }
  free(p->labels);
  free(p);
}

static char *dup_or_null(const char *s, bool *failed) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *failed = true;
  return d;
}

/* The catalog's copy of a profile equal to `want` (made if new). */
static const tsdb_profile *intern_profile(tsdb_catalog *cat, const tsdb_profile *want) {
  for (const tsdb_profile *p = cat->profiles; p; p = p->next)
    if (profile_equal(p, want)) return p;
  tsdb_profile *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  *p = *want;
  bool failed = false;
  p->unit = dup_or_null(want->unit, &failed);
  p->schema_id = dup_or_null(want->schema_id ? want->schema_id : "", &failed);
  p->nlabels = 0;
  p->labels = want->nlabels ? calloc(want->nlabels, sizeof *p->labels) : NULL;
  if (want->nlabels && !p->labels) failed = true;
  for (size_t i = 0; !failed && i < want->nlabels; i++) {
    p->labels[i].key = dup_or_null(want->labels[i].key, &failed);
    p->labels[i].value = dup_or_null(want->labels[i].value, &failed);
    p->nlabels++;
  }
  if (failed) {
    profile_free(p);
    return NULL;
  }
  p->next = cat->profiles;
  cat->profiles = p;
  return p;
}

/* ---- backfill boundaries (rare: kept aside, not in every series) ---- */

typedef struct backfill_bounds {
  char key[4]; /* the series id's bytes: the map's key */
  int64_t from[TSDB_MAX_TIERS];
} backfill_bounds;

static backfill_bounds *bounds_get(const tsdb_catalog *cat, uint32_t id) {
  char key[4];
  memcpy(key, &id, sizeof key);
  return tsdb_map__get(&cat->backfills, key, sizeof key);
}

static void complete_from_of(const tsdb_catalog *cat, const tsdb_series *s, int64_t *out) {
  const backfill_bounds *b = s->backfilling ? bounds_get(cat, s->id) : NULL;
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) out[i] = b ? b->from[i] : INT64_MIN;
}

/* Records the boundaries of a series (all INT64_MIN: none). Caller holds the
 * write lock. */
static int bounds_set(tsdb_catalog *cat, tsdb_series *s, const int64_t *from) {
  bool any = false;
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) any |= from[i] != INT64_MIN;
  backfill_bounds *b = bounds_get(cat, s->id);
  if (!any) {
    if (b) free(tsdb_map__remove(&cat->backfills, b->key, sizeof b->key));
    s->backfilling = false;
    return 0;
  }
  if (!b) {
    if (!(b = malloc(sizeof *b))) return TSDB_ENOMEM;
    memcpy(b->key, &s->id, sizeof b->key);
    if (tsdb_map__put(&cat->backfills, b->key, sizeof b->key, b)) {
      free(b);
      return TSDB_ENOMEM;
    }
  }
  memcpy(b->from, from, sizeof b->from);
  s->backfilling = true;
  return 0;
}

/* ---- id-indexed pages ---- */

static tsdb_series *slot_of(const tsdb_catalog *cat, uint32_t id) {
  size_t page = id / TSDB_CATALOG_PAGE;
  if (page >= cat->npages || !cat->pages[page]) return NULL;
  return &cat->pages[page][id % TSDB_CATALOG_PAGE];
}

static tsdb_series *series_of(const tsdb_catalog *cat, uint32_t id) {
  tsdb_series *s = slot_of(cat, id);
  return s && s->id ? s : NULL;
}

/* Makes room for id. Caller holds the write lock. */
static int reserve_slot(tsdb_catalog *cat, uint32_t id) {
  size_t page = id / TSDB_CATALOG_PAGE;
  if (page >= cat->npages) {
    size_t n = cat->npages ? cat->npages : 16;
    while (n <= page) n *= 2;
    tsdb_series **pages = realloc(cat->pages, n * sizeof *pages);
    if (!pages) return TSDB_ENOMEM;
    memset(pages + cat->npages, 0, (n - cat->npages) * sizeof *pages);
    cat->pages = pages;
    cat->npages = n;
  }
  if (!cat->pages[page] && !(cat->pages[page] = calloc(TSDB_CATALOG_PAGE, sizeof(tsdb_series))))
    return TSDB_ENOMEM;
  return 0;
}

/* The series of a topic with this field name, or NULL. */
static tsdb_series *topic_field(const tsdb_catalog *cat, const tsdb_topic_entry *te,
                                const char *field, size_t flen) {
  for (uint32_t id = te->first_id; id;) {
    tsdb_series *s = series_of(cat, id);
    if (!s) break;
    if (strlen(s->field) == flen && memcmp(s->field, field, flen) == 0) return s;
    id = s->next_in_topic;
  }
  return NULL;
}

/* Adds a new series (id set, slot reserved) at the end of its topic's list
 * and makes it visible. Caller holds the write lock. */
static void link_series(tsdb_catalog *cat, tsdb_series *s, tsdb_topic_entry *te) {
  s->next_in_topic = 0;
  if (!te->first_id) {
    te->first_id = s->id;
  } else {
    tsdb_series *last = series_of(cat, te->first_id);
    while (last && last->next_in_topic) last = series_of(cat, last->next_in_topic);
    if (last) last->next_in_topic = s->id;
  }
  cat->count++;
  if (s->id >= cat->next_id) cat->next_id = s->id + 1;
}

/* Points every series of a topic at its replacement entry. Caller holds the
 * write lock. */
static int replace_entry(tsdb_catalog *cat, tsdb_topic_entry *old, tsdb_topic_entry *te) {
  te->first_id = old->first_id; /* the index maps the topic to this id: unchanged */
  for (uint32_t id = te->first_id; id;) {
    tsdb_series *s = series_of(cat, id);
    if (!s) break;
    s->topic = te;
    id = s->next_in_topic;
  }
  return 0;
}

/* ---- the topic index: topic -> its first series ---- */

/* Open addressing with linear probing and 8-byte slots: 32 bits of the
 * topic's hash and the id of its first series (0: empty). The key is not
 * stored: a candidate's topic is compared through its series, so the index
 * costs ~11-21 bytes per topic instead of a key pointer, length and value. */
static uint32_t slot_tag(uint64_t hash) { return (uint32_t)(hash >> 32); }

static tsdb_topic_entry *index_get(const tsdb_catalog *cat, const char *topic, size_t len) {
  if (!cat->index_cap) return NULL;
  uint64_t h = tsdb_map__hash(topic, len);
  size_t mask = cat->index_cap - 1;
  for (size_t i = h & mask; cat->index[i]; i = (i + 1) & mask) {
    uint64_t slot = cat->index[i];
    if ((uint32_t)(slot >> 32) != slot_tag(h)) continue;
    const tsdb_series *s = series_of(cat, (uint32_t)slot);
    if (s && s->topic->len == len && memcmp(s->topic->text, topic, len) == 0)
      return (tsdb_topic_entry *)s->topic;
  }
  return NULL;
}

static void index_place(uint64_t *slots, size_t cap, uint64_t h, uint32_t id) {
  size_t mask = cap - 1, i = h & mask;
  while (slots[i]) i = (i + 1) & mask;
  slots[i] = (uint64_t)slot_tag(h) << 32 | id;
}

/* Indexes a new topic whose first series (te->first_id) is in its slot.
 * Caller holds the write lock. */
static int index_put(tsdb_catalog *cat, const tsdb_topic_entry *te) {
  if ((cat->index_count + 1) * 4 > cat->index_cap * 3) { /* load at most 3/4 */
    size_t cap = cat->index_cap ? cat->index_cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return TSDB_ENOMEM;
    for (size_t i = 0; i < cat->index_cap; i++) {
      if (!cat->index[i]) continue;
      const tsdb_series *s = series_of(cat, (uint32_t)cat->index[i]);
      index_place(slots, cap, tsdb_map__hash(s->topic->text, s->topic->len),
                  (uint32_t)cat->index[i]);
    }
    free(cat->index);
    cat->index = slots;
    cat->index_cap = cap;
  }
  index_place(cat->index, cat->index_cap, tsdb_map__hash(te->text, te->len), te->first_id);
  cat->index_count++;
  return 0;
}

/* ---- lifecycle ---- */

int tsdb_catalog__init(tsdb_catalog *cat, const tsdb_logger *log) {
  memset(cat, 0, sizeof *cat);
  if (pthread_rwlock_init(&cat->lock, NULL)) return TSDB_ENOMEM;
  tsdb_map__init(&cat->fields);
  tsdb_map__init(&cat->backfills);
  cat->next_id = 1;
  cat->log = log;
  return 0;
}

void tsdb_catalog__destroy(tsdb_catalog *cat) {
  size_t pos = 0;
  void *v;
  while ((v = tsdb_map__next(&cat->fields, &pos)) != NULL) free(v);
  pos = 0;
  while ((v = tsdb_map__next(&cat->backfills, &pos)) != NULL) free(v);
  for (size_t i = 0; i < cat->npages; i++) free(cat->pages[i]);
  free(cat->pages);
  while (cat->arena) {
    tsdb_arena_chunk *prev = cat->arena->prev;
    free(cat->arena);
    cat->arena = prev;
  }
  while (cat->profiles) {
    tsdb_profile *next = cat->profiles->next;
    profile_free(cat->profiles);
    cat->profiles = next;
  }
  free(cat->index);
  tsdb_map__free(&cat->fields);
  tsdb_map__free(&cat->backfills);
  pthread_rwlock_destroy(&cat->lock);
}

/* ---- descriptors on disk: 'S' + id -> JSON ---- */

static void add_label_object(cJSON *o, const char *name, const tsdb_topic_entry *te,
                             const tsdb_profile *p) {
  cJSON *labels = cJSON_AddObjectToObject(o, name);
  if (!labels) return;
  if (te) {
    const char *l = entry_labels(te);
    for (size_t i = 0; i < te->nlabels; i++) {
      const char *value = l + strlen(l) + 1;
      cJSON_AddStringToObject(labels, l, value);
      l = value + strlen(value) + 1;
    }
  } else {
    for (size_t i = 0; i < p->nlabels; i++)
      cJSON_AddStringToObject(labels, p->labels[i].key, p->labels[i].value);
  }
}

static char *descriptor_json(const tsdb_topic_entry *te, const char *field, const tsdb_profile *p,
                             const int64_t *complete_from) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "topic", te->text);
  cJSON_AddStringToObject(o, "field", field);
  if (p->unit) cJSON_AddStringToObject(o, "unit", p->unit);
  cJSON_AddStringToObject(o, "schema", p->schema_id ? p->schema_id : "");
  cJSON_AddNumberToObject(o, "version", p->schema_version);
  add_label_object(o, "labels", te, NULL);
  if (p->nlabels) add_label_object(o, "schema_labels", NULL, p);
  cJSON *tiers = cJSON_AddArrayToObject(o, "tiers_ms");
  for (size_t i = 0; tiers && i < p->ntiers; i++)
    cJSON_AddItemToArray(tiers, cJSON_CreateNumber((double)p->tiers_ms[i]));
  cJSON_AddStringToObject(o, "duplicates", tsdb_dup_policy_name(p->dup_policy));
  cJSON_AddNumberToObject(o, "block_span_ms", (double)p->block_span_ms);
  bool incomplete = false;
  for (size_t i = 0; i < p->ntiers; i++) incomplete |= complete_from[i] != INT64_MIN;
  if (incomplete) {
    cJSON *cf = cJSON_AddArrayToObject(o, "complete_from_ms");
    for (size_t i = 0; cf && i < p->ntiers; i++)
      cJSON_AddItemToArray(cf, complete_from[i] == INT64_MIN
                                   ? cJSON_CreateNull()
                                   : cJSON_CreateNumber((double)complete_from[i]));
  }
  cJSON *ret = cJSON_AddObjectToObject(o, "retention_ms");
  if (ret) {
    cJSON_AddNumberToObject(ret, "raw", (double)p->raw_retention_ms);
    cJSON *rt = cJSON_AddArrayToObject(ret, "tiers");
    for (size_t i = 0; rt && i < p->ntiers; i++)
      cJSON_AddItemToArray(rt, cJSON_CreateNumber((double)p->tier_retention_ms[i]));
  }
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

static int put_descriptor(tsdb_store *st, tsdb_wbatch *batch, uint32_t id,
                          const tsdb_topic_entry *te, const char *field, const tsdb_profile *p,
                          const int64_t *complete_from) {
  char *json = descriptor_json(te, field, p, complete_from);
  if (!json) return TSDB_ENOMEM;
  uint8_t skey[5] = {'S'};
  tsdb_key__put_u32(skey + 1, id);
  tsdb_store__batch_catalog_put(st, batch, skey, sizeof skey, json, strlen(json));
  free(json);
  return 0;
}

static int put_series(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch, const tsdb_series *s) {
  int64_t from[TSDB_MAX_TIERS];
  complete_from_of(cat, s, from);
  return put_descriptor(st, batch, s->id, s->topic, s->field, s->profile, from);
}

/* Labels of a JSON object as references into it; at most max. */
static size_t json_labels(const cJSON *obj, label_ref *out, size_t max) {
  size_t n = 0;
  const cJSON *l;
  cJSON_ArrayForEach(l, obj) {
    if (n == max || !cJSON_IsString(l) || !l->string) continue;
    out[n++] = (label_ref){l->string, l->valuestring, strlen(l->string), strlen(l->valuestring)};
  }
  return n;
}

/* A number of a descriptor as an int64: false when it is not a number, and
 * *damaged as well when it is one outside int64, where the conversion would
 * be undefined: the numbers written are int64s, so only damage stores that. */
static bool stored_int(const cJSON *v, int64_t *out, bool *damaged) {
  if (!cJSON_IsNumber(v)) return false;
  if (!(v->valuedouble >= -0x1p63 && v->valuedouble < 0x1p63)) {
    *damaged = true;
    return false;
  }
  *out = (int64_t)v->valuedouble;
  return true;
}

int tsdb_catalog__load_descriptor(tsdb_catalog *cat, uint32_t id, const char *text, size_t len) {
  cJSON *o = cJSON_ParseWithLength(text, len);
  if (!o) return TSDB_ECORRUPT;
  int rc = TSDB_ECORRUPT;
  const cJSON *topic = cJSON_GetObjectItemCaseSensitive(o, "topic");
  const cJSON *field = cJSON_GetObjectItemCaseSensitive(o, "field");
  if (id == 0 || !cJSON_IsString(topic) || !cJSON_IsString(field) ||
      strlen(topic->valuestring) > UINT16_MAX || !field->valuestring[0])
    goto out;

  tsdb_profile want;
  memset(&want, 0, sizeof want);
  const cJSON *unit = cJSON_GetObjectItemCaseSensitive(o, "unit");
  want.unit = cJSON_IsString(unit) ? unit->valuestring : NULL;
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(o, "schema");
  want.schema_id = cJSON_IsString(schema) ? schema->valuestring : "";
  bool damaged = false;
  int64_t v = 0;
  if (stored_int(cJSON_GetObjectItemCaseSensitive(o, "version"), &v, &damaged) && v > 0) {
    if (v > UINT32_MAX) damaged = true;
    want.schema_version = (uint32_t)v;
  }
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "tiers_ms")) {
    if (stored_int(t, &v, &damaged) && want.ntiers < TSDB_MAX_TIERS && v >= 1000) {
      /* Tiers are stored ascending (the schema loader's rule); a tier
       * again or out of order is damage, not a second tier of that width
       * (found by fuzz_catalog: its retention was described twice). */
      if (want.ntiers && v <= want.tiers_ms[want.ntiers - 1]) damaged = true;
      want.tiers_ms[want.ntiers++] = v;
    }
  }
  const cJSON *dup = cJSON_GetObjectItemCaseSensitive(o, "duplicates");
  int policy = cJSON_IsString(dup) ? tsdb_dup_policy_find(dup->valuestring) : TSDB_ENOTFOUND;
  want.dup_policy = policy >= 0 ? policy : TSDB_DUP_LAST;
  want.block_span_ms =
      stored_int(cJSON_GetObjectItemCaseSensitive(o, "block_span_ms"), &v, &damaged) && v >= 1000
          ? v
          : TSDB_DEFAULT_BLOCK_SPAN_MS;
  const cJSON *ret = cJSON_GetObjectItemCaseSensitive(o, "retention_ms");
  if (stored_int(cJSON_GetObjectItemCaseSensitive(ret, "raw"), &v, &damaged) && v > 0)
    want.raw_retention_ms = v;
  size_t ri = 0;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(ret, "tiers")) {
    if (stored_int(t, &v, &damaged) && ri < want.ntiers && v > 0) want.tier_retention_ms[ri] = v;
    ri++;
  }
  label_ref refs[TSDB_TOPIC_MAX_CAPTURES + 64];
  tsdb_label schema_labels[64];
  size_t nschema = json_labels(cJSON_GetObjectItemCaseSensitive(o, "schema_labels"), refs, 64);
  for (size_t i = 0; i < nschema; i++) schema_labels[i] = (tsdb_label){refs[i].key, refs[i].value};
  want.nlabels = nschema;
  want.labels = schema_labels;
  int64_t from[TSDB_MAX_TIERS];
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) from[i] = INT64_MIN;
  size_t ci = 0;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "complete_from_ms")) {
    if (stored_int(t, &v, &damaged) && ci < want.ntiers) from[ci] = v;
    ci++;
  }
  if (damaged) goto out;

  rc = TSDB_ENOMEM;
  const tsdb_profile *p = intern_profile(cat, &want);
  const char *f = intern_field(cat, field->valuestring, strlen(field->valuestring));
  if (!p || !f || reserve_slot(cat, id)) goto out;
  size_t tlen = strlen(topic->valuestring);
  tsdb_topic_entry *te = index_get(cat, topic->valuestring, tlen);
  bool new_topic = te == NULL;
  if (new_topic) { /* the first series of a topic brings its labels */
    size_t n = json_labels(cJSON_GetObjectItemCaseSensitive(o, "labels"), refs,
                           TSDB_TOPIC_MAX_CAPTURES + 64);
    if (n > UINT8_MAX) n = UINT8_MAX;
    if (!(te = entry_make(cat, topic->valuestring, tlen, refs, n))) goto out;
  }
  tsdb_series *s = slot_of(cat, id);
  if (s->id) { /* the same id twice cannot come from one ordered scan */
    rc = TSDB_ECORRUPT;
    goto out;
  }
  if (!new_topic && topic_field(cat, te, f, strlen(f))) { /* another id has this name */
    rc = TSDB_ECORRUPT;
    goto out;
  }
  s->id = id;
  s->topic = te;
  s->field = f;
  s->profile = p;
  s->persisted = true;
  if ((rc = bounds_set(cat, s, from)) != 0) {
    s->id = 0;
    goto out;
  }
  link_series(cat, s, te);
  if (new_topic && (rc = index_put(cat, te)) != 0) {
    s->id = 0; /* out of memory: the load fails as a whole */
    goto out;
  }
  rc = 0;
out:
  cJSON_Delete(o);
  return rc;
}

int tsdb_catalog__load(tsdb_catalog *cat, tsdb_store *st) {
  tsdb_store_iter *it;
  const uint8_t lower[1] = {'S'}, upper[1] = {'S' + 1};
  int rc = tsdb_store__iter_open(st, NULL, TSDB_CF_CATALOG, lower, 1, upper, 1, &it);
  if (rc) return rc;
  for (; tsdb_store__iter_valid(it); tsdb_store__iter_next(it)) {
    size_t klen, vlen;
    const uint8_t *k = tsdb_store__iter_key(it, &klen);
    const uint8_t *v = tsdb_store__iter_value(it, &vlen);
    if (klen != 5) continue;
    uint32_t id = tsdb_key__get_u32(k + 1);
    rc = tsdb_catalog__load_descriptor(cat, id, (const char *)v, vlen);
    if (rc == TSDB_ENOMEM) break;
    if (rc) {
      /* One unreadable descriptor must not take the whole store down: skip
       * it (its data stays on disk) and say so. */
      tsdb_log__printf(cat->log, TSDB_LOG_ERROR,
                       "catalog: unreadable series descriptor id=%" PRIu32 " skipped error=%s", id,
                       tsdb_err_name(rc));
      rc = 0;
    }
    if (id >= cat->next_id && id != UINT32_MAX) cat->next_id = id + 1; /* never reuse an id */
  }
  int st_rc = tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  return rc ? rc : st_rc;
}

/* ---- creation and update (writer thread) ---- */

int tsdb_catalog__ensure(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                         const tsdb_series_class *cls, const char *topic, size_t topic_len,
                         const char *fname, size_t flen, const char *unit, int64_t now,
                         tsdb_series **out, bool *changed) {
  *out = NULL;
  *changed = false;
  if (flen == 0 || memchr(fname, '\0', flen) || topic_len > UINT16_MAX) return TSDB_EINVAL;
  tsdb_topic_entry *te = index_get(cat, topic, topic_len);
  tsdb_series *s = te ? topic_field(cat, te, fname, flen) : NULL;

  /* What the class says about this series: its topic's labels, its profile.
   * The block span of an existing series stays: its keys depend on it. */
  label_ref labels[TSDB_TOPIC_MAX_CAPTURES];
  size_t nlabels = 0;
  tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
  if (tsdb_topic_template_match(cls->tpl, topic, topic_len, caps)) {
    nlabels = tsdb_topic_template_ncaptures(cls->tpl);
    for (size_t i = 0; i < nlabels; i++) {
      const char *key = tsdb_topic_template_capture_name(cls->tpl, i);
      labels[i] = (label_ref){key, topic + caps[i].offset, strlen(key), caps[i].len};
    }
  }
  tsdb_profile want = {
      .unit = (char *)unit,
      .schema_id = cls->schema_id,
      .schema_version = cls->schema_version,
      .dup_policy = cls->dup_policy,
      .ntiers = cls->ntiers,
      .block_span_ms = s ? s->profile->block_span_ms : cls->block_span_ms,
      .raw_retention_ms = cls->raw_retention_ms,
      .nlabels = cls->nlabels,
      .labels = cls->labels,
  };
  memcpy(want.tiers_ms, cls->tiers_ms, sizeof want.tiers_ms);
  memcpy(want.tier_retention_ms, cls->tier_retention_ms, sizeof want.tier_retention_ms);
  bool same_labels = te && entry_labels_equal(te, labels, nlabels);

  int rc = 0;
  if (s && same_labels && profile_equal(s->profile, &want)) {
    if (!s->persisted) { /* an earlier batch with its descriptor failed */
      rc = put_series(cat, st, batch, s);
      *changed = rc == 0;
    }
    *out = s;
    return rc;
  }

  /* New series, or the schema changed (version, unit, tiers, policy,
   * labels): write a new descriptor. The id stays what it was. */
  uint32_t id = s ? s->id : cat->next_id;
  if (!s && id == UINT32_MAX) return TSDB_ERANGE;
  const tsdb_profile *p = intern_profile(cat, &want);
  const char *field = intern_field(cat, fname, flen);
  tsdb_topic_entry *nte = same_labels ? te : entry_make(cat, topic, topic_len, labels, nlabels);
  if (!p || !field || !nte) return TSDB_ENOMEM;

  int64_t from[TSDB_MAX_TIERS];
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) from[i] = INT64_MIN;
  if (s) {
    const tsdb_profile *old = s->profile;
    int64_t old_from[TSDB_MAX_TIERS];
    complete_from_of(cat, s, old_from);
    /* A tier it dropped loses its data: were it added again later, stale
     * buckets must not outlive the backfill. */
    for (size_t k = 0; k < old->ntiers; k++) {
      bool kept = false;
      for (size_t i = 0; i < p->ntiers; i++) kept |= p->tiers_ms[i] == old->tiers_ms[k];
      if (!kept) tsdb_store__batch_tier_delete(st, batch, id, (uint32_t)(old->tiers_ms[k] / 1000));
    }
    /* A tier the series had keeps its state; a tier it gains is complete
     * from the start of the current bucket on, and the writer backfills the
     * older buckets from finer data. */
    for (size_t i = 0; i < p->ntiers; i++) {
      bool had = false;
      for (size_t k = 0; k < old->ntiers; k++) {
        if (old->tiers_ms[k] != p->tiers_ms[i]) continue;
        had = true;
        from[i] = old_from[k];
      }
      if (!had) {
        int64_t r = now % p->tiers_ms[i];
        from[i] = now - (r < 0 ? r + p->tiers_ms[i] : r);
      }
    }
  }
  if ((rc = put_descriptor(st, batch, id, nte, field, p, from)) != 0) return rc;

  /* Readers see all of it or none of it: they wait for the write lock. */
  pthread_rwlock_wrlock(&cat->lock);
  tsdb_series *target = s;
  if (!target && (rc = reserve_slot(cat, id)) == 0) {
    target = slot_of(cat, id);
    target->id = id; /* bounds_set's key */
  }
  if (rc == 0) rc = bounds_set(cat, target, from);
  if (rc == 0 && te && nte != te) rc = replace_entry(cat, te, nte);
  if (rc == 0) {
    target->topic = nte;
    target->field = field;
    target->profile = p;
    target->persisted = false;
    if (!s) {
      link_series(cat, target, nte);
      /* A new topic: its first series is this one, in place for the index. */
      if (!te && (rc = index_put(cat, nte)) != 0) {
        nte->first_id = 0;
        cat->count--;
      }
    }
  }
  if (rc && !s && target) {
    int64_t none[TSDB_MAX_TIERS];
    for (size_t i = 0; i < TSDB_MAX_TIERS; i++) none[i] = INT64_MIN;
    bounds_set(cat, target, none); /* only removes: cannot fail */
    target->id = 0;
  }
  pthread_rwlock_unlock(&cat->lock);
  if (rc) return rc;
  /* The topic's other series now carry its new labels: so do their
   * descriptors, in the same batch. */
  for (uint32_t other = nte != te && te ? nte->first_id : 0; other && rc == 0;) {
    tsdb_series *o = series_of(cat, other);
    if (!o) break;
    if (o != target) {
      o->persisted = false; /* rewritten again at its next ensure if this batch fails */
      rc = put_series(cat, st, batch, o);
    }
    other = o->next_in_topic;
  }
  *changed = true;
  *out = target;
  return rc;
}

int tsdb_catalog__set_complete_from(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                                    uint32_t id, size_t tier, int64_t from) {
  tsdb_series *s = series_of(cat, id);
  if (!s || tier >= s->profile->ntiers) return TSDB_ENOTFOUND;
  int64_t bounds[TSDB_MAX_TIERS];
  complete_from_of(cat, s, bounds);
  bounds[tier] = from;
  pthread_rwlock_wrlock(&cat->lock);
  int rc = bounds_set(cat, s, bounds);
  pthread_rwlock_unlock(&cat->lock);
  return rc ? rc : put_series(cat, st, batch, s);
}

tsdb_series *tsdb_catalog__get_unlocked(tsdb_catalog *cat, uint32_t id) {
  return series_of(cat, id);
}

/* ---- readers ---- */

int tsdb_catalog__find(tsdb_catalog *cat, const char *topic, const char *field, uint32_t *id) {
  pthread_rwlock_rdlock(&cat->lock);
  const tsdb_topic_entry *te = index_get(cat, topic, strlen(topic));
  const tsdb_series *s = te ? topic_field(cat, te, field, strlen(field)) : NULL;
  if (s) *id = s->id;
  pthread_rwlock_unlock(&cat->lock);
  return s ? 0 : TSDB_ENOTFOUND;
}

int tsdb_catalog__params(tsdb_catalog *cat, uint32_t id, tsdb_series_params *out) {
  int rc = TSDB_ENOTFOUND;
  pthread_rwlock_rdlock(&cat->lock);
  const tsdb_series *s = series_of(cat, id);
  if (s) {
    const tsdb_profile *p = s->profile;
    out->id = s->id;
    out->ntiers = p->ntiers;
    memcpy(out->tiers_ms, p->tiers_ms, sizeof out->tiers_ms);
    out->dup_policy = p->dup_policy;
    out->block_span_ms = p->block_span_ms;
    out->raw_retention_ms = p->raw_retention_ms;
    memcpy(out->tier_retention_ms, p->tier_retention_ms, sizeof out->tier_retention_ms);
    complete_from_of(cat, s, out->tier_complete_from);
    out->now = INT64_MIN;
    rc = 0;
  }
  pthread_rwlock_unlock(&cat->lock);
  return rc;
}

size_t tsdb_catalog__count(tsdb_catalog *cat) {
  pthread_rwlock_rdlock(&cat->lock);
  size_t n = cat->count;
  pthread_rwlock_unlock(&cat->lock);
  return n;
}

uint32_t tsdb_catalog__id_limit(tsdb_catalog *cat) {
  pthread_rwlock_rdlock(&cat->lock);
  uint32_t n = cat->next_id;
  pthread_rwlock_unlock(&cat->lock);
  return n;
}

size_t tsdb_catalog__topic_series(tsdb_catalog *cat, const char *topic, size_t topic_len,
                                  uint32_t *ids, size_t max) {
  size_t n = 0;
  pthread_rwlock_rdlock(&cat->lock);
  const tsdb_topic_entry *te = index_get(cat, topic, topic_len);
  for (uint32_t id = te ? te->first_id : 0; id && n < max;) {
    const tsdb_series *s = series_of(cat, id);
    if (!s) break;
    ids[n++] = id;
    id = s->next_in_topic;
  }
  pthread_rwlock_unlock(&cat->lock);
  return n;
}

void tsdb_catalog__field_name(tsdb_catalog *cat, uint32_t id, char *buf, size_t len) {
  pthread_rwlock_rdlock(&cat->lock);
  const tsdb_series *s = series_of(cat, id);
  snprintf(buf, len, "%s", s ? s->field : "");
  pthread_rwlock_unlock(&cat->lock);
}

static bool has_label(const tsdb_series *s, const char *key, const char *value) {
  const char *l = entry_labels(s->topic);
  for (size_t i = 0; i < s->topic->nlabels; i++) {
    const char *v = l + strlen(l) + 1;
    if (!strcmp(l, key) && !strcmp(v, value)) return true;
    l = v + strlen(v) + 1;
  }
  const tsdb_profile *p = s->profile;
  for (size_t i = 0; i < p->nlabels; i++)
    if (!strcmp(p->labels[i].key, key) && !strcmp(p->labels[i].value, value)) return true;
  return false;
}

int tsdb_catalog__match(tsdb_catalog *cat, const char *filter, const char *field,
                        const tsdb_label *labels, size_t nlabels, tsdb_catalog_match_fn fn,
                        void *ud) {
  /* Collect under the read lock, call back without it (fn may take time or
   * call back into the engine). */
  typedef struct hit {
    uint32_t id;
    char *topic, *field;
  } hit;
  hit *hits = NULL;
  size_t nhits = 0, cap = 0;
  int rc = 0;
  pthread_rwlock_rdlock(&cat->lock);
  for (uint32_t id = 1; id < cat->next_id && rc == 0; id++) {
    const tsdb_series *s = series_of(cat, id);
    if (!s || (field && strcmp(field, s->field)) ||
        !tsdb_topic_filter_match(filter, s->topic->text))
      continue;
    bool ok = true;
    for (size_t i = 0; ok && i < nlabels; i++) ok = has_label(s, labels[i].key, labels[i].value);
    if (!ok) continue;
    if (nhits == cap) {
      cap = cap ? cap * 2 : 64;
      hit *h = realloc(hits, cap * sizeof *h);
      if (!h) {
        rc = TSDB_ENOMEM;
        break;
      }
      hits = h;
    }
    hits[nhits].id = s->id;
    hits[nhits].topic = strdup(s->topic->text);
    hits[nhits].field = strdup(s->field);
    if (!hits[nhits].topic || !hits[nhits].field) rc = TSDB_ENOMEM;
    nhits++;
  }
  pthread_rwlock_unlock(&cat->lock);
  for (size_t i = 0; i < nhits; i++) {
    if (rc == 0) rc = fn(ud, hits[i].id, hits[i].topic, hits[i].field);
    free(hits[i].topic);
    free(hits[i].field);
  }
  free(hits);
  return rc;
}

static char *copy_or_null(const char *s, bool *failed) {
  if (!s) return NULL;
  char *c = strdup(s);
  if (!c) *failed = true;
  return c;
}

/* Adds a label unless its name is there already. Each name once (RFC 8259
 * section 4 for the answers made of it): a schema's static label may be
 * named like a label its template captures, and then the captured one,
 * added first, counts; a damaged descriptor may repeat a name (found by
 * fuzz_catalog). */
static void info_label(tsdb_series_info *out, const char *key, const char *value, bool *failed) {
  for (size_t k = 0; k < out->nlabels; k++)
    if (out->labels[k].key && !strcmp(out->labels[k].key, key)) return;
  out->labels[out->nlabels++] =
      (tsdb_label){copy_or_null(key, failed), copy_or_null(value, failed)};
}

int tsdb_catalog__info(tsdb_catalog *cat, uint32_t id, tsdb_series_info *out) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&cat->lock);
  const tsdb_series *s = series_of(cat, id);
  if (!s) {
    pthread_rwlock_unlock(&cat->lock);
    return TSDB_ENOTFOUND;
  }
  const tsdb_profile *p = s->profile;
  bool failed = false;
  out->id = id;
  out->topic = strndup(s->topic->text, s->topic->len);
  failed |= !out->topic;
  out->field = copy_or_null(s->field, &failed);
  out->unit = copy_or_null(p->unit, &failed);
  out->schema_id = copy_or_null(p->schema_id ? p->schema_id : "", &failed);
  out->schema_version = p->schema_version;
  size_t n = s->topic->nlabels + p->nlabels;
  out->labels = n ? calloc(n, sizeof *out->labels) : NULL;
  if (n && !out->labels) failed = true;
  const char *l = entry_labels(s->topic);
  for (size_t i = 0; out->labels && i < s->topic->nlabels; i++) {
    const char *v = l + strlen(l) + 1;
    info_label(out, l, v, &failed);
    l = v + strlen(v) + 1;
  }
  for (size_t i = 0; out->labels && i < p->nlabels; i++)
    info_label(out, p->labels[i].key, p->labels[i].value, &failed);
  out->ntiers = p->ntiers;
  memcpy(out->tiers_ms, p->tiers_ms, sizeof out->tiers_ms);
  out->raw_retention_ms = p->raw_retention_ms;
  memcpy(out->tier_retention_ms, p->tier_retention_ms, sizeof out->tier_retention_ms);
  out->dup_policy = p->dup_policy;
  pthread_rwlock_unlock(&cat->lock);
  if (failed) {
    tsdb_series_info_free(out);
    return TSDB_ENOMEM;
  }
  return 0;
}

void tsdb_series_info_free(tsdb_series_info *info) {
  if (!info) return;
  free(info->topic);
  free(info->field);
  free(info->unit);
  free(info->schema_id);
  for (size_t i = 0; i < info->nlabels; i++) {
    free((char *)info->labels[i].key);
    free((char *)info->labels[i].value);
  }
  free(info->labels);
  memset(info, 0, sizeof *info);
}
