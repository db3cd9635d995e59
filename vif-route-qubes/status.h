/* `status`: each item online sets up (c->plan, an online plan), checked
 * against the kernel and xenstore as it is now; printed as text or JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "apply.h"

/* One item: word ok, differs, missing, defeats, stale or skipped; what
 * kind of thing (rule, element, route, ...); the rest of the text line. */
struct status_line {
	char word[9];
	char what[10];
	char text[400];
};

struct status_result {
	struct status_line *lines; /* malloc'd */
	size_t n_lines, allocated;
	unsigned n;     /* items looked at (skipped ones not counted) */
	unsigned wrong; /* differs, missing, defeats, stale */
	bool oom;
};

/* One line per item -- ok, differs (is X, want Y) or missing -- then
 * what defeats the protection (a rule above the anti-spoofing rules that
 * may accept the vif's traffic; a stale rule or element of this vif for
 * an address its client does not have). -errno when the state cannot be
 * read. */
int status_check(struct apply_ctx *c, struct status_result *ret);
void status_result_done(struct status_result *r);

/* The item lines, then "IFNAME: all N items ok" or "IFNAME: W of N items
 * wrong". */
void status_print_text(const char *ifname, const struct status_result *r);

/* One vif for --json; NULL strings and domid -1 for what is not known. */
struct status_vif {
	const char *vif;
	const char *ifname;
	const char *xenbus_path;
	int domid;
	const char *firewall;
	const struct status_result *result; /* NULL: could not be checked */
	const char *error;                  /* then why */
};

/* The vif as one JSON object (no newline); fields in vif-route-qubes(8). */
void status_print_json(const struct status_vif *v);
