# Benchmarks: `make` builds them, `make bench` runs them (never part of
# `make check`: numbers are printed, not asserted).
noinst_PROGRAMS += bench/astron-bench
bench_astron_bench_SOURCES = bench/astron-bench.c
bench_astron_bench_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
bench_astron_bench_LDADD = lib/libastron-event.la $(RDKAFKA_LIBS) \
	$(MSGPACK_LIBS) $(PTHREAD_LIBS) -lm

# `bench` is also a directory, so the rule must not look up to date: it
# depends on a target that never exists as a file (the FORCE idiom; automake
# refuses a .PHONY here because another fragment sets it conditionally).
bench: bench/astron-bench$(EXEEXT) bench-always
	bench/astron-bench$(EXEEXT)
bench-always:

# The zero-allocation proof is a test (it asserts a count, not a time).
if HAVE_CRITERION
check_PROGRAMS += tests/test_alloc
TESTS += tests/test_alloc
tests_test_alloc_SOURCES = tests/test_alloc.c
tests_test_alloc_CFLAGS = $(astron_test_cflags)
tests_test_alloc_LDADD = $(astron_test_ldadd)
tests_test_alloc_LDFLAGS = $(astron_test_ldflags)
endif
