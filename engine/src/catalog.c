#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "keys.h"
#include "strbuf.h"

static void series_free(tsdb_series *s) {
  if (!s) return;
  free(s->key);
  free(s->unit);
  free(s->schema_id);
  for (size_t i = 0; i < s->nlabels; i++) {
    free((char *)s->labels[i].key);
    free((char *)s->labels[i].value);
  }
  free(s->labels);
  free(s);
}

int tsdb_catalog__init(tsdb_catalog *cat, const tsdb_logger *log) {
  memset(cat, 0, sizeof *cat);
  if (pthread_rwlock_init(&cat->lock, NULL)) return TSDB_ENOMEM;
  tsdb_map__init(&cat->by_key);
  tsdb_map__init(&cat->by_topic);
  cat->next_id = 1;
  cat->log = log;
  return 0;
}

void tsdb_catalog__destroy(tsdb_catalog *cat) {
  size_t pos = 0;
  tsdb_topic_entry *te;
  while ((te = tsdb_map__next(&cat->by_topic, &pos)) != NULL) {
    free(te->topic);
    free(te->ids);
    free(te);
  }
  for (size_t i = 0; i < cat->id_cap; i++) series_free(cat->by_id[i]);
  free(cat->by_id);
  tsdb_map__free(&cat->by_key);
  tsdb_map__free(&cat->by_topic);
  pthread_rwlock_destroy(&cat->lock);
}

/* ---- descriptors on disk: 'S' + id -> JSON ---- */

static char *descriptor_json(const tsdb_series *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "topic", s->topic);
  cJSON_AddStringToObject(o, "field", s->field);
  if (s->unit) cJSON_AddStringToObject(o, "unit", s->unit);
  cJSON_AddStringToObject(o, "schema", s->schema_id ? s->schema_id : "");
  cJSON_AddNumberToObject(o, "version", s->schema_version);
  cJSON *labels = cJSON_AddObjectToObject(o, "labels");
  for (size_t i = 0; labels && i < s->nlabels; i++)
    cJSON_AddStringToObject(labels, s->labels[i].key, s->labels[i].value);
  cJSON *tiers = cJSON_AddArrayToObject(o, "tiers_ms");
  for (size_t i = 0; tiers && i < s->ntiers; i++)
    cJSON_AddItemToArray(tiers, cJSON_CreateNumber((double)s->tiers_ms[i]));
  static const char *const policies[] = {"last", "first", "reject"};
  cJSON_AddStringToObject(o, "duplicates", policies[s->dup_policy]);
  cJSON_AddNumberToObject(o, "block_span_ms", (double)s->block_span_ms);
  bool incomplete = false;
  for (size_t i = 0; i < s->ntiers; i++) incomplete |= s->tier_complete_from[i] != INT64_MIN;
  if (incomplete) {
    cJSON *cf = cJSON_AddArrayToObject(o, "complete_from_ms");
    for (size_t i = 0; cf && i < s->ntiers; i++)
      cJSON_AddItemToArray(cf, s->tier_complete_from[i] == INT64_MIN
                                   ? cJSON_CreateNull()
                                   : cJSON_CreateNumber((double)s->tier_complete_from[i]));
  }
  cJSON *ret = cJSON_AddObjectToObject(o, "retention_ms");
  if (ret) {
    cJSON_AddNumberToObject(ret, "raw", (double)s->raw_retention_ms);
    cJSON *rt = cJSON_AddArrayToObject(ret, "tiers");
    for (size_t i = 0; rt && i < s->ntiers; i++)
      cJSON_AddItemToArray(rt, cJSON_CreateNumber((double)s->tier_retention_ms[i]));
  }
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

