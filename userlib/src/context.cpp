// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::Context: the ioctls of /dev/kaio behind the io_* call names.
#include <kaio/context.hpp>

#include <linux/time_types.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <new>
#include <string>

namespace kaio {

namespace {

std::error_code last_error() noexcept
{
	return {errno, std::system_category()};
}

void throw_if(const std::error_code& ec, const char* what)
{
	if (ec)
		throw std::system_error(ec, what);
}

std::uint64_t user_address(const void* pointer) noexcept
{
	return reinterpret_cast<std::uintptr_t>(pointer);
}

// The ring header must be the layout this library was built against before
// reap_ring() may index it; a module with an incompatible ring is refused
// rather than misread.
bool ring_header_is_usable(const kaio_ring& header, std::size_t mapped_bytes) noexcept
{
	if (header.magic != KAIO_RING_MAGIC)
		return false;
	if (header.incompat_features != KAIO_RING_INCOMPAT_FEATURES)
		return false;
	if (header.header_length != sizeof(kaio_ring))
		return false;
	if (header.nr < 2)
		return false;
	return sizeof(kaio_ring) + std::size_t{header.nr} * sizeof(io_event) <= mapped_bytes;
}

} // namespace

namespace detail {

void UniqueFd::reset(int fd) noexcept
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

void Mapping::reset() noexcept
{
	if (address_)
		::munmap(address_, size_);
	address_ = nullptr;
	size_ = 0;
}

} // namespace detail

SubmitError::SubmitError(std::error_code ec, std::size_t queued)
	: std::system_error(ec, "kaio: io_submit: " + std::to_string(queued) + " queued, the next refused"),
	  queued_(queued)
{
}

// Out of line: the key function, so the vtable and typeinfo live in the
// library and the exception can be caught across the shared object.
SubmitError::~SubmitError() = default;

Context::Context(std::uint32_t nr_events, std::uint32_t setup_flags)
{
	std::error_code ec;
	*this = Context(nr_events, setup_flags, ec);
	throw_if(ec, "kaio: io_setup on " KAIO_DEVICE_PATH);
}

Context::Context(std::uint32_t nr_events, std::uint32_t setup_flags, std::error_code& ec) noexcept
{
	ec.clear();
	// The device fd is only needed for SETUP: the context fd it returns
	// stands on its own, so the device fd closes at the end of this scope.
	detail::UniqueFd device{::open(KAIO_DEVICE_PATH, O_RDWR | O_CLOEXEC)};
	if (device.get() < 0) {
		ec = last_error();
		return;
	}

	kaio_setup setup{};
	setup.nr_events = nr_events;
	setup.flags = setup_flags;
	detail::UniqueFd context_fd{::ioctl(device.get(), KAIO_IOC_SETUP, &setup)};
	if (context_fd.get() < 0) {
		ec = last_error();
		return;
	}

	detail::Mapping ring;
	if (setup.features & KAIO_FEAT_RING_MMAP) {
		void* address = ::mmap(nullptr, setup.ring_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, context_fd.get(), 0);
		if (address == MAP_FAILED) {
			ec = last_error();
			return;
		}
		ring = detail::Mapping(address, setup.ring_size);
		if (!ring_header_is_usable(*static_cast<const kaio_ring*>(address), setup.ring_size)) {
			ec = std::make_error_code(std::errc::protocol_error);
			return;
		}
	}

	if (ring.get())
		ring_slots_ = static_cast<const kaio_ring*>(ring.get())->nr;
	fd_ = std::move(context_fd);
	ring_ = std::move(ring);
	capacity_ = setup.nr_events;
	setup_flags_ = setup_flags;
	features_ = setup.features;
	opcodes_ = setup.features & KAIO_FEAT_OPCODES ? setup.opcodes : 0;
}

Context::Context(Context&& other) noexcept
	: fd_(std::move(other.fd_)),
	  ring_(std::move(other.ring_)),
	  ring_slots_(std::exchange(other.ring_slots_, 0)),
	  capacity_(std::exchange(other.capacity_, 0)),
	  setup_flags_(std::exchange(other.setup_flags_, 0)),
	  features_(std::exchange(other.features_, 0)),
	  opcodes_(std::exchange(other.opcodes_, 0)),
	  operations_in_flight_(other.operations_in_flight_.exchange(0, std::memory_order_relaxed))
{
}

Context& Context::operator=(Context&& other) noexcept
{
	if (this == &other)
		return *this;
	// Same order as destruction: destroy, unmap, then close.
	destroy_quietly();
	ring_ = std::move(other.ring_);
	fd_ = std::move(other.fd_);
	ring_slots_ = std::exchange(other.ring_slots_, 0);
	capacity_ = std::exchange(other.capacity_, 0);
	setup_flags_ = std::exchange(other.setup_flags_, 0);
	features_ = std::exchange(other.features_, 0);
	opcodes_ = std::exchange(other.opcodes_, 0);
	operations_in_flight_.store(other.operations_in_flight_.exchange(0, std::memory_order_relaxed),
				    std::memory_order_relaxed);
	return *this;
}

Context::~Context()
{
	destroy_quietly();
}

void Context::destroy_quietly() noexcept
{
	// Waiting for running requests here is the point: the caller's buffers
	// may be freed right after. Errors are expected and harmless (EINVAL
	// after an explicit destroy(), or in a forked child whose copy of this
	// object refers to the parent's context).
	if (fd_.get() >= 0) {
		const int saved_errno = errno;
		::ioctl(fd_.get(), KAIO_IOC_DESTROY);
		errno = saved_errno;
	}
}

std::size_t Context::submit(std::span<iocb* const> requests)
{
	std::error_code ec;
	const std::size_t queued = submit(requests, ec);
	throw_if(ec, "kaio: io_submit");
	return queued;
}

std::size_t Context::submit(std::span<iocb* const> requests, std::error_code& ec) noexcept
{
	ec.clear();
	// io_submit(2) with nr 0 returns 0; no need to enter the kernel for it.
	if (requests.empty())
		return 0;
	kaio_submit arg{};
	arg.nr = static_cast<std::int64_t>(requests.size());
	arg.iocbpp = user_address(requests.data());
	const int queued = ::ioctl(fd_.get(), KAIO_IOC_SUBMIT, &arg);
	if (queued < 0) {
		ec = last_error();
		return 0;
	}
	return static_cast<std::size_t>(queued);
}

std::size_t Context::submit_all(std::span<iocb* const> requests)
{
	std::error_code ec;
	const std::size_t queued = submit_all(requests, ec);
	if (ec)
		throw SubmitError(ec, queued);
	return queued;
}

std::size_t Context::submit_all(std::span<iocb* const> requests, std::error_code& ec) noexcept
{
	// io_submit stops at the first request it cannot queue and reports
	// only the count. Submitting again from there either queues more (the
	// stop was the capacity clamp, or capacity came back) or fails with
	// that request's own errno, which is what the caller needs to know.
	std::size_t queued = 0;
	while (queued < requests.size()) {
		const std::size_t more = submit(requests.subspan(queued), ec);
		if (ec)
			break;
		queued += more;
	}
	return queued;
}

void Context::submit(Operation& operation)
{
	std::error_code ec;
	submit(operation, ec);
	if (ec)
		throw SubmitError(ec, 0);
}

void Context::submit(Operation& operation, std::error_code& ec) noexcept
{
	Operation* const one[] = {&operation};
	submit(std::span<Operation* const>(one), ec);
}

std::size_t Context::submit(std::span<Operation* const> operations)
{
	std::error_code ec;
	const std::size_t queued = submit(operations, ec);
	if (ec)
		throw SubmitError(ec, queued);
	return queued;
}

std::size_t Context::submit(std::span<Operation* const> operations, std::error_code& ec) noexcept
{
	ec.clear();
	// io_submit takes an array of iocb pointers: build it in chunks on
	// the stack, so that submitting allocates nothing.
	constexpr std::size_t chunk = 64;
	std::array<iocb*, chunk> pointers;
	std::size_t queued = 0;
	while (queued < operations.size()) {
		const std::size_t count = std::min(chunk, operations.size() - queued);
		std::size_t valid = 0;
		for (; valid < count; valid++) {
			Operation* const operation = operations[queued + valid];
			if (!operation->completion())
				break;
			pointers[valid] = &operation->request();
		}
		if (valid == 0) {
			ec = std::make_error_code(std::errc::invalid_argument);
			break;
		}
		// Counted before the kernel sees them: a completion dispatched on
		// another thread must never find the count below its own.
		operations_in_flight_.fetch_add(valid, std::memory_order_relaxed);
		const std::size_t more = submit_all(std::span(pointers).first(valid), ec);
		operations_in_flight_.fetch_sub(valid - more, std::memory_order_relaxed);
		queued += more;
		if (ec)
			break;
	}
	return queued;
}

std::size_t Context::complete_batch(std::size_t max, bool wait,
				    std::optional<std::chrono::steady_clock::time_point> deadline,
				    std::error_code& ec) noexcept
{
	using namespace std::chrono;
	ec.clear();
	// Reaped before any completion runs: the slots are free again when a
	// completion resubmits, and a completion may even run a nested loop.
	std::array<io_event, 64> events;
	const auto room = std::span(events).first(std::min(max, events.size()));
	std::size_t got = reap_ring(room);
	if (got == 0 && (wait || !ring_.get())) {
		for (;;) {
			std::optional<nanoseconds> timeout = nanoseconds::zero();
			if (wait && deadline)
				timeout = std::max(duration_cast<nanoseconds>(*deadline - steady_clock::now()),
						   nanoseconds::zero());
			else if (wait)
				timeout = std::nullopt;
			got = get_events(wait ? 1 : 0, room, timeout, ec);
			if (ec != std::errc::interrupted)
				break;
		}
		if (ec)
			return 0;
	}
	for (const io_event& event : room.first(got)) {
		operations_in_flight_.fetch_sub(1, std::memory_order_relaxed);
		completed_operation(event)->complete(event);
	}
	return got;
}

std::size_t Context::dispatch(std::size_t max)
{
	std::error_code ec;
	const std::size_t completed = dispatch(max, ec);
	throw_if(ec, "kaio: dispatch");
	return completed;
}

std::size_t Context::dispatch(std::size_t max, std::error_code& ec) noexcept
{
	ec.clear();
	std::size_t completed = 0;
	while (completed < max) {
		const std::size_t more = complete_batch(max - completed, false, std::nullopt, ec);
		completed += more;
		if (ec || more == 0)
			break;
	}
	return completed;
}

std::size_t Context::run_one(std::optional<std::chrono::nanoseconds> timeout)
{
	std::error_code ec;
	const std::size_t completed = run_one(timeout, ec);
	throw_if(ec, "kaio: run_one");
	return completed;
}

std::size_t Context::run_one(std::optional<std::chrono::nanoseconds> timeout,
			     std::error_code& ec) noexcept
{
	std::optional<std::chrono::steady_clock::time_point> deadline;
	if (timeout)
		deadline = std::chrono::steady_clock::now() + *timeout;
	return complete_batch(1, true, deadline, ec);
}

std::size_t Context::run_until(std::optional<std::chrono::steady_clock::time_point> deadline,
			       std::error_code& ec) noexcept
{
	ec.clear();
	std::size_t completed = 0;
	while (operations_in_flight() > 0) {
		if (deadline && std::chrono::steady_clock::now() >= *deadline) {
			// Time is up, but what is already there still runs.
			completed += dispatch(SIZE_MAX, ec);
			break;
		}
		const std::size_t more = complete_batch(SIZE_MAX, true, deadline, ec);
		completed += more;
		if (ec)
			break;
	}
	return completed;
}

std::size_t Context::run()
{
	std::error_code ec;
	const std::size_t completed = run(ec);
	throw_if(ec, "kaio: run");
	return completed;
}

std::size_t Context::run(std::error_code& ec) noexcept
{
	return run_until(std::nullopt, ec);
}

std::size_t Context::run_for(std::chrono::nanoseconds duration)
{
	std::error_code ec;
	const std::size_t completed = run_for(duration, ec);
	throw_if(ec, "kaio: run_for");
	return completed;
}

std::size_t Context::run_for(std::chrono::nanoseconds duration, std::error_code& ec) noexcept
{
	return run_until(std::chrono::steady_clock::now() + duration, ec);
}

std::size_t Context::get_events(std::size_t min_nr, std::span<io_event> out,
				std::optional<std::chrono::nanoseconds> timeout)
{
	std::error_code ec;
	const std::size_t copied = get_events(min_nr, out, timeout, ec);
	throw_if(ec, "kaio: io_getevents");
	return copied;
}

std::size_t Context::get_events(std::size_t min_nr, std::span<io_event> out,
				std::optional<std::chrono::nanoseconds> timeout,
				std::error_code& ec) noexcept
{
	using namespace std::chrono;
	ec.clear();
	kaio_getevents arg{};
	arg.min_nr = static_cast<std::int64_t>(min_nr);
	arg.nr = static_cast<std::int64_t>(out.size());
	arg.events = user_address(out.data());
	__kernel_timespec relative{};
	if (timeout) {
		// A timeout already in the past means "do not wait", as 0 does.
		const nanoseconds wait = std::max(*timeout, nanoseconds::zero());
		relative.tv_sec = duration_cast<seconds>(wait).count();
		relative.tv_nsec = (wait % seconds(1)).count();
		arg.timeout = user_address(&relative);
	}
	const int copied = ::ioctl(fd_.get(), KAIO_IOC_GETEVENTS, &arg);
	if (copied < 0) {
		ec = last_error();
		return 0;
	}
	return static_cast<std::size_t>(copied);
}

std::size_t Context::reap_ring(std::span<io_event> out) noexcept
{
	auto* ring = static_cast<kaio_ring*>(ring_.get());
	if (!ring || out.empty())
		return 0;

	// head and tail are reduced modulo the slot count so that a corrupted
	// word cannot index outside the ring.
	const std::uint32_t slots = ring_slots_;
	std::atomic_ref<std::uint32_t> shared_head(ring->head);
	std::atomic_ref<std::uint32_t> shared_tail(ring->tail);
	// Only a reaper writes head, and reapers do not run concurrently.
	std::uint32_t head = shared_head.load(std::memory_order_relaxed) % slots;
	// Acquire pairs with the kernel's write barrier before it publishes tail:
	// every event before tail is fully written once tail is seen.
	const std::uint32_t tail = shared_tail.load(std::memory_order_acquire) % slots;

	std::size_t copied = 0;
	while (head != tail && copied < out.size()) {
		out[copied++] = ring->io_events[head];
		head = (head + 1) % slots;
	}
	// Release: the slots are read before the kernel may see them free and
	// fill them again.
	if (copied)
		shared_head.store(head, std::memory_order_release);
	return copied;
}

CancelResult Context::cancel(const iocb& request)
{
	std::error_code ec;
	const CancelResult result = cancel(request, ec);
	throw_if(ec, "kaio: io_cancel");
	return result;
}

CancelResult Context::cancel(const iocb& request, std::error_code& ec) noexcept
{
	ec.clear();
	kaio_cancel arg{};
	arg.iocb = user_address(&request);
	if (::ioctl(fd_.get(), KAIO_IOC_CANCEL, &arg) == 0)
		return CancelResult::cancelled;
	// io_cancel(2) reports a successful cancellation as EINPROGRESS: the
	// event is still to come, through the ring.
	if (errno == EINPROGRESS)
		return CancelResult::cancelled;
	if (errno == EAGAIN)
		return CancelResult::already_running;
	ec = last_error();
	return CancelResult::already_running;
}

void Context::destroy()
{
	std::error_code ec;
	destroy(ec);
	throw_if(ec, "kaio: io_destroy");
}

void Context::destroy(std::error_code& ec) noexcept
{
	ec.clear();
	if (::ioctl(fd_.get(), KAIO_IOC_DESTROY) < 0)
		ec = last_error();
}

Stats Context::stats() const
{
	std::error_code ec;
	Stats result = stats(ec);
	throw_if(ec, "kaio: reading fdinfo");
	return result;
}

Stats Context::stats(std::error_code& ec) const noexcept
{
	ec.clear();
	if (fd_.get() < 0) {
		ec = std::make_error_code(std::errc::bad_file_descriptor);
		return {};
	}
	try {
		const std::string path = "/proc/self/fdinfo/" + std::to_string(fd_.get());
		detail::UniqueFd fdinfo{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
		if (fdinfo.get() < 0) {
			ec = last_error();
			return {};
		}
		std::string text;
		char chunk[1024];
		for (;;) {
			const ssize_t got = ::read(fdinfo.get(), chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				ec = last_error();
				return {};
			}
			if (got == 0)
				break;
			text.append(chunk, static_cast<std::size_t>(got));
		}
		return Stats::parse(text);
	} catch (const std::bad_alloc&) {
		ec = std::make_error_code(std::errc::not_enough_memory);
		return {};
	}
}

} // namespace kaio
