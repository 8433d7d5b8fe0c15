// SPDX-License-Identifier: GPL-2.0
/* kaio selftests: the one shared helper (see kaio_util.h). */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kaio_util.h"

static long ret_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

void *t_bad_ptr(void)
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

int t_open_dev(void)
{
	return ret_or_errno(open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC));
}

int t_setup_raw(int dev, struct kaio_setup *s)
{
	return ret_or_errno(ioctl(dev, KAIO_IOC_SETUP, s));
}

int t_ctx_init(struct t_ctx *c, unsigned int nr_events, unsigned int flags)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = c->nullfd = -1;
	c->dev = t_open_dev();
	if (c->dev < 0)
		return c->dev;
	c->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (c->nullfd < 0)
		return -errno;
	c->s.nr_events = nr_events;
	c->s.flags = flags;
	ret = t_setup_raw(c->dev, &c->s);
	if (ret < 0)
		return ret;
	c->fd = ret;
	c->cap = c->s.nr_events;
	return 0;
}

int t_ctx_map_ring(struct t_ctx *c)
{
	void *p = mmap(NULL, c->s.ring_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, c->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	c->ring = p;
	return 0;
}

void t_ctx_close(struct t_ctx *c)
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

long t_submit(int ctx, long long nr, struct iocb **iocbpp)
{
	struct kaio_submit s = {
		.nr = nr,
		.iocbpp = (uintptr_t)iocbpp,
	};

	return ret_or_errno(ioctl(ctx, KAIO_IOC_SUBMIT, &s));
}

long t_submit_one(int ctx, struct iocb *iocb)
{
	return t_submit(ctx, 1, &iocb);
}

long t_getevents_raw(int ctx, struct kaio_getevents *g)
{
	return ret_or_errno(ioctl(ctx, KAIO_IOC_GETEVENTS, g));
}

long t_getevents(int ctx, long long min_nr, long long nr,
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
	return t_getevents_raw(ctx, &g);
}

long t_cancel(int ctx, struct iocb *iocb)
{
	struct kaio_cancel c = { .iocb = (uintptr_t)iocb };

	return ret_or_errno(ioctl(ctx, KAIO_IOC_CANCEL, &c));
}

long t_destroy(int ctx)
{
	return ret_or_errno(ioctl(ctx, KAIO_IOC_DESTROY));
}

long t_wait(int ctx, struct io_event *events, long nr, int timeout_ms)
{
	struct timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	long got = 0, ret;

	/* A signal must not make a test lose events: loop on EINTR. */
	while (got < nr) {
		ret = t_getevents(ctx, nr - got, nr - got, events + got, &ts);
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

void t_prep_rw(struct iocb *cb, int op, int fd, void *buf,
	       uint64_t nbytes, int64_t offset)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = op;
	cb->aio_fildes = fd;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = nbytes;
	cb->aio_offset = offset;
}

void t_prep_pread(struct iocb *cb, int fd, void *buf, size_t len, int64_t off)
{
	t_prep_rw(cb, IOCB_CMD_PREAD, fd, buf, len, off);
}

void t_prep_pwrite(struct iocb *cb, int fd, const void *buf, size_t len,
		   int64_t off)
{
	t_prep_rw(cb, IOCB_CMD_PWRITE, fd, (void *)buf, len, off);
}

void t_prep_preadv(struct iocb *cb, int fd, const struct iovec *iov,
		   int iovcnt, int64_t off)
{
	t_prep_rw(cb, IOCB_CMD_PREADV, fd, (void *)iov, iovcnt, off);
}

void t_prep_pwritev(struct iocb *cb, int fd, const struct iovec *iov,
		    int iovcnt, int64_t off)
{
	t_prep_rw(cb, IOCB_CMD_PWRITEV, fd, (void *)iov, iovcnt, off);
}

void t_prep_fsync(struct iocb *cb, int fd)
{
	t_prep_rw(cb, IOCB_CMD_FSYNC, fd, NULL, 0, 0);
}

void t_prep_fdsync(struct iocb *cb, int fd)
{
	t_prep_rw(cb, IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
}

void t_prep_noop(struct iocb *cb, int fd)
{
	t_prep_rw(cb, IOCB_CMD_NOOP, fd, NULL, 0, 0);
}

void t_prep_poll(struct iocb *cb, int fd, unsigned int events)
{
	t_prep_rw(cb, IOCB_CMD_POLL, fd, NULL, 0, 0);
	cb->aio_buf = events;
}

const char *t_env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v || access(v, F_OK))
		return NULL;
	return v;
}

long long t_slow_lat_ns(void)
{
	const char *v = getenv("KAIO_SLOW_LAT_NS");

	return v ? atoll(v) : 0;
}

int t_write_file(const char *dir, const char *name, const char *val,
		 int oflags)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | oflags);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

