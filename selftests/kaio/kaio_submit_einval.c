// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_SUBMIT validation, one error path per test, with io_submit(2)'s
 * errnos: an errno only when the first iocb fails, else the count queued.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define FILE_SIZE	(64 << 10)
#define SEED		0x5eb417

FIXTURE(submit) {
	struct t_ctx c;
	char path[PATH_MAX];
	int rw, ro, wo;		/* the same FILE_SIZE pattern file, three ways */
	int closed_fd;		/* a number that is not an open fd */
	char *buf;		/* 64 KiB, page aligned */
	struct iocb cb;
	struct iocb *cbp[1];
};

FIXTURE_SETUP(submit)
{
	self->rw = self->ro = self->wo = self->closed_fd = -1;
	KAIO_CTX_INIT(&self->c, 32, 0);
	ASSERT_EQ(0, t_make_file(t_test_dir(), self->path,
				 sizeof(self->path), FILE_SIZE, SEED));
	self->rw = open(self->path, O_RDWR);
	self->ro = open(self->path, O_RDONLY);
	self->wo = open(self->path, O_WRONLY);
	unlink(self->path);
	ASSERT_LE(0, self->rw);
	ASSERT_LE(0, self->ro);
	ASSERT_LE(0, self->wo);
	self->closed_fd = dup(self->rw);
	ASSERT_LE(0, self->closed_fd);
	ASSERT_EQ(0, close(self->closed_fd));
	self->buf = t_alloc(FILE_SIZE);
	/* a valid read of the first 4 KiB, for tests to spoil one field of */
	t_prep_pread(&self->cb, self->rw, self->buf, 4096, 0);
	self->cbp[0] = &self->cb;
}

FIXTURE_TEARDOWN(submit)
{
	if (self->rw >= 0)
		close(self->rw);
	if (self->ro >= 0)
		close(self->ro);
	if (self->wo >= 0)
		close(self->wo);
	t_ctx_close(&self->c);
}

/* Exactly one event for @cb within 10 s; returns its res. */
static long long one_event(struct __test_metadata *_metadata, int ctx,
			   struct iocb *cb)
{
	struct io_event ev;
	struct timespec zero = { 0, 0 };

	memset(&ev, 0, sizeof(ev));
	ASSERT_EQ(1, t_wait(ctx, &ev, 1, 10000));
	EXPECT_EQ((uintptr_t)cb, ev.obj);
	EXPECT_EQ(cb->aio_data, ev.data);
	EXPECT_EQ(0, t_getevents(ctx, 0, 1, &ev, &zero));
	return ev.res;
}

TEST_F(submit, valid_pread_returns_1)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->cbp));
	EXPECT_EQ(4096, one_event(_metadata, self->c.fd, &self->cb));
	EXPECT_EQ(-1, t_check(self->buf, 4096, SEED, 0));
}

TEST_F(submit, writes_aio_key_zero)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_key = 0x1234;
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->cbp));
	EXPECT_EQ(0, self->cb.aio_key);
	EXPECT_EQ(4096, one_event(_metadata, self->c.fd, &self->cb));
}

TEST_F(submit, nr_negative_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, -1, self->cbp));
}

TEST_F(submit, nr_s64_min_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, LLONG_MIN, self->cbp));
}

TEST_F(submit, nr_zero_returns_0)
{
	struct io_event ev;
	struct timespec zero = { 0, 0 };

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(0, t_submit(self->c.fd, 0, self->cbp));
	EXPECT_EQ(0, t_getevents(self->c.fd, 0, 1, &ev, &zero));
}

TEST_F(submit, iocbpp_bad_pointer_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, t_submit(self->c.fd, 1, t_bad_ptr()));
}

TEST_F(submit, first_iocb_pointer_bad_EFAULT)
{
	struct iocb *cbs[2] = { t_bad_ptr(), &self->cb };

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, t_submit(self->c.fd, 2, cbs));
}

TEST_F(submit, second_iocb_pointer_bad_returns_1)
{
	struct iocb *cbs[2] = { &self->cb, t_bad_ptr() };

	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(1, t_submit(self->c.fd, 2, cbs));
	EXPECT_EQ(4096, one_event(_metadata, self->c.fd, &self->cb));
}

TEST_F(submit, second_iocb_invalid_returns_1)
{
	struct iocb bad;
	struct iocb *cbs[2] = { &self->cb, &bad };

	KAIO_SKIPPED_IN_SETUP();
	t_prep_pread(&bad, self->rw, self->buf + 8192, 4096, 0);
	bad.aio_reserved2 = 1;
	EXPECT_EQ(1, t_submit(self->c.fd, 2, cbs));
	EXPECT_EQ(4096, one_event(_metadata, self->c.fd, &self->cb));
}

