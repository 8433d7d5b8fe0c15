// SPDX-License-Identifier: GPL-2.0
// kaio_cli::Parser (common/include/kaio_cli/options.hpp), the option parser
// of tools/, examples/ and fuzz/: both value spellings, short options,
// positional arguments anywhere, --help, and the errors (unknown option,
// missing value, bad number) with the exit status 2 of getopt programs.
// Needs no device: runs anywhere.
#include <kaio_cli/options.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using kaio_cli::Parser;
using Status = Parser::Status;

// argv as getopt_long wants it: mutable, with argv[argc] == nullptr.
class Args {
public:
	explicit Args(std::vector<std::string> words) : words_(std::move(words))
	{
		for (std::string& word : words_)
			pointers_.push_back(word.data());
		pointers_.push_back(nullptr);
	}
	int argc() const { return static_cast<int>(words_.size()); }
	char** argv() { return pointers_.data(); }

private:
	std::vector<std::string> words_;
	std::vector<char*> pointers_;
};

// A program with one option of each kind, as kaio-cp and kaio-bench have.
struct Settings {
	std::size_t depth = 8;
	std::uint64_t size = 0;
	unsigned qd = 1;
	double runtime = 2.0;
	bool direct = false;
	bool json = true;
	std::string label;
	bool write = false;
	std::optional<bool> once;
};

Parser make_parser(Settings& s)
{
	return Parser({.name = "kaio-x", .synopsis = "[OPTION]... SRC DST", .about = "Does x.",
		       .epilogue = "Sizes may end in k, m or g."},
		      {kaio_cli::number("depth", 'd', "N", "reads in flight", s.depth,
					{.min = 1, .max = 4096, .suffixes = true}),
		       kaio_cli::number("size", 0, "BYTES", "how much", s.size, {.suffixes = true}),
		       kaio_cli::number("qd", 0, "N", "queue depth", s.qd, {.base = 0}),
		       kaio_cli::number("runtime", 0, "SEC", "seconds per run", s.runtime),
		       kaio_cli::flag("direct", 0, "O_DIRECT", s.direct),
		       kaio_cli::flag("json", 0, "JSON lines (the default)", s.json),
		       kaio_cli::flag("no-json", 0, "no JSON lines", s.json, false),
		       kaio_cli::text("label", 'l', "TEXT", "the run's name\non two lines", s.label),
		       kaio_cli::choice("rw", 0, "read or write", s.write, {{"read", false}, {"write", true}}),
		       kaio_cli::flag("once", 0, "each block once", s.once)});
}

Parser::Outcome parse(Settings& s, std::vector<std::string> words)
{
	Args args(std::move(words));
	return make_parser(s).parse(args.argc(), args.argv());
}

TEST(Options, BothValueSpellingsAndShortForms)
{
	for (const auto& words : std::vector<std::vector<std::string>>{
		     {"kaio-x", "--depth", "16", "--label", "a b"},
		     {"kaio-x", "--depth=16", "--label=a b"},
		     {"kaio-x", "-d", "16", "-l", "a b"},
		     {"kaio-x", "-d16", "-la b"},
		     {"kaio-x", "--dep", "16", "--lab=a b"}}) { // unambiguous prefixes
		Settings s;
		const auto outcome = parse(s, words);
		EXPECT_EQ(outcome.status, Status::ok) << outcome.error;
		EXPECT_EQ(s.depth, 16u) << words[1];
		EXPECT_EQ(s.label, "a b") << words[1];
		EXPECT_TRUE(outcome.positional.empty());
	}
}

TEST(Options, NumbersFlagsChoicesAndTheLastOneWins)
{
	Settings s;
	const auto outcome = parse(s, {"kaio-x", "--size", "64m", "--qd", "0x20", "--runtime", "1.5", "--direct",
				       "--no-json", "--rw", "write", "--once", "--depth", "4k", "--depth", "2"});
	ASSERT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_EQ(s.size, 64u << 20);
	EXPECT_EQ(s.qd, 32u);
	EXPECT_DOUBLE_EQ(s.runtime, 1.5);
	EXPECT_TRUE(s.direct);
	EXPECT_FALSE(s.json);
	EXPECT_TRUE(s.write);
	EXPECT_EQ(s.once, true);
	EXPECT_EQ(s.depth, 2u);
	EXPECT_EQ(parse(s, {"kaio-x", "--json"}).status, Status::ok);
	EXPECT_TRUE(s.json);
}

