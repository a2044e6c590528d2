/*
 * astron/event.h - one line of instrumentation, one structured event on Kafka.
 *
 *     ASTRON_EVENT("agent.spans", "trace=%s span=%llu dur_us=%d ok=%d",
 *                  trace_id, span_id, dur, ok);
 *
 * The calling thread encodes the fields as msgpack into its own lock-free ring
 * and returns; a background flusher thread hands the events to the Kafka
 * producer service (<astron/kafka.h>), or with ASTRON_EVENT_SINK to a local
 * file or stream as JSON lines (<astron/json.h>) or msgpack.  The library
 * configures itself from the environment the first time it is needed (see
 * astron-event(7)): KAFKA_ENABLE, KAFKA_SERVERS, KAFKA_TIMEOUT,
 * ASTRON_RDKAFKA_<PROPERTY> and ASTRON_EVENT_*.  When KAFKA_ENABLE is off every ASTRON_EVENT costs one
 * predictable branch and its arguments are not evaluated.
 *
 * The format is a sequence of space-separated pairs, `key=%conv` or
 * `key=literal`.  topic and fmt must be string literals (or other strings of
 * static storage that never change): they are captured once per call site.
 * The wire format of an event is specified in doc/event-format.md.
 */
#ifndef ASTRON_EVENT_H
#define ASTRON_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <astron/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ASTRON_EXTERN __attribute__((visibility("default")))
#define ASTRON_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ASTRON_LIKELY(x) __builtin_expect(!!(x), 1)
/* A relaxed atomic load is a plain load on every target we know, and keeps
 * thread sanitizers quiet about the gate. */
#define ASTRON_GATE_() __atomic_load_n(&astron_event_gate_, __ATOMIC_RELAXED)
#else
#define ASTRON_EXTERN
#define ASTRON_PRINTF(f, a)
#define ASTRON_LIKELY(x) (x)
#define ASTRON_GATE_() (astron_event_gate_)
#endif

/* Error codes returned by the library (negative values).  Name them with
 * astron_strerror(). */
#define ASTRON_OK 0
#define ASTRON_EINVAL (-1)	/* invalid argument */
#define ASTRON_ENOMEM (-2)	/* out of memory */
#define ASTRON_ECONFIG (-3)	/* invalid configuration */
#define ASTRON_ETIMEDOUT (-4)	/* timed out */
#define ASTRON_EDISABLED (-5)	/* KAFKA_ENABLE is off */
#define ASTRON_EKAFKA (-6)	/* librdkafka reported an error */
#define ASTRON_ESHUTDOWN (-7)	/* the pipeline was shut down */
#define ASTRON_EQUEUEFULL (-8)	/* the producer queue stayed full */
#define ASTRON_EIO (-9)		/* writing failed (errno says why) */

ASTRON_EXTERN const char *astron_strerror(int err);

/* The library's version string at run time ("0.1.0"). */
ASTRON_EXTERN const char *astron_event_version(void);

/* ------------------------------------------------------------------------
 * Emitting
 * ---------------------------------------------------------------------- */

/* A call site: one static per ASTRON_EVENT in the program.  Its fields are
 * private; it exists in this header only so that the macro can allocate it
 * statically. */
typedef struct astron_site {
	const char *topic;
	const char *fmt;
	const char *file;
	const char *func;
	int line;
	void *volatile plan_; /* parsed once, then read with acquire */
} astron_site_t;

/* -1 before the environment was read, 0 disabled, 1 enabled. */
extern ASTRON_EXTERN int astron_event_gate_;

ASTRON_EXTERN int astron_event_open_(void);
ASTRON_EXTERN void astron_event_emit_(astron_site_t *site, const char *key,
				      const char *fmt, ...) ASTRON_PRINTF(3, 4);

/* ASTRON_EVENT(topic, fmt, ...) - record one event on `topic`.
 * ASTRON_EVENT_KEYED(topic, key, fmt, ...) - the same with a Kafka message
 * key (a NUL-terminated string, NULL for none) used for partitioning.
 *
 * Never blocks and never fails visibly: an event that cannot be accepted
 * (ring full, pipeline not configured or shut down) is counted in
 * astron_event_stats().dropped. */
