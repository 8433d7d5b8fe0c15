// SPDX-License-Identifier: GPL-2.0
// kaio-bench: the same I/O workload on kaio, native AIO (libaio), io_uring
// (liburing), glibc POSIX aio and psync threads, side by side in one
// process. Documentation/performance.md has the results and how they are
// made (`make bench`); this is the tool behind them.
//
//   kaio-bench --file PATH [--rw read|write] [--pattern rand|seq] [--bs N]
//              [--qd N] [--threads N] [--direct] [--size N]
//              [--runtime SEC] [--ops N] [--warmup SEC] [--cache cold|warm|keep] [--once]
//              [--engines LIST] [--repeat N] [--label TEXT] [--seed N]
//              [--kaio-reap ring|syscall] [--json|--no-json]
//
// Each engine first runs the workload for --warmup seconds (default 0.3,
// not reported), then --repeat times; the engines are interleaved
// (repetition r runs them in an order rotated by r), because on a noisy
// machine (QEMU TCG) only runs made close together compare. Per run it
// prints one table line and, with --json (the default), one JSON line that
// starts with {"kaio_bench":; at the end, per engine, the median and range
// of the repetitions and the ratio to the best peer (the fastest of native
// AIO, io_uring, POSIX aio and psync).
//
// Numbers: IOPS and MiB/s over the run; "submit" is the time inside one
// submit call (a batch: io_submit, io_uring_submit, kaio's SUBMIT ioctl,
// the aio_read calls of a batch; psync's pread, which is the whole I/O);
// "lat" is from entering the submit call to reaping the completion; CPU per
// op is getrusage(RUSAGE_SELF) user+sys over the ops (the process: its
// threads, glibc's aio threads and io_uring's io-wq workers, but not
// kernel worker threads), and "sys-cpu/op" is the busy time of every CPU
// (/proc/stat) over the ops, which also counts kworkers, softirqs and
// interrupts: kaio's retries run on kworkers, so this is the fair one.
// "sleeps" in submit are the submitting thread's voluntary context switches
// (getrusage(RUSAGE_THREAD) ru_nvcsw) inside the call, measured on every
// 16th submit call of each thread and on any 10 ms or more after its last
// measured one (bench.hpp says why), summed over the threads: per call
// measured, per request those calls queued, and the number of calls
// measured. For psync the call is the whole pread, so its sleeps include
// the wait for the device.
#include "bench.hpp"

#include <kaio_cli/options.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using namespace bench;

const std::vector<std::string> all_engines = {"kaio", "kaio-posix", "libaio", "io_uring", "posixaio", "psync"};
// The engines kaio is compared with ("best peer" = the fastest of them).
bool is_peer(std::string_view engine)
{
	return engine == "libaio" || engine == "io_uring" || engine == "posixaio" || engine == "psync";
}

enum class Cache { cold, warm, keep };

struct Options {
	std::string file;
	bool write = false;
	bool random = true;
	std::uint64_t block_bytes = 4096;
	unsigned queue_depth = 1;
	unsigned threads = 0; // psync; 0: the queue depth
	bool direct = false;
	std::uint64_t size = 0; // 0: the file's size
	double runtime = 2.0;
	double warmup = 0.3;
	std::uint64_t ops = 0;
	std::optional<Cache> cache;
	std::optional<bool> once;
	std::vector<std::string> engines = all_engines;
	unsigned repeat = 1;
	std::string label;
	std::uint64_t seed = 1;
	bool reap_syscall = false;
	bool json = true;
};

// For the checks made after parsing, as the parser reports its own.
[[noreturn]] void usage(const std::string& message)
{
	kaio_cli::usage_error("kaio-bench", message);
}

std::vector<std::string> split(const std::string& text, char separator)
{
	std::vector<std::string> parts;
	std::stringstream stream(text);
	std::string part;
	while (std::getline(stream, part, separator))
		if (!part.empty())
			parts.push_back(part);
	return parts;
}

