/* setup-dnat-to-ns: points the clients' virtual DNS addresses at the
 * uplink's real resolvers, by rewriting the nat chain PR-QBS atomically.
 * main() is the one place that turns a result into an exit status. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "caps.h"
#include "cfg.h"
#include "config.h"
#include "deadline.h"
#include "dnat_apply.h"
#include "dnat_plan.h"
#include "log.h"
#include "nft.h"
#include "resolv.h"
#include "util.h"
#include "xs.h"

/* Qubes' callers (the NetworkManager hook, setup-ip) read this as "DNS
 * unchanged" and skip restarting the updates proxy. */
#define EXIT_UNCHANGED 100

/* A xenstored that hangs must not hold the dispatcher. */
#define XS_TIMEOUT_MS 10000

#define RESOLVED_CONF "/run/systemd/resolve/resolv.conf"
/* Far beyond any real resolv.conf; bounds the time a hostile one costs. */
#define RESOLV_MAX_BYTES (16u << 20)

struct ctx {
	bool dry_run;
	const char *resolv_conf;
	const char *resolved_conf;
	bool resolv_conf_named; /* given by option: it must exist */
	bool resolved_conf_named;
	const char *dns1_arg;
	const char *dns2_arg;
	enum cfg_source config;
	char keys_from[160]; /* where the virtual DNS addresses came from */
	const char *iface;
	const char *action;
};

static const char *const dispatcher_actions[] = {
	"up", "down", "vpn-up", "vpn-down", "dhcp4-change", "dns-change", "reapply",
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qubes-setup-dnat-to-ns [OPTIONS] [IFACE ACTION]\n"
		"\n"
		"Makes the nat chain PR-QBS send the clients' virtual DNS addresses (DNS1, DNS2)\n"
		"to the real resolvers of /etc/resolv.conf, or drop the queries when it names\n"
		"none. Run by the NetworkManager dispatcher (IFACE ACTION; acts on up, down,\n"
		"vpn-up, vpn-down, dhcp4-change, dns-change, reapply and ignores other actions),\n"
		"at boot, or by hand (no arguments).\n"
		"Exit status: 0 rules changed, 100 rules already right, 1 error.\n"
		"\n"
		"Options:\n"
		"  -n, --dry-run            print the rules and whether they would change; change nothing\n"
		"  -v, --verbose            log each step\n"
		"      --resolv-conf PATH   read resolvers from PATH, which must exist (default\n"
		"                           /etc/resolv.conf; when that is absent: no resolver)\n"
		"      --resolved-conf PATH where to follow the systemd-resolved stub (default %s)\n"
		"      --dns1 ADDR          virtual DNS1 (instead of the key qubes-netvm-primary-dns)\n"
		"      --dns2 ADDR          virtual DNS2 (instead of the key qubes-netvm-secondary-dns)\n"
		"      --config=SOURCE      where those keys are: auto (QubesDB if its socket exists,\n"
		"                           else xenstore), qubesdb or xenstore (default auto)\n"
		"  -h, --help               this text\n"
		"  -V, --version            the version\n",
		RESOLVED_CONF);
}

/* 1: stop with success (help, version, an action we ignore); 0: go on;
 * < 0: bad usage. */
static int parse_argv(struct ctx *c, int argc, char **argv)
{
	enum { ARG_RESOLV = 0x100, ARG_RESOLVED, ARG_DNS1, ARG_DNS2, ARG_CONFIG };
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "resolv-conf", required_argument, NULL, ARG_RESOLV },
		{ "resolved-conf", required_argument, NULL, ARG_RESOLVED },
		{ "dns1", required_argument, NULL, ARG_DNS1 },
		{ "dns2", required_argument, NULL, ARG_DNS2 },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{},
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "nvhV", options, NULL)) >= 0) {
		switch (opt) {
		case 'n':
			c->dry_run = true;
			break;
		case 'v':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("qubes-setup-dnat-to-ns %s\n", PACKAGE_VERSION);
			return 1;
		case ARG_RESOLV:
			c->resolv_conf = optarg;
			c->resolv_conf_named = true;
			break;
		case ARG_RESOLVED:
			c->resolved_conf = optarg;
			c->resolved_conf_named = true;
			break;
		case ARG_DNS1:
			c->dns1_arg = optarg;
			break;
		case ARG_DNS2:
			c->dns2_arg = optarg;
			break;
		case ARG_CONFIG:
			if (cfg_source_from_string(optarg, &c->config) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--config needs auto, qubesdb or xenstore, not '%.16s'", optarg);
			break;
		default:
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unknown option '%.32s' (see --help)",
					       argv[optind - 1]);
		}
	}

	switch (argc - optind) {
	case 0:
		break;
	case 2:
		c->iface = argv[optind];
		c->action = argv[optind + 1];
		for (size_t i = 0; i < ELEMENTSOF(dispatcher_actions); i++)
			if (streq(c->action, dispatcher_actions[i]))
				goto check;
		log_debug("dispatcher action '%.32s' on '%.32s': nothing to do", c->action, c->iface);
		return 1;
	default:
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "expected no arguments or IFACE ACTION (see --help)");
	}
