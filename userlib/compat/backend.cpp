// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on kaio: contexts on /dev/kaio (Documentation/abi.md).
 *
 * A context is a context fd from KAIO_IOC_SETUP and its completion ring,
 * mapped once. The io_context_t handed out is the ring's user address, as
 * with native AIO, so programs that reap events from the ring themselves
 * (fio's userspace_reap) work unchanged.
 *
 * From an io_context_t back to the fd: a table of the rings this library
 * mapped (address -> fd, size), read without locks on every call. An address
 * that is not in it (never set up, destroyed, garbage) gets EINVAL, as native
 * AIO answers for an unknown context, and the library never dereferences it
 * on the way. The one legitimate miss is a ring moved with mremap(): its
 * header is then read with process_vm_readv() (a bad address is an error,
 * not a crash), and the header's id -- the context fd, written by kaio --
 * names the entry, which moves to the new address.
 *
 * Built without exceptions, RTTI or libstdc++ (only header-only parts of the
 * C++ library are used): the shared object needs libc and nothing else, like
 * the libaio it replaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kaio.h>
#include <linux/time_types.h>

#include <atomic>
#include <new>

#include "backend.hpp"

namespace kaio::compat {
namespace {

/* What libaio's callers (fio's struct aio_ring, libaio's own shortcut) see. */
static_assert(sizeof(struct io_event) == 32 && sizeof(struct iocb) == 64);
static_assert(offsetof(struct kaio_ring, head) == 8);
static_assert(offsetof(struct kaio_ring, tail) == 12);
static_assert(offsetof(struct kaio_ring, magic) == 16);
static_assert(sizeof(struct kaio_ring) == 32);
/* io_getevents' struct timespec goes to GETEVENTS as is. */
static_assert(sizeof(struct timespec) == sizeof(struct __kernel_timespec) &&
	      offsetof(struct timespec, tv_nsec) ==
		      offsetof(struct __kernel_timespec, tv_nsec));
/* The kernel's sigset_t, what io_pgetevents passes as sigsetsize. */
constexpr uint64_t kSigsetSize = _NSIG / 8;

/* ---- memory that may not be there -------------------------------------- */

/*
 * Copy from or to the caller's memory at @addr without faulting: a
 * process_vm_readv()/writev() on ourselves fails with EFAULT where a load or
 * store would kill the process. Where those calls are refused (a seccomp
 * filter, ENOSYS), fall back to a plain copy.
 */
bool copy_in(void *buf, const void *addr, size_t len)
{
	struct iovec local = {buf, len};
	struct iovec remote = {const_cast<void *>(addr), len};
	ssize_t n;

	if (!addr)
		return false;
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(buf, addr, len);
		return true;
	}
	return n == static_cast<ssize_t>(len);
}

bool copy_out(void *addr, const void *buf, size_t len)
{
	struct iovec local = {const_cast<void *>(buf), len};
	struct iovec remote = {addr, len};
	ssize_t n;

	if (!addr)
		return false;
	n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(addr, buf, len);
		return true;
	}
	return n == static_cast<ssize_t>(len);
}

/* ---- the table of rings ------------------------------------------------ */

/*
 * Open addressing with linear probing. A slot's ring is published last
 * (release) and read first (acquire), so a reader that finds an address sees
 * the fd and size stored with it. Removed entries become tombstones (the
 * probe chains through them stay intact) and are reused by later inserts.
 * The table only grows; a grown-out table is never freed, because a reader
 * may still be walking it (the tables leaked add up to less than the last
 * one). Writers hold g_lock.
 *
 * A call racing with io_destroy() of the same context may see the entry
 * just before it goes, and then use a closed fd or, once the slot or the
 * number is reused, another one: with native AIO the same race is harmless
 * (the kernel holds a reference), here it is the caller's bug to avoid.
 */
constexpr uintptr_t kEmpty = 0;
constexpr uintptr_t kTombstone = 1;	/* never a ring address: not page-aligned */
constexpr uintptr_t kMinPageSize = 4096;

struct Slot {
	std::atomic<uintptr_t> ring{kEmpty};
	std::atomic<int> fd{-1};
	std::atomic<size_t> size{0};
};

struct Table {
	size_t mask;	/* slots - 1, a power of two minus one */
	Slot *slots;
};

struct Ring {
	int fd;
	size_t size;
};

constexpr size_t kFirstSlots = 64;
Slot g_first_slots[kFirstSlots];
Table g_first_table = {kFirstSlots - 1, g_first_slots};
std::atomic<Table *> g_table{&g_first_table};

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
size_t g_live;		/* entries in the table; under g_lock */
int g_dev = -1;		/* this process's /dev/kaio; under g_lock */
dev_t g_dev_rdev;	/* its device number, to recognise it */

size_t home_slot(uintptr_t ring, size_t mask)
{
	/* Fibonacci hashing of the page number. */
	return static_cast<size_t>(((ring >> 12) * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

bool find(uintptr_t ring, Ring *out)
{
	const Table *t = g_table.load(std::memory_order_acquire);
	size_t i = home_slot(ring, t->mask);

	for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		const Slot &s = t->slots[i];
		uintptr_t r = s.ring.load(std::memory_order_acquire);

		if (r == ring) {
			out->fd = s.fd.load(std::memory_order_relaxed);
			out->size = s.size.load(std::memory_order_relaxed);
			return true;
		}
		if (r == kEmpty)
			return false;
	}
	return false;
}

void put_locked(Table *t, uintptr_t ring, const Ring &r)
{
	size_t i = home_slot(ring, t->mask);

	for (;; i = (i + 1) & t->mask) {
		uintptr_t cur = t->slots[i].ring.load(std::memory_order_relaxed);

		if (cur == kEmpty || cur == kTombstone)
			break;
	}
	t->slots[i].fd.store(r.fd, std::memory_order_relaxed);
	t->slots[i].size.store(r.size, std::memory_order_relaxed);
	t->slots[i].ring.store(ring, std::memory_order_release);
}

/* At most half full, so probe chains stay short and always end. */
int insert_locked(uintptr_t ring, const Ring &r)
{
	Table *t = g_table.load(std::memory_order_relaxed);

	if ((g_live + 1) * 2 > t->mask + 1) {
		size_t n = (t->mask + 1) * 2;
		void *mem = malloc(sizeof(Table) + n * sizeof(Slot));

		if (!mem)
			return -ENOMEM;
		auto *bigger = new (mem) Table{n - 1, nullptr};
		bigger->slots = reinterpret_cast<Slot *>(bigger + 1);
		for (size_t i = 0; i < n; i++)
			new (&bigger->slots[i]) Slot;
		for (size_t i = 0; i <= t->mask; i++) {
			const Slot &s = t->slots[i];
			uintptr_t addr = s.ring.load(std::memory_order_relaxed);

			if (addr != kEmpty && addr != kTombstone)
				put_locked(bigger, addr,
					   {s.fd.load(std::memory_order_relaxed),
					    s.size.load(std::memory_order_relaxed)});
		}
		g_table.store(bigger, std::memory_order_release);
		t = bigger;
	}
	put_locked(t, ring, r);
	g_live++;
	return 0;
}

Slot *slot_of_locked(uintptr_t ring)
{
	Table *t = g_table.load(std::memory_order_relaxed);
	size_t i = home_slot(ring, t->mask);

	for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		uintptr_t r = t->slots[i].ring.load(std::memory_order_relaxed);

		if (r == ring)
			return &t->slots[i];
		if (r == kEmpty)
			break;
	}
	return nullptr;
}

/* The live entry of context fd @fd, wherever its ring is now. */
Slot *slot_of_fd_locked(int fd)
{
	Table *t = g_table.load(std::memory_order_relaxed);

	for (size_t i = 0; i <= t->mask; i++) {
		uintptr_t r = t->slots[i].ring.load(std::memory_order_relaxed);

		if (r != kEmpty && r != kTombstone &&
		    t->slots[i].fd.load(std::memory_order_relaxed) == fd)
			return &t->slots[i];
	}
	return nullptr;
}

void remove_locked(Slot *s)
{
	s->ring.store(kTombstone, std::memory_order_release);
	g_live--;
}

class Locked {
public:
	Locked() { pthread_mutex_lock(&g_lock); }
	~Locked() { pthread_mutex_unlock(&g_lock); }
	Locked(const Locked &) = delete;
	Locked &operator=(const Locked &) = delete;
};

/*
 * fork() while another thread holds g_lock would leave it locked forever in
 * the child: take it around fork, so the table is consistent in both.
 */
__attribute__((constructor)) void init_fork_handlers()
{
	pthread_atfork([] { pthread_mutex_lock(&g_lock); },
		       [] { pthread_mutex_unlock(&g_lock); },
		       [] { pthread_mutex_init(&g_lock, nullptr); });
}

/*
 * @addr is no ring this library mapped there. If it is one of ours moved with
 * mremap(), adopt the new address; anything else is no context: EINVAL.
 */
int adopt_moved_ring(uintptr_t addr, Ring *r)
{
	struct kaio_ring hdr;
	Slot *s;

	if (!copy_in(&hdr, reinterpret_cast<void *>(addr), sizeof(hdr)) ||
	    hdr.magic != KAIO_RING_MAGIC)
		return -EINVAL;

	Locked lock;
	s = slot_of_fd_locked(static_cast<int>(hdr.id));
	if (!s)
		return -EINVAL;
	r->fd = static_cast<int>(hdr.id);
	r->size = s->size.load(std::memory_order_relaxed);
	/* One out, one in: no growth, so this cannot fail. */
	remove_locked(s);
	return insert_locked(addr, *r);
}

int resolve(void *ctx, Ring *r)
{
	auto addr = reinterpret_cast<uintptr_t>(ctx);

	/* A ring is page-aligned; this also keeps kEmpty and kTombstone out. */
	if (addr == 0 || addr % kMinPageSize != 0)
		return -EINVAL;
	if (find(addr, r))
		return 0;
	return adopt_moved_ring(addr, r);
}

/* ---- /dev/kaio ---------------------------------------------------------- */

/*
 * The process keeps one /dev/kaio fd (O_CLOEXEC) from its first io_setup()
 * on, so a process that later chroots or sandboxes itself can still create
 * contexts. If that number was closed behind the library's back it may now
 * be someone else's file: it is recognised by its device number, and
 * replaced (never closed) when it is not /dev/kaio any more.
 */
int device_fd_locked()
{
	struct stat st;
	int fd;

	if (g_dev >= 0 && fstat(g_dev, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == g_dev_rdev)
		return g_dev;
	fd = open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* No kaio here: what libaio says where the kernel has no AIO. */
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			return -ENOSYS;
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	g_dev = fd;
	g_dev_rdev = st.st_rdev;
	return fd;
}

int ioctl_result(int ret)
{
	return ret < 0 ? -errno : ret;
}

} // namespace

int setup(int maxevents, void **ctxp)
{
	struct kaio_setup s = {};
	void *old, *ring;
	int dev, fd, err;

	/* io_setup(2)'s order: ctxp readable, then *ctxp == 0 and maxevents. */
	if (!copy_in(&old, ctxp, sizeof(old)))
		return -EFAULT;
	if (old || maxevents == 0)
		return -EINVAL;
	{
		Locked lock;
		dev = device_fd_locked();
	}
	if (dev < 0)
		return dev;
	/* Negative counts become huge ones: EINVAL, as from io_setup(2). */
	s.nr_events = static_cast<__u32>(maxevents);
	fd = ioctl(dev, KAIO_IOC_SETUP, &s);
	if (fd < 0)
		return -errno;
	ring = mmap(nullptr, s.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	auto addr = reinterpret_cast<uintptr_t>(ring);
	{
		Locked lock;
		err = insert_locked(addr, {fd, s.ring_size});
	}
	/* io_setup(2) too creates the context before it stores the id. */
	if (!err && !copy_out(ctxp, &ring, sizeof(ring))) {
		Locked lock;
		remove_locked(slot_of_locked(addr));
		err = -EFAULT;
	}
	if (err) {
		munmap(ring, s.ring_size);
		close(fd);
		return err;
	}
	return 0;
}

/*
 * KAIO_IOC_DESTROY, not just close(): a forked child may hold the fd too,
 * and io_destroy(2) ends the context whoever else holds it. It cancels what
 * it can and waits for the rest, as io_destroy(2) does.
 */
int destroy(void *ctx)
{
	Ring r;
	int err = resolve(ctx, &r);

	if (err)
		return err;
	if (ioctl(r.fd, KAIO_IOC_DESTROY) < 0)
		return -errno;	/* not this process's, or destroyed already */
	{
		Locked lock;
		Slot *s = slot_of_locked(reinterpret_cast<uintptr_t>(ctx));

		if (s)
			remove_locked(s);
	}
	munmap(ctx, r.size);
	close(r.fd);
	return 0;
}

int submit(void *ctx, long nr, void *iocbpp)
{
	Ring r;
	int err = resolve(ctx, &r);

	if (err)
		return err;
	struct kaio_submit s = {nr, reinterpret_cast<uintptr_t>(iocbpp)};
	return ioctl_result(ioctl(r.fd, KAIO_IOC_SUBMIT, &s));
}

/* EINPROGRESS on success, as io_cancel(2); the event comes through the ring. */
int cancel(void *ctx, void *iocb, void *event)
{
	Ring r;
	int err = resolve(ctx, &r);

	if (err)
		return err;
	struct kaio_cancel c = {reinterpret_cast<uintptr_t>(iocb),
				reinterpret_cast<uintptr_t>(event)};
	return ioctl_result(ioctl(r.fd, KAIO_IOC_CANCEL, &c));
}

int getevents(void *ctx, long min_nr, long nr, void *events,
	      struct timespec *timeout, const sigset_t *sigmask)
{
	Ring r;
	int err = resolve(ctx, &r);

	if (err)
		return err;
	/*
	 * libaio's shortcut, kept for its exact behaviour: when only looking
	 * (zero timeout) at an empty ring, return 0 without a system call --
	 * even for arguments the call would refuse.
	 */
	if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0) {
		auto *ring = static_cast<struct kaio_ring *>(ctx);

		if (std::atomic_ref(ring->magic).load(std::memory_order_relaxed) ==
			    KAIO_RING_MAGIC &&
		    std::atomic_ref(ring->head).load(std::memory_order_relaxed) ==
			    std::atomic_ref(ring->tail).load(std::memory_order_acquire))
			return 0;
	}
	struct kaio_getevents g = {
		.min_nr = min_nr,
		.nr = nr,
		.events = reinterpret_cast<uintptr_t>(events),
		.timeout = reinterpret_cast<uintptr_t>(timeout),
		.sigmask = reinterpret_cast<uintptr_t>(sigmask),
		.sigsetsize = kSigsetSize,
	};
	return ioctl_result(ioctl(r.fd, KAIO_IOC_GETEVENTS, &g));
}

} // namespace kaio::compat
