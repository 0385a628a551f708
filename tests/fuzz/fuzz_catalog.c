/*
 * libFuzzer target: the series descriptors the catalog reads back from
 * RocksDB at open (engine/src/store/catalog.c, tsdb_catalog__load_descriptor),
 * without a store. The input is descriptors separated by NUL bytes, each an
 * optional "<id>:" and a JSON text; without an id, the n-th has id n. Each
 * is indexed, or refused with TSDB_ECORRUPT and skipped, as at open. Then,
 * for every series indexed: its parameters are within the bounds the read
 * and write paths assume, it is found again by topic and field, and its
 * description (what `series` and `query` answer with) is valid JSON, strictly
 * (RFC 8259: UTF-8, each name once in an object). The catalog is freed with
 * nothing leaked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "answers.h"
#include "catalog.h"
#include "rfc8259.h"
#include "strbuf.h"
#include "tsdb/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                  \
  do {                                             \
    fprintf(stderr, "fuzz_catalog: " __VA_ARGS__); \
    fprintf(stderr, "\n");                         \
    abort();                                       \
  } while (0)

#define MAX_DESCRIPTORS 64

/* The members a description appends, as a JSON object of their own. */
static void check_description(tsdb_catalog *cat, uint32_t id, bool full) {
  tsdb_strbuf sb;
  tsdb_strbuf__init(&sb);
  tsdb_strbuf__putc(&sb, '{');
  tsdb_strbuf__puts(&sb, "\"id\":1");
  tsdb_series_info info;
  if (tsdb_catalog__info(cat, id, &info) != 0) FAIL("series %u is not described", id);
  tsdb_serve__series_info_json(&sb, &info, full);
  tsdb_series_info_free(&info);
  tsdb_strbuf__putc(&sb, '}');
  if (tsdb_strbuf__failed(&sb)) abort();
  ingest_rfc8259_result r;
  ingest_rfc8259_status st = ingest_rfc8259__check(sb.data, sb.len, 64, &r);
  /* Names are written once, but two damaged names that differ only in
   * bytes that are not UTF-8 are both written with U+FFFD in their place. */
  if (st == INGEST_RFC8259_DUPLICATE && strstr(sb.data, "\xef\xbf\xbd")) st = INGEST_RFC8259_OK;
  if (st != INGEST_RFC8259_OK)
    FAIL("the description of series %u is not valid JSON (%d: %s at %zu): %s", id, (int)st,
         r.why ? r.why : "", r.where, sb.data);
  tsdb_strbuf__free(&sb);
}

static void check_series(tsdb_catalog *cat, uint32_t id, const cJSON *desc) {
  tsdb_series_params p;
  if (tsdb_catalog__params(cat, id, &p) != 0) FAIL("series %u has no parameters", id);
  if (p.id != id || p.ntiers > TSDB_MAX_TIERS) FAIL("series %u: %zu tiers", id, p.ntiers);
  if (p.dup_policy < TSDB_DUP_LAST || p.dup_policy > TSDB_DUP_REJECT)
    FAIL("series %u: duplicate policy %d", id, p.dup_policy);
  if (p.block_span_ms < 1000) FAIL("series %u: block span %lld", id, (long long)p.block_span_ms);
  if (p.raw_retention_ms < 0)
    FAIL("series %u: raw retention %lld", id, (long long)p.raw_retention_ms);
  for (size_t i = 0; i < p.ntiers; i++) {
    if (p.tiers_ms[i] < 1000) FAIL("series %u: tier %lld", id, (long long)p.tiers_ms[i]);
    if (p.tier_retention_ms[i] < 0)
      FAIL("series %u: tier retention %lld", id, (long long)p.tier_retention_ms[i]);
  }
  const char *topic = cJSON_GetObjectItemCaseSensitive(desc, "topic")->valuestring;
  const char *field = cJSON_GetObjectItemCaseSensitive(desc, "field")->valuestring;
  uint32_t found = 0;
  if (tsdb_catalog__find(cat, topic, field, &found) != 0 || found != id)
    FAIL("series %u is not found by its topic and field (%u)", id, found);
  char name[512];
  tsdb_catalog__field_name(cat, id, name, sizeof name);
  if (strncmp(name, field, sizeof name - 1))
    FAIL("series %u: field '%s', want '%s'", id, name, field);
  uint32_t ids[MAX_DESCRIPTORS];
  size_t n = tsdb_catalog__topic_series(cat, topic, strlen(topic), ids, MAX_DESCRIPTORS);
  bool listed = false;
  for (size_t i = 0; i < n; i++) listed |= ids[i] == id;
  if (!listed) FAIL("series %u is not listed under its topic", id);
  check_description(cat, id, false);
  check_description(cat, id, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsdb_logger log = {NULL, NULL, TSDB_LOG_DEBUG};
  tsdb_catalog cat;
  if (tsdb_catalog__init(&cat, &log) != 0) abort();
  uint32_t ids[MAX_DESCRIPTORS];
  cJSON *descs[MAX_DESCRIPTORS];
  size_t loaded = 0, pos = 0;
  for (size_t i = 0; i < MAX_DESCRIPTORS && pos < size; i++) {
    const uint8_t *nul = memchr(data + pos, 0, size - pos);
    size_t len = nul ? (size_t)(nul - (data + pos)) : size - pos;
    const char *text = (const char *)data + pos;
    pos += len + 1;
    uint32_t id = (uint32_t)i + 1;
    size_t k = 0;
    uint64_t v = 0;
    for (; k < len && k < 11 && text[k] >= '0' && text[k] <= '9'; k++)
      v = v * 10 + (uint64_t)(text[k] - '0');
    if (k > 0 && k < len && text[k] == ':' && v <= UINT32_MAX) {
      id = (uint32_t)v;
      text += k + 1;
      len -= k + 1;
    }
    /* Exactly the value's bytes, so that ASan sees a read past them. */
    char *copy = malloc(len ? len : 1);
    if (!copy) abort();
    memcpy(copy, text, len);
    int rc = tsdb_catalog__load_descriptor(&cat, id, copy, len);
    if (rc == 0) {
      for (size_t j = 0; j < loaded; j++)
        if (ids[j] == id) FAIL("id %u indexed twice", id);
      ids[loaded] = id;
      descs[loaded] = cJSON_ParseWithLength(copy, len);
      if (!descs[loaded]) FAIL("an indexed descriptor that cJSON cannot read");
      loaded++;
    } else if (rc != TSDB_ECORRUPT) {
      FAIL("load: %s", tsdb_err_name(rc));
    }
    free(copy);
  }
  if (tsdb_catalog__count(&cat) != loaded)
    FAIL("%zu series counted, %zu indexed", tsdb_catalog__count(&cat), loaded);
  for (size_t i = 0; i < loaded; i++) {
    check_series(&cat, ids[i], descs[i]);
    cJSON_Delete(descs[i]);
  }
  tsdb_catalog__destroy(&cat);
  return 0;
}
