// SPDX-License-Identifier: GPL-2.0
// The example programs, run in the guest as a user would run them
// (/kaio/bin/kaio-cp, /kaio/bin/kaio-sum; $KAIO_BIN_DIR overrides the
// directory) on files of a few MiB on ext4 and xfs. Their results are
// checked independently: the copy byte for byte, the sum against a CRC32C
// computed here.
#include "helpers.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

// An odd size: many blocks, and a short last one.
constexpr std::size_t file_bytes = 3 * 1024 * 1024 + 12345;

std::string bin_dir()
{
	return kaio_test::guest_env("KAIO_BIN_DIR").value_or("/kaio/bin");
}

struct Outcome {
	int status = -1; // exit status, or -1 if it did not exit normally
	std::string out; // its standard output (its stderr goes to ours)
};

Outcome run_program(const std::vector<std::string>& args)
{
	Outcome outcome;
	int out[2];
	if (::pipe2(out, O_CLOEXEC) != 0) {
		ADD_FAILURE() << "pipe2: " << std::strerror(errno);
		return outcome;
	}
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
	std::vector<char*> argv;
	for (const std::string& arg : args)
		argv.push_back(const_cast<char*>(arg.c_str()));
	argv.push_back(nullptr);
	pid_t pid = -1;
	const int error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
	posix_spawn_file_actions_destroy(&actions);
	::close(out[1]);
	if (error != 0) {
		::close(out[0]);
		ADD_FAILURE() << "posix_spawn " << args[0] << ": " << std::strerror(error);
		return outcome;
	}
	char chunk[512];
	for (;;) {
		const ssize_t got = ::read(out[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		outcome.out.append(chunk, static_cast<std::size_t>(got));
	}
	::close(out[0]);
	int status = 0;
	while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	// Into the log, as a record of what the programs said; whole lines
	// only, so that GoogleTest's own lines still start a line.
	if (!outcome.out.empty())
		std::printf("# %s%s", outcome.out.c_str(), outcome.out.ends_with('\n') ? "" : "\n");
	std::fflush(stdout);
	return outcome;
}

std::string describe(const std::vector<std::string>& args, const Outcome& outcome)
{
	std::string text;
	for (const std::string& arg : args)
		text += arg + " ";
	return text + "-> exit " + std::to_string(outcome.status) + ", stdout: " + outcome.out;
}

// CRC32C, bytewise with a table: an implementation independent of
// kaio-sum's (slicing-by-8 and block combination).
std::uint32_t reference_crc32c(std::span<const std::byte> data)
{
	static const auto table = [] {
		std::array<std::uint32_t, 256> t{};
		for (std::uint32_t n = 0; n < 256; n++) {
			std::uint32_t c = n;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
			t[n] = c;
		}
		return t;
	}();
	std::uint32_t crc = ~0u;
	for (const std::byte b : data)
		crc = (crc >> 8) ^ table[(crc ^ static_cast<std::uint32_t>(b)) & 0xff];
	return ~crc;
}

std::string crc_line(std::uint32_t crc, std::size_t size, const std::string& path)
{
	char text[32];
	std::snprintf(text, sizeof(text), "%08x", crc);
	return std::string(text) + " " + std::to_string(size) + " " + path + "\n";
}

// A file of the test pattern, written and then dropped from the page cache
// so the example's reads really wait for the device.
void create_cold_file(const std::string& path, std::span<const std::byte> content)
{
	const kaio_test::ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	ASSERT_GE(fd.get(), 0) << path << ": " << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(fd.get(), content, 0));
	ASSERT_EQ(::fdatasync(fd.get()), 0);
	ASSERT_EQ(::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED), 0);
}

std::vector<std::byte> read_file(const std::string& path)
{
	std::vector<std::byte> content;
	const kaio_test::ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	EXPECT_GE(fd.get(), 0) << path << ": " << std::strerror(errno);
	if (fd.get() < 0)
		return content;
	struct stat st{};
	EXPECT_EQ(::fstat(fd.get(), &st), 0);
	content.resize(static_cast<std::size_t>(st.st_size));
	kaio_test::read_all(fd.get(), content, 0);
	return content;
}

class Examples : public kaio_test::FileSystemTest {
protected:
	void SetUp() override
	{
		kaio_test::FileSystemTest::SetUp();
		if (IsSkipped())
			return;
		for (const char* program : {"kaio-cp", "kaio-sum"})
			if (::access((bin_dir() + "/" + program).c_str(), X_OK) != 0)
				GTEST_SKIP() << bin_dir() << "/" << program << " not there (make examples)";
		const std::string base = dir_ + "/kaio-example." + std::to_string(::getpid()) + ".";
		source_ = base + "src";
		destination_ = base + "dst";
		ASSERT_NO_FATAL_FAILURE(create_cold_file(source_, content()));
	}
	void TearDown() override
	{
		if (!source_.empty()) {
			::unlink(source_.c_str());
			::unlink(destination_.c_str());
		}
	}

