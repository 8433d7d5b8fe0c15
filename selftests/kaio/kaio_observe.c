// SPDX-License-Identifier: GPL-2.0
/*
 * Observability of the retry engine from outside the process:
 * /sys/kernel/debug/kaio/stats (the fdinfo counters summed over every
 * context since load, plus the open contexts and reserved events) and the
 * tracepoints in events/kaio/ (kaio_submit, kaio_arm, kaio_wake, kaio_retry,
 * kaio_punt, kaio_complete), whose every line names the request and its iocb
 * so one request can be followed through them.
 *
 * Both are part of the module's interface: a missing file is a failure, not
 * a skip.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

#define SEED		0x0b5e7u
#define WAIT_MS		30000

/* The eleven request counters, by name, for the comparisons below. */
#define FOR_EACH_COUNTER(X)						\
	X(submitted) X(completed) X(inlined) X(async) X(page_wait_arms)	\
	X(wakeups) X(retries) X(retries_in_task) X(retries_requeued)	\
	X(worker) X(cancelled)

TEST(module_stats_lists_every_counter)
{
	struct t_stats g;
	int fd;

	KAIO_DEV_OPEN(fd);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g))
		TH_LOG("%s: %s", KAIO_DEBUGFS_STATS, strerror(errno));
	t_stats_log("module", &g);
#define PRESENT(f) EXPECT_LE(0, g.f) TH_LOG("%s missing", #f);
	FOR_EACH_COUNTER(PRESENT)
	PRESENT(contexts)
	PRESENT(events_reserved)
#undef PRESENT
	close(fd);
}

/*
 * A context's work shows in the module-wide totals: after it, each total has
 * grown by at least what the context's own counters say (other contexts may
 * add to them). The context counts in `contexts` while it is open and its
 * events in `events_reserved`; both go back when it is closed.
 */
TEST(module_stats_grow_by_at_least_the_contexts_counters)
{
	enum { NR = 8 };
	struct t_stats g0, gopen, g1, g2, gd, c0, c1;
	struct iocb cbs[NR + 4], *ptrs[NR + 4];
	struct io_event ev[NR + 4];
	struct t_ctx c;
	char path[PATH_MAX];
	const char *dir, *raw;
	char *buf = t_alloc((NR + 4) * 4096);
	int fd, rawfd, wfd, i, n = 0;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_ENV_OR_SKIP(raw, "KAIO_RAW_DEV");
	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 4 << 20, SEED));
	fd = open(path, O_RDONLY);
	wfd = open(path, O_WRONLY);
	unlink(path);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, t_drop_file_cache(fd));
	rawfd = open(raw, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, rawfd);

	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g0))
		TH_LOG("%s: %s", KAIO_DEBUGFS_STATS, strerror(errno));
	KAIO_CTX_INIT(&c, 32, 0);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &gopen));
	EXPECT_EQ(g0.contexts + 1, gopen.contexts);
	EXPECT_LE(32, gopen.events_reserved - g0.events_reserved);
	EXPECT_GE(c.cap, gopen.events_reserved - g0.events_reserved);
	ASSERT_EQ(0, t_ctx_stats(c.fd, &c0));
	EXPECT_EQ(0, c0.submitted);

	/* cold reads (page waits, retries), O_DIRECT (async), a buffered ext4
	 * write (worker), a NOOP (inline) */
	for (i = 0; i < NR; i++, n++)
		t_prep_pread(&cbs[n], fd, buf + n * 4096, 4096, i * (512 << 10));
	t_prep_pread(&cbs[n], rawfd, buf + n * 4096, 4096, 1 << 20);
	n++;
	t_fill(buf + n * 4096, 4096, SEED, 0);
	t_prep_pwrite(&cbs[n], wfd, buf + n * 4096, 4096, 0);
	n++;
	t_prep_noop(&cbs[n], c.nullfd);
	n++;
	for (i = 0; i < n; i++) {
		cbs[i].aio_data = i;
		ptrs[i] = &cbs[i];
	}
	ASSERT_EQ(n, t_submit(c.fd, n, ptrs));
	/* and one to cancel, if it is still waiting */
	t_cancel(c.fd, &cbs[NR - 1]);
	ASSERT_EQ(n, t_wait(c.fd, ev, n, WAIT_MS));
	for (i = 0; i < n; i++)
		EXPECT_TRUE(ev[i].res == 4096 || ev[i].res == 0 ||
			    ev[i].res == -ECANCELED)
			TH_LOG("iocb %llu: res %lld", ev[i].data, ev[i].res);
	/* DESTROY waits until every request has counted everything */
	ASSERT_EQ(0, t_destroy(c.fd));
	ASSERT_EQ(0, t_ctx_stats(c.fd, &c1));
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g1));
	gd = t_stats_sub(&g1, &g0);
	t_stats_log("context", &c1);
	t_stats_log("module delta", &gd);
	EXPECT_EQ(n, c1.submitted);
	EXPECT_EQ(n, c1.completed);
