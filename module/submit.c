// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_SUBMIT: copy and validate iocbs, take the references a request
 * needs, and start it. Checks run in fs/aio.c's order so that every errno
 * matches io_submit(2).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include "kaio.h"
#include "ops.h"
#include "trace.h"

/* fs/aio.c's KIOCB_KEY: what io_submit writes to aio_key, io_cancel checks. */
#define KAIO_IOCB_KEY		0
/* Plug the block layer when a batch is larger than this, as fs/aio.c does. */
#define KAIO_PLUG_THRESHOLD	2

static int kaio_submit_one(struct kaio_ctx *ctx,
			   const struct file_operations *ctx_fops,
			   struct iocb __user *uiocb,
			   struct kaio_req_cache *cache)
{
	const struct kaio_op_def *op;
	struct kaio_req *req;
	struct iocb iocb;
	unsigned int opcode;
	int ret;

	if (unlikely(copy_from_user(&iocb, uiocb, sizeof(iocb))))
		return -EFAULT;
	/* enforce forwards compatibility on users */
	if (unlikely(iocb.aio_reserved2))
		return -EINVAL;
	if (unlikely((ssize_t)iocb.aio_nbytes < 0))
		return -EINVAL;

	/*
	 * Counted in ctx->reqs before kaio_ring_activate() looks at ctx->dead:
	 * a DESTROY that marked the context dead after our reservation must
	 * then wait for this request too.
	 */
	req = kaio_req_alloc(ctx, cache);
	if (unlikely(!req))
		return -EAGAIN;
	ret = kaio_ring_may_reserve(ctx);
	if (unlikely(ret))
		goto fail;

	op = kaio_op_get(iocb.aio_lio_opcode);
	/* fs/aio.c looks the file up before the opcode: EBADF wins. */
	if (!op || op->needs_file) {
		req->file = fget(iocb.aio_fildes);
		if (unlikely(!req->file)) {
			ret = -EBADF;
			goto fail;
		}
		/*
		 * A request holds its file: one on a context would keep that
		 * context alive, and a cycle of them forever.
		 */
		if (unlikely(req->file->f_op == ctx_fops)) {
			ret = -EINVAL;
			goto fail;
		}
	}
	if (iocb.aio_flags & IOCB_FLAG_RESFD) {
		struct eventfd_ctx *eventfd = eventfd_ctx_fdget(iocb.aio_resfd);

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
	/* Below KAIO_NR_OPCODES, as op is not NULL; the fence is for Spectre. */
	opcode = array_index_nospec(iocb.aio_lio_opcode, KAIO_NR_OPCODES);
	req->user_iocb = (u64)(unsigned long)uiocb;
	req->user_data = iocb.aio_data;
	ret = op->prep(req, &iocb);
	if (unlikely(ret))
		goto fail;
	kaio_req_get_submitter(req);
	ret = kaio_ring_activate(req);
	if (unlikely(ret))
		goto fail;
	kaio_stat_inc(ctx, KAIO_STAT_SUBMITTED);
	atomic_long_inc(&ctx->op_submitted[opcode]);
	trace_kaio_submit(req, iocb.aio_lio_opcode, iocb.aio_fildes,
			  iocb.aio_offset, iocb.aio_nbytes);
	ret = kaio_req_issue(req);
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
	struct iocb __user * __user *uiocbpp;
	struct kaio_req_cache cache;
	struct kaio_submit args;
	struct blk_plug plug;
	long i, nr;
	int ret = 0;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (unlikely(args.nr < 0))
		return -EINVAL;
	nr = min_t(s64, args.nr, ctx->nr - 1);
	uiocbpp = u64_to_user_ptr(args.iocbpp);

	kaio_req_cache_take(ctx, &cache);
	if (nr > KAIO_PLUG_THRESHOLD)
		blk_start_plug(&plug);
	for (i = 0; i < nr; i++) {
		struct iocb __user *uiocb;

		if (unlikely(get_user(uiocb, uiocbpp + i))) {
			ret = -EFAULT;
			break;
		}
		ret = kaio_submit_one(ctx, ctx_fops, uiocb, &cache);
		if (ret)
			break;
		cond_resched();
	}
	if (nr > KAIO_PLUG_THRESHOLD)
		blk_finish_plug(&plug);
	kaio_req_cache_put(ctx, &cache);
	return i ? i : ret;
}
