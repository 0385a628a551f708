/* libFuzzer target: format "sensor.community" through the shipped schema schemas/sensor-community. */
#define FUZZ_SCHEMA_DIR "sensor-community"
#define FUZZ_TOPIC "sensor.community/esp8266-1234567"
#include "fuzz_decoder.h"