check:
	if (c->dns2_arg && !c->dns1_arg)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--dns2 needs --dns1");
	return 0;
}

static int parse_dns(const char *value, const char *what, struct in_addr *ret)
{
	struct ip_addr a;

	if (ip_addr_parse(value, AF_INET, &a) < 0 || !ip_addr_is_unicast_host(&a))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid %s '%.64s': expected an IPv4 unicast address",
				       what, value);
	*ret = a.v4;
	return 0;
}

/* The virtual addresses: DNS1 (or the gateway when DNS1 is not set), DNS2.
 * *ret_n is 0 when this VM provides no DNS to others. */
static int virtual_dns(struct ctx *c, struct in_addr ret[2], unsigned *ret_n)
{
	static const enum cfg_key keys[] = { CFG_DNS1, CFG_DNS2, CFG_GATEWAY };
	char *v[ELEMENTSOF(keys)] = {};
	char name[3][96], path[80];
	struct cfg *cfg = NULL;
	const char *dns1, *dns1_name;
	int r;

	*ret_n = 0;
	if (c->dns1_arg) {
		r = parse_dns(c->dns1_arg, "--dns1", &ret[0]);
		if (r < 0)
			return r;
		*ret_n = 1;
		if (c->dns2_arg) {
			r = parse_dns(c->dns2_arg, "--dns2", &ret[1]);
			if (r < 0)
				return r;
			*ret_n = 2;
		}
		snprintf(c->keys_from, sizeof(c->keys_from), "the command line");
		return 0;
	}

	r = cfg_open(c->config, NULL, now_ms() + XS_TIMEOUT_MS, &cfg);
	if (r == -ENOENT && c->config == CFG_SOURCE_QUBESDB)
		return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
				       "--config=qubesdb: no QubesDB socket (/run/qubes/qubesdb.sock, "
				       "/run/qubes/qubesdb.ro.sock or $QUBESDB_SOCKET)");
	if (r < 0) {
		char what[160];

		return log_error_errno(r, "cannot connect to %s for the domain's keys",
				       cfg_describe_choice(c->config, what, sizeof(what)));
	}
	snprintf(c->keys_from, sizeof(c->keys_from), "%s", cfg_describe(cfg));
	log_debug("virtual DNS addresses from %s", c->keys_from);
	/* One QubesDB round trip: the three are qubes-netvm-* keys. */
	r = cfg_read(cfg, keys, ELEMENTSOF(keys), NULL, v);
	if (r < 0) {
		r = log_error_errno(r, "cannot read %s key '%s'", cfg_source_name(cfg), cfg_failed_path(cfg));
		goto out;
	}
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		snprintf(name[i], sizeof(name[i]), "%s key %s", cfg_source_name(cfg),
			 cfg_key_path(cfg, keys[i], NULL, path, sizeof(path)));

	dns1 = v[0] && *v[0] ? v[0] : v[2];
	dns1_name = v[0] && *v[0] ? name[0] : name[2];
	if (!dns1 || !*dns1) {
		if (v[1] && *v[1])
			r = log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s is set but neither %s nor %s is", name[1],
					    name[0], name[2]);
		else
			log_info("no virtual DNS address in %s: this VM serves no DNS to others", cfg_describe(cfg));
		goto out;
	}
	r = parse_dns(dns1, dns1_name, &ret[0]);
	if (r < 0)
		goto out;
	*ret_n = 1;
	if (v[1] && *v[1]) {
		r = parse_dns(v[1], name[1], &ret[1]);
		if (r < 0)
			goto out;
		*ret_n = 2;
	}
out:
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		free(v[i]);
	cfg_close(cfg);
	return r;
}

/* Parses path into *ret. option: the option that named the file, which
 * must then exist (a typo must not pass for an uplink without resolvers);
 * NULL for a default path, whose absence means no resolvers. */
static int read_resolv(const char *path, const char *option, struct resolv_conf *ret)
{
	_cleanup_close_ int fd = -1;
	struct resolv_parser p;
	char buf[65536];
	size_t total = 0;
	struct stat st;
	const char *opt = option ? option : "", *sep = option ? " " : "";

	resolv_parser_init(&p);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && !option) {
		log_info("%s does not exist: no resolvers", path);
		*ret = *resolv_parser_finish(&p);
		return 0;
	}
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s%s'%s'", opt, sep, path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "cannot stat %s%s'%s'", opt, sep, path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s%s'%s' is not a regular file", opt, sep, path);

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(-errno, "cannot read %s%s'%s'", opt, sep, path);
		if (n == 0)
			break;
		resolv_parser_feed(&p, buf, (size_t)n);
		total += (size_t)n;
		if (total >= RESOLV_MAX_BYTES) {
			char probe;

			if (read(fd, &probe, 1) == 0)
				break; /* exactly at the cap: the whole file was read */
			log_warning("%s is larger than %u MiB; reading no further", path, RESOLV_MAX_BYTES >> 20);
			resolv_parser_drop_partial(&p);
			break;
		}
	}
	*ret = *resolv_parser_finish(&p);
	return 0;
}

