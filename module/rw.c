// SPDX-License-Identifier: GPL-2.0
/*
 * PREAD, PWRITE, PREADV, PWRITEV.
 *
 * The first attempt runs in the submitter's context with IOCB_NOWAIT, on the
 * user's own iovec: page-cache hits complete there. O_DIRECT is pinned first
 * and queued to the block layer, and completes through ki_complete, in its
 * bio's irq completion, where it is also freed. What would block is kept
 * where it stopped (bytes_done, the iterator), and the rest of the user
 * buffer is pinned and described as a bvec iterator, so that nothing after
 * the submitter ever touches its memory map. Then:
 *  - buffered reads of files that can wait for pages asynchronously
 *    (FMODE_BUF_RASYNC) arm a page-wait callback (IOCB_WAITQ); its wake-up
 *    queues a retry that reads on from where the last attempt stopped;
 *  - everything else makes one blocking attempt on the bounded worker pool.
 * A cold read whose atime is due makes no attempt in SUBMIT: a worker
 * updates the atime, which may wait for the device, then goes on as SUBMIT
 * would have. Warm reads and RWF_NOWAIT reads complete in SUBMIT, as native
 * AIO's, atime update included.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/ioprio.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/bvec.h>
#include <uapi/linux/magic.h>
#include "kaio.h"
#include "rw.h"
#include "trace.h"

/* A 4 KiB buffer spans at most two pages. */
#define KAIO_RW_INLINE_PAGES	2

/* kaio_rw.issuing: an O_DIRECT refusal inside the issuing call. */
enum {
	KAIO_RW_RETURNED,	/* no issuing call in progress */
	KAIO_RW_IN_CALL,	/* the first attempt's call has not returned */
	KAIO_RW_REISSUE,	/* refused meanwhile: the issuer punts */
};

/*
 * Per-request state of reads and writes. Requests are not zeroed (a 4 KiB
 * read would clear ~600 bytes that it then overwrites): prep clears the
 * scalars, up to @kiocb, and sets the rest before anything reads it.
 */
struct kaio_rw {
	struct iovec		*iov;		/* allocated iovec, or NULL */
	struct page		**pages;	/* pinned user pages, or NULL */
	struct bio_vec		*bvec;
	unsigned int		nr_pages;
	unsigned long		pin_charged;	/* pages reserved at prep */
	int			base_flags;	/* ki_flags every attempt starts from */
	atomic_t		issuing;	/* KAIO_RW_* */
	atomic_t		ki_pending;	/* ki_complete calls still due */
	ssize_t			bytes_done;	/* progress of earlier attempts */
	bool			pinned;		/* iter is the bvec of pages */
	bool			write_started;	/* holds sb freeze protection */
	bool			over_budget;	/* no pins: done in SUBMIT */
	bool			redirty;	/* cleanup dirties pages again */
	bool			atime_first;	/* a worker updates the atime */
	/* Not cleared: set by prep, by the attempts or when pinning. */
	struct kiocb		kiocb;
	struct wait_page_queue	wpq;		/* the page-wait callback */
	struct iov_iter		iter;
	struct iov_iter		saved_iter;	/* where the attempt started */
	struct iovec		fast_iov[UIO_FASTIOV];
	/* pages and bvec of small buffers, without two allocations */
	struct page		*inline_pages[KAIO_RW_INLINE_PAGES];
	struct bio_vec		inline_bvec[KAIO_RW_INLINE_PAGES];
};

static struct kaio_rw *kaio_rw(struct kaio_req *req)
{
	return kaio_req_cmd(req, struct kaio_rw);
}

static struct kaio_req *kaio_rw_req(struct kaio_rw *rw)
{
	return kaio_cmd_req(rw);
}

