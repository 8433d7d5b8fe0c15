// SPDX-License-Identifier: LGPL-2.1-or-later
// kaio::EventFd: an eventfd(2) to bind requests to (IOCB_FLAG_RESFD), so a
// program that waits in epoll/poll learns about completions through a
// descriptor it already watches.
//
//   kaio::EventFd completions;                  // non-blocking, close-on-exec
//   kaio::set_eventfd(operation.request(), completions.fd());
//   ... epoll_wait() says completions.fd() is readable ...
//   completions.read();                         // the count; rearms EPOLLIN
//   context.dispatch();                         // runs the completions
#ifndef KAIO_EVENTFD_HPP
#define KAIO_EVENTFD_HPP

#include <kaio/context.hpp>
#include <kaio/export.hpp>

#include <sys/eventfd.h>

#include <cstdint>
#include <system_error>

namespace kaio {

// An owned eventfd. Move-only.
class KAIO_API EventFd {
public:
	// eventfd(0, EFD_CLOEXEC | flags); flags defaults to EFD_NONBLOCK.
	// Throws std::system_error (EMFILE, ENFILE, ENOMEM).
	explicit EventFd(int flags = EFD_NONBLOCK);
	EventFd(int flags, std::error_code& ec) noexcept;

	int fd() const noexcept { return fd_.get(); }
	bool is_open() const noexcept { return fd_.get() >= 0; }

	// read(2) of the counter: the completions signalled since the last
	// read, and the counter is 0 again. Non-blocking: 0 when nothing was
	// signalled; blocking: waits for a signal. EINTR is retried.
	std::uint64_t read();
	std::uint64_t read(std::error_code& ec) noexcept;

private:
	detail::UniqueFd fd_;
};

} // namespace kaio

#endif