static char *json_strdup(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static tsdb_series *series_from_json(uint32_t id, const char *text, size_t len) {
  cJSON *o = cJSON_ParseWithLength(text, len);
  if (!o) return NULL;
  tsdb_series *s = calloc(1, sizeof *s);
  const cJSON *topic = cJSON_GetObjectItemCaseSensitive(o, "topic");
  const cJSON *field = cJSON_GetObjectItemCaseSensitive(o, "field");
  if (!s || !cJSON_IsString(topic) || !cJSON_IsString(field)) goto fail;
  size_t tlen = strlen(topic->valuestring), flen = strlen(field->valuestring);
  s->id = id;
  s->key_len = tlen + 1 + flen;
  s->key = malloc(s->key_len + 1);
  if (!s->key) goto fail;
  memcpy(s->key, topic->valuestring, tlen + 1);
  memcpy(s->key + tlen + 1, field->valuestring, flen + 1);
  s->topic = s->key;
  s->topic_len = tlen;
  s->field = s->key + tlen + 1;
  s->unit = json_strdup(o, "unit");
  s->schema_id = json_strdup(o, "schema");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
  s->schema_version = cJSON_IsNumber(ver) && ver->valuedouble >= 0 ? (uint32_t)ver->valuedouble : 0;
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
  int n = cJSON_IsObject(labels) ? cJSON_GetArraySize(labels) : 0;
  if (n > 0) {
    s->labels = calloc((size_t)n, sizeof *s->labels);
    if (!s->labels) goto fail;
    const cJSON *l;
    cJSON_ArrayForEach(l, labels) {
      if (!cJSON_IsString(l) || !l->string) continue;
      s->labels[s->nlabels].key = strdup(l->string);
      s->labels[s->nlabels].value = strdup(l->valuestring);
      s->nlabels++;
    }
  }
  const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(o, "tiers_ms");
  const cJSON *t;
  cJSON_ArrayForEach(t, tiers) {
    if (cJSON_IsNumber(t) && s->ntiers < TSDB_MAX_TIERS && t->valuedouble >= 1000)
      s->tiers_ms[s->ntiers++] = (int64_t)t->valuedouble;
  }
  const cJSON *dup = cJSON_GetObjectItemCaseSensitive(o, "duplicates");
  s->dup_policy = TSDB_DUP_LAST;
  if (cJSON_IsString(dup) && !strcmp(dup->valuestring, "first")) s->dup_policy = TSDB_DUP_FIRST;
  if (cJSON_IsString(dup) && !strcmp(dup->valuestring, "reject")) s->dup_policy = TSDB_DUP_REJECT;
  const cJSON *span = cJSON_GetObjectItemCaseSensitive(o, "block_span_ms");
  s->block_span_ms = cJSON_IsNumber(span) && span->valuedouble >= 1000
                         ? (int64_t)span->valuedouble
                         : TSDB_DEFAULT_BLOCK_SPAN_MS;
  const cJSON *ret = cJSON_GetObjectItemCaseSensitive(o, "retention_ms");
  const cJSON *rr = cJSON_GetObjectItemCaseSensitive(ret, "raw");
  s->raw_retention_ms = cJSON_IsNumber(rr) && rr->valuedouble > 0 ? (int64_t)rr->valuedouble : 0;
  const cJSON *rt = cJSON_GetObjectItemCaseSensitive(ret, "tiers");
  size_t ri = 0;
  cJSON_ArrayForEach(t, rt) {
    if (ri < s->ntiers && cJSON_IsNumber(t) && t->valuedouble > 0)
      s->tier_retention_ms[ri] = (int64_t)t->valuedouble;
    ri++;
  }
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) s->tier_complete_from[i] = INT64_MIN;
  const cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "complete_from_ms");
  size_t ci = 0;
  cJSON_ArrayForEach(t, cf) {
    if (ci < s->ntiers && cJSON_IsNumber(t)) s->tier_complete_from[ci] = (int64_t)t->valuedouble;
    ci++;
  }
  s->persisted = true;
  cJSON_Delete(o);
  return s;
fail:
  cJSON_Delete(o);
  series_free(s);
  return NULL;
}

/* ---- in-memory indexes (caller holds the write lock or runs alone) ---- */

