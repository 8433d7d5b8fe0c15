// SPDX-License-Identifier: GPL-2.0
/*
 * Limits: contexts in total and per user, the pinned-memory budget, the
 * module parameters' own validation and the device node's mode. Each test
 * lowers a limit through /sys/module/kaio/parameters and restores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

/* One "name:\tvalue" line of /sys/kernel/debug/kaio/stats, or -1. */
static long long debugfs_value(const char *name)
{
	char line[128];
	long long v = -1;
	size_t n = strlen(name);
	FILE *f = fopen("/sys/kernel/debug/kaio/stats", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Written and synced, then dropped from the page cache: reads are cold. */
static int drop_cache(int fd)
{
	if (fsync(fd))
		return -errno;
	return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int setup_ctx(int dev)
{
	struct kaio_setup s = { .nr_events = 1 };

	return kaio_setup_raw(dev, &s);
}

/* Lowers one parameter for a test and puts the old value back. */
FIXTURE(param) {
	int dev;
	char name[64];
	char saved[64];
	int fds[8];
	int nfds;
};

FIXTURE_SETUP(param)
{
	self->nfds = 0;
	self->name[0] = '\0';
	KAIO_DEV_OPEN(self->dev);
}

FIXTURE_TEARDOWN(param)
{
	while (self->nfds > 0)
		close(self->fds[--self->nfds]);
	if (self->name[0])
		kaio_param_write(self->name, self->saved);
	if (self->dev >= 0)
		close(self->dev);
}

static int lower(struct _test_data_param *self, const char *name,
		 const char *value)
{
	int ret;

	snprintf(self->name, sizeof(self->name), "%s", name);
	ret = kaio_param_read(name, self->saved, sizeof(self->saved));
	if (ret) {
		self->name[0] = '\0';
		return ret;
	}
	return kaio_param_write(name, value);
}

TEST_F(param, max_user_contexts_EAGAIN_then_freed_by_close)
{
	int i;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, lower(self, "max_user_contexts", "3"));
	for (i = 0; i < 3; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	EXPECT_EQ(-EAGAIN, setup_ctx(self->dev));
	close(self->fds[--self->nfds]);
	self->fds[self->nfds] = setup_ctx(self->dev);
	ASSERT_LE(0, self->fds[self->nfds]);
	self->nfds++;
}

/* The count is per user: another uid is not held back by root's. */
TEST_F(param, max_user_contexts_counts_each_user_apart)
{
	int status, i;
	pid_t pid;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, lower(self, "max_user_contexts", "2"));
	for (i = 0; i < 2; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	ASSERT_EQ(-EAGAIN, setup_ctx(self->dev));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int dev, fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		dev = open("/dev/kaio", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			_exit(3);
		fd = setup_ctx(dev);
		_exit(fd >= 0 ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(param, max_contexts_EAGAIN)
{
	long long open_now = debugfs_value("contexts");
	char value[24];
	int i;

	KAIO_SKIPPED_IN_SETUP();
	/* Contexts of other programs may be open: count from what is. */
	ASSERT_LE(0, open_now);		/* -1: no debugfs file */
	snprintf(value, sizeof(value), "%lld", open_now + 2);
	ASSERT_EQ(0, lower(self, "max_contexts", value));
	for (i = 0; i < 2; i++) {
		self->fds[self->nfds] = setup_ctx(self->dev);
		ASSERT_LE(0, self->fds[self->nfds]);
		self->nfds++;
	}
	EXPECT_EQ(-EAGAIN, setup_ctx(self->dev));
}

TEST_F(param, zero_contexts_limit_refused_EINVAL)
{
	char before[64], after[64];

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, kaio_param_read("max_contexts", before, sizeof(before)));
	EXPECT_EQ(-EINVAL, kaio_param_write("max_contexts", "0"));
	EXPECT_EQ(-EINVAL, kaio_param_write("max_user_contexts", "0"));
	ASSERT_EQ(0, kaio_param_read("max_contexts", after, sizeof(after)));
	EXPECT_STREQ(before, after);
}

/* A buffer larger than the whole pinned-memory budget can never fit. */
TEST_F(param, read_larger_than_pin_budget_ENOMEM)
{
	size_t big = 2 << 20, small = 256 << 10;
	char path[256];
	struct io_event ev;
	struct kaio_ctx c;
	struct iocb cb;
	char *buf;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	ASSERT_EQ(0, kaio_make_file(kaio_test_dir(), path, sizeof(path),
				    big, 7));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	unlink(path);
	buf = kaio_alloc(big);
	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, lower(self, "max_pinned_mb", "1"));

	kaio_prep_pread(&cb, fd, buf, big, 0);
	EXPECT_EQ(-ENOMEM, kaio_submit_one(c.fd, &cb));
	kaio_prep_pread(&cb, fd, buf, small, 0);
	ASSERT_EQ(1, kaio_submit_one(c.fd, &cb));
	ASSERT_EQ(1, kaio_wait(c.fd, &ev, 1, 10000));
	EXPECT_EQ((long long)small, ev.res);
	EXPECT_EQ(-1, kaio_check(buf, small, 7, 0));
	kaio_ctx_close(&c);
	close(fd);
}

/* Requests in flight hold the budget: the next one waits its turn. */
TEST_F(param, pin_budget_held_by_requests_in_flight_EAGAIN)
{
	const size_t each = 256 << 10;	/* 64 pages; 4 fill 1 MiB */
	struct iocb cbs[5], *ptrs[5];
	struct io_event ev[5];
	const char *dir;
	struct kaio_ctx c;
	char path[256];
	char *buf;
	int fd, i;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	ASSERT_EQ(0, kaio_make_file(dir, path, sizeof(path), 5 * each, 9));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, drop_cache(fd));
	buf = kaio_alloc(5 * each);
	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, lower(self, "max_pinned_mb", "1"));

	for (i = 0; i < 5; i++) {
		kaio_prep_pread(&cbs[i], fd, buf + i * each, each, i * each);
		ptrs[i] = &cbs[i];
	}
	/* Cold reads of a 20 ms device: all four are still in flight. */
	EXPECT_EQ(4, kaio_submit(c.fd, 5, ptrs));
	ASSERT_EQ(4, kaio_wait(c.fd, ev, 4, 20000));
	for (i = 0; i < 4; i++)
		EXPECT_EQ((long long)each, ev[i].res);
	/* Their budget is back once they are done. */
	ASSERT_EQ(1, kaio_submit_one(c.fd, &cbs[4]));
	ASSERT_EQ(1, kaio_wait(c.fd, ev, 1, 20000));
	EXPECT_EQ((long long)each, ev[0].res);
	EXPECT_EQ(-1, kaio_check(buf, 5 * each, 9, 0));
	kaio_ctx_close(&c);
	close(fd);
	EXPECT_EQ(0, debugfs_value("pinned_pages_reserved"));
}

TEST(dev_node_mode_is_dev_mode_parameter)
{
	char value[16];
	struct stat sb;

	if (stat("/dev/kaio", &sb))
		SKIP(return, "/dev/kaio not available");
	ASSERT_EQ(0, kaio_param_read("dev_mode", value, sizeof(value)));
	EXPECT_EQ(strtoul(value, NULL, 0), sb.st_mode & 07777);
	EXPECT_EQ(0666, sb.st_mode & 07777);	/* the default */
	EXPECT_TRUE(S_ISCHR(sb.st_mode));
}

TEST_HARNESS_MAIN
