// SPDX-License-Identifier: GPL-2.0
/*
 * The io context: an anon-inode file whose private data is the completion
 * ring and its requests. SETUP creates it, the last close (or DESTROY)
 * cancels what is queued and waits for the rest before anything is freed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/time.h>
#include <linux/uaccess.h>
#include <linux/cred.h>
#include <linux/wait_bit.h>
#include "kaio.h"
#include "notify.h"
#include "ops.h"

/* fs/aio.c refuses rings above 0x10000000 bytes (after doubling nr_events). */
#define KAIO_NR_EVENTS_MAX	(0x10000000U / sizeof(struct io_event) / 2)

static void kaio_ctx_free(struct kaio_ctx *ctx);

static long kaio_ctx_getevents(struct kaio_ctx *ctx,
			       struct kaio_getevents __user *uarg)
{
	struct kaio_getevents args;
	ktime_t timeout = KTIME_MAX;
	sigset_t mask;
	bool interrupted;
	long ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (args.timeout) {
		struct timespec64 ts;

		if (get_timespec64(&ts, u64_to_user_ptr(args.timeout)))
			return -EFAULT;
		timeout = timespec64_to_ktime(ts);
	}
	if (args.sigmask) {
		if (args.sigsetsize != sizeof(sigset_t))
			return -EINVAL;
		if (copy_from_user(&mask, u64_to_user_ptr(args.sigmask),
				   sizeof(mask)))
			return -EFAULT;
	}
	if (unlikely(args.min_nr < 0 || args.min_nr > args.nr))
		return -EINVAL;

	if (!args.sigmask) {
		ret = kaio_getevents_wait(ctx, args.min_nr, args.nr,
					    u64_to_user_ptr(args.events),
					    timeout);
		if (!ret && signal_pending(current))
			ret = -EINTR;
		return ret;
	}

