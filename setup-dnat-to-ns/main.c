/* setup-dnat-to-ns: points the clients' virtual DNS addresses at the
 * uplink's real resolvers, by rewriting atomically the x_tables nat chain
 * PR-QBS or the nf_tables chain dnat-dns of table ip qubes, whichever
 * firewall generation the VM runs. main() is the one place that turns a
 * result into an exit status. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "caps.h"
#include "cfg.h"
#include "config.h"
#include "dnat_apply.h"
#include "dnat_plan.h"
#include "fw.h"
#include "input.h"
#include "log.h"
#include "nft.h"
#include "util.h"

/* Qubes' callers (the NetworkManager hook, setup-ip) read this as "DNS
 * unchanged" and skip restarting the updates proxy. */
#define EXIT_UNCHANGED 100

struct ctx {
	bool dry_run;
	enum fw_backend firewall; /* as asked; FW_AUTO: probed */
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
		"Sends the clients' virtual DNS addresses (DNS1, DNS2) to the real resolvers of\n"
		"/etc/resolv.conf, or drops the queries when it names none: with nftables, chain\n"
		"dnat-dns of table ip qubes; with iptables (legacy x_tables), the nat chain\n"
		"PR-QBS. Run by the NetworkManager dispatcher (IFACE ACTION; acts on up, down,\n"
		"vpn-up, vpn-down, dhcp4-change, dns-change, reapply and ignores other actions),\n"
		"at boot, or by hand (no arguments).\n"
		"Exit status: 0 rules changed, 100 rules already right, 1 error.\n"
		"\n"
		"Options:\n"
		"  -n, --dry-run            print the rules the chain should hold and the difference\n"
		"                           from what it holds now; change nothing\n"
		"  -v, --verbose            log each step\n"
		"      --resolv-conf PATH   read resolvers from PATH, which must exist (default\n"
		"                           /etc/resolv.conf; when that is absent: no resolver)\n"
		"      --resolved-conf PATH where to follow the systemd-resolved stub (default %s)\n"
		"      --dns1 ADDR          virtual DNS1 (instead of the key qubes-netvm-primary-dns)\n"
		"      --dns2 ADDR          virtual DNS2 (instead of the key qubes-netvm-secondary-dns)\n"
		"      --config=SOURCE      where those keys are: auto (QubesDB if its socket exists,\n"
		"                           else xenstore), qubesdb or xenstore (default auto)\n"
		"      --firewall=BACKEND   auto (nftables when table ip qubes has the set allowed,\n"
		"                           as on Qubes R4.2+; else iptables), nftables or iptables\n"
		"                           (default auto)\n"
		"  -h, --help               this text\n"
		"  -V, --version            the version\n",
		DNAT_RESOLVED_CONF);
}

/* 1: stop with success (help, version, an action we ignore); 0: go on;
 * < 0: bad usage. */
static int parse_argv(struct ctx *c, int argc, char **argv)
{
	enum { ARG_RESOLV = 0x100, ARG_RESOLVED, ARG_DNS1, ARG_DNS2, ARG_CONFIG, ARG_FIREWALL };
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
		{ "firewall", required_argument, NULL, ARG_FIREWALL },
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
		case ARG_FIREWALL:
			if (fw_backend_parse(optarg, &c->firewall) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--firewall needs auto, nftables or iptables, "
						       "not '%.16s'", optarg);
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

static bool line_in(const char *line, const char (*lines)[DNAT_LINE_MAX], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (streq(line, lines[i]))
			return true;
	return false;
}

/* What --dry-run prints: the rules the chain should hold, then how what
 * it holds differs ("- " what would go, "+ " what would come). */
static void print_plan(const struct dnat_input *in, enum fw_backend b, const struct dnat_plan *p,
		       const struct dnat_view *v, enum dnat_result res)
{
	const char *chain = dnat_chain_name(b);
	bool listed = false;

	printf("virtual DNS addresses from %s\n", in->keys_from);
	printf("firewall: %s; chain %s of %s should hold %u rule(s):\n", fw_backend_name(b), chain,
	       dnat_chain_place(b), v->n_want);
	for (unsigned i = 0; i < v->n_want; i++)
		printf("  %s\n", v->want[i]);
	if (p->drops)
		printf("no usable resolver: these rules drop the queries%s\n",
		       b == FW_IPTABLES ? " (the kernel discards a packet sent to 0.0.0.0)" : "");
	if (res == DNAT_UNCHANGED) {
		printf("the chain already holds exactly these: nothing to do\n");
		return;
	}
	printf("difference from what it holds now:\n");
	if (!v->exists)
		printf("  (no chain %s yet)\n", chain);
	for (unsigned i = 0; i < v->n_cur; i++)
		if (!line_in(v->cur[i], v->want, v->n_want)) {
			printf("  - %s\n", v->cur[i]);
			listed = true;
		}
	for (unsigned i = 0; i < v->n_want; i++)
		if (!line_in(v->want[i], v->cur, v->n_cur)) {
			printf("  + %s\n", v->want[i]);
			listed = true;
		}
	if (v->other[0])
		printf("  (%s)\n", v->other);
	else if (!listed && v->exists)
		printf("  (the same rules in another order)\n");
	printf("the chain differs: a real run would replace it\n");
}

static int run(struct ctx *c, int argc, char **argv)
{
	struct dnat_input in;
	struct dnat_plan plan;
	struct dnat_view view;
	enum dnat_result res;
	enum fw_backend fw;
	const char *chain;
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

	r = fw_probe(c->firewall, &fw);
	if (r < 0)
		return log_error_errno(r, "cannot tell which firewall this VM runs (nf_tables query failed)");
	chain = dnat_chain_name(fw);
	log_debug("firewall: %s%s", fw_backend_name(fw), c->firewall == FW_AUTO ? " (probed)" : "");
	if (fw == FW_IPTABLES) {
		bool nft = false;

		if (nft_has_ip_tables(&nft) >= 0 && nft)
			log_warning("nftables tables exist here; the DNS DNAT rules of qubes-setup-dnat-to-ns are in "
				    "the legacy x_tables nat table (see iptables-legacy-save -t nat)");
	}

	dnat_plan_build(in.n_vdns > 0 ? &in.vdns[0] : NULL, in.n_vdns > 1 ? &in.vdns[1] : NULL, in.rc.servers,
			in.rc.n_servers, &plan);
	if (plan.drops)
		log_warning("no usable resolver: %s drops the clients' DNS queries instead of letting them out "
			    "through the uplink", chain);

	r = dnat_apply(fw, &plan, c->dry_run, &res, &view);
	if (r == -ENOENT && fw == FW_NFTABLES)
		return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
				       "table ip qubes does not exist: it belongs to the nftables base ruleset, which "
				       "qubes-setup-dnat-to-ns never creates");
	if (r < 0)
		return log_error_errno(r, "cannot update chain %s in %s", chain, dnat_chain_place(fw));
	if (c->dry_run)
		print_plan(&in, fw, &plan, &view, res);
	else if (res == DNAT_CHANGED && plan.n == 0)
		log_info("%s is now empty", chain);
	else if (res == DNAT_CHANGED) {
		char dst[IP_ADDR_STRLEN], to[IP_ADDR_STRLEN];

		for (unsigned i = 0; i < plan.n; i++)
			if (plan.pairs[i].drop)
				log_info("%s now drops DNS for %s", chain,
					 inet_ntop(AF_INET, &plan.pairs[i].dst, dst, sizeof(dst)));
			else
				log_info("%s now sends DNS for %s to %s", chain,
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
	log_close();
	if (r < 0)
		return EXIT_FAILURE;
	return r;
}
