// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libkaio-posix: POSIX asynchronous I/O (glibc's <aio.h> ABI and symbol
 * versions) served by kaio, with glibc's own implementation as the fallback.
 * Documentation/posix-aio.md describes the design; glibc 2.36 (rt/ and
 * sysdeps/pthread/aio_*.c) is the reference for every errno and corner.
 *
 * One kaio context per process. Each request takes a record of a fixed
 * table; its status lives in the aiocb (__error_code, __return_value) as in
 * glibc. Completions are reaped from the kernel with GETEVENTS into a buffer
 * on the stack and delivered without locks, so aio_error, aio_return and
 * aio_suspend stay async-signal-safe.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/time_types.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kaio.h>

#include "kaio-posix.h"

#define API __attribute__((visibility("default")))

/* glibc's limit on aio_reqprio (AIO_PRIO_DELTA_MAX of its <limits.h>). */
#define PRIO_DELTA_MAX 20
#define KAIO_SIGMAX 64
#define DEFAULT_MAX 4096
/* Ring slots beyond the records: the kick NOOP, at most one at a time. */
#define RING_SPARE 64
#define REAP_BATCH 64
/* Non-blocking reaps of application threads, signal handlers included: a
 * small buffer, so that an alternate signal stack of MINSIGSTKSZ holds it. */
#define REAP_SMALL 8
/* aio_data of the kick iocb; records use index | generation << 32. */
#define KICK_DATA (~0ULL)
/* rec.dep once the request was delivered: no fsync can wait for it. */
#define DEP_DONE UINT32_MAX
/* Opcode kaio rejects (opcodes 64 and above are EINVAL): the event of an
 * lio_listio element with an opcode glibc's worker would refuse. */
#define BAD_OPCODE 255
/* glibc's internal opcodes for aio_fsync, which its lio_listio accepts. */
#define GLIBC_LIO_DSYNC 3
#define GLIBC_LIO_SYNC 4

enum backend { B_UNDECIDED, B_KAIO, B_GLIBC };
/*
 * R_QUEUED: held by the library, not submitted yet (behind an earlier
 * request on its stream, or in a list the reaper submits), cancellable;
 * whoever starts it moves it to R_INFLIGHT, aio_cancel to R_CANCELLED.
 */
enum rstate { R_FREE, R_PREP, R_INFLIGHT, R_DEFERRED, R_DONE, R_LIST,
	      R_QUEUED, R_CANCELLED };
enum rnotify { N_NONE, N_THREAD, N_BADSIG };
/*
 * A read or write kaio answers with -EAGAIN (a pipe, socket or character
 * device that would block: kaio makes only a NOWAIT attempt on those) is
 * waited for with a POLL, then tried again, until it completes: POSIX aio
 * waits for the data.
 */
enum rstage { S_IO, S_POLL, S_JOB };

struct rec {
	struct iocb iocb;		/* submitted: its address is the key */
	struct kaio_sigevent ksev;
	struct aiocb *cb;
	uint32_t gen;			/* bumped at each allocation */
	uint32_t refs;			/* 0 = free */
	int state;			/* enum rstate */
	uint32_t next_free;		/* free stack link: index + 1 */
	int fd;
	int notify;			/* enum rnotify */
	int stage;			/* enum rstage */
	int libsig;			/* the library queues the signal */
	struct iocb orig;		/* the request, while polling */
	void (*fn)(union sigval);
	union sigval val;
	pthread_attr_t *attr;
	struct rec *list;		/* the lio_listio record it counts in */
	uint32_t dep;			/* index + 1 of an fsync waiting for it */
	uint32_t deps;			/* fsync: requests still before it */
	uint32_t lrefs;			/* list: elements in flight + caller */
	int lfailed;			/* list: an element ended in -1 */
	int lwait;			/* list: LIO_WAIT */
	struct rec *nnext;		/* notification stack link */
	/* Streams (qstart()): one request of the fd at a time, in order. */
	int ordered;			/* a read or write of a stream */
	uint32_t qnext;			/* index + 1 of the next one, DEP_DONE */
	size_t wdone;			/* a stream write: bytes written so far */
	uint64_t done;			/* pipe write: bytes written so far */
};

static int g_backend;			/* enum backend */
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_ctx = -1;
static struct kaio_ring *g_ring;
static size_t g_ring_size;
static uint64_t g_opcodes;
/* kaio gives results of requests done inside SUBMIT_LIST (deliver_inline()). */
static int g_inline;
static struct rec *g_recs;
static uint32_t g_nrec;
static uint64_t g_free;			/* tag << 32 | (index + 1) */
static uint32_t g_seq;			/* futex: bumped after deliveries */
static int g_waiter;			/* tid of the ring waiter, or 0 */
static int g_kick;			/* a kick NOOP is in flight */
static struct iocb g_kick_iocb;
static int g_debug;
/* Completion signals are in use: reaping masks them (see reap()). */
static int g_signals;
/* Events taken from the kernel, not yet delivered, all threads / this one. */
static uint32_t g_delivering;
static __thread uint32_t t_delivering __attribute__((tls_model("initial-exec")));
/*
 * Events taken from the ring and delivered, modulo the ring size: equal to
 * the ring's head when no thread holds events it took (held_elsewhere()).
 */
static uint64_t g_delivered;
/* This thread sleeps in GETEVENTS, or holds what it returned. */
static __thread int t_holding __attribute__((tls_model("initial-exec")));

/* SIGEV_THREAD pool and the reaper thread. */
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_reaper_tid;
static int g_reaper_started;
static int g_nworkers;		/* running or starting */
static int g_idle, g_starting;
/* A job found no worker (deliver()): the next call from the program
 * starts one. */
static int g_want_pool;
static struct rec *g_nhead;		/* notifications to run */
static uint32_t g_nseq;			/* futex for the workers */
/* lio_listio(LIO_NOWAIT) lists handed to the reaper (lio_handoff()). */
struct lio_job;
static struct lio_job *g_lio_jobs;
static size_t g_lio_inline_max = 1 << 20;
static void run_lio_jobs(void);
/* aio_fsync's dependency set-up, one at a time (no cycles). */
static pthread_mutex_t g_fsync_lock = PTHREAD_MUTEX_INITIALIZER;

#define LD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CAS(p, e, v) __atomic_compare_exchange_n((p), (e), (v), 0, \
				__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
/* The ring waiter's role against g_seq: a store-buffer pattern (take the
 * role, then read g_seq / bump g_seq, then read the role): both sides are
 * sequentially consistent. */
