// SPDX-License-Identifier: GPL-2.0
/*
 * Retries run by the task that waits for them: a page-wait or POLL wake-up
 * hands its retry to a task waiting in GETEVENTS on the context, which runs
 * it itself (fdinfo "retries_in_task"), as io_uring's DEFER_TASKRUN runs
 * task work in io_uring_enter(). With nobody in GETEVENTS the retry goes to
 * a worker at once, so a program that sleeps in poll(), spins on the mapped
 * ring or leaves GETEVENTS early loses nothing and waits for nothing.
 *
 * Cold reads run on the slow devices (ten milliseconds or more per I/O):
 * every wake-up comes long after SUBMIT returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0x7a5c2u
#define FILE_SIZE	(8 << 20)
#define STRIDE		(256 << 10)	/* beyond each other's readahead */
#define NR		16
#define WAIT_MS		30000

FIXTURE(taskrun) {
	struct t_ctx c;
	int fd;
	unsigned char *buf;
	struct iocb cbs[NR];
	struct iocb *ptrs[NR];
};

KAIO_SLOW_FS_VARIANTS(taskrun);

FIXTURE_SETUP(taskrun)
{
	char path[PATH_MAX];
	const char *dir;
	int i;

	self->fd = -1;
	KAIO_ENV_OR_SKIP(dir, variant->env);
	KAIO_CTX_INIT(&self->c, 256, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), FILE_SIZE, SEED));
	/* No atime due: such a read starts on a worker (kaio_retry.c). */
	self->fd = open(path, O_RDONLY | O_NOATIME);
	unlink(path);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, t_drop_file_cache(self->fd));
	ASSERT_EQ(0, t_cached_pages(self->fd, FILE_SIZE));
	self->buf = t_alloc(NR * 4096);
	memset(self->buf, 0xa5, NR * 4096);
	for (i = 0; i < NR; i++) {
		t_prep_pread(&self->cbs[i], self->fd, self->buf + i * 4096,
			     4096, (long long)i * STRIDE + (i % 3) * 4096);
		self->cbs[i].aio_data = i;
		self->ptrs[i] = &self->cbs[i];
	}
}

FIXTURE_TEARDOWN(taskrun)
{
	if (self->fd >= 0)
		close(self->fd);
	t_ctx_close(&self->c);
}

/* Every read's event once, 4096 bytes, the file's bytes. */
static void check_reads(struct __test_metadata *_metadata,
			FIXTURE_DATA(taskrun) *self, const struct io_event *ev,
			long n)
{
	int counts[NR] = { 0 };
	long long res[NR];
	int i;

	ASSERT_EQ(NR, n);
	EXPECT_EQ(0, t_tally(self->cbs, NR, ev, n, counts, res));
	for (i = 0; i < NR; i++) {
		EXPECT_EQ(1, counts[i]) TH_LOG("read %d: %d events", i, counts[i]);
		EXPECT_EQ(4096, res[i]) TH_LOG("read %d", i);
		EXPECT_EQ(-1, t_check(self->buf + i * 4096, 4096, SEED,
				      self->cbs[i].aio_offset))
			TH_LOG("read %d: wrong bytes", i);
	}
}

/*
 * One cold read, then GETEVENTS: the wake-up finds this thread waiting and
 * hands it the retry; no worker runs it.
 */
TEST_F_TIMEOUT(taskrun, waiting_thread_runs_the_retry, 60)
{
	struct t_stats s0, s1, d;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cbs[5]));
	ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, WAIT_MS));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);

	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	EXPECT_EQ(-1, t_check(self->buf + 5 * 4096, 4096, SEED,
			      self->cbs[5].aio_offset));
	EXPECT_EQ(1, d.wakeups);
	EXPECT_EQ(1, d.retries);
	EXPECT_EQ(1, d.retries_in_task);
	EXPECT_EQ(0, d.worker);
}

/* Sixteen cold reads in one SUBMIT, one GETEVENTS for all: it runs them. */
TEST_F_TIMEOUT(taskrun, waiting_thread_runs_a_batch_of_retries, 60)
{
	struct io_event ev[NR];
	struct t_stats s0, s1, d;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(NR, t_submit(self->c.fd, NR, self->ptrs));
	check_reads(_metadata, self, ev, t_wait(self->c.fd, ev, NR, WAIT_MS));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);

	EXPECT_EQ(d.page_wait_arms, d.wakeups);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_EQ(d.retries, d.retries_in_task);
	EXPECT_EQ(0, d.worker);
}

