// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libaio.so.1 on kaio: contexts on /dev/kaio (Documentation/abi.md), or on
 * native AIO where /dev/kaio is missing or refuses the process.
 *
 * A kaio context is a context fd from KAIO_IOC_SETUP and its completion ring,
 * mapped once. The io_context_t handed out is the ring's user address, as
 * with native AIO, so programs that reap events from the ring themselves
 * (fio's userspace_reap) work unchanged. A native context is what io_setup(2)
 * returned, also its ring's address; native.cpp makes its system calls.
 *
 * From an io_context_t back to its backend: a table of the contexts this
 * library set up (ring address -> kaio fd and ring size, or "native"), read
 * without locks on every call, never a guess from the value or from the
 * ring's contents (a kaio ring's header looks like a native one's, ids
 * included). An address that is not in it goes to native AIO, as libaio
 * would pass it: the kernel answers for it (EINVAL for one that is no
 * context), and the library never dereferences it on the way -- unless it
 * is a kaio ring of ours moved with mremap(), which the kernel's name of
 * the mapping there tells (route() has the rules, also for a process with
 * contexts of both kinds, where rings moved onto each other's old
 * addresses).
 *
 * Built without exceptions, RTTI or libstdc++ (only header-only parts of the
 * C++ library are used): the shared object needs libc and nothing else, like
 * the libaio it replaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
#include "native.hpp"

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

/* ---- what the environment asks for ------------------------------------- */

/*
 * Read at each io_setup(), so a test can change them between contexts.
 * secure_getenv(): a set-user-ID program ignores them, as the loader ignores
 * LD_LIBRARY_PATH there; installed system-wide, the library must not let a
 * user point a privileged program's AIO somewhere else.
 */
bool env_is(const char *name, const char *value)
{
	const char *e = secure_getenv(name);

	return e && strcmp(e, value) == 0;
}

enum class Backend { automatic, kaio, native };

/* KAIO_COMPAT_BACKEND=kaio|native|auto (anything else is auto). */
Backend backend_wanted()
{
	if (env_is("KAIO_COMPAT_BACKEND", "kaio"))
		return Backend::kaio;
	if (env_is("KAIO_COMPAT_BACKEND", "native"))
		return Backend::native;
	return Backend::automatic;
}

/* KAIO_COMPAT_DEVICE: another device node, or none (tests of the fallback). */
const char *device_path()
{
	const char *e = secure_getenv("KAIO_COMPAT_DEVICE");

	return e && *e ? e : KAIO_DEVICE_PATH;
}