#define CAS_SC(p, e, v) __atomic_compare_exchange_n((p), (e), (v), 0, \
				__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define LD_SC(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define SUB(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_ACQ_REL)

/* ---- glibc's implementation, the fallback ------------------------------ */

struct glibc_aio {
	int (*read)(struct aiocb *);
	int (*write)(struct aiocb *);
	int (*error)(const struct aiocb *);
	ssize_t (*ret)(struct aiocb *);
	int (*suspend)(const struct aiocb *const[], int,
		       const struct timespec *);
	int (*cancel)(int, struct aiocb *);
	int (*fsync)(int, struct aiocb *);
	void (*init)(const struct aioinit *);
	int (*listio)(int, struct aiocb *const[], int, struct sigevent *);
	int (*listio_old)(int, struct aiocb *const[], int, struct sigevent *);
};
static struct glibc_aio g_glibc;

static void *glibc_sym(const char *name, const char *ver)
{
	void *p = dlvsym(RTLD_NEXT, name, ver);

	return p ? p : dlsym(RTLD_NEXT, name);
}

static void resolve_glibc(void)
{
	g_glibc.read = glibc_sym("aio_read", "GLIBC_2.34");
	g_glibc.write = glibc_sym("aio_write", "GLIBC_2.34");
	g_glibc.error = glibc_sym("aio_error", "GLIBC_2.34");
	g_glibc.ret = glibc_sym("aio_return", "GLIBC_2.34");
	g_glibc.suspend = glibc_sym("aio_suspend", "GLIBC_2.34");
	g_glibc.cancel = glibc_sym("aio_cancel", "GLIBC_2.34");
	g_glibc.fsync = glibc_sym("aio_fsync", "GLIBC_2.34");
	g_glibc.init = glibc_sym("aio_init", "GLIBC_2.34");
	g_glibc.listio = glibc_sym("lio_listio", "GLIBC_2.34");
	g_glibc.listio_old = dlvsym(RTLD_NEXT, "lio_listio", "GLIBC_2.2.5");
	if (!g_glibc.listio_old)
		g_glibc.listio_old = g_glibc.listio;
}

/* A fallback entry point missing from libc: ENOSYS, as a stub would. */
#define FORWARD(fn, ...) \
	(g_glibc.fn ? g_glibc.fn(__VA_ARGS__) : (errno = ENOSYS, -1))

/* ---- small helpers -------------------------------------------------- */

static long futex(uint32_t *word, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/*
 * Threads waiting on g_seq. A FUTEX_WAKE is a system call, and most
 * deliveries have nobody on the futex (a single-threaded program waits in
 * GETEVENTS as the ring waiter): wake only when someone may sleep. Both
 * sides are sequentially consistent: a waiter counts itself, then
 * FUTEX_WAIT checks g_seq; a waker moves g_seq, then reads the count. One
 * of them sees the other's write, so no wake-up is lost.
 */
static uint32_t g_seq_waiters;

static void bump_seq(void)
{
	__atomic_add_fetch(&g_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g_seq_waiters, __ATOMIC_SEQ_CST))
		futex(&g_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/*
 * gettid() is a system call each time, and every wait asks: cached per
 * thread (async-signal-safe: a handler that fills it writes the same
 * value). A forked child's one thread has a new id: atfork_child() clears it.
 */
static __thread int t_tid __attribute__((tls_model("initial-exec")));

static int self_tid(void)
{
	if (!t_tid)
		t_tid = gettid();
	return t_tid;
}

static void seq_wait_gone(void *arg)
{
	(void)arg;
	__atomic_sub_fetch(&g_seq_waiters, 1, __ATOMIC_SEQ_CST);
}

/*
 * FUTEX_WAIT on g_seq while it is @seen; the futex call's result. If
 * @cancel, the wait is a cancellation point (aio_suspend's): asynchronous
 * cancellation around the system call alone, as glibc's own cancellable
 * system calls once were, and a cleanup handler that counts it out.
 */
static long seq_wait(uint32_t seen, const struct timespec *ts, int cancel)
{
	long rc;
	int e, type = 0;

	__atomic_add_fetch(&g_seq_waiters, 1, __ATOMIC_SEQ_CST);
	pthread_cleanup_push(seq_wait_gone, NULL);
	if (cancel)
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	rc = futex(&g_seq, FUTEX_WAIT_PRIVATE, seen, ts);
	e = errno;
	if (cancel)
		pthread_setcanceltype(type, NULL);
	pthread_cleanup_pop(0);
	__atomic_sub_fetch(&g_seq_waiters, 1, __ATOMIC_SEQ_CST);
	errno = e;
	return rc;
}

static int load_err(const struct aiocb *cb)
{
	return LD(&cb->__error_code);
}

static void set_status(struct aiocb *cb, int err, ssize_t ret)
{
	/* Readers load __error_code with acquire, then __return_value. */
	__atomic_store_n(&cb->__return_value, ret, __ATOMIC_RELAXED);
	ST(&cb->__error_code, err);
}

static int ring_nonempty(void)
{
	return LD(&g_ring->head) != LD(&g_ring->tail);
}

/* ---- records: a lock-free stack, since handlers free them ------------ */

static struct rec *rec_alloc(void)
{
	uint64_t h = LD(&g_free), n;
	uint32_t i;
	struct rec *r;

	do {
		i = (uint32_t)h;
		if (!i)
			return NULL;
		n = (((h >> 32) + 1) << 32) |
		    __atomic_load_n(&g_recs[i - 1].next_free, __ATOMIC_RELAXED);
	} while (!CAS(&g_free, &h, n));
	r = &g_recs[i - 1];
	memset(&r->iocb, 0, sizeof(r->iocb));
	memset(&r->ksev, 0, sizeof(r->ksev));
	r->cb = NULL;
	r->notify = N_NONE;
	r->stage = S_IO;
	r->libsig = 0;
	r->fn = NULL;
	r->attr = NULL;
	r->list = NULL;
	r->fd = -1;
	r->ordered = 0;
	r->wdone = 0;
	ST(&r->qnext, 0);
	r->done = 0;
	ST(&r->dep, 0);
	ST(&r->deps, 0);
	ST(&r->gen, r->gen + 1);
	ST(&r->state, R_PREP);
	ST(&r->refs, 1);
	return r;
}

static void reap_nowait(void);

/*
 * A free record; if there is none, the completions nobody collected yet
 * (SIGEV_NONE requests whose program has not called aio_error, events the
 * reaper has not come to) are reaped first, once: each holds a record and
 * a ring slot, and glibc, which has no such limit, would not say EAGAIN.
 * Records still in flight, in another thread's delivery or waiting for a
 * SIGEV_THREAD worker are not freed by that: EAGAIN then.
 */
static struct rec *rec_alloc_reaping(void)
{
	struct rec *r = rec_alloc();

	if (!r && LD(&g_backend) == B_KAIO) {
		reap_nowait();
		r = rec_alloc();
	}
	return r;
}

static void rec_put(struct rec *r)
{
	uint32_t i = (uint32_t)(r - g_recs) + 1;
	uint64_t h, n;

	if (SUB(&r->refs, 1))
		return;
	ST(&r->state, R_FREE);
	h = LD(&g_free);
	do {
		__atomic_store_n(&r->next_free, (uint32_t)h, __ATOMIC_RELAXED);
		n = (((h >> 32) + 1) << 32) | i;
	} while (!CAS(&g_free, &h, n));
}

/* A reference on a record still serving (gen, in flight); 0 if it is not. */
static int rec_pin(struct rec *r, uint32_t gen)
{
	uint32_t n = LD(&r->refs);
	int st;

	do {
		if (!n)
			return 0;
	} while (!CAS(&r->refs, &n, n + 1));
	st = LD(&r->state);
	if (LD(&r->gen) != gen ||
	    (st != R_INFLIGHT && st != R_DEFERRED && st != R_QUEUED)) {
		rec_put(r);
		return 0;
	}
	return 1;
}

/* ---- submission -------------------------------------------------------- */

/*
 * One request, asking kaio for its result if it completes inside the call
 * (KAIO_LIST_INLINE_RESULTS): 1 and *@res (KAIO_RESULT_IN_RING if its
 * event will be in the ring), or -errno.
 */
static long submit_inline(struct iocb *cb, int64_t *res)
{
	struct kaio_submit_list sl;
	long rc;

	memset(&sl, 0, sizeof(sl));
	sl.nr = 1;
	sl.iocbpp = (uintptr_t)&cb;
	sl.flags = KAIO_LIST_POST_ERRORS | KAIO_LIST_INLINE_RESULTS;
	sl.results = (uintptr_t)res;
	*res = KAIO_RESULT_IN_RING;
	rc = ioctl(g_ctx, KAIO_IOC_SUBMIT_LIST, &sl);
	return rc < 0 ? -errno : rc;
}

static long submit_list(struct iocb **v, long n, uint32_t flags,
			const struct kaio_sigevent *lsev)
{
	struct kaio_submit_list sl;
	long rc;

	memset(&sl, 0, sizeof(sl));
	sl.nr = n;
	sl.iocbpp = (uintptr_t)v;
	sl.flags = flags | KAIO_LIST_POST_ERRORS;
	if (lsev)
		sl.sigev = *lsev;
	rc = ioctl(g_ctx, KAIO_IOC_SUBMIT_LIST, &sl);
	return rc < 0 ? -errno : rc;
}

static int valid_signo(int signo)
{
	return signo >= 1 && signo <= KAIO_SIGMAX;
}

static void ensure_pool(int workers);

/*
 * fstat(2) of @fd. glibc 2.33 and later make fstat an fstatat(fd, "",
 * AT_EMPTY_PATH), which in Linux before 6.11 copies the empty name into a
 * 4 KiB names_cache buffer, zeroed on Debian's kernels (init_on_alloc):
 * in the guest, its memset was 3.7% of the CPU of fio's posixaio engine at
 * QD1 (scripts/guest/bench-probe-posix.sh). x86-64's fstat system call
 * takes no name and fills glibc's struct stat, which is the kernel's there.
 */
static int file_stat(int fd, struct stat *st)
{
#if defined(__x86_64__) && defined(SYS_fstat)
	return (int)syscall(SYS_fstat, fd, st);
#else
	return fstat(fd, st);
#endif
}

#ifndef BTRFS_SUPER_MAGIC
#define BTRFS_SUPER_MAGIC 0x9123683E
#endif
#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/*
 * Whether kaio punts blocking attempts on this regular file to its workers
 * (module/req.c: kaio_file_may_punt(): file systems on a block device,
 * tmpfs, ramfs; not FUSE). A file system with FS_REQUIRES_DEV has its
 * device as st_dev; btrfs (anonymous st_dev) is named. Unsure means no:
 * the library then does more itself, which is always correct.
 */
static int reg_may_punt_fs(int fd, const struct stat *st)
{
	struct statfs sf;

	if (fstatfs(fd, &sf))
		return -1;
	if ((unsigned long)sf.f_type == FUSE_SUPER_MAGIC)
		return 0;
	if ((unsigned long)sf.f_type == TMPFS_MAGIC ||
	    (unsigned long)sf.f_type == RAMFS_MAGIC ||
	    (unsigned long)sf.f_type == BTRFS_SUPER_MAGIC)
		return 1;
	return major(st->st_dev) != 0;
}

/*
 * reg_may_punt_fs() of a file system on a block device (major(st_dev) != 0),
 * per device: fstatfs was a second system call beside fstat in every
 * aio_read and aio_write (fio's posixaio on ext4, warm cache, QD1: 0.54x
 * of the libaio drop-in with it, 0.62x without, in the guest), for devices
 * kaio punts only. Entries are (dev << 2 | punt << 1 | 1), each valid on
 * its own, lock-free. What a
 * block device holds changes only by a umount and a mount of another type
 * on it (a loop or dm device reused for a fuseblk image): kaio then answers
 * with -EAGAIN a file the entry says it punts, which it never does for one
 * it punts, and deliver() forgets the entry (devcache_forget()) while the
 * library's fallback serves that request. Requests with a signal ask each
 * time (@exact): the kernel would signal their first -EAGAIN. Anonymous
 * devices (tmpfs, btrfs, NFS, FUSE, overlay) reuse their numbers at once:
 * asked each time too, as is a device whose fstatfs failed.
 */
#define DEVCACHE_SIZE 32
static uint64_t g_devcache[DEVCACHE_SIZE];

static uint64_t *devcache_slot(uint64_t dev)
{
	return &g_devcache[(dev ^ dev >> 7) % DEVCACHE_SIZE];
}

static int reg_may_punt(int fd, const struct stat *st, int exact)
{
	uint64_t dev = (uint64_t)st->st_dev, *slot, e;
	int punt;

	if (major(st->st_dev) == 0 || dev >> 62)
		return reg_may_punt_fs(fd, st) > 0;
	slot = devcache_slot(dev);
	e = LD(slot);
	if (!exact && (e & 1) && e >> 2 == dev)
		return (int)(e >> 1 & 1);
	punt = reg_may_punt_fs(fd, st);
	/*
	 * Only "punted" is kept: kaio's EAGAIN tells when it went stale
	 * (devcache_forget()), nothing would tell for "not punted" (a fuseblk
	 * device, the one case, asks each time).
	 */
	if (punt > 0)
		ST(slot, dev << 2 | 1ULL << 1 | 1);
	return punt > 0;
}

/* kaio answered a regular file on @st's device with -EAGAIN: not punted. */
static void devcache_forget(const struct stat *st)
{
	uint64_t dev = (uint64_t)st->st_dev, *slot = devcache_slot(dev);
	uint64_t e = LD(slot);

	if (S_ISREG(st->st_mode) && (e & 1) && e >> 2 == dev)
		CAS(slot, &e, 0);
}

/*
 * A file kaio answers with -EAGAIN when it would block: a pipe, socket or
 * character device, or a regular file kaio does not punt (its first
 * -EAGAIN then goes to a library thread, see deliver()). Either way it
 * ends in the library, which sends the signals then. @exact: no cached
 * answer (reg_may_punt()).
 */
static int may_block(int fd, int exact)
{
	struct stat st;

	if (file_stat(fd, &st))
		return 0;
	if (S_ISREG(st.st_mode))
		return !reg_may_punt(fd, &st, exact);
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	       S_ISCHR(st.st_mode);
}

/*
 * What the library does with -EAGAIN (read, write) or -EOPNOTSUPP (fsync)
 * of kaio on @fd: 1 a job for a library thread (a file that blocks
 * without ever being "ready": regular file, block device, ...), 0 a POLL
 * (pipe, socket, character device) or, for fsync, EINVAL as fsync(2) of a
 * pipe or socket says. A regular file there is one kaio does not punt:
 * its device's cached answer, if any, was stale (devcache_forget()).
 */
static int wants_job(int fd)
{
	struct stat st;

	if (file_stat(fd, &st))
		return 0;
	devcache_forget(&st);
	return !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) &&
	       !S_ISCHR(st.st_mode);
}

/*
 * An fsync of @fd that kaio will answer with EOPNOTSUPP runs on a worker
 * (deliver(), run_job()): have one. fsync is rare, so it asks each time.
 */
static void sync_needs_pool(int fd)
{
	struct stat st;

	if (file_stat(fd, &st) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    S_ISBLK(st.st_mode))
		return;
	if (!S_ISREG(st.st_mode) || !reg_may_punt(fd, &st, 1))
		ensure_pool(1);
}

/*
 * The program asked for a completion signal: from now on the reaper thread
 * (every signal blocked) is the ring waiter and application threads only
 * wait on the futex (wait_once()). Before the request is submitted.
 */
static void set_signals(void)
{
	if (LD(&g_signals))
		return;
	__atomic_store_n(&g_signals, 1, __ATOMIC_SEQ_CST);
	ensure_pool(0);
}

/*
 * An application thread is the ring waiter: it took the role before the
 * reaper ran (wait_once()) and may sleep in GETEVENTS with the program's
 * signal mask, so the kernel could pick it for a completion signal while
 * it holds that request's event, and its handler would see the request in
 * progress. Until it gives the role up, and until the reaper runs (another
 * thread may be starting it, or it could not start), the library sends the
 * signals (after the status, as to_libsig()). With wait_once()'s check of
 * g_reaper_started after its CAS, both sequentially consistent, a thread
 * that takes the role after this look sees the reaper and gives it up
 * without sleeping.
 */
static int app_waiter(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !LD_SC(&g_reaper_started) || LD_SC(&g_waiter) != 0;
}

/* The signal of a libsig record, queued as the kernel would queue it. */
static void queue_signal(const struct kaio_sigevent *k)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = (int)k->signo;
	si.si_code = SI_ASYNCIO;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)k->value;
	if (k->notify == KAIO_SIGEV_THREAD_ID)
		syscall(SYS_rt_tgsigqueueinfo, si.si_pid, k->tid, si.si_signo,
			&si);
	else
		syscall(SYS_rt_sigqueueinfo, si.si_pid, si.si_signo, &si);
}

/*
 * The request's notification. glibc queues SIGEV_SIGNAL itself after the
 * I/O: signal 0 sends nothing, a bad number makes sigqueue fail and glibc
 * then overwrites the status with EINVAL/-1 (N_BADSIG does that). glibc
 * ignores SIGEV_THREAD_ID; kaio sends it, as Linux's timers do.
 */