/* Answers one fault on @page once the context has had @want wake-ups. */
struct fault_holder {
	int uffd, ctx;
	void *page;
	long long wakeups0, want;
	long long wakeups_at_fault;	/* -1: no fault came */
	int ret;
};

static void *hold_fault(void *arg)
{
	struct fault_holder *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffdio_zeropage zero = {
		.range = { .start = (unsigned long)h->page, .len = 4096 },
	};
	struct uffd_msg msg;
	struct t_stats st;
	uint64_t end = t_now_ns() + WAIT_MS * 1000000ULL;

	h->ret = -1;
	h->wakeups_at_fault = -1;
	if (poll(&pfd, 1, WAIT_MS) != 1 ||
	    read(h->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	if (t_ctx_stats(h->ctx, &st))
		return NULL;
	h->wakeups_at_fault = st.wakeups - h->wakeups0;
	/* Held until every read woke, or for WAIT_MS at most. */
	while (st.wakeups - h->wakeups0 < h->want && t_now_ns() < end) {
		usleep(1000);
		if (t_ctx_stats(h->ctx, &st))
			return NULL;
	}
	h->ret = ioctl(h->uffd, UFFDIO_ZEROPAGE, &zero);
	return NULL;
}

/*
 * The reads one by one, a sixty-fourth of the slow device's latency apart,
 * so that their wake-ups come as far apart, all after GETEVENTS is
 * entered: 0, else the test fails.
 */
static int submit_spread(struct __test_metadata *_metadata,
			 FIXTURE_DATA(taskrun) *self)
{
	long long lat = t_slow_lat_ns();
	uint64_t start = t_now_ns();
	int i;

	if (lat <= 0) {
		TH_LOG("no slow device latency ($KAIO_SLOW_LAT_NS)");
		return -1;
	}
	for (i = 0; i < NR; i++) {
		if (t_submit_one(self->c.fd, &self->cbs[i]) != 1) {
			TH_LOG("read %d not submitted", i);
			return -1;
		}
		usleep(lat / 1000 / (4 * NR));
	}
	/* Else the first read could complete before anyone waits. */
	if ((long long)(t_now_ns() - start) >= lat) {
		TH_LOG("submitting took longer than the device's latency");
		return -1;
	}
	return 0;
}

/*
 * One GETEVENTS for a batch whose wake-ups are spread out: the thread is a
 * retry waiter at each of them, also while it reads the events that came
 * so far, and runs every retry.
 */
TEST_F_TIMEOUT(taskrun, waiting_thread_runs_a_spread_batch, 60)
{
	struct timespec forever = { .tv_sec = WAIT_MS / 1000 };
	struct io_event ev[NR];
	struct t_stats s0, s1, d;
	long got;

	KAIO_SKIPPED_IN_SETUP();
	memset(ev, 0, sizeof(ev));	/* no fault in GETEVENTS' copy */
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(0, submit_spread(_metadata, self));
	got = t_getevents(self->c.fd, NR, NR, ev, &forever);
	check_reads(_metadata, self, ev, got);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(NR, d.wakeups);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_EQ(d.retries, d.retries_in_task);
}

/*
 * But a read of the events that faults may wait for as long as a
 * userfaultfd handler likes, and a retry handed to a task that waits
 * there would wait as long: the task is no retry waiter while it does.
 * Here the fault is answered only once every read has woken; the reads
 * that woke meanwhile ran on workers, and every event comes once.
 */
TEST_F_TIMEOUT(taskrun, waiter_faulting_in_its_copy_hands_retries_on, 60)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct timespec forever = { .tv_sec = WAIT_MS / 1000 };
	struct fault_holder h = { .ctx = self->c.fd, .want = NR };
	struct t_stats s0, s1, d;
	struct io_event *ev;
	long got;
	pthread_t th;

	KAIO_SKIPPED_IN_SETUP();
	h.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h.uffd < 0 && errno == ENOSYS)
		SKIP(return, "kernel without userfaultfd (CONFIG_USERFAULTFD)");
	ASSERT_LE(0, h.uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(h.uffd, UFFDIO_API, &api));
	h.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, h.page);
	reg.range.start = (unsigned long)h.page;
	reg.range.len = 4096;
	ASSERT_EQ(0, ioctl(h.uffd, UFFDIO_REGISTER, &reg));
	ev = h.page;

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	h.wakeups0 = s0.wakeups;
	ASSERT_EQ(0, pthread_create(&th, NULL, hold_fault, &h));
	ASSERT_EQ(0, submit_spread(_metadata, self));
	/* One call for all sixteen; its first read of events faults. */
	got = t_getevents(self->c.fd, NR, NR, ev, &forever);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, h.ret) TH_LOG("the fault was not answered");
	TH_LOG("wake-ups when the copy faulted: %lld of %d",
	       h.wakeups_at_fault, NR);
	if (got < NR && got >= 0)
		got += t_wait(self->c.fd, ev + got, NR - got, WAIT_MS);
	check_reads(_metadata, self, ev, got);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	/* The first wake-up's event was read before the batch was done... */
	EXPECT_GT(NR, h.wakeups_at_fault);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	/* ...and the later ones, which came during the fault, on workers. */
	EXPECT_LE(1, d.retries_in_task);
	EXPECT_GE(h.wakeups_at_fault, d.retries_in_task);
	munmap(h.page, 4096);
	close(h.uffd);
}

