// SPDX-License-Identifier: GPL-2.0
/*
 * The opcode table: every opcode's prep/issue/work/cleanup in one place, so
 * submit.c and req.c never switch on an opcode. An op is its entry here,
 * its file and its header; kaio_ops_supported() tells SETUP's callers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/nospec.h>
#include "ops.h"
#include "rw.h"
#include "poll.h"
#include "fsync.h"
#include "noop.h"

/*
 * The four rw opcodes share their functions; the flags tell them apart.
 * Writes never arm a page wait, so they have no retry (req.c warns).
 */
#define KAIO_OP_RW(op_name, write, vec)				\
	{							\
		.name		= op_name,			\
		.needs_file	= true,				\
		.is_write	= write,			\
		.vectored	= vec,				\
		.hash_reg_file	= write,			\
		.prep		= kaio_rw_prep,			\
		.issue		= kaio_rw_issue,		\
		.work		= kaio_rw_work,			\
		.retry		= (write) ? NULL : kaio_rw_retry, \
		.cancelled	= kaio_rw_cancelled,		\
		.cleanup	= kaio_rw_cleanup,		\
		.cleanup_sleeps	= kaio_rw_cleanup_sleeps,	\
	}

/* Sized by its last entry: checked against KAIO_NR_OPCODES below. */
static const struct kaio_op_def kaio_op_defs[] = {
	[IOCB_CMD_PREAD]	= KAIO_OP_RW("PREAD", false, false),
	[IOCB_CMD_PWRITE]	= KAIO_OP_RW("PWRITE", true, false),
	[IOCB_CMD_FSYNC] = {
		.name		= "FSYNC",
		.needs_file	= true,
		.prep		= kaio_fsync_prep,
		.issue		= kaio_fsync_issue,
		.work		= kaio_fsync_work,
	},
	[IOCB_CMD_FDSYNC] = {
		.name		= "FDSYNC",
		.needs_file	= true,
		.prep		= kaio_fsync_prep,
		.issue		= kaio_fsync_issue,
		.work		= kaio_fsync_work,
	},
	[IOCB_CMD_POLL] = {
		.name		= "POLL",
		.needs_file	= true,
		.prep		= kaio_poll_prep,
		.issue		= kaio_poll_issue,
		.retry		= kaio_poll_retry,
		.cancel		= kaio_poll_cancel,
	},
	[IOCB_CMD_NOOP] = {
		.name		= "NOOP",
		.needs_file	= false,
		.prep		= kaio_noop_prep,
		.issue		= kaio_noop_issue,
	},
	[IOCB_CMD_PREADV]	= KAIO_OP_RW("PREADV", false, true),
	[IOCB_CMD_PWRITEV]	= KAIO_OP_RW("PWRITEV", true, true),
};

static_assert(ARRAY_SIZE(kaio_op_defs) == KAIO_NR_OPCODES);
/* kaio_setup.opcodes has a bit for each. */
static_assert(BITS_PER_TYPE(u64) >= KAIO_NR_OPCODES);

/**
 * kaio_op_get() - the table entry of an opcode
 * @opcode: iocb.aio_lio_opcode
 *
 * Return: the entry, or NULL for an opcode kaio does not support.
 */
const struct kaio_op_def *kaio_op_get(u16 opcode)
{
	if (opcode >= ARRAY_SIZE(kaio_op_defs))
		return NULL;
	/* The user's index: no speculative load past the table (Spectre v1). */
	opcode = array_index_nospec(opcode, ARRAY_SIZE(kaio_op_defs));
	if (!kaio_op_defs[opcode].prep)
		return NULL;
	return &kaio_op_defs[opcode];
}

/**
 * kaio_op_name() - the name of a supported opcode
 * @opcode: an opcode below KAIO_NR_OPCODES
 *
 * Return: its name, or NULL if kaio does not support it.
 */
const char *kaio_op_name(unsigned int opcode)
{
	return opcode < ARRAY_SIZE(kaio_op_defs) ? kaio_op_defs[opcode].name :
						   NULL;
}

/**
 * kaio_ops_supported() - kaio_setup.opcodes: bit N for opcode N
 *
 * Return: the mask of the opcodes with an entry.
 */
u64 kaio_ops_supported(void)
{
	u64 mask = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kaio_op_defs); i++)
		if (kaio_op_defs[i].prep)
			mask |= BIT_ULL(i);
	return mask;
}

int kaio_ops_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kaio_op_defs); i++) {
		const struct kaio_op_def *def = &kaio_op_defs[i];

		if (!def->prep) {
			/* An unsupported slot is empty. */
			if (WARN_ON_ONCE(def->name || def->issue))
				return -EINVAL;
			continue;
		}
		if (WARN_ON_ONCE(!def->issue || !def->name))
			return -EINVAL;
	}
	return 0;
}