char *t_read_whole(const char *dir, const char *name)
{
	size_t len = 0, cap = 1 << 16;
	char path[256], *s = malloc(cap), *t;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !s) {
		free(s);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, s + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				close(fd);
				return NULL;
			}
			s = t;
		}
	}
	close(fd);
	s[len] = 0;
	return s;
}

/* One byte of data, and room for one fd as SCM_RIGHTS control data. */
struct fd_msg {
	struct msghdr msg;
	struct iovec iov;
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->byte = 'k';
	m->iov.iov_base = &m->byte;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->u.buf;
	m->msg.msg_controllen = sizeof(m->u.buf);
}

int t_send_fd(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *cm;

	fd_msg_init(&m);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, 0) == 1 ? 0 : -errno;
}

int t_recv_fd(int sock)
{
	struct fd_msg m;
	struct cmsghdr *cm;
	int fd;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m.msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

const char *t_test_dir(void)
{
	const char *d = t_env_path("KAIO_EXT4_DIR");

	if (!d)
		d = t_env_path("TMPDIR");
	return d ? d : "/tmp";
}

int t_make_file(const char *dir, char *path, size_t pathlen, size_t size,
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

		t_fill(buf, n, seed, done);
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

void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
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

long t_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	static unsigned char want[65536];
	const unsigned char *p = buf;
	size_t done, i;

	for (done = 0; done < len; done += sizeof(want)) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);

		t_fill(want, n, seed, off + done);
		if (!memcmp(p + done, want, n))
			continue;
		for (i = 0; i < n; i++)
			if (p[done + i] != want[i])
				return done + i;
	}
	return -1;
}

void *t_alloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		abort();
	}
	return p;
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const struct {
	const char *name;
	size_t off;
} kaio_stat_fields[] = {
#define F(n, f) { n, offsetof(struct t_stats, f) }
	F("nr_events", nr_events),
	F("submitted", submitted),
	F("completed", completed),
	F("inline", inlined),
	F("async", async),
	F("page_wait_arms", page_wait_arms),
	F("wakeups", wakeups),
	F("retries", retries),
	F("retries_in_task", retries_in_task),
	F("retries_requeued", retries_requeued),
	F("worker", worker),
	F("cancelled", cancelled),
	F("signals_sent", signals_sent),
	F("signals_dropped", signals_dropped),
	F("in_flight", in_flight),
	F("signals_queued", signals_queued),
	F("contexts", contexts),
	F("events_reserved", events_reserved),
	F("pinned_pages_reserved", pinned_pages_reserved),
#undef F
};

#define KAIO_NSTATS (sizeof(kaio_stat_fields) / sizeof(kaio_stat_fields[0]))

static long long *stat_field(struct t_stats *st, size_t i)
{
	return (long long *)((char *)st + kaio_stat_fields[i].off);
}

static long long stat_get(const struct t_stats *st, size_t i)
{
	return *(const long long *)((const char *)st + kaio_stat_fields[i].off);
}

