/*
 * test_faults.c - the pipeline under faults injected into librdkafka's mock
 * cluster: brokers going away and coming back, request errors and latency,
 * leader changes, a full producer queue, fatal producer errors, an
 * unreachable broker at exit, sustained overload from many threads, and the
 * bounded blocking policy (ASTRON_EVENT_BLOCK_MS).
 *
 * Every test counts: the calls it made, the library's stats, and where it
 * matters the events read back with a real consumer (exact count, no
 * duplicate by @seq or by the test's own index).  The mock cluster is reached
 * through the library's private state: astron_pipe.svc is the producer
 * service, its rd_kafka_t owns the cluster.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"
#include "kafka_service.h"
#include "pipeline.h"

#define BROKERS 3
#define PRODUCE_API 0 /* RD_KAFKAP_Produce: librdkafka's private header */

/* ------------------------------------------------------------ helpers */

static void setup_mock(void)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:3", 1);
	/* Brokers come back within a test's lifetime: do not let the
	 * exponential reconnect backoff grow to its 10 s default. */
	setenv("ASTRON_RDKAFKA_RECONNECT_BACKOFF_MAX_MS", "500", 1);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&d, NULL);
}

/* The producer the flusher uses right now (starts the pipeline). */
static rd_kafka_t *producer(void)
{
	rd_kafka_t *rk = NULL;

	cr_assert_not_null(astron_event_servers(10000), "the pipeline did not start");
	pthread_mutex_lock(&astron_pipe.lock);
	if (astron_pipe.svc)
		rk = astron_pipe.svc->rk;
	pthread_mutex_unlock(&astron_pipe.lock);
	cr_assert_not_null(rk, "no producer");
	return rk;
}

static rd_kafka_mock_cluster_t *mock_cluster(void)
{
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(producer());

	cr_assert_not_null(mc, "KAFKA_SERVERS=mock did not start a mock cluster");
	return mc;
}

static void brokers_down(rd_kafka_mock_cluster_t *mc)
{
	for (int b = 1; b <= BROKERS; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_down(mc, b), 0);
}

static void brokers_up(rd_kafka_mock_cluster_t *mc)
{
	for (int b = 1; b <= BROKERS; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_up(mc, b), 0);
}

static astron_event_stats_t stats(void)
{
	astron_event_stats_t st;

	cr_assert_eq(astron_event_stats(&st), 0);
	return st;
}

/* Consume `topic` and check it holds exactly `want` events, each decoded,
 * from this process, with a unique @seq, and with a field "i" that is
 * unique and inside [lo, hi).  When `tseq_is_i1` is set, the events came
 * from one thread whose every enabled call passed i = call number - 1, so
 * @tseq must be i + 1: a gap in @tseq is then exactly a dropped call. */
static void consume_exactly(const char *servers, const char *topic, size_t want,
			    int64_t lo, int64_t hi, int tseq_is_i1)
{
	test_msg_t *msgs;
	size_t n;
	uint8_t *seen_i = calloc((size_t)(hi - lo), 1);
	uint8_t *seen_seq = NULL;
	uint64_t max_seq = 0;

	cr_assert_not_null(servers);
	n = test_consume(servers, topic, want, 60000, &msgs);
	cr_assert_eq(n, want, "%s: consumed %zu events, want %zu", topic, n, want);
	for (size_t k = 0; k < n; k++) {
		const msgpack_object *m = &msgs[k].up.data;
		uint64_t seq;
		int64_t i;

		cr_assert(msgs[k].decoded, "%s: message %zu is not msgpack", topic, k);
		i = test_int(m, "i");
		cr_assert(i >= lo && i < hi, "%s: i=%lld outside [%lld, %lld)", topic,
			  (long long)i, (long long)lo, (long long)hi);
		cr_assert_eq(seen_i[i - lo], 0, "%s: i=%lld delivered twice", topic,
			     (long long)i);
		seen_i[i - lo] = 1;
		cr_assert_eq(test_int(m, "@pid"), getpid());
		if (tseq_is_i1)
			cr_assert_eq(test_uint(m, "@tseq"), (uint64_t)i + 1,
				     "@tseq %llu for i=%lld",
				     (unsigned long long)test_uint(m, "@tseq"),
				     (long long)i);
		seq = test_uint(m, "@seq");
		if (seq > max_seq)
			max_seq = seq;
	}
	seen_seq = calloc(max_seq + 1, 1);
	for (size_t k = 0; k < n; k++) {
		uint64_t seq = test_uint(&msgs[k].up.data, "@seq");
		cr_assert_eq(seen_seq[seq], 0, "%s: @seq %llu twice", topic,
			     (unsigned long long)seq);
		seen_seq[seq] = 1;
	}
	free(seen_seq);
	free(seen_i);
	test_free_msgs(msgs, n);
}

