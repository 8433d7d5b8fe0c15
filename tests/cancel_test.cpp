// SPDX-License-Identifier: GPL-2.0
// io_cancel semantics: EINVAL for a request that is not pending; a
// cancelled request still delivers exactly one event, with -ECANCELED.
#include "helpers.hpp"

#include <fcntl.h>

#include <array>
#include <map>
#include <vector>

namespace {

using kaio_test::DeviceTest;

using Cancel = DeviceTest;

TEST_F(Cancel, CompletedRequestIsNotPendingSoCancelFailsWithInvalidArgument)
{
	kaio::Context context(8);
	iocb request = kaio::make_noop();
	iocb* const pointers[] = {&request};
	ASSERT_EQ(context.submit(pointers), 1u);
	ASSERT_EQ(kaio_test::wait_for_events(context, 1).size(), 1u);

	std::error_code ec;
	context.cancel(request, ec);
	EXPECT_EQ(ec, std::errc::invalid_argument);
	EXPECT_THROW(context.cancel(request), std::system_error);
}

TEST_F(Cancel, NeverSubmittedRequestFailsWithInvalidArgument)
{
	kaio::Context context(8);
	const iocb stranger = kaio::make_noop();
	std::error_code ec;
	context.cancel(stranger, ec);
	EXPECT_EQ(ec, std::errc::invalid_argument);
}

class CancelInFlight : public DeviceTest {
protected:
	void SetUp() override
	{
		DeviceTest::SetUp();
		if (IsSkipped())
			return;
		dir_ = kaio_test::guest_env("KAIO_EXT4_DIR");
		if (!dir_)
			GTEST_SKIP() << "$KAIO_EXT4_DIR is not set";
	}
	std::optional<std::string> dir_;
};

TEST_F(CancelInFlight, EveryCancelOutcomeMatchesTheSingleEventThatFollows)
{
	constexpr std::size_t reads = 8;
	constexpr std::size_t stride = 128 * 1024;
	constexpr std::size_t read_bytes = 4096;
	kaio_test::TempFile file(*dir_);
	std::vector<std::byte> content(reads * stride);
	kaio_test::fill_pattern(content, 6, 0);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), content, 0));
	// Cold cache, no readahead: each read has to wait for the device, which
	// gives cancel a chance to find it parked.
	ASSERT_EQ(::fdatasync(file.fd()), 0);
	ASSERT_EQ(::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_DONTNEED), 0);
	ASSERT_EQ(::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_RANDOM), 0);

	kaio::Context context(16);
	std::vector<std::vector<std::byte>> buffers(reads, std::vector<std::byte>(read_bytes));
	std::array<iocb, reads> requests{};
	std::array<iocb*, reads> pointers{};
	for (std::size_t i = 0; i < reads; i++) {
		requests[i] = kaio::make_read(file.fd(), buffers[i], i * stride);
		kaio::set_user_data(requests[i], std::uint64_t{i});
		pointers[i] = &requests[i];
	}
	ASSERT_EQ(context.submit(pointers), reads);

	enum class Outcome { cancelled, running, not_pending };
	std::array<Outcome, reads> outcomes{};
	for (std::size_t i = 0; i < reads; i++) {
		std::error_code ec;
		const kaio::CancelResult result = context.cancel(requests[i], ec);
		if (ec) {
			ASSERT_EQ(ec, std::errc::invalid_argument) << ec.message();
			outcomes[i] = Outcome::not_pending;
		} else {
			outcomes[i] = result == kaio::CancelResult::cancelled ? Outcome::cancelled
									 : Outcome::running;
		}
	}

	const auto events = kaio_test::wait_for_events(context, reads);
	ASSERT_EQ(events.size(), reads);
	std::map<std::uint64_t, int> events_per_request;
	for (const io_event& event : events) {
		const std::uint64_t i = event.data;
		ASSERT_LT(i, reads);
		events_per_request[i]++;
		if (outcomes[i] == Outcome::cancelled) {
			EXPECT_EQ(event.res, -ECANCELED) << "read " << i << " was reported cancelled";
		} else {
			EXPECT_EQ(event.res, static_cast<std::int64_t>(read_bytes)) << "read " << i;
			EXPECT_EQ(kaio_test::pattern_mismatch(buffers[i], 6, i * stride), std::nullopt);
		}
	}
	EXPECT_EQ(events_per_request.size(), reads) << "some request had no event or two";

	// Nothing is left over: no late second event.
	std::array<io_event, 1> extra{};
	EXPECT_EQ(context.get_events(0, extra, std::chrono::milliseconds(20)), 0u);
}

} // namespace
