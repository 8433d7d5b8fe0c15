// SPDX-License-Identifier: GPL-2.0
/*
 * A request's life after prep: the first attempt in the submitter's context,
 * page-wait retries, the punt to the bounded worker pool, completion and
 * release; and every change of its state (req->state), each through one of
 * the helpers below: no other file sets it. The machine (DONE is not a
 * state: posting the event leaves the state as it is):
 *
 *   SUBMIT ─ prep ─▶ ISSUING: op->issue() in the submitter, IOCB_NOWAIT
 *     ├─ done (page-cache hit, EOF, error) ─────────────────────────▶ DONE
 *     ├─ O_DIRECT queued (stays ISSUING) ── ki_complete ────────────▶ DONE
 *     │        └─ NOWAIT refused (-EAGAIN, -EOPNOTSUPP) ─▶ QUEUED
 *     ├─ page not ready: pin, kaio_req_arm_wait() ─▶ WAIT_PAGE
 *     │    kaio_req_end_wait(), by the attempt that returned unarmed
 *     │    or by the retry the callback queued ─▶ RUNNING
 *     │      ├─ short read: kaio_req_arm_wait() again ─▶ WAIT_PAGE
 *     │      ├─ read done, EOF, error ──────────────────────────────▶ DONE
 *     │      └─ still -EAGAIN (read error, truncation) ─▶ QUEUED
 *     ├─ POLL: kaio_req_set_running() ─▶ RUNNING, an entry on the
 *     │    file's waitqueue; a wake-up queues the retry: ready ─────▶ DONE
 *     │                                              not yet: waits on
 *     └─ would block otherwise: pin, kaio_req_punt() ─▶ QUEUED
 *          worker: kaio_req_claim_queued() ─▶ RUNNING
 *            ├─ one blocking attempt ──────────────────────────────▶ DONE
 *            │    (an O_DIRECT one completes through ki_complete)
 *            └─ a cold read whose atime it updated first:
 *                 kaio_req_arm_wait() ─▶ WAIT_PAGE, as above
 *
 *   cancel: QUEUED ─▶ CANCELLED (kaio_req_cancel_queued()): the canceller
 *               posts -ECANCELED at once; the worker only drops the item
 *           WAIT_PAGE ─▶ WAIT_CANCELLED (kaio_req_cancel_wait()): whoever
 *               ends the wait sees the mark and posts -ECANCELED (or the
 *               bytes earlier attempts moved)
 *           POLL: the op's cancel hook; its retry posts res 0 (fs/aio.c)
 *           otherwise EAGAIN: the request finishes normally
 *
 * Documentation/design.md has the table of who owns the request in each
 * state and why.
 *
 * Ownership: a request has one owner at a time, holding one reference: the
 * submitter during the first attempt, then the worker item, or the I/O path's
 * ki_complete callback once an attempt returned -EIOCBQUEUED, or the armed
 * page-wait callback and then the retry it queues. The owner
 * posts the event (kaio_req_complete) and drops its reference; a submitter
 * whose first attempt completed the request may instead give the result to
 * SUBMIT_LIST's results array (kaio_req_complete_inline()). A canceller
 * takes its own reference while it looks at a queued request.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/cred.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched.h>
#include <linux/wait_bit.h>
#include <uapi/linux/magic.h>
#include "kaio.h"
#include "notify.h"
#include "ops.h"
#include "trace.h"

static struct kmem_cache *kaio_req_cache;

static void kaio_req_work(struct work_struct *work);
static void kaio_req_free_work(struct work_struct *work);

/* ---- state transitions ---------------------------------------------------- */

/**
 * kaio_req_arm_wait() - the request is about to arm its page-wait callback
 * @req: the request, owned by the caller
 *
 * From here a canceller may mark it (kaio_req_cancel_wait()), and once the
 * callback is armed it owns the request.
 */
void kaio_req_arm_wait(struct kaio_req *req)
{
	atomic_set(&req->state, KAIO_REQ_WAIT_PAGE);
}

/**
 * kaio_req_end_wait() - take a request back from WAIT_PAGE
 * @req: the request: its attempt returned without arming, or the armed
 *	callback fired and queued this retry
 *
 * Return: the state found: WAIT_PAGE (now RUNNING, the caller's), or
 * WAIT_CANCELLED (a canceller marked it: the caller completes it as
 * cancelled), or, for a retry run without its callback, anything else.
 */
enum kaio_req_state kaio_req_end_wait(struct kaio_req *req)
{
	return atomic_cmpxchg(&req->state, KAIO_REQ_WAIT_PAGE,
			      KAIO_REQ_RUNNING);
}