/* ------------------------------------------------- brokers go away */

/* Every broker goes down in the middle of a stream and comes back: the
 * events emitted meanwhile wait in the ring and in librdkafka, and are all
 * delivered once the brokers return, exactly once (idempotent producer). */
Test(faults, all_brokers_down_then_up_loses_nothing, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;

	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	test_log_capture();
	mc = mock_cluster();

	for (int i = 0; i < 500; i++)
		ASTRON_EVENT("faults.down", "i=%d phase=%d", i, 1);
	cr_assert_eq(astron_event_flush(20000), 0);
	cr_assert_eq(stats().delivered, 500);

	brokers_down(mc);
	for (int i = 500; i < 1000; i++) {
		ASTRON_EVENT("faults.down", "i=%d phase=%d", i, 2);
		if (i % 100 == 0)
			sleep_ms(50);
	}
	/* The fault is real: nothing can be delivered while it lasts. */
	cr_assert_eq(astron_event_flush(1000), ASTRON_ETIMEDOUT,
		     "flush succeeded with every broker down");
	st = stats();
	cr_assert_eq(st.delivered, 500, "delivered %llu with brokers down",
		     (unsigned long long)st.delivered);
	cr_assert_eq(st.failed, 0);

	brokers_up(mc);
	cr_assert_eq(astron_event_flush(30000), 0, "no recovery after brokers came back");
	st = stats();
	cr_log_info("brokers down/up: emitted %llu delivered %llu failed %llu "
		    "dropped %llu", (unsigned long long)st.emitted,
		    (unsigned long long)st.delivered,
		    (unsigned long long)st.failed, (unsigned long long)st.dropped);
	cr_expect_eq(st.emitted, 1000);
	cr_expect_eq(st.dropped, 0);
	cr_expect_eq(st.delivered, 1000);
	cr_expect_eq(st.failed, 0);
	consume_exactly(astron_event_servers(1000), "faults.down", 1000, 0, 1000, 1);
}

/* Produce requests fail with retriable errors and the leader answers
 * 200 ms late: librdkafka retries, nothing is lost or duplicated.  The topic
 * has one partition led by broker 1, whose own error stack must be empty at
 * the end: proof that every injected error was served. */
Test(faults, request_errors_and_latency_lose_nothing, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	size_t left = 99;

	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	test_log_capture();
	mc = mock_cluster();
	cr_assert_eq(rd_kafka_mock_topic_create(mc, "faults.errors", 1, 3), 0);
	cr_assert_eq(rd_kafka_mock_partition_set_leader(mc, "faults.errors", 0, 1), 0);
	/* Cluster-wide errors for the first Produce requests... */
	rd_kafka_mock_push_request_errors(
		mc, PRODUCE_API, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
		RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	/* ...then more on the leader, answered late, and 200 ms RTT. */
	cr_assert_eq(rd_kafka_mock_broker_push_request_error_rtts(
			     mc, 1, PRODUCE_API, 3,
			     RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 100,
			     RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 300,
			     RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0), 0);
	for (int b = 1; b <= BROKERS; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_rtt(mc, b, 200), 0);

	for (int i = 0; i < 2000; i++) {
		ASTRON_EVENT("faults.errors", "i=%d", i);
		if (i % 250 == 0)
			sleep_ms(20); /* several produce requests, not one */
	}
	cr_assert_eq(astron_event_flush(45000), 0);
	st = stats();
	cr_assert_eq(rd_kafka_mock_broker_error_stack_cnt(mc, 1, PRODUCE_API, &left), 0);
	cr_log_info("request errors + 200 ms RTT: emitted %llu delivered %llu "
		    "failed %llu; injected errors left on the leader: %zu",
		    (unsigned long long)st.emitted, (unsigned long long)st.delivered,
		    (unsigned long long)st.failed, left);
	cr_expect_eq(left, 0, "the injected errors were not all served");
	cr_expect_eq(st.emitted, 2000);
	cr_expect_eq(st.delivered, 2000);
	cr_expect_eq(st.failed, 0);
	for (int b = 1; b <= BROKERS; b++)
		rd_kafka_mock_broker_set_rtt(mc, b, 0);
	consume_exactly(astron_event_servers(1000), "faults.errors", 2000, 0, 2000, 1);
}

/* Partition leaders move between brokers while a thread emits. */
static void *emit_leader_stream(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3000; i++) {
		ASTRON_EVENT("faults.leader", "i=%d", i);
		if (i % 100 == 99)
			sleep_ms(40);
	}
	return NULL;
}

