// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on native AIO (native.hpp): raw system calls, as libaio 0.3.113
 * makes them (src/syscall.h: the result, or -errno), with no checks of our
 * own in between, so every errno is native AIO's.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "native.hpp"

namespace kaio::compat::native {
namespace {

/* libaio's _body_io_syscall: an int, negative errno on failure. */
template <typename... Args>
int io_syscall(long nr, Args... args)
{
	int ret = static_cast<int>(syscall(nr, static_cast<long>(args)...));

	return ret < 0 ? -errno : ret;
}

long arg(const void *p)
{
	return reinterpret_cast<long>(p);
}

} // namespace

int setup(int maxevents, void **ctxp)
{
	return io_syscall(__NR_io_setup, maxevents, arg(ctxp));
}

int destroy(void *ctx)
{
	return io_syscall(__NR_io_destroy, arg(ctx));
}

int submit(void *ctx, long nr, void *iocbpp)
{
	return io_syscall(__NR_io_submit, arg(ctx), nr, arg(iocbpp));
}

int cancel(void *ctx, void *iocb, void *event)
{
	return io_syscall(__NR_io_cancel, arg(ctx), arg(iocb), arg(event));
}

int getevents(void *ctx, long min_nr, long nr, void *events,
	      struct timespec *timeout)
{
	return io_syscall(__NR_io_getevents, arg(ctx), min_nr, nr, arg(events),
			  arg(timeout));
}

int pgetevents(void *ctx, long min_nr, long nr, void *events,
	       struct timespec *timeout, const sigset_t *sigmask)
{
	/* The kernel's struct __aio_sigset: the mask and its size (8). */
	struct {
		unsigned long ss;
		unsigned long ss_len;
	} data = {reinterpret_cast<unsigned long>(sigmask), _NSIG / 8};

	return io_syscall(__NR_io_pgetevents, arg(ctx), min_nr, nr, arg(events),
			  arg(timeout), arg(&data));
}

/*
 * io_getevents(ctx, 0, 0, NULL, {0, 0}) reaps nothing and does not wait: 0
 * for a context of ours, EINVAL for anything else (the kernel reads the id
 * from the ring header with get_user() and checks the address too).
 */
bool is_context(void *ctx)
{
	struct timespec zero = {0, 0};

	return getevents(ctx, 0, 0, nullptr, &zero) == 0;
}

} // namespace kaio::compat::native