/*
 * Nobody in GETEVENTS: the program sleeps in poll() on the context and
 * reads the mapped ring. Workers run every retry, and every event comes.
 */
TEST_F_TIMEOUT(taskrun, without_a_waiter_workers_run_the_retries, 60)
{
	struct pollfd pfd = { .fd = self->c.fd, .events = POLLIN };
	struct io_event ev[NR];
	struct t_stats s0, s1, d;
	uint64_t end;
	long seen = 0;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(NR, t_submit(self->c.fd, NR, self->ptrs));
	end = t_now_ns() + WAIT_MS * 1000000ULL;
	while (seen < NR && t_now_ns() < end) {
		ASSERT_LE(0, poll(&pfd, 1, 1000));
		seen = t_ring_peek(&self->c, ev, NR);
	}
	ASSERT_EQ(NR, seen) TH_LOG("events lost or late without GETEVENTS");
	/* Only now into the kernel, to reap what is all there. */
	check_reads(_metadata, self, ev, t_getevents(self->c.fd, 0, NR, ev,
						     &(struct timespec){ 0 }));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_LE(NR, d.retries);
	EXPECT_EQ(0, d.retries_in_task);
}

/*
 * GETEVENTS asking for all sixteen with a 1 ms timeout, again and again:
 * each call leaves before the reads are done, handing what it did not run
 * to workers. Nothing is lost, nothing comes twice.
 */
TEST_F_TIMEOUT(taskrun, waiter_that_times_out_loses_nothing, 60)
{
	struct timespec ms = { .tv_nsec = 1000000 };
	struct io_event ev[NR];
	struct t_stats s0, s1, d;
	long got = 0, ret, calls = 0;
	uint64_t end;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(NR, t_submit(self->c.fd, NR, self->ptrs));
	end = t_now_ns() + WAIT_MS * 1000000ULL;
	while (got < NR && t_now_ns() < end) {
		ret = t_getevents(self->c.fd, NR - got, NR - got, ev + got, &ms);
		ASSERT_LE(0, ret);
		got += ret;
		calls++;
	}
	check_reads(_metadata, self, ev, got);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("%ld GETEVENTS calls", calls);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_EQ(0, s1.in_flight);
}

/* Polling GETEVENTS with a zero timeout runs the retries too. */
TEST_F_TIMEOUT(taskrun, zero_timeout_getevents_runs_retries, 60)
{
	struct timespec zero = { 0 };
	struct io_event ev[NR];
	struct t_stats s0, s1, d;
	long got = 0, ret;
	uint64_t end;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(NR, t_submit(self->c.fd, NR, self->ptrs));
	end = t_now_ns() + WAIT_MS * 1000000ULL;
	while (got < NR && t_now_ns() < end) {
		ret = t_getevents(self->c.fd, 0, NR - got, ev + got, &zero);
		ASSERT_LE(0, ret);
		got += ret;
	}
	check_reads(_metadata, self, ev, got);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
}

