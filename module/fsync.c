// SPDX-License-Identifier: GPL-2.0
/*
 * FSYNC and FDSYNC always block, so they go straight to a worker; NOOP
 * (a kaio extension) completes inside SUBMIT and needs no file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include "kaio.h"
#include "ops.h"

static int kaio_fsync_prep(struct kaio_req *req, const struct iocb *iocb,
			   bool datasync)
{
	/* As fs/aio.c: the unused fields must be zero. */
	if (unlikely(iocb->aio_buf || iocb->aio_offset || iocb->aio_nbytes ||
		     iocb->aio_rw_flags))
		return -EINVAL;
	if (unlikely(!req->file->f_op->fsync))
		return -EINVAL;
	/* fsync always blocks: only where a worker's wait ends by itself. */
	if (!kaio_file_may_punt(req->file))
		return -EOPNOTSUPP;
	req->fsync_datasync = datasync;
	return 0;
}

int kaio_prep_fsync(struct kaio_req *req, const struct iocb *iocb)
{
	return kaio_fsync_prep(req, iocb, false);
}

int kaio_prep_fdsync(struct kaio_req *req, const struct iocb *iocb)
{
	return kaio_fsync_prep(req, iocb, true);
}

enum kaio_issue kaio_fsync_issue(struct kaio_req *req, long *res)
{
	return KAIO_ISSUE_PUNT;
}

enum kaio_issue kaio_fsync_work(struct kaio_req *req, long *res)
{
	*res = vfs_fsync(req->file, req->fsync_datasync);
	return KAIO_ISSUE_DONE;
}

int kaio_prep_noop(struct kaio_req *req, const struct iocb *iocb)
{
	return 0;
}

enum kaio_issue kaio_noop_issue(struct kaio_req *req, long *res)
{
	*res = 0;
	return KAIO_ISSUE_DONE;
}
