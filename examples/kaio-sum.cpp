// SPDX-License-Identifier: GPL-2.0
// kaio-sum: the CRC32C of a file, read with N reads in flight. An example of
// libkaio++'s coroutines.
//
//   kaio-sum FILE [--depth N] [--block-size BYTES] [--direct] [--sequential]
//
// N worker tasks (kaio::Task<void>, spawned on a kaio::IoLoop) each take the
// next block number, `co_await loop.read(...)` it and compute the block's
// CRC32C. The blocks finish in any order; their CRCs are then combined in
// file order (crc32c_combine, as zlib's crc32_combine), which gives exactly
// the CRC32C of the whole file. --sequential computes the same value with
// plain read(2) in one pass, as a reference.
//
// Prints "CRC32C SIZE FILE" (CRC32C as 8 hex digits, SIZE in bytes) and
// exits 0, or an error message and exits 1.
#include <kaio/kaio.hpp>
#include <kaio_cli/options.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr std::size_t direct_alignment = 4096;

// ---- CRC32C (Castagnoli, reflected polynomial 0x82f63b78) ------------------

constexpr std::uint32_t crc32c_poly = 0x82f63b78;

// Slicing-by-8 tables: table[0] is the classic byte table.
struct Crc32cTables {
	std::array<std::array<std::uint32_t, 256>, 8> table{};
	constexpr Crc32cTables()
	{
		for (std::uint32_t n = 0; n < 256; n++) {
			std::uint32_t crc = n;
			for (int k = 0; k < 8; k++)
				crc = crc & 1 ? (crc >> 1) ^ crc32c_poly : crc >> 1;
			table[0][n] = crc;
		}
		for (std::uint32_t n = 0; n < 256; n++)
			for (std::size_t k = 1; k < 8; k++)
				table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
	}
};
constexpr Crc32cTables tables;