/**
 * kaio_req_set_running() - mark a request its op's callback owns from the
 *	issue on (POLL)
 * @req: the request, in the submitter: its work item runs the op's retry
 *	from then on (kaio_req_work())
 */
void kaio_req_set_running(struct kaio_req *req)
{
	atomic_set(&req->state, KAIO_REQ_RUNNING);
}

/* kaio_req_punt(): the owner's writes before a canceller can see QUEUED. */
static void kaio_req_set_queued(struct kaio_req *req)
{
	atomic_set_release(&req->state, KAIO_REQ_QUEUED);
}

/*
 * The work item: QUEUED to RUNNING, returning the state found. Anything
 * else than QUEUED: CANCELLED (the canceller posted), or a callback queued
 * the item (WAIT_PAGE, RUNNING) and the op's retry runs.
 */
static enum kaio_req_state kaio_req_claim_queued(struct kaio_req *req)
{
	return atomic_cmpxchg(&req->state, KAIO_REQ_QUEUED, KAIO_REQ_RUNNING);
}

/**
 * kaio_req_is_queued() - is the request waiting for a worker?
 * @req: the request, looked at under ctx->lock by a canceller
 *
 * Return: true if it was QUEUED when looked at; only a hint until
 * kaio_req_cancel_queued().
 */
bool kaio_req_is_queued(struct kaio_req *req)
{
	return atomic_read(&req->state) == KAIO_REQ_QUEUED;
}

/**
 * kaio_req_cancel_queued() - cancel a request no worker has started
 * @req: the request, under ctx->lock, with the canceller's reference taken
 *
 * Return: true if it was QUEUED and is now CANCELLED: the canceller posts
 * its event, the worker item only drops its reference.
 */
bool kaio_req_cancel_queued(struct kaio_req *req)
{
	return atomic_cmpxchg(&req->state, KAIO_REQ_QUEUED,
			      KAIO_REQ_CANCELLED) == KAIO_REQ_QUEUED;
}

/**
 * kaio_req_cancel_wait() - mark a request that waits for a page
 * @req: the request, under ctx->lock
 *
 * The armed callback cannot be taken back: whoever ends the wait (the
 * attempt that returned unarmed, or the callback's retry) sees the mark in
 * kaio_req_end_wait() and completes the request as cancelled.
 *
 * Return: true if it was WAIT_PAGE and is now WAIT_CANCELLED.
 */
bool kaio_req_cancel_wait(struct kaio_req *req)
{
	return atomic_cmpxchg(&req->state, KAIO_REQ_WAIT_PAGE,
			      KAIO_REQ_WAIT_CANCELLED) == KAIO_REQ_WAIT_PAGE;
}

/* ---- life ------------------------------------------------------------------ */

/**
 * kaio_req_cache_init() - the slab cache of requests
 * @useroffset: where in struct kaio_req an op copies user memory to (rw.c's
 *	import_iovec(): hardened usercopy allows only this part)
 * @usersize: its size; inside the op's state.
 *
 * Return: 0 or -ENOMEM.
 */
int kaio_req_cache_init(unsigned int useroffset, unsigned int usersize)
{
	if (WARN_ON_ONCE(useroffset < offsetof(struct kaio_req, cmd) ||
			 useroffset + usersize > sizeof(struct kaio_req)))
		return -EINVAL;
	kaio_req_cache = kmem_cache_create_usercopy("kaio_req",
						    sizeof(struct kaio_req),
						    __alignof__(struct kaio_req),
						    SLAB_ACCOUNT, useroffset,
						    usersize, NULL);
	return kaio_req_cache ? 0 : -ENOMEM;
}

void kaio_req_cache_exit(void)
{
	kmem_cache_destroy(kaio_req_cache);
}

/*
 * Freed requests a context keeps for reuse, whatever it has in flight.
 * ctx->req_cache_max is 0 when the req_cache module parameter was off at
 * SETUP.
 */
#define KAIO_REQ_CACHE	256

/* Every request on a list (cache, stash) back to the slab. Any context. */
static void kaio_req_cache_free_list(struct kaio_ctx *ctx,
				     struct llist_node *list)
{
	struct kaio_req *req, *next;

	llist_for_each_entry_safe(req, next, list, retry_node) {
		atomic_dec(&ctx->req_cached);
		kmem_cache_free(kaio_req_cache, req);
	}
}

/**
 * kaio_req_cache_take() - the requests a SUBMIT may reuse
 * @ctx: the context
 * @cache: the SUBMIT's own list, filled here
 *
 * What the last SUBMIT left (ctx->req_stash), taken whole with one xchg:
 * concurrent SUBMITs each get their own list or none. kaio_req_alloc()
 * refills it from ctx->req_cache, where frees go, when it runs dry.
 */
