/*
 * config.h - the library's settings, read from the environment once.
 *
 * Every default lives here, in one table of macros, and is documented in
 * README.md and astron-event(7).
 */
#ifndef ASTRON_CONFIG_H
#define ASTRON_CONFIG_H

#include <stddef.h>

#define ASTRON_DEFAULT_TIMEOUT_S 10		/* KAFKA_TIMEOUT */
#define ASTRON_DEFAULT_RING_SIZE (1u << 20)	/* ASTRON_EVENT_RING_SIZE */
#define ASTRON_MIN_RING_SIZE (64u << 10)
#define ASTRON_MAX_RING_SIZE (1u << 30)
#define ASTRON_DEFAULT_MAX_EVENT (64u << 10)	/* ASTRON_EVENT_MAX_SIZE */
#define ASTRON_MIN_MAX_EVENT 1024u
#define ASTRON_DEFAULT_LOG_RATE 10		/* ASTRON_EVENT_LOG_RATE, per s */
#define ASTRON_DEFAULT_BLOCK_MS 0		/* ASTRON_EVENT_BLOCK_MS: drop */
#define ASTRON_MAX_BLOCK_MS 10000
#define ASTRON_RDKAFKA_ENV_PREFIX "ASTRON_RDKAFKA_"

/* Where the flusher writes events (ASTRON_EVENT_SINK). */
typedef enum astron_sink_kind {
	ASTRON_SINK_KAFKA = 0, /* unset, "" or "kafka": the default */
	ASTRON_SINK_STDERR,    /* "stderr": JSON lines */
	ASTRON_SINK_STDOUT,    /* "stdout": JSON lines */
	ASTRON_SINK_FILE,      /* "file:PATH": JSON lines appended to PATH */
	ASTRON_SINK_MSGPACK,   /* "msgpack:PATH": raw values appended to PATH */
	ASTRON_SINK_INVALID,   /* anything else: events are dropped */
} astron_sink_kind_t;

typedef struct astron_config {
	int enabled;	    /* KAFKA_ENABLE */
	const char *servers; /* KAFKA_SERVERS, NULL when unset or empty */
	int timeout_ms;	    /* KAFKA_TIMEOUT in ms */
	size_t ring_size;   /* bytes per emitting thread, a power of two */
	size_t max_event;   /* largest encoded event, <= ring_size / 4 */
	int log_rate;	    /* diagnostics per second */
	int block_ms;	    /* wait for ring space this long before dropping */
	astron_sink_kind_t sink; /* ASTRON_EVENT_SINK */
	const char *sink_spec;	 /* its value as given (for messages), or NULL */
	const char *sink_path;	 /* PATH of file: and msgpack:, else NULL */
} astron_config_t;

/* The configuration, read from the environment on the first call (thread
 * safe).  Problems are logged once, naming the variable, and the default is
 * used -- except for a bad ASTRON_EVENT_SINK, whose default (Kafka) is not
 * what the user asked for: that one makes the pipeline drop events. */
const astron_config_t *astron_config(void);

/* Read the environment again (tests, and a forked child that wants its own
 * view); not thread safe with respect to concurrent emitters. */
void astron_config_reload(void);

/* Parsers shared with the tests: each returns 0 and stores the value, or -1
 * leaving *out untouched. */
int astron_parse_bool(const char *s);
int astron_parse_size(const char *s, size_t *out);
int astron_parse_int(const char *s, long min, long max, long *out);

/* ASTRON_EVENT_SINK: "stderr", "stdout", "kafka" (any case, surrounding
 * white space ignored), "file:PATH" or "msgpack:PATH" (the prefix in any
 * case, PATH verbatim and not empty); NULL or "" is Kafka.  Returns the kind
 * and points *path into s (NULL when there is no path);
 * ASTRON_SINK_INVALID for anything else. */
astron_sink_kind_t astron_parse_sink(const char *s, const char **path);

#endif /* ASTRON_CONFIG_H */
