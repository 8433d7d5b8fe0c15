// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: what happens to requests in flight when what they belong to,
 * or what they use, goes away first. Cancel in every state a request can
 * be in; DESTROY and close with hundreds in flight; the owner killed with
 * SIGKILL; threads that exit or close while another waits; fork and
 * SCM_RIGHTS with requests in flight; the file, the buffer and the eventfd
 * closed or unmapped under a request.
 *
 * Whatever the timing, each test checks what must always hold: every
 * request posts exactly one event (or, when nobody can read it any more,
 * is counted completed), with a result its state allows; and afterwards the
 * module is back where the test started: /sys/kernel/debug/kaio/stats shows
 * as many `contexts` as before, `pinned_pages_reserved` 0, and as many
 * requests completed as were submitted. The runner checks dmesg after the
 * program and unloads kaio at the end.
 *
 * The slow devices (KAIO_SLOW_*: ten milliseconds or more per I/O) keep
 * requests in flight long enough for the test to act on them.
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
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0x11fe7ULL	/* files read */
#define OLD_SEED	0x01d5eedULL	/* files written: before */
#define NEW_SEED	0x0e75eedULL	/* files written: what the writes write */
#define RAW_SEED	0x7a3dULL	/* the slow raw device's test region */
#define RAW_OFF		(256LL << 20)	/* inside $KAIO_SLOW_RAW_DEV (512 MiB) */
#define BS		4096
#define COLD_STRIDE	(64 << 10)	/* cold reads: beyond each other's readahead */
#define COLD_SIZE	(4 << 20)
#define COLD_NR		(COLD_SIZE / COLD_STRIDE)

/* ---- module-wide accounting ----------------------------------------------- */

/*
 * Back where the test started within @ms: as many contexts, no pinned pages
 * reserved, every request submitted since then completed (its event posted,
 * or counted when nobody could read it any more).
 */
static void expect_settled(struct __test_metadata *_metadata,
			   const struct t_stats *g0, int ms)
{
	struct t_stats g;

	KAIO_EXPECT_SETTLED(&g, g0, ms);
	EXPECT_EQ(g0->contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	EXPECT_EQ(g0->events_reserved, g.events_reserved);
}

/* /dev/kaio must be there (else skip) and its debugfs counters readable. */
#define BASELINE(g0) do {							\
	int __dev;								\
	KAIO_DEV_OPEN(__dev);							\
	close(__dev);								\
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, (g0)))		\
		TH_LOG("%s: debugfs not mounted?", KAIO_DEBUGFS_STATS);		\
	t_stats_log("module at start", (g0));				\
} while (0)

/* ---- resources ---------------------------------------------------------------- */

/*
 * The files cold reads read: one per directory, made by the first test
 * that needs it and shared by the others (each test runs in its own
 * process; writing 4 MiB to a slow device costs seconds under TCG), then
 * removed when the program ends.
 */
static pid_t main_pid;

static void cold_path(char *path, size_t len, const char *dir)
{
	snprintf(path, len, "%s/lifetime-cold.%d", dir, (int)main_pid);
}

static void __attribute__((constructor)) note_main_pid(void)
{
	main_pid = getpid();
}

/* exit() of the harness's main process; tests end with _exit(). */
static void __attribute__((destructor)) cold_files_remove(void)
{
	static const char *const env[] = { "KAIO_SLOW_EXT4_DIR", "KAIO_SLOW_XFS_DIR" };
	char path[PATH_MAX];
	unsigned int i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < 2; i++) {
		const char *dir = t_env_path(env[i]);

		if (dir) {
			cold_path(path, sizeof(path), dir);
			unlink(path);
		}
	}
}

/*
 * A file of COLD_SIZE bytes of SEED pattern in @dir, opened O_RDONLY and
 * dropped from the page cache: fd or -errno.
 */
static int cold_file(const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd, ret;

	cold_path(path, sizeof(path), dir);
	if (stat(path, &st) || st.st_size != COLD_SIZE) {
		ret = t_make_file(dir, tmp, sizeof(tmp), COLD_SIZE, SEED);
		if (ret)
			return ret;
		if (rename(tmp, path)) {
			ret = -errno;
			unlink(tmp);
			return ret;
		}
	}
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = t_drop_file_cache(fd);
	if (!ret && t_cached_pages(fd, COLD_SIZE) != 0)
		ret = -EBUSY;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * $KAIO_SLOW_RAW_DEV opened O_DIRECT with @n pattern blocks written at
 * RAW_OFF (nothing else uses that region): fd or -errno.
 */
static int slow_raw_open(const char *dev, int n)
{
	size_t len = (size_t)n * BS;
	char *buf = t_alloc(len);
	int fd = open(dev, O_RDWR | O_DIRECT);
	ssize_t w;

	if (fd < 0)
		return -errno;
	t_fill(buf, len, RAW_SEED, RAW_OFF);
	w = pwrite(fd, buf, len, RAW_OFF);
	munmap(buf, len);
	if (w != (ssize_t)len) {
		close(fd);
		return w < 0 ? -errno : -EIO;
	}
	return fd;
}

/*
 * A file to write to in @dir: @n blocks of OLD_SEED pattern, on disk. @path
 * keeps its name so a test can reopen it. fd (O_RDWR) or -errno.
 */
static int write_file(const char *dir, char *path, size_t pathlen, int n)
{
	int fd, ret;

	ret = t_make_file(dir, path, pathlen, (size_t)n * BS, OLD_SEED);
	if (ret)
		return ret;
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	if (fsync(fd)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* ---- batches of mixed requests ---------------------------------------------- */

enum kind { K_COLD, K_DIRECT, K_WRITE, K_FSYNC, K_POLL, K_NOOP };

static const char *const kind_name[] = {
	"cold buffered read", "O_DIRECT read", "buffered DSYNC write",
	"FSYNC", "POLL", "NOOP",
};

struct req_info {
	enum kind kind;
	char *buf;
	uint64_t seed;
	long long off;
};

/* iocb i has aio_data i; one contiguous iocb array for t_tally(). */
struct batch {
	int n, max;
	struct iocb *cbs;
	struct iocb **ptrs;
	struct req_info *info;
	int *count;
	long long *res;
	int pipes[256][2];
	int npipes;
};

static void batch_init(struct batch *b, int max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->cbs = calloc(max, sizeof(*b->cbs));
	b->ptrs = calloc(max, sizeof(*b->ptrs));
	b->info = calloc(max, sizeof(*b->info));
	b->count = calloc(max, sizeof(*b->count));
	b->res = calloc(max, sizeof(*b->res));
	if (!b->cbs || !b->ptrs || !b->info || !b->count || !b->res)
		abort();
}

static struct iocb *batch_add(struct batch *b, enum kind k, char *buf,
			      uint64_t seed, long long off)
{
	int i = b->n++;

	if (i >= b->max)
		abort();
	b->info[i] = (struct req_info){ k, buf, seed, off };
	b->ptrs[i] = &b->cbs[i];
	return &b->cbs[i];
}

static void batch_done(struct batch *b)
{
	int i;

	for (i = 0; i < b->npipes; i++) {
		close(b->pipes[i][0]);
		close(b->pipes[i][1]);
	}
	free(b->cbs);
	free(b->ptrs);
	free(b->info);
	free(b->count);
	free(b->res);
	memset(b, 0, sizeof(*b));
}

/* @n cold 4 KiB reads of a cold_file() (SEED), COLD_STRIDE apart. */
static void add_cold_reads(struct batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * BS);
	int i;

	memset(buf, 0xa5, (size_t)n * BS);
	for (i = 0; i < n; i++) {
		long long off = (long long)i * COLD_STRIDE;
		struct iocb *cb = batch_add(b, K_COLD, buf + (size_t)i * BS,
					    SEED, off);

		t_prep_pread(cb, fd, buf + (size_t)i * BS, BS, off);
	}
}

/* @n O_DIRECT 4 KiB reads of slow_raw_open()'s region. */
static void add_direct_reads(struct batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * BS);
	int i;

	for (i = 0; i < n; i++) {
		long long off = RAW_OFF + (long long)i * BS;
		struct iocb *cb = batch_add(b, K_DIRECT, buf + (size_t)i * BS,
					    RAW_SEED, off);

		t_prep_pread(cb, fd, buf + (size_t)i * BS, BS, off);
	}
}

/*
 * @n buffered RWF_DSYNC writes of NEW_SEED pattern over a write_file():
 * ext4 has no async buffered writes, so each waits for a worker, and the
 * DSYNC journal commit keeps the workers busy.
 */
static void add_writes(struct batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * BS);
	int i;

	t_fill(buf, (size_t)n * BS, NEW_SEED, 0);
	for (i = 0; i < n; i++) {
		long long off = (long long)i * BS;
		struct iocb *cb = batch_add(b, K_WRITE, buf + (size_t)i * BS,
					    NEW_SEED, off);

		t_prep_pwrite(cb, fd, buf + (size_t)i * BS, BS, off);
		cb->aio_rw_flags = RWF_DSYNC;
	}
}

