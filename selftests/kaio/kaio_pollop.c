// SPDX-License-Identifier: GPL-2.0
/*
 * IOCB_CMD_POLL, with fs/aio.c's semantics: aio_buf holds the poll events
 * (16 bits), offset, nbytes and rw_flags must be 0; one-shot; the event's res
 * is the ready mask. Ready at SUBMIT completes inside SUBMIT (res2 INLINE);
 * otherwise the request waits on the file's waitqueue and completes on the
 * retry workqueue when the file becomes ready (res2 RETRY). A waiting POLL
 * can be cancelled (EINPROGRESS, event res 0), and closing a context with
 * POLLs waiting cancels them instead of waiting forever.
 *
 * (kaio_poll.c is about poll() on a context fd; this is the opcode.)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define WAIT_MS		10000
#define QUIET_MS	50	/* "no event" means none within this */

/* No event arrives within QUIET_MS. */
static long quiet(int ctx)
{
	struct io_event ev;

	return t_wait(ctx, &ev, 1, QUIET_MS);
}

/* The one event of @cb; obj and data must be its own. */
static struct io_event one_event(struct __test_metadata *_metadata, int ctx,
				 struct iocb *cb)
{
	struct io_event ev;

	memset(&ev, 0x5a, sizeof(ev));
	ASSERT_EQ(1, t_wait(ctx, &ev, 1, WAIT_MS));
	EXPECT_EQ((uintptr_t)cb, ev.obj);
	EXPECT_EQ(cb->aio_data, ev.data);
	return ev;
}

/* The event must already be in the ring when SUBMIT returns. */
static struct io_event inline_event(struct __test_metadata *_metadata, int ctx,
				    struct iocb *cb)
{
	struct timespec zero = { 0, 0 };
	struct io_event ev;

	memset(&ev, 0x5a, sizeof(ev));
	ASSERT_EQ(1, t_getevents(ctx, 0, 1, &ev, &zero));
	EXPECT_EQ((uintptr_t)cb, ev.obj);
	EXPECT_EQ(cb->aio_data, ev.data);
	return ev;
}

FIXTURE(pollop) {
	struct t_ctx c;
	int p[2];	/* empty pipe, both ends non-blocking */
	struct iocb cb;
};

FIXTURE_SETUP(pollop)
{
	self->p[0] = self->p[1] = -1;
	KAIO_CTX_INIT(&self->c, 64, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, pipe2(self->p, O_NONBLOCK | O_CLOEXEC));
	t_prep_poll(&self->cb, self->p[0], POLLIN);
	self->cb.aio_data = 0xb011;
}

FIXTURE_TEARDOWN(pollop)
{
	t_ctx_close(&self->c);
	if (self->p[0] >= 0)
		close(self->p[0]);
	if (self->p[1] >= 0)
		close(self->p[1]);
}

TEST_F(pollop, pipe_not_ready_waits_then_write_completes_POLLIN)
{
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	EXPECT_EQ(0, quiet(self->c.fd));
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLIN, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
}

TEST_F(pollop, eventfd_not_ready_waits_then_write_completes_POLLIN)
{
	uint64_t one = 1;
	struct io_event ev;
	int efd;

	KAIO_SKIPPED_IN_SETUP();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	t_prep_poll(&self->cb, efd, POLLIN);
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	EXPECT_EQ(0, quiet(self->c.fd));
	ASSERT_EQ(8, write(efd, &one, 8));
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLIN, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	close(efd);
}

TEST_F(pollop, socket_not_ready_waits_then_send_completes_POLLIN)
{
	struct io_event ev;
	int s[2];

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	t_prep_poll(&self->cb, s[0], POLLIN);
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	EXPECT_EQ(0, quiet(self->c.fd));
	ASSERT_EQ(1, send(s[1], "x", 1, 0));
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLIN, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
	close(s[0]);
	close(s[1]);
}

/* POLLERR and POLLHUP are always polled for, as with poll(2). */
TEST_F(pollop, pipe_writer_closed_completes_POLLHUP)
{
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	EXPECT_EQ(0, quiet(self->c.fd));
	close(self->p[1]);
	self->p[1] = -1;
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLHUP, ev.res);
}

