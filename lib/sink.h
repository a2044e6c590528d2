/*
 * sink.h - ASTRON_EVENT_SINK: the flusher writes events to a local stream or
 * file instead of Kafka, for development (see sink.c).
 */
#ifndef ASTRON_SINK_H
#define ASTRON_SINK_H

#include <stddef.h>

#include "config.h"

typedef struct astron_sink astron_sink_t;

/* Open the sink `kind` (stderr, stdout, file: or msgpack:; path is the
 * file's, spec the variable's value, quoted in messages).  Files are opened
 * for appending and created if needed.  NULL on failure, already logged
 * naming ASTRON_EVENT_SINK and the reason. */
astron_sink_t *astron_sink_open(astron_sink_kind_t kind, const char *path,
				const char *spec);

/* Write one event: `value` is its Kafka message value (one msgpack map),
 * key[0..keylen) its message key (NULL: none).  JSON sinks write the line
 * astron_event_json(..., ASTRON_JSON_KEY) renders, msgpack sinks the value's
 * bytes; either way with one write, and the stream is flushed before this
 * returns.  0 when written, else a negative ASTRON_E* code, logged
 * (rate-limited) naming the sink. */
int astron_sink_write(astron_sink_t *s, const void *key, size_t keylen,
		      const void *value, size_t len);

/* Flush and release the sink; a file is closed, stderr and stdout are only
 * flushed.  NULL is ignored. */
void astron_sink_close(astron_sink_t *s);

#endif /* ASTRON_SINK_H */
