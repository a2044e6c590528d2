/*
 * helpers.h - shared by the Criterion suites: read events back from Kafka
 * with a real librdkafka consumer and look fields up in decoded maps.
 */
#ifndef ASTRON_TEST_HELPERS_H
#define ASTRON_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#endif /* ASTRON_TEST_HELPERS_H */
