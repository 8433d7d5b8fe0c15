// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::IoLoop: the queue of requests not submitted yet, the driver loop,
// and spawned (detached) tasks.
#include <kaio/io_loop.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <new>

namespace kaio {

namespace detail {

struct IoLoopAccess {
	static void link(IoLoop& loop, DetachedLink& link) noexcept
	{
		link.prev = nullptr;
		link.next = loop.spawned_list_;
		if (link.next)
			link.next->prev = &link;
		loop.spawned_list_ = &link;
		loop.spawned_++;
	}
	static void unlink(IoLoop& loop, DetachedLink& link) noexcept
	{
		if (link.prev)
			link.prev->next = link.next;
		else
			loop.spawned_list_ = link.next;
		if (link.next)
			link.next->prev = link.prev;
		link.prev = link.next = nullptr;
		loop.spawned_--;
	}
};

namespace {

// The coroutine behind spawn(): owns the task (a parameter, so it lives in
// this frame), awaits it, and at its end unlinks itself from the loop and
// frees its own frame.
class Detached {
public:
	struct promise_type {
		// The coroutine's parameters, as the language passes them to the
		// promise's constructor.
		promise_type(IoLoop& loop, Task<void>&) noexcept : loop(&loop) {}

		Detached get_return_object() noexcept
		{
			link.frame = std::coroutine_handle<promise_type>::from_promise(*this);
			return Detached{std::coroutine_handle<promise_type>::from_promise(*this)};
		}
		// Linked into the loop before it first runs; spawn() starts it.
		std::suspend_always initial_suspend() noexcept { return {}; }
		struct FinalAwaiter {
			promise_type* promise;
			// Not suspending at the end frees the frame.
			bool await_ready() const noexcept
			{
				IoLoopAccess::unlink(*promise->loop, promise->link);
				return true;
			}
			void await_suspend(std::coroutine_handle<>) const noexcept {}
			void await_resume() const noexcept {}
		};
		FinalAwaiter final_suspend() noexcept { return {this}; }
		void return_void() noexcept {}
		// Documented: an exception escaping a spawned task is fatal, as
		// one escaping a std::thread is.
		void unhandled_exception() noexcept { std::terminate(); }

		IoLoop* loop;
		DetachedLink link;
	};

