/* libip4tc and libip6tc are loaded only when the x_tables generation opens a
 * table of their family (issue 13, common/iptc_lib.c), never at start. The
 * real programs run with LD_DEBUG=files: the dynamic loader then writes
 * every object it maps and why, "needed by" for a linked library and
 * "dynamically loaded by" for a dlopen, so a library loaded too early (or
 * linked again) shows in what it wrote. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "vifenv.h"

#define ONLINE "online type_if=vif"
#define OFFLINE "offline type_if=vif"
#define XB "/local/domain/0/backend/vif/3/0"
#define DNAT_ARGS                                                                                      \
	"--dns1 10.139.1.1 --dns2 10.139.1.2 --resolv-conf /tmp/resolv.conf --resolved-conf /tmp/resolved.conf"

#define LOADED(lib) "file=" lib " [0];  dynamically loaded by"

static char ld_dir[64];

/* From now until ld_debug_end(), the programs started write the loader's
 * trace into a directory of their own (one file per process). */
static void ld_debug_begin(void)
{
	char out[96];

	strcpy(ld_dir, "/tmp/qvt-lddebug.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(ld_dir));
	snprintf(out, sizeof(out), "%s/ld", ld_dir);
	setenv("LD_DEBUG", "files", 1);
	setenv("LD_DEBUG_OUTPUT", out, 1);
}

/* What the loader wrote since ld_debug_begin(). Not empty (libc at least
 * is mapped by every run): an empty trace would pass any "not loaded". */
static char *ld_debug_end(void)
{
	char *trace;

	unsetenv("LD_DEBUG");
	unsetenv("LD_DEBUG_OUTPUT");
	trace = tl_sh("cat '%s'/ld.* 2>/dev/null; rm -rf '%s'", ld_dir, ld_dir);
	ck_assert_msg(strstr(trace, "file=libc.so.6"), "no loader trace (LD_DEBUG ignored?)");
	return trace;
}

/* The trace's first line that mentions lib, for a failure message (check
 * cuts long messages: the whole trace would not fit). */
static const char *line_with(const char *trace, const char *lib, char *buf, size_t len)
{
	const char *p = strstr(trace, lib), *start, *end;

	if (!p)
		return "(none)";
	for (start = p; start > trace && start[-1] != '\n'; start--)
		;
	end = strchrnul(p, '\n');
	snprintf(buf, len, "%.*s", (int)(end - start), start);
	return buf;
}

static void assert_not_loaded(const char *trace, const char *what)
{
	char buf[256];

	ck_assert_msg(!strstr(trace, "libip4tc"), "%s: libip4tc mapped in the nftables generation: %s", what,
		      line_with(trace, "libip4tc", buf, sizeof(buf)));
	ck_assert_msg(!strstr(trace, "libip6tc"), "%s: libip6tc mapped in the nftables generation: %s", what,
		      line_with(trace, "libip6tc", buf, sizeof(buf)));
}

/* One DNS rewrite under LD_DEBUG=files: its loader trace (free() it); it
 * must have exited 0. */
static char *dnat_traced(void)
{
	_cleanup_free_ char *err = NULL;
	char *trace;
	int r;

	tl_write_file("/tmp/resolv.conf", "nameserver 192.168.1.1\n");
	tl_write_file("/tmp/resolved.conf", "");
	ld_debug_begin();
	r = tl_run(NULL, "%s " DNAT_ARGS " 2>/tmp/dnat.err", tl_prog("SETUP_DNAT_TO_NS"));
	trace = ld_debug_end();
	err = tl_slurp("/tmp/dnat.err");
	ck_assert_msg(r == 0, "exit %d: %s", r, err);
	return trace;
}

/* ---- nftables generation: never loaded ------------------------------------ */

START_TEST(test_nft_vif_route)
{
	static const char *const cmds[] = { ONLINE, "status", ONLINE, "-n " OFFLINE, OFFLINE };
	_cleanup_free_ char *trace = NULL;

	tl_xs_write(XB "/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	ld_debug_begin();
	for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
		int r = vifenv_run("vif3.0", "backend/vif/3/0", cmds[i], NULL);

		if (r != 0) {
			free(ld_debug_end());
			ck_abort_msg("%s: exit %d", cmds[i], r);
		}
	}
	trace = ld_debug_end();
	/* The run did reach the firewall: libnftnl is linked and mapped. */
	ck_assert_msg(strstr(trace, "file=libnftnl.so"), "no libnftnl in the trace");
	assert_not_loaded(trace, "vif-route-qubes online/status/offline");
}
END_TEST

START_TEST(test_nft_dnat)
{
	_cleanup_free_ char *trace = dnat_traced(), *rules = NULL;

	rules = tl_sh("nft list chain ip qubes dnat-dns | grep -c 'dnat to' || true");
	ck_assert_str_eq(rules, "4\n");
	assert_not_loaded(trace, "qubes-setup-dnat-to-ns");
}
END_TEST

/* ---- x_tables generation: loaded when a table is opened, and working ------ */

START_TEST(test_xtables_vif_route)
{
	_cleanup_free_ char *trace = NULL, *err = NULL;
	char buf[256];
	int r;

	tl_xs_write(XB "/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	ld_debug_begin();
	r = vifenv_run("vif3.0", "backend/vif/3/0", ONLINE, &err);
	trace = ld_debug_end();
	ck_assert_msg(r == 0, "exit %d: %s", r, err);
	vifenv_expect_protected("vif3.0", "10.137.0.5 fd09::5");
	ck_assert_msg(strstr(trace, LOADED("libip4tc.so.2")), "libip4tc not dlopen'ed: %s",
		      line_with(trace, "libip4tc", buf, sizeof(buf)));
	ck_assert_msg(strstr(trace, LOADED("libip6tc.so.2")), "libip6tc not dlopen'ed: %s",
		      line_with(trace, "libip6tc", buf, sizeof(buf)));
}
END_TEST

START_TEST(test_xtables_dnat)
{
	_cleanup_free_ char *trace = dnat_traced(), *rules = NULL;
	char buf[256];

	rules = tl_sh("iptables-legacy-save -t nat | grep -c -- '-A PR-QBS .* -j DNAT' || true");
	ck_assert_str_eq(rules, "4\n");
	/* The DNS rules are IPv4 only: libip6tc is not needed at all. */
	ck_assert_msg(strstr(trace, LOADED("libip4tc.so.2")), "libip4tc not dlopen'ed: %s",
		      line_with(trace, "libip4tc", buf, sizeof(buf)));
	ck_assert_msg(!strstr(trace, "libip6tc"), "libip6tc mapped: %s", line_with(trace, "libip6tc", buf, sizeof(buf)));
}
END_TEST

#if ENABLE_FAULT_INJECTION
/* A library that cannot be loaded fails the run with one line naming it
 * (stderr and hotplug-error), and what was done before is undone. */
static const struct {
	const char *var, *soname, *msg;
} broken[] = {
	/* absent: IPv4 is committed first, then IPv6 fails and IPv4 is undone */
	{ "QVT_FAULT_IP6TC_SONAME", "libqvt-no-such-lib.so.0",
	  "cannot load libqvt-no-such-lib.so.0: libqvt-no-such-lib.so.0: cannot open shared object file" },
	/* there, but without the functions */
	{ "QVT_FAULT_IP4TC_SONAME", "libmnl.so.0", "cannot load libmnl.so.0: " },
};

START_TEST(test_xtables_broken_library)
{
	_cleanup_free_ char *err = NULL, *hotplug_error = NULL;
	int r;

	tl_xs_write(XB "/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	setenv(broken[_i].var, broken[_i].soname, 1);
	r = vifenv_run("vif3.0", "backend/vif/3/0", ONLINE, &err);
	unsetenv(broken[_i].var);
	ck_assert_msg(r == 1, "exit %d: %s", r, err);
	ck_assert_msg(strstr(err, broken[_i].msg), "'%s' not in stderr:\n%s", broken[_i].msg, err);
	ck_assert_msg(tl_count(err, "error: ") == 1, "not one error line:\n%s", err);
	hotplug_error = tl_xs_read(XB "/hotplug-error");
	ck_assert_msg(hotplug_error && strstr(hotplug_error, broken[_i].msg), "hotplug-error: %s", hotplug_error);
	if (_i == 1)
		ck_assert_msg(strstr(err, "undefined symbol: iptc_"), "%s", err);
	vifenv_expect_no_antispoof();
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("iptc-load");
	TCase *tc;

	tc = tcase_create("nftables");
	tcase_add_checked_fixture(tc, vifenv_setup_nft, vifenv_teardown);
	tcase_add_test(tc, test_nft_vif_route);
	tcase_add_test(tc, test_nft_dnat);
	suite_add_tcase(s, tc);

	tc = tcase_create("xtables");
	tcase_add_checked_fixture(tc, vifenv_setup, vifenv_teardown);
	tcase_add_test(tc, test_xtables_vif_route);
	tcase_add_test(tc, test_xtables_dnat);
#if ENABLE_FAULT_INJECTION
	tcase_add_loop_test(tc, test_xtables_broken_library, 0, ELEMENTSOF(broken));
#endif
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
