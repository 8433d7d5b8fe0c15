// SPDX-License-Identifier: GPL-2.0
// kaio-demo: what kaio does with each kind of I/O, through libkaio++.
//
// Writes a test file, drops the page cache, then runs phases of 4 KiB
// requests at a fixed queue depth: cold buffered random reads, the same
// reads warm, O_DIRECT random reads, random writes plus fsync. For each phase
// it prints the operations, bytes, elapsed time, the time spent inside
// submit (the cost the submitter pays; the point of kaio is to keep it low
// for cold reads), which path each request took (io_event::res2 with
// KAIO_SETUP_RES2_PATH) and how the context's fdinfo counters moved. Every
// byte read is checked against what was written; any error, short transfer
// or mismatch makes the exit status non-zero.
//
// Runs in the guest (needs /dev/kaio and root for drop_caches):
//   kaio-demo [--dir DIR] [--size-mib N] [--ops N] [--qd N] [--seed N]
// DIR defaults to $KAIO_EXT4_DIR.
#include <kaio/kaio.hpp>
#include <kaio_cli/options.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr std::size_t block_bytes = 4096;
// The fill writes large requests: it prepares the file, it is not measured
// for its own sake, and TCG is slow.
constexpr std::size_t fill_request_bytes = 64 * 1024;
// How long to wait for one completion before calling the run stuck.
constexpr std::chrono::seconds completion_deadline{30};

struct Options {
	std::string dir;
	std::size_t size_mib = 4;
	std::size_t ops = 512;
	std::size_t queue_depth = 32;
	std::uint64_t seed = 1;
};

Options parse_options(int argc, char** argv)
{
	Options options;
	if (const char* dir = std::getenv("KAIO_EXT4_DIR"))
		options.dir = dir;
	// As strtoull reads them: 0x... is hexadecimal.
	const kaio_cli::Unsigned positive{.min = 1, .base = 0};
	const kaio_cli::Parser parser(
		{.name = "kaio-demo",
		 .about = "What kaio does with each kind of I/O: cold and warm buffered random reads,\n"
			  "O_DIRECT reads, random writes plus fsync, each through libkaio++ at a fixed\n"
			  "queue depth, every byte checked. Needs /dev/kaio; root to drop the caches."},
		{kaio_cli::text("dir", 0, "DIR", "where the test file goes (default $KAIO_EXT4_DIR)", options.dir),
		 kaio_cli::number("size-mib", 0, "N", "test file size in MiB (default 4)", options.size_mib, positive),
		 kaio_cli::number("ops", 0, "N", "requests per phase (default 512)", options.ops, positive),
		 kaio_cli::number("qd", 0, "N", "requests in flight (default 32)", options.queue_depth, positive),
		 kaio_cli::number("seed", 0, "N", "of the random offsets (default 1)", options.seed, {.base = 0})});
	const std::vector<std::string> extra = parser.parse_or_exit(argc, argv);
	if (!extra.empty())
		parser.fail("unexpected argument '" + extra[0] + "'");
	if (options.dir.empty())
		parser.fail("no directory: pass --dir or set KAIO_EXT4_DIR");
	return options;
}

// Page-aligned memory, so every buffer also suits O_DIRECT.
struct FreeDeleter {
	void operator()(std::byte* memory) const noexcept { std::free(memory); }
};
using AlignedBytes = std::unique_ptr<std::byte[], FreeDeleter>;

AlignedBytes aligned_bytes(std::size_t size)
{
	AlignedBytes memory(static_cast<std::byte*>(std::aligned_alloc(block_bytes, size)));
	if (!memory)
		throw std::bad_alloc();
	return memory;
}

class ScopedFd {
public:
	explicit ScopedFd(int fd) : fd_(fd) {}
	ScopedFd(ScopedFd&&) = delete;
	~ScopedFd()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	int get() const noexcept { return fd_; }

private:
	int fd_;
};

// The file under test, removed when the demo ends however it ends.
class DemoFile {
public:
	explicit DemoFile(const std::string& dir)
		: path_(dir + "/kaio-demo." + std::to_string(::getpid()) + ".dat"),
		  fd_(::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	{
		if (fd_.get() < 0)
			throw std::system_error(errno, std::system_category(), "creating " + path_);
	}
	DemoFile(DemoFile&&) = delete;
	~DemoFile() { ::unlink(path_.c_str()); }

	const std::string& path() const noexcept { return path_; }
	int fd() const noexcept { return fd_.get(); }

private:
	std::string path_;
	ScopedFd fd_;
};

// What the file holds: each 4 KiB block was last written with a generation
// number, and its bytes are a hash of (generation, offset), so a read of a
// wrong, stale or torn block is caught.
class Content {
public:
	explicit Content(std::size_t blocks) : generation_(blocks, 0) {}

