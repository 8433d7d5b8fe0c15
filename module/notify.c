// SPDX-License-Identifier: GPL-2.0
/*
 * Completion signals: a request's own (KAIO_IOCB_FLAG_SIGEVENT) and a
 * SUBMIT_LIST call's (KAIO_LIST_SIGNAL), queued as sigqueue(3) would queue
 * them: si_code SI_ASYNCIO, the submitter's pid and uid, its si_value.
 *
 * Never sent from where the event is posted. Events are posted in hardirq
 * (bio completion), under a page's waitqueue lock (page-wait retries) and
 * under other drivers' waitqueue locks (POLL); and send_signal_locked()
 * looks at current: si_pid is zeroed when current is not visible in the
 * receiver's pid namespace (the idle task of an irq would be), si_uid is
 * mapped from current's user namespace. So kaio_ring_post() hands the
 * request's notify over to its context's list of notifies once the event
 * is in the ring, and the context's one work item sends them from a
 * kworker of the user's notify_wq: init's namespaces, so si_uid is taken
 * in init_user_ns terms and mapped to the receiver's by the kernel, and
 * si_pid is 0 for a receiver in a pid namespace below the init one. One
 * work item per context: one context's sends run one at a time, in
 * completion order, and however many events post they queue no more work;
 * a queued notify takes a slot of the ring's capacity (ring.c) until it is
 * sent, so they are never more than the context's events. A SUBMIT_LIST
 * whose requests are all done by its end sends its list signal itself, as
 * the submitter: si_pid stays the submitter's in any pid namespace.
 *
 * 6.1 exports no way to queue a process-directed signal with a siginfo of
 * the caller's (kill_pid_info() and group_send_sig_info() are not
 * exported; kill_pid_usb_asyncio() writes si_value over si_pid), so the
 * thread the kernel's complete_signal() would pick is picked here, and
 * the signal is sent to it with send_sig_info(): the submitting thread if
 * it does not block the signal, else the first thread that does not, else
 * (every one blocks it) the submitting thread, where it stays pending
 * until one unblocks it, or the first live thread if that one has exited.
 * Pending on one thread, it is seen by that thread's sigwaitinfo() and
 * signalfd only, and lost if that thread exits before taking it.
 *
 * A process that exec'd since the submission is another program: its mm
 * and its self_exec_id differ, and nothing is sent to it once the exec has
 * switched the image (one sent just before stays pending across the exec,
 * as any pending signal does); nor to one that exited. The check and the
 * send are made under the process's exec_update_lock, which exec holds for
 * writing while it switches the mm, bumps self_exec_id, resets handlers
 * and commits credentials; taken by trylock only, since an exec (or an
 * exiting mm) may wait for this context's requests: a failed trylock is an
 * exec under way, and the signal is dropped. Drops and failed sends
 * (RLIMIT_SIGPENDING for real-time signals) are counted (fdinfo
 * signals_dropped), never retried.
 * SIGKILL and SIGSTOP are refused at SUBMIT: sent from a kworker to a pid
 * namespace below it, send_signal_locked() would force them past
 * SIGNAL_UNKILLABLE.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/cred.h>
#include <linux/llist.h>
#include <linux/memcontrol.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>
#include "kaio.h"
#include "notify.h"

/*
 * A signal to send, as the submitter named it, with who the submitter was.
 * @signo 0: none (a request that only carries its list's reference).
 * @thread: KAIO_SIGEV_PROCESS: the submitting thread; KAIO_SIGEV_THREAD_ID:
 *	the thread named. @tgid: the submitter's process.
 * @mm, @exec_id: the submitter's image; @mm is only compared, never
 *	dereferenced (the context's mmgrab() keeps it from being reused while
 *	a request, a list or a queued notify holds a count of ctx->reqs).
 */
struct kaio_sig {
	u64			value;
	u32			signo;
	u32			notify;
	pid_t			pid;
	kuid_t			uid;
	struct pid		*thread;
	struct pid		*tgid;
	struct mm_struct	*mm;
	u64			exec_id;
};

