/*
 * flusher.c - the background thread that drains the rings into Kafka.
 *
 * One thread, started on the first enabled event.  It creates the Kafka
 * producer service through the factory (so a slow or failing rd_kafka_new
 * never runs on a caller's thread) -- or, when ASTRON_EVENT_SINK is set, opens
 * that local sink instead (sink.c) -- then loops: drain every ring in order,
 * handing each event to the service; serve delivery reports; sleep when there
 * is nothing to do.  Sleeping is announced in astron_pipe.sleeping so that
 * emitters only make the wake-up system call when it is needed.  A full
 * librdkafka queue makes send() wait and retry here, so pressure flows back
 * into the rings (and, if they fill, into counted drops) instead of losing
 * events that were already accepted.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kafka_service.h"
#include "log.h"
#include "pipeline.h"
#include "ring.h"
#include "sink.h"
#include "site.h"

/* Events taken from one ring before looking at the next: fairness. */
#define ASTRON_DRAIN_BATCH 256
/* Idle wait when nothing is in flight, and when reports are awaited (ms). */
#define ASTRON_IDLE_MS 100
#define ASTRON_BUSY_MS 5
/* One send() wait for room in a full queue before checking for shutdown. */
#define ASTRON_QUEUE_WAIT_MS 100

static void count(uint64_t *c, uint64_t n)
{
	/* Single writer (the flusher); readers load relaxed. */
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* The service-wide delivery report: count (the service already logged a
 * failure, naming the topic). */
static void on_delivery(int err, const char *errstr, const void *value,
			size_t len, void *opaque)
{
	astron_pipeline_t *p = opaque;

	(void)errstr;
	(void)value;
	(void)len;
	count(err == 0 ? &p->delivered : &p->failed, 1);
}

/* Hand one event to the service, or write it to the local sink (which
 * has no reports to wait for: written is delivered); 1 when it left our
 * hands (queued, written or counted as failed), 0 when shutdown
 * interrupted a wait for room. */
static int send_one(astron_pipeline_t *p, astron_ring_t *r,
		    const astron_rec_t *rec, msgpack_sbuffer *sb)
{
	const astron_site_plan_t *sp = rec->plan;
	size_t keylen = rec->keylen & ASTRON_REC_KEYLEN_MASK;
	const void *key = rec->keylen & ASTRON_REC_KEYED ? (const void *)(rec + 1)
							 : NULL;
	int rc;

	if (!p->svc && !p->sink) {
		count(&p->failed, 1);
		return 1;
	}
	astron_message_build(sb, rec, r, ++p->seq, p->pid);
	if (sb->size == 0) { /* out of memory building it */
		count(&p->failed, 1);
		return 1;
	}
	if (p->sink) {
		rc = astron_sink_write(p->sink, key, keylen, sb->data, sb->size);
		count(rc == ASTRON_OK ? &p->delivered : &p->failed, 1);
		return 1;
	}
	do {
		rc = astron_kafka_service_produce(
			p->svc, sp->topic,
			astron_kafka_service_topic(p->svc, sp->topic), key,
			keylen, sb->data, sb->size, NULL, NULL,
			ASTRON_QUEUE_WAIT_MS);
	} while (rc == ASTRON_EQUEUEFULL &&
		 !__atomic_load_n(&p->abort_sends, __ATOMIC_RELAXED));
	if (rc == ASTRON_EQUEUEFULL) {
		p->seq--;
		return 0;
	}
	if (rc != ASTRON_OK)
		count(&p->failed, 1);
	return 1;
}

/* Per-event flags are counted here rather than on the caller's thread. */
static void count_flags(astron_pipeline_t *p, const astron_rec_t *rec)
{
	if (rec->keylen & ASTRON_REC_TRUNCATED)
		count(&p->truncated, 1);
	if (rec->plan->fmt->error)
		count(&p->format_errors, 1);
}

/* Drain every ring once (a batch each); returns how many events moved. */
static size_t drain(astron_pipeline_t *p, msgpack_sbuffer *sb)
{
	size_t moved = 0;

	for (astron_ring_t *r = astron_rings_first(); r; r = r->next) {
		const astron_rec_t *rec;
		int n = 0;

		while (n < ASTRON_DRAIN_BATCH && (rec = astron_ring_peek(r))) {
			if (!send_one(p, r, rec, sb))
				return moved;
			count_flags(p, rec);
			astron_ring_consume(r);
			n++;
		}
		moved += (size_t)n;
	}
	return moved;
}

static int rings_empty(void)
{
	for (astron_ring_t *r = astron_rings_first(); r; r = r->next)
		if (astron_ring_peek(r))
			return 0;
	return 1;
}

/* Sleep until poked or timeout.  `sleeping` is published before the final
 * emptiness check (seq_cst on both), so an emitter that commits after that
 * check sees sleeping == 1 and wakes us. */
static void idle_wait(astron_pipeline_t *p, int ms)
{
	struct timespec until;

	__atomic_store_n(&p->sleeping, 1, __ATOMIC_SEQ_CST);
	if (!rings_empty()) {
		__atomic_store_n(&p->sleeping, 0, __ATOMIC_RELAXED);
		return;
	}
	astron_deadline_ts(&until, ms);
	pthread_mutex_lock(&p->lock);
	while (!p->kicked && !p->stop &&
	       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
		;
	p->kicked = 0;
	pthread_mutex_unlock(&p->lock);
	__atomic_store_n(&p->sleeping, 0, __ATOMIC_RELAXED);
}

void astron_pipeline_wake(void)
{
	astron_pipeline_t *p = &astron_pipe;

	/* Only the emitter that clears the flag pays for the signal. */
	if (__atomic_exchange_n(&p->sleeping, 0, __ATOMIC_ACQ_REL))
		astron_pipeline_kick();
}

void astron_pipeline_kick(void)
{
	astron_pipeline_t *p = &astron_pipe;

	pthread_mutex_lock(&p->lock);
	p->kicked = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

/* The destination: the Kafka service, or the ASTRON_EVENT_SINK. */
static void create_service(astron_pipeline_t *p)
{
	const astron_config_t *cfg = astron_config();
	char err[512];
	astron_kafka_service_t *svc = NULL;
	astron_sink_t *sink = NULL;

	if (cfg->sink != ASTRON_SINK_KAFKA)
		sink = astron_sink_open(cfg->sink, cfg->sink_path, cfg->sink_spec);
	else
		svc = astron_kafka_service_factory_create(cfg->servers, NULL, err,
							  sizeof err);
	pthread_mutex_lock(&p->lock);
	if (svc) {
		astron_kafka_service_set_default_cb(svc, on_delivery, p);
		p->servers = strdup(astron_kafka_service_servers(svc));
	} else if (!sink) {
		/* Already logged by the factory or the sink; from now on
		 * drop. */
		__atomic_store_n(&p->accepting, 0, __ATOMIC_RELAXED);
	}
	p->svc = svc;
	p->sink = sink;
	p->started = 1;
	pthread_cond_broadcast(&p->progress);
	pthread_mutex_unlock(&p->lock);
}

/* astron_event_servers() promises its string until shutdown: a string
 * replaced by a new producer is kept on a list until then. */
struct astron_retired {
	struct astron_retired *next;
	char *s;
};

static void retire_servers(astron_pipeline_t *p)
{
	struct astron_retired *r = malloc(sizeof *r);

	if (!r) {
		p->servers = NULL; /* leaked: a leak beats a dangling pointer */
		return;
	}
	r->s = p->servers;
	r->next = p->retired_servers;
	p->retired_servers = r;
	p->servers = NULL;
}

static void free_servers(astron_pipeline_t *p)
{
	while (p->retired_servers) {
		struct astron_retired *r = p->retired_servers;
		p->retired_servers = r->next;
		free(r->s);
		free(r);
	}
	free(p->servers);
	p->servers = NULL;
}

/* A fatal producer error (say, idempotence broken by the broker) ends that
 * producer for good.  Tear it down -- its queued messages are reported as
 * failed and counted -- and build a new one, so later events flow again. */
static void recreate_if_fatal(astron_pipeline_t *p)
{
	char why[512];

	if (!p->svc || !astron_kafka_service_fatal(p->svc, why, sizeof why))
		return;
	astron_log(ASTRON_LOG_ERROR, "recreating the Kafka producer after a "
		   "fatal error: %s", why);
	astron_service_teardown(astron_kafka_service_base(p->svc));
	pthread_mutex_lock(&p->lock);
	p->svc = NULL;
	retire_servers(p);
	pthread_mutex_unlock(&p->lock);
	create_service(p);
	__atomic_add_fetch(&p->recreated, 1, __ATOMIC_RELAXED);
}

static void *flusher_main(void *arg)
{
	astron_pipeline_t *p = arg;
	msgpack_sbuffer sb;
	sigset_t all;
	int reap = 0;

	/* Signals belong to the application's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	msgpack_sbuffer_init(&sb);
	create_service(p);
	astron_clock_tick();

	for (;;) {
		size_t moved = drain(p, &sb);
		int out = astron_kafka_service_outlen(p->svc), stop;

		if (out > 0)
			astron_kafka_service_poll(p->svc, 0);
		recreate_if_fatal(p);
		astron_clock_tick();
		if (++reap >= 64) {
			astron_rings_reap();
			reap = 0;
		}
		pthread_mutex_lock(&p->lock);
		if (p->flush_waiters)
			pthread_cond_broadcast(&p->progress);
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop && (rings_empty() ||
			     __atomic_load_n(&p->abort_sends, __ATOMIC_RELAXED)))
			break;
		if (moved)
			continue;
		if (out > 0)
			/* Reports are due: wait in librdkafka, which wakes
			 * as soon as one arrives. */
			astron_kafka_service_poll(p->svc, ASTRON_BUSY_MS);
		else
			idle_wait(p, ASTRON_IDLE_MS);
	}

	/* Whatever is still in the rings will not be sent: count it. */
	for (astron_ring_t *r = astron_rings_first(); r; r = r->next) {
		const astron_rec_t *rec;
		while ((rec = astron_ring_peek(r)) != NULL) {
			count(&p->failed, 1);
			count_flags(p, rec);
			astron_ring_consume(r);
		}
	}
	if (p->svc) {
		/* Purged messages are reported (and counted) by teardown. */
		astron_service_teardown(astron_kafka_service_base(p->svc));
		p->svc = NULL;
	}
	astron_sink_close(p->sink);
	p->sink = NULL;
	msgpack_sbuffer_destroy(&sb);
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->progress);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int astron_flusher_start(void)
{
	astron_pipeline_t *p = &astron_pipe;
	int rc;

	p->pid = (int)getpid();
	rc = pthread_create(&p->thread, NULL, flusher_main, p);
	if (rc) {
		astron_log(ASTRON_LOG_ERROR, "cannot start the flusher thread: %s",
			   strerror(rc));
		return -1;
	}
	pthread_setname_np(p->thread, "astron-flusher");
	pthread_mutex_lock(&p->lock);
	p->running = 1;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void astron_flusher_stop(void)
{
	astron_pipeline_t *p = &astron_pipe;

	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_lock(&p->lock);
	p->running = 0;
	free_servers(p);
	pthread_mutex_unlock(&p->lock);
}
