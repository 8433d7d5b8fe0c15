// SPDX-License-Identifier: GPL-2.0
// kaio::Context: setup, ownership, destroy, and how the module's errnos
// reach the caller as std::error_code.
#include "helpers.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <vector>

namespace {

using kaio_test::DeviceTest;

std::error_code setup_error(std::uint32_t nr_events, std::uint32_t flags)
{
	std::error_code ec;
	kaio::Context context(nr_events, flags, ec);
	EXPECT_EQ(static_cast<bool>(context), !ec) << "a failed setup leaves the context empty";
	return ec;
}

bool fd_is_open(int fd)
{
	return ::fcntl(fd, F_GETFD) >= 0;
}

using ContextLifecycle = DeviceTest;

TEST_F(ContextLifecycle, SetupGrantsAtLeastTheRequestedCapacity)
{
	kaio::Context context(100);
	EXPECT_TRUE(context);
	EXPECT_GE(context.fd(), 0);
	EXPECT_GE(context.capacity(), 100u);
}

TEST_F(ContextLifecycle, ContextFdIsCloseOnExec)
{
	kaio::Context context(8);
	EXPECT_EQ(::fcntl(context.fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(ContextLifecycle, OpcodesAreTheOnesTheModuleServes)
{
	kaio::Context context(8);
	ASSERT_TRUE(context.features() & KAIO_FEAT_OPCODES);
	for (std::uint16_t op : {IOCB_CMD_PREAD, IOCB_CMD_PWRITE, IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC,
				 IOCB_CMD_POLL, IOCB_CMD_NOOP, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV})
		EXPECT_TRUE(context.supports(op)) << "opcode " << op;
	EXPECT_FALSE(context.supports(4)) << "IOCB_CMD_PREADX was never served";
	EXPECT_FALSE(context.supports(63));
	EXPECT_FALSE(context.supports(0xffff));
	kaio::Context moved(std::move(context));
	EXPECT_EQ(moved.opcodes(), 0x1efULL);
	EXPECT_EQ(context.opcodes(), 0u);
}

TEST_F(ContextLifecycle, RingIsMappedWithTheAioRingLayout)
{
	kaio::Context context(8);
	ASSERT_TRUE(context.features() & KAIO_FEAT_RING_MMAP) << "module does not offer the ring";
	const kaio_ring* ring = context.ring();
	ASSERT_NE(ring, nullptr);
	EXPECT_EQ(ring->magic, KAIO_RING_MAGIC);
	EXPECT_EQ(ring->header_length, sizeof(kaio_ring));
	EXPECT_EQ(ring->id, static_cast<std::uint32_t>(context.fd()));
	EXPECT_GT(ring->nr, context.capacity()) << "the ring holds at most nr - 1 events";
	EXPECT_EQ(ring->head, ring->tail) << "a new ring is empty";
}

TEST_F(ContextLifecycle, MoveConstructionTransfersTheContextAndEmptiesTheSource)
{
	kaio::Context original(8);
	const int fd = original.fd();
	kaio::Context moved(std::move(original));

	EXPECT_EQ(moved.fd(), fd);
	EXPECT_FALSE(original); // NOLINT(bugprone-use-after-move): checking the moved-from state
	EXPECT_EQ(original.fd(), -1);
	EXPECT_EQ(original.capacity(), 0u);
	EXPECT_EQ(original.ring(), nullptr);

	iocb request = kaio::make_noop();
	iocb* const pointers[] = {&request};
	EXPECT_EQ(moved.submit(pointers), 1u);
	EXPECT_EQ(kaio_test::wait_for_events(moved, 1).size(), 1u);
}

TEST_F(ContextLifecycle, MoveAssignmentClosesTheContextItReplaces)
{
	kaio::Context target(8);
	kaio::Context source(8);
	const int replaced_fd = target.fd();
	const int source_fd = source.fd();

	target = std::move(source);
	EXPECT_EQ(target.fd(), source_fd);
	EXPECT_FALSE(fd_is_open(replaced_fd));
}

TEST_F(ContextLifecycle, DestructionClosesTheContextFd)
{
	int fd = -1;
	{
		kaio::Context context(8);
		fd = context.fd();
		ASSERT_TRUE(fd_is_open(fd));
	}
	EXPECT_FALSE(fd_is_open(fd));
}

TEST_F(ContextLifecycle, CallsAfterDestroyFailWithInvalidArgument)
{
	kaio::Context context(8);
	context.destroy();

	std::error_code ec;
	iocb request = kaio::make_noop();
	iocb* const pointers[] = {&request};
	EXPECT_EQ(context.submit(pointers, ec), 0u);
	EXPECT_EQ(ec, std::errc::invalid_argument);
	context.destroy(ec);
	EXPECT_EQ(ec, std::errc::invalid_argument);
}

TEST_F(ContextLifecycle, ForkedChildCannotUseTheParentsContext)
{
	kaio::Context context(8);
	const pid_t child = ::fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		// No GoogleTest assertions in the child: report through the exit
		// status, and _exit() so the parent's objects are not torn down here.
		std::error_code ec;
		iocb request = kaio::make_noop();
		iocb* const pointers[] = {&request};
		context.submit(pointers, ec);
		::_exit(ec == std::errc::invalid_argument ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(child, &status, 0), child);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's submit did not fail with EINVAL";
}

using SetupErrors = DeviceTest;

TEST_F(SetupErrors, ZeroEventsIsInvalidArgument)
{
	EXPECT_EQ(setup_error(0, 0), std::errc::invalid_argument);
}

TEST_F(SetupErrors, MoreEventsThanTheModuleLimitIsResourceUnavailable)
{
	EXPECT_EQ(setup_error(65537, 0), std::errc::resource_unavailable_try_again);
}

TEST_F(SetupErrors, UnknownSetupFlagIsInvalidArgument)
{
	EXPECT_EQ(setup_error(8, 1u << 31), std::errc::invalid_argument);
}

TEST_F(SetupErrors, ThrowingConstructorReportsTheErrnoAsSystemError)
{
	try {
		kaio::Context context(0);
		FAIL() << "setup with 0 events succeeded";
	} catch (const std::system_error& error) {
		EXPECT_EQ(error.code(), std::errc::invalid_argument);
	}
}

using Submit = DeviceTest;

TEST_F(Submit, NoopCompletesWithZeroAndReturnsItsUserData)
{
	kaio::Context context(8);
	struct Tag {
		int value;
	} tag{5};
	iocb request = kaio::make_noop();
	kaio::set_user_data(request, &tag);
	iocb* const pointers[] = {&request};
	ASSERT_EQ(context.submit(pointers), 1u);

	const auto events = kaio_test::wait_for_events(context, 1);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_EQ(events[0].res, 0);
	EXPECT_EQ(kaio::user_data<Tag>(events[0]), &tag);
	EXPECT_EQ(kaio::completed_request(events[0]), &request);
}

TEST_F(Submit, BeyondCapacityQueuesWhatFitsThenFailsWithEagain)
{
	kaio::Context context(4);
	const std::size_t capacity = context.capacity();
	std::vector<iocb> requests(capacity + 1, kaio::make_noop());
	std::vector<iocb*> pointers;
	for (iocb& request : requests)
		pointers.push_back(&request);

	// NOOPs complete at once, but their events stay unreaped and keep
	// their share of the capacity.
	EXPECT_EQ(context.submit(pointers), capacity);
	std::error_code ec;
	EXPECT_EQ(context.submit(std::span(pointers).last(1), ec), 0u);
	EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);

	// Reaping gives the capacity back.
	kaio_test::wait_for_events(context, capacity);
	EXPECT_EQ(context.submit(std::span(pointers).last(1)), 1u);
}

TEST_F(Submit, UnknownOpcodeFailsWithInvalidArgument)
{
	kaio::Context context(8);
	// A real file, so that the fd check (which comes first, as in fs/aio.c)
	// passes and the opcode is what fails.
	const kaio_test::ScopedFd null_device(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	ASSERT_GE(null_device.get(), 0);
	iocb request = kaio::make_noop(null_device.get());
	request.aio_lio_opcode = 0x7f;
	iocb* const pointers[] = {&request};
	std::error_code ec;
	EXPECT_EQ(context.submit(pointers, ec), 0u);
	EXPECT_EQ(ec, std::errc::invalid_argument);
}

TEST_F(Submit, ClosedFileDescriptorFailsWithBadFileDescriptor)
{
	kaio::Context context(8);
	// A descriptor number that is certainly not open: one just closed.
	const int closed_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(closed_fd, 0);
	::close(closed_fd);
	std::array<std::byte, 512> buffer{};
	iocb request = kaio::make_read(closed_fd, buffer, 0);
	iocb* const pointers[] = {&request};
	std::error_code ec;
	EXPECT_EQ(context.submit(pointers, ec), 0u);
	EXPECT_EQ(ec, std::errc::bad_file_descriptor);
}

TEST_F(Submit, ThrowingSubmitReportsTheErrnoAsSystemError)
{
	kaio::Context context(8);
	iocb request = kaio::make_noop();
	request.aio_reserved2 = 1;
	iocb* const pointers[] = {&request};
	try {
		context.submit(pointers);
		FAIL() << "an iocb with a non-zero reserved field was queued";
	} catch (const std::system_error& error) {
		EXPECT_EQ(error.code(), std::errc::invalid_argument);
	}
}

} // namespace
