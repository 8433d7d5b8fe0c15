// SPDX-License-Identifier: LGPL-2.1-or-later
#include <kaio/stats.hpp>

#include <charconv>

namespace kaio {

namespace {

std::string_view trim(std::string_view text) noexcept
{
	const auto first = text.find_first_not_of(" \t");
	if (first == std::string_view::npos)
		return {};
	const auto last = text.find_last_not_of(" \t\r");
	return text.substr(first, last - first + 1);
}

} // namespace

Stats Stats::parse(std::string_view fdinfo_text)
{
	Stats stats;
	while (!fdinfo_text.empty()) {
		const auto end_of_line = fdinfo_text.find('\n');
		const std::string_view line = fdinfo_text.substr(0, end_of_line);
		fdinfo_text.remove_prefix(end_of_line == std::string_view::npos ? fdinfo_text.size()
										: end_of_line + 1);

		const auto colon = line.find(':');
		if (colon == std::string_view::npos)
			continue;
		const std::string_view name = trim(line.substr(0, colon));
		const std::string_view value = trim(line.substr(colon + 1));
		if (name.empty() || value.empty() || name.find_first_of(" \t") != std::string_view::npos)
			continue;

		// show_fdinfo() prints the file's open flags with %o.
		const int base = name == "flags" ? 8 : 10;
		std::uint64_t number = 0;
		const auto [rest, error] = std::from_chars(value.data(), value.data() + value.size(),
							   number, base);
		if (error != std::errc{} || rest != value.data() + value.size())
			continue;
		stats.counters.insert_or_assign(std::string(name), number);
	}
	return stats;
}

std::optional<std::uint64_t> Stats::find(std::string_view name) const noexcept
{
	const auto found = counters.find(name);
	if (found == counters.end())
		return std::nullopt;
	return found->second;
}

std::uint64_t Stats::operator[](std::string_view name) const noexcept
{
	return find(name).value_or(0);
}

} // namespace kaio
