// SPDX-License-Identifier: GPL-2.0
/*
 * The mmap()able completion ring: fs/aio.c's struct aio_ring layout, events
 * reaped from user space by advancing head, head never trusted.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <fcntl.h>
#include <poll.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* Submit @n NOOPs whose aio_data is @first, @first + 1, ... */
static long submit_noops(struct t_ctx *c, struct iocb *cbs, long n,
			 unsigned long long first)
{
	struct iocb *ptrs[n];
	long i;

	for (i = 0; i < n; i++) {
		t_prep_noop(&cbs[i], c->nullfd);
		cbs[i].aio_data = first + i;
		ptrs[i] = &cbs[i];
	}
	return t_submit(c->fd, n, ptrs);
}

/* Wait (bounded) until the kernel has posted @n events past head. */
static unsigned int wait_ring_events(struct kaio_ring *r, unsigned int n)
{
	unsigned int avail = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		unsigned int tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		unsigned int head = r->head;

		avail = (tail + r->nr - head) % r->nr;
		if (avail >= n)
			break;
		usleep(1000);
	}
	return avail;
}

TEST(ring_header_after_setup)
{
	struct t_ctx c;
	struct kaio_ring *r;

	KAIO_CTX_INIT(&c, 100, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	r = c.ring;
	EXPECT_EQ(KAIO_RING_MAGIC, r->magic);
	EXPECT_EQ(c.cap + 1, r->nr);
	EXPECT_EQ(0, r->head);
	EXPECT_EQ(0, r->tail);
	EXPECT_EQ(32, r->header_length);
	EXPECT_EQ(sizeof(struct kaio_ring), r->header_length);
	EXPECT_EQ(KAIO_RING_COMPAT_FEATURES, r->compat_features);
	EXPECT_EQ(1, r->compat_features);
	EXPECT_EQ(KAIO_RING_INCOMPAT_FEATURES, r->incompat_features);
	EXPECT_EQ(0, r->incompat_features);
	EXPECT_EQ((unsigned int)c.fd, r->id);
	EXPECT_LE(sizeof(*r) + (unsigned long long)r->nr * sizeof(struct io_event),
		  c.s.ring_size);
}

TEST(ring_mmap_nonzero_offset_EINVAL)
{
	struct t_ctx c;
	void *p;

	KAIO_CTX_INIT(&c, 8, 0);
	p = mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
		 c.fd, page_size());
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST(ring_mmap_longer_than_ring_size_EINVAL)
{
	struct t_ctx c;
	void *p;

	KAIO_CTX_INIT(&c, 8, 0);
	p = mmap(NULL, c.s.ring_size + page_size(), PROT_READ | PROT_WRITE,
		 MAP_SHARED, c.fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST(ring_shows_completed_noops_in_order)
{
	struct t_ctx c;
	struct iocb cbs[10];
	unsigned int i;

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	ASSERT_EQ(10, submit_noops(&c, cbs, 10, 100));
	ASSERT_EQ(10, wait_ring_events(c.ring, 10));
	EXPECT_EQ(0, c.ring->head);
	EXPECT_EQ(10, c.ring->tail);
	for (i = 0; i < 10; i++) {
		struct io_event *ev = &c.ring->io_events[i];

		EXPECT_EQ(100 + i, ev->data);
		EXPECT_EQ((uintptr_t)&cbs[i], ev->obj);
		EXPECT_EQ(0, ev->res);
		EXPECT_EQ(0, ev->res2);
	}
}

TEST(ring_user_reaped_events_not_returned_by_getevents)
{
	struct t_ctx c;
	struct iocb cbs[10];
	struct io_event ev[10];
	struct timespec zero = { 0, 0 };

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	ASSERT_EQ(10, submit_noops(&c, cbs, 10, 0));
	ASSERT_EQ(10, wait_ring_events(c.ring, 10));
	__atomic_store_n(&c.ring->head, c.ring->tail, __ATOMIC_RELEASE);
	EXPECT_EQ(0, t_getevents(c.fd, 0, 10, ev, &zero));
	EXPECT_EQ(10, c.ring->head);
}

TEST(ring_user_reaped_events_free_capacity)
{
	struct t_ctx c;
	struct iocb *cbs;
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	unsigned int n;

	KAIO_CTX_INIT(&c, 1, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	n = c.cap;
	cbs = calloc(n, sizeof(*cbs));
	ASSERT_NE(NULL, cbs);
	ASSERT_EQ(n, submit_noops(&c, cbs, n, 0));
	ASSERT_EQ(n, wait_ring_events(c.ring, n));
	/* full: in flight + unreaped == capacity */
	ASSERT_EQ(-EAGAIN, submit_noops(&c, cbs, 1, 0));
	__atomic_store_n(&c.ring->head, c.ring->tail, __ATOMIC_RELEASE);
	EXPECT_EQ(n, submit_noops(&c, cbs, n, 1000));
	EXPECT_EQ(1, t_getevents(c.fd, 1, 1, &ev, &zero));
	EXPECT_EQ(1000, ev.data);
}

TEST(ring_getevents_advances_head)
{
	struct t_ctx c;
	struct iocb cbs[5];
	struct io_event ev[5];

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	ASSERT_EQ(5, submit_noops(&c, cbs, 5, 0));
	ASSERT_EQ(5, t_wait(c.fd, ev, 5, 5000));
	EXPECT_EQ(5, c.ring->tail);
	EXPECT_EQ(5, c.ring->head);
}

TEST(ring_wraps_around)
{
	struct t_ctx c;
	struct iocb *cbs;
	struct io_event ev;
	unsigned int i, n, round;

	KAIO_CTX_INIT(&c, 1, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	n = c.cap;
	cbs = calloc(n, sizeof(*cbs));
	ASSERT_NE(NULL, cbs);
	/* three laps of the ring, half of it at a time */
	for (round = 0; round < 6; round++) {
		unsigned int batch = (n + 1) / 2;

		ASSERT_EQ(batch, submit_noops(&c, cbs, batch, round * n));
		for (i = 0; i < batch; i++) {
			ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
			ASSERT_EQ(round * n + i, ev.data);
			ASSERT_EQ((uintptr_t)&cbs[i], ev.obj);
		}
		EXPECT_EQ(c.ring->head, c.ring->tail);
		EXPECT_GT(c.ring->nr, c.ring->tail);
	}
}

TEST(ring_bogus_head_is_bounded)
{
	struct t_ctx c;
	struct iocb cbs[4];
	struct io_event ev[64];
	struct timespec zero = { 0, 0 };
	long ret;

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	ASSERT_EQ(4, submit_noops(&c, cbs, 4, 0));
	c.ring->head = 0xffffffff;
	ret = t_getevents(c.fd, 0, 64, ev, &zero);
	ASSERT_LE(0, ret);
	EXPECT_GT(c.ring->nr, (unsigned int)ret);
	/* the context keeps working, and head is a valid slot again */
	EXPECT_GT(c.ring->nr, c.ring->head);
	EXPECT_EQ(0, t_destroy(c.fd));
}

TEST(ring_bogus_head_then_submit_does_not_crash)
{
	struct t_ctx c;
	struct iocb cbs[4];
	struct io_event ev[64];
	struct timespec zero = { 0, 0 };
	long ret;

	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	c.ring->head = 0x7ffffff3;
	ret = submit_noops(&c, cbs, 4, 0);
	EXPECT_TRUE((ret >= 1 && ret <= 4) || ret == -EAGAIN)
		TH_LOG("submit: %ld", ret);
	ret = t_getevents(c.fd, 0, 64, ev, &zero);
	ASSERT_LE(0, ret);
	EXPECT_GT(c.ring->nr, (unsigned int)ret);
	EXPECT_EQ(0, t_destroy(c.fd));
}

/* POLLs of an empty pipe: they stay in flight until destroy cancels them. */
static long submit_polls(struct t_ctx *c, struct iocb *cbs, long n, int fd)
{
	struct iocb *ptrs[n];
	long i;

	for (i = 0; i < n; i++) {
		t_prep_poll(&cbs[i], fd, POLLIN);
		ptrs[i] = &cbs[i];
	}
	return t_submit(c->fd, n, ptrs);
}

/*
 * head is user memory: whatever it says, no more than the capacity may be
 * in flight (slots come back only for events the kernel posted), so a
 * program cannot make the kernel hold unbounded requests for one context.
 * Whatever it did to its own unreaped events is its own business.
 */
TEST(ring_bogus_head_never_lets_more_than_capacity_fly)
{
	static const unsigned int heads[] = {
		0, 1, 0x7ffffff3, 0xfffffffe, 0xffffffff,
	};
	struct t_ctx c;
	struct iocb *cbs, extra;
	unsigned int i, n, flown;
	int pipefd[2];
	long ret;

	ASSERT_EQ(0, pipe(pipefd));
	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	n = c.cap;
	cbs = calloc(n, sizeof(*cbs));
	ASSERT_NE(NULL, cbs);
	/* All but two slots in flight, two events posted and not reaped. */
	ASSERT_EQ(n - 2, submit_polls(&c, cbs, n - 2, pipefd[0]));
	ASSERT_EQ(2, submit_noops(&c, &cbs[n - 2], 2, 0));
	ASSERT_EQ(2, wait_ring_events(c.ring, 2));
	ASSERT_EQ(-EAGAIN, submit_polls(&c, &extra, 1, pipefd[0]));

	/* Each bogus head may free at most the two posted events' slots. */
	flown = 0;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		c.ring->head = heads[i];
		for (;;) {
			ret = submit_polls(&c, &extra, 1, pipefd[0]);
			if (ret != 1)
				break;
			flown++;
		}
		ASSERT_EQ(-EAGAIN, ret) TH_LOG("head %#x", heads[i]);
		ASSERT_GE(2, flown) TH_LOG("head %#x: %u more in flight",
					   heads[i], flown);
	}
	EXPECT_EQ(0, t_destroy(c.fd));
	close(pipefd[0]);
	close(pipefd[1]);
	free(cbs);
}

/*
 * A read into the mapped ring pins the ring's page. Closing the context
 * while that read is in flight (on the slow device) must not hand the page
 * to the next context: the read lands later, and a new ring that got the
 * page would have its header overwritten. New contexts made meanwhile keep
 * intact headers after the read completed.
 */
TEST(ring_page_pinned_by_read_outlives_its_context)
{
	const long long off = 300LL << 20;	/* inside the 512 MiB device */
	struct t_ctx a, b, c[8];
	struct io_event ev;
	struct iocb cb;
	const char *dev;
	char *pattern;
	int fd, i;

	KAIO_ENV_OR_SKIP(dev, "KAIO_SLOW_RAW_DEV");
	fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fd);
	pattern = t_alloc(4096);
	t_fill(pattern, 4096, 0x5eed, off);
	ASSERT_EQ(4096, pwrite(fd, pattern, 4096, off));
	KAIO_CTX_INIT(&a, 8, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&a));
	KAIO_CTX_INIT(&b, 8, 0);

	/* O_DIRECT into a's ring page: pinned for the device's latency. */
	t_prep_pread(&cb, fd, a.ring, 4096, off);
	ASSERT_EQ(1, t_submit_one(b.fd, &cb));
	t_ctx_close(&a);	/* munmap and close: a is freed now */
	for (i = 0; i < 8; i++) {
		KAIO_CTX_INIT(&c[i], 8, 0);
		ASSERT_EQ(0, t_ctx_map_ring(&c[i]));
	}
	ASSERT_EQ(1, t_wait(b.fd, &ev, 1, 20000));
	EXPECT_EQ(4096, ev.res);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(KAIO_RING_MAGIC, c[i].ring->magic) TH_LOG("context %d", i);
		EXPECT_EQ(c[i].cap + 1, c[i].ring->nr) TH_LOG("context %d", i);
		EXPECT_EQ(sizeof(struct kaio_ring), c[i].ring->header_length);
		EXPECT_EQ((unsigned int)c[i].fd, c[i].ring->id);
		t_ctx_close(&c[i]);
	}
	t_ctx_close(&b);
	close(fd);
	munmap(pattern, 4096);
}

/*
 * MADV_DONTNEED on the ring zaps its pages from the mapping; the next touch
 * must map the same ring again, as it does for fs/aio.c's page-cache-backed
 * ring. kaio's vm_insert_page()d ring raised SIGBUS there (safety review,
 * finding 10). Events posted before and after are all there.
 */
TEST(ring_madv_dontneed_then_touch_maps_the_ring_again)
{
	struct iocb cbs[4];
	struct t_ctx c;
	struct kaio_ring *r;

	KAIO_CTX_INIT(&c, 16, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&c));
	r = c.ring;
	ASSERT_EQ(2, submit_noops(&c, cbs, 2, 100));
	ASSERT_EQ(2, wait_ring_events(r, 2));
	ASSERT_EQ(0, madvise(r, c.s.ring_size, MADV_DONTNEED));
	EXPECT_EQ(KAIO_RING_MAGIC, r->magic);
	EXPECT_EQ(c.cap + 1, r->nr);
	ASSERT_EQ(2, submit_noops(&c, cbs + 2, 2, 102));
	ASSERT_EQ(4, wait_ring_events(r, 4));
	EXPECT_EQ(100, r->io_events[r->head].data);
	EXPECT_EQ(103, r->io_events[(r->head + 3) % r->nr].data);
	t_ctx_close(&c);
}

TEST_HARNESS_MAIN