	/*
	 * io_pgetevents: set_user_sigmask() and restore_saved_sigmask_unless()
	 * are not exported, so the same steps by hand. A signal that ends the
	 * wait is delivered under the caller's mask; the saved one comes back
	 * on the way to user space.
	 */
	sigdelsetmask(&mask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	set_restore_sigmask();
	current->saved_sigmask = current->blocked;
	sigprocmask(SIG_SETMASK, &mask, NULL);

	ret = kaio_getevents_wait(ctx, args.min_nr, args.nr,
				    u64_to_user_ptr(args.events), timeout);

	interrupted = signal_pending(current);
	if (!interrupted && test_and_clear_restore_sigmask())
		sigprocmask(SIG_SETMASK, &current->saved_sigmask, NULL);
	if (interrupted && !ret)
		ret = -ERESTARTNOHAND;
	return ret;
}

/* No more submissions; wake GETEVENTS waiters. Returns whether it was dead. */
static bool kaio_ctx_mark_dead(struct kaio_ctx *ctx)
{
	bool was_dead;

	spin_lock_irq(&ctx->lock);
	was_dead = ctx->dead;
	ctx->dead = true;
	spin_unlock_irq(&ctx->lock);
	wake_up_all(&ctx->wait);
	return was_dead;
}

/**
 * kaio_ctx_shutdown() - stop submissions and cancel what can be cancelled
 * @ctx: the context
 *
 * Does not wait: requests that cannot be cancelled end by themselves.
 * DESTROY and the owner's last close wait for them (kaio_ctx_wait_reqs()),
 * any other last close has them reaped (kaio_ctx_reap_work()); the owner
 * mm's exit (mm.c) only shuts down, since others may still hold the fd.
 *
 * Return: whether the context was dead already.
 */
bool kaio_ctx_shutdown(struct kaio_ctx *ctx)
{
	bool was_dead = kaio_ctx_mark_dead(ctx);

	kaio_cancel_all(ctx);
	/* Nothing is reused any more: the close need not wait to free them. */
	kaio_req_cache_drain(ctx);
	return was_dead;
}

/*
 * ctx->shutdown_work, queued on kaio_cleanup_wq by the mm's exit (mm.c),
 * whose notifier runs inside the SRCU read side every mmu_notifier of the
 * system shares: cancelling scans the context and frees requests, which
 * has no business there. kaio_ctx_free() keeps the context until it ran.
 */
static void kaio_ctx_shutdown_work(struct work_struct *work)
{
	kaio_ctx_shutdown(container_of(work, struct kaio_ctx, shutdown_work));
}

/*
 * Wait until every request of a dead context is freed: 0, or -EINTR on a
 * fatal signal if @killable (checked every 100 ms).
 */
static int kaio_ctx_wait_reqs(struct kaio_ctx *ctx, bool killable)
{
	/*
	 * kaio_ring_activate() sees dead under the same lock, so no request
	 * joins ctx->active from now on; one that joined just before may
	 * still be arming or be punted after the first pass. A POLL would
	 * wait forever; everything else ends by itself. Cancel again while
	 * waiting.
	 */
	while (!wait_var_event_timeout(&ctx->reqs, !atomic_read(&ctx->reqs),
				       HZ / 10)) {
		if (killable && fatal_signal_pending(current))
			return -EINTR;
		kaio_cancel_all(ctx);
	}
	return 0;
}

/*
 * A released context whose requests are not all gone: cancelled again and
 * looked at every 100 ms, freed once they are. Holds a module reference,
 * taken by kaio_ctx_release(); module exit drains kaio_cleanup_wq, so this
 * may return through module code after module_put().
 */
static void kaio_ctx_reap_work(struct work_struct *work)
{
	struct kaio_ctx *ctx = container_of(to_delayed_work(work),
					    struct kaio_ctx, reap_work);

	if (atomic_read(&ctx->reqs)) {
		kaio_cancel_all(ctx);
		queue_delayed_work(kaio_cleanup_wq, &ctx->reap_work, HZ / 10);
		return;
	}
	kaio_ctx_free(ctx);
	module_put(THIS_MODULE);
}

static long kaio_ctx_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct kaio_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case KAIO_IOC_SUBMIT:
	case KAIO_IOC_SUBMIT_LIST:
	case KAIO_IOC_GETEVENTS:
	case KAIO_IOC_CANCEL:
	case KAIO_IOC_DESTROY:
		break;
	default:
		return -ENOTTY;
	}
	/* Never lend one process's memory to another (fork, SCM_RIGHTS). */
	if (current->mm != ctx->mm)
		return -EINVAL;
	if (READ_ONCE(ctx->dead))
		return -EINVAL;

	switch (cmd) {
	case KAIO_IOC_SUBMIT:
		return kaio_submit(ctx, file->f_op, argp);
	case KAIO_IOC_SUBMIT_LIST:
		return kaio_submit_list(ctx, file->f_op, argp);
	case KAIO_IOC_GETEVENTS:
		return kaio_ctx_getevents(ctx, argp);
	case KAIO_IOC_CANCEL:
		return kaio_cancel(ctx, argp);
	default:
		if (kaio_ctx_shutdown(ctx))
			return -EINVAL;
		return kaio_ctx_wait_reqs(ctx, true);
	}
}

static __poll_t kaio_ctx_poll(struct file *file, poll_table *pt)
{
	struct kaio_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->wait, pt);
	/* Queued before looking: pairs with kaio_ring_post()'s barrier. */
	smp_mb();
	return kaio_ring_has_events(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int kaio_ctx_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kaio_ctx *ctx = file->private_data;

	if (current->mm != ctx->mm)
		return -EINVAL;
	return kaio_ring_mmap(ctx, vma);
}

