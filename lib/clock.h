/*
 * clock.h - the time of a call: cheap to read on the hot path, converted to
 * wall-clock nanoseconds on the flusher.
 *
 * On x86 with an invariant TSC the hot path reads the TSC (one instruction);
 * the flusher maps TSC values to CLOCK_REALTIME with a line fitted through
 * (tsc, realtime) pairs it samples itself (clock.c).  Elsewhere the hot path
 * reads CLOCK_REALTIME directly and the conversion is the identity.
 */
#ifndef ASTRON_CLOCK_H
#define ASTRON_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int astron_clock_tsc; /* 1 when the TSC is used */

static inline uint64_t astron_clock_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
	if (__builtin_expect(astron_clock_tsc, 1))
		return __builtin_ia32_rdtsc();
#endif
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds and milliseconds, for bounded waits. */
int64_t astron_mono_ns(void);
int64_t astron_mono_ms(void);

/* *ts = CLOCK_MONOTONIC + ms, for pthread_cond_timedwait on the library's
 * condition variables (which use CLOCK_MONOTONIC, see lifecycle.c). */
void astron_deadline_ts(struct timespec *ts, int64_t ms);

/* Decide TSC or realtime and take the first reference pair (before the
 * first event is recorded). */
void astron_clock_init(void);

/* Flusher: refine the TSC rate; cheap, call it every loop. */
void astron_clock_tick(void);

/* Flusher: nanoseconds since the Unix epoch for a value of astron_clock_now(). */
int64_t astron_clock_to_ns(uint64_t t);

#endif /* ASTRON_CLOCK_H */
