// SPDX-License-Identifier: GPL-2.0
// The one shared helper of the libkaio++ tests: fixtures that skip when the
// guest's device or file system is absent, temporary files, aligned buffers,
// the byte pattern, and waiting for a known number of events.
#ifndef KAIO_TESTS_HELPERS_HPP
#define KAIO_TESTS_HELPERS_HPP

#include <kaio/kaio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kaio_test {

using namespace std::chrono_literals;

// How long a test waits for completions it is sure will come: far above the
// guest's latency (TCG), far below the per-test watchdog.
inline constexpr std::chrono::seconds completion_deadline{10};

// O_DIRECT alignment that suits every device and file system of the guest.
inline constexpr std::size_t direct_alignment = 4096;

bool device_present();
// The value of an environment variable the guest runner sets, if set.
std::optional<std::string> guest_env(const char* name);

// Tests that need /dev/kaio: skipped, not passed, on a machine without it.
class DeviceTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		if (!device_present())
			GTEST_SKIP() << "/dev/kaio absent: the module is not loaded (run in the guest)";
	}
};

// Page-aligned zero-filled memory, for O_DIRECT.
class AlignedBuffer {
public:
	explicit AlignedBuffer(std::size_t size);
	std::span<std::byte> bytes() noexcept { return {memory_.get(), size_}; }
	std::span<const std::byte> bytes() const noexcept { return {memory_.get(), size_}; }
	std::size_t size() const noexcept { return size_; }

private:
	struct Free {
		void operator()(std::byte* memory) const noexcept;
	};
	std::unique_ptr<std::byte[], Free> memory_;
	std::size_t size_;
};

// An open file descriptor, closed on destruction.
class ScopedFd {
public:
	explicit ScopedFd(int fd) noexcept : fd_(fd) {}
	ScopedFd(ScopedFd&&) = delete;
	~ScopedFd();
	int get() const noexcept { return fd_; }

private:
	int fd_;
};

// A uniquely named file in `dir`, closed and unlinked on destruction.
class TempFile {
public:
	TempFile(const std::string& dir, int extra_open_flags = 0);
	TempFile(TempFile&&) = delete;
	~TempFile();
	int fd() const noexcept { return fd_; }
	const std::string& path() const noexcept { return path_; }

private:
	std::string path_;
	int fd_ = -1;
};

// The test pattern: the byte at absolute file offset `offset` for `seed`,
// so any misplaced or stale block shows up as a mismatch.
void fill_pattern(std::span<std::byte> buffer, std::uint64_t seed, std::uint64_t offset);
// Where `buffer` first differs from the pattern, or nullopt when it matches.
std::optional<std::size_t> pattern_mismatch(std::span<const std::byte> buffer,
					    std::uint64_t seed, std::uint64_t offset);

// Blocking pwrite/pread of the whole buffer, failing the test otherwise.
void write_all(int fd, std::span<const std::byte> buffer, std::uint64_t offset);
void read_all(int fd, std::span<std::byte> buffer, std::uint64_t offset);

// Waits (up to completion_deadline) for exactly `count` events.
std::vector<io_event> wait_for_events(kaio::Context& context, std::size_t count);

// Allocations made by the whole program so far (alloc_counter.cpp replaces
// the global operator new): the difference across a code path is what it
// allocated.
std::size_t allocations() noexcept;

// A pipe whose ends close on destruction: something to poll that is ready
// exactly when the test writes to it.
class Pipe {
public:
	Pipe();
	Pipe(Pipe&&) = delete;
	~Pipe();
	int read_end() const noexcept { return ends_[0]; }
	int write_end() const noexcept { return ends_[1]; }
	// Writes one byte, making the read end readable.
	void signal() const;

private:
	int ends_[2] = {-1, -1};
};

// Tests that need a directory on one of the guest's file systems: the
// parameter names the guest runner's variable (KAIO_EXT4_DIR, ...).
class FileSystemTest : public DeviceTest, public ::testing::WithParamInterface<const char*> {
protected:
	void SetUp() override;
	std::string dir_;
};

// "ext4" for "KAIO_EXT4_DIR": test name suffixes for FileSystemTest.
std::string file_system_name(const ::testing::TestParamInfo<const char*>& info);

} // namespace kaio_test

#endif
