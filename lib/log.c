/*
 * log.c - rate-limited diagnostics through one replaceable callback.
 *
 * A misconfigured library inside a busy daemon must not flood its stderr, so
 * every message goes through a token bucket (ASTRON_EVENT_LOG_RATE per
 * second, with a burst of the same size).  What the bucket refuses is
 * counted, and the next message that passes reports the count, so nothing
 * disappears without a trace.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static astron_log_cb log_cb;
static void *log_opaque;
static int log_on;
static int log_rate = 10;
static double tokens = 10;
static double last_refill;
static unsigned long suppressed;

static void default_cb(int level, const char *msg, void *opaque)
{
	const char *tag = level <= ASTRON_LOG_ERROR ? "error"
			  : level <= ASTRON_LOG_WARNING ? "warning" : "info";
	(void)opaque;
	fprintf(stderr, "astron-event: %s: %s\n", tag, msg);
}

ASTRON_EXTERN void astron_event_set_log_cb(astron_log_cb cb, void *opaque)
{
	pthread_mutex_lock(&log_lock);
	log_cb = cb;
	log_opaque = opaque;
	pthread_mutex_unlock(&log_lock);
}

void astron_log_atfork_child(void)
{
	pthread_mutex_init(&log_lock, NULL);
}

void astron_log_set_enabled(int on)
{
	__atomic_store_n(&log_on, on, __ATOMIC_RELAXED);
}

void astron_log_set_rate(int per_second)
{
	pthread_mutex_lock(&log_lock);
	log_rate = per_second;
	tokens = per_second;
	pthread_mutex_unlock(&log_lock);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Take one token; called with log_lock held. */
static int take_token(void)
{
	double t = now_s();

	tokens += (t - last_refill) * log_rate;
	last_refill = t;
	if (tokens > log_rate)
		tokens = log_rate;
	if (tokens < 1) {
		suppressed++;
		return 0;
	}
	tokens -= 1;
	return 1;
}

static void vlog(int level, int limited, const char *fmt, va_list ap)
{
	char msg[512], full[600];
	unsigned long dropped;
	astron_log_cb cb;
	void *opaque;

	if (!__atomic_load_n(&log_on, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&log_lock);
	if (limited && !take_token()) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	dropped = suppressed;
	suppressed = 0;
	cb = log_cb ? log_cb : default_cb;
	opaque = log_cb ? log_opaque : NULL;
	pthread_mutex_unlock(&log_lock);

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (dropped) {
		snprintf(full, sizeof full, "%s (%lu earlier messages suppressed "
			 "by the rate limit)", msg, dropped);
		cb(level, full, opaque);
	} else {
		cb(level, msg, opaque);
	}
}

void astron_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 1, fmt, ap);
	va_end(ap);
}

void astron_log_always(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}
