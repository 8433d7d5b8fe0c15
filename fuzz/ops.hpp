// SPDX-License-Identifier: GPL-2.0
/*
 * kaio-fuzz's knowledge of the opcodes, in one table (ops.cpp): for each,
 * its name, how to fill an iocb of it, which errno SUBMIT must give for it
 * (the ABI's order of checks, Documentation/abi.md) and what its event may
 * say. kaio_fuzz.cpp does what every opcode shares (where the iocb lives,
 * its fd, flags, resfd, ioprio) and asks the table for the rest. A new
 * opcode is one entry in OPS plus its three functions.
 */
#ifndef KAIO_FUZZ_OPS_HPP
#define KAIO_FUZZ_OPS_HPP

#include "util.hpp"

#include <sys/uio.h>

namespace kfz {

/* Sizes the generators aim at; kaio_fuzz.cpp lays out its memory with them. */
constexpr size_t PAGE = 4096;
constexpr size_t SLOT = 64 * 1024;		/* one data buffer */
constexpr int64_t MAX_RW = 0x7ffff000;		/* MAX_RW_COUNT */
constexpr uint64_t IOV_LIMIT = 1024;		/* UIO_MAXIOV: more is EINVAL, unread */

/* ---- targets: the files requests are made on --------------------------- */

enum class TK {
	File, FileDirect, FileRO, FileWO, Raw, RawDirect, ErrDev, PipeR, PipeW,
	Eventfd, DevNull, DevZero, Sock, Signalfd, DevKaio, Dir, OPath,
};

/* 1 yes, 0 no, -1 not sure (no oracle then); fsync 2: not on a worker. */
struct Target {
	int fd;
	TK kind;
	std::string name;
	bool direct;
	uint64_t span;		/* offsets worth using */
	bool readable, writable;
	int read_iter, write_iter, fsync, can_poll, nowait;
	bool safe_write;	/* writes of garbage are fine */
};

/* ---- the oracle of SUBMIT ---------------------------------------------- */

/* What SUBMIT must answer for one iocb: the first failing check wins. */
struct Oracle {
	bool known = true;	/* false: only the documented set is checked */
	int err = 0;		/* the first check that fails, 0: none */
	bool after_reserve = false;
	std::string why;
	void failif(bool cond, int e, const char *w)
	{
		if (known && !err && cond) {
			err = e;
			why = w;
		}
	}
	void unknown()
	{
		if (!err)
			known = false;
	}
	void reserve()
	{
		if (known && !err)
			after_reserve = true;
	}
};

/* ---- memory the generators may point the kernel at ---------------------- */

/* A user address for a read or write (never memory the fuzzer itself uses). */
enum BufKind { B_VALID, B_OVERRUN, B_NULL, B_KERNEL, B_NONCANON, B_NONE, B_RO,
	       B_LOW, B_TEMP, B_RING, B_EDGE, B_ANY };

struct Buf {
	uint64_t addr;
	BufKind kind;
};

const char *bufname(BufKind k);

/* Room for an iovec array, or a pointer that cannot be one. */
struct IovArray {
	uint64_t addr;		/* what aio_buf gets */
	struct iovec *v;	/* the entries to fill; null: addr is not ours */
	size_t n;		/* entries of v to fill */
	size_t readable;	/* entries the kernel can read at addr */
};

/*
 * The fuzzer's memory, as one SUBMIT lends it to the generators
 * (kaio_fuzz.cpp). Both draw from the worker's generator, as the caller.
 */
class Memory {
public:
	/* @len bytes to read into (@for_read) or write from: mostly valid. */
	virtual Buf buffer(bool for_read, uint64_t len, bool direct) = 0;
	/* Where @cnt iovecs go: mostly this iocb's own, sometimes at the guard. */
	virtual IovArray iovecs(uint64_t cnt) = 0;

protected:
	~Memory() = default;
};

/* ---- one iocb in the making -------------------------------------------- */

struct OpSpec;

/*
 * The common part (kaio_fuzz.cpp's build_iocb) has filled aio_data,
 * aio_key, the opcode, aio_fildes, aio_flags, aio_resfd, aio_reqprio,
 * aio_reserved2 and aio_rw_flags; the opcode's generator fills the rest and
 * says what its oracle needs to know.
 */
struct Draft {
	Rng &r;
	Memory &mem;
	struct iocb &cb;
	const OpSpec &op;
	const Target *t;	/* null: aio_fildes is no target (bad, a context) */
	bool direct;		/* t is O_DIRECT: mostly aligned sizes */
	/* From the common part. */
	int ioprio;		/* 0 none, 1 valid, 2 invalid */
	bool rwf_unknown;	/* aio_rw_flags has a bit RWF_SUPPORTED lacks */
	bool rwf_nowait;
	/* From the generator. */
	int64_t maxres = 0;	/* the most a read or write may report */
	std::string bufdesc{};	/* its buffer or events, for messages */
	/* From the generator: what decides a read's or write's errno. */
	bool off_neg = false;
	bool off_huge = false;	/* offset + count may overflow: no oracle */
	int import_fault = 0;	/* buffer: 0 fine, 1 EFAULT at import, -1 unsure */
	bool iov_toomany = false, iov_badarray = false, iov_neg = false;
};

/* ---- one event --------------------------------------------------------- */

/* A tracked iocb's event, as its opcode's event oracle sees it. */
struct EventCheck {
	long long res;
	int64_t maxres;
	bool cancelled;		/* a CANCEL of this one iocb said EINPROGRESS */
	bool sole;		/* ... and no other outstanding iocb has its address */
};

/* ---- the table ---------------------------------------------------------- */

/*
 * The flags default to false; the functions have no default, so that
 * -Wmissing-field-initializers (-Wextra) refuses an entry without them.
 */
struct OpSpec {
	const char *name;		/* in messages and the summary's counts */
	uint16_t opcode;
	uint16_t last_opcode = 0;	/* > opcode: one of the range, drawn */
	bool valid = false;		/* kaio has it; else SUBMIT says EINVAL */
	bool needs_file = false;	/* aio_fildes is looked up (not NOOP) */
	bool reads = false;		/* moves data into user memory */
	bool writes = false;		/* moves data out of user memory */
	bool may_wait_forever = false;	/* cancelled before a graceful close */
	bool inline_only = false;	/* done inside SUBMIT: res2 KAIO_PATH_INLINE */
	/* Fills the fields the opcode uses (and sometimes those it does not). */
	void (*generate)(Draft &d);
	/* Its checks of SUBMIT's order, after the fd and resfd ones. */
	void (*check_submit)(const Draft &d, Oracle &ex);
	/* What is wrong with its event ("" if nothing) beyond res >= -4095. */
	std::string (*check_event)(const EventCheck &e);
};

/* The next iocb's entry, then its opcode (an entry for a range draws one). */
const OpSpec &pick_op(Rng &r);
uint16_t pick_opcode(const OpSpec &op, Rng &r);
/* The table's valid entries as kaio_setup.opcodes: SETUP must report them. */
uint64_t valid_opcodes();
/*
 * kaio_setup.opcodes: an opcode the module serves and the table does not
 * know (a new one) is fuzzed as an invalid entry's draw, without oracle.
 */
void set_served_opcodes(uint64_t mask);

inline bool moves_data(const OpSpec &op)
{
	return op.reads || op.writes;
}

} // namespace kfz

#endif
