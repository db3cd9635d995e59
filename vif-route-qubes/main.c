/* vif-route-qubes: configures a Qubes client's vif in routed mode when the
 * Xen toolstack brings it online or offline. main() is the one place that
 * turns a result into an exit status, log lines and hotplug-error. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apply.h"
#include "caps.h"
#include "cfg.h"
#include "config.h"
#include "deadline.h"
#include "flock.h"
#include "fw_antispoof.h"
#include "hooks.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "natns.h"
#include "phase.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"
#include "status.h"
#include "sysctl.h"
#include "util.h"
#include "xs.h"

#define DEFAULT_WAIT_MS 10000
/* libxl kills a hotplug script after 40 s (LIBXL_HOTPLUG_TIMEOUT): a run
 * must have ended, rolled back and reported well before. */
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_HOOK_TIMEOUT_MS 10000
/* How long online waits for dom0 to write a client's mapped-ip keys. */
#define DEFAULT_MAPPED_IP_WAIT_MS 2000
/* status: 0 all ok, 1 something is not, 2 it could not be checked. */
#define EXIT_STATUS_WRONG 1
#define EXIT_STATUS_UNKNOWN 2

struct ctx {
	bool dry_run;
	bool nothing_to_do; /* add/remove, type_if=tap */
	bool have_cmd;
	bool all;  /* status --all */
	bool json; /* status --json */
	uint64_t deadline;
	unsigned wait_ms;
	unsigned timeout_ms;
	unsigned hook_timeout_ms;
	unsigned mapped_ip_wait_ms;
	const char *hooks_dir;
	const char *vif_env;
	const char *xenbus_env;
	struct vif_input in;
	struct xsh *xs;
	enum cfg_source config;
	enum fw_backend firewall; /* as asked; then as probed */
	struct cfg *cfg;
	struct nlr *nl;
	struct fw *fw;
	struct natns nat;
	int lock_fd;
	struct plan plan;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vif-route-qubes [OPTIONS] online|offline|status|add|remove [type_if=vif|tap] [NAME=VALUE...]\n"
		"\n"
		"Configures a client VM's vif in routed mode (Qubes OS network domain).\n"
		"Environment (as set by the Xen toolstack): vif=vifD.N XENBUS_PATH=backend/vif/D/N\n"
		"(NAME=VALUE arguments set vif, XENBUS_PATH and type_if too, as Xen's scripts allow.)\n"
		"\n"
		"Commands:\n"
		"  online    anti-spoofing rules, neighbour, link up, routes, gateway, hotplug-status\n"
		"  offline   remove all of it (also when the interface is already gone)\n"
		"  status    print each item online sets up as ok, differs or missing, and what defeats it;\n"
		"            exit 0 all ok, 1 something wrong, 2 could not check (--all: 1 when any vif\n"
		"            is wrong, else 2 when any could not be checked)\n"
		"  add, remove, and type_if=tap: nothing to do\n"
		"\n"
		"Options:\n"
		"  -n, --dry-run         print every change it would make, change nothing\n"
		"  -v, --verbose         log each step\n"
		"      --wait SECONDS    how long online waits for the vif to appear (default %g)\n"
		"      --timeout SECONDS the longest a run may take; online rolls back when it is up (default %g)\n"
		"      --hook-timeout SECONDS  the longest one network hook may run (default %g)\n"
		"      --hooks-dir DIR   network hooks directory (default %s)\n"
		"      --mapped-ip-wait SECONDS  how long online waits for a client's QubesDB keys\n"
		"                        /mapped-ip/IP/visible-ip and visible-gateway (NAT mode) when\n"
		"                        dom0 has not written them yet (default %g)\n"
		"      --config=SOURCE   where the domain's keys are: auto (QubesDB if its socket exists,\n"
		"                        else xenstore), qubesdb or xenstore (default auto)\n"
		"      --firewall=BACKEND  auto (nftables when table ip qubes has set 'allowed', as on\n"
		"                        Qubes R4.2+; else iptables), nftables or iptables (default auto)\n"
		"      --all             with status: check every vif of this domain (backend/vif/*/*)\n"
		"      --json            with status: print JSON (fields in vif-route-qubes(8))\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n",
		DEFAULT_WAIT_MS / 1000.0, DEFAULT_TIMEOUT_MS / 1000.0, DEFAULT_HOOK_TIMEOUT_MS / 1000.0,
		NETWORK_HOOKS_DIR, DEFAULT_MAPPED_IP_WAIT_MS / 1000.0);
}

