// SPDX-License-Identifier: GPL-2.0
/*
 * libaio.so.1 on kaio, tested as a user meets it: this program is linked
 * against the system's libaio (-laio, the Debian package) and is run by a
 * wrapper with LD_LIBRARY_PATH at kaio's libaio.so.1, with no rebuild.
 *
 * The same binary is the reference: with KAIO_COMPAT_NATIVE=1 it expects
 * native AIO, from the real libaio (run it so on any Linux machine, no kaio
 * needed: `make -C tests/compat native-check`) or from kaio's libaio.so.1
 * where it falls back to native AIO (KAIO_COMPAT_LIBDIR set too: `make -C
 * tests/compat fallback-check`, and the guest's _fallback runs). Every case
 * that is not marked kaio only passes on both, so each errno checked here is
 * native AIO's.
 *
 * Environment: KAIO_COMPAT_NATIVE=1 (the contexts are native AIO's),
 * KAIO_COMPAT_LIBDIR (the directory the wrapper put first in
 * LD_LIBRARY_PATH: kaio's libaio.so.1 is the one mapped), KAIO_EXT4_DIR (a
 * directory that takes O_DIRECT; else $TMPDIR, else /tmp). The library's own
 * KAIO_COMPAT_* variables (Documentation/compat.md) pass through to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "setup_shim.h"

/* The LIBAIO_0.1 entries, which programs linked before libaio 0.4 call. */
__asm__(".symver io_getevents_v01, io_getevents@LIBAIO_0.1");
__asm__(".symver io_cancel_v01, io_cancel@LIBAIO_0.1");
__asm__(".symver io_queue_wait_v01, io_queue_wait@LIBAIO_0.1");
__asm__(".symver io_queue_wait_v04, io_queue_wait@LIBAIO_0.4");
extern int io_getevents_v01(io_context_t ctx, long nr, struct io_event *events,
			    const struct timespec *timeout);
extern int io_cancel_v01(io_context_t ctx, struct iocb *iocb);
extern int io_queue_wait_v01(io_context_t ctx, struct timespec *timeout);
extern int io_queue_wait_v04(io_context_t ctx, struct timespec *timeout);

/*
 * fs/aio.c's ring header, as programs that reap events from user space
 * declare it (fio's engines/libaio.c does); io_context_t is its address.
 */
#define AIO_RING_MAGIC 0xa10a10a1
struct aio_ring {
	unsigned id;
	unsigned nr;
	unsigned head;
	unsigned tail;
	unsigned magic;
	unsigned compat_features;
	unsigned incompat_features;
	unsigned header_length;
	struct io_event io_events[];
};

static bool native;	/* KAIO_COMPAT_NATIVE=1: contexts on native AIO */
static const char *libdir;	/* KAIO_COMPAT_LIBDIR: kaio's libaio.so.1 */

__attribute__((constructor)) static void read_mode(void)
{
	const char *e = getenv("KAIO_COMPAT_NATIVE");

	native = e && strcmp(e, "1") == 0;
	libdir = getenv("KAIO_COMPAT_LIBDIR");
}

/* ---- helpers --------------------------------------------------------------- */

static long read_long(const char *path)
{
	char buf[64] = "";
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 0);
		fclose(f);
	}
	return v;
}

static const char *test_dir(void)
{
	const char *d = getenv("KAIO_EXT4_DIR");

	if (d && access(d, W_OK) == 0)
		return d;
	d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/* A file of @size bytes, byte i = (i * 7 + seed) & 0xff; unlinked at once. */
static int make_file(size_t size, unsigned seed, int extra_flags)
{
	char path[PATH_MAX];
	unsigned char buf[4096];
	size_t done, i;
	int fd, fd2;

	snprintf(path, sizeof(path), "%s/kaio-compat-XXXXXX", test_dir());
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	for (done = 0; done < size; done += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)((done + i) * 7 + seed);
		if (pwrite(fd, buf, sizeof(buf), done) != (ssize_t)sizeof(buf)) {
			close(fd);
			unlink(path);
			return -EIO;
		}
	}
	if (extra_flags) {
		fsync(fd);
		fd2 = open(path, O_RDWR | extra_flags);
		close(fd);
		fd = fd2 < 0 ? -errno : fd2;
	}
	unlink(path);
	return fd;
}

static bool check_pattern(const unsigned char *buf, size_t len, size_t off,
			  unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (unsigned char)((off + i) * 7 + seed))
			return false;
	return true;
}

static void *page_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A mapped page that faults on any access. */
static void *bad_ptr(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct timespec ms(long n)
{
	struct timespec ts = { n / 1000, (n % 1000) * 1000000 };

	return ts;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait (bounded) for @n events: what io_getevents returned. */
static int wait_events(io_context_t ctx, struct io_event *ev, long n)
{
	struct timespec ts = ms(10000);

	return io_getevents(ctx, n, n, ev, &ts);
}

static int fd_count(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* The name /proc/self/maps gives the mapping at @addr ("" if none). */
static void mapping_name(const void *addr, char *name, size_t len)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/maps", "r");

	name[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &pos) < 2 ||
		    (uintptr_t)addr < lo || (uintptr_t)addr >= hi)
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(name, len, "%s", pos ? line + pos : "");
		break;
	}
	fclose(f);
}

/* How /proc/self/maps names a ring: what tells the two AIOs apart. */
#define NATIVE_RING_NAME "/[aio] (deleted)"
#define KAIO_RING_NAME "anon_inode:[kaio]"

static bool env_is(const char *name, const char *value)
{
	const char *e = getenv(name);

	return e && strcmp(e, value) == 0;
}

/*
 * For cases that need the AIO the run expects: on kaio, skip without the
 * module (the library would fall back to native AIO, or with
 * KAIO_COMPAT_BACKEND=kaio fail every io_setup with ENOSYS).
 */
#define NEED_KERNEL() do {							\
	if (!native && access("/dev/kaio", F_OK) != 0)				\
		SKIP(return, "no /dev/kaio");					\
} while (0)

/* io_setup, or skip where there is no such AIO. */
#define SETUP_CTX(n, ctxp) do {							\
	int __r;								\
	NEED_KERNEL();								\
	__r = io_setup((n), (ctxp));						\
	if (__r == -ENOSYS)							\
		SKIP(return, "io_setup: %s (no %s)", strerror(-__r),		\
		     native ? "native AIO" : "/dev/kaio");			\
	ASSERT_EQ(0, __r);							\
} while (0)

/* On kaio, native AIO must never have been used: fs.aio-nr stays 0. */
#define EXPECT_NATIVE_AIO_UNUSED() do {						\
	if (!native)								\
		EXPECT_EQ(0, read_long("/proc/sys/fs/aio-nr"));			\
} while (0)

/* The end of every test with a context. */
#define DESTROY_CTX(ctx) do {							\
	EXPECT_NATIVE_AIO_UNUSED();						\
	EXPECT_EQ(0, io_destroy(ctx));						\
} while (0)

/* ---- which library, which AIO ------------------------------------------------ */

/* The libaio.so.1 mapped is kaio's (or, for the reference, the system's). */
TEST(libaio_mapped_is_the_expected_one)
{
	char line[PATH_MAX + 128], found[PATH_MAX] = "", want[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/maps", "r");
	int libs = 0;

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (!path || !strstr(path, "/libaio.so"))
			continue;
		path[strcspn(path, "\n")] = 0;
		if (strcmp(path, found) != 0) {
			libs++;
			snprintf(found, sizeof(found), "%s", path);
		}
	}
	fclose(f);
	TH_LOG("libaio mapped from %s", found);
	ASSERT_EQ(1, libs);
	if (libdir) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/libaio.so.1", libdir);
		ASSERT_NE(NULL, realpath(path, want));
		EXPECT_STREQ(want, found);
	} else if (native) {
		EXPECT_TRUE(strncmp(found, "/usr/lib", 8) == 0 ||
			    strncmp(found, "/lib", 4) == 0);
	} else {
		EXPECT_FALSE(strncmp(found, "/usr/lib", 8) == 0 ||
			     strncmp(found, "/lib", 4) == 0);
	}
}

