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
	clang llvm libelf-dev zlib1g-dev \
	libbpf-dev libxdp-dev bpftool xdp-tools \
	libcli11-dev nlohmann-json3-dev libtomlplusplus-dev \
	libgtest-dev libgmock-dev libbenchmark-dev \
	liburing-dev libfuse3-dev fuse3 \
	libcap-dev \
	iproute2 iputils-ping ethtool fio stress-ng \
	qemu-system-common e2fsprogs \
	python3 python3-matplotlib

.PHONY: all build deps demo test bench clean

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

test: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure

bench: deps
	$(MAKE) build
	$(MKDP) bench ring

clean:
	rm -rf $(BUILD)
