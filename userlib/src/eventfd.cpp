// SPDX-License-Identifier: LGPL-2.1-or-later
#include <kaio/eventfd.hpp>

#include <unistd.h>

#include <cerrno>

namespace kaio {

EventFd::EventFd(int flags)
{
	std::error_code ec;
	*this = EventFd(flags, ec);
	if (ec)
		throw std::system_error(ec, "kaio: eventfd");
}

EventFd::EventFd(int flags, std::error_code& ec) noexcept
	: fd_(::eventfd(0, EFD_CLOEXEC | flags))
{
	ec.clear();
	if (fd_.get() < 0)
		ec = {errno, std::system_category()};
}

std::uint64_t EventFd::read()
{
	std::error_code ec;
	const std::uint64_t count = read(ec);
	if (ec)
		throw std::system_error(ec, "kaio: reading the eventfd");
	return count;
}

std::uint64_t EventFd::read(std::error_code& ec) noexcept
{
	ec.clear();
	std::uint64_t count = 0;
	for (;;) {
		if (::read(fd_.get(), &count, sizeof(count)) == sizeof(count))
			return count;
		if (errno == EINTR)
			continue;
		// Non-blocking and nothing signalled: that is a count of 0.
		if (errno != EAGAIN)
			ec = {errno, std::system_category()};
		return 0;
	}
}

} // namespace kaio