TEST(Options, PositionalArgumentsAnywhereAndAfterDoubleDash)
{
	Settings s;
	// kaio-cp SRC DST --depth 4 --direct, as tests/examples_test.cpp runs it.
	auto outcome = parse(s, {"kaio-x", "src", "--depth", "4", "dst", "--direct"});
	ASSERT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_EQ(outcome.positional, (std::vector<std::string>{"src", "dst"}));
	EXPECT_EQ(s.depth, 4u);
	EXPECT_TRUE(s.direct);

	Settings t;
	outcome = parse(t, {"kaio-x", "-", "--", "--direct", "-d"});
	ASSERT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_EQ(outcome.positional, (std::vector<std::string>{"-", "--direct", "-d"}));
	EXPECT_FALSE(t.direct);

	// POSIXLY_CORRECT would stop plain getopt_long at "src".
	::setenv("POSIXLY_CORRECT", "1", 1);
	Settings u;
	outcome = parse(u, {"kaio-x", "src", "--depth", "4"});
	::unsetenv("POSIXLY_CORRECT");
	ASSERT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_EQ(outcome.positional, (std::vector<std::string>{"src"}));
	EXPECT_EQ(u.depth, 4u);
}

TEST(Options, MissingValue)
{
	Settings s;
	auto outcome = parse(s, {"kaio-x", "--depth"});
	EXPECT_EQ(outcome.status, Status::error);
	EXPECT_EQ(outcome.error, "kaio-x: option '--depth' needs a value");
	outcome = parse(s, {"kaio-x", "src", "-d"});
	EXPECT_EQ(outcome.status, Status::error);
	EXPECT_EQ(outcome.error, "kaio-x: option '-d' needs a value");
	outcome = parse(s, {"kaio-x", "--label"});
	EXPECT_EQ(outcome.error, "kaio-x: option '--label' needs a value");
	// The next word is the value, whatever it looks like.
	outcome = parse(s, {"kaio-x", "--label", "--direct"});
	EXPECT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_EQ(s.label, "--direct");
	EXPECT_FALSE(s.direct);
}

TEST(Options, UnknownOption)
{
	Settings s;
	auto outcome = parse(s, {"kaio-x", "--nope", "1"});
	EXPECT_EQ(outcome.status, Status::error);
	EXPECT_EQ(outcome.error, "kaio-x: unknown option '--nope'");
	outcome = parse(s, {"kaio-x", "--nope=1"});
	EXPECT_EQ(outcome.error, "kaio-x: unknown option '--nope'");
	outcome = parse(s, {"kaio-x", "-x"});
	EXPECT_EQ(outcome.error, "kaio-x: unknown option '-x'");
	outcome = parse(s, {"kaio-x", "-ld", "-x"});
	EXPECT_EQ(outcome.error, "kaio-x: unknown option '-x'");
	outcome = parse(s, {"kaio-x", "-lbx"});
	EXPECT_EQ(outcome.status, Status::ok) << "-l takes the rest as its value";
	EXPECT_EQ(s.label, "bx");
	// No single-dash long options: -direct is -d irect.
	outcome = parse(s, {"kaio-x", "-direct"});
	EXPECT_EQ(outcome.error, "kaio-x: option '--depth': bad number 'irect' (a number, may end in k, m or g)");
	outcome = parse(s, {"kaio-x", "-qd", "4"});
	EXPECT_EQ(outcome.error, "kaio-x: unknown option '-q'");
	outcome = parse(s, {"kaio-x", "--direct=1"});
	EXPECT_EQ(outcome.error, "kaio-x: option '--direct' takes no value");
	outcome = parse(s, {"kaio-x", "--js"});
	EXPECT_EQ(outcome.status, Status::ok) << "an unambiguous prefix";
	outcome = parse(s, {"kaio-x", "--d", "1"});
	EXPECT_EQ(outcome.error, "kaio-x: option '--d' is ambiguous (--depth, --direct)");
}