static void kaio_ctx_free(struct kaio_ctx *ctx)
{
	kaio_mm_untrack(ctx);
	/* Off the mm's list: no shutdown can be queued any more. */
	cancel_work_sync(&ctx->shutdown_work);
	/*
	 * No request, list or queued notify is left (and a shutdown could
	 * only cancel requests, which would post), but the notify work may
	 * still be returning: before the context and, with the user's last
	 * context, the user's notify_wq go.
	 */
	kaio_notify_ctx_exit(ctx);
	kaio_req_cache_drain(ctx);
	/* No request alive, no SUBMIT: every cached one was just freed. */
	WARN_ON_ONCE(atomic_read(&ctx->req_cached));
	kaio_ring_free(ctx);
	mmdrop(ctx->mm);
	put_pid(ctx->owner_tgid);
	kaio_limits_uncharge_events(ctx->nr_events_charged);
	kaio_limits_uncharge_ctx(ctx->user);
	kfree(ctx);
}

/*
 * The owner's last close waits for the requests, as native AIO's
 * io_destroy() and exit_aio() do in the owner: close returns, and the
 * process's exit ends, with everything freed. The exit's wait is
 * uninterruptible, as exit_aio()'s (a killed process has SIGKILL pending);
 * a close is killable. Nobody else's last close waits: a request can block
 * for as long as its user wants (a worker on an inode lock held through a
 * FUSE fault), and the wait would be in another process that was sent the
 * fd, or in a kernel thread (the system's one delayed-fput worker,
 * io_uring's exit work). Those contexts, and a killed owner's close, are
 * reaped on kaio_cleanup_wq.
 */
static int kaio_ctx_release(struct inode *inode, struct file *file)
{
	struct kaio_ctx *ctx = file->private_data;
	bool owner = false, exiting = false;

	if (!(current->flags & PF_KTHREAD)) {
		/*
		 * At exit the mm is gone already (exit_mm() before
		 * exit_files()). The exec id tells the owner's image from a
		 * program it exec'd with the fd still open.
		 */
		exiting = (current->flags & PF_EXITING) && !current->mm &&
			  task_tgid(current) == ctx->owner_tgid &&
			  current->self_exec_id == ctx->owner_exec_id;
		owner = exiting || current->mm == ctx->mm;
	}
	if (owner) {
		kaio_ctx_shutdown(ctx);
		if (!kaio_ctx_wait_reqs(ctx, !exiting)) {
			kaio_ctx_free(ctx);
			return 0;
		}
	} else {
		/*
		 * Not even the cancels here: this may be a kernel thread
		 * others wait for (the one delayed-fput worker).
		 */
		kaio_ctx_mark_dead(ctx);
	}
	__module_get(THIS_MODULE);
	queue_delayed_work(kaio_cleanup_wq, &ctx->reap_work, 0);
	return 0;
}

static void kaio_ctx_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kaio_ctx *ctx = file->private_data;
	unsigned int opcode;

	kaio_stats_show_fdinfo(m, ctx);
	/* By the op table's names: "submitted_PREAD:\t12". */
	for (opcode = 0; opcode < KAIO_NR_OPCODES; opcode++) {
		const char *name = kaio_op_name(opcode);

		if (name)
			seq_printf(m, "submitted_%s:\t%ld\n", name,
				   atomic_long_read(&ctx->op_submitted[opcode]));
	}
}

static const struct file_operations kaio_ctx_fops = {
	.owner		= THIS_MODULE,
	.release	= kaio_ctx_release,
	.unlocked_ioctl	= kaio_ctx_ioctl,
	.poll		= kaio_ctx_poll,
	.mmap		= kaio_ctx_mmap,
	.show_fdinfo	= kaio_ctx_show_fdinfo,
	.llseek		= noop_llseek,
};

/*
 * Takes over the caller's charges (events, one of @uid's contexts): on
 * failure they are given back here, later by kaio_ctx_free().
 */
