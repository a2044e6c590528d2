/*
 * sink.c - ASTRON_EVENT_SINK: events written locally instead of to Kafka.
 *
 * A development aid: with ASTRON_EVENT_SINK=stderr (or stdout, file:PATH)
 * each event becomes the JSON line that astron-event-cat -k would print for
 * the same Kafka message; msgpack:PATH appends the raw message values, which
 * astron-event-cat -f decodes.  The flusher builds each message exactly as
 * for Kafka (message.c) and hands it here instead of to the producer, so
 * what a developer sees is what a consumer would get.
 *
 * Every event is one fwrite() on a stream that is either unbuffered (the
 * files opened here, stderr: one write(2) per event) or flushed right after
 * (stdout, whose buffer the program shares).  So an event is counted as
 * delivered only once it reached the kernel, and a file opened with
 * O_APPEND can be shared by processes (a forked child reopens it) without
 * records cutting into each other.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astron/json.h"
#include "log.h"

struct astron_sink {
	FILE *f;
	int json;	/* JSON lines; else raw msgpack values */
	int owned;	/* opened here: closed by astron_sink_close() */
	char name[320]; /* "ASTRON_EVENT_SINK=<value>", for messages */
};

/* Open PATH for appending.  O_NONBLOCK only for the open itself, so that a
 * FIFO without a reader is an error now rather than a flusher stuck in
 * open(2); O_CLOEXEC so that programs the application execs do not inherit
 * the descriptor. */
static FILE *open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
		      0666);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fcntl(fd, F_SETFL, O_APPEND) < 0 || !(f = fdopen(fd, "a"))) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	setvbuf(f, NULL, _IONBF, 0);
	return f;
}

astron_sink_t *astron_sink_open(astron_sink_kind_t kind, const char *path,
				const char *spec)
{
	astron_sink_t *s = calloc(1, sizeof *s);

	if (!s) {
		astron_log(ASTRON_LOG_ERROR, "ASTRON_EVENT_SINK: out of memory; "
			   "events are dropped and counted");
		return NULL;
	}
	snprintf(s->name, sizeof s->name, "ASTRON_EVENT_SINK=%.256s",
		 spec ? spec : "");
	s->json = kind != ASTRON_SINK_MSGPACK;
	switch (kind) {
	case ASTRON_SINK_STDERR:
		s->f = stderr;
		break;
	case ASTRON_SINK_STDOUT:
		s->f = stdout;
		break;
	case ASTRON_SINK_FILE:
	case ASTRON_SINK_MSGPACK:
		s->f = open_append(path);
		s->owned = 1;
		if (!s->f)
			astron_log(ASTRON_LOG_ERROR, "%s: cannot open %.256s: %s; "
				   "events are dropped and counted", s->name,
				   path, strerror(errno));
		break;
	default:
		astron_log(ASTRON_LOG_ERROR, "%s: not a local sink", s->name);
		break;
	}
	if (!s->f) {
		free(s);
		return NULL;
	}
	return s;
}

int astron_sink_write(astron_sink_t *s, const void *key, size_t keylen,
		      const void *value, size_t len)
{
	int rc;

	errno = 0;
	if (s->json)
		rc = astron_event_json(s->f, value, len, key, keylen, ASTRON_JSON_KEY);
	else
		rc = fwrite(value, 1, len, s->f) == len ? ASTRON_OK : ASTRON_EIO;
	if (rc == ASTRON_OK && fflush(s->f) != 0)
		rc = ASTRON_EIO;
	if (rc == ASTRON_OK)
		return 0;
	astron_log(ASTRON_LOG_ERROR, "%s: cannot write an event: %s; it is "
		   "counted as failed", s->name,
		   rc == ASTRON_EIO && errno ? strerror(errno) : astron_strerror(rc));
	/* Let the next event try again (the disk may have room by then). */
	clearerr(s->f);
	return rc;
}

void astron_sink_close(astron_sink_t *s)
{
	if (!s)
		return;
	if (s->owned)
		fclose(s->f);
	else
		fflush(s->f);
	free(s);
}
