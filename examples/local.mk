# Examples: complete programs a user can copy; built by `make`.
noinst_PROGRAMS += examples/quickstart
examples_quickstart_SOURCES = examples/quickstart.c
examples_quickstart_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
examples_quickstart_LDADD = lib/libastron-event.la $(RDKAFKA_LIBS) $(MSGPACK_LIBS)
