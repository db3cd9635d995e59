/* vif-route-qubes status --all and --json: the real binary over several
 * vifs in a private netns -- online, offline, in NAT mode, with keys it
 * cannot accept -- in both firewall generations (argv[1]: xtables or
 * nftables). The JSON is parsed and turned back into the text output by
 * tests/lib/status-json.py, which also checks it against the documented
 * schema: both outputs must say the same, byte for byte. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vifenv.h"

#define ONLINE "online type_if=vif"
#define BACKEND "/local/domain/0/backend/vif"

static bool nft_gen;

static void setup(void)
{
	if (nft_gen)
		vifenv_setup_nft();
	else
		vifenv_setup_qubesdb();
}

static void teardown(void)
{
	(void)tl_run(NULL, "ip netns del vif4.0-nat 2>/dev/null; true");
	vifenv_teardown();
}

/* check cuts long messages: the output goes to stderr. */
static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fprintf(stderr, "--- output:\n%s---\n", haystack);
	ck_assert_msg(strstr(haystack, needle), "'%s' not found in the output (on stderr)", needle);
}

static void assert_ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	if (n < k || !streq(s + n - k, tail))
		fprintf(stderr, "--- output:\n%s---\n", s);
	ck_assert_msg(n >= k && streq(s + n - k, tail), "the output (on stderr) does not end with '%s'", tail);
}

/* Runs "vif-route-qubes ARGS" by hand (no vif, no XENBUS_PATH); *ret_out
 * gets stdout. */
static int status(const char *args, char **ret_out)
{
	return tl_run(ret_out, "env -u vif -u XENBUS_PATH %s %s 2>/dev/null", tl_prog("VIF_ROUTE_QUBES"), args);
}

/* The same with --json, turned back into text by status-json.py ("one" or
 * "all"), which fails on JSON that breaks the schema. */
static int status_json(const char *args, const char *mode, char **ret_text, char **ret_json)
{
	_cleanup_free_ char *json = NULL;
	int r, k;

	r = status(args, &json);
	ck_assert_msg(r >= 0, "%s: %d", args, r);
	tl_write_file("/tmp/qvt-status.json", json);
	k = tl_run(ret_text, "python3 '%s/tests/lib/status-json.py' %s </tmp/qvt-status.json",
		   tl_prog("MESON_SOURCE_DIR"), mode);
	if (k != 0)
		fprintf(stderr, "--- JSON:\n%s---\n", json);
	ck_assert_msg(k == 0, "%s: status-json.py refused the JSON (on stderr)", args);
	for (const char *p = json; *p; p++)
		ck_assert_msg((unsigned char)*p < 0x80, "%s: JSON not ASCII at byte %zu", args, (size_t)(p - json));
	if (ret_json) {
		*ret_json = json;
		json = NULL;
	}
	return r;
}

/* Five vifs: 3.0 online; 4.0 online in NAT mode; 5.0 never online (all
 * missing); 7.0 with a MAC it refuses (cannot be checked); 12.0 online
 * (numeric order puts it last). */
static void five_vifs(void)
{
	vifenv_add_vif(4, "10.137.0.6", "00:16:3e:5e:6c:01");
	vifenv_mapped_ip("10.137.0.6", "10.152.152.11", "10.152.152.10");
	vifenv_add_vif(5, "10.137.0.7", "00:16:3e:5e:6c:02");
	vifenv_add_vif(7, "10.137.0.9", "zz");
	vifenv_add_vif(12, "10.137.0.12", "00:16:3e:5e:6c:0c");
	ck_assert_int_eq(vifenv_run_dom(3, ONLINE, NULL), 0);
	ck_assert_int_eq(vifenv_run_dom(4, ONLINE, NULL), 0);
	ck_assert_int_eq(vifenv_run_dom(12, ONLINE, NULL), 0);
}