static void add_fsyncs(struct batch *b, int fd, int n)
{
	int i;

	for (i = 0; i < n; i++)
		t_prep_fsync(batch_add(b, K_FSYNC, NULL, 0, 0), fd);
}

/* @n POLLIN on empty pipes: they wait until written or cancelled. */
static int add_polls(struct batch *b, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int *p = b->pipes[b->npipes];

		if (b->npipes >= 256 || pipe2(p, O_CLOEXEC))
			return -1;
		b->npipes++;
		t_prep_poll(batch_add(b, K_POLL, NULL, 0, 0), p[0], POLLIN);
	}
	return 0;
}

static void batch_finish_prep(struct batch *b)
{
	int i;

	for (i = 0; i < b->n; i++)
		b->cbs[i].aio_data = i;
}

/*
 * Check @nev events against the batch: each iocb exactly once, with a
 * result its kind allows. @cancelled: requests may have been cancelled
 * (-ECANCELED; a cancelled POLL reports 0). Returns how many were.
 */
static int batch_check(struct __test_metadata *_metadata, struct batch *b,
		       const struct io_event *ev, long nev, bool cancelled)
{
	int i, ncancel = 0, bad = 0;

	memset(b->count, 0, b->n * sizeof(*b->count));
	EXPECT_EQ(0, t_tally(b->cbs, b->n, ev, nev, b->count, b->res));
	for (i = 0; i < b->n; i++) {
		const struct req_info *in = &b->info[i];
		long long r = b->res[i];
		bool ok;

		if (b->count[i] != 1) {
			if (bad++ < 10)
				TH_LOG("iocb %d (%s): %d events", i,
				       kind_name[in->kind], b->count[i]);
			EXPECT_EQ(1, b->count[i]);
			continue;
		}
		if (r == -ECANCELED && in->kind != K_POLL && in->kind != K_NOOP) {
			ok = cancelled;
			ncancel++;
		} else {
			switch (in->kind) {
			case K_COLD:
			case K_DIRECT:
				ok = r == BS &&
				     t_check(in->buf, BS, in->seed, in->off) == -1;
				break;
			case K_WRITE:
				ok = r == BS;
				break;
			case K_FSYNC:
			case K_NOOP:
				ok = r == 0;
				break;
			case K_POLL:
				/* cancelled: 0, as native AIO */
				ok = cancelled ? r == 0 || r == POLLIN : r == POLLIN;
				ncancel += r == 0;
				break;
			default:
				ok = false;
			}
		}
		if (!ok && bad++ < 10)
			TH_LOG("iocb %d (%s): res %lld", i, kind_name[in->kind], r);
		EXPECT_TRUE(ok);
	}
	return ncancel;
}

/*
 * After a batch's writes ran (or did not): each block of @fd holds either
 * what was there (OLD_SEED) or what the write wrote (NEW_SEED), never a
 * mix. With @exact, the block written is the one whose write said so.
 */
static void check_written(struct __test_metadata *_metadata, struct batch *b,
			  int fd, bool exact)
{
	char *back = t_alloc(BS);
	int i, torn = 0;

	for (i = 0; i < b->n; i++) {
		const struct req_info *in = &b->info[i];
		bool is_new, is_old;

		if (in->kind != K_WRITE)
			continue;
		ASSERT_EQ(BS, pread(fd, back, BS, in->off));
		is_new = t_check(back, BS, NEW_SEED, in->off) == -1;
		is_old = t_check(back, BS, OLD_SEED, in->off) == -1;
		if (!is_new && !is_old && torn++ < 5)
			TH_LOG("block at %lld is neither old nor new", in->off);
		EXPECT_TRUE(is_new || is_old);
		if (exact && b->count[i] == 1)
			EXPECT_EQ(b->res[i] == BS, is_new)
				TH_LOG("block at %lld: write said %lld", in->off,
				       b->res[i]);
	}
	munmap(back, BS);
}

/* ---- a mixed set of requests on every kind of device ------------------------- */

struct mix {
	int cold_fd[2];		/* slow ext4, slow xfs (or -1) */
	int direct_fd;		/* $KAIO_SLOW_RAW_DEV, O_DIRECT */
	int write_fd;		/* a file on $KAIO_EXT4_DIR */
	char wpath[PATH_MAX];
	struct batch b;
};

struct mix_counts {
	int cold;		/* per slow file system */
	int direct;
	int writes;
	int fsyncs;
	int polls;
};

/* NULL, or why the test must be skipped; ASSERTs on errors. */
static const char *mix_open(struct __test_metadata *_metadata, struct mix *m,
			    const struct mix_counts *n)
{
	static const char *const env[] = { "KAIO_SLOW_EXT4_DIR", "KAIO_SLOW_XFS_DIR" };
	const char *dir, *raw;
	int i;

	memset(m, 0, sizeof(*m));
	m->cold_fd[0] = m->cold_fd[1] = m->direct_fd = m->write_fd = -1;
	raw = t_env_path("KAIO_SLOW_RAW_DEV");
	dir = t_env_path("KAIO_EXT4_DIR");
	if (n->direct && !raw)
		return "needs $KAIO_SLOW_RAW_DEV";
	if ((n->writes || n->fsyncs) && !dir)
		return "needs $KAIO_EXT4_DIR";
	if (n->cold && !t_env_path(env[0]))
		return "needs $KAIO_SLOW_EXT4_DIR";
	if ((n->cold || n->direct) && t_slow_lat_ns() < 10000000)
		return "needs $KAIO_SLOW_LAT_NS >= 10 ms";
	batch_init(&m->b, 1024);
	for (i = 0; i < 2 && n->cold; i++) {
		const char *d = t_env_path(env[i]);

		if (!d)
			continue;
		m->cold_fd[i] = cold_file(d);
		if (m->cold_fd[i] < 0)
			TH_LOG("cold file in %s: %s", d, strerror(-m->cold_fd[i]));
		if (m->cold_fd[i] < 0)
			return "could not make a cold file";
		add_cold_reads(&m->b, m->cold_fd[i], n->cold);
	}
	if (n->direct) {
		m->direct_fd = slow_raw_open(raw, n->direct);
		if (m->direct_fd < 0)
			return "could not write the slow raw device";
		add_direct_reads(&m->b, m->direct_fd, n->direct);
	}
	if (n->writes || n->fsyncs) {
		m->write_fd = write_file(dir, m->wpath, sizeof(m->wpath),
					 n->writes ? n->writes : 1);
		if (m->write_fd < 0)
			return "could not make a file to write";
		add_writes(&m->b, m->write_fd, n->writes);
		add_fsyncs(&m->b, m->write_fd, n->fsyncs);
	}
	if (add_polls(&m->b, n->polls))
		return "out of pipes";
	batch_finish_prep(&m->b);
	return NULL;
}

