// SPDX-License-Identifier: GPL-2.0
/*
 * A context dies with the mm that created it, as native AIO's do (exit_aio()
 * from mmput()), whoever still holds its fd. Without this a context's fd in
 * flight in a unix socket (SCM_RIGHTS, never received) plus a POLL on that
 * socket form a cycle no one breaks: the POLL holds the socket, the socket's
 * queue holds the context, and unix garbage collection only sees sockets.
 *
 * One mmu_notifier per mm (mmu_notifier_get()) lists the mm's contexts; its
 * ->release, called by exit_mmap() once the last user of the mm is gone,
 * has each one shut down (on kaio_cleanup_wq): no more submissions, every
 * cancellable request cancelled. Requests that cannot be cancelled end by themselves (workers
 * hold pinned pages, never the mm), and the context is freed when its last
 * fd goes.
 *
 * The notifier stays registered for the mm's life (kaio_mms, below). At
 * module exit the kept ones are put, and mmu_notifier_synchronize() waits
 * for the SRCU callbacks that free them (kaio_mm_free()), as in-tree
 * users rely on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include "kaio.h"

struct kaio_mm {
	struct mmu_notifier	mn;
	struct mutex		lock;	/* protects ctxs */
	struct list_head	ctxs;	/* kaio_ctx.mm_node */
	/* Under kaio_mms_lock: */
	bool			fresh;	/* registered, not yet kept */
	bool			kept;	/* holds the mm-lifetime reference */
	struct list_head	node;	/* on kaio_mms while kept */
};

/*
 * Registering takes every lock of the mm at once (mm_take_all_locks(),
 * under the global mm_all_locks_mutex), so it is done once in an mm's
 * life, not once per SETUP: a notifier keeps one reference of its own from
 * its registration to the mm's exit (or module unload), whether or not any
 * context is left. A SETUP/close loop then costs nothing of the kind.
 */
static DEFINE_MUTEX(kaio_mms_lock);
static LIST_HEAD(kaio_mms);

/* Give up the mm-lifetime reference, if it is still held. */
static void kaio_mm_unkeep(struct kaio_mm *kmm)
{
	bool put;

	mutex_lock(&kaio_mms_lock);
	put = kmm->kept;
	if (put) {
		kmm->kept = false;
		list_del(&kmm->node);
	}
	mutex_unlock(&kaio_mms_lock);
	/* The last put frees kmm after an SRCU grace period. */
	if (put)
		mmu_notifier_put(&kmm->mn);
}

static struct mmu_notifier *kaio_mm_alloc(struct mm_struct *mm)
{
	struct kaio_mm *kmm = kzalloc(sizeof(*kmm), GFP_KERNEL_ACCOUNT);

	if (!kmm)
		return ERR_PTR(-ENOMEM);
	mutex_init(&kmm->lock);
	INIT_LIST_HEAD(&kmm->ctxs);
	INIT_LIST_HEAD(&kmm->node);
	kmm->fresh = true;
	return &kmm->mn;
}

static void kaio_mm_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct kaio_mm, mn));
}

/*
 * exit_mmap(), or never: inside the SRCU read side that every mmu_notifier
 * of the system shares, so the shutdown itself (a scan of the context,
 * cancels, frees) is queued, not done here. A context on the list
 * cannot be freed meanwhile: kaio_mm_untrack() takes the same mutex, and
 * kaio_ctx_free() waits for a queued shutdown.
 */
static void kaio_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kaio_mm *kmm = container_of(mn, struct kaio_mm, mn);
	struct kaio_ctx *ctx;

	mutex_lock(&kmm->lock);
	list_for_each_entry(ctx, &kmm->ctxs, mm_node)
		queue_work(kaio_cleanup_wq, &ctx->shutdown_work);
	mutex_unlock(&kmm->lock);
	/*
	 * Safe inside ->release: the notifier is unhashed and freed after
	 * an SRCU grace period, while mn_hlist_release() is still in its
	 * read side.
	 */
	kaio_mm_unkeep(kmm);
}

static const struct mmu_notifier_ops kaio_mm_ops = {
	.release		= kaio_mm_release,
	.alloc_notifier		= kaio_mm_alloc,
	.free_notifier		= kaio_mm_free,
};