START_TEST(test_all_text)
{
	_cleanup_free_ char *out = NULL;
	const char *prev = NULL;
	static const char *const order[] = { "vif3.0: all ", "vif4.0: all ", "vif5.0: ", "vif7.0: could not be checked",
					     "vif12.0: all " };

	five_vifs();
	ck_assert_int_eq(status("status --all", &out), 1);
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		const char *p = strstr(out, order[i]);

		if (!p || p <= prev)
			fprintf(stderr, "--- output:\n%s---\n", out);
		ck_assert_msg(p && p > prev, "'%s' missing or out of order (the output is on stderr)", order[i]);
		prev = p;
	}
	assert_contains(out, "\nvif7.0: could not be checked: invalid backend/vif/7/0/mac 'zz': ");
	assert_contains(out, "differs  link      vif5.0 (is down, want up)\n");
	assert_contains(out, "ok       namespace vif4.0-nat\n");
	ck_assert_msg(tl_count(out, "\n\n") == 5 && !strstr(out, "\n\n\n"), "not one empty line between blocks (and before the totals)");
	assert_ends_with(out, "\n\n5 vifs: 3 ok, 1 wrong, 1 could not be checked\n");

	/* Each vif's block is what status says for it alone. */
	for (unsigned d = 3; d <= 12; d++) {
		_cleanup_free_ char *one = NULL;
		int r;

		if (d != 3 && d != 4 && d != 5 && d != 12)
			continue;
		r = tl_run(&one, "vif=vif%u.0 XENBUS_PATH=backend/vif/%u/0 %s status 2>/dev/null", d, d,
			   tl_prog("VIF_ROUTE_QUBES"));
		ck_assert_int_eq(r, d == 5 ? 1 : 0);
		if (!strstr(out, one))
			fprintf(stderr, "--- vif%u.0 alone:\n%s--- --all:\n%s---\n", d, one, out);
		ck_assert_msg(strstr(out, one), "vif%u.0 alone is not a block of --all (both on stderr)", d);
	}
	free(out);

	/* Only one that cannot be checked left beside good ones: 2. */
	tl_xs_rm(BACKEND "/5");
	ck_assert_int_eq(status("status --all", &out), 2);
	assert_ends_with(out, "\n\n4 vifs: 3 ok, 0 wrong, 1 could not be checked\n");
	free(out);

	tl_xs_rm(BACKEND "/7");
	ck_assert_int_eq(status("status --all", &out), 0);
	assert_ends_with(out, "\n\n3 vifs: 3 ok, 0 wrong, 0 could not be checked\n");
	free(out);

	/* A vif broken under it: 1 again. */
	free(tl_sh("ip link set vif12.0 down"));
	ck_assert_int_eq(status("status --all", &out), 1);
	assert_contains(out, "differs  link      vif12.0 (is down, want up)\n");
	assert_ends_with(out, "\n\n3 vifs: 2 ok, 1 wrong, 0 could not be checked\n");
}
END_TEST

START_TEST(test_json_matches_text)
{
	_cleanup_free_ char *text = NULL, *from_json = NULL, *json = NULL;
	char want[64];

	five_vifs();
	ck_assert_int_eq(status("status --all", &text), 1);
	ck_assert_int_eq(status_json("status --all --json", "all", &from_json, &json), 1);
	if (!streq(text, from_json))
		fprintf(stderr, "--- text\n%s--- from JSON\n%s---\n", text, from_json);
	ck_assert_msg(streq(text, from_json), "--all: the text and the JSON differ (both on stderr)");
	assert_contains(json, "\"total\": 5, \"ok\": 3, \"wrong\": 1, \"unknown\": 1}");
	snprintf(want, sizeof(want), "\"domid\": 12, \"firewall\": \"%s\", \"state\": \"ok\"",
		 nft_gen ? "nftables" : "iptables");
	assert_contains(json, want);
	assert_contains(json, "\"vif\": \"vif7.0\", \"interface\": \"vif7.0\", \"xenbus_path\": \"backend/vif/7/0\"");
	assert_contains(json, "\"state\": \"unknown\"");

	/* One vif at a time, whatever its state; the exit status too. */
	for (unsigned d = 3; d <= 12; d++) {
		_cleanup_free_ char *t = NULL, *j = NULL, *args = NULL;
		int r;

		if (d != 3 && d != 4 && d != 5 && d != 7 && d != 12)
			continue;
		r = tl_run(&t, "vif=vif%u.0 XENBUS_PATH=backend/vif/%u/0 %s status 2>/dev/null", d, d,
			   tl_prog("VIF_ROUTE_QUBES"));
		ck_assert_int_eq(r, d == 5 ? 1 : d == 7 ? 2 : 0);
		ck_assert_int_ge(asprintf(&args, "vif=vif%u.0 XENBUS_PATH=backend/vif/%u/0 status --json", d, d), 0);
		ck_assert_int_eq(status_json(args, "one", &j, NULL), r);
		if (!streq(t, j))
			fprintf(stderr, "--- text\n%s--- from JSON\n%s---\n", t, j);
		ck_assert_msg(streq(t, j), "vif%u.0: the text and the JSON differ (both on stderr)", d);
	}
}
END_TEST

