/* Logging to stderr (manual runs) and syslog (hotplug runs). The one
 * process-wide state of the project: the tool name, the verbosity, and the
 * last error message, which becomes hotplug-error. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "util.h"

void log_open(const char *ident, bool use_syslog);
/* Closes syslog's socket (glibc keeps it open once used): no descriptor
 * of ours is left open when the program ends. */
void log_close(void);
void log_set_max_level(int level); /* LOG_INFO by default, LOG_DEBUG with -v */
int log_get_max_level(void);

/* Put before every message from now on, e.g. "online vif3.0: ", so each
 * line (stderr, syslog, hotplug-error) says which run it belongs to. */
void log_set_prefix(const char *prefix);

/* The one line a run leaves when all went well: to syslog at LOG_INFO,
 * to stderr only with -v (a quiet success for the toolstack's log). */
void log_note(const char *fmt, ...) _printf_(1, 2);

/* Logs at level; returns r (so "return log_..." works). */
int log_full(int level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)
/* Appends ": strerror(-r)" and returns r (negative). */
#define log_warning_errno(r, ...) log_full(LOG_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...) log_full(LOG_ERR, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_full(LOG_DEBUG, (r), __VA_ARGS__)

/* Text of the last error logged, or NULL: what hotplug-error reports. The
 * failing step logs last (rollback trouble is logged as warnings). */
const char *log_last_error(void);
/* While on, errors are logged as warnings (and not kept as the last
 * error): for input whose failure the caller tolerates. */
void log_demote_errors(bool on);
/* The same without the log prefix ("online vif3.0: "), for output that
 * already says which vif it is about. */
const char *log_last_error_unprefixed(void);
void log_reset_last_error(void);

/* For an errno whose strerror() text says too little (ELIBACC: which
 * library, and why not), the code that returns it leaves the text to log
 * instead; every later message logged with -e shows it. One errno at a
 * time; NULL forgets it. Not logging: the caller still decides. */
void log_set_errno_text(int r, const char *text);

/* Errors built from bad input carry no errno text: pass this as r to get
 * the message alone, and the function still returns -EINVAL. */
#define SYNTHETIC_ERRNO(e) (-(1 << 24) - (e))
int errno_from_synthetic(int r);
