/*
 * preload.c - what the sanitizer runs need from outside our code; built and
 * LD_PRELOADed into `make check` by tests/sanitize/run (both sets).  It
 * changes nothing in the library or the tests: it routes third-party code
 * through functions the sanitizers understand, and keeps LeakSanitizer out
 * of the one kind of process where it cannot tell a leak from a fork.
 *
 * 1. librdkafka's threads.  Debian's librdkafka uses C11 threads
 *    (thrd_create, mtx_lock, cnd_wait, call_once).  The sanitizers intercept
 *    the pthread functions but not C11 threads: glibc implements them by
 *    calling its pthread internals directly.  TSan then never sees
 *    librdkafka's threads start (their first malloc crashes inside the TSan
 *    runtime) nor its locks (every hand-over between its threads looks like
 *    a race), and LeakSanitizer does not scan their stacks.  See
 *    google/sanitizers#1603, llvm/llvm-project#199585.  In glibc the C11
 *    types are the pthread types under other names, so each function below
 *    is the same call made through the public pthread function.
 *
 * 2. Criterion's sandbox arena (TSan).  Criterion 2.4 (BoxFort) maps a shared
 *    arena at 0x200000000000 + (rand_r() & 0x3fffff) << 24, trying 10 random
 *    spots, and TSan keeps nearly all of that range for its shadow memory,
 *    so test programs abort at start ("Could not initialize inheritable
 *    arena", Snaipe/Criterion#274).  rand_r() called on Criterion's own seed
 *    returns a number that lands in TSan's application window
 *    0x550000000000-0x568000000000 instead (Criterion's probe still skips
 *    pages in use); every other caller gets the real rand_r().
 *
 * 3. Children forked from a multi-threaded process (the fork tests).  In
 *    such a child only the forking thread survives, and what the other
 *    threads held only on their stacks (the flusher's message buffer, the
 *    parent's producer, which the library deliberately lets go of in the
 *    child) looks unreachable: LeakSanitizer would report it as leaked
 *    (google/sanitizers#836).  __lsan_is_turned_off() skips the leak check
 *    in those children only; every other process, the parent included, is
 *    checked, and AddressSanitizer still checks every access in the child.
 *    Also, gcc 12's TSan runtime aborts such a child when a new thread gets
 *    the pthread_t of a parent thread ("dup thread with used id"), which
 *    glibc makes likely by reusing the dead threads' stacks: there,
 *    pthread_create() gives each new thread a stack of its own.  (TSan checks
 *    nothing in such a child anyway: it turns itself off after a
 *    multi-threaded fork.)
 *
 * The pthread_create() wrapper only takes effect when this library comes
 * before the sanitizer runtime in symbol lookup (gcc's shared runtimes);
 * with clang's static runtimes the program's own interceptor is found
 * first, which needs no help.  Everything else works with both.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is pthread_t");
_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a mutex");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a cond");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");

/* ---------------------------------------------------------------- fork */

static int threads_at_fork;  /* in the parent, just before fork() */
static int mt_fork_child;    /* this process was forked with other threads */

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void before_fork(void)
{
	threads_at_fork = count_threads();
}

static void in_child(void)
{
	if (threads_at_fork > 1)
		mt_fork_child = 1;
}

__attribute__((constructor)) static void preload_init(void)
{
	pthread_atfork(before_fork, NULL, in_child);
}

/* LeakSanitizer asks before its check at exit (weak hook in the runtime). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return mt_fork_child;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr,
		   void *(*start)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *,
			   void *(*)(void *), void *);
	pthread_attr_t a;
	size_t size = 8u << 20;
	void *stack;
	int err;

	if (!real)
		real = (int (*)(pthread_t *, const pthread_attr_t *,
				void *(*)(void *), void *))dlsym(RTLD_NEXT,
								 "pthread_create");
	if (!mt_fork_child || attr)
		return real(t, attr, start, arg);
	/* Never freed: such a child is short-lived by nature. */
	if (posix_memalign(&stack, 4096, size))
		return EAGAIN;
	pthread_attr_init(&a);
	pthread_attr_setstack(&a, stack, size);
	err = real(t, &a, start, arg);
	pthread_attr_destroy(&a);
	return err;
}

/* ---------------------------------------------------------------- C11 */

/* glibc's mapping of pthread error numbers to C11 results. */
static int c11_result(int err)
{
	switch (err) {
	case 0: return thrd_success;
	case ENOMEM: return thrd_nomem;
	case ETIMEDOUT: return thrd_timedout;
	case EBUSY: return thrd_busy;
	default: return thrd_error;
	}
}

struct c11_start {
	thrd_start_t func;
	void *arg;
};

static void *c11_trampoline(void *p)
{
	struct c11_start s = *(struct c11_start *)p;

	free(p);
	/* thrd_join() below turns the pointer back into the int result, as
	 * glibc's thrd_exit()/thrd_join() do. */
	return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
	struct c11_start *s = malloc(sizeof *s);
	int err;

	if (!s)
		return thrd_nomem;
	s->func = func;
	s->arg = arg;
	err = pthread_create((pthread_t *)thr, NULL, c11_trampoline, s);
	if (err)
		free(s);
	return c11_result(err);
}

int thrd_join(thrd_t thr, int *res)
{
	void *v;
	int err = pthread_join((pthread_t)thr, &v);

	if (!err && res)
		*res = (int)(intptr_t)v;
	return c11_result(err);
}

int thrd_detach(thrd_t thr)
{
	return c11_result(pthread_detach((pthread_t)thr));
}

int mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE
							    : PTHREAD_MUTEX_NORMAL);
	err = pthread_mutex_init((pthread_mutex_t *)m, &a);
	pthread_mutexattr_destroy(&a);
	return c11_result(err);
}

int mtx_lock(mtx_t *m)
{
	return c11_result(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m)
{
	return c11_result(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
	return c11_result(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

int mtx_unlock(mtx_t *m)
{
	return c11_result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c)
{
	return c11_result(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c)
{
	return c11_result(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c)
{
	return c11_result(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
	return c11_result(pthread_cond_wait((pthread_cond_t *)c,
					    (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
		  const struct timespec *restrict ts)
{
	return c11_result(pthread_cond_timedwait((pthread_cond_t *)c,
						 (pthread_mutex_t *)m, ts));
}

void cnd_destroy(cnd_t *c)
{
	pthread_cond_destroy((pthread_cond_t *)c);
}

void call_once(once_flag *flag, void (*func)(void))
{
	pthread_once((pthread_once_t *)flag, func);
}

/* ---------------------------------------------------------------- Criterion */

#define WINDOW_FIRST 0x350000u /* (0x550000000000 - 0x200000000000) >> 24 */
#define WINDOW_SLOTS 0x17000u  /* up to 0x567000000000: room for the arena */

int rand_r(unsigned int *seed)
{
	static int (*real)(unsigned int *);
	Dl_info info;
	int r;

	if (!real)
		real = (int (*)(unsigned int *))dlsym(RTLD_NEXT, "rand_r");
	r = real(seed);
	/* The seed is a static variable of the library that asks. */
	if (dladdr(seed, &info) && info.dli_fname &&
	    strstr(info.dli_fname, "libcriterion"))
		return (int)(WINDOW_FIRST + (unsigned)r % WINDOW_SLOTS);
	return r;
}
