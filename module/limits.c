// SPDX-License-Identifier: GPL-2.0
/*
 * What users may consume, bounded by module parameters: contexts (in total
 * and per user), events (in total, like fs.aio-max-nr) and user memory
 * pinned by requests in flight. Going over a limit is an errno for the
 * caller (EAGAIN: try again once something is released; ENOMEM: can never
 * fit), never an allocation failure or a warning.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include "kaio.h"

struct kaio_user {
	struct hlist_node	node;
	kuid_t			uid;
	unsigned int		contexts;
};

static DEFINE_MUTEX(kaio_users_lock);
static DEFINE_HASHTABLE(kaio_users, 6);
static unsigned int kaio_contexts_total;	/* under kaio_users_lock */
static atomic_long_t kaio_pinned_pages = ATOMIC_LONG_INIT(0);

static struct kaio_user *kaio_user_find(kuid_t uid)
{
	struct kaio_user *user;

	hash_for_each_possible(kaio_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

/**
 * kaio_limits_charge_ctx() - count a new context against the limits
 * @uid: the creating user
 *
 * Return: 0, -EAGAIN over max_contexts or max_user_contexts, -ENOMEM.
 */
int kaio_limits_charge_ctx(kuid_t uid)
{
	struct kaio_user *user;
	int ret = -EAGAIN;

	mutex_lock(&kaio_users_lock);
	if (kaio_contexts_total >= kaio_max_contexts)
		goto out;
	user = kaio_user_find(uid);
	if (!user) {
		ret = -ENOMEM;
		user = kzalloc(sizeof(*user), GFP_KERNEL_ACCOUNT);
		if (!user)
			goto out;
		user->uid = uid;
		hash_add(kaio_users, &user->node, __kuid_val(uid));
	}
	ret = -EAGAIN;
	if (user->contexts >= kaio_max_user_contexts) {
		if (!user->contexts) {
			hash_del(&user->node);
			kfree(user);
		}
		goto out;
	}
	user->contexts++;
	kaio_contexts_total++;
	ret = 0;
out:
	mutex_unlock(&kaio_users_lock);
	return ret;
}

void kaio_limits_uncharge_ctx(kuid_t uid)
{
	struct kaio_user *user;

	mutex_lock(&kaio_users_lock);
	user = kaio_user_find(uid);
	if (!WARN_ON_ONCE(!user || !user->contexts)) {
		kaio_contexts_total--;
		if (!--user->contexts) {
			hash_del(&user->node);
			kfree(user);
		}
	}
	mutex_unlock(&kaio_users_lock);
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