#define GREW(f) EXPECT_LE(c1.f, gd.f) \
	TH_LOG("%s: context %lld, module %lld", #f, c1.f, gd.f);
	FOR_EACH_COUNTER(GREW)
#undef GREW

	t_ctx_close(&c);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g2));
	EXPECT_EQ(g0.contexts, g2.contexts);
	EXPECT_EQ(g0.events_reserved, g2.events_reserved);
	close(fd);
	close(wfd);
	close(rawfd);
}

/* ---- tracepoints ---------------------------------------------------------- */

FIXTURE(trace) {
	char root[64];		/* tracefs */
	char saved_on[16];
	char saved_clock[32];
	bool touched;
};

/* O_TRUNC: writing "" to "trace" empties the buffer. */
/* One "name:\tvalue" line of the context's fdinfo; -1 if not listed. */
static long long fdinfo_value(int ctxfd, const char *name)
{
	char path[64], line[256], key[128];
	long long v, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ctxfd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127[^:]:%lld", key, &v) == 2 &&
		    !strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/*
 * fdinfo counts submissions per opcode by the op table's names, one line
 * for every opcode SETUP reports; a submission that fails counts nowhere.
 */
TEST(fdinfo_counts_submissions_per_opcode_by_name)
{
	static const char *const names[64] = {
		[IOCB_CMD_PREAD] = "submitted_PREAD",
		[IOCB_CMD_PWRITE] = "submitted_PWRITE",
		[IOCB_CMD_FSYNC] = "submitted_FSYNC",
		[IOCB_CMD_FDSYNC] = "submitted_FDSYNC",
		[IOCB_CMD_POLL] = "submitted_POLL",
		[IOCB_CMD_NOOP] = "submitted_NOOP",
		[IOCB_CMD_PREADV] = "submitted_PREADV",
		[IOCB_CMD_PWRITEV] = "submitted_PWRITEV",
	};
	struct iocb noop[2], read, bad;
	struct iocb *cbs[] = { &noop[0], &noop[1], &read };
	struct io_event ev[3];
	char *buf = t_alloc(4096);
	struct t_ctx c;
	unsigned int op;
	int fd;

	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_NE(0, c.s.features & KAIO_FEAT_OPCODES);
	fd = open("/proc/self/exe", O_RDONLY);
	ASSERT_LE(0, fd);
	t_prep_noop(&noop[0], -1);
	t_prep_noop(&noop[1], -1);
	t_prep_pread(&read, fd, buf, 4096, 0);
	ASSERT_EQ(3, t_submit(c.fd, 3, cbs));
	ASSERT_EQ(3, t_wait(c.fd, ev, 3, WAIT_MS));
	t_prep_pread(&bad, -1, buf, 4096, 0);
	EXPECT_EQ(-EBADF, t_submit_one(c.fd, &bad));

	for (op = 0; op < 64; op++) {
		bool listed = c.s.opcodes & (1ULL << op);
		long long want = op == IOCB_CMD_NOOP ? 2 :
				 op == IOCB_CMD_PREAD ? 1 : 0;

		if (!names[op]) {
			EXPECT_FALSE(listed);
			continue;
		}
		EXPECT_TRUE(listed) TH_LOG("%s", names[op]);
		EXPECT_EQ(want, fdinfo_value(c.fd, names[op]))
			TH_LOG("%s", names[op]);
	}
	close(fd);
	t_ctx_close(&c);
}

static int put(const char *root, const char *file, const char *val)
{
	return t_write_file(root, file, val, O_TRUNC | O_CLOEXEC);
}

static bool exists(const char *root, const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, file);
	return !access(path, F_OK);
}

