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
 * request's notify over to kaio_notify_wq once the event is in the ring,
 * and the signal goes from a kworker: init's namespaces, so si_uid is
 * taken in init_user_ns terms and mapped to the receiver's by the kernel.
 *
 * 6.1 exports no way to queue a process-directed signal with a siginfo of
 * the caller's (kill_pid_info() and group_send_sig_info() are not
 * exported; kill_pid_usb_asyncio() writes si_value over si_pid), so the
 * thread the kernel's complete_signal() would pick is picked here, and
 * the signal is sent to it with send_sig_info(): the submitting thread if
 * it does not block the signal, else the first thread that does not, else
 * (every one blocks it) the submitting thread, where it stays pending
 * until one unblocks it, or any live thread if that one has exited.
 *
 * A process that exec'd since the submission is another program: its
 * mm and its self_exec_id differ, and it gets nothing; nor does one that
 * exited. Drops and failed sends (RLIMIT_SIGPENDING for real-time signals)
 * are counted (fdinfo signals_dropped), never retried.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
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

static struct workqueue_struct *kaio_notify_wq;

/*
 * A signal to send, as the submitter named it, with who the submitter was.
 * @signo 0: none (a request that only carries its list's reference).
 * @thread: KAIO_SIGEV_PROCESS: the submitting thread; KAIO_SIGEV_THREAD_ID:
 *	the thread named. @tgid: the submitter's process.
 * @mm, @exec_id: the submitter's image; @mm is only compared, never
 *	dereferenced (the context's mmgrab() keeps it from being reused while
 *	a request, a list or a send holds a count of ctx->reqs).
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
 *	notify); the last put sends @sig.
 * @ctx: the context; the list holds a count of ctx->reqs, so that the
 *	context (its counters, its mm) outlives it.
 * @sig: the list's signal.
 * @sync: the call's own put was the last: it flushes @work, then frees.
 * @work: sends @sig when the last put is not in kaio_notify_wq already.
 */
struct kaio_notify_list {
	refcount_t		refs;
	struct kaio_ctx		*ctx;
	struct kaio_sig		sig;
	bool			sync;
	struct work_struct	work;
};

/**
 * struct kaio_notify - what a request's completion sends
 * @ctx: the request's context; from the hand-over to kaio_notify_wq on,
 *	the notify holds a count of ctx->reqs.
 * @sig: the request's own signal, if any.
 * @list: the list the request belongs to (a reference), or NULL.
 * @work: on kaio_notify_wq.
 */
struct kaio_notify {
	struct kaio_ctx		*ctx;
	struct kaio_sig		sig;
	struct kaio_notify_list	*list;
	struct work_struct	work;
};

