// SPDX-License-Identifier: GPL-2.0
/*
 * A context belongs to the mm that created it: a forked child or a process
 * that received the fd over a unix socket gets EINVAL from every context
 * ioctl and from mmap() of the ring, and the owner keeps working. The fd never lends one process's
 * memory to another. Threads share the mm and may use the context.
 *
 * With requests in flight on the slow devices (KAIO_SLOW_*: ten
 * milliseconds or more per I/O): the parent's requests complete normally,
 * into the parent's buffers, while a forked child lives and after it exits;
 * the child's copy of the ring mapping holds the context (and its
 * requests) until the child exits; a process that received the fd and
 * holds the last reference releases it with its close, and an fd sent but
 * never received is released with the socket. These tests (fixture lt)
 * also end with the module back where they started:
 * /sys/kernel/debug/kaio/stats shows as many `contexts` as before,
 * `pinned_pages_reserved` 0, and as many requests completed as were
 * submitted.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include "kselftest_harness.h"
#include "kaio_util.h"

enum op { OP_SUBMIT, OP_GETEVENTS, OP_CANCEL, OP_DESTROY, OP_CLOSE, OP_MMAP };

/*
 * In a process that does not own @ctx: try @op, exit with the errno it
 * failed with (0 if it succeeded, 100 + n for surprises).
 */
static void __attribute__((noreturn)) foreign_op(int ctx, enum op op)
{
	struct iocb cb, *p = &cb;
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	int nullfd = open("/dev/null", O_RDWR);
	long r = 0;

	t_prep_noop(&cb, nullfd);
	switch (op) {
	case OP_SUBMIT:
		r = t_submit(ctx, 1, &p);
		break;
	case OP_GETEVENTS:
		r = t_getevents(ctx, 0, 1, &ev, &zero);
		break;
	case OP_CANCEL:
		r = t_cancel(ctx, &cb);
		break;
	case OP_DESTROY:
		r = t_destroy(ctx);
		break;
	case OP_CLOSE:
		r = close(ctx) ? -errno : 0;
		break;
	case OP_MMAP: {
		/* one page: what the owner may always map */
		void *ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED, ctx, 0);

		r = ring == MAP_FAILED ? -errno : 0;
		break;
	}
	}
	_exit(r < 0 ? (int)-r : r == 0 ? 0 : 100 + (int)(r > 50 ? 50 : r));
}

/* fork; the child runs foreign_op; returns the child's exit status. */
static int in_forked_child(int ctx, enum op op)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		foreign_op(ctx, op);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The owner's context still takes requests and delivers their events. */
static void owner_still_works(struct __test_metadata *_metadata,
			      struct t_ctx *c)
{
	struct iocb cb;
	struct io_event ev;

	t_prep_noop(&cb, c->nullfd);
	cb.aio_data = 77;
	ASSERT_EQ(1, t_submit_one(c->fd, &cb));
	ASSERT_EQ(1, t_wait(c->fd, &ev, 1, 5000));
	EXPECT_EQ(77, ev.data);
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
	EXPECT_EQ(0, ev.res);
}

TEST(fork_child_submit_EINVAL)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(EINVAL, in_forked_child(c.fd, OP_SUBMIT));
	owner_still_works(_metadata, &c);
}

TEST(fork_child_getevents_EINVAL)
{
	struct t_ctx c;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	EXPECT_EQ(EINVAL, in_forked_child(c.fd, OP_GETEVENTS));
	/* the child did not take the parent's event */
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
}

TEST(fork_child_cancel_EINVAL)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(EINVAL, in_forked_child(c.fd, OP_CANCEL));
	owner_still_works(_metadata, &c);
}

TEST(fork_child_destroy_EINVAL_owner_keeps_working)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(EINVAL, in_forked_child(c.fd, OP_DESTROY));
	owner_still_works(_metadata, &c);
}

TEST(fork_child_close_does_not_destroy_owner_ctx)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(0, in_forked_child(c.fd, OP_CLOSE));
	owner_still_works(_metadata, &c);
}