/* KAIO_COMPAT_DEBUG=1: one line on stderr per io_setup(), saying which AIO. */
__attribute__((format(printf, 1, 2))) void debug(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (!env_is("KAIO_COMPAT_DEBUG", "1"))
		return;
	n = snprintf(line, sizeof(line), "kaio-compat[%d]: ", getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > static_cast<int>(sizeof(line)) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(), so lines from several threads do not interleave. */
	ssize_t written = write(STDERR_FILENO, line, n);
	(void)written;	/* no stderr: nothing to tell */
}

/* ---- the table of contexts --------------------------------------------- */

/*
 * Open addressing with linear probing. A slot's key is published last
 * (release) and read first (acquire), so a reader that finds an address sees
 * the fd and size stored with it. Removed entries become tombstones (the
 * probe chains through them stay intact) and are reused by later inserts.
 * The table only grows; a grown-out table is never freed, because a reader
 * may still be walking it (the tables leaked add up to less than the last
 * one). Writers hold g_lock.
 *
 * A call racing with io_destroy() of the same kaio context may see the
 * entry just before it goes, and then use a closed fd or, once the slot or
 * the number is reused, another one: with native AIO the same race is
 * harmless (the kernel holds a reference), here it is the caller's bug to
 * avoid.
 *
 * Native entries only tell libaio's look at the ring (getevents' shortcut)
 * that the header is mapped; native AIO's kernel has the last word on
 * native contexts (route()). A native ring moved with mremap() (the kernel
 * follows it) leaves a stale entry at its old address, which a new ring
 * mapped there replaces, and which route() drops once native AIO disowns
 * the address.
 */
constexpr uintptr_t kEmpty = 0;
constexpr uintptr_t kTombstone = 1;	/* never a ring address: not page-aligned */
constexpr uintptr_t kMinPageSize = 4096;
constexpr int kNativeFd = -1;		/* the fd of a native context: none */

/*
 * The key of a kaio context whose ring was moved away with mremap() and
 * whose old address went to a new ring before the moved one was used: not
 * page-aligned, so no lookup by address finds it, but slot_of_fd_locked()
 * does and the ring is adopted at its new address as usual.
 */
uintptr_t lost_key(int fd)
{
	return (static_cast<uintptr_t>(fd) << 12) | 2;
}

struct Slot {
	std::atomic<uintptr_t> ring{kEmpty};
	std::atomic<int> fd{-1};
	std::atomic<size_t> size{0};
};

struct Table {
	size_t mask;	/* slots - 1, a power of two minus one */
	Slot *slots;
};

/* A context: a kaio context fd and its ring's size, or native AIO. */
struct Ring {
	int fd;
	size_t size;

	bool native() const { return fd == kNativeFd; }
};

constexpr Ring kNative = {kNativeFd, 0};

constexpr size_t kFirstSlots = 64;
Slot g_first_slots[kFirstSlots];
Table g_first_table = {kFirstSlots - 1, g_first_slots};
std::atomic<Table *> g_table{&g_first_table};

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
size_t g_live;		/* entries in the table; under g_lock */
/* kaio contexts in the table; written under g_lock, read without it. */
std::atomic<size_t> g_kaio_live{0};
/*
 * Native contexts this library set up and did not destroy yet, wherever
 * their rings are (the table's native entries may be stale or dropped).
 * Written under g_lock.
 */
std::atomic<size_t> g_native_contexts{0};
int g_dev = -1;		/* this process's /dev/kaio; under g_lock */
dev_t g_dev_rdev;	/* its device number, to recognise it */
/* The module behind g_dev refused KAIO_SETUP_WRITES_IN_SUBMIT (too old). */
std::atomic<bool> g_dev_no_writes_in_submit{false};

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

void put_locked(Table *t, uintptr_t key, const Ring &r)
{
	size_t i = home_slot(key, t->mask);

	for (;; i = (i + 1) & t->mask) {
		uintptr_t cur = t->slots[i].ring.load(std::memory_order_relaxed);

		if (cur == kEmpty || cur == kTombstone)
			break;
	}
	t->slots[i].fd.store(r.fd, std::memory_order_relaxed);
	t->slots[i].size.store(r.size, std::memory_order_relaxed);
	t->slots[i].ring.store(key, std::memory_order_release);
}

/*
 * Room for @n more entries, the table staying at most half full (probe
 * chains stay short and always end). Growing moves every entry: a Slot *
 * taken before this is stale after it.
 */
int reserve_locked(size_t n)
{
	Table *t = g_table.load(std::memory_order_relaxed);

	if ((g_live + n) * 2 <= t->mask + 1)
		return 0;
	size_t slots = (t->mask + 1) * 2;
	while ((g_live + n) * 2 > slots)
		slots *= 2;
	void *mem = malloc(sizeof(Table) + slots * sizeof(Slot));

	if (!mem)
		return -ENOMEM;
	auto *bigger = new (mem) Table{slots - 1, nullptr};
	bigger->slots = reinterpret_cast<Slot *>(bigger + 1);
	for (size_t i = 0; i < slots; i++)
		new (&bigger->slots[i]) Slot;
	for (size_t i = 0; i <= t->mask; i++) {
		const Slot &s = t->slots[i];
		uintptr_t key = s.ring.load(std::memory_order_relaxed);

		if (key != kEmpty && key != kTombstone)
			put_locked(bigger, key,
				   {s.fd.load(std::memory_order_relaxed),
				    s.size.load(std::memory_order_relaxed)});
	}
	g_table.store(bigger, std::memory_order_release);
	return 0;
}


/* A new entry; reserve_locked() made room. */
void add_locked(uintptr_t key, const Ring &r)
{
	put_locked(g_table.load(std::memory_order_relaxed), key, r);
	g_live++;
	if (!r.native())
		g_kaio_live.fetch_add(1, std::memory_order_relaxed);
}

void remove_locked(Slot *s)
{
	Ring r = {s->fd.load(std::memory_order_relaxed), 0};

	s->ring.store(kTombstone, std::memory_order_release);
	g_live--;
	if (!r.native())
		g_kaio_live.fetch_sub(1, std::memory_order_relaxed);
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

/* The live entry of kaio context fd @fd, wherever its ring is now. */
Slot *slot_of_fd_locked(int fd)
{
	Table *t = g_table.load(std::memory_order_relaxed);

	if (fd < 0)
		return nullptr;
	for (size_t i = 0; i <= t->mask; i++) {
		uintptr_t r = t->slots[i].ring.load(std::memory_order_relaxed);

		if (r != kEmpty && r != kTombstone &&
		    t->slots[i].fd.load(std::memory_order_relaxed) == fd)
			return &t->slots[i];
	}
	return nullptr;
}

/*
 * A ring just mapped at @addr (reserve_locked(2) made room). Whatever the
 * table still has there is stale: a native ring that moved away, or a kaio
 * ring that moved away and was not used at its new address yet -- that one
 * stays findable by its fd.
 */
void place_locked(uintptr_t addr, const Ring &r)
{
	if (Slot *old = slot_of_locked(addr)) {
		Ring moved = {old->fd.load(std::memory_order_relaxed),
			      old->size.load(std::memory_order_relaxed)};

		remove_locked(old);
		if (!moved.native())
			add_locked(lost_key(moved.fd), moved);
	}
	add_locked(addr, r);
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

/* The ring header at @addr, read without faulting; false if it is none. */
bool ring_header(uintptr_t addr, struct kaio_ring *hdr)
{
	return copy_in(hdr, reinterpret_cast<void *>(addr), sizeof(*hdr)) &&
	       hdr->magic == KAIO_RING_MAGIC;
}

/*
 * Whether a mapping of a kaio context file starts at @addr, as the kernel
 * names it in /proc/self/maps ("anon_inode:[kaio]"; a native ring is
 * "/[aio] (deleted)"). The kernel's word, not a guess from the ring's
 * contents, which look the same for both. Read with plain open()/read(): no
 * stdio buffer, no allocation. Only asked for an address the table does not
 * vouch for, i.e. a ring moved with mremap().
 */
bool kaio_mapping_at(uintptr_t addr)
{
	static const char kName[] = "anon_inode:[kaio]";
	char buf[4096];
	size_t have = 0;
	bool eof = false, found = false;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	while (!found) {
		char *nl = static_cast<char *>(memchr(buf, '\n', have));

		if (!nl) {
			if (eof || have == sizeof(buf)) {
				/* a line longer than buf (a long path): not ours */
				if (eof || have == 0)
					break;
				have = 0;
				continue;
			}
			ssize_t n = read(fd, buf + have, sizeof(buf) - have);

			if (n <= 0)
				eof = true;
			else
				have += n;
			if (eof && have > 0 && have < sizeof(buf))
				buf[have++] = '\n';
			continue;
		}
		*nl = 0;
		/* "lo-hi perms offset dev inode    name" */
		char *end;
		unsigned long lo = strtoul(buf, &end, 16);

		if (end != buf && *end == '-' && lo == addr) {
			const char *name = nullptr;
			int field = 0;

			for (char *p = buf; *p && !name; field++) {
				while (*p && *p != ' ')
					p++;
				while (*p == ' ')
					p++;
				if (field == 4)
					name = p;
			}
			found = name && strcmp(name, kName) == 0;
			break;
		}
		size_t used = nl + 1 - buf;
		memmove(buf, nl + 1, have - used);
		have -= used;
	}
	close(fd);
	return found;
}

/*
 * Whether native AIO knows @ctx as one of this process's contexts. The
 * kernel answers exactly: it looks the context up by the id in the ring
 * header at @ctx and checks that the context's ring is at @ctx now (it
 * follows its rings through mremap()).
 */
bool native_context(uintptr_t addr)
{
	return native::is_context(reinterpret_cast<void *>(addr));
}

/*
 * @addr is not where this library knows a kaio ring to be. If a kaio
 * context of ours has its ring mapped there now (moved with mremap()),
 * adopt the new address and return true; anything else is native AIO's to
 * answer for. A ring is ours when the kernel says a kaio context file is
 * mapped at @addr and its header's id -- written by kaio.ko: the context fd
 * SETUP returned -- is one of the kaio contexts in the table.
 */
bool adopt_moved_ring(uintptr_t addr, Ring *r)
{
	struct kaio_ring hdr;
	int fd;

	if (!ring_header(addr, &hdr) || static_cast<int>(hdr.id) < 0 ||
	    !kaio_mapping_at(addr))
		return false;
	fd = static_cast<int>(hdr.id);

	Locked lock;
	Slot *s = slot_of_fd_locked(fd);
	if (!s || s->fd.load(std::memory_order_relaxed) == kNativeFd)
		return false;
	r->fd = fd;
	r->size = s->size.load(std::memory_order_relaxed);
	/*
	 * The entry moves to @addr, over whatever the table still had there
	 * (a native ring that moved away). Without room to move it, it stays
	 * put: the next call adopts again.
	 */
	if (reserve_locked(2) == 0) {
		remove_locked(slot_of_fd_locked(fd));
		if (Slot *old = slot_of_locked(addr))
			remove_locked(old);
		add_locked(addr, *r);
	}
	return true;
}

/*
 * The native entry at @addr is stale: native AIO has no ring there now (it
 * moved or was unmapped). Forget it, so it decides nothing any more.
 */
void drop_stale_native(uintptr_t addr)
{
	Locked lock;
	Slot *s = slot_of_locked(addr);

	if (s && s->fd.load(std::memory_order_relaxed) == kNativeFd)
		remove_locked(s);
}

/* Where a call on @ctx goes. */
struct Route {
	Ring ring;	/* a kaio context, or kNative */
	bool known;	/* set up by this library: its ring header is mapped */
};

/*
 * Routing never guesses from the value of @ctx or from the ring's contents:
 * a kaio ring and a native one look the same (fs/aio.c's header; kaio's id
 * is its fd, native AIO's a small index, so they collide), and
 * io_context_t is just the ring's address. What decides:
 *
 *  - the table: every context this library set up, with its backend, at
 *    the address io_setup() handed out (or where a moved kaio ring was
 *    adopted);
 *  - native AIO's kernel, for native contexts: it tracks its rings through
 *    mremap(), so it knows exactly whether @ctx is one of them now;
 *  - for a kaio ring moved with mremap() (which the table cannot follow by
 *    itself), the kernel's name of the mapping at @ctx (adopt_moved_ring()).
 *
 * The table can only go stale when rings are moved, and a kaio entry only
 * matters against a native ring moved onto its old address. So:
 *
 *  - a process with contexts of one kind only routes on the table alone, as
 *    before the fallback existed: a kaio entry is kaio, anything else native
 *    AIO's (the kernel says EINVAL for what is no context of its own);
 *  - where it has both, a kaio entry is kaio unless native AIO claims @ctx;
 *    anything else is native AIO's if it claims @ctx, else a moved kaio
 *    ring of ours if the mapping is one, else native AIO's to refuse. That
 *    costs one extra system call per call in such a process.
 */
Route route(void *ctx)
{
	auto addr = reinterpret_cast<uintptr_t>(ctx);
	bool native_entry = false;
	Ring r;

	/* A ring is page-aligned; this also keeps the keys that are no address out. */
	if (addr == 0 || addr % kMinPageSize != 0)
		return {kNative, false};
	bool hit = find(addr, &r);
	bool mixed = g_native_contexts.load(std::memory_order_relaxed) > 0 &&
		     g_kaio_live.load(std::memory_order_relaxed) > 0;

	if (hit && !r.native()) {
		if (!mixed || !native_context(addr))
			return {r, true};
		/* our kaio ring moved away, a native one moved here */
		return {kNative, true};
	}
	if (hit)
		native_entry = true;
	if (g_kaio_live.load(std::memory_order_relaxed) == 0)
		return {kNative, native_entry};
	if (native_context(addr))
		return {kNative, true};
	if (native_entry)
		drop_stale_native(addr);
	if (adopt_moved_ring(addr, &r))
		return {r, true};
	/* no context at all now: native AIO refuses it (EINVAL) */
	return {kNative, false};
}

/*
 * libaio's shortcut (aio_ring_is_empty()), kept for its exact behaviour:
 * when only looking (zero timeout) at an empty ring, return 0 without a
 * system call -- even for arguments the call would refuse. libaio reads the
 * header of whatever it is given; one this library did not set up is read
 * with copy_in(), so a bad address gets the system call's EINVAL, not a
 * crash. (A native ring's old address after mremap() is still read
 * directly, as libaio would.)
 */
bool empty_at_a_glance(void *ctx, const struct timespec *timeout, bool mapped)
{
	struct kaio_ring hdr;

	if (!timeout || timeout->tv_sec != 0 || timeout->tv_nsec != 0)
		return false;
	if (!mapped)
		return ring_header(reinterpret_cast<uintptr_t>(ctx), &hdr) &&
		       hdr.head == hdr.tail;
	auto *ring = static_cast<struct kaio_ring *>(ctx);
	return std::atomic_ref(ring->magic).load(std::memory_order_relaxed) ==
		       KAIO_RING_MAGIC &&
	       std::atomic_ref(ring->head).load(std::memory_order_relaxed) ==
		       std::atomic_ref(ring->tail).load(std::memory_order_acquire);
}

/* ---- /dev/kaio ---------------------------------------------------------- */

/*
 * The process keeps one /dev/kaio fd (O_CLOEXEC) from its first io_setup()
 * on, so a process that later chroots or sandboxes itself can still create
 * contexts. If that number was closed behind the library's back it may now
 * be someone else's file: it is recognised by its device number, and
 * replaced (never closed) when it is not /dev/kaio any more. -errno of the
 * open() when there is none.
 */
int device_fd_locked()
{
	struct stat st;
	int fd;

	if (g_dev >= 0 && fstat(g_dev, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == g_dev_rdev)
		return g_dev;
	fd = open(device_path(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	g_dev = fd;
	g_dev_rdev = st.st_rdev;
	/* Perhaps another module now: ask it for every SETUP flag again. */
	g_dev_no_writes_in_submit.store(false, std::memory_order_relaxed);
	return fd;
}

/* open() of the device failed so: kaio is not there (not loaded) ... */
bool kaio_missing(int err)
{
	return err == ENOENT || err == ENXIO || err == ENODEV;
}

/* ... or not for this process: then native AIO serves it instead. */
bool kaio_refused(int err)
{
	return kaio_missing(err) || err == EACCES || err == EPERM;
}

int ioctl_result(int ret)
{
	return ret < 0 ? -errno : ret;
}

/* ---- the kaio backend -------------------------------------------------- */

/*
 * SETUP, asking for KAIO_SETUP_WRITES_IN_SUBMIT unless the user opted out:
 * a buffered write's event is then in the ring when io_submit() returns, as
 * with native AIO, which programs count on (they reap it with min_nr 0). A
 * module older than the flag refuses it with EINVAL: SETUP again without.
 */
int kaio_setup_ioctl(int dev, int maxevents, struct kaio_setup *s, const char **writes)
{
	bool async = env_is("KAIO_COMPAT_ASYNC_WRITES", "1");
	int fd;

	*s = {};
	/* Negative counts become huge ones: EINVAL, as from io_setup(2). */
	s->nr_events = static_cast<__u32>(maxevents);
	if (!async && !g_dev_no_writes_in_submit.load(std::memory_order_relaxed))
		s->flags = KAIO_SETUP_WRITES_IN_SUBMIT;
	fd = ioctl(dev, KAIO_IOC_SETUP, s);
	if (fd < 0 && errno == EINVAL && s->flags) {
		*s = {};
		s->nr_events = static_cast<__u32>(maxevents);
		fd = ioctl(dev, KAIO_IOC_SETUP, s);
		/* EINVAL for the flag, not the count: remember it. */
		if (fd >= 0)
			g_dev_no_writes_in_submit.store(true, std::memory_order_relaxed);
	}
	if (fd >= 0)
		*writes = s->flags ? "complete in io_submit" :
			  async ? "asynchronous (KAIO_COMPAT_ASYNC_WRITES=1)" :
				  "asynchronous (kaio.ko without KAIO_SETUP_WRITES_IN_SUBMIT)";
	return fd < 0 ? -errno : fd;
}

/* io_setup(2)'s first checks, in its order: ctxp readable, then *ctxp == 0 and maxevents. */
int check_setup_args(int maxevents, void **ctxp)
{
	void *old;

	if (!copy_in(&old, ctxp, sizeof(old)))
		return -EFAULT;
	if (old || maxevents == 0)
		return -EINVAL;
	return 0;
}

int kaio_setup(int dev, int maxevents, void **ctxp)
{
	struct kaio_setup s;
	const char *writes = "";
	void *ring;
	int fd, err;

	err = check_setup_args(maxevents, ctxp);
	if (err)
		return err;
	fd = kaio_setup_ioctl(dev, maxevents, &s, &writes);
	if (fd < 0)
		return fd;
	ring = mmap(nullptr, s.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	auto addr = reinterpret_cast<uintptr_t>(ring);
	{
		Locked lock;
		err = reserve_locked(2);
		if (!err)
			place_locked(addr, {fd, s.ring_size});
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
	debug("io_setup(%d): kaio context %p (fd %d, %u events), buffered writes %s",
	      maxevents, ring, fd, s.nr_events, writes);
	return 0;
}

/*
 * KAIO_IOC_DESTROY, not just close(): a forked child may hold the fd too,
 * and io_destroy(2) ends the context whoever else holds it. It cancels what
 * it can and waits for the rest, as io_destroy(2) does.
 */
int kaio_destroy(void *ctx, const Ring &r)
{
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

int kaio_getevents(int fd, long min_nr, long nr, void *events,
		   struct timespec *timeout, const sigset_t *sigmask)
{
	struct kaio_getevents g = {
		.min_nr = min_nr,
		.nr = nr,
		.events = reinterpret_cast<uintptr_t>(events),
		.timeout = reinterpret_cast<uintptr_t>(timeout),
		.sigmask = reinterpret_cast<uintptr_t>(sigmask),
		.sigsetsize = kSigsetSize,
	};
	return ioctl_result(ioctl(fd, KAIO_IOC_GETEVENTS, &g));
}

/* ---- the native backend ------------------------------------------------- */

/* io_setup(2) itself, so every errno is native AIO's; @why for the log. */
int native_setup(int maxevents, void **ctxp, const char *why)
{
	void *ring = nullptr;
	int err = native::setup(maxevents, ctxp);

	if (err) {
		debug("io_setup(%d) on native AIO (%s): %s", maxevents, why, strerror(-err));
		return err;
	}
	/*
	 * The entry only speeds routing up (and lets getevents' shortcut read
	 * the ring directly): without room, the miss routes here too.
	 */
	{
		Locked lock;

		g_native_contexts.fetch_add(1, std::memory_order_relaxed);
		if (copy_in(&ring, ctxp, sizeof(ring)) && reserve_locked(2) == 0)
			place_locked(reinterpret_cast<uintptr_t>(ring), kNative);
	}
	debug("io_setup(%d): native AIO context %p (%s)", maxevents, ring, why);
	return 0;
}

int native_destroy(void *ctx)
{
	int err = native::destroy(ctx);

	if (!err) {
		Locked lock;
		Slot *s = slot_of_locked(reinterpret_cast<uintptr_t>(ctx));

		/* Only a native entry: a kaio ring may be there since. */
		if (s && s->fd.load(std::memory_order_relaxed) == kNativeFd)
			remove_locked(s);
		/* not below 0 for a context some other code set up */
		if (g_native_contexts.load(std::memory_order_relaxed) > 0)
			g_native_contexts.fetch_sub(1, std::memory_order_relaxed);
	}
	return err;
}

} // namespace

int setup(int maxevents, void **ctxp)
{
	Backend want = backend_wanted();
	char why[256];
	int dev;

	if (want == Backend::native)
		return native_setup(maxevents, ctxp, "KAIO_COMPAT_BACKEND=native");
	{
		Locked lock;
		dev = device_fd_locked();
	}
	if (dev >= 0) {
		int err = kaio_setup(dev, maxevents, ctxp);

		if (err)
			debug("io_setup(%d) on kaio: %s", maxevents, strerror(-err));
		return err;
	}
	snprintf(why, sizeof(why), "%s: %s", device_path(), strerror(-dev));
	if (want == Backend::automatic && kaio_refused(-dev))
		return native_setup(maxevents, ctxp, why);
	debug("io_setup(%d): no kaio (%s)%s", maxevents, why,
	      want == Backend::kaio ? ", KAIO_COMPAT_BACKEND=kaio" : "");
	if (want == Backend::automatic)
		return dev;
	/*
	 * KAIO_COMPAT_BACKEND=kaio: arguments io_setup(2) would refuse first
	 * get its errno, then what libaio says where the kernel has no AIO.
	 */
	int err = check_setup_args(maxevents, ctxp);
	return err ? err : kaio_missing(-dev) ? -ENOSYS : dev;
}

int destroy(void *ctx)
{
	Route r = route(ctx);

	if (r.ring.native())
		return native_destroy(ctx);
	return kaio_destroy(ctx, r.ring);
}

int submit(void *ctx, long nr, void *iocbpp)
{
	Route r = route(ctx);

	if (r.ring.native())
		return native::submit(ctx, nr, iocbpp);
	struct kaio_submit s = {nr, reinterpret_cast<uintptr_t>(iocbpp)};
	return ioctl_result(ioctl(r.ring.fd, KAIO_IOC_SUBMIT, &s));
}

/* EINPROGRESS on success, as io_cancel(2); the event comes through the ring. */
int cancel(void *ctx, void *iocb, void *event)
{
	Route r = route(ctx);

	if (r.ring.native())
		return native::cancel(ctx, iocb, event);
	struct kaio_cancel c = {reinterpret_cast<uintptr_t>(iocb),
				reinterpret_cast<uintptr_t>(event)};
	return ioctl_result(ioctl(r.ring.fd, KAIO_IOC_CANCEL, &c));
}

int getevents(void *ctx, long min_nr, long nr, void *events,
	      struct timespec *timeout)
{
	Route r = route(ctx);

	if (empty_at_a_glance(ctx, timeout, r.known))
		return 0;
	if (r.ring.native())
		return native::getevents(ctx, min_nr, nr, events, timeout);
	return kaio_getevents(r.ring.fd, min_nr, nr, events, timeout, nullptr);
}

int pgetevents(void *ctx, long min_nr, long nr, void *events,
	       struct timespec *timeout, const sigset_t *sigmask)
{
	Route r = route(ctx);

	if (empty_at_a_glance(ctx, timeout, r.known))
		return 0;
	if (r.ring.native())
		return native::pgetevents(ctx, min_nr, nr, events, timeout, sigmask);
	return kaio_getevents(r.ring.fd, min_nr, nr, events, timeout, sigmask);
}

} // namespace kaio::compat