Test(faults, leader_change_mid_stream_loses_nothing, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	pthread_t th;

	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	test_log_capture();
	mc = mock_cluster();
	cr_assert_eq(rd_kafka_mock_topic_create(mc, "faults.leader", 4, 3), 0);

	pthread_create(&th, NULL, emit_leader_stream, NULL);
	for (int round = 1; round <= 8; round++) {
		sleep_ms(150);
		for (int p = 0; p < 4; p++)
			cr_assert_eq(rd_kafka_mock_partition_set_leader(
					     mc, "faults.leader", p,
					     (p + round) % BROKERS + 1), 0);
	}
	pthread_join(th, NULL);
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_log_info("leader changes: emitted %llu delivered %llu failed %llu",
		    (unsigned long long)st.emitted,
		    (unsigned long long)st.delivered, (unsigned long long)st.failed);
	cr_expect_eq(st.emitted, 3000);
	cr_expect_eq(st.dropped, 0);
	cr_expect_eq(st.delivered, 3000);
	cr_expect_eq(st.failed, 0);
	consume_exactly(astron_event_servers(1000), "faults.leader", 3000, 0, 3000, 1);
}

/* ------------------------------------------------- a full queue */

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* librdkafka's queue holds 100 messages and no broker is up: the flusher
 * cannot hand events over, the small ring fills, and the emitter must keep
 * returning at once, counting every refused call.  Nobody spins meanwhile.
 * When the brokers return, the backlog is delivered and flow resumes. */