TEST(fork_child_exit_with_requests_in_flight_harmless)
{
	struct t_ctx c;
	struct iocb cb;
	struct io_event ev;

	KAIO_CTX_INIT(&c, 8, 0);
	t_prep_noop(&cb, c.nullfd);
	ASSERT_EQ(1, t_submit_one(c.fd, &cb));
	/* a child that inherits the fd and exits at once */
	EXPECT_EQ(0, in_forked_child(c.fd, OP_CLOSE));
	ASSERT_EQ(1, t_wait(c.fd, &ev, 1, 5000));
	EXPECT_EQ((uintptr_t)&cb, ev.obj);
	owner_still_works(_metadata, &c);
}

/*
 * The child forks before the context exists, so it can only get the fd
 * from the socket: a different process with a different mm.
 */
static int over_scm_rights(struct __test_metadata *_metadata,
			   struct t_ctx *c, enum op op)
{
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		close(sv[0]);
		fd = t_recv_fd(sv[1]);
		if (fd < 0)
			_exit(120);
		foreign_op(fd, op);
	}
	close(sv[1]);
	ASSERT_EQ(0, t_ctx_init(c, 8, 0));
	EXPECT_EQ(0, t_send_fd(sv[0], c->fd));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	close(sv[0]);
	return WEXITSTATUS(status);
}

/*
 * @op by a process that got the fd over SCM_RIGHTS fails with EINVAL; the
 * owner's context is unharmed. Must end the TEST: a skip returns here.
 */
static void scm_rights_receiver_op_EINVAL(struct __test_metadata *_metadata,
					  enum op op)
{
	struct t_ctx c;
	int dev;

	KAIO_DEV_OPEN(dev);	/* skip before forking */
	close(dev);
	EXPECT_EQ(EINVAL, over_scm_rights(_metadata, &c, op));
	owner_still_works(_metadata, &c);
}

TEST(scm_rights_receiver_submit_EINVAL)
{
	scm_rights_receiver_op_EINVAL(_metadata, OP_SUBMIT);
}

TEST(scm_rights_receiver_getevents_EINVAL)
{
	scm_rights_receiver_op_EINVAL(_metadata, OP_GETEVENTS);
}

TEST(scm_rights_receiver_destroy_EINVAL)
{
	scm_rights_receiver_op_EINVAL(_metadata, OP_DESTROY);
}

TEST(scm_rights_receiver_cancel_EINVAL)
{
	scm_rights_receiver_op_EINVAL(_metadata, OP_CANCEL);
}

TEST(scm_rights_receiver_mmap_EINVAL)
{
	scm_rights_receiver_op_EINVAL(_metadata, OP_MMAP);
}

TEST(fork_child_mmap_EINVAL)
{
	struct t_ctx c;

	KAIO_CTX_INIT(&c, 8, 0);
	EXPECT_EQ(EINVAL, in_forked_child(c.fd, OP_MMAP));
	owner_still_works(_metadata, &c);
}

struct thr {
	struct t_ctx *c;
	struct iocb cb;
	struct io_event ev;
	long submit, got;
};

static void *thread_submit_and_reap(void *arg)
{
	struct thr *t = arg;

	t_prep_noop(&t->cb, t->c->nullfd);
	t->cb.aio_data = 9;
	t->submit = t_submit_one(t->c->fd, &t->cb);
	t->got = t_wait(t->c->fd, &t->ev, 1, 5000);
	return NULL;
}

TEST(thread_of_owner_may_use_ctx)
{
	struct t_ctx c;
	struct thr t;
	pthread_t th;

	KAIO_CTX_INIT(&c, 8, 0);
	memset(&t, 0, sizeof(t));
	t.c = &c;
	ASSERT_EQ(0, pthread_create(&th, NULL, thread_submit_and_reap, &t));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(1, t.submit);
	EXPECT_EQ(1, t.got);
	EXPECT_EQ(9, t.ev.data);
	EXPECT_EQ((uintptr_t)&t.cb, t.ev.obj);
}

