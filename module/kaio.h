/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kaio internals shared by the module's files: the context, the request and
 * the functions each file offers the others.
 */
#ifndef _KAIO_H
#define _KAIO_H

#include <linux/fs.h>
#include <linux/uio.h>
#include <linux/bvec.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/refcount.h>
#include <linux/pagemap.h>
#include <linux/percpu.h>
#include <linux/llist.h>
#include <uapi/linux/aio_abi.h>
#include <linux/kaio.h>

struct kaio_op_def;
struct kaio_mm;
struct kaio_notify;

/*
 * Opcodes kaio knows are below this: the op table's size (ops.c checks),
 * at most 64 (kaio_setup.opcodes). A new opcode raises it.
 */
#define KAIO_NR_OPCODES		(IOCB_CMD_PWRITEV + 1)

/* Per-context counters, shown in /proc/<pid>/fdinfo/<ctx fd>. */
enum kaio_stat {
	KAIO_STAT_SUBMITTED,
	KAIO_STAT_COMPLETED,
	KAIO_STAT_INLINE,	/* completed inside SUBMIT */
	KAIO_STAT_ASYNC,	/* completed through ki_complete */
	KAIO_STAT_WAIT_ARMS,	/* page-wait callbacks armed */
	KAIO_STAT_WAKEUPS,	/* page-wait callbacks fired */
	KAIO_STAT_RETRIES,	/* retries after a page-wait or POLL wake-up */
	KAIO_STAT_RETRIES_IN_TASK, /* ... of them run by a GETEVENTS waiter */
	KAIO_STAT_RETRIES_REQUEUED, /* ... a waiter handed to the workqueue */
	KAIO_STAT_WORKER,	/* blocking attempts on the worker pool */
	KAIO_STAT_CANCELLED,
	KAIO_STAT_SIGNALS_SENT,	/* completion signals queued (notify.c) */
	KAIO_STAT_SIGNALS_DROPPED, /* ... not: exec'd, exited, over a limit */
	KAIO_STAT_NR,
};

/**
 * struct kaio_ctx - an io context: the completion ring and its requests
 * @ring: the completion ring: @ring_pages mapped into the kernel (vmap) and
 *	into user space (mmap), charged to the creator's memory cgroup.
 * @ring_pages: the ring's pages.
 * @ring_size: bytes of @ring, a whole number of pages.
 * @nr: io_event slots in @ring; at most @nr - 1 events are held.
 * @tail: kernel copy of ring->tail; user space cannot move it.
 * @in_flight: requests submitted and not yet posted; with the events in the
 *	ring never more than @nr - 1, so posting never overflows.
 * @active: requests not yet posted, for cancel and destroy.
 * @lock: protects @tail, @in_flight, @active, @dead; irq-safe because
 *	completions arrive from bio end_io. Never drop a request's last
 *	reference under it (a free of a request still listed takes it
 *	again): only refcount_dec() of one known not to be the last.
 * @ring_lock: serialises GETEVENTS readers of the ring.
 * @wait: GETEVENTS waiters and poll().
 * @retries: retries handed to the tasks waiting in GETEVENTS (req.c), who
 *	run them; only while @retry_waiters is not zero.
 * @retry_waiters: tasks in GETEVENTS, ready to run @retries.
 * @retry_wait: wakes them for @retries, one at a time. Apart from @wait,
 *	so that the hand-over takes a lock under which nothing is taken but
 *	the scheduler's, whatever waitqueue lock its caller holds.
 * @reqs: requests alive (not freed), and notifies queued or being sent
 *	(notify.c): destroy waits for zero.
 * @notifies: notifies of posted events whose signals are still to be sent,
 *	newest first (notify.c); added to from any context without a lock.
 * @notify_work: sends them, on the user's @notify_wq: one worker at a time
 *	per context, however many events post. kaio_ctx_free() waits for it.
 * @notify_pending: notifies queued and not yet sent. Counted against the
 *	ring's capacity with @in_flight and the unreaped events: raised only
 *	under @lock, by the post that queues one (so that capacity checks
 *	under @lock are final), lowered by the sender.
 * @req_cache: freed requests, for SUBMIT to reuse (req.c): no trip through
 *	the slab allocator, which zeroes every object it hands out
 *	(init_on_alloc, on in Debian's kernel). Added to from any context
 *	without a lock; SUBMIT takes all of it at once.
 * @req_stash: what the last SUBMIT took from @req_cache and did not use,
 *	for the next one (exchanged whole; walked only when two overlap).
 * @req_cached: freed requests kept: on @req_cache, in @req_stash, or taken
 *	by a SUBMIT that has not ended; at most @req_cache_max and 256.
 * @req_cache_max: @nr, or 0 if the req_cache parameter was off at SETUP.
 * @dead: set by DESTROY or release; no more submissions.
 * @mm: the mm that created the context; only it may use it.
 * @owner_tgid: the creating process, whose exit waits for the requests.
 * @owner_exec_id: its self_exec_id then: a program it exec'd is not it.
 * @mm_track: the mm's list of contexts to shut down when it exits (mm.c).
 * @mm_node: on that list.
 * @nr_events_charged: what SETUP charged against the module-wide limit.
 * @user: the creator's accounting and queues; the context holds one of its
 *	context counts.
 * @shutdown_work: shuts the context down when its mm exits (mm.c).
 * @reap_work: frees a context released with requests left, when the last
 *	close was not the owner's (kaio_ctx_release()).
 * @res2_path: report KAIO_PATH_* in io_event.res2.
 * @writes_in_submit: KAIO_SETUP_WRITES_IN_SUBMIT.
 * @signals: KAIO_SETUP_SIGNALS: KAIO_IOCB_FLAG_SIGEVENT is honoured.
 * @stats: counters.
 * @op_submitted: requests submitted, per opcode (fdinfo's submitted_<op>).
 */
