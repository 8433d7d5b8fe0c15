// SPDX-License-Identifier: GPL-2.0
/*
 * KAIO_IOC_SETUP on /dev/kaio: what it grants, what it refuses, and the
 * ioctls that do not belong on each kind of fd (io_setup(2) semantics).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <linux/aio_abi.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

TEST(setup_returns_new_cloexec_fd)
{
	struct kaio_setup s = { .nr_events = 8 };
	int dev, fd, flags;

	KAIO_DEV_OPEN(dev);
	fd = t_setup_raw(dev, &s);
	ASSERT_LE(0, fd);
	EXPECT_NE(dev, fd);
	flags = fcntl(fd, F_GETFD);
	ASSERT_LE(0, flags);
	EXPECT_EQ(FD_CLOEXEC, flags & FD_CLOEXEC);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(dev));
}

TEST(setup_twice_returns_two_contexts)
{
	struct kaio_setup a = { .nr_events = 8 }, b = { .nr_events = 8 };
	int dev, fa, fb;

	KAIO_DEV_OPEN(dev);
	fa = t_setup_raw(dev, &a);
	fb = t_setup_raw(dev, &b);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	EXPECT_NE(fa, fb);
}

TEST(setup_grants_at_least_nr_events)
{
	static const unsigned int asks[] = { 1, 2, 127, 128, 129, 1000, 4096 };
	unsigned int i;
	int dev;

	KAIO_DEV_OPEN(dev);
	for (i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		struct kaio_setup s = { .nr_events = asks[i] };
		int fd = t_setup_raw(dev, &s);

		ASSERT_LE(0, fd) TH_LOG("nr_events %u", asks[i]);
		EXPECT_LE(asks[i], s.nr_events) TH_LOG("asked %u", asks[i]);
		close(fd);
	}
}

TEST(setup_ring_size_is_whole_pages_holding_capacity)
{
	struct kaio_setup s = { .nr_events = 100 };
	int dev, fd;

	KAIO_DEV_OPEN(dev);
	fd = t_setup_raw(dev, &s);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, s.ring_size);
	EXPECT_EQ(0, s.ring_size % page_size());
	/* header + (capacity + 1) slots, since the ring keeps one slot empty */
	EXPECT_LE(sizeof(struct kaio_ring) +
		  (s.nr_events + 1ULL) * sizeof(struct io_event), s.ring_size);
}

TEST(setup_features_report_ring_mmap)
{
	struct kaio_setup s = { .nr_events = 8 };
	int dev;

	KAIO_DEV_OPEN(dev);
	ASSERT_LE(0, t_setup_raw(dev, &s));
	EXPECT_EQ(KAIO_FEAT_RING_MMAP, s.features & KAIO_FEAT_RING_MMAP);
}

TEST(setup_res2_path_flag_accepted)
{
	struct kaio_setup s = { .nr_events = 8, .flags = KAIO_SETUP_RES2_PATH };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_LE(0, t_setup_raw(dev, &s));
}

TEST(setup_nr_events_zero_EINVAL)
{
	struct kaio_setup s = { .nr_events = 0 };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_nr_events_above_4194304_EINVAL)
{
	struct kaio_setup s = { .nr_events = 4194305 };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_nr_events_u32_max_EINVAL)
{
	struct kaio_setup s = { .nr_events = 0xffffffffu };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_nr_events_above_max_events_EAGAIN)
{
	struct kaio_setup s = { .nr_events = 65537 };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EAGAIN, t_setup_raw(dev, &s));
}

/* The lowest bit above the known ones (they are the low bits). */
TEST(setup_flags_unknown_bit_EINVAL)
{
	struct kaio_setup s = {
		.nr_events = 8,
		.flags = (KAIO_SETUP_FLAGS + 1) & ~KAIO_SETUP_FLAGS,
	};
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_flags_top_bit_EINVAL)
{
	struct kaio_setup s = { .nr_events = 8, .flags = 1u << 31 };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_reserved0_nonzero_EINVAL)
{
	struct kaio_setup s = { .nr_events = 8, .reserved = { 1, 0, 0 } };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

TEST(setup_reserved_last_nonzero_EINVAL)
{
	struct kaio_setup s = { .nr_events = 8, .reserved = { 0, 0, 1ULL << 63 } };
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-EINVAL, t_setup_raw(dev, &s));
}

/* The opcodes IOCB_CMD_* names that kaio serves; NOOP is its own. */
static const unsigned long long kaio_opcodes =
	1ULL << IOCB_CMD_PREAD | 1ULL << IOCB_CMD_PWRITE |
	1ULL << IOCB_CMD_FSYNC | 1ULL << IOCB_CMD_FDSYNC |
	1ULL << IOCB_CMD_POLL | 1ULL << IOCB_CMD_NOOP |
	1ULL << IOCB_CMD_PREADV | 1ULL << IOCB_CMD_PWRITEV;

