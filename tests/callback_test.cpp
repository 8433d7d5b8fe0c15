// SPDX-License-Identifier: GPL-2.0
// Completion callbacks (kaio::Operation, kaio::Callback) and the completion
// loops of kaio::Context: dispatch, run_one, run, run_for; batch submission
// of operations and of iocbs, with partial failure.
#include "helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <vector>

namespace {

using namespace std::chrono_literals;
using kaio_test::DeviceTest;

// An operation that records how it completed. The completion finds the
// object through a static_cast, as a program's own operation type does.
struct Recorded : kaio::Operation {
	int calls = 0;
	io_event event{};

	static void complete(kaio::Operation& operation, const io_event& event) noexcept
	{
		auto& self = static_cast<Recorded&>(operation);
		self.calls++;
		self.event = event;
	}
};

struct Label {
	int id;
};

std::vector<kaio::Operation*> pointers_to(std::span<Recorded> operations)
{
	std::vector<kaio::Operation*> pointers;
	for (Recorded& operation : operations)
		pointers.push_back(&operation);
	return pointers;
}

using FileCallbacks = kaio_test::FileSystemTest;

TEST_P(FileCallbacks, EachCallbackFiresOnceWithItsResultAndUserData)
{
	constexpr std::size_t count = 8;
	kaio_test::TempFile file(dir_);
	std::vector<std::byte> content(count * 4096);
	kaio_test::fill_pattern(content, 11, 0);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), content, 0));

	kaio::Context context(16);
	std::array<Recorded, count> operations;
	std::array<Label, count> labels{};
	std::vector<std::vector<std::byte>> buffers(count);
	for (std::size_t i = 0; i < count; i++) {
		// Different lengths, so each result is recognisable.
		buffers[i].resize((i + 1) * 512);
		labels[i].id = static_cast<int>(i);
		operations[i].prepare(kaio::make_read(file.fd(), buffers[i], i * 4096), &Recorded::complete);
		kaio::set_user_data(operations[i], &labels[i]);
	}
	const auto pointers = pointers_to(operations);
	ASSERT_EQ(context.submit(pointers), count);
	EXPECT_EQ(context.run(), count);
	EXPECT_EQ(context.operations_in_flight(), 0u);

	for (std::size_t i = 0; i < count; i++) {
		SCOPED_TRACE(i);
		EXPECT_EQ(operations[i].calls, 1);
		EXPECT_EQ(operations[i].event.res, static_cast<std::int64_t>(buffers[i].size()));
		// Typed user data: aio_data stays the caller's on an operation.
		EXPECT_EQ(kaio::user_data<Label>(operations[i].event), &labels[i]);
		EXPECT_EQ(kaio::user_data<Label>(operations[i]), &labels[i]);
		EXPECT_EQ(kaio::completed_operation(operations[i].event), &operations[i]);
		EXPECT_EQ(kaio_test::pattern_mismatch(buffers[i], 11, i * 4096), std::nullopt);
	}
	// Nothing more comes: every event was handed to exactly one callback.
	std::array<io_event, 4> extra{};
	EXPECT_EQ(context.get_events(0, extra, 0ns), 0u);
}

INSTANTIATE_TEST_SUITE_P(Fs, FileCallbacks, ::testing::Values("KAIO_EXT4_DIR", "KAIO_XFS_DIR"),
			 kaio_test::file_system_name);

using Callbacks = DeviceTest;

TEST_F(Callbacks, CallableCallbackCanResubmitItsOwnOperation)
{
	kaio::Context context(8);
	int calls = 0;
	kaio::Callback chain(kaio::make_noop(), [&](kaio::Operation& self, const io_event& event) noexcept {
		EXPECT_EQ(event.res, 0);
		// The event was copied out before the callback ran: the operation
		// is free to go again.
		if (++calls < 5)
			context.submit(self);
	});
	context.submit(chain);
	EXPECT_EQ(context.run(), 5u);
	EXPECT_EQ(calls, 5);
	EXPECT_EQ(context.operations_in_flight(), 0u);
}

