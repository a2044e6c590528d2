/*
 * producer_service.c - the Kafka producer service and its factory, used
 * directly, the way a program that already has serialized values uses them
 * (the C form of the KafkaProducerServiceFactory / KafkaProducerService
 * pair):
 *
 *     factory -> create(servers, properties) -> send(...) -> flush -> teardown
 *
 * It sends ORDERS msgpack-encoded order records to the topic "orders", each
 * with its own delivery callback that records the outcome, flushes, prints
 * what was delivered and tears the service down.  Exit status 0 only if
 * every message was delivered.
 *
 *     ./producer_service [SERVERS]
 *
 * SERVERS defaults to KAFKA_SERVERS, else "mock" (librdkafka's embedded
 * cluster).  KAFKA_ENABLE is set to 1 unless the environment says
 * otherwise: with it off, send() quietly returns ASTRON_EDISABLED.
 *
 *     cc producer_service.c $(pkg-config --cflags --libs astron-event msgpack)
 */
#include <astron/event.h>
#include <astron/kafka.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "orders"
#define ORDERS 20

/* What each message's delivery callback learns. */
typedef struct outcome {
	int order;
	int done;    /* the callback ran */
	int err;     /* 0 or ASTRON_E* */
	char why[128];
} outcome_t;

static void on_delivery(int err, const char *errstr, const void *value,
			size_t len, void *opaque)
{
	outcome_t *o = opaque;

	(void)value;
	(void)len;
	o->done = 1;
	o->err = err;
	snprintf(o->why, sizeof o->why, "%s", err ? errstr : "");
}

/* An order as a msgpack map: {"order": n, "sku": "...", "qty": q, "price": p}. */
static void encode_order(msgpack_sbuffer *sb, int n)
{
	static const char *const skus[] = {"A-100", "B-220", "C-310"};
	msgpack_packer pk;
	const char *sku = skus[n % 3];

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "order", 5);
	msgpack_pack_int(&pk, n);
	msgpack_pack_str_with_body(&pk, "sku", 3);
	msgpack_pack_str_with_body(&pk, sku, strlen(sku));
	msgpack_pack_str_with_body(&pk, "qty", 3);
	msgpack_pack_int(&pk, 1 + n % 4);
	msgpack_pack_str_with_body(&pk, "price", 5);
	msgpack_pack_double(&pk, 9.99 + n);
}

int main(int argc, char **argv)
{
	/* Extra librdkafka properties, passed through verbatim; errors name
	 * the property.  ASTRON_RDKAFKA_<PROPERTY> variables apply first. */
	const char *const props[] = {
		"client.id", "producer-service-example",
		"linger.ms", "5",
		"acks", "all",
		NULL,
	};
	const astron_service_factory_t *factory = astron_kafka_service_factory();
	static outcome_t outcomes[ORDERS];
	astron_kafka_service_t *svc;
	astron_service_t *base;
	msgpack_sbuffer sb;
	const char *servers;
	char err[512];
	int delivered = 0, rc;

	setenv("KAFKA_ENABLE", "1", 0);
	servers = argc > 1 ? argv[1] : getenv("KAFKA_SERVERS");
	if (!servers || !*servers)
		servers = "mock";

	svc = astron_kafka_service_factory_create(servers, props, err, sizeof err);
	if (!svc) {
		fprintf(stderr, "producer_service: %s\n", err);
		return 1;
	}
	base = astron_kafka_service_base(svc);
	printf("factory %s created service %s (ready=%d) on %s\n",
	       astron_service_factory_class(factory), astron_service_name(base),
	       astron_service_ready(base), astron_kafka_service_servers(svc));

	msgpack_sbuffer_init(&sb);
	for (int i = 0; i < ORDERS; i++) {
		char key[16];

		outcomes[i].order = i;
		encode_order(&sb, i);
		snprintf(key, sizeof key, "customer-%d", i % 5);
		/* The value is copied: sb can be reused at once. */
		rc = astron_kafka_service_send_keyed(svc, TOPIC, key, strlen(key),
						     sb.data, sb.size, on_delivery,
						     &outcomes[i], 1000);
		if (rc != 0) {
			fprintf(stderr, "producer_service: send order %d: %s\n", i,
				astron_strerror(rc));
			outcomes[i].done = 1;
			outcomes[i].err = rc;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	printf("queued %d orders to %s; %d waiting for acknowledgement\n", ORDERS,
	       TOPIC, astron_kafka_service_outlen(svc));

	/* flush serves the delivery callbacks on this thread. */
	rc = astron_kafka_service_flush(svc, 10000);
	printf("flush: %s\n", astron_strerror(rc));
	for (int i = 0; i < ORDERS; i++) {
		const outcome_t *o = &outcomes[i];
		if (o->done && o->err == 0)
			delivered++;
		else
			printf("order %d: %s\n", o->order,
			       o->done ? o->why : "no delivery report");
	}
	printf("delivered %d/%d orders\n", delivered, ORDERS);

	astron_service_teardown(base);
	return delivered == ORDERS ? 0 : 1;
}