static int parse_seconds(const char *s, unsigned *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600)
		return -EINVAL;
	*ret = (unsigned)(v * 1000);
	return 0;
}

/* NAME=VALUE, as Xen's hotplug scripts export such arguments. */
static int parse_assignment(struct ctx *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t n = (size_t)(eq - arg);

	if (n == strlen("type_if") && strncmp(arg, "type_if", n) == 0) {
		if (streq(eq + 1, "tap"))
			c->nothing_to_do = true;
		else if (!streq(eq + 1, "vif"))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "type_if must be vif or tap, not '%.16s'", eq + 1);
	} else if (n == strlen("vif") && strncmp(arg, "vif", n) == 0)
		c->vif_env = eq + 1;
	else if (n == strlen("XENBUS_PATH") && strncmp(arg, "XENBUS_PATH", n) == 0)
		c->xenbus_env = eq + 1;
	else
		log_debug("ignoring argument '%.64s'", arg);
	return 0;
}

/* 1: stop now with success (help/version); 0: go on; < 0: bad usage. */
static int parse_argv(struct ctx *c, int argc, char **argv)
{
	enum { ARG_WAIT = 0x100, ARG_TIMEOUT, ARG_HOOK_TIMEOUT, ARG_HOOKS_DIR, ARG_CONFIG, ARG_FIREWALL,
	       ARG_MAPPED_IP_WAIT, ARG_ALL, ARG_JSON };
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "wait", required_argument, NULL, ARG_WAIT },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "hook-timeout", required_argument, NULL, ARG_HOOK_TIMEOUT },
		{ "hooks-dir", required_argument, NULL, ARG_HOOKS_DIR },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "firewall", required_argument, NULL, ARG_FIREWALL },
		{ "mapped-ip-wait", required_argument, NULL, ARG_MAPPED_IP_WAIT },
		{ "all", no_argument, NULL, ARG_ALL },
		{ "json", no_argument, NULL, ARG_JSON },
		{},
	};
	int opt, r;

	opterr = 0;
	/* The leading ':' tells a missing value (':') from an unknown option ('?'). */
	while ((opt = getopt_long(argc, argv, ":nvhV", options, NULL)) >= 0) {
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
			printf("vif-route-qubes %s\n", PACKAGE_VERSION);
			return 1;
		case ARG_WAIT:
			if (parse_seconds(optarg, &c->wait_ms) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--wait needs seconds (0-3600), not '%.16s'",
						       optarg);
			break;
		case ARG_TIMEOUT:
			if (parse_seconds(optarg, &c->timeout_ms) < 0 || c->timeout_ms == 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--timeout needs seconds (over 0, up to 3600), not '%.16s'", optarg);
			break;
		case ARG_HOOK_TIMEOUT:
			if (parse_seconds(optarg, &c->hook_timeout_ms) < 0 || c->hook_timeout_ms == 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--hook-timeout needs seconds (over 0, up to 3600), not '%.16s'",
						       optarg);
			break;
		case ARG_MAPPED_IP_WAIT:
			if (parse_seconds(optarg, &c->mapped_ip_wait_ms) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--mapped-ip-wait needs seconds (0-3600), not '%.16s'", optarg);
			break;
		case ARG_HOOKS_DIR:
			c->hooks_dir = optarg;
			break;
		case ARG_CONFIG:
			if (cfg_source_from_string(optarg, &c->config) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--config needs auto, qubesdb or xenstore, not '%.16s'", optarg);
			break;
		case ARG_FIREWALL:
			if (fw_backend_parse(optarg, &c->firewall) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
						       "--firewall needs auto, nftables or iptables, not '%.16s'", optarg);
			break;
		case ARG_ALL:
			c->all = true;
			break;
		case ARG_JSON:
			c->json = true;
			break;
		case ':':
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "option '%.32s' needs a value (see --help)",
					       argv[optind - 1]);
		default:
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unknown option '%.32s' (see --help)",
					       argv[optind - 1]);
		}
	}

	for (int i = optind; i < argc; i++) {
		if (strchr(argv[i], '=')) {
			r = parse_assignment(c, argv[i]);
			if (r < 0)
				return r;
		} else if (!c->have_cmd) {
			if (vif_cmd_from_string(argv[i], &c->in.cmd) < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unknown command '%.32s' (see --help)",
						       argv[i]);
			c->have_cmd = true;
		} else
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unexpected argument '%.32s' (see --help)", argv[i]);
	}
	if (!c->have_cmd)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "no command given: online, offline, status, add or remove (see --help)");
	if ((c->all || c->json) && c->in.cmd != VIF_CMD_STATUS)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--%s goes with the status command only",
				       c->all ? "all" : "json");
	if (c->in.cmd == VIF_CMD_ADD || c->in.cmd == VIF_CMD_REMOVE)
		c->nothing_to_do = true;
	return 0;
}

