/*
 * kafka_service.h - the layout of the Kafka producer service, shared by the
 * service (kafka_service.c) and its factory (factory.c).
 */
#ifndef ASTRON_KAFKA_SERVICE_H
#define ASTRON_KAFKA_SERVICE_H

#include <librdkafka/rdkafka.h>

#include "astron/kafka.h"
#include "service_base.h"

/* Topic handles of the flusher's call sites, by the address of the site's
 * topic string (see astron_kafka_service_topic). */
#define ASTRON_TOPIC_SLOTS 128

struct astron_kafka_service {
	astron_service_t base; /* first: the handle converts to a service */
	rd_kafka_t *rk;
	char *servers;	       /* bootstrap servers actually used */
	astron_kafka_delivery_cb default_cb;
	void *default_opaque;
	struct {
		const char *name;
		rd_kafka_topic_t *rkt;
	} topics[ASTRON_TOPIC_SLOTS];
};

/* Build the service around an rd_kafka_t created by the factory. */
astron_kafka_service_t *astron_kafka_service_new(rd_kafka_t *rk,
						 const char *servers);

/* librdkafka's delivery report, installed by the factory on the conf. */
void astron_kafka_service_on_delivery(rd_kafka_t *rk,
				      const rd_kafka_message_t *msg,
				      void *opaque);

/* librdkafka's error events: fatal ones make the service not ready. */
void astron_kafka_service_on_error(rd_kafka_t *rk, int err, const char *reason,
				   void *opaque);

/* librdkafka's log lines, routed through astron_log (rate-limited). */
void astron_kafka_service_on_log(const rd_kafka_t *rk, int level,
				 const char *fac, const char *buf);

/* send_keyed without argument checks and without serving reports, for a
 * caller that validated its arguments once and polls on its own schedule
 * (the flusher: topics are checked per call site, reports served once per
 * drain).  rkt, when not NULL, is topic's handle from
 * astron_kafka_service_topic. */
int astron_kafka_service_produce(astron_kafka_service_t *svc, const char *topic,
				 rd_kafka_topic_t *rkt,
				 const void *key, size_t keylen,
				 const void *value, size_t len,
				 astron_kafka_delivery_cb cb, void *opaque,
				 int timeout_ms);

/* The handle of a topic whose name is a string that outlives the service,
 * for one thread (the flusher, with a call site's topic), cached by the
 * string's address.  Producing by handle skips the lookup by name (a lock
 * and a search) that librdkafka otherwise makes for every message.  NULL
 * when the cache is full or librdkafka refuses the name: then produce by
 * name. */
rd_kafka_topic_t *astron_kafka_service_topic(astron_kafka_service_t *svc,
					     const char *topic);

/* Map a librdkafka error to an ASTRON_E* code. */
int astron_kafka_err(rd_kafka_resp_err_t err);

/* 1 when a property's value must never be printed. */
int astron_kafka_prop_secret(const char *name);

#endif /* ASTRON_KAFKA_SERVICE_H */