/**
 * struct kaio_notify_list - a SUBMIT_LIST call's signal
 * @refs: the call's, and one per request it took (through the request's
 *	notify); the last put sends @sig: the call's, in the call; a
 *	request's, in its context's notify work.
 * @ctx: the context; the list holds a count of ctx->reqs, so that the
 *	context (its counters, its mm, its notify_wq) outlives it.
 * @sig: the list's signal.
 * @work: sends @sig if a request's discard (a bug) drops the last one.
 */
struct kaio_notify_list {
	refcount_t		refs;
	struct kaio_ctx		*ctx;
	struct kaio_sig		sig;
	struct work_struct	work;
};

/**
 * struct kaio_notify - what a request's completion sends
 * @ctx: the request's context; from the hand-over to ctx->notifies on,
 *	the notify holds a count of ctx->reqs and one of ctx->notify_pending.
 * @sig: the request's own signal, if any.
 * @list: the list the request belongs to (a reference), or NULL.
 * @node: on ctx->notifies.
 */
struct kaio_notify {
	struct kaio_ctx		*ctx;
	struct kaio_sig		sig;
	struct kaio_notify_list	*list;
	struct llist_node	node;
};

/*
 * What can be told of struct kaio_sigevent without looking anything up:
 * checked before anything is allocated for it.
 */
