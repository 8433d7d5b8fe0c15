// SPDX-License-Identifier: GPL-2.0
// Stats: the fdinfo parser (runs anywhere) and the counters of a live
// context (guest).
#include "helpers.hpp"

#include <array>

namespace {

using kaio_test::DeviceTest;

constexpr std::string_view sample_fdinfo =
	"pos:\t0\n"
	"flags:\t02000002\n"
	"mnt_id:\t15\n"
	"ino:\t1057\n"
	"nr_events:\t128\n"
	"submitted:\t10\n"
	"completed:\t9\n"
	"in_flight:\t1\n"
	"some_future_counter: 123456789012\n";

TEST(StatsParse, EveryNameNumberLineBecomesACounter)
{
	const kaio::Stats stats = kaio::Stats::parse(sample_fdinfo);
	EXPECT_EQ(stats.nr_events(), 128u);
	EXPECT_EQ(stats.submitted(), 10u);
	EXPECT_EQ(stats.completed(), 9u);
	EXPECT_EQ(stats.in_flight(), 1u);
	EXPECT_EQ(stats["some_future_counter"], 123456789012u);
	EXPECT_EQ(stats.counters.size(), 9u);
}

TEST(StatsParse, TheVfsFlagsLineIsReadAsOctal)
{
	const kaio::Stats stats = kaio::Stats::parse(sample_fdinfo);
	EXPECT_EQ(stats["flags"], 02000002u);
}

TEST(StatsParse, LinesThatAreNotNameNumberPairsAreSkipped)
{
	const kaio::Stats stats = kaio::Stats::parse("eventfd-count: 0x1f\n"
						     "two words: 5\n"
						     "no colon here\n"
						     "empty:\n"
						     "retries:  7  \n");
	EXPECT_EQ(stats.counters.size(), 1u);
	EXPECT_EQ(stats.retries(), 7u);
	EXPECT_FALSE(stats.find("eventfd-count"));
	EXPECT_EQ(stats["worker"], 0u) << "an unreported counter reads as 0";
}

using ContextStats = DeviceTest;

TEST_F(ContextStats, SubmittedAndCompletedCountersMoveWithRequests)
{
	kaio::Context context(16);
	const kaio::Stats before = context.stats();
	ASSERT_TRUE(before.find("submitted")) << "fdinfo has no submitted counter";
	ASSERT_TRUE(before.find("completed")) << "fdinfo has no completed counter";

	std::array<iocb, 5> requests{};
	std::array<iocb*, 5> pointers{};
	for (std::size_t i = 0; i < requests.size(); i++) {
		requests[i] = kaio::make_noop();
		pointers[i] = &requests[i];
	}
	ASSERT_EQ(context.submit(pointers), requests.size());
	kaio_test::wait_for_events(context, requests.size());

	const kaio::Stats after = context.stats();
	EXPECT_EQ(after.submitted() - before.submitted(), 5u);
	EXPECT_EQ(after.completed() - before.completed(), 5u);
	EXPECT_EQ(after.in_flight(), 0u);
}

TEST(EmptyContext, EveryCallFailsWithBadFileDescriptor)
{
	kaio::Context empty;
	EXPECT_FALSE(empty);
	std::error_code ec;
	iocb request = kaio::make_noop();
	iocb* const pointers[] = {&request};
	EXPECT_EQ(empty.submit(pointers, ec), 0u);
	EXPECT_EQ(ec, std::errc::bad_file_descriptor);
	empty.stats(ec);
	EXPECT_EQ(ec, std::errc::bad_file_descriptor);
	std::array<io_event, 1> events{};
	EXPECT_EQ(empty.reap_ring(events), 0u);
}

} // namespace
