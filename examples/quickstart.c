/*
 * quickstart.c - the smallest instrumented program, and proof that it works.
 *
 * It emits a few events with ASTRON_EVENT, waits until Kafka acknowledged
 * them, then reads them back with a plain librdkafka consumer and prints each
 * one decoded.  With no environment set it uses the embedded default
 * (KAFKA_ENABLE=1, KAFKA_SERVERS=mock: librdkafka's in-process mock cluster),
 * so it runs on a machine without Kafka; point KAFKA_SERVERS at a real
 * cluster to see the same there.
 *
 *     cc quickstart.c $(pkg-config --cflags --libs astron-event rdkafka msgpack)
 */
#include <astron/event.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "quickstart.events"
#define N_EVENTS 5

/* Read `want` messages of TOPIC from the beginning and print them. */
static int read_back(const char *servers, int want)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *parts;
	const rd_kafka_metadata_t *md;
	rd_kafka_topic_t *rkt;
	int got = 0, idle = 0;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", servers, err, sizeof err) ||
	    rd_kafka_conf_set(conf, "group.id", "quickstart", err, sizeof err) ||
	    !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err))) {
		fprintf(stderr, "consumer: %s\n", err);
		return -1;
	}
	rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) || md->topic_cnt != 1) {
		fprintf(stderr, "no metadata for %s\n", TOPIC);
		return -1;
	}
	parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(parts, TOPIC, i)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	while (got < want && idle < 50) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		msgpack_unpacked up;
		size_t off = 0;

		if (!m) {
			idle++;
			continue;
		}
		if (m->err) {
			rd_kafka_message_destroy(m);
			continue;
		}
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, m->payload, m->len, &off) ==
		    MSGPACK_UNPACK_SUCCESS) {
			printf("partition %d offset %lld key %.*s\n  ",
			       (int)m->partition, (long long)m->offset,
			       m->key ? (int)m->key_len : 4,
			       m->key ? (const char *)m->key : "none");
			msgpack_object_print(stdout, up.data);
			printf("\n");
			got++;
		}
		msgpack_unpacked_destroy(&up);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got;
}

int main(void)
{
	astron_event_stats_t st;
	const char *servers;
	int got;

	/* The embedded default; a real deployment sets these outside. */
	setenv("KAFKA_ENABLE", "1", 0);
	setenv("KAFKA_SERVERS", "mock", 0);

	for (int i = 0; i < N_EVENTS - 1; i++)
		ASTRON_EVENT(TOPIC, "user=%s attempt=%d ratio=%f kind=login",
			     i % 2 ? "alice" : "bob", i, i / 4.0);
	ASTRON_EVENT_KEYED(TOPIC, "trace-42", "span=%llu dur_us=%u ok=%d",
			   0x1234567890ULL, 1500u, 1);

	if (astron_event_flush(5000) != 0) {
		fprintf(stderr, "flush: events not delivered in time\n");
		return 1;
	}
	servers = astron_event_servers(5000);
	if (!servers) {
		fprintf(stderr, "no servers (is KAFKA_ENABLE on?)\n");
		return 1;
	}
	printf("emitted %d events to %s on %s; reading them back:\n", N_EVENTS,
	       TOPIC, servers);
	got = read_back(servers, N_EVENTS);
	astron_event_stats(&st);
	printf("read back %d/%d; stats: emitted=%llu delivered=%llu "
	       "failed=%llu dropped=%llu\n", got, N_EVENTS,
	       (unsigned long long)st.emitted, (unsigned long long)st.delivered,
	       (unsigned long long)st.failed, (unsigned long long)st.dropped);
	return got == N_EVENTS && st.delivered == N_EVENTS ? 0 : 1;
}
