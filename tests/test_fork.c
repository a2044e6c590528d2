/*
 * test_fork.c - processes and threads: fork() with both sides emitting,
 * children that leave at once, fork under emitting threads, shutdown racing
 * with emitters, and threads that exit with events still in their ring.
 *
 * librdkafka's threads do not survive fork(), so a child must build its own
 * pipeline (with KAFKA_SERVERS=mock, its own mock cluster too) and never
 * touch the parent's producer.  A child reports to the parent through a pipe
 * and its exit status; the parent makes the assertions.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"
#include "kafka_service.h"
#include "pipeline.h"

#define BROKERS 3

/* ------------------------------------------------------------ helpers */

static void setup_mock(void)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:3", 1);
	setenv("ASTRON_RDKAFKA_RECONNECT_BACKOFF_MAX_MS", "500", 1);
}

static void sleep_ms(int ms)
{
	struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&d, NULL);
}

static void quiet_log(int level, const char *msg, void *opaque)
{
	(void)level;
	(void)msg;
	(void)opaque;
}

static astron_event_stats_t stats(void)
{
	astron_event_stats_t st;

	astron_event_stats(&st);
	return st;
}

static rd_kafka_mock_cluster_t *mock_cluster(void)
{
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc;

	cr_assert_not_null(astron_event_servers(10000), "the pipeline did not start");
	pthread_mutex_lock(&astron_pipe.lock);
	if (astron_pipe.svc)
		rk = astron_pipe.svc->rk;
	pthread_mutex_unlock(&astron_pipe.lock);
	cr_assert_not_null(rk, "no producer");
	mc = rd_kafka_handle_mock_cluster(rk);
	cr_assert_not_null(mc);
	return mc;
}

static void set_brokers(rd_kafka_mock_cluster_t *mc, int up)
{
	for (int b = 1; b <= BROKERS; b++)
		cr_assert_eq(up ? rd_kafka_mock_broker_set_up(mc, b)
				: rd_kafka_mock_broker_set_down(mc, b), 0);
}

/* Check the consumed events without Criterion asserts (usable in a forked
 * child): exactly `want` messages, field "i" unique in [0, want), @tseq ==
 * i + 1 (one emitting thread), @seq unique, @pid == pid.  Returns NULL or
 * what is wrong, in a static buffer. */
