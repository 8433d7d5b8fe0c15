/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KAIO_OPS_H
#define _KAIO_OPS_H

#include "kaio.h"

/* What an attempt (issue or work) did with the request. */
enum kaio_issue {
	KAIO_ISSUE_DONE,	/* finished: *res is the event's result */
	KAIO_ISSUE_QUEUED,	/* a callback owns the request: do not touch */
	KAIO_ISSUE_PUNT,	/* needs a blocking attempt on a worker */
	KAIO_ISSUE_REQUEUE,	/* a retry run in a GETEVENTS waiter that
				 * could only go on by blocking it: back to
				 * the retry's workqueue, as if just woken
				 */
	KAIO_ISSUE_FAILED,	/* first attempt only: no event, the
				 * submission fails with *res, as io_submit
				 * fails for what native AIO refuses at once
				 */
};

/**
 * struct kaio_op_def - per-opcode code, like io_uring/opdef.c
 * @name: the opcode's name, as in IOCB_CMD_*, for tracepoints and fdinfo.
 * @needs_file: aio_fildes must be an open file.
 * @is_write: the op writes to its file (rw.c: PWRITE, PWRITEV).
 * @vectored: aio_buf is an iovec array of aio_nbytes entries (rw.c).
 * @hash_reg_file: blocking attempts on a regular file go to the file's
 *	ordered write queue (as io_uring's hash_reg_file), not the pool.
 * @prep: validate the iocb and set the request up, in the submitter's
 *	context; an errno fails the submission as io_submit would.
 * @issue: first attempt, in the submitter's context; must not block.
 * @work: blocking attempt on a worker, with the submitter's credentials.
 * @retry: continue after a page-wait callback fired, on the retry
 *	workqueue with the submitter's credentials; must not block on I/O.
 *	In a task waiting in GETEVENTS (kaio_req_in_task()) it must not
 *	block at all: KAIO_ISSUE_REQUEUE hands it to the workqueue.
 * @cancel: for requests that wait on something only the op can undo: ask
 *	it to complete early; called under ctx->lock with irqs off. Returns
 *	whether the request will complete soon.
 * @cancelled: the event's result for a request cancelled between two
 *	attempts, which may have moved bytes already; NULL: -ECANCELED.
 * @cleanup: release what @prep and the attempts took; runs in any context
 *	unless @cleanup_sleeps said it needs a task, and then on the owner's
 *	free_wq only.
 * @cleanup_sleeps: whether @cleanup must sleep for this request, asked once
 *	at the last put; @cleanup acts on that answer. NULL: never.
 */
struct kaio_op_def {
	const char	*name;
	bool		needs_file;
	bool		is_write;
	bool		vectored;
	bool		hash_reg_file;
	int		(*prep)(struct kaio_req *req, const struct iocb *iocb);
	enum kaio_issue	(*issue)(struct kaio_req *req, long *res);
	enum kaio_issue	(*work)(struct kaio_req *req, long *res);
	enum kaio_issue	(*retry)(struct kaio_req *req, long *res);
	bool		(*cancel)(struct kaio_req *req);
	long		(*cancelled)(struct kaio_req *req);
	void		(*cleanup)(struct kaio_req *req);
	bool		(*cleanup_sleeps)(struct kaio_req *req);
};

const struct kaio_op_def *kaio_op_get(u16 opcode);
const char *kaio_op_name(unsigned int opcode);
u64 kaio_ops_supported(void);
int kaio_ops_init(void);

#endif /* _KAIO_OPS_H */
