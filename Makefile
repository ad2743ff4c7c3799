# mkdp: the README's commands.
#
#   make          configure and build (the CLI lands at build/bin/mkdp)
#   make demo     install missing Debian packages, build, run the main scenario
#   make test     install missing Debian packages, build, run every test
#
# Both demo and test are self-sufficient on a fresh Debian 12 machine as root.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
MKDP       := $(BUILD)/bin/mkdp

# Everything the build, the tests and the benchmarks need, one explicit list.
PACKAGES := \
	build-essential cmake pkg-config git \
	clang llvm libclang-rt-14-dev libelf-dev zlib1g-dev \
	libbpf-dev libxdp-dev bpftool xdp-tools \
	libcli11-dev nlohmann-json3-dev libtomlplusplus-dev \
	libgtest-dev libgmock-dev libbenchmark-dev \
	liburing-dev libfuse3-dev fuse3 \
	libcap-dev libmicrohttpd-dev \
	iproute2 iputils-ping ethtool fio stress-ng \
	qemu-system-common e2fsprogs prometheus \
	python3 python3-matplotlib python3-jsonschema \
	man-db bash-completion

.PHONY: all build deps demo test bench clean fuzz test-asan test-tsan install

all: build

# Installs only what is missing, so a second run costs one dpkg query.
deps:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "mkdp: installing Debian packages:" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "mkdp: installing packages needs root" >&2; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps
	$(MAKE) build
	$(MKDP) demo

# mkdp, mkdp-partition, the man pages and the bash completion, under
# PREFIX (default /usr/local): then `man mkdp` and Tab completion work.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

test: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure

# Sanitizer builds of the unit tests and the two-process ring stress
# (ctest -L unit), each in a build directory of its own (docs/testing.md).
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKDP_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest -L unit --output-on-failure

test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKDP_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" ctest -L unit --output-on-failure

# The libFuzzer targets of tests/fuzz (clang, ASan+UBSan); tests/fuzz/run
# runs them.
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMKDP_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

bench: deps
	$(MAKE) build
	$(MKDP) bench ring

clean:
	rm -rf $(BUILD)
