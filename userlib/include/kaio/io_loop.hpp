// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::IoLoop: C++20 coroutines over a kaio context.
//
//   kaio::Task<std::size_t> first_block(kaio::IoLoop& loop, int fd, std::span<std::byte> buffer)
//   {
//           co_return co_await loop.read(fd, buffer, 0);   // bytes; throws std::system_error
//   }
//   kaio::IoLoop loop(64);
//   std::size_t bytes = loop.run(first_block(loop, fd, buffer));
//
// Every `co_await loop.read(...)` (write, fsync, poll, ...) is an Operation
// (operation.hpp) that lives in the coroutine frame: nothing is allocated
// per I/O. The loop queues it and submits what has queued up in one batch
// when it next gets control (run, run_once, flush), so N tasks that each
// start a read cost one io_submit. Requests the context has no room for
// (EAGAIN) stay queued until completions free capacity. Completions resume
// the awaiting coroutine from the loop's dispatch, never from inside
// co_await, so the stack does not grow with the number of operations.
//
// Errors: the plain awaitables throw std::system_error from co_await (the
// request's errno: EBADF, EIO, ...); each has an overload taking a
// std::error_code& that is set instead (and the result is 0). The loop is
// single-threaded: one thread runs it and its tasks.
#ifndef KAIO_IO_LOOP_HPP
#define KAIO_IO_LOOP_HPP

#include <kaio/context.hpp>
#include <kaio/export.hpp>
#include <kaio/operation.hpp>
#include <kaio/request.hpp>
#include <kaio/task.hpp>

#include <sys/uio.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>

namespace kaio {

class IoLoop;

namespace detail {

// A spawned task's place in its loop's list, so that a loop destroyed
// before the task ended can destroy its frame.
struct DetachedLink {
	DetachedLink* prev = nullptr;
	DetachedLink* next = nullptr;
	std::coroutine_handle<> frame;
};

struct IoLoopAccess;

// What a failed request's std::system_error says.
inline const char* operation_name(std::uint16_t opcode) noexcept
{
	switch (opcode) {
	case IOCB_CMD_PREAD: return "kaio: read";
	case IOCB_CMD_PWRITE: return "kaio: write";
	case IOCB_CMD_PREADV: return "kaio: readv";
	case IOCB_CMD_PWRITEV: return "kaio: writev";
	case IOCB_CMD_FSYNC: return "kaio: fsync";
	case IOCB_CMD_FDSYNC: return "kaio: fdatasync";
	case IOCB_CMD_POLL: return "kaio: poll";
	case IOCB_CMD_NOOP: return "kaio: noop";
	}
	return "kaio: request";
}

} // namespace detail

// The awaitable an IoLoop call returns; co_await gives a Result:
// std::size_t (bytes) for reads and writes, void for fsync/fdsync, short
// (the ready mask) for poll, the io_event itself for IoLoop::submit().
// Not copyable: it is the in-flight request.
template <typename Result>
class [[nodiscard]] IoOperation : public Operation {
public:
	IoOperation(IoLoop& loop, const iocb& request, std::error_code* ec) noexcept
		: Operation(request, &on_complete), loop_(&loop), ec_(ec) {}
	IoOperation(const IoOperation&) = delete;
	IoOperation& operator=(const IoOperation&) = delete;

	bool await_ready() const noexcept { return false; }
	void await_suspend(std::coroutine_handle<> waiter) noexcept;
	Result await_resume();

	// The completed request's event (res, res2), valid after co_await.
	const io_event& event() const noexcept { return event_; }

private:
	static void on_complete(Operation& operation, const io_event& event) noexcept
	{
		auto& self = static_cast<IoOperation&>(operation);
		self.event_ = event;
		self.waiter_.resume();
	}

	IoLoop* loop_;
	std::error_code* ec_;
	std::coroutine_handle<> waiter_;
	io_event event_{};
};

// Runs coroutines (Task<T>) whose I/O goes through one kaio context. Owns
// the Context; not movable (tasks refer to it).
class KAIO_API IoLoop {
public:
	// A loop over a new context (Context(nr_events, setup_flags)): at most
	// nr_events requests in flight; more wait in the loop's queue.
	explicit IoLoop(std::uint32_t nr_events, std::uint32_t setup_flags = 0);
	IoLoop(std::uint32_t nr_events, std::uint32_t setup_flags, std::error_code& ec) noexcept;
	IoLoop(const IoLoop&) = delete;
	IoLoop& operator=(const IoLoop&) = delete;
	// Destroys the context first (cancels and waits for every request, so
	// none completes into a frame), then the frames of spawned tasks that
	// had not ended.
	~IoLoop();

