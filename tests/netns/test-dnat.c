/* setup-dnat-to-ns end to end in a private netns, once per firewall
 * generation: the real binary, with resolv.conf files written into the
 * test's private /tmp, the virtual DNS addresses from options or from the
 * test xenstored or QubesDB, and the result read back with
 * iptables-legacy-save (x_tables: nat chain PR-QBS) or nft (nftables: chain
 * dnat-dns of table ip qubes, the base ruleset loaded first so that auto
 * picks that generation). One test body per behaviour; a TCase per backend. */
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

/* The two-resolver uplink (file A) and the one-resolver uplink (file B). */
#define FILE_A "nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
#define FILE_B "nameserver 10.0.0.1\n"

/* What our chain must hold, in either backend's terms: pairs "DNS=TO"
 * (TO "drop": no usable resolver), each one udp and one tcp rule. */
#define SET_A "10.139.1.1=192.168.1.1 10.139.1.2=192.168.1.2"
#define SET_B "10.139.1.1=10.0.0.1 10.139.1.2=10.0.0.1"
#define SET_DROP "10.139.1.1=drop 10.139.1.2=drop"
/* No virtual address: nothing to forward, nothing to drop (the chain is
 * there, empty). */
#define SET_NONE ""

#define ERR_PREFIX "qubes-setup-dnat-to-ns: error: "

/* ---- the backend of the running TCase ----------------------------------- */

static enum fw_backend fw;

static bool nft(void)
{
	return fw == FW_NFTABLES;
}

/* x_tables: the chain, its jump, and the two rules of a pair; a dropping
 * pair DNATs to 0.0.0.0, which the kernel drops as a martian. */
#define IPT_CHAIN ":PR-QBS -\n"
#define IPT_JUMP "-A PREROUTING -j PR-QBS\n"
/* nftables: the chain's base line, as nft lists it. */
#define NFT_BASE "type nat hook prerouting priority dstnat; policy accept;\n"