/* ioprio_check_cap() is not exported; the same rules as block/ioprio.c. */
static int kaio_ioprio_check(u16 ioprio)
{
	int data = IOPRIO_PRIO_DATA(ioprio);

	switch (IOPRIO_PRIO_CLASS(ioprio)) {
	case IOPRIO_CLASS_RT:
		if (!capable(CAP_SYS_NICE) && !capable(CAP_SYS_ADMIN))
			return -EPERM;
		fallthrough;
	case IOPRIO_CLASS_BE:
		if (data >= IOPRIO_NR_LEVELS || data < 0)
			return -EINVAL;
		break;
	case IOPRIO_CLASS_IDLE:
		break;
	case IOPRIO_CLASS_NONE:
		if (data)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static void kaio_rw_complete(struct kiocb *kiocb, long res);

/*
 * Whether this request will pin is known only later: reserve for it now.
 * Only requests that can pin (O_DIRECT, or a file a worker may block on;
 * both need a block device, block file system, tmpfs or ramfs) count.
 *
 * Native AIO never refuses a request for its size, so neither does kaio:
 * a request the budget cannot hold pins nothing and is done as native AIO
 * does it, in SUBMIT (kaio_rw_in_submit()). Never on a worker with the
 * submitter's mm borrowed: a fault there can wait for ever on a FUSE or
 * userfaultfd mapping the user controls, in a thread nobody can kill,
 * holding the mm.
 */
static bool kaio_rw_write_in_submit(struct kaio_req *req);

static void kaio_rw_charge_pin(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);
	unsigned long nr_pages;

	/* A write done in SUBMIT never pins: it must hold no budget. */
	if (!kaio_file_may_punt(req->file) || kaio_rw_write_in_submit(req))
		return;
	nr_pages = iov_iter_npages(&rw->iter, INT_MAX);
	if (!kaio_limits_charge_pin(nr_pages))
		rw->pin_charged = nr_pages;
	else
		rw->over_budget = true;
}
static int kaio_rw_wake_page(struct wait_queue_entry *wait, unsigned int mode,
			     int sync, void *key);
static bool kaio_rw_more(struct kaio_req *req);
static bool kaio_rw_may_punt(struct kaio_req *req);

/* Validation in fs/aio.c's order, so the errnos match native AIO. */
int kaio_rw_prep(struct kaio_req *req, const struct iocb *iocb)
{
	bool is_write = req->op->is_write;
	struct kaio_rw *rw = kaio_rw(req);
	struct kiocb *kiocb = &rw->kiocb;
	struct file *file = req->file;
	void __user *buf = u64_to_user_ptr(iocb->aio_buf);
	int dir = is_write ? ITER_SOURCE : ITER_DEST;
	ssize_t ret;

	/* First: cleanup runs on whatever prep left when it fails. */
	memset(rw, 0, offsetof(struct kaio_rw, kiocb));
	kiocb->ki_filp = file;
	kiocb->ki_pos = iocb->aio_offset;
	kiocb->ki_complete = kaio_rw_complete;
	kiocb->private = NULL;
	kiocb->ki_waitq = NULL;
	kiocb->ki_flags = file->f_iocb_flags;
	if (iocb->aio_flags & IOCB_FLAG_IOPRIO) {
		ret = kaio_ioprio_check(iocb->aio_reqprio);
		if (ret)
			return ret;
		kiocb->ki_ioprio = iocb->aio_reqprio;
	} else {
		kiocb->ki_ioprio = get_current_ioprio();
	}
	ret = kiocb_set_rw_flags(kiocb, iocb->aio_rw_flags);
	if (unlikely(ret))
		return ret;
	kiocb->ki_flags &= ~IOCB_HIPRI;	/* nobody polls for completions */

	if (is_write) {
		if (unlikely(!(file->f_mode & FMODE_WRITE)))
			return -EBADF;
		if (unlikely(!file->f_op->write_iter))
			return -EINVAL;
		kiocb->ki_flags |= IOCB_WRITE;
	} else {
		if (unlikely(!(file->f_mode & FMODE_READ)))
			return -EBADF;
		if (unlikely(!file->f_op->read_iter))
			return -EINVAL;
	}
	rw->wpq.wait.func = kaio_rw_wake_page;
	rw->wpq.wait.private = req;
	rw->wpq.wait.flags = 0;		/* never exclusive */
	INIT_LIST_HEAD(&rw->wpq.wait.entry);

	if (req->op->vectored) {
		rw->iov = rw->fast_iov;
		ret = import_iovec(dir, buf, iocb->aio_nbytes, UIO_FASTIOV,
				   &rw->iov, &rw->iter);
	} else {
		rw->iov = NULL;
		ret = import_single_range(dir, buf, iocb->aio_nbytes,
					  &rw->fast_iov[0], &rw->iter);
	}
	if (unlikely(ret < 0))
		return ret;

	/* Once, here: retries must not check again under other credentials. */
	ret = rw_verify_area(is_write ? WRITE : READ, file, &kiocb->ki_pos,
			     iov_iter_count(&rw->iter));
	if (ret)
		return ret;
	kaio_rw_charge_pin(req);
	return 0;
}

/* import_iovec() copies user iovecs into fast_iov: the cache whitelists it. */
void kaio_rw_usercopy_region(unsigned int *offset, unsigned int *size)
{
	static_assert(offsetof(struct kaio_rw, fast_iov) +
		      sizeof_field(struct kaio_rw, fast_iov) <= KAIO_REQ_CMD_SIZE);

	*offset = offsetof(struct kaio_req, cmd) +
		  offsetof(struct kaio_rw, fast_iov);
	*size = sizeof_field(struct kaio_rw, fast_iov);
}

static bool kaio_rw_is_reg(struct kaio_req *req)
{
	return S_ISREG(file_inode(req->file)->i_mode);
}

/*
 * Freeze protection of a write is held from its first attempt to its
 * completion, which may run in another context: tell lockdep, as fs/aio.c.
 */
static bool kaio_rw_start_write(struct kaio_req *req, bool nowait)
{
	struct kaio_rw *rw = kaio_rw(req);

	if (!req->op->is_write || rw->write_started || !kaio_rw_is_reg(req))
		return true;
	if (nowait) {
		if (!file_start_write_trylock(req->file))
			return false;
	} else {
		file_start_write(req->file);
	}
	__sb_writers_release(file_inode(req->file)->i_sb, SB_FREEZE_WRITE);
	rw->write_started = true;
	return true;
}

static void kaio_rw_end_write(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);

	if (!rw->write_started)
		return;
	rw->write_started = false;
	__sb_writers_acquired(file_inode(req->file)->i_sb, SB_FREEZE_WRITE);
	file_end_write(req->file);
}

/* The event's result: progress of earlier attempts counts, as for pread. */
static long kaio_rw_result(struct kaio_req *req, long ret)
{
	ssize_t done = kaio_rw(req)->bytes_done;

	switch (ret) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		ret = -EINTR;	/* other requests may be running: no restart */
		break;
	}
	kaio_rw_end_write(req);
	if (ret < 0)
		return done ? done : ret;
	return done + ret;
}

/*
 * Did an attempt with kaio's own IOCB_NOWAIT fail only because it could not
 * wait? Some drivers (dm-error, in 6.1 every bio-based dm target) refuse
 * REQ_NOWAIT bios with -EOPNOTSUPP although their block device claims
 * FMODE_NOWAIT; io_uring retries those without NOWAIT too.
 */
static bool kaio_rw_nowait_refused(struct kaio_req *req, long res)
{
	struct kaio_rw *rw = kaio_rw(req);

	if (!(rw->kiocb.ki_flags & IOCB_NOWAIT) ||
	    (rw->base_flags & IOCB_NOWAIT))
		return false;
	return res == -EAGAIN || res == -EOPNOTSUPP;
}