#if ENABLE_FAULT_INJECTION
/* Test builds only: QVT_FAULT_STEP=N makes online fail before step N. */
static int parse_fault_step(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return (errno || *end || v < 0 || v > 10000) ? -1 : (int)v;
}
#endif

static void warn_if_nftables(const struct ctx *c)
{
	bool found = false;

	if (c->firewall == FW_IPTABLES && nft_has_ip_tables(&found) >= 0 && found)
		log_warning("nftables tables exist here; the anti-spoofing rules of vif-route-qubes are in the "
			    "legacy x_tables raw table (see iptables-legacy-save -t raw)");
}

#define REPORT_TIMEOUT_MS 5000

static int read_store(struct ctx *c)
{
	struct vif_store store;
	bool need_type;
	int r;

	/* Only a real online waits for dom0: a dry run or status says what
	 * is there now. */
	uint64_t mapped_until = c->in.cmd == VIF_CMD_ONLINE && !c->dry_run && c->mapped_ip_wait_ms
					? deadline_within(c->deadline, c->mapped_ip_wait_ms)
					: 0;

	/* The type goes to the hooks, and to a dry run's description of them. */
	need_type = c->dry_run || hooks_present(c->hooks_dir);
	r = vif_store_read(c->xs, c->cfg, c->in.xenbus_path, c->in.cmd != VIF_CMD_OFFLINE, need_type, mapped_until,
			   &store);
	if (r < 0)
		return r;
	r = vif_input_from_store(&store, &c->in);
	vif_store_done(&store);
	return r;
}

/* As Xen's own hotplug scripts: run from udev (UDEV_CALL set by the rule)
 * while libxl says it runs them itself, do nothing -- else every vif event
 * would be handled twice. */
static bool udev_stands_aside(struct ctx *c)
{
	const char *u = getenv("UDEV_CALL");
	_cleanup_free_ char *v = NULL;

	if (!u || !*u || !c->xs)
		return false;
	return xsh_read(c->xs, "libxl/disable_udev", &v) == 0;
}

/* One run per vif at a time, for the whole run: an offline that overtook
 * its online would leave a vif routed and up without its rules. */
static int lock_vif(struct ctx *c)
{
	const char *dir = getenv("VIF_ROUTE_QUBES_LOCK_DIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = VIF_LOCK_DIR;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create the lock directory %s", dir);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, c->in.vif);
	fd = flock_acquire(path, ms_left(c->deadline, UINT_MAX));
	if (fd == -ETIMEDOUT)
		return log_error_errno(SYNTHETIC_ERRNO(ETIMEDOUT),
				       "another run for %s held its lock (%s) until this run's time was up", c->in.vif,
				       path);
	if (fd < 0)
		return log_error_errno(fd, "cannot lock %s", path);
	c->lock_fd = fd;
	return 0;
}

