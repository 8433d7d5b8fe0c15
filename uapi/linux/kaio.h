/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kaio: retry-based asynchronous I/O as a loadable module.
 *
 * The ABI of /dev/kaio. Requests and completions use the kernel's own
 * struct iocb and struct io_event from <linux/aio_abi.h>; every ioctl on a
 * context fd has the semantics (and errnos) of the matching native AIO
 * system call. Documentation/abi.md is the reference.
 */
#ifndef _UAPI_LINUX_KAIO_H
#define _UAPI_LINUX_KAIO_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/aio_abi.h>

#define KAIO_DEVICE_PATH	"/dev/kaio"
#define KAIO_IOC_MAGIC		0xB8

/* Features reported in kaio_setup.features. */
#define KAIO_FEAT_RING_MMAP	(1ULL << 0)	/* ring is mmap()able at offset 0 */
#define KAIO_FEAT_EVENTFD	(1ULL << 1)	/* IOCB_FLAG_RESFD */
#define KAIO_FEAT_RW_FLAGS	(1ULL << 2)	/* aio_rw_flags (RWF_*) */
#define KAIO_FEAT_IOPRIO	(1ULL << 3)	/* IOCB_FLAG_IOPRIO */
#define KAIO_FEAT_WRITES_IN_SUBMIT (1ULL << 4)	/* KAIO_SETUP_WRITES_IN_SUBMIT */
#define KAIO_FEAT_OPCODES	(1ULL << 5)	/* kaio_setup.opcodes is set */
#define KAIO_FEAT_SIGNAL	(1ULL << 6)	/* KAIO_IOCB_FLAG_SIGEVENT, SUBMIT_LIST */
#define KAIO_FEAT_INLINE_RESULTS (1ULL << 7)	/* KAIO_LIST_INLINE_RESULTS */

/*
 * Opcodes (iocb.aio_lio_opcode) are IOCB_CMD_* of <linux/aio_abi.h>; an
 * opcode of kaio's own would be defined here, below 64. kaio_setup.opcodes
 * says which ones the running module serves.
 */

/*
 * iocb.aio_flags bit of kaio's own, beside IOCB_FLAG_RESFD (1 << 0) and
 * IOCB_FLAG_IOPRIO (1 << 1) of <linux/aio_abi.h>, on a context set up with
 * KAIO_SETUP_SIGNALS: aio_reserved2 is then the user address of a struct
 * kaio_sigevent, read at SUBMIT, and the request's completion
 * (cancellation included) sends the signal it names once the event is in
 * the ring. Without the flag aio_reserved2 must be 0, as io_submit(2)
 * requires; a module without KAIO_FEAT_SIGNAL fails such an iocb with
 * EINVAL. On a context without KAIO_SETUP_SIGNALS the bit means nothing,
 * as every unknown aio_flags bit means nothing to io_submit(2): a libaio
 * program that sets it by accident behaves as on native AIO.
 */
#define KAIO_IOCB_FLAG_SIGEVENT	(1U << 7)

/* kaio_sigevent.notify */
#define KAIO_SIGEV_PROCESS	0	/* the submitting process */
#define KAIO_SIGEV_THREAD_ID	1	/* thread @tid of the submitting process */

/**
 * struct kaio_sigevent - a completion signal
 * @value: si_value of the signal (sigval, as sigev_value).
 * @signo: the signal, 1 to SIGRTMAX (64); 0, above 64, SIGKILL and SIGSTOP
 *	are EINVAL (sent from a kernel worker, the kernel would force those
 *	two past a pid namespace init's SIGNAL_UNKILLABLE).
 * @notify: KAIO_SIGEV_PROCESS: a process-directed signal to the process
 *	that submitted the request (it goes to one of its threads that does
 *	not block it, the submitting thread first; if every thread blocks it,
 *	it is left pending on the submitting thread, or on the first live
 *	thread of the process if that one has exited). 6.1 lets a module
 *	queue a signal with its own siginfo to a thread only, so such a
 *	pending signal is that thread's: only its sigwaitinfo() or signalfd
 *	sees it, another thread unblocking it does not get it, and it is lost
 *	if that thread exits first; and a standard (non-RT) signal can be
 *	pending once per thread instead of once per process.
 *	KAIO_SIGEV_THREAD_ID: to the thread @tid only (as SIGEV_THREAD_ID).
 * @tid: with KAIO_SIGEV_THREAD_ID, a thread id in the submitter's pid
 *	namespace, of a thread of the submitter's own thread group (EINVAL
 *	otherwise); 0 with KAIO_SIGEV_PROCESS.
 * @reserved: must be 0.
 *
 * The signal is queued as sigqueue(3) would queue it: si_code SI_ASYNCIO,
 * si_pid the submitter's process id, si_uid its real uid, si_value @value.
 * It is sent from a kernel worker, so si_pid is 0 if the receiver is in a
 * pid namespace below the init one, except for a KAIO_LIST_SIGNAL sent at
 * the end of SUBMIT_LIST itself (by the submitter). A real-time signal past
 * RLIMIT_SIGPENDING is dropped, as sigqueue would fail with EAGAIN (a
 * standard signal past it is still raised, without its siginfo: the
 * receiver sees si_code SI_USER, si_pid and si_uid 0, no si_value); so
 * is a
 * signal whose process has exec'd or exited since the submission or is
 * exec'ing as it is sent, or whose thread (KAIO_SIGEV_THREAD_ID) has
 * exited. A signal not sent yet holds a share of the context's capacity
 * (kaio_setup.nr_events) until it is, as a request in flight does.
 */