/*
 * Again, blocking, from where the refused attempt started. The buffer is
 * pinned. Freeze protection is dropped first
 * and retaken by the worker, as io_uring does: held across the punt, a
 * freeze waiting for it and the worker waiting for the thaw would wait for
 * each other. Any context: file_end_write() is irq-safe (fs/aio.c ends
 * writes in their bio's completion).
 */
static void kaio_rw_reissue(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);

	rw->iter = rw->saved_iter;
	kaio_rw_end_write(req);
	kaio_req_punt(req);
}

static void __kaio_rw_complete(struct kaio_req *req, long res)
{
	struct kaio_rw *rw = kaio_rw(req);

	WARN_ON_ONCE(atomic_dec_return(&rw->ki_pending) < 0);

	/* A NOWAIT attempt the block layer could not take without waiting. */
	if (kaio_rw_nowait_refused(req, res) && kaio_rw_may_punt(req)) {
		/*
		 * Still inside the issuing ->read_iter/->write_iter (bio
		 * submission can fail the bio at once): block/fops.c uses the
		 * kiocb and iterator after it. The issuer punts once the call
		 * returned, as io_uring's io_rw_should_reissue().
		 */
		if (atomic_cmpxchg(&rw->issuing, KAIO_RW_IN_CALL,
				   KAIO_RW_REISSUE) == KAIO_RW_IN_CALL)
			return;
		/* The worker owns req from the punt: ours to the end. */
		refcount_inc(&req->refs);
		kaio_rw_reissue(req);
		kaio_req_put_callback(req);
		return;
	}
	kaio_stat_inc(req->ctx, KAIO_STAT_ASYNC);
	kaio_req_note_path(req, KAIO_PATH_ASYNC);
	kaio_req_complete(req, kaio_rw_result(req, res));
	kaio_req_put_callback(req);
}

/*
 * ki_complete. Also called in other subsystems' tasks (iomap's completion
 * workqueue), preemptible: the RCU read side lets module exit's
 * synchronize_rcu() wait for such a task, whose last put may let the
 * context, and with it the module, go; what is left after the unlock is
 * the return.
 */
static void kaio_rw_complete(struct kiocb *kiocb, long res)
{
	rcu_read_lock();
	__kaio_rw_complete(kaio_rw_req(container_of(kiocb, struct kaio_rw, kiocb)),
			   res);
	rcu_read_unlock();
}

/*
 * One attempt. The caller (kaio_req_issue() or kaio_req_work()) holds a
 * reference across it, because the file system may still use the kiocb
 * after -EIOCBQUEUED; the attempt's code must not touch the request after.
 */
static ssize_t kaio_rw_call(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);
	/*
	 * Buffered I/O's -EIOCBQUEUED is an armed page wait, not ki_complete.
	 * (Files that queue buffered I/O for ki_complete, as functionfs does,
	 * never get here: they have no FMODE_NOWAIT and cannot be punted, so
	 * kaio_rw_issue() answers -EAGAIN before any call.)
	 */
	bool direct = rw->kiocb.ki_flags & IOCB_DIRECT;
	ssize_t ret;

	/*
	 * Counted before the call: ki_complete may run before it returns.
	 * kaio_rw_cleanup() checks that none is due when the request is freed.
	 */
	if (direct)
		atomic_inc(&rw->ki_pending);
	if (req->op->is_write)
		ret = call_write_iter(req->file, &rw->kiocb, &rw->iter);
	else
		ret = call_read_iter(req->file, &rw->kiocb, &rw->iter);
	if (direct && ret != -EIOCBQUEUED)
		atomic_dec(&rw->ki_pending);
	return ret;
}

/*
 * bio_set_pages_dirty() for the pinned pages, and bio_check_pages_dirty()'s
 * test, per folio as 6.1's: large folios too (xfs page cache, THP), which
 * older kernels' bio code skipped and a read into them would then leave
 * clean. Marked even when already dirty, as bio_set_pages_dirty() does:
 * for buffer_head file systems that also dirties every buffer. A run of
 * pages in one folio is one folio.
 */
static void kaio_rw_dirty_pages(struct kaio_rw *rw)
{
	struct folio *last = NULL;
	unsigned long i;

	for (i = 0; i < rw->nr_pages; i++) {
		struct folio *folio = page_folio(rw->pages[i]);

		if (folio == last)
			continue;
		last = folio;
		folio_lock(folio);
		folio_mark_dirty(folio);
		folio_unlock(folio);
	}
}

static bool kaio_rw_pages_dirty(struct kaio_rw *rw)
{
	struct folio *last = NULL;
	unsigned long i;

	for (i = 0; i < rw->nr_pages; i++) {
		struct folio *folio = page_folio(rw->pages[i]);

		if (folio != last && !folio_test_dirty(folio))
			return false;
		last = folio;
	}
	return true;
}

/*
 * Pin what is left of the user buffer and describe it as a bvec iterator,
 * so that a worker can finish the request without the submitter's mm.
 * Pages a read will fill are dirtied now, in the submitter's context, as
 * bio_set_pages_dirty() does for native AIO: the release can then skip the
 * page lock wherever the request ends, irq context included.
 */