int t_stats_read(const char *path, struct t_stats *st)
{
	char line[256], name[128];
	long long v;
	size_t i;
	FILE *f;

	for (i = 0; i < KAIO_NSTATS; i++)
		*stat_field(st, i) = -1;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127[^:]:%lld", name, &v) != 2)
			continue;
		for (i = 0; i < KAIO_NSTATS; i++)
			if (!strcmp(name, kaio_stat_fields[i].name))
				*stat_field(st, i) = v;
	}
	fclose(f);
	return 0;
}

int t_ctx_stats(int ctxfd, struct t_stats *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ctxfd);
	return t_stats_read(path, st);
}

struct t_stats t_stats_sub(const struct t_stats *after,
			   const struct t_stats *before)
{
	struct t_stats d;
	size_t i;

	for (i = 0; i < KAIO_NSTATS; i++) {
		long long a = stat_get(after, i), b = stat_get(before, i);

		/* a counter neither listed stays "not listed" */
		*stat_field(&d, i) = a == -1 && b == -1 ? -1 : a - b;
	}
	return d;
}

void t_stats_log(const char *prefix, const struct t_stats *st)
{
	char line[512] = "";
	size_t i, len = 0;

	for (i = 0; i < KAIO_NSTATS && len < sizeof(line); i++) {
		if (stat_get(st, i) == -1)
			continue;
		len += snprintf(line + len, sizeof(line) - len, " %s %lld",
				kaio_stat_fields[i].name, stat_get(st, i));
	}
	fprintf(stderr, "# %s:%s\n", prefix, line);
}

