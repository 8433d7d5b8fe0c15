// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_SUBMIT and KAIO_IOC_SUBMIT_LIST: copy and validate iocbs, take
 * the references a request needs, and start it. Checks run in fs/aio.c's
 * order so that every errno matches io_submit(2).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "kaio.h"
#include "notify.h"
#include "ops.h"
#include "trace.h"

/* fs/aio.c's KIOCB_KEY: what io_submit writes to aio_key, io_cancel checks. */
#define KAIO_IOCB_KEY		0
/* Plug the block layer when a batch is larger than this, as fs/aio.c does. */
#define KAIO_PLUG_THRESHOLD	2

/* One SUBMIT or SUBMIT_LIST call. */
struct kaio_submit_call {
	const struct file_operations	*ctx_fops;
	struct kaio_req_cache		cache;
	struct kaio_notify_list		*list;	/* KAIO_LIST_SIGNAL */
	bool				post_errors;
	/* KAIO_LIST_INLINE_RESULTS: the array, and the current iocb's entry. */
	bool				inline_results;
	s64 __user			*results;
	s64 __user			*result;
};

/*
 * KAIO_LIST_INLINE_RESULTS: may a request of this call that completes in
 * its first attempt give its result in the call's results entry instead of
 * an event? Not if anything else waits for its event: an eventfd, a
 * signal, a list's signal.
 */
static bool kaio_submit_may_inline(const struct kaio_submit_call *call,
				   const struct kaio_notify *notify,
				   const struct eventfd_ctx *eventfd)
{
	return call->inline_results && !notify && !eventfd;
}

/*
 * A copied iocb to a running request: 0, or the errno io_submit would
 * fail it with. @sev: its struct kaio_sigevent (KAIO_IOCB_FLAG_SIGEVENT),
 * copied in, or NULL.
 */
static int kaio_submit_iocb(struct kaio_ctx *ctx, struct kaio_submit_call *call,
			    struct iocb __user *uiocb, const struct iocb *iocb,
			    const struct kaio_sigevent *sev)
{
	const struct kaio_op_def *op;
	struct kaio_notify *notify = NULL;
	struct kaio_req *req;
	unsigned int opcode;
	int ret;

	/* enforce forwards compatibility on users */
	if (unlikely(!sev && iocb->aio_reserved2))
		return -EINVAL;
	if (unlikely((ssize_t)iocb->aio_nbytes < 0))
		return -EINVAL;
	if (sev || call->list) {
		notify = kaio_notify_new(ctx, sev, call->list);
		if (IS_ERR(notify))
			return PTR_ERR(notify);
	}

	/*
	 * Counted in ctx->reqs before kaio_ring_activate() looks at ctx->dead:
	 * a DESTROY that marked the context dead after our reservation must
	 * then wait for this request too.
	 */
	req = kaio_req_alloc(ctx, &call->cache);
	if (unlikely(!req)) {
		if (notify)
			kaio_notify_discard(notify);
		return -EAGAIN;
	}
	req->notify = notify;	/* freed with the request if it fails */
	ret = kaio_ring_may_reserve(ctx);
	if (unlikely(ret))
		goto fail;

	op = kaio_op_get(iocb->aio_lio_opcode);
	/* fs/aio.c looks the file up before the opcode: EBADF wins. */
	if (!op || op->needs_file) {
		req->file = fget(iocb->aio_fildes);
		if (unlikely(!req->file)) {
			ret = -EBADF;
			goto fail;
		}
		/*
		 * A request holds its file: one on a context would keep that
		 * context alive, and a cycle of them forever.
		 */
		if (unlikely(req->file->f_op == call->ctx_fops)) {
			ret = -EINVAL;
			goto fail;
		}
	}
	if (iocb->aio_flags & IOCB_FLAG_RESFD) {
		struct eventfd_ctx *eventfd;

		eventfd = eventfd_ctx_fdget(iocb->aio_resfd);
		if (IS_ERR(eventfd)) {
			ret = PTR_ERR(eventfd);
			goto fail;
		}
		req->eventfd = eventfd;
	}
	if (unlikely(put_user(KAIO_IOCB_KEY, &uiocb->aio_key))) {
		ret = -EFAULT;
		goto fail;
	}
	if (unlikely(!op)) {
		ret = -EINVAL;
		goto fail;
	}
	req->op = op;
	/* Below KAIO_NR_OPCODES, as op is not NULL; the fence: Spectre. */
	opcode = array_index_nospec(iocb->aio_lio_opcode, KAIO_NR_OPCODES);
	req->user_iocb = (u64)(unsigned long)uiocb;
	req->user_data = iocb->aio_data;
	ret = op->prep(req, iocb);
	if (unlikely(ret))
		goto fail;
	kaio_req_get_submitter(req);
	ret = kaio_ring_activate(req);
	if (unlikely(ret))
		goto fail;
	kaio_stat_inc(ctx, KAIO_STAT_SUBMITTED);
	atomic_long_inc(&ctx->op_submitted[opcode]);
	trace_kaio_submit(req, iocb->aio_lio_opcode, iocb->aio_fildes,
			  iocb->aio_offset, iocb->aio_nbytes);
	ret = kaio_req_issue(req, kaio_submit_may_inline(call, req->notify,
							 req->eventfd) ?
				  call->result : NULL);
	if (unlikely(ret)) {
		kaio_stat_dec(ctx, KAIO_STAT_SUBMITTED);
		atomic_long_dec(&ctx->op_submitted[opcode]);
		goto fail;
	}
	return 0;

fail:
	kaio_req_put(req);	/* the only reference: freed here */
	return ret;
}