static int kaio_rw_pin(struct kaio_rw *rw)
{
	struct iov_iter *iter = &rw->iter;
	bool to_user = iov_iter_rw(iter) == READ;
	size_t count = iov_iter_count(iter);
	const struct iovec *iov;
	unsigned long nr_pages = 0, pinned = 0;
	unsigned int nr_bvec = 0;
	size_t left, skip;

	if (WARN_ON_ONCE(!iter_is_iovec(iter)))
		return -EINVAL;

	left = count;
	skip = iter->iov_offset;
	for (iov = iter->iov; left; iov++) {
		size_t len = min(iov->iov_len - skip, left);
		unsigned long addr = (unsigned long)iov->iov_base + skip;

		skip = 0;
		if (!len)
			continue;
		nr_pages += DIV_ROUND_UP(offset_in_page(addr) + len, PAGE_SIZE);
		left -= len;
	}

	if (nr_pages <= KAIO_RW_INLINE_PAGES) {
		rw->pages = rw->inline_pages;
		rw->bvec = rw->inline_bvec;
	} else {
		rw->pages = kvmalloc_array(nr_pages, sizeof(*rw->pages),
					   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		rw->bvec = kvmalloc_array(nr_pages, sizeof(*rw->bvec),
					  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!rw->pages || !rw->bvec)
			return -ENOMEM;
	}

	left = count;
	skip = iter->iov_offset;
	for (iov = iter->iov; left; iov++) {
		size_t len = min(iov->iov_len - skip, left);
		unsigned long addr = (unsigned long)iov->iov_base + skip;
		unsigned int off = offset_in_page(addr);
		unsigned long n = DIV_ROUND_UP(off + len, PAGE_SIZE);
		long got;

		skip = 0;
		if (!len)
			continue;
		got = pin_user_pages_fast(addr & PAGE_MASK, n,
					  to_user ? FOLL_WRITE : 0,
					  rw->pages + pinned);
		if (got > 0) {
			pinned += got;
			rw->nr_pages = pinned;
		}
		if (got != n)
			return got < 0 ? got : -EFAULT;
		left -= len;
		while (len) {
			unsigned int seg = min_t(size_t, len, PAGE_SIZE - off);

			rw->bvec[nr_bvec].bv_page = rw->pages[pinned - n];
			rw->bvec[nr_bvec].bv_offset = off;
			rw->bvec[nr_bvec].bv_len = seg;
			nr_bvec++;
			n--;
			off = 0;
			len -= seg;
		}
	}
	iov_iter_bvec(iter, iov_iter_rw(iter), rw->bvec, nr_bvec, count);
	rw->pinned = true;
	if (to_user)
		kaio_rw_dirty_pages(rw);
	return 0;
}

/*
 * After a short NOWAIT attempt, is there more to do? A read that reached
 * EOF is finished; anything else continues on a worker.
 */
static bool kaio_rw_more(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);
	struct inode *inode = file_inode(req->file);

	if (!iov_iter_count(&rw->iter))
		return false;
	/*
	 * The size is the mapping's: a block device node's own inode has
	 * none (its i_size is 0), the device's is its bdev inode's.
	 */
	if (!req->op->is_write && (S_ISREG(inode->i_mode) || S_ISBLK(inode->i_mode)))
		return rw->kiocb.ki_pos <
		       i_size_read(req->file->f_mapping->host);
	return true;
}

/* Others get the NOWAIT attempt's -EAGAIN: POLL is how to wait for them. */
static bool kaio_rw_may_punt(struct kaio_req *req)
{
	return kaio_file_may_punt(req->file);
}

/*
 * Can the first attempt use IOCB_NOWAIT and be trusted not to block?
 *
 * Not for a buffered O_APPEND write: a NOWAIT attempt may write part of it
 * and leave the rest to a worker, and another writer's append could land
 * between the two. Native AIO writes it in one ->write_iter call under the
 * inode lock; so does the worker. (Other buffered writes can be split the
 * same way, as io_uring's are: a reader may see the first part before the
 * rest; see Documentation/reliability.md.)
 */
static bool kaio_rw_nowait_ok(struct kaio_req *req)
{
	struct file *file = req->file;
	int flags = kaio_rw(req)->kiocb.ki_flags;

	if (!(file->f_mode & FMODE_NOWAIT))
		return false;
	if (req->op->is_write && !(flags & IOCB_DIRECT))
		return (file->f_mode & FMODE_BUF_WASYNC) &&
			!(flags & IOCB_APPEND);
	return true;
}

/*
 * Would the read's file_accessed() update the atime? Then a cold read makes
 * no attempt in SUBMIT: 6.1's read paths call it on every attempt, even one
 * refused with -EAGAIN, and the update is a transaction that may read the
 * inode's block from the device (xfs_trans_log_inode() reads the inode
 * cluster buffer once the inode was written back). A worker updates it
 * first.
 *
 * This is touch_atime()'s test, atime_needs_update() being unexported, made
 * to err to "yes", which costs only a worker hop: a strictatime mount says
 * yes always (the attempt may end in the next jiffy, and file_accessed()
 * runs at its end), relatime's day a minute early. What it cannot see: a
 * write or chmod by someone else between this test and the attempt makes
 * the attempt update the atime in SUBMIT (see Documentation/design.md).
 * The atime of a file on tmpfs, ramfs or devtmpfs (the usual home of block
 * device nodes; a node on a disk file system is still tested) is updated in
 * memory, and an atime that cannot be updated is never due.
 */