/* The text our chain's listing (chain_rules()) shows for pairs (see SET_A). */
static char *expect(const char *pairs)
{
	_cleanup_free_ char *spec = strdup(pairs);
	char *out = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(spec);
	ck_assert_ptr_nonnull(f);
	fputs(nft() ? NFT_BASE : IPT_CHAIN IPT_JUMP, f);
	for (char *tok = strtok_r(spec, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *to = strchr(tok, '=');
		static const char *const protos[] = { "udp", "tcp" };

		ck_assert_ptr_nonnull(to);
		*to++ = 0;
		for (size_t i = 0; i < ELEMENTSOF(protos); i++)
			if (nft() && streq(to, "drop"))
				fprintf(f, "ip daddr %s %s dport 53 drop\n", tok, protos[i]);
			else if (nft())
				fprintf(f, "ip daddr %s %s dport 53 dnat to %s\n", tok, protos[i], to);
			else
				fprintf(f, "-A PR-QBS -d %s/32 -p %s -m %s --dport 53 -j DNAT --to-destination %s\n", tok,
					protos[i], protos[i], streq(to, "drop") ? "0.0.0.0" : to);
	}
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* Our chain: x_tables: its header and every -A line of the nat table
 * (counters off); nftables: the base line and rules of dnat-dns. "" when
 * there is no such chain. */
static char *chain_rules(void)
{
	if (nft())
		return tl_sh("nft list chain ip qubes dnat-dns 2>/dev/null | sed -n 's/^\\t\\t//p'");
	return tl_sh("iptables-legacy-save -t nat | grep -E '^(:PR-QBS |-A )' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' || true");
}

/* Everything a run could change, in both generations (the backend not in
 * use must stay untouched too): to compare byte for byte. */
static char *full(void)
{
	_cleanup_free_ char *x = tl_fw_dump(FW_IPTABLES), *n = tl_fw_dump(FW_NFTABLES);
	char *all = NULL;

	ck_assert_int_ge(asprintf(&all, "%s--- nftables\n%s", x, n), 0);
	return all;
}

/* Everything but our chain (and, in x_tables, its jump): what a run must
 * never touch (blank lines left out: nft separates chains by one). */
static char *others(void)
{
	if (nft())
		return tl_sh("nft -a list ruleset | awk '/^\\tchain dnat-dns /{skip=1} !skip && NF{print} "
			     "skip&&/^\\t}/{skip=0}'");
	return tl_sh("iptables-legacy-save -c | grep -v '^#' | grep -v -e '^:PR-QBS ' -e 'PR-QBS' || true");
}

/* Whole rulesets are too long for a check message: they go to stderr. */
static void assert_text(const char *what, const char *got, const char *want)
{
	if (streq(got, want))
		return;
	fprintf(stderr, "%s:\n--- got\n%s--- want\n%s", what, got, want);
	ck_abort_msg("%s: not as expected (see the test's stderr)", what);
}

/* Our chain holds exactly pairs (SET_*). */
static void assert_chain(const char *what, const char *pairs)
{
	_cleanup_free_ char *got = chain_rules(), *want = expect(pairs);

	assert_text(what, got, want);
}

static void assert_no_chain(const char *what)
{
	_cleanup_free_ char *got = chain_rules();

	assert_text(what, got, "");
}

/* Marks the rules of our chain, so that a rewrite shows: x_tables counters
 * set to [7:700] through iptables-legacy-restore -c (a rewritten rule comes
 * back with [0:0]); nftables handles recorded (a re-created rule gets a new
 * one). */
static void mark(void)
{
	if (nft()) {
		free(tl_sh("nft -a list chain ip qubes dnat-dns | sed -n 's/^\\t\\t.* # handle \\([0-9]*\\)$/\\1/p' > "
			   "/tmp/marks"));
		return;
	}
	free(tl_sh("iptables-legacy-save -c -t nat | sed 's/^\\[0:0\\] -A PR-QBS /[7:700] -A PR-QBS /' | "
		   "iptables-legacy-restore -c"));
}

/* How many rules of our chain are still the ones mark() marked. */
static int marked(void)
{
	_cleanup_free_ char *c = NULL;

	if (nft())
		c = tl_sh("[ -s /tmp/marks ] || exit 0; nft -a list chain ip qubes dnat-dns 2>/dev/null | "
			  "sed -n 's/^\\t\\t.* # handle \\([0-9]*\\)$/\\1/p' | grep -c -x -F -f /tmp/marks || true");
	else
		c = tl_sh("iptables-legacy-save -c -t nat | grep -c '^\\[7:700\\] -A PR-QBS ' || true");
	return atoi(c);
}

/* ---- running the program -------------------------------------------------- */

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
	ret->err = tl_slurp("/tmp/dnat.err");
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

static void assert_one_error_line(const struct run *r, const char *needle)
{
	const char *nl = strchr(r->err, '\n');

	ck_assert_msg(strncmp(r->err, ERR_PREFIX, strlen(ERR_PREFIX)) == 0, "stderr does not start with '%s':\n%s",
		      ERR_PREFIX, r->err);
	ck_assert_msg(nl && nl[1] == 0, "stderr is not exactly one line:\n%s", r->err);
	ck_assert_msg(strstr(r->err, needle), "stderr lacks '%s':\n%s", needle, r->err);
}

static bool have_strace(void)
{
	return tl_run(NULL, "command -v strace >/dev/null") == 0;
}

/* How many commits the program made: x_tables table replaces, counted
 * under strace (LeakSanitizer cannot run under ptrace: off for this run);
 * nf_tables batches, by how far the generation id moved. -1: cannot be told
 * (no strace). */
static int commits_of(int want_status, const char *args)
{
	_cleanup_free_ char *n = NULL, *cmd = NULL;
	uint32_t gen0 = 0;
	struct run r;

	if (nft()) {
		gen0 = tl_nft_genid();
		ck_assert_int_ge(asprintf(&cmd, "timeout 30 %s %s", tl_prog("SETUP_DNAT_TO_NS"), args), 0);
	} else if (have_strace())
		ck_assert_int_ge(asprintf(&cmd, "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" timeout 30 strace -f -qq "
						"-e trace=setsockopt -o /tmp/dnat.strace %s %s",
					  tl_prog("SETUP_DNAT_TO_NS"), args), 0);
	else {
		dnat_expect(want_status, args);
		return -1;
	}
	run_cmd(&r, cmd);
	ck_assert_msg(r.status == want_status, "'%s' exited %d, expected %d; stderr:\n%s", args, r.status,
		      want_status, r.err);
	run_free(&r);
	if (nft())
		return (int)(tl_nft_genid() - gen0);
	n = tl_sh("grep -c IPT_SO_SET_REPLACE /tmp/dnat.strace || true");
	return atoi(n);
}

/* Lines of a dry run's "should hold" list (two blanks, then a rule in the
 * backend's syntax), and those of them ending with suffix. */
static int listed(const char *out, const char *suffix)
{
	const char *prefix = nft() ? "  ip daddr " : "  -A PR-QBS ";
	int n = 0;

	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");

		if (strncmp(p, prefix, strlen(prefix)) == 0 && len >= strlen(suffix) &&
		    strncmp(p + len - strlen(suffix), suffix, strlen(suffix)) == 0)
			n++;
		p += len + (p[len] == '\n');
	}
	return n;
}

/* ---- fixtures ------------------------------------------------------------- */

static void fixture_setup(void)
{
	tl_netns_setup();
	/* No run may reach a xenstored or QubesDB outside the test by accident. */
	setenv("XENSTORED_PATH", "/tmp/no-xenstored/socket", 1);
	unsetenv("QUBESDB_SOCKET");
	tl_write_file(RESOLVED, "nameserver 203.0.113.99\n"); /* must only be read for the stub */
}

static void fixture_setup_iptables(void)
{
	fw = FW_IPTABLES;
	fixture_setup();
}

/* The base ruleset a Qubes R4.2+ netvm loads at boot: auto picks nftables. */
static void fixture_setup_nftables(void)
{
	fw = FW_NFTABLES;
	fixture_setup();
	tl_nft_base_load();
}

static void fixture_teardown(void)
{
	tl_netns_teardown();
}

/* ---- creation ----------------------------------------------------------- */

START_TEST(test_creates_chain)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	/* Other tables and chains hold rules of their own that must not move. */
	if (nft())
		free(tl_sh("nft add rule ip qubes custom-input ip saddr 192.0.2.7 drop && "
			   "nft add table inet other && nft add chain inet other c '{ type filter hook prerouting "
			   "priority -10; }' && nft add rule inet other c iifname eth9 drop"));
	else
		free(tl_sh("iptables-legacy -A INPUT -s 192.0.2.7 -j DROP && iptables-legacy -t raw -A PREROUTING -i eth9 "
			   "-j DROP && iptables-legacy -t nat -N OTHER"));
	before = others();
	tl_write_file(RESOLV, "# Generated by NetworkManager\nsearch lan\n" FILE_A);

	dnat(&r, DNS12);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_chain("first run", SET_A);
	ck_assert_msg(strstr(r.err, "10.139.1.1 to 192.168.1.1"), "no report of the change:\n%s", r.err);
	ck_assert_msg(!strstr(r.err, "error") && !strstr(r.err, "warning"), "stderr: %s", r.err);
	run_free(&r);

	after = others();
	assert_text("the rest of the ruleset", after, before);
	if (nft()) {
		/* nothing in the x_tables generation */
		_cleanup_free_ char *x = tl_fw_dump(FW_IPTABLES);

		assert_text("x_tables", x, "");
	}

	dnat(&r, DNS12);
	ck_assert_msg(r.status == 100, "second run exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	assert_chain("second run", SET_A);
}
END_TEST

/* x_tables: the jump goes after what PREROUTING already holds; the rules
 * already right are left alone (their counters survive). */
START_TEST(test_chain_without_jump)
{
	tl_write_file(RESOLV, FILE_A);
	free(tl_sh("iptables-legacy -t nat -A PREROUTING -i eth9 -j RETURN && iptables-legacy -t nat -N PR-QBS && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.1 -p $p --dport 53 -j DNAT "
		   "--to-destination 192.168.1.1; done && "
		   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.2 -p $p --dport 53 -j DNAT "
		   "--to-destination 192.168.1.2; done"));
	mark();
	ck_assert_int_eq(marked(), 4);

	dnat_expect(0, DNS12);
	{
		_cleanup_free_ char *got = chain_rules(), *rules = expect(SET_A), *want = NULL;

		/* the jump after the RETURN */
		ck_assert_int_ge(asprintf(&want, IPT_CHAIN "-A PREROUTING -i eth9 -j RETURN\n%s",
					  rules + strlen(IPT_CHAIN)), 0);
		assert_text("jump added", got, want);
	}
	ck_assert_msg(marked() == 4, "rules that were right got rewritten");
	dnat_expect(100, DNS12);
}
END_TEST

/* The chain written by the generation's own tool, with the same rules, is
 * recognised as ours: nothing committed. */
#define NFT_FILE_HEAD "table ip qubes {\n\tchain dnat-dns {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"

START_TEST(test_rules_from_native_tool)
{
	uint32_t gen = 0;

	tl_write_file(RESOLV, FILE_A);
	if (nft()) {
		tl_write_file("/tmp/dnat.nft", NFT_FILE_HEAD
			      "\t\tip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1\n"
			      "\t\tip daddr 10.139.1.1 tcp dport 53 dnat to 192.168.1.1\n"
			      "\t\tip daddr 10.139.1.2 udp dport 53 dnat to 192.168.1.2\n"
			      "\t\tip daddr 10.139.1.2 tcp dport 53 dnat to 192.168.1.2\n\t}\n}\n");
		free(tl_sh("nft -f /tmp/dnat.nft"));
		gen = tl_nft_genid();
	} else
		free(tl_sh("iptables-legacy -t nat -N PR-QBS && iptables-legacy -t nat -A PREROUTING -j PR-QBS && "
			   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.1/32 -p $p -m $p --dport 53 -j "
			   "DNAT --to-destination 192.168.1.1; done && "
			   "for p in udp tcp; do iptables-legacy -t nat -A PR-QBS -d 10.139.1.2/32 -p $p -m $p --dport 53 -j "
			   "DNAT --to-destination 192.168.1.2; done"));
	mark();
	dnat_expect(100, DNS12);
	assert_chain("untouched", SET_A);
	ck_assert_int_eq(marked(), 4);
	if (!nft())
		return;
	ck_assert_uint_eq(tl_nft_genid(), gen);

	/* the drop rules too, as nft -f writes them */
	tl_write_file("/tmp/dnat.nft", "flush chain ip qubes dnat-dns\n" NFT_FILE_HEAD
		      "\t\tip daddr 10.139.1.1 udp dport 53 drop\n\t\tip daddr 10.139.1.1 tcp dport 53 drop\n"
		      "\t\tip daddr 10.139.1.2 udp dport 53 drop\n\t\tip daddr 10.139.1.2 tcp dport 53 drop\n\t}\n}\n");
	free(tl_sh("nft -f /tmp/dnat.nft"));
	gen = tl_nft_genid();
	tl_write_file(RESOLV, "");
	dnat_expect(100, DNS12);
	assert_chain("drop rules untouched", SET_DROP);
	ck_assert_uint_eq(tl_nft_genid(), gen);
}
END_TEST

/* ---- nothing committed when nothing differs ----------------------------- */

START_TEST(test_unchanged_commits_nothing)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	int n;

	tl_write_file(RESOLV, FILE_A);
	n = commits_of(0, DNS12);
	ck_assert_msg(n == -1 || n >= 1, "a changing run made no commit (is the count seeing it?)");
	if (nft())
		ck_assert_msg(n == 1, "a changing run made %d commits, not one batch", n);
	mark();
	ck_assert_int_eq(marked(), 4);
	before = full();

	n = commits_of(100, DNS12);
	if (n < 0)
		fprintf(stderr, "strace not found: checking the counters only\n");
	else
		ck_assert_msg(n == 0, "an unchanged run made %d commit(s)", n);
	after = full();
	assert_text("firewall after an unchanged run (counters, handles included)", after, before);
	ck_assert_int_eq(marked(), 4);

	/* The control: a changing run does rewrite, and the marks go. */
	tl_write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	ck_assert_int_eq(marked(), 0);
	assert_chain("switched to B", SET_B);
}
END_TEST