static int index_series(tsdb_catalog *cat, tsdb_series *s) {
  if (s->id >= cat->id_cap) {
    size_t cap = cat->id_cap ? cat->id_cap : 1024;
    while (cap <= s->id) cap *= 2;
    tsdb_series **by_id = realloc(cat->by_id, cap * sizeof *by_id);
    if (!by_id) return TSDB_ENOMEM;
    memset(by_id + cat->id_cap, 0, (cap - cat->id_cap) * sizeof *by_id);
    cat->by_id = by_id;
    cat->id_cap = cap;
  }
  tsdb_topic_entry *te = tsdb_map__get(&cat->by_topic, s->topic, s->topic_len);
  if (!te) {
    te = calloc(1, sizeof *te);
    if (!te || !(te->topic = strndup(s->topic, s->topic_len))) {
      free(te);
      return TSDB_ENOMEM;
    }
    te->topic_len = s->topic_len;
    if (tsdb_map__put(&cat->by_topic, te->topic, te->topic_len, te)) {
      free(te->topic);
      free(te);
      return TSDB_ENOMEM;
    }
  }
  bool listed = false;
  for (size_t i = 0; i < te->n; i++) listed |= te->ids[i] == s->id;
  if (!listed) {
    if (te->n == te->cap) {
      size_t cap = te->cap ? te->cap * 2 : 4;
      uint32_t *ids = realloc(te->ids, cap * sizeof *ids);
      if (!ids) return TSDB_ENOMEM;
      te->ids = ids;
      te->cap = cap;
    }
    te->ids[te->n++] = s->id;
  }
  if (tsdb_map__put(&cat->by_key, s->key, s->key_len, s)) return TSDB_ENOMEM;
  if (!cat->by_id[s->id]) cat->count++;
  cat->by_id[s->id] = s;
  if (s->id >= cat->next_id) cat->next_id = s->id + 1;
  return 0;
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
    tsdb_series *s = series_from_json(id, (const char *)v, vlen);
    if (!s) {
      /* One unreadable descriptor must not take the whole store down: skip
       * it (its data stays on disk) and say so. */
      tsdb_log__printf(cat->log, TSDB_LOG_ERROR,
                       "catalog: unreadable series descriptor id=%" PRIu32 " skipped", id);
      if (id >= cat->next_id) cat->next_id = id + 1; /* never reuse its id */
      continue;
    }
    rc = index_series(cat, s);
    if (rc) {
      series_free(s);
      break;
    }
  }
  int st_rc = tsdb_store__iter_status(it);
  tsdb_store__iter_close(it);
  return rc ? rc : st_rc;
}

/* ---- creation and update (writer thread) ---- */

static bool series_matches_class(const tsdb_series *s, const tsdb_series_class *cls,
                                 const char *unit) {
  if ((unit == NULL) != (s->unit == NULL) || (unit && strcmp(unit, s->unit))) return false;
  if (!s->schema_id || strcmp(s->schema_id, cls->schema_id) ||
      s->schema_version != cls->schema_version)
    return false;
  if (s->ntiers != cls->ntiers || s->dup_policy != cls->dup_policy ||
      s->raw_retention_ms != cls->raw_retention_ms)
    return false;
  for (size_t i = 0; i < s->ntiers; i++)
    if (s->tiers_ms[i] != cls->tiers_ms[i] || s->tier_retention_ms[i] != cls->tier_retention_ms[i])
      return false;
  return true;
}

