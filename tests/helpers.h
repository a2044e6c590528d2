/*
 * helpers.h - shared by the Criterion suites: read events back from Kafka
 * with a real librdkafka consumer, look fields up in decoded maps, and
 * capture the library's diagnostics (astron_event_set_log_cb).
 *
 * Everything is static inline (state lives in function-local statics), so a
 * suite that uses only part of it compiles without unused warnings.
 */
#ifndef ASTRON_TEST_HELPERS_H
#define ASTRON_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

typedef struct test_msg {
	char *key; /* NUL-terminated copy, NULL when the message had none */
	size_t keylen;
	int32_t partition;
	int64_t offset;
	char *value;	     /* the raw value: decoded strings point into it */
	size_t len;
	msgpack_unpacked up; /* up.data is the decoded value */
	int decoded;	     /* 1 when the value was one complete msgpack object */
} test_msg_t;

static inline int64_t test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Decode one Kafka value; the whole buffer must be exactly one object.  The
 * value is copied first: msgpack-c's objects point into the buffer. */
static inline void test_decode(test_msg_t *m, const void *buf, size_t len)
{
	size_t off = 0;

	m->value = malloc(len ? len : 1);
	memcpy(m->value, buf, len);
	m->len = len;
	msgpack_unpacked_init(&m->up);
	m->decoded = msgpack_unpack_next(&m->up, m->value, len, &off) ==
			     MSGPACK_UNPACK_SUCCESS && off == len;
}

/* Consume `topic` from the beginning of every partition until `want`
 * messages arrived or timeout_ms passed; returns how many were read into
 * *out (caller frees with test_free_msgs).  Uses partition assignment, not a
 * group, so it is fast on the mock cluster and on a real broker alike. */
static inline size_t test_consume(const char *servers, const char *topic,
				  size_t want, int timeout_ms, test_msg_t **out)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	size_t n = 0, cap = want ? want : 1;
	int64_t deadline = test_now_ms() + timeout_ms;
	test_msg_t *msgs = calloc(cap, sizeof *msgs);

	rd_kafka_conf_set(conf, "bootstrap.servers", servers, err, sizeof err);
	rd_kafka_conf_set(conf, "group.id", "astron-test", err, sizeof err);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	cr_assert_not_null(rk, "consumer: %s", err);

	/* Wait for the topic's metadata (it may be auto-created late). */
	for (;;) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
		rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
		rd_kafka_topic_destroy(rkt);
		if (!e && md->topic_cnt == 1 && !md->topics[0].err &&
		    md->topics[0].partition_cnt > 0)
			break;
		if (md)
			rd_kafka_metadata_destroy(md);
		md = NULL;
		cr_assert_lt(test_now_ms(), deadline, "no metadata for %s", topic);
		struct timespec d = {0, 100000000};
		nanosleep(&d, NULL);
	}
	parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(parts, topic,
						  md->topics[0].partitions[i].id)
			->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	cr_assert_eq(rd_kafka_assign(rk, parts), 0);
	rd_kafka_topic_partition_list_destroy(parts);

	while (n < want && test_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			test_msg_t *t = &msgs[n++];
			t->partition = m->partition;
			t->offset = m->offset;
			if (m->key) {
				t->key = malloc(m->key_len + 1);
				memcpy(t->key, m->key, m->key_len);
				t->key[m->key_len] = '\0';
				t->keylen = m->key_len;
			}
			test_decode(t, m->payload, m->len);
		}
		rd_kafka_message_destroy(m);
	}
	/* Anything beyond `want` would be a duplicate: look briefly. */
	if (n == want) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		if (m) {
			cr_expect(m->err != 0, "more messages than expected on %s",
				  topic);
			rd_kafka_message_destroy(m);
		}
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	*out = msgs;
	return n;
}

static inline void test_free_msgs(test_msg_t *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(msgs[i].key);
		msgpack_unpacked_destroy(&msgs[i].up);
		free(msgs[i].value);
	}
	free(msgs);
}

/* The value of `key` in a msgpack map, NULL when absent (or not a map). */
static inline const msgpack_object *test_get(const msgpack_object *map,
					     const char *key)
{
	size_t n = strlen(key);

	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0)
			return &kv->val;
	}
	return NULL;
}

/* Field accessors that fail the test with the key's name. */
static inline int64_t test_int(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = test_get(map, key);
	cr_assert_not_null(o, "field %s missing", key);
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (int64_t)o->via.u64;
	cr_assert_eq(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER,
		     "field %s is not an integer (type %d)", key, o->type);
	return o->via.i64;
}

static inline uint64_t test_uint(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = test_get(map, key);
	cr_assert_not_null(o, "field %s missing", key);
	cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER,
		     "field %s is not an unsigned integer (type %d)", key, o->type);
	return o->via.u64;
}

static inline double test_double(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = test_get(map, key);
	cr_assert_not_null(o, "field %s missing", key);
	cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64,
		     "field %s is not a float64 (type %d)", key, o->type);
	return o->via.f64;
}

/* Compare a str field with an expected C string. */
static inline void test_str_eq(const msgpack_object *map, const char *key,
			       const char *want)
{
	const msgpack_object *o = test_get(map, key);
	cr_assert_not_null(o, "field %s missing", key);
	cr_assert_eq(o->type, MSGPACK_OBJECT_STR,
		     "field %s is not a str (type %d)", key, o->type);
	cr_assert_eq(o->via.str.size, strlen(want), "field %s: length %u, "
		     "want %zu", key, o->via.str.size, strlen(want));
	cr_assert(memcmp(o->via.str.ptr, want, o->via.str.size) == 0,
		  "field %s: got \"%.*s\", want \"%s\"", key,
		  (int)o->via.str.size, o->via.str.ptr, want);
}