void kaio_req_cache_take(struct kaio_ctx *ctx, struct kaio_req_cache *cache)
{
	cache->list = ctx->req_cache_max ? xchg(&ctx->req_stash, NULL) : NULL;
	cache->taken = 0;
}

/**
 * kaio_req_cache_put() - leave what a SUBMIT did not use for the next one
 * @ctx: the context
 * @cache: the SUBMIT's list
 *
 * The list is left as it is, unless another SUBMIT left one meanwhile:
 * that one then goes back to ctx->req_cache, a walk of at most
 * KAIO_REQ_CACHE requests (and what frees racing the count added), only
 * when two SUBMITs overlap.
 */
void kaio_req_cache_put(struct kaio_ctx *ctx, struct kaio_req_cache *cache)
{
	struct llist_node *old, *last;

	if (cache->taken)
		atomic_sub(cache->taken, &ctx->req_cached);
	if (!cache->list)
		return;
	old = xchg(&ctx->req_stash, cache->list);
	if (!old)
		return;
	for (last = old; last->next; last = last->next)
		;
	llist_add_batch(old, last, &ctx->req_cache);
}

/**
 * kaio_req_cache_drain() - free a context's cached requests
 * @ctx: the context: dead (a SUBMIT running meanwhile leaves its list on
 *	the stash, and a free racing the dead mark may still add one: both
 *	wait for the context's free, which drains again) or being freed
 */
void kaio_req_cache_drain(struct kaio_ctx *ctx)
{
	kaio_req_cache_free_list(ctx, xchg(&ctx->req_stash, NULL));
	kaio_req_cache_free_list(ctx, llist_del_all(&ctx->req_cache));
}

/*
 * A freed request back to its context's cache, or to the slab. Any context,
 * irq included: llist_add() needs no lock. Not into a dead context, whose
 * cache only waits for the close; not a request a bug may still touch
 * (req->no_reuse): freed, a late access is KASAN's to report; not when the
 * context keeps as many as it may. ctx->req_cached counts from this push to
 * the end of the SUBMIT that takes the request (kaio_req_cache_put()).
 */
static void kaio_req_recycle(struct kaio_ctx *ctx, struct kaio_req *req)
{
	unsigned int max = min_t(unsigned int, ctx->req_cache_max,
				 KAIO_REQ_CACHE);

	if (max && !req->no_reuse && !READ_ONCE(ctx->dead) &&
	    !WARN_ON_ONCE(!list_empty(&req->node) || work_pending(&req->work))) {
		if (atomic_inc_return(&ctx->req_cached) <= max) {
			llist_add(&req->retry_node, &ctx->req_cache);
			return;
		}
		atomic_dec(&ctx->req_cached);
	}
	kmem_cache_free(kaio_req_cache, req);
}

/**
 * kaio_req_mark_no_reuse() - a request a bug may still touch
 * @req: the request, whose free found it in a state it cannot be in
 *
 * Its memory goes back to the slab, never to the context's cache.
 */
void kaio_req_mark_no_reuse(struct kaio_req *req)
{
	req->no_reuse = true;
}

/**
 * kaio_req_alloc() - a new request holding a count of ctx->reqs
 * @ctx: the context
 * @cache: this SUBMIT's list of requests to reuse (kaio_req_cache_take())
 *
 * One from @cache, refilled from the context's frees when it is empty
 * (one xchg for all of them), else from the slab. Reused requests are not
 * zeroed, nor new ones beyond what the slab does: the header is
 * initialised here, and the op's prep initialises its state (req->cmd)
 * first thing.
 *
 * Return: the request, or NULL when out of memory.
 */
struct kaio_req *kaio_req_alloc(struct kaio_ctx *ctx,
				struct kaio_req_cache *cache)
{
	struct kaio_req *req;

	if (!cache->list && !llist_empty(&ctx->req_cache)) {
		/* Those taken so far leave the count: frees may refill it. */
		atomic_sub(cache->taken, &ctx->req_cached);
		cache->taken = 0;
		cache->list = llist_del_all(&ctx->req_cache);
	}
	if (cache->list) {
		req = llist_entry(cache->list, struct kaio_req, retry_node);
		cache->list = cache->list->next;
		cache->taken++;
	} else {
		req = kmem_cache_alloc(kaio_req_cache, GFP_KERNEL_ACCOUNT);
		if (unlikely(!req))
			return NULL;
	}
	memset(req, 0, offsetof(struct kaio_req, cmd));
	req->ctx = ctx;
	INIT_LIST_HEAD(&req->node);
	refcount_set(&req->refs, 1);
	atomic_set(&req->state, KAIO_REQ_ISSUING);	/* not yet shared */
	INIT_WORK(&req->work, kaio_req_work);
	INIT_WORK(&req->free_work, kaio_req_free_work);
	atomic_inc(&ctx->reqs);
	return req;
}

