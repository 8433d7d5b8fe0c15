// SPDX-License-Identifier: LGPL-2.1-or-later
// libkaio++: C++20 interface to kaio, retry-based asynchronous I/O.
// Documentation/userlib.md describes the API with an example.
#ifndef KAIO_KAIO_HPP
#define KAIO_KAIO_HPP

#include <kaio/context.hpp>
#include <kaio/eventfd.hpp>
#include <kaio/io_loop.hpp>
#include <kaio/operation.hpp>
#include <kaio/request.hpp>
#include <kaio/stats.hpp>
#include <kaio/task.hpp>

#endif