static void mix_close(struct mix *m)
{
	int i;

	for (i = 0; i < 2; i++)
		if (m->cold_fd[i] >= 0)
			close(m->cold_fd[i]);
	if (m->direct_fd >= 0)
		close(m->direct_fd);
	if (m->write_fd >= 0)
		close(m->write_fd);
	if (m->wpath[0])
		unlink(m->wpath);
	batch_done(&m->b);
	memset(m, 0, sizeof(*m));
	m->cold_fd[0] = m->cold_fd[1] = m->direct_fd = m->write_fd = -1;
}

#define MIX_OPEN(m, ...) do {							\
	static const struct mix_counts __n = { __VA_ARGS__ };			\
	const char *__why = mix_open(_metadata, (m), &__n);			\
	if (__why)								\
		SKIP(return, "%s", __why);					\
} while (0)

/* All @n events of a context into @ev within @ms: ASSERTs the count. */
#define REAP_ALL(fd, ev, n, ms) do {						\
	long __got = t_wait((fd), (ev), (n), (ms));				\
	ASSERT_EQ((long)(n), __got);						\
} while (0)

/* ---- the fixture most tests use: the module's state at the start --------- */

FIXTURE(lt) {
	struct t_stats g0;
	struct t_ctx c;
	struct mix m;
};

FIXTURE_SETUP(lt)
{
	self->c.fd = self->c.dev = self->c.nullfd = -1;
	self->m.cold_fd[0] = self->m.cold_fd[1] = -1;
	self->m.direct_fd = self->m.write_fd = -1;
	BASELINE(&self->g0);
}

FIXTURE_TEARDOWN(lt)
{
	t_ctx_close(&self->c);
	mix_close(&self->m);
}

/* ==== 1. cancel in each state ================================================ */

/*
 * QUEUED: a few RWF_DSYNC writes to a file on the slow ext4 (ext4 has no
 * async buffered write, so each makes a blocking attempt, and waits for a
 * journal commit on a >= 10 ms device), then one more write to the same
 * file. Blocking writes to one file run one at a time, in the file's
 * ordered write queue, so the last one waits there. CANCEL answers
 * EINPROGRESS and has already posted its -ECANCELED event when it
 * returns, ahead of writes submitted before it; its data never reaches
 * the file.
 *
 * A host stall longer than the slow writes could let the queue reach the
 * last write before CANCEL (EAGAIN or EINVAL, then it completes
 * normally): that attempt proves nothing and is made again.
 */
TEST_F_TIMEOUT(lt, cancel_queued_for_worker_EINPROGRESS_event_posted_at_once, 120)
{
	const int nblock = 4, n = nblock + 1;
	struct io_event ev[5];
	int count[5];
	long long res[5];
	struct iocb cbs[5], *ptrs[5];
	char *src = t_alloc((size_t)nblock * BS), *back = t_alloc(BS);
	char slow_path[PATH_MAX];
	const char *slow_dir;
	struct t_stats s0, s1, d;
	int attempt, caught = 0, slow_fd, k, found;
	long peeked, r, i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(slow_dir, "KAIO_SLOW_EXT4_DIR");
	/* nblock blocks the blocking writes rewrite, then one per attempt */
	slow_fd = write_file(slow_dir, slow_path, sizeof(slow_path), nblock + 3);
	ASSERT_LE(0, slow_fd);
	unlink(slow_path);
	t_fill(src, (size_t)nblock * BS, NEW_SEED, 0);
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 3 && !caught; attempt++) {
		const long long toff = (long long)(nblock + attempt) * BS;
		struct iocb *target = &cbs[nblock];
		long pos = -1;

		for (k = 0; k < nblock; k++) {
			t_prep_pwrite(&cbs[k], slow_fd, src + (size_t)k * BS, BS,
				      (long long)k * BS);
			cbs[k].aio_rw_flags = RWF_DSYNC;
			ptrs[k] = &cbs[k];
		}
		t_prep_pwrite(target, slow_fd, src, BS, toff);
		ptrs[nblock] = target;
		ASSERT_EQ(n, t_submit(self->c.fd, n, ptrs));
		r = t_cancel(self->c.fd, target);
		/* posted by CANCEL itself: in the ring now, not reaped yet */
		peeked = t_ring_peek(&self->c, ev, n);
		for (i = 0, found = 0; i < peeked; i++)
			if (ev[i].obj == (uintptr_t)target) {
				found++;
				EXPECT_EQ(-ECANCELED, ev[i].res);
			}
		TH_LOG("attempt %d: CANCEL answered %ld; %ld events in the ring then",
		       attempt, r, peeked);
		REAP_ALL(self->c.fd, ev, n, 60000);
		memset(count, 0, sizeof(count));
		EXPECT_EQ(0, t_tally(cbs, n, ev, n, count, res));
		for (k = 0; k < n; k++) {
			EXPECT_EQ(1, count[k]);
			if (ev[k].obj == (uintptr_t)target)
				pos = k;
		}
		for (k = 0; k < nblock; k++)
			EXPECT_EQ(BS, res[k]) TH_LOG("blocking write %d", k);
		ASSERT_EQ(BS, pread(slow_fd, back, BS, toff));
		if (r != -EINPROGRESS) {
			EXPECT_TRUE(r == -EAGAIN || r == -EINVAL);
			EXPECT_EQ(BS, res[nblock]);
			EXPECT_EQ(-1, t_check(back, BS, NEW_SEED, 0));
			continue;
		}
		caught = 1;
		EXPECT_EQ(1, found) TH_LOG("CANCEL returned before posting the event");
		EXPECT_EQ(-ECANCELED, res[nblock]);
		EXPECT_LT(pos, n - 1) TH_LOG("the cancelled write's event came last");
		EXPECT_EQ(-1, t_check(back, BS, OLD_SEED, toff))
			TH_LOG("a cancelled write reached the file");
		EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, target));
	}
	EXPECT_EQ(1, caught) TH_LOG("the last write never waited in its queue");
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(caught, d.cancelled);
	EXPECT_EQ(attempt * n - caught, d.worker);	/* the cancelled one never ran */
	close(slow_fd);
	t_ctx_close(&self->c);
	munmap(src, (size_t)nblock * BS);
	munmap(back, BS);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * In the block layer: an O_DIRECT read on the slow raw device, whose bio
 * is in the device for >= 10 ms. A bio cannot be recalled: CANCEL answers
 * EAGAIN and the read completes normally, through ki_complete. Once it
 * has, CANCEL answers EINVAL (completed: nothing to cancel).
 *
 * The host may stall the guest's CPU longer than the device latency
 * between SUBMIT and CANCEL (TCG, a loaded machine): then the read is
 * already done and CANCEL rightly answers EINVAL. Such an attempt proves
 * nothing and is made again, up to five times.
 */
TEST_F_TIMEOUT(lt, cancel_in_block_layer_EAGAIN_completes_normally_then_EINVAL, 60)
{
	struct t_stats s0, s1, d;
	struct io_event ev;
	struct iocb *cb;
	uint64_t t0, t1;
	int attempt, eagain = 0;
	long r;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .direct = 1);
	cb = &self->m.b.cbs[0];
	KAIO_CTX_INIT(&self->c, 8, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 5 && !eagain; attempt++) {
		memset(self->m.b.info[0].buf, 0, BS);
		t0 = t_now_ns();
		ASSERT_EQ(1, t_submit_one(self->c.fd, cb));
		r = t_cancel(self->c.fd, cb);
		t1 = t_now_ns();
		TH_LOG("attempt %d: CANCEL answered %ld, %lld us after SUBMIT",
		       attempt, r, (long long)(t1 - t0) / 1000);
		EXPECT_TRUE(r == -EAGAIN || r == -EINVAL);
		eagain += r == -EAGAIN;
		ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 10000));
		EXPECT_EQ(0, batch_check(_metadata, &self->m.b, &ev, 1, false));
		EXPECT_EQ(KAIO_PATH_ASYNC, ev.res2);
		EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, cb));
	}
	EXPECT_EQ(1, eagain) TH_LOG("never caught the read in the device");
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(0, d.cancelled);
	EXPECT_EQ(attempt, d.async);
	EXPECT_EQ(0, d.worker);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* Page-waiting reads need a slow file system: one variant each. */
