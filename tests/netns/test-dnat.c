/* setup-dnat-to-ns end to end in a private netns: the real binary, with
 * resolv.conf files written into the test's private /tmp, the virtual DNS
 * addresses from options or from the test xenstored, and the result read
 * back with iptables-legacy-save. */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define RESOLV "/tmp/resolv.conf"
#define RESOLVED "/tmp/resolved.conf"
#define FILES "--resolv-conf " RESOLV " --resolved-conf " RESOLVED
#define DNS12_NO_FILES "--dns1 10.139.1.1 --dns2 10.139.1.2"
#define DNS12 DNS12_NO_FILES " " FILES

#define CHAIN ":PR-QBS -\n"
#define JUMP "-A PREROUTING -j PR-QBS\n"
#define PAIR(dst, to)                                                                       \
	"-A PR-QBS -d " dst "/32 -p udp -m udp --dport 53 -j DNAT --to-destination " to "\n" \
	"-A PR-QBS -d " dst "/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination " to "\n"
/* The two-resolver uplink (file A) and the one-resolver uplink (file B). */
#define FILE_A "nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
#define FILE_B "nameserver 10.0.0.1\n"
#define RULES_A CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.2")
#define RULES_B CHAIN JUMP PAIR("10.139.1.1", "10.0.0.1") PAIR("10.139.1.2", "10.0.0.1")
/* No virtual address: nothing to forward, nothing to drop. */
#define RULES_NONE CHAIN JUMP
/* No usable resolver: queries to DNS1/DNS2 are sent to 0.0.0.0, which the
 * kernel drops as a martian before routing them anywhere. */
#define DROP "0.0.0.0"
#define RULES_DROP CHAIN JUMP PAIR("10.139.1.1", DROP) PAIR("10.139.1.2", DROP)

#define ERR_PREFIX "qubes-setup-dnat-to-ns: error: "

/* ---- helpers ------------------------------------------------------------ */

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f, "fopen %s: %m", path);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	ck_assert_msg(f, "fopen %s: %m", path);
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

struct run {
	int status;
	char *out, *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Runs a shell command line, stdout and stderr captured. */
static void run_cmd(struct run *ret, const char *cmd)
{
	ret->status = tl_run(&ret->out, "%s 2>/tmp/dnat.err", cmd);
	ret->err = slurp("/tmp/dnat.err");
}

/* Runs the program with ARGS (shell words); never hangs the suite. */
_printf_(2, 3) static void dnat(struct run *ret, const char *fmt, ...)
{
	_cleanup_free_ char *args = NULL, *cmd = NULL;
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(&cmd, "timeout 30 %s %s", tl_prog("SETUP_DNAT_TO_NS"), args), 0);
	run_cmd(ret, cmd);
}

/* Runs and asserts the exit status; returns nothing to free. */
static void dnat_expect(int status, const char *args)
{
	struct run r;

	dnat(&r, "%s", args);
	ck_assert_msg(r.status == status, "'%s' exited %d, expected %d; stderr:\n%s", args, r.status, status, r.err);
	run_free(&r);
}

/* Our chain's header and every -A line of the nat table, counters off. */
static char *nat_rules(void)
{
	return tl_sh("iptables-legacy-save -t nat | grep -E '^(:PR-QBS |-A )' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' || true");
}

/* The whole nat table, counters included, without the dated comments. */
static char *nat_full(void)
{
	return tl_sh("iptables-legacy-save -c -t nat | grep -v '^#'");
}

/* Every x_tables table of the namespace (none is created by merely
 * looking), without the dated comments. */
static char *all_tables(void)
{
	return tl_sh("iptables-legacy-save -c | grep -v '^#' || true");
}

static void assert_text(const char *what, const char *got, const char *want)
{
	ck_assert_msg(streq(got, want), "%s:\n--- got\n%s--- want\n%s", what, got, want);
}

static void assert_rules(const char *what, const char *want)
{
	_cleanup_free_ char *got = nat_rules();

	assert_text(what, got, want);
}

