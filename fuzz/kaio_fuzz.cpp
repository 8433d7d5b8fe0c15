// SPDX-License-Identifier: GPL-2.0
/*
 * kaio-fuzz: random and malformed use of /dev/kaio from several threads and
 * processes, with its own checks. See fuzz/README.md.
 *
 *   kaio-fuzz --seed N --iterations N [--threads N] [--procs N]
 *             [--hang S] [--timeout S] [--check-leaks]
 *
 * Each worker process runs --threads threads; together they make
 * --iterations random actions (SETUP, SUBMIT, GETEVENTS, CANCEL, DESTROY,
 * close in several ways, mmap/mremap/munmap of the ring, user-space reaping,
 * garbage in the ring header, fork, signals, truncation, munmap of buffers
 * in flight). Every thread draws from its own generator seeded from
 * (--seed, process, thread), so a seed replays the same actions; what they
 * race with depends on scheduling.
 *
 * Checks: every errno is in the set Documentation/abi.md gives for that
 * call; where one iocb alone decides the outcome, the errno is the one the
 * ABI's order of checks gives (an oracle); every accepted iocb yields
 * exactly one event with its aio_data and a plausible result, a cancel that
 * said EINPROGRESS gives -ECANCELED, fdinfo agrees with what was submitted;
 * nothing hangs (a watchdog prints the seed and the stuck task's kernel
 * stack). With --check-leaks the module must hold no context, reservation,
 * pin or request afterwards. Output is TAP; failures print the seed.
 *
 * What it knows of each opcode (name, generator, oracles) is one table in
 * ops.cpp; this file does what all opcodes share.
 */
#include "ops.hpp"
#include "util.hpp"

#include <kaio_cli/options.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <execinfo.h>
#include <map>
#include <mutex>
#include <poll.h>
#include <set>
#include <shared_mutex>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>
#include <unordered_map>
#include <vector>

using namespace kfz;

namespace {

/* ---- options ------------------------------------------------------------ */

struct Options {
	uint64_t seed = 1;
	uint64_t iterations = 2000;
	uint64_t threads = 4;
	uint64_t procs = 1;
	uint64_t hang_s = 60;		/* this long without return or progress: a hang */
	uint64_t timeout_s = 600;	/* the whole run */
	bool leaks = false;
};
Options opt;

constexpr uint64_t KADDR = 0xffff888000000000ULL;	/* kernel direct map */
constexpr uint64_t NONCANON = 0x0000800000000000ULL;	/* user only with LA57 */
constexpr uint64_t LOWADDR = 0x1000;			/* below mmap_min_addr */
constexpr int NCTX = 8;			/* context slots per process */
constexpr int NPOOL = 512;		/* iocb slots per thread */
constexpr int POOLSLOT = 128;
constexpr int MAXBATCH = 64;
constexpr int NIOV = 1100;
constexpr int NEV = 256;
constexpr int NRES = MAXBATCH + 1024;	/* as many as iocb pointers */
constexpr int NSLOT = 16;		/* data buffers per thread */
constexpr uint64_t FILE_SIZE = 16ULL << 20;
constexpr uint64_t RAW_SPAN = 64ULL << 20;

int g_proc;
std::atomic<bool> g_stop{false};

/* ---- failures ----------------------------------------------------------- */

std::mutex g_fail_mu;
std::map<std::string, uint64_t> g_fail_sigs;	/* signature -> count */
std::atomic<uint64_t> g_failures{0};
thread_local int t_id = -1;
thread_local uint64_t t_iter;

/*
 * A check failed. @sig groups repeats (the first three of a kind are printed
 * in full, the rest only counted); @msg says what was expected and got.
 */
void fail(const std::string &sig, const std::string &msg)
{
	uint64_t n;
	{
		std::lock_guard<std::mutex> l(g_fail_mu);
		n = ++g_fail_sigs[sig];
	}
	g_failures++;
	if (n <= 3)
		say(strf("# FAIL seed=%llu proc=%d thread=%d iter=%llu: %s: %s",
			 (unsigned long long)opt.seed, g_proc, t_id,
			 (unsigned long long)t_iter, sig.c_str(), msg.c_str()));
}

/*
 * A crash of the fuzzer itself (its processes run for minutes, under
 * signals and forks): print where, so that addr2line on the host can say
 * which line. backtrace() is loaded at install time and snprintf() formats
 * integers only, so the handler allocates nothing; the default action
 * follows.
 */
void crash_handler(int sig, siginfo_t *si, void *)
{
	char line[160];
	void *frames[48];
	int n = backtrace(frames, 48);
	int len = snprintf(line, sizeof(line),
			   "# CRASH seed=%llu proc=%d thread=%d iter=%llu: signal %d at %p; backtrace (addr2line -e kaio-fuzz):\n",
			   (unsigned long long)opt.seed, g_proc, t_id,
			   (unsigned long long)t_iter, sig, si->si_addr);
	if (write(STDOUT_FILENO, line, (size_t)len) < 0)
		_exit(128 + sig);
	backtrace_symbols_fd(frames, n, STDOUT_FILENO);
	signal(sig, SIG_DFL);
	raise(sig);
}

void install_crash_handler()
{
	struct sigaction sa = {};
	void *warm[1];

	backtrace(warm, 1);	/* loads the unwinder now, not in the handler */
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
		sigaction(sig, &sa, nullptr);
}

/* ---- counters ----------------------------------------------------------- */

std::mutex g_cnt_mu;
std::map<std::string, uint64_t> g_cnt;

void count(const std::string &what, uint64_t n = 1)
{
	std::lock_guard<std::mutex> l(g_cnt_mu);
	g_cnt[what] += n;
}

/* ---- what the calls may return (Documentation/abi.md) ------------------- */

const std::set<long> SETUP_ERRS = {EFAULT, EINVAL, EAGAIN, ENOMEM, EMFILE};
/* ENOMEM: out of memory only; the pinned-memory budget is no errno (abi.md). */
const std::set<long> SUBMIT_ERRS = {EINVAL, EFAULT, EAGAIN, EBADF, EOPNOTSUPP,
				    EPERM, EACCES, ENOMEM};
const std::set<long> GETEV_ERRS = {EFAULT, EINVAL, EINTR};
const std::set<long> CANCEL_ERRS = {EFAULT, EINVAL, EINPROGRESS, EAGAIN};

/* ---- targets: the files requests are made on (Target: ops.hpp) ---------- */

std::vector<Target> g_targets;
std::vector<std::string> g_unlink;
int g_devfd = -1, g_devnull = -1;
std::vector<int> g_pipes_r, g_pipes_w, g_eventfds;

void add_target(int fd, TK kind, const std::string &name, bool direct,
		uint64_t span, bool r, bool w, int ri, int wi, int fs, int cp,
		int nw, bool safe_write = true)
{
	if (fd < 0)
		return;
	g_targets.push_back({fd, kind, name, direct, span, r, w, ri, wi, fs, cp, nw,
			     safe_write});
}

void open_targets()
{
	const char *dirs[] = {getenv("KAIO_EXT4_DIR"), getenv("KAIO_XFS_DIR"),
			      getenv("KAIO_SLOW_EXT4_DIR"), getenv("KAIO_SLOW_XFS_DIR")};
	bool any = false;
	for (const char *d : dirs) {
		if (!is_dir(d))
			continue;
		any = true;
		std::string p = strf("%s/kaio-fuzz.%d", d, (int)getpid());
		int fd = open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			continue;
		g_unlink.push_back(p);
		/* Some data, the rest a hole: reads see both. */
		std::vector<uint8_t> buf(1 << 20);
		for (size_t i = 0; i < buf.size(); i++)
			buf[i] = (uint8_t)(i * 7 + 3);
		if (pwrite(fd, buf.data(), buf.size(), 0) < 0 ||
		    ftruncate(fd, FILE_SIZE) < 0)
			say("# kaio-fuzz: cannot fill " + p);
		add_target(fd, TK::File, p, false, FILE_SIZE, true, true, 1, 1, 1, 0, 1);
		add_target(open(p.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC), TK::FileDirect,
			   p + " (O_DIRECT)", true, FILE_SIZE, true, true, 1, 1, 1, 0, 1);
		add_target(open(p.c_str(), O_RDONLY | O_CLOEXEC), TK::FileRO,
			   p + " (O_RDONLY)", false, FILE_SIZE, true, false, 1, 1, 1, 0, 1);
		add_target(open(p.c_str(), O_WRONLY | O_CLOEXEC), TK::FileWO,
			   p + " (O_WRONLY)", false, FILE_SIZE, false, true, 1, 1, 1, 0, 1);
		int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* A directory: no read_iter (EINVAL), not writable (EBADF), its
		 * fsync not one for a worker (EOPNOTSUPP). */
		add_target(dfd, TK::Dir, d, false, 0, true, false, 0, 0, 2, 0, -1);
		add_target(open(p.c_str(), O_PATH | O_CLOEXEC), TK::OPath, p + " (O_PATH)",
			   false, 0, false, false, -1, -1, -1, -1, -1);
	}
	if (!any) {
		/* Not in the guest: /tmp stands in, so the fuzzer runs anywhere. */
		std::string p = strf("/tmp/kaio-fuzz.%d", (int)getpid());
		int fd = open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			g_unlink.push_back(p);
			if (ftruncate(fd, FILE_SIZE) < 0)
				say("# kaio-fuzz: cannot size " + p);
			add_target(fd, TK::File, p, false, FILE_SIZE, true, true, 1, 1, 1, 0, -1);
		}
	}
	const char *raw = getenv("KAIO_RAW_DEV");
	if (is_blk(raw)) {
		add_target(open(raw, O_RDWR | O_CLOEXEC), TK::Raw, raw, false, RAW_SPAN,
			   true, true, 1, 1, 1, 0, 1);
		add_target(open(raw, O_RDWR | O_DIRECT | O_CLOEXEC), TK::RawDirect,
			   std::string(raw) + " (O_DIRECT)", true, RAW_SPAN, true, true, 1, 1,
			   1, 0, 1);
	}
	const char *err = getenv("KAIO_ERROR_DEV");
	if (is_blk(err)) {
		add_target(open(err, O_RDWR | O_CLOEXEC), TK::ErrDev, err, false, RAW_SPAN,
			   true, true, 1, 1, 1, 0, 1);
		add_target(open(err, O_RDWR | O_DIRECT | O_CLOEXEC), TK::ErrDev,
			   std::string(err) + " (O_DIRECT)", true, RAW_SPAN, true, true, 1,
			   1, 1, 0, 1);
	}
	for (int i = 0; i < 2; i++) {
		int p[2];
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
			g_pipes_r.push_back(p[0]);
			g_pipes_w.push_back(p[1]);
			add_target(p[0], TK::PipeR, "pipe (read end)", false, 0, true, false,
				   1, 1, 0, 1, -1);
			add_target(p[1], TK::PipeW, "pipe (write end)", false, 0, false, true,
				   1, 1, 0, 1, -1);
		}
		int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (e >= 0) {
			g_eventfds.push_back(e);
			add_target(e, TK::Eventfd, "eventfd", false, 0, true, true, -1, -1, 0,
				   1, -1);
		}
	}
	g_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	add_target(g_devnull, TK::DevNull, "/dev/null", false, 1 << 20, true, true, 1,
		   1, 0, 0, -1);
	add_target(open("/dev/zero", O_RDWR | O_CLOEXEC), TK::DevZero, "/dev/zero",
		   false, 1 << 20, true, true, 1, 1, 0, 0, -1);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
		add_target(sv[0], TK::Sock, "socket", false, 0, true, true, 1, 1, 0, 1, -1);
		add_target(sv[1], TK::Sock, "socket (peer)", false, 0, true, true, 1, 1, 0,
			   1, -1);
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR2);
	add_target(signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC), TK::Signalfd,
		   "signalfd", false, 0, true, true, -1, 0, 0, 1, -1);
	g_devfd = open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	add_target(g_devfd, TK::DevKaio, KAIO_DEVICE_PATH, false, 0, true, true, 0, 0,
		   0, 0, -1);
}

/* ---- memory --------------------------------------------------------------- */

