// SPDX-License-Identifier: GPL-2.0
// kaio_cli: the command-line parser of kaio's programs (tools/, examples/,
// fuzz/), on getopt_long. Header-only; not part of libkaio++ (its public API
// is userlib/include/kaio/) and never installed.
//
// A program declares its options in one table; the parser generates --help
// (and -h, unless the program uses that letter) from it:
//
//	Options o;
//	const kaio_cli::Parser parser(
//		{.name = "kaio-cp", .synopsis = "[OPTION]... SRC DST", .about = "Copy SRC to DST."},
//		{kaio_cli::number("depth", 'd', "N", "reads in flight", o.depth, {.min = 1, .max = 4096}),
//		 kaio_cli::flag("direct", 0, "open both files with O_DIRECT", o.direct)});
//	const std::vector<std::string> paths = parser.parse_or_exit(argc, argv);
//	if (paths.size() != 2)
//		parser.fail("need SRC and DST");
//
// Values are spelled as getopt_long takes them: --depth 8, --depth=8, -d 8,
// -d8, and any unambiguous prefix of a long name (--dep 8). Options and
// positional arguments may come in any order (whatever POSIXLY_CORRECT
// says); "--" ends the options. Each option's action runs as its option is
// met, so a later one overrides an earlier one (--json ... --no-json).
//
// parse_or_exit() prints the help on stdout and exits 0 for --help; on an
// unknown option, a missing value or a value an action refuses (a bad
// number, a number out of range, a word not among the choices) it prints
// "NAME: what is wrong" and a pointer to --help on stderr and exits 2, as
// getopt programs do; fail() does the same for the program's own checks,
// and usage_error() where the parser is out of reach. parse() is the same
// without printing or exiting (the unit tests).
#ifndef KAIO_CLI_OPTIONS_HPP
#define KAIO_CLI_OPTIONS_HPP

#include <getopt.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaio_cli {

// What an option's action throws for a value it refuses. The parser reports
// "NAME: option '--LONG': WHAT".
class BadValue : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// One row of a program's table. The helpers below make the usual ones; a
// row written out with its own action is for anything else.
struct Option {
	std::string long_name;		// without "--"; every option has one
	char short_name = 0;		// a letter or digit; 0: none
	std::string value_name;		// "N", "PATH" in the help; empty: no value
	std::string help;		// wrapped to 79 columns; '\n' breaks a line
	// Called as the option is met, with its value ("" for an option that
	// takes none). Throws BadValue to refuse the value.
	std::function<void(std::string_view value)> action;

	bool takes_value() const noexcept { return !value_name.empty(); }
};

// How number() reads an unsigned number.
struct Unsigned {
	std::uint64_t min = 0;
	// Also at most what the target's type holds.
	std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
	// A k, m or g suffix (either case) multiplies by 2^10, 2^20, 2^30.
	bool suffixes = false;
	// 10; 16, 8; or 0: as strtoull, 0x... hexadecimal, 0... octal.
	int base = 10;
};

// How number() reads a real number (seconds, say).
struct Real {
	double min = 0;
	double max = std::numeric_limits<double>::max();
};

namespace detail {

inline std::string quoted(std::string_view text)
{
	return "'" + std::string(text) + "'";
}

template <typename T>
std::string range_text(T min, T max, T no_max)
{
	auto str = [](T v) {
		if constexpr (std::is_floating_point_v<T>) {
			char text[32];
			std::snprintf(text, sizeof text, "%g", v);
			return std::string(text);
		} else {
			return std::to_string(v);
		}
	};
	if (max == no_max)
		return "at least " + str(min);
	if (min == T{})
		return "at most " + str(max);
	return str(min) + ".." + str(max);
}

} // namespace detail