static void prep_notify(struct rec *r, const struct sigevent *sev)
{
	switch (sev->sigev_notify) {
	case SIGEV_SIGNAL:
		if (!sev->sigev_signo)
			break;
		if (!valid_signo(sev->sigev_signo)) {
			r->notify = N_BADSIG;
			break;
		}
		r->ksev.notify = KAIO_SIGEV_PROCESS;
		goto kernel;
	case SIGEV_THREAD_ID:
		if (!valid_signo(sev->sigev_signo))
			break;
		/*
		 * A thread outside the process: EINVAL, as kaio answers it,
		 * also when the library would send the signal (libsig).
		 */
		if (syscall(SYS_tgkill, getpid(), sev->_sigev_un._tid, 0)) {
			r->notify = N_BADSIG;
			break;
		}
		r->ksev.notify = KAIO_SIGEV_THREAD_ID;
		r->ksev.tid = sev->_sigev_un._tid;
kernel:
		r->ksev.signo = sev->sigev_signo;
		r->ksev.value = (uintptr_t)sev->sigev_value.sival_ptr;
		set_signals();
		/*
		 * SIGKILL and SIGSTOP: kaio refuses them (EINVAL), glibc's
		 * sigqueue sends them: so does the library.
		 */
		if (r->ksev.signo == SIGKILL || r->ksev.signo == SIGSTOP) {
			r->libsig = 1;
			break;
		}
		if (may_block(r->fd, 1)) {
			/*
			 * Its first -EAGAIN must not signal: the library sends
			 * it at the end, and the reaper thread makes sure the
			 * end comes (POLL or job, then the request again).
			 */
			r->libsig = 1;
			ensure_pool(1);
			break;
		}
		if (app_waiter()) {
			r->libsig = 1;
			break;
		}
		r->iocb.aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
		r->iocb.aio_reserved2 = (uintptr_t)&r->ksev;
		break;
	case SIGEV_THREAD:
		r->notify = N_THREAD;
		r->fn = sev->sigev_notify_function;
		r->val = sev->sigev_value;
		r->attr = sev->sigev_notify_attributes;
		ensure_pool(1);
		break;
	default:
		break;
	}
}

/*
 * The library sends @r's signal (rt_sigqueueinfo, after the status) instead
 * of the kernel: for a request that a library thread will submit. The
 * kernel emulates process-directed delivery by picking a thread, and when
 * every thread blocks the signal at that moment (a thread blocks them all
 * for a few instructions while it delivers) the signal stays pending on
 * the submitter: on the reaper, which never unblocks, it would be lost.
 * The library's process-directed sigqueue waits in the process's queue.
 */
static void to_libsig(struct rec *r)
{
	if (!(r->iocb.aio_flags & KAIO_IOCB_FLAG_SIGEVENT))
		return;
	r->iocb.aio_flags &= ~KAIO_IOCB_FLAG_SIGEVENT;
	r->iocb.aio_reserved2 = 0;
	r->libsig = 1;
}

static void prep_rec(struct rec *r, struct aiocb *cb, int opcode)
{
	uint32_t idx = (uint32_t)(r - g_recs);

	r->cb = cb;
	r->fd = cb->aio_fildes;
	r->iocb.aio_data = (uint64_t)r->gen << 32 | idx;
	r->iocb.aio_lio_opcode = opcode;
	r->iocb.aio_fildes = cb->aio_fildes;
	/*
	 * aio_fsync uses aio_fildes and aio_sigevent only (POSIX; glibc);
	 * kaio, as io_submit, refuses a sync with a buffer, size or offset.
	 */
	if (opcode != IOCB_CMD_FSYNC && opcode != IOCB_CMD_FDSYNC) {
		r->iocb.aio_buf = (uintptr_t)cb->aio_buf;
		r->iocb.aio_nbytes = cb->aio_nbytes;
		r->iocb.aio_offset = cb->aio_offset;
	}
	prep_notify(r, &cb->aio_sigevent);
	/*
	 * A read or write of a pipe, socket or character device may go on
	 * by POLL, then the transfer (wait_ready()), which only a reaper
	 * does: without the reaper thread it would wait for the program to
	 * call aio_error or aio_suspend, forever if the program waits for
	 * the transfer instead (reads the other end of the socket).
	 */
	if ((opcode == IOCB_CMD_PREAD || opcode == IOCB_CMD_PWRITE) &&
	    may_block(r->fd, 0)) {
		r->ordered = 1;
		if (!LD(&g_reaper_started))
			ensure_pool(0);
	}
}

static int bad_prio(struct aiocb *cb)
{
	if (cb->aio_reqprio >= 0 && cb->aio_reqprio <= PRIO_DELTA_MAX)
		return 0;
	set_status(cb, EINVAL, -1);
	return 1;
}

static void deliver(const struct io_event *ev);
static void after_deliver(void);

/* Submit one prepared record; a failure is delivered as its event. */
static void submit_one(struct rec *r)
{
	struct iocb *v = &r->iocb;
	long rc;

	ST(&r->state, R_INFLIGHT);
	rc = submit_list(&v, 1, 0, NULL);
	if (rc < 1) {
		struct io_event ev = {
			.data = r->iocb.aio_data,
			.obj = (uintptr_t)&r->iocb,
			.res = rc < 0 ? rc : -EAGAIN,
		};

		/* Its call returned 0 long ago: its signal is still due. */
		to_libsig(r);
		deliver(&ev);
		bump_seq();
	}
}

/* ---- streams: one request of an fd at a time, in order ------------------ */

/*
 * glibc runs the requests of one fd one at a time, in submission order: two
 * writes to a pipe or socket never interleave, and a request that started
 * (its thread is in read or write) cannot be cancelled, the ones behind it
 * can. Regular files and block devices need neither (kaio runs them
 * concurrently, as native AIO). For a stream (may_block()), the library
 * keeps that queue: only its head is submitted; the others are R_QUEUED,
 * linked by qnext (index + 1), and each is started by the delivery of the
 * one before it. g_qtail[fd] is the last request queued on fd (gen << 32 |
 * index + 1), under g_order_lock; the links are taken without it, as
 * rec.dep: a finished request swaps DEP_DONE into its qnext, a new one
 * CASes itself into its tail's qnext 0, and starts at once if that fails.
 * A request cancelled while queued stays linked (R_CANCELLED, then R_DONE)
 * with one reference for the queue, dropped when its turn is passed on.
 */
static pthread_mutex_t g_order_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *g_qtail;
static uint32_t g_nqtail;

static void kick(void);

/* A reference on @r if it still serves @gen (any state). */
static int rec_ref(struct rec *r, uint32_t gen)
{
	uint32_t n = LD(&r->refs);

	do {
		if (!n)
			return 0;
	} while (!CAS(&r->refs, &n, n + 1));
	if (LD(&r->gen) != gen) {
		rec_put(r);
		return 0;
	}
	return 1;
}

/*
 * Queue @r (prepared, ordered) behind the requests of its fd. R_QUEUED
 * either way; returns 1 if it is the head: the caller starts it (qclaim()).
 */
static int qenqueue(struct rec *r)
{
	uint32_t me = (uint32_t)(r - g_recs) + 1, z;
	uint32_t fd = (uint32_t)r->fd;
	uint64_t t, *n;
	struct rec *p;
	int head = 1;

	ST(&r->state, R_QUEUED);
	pthread_mutex_lock(&g_order_lock);
	if (fd >= g_nqtail) {
		uint32_t nn = fd < 64 ? 64 : fd * 2;

		n = realloc(g_qtail, nn * sizeof(*n));
		if (!n) {
			/* No room to track it: unordered, as before. */
			pthread_mutex_unlock(&g_order_lock);
			r->ordered = 0;
			return 1;
		}
		memset(n + g_nqtail, 0, (nn - g_nqtail) * sizeof(*n));
		g_qtail = n;
		g_nqtail = nn;
	}
	t = g_qtail[fd];
	if (t) {
		p = &g_recs[(uint32_t)t - 1];
		if (rec_ref(p, (uint32_t)(t >> 32))) {
			z = 0;
			if (CAS(&p->qnext, &z, me))
				head = 0;
			rec_put(p);
		}
	}
	g_qtail[fd] = (uint64_t)LD(&r->gen) << 32 | me;
	pthread_mutex_unlock(&g_order_lock);
	return head;
}

/* R_QUEUED -> R_INFLIGHT for whoever starts @r; 0 if it was cancelled. */
static int qclaim(struct rec *r)
{
	int st = R_QUEUED;

	return CAS(&r->state, &st, R_INFLIGHT);
}

/* The turn passes to the request index + 1 @n (0, DEP_DONE: none). */
static void qturn(uint32_t n)
{
	struct rec *r;

	while (n && n != DEP_DONE) {
		r = &g_recs[n - 1];
		if (qclaim(r)) {
			submit_one(r);
			return;
		}
		/* Cancelled while queued: skip it, drop the queue's ref. */
		n = XCHG(&r->qnext, DEP_DONE);
		rec_put(r);
	}
}

/* @r is done (or never ran): start the request queued behind it. */
static void qdone(struct rec *r)
{
	qturn(XCHG(&r->qnext, DEP_DONE));
}

/* @r, cancelled while R_QUEUED and never started: its turn passes on. */
static void qskip(struct rec *r)
{
	qdone(r);
	rec_put(r);		/* the reference aio_cancel left */
}

/*
 * aio_cancel of a pinned R_QUEUED request: ECANCELED and its notifications
 * now, as glibc does for a request its workers have not taken. 1 if it was
 * still queued. The record keeps a reference for its starter (qturn() or
 * the list's submitter), who passes the turn on.
 */
static int qcancel(struct rec *r)
{
	struct io_event ev = {
		.data = r->iocb.aio_data,
		.obj = (uintptr_t)&r->iocb,
		.res = -ECANCELED,
	};
	int st = R_QUEUED;

	if (!CAS(&r->state, &st, R_CANCELLED))
		return 0;
	ADD(&r->refs, 1);
	deliver(&ev);
	/* Waiters (the futex, a ring waiter in GETEVENTS) may want it. */
	after_deliver();
	return 1;
}

/* ---- delivery ------------------------------------------------------------ */

/* Submit @r's iocb again from delivery; 1 if the kernel took it. */
static int resubmit(struct rec *r)
{
	struct iocb *v = &r->iocb;

	return submit_list(&v, 1, 0, NULL) == 1;
}

/*
 * preadv2/pwritev2 as raw system calls: glibc's are cancellation points,
 * and delivery must never act on a cancellation (it would unwind with the
 * ring waiter's role, signals blocked and events in hand).
 */
static ssize_t rw2(int wr, int fd, const struct iovec *iov, off_t off,
		   int flags)
{
	return syscall(wr ? SYS_pwritev2 : SYS_preadv2, fd, iov, 1,
		       (unsigned long)off,
		       (unsigned long)((uint64_t)off >> 32), flags);
}

/*
 * The transfer of a polled record once its file is ready, without blocking
 * (async-signal-safe): kaio answers a pipe, socket or character device with
 * -EAGAIN even then, so the library does it, at the offset or, where the
 * file has none (ESPIPE), at its position, as glibc's read fallback.
 * Returns bytes or -errno.
 */
