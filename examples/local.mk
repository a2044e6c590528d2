# Examples: complete programs a user can copy; built by `make`.
noinst_PROGRAMS += examples/quickstart
examples_quickstart_SOURCES = examples/quickstart.c
examples_quickstart_CFLAGS = $(AM_CFLAGS) $(RDKAFKA_CFLAGS) $(MSGPACK_CFLAGS)
examples_quickstart_LDADD = lib/libastron-event.la $(RDKAFKA_LIBS) $(MSGPACK_LIBS)

noinst_PROGRAMS += examples/tracing_agent
examples_tracing_agent_SOURCES = examples/tracing_agent.c
examples_tracing_agent_LDADD = lib/libastron-event.la $(PTHREAD_LIBS)

noinst_PROGRAMS += examples/producer_service
examples_producer_service_SOURCES = examples/producer_service.c
examples_producer_service_CFLAGS = $(AM_CFLAGS) $(MSGPACK_CFLAGS)
examples_producer_service_LDADD = lib/libastron-event.la $(MSGPACK_LIBS)

noinst_PROGRAMS += examples/local_sink
examples_local_sink_SOURCES = examples/local_sink.c
examples_local_sink_LDADD = lib/libastron-event.la