static tsdb_series *series_from_class(uint32_t id, const tsdb_series_class *cls, const char *topic,
                                      size_t tlen, const char *fname, size_t flen,
                                      const char *unit, int64_t block_span_ms) {
  tsdb_series *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->id = id;
  s->key_len = tlen + 1 + flen;
  s->key = malloc(s->key_len + 1);
  if (!s->key) goto fail;
  memcpy(s->key, topic, tlen);
  s->key[tlen] = '\0';
  memcpy(s->key + tlen + 1, fname, flen);
  s->key[tlen + 1 + flen] = '\0';
  s->topic = s->key;
  s->topic_len = tlen;
  s->field = s->key + tlen + 1;
  if (unit && !(s->unit = strdup(unit))) goto fail;
  if (!(s->schema_id = strdup(cls->schema_id))) goto fail;
  s->schema_version = cls->schema_version;
  s->ntiers = cls->ntiers;
  memcpy(s->tiers_ms, cls->tiers_ms, sizeof s->tiers_ms);
  s->dup_policy = cls->dup_policy;
  s->raw_retention_ms = cls->raw_retention_ms;
  memcpy(s->tier_retention_ms, cls->tier_retention_ms, sizeof s->tier_retention_ms);
  for (size_t i = 0; i < TSDB_MAX_TIERS; i++) s->tier_complete_from[i] = INT64_MIN;
  /* The block span is fixed for the life of a series: its keys depend on it. */
  s->block_span_ms = block_span_ms;

  size_t ncap = tsdb_topic_template_ncaptures(cls->tpl);
  tsdb_topic_capture caps[TSDB_TOPIC_MAX_CAPTURES];
  bool matched = tsdb_topic_template_match(cls->tpl, topic, tlen, caps);
  size_t nlabels = (matched ? ncap : 0) + cls->nlabels;
  if (nlabels) {
    s->labels = calloc(nlabels, sizeof *s->labels);
    if (!s->labels) goto fail;
    for (size_t i = 0; matched && i < ncap; i++) {
      s->labels[s->nlabels].key = strdup(tsdb_topic_template_capture_name(cls->tpl, i));
      s->labels[s->nlabels].value = strndup(topic + caps[i].offset, caps[i].len);
      s->nlabels++;
      if (!s->labels[s->nlabels - 1].key || !s->labels[s->nlabels - 1].value) goto fail;
    }
    for (size_t i = 0; i < cls->nlabels; i++) {
      s->labels[s->nlabels].key = strdup(cls->labels[i].key);
      s->labels[s->nlabels].value = strdup(cls->labels[i].value);
      s->nlabels++;
      if (!s->labels[s->nlabels - 1].key || !s->labels[s->nlabels - 1].value) goto fail;
    }
  }
  return s;
fail:
  series_free(s);
  return NULL;
}

static void put_descriptor(tsdb_store *st, tsdb_wbatch *batch, const tsdb_series *s, int *rc) {
  char *json = descriptor_json(s);
  if (!json) {
    *rc = TSDB_ENOMEM;
    return;
  }
  uint8_t skey[5] = {'S'};
  tsdb_key__put_u32(skey + 1, s->id);
  tsdb_store__batch_catalog_put(st, batch, skey, sizeof skey, json, strlen(json));
  free(json);
  uint8_t *nkey = malloc(1 + s->key_len);
  if (!nkey) {
    *rc = TSDB_ENOMEM;
    return;
  }
  nkey[0] = 'N';
  memcpy(nkey + 1, s->key, s->key_len);
  uint8_t idv[4];
  tsdb_key__put_u32(idv, s->id);
  tsdb_store__batch_catalog_put(st, batch, nkey, 1 + s->key_len, idv, sizeof idv);
  free(nkey);
}