struct kaio_sigevent {
	__u64 value;
	__u32 signo;
	__u32 notify;
	__s32 tid;
	__u32 reserved[3];
};

/* kaio_setup.flags */
#define KAIO_SETUP_RES2_PATH	(1U << 0)	/* io_event.res2 = KAIO_PATH_* */
/*
 * Buffered writes (not O_DIRECT) that cannot complete without blocking are
 * done inside SUBMIT, as native AIO does them, instead of on a worker: their
 * event is in the ring when SUBMIT returns. For programs written against
 * native AIO that count on it (libaio's own harness reaps a write's event
 * with min_nr 0). Reads keep kaio's completion point: SUBMIT never waits
 * for a cold read's data (it may still wait for an inode lock or for the
 * file's block map, as io_uring's first attempt does). RWF_NOWAIT writes
 * still get one NOWAIT attempt.
 */
#define KAIO_SETUP_WRITES_IN_SUBMIT (1U << 1)
/* KAIO_IOCB_FLAG_SIGEVENT is honoured (KAIO_FEAT_SIGNAL). */
#define KAIO_SETUP_SIGNALS	(1U << 2)
#define KAIO_SETUP_FLAGS	(KAIO_SETUP_RES2_PATH | \
				 KAIO_SETUP_WRITES_IN_SUBMIT | \
				 KAIO_SETUP_SIGNALS)

/*
 * With KAIO_SETUP_RES2_PATH, res2 of each event tells the slowest path the
 * request took (native AIO always reports res2 = 0, as kaio does otherwise).
 */
#define KAIO_PATH_INLINE	1	/* completed inside SUBMIT */
#define KAIO_PATH_ASYNC		2	/* completed by ki_complete (O_DIRECT) */
#define KAIO_PATH_RETRY		3	/* page-wait callback, workqueue retry */
#define KAIO_PATH_WORKER	4	/* one blocking attempt on a worker */

/**
 * struct kaio_setup - argument of KAIO_IOC_SETUP on /dev/kaio
 * @nr_events: in: completions the context must be able to hold (requests in
 *	flight plus events not yet reaped), > 0. out: the capacity granted,
 *	never less than asked (the ring is rounded up to whole pages).
 * @flags: in: KAIO_SETUP_* bits; others must be 0.
 * @ring_size: out: bytes of the completion ring, to mmap() at offset 0 of
 *	the context fd (PROT_READ | PROT_WRITE, MAP_SHARED).
 * @features: out: KAIO_FEAT_* this module supports.
 * @opcodes: out: bit N set if opcode N (IOCB_CMD_*) is supported; the
 *	others (64 and above too) fail SUBMIT with EINVAL, as io_submit(2)
 *	fails them. Ignored in; set with KAIO_FEAT_OPCODES (older modules
 *	leave it 0).
 * @reserved: in: must be 0.
 *
 * Returns a new context fd (O_CLOEXEC). Closing its last reference destroys
 * the context.
 */
struct kaio_setup {
	__u32 nr_events;
	__u32 flags;
	__u64 ring_size;
	__u64 features;
	__u64 opcodes;
	__u64 reserved[3];
};

/**
 * struct kaio_submit - argument of KAIO_IOC_SUBMIT, as io_submit(2)
 * @nr: number of iocb pointers at @iocbpp; clamped to the capacity.
 * @iocbpp: user address of an array of @nr (struct iocb *).
 *
 * Returns how many iocbs were queued; an errno only if the first fails.
 */
