/* The domain's keys through cfg.h, against the test QubesDB daemon and the
 * test xenstored: which source, one MULTIREAD for the qubes-netvm-* keys,
 * absent distinct from error, the bounded wait for a key, no fallback. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "deadline.h"
#include "testlib.h"

static pid_t qdb;

static void setup(void)
{
	qdb = tl_qubesdb_start(NULL, (const char *const[]){ "--set", "/qubes-netvm-gateway=10.138.0.1", "--set",
							    "/qubes-netvm-primary-dns=10.139.1.1", "--set",
							    "/qubes-service/harden-network-interfaces=0", NULL });
}

static void teardown(void)
{
	tl_qubesdb_stop(qdb);
	if (tl_qubesdb_dir()[0])
		free(tl_sh("rm -rf '%s'", tl_qubesdb_dir()));
	unsetenv("QUBESDB_SOCKET");
}

START_TEST(test_read_from_qubesdb)
{
	static const enum cfg_key keys[] = { CFG_GATEWAY, CFG_GATEWAY6, CFG_DNS1, CFG_DNS2, CFG_HARDEN };
	char *v[ELEMENTSOF(keys)], path[80], want[160];
	struct cfg *c = NULL;

	ck_assert_int_eq(cfg_open(CFG_SOURCE_AUTO, NULL, now_ms() + 5000, &c), 0);
	snprintf(want, sizeof(want), "QubesDB (%s)", getenv("QUBESDB_SOCKET"));
	ck_assert_str_eq(cfg_describe(c), want);
	ck_assert_str_eq(cfg_source_name(c), "QubesDB");
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), NULL, v), 0);
	ck_assert_str_eq(v[0], "10.138.0.1");
	ck_assert_ptr_null(v[1]); /* absent is not an error */
	ck_assert_str_eq(v[2], "10.139.1.1");
	ck_assert_ptr_null(v[3]);
	ck_assert_str_eq(v[4], "0");
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		free(v[i]);
	ck_assert_str_eq(cfg_key_path(c, CFG_GATEWAY, NULL, path, sizeof(path)), "/qubes-netvm-gateway");
	ck_assert_str_eq(cfg_key_path(c, CFG_VISIBLE_IP, "10.137.0.5", path, sizeof(path)),
			 "/mapped-ip/10.137.0.5/visible-ip");
	cfg_close(c);
}
END_TEST

/* A key dom0 writes only after we started looking (Qubes issue 9318):
 * waited for, within the bound; never written: absent after it. */
START_TEST(test_wait_for_key)
{
	struct cfg *c = NULL;
	uint64_t t0;
	char *v = NULL;

	ck_assert_int_eq(cfg_open(CFG_SOURCE_QUBESDB, NULL, now_ms() + 5000, &c), 0);
	free(tl_sh("(sleep 0.3; '%s' write /mapped-ip/10.137.0.5/visible-ip 10.137.0.99) >/dev/null 2>&1 &",
		   tl_prog("TEST_QDB_TOOL")));
	t0 = now_ms();
	ck_assert_int_eq(cfg_wait(c, CFG_VISIBLE_IP, "10.137.0.5", now_ms() + 3000, &v), 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "10.137.0.99");
	ck_assert_uint_ge(now_ms() - t0, 200);
	free(v);
	v = NULL;
	t0 = now_ms();
	ck_assert_int_eq(cfg_wait(c, CFG_VISIBLE_GATEWAY, "10.137.0.5", now_ms() + 300, &v), 0);
	ck_assert_ptr_null(v);
	ck_assert_uint_ge(now_ms() - t0, 290);
	ck_assert_uint_lt(now_ms() - t0, 3000);
	cfg_close(c);
}
END_TEST

