// SPDX-License-Identifier: GPL-2.0
// io_uring through liburing (static), set up as most programs do: no SQPOLL,
// no registered files or buffers. One io_uring_submit per batch; completions
// come from the CQ ring, io_uring_wait_cqe enters the kernel only to wait.
#include "bench.hpp"

#include <liburing.h>

#include <system_error>

namespace bench {
namespace {

class IoUringEngine final : public AsyncEngine {
public:
	explicit IoUringEngine(unsigned depth) : cqes_(depth)
	{
		if (const int rc = io_uring_queue_init(depth, &ring_, 0); rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_uring_queue_init");
	}
	~IoUringEngine() override { io_uring_queue_exit(&ring_); }

	void prepare(unsigned slot, int fd, bool write, void* buffer, std::uint64_t length,
		     std::uint64_t offset) override
	{
		io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
		if (!sqe)
			throw std::system_error(EBUSY, std::system_category(), "io_uring_get_sqe");
		if (write)
			io_uring_prep_write(sqe, fd, buffer, static_cast<unsigned>(length), offset);
		else
			io_uring_prep_read(sqe, fd, buffer, static_cast<unsigned>(length), offset);
		io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<std::uintptr_t>(slot)));
	}

	// The SQEs were put in the ring by prepare(), in the order of `slots`;
	// this hands them to the kernel. Any left over (a short count) stay in
	// the ring and go with the next call.
	std::size_t submit(std::span<const unsigned> slots) override
	{
		const int rc = io_uring_submit(&ring_);
		if (rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_uring_submit");
		return std::min(static_cast<std::size_t>(rc), slots.size());
	}

	std::size_t reap(std::span<Completion> out) override
	{
		io_uring_cqe* cqe;
		int rc;
		do
			rc = io_uring_wait_cqe(&ring_, &cqe);
		while (rc == -EINTR);
		if (rc < 0)
			throw std::system_error(-rc, std::system_category(), "io_uring_wait_cqe");
		const unsigned got = io_uring_peek_batch_cqe(&ring_, cqes_.data(),
							     static_cast<unsigned>(out.size()));
		for (unsigned i = 0; i < got; i++)
			out[i] = {static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(io_uring_cqe_get_data(cqes_[i]))),
				  cqes_[i]->res};
		io_uring_cq_advance(&ring_, got);
		return got;
	}

private:
	io_uring ring_{};
	std::vector<io_uring_cqe*> cqes_;
};

} // namespace

std::unique_ptr<AsyncEngine> make_io_uring(unsigned queue_depth)
{
	return std::make_unique<IoUringEngine>(queue_depth);
}

} // namespace bench
