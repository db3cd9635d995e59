/* meson install puts every file where the README says, with the paths the
 * meson options name, and the shipped hooks and udev rules parse. */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testlib.h"

static char destdir[64];

static const struct {
	const char *path;
	mode_t mode;
} installed[] = {
	{ "/etc/xen/scripts/vif-route-qubes", 0755 },
	{ "/usr/lib/qubes/qubes-setup-dnat-to-ns", 0755 },
	{ "/etc/NetworkManager/dispatcher.d/qubes-nmhook", 0755 },
	{ "/etc/dhclient.d/qubes-setup-dnat-to-ns.sh", 0755 },
	/* Inactive: an example, not in udev's rules directory. */
	{ "/usr/local/share/doc/qubes-vif-tools/examples/80-qubes-vif-route.rules", 0644 },
	/* The man pages, under the prefix (meson's mandir). */
	{ "/usr/local/share/man/man8/qubes-setup-dnat-to-ns.8", 0644 },
	{ "/usr/local/share/man/man8/vif-route-qubes.8", 0644 },
};

static void install_setup(void)
{
	const char *build = tl_prog("MESON_BUILD_DIR");

	strcpy(destdir, "/tmp/qvt-install.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(destdir));
	free(tl_sh("meson install -C '%s' --destdir '%s' --no-rebuild --quiet >/dev/null", build, destdir));
}

static void install_teardown(void)
{
	free(tl_sh("rm -rf '%s'", destdir));
}

START_TEST(test_files_in_place)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", destdir, installed[_i].path);
	ck_assert_msg(stat(path, &st) == 0, "%s not installed", installed[_i].path);
	ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", installed[_i].path);
	ck_assert_msg((st.st_mode & 07777) == installed[_i].mode, "%s has mode %o, expected %o", installed[_i].path,
		      st.st_mode & 07777, installed[_i].mode);
}
END_TEST

START_TEST(test_nothing_else)
{
	_cleanup_free_ char *out = tl_sh("cd '%s' && find . -type f | sort", destdir);

	ck_assert_str_eq(out, "./etc/NetworkManager/dispatcher.d/qubes-nmhook\n"
			      "./etc/dhclient.d/qubes-setup-dnat-to-ns.sh\n"
			      "./etc/xen/scripts/vif-route-qubes\n"
			      "./usr/lib/qubes/qubes-setup-dnat-to-ns\n"
			      "./usr/local/share/doc/qubes-vif-tools/examples/80-qubes-vif-route.rules\n"
			      "./usr/local/share/man/man8/qubes-setup-dnat-to-ns.8\n"
			      "./usr/local/share/man/man8/vif-route-qubes.8\n");
}
END_TEST

START_TEST(test_binaries_run)
{
	_cleanup_free_ char *a = tl_sh("'%s/etc/xen/scripts/vif-route-qubes' --version", destdir);
	_cleanup_free_ char *b = tl_sh("'%s/usr/lib/qubes/qubes-setup-dnat-to-ns' --version", destdir);

	ck_assert_ptr_nonnull(strstr(a, "vif-route-qubes "));
	ck_assert_ptr_nonnull(strstr(b, "qubes-setup-dnat-to-ns "));
}
END_TEST

START_TEST(test_hooks_parse)
{
	_cleanup_free_ char *nm = NULL, *dh = NULL;

	free(tl_sh("sh -n '%s/etc/NetworkManager/dispatcher.d/qubes-nmhook'", destdir));
	free(tl_sh("bash -n '%s/etc/dhclient.d/qubes-setup-dnat-to-ns.sh'", destdir));
	nm = tl_sh("cat '%s/etc/NetworkManager/dispatcher.d/qubes-nmhook'", destdir);
	dh = tl_sh("cat '%s/etc/dhclient.d/qubes-setup-dnat-to-ns.sh'", destdir);
	ck_assert_ptr_nonnull(strstr(nm, "\n/usr/lib/qubes/qubes-setup-dnat-to-ns \"$1\" \"$2\"\n"));
	ck_assert_ptr_nonnull(strstr(dh, "\nqubes-setup-dnat-to-ns_config() {\n"));
	ck_assert_ptr_nonnull(strstr(dh, "\nqubes-setup-dnat-to-ns_restore() {\n"));
	ck_assert_ptr_nonnull(strstr(dh, "\t/usr/lib/qubes/qubes-setup-dnat-to-ns\n"));
	ck_assert_ptr_null(strstr(nm, "@"));
	ck_assert_ptr_null(strstr(dh, "@"));
}
END_TEST

/* The man pages go in as written: mdoc source, uncompressed. */
START_TEST(test_man_pages)
{
	const char *src = tl_prog("MESON_SOURCE_DIR");
	static const char *const pages[] = { "vif-route-qubes.8", "qubes-setup-dnat-to-ns.8" };

	for (size_t i = 0; i < ELEMENTSOF(pages); i++)
		free(tl_sh("cmp '%s/man/%s' '%s/usr/local/share/man/man8/%s'", src, pages[i], destdir, pages[i]));
}
END_TEST