struct reaper {
	int ctx;
	long want, got;
	struct io_event ev[NR];
};

static void *reap(void *arg)
{
	struct reaper *r = arg;

	r->got = t_wait(r->ctx, r->ev, r->want, WAIT_MS);
	return NULL;
}

/* Two threads in GETEVENTS: each retry runs once, each event comes once. */
TEST_F_TIMEOUT(taskrun, two_waiting_threads_share_the_retries, 60)
{
	struct reaper r[2] = {
		{ .ctx = self->c.fd, .want = NR / 2 },
		{ .ctx = self->c.fd, .want = NR / 2 },
	};
	struct t_stats s0, s1, d;
	struct io_event ev[NR];
	pthread_t th[2];
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reap, &r[i]));
	ASSERT_EQ(NR, t_submit(self->c.fd, NR, self->ptrs));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_EQ(NR / 2, r[0].got);
	ASSERT_EQ(NR / 2, r[1].got);
	memcpy(ev, r[0].ev, sizeof(ev[0]) * (NR / 2));
	memcpy(ev + NR / 2, r[1].ev, sizeof(ev[0]) * (NR / 2));
	check_reads(_metadata, self, ev, NR);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(d.wakeups + d.retries_requeued, d.retries);
	EXPECT_LE(1, d.retries_in_task);
}

/*
 * POLL: a thread waits in GETEVENTS, another writes the pipe. The wake-up
 * hands the retry to the waiter, which completes the POLL.
 */
TEST(poll_wakeup_runs_in_the_waiting_thread)
{
	struct timespec forever = { .tv_sec = WAIT_MS / 1000 };
	struct t_stats s0, s1, d;
	struct t_waiter w = { 0 };
	struct io_event ev;
	struct iocb cb;
	struct t_ctx c;
	pthread_t th;
	int p[2];

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, pipe(p));
	t_prep_poll(&cb, p[0], POLLIN);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	w.ctx = c.fd;
	w.min_nr = 1;
	w.ev = &ev;
	w.timeout = &forever;
	ASSERT_EQ(0, pthread_create(&th, NULL, t_getevents_thread, &w));
	ASSERT_TRUE(t_wait_in_ioctl(&w, 5000));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_TRUE(t_join_within(th, WAIT_MS));
	ASSERT_EQ(1, w.ret);
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
	EXPECT_TRUE(ev.res & POLLIN);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(1, d.retries);
	EXPECT_EQ(1, d.retries_in_task);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

/*
 * A POLL of an epoll fd that watches the context itself, with a thread in
 * GETEVENTS: a NOOP's event wakes the context's waitqueue, whose epoll
 * entry wakes the epoll fd's, whose POLL entry hands its retry on, all
 * with the context's waitqueue lock held (a hand-over that took it again
 * would hang). An epoll fd's ->poll() takes its mutex and polls what it
 * watches, so its retry goes to a worker, never to the waiter. Whether the
 * POLL then finds the context readable depends on whether the waiter
 * reaped the NOOP's event first, as it would for any two threads: NOOPs go
 * on until the waiter has two events.
 */
TEST(poll_of_epoll_watching_the_context_with_a_waiter)
{
	struct epoll_event ee = { .events = EPOLLIN };
	struct timespec forever = { .tv_sec = WAIT_MS / 1000 };
	struct timespec zero = { 0 };
	struct t_waiter w = { 0 };
	struct io_event ev[2], more[64];
	struct iocb poll_cb, noop;
	struct t_stats s0, s1, d;
	struct t_ctx c;
	pthread_t th;
	int i, ep, noops = 0;

	KAIO_CTX_INIT(&c, 128, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ee));
	t_prep_poll(&poll_cb, ep, POLLIN);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(c.fd, &poll_cb));
	w.ctx = c.fd;
	w.min_nr = 2;
	w.ev = ev;
	w.timeout = &forever;
	ASSERT_EQ(0, pthread_create(&th, NULL, t_getevents_thread, &w));
	ASSERT_TRUE(t_wait_in_ioctl(&w, 5000));
	t_prep_noop(&noop, -1);
	for (i = 0; i < 50 && !__atomic_load_n(&w.ret, __ATOMIC_ACQUIRE); i++) {
		ASSERT_EQ(1, t_submit_one(c.fd, &noop));
		noops++;
		usleep(20000);
	}
	ASSERT_TRUE(t_join_within(th, WAIT_MS));
	ASSERT_EQ(2, w.ret);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("%d NOOPs", noops);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.retries_in_task);
	/* The POLL may still wait (the waiter reaped first): cancel it. */
	t_cancel(c.fd, &poll_cb);
	EXPECT_LE(0, t_getevents(c.fd, 0, 64, more, &zero));
	close(ep);
	t_ctx_close(&c);
}