static void assert_one_error_line(const struct run *r, const char *needle)
{
	const char *nl = strchr(r->err, '\n');

	ck_assert_msg(strncmp(r->err, ERR_PREFIX, strlen(ERR_PREFIX)) == 0, "stderr does not start with '%s':\n%s",
		      ERR_PREFIX, r->err);
	ck_assert_msg(nl && nl[1] == 0, "stderr is not exactly one line:\n%s", r->err);
	ck_assert_msg(strstr(r->err, needle), "stderr lacks '%s':\n%s", needle, r->err);
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Counters on every rule of PR-QBS, through iptables-legacy-restore -c:
 * a rule the program rewrites comes back with [0:0]. */
static void set_counters(void)
{
	_cleanup_free_ char *c = NULL;

	free(tl_sh("iptables-legacy-save -c -t nat | sed 's/^\\[0:0\\] -A PR-QBS /[7:700] -A PR-QBS /' | "
		   "iptables-legacy-restore -c"));
	c = tl_sh("iptables-legacy-save -c -t nat | grep -c '^\\[7:700\\] -A PR-QBS ' || true");
	ck_assert_msg(atoi(c) > 0, "could not set counters");
}

static int counted_rules(void)
{
	_cleanup_free_ char *c = tl_sh("iptables-legacy-save -c -t nat | grep -c '^\\[7:700\\] -A PR-QBS ' || true");

	return atoi(c);
}

static bool have_strace(void)
{
	return tl_run(NULL, "command -v strace >/dev/null") == 0;
}

/* Runs under strace and returns how many table replaces (commits) the
 * program made (LeakSanitizer cannot run under ptrace: off for this run). */
static int commits_of(int want_status, const char *args)
{
	_cleanup_free_ char *n = NULL, *cmd = NULL;
	struct run r;

	ck_assert_int_ge(asprintf(&cmd, "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" timeout 30 strace -f -qq -e trace=setsockopt -o /tmp/dnat.strace %s %s",
				  tl_prog("SETUP_DNAT_TO_NS"), args), 0);
	run_cmd(&r, cmd);
	ck_assert_msg(r.status == want_status, "traced '%s' exited %d, expected %d; stderr:\n%s", args, r.status,
		      want_status, r.err);
	run_free(&r);
	n = tl_sh("grep -c IPT_SO_SET_REPLACE /tmp/dnat.strace || true");
	return atoi(n);
}

static void fixture_setup(void)
{
	tl_netns_setup();
	/* No run may reach a xenstored or QubesDB outside the test by accident. */
	setenv("XENSTORED_PATH", "/tmp/no-xenstored/socket", 1);
	unsetenv("QUBESDB_SOCKET");
	write_file(RESOLVED, "nameserver 203.0.113.99\n"); /* must only be read for the stub */
}

static void fixture_teardown(void)
{
	tl_netns_teardown();
}

/* ---- creation ----------------------------------------------------------- */

START_TEST(test_creates_chain_and_jump)
{
	_cleanup_free_ char *filter = NULL, *raw = NULL, *filter2 = NULL, *raw2 = NULL;
	struct run r;

	/* Other tables hold rules of their own that must not move. */
	free(tl_sh("iptables-legacy -A INPUT -s 192.0.2.7 -j DROP && iptables-legacy -t raw -A PREROUTING -i eth9 "
		   "-j DROP"));
	filter = tl_sh("iptables-legacy-save -c -t filter | grep -v '^#'");
	raw = tl_sh("iptables-legacy-save -c -t raw | grep -v '^#'");
	write_file(RESOLV, "# Generated by NetworkManager\nsearch lan\n" FILE_A);

	dnat(&r, DNS12);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_rules("first run", RULES_A);
	ck_assert_msg(strstr(r.err, "10.139.1.1 to 192.168.1.1"), "no report of the change:\n%s", r.err);
	ck_assert_msg(!strstr(r.err, "error"), "stderr: %s", r.err);
	run_free(&r);

	filter2 = tl_sh("iptables-legacy-save -c -t filter | grep -v '^#'");
	raw2 = tl_sh("iptables-legacy-save -c -t raw | grep -v '^#'");
	assert_text("filter table", filter2, filter);
	assert_text("raw table", raw2, raw);

	dnat(&r, DNS12);
	ck_assert_msg(r.status == 100, "second run exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	assert_rules("second run", RULES_A);
}
END_TEST

/* The jump goes after what PREROUTING already holds; the rules already
 * right are left alone (their counters survive). */
START_TEST(test_chain_without_jump)
{
	write_file(RESOLV, FILE_A);
	free(tl_sh("iptables-legacy -t nat -A PREROUTING -i eth9 -j RETURN && iptables-legacy -t nat -N PR-QBS && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.1 -p $p --dport 53 -j DNAT "
		   "--to-destination 192.168.1.1; done && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.2 -p $p --dport 53 -j DNAT "
		   "--to-destination 192.168.1.2; done"));
	set_counters();
	ck_assert_int_eq(counted_rules(), 4);

	dnat_expect(0, DNS12);
	assert_rules("jump added", CHAIN "-A PREROUTING -i eth9 -j RETURN\n" JUMP PAIR("10.139.1.1", "192.168.1.1")
					 PAIR("10.139.1.2", "192.168.1.2"));
	ck_assert_msg(counted_rules() == 4, "rules that were right got rewritten");
	dnat_expect(100, DNS12);
}
END_TEST

/* Rules iptables-legacy wrote are recognised as ours: same encoding. */
START_TEST(test_rules_from_iptables_recognised)
{
	write_file(RESOLV, FILE_A);
	free(tl_sh("iptables-legacy -t nat -N PR-QBS && iptables-legacy -t nat -A PREROUTING -j PR-QBS && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.1/32 -p $p -m $p --dport 53 -j "
		   "DNAT --to-destination 192.168.1.1; done && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.2/32 -p $p -m $p --dport 53 -j "
		   "DNAT --to-destination 192.168.1.2; done"));
	dnat_expect(100, DNS12);
	assert_rules("untouched", RULES_A);
}
END_TEST

/* ---- nothing committed when nothing differs ----------------------------- */

START_TEST(test_unchanged_commits_nothing)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	bool traced = have_strace();

	write_file(RESOLV, FILE_A);
	if (traced)
		ck_assert_msg(commits_of(0, DNS12) >= 1, "a changing run made no commit (is strace seeing it?)");
	else
		dnat_expect(0, DNS12);
	set_counters();
	ck_assert_int_eq(counted_rules(), 4);
	before = nat_full();

	if (traced)
		ck_assert_int_eq(commits_of(100, DNS12), 0);
	else {
		fprintf(stderr, "strace not found: checking the counters only\n");
		dnat_expect(100, DNS12);
	}
	after = nat_full();
	assert_text("nat table after an unchanged run (counters included)", after, before);
	ck_assert_int_eq(counted_rules(), 4);

	/* The control: a changing run does rewrite, and resets the counters. */
	write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	ck_assert_int_eq(counted_rules(), 0);
	assert_rules("switched to B", RULES_B);
}
END_TEST

/* ---- whatever sits in PR-QBS is replaced -------------------------------- */

#define IPT "iptables-legacy -t nat "
#define MKCHAIN IPT "-N PR-QBS && " IPT "-A PREROUTING -j PR-QBS && "
#define ADD_A                                                                                     \
	"for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.1 -p $p --dport 53 -j DNAT --to-destination " \
	"192.168.1.1; done && for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.2 -p $p --dport 53 -j DNAT " \
	"--to-destination 192.168.1.2; done"
#define ADD_B                                                                                     \
	"for d in 10.139.1.1 10.139.1.2; do for p in udp tcp; do " IPT "-A PR-QBS -d $d -p $p --dport 53 -j " \
	"DNAT --to-destination 10.0.0.1; done; done"

static const struct {
	const char *name, *setup;
} foreign[] = {
	{ "stale resolver", MKCHAIN IPT "-A PR-QBS -d 10.139.1.1 -p udp --dport 53 -j DNAT --to-destination 6.6.6.6" },
	{ "rule of another shape", MKCHAIN IPT "-A PR-QBS -s 1.2.3.4 -j ACCEPT" },
	{ "right rules plus a RETURN", MKCHAIN ADD_A " && " IPT "-A PR-QBS -j RETURN" },
	{ "a RETURN before the right rules", MKCHAIN IPT "-A PR-QBS -j RETURN && " ADD_A },
	{ "both sets", MKCHAIN ADD_B " && " ADD_A },
	{ "right rules, wrong order", MKCHAIN "for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.2 -p $p --dport 53 "
					  "-j DNAT --to-destination 192.168.1.2; done && for p in udp tcp; do " IPT
					  "-A PR-QBS -d 10.139.1.1 -p $p --dport 53 -j DNAT --to-destination "
					  "192.168.1.1; done" },
	{ "tcp before udp", MKCHAIN "for d in 1 2; do for p in tcp udp; do " IPT "-A PR-QBS -d 10.139.1.$d -p $p "
				"--dport 53 -j DNAT --to-destination 192.168.1.$d; done; done" },
	{ "target with a port", MKCHAIN "for d in 1 2; do for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.$d -p $p "
				    "--dport 53 -j DNAT --to-destination 192.168.1.$d:53; done; done" },
	{ "an interface match", MKCHAIN "for d in 1 2; do for p in udp tcp; do " IPT "-A PR-QBS -i vif+ -d 10.139.1.$d "
				    "-p $p --dport 53 -j DNAT --to-destination 192.168.1.$d; done; done" },
	{ "a /24 destination", MKCHAIN "for d in 1 2; do for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.$d/24 -p $p "
				   "--dport 53 -j DNAT --to-destination 192.168.1.$d; done; done" },
	{ "another port", MKCHAIN "for d in 1 2; do for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.$d -p $p "
			      "--dport 5353 -j DNAT --to-destination 192.168.1.$d; done; done" },
	{ "rules kept, jump twice", MKCHAIN IPT "-A PREROUTING -j PR-QBS && " ADD_B },
	{ "a chain with a jump of its own", MKCHAIN IPT "-N OTHER && " IPT "-A PR-QBS -j OTHER" },
};

START_TEST(test_foreign_rules_replaced)
{
	_cleanup_free_ char *got = NULL;

	write_file(RESOLV, FILE_A);
	free(tl_sh("%s", foreign[_i].setup));
	dnat_expect(0, DNS12);
	got = nat_rules();
	/* A second jump is somebody else's business; the chain is ours. */
	if (strstr(foreign[_i].name, "jump twice"))
		assert_text(foreign[_i].name, got, CHAIN JUMP JUMP PAIR("10.139.1.1", "192.168.1.1")
							   PAIR("10.139.1.2", "192.168.1.2"));
	else if (strstr(foreign[_i].name, "jump of its own"))
		assert_text(foreign[_i].name, got, CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1")
							   PAIR("10.139.1.2", "192.168.1.2"));
	else
		assert_text(foreign[_i].name, got, RULES_A);
	dnat_expect(100, DNS12);
}
END_TEST

/* ---- the uplink changes ------------------------------------------------- */

START_TEST(test_uplink_switch)
{
	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_rules("two resolvers", RULES_A);

	write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	assert_rules("one resolver", RULES_B);

	write_file(RESOLV, "# no resolver today\nsearch lan\n");
	dnat_expect(0, DNS12);
	assert_rules("no resolver", RULES_DROP);
	dnat_expect(100, DNS12);

	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_rules("two again", RULES_A);

	/* only the virtual addresses change */
	dnat_expect(0, "--dns1 10.139.1.1 --dns2 10.139.1.3 " FILES);
	assert_rules("new DNS2", CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.3", "192.168.1.2"));
}
END_TEST

START_TEST(test_first_run_without_resolver)
{
	struct run r;

	write_file(RESOLV, "nameserver fd00::1\nnameserver 127.0.0.1\n");
	dnat(&r, DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "warning: no usable resolver"), "no warning about the missing resolver:\n%s", r.err);
	run_free(&r);
	assert_rules("no usable resolver", RULES_DROP);
	dnat_expect(100, DNS12);
}
END_TEST

/* ---- no usable resolver: the queries are dropped ------------------------ */

/* A network namespace held by a child that dies with the test process:
 * a client or an upstream beside the test's own namespace, which plays the
 * netvm. Commands run in it through "nsenter --net=/proc/PID/ns/net". */
static pid_t peer_netns(void)
{
	int p[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || unshare(CLONE_NEWNET) < 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_msg(read(p[0], &c, 1) == 1, "the namespace child failed");
	close(p[0]);
	return pid;
}

static void peer_netns_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Packets counted by the rule of TABLE/CHAIN (in the peer's namespace, or
 * ours with pid 0) whose listing ends in "PROTO dpt:53". */
static long dns_counter(pid_t pid, const char *table, const char *chain, const char *proto)
{
	_cleanup_free_ char *out = NULL;
	char ns[64] = "";

	if (pid)
		snprintf(ns, sizeof(ns), "nsenter --net=/proc/%d/ns/net ", (int)pid);
	out = tl_sh("%siptables-legacy -w -t %s -L %s -v -x -n | awk '/ %s dpt:53$/ { print $1; exit }'", ns, table,
		    chain, proto);
	ck_assert_msg(out && *out, "no %s counter in %s %s", proto, table, chain);
	return atol(out);
}

/* client ── vif3.0 ── [this namespace: the netvm] ── wan0 ── upstream
 * The netvm forwards and has a default route through upstream, so a query
 * to DNS1/DNS2 that PR-QBS does not stop leaves through the uplink. Port 53
 * is counted where it could go: upstream's PREROUTING, our FORWARD and
 * INPUT. */
static void dns_topology(pid_t client, pid_t upstream)
{
	free(tl_sh("ip link add vif3.0 type veth peer name eth0 netns %d && "
		   "ip link add wan0 type veth peer name eth0 netns %d && "
		   "ip addr add 10.137.0.1/24 dev vif3.0 && ip link set vif3.0 up && "
		   "ip addr add 192.168.100.2/24 dev wan0 && ip link set wan0 up && "
		   "ip route add default via 192.168.100.1 && sysctl -qw net.ipv4.ip_forward=1 && "
		   "for p in udp tcp; do iptables-legacy -w -A FORWARD -p $p --dport 53 && "
		   "iptables-legacy -w -A INPUT -p $p --dport 53; done",
		   (int)client, (int)upstream));
	free(tl_sh("nsenter --net=/proc/%d/ns/net sh -ec 'ip link set lo up; ip addr add 10.137.0.10/24 dev eth0; "
		   "ip link set eth0 up; ip route add default via 10.137.0.1'",
		   (int)client));
	free(tl_sh("nsenter --net=/proc/%d/ns/net sh -ec 'ip link set lo up; ip addr add 192.168.100.1/24 dev eth0; "
		   "ip link set eth0 up; for p in udp tcp; do iptables-legacy -w -t mangle -A PREROUTING -i eth0 "
		   "-p $p --dport 53; done'",
		   (int)upstream));
}

/* One UDP query and one TCP connection attempt from the client to each
 * virtual address (bash's /dev/udp and /dev/tcp: no DNS tool needed). */
static void client_queries(pid_t client)
{
	for (int i = 1; i <= 2; i++) {
		tl_run(NULL, "nsenter --net=/proc/%d/ns/net bash -c 'echo query >/dev/udp/10.139.1.%d/53' 2>/dev/null",
		       (int)client, i);
		tl_run(NULL, "nsenter --net=/proc/%d/ns/net timeout 1 bash -c 'exec 3<>/dev/tcp/10.139.1.%d/53' "
			     "2>/dev/null",
		       (int)client, i);
	}
}

START_TEST(test_no_resolver_drops_packets)
{
	pid_t client = peer_netns(), upstream = peer_netns();
	_cleanup_free_ char *hits = NULL;
	const char *const protos[] = { "udp", "tcp" };

	dns_topology(client, upstream);
	write_file(RESOLV, "# the uplink gave no resolver\n");
	dnat_expect(0, DNS12);
	client_queries(client);
	for (size_t i = 0; i < ELEMENTSOF(protos); i++) {
		ck_assert_msg(dns_counter(upstream, "mangle", "PREROUTING", protos[i]) == 0,
			      "%s queries to DNS1/DNS2 reached upstream through the uplink (%ld packets)", protos[i],
			      dns_counter(upstream, "mangle", "PREROUTING", protos[i]));
		ck_assert_msg(dns_counter(0, "filter", "FORWARD", protos[i]) == 0, "%s queries were forwarded",
			      protos[i]);
		ck_assert_msg(dns_counter(0, "filter", "INPUT", protos[i]) == 0,
			      "%s queries were delivered to the netvm itself", protos[i]);
	}
	/* they did arrive, and each rule of PR-QBS stopped its own */
	hits = tl_sh("iptables-legacy-save -c -t nat | grep -c '^\\[[1-9][0-9]*:[0-9]*\\] -A PR-QBS .* "
		     "--to-destination 0.0.0.0$' || true");
	ck_assert_msg(atoi(hits) == 4, "%d of the 4 rules of PR-QBS counted a query", atoi(hits));

	/* The control: with a resolver (upstream itself), the same queries
	 * do leave through the uplink, so the counters above can count. */
	write_file(RESOLV, "nameserver 192.168.100.1\n");
	dnat_expect(0, DNS12);
	client_queries(client);
	for (size_t i = 0; i < ELEMENTSOF(protos); i++)
		ck_assert_msg(dns_counter(upstream, "mangle", "PREROUTING", protos[i]) >= 2,
			      "with a resolver, %s queries did not reach upstream", protos[i]);
	peer_netns_stop(client);
	peer_netns_stop(upstream);
}
END_TEST

/* iptables cannot -j DROP in the nat table; the drop form must survive
 * what administrators and distributions do with rules: save and restore. */
START_TEST(test_no_resolver_save_restore)
{
	_cleanup_free_ char *saved = NULL, *restored = NULL;

	write_file(RESOLV, "");
	dnat_expect(0, DNS12);
	assert_rules("no resolver", RULES_DROP);
	saved = tl_sh("iptables-legacy-save -t nat | grep -v '^#'");
	free(tl_sh("iptables-legacy-save -t nat | iptables-legacy-restore -w"));
	restored = tl_sh("iptables-legacy-save -t nat | grep -v '^#'");
	assert_text("nat table after save | restore", restored, saved);
	/* and the program recognises the restored rules as its own */
	dnat_expect(100, DNS12);
	/* a resolver comes back: the drop rules go */
	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_rules("resolvers back", RULES_A);
}
END_TEST

/* A VM with no virtual address serves no DNS: nothing to drop either. */
START_TEST(test_no_resolver_no_virtual_address)
{
	pid_t xsd = tl_xenstored_start();

	write_file(RESOLV, "");
	dnat_expect(0, FILES);
	assert_rules("no virtual address, no resolver", RULES_NONE);
	dnat_expect(100, FILES);
	tl_xenstored_stop(xsd);
}
END_TEST

START_TEST(test_no_resolver_dry_run)
{
	struct run r;

	write_file(RESOLV, "nameserver 127.0.0.1\n");
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_int_eq(count(r.out, "-j DNAT --to-destination 0.0.0.0\n"), 4);
	ck_assert_msg(strstr(r.out, "no usable resolver") && strstr(r.out, "drop"),
		      "the dry run does not say that these rules drop the queries:\n%s", r.out);
	run_free(&r);
	assert_rules("dry run", "");
}
END_TEST

static const struct {
	const char *args, *file, *want;
} shapes[] = {
	{ "--dns1 10.139.1.1 " FILES, FILE_A, CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") },
	{ "--dns1 10.139.1.1 --dns2 10.139.1.1 " FILES, FILE_A, CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") },
	{ DNS12, FILE_B, RULES_B },
	{ DNS12, FILE_A "nameserver 192.168.1.3\n", RULES_A },
	{ DNS12, "nameserver 192.168.1.2\nnameserver 192.168.1.2\nnameserver 192.168.1.1\n",
	  CHAIN JUMP PAIR("10.139.1.1", "192.168.1.2") PAIR("10.139.1.2", "192.168.1.1") },
	{ DNS12, "nameserver 127.0.0.1\nnameserver fd00::1\nnameserver 1.2.3.4junk\nnameserver 192.168.1.1 x\n",
	  CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.1") },
	/* options in any order, dispatcher arguments after them */
	{ FILES " --dns2 10.139.1.2 --dns1 10.139.1.1", FILE_A, RULES_A },
	{ DNS12 " eth0 dns-change", FILE_A, RULES_A },
	{ "-v " DNS12, FILE_A, RULES_A },
};

START_TEST(test_shapes)
{
	write_file(RESOLV, shapes[_i].file);
	dnat_expect(0, shapes[_i].args);
	assert_rules(shapes[_i].args, shapes[_i].want);
	dnat_expect(100, shapes[_i].args);
}
END_TEST

START_TEST(test_loopback_warning)
{
	struct run r;

	write_file(RESOLV, "nameserver 127.0.0.1\nnameserver 192.168.1.1\n");
	dnat(&r, DNS12);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.err, "warning: ") && strstr(r.err, "loopback"), "no loopback warning:\n%s", r.err);
	run_free(&r);
	assert_rules("loopback skipped", CHAIN JUMP PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.1"));
}
END_TEST

/* ---- systemd-resolved stub ---------------------------------------------- */

START_TEST(test_stub_follows_resolved)
{
	write_file(RESOLV, "# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\n"
			   "options edns0 trust-ad\nsearch .\n");
	write_file(RESOLVED, "# This is /run/systemd/resolve/resolv.conf\n" FILE_A);
	dnat_expect(0, DNS12);
	assert_rules("servers of the resolved file", RULES_A);
	dnat_expect(100, DNS12);

	write_file(RESOLVED, FILE_B);
	dnat_expect(0, DNS12);
	assert_rules("resolved file changed", RULES_B);

	/* resolved without upstream servers: nothing to forward to */
	write_file(RESOLVED, "# This is /run/systemd/resolve/resolv.conf\nsearch .\n");
	dnat_expect(0, DNS12);
	assert_rules("resolved without servers", RULES_DROP);
}
END_TEST

/* /etc as the program sees it, but without resolv.conf: a tmpfs over /etc
 * in the test's own mount namespace, every other entry a symlink to the
 * real one (the dynamic loader's cache, passwd, alternatives...). */
static void etc_without_resolv_conf(void)
{
	free(tl_sh("mkdir /tmp/etc.real && mount --bind /etc /tmp/etc.real && mount -t tmpfs -o mode=755 tmpfs /etc && "
		   "for f in /tmp/etc.real/* /tmp/etc.real/.[!.]*; do "
		   "  [ -e \"$f\" ] || [ -L \"$f\" ] || continue; "
		   "  [ \"${f##*/}\" = resolv.conf ] || ln -s \"$f\" \"/etc/${f##*/}\"; "
		   "done && ! [ -e /etc/resolv.conf ]"));
}

/* The default /etc/resolv.conf absent is an uplink without resolvers (as
 * when NetworkManager has not written it yet): the drop rules, no error.
 * So is the default systemd-resolved file absent behind the stub. */
START_TEST(test_default_resolv_conf_absent)
{
	struct run r;

	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	etc_without_resolv_conf();
	dnat(&r, DNS12_NO_FILES);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "/etc/resolv.conf does not exist"), "stderr:\n%s", r.err);
	ck_assert_msg(!strstr(r.err, "error"), "stderr:\n%s", r.err);
	run_free(&r);
	assert_rules("no /etc/resolv.conf", RULES_DROP);
	dnat_expect(100, DNS12_NO_FILES " eth0 up");

	if (access("/run/systemd/resolve/resolv.conf", F_OK) == 0) {
		fprintf(stderr, "/run/systemd/resolve/resolv.conf exists here: default stub case not checked\n");
		return;
	}
	dnat_expect(0, DNS12);
	write_file("/etc/resolv.conf", "nameserver 127.0.0.53\n");
	dnat_expect(0, DNS12_NO_FILES);
	assert_rules("stub, no resolved file", RULES_DROP);
}
END_TEST

/* A file named by --resolv-conf, or by --resolved-conf when it is
 * followed, that does not exist is a mistake (a typo, a missing mount),
 * not an uplink without resolvers: exit 1, one line, and the chain exactly
 * as it was -- never emptied, never turned into the drop rules. */
static const struct {
	const char *args, *needle;
} missing[] = {
	{ DNS12_NO_FILES " --resolv-conf /tmp/resolv.cnf", "'/tmp/resolv.cnf'" },
	{ DNS12_NO_FILES " --resolv-conf /tmp/resolv.cnf eth0 up", "'/tmp/resolv.cnf'" },
	{ DNS12_NO_FILES " --resolv-conf /tmp/resolv.cnf eth0 dns-change", "'/tmp/resolv.cnf'" },
	{ "-n " DNS12_NO_FILES " --resolv-conf /tmp/resolv.cnf", "'/tmp/resolv.cnf'" },
	{ DNS12_NO_FILES " --resolv-conf /tmp/dangling", "'/tmp/dangling'" },
	{ DNS12_NO_FILES " --resolv-conf /tmp/stub --resolved-conf /tmp/resolved.cnf", "'/tmp/resolved.cnf'" },
	{ DNS12_NO_FILES " --resolved-conf /tmp/resolved.cnf --resolv-conf /tmp/stub eth0 up", "'/tmp/resolved.cnf'" },
};

START_TEST(test_named_file_missing)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	write_file(RESOLV, FILE_A);
	write_file("/tmp/stub", "nameserver 127.0.0.53\n");
	ck_assert_int_eq(symlink("/tmp/nowhere", "/tmp/dangling"), 0);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();

	dnat(&r, "%s", missing[_i].args);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", missing[_i].args, r.status, r.err);
	assert_one_error_line(&r, missing[_i].needle);
	ck_assert_msg(strstr(r.err, "No such file or directory"), "the cause is not said:\n%s", r.err);
	run_free(&r);
	/* byte for byte, counters included (but the dated comments) */
	after = nat_full();
	assert_text(missing[_i].args, after, before);
}
END_TEST

START_TEST(test_stub_with_others_not_followed)
{
	/* the resolved file names 203.0.113.99 (fixture): it must not show */
	write_file(RESOLV, "nameserver 127.0.0.53\nnameserver 10.0.0.1\n");
	dnat_expect(0, DNS12);
	assert_rules("stub and a server", RULES_B);

	write_file(RESOLV, "nameserver 127.0.0.53\nnameserver 127.0.0.1\n");
	dnat_expect(0, DNS12);
	assert_rules("stub and another loopback", RULES_DROP);
}
END_TEST

/* ---- virtual addresses from the domain's keys: xenstore or QubesDB ------ */

/* Where a test keeps the domain's keys: xenstore (plain Xen), or QubesDB
 * (Qubes) -- with decoys in xenstore then, which must never be read. */
struct keystore {
	bool qdb;
	pid_t xsd, qdbd;
};

static void keystore_start(struct keystore *k, bool qdb)
{
	*k = (struct keystore){ .qdb = qdb, .xsd = tl_xenstored_start() };
	if (qdb) {
		k->qdbd = tl_qubesdb_start(NULL, NULL);
		tl_xs_write("/local/domain/0/qubes-netvm-primary-dns", "10.139.9.9");
		tl_xs_write("/local/domain/0/qubes-netvm-secondary-dns", "10.139.9.8");
		tl_xs_write("/local/domain/0/qubes-netvm-gateway", "10.137.9.9");
	} else
		unsetenv("QUBESDB_SOCKET");
}

static void keystore_stop(struct keystore *k)
{
	tl_qubesdb_stop(k->qdbd);
	tl_xenstored_stop(k->xsd);
}

/* name as xenstore has it ("qubes-netvm-gateway"); value NULL removes it. */
static void dkey(const struct keystore *k, const char *name, const char *value)
{
	char path[96];

	snprintf(path, sizeof(path), "%s%s", k->qdb ? "/" : "/local/domain/0/", name);
	if (k->qdb && value)
		tl_qdb_write(path, value);
	else if (k->qdb)
		tl_qdb_rm(path);
	else if (value)
		tl_xs_write(path, value);
	else
		tl_xs_rm(path);
}

#define DNS1 "qubes-netvm-primary-dns"
#define DNS2 "qubes-netvm-secondary-dns"
#define GW "qubes-netvm-gateway"
#define XS_DNS1 "/local/domain/0/" DNS1
#define XS_DNS2 "/local/domain/0/" DNS2

START_TEST(test_xenstore)
{
	struct keystore k;

	keystore_start(&k, _i == 1);
	write_file(RESOLV, FILE_A);
	dkey(&k, DNS1, "10.139.1.1");
	dkey(&k, DNS2, "10.139.1.2");
	dkey(&k, GW, "10.137.0.1");
	{
		struct run r;

		/* -n says where the keys come from */
		dnat(&r, "-n " FILES);
		ck_assert_msg(strstr(r.out, k.qdb ? "virtual DNS addresses from QubesDB (/tmp/qvt-qdb."
						  : "virtual DNS addresses from xenstore\n"),
			      "dry run:\n%s", r.out);
		run_free(&r);
	}
	dnat_expect(0, FILES);
	assert_rules("primary and secondary", RULES_A);
	dnat_expect(100, FILES " eth0 up");

	/* no primary: the gateway stands in for DNS1 */
	dkey(&k, DNS1, NULL);
	dnat_expect(0, FILES);
	assert_rules("gateway fallback",
		     CHAIN JUMP PAIR("10.137.0.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.2"));

	/* only the gateway */
	dkey(&k, DNS2, NULL);
	dnat_expect(0, FILES);
	assert_rules("gateway only", CHAIN JUMP PAIR("10.137.0.1", "192.168.1.1"));

	/* options win over the store */
	dnat_expect(0, DNS12);
	assert_rules("options", RULES_A);

	/* nothing at all: this VM serves no DNS, the chain is emptied */
	dkey(&k, GW, NULL);
	dnat_expect(0, FILES);
	assert_rules("no virtual address", RULES_NONE);
	dnat_expect(100, FILES);

	/* empty values count as absent, not as malformed */
	dkey(&k, DNS1, "");
	dkey(&k, DNS2, "");
	dnat_expect(100, FILES);
	assert_rules("empty values", RULES_NONE);

	/* --config=xenstore: xenstore's keys, whatever QubesDB says */
	if (k.qdb) {
		dnat_expect(0, "--config=xenstore " FILES);
		assert_rules("xenstore's decoys", CHAIN JUMP PAIR("10.139.9.9", "192.168.1.1")
							 PAIR("10.139.9.8", "192.168.1.2"));
	}
	keystore_stop(&k);
}
END_TEST

static const struct {
	const char *dns1, *dns2, *gw, *needle;
} xs_bad[] = {
	{ "10.139.1.300", "10.139.1.2", NULL, "qubes-netvm-primary-dns" },
	{ "10.139.1.1", "junk", NULL, "qubes-netvm-secondary-dns" },
	{ "10.139.1.1 ", NULL, NULL, "qubes-netvm-primary-dns" },
	{ "10.139.1.1\n", NULL, NULL, "qubes-netvm-primary-dns" },
	{ "224.0.0.1", NULL, NULL, "qubes-netvm-primary-dns" },
	{ "127.0.0.1", NULL, NULL, "qubes-netvm-primary-dns" },
	{ "fd09::1", NULL, NULL, "qubes-netvm-primary-dns" },
	{ "10.139.1.1", "0.0.0.0", NULL, "qubes-netvm-secondary-dns" },
	{ NULL, NULL, "10.137.0.256", "qubes-netvm-gateway" },
	{ NULL, "10.139.1.2", NULL, "qubes-netvm-secondary-dns" },
};

/* A bad value in the store is an error, never passed on; the chain stays
 * as it was. Each case in both stores (_i: case * 2 + store). */
START_TEST(test_xenstore_bad)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	unsigned c = (unsigned)_i / 2;
	struct keystore k;
	struct run r;

	keystore_start(&k, _i % 2);
	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();

	if (xs_bad[c].dns1)
		dkey(&k, DNS1, xs_bad[c].dns1);
	if (xs_bad[c].dns2)
		dkey(&k, DNS2, xs_bad[c].dns2);
	if (xs_bad[c].gw)
		dkey(&k, GW, xs_bad[c].gw);
	dnat(&r, FILES);
	ck_assert_msg(r.status == 1, "case %u: exit %d; stderr:\n%s", c, r.status, r.err);
	assert_one_error_line(&r, xs_bad[c].needle);
	assert_one_error_line(&r, k.qdb ? "QubesDB key /" : "xenstore key ");
	run_free(&r);
	after = nat_full();
	assert_text("nat table after the error", after, before);
	keystore_stop(&k);
}
END_TEST