/* The domain's keys: QubesDB on Qubes, else xenstore (--config). */
static int open_config(struct ctx *c)
{
	int r = cfg_open(c->config, c->xs, c->deadline, &c->cfg);

	if (r == -ENOENT && c->config == CFG_SOURCE_QUBESDB)
		return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "--config=qubesdb: no QubesDB socket (%s)",
				       "/run/qubes/qubesdb.sock, /run/qubes/qubesdb.ro.sock or $QUBESDB_SOCKET");
	if (r < 0) {
		char what[160];

		return log_error_errno(r, "cannot connect to %s for the domain's keys",
				       cfg_describe_choice(c->config, what, sizeof(what)));
	}
	log_debug("domain keys from %s", cfg_describe(c->cfg));
	return 0;
}

/* 1: nothing to do (udev call while libxl runs the scripts). */
static int read_inputs(struct ctx *c)
{
	struct vif_input env_only;
	bool offline = c->in.cmd == VIF_CMD_OFFLINE;
	int r;

	r = vif_input_from_env(c->vif_env, c->xenbus_env, &c->in);
	if (r < 0)
		return r;
	env_only = c->in;

	/* offline finds the vif's rules in the kernel: a store that is gone,
	 * or keys it can no longer vouch for, do not stop it. */
	phase_mark(PHASE_STORE);
	log_demote_errors(offline);
	r = xsh_open(c->deadline, &c->xs);
	if (r < 0)
		r = log_error_errno(r, "cannot connect to xenstore");
	log_demote_errors(false);
	if (r < 0 && !offline)
		return r;
	if (udev_stands_aside(c)) {
		log_debug("%s: run by udev while libxl runs the hotplug scripts (libxl/disable_udev): nothing to do",
			  c->in.vif);
		return 1;
	}

	if (!c->dry_run && (c->in.cmd == VIF_CMD_ONLINE || offline)) {
		phase_mark(PHASE_LOCK);
		r = lock_vif(c);
		if (r < 0)
			return r;
		phase_mark(PHASE_STORE);
	}

	log_demote_errors(offline);
	r = open_config(c);
	log_demote_errors(false);
	if (r < 0 && !offline)
		return r;

	log_demote_errors(offline);
	r = c->xs ? read_store(c) : -ENOTCONN;
	log_demote_errors(false);
	if (r < 0 && offline) {
		log_warning("going on with what the kernel holds for %s", c->in.vif);
		c->in = env_only;
		strcpy(c->in.type, "vif");
		return 0;
	}
	return r;
}

/* "online vif3.0: " on every line of the run; the vif as given, since
 * an invalid one is what the error will be about. */
static void set_log_prefix(const struct ctx *c)
{
	char prefix[64];

	if (c->vif_env && *c->vif_env)
		snprintf(prefix, sizeof(prefix), "%s %.16s: ", vif_cmd_to_string(c->in.cmd), c->vif_env);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", vif_cmd_to_string(c->in.cmd));
	log_set_prefix(prefix);
}

static const char *backend_text(const struct ctx *c)
{
	return c->firewall == FW_NFTABLES ? "nftables sets" : "x_tables raw tables";
}

/* The one line a successful online or offline leaves in syslog. */
static void note_done(const struct ctx *c)
{
	const struct plan *p = &c->plan;
	char addrs[PLAN_MAX_ADDRS * (IP_ADDR_STRLEN + 1)] = "";
	size_t off = 0;

	for (unsigned i = 0; i < p->n_addrs && off < sizeof(addrs); i++) {
		char a[IP_ADDR_STRLEN];

		off += (size_t)snprintf(addrs + off, sizeof(addrs) - off, "%s%s", i ? " " : "",
					ip_addr_to_string(&p->addrs[i], a));
	}
	if (c->in.cmd == VIF_CMD_ONLINE && c->in.nat) {
		char vip[IP_ADDR_STRLEN];

		log_note("%s connected for %s (anti-spoofing: %s; NAT mode: the client sees %s, namespace %s)",
			 c->in.ifname, addrs, backend_text(c), ip_addr_to_string(&c->in.visible_ip, vip), c->nat.name);
	} else if (c->in.cmd == VIF_CMD_ONLINE)
		log_note("%s connected for %s (anti-spoofing: %s)", c->in.ifname,
			 p->n_addrs ? addrs : "no address: all its traffic dropped", backend_text(c));
	else
		log_note("%s removed, addresses %s (anti-spoofing: %s)", c->in.ifname, p->n_addrs ? addrs : "none",
			 backend_text(c));
}

