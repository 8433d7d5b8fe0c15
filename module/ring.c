// SPDX-License-Identifier: GPL-2.0
/*
 * The event ring of a context: fs/aio.c's layout (struct kaio_ring, then
 * io_events), in pages charged to the creator, mapped into the kernel and
 * into the owner's address space. A request reserves its slot when it is
 * submitted (kaio_ring_activate()), so posting never overflows; its event
 * is posted from any context, hardirq included; GETEVENTS and user space
 * read it. Nothing here knows of a request beyond its slot, its event and
 * who the post tells (waiters, its eventfd, notify.c for its signals).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include "kaio.h"
#include "notify.h"

/* Events posted and not reaped. */
static unsigned int kaio_ring_unreaped(struct kaio_ctx *ctx)
{
	unsigned int head = READ_ONCE(ctx->ring->head) % ctx->nr;

	return (ctx->tail + ctx->nr - head) % ctx->nr;
}

/**
 * kaio_ring_has_events() - is there an event to reap?
 * @ctx: the context
 *
 * A caller about to sleep on it must be on ctx->wait first, with a full
 * barrier after (prepare_to_wait(), or poll_wait() and smp_mb()): that
 * pairs with kaio_ring_post()'s wq_has_sleeper().
 *
 * Return: true if the kernel's tail is ahead of the user's head.
 */
bool kaio_ring_has_events(struct kaio_ctx *ctx)
{
	return kaio_ring_nr_events(ctx) != 0;
}

/**
 * kaio_ring_nr_events() - how many events are there to reap?
 * @ctx: the context
 *
 * As kaio_ring_has_events(), whose ordering rules apply. User space may
 * move the head meanwhile, so it is what the ring held at one moment.
 *
 * Return: events between the user's head and the kernel's tail.
 */
unsigned int kaio_ring_nr_events(struct kaio_ctx *ctx)
{
	unsigned int head = READ_ONCE(ctx->ring->head) % ctx->nr;

	/* Pairs with kaio_ring_post()'s release of the tail. */
	return (smp_load_acquire(&ctx->tail) + ctx->nr - head) % ctx->nr;
}

/**
 * kaio_ring_may_reserve() - is a ring slot free for one more request?
 * @ctx: the context
 *
 * Lockless and only a hint, so that SUBMIT fails with fs/aio.c's errno
 * order (a full ring before the iocb's own errors); kaio_ring_activate()
 * decides.
 *
 * The capacity (@nr - 1) is shared by requests in flight, events not
 * reaped and notifies whose signals are not sent yet (notify.c): a request
 * with a signal keeps a share from submission to its send, and its event
 * one more until it is reaped, so that the sends a context queues never
 * outnumber its events, however fast user space moves the head. Each of
 * the three goes down by itself (a completion, user space, the notify
 * work), so an EAGAIN for pending sends ends without the caller.
 *
 * Return: 0, -EAGAIN when one more would exceed the capacity, or -EINVAL
 * when the context is being destroyed.
 */
int kaio_ring_may_reserve(struct kaio_ctx *ctx)
{
	unsigned int used;

	if (unlikely(READ_ONCE(ctx->dead)))
		return -EINVAL;
	used = kaio_ring_unreaped(ctx) + READ_ONCE(ctx->in_flight) +
	       atomic_read(&ctx->notify_pending);
	if (used >= ctx->nr - 1)
		return -EAGAIN;
	return 0;
}

/**
 * kaio_ring_activate() - reserve a prepared request's ring slot and make it
 *	visible to cancel and destroy
 * @req: the request
 *
 * One irq-off section for both: the slot and ctx->active.
 *
 * Return: as kaio_ring_may_reserve(); nothing is reserved on error.
 */
int kaio_ring_activate(struct kaio_req *req)
{
	struct kaio_ctx *ctx = req->ctx;
	int ret;

	spin_lock_irq(&ctx->lock);
	/*
	 * Now under the lock: final. Only a post raises notify_pending, and
	 * under this lock; everything else only lowers what is counted.
	 */
	ret = kaio_ring_may_reserve(ctx);
	if (likely(!ret)) {
		ctx->in_flight++;
		list_add_tail(&req->node, &ctx->active);
	}
	spin_unlock_irq(&ctx->lock);
	return ret;
}

/**
 * kaio_ring_deactivate() - undo kaio_ring_activate() for a request whose
 *	submission failed after all: it posts no event
 * @req: the request, never posted
 *
 * Any context: also how kaio_req_free() unlists a request freed unposted.
 */
void kaio_ring_deactivate(struct kaio_req *req)
{
	struct kaio_ctx *ctx = req->ctx;
	unsigned long flags;

	spin_lock_irqsave(&ctx->lock, flags);
	list_del_init(&req->node);
	ctx->in_flight--;
	spin_unlock_irqrestore(&ctx->lock, flags);
}