	static std::byte byte_at(std::uint32_t generation, std::uint64_t offset) noexcept
	{
		std::uint64_t x = (offset + 1) * 0x9E3779B97F4A7C15ULL ^
				  (std::uint64_t{generation} * 0xBF58476D1CE4E5B9ULL);
		x ^= x >> 29;
		return static_cast<std::byte>(x);
	}

	void fill(std::span<std::byte> buffer, std::uint64_t offset, std::uint32_t generation)
	{
		for (std::size_t i = 0; i < buffer.size(); i++)
			buffer[i] = byte_at(generation, offset + i);
		for (std::uint64_t block = offset / block_bytes;
		     block < (offset + buffer.size()) / block_bytes; block++)
			generation_[block] = generation;
	}

	// Where `buffer`, read at `offset`, differs from the file, if anywhere.
	std::optional<std::uint64_t> mismatch(std::span<const std::byte> buffer,
					      std::uint64_t offset) const
	{
		for (std::size_t i = 0; i < buffer.size(); i++) {
			const std::uint64_t at = offset + i;
			if (buffer[i] != byte_at(generation_[at / block_bytes], at))
				return at;
		}
		return std::nullopt;
	}

	std::size_t blocks() const noexcept { return generation_.size(); }

private:
	std::vector<std::uint32_t> generation_;
};

enum class OpKind { read, write, fsync };

struct Job {
	OpKind kind;
	std::uint64_t offset;
	std::size_t length;
	std::uint32_t generation; // for writes
};

struct PhaseReport {
	std::string name;
	std::size_t ops = 0;
	std::uint64_t bytes = 0;
	nanoseconds elapsed{};
	nanoseconds in_submit{};
	std::array<std::size_t, 5> by_path{}; // indexed by KAIO_PATH_*, 0 = unreported
	std::size_t errors = 0;
	kaio::Stats before;
	kaio::Stats after;
};

// Runs jobs through a context keeping up to `queue_depth` in flight.
class Runner {
public:
	Runner(kaio::Context& context, Content& content, std::size_t queue_depth,
	       std::size_t max_request_bytes)
		: context_(context), content_(content), slots_(queue_depth)
	{
		for (Slot& slot : slots_) {
			slot.buffer = aligned_bytes(max_request_bytes);
			free_slots_.push_back(&slot);
		}
		events_.resize(queue_depth);
	}

	void run(int fd, std::span<const Job> jobs, PhaseReport& report)
	{
		std::size_t next = 0;
		std::size_t in_flight = 0;
		std::vector<iocb*> batch;
		while (next < jobs.size() || in_flight > 0) {
			batch.clear();
			while (next < jobs.size() && !free_slots_.empty()) {
				Slot* slot = free_slots_.back();
				free_slots_.pop_back();
				prepare(*slot, fd, jobs[next++]);
				batch.push_back(&slot->request);
			}
			if (!batch.empty()) {
				const auto start = Clock::now();
				const std::size_t queued = context_.submit(batch);
				report.in_submit += Clock::now() - start;
				in_flight += queued;
				// io_submit semantics: the rest were not queued; retry
				// them after some completions freed capacity.
				for (std::size_t i = queued; i < batch.size(); i++) {
					free_slots_.push_back(kaio::user_data<Slot>(*batch[i]));
					next--;
				}
			}
			if (in_flight == 0)
				continue;
			const std::size_t got = context_.get_events(1, events_, completion_deadline);
			if (got == 0)
				throw std::runtime_error("no completion within " +
							 std::to_string(completion_deadline.count()) + " s");
			for (const io_event& event : std::span(events_).first(got)) {
				complete(event, report);
				in_flight--;
			}
		}
	}

private:
	struct Slot {
		iocb request{};
		AlignedBytes buffer;
		Job job{};
	};

	void prepare(Slot& slot, int fd, const Job& job)
	{
		slot.job = job;
		const std::span<std::byte> buffer(slot.buffer.get(), job.length);
		switch (job.kind) {
		case OpKind::read:
			slot.request = kaio::make_read(fd, buffer, job.offset);
			break;
		case OpKind::write:
			content_.fill(buffer, job.offset, job.generation);
			slot.request = kaio::make_write(fd, buffer, job.offset);
			break;
		case OpKind::fsync:
			slot.request = kaio::make_fsync(fd);
			break;
		}
		kaio::set_user_data(slot.request, &slot);
	}