/* QubesDB's socket is there but nobody answers: an error, never xenstore. */
START_TEST(test_qubesdb_unreachable)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	pid_t xsd = tl_xenstored_start();
	struct run r;

	free(tl_sh("python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind(\"/tmp/qvt-dead.sock\")'"));
	setenv("QUBESDB_SOCKET", "/tmp/qvt-dead.sock", 1);
	tl_xs_write("/local/domain/0/" DNS1, "10.139.1.1");
	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();
	dnat(&r, FILES);
	ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "cannot connect to QubesDB (/tmp/qvt-dead.sock)");
	run_free(&r);
	after = nat_full();
	assert_text("nat table after the error", after, before);
	unsetenv("QUBESDB_SOCKET");
	tl_xenstored_stop(xsd);
}
END_TEST

START_TEST(test_xenstore_unreachable)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();
	/* the fixture points XENSTORED_PATH at a socket nobody listens on */
	dnat(&r, FILES);
	ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "xenstore");
	run_free(&r);
	dnat(&r, FILES " eth0 up");
	ck_assert_msg(r.status == 1, "dispatcher: exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "xenstore");
	run_free(&r);
	after = nat_full();
	assert_text("nat table after the error", after, before);
}
END_TEST

/* "--dns2 needs --dns1" holds whether or not dispatcher arguments follow:
 * with a reachable store holding other addresses, a lone --dns2 must not
 * be dropped silently in favour of the store. */