/* ---- whatever sits in our chain is replaced ------------------------------- */

#define IPT "iptables-legacy -t nat "
#define MKCHAIN IPT "-N PR-QBS && " IPT "-A PREROUTING -j PR-QBS && "
#define ADD_A                                                                                     \
	"for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.1 -p $p --dport 53 -j DNAT --to-destination " \
	"192.168.1.1; done && for p in udp tcp; do " IPT "-A PR-QBS -d 10.139.1.2 -p $p --dport 53 -j DNAT " \
	"--to-destination 192.168.1.2; done"
#define ADD_B                                                                                     \
	"for d in 10.139.1.1 10.139.1.2; do for p in udp tcp; do " IPT "-A PR-QBS -d $d -p $p --dport 53 -j " \
	"DNAT --to-destination 10.0.0.1; done; done"

struct foreign {
	const char *name, *setup;
};

static const struct foreign foreign_ipt[] = {
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

#define NFT_RULE "nft add rule ip qubes dnat-dns "
#define NFT_MKCHAIN(base) "nft add chain ip qubes dnat-dns '{ " base " }' && "
#define NFT_NAT_PRE "type nat hook prerouting priority dstnat; policy accept;"
#define NFT_MK NFT_MKCHAIN(NFT_NAT_PRE)
/* the right rules, with WHAT (nft words) inserted before the statement */
#define NFT_A_WITH(what)                                                                                       \
	"for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.$d $p dport 53 " what " dnat to " \
	"192.168.1.$d; done; done"
#define NFT_A NFT_A_WITH("")
#define NFT_B                                                                                         \
	"for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.$d $p dport 53 dnat to 10.0.0.1; " \
	"done; done"

static const struct foreign foreign_nft[] = {
	{ "stale resolver", NFT_MK NFT_RULE "ip daddr 10.139.1.1 udp dport 53 dnat to 6.6.6.6" },
	{ "rule of another shape", NFT_MK NFT_RULE "ip saddr 1.2.3.4 accept" },
	{ "right rules plus a counter", NFT_MK NFT_A " && " NFT_RULE "counter" },
	{ "a return before the right rules", NFT_MK NFT_RULE "return && " NFT_A },
	{ "right rules with counters", NFT_MK NFT_A_WITH("counter") },
	{ "right rules, one with a comment",
	  NFT_MK NFT_RULE "ip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1 && " NFT_RULE "ip daddr 10.139.1.1 tcp "
	  "dport 53 dnat to 192.168.1.1 && " NFT_RULE "ip daddr 10.139.1.2 udp dport 53 dnat to 192.168.1.2 && " NFT_RULE
	  "ip daddr 10.139.1.2 tcp dport 53 dnat to 192.168.1.2 comment '\"hand-made\"'" },
	{ "both sets", NFT_MK NFT_B " && " NFT_A },
	{ "twelve rules", NFT_MK NFT_A " && " NFT_A " && " NFT_A },
	{ "right rules, wrong order", NFT_MK "for d in 2 1; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.$d "
				     "$p dport 53 dnat to 192.168.1.$d; done; done" },
	{ "tcp before udp", NFT_MK "for d in 1 2; do for p in tcp udp; do " NFT_RULE "ip daddr 10.139.1.$d $p dport 53 "
			   "dnat to 192.168.1.$d; done; done" },
	{ "dnat with a port", NFT_MK "for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.$d $p dport 53 "
			     "dnat to 192.168.1.$d:53; done; done" },
	{ "an interface match", NFT_MK "for d in 1 2; do for p in udp tcp; do " NFT_RULE "iifgroup 2 ip daddr "
			       "10.139.1.$d $p dport 53 dnat to 192.168.1.$d; done; done" },
	{ "a /24 destination", NFT_MK "for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.0/24 $p "
			      "dport 53 dnat to 192.168.1.$d; done; done" },
	{ "another port", NFT_MK "for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr 10.139.1.$d $p dport 5353 "
			 "dnat to 192.168.1.$d; done; done" },
	/* listed exactly like the right rules, but `ip protocol` stands where
	 * nft puts `meta l4proto`: other expressions */
	{ "ip protocol instead of meta l4proto", NFT_MK "for d in 1 2; do for p in udp tcp; do " NFT_RULE "ip daddr "
						"10.139.1.$d ip protocol $p $p dport 53 dnat to 192.168.1.$d; "
						"done; done" },
	{ "policy drop", NFT_MKCHAIN("type nat hook prerouting priority dstnat; policy drop;") NFT_A },
	{ "priority filter", NFT_MKCHAIN("type nat hook prerouting priority filter; policy accept;") NFT_A },
	{ "hook output", NFT_MKCHAIN("type nat hook output priority -100; policy accept;") NFT_A },
	{ "type filter", NFT_MKCHAIN("type filter hook prerouting priority dstnat; policy accept;") NFT_RULE
			 "ip daddr 10.139.1.1 udp dport 53 drop" },
	{ "a regular chain", "nft add chain ip qubes dnat-dns && " NFT_A },
};

static const struct foreign *foreign(unsigned i)
{
	return nft() ? &foreign_nft[i] : &foreign_ipt[i];
}

START_TEST(test_foreign_rules_replaced)
{
	const struct foreign *f = foreign((unsigned)_i);
	_cleanup_free_ char *got = NULL, *rules = expect(SET_A), *want = NULL;

	tl_write_file(RESOLV, FILE_A);
	free(tl_sh("%s", f->setup));
	dnat_expect(0, DNS12);
	got = chain_rules();
	/* A second jump is somebody else's business; the chain is ours. */
	if (strstr(f->name, "jump twice"))
		ck_assert_int_ge(asprintf(&want, IPT_CHAIN IPT_JUMP "%s", rules + strlen(IPT_CHAIN)), 0);
	else
		want = strdup(rules);
	assert_text(f->name, got, want);
	dnat_expect(100, DNS12);
}
END_TEST

/* ---- the uplink changes ------------------------------------------------- */

START_TEST(test_uplink_switch)
{
	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_chain("two resolvers", SET_A);

	tl_write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	assert_chain("one resolver", SET_B);

	tl_write_file(RESOLV, "# no resolver today\nsearch lan\n");
	dnat_expect(0, DNS12);
	assert_chain("no resolver", SET_DROP);
	dnat_expect(100, DNS12);

	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_chain("two again", SET_A);

	/* only the virtual addresses change */
	dnat_expect(0, "--dns1 10.139.1.1 --dns2 10.139.1.3 " FILES);
	assert_chain("new DNS2", "10.139.1.1=192.168.1.1 10.139.1.3=192.168.1.2");
}
END_TEST

START_TEST(test_first_run_without_resolver)
{
	struct run r;

	tl_write_file(RESOLV, "nameserver fd00::1\nnameserver 127.0.0.1\n");
	dnat(&r, DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "warning: no usable resolver"), "no warning about the missing resolver:\n%s", r.err);
	run_free(&r);
	assert_chain("no usable resolver", SET_DROP);
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
 * to DNS1/DNS2 that our chain does not stop leaves through the uplink. Port
 * 53 is counted (by x_tables rules, whichever backend is tested) where it
 * arrives, in our raw PREROUTING, and where it could go: upstream's
 * PREROUTING, our FORWARD and INPUT. */
static void dns_topology(pid_t client, pid_t upstream)
{
	free(tl_sh("ip link add vif3.0 type veth peer name eth0 netns %d && "
		   "ip link add wan0 type veth peer name eth0 netns %d && "
		   "ip addr add 10.137.0.1/24 dev vif3.0 && ip link set vif3.0 up && "
		   "ip addr add 192.168.100.2/24 dev wan0 && ip link set wan0 up && "
		   "ip route add default via 192.168.100.1 && sysctl -qw net.ipv4.ip_forward=1 && "
		   "for p in udp tcp; do iptables-legacy -w -A FORWARD -p $p --dport 53 && "
		   "iptables-legacy -w -A INPUT -p $p --dport 53 && "
		   "iptables-legacy -w -t raw -A PREROUTING -i vif3.0 -p $p --dport 53; done",
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
	tl_write_file(RESOLV, "# the uplink gave no resolver\n");
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
	/* they did arrive */
	for (size_t i = 0; i < ELEMENTSOF(protos); i++)
		ck_assert_msg(dns_counter(0, "raw", "PREROUTING", protos[i]) >= 2, "no %s query arrived", protos[i]);
	/* x_tables: each rule of PR-QBS stopped its own (nftables rules
	 * carry no counter) */
	if (!nft()) {
		hits = tl_sh("iptables-legacy-save -c -t nat | grep -c '^\\[[1-9][0-9]*:[0-9]*\\] -A PR-QBS .* "
			     "--to-destination 0.0.0.0$' || true");
		ck_assert_msg(atoi(hits) == 4, "%d of the 4 rules of PR-QBS counted a query", atoi(hits));
	}

	/* The control: with a resolver (upstream itself), the same queries
	 * do leave through the uplink, so the counters above can count. */
	tl_write_file(RESOLV, "nameserver 192.168.100.1\n");
	dnat_expect(0, DNS12);
	client_queries(client);
	for (size_t i = 0; i < ELEMENTSOF(protos); i++)
		ck_assert_msg(dns_counter(upstream, "mangle", "PREROUTING", protos[i]) >= 2,
			      "with a resolver, %s queries did not reach upstream", protos[i]);
	peer_netns_stop(client);
	peer_netns_stop(upstream);
}
END_TEST

/* The drop form (in x_tables a DNAT to 0.0.0.0, as iptables cannot -j DROP
 * in the nat table) must survive what administrators and distributions do
 * with rules: save and restore (iptables-legacy-save | -restore; nft list
 * ruleset, flush, nft -f). */
START_TEST(test_no_resolver_save_restore)
{
	_cleanup_free_ char *saved = NULL, *restored = NULL;

	tl_write_file(RESOLV, "");
	dnat_expect(0, DNS12);
	assert_chain("no resolver", SET_DROP);
	if (nft()) {
		saved = tl_sh("nft list ruleset | tee /tmp/saved.nft");
		free(tl_sh("nft flush ruleset && nft -f /tmp/saved.nft"));
		restored = tl_sh("nft list ruleset");
	} else {
		saved = tl_sh("iptables-legacy-save -t nat | grep -v '^#'");
		free(tl_sh("iptables-legacy-save -t nat | iptables-legacy-restore -w"));
		restored = tl_sh("iptables-legacy-save -t nat | grep -v '^#'");
	}
	assert_text("ruleset after save | restore", restored, saved);
	/* and the program recognises the restored rules as its own */
	dnat_expect(100, DNS12);
	/* a resolver comes back: the drop rules go */
	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	assert_chain("resolvers back", SET_A);
}
END_TEST

/* A VM with no virtual address serves no DNS: nothing to drop either. */
START_TEST(test_no_resolver_no_virtual_address)
{
	pid_t xsd = tl_xenstored_start();

	tl_write_file(RESOLV, "");
	dnat_expect(0, FILES);
	assert_chain("no virtual address, no resolver", SET_NONE);
	dnat_expect(100, FILES);
	tl_xenstored_stop(xsd);
}
END_TEST

START_TEST(test_no_resolver_dry_run)
{
	struct run r;

	tl_write_file(RESOLV, "nameserver 127.0.0.1\n");
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(listed(r.out, nft() ? " drop" : "-j DNAT --to-destination 0.0.0.0") == 4 && listed(r.out, "") == 4,
		      "the dry run does not list the 4 drop rules:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "no usable resolver") && strstr(r.out, "drop"),
		      "the dry run does not say that these rules drop the queries:\n%s", r.out);
	run_free(&r);
	assert_no_chain("dry run");
}
END_TEST

static const struct {
	const char *args, *file, *want;
} shapes[] = {
	{ "--dns1 10.139.1.1 " FILES, FILE_A, "10.139.1.1=192.168.1.1" },
	{ "--dns1 10.139.1.1 --dns2 10.139.1.1 " FILES, FILE_A, "10.139.1.1=192.168.1.1" },
	{ DNS12, FILE_B, SET_B },
	{ DNS12, FILE_A "nameserver 192.168.1.3\n", SET_A },
	{ DNS12, "nameserver 192.168.1.2\nnameserver 192.168.1.2\nnameserver 192.168.1.1\n",
	  "10.139.1.1=192.168.1.2 10.139.1.2=192.168.1.1" },
	{ DNS12, "nameserver 127.0.0.1\nnameserver fd00::1\nnameserver 1.2.3.4junk\nnameserver 192.168.1.1 x\n",
	  "10.139.1.1=192.168.1.1 10.139.1.2=192.168.1.1" },
	/* options in any order, dispatcher arguments after them */
	{ FILES " --dns2 10.139.1.2 --dns1 10.139.1.1", FILE_A, SET_A },
	{ DNS12 " eth0 dns-change", FILE_A, SET_A },
	{ "-v " DNS12, FILE_A, SET_A },
};

START_TEST(test_shapes)
{
	tl_write_file(RESOLV, shapes[_i].file);
	dnat_expect(0, shapes[_i].args);
	assert_chain(shapes[_i].args, shapes[_i].want);
	dnat_expect(100, shapes[_i].args);
}
END_TEST

START_TEST(test_loopback_warning)
{
	struct run r;

	tl_write_file(RESOLV, "nameserver 127.0.0.1\nnameserver 192.168.1.1\n");
	dnat(&r, DNS12);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.err, "warning: ") && strstr(r.err, "loopback"), "no loopback warning:\n%s", r.err);
	run_free(&r);
	assert_chain("loopback skipped", "10.139.1.1=192.168.1.1 10.139.1.2=192.168.1.1");
}
END_TEST

/* ---- systemd-resolved stub ---------------------------------------------- */

START_TEST(test_stub_follows_resolved)
{
	tl_write_file(RESOLV, "# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\n"
			   "options edns0 trust-ad\nsearch .\n");
	tl_write_file(RESOLVED, "# This is /run/systemd/resolve/resolv.conf\n" FILE_A);
	dnat_expect(0, DNS12);
	assert_chain("servers of the resolved file", SET_A);
	dnat_expect(100, DNS12);

	tl_write_file(RESOLVED, FILE_B);
	dnat_expect(0, DNS12);
	assert_chain("resolved file changed", SET_B);

	/* resolved without upstream servers: nothing to forward to */
	tl_write_file(RESOLVED, "# This is /run/systemd/resolve/resolv.conf\nsearch .\n");
	dnat_expect(0, DNS12);
	assert_chain("resolved without servers", SET_DROP);
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

/* The real /etc back: under valgrind (CK_FORK=no) every test runs in the
 * same process, and the next ones would find /etc's symlinks dangling
 * once this test's /tmp is gone. */
static void etc_restore(void)
{
	free(tl_sh("umount /etc && umount /tmp/etc.real"));
}

/* The default /etc/resolv.conf absent is an uplink without resolvers (as
 * when NetworkManager has not written it yet): the drop rules, no error.
 * So is the default systemd-resolved file absent behind the stub. */
START_TEST(test_default_resolv_conf_absent)
{
	struct run r;

	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	etc_without_resolv_conf();
	dnat(&r, DNS12_NO_FILES);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.err, "/etc/resolv.conf does not exist"), "stderr:\n%s", r.err);
	ck_assert_msg(!strstr(r.err, "error"), "stderr:\n%s", r.err);
	run_free(&r);
	assert_chain("no /etc/resolv.conf", SET_DROP);
	dnat_expect(100, DNS12_NO_FILES " eth0 up");

	if (access("/run/systemd/resolve/resolv.conf", F_OK) == 0) {
		fprintf(stderr, "/run/systemd/resolve/resolv.conf exists here: default stub case not checked\n");
		etc_restore();
		return;
	}
	dnat_expect(0, DNS12);
	tl_write_file("/etc/resolv.conf", "nameserver 127.0.0.53\n");
	dnat_expect(0, DNS12_NO_FILES);
	assert_chain("stub, no resolved file", SET_DROP);
	etc_restore();
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

	tl_write_file(RESOLV, FILE_A);
	tl_write_file("/tmp/stub", "nameserver 127.0.0.53\n");
	ck_assert_int_eq(symlink("/tmp/nowhere", "/tmp/dangling"), 0);
	dnat_expect(0, DNS12);
	mark();
	before = full();

	dnat(&r, "%s", missing[_i].args);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", missing[_i].args, r.status, r.err);
	assert_one_error_line(&r, missing[_i].needle);
	ck_assert_msg(strstr(r.err, "No such file or directory"), "the cause is not said:\n%s", r.err);
	run_free(&r);
	/* byte for byte, counters included (but the dated comments) */
	after = full();
	assert_text(missing[_i].args, after, before);
}
END_TEST

