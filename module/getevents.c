// SPDX-License-Identifier: GPL-2.0
/*
 * GETEVENTS' wait: reap events, and run the retries that wake-ups handed to
 * the tasks sleeping here (req.c, kaio_req_queue_retry()), as io_uring's
 * DEFER_TASKRUN runs task work in io_uring_enter(): the page is copied by
 * the task that wants it, with no worker wake-up and no second context
 * switch. A wake-up that finds nobody asleep here queues its retry on a
 * worker as before, so no retry ever waits for the program to call in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include "kaio.h"

/* Would what the ring holds now give the caller the @needed it still wants? */
static bool kaio_getevents_enough(struct kaio_ctx *ctx, long needed)
{
	return (long)kaio_ring_nr_events(ctx) >= needed;
}

/* Nothing to do but sleep: no event, no retry, no reason to leave. */
static bool kaio_getevents_may_sleep(struct kaio_ctx *ctx,
				     struct hrtimer_sleeper *timer, bool timed)
{
	return !kaio_ring_has_events(ctx) && llist_empty(&ctx->retries) &&
	       !READ_ONCE(ctx->dead) && !signal_pending(current) &&
	       !(timed && !timer->task);
}

/*
 * Retries handed over while the task slept, and those that come while it
 * runs them, batch by batch (each llist_del_all()), until the events it
 * still wants are in the ring: then it goes to copy them, so that a
 * stream of wake-ups (a POLL whose file wakes but is never ready) cannot
 * keep it from returning. Each retry looks at signals and the deadline
 * (kaio_req_run_retries()).
 */
static void kaio_getevents_run_retries(struct kaio_ctx *ctx, long needed,
				       ktime_t deadline)
{
	while (!signal_pending(current) &&
	       !kaio_getevents_enough(ctx, needed) &&
	       kaio_req_run_retries(ctx, deadline))
		;
}

/*
 * Reap into @uevents: as a retry waiter only if that cannot sleep, since a
 * fault may wait for as long as a userfaultfd handler likes (or the ring
 * lock for a reaper in such a fault), and retries handed to a task that
 * waits there would wait as long. Otherwise it stops being one first:
 * what wakes up from then on goes to a worker.
 */
static long kaio_getevents_copy(struct kaio_ctx *ctx, long nr,
				struct io_event __user *uevents, bool *waiter)
{
	long ret;

	if (*waiter) {
		ret = kaio_ring_copy_events(ctx, nr, uevents, true);
		if (ret != -EAGAIN)
			return ret;
		kaio_req_waiter_leave(ctx);
		*waiter = false;
	}
	return kaio_ring_copy_events(ctx, nr, uevents, false);
}

/**
 * kaio_getevents_wait() - io_getevents' wait
 * @ctx: the context, used by its owner's mm (kaio_ctx_ioctl() checked)
 * @min_nr: events to wait for
 * @nr: events to copy at most
 * @uevents: where to
 * @timeout: relative; KTIME_MAX for none, 0 or less for no wait
 *
 * Reads what is there, and sleeps interruptibly until @min_nr have been
 * read, the deadline passes, or the context dies, as fs/aio.c's
 * read_events(); while it waits it runs the retries handed to it, with
 * NOWAIT | NOIO attempts that hand anything needing a wait to the retry
 * workqueue (rw.c), none past the deadline or with a signal pending. It is
 * a retry waiter from its first sleep to its return, reads included
 * unless one would have to wait (kaio_getevents_copy()): so the wake-ups
 * of a batch usually find it at each of them, however they are spread;
 * not those that come after a read that had to wait (@uevents not mapped
 * writable yet: a new page, swapped out, copy-on-write after fork; or
 * another reaper holding the ring lock).
 *
 * Return: the events copied, else -EFAULT, -EINVAL (dead context) or 0.
 */
long kaio_getevents_wait(struct kaio_ctx *ctx, long min_nr, long nr,
			 struct io_event __user *uevents, ktime_t timeout)
{
	struct hrtimer_sleeper timer = { };
	bool timed = timeout != KTIME_MAX;
	ktime_t deadline = KTIME_MAX;
	bool waiter = false, slept;
	long got = 0, ret;
	DEFINE_WAIT(wait);
	DEFINE_WAIT(retry_wait);

	if (timed && timeout > 0) {
		deadline = ktime_add_safe(ktime_get(), timeout);
		hrtimer_init_sleeper_on_stack(&timer, CLOCK_MONOTONIC,
					      HRTIMER_MODE_REL);
		hrtimer_set_expires_range_ns(&timer.timer, timeout,
					     current->timer_slack_ns);
		hrtimer_sleeper_start_expires(&timer, HRTIMER_MODE_REL);
	}

	for (;;) {
		ret = kaio_getevents_copy(ctx, nr - got, uevents + got,
					  &waiter);
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
		 * Counted, then on both queues before looking:
		 * prepare_to_wait()'s barrier pairs with kaio_ring_post()'s
		 * wq_has_sleeper() and with the wake-up after
		 * kaio_req_queue_retry()'s llist_add().
		 */
		if (!waiter)
			kaio_req_waiter_enter(ctx);
		waiter = true;
		/*
		 * Exclusive: one waiter woken per hand-over is enough, since
		 * it runs or hands on every retry listed.
		 */
		prepare_to_wait_exclusive(&ctx->retry_wait, &retry_wait,
					  TASK_INTERRUPTIBLE);
		prepare_to_wait(&ctx->wait, &wait, TASK_INTERRUPTIBLE);
		slept = kaio_getevents_may_sleep(ctx, &timer, timed);
		if (slept)
			schedule();
		finish_wait(&ctx->wait, &wait);
		finish_wait(&ctx->retry_wait, &retry_wait);
		/*
		 * A head that user space moves may show events the copy then
		 * does not find: a loop that never sleeps still yields.
		 */
		if (!slept)
			cond_resched();
		kaio_getevents_run_retries(ctx, min_nr - got, deadline);
		if (signal_pending(current) || (timed && !timer.task)) {
			/* What wakes up from here goes to a worker. */
			kaio_req_waiter_leave(ctx);
			waiter = false;
			/* One last look, as wait_event_*_hrtimeout() does. */
			ret = kaio_ring_copy_events(ctx, nr - got,
						    uevents + got, false);
			if (ret > 0)
				got += ret;
			break;
		}
	}
	if (waiter)
		kaio_req_waiter_leave(ctx);

	if (timed && timeout > 0) {
		hrtimer_cancel(&timer.timer);
		destroy_hrtimer_on_stack(&timer.timer);
	}
	return got ? got : ret;
}