TEST_F(Callbacks, RunForReturnsWhenTheTimeIsUpWithTheOperationStillPending)
{
	kaio_test::Pipe pipe;
	kaio::Context context(8);
	Recorded poll;
	poll.prepare(kaio::make_poll(pipe.read_end(), POLLIN), &Recorded::complete);
	context.submit(poll);

	const auto start = std::chrono::steady_clock::now();
	EXPECT_EQ(context.run_for(50ms), 0u);
	EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
	EXPECT_EQ(poll.calls, 0);
	EXPECT_EQ(context.operations_in_flight(), 1u);

	ASSERT_NO_FATAL_FAILURE(pipe.signal());
	EXPECT_EQ(context.run_for(kaio_test::completion_deadline), 1u);
	EXPECT_EQ(poll.calls, 1);
	EXPECT_TRUE(poll.event.res & POLLIN) << "res " << poll.event.res;
}

TEST_F(Callbacks, DispatchRunsWhatIsThereAndNeverWaits)
{
	kaio_test::Pipe pipe;
	kaio::Context context(8);
	Recorded poll;
	poll.prepare(kaio::make_poll(pipe.read_end(), POLLIN), &Recorded::complete);
	context.submit(poll);

	const auto start = std::chrono::steady_clock::now();
	EXPECT_EQ(context.dispatch(), 0u);
	EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

	EXPECT_EQ(context.cancel(poll.request()), kaio::CancelResult::cancelled);
	EXPECT_EQ(context.run(), 1u);
	EXPECT_EQ(poll.calls, 1);
}

TEST_F(Callbacks, RunOneRunsExactlyOneCompletion)
{
	kaio::Context context(8);
	std::array<Recorded, 3> noops;
	for (Recorded& noop : noops)
		noop.prepare(kaio::make_noop(), &Recorded::complete);
	const auto pointers = pointers_to(noops);
	ASSERT_EQ(context.submit(pointers), 3u);

	EXPECT_EQ(context.run_one(kaio_test::completion_deadline), 1u);
	EXPECT_EQ(context.operations_in_flight(), 2u);
	EXPECT_EQ(noops[0].calls + noops[1].calls + noops[2].calls, 1);
	EXPECT_EQ(context.dispatch(), 2u);
	for (const Recorded& noop : noops)
		EXPECT_EQ(noop.calls, 1);
}

TEST_F(Callbacks, RunOneTimesOutWithNothingRun)
{
	kaio_test::Pipe pipe;
	kaio::Context context(8);
	Recorded poll;
	poll.prepare(kaio::make_poll(pipe.read_end(), POLLIN), &Recorded::complete);
	context.submit(poll);
	std::error_code ec;
	EXPECT_EQ(context.run_one(20ms, ec), 0u);
	EXPECT_FALSE(ec) << ec.message();
	context.cancel(poll.request());
	context.run();
}

TEST_F(Callbacks, OperationWithoutACompletionIsRefused)
{
	kaio::Context context(8);
	kaio::Operation bare(kaio::make_noop(), nullptr);
	std::error_code ec;
	context.submit(bare, ec);
	EXPECT_EQ(ec, std::errc::invalid_argument);
	EXPECT_EQ(context.operations_in_flight(), 0u);
	EXPECT_THROW(context.submit(bare), kaio::SubmitError);
}

TEST_F(Callbacks, NothingIsAllocatedPerOperation)
{
	kaio::Context context(64);
	std::size_t calls = 0;
	kaio::Callback chain(kaio::make_noop(), [&](kaio::Operation& self, const io_event&) noexcept {
		if (++calls < 200)
			context.submit(self);
	});
	std::array<Recorded, 32> batch;
	for (Recorded& operation : batch)
		operation.prepare(kaio::make_noop(), &Recorded::complete);
	const auto pointers = pointers_to(batch);

	const std::size_t before = kaio_test::allocations();
	context.submit(chain);
	context.submit(pointers);
	context.run();
	const std::size_t allocated = kaio_test::allocations() - before;

	EXPECT_EQ(calls, 200u);
	EXPECT_EQ(allocated, 0u);
}

// Batch submission: a batch stops at the first request the module refuses.

using BatchSubmit = DeviceTest;