START_TEST(test_stub_with_others_not_followed)
{
	/* the resolved file names 203.0.113.99 (fixture): it must not show */
	tl_write_file(RESOLV, "nameserver 127.0.0.53\nnameserver 10.0.0.1\n");
	dnat_expect(0, DNS12);
	assert_chain("stub and a server", SET_B);

	tl_write_file(RESOLV, "nameserver 127.0.0.53\nnameserver 127.0.0.1\n");
	dnat_expect(0, DNS12);
	assert_chain("stub and another loopback", SET_DROP);
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
	tl_write_file(RESOLV, FILE_A);
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
	assert_chain("primary and secondary", SET_A);
	dnat_expect(100, FILES " eth0 up");

	/* no primary: the gateway stands in for DNS1 */
	dkey(&k, DNS1, NULL);
	dnat_expect(0, FILES);
	assert_chain("gateway fallback", "10.137.0.1=192.168.1.1 10.139.1.2=192.168.1.2");

	/* only the gateway */
	dkey(&k, DNS2, NULL);
	dnat_expect(0, FILES);
	assert_chain("gateway only", "10.137.0.1=192.168.1.1");

	/* options win over the store */
	dnat_expect(0, DNS12);
	assert_chain("options", SET_A);

	/* nothing at all: this VM serves no DNS, the chain is emptied */
	dkey(&k, GW, NULL);
	dnat_expect(0, FILES);
	assert_chain("no virtual address", SET_NONE);
	dnat_expect(100, FILES);

	/* empty values count as absent, not as malformed */
	dkey(&k, DNS1, "");
	dkey(&k, DNS2, "");
	dnat_expect(100, FILES);
	assert_chain("empty values", SET_NONE);

	/* --config=xenstore: xenstore's keys, whatever QubesDB says */
	if (k.qdb) {
		dnat_expect(0, "--config=xenstore " FILES);
		assert_chain("xenstore's decoys", "10.139.9.9=192.168.1.1 10.139.9.8=192.168.1.2");
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
	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	mark();
	before = full();

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
	after = full();
	assert_text("firewall after the error", after, before);
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
	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	mark();
	before = full();
	dnat(&r, FILES);
	ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "cannot connect to QubesDB (/tmp/qvt-dead.sock)");
	run_free(&r);
	after = full();
	assert_text("firewall after the error", after, before);
	unsetenv("QUBESDB_SOCKET");
	tl_xenstored_stop(xsd);
}
END_TEST

