#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <time.h>

#include "flock.h"
#include "util.h"

#define POLL_FIRST_NS 100000LL  /* 100 us */
#define POLL_MAX_NS 4000000LL   /* 4 ms */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int flock_acquire(const char *path, unsigned timeout_ms)
{
	_cleanup_close_ int fd = -1;
	int64_t deadline = 0, delay = POLL_FIRST_NS;
	int r;

	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();

	for (;;) {
		int64_t left;
		struct timespec ts;

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return negative_errno();

		if (deadline == 0)
			deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
		left = deadline - now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		if (delay > left)
			delay = left;
		ts = (struct timespec){ .tv_sec = delay / 1000000000LL, .tv_nsec = delay % 1000000000LL };
		(void)nanosleep(&ts, NULL); /* EINTR: just poll again */
		delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
	}

	r = fd;
	fd = -1;
	return r;
}