static long ready_rw(struct rec *r, int polled)
{
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)r->orig.aio_buf,
		.iov_len = r->orig.aio_nbytes,
	};
	off_t off = (off_t)r->orig.aio_offset;
	int wr = r->orig.aio_lio_opcode == IOCB_CMD_PWRITE, i;
	ssize_t n = -1;

	for (i = 0; i < 2; i++) {
		n = rw2(wr, r->fd, &iov, off, RWF_NOWAIT);
		if (n >= 0 || errno != ESPIPE)
			break;
		off = -1;
	}
	if (n < 0 && errno == EOPNOTSUPP) {
		/*
		 * No RWF_NOWAIT (6.1's sockets): a socket still has
		 * MSG_DONTWAIT. POLL's readiness promises nothing to this
		 * request (every request waiting on the socket woke, a
		 * datagram may not fit), and a blocking transfer here would
		 * hang whoever reaped: aio_error, aio_suspend, aio_cancel.
		 */
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

		/* Raw: glibc's are cancellation points (see rw2()). */
		n = syscall(wr ? SYS_sendmsg : SYS_recvmsg, r->fd, &m,
			    MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK) {
			/*
			 * Not a socket: POLL said ready, take it at its word.
			 * A stream write, PIPE_BUF at a time (partial() does
			 * the rest): a pipe without RWF_NOWAIT (6.1) that POLL
			 * says writable has that much room, and more could
			 * block whoever reaped, the pipe's reader included.
			 */
			if (wr && r->ordered && iov.iov_len > PIPE_BUF)
				iov.iov_len = PIPE_BUF;
			if (polled)
				n = rw2(wr, r->fd, &iov, off, 0);
			else
				errno = EAGAIN;
		}
	}
	return n < 0 ? -errno : n;
}

/*
 * A stream write that wrote @res bytes of more: glibc's write(2) blocks
 * until it wrote them all, so the rest waits for POLL again (the next
 * request of the stream waits too). 1 if there is a rest.
 */
static int partial(struct rec *r, long long res)
{
	if (!r->ordered || r->orig.aio_lio_opcode != IOCB_CMD_PWRITE ||
	    res <= 0 || (uint64_t)res >= r->orig.aio_nbytes)
		return 0;
	r->wdone += res;
	r->orig.aio_buf += res;
	r->orig.aio_nbytes -= res;
	return 1;
}

/* The transfer of a stream's head kaio answered with -EAGAIN, tried once. */
static long try_now(struct rec *r)
{
	r->orig = r->iocb;
	return ready_rw(r, 0);
}

/*
 * -EAGAIN from a read or write of a blocking file: wait for it with a POLL
 * (no signal for that stage), then transfer (ready_rw()). Not for O_NONBLOCK
 * files, whose EAGAIN glibc reports too. 1 if the record went on.
 */
static int wait_ready(struct rec *r)
{
	int op = r->iocb.aio_lio_opcode, fl;

	if ((op != IOCB_CMD_PREAD && op != IOCB_CMD_PWRITE) ||
	    !(g_opcodes & (1ULL << IOCB_CMD_POLL)))
		return 0;
	fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return 0;
	if (!r->done)
		r->orig = r->iocb;
	if (r->libsig == 0 && (r->orig.aio_flags & KAIO_IOCB_FLAG_SIGEVENT)) {
		/* A file may_block() did not catch: signal at the end. */
		r->orig.aio_flags &= ~KAIO_IOCB_FLAG_SIGEVENT;
		r->orig.aio_reserved2 = 0;
		r->libsig = 1;
	}
	r->stage = S_POLL;
	r->iocb.aio_lio_opcode = IOCB_CMD_POLL;
	r->iocb.aio_buf = op == IOCB_CMD_PREAD ? POLLIN : POLLOUT;
	r->iocb.aio_nbytes = 0;
	r->iocb.aio_offset = 0;
	r->iocb.aio_flags &= ~KAIO_IOCB_FLAG_SIGEVENT;
	r->iocb.aio_reserved2 = 0;
	if (resubmit(r))
		return 1;
	r->stage = S_IO;
	r->iocb = r->orig;
	return 0;
}

/*
 * A blocking pipe or socket took @n bytes of a write that wants more:
 * glibc's blocking write(2) would go on until all is written, so wait for
 * POLLOUT and write the rest. 1 if the record went on.
 */
static int write_more(struct rec *r, long n)
{
	struct stat st;

	if (r->stage == S_IO) {
		if (file_stat(r->fd, &st) ||
		    (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)))
			return 0;
		r->orig = r->iocb;
	}
	r->done += (uint64_t)n;
	r->orig.aio_buf += (uint64_t)n;
	r->orig.aio_nbytes -= (uint64_t)n;
	r->orig.aio_offset += (uint64_t)n;
	r->iocb = r->orig;
	r->stage = S_IO;
	if (wait_ready(r))
		return 1;
	r->done -= (uint64_t)n;	/* deliver() adds it back */
	return 0;
}

static void notify_push(struct rec *r);

/* Hand @r to a worker (run_job()); 0 if there is none yet. */
static int job_push(struct rec *r)
{
	if (!LD(&g_nworkers)) {
		ST(&g_want_pool, 1);
		return 0;
	}
	ST(&r->stage, S_JOB);
	notify_push(r);
	return 1;
}

static void notify_push(struct rec *r)
{
	struct rec *h = LD(&g_nhead);

	do
		r->nnext = h;
	while (!CAS(&g_nhead, &h, r));
	ADD(&g_nseq, 1);
	futex(&g_nseq, FUTEX_WAKE_PRIVATE, 1, NULL);
}

static void list_put(struct rec *l, int failed)
{
	if (failed)
		ST(&l->lfailed, 1);
	if (SUB(&l->lrefs, 1))
		return;
	if (l->libsig)
		queue_signal(&l->ksev);
	if (l->notify == N_THREAD && !l->lwait)
		notify_push(l);		/* the worker puts it */
	else
		rec_put(l);
}

static void fsync_dep_done(struct rec *f)
{
	if (!SUB(&f->deps, 1))
		submit_one(f);
}

/*
 * A request the kernel did not take (ring full): status @err, no
 * notification (the caller reports it, as glibc's enqueue failure); what
 * waits for it goes on. The caller holds the list's reference, if any.
 */
static void unsubmitted(struct rec *r, int err)
{
	uint32_t d;

	ST(&r->state, R_DONE);
	set_status(r->cb, err, -1);
	d = XCHG(&r->dep, DEP_DONE);
	if (d && d != DEP_DONE)
		fsync_dep_done(&g_recs[d - 1]);
	qdone(r);
	if (r->list)
		SUB(&r->list->lrefs, 1);
	rec_put(r);
}

/*
 * Writes the aiocb's status, then does what the library owes the request
 * after that: a deferred fsync's submission, the list's count, SIGEV_THREAD.
 * Runs in whatever thread reaped the event, signal handlers included.
 */
static void deliver(const struct io_event *ev)
{
	uint32_t idx = (uint32_t)ev->data, d;
	struct rec *r;
	long long res = ev->res;
	int err = 0, cancelled, op;
	ssize_t ret;

	if (ev->data == KICK_DATA) {
		ST(&g_kick, 0);
		return;
	}
	if (idx >= g_nrec)
		return;
	r = &g_recs[idx];
	/* Not the request this record serves now: nothing to do. */
	if ((uint32_t)(ev->data >> 32) != LD(&r->gen) || !LD(&r->refs))
		return;
	cancelled = LD(&r->state) == R_CANCELLED;
	op = r->iocb.aio_lio_opcode;
	if (r->stage == S_POLL) {
		/* Ready: the transfer; 0: the POLL was cancelled. */
		if (res > 0) {
			res = ready_rw(r, 1);
			if (res == -EAGAIN && resubmit(r))
				return;
			if (partial(r, res)) {
				if (resubmit(r))
					return;
				res = 0;
			}
		} else if (!res) {
			res = -ECANCELED;
		}
		r->stage = S_IO;
		r->iocb = r->orig;
		op = r->iocb.aio_lio_opcode;
	} else if (r->stage == S_JOB) {
		/* run_job()'s result: final. */
		ST(&r->stage, S_IO);
	} else if (res == -EAGAIN && r->ordered &&
		   (res = try_now(r)) != -EAGAIN) {
		/*
		 * kaio answers a stream's request with -EAGAIN without trying
		 * it: the head of the queue tries it at once, as glibc's
		 * write would (a socket takes a datagram before its POLLOUT
		 * says so), and waits for POLL only if it would block.
		 */
		if (partial(r, res)) {
			r->iocb = r->orig;
			if (wait_ready(r))
				return;
			res = 0;
		}
	} else if (((res == -EAGAIN &&
		     (op == IOCB_CMD_PREAD || op == IOCB_CMD_PWRITE)) ||
		    (res == -EOPNOTSUPP &&
		     (op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC))) &&
		   wants_job(r->fd) && job_push(r)) {
		return;
	} else if (res == -EAGAIN && wait_ready(r)) {
		return;
	}
	/*
	 * A pipe or socket write that took part of it: the rest (a stream's
	 * queued requests do that in partial()).
	 */
	if (!r->ordered && op == IOCB_CMD_PWRITE && res > 0 &&
	    (uint64_t)res < r->iocb.aio_nbytes && write_more(r, (long)res))
		return;
	if (r->wdone)	/* an error after some bytes: write(2) counts them */
		res = res < 0 ? (long long)r->wdone : res + (long long)r->wdone;
	if (r->done)
		res = res < 0 ? (long long)r->done : res + (long long)r->done;
	ret = res;
	if (res < 0) {
		err = (int)-res;
		ret = -1;
		/* kaio refuses to sync a pipe or socket; fsync(2) says EINVAL. */
		if (err == EOPNOTSUPP &&
		    (op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC))
			err = EINVAL;
	}
	if (r->notify == N_BADSIG) {
		err = EINVAL;
		ret = -1;
	}
	ST(&r->state, R_DONE);
	set_status(r->cb, err, ret);
	if (r->libsig)
		queue_signal(&r->ksev);
	d = XCHG(&r->dep, DEP_DONE);
	if (d && d != DEP_DONE)
		fsync_dep_done(&g_recs[d - 1]);
	if (!cancelled)
		qdone(r);	/* a queued one waits for its turn */
	if (r->list)
		list_put(r->list, ret == -1);
	if (r->notify == N_THREAD)
		notify_push(r);		/* the worker puts it */
	else
		rec_put(r);
}

static __thread int t_kicked __attribute__((tls_model("initial-exec")));

static void kick(void)
{
	struct iocb *v = &g_kick_iocb;
	int zero = 0;

	if (!CAS(&g_kick, &zero, 1))
		return;
	if (submit_list(&v, 1, 0, NULL) < 1)
		ST(&g_kick, 0);
	else
		t_kicked = 1;
}

/* After deliveries: wake the futex waiters and the ring waiter. */
static void after_deliver(void)
{
	int w;

	bump_seq();
	/*
	 * The ring waiter sleeping in GETEVENTS may be waiting for an aiocb just
	 * delivered here: wake it with an event.
	 */
	w = LD_SC(&g_waiter);
	if (w && w != self_tid())
		kick();
	/*
	 * A list handed to the reaper whose kick another thread ate (a ring
	 * waiter still in GETEVENTS as the reaper started): kick again.
	 */
	else if (LD(&g_lio_jobs) && self_tid() != LD(&g_reaper_tid))
		kick();
}

/*
 * Takes up to @nr events from the ring without waiting and delivers them.
 * Returns the number of events or -errno.
 *
 * Nobody ever holds an event that a signal handler could wait for: this
 * thread blocks every signal (unless @masked says it has them all blocked
 * already: the reaper) and raises g_delivering *before* the ioctl, so a
 * handler in another thread whose aio_error finds the ring empty waits
 * for the delivery to end (kp_aio_error()), and no handler runs in this
 * thread until it ended.
 */