FIXTURE(cold) {
	struct t_stats g0;
	struct t_ctx c;
	int fd;
};

KAIO_SLOW_FS_VARIANTS(cold);

FIXTURE_SETUP(cold)
{
	const char *dir;

	self->fd = -1;
	self->c.fd = self->c.dev = self->c.nullfd = -1;
	BASELINE(&self->g0);
	KAIO_ENV_OR_SKIP(dir, variant->env);
	if (t_slow_lat_ns() < 10000000)
		SKIP(return, "needs $KAIO_SLOW_LAT_NS >= 10 ms");
	self->fd = cold_file(dir);
	ASSERT_LE(0, self->fd) TH_LOG("%s", strerror(-self->fd));
}

FIXTURE_TEARDOWN(cold)
{
	t_ctx_close(&self->c);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * WAIT_PAGE: a cold buffered read arms its page-wait callback and SUBMIT
 * returns. CANCEL answers EINPROGRESS, but the callback cannot be disarmed:
 * the event comes when the page's read ends (not before: checked when
 * CANCEL returned well within the device latency), from the retry the
 * callback queues, with -ECANCELED; the buffer is never written. The
 * device read itself is not cancelled: the page ends up in the cache.
 *
 * If the host stalls the guest for longer than the device latency, the
 * read can be done before CANCEL (EINVAL, data read) or be in its retry
 * (EAGAIN): such attempts prove nothing and are made again, on another
 * cold page, up to five times.
 */
TEST_F_TIMEOUT(cold, cancel_page_waiting_EINPROGRESS_event_after_the_io_buffer_untouched, 60)
{
	char *buf = t_alloc(BS);
	struct t_stats s0, s1, d;
	struct io_event ev, early[4];
	struct iocb cb;
	long long lat = t_slow_lat_ns(), off = 0;
	uint64_t t0, t1, t2;
	int attempt, caught = 0;
	long r, i, n;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 8, KAIO_SETUP_RES2_PATH);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	for (attempt = 0; attempt < 5 && !caught; attempt++) {
		off = (long long)(1 + 2 * attempt) * COLD_STRIDE;
		memset(buf, 0xa5, BS);
		t_prep_pread(&cb, self->fd, buf, BS, off);
		t0 = t_now_ns();
		ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
		r = t_cancel(self->c.fd, &cb);
		t1 = t_now_ns();
		n = t_ring_peek(&self->c, early, 4);
		ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 10000));
		t2 = t_now_ns();
		TH_LOG("attempt %d: CANCEL answered %ld %lld us after SUBMIT; the event (res %lld, path %lld) came %lld us later; device latency %lld us",
		       attempt, r, (long long)(t1 - t0) / 1000, ev.res, ev.res2,
		       (long long)(t2 - t1) / 1000, lat / 1000);
		EXPECT_EQ((uintptr_t)&cb, ev.obj);
		EXPECT_TRUE(r == -EINPROGRESS || r == -EAGAIN || r == -EINVAL);
		if (r != -EINPROGRESS) {
			/* not caught waiting: it must have read normally */
			EXPECT_EQ(BS, ev.res);
			EXPECT_EQ(-1, t_check(buf, BS, SEED, off));
			continue;
		}
		caught = 1;
		if ((long long)(t1 - t0) < lat / 2)
			EXPECT_EQ(0, n) TH_LOG("event posted before the page could be read");
		EXPECT_EQ(-ECANCELED, ev.res);
		EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);
		for (i = 0; i < BS; i++)
			if ((unsigned char)buf[i] != 0xa5)
				break;
		EXPECT_EQ(BS, i) TH_LOG("buffer written at byte %ld", i);
	}
	EXPECT_EQ(1, caught) TH_LOG("never caught the read waiting for its page");
	EXPECT_EQ(-EINVAL, t_cancel(self->c.fd, &cb));
	EXPECT_EQ(0, t_wait(self->c.fd, &ev, 1, 50));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_LE(1, d.page_wait_arms);
	EXPECT_LE(1, d.wakeups);
	EXPECT_LE(1, d.retries);
	EXPECT_EQ(0, d.worker);
	EXPECT_EQ(caught, d.cancelled);
	EXPECT_EQ(0, s1.in_flight);
	/* the read itself went on: its page is cached now */
	{
		char *map = mmap(NULL, COLD_SIZE, PROT_READ, MAP_SHARED, self->fd, 0);
		unsigned char vec;

		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, mincore(map + off, BS, &vec));
		EXPECT_EQ(1, vec & 1);
		munmap(map, COLD_SIZE);
	}
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * CANCEL racing with the SUBMIT of the same POLL from another thread. A
 * request is on the context's list (cancellable) from just before its
 * first attempt, so CANCEL can find a POLL that is not armed yet. Whatever
 * it answers must hold: EINPROGRESS is io_cancel's promise that the event
 * comes, res 0, without the file becoming ready; EAGAIN means it runs on
 * (and can be cancelled later); EINVAL that it was not there yet.
 */
struct racer {
	int ctx;
	struct iocb *cb;
	long answer;
	int spins;
};

static void *cancel_until_found(void *arg)
{
	struct racer *r = arg;

	do {
		r->answer = t_cancel(r->ctx, r->cb);
	} while (r->answer == -EINVAL && ++r->spins < 200000);
	return NULL;
}