/* /sys/module/kaio/refcnt: contexts hold one each. */
static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/kaio/refcnt", "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * The child: a context whose fd is in flight in a unix socket (sent, never
 * received) and a POLL on that socket that never fires. The POLL holds the
 * socket, the socket's queue holds the context: nothing but the mm's exit
 * can break the cycle.
 */
static int __attribute__((noreturn)) cycle_child(void)
{
	struct t_ctx c;
	struct iocb cb;
	int sv[2];

	if (t_ctx_init(&c, 8, 0))
		_exit(10);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		_exit(11);
	if (t_send_fd(sv[0], c.fd))
		_exit(12);
	t_prep_poll(&cb, sv[1], POLLPRI);
	if (t_submit_one(c.fd, &cb) != 1)
		_exit(13);
	_exit(0);	/* everything still open: exit closes it */
}

/*
 * Native AIO kills a process's contexts when its mm goes away (exit_aio()).
 * kaio's context above outlived its process for good, with its ring, its
 * event budget and a module reference: rmmod failed (safety review,
 * finding 4). Now the mm's exit cancels the POLL, which lets the socket and
 * then the context go.
 */
TEST(exit_frees_context_held_by_its_own_poll_through_scm_rights)
{
	struct t_stats g0, g1;
	long ref0, ref1 = -1;
	int i, dev, status, have_debugfs;
	pid_t pid;

	KAIO_DEV_OPEN(dev);
	close(dev);
	ref0 = module_refcnt();
	have_debugfs = !t_stats_read(KAIO_DEBUGFS_STATS, &g0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		cycle_child();
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The socket's release runs from the delayed fput worker: wait. */
	for (i = 0; i < 500; i++) {
		ref1 = module_refcnt();
		if (ref1 == ref0)
			break;
		usleep(10000);
	}
	TH_LOG("module refcnt %ld before, %ld after", ref0, ref1);
	EXPECT_EQ(ref0, ref1);
	if (have_debugfs) {
		ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g1));
		EXPECT_EQ(g0.contexts, g1.contexts);
		EXPECT_EQ(g0.events_reserved, g1.events_reserved);
	}
}

/*
 * Wait up to @ms for child @pid: its exit status, 1000 + signal if it was
 * killed, -1 if it is still running.
 */
static int wait_child_ms(pid_t pid, int ms)
{
	int status;

	for (; ms > 0; ms -= 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
						   1000 + WTERMSIG(status);
		usleep(10000);
	}
	return -1;
}

/*
 * A request that runs until the test lets it go: a buffered ext4 write
 * goes to a worker, which waits in sb_start_write() while the file system
 * is frozen. Freezes $KAIO_EXT4_DIR's file system; the caller thaws it.
 * The write's fd is returned in *@fd.
 */
static void submit_write_blocked_by_freeze(struct __test_metadata *_metadata,
					   struct t_ctx *c, const char *dir,
					   int *dirfd, int *fd, struct iocb *cb,
					   void *buf)
{
	char path[PATH_MAX];

	ASSERT_EQ(0, t_make_file(dir, path, sizeof(path), 4096, 1));
	*fd = open(path, O_RDWR);
	unlink(path);
	ASSERT_LE(0, *fd);
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, *dirfd);
	ASSERT_EQ(0, ioctl(*dirfd, FIFREEZE, 0));
	memset(buf, 0x5a, 4096);
	t_prep_pwrite(cb, *fd, buf, 4096, 0);
	ASSERT_EQ(1, t_submit_one(c->fd, cb));
}

/*
 * The last close of a context by a process that does not own it (it was
 * sent the fd, or inherited it) never waits for the context's requests:
 * a request can block for as long as its user wants, and the wait would
 * be in somebody else's close(), or in the system's delayed-fput worker
 * (safety review 2, BUG 2). The owner's close still waits, as native
 * AIO's io_destroy() does. Here the owner's write waits for a thaw; a
 * forked child holds the last fd, closes it while the file system is
 * still frozen, and must return at once. Before, it waited for the thaw.
 */