#define QF_CALLS 20000
Test(faults, queue_full_never_blocks_and_counts_drops, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	int64_t worst = 0, t0;
	double cpu0, cpu;
	int i, slow = 0;

	setup_mock();
	setenv("ASTRON_RDKAFKA_QUEUE_BUFFERING_MAX_MESSAGES", "100", 1);
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "4k", 1);
	test_log_capture();
	mc = mock_cluster();
	brokers_down(mc);

	/* The first call at a site builds its plan and the thread's ring:
	 * time the steady state, from the second call on. */
	ASTRON_EVENT("faults.queue", "i=%d", 0);
	for (i = 1; i < QF_CALLS; i++) {
		int64_t t = now_us();
		ASTRON_EVENT("faults.queue", "i=%d", i);
		t = now_us() - t;
		if (t > worst)
			worst = t;
		slow += t > 1000;
	}
	st = stats();
	cr_log_info("queue full: %d calls, emitted %llu dropped %llu, slowest "
		    "call %lld us, %d calls over 1 ms", QF_CALLS,
		    (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		    (long long)worst, slow);
	cr_assert_eq(st.emitted + st.dropped, QF_CALLS);
	cr_assert_gt(st.dropped, 0, "the ring never filled: no back-pressure");
	cr_assert_eq(st.delivered, 0);
	/* A call that waited for the flusher or for librdkafka would take
	 * 100 ms (the flusher's wait for room) or forever, and so would every
	 * one of the ~18000 refused calls.  Being preempted on a loaded 2-core
	 * machine (make -j check runs suites side by side) costs a few calls
	 * several ms each (8.6 ms seen), so: a tight bound on almost every call
	 * and a loose one on the slowest. */
	cr_expect_leq(slow, QF_CALLS / 1000, "%d emitting calls took over 1 ms", slow);
	cr_expect_lt(worst, 50000, "an emitting call took %lld us", (long long)worst);

	/* Stalled, not spinning: the whole process stays mostly idle. */
	cpu0 = cpu_seconds();
	t0 = now_us();
	sleep_ms(1000);
	cpu = cpu_seconds() - cpu0;
	cr_log_info("stalled for %lld ms: %.3f s of CPU",
		    (long long)(now_us() - t0) / 1000, cpu);
	cr_expect_lt(cpu, 0.5, "the stalled pipeline burned %.3f s of CPU in 1 s", cpu);
	cr_assert_eq(stats().emitted, st.emitted, "events accepted while stalled");

	brokers_up(mc);
	cr_assert_eq(astron_event_flush(30000), 0, "no recovery after brokers came back");
	st = stats();
	cr_assert_eq(st.emitted, st.delivered + st.failed);
	cr_assert_eq(st.failed, 0);

	/* Flow resumes: a paced stream is accepted whole. */
	for (i = QF_CALLS; i < QF_CALLS + 500; i++) {
		ASTRON_EVENT("faults.queue", "i=%d", i);
		if (i % 50 == 0)
			sleep_ms(5);
	}
	cr_assert_eq(astron_event_flush(30000), 0);
	{
		astron_event_stats_t after = stats();
		cr_expect_eq(after.dropped, st.dropped, "drops after recovery");
		cr_expect_eq(after.emitted, st.emitted + 500);
		cr_expect_eq(after.delivered, after.emitted);
		cr_expect_eq(after.emitted + after.dropped, QF_CALLS + 500);
		/* Every accepted event arrives once, its @tseq = i + 1: the
		 * gaps are the counted drops. */
		consume_exactly(astron_event_servers(1000), "faults.queue",
				after.emitted, 0, QF_CALLS + 500, 1);
	}
}

/* ------------------------------------------------- fatal errors */

/* A fatal error ends an idempotent producer for good.  The library logs it,
 * counts the events it cost as failed, recreates the producer (restarts ==
 * 1) and later events are delivered by the new one.  With "mock" the new
 * producer owns a new cluster, at a new address. */
Test(faults, fatal_error_recreates_the_producer, .timeout = 90)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	rd_kafka_t *rk;
	const char *servers;
	int64_t deadline;

	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	/* With the default rate (10/s) librdkafka's warnings about the downed
	 * brokers can use up the bucket and suppress the two lines this test
	 * looks for (seen under load); the rate limit is not what is tested. */
	setenv("ASTRON_EVENT_LOG_RATE", "100000", 1);
	test_log_capture();
	rk = producer();
	mc = rd_kafka_handle_mock_cluster(rk);

	for (int i = 0; i < 100; i++)
		ASTRON_EVENT("faults.fatal", "i=%d", i);
	cr_assert_eq(astron_event_flush(20000), 0);
	cr_assert_eq(stats().delivered, 100);

	/* 50 events stuck in the producer when the fatal error strikes. */
	brokers_down(mc);
	for (int i = 100; i < 150; i++)
		ASTRON_EVENT("faults.fatal", "i=%d", i);
	deadline = test_now_ms() + 5000;
	while (astron_kafka_service_outlen(astron_pipe.svc) < 50 &&
	       test_now_ms() < deadline)
		sleep_ms(10);
	cr_assert_eq(astron_kafka_service_outlen(astron_pipe.svc), 50);

	cr_assert_eq(rd_kafka_test_fatal_error(
			     rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
			     "injected by test_faults"), 0);
	deadline = test_now_ms() + 10000;
	while (stats().restarts < 1 && test_now_ms() < deadline)
		sleep_ms(10);
	st = stats();
	cr_assert_eq(st.restarts, 1, "the producer was not recreated");
	cr_assert_eq(st.failed, 50, "the 50 purged events: failed %llu",
		     (unsigned long long)st.failed);
	cr_assert_eq(st.delivered, 100);
	cr_expect_geq(test_log_count("fatal", "injected by test_faults"), 1,
		      "the fatal error was not logged");
	cr_expect_geq(test_log_count("recreating", NULL), 1);

	for (int i = 150; i < 350; i++)
		ASTRON_EVENT("faults.fatal", "i=%d", i);
	cr_assert_eq(astron_event_flush(20000), 0);
	st = stats();
	cr_log_info("fatal error: emitted %llu delivered %llu failed %llu "
		    "restarts %llu", (unsigned long long)st.emitted,
		    (unsigned long long)st.delivered, (unsigned long long)st.failed,
		    (unsigned long long)st.restarts);
	cr_expect_eq(st.emitted, 350);
	cr_expect_eq(st.delivered, 300);
	cr_expect_eq(st.failed, 50);
	cr_expect_eq(st.restarts, 1);
	cr_expect_eq(st.emitted, st.delivered + st.failed);
	servers = astron_event_servers(1000);
	/* The new cluster holds exactly the events sent after the restart. */
	consume_exactly(servers, "faults.fatal", 200, 150, 350, 1);
	if (test_log_count("fatal", NULL) == 0)
		test_log_dump();
}