TEST_F_TIMEOUT(lt, cancel_racing_submit_of_poll_keeps_its_answer, 90)
{
	struct io_event ev;
	struct iocb cb;
	int p[2], iter, inprogress = 0, again = 0, broken = 0;
	uint64_t start = t_now_ns();

	KAIO_SKIPPED_IN_SETUP();
	KAIO_CTX_INIT(&self->c, 8, 0);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	/* the window is a few microseconds: many tries, bounded in time */
	for (iter = 0; iter < 1000 && !broken &&
	     t_now_ns() - start < 12000000000ULL; iter++) {
		struct racer r = { .ctx = self->c.fd, .cb = &cb };
		pthread_t th;

		t_prep_poll(&cb, p[0], POLLIN);
		cb.aio_data = iter;
		ASSERT_EQ(0, pthread_create(&th, NULL, cancel_until_found, &r));
		ASSERT_EQ(1, t_submit_one(self->c.fd, &cb));
		ASSERT_EQ(0, pthread_join(th, NULL));
		if (r.answer == -EAGAIN) {
			again++;
			r.answer = t_cancel(self->c.fd, &cb);
			EXPECT_EQ(-EINPROGRESS, r.answer);
		} else {
			inprogress++;
		}
		ASSERT_EQ(-EINPROGRESS, r.answer) TH_LOG("iteration %d", iter);
		if (t_wait(self->c.fd, &ev, 1, 2000) != 1) {
			broken++;
			TH_LOG("iteration %d: CANCEL answered EINPROGRESS (after %d tries), but no event within 2 s",
			       iter, r.spins);
			/* let it complete the only way it still can */
			ASSERT_EQ(1, write(p[1], "x", 1));
			ASSERT_EQ(1, t_wait(self->c.fd, &ev, 1, 5000));
			TH_LOG("after the pipe was written: res %lld (a cancelled POLL reports 0)",
			       ev.res);
			EXPECT_EQ(0, ev.res);
			break;
		}
		EXPECT_EQ((uintptr_t)&cb, ev.obj);
		EXPECT_EQ(iter, (int)ev.data);
		EXPECT_EQ(0, ev.res);
	}
	TH_LOG("%d iterations: CANCEL found the POLL %d times during its SUBMIT or armed, %d times running (EAGAIN)",
	       iter, inprogress, again);
	EXPECT_EQ(0, broken);
	close(p[0]);
	close(p[1]);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ==== 2. DESTROY and close with hundreds in flight ============================ */

/*
 * Page-waiting buffered reads on the slow ext4 and xfs, O_DIRECT reads on
 * the slow raw device (more than its queue depth: some are refused NOWAIT
 * and go to workers), ext4 DSYNC writes and FSYNCs (workers), POLLs on
 * empty pipes: ~400 requests.
 */
static const struct mix_counts destroy_mix = {
	.cold = 64, .direct = 128, .writes = 64, .fsyncs = 8, .polls = 64,
};

TEST_F_TIMEOUT(lt, destroy_with_hundreds_in_flight_waits_for_every_one, 120)
{
	struct io_event *ev;
	struct t_stats s0, s1, d;
	struct timespec one_s = { 1, 0 };
	const char *why;
	uint64_t t0, t1;
	int n, cancelled;
	long got;

	KAIO_SKIPPED_IN_SETUP();
	why = mix_open(_metadata, &self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s0));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	t0 = t_now_ns();
	EXPECT_EQ(0, t_destroy(self->c.fd));
	t1 = t_now_ns();
	TH_LOG("DESTROY of %d requests took %lld ms", n,
	       (long long)(t1 - t0) / 1000000);

	/* every request had finished when DESTROY returned */
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	d = t_stats_sub(&s1, &s0);
	t_stats_log("delta", &d);
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(n, d.submitted);
	EXPECT_EQ(n, d.completed);
	/* their events are in the ring, one each */
	got = t_ring_peek(&self->c, ev, n);
	EXPECT_EQ(n, got);
	cancelled = batch_check(_metadata, &self->m.b, ev, got, true);
	TH_LOG("%d of %d cancelled by DESTROY", cancelled, n);
	EXPECT_LE(self->m.b.npipes, cancelled);	/* at least the POLLs */
	EXPECT_EQ(d.cancelled, cancelled);
	check_written(_metadata, &self->m.b, self->m.write_fd, true);
	EXPECT_EQ(-EINVAL, t_getevents(self->c.fd, 1, 1, ev, &one_s));
	EXPECT_EQ(-EINVAL, t_destroy(self->c.fd));
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * close() is the last reference: it returns only when every request has
 * finished and been freed, so the module counters are back at once.
 */
TEST_F_TIMEOUT(lt, close_with_hundreds_in_flight_returns_with_everything_freed, 120)
{
	struct t_stats g;
	const char *why;
	uint64_t t0, t1;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	why = mix_open(_metadata, &self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	t0 = t_now_ns();
	EXPECT_EQ(0, close(self->c.fd));
	t1 = t_now_ns();
	self->c.fd = -1;
	TH_LOG("close with %d in flight took %lld ms", n,
	       (long long)(t1 - t0) / 1000000);
	/* no waiting here: close already did */
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	EXPECT_EQ(g.submitted - self->g0.submitted, g.completed - self->g0.completed);
	/* writes either landed whole or not at all */
	check_written(_metadata, &self->m.b, self->m.write_fd, false);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * A mapping of the ring holds the context too: close() of the fd then
 * releases nothing, the requests go on, and munmap() is the last close.
 */
TEST_F_TIMEOUT(lt, close_with_ring_mapped_then_munmap_is_the_last_close, 120)
{
	struct t_stats g;
	const char *why;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	why = mix_open(_metadata, &self->m, &destroy_mix);
	if (why)
		SKIP(return, "%s", why);
	n = self->m.b.n;
	KAIO_CTX_INIT(&self->c, 1024, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);
	/* events still arrive in the mapped ring (the POLLs never will) */
	{
		uint64_t end = t_now_ns() + 30000000000ULL;
		long want = n - self->m.b.npipes, have = 0;

		while (t_now_ns() < end) {
			have = (__atomic_load_n(&self->c.ring->tail, __ATOMIC_ACQUIRE) +
				self->c.ring->nr - self->c.ring->head) %
			       self->c.ring->nr;
			if (have >= want)
				break;
			usleep(10000);
		}
		EXPECT_EQ(want, have);
	}
	EXPECT_EQ(0, munmap(self->c.ring, self->c.s.ring_size));
	self->c.ring = NULL;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts, g.contexts);
	EXPECT_EQ(0, g.pinned_pages_reserved);
	check_written(_metadata, &self->m.b, self->m.write_fd, false);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ==== 3. SIGKILL with I/O in flight =========================================== */

FIXTURE(killed) {
	struct t_stats g0;
	struct mix m;
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
	BASELINE(&self->g0);
}

FIXTURE_TEARDOWN(killed)
{
	mix_close(&self->m);
}

struct waiter {
	int ctx;
	long long min_nr;
	long ret;
	pid_t tid;
	struct io_event *ev;
	struct timespec *timeout;
};

static void *getevents_thread(void *arg)
{
	struct waiter *w = arg;

	w->tid = syscall(SYS_gettid);
	w->ret = t_getevents(w->ctx, w->min_nr, w->min_nr, w->ev, w->timeout);
	return NULL;
}

/*
 * The child: a context, 256 requests, then "ready" on @ready and wait for
 * all of them plus a POLL that never completes: it blocks until killed.
 * Exit codes (never reached when killed) say what went wrong.
 */
static void __attribute__((noreturn))
killed_child(struct batch *b, int ready, const FIXTURE_VARIANT(killed) *v,
	     int cold_fd)
{
	struct io_event *ev = calloc(2 * b->n, sizeof(*ev));
	struct waiter w = { 0 };
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
			char *buf = t_alloc(32 * BS);
			int i;

			posix_fadvise(cold_fd, 0, 0, POSIX_FADV_DONTNEED);
			for (i = 0; i < 32; i++) {
				t_prep_pread(&cbs[i], cold_fd, buf + i * BS, BS,
					     ((round * 32 + i) % COLD_NR) * COLD_STRIDE);
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
		if (pthread_create(&th, NULL, getevents_thread, &w))
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
	static const struct mix_counts n = {
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
	why = mix_open(_metadata, &self->m, &n);
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
	expect_settled(_metadata, &self->g0, 5000);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	TH_LOG("settled %lld ms after SIGKILL; %lld requests since the start",
	       (long long)(t_now_ns() - t0) / 1000000,
	       g.submitted - self->g0.submitted);
	EXPECT_LE(self->m.b.n, g.submitted - self->g0.submitted);
	/* writes either landed whole or not at all */
	check_written(_metadata, &self->m.b, self->m.write_fd, false);
}

/* ==== 4. threads ================================================================ */

/* Join @th within @ms, else interrupt it (EINTR) and say so. */
static void sigusr1_handler(int sig)
{
	(void)sig;
}

static bool join_within(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (!pthread_timedjoin_np(th, NULL, &ts))
		return true;
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	return false;
}

static void install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: GETEVENTS EINTRs */
}

/* Is thread @tid asleep in ioctl() (syscall 16 on x86_64)? */
static bool in_ioctl(pid_t tid)
{
	char path[64], line[128];
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f))
		yes = atoi(line) == SYS_ioctl;
	fclose(f);
	return yes;
}

static bool wait_in_ioctl(struct waiter *w, int ms)
{
	int i;

	for (i = 0; i < ms / 5; i++) {
		if (__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) && in_ioctl(w->tid))
			return true;
		usleep(5000);
	}
	return false;
}

struct submitter {
	int ctx;
	struct batch *b;
	long ret;
};

static void *submit_and_exit(void *arg)
{
	struct submitter *s = arg;

	s->ret = t_submit(s->ctx, s->b->n, s->b->ptrs);
	pthread_exit(NULL);
}

/*
 * Requests belong to the context, not to the thread that submitted them:
 * the submitter exits with its reads in flight, and another thread,
 * already waiting in GETEVENTS, gets every event with the right data.
 */
TEST_F_TIMEOUT(lt, submitter_thread_exits_waiting_thread_gets_every_event, 60)
{
	struct submitter s = { 0 };
	struct waiter w = { 0 };
	struct timespec limit = { 30, 0 };
	struct t_stats st;
	pthread_t ts, tw;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	KAIO_CTX_INIT(&self->c, 256, 0);
	w.ctx = s.ctx = self->c.fd;
	w.min_nr = self->m.b.n;
	w.ev = calloc(self->m.b.n, sizeof(*w.ev));
	w.timeout = &limit;
	s.b = &self->m.b;
	ASSERT_EQ(0, pthread_create(&tw, NULL, getevents_thread, &w));
	ASSERT_TRUE(wait_in_ioctl(&w, 5000));
	ASSERT_EQ(0, pthread_create(&ts, NULL, submit_and_exit, &s));
	ASSERT_EQ(0, pthread_join(ts, NULL));
	EXPECT_EQ(self->m.b.n, s.ret);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &st));
	TH_LOG("%lld requests in flight when the submitter had exited",
	       st.in_flight);
	ASSERT_EQ(0, pthread_join(tw, NULL));
	ASSERT_EQ(self->m.b.n, w.ret);
	EXPECT_EQ(0, batch_check(_metadata, &self->m.b, w.ev, w.ret, false));
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * One POLL pending on self->c, and a thread (@tw) in GETEVENTS waiting for
 * it with @timeout (NULL: none) by the time this returns.
 */
