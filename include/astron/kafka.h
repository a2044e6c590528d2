/*
 * astron/kafka.h - the Kafka producer service and its factory.
 *
 * The C form of the seed's KafkaProducerService / KafkaProducerServiceFactory:
 * a program that already has serialized values sends them with
 *
 *     char err[256];
 *     astron_kafka_service_t *svc =
 *         astron_kafka_service_factory_create(NULL, NULL, err, sizeof err);
 *     astron_kafka_service_send(svc, "topic", buf, len, NULL, NULL, 1000);
 *     astron_kafka_service_flush(svc, 5000);
 *     astron_service_teardown(astron_kafka_service_base(svc));
 *
 * ASTRON_EVENT's flusher thread uses exactly this service.
 */
#ifndef ASTRON_KAFKA_H
#define ASTRON_KAFKA_H

#include <stddef.h>

#include <astron/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct astron_kafka_service astron_kafka_service_t;

/* Called once per message from the thread that polls the service (send,
 * poll or flush).  err is 0 on delivery, else an ASTRON_E* code and errstr
 * says why (librdkafka's words). */
typedef void (*astron_kafka_delivery_cb)(int err, const char *errstr,
					 const void *value, size_t len,
					 void *opaque);

/* The factory (class "kafka_producer").  create uses `servers`, or when NULL
 * the environment's KAFKA_SERVERS; neither is an ASTRON_ECONFIG error naming
 * KAFKA_SERVERS.  `props` is NULL or a NULL-terminated array of librdkafka
 * property/value pairs: {"compression.type", "lz4", "linger.ms", "5", NULL}.
 * ASTRON_RDKAFKA_<PROPERTY> environment variables are applied first, props
 * override them.  servers "mock" or "mock:N" starts librdkafka's embedded
 * mock cluster (a development aid).  On failure returns NULL and writes a
 * message naming the property into errstr (secrets are never copied). */
ASTRON_EXTERN const astron_service_factory_t *astron_kafka_service_factory(void);
ASTRON_EXTERN astron_kafka_service_t *
astron_kafka_service_factory_create(const char *servers,
				    const char *const *props, char *errstr,
				    size_t errstr_size);

/* The service base of a Kafka service (for name/ready/teardown). */
ASTRON_EXTERN astron_service_t *
astron_kafka_service_base(astron_kafka_service_t *svc);

/* Produce one message and serve pending delivery reports (the seed's send()).
 * The value (and key) are copied.  cb NULL uses the service's default report,
 * which logs failures.  When the producer queue is full, waits up to
 * timeout_ms for room while serving reports, then returns ASTRON_EQUEUEFULL.
 * Returns 0 (queued), ASTRON_EDISABLED quietly when KAFKA_ENABLE is off, or a
 * negative error that is also logged. */
ASTRON_EXTERN int astron_kafka_service_send(astron_kafka_service_t *svc,
					    const char *topic,
					    const void *value, size_t len,
					    astron_kafka_delivery_cb cb,
					    void *opaque, int timeout_ms);

/* The same with a message key (key may be NULL). */
ASTRON_EXTERN int astron_kafka_service_send_keyed(
	astron_kafka_service_t *svc, const char *topic, const void *key,
	size_t keylen, const void *value, size_t len,
	astron_kafka_delivery_cb cb, void *opaque, int timeout_ms);

/* A service-wide report for messages sent with cb NULL, called after the
 * default report (which logs failures, naming the topic). */
ASTRON_EXTERN void
astron_kafka_service_set_default_cb(astron_kafka_service_t *svc,
				    astron_kafka_delivery_cb cb, void *opaque);

/* Serve delivery reports, waiting at most timeout_ms (< 0: no wait);
 * returns how many. */
ASTRON_EXTERN int astron_kafka_service_poll(astron_kafka_service_t *svc,
					    int timeout_ms);

/* Wait until all queued messages are delivered or failed, at most timeout_ms
 * (< 0: KAFKA_TIMEOUT); 0 or ASTRON_ETIMEDOUT. */
ASTRON_EXTERN int astron_kafka_service_flush(astron_kafka_service_t *svc,
					     int timeout_ms);

/* 1 when the producer hit a fatal error (e.g. an idempotence guarantee could
 * not be kept) and must be torn down and recreated; errstr (may be NULL)
 * receives librdkafka's reason.  The service also stops being ready. */
ASTRON_EXTERN int astron_kafka_service_fatal(astron_kafka_service_t *svc,
					     char *errstr, size_t errstr_size);

/* Messages queued in librdkafka and not yet reported. */
ASTRON_EXTERN int astron_kafka_service_outlen(astron_kafka_service_t *svc);

/* The bootstrap servers in use (the mock cluster's address for "mock"). */
ASTRON_EXTERN const char *
astron_kafka_service_servers(const astron_kafka_service_t *svc);

#ifdef __cplusplus
}
#endif

#endif /* ASTRON_KAFKA_H */