TEST_F(BatchSubmit, OperationBatchReportsHowManyWereQueuedAndWhyTheNextWasNot)
{
	kaio::Context context(8);
	kaio_test::Pipe pipe;
	std::array<Recorded, 4> operations;
	std::array<std::byte, 16> buffer{};
	operations[0].prepare(kaio::make_noop(), &Recorded::complete);
	operations[1].prepare(kaio::make_noop(), &Recorded::complete);
	// Reading from a pipe's write end: EBADF at submit.
	operations[2].prepare(kaio::make_read(pipe.write_end(), buffer, 0), &Recorded::complete);
	operations[3].prepare(kaio::make_noop(), &Recorded::complete);
	const auto pointers = pointers_to(operations);

	std::error_code ec;
	EXPECT_EQ(context.submit(pointers, ec), 2u);
	EXPECT_EQ(ec, std::errc::bad_file_descriptor);
	EXPECT_EQ(context.operations_in_flight(), 2u);
	EXPECT_EQ(context.run(), 2u);
	EXPECT_EQ(operations[0].calls, 1);
	EXPECT_EQ(operations[1].calls, 1);
	// Requests that were not queued never complete.
	EXPECT_EQ(operations[2].calls, 0);
	EXPECT_EQ(operations[3].calls, 0);

	// The throwing overload carries the same count.
	try {
		context.submit(pointers);
		ADD_FAILURE() << "no exception";
	} catch (const kaio::SubmitError& error) {
		EXPECT_EQ(error.queued(), 2u);
		EXPECT_EQ(error.code(), std::errc::bad_file_descriptor);
	}
	context.run();
	EXPECT_EQ(operations[0].calls, 2);
	EXPECT_EQ(operations[2].calls, 0);
}

TEST_F(BatchSubmit, IocbBatchPlainSubmitStopsSilentlyWhileSubmitAllSaysWhy)
{
	kaio::Context context(8);
	kaio_test::Pipe pipe;
	std::array<std::byte, 16> buffer{};
	std::array<iocb, 3> requests = {kaio::make_noop(), kaio::make_read(pipe.write_end(), buffer, 0),
					 kaio::make_noop()};
	std::array<iocb*, 3> pointers = {&requests[0], &requests[1], &requests[2]};

	// io_submit semantics: the count, no error because the first was queued.
	std::error_code ec;
	EXPECT_EQ(context.submit(pointers, ec), 1u);
	EXPECT_FALSE(ec);
	kaio_test::wait_for_events(context, 1);

	EXPECT_EQ(context.submit_all(pointers, ec), 1u);
	EXPECT_EQ(ec, std::errc::bad_file_descriptor);
	kaio_test::wait_for_events(context, 1);

	// Refused first: nothing queued, and SubmitError says so.
	try {
		context.submit_all(std::span(pointers).subspan(1));
		ADD_FAILURE() << "no exception";
	} catch (const kaio::SubmitError& error) {
		EXPECT_EQ(error.queued(), 0u);
		EXPECT_EQ(error.code(), std::errc::bad_file_descriptor);
	}
}

TEST_F(BatchSubmit, BatchBeyondTheCapacityQueuesWhatFitsThenSaysEagain)
{
	kaio::Context context(8);
	const std::size_t capacity = context.capacity();
	std::vector<Recorded> operations(capacity + 3);
	for (Recorded& operation : operations)
		operation.prepare(kaio::make_noop(), &Recorded::complete);
	const auto pointers = pointers_to(operations);

	std::error_code ec;
	EXPECT_EQ(context.submit(pointers, ec), capacity);
	EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);
	EXPECT_EQ(context.run(), capacity);
	// Reaping freed the capacity: the rest goes in now.
	EXPECT_EQ(context.submit(std::span(pointers).subspan(capacity), ec), 3u);
	EXPECT_FALSE(ec) << ec.message();
	EXPECT_EQ(context.run(), 3u);
	for (const Recorded& operation : operations)
		EXPECT_EQ(operation.calls, 1);
}

TEST_F(BatchSubmit, LargeOperationBatchIsSubmittedInChunksInOrder)
{
	constexpr std::size_t count = 150; // more than one chunk of 64 pointers
	kaio::Context context(count);
	std::vector<Recorded> operations(count);
	for (std::size_t i = 0; i < count; i++) {
		operations[i].prepare(kaio::make_noop(), &Recorded::complete);
		kaio::set_user_data(operations[i].request(), std::uint64_t{i});
	}
	const auto pointers = pointers_to(operations);
	EXPECT_EQ(context.submit(pointers), count);
	EXPECT_EQ(context.run(), count);
	for (std::size_t i = 0; i < count; i++) {
		EXPECT_EQ(operations[i].calls, 1) << i;
		EXPECT_EQ(operations[i].event.data, i);
	}
}

} // namespace
