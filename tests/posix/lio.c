// SPDX-License-Identifier: GPL-2.0
/* lio_listio: LIO_WAIT, LIO_NOWAIT with list and per-element notification,
 * errors. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

TEST(lio_wait_mixed_nop_null)
{
	int rfd = pattern_file(1 << 16, O_RDONLY), wfd = empty_file(O_RDWR);
	static char rb[4][4096], wb[4][4096], back[4 * 4096];
	struct aiocb cb[9];
	struct aiocb *list[10];
	int n = 0;

	for (int i = 0; i < 4; i++) {
		aiocb_init(&cb[n], rfd, rb[i], 4096, i * 8192);
		cb[n].aio_lio_opcode = LIO_READ;
		list[n] = &cb[n];
		n++;
		fill_pattern(wb[i], i * 4096, 4096);
		aiocb_init(&cb[n], wfd, wb[i], 4096, i * 4096);
		cb[n].aio_lio_opcode = LIO_WRITE;
		list[n] = &cb[n];
		n++;
	}
	aiocb_init(&cb[n], rfd, NULL, 0, 0);
	cb[n].aio_lio_opcode = LIO_NOP;
	list[n] = &cb[n];
	n++;
	list[n++] = NULL;
	REQUIRE_EQ(lio_listio(LIO_WAIT, list, n, NULL), 0);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), 4096);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ(check_pattern(rb[i], i * 8192, 4096), -1);
	REQUIRE_EQ(pread_all(wfd, back, sizeof(back), 0), sizeof(back));
	CHECK_EQ(check_pattern(back, 0, sizeof(back)), -1);
}

static struct aiocb *sig_list[16];
static int sig_nent;
static volatile sig_atomic_t list_sigs, list_all_done, list_code, elem_sigs;
static void *volatile list_ptr;

static void on_list(int sig, siginfo_t *si, void *uc)
{
	int done = 1;

	(void)sig;
	(void)uc;
	/* The list signal comes when every request is complete. */
	for (int i = 0; i < sig_nent; i++)
		if (sig_list[i] && aio_error(sig_list[i]) == EINPROGRESS)
			done = 0;
	list_all_done = done;
	list_code = si->si_code;
	list_ptr = si->si_value.sival_ptr;
	list_sigs++;
}

static void on_elem(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == SI_ASYNCIO)
		elem_sigs++;
}

static void handler(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	REQUIRE(!sigaction(sig, &sa, NULL));
}

static void build_list(int fd, char (*buf)[4096], struct aiocb *cb, int n)
{
	for (int i = 0; i < n; i++) {
		aiocb_init(&cb[i], fd, buf[i], 4096, i * 4096);
		cb[i].aio_lio_opcode = LIO_READ;
		sig_list[i] = &cb[i];
	}
	sig_nent = n;
}

/* LIO_NOWAIT with SIGEV_SIGNAL: one signal, after all are done; each
 * element's own sigevent is honoured as well (glibc 2.4+). */
TEST(lio_nowait_signal)
{
	enum { N = 12 };
	int fd = pattern_file(N * 4096, O_RDONLY);
	static char buf[N][4096];
	static struct aiocb cb[N];
	struct sigevent sev;
	double end;

	handler(SIGRTMIN + 8, on_list);
	handler(SIGRTMIN + 9, on_elem);
	build_list(fd, buf, cb, N);
	for (int i = 0; i < N; i += 3) {
		cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cb[i].aio_sigevent.sigev_signo = SIGRTMIN + 9;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 8;
	sev.sigev_value.sival_ptr = cb;
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, sig_list, N, &sev), 0);
	end = now() + tscale(10);
	while ((!list_sigs || elem_sigs < N / 3) && now() < end)
		msleep(1);
	msleep(100);
	CHECK_EQ(list_sigs, 1);
	CHECK_EQ(list_all_done, 1);
	CHECK_EQ(list_code, SI_ASYNCIO);
	CHECK(list_ptr == cb, "list si_value %p", list_ptr);
	CHECK_EQ(elem_sigs, N / 3);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(aio_error(&cb[i]), 0);
		CHECK_EQ(aio_return(&cb[i]), 4096);
		CHECK_EQ(check_pattern(buf[i], i * 4096, 4096), -1);
	}
}

static atomic_int lt_calls, lt_done, lt_val;

static void list_thread_fn(union sigval v)
{
	int done = 1;

	for (int i = 0; i < sig_nent; i++)
		if (aio_error(sig_list[i]) == EINPROGRESS)
			done = 0;
	lt_done = done;
	lt_val = v.sival_int;
	lt_calls++;
}

TEST(lio_nowait_thread)
{
	enum { N = 10 };
	int fd = pattern_file(N * 4096, O_RDONLY);
	static char buf[N][4096];
	static struct aiocb cb[N];
	struct sigevent sev;
	double end;

	build_list(fd, buf, cb, N);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = list_thread_fn;
	sev.sigev_value.sival_int = 31337;
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, sig_list, N, &sev), 0);
	end = now() + tscale(10);
	while (!lt_calls && now() < end)
		msleep(1);
	msleep(100);
	CHECK_EQ(lt_calls, 1);
	CHECK_EQ(lt_done, 1);
	CHECK_EQ(lt_val, 31337);
	for (int i = 0; i < N; i++)
		CHECK_EQ(aio_return(&cb[i]), 4096);
}

