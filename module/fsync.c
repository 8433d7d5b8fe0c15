// SPDX-License-Identifier: GPL-2.0
/*
 * FSYNC and FDSYNC always block, so they go straight to a worker.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include "kaio.h"
#include "fsync.h"

struct kaio_fsync {
	bool	datasync;	/* FDSYNC */
};

int kaio_fsync_prep(struct kaio_req *req, const struct iocb *iocb)
{
	struct kaio_fsync *fsync = kaio_req_cmd(req, struct kaio_fsync);

	fsync->datasync = false;	/* requests are not zeroed */
	/* As fs/aio.c: the unused fields must be zero. */
	if (unlikely(iocb->aio_buf || iocb->aio_offset || iocb->aio_nbytes ||
		     iocb->aio_rw_flags))
		return -EINVAL;
	if (unlikely(!req->file->f_op->fsync))
		return -EINVAL;
	/* fsync always blocks: only where a worker's wait ends by itself. */
	if (!kaio_file_may_punt(req->file))
		return -EOPNOTSUPP;
	fsync->datasync = iocb->aio_lio_opcode == IOCB_CMD_FDSYNC;
	return 0;
}

enum kaio_issue kaio_fsync_issue(struct kaio_req *req, long *res)
{
	return KAIO_ISSUE_PUNT;
}

enum kaio_issue kaio_fsync_work(struct kaio_req *req, long *res)
{
	struct kaio_fsync *fsync = kaio_req_cmd(req, struct kaio_fsync);

	*res = vfs_fsync(req->file, fsync->datasync);
	return KAIO_ISSUE_DONE;
}