START_TEST(test_dns2_without_dns1)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	pid_t xsd = tl_xenstored_start();
	struct run r;

	write_file(RESOLV, FILE_A);
	tl_xs_write(XS_DNS1, "10.139.1.1");
	tl_xs_write(XS_DNS2, "10.139.1.2");
	free(tl_sh("iptables-legacy -t nat -S >/dev/null"));
	before = nat_full();

	dnat(&r, "--dns2 10.139.1.9 " FILES);
	ck_assert_msg(r.status == 1, "no arguments: exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "--dns2 needs --dns1");
	run_free(&r);

	dnat(&r, "--dns2 10.139.1.9 " FILES " eth0 up");
	ck_assert_msg(r.status == 1, "'eth0 up': exit %d, expected 1; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "--dns2 needs --dns1");
	run_free(&r);

	after = nat_full();
	assert_text("nat table", after, before);
	tl_xenstored_stop(xsd);
}
END_TEST

/* ---- dispatcher actions ------------------------------------------------- */

static const char *const acting[] = { "up", "down", "vpn-up", "vpn-down", "dhcp4-change", "dns-change", "reapply" };

START_TEST(test_dispatcher_acts)
{
	char args[256];

	write_file(RESOLV, FILE_A);
	snprintf(args, sizeof(args), DNS12 " eth0 %s", acting[_i]);
	dnat_expect(0, args);
	assert_rules(args, RULES_A);
	dnat_expect(100, args);
}
END_TEST

static const char *const ignored[] = {
	"pre-up", "pre-down", "hostname", "connectivity-change", "dhcp6-change", "vpn-pre-up", "vpn-pre-down",
	"UP", "up2", "''", "'up '",
};

START_TEST(test_dispatcher_ignores)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	char args[256];
	struct run r;

	/* Fresh namespace: no table at all, and none may appear. */
	write_file(RESOLV, FILE_A);
	before = all_tables();
	ck_assert_str_eq(before, "");
	snprintf(args, sizeof(args), DNS12 " eth0 %s", ignored[_i]);
	dnat(&r, "%s", args);
	ck_assert_msg(r.status == 0, "'%s': exit %d; stderr:\n%s", args, r.status, r.err);
	run_free(&r);
	after = all_tables();
	assert_text(args, after, "");

	/* A stale chain stays stale too: the action is not ours. */
	write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	write_file(RESOLV, FILE_A);
	free(before);
	before = all_tables();
	dnat(&r, "%s", args);
	ck_assert_msg(r.status == 0, "'%s' on a stale chain: exit %d; stderr:\n%s", args, r.status, r.err);
	run_free(&r);
	free(after);
	after = all_tables();
	assert_text(args, after, before);
	assert_rules("stale chain kept", RULES_B);
}
END_TEST