/**
 * kaio_ring_retire_inline() - give a request's result to user space outside
 *	the ring (KAIO_LIST_INLINE_RESULTS): write it, free its slot, count it
 *	completed, take it off ctx->active
 * @req: the request, listed, whose first attempt completed it; owned by
 *	the submitter, in its SUBMIT_LIST
 * @res: its result
 * @result: the caller's entry for it, written (KAIO_RESULT_IN_RING) by this
 *	same call just before: present and writable unless the caller
 *	unmapped or protected it since
 *
 * All under ctx->lock, the write without faulting: no CANCEL looks at the
 * request between the check of its mark and its leaving ctx->active, and
 * nothing sleeps with it half gone.
 *
 * Return: true if done; false if a canceller claimed it (@req->cancel_marked:
 * KAIO_IOC_CANCEL answered EINPROGRESS, which promises an event) or the
 * entry could not be written: the caller posts its event instead.
 */
bool kaio_ring_retire_inline(struct kaio_req *req, long res,
			     s64 __user *result)
{
	struct kaio_ctx *ctx = req->ctx;
	s64 val = res;
	bool done = false;

	spin_lock_irq(&ctx->lock);
	if (!req->cancel_marked &&
	    !copy_to_user_nofault(result, &val, sizeof(val))) {
		list_del_init(&req->node);
		kaio_stat_inc(ctx, KAIO_STAT_COMPLETED);
		ctx->in_flight--;
		done = true;
	}
	spin_unlock_irq(&ctx->lock);
	return done;
}

/**
 * kaio_ring_post() - put a request's event in the ring and wake its readers
 * @req: the request; its slot was reserved at submission
 * @res: io_event.res
 *
 * Any context, including hardirq (bio completion). The request's
 * notify (its signals) goes to notify.c, which sends them from the
 * context's notify work, counted in ctx->notify_pending until then.
 */
void kaio_ring_post(struct kaio_req *req, long res)
{
	struct kaio_ctx *ctx = req->ctx;
	struct io_event *ev;
	unsigned long flags;
	unsigned int tail;

	spin_lock_irqsave(&ctx->lock, flags);
	/*
	 * Exactly one event per request: a second post is an owner bug.
	 * Posting it anyway would take a slot and in_flight twice. Warned
	 * about with the lock dropped: the console may be slow.
	 */
	if (unlikely(list_empty(&req->node))) {
		spin_unlock_irqrestore(&ctx->lock, flags);
		WARN_ON_ONCE(1);
		return;
	}
	/* Before the tail moves: whoever reaps the event sees it counted. */
	kaio_stat_inc(ctx, KAIO_STAT_COMPLETED);
	list_del_init(&req->node);
	tail = ctx->tail;
	ev = &ctx->ring->io_events[tail];
	ev->obj = req->user_iocb;
	ev->data = req->user_data;
	ev->res = res;
	ev->res2 = ctx->res2_path ? req->path : 0;
	if (++tail >= ctx->nr)
		tail = 0;
	/*
	 * The event before the tail that publishes it: user space reads
	 * ring->tail, GETEVENTS and poll ctx->tail, both with acquire.
	 */
	smp_store_release(&ctx->ring->tail, tail);
	/* Same pairing, for the kernel's own copy. */
	smp_store_release(&ctx->tail, tail);
	ctx->in_flight--;
	/*
	 * The send keeps the request's share of the capacity: in_flight
	 * hands it over to notify_pending in one step under the lock.
	 */
	if (req->notify)
		atomic_inc(&ctx->notify_pending);
	spin_unlock_irqrestore(&ctx->lock, flags);

	/*
	 * Most events are posted with nobody waiting (inline completions,
	 * busy reapers): skip the waitqueue lock then. The full barrier of
	 * wq_has_sleeper() pairs with prepare_to_wait()'s in
	 * kaio_getevents_wait() and the smp_mb() of ctx.c's poll.
	 */
	if (wq_has_sleeper(&ctx->wait))
		wake_up(&ctx->wait);
	if (req->eventfd)
		eventfd_signal(req->eventfd, 1);
	/* Signals last, once the event is there to reap; never from here. */
	if (req->notify) {
		kaio_notify_queue(ctx, req->notify);
		req->notify = NULL;
	}
}

static bool kaio_ring_copy_out(void __user *to, const void *from, size_t len,
			       bool nofault)
{
	if (nofault)
		return !copy_to_user_nofault(to, from, len);
	return !copy_to_user(to, from, len);
}

/**
 * kaio_ring_copy_events() - reap events to user space
 * @ctx: the context
 * @nr: events to copy at most
 * @uevents: where to
 * @nofault: never sleep: not for the ring lock, not for a fault
 *
 * Return: the events copied; else nothing is reaped and it is -EFAULT,
 * or with @nofault -EAGAIN whatever went wrong (a copy that would
 * have had to wait, or a bad address: the caller copies again, allowed to
 * sleep, and sees which).
 */
long kaio_ring_copy_events(struct kaio_ctx *ctx, long nr,
			   struct io_event __user *uevents, bool nofault)
{
	unsigned int head, tail;
	long done = 0;