/**
 * kaio_req_get_submitter() - take what a worker needs to act as the submitter
 * @req: a prepared request, in the submitter's context
 *
 * Native AIO does its blocking work in io_submit, as the submitter: its
 * credentials, page cache charged to its memory cgroup, its I/O to its
 * blkcg (so a container's memory.max and io.max hold). A worker or a retry
 * puts these on for each attempt (kaio_req_work()). RLIMIT_FSIZE is applied
 * at SUBMIT instead (rw.c).
 */
void kaio_req_get_submitter(struct kaio_req *req)
{
	req->cred = get_current_cred();
	req->memcg = get_mem_cgroup_from_mm(current->mm);
#ifdef CONFIG_BLK_CGROUP
	req->blkcg = task_get_css(current, io_cgrp_id);
#endif
}

/* Any context: css_put() only queues the release. */
static void kaio_req_put_submitter(struct kaio_req *req)
{
	mem_cgroup_put(req->memcg);
	if (req->blkcg)
		css_put(req->blkcg);
}

/* Everything a request holds but its file, its memory and its ctx->reqs. */
static void kaio_req_release(struct kaio_req *req)
{
	/*
	 * Freed before its event was posted: someone put a reference twice.
	 * Unlisted first, under ctx->lock, before anything is released: a
	 * canceller looking at it meanwhile finds no reference to take
	 * (kaio_cancel_claim()) and leaves it alone.
	 */
	if (WARN_ON_ONCE(!list_empty(&req->node))) {
		kaio_req_mark_no_reuse(req);
		kaio_ring_deactivate(req);
	}
	/* Before the file goes: the op's cleanup may still use it. */
	if (req->op && req->op->cleanup)
		req->op->cleanup(req);
	if (req->eventfd)
		eventfd_ctx_put(req->eventfd);
	/* Never posted (its submission failed): it sends nothing. */
	if (req->notify)
		kaio_notify_discard(req->notify);
	if (req->cred)
		put_cred(req->cred);
	kaio_req_put_submitter(req);
}

/* The rest: the file (if still held), the memory, the count of ctx->reqs. */
static void kaio_req_finish_free(struct kaio_req *req)
{
	struct kaio_ctx *ctx = req->ctx;

	if (req->file)
		fput(req->file);
	/* Before ctx->reqs drops: the context is alive until then. */
	kaio_req_recycle(ctx, req);

	/* Last touch of ctx: destroy may free it as soon as this hits zero. */
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
}

static void kaio_req_free(struct kaio_req *req)
{
	kaio_req_release(req);
	kaio_req_finish_free(req);
}

static void kaio_req_free_work(struct work_struct *work)
{
	kaio_req_free(container_of(work, struct kaio_req, free_work));
}

static void kaio_req_finish_free_work(struct work_struct *work)
{
	kaio_req_finish_free(container_of(work, struct kaio_req, free_work));
}

/*
 * Decides, once, whether the free must sleep, and returns the answer: the
 * op's cleanup acts on what it decided (kaio_rw_cleanup_sleeps()).
 */
static bool kaio_req_decide_free_sleeps(struct kaio_req *req)
{
	const struct kaio_op_def *op = req->op;

	return op && op->cleanup_sleeps && op->cleanup_sleeps(req);
}

/*
 * On the owner's own queue: the request holds ctx->reqs, so the context,
 * its user and the queue outlive the work (kaio_limits_uncharge_ctx()
 * drains it before the user goes).
 */
static void kaio_req_free_async(struct kaio_req *req)
{
	queue_work(req->ctx->user->free_wq, &req->free_work);
}

/**
 * kaio_req_put() - drop a reference; the last one frees the request
 * @req: the request
 *
 * From kaio's own contexts (the submitter, its workers, cancel, destroy and
 * the reaping of a released context) and from irq context. Requests are
 * freed where the last reference goes, O_DIRECT in its bio's irq completion
 * too, unless the op says its cleanup must sleep (a read's page cleaned
 * since it was pinned must be dirtied again, under the page lock): that
 * free goes to the owner's free_wq from any context, since the page lock
 * may be held for as long as a user wants, and cancel, destroy and reaping
 * must not wait for it (a reap stuck on kaio_cleanup_wq would hold up every
 * user's). Callbacks the rest of the kernel runs in its own tasks use
 * kaio_req_put_callback().
 */
void kaio_req_put(struct kaio_req *req)
{
	if (!refcount_dec_and_test(&req->refs))
		return;
	if (kaio_req_decide_free_sleeps(req))
		kaio_req_free_async(req);
	else
		kaio_req_free(req);
}