/* <astron/event.h>: the string astron_event_servers() returns "stays valid
 * until shutdown".  A producer restart must not pull it from under a caller
 * (a consumer started on the old address, a log line, a config dump).
 *
 * Regression: after a producer restart the old string stays allocated and
 * unchanged until shutdown; freeing it at the restart left the caller with a
 * dangling pointer (silently rewritten text, or heap-use-after-free under
 * ASan). */
Test(faults, servers_string_survives_a_restart, .timeout = 60)
{
	const char *servers;
	char copy[512];
	rd_kafka_t *rk;
	int64_t deadline;

	setup_mock();
	setenv("ASTRON_RDKAFKA_ENABLE_IDEMPOTENCE", "true", 1);
	test_log_capture();
	rk = producer();
	servers = astron_event_servers(1000);
	cr_assert_not_null(servers);
	snprintf(copy, sizeof copy, "%s", servers);
	cr_assert_eq(rd_kafka_test_fatal_error(
			     rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
			     "test_faults"), 0);
	deadline = test_now_ms() + 10000;
	while (stats().restarts < 1 && test_now_ms() < deadline)
		sleep_ms(10);
	cr_assert_eq(stats().restarts, 1);
	cr_expect(strncmp(servers, copy, sizeof copy) == 0,
		  "the servers string changed under the caller after a producer "
		  "restart: was \"%s\"", copy);
}

/* ------------------------------------------------- exit */

/* The child registers its atexit handler before the library's, so it runs
 * after the library's exit-time shutdown and sees the final stats. */
static int report_fd = -1;

static void report_at_exit(void)
{
	astron_event_stats_t st;
	char buf[160];
	int n;

	astron_event_stats(&st);
	n = snprintf(buf, sizeof buf, "%llu %llu %llu %llu %d",
		     (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		     (unsigned long long)st.delivered,
		     (unsigned long long)st.failed,
		     test_log_count("100 events were not delivered", NULL));
	if (write(report_fd, buf, (size_t)n) < 0)
		_exit(3);
}

/* Fork a child that emits 100 events to a broker nobody listens on and
 * returns from "main" without calling anything; return how long it took
 * (from the parent's side) and what its atexit report said. */
typedef struct exit_report {
	int64_t took_ms;
	unsigned long long emitted, dropped, delivered, failed;
	int summary_lines; /* "100 events were not delivered" diagnostics */
} exit_report_t;

static exit_report_t exit_unreachable(void)
{
	exit_report_t r;
	int fds[2], status;
	char buf[160] = {0};
	int64_t t0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	t0 = test_now_ms();
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		atexit(report_at_exit);
		setenv("KAFKA_ENABLE", "1", 1);
		setenv("KAFKA_SERVERS", "127.0.0.1:1", 1); /* nothing listens */
		setenv("KAFKA_TIMEOUT", "2", 1);
		test_log_capture();
		for (int i = 0; i < 100; i++)
			ASTRON_EVENT("faults.exit", "i=%d", i);
		exit(0); /* no flush, no shutdown */
	}
	close(fds[1]);
	cr_assert_gt(read(fds[0], buf, sizeof buf - 1), 0, "the child reported nothing");
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r.took_ms = test_now_ms() - t0;
	cr_log_info("exit with an unreachable broker took %lld ms; emitted "
		    "dropped delivered failed summary-lines: %s",
		    (long long)r.took_ms, buf);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	cr_assert_eq(sscanf(buf, "%llu %llu %llu %llu %d", &r.emitted, &r.dropped,
			    &r.delivered, &r.failed, &r.summary_lines), 5);
	return r;
}