/* The kernel side, once per run: netlink and the firewall generation. */
static int open_kernel(struct ctx *c)
{
	int r;

	phase_mark(PHASE_KERNEL);
	r = nlr_open(&c->nl);
	if (r < 0)
		return log_error_errno(r, "cannot open a netlink socket");
	r = fw_probe(c->firewall, &c->firewall);
	if (r < 0)
		return log_error_errno(r, "cannot tell which firewall generation this netvm runs (nftables query failed)");
	r = fw_open(c->firewall, &c->fw);
	if (r < 0)
		return log_error_errno(r, "cannot open the %s firewall", fw_backend_name(c->firewall));
	return 0;
}

/* What the kernel holds for c->in's vif, and the plan of its command
 * (status: of online) in ac. */
static int probe_and_plan(struct ctx *c, struct apply_ctx *ac)
{
	int r;

	phase_mark(PHASE_PROBE);
	*ac = (struct apply_ctx){ .fault_step = -1 };
	ac->fw = c->fw;
	ac->nl = c->nl;
	ac->xs = c->xs;
	ac->hooks_dir = c->hooks_dir;
	ac->hook_timeout_ms = c->hook_timeout_ms;
	ac->deadline = c->deadline;
#if ENABLE_FAULT_INJECTION
	ac->fault_step = parse_fault_step(getenv("QVT_FAULT_STEP"));
#endif

	/* NAT mode's namespace, if an earlier online made it: it may hold
	 * the Xen vif, which then is no longer here to wait for. */
	natns_done(&c->nat);
	r = natns_init(&c->nat, c->in.ifname);
	if (r < 0 && r != -ENAMETOOLONG)
		return log_error_errno(r, "cannot look for namespace %s", c->nat.name);
	ac->nat = &c->nat;
	{
		struct vif_facts nf = {};

		r = probe_nat(&c->nat, c->in.ifname, &nf);
		if (r < 0)
			return log_error_errno(r, "cannot look into namespace %s", c->nat.name);
		r = probe_vif(c->nl, &c->in,
			      c->in.cmd == VIF_CMD_ONLINE && !c->dry_run && !nf.nat_vif_inside
				      ? deadline_within(c->deadline, c->wait_ms)
				      : now_ms(),
			      &ac->f);
		ac->f.nat_ns = nf.nat_ns;
		ac->f.nat_vif_inside = nf.nat_vif_inside;
	}
	if (r == -ENODEV && ac->f.nat_vif_inside)
		r = 0;
	if (r == -ENODEV && c->in.cmd == VIF_CMD_ONLINE && !c->dry_run)
		return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "interface %s did not appear within %g s", c->in.vif,
				       c->wait_ms / 1000.0);
	if (r == -EEXIST && c->in.cmd != VIF_CMD_ONLINE) {
		/* Then online never renamed ours: it is still under $vif. */
		log_warning("vifname '%s' is another interface's: looking at %s itself", c->in.ifname, c->in.vif);
		snprintf(c->in.ifname, sizeof(c->in.ifname), "%s", c->in.vif);
		c->in.rename = false;
		r = probe_vif(c->nl, &c->in, now_ms(), &ac->f);
	}
	if (r == -EEXIST)
		return log_error_errno(SYNTHETIC_ERRNO(EEXIST),
				       "vifname '%s': an interface of that name exists and is not %s (not renamed by "
				       "its online): refusing to configure another vif",
				       c->in.ifname, c->in.vif);
	if (r < 0 && r != -ENODEV)
		return log_error_errno(r, "cannot look up interface %s", c->in.ifname);

	ac->f.fw = fw_backend_of(c->fw);
	if (c->in.cmd == VIF_CMD_OFFLINE) {
		/* The rules, not xenstore, say which addresses were the client's. */
		r = probe_claimed(c->fw, c->in.ifname, &ac->f);
		if (r < 0)
			log_warning_errno(r, "cannot read the anti-spoofing rules of %s, ignoring", c->in.ifname);
	}

	phase_mark(PHASE_PLAN);
	r = plan_build(&c->in, &ac->f, c->in.cmd == VIF_CMD_STATUS ? VIF_CMD_ONLINE : c->in.cmd, &c->plan);
	if (r < 0)
		return log_error_errno(r, "cannot plan %s", vif_cmd_to_string(c->in.cmd));
	ac->plan = &c->plan;
	return 0;
}