struct kaio_ctx {
	struct kaio_ring	*ring;
	struct page		**ring_pages;
	size_t			ring_size;
	unsigned int		nr;
	unsigned int		tail;
	unsigned int		in_flight;
	struct list_head	active;
	spinlock_t		lock;
	struct mutex		ring_lock;
	wait_queue_head_t	wait;
	struct llist_head	retries;
	atomic_t		retry_waiters;
	wait_queue_head_t	retry_wait;
	atomic_t		reqs;
	struct llist_head	notifies;
	struct work_struct	notify_work;
	atomic_t		notify_pending;
	struct llist_head	req_cache;
	struct llist_node	*req_stash;
	atomic_t		req_cached;
	unsigned int		req_cache_max;
	bool			dead;
	bool			res2_path;
	bool			writes_in_submit;
	bool			signals;
	struct mm_struct	*mm;
	struct pid		*owner_tgid;
	u64			owner_exec_id;
	struct kaio_mm		*mm_track;
	struct list_head	mm_node;
	unsigned int		nr_events_charged;
	struct kaio_user	*user;
	struct work_struct	shutdown_work;
	struct delayed_work	reap_work;
	atomic_long_t		stats[KAIO_STAT_NR];
	atomic_long_t		op_submitted[KAIO_NR_OPCODES];
};

/*
 * Request states, changed only through req.c's helpers, whose top comment
 * draws the machine. A canceller moves QUEUED to CANCELLED and completes
 * the request itself; it moves WAIT_PAGE to WAIT_CANCELLED and leaves the
 * completion to whoever ends the wait, since it cannot disarm the callback.
 */
enum kaio_req_state {
	KAIO_REQ_ISSUING,	/* first attempt, and the O_DIRECT bio it queued */
	KAIO_REQ_QUEUED,	/* waiting for a blocking worker, not started */
	KAIO_REQ_RUNNING,	/* a worker's, a retry's (and its bio), POLL's */
	KAIO_REQ_WAIT_PAGE,	/* page-wait callback armed (or arming) */
	KAIO_REQ_CANCELLED,	/* cancelled while queued: event posted */
	KAIO_REQ_WAIT_CANCELLED, /* cancelled while waiting for a page */
};

