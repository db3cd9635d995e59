#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natns.h"
#include "nftq.h"
#include "nl.h"
#include "sysctl.h"
#include "util.h"

#include "input.h"

/* Whether fd is a network namespace (and not, say, the empty file a run
 * killed between creating and mounting it left behind). */
static bool is_netns(int fd)
{
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

static int open_existing(struct natns *n)
{
	int fd = open(n->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (!is_netns(fd)) {
		close(fd);
		return -ENOENT;
	}
	n->fd = fd;
	return 0;
}

int natns_init(struct natns *n, const char *ifname)
{
	int r;

	*n = (struct natns){ .home_fd = -1, .fd = -1 };
	snprintf(n->name, sizeof(n->name), "%s%s", ifname, NAT_NS_SUFFIX);
	snprintf(n->path, sizeof(n->path), "%s/%s", NATNS_DIR, n->name);
	if (strlen(ifname) + strlen(NAT_PEER_SUFFIX) >= IFNAME_MAX)
		return -ENAMETOOLONG;
	snprintf(n->peer, sizeof(n->peer), "%s%s", ifname, NAT_PEER_SUFFIX);
	n->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->home_fd < 0)
		return -errno;
	r = open_existing(n);
	return r == -ENOENT ? 0 : r;
}

void natns_done(struct natns *n)
{
	nlr_free(n->nl);
	n->nl = NULL;
	if (n->fd >= 0)
		close(n->fd);
	if (n->home_fd >= 0)
		close(n->home_fd);
	n->fd = n->home_fd = -1;
}

static int enter(struct natns *n)
{
	if (n->fd < 0)
		return -ENOENT;
	return setns(n->fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

/* Failing to get home would leave every later step acting on the wrong
 * namespace: that cannot be carried on from. */
static void leave(struct natns *n)
{
	if (setns(n->home_fd, CLONE_NEWNET) < 0)
		abort();
}

/* As `ip netns add`: NATNS_DIR a shared mount point, so the namespaces
 * mounted in it show in mount namespaces made before them too. */
static int prepare_dir(void)
{
	if (mkdir(NATNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("", NATNS_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* Not a mount point yet: make it one. */
	if (mount(NATNS_DIR, NATNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0 ||
	    mount("", NATNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

int natns_create(struct natns *n)
{
	int fd, r;

	if (n->fd >= 0)
		return 0;
	r = prepare_dir();
	if (r < 0)
		return r;
	/* A file left by a run killed before its mount is taken over. */
	fd = open(n->path, O_RDONLY | O_CREAT | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (is_netns(fd)) {
		n->fd = fd;
		return 0;
	}
	close(fd);

	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
		(void)unlink(n->path);
		return r;
	}
	r = mount("/proc/thread-self/ns/net", n->path, "none", MS_BIND, NULL) < 0 ? -errno : 0;
	leave(n);
	if (r == 0)
		r = open_existing(n);
	if (r < 0) {
		(void)umount2(n->path, MNT_DETACH);
		(void)unlink(n->path);
		return r;
	}
	return 1;
}

int natns_destroy(struct natns *n)
{
	int r = 0;

	nlr_free(n->nl);
	n->nl = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	if (umount2(n->path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		r = -errno;
	if (unlink(n->path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int natns_nl(struct natns *n, struct nlr **ret)
{
	int r;

	if (!n->nl) {
		r = enter(n);
		if (r < 0)
			return r;
		r = nlr_open(&n->nl);
		leave(n);
		if (r < 0)
			return r;
	}
	*ret = n->nl;
	return 0;
}

int natns_link(struct natns *n, const char *name, struct nlr_link *ret)
{
	struct nlr *nl;
	int r;

	if (!natns_exists(n))
		return -ENODEV;
	r = natns_nl(n, &nl);
	return r < 0 ? r : nlr_link_get(nl, name, ret);
}

int natns_sysctl(struct natns *n, int family, const char *ifname, const char *key, const char *value)
{
	int r = enter(n);

	if (r < 0)
		return r;
	r = sysctl_if_write(family, ifname, key, value);
	leave(n);
	return r;
}

int natns_sysctl_read(struct natns *n, int family, const char *ifname, const char *key, char *buf, size_t len)
{
	int r = enter(n);

	if (r < 0)
		return r;
	r = sysctl_if_read(family, ifname, key, buf, len);
	leave(n);
	return r;
}

int natns_nftq(struct natns *n, struct nftq **ret)
{
	int r = enter(n);

	if (r < 0)
		return r;
	r = nftq_open(ret);
	leave(n);
	return r;
}