/* kaio leaves native AIO alone; the reference run shows it would not. */
TEST(native_aio_nr_only_with_native)
{
	io_context_t ctx = 0;
	long before = read_long("/proc/sys/fs/aio-nr");

	SETUP_CTX(32, &ctx);
	if (native) {
		EXPECT_LT(before, read_long("/proc/sys/fs/aio-nr"));
	} else {
		EXPECT_EQ(0, read_long("/proc/sys/fs/aio-nr"));
	}
	DESTROY_CTX(ctx);
}

/* io_context_t is the user address of the ring, as native AIO's. */
TEST(ctx_is_the_ring_address)
{
	io_context_t ctx = 0;
	struct aio_ring *ring;

	SETUP_CTX(32, &ctx);
	ASSERT_NE(NULL, ctx);
	EXPECT_EQ(0, (uintptr_t)ctx % (uintptr_t)getpagesize());
	EXPECT_EQ(AIO_RING_MAGIC, *(unsigned *)((char *)ctx + 16));
	ring = (struct aio_ring *)ctx;
	EXPECT_EQ(32, ring->header_length);
	EXPECT_LE(32, ring->nr);
	EXPECT_EQ(ring->head, ring->tail);
	if (!native) {
		/* kaio: id is the context fd, an anon inode [kaio] */
		char link[64], target[64] = "";

		snprintf(link, sizeof(link), "/proc/self/fd/%u", ring->id);
		ASSERT_LT(0, readlink(link, target, sizeof(target) - 1));
		EXPECT_STREQ("anon_inode:[kaio]", target);
	}
	DESTROY_CTX(ctx);
}

/*
 * Which AIO a context is on, as a user tells (Documentation/compat.md): the
 * ring's mapping. The fallback runs count on this case to show that their
 * contexts are native AIO's, the kaio run that they are kaio's.
 */
TEST(ring_mapping_names_the_aio)
{
	io_context_t ctx = 0;
	char name[PATH_MAX];

	SETUP_CTX(8, &ctx);
	mapping_name(ctx, name, sizeof(name));
	TH_LOG("ring %p: %s", ctx, name);
	EXPECT_STREQ(native ? NATIVE_RING_NAME : KAIO_RING_NAME, name);
	DESTROY_CTX(ctx);
}

/*
 * What KAIO_COMPAT_DEBUG=1 makes kaio's library print on stderr for one
 * io_setup(): into @log. The io_setup() result.
 */
static int setup_logged(io_context_t *ctx, int n, char *log, size_t len)
{
	int p[2], saved, r;
	ssize_t got;

	if (pipe(p) < 0)
		return -errno;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	setenv("KAIO_COMPAT_DEBUG", "1", 1);
	r = io_setup(n, ctx);
	unsetenv("KAIO_COMPAT_DEBUG");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	got = read(p[0], log, len - 1);
	log[got > 0 ? got : 0] = 0;
	close(p[0]);
	return r;
}

/* KAIO_COMPAT_DEBUG=1: kaio's library says which AIO each context got. */
TEST(debug_says_which_aio)
{
	io_context_t ctx = 0;
	char log[1024], want[64];
	int r;

	if (!libdir)
		SKIP(return, "the system's libaio");
	NEED_KERNEL();
	r = setup_logged(&ctx, 8, log, sizeof(log));
	TH_LOG("%s", log);
	if (r == -ENOSYS)
		SKIP(return, "no /dev/kaio, KAIO_COMPAT_BACKEND=kaio");
	ASSERT_EQ(0, r);
	EXPECT_NE(NULL, strstr(log, native ? "native AIO context" : "kaio context"));
	snprintf(want, sizeof(want), " %p ", ctx);
	EXPECT_NE(NULL, strstr(log, want));
	DESTROY_CTX(ctx);
}

/*
 * kaio's library asks kaio.ko to complete buffered writes in io_submit(),
 * as native AIO does, unless KAIO_COMPAT_ASYNC_WRITES=1.
 */
TEST(debug_says_how_buffered_writes_complete)
{
	io_context_t ctx = 0;
	char log[1024];

	if (!libdir || native || access("/dev/kaio", F_OK) != 0)
		SKIP(return, "kaio's library on kaio only");
	unsetenv("KAIO_COMPAT_ASYNC_WRITES");
	ASSERT_EQ(0, setup_logged(&ctx, 8, log, sizeof(log)));
	TH_LOG("%s", log);
	EXPECT_NE(NULL, strstr(log, "buffered writes complete in io_submit"));
	DESTROY_CTX(ctx);
	ctx = 0;
	setenv("KAIO_COMPAT_ASYNC_WRITES", "1", 1);
	ASSERT_EQ(0, setup_logged(&ctx, 8, log, sizeof(log)));
	TH_LOG("%s", log);
	EXPECT_NE(NULL, strstr(log, "buffered writes asynchronous (KAIO_COMPAT_ASYNC_WRITES=1)"));
	DESTROY_CTX(ctx);
}

/*
 * On a module that refuses KAIO_SETUP_WRITES_IN_SUBMIT (older than the
 * flag; played by setup_shim.c) the library sets up again without it,
 * says so, and asks only once per process: the next io_setup goes straight
 * to the flagless SETUP. Writes then complete later, but complete.
 */
TEST(module_without_writes_in_submit_setup_again_without_it)
{
	io_context_t ctx = 0, ctx2 = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	char log[1024], buf[512];
	int fd;

	if (!libdir || native || access("/dev/kaio", F_OK) != 0)
		SKIP(return, "kaio's library on kaio only");
	unsetenv("KAIO_COMPAT_ASYNC_WRITES");
	shim_refuse_writes_in_submit = true;
	shim_setup_calls = 0;
	ASSERT_EQ(0, setup_logged(&ctx, 8, log, sizeof(log)));
	TH_LOG("%s", log);
	EXPECT_EQ(2, shim_setup_calls);
	EXPECT_NE(NULL, strstr(log, "buffered writes asynchronous (kaio.ko without KAIO_SETUP_WRITES_IN_SUBMIT)"));
	ASSERT_EQ(0, io_setup(8, &ctx2));
	EXPECT_EQ(3, shim_setup_calls);

	fd = make_file(0, 0, 0);
	ASSERT_LE(0, fd);
	memset(buf, 'w', sizeof(buf));
	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	ASSERT_EQ(1, io_submit(ctx, 1, cbs));
	ASSERT_EQ(1, io_getevents(ctx, 1, 1, &ev, NULL));
	EXPECT_EQ(sizeof(buf), ev.res);
	close(fd);
	DESTROY_CTX(ctx);
	DESTROY_CTX(ctx2);
	shim_refuse_writes_in_submit = false;
}

/* ---- kaio's library without kaio: native AIO --------------------------------- */

struct fallback_case {
	const char *name;
	const char *device;	/* KAIO_COMPAT_DEVICE, or unset */
	const char *backend;	/* KAIO_COMPAT_BACKEND, or unset */
	bool as_nobody;		/* drop root first: root opens any file */
	int want;		/* 0: native AIO, 1: kaio, < 0: io_setup's -errno */
};

