// SPDX-License-Identifier: GPL-2.0
/*
 * IOCB_CMD_POLL: a one-shot poll, retried on wake-up, with fs/aio.c's
 * protocol (aio_poll): the entry sits on the file's own waitqueue; a wake-up
 * that may match queues the retry, which calls ->poll() again and either
 * completes or waits on. Waitqueues freed early (POLLFREE, e.g. signalfd)
 * are handled as eventpoll does: the head pointer is cleared last, and is
 * only dereferenced under rcu_read_lock().
 *
 * Unlike fs/aio.c, the wake callback never completes the request itself:
 * completion is always the retry's, in process context.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/net.h>
#include <net/sock.h>
#include "kaio.h"
#include "poll.h"
#include "trace.h"

/*
 * Per-request state of POLL; the fields are fs/aio.c's struct poll_iocb.
 * Beside the request's state (RUNNING from the first attempt to the end),
 * POLL has fs/aio.c's waitqueue protocol: whether a retry is queued
 * (work_scheduled, work_need_resched: under the waitqueue's lock), whether
 * CANCEL or POLLFREE asked it to end (cancelled), and whether it has left
 * its waitqueue to complete (completing, cancel_seen). Each change of
 * these goes through one of the kaio_poll_* helpers below.
 */
struct kaio_poll {
	struct wait_queue_head	*head;		/* NULL after POLLFREE */
	struct wait_queue_entry	wait;
	__poll_t		events;
	bool			cancelled;
	bool			completing;	/* off its waitqueue for good */
	bool			cancel_seen;	/* ... with CANCEL's mark: res 0 */
	bool			work_scheduled;
	bool			work_need_resched;
};

static struct kaio_poll *kaio_poll(struct kaio_req *req)
{
	return kaio_req_cmd(req, struct kaio_poll);
}

/* CANCEL, POLLFREE or a second waitqueue: the next look completes it. */
static void kaio_poll_set_cancelled(struct kaio_poll *p)
{
	WRITE_ONCE(p->cancelled, true);
}

static bool kaio_poll_is_cancelled(struct kaio_poll *p)
{
	return READ_ONCE(p->cancelled);
}

static struct kaio_req *kaio_poll_req(struct kaio_poll *p)
{
	return kaio_cmd_req(p);
}

/* The helpers below change the retry flags, under the waitqueue's lock. */
static void kaio_poll_assert_locked(struct kaio_poll *p)
{
	lockdep_assert_held(&READ_ONCE(p->head)->lock);
}

/*
 * To a task waiting in GETEVENTS if any, as io_uring runs its poll retries
 * in the task, for pipes and the common socket families only, whose
 * ->poll() never sleeps and answers the same in any task. Not for the
 * rest: a FUSE or CUSE file's ->poll() waits for its server,
 * uninterruptibly once sent; an epoll fd's takes its mutex and polls what
 * it watches, FUSE files included; vsock's takes the socket lock; a
 * signalfd's answers for current. Those stay on the poll workqueue, where
 * they held up a worker, not the program's GETEVENTS.
 */
static bool kaio_poll_may_retry_in_task(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;
	struct socket *sock;

	if (S_ISFIFO(mode))
		return true;
	if (!S_ISSOCK(mode))
		return false;
	sock = sock_from_file(file);
	if (!sock || !sock->sk)
		return false;
	switch (sock->sk->sk_family) {
	case AF_UNIX:
	case AF_INET:
	case AF_INET6:
	case AF_NETLINK:
		return true;
	default:
		return false;
	}
}

static void kaio_poll_queue_retry(struct kaio_poll *p)
{
	struct kaio_req *req = kaio_poll_req(p);

	kaio_req_queue_retry(req, req->ctx->user->poll_wq,
			     kaio_poll_may_retry_in_task(req->file));
}

/*
 * Claim the retry unless one is queued or running; the caller queues it
 * with kaio_poll_queue_retry(), after counting and tracing the wake-up,
 * so that the retry never shows before the wake-up that queued it.
 * Return: whether the caller must queue it.
 */
static bool kaio_poll_claim_retry(struct kaio_poll *p)
{
	kaio_poll_assert_locked(p);
	if (p->work_scheduled)
		return false;
	p->work_scheduled = true;
	return true;
}

/*
 * From a wake-up: claim the retry, or tell the one queued or running to
 * look again, since the wake-up may have come after its ->poll().
 */
static bool kaio_poll_wake_claim_retry(struct kaio_poll *p)
{
	if (kaio_poll_claim_retry(p))
		return true;
	p->work_need_resched = true;
	return false;
}