int tsdb_catalog__ensure(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                         const tsdb_series_class *cls, const char *topic, size_t topic_len,
                         const char *fname, size_t flen, const char *unit, int64_t now,
                         tsdb_series **out, bool *changed) {
  *out = NULL;
  *changed = false;
  if (flen == 0 || memchr(fname, '\0', flen)) return TSDB_EINVAL;
  char stack_key[512];
  size_t klen = topic_len + 1 + flen;
  char *key = klen <= sizeof stack_key ? stack_key : malloc(klen);
  if (!key) return TSDB_ENOMEM;
  memcpy(key, topic, topic_len);
  key[topic_len] = '\0';
  memcpy(key + topic_len + 1, fname, flen);
  tsdb_series *s = tsdb_map__get(&cat->by_key, key, klen);
  if (key != stack_key) free(key);

  int rc = 0;
  if (s && series_matches_class(s, cls, unit)) {
    if (!s->persisted) { /* an earlier batch with its descriptor failed */
      put_descriptor(st, batch, s, &rc);
      *changed = rc == 0;
    }
    *out = s;
    return rc;
  }
  /* New series, or the schema changed (version, unit, tiers, policy): write a
   * new descriptor. The id and the block span stay what they were. */
  uint32_t id = s ? s->id : cat->next_id;
  if (!s && id == UINT32_MAX) return TSDB_ERANGE;
  tsdb_series *ns = series_from_class(id, cls, topic, topic_len, fname, flen, unit,
                                      s ? s->block_span_ms : cls->block_span_ms);
  if (!ns) return TSDB_ENOMEM;
  if (s) {
    /* The schema changed. A tier it dropped loses its data: were it added
     * again later, stale buckets must not outlive the backfill. */
    for (size_t k = 0; k < s->ntiers; k++) {
      bool kept = false;
      for (size_t i = 0; i < ns->ntiers; i++) kept |= ns->tiers_ms[i] == s->tiers_ms[k];
      if (!kept) tsdb_store__batch_tier_delete(st, batch, id, (uint32_t)(s->tiers_ms[k] / 1000));
    }
    /* A tier the series had keeps its state; a tier it
     * gains is complete from the start of the current bucket on, and the
     * writer backfills the older buckets from finer data. */
    for (size_t i = 0; i < ns->ntiers; i++) {
      bool had = false;
      for (size_t k = 0; k < s->ntiers; k++) {
        if (s->tiers_ms[k] != ns->tiers_ms[i]) continue;
        had = true;
        ns->tier_complete_from[i] = s->tier_complete_from[k];
      }
      if (!had) {
        int64_t r = now % ns->tiers_ms[i];
        ns->tier_complete_from[i] = now - (r < 0 ? r + ns->tiers_ms[i] : r);
      }
    }
  }
  put_descriptor(st, batch, ns, &rc);
  if (rc) {
    series_free(ns);
    return rc;
  }
  pthread_rwlock_wrlock(&cat->lock);
  rc = index_series(cat, ns);
  pthread_rwlock_unlock(&cat->lock);
  if (rc) {
    series_free(ns);
    return rc;
  }
  series_free(s); /* replaced; no reader holds it (readers copy under the lock) */
  *changed = true;
  *out = ns;
  return 0;
}

int tsdb_catalog__set_complete_from(tsdb_catalog *cat, tsdb_store *st, tsdb_wbatch *batch,
                                    uint32_t id, size_t tier, int64_t from) {
  tsdb_series *s = id < cat->id_cap ? cat->by_id[id] : NULL;
  if (!s || tier >= s->ntiers) return TSDB_ENOTFOUND;
  pthread_rwlock_wrlock(&cat->lock);
  s->tier_complete_from[tier] = from;
  pthread_rwlock_unlock(&cat->lock);
  int rc = 0;
  put_descriptor(st, batch, s, &rc);
  return rc;
}

tsdb_series *tsdb_catalog__get_unlocked(tsdb_catalog *cat, uint32_t id) {
  return id < cat->id_cap ? cat->by_id[id] : NULL;
}

/* ---- readers ---- */

int tsdb_catalog__find(tsdb_catalog *cat, const char *topic, const char *field, uint32_t *id) {
  size_t tlen = strlen(topic), flen = strlen(field);
  size_t klen = tlen + 1 + flen;
  char *key = malloc(klen);
  if (!key) return TSDB_ENOMEM;
  memcpy(key, topic, tlen + 1);
  memcpy(key + tlen + 1, field, flen);
  pthread_rwlock_rdlock(&cat->lock);
  tsdb_series *s = tsdb_map__get(&cat->by_key, key, klen);
  if (s) *id = s->id;
  pthread_rwlock_unlock(&cat->lock);
  free(key);
  return s ? 0 : TSDB_ENOTFOUND;
}