START_TEST(test_xenstore_unreachable)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	mark();
	before = full();
	/* the fixture points XENSTORED_PATH at a socket nobody listens on */
	dnat(&r, FILES);
	ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "xenstore");
	run_free(&r);
	dnat(&r, FILES " eth0 up");
	ck_assert_msg(r.status == 1, "dispatcher: exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "xenstore");
	run_free(&r);
	after = full();
	assert_text("firewall after the error", after, before);
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

	tl_write_file(RESOLV, FILE_A);
	tl_xs_write(XS_DNS1, "10.139.1.1");
	tl_xs_write(XS_DNS2, "10.139.1.2");
	if (!nft())
		free(tl_sh("iptables-legacy -t nat -S >/dev/null"));
	before = full();

	dnat(&r, "--dns2 10.139.1.9 " FILES);
	ck_assert_msg(r.status == 1, "no arguments: exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "--dns2 needs --dns1");
	run_free(&r);

	dnat(&r, "--dns2 10.139.1.9 " FILES " eth0 up");
	ck_assert_msg(r.status == 1, "'eth0 up': exit %d, expected 1; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "--dns2 needs --dns1");
	run_free(&r);

	after = full();
	assert_text("firewall", after, before);
	tl_xenstored_stop(xsd);
}
END_TEST

/* ---- dispatcher actions ------------------------------------------------- */

static const char *const acting[] = { "up", "down", "vpn-up", "vpn-down", "dhcp4-change", "dns-change", "reapply" };

START_TEST(test_dispatcher_acts)
{
	char args[256];

	tl_write_file(RESOLV, FILE_A);
	snprintf(args, sizeof(args), DNS12 " eth0 %s", acting[_i]);
	dnat_expect(0, args);
	assert_chain(args, SET_A);
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

	/* Fresh namespace (x_tables: no table at all; nftables: the base
	 * ruleset only), and nothing may appear. */
	tl_write_file(RESOLV, FILE_A);
	before = full();
	if (!nft())
		ck_assert_str_eq(before, "--- nftables\n");
	snprintf(args, sizeof(args), DNS12 " eth0 %s", ignored[_i]);
	dnat(&r, "%s", args);
	ck_assert_msg(r.status == 0, "'%s': exit %d; stderr:\n%s", args, r.status, r.err);
	run_free(&r);
	after = full();
	assert_text(args, after, before);

	/* A stale chain stays stale too: the action is not ours. */
	tl_write_file(RESOLV, FILE_B);
	dnat_expect(0, DNS12);
	tl_write_file(RESOLV, FILE_A);
	free(before);
	before = full();
	dnat(&r, "%s", args);
	ck_assert_msg(r.status == 0, "'%s' on a stale chain: exit %d; stderr:\n%s", args, r.status, r.err);
	run_free(&r);
	free(after);
	after = full();
	assert_text(args, after, before);
	assert_chain("stale chain kept", SET_B);
}
END_TEST

START_TEST(test_help_version)
{
	_cleanup_free_ char *before = full(), *after = NULL;
	struct run r;

	dnat(&r, "-h");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "Usage:"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "--firewall"), "%s", r.out);
	run_free(&r);
	dnat(&r, "--version");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strncmp(r.out, "qubes-setup-dnat-to-ns ", 23) == 0, "%s", r.out);
	run_free(&r);
	after = full();
	assert_text("help and version", after, before);
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
	{ "--firewall=nft " DNS12, "--firewall needs auto, nftables or iptables" },
	{ "--firewall= " DNS12, "--firewall needs" },
	{ "--firewall=IPTABLES " DNS12, "'IPTABLES'" },
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

	tl_write_file(RESOLV, FILE_A);
	tl_write_file("/tmp/stub", "nameserver 127.0.0.53\n");
	ck_assert_int_eq(mkdir("/tmp/dir", 0755), 0);
	ck_assert_int_eq(mkfifo("/tmp/fifo", 0644), 0);
	ck_assert_int_eq(symlink("/tmp/dir", "/tmp/link-to-dir"), 0);
	ck_assert_int_eq(symlink("/tmp/loop", "/tmp/loop"), 0);
	dnat_expect(0, DNS12);
	mark();
	before = full();

	dnat(&r, "%s", bad[_i].args);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", bad[_i].args, r.status, r.err);
	assert_one_error_line(&r, bad[_i].needle);
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	after = full();
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

	tl_write_file(RESOLV, FILE_A);
	dnat_expect(0, DNS12);
	mark();
	before = full();

	ck_assert_int_ge(asprintf(&cmd, "timeout 30 " AS_NOBODY "%s %s %s", unprivileged[_i].env,
				  tl_prog("SETUP_DNAT_TO_NS"), unprivileged[_i].args), 0);
	run_cmd(&r, cmd);
	ck_assert_msg(r.status == 1, "'%s': exit %d, expected 1; stderr:\n%s", cmd, r.status, r.err);
	assert_one_error_line(&r, "needs root (CAP_NET_ADMIN)");
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	after = full();
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
	assert_chain("past the cap", SET_DROP);

	/* the server first, then 20 MiB of one line */
	free(tl_sh("{ printf '" FILE_A "'; head -c 20971520 /dev/zero | tr '\\0' 'y'; } > " RESOLV));
	dnat_expect(0, DNS12);
	assert_chain("before the junk", SET_A);
}
END_TEST