/*
 * From a retry that found nothing ready: wait on, or look again if a
 * wake-up came while it looked.
 */
static void kaio_poll_retry_done(struct kaio_poll *p)
{
	kaio_poll_assert_locked(p);
	if (p->work_need_resched) {
		p->work_need_resched = false;
		kaio_poll_queue_retry(p);
	} else {
		p->work_scheduled = false;
	}
}

struct kaio_poll_table {
	struct poll_table_struct	pt;
	struct kaio_req			*req;
	bool				queued;
	int				error;
};

/*
 * Run @step with the waitqueue locked, if the entry is still on it; false if
 * it is not (a wake-up with POLLFREE took it off, or it completed). As
 * eventpoll does: whoever frees a waitqueue early (wake_up_pollfree) RCU-
 * delays the free, so under rcu_read_lock() a non-NULL head can be locked.
 */
static bool kaio_poll_locked(struct kaio_poll *p,
			     void (*step)(struct kaio_poll *p, void *arg),
			     void *arg)
{
	struct wait_queue_head *head;
	unsigned long flags;
	bool queued = false;

	rcu_read_lock();
	/* Pairs with the POLLFREE release in kaio_poll_wake(). */
	head = smp_load_acquire(&p->head);
	if (head) {
		/*
		 * Irqs off: eventfds, sockets, timerfds and signalfds are woken
		 * from irq context, whose wake-up takes this same lock.
		 * fs/aio.c only takes it inside spin_lock_irq(&ctx->ctx_lock);
		 * CANCEL calls this with irqs already off, SUBMIT and the retry
		 * with them on.
		 */
		spin_lock_irqsave(&head->lock, flags);
		queued = !list_empty(&p->wait.entry);
		if (queued)
			step(p, arg);
		spin_unlock_irqrestore(&head->lock, flags);
	}
	rcu_read_unlock();
	return queued;
}

/* Under head->lock, maybe in irq context. */
static int kaio_poll_wake(struct wait_queue_entry *wait, unsigned int mode,
			  int sync, void *key)
{
	struct kaio_poll *p = container_of(wait, struct kaio_poll, wait);
	struct kaio_req *req = kaio_poll_req(p);
	__poll_t mask = key_to_poll(key);

	if (mask && !(mask & p->events))
		return 0;
	if (kaio_poll_wake_claim_retry(p)) {
		kaio_stat_inc(req->ctx, KAIO_STAT_WAKEUPS);
		trace_kaio_wake(req);
		kaio_poll_queue_retry(p);
	}
	if (mask & POLLFREE) {
		/* The waitqueue goes away: leave it, never look at it again. */
		kaio_poll_set_cancelled(p);
		list_del_init(&wait->entry);
		/* Last: once head is NULL the retry may complete and free. */
		smp_store_release(&p->head, NULL);
	}
	return 1;
}

static void kaio_poll_queue_proc(struct file *file,
				 struct wait_queue_head *head,
				 struct poll_table_struct *pt)
{
	struct kaio_poll_table *apt = container_of(pt, struct kaio_poll_table,
						   pt);
	struct kaio_poll *p = kaio_poll(apt->req);

	/* One waitqueue per file, as fs/aio.c. */
	if (unlikely(apt->queued)) {
		apt->error = -EINVAL;
		return;
	}
	apt->queued = true;
	apt->error = 0;
	/*
	 * Published before the entry is queued, as fs/aio.c and io_uring do:
	 * a wake-up (from irq, on another CPU) may queue the retry as soon as
	 * the entry is on the waitqueue, and the retry must find the head to
	 * lock it; with no head it would take the entry for one POLLFREE took
	 * off. Then a full barrier before kaio_poll_arm_step() reads
	 * p->cancelled: pairs with the one in kaio_poll_cancel(). A canceller
	 * either finds the entry queued here or the arm step finds its mark.
	 */
	WRITE_ONCE(p->head, head);
	add_wait_queue(head, &p->wait);
	/* Pairs with the smp_mb() in kaio_poll_cancel(). */
	smp_mb();
}

int kaio_poll_prep(struct kaio_req *req, const struct iocb *iocb)
{
	struct kaio_poll *p = kaio_poll(req);

	memset(p, 0, sizeof(*p));	/* requests are not zeroed */
	/* reject any unknown events outside the normal event mask. */
	if ((u16)iocb->aio_buf != iocb->aio_buf)
		return -EINVAL;
	/* reject fields that are not defined for poll */
	if (iocb->aio_offset || iocb->aio_nbytes || iocb->aio_rw_flags)
		return -EINVAL;
	p->events = demangle_poll(iocb->aio_buf) | EPOLLERR | EPOLLHUP;
	/* A file that cannot wait must be ready now: fs/aio.c's EINVAL. */
	if (!file_can_poll(req->file) && !(DEFAULT_POLLMASK & p->events))
		return -EINVAL;
	return 0;
}

