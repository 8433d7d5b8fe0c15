// SPDX-License-Identifier: GPL-2.0
// Ways to learn about completions: get_events' timeout, poll() on the
// context fd, an eventfd per request, and reaping the mapped ring.
#include "helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <vector>

namespace {

using kaio_test::DeviceTest;
using namespace std::chrono_literals;

// `count` NOOPs whose user data is their index.
struct Noops {
	explicit Noops(std::size_t count) : requests(count), pointers(count)
	{
		for (std::size_t i = 0; i < count; i++) {
			requests[i] = kaio::make_noop();
			kaio::set_user_data(requests[i], std::uint64_t{i});
			pointers[i] = &requests[i];
		}
	}
	std::vector<iocb> requests;
	std::vector<iocb*> pointers;
};

bool readable_within(int fd, std::chrono::milliseconds wait)
{
	pollfd watched{fd, POLLIN, 0};
	const int ready = ::poll(&watched, 1, static_cast<int>(wait.count()));
	return ready == 1 && (watched.revents & POLLIN);
}

using GetEvents = DeviceTest;

TEST_F(GetEvents, TimeoutExpiresWithZeroEventsWhenNothingCompletes)
{
	kaio::Context context(8);
	std::array<io_event, 4> events{};
	const auto start = std::chrono::steady_clock::now();
	EXPECT_EQ(context.get_events(1, events, 50ms), 0u);
	EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

TEST_F(GetEvents, ZeroTimeoutReturnsAtOnceWithWhatIsThere)
{
	kaio::Context context(8);
	Noops noops(3);
	ASSERT_EQ(context.submit(noops.pointers), 3u);
	ASSERT_TRUE(readable_within(context.fd(), 5s));
	std::array<io_event, 8> events{};
	// poll() said they are there; a zero timeout must not wait for more.
	EXPECT_EQ(context.get_events(0, events, 0ns), 3u);
}

using Poll = DeviceTest;

TEST_F(Poll, ContextFdIsReadableExactlyWhileEventsWait)
{
	kaio::Context context(8);
	EXPECT_FALSE(readable_within(context.fd(), 0ms)) << "readable with nothing submitted";

	Noops noops(1);
	ASSERT_EQ(context.submit(noops.pointers), 1u);
	EXPECT_TRUE(readable_within(context.fd(), 5s)) << "not readable with an event waiting";

	kaio_test::wait_for_events(context, 1);
	EXPECT_FALSE(readable_within(context.fd(), 0ms)) << "still readable after reaping";
}

using Eventfd = DeviceTest;

TEST_F(Eventfd, EachCompletionAddsOneToTheEventfd)
{
	const kaio_test::ScopedFd counter(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	ASSERT_GE(counter.get(), 0);
	kaio::Context context(8);
	Noops noops(3);
	for (iocb& request : noops.requests)
		kaio::set_eventfd(request, counter.get());
	ASSERT_EQ(context.submit(noops.pointers), 3u);
	kaio_test::wait_for_events(context, 3);

	std::uint64_t signalled = 0;
	ASSERT_EQ(::read(counter.get(), &signalled, sizeof(signalled)),
		  static_cast<ssize_t>(sizeof(signalled)))
		<< "eventfd was never signalled";
	EXPECT_EQ(signalled, 3u);
}

using Ring = DeviceTest;

// Reaps until `count` events came from the ring, sleeping in poll() (not in
// GETEVENTS, which would take the events itself) while there are none.
std::vector<io_event> reap_from_ring(kaio::Context& context, std::size_t count)
{
	std::vector<io_event> events(count);
	std::size_t got = 0;
	const auto deadline = std::chrono::steady_clock::now() + kaio_test::completion_deadline;
	while (got < count && std::chrono::steady_clock::now() < deadline) {
		got += context.reap_ring(std::span(events).subspan(got));
		if (got < count)
			readable_within(context.fd(), 100ms);
	}
	events.resize(got);
	return events;
}

TEST_F(Ring, ReapingTheRingReturnsEveryCompletedRequest)
{
	kaio::Context context(16);
	ASSERT_NE(context.ring(), nullptr) << "module offers no ring";
	Noops noops(8);
	ASSERT_EQ(context.submit(noops.pointers), 8u);

	const auto events = reap_from_ring(context, 8);
	ASSERT_EQ(events.size(), 8u);
	std::vector<std::uint64_t> seen;
	for (const io_event& event : events) {
		EXPECT_EQ(event.res, 0);
		EXPECT_EQ(kaio::completed_request(event), &noops.requests.at(event.data));
		seen.push_back(event.data);
	}
	std::sort(seen.begin(), seen.end());
	std::vector<std::uint64_t> expected(8);
	std::iota(expected.begin(), expected.end(), 0);
	EXPECT_EQ(seen, expected);
}

TEST_F(Ring, EventsReapedFromTheRingAreGoneForGetEventsAndFreeTheirCapacity)
{
	kaio::Context context(4);
	ASSERT_NE(context.ring(), nullptr) << "module offers no ring";
	Noops fill(context.capacity());
	ASSERT_EQ(context.submit(fill.pointers), context.capacity());
	ASSERT_EQ(reap_from_ring(context, context.capacity()).size(), context.capacity());

	std::array<io_event, 4> events{};
	EXPECT_EQ(context.get_events(0, events, 0ns), 0u);
	EXPECT_FALSE(readable_within(context.fd(), 0ms));
	// The kernel read the head user space advanced: the capacity is back.
	Noops again(context.capacity());
	EXPECT_EQ(context.submit(again.pointers), context.capacity());
}

TEST_F(Ring, CompletionsPostedByTheBlockLayerCanBeReapedFromTheRing)
{
	// O_DIRECT completions are posted later, from interrupt context: the
	// case where reading tail with acquire ordering matters.
	const auto raw_device = kaio_test::guest_env("KAIO_RAW_DEV");
	if (!raw_device)
		GTEST_SKIP() << "$KAIO_RAW_DEV is not set";
	const kaio_test::ScopedFd direct(::open(raw_device->c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
	ASSERT_GE(direct.get(), 0) << "open " << *raw_device;

	constexpr std::size_t reads = 8;
	constexpr std::size_t read_bytes = 4096;
	kaio::Context context(16);
	ASSERT_NE(context.ring(), nullptr) << "module offers no ring";
	kaio_test::AlignedBuffer buffer(reads * read_bytes);
	std::vector<iocb> requests(reads);
	std::vector<iocb*> pointers(reads);
	for (std::size_t i = 0; i < reads; i++) {
		requests[i] = kaio::make_read(direct.get(), buffer.bytes().subspan(i * read_bytes, read_bytes),
					      i * read_bytes * 16);
		pointers[i] = &requests[i];
	}
	ASSERT_EQ(context.submit(pointers), reads);

	const auto events = reap_from_ring(context, reads);
	ASSERT_EQ(events.size(), reads);
	for (const io_event& event : events)
		EXPECT_EQ(event.res, static_cast<std::int64_t>(read_bytes))
			<< kaio::event_error(event).message();

	// The data is the device's: compare with what a plain read returns.
	kaio_test::AlignedBuffer expected(read_bytes);
	for (std::size_t i = 0; i < reads; i++) {
		ASSERT_NO_FATAL_FAILURE(kaio_test::read_all(direct.get(), expected.bytes(), i * read_bytes * 16));
		EXPECT_TRUE(std::equal(expected.bytes().begin(), expected.bytes().end(),
				       buffer.bytes().begin() + static_cast<std::ptrdiff_t>(i * read_bytes)))
			<< "read " << i;
	}
}

} // namespace