/* Checks the vif of c->in, whose keys are read already. */
static int check_vif(struct ctx *c, struct status_result *ret)
{
	struct apply_ctx ac;
	int r;

	r = probe_and_plan(c, &ac);
	if (r < 0)
		return r;
	r = status_check(&ac, ret);
	if (r < 0)
		return log_error_errno(r, "cannot read the state of %s", c->in.ifname);
	return 0;
}

/* One vif's result as --json shows it; res NULL: not checked. */
static void print_json_vif(const struct ctx *c, const char *vif, const char *xenbus_path,
			   const struct status_result *res)
{
	struct status_vif v = {
		.vif = c->in.vif[0] ? c->in.vif : vif,
		.ifname = c->in.vif[0] ? c->in.ifname : NULL,
		.xenbus_path = c->in.xenbus_path[0] ? c->in.xenbus_path : xenbus_path,
		.domid = c->in.vif[0] ? (int)c->in.domid : -1,
		.firewall = c->fw ? fw_backend_name(c->firewall) : NULL,
		.result = res,
		.error = log_last_error_unprefixed(),
	};

	status_print_json(&v);
}

/* status for the one vif of $vif / $XENBUS_PATH. */
static int status_one(struct ctx *c)
{
	struct status_result res = {};
	int r;

	r = read_inputs(c);
	if (r == 0)
		r = open_kernel(c);
	if (r == 0) {
		warn_if_nftables(c);
		r = check_vif(c, &res);
	}
	if (r > 0) /* run by udev in libxl's stead: not asked */
		return 0;
	if (c->json) {
		print_json_vif(c, c->vif_env, c->xenbus_env, r < 0 ? NULL : &res);
		putchar('\n');
	} else if (r == 0)
		status_print_text(c->in.ifname, &res);
	if (r == 0 && res.wrong)
		r = EXIT_STATUS_WRONG;
	status_result_done(&res);
	return r;
}

struct vif_ref {
	char vif[IFNAME_MAX + 16];
	char xenbus_path[XENBUS_PATH_MAX];
	unsigned long domid, devid; /* ULONG_MAX: not a number */
};

static unsigned long number_or_max(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? ULONG_MAX : v;
}

static int vif_ref_cmp(const void *a, const void *b)
{
	const struct vif_ref *x = a, *y = b;

	if (x->domid != y->domid)
		return x->domid < y->domid ? -1 : 1;
	if (x->devid != y->devid)
		return x->devid < y->devid ? -1 : 1;
	return strcmp(x->xenbus_path, y->xenbus_path);
}

/* Every backend/vif/D/N of this domain, in domid then devid order. A
 * name that is not a number is listed too: its check says what is wrong. */
