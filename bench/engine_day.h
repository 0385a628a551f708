/* A simulated day of a city's stations through the engine (engine_day.c). */
#ifndef ENGINE_DAY_H
#define ENGINE_DAY_H

#include <stddef.h>
#include <stdint.h>

#define ENGINE_DAY_MAX_HOURS 48

typedef struct engine_day_params {
  size_t stations; /* 5 series each */
  int hours;       /* 1..ENGINE_DAY_MAX_HOURS */
} engine_day_params;

typedef struct engine_day_hour {
  double cpu_us_per_point, writer_us_per_point, wall_s;
  long rss_kb;
} engine_day_hour;

typedef struct engine_day_result {
  size_t stations, series;
  int hours;
  uint64_t points, publications, results_dropped, full_waits;
  long peak_rss_kb, rss_kb, rocksdb_kb;
  double rss_per_series; /* bytes, beyond RocksDB's memory and the start */
  double raw_bpp, tiers_bpp, other_bpp;
  engine_day_hour hour[ENGINE_DAY_MAX_HOURS];
} engine_day_result;

/* Runs the day in DIR/day (removed afterwards) and prints its table. */
void engine_day_run(const char *dir, const engine_day_params *p, engine_day_result *out);

#endif