static bool kaio_rw_atime_due(struct kaio_req *req)
{
	struct file *file = req->file;
	struct inode *inode = file_inode(file);
	struct vfsmount *mnt = file->f_path.mnt;
	struct timespec64 now;

	if (req->op->is_write || (file->f_flags & O_NOATIME) ||
	    !iov_iter_count(&kaio_rw(req)->iter))
		return false;
	if ((inode->i_flags & S_NOATIME) || IS_NOATIME(inode) ||
	    (mnt->mnt_flags & MNT_NOATIME) || __mnt_is_readonly(mnt) ||
	    HAS_UNMAPPED_ID(mnt_user_ns(mnt), inode))
		return false;
	if (inode->i_sb->s_magic == TMPFS_MAGIC ||
	    inode->i_sb->s_magic == RAMFS_MAGIC)
		return false;
	if (!(mnt->mnt_flags & MNT_RELATIME))
		return true;
	now = current_time(inode);
	return timespec64_compare(&inode->i_mtime, &inode->i_atime) >= 0 ||
	       timespec64_compare(&inode->i_ctime, &inode->i_atime) >= 0 ||
	       now.tv_sec - inode->i_atime.tv_sec >= 24 * 60 * 60 - 60;
}

/*
 * Is every page the read would copy in the page cache and uptodate? Then it
 * completes inside SUBMIT, as native AIO's does, atime update included:
 * libaio programs (libaio's own harness among them) reap a warm read with
 * io_getevents(min_nr 0) right after io_submit. Only the cold ones, which
 * complete later anyway, take the atime to a worker.
 *
 * filemap_get_read_batch()'s walk, a reference held only while a folio is
 * looked at: a folio evicted or read in meanwhile costs a worker hop or an
 * atime update in SUBMIT, no more. A large read lets the scheduler in now
 * and then.
 */