int tsdb_catalog__params(tsdb_catalog *cat, uint32_t id, tsdb_series_params *out) {
  int rc = TSDB_ENOTFOUND;
  pthread_rwlock_rdlock(&cat->lock);
  tsdb_series *s = id < cat->id_cap ? cat->by_id[id] : NULL;
  if (s) {
    out->id = s->id;
    out->ntiers = s->ntiers;
    memcpy(out->tiers_ms, s->tiers_ms, sizeof out->tiers_ms);
    out->dup_policy = s->dup_policy;
    out->block_span_ms = s->block_span_ms;
    out->raw_retention_ms = s->raw_retention_ms;
    memcpy(out->tier_retention_ms, s->tier_retention_ms, sizeof out->tier_retention_ms);
    memcpy(out->tier_complete_from, s->tier_complete_from, sizeof out->tier_complete_from);
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

size_t tsdb_catalog__topic_series(tsdb_catalog *cat, const char *topic, size_t topic_len,
                                  uint32_t *ids, size_t max) {
  size_t n = 0;
  pthread_rwlock_rdlock(&cat->lock);
  tsdb_topic_entry *te = tsdb_map__get(&cat->by_topic, topic, topic_len);
  for (size_t i = 0; te && i < te->n && n < max; i++) ids[n++] = te->ids[i];
  pthread_rwlock_unlock(&cat->lock);
  return n;
}

void tsdb_catalog__field_name(tsdb_catalog *cat, uint32_t id, char *buf, size_t len) {
  pthread_rwlock_rdlock(&cat->lock);
  tsdb_series *s = id < cat->id_cap ? cat->by_id[id] : NULL;
  snprintf(buf, len, "%s", s ? s->field : "");
  pthread_rwlock_unlock(&cat->lock);
}

bool tsdb_catalog__describe(tsdb_catalog *cat, uint32_t id, tsdb_strbuf *sb, bool full) {
  pthread_rwlock_rdlock(&cat->lock);
  tsdb_series *s = id < cat->id_cap ? cat->by_id[id] : NULL;
  if (s) {
    if (s->unit) {
      tsdb_strbuf__puts(sb, ",\"unit\":");
      tsdb_strbuf__json_string(sb, s->unit, strlen(s->unit));
    }
    tsdb_strbuf__puts(sb, ",\"labels\":{");
    for (size_t i = 0; i < s->nlabels; i++) {
      if (i) tsdb_strbuf__putc(sb, ',');
      tsdb_strbuf__json_string(sb, s->labels[i].key, strlen(s->labels[i].key));
      tsdb_strbuf__putc(sb, ':');
      tsdb_strbuf__json_string(sb, s->labels[i].value, strlen(s->labels[i].value));
    }
    tsdb_strbuf__putc(sb, '}');
    if (full) {
      char d[24];
      tsdb_strbuf__puts(sb, ",\"schema\":");
      tsdb_strbuf__json_string(sb, s->schema_id ? s->schema_id : "",
                               s->schema_id ? strlen(s->schema_id) : 0);
      tsdb_strbuf__printf(sb, ",\"version\":%u,\"tiers\":[", (unsigned)s->schema_version);
      for (size_t i = 0; i < s->ntiers; i++)
        tsdb_strbuf__printf(sb, "%s\"%s\"", i ? "," : "",
                            tsdb_duration_format(s->tiers_ms[i], d, sizeof d));
      tsdb_strbuf__puts(sb, "],\"retention\":{\"raw\":");
      if (s->raw_retention_ms)
        tsdb_strbuf__printf(sb, "\"%s\"", tsdb_duration_format(s->raw_retention_ms, d, sizeof d));
      else
        tsdb_strbuf__puts(sb, "null");
      for (size_t i = 0; i < s->ntiers; i++) {
        char t[24];
        tsdb_strbuf__printf(sb, ",\"%s\":", tsdb_duration_format(s->tiers_ms[i], t, sizeof t));
        if (s->tier_retention_ms[i])
          tsdb_strbuf__printf(sb, "\"%s\"",
                              tsdb_duration_format(s->tier_retention_ms[i], d, sizeof d));
        else
          tsdb_strbuf__puts(sb, "null");
      }
      static const char *const policies[] = {"last", "first", "reject"};
      tsdb_strbuf__printf(sb, "},\"duplicates\":\"%s\"", policies[s->dup_policy]);
    }
  }
  pthread_rwlock_unlock(&cat->lock);
  return s != NULL;
}