TEST_F(submit, reserved2_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_reserved2 = 1;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, nbytes_sign_bit_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_nbytes = 1ULL << 63;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, nbytes_minus_1_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_nbytes = (__u64)-1;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, opcode_unknown_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_lio_opcode = 99;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, opcode_4_preadx_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_lio_opcode = 4;	/* the experimental IOCB_CMD_PREADX */
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, poll_events_above_16_bits_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_rw(&self->cb, IOCB_CMD_POLL, self->rw, NULL, 0, 0);
	self->cb.aio_buf = 0x10001;	/* POLLIN and a bit poll has not */
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, poll_nbytes_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_rw(&self->cb, IOCB_CMD_POLL, self->rw, NULL, 0, 0);
	self->cb.aio_buf = 1;		/* POLLIN */
	self->cb.aio_nbytes = 1;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

/* A request on a context would hold that context open: refused. */
TEST_F(submit, io_on_a_context_fd_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_rw(&self->cb, IOCB_CMD_POLL, self->c.fd, NULL, 0, 0);
	self->cb.aio_buf = 1;		/* POLLIN */
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fildes_not_open_EBADF)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_fildes = self->closed_fd;
	EXPECT_EQ(-EBADF, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, pread_on_wronly_fd_EBADF)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_fildes = self->wo;
	EXPECT_EQ(-EBADF, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, pwrite_on_rdonly_fd_EBADF)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_pwrite(&self->cb, self->ro, self->buf, 4096, 0);
	EXPECT_EQ(-EBADF, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, preadv_on_wronly_fd_EBADF)
{
	struct iovec iov = { self->buf, 4096 };

	KAIO_SKIPPED_IN_SETUP();
	t_prep_preadv(&self->cb, self->wo, &iov, 1, 0);
	EXPECT_EQ(-EBADF, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, rw_flags_unknown_bit_EOPNOTSUPP)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_rw_flags = 1 << 30;
	EXPECT_EQ(-EOPNOTSUPP, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, resfd_not_open_EBADF)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_flags = IOCB_FLAG_RESFD;
	self->cb.aio_resfd = self->closed_fd;
	EXPECT_EQ(-EBADF, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, resfd_not_eventfd_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_flags = IOCB_FLAG_RESFD;
	self->cb.aio_resfd = self->ro;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, offset_negative_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_offset = -4096;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, offset_plus_nbytes_overflows_loff_t_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_offset = LLONG_MAX - 100;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, buf_kernel_address_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_buf = KAIO_KERNEL_ADDR;
	EXPECT_EQ(-EFAULT, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, pwrite_buf_kernel_address_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_pwrite(&self->cb, self->rw, (void *)(uintptr_t)KAIO_KERNEL_ADDR,
		      4096, 0);
	EXPECT_EQ(-EFAULT, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, buf_null_event_res_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_buf = 0;
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->cbp));
	EXPECT_EQ(-EFAULT, one_event(_metadata, self->c.fd, &self->cb));
}

TEST_F(submit, buf_prot_none_event_res_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	self->cb.aio_buf = (uintptr_t)t_bad_ptr();
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->cbp));
	EXPECT_EQ(-EFAULT, one_event(_metadata, self->c.fd, &self->cb));
}

TEST_F(submit, preadv_iovcnt_above_UIO_MAXIOV_EINVAL)
{
	struct iovec *iov = calloc(1025, sizeof(*iov));
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, iov);
	for (i = 0; i < 1025; i++) {
		iov[i].iov_base = self->buf + i;
		iov[i].iov_len = 1;
	}
	t_prep_preadv(&self->cb, self->rw, iov, 1025, 0);
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, preadv_iovcnt_UIO_MAXIOV_accepted)
{
	struct iovec *iov = calloc(1024, sizeof(*iov));
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, iov);
	for (i = 0; i < 1024; i++) {
		iov[i].iov_base = self->buf + 2 * i;	/* every other byte */
		iov[i].iov_len = 1;
	}
	t_prep_preadv(&self->cb, self->rw, iov, 1024, 0);
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->cbp));
	EXPECT_EQ(1024, one_event(_metadata, self->c.fd, &self->cb));
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(-1, t_check(self->buf + 2 * i, 1, SEED, i));
}

TEST_F(submit, preadv_iovec_bad_pointer_EFAULT)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_preadv(&self->cb, self->rw, t_bad_ptr(), 2, 0);
	EXPECT_EQ(-EFAULT, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fsync_buf_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_fsync(&self->cb, self->rw);
	self->cb.aio_buf = (uintptr_t)self->buf;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fsync_offset_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_fsync(&self->cb, self->rw);
	self->cb.aio_offset = 4096;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fsync_nbytes_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_fsync(&self->cb, self->rw);
	self->cb.aio_nbytes = 4096;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fsync_rw_flags_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_fsync(&self->cb, self->rw);
	self->cb.aio_rw_flags = RWF_SYNC;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, fdsync_buf_nonzero_EINVAL)
{
	KAIO_SKIPPED_IN_SETUP();
	t_prep_fdsync(&self->cb, self->rw);
	self->cb.aio_buf = (uintptr_t)self->buf;
	EXPECT_EQ(-EINVAL, t_submit(self->c.fd, 1, self->cbp));
}

