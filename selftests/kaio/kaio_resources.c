// SPDX-License-Identifier: GPL-2.0
/*
 * What a request in flight uses, taken away right after SUBMIT: its file
 * closed and unlinked, its buffer unmapped (and fresh zero pages mapped at
 * the same address), its eventfd (IOCB_FLAG_RESFD) closed, its iocb
 * unmapped. A request holds what it needs: its own file and eventfd
 * references, the pages it pinned at SUBMIT, a copy of its iocb.
 *
 * Whatever the timing, each test checks what must always hold: every
 * request posts exactly one event, with its normal result (reads fill the
 * pages they pinned, never what is mapped there later; writes write what
 * those pages held, and land exactly when their event says so), naming its
 * iocb by its old address; and afterwards the module is back where the test
 * started: /sys/kernel/debug/kaio/stats shows as many `contexts` as before,
 * `pinned_pages_reserved` 0, and as many requests completed as were
 * submitted.
 *
 * The runner checks dmesg after the program and unloads kaio at the end.
 * The slow devices (KAIO_SLOW_*: ten milliseconds or more per I/O) keep
 * requests in flight long enough for the test to act on them; the requests
 * and the checks are kaio_util.h's (t_mix, t_batch_check(),
 * t_expect_settled()).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

KAIO_SETTLE_FIXTURE(lt)

/*
 * Every request holds its own reference to its file: closing (and
 * unlinking) the files right after SUBMIT changes nothing.
 */
TEST_F_TIMEOUT(lt, files_closed_while_in_flight_requests_complete_normally, 60)
{
	struct io_event *ev;
	int n, fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 32, .fsyncs = 2);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	close(self->m.cold_fd[0]);
	close(self->m.cold_fd[1]);
	close(self->m.direct_fd);
	close(self->m.write_fd);
	self->m.cold_fd[0] = self->m.cold_fd[1] = -1;
	self->m.direct_fd = self->m.write_fd = -1;
	KAIO_REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, t_batch_check(_metadata, &self->m.b, ev, n, false));
	fd = open(self->m.wpath, O_RDONLY);
	ASSERT_LE(0, fd);
	t_check_written(_metadata, &self->m.b, fd, true);
	close(fd);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * The buffers are unmapped right after SUBMIT, and fresh zero pages mapped
 * at the same addresses. The requests pinned the old pages: reads fill
 * those (never the new mapping), writes write what the old ones held, every
 * event arrives, and the pins are dropped at the end.
 */
