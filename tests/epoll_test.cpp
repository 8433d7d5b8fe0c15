// SPDX-License-Identifier: GPL-2.0
// Waiting for kaio from an epoll loop: on the context fd itself (readable
// while events wait) or on an eventfd the requests are bound to
// (IOCB_FLAG_RESFD), with callbacks and with coroutines.
#include "helpers.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

namespace {

using namespace std::chrono_literals;
using kaio_test::DeviceTest;

// An epoll instance watching some descriptors for EPOLLIN.
class Epoll {
public:
	Epoll() : fd_(::epoll_create1(EPOLL_CLOEXEC)) { EXPECT_GE(fd_.get(), 0); }
	void watch(int fd)
	{
		epoll_event event{};
		event.events = EPOLLIN;
		event.data.fd = fd;
		ASSERT_EQ(::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &event), 0) << std::strerror(errno);
	}
	// The descriptors that are ready within `timeout`.
	std::vector<int> wait(std::chrono::milliseconds timeout)
	{
		std::array<epoll_event, 8> events{};
		const int ready = ::epoll_wait(fd_.get(), events.data(), events.size(),
					       static_cast<int>(timeout.count()));
		std::vector<int> fds;
		for (int i = 0; i < ready; i++)
			fds.push_back(events[static_cast<std::size_t>(i)].data.fd);
		return fds;
	}

private:
	kaio_test::ScopedFd fd_;
};

constexpr auto ready_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
	kaio_test::completion_deadline);

// Four POLL requests on a pipe: pending until the test writes to it.
struct PipePolls {
	explicit PipePolls(int fd)
	{
		for (auto& operation : operations)
			operation.prepare(kaio::make_poll(fd, POLLIN), &complete);
	}
	static void complete(kaio::Operation& operation, const io_event& event) noexcept
	{
		auto* counter = kaio::user_data<int>(event);
		EXPECT_TRUE(event.res & POLLIN) << "res " << event.res;
		(*counter)++;
		(void)operation;
	}
	std::vector<kaio::Operation*> pointers()
	{
		std::vector<kaio::Operation*> result;
		for (auto& operation : operations)
			result.push_back(&operation);
		return result;
	}
	std::array<kaio::Operation, 4> operations;
};

using EpollOnKaio = DeviceTest;

TEST_F(EpollOnKaio, ContextFdWakesEpollAndDispatchRunsTheCallbacks)
{
	kaio_test::Pipe pipe;
	kaio::Context context(8);
	Epoll epoll;
	ASSERT_NO_FATAL_FAILURE(epoll.watch(context.fd()));

	int completed = 0;
	PipePolls polls(pipe.read_end());
	for (auto& operation : polls.operations)
		kaio::set_user_data(operation, &completed);
	ASSERT_EQ(context.submit(polls.pointers()), 4u);
	EXPECT_TRUE(epoll.wait(0ms).empty()) << "ready with every request pending";

	ASSERT_NO_FATAL_FAILURE(pipe.signal());
	while (completed < 4) {
		const auto ready = epoll.wait(ready_deadline);
		ASSERT_EQ(ready, std::vector<int>{context.fd()}) << "after " << completed << " callbacks";
		// Readable means events wait in the ring: dispatch() takes them
		// from there without a system call and never blocks.
		EXPECT_GT(context.dispatch(), 0u);
	}
	EXPECT_EQ(completed, 4);
	EXPECT_TRUE(epoll.wait(0ms).empty()) << "still ready with the ring empty";
}

TEST_F(EpollOnKaio, EventfdBoundToRequestsWakesEpollOncePerBatchOfCompletions)
{
	kaio_test::Pipe pipe;
	kaio::Context context(8);
	kaio::EventFd completions;
	Epoll epoll;
	ASSERT_NO_FATAL_FAILURE(epoll.watch(completions.fd()));

	int completed = 0;
	PipePolls polls(pipe.read_end());
	for (auto& operation : polls.operations) {
		kaio::set_user_data(operation, &completed);
		kaio::set_eventfd(operation.request(), completions.fd());
	}
	ASSERT_EQ(context.submit(polls.pointers()), 4u);
	EXPECT_TRUE(epoll.wait(0ms).empty());
	EXPECT_EQ(completions.read(), 0u) << "signalled before anything completed";

	ASSERT_NO_FATAL_FAILURE(pipe.signal());
	std::uint64_t signalled = 0;
	while (completed < 4) {
		const auto ready = epoll.wait(ready_deadline);
		ASSERT_EQ(ready, std::vector<int>{completions.fd()}) << "after " << completed << " callbacks";
		// Reading the counter rearms EPOLLIN; it counts completions.
		signalled += completions.read();
		context.dispatch();
	}
	EXPECT_EQ(completed, 4);
	signalled += completions.read();
	EXPECT_EQ(signalled, 4u);
}

// A task of two steps, each resumed from the epoll loop: wait for the pipe,
// then one more request. (Not a read of the pipe: on 6.1 pipes lack
// FMODE_NOWAIT, and kaio neither blocks a worker on them nor tries them
// without blocking, so a kaio read of a pipe is always -EAGAIN there.)
kaio::Task<void> wait_then_noop(kaio::IoLoop& loop, int fd, short& mask, int& steps)
{
	mask = co_await loop.poll(fd, POLLIN);
	steps++;
	co_await loop.submit(kaio::make_noop());
	steps++;
}

TEST_F(EpollOnKaio, IoLoopTasksDriveFromAnEpollLoopOnTheContextFdOrAnEventfd)
{
	for (const bool use_eventfd : {false, true}) {
		SCOPED_TRACE(use_eventfd ? "eventfd" : "context fd");
		kaio_test::Pipe pipe;
		kaio::IoLoop loop(8);
		kaio::EventFd completions;
		Epoll epoll;
		if (use_eventfd) {
			loop.set_eventfd(completions.fd());
			ASSERT_NO_FATAL_FAILURE(epoll.watch(completions.fd()));
		} else {
			ASSERT_NO_FATAL_FAILURE(epoll.watch(loop.fd()));
		}

		short mask = 0;
		int steps = 0;
		loop.spawn(wait_then_noop(loop, pipe.read_end(), mask, steps));
		// spawn() ran the task to its first co_await: submit it.
		loop.flush();
		EXPECT_EQ(loop.pending(), 1u);
		EXPECT_TRUE(epoll.wait(0ms).empty());

		ASSERT_NO_FATAL_FAILURE(pipe.signal());
		while (loop.spawned() > 0) {
			ASSERT_FALSE(epoll.wait(ready_deadline).empty()) << "epoll saw no completion";
			if (use_eventfd)
				completions.read();
			// Runs what completed and submits what the tasks asked next;
			// never blocks.
			loop.run_once(0ns);
		}
		EXPECT_TRUE(mask & POLLIN) << "mask " << mask;
		EXPECT_EQ(steps, 2);
	}
}

} // namespace
