// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity: what kaio writes is what pread() reads back, what pwrite()
 * wrote is what kaio reads, with many requests in flight at random offsets,
 * on the raw null_blk device (O_DIRECT) and on ext4 and xfs files (buffered
 * and O_DIRECT).
 *
 * Every byte of the test region has one expected value: the pattern of the
 * background seed, or of the write seed where a kaio write covered it
 * (t_fill() is a function of seed and absolute offset), so a misplaced,
 * torn, stale or short write shows up as a mismatch at a known offset.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define REGION		(8 << 20)	/* bytes under test */
#define SLOT		4096
#define NSLOTS		(REGION / SLOT)
#define UNIT		(16 << 10)	/* PWRITEV/PREADV size */
#define NUNITS		(REGION / UNIT)
#define RAW_BASE	(64LL << 20)	/* where on the raw device */
#define SEED_BG		0xb0c6a0u
#define SEED_W		0x3717e5u
#define TIMEOUT_MS	60000

FIXTURE(rw) {
	struct t_ctx c;
	int fd;
	long long base;		/* file offset of the region */
	char *buf;		/* REGION bytes, page aligned: I/O sources */
	char *back;		/* REGION bytes, page aligned: read back */
	unsigned int rng;
};

FIXTURE_VARIANT(rw) {
	const char *env;	/* device or directory */
	bool raw;
	bool direct;
};

FIXTURE_VARIANT_ADD(rw, raw_odirect) {
	.env = "KAIO_RAW_DEV", .raw = true, .direct = true,
};

FIXTURE_VARIANT_ADD(rw, ext4_buffered) {
	.env = "KAIO_EXT4_DIR",
};

FIXTURE_VARIANT_ADD(rw, ext4_odirect) {
	.env = "KAIO_EXT4_DIR", .direct = true,
};

FIXTURE_VARIANT_ADD(rw, xfs_buffered) {
	.env = "KAIO_XFS_DIR",
};

FIXTURE_VARIANT_ADD(rw, xfs_odirect) {
	.env = "KAIO_XFS_DIR", .direct = true,
};

