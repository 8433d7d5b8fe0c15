// SPDX-License-Identifier: GPL-2.0
/*
 * GETEVENTS' wait: reap events, and run the retries that wake-ups handed to
 * the tasks waiting here (req.c, kaio_req_queue_retry()), as io_uring's
 * DEFER_TASKRUN runs task work in io_uring_enter(): the page is copied by
 * the task that wants it, with no worker wake-up and no second context
 * switch. A wake-up that finds nobody waiting queues its retry on a worker
 * as before, so no retry ever waits for the program to call in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include "kaio.h"

/* Nothing to do but sleep: no event, no retry, no reason to leave. */
static bool kaio_getevents_may_sleep(struct kaio_ctx *ctx,
				     struct hrtimer_sleeper *timer, bool timed)
{
	return !kaio_ring_has_events(ctx) && llist_empty(&ctx->retries) &&
	       !READ_ONCE(ctx->dead) && !signal_pending(current) &&
	       !(timed && !timer->task);
}

/**
 * kaio_getevents_wait() - io_getevents' wait
 * @ctx: the context, used by its owner's mm (kaio_ctx_ioctl() checked)
 * @min_nr: events to wait for
 * @nr: events to copy at most
 * @uevents: where to
 * @timeout: relative; KTIME_MAX for none, 0 or less for no wait
 *
 * Runs the retries handed to it, reads what is there, and sleeps
 * interruptibly until @min_nr have been read, the deadline passes, or the
 * context dies. Retries run even with no wait asked for (a zero timeout),
 * as io_uring runs its task work on every enter. A retry may take a
 * sleeping lock the read path takes (an inode lock held by a writer), as
 * io_uring's task-work retries may; it never waits for I/O.
 *
 * Return: the events copied, else -EFAULT, -EINVAL (dead context) or 0.
 */
long kaio_getevents_wait(struct kaio_ctx *ctx, long min_nr, long nr,
			 struct io_event __user *uevents, ktime_t timeout)
{
	struct hrtimer_sleeper timer = { };
	bool timed = timeout != KTIME_MAX;
	long got = 0, ret;
	DEFINE_WAIT(wait);
	DEFINE_WAIT(retry_wait);

	if (timed && timeout > 0) {
		hrtimer_init_sleeper_on_stack(&timer, CLOCK_MONOTONIC,
					      HRTIMER_MODE_REL);
		hrtimer_set_expires_range_ns(&timer.timer, timeout,
					     current->timer_slack_ns);
		hrtimer_sleeper_start_expires(&timer, HRTIMER_MODE_REL);
	}

	kaio_req_waiter_enter(ctx);
	for (;;) {
		kaio_req_run_retries(ctx);
		ret = kaio_ring_copy_events(ctx, nr - got, uevents + got);
		if (ret < 0)
			break;
		got += ret;
		if (got >= min_nr || (timed && timeout <= 0))
			break;
		if (READ_ONCE(ctx->dead)) {
			ret = -EINVAL;
			break;
		}
		/*
		 * On both queues before looking: prepare_to_wait()'s barrier
		 * pairs with kaio_ring_post()'s wq_has_sleeper() and with the
		 * wake-up after kaio_req_queue_retry()'s llist_add().
		 */
		prepare_to_wait(&ctx->retry_wait, &retry_wait,
				TASK_INTERRUPTIBLE);
		prepare_to_wait(&ctx->wait, &wait, TASK_INTERRUPTIBLE);
		if (kaio_getevents_may_sleep(ctx, &timer, timed))
			schedule();
		finish_wait(&ctx->wait, &wait);
		finish_wait(&ctx->retry_wait, &retry_wait);
		if (signal_pending(current) || (timed && !timer.task)) {
			/* One last look, as wait_event_*_hrtimeout() does. */
			kaio_req_run_retries(ctx);
			ret = kaio_ring_copy_events(ctx, nr - got,
						    uevents + got);
			if (ret > 0)
				got += ret;
			break;
		}
	}
	/* Whatever wakes up from here goes to a worker. */
	kaio_req_waiter_leave(ctx);

	if (timed && timeout > 0) {
		hrtimer_cancel(&timer.timer);
		destroy_hrtimer_on_stack(&timer.timer);
	}
	return got ? got : ret;
}
