/*
 * The payload decoders, one const table selected by x-tsdb.format. Each
 * decoder is a struct of functions in its own decode_<name>.c (interface in
 * schema_internal.h); adding a format is adding a file and a line here.
 */
#include <string.h>

#include "schema_internal.h"

static const ingest_decoder *const decoders[] = {
    &ingest_decode_json,   &ingest_decode_msgpack,          &ingest_decode_senml,
    &ingest_decode_ttn_v3, &ingest_decode_sensor_community,
};

const ingest_decoder *ingest_decode__find(const char *name) {
  for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++)
    if (!strcmp(decoders[i]->name, name)) return decoders[i];
  return NULL;
}

const char *ingest_decode__names(void) {
  return "\"json\", \"msgpack\", \"senml\", \"ttn-v3\", \"sensor.community\"";
}
