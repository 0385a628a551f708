/* libFuzzer target: format "json" through the shipped schema schemas/air-quality. */
#define FUZZ_SCHEMA_DIR "air-quality"
#define FUZZ_TOPIC "city/mitte/s17/air"
#include "fuzz_decoder.h"