/* The fields of an event from the emit_worker of test_e2e_mock and
 * test_kafka, "t=%d i=%llu s=%s f=%f neg=%lld kind=keyed|plain" (keyed for
 * odd i): thread t's i-th call, made at file:line in emit_worker on thread
 * tid of this process, stamped between t0 and t1 (wall clock ns) give or
 * take 50 ms.  @seq, @tseq and the key are left to the caller. */
static inline void test_check_worker_event(const msgpack_object *m, int t,
					   uint64_t i, const char *file,
					   int line, int tid, int64_t t0,
					   int64_t t1)
{
	char text[32];

	snprintf(text, sizeof text, "t%d-%llu", t, (unsigned long long)i);
	test_str_eq(m, "s", text);
	cr_assert_float_eq(test_double(m, "f"), i * 0.5, 1e-12);
	cr_assert_eq(test_int(m, "neg"), -(int64_t)i);
	test_str_eq(m, "kind", i % 2 ? "keyed" : "plain");

	/* Metadata. */
	cr_assert_eq(test_int(m, "@v"), 1);
	cr_assert(test_int(m, "@ts") >= t0 - 50000000 &&
		  test_int(m, "@ts") <= t1 + 50000000,
		  "@ts %lld outside [%lld, %lld]",
		  (long long)test_int(m, "@ts"), (long long)t0, (long long)t1);
	test_str_eq(m, "@file", file);
	cr_assert_eq(test_int(m, "@line"), line);
	test_str_eq(m, "@func", "emit_worker");
	cr_assert_eq(test_int(m, "@pid"), getpid());
	cr_assert_eq(test_int(m, "@tid"), tid);
}

/* ------------------------------------------------------------------------
 * Diagnostics: test_log_capture() installs a log callback that keeps every
 * line the library logs (from any thread, librdkafka's included) with its
 * level; the rest reads them back.  Criterion runs each test in its own
 * process, so each test starts with an empty capture.
 * ---------------------------------------------------------------------- */

#define TEST_LOG_KEEP 8192 /* lines kept; test_log_n() counts them all */

typedef struct test_log {
	pthread_mutex_t lock;
	int n;			   /* lines logged, kept or not */
	int level[TEST_LOG_KEEP];
	char *line[TEST_LOG_KEEP]; /* copies of the first TEST_LOG_KEEP */
} test_log_t;

static inline test_log_t *test_log(void)
{
	static test_log_t state = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}};
	return &state;
}

/* Lines kept: call with the lock held. */
static inline int test_log_kept(const test_log_t *l)
{
	return l->n < TEST_LOG_KEEP ? l->n : TEST_LOG_KEEP;
}

static inline void test_log_cb(int level, const char *msg, void *opaque)
{
	test_log_t *l = test_log();

	(void)opaque;
	pthread_mutex_lock(&l->lock);
	if (l->n < TEST_LOG_KEEP) {
		l->level[l->n] = level;
		l->line[l->n] = strdup(msg);
	}
	l->n++;
	pthread_mutex_unlock(&l->lock);
}

/* Forget what was captured so far. */
static inline void test_log_reset(void)
{
	test_log_t *l = test_log();

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < test_log_kept(l); i++) {
		free(l->line[i]);
		l->line[i] = NULL;
	}
	l->n = 0;
	pthread_mutex_unlock(&l->lock);
}

/* Start capturing, from an empty capture. */
static inline void test_log_capture(void)
{
	test_log_reset();
	astron_event_set_log_cb(test_log_cb, NULL);
}

/* How many lines were logged. */
static inline int test_log_n(void)
{
	test_log_t *l = test_log();
	int n;

	pthread_mutex_lock(&l->lock);
	n = l->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Line i (from 0), "" when there is no such line kept. */
static inline const char *test_log_line(int i)
{
	test_log_t *l = test_log();
	const char *s = NULL;

	pthread_mutex_lock(&l->lock);
	if (i >= 0 && i < test_log_kept(l))
		s = l->line[i];
	pthread_mutex_unlock(&l->lock);
	return s ? s : "";
}

/* Lines that contain s and are at `level` (any level when level <= 0). */
static inline int test_log_count_level(const char *s, int level)
{
	test_log_t *l = test_log();
	int hits = 0;

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < test_log_kept(l); i++)
		if (l->line[i] && strstr(l->line[i], s) &&
		    (level <= 0 || l->level[i] == level))
			hits++;
	pthread_mutex_unlock(&l->lock);
	return hits;
}

/* Lines that contain both a and b (b may be NULL). */
static inline int test_log_count(const char *a, const char *b)
{
	test_log_t *l = test_log();
	int hits = 0;

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < test_log_kept(l); i++)
		if (l->line[i] && strstr(l->line[i], a) &&
		    (!b || strstr(l->line[i], b)))
			hits++;
	pthread_mutex_unlock(&l->lock);
	return hits;
}

/* Every kept line as "[level] line\n", for failure messages (static
 * buffer, cut at 16 KiB). */
static inline const char *test_log_text(void)
{
	static char buf[16384];
	test_log_t *l = test_log();
	size_t off = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < test_log_kept(l) && off < sizeof buf - 1; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "[%d] %s\n",
					l->level[i],
					l->line[i] ? l->line[i] : "");
	pthread_mutex_unlock(&l->lock);
	return buf;
}

/* Every kept line into the test's log (cr_log_info). */
static inline void test_log_dump(void)
{
	test_log_t *l = test_log();

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < test_log_kept(l); i++)
		cr_log_info("log[%d]: %s", l->level[i],
			    l->line[i] ? l->line[i] : "");
	pthread_mutex_unlock(&l->lock);
}

#endif /* ASTRON_TEST_HELPERS_H */
