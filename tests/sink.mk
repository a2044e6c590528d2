# Local output (issue 6): astron_event_json, the JSON of an event, and
# ASTRON_EVENT_SINK, which writes events with it instead of to Kafka.
# Included from Makefile.am after tests/local.mk, whose astron_test_*
# variables it shares.  tests/test_sink also runs tools/astron-event-cat and
# examples/local_sink, which `make check` builds first (`all`).

# Every suite sets the environment it tests: a sink exported in the shell
# that runs `make check` must not send their events elsewhere.
AM_TESTS_ENVIRONMENT = unset ASTRON_EVENT_SINK;

if HAVE_CRITERION
astron_sink_tests = tests/test_json tests/test_sink
check_PROGRAMS += $(astron_sink_tests)
TESTS += $(astron_sink_tests)

tests_test_json_SOURCES = tests/test_json.c tests/helpers.h
tests_test_json_CFLAGS = $(astron_test_cflags)
tests_test_json_LDADD = $(astron_test_ldadd)
tests_test_json_LDFLAGS = $(astron_test_ldflags)

tests_test_sink_SOURCES = tests/test_sink.c tests/helpers.h
tests_test_sink_CFLAGS = $(astron_test_cflags)
tests_test_sink_LDADD = $(astron_test_ldadd)
tests_test_sink_LDFLAGS = $(astron_test_ldflags)
endif
