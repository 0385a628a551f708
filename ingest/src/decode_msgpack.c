/*
 * Format "msgpack": one MessagePack value (msgpack-c), validated and read
 * like JSON through the value view of value_msgpack.c: maps are objects (a
 * non-string key matches no property), bin/ext match no JSON type, and NaN
 * or infinities fail every numeric keyword and every measurement.
 *
 * Before msgpack-c sees the bytes, one pass over the headers checks that
 * they form exactly one well-formed value: msgpack-c allocates an array or
 * map for the count its header declares before reading a single element,
 * so five hostile bytes (0xdd ff ff ff ff) would ask for 96 GiB. After the
 * pass every declared element is known to be there, so msgpack-c allocates
 * at most a small multiple of the payload's size. The pass also bounds
 * nesting at msgpack-c's own limit (MSGPACK_EMBED_STACK_SIZE, 32), so that a
 * deep value gets a precise reason. A map with a string key twice is
 * refused after the unpack, as a JSON object with a name twice is.
 */
#include <msgpack.h>

#include "schema_internal.h"

#define MAX_DEPTH 32

typedef enum { WF_OK, WF_TRUNCATED, WF_TRAILING, WF_DEEP, WF_RESERVED } wf_result;

static uint32_t be(const unsigned char *p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* Walks the headers (MessagePack specification, "Formats") without building
 * anything: scalars are skipped, containers push the number of elements
 * still expected. *where is the offset where it stopped. */
static wf_result wellformed(const unsigned char *p, size_t len, size_t *where) {
  size_t left[MAX_DEPTH + 1]; /* elements still expected, per open level */
  int depth = 0;
  size_t pos = 0;
  left[0] = 1;
  while (depth >= 0) {
    if (left[depth] == 0) {
      depth--;
      continue;
    }
    left[depth]--;
    *where = pos;
    if (pos >= len) return WF_TRUNCATED;
    unsigned char b = p[pos++];
    size_t room = len - pos, skip = 0, count = 0, lenbytes = 0;
    bool container = false, map = false;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1)) {
      skip = 0; /* fixints, nil, false, true */
    } else if (b <= 0x8f) {
      container = map = true, count = b & 0x0f;
    } else if (b <= 0x9f) {
      container = true, count = b & 0x0f;
    } else if (b <= 0xbf) {
      skip = b & 0x1f; /* fixstr */
    } else {
      /* One row per MessagePack format (spec.md, "Overview"); rows that skip
       * the same number of bytes stay apart so the table reads as the spec. */
      // clang-format off
      // NOLINTBEGIN(bugprone-branch-clone)
      switch (b) {
      case 0xc4: case 0xd9: lenbytes = 1; break;           /* bin8, str8 */
      case 0xc5: case 0xda: lenbytes = 2; break;           /* bin16, str16 */
      case 0xc6: case 0xdb: lenbytes = 4; break;           /* bin32, str32 */
      case 0xc7: lenbytes = 1, skip = 1; break;            /* ext8: + type */
      case 0xc8: lenbytes = 2, skip = 1; break;
      case 0xc9: lenbytes = 4, skip = 1; break;
      case 0xca: case 0xce: case 0xd2: skip = 4; break;    /* float32, (u)int32 */
      case 0xcb: case 0xcf: case 0xd3: skip = 8; break;    /* float64, (u)int64 */
      case 0xcc: case 0xd0: skip = 1; break;
      case 0xcd: case 0xd1: skip = 2; break;
      case 0xd4: skip = 2; break;                          /* fixext 1..16: type + data */
      case 0xd5: skip = 3; break;
      case 0xd6: skip = 5; break;
      case 0xd7: skip = 9; break;
      case 0xd8: skip = 17; break;
      case 0xdc: container = true, lenbytes = 2; break;    /* array16 */
      case 0xdd: container = true, lenbytes = 4; break;
      case 0xde: container = map = true, lenbytes = 2; break;
      case 0xdf: container = map = true, lenbytes = 4; break;
      default: return WF_RESERVED;                         /* 0xc1 */
      }
      // NOLINTEND(bugprone-branch-clone)
      // clang-format on
      if (lenbytes) {
        if (lenbytes > room) return WF_TRUNCATED;
        size_t n = be(p + pos, lenbytes);
        pos += lenbytes;
        room -= lenbytes;
        if (container)
          count = n;
        else
          skip += n;
      }
    }
    if (!container) {
      if (skip > room) return WF_TRUNCATED;
      pos += skip;
      continue;
    }
    size_t elements = map ? 2 * count : count;
    if (elements == 0) continue;
    if (elements > room) return WF_TRUNCATED; /* every element is at least a byte */
    if (depth == MAX_DEPTH) return WF_DEEP;
    left[++depth] = elements;
  }
  *where = pos;
  return pos == len ? WF_OK : WF_TRAILING;
}

static int parse(const void *payload, size_t len, ingest_doc *doc, ingest_error *err) {
  size_t where = 0;
  wf_result wf = wellformed(payload, len, &where);
  if (wf != WF_OK) {
    static const char *const why[] = {"", "truncated", "", "nested deeper than 32 levels",
                                      "reserved byte 0xc1"};
    if (wf == WF_TRAILING)
      ingest_error_set(err, INGEST_EDECODE, "format", "",
                       "(root): payload has %zu bytes after the MessagePack value", len - where);
    else
      ingest_error_set(err, INGEST_EDECODE, "format", "",
                       "(root): payload is not valid MessagePack (%s, at byte %zu of %zu)", why[wf],
                       where, len);
    ingest_extract__expected(err, "MessagePack");
    return INGEST_EDECODE;
  }
  msgpack_unpacked_init(&doc->mp);
  size_t off = 0;
  msgpack_unpack_return ur = msgpack_unpack_next(&doc->mp, payload, len, &off);
  if (ur == MSGPACK_UNPACK_SUCCESS && off == len) {
    doc->root = ingest_value_from_msgpack(&doc->mp.data);
    /* A map with a key twice is as ambiguous as in JSON (members.c). */
    int rc = ingest_members__unique(doc->root, err);
    if (rc) msgpack_unpacked_destroy(&doc->mp);
    return rc;
  }
  msgpack_unpacked_destroy(&doc->mp);
  if (ur == MSGPACK_UNPACK_SUCCESS)
    ingest_error_set(err, INGEST_EDECODE, "format", "",
                     "(root): payload has %zu bytes after the MessagePack value", len - off);
  else
    ingest_error_set(err, INGEST_EDECODE, "format", "",
                     "(root): payload is not valid MessagePack (%s)",
                     ur == MSGPACK_UNPACK_CONTINUE      ? "truncated"
                     : ur == MSGPACK_UNPACK_NOMEM_ERROR ? "too large"
                                                        : "malformed");
  ingest_extract__expected(err, "MessagePack");
  return INGEST_EDECODE;
}

static void release(ingest_doc *doc) { msgpack_unpacked_destroy(&doc->mp); }

const ingest_decoder ingest_decode_msgpack = {
    .name = "msgpack",
    .named = false,
    .ts_pointer = true,
    .parse = parse,
    .release = release,
    .configure = NULL,
    .extract = ingest_extract__document,
};
