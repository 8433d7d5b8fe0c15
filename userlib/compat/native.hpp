// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on native AIO: the io_* system calls, called as libaio calls
 * them, for the contexts that backend.cpp gives to native AIO. Each returns
 * the system call's result or -errno, exactly what libaio returns, so a
 * program on a native context sees what it would see with libaio itself.
 */
#ifndef KAIO_COMPAT_NATIVE_HPP
#define KAIO_COMPAT_NATIVE_HPP

#include <signal.h>
#include <time.h>

namespace kaio::compat::native {

int setup(int maxevents, void **ctxp);
int destroy(void *ctx);
int submit(void *ctx, long nr, void *iocbpp);
int cancel(void *ctx, void *iocb, void *event);
int getevents(void *ctx, long min_nr, long nr, void *events,
	      struct timespec *timeout);
/* As libaio: always io_pgetevents(2), also with a null sigmask. */
int pgetevents(void *ctx, long min_nr, long nr, void *events,
	       struct timespec *timeout, const sigset_t *sigmask);
/* Whether @ctx is one of this process's native contexts; asks the kernel. */
bool is_context(void *ctx);

} // namespace kaio::compat::native

#endif
