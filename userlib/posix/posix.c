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
#define MAX_WORKERS 4
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
enum rstage { S_IO, S_POLL };

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
};

static int g_backend;			/* enum backend */
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_ctx = -1;
static struct kaio_ring *g_ring;
static size_t g_ring_size;
static uint64_t g_opcodes;
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

/* SIGEV_THREAD pool and the reaper thread. */
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_reaper_tid;
static int g_reaper_started;
static int g_nworkers, g_max_workers = MAX_WORKERS;
static int g_idle;
static struct rec *g_nhead;		/* notifications to run */
static uint32_t g_nseq;			/* futex for the workers */
/* lio_listio(LIO_NOWAIT) lists handed to the reaper (lio_handoff()). */
struct lio_job;
static struct lio_job *g_jobs;
static size_t g_lio_inline_max = 1 << 20;
static void run_jobs(void);
/* aio_fsync's dependency set-up, one at a time (no cycles). */
static pthread_mutex_t g_fsync_lock = PTHREAD_MUTEX_INITIALIZER;

#define LD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CAS(p, e, v) __atomic_compare_exchange_n((p), (e), (v), 0, \
				__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
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

/* FUTEX_WAIT on g_seq while it is @seen; the futex call's result. */
static long seq_wait(uint32_t seen, const struct timespec *ts)
{
	long rc;
	int e;

	__atomic_add_fetch(&g_seq_waiters, 1, __ATOMIC_SEQ_CST);
	rc = futex(&g_seq, FUTEX_WAIT_PRIVATE, seen, ts);
	e = errno;
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
	ST(&r->dep, 0);
	ST(&r->deps, 0);
	ST(&r->gen, r->gen + 1);
	ST(&r->state, R_PREP);
	ST(&r->refs, 1);
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

/* A file kaio answers with -EAGAIN when it would block. */
static int may_block(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	       S_ISCHR(st.st_mode);
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
		r->ksev.notify = KAIO_SIGEV_THREAD_ID;
		r->ksev.tid = sev->_sigev_un._tid;
kernel:
		r->ksev.signo = sev->sigev_signo;
		r->ksev.value = (uintptr_t)sev->sigev_value.sival_ptr;
		if (may_block(r->fd)) {
			/*
			 * Its first -EAGAIN must not signal: the library sends
			 * it at the end, and the reaper thread makes sure the
			 * end comes (POLL, then the request again).
			 */
			r->libsig = 1;
			ensure_pool(0);
			break;
		}
		r->iocb.aio_flags |= KAIO_IOCB_FLAG_SIGEVENT;
		r->iocb.aio_reserved2 = (uintptr_t)&r->ksev;
		if (!LD(&g_signals))
			ST(&g_signals, 1);
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

static void prep_rec(struct rec *r, struct aiocb *cb, int opcode)
{
	uint32_t idx = (uint32_t)(r - g_recs);

	r->cb = cb;
	r->fd = cb->aio_fildes;
	r->iocb.aio_data = (uint64_t)r->gen << 32 | idx;
	r->iocb.aio_lio_opcode = opcode;
	r->iocb.aio_fildes = cb->aio_fildes;
	r->iocb.aio_buf = (uintptr_t)cb->aio_buf;
	r->iocb.aio_nbytes = cb->aio_nbytes;
	r->iocb.aio_offset = cb->aio_offset;
	prep_notify(r, &cb->aio_sigevent);
	/*
	 * A read or write of a pipe, socket or character device may go on
	 * by POLL, then the transfer (wait_ready()), which only a reaper
	 * does: without the reaper thread it would wait for the program to
	 * call aio_error or aio_suspend, forever if the program waits for
	 * the transfer instead (reads the other end of the socket).
	 */
	if ((opcode == IOCB_CMD_PREAD || opcode == IOCB_CMD_PWRITE) &&
	    may_block(r->fd)) {
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
	int st = R_QUEUED, w;

	if (!CAS(&r->state, &st, R_CANCELLED))
		return 0;
	ADD(&r->refs, 1);
	deliver(&ev);
	bump_seq();
	/* A ring waiter in GETEVENTS may wait for this aiocb. */
	w = LD(&g_waiter);
	if (w && w != LD(&g_reaper_tid) && w != self_tid())
		kick();
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
		n = wr ? pwritev2(r->fd, &iov, 1, off, RWF_NOWAIT) :
			 preadv2(r->fd, &iov, 1, off, RWF_NOWAIT);
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

		n = wr ? sendmsg(r->fd, &m, MSG_DONTWAIT) :
			 recvmsg(r->fd, &m, MSG_DONTWAIT);
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
				n = wr ? pwritev2(r->fd, &iov, 1, off, 0) :
					 preadv2(r->fd, &iov, 1, off, 0);
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
	int err = 0, cancelled;
	ssize_t ret;

	if (ev->data == KICK_DATA) {
		ST(&g_kick, 0);
		return;
	}
	if (idx >= g_nrec)
		return;
	r = &g_recs[idx];
	cancelled = LD(&r->state) == R_CANCELLED;
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
	} else if (res == -EAGAIN && wait_ready(r)) {
		return;
	}
	if (r->wdone)	/* an error after some bytes: write(2) counts them */
		res = res < 0 ? (long long)r->wdone : res + (long long)r->wdone;
	ret = res;
	if (res < 0) {
		err = (int)-res;
		ret = -1;
		/* kaio refuses to sync a pipe or socket; fsync(2) says EINVAL. */
		if (err == EOPNOTSUPP &&
		    (r->iocb.aio_lio_opcode == IOCB_CMD_FSYNC ||
		     r->iocb.aio_lio_opcode == IOCB_CMD_FDSYNC))
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

static void kick(void)
{
	struct iocb *v = &g_kick_iocb;
	int zero = 0;

	if (!CAS(&g_kick, &zero, 1))
		return;
	if (submit_list(&v, 1, 0, NULL) < 1)
		ST(&g_kick, 0);
}

/*
 * GETEVENTS into the stack (the kernel serialises reapers), deliver, wake
 * the waiters. Returns the number of events or -errno.
 *
 * Between GETEVENTS and delivery the events are only on this stack: a
 * completion handler calling aio_error must not run then. Once completion
 * signals are in use, this thread blocks signals for that window (GETEVENTS
 * waits with the caller's mask, as io_pgetevents, so they still interrupt
 * the wait); other threads' aio_error waits for g_delivering to drain.
 */
static long reap(long min_nr, const struct timespec *to)
{
	struct io_event ev[REAP_BATCH];
	struct __kernel_timespec ts;
	struct kaio_getevents g;
	sigset_t all, old;
	int masked = LD(&g_signals), w;
	long n, i;

	memset(&g, 0, sizeof(g));
	g.min_nr = min_nr;
	g.nr = REAP_BATCH;
	g.events = (uintptr_t)ev;
	if (to) {
		ts.tv_sec = to->tv_sec;
		ts.tv_nsec = to->tv_nsec;
		g.timeout = (uintptr_t)&ts;
	}
	if (masked) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		g.sigmask = (uintptr_t)&old;
		g.sigsetsize = _NSIG / 8;
	}
	n = ioctl(g_ctx, KAIO_IOC_GETEVENTS, &g);
	if (n < 0) {
		n = -errno;
	} else if (n > 0) {
		ADD(&g_delivering, 1);
		t_delivering++;
		for (i = 0; i < n; i++)
			deliver(&ev[i]);
		t_delivering--;
		SUB(&g_delivering, 1);
		bump_seq();
		/*
		 * The ring waiter sleeping in GETEVENTS may be waiting for an
		 * aiocb just delivered here: wake it with an event.
		 */
		w = LD(&g_waiter);
		if (w && w != self_tid() &&
		    (w != LD(&g_reaper_tid) || LD(&g_jobs)))
			kick();
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

static void reap_nowait(void)
{
	static const struct timespec zero;
	int e = errno;

	while (ring_nonempty() && reap(0, &zero) == REAP_BATCH)
		;
	errno = e;
}

/*
 * Wait for deliveries after g_seq was @seen: as the ring waiter in
 * GETEVENTS, or on the g_seq futex. Returns 0 (look again), EINTR or
 * EAGAIN (the deadline passed).
 */
static int wait_once(uint32_t seen, const struct timespec *deadline)
{
	struct timespec now, rem, *prem = NULL;
	int me = self_tid(), w, own = 0, rc = 0;
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
	w = 0;
	own = CAS(&g_waiter, &w, me);
	if (own || w == me) {
		/* A handler nested in the ring waiter's thread waits too. */
		if (LD(&g_seq) == seen) {
			n = reap(1, prem);
			if (n == -EINTR)
				rc = EINTR;
		}
		if (own) {
			ST(&g_waiter, 0);
			bump_seq();	/* another thread may take the role */
		}
		return rc;
	}
	if (seq_wait(seen, prem) < 0 && errno == EINTR)
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
		wait_once(s, NULL);
	}
}

/* ---- SIGEV_THREAD pool and the reaper thread ------------------------- */

static void block_all(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

/*
 * The permanent ring waiter: completions and their callbacks progress even
 * if the program never calls in. All signals blocked, so the kernel never
 * picks it for a process-directed completion signal.
 */
static void *reaper_main(void *arg)
{
	int me = self_tid(), w;
	uint32_t s;

	(void)arg;
	ST(&g_reaper_tid, me);
	for (;;) {
		w = 0;
		if (CAS(&g_waiter, &w, me))
			break;
		s = LD(&g_seq);
		run_jobs();
		if (LD(&g_waiter))
			seq_wait(s, NULL);
	}
	for (;;) {
		run_jobs();
		reap(1, NULL);
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

static void grow_pool(void)
{
	pthread_mutex_lock(&g_pool_lock);
	if (g_nworkers < g_max_workers && !start_thread(worker_main))
		g_nworkers++;
	pthread_mutex_unlock(&g_pool_lock);
}

static void *worker_main(void *arg)
{
	struct rec *r, *rest, *last, *h;
	sigset_t none;
	uint32_t s;

	(void)arg;
	/* Callbacks run with signals unblocked, as glibc's notify threads. */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
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
		run_notification(r);
	}
	return NULL;
}

/* The reaper, and a first worker if @workers. Never in a signal handler. */
static void ensure_pool(int workers)
{
	if (LD(&g_reaper_started) && (!workers || LD(&g_nworkers)))
		return;
	pthread_mutex_lock(&g_pool_lock);
	if (!g_reaper_started && !start_thread(reaper_main))
		ST(&g_reaper_started, 1);
	if (workers && !g_nworkers && !start_thread(worker_main))
		ST(&g_nworkers, 1);
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
	g_opcodes = s.features & KAIO_FEAT_OPCODES ? s.opcodes : 0;
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
	if (g_backend != B_KAIO)
		return;
	/* Its streams' queues and the lists handed to the reaper stay. */
	if (g_qtail)
		memset(g_qtail, 0, g_nqtail * sizeof(*g_qtail));
	g_jobs = NULL;
	forget_context();
	g_backend = B_UNDECIDED;
	g_waiter = 0;
	g_kick = 0;
	g_seq_waiters = 0;	/* the other threads did not come along */
	t_tid = 0;
	g_nhead = NULL;
	g_reaper_started = 0;
	g_reaper_tid = 0;
	g_nworkers = 0;
	g_idle = 0;
}

__attribute__((constructor)) static void kaio_posix_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- <aio.h> --------------------------------------------------------------- */

static int rw(struct aiocb *cb, int opcode)
{
	struct iocb *v;
	struct rec *r;
	long rc;

	if (bad_prio(cb)) {
		errno = EINVAL;
		return -1;
	}
	r = rec_alloc();
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
	rc = submit_list(&v, 1, 0, NULL);
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
	while (err == EINPROGRESS && LD(&g_delivering) > t_delivering) {
		sched_yield();
		err = load_err(cb);
	}
	return err;
}

static ssize_t kp_aio_return(struct aiocb *cb)
{
	if (LD(&g_backend) == B_GLIBC)
		return FORWARD(ret, cb);
	/* As glibc: the value the completion stored, nothing more. */
	load_err(cb);
	return __atomic_load_n(&cb->__return_value, __ATOMIC_RELAXED);
}

static int kp_aio_suspend(const struct aiocb *const list[], int nent,
			  const struct timespec *timeout)
{
	struct timespec deadline;
	uint32_t s;
	int i, any, rc;

	if (backend() != B_KAIO)
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
		rc = wait_once(s, timeout ? &deadline : NULL);
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
	int rc, e, res, st = LD(&r->state);

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
	memset(&c, 0, sizeof(c));
	c.iocb = (uintptr_t)&r->iocb;
	rc = ioctl(g_ctx, KAIO_IOC_CANCEL, &c);
	e = rc < 0 ? errno : 0;
	if (e == EINPROGRESS || e == EINVAL) {
		/* Cancelled (its event is coming) or already in the ring. */
		wait_done(cb);
		if (e == EINVAL)
			res = AIO_ALLDONE;
		else
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

	for (;;) {
		ADD(&f->deps, 1);
		d = 0;
		if (CAS(&x->dep, &d, fi))
			return;
		SUB(&f->deps, 1);	/* the guard keeps it above 0 */
		if (d == DEP_DONE || d == fi)
			return;
		/*
		 * @x has an earlier fsync after it, which completes after @x:
		 * waiting for that one covers @x. Set-ups are serialised, so
		 * that fsync never waits for @f.
		 */
		x = &g_recs[d - 1];
	}
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
	if (bad_prio(cb)) {
		errno = EINVAL;
		return -1;
	}
	f = rec_alloc();
	if (!f) {
		errno = EAGAIN;
		return -1;
	}
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
		if ((st != R_INFLIGHT && st != R_DEFERRED) || r->fd != f->fd)
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
 * thread submits it (all signals blocked: the kernel sends process-directed
 * signals to another thread, as it would have for the caller).
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
	j->next = LD(&g_jobs);
	while (!CAS(&g_jobs, &j->next, j))
		;
	/* The reaper sleeps in GETEVENTS (a kick) or on g_seq. */
	bump_seq();
	kick();
	return 0;
}

/* The reaper: submit the lists handed to it, oldest first. */
static void run_jobs(void)
{
	struct lio_job *j, *rev = NULL, *n;
	long nt;

	if (!LD(&g_jobs))
		return;
	for (j = XCHG(&g_jobs, NULL); j; j = n) {
		n = j->next;
		j->next = rev;
		rev = j;
	}
	for (j = rev; j; j = n) {
		sigset_t use, old;
		int i;

		n = j->next;
		/*
		 * glibc's notifications come from its helper threads, which
		 * block no signal, so they take the handlers and the caller's
		 * aio_suspend is not interrupted (LTP aio_suspend 7-1, 8-1).
		 * The kernel sends the signals of what completes inside the
		 * submission to the submitter if it does not block them: for
		 * the call, the reaper unblocks the list's own.
		 */
		sigemptyset(&use);
		if (j->flags & KAIO_LIST_SIGNAL &&
		    j->lsev.notify != KAIO_SIGEV_THREAD_ID)
			sigaddset(&use, (int)j->lsev.signo);
		for (i = 0; i < j->k; i++)
			if (j->recs[i]->ksev.signo &&
			    j->recs[i]->ksev.notify == KAIO_SIGEV_PROCESS &&
			    !j->recs[i]->libsig)
				sigaddset(&use, (int)j->recs[i]->ksev.signo);
		pthread_sigmask(SIG_UNBLOCK, &use, &old);
		lio_submit(j->l, j->recs, j->v, j->k, j->flags, &j->lsev, &nt);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
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
	l = v && recs ? rec_alloc() : NULL;
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
			flags |= KAIO_LIST_SIGNAL;
			lsev.signo = sig->sigev_signo;
			lsev.value = (uintptr_t)sig->sigev_value.sival_ptr;
			if (sig->sigev_notify == SIGEV_THREAD_ID) {
				lsev.notify = KAIO_SIGEV_THREAD_ID;
				lsev.tid = sig->_sigev_un._tid;
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
		if (bad_prio(cb)) {
			result = -1;
			err = EINVAL;
			continue;
		}
		r = rec_alloc();
		if (!r) {
			set_status(cb, EAGAIN, -1);
			result = -1;
			err = EAGAIN;
			continue;
		}
		prep_rec(r, cb, lio_opcode(cb->aio_lio_opcode));
		r->list = l;
		ADD(&l->lrefs, 1);
		set_status(cb, EINPROGRESS, 0);
		if (cb->aio_lio_opcode == LIO_READ ||
		    cb->aio_lio_opcode == LIO_WRITE)
			bytes += cb->aio_nbytes;
		if ((flags & KAIO_LIST_SIGNAL) && r->stage == S_IO &&
		    may_block(r->fd)) {
			/*
			 * The kernel would count its first -EAGAIN as its
			 * completion: the library sends the list's signal.
			 */
			flags &= ~KAIO_LIST_SIGNAL;
			l->libsig = 1;
			l->ksev = lsev;
			ensure_pool(0);
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
		if (wait_once(s, NULL) == EINTR) {
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
	/* aio_threads sizes the SIGEV_THREAD pool (glibc: its workers). */
	if (init && init->aio_threads > 0) {
		pthread_mutex_lock(&g_pool_lock);
		g_max_workers = init->aio_threads < 64 ? init->aio_threads : 64;
		pthread_mutex_unlock(&g_pool_lock);
	}
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
