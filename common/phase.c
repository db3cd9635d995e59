/* Benchmark-only (phase.h): the timestamps stay in memory during the run
 * and are written once at its end, so the run pays a clock read per phase
 * and nothing else until then. */
#include "phase.h"

#if ENABLE_PHASE_TIMES
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_MARKS 256

static const char *const names[_PHASE_MAX] = {
	[PHASE_MAIN] = "main",         [PHASE_STORE] = "store",       [PHASE_LOCK] = "lock",
	[PHASE_KERNEL] = "kernel-open", [PHASE_PROBE] = "probe",       [PHASE_PLAN] = "plan",
	[PHASE_SYSCTL] = "sysctl",     [PHASE_FIREWALL] = "firewall", [PHASE_FLOWTABLE] = "flowtable", [PHASE_NETLINK] = "netlink",
	[PHASE_CONNTRACK] = "conntrack", [PHASE_HOOKS] = "hooks",     [PHASE_NAT] = "nat",
	[PHASE_REPORT] = "report",     [PHASE_LOG] = "log",           [PHASE_CLEANUP] = "cleanup",
};

static struct {
	int on; /* 0 undecided, 1 recording, -1 off */
	unsigned n;
	bool overflow;
	struct {
		enum phase p;
		uint64_t ns;
	} m[MAX_MARKS];
} marks;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void phase_mark(enum phase p)
{
	uint64_t t = now_ns();

	if (marks.on == 0) {
		const char *path = getenv("QVT_PHASE_LOG");

		marks.on = path && *path ? 1 : -1;
	}
	if (marks.on < 0 || p >= _PHASE_MAX)
		return;
	/* The same phase again: it simply goes on. */
	if (marks.n > 0 && marks.m[marks.n - 1].p == p)
		return;
	if (marks.n == MAX_MARKS) {
		marks.overflow = true;
		return;
	}
	marks.m[marks.n].p = p;
	marks.m[marks.n].ns = t;
	marks.n++;
}

void phase_finish(void)
{
	uint64_t end = now_ns();
	const char *path = getenv("QVT_PHASE_LOG");
	FILE *f;

	if (marks.on <= 0 || !path || !*path)
		return;
	marks.on = -1;
	f = fopen(path, "we");
	if (!f)
		return;
	for (unsigned i = 0; i < marks.n; i++)
		fprintf(f, "%s %llu\n", names[marks.m[i].p], (unsigned long long)marks.m[i].ns);
	/* A log cut short would make the bench attribute time wrongly. */
	fprintf(f, marks.overflow ? "overflow %llu\n" : "end %llu\n", (unsigned long long)end);
	fclose(f);
}
#endif