// `text` as `format` says, or BadValue. No sign, no blanks: "-1" is not a
// large number.
inline std::uint64_t parse_unsigned(std::string_view text, const Unsigned& format)
{
	std::string_view digits = text;
	unsigned shift = 0;
	if (format.suffixes && !digits.empty()) {
		switch (digits.back()) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: break;
		}
		if (shift)
			digits.remove_suffix(1);
	}
	int base = format.base;
	if (base == 0) {
		base = 10;
		if (digits.size() > 1 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
			base = 16;
			digits.remove_prefix(2);
		} else if (digits.size() > 1 && digits[0] == '0') {
			base = 8;
			digits.remove_prefix(1);
		}
	}
	std::uint64_t value = 0;
	const char* const end = digits.data() + digits.size();
	const auto [stop, error] = std::from_chars(digits.data(), end, value, base);
	if (digits.empty() || error == std::errc::invalid_argument || stop != end)
		throw BadValue("bad number " + detail::quoted(text) +
			       (format.suffixes ? " (a number, may end in k, m or g)" : ""));
	if (error == std::errc::result_out_of_range ||
	    value > (std::numeric_limits<std::uint64_t>::max() >> shift))
		throw BadValue(detail::quoted(text) + " is too large");
	value <<= shift;
	if (value < format.min || value > format.max)
		throw BadValue(detail::quoted(text) + " is out of range (" +
			       detail::range_text(format.min, format.max,
						  std::numeric_limits<std::uint64_t>::max()) +
			       ")");
	return value;
}

inline double parse_real(std::string_view text, const Real& format)
{
	double value = 0;
	const char* const end = text.data() + text.size();
	const auto [stop, error] = std::from_chars(text.data(), end, value);
	if (text.empty() || error != std::errc{} || stop != end || !std::isfinite(value))
		throw BadValue("bad number " + detail::quoted(text));
	if (value < format.min || value > format.max)
		throw BadValue(detail::quoted(text) + " is out of range (" +
			       detail::range_text(format.min, format.max, std::numeric_limits<double>::max()) +
			       ")");
	return value;
}

// ---- the rows -------------------------------------------------------------

// No value: sets `target` to `value` (true unless given), so two options can
// set one variable (--json, --no-json).
template <typename T, typename V = bool>
Option flag(std::string long_name, char short_name, std::string help, T& target, V value = true)
{
	return {std::move(long_name), short_name, {}, std::move(help),
		[&target, value](std::string_view) { target = value; }};
}

// Any text.
inline Option text(std::string long_name, char short_name, std::string value_name, std::string help,
		   std::string& target)
{
	return {std::move(long_name), short_name, std::move(value_name), std::move(help),
		[&target](std::string_view value) { target = value; }};
}

// An unsigned number (bool is not one).
template <std::unsigned_integral T>
	requires(!std::same_as<T, bool>)
Option number(std::string long_name, char short_name, std::string value_name, std::string help, T& target,
	      Unsigned format = {})
{
	format.max = std::min<std::uint64_t>(format.max, std::numeric_limits<T>::max());
	return {std::move(long_name), short_name, std::move(value_name), std::move(help),
		[&target, format](std::string_view value) {
			target = static_cast<T>(parse_unsigned(value, format));
		}};
}

inline Option number(std::string long_name, char short_name, std::string value_name, std::string help,
		     double& target, Real format = {})
{
	return {std::move(long_name), short_name, std::move(value_name), std::move(help),
		[&target, format](std::string_view value) { target = parse_real(value, format); }};
}

// One word of a fixed set, each standing for a value of `target`'s type
// (std::optional<E> takes E's). The help shows them as WORD|WORD.
template <typename T>
Option choice(std::string long_name, char short_name, std::string help, T& target,
	      std::vector<std::pair<std::string, std::type_identity_t<T>>> choices)
{
	std::string words;
	for (const auto& [word, value] : choices)
		words += (words.empty() ? "" : "|") + word;
	return {std::move(long_name), short_name, words, std::move(help),
		[&target, choices = std::move(choices)](std::string_view value) {
			std::string known;
			for (const auto& [word, meaning] : choices) {
				if (word == value) {
					target = meaning;
					return;
				}
				known += (known.empty() ? "" : ", ") + word;
			}
			throw BadValue(detail::quoted(value) + " is not one of " + known);
		}};
}

// ---- the parser -----------------------------------------------------------

namespace detail {

// `line` and a pointer to --help on stderr, then exit status 2.
[[noreturn]] inline void exit_usage(std::string_view program, std::string_view line)
{
	std::fprintf(stderr, "%.*s\nTry '%.*s --help' for more information.\n", static_cast<int>(line.size()),
		     line.data(), static_cast<int>(program.size()), program.data());
	std::exit(2);
}

} // namespace detail

// "PROGRAM: WHAT" and a pointer to --help on stderr, then exit status 2:
// Parser::fail() for a check made where the parser is out of reach.
[[noreturn]] inline void usage_error(std::string_view program, std::string_view what)
{
	detail::exit_usage(program, std::string(program) + ": " + std::string(what));
}

