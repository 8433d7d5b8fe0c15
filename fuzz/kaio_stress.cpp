// SPDX-License-Identifier: GPL-2.0
/*
 * kaio-stress: threads sharing contexts submit, reap and cancel mixed
 * requests on shared files, and every byte is checked. See fuzz/README.md.
 *
 *   kaio-stress --seed N --ops N [--threads 4] [--contexts 2] [--qd 16]
 *               [--blocks 64] [--hang 120] [--check-leaks]
 *
 * One file per file system the guest has ($KAIO_EXT4_DIR, $KAIO_XFS_DIR and
 * the slow ones if present). Each thread owns its own blocks of every file
 * and keeps a shadow copy: the version of what it last wrote to each block
 * (the contents follow from seed, file, block and version). It submits
 * buffered and O_DIRECT reads and writes, readv/writev, fsync/fdatasync,
 * POLL on its pipe and NOOP to any of the contexts, several in one SUBMIT
 * at times, reaps any context (events go to the thread that owns the
 * request), and cancels some of its requests in flight. A block has at most
 * one request in flight, so what a read must see is known.
 *
 * Checks: every read returns exactly the shadow's data; every request
 * completes once, with the full length (or 0, or a POLL mask); a request
 * whose CANCEL said EINPROGRESS completes with -ECANCELED, and a cancelled
 * write leaves the old data (read back at once), unless it had moved bytes:
 * then it reports them (short) and exactly those blocks are new; -ECANCELED
 * never comes without such a cancel. At the end everything is read back
 * with pread, buffered and O_DIRECT after dropping the page cache, and (with
 * --check-leaks) the module must hold nothing.
 */
#include "util.hpp"

#include <kaio_cli/options.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <thread>
#include <vector>

using namespace kfz;

