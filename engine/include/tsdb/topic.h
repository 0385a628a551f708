/*
 * MQTT topics: filter matching (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7)
 * and topic templates with named levels, which turn a concrete topic into
 * labels: "city/{district}/{station}/air" matches "city/mitte/s17/air" with
 * district=mitte, station=s17.
 *
 * Template syntax, level by level (levels are separated by '/'):
 *   literal      "city"          must be equal
 *   capture      "{district}"    any non-empty level text, becomes a label
 *   mixed        "{app}@{tenant}" literals between captures; each capture
 *                                  takes the shortest text before the next
 *                                  literal, the last one takes the rest
 *   "+"                          any single level, no label
 *   "#"          (last level)    any number of remaining levels (also none)
 * Capture names: [A-Za-z_][A-Za-z0-9_]*, unique within a template.
 *
 * Everything here is pure and allocation-free after compilation; a compiled
 * template is immutable and may be shared between threads.
 */
#ifndef TSDB_TOPIC_H
#define TSDB_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSDB_TOPIC_MAX_CAPTURES 16
/* The longest topic MQTT carries (3.1.1 section 1.5.3, 5.0 section 1.5.4). */
#define TSDB_TOPIC_MAX_LEN 65535

typedef struct tsdb_topic_template tsdb_topic_template;

typedef struct tsdb_topic_capture {
  size_t offset; /* into the matched topic */
  size_t len;
} tsdb_topic_capture;

/* Compiles a template; on error returns TSDB_EINVAL and a reason in err. */
int tsdb_topic_template_compile(const char *text, tsdb_topic_template **out, char *err,
                                size_t errlen);
void tsdb_topic_template_free(tsdb_topic_template *t);
const char *tsdb_topic_template_text(const tsdb_topic_template *t);
size_t tsdb_topic_template_ncaptures(const tsdb_topic_template *t);
const char *tsdb_topic_template_capture_name(const tsdb_topic_template *t, size_t i);
/* A rank for choosing between templates that match the same topic: more
 * literal levels first, then longer literal text. Higher is more specific. */
unsigned tsdb_topic_template_specificity(const tsdb_topic_template *t);

/* true when topic[0..len) matches; caps (may be NULL) receive
 * tsdb_topic_template_ncaptures() spans. */
bool tsdb_topic_template_match(const tsdb_topic_template *t, const char *topic, size_t len,
                               tsdb_topic_capture *caps);

/* MQTT topic filter matching, including the rule that a filter starting with
 * a wildcard does not match a topic starting with '$'. */
bool tsdb_topic_filter_match(const char *filter, const char *topic);
/* A valid topic name to publish to: non-empty, UTF-8 checked by the broker,
 * no '+' or '#', no NUL. */
bool tsdb_topic_name_valid(const char *topic, size_t len);
/* A valid topic filter: '#' only as a whole last level, '+' only as a whole level. */
bool tsdb_topic_filter_valid(const char *filter);

#ifdef __cplusplus
}
#endif

#endif /* TSDB_TOPIC_H */
