// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_LIST_INLINE_RESULTS (KAIO_FEAT_INLINE_RESULTS): a request that
 * completes inside KAIO_IOC_SUBMIT_LIST, in its first attempt, gives its
 * res in the call's results array and posts no event; every other request
 * (one still running, or one an eventfd, a signal or a list's signal waits
 * for) has KAIO_RESULT_IN_RING there and posts its event as usual. Bad
 * arguments: EINVAL for a results address without the flag, EFAULT for an
 * array the kernel cannot write, before anything is submitted.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED	0x1a11e5ULL
#define FSIZE	(64 * 1024)

static long submit_inline(int ctx, long long nr, struct iocb **cbs,
			  unsigned int flags, int64_t *results)
{
	struct kaio_submit_list a = {
		.nr = nr, .iocbpp = (uintptr_t)cbs,
		.flags = flags | KAIO_LIST_INLINE_RESULTS,
		.results = (uintptr_t)results,
	};
	long r = ioctl(ctx, KAIO_IOC_SUBMIT_LIST, &a);

	return r < 0 ? -errno : r;
}

/* Events in the ring now, reaped without waiting. */
static long reap_now(int ctx, struct io_event *ev, long nr)
{
	struct timespec zero = { 0, 0 };

	return t_getevents(ctx, 0, nr, ev, &zero);
}

FIXTURE(inline_results) {
	struct t_ctx c;
	char path[256];
	int fd;
};

/*
 * A file of the pattern in t_test_dir() (ext4 in the guest), read once so
 * that every read below is a page-cache hit. Not a memfd: tmpfs reads do
 * not take IOCB_NOWAIT in 6.1, so kaio hands them to a worker.
 */
FIXTURE_SETUP(inline_results)
{
	char *buf = t_alloc(FSIZE);

	ASSERT_EQ(0, t_ctx_init(&self->c, 64, 0));
	if (!(self->c.s.features & KAIO_FEAT_INLINE_RESULTS))
		SKIP(return, "module without KAIO_FEAT_INLINE_RESULTS");
	ASSERT_EQ(0, t_make_file(t_test_dir(), self->path,
				 sizeof(self->path), FSIZE, SEED));
	self->fd = open(self->path, O_RDONLY);
	ASSERT_LE(0, self->fd);
	unlink(self->path);
	ASSERT_EQ(FSIZE, pread(self->fd, buf, FSIZE, 0));
}

FIXTURE_TEARDOWN(inline_results)
{
	if (self->fd > 0)
		close(self->fd);
	t_ctx_close(&self->c);
}

/* A page-cache hit: the result in the array, nothing in the ring. */
TEST_F(inline_results, warm_read_gives_result_no_event)
{
	char *buf = t_alloc(4096);
	struct t_stats before, after, d;
	struct io_event ev[2];
	struct iocb cb, *p = &cb;
	int64_t res = 12345;

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &before));
	t_prep_pread(&cb, self->fd, buf, 4096, 8192);
	ASSERT_EQ(1, submit_inline(self->c.fd, 1, &p, 0, &res));
	EXPECT_EQ(4096, res);
	EXPECT_EQ(-1, t_check(buf, 4096, SEED, 8192));
	EXPECT_EQ(0, reap_now(self->c.fd, ev, 2));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &after));
	d = t_stats_sub(&after, &before);
	EXPECT_EQ(1, d.submitted);
	EXPECT_EQ(1, d.completed);
	EXPECT_EQ(0, after.in_flight);
}

/*
 * One list, four fates: a hit (inline), a read at EOF (inline, 0), a POLL
 * on an empty pipe (still running: in the ring once the pipe is written),
 * a hit with an eventfd (someone waits for its event: in the ring).
 */