/* A daemon that splits its writes and sends events anywhere. */
START_TEST(test_hostile_daemon)
{
	static const enum cfg_key keys[] = { CFG_GATEWAY, CFG_DNS1, CFG_HARDEN };
	const char *sock = getenv("QUBESDB_SOCKET");
	char *v[ELEMENTSOF(keys)];
	struct cfg *c = NULL;

	tl_qubesdb_stop(qdb);
	unlink(sock);
	qdb = tl_qubesdb_start(sock, (const char *const[]){ "--split", "3", "--events", "--set",
							    "/qubes-netvm-gateway=10.138.0.1", "--set",
							    "/qubes-netvm-primary-dns=10.139.1.1", NULL });
	ck_assert_int_eq(cfg_open(CFG_SOURCE_AUTO, NULL, now_ms() + 5000, &c), 0);
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), NULL, v), 0);
	ck_assert_str_eq(v[0], "10.138.0.1");
	ck_assert_str_eq(v[1], "10.139.1.1");
	ck_assert_ptr_null(v[2]);
	free(v[0]);
	free(v[1]);
	cfg_close(c);
}
END_TEST

/* The daemon again, at the same socket, logging each request it answers
 * to *ret_log (the caller frees the name). */
static void restart_logging(const char *const *sets, char **ret_log)
{
	const char *sock = getenv("QUBESDB_SOCKET");
	const char *argv[16] = { "--request-log", NULL };
	size_t n = 2;

	ck_assert_int_ge(asprintf(ret_log, "%s/requests", tl_qubesdb_dir()), 0);
	argv[1] = *ret_log;
	for (size_t i = 0; sets[i]; i++) {
		ck_assert_uint_lt(n + 2, ELEMENTSOF(argv));
		argv[n++] = "--set";
		argv[n++] = sets[i];
	}
	tl_qubesdb_stop(qdb);
	unlink(sock);
	qdb = tl_qubesdb_start(sock, argv);
}

/* What the daemon answered since the last call, and forget it. */
static char *requests(const char *log)
{
	return tl_sh("cat '%s'; : > '%s'", log, log);
}

/* A client's two mapped-ip keys in one MULTIREAD of its own subtree: the
 * trailing slash keeps 10.137.0.30's keys out, and only exact paths are
 * taken (not visible-ip-old). */
START_TEST(test_mapped_ip_one_multiread)
{
	static const enum cfg_key keys[] = { CFG_VISIBLE_IP, CFG_VISIBLE_GATEWAY };
	static const char *const sets[] = {
		"/mapped-ip/10.137.0.3/visible-ip=10.137.0.99",
		"/mapped-ip/10.137.0.3/visible-ip-old=10.137.0.98",
		"/mapped-ip/10.137.0.3/visible-gateway=10.137.0.100",
		"/mapped-ip/10.137.0.30/visible-ip=10.137.0.130",
		"/mapped-ip/10.137.0.30/visible-gateway=10.137.0.131",
		NULL,
	};
	_cleanup_free_ char *log = NULL, *got = NULL;
	char *v[ELEMENTSOF(keys)];
	struct cfg *c = NULL;

	restart_logging(sets, &log);
	ck_assert_int_eq(cfg_open(CFG_SOURCE_QUBESDB, NULL, now_ms() + 5000, &c), 0);

	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), "10.137.0.3", v), 0);
	ck_assert_str_eq(v[0], "10.137.0.99");
	ck_assert_str_eq(v[1], "10.137.0.100");
	free(v[0]);
	free(v[1]);
	got = requests(log);
	ck_assert_str_eq(got, "MULTIREAD /mapped-ip/10.137.0.3/\n");
	free(got);

	/* A client with only one of them, and one with none. */
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), "10.137.0.4", v), 0);
	ck_assert_ptr_null(v[0]);
	ck_assert_ptr_null(v[1]);
	free(tl_sh("'%s' rm /mapped-ip/10.137.0.30/visible-gateway", tl_prog("TEST_QDB_TOOL")));
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), "10.137.0.30", v), 0);
	ck_assert_str_eq(v[0], "10.137.0.130");
	ck_assert_ptr_null(v[1]);
	free(v[0]);
	got = requests(log);
	ck_assert_str_eq(got, "MULTIREAD /mapped-ip/10.137.0.4/\nRM /mapped-ip/10.137.0.30/visible-gateway\n"
			      "MULTIREAD /mapped-ip/10.137.0.30/\n");
	free(got);

	/* One key alone is one READ, as before. */
	ck_assert_int_eq(cfg_read(c, keys, 1, "10.137.0.3", v), 0);
	ck_assert_str_eq(v[0], "10.137.0.99");
	free(v[0]);
	got = requests(log);
	ck_assert_str_eq(got, "READ /mapped-ip/10.137.0.3/visible-ip\n");
	cfg_close(c);
}
END_TEST

