// SPDX-License-Identifier: GPL-2.0
#include "helpers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace kaio_test {

bool device_present()
{
	return ::access(KAIO_DEVICE_PATH, F_OK) == 0;
}

std::optional<std::string> guest_env(const char* name)
{
	const char* value = std::getenv(name);
	if (!value || !*value)
		return std::nullopt;
	return std::string(value);
}

AlignedBuffer::AlignedBuffer(std::size_t size)
	: memory_(static_cast<std::byte*>(std::aligned_alloc(direct_alignment,
		  (size + direct_alignment - 1) / direct_alignment * direct_alignment))),
	  size_(size)
{
	if (!memory_)
		throw std::bad_alloc();
	std::memset(memory_.get(), 0, size_);
}

void AlignedBuffer::Free::operator()(std::byte* memory) const noexcept
{
	std::free(memory);
}

ScopedFd::~ScopedFd()
{
	if (fd_ >= 0)
		::close(fd_);
}

TempFile::TempFile(const std::string& dir, int extra_open_flags)
{
	static std::atomic<unsigned> serial{0};
	path_ = dir + "/kaio-cxx-test." + std::to_string(::getpid()) + "." +
		std::to_string(serial++);
	fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | extra_open_flags, 0600);
	if (fd_ < 0)
		throw std::system_error(errno, std::system_category(), "creating " + path_);
}

TempFile::~TempFile()
{
	::close(fd_);
	::unlink(path_.c_str());
}

namespace {

std::byte pattern_byte(std::uint64_t seed, std::uint64_t offset) noexcept
{
	// A multiplicative hash of (seed, offset): neighbouring bytes and
	// neighbouring blocks differ.
	std::uint64_t x = (offset + 1) * 0x9E3779B97F4A7C15ULL ^ (seed * 0xBF58476D1CE4E5B9ULL);
	x ^= x >> 29;
	return static_cast<std::byte>(x);
}

} // namespace

void fill_pattern(std::span<std::byte> buffer, std::uint64_t seed, std::uint64_t offset)
{
	for (std::size_t i = 0; i < buffer.size(); i++)
		buffer[i] = pattern_byte(seed, offset + i);
}

std::optional<std::size_t> pattern_mismatch(std::span<const std::byte> buffer,
					    std::uint64_t seed, std::uint64_t offset)
{
	for (std::size_t i = 0; i < buffer.size(); i++)
		if (buffer[i] != pattern_byte(seed, offset + i))
			return i;
	return std::nullopt;
}

void write_all(int fd, std::span<const std::byte> buffer, std::uint64_t offset)
{
	const ssize_t done = ::pwrite(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
	ASSERT_EQ(done, static_cast<ssize_t>(buffer.size())) << "pwrite: " << std::strerror(errno);
}

void read_all(int fd, std::span<std::byte> buffer, std::uint64_t offset)
{
	const ssize_t done = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
	ASSERT_EQ(done, static_cast<ssize_t>(buffer.size())) << "pread: " << std::strerror(errno);
}

std::vector<io_event> wait_for_events(kaio::Context& context, std::size_t count)
{
	std::vector<io_event> events(count);
	std::size_t got = 0;
	const auto deadline = std::chrono::steady_clock::now() + completion_deadline;
	while (got < count) {
		const auto left = deadline - std::chrono::steady_clock::now();
		if (left <= decltype(left)::zero())
			break;
		std::error_code ec;
		got += context.get_events(count - got, std::span(events).subspan(got), left, ec);
		if (ec && ec != std::errc::interrupted) {
			ADD_FAILURE() << "get_events: " << ec.message();
			break;
		}
	}
	EXPECT_EQ(got, count) << "events that arrived within " << completion_deadline.count() << " s";
	events.resize(got);
	return events;
}

Pipe::Pipe()
{
	if (::pipe2(ends_, O_CLOEXEC) != 0)
		throw std::system_error(errno, std::system_category(), "pipe2");
}

Pipe::~Pipe()
{
	::close(ends_[0]);
	::close(ends_[1]);
}

void Pipe::signal() const
{
	ASSERT_EQ(::write(ends_[1], "x", 1), 1) << std::strerror(errno);
}

void FileSystemTest::SetUp()
{
	DeviceTest::SetUp();
	if (IsSkipped())
		return;
	const auto dir = guest_env(GetParam());
	if (!dir)
		GTEST_SKIP() << "$" << GetParam() << " is not set";
	dir_ = *dir;
}

std::string file_system_name(const ::testing::TestParamInfo<const char*>& info)
{
	// KAIO_EXT4_DIR -> ext4
	std::string name = info.param;
	if (name.starts_with("KAIO_"))
		name.erase(0, 5);
	if (name.ends_with("_DIR"))
		name.erase(name.size() - 4);
	std::transform(name.begin(), name.end(), name.begin(),
		       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	return name;
}

} // namespace kaio_test