FIXTURE_SETUP(trace)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char *clock, *b, *e;
	unsigned int i;
	int fd;

	self->touched = false;
	self->root[0] = 0;
	/* tracefs is part of the test rig; mount it if /init did not */
	if (!exists(roots[0], "trace"))
		mount("tracefs", roots[0], "tracefs", 0, NULL);
	for (i = 0; i < 2 && !self->root[0]; i++)
		if (exists(roots[i], "trace"))
			snprintf(self->root, sizeof(self->root), "%s", roots[i]);
	if (!self->root[0])
		SKIP(return, "no tracefs");
	KAIO_DEV_OPEN(fd);	/* the module is loaded */
	close(fd);
	ASSERT_TRUE(exists(self->root, "events/kaio"))
		TH_LOG("%s/events/kaio missing: kaio has no tracepoints",
		       self->root);
	b = t_read_whole(self->root, "tracing_on");
	ASSERT_NE(NULL, b);
	snprintf(self->saved_on, sizeof(self->saved_on), "%d", atoi(b));
	free(b);
	/* "[local] global counter ...": the bracketed one is in use */
	clock = t_read_whole(self->root, "trace_clock");
	ASSERT_NE(NULL, clock);
	b = strchr(clock, '[');
	e = b ? strchr(b, ']') : NULL;
	ASSERT_TRUE(b && e);
	*e = 0;
	snprintf(self->saved_clock, sizeof(self->saved_clock), "%s", b + 1);
	free(clock);

	self->touched = true;
	ASSERT_EQ(0, put(self->root, "tracing_on", "0"));
	/* one clock for every CPU: the wake-up and the retry may be on two */
	ASSERT_EQ(0, put(self->root, "trace_clock", "global"));
	ASSERT_EQ(0, put(self->root, "trace", ""));
	ASSERT_EQ(0, put(self->root, "events/kaio/enable", "1"));
	ASSERT_EQ(0, put(self->root, "tracing_on", "1"));
}

FIXTURE_TEARDOWN(trace)
{
	if (!self->touched)
		return;
	put(self->root, "events/kaio/enable", "0");
	put(self->root, "tracing_on", self->saved_on);
	put(self->root, "trace_clock", self->saved_clock);
	put(self->root, "trace", "");
}

/* Stop tracing and return the lines that name @cb, in order. */
static char *trace_of(FIXTURE_DATA(trace) *self, struct iocb *cb)
{
	char needle[64], *all, *out, *line, *next;
	size_t len = 0;

	put(self->root, "tracing_on", "0");
	put(self->root, "events/kaio/enable", "0");
	all = t_read_whole(self->root, "trace");
	if (!all)
		return NULL;
	out = calloc(1, strlen(all) + 1);
	snprintf(needle, sizeof(needle), "iocb 0x%llx", (unsigned long long)(uintptr_t)cb);
	for (line = all; *line; line = next) {
		char *hit;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		hit = strstr(line, needle);
		if (!hit || line[0] == '#')
			continue;
		hit += strlen(needle);
		if (*hit != ' ' && *hit != '\n' && *hit)
			continue;	/* a longer address */
		memcpy(out + len, line, next - line);
		len += next - line;
	}
	free(all);
	return out;
}

/* Where " <event>: " first appears at or after @from, or NULL. */
static const char *find_event(const char *from, const char *event)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s: ", event);
	return strstr(from, pat);
}

/* Lines in order: each event after the one before. */
static void expect_in_order(struct __test_metadata *_metadata,
			    const char *lines, const char *const *order, int n)
{
	const char *p = lines;
	int i;

	for (i = 0; i < n; i++) {
		const char *at = find_event(p, order[i]);

		EXPECT_NE(NULL, at) TH_LOG("no %s line after the %s line",
					   order[i], i ? order[i - 1] : "first");
		if (at)
			p = at + 1;
	}
}

/* To the log, each line behind "# " (the runner ignores those). */
static void log_lines(const void *cb, const char *lines)
{
	const char *p = lines;

	fprintf(stderr, "# trace of iocb %p:\n", cb);
	while (*p) {
		const char *nl = strchr(p, '\n');
		int l = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "#   %.*s\n", l, p);
		p += l + (nl ? 1 : 0);
	}
}

/* Every line names the same request ("req <ptr>"). */
static int one_request(const char *lines)
{
	const char *p = lines, *r;
	char first[64] = "", cur[64];

	while ((r = strstr(p, " req ")) != NULL) {
		if (sscanf(r, " req %63s", cur) != 1)
			return 0;
		if (!first[0])
			snprintf(first, sizeof(first), "%s", cur);
		else if (strcmp(first, cur))
			return 0;
		p = r + 5;
	}
	return first[0] != 0;
}

/*
 * The pid of the task that traced @event's first line in @lines ("comm-pid
 * [cpu] ..."), or -1.
 */
static long event_pid(const char *lines, const char *event)
{
	const char *at = find_event(lines, event), *bol, *dash = NULL, *p;

	if (!at)
		return -1;
	for (bol = at; bol > lines && bol[-1] != '\n'; bol--)
		;
	/* The last '-' before the " [cpu]" column: comm may hold dashes. */
	for (p = bol; p < at && *p != '['; p++)
		if (*p == '-')
			dash = p;
	return dash ? strtol(dash + 1, NULL, 10) : -1;
}

