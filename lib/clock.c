/*
 * clock.c - convert TSC readings to wall-clock time, off the hot path.
 *
 * At init we record a reference pair (tsc0, ns0).  The flusher samples a new
 * pair at most every 250 ms and fits the rate between the first pair and the
 * newest one: the longer the baseline, the smaller the error of the rate
 * (clock_gettime jitter of ~1 us over 1 s is 1 ppm).  An event's time is
 * extrapolated from the newest pair, so a wall-clock step is followed within
 * a quarter second.  Until the baseline is 10 ms long the flusher waits
 * (only once, at startup) rather than stamp events with a poor rate.
 */
#include "clock.h"

#include <stdio.h>
#include <string.h>

int astron_clock_tsc;

static struct {
	uint64_t tsc0, tsc1;
	int64_t ns0, ns1;
	double ns_per_tick;
	int64_t last_sample;
} ck;

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t astron_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t astron_mono_ms(void)
{
	return astron_mono_ns() / 1000000;
}

void astron_deadline_ts(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

#if defined(__x86_64__) || defined(__i386__)
/* The TSC is usable when it ticks at a constant rate through power states. */
static int tsc_invariant(void)
{
	char line[4096];
	int constant = 0, nonstop = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

/* A (tsc, realtime) pair, the TSC taken on both sides of the clock read. */
static void sample(uint64_t *tsc, int64_t *ns)
{
	uint64_t a = __builtin_ia32_rdtsc();
	*ns = realtime_ns();
	uint64_t b = __builtin_ia32_rdtsc();
	*tsc = a + (b - a) / 2;
}
#endif

void astron_clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
	astron_clock_tsc = tsc_invariant();
	if (astron_clock_tsc) {
		sample(&ck.tsc0, &ck.ns0);
		ck.tsc1 = ck.tsc0;
		ck.ns1 = ck.ns0;
		ck.ns_per_tick = 0;
		ck.last_sample = astron_mono_ns();
	}
#endif
}

void astron_clock_tick(void)
{
#if defined(__x86_64__) || defined(__i386__)
	int64_t now;

	if (!astron_clock_tsc)
		return;
	now = astron_mono_ns();
	if (ck.ns_per_tick == 0) {
		/* First rate: wait until the baseline is at least 10 ms. */
		int64_t waited = now - ck.last_sample;
		if (waited < 10000000) {
			struct timespec d = {0, (long)(10000000 - waited)};
			nanosleep(&d, NULL);
		}
	} else if (now - ck.last_sample < 250000000) {
		return;
	}
	sample(&ck.tsc1, &ck.ns1);
	ck.last_sample = astron_mono_ns();
	if (ck.tsc1 > ck.tsc0)
		ck.ns_per_tick = (double)(ck.ns1 - ck.ns0) / (double)(ck.tsc1 - ck.tsc0);
	if (ck.ns_per_tick <= 0)
		ck.ns_per_tick = 1e-9; /* impossible; keep times monotonic */
#endif
}

int64_t astron_clock_to_ns(uint64_t t)
{
	if (!astron_clock_tsc)
		return (int64_t)t;
	if (ck.ns_per_tick == 0)
		astron_clock_tick();
	return ck.ns1 + (int64_t)((double)(int64_t)(t - ck.tsc1) * ck.ns_per_tick);
}
