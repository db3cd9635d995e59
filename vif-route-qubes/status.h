/* `status`: each item online sets up (c->plan, an online plan), checked
 * against the kernel and xenstore as it is now. */
#pragma once

#include "apply.h"

/* Prints one line per item -- ok, differs (is X, want Y) or missing --
 * then what defeats the protection (a rule above the anti-spoofing rules
 * that may accept the vif's traffic; a stale rule of this vif for an
 * address its client does not have), and a summary. Returns the number of
 * items that are not right, or -errno when the state cannot be read. */
int status_report(struct apply_ctx *c);