static long consume(struct io_event *ev, long nr, int masked)
{
	static const struct __kernel_timespec zero;
	struct kaio_getevents g;
	sigset_t all, old;
	long n, i;

	memset(&g, 0, sizeof(g));
	g.min_nr = 0;
	g.nr = nr;
	g.events = (uintptr_t)ev;
	g.timeout = (uintptr_t)&zero;
	if (!masked) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
	}
	ADD(&g_delivering, 1);
	t_delivering++;
	n = ioctl(g_ctx, KAIO_IOC_GETEVENTS, &g);
	if (n < 0)
		n = -errno;
	for (i = 0; i < n; i++)
		deliver(&ev[i]);
	if (n > 0)
		ADD(&g_delivered, (uint64_t)n);
	t_delivering--;
	SUB(&g_delivering, 1);
	if (n > 0)
		after_deliver();
	if (!masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

/* Delivers what the ring holds. Async-signal-safe; errno preserved. */
static void reap_nowait(void)
{
	struct io_event ev[REAP_SMALL];
	int e = errno;

	while (ring_nonempty() && consume(ev, REAP_SMALL, 0) == REAP_SMALL)
		;
	errno = e;
}

/*
 * The ring waiter's sleep: GETEVENTS for at least one event (kaio also
 * runs retries in the task asleep there), then delivery. Returns the
 * number of events or -errno.
 *
 * An application thread blocks every signal and gives GETEVENTS its own
 * mask, as io_pgetevents: a signal with a handler ends the wait (EINTR,
 * SA_RESTART or not: such threads are ring waiters only in programs that
 * never asked for a completion signal), a stop signal without one restarts
 * it. The kernel runs a pending handler on the way back even when events
 * were returned, before they are delivered: t_holding tells this thread's
 * handlers not to wait for them (they would wait for themselves), and
 * other threads see them held (held_elsewhere()) until g_delivered counts
 * them. The reaper has every signal blocked all along.
 */
static long reap_wait(const struct timespec *to, int reaper)
{
	struct io_event ev[REAP_BATCH];
	struct __kernel_timespec ts;
	struct kaio_getevents g;
	sigset_t all, old;
	long n, i;

	memset(&g, 0, sizeof(g));
	g.min_nr = 1;
	g.nr = REAP_BATCH;
	g.events = (uintptr_t)ev;
	if (to) {
		ts.tv_sec = to->tv_sec;
		ts.tv_nsec = to->tv_nsec;
		g.timeout = (uintptr_t)&ts;
	}
	if (!reaper) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		g.sigmask = (uintptr_t)&old;
		g.sigsetsize = _NSIG / 8;
	}
	t_holding++;
	n = ioctl(g_ctx, KAIO_IOC_GETEVENTS, &g);
	if (n < 0)
		n = -errno;
	if (n > 0) {
		ADD(&g_delivering, 1);
		t_delivering++;
		for (i = 0; i < n; i++)
			deliver(&ev[i]);
		ADD(&g_delivered, (uint64_t)n);
		t_delivering--;
		SUB(&g_delivering, 1);
		after_deliver();
	}
	t_holding--;
	if (!reaper)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

/*
 * Wait for deliveries after g_seq was @seen: as the ring waiter
 * (reap_wait()), or on the g_seq futex. Returns 0 (look again),
 * EINTR or EAGAIN (the deadline passed).
 *
 * Once the reaper thread runs (always, once the program asked for a
 * completion signal: set_signals()), it is the ring waiter and
 * application threads wait on the futex only: a handler with SA_RESTART
 * restarts a wait without timeout, any other handler ends it with EINTR,
 * as glibc's futex wait. Before that (SIGEV_NONE programs), the first
 * waiting thread is the ring waiter and sleeps in GETEVENTS itself, which
 * saves the hand-over through the reaper and runs kaio's retries in the
 * waiting thread.
 */
static int wait_once(uint32_t seen, const struct timespec *deadline,
		     int cancel)
{
	struct timespec now, rem, *prem = NULL;
	int me = self_tid(), w = 0, own = 0, rc = 0;
	long n;

	if (deadline) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		rem.tv_sec = deadline->tv_sec - now.tv_sec;
		rem.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (rem.tv_nsec < 0) {
			rem.tv_nsec += 1000000000;
			rem.tv_sec--;
		}
		if (rem.tv_sec < 0 || (!rem.tv_sec && !rem.tv_nsec))
			return EAGAIN;
		prem = &rem;
	}
	if (!LD(&g_reaper_started)) {
		own = CAS_SC(&g_waiter, &w, me);
		/* The reaper came meanwhile: no sleep here (app_waiter()). */
		if (own && LD_SC(&g_reaper_started)) {
			ST(&g_waiter, 0);
			bump_seq();
			own = 0;
			w = 0;
		}
	} else {
		w = LD_SC(&g_waiter);
	}
	if (own || w == me) {
		/* A handler nested in the ring waiter's thread waits too. */
		/*
		 * Not a cancellation point here: an asynchronous cancel on
		 * the way back from GETEVENTS would drop the events it
		 * returned. aio_suspend acts on it when the wait ends.
		 */
		if (LD_SC(&g_seq) == seen) {
			n = reap_wait(prem, 0);
			if (n == -EINTR)
				rc = EINTR;
		}
		if (own) {
			ST(&g_waiter, 0);
			bump_seq();	/* another thread may take the role */
		}
		return rc;
	}
	if (seq_wait(seen, prem, cancel) < 0 && errno == EINTR)
		return EINTR;
	return 0;
}

static void deadline_of(struct timespec *d, const struct timespec *rel)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += rel->tv_sec;
	d->tv_nsec += rel->tv_nsec;
	while (d->tv_nsec >= 1000000000) {
		d->tv_nsec -= 1000000000;
		d->tv_sec++;
	}
}

/* Until @cb is delivered; signals do not end the wait. */
static void wait_done(const struct aiocb *cb)
{
	uint32_t s;

	for (;;) {
		s = LD(&g_seq);
		reap_nowait();
		if (load_err(cb) != EINPROGRESS)
			return;
		wait_once(s, NULL, 0);
	}
}

/* ---- SIGEV_THREAD pool and the reaper thread ------------------------- */

static void block_all(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

static void grow_pool(void);

/*
 * The permanent ring waiter: completions and their callbacks progress even
 * if the program never calls in. All signals blocked, so the kernel never
 * picks it for a process-directed completion signal and no handler ever
 * runs here; a handler in another thread that finds the ring empty waits
 * for what this thread holds (held_elsewhere()).
 */
static void *reaper_main(void *arg)
{
	struct timespec pause = { 0, 0 };
	long n;

	(void)arg;
	ST(&g_reaper_tid, self_tid());
	for (;;) {
		/* Lists lio_listio handed over (lio_handoff()): a kick wakes it. */
		run_lio_jobs();
		n = reap_wait(NULL, 1);
		if (t_kicked) {
			/*
			 * It kicked an application ring waiter: let that one
			 * take the NOOP, or this thread takes it back at once
			 * and kicks again, round and round.
			 */
			struct timespec yield = { 0, 100000 };

			t_kicked = 0;
			if (LD_SC(&g_waiter))
				nanosleep(&yield, NULL);
		}
		if (n == -EBADF || n == -ENOTTY || n == -EINVAL ||
		    n == -EFAULT) {
			/*
			 * The context is gone (a daemon closed every fd): no
			 * busy loop; look again now and then, at most 1 s.
			 */
			pause.tv_nsec = pause.tv_nsec ? pause.tv_nsec * 2 :
							 1000000;
			if (pause.tv_nsec > 999999999)
				pause.tv_nsec = 999999999;
			nanosleep(&pause, NULL);
		} else {
			pause.tv_nsec = 0;
		}
	}
	return NULL;
}

struct thread_call {
	void (*fn)(union sigval);
	union sigval val;
};

static void *thread_call_main(void *arg)
{
	struct thread_call c = *(struct thread_call *)arg;

	free(arg);
	c.fn(c.val);
	return NULL;
}

/*
 * One notification. With attributes, a thread made with them, as glibc
 * does (detached even if the attributes say joinable: nobody joins it).
 */
static void run_notification(struct rec *r)
{
	void (*fn)(union sigval) = r->fn;
	union sigval val = r->val;
	pthread_attr_t *attr = r->attr;
	struct thread_call *c;
	pthread_t t;
	int ds;

	rec_put(r);
	if (!fn)
		return;
	if (!attr) {
		fn(val);
		return;
	}
	c = malloc(sizeof(*c));
	if (!c)
		return;
	c->fn = fn;
	c->val = val;
	if (pthread_create(&t, attr, thread_call_main, c)) {
		free(c);
		return;
	}
	if (!pthread_attr_getdetachstate(attr, &ds) &&
	    ds == PTHREAD_CREATE_JOINABLE)
		pthread_detach(t);
}

static int start_thread(void *(*fn)(void *))
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t old;
	int rc;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	block_all(&old);
	rc = pthread_create(&t, &a, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	return rc;
}

static void *worker_main(void *arg);

/*
 * One more worker. No cap: glibc runs each notification on a thread of its
 * own, so a callback may wait for a later one (a semaphore) and must not
 * starve it. A worker that takes work while no other is idle or starting
 * starts one (worker_main()), so a pushed notification always finds a
 * thread: the push itself may be in a signal handler, where no thread can
 * be made. g_starting counts the threads not yet looking for work.
 */
static void grow_pool(void)
{
	pthread_mutex_lock(&g_pool_lock);
	ADD(&g_starting, 1);
	if (!start_thread(worker_main))
		ADD(&g_nworkers, 1);
	else
		SUB(&g_starting, 1);
	pthread_mutex_unlock(&g_pool_lock);
}

/*
 * The callback left its thread (pthread_exit, or cancellation): glibc's
 * notification thread was its own, ours is the pool's. Count it out and
 * start a replacement.
 */
static void worker_gone(void *arg)
{
	(void)arg;
	SUB(&g_nworkers, 1);
	grow_pool();
}

/*
 * A job: a request kaio cannot run without blocking a thread (fsync, or a
 * read or write of a regular file on a file system kaio does not punt to
 * its workers: overlayfs, NFS, FUSE, ...). It runs here, as glibc's
 * worker would, never in delivery (a signal handler, aio_suspend, the
 * reaper), and is delivered as if the kernel had posted its event.
 */
static void run_job(struct rec *r)
{
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)r->iocb.aio_buf,
		.iov_len = r->iocb.aio_nbytes,
	};
	off_t off = (off_t)r->iocb.aio_offset;
	struct io_event ev;
	sigset_t old;
	ssize_t n;

	block_all(&old);
	switch (r->iocb.aio_lio_opcode) {
	case IOCB_CMD_FSYNC:
		n = fsync(r->fd);
		break;
	case IOCB_CMD_FDSYNC:
		n = fdatasync(r->fd);
		break;
	case IOCB_CMD_PREAD:
		n = preadv2(r->fd, &iov, 1, off, 0);
		if (n < 0 && errno == ESPIPE)
			n = readv(r->fd, &iov, 1);
		break;
	default:
		n = pwritev2(r->fd, &iov, 1, off, 0);
		if (n < 0 && errno == ESPIPE)
			n = writev(r->fd, &iov, 1);
		break;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data = r->iocb.aio_data;
	ev.obj = (uintptr_t)&r->iocb;
	ev.res = n < 0 ? -errno : n;
	deliver(&ev);
	after_deliver();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void *worker_main(void *arg)
{
	struct rec *r, *rest, *last, *h;
	sigset_t none;
	uint32_t s;

	(void)arg;
	SUB(&g_starting, 1);
	sigemptyset(&none);
	for (;;) {
		s = LD(&g_nseq);
		r = XCHG(&g_nhead, NULL);
		if (!r) {
			ADD(&g_idle, 1);
			futex(&g_nseq, FUTEX_WAIT_PRIVATE, s, NULL);
			SUB(&g_idle, 1);
			continue;
		}
		/* Take one, give the rest back for the other workers. */
		rest = r->nnext;
		if (rest) {
			for (last = rest; last->nnext; last = last->nnext)
				;
			h = LD(&g_nhead);
			do
				last->nnext = h;
			while (!CAS(&g_nhead, &h, rest));
			ADD(&g_nseq, 1);
			if (!LD(&g_idle))
				grow_pool();
			futex(&g_nseq, FUTEX_WAKE_PRIVATE, 1, NULL);
		}
		/* Keep one thread ready for the next push. */
		if (!LD(&g_idle) && !LD(&g_starting))
			grow_pool();
		if (LD(&r->stage) == S_JOB) {
			run_job(r);
			continue;
		}
		/*
		 * What glibc's fresh notification thread would have: signals
		 * unblocked, cancellation enabled and deferred.
		 */
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
		pthread_cleanup_push(worker_gone, NULL);
		run_notification(r);
		pthread_cleanup_pop(0);
	}
	return NULL;
}

/*
 * The reaper, and a first worker if @workers. Never in a signal handler.
 * The workers are wanted too once a job was not run for want of one.
 */
static void ensure_pool(int workers)
{
	if (LD(&g_want_pool))
		workers = 1;
	if (LD(&g_reaper_started) && (!workers || LD(&g_nworkers)))
		return;
	pthread_mutex_lock(&g_pool_lock);
	if (!g_reaper_started && !start_thread(reaper_main))
		__atomic_store_n(&g_reaper_started, 1, __ATOMIC_SEQ_CST);
	if (workers && !g_nworkers) {
		ADD(&g_starting, 1);
		if (!start_thread(worker_main))
			ST(&g_nworkers, 1);
		else
			SUB(&g_starting, 1);
	}
	pthread_mutex_unlock(&g_pool_lock);
}

/* ---- set-up, fork --------------------------------------------------------- */

static void forget_context(void)
{
	if (g_ring)
		munmap(g_ring, g_ring_size);
	if (g_ctx >= 0)
		close(g_ctx);
	g_ring = NULL;
	g_ctx = -1;
}

static const char *try_kaio(void)
{
	struct kaio_setup s;
	const char *e = getenv("KAIO_POSIX_MAX");
	unsigned long max = DEFAULT_MAX;
	void *ring;
	uint32_t i;
	int dev, ctx;

	if (e && *e) {
		char *end;

		max = strtoul(e, &end, 0);
		if (*end || !max || max > (1UL << 20))
			return "bad KAIO_POSIX_MAX";
	}
	dev = open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return "no " KAIO_DEVICE_PATH;
	memset(&s, 0, sizeof(s));
	s.nr_events = (uint32_t)max + RING_SPARE;
	/* Completion signals are asked for per context (kaio(4)). */
	s.flags = KAIO_SETUP_SIGNALS;
	ctx = ioctl(dev, KAIO_IOC_SETUP, &s);
	close(dev);
	if (ctx < 0)
		return "KAIO_IOC_SETUP failed";
	if (!(s.features & KAIO_FEAT_SIGNAL) ||
	    !(s.features & KAIO_FEAT_RING_MMAP)) {
		close(ctx);
		return "module without KAIO_FEAT_SIGNAL";
	}
	ring = mmap(NULL, s.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    ctx, 0);
	if (ring == MAP_FAILED) {
		close(ctx);
		return "ring mmap failed";
	}
	if (!g_recs || g_nrec != max) {
		free(g_recs);
		g_recs = calloc(max, sizeof(*g_recs));
		if (!g_recs) {
			munmap(ring, s.ring_size);
			close(ctx);
			return "out of memory";
		}
		g_nrec = (uint32_t)max;
	}
	for (i = 0; i < g_nrec; i++) {
		g_recs[i].refs = 0;
		g_recs[i].state = R_FREE;
		g_recs[i].next_free = i + 1 < g_nrec ? i + 2 : 0;
	}
	g_free = 1;
	g_delivered = 0;
	g_opcodes = s.features & KAIO_FEAT_OPCODES ? s.opcodes : 0;
	g_inline = !!(s.features & KAIO_FEAT_INLINE_RESULTS);
	memset(&g_kick_iocb, 0, sizeof(g_kick_iocb));
	g_kick_iocb.aio_data = KICK_DATA;
	g_kick_iocb.aio_fildes = ctx;
	/* NOOP where served; else an opcode the kernel answers with EINVAL. */
	g_kick_iocb.aio_lio_opcode = g_opcodes & (1ULL << IOCB_CMD_NOOP) ?
				     IOCB_CMD_NOOP : BAD_OPCODE;
	g_ring = ring;
	g_ring_size = s.ring_size;
	g_ctx = ctx;
	return NULL;
}

static void decide(void)
{
	const char *why = NULL, *e;
	int b;

	pthread_mutex_lock(&g_init_lock);
	if (g_backend != B_UNDECIDED) {
		pthread_mutex_unlock(&g_init_lock);
		return;
	}
	e = getenv("KAIO_POSIX_DEBUG");
	g_debug = e && *e ? atoi(e) : 0;
	e = getenv("KAIO_POSIX_LIO_INLINE_MAX");
	if (e && *e)
		g_lio_inline_max = strtoull(e, NULL, 0);
	e = getenv("KAIO_POSIX_DISABLE");
	if (e && *e && strcmp(e, "0"))
		why = "KAIO_POSIX_DISABLE";
	else
		why = try_kaio();
	if (why)
		resolve_glibc();
	b = why ? B_GLIBC : B_KAIO;
	if (g_debug)
		dprintf(STDERR_FILENO, "libkaio-posix: backend %s%s%s%s\n",
			b == B_KAIO ? "kaio" : "glibc", why ? " (" : "",
			why ? why : "", why ? ")" : "");
	ST(&g_backend, b);
	pthread_mutex_unlock(&g_init_lock);
}

static int backend(void)
{
	int b = LD(&g_backend);

	if (b == B_UNDECIDED) {
		decide();
		b = LD(&g_backend);
	}
	return b;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&g_init_lock);
	pthread_mutex_lock(&g_fsync_lock);
	pthread_mutex_lock(&g_pool_lock);
	pthread_mutex_lock(&g_order_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&g_order_lock);
	pthread_mutex_unlock(&g_pool_lock);
	pthread_mutex_unlock(&g_fsync_lock);
	pthread_mutex_unlock(&g_init_lock);
}