// Continues `crc` (a finished CRC32C, 0 for none yet) over `data`.
std::uint32_t crc32c(std::uint32_t crc, std::span<const std::byte> data)
{
	const auto& t = tables.table;
	crc = ~crc;
	const auto* p = reinterpret_cast<const unsigned char*>(data.data());
	std::size_t n = data.size();
	while (n >= 8) {
		std::uint32_t low;
		std::uint32_t high;
		std::memcpy(&low, p, 4);
		std::memcpy(&high, p + 4, 4);
		low ^= crc;
		crc = t[7][low & 0xff] ^ t[6][(low >> 8) & 0xff] ^ t[5][(low >> 16) & 0xff] ^
		      t[4][low >> 24] ^ t[3][high & 0xff] ^ t[2][(high >> 8) & 0xff] ^
		      t[1][(high >> 16) & 0xff] ^ t[0][high >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

// a(x) * b(x) modulo the polynomial (bit-reflected, as zlib's multmodp).
std::uint32_t multiply_mod_poly(std::uint32_t a, std::uint32_t b)
{
	std::uint32_t m = 1u << 31;
	std::uint32_t product = 0;
	for (;;) {
		if (a & m) {
			product ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ crc32c_poly : b >> 1;
	}
	return product;
}

// x^(8 * bytes) modulo the polynomial: what appending `bytes` zero bytes
// multiplies a CRC by.
std::uint32_t x_to_8n_mod_poly(std::uint64_t bytes)
{
	// power[k] = x^(2^k); x^1 is bit 30 in the reflected representation.
	// k reaches 3 + 63: bytes has 64 bits, scaled by 8.
	static const auto power = [] {
		std::array<std::uint32_t, 67> p{};
		p[0] = 1u << 30;
		for (std::size_t k = 1; k < p.size(); k++)
			p[k] = multiply_mod_poly(p[k - 1], p[k - 1]);
		return p;
	}();
	std::uint32_t result = 1u << 31; // x^0
	unsigned k = 3;			 // 8 * bytes = bytes << 3
	for (; bytes; bytes >>= 1, k++)
		if (bytes & 1)
			result = multiply_mod_poly(power[k], result);
	return result;
}

// The CRC32C of A followed by B, from crc(A), crc(B) and B's length.
std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t length_b)
{
	return multiply_mod_poly(x_to_8n_mod_poly(length_b), crc_a) ^ crc_b;
}

// ---- options --------------------------------------------------------------

struct Options {
	std::string path;
	std::size_t depth = 8;
	std::size_t block_size = 256 * 1024;
	bool direct = false;
	bool sequential = false;
};

Options parse_options(int argc, char** argv)
{
	Options options;
	const kaio_cli::Parser parser(
		{.name = "kaio-sum",
		 .synopsis = "[OPTION]... FILE",
		 .about = "Print \"CRC32C SIZE FILE\": the CRC32C of FILE, read with N reads in flight\n"
			  "by coroutines on a kaio::IoLoop.",
		 .epilogue = "BYTES may end in k, m or g; with --direct a multiple of 4096."},
		{kaio_cli::number("depth", 0, "N", "reads in flight, 1..4096 (default 8)", options.depth,
				  {.min = 1, .max = 4096, .suffixes = true}),
		 kaio_cli::number("block-size", 0, "BYTES", "bytes per read (default 256k)", options.block_size,
				  {.min = 1, .suffixes = true}),
		 kaio_cli::flag("direct", 0, "open FILE with O_DIRECT", options.direct),
		 kaio_cli::flag("sequential", 0, "the same sum with plain read(2), one block at a time",
				options.sequential)});
	const std::vector<std::string> paths = parser.parse_or_exit(argc, argv);
	if (paths.empty())
		parser.fail("need FILE");
	if (paths.size() > 1)
		parser.fail("one FILE only");
	if (options.direct && options.block_size % direct_alignment)
		parser.fail("--block-size must be a multiple of 4096 with --direct");
	options.path = paths[0];
	return options;
}

std::size_t round_up(std::size_t value, std::size_t alignment)
{
	return (value + alignment - 1) / alignment * alignment;
}

struct FreeAligned {
	void operator()(std::byte* memory) const noexcept { std::free(memory); }
};

using AlignedBytes = std::unique_ptr<std::byte, FreeAligned>;

AlignedBytes allocate(std::size_t bytes)
{
	return AlignedBytes(static_cast<std::byte*>(std::aligned_alloc(direct_alignment,
								       round_up(bytes, direct_alignment))));
}

// ---- the sequential reference ---------------------------------------------

bool sum_sequential(int fd, std::size_t block_size, std::uint32_t& crc, std::uint64_t& size)
{
	AlignedBytes buffer = allocate(block_size);
	crc = 0;
	size = 0;
	for (;;) {
		const ssize_t got = ::read(fd, buffer.get(), block_size);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			std::fprintf(stderr, "kaio-sum: read: %s\n", std::strerror(errno));
			return false;
		}
		if (got == 0)
			return true;
		crc = crc32c(crc, {buffer.get(), static_cast<std::size_t>(got)});
		size += static_cast<std::uint64_t>(got);
	}
}

// ---- the parallel sum: coroutines on a kaio::IoLoop ------------------------

struct Sum {
	int fd = -1;
	std::uint64_t size = 0;
	std::size_t block_size = 0;
	bool direct = false;
	std::uint64_t next_block = 0;
	std::vector<std::uint32_t> block_crcs;
	std::error_code error;
	std::string error_where;

	std::uint64_t blocks() const { return block_crcs.size(); }
	void fail(std::error_code ec, std::string where)
	{
		if (!error) {
			error = ec;
			error_where = std::move(where);
		}
	}
};

// One of the N workers: reads whole blocks (continuing short reads) until
// none is left. Spawned tasks must not throw, so errors go through the
// error_code overload of co_await loop.read().
kaio::Task<void> worker(kaio::IoLoop& loop, Sum& sum, std::span<std::byte> buffer)
{
	while (!sum.error && sum.next_block < sum.blocks()) {
		const std::uint64_t block = sum.next_block++;
		const std::uint64_t offset = block * sum.block_size;
		const auto length = static_cast<std::size_t>(
			std::min<std::uint64_t>(sum.block_size, sum.size - offset));
		// O_DIRECT reads whole aligned blocks; at EOF the read is short.
		const std::size_t request = sum.direct ? round_up(length, direct_alignment) : length;
		std::size_t done = 0;
		while (done < length) {
			std::error_code ec;
			const std::size_t got =
				co_await loop.read(sum.fd, buffer.subspan(done, request - done), offset + done, ec);
			if (ec) {
				sum.fail(ec, "read at offset " + std::to_string(offset + done));
				co_return;
			}
			if (got == 0) {
				sum.fail(std::make_error_code(std::errc::io_error),
					 "end of file at offset " + std::to_string(offset + done) +
						 " (file changed size?)");
				co_return;
			}
			done += got;
		}
		sum.block_crcs[block] = crc32c(0, buffer.first(length));
	}
}

bool sum_parallel(int fd, const Options& options, std::uint32_t& crc, std::uint64_t& size)
{
	// lseek rather than fstat: a block device's st_size is 0.
	const off_t end = ::lseek(fd, 0, SEEK_END);
	if (end < 0) {
		std::fprintf(stderr, "kaio-sum: lseek: %s\n", std::strerror(errno));
		return false;
	}
	Sum sum;
	sum.fd = fd;
	sum.size = static_cast<std::uint64_t>(end);
	sum.block_size = options.block_size;
	sum.direct = options.direct;
	sum.block_crcs.resize(static_cast<std::size_t>((sum.size + sum.block_size - 1) / sum.block_size));

	const std::size_t depth = std::max<std::size_t>(1, std::min<std::size_t>(options.depth, sum.blocks()));
	std::error_code ec;
	kaio::IoLoop loop(static_cast<std::uint32_t>(depth), 0, ec);
	if (ec) {
		std::fprintf(stderr, "kaio-sum: setting up a kaio context: %s\n", ec.message().c_str());
		return false;
	}
	const std::size_t buffer_bytes = round_up(options.block_size, direct_alignment);
	AlignedBytes memory = allocate(buffer_bytes * depth);
	if (!memory) {
		std::fprintf(stderr, "kaio-sum: out of memory\n");
		return false;
	}
	for (std::size_t i = 0; i < depth && !ec; i++)
		loop.spawn(worker(loop, sum, {memory.get() + i * buffer_bytes, buffer_bytes}), ec);
	// Every spawned worker's first read is queued now: run() submits them
	// in one batch, then resumes each worker as its read completes.
	if (!ec)
		loop.run(ec);
	if (ec) {
		std::fprintf(stderr, "kaio-sum: running the loop: %s\n", ec.message().c_str());
		return false;
	}
	if (sum.error) {
		std::fprintf(stderr, "kaio-sum: %s: %s\n", sum.error_where.c_str(), sum.error.message().c_str());
		return false;
	}

	// Deterministic whatever order the blocks finished in: file order.
	crc = 0;
	for (std::uint64_t block = 0; block < sum.blocks(); block++) {
		const std::uint64_t length = std::min<std::uint64_t>(sum.block_size, sum.size - block * sum.block_size);
		crc = crc32c_combine(crc, sum.block_crcs[block], length);
	}
	size = sum.size;
	return true;
}

} // namespace

int main(int argc, char** argv)
{
	const Options options = parse_options(argc, argv);
	const int fd = ::open(options.path.c_str(), O_RDONLY | O_CLOEXEC | (options.direct ? O_DIRECT : 0));
	if (fd < 0) {
		std::fprintf(stderr, "kaio-sum: %s: %s\n", options.path.c_str(), std::strerror(errno));
		return 1;
	}
	std::uint32_t crc = 0;
	std::uint64_t size = 0;
	const bool ok = options.sequential ? sum_sequential(fd, options.block_size, crc, size)
					   : sum_parallel(fd, options, crc, size);
	::close(fd);
	if (!ok)
		return 1;
	std::printf("%08x %llu %s\n", crc, static_cast<unsigned long long>(size), options.path.c_str());
	return 0;
}
