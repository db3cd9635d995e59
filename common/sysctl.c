#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sysctl.h"
#include "util.h"

static int if_path(int family, const char *ifname, const char *key, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/sys/net/%s/conf/%s/%s",
			 family == AF_INET6 ? "ipv6" : "ipv4", ifname, key);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int sysctl_if_read(int family, const char *ifname, const char *key, char *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	char path[256];
	ssize_t n;
	int r;

	r = if_path(family, ifname, key, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

int sysctl_if_write(int family, const char *ifname, const char *key, const char *value)
{
	_cleanup_close_ int fd = -1;
	char path[256];
	size_t len = strlen(value);
	ssize_t n;
	int r;

	r = if_path(family, ifname, key, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

bool sysctl_ipv6_available(void)
{
	return access("/proc/sys/net/ipv6", F_OK) == 0;
}

bool sysctl_ipv6_disabled(const char *ifname)
{
	char v[16];

	if (!sysctl_ipv6_available())
		return true;
	if (sysctl_if_read(AF_INET6, ifname, "disable_ipv6", v, sizeof(v)) < 0)
		return true;
	return !streq(v, "0");
}
