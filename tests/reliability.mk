# Reliability suites (issue 5): faults injected into the mock cluster,
# fork and shutdown races, hostile input.  Included from Makefile.am after
# tests/local.mk, whose astron_test_* variables they share.
if HAVE_CRITERION
astron_reliability_tests = tests/test_faults tests/test_fork tests/test_hostile
check_PROGRAMS += $(astron_reliability_tests)
TESTS += $(astron_reliability_tests)

tests_test_faults_SOURCES = tests/test_faults.c tests/helpers.h
tests_test_faults_CFLAGS = $(astron_test_cflags)
tests_test_faults_LDADD = $(astron_test_ldadd)
tests_test_faults_LDFLAGS = $(astron_test_ldflags)

tests_test_fork_SOURCES = tests/test_fork.c tests/helpers.h
tests_test_fork_CFLAGS = $(astron_test_cflags)
tests_test_fork_LDADD = $(astron_test_ldadd)
tests_test_fork_LDFLAGS = $(astron_test_ldflags)

tests_test_hostile_SOURCES = tests/test_hostile.c tests/helpers.h
tests_test_hostile_CFLAGS = $(astron_test_cflags)
tests_test_hostile_LDADD = $(astron_test_ldadd)
tests_test_hostile_LDFLAGS = $(astron_test_ldflags)
endif
