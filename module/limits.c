// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters, and what users may consume, bounded by them: contexts
 * (in total and per user), events (in total, like fs.aio-max-nr) and user
 * memory pinned by requests in flight. Going over a limit is an errno for
 * the caller (EAGAIN: try again once something is released; ENOMEM: can
 * never fit), never an allocation failure or a warning. Also the queues
 * work runs on: each user's own, and kaio_cleanup_wq.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "kaio.h"

static int kaio_param_set_positive(const char *val,
				   const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (!n || n > INT_MAX)
		return -EINVAL;
	*(unsigned int *)kp->arg = n;
	return 0;
}

static const struct kernel_param_ops kaio_positive_ops = {
	.set	= kaio_param_set_positive,
	.get	= param_get_uint,
};

static unsigned int kaio_max_events = 65536;
module_param_cb(max_events, &kaio_positive_ops, &kaio_max_events, 0644);
MODULE_PARM_DESC(max_events,
		 "Events all contexts together may reserve, like fs.aio-max-nr (default: 65536)");

static unsigned int kaio_max_contexts = 4096;
module_param_cb(max_contexts, &kaio_positive_ops, &kaio_max_contexts, 0644);
MODULE_PARM_DESC(max_contexts,
		 "Contexts open at once, all users together (default: 4096)");

static unsigned int kaio_max_user_contexts = 1024;
module_param_cb(max_user_contexts, &kaio_positive_ops, &kaio_max_user_contexts,
		0644);
MODULE_PARM_DESC(max_user_contexts,
		 "Contexts open at once per user (default: 1024)");

static unsigned int g_max_pinned_mb;
module_param_named(max_pinned_mb, g_max_pinned_mb, uint, 0644);
MODULE_PARM_DESC(max_pinned_mb,
		 "User memory requests in flight may pin, in MiB (default: 0 = a quarter of RAM)");

static unsigned long kaio_max_pinned_pages(void)
{
	unsigned int mb = READ_ONCE(g_max_pinned_mb);

	if (!mb)
		return totalram_pages() / 4;
	return (unsigned long)mb << (20 - PAGE_SHIFT);
}

static unsigned short g_dev_mode = 0666;
module_param_named(dev_mode, g_dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode,
		 "Mode of /dev/kaio: who may create contexts (default: 0666, as io_setup)");

/**
 * kaio_limits_dev_mode() - the mode /dev/kaio is created with
 *
 * Return: dev_mode's permission bits.
 */
umode_t kaio_limits_dev_mode(void)
{
	return g_dev_mode & 0777;
}

static unsigned int kaio_max_workers = 16;
module_param_cb(max_workers, &kaio_positive_ops, &kaio_max_workers, 0444);
MODULE_PARM_DESC(max_workers,
		 "Blocking attempts running at once, per user (default: 16)");

/*
 * Off by default under KASAN, whose use-after-free reports need every free
 * to reach the slab; make check-debug also runs part of the suite with it
 * on, so that lockdep and debugobjects see the cache's paths.
 */
static bool g_req_cache = !IS_ENABLED(CONFIG_KASAN);
module_param_named(req_cache, g_req_cache, bool, 0644);
MODULE_PARM_DESC(req_cache,
		 "Contexts created from now on reuse freed requests (default: Y, N under KASAN)");

/**
 * kaio_limits_req_cache() - may a new context keep freed requests?
 *
 * Return: the req_cache parameter, read once per context at SETUP.
 */
bool kaio_limits_req_cache(void)
{
	return READ_ONCE(g_req_cache);
}

struct workqueue_struct *kaio_cleanup_wq;

static DEFINE_MUTEX(kaio_users_lock);
static DEFINE_HASHTABLE(kaio_users, 6);
static unsigned int kaio_contexts_total;	/* under kaio_users_lock */
static atomic_long_t kaio_pinned_pages = ATOMIC_LONG_INIT(0);
static atomic_t kaio_events_total = ATOMIC_INIT(0);

static struct kaio_user *kaio_user_find(kuid_t uid)
{
	struct kaio_user *user;

