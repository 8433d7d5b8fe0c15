// SPDX-License-Identifier: GPL-2.0
// The part of a run that is the same for every engine: which offsets, how
// many requests in flight, what is timed. Keeping it in one place is what
// makes the engines comparable: each sees the same offsets in the same
// order, the same batches (every completion reaped is refilled, and the
// refills go to the engine in one submit call), and is timed the same way.
#include "bench.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <system_error>
#include <thread>

namespace bench {

Offsets::Offsets(std::uint64_t region_bytes, std::uint64_t block_bytes, bool random,
		 std::uint64_t seed, bool once)
	: blocks_(region_bytes / block_bytes), block_bytes_(block_bytes), once_(once)
{
	if (blocks_ == 0)
		throw std::invalid_argument("the region is smaller than one block");
	if (random) {
		if (blocks_ > UINT32_MAX)
			throw std::invalid_argument("too many blocks for a random order");
		order_.resize(blocks_);
		for (std::uint64_t i = 0; i < blocks_; i++)
			order_[i] = static_cast<std::uint32_t>(i);
		std::mt19937_64 generator(seed);
		std::shuffle(order_.begin(), order_.end(), generator);
	}
}

bool Offsets::next(std::uint64_t& offset) noexcept
{
	const std::uint64_t i = index_.fetch_add(1, std::memory_order_relaxed);
	if (once_ && i >= blocks_)
		return false;
	const std::uint64_t at = i % blocks_;
	offset = (order_.empty() ? at : order_[at]) * block_bytes_;
	return true;
}

void FreeDeleter::operator()(void* memory) const noexcept
{
	std::free(memory);
}

Buffer make_buffer(std::size_t bytes)
{
	const std::size_t size = (bytes + 4095) / 4096 * 4096;
	void* memory = std::aligned_alloc(4096, size);
	if (!memory)
		throw std::bad_alloc();
	// Non-zero and not all alike, so a write is a real copy; touched now
	// so no page fault lands inside a measured call.
	auto* bytes_ = static_cast<unsigned char*>(memory);
	for (std::size_t i = 0; i < size; i++)
		bytes_[i] = static_cast<unsigned char>(i * 131 + 7);
	return Buffer(static_cast<std::byte*>(memory));
}

namespace {

// Sample vectors are sized up front: a reallocation inside the measured
// loop would be time charged to whichever engine hit it.
std::size_t expected_samples(const Workload& workload)
{
	std::uint64_t n = workload.offsets->blocks();
	if (workload.max_ops)
		n = std::min(n, workload.max_ops);
	return static_cast<std::size_t>(std::min<std::uint64_t>(n + 64, 1U << 22));
}

std::string describe_error(std::int64_t res, std::uint64_t expected)
{
	return res < 0 ? std::string(std::strerror(static_cast<int>(-res)))
		       : "short transfer: " + std::to_string(res) + " of " +
				 std::to_string(expected) + " bytes";
}

void record_error(Samples& samples, std::int64_t res, std::uint64_t expected)
{
	if (samples.errors++ == 0)
		samples.first_error = describe_error(res, expected);
}

// Counts the sleeps inside the submit calls of one thread that
// submit_sleep_sample_interval and submit_sleep_sample_gap_ns pick, the
// first call included. One per submitting thread: RUSAGE_THREAD counts
// only the thread that asks.
class SubmitSleepSampler {
public:
	// Just before a submit call: returns its start time, taken after
	// getrusage(), which is no part of the call's time.
	std::int64_t start_call() noexcept
	{
		const std::int64_t now = now_ns();
		sampling_ = calls_++ % submit_sleep_sample_interval == 0 ||
			    now - last_sampled_ns_ >= submit_sleep_sample_gap_ns;
		if (!sampling_)
			return now;
		switches_before_ = voluntary_switches();
		last_sampled_ns_ = now_ns();
		return last_sampled_ns_;
	}

	// Just after the call, with the requests it queued.
	void end_call(std::size_t queued) noexcept
	{
		if (!sampling_)
			return;
		totals_.sleeps += voluntary_switches() - switches_before_;
		totals_.calls++;
		totals_.requests += queued;
	}

	const SubmitSleeps& totals() const noexcept { return totals_; }

private:
	static std::uint64_t voluntary_switches() noexcept
	{
		rusage usage{};
		::getrusage(RUSAGE_THREAD, &usage);
		return static_cast<std::uint64_t>(usage.ru_nvcsw);
	}

