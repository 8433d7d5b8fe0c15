// SPDX-License-Identifier: GPL-2.0
/*
 * kaio: retry-based asynchronous I/O for stock kernels.
 *
 * /dev/kaio creates io contexts (KAIO_IOC_SETUP); everything else happens on
 * the context fds (ctx.c). Module parameters bound what users can consume.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>
#include "kaio.h"
#include "ops.h"

struct workqueue_struct *kaio_cleanup_wq;
atomic_t kaio_events_total = ATOMIC_INIT(0);

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

unsigned int kaio_max_events = 65536;
module_param_cb(max_events, &kaio_positive_ops, &kaio_max_events, 0644);
MODULE_PARM_DESC(max_events,
		 "Events all contexts together may reserve, like fs.aio-max-nr (default: 65536)");

unsigned int kaio_max_contexts = 4096;
module_param_cb(max_contexts, &kaio_positive_ops, &kaio_max_contexts, 0644);
MODULE_PARM_DESC(max_contexts,
		 "Contexts open at once, all users together (default: 4096)");

unsigned int kaio_max_user_contexts = 1024;
module_param_cb(max_user_contexts, &kaio_positive_ops, &kaio_max_user_contexts,
		0644);
MODULE_PARM_DESC(max_user_contexts,
		 "Contexts open at once per user (default: 1024)");

static unsigned int g_max_pinned_mb;
module_param_named(max_pinned_mb, g_max_pinned_mb, uint, 0644);
MODULE_PARM_DESC(max_pinned_mb,
		 "User memory requests in flight may pin, in MiB (default: 0 = a quarter of RAM)");

unsigned long kaio_max_pinned_pages(void)
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

unsigned int kaio_max_workers = 16;
module_param_cb(max_workers, &kaio_positive_ops, &kaio_max_workers, 0444);
MODULE_PARM_DESC(max_workers,
		 "Blocking attempts running at once, per user (default: 16)");

static long kaio_dev_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case KAIO_IOC_SETUP:
		return kaio_ctx_setup((struct kaio_setup __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kaio_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= kaio_dev_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice kaio_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kaio",
	.fops	= &kaio_dev_fops,
};

static int __init kaio_init(void)
{
	int ret;

	ret = kaio_ops_init();
	if (ret)
		return ret;
	ret = kaio_req_cache_init();
	if (ret)
		return ret;
	ret = -ENOMEM;
	/*
	 * Reaping and shutting down contexts only, none of which sleeps for
	 * long: blocking attempts, retries and frees that may sleep run on
	 * each user's own queues.
	 */
	kaio_cleanup_wq = alloc_workqueue("kaio_cleanup", WQ_UNBOUND, 0);
	if (!kaio_cleanup_wq)
		goto out_cache;

	kaio_stats_init();
	kaio_miscdev.mode = g_dev_mode & 0777;
	ret = misc_register(&kaio_miscdev);
	if (ret)
		goto out_stats;
	pr_info("loaded: max_events=%u max_workers=%u per user\n",
		kaio_max_events, kaio_max_workers);
	return 0;

out_stats:
	kaio_stats_exit();
	destroy_workqueue(kaio_cleanup_wq);
out_cache:
	kaio_req_cache_exit();
	return ret;
}

static void __exit kaio_exit(void)
{
	misc_deregister(&kaio_miscdev);
	kaio_stats_exit();
	/*
	 * A completion in irq context, or in another subsystem's task
	 * inside kaio_rw_complete()'s RCU read side, may still be returning
	 * through us; every user's queues were drained with its last context.
	 */
	synchronize_rcu();
	destroy_workqueue(kaio_cleanup_wq);
	kaio_mm_exit();
	kaio_req_cache_exit();
}

module_init(kaio_init);
module_exit(kaio_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kaio: retry-based asynchronous I/O");
