// SPDX-License-Identifier: GPL-2.0
// kaio-bench: one workload, the same for every engine (kaio, native AIO,
// io_uring, glibc POSIX aio, psync threads). This header is what the engines
// share; each engine lives in its own file because their headers clash
// (<libaio.h> defines its own struct iocb, <kaio/kaio.hpp> uses the kernel's).
#ifndef KAIO_BENCH_HPP
#define KAIO_BENCH_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() noexcept
{
	return std::chrono::duration_cast<std::chrono::nanoseconds>(
		Clock::now().time_since_epoch()).count();
}

// The offsets a run visits. Random order is a permutation of the blocks
// (every block once before any repeats, as fio's random map), so a cold
// run really reads every block from the device; sequential order walks
// the region. `once` ends the sequence after one pass instead of wrapping.
class Offsets {
public:
	Offsets(std::uint64_t region_bytes, std::uint64_t block_bytes, bool random,
		std::uint64_t seed, bool once);

	// The next offset, or false when the sequence has ended. Thread-safe.
	bool next(std::uint64_t& offset) noexcept;
	// Back to the first offset of the same order, for the next run.
	void rewind() noexcept { index_.store(0, std::memory_order_relaxed); }
	std::uint64_t blocks() const noexcept { return blocks_; }

private:
	std::uint64_t blocks_;
	std::uint64_t block_bytes_;
	bool once_;
	std::vector<std::uint32_t> order_; // empty: sequential
	std::atomic<std::uint64_t> index_{0};
};

// What one run is asked to do.
struct Workload {
	int fd = -1;
	bool write = false;
	std::uint64_t block_bytes = 4096;
	unsigned queue_depth = 1;
	unsigned threads = 1;		// psync
	std::int64_t runtime_ns = 0;	// 0: no time limit
	std::uint64_t max_ops = 0;	// 0: no count limit
	Offsets* offsets = nullptr;
};

// Which submit calls are measured for sleeps: every 16th of a thread, and
// any that starts 10 ms or more after its last measured one. getrusage()
// is a syscall of its own (dear under TCG): two around every call would
// slow most the engines whose submit is cheapest, and one in 16 keeps that
// small. Where calls are slow (a cold buffered batch takes milliseconds
// under TCG) there are few of them, one in 16 would leave a handful per
// run, and the gap rule measures most of them: at most 100 more a second,
// nothing beside calls that long.
inline constexpr std::uint64_t submit_sleep_sample_interval = 16;
inline constexpr std::int64_t submit_sleep_sample_gap_ns = 10'000'000;

// Sleeps inside submit calls: the submitting thread's voluntary context
// switches (getrusage(RUSAGE_THREAD) ru_nvcsw) across the calls measured.
struct SubmitSleeps {
	std::uint64_t sleeps = 0;
	std::uint64_t calls = 0;	// submit calls measured
	std::uint64_t requests = 0;	// requests those calls queued

	SubmitSleeps& operator+=(const SubmitSleeps& other) noexcept
	{
		sleeps += other.sleeps;
		calls += other.calls;
		requests += other.requests;
		return *this;
	}
};

// What one run measured. Times in nanoseconds.
struct Samples {
	std::vector<std::int64_t> submit_ns;	// time inside each submit call
	std::vector<std::uint32_t> submit_batch; // requests given to each call
	std::vector<std::int64_t> latency_ns;	// submit-call entry to reap, per op
	SubmitSleeps submit_sleeps;		// of the submit calls measured
	std::uint64_t ops = 0;
	std::uint64_t bytes = 0;
	std::uint64_t errors = 0;
	std::string first_error;
	std::int64_t elapsed_ns = 0;
	// Engine-specific counters (kaio: fdinfo deltas), reported as they are.
	std::map<std::string, std::int64_t> counters;
};

// An asynchronous engine, driven by run_async(): `slots` requests, each
// with its own buffer, at most queue_depth in flight.
class AsyncEngine {
public:
	struct Completion {
		unsigned slot;
		std::int64_t res; // bytes, or -errno
	};

	virtual ~AsyncEngine() = default;
	// Prepares slot `slot` as a read or write of `length` bytes at `offset`
	// into/from `buffer`. Called only for slots that are not in flight.
	virtual void prepare(unsigned slot, int fd, bool write, void* buffer,
			     std::uint64_t length, std::uint64_t offset) = 0;
	// Submits the prepared slots, in order, in one call of the engine's
	// submit function; returns how many were queued (the first ones).
	// Throws std::system_error when none could be.
	virtual std::size_t submit(std::span<const unsigned> slots) = 0;
	// Waits until at least one request has completed, then returns the
	// completions available (at most out.size()).
	virtual std::size_t reap(std::span<Completion> out) = 0;
	// Counters the engine keeps (kaio: its context's fdinfo).
	virtual std::map<std::string, std::int64_t> counters() { return {}; }
};

// The engines. Each throws std::system_error when it cannot be set up
// (no /dev/kaio, io_uring disabled ...).
std::unique_ptr<AsyncEngine> make_kaio(unsigned queue_depth, bool reap_syscall);
std::unique_ptr<AsyncEngine> make_libaio(unsigned queue_depth);
std::unique_ptr<AsyncEngine> make_io_uring(unsigned queue_depth);
std::unique_ptr<AsyncEngine> make_posix_aio(unsigned queue_depth);
// libkaio-posix: the same POSIX calls as make_posix_aio(), served by kaio.
std::unique_ptr<AsyncEngine> make_kaio_posix(unsigned queue_depth);

// Drives an asynchronous engine through the workload.
Samples run_async(AsyncEngine& engine, const Workload& workload);
// psync: `workload.threads` threads, each pread/pwrite in a loop.
Samples run_psync(const Workload& workload);

// Page-aligned buffers (O_DIRECT needs them), filled with a pattern.
struct FreeDeleter {
	void operator()(void* memory) const noexcept;
};
using Buffer = std::unique_ptr<std::byte, FreeDeleter>;
Buffer make_buffer(std::size_t bytes);

} // namespace bench

#endif