Options parse_options(int argc, char** argv)
{
	using kaio_cli::choice, kaio_cli::flag, kaio_cli::number, kaio_cli::text;
	Options o;
	// Every count and size takes a k, m or g suffix, as before.
	const kaio_cli::Unsigned size{.suffixes = true};
	auto set_engines = [&o](std::string_view value) {
		o.engines = split(std::string(value), ',');
		for (const std::string& e : o.engines)
			if (std::find(all_engines.begin(), all_engines.end(), e) == all_engines.end())
				throw kaio_cli::BadValue("unknown engine '" + e + "'");
	};
	const kaio_cli::Parser parser(
		{.name = "kaio-bench",
		 .synopsis = "--file PATH [OPTION]...",
		 .about = "The same I/O workload on kaio, native AIO (libaio), io_uring, POSIX aio and\n"
			  "psync threads, interleaved; per run a table line and a JSON line, then per\n"
			  "engine the median of the repetitions and the ratio to the best peer.",
		 .epilogue = "N, BYTES: a k, m or g suffix multiplies by 1024, 1024^2, 1024^3.\n"
			     "Documentation/performance.md has the results and how they are made."},
		{
			text("file", 0, "PATH", "file or block device; a short file is written up to --size", o.file),
			choice("rw", 0, "read (default) or write", o.write, {{"read", false}, {"write", true}}),
			choice("pattern", 0, "random (default) or sequential offsets", o.random,
			       {{"rand", true}, {"seq", false}}),
			number("bs", 0, "BYTES", "block size, a multiple of 512 (default 4096)", o.block_bytes, size),
			number("qd", 0, "N", "queue depth, 1..4096 (default 1)", o.queue_depth,
			       {.min = 1, .max = 4096, .suffixes = true}),
			number("threads", 0, "N", "psync threads (default: the queue depth)", o.threads, size),
			flag("direct", 0, "O_DIRECT", o.direct),
			number("size", 0, "BYTES", "use (and create) this much of the file (default: all)", o.size,
			       size),
			number("runtime", 0, "SEC", "seconds per run (default 2)", o.runtime),
			number("ops", 0, "N", "stop a run after N ops (default 0: no limit)", o.ops, size),
			number("warmup", 0, "SEC", "unreported warm-up run per engine (default 0.3)", o.warmup),
			choice("cache", 0,
			       "page cache before each run: dropped, all of the region read in, or as it is "
			       "(default: cold when buffered, keep with --direct)",
			       o.cache, {{"cold", Cache::cold}, {"warm", Cache::warm}, {"keep", Cache::keep}}),
			flag("once", 0, "each block at most once in a run, no wrapping (default for cold reads)",
			     o.once),
			{"engines", 0, "LIST",
			 "the engines, separated by commas: any of kaio, kaio-posix (POSIX aio on "
			 "kaio: libkaio-posix), libaio, io_uring, posixaio and psync (default: all)",
			 set_engines},
			number("repeat", 0, "N", "runs of each engine (default 1)", o.repeat,
			       {.min = 1, .suffixes = true}),
			text("label", 0, "TEXT", "the row's name (default from the workload)", o.label),
			number("seed", 0, "N", "of the random offsets (default 1)", o.seed, size),
			choice("kaio-reap", 0, "kaio reaps from the mapped ring (default) or with GETEVENTS",
			       o.reap_syscall, {{"ring", false}, {"syscall", true}}),
			flag("json", 0, "a JSON line per run and summary (default)", o.json),
			flag("no-json", 0, "no JSON lines", o.json, false),
		});
	const std::vector<std::string> extra = parser.parse_or_exit(argc, argv);
	if (!extra.empty())
		parser.fail("unexpected argument '" + extra[0] + "'");
	if (o.file.empty())
		parser.fail("no --file");
	if (o.block_bytes == 0 || o.block_bytes % 512)
		parser.fail("--bs must be a multiple of 512");
	if (o.engines.empty())
		parser.fail("nothing to run");
	if (o.threads == 0)
		o.threads = o.queue_depth;
	// A cache state only means something for buffered I/O. Cold runs read
	// each block once (more would read cached pages); warm runs wrap.
	if (!o.cache)
		o.cache = o.direct ? Cache::keep : Cache::cold;
	if (!o.once)
		o.once = *o.cache == Cache::cold && !o.write;
	if (o.label.empty())
		o.label = std::string(o.random ? "rand" : "seq") + (o.write ? "write" : "read") +
			  " bs=" + std::to_string(o.block_bytes) + " qd=" + std::to_string(o.queue_depth);
	return o;
}

