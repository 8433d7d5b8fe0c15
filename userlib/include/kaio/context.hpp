// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::Context: one kaio io context, the RAII owner of its file descriptor
// and of its mmap()ed completion ring.
#ifndef KAIO_CONTEXT_HPP
#define KAIO_CONTEXT_HPP

#include <kaio/export.hpp>
#include <kaio/operation.hpp>
#include <kaio/stats.hpp>

#include <linux/kaio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

namespace kaio {

namespace detail {

// An owned file descriptor; closed on destruction. Exported because the
// inline members of Context (move, destruction) reach reset().
class KAIO_API UniqueFd {
public:
	UniqueFd() noexcept = default;
	explicit UniqueFd(int fd) noexcept : fd_(fd) {}
	UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
	UniqueFd& operator=(UniqueFd&& other) noexcept
	{
		if (this != &other)
			reset(std::exchange(other.fd_, -1));
		return *this;
	}
	~UniqueFd() { reset(); }

	int get() const noexcept { return fd_; }
	void reset(int fd = -1) noexcept;

private:
	int fd_ = -1;
};

// An owned shared mapping; unmapped on destruction.
class KAIO_API Mapping {
public:
	Mapping() noexcept = default;
	Mapping(void* address, std::size_t size) noexcept : address_(address), size_(size) {}
	Mapping(Mapping&& other) noexcept
		: address_(std::exchange(other.address_, nullptr)),
		  size_(std::exchange(other.size_, 0)) {}
	Mapping& operator=(Mapping&& other) noexcept
	{
		if (this != &other) {
			reset();
			address_ = std::exchange(other.address_, nullptr);
			size_ = std::exchange(other.size_, 0);
		}
		return *this;
	}
	~Mapping() { reset(); }

	void* get() const noexcept { return address_; }
	std::size_t size() const noexcept { return size_; }
	void reset() noexcept;

private:
	void* address_ = nullptr;
	std::size_t size_ = 0;
};

} // namespace detail

// A batch that was only partly queued: queued() requests (the first ones)
// are in flight, code() says why the next one was refused. Thrown by the
// calls that queue a whole batch (Context::submit_all, the Operation
// overloads of Context::submit).
class KAIO_API SubmitError : public std::system_error {
public:
	SubmitError(std::error_code ec, std::size_t queued);
	~SubmitError() override;
	std::size_t queued() const noexcept { return queued_; }

private:
	std::size_t queued_;
};

// What io_cancel(2) reported for a request that was still known.
enum class CancelResult {
	// Cancelled: its event (res = -ECANCELED, or the bytes it had already
	// moved) comes through the ring.
	cancelled,
	// Already running and cannot be stopped: its normal event will come.
	already_running,
};

// One io context on /dev/kaio, as io_setup(2) creates one.
//
// Move-only. Destruction destroys the context (KAIO_IOC_DESTROY: pending
// requests are cancelled, running ones waited for), so no request can touch
// the caller's buffers once the Context is gone, even if the fd was
// duplicated. Requests and their buffers must outlive their completion.
//
// Every throwing call has a noexcept overload that reports through a
// std::error_code instead (errno values, std::system_category()).
//
// submit(), submit_all() and cancel() may be called from several threads at
// once (the module serialises them). Taking events — get_events(),
// reap_ring() and the completion loops dispatch(), run_one(), run(),
// run_for() — is for one consumer at a time.
//
// Completion callbacks (operation.hpp): submit Operations, then let one of
// the completion loops run their completions. A context whose completions
// are run that way must carry only Operations: the loops take every event
// for an Operation's.
class KAIO_API Context {
public:
	// An empty context that owns nothing; every call on it fails (EBADF).
	Context() noexcept = default;

	// io_setup(2): opens /dev/kaio, sets up a context able to hold
	// `nr_events` completions (requests in flight plus unreaped events) and
	// maps its completion ring. `setup_flags` are KAIO_SETUP_* bits.
	// Throws std::system_error (ENOENT without the module, EINVAL for 0
	// events or unknown flags, EAGAIN above the module's limit).
	explicit Context(std::uint32_t nr_events, std::uint32_t setup_flags = 0);
	// As above; on failure `ec` is set and the context is left empty.
	Context(std::uint32_t nr_events, std::uint32_t setup_flags, std::error_code& ec) noexcept;

	// The source is left empty, as if default-constructed.
	Context(Context&& other) noexcept;
	Context& operator=(Context&& other) noexcept;
	Context(const Context&) = delete;
	Context& operator=(const Context&) = delete;
	~Context();

	// The context fd: poll() it for POLLIN, or read its fdinfo.
	int fd() const noexcept { return fd_.get(); }
	bool is_open() const noexcept { return fd_.get() >= 0; }
	explicit operator bool() const noexcept { return is_open(); }

	// The capacity granted (at least the nr_events asked for).
	std::uint32_t capacity() const noexcept { return capacity_; }
	std::uint32_t setup_flags() const noexcept { return setup_flags_; }
	// KAIO_FEAT_* bits the module reported at setup.
	std::uint64_t features() const noexcept { return features_; }
	// Bit N: opcode N (IOCB_CMD_*) is served; 0 if the module is older
	// than KAIO_FEAT_OPCODES. Other opcodes fail submission with EINVAL.
	std::uint64_t opcodes() const noexcept { return opcodes_; }
	bool supports(std::uint16_t opcode) const noexcept
	{
		return opcode < 64 && (opcodes_ >> opcode & 1);
	}
	// The mapped completion ring, or nullptr without one.
	const kaio_ring* ring() const noexcept { return static_cast<const kaio_ring*>(ring_.get()); }

