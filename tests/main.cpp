// SPDX-License-Identifier: GPL-2.0
// GoogleTest main with a per-test watchdog, as liburing's tests arm alarm():
// a test that hangs in the kernel must end this program with a message
// naming it instead of eating the guest's whole time budget.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace {

constexpr unsigned watchdog_seconds = 30;

// Written by the listener, read by the signal handler: a fixed buffer, so
// the handler needs nothing but write(2).
char running_test[256] = "(none)";

void watchdog_expired(int)
{
	const char prefix[] = "\nkaio_cxx_test: watchdog: test ";
	const char suffix[] = " still running after the time limit\n";
	(void)!::write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
	(void)!::write(STDERR_FILENO, running_test, ::strlen(running_test));
	(void)!::write(STDERR_FILENO, suffix, sizeof(suffix) - 1);
	::_exit(124);
}

class Watchdog : public ::testing::EmptyTestEventListener {
	void OnTestStart(const ::testing::TestInfo& test) override
	{
		const std::string name = std::string(test.test_suite_name()) + "." + test.name();
		::strncpy(running_test, name.c_str(), sizeof(running_test) - 1);
		::alarm(watchdog_seconds);
	}
	void OnTestEnd(const ::testing::TestInfo&) override { ::alarm(0); }
};

} // namespace

int main(int argc, char** argv)
{
	::testing::InitGoogleTest(&argc, argv);
	struct sigaction action{};
	action.sa_handler = watchdog_expired;
	::sigaction(SIGALRM, &action, nullptr);
	// GoogleTest takes ownership of appended listeners.
	::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
	return RUN_ALL_TESTS();
}
