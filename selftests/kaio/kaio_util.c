// SPDX-License-Identifier: GPL-2.0
/* kaio selftests: the one shared helper (see kaio_util.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kaio_util.h"

static long ret_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

void *kaio_bad_ptr(void)
{
	static void *page;

	if (!page) {
		page = mmap(NULL, 4096, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED) {
			perror("mmap PROT_NONE");
			abort();
		}
	}
	return page;
}

int kaio_open_dev(void)
{
	return ret_or_errno(open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC));
}

int kaio_setup_raw(int dev, struct kaio_setup *s)
{
	return ret_or_errno(ioctl(dev, KAIO_IOC_SETUP, s));
}

int kaio_ctx_init(struct kaio_ctx *c, unsigned int nr_events, unsigned int flags)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = c->nullfd = -1;
	c->dev = kaio_open_dev();
	if (c->dev < 0)
		return c->dev;
	c->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (c->nullfd < 0)
		return -errno;
	c->s.nr_events = nr_events;
	c->s.flags = flags;
	ret = kaio_setup_raw(c->dev, &c->s);
	if (ret < 0)
		return ret;
	c->fd = ret;
	c->cap = c->s.nr_events;
	return 0;
}

int kaio_ctx_map_ring(struct kaio_ctx *c)
{
	void *p = mmap(NULL, c->s.ring_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, c->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	c->ring = p;
	return 0;
}

void kaio_ctx_close(struct kaio_ctx *c)
{
	if (c->ring)
		munmap(c->ring, c->s.ring_size);
	if (c->fd >= 0)
		close(c->fd);
	if (c->nullfd >= 0)
		close(c->nullfd);
	if (c->dev >= 0)
		close(c->dev);
	c->ring = NULL;
	c->fd = c->nullfd = c->dev = -1;
}

long kaio_submit(int ctx, long long nr, struct iocb **iocbpp)
{
	struct kaio_submit s = {
		.nr = nr,
		.iocbpp = (uintptr_t)iocbpp,
	};

	return ret_or_errno(ioctl(ctx, KAIO_IOC_SUBMIT, &s));
}

long kaio_submit_one(int ctx, struct iocb *iocb)
{
	return kaio_submit(ctx, 1, &iocb);
}

long kaio_getevents_raw(int ctx, struct kaio_getevents *g)
{
	return ret_or_errno(ioctl(ctx, KAIO_IOC_GETEVENTS, g));
}

long kaio_getevents(int ctx, long long min_nr, long long nr,
		    struct io_event *events, const struct timespec *timeout)
{
	struct __kernel_timespec ts;
	struct kaio_getevents g = {
		.min_nr = min_nr,
		.nr = nr,
		.events = (uintptr_t)events,
	};

	if (timeout) {
		ts.tv_sec = timeout->tv_sec;
		ts.tv_nsec = timeout->tv_nsec;
		g.timeout = (uintptr_t)&ts;
	}
	return kaio_getevents_raw(ctx, &g);
}

long kaio_cancel(int ctx, struct iocb *iocb)
{
	struct kaio_cancel c = { .iocb = (uintptr_t)iocb };

	return ret_or_errno(ioctl(ctx, KAIO_IOC_CANCEL, &c));
}

long kaio_destroy(int ctx)
{
	return ret_or_errno(ioctl(ctx, KAIO_IOC_DESTROY));
}

long kaio_wait(int ctx, struct io_event *events, long nr, int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	long got = 0, ret;

	/* A signal must not make a test lose events: loop on EINTR. */
	while (got < nr) {
		ret = kaio_getevents(ctx, nr - got, nr - got, events + got, &ts);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return got ? got : ret;
		if (ret == 0)
			break;
		got += ret;
	}
	return got;
}

void kaio_prep_rw(struct iocb *cb, int op, int fd, void *buf,
		  uint64_t nbytes, int64_t offset)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = op;
	cb->aio_fildes = fd;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = nbytes;
	cb->aio_offset = offset;
}

void kaio_prep_pread(struct iocb *cb, int fd, void *buf, size_t len, int64_t off)
{
	kaio_prep_rw(cb, IOCB_CMD_PREAD, fd, buf, len, off);
}

void kaio_prep_pwrite(struct iocb *cb, int fd, const void *buf, size_t len,
		      int64_t off)
{
	kaio_prep_rw(cb, IOCB_CMD_PWRITE, fd, (void *)buf, len, off);
}

void kaio_prep_preadv(struct iocb *cb, int fd, const struct iovec *iov,
		      int iovcnt, int64_t off)
{
	kaio_prep_rw(cb, IOCB_CMD_PREADV, fd, (void *)iov, iovcnt, off);
}

void kaio_prep_pwritev(struct iocb *cb, int fd, const struct iovec *iov,
		       int iovcnt, int64_t off)
{
	kaio_prep_rw(cb, IOCB_CMD_PWRITEV, fd, (void *)iov, iovcnt, off);
}

void kaio_prep_fsync(struct iocb *cb, int fd)
{
	kaio_prep_rw(cb, IOCB_CMD_FSYNC, fd, NULL, 0, 0);
}

void kaio_prep_fdsync(struct iocb *cb, int fd)
{
	kaio_prep_rw(cb, IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
}

void kaio_prep_noop(struct iocb *cb, int fd)
{
	kaio_prep_rw(cb, IOCB_CMD_NOOP, fd, NULL, 0, 0);
}

const char *kaio_env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v || access(v, F_OK))
		return NULL;
	return v;
}

const char *kaio_test_dir(void)
{
	const char *d = kaio_env_path("KAIO_EXT4_DIR");

	if (!d)
		d = kaio_env_path("TMPDIR");
	return d ? d : "/tmp";
}

int kaio_make_file(const char *dir, char *path, size_t pathlen, size_t size,
		   uint64_t seed)
{
	char *buf;
	size_t done = 0;
	int fd;

	snprintf(path, pathlen, "%s/kaio-selftest.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (done < size) {
		size_t n = size - done < (1 << 20) ? size - done : (1 << 20);
		ssize_t w;

		kaio_fill(buf, n, seed, done);
		w = pwrite(fd, buf, n, done);
		if (w != (ssize_t)n) {
			int err = w < 0 ? errno : EIO;

			free(buf);
			close(fd);
			unlink(path);
			return -err;
		}
		done += n;
	}
	free(buf);
	close(fd);
	return 0;
}

/* One 64-bit word of pattern per aligned 8 bytes: a splitmix64 of the word index. */
static uint64_t pattern_word(uint64_t seed, uint64_t idx)
{
	uint64_t z = seed + idx * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned char pattern_byte(uint64_t seed, uint64_t off)
{
	return pattern_word(seed, off / 8) >> (8 * (off % 8));
}

void kaio_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	unsigned char *p = buf;
	size_t i = 0;

	for (; i < len && (off + i) % 8; i++)
		p[i] = pattern_byte(seed, off + i);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(seed, (off + i) / 8);

		memcpy(p + i, &w, 8);	/* little endian: byte k = w >> 8k */
	}
	for (; i < len; i++)
		p[i] = pattern_byte(seed, off + i);
}

long kaio_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	static unsigned char want[65536];
	const unsigned char *p = buf;
	size_t done, i;

	for (done = 0; done < len; done += sizeof(want)) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);

		kaio_fill(want, n, seed, off + done);
		if (!memcmp(p + done, want, n))
			continue;
		for (i = 0; i < n; i++)
			if (p[done + i] != want[i])
				return done + i;
	}
	return -1;
}

void *kaio_alloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		abort();
	}
	return p;
}

uint64_t kaio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
