/* libFuzzer target: format "senml" through the shipped schema schemas/senml. */
#define FUZZ_SCHEMA_DIR "senml"
#define FUZZ_TOPIC "city/pankow/lamp-0815/senml"
#include "fuzz_decoder.h"