/*
 * The child inherits no requests (its calls would be EINVAL on the
 * parent's context) and none of the threads: forget them all, and make a
 * context of its own at its first request.
 */
static void atfork_child(void)
{
	pthread_mutex_init(&g_pool_lock, NULL);
	pthread_mutex_init(&g_fsync_lock, NULL);
	pthread_mutex_init(&g_init_lock, NULL);
	pthread_mutex_init(&g_order_lock, NULL);
	/* Deliveries of threads that did not come along: none here. */
	g_delivering = 0;
	t_delivering = 0;
	if (g_backend != B_KAIO)
		return;
	/* Its streams' queues and the lists handed to the reaper stay. */
	if (g_qtail)
		memset(g_qtail, 0, g_nqtail * sizeof(*g_qtail));
	g_lio_jobs = NULL;
	/* Undecided first: a handler then looks at no ring (aio_error). */
	ST(&g_backend, B_UNDECIDED);
	forget_context();
	g_waiter = 0;
	g_kick = 0;
	g_seq_waiters = 0;	/* the other threads did not come along */
	t_tid = 0;
	g_nhead = NULL;
	g_reaper_started = 0;
	g_reaper_tid = 0;
	g_nworkers = 0;
	g_idle = 0;
	g_starting = 0;
	g_want_pool = 0;
	g_signals = 0;		/* the child's own reaper decides again */
	g_delivered = 0;	/* its own context, its own ring */
	t_holding = 0;
}

__attribute__((constructor)) static void kaio_posix_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- <aio.h> --------------------------------------------------------------- */

/*
 * @r completed inside its SUBMIT_LIST with @res (KAIO_LIST_INLINE_RESULTS):
 * delivered as its event would be, by the thread whose aio_read or
 * aio_write has not returned yet. No event went through the ring: no other
 * thread can be waiting for it (a CANCEL that answered EINPROGRESS gets an
 * event, never an inline result), and nothing but this frame holds it.
 * So a plain request needs no blocked signal, which is what consume()'s
 * two sigprocmask calls (and its GETEVENTS) cost: a handler that runs
 * before the status is written sees the request in progress, as it would
 * have inside aio_read. Not so for a request whose delivery goes on to
 * other requests (a stream's next one, an fsync waiting for it) or sends
 * its signal from here: a handler that waits for one of those in this
 * thread would wait for the frame it interrupted, so signals are blocked
 * as in consume(). (An fsync that another thread attaches after the look
 * at r->dep is submitted unmasked: a handler here waiting for that fsync
 * without a timeout is the one case left.) Other threads see it as being
 * delivered (g_delivering, held_elsewhere()); g_delivered counts ring
 * events only and is not touched.
 */
static void deliver_inline(struct rec *r, int64_t res)
{
	struct io_event ev = {
		.data = r->iocb.aio_data,
		.obj = (uintptr_t)&r->iocb,
		.res = res,
	};
	int mask = r->libsig || r->ordered || r->notify != N_NONE ||
		   LD(&r->dep);
	sigset_t all, old;

	if (mask) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
	}
	/*
	 * This thread's count first up and last down: a handler that runs in
	 * between must never see g_delivering above t_delivering because of
	 * its own thread (held_elsewhere()), or it waits for itself forever.
	 * (consume() has signals blocked there; a plain request here does not.)
	 */
	t_delivering++;
	ADD(&g_delivering, 1);
	deliver(&ev);
	SUB(&g_delivering, 1);
	t_delivering--;
	/*
	 * A plain request: futex waiters look again, the ring waiter
	 * (possibly the reaper) is not kicked as after_deliver() would, since
	 * it cannot be waiting for this request and a kick per request would
	 * wake it for nothing. Delivering the others may have delivered more
	 * (a stream's next request, a deferred fsync whose submission
	 * failed), which a ring waiter may wait for: after_deliver().
	 */
	if (mask)
		after_deliver();
	else
		bump_seq();
	if (mask)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int rw(struct aiocb *cb, int opcode)
{
	struct iocb *v;
	struct rec *r;
	long rc;

	if (bad_prio(cb)) {
		errno = EINVAL;
		return -1;
	}
	if (LD(&g_want_pool))
		ensure_pool(1);
	r = rec_alloc_reaping();
	if (!r) {
		errno = EAGAIN;
		return -1;
	}
	prep_rec(r, cb, opcode);
	set_status(cb, EINPROGRESS, 0);
	if (r->ordered) {
		if (!qenqueue(r))
			return 0;	/* started when its turn comes */
		if (!qclaim(r)) {
			qskip(r);	/* cancelled already */
			return 0;
		}
	}
	ST(&r->state, R_INFLIGHT);
	v = &r->iocb;
	if (LD(&g_inline)) {
		int64_t res;

		rc = submit_inline(v, &res);
		if (rc == 1 && res != KAIO_RESULT_IN_RING) {
			deliver_inline(r, res);
			return 0;
		}
	} else {
		rc = submit_list(&v, 1, 0, NULL);
	}
	if (rc < 1) {
		/* Not taken (ring full, EFAULT): glibc's enqueue failure. */
		int e = rc < 0 ? (int)-rc : EAGAIN;

		unsubmitted(r, e);
		errno = e;
		return -1;
	}
	return 0;
}

static int kp_aio_read(struct aiocb *cb)
{
	if (backend() != B_KAIO)
		return FORWARD(read, cb);
	return rw(cb, IOCB_CMD_PREAD);
}

static int kp_aio_write(struct aiocb *cb)
{
	if (backend() != B_KAIO)
		return FORWARD(write, cb);
	return rw(cb, IOCB_CMD_PWRITE);
}

/*
 * Another thread holds events it took from the ring and has not delivered
 * yet: a request that looks in progress may be among them. Not when this
 * thread sleeps in GETEVENTS or holds events itself (a handler that
 * interrupted it): it would wait for itself.
 */
static int held_elsewhere(void)
{
	uint32_t head;

	if (LD(&g_delivering) > t_delivering)
		return 1;
	if (t_holding)
		return 0;
	head = LD(&g_ring->head);
	return head != (uint32_t)(LD(&g_delivered) % g_ring->nr);
}

/* Async-signal-safe: no locks, no set-up (nothing submitted yet if none). */
static int kp_aio_error(const struct aiocb *cb)
{
	int b = LD(&g_backend), err;

	if (b == B_GLIBC)
		return FORWARD(error, cb);
	err = load_err(cb);
	if (b != B_KAIO || err != EINPROGRESS)
		return err;
	reap_nowait();
	err = load_err(cb);
	/* Another thread holds events it took from the ring: let it finish. */
	while (err == EINPROGRESS && held_elsewhere()) {
		sched_yield();
		err = load_err(cb);
	}
	return err;
}

