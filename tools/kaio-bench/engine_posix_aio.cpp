// SPDX-License-Identifier: GPL-2.0
// POSIX aio: aio_read/aio_write per request, aio_suspend to wait,
// aio_error/aio_return to collect, the same code for two implementations.
// glibc's runs the requests on a pool of its own threads with plain
// pread/pwrite; requests on the same file descriptor are run one after
// another (aio_misc.c queues a request behind the one running for its fd),
// so one fd gets no parallelism from the pool. That is glibc's design,
// measured as programs use it: one fd. libkaio-posix (issue 14) serves the
// same calls with kaio, linked in with prefixed names (kaio_posix_*), since
// this static binary also holds glibc's.
#include "bench.hpp"

#include <aio.h>

#include <cerrno>
#include <cstring>
#include <system_error>

extern "C" {
int kaio_posix_aio_read(struct aiocb* cb);
int kaio_posix_aio_write(struct aiocb* cb);
int kaio_posix_aio_error(const struct aiocb* cb);
ssize_t kaio_posix_aio_return(struct aiocb* cb);
int kaio_posix_aio_suspend(const struct aiocb* const list[], int nent, const struct timespec* timeout);
void kaio_posix_aio_init(const struct aioinit* init);
const char* kaio_posix_backend(void);
}

namespace bench {
namespace {

// The <aio.h> calls an engine makes, from one implementation.
struct PosixAioCalls {
	int (*read)(struct aiocb*);
	int (*write)(struct aiocb*);
	int (*error)(const struct aiocb*);
	ssize_t (*result)(struct aiocb*);
	int (*suspend)(const struct aiocb* const[], int, const struct timespec*);
	void (*init)(const struct aioinit*);
};

constexpr PosixAioCalls glibc_calls = {::aio_read, ::aio_write, ::aio_error, ::aio_return, ::aio_suspend,
				       ::aio_init};
constexpr PosixAioCalls kaio_calls = {kaio_posix_aio_read,   kaio_posix_aio_write,   kaio_posix_aio_error,
				      kaio_posix_aio_return, kaio_posix_aio_suspend, kaio_posix_aio_init};

class PosixAioEngine final : public AsyncEngine {
public:
	PosixAioEngine(unsigned depth, const PosixAioCalls& calls)
		: calls_(calls), requests_(depth), waiting_(depth, nullptr)
	{
		// Enough threads and queue entries for the depth (glibc's
		// defaults are 20 and 64); only the first call takes effect.
		aioinit init{};
		init.aio_threads = static_cast<int>(depth);
		init.aio_num = static_cast<int>(depth);
		init.aio_idle_time = 1;
		calls_.init(&init);
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
			if ((writes_ ? calls_.write(&request) : calls_.read(&request)) != 0) {
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
				const int error = calls_.error(waiting_[slot]);
				if (error == EINPROGRESS)
					continue;
				const ssize_t res = calls_.result(&requests_[slot]);
				out[got++] = {slot, error ? -static_cast<std::int64_t>(error) : res};
				waiting_[slot] = nullptr;
			}
			if (got)
				return got;
			if (calls_.suspend(waiting_.data(), static_cast<int>(waiting_.size()), nullptr) != 0 &&
			    errno != EINTR && errno != EAGAIN)
				throw std::system_error(errno, std::system_category(), "aio_suspend");
		}
	}

private:
	const PosixAioCalls& calls_;
	std::vector<aiocb> requests_;
	std::vector<const aiocb*> waiting_; // in flight, by slot; nullptr: not
	bool writes_ = false;
};

} // namespace

std::unique_ptr<AsyncEngine> make_posix_aio(unsigned queue_depth)
{
	return std::make_unique<PosixAioEngine>(queue_depth, glibc_calls);
}

std::unique_ptr<AsyncEngine> make_kaio_posix(unsigned queue_depth)
{
	// Linked statically, the library cannot fall back to glibc (it finds
	// glibc's functions with dlvsym(RTLD_NEXT)): without kaio, no engine.
	if (std::strcmp(kaio_posix_backend(), "kaio") != 0)
		throw std::system_error(ENODEV, std::system_category(), "libkaio-posix: no kaio backend");
	return std::make_unique<PosixAioEngine>(queue_depth, kaio_calls);
}

} // namespace bench