struct kaio_submit {
	__s64 nr;
	__u64 iocbpp;
};

/**
 * struct kaio_getevents - argument of KAIO_IOC_GETEVENTS, as io_getevents(2)
 *	or, with @sigmask, io_pgetevents(2)
 * @min_nr: wait until at least this many events are available (0..@nr).
 * @nr: copy at most this many events.
 * @events: user address of an array of @nr struct io_event.
 * @timeout: user address of a relative struct __kernel_timespec, or 0 to
 *	wait without a time limit.
 * @sigmask: user address of a sigset_t that replaces the signal mask while
 *	waiting, atomically, as io_pgetevents' sigmask; or 0.
 * @sigsetsize: sizeof(sigset_t) (8) when @sigmask is set; ignored if not.
 *
 * Returns the number of events copied. Without @sigmask: -EINTR if a signal
 * arrived before any event; with it, as io_pgetevents, the call is restarted
 * or fails with EINTR by the signal's disposition.
 */
struct kaio_getevents {
	__s64 min_nr;
	__s64 nr;
	__u64 events;
	__u64 timeout;
	__u64 sigmask;
	__u64 sigsetsize;
};

/**
 * struct kaio_cancel - argument of KAIO_IOC_CANCEL, as io_cancel(2)
 * @iocb: user address of the struct iocb that was submitted.
 * @result: ignored, as native AIO ignores io_cancel's result argument: the
 *	cancelled request's event arrives through the ring, with res =
 *	-ECANCELED (a cancelled POLL reports res = 0, as native AIO's does;
 *	a read or write that had already moved bytes reports them, short).
 *
 * Fails with EINPROGRESS when the request was cancelled (as io_cancel does;
 * a read waiting for a page posts its event when that page's I/O ends),
 * EAGAIN when it is already running and cannot be stopped (it completes
 * normally: its event, or its KAIO_LIST_INLINE_RESULTS result), EINVAL
 * when no such request is pending. A request CANCEL answered EINPROGRESS
 * for always posts its event, even one whose first attempt was still
 * running in KAIO_IOC_SUBMIT_LIST with KAIO_LIST_INLINE_RESULTS.
 */
struct kaio_cancel {
	__u64 iocb;
	__u64 result;
};

/* kaio_submit_list.flags */
/*
 * Send @sigev once, when every request of the call has completed. Needs no
 * KAIO_SETUP_SIGNALS: that flag keeps KAIO_IOCB_FLAG_SIGEVENT an unknown
 * aio_flags bit for libaio programs, which io_submit(2) ignores; a new
 * ioctl has no such program to protect.
 */
#define KAIO_LIST_SIGNAL	(1U << 0)
/*
 * An iocb that fails with an errno of its own (EBADF, EINVAL, ...) does not
 * stop the call: its event is posted with res = -errno, as if the request
 * had run and failed: its eventfd (IOCB_FLAG_RESFD) is signalled and its
 * own signal (KAIO_IOCB_FLAG_SIGEVENT) sent, unless either was the error.
 * The call still stops at an iocb it cannot read (EFAULT) or when the ring
 * is full (EAGAIN).
 */
#define KAIO_LIST_POST_ERRORS	(1U << 1)
/*
 * A request that completes inside the call, in its first attempt (a
 * page-cache hit, a write done in SUBMIT, EOF, an error; with
 * KAIO_LIST_POST_ERRORS also an iocb's own errno), posts no event: its res
 * goes to its entry of kaio_submit_list.results instead, before the call
 * returns. For a caller that must publish a result before any handler can
 * see it (POSIX aio's aio_error is async-signal-safe), an event in the ring
 * is a result it holds after reaping and before publishing; a result that
 * never went through the ring is held only by the thread that submitted
 * it. Requests with an eventfd, a signal of their own or KAIO_LIST_SIGNAL,
 * and requests CANCEL claimed meanwhile, post their events as without the
 * flag. An inline result has no res2 (KAIO_SETUP_RES2_PATH).
 */
#define KAIO_LIST_INLINE_RESULTS (1U << 2)
#define KAIO_LIST_FLAGS		(KAIO_LIST_SIGNAL | KAIO_LIST_POST_ERRORS | \
				 KAIO_LIST_INLINE_RESULTS)
/* A results entry whose request posts (or posted) an event. */
#define KAIO_RESULT_IN_RING	((__s64)(-0x7fffffffffffffffLL - 1))

