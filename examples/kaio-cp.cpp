// SPDX-License-Identifier: GPL-2.0
// kaio-cp: copy a file with N reads in flight, writing each block as soon as
// its read lands. An example of libkaio++'s completion callbacks.
//
//   kaio-cp SRC DST [--depth N] [--direct] [--block-size BYTES]
//
// Each of the N slots is a kaio::Operation with a plain function pointer
// as its completion (asio style: nothing is allocated per request, the
// slot finds itself from the event). A slot reads a block, then writes
// it to the same offset, then takes the next block, until the file is done;
// short transfers are continued where they stopped. Context::run() reaps
// completions (from the mapped ring when it can) and runs the callbacks
// until no slot is busy. At the end DST is fsync()ed through kaio too.
//
// --direct opens both files with O_DIRECT: buffers are page-aligned and
// every request is a multiple of 4 KiB, so the last block is written
// padded to 4 KiB and DST is truncated to SRC's size afterwards.
//
// Prints "kaio-cp: copied BYTES bytes in BLOCKS blocks (...)" and exits 0,
// or an error message and exits 1.
#include <kaio/kaio.hpp>
#include <kaio_cli/options.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr std::size_t direct_alignment = 4096;

struct Options {
	std::string source;
	std::string destination;
	std::size_t depth = 8;
	std::size_t block_size = 128 * 1024;
	bool direct = false;
};

Options parse_options(int argc, char** argv)
{
	Options options;
	const kaio_cli::Parser parser(
		{.name = "kaio-cp",
		 .synopsis = "[OPTION]... SRC DST",
		 .about = "Copy SRC to DST with N reads in flight, writing each block as soon as its\n"
			  "read lands (libkaio++'s completion callbacks), then fsync DST.",
		 .epilogue = "BYTES may end in k, m or g; with --direct a multiple of 4096."},
		{kaio_cli::number("depth", 0, "N", "requests in flight, 1..4096 (default 8)", options.depth,
				  {.min = 1, .max = 4096, .suffixes = true}),
		 kaio_cli::number("block-size", 0, "BYTES", "bytes per request (default 128k)", options.block_size,
				  {.min = 1, .suffixes = true}),
		 kaio_cli::flag("direct", 0, "open both files with O_DIRECT", options.direct)});
	const std::vector<std::string> paths = parser.parse_or_exit(argc, argv);
	if (paths.size() != 2)
		parser.fail("need SRC and DST");
	if (options.direct && options.block_size % direct_alignment)
		parser.fail("--block-size must be a multiple of 4096 with --direct");
	options.source = paths[0];
	options.destination = paths[1];
	return options;
}

std::size_t round_up(std::size_t value, std::size_t alignment)
{
	return (value + alignment - 1) / alignment * alignment;
}

struct Copy;

// One request slot: a read, then the write of the same block.
struct Slot : kaio::Operation {
	Copy* copy = nullptr;
	std::byte* buffer = nullptr;
	std::uint64_t offset = 0;	// of the block in both files
	std::size_t length = 0;		// bytes of the block (less at EOF)
	std::size_t transfer = 0;	// bytes the current phase moves
	std::size_t done = 0;		// of them, moved so far
	bool writing = false;
};

struct Copy {
	Options options;
	int source = -1;
	int destination = -1;
	std::uint64_t size = 0;
	std::uint64_t next_offset = 0;
	std::uint64_t copied = 0;
	std::uint64_t blocks = 0;
	std::error_code error;
	std::string error_where;
	kaio::Context context;

	void fail(std::error_code ec, std::string where)
	{
		if (!error) {
			error = ec;
			error_where = std::move(where);
		}
	}
};

void on_complete(kaio::Operation& operation, const io_event& event) noexcept;

// (Re)submits the slot's current phase from where it stopped.
void submit_phase(Slot& slot)
{
	Copy& copy = *slot.copy;
	const std::size_t left = slot.transfer - slot.done;
	const std::span buffer(slot.buffer + slot.done, left);
	const std::uint64_t offset = slot.offset + slot.done;
	slot.prepare(slot.writing ? kaio::make_write(copy.destination, buffer, offset)
				  : kaio::make_read(copy.source, buffer, offset),
		     &on_complete);
	std::error_code ec;
	copy.context.submit(slot, ec);
	if (ec)
		copy.fail(ec, slot.writing ? "submitting a write" : "submitting a read");
}

// Gives the slot the next block to copy, if there is one and all is well.
void start_next_block(Slot& slot)
{
	Copy& copy = *slot.copy;
	if (copy.error || copy.next_offset >= copy.size)
		return;
	slot.offset = copy.next_offset;
	slot.length = static_cast<std::size_t>(
		std::min<std::uint64_t>(copy.options.block_size, copy.size - slot.offset));
	copy.next_offset += slot.length;
	slot.writing = false;
	slot.done = 0;
	// O_DIRECT reads whole aligned blocks; at EOF the read is just short.
	slot.transfer = copy.options.direct ? round_up(slot.length, direct_alignment) : slot.length;
	submit_phase(slot);
}

