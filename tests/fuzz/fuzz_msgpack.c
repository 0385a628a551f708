/* libFuzzer target: format "msgpack" through the shipped schema schemas/traffic-counter. */
#define FUZZ_SCHEMA_DIR "traffic-counter"
#define FUZZ_TOPIC "city/neukoelln/sonnenallee-112/traffic"
#include "fuzz_decoder.h"