const char* cache_name(Cache cache)
{
	switch (cache) {
	case Cache::cold: return "cold";
	case Cache::warm: return "warm";
	case Cache::keep: return "keep";
	}
	return "?";
}

[[noreturn]] void fail(const std::string& what, int error = errno)
{
	throw std::system_error(error, std::system_category(), what);
}

// The file under test. A regular file shorter than --size is written up to
// it first (non-zero data, then fsync), so that reads come from the device
// and writes overwrite allocated blocks.
struct Target {
	int fd = -1;
	std::uint64_t size = 0;
	bool block_device = false;
};

Target open_target(const Options& o)
{
	Target t;
	struct stat st{};
	const bool exists = ::stat(o.file.c_str(), &st) == 0;
	t.block_device = exists && S_ISBLK(st.st_mode);
	if (!t.block_device && (!exists || static_cast<std::uint64_t>(st.st_size) < o.size)) {
		if (o.size == 0)
			usage(o.file + " does not exist: give --size to create it");
		const int fd = ::open(o.file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			fail("creating " + o.file);
		const std::size_t chunk = 1 << 20;
		Buffer buffer = make_buffer(chunk);
		std::uint64_t at = exists ? static_cast<std::uint64_t>(st.st_size) / chunk * chunk : 0;
		std::fprintf(stderr, "kaio-bench: writing %s up to %" PRIu64 " MiB\n", o.file.c_str(), o.size >> 20);
		for (; at < o.size; at += chunk) {
			const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, o.size - at));
			if (::pwrite(fd, buffer.get(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n))
				fail("writing " + o.file);
		}
		if (::fsync(fd) != 0)
			fail("fsync " + o.file);
		::close(fd);
	}
	const int flags = (o.write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (o.direct ? O_DIRECT : 0);
	t.fd = ::open(o.file.c_str(), flags);
	if (t.fd < 0)
		fail("opening " + o.file);
	if (t.block_device) {
		if (::ioctl(t.fd, BLKGETSIZE64, &t.size) != 0)
			fail("BLKGETSIZE64 " + o.file);
	} else {
		if (::fstat(t.fd, &st) != 0)
			fail("fstat " + o.file);
		t.size = static_cast<std::uint64_t>(st.st_size);
	}
	if (o.size)
		t.size = std::min(t.size, o.size);
	return t;
}

// Brings every page of the region into the page cache without copying it
// to user space (a copy of the whole region per run costs seconds under
// TCG): readahead of all of it, then mincore() over a mapping to find and
// read whatever is still missing.
void warm_cache(const Target& t)
{
	const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
	::posix_fadvise(t.fd, 0, static_cast<off_t>(t.size), POSIX_FADV_WILLNEED);
	Buffer buffer = make_buffer(1 << 20);
	void* map = ::mmap(nullptr, t.size, PROT_READ, MAP_SHARED, t.fd, 0);
	if (map == MAP_FAILED) {
		for (std::uint64_t at = 0; at < t.size; at += 1 << 20)
			if (::pread(t.fd, buffer.get(), 1 << 20, static_cast<off_t>(at)) < 0)
				fail("warming the cache");
		return;
	}
	std::vector<unsigned char> resident((t.size + page - 1) / page);
	if (::mincore(map, t.size, resident.data()) != 0)
		resident.assign(resident.size(), 0);
	::munmap(map, t.size);
	for (std::size_t i = 0; i < resident.size(); i++)
		if (!(resident[i] & 1) &&
		    ::pread(t.fd, buffer.get(), page, static_cast<off_t>(i * page)) < 0)
			fail("warming the cache");
}

// Puts the page cache in the state asked for before each run. Always
// first: the previous run's dirty pages are written back (not timed), so a
// run never pays for another engine's writes.
void prepare_cache(const Options& o, const Target& t)
{
	if (o.write && ::fdatasync(t.fd) != 0)
		fail("fdatasync");
	switch (*o.cache) {
	case Cache::cold: {
		// Root (the guest): the whole page cache. Otherwise, this
		// file's pages, which is all this run reads.
		::sync();
		const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
		bool dropped = false;
		if (fd >= 0) {
			dropped = ::write(fd, "3", 1) == 1;
			::close(fd);
		}
		if (!dropped) {
			static bool warned = false;
			if (!warned)
				std::fprintf(stderr, "kaio-bench: cannot drop caches (%s); using POSIX_FADV_DONTNEED\n",
					     std::strerror(errno));
			warned = true;
			if (int rc = ::posix_fadvise(t.fd, 0, 0, POSIX_FADV_DONTNEED))
				fail("posix_fadvise DONTNEED", rc);
		}
		break;
	}
	case Cache::warm:
		if (!o.direct)
			warm_cache(t);
		break;
	case Cache::keep:
		break;
	}
	// As fio does by default (fadvise_hint=1): tell the kernel the
	// pattern, so random reads do not read ahead.
	if (!o.direct)
		::posix_fadvise(t.fd, 0, 0, o.random ? POSIX_FADV_RANDOM : POSIX_FADV_SEQUENTIAL);
}

// CPU time of the process, and busy time of every CPU.
struct CpuClock {
	std::int64_t user_ns = 0;
	std::int64_t sys_ns = 0;
	std::int64_t busy_ns = 0; // all CPUs, /proc/stat; -1 if unreadable
	long vcsw = 0;
	long ivcsw = 0;

	static CpuClock now()
	{
		CpuClock c;
		rusage usage{};
		::getrusage(RUSAGE_SELF, &usage);
		auto ns = [](const timeval& tv) { return std::int64_t{tv.tv_sec} * 1000000000 + tv.tv_usec * 1000; };
		c.user_ns = ns(usage.ru_utime);
		c.sys_ns = ns(usage.ru_stime);
		c.vcsw = usage.ru_nvcsw;
		c.ivcsw = usage.ru_nivcsw;
		c.busy_ns = -1;
		std::ifstream stat("/proc/stat");
		std::string cpu;
		std::uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
		if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
		    cpu == "cpu") {
			const long hz = ::sysconf(_SC_CLK_TCK);
			c.busy_ns = static_cast<std::int64_t>(user + nice + system + irq + softirq + steal) *
				    (1000000000 / hz);
		}
		return c;
	}
};