/* Each rule line: comma-separated KEY[{attr}] OP "value" pairs, as udev's
 * rules syntax has them; plus udevadm's own check where it has one. */
START_TEST(test_udev_rules_parse)
{
	_cleanup_free_ char *rules = tl_sh("cat '%s/usr/local/share/doc/qubes-vif-tools/examples/80-qubes-vif-route.rules'", destdir);
	regex_t re;
	int n_rules = 0;

	ck_assert_int_eq(regcomp(&re,
				 "^[A-Z_]+(\\{[A-Za-z0-9_]+\\})?(==|!=|\\+=|-=|:=|=)\"[^\"]*\""
				 "(, *[A-Z_]+(\\{[A-Za-z0-9_]+\\})?(==|!=|\\+=|-=|:=|=)\"[^\"]*\")*$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	for (char *save = NULL, *line = strtok_r(rules, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == 0)
			continue;
		ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "bad udev rule line: %s", line);
		ck_assert_ptr_nonnull(strstr(line, "SUBSYSTEM==\"xen-backend\", KERNEL==\"vif-*\""));
		ck_assert_ptr_nonnull(strstr(line, "RUN+=\"/etc/xen/scripts/vif-route-qubes "));
		/* Gated as Xen's own rules: the program steps aside for libxl. */
		ck_assert_ptr_nonnull(strstr(line, "ENV{UDEV_CALL}=\"1\""));
		n_rules++;
	}
	regfree(&re);
	ck_assert_int_eq(n_rules, 2);
	if (tl_run(NULL, "udevadm verify --help >/dev/null 2>&1") == 0)
		free(tl_sh("udevadm verify --no-summary '%s/usr/local/share/doc/qubes-vif-tools/examples/80-qubes-vif-route.rules'", destdir));
}
END_TEST

/* The paths are meson options: a build configured with others installs
 * there, and the rules and hooks name the programs where they now are;
 * -Dudev_rules=true installs the rules active. */
START_TEST(test_paths_follow_options)
{
	const char *src = tl_prog("MESON_SOURCE_DIR");
	char build[] = "/tmp/qvt-optbuild.XXXXXX";
	_cleanup_free_ char *files = NULL, *rules = NULL, *nm = NULL;

	ck_assert_ptr_nonnull(mkdtemp(build));
	free(tl_sh("meson setup '%s/b' '%s' -Dtests=disabled -Dxen_scripts_dir=/opt/xen/scripts "
		   "-Dqubes_libexec_dir=/opt/qubes -Dudev_rules_dir=/opt/udev -Dnm_dispatcher_dir=/opt/nm "
		   "-Ddhclient_hooks_dir=/opt/dhclient -Dudev_rules=true >/dev/null && ninja -C '%s/b' >/dev/null && "
		   "meson install -C '%s/b' --destdir '%s/d' --quiet >/dev/null",
		   build, src, build, build, build));
	files = tl_sh("cd '%s/d' && find . -type f | sort", build);
	ck_assert_str_eq(files, "./opt/dhclient/qubes-setup-dnat-to-ns.sh\n"
				"./opt/nm/qubes-nmhook\n"
				"./opt/qubes/qubes-setup-dnat-to-ns\n"
				"./opt/udev/80-qubes-vif-route.rules\n"
				"./opt/xen/scripts/vif-route-qubes\n"
				"./usr/local/share/man/man8/qubes-setup-dnat-to-ns.8\n"
				"./usr/local/share/man/man8/vif-route-qubes.8\n");
	rules = tl_sh("cat '%s/d/opt/udev/80-qubes-vif-route.rules'", build);
	ck_assert_ptr_nonnull(strstr(rules, "RUN+=\"/opt/xen/scripts/vif-route-qubes online type_if=vif\""));
	nm = tl_sh("cat '%s/d/opt/nm/qubes-nmhook'", build);
	ck_assert_ptr_nonnull(strstr(nm, "\n/opt/qubes/qubes-setup-dnat-to-ns \"$1\" \"$2\"\n"));
	free(tl_sh("rm -rf '%s'", build));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("install");
	TCase *tc = tcase_create("destdir");

	tcase_add_checked_fixture(tc, install_setup, install_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_files_in_place, 0, ELEMENTSOF(installed));
	tcase_add_test(tc, test_nothing_else);
	tcase_add_test(tc, test_binaries_run);
	tcase_add_test(tc, test_hooks_parse);
	tcase_add_test(tc, test_udev_rules_parse);
	tcase_add_test(tc, test_man_pages);
	tcase_add_test(tc, test_paths_follow_options);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