/*
 * KAIO_LIST_POST_ERRORS: an iocb that failed with @err posts its event
 * anyway, through a request that only does that (the NOOP op's, so that a
 * canceller finding it on ctx->active sees an op without a cancel hook):
 * res = @err, obj and data the iocb's, its eventfd and its own signal
 * unless either was what was wrong, its list's reference. It takes a ring
 * slot as any request: a full ring stops the call.
 *
 * Return: 0 when the event is posted, else the errno that stops the call.
 */
static int kaio_submit_error(struct kaio_ctx *ctx,
			     struct kaio_submit_call *call,
			     struct iocb __user *uiocb, const struct iocb *iocb,
			     const struct kaio_sigevent *sev, int err)
{
	struct kaio_notify *notify = NULL;
	struct kaio_req *req;
	int ret;

	/*
	 * Nothing waits for this event but the caller: the errno goes to its
	 * results entry, counted as a request that completed at once.
	 */
	if (!sev && !call->list && !(iocb->aio_flags & IOCB_FLAG_RESFD) &&
	    kaio_submit_may_inline(call, NULL, NULL)) {
		/* As kaio_ring_activate() would: a dead context takes none. */
		if (unlikely(READ_ONCE(ctx->dead)))
			return -EINVAL;
		if (unlikely(put_user((s64)err, call->result)))
			return -EFAULT;
		kaio_stat_inc(ctx, KAIO_STAT_SUBMITTED);
		kaio_stat_inc(ctx, KAIO_STAT_COMPLETED);
		return 0;
	}
	if (sev) {
		notify = kaio_notify_new(ctx, sev, call->list);
		if (notify == ERR_PTR(-EINVAL))
			notify = NULL;	/* the signal was the error */
	}
	if (!notify && call->list)
		notify = kaio_notify_new(ctx, NULL, call->list);
	if (IS_ERR(notify))
		return PTR_ERR(notify);

	req = kaio_req_alloc(ctx, &call->cache);
	if (unlikely(!req)) {
		if (notify)
			kaio_notify_discard(notify);
		return -EAGAIN;
	}
	req->notify = notify;
	/* Its eventfd too, as for a request that ran, unless that failed. */
	if (iocb->aio_flags & IOCB_FLAG_RESFD) {
		struct eventfd_ctx *eventfd;

		eventfd = eventfd_ctx_fdget(iocb->aio_resfd);
		if (!IS_ERR(eventfd))
			req->eventfd = eventfd;
	}
	req->op = kaio_op_get(IOCB_CMD_NOOP);
	req->user_iocb = (u64)(unsigned long)uiocb;
	req->user_data = iocb->aio_data;
	ret = kaio_ring_activate(req);
	if (unlikely(ret)) {
		kaio_req_put(req);
		return ret;
	}
	/* Counted as submitted: every posted event is a completed request. */
	kaio_stat_inc(ctx, KAIO_STAT_SUBMITTED);
	kaio_req_complete(req, err);
	kaio_req_put(req);
	return 0;
}

static int kaio_submit_one(struct kaio_ctx *ctx, struct kaio_submit_call *call,
			   struct iocb __user *uiocb)
{
	struct kaio_sigevent sev, *sevp = NULL;
	struct iocb iocb;
	int ret = 0;

	if (unlikely(copy_from_user(&iocb, uiocb, sizeof(iocb))))
		return -EFAULT;	/* nothing to post an event for */
	/* Elsewhere an unknown bit, as to io_submit(2). */
	if ((iocb.aio_flags & KAIO_IOCB_FLAG_SIGEVENT) && ctx->signals) {
		if (copy_from_user(&sev, u64_to_user_ptr(iocb.aio_reserved2),
				   sizeof(sev)))
			ret = -EFAULT;
		else
			sevp = &sev;
	}
	if (likely(!ret))
		ret = kaio_submit_iocb(ctx, call, uiocb, &iocb, sevp);
	/* EAGAIN is the context's (ring, memory), not the iocb's: stop. */
	if (likely(!ret) || !call->post_errors || ret == -EAGAIN)
		return ret;
	return kaio_submit_error(ctx, call, uiocb, &iocb, sevp, ret);
}

