/*
 * log.h - the library's diagnostics: one callback, rate-limited.
 */
#ifndef ASTRON_LOG_H
#define ASTRON_LOG_H

#include "astron/event.h"

/* Format a message and hand it to the log callback, unless logging is off
 * (the library is disabled) or the rate limit is exhausted, in which case the
 * message is counted and the next one that passes says how many were
 * suppressed.  Thread safe; never called on the hot path's fast branch. */
void astron_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same, exempt from the rate limit: for the few lines a user must see
 * (the shutdown summary). */
void astron_log_always(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void astron_log_set_enabled(int on);
void astron_log_set_rate(int per_second);

/* In a forked child: the lock may have been held by a thread that does not
 * exist there. */
void astron_log_atfork_child(void);

#endif /* ASTRON_LOG_H */