namespace {

struct Options {
	uint64_t seed = 1;
	uint64_t ops = 400;
	uint64_t threads = 4;
	uint64_t contexts = 2;
	uint64_t qd = 16;
	uint64_t blocks = 64;
	uint64_t hang_s = 120;
	bool leaks = false;
};
Options opt;

constexpr size_t BS = 4096;
constexpr size_t SECTOR = 512;
constexpr uint64_t MAGIC = 0x5352545341494b4bULL;	/* "KKAISTRS" */
constexpr int MAXBLK = 8;				/* blocks per request */

std::atomic<uint64_t> g_failures{0};
std::mutex g_say_mu;

void fail(int thread, const std::string &msg)
{
	if (++g_failures <= 30)
		say(strf("# FAIL seed=%llu thread=%d: %s", (unsigned long long)opt.seed, thread,
			 msg.c_str()));
}

/* ---- files and their contents ------------------------------------------ */

struct File {
	std::string path, name;
	int fd = -1;		/* buffered */
	int dfd = -1;		/* O_DIRECT, or -1 */
};
std::vector<File> g_files;

/* Sector header; the rest of the sector follows from it. */
struct Hdr {
	uint64_t magic;
	uint32_t seed;
	uint16_t file;
	uint16_t sector;
	uint32_t block;
	uint32_t version;
	uint64_t check;
};

inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* What block @block of file @file holds at @version. */
void fill_block(uint8_t *p, int file, uint32_t block, uint32_t version)
{
	for (size_t s = 0; s < BS / SECTOR; s++) {
		uint8_t *sec = p + s * SECTOR;
		Hdr h = {MAGIC, (uint32_t)opt.seed, (uint16_t)file, (uint16_t)s, block, version, 0};
		uint64_t k = mix(opt.seed ^ ((uint64_t)file << 56) ^ ((uint64_t)block << 24) ^
				 ((uint64_t)version << 4) ^ s);
		h.check = k;
		memcpy(sec, &h, sizeof(h));
		for (size_t i = sizeof(h); i < SECTOR; i += 8) {
			uint64_t v = mix(k + i);
			memcpy(sec + i, &v, 8);
		}
	}
}

/* Whether @p is block @block at @version; if not, what it looks like. */
bool check_block(const uint8_t *p, int file, uint32_t block, uint32_t version, std::string *why)
{
	alignas(64) uint8_t want[BS];
	fill_block(want, file, block, version);
	if (!memcmp(p, want, BS))
		return true;
	for (size_t s = 0; s < BS / SECTOR; s++) {
		const uint8_t *sec = p + s * SECTOR;
		if (!memcmp(sec, want + s * SECTOR, SECTOR))
			continue;
		size_t off = 0;
		while (off < SECTOR && sec[off] == want[s * SECTOR + off])
			off++;
		Hdr h;
		memcpy(&h, sec, sizeof(h));
		if (h.magic == MAGIC)
			*why = strf("sector %zu byte %zu differs: found file %u block %u version %u sector %u (seed %u)",
				    s, off, h.file, h.block, h.version, h.sector, h.seed);
		else
			*why = strf("sector %zu byte %zu differs: no header (first bytes %02x %02x %02x %02x)",
				    s, off, sec[0], sec[1], sec[2], sec[3]);
		return false;
	}
	*why = "differs";
	return false;
}

/* ---- requests ------------------------------------------------------- */

enum Kind { K_READ, K_WRITE, K_READV, K_WRITEV, K_FSYNC, K_FDSYNC, K_POLL, K_NOOP, K_NR };
const char *kname[] = {"PREAD", "PWRITE", "PREADV", "PWRITEV", "FSYNC", "FDSYNC", "POLL", "NOOP"};

struct Op {
	struct iocb cb;		/* the submitted iocb: stable address */
	int owner;
	int ctx;
	Kind kind;
	int file = -1;
	bool direct = false;
	uint32_t first = 0, nblk = 0;	/* blocks of the owner's region (absolute) */
	uint32_t version = 0;		/* writes: what they write */
	uint8_t *buf = nullptr;		/* nblk * BS, aligned */
	std::vector<struct iovec> iov;
	std::vector<uint8_t *> segs;	/* vectored: one buffer per segment */
	long cancel = 0;		/* a CANCEL's answer: -EINPROGRESS, -EAGAIN, -EINVAL */
	bool cancel_running = false;
	int64_t t_submit = 0;
	std::string desc() const
	{
		std::string s = strf("%s ctx %d", kname[kind], ctx);
		if (file >= 0)
			s += strf(" %s%s blocks %u..%u", g_files[(size_t)file].name.c_str(),
				  direct ? " O_DIRECT" : "", first, first + nblk - 1);
		if (kind == K_WRITE || kind == K_WRITEV)
			s += strf(" version %u", version);
		if (!iov.empty())
			s += strf(" (%zu segments)", iov.size());
		return s;
	}
	~Op()
	{
		free(buf);
		for (auto *p : segs)
			free(p);
	}
};

struct Blk {
	uint32_t ver = 0;
	int64_t alt = -1;	/* another version it may hold (a failed write) */
	bool busy = false;
};

struct Thread {
	int id;
	Rng rng;
	std::vector<std::vector<Blk>> shadow;	/* [file][block - base] */
	uint32_t base;				/* first block of its region */
	int pipe_r = -1, pipe_w = -1;
	std::mutex mbox_mu;
	std::vector<std::pair<Op *, struct io_event>> mbox;
	std::vector<Op *> inflight;
	int polls = 0;
	uint64_t done = 0;
	std::atomic<int64_t> last_progress{0};
	uint64_t n[K_NR] = {};
	uint64_t n_cancel_inprog = 0, n_cancel_again = 0, n_cancel_inval = 0;
	uint64_t n_cancelled_writes = 0, bytes_verified = 0, n_eagain = 0;
	uint64_t n_cut_short = 0;	/* cancelled after moving bytes */
};
std::vector<std::unique_ptr<Thread>> g_threads;
std::vector<int> g_ctx;
std::vector<uint32_t> g_ctx_nr;

/* ---- submission ---------------------------------------------------- */

uint8_t *aligned(size_t n)
{
	void *p = nullptr;
	if (posix_memalign(&p, BS, std::max<size_t>(n, BS)))
		abort();
	memset(p, 0, std::max<size_t>(n, BS));
	return (uint8_t *)p;
}

/* A new request on free blocks of the thread's region, or nullptr. */
Op *make_op(Thread &t)
{
	Rng &r = t.rng;
	static const Kind mixk[] = {K_READ, K_READ, K_READ, K_WRITE, K_WRITE, K_WRITE, K_READV,
				    K_READV, K_WRITEV, K_WRITEV, K_FSYNC, K_FDSYNC, K_POLL, K_NOOP};
	auto op = std::make_unique<Op>();
	memset(&op->cb, 0, sizeof(op->cb));
	op->owner = t.id;
	op->ctx = (int)r.below(g_ctx.size());
	op->kind = r.pick(mixk);
	struct iocb &cb = op->cb;
	cb.aio_data = (uint64_t)op.get();
	switch (op->kind) {
	case K_NOOP:
		cb.aio_lio_opcode = IOCB_CMD_NOOP;
		return op.release();
	case K_POLL:
		cb.aio_lio_opcode = IOCB_CMD_POLL;
		cb.aio_fildes = (uint32_t)t.pipe_r;
		cb.aio_buf = POLLIN;
		return op.release();
	case K_FSYNC:
	case K_FDSYNC:
		op->file = (int)r.below(g_files.size());
		cb.aio_lio_opcode = op->kind == K_FSYNC ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC;
		cb.aio_fildes = (uint32_t)g_files[(size_t)op->file].fd;
		return op.release();
	default:
		break;
	}
	/* Reads and writes: 1..8 free blocks. */
	const int f = (int)r.below(g_files.size());
	auto &sh = t.shadow[(size_t)f];
	const uint32_t nblk = (uint32_t)r.range(1, MAXBLK);
	const uint32_t start = (uint32_t)r.below(sh.size() - nblk + 1);
	for (uint32_t b = start; b < start + nblk; b++)
		if (sh[b].busy)
			return nullptr;
	op->file = f;
	op->first = t.base + start;
	op->nblk = nblk;
	op->direct = g_files[(size_t)f].dfd >= 0 && r.chance(1, 2);
	const File &file = g_files[(size_t)f];
	cb.aio_fildes = (uint32_t)(op->direct ? file.dfd : file.fd);
	cb.aio_offset = (int64_t)op->first * BS;
	const size_t len = (size_t)nblk * BS;
	const bool wr = op->kind == K_WRITE || op->kind == K_WRITEV;
	op->buf = aligned(len);
	if (wr) {
		op->version = (uint32_t)r.range(1, 1 << 30);
		for (uint32_t i = 0; i < nblk; i++)
			fill_block(op->buf + i * BS, f, op->first + i, op->version);
		if (r.chance(1, 8))
			cb.aio_rw_flags = RWF_DSYNC;
	} else {
		memset(op->buf, 0xee, len);
	}
	if (op->kind == K_READ || op->kind == K_WRITE) {
		cb.aio_lio_opcode = wr ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		cb.aio_buf = (uint64_t)op->buf;
		cb.aio_nbytes = len;
	} else {
		/* Segments: O_DIRECT in sectors, buffered anywhere; each its own buffer. */
		size_t left = len, pos = 0;
		const size_t unit = op->direct ? SECTOR : 1;
		while (left) {
			size_t n = left;
			if (op->iov.size() < 7 && r.chance(2, 3))
				n = std::min(left, unit * (size_t)r.range(1, (int64_t)(len / unit / 2 + 1)));
			uint8_t *seg = aligned(n);
			if (wr)
				memcpy(seg, op->buf + pos, n);
			else
				memset(seg, 0xee, n);
			op->segs.push_back(seg);
			op->iov.push_back({seg, n});
			pos += n;
			left -= n;
		}
		cb.aio_lio_opcode = wr ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV;
		cb.aio_buf = (uint64_t)op->iov.data();
		cb.aio_nbytes = op->iov.size();
	}
	for (uint32_t b = start; b < start + nblk; b++)
		sh[b].busy = true;
	return op.release();
}

void release_blocks(Thread &t, Op *op)
{
	if (op->file < 0 || !op->nblk)
		return;
	auto &sh = t.shadow[(size_t)op->file];
	for (uint32_t i = 0; i < op->nblk; i++)
		sh[op->first - t.base + i].busy = false;
}

/* Verify @nblk blocks at @p against the shadow; counts bytes. */
bool verify(Thread &t, int f, uint32_t first, uint32_t nblk, const uint8_t *p, const char *what)
{
	bool ok = true;
	for (uint32_t i = 0; i < nblk; i++) {
		const Blk &b = t.shadow[(size_t)f][first - t.base + i];
		std::string why, why2;
		if (check_block(p + i * BS, f, first + i, b.ver, &why)) {
			t.bytes_verified += BS;
			continue;
		}
		if (b.alt >= 0 && check_block(p + i * BS, f, first + i, (uint32_t)b.alt, &why2)) {
			t.bytes_verified += BS;
			continue;
		}
		fail(t.id, strf("%s: %s block %u: want version %u%s: %s", what,
				g_files[(size_t)f].name.c_str(), first + i, b.ver,
				b.alt >= 0 ? strf(" (or %lld)", (long long)b.alt).c_str() : "", why.c_str()));
		ok = false;
	}
	return ok;
}

/* The bytes a read got, gathered from its segments. */
std::vector<uint8_t> gathered(const Op *op)
{
	std::vector<uint8_t> v((size_t)op->nblk * BS);
	if (op->iov.empty()) {
		memcpy(v.data(), op->buf, v.size());
	} else {
		size_t pos = 0;
		for (auto &io : op->iov) {
			memcpy(v.data() + pos, io.iov_base, io.iov_len);
			pos += io.iov_len;
		}
	}
	return v;
}

/* pread of blocks, checked against the shadow (O_DIRECT if asked and possible). */
bool read_back(Thread &t, int f, uint32_t first, uint32_t nblk, bool direct, const char *what)
{
	const File &file = g_files[(size_t)f];
	int fd = direct && file.dfd >= 0 ? file.dfd : file.fd;
	uint8_t *p = aligned((size_t)nblk * BS);
	ssize_t n = pread(fd, p, (size_t)nblk * BS, (off_t)first * BS);
	bool ok;
	if (n != (ssize_t)(nblk * BS)) {
		fail(t.id, strf("%s: pread of %s blocks %u..%u: %zd (%s)", what, file.name.c_str(),
				first, first + nblk - 1, n, n < 0 ? strerror(errno) : "short"));
		ok = false;
	} else {
		ok = verify(t, f, first, nblk, p, what);
	}
	free(p);
	return ok;
}

/* An event for one of this thread's requests. */
void complete(Thread &t, Op *op, const struct io_event &ev)
{
	const long long res = ev.res;
	const bool inprog = op->cancel == -EINPROGRESS;
	const bool rd = op->kind == K_READ || op->kind == K_READV;
	const bool wr = op->kind == K_WRITE || op->kind == K_WRITEV;
	const long long len = (long long)op->nblk * BS;
	t.inflight.erase(std::find(t.inflight.begin(), t.inflight.end(), op));
	t.done++;
	t.n[op->kind]++;
	t.last_progress = now_ns();
	if (ev.obj != (uint64_t)&op->cb)
		fail(t.id, strf("event obj 0x%llx is not the iocb %p: %s", (unsigned long long)ev.obj,
				(void *)&op->cb, op->desc().c_str()));
	if (res == -ECANCELED && !inprog)
		fail(t.id, strf("-ECANCELED but CANCEL said %s: %s",
				op->cancel ? errname(op->cancel).c_str() : "nothing (not cancelled)",
				op->desc().c_str()));
	/* Cancelled after moving bytes, a read or write reports them. */
	const bool cut_short = inprog && (rd || wr) && res > 0 && res < len;
	if (inprog && op->kind != K_POLL && res != -ECANCELED && !cut_short)
		fail(t.id, strf("CANCEL said EINPROGRESS, res %s: %s", resname(res).c_str(),
				op->desc().c_str()));

	switch (op->kind) {
	case K_NOOP:
		if (res != 0)
			fail(t.id, "NOOP res " + resname(res));
		break;
	case K_POLL:
		t.polls--;
		if (inprog ? (res < 0 || (res & ~(long long)POLLIN))
			   : (res <= 0 || !(res & POLLIN) || (res & ~(long long)(POLLIN | POLLERR | POLLHUP))))
			fail(t.id, strf("POLL res %s (cancel %s)", resname(res).c_str(),
					resname(op->cancel).c_str()));
		break;
	case K_FSYNC:
	case K_FDSYNC:
		if (res != 0 && !(inprog && res == -ECANCELED))
			fail(t.id, strf("%s res %s", kname[op->kind], resname(res).c_str()));
		break;
	default:
		if (res == -ECANCELED && inprog) {
			if (wr) {
				/* It must not have happened: the old data is there. */
				t.n_cancelled_writes++;
				read_back(t, op->file, op->first, op->nblk, false,
					  ("after a cancelled " + op->desc()).c_str());
			}
		} else if (cut_short) {
			/* The whole blocks below res moved, nothing after them. */
			const uint32_t whole = (uint32_t)(res / (long long)BS);
			t.n_cut_short++;
			if (rd) {
				std::vector<uint8_t> got = gathered(op);
				verify(t, op->file, op->first, whole, got.data(),
				       ("cut short: " + op->desc()).c_str());
			} else {
				auto &sh = t.shadow[(size_t)op->file];
				for (uint32_t i = 0; i < whole; i++) {
					sh[op->first - t.base + i].ver = op->version;
					sh[op->first - t.base + i].alt = -1;
				}
				if (res % (long long)BS) {
					/* Page-sized copies never stop inside a block. */
					fail(t.id, strf("cancelled write cut short at %lld, inside a block: %s",
							res, op->desc().c_str()));
					sh[op->first - t.base + whole].alt = op->version;
				}
				read_back(t, op->file, op->first, op->nblk, false,
					  ("after a write cut short by CANCEL: " + op->desc()).c_str());
			}
		} else if (res != len) {
			fail(t.id, strf("res %s, want %lld: %s", resname(res).c_str(), len, op->desc().c_str()));
			if (wr) {
				/* Unknown what it wrote: either version from now on. */
				for (uint32_t i = 0; i < op->nblk; i++) {
					Blk &b = t.shadow[(size_t)op->file][op->first - t.base + i];
					b.alt = op->version;
				}
			}
		} else if (rd) {
			std::vector<uint8_t> got = gathered(op);
			verify(t, op->file, op->first, op->nblk, got.data(), op->desc().c_str());
		} else {
			for (uint32_t i = 0; i < op->nblk; i++) {
				Blk &b = t.shadow[(size_t)op->file][op->first - t.base + i];
				b.ver = op->version;
				b.alt = -1;
			}
		}
		release_blocks(t, op);
		break;
	}
	if (ev.res2 != 0)
		fail(t.id, strf("res2 %lld without KAIO_SETUP_RES2_PATH", (long long)ev.res2));
	delete op;
}

/* Hand events to their owners. */
void dispatch(const struct io_event *ev, long n)
{
	for (long i = 0; i < n; i++) {
		Op *op = (Op *)ev[i].data;
		Thread &o = *g_threads[(size_t)op->owner];
		std::lock_guard<std::mutex> l(o.mbox_mu);
		o.mbox.push_back({op, ev[i]});
	}
}

void drain_mbox(Thread &t)
{
	std::vector<std::pair<Op *, struct io_event>> m;
	{
		std::lock_guard<std::mutex> l(t.mbox_mu);
		m.swap(t.mbox);
	}
	for (auto &e : m)
		complete(t, e.first, e.second);
}

void reap(Thread &t, bool wait)
{
	struct io_event ev[64];
	struct __kernel_timespec ts = {0, wait ? 5000000 : 0};
	int c = (int)t.rng.below(g_ctx.size());
	struct kaio_getevents ge = {wait ? 1 : 0, 64, (uint64_t)ev, (uint64_t)&ts, 0, 0};
	long n = kioctl(g_ctx[(size_t)c], KAIO_IOC_GETEVENTS, &ge);
	if (n < 0 && n != -EINTR)
		fail(t.id, "GETEVENTS " + resname(n));
	if (n > 0)
		dispatch(ev, n);
	drain_mbox(t);
}

void cancel_some(Thread &t)
{
	if (t.inflight.empty())
		return;
	Op *op = t.inflight[t.rng.below(t.inflight.size())];
	if (op->cancel == -EINPROGRESS)
		return;
	struct kaio_cancel ca = {(uint64_t)&op->cb, 0};
	long r = kioctl(g_ctx[(size_t)op->ctx], KAIO_IOC_CANCEL, &ca);
	/* The event may be in a mailbox already: EINVAL then; keep EINPROGRESS sticky. */
	if (r == -EINPROGRESS) {
		op->cancel = r;
		t.n_cancel_inprog++;
	} else if (r == -EAGAIN) {
		if (!op->cancel)
			op->cancel = r;
		t.n_cancel_again++;
	} else if (r == -EINVAL) {
		t.n_cancel_inval++;
	} else {
		fail(t.id, "CANCEL " + resname(r) + ": " + op->desc());
	}
}

void submit_some(Thread &t, uint64_t budget)
{
	int want = t.rng.chance(1, 4) ? (int)t.rng.range(2, 4) : 1;
	std::vector<Op *> ops;
	for (int i = 0; i < want && (uint64_t)ops.size() < budget; i++) {
		Op *op = make_op(t);
		if (!op)
			continue;
		/* One SUBMIT goes to one context. */
		if (!ops.empty())
			op->ctx = ops[0]->ctx;
		ops.push_back(op);
	}
	if (ops.empty())
		return;
	std::vector<struct iocb *> pp;
	for (Op *op : ops) {
		pp.push_back(&op->cb);
		op->t_submit = now_ns();
		t.inflight.push_back(op);
		if (op->kind == K_POLL)
			t.polls++;
	}
	struct kaio_submit sb = {(int64_t)pp.size(), (uint64_t)pp.data()};
	long r = kioctl(g_ctx[(size_t)ops[0]->ctx], KAIO_IOC_SUBMIT, &sb);
	size_t acc = r > 0 ? (size_t)r : 0;
	if (r < 0 && r != -EAGAIN)
		fail(t.id, "SUBMIT " + resname(r) + ": " + ops[0]->desc());
	if (r == -EAGAIN || (r >= 0 && acc < ops.size()))
		t.n_eagain++;
	for (size_t i = acc; i < ops.size(); i++) {
		Op *op = ops[i];
		t.inflight.erase(std::find(t.inflight.begin(), t.inflight.end(), op));
		if (op->kind == K_POLL)
			t.polls--;
		release_blocks(t, op);
		delete op;
	}
}

void thread_main(Thread &t)
{
	t.last_progress = now_ns();
	uint64_t submitted = 0;
	while (t.done < opt.ops || !t.inflight.empty()) {
		uint64_t budget = opt.ops > t.done + t.inflight.size() ? opt.ops - t.done - t.inflight.size() : 0;
		if (budget && t.inflight.size() < opt.qd && t.rng.chance(3, 4)) {
			size_t before = t.inflight.size();
			submit_some(t, budget);
			submitted += t.inflight.size() - std::min(before, t.inflight.size());
		}
		if (t.rng.chance(1, 8))
			cancel_some(t);
		if (t.polls && (t.rng.chance(1, 6) || !budget)) {
			char c = 'p';
			ssize_t n = write(t.pipe_w, &c, 1);
			(void)n;
		}
		if (!t.polls) {
			char buf[64];
			while (read(t.pipe_r, buf, sizeof(buf)) > 0)
				;
		}
		reap(t, t.inflight.size() >= opt.qd || !budget);
	}
	(void)submitted;
}

void watchdog()
{
	for (;;) {
		usleep(500000);
		bool all_done = true;
		for (auto &tp : g_threads) {
			Thread &t = *tp;
			if (t.done < opt.ops)
				all_done = false;
			int64_t lp = t.last_progress;
			if (lp && now_ns() - lp > (int64_t)opt.hang_s * 1000000000LL && t.done < opt.ops) {
				say(strf("# HANG seed=%llu thread=%d: no completion for %llu s (%llu done)",
					 (unsigned long long)opt.seed, t.id, (unsigned long long)opt.hang_s,
					 (unsigned long long)t.done));
				say(strf("not ok 1 stress seed=%llu: hang", (unsigned long long)opt.seed));
				_exit(3);
			}
		}
		if (all_done)
			return;
	}
}

bool open_files()
{
	struct D {
		const char *env, *tag;
	};
	const D dirs[] = {{"KAIO_EXT4_DIR", "ext4"}, {"KAIO_XFS_DIR", "xfs"},
			  {"KAIO_SLOW_EXT4_DIR", "slow-ext4"}, {"KAIO_SLOW_XFS_DIR", "slow-xfs"}};
	for (const D &d : dirs) {
		const char *dir = getenv(d.env);
		if (!is_dir(dir))
			continue;
		File f;
		f.path = strf("%s/kaio-stress.%d", dir, (int)getpid());
		f.name = d.tag;
		f.fd = open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f.fd < 0) {
			say("# " + f.path + ": " + strerror(errno));
			return false;
		}
		f.dfd = open(f.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
		g_files.push_back(f);
	}
	if (g_files.empty()) {
		/* Not in the guest: one buffered file in /tmp. */
		File f;
		f.path = strf("/tmp/kaio-stress.%d", (int)getpid());
		f.name = "tmp";
		f.fd = open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		f.dfd = open(f.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
		if (f.fd < 0)
			return false;
		g_files.push_back(f);
	}
	/* Version 0 everywhere, on the device. */
	const uint32_t total = (uint32_t)(opt.threads * opt.blocks);
	std::vector<uint8_t> blk(BS);
	for (size_t f = 0; f < g_files.size(); f++) {
		for (uint32_t b = 0; b < total; b++) {
			fill_block(blk.data(), (int)f, b, 0);
			if (pwrite(g_files[f].fd, blk.data(), BS, (off_t)b * BS) != (ssize_t)BS) {
				say("# initial write of " + g_files[f].path + ": " + strerror(errno));
				return false;
			}
		}
		fsync(g_files[f].fd);
	}
	return true;
}

/* The options, into opt; a bad one ends the program (exit status 2). */
void parse_options(int argc, char **argv)
{
	/* Numbers as strtoull reads them: 0x... is hexadecimal. */
	const kaio_cli::Unsigned any{.base = 0};
	const kaio_cli::Unsigned positive{.min = 1, .base = 0};
	const kaio_cli::Parser parser(
		{.name = "kaio-stress",
		 .about = "Threads sharing contexts submit, reap and cancel mixed requests on one file per\n"
			  "file system, and every byte is checked (fuzz/README.md). TAP on stdout; exit\n"
			  "status 4 without /dev/kaio."},
		{
			kaio_cli::number("seed", 0, "N", "of everything random (default 1)", opt.seed, any),
			kaio_cli::number("ops", 0, "N", "requests per thread (default 400)", opt.ops, any),
			kaio_cli::number("threads", 0, "N", "submitting threads (default 4)", opt.threads, positive),
			kaio_cli::number("contexts", 0, "N", "shared by the threads (default 2)", opt.contexts,
					 positive),
			kaio_cli::number("qd", 0, "N", "requests in flight per thread (default 16)", opt.qd, positive),
			kaio_cli::number("blocks", 0, "N", "4 KiB blocks per thread per file, at least 8 (default 64)",
					 opt.blocks, {.min = MAXBLK, .base = 0}),
			kaio_cli::number("hang", 0, "S", "a thread without a completion for S seconds is a hang "
					 "(default 120)", opt.hang_s, any),
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
	signal(SIGPIPE, SIG_IGN);
	say(strf("# kaio-stress seed=%llu ops=%llu threads=%llu contexts=%llu qd=%llu blocks=%llu",
		 (unsigned long long)opt.seed, (unsigned long long)opt.ops,
		 (unsigned long long)opt.threads, (unsigned long long)opt.contexts,
		 (unsigned long long)opt.qd, (unsigned long long)opt.blocks));
	int dev = open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		say(strf("1..0 # SKIP %s: %s", KAIO_DEVICE_PATH, strerror(errno)));
		return 4;
	}
	say(opt.leaks ? "1..3" : "1..2");
	if (!open_files()) {
		say("not ok 1 stress: cannot set up the files");
		return 1;
	}
	std::string names;
	for (auto &f : g_files)
		names += (names.empty() ? "" : ",") + f.name + (f.dfd >= 0 ? "" : "(no O_DIRECT)");
	for (uint64_t c = 0; c < opt.contexts; c++) {
		struct kaio_setup su = {};
		su.nr_events = (uint32_t)(opt.threads * opt.qd + 16);
		long fd = kioctl(dev, KAIO_IOC_SETUP, &su);
		if (fd < 0) {
			say("not ok 1 stress: SETUP " + resname(fd));
			return 1;
		}
		g_ctx.push_back((int)fd);
		g_ctx_nr.push_back(su.nr_events);
	}
	for (uint64_t i = 0; i < opt.threads; i++) {
		auto t = std::make_unique<Thread>();
		t->id = (int)i;
		t->rng.reseed(mix_seed(opt.seed, 7, i + 1));
		t->base = (uint32_t)(i * opt.blocks);
		t->shadow.assign(g_files.size(), std::vector<Blk>(opt.blocks));
		int p[2];
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			return 1;
		t->pipe_r = p[0];
		t->pipe_w = p[1];
		g_threads.push_back(std::move(t));
	}

	const int64_t t0 = now_ns();
	std::thread wd(watchdog);
	std::vector<std::thread> th;
	for (auto &t : g_threads)
		th.emplace_back(thread_main, std::ref(*t));
	for (auto &t : th)
		t.join();
	wd.join();
	const double secs = (double)(now_ns() - t0) / 1e9;

	/* The contexts must be idle: in_flight 0, every submission completed. */
	for (size_t c = 0; c < g_ctx.size(); c++) {
		std::string fi = read_file(strf("/proc/self/fdinfo/%d", g_ctx[c]).c_str());
		if (field(fi, "in_flight") != 0 || field(fi, "submitted") != field(fi, "completed"))
			fail(-1, strf("context %zu after the run: in_flight=%lld submitted=%lld completed=%lld",
				      c, field(fi, "in_flight"), field(fi, "submitted"), field(fi, "completed")));
		close(g_ctx[c]);
	}
	close(dev);

	uint64_t tot[K_NR] = {}, inprog = 0, again = 0, inval = 0, cw = 0, bytes = 0, eagain = 0;
	uint64_t cut = 0;
	for (auto &tp : g_threads) {
		for (int k = 0; k < K_NR; k++)
			tot[k] += tp->n[k];
		inprog += tp->n_cancel_inprog;
		again += tp->n_cancel_again;
		inval += tp->n_cancel_inval;
		cw += tp->n_cancelled_writes;
		cut += tp->n_cut_short;
		bytes += tp->bytes_verified;
		eagain += tp->n_eagain;
	}
	const uint64_t failed_run = g_failures;
	say(strf("# requests: pread %llu pwrite %llu preadv %llu pwritev %llu fsync %llu fdsync %llu poll %llu noop %llu; "
		 "cancel: EINPROGRESS %llu (writes %llu, cut short %llu) EAGAIN %llu EINVAL %llu; ring full %llu; %llu bytes verified",
		 (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[2],
		 (unsigned long long)tot[3], (unsigned long long)tot[4], (unsigned long long)tot[5],
		 (unsigned long long)tot[6], (unsigned long long)tot[7], (unsigned long long)inprog,
		 (unsigned long long)cw, (unsigned long long)cut, (unsigned long long)again, (unsigned long long)inval,
		 (unsigned long long)eagain, (unsigned long long)bytes));
	say(strf("%s 1 stress seed=%llu ops=%llu threads=%llu contexts=%llu files=%s (%.1f s)",
		 failed_run ? "not ok" : "ok", (unsigned long long)opt.seed,
		 (unsigned long long)(opt.ops * opt.threads), (unsigned long long)opt.threads,
		 (unsigned long long)opt.contexts, names.c_str(), secs));

	/* Read everything back: from the page cache, then from the devices. */
	bool rb = true;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (auto &f : g_files)
				fsync(f.fd);
			if (!write_text("/proc/sys/vm/drop_caches", "3"))
				say("# cannot drop caches (not root?): the second pass reads the page cache");
		}
		for (auto &tp : g_threads)
			for (size_t f = 0; f < g_files.size(); f++)
				rb &= read_back(*tp, (int)f, tp->base, (uint32_t)opt.blocks, pass == 1,
						pass ? "final pread (O_DIRECT, after drop_caches)" : "final pread");
	}
	say(strf("%s 2 stress read-back seed=%llu: %llu blocks x 2 passes", rb ? "ok" : "not ok",
		 (unsigned long long)opt.seed,
		 (unsigned long long)(opt.threads * opt.blocks * g_files.size())));
	for (auto &f : g_files) {
		close(f.fd);
		if (f.dfd >= 0)
			close(f.dfd);
		unlink(f.path.c_str());
	}
	bool ok = !g_failures;
	if (opt.leaks) {
		LeakReport lr = leak_check(20);
		say(strf("%s 3 stress leaks seed=%llu: %s", lr.ok ? "ok" : "not ok",
			 (unsigned long long)opt.seed, lr.text.c_str()));
		ok = ok && lr.ok;
	}
	return ok ? 0 : 1;
}
