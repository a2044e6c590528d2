# tools/: astron-event-cat, the companion that prints events as JSON (with
# the library's astron_event_json), and the tests of what a user touches
# (the tool, the examples, the install).
bin_PROGRAMS += tools/astron-event-cat
tools_astron_event_cat_SOURCES = tools/astron-event-cat.c
tools_astron_event_cat_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
tools_astron_event_cat_LDADD = lib/libastron-event.la $(RDKAFKA_LIBS) \
	$(MSGPACK_LIBS) $(PTHREAD_LIBS)
# The library is linked in statically: the installed tool then runs before
# ldconfig has seen libastron-event.so (or from a DESTDIR), and its JSON is
# always that of the library it was built with.
tools_astron_event_cat_LDFLAGS = $(AM_LDFLAGS) -static

EXTRA_DIST += tools/setup tools/run-tests tests/known-flake

# Tests.  Shell tests run with $(SHELL) and learn the tree's layout from the
# environment; tests/test_cat is a Criterion suite like the others.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = env top_srcdir='$(top_srcdir)' top_builddir='$(top_builddir)' \
	MAKE='$(MAKE)' CC='$(CC)' $(SHELL)

# The examples as a user runs them; `make install` into a scratch DESTDIR
# and an out-of-tree program built with pkg-config against the result.
TESTS += tests/test_examples.sh tests/test_install.sh
EXTRA_DIST += tests/test_examples.sh tests/test_install.sh

if HAVE_CRITERION
check_PROGRAMS += tests/test_cat
TESTS += tests/test_cat
tests_test_cat_SOURCES = tests/test_cat.c tests/helpers.h
tests_test_cat_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
tests_test_cat_LDADD = lib/libastron-event.la $(CRITERION_LIBS) $(RDKAFKA_LIBS) \
	$(MSGPACK_LIBS) -lm
tests_test_cat_LDFLAGS = $(AM_LDFLAGS) -static
endif