/* In a child (no /dev/kaio fd open yet): set up, check, use, destroy. */
static int fallback_child(const struct fallback_case *c, int fd)
{
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	unsigned char buf[4096];
	char name[PATH_MAX];
	int r;

	if (c->device)
		setenv("KAIO_COMPAT_DEVICE", c->device, 1);
	else
		unsetenv("KAIO_COMPAT_DEVICE");
	if (c->backend)
		setenv("KAIO_COMPAT_BACKEND", c->backend, 1);
	else
		unsetenv("KAIO_COMPAT_BACKEND");
	if (c->as_nobody && geteuid() == 0 && (setgid(65534) || setuid(65534)))
		return 10;
	if (c->device && c->as_nobody && access(c->device, R_OK | W_OK) == 0)
		return 11;	/* still allowed: nothing to test */
	r = io_setup(4, &ctx);
	if (c->want < 0)
		return r == c->want ? 0 : 12;
	if (r != 0)
		return 13;
	mapping_name(ctx, name, sizeof(name));
	if (strcmp(name, c->want ? KAIO_RING_NAME : NATIVE_RING_NAME) != 0) {
		fprintf(stderr, "# %s: ring %p is %s\n", c->name, (void *)ctx, name);
		return 14;
	}
	io_prep_pread(&cb, fd, buf, sizeof(buf), 4096);
	if (io_submit(ctx, 1, cbs) != 1 || wait_events(ctx, &ev, 1) != 1 ||
	    ev.res != sizeof(buf) || !check_pattern(buf, sizeof(buf), 4096, 4))
		return 15;
	return io_destroy(ctx) == 0 ? 0 : 16;
}

/*
 * Where /dev/kaio is missing (no such node), refuses (a node with no driver
 * behind it: ENXIO, as a socket gives; no permission: EACCES) or is not
 * wanted (KAIO_COMPAT_BACKEND=native), kaio's library sets up a native AIO
 * context instead, so installing it never breaks a program; with
 * KAIO_COMPAT_BACKEND=kaio it says ENOSYS, as before. KAIO_COMPAT_DEVICE
 * points the library at each kind of node. Where /dev/kaio is there, the
 * library picks it.
 */
TEST(kaio_missing_or_refused_falls_back_to_native)
{
	char missing[PATH_MAX], sock_path[64], locked[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool have_kaio = access("/dev/kaio", F_OK) == 0;
	int fd = make_file(65536, 4, 0), sock, lockfd;

	if (!libdir)
		SKIP(return, "the system's libaio");
	ASSERT_LE(0, fd);
	snprintf(missing, sizeof(missing), "%s/kaio-compat-no-such-kaio", test_dir());
	snprintf(sock_path, sizeof(sock_path), "/tmp/kaio-compat-sock.%d", getpid());
	snprintf(locked, sizeof(locked), "/tmp/kaio-compat-locked.%d", getpid());
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, sock);
	unlink(sock_path);
	ASSERT_EQ(0, bind(sock, (struct sockaddr *)&sun, sizeof(sun)));
	lockfd = open(locked, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
	ASSERT_LE(0, lockfd);
	close(lockfd);

	const struct fallback_case cases[] = {
		{ "no such node", missing, NULL, false, 0 },
		{ "node without a driver (ENXIO)", sock_path, NULL, false, 0 },
		{ "no permission (EACCES)", locked, NULL, true, 0 },
		{ "KAIO_COMPAT_BACKEND=native", NULL, "native", false, 0 },
		{ "KAIO_COMPAT_BACKEND=kaio, no such node", missing, "kaio", false, -ENOSYS },
		{ "KAIO_COMPAT_BACKEND=auto", NULL, "auto", false, have_kaio },
		{ "KAIO_COMPAT_BACKEND unset", NULL, NULL, false, have_kaio },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fallback_case *c = &cases[i];
		int status;
		pid_t pid;

		if (c->device && !c->as_nobody) {
			int dev = open(c->device, O_RDWR | O_CLOEXEC);

			TH_LOG("%s: open(%s): %s", c->name, c->device,
			       strerror(dev < 0 ? errno : 0));
			if (dev >= 0)
				close(dev);
		}
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(fallback_child(c, fd));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		if (WEXITSTATUS(status) == 11) {
			TH_LOG("%s: not refused here (privileged): not checked", c->name);
			continue;
		}
		EXPECT_EQ(0, WEXITSTATUS(status)) {
			TH_LOG("%s: %s, exit status %d", c->name,
			       c->want < 0 ? "io_setup's errno" :
			       c->want ? "kaio" : "native AIO", WEXITSTATUS(status));
		}
	}
	close(sock);
	unlink(sock_path);
	unlink(locked);
}

/* ---- io_setup, io_queue_init: errno parity --------------------------------- */

TEST(setup_ctxp_not_zero_EINVAL)
{
	io_context_t ctx = (io_context_t)0x1000;

	EXPECT_EQ(-EINVAL, io_setup(8, &ctx));
	EXPECT_EQ((io_context_t)0x1000, ctx);
}

TEST(setup_maxevents_zero_EINVAL)
{
	io_context_t ctx = 0;

	EXPECT_EQ(-EINVAL, io_setup(0, &ctx));
	EXPECT_EQ(NULL, ctx);
}

TEST(setup_maxevents_negative_EINVAL)
{
	io_context_t ctx = 0;

	NEED_KERNEL();
	EXPECT_EQ(-EINVAL, io_setup(-1, &ctx));
}

/* Beyond what the ring size check allows (fs/aio.c: 2 * nr > 8M / 32). */
TEST(setup_maxevents_huge_EINVAL)
{
	io_context_t ctx = 0;

	NEED_KERNEL();
	EXPECT_EQ(-EINVAL, io_setup(4194305, &ctx));
}

/* Above the system-wide limit: fs.aio-max-nr, kaio's max_events. */
TEST(setup_above_limit_EAGAIN)
{
	long limit = read_long(native ? "/proc/sys/fs/aio-max-nr" :
				 "/sys/module/kaio/parameters/max_events");
	io_context_t ctx = 0;

	if (limit < 0 || limit >= 4194304)
		SKIP(return, "limit %ld not readable or too large", limit);
	EXPECT_EQ(-EAGAIN, io_setup((int)limit + 1, &ctx));
	EXPECT_EQ(NULL, ctx);
	EXPECT_NATIVE_AIO_UNUSED();
}

TEST(setup_ctxp_NULL_EFAULT)
{
	EXPECT_EQ(-EFAULT, io_setup(8, NULL));
}

TEST(setup_ctxp_unmapped_EFAULT)
{
	EXPECT_EQ(-EFAULT, io_setup(8, bad_ptr()));
}

/* Created, then the id cannot be stored: nothing may be left behind. */
TEST(setup_ctxp_read_only_EFAULT_leaks_nothing)
{
	io_context_t *ctxp = page_alloc(4096);
	long aio_nr = read_long("/proc/sys/fs/aio-nr");
	int fds;

	NEED_KERNEL();
	ASSERT_NE(NULL, ctxp);
	ASSERT_EQ(0, mprotect(ctxp, 4096, PROT_READ));
	fds = fd_count();
	EXPECT_EQ(-EFAULT, io_setup(8, ctxp));
	EXPECT_EQ(aio_nr, read_long("/proc/sys/fs/aio-nr"));
	/* kaio keeps one /dev/kaio fd per process once it was opened */
	EXPECT_GE(fds + (native ? 0 : 1), fd_count());
	EXPECT_NATIVE_AIO_UNUSED();
}

TEST(queue_init_zero_or_negative_EINVAL)
{
	io_context_t ctx = 0;

	EXPECT_EQ(-EINVAL, io_queue_init(0, &ctx));
	EXPECT_EQ(-EINVAL, io_queue_init(-5, &ctx));
}

/* io_queue_init zeroes *ctxp first, so any previous value is fine. */
TEST(queue_init_ignores_old_ctx_value)
{
	io_context_t ctx = (io_context_t)0x1000;
	int r;

	NEED_KERNEL();
	r = io_queue_init(16, &ctx);
	if (r == -ENOSYS)
		SKIP(return, "no AIO");
	ASSERT_EQ(0, r);
	EXPECT_NE((io_context_t)0x1000, ctx);
	EXPECT_NATIVE_AIO_UNUSED();
	EXPECT_EQ(0, io_queue_release(ctx));
}

/* libaio returns -errno and leaves errno alone. */
TEST(errno_left_alone)
{
	io_context_t ctx = 0;

	NEED_KERNEL();
	errno = 1234;
	EXPECT_EQ(-EINVAL, io_setup(0, &ctx));
	EXPECT_EQ(1234, errno);
	EXPECT_EQ(-EINVAL, io_submit(NULL, 1, NULL));
	EXPECT_EQ(1234, errno);
	SETUP_CTX(8, &ctx);
	EXPECT_EQ(1234, errno);
	EXPECT_EQ(-EFAULT, io_submit(ctx, 1, bad_ptr()));
	EXPECT_EQ(1234, errno);
	DESTROY_CTX(ctx);
	EXPECT_EQ(1234, errno);
}

/* ---- unknown contexts ---------------------------------------------------- */

TEST(null_ctx_EINVAL)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = ms(1);

	io_prep_pread(&cb, 0, &ev, 1, 0);
	EXPECT_EQ(-EINVAL, io_submit(NULL, 1, cbs));
	EXPECT_EQ(-EINVAL, io_getevents(NULL, 1, 1, &ev, &ts));
	EXPECT_EQ(-EINVAL, io_cancel(NULL, &cb, &ev));
	EXPECT_EQ(-EINVAL, io_destroy(NULL));
}

