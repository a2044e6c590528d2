/*
 * factory.c - the Kafka producer service factory (the seed's
 * KafkaProducerServiceFactory): turn servers, the environment and extra
 * properties into a configured librdkafka producer.
 *
 * Properties are applied in increasing precedence: our defaults, then
 * ASTRON_RDKAFKA_<PROPERTY> from the environment (PROPERTY upper-cased, dots
 * as underscores: ASTRON_RDKAFKA_COMPRESSION_TYPE=zstd), then the caller's
 * pairs.  Every error names the property (and the variable it came from) in
 * librdkafka's own words, except that a secret's value is never repeated.
 */
#include "kafka_service.h"

#include <ctype.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

extern char **environ;

static const astron_service_factory_t kafka_factory = {"kafka_producer"};

ASTRON_EXTERN const astron_service_factory_t *astron_kafka_service_factory(void)
{
	return &kafka_factory;
}

/* Set one property; on error fill errstr naming it (and `origin`). */
static int set_prop(rd_kafka_conf_t *conf, const char *name, const char *value,
		    const char *origin, char *errstr, size_t errsize)
{
	char why[512];
	rd_kafka_conf_res_t res;

	if (!name || !*name) {
		snprintf(errstr, errsize, "%s: a property name is NULL or empty",
			 origin);
		return -1;
	}
	if (!value) {
		snprintf(errstr, errsize, "%s: librdkafka property \"%s\" has "
			 "no value", origin, name);
		return -1;
	}
	res = rd_kafka_conf_set(conf, name, value, why, sizeof why);
	if (res == RD_KAFKA_CONF_OK)
		return 0;
	/* librdkafka's text for an unknown property names only the
	 * property; for a bad value it quotes the value, so a secret's is
	 * not repeated. */
	if (res == RD_KAFKA_CONF_INVALID && astron_kafka_prop_secret(name))
		snprintf(errstr, errsize, "%s: invalid value for librdkafka "
			 "property \"%s\" (value not shown)", origin, name);
	else
		snprintf(errstr, errsize, "%s: librdkafka property \"%s\": %s",
			 origin, name, why);
	return -1;
}

/* ASTRON_RDKAFKA_LINGER_MS=5 -> "linger.ms" = "5". */
static int apply_env(rd_kafka_conf_t *conf, char *errstr, size_t errsize)
{
	size_t plen = strlen(ASTRON_RDKAFKA_ENV_PREFIX);

	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[256], var[300];
		size_t n, i;

		if (strncmp(*e, ASTRON_RDKAFKA_ENV_PREFIX, plen) != 0 || !eq)
			continue;
		n = (size_t)(eq - *e) - plen;
		snprintf(var, sizeof var, "%.*s", (int)(eq - *e), *e);
		if (n == 0 || n >= sizeof name) {
			snprintf(errstr, errsize, "%s: not a librdkafka "
				 "property name", var);
			return -1;
		}
		for (i = 0; i < n; i++) {
			char c = (*e)[plen + i];
			name[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
		}
		name[n] = '\0';
		if (set_prop(conf, name, eq + 1, var, errstr, errsize) < 0)
			return -1;
	}
	return 0;
}

/* "mock" or "mock:N" -> N brokers (1..16); 0 when not a mock address (hosts
 * merely named like it, "mock-kafka:9092" or "mock.lan:9092", are real
 * servers); -1 for "mock:" followed by anything but 1..16: the single host
 * name "mock" is reserved for the embedded cluster. */
static int mock_brokers(const char *servers)
{
	long n;

	if (strcmp(servers, "mock") == 0)
		return 3;
	if (strncmp(servers, "mock:", 5) != 0 || strchr(servers + 5, ','))
		return 0;
	return astron_parse_int(servers + 5, 1, 16, &n) == 0 ? (int)n : -1;
}

ASTRON_EXTERN astron_kafka_service_t *
astron_kafka_service_factory_create(const char *servers,
				    const char *const *props, char *errstr,
				    size_t errstr_size)
{
	char scratch[512], nbuf[16], rkerr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	astron_kafka_service_t *svc;
	const char *used;
	int mock;

	if (!errstr || !errstr_size) {
		errstr = scratch;
		errstr_size = sizeof scratch;
	}
	errstr[0] = '\0';
	/* Reading the configuration also decides whether we may log. */
	if (!servers)
		servers = astron_config()->servers;
	else
		(void)astron_config();
	if (!servers || !*servers) {
		snprintf(errstr, errstr_size, "no Kafka bootstrap servers: pass "
			 "them to the factory or set KAFKA_SERVERS");
		goto fail_log;
	}
	mock = mock_brokers(servers);
	if (mock < 0) {
		snprintf(errstr, errstr_size, "servers \"%.64s\": the embedded "
			 "cluster is \"mock\" or \"mock:N\" with N in 1..16",
			 servers);
		goto fail_log;
	}

	conf = rd_kafka_conf_new();
	if (mock) {
		snprintf(nbuf, sizeof nbuf, "%d", mock);
		if (set_prop(conf, "test.mock.num.brokers", nbuf, "KAFKA_SERVERS",
			     errstr, errstr_size) < 0)
			goto fail_conf;
	} else if (set_prop(conf, "bootstrap.servers", servers, "KAFKA_SERVERS",
			    errstr, errstr_size) < 0) {
		goto fail_conf;
	}
	if (set_prop(conf, "client.id", "astron-event", "default", errstr,
		     errstr_size) < 0 ||
	    apply_env(conf, errstr, errstr_size) < 0)
		goto fail_conf;
	for (size_t i = 0; props && props[i]; i += 2) {
		if (set_prop(conf, props[i], props[i + 1], "property", errstr,
			     errstr_size) < 0)
			goto fail_conf;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, astron_kafka_service_on_delivery);
	rd_kafka_conf_set_log_cb(conf, astron_kafka_service_on_log);
	rd_kafka_conf_set_error_cb(conf, astron_kafka_service_on_error);

	svc = astron_kafka_service_new(NULL, NULL);
	if (!svc) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail_conf;
	}
	rd_kafka_conf_set_opaque(conf, svc);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof rkerr);
	if (!rk) {
		snprintf(errstr, errstr_size, "cannot create the producer: %s",
			 rkerr);
		astron_service_teardown(&svc->base);
		goto fail_conf; /* rd_kafka_new frees conf only on success */
	}
	svc->rk = rk;
	used = servers;
	if (mock) {
		rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
		used = mc ? rd_kafka_mock_cluster_bootstraps(mc) : "mock";
	}
	free(svc->servers);
	svc->servers = strdup(used);
	if (!svc->servers) {
		snprintf(errstr, errstr_size, "out of memory");
		astron_service_teardown(&svc->base);
		return NULL;
	}
	return svc;

fail_conf:
	rd_kafka_conf_destroy(conf);
fail_log:
	astron_log(ASTRON_LOG_ERROR, "Kafka producer service: %s", errstr);
	return NULL;
}