/* The exit-time flush is bounded by KAFKA_TIMEOUT (+ a margin for the
 * teardown), never hangs, and the final stats count what was lost. */
Test(faults, unreachable_broker_exit_is_bounded, .timeout = 60)
{
	exit_report_t r = exit_unreachable();

	cr_expect_lt(r.took_ms, 2000 + 1500, "exit took %lld ms with KAFKA_TIMEOUT=2",
		     (long long)r.took_ms);
	cr_expect_eq(r.emitted, 100);
	cr_expect_eq(r.dropped, 0);
	cr_expect_eq(r.delivered, 0);
	cr_expect_eq(r.failed, 100, "stats at exit: %llu failed, want 100", r.failed);
}

/* ...and the program's log says so: astron_event_shutdown() logs
 * "shutdown: N events were not delivered within T ms".
 *
 * Regression: that summary line must survive the ASTRON_EVENT_LOG_RATE
 * limit (10/s).  Events purged at teardown must not log one delivery
 * failure each, and the summary itself is exempt from the rate limit, so
 * earlier connection warnings cannot suppress it. */
Test(faults, unreachable_broker_exit_logs_what_was_lost, .timeout = 60)
{
	exit_report_t r = exit_unreachable();

	cr_expect_eq(r.failed, 100);
	cr_expect_eq(r.summary_lines, 1, "no diagnostic saying that 100 events "
		     "were not delivered (the summary must not be rate-limited "
		     "away)");
}

/* ------------------------------------------------- overload */

#define OVL_THREADS 8

typedef struct overload {
	int64_t until_us;
	uint64_t calls;
} overload_t;

static void *emit_flat_out(void *arg)
{
	overload_t *o = arg;
	uint64_t n = 0;

	do {
		for (int k = 0; k < 64; k++, n++)
			ASTRON_EVENT("faults.overload", "n=%llu pad=%s",
				     (unsigned long long)n,
				     "0123456789abcdef0123456789abcdef");
	} while (now_us() < o->until_us);
	o->calls = n;
	return NULL;
}

/* Eight threads emit as fast as they can for a second into 64 KiB rings:
 * the pipeline cannot keep up, and still every call is accounted for. */
Test(faults, sustained_overload_accounts_for_every_call, .timeout = 90)
{
	overload_t o[OVL_THREADS];
	pthread_t th[OVL_THREADS];
	astron_event_stats_t st;
	uint64_t calls = 0;
	int64_t until;

	setup_mock();
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "4k", 1);
	test_log_capture();
	cr_assert_not_null(astron_event_servers(10000));

	until = now_us() + 1000000;
	for (int t = 0; t < OVL_THREADS; t++) {
		o[t].until_us = until;
		pthread_create(&th[t], NULL, emit_flat_out, &o[t]);
	}
	for (int t = 0; t < OVL_THREADS; t++) {
		pthread_join(th[t], NULL);
		calls += o[t].calls;
	}
	st = stats();
	cr_log_info("overload: %llu calls, emitted %llu dropped %llu",
		    (unsigned long long)calls, (unsigned long long)st.emitted,
		    (unsigned long long)st.dropped);
	cr_assert_eq(st.emitted + st.dropped, calls);
	cr_expect_gt(st.dropped, 0, "not an overload: nothing was dropped");
	cr_assert_eq(astron_event_flush(60000), 0);
	st = stats();
	cr_log_info("overload after flush: delivered %llu failed %llu",
		    (unsigned long long)st.delivered, (unsigned long long)st.failed);
	cr_assert_eq(st.emitted + st.dropped, calls);
	cr_assert_eq(st.emitted, st.delivered + st.failed);
	cr_expect_eq(st.failed, 0);
}

