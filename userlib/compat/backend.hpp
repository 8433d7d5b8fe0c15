// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on kaio: what abi.cpp (the exported libaio functions) asks of
 * backend.cpp (contexts on /dev/kaio, or on native AIO where kaio is not
 * there: native.cpp).
 *
 * <libaio.h> and <linux/kaio.h> (through <linux/aio_abi.h>) both define
 * struct iocb and struct io_event, so no translation unit can include both:
 * abi.cpp sees only libaio's types, backend.cpp only the kernel's, and what
 * crosses here is untyped addresses. The layouts are the same (that is what
 * libaio relies on with native AIO); backend.cpp checks the kernel side.
 *
 * Every function returns what the libaio function of the same name returns:
 * a count or 0, or -errno. They may change errno; abi.cpp restores it.
 */
#ifndef KAIO_COMPAT_BACKEND_HPP
#define KAIO_COMPAT_BACKEND_HPP

#include <signal.h>
#include <time.h>

namespace kaio::compat {

/*
 * io_setup(2): a kaio context, or a native AIO one when /dev/kaio is missing
 * or refuses this process (Documentation/compat.md, "Which AIO a context
 * gets"). On success *ctxp is the user address of the context's ring.
 */
int setup(int maxevents, void **ctxp);
int destroy(void *ctx);
int submit(void *ctx, long nr, void *iocbpp);
int cancel(void *ctx, void *iocb, void *event);
/* io_getevents(2). */
int getevents(void *ctx, long min_nr, long nr, void *events,
	      struct timespec *timeout);
/* io_pgetevents(2); a null sigmask leaves the signal mask alone. */
int pgetevents(void *ctx, long min_nr, long nr, void *events,
	       struct timespec *timeout, const sigset_t *sigmask);

} // namespace kaio::compat

#endif
