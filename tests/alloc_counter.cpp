// SPDX-License-Identifier: GPL-2.0
// Counts every allocation of the test program (global operator new
// replaced), so a test can check that a code path allocates nothing:
// libkaio++ promises no allocation per operation or per co_await.
#include "helpers.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::size_t> allocation_count{0};

void* counted_allocation(std::size_t size, std::size_t alignment)
{
	allocation_count.fetch_add(1, std::memory_order_relaxed);
	if (size == 0)
		size = 1;
	void* memory = alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__
			       ? std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
			       : std::malloc(size);
	if (!memory)
		throw std::bad_alloc();
	return memory;
}

} // namespace

namespace kaio_test {

std::size_t allocations() noexcept
{
	return allocation_count.load(std::memory_order_relaxed);
}

} // namespace kaio_test

// The replaceable forms that allocate; libstdc++'s array and nothrow forms
// call these. Memory from malloc/aligned_alloc is freed with free().
void* operator new(std::size_t size)
{
	return counted_allocation(size, 0);
}

void* operator new(std::size_t size, std::align_val_t alignment)
{
	return counted_allocation(size, static_cast<std::size_t>(alignment));
}

void operator delete(void* memory) noexcept
{
	std::free(memory);
}

void operator delete(void* memory, std::size_t) noexcept
{
	std::free(memory);
}

void operator delete(void* memory, std::align_val_t) noexcept
{
	std::free(memory);
}

void operator delete(void* memory, std::size_t, std::align_val_t) noexcept
{
	std::free(memory);
}
