# Integration tests against a real Apache Kafka broker (tests/kafka/kafka-broker).
# tests/test_kafka is built by `make check` but not run there: it needs the
# broker that tests/kafka/run-tests starts (tools/run-tests calls it after
# `make check`; `make check-kafka` runs it alone).  Run without the harness,
# every test skips.
if HAVE_CRITERION
check_PROGRAMS += tests/test_kafka

tests_test_kafka_SOURCES = tests/test_kafka.c tests/helpers.h
tests_test_kafka_CFLAGS = $(astron_test_cflags)
tests_test_kafka_LDADD = $(astron_test_ldadd)
tests_test_kafka_LDFLAGS = $(astron_test_ldflags)

check-kafka: tests/test_kafka
	ASTRON_TEST_KAFKA_BIN=$(abs_top_builddir)/tests/test_kafka \
		$(top_srcdir)/tests/kafka/run-tests
.PHONY: check-kafka
endif

EXTRA_DIST += tests/kafka/kafka-broker tests/kafka/run-tests tests/kafka/pom.xml \
	tests/kafka/log4j.properties tests/kafka/tools-log4j.properties
CLEANFILES += tests/test_kafka.log