/* A page that looks like nothing; an unmapped page (never dereferenced). */
TEST(unknown_ctx_EINVAL)
{
	void *zeros = page_alloc(4096), *bad = bad_ptr();
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = ms(1);

	ASSERT_NE(NULL, zeros);
	io_prep_pread(&cb, 0, &ev, 1, 0);
	EXPECT_EQ(-EINVAL, io_submit(zeros, 1, cbs));
	EXPECT_EQ(-EINVAL, io_getevents(zeros, 1, 1, &ev, &ts));
	EXPECT_EQ(-EINVAL, io_destroy(zeros));
	/* libaio itself reads the ring header in io_getevents: not that one */
	EXPECT_EQ(-EINVAL, io_submit(bad, 1, cbs));
	EXPECT_EQ(-EINVAL, io_cancel(bad, &cb, &ev));
	EXPECT_EQ(-EINVAL, io_destroy(bad));
}

TEST(destroyed_ctx_EINVAL)
{
	io_context_t ctx = 0;
	struct iocb cb, *cbs[1] = { &cb };
	char buf[16];

	SETUP_CTX(8, &ctx);
	DESTROY_CTX(ctx);
	io_prep_pread(&cb, 0, buf, 1, 0);
	EXPECT_EQ(-EINVAL, io_submit(ctx, 1, cbs));
	EXPECT_EQ(-EINVAL, io_destroy(ctx));
}

/* ---- io_submit: errno parity ------------------------------------------------ */

FIXTURE(ctx) {
	io_context_t ctx;
	int file;		/* 64 KiB of pattern, seed 1 */
	int pipe[2];
	unsigned char *buf;	/* 64 KiB, page aligned */
};

FIXTURE_SETUP(ctx)
{
	self->ctx = 0;
	self->pipe[0] = self->pipe[1] = -1;
	SETUP_CTX(16, &self->ctx);
	self->file = make_file(65536, 1, 0);
	ASSERT_LE(0, self->file);
	ASSERT_EQ(0, pipe2(self->pipe, O_CLOEXEC | O_NONBLOCK));
	self->buf = page_alloc(65536);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(ctx)
{
	if (self->ctx)
		DESTROY_CTX(self->ctx);
}

/* The 6.1 harness runs the body even after SKIP() in FIXTURE_SETUP. */
#define SKIPPED_IN_SETUP() do { if (_metadata->skip) return; } while (0)

TEST_F(ctx, submit_nr_zero_returns_0)
{
	SKIPPED_IN_SETUP();
	EXPECT_EQ(0, io_submit(self->ctx, 0, NULL));
}

TEST_F(ctx, submit_nr_negative_EINVAL)
{
	struct iocb cb, *cbs[1] = { &cb };

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 4096, 0);
	EXPECT_EQ(-EINVAL, io_submit(self->ctx, -1, cbs));
}

TEST_F(ctx, submit_iocbpp_EFAULT)
{
	SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, io_submit(self->ctx, 1, bad_ptr()));
}

TEST_F(ctx, submit_iocb_EFAULT)
{
	struct iocb *cbs[1] = { bad_ptr() };

	SKIPPED_IN_SETUP();
	EXPECT_EQ(-EFAULT, io_submit(self->ctx, 1, cbs));
}

TEST_F(ctx, submit_closed_fd_EBADF)
{
	struct iocb cb, *cbs[1] = { &cb };
	int fd = dup(self->file);

	SKIPPED_IN_SETUP();
	ASSERT_LE(0, fd);
	close(fd);
	io_prep_pread(&cb, fd, self->buf, 4096, 0);
	EXPECT_EQ(-EBADF, io_submit(self->ctx, 1, cbs));
}

TEST_F(ctx, submit_read_of_write_only_fd_EBADF)
{
	struct iocb cb, *cbs[1] = { &cb };
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	SKIPPED_IN_SETUP();
	ASSERT_LE(0, fd);
	io_prep_pread(&cb, fd, self->buf, 4096, 0);
	EXPECT_EQ(-EBADF, io_submit(self->ctx, 1, cbs));
	close(fd);
}

TEST_F(ctx, submit_unknown_opcode_EINVAL)
{
	struct iocb cb, *cbs[1] = { &cb };

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 4096, 0);
	cb.aio_lio_opcode = 99;
	EXPECT_EQ(-EINVAL, io_submit(self->ctx, 1, cbs));
}

/* The second of a batch fails: the count of those queued, no errno. */
TEST_F(ctx, submit_partial_batch_returns_count)
{
	struct iocb cb[2], *cbs[2] = { &cb[0], &cb[1] };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb[0], self->file, self->buf, 4096, 0);
	io_prep_pread(&cb[1], -1, self->buf, 4096, 0);
	EXPECT_EQ(1, io_submit(self->ctx, 2, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(&cb[0], ev.obj);
	EXPECT_EQ(4096, ev.res);
}

/* Requests in flight plus unreaped events never exceed what was set up. */
TEST_F(ctx, submit_at_capacity_EAGAIN)
{
	struct iocb *cbs = calloc(100000, sizeof(*cbs));
	struct io_event ev;
	long n;
	int r = 0;

	SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, cbs);
	for (n = 0; n < 100000; n++) {
		struct iocb *p = &cbs[n];

		io_prep_poll(p, self->pipe[0], POLLIN);
		r = io_submit(self->ctx, 1, &p);
		if (r != 1)
			break;
	}
	TH_LOG("%ld polls in flight at %d", n, r);
	EXPECT_EQ(-EAGAIN, r);
	EXPECT_LE(16, n);
	/* a cancelled poll completes with res 0 */
	EXPECT_EQ(-EINPROGRESS, io_cancel(self->ctx, &cbs[0], &ev));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(&cbs[0], ev.obj);
	EXPECT_EQ(0, ev.res);
	/* io_destroy cancels the rest (teardown) */
}

/* ---- round trips ------------------------------------------------------------- */

TEST_F(ctx, pread_returns_file_data_and_event_fields)
{
	struct iocb cb[4], *cbs[4];
	struct io_event ev[4];
	int i;

	SKIPPED_IN_SETUP();
	for (i = 0; i < 4; i++) {
		io_prep_pread(&cb[i], self->file, self->buf + i * 8192, 8192,
			      i * 16384);
		cb[i].data = (void *)(uintptr_t)(1000 + i);
		cbs[i] = &cb[i];
	}
	ASSERT_EQ(4, io_submit(self->ctx, 4, cbs));
	ASSERT_EQ(4, wait_events(self->ctx, ev, 4));
	for (i = 0; i < 4; i++) {
		int k = (int)((uintptr_t)ev[i].data - 1000);

		ASSERT_TRUE(k >= 0 && k < 4);
		EXPECT_EQ(&cb[k], ev[i].obj);
		EXPECT_EQ(8192, ev[i].res);
		EXPECT_EQ(0, ev[i].res2);
		EXPECT_TRUE(check_pattern(self->buf + k * 8192, 8192, k * 16384, 1));
	}
}