/* The validation of struct kaio_sigevent, and who the submitter is. */
static int kaio_sig_init(struct kaio_sig *sig, const struct kaio_sigevent *sev)
{
	struct task_struct *t;
	bool ours;

	if (!sev->signo || !valid_signal(sev->signo) ||
	    memchr_inv(sev->reserved, 0, sizeof(sev->reserved)))
		return -EINVAL;
	switch (sev->notify) {
	case KAIO_SIGEV_PROCESS:
		if (sev->tid)
			return -EINVAL;
		sig->thread = get_pid(task_pid(current));
		break;
	case KAIO_SIGEV_THREAD_ID:
		if (sev->tid <= 0)
			return -EINVAL;
		/* In the submitter's pid namespace, as gettid() gave it. */
		sig->thread = find_get_pid(sev->tid);
		if (!sig->thread)
			return -EINVAL;
		rcu_read_lock();
		t = pid_task(sig->thread, PIDTYPE_PID);
		ours = t && same_thread_group(t, current);
		rcu_read_unlock();
		if (!ours) {
			put_pid(sig->thread);
			sig->thread = NULL;
			return -EINVAL;
		}
		break;
	default:
		return -EINVAL;
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

/* Is @t alive and still running the submitter's program? Under RCU. */
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
	return kaio_sig_same_image(t, sig) &&
		!sigismember(&t->blocked, sig->signo);
}

/* The thread to send to, with a reference, or NULL to drop. Under RCU. */
static struct task_struct *kaio_sig_target(const struct kaio_sig *sig)
{
	struct task_struct *self, *leader, *t, *pick = NULL;

	self = pid_task(sig->thread, PIDTYPE_PID);
	if (self && !kaio_sig_same_image(self, sig))
		self = NULL;
	if (sig->notify == KAIO_SIGEV_THREAD_ID) {
		pick = self;
		goto out;
	}
	if (self && kaio_sig_wanted(self, sig)) {
		pick = self;
		goto out;
	}
	leader = pid_task(sig->tgid, PIDTYPE_TGID);
	if (!leader)
		goto out;
	for_each_thread(leader, t) {
		if (kaio_sig_wanted(t, sig)) {
			pick = t;
			goto out;
		}
	}
	/* Every thread blocks it: pending where it was asked for. */
	pick = self;
	if (pick)
		goto out;
	for_each_thread(leader, t) {
		if (kaio_sig_same_image(t, sig)) {
			pick = t;
			break;
		}
	}
out:
	if (pick)
		get_task_struct(pick);
	return pick;
}

/* From a kworker: see the top of the file for why. */
static void kaio_sig_send(struct kaio_ctx *ctx, const struct kaio_sig *sig)
{
	struct kernel_siginfo info;
	struct task_struct *t;
	bool sent = false;

	rcu_read_lock();
	t = kaio_sig_target(sig);
	rcu_read_unlock();
	if (t) {
		clear_siginfo(&info);
		info.si_signo = sig->signo;
		info.si_errno = 0;
		info.si_code = SI_ASYNCIO;
		info.si_pid = sig->pid;
		/* Mapped from current's user namespace to the receiver's. */
		info.si_uid = from_kuid_munged(current_user_ns(), sig->uid);
		info.si_value.sival_ptr = u64_to_user_ptr(sig->value);
		sent = !send_sig_info(sig->signo, &info, t);
		put_task_struct(t);
	}
	kaio_stat_inc(ctx, sent ? KAIO_STAT_SIGNALS_SENT :
		      KAIO_STAT_SIGNALS_DROPPED);
}

/* ---- lists ------------------------------------------------------------------ */

static void kaio_notify_list_free(struct kaio_notify_list *list)
{
	struct kaio_ctx *ctx = list->ctx;

	kaio_sig_release(&list->sig);
	kfree(list);
	/* Last touch of ctx, as a request's free. */
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
}

static void kaio_notify_list_work(struct work_struct *work)
{
	struct kaio_notify_list *list =
		container_of(work, struct kaio_notify_list, work);

	kaio_sig_send(list->ctx, &list->sig);
	if (!list->sync)
		kaio_notify_list_free(list);
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
 *
 * If the call's was the last (every request it took has completed, or it
 * took none), the signal is sent before this returns, by kaio_notify_wq
 * as every other.
 */
void kaio_notify_list_end(struct kaio_notify_list *list)
{
	if (!refcount_dec_and_test(&list->refs))
		return;
	list->sync = true;
	queue_work(kaio_notify_wq, &list->work);
	flush_work(&list->work);
	kaio_notify_list_free(list);
}

/* A request's reference, from kaio_notify_wq: the last one sends. */
static void kaio_notify_list_put(struct kaio_notify_list *list)
{
	if (refcount_dec_and_test(&list->refs))
		kaio_notify_list_work(&list->work);
}

/* ---- a request's notify ----------------------------------------------------- */

static void kaio_notify_free(struct kaio_notify *n)
{
	kaio_sig_release(&n->sig);
	kfree(n);
}

static void kaio_notify_work(struct work_struct *work)
{
	struct kaio_notify *n = container_of(work, struct kaio_notify, work);
	struct kaio_ctx *ctx = n->ctx;

	/* The request's own signal before its list's. */
	if (n->sig.signo)
		kaio_sig_send(ctx, &n->sig);
	if (n->list)
		kaio_notify_list_put(n->list);
	kaio_notify_free(n);
	if (atomic_dec_and_test(&ctx->reqs))
		wake_up_var(&ctx->reqs);
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
	INIT_WORK(&n->work, kaio_notify_work);
	return n;
}

/**
 * kaio_notify_queue() - send what a request's completion sends
 * @ctx: the request's context
 * @n: the request's notify, which the request no longer points to
 *
 * After the event is in the ring. Any context, hardirq included; the
 * caller's request holds its count of ctx->reqs, so one more is safe to
 * take here, for the work.
 */
void kaio_notify_queue(struct kaio_ctx *ctx, struct kaio_notify *n)
{
	atomic_inc(&ctx->reqs);
	queue_work(kaio_notify_wq, &n->work);
}

/**
 * kaio_notify_discard() - a request freed without posting: nothing is sent
 * @n: its notify
 *
 * Its list reference goes; if that was the last (a request freed unposted
 * after its call ended: a bug elsewhere), the list's signal still goes.
 */
void kaio_notify_discard(struct kaio_notify *n)
{
	if (n->list && refcount_dec_and_test(&n->list->refs))
		queue_work(kaio_notify_wq, &n->list->work);
	kaio_notify_free(n);
}

int kaio_notify_init(void)
{
	kaio_notify_wq = alloc_workqueue("kaio_notify", WQ_UNBOUND, 0);
	return kaio_notify_wq ? 0 : -ENOMEM;
}

/* Every context is gone; a send may still be returning through us. */
void kaio_notify_exit(void)
{
	destroy_workqueue(kaio_notify_wq);
}