	std::coroutine_handle<promise_type> handle;
};

Detached run_detached(IoLoop&, Task<void> task)
{
	co_await task;
}

} // namespace

} // namespace detail

IoLoop::IoLoop(std::uint32_t nr_events, std::uint32_t setup_flags)
	: context_(nr_events, setup_flags)
{
}

IoLoop::IoLoop(std::uint32_t nr_events, std::uint32_t setup_flags, std::error_code& ec) noexcept
	: context_(nr_events, setup_flags, ec)
{
}

IoLoop::~IoLoop()
{
	abandon();
	// Nothing of the kernel's refers to a frame any more; the queue does,
	// and is dropped first.
	queue_head_ = queue_tail_ = nullptr;
	queued_ = 0;
	while (spawned_list_) {
		detail::DetachedLink* const link = spawned_list_;
		detail::IoLoopAccess::unlink(*this, *link);
		// Destroys the wrapper's frame, its Task and so the task's frame.
		link->frame.destroy();
	}
}

void IoLoop::abandon() noexcept
{
	if (context_.is_open()) {
		std::error_code ignored;
		// io_destroy: cancels what can be, waits for the rest.
		context_.destroy(ignored);
	}
}

void IoLoop::enqueue(Operation& operation) noexcept
{
	operation.next_ = nullptr;
	if (queue_tail_)
		queue_tail_->next_ = &operation;
	else
		queue_head_ = &operation;
	queue_tail_ = &operation;
	queued_++;
}

Operation* IoLoop::dequeue() noexcept
{
	Operation* const operation = queue_head_;
	if (!operation)
		return nullptr;
	queue_head_ = operation->next_;
	if (!queue_head_)
		queue_tail_ = nullptr;
	operation->next_ = nullptr;
	queued_--;
	return operation;
}

void IoLoop::flush() noexcept
{
	while (queue_head_) {
		// Batches of up to 64 per io_submit; pointers on the stack.
		std::array<Operation*, 64> batch;
		std::size_t count = 0;
		for (Operation* operation = queue_head_; operation && count < batch.size();
		     operation = operation->next_)
			batch[count++] = operation;

		std::error_code ec;
		const std::size_t queued = context_.submit(std::span(batch).first(count), ec);
		// Nothing completes before this thread dispatches: the queued ones
		// are still valid to unlink.
		for (std::size_t i = 0; i < queued; i++)
			dequeue();
		if (!ec)
			continue;
		// No room: the completions to come will make some. With nothing in
		// flight none will come, so the request fails instead of waiting
		// forever.
		if (ec == std::errc::resource_unavailable_try_again && context_.operations_in_flight() > 0)
			return;
		Operation* const refused = dequeue();
		io_event event{};
		event.data = refused->request().aio_data;
		event.obj = reinterpret_cast<std::uintptr_t>(&refused->request());
		event.res = -ec.value();
		// Resumes the task, which may queue more: the loop goes on.
		refused->complete(event);
	}
}

void IoLoop::drive(std::coroutine_handle<> until, std::error_code& ec) noexcept
{
	ec.clear();
	for (;;) {
		flush();
		if (until ? until.done() : spawned_ == 0)
			return;
		if (context_.operations_in_flight() == 0 && !queue_head_) {
			// Waiting, but not for our I/O: nothing will ever wake it.
			ec = std::make_error_code(std::errc::resource_deadlock_would_occur);
			return;
		}
		context_.run_one(std::nullopt, ec);
		if (!ec)
			context_.dispatch(SIZE_MAX, ec);
		if (ec)
			return;
	}
}

void IoLoop::spawn(Task<void> task)
{
	std::error_code ec;
	spawn(std::move(task), ec);
	if (ec == std::errc::not_enough_memory)
		throw std::bad_alloc();
	if (ec)
		throw std::system_error(ec, "kaio: IoLoop::spawn");
}

void IoLoop::spawn(Task<void> task, std::error_code& ec) noexcept
{
	ec.clear();
	if (!task) {
		ec = std::make_error_code(std::errc::invalid_argument);
		return;
	}
	std::coroutine_handle<detail::Detached::promise_type> frame;
	try {
		frame = detail::run_detached(*this, std::move(task)).handle;
	} catch (const std::bad_alloc&) {
		ec = std::make_error_code(std::errc::not_enough_memory);
		return;
	}
	detail::IoLoopAccess::link(*this, frame.promise().link);
	frame.resume();
}

void IoLoop::run()
{
	std::error_code ec;
	run(ec);
	if (ec)
		throw std::system_error(ec, "kaio: IoLoop::run");
}

void IoLoop::run(std::error_code& ec) noexcept
{
	drive({}, ec);
}

std::size_t IoLoop::run_once(std::optional<std::chrono::nanoseconds> timeout)
{
	std::error_code ec;
	const std::size_t completed = run_once(timeout, ec);
	if (ec)
		throw std::system_error(ec, "kaio: IoLoop::run_once");
	return completed;
}

std::size_t IoLoop::run_once(std::optional<std::chrono::nanoseconds> timeout,
			     std::error_code& ec) noexcept
{
	ec.clear();
	flush();
	std::size_t completed = context_.dispatch(SIZE_MAX, ec);
	if (!ec && completed == 0 && context_.operations_in_flight() > 0 &&
	    (!timeout || *timeout > std::chrono::nanoseconds::zero())) {
		completed = context_.run_one(timeout, ec);
		if (!ec && completed)
			completed += context_.dispatch(SIZE_MAX, ec);
	}
	flush();
	return completed;
}

} // namespace kaio
