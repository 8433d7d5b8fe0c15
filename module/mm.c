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
 * shuts each one down: no more submissions, every cancellable request
 * cancelled. Requests that cannot be cancelled end by themselves (workers
 * hold pinned pages, never the mm), and the context is freed when its last
 * fd goes.
 *
 * mmu_notifier_synchronize() at module exit waits for the SRCU callbacks
 * that free the notifiers (kaio_mm_free()), as in-tree users rely on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "kaio.h"

struct kaio_mm {
	struct mmu_notifier	mn;
	struct mutex		lock;	/* protects ctxs */
	struct list_head	ctxs;	/* kaio_ctx.mm_node */
};

static struct mmu_notifier *kaio_mm_alloc(struct mm_struct *mm)
{
	struct kaio_mm *kmm = kzalloc(sizeof(*kmm), GFP_KERNEL_ACCOUNT);

	if (!kmm)
		return ERR_PTR(-ENOMEM);
	mutex_init(&kmm->lock);
	INIT_LIST_HEAD(&kmm->ctxs);
	return &kmm->mn;
}

static void kaio_mm_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct kaio_mm, mn));
}

/*
 * exit_mmap(), or never: SRCU read side, may sleep. A context on the list
 * cannot be freed meanwhile: kaio_mm_untrack() takes the same mutex, and no
 * fput() done here releases a file synchronously (task work, or the delayed
 * fput worker).
 */
static void kaio_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kaio_mm *kmm = container_of(mn, struct kaio_mm, mn);
	struct kaio_ctx *ctx;

	mutex_lock(&kmm->lock);
	list_for_each_entry(ctx, &kmm->ctxs, mm_node)
		kaio_ctx_shutdown(ctx);
	mutex_unlock(&kmm->lock);
}

static const struct mmu_notifier_ops kaio_mm_ops = {
	.release		= kaio_mm_release,
	.alloc_notifier		= kaio_mm_alloc,
	.free_notifier		= kaio_mm_free,
};

/**
 * kaio_mm_track() - shut @ctx down when the current mm goes away
 * @ctx: a new context, created by current
 *
 * Return: 0 or -ENOMEM.
 */
int kaio_mm_track(struct kaio_ctx *ctx)
{
	struct mmu_notifier *mn;
	struct kaio_mm *kmm;

	mn = mmu_notifier_get(&kaio_mm_ops, current->mm);
	if (IS_ERR(mn))
		return PTR_ERR(mn);
	kmm = container_of(mn, struct kaio_mm, mn);
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
 * kaio_mm_exit() - at module unload, wait for kaio_mm_free() calls in flight
 */
void kaio_mm_exit(void)
{
	mmu_notifier_synchronize();
}