START_TEST(test_help_version)
{
	struct run r;

	dnat(&r, "-h");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "Usage:"), "%s", r.out);
	run_free(&r);
	dnat(&r, "--version");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "qubes-setup-dnat-to-ns ", 23) == 0, "%s", r.out);
	run_free(&r);
	{
		_cleanup_free_ char *t = all_tables();

		ck_assert_str_eq(t, "");
	}
}
END_TEST

/* ---- bad input ---------------------------------------------------------- */

static const struct {
	const char *args, *needle;
} bad[] = {
	{ "--dns1 10.139.1.300 " FILES, "10.139.1.300" },
	{ "--dns1 224.0.0.1 " FILES, "224.0.0.1" },
	{ "--dns1 127.0.0.1 " FILES, "127.0.0.1" },
	{ "--dns1 0.0.0.0 " FILES, "0.0.0.0" },
	{ "--dns1 255.255.255.255 " FILES, "255.255.255.255" },
	{ "--dns1 '' " FILES, "--dns1" },
	{ "--dns1 ' 10.139.1.1' " FILES, "--dns1" },
	{ "--dns1 10.139.1.1/32 " FILES, "10.139.1.1/32" },
	{ "--dns1 fd09::1 " FILES, "fd09::1" },
	{ "--dns1 10.139.1.01 " FILES, "10.139.1.01" },
	{ "--dns1 10.139.1.1 --dns2 junk " FILES, "junk" },
	{ "--dns1 10.139.1.1 --dns2 10.139.1.2x " FILES, "--dns2" },
	{ "--dns2 10.139.1.2 " FILES, "--dns2 needs --dns1" },
	{ "--bogus " DNS12, "unknown option" },
	{ DNS12 " eth0", "IFACE ACTION" },
	{ DNS12 " eth0 up extra", "IFACE ACTION" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/dir", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/fifo", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /dev/null", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/link-to-dir", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/stub --resolved-conf /tmp/dir", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/stub --resolved-conf /tmp/fifo", "not a regular file" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/loop", "/tmp/loop" },
	{ "--dns1 10.139.1.1 --resolv-conf /tmp/resolv.conf/x", "/tmp/resolv.conf/x" },
};

START_TEST(test_bad_input)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	write_file(RESOLV, FILE_A);
	write_file("/tmp/stub", "nameserver 127.0.0.53\n");
	ck_assert_int_eq(mkdir("/tmp/dir", 0755), 0);
	ck_assert_int_eq(mkfifo("/tmp/fifo", 0644), 0);
	ck_assert_int_eq(symlink("/tmp/dir", "/tmp/link-to-dir"), 0);
	ck_assert_int_eq(symlink("/tmp/loop", "/tmp/loop"), 0);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();

	dnat(&r, "%s", bad[_i].args);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", bad[_i].args, r.status, r.err);
	assert_one_error_line(&r, bad[_i].needle);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	after = nat_full();
	assert_text(bad[_i].args, after, before);
}
END_TEST

