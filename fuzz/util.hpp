// SPDX-License-Identifier: GPL-2.0
/*
 * What kaio-fuzz and kaio-stress share: a seeded generator, raw ioctls that
 * return -errno, errno names, the guest's devices, and the module-wide leak
 * check (contexts, reserved events and pins, kaio_req objects) that both run
 * once everything they opened is closed.
 */
#ifndef KAIO_FUZZ_UTIL_HPP
#define KAIO_FUZZ_UTIL_HPP

#include <linux/kaio.h>
#include <linux/time_types.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kfz {

/* xoshiro256**, seeded through splitmix64: the same seed, the same stream. */
class Rng {
public:
	explicit Rng(uint64_t seed = 1) { reseed(seed); }
	void reseed(uint64_t seed)
	{
		for (auto &w : s_) {
			seed += 0x9e3779b97f4a7c15ULL;
			uint64_t z = seed;
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			w = z ^ (z >> 31);
		}
	}
	uint64_t next()
	{
		const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
		s_[2] ^= s_[0];
		s_[3] ^= s_[1];
		s_[1] ^= s_[2];
		s_[0] ^= s_[3];
		s_[2] ^= t;
		s_[3] = rotl(s_[3], 45);
		return r;
	}
	/* Uniform in [0, n); 0 for n == 0. */
	uint64_t below(uint64_t n) { return n ? next() % n : 0; }
	/* Uniform in [lo, hi]. */
	int64_t range(int64_t lo, int64_t hi)
	{
		return lo + (int64_t)below((uint64_t)(hi - lo) + 1);
	}
	/* True with probability num/den. */
	bool chance(unsigned num, unsigned den) { return below(den) < num; }
	template <class T, size_t N> const T &pick(const T (&a)[N])
	{
		return a[below(N)];
	}

private:
	static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
	uint64_t s_[4];
};

/* Derive independent seeds (per process, per thread) from the run's seed. */
inline uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0)
{
	uint64_t z = seed ^ (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL);
	z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
	z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	return z ^ (z >> 33);
}

/* ioctl() as the kernel returns it: the result, or -errno. */
inline long kioctl(int fd, unsigned long cmd, const void *arg)
{
	long r = ioctl(fd, cmd, arg);
	return r < 0 ? -errno : r;
}

inline std::string errname(long e)
{
	if (e < 0)
		e = -e;
	const char *n = strerrorname_np((int)e);
	return n ? n : "E" + std::to_string(e);
}

/* A result as text: "3" or "-EINVAL". */
inline std::string resname(long r)
{
	if (r < 0 && r >= -4095)
		return "-" + errname(r);
	return std::to_string(r);
}

inline int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

inline std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string strf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* One line to stdout, whole (threads and processes share the console). */
inline void say(const std::string &line)
{
	std::string l = line + "\n";
	const char *p = l.data();
	size_t n = l.size();
	while (n) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

inline const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

inline bool is_dir(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool is_blk(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISBLK(st.st_mode);
}

inline std::string read_file(const char *path)
{
	std::string s;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return s;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		s.append(buf, (size_t)n);
	close(fd);
	return s;
}

/* "name:\tvalue" (fdinfo, debugfs stats): the value, or -1. */
inline long long field(const std::string &text, const char *name)
{
	std::string key = std::string(name) + ":";
	size_t pos = 0;
	while ((pos = text.find(key, pos)) != std::string::npos) {
		if (pos == 0 || text[pos - 1] == '\n')
			return strtoll(text.c_str() + pos + key.size(), nullptr, 10);
		pos += key.size();
	}
	return -1;
}

inline bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/*
 * Objects of the kaio_req slab cache in use. kaio_req is a usercopy cache,
 * which slub never merges, so /sys/kernel/slab/kaio_req is its own. The
 * count is exact for debug caches (slub_debug=FZPU: no per-CPU slabs); for
 * others, shrinking first flushes the per-CPU slabs whose free objects it
 * would count as used. -1 if the cache cannot be read (no kaio, no sysfs).
 */
inline long long slab_objects(std::string *how)
{
	const char *dir = "/sys/kernel/slab/kaio_req";
	struct stat st;
	if (lstat(dir, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			*how = "/sys/kernel/slab/kaio_req is an alias (merged cache): not counted";
			return -1;
		}
		write_text("/sys/kernel/slab/kaio_req/shrink", "1");
		std::string s = read_file("/sys/kernel/slab/kaio_req/objects");
		if (!s.empty()) {
			*how = "/sys/kernel/slab/kaio_req/objects";
			return strtoll(s.c_str(), nullptr, 10);
		}
	}
	std::string info = read_file("/proc/slabinfo");
	size_t pos = info.find("\nkaio_req ");
	if (pos != std::string::npos) {
		*how = "/proc/slabinfo active_objs";
		return strtoll(info.c_str() + pos + 10, nullptr, 10);
	}
	*how = "no kaio_req cache found";
	return -1;
}

struct LeakReport {
	bool ok = true;
	std::string text;
};

/*
 * After every context this program made is closed (and its children have
 * exited): the module must hold nothing. Polls up to @wait_s seconds,
 * because the last requests are freed from a workqueue after their event.
 */
inline LeakReport leak_check(int wait_s)
{
	LeakReport r;
	const int64_t end = now_ns() + (int64_t)wait_s * 1000000000LL;
	for (;;) {
		std::string st = read_file("/sys/kernel/debug/kaio/stats");
		std::string how;
		long long objs = slab_objects(&how);
		long long ctxs = field(st, "contexts");
		long long evs = field(st, "events_reserved");
		long long pins = field(st, "pinned_pages_reserved");
		r.text = strf("contexts=%lld events_reserved=%lld pinned_pages_reserved=%lld kaio_req objects=%lld (%s)",
			      ctxs, evs, pins, objs, how.c_str());
		if (st.empty()) {
			r.text = "/sys/kernel/debug/kaio/stats not readable; " + r.text;
			r.ok = false;
		} else {
			r.ok = ctxs == 0 && evs == 0 && pins == 0 && objs <= 0;
		}
		if (r.ok || now_ns() > end)
			return r;
		usleep(100000);
	}
}

} // namespace kfz

#endif