TEST(setup_reports_supported_opcodes_as_mask)
{
	struct kaio_setup s = { .nr_events = 8 };
	int dev, fd;

	KAIO_DEV_OPEN(dev);
	fd = t_setup_raw(dev, &s);
	ASSERT_LE(0, fd);
	EXPECT_NE(0, s.features & KAIO_FEAT_OPCODES);
	EXPECT_EQ(kaio_opcodes, s.opcodes);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(dev));
}

/* opcodes is out only: a struct reused from an earlier SETUP still works. */
TEST(setup_opcodes_ignored_in)
{
	struct kaio_setup s = { .nr_events = 8, .opcodes = ~0ULL };
	int dev, fd;

	KAIO_DEV_OPEN(dev);
	fd = t_setup_raw(dev, &s);
	ASSERT_LE(0, fd);
	EXPECT_EQ(kaio_opcodes, s.opcodes);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(dev));
}

/*
 * The mask is the truth: every opcode outside it fails SUBMIT with EINVAL
 * (io_submit(2)'s answer for an opcode it does not know), on a valid fd,
 * up to the largest aio_lio_opcode.
 */
TEST(submit_opcode_outside_the_mask_EINVAL)
{
	struct kaio_setup s = { .nr_events = 8 };
	struct iocb cb;
	unsigned int op;
	int dev, ctx, fd;

	KAIO_DEV_OPEN(dev);
	ctx = t_setup_raw(dev, &s);
	ASSERT_LE(0, ctx);
	fd = open("/proc/self/exe", O_RDONLY);
	ASSERT_LE(0, fd);
	for (op = 0; op <= 0xffff; op++) {
		if (op < 64 && (s.opcodes & (1ULL << op)))
			continue;
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = fd;
		cb.aio_lio_opcode = op;
		ASSERT_EQ(-EINVAL, t_submit_one(ctx, &cb)) TH_LOG("opcode %u", op);
	}
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(ctx));
	EXPECT_EQ(0, close(dev));
}

TEST(setup_arg_bad_pointer_EFAULT)
{
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-1, ioctl(dev, KAIO_IOC_SETUP, t_bad_ptr()));
	EXPECT_EQ(EFAULT, errno);
}