/* ------------------------------------------------- blocking policy */

/* ASTRON_EVENT_BLOCK_MS=50 with no broker: once the ring is full a call
 * waits about 50 ms for room, then gives up and counts a drop. */
Test(faults, block_policy_waits_at_most_block_ms, .timeout = 60)
{
	rd_kafka_mock_cluster_t *mc;
	astron_event_stats_t st;
	uint64_t calls = 0, drops = 0, dropped_before;
	int64_t slowest_drop = 0, fastest_drop = INT64_MAX;

	setup_mock();
	setenv("ASTRON_EVENT_BLOCK_MS", "50", 1);
	setenv("ASTRON_RDKAFKA_QUEUE_BUFFERING_MAX_MESSAGES", "100", 1);
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "4k", 1);
	test_log_capture();
	mc = mock_cluster();
	brokers_down(mc);

	dropped_before = stats().dropped;
	while (drops < 5 && calls < 100000) {
		int64_t t = now_us();
		ASTRON_EVENT("faults.block", "i=%llu", (unsigned long long)calls);
		t = now_us() - t;
		calls++;
		st = stats();
		if (st.dropped != dropped_before) {
			cr_assert_eq(st.dropped, dropped_before + 1);
			dropped_before = st.dropped;
			drops++;
			if (t > slowest_drop)
				slowest_drop = t;
			if (t < fastest_drop)
				fastest_drop = t;
		}
	}
	st = stats();
	cr_log_info("block 50 ms: %llu calls, emitted %llu dropped %llu, drops "
		    "took %lld..%lld us", (unsigned long long)calls,
		    (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		    (long long)fastest_drop, (long long)slowest_drop);
	cr_assert_eq(drops, 5, "the ring never filled");
	cr_assert_eq(st.emitted + st.dropped, calls);
	cr_expect_geq(fastest_drop, 50000, "a call dropped after %lld us, "
		      "before its 50 ms wait", (long long)fastest_drop);
	cr_expect_lt(slowest_drop, 50000 + 100000, "a blocked call took %lld us",
		     (long long)slowest_drop);
	brokers_up(mc);
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_assert_eq(st.delivered, st.emitted);
}

/* The same fast burst into a 64 KiB ring with a working broker: dropping by
 * default, lossless with ASTRON_EVENT_BLOCK_MS.  (The burst stays small
 * enough to read back: the mock cluster keeps only about 5 MB per
 * partition and silently discards older messages.) */
#define BURST 10000
static void fast_burst(void)
{
	static const char pad[] =
		"................................................................"
		"................................................................";

	setup_mock();
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "4k", 1);
	test_log_capture();
	cr_assert_not_null(astron_event_servers(10000));
	for (int i = 0; i < BURST; i++)
		ASTRON_EVENT("faults.burst", "i=%d pad=%s", i, pad);
}

Test(faults, drop_policy_drops_under_a_fast_burst, .timeout = 60)
{
	astron_event_stats_t st;

	fast_burst();
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_log_info("burst, drop mode: emitted %llu dropped %llu delivered %llu",
		    (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		    (unsigned long long)st.delivered);
	cr_assert_eq(st.emitted + st.dropped, BURST);
	cr_assert_gt(st.dropped, 0, "drop mode kept up: the comparison with "
		     "block mode proves nothing");
	cr_assert_eq(st.delivered, st.emitted);
}

Test(faults, block_policy_loses_nothing_under_a_fast_burst, .timeout = 60)
{
	astron_event_stats_t st;

	setenv("ASTRON_EVENT_BLOCK_MS", "50", 1);
	fast_burst();
	cr_assert_eq(astron_event_flush(30000), 0);
	st = stats();
	cr_log_info("burst, block mode: emitted %llu dropped %llu delivered %llu",
		    (unsigned long long)st.emitted, (unsigned long long)st.dropped,
		    (unsigned long long)st.delivered);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.emitted, BURST);
	cr_assert_eq(st.delivered, BURST);
	cr_assert_eq(st.failed, 0);
	consume_exactly(astron_event_servers(1000), "faults.burst", BURST, 0, BURST, 1);
}