/*
 * A retry run in the waiting task that drops a file's last reference: the
 * file is released at once, not when GETEVENTS returns (fput() in a task
 * is task work, run on the way back to user space). A POLL holds the last
 * reference of socket A; a child writes to B, which completes the POLL in
 * the parent, asleep in GETEVENTS for five seconds (a pipe nobody writes
 * is its second request); the child must see B hang up, A's release,
 * within three.
 */
TEST(last_file_reference_dropped_in_the_waiter_is_released)
{
	struct timespec five = { .tv_sec = 5 };
	struct t_stats s0, s1, d;
	struct iocb pa, pp, *cbs[2] = { &pa, &pp };
	struct io_event ev[2];
	struct t_ctx c;
	int sv[2], pipefd[2], status;
	pid_t pid;
	long got;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, pipe(pipefd));
	t_prep_poll(&pa, sv[0], POLLIN);
	t_prep_poll(&pp, pipefd[0], POLLIN);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s0));
	ASSERT_EQ(2, t_submit(c.fd, 2, cbs));
	ASSERT_EQ(0, close(sv[0]));	/* the POLL holds A's last reference */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct pollfd pfd = { .fd = sv[1], .events = POLLRDHUP };

		usleep(300000);		/* the parent sleeps in GETEVENTS */
		if (write(sv[1], "x", 1) != 1)
			_exit(2);
		_exit(poll(&pfd, 1, 3000) == 1 &&
		      (pfd.revents & (POLLHUP | POLLRDHUP)) ? 0 : 1);
	}
	got = t_getevents(c.fd, 2, 2, ev, &five);
	EXPECT_EQ(1, got);
	if (got >= 1)
		EXPECT_EQ((uintptr_t)&pa, ev[0].obj);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("B did not hang up while GETEVENTS slept: A not released (status %#x)",
		       status);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(1, d.retries_in_task);
	close(sv[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	t_ctx_close(&c);
}

struct slow_writer {
	int fd;
	const unsigned char *src;	/* a cold mapping: each page faults */
	size_t len;
	uint64_t start_ns, end_ns;
	ssize_t ret;
};

static void *slow_write(void *arg)
{
	struct slow_writer *w = arg;

	w->start_ns = t_now_ns();
	w->ret = pwrite(w->fd, w->src, w->len, 0);
	w->end_ns = t_now_ns();
	return NULL;
}

/*
 * GETEVENTS keeps its timeout while the read path waits for someone else.
 * xfs takes its inode lock for a buffered read, and a writer holds it
 * exclusively across its whole write(2), page faults on its source buffer
 * included: here four pages of a cold mapping on the slow device, four
 * slow reads. A cold read of the same file wakes meanwhile; the waiter
 * must not wait for the lock (it hands the retry to a worker), so each
 * 100 ms GETEVENTS returns in about 100 ms, and the read still completes.
 */
TEST_F_TIMEOUT(taskrun, getevents_keeps_its_timeout_while_the_inode_is_locked, 90)
{
	struct timespec hundred_ms = { .tv_nsec = 100000000 };
	unsigned long long longest = 0, t0, t1;
	struct slow_writer w = { 0 };
	struct t_stats s0, s1, d;
	char path[PATH_MAX];
	struct io_event ev;
	unsigned char *src;
	pthread_t th;
	long got = 0, ret;
	int gfd;

	KAIO_SKIPPED_IN_SETUP();
	if (strcmp(variant->env, "KAIO_SLOW_XFS_DIR"))
		SKIP(return, "ext4 takes no inode lock for buffered reads");
	/* The writer's source: a cold file on the slow device, page by page. */
	ASSERT_EQ(0, t_make_file(getenv(variant->env), path, sizeof(path),
				 FILE_SIZE, SEED + 1));
	gfd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, t_drop_file_cache(gfd));
	src = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, gfd, 0);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_EQ(0, madvise(src, FILE_SIZE, MADV_RANDOM));
	/* The read's file, for writing (it is unlinked: through /proc). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->fd);
	w.fd = open(path, O_WRONLY);
	ASSERT_LE(0, w.fd);
	/* Four pages, MADV_RANDOM: four faults, one slow read each. */
	w.src = src + STRIDE;
	w.len = 4 * 4096;

	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cbs[5]));
	ASSERT_EQ(0, pthread_create(&th, NULL, slow_write, &w));
	while (got < 1) {
		t0 = t_now_ns();
		ret = t_getevents(self->c.fd, 1, 1, &ev, &hundred_ms);
		t1 = t_now_ns();
		ASSERT_LE(0, ret);
		got += ret;
		if (t1 - t0 > longest)
			longest = t1 - t0;
		ASSERT_GT(60ULL * 1000000000ULL, t1 - t0);
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	TH_LOG("write held the inode %llu ms; longest GETEVENTS %llu ms; slow device %lld ms",
	       (w.end_ns - w.start_ns) / 1000000, longest / 1000000,
	       t_slow_lat_ns() / 1000000);
	EXPECT_EQ(4 * 4096, w.ret);
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(-1, t_check(self->buf + 5 * 4096, 4096, SEED,
			      self->cbs[5].aio_offset));
	/* 100 ms asked: not a slow read's worth longer. */
	EXPECT_GT((unsigned long long)(100000000LL + t_slow_lat_ns() / 2), longest);
	munmap(src, FILE_SIZE);
	close(gfd);
	close(w.fd);
}

