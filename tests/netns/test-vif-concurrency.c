/* Xen runs hotplug scripts in parallel, and iptables or nft may run beside
 * us: no rule or set element may be lost or duplicated, ours or anybody
 * else's. Run for both firewall generations. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vifenv.h"

#define N_VIFS 32
#define FIRST_DOMID 10

/* x_tables: iptables-legacy running beside us until /tmp/qvt-stop exists:
 * each iteration adds and deletes a throw-away rule, and appends one rule
 * of its own (198.NET.x.y, unique) that must still be there at the end.
 * Prints the number of iterations. */
#define NEIGHBOUR_LOOP                                                                                \
	"rm -f /tmp/qvt-stop; "                                                                          \
	"( n=0; while [ ! -e /tmp/qvt-stop ]; do "                                                       \
	"iptables-legacy -w -t raw -A PREROUTING -s 192.0.2.1 -j DROP || exit 1; "                      \
	"iptables-legacy -w -t raw -D PREROUTING -s 192.0.2.1 -j DROP || exit 1; "                      \
	"iptables-legacy -w -t raw -A PREROUTING -s 198.%d.$((n / 250)).$((n %% 250 + 1)) -j DROP || exit 1; " \
	"n=$((n+1)); done; echo $n ) > /tmp/qvt-loops & "

/* nftables: the same with nft on the sets, for addresses of no vif: a
 * throw-away element of downstream (192.0.2.1) added and deleted, and
 * 198.NET.x.y added to downstream and, for an interface that is no vif,
 * to allowed (one batch): both must still be there at the end. */
#define NEIGHBOUR_LOOP_NFT                                                                            \
	"rm -f /tmp/qvt-stop; "                                                                          \
	"( n=0; while [ ! -e /tmp/qvt-stop ]; do "                                                       \
	"nft 'add element ip qubes downstream { 192.0.2.1 }' || exit 1; "                              \
	"nft 'delete element ip qubes downstream { 192.0.2.1 }' || exit 1; "                           \
	"a=198.%d.$((n / 250)).$((n %% 250 + 1)); "                                                      \
	"nft \"add element ip qubes downstream { $a }; add element ip qubes allowed { \\\"eth9\\\" . $a }\" " \
	"|| exit 1; "                                                                                    \
	"n=$((n+1)); done; echo $n ) > /tmp/qvt-loops & "

/* Runs cmd for all vifs at once with the loop alongside; returns the
 * loop's iteration count. */
static int run_all(const char *cmd, int net)
{
	_cleanup_free_ char *out = NULL, *loops = NULL;
	char loop[1024];
	int r, n;

	if (vifenv_nft())
		snprintf(loop, sizeof(loop), NEIGHBOUR_LOOP_NFT, net);
	else
		snprintf(loop, sizeof(loop), NEIGHBOUR_LOOP, net);
	r = tl_run(&out,
		   "%s"
		   "sleep 0.05; pids=; "
		   "for d in $(seq %d %d); do "
		   "( env vif=vif$d.0 XENBUS_PATH=backend/vif/$d/0 %s %s type_if=vif 2>/tmp/qvt-err.$d || "
		   "{ echo \"vif$d.0 failed: $(cat /tmp/qvt-err.$d)\"; } ) & pids=\"$pids $!\"; done; "
		   "wait $pids; touch /tmp/qvt-stop; wait; rm -f /tmp/qvt-err.*",
		   loop, FIRST_DOMID, FIRST_DOMID + N_VIFS - 1, tl_prog("VIF_ROUTE_QUBES"), cmd);
	ck_assert_int_eq(r, 0);
	ck_assert_msg(streq(out, ""), "some runs failed:\n%s", out);
	loops = tl_sh("cat /tmp/qvt-loops");
	n = atoi(loops);
	ck_assert_msg(n > 0, "the %s loop never ran alongside", vifenv_nft() ? "nft" : "iptables");
	return n;
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* How often line (ending in '\n') occurs in text as a whole line. */
static int count_whole(const char *text, const char *line)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, line)); p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

static void vif_ip(int d, char *buf, size_t len)
{
	snprintf(buf, len, "10.137.1.%d fd09::1:%x", d, d);
}

/* Every vif's link is in group want ("2", "default"). */
static void check_groups(const char *want)
{
	_cleanup_free_ char *out =
		tl_sh("ip -o -d link show | awk '$2 ~ /^vif/ { for (i = 3; i < NF; i++) if ($i == \"group\") print $2, $(i + 1) }'");

	for (int d = FIRST_DOMID; d < FIRST_DOMID + N_VIFS; d++) {
		char line[64];

		snprintf(line, sizeof(line), "vif%d.0@c%d: %s\n", d, d, want);
		ck_assert_msg(count_whole(out, line) == 1, "vif%d.0 is not in group %s:\n%s", d, want, out);
	}
}

/* After online of every vif: each one's protection, exactly once, beside
 * the one entry there was before and all the loop added (loops, in every
 * round so far); no throw-away entry left. */