static const char *check_events(test_msg_t *msgs, size_t n, size_t want, int pid)
{
	static char why[200];
	uint8_t *seen = calloc(want + 1, 1), *seen_seq = calloc(4 * want + 2, 1);

	why[0] = '\0';
	if (n != want)
		snprintf(why, sizeof why, "consumed %zu events, want %zu", n, want);
	for (size_t k = 0; k < n && !why[0]; k++) {
		const msgpack_object *m = &msgs[k].up.data;
		const msgpack_object *i = test_get(m, "i"), *seq = test_get(m, "@seq"),
				     *tseq = test_get(m, "@tseq"), *p = test_get(m, "@pid");

		if (!msgs[k].decoded || !i || !seq || !tseq || !p ||
		    i->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			snprintf(why, sizeof why, "message %zu malformed", k);
		else if (i->via.u64 >= want || seen[i->via.u64]++)
			snprintf(why, sizeof why, "i=%llu twice or out of range",
				 (unsigned long long)i->via.u64);
		else if (seq->via.u64 > 4 * want || seen_seq[seq->via.u64]++)
			snprintf(why, sizeof why, "@seq %llu twice or out of range",
				 (unsigned long long)seq->via.u64);
		else if (tseq->via.u64 != i->via.u64 + 1)
			snprintf(why, sizeof why, "@tseq %llu for i=%llu",
				 (unsigned long long)tseq->via.u64,
				 (unsigned long long)i->via.u64);
		else if (p->via.i64 != pid)
			snprintf(why, sizeof why, "@pid %lld, want %d",
				 (long long)p->via.i64, pid);
	}
	free(seen);
	free(seen_seq);
	return why[0] ? why : NULL;
}

/* ------------------------------------------- parent and child emit */

#define PRE_FORK 300
#define PARENT_AFTER 200
#define CHILD_EVENTS 200

/* The child: its own pipeline, its own events, nothing of the parent's.
 * Writes "emitted delivered failed dropped consumed servers-differ ok|why". */
static void child_emits(int fd, const char *parent_servers)
{
	astron_event_stats_t st0, st;
	const char *servers, *why;
	test_msg_t *msgs;
	char buf[400];
	size_t n;
	int rc;

	st0 = stats(); /* the parent's counters must not leak into the child */
	for (int i = 0; i < CHILD_EVENTS; i++)
		ASTRON_EVENT("fork.child", "i=%d", i);
	rc = astron_event_flush(20000);
	st = stats();
	servers = astron_event_servers(5000);
	n = servers ? test_consume(servers, "fork.child", CHILD_EVENTS, 30000, &msgs)
		    : 0;
	why = servers ? check_events(msgs, n, CHILD_EVENTS, getpid()) : "no servers";
	snprintf(buf, sizeof buf, "%llu %llu %llu %llu %llu %zu %d %d %s",
		 (unsigned long long)(st0.emitted + st0.delivered + st0.failed +
				      st0.dropped),
		 (unsigned long long)st.emitted, (unsigned long long)st.delivered,
		 (unsigned long long)st.failed, (unsigned long long)st.dropped, n,
		 servers && strcmp(servers, parent_servers) != 0, rc,
		 why ? why : "ok");
	if (write(fd, buf, strlen(buf)) < 0)
		_exit(3);
	if (servers)
		test_free_msgs(msgs, n);
	exit(0);
}

Test(fork, parent_and_child_both_emit_and_deliver_once, .timeout = 90)
{
	unsigned long long pre, emitted, delivered, failed, dropped;
	char parent_servers[256], buf[400] = {0}, why[200] = {0};
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	int fds[2], status, differ, rc;
	test_msg_t *msgs;
	size_t consumed, n;
	const char *bad;
	pid_t pid;

	setup_mock();
	astron_event_set_log_cb(quiet_log, NULL);
	mc = mock_cluster();
	snprintf(parent_servers, sizeof parent_servers, "%s",
		 astron_event_servers(1000));
	/* Slow brokers, so that the parent's pre-fork events are still in
	 * flight (or in its ring) at the moment of fork(). */
	for (int b = 1; b <= BROKERS; b++)
		rd_kafka_mock_broker_set_rtt(mc, b, 300);
	for (int i = 0; i < PRE_FORK; i++)
		ASTRON_EVENT("fork.parent", "i=%d", i);
	st = stats();
	cr_assert_lt(st.delivered, PRE_FORK, "everything was delivered before "
		     "fork(): the test proves nothing");

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(fds[0]);
		child_emits(fds[1], parent_servers);
	}
	close(fds[1]);

	for (int i = PRE_FORK; i < PRE_FORK + PARENT_AFTER; i++)
		ASTRON_EVENT("fork.parent", "i=%d", i);
	for (int b = 1; b <= BROKERS; b++)
		rd_kafka_mock_broker_set_rtt(mc, b, 0);
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_expect_eq(st.emitted, PRE_FORK + PARENT_AFTER);
	cr_expect_eq(st.delivered, PRE_FORK + PARENT_AFTER);
	cr_expect_eq(st.failed, 0);
	cr_expect_eq(st.dropped, 0);

	/* The child. */
	cr_assert_gt(read(fds[0], buf, sizeof buf - 1), 0, "the child reported nothing");
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_log_info("child: %s", buf);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	cr_assert_eq(sscanf(buf, "%llu %llu %llu %llu %llu %zu %d %d %199[^\n]",
			    &pre, &emitted, &delivered, &failed, &dropped,
			    &consumed, &differ, &rc, why), 9);
	cr_expect_eq(pre, 0, "the child inherited the parent's counters");
	cr_expect_eq(rc, 0, "the child's flush returned %d", rc);
	cr_expect_eq(emitted, CHILD_EVENTS);
	cr_expect_eq(delivered, CHILD_EVENTS, "the child delivered %llu: only "
		     "its own %d events are its to deliver", delivered, CHILD_EVENTS);
	cr_expect_eq(failed, 0);
	cr_expect_eq(dropped, 0);
	cr_expect_eq(differ, 1, "the child produced to the parent's cluster");
	cr_expect_str_eq(why, "ok", "the child's events: %s", why);

	/* The parent's cluster: its N + M events, each exactly once. */
	n = test_consume(astron_event_servers(1000), "fork.parent",
			 PRE_FORK + PARENT_AFTER, 30000, &msgs);
	bad = check_events(msgs, n, PRE_FORK + PARENT_AFTER, getpid());
	cr_expect_null(bad, "the parent's events: %s", bad);
	test_free_msgs(msgs, n);
}

