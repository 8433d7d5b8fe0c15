// SPDX-License-Identifier: GPL-2.0
/*
 * The opcode table: every opcode's prep/issue/work/cleanup in one place, so
 * submit.c and req.c never switch on an opcode.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include "ops.h"

#define KAIO_OP_LAST	(IOCB_CMD_PWRITEV + 1)

static const struct kaio_op_def kaio_op_defs[KAIO_OP_LAST] = {
	[IOCB_CMD_PREAD] = {
		.name		= "PREAD",
		.needs_file	= true,
		.prep		= kaio_prep_read,
		.issue		= kaio_rw_issue,
		.work		= kaio_rw_work,
		.retry		= kaio_rw_retry,
		.cancelled	= kaio_rw_cancelled,
		.cleanup	= kaio_rw_cleanup,
		.cleanup_sleeps	= kaio_rw_cleanup_sleeps,
	},
	[IOCB_CMD_PWRITE] = {
		.name		= "PWRITE",
		.needs_file	= true,
		.hash_reg_file	= true,
		.prep		= kaio_prep_write,
		.issue		= kaio_rw_issue,
		.work		= kaio_rw_work,
		.cancelled	= kaio_rw_cancelled,
		.cleanup	= kaio_rw_cleanup,
		.cleanup_sleeps	= kaio_rw_cleanup_sleeps,
	},
	[IOCB_CMD_FSYNC] = {
		.name		= "FSYNC",
		.needs_file	= true,
		.prep		= kaio_prep_fsync,
		.issue		= kaio_fsync_issue,
		.work		= kaio_fsync_work,
	},
	[IOCB_CMD_FDSYNC] = {
		.name		= "FDSYNC",
		.needs_file	= true,
		.prep		= kaio_prep_fdsync,
		.issue		= kaio_fsync_issue,
		.work		= kaio_fsync_work,
	},
	[IOCB_CMD_POLL] = {
		.name		= "POLL",
		.needs_file	= true,
		.prep		= kaio_prep_poll,
		.issue		= kaio_poll_issue,
		.retry		= kaio_poll_retry,
		.cancel		= kaio_poll_cancel,
	},
	[IOCB_CMD_NOOP] = {
		.name		= "NOOP",
		.needs_file	= false,
		.prep		= kaio_prep_noop,
		.issue		= kaio_noop_issue,
	},
	[IOCB_CMD_PREADV] = {
		.name		= "PREADV",
		.needs_file	= true,
		.prep		= kaio_prep_readv,
		.issue		= kaio_rw_issue,
		.work		= kaio_rw_work,
		.retry		= kaio_rw_retry,
		.cancelled	= kaio_rw_cancelled,
		.cleanup	= kaio_rw_cleanup,
		.cleanup_sleeps	= kaio_rw_cleanup_sleeps,
	},
	[IOCB_CMD_PWRITEV] = {
		.name		= "PWRITEV",
		.needs_file	= true,
		.hash_reg_file	= true,
		.prep		= kaio_prep_writev,
		.issue		= kaio_rw_issue,
		.work		= kaio_rw_work,
		.cancelled	= kaio_rw_cancelled,
		.cleanup	= kaio_rw_cleanup,
		.cleanup_sleeps	= kaio_rw_cleanup_sleeps,
	},
};

/**
 * kaio_op_get() - the table entry of an opcode
 * @opcode: iocb.aio_lio_opcode
 *
 * Return: the entry, or NULL for an opcode kaio does not support.
 */
const struct kaio_op_def *kaio_op_get(u16 opcode)
{
	if (opcode >= ARRAY_SIZE(kaio_op_defs) || !kaio_op_defs[opcode].prep)
		return NULL;
	return &kaio_op_defs[opcode];
}

int kaio_ops_init(void)
{
	unsigned int i;

	BUILD_BUG_ON(IOCB_CMD_PWRITEV + 1 != KAIO_OP_LAST);
	for (i = 0; i < ARRAY_SIZE(kaio_op_defs); i++) {
		const struct kaio_op_def *def = &kaio_op_defs[i];

		if (!def->prep)
			continue;	/* unsupported slot */
		if (WARN_ON_ONCE(!def->issue || !def->name))
			return -EINVAL;
	}
	return 0;
}