TEST_F(submit, iocb_in_readonly_memory_EFAULT)
{
	struct iocb *ro = t_alloc(4096);

	KAIO_SKIPPED_IN_SETUP();
	*ro = self->cb;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, t_submit_one(self->c.fd, ro));
}

/* ---- capacity: in flight + unreaped never exceeds the granted nr_events -- */

FIXTURE(cap) {
	struct t_ctx c;
	unsigned int n;
	struct iocb *cbs;
	struct iocb **ptrs;
	struct io_event *ev;
};

FIXTURE_SETUP(cap)
{
	unsigned int i;

	KAIO_CTX_INIT(&self->c, 1, 0);
	self->n = self->c.cap;
	ASSERT_LE(1, self->n);
	/* room for more iocbs than fit */
	self->cbs = calloc(self->n + 16, sizeof(*self->cbs));
	self->ptrs = calloc(self->n + 16, sizeof(*self->ptrs));
	self->ev = calloc(self->n + 16, sizeof(*self->ev));
	ASSERT_NE(NULL, self->cbs);
	ASSERT_NE(NULL, self->ptrs);
	ASSERT_NE(NULL, self->ev);
	for (i = 0; i < self->n + 16; i++) {
		t_prep_noop(&self->cbs[i], self->c.nullfd);
		self->cbs[i].aio_data = i;
		self->ptrs[i] = &self->cbs[i];
	}
}

FIXTURE_TEARDOWN(cap)
{
	t_ctx_close(&self->c);
}

TEST_F(cap, fills_exactly_to_capacity)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(self->n, t_submit(self->c.fd, self->n, self->ptrs));
	EXPECT_EQ(self->n, t_wait(self->c.fd, self->ev, self->n, 10000));
}

TEST_F(cap, beyond_capacity_queues_what_fits_then_EAGAIN)
{
	KAIO_SKIPPED_IN_SETUP();
	if (self->n < 3)
		SKIP(return, "capacity %u too small", self->n);
	ASSERT_EQ(self->n - 2, t_submit(self->c.fd, self->n - 2, self->ptrs));
	EXPECT_EQ(2, t_submit(self->c.fd, 5, self->ptrs + self->n - 2));
	EXPECT_EQ(-EAGAIN, t_submit(self->c.fd, 1, self->ptrs + self->n));
}

TEST_F(cap, first_beyond_capacity_EAGAIN)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(self->n, t_submit(self->c.fd, self->n, self->ptrs));
	EXPECT_EQ(-EAGAIN, t_submit(self->c.fd, 1, self->ptrs + self->n));
	EXPECT_EQ(-EAGAIN, t_submit(self->c.fd, 4, self->ptrs + self->n));
}

TEST_F(cap, nr_above_capacity_is_clamped)
{
	KAIO_SKIPPED_IN_SETUP();
	EXPECT_EQ(self->n, t_submit(self->c.fd, self->n + 16, self->ptrs));
	EXPECT_EQ(self->n, t_wait(self->c.fd, self->ev, self->n, 10000));
	EXPECT_EQ(self->n - 1, self->ev[self->n - 1].data);
}

TEST_F(cap, nr_huge_is_clamped)
{
	KAIO_SKIPPED_IN_SETUP();
	/* only the first n pointers are ever read */
	EXPECT_EQ(self->n, t_submit(self->c.fd, LLONG_MAX, self->ptrs));
}

TEST_F(cap, reaping_frees_capacity)
{
	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(self->n, t_submit(self->c.fd, self->n, self->ptrs));
	ASSERT_EQ(-EAGAIN, t_submit(self->c.fd, 1, self->ptrs));
	ASSERT_EQ(3, t_wait(self->c.fd, self->ev, 3, 10000));
	EXPECT_EQ(3, t_submit(self->c.fd, 3, self->ptrs));
	EXPECT_EQ(-EAGAIN, t_submit(self->c.fd, 1, self->ptrs));
}

TEST_F(cap, failed_submits_consume_no_capacity)
{
	struct iocb bad;
	struct iocb *badp = &bad;
	int i;

	KAIO_SKIPPED_IN_SETUP();
	t_prep_noop(&bad, self->c.nullfd);
	bad.aio_reserved2 = 1;
	for (i = 0; i < 8; i++)
		ASSERT_EQ(-EINVAL, t_submit(self->c.fd, 1, &badp));
	bad.aio_reserved2 = 0;
	bad.aio_lio_opcode = 99;
	for (i = 0; i < 8; i++)
		ASSERT_EQ(-EINVAL, t_submit(self->c.fd, 1, &badp));
	EXPECT_EQ(self->n, t_submit(self->c.fd, self->n, self->ptrs));
}

TEST_HARNESS_MAIN