static void report_skipped(const char *path, const struct resolv_conf *rc)
{
	if (rc->n_loopback)
		log_warning("%s: %u loopback nameserver(s) skipped: forwarded traffic cannot reach them", path,
			    rc->n_loopback);
	if (rc->n_invalid)
		log_warning("%s: %u malformed nameserver line(s) skipped", path, rc->n_invalid);
	if (rc->n_ipv6)
		log_debug("%s: %u IPv6 nameserver(s) skipped", path, rc->n_ipv6);
}

static int resolvers(const struct ctx *c, struct resolv_conf *ret)
{
	int r;

	r = read_resolv(c->resolv_conf, c->resolv_conf_named ? "--resolv-conf" : NULL, ret);
	if (r < 0)
		return r;
	if (ret->stub_only) {
		/* systemd-resolved's stub listens on loopback only; its own
		 * file lists the servers it forwards to. */
		log_debug("%s names only the systemd-resolved stub; reading %s", c->resolv_conf, c->resolved_conf);
		r = read_resolv(c->resolved_conf, c->resolved_conf_named ? "--resolved-conf" : NULL, ret);
		if (r < 0)
			return r;
		report_skipped(c->resolved_conf, ret);
	} else
		report_skipped(c->resolv_conf, ret);
	return 0;
}

static void print_plan(const struct ctx *c, const struct dnat_plan *p, enum dnat_result res)
{
	char buf[160];

	printf("virtual DNS addresses from %s\n", c->keys_from);
	printf("chain %s should hold %u rule(s):\n", DNAT_CHAIN, p->n);
	for (unsigned i = 0; i < p->n; i++)
		printf("  -A %s %s\n", DNAT_CHAIN, ipt_dnat_rule_to_string(&p->rules[i], buf, sizeof(buf)));
	if (p->drops)
		printf("no usable resolver: these rules drop the queries (the kernel discards a packet sent to "
		       "0.0.0.0)\n");
	printf("%s\n", res == DNAT_CHANGED ? "the chain differs: a real run would replace it"
					   : "the chain already holds exactly these: nothing to do");
}

static int run(struct ctx *c, int argc, char **argv)
{
	struct resolv_conf rc;
	struct in_addr vdns[2];
	struct dnat_plan plan;
	enum dnat_result res;
	unsigned n_vdns;
	bool nft = false;
	int r;

	r = parse_argv(c, argc, argv);
	if (r != 0)
		return r < 0 ? r : 0;
	/* Said plainly, before xenstore or the lock file answer "Permission
	 * denied"; when it cannot be told, the kernel's answer stands. */
	if (have_net_admin() == 0)
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "needs root (CAP_NET_ADMIN) to read and change the nat table");

	r = virtual_dns(c, vdns, &n_vdns);
	if (r < 0)
		return r;
	r = resolvers(c, &rc);
	if (r < 0)
		return r;

	dnat_plan_build(n_vdns > 0 ? &vdns[0] : NULL, n_vdns > 1 ? &vdns[1] : NULL, rc.servers, rc.n_servers,
			&plan);
	if (plan.drops)
		log_warning("no usable resolver: %s drops the clients' DNS queries instead of letting them out "
			    "through the uplink", DNAT_CHAIN);

	if (nft_has_ip_tables(&nft) >= 0 && nft)
		log_warning("nftables tables exist here; the DNS DNAT rules of qubes-setup-dnat-to-ns are in the "
			    "legacy x_tables nat table (see iptables-legacy-save -t nat)");

	r = dnat_apply(&plan, c->dry_run, &res);
	if (r < 0)
		return log_error_errno(r, "cannot update chain %s in the nat table", DNAT_CHAIN);
	if (c->dry_run)
		print_plan(c, &plan, res);
	else if (res == DNAT_CHANGED && plan.n == 0)
		log_info("%s is now empty", DNAT_CHAIN);
	else if (res == DNAT_CHANGED) {
		char dst[IP_ADDR_STRLEN], to[IP_ADDR_STRLEN];

		for (unsigned i = 0; i < plan.n; i += 2)
			if (plan.drops)
				log_info("%s now drops DNS for %s", DNAT_CHAIN,
					 inet_ntop(AF_INET, &plan.rules[i].dst, dst, sizeof(dst)));
			else
				log_info("%s now sends DNS for %s to %s", DNAT_CHAIN,
					 inet_ntop(AF_INET, &plan.rules[i].dst, dst, sizeof(dst)),
					 inet_ntop(AF_INET, &plan.rules[i].to, to, sizeof(to)));
	}
	return res == DNAT_CHANGED ? 0 : EXIT_UNCHANGED;
}

int main(int argc, char **argv)
{
	struct ctx c = {
		.resolv_conf = "/etc/resolv.conf",
		.resolved_conf = RESOLVED_CONF,
	};
	int r;

	log_open("qubes-setup-dnat-to-ns", true);
	r = run(&c, argc, argv);
	if (r < 0)
		return EXIT_FAILURE;
	return r;
}