/* What the first attempt found; see kaio_poll_issue(). */
struct kaio_poll_arm {
	__poll_t	mask;
	int		error;
	bool		cancel;		/* give up: a second waitqueue */
	bool		cancelled;	/* CANCEL came while we armed */
};

static void kaio_poll_arm_decided(struct kaio_poll_arm *arm)
{
	/* A wake-up already queued the retry: it decides. */
	if (arm->error)
		arm->cancel = true;	/* a second waitqueue: give up */
	arm->error = 0;
	arm->mask = 0;
}

/*
 * Under the waitqueue lock (or ctx->lock, off any waitqueue): the request
 * completes, with res 0 if @cancelled (it saw CANCEL's mark), else with what
 * was ready. A CANCEL that comes later answers from this, so its answer and
 * the event agree: EINPROGRESS and res 0, or EAGAIN and the mask.
 */
static void kaio_poll_mark_completing(struct kaio_poll *p, bool cancelled)
{
	p->cancel_seen = cancelled;
	/* Pairs with the acquire in kaio_poll_cancel(). */
	smp_store_release(&p->completing, true);
}

/* Under the waitqueue lock: off the waitqueue, to complete. */
static void kaio_poll_set_completing(struct kaio_poll *p, bool cancelled)
{
	kaio_poll_mark_completing(p, cancelled);
	list_del_init(&p->wait.entry);
}

static void kaio_poll_arm_step(struct kaio_poll *p, void *arg)
{
	struct kaio_poll_arm *arm = arg;

	if (p->work_scheduled) {
		kaio_poll_arm_decided(arm);
	} else if (kaio_poll_is_cancelled(p)) {
		arm->cancelled = true;		/* complete it here, res 0 */
		arm->mask = 0;
		arm->error = 0;
	}
	if (arm->mask || arm->error || arm->cancelled)	/* done here */
		kaio_poll_set_completing(p, arm->cancelled);
	else if (arm->cancel)
		kaio_poll_set_cancelled(p);
}

/*
 * A request on no waitqueue (its file never queued it, or POLLFREE took it
 * off under the waitqueue's lock) is done now. CANCEL may have found the
 * request on ctx->active meanwhile: ctx->lock orders the two, so
 * EINPROGRESS always comes with res 0. The entry is never unlinked here,
 * without the waitqueue's lock: it must be on no list.
 */
static bool kaio_poll_unqueued_cancelled(struct kaio_req *req)
{
	struct kaio_poll *p = kaio_poll(req);
	struct kaio_ctx *ctx = req->ctx;
	bool cancelled;

	WARN_ON_ONCE(!list_empty_careful(&p->wait.entry));
	spin_lock_irq(&ctx->lock);
	cancelled = kaio_poll_is_cancelled(p);
	kaio_poll_mark_completing(p, cancelled);
	spin_unlock_irq(&ctx->lock);
	return cancelled;
}

/**
 * kaio_poll_issue() - arm a POLL, or complete it if the file is ready
 * @req: the request, owned by the caller
 * @res: the event's result, or the submission's errno
 *
 * As fs/aio.c's aio_poll(), a file that cannot be waited for (a second
 * waitqueue, or none while not ready) fails the submission itself.
 *
 * Return: KAIO_ISSUE_DONE, KAIO_ISSUE_QUEUED or KAIO_ISSUE_FAILED.
 */
enum kaio_issue kaio_poll_issue(struct kaio_req *req, long *res)
{
	struct kaio_poll *p = kaio_poll(req);
	struct kaio_poll_table apt = {
		.pt._qproc	= kaio_poll_queue_proc,
		.pt._key	= p->events,
		.req		= req,
		.error		= -EINVAL,
	};
	struct kaio_poll_arm arm;

	INIT_LIST_HEAD(&p->wait.entry);
	init_waitqueue_func_entry(&p->wait, kaio_poll_wake);
	/* The work item runs kaio_poll_retry() from now on. */
	kaio_req_set_running(req);