/*
 * The opcode's own state, private to its op file, as io_uring's
 * io_kiocb_to_cmd(): only rw.c knows struct kaio_rw, only poll.c struct
 * kaio_poll. The size is today's largest (struct kaio_rw): kaio_req_cmd()
 * fails the build of an op whose state outgrows it, so that the size of
 * every request stays a decision.
 */
#define KAIO_REQ_CMD_SIZE	432

struct kaio_req_cmd {
	u8 data[KAIO_REQ_CMD_SIZE];
} __aligned(sizeof(u64));

/**
 * struct kaio_req - one submitted iocb
 * @ctx: the context; a request holds one count of ctx->reqs.
 * @node: on ctx->active until its event is posted (or its result given
 *	inline, kaio_ring_retire_inline()).
 * @op: the opcode's entry in the op table.
 * @refs: the request's owner (submitter, worker or I/O callback) and any
 *	canceller holding it.
 * @state: enum kaio_req_state.
 * @path: slowest KAIO_PATH_* taken so far.
 * @in_task: the attempt running now runs in a task waiting in GETEVENTS
 *	(set by each run before its attempt).
 * @no_reuse: freed in a state it cannot be in (a bug): to the slab, not to
 *	the context's cache (kaio_req_mark_no_reuse()).
 * @cancel_marked: KAIO_IOC_CANCEL claimed it and answered EINPROGRESS,
 *	which promises an event in the ring: its result never goes to
 *	KAIO_LIST_INLINE_RESULTS' array. Set under ctx->lock (not by
 *	DESTROY, which promises nothing).
 * @file: the target file, or NULL for NOOP.
 * @eventfd: IOCB_FLAG_RESFD target, or NULL.
 * @notify: the signals the completion sends (notify.c), or NULL; handed
 *	over to notify.c by kaio_ring_post(), which clears it.
 * @cred: submitter's credentials, used by workers.
 * @memcg: submitter's memory cgroup, charged for what workers allocate.
 * @blkcg: submitter's blkcg (io controller css), for workers' I/O.
 * @user_iocb: io_event.obj.
 * @user_data: io_event.data.
 * @work: blocking attempt or page-wait retry, by @state.
 * @retry_node: on ctx->retries, for a GETEVENTS waiter to run the retry;
 *	once freed, on ctx->req_cache.
 * @retry_wq: where the retry goes if no waiter takes it.
 * @free_work: free from a context that may sleep.
 * @cmd: the op's own state: kaio_req_cmd() in its op file. Not zeroed at
 *	allocation: the op's prep initialises it, first thing.
 */
struct kaio_req {
	struct kaio_ctx		*ctx;
	struct list_head	node;
	const struct kaio_op_def *op;
	refcount_t		refs;
	atomic_t		state;
	u8			path;
	bool			in_task;
	bool			no_reuse;
	bool			cancel_marked;
	struct file		*file;
	struct eventfd_ctx	*eventfd;
	struct kaio_notify	*notify;
	const struct cred	*cred;
	struct mem_cgroup	*memcg;
	struct cgroup_subsys_state *blkcg;
	u64			user_iocb;
	u64			user_data;
	struct work_struct	work;
	struct llist_node	retry_node;
	struct workqueue_struct	*retry_wq;
	struct work_struct	free_work;
	struct kaio_req_cmd	cmd;
};

/*
 * The op's state in @req, as type @type: for the op files only, each with
 * its own type. kaio_cmd_req() goes back from the state's start, untyped:
 * each op file wraps it for its own type (kaio_rw_req(), kaio_poll_req()).
 */
#define kaio_req_cmd(req, type) ({					\
	static_assert(sizeof(type) <= sizeof(struct kaio_req_cmd));	\
	static_assert(__alignof__(type) <= __alignof__(struct kaio_req_cmd)); \
	(type *)(req)->cmd.data;					\
})
#define kaio_cmd_req(state)						\
	container_of((struct kaio_req_cmd *)(void *)(state), struct kaio_req, cmd)