static int kaio_sig_check(const struct kaio_sigevent *sev)
{
	if (!sev->signo || !valid_signal(sev->signo) ||
	    memchr_inv(sev->reserved, 0, sizeof(sev->reserved)))
		return -EINVAL;
	/* A kworker's send would force them past SIGNAL_UNKILLABLE. */
	if (sig_kernel_only(sev->signo))
		return -EINVAL;
	switch (sev->notify) {
	case KAIO_SIGEV_PROCESS:
		return sev->tid ? -EINVAL : 0;
	case KAIO_SIGEV_THREAD_ID:
		return sev->tid > 0 ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* Who the submitter is, for a @sev kaio_sig_check() accepted. */
static int kaio_sig_init(struct kaio_sig *sig, const struct kaio_sigevent *sev)
{
	struct task_struct *t;
	bool ours;

	if (sev->notify == KAIO_SIGEV_PROCESS) {
		sig->thread = get_pid(task_pid(current));
	} else {
		/* In the submitter's pid namespace, as gettid() gave it. */
		sig->thread = find_get_pid(sev->tid);
		if (!sig->thread)
			return -EINVAL;
		rcu_read_lock();
		t = pid_task(sig->thread, PIDTYPE_PID);
		/* Not an io_uring worker: it blocks every signal. */
		ours = t && same_thread_group(t, current) &&
		       !(READ_ONCE(t->flags) & PF_IO_WORKER);
		rcu_read_unlock();
		if (!ours) {
			put_pid(sig->thread);
			sig->thread = NULL;
			return -EINVAL;
		}
	}
	sig->value = sev->value;
	sig->signo = sev->signo;
	sig->notify = sev->notify;
	sig->pid = task_tgid_vnr(current);
	sig->uid = current_uid();
	sig->tgid = get_pid(task_tgid(current));
	sig->mm = current->mm;
	sig->exec_id = current->self_exec_id;
	return 0;
}

static void kaio_sig_release(struct kaio_sig *sig)
{
	put_pid(sig->thread);
	put_pid(sig->tgid);
}

/*
 * Is @t alive and still running the submitter's program? Under RCU or
 * with a reference on @t; final only under its exec_update_lock.
 */
static bool kaio_sig_same_image(struct task_struct *t,
				const struct kaio_sig *sig)
{
	return !(READ_ONCE(t->flags) & PF_EXITING) &&
		READ_ONCE(t->mm) == sig->mm &&
		READ_ONCE(t->self_exec_id) == sig->exec_id;
}

/*
 * complete_signal()'s wants_signal(), without the siglock it cannot take
 * from here: a thread that changes its mask meanwhile gets the signal
 * pending, as if it had changed the mask just after.
 */
static bool kaio_sig_wanted(struct task_struct *t, const struct kaio_sig *sig)
{
	if (!kaio_sig_same_image(t, sig))
		return false;
	/* io_uring's workers block every signal: it would stay pending. */
	if (READ_ONCE(t->flags) & PF_IO_WORKER)
		return false;
	/* Racy on purpose (t->blocked changes under its siglock): a hint. */
	return !data_race(sigismember(&t->blocked, sig->signo));
}

/* The thread to send to, with a reference, or NULL to drop. Under RCU. */
static struct task_struct *kaio_sig_target(const struct kaio_sig *sig)
{
	struct task_struct *self, *leader, *t, *pick = NULL;

	self = pid_task(sig->thread, PIDTYPE_PID);
	if (self && !kaio_sig_same_image(self, sig))
		self = NULL;
	if (sig->notify == KAIO_SIGEV_THREAD_ID ||
	    (self && kaio_sig_wanted(self, sig))) {
		pick = self;
		goto out;
	}
	leader = pid_task(sig->tgid, PIDTYPE_TGID);
	if (!leader)
		goto out;
	/*
	 * One pass: the first thread that does not block it; if every one
	 * does, pending where it was asked for, else on the first live one.
	 */
	pick = self;
	for_each_thread(leader, t) {
		if (kaio_sig_wanted(t, sig)) {
			pick = t;
			break;
		}
		if (!pick && kaio_sig_same_image(t, sig) &&
		    !(READ_ONCE(t->flags) & PF_IO_WORKER))
			pick = t;
	}
out:
	if (pick)
		get_task_struct(pick);
	return pick;
}

/* See the top of the file for where from, and why under exec_update_lock. */
static void kaio_sig_send(struct kaio_ctx *ctx, const struct kaio_sig *sig)
{
	struct kernel_siginfo info;
	struct task_struct *t;
	bool sent = false;

	rcu_read_lock();
	t = kaio_sig_target(sig);
	rcu_read_unlock();
	if (!t)
		goto out;
	/* Failed: an exec is switching the image (or about to). */
	if (!down_read_trylock(&t->signal->exec_update_lock))
		goto out_put;
	if (kaio_sig_same_image(t, sig)) {
		clear_siginfo(&info);
		info.si_signo = sig->signo;
		info.si_errno = 0;
		info.si_code = SI_ASYNCIO;
		info.si_pid = sig->pid;
		/* Mapped from current's user namespace to the receiver's. */
		info.si_uid = from_kuid_munged(current_user_ns(), sig->uid);
		info.si_value.sival_ptr = u64_to_user_ptr(sig->value);
		sent = !send_sig_info(sig->signo, &info, t);
	}
	up_read(&t->signal->exec_update_lock);
out_put:
	put_task_struct(t);
out:
	kaio_stat_inc(ctx, sent ? KAIO_STAT_SIGNALS_SENT :
		      KAIO_STAT_SIGNALS_DROPPED);
}

/* ---- lists ---------------------------------------------------------- */

static void kaio_notify_list_free(struct kaio_notify_list *list)
{
	struct kaio_ctx *ctx = list->ctx;

	kaio_sig_release(&list->sig);
	kfree(list);
	/* Last touch of ctx, as a request's free. */
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
}

/* The last reference is gone: send, and free. */
static void kaio_notify_list_done(struct kaio_notify_list *list)
{
	kaio_sig_send(list->ctx, &list->sig);
	kaio_notify_list_free(list);
}

/* The send charged as kaio_notify_work()'s are. */
static void kaio_notify_list_work(struct work_struct *work)
{
	struct kaio_notify_list *list =
		container_of(work, struct kaio_notify_list, work);
	struct mem_cgroup *memcg, *old_memcg;

	memcg = get_mem_cgroup_from_mm(list->ctx->mm);
	old_memcg = set_active_memcg(memcg);
	kaio_notify_list_done(list);
	set_active_memcg(old_memcg);
	mem_cgroup_put(memcg);
}

/**
 * kaio_notify_list_new() - the signal of a SUBMIT_LIST call
 * @ctx: the context, whose count of ctx->reqs the list holds
 * @sev: the call's struct kaio_sigevent, copied in
 *
 * Return: the list, holding the call's reference; ERR_PTR(-EINVAL) for a
 * bad @sev, ERR_PTR(-EAGAIN) out of memory (as SUBMIT's).
 */
struct kaio_notify_list *kaio_notify_list_new(struct kaio_ctx *ctx,
					      const struct kaio_sigevent *sev)
{
	struct kaio_notify_list *list;
	int ret;

	ret = kaio_sig_check(sev);
	if (ret)
		return ERR_PTR(ret);
	list = kzalloc(sizeof(*list), GFP_KERNEL_ACCOUNT);
	if (!list)
		return ERR_PTR(-EAGAIN);
	ret = kaio_sig_init(&list->sig, sev);
	if (ret) {
		kfree(list);
		return ERR_PTR(ret);
	}
	refcount_set(&list->refs, 1);
	list->ctx = ctx;
	INIT_WORK(&list->work, kaio_notify_list_work);
	atomic_inc(&ctx->reqs);
	return list;
}

/**
 * kaio_notify_list_end() - the SUBMIT_LIST call drops its reference
 * @list: the list
 * @took: whether the call succeeded: it took requests, or was given none
 *
 * In the submitter, in process context. If the call's reference was the
 * last (every request it took has completed, or it was given none), the
 * signal is sent here, before this returns, by the submitter itself:
 * si_pid is then visible in any pid namespace of the receiver's, which is
 * the submitter's. A call that fails took nothing and sends nothing: an
 * errno means nothing happened, and the caller, who may retry or notify
 * by itself (glibc's lio_listio does when it queued nothing), would
 * otherwise get a signal per failed try.
 */
void kaio_notify_list_end(struct kaio_notify_list *list, bool took)
{
	if (!refcount_dec_and_test(&list->refs)) {
		/* A failed call took nothing that could hold a reference. */
		WARN_ON_ONCE(!took);
		return;
	}
	if (took)
		kaio_notify_list_done(list);
	else
		kaio_notify_list_free(list);
}

/* A request's reference, from the notify work: the last one sends. */
static void kaio_notify_list_put(struct kaio_notify_list *list)
{
	if (refcount_dec_and_test(&list->refs))
		kaio_notify_list_done(list);
}

/* ---- a request's notify --------------------------------------------- */

static void kaio_notify_free(struct kaio_notify *n)
{
	kaio_sig_release(&n->sig);
	kfree(n);
}

/* A queued notify: its signals, then its counts on the context go. */
static void kaio_notify_send(struct kaio_ctx *ctx, struct kaio_notify *n)
{
	/* The request's own signal before its list's. */
	if (n->sig.signo)
		kaio_sig_send(ctx, &n->sig);
	if (n->list)
		kaio_notify_list_put(n->list);
	kaio_notify_free(n);
	/* Its slot of the ring's capacity is free for a SUBMIT again. */
	atomic_dec(&ctx->notify_pending);
	/*
	 * The context may be freed once this is zero, but not before
	 * kaio_notify_ctx_exit() has waited for this work to return.
	 */
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
}

/*
 * ctx->notify_work, on the user's notify_wq: the notifies queued so far,
 * oldest first (llist_add() builds the list newest first). One batch per
 * run: a context that keeps completing requests is queued again behind
 * the user's other contexts instead of holding a worker for as long as it
 * keeps them coming.
 *
 * The sigqueue allocations are charged to the memory cgroup of the
 * context's mm, as they would be if its submitter sent them: from a
 * kworker they would be charged to nobody.
 */
static void kaio_notify_work(struct work_struct *work)
{
	struct kaio_ctx *ctx = container_of(work, struct kaio_ctx, notify_work);
	struct mem_cgroup *memcg, *old_memcg;
	struct kaio_notify *n, *next;
	struct llist_node *list;

	list = llist_del_all(&ctx->notifies);
	if (!list)
		return;
	memcg = get_mem_cgroup_from_mm(ctx->mm);
	old_memcg = set_active_memcg(memcg);
	list = llist_reverse_order(list);
	/*
	 * The last send may let the context be freed, but not before
	 * kaio_notify_ctx_exit() waited for this work: ctx stays readable.
	 */
	llist_for_each_entry_safe(n, next, list, node) {
		kaio_notify_send(ctx, n);
		cond_resched();
	}
	set_active_memcg(old_memcg);
	mem_cgroup_put(memcg);
	/*
	 * Nothing to do for what came meanwhile: the work was no longer
	 * pending once it started, so kaio_notify_queue() queued it again.
	 */
}

/**
 * kaio_notify_new() - what a request's completion will send
 * @ctx: the request's context
 * @sev: the request's struct kaio_sigevent, copied in; NULL for none
 * @list: the SUBMIT_LIST call's list, or NULL; the notify takes a reference
 *
 * In the submitter, at SUBMIT: current tells who submitted.
 *
 * Return: the notify; ERR_PTR(-EINVAL) for a bad @sev, ERR_PTR(-EAGAIN)
 * out of memory.
 */
struct kaio_notify *kaio_notify_new(struct kaio_ctx *ctx,
				    const struct kaio_sigevent *sev,
				    struct kaio_notify_list *list)
{
	struct kaio_notify *n;
	int ret;

	if (sev) {
		ret = kaio_sig_check(sev);
		if (ret)
			return ERR_PTR(ret);
	}
	n = kzalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
	if (!n)
		return ERR_PTR(-EAGAIN);
	if (sev) {
		ret = kaio_sig_init(&n->sig, sev);
		if (ret) {
			kfree(n);
			return ERR_PTR(ret);
		}
	}
	n->ctx = ctx;
	if (list) {
		refcount_inc(&list->refs);
		n->list = list;
	}
	return n;
}

/**
 * kaio_notify_queue() - send what a request's completion sends
 * @ctx: the request's context
 * @n: the request's notify, which the request no longer points to
 *
 * After the event is in the ring, and after kaio_ring_post() counted @n in
 * ctx->notify_pending under ctx->lock. Any context, hardirq included; the
 * caller's request holds its count of ctx->reqs, so one more is safe to
 * take here, for @n.
 */
void kaio_notify_queue(struct kaio_ctx *ctx, struct kaio_notify *n)
{
	atomic_inc(&ctx->reqs);
	llist_add(&n->node, &ctx->notifies);
	/* A no-op while it is pending; a running one is queued again. */
	queue_work(ctx->user->notify_wq, &ctx->notify_work);
}

/**
 * kaio_notify_discard() - a request freed without posting: nothing is sent
 * @n: its notify
 *
 * Its list reference goes. The call holds its own until it ends, and every
 * request it took posts: the last one here is a bug elsewhere (a request
 * freed unposted after its call ended). The list's signal still goes then,
 * from the notify queue, as this may be called from any context.
 */
void kaio_notify_discard(struct kaio_notify *n)
{
	struct kaio_notify_list *list = n->list;

	if (list && WARN_ON_ONCE(refcount_dec_and_test(&list->refs)))
		queue_work(list->ctx->user->notify_wq, &list->work);
	kaio_notify_free(n);
}

/**
 * kaio_notify_ctx_init() - a new context's notify queue
 * @ctx: the context, before anything can free it
 */
void kaio_notify_ctx_init(struct kaio_ctx *ctx)
{
	init_llist_head(&ctx->notifies);
	INIT_WORK(&ctx->notify_work, kaio_notify_work);
	atomic_set(&ctx->notify_pending, 0);
}

/**
 * kaio_notify_ctx_exit() - before a context is freed
 * @ctx: the context; ctx->reqs is zero, so no notify is queued
 *
 * The notify work may still be running after it dropped the last count of
 * ctx->reqs, or be queued again with nothing to do: cancelled, or waited
 * for, before the context and the user's notify_wq go.
 */
void kaio_notify_ctx_exit(struct kaio_ctx *ctx)
{
	cancel_work_sync(&ctx->notify_work);
	WARN_ON_ONCE(!llist_empty(&ctx->notifies));
	WARN_ON_ONCE(atomic_read(&ctx->notify_pending));
}