TEST_F_TIMEOUT(lt, buffers_unmapped_while_in_flight_pinned_pages_keep_them_safe, 60)
{
	struct io_event *ev;
	struct t_stats s0;
	char *rbuf, *wbuf, *p;
	size_t rlen, wlen, i;
	int n, nr = 0, nw = 0, k, fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 32);
	n = self->m.b.n;
	for (k = 0; k < n; k++) {
		nw += self->m.b.info[k].kind == T_WRITE;
		nr += self->m.b.info[k].kind != T_WRITE;
	}
	ev = calloc(n, sizeof(*ev));
	/* one mapping for all reads, one for all writes */
	rlen = (size_t)nr * T_BS;
	wlen = (size_t)nw * T_BS;
	rbuf = t_alloc(rlen);
	wbuf = t_alloc(wlen);
	t_fill(wbuf, wlen, T_NEW_SEED, 0);
	for (k = 0, i = 0; k < n; k++) {
		struct t_req_info *in = &self->m.b.info[k];
		struct iocb *cb = &self->m.b.cbs[k];

		if (in->kind == T_WRITE) {
			in->buf = wbuf + in->off;
		} else {
			memset(rbuf + i * T_BS, 0xa5, T_BS);
			in->buf = rbuf + i++ * T_BS;
		}
		cb->aio_buf = (uintptr_t)in->buf;
	}
	ASSERT_EQ((size_t)nr, i);
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	ASSERT_EQ(0, munmap(rbuf, rlen));
	ASSERT_EQ(0, munmap(wbuf, wlen));
	p = mmap(rbuf, rlen, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(rbuf, p);
	p = mmap(wbuf, wlen, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(wbuf, p);
	KAIO_REAP_ALL(self->c.fd, ev, n, 30000);
	memset(self->m.b.count, 0, n * sizeof(int));
	EXPECT_EQ(0, t_tally(self->m.b.cbs, n, ev, n, self->m.b.count,
			     self->m.b.res));
	for (k = 0; k < n; k++) {
		EXPECT_EQ(1, self->m.b.count[k]);
		EXPECT_EQ(T_BS, self->m.b.res[k]) TH_LOG("iocb %d (%s)", k,
			t_kind_name[self->m.b.info[k].kind]);
	}
	for (i = 0; i < rlen; i++)
		if (rbuf[i])
			break;
	EXPECT_EQ(rlen, i) TH_LOG("a read wrote into the new mapping at %zu", i);
	for (i = 0; i < wlen; i++)
		if (wbuf[i])
			break;
	EXPECT_EQ(wlen, i);
	/* the writes wrote the pages they pinned */
	fd = open(self->m.wpath, O_RDONLY);
	ASSERT_LE(0, fd);
	t_check_written(_metadata, &self->m.b, fd, true);
	close(fd);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * The eventfd of IOCB_FLAG_RESFD closed right after SUBMIT: the request
 * holds the eventfd itself; its signal goes nowhere, its event arrives.
 * A second eventfd, kept open, counts its batch exactly.
 */
TEST_F_TIMEOUT(lt, eventfd_closed_while_in_flight_events_still_arrive, 60)
{
	struct io_event *ev;
	uint64_t count = 0;
	int n, k, efd_gone, efd_kept, ncold = 0;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	efd_gone = eventfd(0, EFD_CLOEXEC);
	efd_kept = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd_gone);
	ASSERT_LE(0, efd_kept);
	for (k = 0; k < n; k++) {
		bool cold = self->m.b.info[k].kind == T_COLD;

		self->m.b.cbs[k].aio_flags = IOCB_FLAG_RESFD;
		self->m.b.cbs[k].aio_resfd = cold ? efd_gone : efd_kept;
		ncold += cold;
	}
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	close(efd_gone);
	KAIO_REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, t_batch_check(_metadata, &self->m.b, ev, n, false));
	ASSERT_EQ(sizeof(count), read(efd_kept, &count, sizeof(count)));
	EXPECT_EQ(n - ncold, count);
	close(efd_kept);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

/*
 * SUBMIT copies the iocbs: their memory may go right after it (only CANCEL
 * reads an iocb again, its aio_key). The events still name them by the
 * old address.
 */
TEST_F_TIMEOUT(lt, iocbs_unmapped_after_submit_events_still_name_them, 60)
{
	const size_t len = 128 * sizeof(struct iocb);
	struct iocb *cbs, **ptrs = calloc(128, sizeof(*ptrs));
	struct io_event *ev = calloc(128, sizeof(*ev));
	int *count = calloc(128, sizeof(int));
	long long *res = calloc(128, sizeof(long long));
	int k, n;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	n = self->m.b.n;
	ASSERT_GE(128, n);
	cbs = t_alloc(len);
	memcpy(cbs, self->m.b.cbs, n * sizeof(*cbs));
	for (k = 0; k < n; k++)
		ptrs[k] = &cbs[k];
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, ptrs));
	ASSERT_EQ(0, munmap(cbs, len));
	KAIO_REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, t_tally(cbs, n, ev, n, count, res));
	for (k = 0; k < n; k++) {
		const struct t_req_info *in = &self->m.b.info[k];

		EXPECT_EQ(1, count[k]);
		EXPECT_EQ(T_BS, res[k]);
		EXPECT_EQ(-1, t_check(in->buf, T_BS, in->seed, in->off));
	}
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