/* What an online asks for its gateways and the hardening service: the
 * qubes-netvm-* keys in one MULTIREAD, the service key (whose prefix could
 * hold any number of services) with a READ of its own. */
START_TEST(test_domain_keys_requests)
{
	static const enum cfg_key keys[] = { CFG_GATEWAY, CFG_GATEWAY6, CFG_HARDEN };
	static const char *const sets[] = { "/qubes-netvm-gateway=10.138.0.1",
					    "/qubes-service/harden-network-interfaces=1", NULL };
	_cleanup_free_ char *log = NULL, *got = NULL;
	char *v[ELEMENTSOF(keys)];
	struct cfg *c = NULL;

	restart_logging(sets, &log);
	ck_assert_int_eq(cfg_open(CFG_SOURCE_QUBESDB, NULL, now_ms() + 5000, &c), 0);
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), NULL, v), 0);
	ck_assert_str_eq(v[0], "10.138.0.1");
	ck_assert_ptr_null(v[1]);
	ck_assert_str_eq(v[2], "1");
	free(v[0]);
	free(v[2]);
	got = requests(log);
	ck_assert_str_eq(got, "MULTIREAD /qubes-netvm-\nREAD /qubes-service/harden-network-interfaces\n");
	cfg_close(c);
}
END_TEST

/* A QubesDB that is named but not there: an error, never xenstore. */
START_TEST(test_no_fallback)
{
	struct cfg *c = NULL;
	char what[160];

	setenv("QUBESDB_SOCKET", "/nonexistent/qubesdb.sock", 1);
	ck_assert_int_lt(cfg_open(CFG_SOURCE_AUTO, NULL, now_ms() + 1000, &c), 0);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(cfg_describe_choice(CFG_SOURCE_AUTO, what, sizeof(what)),
			 "QubesDB (/nonexistent/qubesdb.sock)");
	ck_assert_str_eq(cfg_describe_choice(CFG_SOURCE_XENSTORE, what, sizeof(what)), "xenstore");
}
END_TEST

/* --config=xenstore: the domain's keys from xenstore, QubesDB or not. */
START_TEST(test_xenstore_source)
{
	static const enum cfg_key keys[] = { CFG_GATEWAY, CFG_DNS2 };
	pid_t xsd = tl_xenstored_start();
	char *v[ELEMENTSOF(keys)], path[80];
	struct cfg *c = NULL;
	enum cfg_source src;

	tl_xs_write("/local/domain/0/qubes-netvm-gateway", "10.137.9.9");
	ck_assert_int_eq(cfg_source_from_string("xenstore", &src), 0);
	ck_assert_int_eq(cfg_source_from_string("qubesdb-please", &src), -EINVAL);
	ck_assert_int_eq(cfg_open(CFG_SOURCE_XENSTORE, NULL, now_ms() + 5000, &c), 0);
	ck_assert_str_eq(cfg_describe(c), "xenstore");
	ck_assert_int_eq(cfg_read(c, keys, ELEMENTSOF(keys), NULL, v), 0);
	ck_assert_str_eq(v[0], "10.137.9.9");
	ck_assert_ptr_null(v[1]);
	free(v[0]);
	ck_assert_str_eq(cfg_key_path(c, CFG_HARDEN, NULL, path, sizeof(path)),
			 "qubes-service/harden-network-interfaces");
	cfg_close(c);
	tl_xenstored_stop(xsd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("cfg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_from_qubesdb);
	tcase_add_test(tc, test_wait_for_key);
	tcase_add_test(tc, test_hostile_daemon);
	tcase_add_test(tc, test_mapped_ip_one_multiread);
	tcase_add_test(tc, test_domain_keys_requests);
	tcase_add_test(tc, test_no_fallback);
	tcase_add_test(tc, test_xenstore_source);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