	void copy_and_compare(std::vector<std::string> options)
	{
		std::vector<std::string> args = {bin_dir() + "/kaio-cp", source_, destination_};
		args.insert(args.end(), options.begin(), options.end());
		const Outcome outcome = run_program(args);
		ASSERT_EQ(outcome.status, 0) << describe(args, outcome);
		EXPECT_NE(outcome.out.find("copied " + std::to_string(file_bytes) + " bytes"), std::string::npos)
			<< describe(args, outcome);
		const std::vector<std::byte> copy = read_file(destination_);
		ASSERT_EQ(copy.size(), content().size());
		EXPECT_TRUE(copy == content()) << "the copy differs";
	}

	std::string sum(std::vector<std::string> options)
	{
		std::vector<std::string> args = {bin_dir() + "/kaio-sum", source_};
		args.insert(args.end(), options.begin(), options.end());
		const Outcome outcome = run_program(args);
		EXPECT_EQ(outcome.status, 0) << describe(args, outcome);
		return outcome.out;
	}

	// The file's content, made once per program: TCG is slow.
	static const std::vector<std::byte>& content()
	{
		static const std::vector<std::byte> bytes = [] {
			std::vector<std::byte> pattern(file_bytes);
			kaio_test::fill_pattern(pattern, 31, 0);
			return pattern;
		}();
		return bytes;
	}

	std::string source_;
	std::string destination_;
};

TEST_P(Examples, KaioCpCopiesByteForByte)
{
	copy_and_compare({"--depth", "8", "--block-size", "64k"});
}

TEST_P(Examples, KaioCpCopiesByteForByteWithDirectIo)
{
	copy_and_compare({"--depth", "4", "--direct"});
}

TEST_P(Examples, KaioSumIsTheFilesCrc32cAndMatchesTheSequentialSum)
{
	const std::string expected = crc_line(reference_crc32c(content()), content().size(), source_);
	EXPECT_EQ(sum({"--depth", "8", "--block-size", "64k"}), expected);
	EXPECT_EQ(sum({"--depth", "3", "--direct"}), expected);
	EXPECT_EQ(sum({"--sequential"}), expected);
}

INSTANTIATE_TEST_SUITE_P(Fs, Examples, ::testing::Values("KAIO_EXT4_DIR", "KAIO_XFS_DIR"),
			 kaio_test::file_system_name);

class ExamplesErrors : public kaio_test::DeviceTest {
protected:
	void SetUp() override
	{
		kaio_test::DeviceTest::SetUp();
		if (IsSkipped())
			return;
		if (::access((bin_dir() + "/kaio-sum").c_str(), X_OK) != 0)
			GTEST_SKIP() << bin_dir() << "/kaio-sum not there (make examples)";
	}
};

TEST_F(ExamplesErrors, KaioSumGivesTheCrc32cCheckValue)
{
	kaio_test::TempFile file(kaio_test::guest_env("TMPDIR").value_or("/tmp"));
	const std::string check = "123456789";
	ASSERT_NO_FATAL_FAILURE(kaio_test::write_all(file.fd(), std::as_bytes(std::span(check)), 0));
	const std::vector<std::string> args = {bin_dir() + "/kaio-sum", file.path(), "--block-size", "4"};
	const Outcome outcome = run_program(args);
	EXPECT_EQ(outcome.status, 0);
	EXPECT_EQ(outcome.out, "e3069283 9 " + file.path() + "\n");
}

TEST_F(ExamplesErrors, KaioCpAndKaioSumFailCleanlyOnAMissingFile)
{
	const std::string missing = "/nonexistent/kaio-example";
	EXPECT_EQ(run_program({bin_dir() + "/kaio-cp", missing, "/tmp/kaio-example.dst"}).status, 1);
	EXPECT_EQ(run_program({bin_dir() + "/kaio-sum", missing}).status, 1);
}

TEST_F(ExamplesErrors, KaioSumReportsADeviceErrorInsteadOfASum)
{
	const auto error_device = kaio_test::guest_env("KAIO_ERROR_DEV");
	if (!error_device)
		GTEST_SKIP() << "$KAIO_ERROR_DEV is not set";
	// The whole device fails with EIO; read only its first blocks.
	const std::vector<std::string> args = {bin_dir() + "/kaio-sum", *error_device, "--direct"};
	const Outcome outcome = run_program(args);
	EXPECT_EQ(outcome.status, 1) << describe(args, outcome);
	EXPECT_EQ(outcome.out, "");
}

} // namespace
