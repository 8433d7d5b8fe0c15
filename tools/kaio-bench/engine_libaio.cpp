// SPDX-License-Identifier: GPL-2.0
// Native AIO through the system's libaio, linked statically (libaio.a):
// whatever LD_LIBRARY_PATH says, this engine is the kernel's fs/aio.c, never
// kaio's libaio-compatible library. io_getevents always enters the kernel
// (libaio reaps from the ring only for a zero timeout).
#include "bench.hpp"

#include <libaio.h>

#include <cerrno>
#include <system_error>

namespace bench {
namespace {

class LibaioEngine final : public AsyncEngine {
public:
	explicit LibaioEngine(unsigned depth) : requests_(depth), batch_(depth), events_(depth)
	{
		if (const int rc = io_setup(static_cast<int>(depth), &context_); rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_setup");
	}
	~LibaioEngine() override { io_destroy(context_); }

	void prepare(unsigned slot, int fd, bool write, void* buffer, std::uint64_t length,
		     std::uint64_t offset) override
	{
		if (write)
			io_prep_pwrite(&requests_[slot], fd, buffer, length, static_cast<long long>(offset));
		else
			io_prep_pread(&requests_[slot], fd, buffer, length, static_cast<long long>(offset));
		requests_[slot].data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(slot));
	}

	std::size_t submit(std::span<const unsigned> slots) override
	{
		for (std::size_t i = 0; i < slots.size(); i++)
			batch_[i] = &requests_[slots[i]];
		const int rc = io_submit(context_, static_cast<long>(slots.size()), batch_.data());
		if (rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_submit");
		return static_cast<std::size_t>(rc);
	}

	std::size_t reap(std::span<Completion> out) override
	{
		int rc;
		do
			rc = io_getevents(context_, 1, static_cast<long>(out.size()), events_.data(), nullptr);
		while (rc == -EINTR);
		if (rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_getevents");
		for (int i = 0; i < rc; i++)
			out[i] = {static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(events_[i].data)),
				  static_cast<std::int64_t>(static_cast<long>(events_[i].res))};
		return static_cast<std::size_t>(rc);
	}

private:
	io_context_t context_{};
	std::vector<struct iocb> requests_;
	std::vector<struct iocb*> batch_;
	std::vector<io_event> events_;
};

} // namespace

std::unique_ptr<AsyncEngine> make_libaio(unsigned queue_depth)
{
	return std::make_unique<LibaioEngine>(queue_depth);
}

} // namespace bench
