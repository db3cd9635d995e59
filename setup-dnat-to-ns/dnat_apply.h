/* Makes PR-QBS hold exactly the plan: one transaction on the nat table,
 * under the xtables lock, committed only when something differs. */
#pragma once

#include <stdbool.h>

#include "dnat_plan.h"

enum dnat_result {
	DNAT_UNCHANGED, /* already right: nothing committed */
	DNAT_CHANGED,
};

/* dry_run: compare only, never commit (*ret says what a real run would do).
 * 0 or -errno. */
int dnat_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret);