static int list_vifs(struct ctx *c, struct vif_ref **ret, size_t *ret_n)
{
	_cleanup_free_ char **doms = NULL;
	_cleanup_free_ struct vif_ref *refs = NULL;
	size_t n = 0, allocated = 0;
	unsigned n_doms = 0;
	int r;

	r = xsh_directory(c->xs, "backend/vif", &doms, &n_doms);
	if (r == -ENOENT)
		n_doms = 0;
	else if (r < 0)
		return log_error_errno(r, "cannot list backend/vif in xenstore");
	for (unsigned i = 0; i < n_doms; i++) {
		_cleanup_free_ char **devs = NULL;
		char path[XENBUS_PATH_MAX + 16];
		unsigned n_devs = 0;

		snprintf(path, sizeof(path), "backend/vif/%.24s", doms[i]);
		r = xsh_directory(c->xs, path, &devs, &n_devs);
		if (r == -ENOENT) /* removed meanwhile */
			continue;
		if (r < 0)
			return log_error_errno(r, "cannot list %s in xenstore", path);
		for (unsigned j = 0; j < n_devs; j++) {
			struct vif_ref *v;

			if (n == allocated) {
				allocated = allocated ? 2 * allocated : 16;
				v = reallocarray(refs, allocated, sizeof(*v));
				if (!v)
					return log_error_errno(-ENOMEM, "out of memory");
				refs = v;
			}
			v = &refs[n++];
			snprintf(v->vif, sizeof(v->vif), "vif%.12s.%.12s", doms[i], devs[j]);
			snprintf(v->xenbus_path, sizeof(v->xenbus_path), "backend/vif/%.24s/%.24s", doms[i], devs[j]);
			v->domid = number_or_max(doms[i]);
			v->devid = number_or_max(devs[j]);
		}
	}
	if (n)
		qsort(refs, n, sizeof(*refs), vif_ref_cmp);
	*ret = refs;
	refs = NULL;
	*ret_n = n;
	return 0;
}

/* status --all: each vif's block, then one line of totals. */
static int status_all(struct ctx *c)
{
	_cleanup_free_ struct vif_ref *refs = NULL;
	unsigned ok = 0, wrong = 0, unknown = 0;
	size_t n = 0;
	int r;

	r = xsh_open(c->deadline, &c->xs);
	if (r < 0)
		r = log_error_errno(r, "cannot connect to xenstore");
	if (r == 0)
		r = open_config(c);
	if (r == 0)
		r = open_kernel(c);
	if (r == 0) {
		warn_if_nftables(c);
		r = list_vifs(c, &refs, &n);
	}
	if (r < 0) {
		if (c->json) {
			printf("{\"vifs\": [], \"total\": 0, \"ok\": 0, \"wrong\": 0, \"unknown\": 0, \"error\": ");
			json_write_string(stdout, log_last_error_unprefixed());
			printf("}\n");
		}
		return r;
	}

	if (c->json)
		printf("{\"vifs\": [");
	for (size_t i = 0; i < n; i++) {
		struct status_result res = {};
		char prefix[64];

		c->in = (struct vif_input){ .cmd = VIF_CMD_STATUS };
		snprintf(prefix, sizeof(prefix), "status %s: ", refs[i].vif);
		log_set_prefix(prefix);
		log_reset_last_error();
		r = vif_input_from_env(refs[i].vif, refs[i].xenbus_path, &c->in);
		if (r == 0)
			r = read_store(c);
		if (r == 0)
			r = check_vif(c, &res);
		if (r < 0 && !log_last_error())
			log_error_errno(r, "cannot check %s", refs[i].vif);

		if (r < 0)
			unknown++;
		else if (res.wrong)
			wrong++;
		else
			ok++;
		if (c->json) {
			printf("%s\n  ", i ? "," : "");
			print_json_vif(c, refs[i].vif, refs[i].xenbus_path, r < 0 ? NULL : &res);
		} else {
			if (i)
				putchar('\n');
			if (r < 0)
				printf("%s: could not be checked: %s\n", c->in.vif[0] ? c->in.ifname : refs[i].vif,
				       log_last_error_unprefixed());
			else
				status_print_text(c->in.ifname, &res);
		}
		status_result_done(&res);
	}
	log_set_prefix("status: ");
	if (c->json)
		printf("%s], \"total\": %zu, \"ok\": %u, \"wrong\": %u, \"unknown\": %u}\n", n ? "\n" : "", n, ok, wrong,
		       unknown);
	else
		printf("%s%zu vifs: %u ok, %u wrong, %u could not be checked\n", n ? "\n" : "", n, ok, wrong, unknown);
	if (wrong)
		return EXIT_STATUS_WRONG;
	return unknown ? SYNTHETIC_ERRNO(EIO) : 0;
}

