/*
 * pipeline.h - state shared by the hot path (emit.c), the flusher thread
 * (flusher.c) and the lifecycle calls (lifecycle.c).
 */
#ifndef ASTRON_PIPELINE_H
#define ASTRON_PIPELINE_H

#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>

#include "astron/event.h"
#include "config.h"

typedef struct astron_pipeline {
	/* Read by every emitting thread: keep them together, rarely written,
	 * on a line of their own (the lock below is written by the flusher on
	 * every loop, and whatever the linker puts before us could be too). */
	_Alignas(64) int accepting; /* 0: events are dropped (not
				       configured, shut down) */
	int sleeping;  /* the flusher waits for a poke */

	_Alignas(64) pthread_mutex_t lock; /* guards the fields below it */
	pthread_cond_t wake;	  /* flusher waits here when idle */
	pthread_cond_t progress;  /* flush() and servers() wait here */
	int kicked;		  /* a poke arrived while sleeping */
	int flush_waiters;	  /* threads inside astron_event_flush() */
	int started;		  /* the flusher created (or failed) the service */
	int stop;		  /* the flusher must drain and exit */
	int abort_sends;	  /* stop retrying a full queue: shutting down */
	int running;		  /* the flusher thread exists */
	int shut;		  /* astron_event_shutdown() completed */
	pthread_t thread;

	struct astron_kafka_service *svc; /* owned by the flusher */
	struct astron_sink *sink; /* owned by the flusher; replaces svc when
				     ASTRON_EVENT_SINK is set */
	char *servers;		  /* copy of the service's servers */
	struct astron_retired *retired_servers; /* earlier copies, freed at
						   shutdown (still valid
						   for callers until then) */
	uint64_t delivered;	  /* written by the flusher, read relaxed */
	uint64_t failed;
	uint64_t seq;		  /* per-process event sequence number */
	uint64_t recreated;	  /* producers rebuilt after fatal errors */
	uint64_t truncated;	  /* events seen with ASTRON_REC_TRUNCATED */
	uint64_t format_errors;	  /* events seen from sites with a bad format */
	int pid;
} astron_pipeline_t;

extern astron_pipeline_t astron_pipe;

static inline int astron_pipeline_accepting(void)
{
	return __atomic_load_n(&astron_pipe.accepting, __ATOMIC_RELAXED);
}

void astron_pipeline_wake(void);

/* Wake the flusher whether or not it announced sleeping (slow paths). */
void astron_pipeline_kick(void);

/* After publishing an event: wake the flusher only when it sleeps, so a busy
 * flusher costs the emitter one load and no system call.  The load may be
 * stale; the flusher's bounded idle wait covers that rare race. */
static inline void astron_pipeline_poke(void)
{
	if (__builtin_expect(__atomic_load_n(&astron_pipe.sleeping,
					     __ATOMIC_RELAXED), 0))
		astron_pipeline_wake();
}

/* Start the flusher thread (lifecycle.c calls this once). */
int astron_flusher_start(void);

/* Ask the flusher to drain (or, once abort_sends is set, give up) and exit;
 * join it. */
void astron_flusher_stop(void);

/* Bytes of the event as Kafka receives it; see message.c. */
struct astron_ring;
struct astron_rec;
void astron_message_build(msgpack_sbuffer *sb, const struct astron_rec *rec,
			  const struct astron_ring *ring, uint64_t seq, int pid);

#endif /* ASTRON_PIPELINE_H */
