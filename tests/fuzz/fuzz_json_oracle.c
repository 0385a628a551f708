/*
 * libFuzzer target: the JSON decoder against jansson as an oracle
 * (tests/unit/json_oracle.h). Whatever the bytes, our verdict (accept, or
 * refuse as invalid, as holding \u0000, as a name twice) must be the one
 * jansson's strict RFC 8259 reading implies, and an accepted text must give
 * cJSON the same tree as jansson. The cases the oracle cannot judge (raw
 * NUL bytes are judged without jansson; nesting beyond cJSON's 1000 levels
 * and numbers beyond a double are skipped) are listed there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A copy of exactly size bytes, so that ASan sees a read past the end. */
  char *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  char why[512];
  if (oracle_judge(copy, size, why, sizeof why) == ORACLE_DIFFERS) {
    fprintf(stderr, "fuzz_json_oracle: %s\n", why);
    abort();
  }
  free(copy);
  return 0;
}