static unsigned int rnd(unsigned int *s)
{
	/* xorshift32: reproducible from the seed in the log */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The first @k entries of a random permutation of 0..n-1. */
static void pick_distinct(unsigned int *s, unsigned int *out, unsigned int k,
			  unsigned int n)
{
	unsigned int *all = malloc(n * sizeof(*all));
	unsigned int i;

	for (i = 0; i < n; i++)
		all[i] = i;
	for (i = 0; i < k; i++) {
		unsigned int j = i + rnd(s) % (n - i), t = all[i];

		all[i] = all[j];
		all[j] = t;
		out[i] = all[i];
	}
	free(all);
}

FIXTURE_SETUP(rw)
{
	const char *where;
	int flags = O_RDWR | (variant->direct ? O_DIRECT : 0);
	long long off;

	self->fd = -1;
	KAIO_ENV_OR_SKIP(where, variant->env);
	KAIO_CTX_INIT(&self->c, 256, 0);
	self->buf = t_alloc(REGION);
	self->back = t_alloc(REGION);
	self->rng = 0x9e3779b9u ^ (unsigned int)strlen(_metadata->name) *
		    0x01000193u ^ (variant->direct << 4) ^ (variant->raw << 5);
	TH_LOG("rng seed %#x", self->rng);

	if (variant->raw) {
		self->fd = open(where, flags);
		self->base = RAW_BASE;
	} else {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/kaio-rw.XXXXXX", where);
		self->fd = mkostemp(path, variant->direct ? O_DIRECT : 0);
		if (self->fd >= 0)
			unlink(path);
		self->base = 0;
	}
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", where, strerror(errno));

	/* the background: every byte known before kaio touches the region */
	t_fill(self->buf, REGION, SEED_BG, self->base);
	for (off = 0; off < REGION; off += 1 << 20)
		ASSERT_EQ(1 << 20, pwrite(self->fd, self->buf + off, 1 << 20,
					  self->base + off));
	ASSERT_EQ(0, fsync(self->fd));
}

FIXTURE_TEARDOWN(rw)
{
	if (self->fd >= 0)
		close(self->fd);
	t_ctx_close(&self->c);
}

/*
 * Submit @n iocbs (aio_data = index) and reap their @n events: every iocb
 * completes exactly once, with res == its expected byte count @want[i].
 */
static void run_batch(struct __test_metadata *_metadata, int ctx,
		      struct iocb *cbs, const long long *want, int n)
{
	struct iocb **ptrs = calloc(n, sizeof(*ptrs));
	struct io_event *ev = calloc(n, sizeof(*ev));
	char *seen = calloc(n, 1);
	long done = 0, got, i;

	ASSERT_NE(NULL, ptrs);
	ASSERT_NE(NULL, ev);
	ASSERT_NE(NULL, seen);
	for (i = 0; i < n; i++) {
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	while (done < n) {
		long r = t_submit(ctx, n - done, ptrs + done);

		ASSERT_LT(0, r) TH_LOG("submit after %ld: %ld", done, r);
		done += r;
	}
	got = t_wait(ctx, ev, n, TIMEOUT_MS);
	ASSERT_EQ(n, got);
	for (i = 0; i < n; i++) {
		unsigned long long k = ev[i].data;

		ASSERT_GT((unsigned long long)n, k);
		EXPECT_EQ(0, seen[k]) TH_LOG("iocb %llu completed twice", k);
		seen[k] = 1;
		EXPECT_EQ((uintptr_t)&cbs[k], ev[i].obj);
		EXPECT_EQ(want[k], ev[i].res) TH_LOG("iocb %llu (op %u off %lld)",
			k, cbs[k].aio_lio_opcode, cbs[k].aio_offset);
	}
	free(ptrs);
	free(ev);
	free(seen);
}

/* Read the region back with pread() (from the device, not the cache) and
 * check each slot: SEED_W where @written[slot], else SEED_BG. */
static void verify_region(struct __test_metadata *_metadata,
			  FIXTURE_DATA(rw) *self,
			  const FIXTURE_VARIANT(rw) *variant,
			  const char *written)
{
	long long off;
	int s, bad = 0;

	ASSERT_EQ(0, fsync(self->fd));
	if (!variant->direct)
		ASSERT_EQ(0, posix_fadvise(self->fd, self->base, REGION,
					   POSIX_FADV_DONTNEED));
	for (off = 0; off < REGION; off += 1 << 20)
		ASSERT_EQ(1 << 20, pread(self->fd, self->back + off, 1 << 20,
					 self->base + off));
	for (s = 0; s < NSLOTS; s++) {
		long long at = self->base + (long long)s * SLOT;
		unsigned int seed = written[s] ? SEED_W : SEED_BG;
		long m = t_check(self->back + (long)s * SLOT, SLOT, seed, at);

		if (m >= 0 && bad++ < 8)
			TH_LOG("slot %d (%s) differs at file offset %lld", s,
			       written[s] ? "written" : "background", at + m);
	}
	EXPECT_EQ(0, bad);
}

TEST_F_TIMEOUT(rw, random_pwrites_and_pwritevs_then_pread_matches, 300)
{
	enum { NW = 64, NV = 16, N = NW + NV };
	unsigned int units[N];
	struct iocb cbs[N];
	long long want[N];
	struct iovec iov[NV][4];
	char written[NSLOTS] = { 0 };
	int i, k;

	KAIO_SKIPPED_IN_SETUP();
	pick_distinct(&self->rng, units, N, NUNITS);

	/* 64 PWRITEs of 4 KiB, each somewhere in its own 16 KiB unit */
	for (i = 0; i < NW; i++) {
		int slot = units[i] * (UNIT / SLOT) + rnd(&self->rng) % (UNIT / SLOT);
		char *src = self->buf + (long)i * SLOT;
		long long at = self->base + (long long)slot * SLOT;

		t_fill(src, SLOT, SEED_W, at);
		t_prep_pwrite(&cbs[i], self->fd, src, SLOT, at);
		want[i] = SLOT;
		written[slot] = 1;
	}
	/* 16 PWRITEVs of a whole unit from 4 scattered, 1 KiB aligned pieces */
	for (k = 0; k < NV; k++) {
		static const size_t len[4] = { 4096, 1024, 3072, 8192 };
		/* source offsets inside a 32 KiB area, deliberately out of order */
		static const size_t src_at[4] = { 20480, 1024, 8192, 0 + 12288 };
		char *area = self->buf + (1 << 20) + (long)k * 32768;
		long long at = self->base + (long long)units[NW + k] * UNIT;
		long long pos = at;
		int j;

		for (j = 0; j < 4; j++) {
			iov[k][j].iov_base = area + src_at[j];
			iov[k][j].iov_len = len[j];
			t_fill(iov[k][j].iov_base, len[j], SEED_W, pos);
			pos += len[j];
		}
		t_prep_pwritev(&cbs[NW + k], self->fd, iov[k], 4, at);
		want[NW + k] = UNIT;
		for (j = 0; j < UNIT / SLOT; j++)
			written[units[NW + k] * (UNIT / SLOT) + j] = 1;
	}
	run_batch(_metadata, self->c.fd, cbs, want, N);
	verify_region(_metadata, self, variant, written);
}

TEST_F_TIMEOUT(rw, large_pwrite_1MiB_then_pread_matches, 300)
{
	struct iocb cb;
	long long want = 1 << 20;
	char written[NSLOTS] = { 0 };
	long long at = self->base + (3 << 20) + 8 * SLOT;
	int s;

	KAIO_SKIPPED_IN_SETUP();
	t_fill(self->buf, 1 << 20, SEED_W, at);
	t_prep_pwrite(&cb, self->fd, self->buf, 1 << 20, at);
	run_batch(_metadata, self->c.fd, &cb, &want, 1);
	for (s = 0; s < (1 << 20) / SLOT; s++)
		written[(3 << 20) / SLOT + 8 + s] = 1;
	verify_region(_metadata, self, variant, written);
}

TEST_F_TIMEOUT(rw, pattern_then_random_kaio_preads_match, 300)
{
	enum { N = 64 };
	struct iocb cbs[N];
	long long want[N], from[N];	/* expectations kept apart from iocbs */
	int i;

	KAIO_SKIPPED_IN_SETUP();
	if (!variant->direct)	/* read from the device, not the cache */
		ASSERT_EQ(0, posix_fadvise(self->fd, self->base, REGION,
					   POSIX_FADV_DONTNEED));
	memset(self->back, 0, N * SLOT);
	for (i = 0; i < N; i++) {
		from[i] = self->base +
			  (long long)(rnd(&self->rng) % NSLOTS) * SLOT;
		t_prep_pread(&cbs[i], self->fd, self->back + (long)i * SLOT,
			     SLOT, from[i]);
		want[i] = SLOT;
	}
	run_batch(_metadata, self->c.fd, cbs, want, N);
	for (i = 0; i < N; i++) {
		long long at = from[i];

		EXPECT_EQ(-1, t_check(self->back + (long)i * SLOT, SLOT,
				      SEED_BG, at))
			TH_LOG("pread %d at %lld", i, at);
	}
}

TEST_F_TIMEOUT(rw, pattern_then_random_kaio_preadvs_match, 300)
{
	enum { N = 16 };
	struct iocb cbs[N];
	long long want[N], from[N];
	struct iovec iov[N][4];
	char *dst[N][4];
	static const size_t len[4] = { 8192, 512, 3584, 4096 };
	static const size_t dst_at[4] = { 16384, 4096, 9216, 0 };
	int i, j;

	KAIO_SKIPPED_IN_SETUP();
	if (!variant->direct)
		ASSERT_EQ(0, posix_fadvise(self->fd, self->base, REGION,
					   POSIX_FADV_DONTNEED));
	memset(self->back, 0, N * 32768);
	for (i = 0; i < N; i++) {
		from[i] = self->base + (long long)(rnd(&self->rng) %
				(NSLOTS - UNIT / SLOT)) * SLOT;
		for (j = 0; j < 4; j++) {
			dst[i][j] = self->back + (long)i * 32768 + dst_at[j];
			iov[i][j].iov_base = dst[i][j];
			iov[i][j].iov_len = len[j];
		}
		t_prep_preadv(&cbs[i], self->fd, iov[i], 4, from[i]);
		want[i] = UNIT;
	}
	run_batch(_metadata, self->c.fd, cbs, want, N);
	for (i = 0; i < N; i++) {
		long long pos = from[i];

		for (j = 0; j < 4; j++) {
			EXPECT_EQ(-1, t_check(dst[i][j], len[j],
					      SEED_BG, pos))
				TH_LOG("preadv %d piece %d at %lld", i, j, pos);
			pos += len[j];
		}
	}
}

TEST_F_TIMEOUT(rw, large_kaio_pread_1MiB_matches, 300)
{
	struct iocb cb;
	long long want = 1 << 20;
	long long at = self->base + (5 << 20) + 3 * SLOT;

	KAIO_SKIPPED_IN_SETUP();
	if (!variant->direct)
		ASSERT_EQ(0, posix_fadvise(self->fd, self->base, REGION,
					   POSIX_FADV_DONTNEED));
	t_prep_pread(&cb, self->fd, self->back, 1 << 20, at);
	run_batch(_metadata, self->c.fd, &cb, &want, 1);
	EXPECT_EQ(-1, t_check(self->back, 1 << 20, SEED_BG, at));
}

TEST_F_TIMEOUT(rw, writes_then_fsync_and_fdsync_res_0, 300)
{
	enum { N = 8 };
	struct iocb cbs[N], sync[2];
	long long want[N], zero[2] = { 0, 0 };
	char written[NSLOTS] = { 0 };
	int i;

	KAIO_SKIPPED_IN_SETUP();
	for (i = 0; i < N; i++) {
		int slot = 100 + 37 * i;
		long long at = self->base + (long long)slot * SLOT;

		t_fill(self->buf + (long)i * SLOT, SLOT, SEED_W, at);
		t_prep_pwrite(&cbs[i], self->fd, self->buf + (long)i * SLOT,
			      SLOT, at);
		want[i] = SLOT;
		written[slot] = 1;
	}
	run_batch(_metadata, self->c.fd, cbs, want, N);
	t_prep_fsync(&sync[0], self->fd);
	t_prep_fdsync(&sync[1], self->fd);
	run_batch(_metadata, self->c.fd, sync, zero, 2);
	verify_region(_metadata, self, variant, written);
}

TEST_F_TIMEOUT(rw, eventfd_counts_completions, 300)
{
	enum { N = 32 };
	struct iocb cbs[N];
	long long want[N];
	uint64_t count = 0;
	int efd, i;

	KAIO_SKIPPED_IN_SETUP();
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	for (i = 0; i < N; i++) {
		t_prep_pread(&cbs[i], self->fd, self->back + (long)i * SLOT,
			     SLOT, self->base + (long long)i * 3 * SLOT);
		cbs[i].aio_flags = IOCB_FLAG_RESFD;
		cbs[i].aio_resfd = efd;
		want[i] = SLOT;
	}
	run_batch(_metadata, self->c.fd, cbs, want, N);
	ASSERT_EQ(sizeof(count), read(efd, &count, sizeof(count)));
	EXPECT_EQ(N, count);
	for (i = 0; i < N; i++)
		EXPECT_EQ(-1, t_check(self->back + (long)i * SLOT, SLOT,
				      SEED_BG, self->base + (long long)i * 3 * SLOT));
}

TEST_HARNESS_MAIN
