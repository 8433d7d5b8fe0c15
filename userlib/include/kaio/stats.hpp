// SPDX-License-Identifier: LGPL-2.1-or-later
// Per-context counters, read from /proc/self/fdinfo/<context fd>.
#ifndef KAIO_STATS_HPP
#define KAIO_STATS_HPP

#include <kaio/export.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kaio {

// Every `name: number` line of the context's fdinfo, by name. The parse is
// generic on purpose: a counter the module adds later shows up here without
// a library change. The named accessors cover the counters the ABI
// documents; a counter the running module does not report reads as 0.
struct KAIO_API Stats {
	std::map<std::string, std::uint64_t, std::less<>> counters;

	// Parses fdinfo text. Lines that are not `name: number` are skipped.
	// The VFS's own `flags:` line is printed in octal and read as such.
	static Stats parse(std::string_view fdinfo_text);

	std::optional<std::uint64_t> find(std::string_view name) const noexcept;
	std::uint64_t operator[](std::string_view name) const noexcept;

	std::uint64_t submitted() const noexcept { return (*this)["submitted"]; }
	std::uint64_t completed() const noexcept { return (*this)["completed"]; }
	std::uint64_t inline_completions() const noexcept { return (*this)["inline"]; }
	std::uint64_t async_completions() const noexcept { return (*this)["async"]; }
	std::uint64_t page_wait_arms() const noexcept { return (*this)["page_wait_arms"]; }
	std::uint64_t wakeups() const noexcept { return (*this)["wakeups"]; }
	std::uint64_t retries() const noexcept { return (*this)["retries"]; }
	// Of retries(): run by a thread waiting in GETEVENTS, not a kernel worker.
	std::uint64_t retries_in_task() const noexcept { return (*this)["retries_in_task"]; }
	// Of those: handed to a worker rather than block the waiting thread.
	std::uint64_t retries_requeued() const noexcept { return (*this)["retries_requeued"]; }
	std::uint64_t worker() const noexcept { return (*this)["worker"]; }
	std::uint64_t cancelled() const noexcept { return (*this)["cancelled"]; }
	std::uint64_t in_flight() const noexcept { return (*this)["in_flight"]; }
	std::uint64_t nr_events() const noexcept { return (*this)["nr_events"]; }
};

} // namespace kaio

#endif