/**
 * kaio_req_put_callback() - kaio_req_put() for a completion callback
 * @req: the request
 *
 * ki_complete runs in hardirq or softirq context from bio completion, but
 * also in tasks that are not kaio's: iomap's completion workqueue, or a
 * task flushing its plug under rcu_read_lock() when the block layer fails a
 * bio. There in_task() does not mean "may sleep", and the free's last touch
 * (ctx->reqs) would let destroy, the context's release and rmmod go on while
 * this task is still preemptible inside kaio's code. So a last reference
 * dropped in a task is freed on the owner's free_wq, which goes (drained)
 * before the context's module reference; in irq context it is freed as by
 * kaio_req_put() (synchronize_rcu() in module exit waits for irq-context
 * code, and for the RCU read side kaio_rw_complete() runs in).
 */
void kaio_req_put_callback(struct kaio_req *req)
{
	if (!in_task()) {
		kaio_req_put(req);
		return;
	}
	if (refcount_dec_and_test(&req->refs)) {
		kaio_req_decide_free_sleeps(req);	/* the cleanup's decision */
		kaio_req_free_async(req);
	}
}

/**
 * kaio_req_note_path() - remember the slowest path a request took
 * @req: the request, owned by the caller
 * @path: KAIO_PATH_*, ordered from fastest to slowest
 */
void kaio_req_note_path(struct kaio_req *req, u8 path)
{
	if (path > req->path)
		req->path = path;
}

/**
 * kaio_req_complete() - post the request's event
 * @req: the request, owned by the caller, who still drops its reference
 * @res: io_event.res
 */
void kaio_req_complete(struct kaio_req *req, long res)
{
	/*
	 * The state is left alone: a worker that dequeued a request a
	 * canceller completed must still see CANCELLED.
	 */
	trace_kaio_complete(req, res);
	kaio_ring_post(req, res);
}

/*
 * KAIO_ISSUE_REQUEUE: a retry that could only go on by blocking the task
 * waiting in GETEVENTS goes to its workqueue, WAIT_PAGE again as if its
 * callback had just fired (a canceller may mark it meanwhile; the retry
 * there sees the mark), where it may wait for what it needs.
 */
static void kaio_req_requeue_retry(struct kaio_req *req)
{
	/* Only a retry run in the task may ask: its queue is known. */
	if (WARN_ON_ONCE(!req->retry_wq)) {
		kaio_req_complete(req, -EIO);
		kaio_req_put(req);
		return;
	}
	kaio_stat_inc(req->ctx, KAIO_STAT_RETRIES_REQUEUED);
	trace_kaio_requeue(req);
	kaio_req_arm_wait(req);
	WARN_ON_ONCE(!queue_work(req->retry_wq, &req->work));
}

/**
 * kaio_req_continue() - act on what an attempt did
 * @req: the request, owned by the caller until this returns
 * @how: enum kaio_issue
 * @res: the result, for KAIO_ISSUE_DONE
 */
void kaio_req_continue(struct kaio_req *req, int how, long res)
{
	switch (how) {
	case KAIO_ISSUE_DONE:
		kaio_req_complete(req, res);
		kaio_req_put(req);
		break;
	case KAIO_ISSUE_QUEUED:
		break;	/* a callback owns req: hands off */
	case KAIO_ISSUE_PUNT:
		kaio_req_punt(req);
		break;
	case KAIO_ISSUE_REQUEUE:
		kaio_req_requeue_retry(req);
		break;
	case KAIO_ISSUE_FAILED:
		/* Only a first attempt may refuse: a state bug. */
		WARN_ON_ONCE(1);
		kaio_req_complete(req, -EIO);
		kaio_req_put(req);
		break;
	}
}

/*
 * The put of a run: kaio_req_put(), except where a task waiting in
 * GETEVENTS drops a request's last reference. fput() of a file's last
 * reference in a user task is task work, run only on the way back to user
 * space, and GETEVENTS may wait on for as long as the program likes: the
 * file's release (its flock and OFD locks, an unlinked file's space, a
 * socket's hang-up to its peer) must not wait for that. So the task drops
 * its file reference only if it is not the last one (a close() may race
 * the look: the decrement decides), after the op's cleanup, which may
 * still use the file; the last one goes to the owner's free_wq, with the
 * rest of the free.
 */
