// SPDX-License-Identifier: GPL-2.0
/*
 * Per-context counters, shown in /proc/<pid>/fdinfo/<ctx fd> as
 * "name:\tvalue" lines that tools can parse generically.
 */
#include <linux/seq_file.h>
#include "kaio.h"

static const char * const kaio_stat_names[KAIO_STAT_NR] = {
	[KAIO_STAT_SUBMITTED]	= "submitted",
	[KAIO_STAT_COMPLETED]	= "completed",
	[KAIO_STAT_INLINE]	= "inline",
	[KAIO_STAT_ASYNC]	= "async",
	[KAIO_STAT_WAIT_ARMS]	= "page_wait_arms",
	[KAIO_STAT_WAKEUPS]	= "wakeups",
	[KAIO_STAT_RETRIES]	= "retries",
	[KAIO_STAT_WORKER]	= "worker",
	[KAIO_STAT_CANCELLED]	= "cancelled",
};

void kaio_stats_show_fdinfo(struct seq_file *m, struct kaio_ctx *ctx)
{
	unsigned int in_flight;
	int i;

	spin_lock_irq(&ctx->lock);
	in_flight = ctx->in_flight;
	spin_unlock_irq(&ctx->lock);

	seq_printf(m, "nr_events:\t%u\n", ctx->nr - 1);
	for (i = 0; i < KAIO_STAT_NR; i++)
		seq_printf(m, "%s:\t%ld\n", kaio_stat_names[i],
			   atomic_long_read(&ctx->stats[i]));
	seq_printf(m, "in_flight:\t%u\n", in_flight);
}
