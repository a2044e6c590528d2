/*
 * lifecycle.c - how the pipeline comes to life, flushes, shuts down, forks
 * and reports its counters.
 *
 * Nothing happens at load time.  The first ASTRON_EVENT (or a call that
 * needs the pipeline) reads the environment; if KAFKA_ENABLE is off the gate
 * closes for good and every later ASTRON_EVENT is one load and one branch.
 * If it is on, the flusher starts (its destination is Kafka, or the local
 * ASTRON_EVENT_SINK), an atexit handler is registered so a program that
 * returns from main still gets its events delivered (bounded by
 * KAFKA_TIMEOUT), and fork handlers make a child start its own pipeline
 * instead of touching the parent's librdkafka threads, which do not survive
 * fork().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "ring.h"

ASTRON_EXTERN int astron_event_gate_ = -1;

astron_pipeline_t astron_pipe = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.progress = PTHREAD_COND_INITIALIZER,
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int hooks_installed;

/* Condition variables that time out on CLOCK_MONOTONIC, so a wall-clock
 * step never stretches a bounded wait. */
static void init_sync(astron_pipeline_t *p)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, &ca);
	pthread_cond_init(&p->progress, &ca);
	pthread_condattr_destroy(&ca);
}

static void on_exit_flush(void)
{
	astron_event_shutdown(-1);
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&open_lock);
	astron_rings_atfork_prepare();
}

static void atfork_parent(void)
{
	astron_rings_atfork_parent();
	pthread_mutex_unlock(&open_lock);
}

/* The child has no flusher and must never use the parent's producer (its
 * threads are gone) or sink (the parent's flusher may have held its FILE's
 * lock): forget them, leaking them on purpose, and let the next
 * ASTRON_EVENT build a fresh pipeline (a sink file is opened again, in
 * append mode, so parent and child share it). */
static void atfork_child(void)
{
	astron_pipeline_t *p = &astron_pipe;

	astron_rings_atfork_child();
	astron_log_atfork_child();
	init_sync(p);
	p->accepting = p->sleeping = p->kicked = p->flush_waiters = 0;
	p->started = p->stop = p->abort_sends = p->running = 0;
	p->svc = NULL;
	p->sink = NULL;
	p->servers = NULL;
	p->delivered = p->failed = p->seq = 0;
	p->truncated = p->format_errors = p->recreated = 0;
	p->retired_servers = NULL;
	if (!p->shut)
		__atomic_store_n(&astron_event_gate_, -1, __ATOMIC_RELAXED);
	pthread_mutex_init(&open_lock, NULL);
}

ASTRON_EXTERN int astron_event_open_(void)
{
	const astron_config_t *cfg;
	int gate;

	pthread_mutex_lock(&open_lock);
	gate = ASTRON_GATE_();
	if (gate != -1)
		goto out;
	cfg = astron_config();
	if (!cfg->enabled) {
		gate = 0;
		goto out;
	}
	if (!hooks_installed) {
		init_sync(&astron_pipe);
		astron_clock_init();
		atexit(on_exit_flush);
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
		hooks_installed = 1;
	}
	gate = 1;
	if (astron_pipe.shut) {
		/* shutdown came first: stay closed, count drops */
	} else if (cfg->sink == ASTRON_SINK_INVALID) {
		/* config.c said why; drop and count, never fall back to Kafka */
	} else if (cfg->sink == ASTRON_SINK_KAFKA && !cfg->servers) {
		astron_log(ASTRON_LOG_ERROR, "KAFKA_ENABLE is on but KAFKA_SERVERS "
			   "is not set: events are dropped and counted "
			   "(KAFKA_SERVERS=mock runs an embedded test cluster)");
	} else {
		/* Open the pipeline before the flusher exists: a flusher that
		 * cannot create its destination closes it again, and that
		 * store must come last.  pthread_create() orders ours before
		 * everything the new thread does; no other thread emits
		 * before the gate below is published. */
		__atomic_store_n(&astron_pipe.accepting, 1, __ATOMIC_RELAXED);
		if (astron_flusher_start() != 0)
			__atomic_store_n(&astron_pipe.accepting, 0, __ATOMIC_RELAXED);
	}
out:
	/* Release pairs with the acquire load in emit.c's emit_slow(), which
	 * every thread's first event passes through: the clock and pipeline
	 * set up above are visible to it.  The macro itself loads relaxed. */
	__atomic_store_n(&astron_event_gate_, gate, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&open_lock);
	return gate;
}

ASTRON_EXTERN int astron_event_enabled(void)
{
	return astron_config()->enabled;
}

static uint64_t completed(const astron_pipeline_t *p)
{
	return __atomic_load_n(&p->delivered, __ATOMIC_RELAXED) +
	       __atomic_load_n(&p->failed, __ATOMIC_RELAXED);
}