/* ------------------------------------------- children that leave */

/* A child forked while the parent has undelivered events (every broker
 * down) and that exits at once must not try to deliver the parent's events
 * (that would take KAFKA_TIMEOUT = 10 s, or send them twice) nor touch its
 * producer; nor may one that flushes and reads stats.  The parent keeps
 * working and delivers everything once the brokers return. */
static int64_t child_exit_ms(int flush_first, int *status)
{
	int64_t t0 = test_now_ms();
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (flush_first) {
			astron_event_stats_t st = stats();
			int rc = astron_event_flush(-1);
			/* Nothing of the parent's is the child's business. */
			_exit(rc != 0 ? 10 : st.emitted || st.delivered ||
			      st.failed ? 11 : 0) ;
		}
		exit(0); /* atexit: the library's shutdown runs */
	}
	cr_assert_eq(waitpid(pid, status, 0), pid);
	return test_now_ms() - t0;
}

Test(fork, child_that_exits_right_away_is_prompt, .timeout = 60)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	int status;
	int64_t took;

	setup_mock();
	astron_event_set_log_cb(quiet_log, NULL);
	mc = mock_cluster();
	set_brokers(mc, 0);
	for (int i = 0; i < 100; i++)
		ASTRON_EVENT("fork.leave", "i=%d", i);
	sleep_ms(100); /* let the flusher hand them to librdkafka */

	took = child_exit_ms(0, &status);
	cr_log_info("a child that exits at once: %lld ms", (long long)took);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	cr_expect_lt(took, 1000, "the child took %lld ms to exit", (long long)took);

	took = child_exit_ms(1, &status);
	cr_log_info("a child that flushes and exits: %lld ms", (long long)took);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x (10: flush failed, 11: parent's counters)",
		  status);
	cr_expect_lt(took, 1000, "the child took %lld ms to exit", (long long)took);

	/* The parent is unharmed. */
	set_brokers(mc, 1);
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 100);
	cr_expect_eq(st.delivered, 100);
	cr_expect_eq(st.failed, 0);
}

/* ------------------------------------------- fork under emitters */

#define BUSY_THREADS 4

static int busy_stop;

static void *emit_until_stopped(void *arg)
{
	uint64_t *calls = arg, n = 0;

	while (!__atomic_load_n(&busy_stop, __ATOMIC_ACQUIRE)) {
		ASTRON_EVENT("fork.busy", "n=%llu", (unsigned long long)n);
		if (++n % 64 == 0)
			sleep_ms(1);
	}
	*calls = n;
	return NULL;
}

/* Children forked while four threads emit: each child, whose only thread is
 * the one that forked, gets a working pipeline; the parent's accounting is
 * exact afterwards. */