TEST(Options, BadNumber)
{
	const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
		{{"--depth", "abc"}, "option '--depth': bad number 'abc' (a number, may end in k, m or g)"},
		{{"--depth", ""}, "option '--depth': bad number '' (a number, may end in k, m or g)"},
		{{"--depth", "-1"}, "option '--depth': bad number '-1' (a number, may end in k, m or g)"},
		{{"--depth", "8x"}, "option '--depth': bad number '8x' (a number, may end in k, m or g)"},
		{{"--depth", "0"}, "option '--depth': '0' is out of range (1..4096)"},
		{{"--depth=5k"}, "option '--depth': '5k' is out of range (1..4096)"},
		{{"--size", "99999999999999999999"}, "option '--size': '99999999999999999999' is too large"},
		{{"--size", "17179869184g"}, "option '--size': '17179869184g' is too large"},
		{{"--qd", "4294967296"}, "option '--qd': '4294967296' is out of range (at most 4294967295)"},
		{{"--qd", "1k"}, "option '--qd': bad number '1k'"},
		{{"--qd", "09"}, "option '--qd': bad number '09'"},
		{{"--runtime", "soon"}, "option '--runtime': bad number 'soon'"},
		{{"--runtime", "nan"}, "option '--runtime': bad number 'nan'"},
		{{"--runtime", "-1"}, "option '--runtime': '-1' is out of range (at least 0)"},
		{{"--rw", "both"}, "option '--rw': 'both' is not one of read, write"},
	};
	for (const auto& [words, message] : cases) {
		Settings s;
		std::vector<std::string> argv = {"kaio-x"};
		argv.insert(argv.end(), words.begin(), words.end());
		const auto outcome = parse(s, argv);
		EXPECT_EQ(outcome.status, Status::error) << words[0];
		EXPECT_EQ(outcome.error, "kaio-x: " + message);
	}
}

TEST(Options, Help)
{
	Settings s;
	for (const char* help : {"--help", "-h", "--he"}) {
		const auto outcome = parse(s, {"kaio-x", "--direct", help, "--nope"});
		EXPECT_EQ(outcome.status, Status::help) << help;
	}
	const std::string text = make_parser(s).help();
	EXPECT_EQ(text.rfind("usage: kaio-x [OPTION]... SRC DST\nDoes x.\n\nOptions:\n", 0), 0u) << text;
	EXPECT_NE(text.find("\n  -d, --depth=N        reads in flight\n"), std::string::npos) << text;
	EXPECT_NE(text.find("\n      --direct         O_DIRECT\n"), std::string::npos) << text;
	EXPECT_NE(text.find("\n      --rw=read|write  read or write\n"), std::string::npos) << text;
	EXPECT_NE(text.find("\n  -l, --label=TEXT     the run's name\n                       on two lines\n"),
		  std::string::npos) << text;
	EXPECT_NE(text.find("\n  -h, --help           show this help and exit\n"), std::string::npos) << text;
	EXPECT_TRUE(text.ends_with("\n\nSizes may end in k, m or g.\n")) << text;

	// Long help is wrapped at word boundaries to 79 columns ("twelve" ends
	// in column 79).
	bool b = false;
	const Parser wordy({.name = "x"},
			   {kaio_cli::flag("wordy", 0,
					   "one two three four five six seven eight nine ten eleven twelve "
					   "thirteen fourteen fifteen",
					   b)});
	EXPECT_NE(wordy.help().find("\n      --wordy  one two three four five six seven eight nine ten eleven twelve\n"
				    "               thirteen fourteen fifteen\n"),
		  std::string::npos)
		<< wordy.help();
}

