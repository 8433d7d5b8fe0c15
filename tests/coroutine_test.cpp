// SPDX-License-Identifier: GPL-2.0
// C++20 coroutines: kaio::Task and kaio::IoLoop. Round trips on the guest's
// file systems, errors as std::system_error or std::error_code, tasks that
// outnumber the context's capacity, and no allocation per co_await.
#include "helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <numeric>
#include <vector>

namespace {

using namespace std::chrono_literals;
using kaio_test::AlignedBuffer;
using kaio_test::DeviceTest;

// ---- round trips -----------------------------------------------------------

constexpr std::size_t slice_bytes = 16 * 1024;
constexpr std::size_t slices = 4;

// Writes `data` in slices, all in flight together (one task per slice,
// spawned), then syncs: what a program does with several writers.
kaio::Task<void> write_slice(kaio::IoLoop& loop, int fd, std::span<const std::byte> data,
			     std::size_t index, std::size_t& written)
{
	const auto slice = data.subspan(index * slice_bytes, slice_bytes);
	written += co_await loop.write(fd, slice, index * slice_bytes);
}

kaio::Task<std::size_t> read_back(kaio::IoLoop& loop, int fd, std::span<std::byte> buffer)
{
	co_await loop.fdsync(fd);
	co_await loop.fsync(fd);
	std::size_t total = 0;
	// readv into two halves, then the rest with plain reads.
	const std::size_t half = slice_bytes / 2;
	const std::array<iovec, 2> halves = {iovec{buffer.data(), half},
					     iovec{buffer.data() + half, half}};
	total += co_await loop.readv(fd, halves, 0);
	for (std::size_t i = 1; i < slices; i++)
		total += co_await loop.read(fd, buffer.subspan(i * slice_bytes, slice_bytes), i * slice_bytes);
	co_return total;
}

struct RoundTripCase {
	const char* env;
	bool direct;
};

class CoroutineRoundTrip : public DeviceTest, public ::testing::WithParamInterface<RoundTripCase> {
protected:
	void SetUp() override
	{
		DeviceTest::SetUp();
		if (IsSkipped())
			return;
		dir_ = kaio_test::guest_env(GetParam().env);
		if (!dir_)
			GTEST_SKIP() << "$" << GetParam().env << " is not set";
	}
	std::optional<std::string> dir_;
};

TEST_P(CoroutineRoundTrip, WhatTasksWriteIsWhatTheyReadBack)
{
	kaio_test::TempFile file(*dir_, GetParam().direct ? O_DIRECT : 0);
	AlignedBuffer data(slices * slice_bytes);
	kaio_test::fill_pattern(data.bytes(), 21, 0);
	AlignedBuffer back(slices * slice_bytes);

	kaio::IoLoop loop(16);
	std::size_t written = 0;
	for (std::size_t i = 0; i < slices; i++)
		loop.spawn(write_slice(loop, file.fd(), data.bytes(), i, written));
	loop.run();
	EXPECT_EQ(written, data.size());
	EXPECT_EQ(loop.spawned(), 0u);

	EXPECT_EQ(loop.run(read_back(loop, file.fd(), back.bytes())), data.size());
	EXPECT_EQ(kaio_test::pattern_mismatch(back.bytes(), 21, 0), std::nullopt);
	EXPECT_EQ(loop.pending(), 0u);
}

std::string round_trip_name(const ::testing::TestParamInfo<RoundTripCase>& info)
{
	return kaio_test::file_system_name({info.param.env, info.index}) +
	       (info.param.direct ? "_direct" : "_buffered");
}

INSTANTIATE_TEST_SUITE_P(Fs, CoroutineRoundTrip,
			 ::testing::Values(RoundTripCase{"KAIO_EXT4_DIR", false},
					   RoundTripCase{"KAIO_EXT4_DIR", true},
					   RoundTripCase{"KAIO_XFS_DIR", false},
					   RoundTripCase{"KAIO_XFS_DIR", true}),
			 round_trip_name);

// ---- errors ----------------------------------------------------------------

using Coroutines = DeviceTest;

kaio::Task<std::size_t> read_once(kaio::IoLoop& loop, int fd, std::span<std::byte> buffer)
{
	co_return co_await loop.read(fd, buffer, 0);
}

TEST_F(Coroutines, RefusedRequestThrowsSystemErrorThroughTheTaskToRun)
{
	kaio_test::Pipe pipe;
	kaio::IoLoop loop(8);
	std::array<std::byte, 16> buffer{};
	try {
		// A pipe's write end is not open for reading: EBADF at submit.
		loop.run(read_once(loop, pipe.write_end(), buffer));
		ADD_FAILURE() << "no exception";
	} catch (const std::system_error& error) {
		EXPECT_EQ(error.code(), std::errc::bad_file_descriptor) << error.what();
	}
	EXPECT_EQ(loop.pending(), 0u);
}

TEST_F(Coroutines, ErrorCodeOverloadReportsInsteadOfThrowing)
{
	kaio_test::Pipe pipe;
	kaio::IoLoop loop(8);
	std::array<std::byte, 16> buffer{};
	auto task = [](kaio::IoLoop& loop, int fd, std::span<std::byte> buffer) -> kaio::Task<std::error_code> {
		std::error_code ec;
		const std::size_t bytes = co_await loop.read(fd, buffer, 0, ec);
		EXPECT_EQ(bytes, 0u);
		co_return ec;
	};
	EXPECT_EQ(loop.run(task(loop, pipe.write_end(), buffer)), std::errc::bad_file_descriptor);
}

TEST_F(Coroutines, DeviceErrorArrivesAsEioFromCoAwait)
{
	const auto error_device = kaio_test::guest_env("KAIO_ERROR_DEV");
	if (!error_device)
		GTEST_SKIP() << "$KAIO_ERROR_DEV is not set";
	const kaio_test::ScopedFd fd(::open(error_device->c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
	ASSERT_GE(fd.get(), 0) << "open " << *error_device;
	AlignedBuffer buffer(4096);
	kaio::IoLoop loop(8);
	try {
		loop.run(read_once(loop, fd.get(), buffer.bytes()));
		ADD_FAILURE() << "no exception";
	} catch (const std::system_error& error) {
		EXPECT_EQ(error.code(), std::errc::io_error) << error.what();
	}
}

// An exception thrown by the task's own code reaches run() unchanged,
// through a chain of awaited tasks.
kaio::Task<int> fails_after_io(kaio::IoLoop& loop)
{
	co_await loop.submit(kaio::make_noop());
	throw std::runtime_error("task failed");
}

kaio::Task<int> awaits_failing(kaio::IoLoop& loop)
{
	co_return co_await fails_after_io(loop) + 1;
}

TEST_F(Coroutines, TaskExceptionPropagatesThroughAwaitingTasks)
{
	kaio::IoLoop loop(8);
	EXPECT_THROW(loop.run(awaits_failing(loop)), std::runtime_error);
}

// ---- tasks, values, the loop -----------------------------------------------

kaio::Task<int> noop_then(kaio::IoLoop& loop, int value)
{
	const io_event event = co_await loop.submit(kaio::make_noop());
	co_return static_cast<int>(event.res) + value;
}

kaio::Task<int> sum_of_nested(kaio::IoLoop& loop)
{
	int sum = 0;
	for (int i = 1; i <= 10; i++)
		sum += co_await noop_then(loop, i);
	co_return sum;
}

TEST_F(Coroutines, NestedTasksReturnTheirValues)
{
	kaio::IoLoop loop(8);
	EXPECT_EQ(loop.run(sum_of_nested(loop)), 55);
}

TEST_F(Coroutines, PollCompletesOnceThePipeIsReadable)
{
	kaio_test::Pipe pipe;
	kaio::IoLoop loop(8);
	short mask = 0;
	auto waiter = [](kaio::IoLoop& loop, int fd, short& mask) -> kaio::Task<void> {
		mask = co_await loop.poll(fd, POLLIN);
	};
	loop.spawn(waiter(loop, pipe.read_end(), mask));
	EXPECT_EQ(loop.run_once(20ms), 0u);
	EXPECT_EQ(loop.spawned(), 1u);
	ASSERT_NO_FATAL_FAILURE(pipe.signal());
	loop.run();
	EXPECT_TRUE(mask & POLLIN) << "mask " << mask;
}

kaio::Task<void> three_noops(kaio::IoLoop& loop, std::size_t& completed)
{
	for (int i = 0; i < 3; i++) {
		co_await loop.submit(kaio::make_noop());
		completed++;
	}
}

TEST_F(Coroutines, MoreTasksThanTheCapacityWaitInTheQueueAndAllFinish)
{
	kaio::IoLoop loop(4);
	const std::size_t tasks = loop.context().capacity() + 40;
	std::size_t completed = 0;
	for (std::size_t i = 0; i < tasks; i++)
		loop.spawn(three_noops(loop, completed));
	// Every task's first request is queued; more than fit in the context.
	EXPECT_EQ(loop.pending(), tasks);
	loop.run();
	EXPECT_EQ(completed, 3 * tasks);
	EXPECT_EQ(loop.pending(), 0u);
}

kaio::Task<std::size_t> many_noops(kaio::IoLoop& loop, std::size_t count)
{
	std::size_t done = 0;
	for (std::size_t i = 0; i < count; i++) {
		const io_event event = co_await loop.submit(kaio::make_noop());
		done += event.res == 0;
	}
	co_return done;
}

TEST_F(Coroutines, NothingIsAllocatedPerCoAwait)
{
	kaio::IoLoop loop(8);
	auto task = many_noops(loop, 300); // the frame: allocated here
	const std::size_t before = kaio_test::allocations();
	const std::size_t done = loop.run(std::move(task));
	const std::size_t allocated = kaio_test::allocations() - before;
	EXPECT_EQ(done, 300u);
	EXPECT_EQ(allocated, 0u);
}

// Something to await that never resumes: not the loop's I/O.
struct Forever {
	bool await_ready() const noexcept { return false; }
	void await_suspend(std::coroutine_handle<>) const noexcept {}
	void await_resume() const noexcept {}
};

TEST_F(Coroutines, TaskWaitingForSomethingElseIsReportedAsADeadlock)
{
	kaio::IoLoop loop(8);
	auto stuck = [](kaio::IoLoop& loop) -> kaio::Task<void> {
		co_await loop.submit(kaio::make_noop());
		co_await Forever{};
	};
	auto task = stuck(loop);
	std::error_code ec;
	loop.run(task, ec);
	EXPECT_EQ(ec, std::errc::resource_deadlock_would_occur);
	EXPECT_FALSE(task.done());
}

TEST_F(Coroutines, DestroyingTheLoopDestroysSpawnedTasksThatHadNotEnded)
{
	kaio_test::Pipe pipe;
	auto destroyed = std::make_shared<bool>(false);
	struct SetOnDestruction {
		std::shared_ptr<bool> flag;
		~SetOnDestruction() { *flag = true; }
	};
	{
		kaio::IoLoop loop(8);
		auto waiter = [](kaio::IoLoop& loop, int fd, std::shared_ptr<bool> flag) -> kaio::Task<void> {
			SetOnDestruction guard{std::move(flag)};
			co_await loop.poll(fd, POLLIN); // never ready
		};
		loop.spawn(waiter(loop, pipe.read_end(), destroyed));
		loop.flush();
		EXPECT_EQ(loop.context().operations_in_flight(), 1u);
		EXPECT_FALSE(*destroyed);
	}
	EXPECT_TRUE(*destroyed);
}

} // namespace
