// SPDX-License-Identifier: GPL-2.0
// Request builders and event helpers: pure functions, so these run anywhere.
#include "helpers.hpp"

#include <linux/fs.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace {

// An iocb with every byte zero except the listed fields is what the module
// accepts: compare against one built field by field from zero.
bool same_bytes(const iocb& a, const iocb& b)
{
	return std::memcmp(&a, &b, sizeof(iocb)) == 0;
}

TEST(RequestBuilders, ReadSetsOpcodeFdBufferLengthAndOffsetAndNothingElse)
{
	std::array<std::byte, 512> buffer{};
	const iocb request = kaio::make_read(7, buffer, 4096);

	iocb expected{};
	expected.aio_lio_opcode = IOCB_CMD_PREAD;
	expected.aio_fildes = 7;
	expected.aio_buf = reinterpret_cast<std::uintptr_t>(buffer.data());
	expected.aio_nbytes = buffer.size();
	expected.aio_offset = 4096;
	EXPECT_TRUE(same_bytes(request, expected));
}

TEST(RequestBuilders, EachBuilderUsesItsOwnOpcode)
{
	std::array<std::byte, 16> buffer{};
	std::array<iovec, 2> iov{};
	EXPECT_EQ(kaio::make_read(3, buffer, 0).aio_lio_opcode, IOCB_CMD_PREAD);
	EXPECT_EQ(kaio::make_write(3, buffer, 0).aio_lio_opcode, IOCB_CMD_PWRITE);
	EXPECT_EQ(kaio::make_readv(3, iov, 0).aio_lio_opcode, IOCB_CMD_PREADV);
	EXPECT_EQ(kaio::make_writev(3, iov, 0).aio_lio_opcode, IOCB_CMD_PWRITEV);
	EXPECT_EQ(kaio::make_fsync(3).aio_lio_opcode, IOCB_CMD_FSYNC);
	EXPECT_EQ(kaio::make_fdsync(3).aio_lio_opcode, IOCB_CMD_FDSYNC);
	EXPECT_EQ(kaio::make_noop().aio_lio_opcode, IOCB_CMD_NOOP);
	EXPECT_EQ(kaio::make_poll(3, POLLIN).aio_lio_opcode, IOCB_CMD_POLL);
}

TEST(RequestBuilders, PollCarriesItsEventMaskInAioBuf)
{
	const iocb request = kaio::make_poll(4, POLLIN | POLLOUT);
	EXPECT_EQ(request.aio_fildes, 4u);
	EXPECT_EQ(request.aio_buf, static_cast<std::uint64_t>(POLLIN | POLLOUT));
	EXPECT_EQ(request.aio_nbytes, 0u);
	EXPECT_EQ(request.aio_offset, 0);
}

TEST(RequestBuilders, VectoredRequestsCountIovecsNotBytes)
{
	std::array<std::byte, 100> first{};
	std::array<std::byte, 300> second{};
	const std::array<iovec, 2> iov{{{first.data(), first.size()}, {second.data(), second.size()}}};
	const iocb request = kaio::make_writev(5, iov, 8192);
	EXPECT_EQ(request.aio_buf, reinterpret_cast<std::uintptr_t>(iov.data()));
	EXPECT_EQ(request.aio_nbytes, 2u);
	EXPECT_EQ(request.aio_offset, 8192);
}

TEST(RequestBuilders, SettersAddFlagsWithoutDisturbingTheRequest)
{
	std::array<std::byte, 64> buffer{};
	iocb request = kaio::make_write(9, buffer, 128);
	const iocb plain = request;
	kaio::set_rw_flags(request, RWF_DSYNC);
	kaio::set_eventfd(request, 11);
	kaio::set_user_data(request, std::uint64_t{42});

	EXPECT_EQ(request.aio_rw_flags, RWF_DSYNC);
	EXPECT_EQ(request.aio_flags, IOCB_FLAG_RESFD);
	EXPECT_EQ(request.aio_resfd, 11u);
	EXPECT_EQ(request.aio_data, 42u);
	EXPECT_EQ(request.aio_buf, plain.aio_buf);
	EXPECT_EQ(request.aio_nbytes, plain.aio_nbytes);
	EXPECT_EQ(request.aio_offset, plain.aio_offset);
	EXPECT_EQ(request.aio_reserved2, 0u);
}

TEST(RequestBuilders, TypedUserDataComesBackFromTheEvent)
{
	struct Pending {
		int id;
	} pending{17};
	iocb request = kaio::make_noop();
	kaio::set_user_data(request, &pending);

	io_event event{};
	event.data = request.aio_data;
	event.obj = reinterpret_cast<std::uintptr_t>(&request);
	EXPECT_EQ(kaio::user_data<Pending>(event), &pending);
	EXPECT_EQ(kaio::completed_request(event), &request);
}

TEST(EventHelpers, NegativeResultIsTheErrnoAsSystemError)
{
	io_event failed{};
	failed.res = -EIO;
	EXPECT_EQ(kaio::event_error(failed), std::errc::io_error);
	EXPECT_EQ(kaio::event_bytes(failed), 0u);

	io_event transferred{};
	transferred.res = 4096;
	EXPECT_FALSE(kaio::event_error(transferred));
	EXPECT_EQ(kaio::event_bytes(transferred), 4096u);
}

TEST(EventHelpers, Res2NamesTheCompletionPath)
{
	io_event event{};
	event.res2 = KAIO_PATH_INLINE;
	EXPECT_EQ(kaio::completion_path(event), kaio::CompletionPath::inline_in_submit);
	event.res2 = KAIO_PATH_WORKER;
	EXPECT_EQ(kaio::to_string(kaio::completion_path(event)), "worker");
	event.res2 = 0;
	EXPECT_EQ(kaio::completion_path(event), kaio::CompletionPath::unreported);
	event.res2 = 99;
	EXPECT_EQ(kaio::completion_path(event), kaio::CompletionPath::unreported);
}

} // namespace