TEST_F(inline_results, mixed_list)
{
	char *buf = t_alloc(3 * 4096);
	struct iocb cb[4], *p[4] = { &cb[0], &cb[1], &cb[2], &cb[3] };
	struct io_event ev[4];
	int64_t res[4] = { 1, 1, 1, 1 };
	uint64_t cnt = 0;
	int pfd[2], efd, i, seen_poll = 0, seen_efd = 0;

	ASSERT_EQ(0, pipe(pfd));
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	t_prep_pread(&cb[0], self->fd, buf, 4096, 0);
	t_prep_pread(&cb[1], self->fd, buf + 4096, 4096, FSIZE);
	t_prep_poll(&cb[2], pfd[0], POLLIN);
	t_prep_pread(&cb[3], self->fd, buf + 8192, 4096, 4096);
	cb[3].aio_flags |= IOCB_FLAG_RESFD;
	cb[3].aio_resfd = efd;
	for (i = 0; i < 4; i++)
		cb[i].aio_data = 100 + i;
	ASSERT_EQ(4, submit_inline(self->c.fd, 4, p, 0, res));
	EXPECT_EQ(4096, res[0]);
	EXPECT_EQ(0, res[1]);
	EXPECT_EQ(KAIO_RESULT_IN_RING, res[2]);
	EXPECT_EQ(KAIO_RESULT_IN_RING, res[3]);
	EXPECT_EQ(-1, t_check(buf, 4096, SEED, 0));
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	ASSERT_EQ(2, t_wait(self->c.fd, ev, 2, 5000));
	for (i = 0; i < 2; i++) {
		if (ev[i].data == 102) {
			seen_poll++;
			EXPECT_TRUE(ev[i].res & POLLIN);
		} else if (ev[i].data == 103) {
			seen_efd++;
			EXPECT_EQ(4096, ev[i].res);
		}
	}
	EXPECT_EQ(1, seen_poll);
	EXPECT_EQ(1, seen_efd);
	EXPECT_EQ(8, read(efd, &cnt, 8));
	EXPECT_EQ(1, cnt);
	EXPECT_EQ(-1, t_check(buf + 8192, 4096, SEED, 4096));
	EXPECT_EQ(0, reap_now(self->c.fd, ev, 4));
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * With KAIO_LIST_POST_ERRORS an iocb's own errno is a result too: in the
 * array; with an eventfd it is posted (and the eventfd signalled).
 */
TEST_F(inline_results, post_errors_inline)
{
	char *buf = t_alloc(4096);
	struct iocb cb[2], *p[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	int64_t res[2] = { 1, 1 };
	int efd = eventfd(0, EFD_NONBLOCK);

	ASSERT_LE(0, efd);
	t_prep_pread(&cb[0], 1000, buf, 4096, 0);	/* no such fd */
	t_prep_pread(&cb[1], 1000, buf, 4096, 0);
	cb[1].aio_flags |= IOCB_FLAG_RESFD;
	cb[1].aio_resfd = efd;
	cb[1].aio_data = 7;
	ASSERT_EQ(2, submit_inline(self->c.fd, 2, p, KAIO_LIST_POST_ERRORS,
				   res));
	EXPECT_EQ(-EBADF, res[0]);
	EXPECT_EQ(KAIO_RESULT_IN_RING, res[1]);
	ASSERT_EQ(1, t_wait(self->c.fd, ev, 1, 5000));
	EXPECT_EQ(7, ev[0].data);
	EXPECT_EQ(-EBADF, ev[0].res);
	EXPECT_EQ(0, reap_now(self->c.fd, ev, 2));
	close(efd);
}

/* Without POST_ERRORS an iocb's errno still fails the call, as SUBMIT. */
TEST_F(inline_results, errors_without_post_errors)
{
	char *buf = t_alloc(4096);
	struct iocb cb, *p = &cb;
	int64_t res = 1;

	t_prep_pread(&cb, 1000, buf, 4096, 0);
	EXPECT_EQ(-EBADF, submit_inline(self->c.fd, 1, &p, 0, &res));
	EXPECT_EQ(KAIO_RESULT_IN_RING, res);
}

/* A list's signal waits for every event: nothing of the list is inline. */
TEST_F(inline_results, list_signal_posts)
{
	char *buf = t_alloc(4096);
	struct kaio_submit_list a;
	struct iocb cb, *p = &cb;
	struct io_event ev;
	int64_t res = 1;
	siginfo_t si;
	sigset_t set;
	struct timespec to = { 5, 0 };
	int signo = SIGRTMIN + 3;

	sigemptyset(&set);
	sigaddset(&set, signo);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	t_prep_pread(&cb, self->fd, buf, 4096, 0);
	memset(&a, 0, sizeof(a));
	a.nr = 1;
	a.iocbpp = (uintptr_t)&p;
	a.flags = KAIO_LIST_SIGNAL | KAIO_LIST_INLINE_RESULTS;
	a.results = (uintptr_t)&res;
	a.sigev.signo = signo;
	a.sigev.notify = KAIO_SIGEV_PROCESS;
	ASSERT_EQ(1, ioctl(self->c.fd, KAIO_IOC_SUBMIT_LIST, &a));
	EXPECT_EQ(KAIO_RESULT_IN_RING, res);
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 5000));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(signo, sigtimedwait(&set, &si, &to));
}

/*
 * A POLL on a ready pipe completes in its first attempt: its mask inline.
 * Plain KAIO_IOC_SUBMIT of the same iocb still posts its event.
 */
TEST_F(inline_results, ready_poll_inline_submit_unchanged)
{
	struct iocb cb, *p = &cb;
	struct io_event ev;
	int64_t res = 1;
	int pfd[2];

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	t_prep_poll(&cb, pfd[0], POLLIN);
	ASSERT_EQ(1, submit_inline(self->c.fd, 1, &p, 0, &res));
	EXPECT_NE(KAIO_RESULT_IN_RING, res);
	EXPECT_TRUE(res & POLLIN);
	EXPECT_EQ(0, reap_now(self->c.fd, &ev, 1));
	t_prep_poll(&cb, pfd[0], POLLIN);
	cb.aio_data = 9;
	ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 5000));
	EXPECT_EQ(9, ev.data);
	EXPECT_TRUE(ev.res & POLLIN);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * A thread cancels the iocb over and over while it is submitted as a POLL
 * on a ready pipe (it completes in its first attempt). Whatever the
 * timing: every request gives exactly one result, inline or as an event,
 * and EINPROGRESS answers come with cancelled events (it promises one).
 * The race may or may not be hit under TCG; the invariants hold either way.
 */
