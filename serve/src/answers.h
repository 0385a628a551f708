/*
 * JSON answer writers shared by every read protocol: the same series
 * described the same way on MQTT ($CONTROL answers) and, later, HTTP.
 */
#ifndef TSDB_SERVE_ANSWERS_H
#define TSDB_SERVE_ANSWERS_H

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"
#include "tsdb/tsdb.h"

/*
 * Appends the JSON members that describe a series:
 *   ,"unit":..,"labels":{..}                       always (unit only if it has one)
 *   ,"schema":..,"version":..,"tiers":[..],"retention":{"raw":..,"<tier>":..},
 *   "duplicates":"last"|"first"|"reject"            when full
 * Nothing when the series is unknown (or out of memory: sb fails).
 */
void tsdb_serve__series_json(tsdb_strbuf *sb, tsdb_db *db, uint32_t series, bool full);
/* The same from a description in hand. */
void tsdb_serve__series_info_json(tsdb_strbuf *sb, const tsdb_series_info *info, bool full);

#endif /* TSDB_SERVE_ANSWERS_H */