/* The size cap may fall inside a line: what was read of that line is not a
 * line, and must never yield a server the file does not name. Here the cap
 * cuts "nameserver 10.0.0.12" right after "10.0.0.1". */
START_TEST(test_cap_cuts_a_line)
{
	_cleanup_free_ char *got = NULL, *drop = expect("10.139.1.1=drop"), *whole = expect("10.139.1.1=10.0.0.12");
	struct run r;

	free(tl_sh("{ head -c $((16777216 - 20)) /dev/zero | tr '\\0' '#'; printf '\\nnameserver 10.0.0.12\\n'; } > " RESOLV
		   " && [ $(stat -c %%s " RESOLV ") = $((16777216 + 2)) ] && "
		   "[ \"$(head -c 16777216 " RESOLV " | tail -c 19)\" = 'nameserver 10.0.0.1' ]"));
	dnat(&r, "--dns1 10.139.1.1 " FILES);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	run_free(&r);
	got = chain_rules();
	ck_assert_msg(streq(got, drop) || streq(got, whole),
		      "a line cut by the 16 MiB cap was used as a whole line:\n%s", got);
}
END_TEST

/* ---- dry run ------------------------------------------------------------ */

START_TEST(test_dry_run)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	const char *first = nft() ? "  ip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1\n"
				  : "  -A PR-QBS -d 10.139.1.1 -p udp --dport 53 -j DNAT --to-destination 192.168.1.1\n";
	struct run r;

	tl_write_file(RESOLV, FILE_A);
	if (!nft())
		free(tl_sh("iptables-legacy -t nat -S >/dev/null"));
	before = full();

	/* chain absent: a real run would change it */
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(strstr(r.out, first), "dry run does not show the rules:\n%s", r.out);
	ck_assert_msg(listed(r.out, "") == 4, "not 4 rules listed:\n%s", r.out);
	/* the difference: the chain is missing, every rule would come */
	ck_assert_msg(strstr(r.out, "difference from what it holds now:\n  (no chain ") &&
			      tl_count(r.out, "\n  + ") == 4 && !strstr(r.out, "\n  - "),
		      "dry run does not show the difference:\n%s", r.out);
	ck_assert_msg(strstr(r.out, nft() ? "firewall: nftables" : "firewall: iptables"), "%s", r.out);
	run_free(&r);
	after = full();
	assert_text("dry run on an empty table", after, before);

	/* a real run, then the dry run says "unchanged" */
	dnat_expect(0, DNS12);
	mark();
	free(before);
	before = full();
	dnat(&r, "--dry-run " DNS12);
	ck_assert_msg(r.status == 100, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(listed(r.out, "") == 4 && !strstr(r.out, "\n  + ") && !strstr(r.out, "\n  - ") &&
			      strstr(r.out, "nothing to do"),
		      "%s", r.out);
	run_free(&r);

	/* another uplink: the dry run says "changed", shows what goes and
	 * what comes, and changes nothing */
	tl_write_file(RESOLV, FILE_B);
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(listed(r.out, nft() ? "dnat to 10.0.0.1" : "--to-destination 10.0.0.1") == 4, "%s", r.out);
	ck_assert_msg(tl_count(r.out, "\n  - ") == 4 && tl_count(r.out, "\n  + ") == 4 &&
			      tl_count(r.out, nft() ? "\n  - ip daddr 10.139.1.2 tcp dport 53 dnat to 192.168.1.2\n"
						    : "\n  - -A PR-QBS -d 10.139.1.2 -p tcp --dport 53 -j DNAT "
						      "--to-destination 192.168.1.2\n") == 1,
		      "the difference is not shown:\n%s", r.out);
	run_free(&r);
	tl_write_file(RESOLV, "");
	dnat_expect(0, "-n " DNS12);
	free(after);
	after = full();
	assert_text("dry runs on a set chain", after, before);
	ck_assert_int_eq(marked(), 4);

	/* the rules right, the chain not quite: x_tables, the jump missing;
	 * nftables, policy drop */
	tl_write_file(RESOLV, FILE_A);
	if (nft())
		free(tl_sh("nft add chain ip qubes dnat-dns '{ policy drop; }'"));
	else
		free(tl_sh(IPT "-D PREROUTING -j PR-QBS"));
	free(before);
	before = chain_rules();
	dnat(&r, "-n " DNS12);
	ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(!strstr(r.out, "\n  + ") && !strstr(r.out, "\n  - ") &&
			      strstr(r.out, nft() ? "not a chain of type nat" : "no -A PREROUTING -j PR-QBS"),
		      "%s", r.out);
	run_free(&r);
	free(after);
	after = chain_rules();
	assert_text("dry run, chain not quite right", after, before);
	dnat_expect(0, DNS12);
	assert_chain("real run, chain right", SET_A);
	dnat_expect(100, "-n " DNS12);
}
END_TEST

