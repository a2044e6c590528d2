/*
 * test_e2e_mock.c - the whole pipeline against librdkafka's mock cluster:
 * ASTRON_EVENT on several threads -> rings -> flusher -> Kafka protocol on
 * loopback -> a real consumer -> msgpack-c decoding -> every field compared.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"
#include "../lib/kafka_service.h"

#define THREADS 4
#define PER_THREAD 2500
#define TOTAL (THREADS * PER_THREAD)

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void enable_mock(void)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:3", 1);
}

typedef struct worker {
	int t;
	int tid;
	int line_plain, line_keyed;
} worker_t;

static void *emit_worker(void *arg)
{
	worker_t *w = arg;
	char key[16], text[32];

	w->tid = (int)syscall(SYS_gettid);
	snprintf(key, sizeof key, "k%d", w->t);
	for (unsigned long long i = 0; i < PER_THREAD; i++) {
		snprintf(text, sizeof text, "t%d-%llu", w->t, i);
		if (i % 2) {
			w->line_keyed = __LINE__ + 1;
			ASTRON_EVENT_KEYED("e2e.events", key, "t=%d i=%llu s=%s f=%f neg=%lld kind=keyed",
					   w->t, i, text, i * 0.5, -(long long)i);
		} else {
			w->line_plain = __LINE__ + 1;
			ASTRON_EVENT("e2e.events", "t=%d i=%llu s=%s f=%f neg=%lld kind=plain",
				     w->t, i, text, i * 0.5, -(long long)i);
		}
	}
	return NULL;
}

Test(e2e_mock, threads_deliver_every_field, .timeout = 120)
{
	worker_t w[THREADS];
	pthread_t th[THREADS];
	astron_event_stats_t st;
	test_msg_t *msgs;
	int64_t t0, t1;
	static unsigned char seen[TOTAL + 1];
	uint64_t last_i[THREADS][16];
	size_t n;

	enable_mock();
	t0 = wall_ns();
	for (int t = 0; t < THREADS; t++) {
		w[t].t = t;
		pthread_create(&th[t], NULL, emit_worker, &w[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	cr_assert_eq(astron_event_flush(30000), 0, "flush timed out");
	t1 = wall_ns();

	astron_event_stats(&st);
	cr_expect_eq(st.emitted, TOTAL);
	cr_expect_eq(st.dropped, 0);
	cr_expect_eq(st.delivered, TOTAL);
	cr_expect_eq(st.failed, 0);
	cr_expect_eq(st.format_errors, 0);

	n = test_consume(astron_event_servers(1000), "e2e.events", TOTAL, 60000, &msgs);
	cr_assert_eq(n, TOTAL, "consumed %zu of %d", n, TOTAL);

	memset(last_i, 0xff, sizeof last_i);
	for (size_t k = 0; k < n; k++) {
		const msgpack_object *m = &msgs[k].up.data;
		int t, line;
		uint64_t i, seq, tseq;
		char key[16];

		cr_assert(msgs[k].decoded, "message %zu is not one msgpack object", k);
		cr_assert_eq(m->type, MSGPACK_OBJECT_MAP);
		cr_assert_eq(m->via.map.size, 9 + 6, "map has %u entries", m->via.map.size);
		t = (int)test_int(m, "t");
		cr_assert(t >= 0 && t < THREADS);
		i = test_uint(m, "i");
		cr_assert_lt(i, PER_THREAD);

		line = i % 2 ? w[t].line_keyed : w[t].line_plain;
		test_check_worker_event(m, t, i, __FILE__, line, w[t].tid, t0, t1);

		seq = test_uint(m, "@seq");
		cr_assert(seq >= 1 && seq <= TOTAL);
		cr_assert_eq(seen[seq], 0, "@seq %llu twice", (unsigned long long)seq);
		seen[seq] = 1;
		tseq = test_uint(m, "@tseq");
		cr_assert_eq(tseq, i + 1, "@tseq %llu for i %llu",
			     (unsigned long long)tseq, (unsigned long long)i);

		/* Key, and per-thread order within each partition. */
		if (i % 2) {
			snprintf(key, sizeof key, "k%d", t);
			cr_assert_not_null(msgs[k].key);
			cr_assert_str_eq(msgs[k].key, key);
		} else {
			cr_assert_null(msgs[k].key);
		}
		cr_assert_lt(msgs[k].partition, 16);
		if (last_i[t][msgs[k].partition] != UINT64_MAX)
			cr_assert_gt(i, last_i[t][msgs[k].partition],
				     "thread %d out of order in partition %d", t,
				     msgs[k].partition);
		last_i[t][msgs[k].partition] = i;
	}
	test_free_msgs(msgs, n);
}