	Context& context() noexcept { return context_; }
	const Context& context() const noexcept { return context_; }
	// The context fd, readable (POLLIN) while completions wait: watch it
	// with epoll and call run_once(0ns) when it is.
	int fd() const noexcept { return context_.fd(); }

	// Makes every request the loop submits from now on signal `event_fd`
	// (IOCB_FLAG_RESFD); -1 stops it.
	void set_eventfd(int event_fd) noexcept { eventfd_ = event_fd; }
	int eventfd() const noexcept { return eventfd_; }

	// Awaitables, one per request kind (see request.hpp's builders).
	IoOperation<std::size_t> read(int fd, std::span<std::byte> buffer, std::uint64_t offset) noexcept
	{
		return {*this, prepared(make_read(fd, buffer, offset)), nullptr};
	}
	IoOperation<std::size_t> read(int fd, std::span<std::byte> buffer, std::uint64_t offset,
				      std::error_code& ec) noexcept
	{
		return {*this, prepared(make_read(fd, buffer, offset)), &ec};
	}
	IoOperation<std::size_t> write(int fd, std::span<const std::byte> buffer,
				       std::uint64_t offset) noexcept
	{
		return {*this, prepared(make_write(fd, buffer, offset)), nullptr};
	}
	IoOperation<std::size_t> write(int fd, std::span<const std::byte> buffer, std::uint64_t offset,
				       std::error_code& ec) noexcept
	{
		return {*this, prepared(make_write(fd, buffer, offset)), &ec};
	}
	IoOperation<std::size_t> readv(int fd, std::span<const iovec> iov, std::uint64_t offset) noexcept
	{
		return {*this, prepared(make_readv(fd, iov, offset)), nullptr};
	}
	IoOperation<std::size_t> readv(int fd, std::span<const iovec> iov, std::uint64_t offset,
				       std::error_code& ec) noexcept
	{
		return {*this, prepared(make_readv(fd, iov, offset)), &ec};
	}
	IoOperation<std::size_t> writev(int fd, std::span<const iovec> iov, std::uint64_t offset) noexcept
	{
		return {*this, prepared(make_writev(fd, iov, offset)), nullptr};
	}
	IoOperation<std::size_t> writev(int fd, std::span<const iovec> iov, std::uint64_t offset,
					std::error_code& ec) noexcept
	{
		return {*this, prepared(make_writev(fd, iov, offset)), &ec};
	}
	IoOperation<void> fsync(int fd) noexcept { return {*this, prepared(make_fsync(fd)), nullptr}; }
	IoOperation<void> fsync(int fd, std::error_code& ec) noexcept
	{
		return {*this, prepared(make_fsync(fd)), &ec};
	}
	IoOperation<void> fdsync(int fd) noexcept { return {*this, prepared(make_fdsync(fd)), nullptr}; }
	IoOperation<void> fdsync(int fd, std::error_code& ec) noexcept
	{
		return {*this, prepared(make_fdsync(fd)), &ec};
	}
	// One-shot poll: the ready mask (POLLIN, ...) once one of `events` is.
	IoOperation<short> poll(int fd, short events) noexcept
	{
		return {*this, prepared(make_poll(fd, events)), nullptr};
	}
	IoOperation<short> poll(int fd, short events, std::error_code& ec) noexcept
	{
		return {*this, prepared(make_poll(fd, events)), &ec};
	}
	// Any request as built by the caller; co_await gives its io_event and
	// never throws (a refused request's event has res = -errno).
	IoOperation<io_event> submit(const iocb& request) noexcept
	{
		return {*this, prepared(request), nullptr};
	}

