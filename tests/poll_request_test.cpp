// SPDX-License-Identifier: GPL-2.0
// IOCB_CMD_POLL requests: one-shot readiness, as fs/aio.c's aio_poll.
#include "helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>

namespace {

using namespace std::chrono_literals;

// A pipe whose ends close with the test.
class PollRequest : public kaio_test::DeviceTest {
protected:
	void SetUp() override
	{
		kaio_test::DeviceTest::SetUp();
		if (IsSkipped())
			return;
		std::array<int, 2> ends{};
		ASSERT_EQ(::pipe2(ends.data(), O_CLOEXEC), 0);
		read_end_.emplace(ends[0]);
		write_end_.emplace(ends[1]);
	}
	std::optional<kaio_test::ScopedFd> read_end_;
	std::optional<kaio_test::ScopedFd> write_end_;
};

TEST_F(PollRequest, CompletesWithTheReadyMaskOnlyOnceThePipeIsReadable)
{
	kaio::Context context(8);
	iocb request = kaio::make_poll(read_end_->get(), POLLIN);
	iocb* const pointers[] = {&request};
	ASSERT_EQ(context.submit(pointers), 1u);

	std::array<io_event, 1> early{};
	EXPECT_EQ(context.get_events(1, early, 50ms), 0u) << "completed before the pipe had data";

	ASSERT_EQ(::write(write_end_->get(), "x", 1), 1);
	const auto events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_TRUE(events[0].res & POLLIN) << "res " << events[0].res;
}

TEST_F(PollRequest, PendingPollIsCancelledAndCompletesWithoutReportingReadiness)
{
	kaio::Context context(8);
	iocb request = kaio::make_poll(read_end_->get(), POLLIN);
	iocb* const pointers[] = {&request};
	ASSERT_EQ(context.submit(pointers), 1u);

	// Nothing will ever be written: the request can only be pending.
	EXPECT_EQ(context.cancel(request), kaio::CancelResult::cancelled);
	const auto events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	// uapi/linux/kaio.h promises res = -ECANCELED for a cancelled request;
	// fs/aio.c completes a cancelled poll with its mask, 0, and the module
	// follows fs/aio.c here. Either way it must not claim readiness.
	EXPECT_TRUE(events[0].res == -ECANCELED || events[0].res == 0) << "res " << events[0].res;
}

} // namespace