static void kaio_req_put_run(struct kaio_req *req, bool in_task)
{
	if (!in_task) {
		kaio_req_put(req);
		return;
	}
	if (!refcount_dec_and_test(&req->refs))
		return;
	if (kaio_req_decide_free_sleeps(req)) {
		kaio_req_free_async(req);
		return;
	}
	kaio_req_release(req);
	if (req->file && !atomic_long_add_unless(&req->file->f_count, -1, 1)) {
		/* Ours is the last: fput() it on a worker. */
		INIT_WORK(&req->free_work, kaio_req_finish_free_work);
		kaio_req_free_async(req);
		return;
	}
	req->file = NULL;	/* dropped above, if any */
	kaio_req_finish_free(req);
}

/*
 * One attempt by whoever took the request's work: a blocking attempt for a
 * QUEUED request, else the op's retry after its callback fired. An attempt
 * may arm a page wait (a retry that read on, a worker's read after the atime
 * update), whose callback queues the retry again while this run is still
 * on it, possibly elsewhere: safe, since this run touches req only through
 * its own reference after the attempt, and nothing flushes the item.
 *
 * Run by the work item (kaio_req_work()) or by a task waiting in GETEVENTS
 * (kaio_req_run_retries()), which puts on the submitter's credentials and
 * memory cgroup as a worker does; a task's own blkcg stays (it is the
 * submitter's process, and kthread_associate_blkcg() is for kthreads).
 */
static void kaio_req_run(struct kaio_req *req, bool in_task)
{
	enum kaio_issue (*attempt)(struct kaio_req *req, long *res);
	const struct cred *old_cred;
	struct mem_cgroup *old_memcg;
	enum kaio_req_state old;
	long res = 0;
	int how;

	old = kaio_req_claim_queued(req);
	if (old == KAIO_REQ_CANCELLED) {
		/* The canceller posted the event; drop the worker's hold. */
		kaio_req_put_run(req, in_task);
		return;
	}
	if (WARN_ON_ONCE((old != KAIO_REQ_QUEUED && !req->op->retry) ||
			 (old == KAIO_REQ_QUEUED && in_task))) {
		/* A state bug: end the request rather than leak it. */
		kaio_req_complete(req, -EIO);
		kaio_req_put_run(req, in_task);
		return;
	}
	if (old == KAIO_REQ_QUEUED) {
		kaio_stat_inc(req->ctx, KAIO_STAT_WORKER);
		kaio_req_note_path(req, KAIO_PATH_WORKER);
		attempt = req->op->work;
	} else {
		kaio_stat_inc(req->ctx, KAIO_STAT_RETRIES);
		if (in_task)
			kaio_stat_inc(req->ctx, KAIO_STAT_RETRIES_IN_TASK);
		kaio_req_note_path(req, KAIO_PATH_RETRY);
		trace_kaio_retry(req);
		attempt = req->op->retry;
	}

	/* See kaio_req_issue(): ours until the attempt has returned. */
	refcount_inc(&req->refs);
	old_cred = override_creds(req->cred);
	old_memcg = set_active_memcg(req->memcg);
	kthread_associate_blkcg(req->blkcg);
	/*
	 * Set by every run before its attempt, never cleared after it: by
	 * then the request may be the next owner's, who has set its own.
	 */
	req->in_task = in_task;
	how = attempt(req, &res);
	kthread_associate_blkcg(NULL);
	set_active_memcg(old_memcg);
	revert_creds(old_cred);
	kaio_req_continue(req, how, res);
	kaio_req_put_run(req, in_task);
}

/*
 * The request's one work item. Queued on the bounded worker pool it makes a
 * blocking attempt; queued by a callback that found no GETEVENTS waiter it
 * runs the retry. The state says which.
 */
static void kaio_req_work(struct work_struct *work)
{
	kaio_req_run(container_of(work, struct kaio_req, work), false);
}

/* ---- retries run by the task waiting for them ------------------------------ */

/*
 * Every retry on ctx->retries to its workqueue. llist_del_all() gives each
 * to exactly one taker, so a retry runs once whoever else looks. Any
 * context, irq included.
 */
static void kaio_req_dispatch_retries(struct kaio_ctx *ctx)
{
	struct llist_node *list = llist_del_all(&ctx->retries);
	struct kaio_req *req, *next;

	llist_for_each_entry_safe(req, next, list, retry_node)
		WARN_ON_ONCE(!queue_work(req->retry_wq, &req->work));
}