/* The iocbs at @iocbpp, up to the capacity: how many taken, or the errno. */
static long kaio_submit_iocbs(struct kaio_ctx *ctx,
			      struct kaio_submit_call *call, s64 nr_asked,
			      u64 iocbpp)
{
	struct iocb __user * __user *uiocbpp = u64_to_user_ptr(iocbpp);
	struct blk_plug plug;
	long i, nr;
	int ret = 0;

	nr = min_t(s64, nr_asked, ctx->nr - 1);
	kaio_req_cache_take(ctx, &call->cache);
	if (nr > KAIO_PLUG_THRESHOLD)
		blk_start_plug(&plug);
	for (i = 0; i < nr; i++) {
		struct iocb __user *uiocb;

		if (unlikely(get_user(uiocb, uiocbpp + i))) {
			ret = -EFAULT;
			break;
		}
		if (call->inline_results) {
			/* Written first: a request may complete before we look. */
			call->result = call->results + i;
			if (unlikely(put_user(KAIO_RESULT_IN_RING, call->result))) {
				ret = -EFAULT;
				break;
			}
		}
		ret = kaio_submit_one(ctx, call, uiocb);
		if (ret)
			break;
		cond_resched();
	}
	if (nr > KAIO_PLUG_THRESHOLD)
		blk_finish_plug(&plug);
	kaio_req_cache_put(ctx, &call->cache);
	return i ? i : ret;
}

/**
 * kaio_submit() - KAIO_IOC_SUBMIT, as io_submit(2)
 * @ctx: the context
 * @ctx_fops: the file operations of context files (ctx.c's kaio_ctx_fops,
 *	the only ones): an iocb may not name a context
 * @uarg: struct kaio_submit
 *
 * Return: the number of iocbs queued, or an errno if the first one failed.
 */
long kaio_submit(struct kaio_ctx *ctx, const struct file_operations *ctx_fops,
		 struct kaio_submit __user *uarg)
{
	struct kaio_submit_call call = { .ctx_fops = ctx_fops };
	struct kaio_submit args;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (unlikely(args.nr < 0))
		return -EINVAL;
	return kaio_submit_iocbs(ctx, &call, args.nr, args.iocbpp);
}

/**
 * kaio_submit_list() - KAIO_IOC_SUBMIT_LIST: SUBMIT, with one signal for
 *	the requests it took and, on request, error events
 * @ctx: the context
 * @ctx_fops: as kaio_submit()'s
 * @uarg: struct kaio_submit_list
 *
 * The call holds a reference on its list, and so does every request it
 * takes: the last put sends the list's signal, here if the call's is the
 * last (also when it was given no iocb, as glibc's lio_listio notifies at
 * once when nothing is queued). A call that fails (an errno: it took
 * nothing) sends nothing, so a caller that retries gets one signal.
 *
 * KAIO_LIST_SIGNAL needs no KAIO_SETUP_SIGNALS: that flag only exists so
 * that the per-iocb aio_flags bit, which io_submit(2) ignores when it does
 * not know it, stays ignored for a libaio program that sets it by accident.
 * A new ioctl has no such program to protect: asking for the list signal
 * is explicit. The requests' own signals still need KAIO_SETUP_SIGNALS.
 *
 * Return: the number of iocbs taken, or an errno if none was.
 */
long kaio_submit_list(struct kaio_ctx *ctx,
		      const struct file_operations *ctx_fops,
		      struct kaio_submit_list __user *uarg)
{
	struct kaio_submit_call call = { .ctx_fops = ctx_fops };
	struct kaio_submit_list args;
	long ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~KAIO_LIST_FLAGS || args.reserved0 ||
	    memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (!(args.flags & KAIO_LIST_INLINE_RESULTS) != !args.results)
		return -EINVAL;
	if (!(args.flags & KAIO_LIST_SIGNAL) &&
	    memchr_inv(&args.sigev, 0, sizeof(args.sigev)))
		return -EINVAL;
	if (unlikely(args.nr < 0))
		return -EINVAL;
	if (args.flags & KAIO_LIST_SIGNAL) {
		call.list = kaio_notify_list_new(ctx, &args.sigev);
		if (IS_ERR(call.list))
			return PTR_ERR(call.list);
	}
	call.post_errors = args.flags & KAIO_LIST_POST_ERRORS;
	call.inline_results = args.flags & KAIO_LIST_INLINE_RESULTS;
	call.results = u64_to_user_ptr(args.results);
	ret = kaio_submit_iocbs(ctx, &call, args.nr, args.iocbpp);
	if (call.list)
		kaio_notify_list_end(call.list, ret >= 0);
	return ret;
}