/* ---- the other generation present --------------------------------------- */

/* With the iptables backend, nftables tables of family ip/ip6/inet hide our
 * rules from `iptables` (nft): one warning line says where they are. It
 * belongs to the iptables backend only. */
START_TEST(test_nft_warning)
{
	struct run r;

	tl_write_file(RESOLV, FILE_A);
	if (nft()) {
		/* auto picks nftables: no warning */
		dnat(&r, DNS12);
		ck_assert_msg(r.status == 0 && !strstr(r.err, "warning"), "exit %d; stderr:\n%s", r.status, r.err);
		run_free(&r);
		/* --firewall=iptables with the base ruleset there: the warning,
		 * and the rules in PR-QBS, dnat-dns left alone */
		dnat(&r, "--firewall=iptables " DNS12);
		ck_assert_msg(r.status == 0, "exit %d; stderr:\n%s", r.status, r.err);
		ck_assert_msg(tl_count(r.err, "nftables") == 1 && tl_count(r.err, "warning: ") == 1 &&
				      strstr(r.err, "iptables-legacy-save"),
			      "expected the warning once:\n%s", r.err);
		run_free(&r);
		assert_chain("dnat-dns", SET_A);
		fw = FW_IPTABLES;
		assert_chain("PR-QBS", SET_A);
		fw = FW_NFTABLES;
		return;
	}
	dnat(&r, DNS12);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.err, "nftables"), "warning without nftables tables:\n%s", r.err);
	run_free(&r);

	free(tl_sh("nft add table inet filter"));
	dnat(&r, DNS12);
	ck_assert_msg(r.status == 100, "exit %d; stderr:\n%s", r.status, r.err);
	ck_assert_msg(tl_count(r.err, "nftables") == 1 && tl_count(r.err, "\n") == 1 && strstr(r.err, "warning: ") &&
			      strstr(r.err, "iptables-legacy-save"),
		      "expected one warning line:\n%s", r.err);
	run_free(&r);
}
END_TEST