struct Program {
	std::string name;		// starts every message; "usage: NAME ..."
	std::string synopsis = "[OPTION]...";	// the rest of the usage line
	std::string about = {};		// after the usage line; '\n' allowed
	std::string epilogue = {};	// after the options
};

class Parser {
public:
	enum class Status { ok, help, error };

	struct Outcome {
		Status status = Status::ok;
		// The arguments that are not options, in their order.
		std::vector<std::string> positional;
		// With Status::error: "NAME: what is wrong", one line.
		std::string error;
	};

	// Throws std::logic_error for a table getopt_long could not take (a
	// name twice, a short name that is not a letter or digit, --help).
	Parser(Program program, std::vector<Option> options)
		: program_(std::move(program)), options_(std::move(options))
	{
		for (std::size_t i = 0; i < options_.size(); i++) {
			const Option& o = options_[i];
			if (o.long_name.empty() || o.long_name[0] == '-' ||
			    o.long_name.find_first_of("= ") != std::string::npos)
				bad_table("bad long name '" + o.long_name + "'");
			if (o.long_name == "help")
				bad_table("--help is the parser's");
			if (o.short_name && !std::isalnum(static_cast<unsigned char>(o.short_name)))
				bad_table("bad short name of --" + o.long_name);
			if (!o.action)
				bad_table("--" + o.long_name + " has no action");
			for (std::size_t j = 0; j < i; j++)
				if (options_[j].long_name == o.long_name ||
				    (o.short_name && options_[j].short_name == o.short_name))
					bad_table("--" + o.long_name + " clashes with --" + options_[j].long_name);
		}
		const bool h_taken = std::any_of(options_.begin(), options_.end(),
						 [](const Option& o) { return o.short_name == 'h'; });
		options_.push_back({"help", h_taken ? '\0' : 'h', {}, "show this help and exit",
				    [](std::string_view) {}});
	}

	const Program& program() const noexcept { return program_; }

	// Runs the actions of argv's options in order. Stops at the first
	// error, or at --help.
	Outcome parse(int argc, char** argv) const
	{
		std::vector<struct option> longs;
		// "-": non-options come back in order as 1 (no permuting, and
		// POSIXLY_CORRECT cannot stop at the first one); ":": a missing
		// value is ':', not '?'.
		std::string shorts = "-:";
		for (std::size_t i = 0; i < options_.size(); i++) {
			const Option& o = options_[i];
			longs.push_back({o.long_name.c_str(), o.takes_value() ? required_argument : no_argument,
					 nullptr, val(i)});
			if (o.short_name)
				shorts += std::string(1, o.short_name) + (o.takes_value() ? ":" : "");
		}
		longs.push_back({nullptr, 0, nullptr, 0});

		Outcome outcome;
		opterr = 0;
		optind = 0; // glibc: start afresh
		for (;;) {
			const int c = ::getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr);
			if (c == -1)
				break;
			if (c == 1) {
				outcome.positional.emplace_back(optarg);
				continue;
			}
			if (c == '?' || c == ':')
				return error(outcome, diagnose(c, argc, argv));
			const Option& o = options_[index_of(c)];
			if (&o == &options_.back()) {
				outcome.status = Status::help;
				return outcome;
			}
			try {
				o.action(o.takes_value() ? std::string_view(optarg) : std::string_view());
			} catch (const BadValue& refused) {
				return error(outcome, "option '--" + o.long_name + "': " + refused.what());
			}
		}
		for (int i = optind; i < argc; i++)
			outcome.positional.emplace_back(argv[i]);
		return outcome;
	}

	// parse(), then: --help prints the help and exits 0; an error prints
	// it and exits 2. Returns the positional arguments.
	std::vector<std::string> parse_or_exit(int argc, char** argv) const
	{
		Outcome outcome = parse(argc, argv);
		if (outcome.status == Status::help) {
			std::fputs(help().c_str(), stdout);
			std::exit(0);
		}
		if (outcome.status == Status::error)
			detail::exit_usage(program_.name, outcome.error);
		return std::move(outcome.positional);
	}

	// For the program's own checks after parsing (a missing required
	// option, a wrong number of arguments): as an option error, exit 2.
	[[noreturn]] void fail(std::string_view what) const { usage_error(program_.name, what); }

	// The --help text: usage line, about, one line per option, epilogue.
	std::string help() const
	{
		std::string text = "usage: " + program_.name + " " + program_.synopsis + "\n";
		if (!program_.about.empty())
			text += ends_line(program_.about);
		text += "\nOptions:\n";
		std::vector<std::string> left;
		std::size_t width = 0;
		for (const Option& o : options_) {
			std::string l = o.short_name ? std::string("  -") + o.short_name + ", " : std::string(6, ' ');
			l += "--" + o.long_name;
			if (o.takes_value())
				l += "=" + o.value_name;
			if (l.size() <= max_left)
				width = std::max(width, l.size());
			left.push_back(std::move(l));
		}
		const std::string indent(width + 2, ' ');
		for (std::size_t i = 0; i < options_.size(); i++) {
			text += left[i];
			if (left[i].size() > width)
				text += "\n" + indent;
			else
				text += std::string(width + 2 - left[i].size(), ' ');
			text += wrap(options_[i].help, width + 2);
		}
		if (!program_.epilogue.empty())
			text += "\n" + ends_line(program_.epilogue);
		return text;
	}