/* ---- not root ----------------------------------------------------------- */

/* Run as nobody, without any capability: the nat table can be neither read
 * nor changed, and the error says why instead of a bare "Permission
 * denied" (the xtables lock file is root's) or "Operation not permitted"
 * (the kernel refuses the table to a process without CAP_NET_ADMIN). */
static const struct {
	const char *env, *args;
} unprivileged[] = {
	{ "", DNS12 },
	{ "XTABLES_LOCKFILE=/tmp/nobody.lock", DNS12 },
	{ "", "-n " DNS12 },
	{ "XTABLES_LOCKFILE=/tmp/nobody.lock", "-n " DNS12 " eth0 up" },
	{ "", FILES },
};

#define AS_NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups env "

START_TEST(test_not_root)
{
	_cleanup_free_ char *before = NULL, *after = NULL, *cmd = NULL;
	struct run r;

	write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	set_counters();
	before = nat_full();

	ck_assert_int_ge(asprintf(&cmd, "timeout 30 " AS_NOBODY "%s %s %s", unprivileged[_i].env,
				  tl_prog("SETUP_DNAT_TO_NS"), unprivileged[_i].args), 0);
	run_cmd(&r, cmd);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", cmd, r.status, r.err);
	assert_one_error_line(&r, "needs root (CAP_NET_ADMIN)");
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	after = nat_full();
	assert_text(cmd, after, before);
}
END_TEST