TEST(foreign_last_close_does_not_wait_for_requests)
{
	struct t_stats g0, g1;
	struct t_ctx c;
	struct iocb cb;
	const char *dir;
	void *buf = t_alloc(4096);
	char back[4096], byte;
	int p[2], dirfd = -1, fd = -1, status;
	pid_t pid;

	KAIO_ENV_OR_SKIP(dir, "KAIO_EXT4_DIR");
	KAIO_CTX_INIT(&c, 8, 0);
	ASSERT_EQ(0, t_stats_read(KAIO_DEBUGFS_STATS, &g0));
	ASSERT_EQ(0, pipe(p));
	submit_write_blocked_by_freeze(_metadata, &c, dir, &dirfd, &fd, &cb,
				       buf);
	pid = fork();
	if (!pid) {
		/* wait for the owner's close: then ours is the last */
		close(p[1]);
		if (read(p[0], &byte, 1) != 1)
			_exit(10);
		close(c.fd);
		_exit(0);
	}
	close(p[0]);
	if (pid < 0)
		ioctl(dirfd, FITHAW, 0);
	ASSERT_LE(0, pid);
	close(c.fd);			/* not the last: the child's is */
	EXPECT_EQ(1, write(p[1], "x", 1));
	/* The child's close ends while the file system is still frozen. */
	status = wait_child_ms(pid, 20000);
	EXPECT_EQ(0, status) TH_LOG("the foreign close waited for the request");
	ASSERT_EQ(0, ioctl(dirfd, FITHAW, 0));
	if (status)
		waitpid(pid, &status, 0);
	/* The write ends with the thaw, and the reaper frees the context. */
	ASSERT_EQ(0, t_module_settle(g0.contexts - 1, 10000, &g1))
		TH_LOG("contexts %lld, pinned %lld", g1.contexts,
		       g1.pinned_pages_reserved);
	ASSERT_EQ(4096, pread(fd, back, 4096, 0));
	EXPECT_EQ(0x5a, back[4095]);
	close(fd);
	close(dirfd);
	close(p[1]);
}

/* ---- fork and SCM_RIGHTS with requests in flight ------------------------- */

/*
 * The tests below keep requests in flight on the slow devices (kaio_util.h's
 * t_mix) and end with the module back where they started: as many
 * `contexts` in /sys/kernel/debug/kaio/stats, `pinned_pages_reserved` 0, as
 * many requests completed as were submitted (t_expect_settled()).
 */
KAIO_SETTLE_FIXTURE(lt)

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
	struct t_batch more;
	char byte;
	pid_t pid;
	int n;

	KAIO_SKIPPED_IN_SETUP();
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64);
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
	KAIO_REAP_ALL(self->c.fd, ev, n, 30000);
	EXPECT_EQ(0, t_batch_check(_metadata, &self->m.b, ev, n, false));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_parent[0]);
	close(to_child[1]);

	/* and after it exited */
	t_batch_init(&more, 64);
	t_batch_add_direct_reads(&more, self->m.direct_fd, 64);
	t_batch_finish_prep(&more);
	ASSERT_EQ(64, t_submit(self->c.fd, 64, more.ptrs));
	KAIO_REAP_ALL(self->c.fd, ev, 64, 30000);
	EXPECT_EQ(0, t_batch_check(_metadata, &more, ev, 64, false));
	t_batch_done(&more);
	t_ctx_close(&self->c);
	t_expect_settled(_metadata, &self->g0, 2000);
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
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .polls = 4);
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
	t_expect_settled(_metadata, &self->g0, 2000);
}

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
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .writes = 16, .polls = 4);
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
	t_expect_settled(_metadata, &self->g0, 2000);
	t_check_written(_metadata, &self->m.b, self->m.write_fd, false);
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
	KAIO_MIX_OPEN(&self->m, .cold = 32, .direct = 64, .polls = 4);
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
	t_expect_settled(_metadata, &self->g0, 5000);
}

TEST_HARNESS_MAIN