/* @size bytes, then a PROT_NONE page: whatever runs past the end faults. */
uint8_t *guarded(size_t size, int prot = PROT_READ | PROT_WRITE)
{
	size = (size + PAGE - 1) & ~(PAGE - 1);
	void *p = mmap(nullptr, size + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	uint8_t *b = (uint8_t *)p;
	memset(b, 0, size);
	mprotect(b + size, PAGE, PROT_NONE);
	if (prot != (PROT_READ | PROT_WRITE))
		mprotect(b, size, prot);
	return b;
}

/* @size bytes that end exactly at a PROT_NONE page. */
uint8_t *guarded_end(size_t size)
{
	size_t round = (size + PAGE - 1) & ~(PAGE - 1);
	return guarded(round) + (round - size);
}

/* Shared by all threads: never written after setup. */
uint8_t *g_ro;		/* read-only: well-formed iocbs and arguments */
uint8_t *g_none;	/* PROT_NONE */
constexpr int RO_NOOP = 0, RO_PREAD = 128;

struct Arena {
	uint8_t *pool;		/* NPOOL iocbs; never a read target */
	struct iocb **iocbpp;	/* MAXBATCH + 1024 pointers, then a guard */
	struct iovec *iov;
	struct io_event *ev;
	int64_t *results;	/* NRES SUBMIT_LIST results, then a guard */
	uint8_t *args;		/* argument structs end at the guard */
	uint8_t *data[NSLOT];	/* read and write buffers */
	unsigned next_iocb = 0;
};

/* ---- contexts --------------------------------------------------------- */

enum CState { EMPTY, OPEN, DESTROYED, REPLACED };

/* One accepted iocb (or several identical ones: the same iocb twice). */
struct Entry {
	const OpSpec *op;
	int64_t maxres;
	int count;
	int cancel_pending;	/* a CANCEL of this iocb is running */
	bool cancel_tried;	/* any CANCEL of this iocb was made */
	bool cancelled;		/* a CANCEL said EINPROGRESS */
	std::string what;	/* for messages */
	int post_err = 0;	/* KAIO_LIST_POST_ERRORS: its res must be -this */
	bool post_list = false;	/* taken by a KAIO_LIST_POST_ERRORS call */
};

struct Ctx {
	/*
	 * life: shared for any call on fd, exclusive to close or set up (the fd
	 * number must not be reused under a call). reap: shared for
	 * GETEVENTS, exclusive to touch the ring from user space or move it.
	 * mu: the bookkeeping below.
	 */
	std::shared_mutex life, reap;
	std::mutex mu;
	std::atomic<int> state{EMPTY};
	int fd = -1;
	bool chaos = false;	/* ring garbage allowed; no event checks */
	bool res2 = false;
	uint32_t nr_events = 0;
	uint64_t ring_size = 0;
	uint64_t gen = 0;
	std::atomic<bool> dying{false};		/* DESTROY started */
	std::atomic<bool> replaced{false};	/* fd is /dev/null now */
	struct kaio_ring *ring = nullptr;	/* under reap */
	size_t ring_len = 0;
	std::atomic<uint64_t> ring_addr{0};	/* ring, readable without reap */
	std::vector<std::pair<void *, size_t>> extra;	/* other mappings */
	/* under mu */
	std::map<std::pair<uint64_t, uint64_t>, Entry> out;	/* (obj, data) */
	std::unordered_map<uint64_t, int> obj_n;
	int64_t n_out = 0;
	uint64_t accepted = 0;
	uint64_t events = 0;
	bool closing = false;
};
Ctx g_ctx[NCTX];

/* ---- per-thread state ------------------------------------------------- */

struct Worker {
	int id;
	Rng rng;
	Arena a;
	std::atomic<pid_t> tid{0};
	std::atomic<int64_t> call_start{0};
	std::atomic<const char *> call_name{""};
	uint64_t data_seq = 0;
	uint64_t iters = 0;
};
std::vector<Worker *> g_workers;

/* What the thread is doing, for the watchdog; nests. */
struct CallGuard {
	Worker &w;
	int64_t old_start;
	const char *old_name;
	CallGuard(Worker &w_, const char *name) : w(w_)
	{
		old_start = w.call_start;
		old_name = w.call_name;
		w.call_name = name;
		if (!old_start)
			w.call_start = now_ns();
	}
	~CallGuard()
	{
		w.call_name = old_name;
		w.call_start = old_start;
	}
};

/* ---- event bookkeeping ------------------------------------------------ */

/* One event, under c.mu. */
void consume_one(Ctx &c, int slot, const struct io_event &ev, const char *via,
		 bool inline_result = false)
{
	c.events++;
	count("events");
	auto it = c.out.find({ev.obj, ev.data});
	if (c.chaos) {
		/* The ring may hold anything (garbage head, reads into it). */
		if (it != c.out.end()) {
			c.obj_n[ev.obj]--;
			c.n_out--;
			if (--it->second.count == 0)
				c.out.erase(it);
		}
		return;
	}
	if (it == c.out.end()) {
		fail("event for no outstanding iocb",
		     strf("ctx %d (%s): obj=0x%llx data=0x%llx res=%s res2=%lld: never submitted, or seen twice",
			  slot, via, (unsigned long long)ev.obj,
			  (unsigned long long)ev.data, resname(ev.res).c_str(),
			  (long long)ev.res2));
		return;
	}
	Entry &e = it->second;
	const long long res = ev.res;
	std::string bad;
	/*
	 * An errno the oracle cannot tell in advance (a fd of another slot,
	 * an iovec array it does not model) may be a posted one: no path.
	 */
	const bool posted_unknown = e.post_list && !e.post_err && res < 0 && res >= -4095 &&
				    ev.res2 == 0;
	if (posted_unknown)
		count("events POST_ERRORS errno not foreseen");
	if (res < -4095) {
		bad = "res below -4095";
	} else if (posted_unknown) {
		/* any errno: the call may have posted it */
	} else if (e.post_err) {
		/* KAIO_LIST_POST_ERRORS: no run, its errno (abi.md) */
		if (res != -e.post_err &&
		    !(res == -ECANCELED && (e.cancel_tried || e.cancel_pending || c.closing || c.dying)))
			bad = strf("KAIO_LIST_POST_ERRORS event: want res %s",
				   resname(-e.post_err).c_str());
		else if (ev.res2 != 0)
			bad = "KAIO_LIST_POST_ERRORS event: res2 != 0";
	} else {
		/* Only when one iocb was cancelled does its event say so for sure. */
		const bool cancelled = e.cancelled && e.count == 1;
		bad = e.op->check_event({res, e.maxres, cancelled,
					 cancelled && c.obj_n[ev.obj] == 1});
	}

	if (bad.empty() && res == -ECANCELED && !e.cancel_tried && !e.cancel_pending &&
	    !c.closing && !c.dying)
		bad = "-ECANCELED although nobody cancelled";
	if (bad.empty() && !inline_result && !e.post_err && !posted_unknown) {
		/*
		 * A request cancelled before any attempt took no path: res2 0
		 * (abi.md lists only 1..4; reported, not failed).
		 */
		bool unrun = res == -ECANCELED && ev.res2 == 0;
		if (unrun && c.res2)
			count("res2 0 for a request cancelled before it ran");
		if (c.res2 ? !unrun && (ev.res2 < KAIO_PATH_INLINE || ev.res2 > KAIO_PATH_WORKER)
			   : ev.res2 != 0)
			bad = "res2 outside KAIO_PATH_* (RES2_PATH) / not 0";
		else if (c.res2 && e.op->inline_only && ev.res2 != KAIO_PATH_INLINE)
			bad = strf("%s res2 != KAIO_PATH_INLINE", e.op->name);
	}
	if (!bad.empty())
		fail(std::string("event: ") + bad,
		     strf("ctx %d (%s): %s res=%s res2=%lld (%s)", slot, via,
			  e.op->name, resname(res).c_str(), (long long)ev.res2,
			  e.what.c_str()));
	if (res == -ECANCELED)
		count("events -ECANCELED");
	c.obj_n[ev.obj]--;
	c.n_out--;
	if (--e.count == 0)
		c.out.erase(it);
}

/* The /proc/self/maps line that holds @addr: what a failure was looking at. */
static std::string maps_line(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	std::string out = "(none)";
	unsigned long a = (unsigned long)addr;
	if (!f)
		return "(no maps)";
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			out = line;
			break;
		}
	}
	fclose(f);
	return out;
}