static struct kaio_ctx *kaio_ctx_alloc(unsigned int nr_events, u32 flags,
				       struct kaio_user *user)
{
	struct kaio_ctx *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx) {
		kaio_limits_uncharge_ctx(user);
		kaio_limits_uncharge_events(nr_events);
		return ERR_PTR(-ENOMEM);
	}
	ctx->user = user;
	ctx->nr_events_charged = nr_events;
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ctx->owner_tgid = get_pid(task_tgid(current));
	ctx->owner_exec_id = current->self_exec_id;
	INIT_LIST_HEAD(&ctx->active);
	spin_lock_init(&ctx->lock);
	mutex_init(&ctx->ring_lock);
	init_waitqueue_head(&ctx->wait);
	init_llist_head(&ctx->retries);
	kaio_notify_ctx_init(ctx);
	init_llist_head(&ctx->req_cache);
	atomic_set(&ctx->req_cached, 0);
	init_waitqueue_head(&ctx->retry_wait);
	INIT_DELAYED_WORK(&ctx->reap_work, kaio_ctx_reap_work);
	INIT_WORK(&ctx->shutdown_work, kaio_ctx_shutdown_work);
	/*
	 * The first context of an mm registers its notifier, which takes
	 * every lock of the mm (mm_take_all_locks(), as fork's dup_mmap()
	 * walks every vma). Most signals are held off meanwhile; what still
	 * stops it (kaio_mm_get() lists it) restarts SETUP, where a killed
	 * io_setup ends with -EINTR: the restart is never seen by a process
	 * that dies, and spares a stopped or traced one a spurious EINTR.
	 */
	ret = kaio_mm_track(ctx);
	if (ret) {
		kaio_ctx_free(ctx);
		return ERR_PTR(ret == -EINTR ? -ERESTARTNOINTR : ret);
	}
	if (kaio_ring_alloc(ctx, nr_events)) {
		kaio_ctx_free(ctx);
		return ERR_PTR(-ENOMEM);
	}
	ctx->req_cache_max = kaio_limits_req_cache() ? ctx->nr : 0;
	ctx->res2_path = flags & KAIO_SETUP_RES2_PATH;
	ctx->writes_in_submit = flags & KAIO_SETUP_WRITES_IN_SUBMIT;
	ctx->signals = flags & KAIO_SETUP_SIGNALS;
	return ctx;
}

/**
 * kaio_ctx_setup() - KAIO_IOC_SETUP: create a context, as io_setup(2)
 * @uarg: struct kaio_setup
 *
 * Return: the new context fd, or an errno.
 */
long kaio_ctx_setup(struct kaio_setup __user *uarg)
{
	kuid_t uid = current_uid();
	struct kaio_user *user;
	struct kaio_setup args;
	struct kaio_ctx *ctx;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, uarg, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~KAIO_SETUP_FLAGS ||
	    memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (!args.nr_events || args.nr_events > KAIO_NR_EVENTS_MAX)
		return -EINVAL;
	if (!kaio_limits_charge_events(args.nr_events))
		return -EAGAIN;
	ret = kaio_limits_charge_ctx(uid, &user);
	if (ret)
		goto out_uncharge;

	ctx = kaio_ctx_alloc(args.nr_events, args.flags, user);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_free_ctx;
	}
	file = anon_inode_getfile("[kaio]", &kaio_ctx_fops, ctx,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}
	ctx->ring->id = fd;

	args.nr_events = ctx->nr - 1;
	args.ring_size = ctx->ring_size;
	args.features = KAIO_FEAT_RING_MMAP | KAIO_FEAT_EVENTFD |
			KAIO_FEAT_RW_FLAGS | KAIO_FEAT_IOPRIO |
			KAIO_FEAT_WRITES_IN_SUBMIT | KAIO_FEAT_OPCODES |
			KAIO_FEAT_SIGNAL | KAIO_FEAT_INLINE_RESULTS;
	args.opcodes = kaio_ops_supported();
	if (copy_to_user(uarg, &args, sizeof(args))) {
		put_unused_fd(fd);
		fput(file);	/* release frees ctx and gives back charges */
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

out_put_fd:
	put_unused_fd(fd);
out_free_ctx:
	kaio_ctx_free(ctx);
	return ret;
out_uncharge:
	kaio_limits_uncharge_events(args.nr_events);
	return ret;
}