static int run(struct ctx *c, int argc, char **argv)
{
	struct apply_ctx ac;
	int r;

	r = parse_argv(c, argc, argv);
	if (r != 0)
		return r < 0 ? r : 0;
	set_log_prefix(c);
	if (c->nothing_to_do) {
		log_debug("nothing to do");
		return 0;
	}
	c->deadline = now_ms() + c->timeout_ms;
	if (!c->dry_run && have_net_admin() == 0)
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "needs root (CAP_NET_ADMIN) to %s a vif's links, routes and rules",
				       c->in.cmd == VIF_CMD_STATUS ? "read" : "change");

	/* status changes nothing anyway: -n does not turn it into a plan. */
	if (c->in.cmd == VIF_CMD_STATUS)
		return c->all ? status_all(c) : status_one(c);

	r = read_inputs(c);
	if (r != 0)
		return r < 0 ? r : 0;
	r = open_kernel(c);
	if (r < 0)
		return r;
	r = probe_and_plan(c, &ac);
	if (r < 0)
		return r;

	if (c->dry_run) {
		printf("vif-route-qubes %s %s: domain keys from %s, firewall %s; would do, in order:\n",
		       vif_cmd_to_string(c->in.cmd), c->in.ifname, c->cfg ? cfg_describe(c->cfg) : "nowhere",
		       fw_backend_name(c->firewall));
		apply_print_dry_run(&c->plan);
		return 0;
	}
	warn_if_nftables(c);

	r = apply_plan(&ac);
	if (r < 0)
		return r;
	phase_mark(PHASE_LOG);
	note_done(c);
	return 0;
}

/* Only online reports to the toolstack: offline runs while the backend
 * directory is being torn down, and a write would recreate it. Only to the
 * directory of this very vif, and only while it exists. */
static int report_result(struct ctx *c, int r)
{
	struct xsh *xs = NULL;
	const char *msg;
	int k;

	if (r >= 0)
		return r;
	if (c->in.cmd == VIF_CMD_STATUS)
		return EXIT_STATUS_UNKNOWN;
	if (c->in.cmd != VIF_CMD_ONLINE || c->dry_run || c->nothing_to_do || !c->in.xenbus_path[0])
		return EXIT_FAILURE;
	msg = log_last_error();
	if (!msg)
		msg = strerror(errno_from_synthetic(r));

	/* On a fresh connection, with time of its own: the run's may have
	 * broken, or hang, or the run's time be up. */
	xsh_close(c->xs);
	c->xs = NULL;
	k = xsh_open(now_ms() + REPORT_TIMEOUT_MS, &xs);
	/* The error itself is the run's one line; these only with -v. */
	if (k < 0)
		log_debug_errno(k, "cannot connect to xenstore to report the error");
	else {
		k = xsh_hotplug_report(xs, c->in.xenbus_path, "error", msg);
		if (k == -ENOENT)
			log_debug("not reporting to xenstore: %s does not exist", c->in.xenbus_path);
		else if (k < 0)
			log_debug_errno(k, "cannot write hotplug-error to xenstore");
		xsh_close(xs);
	}
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static struct ctx c; /* the plan is large: keep it off the stack */
	int r, status;

	phase_mark(PHASE_MAIN);
	c.lock_fd = -1;
	c.wait_ms = DEFAULT_WAIT_MS;
	c.timeout_ms = DEFAULT_TIMEOUT_MS;
	c.hook_timeout_ms = DEFAULT_HOOK_TIMEOUT_MS;
	c.mapped_ip_wait_ms = DEFAULT_MAPPED_IP_WAIT_MS;
	c.nat.home_fd = c.nat.fd = -1;
	c.hooks_dir = NETWORK_HOOKS_DIR;
	c.vif_env = getenv("vif");
	c.xenbus_env = getenv("XENBUS_PATH");
	log_open("vif-route-qubes", true);

	r = run(&c, argc, argv);
	status = report_result(&c, r);

	phase_mark(PHASE_CLEANUP);
	nlr_free(c.nl);
	fw_close(c.fw);
	natns_done(&c.nat);
	cfg_close(c.cfg);
	xsh_close(c.xs);
	if (c.lock_fd >= 0)
		close(c.lock_fd);
	log_close();
	phase_finish();
	return status;
}