TEST_F(pollop, ready_at_submit_completes_inline)
{
	struct t_stats s0, s1;
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	ev = inline_event(_metadata, self->c.fd, &self->cb);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	EXPECT_EQ(POLLIN, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	EXPECT_EQ(1, s1.inlined - s0.inlined);
	EXPECT_EQ(0, s1.in_flight);
}

TEST_F(pollop, pollout_on_empty_pipe_ready_at_once)
{
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	t_prep_poll(&self->cb, self->p[1], POLLOUT);
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	ev = inline_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLOUT, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
}

/* One-shot: after its event a POLL is gone, whatever happens next. */
TEST_F(pollop, one_shot)
{
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLIN, ev.res);
	ASSERT_EQ(1, write(self->p[1], "y", 1));
	EXPECT_EQ(0, quiet(self->c.fd));
	EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &self->cb));
}

/* Several POLLs on one pipe: one write completes each, once. */
TEST_F(pollop, many_polls_one_pipe_one_write_each_completes_once)
{
	enum { N = 8 };
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	int i, seen[N] = { 0 };

	KAIO_SKIPPED_IN_SETUP();
	for (i = 0; i < N; i++) {
		t_prep_poll(&cbs[i], self->p[0], POLLIN);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(self->c.fd, N, ptrs));
	EXPECT_EQ(0, quiet(self->c.fd));
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	ASSERT_EQ(N, t_wait(self->c.fd, ev, N, WAIT_MS));
	for (i = 0; i < N; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]);
		seen[k]++;
		EXPECT_EQ((uintptr_t)&cbs[k], ev[i].obj);
		EXPECT_EQ(POLLIN, ev[i].res);
	}
	EXPECT_EQ(0, quiet(self->c.fd));
}

/*
 * As native AIO: cancelling a waiting POLL fails with EINPROGRESS and its
 * one event reports what was ready, nothing (res 0).
 */
TEST_F(pollop, cancel_waiting_EINPROGRESS_one_event_res_0)
{
	struct io_event ev;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	EXPECT_EQ(0, quiet(self->c.fd));
	EXPECT_EQ(-EINPROGRESS, t_cancel(self->c.fd, &self->cb));
	ev = one_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(0, ev.res);
	EXPECT_EQ(0, quiet(self->c.fd));
	EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &self->cb));
	/* and it is off the pipe's waitqueue: a write wakes nothing */
	ASSERT_EQ(1, write(self->p[1], "x", 1));
	EXPECT_EQ(0, quiet(self->c.fd));
}

/* A regular file has no ->poll: it is always readable and writable. */
TEST_F(pollop, regular_file_POLLIN_ready_at_once)
{
	char path[PATH_MAX];
	struct io_event ev;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_make_file(t_test_dir(), path, sizeof(path), 4096, 1));
	fd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, fd);
	t_prep_poll(&self->cb, fd, POLLIN);
	ASSERT_EQ(1, t_submit_one(self->c.fd, &self->cb));
	ev = inline_event(_metadata, self->c.fd, &self->cb);
	EXPECT_EQ(POLLIN, ev.res);
	EXPECT_EQ(KAIO_PATH_INLINE, ev.res2);
	close(fd);
}

/* ...and can never become ready for anything else: EINVAL, as fs/aio.c. */
TEST_F(pollop, regular_file_only_POLLPRI_EINVAL)
{
	char path[PATH_MAX];
	struct t_stats st;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_make_file(t_test_dir(), path, sizeof(path), 4096, 1));
	fd = open(path, O_RDONLY);
	unlink(path);
	ASSERT_LE(0, fd);
	t_prep_poll(&self->cb, fd, POLLPRI);
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &st));
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(0, quiet(self->c.fd));
	close(fd);
}

TEST_F(pollop, events_wider_than_16_bits_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_buf = 0x10000 | POLLIN;
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
}

TEST_F(pollop, offset_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_offset = 1;
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
}

TEST_F(pollop, nbytes_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_nbytes = 1;
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
}

TEST_F(pollop, rw_flags_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_rw_flags = RWF_NOWAIT;
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
}

/* A request would hold the context it waits on open. */
TEST_F(pollop, on_a_context_fd_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_poll(&self->cb, self->c.fd, POLLIN);
	EXPECT_EQ(-EINVAL, t_submit_one(self->c.fd, &self->cb));
}