double percentile_us(std::vector<std::int64_t>& values, double q)
{
	if (values.empty())
		return 0;
	// Nearest rank.
	std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
	rank = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
	std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
	return static_cast<double>(values[rank]) / 1000.0;
}

struct Result {
	std::string engine;
	unsigned rep = 0;
	std::uint64_t ops = 0, bytes = 0, errors = 0;
	std::string first_error;
	double elapsed_s = 0, iops = 0, mib_s = 0;
	std::size_t submit_calls = 0;
	double submit_batch = 0, submit_p50 = 0, submit_p99 = 0, submit_max = 0, submit_per_op = 0;
	double lat_p50 = 0, lat_p99 = 0, lat_p999 = 0, lat_mean = 0;
	double cpu_per_op = 0, usr_per_op = 0, sys_per_op = 0, busy_per_op = -1;
	long vcsw = 0, ivcsw = 0;
	SubmitSleeps submit_sleeps;
	double sleeps_per_submit = 0, sleeps_per_request = 0; // of the calls measured
	double setup_s = 0, teardown_s = 0;
	std::map<std::string, std::int64_t> counters;
};

Result summarise(const std::string& engine, unsigned rep, Samples& s, const CpuClock& a, const CpuClock& b)
{
	Result r;
	r.engine = engine;
	r.rep = rep;
	r.ops = s.ops;
	r.bytes = s.bytes;
	r.errors = s.errors;
	r.first_error = s.first_error;
	r.elapsed_s = static_cast<double>(s.elapsed_ns) / 1e9;
	if (r.elapsed_s > 0) {
		r.iops = static_cast<double>(s.ops) / r.elapsed_s;
		r.mib_s = static_cast<double>(s.bytes) / r.elapsed_s / (1 << 20);
	}
	r.submit_calls = s.submit_ns.size();
	std::uint64_t batched = 0;
	std::int64_t in_submit = 0;
	for (std::size_t i = 0; i < s.submit_ns.size(); i++) {
		batched += s.submit_batch[i];
		in_submit += s.submit_ns[i];
	}
	r.submit_batch = r.submit_calls ? static_cast<double>(batched) / static_cast<double>(r.submit_calls) : 0;
	r.submit_per_op = s.ops ? static_cast<double>(in_submit) / 1000.0 / static_cast<double>(s.ops) : 0;
	r.submit_max = s.submit_ns.empty() ? 0 : static_cast<double>(*std::max_element(s.submit_ns.begin(), s.submit_ns.end())) / 1000.0;
	r.submit_p50 = percentile_us(s.submit_ns, 0.50);
	r.submit_p99 = percentile_us(s.submit_ns, 0.99);
	std::int64_t latency_sum = 0;
	for (std::int64_t v : s.latency_ns)
		latency_sum += v;
	r.lat_mean = s.latency_ns.empty() ? 0 : static_cast<double>(latency_sum) / 1000.0 / static_cast<double>(s.latency_ns.size());
	r.lat_p50 = percentile_us(s.latency_ns, 0.50);
	r.lat_p99 = percentile_us(s.latency_ns, 0.99);
	r.lat_p999 = percentile_us(s.latency_ns, 0.999);
	if (s.ops) {
		const double ops = static_cast<double>(s.ops);
		r.usr_per_op = static_cast<double>(b.user_ns - a.user_ns) / 1000.0 / ops;
		r.sys_per_op = static_cast<double>(b.sys_ns - a.sys_ns) / 1000.0 / ops;
		r.cpu_per_op = r.usr_per_op + r.sys_per_op;
		if (a.busy_ns >= 0 && b.busy_ns >= 0)
			r.busy_per_op = static_cast<double>(b.busy_ns - a.busy_ns) / 1000.0 / ops;
	}
	r.vcsw = b.vcsw - a.vcsw;
	r.ivcsw = b.ivcsw - a.ivcsw;
	r.submit_sleeps = s.submit_sleeps;
	const SubmitSleeps& sleeps = r.submit_sleeps;
	if (sleeps.calls)
		r.sleeps_per_submit = static_cast<double>(sleeps.sleeps) / static_cast<double>(sleeps.calls);
	if (sleeps.requests)
		r.sleeps_per_request = static_cast<double>(sleeps.sleeps) / static_cast<double>(sleeps.requests);
	r.counters = std::move(s.counters);
	return r;
}

