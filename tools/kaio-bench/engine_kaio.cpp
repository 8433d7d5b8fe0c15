// SPDX-License-Identifier: GPL-2.0
// The kaio engine, through libkaio++: a kaio::Context, requests built with
// kaio::make_read/make_write, one Context::submit per batch. Completions are
// taken from the mapped ring with no system call while there are some, and
// GETEVENTS waits when there are none: how libkaio++'s own completion loops
// work (Context::run). --kaio-reap=syscall always calls GETEVENTS instead,
// which is what native AIO's io_getevents does.
#include "bench.hpp"

#include <kaio/kaio.hpp>

#include <string>

namespace bench {
namespace {

class KaioEngine final : public AsyncEngine {
public:
	KaioEngine(unsigned depth, bool reap_syscall)
		: context_(depth, KAIO_SETUP_RES2_PATH), requests_(depth), events_(depth),
		  reap_syscall_(reap_syscall)
	{
		batch_.reserve(depth);
	}

	void prepare(unsigned slot, int fd, bool write, void* buffer, std::uint64_t length,
		     std::uint64_t offset) override
	{
		auto* bytes = static_cast<std::byte*>(buffer);
		requests_[slot] = write ? kaio::make_write(fd, std::span<const std::byte>(bytes, length), offset)
					: kaio::make_read(fd, std::span<std::byte>(bytes, length), offset);
		kaio::set_user_data(requests_[slot], std::uint64_t{slot});
	}

	std::size_t submit(std::span<const unsigned> slots) override
	{
		batch_.clear();
		for (unsigned slot : slots)
			batch_.push_back(&requests_[slot]);
		return context_.submit(batch_);
	}

	std::size_t reap(std::span<Completion> out) override
	{
		const std::span<io_event> events = std::span(events_).first(out.size());
		std::size_t got = reap_syscall_ ? 0 : context_.reap_ring(events);
		while (got == 0)
			got = context_.get_events(1, events);
		for (std::size_t i = 0; i < got; i++) {
			out[i] = {static_cast<unsigned>(events[i].data), static_cast<std::int64_t>(events[i].res)};
			paths_[static_cast<std::size_t>(kaio::completion_path(events[i]))]++;
		}
		return got;
	}

	std::map<std::string, std::int64_t> counters() override
	{
		std::map<std::string, std::int64_t> result;
		for (const auto& [name, value] : context_.stats().counters)
			result[name] = static_cast<std::int64_t>(value);
		// res2 of each event (KAIO_SETUP_RES2_PATH): how it was served.
		result["path_inline"] = static_cast<std::int64_t>(paths_[KAIO_PATH_INLINE]);
		result["path_async"] = static_cast<std::int64_t>(paths_[KAIO_PATH_ASYNC]);
		result["path_retry"] = static_cast<std::int64_t>(paths_[KAIO_PATH_RETRY]);
		result["path_worker"] = static_cast<std::int64_t>(paths_[KAIO_PATH_WORKER]);
		return result;
	}

private:
	kaio::Context context_;
	std::vector<iocb> requests_;
	std::vector<iocb*> batch_;
	std::vector<io_event> events_;
	std::uint64_t paths_[8] = {};
	bool reap_syscall_;
};

} // namespace

std::unique_ptr<AsyncEngine> make_kaio(unsigned queue_depth, bool reap_syscall)
{
	return std::make_unique<KaioEngine>(queue_depth, reap_syscall);
}

} // namespace bench