/*
 * A 256 KiB file in @dir, unlinked, not in the page cache: fd or -1. Read
 * through O_NOATIME: a read whose atime is due starts on a worker
 * (kaio_retry.c).
 */
static int cold_file(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (t_make_file(dir, path, sizeof(path), 256 << 10, SEED))
		return -1;
	fd = open(path, O_RDONLY | O_NOATIME);
	unlink(path);
	if (fd >= 0 && t_drop_file_cache(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One cold read on the slow ext4: its life in the trace is submit, arm
 * (the callback armed inside SUBMIT), wake (the page unlocked), retry (this
 * thread, waiting in GETEVENTS, reads on), complete (with res 4096 and path
 * retry), in that order, all for one request.
 */
TEST_F_TIMEOUT(trace, cold_read_submit_arm_wake_retry_complete, 60)
{
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	const char *dir;
	char *buf = t_alloc(4096), *lines;
	static const char *const order[] = {
		"kaio_submit", "kaio_arm", "kaio_wake", "kaio_retry",
		"kaio_complete",
	};
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = cold_file(dir);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put(self->root, "trace", ""));

	t_prep_pread(&cb, fd, buf, 4096, 128 << 10);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);

	lines = trace_of(self, &cb);
	ASSERT_NE(NULL, lines);
	log_lines(&cb, lines);
	expect_in_order(_metadata, lines, order, 5);
	EXPECT_EQ(NULL, find_event(lines, "kaio_punt"));
	/* The op by the table's name, and its number. */
	EXPECT_NE(NULL, strstr(lines, " PREAD (opcode 0) "));
	EXPECT_NE(NULL, strstr(lines, "res 4096 path retry"));
	EXPECT_TRUE(one_request(lines));
	/* Run by the thread that waited for it, not by a worker. */
	EXPECT_EQ(gettid(), event_pid(lines, "kaio_retry"));
	free(lines);
	close(fd);
	t_ctx_close(&c);
}

/*
 * The same read with nobody in GETEVENTS (the thread sleeps in poll() on
 * the context): a worker runs the retry, and the event still comes.
 */
TEST_F_TIMEOUT(trace, cold_read_without_a_waiter_retried_by_a_worker, 60)
{
	struct t_ctx c;
	struct io_event ev;
	struct pollfd pfd;
	struct iocb cb;
	const char *dir;
	char *buf = t_alloc(4096), *lines;
	long pid;
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_SLOW_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	fd = cold_file(dir);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, put(self->root, "trace", ""));

	t_prep_pread(&cb, fd, buf, 4096, 128 << 10);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	pfd = (struct pollfd){ .fd = c.fd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_RETRY, ev.res2);

	lines = trace_of(self, &cb);
	ASSERT_NE(NULL, lines);
	log_lines(&cb, lines);
	pid = event_pid(lines, "kaio_retry");
	EXPECT_LT(0, pid);
	EXPECT_NE(gettid(), pid);
	free(lines);
	close(fd);
	t_ctx_close(&c);
}

/* A buffered ext4 write cannot be done without blocking: submit, punt, complete. */
TEST_F_TIMEOUT(trace, ext4_buffered_write_submit_punt_complete, 60)
{
	struct t_ctx c;
	struct io_event ev;
	struct iocb cb;
	char path[PATH_MAX];
	const char *dir;
	char *buf = t_alloc(4096), *lines;
	static const char *const order[] = {
		"kaio_submit", "kaio_punt", "kaio_complete",
	};
	int fd;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, KAIO_SETUP_RES2_PATH);
	snprintf(path, sizeof(path), "%s/kaio-trace.XXXXXX", dir);
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, put(self->root, "trace", ""));

	t_fill(buf, 4096, SEED, 0);
	t_prep_pwrite(&cb, fd, buf, 4096, 0);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, WAIT_MS));
	EXPECT_EQ(4096, ev.res);
	EXPECT_EQ(KAIO_PATH_WORKER, ev.res2);

	lines = trace_of(self, &cb);
	ASSERT_NE(NULL, lines);
	log_lines(&cb, lines);
	expect_in_order(_metadata, lines, order, 3);
	EXPECT_NE(NULL, strstr(lines, "res 4096 path worker"));
	EXPECT_TRUE(one_request(lines));
	free(lines);
	close(fd);
	t_ctx_close(&c);
}

TEST_HARNESS_MAIN