static ssize_t kp_aio_return(struct aiocb *cb)
{
	if (LD(&g_backend) == B_GLIBC)
		return FORWARD(ret, cb);
	/*
	 * As glibc: the value the completion stored. A request is complete
	 * once its signal is sent, and the kernel sends it with the event,
	 * before anyone reaped it: a program that trusts the signal calls
	 * aio_return alone, so it reaps as aio_error does (async-signal-safe;
	 * it may yield until another thread's delivery ends).
	 */
	kp_aio_error(cb);
	return __atomic_load_n(&cb->__return_value, __ATOMIC_RELAXED);
}

static int kp_aio_suspend(const struct aiocb *const list[], int nent,
			  const struct timespec *timeout)
{
	struct timespec deadline;
	uint32_t s;
	int i, any, rc, b = LD(&g_backend);

	/* glibc's first check, whatever the list holds. */
	if (nent < 0) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * Undecided: nothing was submitted, none of these is in progress
	 * here (glibc: not found, no wait). No decide(): it takes a lock and
	 * allocates, and aio_suspend must be async-signal-safe.
	 */
	if (b == B_UNDECIDED)
		return 0;
	if (b != B_KAIO)
		return FORWARD(suspend, list, nent, timeout);
	if (timeout)
		deadline_of(&deadline, timeout);
	for (;;) {
		s = LD(&g_seq);
		reap_nowait();
		any = 0;
		for (i = 0; i < nent; i++) {
			if (!list[i])
				continue;
			any = 1;
			if (load_err(list[i]) != EINPROGRESS)
				return 0;
		}
		if (!any)
			return 0;
		/* POSIX: a cancellation point; nothing is held here. */
		pthread_testcancel();
		rc = wait_once(s, timeout ? &deadline : NULL, 1);
		/* A cancellation asked for during a wait that could not act
		 * on it (the ring waiter's GETEVENTS): now. */
		pthread_testcancel();
		if (rc) {
			errno = rc;
			return -1;
		}
	}
}

/* A pinned record: KAIO_IOC_CANCEL and its answer. */
static int cancel_one(struct rec *r)
{
	struct kaio_cancel c;
	struct aiocb *cb = r->cb;
	uint32_t gen = LD(&r->gen);
	int rc, e, res, tries, st = LD(&r->state);

	if (st == R_QUEUED && qcancel(r)) {
		rec_put(r);
		return AIO_CANCELED;
	}
	if (r->ordered) {
		/*
		 * The head of its stream's queue (or just started): glibc's
		 * worker is in read or write, which it cannot cancel.
		 */
		rec_put(r);
		return AIO_NOTCANCELED;
	}
	if (LD(&r->state) == R_DEFERRED) {
		/* An fsync waiting for earlier requests: it will run. */
		rec_put(r);
		return AIO_NOTCANCELED;
	}
	for (tries = 0;; tries++) {
		if (LD(&r->stage) == S_JOB) {
			/* On a library thread (blocking): it will end. */
			rec_put(r);
			return AIO_NOTCANCELED;
		}
		memset(&c, 0, sizeof(c));
		c.iocb = (uintptr_t)&r->iocb;
		rc = ioctl(g_ctx, KAIO_IOC_CANCEL, &c);
		e = rc < 0 ? errno : 0;
		if (e != EINVAL)
			break;
		/*
		 * Not known to the kernel: its event is in the ring or being
		 * delivered, or it is not queued yet (another thread's
		 * submission, a POLL hand-over in deliver()). Deliver what
		 * there is; if it still runs, ask again.
		 */
		reap_nowait();
		while (load_err(cb) == EINPROGRESS && held_elsewhere())
			sched_yield();
		if (load_err(cb) != EINPROGRESS || LD(&r->gen) != gen ||
		    LD(&r->state) != R_INFLIGHT) {
			rec_put(r);
			return AIO_ALLDONE;
		}
		if (tries >= 1000) {
			rec_put(r);
			return AIO_NOTCANCELED;
		}
		sched_yield();
	}
	if (e == EINPROGRESS) {
		/* Cancelled (its event is coming). */
		wait_done(cb);
		res = load_err(cb) == ECANCELED ? AIO_CANCELED :
						  AIO_NOTCANCELED;
	} else {
		res = AIO_NOTCANCELED;
	}
	rec_put(r);
	return res;
}

static int rank(int res)
{
	return res == AIO_NOTCANCELED ? 2 : res == AIO_CANCELED ? 1 : 0;
}

static int kp_aio_cancel(int fd, struct aiocb *cb)
{
	int res = AIO_ALLDONE, one, st, saved;
	uint32_t i, gen;
	struct rec *r;

	if (backend() != B_KAIO)
		return FORWARD(cancel, fd, cb);
	if (fcntl(fd, F_GETFL) < 0) {
		errno = EBADF;
		return -1;
	}
	if (cb && cb->aio_fildes != fd) {
		errno = EINVAL;
		return -1;
	}
	saved = errno;
	reap_nowait();
	if (cb && load_err(cb) != EINPROGRESS)
		return AIO_ALLDONE;
	for (i = 0; i < g_nrec; i++) {
		r = &g_recs[i];
		st = LD(&r->state);
		if (st != R_INFLIGHT && st != R_DEFERRED && st != R_QUEUED)
			continue;
		gen = LD(&r->gen);
		if (cb ? r->cb != cb : r->fd != fd)
			continue;
		if (!rec_pin(r, gen))
			continue;
		if (cb ? r->cb != cb : r->fd != fd) {
			rec_put(r);
			continue;
		}
		one = cancel_one(r);
		if (cb) {
			errno = saved;
			return one;
		}
		if (rank(one) > rank(res))
			res = one;
	}
	if (cb && load_err(cb) == EINPROGRESS) {
		/* Never submitted here (glibc: not found). */
		errno = EINVAL;
		return -1;
	}
	errno = saved;
	return cb ? AIO_ALLDONE : res;
}

/* Make fsync @f wait for @x (pinned) and, if it waits, what @x waits on. */
static void fsync_attach(struct rec *f, struct rec *x)
{
	uint32_t fi = (uint32_t)(f - g_recs) + 1, d;
	struct rec *y, *pinned = NULL;

	for (;;) {
		ADD(&f->deps, 1);
		d = 0;
		if (CAS(&x->dep, &d, fi))
			break;
		SUB(&f->deps, 1);	/* the guard keeps it above 0 */
		if (d == DEP_DONE || d == fi)
			break;
		/*
		 * @x has an earlier fsync after it, which completes after @x:
		 * waiting for that one covers @x. Set-ups are serialised, so
		 * that fsync never waits for @f. Pinned before use: once @x
		 * is delivered that fsync may end and its record serve
		 * another request. While @x->dep still names it after the
		 * pin, @x is not delivered, so that fsync still waits.
		 */
		y = &g_recs[d - 1];
		if (!rec_pin(y, LD(&y->gen)))
			continue;	/* look at @x->dep again */
		if (LD(&x->dep) != d) {
			rec_put(y);
			continue;
		}
		if (pinned)
			rec_put(pinned);
		pinned = y;
		x = y;
	}
	if (pinned)
		rec_put(pinned);
}

static int kp_aio_fsync(int op, struct aiocb *cb)
{
	struct rec *f, *r;
	uint32_t i, gen;
	int st;

	if (backend() != B_KAIO)
		return FORWARD(fsync, op, cb);
	if (op != O_SYNC && op != O_DSYNC) {
		errno = EINVAL;
		return -1;
	}
	if (fcntl(cb->aio_fildes, F_GETFL) == -1) {
		errno = EBADF;
		return -1;
	}
	/* Ignored, as every field but aio_fildes and aio_sigevent (glibc). */
	cb->aio_reqprio = 0;
	f = rec_alloc_reaping();
	if (!f) {
		errno = EAGAIN;
		return -1;
	}
	sync_needs_pool(cb->aio_fildes);
	prep_rec(f, cb, op == O_SYNC ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC);
	set_status(cb, EINPROGRESS, 0);
	/*
	 * POSIX: the sync covers every request on the fd queued before it.
	 * kaio runs requests concurrently, so it is submitted once those
	 * are delivered (by whoever delivers the last; the reaper thread
	 * makes sure someone does).
	 */
	ST(&f->deps, 1);
	ST(&f->state, R_DEFERRED);
	pthread_mutex_lock(&g_fsync_lock);
	for (i = 0; i < g_nrec; i++) {
		r = &g_recs[i];
		if (r == f)
			continue;
		st = LD(&r->state);
		/* Held back too (a stream's queue, a list for the reaper). */
		if ((st != R_INFLIGHT && st != R_DEFERRED && st != R_QUEUED) ||
		    r->fd != f->fd)
			continue;
		gen = LD(&r->gen);
		if (!rec_pin(r, gen))
			continue;
		if (r->fd == f->fd) {
			ensure_pool(0);
			fsync_attach(f, r);
		}
		rec_put(r);
	}
	pthread_mutex_unlock(&g_fsync_lock);
	/* Ours is the last count unless it waits: then a delivery submits. */
	if (LD(&f->deps) > 1)
		to_libsig(f);
	fsync_dep_done(f);
	return 0;
}

static int lio_opcode(int op)
{
	switch (op) {
	case LIO_READ:
		return IOCB_CMD_PREAD;
	case LIO_WRITE:
		return IOCB_CMD_PWRITE;
	case GLIBC_LIO_DSYNC:
		return IOCB_CMD_FDSYNC;
	case GLIBC_LIO_SYNC:
		return IOCB_CMD_FSYNC;
	default:
		/* glibc's worker fails it with EINVAL: so does kaio. */
		return BAD_OPCODE;
	}
}

/*
 * lio_listio(LIO_NOWAIT) of a list of more than g_lio_inline_max bytes
 * (KAIO_POSIX_LIO_INLINE_MAX): kaio would copy cached data inside
 * SUBMIT_LIST, completing it all before lio_listio returns, where
 * LIO_NOWAIT asks not to wait. The list is prepared and checked in the
 * call (its errors are lio_listio's), its records R_QUEUED; the reaper
 * thread submits it; its completion signals are the library's (to_libsig()).
 */
struct lio_job {
	struct lio_job *next;
	struct rec *l;
	struct rec **recs;
	struct iocb **v;
	int k;
	uint32_t flags;
	struct kaio_sigevent lsev;
};

/*
 * Submit list @l's records @recs (R_QUEUED; a cancelled one is skipped);
 * those the kernel does not take fail with EAGAIN (*@nt of them). Returns
 * how many it took. If it took none, the kernel sent no list signal: the
 * library sends it at the list's last put, exactly once either way.
 */
static long lio_submit(struct rec *l, struct rec **recs, struct iocb **v,
		       int k, uint32_t flags, const struct kaio_sigevent *lsev,
		       long *nt)
{
	long taken = 0, j;
	int n = 0;

	for (j = 0; j < k; j++) {
		if (qclaim(recs[j])) {
			recs[n] = recs[j];
			v[n++] = &recs[j]->iocb;
		} else {
			qskip(recs[j]);
		}
	}
	if (n) {
		taken = submit_list(v, n, flags,
				    flags & KAIO_LIST_SIGNAL ? lsev : NULL);
		if (taken < 0)
			taken = 0;
	}
	for (j = taken; j < n; j++)
		unsubmitted(recs[j], EAGAIN);
	*nt = n - taken;
	if (!taken && (flags & KAIO_LIST_SIGNAL)) {
		l->ksev = *lsev;
		l->libsig = 1;
	}
	return taken;
}