	hash_for_each_possible(kaio_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

/* Also undoes a kaio_user_alloc() that failed half-way. */
static void kaio_user_free(struct kaio_user *user)
{
	int i;

	/*
	 * Drains: a work item may still be returning from its last put.
	 * free_wq after the others: their items may have queued a free on
	 * it; notify_wq after free_wq, whose frees may queue a list's signal
	 * (kaio_notify_discard()). Every context's own notify work was
	 * cancelled or waited for by its free, before its last uncharge.
	 */
	for (i = 0; i < KAIO_WRITE_QUEUES; i++)
		if (user->write_wq[i])
			destroy_workqueue(user->write_wq[i]);
	if (user->poll_wq)
		destroy_workqueue(user->poll_wq);
	if (user->retry_wq)
		destroy_workqueue(user->retry_wq);
	if (user->worker_wq)
		destroy_workqueue(user->worker_wq);
	if (user->free_wq)
		destroy_workqueue(user->free_wq);
	if (user->notify_wq)
		destroy_workqueue(user->notify_wq);
	kfree(user);
}

/*
 * Each user's blocking attempts, retries and ordered writes run on queues
 * of its own, so that one user whose requests block (on an inode lock held
 * by a write(2) stuck in a FUSE fault, say) holds only its own share:
 * max_workers blocking attempts, four write queues. Unbound workqueues with
 * the same attributes share their kworkers, so this costs no threads.
 */
static struct kaio_user *kaio_user_alloc(kuid_t uid)
{
	unsigned int id = __kuid_val(uid);
	struct kaio_user *user;
	int i;

	user = kzalloc(sizeof(*user), GFP_KERNEL_ACCOUNT);
	if (!user)
		return NULL;
	user->uid = uid;
	user->worker_wq = alloc_workqueue("kaio_worker/%u", WQ_UNBOUND,
					  kaio_max_workers, id);
	/*
	 * Retries nobody waits for in GETEVENTS. They do not wait for their
	 * own I/O, but may for what the read path waits for on the way (an
	 * inode lock: xfs takes i_rwsem for reads; readahead's submission):
	 * bounded like the workers, so that every user's share of blocked
	 * kworkers stays max_workers per queue.
	 */
	user->retry_wq = alloc_workqueue("kaio_retry/%u", WQ_UNBOUND,
					 kaio_max_workers, id);
	/* Bounded too: a FUSE file's ->poll() may wait for its server. */
	user->poll_wq = alloc_workqueue("kaio_poll/%u", WQ_UNBOUND,
					kaio_max_workers, id);
	/* Bounded too: a free may wait on a page lock the user holds. */
	user->free_wq = alloc_workqueue("kaio_free/%u", WQ_UNBOUND,
					kaio_max_workers, id);
	/*
	 * Completion signals: one work item per context, which never blocks
	 * (notify.c takes the exec lock by trylock only); bounded as the
	 * others, so that a user's many contexts take at most max_workers.
	 */
	user->notify_wq = alloc_workqueue("kaio_notify/%u", WQ_UNBOUND,
					  kaio_max_workers, id);
	if (!user->worker_wq || !user->retry_wq || !user->poll_wq ||
	    !user->free_wq || !user->notify_wq)
		goto fail;
	for (i = 0; i < KAIO_WRITE_QUEUES; i++) {
		user->write_wq[i] = alloc_ordered_workqueue("kaio_write/%u/%d",
							    0, id, i);
		if (!user->write_wq[i])
			goto fail;
	}
	return user;
fail:
	kaio_user_free(user);
	return NULL;
}

/**
 * kaio_limits_charge_ctx() - count a new context against the limits
 * @uid: the creating user
 * @userp: the user's accounting and queues, for the context to hold
 *
 * Return: 0, -EAGAIN over max_contexts or max_user_contexts, -ENOMEM.
 */
int kaio_limits_charge_ctx(kuid_t uid, struct kaio_user **userp)
{
	struct kaio_user *user;
	int ret = -EAGAIN;

	mutex_lock(&kaio_users_lock);
	if (kaio_contexts_total >= kaio_max_contexts)
		goto out;
	user = kaio_user_find(uid);
	if (!user) {
		ret = -ENOMEM;
		user = kaio_user_alloc(uid);
		if (!user)
			goto out;
		hash_add(kaio_users, &user->node, __kuid_val(uid));
	}
	ret = -EAGAIN;
	/* max_user_contexts is at least 1: a new user always gets here. */
	if (user->contexts >= kaio_max_user_contexts)
		goto out;
	user->contexts++;
	kaio_contexts_total++;
	*userp = user;
	ret = 0;
out:
	mutex_unlock(&kaio_users_lock);
	return ret;
}

/**
 * kaio_limits_uncharge_ctx() - give back a context's charge; may sleep
 * @user: what kaio_limits_charge_ctx() gave; no request of the context
 *	may be left
 */
void kaio_limits_uncharge_ctx(struct kaio_user *user)
{
	bool last;

	mutex_lock(&kaio_users_lock);
	if (WARN_ON_ONCE(!user->contexts)) {
		mutex_unlock(&kaio_users_lock);
		return;
	}
	kaio_contexts_total--;
	last = !--user->contexts;
	if (last)
		hash_del(&user->node);
	mutex_unlock(&kaio_users_lock);
	if (last)
		kaio_user_free(user);
}

/**
 * kaio_limits_charge_pin() - reserve pinnable pages for a request
 * @nr_pages: pages its buffer spans
 *
 * Reserved at submission, for every read and write, because whether a
 * request will have to pin is only known after its first attempt.
 *
 * Return: 0, -EAGAIN while requests in flight hold the budget, -ENOMEM when
 * the buffer is larger than the whole budget.
 */
int kaio_limits_charge_pin(unsigned long nr_pages)
{
	long limit = kaio_max_pinned_pages();
	long old = atomic_long_read(&kaio_pinned_pages);

	if (nr_pages > limit)
		return -ENOMEM;
	do {
		if (old > limit - (long)nr_pages)
			return -EAGAIN;
	} while (!atomic_long_try_cmpxchg(&kaio_pinned_pages, &old,
					  old + nr_pages));
	return 0;
}

void kaio_limits_uncharge_pin(unsigned long nr_pages)
{
	atomic_long_sub(nr_pages, &kaio_pinned_pages);
}

long kaio_limits_pinned_pages(void)
{
	return atomic_long_read(&kaio_pinned_pages);
}

unsigned int kaio_limits_contexts(void)
{
	return READ_ONCE(kaio_contexts_total);
}

/**
 * kaio_limits_charge_events() - reserve a new context's events
 * @nr: the events SETUP asked for
 *
 * Return: true if all contexts together stay within max_events.
 */
bool kaio_limits_charge_events(unsigned int nr)
{
	unsigned int max = READ_ONCE(kaio_max_events);
	int old = atomic_read(&kaio_events_total);

	do {
		if (nr > max || old > max - nr)
			return false;
	} while (!atomic_try_cmpxchg(&kaio_events_total, &old, old + nr));
	return true;
}

/**
 * kaio_limits_uncharge_events() - give back what kaio_limits_charge_events()
 *	took
 * @nr: the same count
 */
void kaio_limits_uncharge_events(unsigned int nr)
{
	atomic_sub(nr, &kaio_events_total);
}

/**
 * kaio_limits_events() - events all contexts have reserved
 *
 * Return: the count, for the debugfs totals.
 */
int kaio_limits_events(void)
{
	return atomic_read(&kaio_events_total);
}

/**
 * kaio_limits_init() - at module load: kaio_cleanup_wq, all there is to set
 *	up here (kaio_limits_exit() is its teardown, after synchronize_rcu())
 *
 * kaio_cleanup_wq reaps and shuts down contexts only, none of which sleeps
 * for long: blocking attempts, retries and frees that may sleep run on each
 * user's own queues.
 *
 * Return: 0 or -ENOMEM.
 */
int kaio_limits_init(void)
{
	kaio_cleanup_wq = alloc_workqueue("kaio_cleanup", WQ_UNBOUND, 0);
	return kaio_cleanup_wq ? 0 : -ENOMEM;
}

/**
 * kaio_limits_exit() - at module unload, once no context is left
 */
void kaio_limits_exit(void)
{
	destroy_workqueue(kaio_cleanup_wq);
}

/**
 * kaio_limits_log() - the limits in force, to the kernel log at load
 */
void kaio_limits_log(void)
{
	pr_info("loaded: max_events=%u max_workers=%u per user\n",
		kaio_max_events, kaio_max_workers);
}
