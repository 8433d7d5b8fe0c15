// SPDX-License-Identifier: GPL-2.0
/*
 * The owner dies with requests in flight: SIGKILL of a process blocked in
 * GETEVENTS with 256 requests in flight (cold buffered reads on the slow
 * ext4 and xfs, O_DIRECT reads on the slow raw device, ext4 DSYNC writes,
 * POLLs that never complete). Variants: the ring mapped too (the mapping is
 * one more reference), a second thread also in GETEVENTS, killed while
 * submitting and reaping in a loop rather than waiting. The exit is the
 * last close: it cancels what it can and waits for the rest.
 *
 * Whatever the timing, what must always hold: within seconds of the kill
 * the module is back where the test started: /sys/kernel/debug/kaio/stats
 * shows as many `contexts` as before, `pinned_pages_reserved` 0, and as
 * many requests completed as were submitted (those whose events nobody can
 * read any more are counted completed); each write landed whole or not at
 * all.
 *
 * The runner checks dmesg after the program and unloads kaio at the end.
 * The slow devices (KAIO_SLOW_*: ten milliseconds or more per I/O) keep
 * requests in flight long enough for the test to act on them; the requests
 * and the checks are kaio_util.h's (t_mix, t_batch_check(),
 * t_expect_settled()).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

FIXTURE(killed) {
	struct t_stats g0;
	struct t_mix m;
};

FIXTURE_VARIANT(killed) {
	bool map_ring;		/* the mapping is one more reference */
	bool second_waiter;	/* another thread also in GETEVENTS */
	bool submitting;	/* killed while submitting, not waiting */
};

FIXTURE_VARIANT_ADD(killed, blocked_in_getevents) { };
FIXTURE_VARIANT_ADD(killed, ring_mapped) { .map_ring = true };
FIXTURE_VARIANT_ADD(killed, two_threads_in_getevents) { .second_waiter = true };
FIXTURE_VARIANT_ADD(killed, while_submitting) { .submitting = true };

FIXTURE_SETUP(killed)
{
	self->m.cold_fd[0] = self->m.cold_fd[1] = -1;
	self->m.direct_fd = self->m.write_fd = -1;
	KAIO_BASELINE(&self->g0);
}

FIXTURE_TEARDOWN(killed)
{
	t_mix_close(&self->m);
}

/*
 * The child: a context, 256 requests, then "ready" on @ready and wait for
 * all of them plus a POLL that never completes: it blocks until killed.
 * Exit codes (never reached when killed) say what went wrong.
 */
static void __attribute__((noreturn))
killed_child(struct t_batch *b, int ready, const FIXTURE_VARIANT(killed) *v,
	     int cold_fd)
{
	struct io_event *ev = calloc(2 * b->n, sizeof(*ev));
	struct t_waiter w = { 0 };
	struct t_ctx c;
	pthread_t th;
	long long round = 0;

	if (t_ctx_init(&c, 4096, 0))
		_exit(10);
	if (v->map_ring && t_ctx_map_ring(&c))
		_exit(11);
	if (t_submit(c.fd, b->n, b->ptrs) != b->n)
		_exit(12);
	if (v->submitting) {
		/* cold reads again and again, reaped as they come */
		if (write(ready, "r", 1) != 1)
			_exit(13);
		for (;;) {
			struct iocb *cbs = calloc(32, sizeof(*cbs)), *p[32];
			char *buf = t_alloc(32 * T_BS);
			int i;

			posix_fadvise(cold_fd, 0, 0, POSIX_FADV_DONTNEED);
			for (i = 0; i < 32; i++) {
				t_prep_pread(&cbs[i], cold_fd, buf + i * T_BS, T_BS,
					     ((round * 32 + i) % T_COLD_NR) * T_COLD_STRIDE);
				p[i] = &cbs[i];
			}
			t_submit(c.fd, 32, p);
			t_getevents(c.fd, 0, 2 * b->n, ev, NULL);
			round++;	/* buffers and iocbs leak: the child dies */
		}
	}
	if (v->second_waiter) {
		w.ctx = c.fd;
		w.min_nr = b->n;
		w.ev = calloc(b->n, sizeof(*w.ev));
		if (pthread_create(&th, NULL, t_getevents_thread, &w))
			_exit(14);
	}
	if (write(ready, "r", 1) != 1)
		_exit(13);
	/* the POLLs never complete: this waits until SIGKILL */
	t_getevents(c.fd, b->n, b->n, ev, NULL);
	_exit(15);
}

TEST_F_TIMEOUT(killed, sigkill_with_256_in_flight_contexts_back_within_seconds, 120)
{
	/* 64 cold reads per slow fs, 96 O_DIRECT reads, 32 writes, 32 POLLs */
	static const struct t_mix_counts n = {
		.cold = 64, .direct = 96, .writes = 32, .polls = 32,
	};
	struct t_stats g;
	struct pollfd pfd;
	int sv[2], status, ret;
	const char *why;
	uint64_t t0;
	char byte;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	why = t_mix_open(&self->m, &n);
	if (why)
		SKIP(return, "%s", why);
	TH_LOG("%d requests in flight in the child", self->m.b.n);
	ASSERT_EQ(0, pipe2(sv, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		killed_child(&self->m.b, sv[1], variant, self->m.cold_fd[0]);
	}
	close(sv[1]);
	pfd = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	ret = poll(&pfd, 1, 30000);
	EXPECT_EQ(1, ret);
	EXPECT_EQ(1, read(sv[0], &byte, 1)) TH_LOG("the child failed early");
	close(sv[0]);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);
	usleep(variant->submitting ? 50000 : 20000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	t0 = t_now_ns();
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	t_expect_settled(_metadata, &self->g0, 5000);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	TH_LOG("settled %lld ms after SIGKILL; %lld requests since the start",
	       (long long)(t_now_ns() - t0) / 1000000,
	       g.submitted - self->g0.submitted);
	EXPECT_LE(self->m.b.n, g.submitted - self->g0.submitted);
	/* writes either landed whole or not at all */
	t_check_written(_metadata, &self->m.b, self->m.write_fd, false);
}

TEST_HARNESS_MAIN