std::string json_string(std::string_view text)
{
	std::string out = "\"";
	for (char c : text) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (static_cast<unsigned char>(c) < 0x20) {
			char escaped[8];
			std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
			out += escaped;
		} else {
			out += c;
		}
	}
	return out + "\"";
}

std::string number(double value)
{
	char text[32];
	std::snprintf(text, sizeof text, "%.6g", value);
	return text;
}

std::string workload_json(const Options& o)
{
	std::string j;
	j += "\"label\":" + json_string(o.label);
	j += ",\"file\":" + json_string(o.file);
	j += ",\"rw\":\"" + std::string(o.write ? "write" : "read") + "\"";
	j += ",\"pattern\":\"" + std::string(o.random ? "rand" : "seq") + "\"";
	j += ",\"bs\":" + std::to_string(o.block_bytes);
	j += ",\"qd\":" + std::to_string(o.queue_depth);
	j += ",\"threads\":" + std::to_string(o.threads);
	j += ",\"direct\":" + std::string(o.direct ? "true" : "false");
	j += ",\"cache\":\"" + std::string(cache_name(*o.cache)) + "\"";
	j += ",\"once\":" + std::string(*o.once ? "true" : "false");
	j += ",\"runtime\":" + number(o.runtime);
	j += ",\"repeat\":" + std::to_string(o.repeat);
	return j;
}