Test(fork, fork_while_threads_emit, .timeout = 90)
{
	pthread_t th[BUSY_THREADS];
	uint64_t calls[BUSY_THREADS], total = 0;
	astron_event_stats_t st;

	setup_mock();
	astron_event_set_log_cb(quiet_log, NULL);
	cr_assert_not_null(astron_event_servers(10000));
	for (int t = 0; t < BUSY_THREADS; t++)
		pthread_create(&th[t], NULL, emit_until_stopped, &calls[t]);
	sleep_ms(100);
	for (int c = 0; c < 4; c++) {
		int status;
		pid_t pid = fork();

		cr_assert_neq(pid, -1);
		if (pid == 0) {
			astron_event_stats_t cst;
			for (int i = 0; i < 50; i++)
				ASTRON_EVENT("fork.busychild", "i=%d", i);
			if (astron_event_flush(20000) != 0)
				_exit(10);
			astron_event_stats(&cst);
			_exit(cst.emitted == 50 && cst.delivered == 50 &&
			      cst.failed == 0 && cst.dropped == 0 ? 0 : 11);
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child %d status %#x (10: flush failed, 11: counts)", c,
			  status);
		sleep_ms(50);
	}
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELEASE);
	for (int t = 0; t < BUSY_THREADS; t++) {
		pthread_join(th[t], NULL);
		total += calls[t];
	}
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_log_info("parent while forking: %llu calls, emitted %llu dropped %llu "
		    "delivered %llu failed %llu", (unsigned long long)total,
		    (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		    (unsigned long long)st.delivered, (unsigned long long)st.failed);
	cr_expect_eq(st.emitted + st.dropped, total);
	cr_expect_eq(st.emitted, st.delivered + st.failed);
	cr_expect_eq(st.failed, 0);
}

/* ------------------------------------------- shutdown vs emitters */

#define SHUT_THREADS 8

static int shut_done;

typedef struct shut_worker {
	uint64_t calls;	     /* every call */
	uint64_t after_shut; /* calls started after shutdown had returned */
} shut_worker_t;

static void *emit_through_shutdown(void *arg)
{
	shut_worker_t *w = arg;

	while (!__atomic_load_n(&busy_stop, __ATOMIC_ACQUIRE)) {
		/* Acquire pairs with the release after shutdown returned. */
		int after = __atomic_load_n(&shut_done, __ATOMIC_ACQUIRE);

		ASTRON_EVENT("fork.shutdown", "n=%llu", (unsigned long long)w->calls);
		w->calls++;
		w->after_shut += after;
		if (w->calls % 32 == 0)
			sched_yield();
	}
	return NULL;
}

static void *emit_ten(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("fork.shutdown", "late=%d", i);
	return NULL;
}

/* Eight threads emit while the main thread shuts the pipeline down: no
 * crash, every call accounted for, every call made after shutdown dropped,
 * and at most one in-flight event per thread lost in the race. */
