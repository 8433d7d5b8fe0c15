// SPDX-License-Identifier: GPL-2.0
/*
 * kaio: retry-based asynchronous I/O for stock kernels.
 *
 * /dev/kaio creates io contexts (KAIO_IOC_SETUP); everything else happens on
 * the context fds (ctx.c). This file only registers the device and brings
 * the others up and down; module parameters live in limits.c.
 *
 * The files, each using only those below it:
 *   main.c    the device, module init and exit
 *   ctx.c     the context file: fops, ioctls, setup, shutdown, release
 *   mm.c      contexts die with their mm
 *   submit.c  SUBMIT: iocbs to requests
 *   cancel.c  CANCEL, and cancelling all of a context's requests
 *   ops.c     the opcode table
 *   rw.c, poll.c, fsync.c, noop.c  the ops, each with its header and its
 *             own state in the request (kaio_req_cmd())
 *   req.c     the request: states, alloc, issue, punt, work, complete, free
 *   ring.c    the event ring: reservation, posting, reading, mapping
 *   notify.c  completion signals, sent by each context's worker after
 *             the post
 *   stats.c   counters and tracepoints
 *   limits.c  module parameters, budgets, per-user queues
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include "kaio.h"
#include "ops.h"
#include "rw.h"

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

/*
 * A fixed misc minor, so that the node can exist before the module does:
 * depmod turns MODULE_ALIAS("devname:kaio") and the char-major-10-246 alias
 * of MODULE_ALIAS_MISCDEV() into a line of modules.devname, kmod
 * static-nodes (systemd's kmod-static-nodes.service) makes /dev/kaio from
 * it at boot, and the first open of that node has misc_open() call
 * request_module("char-major-10-246"), which loads kaio. A dynamic minor
 * cannot be known before the module is loaded, so it would need a modprobe
 * first.
 *
 * 246 is in the range Documentation/admin-guide/devices.txt (6.1) keeps for
 * local use (243-254), where no number is ever assigned: 6.1's
 * include/linux/miscdevice.h and devices.txt end their fixed numbers at
 * RFKILL_MINOR 242, and 255 is MISC_DYNAMIC_MINOR. Dynamic minors come
 * from 0-127 in 6.1, so they cannot take it either. Of that range it avoids
 * 243 (the first free number, the one others pick) and 249 (OpenZFS's
 * /dev/zfs, an out-of-tree module Debian users may well have). If another
 * driver holds 246 anyway, kaio refuses to load rather than register
 * elsewhere: the static node 10:246 would then open that driver.
 */
#define KAIO_MISC_MINOR	246

static struct miscdevice kaio_miscdev = {
	.minor	= KAIO_MISC_MINOR,
	.name	= "kaio",
	.fops	= &kaio_dev_fops,
};

static int __init kaio_init(void)
{
	unsigned int useroffset, usersize;
	int ret;

	ret = kaio_ops_init();
	if (ret)
		return ret;
	kaio_rw_usercopy_region(&useroffset, &usersize);
	ret = kaio_req_cache_init(useroffset, usersize);
	if (ret)
		return ret;
	ret = kaio_limits_init();
	if (ret)
		goto out_cache;

	kaio_stats_init();
	kaio_miscdev.mode = kaio_limits_dev_mode();
	ret = misc_register(&kaio_miscdev);
	if (ret == -EBUSY)
		pr_err("misc minor %d (/dev/kaio) is taken by another driver\n",
		       KAIO_MISC_MINOR);
	if (ret)
		goto out_stats;
	kaio_limits_log();
	return 0;

out_stats:
	kaio_stats_exit();
	kaio_limits_exit();
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
	kaio_limits_exit();
	kaio_mm_exit();
	kaio_req_cache_exit();
}

module_init(kaio_init);
module_exit(kaio_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kaio: retry-based asynchronous I/O");
MODULE_VERSION(KAIO_VERSION);	/* the top-level VERSION file, via module/Kbuild */
MODULE_ALIAS_MISCDEV(KAIO_MISC_MINOR);
MODULE_ALIAS("devname:kaio");
