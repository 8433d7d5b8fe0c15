// SPDX-License-Identifier: GPL-2.0
/* The harness of ptap.h and the suite's helpers. */
#define _GNU_SOURCE
#include "ptap.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct ptest *tests, **tail = &tests;
int ptest_failed;
/* Shared with the parent: why a test skipped or failed expectedly. */
static char *reason;
#define REASON_LEN 512

void ptest_register(struct ptest *t)
{
	*tail = t;
	tail = &t->next;
}

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

void ptest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# %s:%d: ", file, line);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
	ptest_failed = 1;
}

void ptest_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, REASON_LEN, fmt, ap);
	va_end(ap);
	fflush(stdout);
	_exit(4);
}

void ptest_xfail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, REASON_LEN, fmt, ap);
	va_end(ap);
	diag("known difference of this backend (XFAIL): %s", reason);
	fflush(stdout);
	_exit(3);
}

int backend_is_kaio(void)
{
	const char *b = getenv("POSIX_AIO_BACKEND");

	return b && !strcmp(b, "kaio");
}

double tscale(double secs)
{
	const char *s = getenv("POSIX_AIO_TIME_SCALE");
	double f = s ? atof(s) : 1.0;

	return secs * (f > 0 ? f : 1.0);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *dir(void)
{
	const char *d = getenv("POSIX_AIO_DIR");

	if (!d || !*d)
		d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

unsigned char pattern(off_t off)
{
	return (unsigned char)(off * 131 + off / 4099 + 7);
}

void fill_pattern(void *buf, off_t off, size_t len)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = pattern(off + i);
}

long check_pattern(const void *buf, off_t off, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			return i;
	return -1;
}

int named_file(char *path, size_t len, size_t size, int flags)
{
	static int seq;
	int fd;

	snprintf(path, len, "%s/posix-aio.%d.%d", dir(), getpid(), seq++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	if (size) {
		char buf[65536];

		for (size_t off = 0; off < size; off += sizeof(buf)) {
			size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

			fill_pattern(buf, off, n);
			REQUIRE(pwrite(fd, buf, n, off) == (ssize_t)n, "fill: %s", strerror(errno));
		}
	}
	close(fd);
	fd = open(path, flags);
	REQUIRE(fd >= 0, "reopen %s: %s", path, strerror(errno));
	return fd;
}

int pattern_file(size_t size, int flags)
{
	char path[4096];
	int fd = named_file(path, sizeof(path), size, flags);

	unlink(path);
	return fd;
}

int empty_file(int flags)
{
	return pattern_file(0, flags);
}

void aiocb_init(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = n;
	cb->aio_offset = off;
	cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

int wait_done(const struct aiocb *cb, double limit)
{
	double end = now() + tscale(limit);
	const struct aiocb *list[1] = { cb };

	while (aio_error(cb) == EINPROGRESS) {
		struct timespec ts = { 0, 100000000 };

		if (now() > end) {
			ptest_fail(__FILE__, __LINE__, "request %p not done after %.0fs",
				   (void *)cb, tscale(limit));
			return -1;
		}
		if (aio_suspend(list, 1, &ts) && errno != EAGAIN && errno != EINTR) {
			ptest_fail(__FILE__, __LINE__, "aio_suspend: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

ssize_t pread_all(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, off + done);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/* Run one test in a child; print its TAP line. Returns 1 if it failed. */
static int run(struct ptest *t, int num, double limit)
{
	pid_t pid;
	int status = 0;
	double end;

	fflush(stdout);
	reason[0] = 0;
	pid = fork();
	if (pid < 0) {
		printf("not ok %d %s # fork: %s\n", num, t->name, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		ptest_failed = 0;
		t->fn();
		fflush(stdout);
		_exit(ptest_failed ? 1 : 0);
	}
	end = now() + limit;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (now() > end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("# %s: still running after %.0fs; killed\n", t->name, limit);
			printf("not ok %d %s\n", num, t->name);
			return 1;
		}
		msleep(10);
	}
	/* Whatever the test left behind in its group (a forked child). */
	kill(-pid, SIGKILL);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %d %s\n", num, t->name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 4) {
		printf("ok %d %s # SKIP %s\n", num, t->name, reason);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		printf("ok %d %s # XFAIL %s\n", num, t->name, reason);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("# %s: killed by signal %d (%s)\n", t->name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	printf("not ok %d %s\n", num, t->name);
	return 1;
}

/* Usage: PROGRAM [GLOB...]: only the tests whose names match a glob. */
int main(int argc, char **argv)
{
	int n = 0, num = 0, failed = 0;
	double limit = tscale(30);

	reason = mmap(NULL, REASON_LEN, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (reason == MAP_FAILED)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			printf("1..%d\n", n);
		for (struct ptest *t = tests; t; t = t->next) {
			int match = argc < 2;

			for (int i = 1; i < argc; i++)
				match |= !fnmatch(argv[i], t->name, 0);
			if (!match)
				continue;
			if (pass == 0)
				n++;
			else
				failed += run(t, ++num, limit);
		}
	}
#ifdef _FILE_OFFSET_BITS
	int bits = _FILE_OFFSET_BITS;
#else
	int bits = 0;
#endif
	printf("# %d of %d failed (backend %s, _FILE_OFFSET_BITS %d)\n", failed, n,
	       backend_is_kaio() ? "kaio" : "glibc", bits);
	return failed ? 1 : 0;
}