void print_json(const Options& o, const Result& r)
{
	std::string j = "{\"kaio_bench\":1,\"kind\":\"run\"," + workload_json(o);
	j += ",\"engine\":" + json_string(r.engine);
	j += ",\"rep\":" + std::to_string(r.rep);
	j += ",\"ops\":" + std::to_string(r.ops);
	j += ",\"bytes\":" + std::to_string(r.bytes);
	j += ",\"errors\":" + std::to_string(r.errors);
	if (r.errors)
		j += ",\"first_error\":" + json_string(r.first_error);
	j += ",\"elapsed_s\":" + number(r.elapsed_s);
	j += ",\"iops\":" + number(r.iops);
	j += ",\"mib_s\":" + number(r.mib_s);
	j += ",\"submit_calls\":" + std::to_string(r.submit_calls);
	j += ",\"submit_batch\":" + number(r.submit_batch);
	j += ",\"submit_p50_us\":" + number(r.submit_p50);
	j += ",\"submit_p99_us\":" + number(r.submit_p99);
	j += ",\"submit_max_us\":" + number(r.submit_max);
	j += ",\"submit_per_op_us\":" + number(r.submit_per_op);
	j += ",\"lat_mean_us\":" + number(r.lat_mean);
	j += ",\"lat_p50_us\":" + number(r.lat_p50);
	j += ",\"lat_p99_us\":" + number(r.lat_p99);
	j += ",\"lat_p999_us\":" + number(r.lat_p999);
	j += ",\"cpu_us_per_op\":" + number(r.cpu_per_op);
	j += ",\"usr_us_per_op\":" + number(r.usr_per_op);
	j += ",\"sys_us_per_op\":" + number(r.sys_per_op);
	j += ",\"busy_us_per_op\":" + number(r.busy_per_op);
	j += ",\"setup_s\":" + number(r.setup_s);
	j += ",\"teardown_s\":" + number(r.teardown_s);
	j += ",\"vcsw\":" + std::to_string(r.vcsw);
	j += ",\"ivcsw\":" + std::to_string(r.ivcsw);
	// Raw counts, so runs can be summed; the ratios for reading.
	j += ",\"submit_sleeps\":" + std::to_string(r.submit_sleeps.sleeps);
	j += ",\"submit_sleep_samples\":" + std::to_string(r.submit_sleeps.calls);
	j += ",\"submit_sleep_reqs\":" + std::to_string(r.submit_sleeps.requests);
	j += ",\"submit_sleep_every\":" + std::to_string(submit_sleep_sample_interval);
	j += ",\"submit_sleep_gap_ms\":" + number(static_cast<double>(submit_sleep_sample_gap_ns) / 1e6);
	j += ",\"submit_sleeps_per_call\":" + number(r.sleeps_per_submit);
	j += ",\"submit_sleeps_per_req\":" + number(r.sleeps_per_request);
	if (!r.counters.empty()) {
		j += ",\"counters\":{";
		bool first = true;
		for (const auto& [name, value] : r.counters) {
			j += (first ? "" : ",") + json_string(name) + ":" + std::to_string(value);
			first = false;
		}
		j += "}";
	}
	std::printf("%s}\n", j.c_str());
}

// sleeps: in the measured submit calls, per call and per request; then how
// many calls were measured.
void print_header()
{
	std::printf("%-9s %3s %9s %8s %9s %9s %9s %9s %9s %8s %8s %7s %7s %7s %7s\n", "engine", "rep", "IOPS",
		    "MiB/s", "sub-p50", "sub-p99", "lat-p50", "lat-p99", "lat-p99.9", "cpu/op", "sys-cpu", "batch",
		    "sleeps", "sleeps", "sampled");
	std::printf("%-9s %3s %9s %8s %9s %9s %9s %9s %9s %8s %8s %7s %7s %7s %7s\n", "", "", "", "", "us", "us",
		    "us", "us", "us", "us", "us/op", "", "/submit", "/req", "submits");
}

void print_row(const Result& r)
{
	std::printf("%-9s %3u %9.0f %8.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8.1f %8.1f %7.2f %7.3f %7.3f %7" PRIu64
		    "\n",
		    r.engine.c_str(), r.rep, r.iops, r.mib_s, r.submit_p50, r.submit_p99, r.lat_p50, r.lat_p99,
		    r.lat_p999, r.cpu_per_op, r.busy_per_op, r.submit_batch, r.sleeps_per_submit,
		    r.sleeps_per_request, r.submit_sleeps.calls);
	if (!r.counters.empty()) {
		std::printf("          kaio:");
		for (const char* name : {"path_inline", "path_async", "path_retry", "path_worker",
					 "page_wait_arms", "retries", "worker"})
			if (auto it = r.counters.find(name); it != r.counters.end())
				std::printf(" %s %" PRId64, name, it->second);
		std::printf("\n");
	}
	if (r.errors)
		std::printf("          %" PRIu64 " errors, first: %s\n", r.errors, r.first_error.c_str());
}