/* What needs no privilege still works without: help, version, and the
 * dispatcher actions the program ignores. */
START_TEST(test_not_root_harmless)
{
	static const char *const args[] = { "-h", "--version", DNS12 " eth0 pre-up" };

	for (size_t i = 0; i < ELEMENTSOF(args); i++) {
		_cleanup_free_ char *cmd = NULL;
		struct run r;

		ck_assert_int_ge(asprintf(&cmd, "timeout 30 " AS_NOBODY "%s %s", tl_prog("SETUP_DNAT_TO_NS"), args[i]),
				 0);
		run_cmd(&r, cmd);
		ck_assert_msg(r.status == 0, "'%s': exit %d; stderr:\n%s", cmd, r.status, r.err);
		run_free(&r);
	}
}
END_TEST

/* A resolv.conf far larger than any real one: read up to the cap, with a
 * warning, and never a hang or an error. */
START_TEST(test_huge_resolv_conf)
{
	struct run r;

	/* 20 MiB of junk lines, then a server the cap keeps out of reach */
	free(tl_sh("head -c 20971520 /dev/zero | tr '\\0' 'x' | fold -w 100 > " RESOLV " && "
		   "echo 'nameserver 192.168.1.9' >> " RESOLV));
	dnat(&r, DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "warning: ") && strstr(r.err, "MiB"), "no size warning:\n%s", r.err);
	run_free(&r);
	assert_rules("past the cap", RULES_DROP);

	/* the server first, then 20 MiB of one line */
	free(tl_sh("{ printf '" FILE_A "'; head -c 20971520 /dev/zero | tr '\\0' 'y'; } > " RESOLV));
	dnat_expect(0, DNS12);
	assert_rules("before the junk", RULES_A);
}
END_TEST