private:
	static constexpr std::size_t max_left = 30;	// longer: the help on the next line
	static constexpr std::size_t line_width = 79;

	// getopt_long's value for option i: its letter, or past every char.
	int val(std::size_t i) const
	{
		return options_[i].short_name ? static_cast<unsigned char>(options_[i].short_name)
					      : 256 + static_cast<int>(i);
	}

	std::size_t index_of(int c) const
	{
		for (std::size_t i = 0; i < options_.size(); i++)
			if (val(i) == c)
				return i;
		return options_.size();
	}

	// What getopt_long's '?' or ':' was about. optopt is the option's val
	// for a missing or unwanted value, the letter of an unknown short
	// option, 0 for an unknown or ambiguous long one; a long option is
	// then the element just consumed.
	std::string diagnose(int c, int argc, char** argv) const
	{
		const std::string_view element = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
		const bool long_form = element.starts_with("--");
		const std::size_t i = index_of(optopt);
		if (optopt != 0 && i < options_.size()) {
			const std::string name = long_form ? "--" + options_[i].long_name
							   : std::string("-") + options_[i].short_name;
			if (c == ':')
				return "option '" + name + "' needs a value";
			return "option '" + name + "' takes no value";
		}
		if (optopt != 0)
			return "unknown option '-" + std::string(1, static_cast<char>(optopt)) + "'";
		const std::string_view name = element.substr(2, element.find('=') - 2);
		std::string matches;
		for (const Option& o : options_)
			if (std::string_view(o.long_name).starts_with(name))
				matches += (matches.empty() ? "" : ", ") + ("--" + o.long_name);
		if (matches.find(',') != std::string::npos)
			return "option '--" + std::string(name) + "' is ambiguous (" + matches + ")";
		return "unknown option '--" + std::string(name) + "'";
	}

	Outcome& error(Outcome& outcome, const std::string& what) const
	{
		outcome.status = Status::error;
		outcome.error = program_.name + ": " + what;
		return outcome;
	}

	// `help` from column `column` on, in lines of at most `line_width`
	// where its words allow; '\n' breaks a line where it stands.
	static std::string wrap(std::string_view help, std::size_t column)
	{
		const std::string indent(column, ' ');
		std::string text;
		std::size_t at = column;
		bool line_start = true;
		for (std::size_t i = 0; i <= help.size();) {
			const std::size_t end = std::min(help.find_first_of(" \n", i), help.size());
			const std::string_view word = help.substr(i, end - i);
			if (!word.empty()) {
				if (!line_start && at + 1 + word.size() > line_width) {
					text += "\n" + indent;
					at = column;
					line_start = true;
				}
				if (!line_start) {
					text += ' ';
					at++;
				}
				text += word;
				at += word.size();
				line_start = false;
			}
			if (end < help.size() && help[end] == '\n') {
				text += "\n" + indent;
				at = column;
				line_start = true;
			}
			i = end + 1;
		}
		return text + "\n";
	}

	static std::string ends_line(const std::string& text)
	{
		return text.ends_with('\n') ? text : text + "\n";
	}

	[[noreturn]] static void bad_table(const std::string& what)
	{
		throw std::logic_error("kaio_cli: " + what);
	}

	Program program_;
	std::vector<Option> options_; // the program's, then --help
};

} // namespace kaio_cli

#endif