/* Hand a prepared list to the reaper; 0 if done, -1: submit it inline. */
static int lio_handoff(struct rec *l, struct rec **recs, struct iocb **v,
		       int k, uint32_t flags, const struct kaio_sigevent *lsev)
{
	struct lio_job *j;

	ensure_pool(0);
	if (!LD(&g_reaper_started))
		return -1;
	j = malloc(sizeof(*j));
	if (!j)
		return -1;
	j->l = l;
	j->recs = recs;
	j->v = v;
	j->k = k;
	j->flags = flags;
	j->lsev = *lsev;
	j->next = LD(&g_lio_jobs);
	while (!CAS(&g_lio_jobs, &j->next, j))
		;
	/* The reaper sleeps in GETEVENTS (a kick) or on g_seq. */
	bump_seq();
	kick();
	return 0;
}

/* The reaper: submit the lists handed to it, oldest first. */
static void run_lio_jobs(void)
{
	struct lio_job *j, *rev = NULL, *n;
	long nt;

	if (!LD(&g_lio_jobs))
		return;
	for (j = XCHG(&g_lio_jobs, NULL); j; j = n) {
		n = j->next;
		j->next = rev;
		rev = j;
	}
	for (j = rev; j; j = n) {
		n = j->next;
		/*
		 * Its signals are the library's (lio()): the kernel would
		 * pick this thread, which blocks them all, as the submitter.
		 */
		lio_submit(j->l, j->recs, j->v, j->k, j->flags, &j->lsev, &nt);
		list_put(j->l, 0);	/* the caller's */
		free(j->recs);
		free(j->v);
		free(j);
	}
}

static int lio(int mode, struct aiocb *const list[], int nent,
	       struct sigevent *sig, int compat)
{
	struct sigevent none;
	struct kaio_sigevent lsev;
	struct iocb **v;
	struct rec **recs, *l, *r;
	struct aiocb *cb;
	uint32_t flags = 0;
	int i, k = 0, result = 0, err = 0, failed, queued = 0;
	long taken = 0, nt;
	size_t bytes = 0;

	if (mode != LIO_WAIT && mode != LIO_NOWAIT) {
		errno = EINVAL;
		return -1;
	}
	if (nent < 0) {
		errno = EINVAL;
		return -1;
	}
	if (!sig) {
		memset(&none, 0, sizeof(none));
		none.sigev_notify = SIGEV_NONE;
		sig = &none;
	}
	v = malloc(sizeof(*v) * (nent ? nent : 1));
	recs = malloc(sizeof(*recs) * (nent ? nent : 1));
	l = v && recs ? rec_alloc_reaping() : NULL;
	if (!l) {
		free(v);
		free(recs);
		errno = EAGAIN;
		return -1;
	}
	ST(&l->state, R_LIST);
	l->lrefs = 1;
	l->lfailed = 0;
	l->lwait = mode == LIO_WAIT;
	memset(&lsev, 0, sizeof(lsev));
	if (mode == LIO_NOWAIT) {
		if (sig->sigev_notify == SIGEV_THREAD) {
			l->notify = N_THREAD;
			l->fn = sig->sigev_notify_function;
			l->val = sig->sigev_value;
			l->attr = sig->sigev_notify_attributes;
			ensure_pool(1);
		} else if ((sig->sigev_notify == SIGEV_SIGNAL ||
			    sig->sigev_notify == SIGEV_THREAD_ID) &&
			   valid_signo(sig->sigev_signo)) {
			set_signals();
			flags |= KAIO_LIST_SIGNAL;
			lsev.signo = sig->sigev_signo;
			lsev.value = (uintptr_t)sig->sigev_value.sival_ptr;
			if (sig->sigev_notify == SIGEV_THREAD_ID) {
				lsev.notify = KAIO_SIGEV_THREAD_ID;
				lsev.tid = sig->_sigev_un._tid;
			}
			if (lsev.signo == SIGKILL || lsev.signo == SIGSTOP ||
			    app_waiter()) {
				/* kaio refuses SIGKILL and SIGSTOP, glibc sends
				 * them; see app_waiter() for the rest. */
				flags &= ~KAIO_LIST_SIGNAL;
				l->libsig = 1;
				l->ksev = lsev;
			}
		}
	}
	for (i = 0; i < nent; i++) {
		cb = list[i];
		if (!cb || cb->aio_lio_opcode == LIO_NOP)
			continue;
		/* glibc < 2.4 semantics: only the list is notified. */
		if (compat)
			cb->aio_sigevent.sigev_notify = SIGEV_NONE;
		/* glibc's LIO_DSYNC/LIO_SYNC entries: as aio_fsync. */
		if (cb->aio_lio_opcode == GLIBC_LIO_DSYNC ||
		    cb->aio_lio_opcode == GLIBC_LIO_SYNC)
			cb->aio_reqprio = 0;
		if (bad_prio(cb)) {
			result = -1;
			err = EINVAL;
			continue;
		}
		r = rec_alloc_reaping();
		if (!r) {
			set_status(cb, EAGAIN, -1);
			result = -1;
			err = EAGAIN;
			continue;
		}
		prep_rec(r, cb, lio_opcode(cb->aio_lio_opcode));
		if (r->iocb.aio_lio_opcode == IOCB_CMD_FSYNC ||
		    r->iocb.aio_lio_opcode == IOCB_CMD_FDSYNC)
			sync_needs_pool(r->fd);
		r->list = l;
		ADD(&l->lrefs, 1);
		set_status(cb, EINPROGRESS, 0);
		if (cb->aio_lio_opcode == LIO_READ ||
		    cb->aio_lio_opcode == LIO_WRITE)
			bytes += cb->aio_nbytes;
		if ((flags & KAIO_LIST_SIGNAL) && r->stage == S_IO &&
		    may_block(r->fd, 1)) {
			/*
			 * The kernel would count its first -EAGAIN as its
			 * completion: the library sends the list's signal.
			 */
			flags &= ~KAIO_LIST_SIGNAL;
			l->libsig = 1;
			l->ksev = lsev;
			ensure_pool(1);
		}
		/* R_QUEUED until lio_submit() claims it (cancellable). */
		if (r->ordered && !qenqueue(r)) {
			queued++;	/* behind its stream's earlier ones */
			continue;
		}
		ST(&r->state, R_QUEUED);
		recs[k] = r;
		v[k++] = &r->iocb;
	}
	if (k && mode == LIO_NOWAIT && bytes > g_lio_inline_max) {
		/* The reaper submits it: the library signals (to_libsig()). */
		for (i = 0; i < k; i++)
			to_libsig(recs[i]);
		if (flags & KAIO_LIST_SIGNAL) {
			flags &= ~KAIO_LIST_SIGNAL;
			l->libsig = 1;
			l->ksev = lsev;
		}
	}
	if (k && mode == LIO_NOWAIT && bytes > g_lio_inline_max &&
	    !lio_handoff(l, recs, v, k, flags, &lsev)) {
		/* The reaper submits it; it holds the caller's reference. */
		if (result)
			errno = err;
		return result;
	}
	if (k) {
		taken = lio_submit(l, recs, v, k, flags, &lsev, &nt);
		/* Not taken (ring full): as if glibc could not queue them. */
		if (nt) {
			result = -1;
			err = EAGAIN;
		}
	} else if (flags & KAIO_LIST_SIGNAL) {
		/* Nothing to submit: the signal at once (the last put). */
		l->ksev = lsev;
		l->libsig = 1;
	}
	free(v);
	free(recs);
	if (!taken && !queued) {
		list_put(l, 0);
		if (result)
			errno = err;
		return result;
	}
	if (mode == LIO_NOWAIT) {
		list_put(l, 0);
		if (result)
			errno = err;
		return result;
	}
	for (;;) {
		uint32_t s = LD(&g_seq);

		reap_nowait();
		if (LD(&l->lrefs) == 1)
			break;
		if (wait_once(s, NULL, 0) == EINTR) {
			list_put(l, 0);
			errno = EINTR;
			return -1;
		}
	}
	failed = LD(&l->lfailed);
	list_put(l, 0);
	if (failed || result) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int kp_lio_listio(int mode, struct aiocb *const list[], int nent,
			 struct sigevent *sig)
{
	if (backend() != B_KAIO)
		return FORWARD(listio, mode, list, nent, sig);
	return lio(mode, list, nent, sig, 0);
}

static int kp_lio_listio_old(int mode, struct aiocb *const list[], int nent,
			     struct sigevent *sig)
{
	if (backend() != B_KAIO)
		return FORWARD(listio_old, mode, list, nent, sig);
	return lio(mode, list, nent, sig, 1);
}

static void kp_aio_init(const struct aioinit *init)
{
	int b = backend();

	if (b == B_GLIBC) {
		if (g_glibc.init)
			g_glibc.init(init);
		return;
	}
	/* Nothing to size: the SIGEV_THREAD pool grows as callbacks need. */
	(void)init;
}

API const char *kaio_posix_backend(void)
{
	return backend() == B_KAIO ? "kaio" : "glibc";
}

/* ---- exports: glibc 2.36's names and versions ------------------------ */

#ifdef KAIO_POSIX_PREFIXED
/*
 * kaio-bench links the library into its static binary, beside static
 * glibc's own aio, to measure both in one process: there the functions are
 * kaio_posix_<name>, unversioned, and nothing of glibc's is replaced.
 */
#define PREFIXED(impl, name)						\
	API __attribute__((alias(#impl))) __typeof__(impl) kaio_posix_##name
PREFIXED(kp_aio_read, aio_read);
PREFIXED(kp_aio_write, aio_write);
PREFIXED(kp_aio_error, aio_error);
PREFIXED(kp_aio_return, aio_return);
PREFIXED(kp_aio_suspend, aio_suspend);
PREFIXED(kp_aio_cancel, aio_cancel);
PREFIXED(kp_aio_fsync, aio_fsync);
PREFIXED(kp_aio_init, aio_init);
PREFIXED(kp_lio_listio, lio_listio);
PREFIXED(kp_lio_listio_old, lio_listio_old);
#else
/*
 * Each exported name is an alias of the implementation bound to one version
 * with .symver: name@@GLIBC_2.34 (what programs link against today) and
 * name@GLIBC_2.2.5 (binaries linked before glibc 2.34); the *64 names, the
 * same functions on LP64, likewise.
 */
#define ALIAS(impl, sym, ver)						\
	API __attribute__((alias(#impl))) __typeof__(impl) sym;	\
	__asm__(".symver " #sym "," ver)
#define EXPORT1(impl, name)					\
	ALIAS(impl, kpx_##name, #name "@@GLIBC_2.34");			\
	ALIAS(impl, kpo_##name, #name "@GLIBC_2.2.5")
#define EXPORT(impl, name)						\
	EXPORT1(impl, name);						\
	ALIAS(impl, kpx_##name##64, #name "64@@GLIBC_2.34");		\
	ALIAS(impl, kpo_##name##64, #name "64@GLIBC_2.2.5")

EXPORT(kp_aio_read, aio_read);
EXPORT(kp_aio_write, aio_write);
EXPORT(kp_aio_error, aio_error);
EXPORT(kp_aio_return, aio_return);
EXPORT(kp_aio_suspend, aio_suspend);
EXPORT(kp_aio_cancel, aio_cancel);
EXPORT(kp_aio_fsync, aio_fsync);
EXPORT1(kp_aio_init, aio_init);	/* no aio_init64 */
/* lio_listio: GLIBC_2.4 and 2.34 are the current semantics, GLIBC_2.2.5
 * the pre-2.4 one (no per-request notification). */
ALIAS(kp_lio_listio, kpx_lio_listio, "lio_listio@@GLIBC_2.34");
ALIAS(kp_lio_listio, kpn_lio_listio, "lio_listio@GLIBC_2.4");
ALIAS(kp_lio_listio_old, kpo_lio_listio, "lio_listio@GLIBC_2.2.5");
ALIAS(kp_lio_listio, kpx_lio_listio64, "lio_listio64@@GLIBC_2.34");
ALIAS(kp_lio_listio, kpn_lio_listio64, "lio_listio64@GLIBC_2.4");
ALIAS(kp_lio_listio_old, kpo_lio_listio64, "lio_listio64@GLIBC_2.2.5");
#endif /* KAIO_POSIX_PREFIXED */