/* Whatever bytes xenstore holds, the JSON is valid ASCII and says them. */
START_TEST(test_json_hostile_value)
{
	_cleanup_free_ char *text = NULL, *from_json = NULL, *json = NULL;

	ck_assert_int_eq(vifenv_run_dom(3, ONLINE, NULL), 0);
	tl_xs_write(BACKEND "/3/0/hotplug-status", "q\"b\\s\x01t\tn\xc3\xa9\xff");
	ck_assert_int_eq(status("status --all", &text), 1);
	assert_contains(text, "(is q\"b\\s\x01t\tn\xc3\xa9\xff, want connected)");
	ck_assert_int_eq(status_json("status --all --json", "all", &from_json, &json), 1);
	ck_assert_msg(streq(text, from_json), "--- text\n%s--- from JSON\n%s", text, from_json);
	assert_contains(json, "(is q\\\"b\\\\s\\u0001t\\tn\\u00c3\\u00a9\\u00ff, want connected)");
}
END_TEST

START_TEST(test_all_no_vifs)
{
	_cleanup_free_ char *out = NULL, *from_json = NULL, *json = NULL;

	tl_xs_rm(BACKEND);
	ck_assert_int_eq(status("status --all", &out), 0);
	ck_assert_str_eq(out, "0 vifs: 0 ok, 0 wrong, 0 could not be checked\n");
	ck_assert_int_eq(status_json("status --all --json", "all", &from_json, &json), 0);
	ck_assert_str_eq(from_json, out);
	ck_assert_str_eq(json, "{\"vifs\": [], \"total\": 0, \"ok\": 0, \"wrong\": 0, \"unknown\": 0}\n");
}
END_TEST

/* Nothing to read from: 2, and JSON that says why. */
START_TEST(test_store_unreachable)
{
	_cleanup_free_ char *out = NULL, *from_json = NULL, *json = NULL;

	ck_assert_int_eq(vifenv_run_dom(3, ONLINE, NULL), 0);
	ck_assert_int_eq(status("status --all", &out), 0);
	free(out);
	setenv("XENSTORED_PATH", "/nonexistent", 1);
	ck_assert_int_eq(status("status --all", &out), 2);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(status_json("status --all --json", "all", &from_json, &json), 2);
	assert_contains(json, "\"error\": \"cannot connect to xenstore");
	free(json);
	free(from_json);
	ck_assert_int_eq(status_json("vif=vif3.0 XENBUS_PATH=backend/vif/3/0 status --json", "one", &from_json, &json), 2);
	/* What the environment said is known; the firewall is not. */
	assert_contains(json, "\"vif\": \"vif3.0\", \"interface\": \"vif3.0\", \"xenbus_path\": \"backend/vif/3/0\", "
			      "\"domid\": 3, \"firewall\": null, \"state\": \"unknown\", \"items_total\": 0, "
			      "\"items_wrong\": 0, \"items\": [], \"error\": \"cannot connect to xenstore");
}
END_TEST

START_TEST(test_usage)
{
	_cleanup_free_ char *before = vifenv_state(true), *after = NULL, *err = NULL;
	static const char *const args[] = { "--all " ONLINE, "--json offline", "-n --all online" };

	for (size_t i = 0; i < ELEMENTSOF(args); i++) {
		free(err);
		ck_assert_int_eq(vifenv_run("vif3.0", "backend/vif/3/0", args[i], &err), 1);
		assert_contains(err, "goes with the status command only\n");
		ck_assert_int_eq(tl_count(err, "\n"), 1);
	}
	after = vifenv_state(true);
	vifenv_assert_same(before, after, "refused options");
}
END_TEST

int main(int argc, char **argv)
{
	const char *gen = argc > 1 ? argv[1] : "xtables";
	Suite *s = suite_create("vif-status");
	TCase *tc = tcase_create(gen);

	nft_gen = streq(gen, "nftables");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_all_text);
	tcase_add_test(tc, test_json_matches_text);
	tcase_add_test(tc, test_json_hostile_value);
	tcase_add_test(tc, test_all_no_vifs);
	tcase_add_test(tc, test_store_unreachable);
	tcase_add_test(tc, test_usage);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