	void complete(const io_event& event, PhaseReport& report)
	{
		Slot& slot = *kaio::user_data<Slot>(event);
		free_slots_.push_back(&slot);
		report.ops++;
		report.by_path[static_cast<std::size_t>(kaio::completion_path(event))]++;

		const Job& job = slot.job;
		const std::int64_t expected = job.kind == OpKind::fsync ? 0 : static_cast<std::int64_t>(job.length);
		if (event.res != expected) {
			fail(report, "request at offset %" PRIu64 ": res %" PRId64 " (%s), expected %" PRId64,
			     job.offset, static_cast<std::int64_t>(event.res),
			     event.res < 0 ? kaio::event_error(event).message().c_str() : "short", expected);
			return;
		}
		report.bytes += kaio::event_bytes(event);
		if (job.kind == OpKind::read) {
			const std::span<const std::byte> data(slot.buffer.get(), job.length);
			if (const auto at = content_.mismatch(data, job.offset))
				fail(report, "read at offset %" PRIu64 ": wrong data at byte %" PRIu64,
				     job.offset, *at);
		}
	}

	template <typename... Args>
	void fail(PhaseReport& report, const char* format, Args... args)
	{
		// Report the first few; the count says the rest.
		if (report.errors++ < 10) {
			std::fprintf(stderr, "kaio-demo: %s: ", report.name.c_str());
			std::fprintf(stderr, format, args...);
			std::fputc('\n', stderr);
		}
	}

	kaio::Context& context_;
	Content& content_;
	std::vector<Slot> slots_;
	std::vector<Slot*> free_slots_;
	std::vector<io_event> events_;
};

std::vector<Job> random_jobs(OpKind kind, std::size_t count, std::size_t blocks,
			     std::mt19937_64& random, std::uint32_t generation = 0)
{
	std::uniform_int_distribution<std::size_t> pick(0, blocks - 1);
	std::vector<Job> jobs;
	for (std::size_t i = 0; i < count; i++)
		jobs.push_back({kind, pick(random) * block_bytes, block_bytes, generation});
	return jobs;
}

// Empties the page cache so that the next reads go to the device. Writing
// drop_caches needs root (the guest runs as root); elsewhere, evicting this
// file's pages is the next best thing.
void drop_caches(int fd)
{
	::sync();
	const ScopedFd control(::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC));
	if (control.get() >= 0 && ::write(control.get(), "3", 1) == 1)
		return;
	std::fprintf(stderr, "kaio-demo: cannot write /proc/sys/vm/drop_caches (%s); "
			     "evicting the test file with posix_fadvise instead\n",
		     std::strerror(errno));
	const int error = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (error)
		throw std::system_error(error, std::system_category(), "posix_fadvise");
}

std::string human_bytes(std::uint64_t bytes)
{
	char text[32];
	if (bytes >= 1024 * 1024)
		std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
	else
		std::snprintf(text, sizeof(text), "%.1f KiB", static_cast<double>(bytes) / 1024);
	return text;
}

double milliseconds(nanoseconds duration)
{
	return std::chrono::duration<double, std::milli>(duration).count();
}

void print_header()
{
	std::printf("%-12s %6s %10s %11s %11s %9s %7s %6s %6s %7s\n", "phase", "ops", "bytes",
		    "elapsed", "in submit", "submit/op", "inline", "async", "retry", "worker");
}

// The counters Documentation/abi.md lists, in its order; any other counter
// a newer module reports follows them.
constexpr std::array<std::string_view, 10> documented_counters{
	"submitted", "completed", "inline", "async", "page_wait_arms",
	"wakeups", "retries", "worker", "cancelled", "in_flight"};

bool is_gauge(std::string_view name)
{
	return name == "in_flight" || name == "nr_events";
}

void print_counter(const PhaseReport& report, std::string_view name)
{
	const std::uint64_t now = report.after[name];
	if (is_gauge(name))
		std::printf(" %.*s %" PRIu64, static_cast<int>(name.size()), name.data(), now);
	else
		std::printf(" %.*s +%" PRIu64, static_cast<int>(name.size()), name.data(),
			    now - report.before[name]);
}

void print_phase(const PhaseReport& report)
{
	const double submit_us_per_op =
		report.ops ? milliseconds(report.in_submit) * 1000 / static_cast<double>(report.ops) : 0;
	std::printf("%-12s %6zu %10s %8.1f ms %8.1f ms %6.0f us %7zu %6zu %6zu %7zu\n",
		    report.name.c_str(), report.ops, human_bytes(report.bytes).c_str(),
		    milliseconds(report.elapsed), milliseconds(report.in_submit), submit_us_per_op,
		    report.by_path[KAIO_PATH_INLINE], report.by_path[KAIO_PATH_ASYNC],
		    report.by_path[KAIO_PATH_RETRY], report.by_path[KAIO_PATH_WORKER]);
	// The module's own counts, to compare with what res2 said. Gauges are
	// shown as they are, the rest as the change over the phase.
	std::printf("%-12s fdinfo:", "");
	for (const std::string_view name : documented_counters)
		print_counter(report, name);
	for (const auto& [name, value] : report.after.counters) {
		const bool vfs_line = name == "pos" || name == "flags" || name == "mnt_id" || name == "ino";
		const bool documented = std::find(documented_counters.begin(), documented_counters.end(),
						  name) != documented_counters.end();
		if (!vfs_line && !documented && name != "nr_events")
			print_counter(report, name);
	}
	std::printf("\n");
}