Test(fork, shutdown_while_threads_emit, .timeout = 60)
{
	pthread_t th[SHUT_THREADS], late;
	shut_worker_t w[SHUT_THREADS];
	astron_event_stats_t before, at, end;
	uint64_t calls = 0, after = 0;
	int rc;

	setup_mock();
	astron_event_set_log_cb(quiet_log, NULL);
	cr_assert_not_null(astron_event_servers(10000));
	memset(w, 0, sizeof w);
	for (int t = 0; t < SHUT_THREADS; t++)
		pthread_create(&th[t], NULL, emit_through_shutdown, &w[t]);
	sleep_ms(300);
	before = stats();
	rc = astron_event_shutdown(10000);
	at = stats();
	__atomic_store_n(&shut_done, 1, __ATOMIC_RELEASE);
	sleep_ms(200);
	pthread_create(&late, NULL, emit_ten, NULL); /* a thread born after */
	pthread_join(late, NULL);
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELEASE);
	for (int t = 0; t < SHUT_THREADS; t++) {
		pthread_join(th[t], NULL);
		calls += w[t].calls;
		after += w[t].after_shut;
	}
	calls += 10;
	after += 10;
	end = stats();
	cr_log_info("shutdown race: rc %d, %llu calls (%llu after shutdown), "
		    "emitted %llu dropped %llu delivered %llu failed %llu", rc,
		    (unsigned long long)calls, (unsigned long long)after,
		    (unsigned long long)end.emitted, (unsigned long long)end.dropped,
		    (unsigned long long)end.delivered, (unsigned long long)end.failed);
	cr_expect_eq(rc, 0);
	cr_assert_gt(after, 0);
	cr_expect_eq(end.emitted + end.dropped, calls, "calls not accounted for");
	cr_expect_geq(end.dropped - at.dropped, after,
		      "calls after shutdown: %llu, new drops %llu",
		      (unsigned long long)after,
		      (unsigned long long)(end.dropped - at.dropped));
	cr_expect_leq(end.emitted - at.emitted, SHUT_THREADS,
		      "events accepted after shutdown returned");
	cr_expect_eq(end.delivered, at.delivered, "delivered after shutdown");
	cr_expect_geq(at.delivered, before.emitted,
		      "events emitted before shutdown were not all delivered");
	cr_expect_eq(end.emitted, end.delivered + end.failed);
	cr_expect_leq(end.failed, SHUT_THREADS, "more than one racing event "
		      "per thread lost: failed %llu", (unsigned long long)end.failed);
	cr_expect_eq(astron_event_flush(1000), ASTRON_ESHUTDOWN);
}

/* ------------------------------------------- threads that exit */

#define SHORT_THREADS 20
#define SHORT_EVENTS 100

static void *emit_and_exit(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < SHORT_EVENTS; i++)
		ASTRON_EVENT("fork.short", "t=%d i=%d", t, i);
	return NULL;
}

/* Twenty threads each emit 100 events and exit while every broker is down
 * and librdkafka's queue holds 50: their events are still in their rings
 * when they die.  All 2000 are delivered once the brokers return, and the
 * dead threads' rings are freed once drained, without losing their counts. */
Test(fork, events_of_exited_threads_are_delivered, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	test_msg_t *msgs;
	static uint8_t seen[SHORT_THREADS][SHORT_EVENTS];
	int64_t deadline;
	size_t n;

	setup_mock();
	setenv("ASTRON_RDKAFKA_QUEUE_BUFFERING_MAX_MESSAGES", "50", 1);
	astron_event_set_log_cb(quiet_log, NULL);
	mc = mock_cluster();
	set_brokers(mc, 0);
	for (int t = 0; t < SHORT_THREADS; t++) {
		pthread_t th;
		pthread_create(&th, NULL, emit_and_exit, (void *)(intptr_t)t);
		pthread_join(th, NULL);
	}
	st = stats();
	cr_assert_eq(st.emitted, SHORT_THREADS * SHORT_EVENTS);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.threads, SHORT_THREADS,
		     "%llu rings alive, want one per dead thread still holding "
		     "events", (unsigned long long)st.threads);

	set_brokers(mc, 1);
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_expect_eq(st.delivered, SHORT_THREADS * SHORT_EVENTS);
	cr_expect_eq(st.failed, 0);

	n = test_consume(astron_event_servers(1000), "fork.short",
			 SHORT_THREADS * SHORT_EVENTS, 30000, &msgs);
	cr_assert_eq(n, SHORT_THREADS * SHORT_EVENTS);
	for (size_t k = 0; k < n; k++) {
		const msgpack_object *m = &msgs[k].up.data;
		int64_t t = test_int(m, "t"), i = test_int(m, "i");

		cr_assert(t >= 0 && t < SHORT_THREADS && i >= 0 && i < SHORT_EVENTS);
		cr_assert_eq(seen[t][i], 0, "t=%lld i=%lld twice", (long long)t,
			     (long long)i);
		seen[t][i] = 1;
		cr_assert_eq(test_uint(m, "@tseq"), (uint64_t)i + 1);
	}
	test_free_msgs(msgs, n);

	/* Drained rings of dead threads are freed; their counts remain. */
	deadline = test_now_ms() + 15000;
	while ((st = stats()).threads > 0 && test_now_ms() < deadline)
		sleep_ms(100);
	cr_expect_eq(st.threads, 0, "%llu rings of dead threads never freed",
		     (unsigned long long)st.threads);
	cr_expect_eq(st.ring_bytes, 0);
	cr_expect_eq(st.emitted, SHORT_THREADS * SHORT_EVENTS);
	cr_expect_eq(st.delivered, SHORT_THREADS * SHORT_EVENTS);
}

