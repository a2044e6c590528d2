/*
 * local_sink.c - see what the instrumentation emits, without a broker.
 *
 *     KAFKA_ENABLE=1 ASTRON_EVENT_SINK=stderr ./examples/local_sink
 *
 * ASTRON_EVENT_SINK makes the library write each event locally instead of
 * sending it to Kafka: a JSON line on stderr or stdout (or appended to
 * file:PATH), or the raw msgpack value (msgpack:PATH, which
 * `astron-event-cat -f PATH` prints).  The line is what astron-event-cat -k
 * would print for the same Kafka message, "@key" first.  KAFKA_ENABLE stays
 * the master switch: when it is off nothing is emitted and nothing printed.
 *
 * With no environment this program uses KAFKA_ENABLE=1 and
 * ASTRON_EVENT_SINK=stderr; its own summary goes to stdout.
 *
 *     cc local_sink.c $(pkg-config --cflags --libs astron-event)
 */
#include <astron/event.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	astron_event_stats_t st;

	setenv("KAFKA_ENABLE", "1", 0);
	setenv("ASTRON_EVENT_SINK", "stderr", 0);
	if (!astron_event_enabled()) {
		printf("KAFKA_ENABLE is off: nothing is emitted\n");
		return 0;
	}

	ASTRON_EVENT("demo.logins", "user=%s ok=%d latency_ms=%f method=password",
		     "alice", 1, 12.5);
	ASTRON_EVENT_KEYED("demo.spans", "trace-42", "span=%llu dur_us=%d name=%s",
			   7ULL, 1500, "db.query");
	ASTRON_EVENT("demo.logins", "user=%s ok=%d reason=%s", "bob", 0,
		     "bad password");

	astron_event_flush(-1); /* written once this returns */
	astron_event_stats(&st);
	printf("emitted=%llu delivered=%llu failed=%llu dropped=%llu\n",
	       (unsigned long long)st.emitted, (unsigned long long)st.delivered,
	       (unsigned long long)st.failed, (unsigned long long)st.dropped);
	return st.delivered == 3 ? 0 : 1;
}