/**
 * kaio_req_queue_retry() - hand a retry on, to a GETEVENTS waiter if any
 * @req: the request, owned by the calling callback, whose reference the
 *	retry takes over
 * @wq: the workqueue for the retry if no waiter takes it
 * @in_task_ok: whether the retry may run in the waiting task (POLL only
 *	of files whose ->poll() cannot sleep)
 *
 * A task waiting in GETEVENTS on the context runs the retry itself, in the
 * submitter's process (only its mm may call GETEVENTS): no worker wake-up,
 * no context switch to it and back. With nobody waiting the retry goes to
 * @wq at once, as before, so its progress never depends on the program
 * calling in (a program that spins on the mapped ring, or sleeps in
 * epoll_wait). A waiter that leaves hands what it did not run to the
 * workqueues: the callback's look at the waiters and the waiter's look at
 * the list after it left are ordered by full barriers on both sides, so at
 * least one of them sees the other.
 *
 * Any context, irq included, under the caller's waitqueue lock (a page's,
 * or the polled file's, which may be this context's own @wait: so waiters
 * are woken through ctx->retry_wait).
 */
void kaio_req_queue_retry(struct kaio_req *req, struct workqueue_struct *wq,
			  bool in_task_ok)
{
	struct kaio_ctx *ctx = req->ctx;

	req->retry_wq = wq;
	if (!in_task_ok || !atomic_read(&ctx->retry_waiters)) {
		queue_work(wq, &req->work);
		return;
	}
	/*
	 * Once listed, the request is the waiter's, who may run and free it
	 * at once, and the context may go with its last request: this look
	 * at it holds a count of ctx->reqs (the request's, held until now,
	 * makes it safe to take).
	 */
	atomic_inc(&ctx->reqs);
	llist_add(&req->retry_node, &ctx->retries);
	/*
	 * Pairs with kaio_req_waiter_leave() (llist_add()'s cmpxchg orders
	 * as much; said here for the reader).
	 */
	smp_mb();
	if (likely(atomic_read(&ctx->retry_waiters)))
		wake_up(&ctx->retry_wait);
	else
		kaio_req_dispatch_retries(ctx);
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
}

/**
 * kaio_req_waiter_enter() - a task in GETEVENTS will run the context's retries
 * @ctx: the context, used by its owner's mm
 *
 * From its first sleep to its return (it may leave and enter again in one
 * call), but never where it may wait for something else, such as a fault
 * in its copy of the events (that may last as long as a userfaultfd
 * handler likes): a task counted here must be one that will run them
 * (getevents.c).
 */
void kaio_req_waiter_enter(struct kaio_ctx *ctx)
{
	atomic_inc(&ctx->retry_waiters);
}

/**
 * kaio_req_run_retries() - run the retries handed to this waiting task
 * @ctx: the context, between kaio_req_waiter_enter() and _leave()
 * @deadline: GETEVENTS' deadline (ktime_get()); KTIME_MAX for none
 *
 * In the order the wake-ups came. Past the deadline, or with a signal
 * pending, what is left goes to the workqueues: GETEVENTS returns in time,
 * and the read path would stop at a fatal signal (filemap_read()), cutting
 * short a request that is not the dying task's to cut.
 *
 * Return: how many ran here.
 */
unsigned int kaio_req_run_retries(struct kaio_ctx *ctx, ktime_t deadline)
{
	struct kaio_req *req, *next;
	struct llist_node *list;
	unsigned int ran = 0;

	if (llist_empty(&ctx->retries))
		return 0;
	list = llist_reverse_order(llist_del_all(&ctx->retries));
	llist_for_each_entry_safe(req, next, list, retry_node) {
		if (signal_pending(current) ||
		    (deadline != KTIME_MAX && ktime_get() >= deadline)) {
			WARN_ON_ONCE(!queue_work(req->retry_wq, &req->work));
			continue;
		}
		kaio_req_run(req, true);
		ran++;
		cond_resched();
	}
	return ran;
}

/**
 * kaio_req_waiter_leave() - the task stops running the context's retries
 * @ctx: the context
 *
 * When it returns from GETEVENTS, or before something there that may wait
 * (it may enter again later in the same call).
 * Retries handed over meanwhile, and not yet run, go to the workqueues.
 */
void kaio_req_waiter_leave(struct kaio_ctx *ctx)
{
	atomic_dec(&ctx->retry_waiters);
	/* Pairs with kaio_req_queue_retry(). */
	smp_mb__after_atomic();
	if (!llist_empty(&ctx->retries))
		kaio_req_dispatch_retries(ctx);
}

/**
 * kaio_file_may_punt() - may a blocking attempt on this file run on a worker?
 * @file: the request's file
 *
 * Destroy waits for every request, so a blocking attempt must end by itself,
 * and a worker is a kthread, so the file must not care who reads it. Block
 * devices, file systems on them, tmpfs and ramfs qualify. Pipes, sockets and
 * character devices may wait forever, FUSE and network file systems too;
 * proc, sysfs and debugfs files may look at current.
 *
 * Return: true if it may.
 */