/* Which generation a run uses: auto finds the base ruleset's table ip
 * qubes with its set allowed (else iptables); --firewall= forces one; the
 * nftables backend never creates table ip qubes. */
START_TEST(test_backend_choice)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct run r;

	tl_write_file(RESOLV, FILE_A);
	if (!nft()) {
		/* no table ip qubes: --firewall=nftables is an error, and
		 * nothing appears in either generation */
		before = full();
		dnat(&r, "--firewall=nftables " DNS12);
		ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
		assert_one_error_line(&r, "table ip qubes does not exist");
		run_free(&r);
		after = full();
		assert_text("after --firewall=nftables without the base ruleset", after, before);
		/* a table ip qubes without the set allowed is not the nftables
		 * generation: auto stays with iptables */
		free(tl_sh("nft add table ip qubes && nft add set ip qubes downstream '{ type ipv4_addr; }'"));
		dnat_expect(0, DNS12);
		assert_chain("auto without the set allowed", SET_A);
		return;
	}
	/* the base ruleset is gone (ip6 left): auto falls back to iptables,
	 * --firewall=nftables fails without creating the table */
	free(tl_sh("nft delete table ip qubes"));
	before = full();
	dnat(&r, "--firewall=nftables " DNS12);
	ck_assert_msg(r.status == 1, "exit %d; stderr:\n%s", r.status, r.err);
	assert_one_error_line(&r, "table ip qubes does not exist");
	run_free(&r);
	after = full();
	assert_text("after --firewall=nftables without table ip qubes", after, before);
	dnat_expect(0, DNS12);
	fw = FW_IPTABLES;
	assert_chain("auto without table ip qubes", SET_A);
	fw = FW_NFTABLES;
	/* back: auto and --firewall=nftables agree */
	tl_nft_base_load();
	dnat_expect(0, DNS12);
	assert_chain("base ruleset back", SET_A);
	dnat_expect(100, "--firewall=nftables " DNS12);
	dnat_expect(100, "--firewall=auto " DNS12);
}
END_TEST

/* The tests of both generations, each in its TCase (the fixture sets the
 * backend and loads the nftables base ruleset); those that only make sense
 * in one generation say so in their name. */
static void add_rules_tests(TCase *tc)
{
	tcase_add_test(tc, test_creates_chain);
	tcase_add_test(tc, test_rules_from_native_tool);
	tcase_add_test(tc, test_unchanged_commits_nothing);
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
	tcase_add_test(tc, test_backend_choice);
}

static void add_xenstore_tests(TCase *tc)
{
	tcase_add_loop_test(tc, test_xenstore, 0, 2); /* xenstore, QubesDB */
	tcase_add_test(tc, test_no_resolver_no_virtual_address);
	tcase_add_loop_test(tc, test_xenstore_bad, 0, 2 * ELEMENTSOF(xs_bad));
	tcase_add_test(tc, test_xenstore_unreachable);
	tcase_add_test(tc, test_qubesdb_unreachable);
	tcase_add_test(tc, test_dns2_without_dns1);
}

static void add_invocation_tests(TCase *tc)
{
	tcase_add_loop_test(tc, test_dispatcher_acts, 0, ELEMENTSOF(acting));
	tcase_add_loop_test(tc, test_dispatcher_ignores, 0, ELEMENTSOF(ignored));
	tcase_add_test(tc, test_help_version);
	tcase_add_loop_test(tc, test_bad_input, 0, ELEMENTSOF(bad));
	tcase_add_loop_test(tc, test_not_root, 0, ELEMENTSOF(unprivileged));
	tcase_add_test(tc, test_not_root_harmless);
}

static TCase *backend_tcase(Suite *s, const char *name, enum fw_backend b)
{
	TCase *tc = tcase_create(name); /* check keeps the pointer: a literal */

	tcase_add_checked_fixture(tc, b == FW_NFTABLES ? fixture_setup_nftables : fixture_setup_iptables,
				  fixture_teardown);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	static const struct {
		enum fw_backend fw;
		const char *rules, *xenstore, *invocation;
	} backends[] = {
		{ FW_IPTABLES, "rules-iptables", "xenstore-iptables", "invocation-iptables" },
		{ FW_NFTABLES, "rules-nftables", "xenstore-nftables", "invocation-nftables" },
	};
	Suite *s = suite_create("dnat");

	for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
		TCase *tc = backend_tcase(s, backends[i].rules, backends[i].fw);

		add_rules_tests(tc);
		if (backends[i].fw == FW_IPTABLES) {
			tcase_add_test(tc, test_chain_without_jump);
			tcase_add_loop_test(tc, test_foreign_rules_replaced, 0, ELEMENTSOF(foreign_ipt));
		} else
			tcase_add_loop_test(tc, test_foreign_rules_replaced, 0, ELEMENTSOF(foreign_nft));
		add_xenstore_tests(backend_tcase(s, backends[i].xenstore, backends[i].fw));
		add_invocation_tests(backend_tcase(s, backends[i].invocation, backends[i].fw));
	}
	return tl_main(s, true);
}
