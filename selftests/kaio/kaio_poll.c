// SPDX-License-Identifier: GPL-2.0
/*
 * poll()/epoll on a context fd: readable exactly while events are waiting
 * in the ring, woken when one arrives.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

static short revents(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);

	return n < 0 ? -1 : n == 0 ? 0 : p.revents;
}

FIXTURE(poll) {
	struct t_ctx c;
	struct iocb cbs[4];
	struct iocb *ptrs[4];
	struct io_event ev[4];
};

FIXTURE_SETUP(poll)
{
	int i;

	KAIO_CTX_INIT(&self->c, 8, 0);
	for (i = 0; i < 4; i++) {
		t_prep_noop(&self->cbs[i], self->c.nullfd);
		self->ptrs[i] = &self->cbs[i];
	}
}

FIXTURE_TEARDOWN(poll)
{
	t_ctx_close(&self->c);
}

TEST_F(poll, empty_ring_not_readable)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, revents(self->c.fd, 0));
	EXPECT_EQ(0, revents(self->c.fd, 50));
}

TEST_F(poll, completion_makes_readable)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->ptrs));
	EXPECT_EQ(POLLIN, revents(self->c.fd, 5000) & (POLLIN | POLLERR | POLLHUP));
}

TEST_F(poll, reaping_all_events_clears_readable)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(2, t_submit(self->c.fd, 2, self->ptrs));
	ASSERT_EQ(POLLIN, revents(self->c.fd, 5000) & POLLIN);
	ASSERT_EQ(2, t_wait(self->c.fd, self->ev, 2, 5000));
	EXPECT_EQ(0, revents(self->c.fd, 0));
}

TEST_F(poll, readable_while_some_events_remain)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(3, t_submit(self->c.fd, 3, self->ptrs));
	ASSERT_EQ(2, t_wait(self->c.fd, self->ev, 2, 5000));
	EXPECT_EQ(POLLIN, revents(self->c.fd, 5000) & POLLIN);
	ASSERT_EQ(1, t_wait(self->c.fd, self->ev, 1, 5000));
	EXPECT_EQ(0, revents(self->c.fd, 0));
}

TEST_F(poll, user_space_reaping_clears_readable)
{
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(2, t_submit(self->c.fd, 2, self->ptrs));
	for (i = 0; i < 5000 && self->c.ring->tail != 2; i++)
		usleep(1000);
	ASSERT_EQ(2, self->c.ring->tail);
	ASSERT_EQ(POLLIN, revents(self->c.fd, 0) & POLLIN);
	__atomic_store_n(&self->c.ring->head, 2, __ATOMIC_RELEASE);
	EXPECT_EQ(0, revents(self->c.fd, 0));
}

struct late {
	int ctx;
	struct iocb *cb;
	long ret;
};

static void *submit_later(void *arg)
{
	struct late *l = arg;

	usleep(100 * 1000);
	l->ret = t_submit_one(l->ctx, l->cb);
	return NULL;
}

TEST_F(poll, blocked_poll_woken_by_completion)
{
	struct late l = { .ctx = self->c.fd, .cb = &self->cbs[0] };
	pthread_t t;
	uint64_t t0;

	KAIO_SKIPPED_IN_SETUP();
	t0 = t_now_ns();
	ASSERT_EQ(0, pthread_create(&t, NULL, submit_later, &l));
	EXPECT_EQ(POLLIN, revents(self->c.fd, 10000) & POLLIN);
	EXPECT_LE(90 * 1000 * 1000ULL, t_now_ns() - t0);
	EXPECT_GT(9ULL * 1000 * 1000 * 1000, t_now_ns() - t0);
	pthread_join(t, NULL);
	EXPECT_EQ(1, l.ret);
}

TEST_F(poll, epoll_reports_EPOLLIN)
{
	struct epoll_event e = { .events = EPOLLIN }, out;
	int ep;

	KAIO_SKIPPED_IN_SETUP();
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->c.fd, &e));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->ptrs));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 5000));
	EXPECT_EQ(EPOLLIN, out.events & EPOLLIN);
	close(ep);
}

TEST_HARNESS_MAIN