ASTRON_EXTERN int astron_event_flush(int timeout_ms)
{
	astron_pipeline_t *p = &astron_pipe;
	astron_ring_totals_t t;
	int64_t deadline;
	int rc = 0;

	if (!astron_config()->enabled)
		return ASTRON_EDISABLED;
	if (timeout_ms < 0)
		timeout_ms = astron_config()->timeout_ms;
	deadline = astron_mono_ms() + timeout_ms;
	pthread_mutex_lock(&p->lock);
	if (p->shut) {
		pthread_mutex_unlock(&p->lock);
		return ASTRON_ESHUTDOWN;
	}
	if (!p->running) {
		pthread_mutex_unlock(&p->lock);
		return ASTRON_OK; /* nothing was accepted, nothing to wait for */
	}
	astron_rings_totals(&t);
	p->flush_waiters++;
	p->kicked = 1;
	pthread_cond_signal(&p->wake);
	while (completed(p) < t.emitted && p->running) {
		struct timespec ts;
		int64_t left = deadline - astron_mono_ms();

		if (left <= 0) {
			rc = ASTRON_ETIMEDOUT;
			break;
		}
		/* Short waits: the flusher broadcasts progress once per loop,
		 * but an idle flusher may be asleep in librdkafka's poll. */
		astron_deadline_ts(&ts, left < 10 ? left : 10);
		pthread_cond_timedwait(&p->progress, &p->lock, &ts);
	}
	p->flush_waiters--;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

ASTRON_EXTERN int astron_event_shutdown(int timeout_ms)
{
	static pthread_mutex_t shut_lock = PTHREAD_MUTEX_INITIALIZER;
	astron_pipeline_t *p = &astron_pipe;
	int rc = ASTRON_OK;

	pthread_mutex_lock(&shut_lock);
	pthread_mutex_lock(&open_lock); /* no pipeline starts from here on */
	if (p->shut || ASTRON_GATE_() != 1) {
		__atomic_store_n(&p->shut, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&open_lock);
		pthread_mutex_unlock(&shut_lock);
		return ASTRON_OK;
	}
	pthread_mutex_unlock(&open_lock);
	if (timeout_ms < 0)
		timeout_ms = astron_config()->timeout_ms;
	/* Refuse new events first, so the flush below has a fixed target;
	 * an emitter racing with this store may still publish one event,
	 * which stats then counts as failed. */
	__atomic_store_n(&p->accepting, 0, __ATOMIC_RELAXED);
	if (p->running) {
		rc = astron_event_flush(timeout_ms);
		__atomic_store_n(&p->abort_sends, 1, __ATOMIC_RELAXED);
		astron_flusher_stop();
	}
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->shut, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&shut_lock);
	if (rc == ASTRON_ETIMEDOUT) {
		astron_event_stats_t st;
		astron_event_stats(&st);
		astron_log_always(ASTRON_LOG_ERROR, "shutdown: %llu events were "
				  "not delivered within %d ms and are counted as "
				  "failed", (unsigned long long)st.failed, timeout_ms);
	}
	return rc;
}

ASTRON_EXTERN int astron_event_stats(astron_event_stats_t *st)
{
	astron_pipeline_t *p = &astron_pipe;
	astron_ring_totals_t t;

	if (!st)
		return ASTRON_EINVAL;
	memset(st, 0, sizeof *st);
	astron_rings_totals(&t);
	st->emitted = t.emitted;
	st->dropped = t.dropped;
	st->truncated = __atomic_load_n(&p->truncated, __ATOMIC_RELAXED);
	st->format_errors = __atomic_load_n(&p->format_errors, __ATOMIC_RELAXED);
	st->threads = t.rings;
	st->ring_bytes = t.bytes;
	st->delivered = __atomic_load_n(&p->delivered, __ATOMIC_RELAXED);
	st->failed = __atomic_load_n(&p->failed, __ATOMIC_RELAXED);
	st->restarts = __atomic_load_n(&p->recreated, __ATOMIC_RELAXED);
	/* After shutdown nothing more can be delivered: whatever is not
	 * delivered has failed (this also covers an event published in the
	 * instant shutdown closed the gate). */
	if (__atomic_load_n(&p->shut, __ATOMIC_RELAXED) &&
	    st->emitted > st->delivered)
		st->failed = st->emitted - st->delivered;
	return ASTRON_OK;
}

ASTRON_EXTERN const char *astron_event_servers(int timeout_ms)
{
	astron_pipeline_t *p = &astron_pipe;
	const char *s = NULL;
	struct timespec ts;

	if (ASTRON_GATE_() == -1)
		astron_event_open_();
	if (ASTRON_GATE_() != 1)
		return NULL;
	astron_deadline_ts(&ts, timeout_ms < 0 ? 0 : timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (p->running && !p->started &&
	       pthread_cond_timedwait(&p->progress, &p->lock, &ts) != ETIMEDOUT)
		;
	if (p->started && !p->shut)
		s = p->servers;
	pthread_mutex_unlock(&p->lock);
	return s;
}

ASTRON_EXTERN const char *astron_strerror(int err)
{
	switch (err) {
	case ASTRON_OK: return "success";
	case ASTRON_EINVAL: return "invalid argument";
	case ASTRON_ENOMEM: return "out of memory";
	case ASTRON_ECONFIG: return "invalid configuration";
	case ASTRON_ETIMEDOUT: return "timed out";
	case ASTRON_EDISABLED: return "disabled (KAFKA_ENABLE is off)";
	case ASTRON_EKAFKA: return "Kafka error";
	case ASTRON_ESHUTDOWN: return "the pipeline was shut down";
	case ASTRON_EQUEUEFULL: return "the producer queue is full";
	case ASTRON_EIO: return "input/output error";
	default: return "unknown error";
	}
}

ASTRON_EXTERN const char *astron_event_version(void)
{
	return ASTRON_EVENT_VERSION_STRING;
}