bool kaio_file_may_punt(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return true;
	if (!S_ISREG(inode->i_mode))
		return false;
	/* fuseblk needs a device too, but its server may never answer. */
	if (inode->i_sb->s_magic == FUSE_SUPER_MAGIC)
		return false;
	return (inode->i_sb->s_type->fs_flags & FS_REQUIRES_DEV) ||
		inode->i_sb->s_magic == TMPFS_MAGIC ||
		inode->i_sb->s_magic == RAMFS_MAGIC;
}

/**
 * kaio_req_punt() - hand the request to the bounded blocking worker pool
 * @req: the request, owned by the caller; the worker item owns it after
 *
 * Everything the blocking attempt needs must be process-context free by
 * now (the op's issue pinned user buffers): workers never touch user memory.
 * Any context, including hardirq.
 */
void kaio_req_punt(struct kaio_req *req)
{
	struct kaio_user *user = req->ctx->user;
	struct workqueue_struct *wq = user->worker_wq;

	/*
	 * xfs showed why: sixteen workers writing one file hold its inode
	 * lock in turn, so the next NOWAIT writes fail their trylock and
	 * punt too. Serialised per file, one holds it at a time.
	 */
	if (req->op->hash_reg_file && S_ISREG(file_inode(req->file)->i_mode))
		wq = user->write_wq[hash_ptr(file_inode(req->file),
					     KAIO_WRITE_QUEUES_BITS)];
	/* The owner's writes before a canceller can see QUEUED. */
	kaio_req_set_queued(req);
	trace_kaio_punt(req);
	/*
	 * Pending already: a canceller's cancel_work() is grabbing the idle
	 * item and will not drop the item's reference, so we do. Never the
	 * last: every caller holds a reference of its own across the punt.
	 */
	if (!queue_work(wq, &req->work))
		refcount_dec(&req->refs);
}

/*
 * KAIO_LIST_INLINE_RESULTS: the first attempt completed @req with @res, in
 * the submitter: the result goes to the caller's entry @result instead of
 * an event (kaio_ring_retire_inline()). A request a CANCEL claimed, or an
 * entry that cannot be written without faulting (the caller unmapped it
 * since SUBMIT wrote it), gets its event instead: a result is never lost.
 * The caller owns @req and still drops its reference.
 */
static void kaio_req_complete_inline(struct kaio_req *req, long res,
				     s64 __user *result)
{
	trace_kaio_complete(req, res);
	if (!kaio_ring_retire_inline(req, res, result))
		kaio_ring_post(req, res);
}

/**
 * kaio_req_issue() - first attempt, in the submitter's context
 * @req: a prepared, activated request, owned by the caller
 * @result: with KAIO_LIST_INLINE_RESULTS, for a request nothing else waits
 *	for (no eventfd, no signal), the user's entry for its result if the
 *	attempt completes it; NULL otherwise
 *
 * The op's issue() must not block. After it, the request belongs to whoever
 * the result names; the submitter does not touch it again.
 *
 * Once an attempt hands the request to a callback (-EIOCBQUEUED, an armed
 * page or poll wait), the callback's side may complete and free it at any
 * moment, while the code that made the attempt is still returning through
 * it: ext4's O_DIRECT read calls file_accessed(iocb->ki_filp) after
 * iomap_dio_rw() returned, and POLL's issue still looks at its waitqueue.
 * So, as fs/aio.c's ki_refcnt, the attempt runs with a reference of its
 * own; whichever put is last frees.
 *
 * Return: 0, or the errno of an attempt that refused the request outright
 * (KAIO_ISSUE_FAILED): it is no longer active and the caller still holds
 * its one reference.
 */
int kaio_req_issue(struct kaio_req *req, s64 __user *result)
{
	long res = 0;
	int how;

	/* Something else waits for its event: never inline. */
	if (WARN_ON_ONCE(result && (req->notify || req->eventfd)))
		result = NULL;
	refcount_inc(&req->refs);
	how = req->op->issue(req, &res);
	if (unlikely(how == KAIO_ISSUE_FAILED)) {
		kaio_ring_deactivate(req);
		refcount_dec(&req->refs);
		/* 0 would make SUBMIT count a request nobody owns. */
		return WARN_ON_ONCE(res >= 0) ? -EINVAL : res;
	}
	if (how == KAIO_ISSUE_DONE) {
		kaio_stat_inc(req->ctx, KAIO_STAT_INLINE);
		kaio_req_note_path(req, KAIO_PATH_INLINE);
		if (result) {
			kaio_req_complete_inline(req, res, result);
			/* The owner's reference (kaio_req_continue()'s put). */
			kaio_req_put(req);
			kaio_req_put(req);
			return 0;
		}
	}
	kaio_req_continue(req, how, res);
	kaio_req_put(req);
	return 0;
}