/*
 * Blocking writes to regular files, one ordered queue per hash of the
 * inode: writes to one file wait for each other there instead of taking
 * workers that would only queue up on its inode lock.
 */
#define KAIO_WRITE_QUEUES_BITS	2
#define KAIO_WRITE_QUEUES	(1 << KAIO_WRITE_QUEUES_BITS)

/**
 * struct kaio_user - what one user's contexts share (limits.c)
 * @node: in the table of users with contexts.
 * @uid: the user.
 * @contexts: contexts open; the last one frees the user.
 * @worker_wq: blocking attempts, at most max_workers at once.
 * @retry_wq: page-wait retries of reads, which may wait for an inode lock.
 * @poll_wq: POLL wake-ups, retries and cancels: apart from @retry_wq, so
 *	that blocked read retries cannot hold them up; per user, since a
 *	FUSE file's ->poll() can wait for its server.
 * @write_wq: blocking writes to regular files, by hash of the inode.
 * @free_wq: frees that must sleep (a read's page cleaned since it was
 *	pinned is dirtied again under its page lock, which the user can hold
 *	for as long as it likes: a FUSE page in ->page_mkwrite) and frees
 *	from other subsystems' tasks. Per user, so that one user's stuck
 *	frees never hold up another's, nor kaio_cleanup_wq's reaping.
 * @notify_wq: completion signals (notify.c), one work item per context:
 *	one user's backlog of sends never delays another user's signals.
 */
struct kaio_user {
	struct hlist_node	node;
	kuid_t			uid;
	unsigned int		contexts;
	struct workqueue_struct	*worker_wq;
	struct workqueue_struct	*retry_wq;
	struct workqueue_struct	*poll_wq;
	struct workqueue_struct	*write_wq[KAIO_WRITE_QUEUES];
	struct workqueue_struct	*free_wq;
	struct workqueue_struct	*notify_wq;
};

/*
 * limits.c: module parameters, budgets and queues. kaio_cleanup_wq reaps
 * and shuts down contexts.
 */
extern struct workqueue_struct *kaio_cleanup_wq;
int kaio_limits_init(void);
void kaio_limits_exit(void);
void kaio_limits_log(void);
umode_t kaio_limits_dev_mode(void);
bool kaio_limits_req_cache(void);
bool kaio_limits_charge_events(unsigned int nr);
void kaio_limits_uncharge_events(unsigned int nr);
int kaio_limits_events(void);
int kaio_limits_charge_ctx(kuid_t uid, struct kaio_user **userp);
void kaio_limits_uncharge_ctx(struct kaio_user *user);
int kaio_limits_charge_pin(unsigned long nr_pages);
void kaio_limits_uncharge_pin(unsigned long nr_pages);
long kaio_limits_pinned_pages(void);
unsigned int kaio_limits_contexts(void);

/* ring.c: the event ring, below everything that posts or reads events */
int kaio_ring_alloc(struct kaio_ctx *ctx, unsigned int nr_events);
void kaio_ring_free(struct kaio_ctx *ctx);
int kaio_ring_mmap(struct kaio_ctx *ctx, struct vm_area_struct *vma);
int kaio_ring_may_reserve(struct kaio_ctx *ctx);
int kaio_ring_activate(struct kaio_req *req);
bool kaio_ring_retire_inline(struct kaio_req *req, long res,
			     s64 __user *result);
void kaio_ring_deactivate(struct kaio_req *req);
void kaio_ring_post(struct kaio_req *req, long res);
bool kaio_ring_has_events(struct kaio_ctx *ctx);
unsigned int kaio_ring_nr_events(struct kaio_ctx *ctx);
long kaio_ring_copy_events(struct kaio_ctx *ctx, long nr,
			   struct io_event __user *uevents, bool nofault);

/* getevents.c: GETEVENTS' wait, which runs the retries handed to it */
long kaio_getevents_wait(struct kaio_ctx *ctx, long min_nr, long nr,
			 struct io_event __user *uevents, ktime_t timeout);

/* ctx.c: the context file */
long kaio_ctx_setup(struct kaio_setup __user *uarg);
bool kaio_ctx_shutdown(struct kaio_ctx *ctx);