#define ASTRON_EVENT(topic, ...) ASTRON_EVENT_KEYED(topic, NULL, __VA_ARGS__)

#define ASTRON_EVENT_KEYED(topic, key, ...)                                  \
	do {                                                                   \
		if (ASTRON_GATE_() != 0 &&                                     \
		    ASTRON_LIKELY(ASTRON_GATE_() > 0 ||                        \
				  astron_event_open_() > 0)) {                 \
			static astron_site_t astron_site__ = {                 \
				(topic), ASTRON_FIRST_(__VA_ARGS__, ""),       \
				__FILE__, __func__, __LINE__, 0};              \
			astron_event_emit_(&astron_site__, (key), __VA_ARGS__); \
		}                                                              \
	} while (0)

#define ASTRON_FIRST_(first, ...) first

/* ------------------------------------------------------------------------
 * Lifecycle and introspection.  No init call is needed.
 * ---------------------------------------------------------------------- */

/* Wait until every event emitted before the call is delivered or failed, at
 * most timeout_ms (< 0: KAFKA_TIMEOUT).  Returns 0, ASTRON_ETIMEDOUT,
 * ASTRON_EDISABLED or ASTRON_ESHUTDOWN. */
ASTRON_EXTERN int astron_event_flush(int timeout_ms);

/* Flush (bounded by timeout_ms, < 0: KAFKA_TIMEOUT), then stop the flusher and
 * destroy the producer.  Events not delivered by then are counted as failed;
 * events emitted afterwards are dropped and counted.  Runs by itself at
 * normal process exit.  Returns 0 or ASTRON_ETIMEDOUT. */
ASTRON_EXTERN int astron_event_shutdown(int timeout_ms);

typedef struct astron_event_stats {
	uint64_t emitted;	/* accepted into a ring */
	uint64_t dropped;	/* refused: ring full, not configured, shut down */
	uint64_t delivered;	/* acknowledged by Kafka (or written by the
				   ASTRON_EVENT_SINK) */
	uint64_t failed;	/* given up: delivery or write error, timeout,
				   shutdown */
	uint64_t format_errors; /* events recorded with an "@error" field */
	uint64_t truncated;	/* events whose strings were cut to fit */
	uint64_t threads;	/* rings (emitting threads) alive now */
	uint64_t ring_bytes;	/* bytes allocated for rings now */
	uint64_t restarts;	/* producers recreated after fatal errors */
	uint64_t reserved[7];
} astron_event_stats_t;

/* Fill *stats (emitted + dropped = calls while enabled; after a successful
 * flush emitted == delivered + failed).  Returns 0 or ASTRON_EINVAL. */
ASTRON_EXTERN int astron_event_stats(astron_event_stats_t *stats);

/* 1 when KAFKA_ENABLE is on (reads the environment on first use). */
ASTRON_EXTERN int astron_event_enabled(void);

/* The bootstrap servers the pipeline produces to: KAFKA_SERVERS, or the
 * loopback address of the embedded mock cluster when KAFKA_SERVERS=mock[:N].
 * Starts the pipeline if needed and waits (at most timeout_ms) for the mock
 * cluster to exist.  NULL when disabled, not configured, writing to an
 * ASTRON_EVENT_SINK instead of Kafka, or on timeout.  The string stays valid
 * until shutdown. */
ASTRON_EXTERN const char *astron_event_servers(int timeout_ms);

/* ------------------------------------------------------------------------
 * Diagnostics: one replaceable callback, rate-limited by the library.
 * ---------------------------------------------------------------------- */
enum astron_log_level {
	ASTRON_LOG_ERROR = 3,
	ASTRON_LOG_WARNING = 4,
	ASTRON_LOG_INFO = 6,
};

typedef void (*astron_log_cb)(int level, const char *msg, void *opaque);

/* Replace the log callback (NULL restores the default, which writes one line
 * to stderr).  At most ASTRON_EVENT_LOG_RATE messages per second reach the
 * callback; the rest are counted and summarized.  Nothing is logged while the
 * library is disabled. */
ASTRON_EXTERN void astron_event_set_log_cb(astron_log_cb cb, void *opaque);

#ifdef __cplusplus
}
#endif

#include <astron/kafka.h>
#include <astron/json.h>

#endif /* ASTRON_EVENT_H */