	if (!nofault)
		mutex_lock(&ctx->ring_lock);
	else if (!mutex_trylock(&ctx->ring_lock))
		return -EAGAIN;
	/* User space may write anything to head: reduce it, never trust it. */
	head = READ_ONCE(ctx->ring->head) % ctx->nr;
	/* Pairs with kaio_ring_post(): events up to tail are written. */
	tail = smp_load_acquire(&ctx->tail);
	while (done < nr && head != tail) {
		long avail = (head <= tail ? tail : ctx->nr) - head;
		size_t len;

		avail = min(avail, nr - done);
		len = avail * sizeof(struct io_event);
		if (!kaio_ring_copy_out(uevents + done,
					&ctx->ring->io_events[head], len,
					nofault)) {
			done = nofault ? -EAGAIN : -EFAULT;
			goto out;
		}
		done += avail;
		head = (head + avail) % ctx->nr;
	}
	if (done) {
		/* Copies done before the slots are handed back. */
		smp_store_release(&ctx->ring->head, head);
	}
out:
	mutex_unlock(&ctx->ring_lock);
	return done;
}

/*
 * The ring's pages are faulted in, as fs/aio.c's ring (a page-cache mapping)
 * is: a range zapped by MADV_DONTNEED comes back on the next touch instead
 * of raising SIGBUS. The vma holds the context file, so the pages outlive
 * every mapping of them.
 */
static vm_fault_t kaio_ring_fault(struct vm_fault *vmf)
{
	struct kaio_ctx *ctx = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff >= ctx->ring_size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	page = ctx->ring_pages[vmf->pgoff];
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct kaio_ring_vm_ops = {
	.fault		= kaio_ring_fault,
};

/**
 * kaio_ring_mmap() - map the ring into the context owner's address space
 * @ctx: the context
 * @vma: the mapping: from offset 0, no larger than the ring
 *
 * Return: 0 or -EINVAL.
 */
int kaio_ring_mmap(struct kaio_ctx *ctx, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > ctx->ring_size)
		return -EINVAL;
	/* As fs/aio.c's ring: it may move (mremap) but never grow. */
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &kaio_ring_vm_ops;
	return 0;
}

/*
 * The ring's pages are allocated one by one, as fs/aio.c does, so that they
 * are charged to the caller's memory cgroup (vmalloc_user() charges no one)
 * and a large ring never needs contiguous memory.
 */
static int kaio_ring_alloc_pages(struct kaio_ctx *ctx, size_t size)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;
	unsigned int i, n = size >> PAGE_SHIFT;

	ctx->ring_size = size;
	ctx->ring_pages = kvcalloc(n, sizeof(*ctx->ring_pages), gfp);
	if (!ctx->ring_pages)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ctx->ring_pages[i] = alloc_page(gfp | __GFP_ZERO);
		if (!ctx->ring_pages[i])
			return -ENOMEM;
	}
	ctx->ring = vmap(ctx->ring_pages, n, VM_MAP, PAGE_KERNEL);
	return ctx->ring ? 0 : -ENOMEM;
}

/**
 * kaio_ring_alloc() - a ring for @nr_events events, its header filled in
 * @ctx: the new context, zeroed; ring_* and nr are set
 * @nr_events: what SETUP asked for; the ring may hold more
 *
 * Return: 0 or -ENOMEM; kaio_ring_free() undoes either (from a zeroed
 * @ctx, a half-made ring is told by its NULL pointers).
 */
int kaio_ring_alloc(struct kaio_ctx *ctx, unsigned int nr_events)
{
	size_t size = PAGE_ALIGN(sizeof(struct kaio_ring) +
				 (size_t)(nr_events + 1) *
				 sizeof(struct io_event));

	if (kaio_ring_alloc_pages(ctx, size))
		return -ENOMEM;
	ctx->nr = (size - sizeof(struct kaio_ring)) / sizeof(struct io_event);
	ctx->ring->nr = ctx->nr;
	ctx->ring->magic = KAIO_RING_MAGIC;
	ctx->ring->compat_features = KAIO_RING_COMPAT_FEATURES;
	ctx->ring->incompat_features = KAIO_RING_INCOMPAT_FEATURES;
	ctx->ring->header_length = sizeof(struct kaio_ring);
	return 0;
}

/**
 * kaio_ring_free() - free the ring's pages and mapping
 * @ctx: the context; also after a kaio_ring_alloc() that failed half-way
 */
void kaio_ring_free(struct kaio_ctx *ctx)
{
	unsigned int i;

	if (ctx->ring)
		vunmap(ctx->ring);
	if (!ctx->ring_pages)
		return;
	for (i = 0; i < ctx->ring_size >> PAGE_SHIFT; i++)
		if (ctx->ring_pages[i])
			__free_page(ctx->ring_pages[i]);
	kvfree(ctx->ring_pages);
}
