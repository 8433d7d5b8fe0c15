// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on kaio: every function Debian 12's libaio 0.3.113 exports,
 * under the same symbol versions (libaio.map, and symver attributes for the
 * LIBAIO_0.1 compatibility entries), with libaio's semantics: a result or
 * -errno is returned and errno is left as it was. The contexts themselves are
 * kaio's, or native AIO's where kaio is not there (backend.cpp).
 * Documentation/compat.md is the user's view.
 *
 * The prototypes are the system's <libaio.h>, never a copy: each definition
 * whose name differs from the header's (the versioned ones) is checked
 * against the header's declaration at compile time.
 */
#include <errno.h>
#include <libaio.h>

#include <type_traits>

#include "backend.hpp"

/* libaio exports io_queue_wait, but its header has it commented out. */
extern "C" int io_queue_wait(io_context_t ctx, struct timespec *timeout);

/* libaio.map decides the version of the unversioned names. */
#define KAIO_EXPORT extern "C" __attribute__((visibility("default")))
/* A versioned name; the C name itself stays local (libaio.map: local: *). */
#define KAIO_SYMVER(versioned) \
	extern "C" __attribute__((visibility("default"), symver(versioned)))

namespace compat = kaio::compat;

namespace {

/* libaio saves errno around each system call and restores it. */
class SavedErrno {
public:
	SavedErrno() : saved_(errno) {}
	~SavedErrno() { errno = saved_; }
	SavedErrno(const SavedErrno &) = delete;
	SavedErrno &operator=(const SavedErrno &) = delete;

private:
	int saved_;
};

/* The kernel's struct io_event and struct iocb, as backend.cpp sees them. */
static_assert(sizeof(struct io_event) == 32);
static_assert(sizeof(struct iocb) == 64);

int getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
	      struct timespec *timeout)
{
	SavedErrno keep;
	return compat::getevents(ctx, min_nr, nr, events, timeout);
}

} // namespace

/* ---- system calls ---------------------------------------------------- */

KAIO_EXPORT int io_setup(int maxevents, io_context_t *ctxp)
{
	SavedErrno keep;
	return compat::setup(maxevents, reinterpret_cast<void **>(ctxp));
}

KAIO_EXPORT int io_destroy(io_context_t ctx)
{
	SavedErrno keep;
	return compat::destroy(ctx);
}

KAIO_EXPORT int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	SavedErrno keep;
	return compat::submit(ctx, nr, ios);
}

/* io_cancel@@LIBAIO_0.4: fails with EINPROGRESS when it cancelled. */
KAIO_SYMVER("io_cancel@@LIBAIO_0.4")
int io_cancel_0_4(io_context_t ctx, struct iocb *iocb, struct io_event *evt)
{
	SavedErrno keep;
	return compat::cancel(ctx, iocb, evt);
}
static_assert(std::is_same_v<decltype(io_cancel_0_4), decltype(io_cancel)>);

/*
 * io_getevents@@LIBAIO_0.4. libaio's shortcut (no system call when the
 * timeout is zero and the ring is empty) is in compat::getevents.
 */
KAIO_SYMVER("io_getevents@@LIBAIO_0.4")
int io_getevents_0_4(io_context_t ctx, long min_nr, long nr,
		     struct io_event *events, struct timespec *timeout)
{
	return getevents(ctx, min_nr, nr, events, timeout);
}
static_assert(std::is_same_v<decltype(io_getevents_0_4), decltype(io_getevents)>);

KAIO_EXPORT int io_pgetevents(io_context_t ctx, long min_nr, long nr,
			      struct io_event *events, struct timespec *timeout,
			      sigset_t *sigmask)
{
	SavedErrno keep;
	return compat::pgetevents(ctx, min_nr, nr, events, timeout, sigmask);
}

/* ---- the io_queue_* wrappers ----------------------------------------- */

KAIO_EXPORT int io_queue_init(int maxevents, io_context_t *ctxp)
{
	if (maxevents <= 0)
		return -EINVAL;
	*ctxp = nullptr;
	return io_setup(maxevents, ctxp);
}

KAIO_EXPORT int io_queue_release(io_context_t ctx)
{
	return io_destroy(ctx);
}

KAIO_SYMVER("io_queue_wait@@LIBAIO_0.4")
int io_queue_wait_0_4(io_context_t ctx, struct timespec *timeout)
{
	return getevents(ctx, 0, 0, nullptr, timeout);
}
static_assert(std::is_same_v<decltype(io_queue_wait_0_4), decltype(io_queue_wait)>);

/*
 * Reap what has completed, without waiting, and call each iocb's callback
 * (io_set_callback() stores it in the iocb's data, which the event carries
 * back): cb(ctx, iocb, res, res2). Returns the last io_getevents result: 0
 * when the ring is empty, or -errno. Callbacks may submit more requests.
 */
KAIO_EXPORT int io_queue_run(io_context_t ctx)
{
	struct timespec zero = {0, 0};
	struct io_event event;
	int ret;

	while ((ret = getevents(ctx, 0, 1, &event, &zero)) == 1) {
		auto cb = reinterpret_cast<io_callback_t>(event.data);

		cb(ctx, event.obj, event.res, event.res2);
	}
	return ret;
}

/* ---- LIBAIO_0.1, for programs linked against libaio before 0.4 --------- */

KAIO_SYMVER("io_getevents@LIBAIO_0.1")
int io_getevents_0_1(io_context_t ctx, long nr, struct io_event *events,
		     const struct timespec *const_timeout)
{
	struct timespec timeout;

	if (const_timeout)
		timeout = *const_timeout;
	return getevents(ctx, 1, nr, events, const_timeout ? &timeout : nullptr);
}

/* The 0.1 io_cancel had no result argument. */
KAIO_SYMVER("io_cancel@LIBAIO_0.1")
int io_cancel_0_1(io_context_t ctx, struct iocb *iocb)
{
	struct io_event event;

	return io_cancel_0_4(ctx, iocb, &event);
}

KAIO_SYMVER("io_queue_wait@LIBAIO_0.1")
int io_queue_wait_0_1(io_context_t ctx, struct timespec *when)
{
	struct timespec timeout;

	if (when)
		timeout = *when;
	return getevents(ctx, 0, 0, nullptr, when ? &timeout : nullptr);
}