static void poll_waiter_start(struct __test_metadata *_metadata,
			      FIXTURE_DATA(lt) *self, struct waiter *w,
			      struct timespec *timeout, pthread_t *tw)
{
	batch_init(&self->m.b, 1);
	ASSERT_EQ(0, add_polls(&self->m.b, 1));
	batch_finish_prep(&self->m.b);
	ASSERT_EQ(1, t_submit(self->c.fd, 1, self->m.b.ptrs));
	w->ctx = self->c.fd;
	w->min_nr = 1;
	w->ev = calloc(1, sizeof(*w->ev));
	w->timeout = timeout;
	ASSERT_EQ(0, pthread_create(tw, NULL, getevents_thread, w));
	ASSERT_TRUE(wait_in_ioctl(w, 5000));
}

/*
 * close() of the fd while another thread is in GETEVENTS on it: the
 * ioctl holds its own reference, so close only removes the fd; the
 * context lives until the ioctl returns. A POLL that becomes ready after
 * the close still reaches the waiter; then the context goes.
 */
TEST_F_TIMEOUT(lt, close_while_other_thread_in_getevents_event_still_delivered, 60)
{
	struct waiter w = { 0 };
	struct timespec limit = { 20, 0 };
	struct t_stats g;
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	poll_waiter_start(_metadata, self, &w, &limit, &tw);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);	/* the ioctl holds it */
	ASSERT_EQ(1, write(self->m.b.pipes[0][1], "x", 1));
	EXPECT_TRUE(join_within(tw, 10000));
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ((uintptr_t)&self->m.b.cbs[0], w.ev[0].obj);
	EXPECT_EQ(POLLIN, w.ev[0].res);
	/* the waiter's return was the last reference */
	expect_settled(_metadata, &self->g0, 2000);
}

/* The same with nothing to deliver: the wait times out, then the release cancels the POLL. */
TEST_F_TIMEOUT(lt, close_while_other_thread_in_getevents_times_out_then_released, 60)
{
	struct waiter w = { 0 };
	struct timespec limit = { 1, 0 };
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	poll_waiter_start(_metadata, self, &w, &limit, &tw);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	EXPECT_TRUE(join_within(tw, 10000));
	EXPECT_EQ(0, w.ret);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * DESTROY wakes a thread waiting in GETEVENTS with no time limit: it
 * returns what it has (the cancelled POLL's event, res 0) or EINVAL.
 */
TEST_F_TIMEOUT(lt, destroy_wakes_thread_waiting_without_timeout, 60)
{
	struct waiter w = { 0 };
	pthread_t tw;

	KAIO_SKIPPED_IN_SETUP();
	install_sigusr1();
	KAIO_CTX_INIT(&self->c, 8, 0);
	poll_waiter_start(_metadata, self, &w, NULL, &tw);
	EXPECT_EQ(0, t_destroy(self->c.fd));
	EXPECT_TRUE(join_within(tw, 5000)) TH_LOG("GETEVENTS still waiting after DESTROY");
	EXPECT_TRUE(w.ret == -EINVAL || w.ret == 1) TH_LOG("GETEVENTS: %ld", w.ret);
	if (w.ret == 1)
		EXPECT_EQ(0, w.ev[0].res);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

struct spinner {
	int ctx, nullfd;
	long rounds, last;
	bool stop;
};

static void *submit_until_error(void *arg)
{
	struct spinner *s = arg;
	struct iocb cbs[8], *p[8];
	struct io_event ev[64];
	struct timespec zero = { 0, 0 };
	long r;
	int i;

	for (i = 0; i < 8; i++) {
		t_prep_noop(&cbs[i], s->nullfd);
		p[i] = &cbs[i];
	}
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		r = t_submit(s->ctx, 8, p);
		if (r < 0 && r != -EAGAIN) {
			s->last = r;
			break;
		}
		r = t_getevents(s->ctx, 0, 64, ev, &zero);
		if (r < 0) {
			s->last = r;
			break;
		}
		s->rounds++;
	}
	return NULL;
}

/* close() while another thread submits: it gets EBADF, nothing leaks. */
TEST_F_TIMEOUT(lt, close_while_other_thread_submits_EBADF, 60)
{
	struct spinner s = { 0 };
	pthread_t th;

	KAIO_SKIPPED_IN_SETUP();
	install_sigusr1();
	KAIO_CTX_INIT(&self->c, 64, 0);
	s.ctx = self->c.fd;
	s.nullfd = self->c.nullfd;
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_until_error, &s));
	usleep(100000);
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	if (!join_within(th, 5000)) {
		__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
		EXPECT_TRUE(0) TH_LOG("the submitter did not notice the close");
	}
	TH_LOG("%ld rounds before the close was seen", s.rounds);
	EXPECT_EQ(-EBADF, s.last);
	expect_settled(_metadata, &self->g0, 2000);
}

struct poller {
	int ctx, nullfd;
	struct iocb *cbs;	/* POLLs on an empty pipe, submitted one by one */
	int n;
	long submitted, noops, last;
};

/* POLLs first, then NOOPs, until SUBMIT fails for another reason than a full ring. */
static void *submit_polls_until_error(void *arg)
{
	struct poller *p = arg;
	struct iocb noop;
	long r;

	t_prep_noop(&noop, p->nullfd);
	for (;;) {
		bool poll = p->submitted < p->n;

		r = t_submit_one(p->ctx, poll ? &p->cbs[p->submitted] : &noop);
		if (r == -EAGAIN)
			continue;
		if (r != 1) {
			p->last = r;
			break;
		}
		if (poll)
			__atomic_store_n(&p->submitted, p->submitted + 1,
					 __ATOMIC_RELAXED);
		else
			p->noops++;
	}
	return NULL;
}

