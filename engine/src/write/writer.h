/* The writer thread (writer.c has its DESIGN). Internal. */
#ifndef TSDB_WRITER_H
#define TSDB_WRITER_H

#include "env.h"

typedef struct tsdb_writer tsdb_writer;

int tsdb_writer__start(tsdb_env *env, tsdb_writer **out);
/* The queue must be stopped first; joins the thread and frees the writer. */
void tsdb_writer__join(tsdb_writer *w);

#endif /* TSDB_WRITER_H */
