/* A failed online undoes everything it did. The fault switch (compiled in
 * only with -Dfault_injection=true) fails online at step N; for every N
 * until the run succeeds, the state afterwards must equal the state before.
 * Run for both firewall generations: x_tables rules, and the nftables
 * sets' elements with the link's group. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vifenv.h"

#define XB "/local/domain/0/backend/vif/3/0"

static void keys_and_hooks(void)
{
	/* Every kind of step: rename, both families, gateway6, hooks. */
	tl_xs_write(XB "/ip", "10.137.0.5 fd09::5");
	tl_xs_write(XB "/vifname", "vif-work");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	free(tl_sh("mkdir -p /tmp/qvt-rb-hooks && rm -f /tmp/qvt-rb.log && "
		   "printf '#!/bin/sh\\necho \"$1 $4\" >> /tmp/qvt-rb.log\\n' > /tmp/qvt-rb-hooks/log && "
		   "chmod +x /tmp/qvt-rb-hooks/log"));
}

static void full_setup(void)
{
	vifenv_setup();
	keys_and_hooks();
}

static void full_setup_qubesdb(void)
{
	vifenv_setup_qubesdb();
	keys_and_hooks();
}

static void full_setup_nft(void)
{
	vifenv_setup_nft();
	keys_and_hooks();
}

static void full_teardown(void)
{
	free(tl_sh("rm -rf /tmp/qvt-rb-hooks /tmp/qvt-rb.log"));
	vifenv_teardown();
}

static int online_with_fault(int step, char **ret_err)
{
	char args[128];

	snprintf(args, sizeof(args), "--hooks-dir /tmp/qvt-rb-hooks online type_if=vif");
	unsetenv("QVT_FAULT_STEP");
	if (step >= 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", step);
		setenv("QVT_FAULT_STEP", v, 1);
	}
	return vifenv_run("vif3.0", "backend/vif/3/0", args, ret_err);
}

/* The steps of the plan online would carry out now, as --dry-run numbers
 * them (one line " N  what" each). */
static int plan_steps(void)
{
	_cleanup_free_ char *out = NULL;
	int n = 0;

	unsetenv("QVT_FAULT_STEP");
	out = tl_sh("env vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s -n --hooks-dir /tmp/qvt-rb-hooks online type_if=vif",
		    tl_prog("VIF_ROUTE_QUBES"));
	for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		int step, len = 0;

		if (sscanf(l, " %d %n", &step, &len) == 1 && len > 0 && step == n)
			n++;
	}
	ck_assert_msg(n > 0, "no steps in the dry run:\n%s", out);
	return n;
}

/* Runs online failing at step 0, 1, 2, ... each from the same state, until
 * a step number is past the end of the plan, and checks that was the
 * plan's last step (as the dry run from that state numbers them). Returns
 * the steps exercised. */
static int each_step_fails(void)
{
	_cleanup_free_ char *before = vifenv_state(true);
	int planned = plan_steps();
	int step;

	for (step = 0; step < 200; step++) {
		_cleanup_free_ char *err = NULL, *after = NULL, *status = NULL, *msg = NULL;
		char want[64];
		int r;

		tl_xs_rm(XB "/hotplug-status");
		tl_xs_rm(XB "/hotplug-error");
		r = online_with_fault(step, &err);
		if (r == 0)
			break;
		ck_assert_msg(r == 1, "step %d: exit %d", step, r);
		snprintf(want, sizeof(want), "injected fault (step %d)", step);
		ck_assert_msg(strstr(err, want), "step %d: stderr lacks '%s':\n%s", step, want, err);
		status = tl_xs_read(XB "/hotplug-status");
		ck_assert_msg(status && streq(status, "error"), "step %d: hotplug-status %s", step, status);
		msg = tl_xs_read(XB "/hotplug-error");
		ck_assert_msg(msg && strstr(msg, want), "step %d: hotplug-error '%s'", step, msg);

		after = vifenv_state(true);
		{
			char what[64];

			snprintf(what, sizeof(what), "fault at step %d", step);
			vifenv_assert_same(before, after, what);
		}
	}
	unsetenv("QVT_FAULT_STEP");
	ck_assert_msg(step == planned, "online succeeded after %d failed runs, the dry run plans %d steps", step,
		      planned);
	return step;
}

/* x_tables: rename + 13 sysctls + 2 rule sets + purge + 2 neighbours +
 * link + 2 routes + 2 hooks + 2 addresses + proxy_ndp + hotplug-status.
 * nftables: its own count, as the dry run says (each_step_fails checked
 * it); only x_tables' is pinned here. */
static void check_steps(int steps)
{
	if (!vifenv_nft())
		ck_assert_int_eq(steps, 28);
}

START_TEST(test_rollback_from_scratch)
{
	_cleanup_free_ char *log = NULL;
	int steps = each_step_fails();

	check_steps(steps);
	/* The last (successful) run left a configured vif. */
	free(tl_sh("ip link show vif-work >/dev/null"));
	/* Hooks that ran were told "offline" when their address was rolled back. */
	log = tl_sh("cat /tmp/qvt-rb.log");
	ck_assert_msg(strstr(log, "online 10.137.0.5\noffline 10.137.0.5\n"), "hook log:\n%s", log);
}
END_TEST

START_TEST(test_rollback_keeps_what_was_there)
{
	int steps;

	/* An earlier online configured everything: a failing second online must
	 * not take any of it away. */
	unsetenv("QVT_FAULT_STEP");
	ck_assert_int_eq(online_with_fault(-1, NULL), 0);
	steps = each_step_fails();
	check_steps(steps); /* the rename step finds vif-work and does nothing */
}
END_TEST

/* The vif was up before online (a restarted run): it is renamed while down,
 * and a failed online brings it back up under its old name. */
START_TEST(test_rollback_link_was_up)
{
	free(tl_sh("ip link set vif3.0 up"));
	check_steps(each_step_fails());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vif-rollback");
	TCase *tc = tcase_create("each_step");

	tcase_add_checked_fixture(tc, full_setup, full_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_rollback_from_scratch);
	tcase_add_test(tc, test_rollback_keeps_what_was_there);
	tcase_add_test(tc, test_rollback_link_was_up);
	suite_add_tcase(s, tc);

	/* The domain's keys in QubesDB: the same steps, the same undoing. */
	tc = tcase_create("each_step-qubesdb");
	tcase_add_checked_fixture(tc, full_setup_qubesdb, full_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_rollback_from_scratch);
	suite_add_tcase(s, tc);

	/* The nftables generation: elements and group 2 undone as well. */
	tc = tcase_create("each_step-nft");
	tcase_add_checked_fixture(tc, full_setup_nft, full_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_rollback_from_scratch);
	tcase_add_test(tc, test_rollback_keeps_what_was_there);
	tcase_add_test(tc, test_rollback_link_was_up);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
