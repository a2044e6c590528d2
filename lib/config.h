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

typedef struct astron_config {
	int enabled;	    /* KAFKA_ENABLE */
	const char *servers; /* KAFKA_SERVERS, NULL when unset or empty */
	int timeout_ms;	    /* KAFKA_TIMEOUT in ms */
	size_t ring_size;   /* bytes per emitting thread, a power of two */
	size_t max_event;   /* largest encoded event, <= ring_size / 4 */
	int log_rate;	    /* diagnostics per second */
	int block_ms;	    /* wait for ring space this long before dropping */
} astron_config_t;

/* The configuration, read from the environment on the first call (thread
 * safe).  Problems are logged once, naming the variable, and the default is
 * used. */
const astron_config_t *astron_config(void);

/* Read the environment again (tests, and a forked child that wants its own
 * view); not thread safe with respect to concurrent emitters. */
void astron_config_reload(void);

/* Parsers shared with the tests: each returns 0 and stores the value, or -1
 * leaving *out untouched. */
int astron_parse_bool(const char *s);
int astron_parse_size(const char *s, size_t *out);
int astron_parse_int(const char *s, long min, long max, long *out);

#endif /* ASTRON_CONFIG_H */
