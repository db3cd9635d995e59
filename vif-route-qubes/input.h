/* Everything vif-route-qubes acts on, gathered and validated before any
 * side effect: the command line, the libxl environment, the xenstore keys
 * and a few facts read from the kernel. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define VIF_MAX_ADDRS 16
#define VIF_TYPE_MAX 32
#define XENBUS_PATH_MAX 128

enum vif_cmd {
	VIF_CMD_ONLINE,
	VIF_CMD_OFFLINE,
	VIF_CMD_ADD,
	VIF_CMD_REMOVE,
	VIF_CMD_STATUS,
	_VIF_CMD_MAX,
};

/* Raw values; NULL when the key is absent. The toolstack's from xenstore,
 * the domain's (gateways, hardening) from cfg.h's source. */
struct vif_store {
	char *ip;
	char *mac;
	char *type;
	char *vifname;
	char *gateway;
	char *gateway6;
	char *harden; /* qubes-service/harden-network-interfaces */
	char *visible_ip;      /* mapped-ip/<first IPv4>/visible-ip (NAT mode) */
	char *visible_gateway; /* mapped-ip/<first IPv4>/visible-gateway */
	/* How messages name the domain keys, e.g. "QubesDB key
	 * /qubes-netvm-gateway"; "" for the bare name. */
	char gateway_name[96];
	char gateway6_name[96];
	char visible_ip_name[96];
	char visible_gateway_name[96];
};

struct vif_input {
	enum vif_cmd cmd;
	char vif[IFNAME_MAX];    /* $vif: vifD.N */
	char ifname[IFNAME_MAX]; /* the name to configure: vifname, else vif */
	bool rename;             /* vifname given and different from vif */
	unsigned domid;
	unsigned devid;
	uint32_t metric;         /* VIF_MAX_DOMID - domid */
	char xenbus_path[XENBUS_PATH_MAX];
	char type[VIF_TYPE_MAX];

	struct ip_addr addrs[VIF_MAX_ADDRS];
	unsigned n_addrs;
	bool has_mac;
	struct mac_addr mac;
	bool has_gateway;
	struct ip_addr gateway;
	bool has_gateway6;
	struct ip_addr gateway6;
	bool harden;

	/* NAT mode (SPEC "NAT mode"): the client sees visible_ip behind
	 * visible_gateway, the netvm its real address nat_real (its first
	 * IPv4). Then addrs holds only IPv4 addresses. */
	bool nat;
	struct ip_addr nat_real;
	struct ip_addr visible_ip;
	struct ip_addr visible_gateway;
};

/* NAT mode's names: the namespace IFNAME-nat, the veth end inside it
 * IFNAME-p (so IFNAME may have at most IFNAME_MAX - 3 characters). */
#define NAT_NS_SUFFIX "-nat"
#define NAT_PEER_SUFFIX "-p"
/* The netvm side's veth end, as Xen gives its vifs. */
#define NAT_NETVM_MAC "fe:ff:ff:ff:ff:ff"

int vif_cmd_from_string(const char *s, enum vif_cmd *ret);
const char *vif_cmd_to_string(enum vif_cmd c);

/* "backend/vif/D/N" or "/local/domain/X/backend/vif/D/N"; on success
 * ret_domid and ret_devid get D and N. */
int xenbus_path_parse(const char *path, unsigned *ret_domid, unsigned *ret_devid);

/* Validates $vif and $XENBUS_PATH (either may be NULL = unset) into in.
 * Logs a one-line error and returns a negative errno on bad input; only
 * when both are valid and name the same vif is in->xenbus_path set (the
 * one place results may be reported to). */
int vif_input_from_env(const char *vif, const char *xenbus_path, struct vif_input *in);
/* Validates the xenstore values into in (which vif_input_from_env filled). */
int vif_input_from_store(const struct vif_store *s, struct vif_input *in);

struct xsh;
struct cfg;
/* Reads the keys vif_input_from_store needs: the backend's from xs, the
 * domain's from cfg (NULL: none to read). Missing keys stay NULL; a
 * missing backend directory is -ENOENT (logged) when need_backend, else
 * only a warning (the domain's keys are read all the same); any other read
 * failure is an error naming the source and the key. mapped_until: when
 * non-zero and the client has an IPv4 but neither of its mapped-ip keys
 * exists yet, wait until then for dom0 to write them (QubesDB only; the
 * xenstore source never waits). need_type: read the backend's type (only
 * network hooks get it; without it, type stays NULL and vif_input_from_store
 * says "vif"). */
int vif_store_read(struct xsh *xs, struct cfg *cfg, const char *xenbus_path, bool need_backend, bool need_type,
		   uint64_t mapped_until, struct vif_store *ret);
void vif_store_done(struct vif_store *s);