static void check_all_online(int loops)
{
	_cleanup_free_ char *lines = vifenv_antispoof_lines();
	bool nft = vifenv_nft();

	ck_assert_int_eq(count_lines(lines, "\n"), 4 * N_VIFS + 1 + (nft ? 2 : 1) * loops);
	ck_assert_int_eq(count_lines(lines, "192.0.2.1/"), 0);
	ck_assert_int_eq(count_lines(lines, "192.0.2.1\n"), 0);
	ck_assert_int_eq(count_whole(lines, nft ? "ip qubes downstream 192.0.2.2\n"
						: "iptables -A PREROUTING -s 192.0.2.2/32 -j DROP\n"),
			 1);
	for (int d = FIRST_DOMID; d < FIRST_DOMID + N_VIFS; d++) {
		_cleanup_free_ char *want = NULL;
		char vif[32], ip[64], path[96], *save = NULL;
		_cleanup_free_ char *st = NULL;

		snprintf(vif, sizeof(vif), "vif%d.0", d);
		vif_ip(d, ip, sizeof(ip));
		want = vifenv_antispoof_want(vif, ip);
		for (char *l = strtok_r(want, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char line[256];

			snprintf(line, sizeof(line), "%s\n", l);
			ck_assert_msg(count_whole(lines, line) == 1, "%s not present exactly once", l);
		}
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%d/0/hotplug-status", d);
		st = tl_xs_read(path);
		ck_assert_msg(st && streq(st, "connected"), "%s is %s", path, st ? st : "absent");
	}
	check_groups(nft ? "2" : "default");
}

/* After offline of every vif: only the others' entries, every one once. */
static void check_all_offline(int loops)
{
	_cleanup_free_ char *lines = vifenv_antispoof_lines();
	bool nft = vifenv_nft();

	ck_assert_int_eq(count_lines(lines, "\n"), 1 + (nft ? 2 : 1) * loops);
	ck_assert_int_eq(count_lines(lines, "vif"), 0);
	ck_assert_int_eq(count_lines(lines, "ip6"), 0);
	ck_assert_int_eq(count_lines(lines, "192.0.2.1/"), 0);
	ck_assert_int_eq(count_lines(lines, "192.0.2.1\n"), 0);
	check_groups("default");
}

/* How often the loop's entries of net are there: for x_tables its rules,
 * for nftables its downstream elements (and as often its allowed ones). */
static int loop_entries(int net)
{
	_cleanup_free_ char *lines = vifenv_antispoof_lines();
	char needle[64];

	if (!vifenv_nft()) {
		snprintf(needle, sizeof(needle), "iptables -A PREROUTING -s 198.%d.", net);
		return count_lines(lines, needle);
	}
	snprintf(needle, sizeof(needle), "ip qubes allowed \"eth9\" . 198.%d.", net);
	{
		int allowed = count_lines(lines, needle);

		snprintf(needle, sizeof(needle), "ip qubes downstream 198.%d.", net);
		ck_assert_int_eq(count_lines(lines, needle), allowed);
	}
	return count_lines(lines, needle);
}

/* The vifs' part of the state: their protection (the loop's entries left
 * out), links with their groups, addresses, routes, neighbours. */
static char *vifs_state(void)
{
	_cleanup_free_ char *lines = vifenv_antispoof_lines(), *rest = NULL;
	char *out, *save = NULL;
	size_t len = 0;

	rest = tl_sh("ip -o -d link show | sed -E 's/ qdisc [a-z_]+//'; ip -4 addr show; ip -4 route show; "
		     "ip -6 route show | grep -v '^fe80' || true; ip neigh show nud permanent; ip -6 neigh show nud permanent");
	out = calloc(1, strlen(lines) + strlen(rest) + 1);
	ck_assert_ptr_nonnull(out);
	for (char *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, "198.") || strstr(l, "192.0.2."))
			continue;
		len += sprintf(out + len, "%s\n", l);
	}
	strcpy(out + len, rest);
	return out;
}

START_TEST(test_parallel_online_offline)
{
	_cleanup_free_ char *once = NULL, *twice = NULL;
	int n1, n1b, n2;

	for (int i = 0; i < N_VIFS; i++) {
		char ip[64], mac[32];

		vif_ip(FIRST_DOMID + i, ip, sizeof(ip));
		snprintf(mac, sizeof(mac), "00:16:3e:00:01:%02x", FIRST_DOMID + i);
		vifenv_add_vif(FIRST_DOMID + i, ip, mac);
	}
	if (vifenv_nft())
		free(tl_sh("nft 'add element ip qubes downstream { 192.0.2.2 }'"));
	else
		free(tl_sh("iptables-legacy -t raw -A PREROUTING -s 192.0.2.2 -j DROP"));

	n1 = run_all("online", 18);
	check_all_online(n1);
	ck_assert_int_eq(loop_entries(18), n1);
	once = vifs_state();

	/* Online again, all at once: the same as once. */
	n1b = run_all("online", 20);
	check_all_online(n1 + n1b);
	ck_assert_int_eq(loop_entries(20), n1b);
	twice = vifs_state();
	vifenv_assert_same(once, twice, "online twice, 32 vifs in parallel");

	n2 = run_all("offline", 19);
	/* Only the neighbours' entries are left, every one of them, once. */
	check_all_offline(n1 + n1b + n2);
	ck_assert_int_eq(loop_entries(18), n1);
	ck_assert_int_eq(loop_entries(20), n1b);
	ck_assert_int_eq(loop_entries(19), n2);
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

	/* As on Qubes R4.1: the domain's keys in QubesDB, read by 32 runs at
	 * once; x_tables. */
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

	/* Qubes R4.2+: the nftables sets, edited by 32 runs and nft at once. */
	tc = tcase_create("parallel-nft");
	tcase_add_checked_fixture(tc, vifenv_setup_nft, vifenv_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_parallel_online_offline);
	tcase_add_test(tc, test_online_offline_serialised);
	tcase_add_test(tc, test_online_offline_races);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
