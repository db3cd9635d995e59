/* setup-dnat-to-ns: points the clients' virtual DNS addresses at the
 * uplink's real resolvers, by rewriting the nat chain PR-QBS atomically.
 * main() is the one place that turns a result into an exit status. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "caps.h"
#include "cfg.h"
#include "config.h"
#include "dnat_iptc.h"
#include "dnat_plan.h"
#include "input.h"
#include "log.h"
#include "nft.h"
#include "util.h"

/* Qubes' callers (the NetworkManager hook, setup-ip) read this as "DNS
 * unchanged" and skip restarting the updates proxy. */
#define EXIT_UNCHANGED 100

struct ctx {
	bool dry_run;
	struct dnat_sources src;
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
		DNAT_RESOLVED_CONF);
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
			c->src.resolv_conf = optarg;
			c->src.resolv_conf_named = true;
			break;
		case ARG_RESOLVED:
			c->src.resolved_conf = optarg;
			c->src.resolved_conf_named = true;
			break;
		case ARG_DNS1:
			c->src.dns1_arg = optarg;
			break;
		case ARG_DNS2:
			c->src.dns2_arg = optarg;
			break;
		case ARG_CONFIG:
			if (cfg_source_from_string(optarg, &c->src.config) < 0)
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
	if (c->src.dns2_arg && !c->src.dns1_arg)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--dns2 needs --dns1");
	return 0;
}

static void print_plan(const struct dnat_input *in, const struct dnat_plan *p, enum dnat_result res)
{
	struct ipt_dnat_rule rules[DNAT_IPT_MAX_RULES];
	unsigned n = dnat_iptc_rules(p, rules);
	char buf[160];

	printf("virtual DNS addresses from %s\n", in->keys_from);
	printf("chain %s should hold %u rule(s):\n", DNAT_IPT_CHAIN, n);
	for (unsigned i = 0; i < n; i++)
		printf("  -A %s %s\n", DNAT_IPT_CHAIN, ipt_dnat_rule_to_string(&rules[i], buf, sizeof(buf)));
	if (p->drops)
		printf("no usable resolver: these rules drop the queries (the kernel discards a packet sent to "
		       "0.0.0.0)\n");
	printf("%s\n", res == DNAT_CHANGED ? "the chain differs: a real run would replace it"
					   : "the chain already holds exactly these: nothing to do");
}

static int run(struct ctx *c, int argc, char **argv)
{
	struct dnat_input in;
	struct dnat_plan plan;
	enum dnat_result res;
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

	r = dnat_input_read(&c->src, &in);
	if (r < 0)
		return r;

	dnat_plan_build(in.n_vdns > 0 ? &in.vdns[0] : NULL, in.n_vdns > 1 ? &in.vdns[1] : NULL, in.rc.servers,
			in.rc.n_servers, &plan);
	if (plan.drops)
		log_warning("no usable resolver: %s drops the clients' DNS queries instead of letting them out "
			    "through the uplink", DNAT_IPT_CHAIN);

	if (nft_has_ip_tables(&nft) >= 0 && nft)
		log_warning("nftables tables exist here; the DNS DNAT rules of qubes-setup-dnat-to-ns are in the "
			    "legacy x_tables nat table (see iptables-legacy-save -t nat)");

	r = dnat_iptc_apply(&plan, c->dry_run, &res);
	if (r < 0)
		return log_error_errno(r, "cannot update chain %s in the nat table", DNAT_IPT_CHAIN);
	if (c->dry_run)
		print_plan(&in, &plan, res);
	else if (res == DNAT_CHANGED && plan.n == 0)
		log_info("%s is now empty", DNAT_IPT_CHAIN);
	else if (res == DNAT_CHANGED) {
		char dst[IP_ADDR_STRLEN], to[IP_ADDR_STRLEN];

		for (unsigned i = 0; i < plan.n; i++)
			if (plan.pairs[i].drop)
				log_info("%s now drops DNS for %s", DNAT_IPT_CHAIN,
					 inet_ntop(AF_INET, &plan.pairs[i].dst, dst, sizeof(dst)));
			else
				log_info("%s now sends DNS for %s to %s", DNAT_IPT_CHAIN,
					 inet_ntop(AF_INET, &plan.pairs[i].dst, dst, sizeof(dst)),
					 inet_ntop(AF_INET, &plan.pairs[i].to, to, sizeof(to)));
	}
	return res == DNAT_CHANGED ? 0 : EXIT_UNCHANGED;
}

int main(int argc, char **argv)
{
	struct ctx c = {
		.src = {
			.resolv_conf = DNAT_RESOLV_CONF,
			.resolved_conf = DNAT_RESOLVED_CONF,
		},
	};
	int r;

	log_open("qubes-setup-dnat-to-ns", true);
	r = run(&c, argc, argv);
	if (r < 0)
		return EXIT_FAILURE;
	return r;
}