static bool kaio_rw_all_cached(struct kaio_req *req)
{
	struct address_space *mapping = req->file->f_mapping;
	loff_t pos = kaio_rw(req)->kiocb.ki_pos;
	loff_t end = pos + iov_iter_count(&kaio_rw(req)->iter);
	loff_t isize = i_size_read(mapping->host);
	XA_STATE(xas, &mapping->i_pages, pos >> PAGE_SHIFT);
	unsigned int seen = 0;
	struct folio *folio;
	bool cached = false;
	pgoff_t last, next;

	/*
	 * At EOF the attempt reads nothing, but still updates the atime in
	 * SUBMIT, as native AIO's does. DAX has no page cache to look at
	 * (value entries) and its reads copy from memory: as warm.
	 */
	if (pos >= isize || IS_DAX(mapping->host))
		return true;
	last = (min(end, isize) - 1) >> PAGE_SHIFT;
	rcu_read_lock();
	for (folio = xas_load(&xas); folio; folio = xas_next(&xas)) {
		if (xas_retry(&xas, folio))
			continue;
		if (xa_is_value(folio) || xa_is_sibling(folio))
			break;
		if (!folio_try_get_rcu(folio)) {
			xas_reset(&xas);
			continue;
		}
		if (unlikely(folio != xas_reload(&xas))) {
			folio_put(folio);
			xas_reset(&xas);
			continue;
		}
		next = folio_next_index(folio);
		if (!folio_test_uptodate(folio)) {
			folio_put(folio);
			break;
		}
		folio_put(folio);
		if (next > last) {
			cached = true;
			break;
		}
		xas_advance(&xas, next - 1);
		if (!(++seen % 1024)) {
			/*
			 * Not xas_pause(): 6.1's skips pages after a
			 * multi-index entry. A restarted walk loads @next.
			 */
			xas_set(&xas, next);
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
	}
	rcu_read_unlock();
	return cached;
}

/*
 * The page-wait callback, as io_uring/rw.c's io_async_buf_func(). It runs
 * under the folio waitqueue's lock with irqs off, often in bio completion:
 * match the key, disarm (the entry is never exclusive, so waking it takes
 * nothing from other waiters), hand the retry on: to a task waiting in
 * GETEVENTS, else to the retry workqueue. Nothing that sleeps.
 *
 * It fires when the folio is unlocked, not when it is uptodate: the retry
 * finds out which (-EAGAIN for a read error or truncation).
 */
static int kaio_rw_wake_page(struct wait_queue_entry *wait, unsigned int mode,
			     int sync, void *key)
{
	struct wait_page_queue *wpq = container_of(wait, struct wait_page_queue,
						   wait);
	struct kaio_req *req = wait->private;
	struct kaio_rw *rw = kaio_rw(req);
	bool in_task_ok;

	if (!wake_page_match(wpq, key))
		return 0;
	rw->kiocb.ki_flags &= ~IOCB_WAITQ;
	list_del_init(&wait->entry);
	kaio_stat_inc(req->ctx, KAIO_STAT_WAKEUPS);
	trace_kaio_wake(req);
	/*
	 * A waiter in GETEVENTS makes NOWAIT attempts only: it can finish
	 * the read if this folio holds the rest of it (a page-aligned 4 KiB
	 * read always). A longer one would stop at the next page readahead
	 * still holds, and go to the retry workqueue from there, after a hop
	 * for nothing: it goes there now. A block device's read takes the
	 * bdev inode's lock, which BLKDISCARD holds for as long as it runs:
	 * never in the task. The attempt that armed us moved ki_pos and the
	 * iterator before arming; a file system's read touches neither
	 * after (blkdev_read_iter() does, for a read past the device's end:
	 * kaio_rw_issue() cut it to the device first).
	 */
	in_task_ok = !S_ISBLK(file_inode(req->file)->i_mode) &&
		     folio_pos(wpq->folio) + folio_size(wpq->folio) >=
		     rw->kiocb.ki_pos + iov_iter_count(&rw->iter);
	kaio_req_queue_retry(req, req->ctx->user->retry_wq, in_task_ok);
	return 1;
}

static bool kaio_rw_can_waitq(struct kaio_req *req)
{
	return !req->op->is_write && !(kaio_rw(req)->base_flags & IOCB_DIRECT) &&
	       (req->file->f_mode & FMODE_BUF_RASYNC);
}

/*
 * Progress of an attempt: count it and keep the iterator where it ended.
 * RLIMIT_FSIZE was applied at SUBMIT, so a length the file system cut
 * (s_maxbytes) may come back here: the next attempt's own checks cut it
 * again.
 */
static void kaio_rw_advance(struct kaio_rw *rw, size_t before, ssize_t ret)
{
	rw->bytes_done += ret;
	/* Some ->read_iter()s don't advance the iterator: make it so. */
	if (iov_iter_count(&rw->iter) != before - ret) {
		rw->iter = rw->saved_iter;
		iov_iter_advance(&rw->iter, ret);
	}
}

/*
 * Read on with the page-wait callback armed, until the callback owns the
 * request, the read is done, or only a blocking attempt can tell what is
 * wrong. The caller owns the request and the buffer is pinned.
 */
static enum kaio_issue kaio_rw_waitq_loop(struct kaio_req *req, long *res)
{
	struct kaio_rw *rw = kaio_rw(req);
	struct kaio_ctx *ctx = req->ctx;
	size_t before;
	ssize_t ret;

	for (;;) {
		rw->saved_iter = rw->iter;
		before = iov_iter_count(&rw->iter);
		/*
		 * From base_flags every time: filemap_read() leaves IOCB_NOWAIT
		 * set after a short read, and an attempt with it would never
		 * arm the callback.
		 */
		rw->kiocb.ki_flags = rw->base_flags | IOCB_WAITQ;
		rw->kiocb.ki_waitq = &rw->wpq;
		/* From here a canceller may mark the request. */
		kaio_req_arm_wait(req);
		/* Counted before: once armed, req and ctx are not ours. */
		kaio_stat_inc(ctx, KAIO_STAT_WAIT_ARMS);
		trace_kaio_arm(req);
		ret = kaio_rw_call(req);
		if (ret == -EIOCBQUEUED)
			return KAIO_ISSUE_QUEUED;
		kaio_stat_dec(ctx, KAIO_STAT_WAIT_ARMS);

		if (kaio_req_end_wait(req) != KAIO_REQ_WAIT_PAGE) {
			/*
			 * Reads only: what this attempt copied is dropped, so
			 * EINPROGRESS never ends in a full result.
			 */
			kaio_stat_inc(ctx, KAIO_STAT_CANCELLED);
			*res = kaio_rw_cancelled(req);
			return KAIO_ISSUE_DONE;
		}
		if (ret > 0) {
			kaio_rw_advance(rw, before, ret);
			if (kaio_rw_more(req))
				continue;
			ret = 0;
		}
		if (ret == -EAGAIN) {
			/* Not uptodate after the wake: a read error, or gone. */
			rw->iter = rw->saved_iter;
			return KAIO_ISSUE_PUNT;
		}
		*res = kaio_rw_result(req, ret);
		return KAIO_ISSUE_DONE;
	}
}

/*
 * The retry in a task waiting in GETEVENTS, whose timeout and signals must
 * hold: NOWAIT | NOIO attempts only (xfs then only tries its inode lock, a
 * locked page is not waited for, no readahead is started), and none when
 * the atime is due. The page the wake-up
 * was for is unlocked, so a 4 KiB read is done here; what would need a
 * wait (the next page still being read, a lock held by someone else, a
 * read error) goes back to the retry workqueue, progress kept, where it
 * arms the callback again or makes its blocking attempt. A fatal signal
 * stops the read path (filemap_read()): that too goes to the workqueue,
 * so the request is not cut short because a task that only ran it dies.
 */
static enum kaio_issue kaio_rw_retry_in_task(struct kaio_req *req, long *res)
{
	struct kaio_rw *rw = kaio_rw(req);
	size_t before;
	ssize_t ret;

	/* An atime update may wait for the journal: the worker's to do. */
	if (kaio_rw_atime_due(req))
		return KAIO_ISSUE_REQUEUE;
	for (;;) {
		rw->saved_iter = rw->iter;
		before = iov_iter_count(&rw->iter);
		/*
		 * NOIO too: readahead, sync or async (a PG_readahead folio),
		 * takes the mapping's invalidate lock and the file system's
		 * block mapping locks, and allocates, whatever NOWAIT says.
		 */
		rw->kiocb.ki_flags = rw->base_flags | IOCB_NOWAIT | IOCB_NOIO;
		ret = kaio_rw_call(req);
		if (ret > 0) {
			bool more;

			kaio_rw_advance(rw, before, ret);
			more = kaio_rw_more(req);
			if (more && !fatal_signal_pending(current))
				continue;
			if (more)
				return KAIO_ISSUE_REQUEUE;
			ret = 0;
		}
		if (kaio_rw_nowait_refused(req, ret) ||
		    (ret == -EINTR && fatal_signal_pending(current))) {
			rw->iter = rw->saved_iter;
			return KAIO_ISSUE_REQUEUE;
		}
		*res = kaio_rw_result(req, ret);
		return KAIO_ISSUE_DONE;
	}
}

/**
 * kaio_rw_retry() - continue a read after its page-wait callback fired
 * @req: the request, owned by the retry work item
 * @res: the result, for KAIO_ISSUE_DONE
 *
 * Return: what the attempt did (enum kaio_issue).
 */
enum kaio_issue kaio_rw_retry(struct kaio_req *req, long *res)
{
	enum kaio_req_state old = kaio_req_end_wait(req);

	if (old == KAIO_REQ_WAIT_PAGE)
		return kaio_req_in_task(req) ? kaio_rw_retry_in_task(req, res) :
					       kaio_rw_waitq_loop(req, res);
	/*
	 * Only the armed callback queues a retry. Anything else means the
	 * work ran for a request some other owner holds (an attempt in the
	 * block layer): completing it here would free it under that owner.
	 */
	if (WARN_ONCE(old != KAIO_REQ_WAIT_CANCELLED,
		      "kaio: retry of a request in state %d\n", old))
		return KAIO_ISSUE_QUEUED;
	kaio_stat_inc(req->ctx, KAIO_STAT_CANCELLED);
	*res = kaio_rw_cancelled(req);
	return KAIO_ISSUE_DONE;
}

/**
 * kaio_rw_cancelled() - the event's result for a cancelled read or write
 * @req: the request, owned by the caller
 *
 * Return: -ECANCELED if no byte moved, else the bytes earlier attempts
 * moved: a short result, as for a read(2) a signal interrupted.
 */
long kaio_rw_cancelled(struct kaio_req *req)
{
	return kaio_rw_result(req, -ECANCELED);
}

/*
 * RLIMIT_FSIZE is the submitter's, so it is applied here, in its context,
 * as generic_write_check_limits() would: a worker is a kthread, whose limit
 * is infinite. Past the limit: SIGXFSZ to the submitter and -EFBIG, as
 * native AIO's write in io_submit does; else the write is cut to fit. An
 * O_APPEND write is not measured here: its position is only known under
 * the inode lock, so it is done in SUBMIT (kaio_rw_in_submit()).
 */
static bool kaio_rw_fsize_exceeded(struct kaio_req *req)
{
	struct inode *inode = file_inode(req->file);
	struct kaio_rw *rw = kaio_rw(req);
	unsigned long limit = rlimit(RLIMIT_FSIZE);
	loff_t pos;

	if (!req->op->is_write || limit == RLIM_INFINITY ||
	    !S_ISREG(inode->i_mode) || !iov_iter_count(&rw->iter))
		return false;
	pos = rw->kiocb.ki_flags & IOCB_APPEND ? i_size_read(inode) :
						 rw->kiocb.ki_pos;
	if (pos >= limit) {
		send_sig(SIGXFSZ, current, 0);
		return true;
	}
	iov_iter_truncate(&rw->iter, limit - pos);
	return false;
}

/*
 * KAIO_SETUP_WRITES_IN_SUBMIT: a buffered write is done inside SUBMIT, as
 * native AIO's is, rather than on a worker. With no NOWAIT attempt before
 * it: that one ->write_iter call under the inode lock is what makes native
 * AIO's buffered write atomic to readers that take the lock and to other
 * O_APPEND writers (a NOWAIT attempt that stopped part way would split it).
 */
static bool kaio_rw_write_in_submit(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);

	return req->ctx->writes_in_submit && req->op->is_write &&
		!(rw->kiocb.ki_flags & IOCB_DIRECT);
}

