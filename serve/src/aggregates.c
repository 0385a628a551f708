/*
 * The live aggregates' topics and payloads (tsdb/serve.h): bucket events of
 * the writer thread become $tsdb/agg publications.
 *
 * Each payload is built with appends into a buffer that belongs to the
 * calling thread (the writer's) and lives until it exits: printf and a fresh
 * allocation per publication were a fifth of the writer's CPU at a city's
 * shape (five publications a message).
 */
#include "serve_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "timeutil.h"
#include "tsdb/topic.h"

static pthread_key_t payload_key;
static pthread_once_t payload_key_once = PTHREAD_ONCE_INIT;

static void payload_free(void *p) {
  tsdb_strbuf__free(p);
  free(p);
}

static void payload_key_create(void) { pthread_key_create(&payload_key, payload_free); }

/* The calling thread's payload buffer, emptied; NULL on out of memory. */
static tsdb_strbuf *thread_payload(void) {
  pthread_once(&payload_key_once, payload_key_create);
  tsdb_strbuf *sb = pthread_getspecific(payload_key);
  if (!sb) {
    sb = malloc(sizeof *sb);
    if (!sb) return NULL;
    tsdb_strbuf__init(sb);
    if (pthread_setspecific(payload_key, sb) != 0) {
      free(sb);
      return NULL;
    }
  }
  if (sb->failed) tsdb_strbuf__free(sb); /* a failed allocation stays failed otherwise */
  sb->len = 0;
  return sb;
}

static const char *const state_names[] = {
    [TSDB_BUCKET_PARTIAL] = "partial",
    [TSDB_BUCKET_FINAL] = "final",
    [TSDB_BUCKET_CORRECTION] = "correction",
};

/* ,"<field>_count":..,"<field>_min":.. for one field's aggregate, every
 * kind of the engine's table (tsdb_agg_name) in its order. */
static void json_field_aggs(tsdb_strbuf *sb, const char *field, const tsdb_aggregate *view) {
  size_t flen = strlen(field);
  /* Field names are checked by the schema loader, but not for JSON: a name
   * that needs escapes takes the general path. */
  bool plain = tsdb_json_plain(field, flen);
  char key[320];
  for (int i = 0; i < TSDB_AGG_KINDS; i++) {
    const char *name = tsdb_agg_name(i);
    size_t nlen = strlen(name), klen = flen + 1 + nlen;
    if (klen >= sizeof key - 4) continue;
    if (plain) {
      key[0] = ',';
      key[1] = '"';
      memcpy(key + 2, field, flen);
      key[2 + flen] = '_';
      memcpy(key + 3 + flen, name, nlen);
      key[2 + klen] = '"';
      key[3 + klen] = ':';
      tsdb_strbuf__append(sb, key, klen + 4);
    } else {
      memcpy(key, field, flen);
      key[flen] = '_';
      memcpy(key + flen + 1, name, nlen);
      tsdb_strbuf__putc(sb, ',');
      tsdb_strbuf__json_string(sb, key, klen);
      tsdb_strbuf__putc(sb, ':');
    }
    if (i == TSDB_AGG_COUNT)
      tsdb_strbuf__json_int(sb, (int64_t)view->count);
    else
      tsdb_strbuf__json_double(sb, tsdb_aggregate_get(view, (tsdb_agg_kind)i));
  }
}

bool tsdb_serve_agg_topic(char *buf, size_t len, int64_t tier_ms, const char *topic,
                          size_t topic_len) {
  char tier[24];
  tsdb_duration_format(tier_ms, tier, sizeof tier);
  int n = snprintf(buf, len, "$tsdb/agg/%s/%.*s", tier, (int)topic_len, topic);
  return n > 0 && (size_t)n < len;
}

void tsdb_serve__publish_bucket(const tsdb_bucket_event *ev, void *ud) {
  tsdb_serve *srv = ud;
  tsdb_strbuf *sb = thread_payload();
  if (!sb || ev->nfields == 0 || (unsigned)ev->state > TSDB_BUCKET_CORRECTION) return;
  char tier[24], start_text[64];
  tsdb_duration_format(ev->tier_ms, tier, sizeof tier);
  tsdb_time__format_rfc3339(ev->start_ms, start_text);
  tsdb_strbuf__puts(sb, "{\"tier\":\"");
  tsdb_strbuf__puts(sb, tier);
  tsdb_strbuf__puts(sb, "\",\"start\":\"");
  tsdb_strbuf__puts(sb, start_text);
  tsdb_strbuf__puts(sb, "\",\"start_ms\":");
  tsdb_strbuf__json_int(sb, ev->start_ms);
  tsdb_strbuf__puts(sb, ",\"end_ms\":");
  tsdb_strbuf__json_int(sb, ev->start_ms + ev->tier_ms);
  tsdb_strbuf__puts(sb, ",\"state\":\"");
  tsdb_strbuf__puts(sb, state_names[ev->state]);
  tsdb_strbuf__putc(sb, '"');
  for (size_t i = 0; i < ev->nfields; i++)
    json_field_aggs(sb, ev->fields[i].field, ev->fields[i].agg);
  tsdb_strbuf__putc(sb, '}');
  /* The topic goes after the payload in the same buffer, at any length up
   * to what MQTT allows (a topic that long has no aggregate topic: its
   * bucket is stored, not published). */
  size_t payload_len = sb->len;
  tsdb_strbuf__putc(sb, '\0');
  tsdb_strbuf__puts(sb, "$tsdb/agg/");
  tsdb_strbuf__puts(sb, tier);
  tsdb_strbuf__putc(sb, '/');
  tsdb_strbuf__append(sb, ev->topic, ev->topic_len);
  size_t topic_len = sb->len - payload_len - 1;
  if (!tsdb_strbuf__failed(sb) && topic_len <= TSDB_TOPIC_MAX_LEN)
    tsdb_outbox__publish(&srv->outbox, sb->data + payload_len + 1, sb->data, payload_len, 0,
                         ev->newest, false);
}
