// SPDX-License-Identifier: BSD-2-Clause
// Internal to the steering loader: owned fds, libbpf/libxdp diagnostics
// turned into error text, object ids, per-CPU values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <mkdp/error.h>

namespace mkdp {

// An owned file descriptor for the set-up paths.
class Fd {
public:
	explicit Fd(int fd = -1) noexcept : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(o.release());
		return *this;
	}
	~Fd() { reset(); }
	int get() const noexcept { return fd_; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_;
};

// libbpf and libxdp print their diagnostics to stderr; mkdp turns them into
// the one-line reason of its errors instead. Kept per call, restored after.
class QuietLibs {
public:
	QuietLibs();
	~QuietLibs();
	QuietLibs(const QuietLibs &) = delete;
	QuietLibs &operator=(const QuietLibs &) = delete;
	// " (the last diagnostic)", or "" when there was none.
	static std::string why();

private:
	libbpf_print_fn_t bpf_;
	libxdp_print_fn_t xdp_;
};

uint32_t prog_id_of(int fd);
uint32_t map_id_of(int fd);

int possible_cpus();

// Entry 0 of a single-entry array map (steer_config, steer_info).
template <class T>
T read_entry0(int fd, const char *map)
{
	T v{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(fd, &zero, &v))
		throw_errno(std::string("read ") + map);
	return v;
}

template <class T>
void write_entry0(int fd, const T &v, const char *map)
{
	uint32_t zero = 0;
	if (bpf_map_update_elem(fd, &zero, &v, BPF_ANY))
		throw_errno(std::string("write ") + map);
}

// One element of a per-CPU map summed over the CPUs, field by field: every
// counter struct of steer.h is a sequence of __u64.
template <class T>
T percpu_sum(int fd, uint32_t key, int ncpus)
{
	static_assert(sizeof(T) % 8 == 0);
	std::vector<T> vals{size_t(ncpus)};
	T sum{};
	if (bpf_map_lookup_elem(fd, &key, vals.data()))
		throw_errno("read per-CPU counters");
	auto *out = reinterpret_cast<__u64 *>(&sum);
	for (const T &v : vals) {
		auto *in = reinterpret_cast<const __u64 *>(&v);
		for (size_t i = 0; i < sizeof(T) / 8; i++)
			out[i] += in[i];
	}
	return sum;
}

template <class T>
void zero_percpu(int fd, uint32_t key, int ncpus)
{
	std::vector<T> zero{size_t(ncpus)};
	if (bpf_map_update_elem(fd, &key, zero.data(), BPF_ANY))
		throw_errno("reset per-CPU counters");
}

} // namespace mkdp