/*
 * Requests done as native AIO does them, with one blocking attempt inside
 * SUBMIT, in the submitter (which a fatal signal can stop): those the pin
 * budget cannot hold, O_APPEND writes under a finite RLIMIT_FSIZE, whose
 * limit is checked against the size under the inode lock, and buffered
 * writes of a KAIO_SETUP_WRITES_IN_SUBMIT context. A worker could do the
 * first two neither safely. RWF_NOWAIT still gets one NOWAIT attempt.
 */
static bool kaio_rw_in_submit(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);
	int flags = rw->kiocb.ki_flags;

	if ((flags & IOCB_NOWAIT) || !kaio_rw_may_punt(req))
		return false;
	if (rw->over_budget || kaio_rw_write_in_submit(req))
		return true;
	return req->op->is_write && (flags & IOCB_APPEND) &&
		rlimit(RLIMIT_FSIZE) != RLIM_INFINITY;
}

enum kaio_issue kaio_rw_issue(struct kaio_req *req, long *res)
{
	struct kaio_rw *rw = kaio_rw(req);
	struct kiocb *kiocb = &rw->kiocb;
	bool user_nowait = kiocb->ki_flags & IOCB_NOWAIT;
	bool direct = kiocb->ki_flags & IOCB_DIRECT;
	size_t before;
	ssize_t ret;

	rw->base_flags = kiocb->ki_flags;
	/*
	 * A buffered read of a block device, cut to the device's end here,
	 * as blkdev_read_iter() would cut it on every call and expand it
	 * again on the way out, after an armed page wait's callback may
	 * already look at the iterator or a retry use it.
	 */
	if (!req->op->is_write && !direct &&
	    S_ISBLK(file_inode(req->file)->i_mode)) {
		loff_t size = i_size_read(req->file->f_mapping->host);

		if (kiocb->ki_pos >= size)
			iov_iter_truncate(&rw->iter, 0);
		else
			iov_iter_truncate(&rw->iter, size - kiocb->ki_pos);
	}
	if (unlikely(kaio_rw_in_submit(req)))
		return kaio_rw_work(req, res);
	if (unlikely(kaio_rw_fsize_exceeded(req))) {
		ret = -EFBIG;
		goto done;
	}
	if (!user_nowait && !kaio_rw_nowait_ok(req))
		goto punt;
	/*
	 * A read the pin budget cannot hold never gets here: it is done in
	 * SUBMIT (kaio_rw_in_submit()) or is RWF_NOWAIT. O_DIRECT calls
	 * file_accessed() whatever the page cache holds, and completes later
	 * anyway: it hops unless there is nothing to read.
	 */
	if (!user_nowait && kaio_rw_may_punt(req) && kaio_rw_atime_due(req) &&
	    (direct ? kiocb->ki_pos < i_size_read(req->file->f_mapping->host) :
		      !kaio_rw_all_cached(req))) {
		rw->atime_first = true;
		goto punt;
	}
	/*
	 * O_DIRECT may be queued and still be refused NOWAIT in ki_complete,
	 * possibly in irq context: pin first, so that any context can punt
	 * it. The block layer then takes the bvec as it is (no second pin).
	 * Without a worker to punt to, or a budget, the block layer pins.
	 */
	if (direct && kaio_rw_may_punt(req) && !rw->over_budget) {
		ret = kaio_rw_pin(rw);
		if (ret)
			goto done;
	}
	if (!kaio_rw_start_write(req, true)) {
		ret = -EAGAIN;
		if (user_nowait)
			goto done;
		goto punt;
	}

