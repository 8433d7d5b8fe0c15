// SPDX-License-Identifier: LGPL-2.1-or-later
// Completion callbacks: a request together with the function that handles
// its completion, type-erased through a plain function pointer.
//
// The design is asio's: an operation object carries its own completion
// function (no virtual functions, nothing allocated per operation; the
// caller owns the storage), and the completion loop finds the object from
// the event. kaio finds it from io_event::obj, the address of the iocb the
// kernel hands back untouched: the iocb is the first member of Operation, so
// its address is the operation's. aio_data therefore stays the caller's,
// and set_user_data()/user_data<T>() work on operations exactly as on plain
// requests.
#ifndef KAIO_OPERATION_HPP
#define KAIO_OPERATION_HPP

#include <kaio/request.hpp>

#include <linux/kaio.h>

#include <type_traits>
#include <utility>

namespace kaio {

class Context;
class IoLoop;

// A request (an iocb) plus the function that runs when it completes.
//
// Submit it with Context::submit(Operation&) or a span of them, and run the
// completions with Context::dispatch(), run_one(), run() or run_for(). The
// completion runs once per submitted operation, on the thread that
// dispatches, with the event already copied out of the ring: it may
// prepare and submit the same operation again, or let it go.
//
// An operation (and the buffers its request names) must stay valid and
// unmoved from submit until its completion has started. Derive from it to
// carry state (the completion static_casts back), or use Callback<F> for a
// callable.
class Operation {
public:
	// The completion: `operation` is the one submitted, `event` its
	// io_event (res: bytes or -errno; data: its aio_data). It must not
	// throw: an exception escaping it ends the program (std::terminate),
	// since the event it was handed would otherwise be lost.
	using Completion = void (*)(Operation& operation, const io_event& event) noexcept;

	Operation() noexcept = default;
	Operation(const iocb& request, Completion completion) noexcept
		: request_(request), completion_(completion) {}

	// Sets the request (a builder's result: make_read(), ...) and the
	// completion at once. Any user data must be set after this (it lives in
	// the request's aio_data).
	void prepare(const iocb& request, Completion completion) noexcept
	{
		request_ = request;
		completion_ = completion;
	}
	// Sets the request only, keeping the completion.
	void prepare(const iocb& request) noexcept { request_ = request; }

	iocb& request() noexcept { return request_; }
	const iocb& request() const noexcept { return request_; }

	Completion completion() const noexcept { return completion_; }
	void set_completion(Completion completion) noexcept { completion_ = completion; }

	// Runs the completion for `event` (what the dispatch loops do).
	void complete(const io_event& event) noexcept { completion_(*this, event); }

private:
	friend class IoLoop;

	// First member: its address is the operation's (standard layout), and
	// io_event::obj carries it back.
	iocb request_{};
	Completion completion_ = nullptr;
	// IoLoop's queue of operations not submitted yet; unused otherwise.
	Operation* next_ = nullptr;
};

static_assert(std::is_standard_layout_v<Operation>,
	      "the iocb must be pointer-interconvertible with its Operation");

// The operation an event completes, for events of requests submitted as
// operations (never call it for a plain iocb's event).
inline Operation* completed_operation(const io_event& event) noexcept
{
	// The iocb is the first member of a standard-layout Operation: the two
	// addresses are the same object's.
	return reinterpret_cast<Operation*>(completed_request(event));
}

// Typed user data on an operation: the same aio_data as on a plain request,
// returned in io_event::data.
template <typename T>
inline void set_user_data(Operation& operation, T* object) noexcept
{
	set_user_data(operation.request(), object);
}

template <typename T>
inline T* user_data(const Operation& operation) noexcept
{
	return user_data<T>(operation.request());
}

// An operation whose completion is a callable stored inside it: still no
// allocation and no virtual call (one static trampoline per F). F is called
// as f(event) or, if it accepts it, f(operation, event) — the operation is
// this object, so the callable can resubmit it.
//
//   kaio::Callback read(kaio::make_read(fd, buffer, 0), [&](const io_event& event) noexcept {
//           total += kaio::event_bytes(event);
//   });
//   context.submit(read);
template <typename F>
class Callback : public Operation {
public:
	explicit Callback(F handler) noexcept(std::is_nothrow_move_constructible_v<F>)
		: Operation(iocb{}, &invoke), handler_(std::move(handler)) {}
	Callback(const iocb& request, F handler) noexcept(std::is_nothrow_move_constructible_v<F>)
		: Operation(request, &invoke), handler_(std::move(handler)) {}

	F& handler() noexcept { return handler_; }
	const F& handler() const noexcept { return handler_; }

private:
	static void invoke(Operation& operation, const io_event& event) noexcept
	{
		auto& self = static_cast<Callback&>(operation);
		if constexpr (std::is_invocable_v<F&, Operation&, const io_event&>)
			self.handler_(operation, event);
		else
			self.handler_(event);
	}

	F handler_;
};

} // namespace kaio

#endif