/* ------------------------------------------- the child's counters */

/* A child's stats describe the child's pipeline only.  The parent has
 * format errors, a truncated event and a producer restart on its books;
 * right after fork() every counter of the child must read 0.
 *
 * Regression: the child resets truncated, format_errors and restarts too,
 * not only delivered, failed and seq; it must not report the parent's
 * counts as its own. */
#pragma GCC diagnostic ignored "-Wformat-extra-args"
Test(fork, child_counters_start_at_zero, .timeout = 60)
{
	static char big[100000];
	astron_event_stats_t st;
	int fds[2], status;
	char buf[256] = {0};
	unsigned long long c[7];
	int64_t deadline;
	rd_kafka_t *rk = NULL;
	pid_t pid;

	memset(big, 'b', sizeof big - 1);
	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	astron_event_set_log_cb(quiet_log, NULL);
	mock_cluster();
	for (int i = 0; i < 3; i++)
		ASTRON_EVENT("fork.counters", "novalue i=%d", i);
	ASTRON_EVENT("fork.counters", "big=%s", big);
	cr_assert_eq(astron_event_flush(10000), 0);
	pthread_mutex_lock(&astron_pipe.lock);
	rk = astron_pipe.svc->rk;
	pthread_mutex_unlock(&astron_pipe.lock);
	cr_assert_eq(rd_kafka_test_fatal_error(
			     rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
			     "test_fork"), 0);
	deadline = test_now_ms() + 10000;
	while (stats().restarts < 1 && test_now_ms() < deadline)
		sleep_ms(10);
	st = stats();
	cr_assert_eq(st.format_errors, 3);
	cr_assert_eq(st.truncated, 1);
	cr_assert_eq(st.restarts, 1);

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		astron_event_stats_t cst = stats();
		int n = snprintf(buf, sizeof buf, "%llu %llu %llu %llu %llu %llu %llu",
				 (unsigned long long)cst.emitted,
				 (unsigned long long)cst.dropped,
				 (unsigned long long)cst.delivered,
				 (unsigned long long)cst.failed,
				 (unsigned long long)cst.format_errors,
				 (unsigned long long)cst.truncated,
				 (unsigned long long)cst.restarts);
		if (write(fds[1], buf, (size_t)n) < 0)
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	cr_assert_gt(read(fds[0], buf, sizeof buf - 1), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_log_info("child's stats after fork (emitted dropped delivered failed "
		    "format_errors truncated restarts): %s", buf);
	cr_assert_eq(sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &c[0], &c[1],
			    &c[2], &c[3], &c[4], &c[5], &c[6]), 7);
	cr_expect_eq(c[0] + c[1] + c[2] + c[3], 0, "emitted/dropped/delivered/"
		     "failed inherited");
	cr_expect_eq(c[4], 0, "the child reports the parent's %llu format errors",
		     c[4]);
	cr_expect_eq(c[5], 0, "the child reports the parent's %llu truncated "
		     "events", c[5]);
	cr_expect_eq(c[6], 0, "the child reports the parent's %llu restarts", c[6]);
}
