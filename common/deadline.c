#include <errno.h>
#include <time.h>

#include "deadline.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned ms_left(uint64_t deadline, unsigned cap_ms)
{
	uint64_t now;

	if (!deadline)
		return cap_ms;
	now = now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now < cap_ms ? (unsigned)(deadline - now) : cap_ms;
}

uint64_t deadline_within(uint64_t deadline, unsigned ms)
{
	uint64_t d = now_ms() + ms;

	return deadline && deadline < d ? deadline : d;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