Test(e2e_mock, malformed_format_is_recorded_with_error, .timeout = 60)
{
	astron_event_stats_t st;
	test_msg_t *msgs;
	size_t n;

	enable_mock();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	ASTRON_EVENT("e2e.bad", "a=%d novalue b=%s", 7, "x");
#pragma GCC diagnostic pop
	cr_assert_eq(astron_event_flush(10000), 0);
	astron_event_stats(&st);
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.format_errors, 1);
	cr_expect_eq(st.delivered, 1);

	n = test_consume(astron_event_servers(1000), "e2e.bad", 1, 30000, &msgs);
	cr_assert_eq(n, 1);
	cr_assert_eq(test_int(&msgs[0].up.data, "a"), 7);
	test_str_eq(&msgs[0].up.data, "b", "x");
	{
		const msgpack_object *e = test_get(&msgs[0].up.data, "@error");
		cr_assert_not_null(e);
		cr_assert_eq(e->type, MSGPACK_OBJECT_STR);
		cr_assert(memmem(e->via.str.ptr, e->via.str.size, "novalue", 7),
			  "@error does not name the bad pair: %.*s",
			  (int)e->via.str.size, e->via.str.ptr);
	}
	test_free_msgs(msgs, n);
}

Test(e2e_mock, invalid_topic_is_dropped_and_counted, .timeout = 60)
{
	astron_event_stats_t st;

	enable_mock();
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("bad topic!", "i=%d", i);
	ASTRON_EVENT("e2e.good", "i=%d", 1);
	cr_assert_eq(astron_event_flush(10000), 0);
	astron_event_stats(&st);
	cr_expect_eq(st.dropped, 10);
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.delivered, 1);
}

/* A program that emits and returns from main gets its events delivered:
 * the child registers its own atexit handler before the library's, so it
 * runs after the library's flush and reports what was delivered. */
static int report_fd = -1;

static void report_stats(void)
{
	astron_event_stats_t st;
	char buf[128];
	int n;

	astron_event_stats(&st);
	n = snprintf(buf, sizeof buf, "%llu %llu %llu",
		     (unsigned long long)st.emitted,
		     (unsigned long long)st.delivered,
		     (unsigned long long)st.failed);
	if (write(report_fd, buf, (size_t)n) < 0)
		_exit(3);
}

Test(e2e_mock, exit_flushes_pending_events, .timeout = 60)
{
	int fds[2], status;
	char buf[128] = {0};
	unsigned long long emitted, delivered, failed;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		atexit(report_stats);
		enable_mock();
		for (int i = 0; i < 500; i++)
			ASTRON_EVENT("e2e.exit", "i=%d", i);
		exit(0); /* no flush, no shutdown: the library must do it */
	}
	close(fds[1]);
	cr_assert_gt(read(fds[0], buf, sizeof buf - 1), 0);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(sscanf(buf, "%llu %llu %llu", &emitted, &delivered, &failed), 3);
	cr_expect_eq(emitted, 500);
	cr_expect_eq(delivered, 500);
	cr_expect_eq(failed, 0);
}

/* Unreachable broker at exit: shutdown is bounded by KAFKA_TIMEOUT and the
 * undelivered events are counted as failed. */
