/*
 * kafka_service.c - the Kafka producer service (the seed's
 * KafkaProducerService): a librdkafka producer with send, poll and flush.
 *
 * send() copies the message into librdkafka's queue and serves pending
 * delivery reports, as the seed's produce()+poll(0) does.  When the queue is
 * full it keeps serving reports until there is room or the caller's timeout
 * expires, so a caller (the flusher) feels the pressure instead of losing the
 * message.  Per-message callbacks need a small allocation to carry
 * (cb, opaque); messages sent without one use the service's default report,
 * which costs nothing extra: that is how the flusher sends.
 */
#include "kafka_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "site.h"

typedef struct delivery {
	astron_kafka_delivery_cb cb;
	void *opaque;
} delivery_t;

int astron_kafka_err(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return ASTRON_OK;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return ASTRON_EQUEUEFULL;
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
		return ASTRON_ETIMEDOUT;
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
		return ASTRON_EINVAL;
	default:
		return ASTRON_EKAFKA;
	}
}

int astron_kafka_prop_secret(const char *name)
{
	static const char *const words[] = {"password", "secret", "ssl.key.pem",
					    "sasl.oauthbearer.config",
					    "ssl_key", "keystore"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strstr(name, words[i]))
			return 1;
	return 0;
}

static void teardown(astron_service_t *base)
{
	astron_kafka_service_t *svc = (astron_kafka_service_t *)base;

	astron_service_set_ready(base, 0);
	for (size_t i = 0; i < ASTRON_TOPIC_SLOTS; i++)
		if (svc->topics[i].rkt)
			rd_kafka_topic_destroy(svc->topics[i].rkt);
	if (svc->rk) {
		/* Whatever is still queued will not be delivered: report it
		 * (as purged) so every message gets its one report, then
		 * destroy without waiting on brokers that may be gone. */
		rd_kafka_purge(svc->rk, RD_KAFKA_PURGE_F_QUEUE |
					RD_KAFKA_PURGE_F_INFLIGHT |
					RD_KAFKA_PURGE_F_NON_BLOCKING);
		for (int i = 0; i < 100 && rd_kafka_outq_len(svc->rk) > 0; i++)
			rd_kafka_poll(svc->rk, 10);
		rd_kafka_poll(svc->rk, 0);
		rd_kafka_destroy_flags(svc->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	free(svc->servers);
	free(svc);
}

astron_kafka_service_t *astron_kafka_service_new(rd_kafka_t *rk,
						 const char *servers)
{
	astron_kafka_service_t *svc = calloc(1, sizeof *svc);

	if (!svc)
		return NULL;
	astron_service_init(&svc->base, "kafka_producer", teardown);
	svc->rk = rk;
	svc->servers = strdup(servers ? servers : "");
	if (!svc->servers) {
		free(svc);
		return NULL;
	}
	astron_service_set_ready(&svc->base, 1);
	return svc;
}

void astron_kafka_service_on_delivery(rd_kafka_t *rk,
				      const rd_kafka_message_t *msg,
				      void *opaque)
{
	astron_kafka_service_t *svc = opaque;
	delivery_t *d = msg->_private;
	int err = astron_kafka_err(msg->err);
	const char *errstr = msg->err ? rd_kafka_err2str(msg->err) : "";

	(void)rk;
	if (d) {
		d->cb(err, errstr, msg->payload, msg->len, d->opaque);
		free(d);
		return;
	}
	/* The default report: failures are logged here, where the topic is
	 * known, then handed to the service-wide callback if one is set. */
	if (msg->err && msg->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
	    msg->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		astron_log(ASTRON_LOG_ERROR, "delivery to topic %s failed: %s",
			   msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?", errstr);
	if (svc->default_cb)
		svc->default_cb(err, errstr, msg->payload, msg->len,
				svc->default_opaque);
}

void astron_kafka_service_on_error(rd_kafka_t *rk, int err, const char *reason,
				   void *opaque)
{
	astron_kafka_service_t *svc = opaque;
	char why[512];

	if (err != RD_KAFKA_RESP_ERR__FATAL) {
		/* Transient (brokers down, timeouts): librdkafka retries by
		 * itself and its log callback already said so. */
		(void)reason;
		return;
	}
	rd_kafka_fatal_error(rk, why, sizeof why);
	astron_log(ASTRON_LOG_ERROR, "Kafka producer fatal error: %s; the "
		   "producer must be recreated", why);
	astron_service_set_ready(&svc->base, 0);
}

ASTRON_EXTERN int astron_kafka_service_fatal(astron_kafka_service_t *svc,
					     char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err;
	char why[512];

	if (!svc || !svc->rk)
		return 0;
	err = rd_kafka_fatal_error(svc->rk, why, sizeof why);
	if (err && errstr && errstr_size)
		snprintf(errstr, errstr_size, "%s", why);
	return err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void astron_kafka_service_on_log(const rd_kafka_t *rk, int level,
				 const char *fac, const char *buf)
{
	(void)rk;
	/* librdkafka's syslog levels: only warnings and worse are ours to
	 * show; its messages never contain configured secrets. */
	if (level <= 4)
		astron_log(level <= 3 ? ASTRON_LOG_ERROR : ASTRON_LOG_WARNING,
			   "librdkafka %s: %s", fac, buf);
}

ASTRON_EXTERN astron_service_t *
astron_kafka_service_base(astron_kafka_service_t *svc)
{
	return svc ? &svc->base : NULL;
}

ASTRON_EXTERN void
astron_kafka_service_set_default_cb(astron_kafka_service_t *svc,
				    astron_kafka_delivery_cb cb, void *opaque)
{
	if (!svc)
		return;
	svc->default_cb = cb;
	svc->default_opaque = opaque;
}

ASTRON_EXTERN int astron_kafka_service_send_keyed(
	astron_kafka_service_t *svc, const char *topic, const void *key,
	size_t keylen, const void *value, size_t len,
	astron_kafka_delivery_cb cb, void *opaque, int timeout_ms)
{
	int rc;

	if (!astron_config()->enabled)
		return ASTRON_EDISABLED;
	if (!svc || !svc->rk || (!value && len) || (!key && keylen)) {
		astron_log(ASTRON_LOG_ERROR, "astron_kafka_service_send: %s",
			   !svc || !svc->rk ? "service is NULL"
					    : "NULL buffer with a non-zero length");
		return ASTRON_EINVAL;
	}
	if (astron_topic_problem(topic)) {
		astron_log(ASTRON_LOG_ERROR, "astron_kafka_service_send: %s",
			   astron_topic_problem(topic));
		return ASTRON_EINVAL;
	}
	rc = astron_kafka_service_produce(svc, topic, NULL, key, keylen, value,
					  len, cb, opaque, timeout_ms);
	rd_kafka_poll(svc->rk, 0); /* the seed's send(): produce, then poll */
	return rc;
}

rd_kafka_topic_t *astron_kafka_service_topic(astron_kafka_service_t *svc,
					     const char *topic)
{
	/* Open addressing on the address; a few sites share each topic. */
	size_t h = ((uintptr_t)topic >> 3) * 0x9e3779b97f4a7c15u >> 57;

	for (size_t i = 0; i < ASTRON_TOPIC_SLOTS; i++) {
		size_t k = (h + i) % ASTRON_TOPIC_SLOTS;

		if (svc->topics[k].name == topic)
			return svc->topics[k].rkt;
		if (!svc->topics[k].name) {
			svc->topics[k].name = topic;
			svc->topics[k].rkt = rd_kafka_topic_new(svc->rk, topic,
								NULL);
			return svc->topics[k].rkt;
		}
	}
	return NULL;
}

/* One copying produce, by handle when there is one, else by name. */
static rd_kafka_resp_err_t produce_once(rd_kafka_t *rk, const char *topic,
					rd_kafka_topic_t *rkt, const void *key,
					size_t keylen, const void *value,
					size_t len, void *opaque)
{
	rd_kafka_vu_t vu[5];
	rd_kafka_error_t *error;
	rd_kafka_resp_err_t err;

	if (rkt) {
		vu[0].vtype = RD_KAFKA_VTYPE_RKT;
		vu[0].u.rkt = rkt;
	} else {
		vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
		vu[0].u.cstr = topic;
	}
	vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[1].u.i = RD_KAFKA_MSG_F_COPY;
	vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
	vu[2].u.mem.ptr = (void *)value;
	vu[2].u.mem.size = len;
	vu[3].vtype = RD_KAFKA_VTYPE_KEY;
	vu[3].u.mem.ptr = (void *)key;
	vu[3].u.mem.size = keylen;
	vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
	vu[4].u.ptr = opaque;
	error = rd_kafka_produceva(rk, vu, 5);
	if (!error)
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	err = rd_kafka_error_code(error);
	rd_kafka_error_destroy(error);
	return err;
}

int astron_kafka_service_produce(astron_kafka_service_t *svc, const char *topic,
				 rd_kafka_topic_t *rkt,
				 const void *key, size_t keylen,
				 const void *value, size_t len,
				 astron_kafka_delivery_cb cb, void *opaque,
				 int timeout_ms)
{
	int64_t deadline = -1; /* read the clock only once the queue is full */
	delivery_t *d = NULL;
	rd_kafka_resp_err_t err;

	if (cb) {
		d = malloc(sizeof *d);
		if (!d)
			return ASTRON_ENOMEM;
		d->cb = cb;
		d->opaque = opaque;
	}
	for (;;) {
		int64_t left;

		err = produce_once(svc->rk, topic, rkt, key, keylen, value,
				   len, d);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		if (deadline < 0)
			deadline = astron_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
		left = deadline - astron_mono_ms();
		if (left <= 0)
			break;
		/* Serving reports is what frees room in the queue. */
		rd_kafka_poll(svc->rk, left < 10 ? (int)left : 10);
	}
	if (err) {
		free(d);
		/* A full queue is back-pressure, not a fault: the caller
		 * decides; anything else is worth a (rate-limited) line. */
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			astron_log(ASTRON_LOG_ERROR, "send to topic %s failed: %s",
				   topic, rd_kafka_err2str(err));
		return astron_kafka_err(err);
	}
	return ASTRON_OK;
}

ASTRON_EXTERN int astron_kafka_service_send(astron_kafka_service_t *svc,
					    const char *topic,
					    const void *value, size_t len,
					    astron_kafka_delivery_cb cb,
					    void *opaque, int timeout_ms)
{
	return astron_kafka_service_send_keyed(svc, topic, NULL, 0, value, len,
					       cb, opaque, timeout_ms);
}

ASTRON_EXTERN int astron_kafka_service_poll(astron_kafka_service_t *svc,
					    int timeout_ms)
{
	if (!svc || !svc->rk)
		return 0;
	return rd_kafka_poll(svc->rk, timeout_ms < 0 ? 0 : timeout_ms);
}

ASTRON_EXTERN int astron_kafka_service_flush(astron_kafka_service_t *svc,
					     int timeout_ms)
{
	if (!svc || !svc->rk)
		return ASTRON_EINVAL;
	if (timeout_ms < 0) /* as astron_event_flush(-1): KAFKA_TIMEOUT */
		timeout_ms = astron_config()->timeout_ms;
	return rd_kafka_flush(svc->rk, timeout_ms) ? ASTRON_ETIMEDOUT : ASTRON_OK;
}

ASTRON_EXTERN int astron_kafka_service_outlen(astron_kafka_service_t *svc)
{
	return svc && svc->rk ? rd_kafka_outq_len(svc->rk) : 0;
}

ASTRON_EXTERN const char *
astron_kafka_service_servers(const astron_kafka_service_t *svc)
{
	return svc ? svc->servers : NULL;
}
