/* Xen runs hotplug scripts in parallel, and iptables may run beside us:
 * no rule may be lost or duplicated, ours or anybody else's. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vifenv.h"

#define N_VIFS 32
#define FIRST_DOMID 10

/* iptables-legacy running beside us until /tmp/qvt-stop exists: each
 * iteration adds and deletes a throw-away rule, and appends one rule of its
 * own (198.NET.x.y, unique) that must still be there at the end. Prints the
 * number of iterations. */
#define NEIGHBOUR_LOOP                                                                                \
	"rm -f /tmp/qvt-stop; "                                                                          \
	"( n=0; while [ ! -e /tmp/qvt-stop ]; do "                                                       \
	"iptables-legacy -w -t raw -A PREROUTING -s 192.0.2.1 -j DROP || exit 1; "                      \
	"iptables-legacy -w -t raw -D PREROUTING -s 192.0.2.1 -j DROP || exit 1; "                      \
	"iptables-legacy -w -t raw -A PREROUTING -s 198.%d.$((n / 250)).$((n %% 250 + 1)) -j DROP || exit 1; " \
	"n=$((n+1)); done; echo $n ) > /tmp/qvt-loops & "

/* Runs cmd for all vifs at once with the loop alongside; returns the
 * loop's iteration count. */
static int run_all(const char *cmd, int net)
{
	_cleanup_free_ char *out = NULL, *loops = NULL;
	int r, n;

	r = tl_run(&out,
		   NEIGHBOUR_LOOP
		   "sleep 0.05; pids=; "
		   "for d in $(seq %d %d); do "
		   "( env vif=vif$d.0 XENBUS_PATH=backend/vif/$d/0 %s %s type_if=vif 2>/tmp/qvt-err.$d || "
		   "{ echo \"vif$d.0 failed: $(cat /tmp/qvt-err.$d)\"; } ) & pids=\"$pids $!\"; done; "
		   "wait $pids; touch /tmp/qvt-stop; wait; rm -f /tmp/qvt-err.*",
		   net, FIRST_DOMID, FIRST_DOMID + N_VIFS - 1, tl_prog("VIF_ROUTE_QUBES"), cmd);
	ck_assert_int_eq(r, 0);
	ck_assert_msg(streq(out, ""), "some runs failed:\n%s", out);
	loops = tl_sh("cat /tmp/qvt-loops");
	n = atoi(loops);
	ck_assert_msg(n > 0, "the iptables loop never ran alongside");
	return n;
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(test_parallel_online_offline)
{
	_cleanup_free_ char *v4 = NULL, *v6 = NULL, *v4_after = NULL, *v6_after = NULL;
	int n1, n2;

	for (int i = 0; i < N_VIFS; i++) {
		char ip[32], mac[32];

		snprintf(ip, sizeof(ip), "10.137.1.%d fd09::1:%x", FIRST_DOMID + i, FIRST_DOMID + i);
		snprintf(mac, sizeof(mac), "00:16:3e:00:01:%02x", FIRST_DOMID + i);
		vifenv_add_vif(FIRST_DOMID + i, ip, mac);
	}
	free(tl_sh("iptables-legacy -t raw -A PREROUTING -s 192.0.2.2 -j DROP"));

	n1 = run_all("online", 18);

	v4 = vifenv_raw_rules(false);
	v6 = vifenv_raw_rules(true);
	ck_assert_int_eq(count_lines(v4, "-A PREROUTING"), 2 * N_VIFS + 1 + n1);
	ck_assert_int_eq(count_lines(v6, "-A PREROUTING"), 2 * N_VIFS);
	ck_assert_int_eq(count_lines(v4, "-s 192.0.2.1/32"), 0);
	ck_assert_int_eq(count_lines(v4, "-A PREROUTING -s 192.0.2.2/32 -j DROP\n"), 1);
	ck_assert_int_eq(count_lines(v4, "-A PREROUTING -s 198.18."), n1);
	for (int i = 0; i < N_VIFS; i++) {
		int d = FIRST_DOMID + i;
		char rule[160], path[96];
		_cleanup_free_ char *st = NULL;

		snprintf(rule, sizeof(rule), "-A PREROUTING ! -s 10.137.1.%d/32 -i vif%d.0 -j DROP\n", d, d);
		ck_assert_msg(count_lines(v4, rule) == 1, "%s not present exactly once", rule);
		snprintf(rule, sizeof(rule), "-A PREROUTING -s 10.137.1.%d/32 ! -i vif+ -j DROP\n", d);
		ck_assert_msg(count_lines(v4, rule) == 1, "%s not present exactly once", rule);
		snprintf(rule, sizeof(rule), "-A PREROUTING ! -s fd09::1:%x/128 -i vif%d.0 -j DROP\n", d, d);
		ck_assert_msg(count_lines(v6, rule) == 1, "%s not present exactly once", rule);
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%d/0/hotplug-status", d);
		st = tl_xs_read(path);
		ck_assert_msg(st && streq(st, "connected"), "%s is %s", path, st ? st : "absent");
	}

	n2 = run_all("offline", 19);
	v4_after = vifenv_raw_rules(false);
	v6_after = vifenv_raw_rules(true);
	/* Only the neighbours' rules are left, every one of them, once. */
	ck_assert_int_eq(count_lines(v4_after, "-A PREROUTING"), 1 + n1 + n2);
	ck_assert_int_eq(count_lines(v4_after, "-A PREROUTING -s 192.0.2.2/32 -j DROP\n"), 1);
	ck_assert_int_eq(count_lines(v4_after, "-A PREROUTING -s 198.18."), n1);
	ck_assert_int_eq(count_lines(v4_after, "-A PREROUTING -s 198.19."), n2);
	ck_assert_int_eq(count_lines(v4_after, "vif"), 0);
	ck_assert_str_eq(v6_after, "");
	free(tl_sh("rm -f /tmp/qvt-stop /tmp/qvt-loops"));
}
END_TEST

/* online and offline of one vif never interleave: offline starting while
 * online sits in a hook waits for it, and the end state is offline's. */
START_TEST(test_online_offline_serialised)
{
	_cleanup_free_ char *before = NULL, *after = NULL, *out = NULL;

	tl_xs_write("/local/domain/0/backend/vif/3/0/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	free(tl_sh("mkdir -p /tmp/qvt-hooks && printf '#!/bin/sh\\n[ \"$1\" = online ] && sleep 0.6\\nexit 0\\n' "
		   "> /tmp/qvt-hooks/slow && chmod +x /tmp/qvt-hooks/slow"));
	before = vifenv_state(false);
	ck_assert_int_eq(tl_run(&out, "export vif=vif3.0 XENBUS_PATH=backend/vif/3/0; "
				"%1$s --hooks-dir /tmp/qvt-hooks online type_if=vif & "
				"sleep 0.3; %1$s --hooks-dir /tmp/qvt-hooks offline type_if=vif; echo offline=$?; "
				"wait $!; echo online=$?",
				tl_prog("VIF_ROUTE_QUBES")),
			 0);
	ck_assert_str_eq(out, "offline=0\nonline=0\n");
	after = vifenv_state(false);
	vifenv_assert_same(before, after, "offline started while online ran");
}
END_TEST