static struct iocb hammer_cb;
static atomic_int hammer_stop, hammer_einprogress;
static int hammer_ctx;

static void *hammer(void *arg)
{
	(void)arg;
	while (!atomic_load(&hammer_stop))
		if (t_cancel(hammer_ctx, &hammer_cb) == -EINPROGRESS)
			atomic_fetch_add(&hammer_einprogress, 1);
	return NULL;
}

TEST_F(inline_results, cancel_race_one_result_each)
{
	struct iocb *p = &hammer_cb;
	struct io_event ev[16];
	long inl = 0, ring = 0, events = 0, cancelled = 0, n;
	int64_t res;
	int pfd[2], i;
	pthread_t t;

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	hammer_ctx = self->c.fd;
	t_prep_poll(&hammer_cb, pfd[0], POLLIN);
	ASSERT_EQ(0, pthread_create(&t, NULL, hammer, NULL));
	for (i = 0; i < 2000; i++) {
		ASSERT_EQ(1, submit_inline(self->c.fd, 1, &p, 0, &res));
		if (res == KAIO_RESULT_IN_RING) {
			ring++;
			/* Reaped now, so the ring never fills. */
			n = t_wait(self->c.fd, ev, 1, 5000);
			ASSERT_EQ(1, n);
			events++;
			if (ev[0].res == 0)
				cancelled++;
			else
				EXPECT_TRUE(ev[0].res & POLLIN);
		} else {
			inl++;
			EXPECT_TRUE(res & POLLIN);
		}
	}
	atomic_store(&hammer_stop, 1);
	pthread_join(t, NULL);
	EXPECT_EQ(0, t_getevents(self->c.fd, 0, 16, ev,
				 &(struct timespec){ 0, 0 }));
	EXPECT_EQ(2000, inl + ring);
	EXPECT_EQ(ring, events);
	/*
	 * An EINPROGRESS marked a request, which then posted res 0 (one
	 * request may be answered EINPROGRESS more than once: a second
	 * CANCEL of a cancelled POLL says so too).
	 */
	if (atomic_load(&hammer_einprogress))
		EXPECT_LE(1, cancelled);
	TH_LOG("inline %ld, in the ring %ld (cancelled %ld), EINPROGRESS %d",
	       inl, ring, cancelled, atomic_load(&hammer_einprogress));
	close(pfd[0]);
	close(pfd[1]);
}

/* Bad arguments fail the call before any iocb is taken. */
TEST_F(inline_results, bad_arguments)
{
	char *buf = t_alloc(4096);
	struct kaio_submit_list a;
	struct iocb cb, *p = &cb;
	struct t_stats before, after;
	struct io_event ev;
	int64_t *ro;

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &before));
	t_prep_pread(&cb, self->fd, buf, 4096, 0);
	/* A results address without the flag. */
	memset(&a, 0, sizeof(a));
	a.nr = 1;
	a.iocbpp = (uintptr_t)&p;
	a.results = (uintptr_t)buf;
	EXPECT_EQ(-1, ioctl(self->c.fd, KAIO_IOC_SUBMIT_LIST, &a));
	EXPECT_EQ(EINVAL, errno);
	/* An array the kernel cannot write: unmapped, kernel, read-only. */
	EXPECT_EQ(-EFAULT, submit_inline(self->c.fd, 1, &p, 0, t_bad_ptr()));
	EXPECT_EQ(-EFAULT, submit_inline(self->c.fd, 1, &p, 0,
					 (int64_t *)KAIO_KERNEL_ADDR));
	/* The flag without an array: EINVAL, before any iocb. */
	EXPECT_EQ(-EINVAL, submit_inline(self->c.fd, 1, &p, 0, NULL));
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, submit_inline(self->c.fd, 1, &p, 0, ro));
	munmap(ro, 4096);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &after));
	EXPECT_EQ(before.submitted, after.submitted);
	EXPECT_EQ(0, reap_now(self->c.fd, &ev, 1));
}

/*
 * The second entry cannot be written: the call takes the first iocb
 * (inline) and stops at the second, as at an iocb it cannot read.
 */
TEST_F(inline_results, stops_at_unwritable_entry)
{
	char *buf = t_alloc(2 * 4096);
	struct iocb cb[2], *p[2] = { &cb[0], &cb[1] };
	struct io_event ev;
	char *page;
	int64_t *res;

	/* Two pages, the second one read-only: res[1] is in it. */
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, mprotect(page + 4096, 4096, PROT_READ));
	res = (int64_t *)(page + 4096 - sizeof(int64_t));
	t_prep_pread(&cb[0], self->fd, buf, 4096, 0);
	t_prep_pread(&cb[1], self->fd, buf + 4096, 4096, 4096);
	EXPECT_EQ(1, submit_inline(self->c.fd, 2, p, 0, res));
	EXPECT_EQ(4096, res[0]);
	EXPECT_EQ(0, reap_now(self->c.fd, &ev, 1));
	munmap(page, 8192);
}

TEST_HARNESS_MAIN