double median(std::vector<double> values)
{
	std::sort(values.begin(), values.end());
	const std::size_t n = values.size();
	return n == 0 ? 0 : n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void print_summary(const Options& o, const std::vector<Result>& results)
{
	struct Row {
		std::string engine;
		double iops, iops_min, iops_max, cpu, busy, submit_p99, lat_p99, sleeps_per_submit;
	};
	std::vector<Row> rows;
	for (const std::string& engine : o.engines) {
		std::vector<double> iops, cpu, busy, sub, lat, sleeps;
		for (const Result& r : results) {
			if (r.engine != engine)
				continue;
			iops.push_back(r.iops);
			cpu.push_back(r.cpu_per_op);
			busy.push_back(r.busy_per_op);
			sub.push_back(r.submit_p99);
			lat.push_back(r.lat_p99);
			sleeps.push_back(r.sleeps_per_submit);
		}
		if (iops.empty())
			continue;
		rows.push_back({engine, median(iops), *std::min_element(iops.begin(), iops.end()),
				*std::max_element(iops.begin(), iops.end()), median(cpu), median(busy), median(sub),
				median(lat), median(sleeps)});
	}
	double best = 0;
	std::string best_engine;
	for (const Row& row : rows)
		if (is_peer(row.engine) && row.iops > best) {
			best = row.iops;
			best_engine = row.engine;
		}
	std::printf("# %s: median of %u (min-max); ratio = IOPS / best peer's (%s)\n", o.label.c_str(), o.repeat,
		    best_engine.empty() ? "none" : best_engine.c_str());
	for (const Row& row : rows) {
		const double ratio = best > 0 ? row.iops / best : 0;
		std::printf("# %-9s %9.0f (%.0f-%.0f) IOPS  x%.2f  cpu/op %.1f us  sys-cpu/op %.1f us  sub-p99 %.1f us  "
			    "lat-p99 %.1f us  sleeps/submit %.3f\n",
			    row.engine.c_str(), row.iops, row.iops_min, row.iops_max, ratio, row.cpu, row.busy,
			    row.submit_p99, row.lat_p99, row.sleeps_per_submit);
		if (o.json)
			std::printf("{\"kaio_bench\":1,\"kind\":\"summary\",%s,\"engine\":%s,\"iops_median\":%s,"
				    "\"iops_min\":%s,\"iops_max\":%s,\"ratio\":%s,\"best_peer\":%s,"
				    "\"cpu_us_per_op\":%s,\"busy_us_per_op\":%s,\"submit_p99_us\":%s,\"lat_p99_us\":%s,"
				    "\"submit_sleeps_per_call\":%s}\n",
				    workload_json(o).c_str(), json_string(row.engine).c_str(), number(row.iops).c_str(),
				    number(row.iops_min).c_str(), number(row.iops_max).c_str(), number(ratio).c_str(),
				    json_string(best_engine).c_str(), number(row.cpu).c_str(), number(row.busy).c_str(),
				    number(row.submit_p99).c_str(), number(row.lat_p99).c_str(),
				    number(row.sleeps_per_submit).c_str());
	}
}

std::map<std::string, std::int64_t> delta(const std::map<std::string, std::int64_t>& before,
					  const std::map<std::string, std::int64_t>& after)
{
	std::map<std::string, std::int64_t> d;
	for (const auto& [name, value] : after) {
		const auto it = before.find(name);
		// Gauges stay as they are; counters become deltas.
		d[name] = name == "in_flight" || name == "nr_events" || name == "pos" || name == "flags" ||
				  name == "mnt_id" || name == "ino" || it == before.end()
			? value
			: value - it->second;
	}
	return d;
}

Result run_one(const Options& o, const Target& t, Offsets& offsets, const std::string& engine, unsigned rep,
	       double runtime)
{
	Workload w;
	w.fd = t.fd;
	w.write = o.write;
	w.block_bytes = o.block_bytes;
	w.queue_depth = o.queue_depth;
	w.threads = o.threads;
	w.runtime_ns = static_cast<std::int64_t>(runtime * 1e9);
	w.max_ops = o.ops;
	w.offsets = &offsets;

	// Set up before the cache is prepared and the clocks start: setting
	// up a context is not what is measured.
	const std::int64_t t_setup = now_ns();
	std::unique_ptr<AsyncEngine> async;
	if (engine == "kaio")
		async = make_kaio(o.queue_depth, o.reap_syscall);
	else if (engine == "libaio")
		async = make_libaio(o.queue_depth);
	else if (engine == "io_uring")
		async = make_io_uring(o.queue_depth);
	else if (engine == "posixaio")
		async = make_posix_aio(o.queue_depth);
	else if (engine == "kaio-posix")
		async = make_kaio_posix(o.queue_depth);

	prepare_cache(o, t);
	std::map<std::string, std::int64_t> counters_before;
	if (async)
		counters_before = async->counters();
	const CpuClock before = CpuClock::now();
	Samples samples = async ? run_async(*async, w) : run_psync(w);
	const CpuClock after = CpuClock::now();
	if (async)
		samples.counters = delta(counters_before, async->counters());
	const std::int64_t t_run = now_ns() - samples.elapsed_ns;
	async.reset();
	Result r = summarise(engine, rep, samples, before, after);
	// Where a row's wall time goes besides the runs themselves.
	r.setup_s = static_cast<double>(t_run - t_setup) / 1e9;
	r.teardown_s = static_cast<double>(now_ns() - t_run) / 1e9 - r.elapsed_s;
	return r;
}

} // namespace