/* Many races of online against offline of the same vif: each ends in one of
 * the two clean states, never a mix. */
START_TEST(test_online_offline_races)
{
	_cleanup_free_ char *off_state = NULL, *on_state = NULL;
	int n_on = 0, n_off = 0;

	tl_xs_write("/local/domain/0/backend/vif/3/0/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	off_state = vifenv_state(false);
	ck_assert_int_eq(vifenv_run_dom(3, "online type_if=vif", NULL), 0);
	on_state = vifenv_state(false);
	ck_assert_int_eq(vifenv_run_dom(3, "offline type_if=vif", NULL), 0);

	for (int i = 0; i < 40; i++) {
		_cleanup_free_ char *state = NULL;

		/* Who starts first varies; so does who wins. */
		free(tl_sh("export vif=vif3.0 XENBUS_PATH=backend/vif/3/0; "
			   "%1$s online type_if=vif & p=$!; sleep 0.00%2$d; %1$s offline type_if=vif; wait $p; "
			   "true",
			   tl_prog("VIF_ROUTE_QUBES"), i % 4));
		state = vifenv_state(false);
		if (streq(state, on_state))
			n_on++;
		else if (streq(state, off_state))
			n_off++;
		else
			vifenv_assert_same(off_state, state, "a race of online and offline");
		free(tl_sh("env vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s offline type_if=vif",
			   tl_prog("VIF_ROUTE_QUBES")));
	}
	ck_assert_int_eq(n_on + n_off, 40);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vif-concurrency");
	TCase *tc = tcase_create("parallel");

	/* As on Qubes: the domain's keys in QubesDB, read by 32 runs at once. */
	tcase_add_checked_fixture(tc, vifenv_setup_qubesdb, vifenv_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_parallel_online_offline);
	tcase_add_test(tc, test_online_offline_serialised);
	tcase_add_test(tc, test_online_offline_races);
	suite_add_tcase(s, tc);

	/* And on plain Xen, the keys in xenstore beside the toolstack's. */
	tc = tcase_create("parallel-xenstore");
	tcase_add_checked_fixture(tc, vifenv_setup, vifenv_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_parallel_online_offline);
	tcase_add_test(tc, test_online_offline_serialised);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