/* LIO_NOWAIT, no sigevent: returns, the requests complete. */
TEST(lio_nowait_no_sigevent)
{
	enum { N = 8 };
	int fd = pattern_file(N * 4096, O_RDONLY);
	static char buf[N][4096];
	static struct aiocb cb[N];

	build_list(fd, buf, cb, N);
	REQUIRE_EQ(lio_listio(LIO_NOWAIT, sig_list, N, NULL), 0);
	for (int i = 0; i < N; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		CHECK_EQ(aio_return(&cb[i]), 4096);
		CHECK_EQ(check_pattern(buf[i], i * 4096, 4096), -1);
	}
}

TEST(lio_bad_mode)
{
	int fd = pattern_file(4096, O_RDONLY);
	char buf[4096];
	struct aiocb cb;
	struct aiocb *list[1] = { &cb };

	aiocb_init(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_lio_opcode = LIO_READ;
	errno = 0;
	CHECK_EQ(lio_listio(12345, list, 1, NULL), -1);
	CHECK_EQ(errno, EINVAL);
}

/* POSIX: nent 0 is not an error (glibc: returns 0 at once). */
TEST(lio_nent_zero)
{
	struct aiocb *list[1] = { NULL };

	CHECK_EQ(lio_listio(LIO_WAIT, list, 0, NULL), 0);
	CHECK_EQ(lio_listio(LIO_NOWAIT, list, 0, NULL), 0);
}

/* nent above AIO_LISTIO_MAX: POSIX EINVAL (glibc has no such limit:
 * sysconf(_SC_AIO_LISTIO_MAX) is -1 there, meaning none). */
TEST(lio_nent_over_max)
{
	long max = sysconf(_SC_AIO_LISTIO_MAX);

	if (max <= 0)
		ptest_skip("no AIO_LISTIO_MAX (sysconf %ld): nothing to exceed", max);
	{
		struct aiocb **list = calloc(max + 1, sizeof(*list));

		errno = 0;
		CHECK_EQ(lio_listio(LIO_WAIT, list, max + 1, NULL), -1);
		CHECK_EQ(errno, EINVAL);
	}
}

/* One element with a bad fd under LIO_WAIT: -1/EIO, that element's
 * aio_error EBADF, the others succeed. */
TEST(lio_wait_element_error_eio)
{
	int fd = pattern_file(4 * 4096, O_RDONLY), bad = empty_file(O_RDWR);
	static char buf[4][4096];
	struct aiocb cb[4];
	struct aiocb *list[4];

	close(bad);
	for (int i = 0; i < 4; i++) {
		aiocb_init(&cb[i], i == 2 ? bad : fd, buf[i], 4096, i * 4096);
		cb[i].aio_lio_opcode = LIO_READ;
		list[i] = &cb[i];
	}
	errno = 0;
	CHECK_EQ(lio_listio(LIO_WAIT, list, 4, NULL), -1);
	CHECK_EQ(errno, EIO);
	for (int i = 0; i < 4; i++) {
		if (i == 2) {
			CHECK_EQ(aio_error(&cb[i]), EBADF);
			CHECK_EQ(aio_return(&cb[i]), -1);
		} else {
			CHECK_EQ(aio_error(&cb[i]), 0);
			CHECK_EQ(aio_return(&cb[i]), 4096);
		}
	}
}

/* The same under LIO_NOWAIT: the call succeeds (the error is the
 * element's), every element completes. */
TEST(lio_nowait_element_error)
{
	int fd = pattern_file(4 * 4096, O_RDONLY), bad = empty_file(O_RDWR);
	static char buf[4][4096];
	struct aiocb cb[4];
	struct aiocb *list[4];
	int r;

	close(bad);
	for (int i = 0; i < 4; i++) {
		aiocb_init(&cb[i], i == 1 ? bad : fd, buf[i], 4096, i * 4096);
		cb[i].aio_lio_opcode = LIO_READ;
		list[i] = &cb[i];
	}
	errno = 0;
	r = lio_listio(LIO_NOWAIT, list, 4, NULL);
	CHECK(r == 0 || (r == -1 && errno == EIO), "lio_listio %d errno %d", r, errno);
	for (int i = 0; i < 4; i++) {
		REQUIRE(!wait_done(&cb[i], 10));
		if (i == 1) {
			CHECK_EQ(aio_error(&cb[i]), EBADF);
		} else {
			CHECK_EQ(aio_error(&cb[i]), 0);
			CHECK_EQ(aio_return(&cb[i]), 4096);
		}
	}
}

/* A bad aio_reqprio in one element: glibc fails that element at submission
 * (EINVAL in its aio_error), queues the rest, and answers -1/EIO. */
TEST(lio_wait_element_bad_reqprio)
{
	int fd = pattern_file(2 * 4096, O_RDONLY);
	static char buf[2][4096];
	struct aiocb cb[2];
	struct aiocb *list[2];

	for (int i = 0; i < 2; i++) {
		aiocb_init(&cb[i], fd, buf[i], 4096, i * 4096);
		cb[i].aio_lio_opcode = LIO_READ;
		list[i] = &cb[i];
	}
	cb[0].aio_reqprio = -1;
	errno = 0;
	CHECK_EQ(lio_listio(LIO_WAIT, list, 2, NULL), -1);
	CHECK_EQ(errno, EIO);
	CHECK_EQ(aio_error(&cb[0]), EINVAL);
	CHECK_EQ(aio_error(&cb[1]), 0);
	CHECK_EQ(aio_return(&cb[1]), 4096);
}
