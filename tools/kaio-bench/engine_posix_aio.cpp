// SPDX-License-Identifier: GPL-2.0
// glibc's POSIX aio: aio_read/aio_write per request, aio_suspend to wait,
// aio_error/aio_return to collect. glibc runs the requests on a pool of its
// own threads with plain pread/pwrite; requests on the same file descriptor
// are run one after another (aio_misc.c queues a request behind the one
// running for its fd), so one fd gets no parallelism from the pool. That
// is glibc's design, measured as programs use it: one fd.
#include "bench.hpp"

#include <aio.h>

#include <cerrno>
#include <system_error>

namespace bench {
namespace {

class PosixAioEngine final : public AsyncEngine {
public:
	explicit PosixAioEngine(unsigned depth) : requests_(depth), waiting_(depth, nullptr)
	{
		// Enough threads and queue entries for the depth (glibc's
		// defaults are 20 and 64); only the first call takes effect.
		aioinit init{};
		init.aio_threads = static_cast<int>(depth);
		init.aio_num = static_cast<int>(depth);
		init.aio_idle_time = 1;
		aio_init(&init);
	}

	void prepare(unsigned slot, int fd, bool write, void* buffer, std::uint64_t length,
		     std::uint64_t offset) override
	{
		aiocb& request = requests_[slot];
		request = aiocb{};
		request.aio_fildes = fd;
		request.aio_buf = buffer;
		request.aio_nbytes = length;
		request.aio_offset = static_cast<off_t>(offset);
		request.aio_sigevent.sigev_notify = SIGEV_NONE;
		writes_ = write;
	}

	// One aio_read/aio_write per request: POSIX aio's submit call. (glibc's
	// lio_listio enqueues them one by one the same way.)
	std::size_t submit(std::span<const unsigned> slots) override
	{
		for (std::size_t i = 0; i < slots.size(); i++) {
			aiocb& request = requests_[slots[i]];
			if ((writes_ ? aio_write(&request) : aio_read(&request)) != 0) {
				if (i == 0)
					throw std::system_error(errno, std::system_category(), "aio_read/aio_write");
				return i;
			}
			waiting_[slots[i]] = &request;
		}
		return slots.size();
	}

	std::size_t reap(std::span<Completion> out) override
	{
		for (;;) {
			std::size_t got = 0;
			for (unsigned slot = 0; slot < waiting_.size() && got < out.size(); slot++) {
				if (!waiting_[slot])
					continue;
				const int error = aio_error(waiting_[slot]);
				if (error == EINPROGRESS)
					continue;
				const ssize_t res = aio_return(&requests_[slot]);
				out[got++] = {slot, error ? -static_cast<std::int64_t>(error) : res};
				waiting_[slot] = nullptr;
			}
			if (got)
				return got;
			if (aio_suspend(waiting_.data(), static_cast<int>(waiting_.size()), nullptr) != 0 &&
			    errno != EINTR && errno != EAGAIN)
				throw std::system_error(errno, std::system_category(), "aio_suspend");
		}
	}

private:
	std::vector<aiocb> requests_;
	std::vector<const aiocb*> waiting_; // in flight, by slot; nullptr: not
	bool writes_ = false;
};

} // namespace

std::unique_ptr<AsyncEngine> make_posix_aio(unsigned queue_depth)
{
	return std::make_unique<PosixAioEngine>(queue_depth);
}

} // namespace bench