/*
 * A process killed while it waits in GETEVENTS for cold reads: the
 * retries handed to it go to workers, its requests end, and the module
 * comes back to where it was (no context, nothing pinned).
 */
FIXTURE(kill) {
	int unused;
};

FIXTURE_SETUP(kill)
{
}

FIXTURE_TEARDOWN(kill)
{
}

TEST_F_TIMEOUT(kill, killed_waiter_loses_nothing, 90)
{
	struct t_stats g0, g;
	const char *dir;
	pid_t pid;
	int i, status, go[2];

	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g0));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct iocb cbs[NR], *ptrs[NR];
		unsigned char *buf = t_alloc(NR * 4096);
		char path[PATH_MAX];
		struct io_event ev[NR];
		struct t_ctx c;
		int fd;

		if (t_ctx_init(&c, 64, 0) ||
		    t_make_file(dir, path, sizeof(path), FILE_SIZE, SEED))
			_exit(1);
		fd = open(path, O_RDONLY | O_NOATIME);
		unlink(path);
		if (fd < 0 || t_drop_file_cache(fd))
			_exit(1);
		for (i = 0; i < NR; i++) {
			t_prep_pread(&cbs[i], fd, buf + i * 4096, 4096,
				     (long long)i * STRIDE);
			ptrs[i] = &cbs[i];
		}
		if (t_submit(c.fd, NR, ptrs) != NR)
			_exit(1);
		close(go[1]);
		t_getevents(c.fd, NR, NR, ev, NULL);
		_exit(2);	/* never: the parent kills us first */
	}
	close(go[1]);
	/* The child's SUBMIT is done when the pipe closes. */
	ASSERT_EQ(0, read(go[0], &i, 1));
	close(go[0]);
	for (i = 0; i < 1000 && !t_in_ioctl(pid); i++)
		usleep(1000);
	EXPECT_TRUE(t_in_ioctl(pid)) TH_LOG("child not in GETEVENTS");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	EXPECT_EQ(0, t_module_settle(g0.contexts, WAIT_MS, &g));
	t_stats_log("module after", &g);
}

TEST_HARNESS_MAIN
