// SPDX-License-Identifier: GPL-2.0
/*
 * Freeze protection across a punt (safety review, finding 2).
 *
 * A buffered write's NOWAIT attempt takes freeze protection
 * (sb_start_write) before it finds the inode lock busy and punts. Kept
 * across the punt, the protection waits in the file's ordered write queue
 * behind any write that blocks on a freeze begun meanwhile: the freeze
 * waits for the protection, the queue for the thaw, and fsfreeze, thaw and
 * sync(2) hang for good. io_uring drops it before a punt and the worker
 * takes it again; so must kaio.
 *
 * The order is built on purpose, on ext4. A write(2) from a userfaultfd
 * page holds the inode lock (and its own protection) until the test answers
 * the fault. Behind it, in the file's ordered queue: a buffered write (ext4
 * has no FMODE_BUF_WASYNC, so it is punted without an attempt and without
 * protection) that a worker starts at once and that waits for the inode
 * lock, a second buffered write, and the write under test, an O_DIRECT
 * write whose NOWAIT attempt takes protection and then finds the inode lock
 * busy. Then FIFREEZE starts and the fault is answered: the first write
 * goes through, the second waits for the thaw in the worker, the third is
 * behind it. The freeze must complete all the same.
 */
#include <errno.h>
#include <stdio.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "kaio_util.h"
#include "kselftest_harness.h"

struct held_write {
	int fd;
	void *buf;
	ssize_t ret;
};

static void *held_write_thread(void *p)
{
	struct held_write *w = p;

	w->ret = pwrite(w->fd, w->buf, 4096, 0);
	return NULL;
}

struct freezer {
	int dirfd;
	int ret;
	volatile int done;
};

static void *freezer_thread(void *p)
{
	struct freezer *f = p;

	f->ret = ioctl(f->dirfd, FIFREEZE, 0) ? -errno : 0;
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Does the kernel stack of task @dir/@pid name @a and @b? */
static int stack_has(const char *dir, const char *pid, const char *a,
		     const char *b)
{
	char path[128], stack[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/stack", dir, pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, stack, sizeof(stack) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	stack[n] = 0;
	return strstr(stack, a) && strstr(stack, b);
}

/* Is some task listed in @dir (/proc, a task/ directory) in both? */
static int any_task_in(const char *dir, const char *a, const char *b)
{
	struct dirent *d;
	DIR *proc = opendir(dir);
	int found = 0;

	if (!proc)
		return 0;
	while (!found && (d = readdir(proc)))
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
			found = stack_has(dir, d->d_name, a, b);
	closedir(proc);
	return found;
}

/* Wait up to 10 s for any_task_in(): 0 or -ETIMEDOUT. */
static int wait_task_in(const char *dir, const char *a, const char *b)
{
	int ms;

	for (ms = 0; ms < 10000; ms += 10) {
		if (any_task_in(dir, a, b))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

FIXTURE(freeze) {
	int unused;
};

FIXTURE_SETUP(freeze)
{
}

FIXTURE_TEARDOWN(freeze)
{
}

TEST_F_TIMEOUT(freeze, write_punted_with_protection_does_not_block_freeze, 120)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy copy = { .mode = 0 };
	char path[PATH_MAX];
	struct held_write held = { .ret = -1 };
	struct freezer frz = { .ret = 1 };
	struct io_event ev[3];
	struct iocb cb[3];
	pthread_t held_t, frz_t;
	struct pollfd pfd;
	struct uffd_msg msg;
	struct t_ctx c;
	unsigned char *src, *region, *bufs;
	int fd, dfd, uffd, i, ms;
	const char *dir;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 16, 0);
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 4 * 4096, 1));
	fd = open(path, O_RDWR);
	dfd = open(path, O_WRONLY | O_DIRECT);
	unlink(path);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, dfd);
	frz.dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, frz.dirfd);
	bufs = t_alloc(3 * 4096);
	src = t_alloc(4096);
	memset(bufs, 'k', 3 * 4096);
	memset(src, 'u', 4096);

	/* A write(2) that holds the inode lock until its fault is answered. */
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 && errno == ENOSYS)
		SKIP(return, "kernel without userfaultfd (CONFIG_USERFAULTFD)");
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	region = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, region);
	reg.range.start = (unsigned long)region;
	reg.range.len = 4096;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	held.fd = fd;
	held.buf = region;
	ASSERT_EQ(0, pthread_create(&held_t, NULL, held_write_thread, &held));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* Same file, same ordered queue, in this order. */
	t_prep_pwrite(&cb[0], fd, bufs, 4096, 4096);
	t_prep_pwrite(&cb[1], fd, bufs + 4096, 4096, 8192);
	t_prep_pwrite(&cb[2], dfd, bufs + 2 * 4096, 4096, 12288);
	/* The first waits for the inode lock in a worker, with protection. */
	ASSERT_EQ(1, t_submit_one(c.fd, &cb[0]));
	ASSERT_EQ(0, wait_task_in("/proc", "kaio_rw_work", "ext4_buffered_write_iter"));
	for (i = 1; i < 3; i++)
		ASSERT_EQ(1, t_submit_one(c.fd, &cb[i])) TH_LOG("write %d", i);

	/* Then the freezer waits for the writers' protection. */
	ASSERT_EQ(0, pthread_create(&frz_t, NULL, freezer_thread, &frz));
	ASSERT_EQ(0, wait_task_in("/proc/self/task", "freeze_super",
				  "ioctl"))
		TH_LOG("FIFREEZE did not start waiting");

	copy.dst = (unsigned long)region;
	copy.src = (unsigned long)src;
	copy.len = 4096;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(held_t, NULL);
	EXPECT_EQ(4096, held.ret);

	for (ms = 0; ms < 20000 && !__atomic_load_n(&frz.done, __ATOMIC_ACQUIRE);
	     ms += 10)
		usleep(10000);
	/* On failure nothing can thaw it: the guest's watchdog ends the run. */
	ASSERT_TRUE(__atomic_load_n(&frz.done, __ATOMIC_ACQUIRE))
		TH_LOG("FIFREEZE waited for a write's freeze protection held across its punt");
	pthread_join(frz_t, NULL);
	ASSERT_EQ(0, frz.ret);
	ASSERT_EQ(0, ioctl(frz.dirfd, FITHAW, 0));

	ASSERT_EQ(3, t_wait(c.fd, ev, 3, 20000));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(4096, ev[i].res) TH_LOG("event %d", i);
	t_ctx_close(&c);
	close(uffd);
	close(fd);
	close(dfd);
	close(frz.dirfd);
}

TEST_HARNESS_MAIN