/*
 * DESTROY while another thread keeps submitting (POLLs that never become
 * ready, then NOOPs): a POLL armed by a SUBMIT that raced with DESTROY may
 * miss its cancel; DESTROY cancels again while it waits, so it still
 * returns, with every POLL that got in completed (res 0), and the
 * submitter then gets EINVAL.
 */
TEST_F_TIMEOUT(lt, destroy_while_other_thread_submits_polls_returns_all_accounted, 60)
{
	enum { NPOLL = 1024 };
	struct poller p = { 0 };
	struct t_stats s1;
	struct io_event *ev;
	int pfd[2], *count = calloc(NPOLL, sizeof(int));
	long long *res = calloc(NPOLL, sizeof(long long));
	uint64_t t0, t1;
	pthread_t th;
	long got, stray;
	int k;

	KAIO_SKIPPED_IN_SETUP();
	install_sigusr1();
	KAIO_CTX_INIT(&self->c, 4096, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	p.cbs = calloc(NPOLL, sizeof(*p.cbs));
	for (k = 0; k < NPOLL; k++)
		t_prep_poll(&p.cbs[k], pfd[0], POLLIN);
	p.n = NPOLL;
	p.ctx = self->c.fd;
	p.nullfd = self->c.nullfd;
	ev = calloc(self->c.cap, sizeof(*ev));
	ASSERT_EQ(0, pthread_create(&th, NULL, submit_polls_until_error, &p));
	for (k = 0; k < 5000 && __atomic_load_n(&p.submitted, __ATOMIC_RELAXED) < 16; k++)
		usleep(1000);
	t0 = t_now_ns();
	EXPECT_EQ(0, t_destroy(self->c.fd));
	t1 = t_now_ns();
	EXPECT_TRUE(join_within(th, 5000));
	TH_LOG("DESTROY took %lld ms; %ld POLLs and %ld NOOPs got in, then %ld",
	       (long long)(t1 - t0) / 1000000, p.submitted, p.noops, p.last);
	EXPECT_EQ(-EINVAL, p.last);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(p.submitted + p.noops, s1.submitted);
	EXPECT_EQ(p.submitted + p.noops, s1.completed);
	got = t_ring_peek(&self->c, ev, self->c.cap);
	EXPECT_EQ(p.submitted + p.noops, got);
	stray = t_tally(p.cbs, NPOLL, ev, got, count, res);
	EXPECT_EQ(p.noops, stray);	/* the NOOP events */
	for (k = 0; k < p.submitted; k++) {
		EXPECT_EQ(1, count[k]);
		EXPECT_EQ(0, res[k]);
	}
	close(pfd[0]);
	close(pfd[1]);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

struct destroyer {
	int ctx;
	long ret;
	long long in_flight_after;
};

static void *destroy_thread(void *arg)
{
	struct destroyer *d = arg;
	struct t_stats st;

	d->ret = t_destroy(d->ctx);
	d->in_flight_after = t_ctx_stats(d->ctx, &st) ? -1 : st.in_flight;
	return NULL;
}

/*
 * Two threads DESTROY at once with I/O in flight: one gets 0 and returns
 * only when nothing is in flight any more; the other gets EINVAL, at once
 * (as a second io_destroy(2): the context is already being destroyed).
 */
TEST_F_TIMEOUT(lt, destroy_from_two_threads_one_0_and_waits_one_EINVAL, 60)
{
	struct destroyer d[2] = { { 0 }, { 0 } };
	struct t_stats s1;
	pthread_t th[2];
	int i, winner;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 16, .polls = 8);
	KAIO_CTX_INIT(&self->c, 512, 0);
	ASSERT_EQ(self->m.b.n, t_submit(self->c.fd, self->m.b.n, self->m.b.ptrs));
	for (i = 0; i < 2; i++) {
		d[i].ctx = self->c.fd;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, destroy_thread, &d[i]));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_TRUE((d[0].ret == 0 && d[1].ret == -EINVAL) ||
		    (d[0].ret == -EINVAL && d[1].ret == 0))
		TH_LOG("DESTROY answered %ld and %ld", d[0].ret, d[1].ret);
	winner = d[0].ret == 0 ? 0 : 1;
	EXPECT_EQ(0, d[winner].in_flight_after);
	TH_LOG("in flight when the loser returned: %lld",
	       d[!winner].in_flight_after);
	ASSERT_EQ(0, t_ctx_stats(self->c.fd, &s1));
	EXPECT_EQ(0, s1.in_flight);
	EXPECT_EQ(self->m.b.n, s1.completed);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ==== 5. fork ======================================================================= */

enum { F_SUBMIT, F_GETEVENTS, F_CANCEL, F_DESTROY, F_MMAP, F_CLOSE, F_NR };

static const char *const f_name[F_NR] = {
	"SUBMIT", "GETEVENTS", "CANCEL of a pending request", "DESTROY",
	"mmap", "close",
};

/*
 * The parent has reads in flight (pinned before the fork: the child gets
 * copies of the pinned pages, the parent keeps its own). The child gets
 * EINVAL from everything on the context, CANCEL of a pending request
 * included (which must not cancel it); meanwhile and after the child
 * exits, the parent's requests complete normally.
 */
TEST_F_TIMEOUT(lt, fork_child_EINVAL_parent_requests_complete_during_and_after, 60)
{
	struct io_event *ev;
	long res[F_NR];
	int to_parent[2], to_child[2], status, i;
	struct batch more;
	char byte;
	pid_t pid;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, pipe2(to_parent, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct timespec zero = { 0, 0 };
		struct io_event cev;
		struct iocb noop;
		void *p;

		t_prep_noop(&noop, self->c.nullfd);
		/* the last submitted: still in flight if any is */
		res[F_CANCEL] = t_cancel(self->c.fd, &self->m.b.cbs[n - 1]);
		res[F_SUBMIT] = t_submit_one(self->c.fd, &noop);
		res[F_GETEVENTS] = t_getevents(self->c.fd, 0, 1, &cev, &zero);
		res[F_DESTROY] = t_destroy(self->c.fd);
		p = mmap(NULL, self->c.s.ring_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->c.fd, 0);
		res[F_MMAP] = p == MAP_FAILED ? -errno : 0;
		res[F_CLOSE] = close(self->c.fd) ? -errno : 0;
		if (write(to_parent[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		/* stay alive until the parent has reaped everything */
		_exit(read(to_child[0], &byte, 1) == 1 ? 0 : 2);
	}
	close(to_parent[1]);
	close(to_child[0]);
	ASSERT_EQ(sizeof(res), read(to_parent[0], res, sizeof(res)));
	for (i = 0; i < F_NR; i++) {
		const char *what = f_name[i];
		long got = res[i];

		EXPECT_EQ(i == F_CLOSE ? 0 : -EINVAL, got)
			TH_LOG("child's %s: %ld", what, got);
	}

	/* the child is alive: every request completes normally */
	REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, batch_check(_metadata, &self->m.b, ev, n, false));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_parent[0]);
	close(to_child[1]);

	/* and after it exited */
	batch_init(&more, 64);
	add_direct_reads(&more, self->m.direct_fd, 64);
	batch_finish_prep(&more);
	ASSERT_EQ(64, t_submit(self->c.fd, 64, more.ptrs));
	REAP_ALL(self->c.fd, ev, 64, 30000);
	EXPECT_EQ(0, batch_check(_metadata, &more, ev, 64, false));
	batch_done(&more);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

/*
 * The ring mapping is copied into a forked child (as native AIO's): the
 * child cannot use the context, but its copy of the mapping is a reference
 * to it. When the parent closes the fd and unmaps the ring, the context
 * lives on, requests still in flight, until the child unmaps, execs or
 * exits; then the child's exit is the release. Nothing leaks either way.
 */
TEST_F_TIMEOUT(lt, fork_child_copy_of_ring_mapping_keeps_context_until_it_exits, 60)
{
	struct t_stats g;
	int to_child[2], status;
	char byte;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .polls = 4);
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(0, t_ctx_map_ring(&self->c));
	ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
	ASSERT_EQ(self->m.b.n, t_submit(self->c.fd, self->m.b.n, self->m.b.ptrs));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(to_child[1]);
		close(self->c.fd);	/* only the mapping is left */
		_exit(read(to_child[0], &byte, 1) == 1 ? 0 : 1);
	}
	close(to_child[0]);
	t_ctx_close(&self->c);	/* the parent's fd and mapping */
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	TH_LOG("after the owner closed and unmapped: contexts %lld (started with %lld)",
	       g.contexts, self->g0.contexts);
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_child[1]);
	expect_settled(_metadata, &self->g0, 2000);
}