/* Reap from the mmapped ring, as libaio does; under reap exclusive. */
long ring_reap(Ctx &c, int slot)
{
	struct kaio_ring *r = c.ring;
	if (!r || c.ring_len < c.ring_size)
		return 0;
	uint32_t nr = __atomic_load_n(&r->nr, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	if (c.chaos) {
		/* Anything may be in there: only keep within bounds. */
		if (nr != c.nr_events + 1 || head >= nr || tail >= nr)
			return 0;
	} else if (nr != c.nr_events + 1 || head >= nr || tail >= nr ||
		   r->magic != KAIO_RING_MAGIC || r->header_length != sizeof(*r) ||
		   r->compat_features != KAIO_RING_COMPAT_FEATURES ||
		   r->incompat_features != KAIO_RING_INCOMPAT_FEATURES) {
		fail("ring header", strf("ctx %d: nr=%u (want %u) head=%u tail=%u magic=0x%x header_length=%u compat=%u incompat=%u fd=%d maps=%s",
					 slot, nr, c.nr_events + 1, head, tail, r->magic,
					 r->header_length, r->compat_features,
					 r->incompat_features, c.fd, maps_line(r).c_str()));
		return 0;
	}
	long n = 0;
	std::lock_guard<std::mutex> l(c.mu);
	while (head != tail) {
		struct io_event ev = r->io_events[head];
		consume_one(c, slot, ev, "ring");
		head = (head + 1) % nr;
		n++;
	}
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	count("ring reaped", (uint64_t)n);
	return n;
}

/* ---- the generator's pieces -------------------------------------------- */

/* Which fd an iocb names. */
enum FdKind { FD_TARGET, FD_BAD, FD_SELF, FD_OTHERCTX };

/* One SUBMIT's memory, lent to the opcodes' generators (ops.hpp). */
struct SubmitCtx final : Memory {
	Worker &w;
	Ctx &c;
	int slot;
	uint8_t *temp = nullptr;	/* munmapped after SUBMIT */
	size_t temp_len = 0;
	size_t iov_used = 0;		/* each iocb its own iovecs */

	SubmitCtx(Worker &w_, Ctx &c_, int slot_) : w(w_), c(c_), slot(slot_) {}
	Buf buffer(bool for_read, uint64_t len, bool direct) override;
	IovArray iovecs(uint64_t cnt) override;
};

Buf SubmitCtx::buffer(bool for_read, uint64_t len, bool direct)
{
	Rng &r = w.rng;
	unsigned x = (unsigned)r.below(100);
	if (x < 70 || (direct && x < 85)) {
		uint8_t *base = w.a.data[r.below(NSLOT)];
		uint64_t off = 0;
		if (direct && r.chance(9, 10))
			off = r.below(SLOT / 512) * 512;
		else if (r.chance(1, 2))
			off = r.below(SLOT);
		if (off + len > SLOT)
			off = len < SLOT ? SLOT - len : 0;
		if (direct && r.chance(9, 10))
			off &= ~511ULL;
		return {(uint64_t)(base + off), off + len > SLOT ? B_OVERRUN : B_VALID};
	}
	if (temp && x < 80)
		return {(uint64_t)(temp + (direct ? 0 : r.below(temp_len / 2))), B_TEMP};
	switch (r.below(9)) {
	case 0: return {0, B_NULL};
	case 1: return {KADDR + r.below(1 << 20), B_KERNEL};
	case 2: return {NONCANON + r.below(PAGE), B_NONCANON};
	case 3: return {(uint64_t)g_none + r.below(PAGE), B_NONE};
	case 4: return {(uint64_t)g_ro + r.below(PAGE), B_RO};
	case 5: return {LOWADDR + r.below(PAGE), B_LOW};
	case 6: return {0x7ffffffff000ULL - r.below(PAGE), B_EDGE};
	case 7:
		/*
		 * Reads into a ring only on a chaos context, only its own, and
		 * only within its mapping: one that ran past the end would fill
		 * whatever is mapped next, often another context's ring.
		 */
		if (c.chaos && c.ring_addr && len <= c.ring_len)
			return {c.ring_addr + r.below(c.ring_len - len + 1), B_RING};
		return {0, B_NULL};
	default:
		if (!for_read) {
			/* Writes may come from anywhere readable. */
			uint8_t *where[] = {w.a.pool, (uint8_t *)w.a.iov,
					    (uint8_t *)&opt, (uint8_t *)w.a.ev};
			return {(uint64_t)r.pick(where), B_ANY};
		}
		return {(uint64_t)(w.a.data[r.below(NSLOT)] + r.below(SLOT)), B_OVERRUN};
	}
}

IovArray SubmitCtx::iovecs(uint64_t cnt)
{
	Rng &r = w.rng;
	switch (r.below(30)) {
	case 0: return {0, nullptr, 0, 0};
	case 1: return {KADDR, nullptr, 0, 0};
	case 2: return {(uint64_t)g_none, nullptr, 0, 0};
	default: break;
	}
	/* This iocb's own iovecs, maybe running into the guard. */
	size_t first = iov_used;
	if (r.chance(1, 10))
		first = NIOV - std::min<size_t>(NIOV - first, (size_t)r.range(1, 4));
	size_t n = std::min<uint64_t>(cnt, NIOV - first);
	struct iovec *v = w.a.iov + first;
	iov_used = first + n;
	return {(uint64_t)v, v, n, NIOV - first};
}

/* ---- SUBMIT ----------------------------------------------------------- */

struct Built {
	struct iocb *ptr;	/* where the iocb is, or a bad pointer */
	bool pool;		/* a real, writable, tracked iocb */
	const OpSpec *op;	/* pool iocbs only */
	struct iocb cb;
	Oracle ex;
	std::string what;
	int64_t maxres;
	int post_err;		/* KAIO_LIST_POST_ERRORS: its event's -errno */
	bool post_list;		/* in a KAIO_LIST_POST_ERRORS call */
};

/*
 * One iocb, with what the ABI's order of checks says SUBMIT must answer
 * (Documentation/abi.md's table, fs/aio.c's order). What every opcode
 * shares is here; the opcode's entry in OPS (ops.cpp) does the rest.
 */
Built build_iocb(SubmitCtx &s)
{
	Rng &r = s.w.rng;
	Built b{};
	Oracle &ex = b.ex;
	struct iocb &cb = b.cb;
	memset(&cb, 0, sizeof(cb));

	/* Where the iocb lives. */
	unsigned where = (unsigned)r.below(100);
	if (where < 94) {
		uint8_t *slot = s.w.a.pool + (s.w.a.next_iocb++ % NPOOL) * POOLSLOT;
		b.ptr = (struct iocb *)(slot + (r.chance(1, 8) ? r.range(1, 63) : 0));
		b.pool = true;
	} else {
		uint64_t bad[] = {0, KADDR, (uint64_t)g_none, LOWADDR,
				  (uint64_t)g_ro + RO_NOOP, (uint64_t)g_ro + RO_PREAD,
				  (uint64_t)g_ro + PAGE - 32 /* runs into the guard */};
		uint64_t p = r.pick(bad);
		b.ptr = (struct iocb *)p;
		b.pool = false;
		if (p == (uint64_t)g_ro + RO_NOOP || p == (uint64_t)g_ro + RO_PREAD) {
			/* Well-formed but not writable: EFAULT when aio_key is set. */
			ex.reserve();
			ex.failif(true, EFAULT, "read-only iocb");
		} else {
			ex.failif(true, EFAULT, "iocb not readable");
		}
		b.what = strf("iocb at 0x%llx (not ours)", (unsigned long long)p);
		b.maxres = 0;
		count("iocbs not ours");
		return b;
	}

	cb.aio_data = ((uint64_t)s.w.id << 48) | (uint64_t)g_proc << 40 | ++s.w.data_seq;
	cb.aio_key = r.chance(1, 4) ? (uint32_t)r.next() : 0;

	/* Opcode. */
	const OpSpec &op = pick_op(r);
	b.op = &op;
	cb.aio_lio_opcode = pick_opcode(op, r);
	/* How often each opcode is made: a change to the generator shows here. */
	count(std::string("iocbs ") + op.name);

	/* File. */
	const Target *t = nullptr;
	FdKind fdk = FD_TARGET;
	unsigned f = (unsigned)r.below(100);
	if (f < 85 && !g_targets.empty()) {
		/* Mostly the real files, so requests run. */
		std::vector<const Target *> files;
		for (auto &tt : g_targets)
			if (tt.kind == TK::File || tt.kind == TK::FileDirect ||
			    tt.kind == TK::Raw || tt.kind == TK::RawDirect)
				files.push_back(&tt);
		if (!files.empty() && r.chance(2, 3))
			t = files[r.below(files.size())];
		else
			t = &g_targets[r.below(g_targets.size())];
		cb.aio_fildes = (uint32_t)t->fd;
	} else if (f < 93) {
		fdk = FD_BAD;
		uint32_t bad[] = {0xffffffffU, 1U << 20, 999999, 0x7fffffff};
		cb.aio_fildes = r.pick(bad);
	} else if (f < 97) {
		fdk = FD_SELF;
		cb.aio_fildes = (uint32_t)s.c.fd;
	} else {
		fdk = FD_OTHERCTX;
		cb.aio_fildes = (uint32_t)g_ctx[r.below(NCTX)].fd;
	}
	const bool direct = t && t->direct;

	/* Flags. */
	int resfd = 0;
	if (r.chance(1, 8)) {
		cb.aio_flags |= IOCB_FLAG_RESFD;
		unsigned k = (unsigned)r.below(10);
		if (k < 7 && !g_eventfds.empty()) {
			cb.aio_resfd = (uint32_t)g_eventfds[r.below(g_eventfds.size())];
			resfd = 1;
		} else if (k < 9) {
			cb.aio_resfd = r.chance(1, 2) ? 0xffffffffU : 888888;
			resfd = 2;
		} else {
			cb.aio_resfd = (uint32_t)(g_pipes_r.empty() ? g_devnull : g_pipes_r[0]);
			resfd = 3;
		}
	}
	int ioprio = 0;	/* 1 valid, 2 invalid */
	if (r.chance(1, 10)) {
		cb.aio_flags |= IOCB_FLAG_IOPRIO;
		unsigned cls = (unsigned)r.below(8), lvl = (unsigned)r.below(10);
		if (r.chance(1, 2)) {
			cls = 1 + (unsigned)r.below(3);
			lvl = (unsigned)r.below(8);
		}
		if (cls == 0 && r.chance(1, 2))
			lvl = 0;
		cb.aio_reqprio = (int16_t)(uint16_t)((cls << 13) | lvl);
		bool ok = (cls == 0 && lvl == 0) || cls == 3 ||
			  ((cls == 1 || cls == 2) && lvl < 8);
		ioprio = ok ? 1 : 2;
	}
	if (r.chance(1, 50))
		/* ignored, as fs/aio.c, but for kaio's SIGEVENT bit */
		cb.aio_flags |= (uint32_t)r.next() & ~(3U | KAIO_IOCB_FLAG_SIGEVENT);
	bool reserved2 = r.chance(1, 40);
	if (reserved2)
		cb.aio_reserved2 = r.next() | 1;

	bool rwf_unknown = false, rwf_nowait = false;
	/* Mostly on reads and writes: elsewhere any bit is EINVAL. */
	if (r.chance(1, moves_data(op) ? 6 : 40)) {
		static const int fl[] = {RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND};
		cb.aio_rw_flags = (uint32_t)r.pick(fl) | (r.chance(1, 3) ? (uint32_t)r.pick(fl) : 0);
		if (r.chance(1, 10)) {
			cb.aio_rw_flags |= 1U << r.range(5, 31);
			rwf_unknown = true;
		}
		rwf_nowait = cb.aio_rw_flags & RWF_NOWAIT;
	}

	/* The opcode's own fields. */
	Draft d{.r = r, .mem = s, .cb = cb, .op = op, .t = t, .direct = direct,
		.ioprio = ioprio, .rwf_unknown = rwf_unknown, .rwf_nowait = rwf_nowait};
	op.generate(d);
	b.maxres = d.maxres;

	/* The oracle, in the ABI's order. */
	ex.failif(reserved2, EINVAL, "aio_reserved2 != 0");
	ex.failif((int64_t)cb.aio_nbytes < 0, EINVAL, "aio_nbytes negative");
	ex.reserve();
	if (op.needs_file) {
		ex.failif(fdk == FD_BAD, EBADF, "aio_fildes not open");
		ex.failif(fdk == FD_SELF, EINVAL, "aio_fildes is the context");
		if (fdk == FD_OTHERCTX)
			ex.unknown();	/* another slot: it may be closed by now */
		ex.failif(t && t->kind == TK::OPath, EBADF, "O_PATH fd");
	}
	ex.failif(resfd == 2, EBADF, "aio_resfd not open");
	ex.failif(resfd == 3, EINVAL, "aio_resfd not an eventfd");
	op.check_submit(d, ex);

	b.what = strf("%s fd=%d(%s) %s nbytes=0x%llx off=%lld rw_flags=0x%x flags=0x%x resfd=%d reqprio=0x%x reserved2=0x%llx",
		      op.valid ? op.name : strf("op%u", cb.aio_lio_opcode).c_str(),
		      (int)cb.aio_fildes,
		      fdk == FD_TARGET && t ? t->name.c_str()
					    : fdk == FD_BAD ? "bad" : fdk == FD_SELF ? "this context" : "another slot",
		      d.bufdesc.c_str(), (unsigned long long)cb.aio_nbytes,
		      (long long)cb.aio_offset, cb.aio_rw_flags, cb.aio_flags,
		      (int)cb.aio_resfd, (unsigned)(uint16_t)cb.aio_reqprio,
		      (unsigned long long)cb.aio_reserved2);
	memcpy((void *)b.ptr, &cb, sizeof(cb));
	return b;
}

std::string allowed_str(const Oracle &ex, const Ctx &c)
{
	std::string s = ex.err ? errname(ex.err) : "success";
	if (ex.after_reserve)
		s += " or EAGAIN (ring full)";
	if (c.dying)
		s += " or EINVAL (destroyed)";
	return s;
}

/* Register what a batch may produce before it can be reaped. */
void track_add(Ctx &c, const Built &b)
{
	std::lock_guard<std::mutex> l(c.mu);
	auto key = std::make_pair((uint64_t)b.ptr, b.cb.aio_data);
	auto it = c.out.find(key);
	if (it == c.out.end())
		c.out.emplace(key, Entry{b.op, b.maxres, 1, 0, false, false, b.what, b.post_err, b.post_list});
	else
		it->second.count++;
	c.obj_n[(uint64_t)b.ptr]++;
	c.n_out++;
}

void track_remove(Ctx &c, const Built &b)
{
	std::lock_guard<std::mutex> l(c.mu);
	auto it = c.out.find({(uint64_t)b.ptr, b.cb.aio_data});
	if (it == c.out.end()) {
		fail("bookkeeping", "a refused iocb's entry vanished (its event arrived?): " + b.what);
		return;
	}
	c.obj_n[(uint64_t)b.ptr]--;
	c.n_out--;
	if (--it->second.count == 0)
		c.out.erase(it);
}

/* Lock a random context's lifetime (shared); -1 if none is set up. */
int lock_some_ctx(Worker &w, std::shared_lock<std::shared_mutex> &lk)
{
	int start = (int)w.rng.below(NCTX);
	for (int i = 0; i < NCTX; i++) {
		int s = (start + i) % NCTX;
		std::shared_lock<std::shared_mutex> l(g_ctx[s].life);
		if (g_ctx[s].state != EMPTY) {
			lk = std::move(l);
			return s;
		}
	}
	return -1;
}

/*
 * KAIO_IOC_SUBMIT_LIST instead of SUBMIT: the flags (a list signal, error
 * events, inline results), their arguments sane or not, and what they let
 * the call answer.
 */
constexpr int64_t RES_FILL = 0x5a5a5a5a5a5a5a5aLL;	/* an entry never written */

struct ListCall {
	bool on = false;
	struct kaio_submit_list arg {};
	bool einval = false;		/* a bad field: EINVAL before any iocb */
	bool sig_unknown = false;	/* another thread's tid: it may be gone */
	bool signal = false, post_errors = false;
	int64_t *results = nullptr;	/* the entries, where readable */
	long res_fault = -1;		/* the first entry it cannot write */
	std::string what;
};

ListCall make_list_call(Worker &w, int n)
{
	Rng &r = w.rng;
	ListCall lc;
	struct kaio_submit_list &a = lc.arg;

	lc.on = true;
	if (r.chance(1, 2))
		a.flags |= KAIO_LIST_POST_ERRORS;
	if (r.chance(2, 3))
		a.flags |= KAIO_LIST_INLINE_RESULTS;
	if (r.chance(1, 6)) {
		/* SIGUSR1 has a handler that does nothing (main()). */
		a.flags |= KAIO_LIST_SIGNAL;
		a.sigev.signo = SIGUSR1;
		a.sigev.value = r.next();
		switch (r.below(12)) {
		case 0: a.sigev.signo = 0; lc.einval = true; break;
		case 1: a.sigev.signo = 65; lc.einval = true; break;
		case 2: a.sigev.signo = r.chance(1, 2) ? SIGKILL : SIGSTOP; lc.einval = true; break;
		case 3: a.sigev.notify = 2 + (uint32_t)r.below(100); lc.einval = true; break;
		case 4: a.sigev.tid = (int32_t)w.tid; lc.einval = true; break;	/* PROCESS with a tid */
		case 5: a.sigev.reserved[r.below(3)] = 1; lc.einval = true; break;
		case 6:
			a.sigev.notify = KAIO_SIGEV_THREAD_ID;
			a.sigev.tid = r.chance(1, 2) ? 1 : -(int32_t)r.range(0, 2);
			lc.einval = true;	/* init, or not a tid */
			break;
		case 7:
		case 8: {
			a.sigev.notify = KAIO_SIGEV_THREAD_ID;
			a.sigev.tid = g_workers[r.below(g_workers.size())]->tid;
			if (a.sigev.tid != (int32_t)w.tid)
				lc.sig_unknown = true;
			break;
		}
		default:
			break;
		}
		lc.signal = !lc.einval;
	} else if (r.chance(1, 40)) {
		a.sigev.signo = SIGUSR1;	/* a signal without the flag */
		lc.einval = true;
	}
	if (a.flags & KAIO_LIST_INLINE_RESULTS) {
		int64_t *end = w.a.results + NRES;
		switch (r.below(24)) {
		case 0: a.results = 0; lc.einval = true; break;
		case 1: a.results = KADDR + r.below(PAGE); lc.res_fault = 0; break;
		case 2: a.results = (uint64_t)g_ro + r.below(PAGE / 8) * 8; lc.res_fault = 0; break;
		case 3:
		case 4: {
			/* Entry k runs into the guard page. */
			long k = (long)r.range(0, (uint64_t)n);
			lc.results = end - k;
			lc.res_fault = k;
			break;
		}
		default:
			lc.results = w.a.results + r.below(NRES - MAXBATCH - 1);
			break;
		}
		if (lc.results) {
			a.results = (uint64_t)lc.results;
			std::fill(lc.results, std::min(end, lc.results + n + 1), RES_FILL);
		}
	} else if (r.chance(1, 40)) {
		a.results = (uint64_t)w.a.results;	/* results without the flag */
		lc.einval = true;
	}
	switch (r.below(60)) {
	case 0: a.flags |= 1U << r.range(3, 31); lc.einval = true; break;
	case 1: a.reserved0 = (uint32_t)r.next() | 1; lc.einval = true; break;
	case 2: a.reserved[r.below(3)] = r.next() | 1; lc.einval = true; break;
	default: break;
	}
	lc.post_errors = a.flags & KAIO_LIST_POST_ERRORS;
	lc.what = strf("SUBMIT_LIST flags=0x%x signo=%u notify=%u tid=%d results=0x%llx (fault at %ld)%s",
		       a.flags, a.sigev.signo, a.sigev.notify, a.sigev.tid,
		       (unsigned long long)a.results, lc.res_fault, lc.einval ? " bad" : "");
	return lc;
}

/* The inline results of the requests a SUBMIT_LIST took, as events. */
void take_inline_results(Ctx &c, int slot, const ListCall &lc,
			 const std::vector<Built> &bs, long accepted)
{
	for (long i = 0; i < accepted && i < (long)bs.size(); i++) {
		const Built &b = bs[(size_t)i];
		const int64_t v = lc.results[i];

		if (!b.pool)
			continue;
		if (v == KAIO_RESULT_IN_RING) {
			count("SUBMIT_LIST results in the ring");
			continue;
		}
		count("SUBMIT_LIST results inline");
		if (v == RES_FILL) {
			fail("SUBMIT_LIST results", strf("entry %ld of a taken iocb not written: ", i) + b.what);
			continue;
		}
		if ((b.cb.aio_flags & IOCB_FLAG_RESFD) || lc.signal)
			fail("SUBMIT_LIST inline result of a request with a notification",
			     strf("entry %ld = %s: ", i, resname(v).c_str()) + b.what + "; " + lc.what);
		struct io_event ev = {};
		ev.data = b.cb.aio_data;
		ev.obj = (uint64_t)b.ptr;
		ev.res = v;
		std::lock_guard<std::mutex> l(c.mu);
		consume_one(c, slot, ev, "inline result", true);
	}
}

void act_submit(Worker &w)
{
	std::shared_lock<std::shared_mutex> lk;
	int slot = lock_some_ctx(w, lk);
	if (slot < 0)
		return;
	Ctx &c = g_ctx[slot];
	Rng &r = w.rng;
	/*
	 * A read may be aimed at this (chaos) context's ring: it must not be
	 * unmapped, and another context's ring mapped there, under us.
	 */
	std::shared_lock<std::shared_mutex> rl(c.reap);
	SubmitCtx s{w, c, slot};

	/* Sometimes the buffers go away while the requests run. */
	if (r.chance(1, 10)) {
		/*
		 * With a guard page: a read longer than what is left of it must
		 * fault there, not fill whatever is mapped next (once a malloc
		 * arena, whose zeroed tree nodes crashed the fuzzer).
		 */
		s.temp_len = (size_t)r.range(1, 16) * PAGE;
		void *p = mmap(nullptr, s.temp_len + PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			mprotect((uint8_t *)p + s.temp_len, PAGE, PROT_NONE);
			s.temp = (uint8_t *)p;
			memset(s.temp, 0x5a, s.temp_len);
		}
	}

	int n = r.chance(3, 4) ? (int)r.range(1, 3) : (int)r.range(1, MAXBATCH);
	std::vector<Built> bs;
	bs.reserve((size_t)n);
	for (int i = 0; i < n; i++)
		bs.push_back(build_iocb(s));
	if (n >= 2 && r.chance(1, 30) && bs[0].pool) {
		bs[1] = bs[0];	/* the same iocb twice */
		bs[1].ptr = bs[0].ptr;
	}
	ListCall lc = r.chance(1, 4) ? make_list_call(w, n) : ListCall{};
	if (lc.post_errors) {
		for (auto &b : bs) {
			/*
			 * A readable iocb not ours (read-only) would get an
			 * error event the bookkeeping cannot expect: one that
			 * cannot be read stops the call instead.
			 */
			if (!b.pool)
				b.ptr = (struct iocb *)g_none;
			/* Its own errno, if it has one, comes as its event. */
			else if (b.ex.known && b.ex.err)
				b.post_err = b.ex.err;
			b.post_list = true;
		}
	}
	/* Pointers past the batch stay NULL: they must never be submitted. */
	struct iocb **pp = w.a.iocbpp;
	memset(pp, 0, (MAXBATCH + 1024) * sizeof(*pp));
	for (int i = 0; i < n; i++)
		pp[i] = bs[i].ptr;

	int64_t nr = n;
	uint64_t ppaddr = (uint64_t)pp;
	bool nr_neg = false, pp_bad = false, arg_bad = false;
	switch (r.below(40)) {
	case 0: nr = -(int64_t)r.range(1, 100); nr_neg = true; break;
	case 1: nr = 0; break;
	case 2: nr = n + (int64_t)r.range(1, 1000); break;	/* NULLs after */
	case 3: nr = (int64_t)(1ULL << 40); break;		/* clamped */
	case 4: ppaddr = r.chance(1, 2) ? 0 : KADDR; pp_bad = true; break;
	default: break;
	}
	struct kaio_submit *arg = (struct kaio_submit *)(w.a.args + PAGE - sizeof(struct kaio_submit));
	struct kaio_submit_list *larg =
		(struct kaio_submit_list *)(w.a.args + PAGE - sizeof(struct kaio_submit_list));
	uint64_t argaddr = lc.on ? (uint64_t)larg : (uint64_t)arg;
	if (r.chance(1, 60)) {
		argaddr = r.chance(1, 2) ? KADDR : (uint64_t)(w.a.args + PAGE - 8);
		arg_bad = true;
	}
	if (lc.on) {
		*larg = lc.arg;
		larg->nr = nr;
		larg->iocbpp = ppaddr;
	} else {
		arg->nr = nr;
		arg->iocbpp = ppaddr;
	}

	for (auto &b : bs)
		if (b.pool)
			track_add(c, b);
	const bool dying = c.dying, replaced = c.replaced;
	long ret;
	{
		CallGuard g(w, lc.on ? "SUBMIT_LIST" : "SUBMIT");
		ret = kioctl(c.fd, lc.on ? KAIO_IOC_SUBMIT_LIST : KAIO_IOC_SUBMIT, (void *)argaddr);
	}
	if (s.temp && r.chance(3, 4))
		munmap(s.temp, s.temp_len + PAGE);	/* while in flight */
	else if (s.temp)
		madvise(s.temp, s.temp_len, MADV_DONTNEED);

	const std::string call = lc.on ? "SUBMIT_LIST" : "SUBMIT";
	count(ret >= 0 ? call + " ok" : call + " " + errname(ret));
	const int64_t cap = c.nr_events;
	long accepted = ret > 0 ? ret : 0;
	const bool fdnull = replaced || c.replaced;
	/* How many may have been taken at most. */
	int64_t maxacc = arg_bad || pp_bad || nr_neg ? 0 : std::min<int64_t>(nr, cap);
	for (int i = 0; i < n && i < maxacc; i++)
		if (!bs[i].pool) {
			maxacc = i;
			break;
		}
	if (lc.einval)
		maxacc = 0;
	else if (lc.res_fault >= 0)
		maxacc = std::min<int64_t>(maxacc, lc.res_fault);
	std::string batch = strf("ctx %d nr=%lld batch=%d: first %s", slot, (long long)nr, n,
				 bs[0].what.c_str());
	if (lc.on)
		batch += "; " + lc.what;
	if (ret < 0) {
		long e = -ret;
		if (fdnull && e == ENOTTY) {
			/* the fd is /dev/null now */
		} else if ((dying || c.dying) && e == EINVAL) {
			/* destroyed: checked before anything is read */
		} else if (!SUBMIT_ERRS.count(e)) {
			fail("SUBMIT errno not documented: " + errname(e), batch);
		} else if (arg_bad) {
			if (e != EFAULT)
				fail("SUBMIT bad argument", "want EFAULT, got " + errname(e) + ": " + batch);
		} else if (nr_neg || lc.einval) {
			if (e != EINVAL)
				fail(call + (nr_neg ? " nr < 0" : " bad fields"),
				     "want EINVAL, got " + errname(e) + ": " + batch);
		} else if (lc.sig_unknown && e == EINVAL) {
			/* the thread the signal names has exited */
		} else if (nr == 0) {
			fail(call + " nr == 0", "want 0, got " + errname(e));
		} else if (pp_bad) {
			if (e != EFAULT)
				fail(call + " iocbpp bad", "want EFAULT, got " + errname(e));
		} else if (lc.res_fault == 0) {
			if (e != EFAULT)
				fail("SUBMIT_LIST results not writable",
				     "want EFAULT, got " + errname(e) + ": " + batch);
		} else if (lc.post_errors) {
			/* It stops only where it cannot read, or takes no more. */
			if (e != EAGAIN && !(e == EFAULT && !bs[0].pool))
				fail("SUBMIT_LIST POST_ERRORS stopped at an iocb's errno",
				     "got " + errname(e) + ": " + batch);
		} else {
			const Oracle &ex = bs[0].ex;
			bool ok = ex.known ? (e == ex.err || (ex.after_reserve && e == EAGAIN))
					   : true;
			if (ex.known && !ok)
				fail("SUBMIT oracle: " + std::string(ex.err ? errname(ex.err) : "success") +
					     " (" + ex.why + ")",
				     "want " + allowed_str(ex, c) + ", got " + errname(e) + ": " + batch);
		}
	} else {
		if (ret > maxacc)
			fail("SUBMIT accepted too many",
			     strf("ret=%ld, at most %lld could be taken: ", ret, (long long)maxacc) + batch);
		else if (ret == 0 && nr > 0 && !pp_bad && !arg_bad)
			fail(call + " returned 0", "nr > 0 but nothing queued and no errno: " + batch);
		if (ret >= 1 && bs[0].ex.known && bs[0].ex.err && !lc.post_errors)
			fail("SUBMIT oracle: accepted a bad iocb (" + bs[0].ex.why + ")",
			     "want " + allowed_str(bs[0].ex, c) + ": " + bs[0].what);
	}
	{
		std::lock_guard<std::mutex> l(c.mu);
		c.accepted += (uint64_t)accepted;
	}
	count("accepted", (uint64_t)accepted);
	if (lc.results && accepted > 0 && accepted <= maxacc)
		take_inline_results(c, slot, lc, bs, accepted);
	for (int i = 0; i < n; i++)
		if (bs[i].pool && i >= accepted)
			track_remove(c, bs[i]);
}

/* ---- GETEVENTS -------------------------------------------------------- */

/* Under life (shared) and reap (shared). */
long getevents(Worker &w, Ctx &c, int slot, int64_t min_nr, int64_t nr,
	       const struct __kernel_timespec *ts, const char *why)
{
	struct kaio_getevents ge = {};
	ge.min_nr = min_nr;
	ge.nr = std::min<int64_t>(nr, NEV);
	ge.events = (uint64_t)w.a.ev;
	ge.timeout = (uint64_t)ts;
	long ret;
	{
		CallGuard g(w, why);
		ret = kioctl(c.fd, KAIO_IOC_GETEVENTS, &ge);
	}
	if (ret > 0) {
		std::lock_guard<std::mutex> l(c.mu);
		for (long i = 0; i < ret; i++)
			consume_one(c, slot, w.a.ev[i], "GETEVENTS");
	}
	return ret;
}

void act_getevents(Worker &w)
{
	std::shared_lock<std::shared_mutex> lk;
	int slot = lock_some_ctx(w, lk);
	if (slot < 0)
		return;
	Ctx &c = g_ctx[slot];
	Rng &r = w.rng;
	std::shared_lock<std::shared_mutex> rl(c.reap);

	struct Args {
		struct kaio_getevents ge;
		struct __kernel_timespec ts;
		uint64_t mask;
	};
	Args *a = (Args *)(w.a.args + PAGE - sizeof(Args));
	memset(a, 0, sizeof(*a));
	int64_t nr = r.chance(9, 10) ? r.range(0, NEV) : (r.chance(1, 2) ? -r.range(1, 10) : (int64_t)(1ULL << 40));
	int64_t min_nr = r.chance(1, 2) ? 0 : r.range(0, std::max<int64_t>(0, std::min<int64_t>(nr, 8)));
	if (r.chance(1, 20))
		min_nr = r.chance(1, 2) ? -1 : nr + 1;
	a->ge.nr = nr;
	a->ge.min_nr = min_nr;

	/* Where the events go. */
	bool ev_bad = false, ev_ok = true;
	switch (r.below(30)) {
	case 0: a->ge.events = 0; ev_bad = true; break;
	case 1: a->ge.events = KADDR; ev_bad = true; break;
	case 2: a->ge.events = (uint64_t)g_ro; ev_bad = true; break;
	case 3: a->ge.events = (uint64_t)g_none; ev_bad = true; break;
	case 4: a->ge.events = (uint64_t)((uint8_t *)w.a.ev + 3); ev_ok = false; break;
	default: a->ge.events = (uint64_t)w.a.ev; break;
	}
	/* nr past the buffer: the copy runs into the guard (EFAULT). */
	if (nr > NEV)
		ev_ok = false;

	/* Timeout: always short, never none while min_nr > 0. */
	bool to_bad = false;
	unsigned tk = (unsigned)r.below(20);
	if (tk == 0 && min_nr <= 0) {
		a->ge.timeout = 0;
	} else if (tk == 1) {
		a->ge.timeout = r.chance(1, 2) ? KADDR : (uint64_t)g_none;
		to_bad = true;
	} else {
		a->ts.tv_sec = 0;
		switch (r.below(6)) {
		case 0: a->ts.tv_nsec = 0; break;
		case 1: a->ts.tv_sec = -1; a->ts.tv_nsec = (long long)r.below(1000000000); break;
		case 2: a->ts.tv_sec = -1000; break;
		default: a->ts.tv_nsec = (long long)r.below(20000000); break;
		}
		a->ge.timeout = (uint64_t)&a->ts;
	}
	/* Signal mask. */
	bool sig_size_bad = false, sig_bad = false;
	if (r.chance(1, 6)) {
		unsigned sk = (unsigned)r.below(10);
		sigset_t *ss = (sigset_t *)&a->mask;
		a->mask = 0;
		if (r.chance(1, 2))
			a->mask |= 1ULL << (SIGUSR1 - 1);
		(void)ss;
		a->ge.sigmask = (uint64_t)&a->mask;
		a->ge.sigsetsize = 8;
		if (sk == 0) {
			a->ge.sigsetsize = r.chance(1, 2) ? 128 : 0;
			sig_size_bad = true;
		} else if (sk == 1) {
			a->ge.sigmask = KADDR;
			sig_bad = true;
		}
	} else if (r.chance(1, 10)) {
		a->ge.sigsetsize = r.next();	/* ignored without a mask */
	}
	uint64_t argaddr = (uint64_t)&a->ge;
	bool arg_bad = false;
	if (r.chance(1, 60)) {
		argaddr = r.chance(1, 2) ? 0 : (uint64_t)(w.a.args + PAGE - 16);
		arg_bad = true;
	}
	const bool dying = c.dying, replaced = c.replaced;
	long ret;
	{
		CallGuard g(w, "GETEVENTS");
		ret = kioctl(c.fd, KAIO_IOC_GETEVENTS, (void *)argaddr);
	}
	count(ret >= 0 ? "GETEVENTS ok" : "GETEVENTS " + errname(ret));
	std::string desc = strf("ctx %d min_nr=%lld nr=%lld events=0x%llx timeout=0x%llx sigmask=0x%llx sigsetsize=%llu",
				slot, (long long)min_nr, (long long)nr,
				(unsigned long long)a->ge.events, (unsigned long long)a->ge.timeout,
				(unsigned long long)a->ge.sigmask,
				(unsigned long long)a->ge.sigsetsize);
	if (ret < 0) {
		long e = -ret;
		int want = 0;
		if (arg_bad)
			want = EFAULT;
		else if (to_bad)
			want = EFAULT;
		else if (sig_size_bad)
			want = EINVAL;
		else if (sig_bad)
			want = EFAULT;
		else if (min_nr < 0 || min_nr > nr)
			want = EINVAL;
		if ((replaced || c.replaced) && e == ENOTTY)
			return;
		if ((dying || c.dying) && e == EINVAL)
			return;
		if (!GETEV_ERRS.count(e))
			fail("GETEVENTS errno not documented: " + errname(e), desc);
		else if (want && e != want)
			fail("GETEVENTS oracle: " + errname(want), "got " + errname(e) + ": " + desc);
		else if (!want && e == EFAULT && !ev_bad && ev_ok)
			fail("GETEVENTS EFAULT", "a writable buffer: " + desc);
		else if (!want && e == EINVAL)
			fail("GETEVENTS EINVAL", "valid arguments, context alive: " + desc);
		return;
	}
	if (arg_bad || to_bad || sig_size_bad || sig_bad || min_nr < 0 || min_nr > nr) {
		fail("GETEVENTS accepted bad arguments", strf("ret=%ld: ", ret) + desc);
		return;
	}
	if (ret > nr) {
		fail("GETEVENTS returned more than nr", strf("ret=%ld: ", ret) + desc);
		return;
	}
	if (ret > 0 && ev_bad) {
		fail("GETEVENTS lost events", strf("ret=%ld although events are not writable: ", ret) + desc);
		return;
	}
	if (ret > 0) {
		std::vector<struct io_event> evs((size_t)ret);
		memcpy(evs.data(), (void *)a->ge.events, (size_t)ret * sizeof(struct io_event));
		std::lock_guard<std::mutex> l(c.mu);
		for (auto &ev : evs)
			consume_one(c, slot, ev, "GETEVENTS");
	}
}

/* ---- CANCEL ----------------------------------------------------------- */

void act_cancel(Worker &w)
{
	std::shared_lock<std::shared_mutex> lk;
	int slot = lock_some_ctx(w, lk);
	if (slot < 0)
		return;
	Ctx &c = g_ctx[slot];
	Rng &r = w.rng;
	struct kaio_cancel *arg = (struct kaio_cancel *)(w.a.args + PAGE - sizeof(struct kaio_cancel));
	uint64_t iocb = 0;
	int kind;	/* 0 outstanding, 1 bad pointer, 2 ours never here, 3 key != 0 */
	bool unique = false;
	const OpSpec *op = nullptr;
	{
		std::lock_guard<std::mutex> l(c.mu);
		unsigned k = (unsigned)r.below(10);
		if (k < 7 && !c.out.empty()) {
			auto it = c.out.begin();
			std::advance(it, (long)r.below(std::min<size_t>(c.out.size(), 64)));
			iocb = it->first.first;
			op = it->second.op;
			kind = 0;
			for (auto jt = c.out.lower_bound({iocb, 0}); jt != c.out.end() && jt->first.first == iocb; ++jt) {
				jt->second.cancel_pending++;
				jt->second.cancel_tried = true;
			}
			unique = c.obj_n[iocb] == 1;
		} else if (k < 8) {
			uint64_t bad[] = {0, KADDR, (uint64_t)g_none, LOWADDR};
			iocb = r.pick(bad);
			kind = 1;
		} else {
			/* A fresh iocb of ours: never submitted here (key 0 or not). */
			uint8_t *slotp = w.a.pool + (w.a.next_iocb++ % NPOOL) * POOLSLOT;
			struct iocb cb = {};
			cb.aio_key = r.chance(1, 2) ? 0 : 1 + (uint32_t)r.below(1000);
			memcpy(slotp, &cb, sizeof(cb));
			iocb = (uint64_t)slotp;
			kind = cb.aio_key ? 3 : 2;
			/* The slot may hold an outstanding iocb: then it is that one's cancel. */
			if (c.obj_n.count(iocb) && c.obj_n[iocb] > 0) {
				kind = 0;
				for (auto jt = c.out.lower_bound({iocb, 0}); jt != c.out.end() && jt->first.first == iocb; ++jt) {
					jt->second.cancel_pending++;
					jt->second.cancel_tried = true;
					op = jt->second.op;
				}
				unique = c.obj_n[iocb] == 1 && !cb.aio_key;
			}
		}
	}
	arg->iocb = iocb;
	arg->result = r.chance(1, 2) ? r.next() : 0;
	uint64_t argaddr = (uint64_t)arg;
	bool arg_bad = r.chance(1, 60);
	if (arg_bad)
		argaddr = KADDR;
	const bool dying = c.dying, replaced = c.replaced;
	long ret;
	{
		CallGuard g(w, "CANCEL");
		ret = kioctl(c.fd, KAIO_IOC_CANCEL, (void *)argaddr);
	}
	count(ret >= 0 ? "CANCEL ok" : "CANCEL " + errname(ret));
	std::string desc = strf("ctx %d iocb=0x%llx kind=%d", slot, (unsigned long long)iocb, kind);
	if (kind == 0) {
		std::lock_guard<std::mutex> l(c.mu);
		for (auto jt = c.out.lower_bound({iocb, 0}); jt != c.out.end() && jt->first.first == iocb; ++jt) {
			jt->second.cancel_pending--;
			if (ret == -EINPROGRESS && unique && !arg_bad)
				jt->second.cancelled = true;
		}
	}
	if (ret >= 0) {
		fail("CANCEL returned success", strf("ret=%ld (never 0: EINPROGRESS when cancelled): ", ret) + desc);
		return;
	}
	long e = -ret;
	if ((replaced || c.replaced) && e == ENOTTY)
		return;
	if ((dying || c.dying) && e == EINVAL)
		return;
	if (!CANCEL_ERRS.count(e)) {
		fail("CANCEL errno not documented: " + errname(e), desc);
		return;
	}
	int want = 0;
	if (arg_bad || kind == 1)
		want = EFAULT;
	else if (kind == 2 || kind == 3)
		want = EINVAL;
	if (want && e != want)
		fail("CANCEL oracle: " + errname(want), "got " + errname(e) + ": " + desc);
	else if (!want && kind == 0 && e == EFAULT)
		fail("CANCEL EFAULT", "on a submitted iocb: " + desc);
	if (kind == 0 && e == EINPROGRESS)
		count(std::string("CANCEL EINPROGRESS ") + (op ? op->name : "?"));
}

/* ---- SETUP, close, DESTROY ------------------------------------------- */

void set_ring(Ctx &c, void *p, size_t len)
{
	c.ring = (struct kaio_ring *)p;
	c.ring_len = len;
	c.ring_addr = (uint64_t)p;
}

/* Map the ring (again); a new one must be empty. */
void map_ring(Ctx &c, bool fresh)
{
	void *p = mmap(nullptr, c.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
	if (p == MAP_FAILED) {
		fail("mmap of the ring", errname(errno));
		return;
	}
	set_ring(c, p, c.ring_size);
	struct kaio_ring *r = c.ring;
	if (c.chaos && !fresh)
		return;
	if (r->id != (uint32_t)c.fd || r->nr != c.nr_events + 1 || r->magic != KAIO_RING_MAGIC ||
	    (fresh && (r->head != 0 || r->tail != 0)) || r->header_length != sizeof(*r) ||
	    sizeof(*r) + (size_t)r->nr * sizeof(struct io_event) > c.ring_size)
		fail("new ring header",
		     strf("id=%u (fd %d) nr=%u (nr_events %u) magic=0x%x head=%u tail=%u header_length=%u ring_size=%llu",
			  r->id, c.fd, r->nr, c.nr_events, r->magic, r->head, r->tail,
			  r->header_length, (unsigned long long)c.ring_size));
}

/* SETUP with random arguments; a context that works goes into @slot (or is closed). */
void act_setup(Worker &w, int slot)
{
	Rng &r = w.rng;
	struct kaio_setup *su = (struct kaio_setup *)(w.a.args + PAGE - sizeof(struct kaio_setup));
	memset(su, 0, sizeof(*su));
	uint32_t nr;
	switch (r.below(20)) {
	case 0: nr = 0; break;
	case 1: nr = 4194304 + (uint32_t)r.below(100); break;
	case 2: nr = 0xffffffffU; break;
	case 3: nr = 65536 + (uint32_t)r.below(1000); break;	/* over max_events */
	case 4: nr = (uint32_t)r.range(1000, 4000); break;
	default: nr = (uint32_t)r.range(1, 300); break;
	}
	su->nr_events = nr;
	bool res2 = r.chance(1, 2);
	su->flags = res2 ? KAIO_SETUP_RES2_PATH : 0;
	bool flag_bad = r.chance(1, 30), rsv_bad = r.chance(1, 30);
	if (flag_bad) {
		/* a bit SETUP does not know (bit 1 is WRITES_IN_SUBMIT now) */
		uint32_t bit;

		do
			bit = 1U << r.range(1, 31);
		while (bit & KAIO_SETUP_FLAGS);
		su->flags |= bit;
	}
	if (rsv_bad)
		su->reserved[r.below(3)] = r.next() | 1;
	su->ring_size = r.next();	/* out only */
	su->features = r.next();
	su->opcodes = ~su->features;	/* out only; no draw: seeds replay */
	uint64_t argaddr = (uint64_t)su;
	bool arg_bad = false;
	switch (r.below(60)) {
	case 0: argaddr = 0; arg_bad = true; break;
	case 1: argaddr = KADDR; arg_bad = true; break;
	case 2: argaddr = (uint64_t)g_ro; arg_bad = true; break;	/* not writable */
	case 3: argaddr = (uint64_t)(w.a.args + PAGE - 16); arg_bad = true; break;
	default: break;
	}
	long fd;
	{
		CallGuard g(w, "SETUP");
		fd = kioctl(g_devfd, KAIO_IOC_SETUP, (void *)argaddr);
	}
	count(fd >= 0 ? "SETUP ok" : "SETUP " + errname(fd));
	std::string desc = strf("nr_events=%u flags=0x%x reserved=%llx,%llx,%llx arg=0x%llx", nr,
				su->flags, (unsigned long long)su->reserved[0],
				(unsigned long long)su->reserved[1], (unsigned long long)su->reserved[2],
				(unsigned long long)argaddr);
	/* g_ro holds zeros there: nr_events 0, EINVAL, unless the write-back fails first. */
	int want = 0;
	if (arg_bad && argaddr != (uint64_t)g_ro)
		want = EFAULT;
	else if (argaddr == (uint64_t)g_ro)
		want = EINVAL;	/* g_ro + 0 is a NOOP iocb: nr_events = low bits of aio_data (0) */
	else if (flag_bad || rsv_bad || nr == 0 || nr > 4194304)
		want = EINVAL;
	if (fd < 0) {
		long e = -fd;
		if (!SETUP_ERRS.count(e))
			fail("SETUP errno not documented: " + errname(e), desc);
		else if (want && e != want)
			fail("SETUP oracle: " + errname(want), "got " + errname(e) + ": " + desc);
		else if (!want && e != EAGAIN && e != ENOMEM && e != EMFILE)
			fail("SETUP refused valid arguments", errname(e) + ": " + desc);
		return;
	}
	if (want) {
		fail("SETUP oracle: " + errname(want), strf("got fd %ld: ", fd) + desc);
		close((int)fd);
		return;
	}
	if (su->nr_events < nr || su->ring_size < sizeof(struct kaio_ring) + (uint64_t)(su->nr_events + 1) * sizeof(struct io_event) ||
	    su->ring_size % PAGE ||
	    (su->features & (KAIO_FEAT_RING_MMAP | KAIO_FEAT_EVENTFD)) != (KAIO_FEAT_RING_MMAP | KAIO_FEAT_EVENTFD) ||
	    !(su->features & KAIO_FEAT_OPCODES) || (su->opcodes & valid_opcodes()) != valid_opcodes() ||
	    (su->opcodes & (1ULL << 4)) ||	/* the retired IOCB_CMD_PREADX */
	    !(fcntl((int)fd, F_GETFD) & FD_CLOEXEC))
		fail("SETUP results",
		     strf("asked %u, got nr_events=%u ring_size=%llu features=0x%llx opcodes=0x%llx cloexec=%d", nr,
			  su->nr_events, (unsigned long long)su->ring_size,
			  (unsigned long long)su->features, (unsigned long long)su->opcodes, !!(fcntl((int)fd, F_GETFD) & FD_CLOEXEC)));
	Ctx *c = slot >= 0 ? &g_ctx[slot] : nullptr;
	if (!c || c->state != EMPTY || su->nr_events > 8192) {
		/* Churn: a context that lives for one call. */
		if (r.chance(1, 2)) {
			struct iocb cb = {};
			cb.aio_lio_opcode = IOCB_CMD_NOOP;
			struct iocb *p = &cb;
			struct kaio_submit sb = {1, (uint64_t)&p};
			long s = kioctl((int)fd, KAIO_IOC_SUBMIT, &sb);
			if (s != 1)
				fail("NOOP on a new context", resname(s));
		}
		close((int)fd);
		return;
	}
	c->fd = (int)fd;
	c->nr_events = su->nr_events;
	c->ring_size = su->ring_size;
	c->res2 = res2;
	c->chaos = r.chance(1, 4);
	c->dying = false;
	c->replaced = false;
	c->gen++;
	{
		std::lock_guard<std::mutex> l(c->mu);
		c->out.clear();
		c->obj_n.clear();
		c->n_out = 0;
		c->accepted = 0;
		c->events = 0;
		c->closing = false;
	}
	if (r.chance(4, 5))
		map_ring(*c, true);
	c->state = OPEN;
	count(c->chaos ? "contexts (chaos)" : "contexts (strict)");
}

void unmap_all(Ctx &c)
{
	if (c.ring)
		munmap(c.ring, c.ring_len);
	set_ring(c, nullptr, 0);
	for (auto &m : c.extra)
		munmap(m.first, m.second);
	c.extra.clear();
}

/*
 * Cancel every outstanding request of an opcode that may wait for ever
 * (POLL): nothing else would end it. Under life.
 */
void cancel_endless(Ctx &c)
{
	std::vector<std::pair<uint64_t, const OpSpec *>> endless;
	{
		std::lock_guard<std::mutex> l(c.mu);
		for (auto &e : c.out)
			if (e.second.op->may_wait_forever) {
				endless.push_back({e.first.first, e.second.op});
				e.second.cancel_tried = true;
			}
	}
	for (auto [p, op] : endless) {
		struct kaio_cancel ca = {p, 0};
		/*
		 * Pool slots are reused while a POLL waits: a later iocb built
		 * over its slot may have left aio_key != 0 there, and CANCEL,
		 * as io_cancel, then says EINVAL. A program cancelling its own
		 * request has its iocb as SUBMIT left it: restore the key.
		 */
		auto *key = (uint32_t *)(p + offsetof(struct iocb, aio_key));
		if (*key) {
			*key = 0;
			count(strf("close: %s iocb's key restored (slot reused)", op->name));
		}
		kioctl(c.fd, KAIO_IOC_CANCEL, &ca);
	}
}

std::string missing(Ctx &c)
{
	std::lock_guard<std::mutex> l(c.mu);
	std::string s = strf("%lld outstanding:", (long long)c.n_out);
	int n = 0;
	for (auto &e : c.out) {
		if (n++ == 4) {
			s += " ...";
			break;
		}
		s += strf(" [obj=0x%llx data=0x%llx x%d%s%s: %s]", (unsigned long long)e.first.first,
			  (unsigned long long)e.first.second, e.second.count,
			  e.second.cancelled ? " cancelled" : "",
			  e.second.cancel_tried ? " cancel-tried" : "", e.second.what.c_str());
	}
	return s;
}

/* Outstanding requests; @endless_too: also those that may wait for ever. */
int64_t n_out(Ctx &c, bool endless_too = true)
{
	std::lock_guard<std::mutex> l(c.mu);
	if (endless_too)
		return c.n_out;
	int64_t n = 0;
	for (auto &e : c.out)
		if (!e.second.op->may_wait_forever)
			n += e.second.count;
	return n;
}

/* Reap from the ring until nothing (but POLLs and such, if @endless_ok) is missing. */
bool ring_drain(Ctx &c, int slot, int secs, bool endless_ok)
{
	int64_t end = now_ns() + (int64_t)secs * 1000000000LL;
	for (;;) {
		ring_reap(c, slot);
		if (n_out(c, !endless_ok) == 0)
			return true;
		if (now_ns() > end)
			return false;
		usleep(2000);
	}
}

/* The accounting at a graceful close: under life exclusive, all reaped. */
void check_fdinfo(Ctx &c, int slot)
{
	std::string fi = read_file(strf("/proc/self/fdinfo/%d", c.fd).c_str());
	long long inf = field(fi, "in_flight"), sub = field(fi, "submitted"),
		  comp = field(fi, "completed");
	uint64_t acc;
	{
		std::lock_guard<std::mutex> l(c.mu);
		acc = c.accepted;
	}
	if (inf != 0 || sub != comp || sub != (long long)acc)
		fail("fdinfo after reaping everything",
		     strf("ctx %d: in_flight=%lld submitted=%lld completed=%lld, accepted %llu",
			  slot, inf, sub, comp, (unsigned long long)acc));
}

/*
 * Close a context, the way @how says; under life exclusive. Strict
 * contexts whose events can still be seen must deliver every one.
 */
enum CloseHow { CL_GRACEFUL, CL_MAPPED, CL_ABRUPT };

void close_ctx(Worker &w, int slot, CloseHow how)
{
	Ctx &c = g_ctx[slot];
	{
		std::lock_guard<std::mutex> l(c.mu);
		c.closing = true;
	}
	const bool check = !c.chaos;
	/* A chaos ring may have lost events: nothing to wait for. */
	if (c.chaos)
		how = CL_ABRUPT;
	CallGuard g(w, "close");
	if (c.state == REPLACED || c.state == DESTROYED) {
		/* No ioctl works: the ring is the only way to the events. */
		if (c.state == DESTROYED)
			how = CL_MAPPED;
		if (check && c.ring && c.ring_len == c.ring_size && how != CL_ABRUPT) {
			close(c.fd);
			bool endless_ok = c.state == REPLACED;	/* nobody could cancel */
			if (!ring_drain(c, slot, 30, endless_ok))
				fail(c.state == DESTROYED ? "events missing after DESTROY"
							  : "events missing after close (ring mapped)",
				     strf("ctx %d: ", slot) + missing(c));
			unmap_all(c);
		} else {
			unmap_all(c);
			close(c.fd);
		}
	} else if (how == CL_GRACEFUL) {
		cancel_endless(c);
		int64_t end = now_ns() + 30 * 1000000000LL;
		struct __kernel_timespec ts = {0, 50000000};
		while (n_out(c) > 0 && now_ns() < end) {
			long r = getevents(w, c, slot, 1, NEV, &ts, "GETEVENTS (close)");
			if (r < 0 && r != -EINTR) {
				fail("GETEVENTS while closing", resname(r));
				break;
			}
		}
		if (check && n_out(c) > 0)
			fail("events missing at close", strf("ctx %d after 30 s: ", slot) + missing(c));
		else if (check)
			check_fdinfo(c, slot);
		unmap_all(c);
		close(c.fd);
	} else if (how == CL_MAPPED && c.ring && c.ring_len == c.ring_size) {
		/* The mapping keeps the context: its requests post to the ring. */
		cancel_endless(c);
		close(c.fd);
		if (check && !ring_drain(c, slot, 30, false))
			fail("events missing after close (ring mapped)", strf("ctx %d: ", slot) + missing(c));
		unmap_all(c);
	} else {
		/* Requests in flight: close waits for them. */
		unmap_all(c);
		close(c.fd);
	}
	count(strf("close %s", how == CL_GRACEFUL ? "graceful" : how == CL_MAPPED ? "mapped" : "abrupt"));
	c.state = EMPTY;
	c.fd = -1;
	std::lock_guard<std::mutex> l(c.mu);
	c.out.clear();
	c.obj_n.clear();
	c.n_out = 0;
}

void act_close(Worker &w)
{
	/* Mostly contexts that are of no use any more (destroyed, replaced). */
	int slot = (int)w.rng.below(NCTX);
	if (w.rng.chance(3, 4))
		for (int i = 0; i < NCTX; i++)
			if (g_ctx[i].state == DESTROYED || g_ctx[i].state == REPLACED) {
				slot = i;
				break;
			}
	Ctx &c = g_ctx[slot];
	unsigned k = (unsigned)w.rng.below(20);
	if (k == 0) {
		/* Replace the fd under everyone's feet (dup2: the number stays ours). */
		std::shared_lock<std::shared_mutex> lk(c.life);
		int st = OPEN;
		if (!c.state.compare_exchange_strong(st, REPLACED))
			return;
		c.replaced = true;
		if (dup2(g_devnull, c.fd) < 0)
			fail("dup2", errname(errno));
		count("close by dup2");
		return;
	}
	std::unique_lock<std::shared_mutex> lk(c.life);
	if (c.state == EMPTY)
		return;
	close_ctx(w, slot, k < 12 ? CL_GRACEFUL : k < 16 ? CL_MAPPED : CL_ABRUPT);
}

void act_destroy(Worker &w)
{
	int slot;
	uint64_t gen;
	{
		std::shared_lock<std::shared_mutex> lk;
		slot = lock_some_ctx(w, lk);
		if (slot < 0)
			return;
		Ctx &c = g_ctx[slot];
		if (c.state != OPEN && c.state != DESTROYED)
			return;
		gen = c.gen;
		bool again = c.dying.exchange(true);
		long ret;
		{
			CallGuard g(w, "DESTROY");
			ret = kioctl(c.fd, KAIO_IOC_DESTROY, nullptr);
		}
		count("DESTROY " + resname(ret));
		if (ret == -ENOTTY && c.replaced)
			return;
		if (again) {
			if (ret != -EINVAL && ret != 0)
				fail("DESTROY twice", "want EINVAL, got " + resname(ret));
		} else if (ret != 0 && ret != -EINVAL) {
			fail("DESTROY", "want 0, got " + resname(ret));
		}
		int st = OPEN;
		if (ret == 0)
			c.state.compare_exchange_strong(st, DESTROYED);
	}
	/* Once the calls racing with it are out: all of its events are in the ring. */
	Ctx &c = g_ctx[slot];
	std::unique_lock<std::shared_mutex> lk(c.life);
	if (c.gen != gen || c.state != DESTROYED)
		return;
	/* Every later call fails with EINVAL. */
	struct kaio_getevents ge = {0, 1, (uint64_t)w.a.ev, 0, 0, 0};
	long r1 = kioctl(c.fd, KAIO_IOC_GETEVENTS, &ge);
	long r2 = kioctl(c.fd, KAIO_IOC_DESTROY, nullptr);
	if (r1 != -EINVAL || r2 != -EINVAL)
		fail("calls after DESTROY", strf("GETEVENTS %s, DESTROY %s; want EINVAL",
						 resname(r1).c_str(), resname(r2).c_str()));
	if (!c.chaos && c.ring && c.ring_len == c.ring_size) {
		if (!ring_drain(c, slot, 5, false))
			fail("events missing after DESTROY", strf("ctx %d: ", slot) + missing(c));
	}
}

/* ---- the ring from user space ------------------------------------------- */

void act_ring(Worker &w)
{
	std::shared_lock<std::shared_mutex> lk;
	int slot = lock_some_ctx(w, lk);
	if (slot < 0)
		return;
	Ctx &c = g_ctx[slot];
	Rng &r = w.rng;
	std::unique_lock<std::shared_mutex> rl(c.reap);
	CallGuard g(w, "ring");
	unsigned k = (unsigned)r.below(12);
	if (k < 4) {
		ring_reap(c, slot);
	} else if (k < 6 && c.ring) {
		/* Move it: fs/aio.c's ring may move, kaio's keeps its id. */
		std::string before = maps_line(c.ring);
		void *dst = mmap(nullptr, c.ring_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *p = mremap(c.ring, c.ring_len, c.ring_len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		count(p == MAP_FAILED ? "mremap " + errname(errno) : "mremap ok");
		if (p == MAP_FAILED) {
			fail("mremap of the ring", errname(errno));
			munmap(dst, c.ring_len);
		} else {
			set_ring(c, p, c.ring_len);
			if (!c.chaos && (c.ring->magic != KAIO_RING_MAGIC || c.ring->id != (uint32_t)c.fd))
				fail("ring after mremap", strf("magic=0x%x id=%u fd=%d before=%s after=%s", c.ring->magic,
							       c.ring->id, c.fd, before.c_str(), maps_line(c.ring).c_str()));
		}
	} else if (k == 6 && c.ring) {
		/* It cannot grow (VM_DONTEXPAND). */
		void *p = mremap(c.ring, c.ring_len, c.ring_len + PAGE, MREMAP_MAYMOVE);
		if (p != MAP_FAILED) {
			fail("mremap grew the ring", "VM_DONTEXPAND ignored");
			set_ring(c, p, c.ring_len + PAGE);
		} else {
			count("mremap grow " + errname(errno));
		}
	} else if (k == 7 && c.ring) {
		unmap_all(c);
		count("munmap ring");
	} else if (k == 8 && !c.ring && c.state != REPLACED) {
		map_ring(c, false);
		count("mmap ring again");
	} else if (k == 9) {
		/* mmap with odd arguments. */
		size_t len = r.chance(1, 2) ? c.ring_size : (size_t)r.range(1, 8) * PAGE;
		off_t off = r.chance(3, 4) ? 0 : (off_t)PAGE * r.range(1, 4);
		int prot = r.chance(3, 4) ? PROT_READ | PROT_WRITE : PROT_READ;
		int flags = r.chance(3, 4) ? MAP_SHARED : MAP_PRIVATE;
		void *p = mmap(nullptr, len, prot, flags, c.fd, off);
		long e = p == MAP_FAILED ? errno : 0;
		count("mmap " + (e ? errname(e) : std::string("ok")));
		bool want_fail = off != 0 || len > c.ring_size;
		if (c.replaced && e == ENODEV)
			return;
		if (want_fail && !e)
			fail("mmap accepted", strf("off=%lld len=%zu ring_size=%llu", (long long)off, len,
						   (unsigned long long)c.ring_size));
		else if (e && e != EINVAL && e != ENOMEM && e != EACCES)
			fail("mmap errno", errname(e));
		else if (!want_fail && e && e != ENOMEM)
			fail("mmap refused", errname(e));
		if (!e)
			c.extra.push_back({p, len});
	} else if (k >= 10 && c.chaos && c.ring) {
		/* Garbage where the kernel must not trust user space. */
		uint32_t vals[] = {0xffffffffU, c.nr_events + 1, c.nr_events + 2, 0x80000000U,
				   (uint32_t)r.next()};
		if (r.chance(1, 2))
			__atomic_store_n(&c.ring->head, r.pick(vals), __ATOMIC_RELEASE);
		else
			__atomic_store_n(&c.ring->tail, r.pick(vals), __ATOMIC_RELEASE);
		count("ring garbage");
	}
}

/* ---- the rest --------------------------------------------------------- */

void act_poke(Worker &w)
{
	Rng &r = w.rng;
	char buf[512];
	memset(buf, 'x', sizeof(buf));
	unsigned k = (unsigned)r.below(4);
	if (k == 0 && !g_pipes_w.empty()) {
		ssize_t n = write(g_pipes_w[r.below(g_pipes_w.size())], buf, (size_t)r.range(1, 512));
		(void)n;
	} else if (k == 1 && !g_pipes_r.empty()) {
		ssize_t n = read(g_pipes_r[r.below(g_pipes_r.size())], buf, sizeof(buf));
		(void)n;
	} else if (k == 2 && !g_eventfds.empty()) {
		uint64_t v = 1;
		ssize_t n = write(g_eventfds[r.below(g_eventfds.size())], &v, 8);
		(void)n;
	} else if (!g_eventfds.empty()) {
		uint64_t v;
		ssize_t n = read(g_eventfds[r.below(g_eventfds.size())], &v, 8);
		(void)n;
	}
}

void act_misc(Worker &w)
{
	Rng &r = w.rng;
	unsigned k = (unsigned)r.below(6);
	if (k == 0) {
		/* Unknown ioctls: ENOTTY on both kinds of fd. */
		unsigned long cmds[] = {_IO(KAIO_IOC_MAGIC, 0x06), _IO(KAIO_IOC_MAGIC, 0),
					_IOWR(KAIO_IOC_MAGIC, 0x01, uint64_t), 0x5401 /* TCGETS */};
		unsigned long cmd = r.pick(cmds);
		long ret = kioctl(g_devfd, cmd, nullptr);
		if (ret != -ENOTTY)
			fail("unknown ioctl on /dev/kaio", "want ENOTTY, got " + resname(ret));
		long sub = kioctl(g_devfd, KAIO_IOC_SUBMIT, w.a.args);
		if (sub != -ENOTTY)
			fail("SUBMIT on /dev/kaio", "want ENOTTY, got " + resname(sub));
		std::shared_lock<std::shared_mutex> lk;
		int slot = lock_some_ctx(w, lk);
		if (slot >= 0) {
			long r2 = kioctl(g_ctx[slot].fd, cmd, nullptr);
			long r3 = kioctl(g_ctx[slot].fd, KAIO_IOC_SETUP, w.a.args);
			if (r2 != -ENOTTY || r3 != -ENOTTY)
				fail("unknown ioctl on a context", "want ENOTTY, got " + resname(r2) +
									   " / SETUP " + resname(r3));
		}
	} else if (k == 1) {
		/* poll() on a context. */
		std::shared_lock<std::shared_mutex> lk;
		int slot = lock_some_ctx(w, lk);
		if (slot < 0)
			return;
		struct pollfd pfd = {g_ctx[slot].fd, POLLIN, 0};
		int n = poll(&pfd, 1, 0);
		if (n < 0 || (n == 1 && (pfd.revents & ~(POLLIN | POLLRDNORM)) && !g_ctx[slot].replaced))
			fail("poll on a context", strf("n=%d revents=0x%x", n, pfd.revents));
	} else if (k == 2) {
		std::shared_lock<std::shared_mutex> lk;
		int slot = lock_some_ctx(w, lk);
		if (slot < 0 || g_ctx[slot].replaced)
			return;
		std::string fi = read_file(strf("/proc/self/fdinfo/%d", g_ctx[slot].fd).c_str());
		for (const char *f : {"nr_events", "submitted", "completed", "in_flight", "cancelled"})
			if (field(fi, f) < 0)
				fail("fdinfo", std::string("no ") + f + " in " + fi);
	} else if (k == 3) {
		/* Truncate under requests (a page wait that finds its page gone). */
		std::vector<const Target *> files;
		for (auto &t : g_targets)
			if (t.kind == TK::File)
				files.push_back(&t);
		if (!files.empty() && r.chance(1, 3)) {
			CallGuard g(w, "ftruncate");
			if (ftruncate(files[r.below(files.size())]->fd, (off_t)r.below(FILE_SIZE)) < 0)
				count("ftruncate " + errname(errno));
		}
	} else if (k == 4 && r.chance(1, 20)) {
		CallGuard g(w, "drop_caches");
		write_text("/proc/sys/vm/drop_caches", "1");
		count("drop_caches");
	} else if (k == 5 && g_workers.size() > 1) {
		/* A signal: GETEVENTS without a mask that blocks it ends with EINTR. */
		Worker *o = g_workers[r.below(g_workers.size())];
		if (o->tid)
			syscall(SYS_tgkill, getpid(), o->tid.load(), SIGUSR1);
		count("signals");
	}
}

/* ---- fork ------------------------------------------------------------- */

std::mutex g_kids_mu;
std::vector<pid_t> g_kids;

/* Write a line from a forked child: no locks, no allocation. */
void child_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void child_say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t wr = write(1, buf, (size_t)n);
	(void)wr;
}

struct Snap {
	int fd;
	bool replaced;
	struct kaio_ring *chaos_ring;
};

/*
 * The child of a fork: the parent's contexts must refuse it everything
 * (EINVAL: another mm); its own context it may use, and it exits with
 * requests in flight.
 */
[[noreturn]] void child_main(Snap *snaps, int n, uint64_t seed)
{
	Rng r(seed);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int fd = snaps[i].fd;
		struct iocb cb = {};
		cb.aio_lio_opcode = IOCB_CMD_NOOP;
		struct iocb *p = &cb;
		struct kaio_submit sb = {1, (uint64_t)&p};
		struct io_event ev[4];
		struct kaio_getevents ge = {0, 4, (uint64_t)ev, 0, 0, 0};
		struct kaio_cancel ca = {(uint64_t)&cb, 0};
		long rs[4] = {kioctl(fd, KAIO_IOC_SUBMIT, &sb), kioctl(fd, KAIO_IOC_GETEVENTS, &ge),
			      kioctl(fd, KAIO_IOC_CANCEL, &ca),
			      r.chance(1, 4) ? kioctl(fd, KAIO_IOC_DESTROY, nullptr) : -EINVAL};
		for (long x : rs)
			if (x != -EINVAL && !(x == -ENOTTY && snaps[i].replaced)) {
				child_say("# FAIL seed=%llu proc=%d (fork child): a call on the parent's context fd %d returned %ld, want %s",
					  (unsigned long long)opt.seed, g_proc, fd, x,
					  snaps[i].replaced ? "ENOTTY" : "EINVAL (another mm)");
				bad = 1;
			}
		void *m = mmap(nullptr, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED || (errno != EINVAL && errno != ENODEV)) {
			child_say("# FAIL seed=%llu proc=%d (fork child): mmap of the parent's context: %s",
				  (unsigned long long)opt.seed, g_proc, m == MAP_FAILED ? strerror(errno) : "mapped");
			bad = 1;
		}
		if (snaps[i].chaos_ring && r.chance(1, 2))
			__atomic_store_n(&snaps[i].chaos_ring->head, (uint32_t)r.next(), __ATOMIC_RELAXED);
		if (r.chance(1, 3))
			close(fd);
	}
	/* A context of its own, left with requests in flight at exit. */
	struct kaio_setup su = {};
	su.nr_events = 16;
	int cfd = (int)kioctl(g_devfd, KAIO_IOC_SETUP, &su);
	if (cfd >= 0) {
		static struct iocb cbs[8];
		static uint8_t buf[8][4096] __attribute__((aligned(4096)));
		struct iocb *pp[8];
		int k = 0;
		for (auto &t : g_targets) {
			if (k == 8)
				break;
			if (t.kind != TK::File && t.kind != TK::FileDirect && t.kind != TK::PipeR &&
			    t.kind != TK::RawDirect)
				continue;
			cbs[k] = {};
			cbs[k].aio_fildes = (uint32_t)t.fd;
			if (t.kind == TK::PipeR) {
				cbs[k].aio_lio_opcode = IOCB_CMD_POLL;
				cbs[k].aio_buf = POLLIN;
			} else {
				cbs[k].aio_lio_opcode = IOCB_CMD_PREAD;
				cbs[k].aio_buf = (uint64_t)buf[k];
				cbs[k].aio_nbytes = 4096;
				cbs[k].aio_offset = (int64_t)(r.below(t.span / 4096) * 4096);
			}
			pp[k] = &cbs[k];
			k++;
		}
		struct kaio_submit sb = {k, (uint64_t)pp};
		long s = kioctl(cfd, KAIO_IOC_SUBMIT, &sb);
		if (k && s < 0 && s != -EAGAIN) {
			child_say("# FAIL seed=%llu proc=%d (fork child): SUBMIT on its own context: %ld",
				  (unsigned long long)opt.seed, g_proc, s);
			bad = 1;
		}
	}
	_exit(bad ? 10 : 0);
}

/* POLLFREE: a POLL on a signalfd whose sighand dies while a grandchild keeps the context. */
[[noreturn]] void pollfree_child()
{
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR2);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	struct kaio_setup su = {};
	su.nr_events = 4;
	int cfd = (int)kioctl(g_devfd, KAIO_IOC_SETUP, &su);
	if (sfd < 0 || cfd < 0)
		_exit(0);
	static struct iocb cb;
	cb = {};
	cb.aio_lio_opcode = IOCB_CMD_POLL;
	cb.aio_fildes = (uint32_t)sfd;
	cb.aio_buf = POLLIN;
	struct iocb *p = &cb;
	struct kaio_submit sb = {1, (uint64_t)&p};
	long s = kioctl(cfd, KAIO_IOC_SUBMIT, &sb);
	if (s != 1) {
		child_say("# FAIL seed=%llu proc=%d (pollfree child): POLL on a signalfd: %ld",
			  (unsigned long long)opt.seed, g_proc, s);
		_exit(10);
	}
	if (fork() == 0) {
		/* Holds the context past its owner's death. */
		usleep(200000);
		_exit(0);
	}
	_exit(0);
}

void act_fork(Worker &w)
{
	{
		std::lock_guard<std::mutex> l(g_kids_mu);
		if (g_kids.size() >= 4)
			return;
	}
	Snap snaps[NCTX];
	int n = 0;
	std::vector<std::shared_lock<std::shared_mutex>> locks;
	std::vector<std::shared_lock<std::shared_mutex>> rlocks;
	for (int i = 0; i < NCTX; i++) {
		std::shared_lock<std::shared_mutex> l(g_ctx[i].life, std::try_to_lock);
		if (!l.owns_lock() || g_ctx[i].state == EMPTY)
			continue;
		Snap s{g_ctx[i].fd, g_ctx[i].replaced.load(), nullptr};
		if (g_ctx[i].chaos) {
			std::shared_lock<std::shared_mutex> rl(g_ctx[i].reap, std::try_to_lock);
			if (rl.owns_lock() && g_ctx[i].ring) {
				s.chaos_ring = g_ctx[i].ring;
				rlocks.push_back(std::move(rl));
			}
		}
		snaps[n++] = s;
		locks.push_back(std::move(l));
	}
	bool pf = w.rng.chance(1, 4);
	uint64_t seed = w.rng.next();
	pid_t pid;
	{
		CallGuard g(w, "fork");
		pid = fork();
	}
	if (pid == 0) {
		if (pf)
			pollfree_child();
		child_main(snaps, n, seed);
	}
	count(pf ? "fork (pollfree)" : "fork");
	if (pid > 0 && pf) {
		/*
		 * Reap it at once: its sighand, with the signalfd's waitqueue the
		 * POLL waits on, is freed then (POLLFREE) while the grandchild
		 * still holds the context.
		 */
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail("pollfree child", strf("status 0x%x", st));
	} else if (pid > 0) {
		std::lock_guard<std::mutex> l(g_kids_mu);
		g_kids.push_back(pid);
	}
}

void reap_kids(bool wait_all)
{
	int64_t end = now_ns() + 60 * 1000000000LL;
	for (;;) {
		std::vector<pid_t> kids;
		{
			std::lock_guard<std::mutex> l(g_kids_mu);
			kids.swap(g_kids);
		}
		std::vector<pid_t> left;
		for (pid_t p : kids) {
			int st;
			pid_t r = waitpid(p, &st, WNOHANG);
			if (r == 0) {
				left.push_back(p);
			} else if (r == p && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				fail("fork child", strf("pid %d: status 0x%x", p, st));
			}
		}
		/* Grandchildren of pollfree children are reparented to init; fine. */
		{
			std::lock_guard<std::mutex> l(g_kids_mu);
			g_kids.insert(g_kids.end(), left.begin(), left.end());
		}
		if (!wait_all || left.empty())
			return;
		if (now_ns() > end) {
			fail("fork child hangs", strf("%zu children still running after 60 s", left.size()));
			return;
		}
		usleep(10000);
	}
}

/* ---- the threads ------------------------------------------------------ */

void worker_loop(Worker &w, uint64_t iters)
{
	t_id = w.id;
	w.tid = (pid_t)syscall(SYS_gettid);
	for (uint64_t i = 0; i < iters && !g_stop; i++) {
		t_iter = i;
		w.iters++;
		/* Keep a couple of contexts open. */
		int open = 0, empty = -1;
		for (int s = 0; s < NCTX; s++) {
			std::shared_lock<std::shared_mutex> l(g_ctx[s].life, std::try_to_lock);
			if (!l.owns_lock())
				continue;
			if (g_ctx[s].state != EMPTY)
				open++;
			else if (empty < 0)
				empty = s;
		}
		unsigned x = (unsigned)w.rng.below(1000);
		if (open < 2 || x < 30) {
			int s = empty >= 0 ? empty : -1;
			if (s >= 0) {
				std::unique_lock<std::shared_mutex> l(g_ctx[s].life);
				act_setup(w, g_ctx[s].state == EMPTY ? s : -1);
			} else {
				act_setup(w, -1);
			}
		} else if (x < 480) {
			act_submit(w);
		} else if (x < 700) {
			act_getevents(w);
		} else if (x < 780) {
			act_cancel(w);
		} else if (x < 830) {
			act_ring(w);
		} else if (x < 850) {
			act_close(w);
		} else if (x < 860) {
			act_destroy(w);
		} else if (x < 920) {
			act_poke(w);
		} else if (x < 990) {
			act_misc(w);
		} else if (x < 996) {
			reap_kids(false);
		} else {
			act_fork(w);
		}
	}
}

/*
 * What a thread has done so far: CPU time (ticks, /proc/.../stat) plus the
 * bytes it has read from devices and dirtied in the page cache
 * (/proc/.../io, counted page by page while the call runs). A call that
 * does real work for long (a read or write larger than the pinned-memory
 * budget is done inside SUBMIT, as native AIO does it: on the debug kernel
 * one can take minutes) keeps moving it; a task stuck waiting does not.
 */
uint64_t thread_work(pid_t tid)
{
	uint64_t work = 0;
	std::string st = read_file(strf("/proc/self/task/%d/stat", tid).c_str());
	size_t p = st.rfind(')');
	if (p != std::string::npos) {
		unsigned long long ut = 0, stime = 0;
		/* after "comm)": state is field 3, utime 14, stime 15 */
		if (sscanf(st.c_str() + p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			   &ut, &stime) == 2)
			work += ut + stime;
	}
	std::string io = read_file(strf("/proc/self/task/%d/io", tid).c_str());
	for (const char *key : {"read_bytes: ", "write_bytes: "}) {
		size_t k = io.find(key);
		if (k != std::string::npos)
			work += strtoull(io.c_str() + k + strlen(key), nullptr, 10);
	}
	return work;
}

/*
 * A call is hung when it has not returned for limit_ns and its thread has
 * made no progress (thread_work()) for limit_ns either. A call that keeps
 * working is not a hang however long it takes; it still ends within the
 * run's --timeout, which main() enforces.
 */
void watchdog(int64_t limit_ns)
{
	struct Seen {
		int64_t start = 0;
		uint64_t work = 0;
		int64_t moved_at = 0;
	};
	std::vector<Seen> seen(g_workers.size());

	while (!g_stop) {
		usleep(200000);
		for (size_t i = 0; i < g_workers.size(); i++) {
			Worker *w = g_workers[i];
			Seen &s = seen[i];
			int64_t st = w->call_start;
			if (!st || now_ns() - st < limit_ns)
				continue;
			uint64_t work = thread_work(w->tid.load());
			if (s.start != st || work != s.work) {
				s.start = st;
				s.work = work;
				s.moved_at = now_ns();
			}
			if (now_ns() - s.moved_at < limit_ns)
				continue;
			say(strf("# HANG seed=%llu proc=%d thread=%d iter=%llu: %s has not returned for %llu s, no progress for %llu s",
				 (unsigned long long)opt.seed, g_proc, w->id,
				 (unsigned long long)w->iters, w->call_name.load(),
				 (unsigned long long)((now_ns() - st) / 1000000000LL),
				 (unsigned long long)((now_ns() - s.moved_at) / 1000000000LL)));
			for (Worker *o : g_workers) {
				std::string stk = read_file(strf("/proc/self/task/%d/stack", o->tid.load()).c_str());
				std::string wchan = read_file(strf("/proc/self/task/%d/wchan", o->tid.load()).c_str());
				say(strf("# thread %d (tid %d) in %s, wchan %s, kernel stack:", o->id, o->tid.load(),
					 o->call_start ? o->call_name.load() : "user space", wchan.c_str()));
				size_t p = 0, q;
				while ((q = stk.find('\n', p)) != std::string::npos) {
					say("#   " + stk.substr(p, q - p));
					p = q + 1;
				}
			}
			say(strf("not ok 1 fuzz seed=%llu: hang in %s (proc %d)",
				 (unsigned long long)opt.seed, w->call_name.load(), g_proc));
			_exit(3);
		}
	}
}

/* One worker process: its own targets, contexts and threads. */
int run_process(int proc)
{
	g_proc = proc;
	open_targets();
	if (g_devfd < 0) {
		say(strf("# %s: %s", KAIO_DEVICE_PATH, strerror(errno)));
		return 4;
	}
	g_ro = guarded(PAGE);
	{
		/* Well-formed iocbs in a page that is then made read-only. */
		struct iocb cb = {};
		cb.aio_lio_opcode = IOCB_CMD_NOOP;
		memcpy(g_ro + RO_NOOP, &cb, sizeof(cb));
		cb.aio_lio_opcode = IOCB_CMD_PREAD;
		cb.aio_fildes = (uint32_t)g_devnull;
		memcpy(g_ro + RO_PREAD, &cb, sizeof(cb));
		mprotect(g_ro, PAGE, PROT_READ);
	}
	g_none = guarded(2 * PAGE, PROT_NONE);

	std::vector<std::unique_ptr<Worker>> ws;
	for (uint64_t t = 0; t < opt.threads; t++) {
		auto w = std::make_unique<Worker>();
		w->id = (int)t;
		w->rng.reseed(mix_seed(opt.seed, (uint64_t)proc + 1, t + 1));
		w->a.pool = guarded(NPOOL * POOLSLOT);
		w->a.iocbpp = (struct iocb **)guarded_end((MAXBATCH + 1024) * sizeof(void *));
		w->a.iov = (struct iovec *)guarded_end(NIOV * sizeof(struct iovec));
		/* Runs exactly into its guard: nr > NEV faults. */
		w->a.ev = (struct io_event *)guarded_end(NEV * sizeof(struct io_event));
		w->a.results = (int64_t *)guarded_end(NRES * sizeof(int64_t));
		w->a.args = guarded(PAGE);
		for (auto &d : w->a.data)
			d = guarded(SLOT);
		g_workers.push_back(w.get());
		ws.push_back(std::move(w));
	}
	std::thread wd(watchdog, (int64_t)opt.hang_s * 1000000000LL);
	std::vector<std::thread> th;
	uint64_t per = opt.iterations / opt.procs / opt.threads;
	if (!per)
		per = 1;
	for (auto &w : ws)
		th.emplace_back(worker_loop, std::ref(*w), per);
	for (auto &t : th)
		t.join();

	/* Everything ends graceful, so that every strict event is accounted for. */
	Worker &w0 = *ws[0];
	t_id = -1;
	for (int s = 0; s < NCTX; s++) {
		std::unique_lock<std::shared_mutex> l(g_ctx[s].life);
		if (g_ctx[s].state != EMPTY)
			close_ctx(w0, s, CL_GRACEFUL);
	}
	reap_kids(true);
	g_stop = true;
	wd.join();
	for (auto &t : g_targets)
		close(t.fd);
	for (auto &p : g_unlink)
		unlink(p.c_str());

	uint64_t iters = 0;
	for (auto &w : ws)
		iters += w->iters;
	std::string summary = strf("# proc %d: %llu iterations;", proc, (unsigned long long)iters);
	{
		std::lock_guard<std::mutex> l(g_cnt_mu);
		for (auto &kv : g_cnt)
			summary += strf(" %s=%llu;", kv.first.c_str(), (unsigned long long)kv.second);
	}
	say(summary);
	{
		std::lock_guard<std::mutex> l(g_fail_mu);
		for (auto &kv : g_fail_sigs)
			say(strf("# proc %d finding x%llu: %s", proc, (unsigned long long)kv.second,
				 kv.first.c_str()));
	}
	/* iterations in the exit status would not fit: report through stdout. */
	say(strf("# proc %d iterations=%llu failures=%llu", proc, (unsigned long long)iters,
		 (unsigned long long)g_failures.load()));
	return g_failures ? 1 : 0;
}

/*
 * What the module serves, once, so that the SUBMIT oracle knows an opcode
 * newer than the table; the SETUP oracle checks every later answer.
 */
bool ask_served_opcodes()
{
	struct kaio_setup su = {};
	int dev = open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	su.nr_events = 1;
	long fd = dev < 0 ? -errno : kioctl(dev, KAIO_IOC_SETUP, &su);
	if (fd < 0 || !(su.features & KAIO_FEAT_OPCODES)) {
		say(strf("not ok 1 fuzz: SETUP: %s, features 0x%llx", fd < 0 ? errname(fd).c_str() : "ok",
			 (unsigned long long)su.features));
		if (dev >= 0)
			close(dev);
		return false;
	}
	close((int)fd);
	close(dev);
	set_served_opcodes(su.opcodes);
	if (su.opcodes & ~valid_opcodes())
		say(strf("# the module serves opcodes 0x%llx the fuzzer has no entry for: no oracle for them",
			 (unsigned long long)(su.opcodes & ~valid_opcodes())));
	return true;
}

void parse_options(int argc, char **argv)
{
	/* Numbers as strtoull reads them: 0x... is hexadecimal. */
	const kaio_cli::Unsigned any{.base = 0};
	const kaio_cli::Unsigned positive{.min = 1, .base = 0};
	const kaio_cli::Parser parser(
		{.name = "kaio-fuzz",
		 .about = "Random SETUP, SUBMIT, GETEVENTS, CANCEL, DESTROY, close, mmap and fork on\n"
			  "/dev/kaio, each call judged by an oracle of the ABI (fuzz/README.md). TAP on\n"
			  "stdout; exit status 4 without /dev/kaio."},
		{
			kaio_cli::number("seed", 0, "N", "replays the same actions (default 1)", opt.seed, any),
			kaio_cli::number("iterations", 0, "N", "random actions in all (default 2000)",
					 opt.iterations, positive),
			kaio_cli::number("threads", 0, "N", "per process (default 4)", opt.threads, positive),
			kaio_cli::number("procs", 0, "N", "worker processes (default 1)", opt.procs, positive),
			kaio_cli::number("hang", 0, "S", "a call or request this long without progress is a "
					 "hang (default 60)", opt.hang_s, any),
			kaio_cli::number("timeout", 0, "S", "for the whole run (default 600)", opt.timeout_s, any),
			kaio_cli::flag("check-leaks", 0, "at the end, the module must hold nothing", opt.leaks),
		});
	const std::vector<std::string> extra = parser.parse_or_exit(argc, argv);
	if (!extra.empty())
		parser.fail("unexpected argument '" + extra[0] + "'");
}

} // namespace

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	setvbuf(stdout, nullptr, _IONBF, 0);
	say(strf("# kaio-fuzz seed=%llu iterations=%llu threads=%llu procs=%llu",
		 (unsigned long long)opt.seed, (unsigned long long)opt.iterations,
		 (unsigned long long)opt.threads, (unsigned long long)opt.procs));
	if (access(KAIO_DEVICE_PATH, R_OK | W_OK) != 0) {
		say(strf("1..0 # SKIP %s: %s", KAIO_DEVICE_PATH, strerror(errno)));
		return 4;
	}
	if (!ask_served_opcodes())
		return 1;
	say(opt.leaks ? "1..2" : "1..1");

	struct sigaction sa = {};
	sa.sa_handler = [](int) {};
	sigaction(SIGUSR1, &sa, nullptr);	/* no SA_RESTART: GETEVENTS sees EINTR */
	signal(SIGPIPE, SIG_IGN);
	install_crash_handler();

	const int64_t t0 = now_ns();
	std::vector<pid_t> pids;
	for (uint64_t p = 0; p < opt.procs; p++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(run_process((int)p));
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		pids.push_back(pid);
	}
	bool ok = true;
	std::string why;
	const int64_t deadline = t0 + (int64_t)opt.timeout_s * 1000000000LL;
	for (size_t i = 0; i < pids.size(); i++) {
		int st = 0;
		for (;;) {
			pid_t r = waitpid(pids[i], &st, WNOHANG);
			if (r == pids[i])
				break;
			if (now_ns() > deadline) {
				say(strf("# HANG seed=%llu: worker process %zu still running after %llu s; killing",
					 (unsigned long long)opt.seed, i, (unsigned long long)opt.timeout_s));
				for (pid_t p : pids)
					kill(p, SIGKILL);
				say(strf("not ok 1 fuzz seed=%llu: timeout", (unsigned long long)opt.seed));
				return 1;
			}
			usleep(50000);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			ok = false;
			why += strf(" proc %zu: %s %d;", i, WIFEXITED(st) ? "exit" : "signal",
				    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
	/* The pollfree grandchildren may still hold a context: give them time. */
	const double secs = (double)(now_ns() - t0) / 1e9;
	say(strf("%s 1 fuzz seed=%llu iterations=%llu threads=%llu procs=%llu (%.1f s)%s%s",
		 ok ? "ok" : "not ok", (unsigned long long)opt.seed,
		 (unsigned long long)opt.iterations, (unsigned long long)opt.threads,
		 (unsigned long long)opt.procs, secs, ok ? "" : " #", why.c_str()));
	if (opt.leaks) {
		LeakReport lr = leak_check(20);
		say(strf("%s 2 fuzz leaks seed=%llu: %s", lr.ok ? "ok" : "not ok",
			 (unsigned long long)opt.seed, lr.text.c_str()));
		ok = ok && lr.ok;
	}
	return ok ? 0 : 1;
}