TEST_F(ctx, pwrite_then_pread_round_trip)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	unsigned char *out = page_alloc(65536);

	SKIPPED_IN_SETUP();
	ASSERT_NE(NULL, out);
	for (int i = 0; i < 65536; i++)
		out[i] = (unsigned char)(i * 13 + 5);
	io_prep_pwrite(&cb, self->file, out, 65536, 0);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(65536, ev.res);
	io_prep_fdsync(&cb, self->file);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(0, ev.res);
	io_prep_pread(&cb, self->file, self->buf, 65536, 0);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(65536, ev.res);
	EXPECT_EQ(0, memcmp(out, self->buf, 65536));
}

TEST_F(ctx, pwritev_preadv_fsync_round_trip)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	unsigned char a[100], b[3000], c[996], r1[4096];
	struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec rv[2] = { { r1, 1000 }, { r1 + 1000, 3096 } };

	SKIPPED_IN_SETUP();
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	memset(c, 'c', sizeof(c));
	io_prep_pwritev(&cb, self->file, wv, 3, 8192);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(4096, ev.res);
	io_prep_fsync(&cb, self->file);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(0, ev.res);
	io_prep_preadv(&cb, self->file, rv, 2, 8192);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(0, memcmp(r1, a, 100));
	EXPECT_EQ(0, memcmp(r1 + 100, b, 3000));
	EXPECT_EQ(0, memcmp(r1 + 3100, c, 996));
}

/*
 * A buffered write's event is in the ring when io_submit() returns, as with
 * native AIO, where programs (libaio's own harness among them) reap it with
 * min_nr 0 at once: kaio's library asks kaio.ko for that unless
 * KAIO_COMPAT_ASYNC_WRITES=1. Parts of pages not in the page cache, so each
 * write must first read its page: kaio would leave that to a worker.
 */
TEST_F(ctx, buffered_writes_complete_in_io_submit)
{
	struct iocb cb[8], *cbs[8];
	struct io_event ev[8];
	unsigned char data[100], back[8192];
	int i, n;

	SKIPPED_IN_SETUP();
	if (env_is("KAIO_COMPAT_ASYNC_WRITES", "1"))
		SKIP(return, "KAIO_COMPAT_ASYNC_WRITES=1");
	memset(data, 0xab, sizeof(data));
	ASSERT_EQ(0, fsync(self->file));
	ASSERT_EQ(0, posix_fadvise(self->file, 0, 0, POSIX_FADV_DONTNEED));
	for (i = 0; i < 8; i++) {
		io_prep_pwrite(&cb[i], self->file, data, sizeof(data), i * 8192 + 10);
		cbs[i] = &cb[i];
	}
	ASSERT_EQ(8, io_submit(self->ctx, 8, cbs));
	n = io_getevents(self->ctx, 0, 8, ev, NULL);
	EXPECT_EQ(8, n);
	if (n >= 0 && n < 8)
		ASSERT_EQ(8 - n, wait_events(self->ctx, ev + n, 8 - n));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(sizeof(data), ev[i].res);
	ASSERT_EQ(sizeof(back), pread(self->file, back, sizeof(back), 8192));
	EXPECT_TRUE(check_pattern(back, 10, 8192, 1));
	EXPECT_EQ(0, memcmp(back + 10, data, sizeof(data)));
	EXPECT_TRUE(check_pattern(back + 110, sizeof(back) - 110, 8192 + 110, 1));
}

TEST_F(ctx, read_past_eof_is_short)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 8192, 65536 - 100);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(100, ev.res);
}

TEST(odirect_read_write_round_trip)
{
	io_context_t ctx = 0;
	struct iocb cb[8], *cbs[8];
	struct io_event ev[8];
	unsigned char *buf = page_alloc(8 * 4096);
	int fd = make_file(1 << 20, 3, O_DIRECT), i;

	if (fd == -EINVAL)
		SKIP(return, "%s takes no O_DIRECT", test_dir());
	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	SETUP_CTX(64, &ctx);
	for (i = 0; i < 8; i++) {
		io_prep_pread(&cb[i], fd, buf + i * 4096, 4096, i * 65536);
		cbs[i] = &cb[i];
	}
	ASSERT_EQ(8, io_submit(ctx, 8, cbs));
	ASSERT_EQ(8, wait_events(ctx, ev, 8));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(4096, ev[i].res);
		EXPECT_TRUE(check_pattern(buf + i * 4096, 4096, i * 65536, 3));
	}
	/* overwrite with another pattern and read it back */
	memset(buf, 0x5a, 4096);
	io_prep_pwrite(&cb[0], fd, buf, 4096, 4096);
	ASSERT_EQ(1, io_submit(ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(ctx, ev, 1));
	EXPECT_EQ(4096, ev[0].res);
	memset(buf, 0, 4096);
	io_prep_pread(&cb[0], fd, buf, 4096, 4096);
	ASSERT_EQ(1, io_submit(ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(ctx, ev, 1));
	EXPECT_EQ(4096, ev[0].res);
	EXPECT_EQ(0x5a, buf[0]);
	EXPECT_EQ(0x5a, buf[4095]);
	/* misaligned O_DIRECT: the error arrives in the event */
	io_prep_pread(&cb[0], fd, buf + 1, 4096, 0);
	ASSERT_EQ(1, io_submit(ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(ctx, ev, 1));
	EXPECT_EQ(-EINVAL, (long)ev[0].res);
	DESTROY_CTX(ctx);
}

/* ---- io_getevents, io_pgetevents ---------------------------------------------- */

TEST_F(ctx, getevents_events_EFAULT)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 4096, 0);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	usleep(100000);
	EXPECT_EQ(-EFAULT, io_getevents(self->ctx, 1, 1, bad_ptr(), NULL));
	/* the event was not lost */
	EXPECT_EQ(1, wait_events(self->ctx, &ev, 1));
}

TEST_F(ctx, getevents_min_nr_above_nr_EINVAL)
{
	struct io_event ev[2];
	struct timespec ts = ms(10);

	SKIPPED_IN_SETUP();
	EXPECT_EQ(-EINVAL, io_getevents(self->ctx, 2, 1, ev, &ts));
	EXPECT_EQ(-EINVAL, io_getevents(self->ctx, -1, 1, ev, &ts));
	EXPECT_EQ(-EINVAL, io_getevents(self->ctx, 2, 1, ev, NULL));
}

/* libaio's shortcut: a zero timeout on an empty ring returns 0 at once. */
TEST_F(ctx, getevents_zero_timeout_on_empty_ring_returns_0)
{
	struct io_event ev[2];
	struct timespec zero = { 0, 0 };

	SKIPPED_IN_SETUP();
	EXPECT_EQ(0, io_getevents(self->ctx, 1, 1, ev, &zero));
	/* even with arguments the system call would refuse */
	EXPECT_EQ(0, io_getevents(self->ctx, 2, 1, ev, &zero));
}

TEST_F(ctx, getevents_times_out)
{
	struct io_event ev;
	struct timespec ts = ms(50);
	double t0 = now_ms();

	SKIPPED_IN_SETUP();
	EXPECT_EQ(0, io_getevents(self->ctx, 1, 1, &ev, &ts));
	EXPECT_LE(45, now_ms() - t0);
}

static volatile sig_atomic_t signals;

static void count_signal(int sig)
{
	(void)sig;
	signals++;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* A signal ends a wait with EINTR, SA_RESTART or not, as io_getevents(2). */
TEST_F(ctx, getevents_signal_EINTR)
{
	struct itimerval it = { .it_value = { 0, 50000 } };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	handle(SIGALRM, 0);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, io_getevents(self->ctx, 1, 1, &ev, NULL));
	EXPECT_EQ(1, signals);
	handle(SIGALRM, SA_RESTART);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, io_getevents(self->ctx, 1, 1, &ev, NULL));
	EXPECT_EQ(2, signals);
}

