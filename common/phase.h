/* Benchmark-only phase timestamps (meson -Dphase_times=true): where one
 * run's wall time goes, for scripts/bench.sh's breakdown. Compiled out of
 * every other build; compiled in, still inert unless $QVT_PHASE_LOG names
 * the file to write. The log holds one line per phase entered, in order:
 * "NAME NS" (CLOCK_MONOTONIC nanoseconds when it began), then "end NS"
 * just before the process exits; a phase entered twice appears twice. */
#pragma once

#include "config.h"

enum phase {
	PHASE_MAIN,      /* main entered: arguments, logging */
	PHASE_STORE,     /* xenstore and QubesDB: connecting, reading */
	PHASE_LOCK,      /* the per-vif lock */
	PHASE_KERNEL,    /* netlink sockets, firewall generation probe and open */
	PHASE_PROBE,     /* what the kernel holds for the vif */
	PHASE_PLAN,
	PHASE_SYSCTL,
	PHASE_FIREWALL,  /* anti-spoofing */
	PHASE_FLOWTABLE, /* nftables: recreating table inet qubes-nat-accel */
	PHASE_NETLINK,   /* rename, link, neighbour, routes, addresses */
	PHASE_CONNTRACK,
	PHASE_HOOKS,
	PHASE_NAT,       /* NAT mode's namespace, veth and table */
	PHASE_REPORT,    /* hotplug-status to xenstore */
	PHASE_LOG,       /* the run's syslog line */
	PHASE_CLEANUP,   /* closing handles (nftables' RCU wait at socket close) */
	_PHASE_MAX,
};

#if ENABLE_PHASE_TIMES
void phase_mark(enum phase p);
/* Marks "end" and writes the log; at most once, at the end of main. */
void phase_finish(void);
#else
static inline void phase_mark(enum phase p)
{
	(void)p;
}
static inline void phase_finish(void)
{
}
#endif