void on_complete(kaio::Operation& operation, const io_event& event) noexcept
{
	Slot& slot = static_cast<Slot&>(operation);
	Copy& copy = *slot.copy;
	const char* what = slot.writing ? "write" : "read";
	if (const std::error_code ec = kaio::event_error(event)) {
		copy.fail(ec, std::string(what) + " at offset " + std::to_string(slot.offset + slot.done));
		return;
	}
	slot.done += kaio::event_bytes(event);
	if (!slot.writing && slot.done >= slot.length) {
		// The block is in: write it. With O_DIRECT the write covers whole
		// 4 KiB pages; what lies past the data is zeroed (DST is
		// truncated to size at the end).
		slot.writing = true;
		slot.transfer = slot.copy->options.direct ? round_up(slot.length, direct_alignment) : slot.length;
		std::memset(slot.buffer + slot.length, 0, slot.transfer - slot.length);
		slot.done = 0;
		submit_phase(slot);
		return;
	}
	if (slot.writing && slot.done >= slot.transfer) {
		copy.copied += slot.length;
		copy.blocks++;
		start_next_block(slot);
		return;
	}
	if (kaio::event_bytes(event) == 0) {
		copy.fail(std::make_error_code(std::errc::io_error),
			  std::string(what) + " made no progress at offset " +
				  std::to_string(slot.offset + slot.done) + " (file changed size?)");
		return;
	}
	// Short transfer: carry on from where it stopped.
	submit_phase(slot);
}

struct FreeAligned {
	void operator()(std::byte* memory) const noexcept { std::free(memory); }
};

int copy_file(const Options& options)
{
	Copy copy;
	copy.options = options;
	const int direct = options.direct ? O_DIRECT : 0;
	copy.source = ::open(options.source.c_str(), O_RDONLY | O_CLOEXEC | direct);
	if (copy.source < 0) {
		std::fprintf(stderr, "kaio-cp: %s: %s\n", options.source.c_str(), std::strerror(errno));
		return 1;
	}
	// lseek rather than fstat: a block device's st_size is 0.
	const off_t end = ::lseek(copy.source, 0, SEEK_END);
	if (end < 0) {
		std::fprintf(stderr, "kaio-cp: %s: %s\n", options.source.c_str(), std::strerror(errno));
		return 1;
	}
	copy.size = static_cast<std::uint64_t>(end);
	copy.destination = ::open(options.destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | direct,
				  0644);
	if (copy.destination < 0) {
		std::fprintf(stderr, "kaio-cp: %s: %s\n", options.destination.c_str(), std::strerror(errno));
		return 1;
	}

	const std::size_t blocks_total =
		static_cast<std::size_t>((copy.size + options.block_size - 1) / options.block_size);
	const std::size_t depth = std::max<std::size_t>(1, std::min(options.depth, blocks_total));
	std::error_code ec;
	// One more slot's worth of capacity for the final fsync.
	copy.context = kaio::Context(static_cast<std::uint32_t>(depth + 1), 0, ec);
	if (ec) {
		std::fprintf(stderr, "kaio-cp: setting up a kaio context: %s\n", ec.message().c_str());
		return 1;
	}

	const std::size_t buffer_bytes = round_up(options.block_size, direct_alignment);
	std::unique_ptr<std::byte, FreeAligned> memory(
		static_cast<std::byte*>(std::aligned_alloc(direct_alignment, buffer_bytes * depth)));
	if (!memory) {
		std::fprintf(stderr, "kaio-cp: out of memory\n");
		return 1;
	}
	std::vector<Slot> slots(depth);
	const auto start = std::chrono::steady_clock::now();
	for (std::size_t i = 0; i < depth; i++) {
		slots[i].copy = &copy;
		slots[i].buffer = memory.get() + i * buffer_bytes;
		start_next_block(slots[i]);
	}
	// Every completion either resubmits its slot or lets it go idle; run()
	// returns when none is in flight.
	copy.context.run(ec);
	if (ec)
		copy.fail(ec, "waiting for completions");

	if (!copy.error && options.direct && ::ftruncate(copy.destination, static_cast<off_t>(copy.size)) != 0)
		copy.fail({errno, std::system_category()}, "truncating the destination");
	if (!copy.error) {
		// A callable as the completion: kaio::Callback stores it in the
		// operation, still with nothing allocated.
		kaio::Callback sync(kaio::make_fsync(copy.destination), [&](const io_event& event) noexcept {
			if (const std::error_code sync_error = kaio::event_error(event))
				copy.fail(sync_error, "fsync");
		});
		copy.context.submit(sync, ec);
		if (ec)
			copy.fail(ec, "submitting fsync");
		else if (copy.context.run(ec); ec)
			copy.fail(ec, "waiting for fsync");
	}
	const auto elapsed = std::chrono::steady_clock::now() - start;
	::close(copy.source);
	if (::close(copy.destination) != 0)
		copy.fail({errno, std::system_category()}, "closing the destination");

	if (copy.error) {
		std::fprintf(stderr, "kaio-cp: %s: %s\n", copy.error_where.c_str(), copy.error.message().c_str());
		return 1;
	}
	if (copy.copied != copy.size) {
		std::fprintf(stderr, "kaio-cp: copied %llu of %llu bytes\n",
			     static_cast<unsigned long long>(copy.copied),
			     static_cast<unsigned long long>(copy.size));
		return 1;
	}
	std::printf("kaio-cp: copied %llu bytes in %llu blocks (block %zu, depth %zu%s) in %.1f ms\n",
		    static_cast<unsigned long long>(copy.copied), static_cast<unsigned long long>(copy.blocks),
		    options.block_size, depth, options.direct ? ", O_DIRECT" : "",
		    std::chrono::duration<double, std::milli>(elapsed).count());
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	return copy_file(parse_options(argc, argv));
}