int t_module_settle(long long contexts, int timeout_ms, struct t_stats *st)
{
	uint64_t end = t_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int ret;

	for (;;) {
		ret = t_stats_read(KAIO_DEBUGFS_STATS, st);
		if (ret)
			return ret;
		if (st->contexts == contexts && st->pinned_pages_reserved == 0)
			return 0;
		if (t_now_ns() >= end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

long t_tally(const struct iocb *cbs, long n, const struct io_event *ev,
	     long nev, int *counts, long long *res)
{
	uintptr_t base = (uintptr_t)cbs;
	long i, stray = 0;

	for (i = 0; i < nev; i++) {
		uintptr_t obj = ev[i].obj;
		long k;

		if (obj < base || (obj - base) % sizeof(*cbs)) {
			stray++;
			continue;
		}
		k = (obj - base) / sizeof(*cbs);
		if (k >= n) {
			stray++;
			continue;
		}
		counts[k]++;
		if (res)
			res[k] = ev[i].res;
	}
	return stray;
}

long t_ring_peek(const struct t_ctx *c, struct io_event *ev, long max)
{
	const struct kaio_ring *r = c->ring;
	unsigned int head, tail;
	long n = 0;

	if (!r)
		return 0;
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) % r->nr;
	while (head != tail % r->nr && n < max) {
		ev[n++] = r->io_events[head];
		head = (head + 1) % r->nr;
	}
	return n;
}

int t_drop_file_cache(int fd)
{
	if (fsync(fd))
		return -errno;
	/* posix_fadvise returns the error number, it does not set errno */
	return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

long t_cached_pages(int fd, size_t len)
{
	long page = sysconf(_SC_PAGESIZE), n = 0;
	size_t pages = (len + page - 1) / page, i;
	unsigned char *vec;
	void *map;

	if (!len)
		return 0;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	vec = malloc(pages);
	if (!vec) {
		munmap(map, len);
		return -ENOMEM;
	}
	if (mincore(map, len, vec)) {
		n = -errno;
	} else {
		for (i = 0; i < pages; i++)
			n += vec[i] & 1;
	}
	free(vec);
	munmap(map, len);
	return n;
}

#define KAIO_PARAM_DIR	"/sys/module/kaio/parameters/"

int t_param_write(const char *name, const char *value)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), KAIO_PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int t_param_read(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KAIO_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* ---- requests in flight: the files they use (see kaio_util.h) ----------- */

/*
 * The files cold reads read (t_cold_file()): one per directory and program,
 * named for the program's main process, which removes them when it exits.
 */
static pid_t main_pid;

static void cold_path(char *path, size_t len, const char *dir)
{
	snprintf(path, len, "%s/kaio-cold.%d", dir, (int)main_pid);
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

int t_cold_file(const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd, ret;

	cold_path(path, sizeof(path), dir);
	if (stat(path, &st) || st.st_size != T_COLD_SIZE) {
		ret = t_make_file(dir, tmp, sizeof(tmp), T_COLD_SIZE, T_COLD_SEED);
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
	if (!ret && t_cached_pages(fd, T_COLD_SIZE) != 0)
		ret = -EBUSY;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int t_slow_raw_open(const char *dev, int n)
{
	size_t len = (size_t)n * T_BS;
	char *buf = t_alloc(len);
	int fd = open(dev, O_RDWR | O_DIRECT);
	ssize_t w;

	if (fd < 0)
		return -errno;
	t_fill(buf, len, T_RAW_SEED, T_RAW_OFF);
	w = pwrite(fd, buf, len, T_RAW_OFF);
	munmap(buf, len);
	if (w != (ssize_t)len) {
		close(fd);
		return w < 0 ? -errno : -EIO;
	}
	return fd;
}

int t_target_file(const char *dir, char *path, size_t pathlen, int n)
{
	int fd, ret;

	ret = t_make_file(dir, path, pathlen, (size_t)n * T_BS, T_OLD_SEED);
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

/* ---- requests in flight: batches of mixed requests ------------------------ */

const char *const t_kind_name[] = {
	"cold buffered read", "O_DIRECT read", "buffered DSYNC write",
	"FSYNC", "POLL", "NOOP",
};

void t_batch_init(struct t_batch *b, int max)
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

static struct iocb *batch_add(struct t_batch *b, enum t_kind k, char *buf,
			      uint64_t seed, long long off)
{
	int i = b->n++;

	if (i >= b->max)
		abort();
	b->info[i] = (struct t_req_info){ k, buf, seed, off };
	b->ptrs[i] = &b->cbs[i];
	return &b->cbs[i];
}

void t_batch_done(struct t_batch *b)
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

/* @n cold 4 KiB reads of a t_cold_file() (T_COLD_SEED), T_COLD_STRIDE apart. */
static void add_cold_reads(struct t_batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * T_BS);
	int i;

	memset(buf, 0xa5, (size_t)n * T_BS);
	for (i = 0; i < n; i++) {
		long long off = (long long)i * T_COLD_STRIDE;
		struct iocb *cb = batch_add(b, T_COLD, buf + (size_t)i * T_BS,
					    T_COLD_SEED, off);

		t_prep_pread(cb, fd, buf + (size_t)i * T_BS, T_BS, off);
	}
}

void t_batch_add_direct_reads(struct t_batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * T_BS);
	int i;

	for (i = 0; i < n; i++) {
		long long off = T_RAW_OFF + (long long)i * T_BS;
		struct iocb *cb = batch_add(b, T_DIRECT, buf + (size_t)i * T_BS,
					    T_RAW_SEED, off);

		t_prep_pread(cb, fd, buf + (size_t)i * T_BS, T_BS, off);
	}
}

/*
 * @n buffered RWF_DSYNC writes of T_NEW_SEED pattern over a t_target_file():
 * ext4 has no async buffered writes, so each waits for a worker, and the
 * DSYNC journal commit keeps the workers busy.
 */
static void add_writes(struct t_batch *b, int fd, int n)
{
	char *buf = t_alloc((size_t)n * T_BS);
	int i;

	t_fill(buf, (size_t)n * T_BS, T_NEW_SEED, 0);
	for (i = 0; i < n; i++) {
		long long off = (long long)i * T_BS;
		struct iocb *cb = batch_add(b, T_WRITE, buf + (size_t)i * T_BS,
					    T_NEW_SEED, off);

		t_prep_pwrite(cb, fd, buf + (size_t)i * T_BS, T_BS, off);
		cb->aio_rw_flags = RWF_DSYNC;
	}
}

static void add_fsyncs(struct t_batch *b, int fd, int n)
{
	int i;

	for (i = 0; i < n; i++)
		t_prep_fsync(batch_add(b, T_FSYNC, NULL, 0, 0), fd);
}

int t_batch_add_polls(struct t_batch *b, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int *p = b->pipes[b->npipes];

		if (b->npipes >= 256 || pipe2(p, O_CLOEXEC))
			return -1;
		b->npipes++;
		t_prep_poll(batch_add(b, T_POLL, NULL, 0, 0), p[0], POLLIN);
	}
	return 0;
}

void t_batch_finish_prep(struct t_batch *b)
{
	int i;

	for (i = 0; i < b->n; i++)
		b->cbs[i].aio_data = i;
}

const char *t_mix_open(struct t_mix *m, const struct t_mix_counts *n)
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
	t_batch_init(&m->b, 1024);
	for (i = 0; i < 2 && n->cold; i++) {
		const char *d = t_env_path(env[i]);

		if (!d)
			continue;
		m->cold_fd[i] = t_cold_file(d);
		if (m->cold_fd[i] < 0)
			fprintf(stderr, "# cold file in %s: %s\n", d,
				strerror(-m->cold_fd[i]));
		if (m->cold_fd[i] < 0)
			return "could not make a cold file";
		add_cold_reads(&m->b, m->cold_fd[i], n->cold);
	}
	if (n->direct) {
		m->direct_fd = t_slow_raw_open(raw, n->direct);
		if (m->direct_fd < 0)
			return "could not write the slow raw device";
		t_batch_add_direct_reads(&m->b, m->direct_fd, n->direct);
	}
	if (n->writes || n->fsyncs) {
		m->write_fd = t_target_file(dir, m->wpath, sizeof(m->wpath),
					    n->writes ? n->writes : 1);
		if (m->write_fd < 0)
			return "could not make a file to write";
		add_writes(&m->b, m->write_fd, n->writes);
		add_fsyncs(&m->b, m->write_fd, n->fsyncs);
	}
	if (t_batch_add_polls(&m->b, n->polls))
		return "out of pipes";
	t_batch_finish_prep(&m->b);
	return NULL;
}

void t_mix_close(struct t_mix *m)
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
	t_batch_done(&m->b);
	memset(m, 0, sizeof(*m));
	m->cold_fd[0] = m->cold_fd[1] = m->direct_fd = m->write_fd = -1;
}

/* ---- requests in flight: threads ------------------------------------------ */

void *t_getevents_thread(void *arg)
{
	struct t_waiter *w = arg;

	w->tid = syscall(SYS_gettid);
	w->ret = t_getevents(w->ctx, w->min_nr, w->min_nr, w->ev, w->timeout);
	return NULL;
}

static void sigusr1_handler(int sig)
{
	(void)sig;
}

bool t_join_within(pthread_t th, int ms)
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

void t_install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: GETEVENTS EINTRs */
}

bool t_in_ioctl(pid_t id)
{
	char path[64], line[128];
	bool yes = false;
	FILE *f;

	/* /proc/<tid> exists for every thread, listed or not. */
	snprintf(path, sizeof(path), "/proc/%d/syscall", id);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(line, sizeof(line), f))
		yes = atoi(line) == SYS_ioctl;
	fclose(f);
	return yes;
}

bool t_wait_in_ioctl(struct t_waiter *w, int ms)
{
	int i;

	for (i = 0; i < ms / 5; i++) {
		if (__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) && t_in_ioctl(w->tid))
			return true;
		usleep(5000);
	}
	return false;
}
