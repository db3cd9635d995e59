#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *log_ident = "qubes-vif-tools";
static bool log_syslog;
static int log_max_level = LOG_INFO;
static char last_error[512];
static size_t last_error_prefix_len; /* the prefix it starts with */
static bool demote_errors;
static char log_prefix[64];
static int errno_text_errno;
static char errno_text[256];

void log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

void log_demote_errors(bool on)
{
	demote_errors = on;
}

void log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
}

void log_open(const char *ident, bool use_syslog)
{
	log_ident = ident;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_set_max_level(int level)
{
	log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

void log_set_errno_text(int r, const char *text)
{
	errno_text_errno = text ? -r : 0;
	snprintf(errno_text, sizeof(errno_text), "%s", text ? text : "");
}

static const char *errno_string(int e)
{
	return e == errno_text_errno && errno_text[0] ? errno_text : strerror(e);
}

int errno_from_synthetic(int r)
{
	if (r <= -(1 << 24))
		return -(1 << 24) - r;
	return -r;
}

int log_full(int level, int r, const char *fmt, ...)
{
	char msg[512];
	int saved_errno = errno;
	int e = r < 0 ? errno_from_synthetic(r) : 0;
	bool synthetic = r <= -(1 << 24);
	va_list ap;
	size_t n;

	if (demote_errors && level <= LOG_ERR)
		level = LOG_WARNING;
	if (level > log_max_level && level > LOG_ERR)
		return r < 0 ? -e : r;

	n = (size_t)snprintf(msg, sizeof(msg), "%s", log_prefix);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (r < 0 && !synthetic && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", errno_string(e));
	/* hotplug-error and syslog get one printable line, whatever bytes an
	 * untrusted value brought in. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	if (level <= LOG_ERR) {
		snprintf(last_error, sizeof(last_error), "%s", msg);
		last_error_prefix_len = strlen(log_prefix);
	}

	if (level <= log_max_level) {
		fprintf(stderr, "%s: %s%s\n", log_ident,
			level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "", msg);
		if (log_syslog)
			syslog(level, "%s", msg);
	}
	errno = saved_errno;
	return r < 0 ? -e : r;
}

void log_note(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t n;

	n = (size_t)snprintf(msg, sizeof(msg), "%s", log_prefix);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_max_level >= LOG_DEBUG)
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	if (log_syslog)
		syslog(LOG_INFO, "%s", msg);
}

const char *log_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

const char *log_last_error_unprefixed(void)
{
	size_t n = strlen(last_error);

	if (!n)
		return NULL;
	return last_error + (last_error_prefix_len < n ? last_error_prefix_len : n);
}

void log_reset_last_error(void)
{
	last_error[0] = 0;
}