	rw->saved_iter = rw->iter;
	before = iov_iter_count(&rw->iter);
	kiocb->ki_flags = rw->base_flags | IOCB_NOWAIT;
	if (direct)
		atomic_set(&rw->issuing, KAIO_RW_IN_CALL);
	ret = kaio_rw_call(req);
	if (ret == -EIOCBQUEUED) {
		/* ki_complete owns req now, unless it left us a reissue. */
		if (direct && atomic_xchg(&rw->issuing, KAIO_RW_RETURNED) ==
			      KAIO_RW_REISSUE)
			kaio_rw_reissue(req);
		return KAIO_ISSUE_QUEUED;
	}
	/* A ki_complete that also returned a result: finish it here. */
	if (direct && WARN_ON_ONCE(atomic_xchg(&rw->issuing, KAIO_RW_RETURNED) ==
				   KAIO_RW_REISSUE)) {
		kaio_rw_reissue(req);
		return KAIO_ISSUE_QUEUED;
	}

	if (ret > 0) {
		kaio_rw_advance(rw, before, ret);
		ret = 0;
		if (!kaio_rw_more(req))
			goto done;
	} else if (kaio_rw_nowait_refused(req, ret)) {
		rw->iter = rw->saved_iter;
		ret = -EAGAIN;
	} else {
		goto done;	/* EOF or a real error */
	}
	if (user_nowait)
		goto done;	/* the caller asked for this attempt only */
punt:
	if (!kaio_rw_may_punt(req)) {
		ret = -EAGAIN;
		goto done;
	}
	/* The worker takes freeze protection itself; see kaio_rw_reissue(). */
	kaio_rw_end_write(req);
	if (!rw->pinned) {
		ret = kaio_rw_pin(rw);
		if (ret)
			goto done;
	}
	if (kaio_rw_can_waitq(req) && !rw->atime_first)
		return kaio_rw_waitq_loop(req, res);
	return KAIO_ISSUE_PUNT;
done:
	*res = kaio_rw_result(req, ret);
	return KAIO_ISSUE_DONE;
}

/*
 * The blocking attempt: on a worker, on the pinned buffer; or inside SUBMIT
 * (kaio_rw_in_submit()), on the user's own.
 */
enum kaio_issue kaio_rw_work(struct kaio_req *req, long *res)
{
	struct kaio_rw *rw = kaio_rw(req);
	ssize_t ret;

	/*
	 * An atime update kaio_rw_atime_due() kept out of SUBMIT: done here,
	 * where it may wait; the read then waits for its pages as in SUBMIT.
	 * Other reads make their attempt, which updates it itself.
	 */
	if (rw->atime_first) {
		rw->atime_first = false;
		if (kaio_rw_can_waitq(req)) {
			file_accessed(req->file);
			return kaio_rw_waitq_loop(req, res);
		}
	}
	kaio_rw_start_write(req, false);
	rw->kiocb.ki_flags = rw->base_flags;
	ret = kaio_rw_call(req);
	if (ret == -EIOCBQUEUED)
		return KAIO_ISSUE_QUEUED;
	*res = kaio_rw_result(req, ret);
	return KAIO_ISSUE_DONE;
}

/**
 * kaio_rw_cleanup_sleeps() - must kaio_rw_cleanup() sleep? Decided here
 * @req: the request, whose last reference is gone
 *
 * Only when a page a read filled was cleaned (written back) since
 * kaio_rw_pin() dirtied it: dirtying it again takes the page lock. This is
 * bio_check_pages_dirty()'s test; it almost never holds. The answer is
 * kept for kaio_rw_cleanup(), which may run in a context that must not
 * sleep on a page lock: a page still dirty now, after the I/O ended, needs
 * nothing more even if writeback cleans it meanwhile (that writeback
 * writes what the I/O put there).
 *
 * Return: true if it must.
 */
bool kaio_rw_cleanup_sleeps(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);

	rw->redirty = rw->nr_pages && !req->op->is_write && !kaio_rw_pages_dirty(rw);
	return rw->redirty;
}

void kaio_rw_cleanup(struct kaio_req *req)
{
	struct kaio_rw *rw = kaio_rw(req);

	/* Freed while the file system still owns the kiocb: a refcount bug. */
	if (WARN_ON_ONCE(atomic_read(&rw->ki_pending)))
		kaio_req_mark_no_reuse(req);
	kaio_rw_end_write(req);
	/*
	 * As kaio_rw_cleanup_sleeps() decided: only then on the owner's
	 * free_wq, where unpin_user_pages_dirty_lock() locks the pages not
	 * dirty. Otherwise they were all dirty after the I/O ended.
	 */
	if (rw->nr_pages) {
		if (rw->redirty)
			unpin_user_pages_dirty_lock(rw->pages, rw->nr_pages,
						    true);
		else
			unpin_user_pages(rw->pages, rw->nr_pages);
	}
	/* Each on its own: kaio_rw_pin() may have got one and not the other. */
	if (rw->pages != rw->inline_pages)
		kvfree(rw->pages);
	if (rw->bvec != rw->inline_bvec)
		kvfree(rw->bvec);
	kfree(rw->iov);
	kaio_limits_uncharge_pin(rw->pin_charged);
}