/* ==== 6. SCM_RIGHTS ==================================================================== */

/*
 * The owner sends the context fd to another process and closes its own:
 * the receiver, who may not use the context (EINVAL), now holds the last
 * reference. Its close is the release: it waits for the owner's requests
 * (whose pinned pages belong to the owner's memory) and frees everything,
 * in a process that is not the owner.
 */
TEST_F_TIMEOUT(lt, scm_rights_receiver_holds_last_reference_its_close_releases, 60)
{
	struct t_stats g;
	int sv[2], status;
	long r;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 16, .polls = 4);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();	/* before the context exists: only the socket gives it */
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct timespec zero = { 0, 0 };
		struct io_event cev;
		int fd;

		close(sv[0]);
		fd = t_recv_fd(sv[1]);
		if (fd < 0)
			_exit(100);
		r = t_getevents(fd, 0, 1, &cev, &zero);
		if (write(sv[1], &r, sizeof(r)) != sizeof(r))
			_exit(101);
		if (read(sv[1], &cev, 1) != 1)	/* go */
			_exit(102);
		r = close(fd) ? -errno : 0;	/* the release, here */
		if (write(sv[1], &r, sizeof(r)) != sizeof(r))
			_exit(103);
		_exit(0);
	}
	close(sv[1]);
	KAIO_CTX_INIT(&self->c, 512, 0);
	ASSERT_EQ(self->m.b.n, t_submit(self->c.fd, self->m.b.n, self->m.b.ptrs));
	ASSERT_EQ(0, t_send_fd(sv[0], self->c.fd));
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(sizeof(r), read(sv[0], &r, sizeof(r)));
	EXPECT_EQ(-EINVAL, r) TH_LOG("receiver's GETEVENTS");
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);	/* the receiver holds it */
	ASSERT_EQ(1, write(sv[0], "g", 1));
	ASSERT_EQ(sizeof(r), read(sv[0], &r, sizeof(r)));
	EXPECT_EQ(0, r) TH_LOG("receiver's close");
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	expect_settled(_metadata, &self->g0, 2000);
	check_written(_metadata, &self->m.b, self->m.write_fd, false);
}

/*
 * A context fd in flight in a unix socket that is closed unread: freeing
 * the message is the last close of the context, with requests in flight.
 */
TEST_F_TIMEOUT(lt, scm_rights_fd_never_received_freed_with_the_socket, 60)
{
	struct t_stats g;
	int sv[2];

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .polls = 4);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	KAIO_CTX_INIT(&self->c, 512, 0);
	ASSERT_EQ(self->m.b.n, t_submit(self->c.fd, self->m.b.n, self->m.b.ptrs));
	ASSERT_EQ(0, t_send_fd(sv[0], self->c.fd));
	EXPECT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g));
	EXPECT_EQ(self->g0.contexts + 1, g.contexts);	/* the message holds it */
	close(sv[0]);
	close(sv[1]);
	expect_settled(_metadata, &self->g0, 5000);
}

/* ==== 7. the file, the buffer, the eventfd ============================================= */

/*
 * Every request holds its own reference to its file: closing (and
 * unlinking) the files right after SUBMIT changes nothing.
 */
TEST_F_TIMEOUT(lt, files_closed_while_in_flight_requests_complete_normally, 60)
{
	struct io_event *ev;
	int n, fd;

	KAIO_SKIPPED_IN_SETUP();
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 32, .fsyncs = 2);
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
	REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, batch_check(_metadata, &self->m.b, ev, n, false));
	fd = open(self->m.wpath, O_RDONLY);
	ASSERT_LE(0, fd);
	check_written(_metadata, &self->m.b, fd, true);
	close(fd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
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
	MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 32);
	n = self->m.b.n;
	for (k = 0; k < n; k++) {
		nw += self->m.b.info[k].kind == K_WRITE;
		nr += self->m.b.info[k].kind != K_WRITE;
	}
	ev = calloc(n, sizeof(*ev));
	/* one mapping for all reads, one for all writes */
	rlen = (size_t)nr * BS;
	wlen = (size_t)nw * BS;
	rbuf = t_alloc(rlen);
	wbuf = t_alloc(wlen);
	t_fill(wbuf, wlen, NEW_SEED, 0);
	for (k = 0, i = 0; k < n; k++) {
		struct req_info *in = &self->m.b.info[k];
		struct iocb *cb = &self->m.b.cbs[k];

		if (in->kind == K_WRITE) {
			in->buf = wbuf + in->off;
		} else {
			memset(rbuf + i * BS, 0xa5, BS);
			in->buf = rbuf + i++ * BS;
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
	REAP_ALL(self->c.fd, ev, n, 30000);
	memset(self->m.b.count, 0, n * sizeof(int));
	EXPECT_EQ(0, t_tally(self->m.b.cbs, n, ev, n, self->m.b.count,
			     self->m.b.res));
	for (k = 0; k < n; k++) {
		EXPECT_EQ(1, self->m.b.count[k]);
		EXPECT_EQ(BS, self->m.b.res[k]) TH_LOG("iocb %d (%s)", k,
			kind_name[self->m.b.info[k].kind]);
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
	check_written(_metadata, &self->m.b, fd, true);
	close(fd);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
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
	MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	n = self->m.b.n;
	ev = calloc(n, sizeof(*ev));
	efd_gone = eventfd(0, EFD_CLOEXEC);
	efd_kept = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd_gone);
	ASSERT_LE(0, efd_kept);
	for (k = 0; k < n; k++) {
		bool cold = self->m.b.info[k].kind == K_COLD;

		self->m.b.cbs[k].aio_flags = IOCB_FLAG_RESFD;
		self->m.b.cbs[k].aio_resfd = cold ? efd_gone : efd_kept;
		ncold += cold;
	}
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, self->m.b.ptrs));
	close(efd_gone);
	REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, batch_check(_metadata, &self->m.b, ev, n, false));
	ASSERT_EQ(sizeof(count), read(efd_kept, &count, sizeof(count)));
	EXPECT_EQ(n - ncold, count);
	close(efd_kept);
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
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
	MIX_OPEN(&self->m, .cold = 32, .direct = 64);
	n = self->m.b.n;
	ASSERT_GE(128, n);
	cbs = t_alloc(len);
	memcpy(cbs, self->m.b.cbs, n * sizeof(*cbs));
	for (k = 0; k < n; k++)
		ptrs[k] = &cbs[k];
	KAIO_CTX_INIT(&self->c, 256, 0);
	ASSERT_EQ(n, t_submit(self->c.fd, n, ptrs));
	ASSERT_EQ(0, munmap(cbs, len));
	REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, t_tally(cbs, n, ev, n, count, res));
	for (k = 0; k < n; k++) {
		const struct req_info *in = &self->m.b.info[k];

		EXPECT_EQ(1, count[k]);
		EXPECT_EQ(BS, res[k]);
		EXPECT_EQ(-1, t_check(in->buf, BS, in->seed, in->off));
	}
	t_ctx_close(&self->c);
	expect_settled(_metadata, &self->g0, 2000);
}

TEST_HARNESS_MAIN