/**
 * struct kaio_submit_list - argument of KAIO_IOC_SUBMIT_LIST: SUBMIT, with
 *	a notification for the list as a whole (lio_listio's LIO_NOWAIT)
 * @nr: number of iocb pointers at @iocbpp; clamped to the capacity.
 * @iocbpp: user address of an array of @nr (struct iocb *).
 * @flags: KAIO_LIST_* bits; others must be 0.
 * @reserved0: must be 0.
 * @sigev: with KAIO_LIST_SIGNAL, the list's signal: sent once, after the
 *	last event of the requests this call took (queued, or answered with
 *	an error event) is in the ring; at the end of the call if it was
 *	given no iocb (@nr 0). A call that fails (an errno: it took none)
 *	sends nothing. Ignored (but must be zero) without the flag.
 * @results: with KAIO_LIST_INLINE_RESULTS, user address of an array of
 *	@nr __s64: entry i is written before iocb i is looked at
 *	(KAIO_RESULT_IN_RING), then the request's res if it completed inside
 *	the call; an entry the kernel cannot write stops the call there, as
 *	an iocb it cannot read (EFAULT). If the second write fails (the
 *	caller unmapped the array meanwhile), the event is posted and the
 *	entry keeps KAIO_RESULT_IN_RING. Entries from the returned count on
 *	mean nothing. Must be 0 without the flag, non-zero with it.
 * @reserved: must be 0.
 *
 * Returns how many iocbs the call took (queued, answered inline, or with
 * KAIO_LIST_POST_ERRORS answered by an error event); an errno only if it
 * took none. EINVAL for bad @flags, @sigev, @results or reserved fields,
 * before any iocb is looked at.
 */
struct kaio_submit_list {
	__s64 nr;
	__u64 iocbpp;
	__u32 flags;
	__u32 reserved0;
	struct kaio_sigevent sigev;
	__u64 results;
	__u64 reserved[3];
};

#define KAIO_RING_MAGIC			0xa10a10a1
#define KAIO_RING_COMPAT_FEATURES	1
#define KAIO_RING_INCOMPAT_FEATURES	0

/**
 * struct kaio_ring - header of the mmap()able completion ring
 * @id: the context fd number SETUP returned (lets libaio-style callers find
 *	the context from the ring address, also after mremap()).
 * @nr: number of io_event slots; the ring holds at most @nr - 1 events.
 * @head: next event to reap; written by user space or GETEVENTS. The kernel
 *	reads it with READ_ONCE and reduces it modulo @nr, never trusting it.
 * @tail: next slot the kernel fills; written by the kernel only.
 * @magic: KAIO_RING_MAGIC (the value of fs/aio.c's AIO_RING_MAGIC).
 * @compat_features: KAIO_RING_COMPAT_FEATURES.
 * @incompat_features: KAIO_RING_INCOMPAT_FEATURES.
 * @header_length: sizeof(struct kaio_ring).
 * @io_events: the events.
 *
 * The layout is fs/aio.c's struct aio_ring, so code that reaps native AIO
 * events from user space works on kaio unchanged.
 */
struct kaio_ring {
	__u32 id;
	__u32 nr;
	__u32 head;
	__u32 tail;
	__u32 magic;
	__u32 compat_features;
	__u32 incompat_features;
	__u32 header_length;
	struct io_event io_events[];
};

/* On /dev/kaio: returns a context fd. */
#define KAIO_IOC_SETUP		_IOWR(KAIO_IOC_MAGIC, 0x01, struct kaio_setup)
/* On a context fd. */
#define KAIO_IOC_SUBMIT		_IOW(KAIO_IOC_MAGIC, 0x02, struct kaio_submit)
#define KAIO_IOC_GETEVENTS	_IOW(KAIO_IOC_MAGIC, 0x03, struct kaio_getevents)
#define KAIO_IOC_CANCEL		_IOW(KAIO_IOC_MAGIC, 0x04, struct kaio_cancel)
/* Cancel what can be cancelled, wait for the rest; the fd stays, unusable. */
#define KAIO_IOC_DESTROY	_IO(KAIO_IOC_MAGIC, 0x05)
/* SUBMIT with a list notification and per-iocb error events. */
#define KAIO_IOC_SUBMIT_LIST	_IOW(KAIO_IOC_MAGIC, 0x06, struct kaio_submit_list)

#endif /* _UAPI_LINUX_KAIO_H */
