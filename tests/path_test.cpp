// SPDX-License-Identifier: GPL-2.0
// KAIO_SETUP_RES2_PATH: io_event::res2 names the path a request took.
#include "helpers.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

namespace {

using kaio_test::DeviceTest;

io_event read_once(kaio::Context& context, int fd, std::span<std::byte> buffer)
{
	iocb request = kaio::make_read(fd, buffer, 0);
	iocb* const pointers[] = {&request};
	EXPECT_EQ(context.submit(pointers), 1u);
	const auto events = kaio_test::wait_for_events(context, 1);
	return events.empty() ? io_event{} : events[0];
}

class WarmExt4File : public DeviceTest {
protected:
	void SetUp() override
	{
		DeviceTest::SetUp();
		if (IsSkipped())
			return;
		const auto dir = kaio_test::guest_env("KAIO_EXT4_DIR");
		if (!dir)
			GTEST_SKIP() << "$KAIO_EXT4_DIR is not set";
		// O_NOATIME: a read of a file whose atime is due starts on a
		// worker (kaio_retry.c: read_with_atime_due_...), and the write
		// below makes it due.
		file_.emplace(*dir, O_NOATIME);
		std::vector<std::byte> data(16384);
		kaio_test::fill_pattern(data, 7, 0);
		ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file_->fd(), data, 0));
		// Read once so that every page is cached and uptodate.
		ASSERT_NO_FATAL_FAILURE(kaio_test::read_all(file_->fd(), data, 0));
	}
	std::optional<kaio_test::TempFile> file_;
};

using CompletionPath = WarmExt4File;

TEST_F(CompletionPath, PageCacheWarmBufferedReadReportsInline)
{
	kaio::Context context(8, KAIO_SETUP_RES2_PATH);
	std::vector<std::byte> buffer(4096);
	const io_event event = read_once(context, file_->fd(), buffer);
	EXPECT_EQ(event.res, 4096);
	EXPECT_EQ(kaio::completion_path(event), kaio::CompletionPath::inline_in_submit)
		<< "res2 " << event.res2;
}

TEST_F(CompletionPath, WithoutTheRes2FlagRes2IsZero)
{
	kaio::Context context(8);
	std::vector<std::byte> buffer(4096);
	const io_event event = read_once(context, file_->fd(), buffer);
	EXPECT_EQ(event.res, 4096);
	EXPECT_EQ(event.res2, 0);
}

TEST_F(CompletionPath, ColdBufferedReadWaitsForThePageWithoutABlockingWorker)
{
	// Evict the file and turn readahead off: the read must go to the device.
	ASSERT_EQ(::fdatasync(file_->fd()), 0);
	ASSERT_EQ(::posix_fadvise(file_->fd(), 0, 0, POSIX_FADV_DONTNEED), 0);
	ASSERT_EQ(::posix_fadvise(file_->fd(), 0, 0, POSIX_FADV_RANDOM), 0);

	kaio::Context context(8, KAIO_SETUP_RES2_PATH);
	std::vector<std::byte> buffer(4096);
	const io_event event = read_once(context, file_->fd(), buffer);
	EXPECT_EQ(event.res, 4096);
	EXPECT_EQ(kaio_test::pattern_mismatch(buffer, 7, 0), std::nullopt);
	// The page-wait retry is the point of kaio. Inline is allowed too: on
	// a slow guest the page may be uptodate before the wait is armed.
	const kaio::CompletionPath path = kaio::completion_path(event);
	EXPECT_TRUE(path == kaio::CompletionPath::retry ||
		    path == kaio::CompletionPath::inline_in_submit)
		<< "path " << kaio::to_string(path);
}

class RawDevice : public DeviceTest {
protected:
	void SetUp() override
	{
		DeviceTest::SetUp();
		if (IsSkipped())
			return;
		path_ = kaio_test::guest_env("KAIO_RAW_DEV");
		if (!path_)
			GTEST_SKIP() << "$KAIO_RAW_DEV is not set";
	}
	std::optional<std::string> path_;
};

TEST_F(RawDevice, DirectReadReportsTheAsyncPath)
{
	const kaio_test::ScopedFd device(::open(path_->c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
	ASSERT_GE(device.get(), 0) << "open " << *path_;
	kaio::Context context(8, KAIO_SETUP_RES2_PATH);
	kaio_test::AlignedBuffer buffer(4096);
	const io_event event = read_once(context, device.get(), buffer.bytes());
	EXPECT_EQ(event.res, 4096);
	EXPECT_EQ(kaio::completion_path(event), kaio::CompletionPath::async) << "res2 " << event.res2;
}

} // namespace