Test(e2e_mock, unreachable_broker_exit_is_bounded, .timeout = 60)
{
	astron_event_stats_t st;
	int64_t t0;

	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "127.0.0.1:1", 1); /* nothing listens there */
	setenv("KAFKA_TIMEOUT", "2", 1);
	setenv("ASTRON_EVENT_LOG_RATE", "0", 1);
	for (int i = 0; i < 100; i++)
		ASTRON_EVENT("e2e.unreachable", "i=%d", i);
	t0 = test_now_ms();
	cr_assert_eq(astron_event_shutdown(-1), ASTRON_ETIMEDOUT);
	cr_assert_lt(test_now_ms() - t0, 2000 + 1500, "shutdown took %lld ms",
		     (long long)(test_now_ms() - t0));
	astron_event_stats(&st);
	cr_expect_eq(st.emitted, 100);
	cr_expect_eq(st.delivered, 0);
	cr_expect_eq(st.failed, 100);
	ASTRON_EVENT("e2e.unreachable", "i=%d", 100);
	astron_event_stats(&st);
	cr_expect_eq(st.dropped, 1, "an event after shutdown is dropped and counted");
}

/* The flusher produces by topic handle, cached by the address of a call
 * site's topic string: one handle per address, the same one on every call,
 * up to ASTRON_TOPIC_SLOTS addresses; past that the cache answers NULL and
 * the message goes by name.  Both kinds arrive, with their keys and values,
 * and the service tears down with the cache full. */
Test(e2e_mock, topic_handles_cached_by_address, .timeout = 60)
{
	enum { N = ASTRON_TOPIC_SLOTS + 2 };
	static char names[N][32];
	char err[256];
	astron_kafka_service_t *svc;
	rd_kafka_topic_t *first;
	test_msg_t *msgs;
	size_t n;

	setenv("KAFKA_ENABLE", "1", 1);
	svc = astron_kafka_service_factory_create("mock:1", NULL, err, sizeof err);
	cr_assert_not_null(svc, "%s", err);
	for (int i = 0; i < N; i++) /* many addresses, two names */
		snprintf(names[i], sizeof names[i], "e2e.cache.%d", i % 2);
	first = astron_kafka_service_topic(svc, names[0]);
	cr_assert_not_null(first);
	cr_assert_str_eq(rd_kafka_topic_name(first), "e2e.cache.0");
	cr_assert_eq(astron_kafka_service_topic(svc, names[0]), first);
	for (int i = 1; i < ASTRON_TOPIC_SLOTS; i++) {
		rd_kafka_topic_t *rkt = astron_kafka_service_topic(svc, names[i]);
		cr_assert_not_null(rkt, "slot %d", i);
		cr_assert_str_eq(rd_kafka_topic_name(rkt), names[i]);
	}
	cr_assert_eq(astron_kafka_service_topic(svc, names[1]),
		     astron_kafka_service_topic(svc, names[1]));
	cr_assert_null(astron_kafka_service_topic(svc, names[N - 2]), "cache full");
	cr_assert_null(astron_kafka_service_topic(svc, names[N - 1]), "cache full");

	cr_assert_eq(astron_kafka_service_produce(svc, names[0], first, "k-handle",
						  8, "by handle", 9, NULL, NULL,
						  1000), ASTRON_OK);
	cr_assert_eq(astron_kafka_service_produce(svc, names[N - 2], NULL, "k-name",
						  6, "by name", 7, NULL, NULL,
						  1000), ASTRON_OK);
	cr_assert_eq(astron_kafka_service_flush(svc, 10000), ASTRON_OK);
	n = test_consume(astron_kafka_service_servers(svc), "e2e.cache.0", 2,
			 30000, &msgs);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		int by_handle = msgs[i].keylen == 8;

		cr_assert_str_eq(msgs[i].key, by_handle ? "k-handle" : "k-name");
		cr_assert_eq(msgs[i].len, by_handle ? 9u : 7u);
		cr_assert(memcmp(msgs[i].value, by_handle ? "by handle" : "by name",
				 msgs[i].len) == 0);
	}
	cr_assert_neq(msgs[0].keylen, msgs[1].keylen, "one of each");
	test_free_msgs(msgs, n);
	astron_service_teardown(astron_kafka_service_base(svc));
}