/* mm.c: contexts die with their mm */
int kaio_mm_track(struct kaio_ctx *ctx);
void kaio_mm_untrack(struct kaio_ctx *ctx);
void kaio_mm_exit(void);

/* stats.c: per-context counters, and module-wide totals per CPU */
struct kaio_stat_totals {
	unsigned long v[KAIO_STAT_NR];
};
DECLARE_PER_CPU(struct kaio_stat_totals, kaio_stat_totals);

static inline void kaio_stat_inc(struct kaio_ctx *ctx, enum kaio_stat stat)
{
	atomic_long_inc(&ctx->stats[stat]);
	this_cpu_inc(kaio_stat_totals.v[stat]);
}

static inline void kaio_stat_dec(struct kaio_ctx *ctx, enum kaio_stat stat)
{
	atomic_long_dec(&ctx->stats[stat]);
	this_cpu_dec(kaio_stat_totals.v[stat]);
}

struct seq_file;
void kaio_stats_show_fdinfo(struct seq_file *m, struct kaio_ctx *ctx);
void kaio_stats_init(void);
void kaio_stats_exit(void);

/* submit.c */
long kaio_submit(struct kaio_ctx *ctx, const struct file_operations *ctx_fops,
		 struct kaio_submit __user *uarg);
long kaio_submit_list(struct kaio_ctx *ctx,
		      const struct file_operations *ctx_fops,
		      struct kaio_submit_list __user *uarg);

/* req.c: the request's life after prep, and its state transitions */
int kaio_req_issue(struct kaio_req *req, s64 __user *result);
bool kaio_file_may_punt(struct file *file);
void kaio_req_punt(struct kaio_req *req);
void kaio_req_queue_retry(struct kaio_req *req, struct workqueue_struct *wq,
			  bool in_task_ok);
void kaio_req_waiter_enter(struct kaio_ctx *ctx);
unsigned int kaio_req_run_retries(struct kaio_ctx *ctx, ktime_t deadline);
void kaio_req_waiter_leave(struct kaio_ctx *ctx);
void kaio_req_continue(struct kaio_req *req, int how, long res);
void kaio_req_complete(struct kaio_req *req, long res);
void kaio_req_put(struct kaio_req *req);
void kaio_req_put_callback(struct kaio_req *req);
void kaio_req_get_submitter(struct kaio_req *req);
void kaio_req_note_path(struct kaio_req *req, u8 path);

/* Is @req's attempt running in a task waiting in GETEVENTS? (req.c) */
static inline bool kaio_req_in_task(const struct kaio_req *req)
{
	return req->in_task;
}
int kaio_req_cache_init(unsigned int useroffset, unsigned int usersize);
void kaio_req_cache_exit(void);
/* A SUBMIT's own list of freed requests to reuse (req.c). */
struct kaio_req_cache {
	struct llist_node	*list;
	unsigned int		taken;	/* still in ctx->req_cached */
};

struct kaio_req *kaio_req_alloc(struct kaio_ctx *ctx,
				struct kaio_req_cache *cache);
void kaio_req_cache_take(struct kaio_ctx *ctx, struct kaio_req_cache *cache);
void kaio_req_cache_put(struct kaio_ctx *ctx, struct kaio_req_cache *cache);
void kaio_req_cache_drain(struct kaio_ctx *ctx);
void kaio_req_mark_no_reuse(struct kaio_req *req);
void kaio_req_arm_wait(struct kaio_req *req);
enum kaio_req_state kaio_req_end_wait(struct kaio_req *req);
void kaio_req_set_running(struct kaio_req *req);
bool kaio_req_is_queued(struct kaio_req *req);
bool kaio_req_cancel_queued(struct kaio_req *req);
bool kaio_req_cancel_wait(struct kaio_req *req);

/* cancel.c */
long kaio_cancel(struct kaio_ctx *ctx, struct kaio_cancel __user *uarg);
void kaio_cancel_all(struct kaio_ctx *ctx);

#endif /* _KAIO_H */
