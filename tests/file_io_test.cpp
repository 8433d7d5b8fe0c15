// SPDX-License-Identifier: GPL-2.0
// Reads and writes on the guest's file systems and block devices, checked
// against plain pread/pwrite.
#include "helpers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <ostream>
#include <cstring>
#include <vector>

namespace {

using kaio_test::AlignedBuffer;
using kaio_test::fill_pattern;
using kaio_test::pattern_mismatch;
using kaio_test::TempFile;

struct FileSystemCase {
	const char* env;	// the guest runner's variable naming the mount
	const char* name;	// for test names
	bool direct;		// O_DIRECT
};

// GoogleTest prints parameters of failed cases; the name says it all.
void PrintTo(const FileSystemCase& param, std::ostream* out)
{
	*out << param.name;
}

// Four requests of 16 KiB: enough to cross pages and blocks, small for TCG.
constexpr std::size_t request_bytes = 16 * 1024;
constexpr std::size_t request_count = 4;
constexpr std::size_t file_bytes = request_bytes * request_count;

class FileRoundTrip : public kaio_test::DeviceTest,
		      public ::testing::WithParamInterface<FileSystemCase> {
protected:
	void SetUp() override
	{
		kaio_test::DeviceTest::SetUp();
		if (IsSkipped())
			return;
		dir_ = kaio_test::guest_env(GetParam().env);
		if (!dir_)
			GTEST_SKIP() << "$" << GetParam().env << " is not set";
	}

	int open_flags() const { return GetParam().direct ? O_DIRECT : 0; }
	std::optional<std::string> dir_;
};

// Submits one request per 16 KiB slice of `buffer` and checks each moved
// its whole slice.
void transfer_in_slices(kaio::Context& context, int fd, std::span<std::byte> buffer, bool write)
{
	std::array<iocb, request_count> requests{};
	std::array<iocb*, request_count> pointers{};
	for (std::size_t i = 0; i < request_count; i++) {
		const auto slice = buffer.subspan(i * request_bytes, request_bytes);
		requests[i] = write ? kaio::make_write(fd, slice, i * request_bytes)
				    : kaio::make_read(fd, slice, i * request_bytes);
		pointers[i] = &requests[i];
	}
	ASSERT_EQ(context.submit(pointers), request_count);
	for (const io_event& event : kaio_test::wait_for_events(context, request_count))
		EXPECT_EQ(event.res, static_cast<std::int64_t>(request_bytes))
			<< kaio::event_error(event).message();
}

TEST_P(FileRoundTrip, KaioWriteIsWhatPreadReturns)
{
	TempFile file(*dir_, open_flags());
	kaio::Context context(16);
	AlignedBuffer written(file_bytes);
	fill_pattern(written.bytes(), 1, 0);
	ASSERT_NO_FATAL_FAILURE(transfer_in_slices(context, file.fd(), written.bytes(), true));

	AlignedBuffer read_back(file_bytes);
	ASSERT_NO_FATAL_FAILURE(kaio_test::read_all(file.fd(), read_back.bytes(), 0));
	EXPECT_EQ(pattern_mismatch(read_back.bytes(), 1, 0), std::nullopt);
}

TEST_P(FileRoundTrip, KaioReadReturnsWhatPwriteWrote)
{
	TempFile file(*dir_, open_flags());
	AlignedBuffer written(file_bytes);
	fill_pattern(written.bytes(), 2, 0);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), written.bytes(), 0));

	kaio::Context context(16);
	AlignedBuffer read_back(file_bytes);
	ASSERT_NO_FATAL_FAILURE(transfer_in_slices(context, file.fd(), read_back.bytes(), false));
	EXPECT_EQ(pattern_mismatch(read_back.bytes(), 2, 0), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(GuestFileSystems, FileRoundTrip,
			 ::testing::Values(FileSystemCase{"KAIO_EXT4_DIR", "ext4_buffered", false},
					   FileSystemCase{"KAIO_EXT4_DIR", "ext4_direct", true},
					   FileSystemCase{"KAIO_XFS_DIR", "xfs_buffered", false},
					   FileSystemCase{"KAIO_XFS_DIR", "xfs_direct", true}),
			 [](const ::testing::TestParamInfo<FileSystemCase>& info) {
				 return std::string(info.param.name);
			 });

// Tests on $KAIO_EXT4_DIR.
class Ext4File : public kaio_test::DeviceTest {
protected:
	void SetUp() override
	{
		kaio_test::DeviceTest::SetUp();
		if (IsSkipped())
			return;
		dir_ = kaio_test::guest_env("KAIO_EXT4_DIR");
		if (!dir_)
			GTEST_SKIP() << "$KAIO_EXT4_DIR is not set";
	}
	std::optional<std::string> dir_;
};

using VectoredIo = Ext4File;

TEST_F(VectoredIo, WritevThenReadvRoundTripsUnevenBuffers)
{
	TempFile file(*dir_);
	kaio::Context context(8);
	// Uneven sizes so that iovec boundaries fall inside pages.
	std::vector<std::byte> first(1000), second(5000), third(123);
	fill_pattern(first, 3, 0);
	fill_pattern(second, 3, first.size());
	fill_pattern(third, 3, first.size() + second.size());
	const std::array<iovec, 3> gather{{{first.data(), first.size()},
					   {second.data(), second.size()},
					   {third.data(), third.size()}}};
	const std::size_t total = first.size() + second.size() + third.size();

	iocb write = kaio::make_writev(file.fd(), gather, 0);
	iocb* const write_pointers[] = {&write};
	ASSERT_EQ(context.submit(write_pointers), 1u);
	auto events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	ASSERT_EQ(events[0].res, static_cast<std::int64_t>(total));

	std::vector<std::byte> whole(total);
	ASSERT_NO_FATAL_FAILURE(kaio_test::read_all(file.fd(), whole, 0));
	EXPECT_EQ(pattern_mismatch(whole, 3, 0), std::nullopt) << "pread after writev";

	std::vector<std::byte> a(4000), b(2000), c(123);
	const std::array<iovec, 3> scatter{{{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}}};
	iocb read = kaio::make_readv(file.fd(), scatter, 0);
	iocb* const read_pointers[] = {&read};
	ASSERT_EQ(context.submit(read_pointers), 1u);
	events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	ASSERT_EQ(events[0].res, static_cast<std::int64_t>(total));
	EXPECT_EQ(pattern_mismatch(a, 3, 0), std::nullopt);
	EXPECT_EQ(pattern_mismatch(b, 3, a.size()), std::nullopt);
	EXPECT_EQ(pattern_mismatch(c, 3, a.size() + b.size()), std::nullopt);
}

using Sync = Ext4File;

void expect_sync_completes(kaio::Context& context, iocb request)
{
	iocb* const pointers[] = {&request};
	ASSERT_EQ(context.submit(pointers), 1u);
	const auto events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_EQ(events[0].res, 0) << kaio::event_error(events[0]).message();
}

TEST_F(Sync, FsyncOfAWrittenFileCompletesWithZero)
{
	TempFile file(*dir_);
	std::vector<std::byte> data(8192);
	fill_pattern(data, 4, 0);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), data, 0));
	kaio::Context context(8);
	expect_sync_completes(context, kaio::make_fsync(file.fd()));
}