TEST(setup_arg_null_EFAULT)
{
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-1, ioctl(dev, KAIO_IOC_SETUP, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST(dev_unknown_ioctl_ENOTTY)
{
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-1, ioctl(dev, _IO(KAIO_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(ctx_unknown_ioctl_ENOTTY)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(-1, ioctl(c.fd, _IO(KAIO_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(dev_submit_ENOTTY)
{
	struct t_ctx c;
	struct iocb cb, *cbs[1] = { &cb };

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	EXPECT_EQ(-ENOTTY, t_submit(c.dev, 1, cbs));
}

TEST(dev_getevents_ENOTTY)
{
	struct t_ctx c;
	struct io_event ev;
	struct timespec ts = { 0, 0 };

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(-ENOTTY, t_getevents(c.dev, 0, 1, &ev, &ts));
}

TEST(dev_cancel_ENOTTY)
{
	struct t_ctx c;
	struct iocb cb;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	EXPECT_EQ(-ENOTTY, t_cancel(c.dev, &cb));
}

TEST(dev_destroy_ENOTTY)
{
	int dev;

	KAIO_DEV_OPEN(dev);
	EXPECT_EQ(-ENOTTY, t_destroy(dev));
}

/*
 * Signals arriving faster than the first SETUP's walk must not keep SETUP
 * from ever ending. The first SETUP of a process registers its mm
 * (module/mm.c), which takes every lock of the mm, and 6.1's
 * mm_take_all_locks() gives up for any pending signal: with more mappings
 * than it can lock between two signals, SETUP, restarted after each one,
 * never ended (seen with libkaio-posix's first aio_read under a 300 us
 * ITIMER_REAL on the debug kernel). io_setup(2), whose ring mmap only a
 * fatal signal stops, is the reference, under the same signals. A thread
 * sends one every four times what taking one costs here (a continuous
 * stream starved the main thread on the KASAN kernel), while 60000 mappings
 * take many times that to walk, until the call returns or for 10 s: a call
 * that needs that fails the test, not hangs.
 */
struct signal_storm {
	pthread_t thread;
	pid_t target;
	uint64_t interval_ns;
	int stop;		/* __atomic */
	int gave_up;
	long sent;		/* __atomic */
};

static volatile sig_atomic_t storm_caught;

static void storm_handler(int sig)
{
	(void)sig;
	storm_caught++;
}

static void *storm_thread(void *arg)
{
	struct signal_storm *st = arg;
	uint64_t end = t_now_ns() + 10ULL * 1000000000ULL, next;

	while (!__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
		if (t_now_ns() > end) {
			st->gave_up = 1;
			break;
		}
		syscall(SYS_tgkill, getpid(), st->target, SIGUSR1);
		__atomic_add_fetch(&st->sent, 1, __ATOMIC_RELAXED);
		next = t_now_ns() + st->interval_ns;
		while (t_now_ns() < next &&
		       !__atomic_load_n(&st->stop, __ATOMIC_RELAXED))
			;
	}
	return NULL;
}

/* Returns once the first signal is sent: the call that follows is under it. */
static int storm_start(struct signal_storm *st, uint64_t interval_ns)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->interval_ns = interval_ns;
	st->target = syscall(SYS_gettid);
	storm_caught = 0;
	ret = pthread_create(&st->thread, NULL, storm_thread, st);
	while (!ret && !__atomic_load_n(&st->sent, __ATOMIC_RELAXED))
		sched_yield();
	return ret;
}

static void storm_stop(struct signal_storm *st)
{
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELAXED);
	pthread_join(st->thread, NULL);
}

/* What taking one signal costs this thread (its handler, a round trip). */
static uint64_t signal_cost_ns(void)
{
	uint64_t t0 = t_now_ns();
	int i;

	for (i = 0; i < 100; i++)
		syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
	return (t_now_ns() - t0) / 100;
}

/* Up to 15 s of mappings and two 10 s bounds: more than the default 30 s. */
FIXTURE(storm) {
	int unused;
};

FIXTURE_SETUP(storm)
{
}

FIXTURE_TEARDOWN(storm)
{
}

TEST_F_TIMEOUT(storm, setup_completes_under_signal_storm, 120)
{
	const long pg = page_size(), nvma = 60000;	/* max_map_count 65530 */
	struct kaio_setup s = { .nr_events = 8 };
	struct signal_storm st;
	aio_context_t actx = 0;
	struct sigaction sa;
	sigset_t usr2, before, after;
	uint64_t t0, interval;
	char *map;
	long i, sent;
	int dev, fd, ret;

	/*
	 * Up to nvma mappings, every other page read-only so that none
	 * merge; for at most 15 s (each split costs ~3 ms on the KASAN kernel,
	 * whose test still shows the fix neither deadlocks nor trips lockdep;
	 * Debian's kernel makes all of them, where the old code livelocked).
	 */
	map = mmap(NULL, nvma * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	t0 = t_now_ns();
	for (i = 0; i < nvma && t_now_ns() - t0 < 15000000000ULL; i += 2)
		ASSERT_EQ(0, mprotect(map + i * pg, pg, PROT_READ));
	KAIO_DEV_OPEN(dev);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = storm_handler;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	interval = 4 * signal_cost_ns();
	TH_LOG("%ld mappings in %.1f s; one signal sent every %.1f us", i,
	       (t_now_ns() - t0) / 1e9, interval / 1e3);

	/* Native AIO: io_setup ends whatever the signals do. */
	t0 = t_now_ns();
	ASSERT_EQ(0, storm_start(&st, interval));
	ret = syscall(__NR_io_setup, 8, &actx);
	storm_stop(&st);
	TH_LOG("io_setup: %.1f ms, %d signals caught", (t_now_ns() - t0) / 1e6,
	       (int)storm_caught);
	ASSERT_EQ(0, ret);
	EXPECT_FALSE(st.gave_up);
	EXPECT_EQ(0, syscall(__NR_io_destroy, actx));

	/*
	 * The process's first SETUP: the same, and the thread's mask is as
	 * it was (SIGUSR2 blocked, SIGUSR1 not: its handler ran).
	 */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &usr2, &before));
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, NULL, &before));
	t0 = t_now_ns();
	ASSERT_EQ(0, storm_start(&st, interval));
	sent = __atomic_load_n(&st.sent, __ATOMIC_RELAXED);
	fd = t_setup_raw(dev, &s);
	sent = __atomic_load_n(&st.sent, __ATOMIC_RELAXED) - sent;
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, NULL, &after));
	storm_stop(&st);
	TH_LOG("SETUP: %.1f ms, %ld signals sent during the call, %d caught",
	       (t_now_ns() - t0) / 1e6, sent, (int)storm_caught);
	ASSERT_LE(0, fd);
	EXPECT_FALSE(st.gave_up) {
		TH_LOG("SETUP ended only once the signals stopped");
	}
	EXPECT_LT(0, sent);
	EXPECT_LT(0, storm_caught);
	for (i = 1; i <= SIGRTMAX; i++)
		EXPECT_EQ(sigismember(&before, i), sigismember(&after, i)) {
			TH_LOG("signal %ld", i);
		}
	EXPECT_TRUE(sigismember(&after, SIGUSR2));
	EXPECT_FALSE(sigismember(&after, SIGUSR1));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(dev));
	munmap(map, nvma * pg);
}

TEST_HARNESS_MAIN
