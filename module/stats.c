// SPDX-License-Identifier: GPL-2.0
/*
 * Counters: per context in /proc/<pid>/fdinfo/<ctx fd>, module-wide (since
 * load, all contexts) in /sys/kernel/debug/kaio/stats, both as
 * "name:\tvalue" lines that tools can parse generically. The tracepoints
 * are defined here too.
 */
#include <linux/debugfs.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include "kaio.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

DEFINE_PER_CPU(struct kaio_stat_totals, kaio_stat_totals);

/*
 * signals_sent counts the sends the kernel accepted (send_sig_info()
 * returned 0): a signal the receiver ignores and a standard signal merged
 * with one already pending count as sent, though neither is delivered.
 */
static struct dentry *kaio_debugfs_dir;

static const char * const kaio_stat_names[KAIO_STAT_NR] = {
	[KAIO_STAT_SUBMITTED]	= "submitted",
	[KAIO_STAT_COMPLETED]	= "completed",
	[KAIO_STAT_INLINE]	= "inline",
	[KAIO_STAT_ASYNC]	= "async",
	[KAIO_STAT_WAIT_ARMS]	= "page_wait_arms",
	[KAIO_STAT_WAKEUPS]	= "wakeups",
	[KAIO_STAT_RETRIES]	= "retries",
	[KAIO_STAT_RETRIES_IN_TASK] = "retries_in_task",
	[KAIO_STAT_RETRIES_REQUEUED] = "retries_requeued",
	[KAIO_STAT_WORKER]	= "worker",
	[KAIO_STAT_CANCELLED]	= "cancelled",
	[KAIO_STAT_SIGNALS_SENT] = "signals_sent",
	[KAIO_STAT_SIGNALS_DROPPED] = "signals_dropped",
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
	/* Completions whose sends are not made yet: ring capacity (ring.c). */
	seq_printf(m, "signals_queued:\t%d\n",
		   atomic_read(&ctx->notify_pending));
}

static int kaio_stats_totals_show(struct seq_file *m, void *unused)
{
	unsigned long sum[KAIO_STAT_NR] = { };
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct kaio_stat_totals *t = per_cpu_ptr(&kaio_stat_totals, cpu);

		for (i = 0; i < KAIO_STAT_NR; i++)
			sum[i] += READ_ONCE(t->v[i]);
	}
	seq_printf(m, "contexts:\t%u\n", kaio_limits_contexts());
	seq_printf(m, "events_reserved:\t%d\n", kaio_limits_events());
	seq_printf(m, "pinned_pages_reserved:\t%ld\n",
		   kaio_limits_pinned_pages());
	for (i = 0; i < KAIO_STAT_NR; i++)
		seq_printf(m, "%s:\t%lu\n", kaio_stat_names[i], sum[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kaio_stats_totals);

/* debugfs is optional: failures only lose the file. */
void kaio_stats_init(void)
{
	kaio_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0444, kaio_debugfs_dir, NULL,
			    &kaio_stats_totals_fops);
}

void kaio_stats_exit(void)
{
	debugfs_remove_recursive(kaio_debugfs_dir);
}
