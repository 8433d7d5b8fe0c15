// SPDX-License-Identifier: GPL-2.0
/*
 * A context belongs to the mm that created it: a forked child or a process
 * that received the fd over a unix socket gets EINVAL from every context
 * ioctl and from mmap() of the ring, and the owner keeps working. The fd never lends one process's
 * memory to another. Threads share the mm and may use the context.
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

TEST_HARNESS_MAIN