// Runs one phase and prints its line; returns its error count.
template <typename Body>
std::size_t phase(const std::string& name, kaio::Context& context, Body&& body)
{
	PhaseReport report;
	report.name = name;
	report.before = context.stats();
	const auto start = Clock::now();
	body(report);
	report.elapsed = Clock::now() - start;
	report.after = context.stats();
	print_phase(report);
	std::fflush(stdout);
	return report.errors;
}

// After the writes: the whole file, read back with plain pread.
std::size_t verify_with_pread(const DemoFile& file, const Content& content)
{
	std::vector<std::byte> buffer(fill_request_bytes);
	const std::uint64_t size = content.blocks() * block_bytes;
	for (std::uint64_t offset = 0; offset < size; offset += buffer.size()) {
		const ssize_t got = ::pread(file.fd(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
		if (got != static_cast<ssize_t>(buffer.size())) {
			std::fprintf(stderr, "kaio-demo: verify: pread at %" PRIu64 " returned %zd\n", offset, got);
			return 1;
		}
		if (const auto at = content.mismatch(buffer, offset)) {
			std::fprintf(stderr, "kaio-demo: verify: wrong data at byte %" PRIu64 "\n", *at);
			return 1;
		}
	}
	return 0;
}

int run_demo(const Options& options)
{
	const std::size_t file_bytes = options.size_mib * 1024 * 1024;
	const std::size_t blocks = file_bytes / block_bytes;
	DemoFile file(options.dir);
	Content content(blocks);
	std::mt19937_64 random(options.seed);

	kaio::Context context(static_cast<std::uint32_t>(options.queue_depth), KAIO_SETUP_RES2_PATH);
	Runner runner(context, content, options.queue_depth, fill_request_bytes);

	std::printf("kaio-demo: %s, %s, %zu random 4 KiB requests per phase, queue depth %zu, "
		    "context capacity %u\n",
		    file.path().c_str(), human_bytes(file_bytes).c_str(), options.ops,
		    options.queue_depth, context.capacity());
	print_header();
	std::size_t errors = 0;

	errors += phase("fill+fsync", context, [&](PhaseReport& report) {
		std::vector<Job> writes;
		for (std::uint64_t offset = 0; offset < file_bytes; offset += fill_request_bytes)
			writes.push_back({OpKind::write, offset, fill_request_bytes, 1});
		runner.run(file.fd(), writes, report);
		const Job sync{OpKind::fsync, 0, 0, 0};
		runner.run(file.fd(), std::span(&sync, 1), report);
	});

	drop_caches(file.fd());
	const std::vector<Job> cold_reads = random_jobs(OpKind::read, options.ops, blocks, random);
	errors += phase("cold-read", context, [&](PhaseReport& report) {
		runner.run(file.fd(), cold_reads, report);
	});
	// The same blocks again: now every one is in the page cache.
	errors += phase("warm-read", context, [&](PhaseReport& report) {
		runner.run(file.fd(), cold_reads, report);
	});

	{
		const ScopedFd direct(::open(file.path().c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
		if (direct.get() < 0)
			throw std::system_error(errno, std::system_category(), "open O_DIRECT");
		const auto reads = random_jobs(OpKind::read, options.ops, blocks, random);
		errors += phase("direct-read", context, [&](PhaseReport& report) {
			runner.run(direct.get(), reads, report);
		});
	}

	const auto writes = random_jobs(OpKind::write, options.ops, blocks, random, 2);
	errors += phase("write+fsync", context, [&](PhaseReport& report) {
		runner.run(file.fd(), writes, report);
		const Job sync{OpKind::fsync, 0, 0, 0};
		runner.run(file.fd(), std::span(&sync, 1), report);
	});
	errors += verify_with_pread(file, content);

	if (errors) {
		std::printf("kaio-demo: FAILED: %zu errors\n", errors);
		return 1;
	}
	std::printf("kaio-demo: all data verified\n");
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	try {
		return run_demo(parse_options(argc, argv));
	} catch (const std::exception& error) {
		std::fprintf(stderr, "kaio-demo: %s\n", error.what());
		return 1;
	}
}
