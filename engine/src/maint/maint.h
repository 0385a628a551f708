/* The maintenance thread (maint.c has its DESIGN). Internal. */
#ifndef TSDB_MAINT_H
#define TSDB_MAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

typedef struct tsdb_maint tsdb_maint;

int tsdb_maint__start(tsdb_env *env, tsdb_maint **out);
void tsdb_maint__stop(tsdb_maint *m);
/* One retention sweep, on the calling thread. */
void tsdb_maint__sweep(tsdb_env *env);
/* Gives freed heap pages back to the system when enough are free. */
void tsdb_maint__give_back_memory(tsdb_env *env, size_t *free_after_last);
/* The compaction filter's question (ud: the env): has retention passed
 * this key? */
bool tsdb_maint__key_expired(void *ud, tsdb_cf_id cf, const uint8_t *key, size_t klen);

#endif /* TSDB_MAINT_H */
