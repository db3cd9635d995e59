#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "deadline.h"
#include "input.h"
#include "log.h"
#include "util.h"

/* A xenstored that hangs must not hold the dispatcher. */
#define XS_TIMEOUT_MS 10000

/* Far beyond any real resolv.conf; bounds the time a hostile one costs. */
#define RESOLV_MAX_BYTES (16u << 20)

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
static int virtual_dns(const struct dnat_sources *c, struct in_addr ret[2], unsigned *ret_n, char *keys_from,
		       size_t keys_from_len)
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
		snprintf(keys_from, keys_from_len, "the command line");
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
	snprintf(keys_from, keys_from_len, "%s", cfg_describe(cfg));
	log_debug("virtual DNS addresses from %s", keys_from);
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

static int resolvers(const struct dnat_sources *c, struct resolv_conf *ret)
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

int dnat_input_read(const struct dnat_sources *s, struct dnat_input *ret)
{
	struct dnat_input in = {};
	int r;

	r = virtual_dns(s, in.vdns, &in.n_vdns, in.keys_from, sizeof(in.keys_from));
	if (r < 0)
		return r;
	r = resolvers(s, &in.rc);
	if (r < 0)
		return r;
	*ret = in;
	return 0;
}
