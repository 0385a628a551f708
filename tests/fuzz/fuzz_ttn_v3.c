/* libFuzzer target: format "ttn-v3" through the shipped schema schemas/ttn-air-quality. */
#define FUZZ_SCHEMA_DIR "ttn-air-quality"
#define FUZZ_TOPIC "v3/city-air@ttn/devices/aq-0042/up"
#include "fuzz_decoder.h"