	// Runs `task` to its end, with the loop's I/O, and returns its value
	// or rethrows its exception. Spawned tasks progress meanwhile. Throws
	// std::system_error when the loop itself fails (then, before the task
	// is destroyed, the context is destroyed so that no request can
	// complete into its frame), EDEADLK if the task waits with no request
	// in flight (it awaits something that is not the loop's I/O).
	template <typename T>
	T run(Task<T> task);
	// As above with the task kept by the caller: returns when task.done()
	// (read it with task.result()) or with `ec` set by a loop error, after
	// which run may be called again.
	template <typename T>
	void run(Task<T>& task, std::error_code& ec) noexcept;

	// Starts `task` now (it runs until its first co_await) and lets it
	// finish in the background of run()/run_once(). The loop owns it. An
	// exception escaping a spawned task ends the program (std::terminate,
	// as for std::thread): handle errors inside it. Throws std::bad_alloc
	// (the frame of the small wrapper coroutine); the noexcept overload
	// sets ENOMEM.
	void spawn(Task<void> task);
	void spawn(Task<void> task, std::error_code& ec) noexcept;
	// Runs until every spawned task has ended (EDEADLK as for run(task)).
	void run();
	void run(std::error_code& ec) noexcept;

	// One round, for a program with its own event loop: submits what is
	// queued, runs the completions that are there or, when there are none,
	// waits up to `timeout` for one (no timeout: until one comes; never
	// when nothing is in flight), then submits what those queued. Returns
	// the completions run.
	std::size_t run_once(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
	std::size_t run_once(std::optional<std::chrono::nanoseconds> timeout, std::error_code& ec) noexcept;

	// Submits the queued requests now. A request the context refuses
	// (other than for capacity while others are in flight) completes at
	// once with the error.
	void flush() noexcept;

	// Requests queued plus in flight.
	std::size_t pending() const noexcept { return queued_ + context_.operations_in_flight(); }
	// Spawned tasks that have not ended.
	std::size_t spawned() const noexcept { return spawned_; }

private:
	template <typename R>
	friend class IoOperation;
	friend struct detail::IoLoopAccess;

	iocb prepared(iocb request) const noexcept
	{
		if (eventfd_ >= 0)
			kaio::set_eventfd(request, eventfd_);
		return request;
	}
	void enqueue(Operation& operation) noexcept;
	KAIO_LOCAL Operation* dequeue() noexcept;
	// Runs the loop until `until` is done, or (null handle) until every
	// spawned task has ended.
	void drive(std::coroutine_handle<> until, std::error_code& ec) noexcept;
	// After a loop failure: destroys the context, so that nothing can
	// complete into a frame that is about to be freed.
	void abandon() noexcept;

	Context context_;
	Operation* queue_head_ = nullptr;
	Operation* queue_tail_ = nullptr;
	std::size_t queued_ = 0;
	int eventfd_ = -1;
	detail::DetachedLink* spawned_list_ = nullptr;
	std::size_t spawned_ = 0;
};

template <typename Result>
void IoOperation<Result>::await_suspend(std::coroutine_handle<> waiter) noexcept
{
	waiter_ = waiter;
	loop_->enqueue(*this);
}

template <typename Result>
Result IoOperation<Result>::await_resume()
{
	if constexpr (std::is_same_v<Result, io_event>) {
		return event_;
	} else {
		if (const std::error_code error = event_error(event_)) {
			if (!ec_)
				throw std::system_error(error, detail::operation_name(request().aio_lio_opcode));
			*ec_ = error;
			if constexpr (!std::is_void_v<Result>)
				return Result{};
			else
				return;
		}
		if (ec_)
			ec_->clear();
		if constexpr (std::is_same_v<Result, std::size_t>)
			return event_bytes(event_);
		else if constexpr (!std::is_void_v<Result>)
			return static_cast<Result>(event_.res);
	}
}

template <typename T>
void IoLoop::run(Task<T>& task, std::error_code& ec) noexcept
{
	ec.clear();
	if (!task) {
		ec = std::make_error_code(std::errc::invalid_argument);
		return;
	}
	if (!task.started())
		task.handle().resume();
	drive(task.handle(), ec);
}

template <typename T>
T IoLoop::run(Task<T> task)
{
	std::error_code ec;
	run(task, ec);
	if (ec) {
		abandon();
		throw std::system_error(ec, "kaio: IoLoop::run");
	}
	return task.result();
}

} // namespace kaio

#endif
