# Criterion suites, one program per feature; `make check` runs them all.
# They link the library statically so they can reach its internals.
if HAVE_CRITERION
astron_test_cflags = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
astron_test_ldadd = lib/libastron-event.la $(CRITERION_LIBS) $(RDKAFKA_LIBS) $(MSGPACK_LIBS)
astron_test_ldflags = $(AM_LDFLAGS) -static

astron_tests = tests/test_format tests/test_encode tests/test_ring \
	tests/test_env tests/test_e2e_mock tests/test_disabled
check_PROGRAMS += $(astron_tests)
TESTS += $(astron_tests)

tests_test_format_SOURCES = tests/test_format.c tests/helpers.h
tests_test_format_CFLAGS = $(astron_test_cflags)
tests_test_format_LDADD = $(astron_test_ldadd)
tests_test_format_LDFLAGS = $(astron_test_ldflags)

tests_test_encode_SOURCES = tests/test_encode.c tests/helpers.h
tests_test_encode_CFLAGS = $(astron_test_cflags)
tests_test_encode_LDADD = $(astron_test_ldadd)
tests_test_encode_LDFLAGS = $(astron_test_ldflags)

tests_test_ring_SOURCES = tests/test_ring.c tests/helpers.h
tests_test_ring_CFLAGS = $(astron_test_cflags)
tests_test_ring_LDADD = $(astron_test_ldadd)
tests_test_ring_LDFLAGS = $(astron_test_ldflags)

tests_test_env_SOURCES = tests/test_env.c tests/helpers.h
tests_test_env_CFLAGS = $(astron_test_cflags)
tests_test_env_LDADD = $(astron_test_ldadd)
tests_test_env_LDFLAGS = $(astron_test_ldflags)

tests_test_e2e_mock_SOURCES = tests/test_e2e_mock.c tests/helpers.h
tests_test_e2e_mock_CFLAGS = $(astron_test_cflags)
tests_test_e2e_mock_LDADD = $(astron_test_ldadd)
tests_test_e2e_mock_LDFLAGS = $(astron_test_ldflags)

tests_test_disabled_SOURCES = tests/test_disabled.c tests/helpers.h
tests_test_disabled_CFLAGS = $(astron_test_cflags)
tests_test_disabled_LDADD = $(astron_test_ldadd)
tests_test_disabled_LDFLAGS = $(astron_test_ldflags)
endif