TEST(Options, ExitStatusAndMessages)
{
	Settings s;
	const Parser parser = make_parser(s);
	Args unknown({"kaio-x", "--nope"});
	EXPECT_EXIT(parser.parse_or_exit(unknown.argc(), unknown.argv()), ::testing::ExitedWithCode(2),
		    "^kaio-x: unknown option '--nope'\nTry 'kaio-x --help' for more information.\n$");
	Args bad({"kaio-x", "--depth", "x"});
	EXPECT_EXIT(parser.parse_or_exit(bad.argc(), bad.argv()), ::testing::ExitedWithCode(2),
		    "kaio-x: option '--depth': bad number 'x'");
	Args help({"kaio-x", "--help"});
	EXPECT_EXIT(
		{
			// The help goes to stdout; keep it out of the test's output.
			(void)!std::freopen("/dev/null", "w", stdout);
			parser.parse_or_exit(help.argc(), help.argv());
		},
		::testing::ExitedWithCode(0), "^$");
	EXPECT_EXIT(parser.fail("need SRC and DST"), ::testing::ExitedWithCode(2),
		    "^kaio-x: need SRC and DST\nTry");
	EXPECT_EXIT(kaio_cli::usage_error("kaio-x", "no --file"), ::testing::ExitedWithCode(2),
		    "^kaio-x: no --file\nTry 'kaio-x --help' for more information.\n$");
	Args good({"kaio-x", "a", "b"});
	EXPECT_EQ(parser.parse_or_exit(good.argc(), good.argv()), (std::vector<std::string>{"a", "b"}));
}

TEST(Options, TablesGetoptLongCannotTakeAreRefused)
{
	bool b = false;
	EXPECT_THROW(Parser({.name = "x"}, {kaio_cli::flag("help", 0, "", b)}), std::logic_error);
	EXPECT_THROW(Parser({.name = "x"}, {kaio_cli::flag("a", 'a', "", b), kaio_cli::flag("a", 0, "", b)}),
		     std::logic_error);
	EXPECT_THROW(Parser({.name = "x"}, {kaio_cli::flag("a", 'a', "", b), kaio_cli::flag("b", 'a', "", b)}),
		     std::logic_error);
	EXPECT_THROW(Parser({.name = "x"}, {kaio_cli::flag("a", ':', "", b)}), std::logic_error);
	EXPECT_THROW(Parser({.name = "x"}, {kaio_cli::Option{"a", 0, "N", "", nullptr}}), std::logic_error);
	// A program's own -h: --help keeps only its long name.
	const Parser own_h({.name = "x"}, {kaio_cli::flag("human", 'h', "", b)});
	EXPECT_NE(own_h.help().find("\n      --help"), std::string::npos) << own_h.help();
}

// fuzz/kaio_fuzz.cpp's options, as its main() reads them by hand today,
// and the way fuzz/kaio_fuzz.sh runs it: the table it will have.
TEST(Options, KaioFuzzsOptionsFitATable)
{
	struct {
		std::uint64_t seed = 1, iterations = 2000, threads = 4, procs = 1, hang_s = 60, timeout_s = 600;
		bool leaks = false;
	} opt;
	const kaio_cli::Unsigned positive{.min = 1, .base = 0};
	const Parser parser({.name = "kaio-fuzz"},
			    {kaio_cli::number("seed", 0, "N", "", opt.seed, {.base = 0}),
			     kaio_cli::number("iterations", 0, "N", "", opt.iterations, positive),
			     kaio_cli::number("threads", 0, "N", "", opt.threads, positive),
			     kaio_cli::number("procs", 0, "N", "", opt.procs, positive),
			     kaio_cli::number("hang", 0, "S", "", opt.hang_s, {.base = 0}),
			     kaio_cli::number("timeout", 0, "S", "", opt.timeout_s, {.base = 0}),
			     kaio_cli::flag("check-leaks", 0, "", opt.leaks)});
	Args args({"kaio-fuzz", "--seed", "3", "--iterations", "3000", "--threads", "4", "--procs", "2",
		   "--timeout", "300", "--check-leaks"});
	const auto outcome = parser.parse(args.argc(), args.argv());
	ASSERT_EQ(outcome.status, Status::ok) << outcome.error;
	EXPECT_TRUE(outcome.positional.empty());
	EXPECT_EQ(opt.seed, 3u);
	EXPECT_EQ(opt.iterations, 3000u);
	EXPECT_EQ(opt.procs, 2u);
	EXPECT_EQ(opt.timeout_s, 300u);
	EXPECT_EQ(opt.hang_s, 60u);
	EXPECT_TRUE(opt.leaks);
	Args zero({"kaio-fuzz", "--threads", "0"});
	EXPECT_EQ(parser.parse(zero.argc(), zero.argv()).error,
		  "kaio-fuzz: option '--threads': '0' is out of range (at least 1)");
}

} // namespace
