// SPDX-License-Identifier: GPL-2.0
/*
 * kaio-fuzz's opcode table (see ops.hpp): per opcode, the generator of its
 * fields, its part of SUBMIT's oracle and its event oracle. Generators draw
 * in a fixed order: the same seed must make the same iocbs, so a change to
 * what one draws changes what every later draw of the thread is.
 */
#include "ops.hpp"

#include <algorithm>
#include <poll.h>
#include <sys/uio.h>
#include <vector>

namespace kfz {

const char *bufname(BufKind k)
{
	static const char *n[] = {"valid", "overrun", "NULL", "kernel", "non-canonical",
				  "PROT_NONE", "read-only", "low unmapped", "temp (munmapped)",
				  "ring", "TASK_SIZE edge", "any"};
	return n[k];
}

namespace {

/* ---- pieces the generators share ---------------------------------------- */

uint64_t pick_len(Rng &r, bool direct)
{
	switch (r.below(20)) {
	case 0: return 0;
	case 1: return r.range(1, 100);
	case 2: return SLOT;
	case 3: return SLOT + r.below(SLOT);
	case 4: return 1 << 20;
	case 5: return (uint64_t)MAX_RW + r.below(4);
	case 6: return 0x80000000ULL;
	case 7: return r.chance(1, 2) ? (1ULL << 63) : ~0ULL;	/* negative */
	case 8: return r.range(1ULL << 30, (1ULL << 30) + PAGE);
	default:
		if (direct)
			return (uint64_t)r.range(1, 32) * 512;
		return (uint64_t)r.range(1, 16384);
	}
}

int64_t pick_off(Rng &r, const Target *t, bool direct, bool *neg, bool *huge)
{
	uint64_t span = t && t->span ? t->span : 1 << 20;
	*neg = *huge = false;
	switch (r.below(24)) {
	case 0: *neg = true; return -1 - (int64_t)r.below(1 << 20);
	case 1: *neg = true; return INT64_MIN;
	case 2: *huge = true; return INT64_MAX - (int64_t)r.below(PAGE);
	case 3: *huge = true; return (int64_t)(1ULL << 62);
	case 4: return (int64_t)span + (int64_t)r.below(span);	/* past the end */
	default: {
		int64_t o = (int64_t)r.below(span);
		if (direct && r.chance(9, 10))
			o &= ~511LL;
		return o;
	}
	}
}

/* What importing a buffer of this kind gives: 0 fine, 1 EFAULT, -1 unsure. */
int import_fault_of(BufKind k)
{
	if (k == B_KERNEL)
		return 1;
	if (k == B_NONCANON || k == B_EDGE)
		return -1;
	return 0;
}

/*
 * Every opcode checks aio_nbytes for a negative value, even those that use
 * no count: sometimes give them one.
 */
void maybe_negative_nbytes(Draft &d)
{
	if (d.r.chance(1, 30))
		d.cb.aio_nbytes = ~0ULL;
}

/* The checks that need the file: none is sure when aio_fildes is no target. */
const Target *target_or_unknown(const Draft &d, Oracle &ex)
{
	if (!d.t)
		ex.unknown();
	return d.t;
}

/*
 * After a CANCEL that said EINPROGRESS the event is -ECANCELED; a read or
 * write that had already moved bytes reports them instead (abi.md).
 */
std::string check_cancel_honoured(const EventCheck &e, bool short_count_ok)
{
	if (e.cancelled && e.sole && e.res != -ECANCELED &&
	    !(short_count_ok && e.res > 0 && e.res < e.maxres))
		return "CANCEL said EINPROGRESS but res is neither -ECANCELED nor short";
	return "";
}

/* ---- PREAD, PWRITE ------------------------------------------------------ */

void generate_rw(Draft &d)
{
	Rng &r = d.r;
	struct iocb &cb = d.cb;
	cb.aio_nbytes = pick_len(r, d.direct);
	Buf bf = d.mem.buffer(d.op.reads, cb.aio_nbytes, d.direct);
	cb.aio_buf = bf.addr;
	cb.aio_offset = pick_off(r, d.t, d.direct, &d.off_neg, &d.off_huge);
	d.import_fault = import_fault_of(bf.kind);
	d.maxres = (int64_t)std::min<uint64_t>(cb.aio_nbytes, MAX_RW);
	d.bufdesc = strf("buf=%s 0x%llx", bufname(bf.kind), (unsigned long long)bf.addr);
}

/* ---- PREADV, PWRITEV ---------------------------------------------------- */

void generate_rw_vectored(Draft &d)
{
	Rng &r = d.r;
	struct iocb &cb = d.cb;
	uint64_t cnt;
	switch (r.below(12)) {
	case 0: cnt = 0; break;
	case 1: cnt = IOV_LIMIT; break;
	case 2: cnt = IOV_LIMIT + 1 + r.below(100); break;
	case 3: cnt = r.chance(1, 2) ? ~0ULL : (1ULL << 40); break;
	default: cnt = (uint64_t)r.range(1, 8);
	}
	cb.aio_nbytes = cnt;
	/* import_iovec() takes an unsigned int, as in fs/aio.c: 2^40 is 0. */
	cnt = (uint32_t)cnt;
	d.iov_toomany = cnt > IOV_LIMIT;
	IovArray arr = d.mem.iovecs(cnt);
	/* A pointer not ours faults for any count; ours where it runs out. */
	d.iov_badarray = arr.v ? cnt > arr.readable && cnt <= IOV_LIMIT : cnt > 0;
	int64_t total = 0;
	for (size_t i = 0; i < arr.n; i++) {
		uint64_t len = r.chance(1, 30) ? pick_len(r, d.direct)
					       : (d.direct ? (uint64_t)r.range(1, 8) * 512
							   : (uint64_t)r.range(0, 8192));
		Buf bf = d.mem.buffer(d.op.reads, len, d.direct);
		arr.v[i].iov_base = (void *)bf.addr;
		arr.v[i].iov_len = len;
		if ((int64_t)len < 0)
			d.iov_neg = true;
		else
			total = std::min<int64_t>(MAX_RW, total + (int64_t)std::min<uint64_t>(len, MAX_RW));
		/* The first sure fault decides, unless a later segment makes it unsure. */
		if (bf.kind == B_KERNEL && (int64_t)len >= 0)
			d.import_fault = d.import_fault ? d.import_fault : 1;
		else if (bf.kind == B_NONCANON || bf.kind == B_EDGE)
			d.import_fault = -1;
	}
	cb.aio_buf = arr.addr;
	d.maxres = total;
	d.bufdesc = strf("iov=0x%llx iovcnt=%llu", (unsigned long long)cb.aio_buf,
			 (unsigned long long)cnt);
	if (d.iov_badarray || d.iov_neg)
		d.maxres = MAX_RW;
	cb.aio_offset = pick_off(r, d.t, d.direct, &d.off_neg, &d.off_huge);
}

/* Reads and writes, vectored or not (the iov_* facts are false for PREAD/PWRITE). */
void check_submit_rw(const Draft &d, Oracle &ex)
{
	const Target *t = target_or_unknown(d, ex);
	if (!t)
		return;
	const bool wr = d.op.writes;
	ex.failif(d.ioprio == 2, EINVAL, "invalid ioprio");
	ex.failif(d.rwf_unknown, EOPNOTSUPP, "unknown RWF bit");
	if (d.rwf_nowait && t->nowait < 0)
		ex.unknown();
	ex.failif(d.rwf_nowait && t->nowait == 0, EOPNOTSUPP, "RWF_NOWAIT without FMODE_NOWAIT");
	ex.failif(wr && !t->writable, EBADF, "write on a read-only fd");
	ex.failif(!wr && !t->readable, EBADF, "read on a write-only fd");
	int it = wr ? t->write_iter : t->read_iter;
	if (it < 0)
		ex.unknown();
	ex.failif(it == 0, EINVAL, "no read_iter/write_iter");
	ex.failif(d.iov_toomany, EINVAL, "iovcnt > 1024");
	ex.failif(d.iov_badarray, EFAULT, "iovec array not readable");
	ex.failif(d.iov_neg, EINVAL, "iov_len negative");
	if (d.import_fault < 0)
		ex.unknown();
	ex.failif(d.import_fault == 1, EFAULT, "buffer not in user space");
	ex.failif(d.off_neg, EINVAL, "aio_offset negative");
	if (d.off_huge)
		ex.unknown();	/* overflow depends on the count */
	/* A real file on a real fs: the rest is the LSM and limits. */
}

std::string check_event_rw(const EventCheck &e)
{
	if (e.res > e.maxres)
		return strf("res above the %lld bytes asked", (long long)e.maxres);
	return check_cancel_honoured(e, true);
}

/* ---- FSYNC, FDSYNC ------------------------------------------------------ */

/* Mostly as it should be (all 0), sometimes a field that must be 0 is not. */
void generate_sync(Draft &d)
{
	Rng &r = d.r;
	if (r.chance(1, 20))
		d.cb.aio_buf = r.next();
	if (r.chance(1, 20))
		d.cb.aio_offset = (int64_t)r.next();
	if (r.chance(1, 20))
		d.cb.aio_nbytes = r.below(1 << 20);
	maybe_negative_nbytes(d);
}

void check_submit_sync(const Draft &d, Oracle &ex)
{
	const Target *t = target_or_unknown(d, ex);
	if (!t)
		return;
	const struct iocb &cb = d.cb;
	ex.failif(cb.aio_buf || cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags,
		  EINVAL, "FSYNC field not 0");
	if (t->fsync < 0)
		ex.unknown();
	ex.failif(t->fsync == 0, EINVAL, "file has no fsync");
	ex.failif(t->fsync == 2, EOPNOTSUPP, "fsync that could wait for ever");
}

std::string check_event_sync(const EventCheck &e)
{
	if (e.res > 0)
		return "FSYNC res > 0";
	return check_cancel_honoured(e, false);
}

/* ---- POLL --------------------------------------------------------------- */

void generate_poll(Draft &d)
{
	Rng &r = d.r;
	struct iocb &cb = d.cb;
	static const uint64_t evs[] = {POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI,
				       POLLRDHUP, 0, POLLERR | POLLHUP};
	cb.aio_buf = r.chance(9, 10) ? r.pick(evs) : (r.chance(1, 2) ? r.below(65536) : r.next());
	if (r.chance(1, 20))
		cb.aio_offset = 1 + (int64_t)r.below(100);
	if (r.chance(1, 20))
		cb.aio_nbytes = r.chance(1, 4) ? ~0ULL : 1 + r.below(100);
	d.bufdesc = strf("events=0x%llx", (unsigned long long)cb.aio_buf);
}

void check_submit_poll(const Draft &d, Oracle &ex)
{
	const Target *t = target_or_unknown(d, ex);
	if (!t)
		return;
	const struct iocb &cb = d.cb;
	ex.failif((uint16_t)cb.aio_buf != cb.aio_buf, EINVAL, "POLL events > 16 bits");
	ex.failif(cb.aio_offset || cb.aio_nbytes || cb.aio_rw_flags, EINVAL,
		  "POLL field not 0");
	if (t->can_poll < 0)
		ex.unknown();
	/* demangle_poll + ERR|HUP vs DEFAULT_POLLMASK */
	bool def = cb.aio_buf & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
	ex.failif(t->can_poll == 0 && !def, EINVAL, "POLL on a file without ->poll");
}

/* A cancelled POLL ends with res 0, as native AIO's (abi.md), never an errno. */
std::string check_event_poll(const EventCheck &e)
{
	if (e.res > 0xffff)
		return "POLL res wider than 16 bits";
	if (e.cancelled && e.res < 0)
		return "cancelled POLL res < 0";
	return "";
}

/* ---- NOOP and the invalid opcodes --------------------------------------- */

/* Fields nobody reads: anything. */
void generate_anything(Draft &d)
{
	Rng &r = d.r;
	if (r.chance(1, 2)) {
		d.cb.aio_buf = r.next();
		d.cb.aio_nbytes = r.below(1 << 20);
		d.cb.aio_offset = (int64_t)r.next();
	}
	maybe_negative_nbytes(d);
}

/* NOOP reads no field past the common ones. */
void check_submit_noop(const Draft &, Oracle &)
{
}

std::string check_event_noop(const EventCheck &e)
{
	if (e.res != 0)
		return "NOOP res != 0";
	return check_cancel_honoured(e, false);
}

/* What SETUP said the module serves (main() asks once, before forking). */
uint64_t served_opcodes;

void check_submit_invalid(const Draft &d, Oracle &ex)
{
	const uint16_t op = d.cb.aio_lio_opcode;

	/* Served, but the table has no entry yet: nothing to check. */
	if (op < 64 && (served_opcodes >> op & 1)) {
		ex.unknown();
		return;
	}
	ex.failif(true, EINVAL, "unknown opcode");
}

/* Never accepted; if one were, no more is known of its event. */
std::string check_event_invalid(const EventCheck &e)
{
	return check_cancel_honoured(e, false);
}

/* ---- the table ---------------------------------------------------------- */

/*
 * A seed picks entries by position (pick_op): 92 in 100 iocbs get one of
 * the valid entries, in this order, the rest one of the invalid ones. A new
 * entry changes what every old seed makes.
 */
const OpSpec OPS[] = {
	{.name = "PREAD", .opcode = IOCB_CMD_PREAD, .valid = true, .needs_file = true,
	 .reads = true, .generate = generate_rw, .check_submit = check_submit_rw,
	 .check_event = check_event_rw},
	{.name = "PWRITE", .opcode = IOCB_CMD_PWRITE, .valid = true, .needs_file = true,
	 .writes = true, .generate = generate_rw, .check_submit = check_submit_rw,
	 .check_event = check_event_rw},
	{.name = "FSYNC", .opcode = IOCB_CMD_FSYNC, .valid = true, .needs_file = true,
	 .generate = generate_sync, .check_submit = check_submit_sync,
	 .check_event = check_event_sync},
	{.name = "FDSYNC", .opcode = IOCB_CMD_FDSYNC, .valid = true, .needs_file = true,
	 .generate = generate_sync, .check_submit = check_submit_sync,
	 .check_event = check_event_sync},
	/* Waits until its file is ready, maybe never. */
	{.name = "POLL", .opcode = IOCB_CMD_POLL, .valid = true, .needs_file = true,
	 .may_wait_forever = true, .generate = generate_poll,
	 .check_submit = check_submit_poll, .check_event = check_event_poll},
	{.name = "NOOP", .opcode = IOCB_CMD_NOOP, .valid = true, .inline_only = true,
	 .generate = generate_anything, .check_submit = check_submit_noop,
	 .check_event = check_event_noop},
	{.name = "PREADV", .opcode = IOCB_CMD_PREADV, .valid = true, .needs_file = true,
	 .reads = true, .generate = generate_rw_vectored, .check_submit = check_submit_rw,
	 .check_event = check_event_rw},
	{.name = "PWRITEV", .opcode = IOCB_CMD_PWRITEV, .valid = true, .needs_file = true,
	 .writes = true, .generate = generate_rw_vectored, .check_submit = check_submit_rw,
	 .check_event = check_event_rw},
	/* 4 was the experimental IOCB_CMD_PREADX: a hole among the valid ones. */
	{.name = "op4", .opcode = 4, .needs_file = true, .generate = generate_anything,
	 .check_submit = check_submit_invalid, .check_event = check_event_invalid},
	{.name = "op9+", .opcode = IOCB_CMD_PWRITEV + 1, .last_opcode = 65535,
	 .needs_file = true, .generate = generate_anything,
	 .check_submit = check_submit_invalid, .check_event = check_event_invalid},
};

std::vector<const OpSpec *> entries(bool valid)
{
	std::vector<const OpSpec *> v;
	for (const OpSpec &op : OPS)
		if (op.valid == valid)
			v.push_back(&op);
	return v;
}

} // namespace

const OpSpec &pick_op(Rng &r)
{
	static const std::vector<const OpSpec *> valid = entries(true), invalid = entries(false);
	const auto &from = r.chance(92, 100) ? valid : invalid;
	return *from[r.below(from.size())];
}

void set_served_opcodes(uint64_t mask)
{
	served_opcodes = mask;
}

uint64_t valid_opcodes()
{
	uint64_t mask = 0;
	for (const OpSpec &op : OPS)
		if (op.valid)
			mask |= 1ULL << op.opcode;
	return mask;
}

uint16_t pick_opcode(const OpSpec &op, Rng &r)
{
	return op.last_opcode > op.opcode ? (uint16_t)r.range(op.opcode, op.last_opcode)
					  : op.opcode;
}

} // namespace kfz