/*
 * The kaio_mm of current->mm, registered if it is not yet, with a reference
 * for the caller (and, the first time, one kept for the mm's life). Only
 * SIGKILL and the other interruptions listed below stop it, as the
 * killable mmap_lock of io_setup()'s ring mmap does.
 *
 * The first registration in an mm takes every lock of it
 * (mm_take_all_locks()), which gives up with -EINTR whenever
 * signal_pending(). Restarted after each signal, SETUP never ended in an mm
 * with more mappings than can be locked between two signals of a fast
 * timer. So every signal but SIGKILL and SIGSTOP is blocked meanwhile (the
 * kernel's sigprocmask() would block those two as well) and delivered when
 * SETUP returns; blocking recomputes TIF_SIGPENDING. A process-wide signal
 * goes to another thread that takes it, if there is one. What still ends
 * the walk, and restarts SETUP: SIGKILL (a fatal signal another thread
 * takes), SIGSTOP and other job control, freezing, ptrace, and task_work
 * notification (TIF_NOTIFY_SIGNAL, which io_uring raises), none of which a
 * mask holds off. Two siglock round trips per SETUP, where the notifier is
 * usually found.
 *
 * Return: the kaio_mm, or ERR_PTR(-EINTR) or ERR_PTR(-ENOMEM).
 */
static struct kaio_mm *kaio_mm_get(void)
{
	struct mm_struct *mm = current->mm;
	struct mmu_notifier *mn;
	struct kaio_mm *kmm;
	sigset_t mask, saved;

	if (mmap_write_lock_killable(mm))
		return ERR_PTR(-EINTR);
	siginitsetinv(&mask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_BLOCK, &mask, &saved);
	mn = mmu_notifier_get_locked(&kaio_mm_ops, mm);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (IS_ERR(mn)) {
		mmap_write_unlock(mm);
		return ERR_CAST(mn);
	}
	kmm = container_of(mn, struct kaio_mm, mn);
	/* Just registered: a second reference, found (no walk), kept. */
	mutex_lock(&kaio_mms_lock);
	if (kmm->fresh) {
		kmm->fresh = false;
		if (!IS_ERR(mmu_notifier_get_locked(&kaio_mm_ops, mm))) {
			kmm->kept = true;
			list_add(&kmm->node, &kaio_mms);
		}
	}
	mutex_unlock(&kaio_mms_lock);
	mmap_write_unlock(mm);
	return kmm;
}

/**
 * kaio_mm_track() - shut @ctx down when the current mm goes away
 * @ctx: a new context, created by current
 *
 * Return: 0, -ENOMEM, or -EINTR (SETUP is restarted) for what
 * kaio_mm_get() lets stop it: SIGKILL, job control, freezing, ptrace,
 * task_work notification.
 */
int kaio_mm_track(struct kaio_ctx *ctx)
{
	struct kaio_mm *kmm;

	kmm = kaio_mm_get();
	if (IS_ERR(kmm))
		return PTR_ERR(kmm);
	mutex_lock(&kmm->lock);
	list_add(&ctx->mm_node, &kmm->ctxs);
	mutex_unlock(&kmm->lock);
	ctx->mm_track = kmm;
	return 0;
}

/**
 * kaio_mm_untrack() - undo kaio_mm_track(); may sleep
 * @ctx: the context, before it is freed
 */
void kaio_mm_untrack(struct kaio_ctx *ctx)
{
	struct kaio_mm *kmm = ctx->mm_track;

	if (!kmm)
		return;
	mutex_lock(&kmm->lock);
	list_del(&ctx->mm_node);
	mutex_unlock(&kmm->lock);
	ctx->mm_track = NULL;
	/* The last put frees kmm after an SRCU grace period. */
	mmu_notifier_put(&kmm->mn);
}

/**
 * kaio_mm_exit() - at module unload, give up the notifiers kept for live
 * mms and wait for kaio_mm_free() calls in flight
 */
void kaio_mm_exit(void)
{
	struct kaio_mm *kmm;

	mutex_lock(&kaio_mms_lock);
	while (!list_empty(&kaio_mms)) {
		kmm = list_first_entry(&kaio_mms, struct kaio_mm, node);
		kmm->kept = false;
		list_del(&kmm->node);
		mmu_notifier_put(&kmm->mn);
	}
	mutex_unlock(&kaio_mms_lock);
	mmu_notifier_synchronize();
}