/* The size cap may fall inside a line: what was read of that line is not a
 * line, and must never yield a server the file does not name. Here the cap
 * cuts "nameserver 10.0.0.12" right after "10.0.0.1". */
START_TEST(test_cap_cuts_a_line)
{
	_cleanup_free_ char *got = NULL;
	struct run r;

	free(tl_sh("{ head -c $((16777216 - 20)) /dev/zero | tr '\\0' '#'; printf '\\nnameserver 10.0.0.12\\n'; } > " RESOLV
		   " && [ $(stat -c %%s " RESOLV ") = $((16777216 + 2)) ] && "
		   "[ \"$(head -c 16777216 " RESOLV " | tail -c 19)\" = 'nameserver 10.0.0.1' ]"));
	dnat(&r, "--dns1 10.139.1.1 " FILES);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	run_free(&r);
	got = nat_rules();
	ck_assert_msg(streq(got, CHAIN JUMP PAIR("10.139.1.1", DROP)) || streq(got, CHAIN JUMP PAIR("10.139.1.1", "10.0.0.12")),
		      "a line cut by the 16 MiB cap was used as a whole line:\n%s", got);
}
END_TEST

/* ---- dry run ------------------------------------------------------------ */

START_TEST(test_dry_run)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	write_file(RESOLV, FILE_A);
	free(tl_sh("iptables-legacy -t nat -S >/dev/null"));
	before = nat_full();

	/* chain absent: a real run would change it */
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "-A PR-QBS -d 10.139.1.1 -p udp --dport 53 -j DNAT --to-destination 192.168.1.1\n"),
		      "dry run does not show the rules:\n%s", r.out);
	ck_assert_int_eq(count(r.out, "-A PR-QBS "), 4);
	run_free(&r);
	after = nat_full();
	assert_text("dry run on an empty table", after, before);

	/* a real run, then the dry run says "unchanged" */
	dnat_expect(0, DNS12);
	set_counters();
	free(before);
	before = nat_full();
	dnat(&r, "--dry-run " DNS12);
	ck_assert_msg(r.status == 100, "exit %d; stderr:\n%s", r.status, r.err);
	run_free(&r);

	/* another uplink: the dry run says "changed" and changes nothing */
	write_file(RESOLV, FILE_B);
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_int_eq(count(r.out, "--to-destination 10.0.0.1\n"), 4);
	run_free(&r);
	write_file(RESOLV, "");
	dnat_expect(0, "-n " DNS12);
	free(after);
	after = nat_full();
	assert_text("dry runs on a set chain", after, before);

	/* jump missing only */
	write_file(RESOLV, FILE_A);
	free(tl_sh(IPT "-D PREROUTING -j PR-QBS"));
	dnat_expect(0, "-n " DNS12);
	assert_rules("dry run, jump missing", CHAIN PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.2"));
	dnat_expect(0, DNS12);
	assert_rules("real run, jump added", RULES_A);
	dnat_expect(100, "-n " DNS12);
}
END_TEST

/* ---- nftables present --------------------------------------------------- */

START_TEST(test_nft_warning)
{
	struct run r;

	if (tl_run(NULL, "command -v nft >/dev/null") != 0) {
		fprintf(stderr, "nft not found: nothing to check\n");
		return;
	}
	write_file(RESOLV, FILE_A);
	dnat(&r, DNS12);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.err, "nftables"), "warning without nftables tables:\n%s", r.err);
	run_free(&r);

	free(tl_sh("nft add table inet filter"));
	dnat(&r, DNS12);
	ck_assert_msg(r.status == 100, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(count(r.err, "nftables") == 1 && count(r.err, "\n") == 1 && strstr(r.err, "warning: ") &&
			      strstr(r.err, "iptables-legacy-save"),
		      "expected one warning line:\n%s", r.err);
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnat");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_creates_chain_and_jump);
	tcase_add_test(tc, test_chain_without_jump);
	tcase_add_test(tc, test_rules_from_iptables_recognised);
	tcase_add_test(tc, test_unchanged_commits_nothing);
	tcase_add_loop_test(tc, test_foreign_rules_replaced, 0, ELEMENTSOF(foreign));
	tcase_add_test(tc, test_uplink_switch);
	tcase_add_test(tc, test_first_run_without_resolver);
	tcase_add_test(tc, test_no_resolver_drops_packets);
	tcase_add_test(tc, test_no_resolver_save_restore);
	tcase_add_test(tc, test_no_resolver_dry_run);
	tcase_add_loop_test(tc, test_shapes, 0, ELEMENTSOF(shapes));
	tcase_add_test(tc, test_loopback_warning);
	tcase_add_test(tc, test_stub_follows_resolved);
	tcase_add_test(tc, test_stub_with_others_not_followed);
	tcase_add_loop_test(tc, test_named_file_missing, 0, ELEMENTSOF(missing));
	tcase_add_test(tc, test_default_resolv_conf_absent);
	tcase_add_test(tc, test_huge_resolv_conf);
	tcase_add_test(tc, test_cap_cuts_a_line);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_nft_warning);
	suite_add_tcase(s, tc);

	tc = tcase_create("xenstore");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_loop_test(tc, test_xenstore, 0, 2); /* xenstore, QubesDB */
	tcase_add_test(tc, test_no_resolver_no_virtual_address);
	tcase_add_loop_test(tc, test_xenstore_bad, 0, 2 * ELEMENTSOF(xs_bad));
	tcase_add_test(tc, test_xenstore_unreachable);
	tcase_add_test(tc, test_qubesdb_unreachable);
	tcase_add_test(tc, test_dns2_without_dns1);
	suite_add_tcase(s, tc);

	tc = tcase_create("invocation");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_loop_test(tc, test_dispatcher_acts, 0, ELEMENTSOF(acting));
	tcase_add_loop_test(tc, test_dispatcher_ignores, 0, ELEMENTSOF(ignored));
	tcase_add_test(tc, test_help_version);
	tcase_add_loop_test(tc, test_bad_input, 0, ELEMENTSOF(bad));
	tcase_add_loop_test(tc, test_not_root, 0, ELEMENTSOF(unprivileged));
	tcase_add_test(tc, test_not_root_harmless);
	suite_add_tcase(s, tc);

	return tl_main(s, true);
}