struct kick {
	pthread_t target;
	int delay_ms;
};

static void *kick_thread(void *arg)
{
	struct kick *k = arg;

	usleep(k->delay_ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

TEST_F(ctx, pgetevents_returns_events)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = ms(10000);
	sigset_t mask;

	SKIPPED_IN_SETUP();
	sigemptyset(&mask);
	io_prep_pread(&cb, self->file, self->buf, 4096, 4096);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	EXPECT_EQ(1, io_pgetevents(self->ctx, 1, 1, &ev, &ts, &mask));
	EXPECT_EQ(4096, ev.res);
	/* a null mask: io_getevents */
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	EXPECT_EQ(1, io_pgetevents(self->ctx, 1, 1, &ev, &ts, NULL));
}

/* The mask lets in a signal the thread blocks: EINTR, mask back after. */
TEST_F(ctx, pgetevents_mask_unblocks_signal_EINTR)
{
	struct kick k = { pthread_self(), 100 };
	sigset_t block, wait_mask, now;
	struct io_event ev;
	pthread_t t;

	SKIPPED_IN_SETUP();
	handle(SIGUSR1, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &block, NULL));
	sigemptyset(&wait_mask);
	ASSERT_EQ(0, pthread_create(&t, NULL, kick_thread, &k));
	EXPECT_EQ(-EINTR, io_pgetevents(self->ctx, 1, 1, &ev, NULL, &wait_mask));
	pthread_join(t, NULL);
	EXPECT_EQ(1, signals);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, NULL, &now));
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
}

/* The mask blocks a signal: it neither ends the wait nor is lost. */
TEST_F(ctx, pgetevents_mask_blocks_signal)
{
	struct kick k = { pthread_self(), 50 };
	struct timespec ts = ms(300);
	sigset_t wait_mask;
	struct io_event ev;
	pthread_t t;

	SKIPPED_IN_SETUP();
	handle(SIGUSR1, 0);
	sigemptyset(&wait_mask);
	sigaddset(&wait_mask, SIGUSR1);
	ASSERT_EQ(0, pthread_create(&t, NULL, kick_thread, &k));
	EXPECT_EQ(0, io_pgetevents(self->ctx, 1, 1, &ev, &ts, &wait_mask));
	pthread_join(t, NULL);
	EXPECT_EQ(1, signals);
}

/* ---- io_cancel ------------------------------------------------------------------ */

TEST_F(ctx, cancel_never_submitted_EINVAL)
{
	struct iocb cb;
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 4096, 0);
	EXPECT_EQ(-EINVAL, io_cancel(self->ctx, &cb, &ev));
}

TEST_F(ctx, cancel_completed_EINVAL)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb, self->file, self->buf, 4096, 0);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(-EINVAL, io_cancel(self->ctx, &cb, &ev));
}

TEST_F(ctx, cancel_waiting_poll_EINPROGRESS_event_res_0)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_poll(&cb, self->pipe[0], POLLIN);
	cb.data = (void *)77;
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	EXPECT_EQ(-EINPROGRESS, io_cancel(self->ctx, &cb, &ev));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(&cb, ev.obj);
	EXPECT_EQ((void *)77, ev.data);
	EXPECT_EQ(0, ev.res);
}

TEST_F(ctx, poll_completes_with_ready_mask)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec zero = { 0, 0 };

	SKIPPED_IN_SETUP();
	io_prep_poll(&cb, self->pipe[0], POLLIN);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	EXPECT_EQ(0, io_getevents(self->ctx, 1, 1, &ev, &zero));
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_TRUE(ev.res & POLLIN);
}

/* ---- LIBAIO_0.1 and io_queue_* ------------------------------------------------ */

TEST_F(ctx, v01_getevents_waits_for_one)
{
	struct iocb cb[2], *cbs[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	struct timespec ts = ms(10000);
	int got, n = 0;

	SKIPPED_IN_SETUP();
	io_prep_pread(&cb[0], self->file, self->buf, 4096, 0);
	io_prep_pread(&cb[1], self->file, self->buf + 4096, 4096, 4096);
	ASSERT_EQ(2, io_submit(self->ctx, 2, cbs));
	while (n < 2) {
		got = io_getevents_v01(self->ctx, 2 - n, ev, &ts);
		ASSERT_LE(1, got);
		n += got;
	}
	EXPECT_EQ(2, n);
}

TEST_F(ctx, v01_cancel_poll_EINPROGRESS)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	SKIPPED_IN_SETUP();
	io_prep_poll(&cb, self->pipe[0], POLLIN);
	ASSERT_EQ(1, io_submit(self->ctx, 1, cbs));
	EXPECT_EQ(-EINPROGRESS, io_cancel_v01(self->ctx, &cb));
	ASSERT_EQ(1, wait_events(self->ctx, &ev, 1));
	EXPECT_EQ(0, ev.res);
}

/* io_queue_wait is io_getevents(ctx, 0, 0, NULL, timeout): nothing to wait for. */
TEST_F(ctx, queue_wait_returns_0)
{
	struct timespec ts = ms(10);

	SKIPPED_IN_SETUP();
	EXPECT_EQ(0, io_queue_wait_v04(self->ctx, &ts));
	EXPECT_EQ(0, io_queue_wait_v01(self->ctx, &ts));
}

struct seen {
	io_context_t ctx;
	int calls;
	int bad;
	long bytes;
};
static struct seen seen;

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	seen.calls++;
	if (ctx != seen.ctx || res2 != 0 || (void *)iocb->data != (void *)on_done)
		seen.bad++;
	if (iocb->aio_lio_opcode == IO_CMD_POLL)
		seen.bad += !(res & POLLIN);
	else
		seen.bytes += res;
}

/* io_queue_run calls each iocb's io_set_callback() callback. */
TEST_F(ctx, queue_run_calls_callbacks)
{
	struct iocb cb[9], *cbs[9];
	int i, tries;

	SKIPPED_IN_SETUP();
	seen = (struct seen){ .ctx = self->ctx };
	for (i = 0; i < 8; i++) {
		io_prep_pread(&cb[i], self->file, self->buf + i * 4096, 4096,
			      i * 4096);
		io_set_callback(&cb[i], on_done);
		cbs[i] = &cb[i];
	}
	io_prep_poll(&cb[8], self->pipe[0], POLLIN);
	io_set_callback(&cb[8], on_done);
	cbs[8] = &cb[8];
	ASSERT_EQ(9, io_submit(self->ctx, 9, cbs));
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	for (tries = 0; seen.calls < 9 && tries < 1000; tries++) {
		EXPECT_EQ(0, io_queue_run(self->ctx));
		if (seen.calls < 9)
			usleep(10000);
	}
	EXPECT_EQ(9, seen.calls);
	EXPECT_EQ(0, seen.bad);
	EXPECT_EQ(8 * 4096, seen.bytes);
	EXPECT_TRUE(check_pattern(self->buf, 8 * 4096, 0, 1));
	EXPECT_EQ(0, io_queue_run(self->ctx));
}

/* ---- the ring, reaped from user space ------------------------------------------- */

/* fio's user_io_getevents(): take events at head, then advance head. */
static int reap_ring(struct aio_ring *ring, struct io_event *ev, int max)
{
	int n = 0;

	while (n < max) {
		unsigned head = ring->head;

		if (head == __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE))
			break;
		ev[n++] = ring->io_events[head];
		__atomic_store_n(&ring->head, (head + 1) % ring->nr,
				 __ATOMIC_RELEASE);
	}
	return n;
}

/* Reap @n events from the ring only, waiting (bounded) for them. */
static int reap_ring_wait(struct aio_ring *ring, struct io_event *ev, int n)
{
	int got = 0;

	for (int i = 0; i < 10000 && got < n; i++) {
		got += reap_ring(ring, ev + got, n - got);
		if (got < n)
			usleep(1000);
	}
	return got;
}