/* /sys/module/kaio/refcnt, or -1. */
static long module_refcnt(void)
{
	long v = -1;
	FILE *f = fopen("/sys/module/kaio/refcnt", "re");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Closing a context with 100 POLLs waiting must cancel them, not wait for
 * pipes nobody writes to: close returns within a few seconds (a hang is
 * the failure this looks for; the bound is generous), the context and its
 * module reference are gone, and the pipes' waitqueues hold nothing of it
 * (writing to them afterwards touches no freed entry).
 */
TEST(close_with_100_polls_waiting_returns_promptly)
{
	enum { NPIPES = 10, PER = 10, N = NPIPES * PER };
	struct t_stats g0, g1, st;
	struct iocb cbs[N], *ptrs[N];
	struct t_ctx c;
	int p[NPIPES][2], i, have_debugfs;
	unsigned long long t0, t1;
	long ref0, ref1;

	ref0 = module_refcnt();
	have_debugfs = !t_stats_read(KAIO_DEBUGFS_STATS, &g0);
	KAIO_CTX_INIT(&c, 128, 0);
	for (i = 0; i < NPIPES; i++)
		ASSERT_EQ(0, pipe2(p[i], O_NONBLOCK | O_CLOEXEC));
	for (i = 0; i < N; i++) {
		t_prep_poll(&cbs[i], p[i % NPIPES][0], POLLIN);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(c.fd, N, ptrs));
	EXPECT_EQ(0, quiet(c.fd));
	ASSERT_EQ(0, t_ctx_stats(c.fd, &st));
	EXPECT_EQ(N, st.in_flight);

	t0 = t_now_ns();
	EXPECT_EQ(0, close(c.fd));
	t1 = t_now_ns();
	c.fd = -1;
	TH_LOG("close with %d POLLs waiting took %llu us", N, (t1 - t0) / 1000);
	EXPECT_GT(3000000000ULL, t1 - t0);
	t_ctx_close(&c);	/* /dev/kaio too */

	ref1 = module_refcnt();
	TH_LOG("module refcnt %ld before, %ld after", ref0, ref1);
	EXPECT_EQ(ref0, ref1);
	if (have_debugfs) {
		ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g1));
		EXPECT_EQ(g0.contexts, g1.contexts);
	}
	for (i = 0; i < NPIPES; i++) {
		EXPECT_EQ(1, write(p[i][1], "x", 1));
		close(p[i][0]);
		close(p[i][1]);
	}
}

