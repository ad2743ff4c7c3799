// SPDX-License-Identifier: BSD-2-Clause
// What every fuzz target shares: an invariant check that stops the run
// (libFuzzer then keeps the input as a crash), and a reader that turns the
// fuzzer's bytes into typed values, running dry into zeros.
//
// A target is one LLVMFuzzerTestOneInput in tests/fuzz/NAME_fuzz.cpp with
// its seed corpus in tests/fuzz/corpus/NAME/. The same source builds
// twice: with libFuzzer (make fuzz, clang) and with replay_main.cpp, which
// runs every corpus file once (ctest fuzz_replay.NAME, in make test).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

// An invariant, not an expectation: a broken one is a finding.
#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			std::fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #cond, __FILE__, \
				     __LINE__);                                               \
			std::abort();                                                         \
		}                                                                             \
	} while (0)

// ASan's defaults for every target (ASAN_OPTIONS still overrides them).
// libFuzzer copies each input into a fresh allocation, and with the default
// 256 MiB quarantine every copy lands on pages never touched before: their
// page faults took more time than small targets' own work (twice the
// executions per second with 32 MiB, which still keeps a freed block out of
// reuse for thousands of inputs). Weak: one definition however many files
// of a binary include this.
extern "C" __attribute__((weak)) const char *__asan_default_options()
{
	return "quarantine_size_mb=32";
}

namespace mkdp::fuzz {

class Input {
public:
	Input(const uint8_t *data, size_t size) : p_(data), n_(size) {}

	bool empty() const noexcept { return n_ == 0; }
	size_t left() const noexcept { return n_; }

	// The next sizeof(T) bytes as a T (zero-filled past the end).
	template <class T> T take() noexcept
	{
		T v{};
		size_t k = std::min(sizeof(T), n_);
		if (k)	// an empty input may come as a null pointer
			std::memcpy(&v, p_, k);
		p_ += k;
		n_ -= k;
		return v;
	}
	// Up to `len` bytes, as they are.
	std::span<const uint8_t> bytes(size_t len) noexcept
	{
		size_t k = std::min(len, n_);
		std::span<const uint8_t> s(p_, k);
		p_ += k;
		n_ -= k;
		return s;
	}
	std::span<const uint8_t> rest() noexcept { return bytes(n_); }
	std::string text() { auto s = rest(); return std::string(s.begin(), s.end()); }

private:
	const uint8_t *p_;
	size_t n_;
};

} // namespace mkdp::fuzz