static int submit_reads(io_context_t ctx, int fd, unsigned char *buf,
			struct iocb *cb, int n)
{
	struct iocb *cbs[n];

	for (int i = 0; i < n; i++) {
		io_prep_pread(&cb[i], fd, buf + i * 4096, 4096, i * 4096);
		cbs[i] = &cb[i];
	}
	return io_submit(ctx, n, cbs);
}

TEST_F(ctx, user_space_reaping)
{
	struct aio_ring *ring = (struct aio_ring *)self->ctx;
	struct iocb cb[8];
	struct io_event ev[8];
	struct timespec zero = { 0, 0 };

	SKIPPED_IN_SETUP();
	for (int round = 0; round < 5; round++) {
		ASSERT_EQ(8, submit_reads(self->ctx, self->file, self->buf, cb, 8));
		ASSERT_EQ(8, reap_ring_wait(ring, ev, 8));
		for (int i = 0; i < 8; i++)
			EXPECT_EQ(4096, ev[i].res);
		/* reaped: nothing left for io_getevents (its shortcut) */
		EXPECT_EQ(0, io_getevents(self->ctx, 1, 8, ev, &zero));
	}
	EXPECT_TRUE(check_pattern(self->buf, 8 * 4096, 0, 1));
}

/*
 * mremap() moves the ring (CRIU does it): the new address is the context
 * from then on, for the library and for user-space reaping; the old one is
 * no context any more.
 */
TEST_F(ctx, ring_moved_with_mremap_still_works)
{
	struct aio_ring *ring = (struct aio_ring *)self->ctx;
	io_context_t moved, old = self->ctx;
	struct iocb cb[8];
	struct io_event ev[8];
	size_t size;
	void *spot;

	SKIPPED_IN_SETUP();
	/* the ring's pages: header and nr events, rounded up */
	size = (ring->header_length + ring->nr * sizeof(struct io_event) +
		getpagesize() - 1) & ~(size_t)(getpagesize() - 1);
	spot = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spot);
	moved = mremap(self->ctx, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	ASSERT_EQ(spot, (void *)moved);
	self->ctx = moved;
	ring = (struct aio_ring *)moved;
	EXPECT_EQ(AIO_RING_MAGIC, ring->magic);
	/* through the library */
	ASSERT_EQ(8, submit_reads(moved, self->file, self->buf, cb, 8));
	ASSERT_EQ(8, wait_events(moved, ev, 8));
	/* from user space, at the new address */
	ASSERT_EQ(8, submit_reads(moved, self->file, self->buf, cb, 8));
	ASSERT_EQ(8, reap_ring_wait(ring, ev, 8));
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(4096, ev[i].res);
	EXPECT_TRUE(check_pattern(self->buf, 8 * 4096, 0, 1));
	/* the old address is nothing now (and unmapped) */
	EXPECT_EQ(-EINVAL, submit_reads(old, self->file, self->buf, cb, 1));
}

/* The ring's pages: header and nr events, rounded up (both AIOs). */
static size_t ring_bytes(io_context_t ctx)
{
	const struct aio_ring *ring = (const struct aio_ring *)ctx;
	size_t page = getpagesize();

	return (ring->header_length + ring->nr * sizeof(struct io_event) +
		page - 1) & ~(page - 1);
}

/*
 * mremap() the ring of @ctx to @to, or (@to NULL) to a new address: the new
 * context, or NULL. A new address may be one another ring just left.
 */
static io_context_t move_ring(io_context_t ctx, void *to)
{
	size_t size = ring_bytes(ctx);
	void *spot = to;

	if (!spot) {
		spot = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (spot == MAP_FAILED)
			return NULL;
	}
	if (mremap(ctx, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, spot) != spot)
		return NULL;
	return (io_context_t)spot;
}

/* One 4 KiB read of @fd (pattern @seed) on @ctx, checked: 0 or a step. */
static int read_one(io_context_t ctx, int fd, unsigned seed)
{
	unsigned char buf[4096];
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 8192);
	if (io_submit(ctx, 1, cbs) != 1)
		return 1;
	if (wait_events(ctx, &ev, 1) != 1 || ev.obj != &cb || ev.res != sizeof(buf))
		return 2;
	return check_pattern(buf, sizeof(buf), 8192, seed) ? 0 : 3;
}

/*
 * One 4 KiB read submitted on @ctx through the library, its event reaped
 * from the ring mapped at @ctx in user space: 0 only if the request went to
 * the context whose ring is at @ctx now (misrouted to another context, the
 * event lands in that one's ring); else a step.
 */
static int read_in_ring(io_context_t ctx, int fd, unsigned seed)
{
	unsigned char buf[4096];
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 8192);
	if (io_submit(ctx, 1, cbs) != 1)
		return 1;
	if (reap_ring_wait((struct aio_ring *)ctx, &ev, 1) != 1)
		return 2;
	if (ev.obj != &cb || ev.res != sizeof(buf))
		return 3;
	return check_pattern(buf, sizeof(buf), 8192, seed) ? 0 : 4;
}

/*
 * kaio and native contexts in one process (kaio's library, native AIO asked
 * for with KAIO_COMPAT_BACKEND=native for some): each call reaches its own
 * AIO, also after mremap() moved the rings onto addresses the library had
 * for the other kind. A native ring's header looks like a kaio ring's, and
 * one carries as its id the number of the kaio context's fd (the "twin"):
 * nothing in the ring tells them apart, the library has to know.
 *   kaio_onto_native_*: the twin moves away, the kaio ring moves to the
 *     address the twin left (the library still has it as the twin's);
 *     the moved rings are used in one order or the other;
 *   native_onto_kaio: the kaio ring moves away, the twin moves to the
 *     address the kaio ring left (the library still has it as kaio's), and
 *     is used there before the kaio ring is at its new address.
 */
enum side_by_side { KAIO_ONTO_NATIVE_KAIO_FIRST, KAIO_ONTO_NATIVE_NATIVE_FIRST,
		    NATIVE_ONTO_KAIO };