TEST_F(Sync, FdsyncOfAWrittenFileCompletesWithZero)
{
	TempFile file(*dir_);
	std::vector<std::byte> data(8192);
	fill_pattern(data, 5, 0);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), data, 0));
	kaio::Context context(8);
	expect_sync_completes(context, kaio::make_fdsync(file.fd()));
}

// Tests on $KAIO_ERROR_DEV, where every I/O fails with EIO.
class FailingDevice : public kaio_test::DeviceTest {
protected:
	void SetUp() override
	{
		kaio_test::DeviceTest::SetUp();
		if (IsSkipped())
			return;
		path_ = kaio_test::guest_env("KAIO_ERROR_DEV");
		if (!path_)
			GTEST_SKIP() << "$KAIO_ERROR_DEV is not set";
	}

	void expect_read_fails_with_eio(int extra_open_flags)
	{
		const kaio_test::ScopedFd device(
			::open(path_->c_str(), O_RDONLY | O_CLOEXEC | extra_open_flags));
		ASSERT_GE(device.get(), 0) << "open " << *path_ << ": " << std::strerror(errno);
		kaio::Context context(8);
		AlignedBuffer buffer(4096);
		iocb request = kaio::make_read(device.get(), buffer.bytes(), 0);
		iocb* const pointers[] = {&request};
		std::error_code ec;
		const std::size_t queued = context.submit(pointers, ec);
		if (queued == 1) {
			const auto events = kaio_test::wait_for_events(context, 1);
			ASSERT_EQ(events.size(), 1u);
			EXPECT_EQ(kaio::event_error(events[0]), std::errc::io_error)
				<< "res " << events[0].res;
		} else {
			ADD_FAILURE() << "submit failed: " << ec.message()
				      << " (io_submit reports I/O errors in the event)";
		}
	}

	std::optional<std::string> path_;
};

TEST_F(FailingDevice, DirectReadCompletesWithEio)
{
	expect_read_fails_with_eio(O_DIRECT);
}

TEST_F(FailingDevice, BufferedReadCompletesWithEio)
{
	// The read error surfaces as a page-wait wake on a folio that is not
	// uptodate; only the module's blocking fallback can report -EIO.
	expect_read_fails_with_eio(0);
}

} // namespace