	arm.mask = vfs_poll(req->file, &apt.pt) & p->events;
	arm.error = apt.error;
	arm.cancel = false;
	arm.cancelled = false;
	if (likely(apt.queued)) {
		if (!kaio_poll_locked(p, kaio_poll_arm_step, &arm)) {
			kaio_poll_arm_decided(&arm);
			if (arm.cancel)
				kaio_poll_set_cancelled(p);
		}
		if (arm.cancelled) {
			kaio_stat_inc(req->ctx, KAIO_STAT_CANCELLED);
			*res = 0;	/* as a cancelled POLL in fs/aio.c */
			return KAIO_ISSUE_DONE;
		}
		if (!arm.mask && !arm.error)
			return KAIO_ISSUE_QUEUED;	/* the entry owns req */
	} else if (kaio_poll_unqueued_cancelled(req)) {
		kaio_stat_inc(req->ctx, KAIO_STAT_CANCELLED);
		*res = 0;
		return KAIO_ISSUE_DONE;
	}
	if (!arm.mask) {
		*res = arm.error;
		return KAIO_ISSUE_FAILED;
	}
	*res = mangle_poll(arm.mask);
	return KAIO_ISSUE_DONE;
}

/* What the retry found; see kaio_poll_retry(). */
struct kaio_poll_check {
	__poll_t	mask;
	bool		waiting;
	bool		cancelled;
};

static void kaio_poll_retry_step(struct kaio_poll *p, void *arg)
{
	struct kaio_poll_check *check = arg;

	if (!check->mask && !kaio_poll_is_cancelled(p)) {
		/* Not ready after all: wait on, or look again. */
		kaio_poll_retry_done(p);
		check->waiting = true;
		return;
	}
	/* CANCEL said EINPROGRESS: what became ready meanwhile is not news. */
	if (kaio_poll_is_cancelled(p)) {
		check->cancelled = true;
		check->mask = 0;
	}
	kaio_poll_set_completing(p, check->cancelled);
}

enum kaio_issue kaio_poll_retry(struct kaio_req *req, long *res)
{
	struct kaio_poll *p = kaio_poll(req);
	struct poll_table_struct pt = { ._key = p->events };
	struct kaio_poll_check check = { };

	if (kaio_poll_is_cancelled(p))
		check.cancelled = true;		/* POLLFREE, or CANCEL */
	else
		check.mask = vfs_poll(req->file, &pt) & p->events;
	/*
	 * Not on the queue: POLLFREE took the entry off (and marked it
	 * cancelled, maybe after vfs_poll() above); complete, ordered
	 * against CANCEL by ctx->lock.
	 */
	if (!kaio_poll_locked(p, kaio_poll_retry_step, &check) &&
	    kaio_poll_unqueued_cancelled(req)) {
		check.cancelled = true;
		check.mask = 0;
	}
	if (check.waiting)
		return KAIO_ISSUE_QUEUED;
	if (check.cancelled)
		kaio_stat_inc(req->ctx, KAIO_STAT_CANCELLED);
	/* A cancelled poll reports 0, as fs/aio.c's. */
	*res = mangle_poll(check.mask);
	return KAIO_ISSUE_DONE;
}

static void kaio_poll_cancel_step(struct kaio_poll *p, void *arg)
{
	if (kaio_poll_claim_retry(p))
		kaio_poll_queue_retry(p);
}

/*
 * Under ctx->lock with irqs off, as fs/aio.c's ki_cancel. Unlike fs/aio.c,
 * the request is findable while SUBMIT still arms it, so the mark comes
 * first: a request not on its waitqueue yet sees it when it gets there.
 * One that left its waitqueue to complete (kaio_poll_set_completing())
 * answers what its completion saw: EINPROGRESS if it saw the mark (res 0),
 * EAGAIN if it completes with what was ready (the mask). So EINPROGRESS
 * always means res 0.
 */
bool kaio_poll_cancel(struct kaio_req *req)
{
	struct kaio_poll *p = kaio_poll(req);

	/* Pairs with kaio_poll_set_completing(): cancel_seen is set. */
	if (smp_load_acquire(&p->completing))
		return p->cancel_seen;
	kaio_poll_set_cancelled(p);
	/* Pairs with smp_mb() in kaio_poll_queue_proc(). */
	smp_mb();
	if (kaio_poll_locked(p, kaio_poll_cancel_step, NULL))
		return true;	/* its retry completes it, and sees the mark */
	/*
	 * Not queued: still arming (the arm step sees the mark), off its
	 * queue by POLLFREE (its retry sees it under ctx->lock, which we
	 * hold), or completing: then the step says whether it saw our mark.
	 */
	if (smp_load_acquire(&p->completing))
		return p->cancel_seen;
	return true;
}