/* DESTROY the same way: returns 0, the POLLs' events (res 0) are posted. */
TEST(destroy_with_polls_waiting_posts_their_events)
{
	enum { N = 16 };
	struct iocb cbs[N], *ptrs[N];
	struct t_ctx c;
	unsigned int head, tail;
	int p[2], i, seen[N] = { 0 };

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	for (i = 0; i < N; i++) {
		t_prep_poll(&cbs[i], p[0], POLLIN);
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(N, t_submit(c.fd, N, ptrs));
	EXPECT_EQ(0, t_destroy(c.fd));
	head = c.ring->head;
	tail = __atomic_load_n(&c.ring->tail, __ATOMIC_ACQUIRE);
	ASSERT_EQ(N, (tail + c.ring->nr - head) % c.ring->nr);
	for (i = 0; i < N; i++) {
		struct io_event *ev = &c.ring->io_events[(head + i) % c.ring->nr];
		unsigned long long k = ev->data;

		ASSERT_GT((unsigned long long)N, k);
		EXPECT_EQ(0, seen[k]);
		seen[k]++;
		EXPECT_EQ((uintptr_t)&cbs[k], ev->obj);
		EXPECT_EQ(0, ev->res);
	}
	EXPECT_EQ(1, write(p[1], "x", 1));
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

/*
 * Finding 1 of the safety review: POLL took the polled file's waitqueue
 * lock with irqs on. An eventfd is signalled from irq context when it is an
 * O_DIRECT read's IOCB_FLAG_RESFD (null_blk completes from a timer), so an
 * irq on the CPU inside that lock spun on it forever: the guest hung hard
 * in 2 of 4 15 s runs. 32 reads in flight signal E while 8 POLLs on E arm,
 * wake, retry and complete in a loop, so the lock is taken thousands of
 * times a second; a hang is the failure (the runner's limit ends it), and
 * lockdep (make check-debug) reports the irq-unsafe use at once.
 */
TEST(poll_on_eventfd_signalled_from_irq_completions)
{
	enum { NREADS = 32, NPOLLS = 8, BS = 4096 };
	struct iocb reads[NREADS], polls[NPOLLS], *ptrs[NREADS + NPOLLS];
	unsigned long long deadline, npolled = 0, done = 0;
	struct io_event ev;
	struct t_ctx c;
	const char *dev;
	char *buf;
	int fd, efd, i;

	KAIO_ENV_OR_SKIP(dev, "KAIO_RAW_DEV");
	KAIO_CTX_INIT(&c, 64, 0);
	fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	buf = t_alloc(NREADS * BS);
	for (i = 0; i < NREADS; i++) {
		t_prep_pread(&reads[i], fd, buf + i * BS, BS, (off_t)i * BS);
		reads[i].aio_flags = IOCB_FLAG_RESFD;
		reads[i].aio_resfd = efd;
		reads[i].aio_data = i;
		ptrs[i] = &reads[i];
	}
	for (i = 0; i < NPOLLS; i++) {
		t_prep_poll(&polls[i], efd, POLLIN);
		polls[i].aio_data = NREADS + i;
		ptrs[NREADS + i] = &polls[i];
	}
	ASSERT_EQ(NREADS + NPOLLS, t_submit(c.fd, NREADS + NPOLLS, ptrs));

	deadline = t_now_ns() + 5000000000ULL;
	while (t_now_ns() < deadline) {
		ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
		if (ev.data >= NREADS) {
			uint64_t v;

			ASSERT_TRUE(ev.res & POLLIN);
			/* Drained, so that the POLL resubmitted waits again. */
			read(efd, &v, sizeof(v));
			npolled++;
			ASSERT_EQ(1, t_submit_one(c.fd, &polls[ev.data - NREADS]));
			continue;
		}
		ASSERT_EQ(BS, ev.res);
		done++;
		ASSERT_EQ(1, t_submit_one(c.fd, &reads[ev.data]));
	}
	TH_LOG("%llu reads and %llu POLLs completed", done, npolled);
	EXPECT_LT(0, npolled);
	EXPECT_LT(0, done);
	/* The POLLs still waiting are cancelled by the close. */
	t_ctx_close(&c);
	close(efd);
	close(fd);
}

/*
 * A tty's poll waits on two waitqueues (read and write). fs/aio.c supports
 * one: io_submit fails with EINVAL when the tty is not ready, and posts no
 * event (checked on native AIO). kaio posted an event with -EINVAL
 * (safety review, finding 8). Ready for POLLOUT, it completes inline.
 */
TEST(pty_two_waitqueues_not_ready_submit_EINVAL_no_event)
{
	struct t_stats st;
	struct t_ctx c;
	struct iocb cb;
	int m, s;

	KAIO_CTX_INIT(&c, 8, 0);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		SKIP(return, "no pty: %s", strerror(errno));
	ASSERT_EQ(0, grantpt(m));
	ASSERT_EQ(0, unlockpt(m));
	s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	ASSERT_LE(0, s);

	t_prep_poll(&cb, m, POLLIN);
	EXPECT_EQ(-EINVAL, t_submit_one(c.fd, &cb));
	t_prep_poll(&cb, s, POLLIN);
	EXPECT_EQ(-EINVAL, t_submit_one(c.fd, &cb));
	EXPECT_EQ(0, quiet(c.fd));
	ASSERT_EQ(0, t_ctx_stats(c.fd, &st));
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(0, st.submitted);

	t_prep_poll(&cb, m, POLLOUT);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	EXPECT_TRUE(inline_event(_metadata, c.fd, &cb).res & POLLOUT);
	close(s);
	close(m);
	t_ctx_close(&c);
}

/*
 * CANCEL's EINPROGRESS promises an event with res 0 (abi.md). Racing a
 * write that readies the pipe with CANCEL of the POLL on it: each round
 * ends in exactly one event, and it is 0 whenever CANCEL said EINPROGRESS,
 * the ready mask otherwise (EAGAIN: completing; EINVAL: already posted).
 * kaio said EINPROGRESS and posted POLLIN when the retry had looked at the
 * file before CANCEL came (safety review, finding 8).
 */
TEST(cancel_racing_readiness_einprogress_means_res_0)
{
	enum { ROUNDS = 3000 };
	int i, r, p[2], einprogress = 0, other = 0;
	struct io_event ev;
	struct t_ctx c;
	struct iocb cb;
	char x;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	for (i = 0; i < ROUNDS; i++) {
		t_prep_poll(&cb, p[0], POLLIN);
		ASSERT_EQ(1, t_submit_one(c.fd, &cb));
		ASSERT_EQ(1, write(p[1], "x", 1));
		if (i & 1)
			usleep(i % 7);	/* move the race window around */
		r = t_cancel(c.fd, &cb);
		ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
		if (r == -EINPROGRESS) {
			einprogress++;
			ASSERT_EQ(0, ev.res) TH_LOG("round %d", i);
		} else {
			other++;
			ASSERT_TRUE(r == -EAGAIN || r == -EINVAL) TH_LOG("r %d", r);
			ASSERT_EQ(POLLIN, ev.res) TH_LOG("round %d", i);
		}
		ASSERT_EQ(1, read(p[0], &x, 1));
	}
	TH_LOG("%d rounds: CANCEL said EINPROGRESS %d times, else %d",
	       ROUNDS, einprogress, other);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&c);
}

TEST_HARNESS_MAIN