	// io_submit(2): queues the requests in order; returns how many were
	// queued, which may be fewer than given. Fails only if the first one
	// cannot be queued (EAGAIN when the capacity is used up, EBADF, EINVAL,
	// EFAULT). Each iocb must stay valid until its completion.
	std::size_t submit(std::span<iocb* const> requests);
	std::size_t submit(std::span<iocb* const> requests, std::error_code& ec) noexcept;

	// Queues every request of the batch: after a short count from
	// io_submit it carries on from the first request not queued, until all
	// are queued or one is refused. Returns how many were queued (the
	// first ones). Throws SubmitError (with that count) when one was
	// refused; the noexcept overload returns the count and sets `ec` to
	// the refused request's error (EAGAIN when the capacity is used up).
	std::size_t submit_all(std::span<iocb* const> requests);
	std::size_t submit_all(std::span<iocb* const> requests, std::error_code& ec) noexcept;

	// Submits operations, whose completions the loops below run. The
	// whole batch is queued as submit_all() queues it, with the same
	// errors; an operation without a completion is refused (EINVAL).
	// Operations that were not queued never complete.
	void submit(Operation& operation);
	void submit(Operation& operation, std::error_code& ec) noexcept;
	std::size_t submit(std::span<Operation* const> operations);
	std::size_t submit(std::span<Operation* const> operations, std::error_code& ec) noexcept;

	// Operations submitted and not completed yet (their completion has not
	// started).
	std::size_t operations_in_flight() const noexcept
	{
		return operations_in_flight_.load(std::memory_order_relaxed);
	}

	// Completion loops (asio's poll/run_one/run/run_for). Each returns how
	// many completions it ran. Events are taken from the mapped ring with
	// no system call while there are some; only waiting enters the kernel
	// (GETEVENTS). A signal does not end a wait: it is retried with what is
	// left of the timeout.
	//
	// dispatch(): runs the completions already there, at most `max`;
	// never waits.
	std::size_t dispatch(std::size_t max = SIZE_MAX);
	std::size_t dispatch(std::size_t max, std::error_code& ec) noexcept;
	// run_one(): runs one completion, waiting up to `timeout` for it (no
	// timeout: until one comes). 0 when the time ran out.
	std::size_t run_one(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
	std::size_t run_one(std::optional<std::chrono::nanoseconds> timeout,
			    std::error_code& ec) noexcept;
	// run(): runs completions until no operation is in flight.
	std::size_t run();
	std::size_t run(std::error_code& ec) noexcept;
	// run_for(): as run(), but returns when `duration` has passed too.
	std::size_t run_for(std::chrono::nanoseconds duration);
	std::size_t run_for(std::chrono::nanoseconds duration, std::error_code& ec) noexcept;

	// io_getevents(2): waits until at least `min_nr` completions are
	// available or `timeout` (relative) has passed, then copies up to
	// out.size() of them. No timeout waits forever. Returns the number
	// copied; fails with EINTR if a signal arrived before any completion.
	std::size_t get_events(std::size_t min_nr, std::span<io_event> out,
			       std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
	std::size_t get_events(std::size_t min_nr, std::span<io_event> out,
			       std::optional<std::chrono::nanoseconds> timeout,
			       std::error_code& ec) noexcept;

	// Reaps completions straight from the mapped ring, with no system call
	// (what libaio's user-space io_getevents fast path does on native AIO).
	// Never waits; returns the number copied into `out`.
	std::size_t reap_ring(std::span<io_event> out) noexcept;

	// io_cancel(2) of a submitted request, identified by its address.
	// Throws EINVAL when no such request is pending (e.g. it completed).
	CancelResult cancel(const iocb& request);
	// As above; when `ec` is set the result means nothing.
	CancelResult cancel(const iocb& request, std::error_code& ec) noexcept;

	// io_destroy(2): cancels what can be cancelled and waits for the rest.
	// The fd stays open but every later call on it fails with EINVAL.
	void destroy();
	void destroy(std::error_code& ec) noexcept;

	// The context's counters from /proc/self/fdinfo/<fd>.
	Stats stats() const;
	Stats stats(std::error_code& ec) const noexcept;

private:
	KAIO_LOCAL void destroy_quietly() noexcept;
	KAIO_LOCAL std::size_t complete_batch(std::size_t max, bool wait,
					      std::optional<std::chrono::steady_clock::time_point> deadline,
					      std::error_code& ec) noexcept;
	KAIO_LOCAL std::size_t run_until(std::optional<std::chrono::steady_clock::time_point> deadline,
					 std::error_code& ec) noexcept;

	// Declared before ring_ so that it is destroyed after it: the mapping
	// holds a reference to the context file, so the ring has to go first
	// for close() to be the last reference and release the context.
	detail::UniqueFd fd_;
	detail::Mapping ring_;
	// The ring's slot count, read once at setup after checking it against
	// the mapping's size: the header is writable by user space, so a later
	// read could index outside the mapping.
	std::uint32_t ring_slots_ = 0;
	std::uint32_t capacity_ = 0;
	std::uint32_t setup_flags_ = 0;
	std::uint64_t features_ = 0;
	std::uint64_t opcodes_ = 0;
	std::atomic<std::size_t> operations_in_flight_{0};
};

} // namespace kaio

#endif
