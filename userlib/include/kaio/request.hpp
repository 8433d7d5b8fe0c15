// SPDX-License-Identifier: LGPL-2.1-or-later
// Request builders and completion helpers for kaio.
//
// Requests are the kernel's own struct iocb and completions its struct
// io_event (<linux/aio_abi.h>), so everything here is a thin, inline layer:
// builders return a value that starts from iocb{} (every reserved field is
// zero, which the module insists on for forward compatibility), and setters
// add the optional parts. The style follows seastar's linux-aio.hh.
#ifndef KAIO_REQUEST_HPP
#define KAIO_REQUEST_HPP

#include <linux/kaio.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>

namespace kaio {

// Every read/write builder funnels through here, as liburing's
// io_uring_prep_rw() does: one place that knows which field means what.
inline iocb make_rw(std::uint16_t opcode, int fd, const void* addr,
		    std::uint64_t len, std::uint64_t offset) noexcept
{
	iocb request{};
	request.aio_lio_opcode = opcode;
	request.aio_fildes = static_cast<std::uint32_t>(fd);
	request.aio_buf = reinterpret_cast<std::uintptr_t>(addr);
	request.aio_nbytes = len;
	request.aio_offset = static_cast<std::int64_t>(offset);
	return request;
}

// pread(fd, buffer, size, offset) as a request (IOCB_CMD_PREAD).
inline iocb make_read(int fd, std::span<std::byte> buffer, std::uint64_t offset) noexcept
{
	return make_rw(IOCB_CMD_PREAD, fd, buffer.data(), buffer.size(), offset);
}

// pwrite(fd, buffer, size, offset) as a request (IOCB_CMD_PWRITE).
inline iocb make_write(int fd, std::span<const std::byte> buffer, std::uint64_t offset) noexcept
{
	return make_rw(IOCB_CMD_PWRITE, fd, buffer.data(), buffer.size(), offset);
}

// preadv(fd, iov, iovcnt, offset) as a request (IOCB_CMD_PREADV). The iovec
// array is read at submit time only; the buffers it points to must live
// until the completion.
inline iocb make_readv(int fd, std::span<const iovec> iov, std::uint64_t offset) noexcept
{
	return make_rw(IOCB_CMD_PREADV, fd, iov.data(), iov.size(), offset);
}

// pwritev(fd, iov, iovcnt, offset) as a request (IOCB_CMD_PWRITEV).
inline iocb make_writev(int fd, std::span<const iovec> iov, std::uint64_t offset) noexcept
{
	return make_rw(IOCB_CMD_PWRITEV, fd, iov.data(), iov.size(), offset);
}

// fsync(fd) as a request (IOCB_CMD_FSYNC).
inline iocb make_fsync(int fd) noexcept
{
	return make_rw(IOCB_CMD_FSYNC, fd, nullptr, 0, 0);
}

// fdatasync(fd) as a request (IOCB_CMD_FDSYNC).
inline iocb make_fdsync(int fd) noexcept
{
	return make_rw(IOCB_CMD_FDSYNC, fd, nullptr, 0, 0);
}

// poll(fd, events) as a one-shot request (IOCB_CMD_POLL, fs/aio.c's
// protocol): completes once any of `events` (POLLIN, POLLOUT, ...) is ready
// on fd, with res = the ready mask. Pending polls can be cancelled.
inline iocb make_poll(int fd, short events) noexcept
{
	iocb request = make_rw(IOCB_CMD_POLL, fd, nullptr, 0, 0);
	// For POLL, aio_buf carries the event mask, not an address.
	request.aio_buf = static_cast<std::uint16_t>(events);
	return request;
}

// A request that does nothing and completes with res 0 (a kaio extension,
// IOCB_CMD_NOOP): measures the cost of the machinery itself. It needs no
// file, so the fd defaults to -1.
inline iocb make_noop(int fd = -1) noexcept
{
	return make_rw(IOCB_CMD_NOOP, fd, nullptr, 0, 0);
}

// aio_data, returned untouched in io_event::data.
inline void set_user_data(iocb& request, std::uint64_t data) noexcept
{
	request.aio_data = data;
}

// Typed user data: the completion hands back the same pointer through
// user_data<T>(event), so the caller never casts integers by hand.
template <typename T>
inline void set_user_data(iocb& request, T* object) noexcept
{
	request.aio_data = reinterpret_cast<std::uintptr_t>(object);
}

template <typename T>
inline T* user_data(const io_event& event) noexcept
{
	return reinterpret_cast<T*>(static_cast<std::uintptr_t>(event.data));
}

// The same pointer, read back from the request itself (e.g. for requests
// that submit() did not queue).
template <typename T>
inline T* user_data(const iocb& request) noexcept
{
	return reinterpret_cast<T*>(static_cast<std::uintptr_t>(request.aio_data));
}

// RWF_* flags for this request alone (as preadv2/pwritev2 take them).
inline void set_rw_flags(iocb& request, int rwf_flags) noexcept
{
	request.aio_rw_flags = rwf_flags;
}

// Signal eventfd `event_fd` (add 1) when this request completes
// (IOCB_FLAG_RESFD), so a poll loop can wait for completions with the
// descriptors it already watches.
inline void set_eventfd(iocb& request, int event_fd) noexcept
{
	request.aio_flags |= IOCB_FLAG_RESFD;
	request.aio_resfd = static_cast<std::uint32_t>(event_fd);
}

// I/O priority (an IOPRIO_PRIO_VALUE) for this request (IOCB_FLAG_IOPRIO).
inline void set_ioprio(iocb& request, std::uint16_t ioprio) noexcept
{
	request.aio_flags |= IOCB_FLAG_IOPRIO;
	request.aio_reqprio = static_cast<std::int16_t>(ioprio);
}

// The iocb an event completes (io_event::obj is its user address).
inline iocb* completed_request(const io_event& event) noexcept
{
	return reinterpret_cast<iocb*>(static_cast<std::uintptr_t>(event.obj));
}

// The error of a completed request, or no error when res >= 0.
inline std::error_code event_error(const io_event& event) noexcept
{
	if (event.res >= 0)
		return {};
	return {static_cast<int>(-event.res), std::system_category()};
}

// Bytes transferred by a completed request (0 when it failed).
inline std::size_t event_bytes(const io_event& event) noexcept
{
	return event.res > 0 ? static_cast<std::size_t>(event.res) : 0;
}

// The path a request took through the module, reported in io_event::res2
// when the context was set up with KAIO_SETUP_RES2_PATH.
enum class CompletionPath : std::uint8_t {
	unreported = 0,			// context without KAIO_SETUP_RES2_PATH
	inline_in_submit = KAIO_PATH_INLINE,	// done inside SUBMIT
	async = KAIO_PATH_ASYNC,		// ki_complete (O_DIRECT)
	retry = KAIO_PATH_RETRY,		// page-wait callback, workqueue retry
	worker = KAIO_PATH_WORKER,		// one blocking attempt on a worker
};

inline CompletionPath completion_path(const io_event& event) noexcept
{
	switch (event.res2) {
	case KAIO_PATH_INLINE:
	case KAIO_PATH_ASYNC:
	case KAIO_PATH_RETRY:
	case KAIO_PATH_WORKER:
		return static_cast<CompletionPath>(event.res2);
	default:
		return CompletionPath::unreported;
	}
}

inline std::string_view to_string(CompletionPath path) noexcept
{
	switch (path) {
	case CompletionPath::inline_in_submit: return "inline";
	case CompletionPath::async: return "async";
	case CompletionPath::retry: return "retry";
	case CompletionPath::worker: return "worker";
	case CompletionPath::unreported: break;
	}
	return "unreported";
}

} // namespace kaio

#endif