static void side_by_side(struct __test_metadata *_metadata, enum side_by_side how)
{
	enum { N = 32 };
	io_context_t nat[N], k = 0, home_n, home_k, moved_n, moved_k;
	char name[PATH_MAX];
	int fd = make_file(65536, 5, 0), twin = -1, i;
	unsigned kid;

	if (!libdir || native)
		SKIP(return, "kaio's library on kaio only");
	NEED_KERNEL();
	ASSERT_LE(0, fd);
	setenv("KAIO_COMPAT_BACKEND", "native", 1);
	for (i = 0; i < N; i++) {
		nat[i] = 0;
		ASSERT_EQ(0, io_setup(2, &nat[i]));
	}
	unsetenv("KAIO_COMPAT_BACKEND");
	ASSERT_EQ(0, io_setup(2, &k));
	/* native ids count from 0, kaio's id is its fd: find the twin */
	kid = ((struct aio_ring *)k)->id;
	for (i = 0; i < N; i++)
		if (((struct aio_ring *)nat[i])->id == kid)
			twin = i;
	TH_LOG("kaio context fd %u, native context %d has that id", kid, twin);
	ASSERT_LE(0, twin);
	mapping_name(k, name, sizeof(name));
	EXPECT_STREQ(KAIO_RING_NAME, name);
	mapping_name(nat[twin], name, sizeof(name));
	EXPECT_STREQ(NATIVE_RING_NAME, name);
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, read_in_ring(nat[i], fd, 5));
	ASSERT_EQ(0, read_in_ring(k, fd, 5));

	home_n = nat[twin];
	home_k = k;
	/* each ring must fit the other's place exactly */
	ASSERT_EQ(ring_bytes(home_n), ring_bytes(home_k));
	if (how == NATIVE_ONTO_KAIO) {
		moved_k = move_ring(home_k, NULL);
		ASSERT_NE(NULL, moved_k);
		moved_n = move_ring(home_n, home_k);
		ASSERT_EQ(home_k, moved_n);
		/* the twin where the library had the kaio ring: native's now */
		EXPECT_EQ(0, read_in_ring(moved_n, fd, 5));
		EXPECT_EQ(0, read_in_ring(moved_k, fd, 5));
		EXPECT_EQ(0, read_in_ring(moved_n, fd, 5));
	} else {
		moved_n = move_ring(home_n, NULL);
		ASSERT_NE(NULL, moved_n);
		moved_k = move_ring(home_k, home_n);
		ASSERT_EQ(home_n, moved_k);
		/* the kaio ring where the library had the twin: kaio's now */
		if (how == KAIO_ONTO_NATIVE_NATIVE_FIRST)
			EXPECT_EQ(0, read_in_ring(moved_n, fd, 5));
		EXPECT_EQ(0, read_in_ring(moved_k, fd, 5));
		EXPECT_EQ(0, read_in_ring(moved_n, fd, 5));
		EXPECT_EQ(0, read_in_ring(moved_k, fd, 5));
	}
	mapping_name(moved_k, name, sizeof(name));
	EXPECT_STREQ(KAIO_RING_NAME, name);
	mapping_name(moved_n, name, sizeof(name));
	EXPECT_STREQ(NATIVE_RING_NAME, name);
	/* through the library's own reaping too */
	EXPECT_EQ(0, read_one(moved_k, fd, 5));
	EXPECT_EQ(0, read_one(moved_n, fd, 5));
	/* the old address that no ring took is no context now */
	EXPECT_EQ(-EINVAL, io_destroy(how == NATIVE_ONTO_KAIO ? home_n : home_k));
	EXPECT_EQ(0, io_destroy(moved_k));
	EXPECT_EQ(0, io_destroy(moved_n));
	EXPECT_EQ(-EINVAL, io_destroy(moved_k));
	for (i = 0; i < N; i++)
		if (i != twin)
			EXPECT_EQ(0, io_destroy(nat[i]));
	close(fd);
}

TEST(kaio_onto_native_kaio_used_first)
{
	side_by_side(_metadata, KAIO_ONTO_NATIVE_KAIO_FIRST);
}

TEST(kaio_onto_native_native_used_first)
{
	side_by_side(_metadata, KAIO_ONTO_NATIVE_NATIVE_FIRST);
}

TEST(native_onto_kaio)
{
	side_by_side(_metadata, NATIVE_ONTO_KAIO);
}

/* ---- processes, threads, many contexts --------------------------------------- */

/* A forked child gets EINVAL for its parent's context, and may make its own. */
TEST_F(ctx, fork_child_gets_EINVAL_for_parents_ctx)
{
	struct iocb cb[2];
	struct io_event ev[2];
	pid_t pid;
	int status;

	SKIPPED_IN_SETUP();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct timespec ts = ms(100);
		io_context_t mine = 0;

		if (submit_reads(self->ctx, self->file, self->buf, cb, 1) != -EINVAL)
			_exit(10);
		if (io_getevents(self->ctx, 1, 1, ev, &ts) != -EINVAL)
			_exit(11);
		if (io_cancel(self->ctx, &cb[0], ev) != -EINVAL)
			_exit(12);
		if (io_destroy(self->ctx) != -EINVAL)
			_exit(13);
		if (io_setup(4, &mine) != 0)
			_exit(14);
		if (submit_reads(mine, self->file, self->buf, cb, 2) != 2 ||
		    wait_events(mine, ev, 2) != 2 || ev[0].res != 4096)
			_exit(15);
		if (io_destroy(mine) != 0)
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* the parent's context is untouched */
	ASSERT_EQ(2, submit_reads(self->ctx, self->file, self->buf, cb, 2));
	ASSERT_EQ(2, wait_events(self->ctx, ev, 2));
}

/* More contexts than the library's first table holds, all in use at once. */
TEST(many_contexts)
{
	enum { N = 300 };
	static io_context_t ctx[N];
	struct iocb cb[N], *p;
	struct io_event ev;
	unsigned char *buf = page_alloc(N * 64);
	int fd = make_file(4096, 9, 0), i;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < N; i++) {
		if (i == 0)
			SETUP_CTX(2, &ctx[i]);
		else
			ASSERT_EQ(0, io_setup(2, &ctx[i]));
	}
	for (i = 0; i < N; i++) {
		p = &cb[i];
		io_prep_pread(p, fd, buf + i * 64, 64, i);
		ASSERT_EQ(1, io_submit(ctx[i], 1, &p));
	}
	for (i = 0; i < N; i++) {
		ASSERT_EQ(1, wait_events(ctx[i], &ev, 1));
		ASSERT_EQ(&cb[i], ev.obj);
		ASSERT_EQ(64, ev.res);
	}
	EXPECT_TRUE(check_pattern(buf, 64, 0, 9));
	EXPECT_TRUE(check_pattern(buf + (N - 1) * 64, 64, N - 1, 9));
	EXPECT_NATIVE_AIO_UNUSED();
	for (i = 0; i < N; i += 2)
		ASSERT_EQ(0, io_destroy(ctx[i]));
	for (i = 1; i < N; i += 2) {
		p = &cb[i];
		ASSERT_EQ(1, io_submit(ctx[i], 1, &p));
		ASSERT_EQ(1, wait_events(ctx[i], &ev, 1));
		ASSERT_EQ(0, io_destroy(ctx[i]));
	}
	EXPECT_EQ(-EINVAL, io_destroy(ctx[0]));
}

struct churn {
	int fd;
	int failures;
};

/* Set up, use and destroy contexts over and over, in several threads. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	unsigned char buf[4 * 4096];
	struct iocb cb[4];
	struct io_event ev[4];

	for (int i = 0; i < 50; i++) {
		io_context_t ctx = 0;

		if (io_setup(8, &ctx) != 0 ||
		    submit_reads(ctx, c->fd, buf, cb, 4) != 4 ||
		    wait_events(ctx, ev, 4) != 4 || ev[3].res != 4096 ||
		    io_destroy(ctx) != 0)
			c->failures++;
	}
	return NULL;
}

TEST(threads_set_up_use_and_destroy_contexts)
{
	enum { T = 4 };
	struct churn c[T];
	pthread_t t[T];
	io_context_t probe = 0;
	int fd = make_file(16384, 2, 0);

	ASSERT_LE(0, fd);
	SETUP_CTX(1, &probe);
	for (int i = 0; i < T; i++) {
		c[i] = (struct churn){ .fd = fd };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, churn_thread, &c[i]));
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, c[i].failures);
	}
	DESTROY_CTX(probe);
}

/* ---- kaio only: what the context's counters show ------------------------------ */

static long fdinfo_counter(unsigned fd, const char *name)
{
	char path[64], line[128];
	size_t len = strlen(name);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%u", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

TEST_F(ctx, kaio_fdinfo_counters_move)
{
	struct aio_ring *ring = (struct aio_ring *)self->ctx;
	struct iocb cb[8];
	struct io_event ev[8];
	long submitted, completed;

	SKIPPED_IN_SETUP();
	if (native)
		SKIP(return, "kaio only");
	submitted = fdinfo_counter(ring->id, "submitted");
	completed = fdinfo_counter(ring->id, "completed");
	ASSERT_LE(0, submitted);
	ASSERT_LE(0, completed);
	ASSERT_EQ(8, submit_reads(self->ctx, self->file, self->buf, cb, 8));
	ASSERT_EQ(8, wait_events(self->ctx, ev, 8));
	EXPECT_EQ(submitted + 8, fdinfo_counter(ring->id, "submitted"));
	EXPECT_EQ(completed + 8, fdinfo_counter(ring->id, "completed"));
	EXPECT_EQ(0, fdinfo_counter(ring->id, "in_flight"));
}

TEST_HARNESS_MAIN