	std::uint64_t calls_ = 0;
	std::int64_t last_sampled_ns_ = 0;
	bool sampling_ = false;
	std::uint64_t switches_before_ = 0;
	SubmitSleeps totals_;
};

} // namespace

Samples run_async(AsyncEngine& engine, const Workload& workload)
{
	const unsigned depth = workload.queue_depth;
	std::vector<Buffer> buffers;
	for (unsigned i = 0; i < depth; i++)
		buffers.push_back(make_buffer(workload.block_bytes));

	Samples samples;
	const std::size_t expected = expected_samples(workload);
	samples.latency_ns.reserve(expected);
	samples.submit_ns.reserve(expected);
	samples.submit_batch.reserve(expected);

	std::vector<std::int64_t> started(depth);
	std::vector<unsigned> free_slots;
	for (unsigned i = depth; i-- > 0;)
		free_slots.push_back(i);
	std::vector<unsigned> pending; // prepared, not yet queued
	pending.reserve(depth);
	std::vector<AsyncEngine::Completion> completions(depth);
	SubmitSleepSampler sleep_sampler;

	std::uint64_t issued = 0;
	std::size_t in_flight = 0;
	bool stopping = false;
	const std::int64_t t0 = now_ns();
	const std::int64_t deadline = workload.runtime_ns ? t0 + workload.runtime_ns : INT64_MAX;
	std::int64_t last = t0;

	auto prepare_more = [&] {
		while (!stopping && !free_slots.empty()) {
			std::uint64_t offset;
			if ((workload.max_ops && issued >= workload.max_ops) ||
			    !workload.offsets->next(offset)) {
				stopping = true;
				break;
			}
			const unsigned slot = free_slots.back();
			free_slots.pop_back();
			engine.prepare(slot, workload.fd, workload.write, buffers[slot].get(),
				       workload.block_bytes, offset);
			pending.push_back(slot);
			issued++;
		}
	};
	auto submit_pending = [&] {
		std::size_t done = 0;
		while (done < pending.size()) {
			const std::span<const unsigned> batch = std::span(pending).subspan(done);
			const std::int64_t before = sleep_sampler.start_call();
			std::size_t queued;
			try {
				queued = engine.submit(batch);
			} catch (const std::system_error& error) {
				// Capacity (EAGAIN) with requests in flight: reap, retry.
				if (error.code() != std::errc::resource_unavailable_try_again || in_flight == 0)
					throw;
				queued = 0;
			}
			const std::int64_t after = now_ns();
			sleep_sampler.end_call(queued);
			samples.submit_ns.push_back(after - before);
			samples.submit_batch.push_back(static_cast<std::uint32_t>(batch.size()));
			for (std::size_t i = 0; i < queued; i++)
				started[batch[i]] = before;
			in_flight += queued;
			done += queued;
			if (queued < batch.size())
				break;
		}
		pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
	};

	prepare_more();
	submit_pending();
	while (in_flight > 0) {
		const std::size_t got = engine.reap(completions);
		const std::int64_t now = now_ns();
		for (const AsyncEngine::Completion& completion : std::span(completions).first(got)) {
			samples.latency_ns.push_back(now - started[completion.slot]);
			if (completion.res == static_cast<std::int64_t>(workload.block_bytes))
				samples.bytes += static_cast<std::uint64_t>(completion.res);
			else
				record_error(samples, completion.res, workload.block_bytes);
			samples.ops++;
			free_slots.push_back(completion.slot);
		}
		in_flight -= got;
		last = now;
		if (now >= deadline)
			stopping = true;
		prepare_more();
		submit_pending();
	}
	samples.elapsed_ns = last - t0;
	samples.submit_sleeps = sleep_sampler.totals();
	return samples;
}

Samples run_psync(const Workload& workload)
{
	const unsigned threads = std::max(1U, workload.threads);
	struct PerThread {
		std::vector<std::int64_t> latency_ns;
		SubmitSleepSampler sleep_sampler;
		std::uint64_t bytes = 0;
		std::uint64_t errors = 0;
		std::int64_t first_res = 0;
		std::int64_t end = 0;
	};
	std::vector<PerThread> per_thread(threads);
	const std::size_t expected = expected_samples(workload);
	for (PerThread& t : per_thread)
		t.latency_ns.reserve(expected / threads + 64);

	std::atomic<bool> go{false};
	std::atomic<std::uint64_t> issued{0};
	std::atomic<std::int64_t> start_at{0};
	auto body = [&](PerThread& me) {
		Buffer buffer = make_buffer(workload.block_bytes);
		// Blocked, not spinning: CPU burnt while the other threads are
		// created would be charged to this engine's operations.
		go.wait(false, std::memory_order_acquire);
		const std::int64_t t0 = start_at.load(std::memory_order_relaxed);
		const std::int64_t deadline = workload.runtime_ns ? t0 + workload.runtime_ns : INT64_MAX;
		for (;;) {
			if (workload.max_ops &&
			    issued.fetch_add(1, std::memory_order_relaxed) >= workload.max_ops)
				break;
			std::uint64_t offset;
			if (!workload.offsets->next(offset))
				break;
			const std::int64_t before = me.sleep_sampler.start_call();
			const ssize_t res = workload.write
				? ::pwrite(workload.fd, buffer.get(), workload.block_bytes, static_cast<off_t>(offset))
				: ::pread(workload.fd, buffer.get(), workload.block_bytes, static_cast<off_t>(offset));
			const std::int64_t after = now_ns();
			me.sleep_sampler.end_call(1);
			me.latency_ns.push_back(after - before);
			if (res == static_cast<ssize_t>(workload.block_bytes)) {
				me.bytes += static_cast<std::uint64_t>(res);
			} else if (me.errors++ == 0) {
				me.first_res = res < 0 ? -errno : res;
			}
			me.end = after;
			if (after >= deadline)
				break;
		}
	};

	std::vector<std::thread> pool;
	for (PerThread& t : per_thread)
		pool.emplace_back(body, std::ref(t));
	const std::int64_t t0 = now_ns();
	start_at.store(t0, std::memory_order_relaxed);
	go.store(true, std::memory_order_release);
	go.notify_all();
	for (std::thread& t : pool)
		t.join();

	Samples samples;
	std::int64_t end = t0;
	for (PerThread& t : per_thread) {
		samples.latency_ns.insert(samples.latency_ns.end(), t.latency_ns.begin(), t.latency_ns.end());
		samples.bytes += t.bytes;
		samples.submit_sleeps += t.sleep_sampler.totals();
		if (t.errors && samples.first_error.empty())
			samples.first_error = describe_error(t.first_res, workload.block_bytes);
		samples.errors += t.errors;
		end = std::max(end, t.end);
	}
	samples.ops = samples.latency_ns.size();
	// A synchronous call is its own submit: the caller waits in it for
	// the whole operation (its sleeps include the wait for the device).
	samples.submit_ns = samples.latency_ns;
	samples.submit_batch.assign(samples.submit_ns.size(), 1);
	samples.elapsed_ns = end - t0;
	return samples;
}

} // namespace bench
