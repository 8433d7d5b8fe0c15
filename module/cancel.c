// SPDX-License-Identifier: GPL-2.0
/*
 * Cancellation. A request waiting for a worker completes at once with
 * -ECANCELED. A request waiting for a page is marked: its callback cannot be
 * disarmed from a module (folio_waitqueue() is static), so the retry the
 * callback queues completes it with -ECANCELED instead of reading on; that
 * happens when the page's I/O ends. Ops that wait on something else (POLL)
 * get their own cancel hook. Once an attempt runs (in a worker or in
 * the block layer) it finishes normally; the caller is told -EAGAIN.
 *
 * -ECANCELED says that nothing moved. A read or write cancelled after an
 * earlier attempt moved bytes (a short NOWAIT write before its punt, a
 * read between two page waits) reports those bytes instead, as a read(2)
 * interrupted by a signal does: the file may already hold them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include "kaio.h"
#include "ops.h"

enum kaio_claim {
	KAIO_CLAIM_NONE,	/* running: cannot be stopped */
	KAIO_CLAIM_QUEUED,	/* ours to complete */
	KAIO_CLAIM_MARKED,	/* its page-wait retry completes it */
};

/*
 * Under ctx->lock. A listed request holds its owner's reference: the owner
 * posts, which unlists it under this lock, before it puts.
 */
static enum kaio_claim kaio_cancel_claim(struct kaio_req *req)
{
	/*
	 * Our reference first, CANCELLED second: a worker that dequeues the
	 * request and sees CANCELLED drops the work item's reference at
	 * once, and that is the last one unless we hold ours. The other
	 * order freed a request under its canceller (traced in the guest:
	 * the worker ran between the cmpxchg and the increment).
	 *
	 * None left at all: a refcount bug is freeing it, and
	 * kaio_req_free() warns and unlists it once we drop ctx->lock.
	 * Leave it alone in every state: no mark, no cancel hook.
	 */
	if (unlikely(!refcount_read(&req->refs)))
		return KAIO_CLAIM_NONE;
	if (kaio_req_is_queued(req) && refcount_inc_not_zero(&req->refs)) {
		if (kaio_req_cancel_queued(req))
			return KAIO_CLAIM_QUEUED;
		/*
		 * The worker took it first and still holds the item's, which
		 * it lets go of only by posting, under ctx->lock: never the
		 * last, so no put (a free here would take ctx->lock again).
		 */
		refcount_dec(&req->refs);
		return KAIO_CLAIM_NONE;
	}
	if (kaio_req_cancel_wait(req))
		return KAIO_CLAIM_MARKED;
	if (req->op->cancel && req->op->cancel(req))
		return KAIO_CLAIM_MARKED;
	return KAIO_CLAIM_NONE;
}

static void kaio_cancel_finish(struct kaio_req *req)
{
	/*
	 * If the worker item never ran, its reference is ours to drop. A
	 * punt racing this may find the item marked pending by the grab
	 * and not queue it: then kaio_req_punt() drops that reference.
	 */
	if (cancel_work(&req->work))
		kaio_req_put(req);
	kaio_stat_inc(req->ctx, KAIO_STAT_CANCELLED);
	kaio_req_complete(req, req->op->cancelled ?
			  req->op->cancelled(req) : -ECANCELED);
	kaio_req_put(req);
}

/**
 * kaio_cancel() - KAIO_IOC_CANCEL, as io_cancel(2)
 * @ctx: the context
 * @uarg: struct kaio_cancel
 *
 * Return: -EINPROGRESS when cancelled (the event arrives through the ring),
 * -EAGAIN when the request is running, -EINVAL when none is pending.
 */
long kaio_cancel(struct kaio_ctx *ctx, struct kaio_cancel __user *uarg)
{
	struct kaio_req *req, *found = NULL;
	struct kaio_cancel args;
	struct iocb __user *uiocb;
	long ret = -EINVAL;
	u32 key;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	uiocb = u64_to_user_ptr(args.iocb);
	if (unlikely(get_user(key, &uiocb->aio_key)))
		return -EFAULT;
	if (unlikely(key != 0))
		return -EINVAL;

	/*
	 * One iocb may have been submitted again while an earlier request
	 * from it still runs: cancel the first that can be, as fs/aio.c,
	 * whose list holds only cancellable requests, would find it.
	 */
	spin_lock_irq(&ctx->lock);
	list_for_each_entry(req, &ctx->active, node) {
		enum kaio_claim claim;

		if (req->user_iocb != args.iocb)
			continue;
		claim = kaio_cancel_claim(req);
		if (claim == KAIO_CLAIM_NONE) {
			ret = -EAGAIN;
			continue;
		}
		if (claim == KAIO_CLAIM_QUEUED)
			found = req;
		/* EINPROGRESS promises an event: never an inline result. */
		req->cancel_marked = true;
		ret = -EINPROGRESS;
		break;
	}
	spin_unlock_irq(&ctx->lock);

	if (found)
		kaio_cancel_finish(found);
	return ret;
}

/**
 * kaio_cancel_all() - cancel every queued or page-waiting request
 * @ctx: the context, already marked dead
 *
 * One pass under the lock: the requests it claims leave ctx->active for a
 * private list (only their canceller completes them), then each is
 * completed with the lock dropped. The old rescan from the head after each
 * cancel was quadratic with irqs off.
 */
void kaio_cancel_all(struct kaio_ctx *ctx)
{
	struct kaio_req *req, *next;
	LIST_HEAD(claimed);

	spin_lock_irq(&ctx->lock);
	list_for_each_entry_safe(req, next, &ctx->active, node)
		if (kaio_cancel_claim(req) == KAIO_CLAIM_QUEUED)
			list_move_tail(&req->node, &claimed);
	spin_unlock_irq(&ctx->lock);

	while (!list_empty(&claimed)) {
		req = list_first_entry(&claimed, struct kaio_req, node);
		/* Posting takes it off the list, under ctx->lock. */
		kaio_cancel_finish(req);
		cond_resched();
	}
}
