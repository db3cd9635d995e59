/* Executes a plan against the kernel and xenstore. online stops at the
 * first failure and undoes, in reverse, every change it made; offline
 * carries on past pieces that are already gone. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"
#include "probe.h"

struct fw;
struct natns;
struct nlr;
struct xsh;

struct apply_ctx {
	const struct plan *plan;
	struct nlr *nl;
	struct fw *fw;
	struct xsh *xs;
	struct natns *nat; /* NAT mode's namespace (natns.h), whether it exists or not */
	const char *hooks_dir;
	unsigned hook_timeout_ms; /* each hook's own bound */
	uint64_t deadline;        /* the whole run's (deadline.h); 0: none */
	int fault_step; /* test builds only: fail before this action; -1 none */

	/* Why the last step failed, when errno's text would not say it. */
	char detail[160];

	/* From probe_vif; apply keeps the link facts current. */
	struct vif_facts f;
};

/* 0, or the error of the step that failed (already logged, with the step
 * named; for online everything done before it has been undone). */
int apply_plan(struct apply_ctx *c);

/* Prints every action as it would be done. */
void apply_print_dry_run(const struct plan *p);

