// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::Task<T>: a minimal lazy coroutine type for the C++20 coroutine
// interface (io_loop.hpp).
//
// A Task starts when it is awaited (co_await task) or run by an IoLoop
// (IoLoop::run, IoLoop::spawn), runs until its first suspension, and when it
// ends resumes whoever awaited it (symmetric transfer, so chains of tasks do
// not grow the stack). Its value, or the exception that left it, is handed
// to the awaiter. The Task object owns the coroutine frame.
#ifndef KAIO_TASK_HPP
#define KAIO_TASK_HPP

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace kaio {

template <typename T = void>
class Task;

namespace detail {

class TaskPromiseBase {
public:
	// Lazy: nothing runs until someone resumes the task. The flag tells an
	// IoLoop whether the task is still to be started or is waiting.
	struct InitialAwaiter {
		TaskPromiseBase* promise;
		bool await_ready() const noexcept { return false; }
		void await_suspend(std::coroutine_handle<>) const noexcept {}
		void await_resume() const noexcept { promise->started_ = true; }
	};
	// At the end: resume the awaiter, or return to whoever resumed us.
	struct FinalAwaiter {
		bool await_ready() const noexcept { return false; }
		template <typename Promise>
		std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) const noexcept
		{
			const std::coroutine_handle<> next = self.promise().continuation_;
			return next ? next : std::noop_coroutine();
		}
		void await_resume() const noexcept {}
	};

	InitialAwaiter initial_suspend() noexcept { return {this}; }
	FinalAwaiter final_suspend() noexcept { return {}; }
	void unhandled_exception() noexcept { exception_ = std::current_exception(); }

	bool started() const noexcept { return started_; }
	void set_continuation(std::coroutine_handle<> continuation) noexcept
	{
		continuation_ = continuation;
	}

protected:
	void rethrow_if_failed() const
	{
		if (exception_)
			std::rethrow_exception(exception_);
	}

private:
	std::coroutine_handle<> continuation_;
	std::exception_ptr exception_;
	bool started_ = false;
};

template <typename T>
class TaskPromise : public TaskPromiseBase {
public:
	Task<T> get_return_object() noexcept;

	template <typename U>
		requires std::is_convertible_v<U&&, T>
	void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>)
	{
		value_.emplace(std::forward<U>(value));
	}

	T take_result()
	{
		rethrow_if_failed();
		return std::move(*value_);
	}

private:
	std::optional<T> value_;
};

template <>
class TaskPromise<void> : public TaskPromiseBase {
public:
	Task<void> get_return_object() noexcept;
	void return_void() noexcept {}
	void take_result() { rethrow_if_failed(); }
};

} // namespace detail

// A coroutine returning T. Move-only; destroying it destroys the frame, so a
// task must not be destroyed while it waits for I/O (its request would
// complete into freed memory): let it finish, or destroy the IoLoop first.
template <typename T>
class [[nodiscard]] Task {
public:
	using promise_type = detail::TaskPromise<T>;
	using handle_type = std::coroutine_handle<promise_type>;

	Task() noexcept = default;
	explicit Task(handle_type handle) noexcept : handle_(handle) {}
	Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
	Task& operator=(Task&& other) noexcept
	{
		if (this != &other) {
			if (handle_)
				handle_.destroy();
			handle_ = std::exchange(other.handle_, {});
		}
		return *this;
	}
	Task(const Task&) = delete;
	Task& operator=(const Task&) = delete;
	~Task()
	{
		if (handle_)
			handle_.destroy();
	}

	explicit operator bool() const noexcept { return static_cast<bool>(handle_); }
	// Started (resumed at least once) and finished.
	bool started() const noexcept { return handle_ && handle_.promise().started(); }
	bool done() const noexcept { return handle_ && handle_.done(); }

	// The value the finished task returned, or its exception rethrown.
	// Call once, after done().
	T result() { return handle_.promise().take_result(); }

	// The coroutine, for a driver loop (IoLoop) to start it.
	handle_type handle() const noexcept { return handle_; }

	// co_await task: starts it, and gives its value (or rethrows its
	// exception) once it ends. A task that already ended gives its result
	// at once.
	auto operator co_await() noexcept
	{
		struct Awaiter {
			handle_type task;
			bool await_ready() const noexcept { return !task || task.done(); }
			std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) const noexcept
			{
				task.promise().set_continuation(awaiting);
				return task;
			}
			T await_resume() const { return task.promise().take_result(); }
		};
		return Awaiter{handle_};
	}

private:
	handle_type handle_;
};

namespace detail {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept
{
	return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept
{
	return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

} // namespace detail

} // namespace kaio

#endif