int main(int argc, char** argv)
{
	const Options o = parse_options(argc, argv);
	try {
		const Target target = open_target(o);
		if (target.size < o.block_bytes)
			usage(o.file + " is smaller than one block");
		std::printf("# kaio-bench %s: %s %s bs=%" PRIu64 " qd=%u%s %s cache=%s, %" PRIu64
			    " MiB, %s%.1f s per run, %u repetitions\n",
			    o.label.c_str(), o.file.c_str(), o.write ? "write" : "read", o.block_bytes, o.queue_depth,
			    o.direct ? " O_DIRECT" : " buffered", o.random ? "random" : "sequential",
			    cache_name(*o.cache), target.size >> 20, *o.once ? "each block once, at most " : "",
			    o.runtime, o.repeat);
		print_header();
		std::fflush(stdout);
		std::vector<Result> results;
		bool failed = false;
		// Not reported: the first run of a code path pays for things no
		// later run does (under TCG, translating it), and would be charged
		// to whichever engine came first.
		// The same offsets, in the same order, for every run (a shuffle of
		// a large device takes a while under TCG: made once).
		Offsets offsets(target.size, o.block_bytes, o.random, o.seed, *o.once);
		if (o.warmup > 0) {
			for (const std::string& engine : o.engines) {
				offsets.rewind();
				const Result r = run_one(o, target, offsets, engine, 0, o.warmup);
				failed |= r.errors > 0 || r.ops == 0;
				if (r.errors)
					std::printf("# warm-up of %s: %" PRIu64 " errors, first: %s\n", engine.c_str(),
						    r.errors, r.first_error.c_str());
			}
		}
		for (unsigned rep = 0; rep < o.repeat; rep++) {
			for (std::size_t i = 0; i < o.engines.size(); i++) {
				const std::string& engine = o.engines[(i + rep) % o.engines.size()];
				offsets.rewind();
				Result r = run_one(o, target, offsets, engine, rep + 1, o.runtime);
				print_row(r);
				if (o.json)
					print_json(o, r);
				std::fflush(stdout);
				failed |= r.errors > 0 || r.ops == 0;
				results.push_back(std::move(r));
			}
		}
		print_summary(o, results);
		::close(target.fd);
		return failed ? 1 : 0;
	} catch (const std::exception& error) {
		std::fprintf(stderr, "kaio-bench: %s\n", error.what());
		return 1;
	}
}
