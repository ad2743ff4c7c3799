// SPDX-License-Identifier: BSD-2-Clause
// mkdp's FUSE export of SDP volumes (`mkdp sdp export`), with real clients
// on the exported file: fio writing and verifying at several block sizes and
// depths with O_DIRECT; ext4 made, filled, checked and read back through a
// loop device; a program's errno (readonly_range's EROFS) reaching a
// client's pwrite; the owner partition killed under fio: fio fails instead
// of hanging, and after a restart the export serves again with the data
// fsync'd before the kill intact.
#include "volume_bed.h"

#include <export_mounts.h>

#include <mkdp/subprocess.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <vector>

namespace mkdp::test {
namespace {

using bench::MkdpExport;

// Generous bounds: a client that outlives them hangs, which fails the test.
constexpr int kClientTimeoutMs = 120000;

std::string mountpoint(const std::string &tag)
{
	return "/tmp/mkdp-export-" + std::to_string(getpid()) + "-" + tag;
}

// Runs a client to its end, or kills it after timeout_ms (nullopt).
std::optional<ProgramResult> run_bounded(const std::vector<std::string> &argv, int timeout_ms = kClientTimeoutMs)
{
	RunningProgram p(argv);
	return p.wait(timeout_ms);
}

// `count` bytes of a pattern only `seed` makes, 4 KiB aligned (O_DIRECT).
struct Pattern {
	Pattern(size_t count, uint64_t seed) : bytes(count)
	{
		void *m = nullptr;
		if (posix_memalign(&m, 4096, count))
			throw std::bad_alloc();
		data.reset(static_cast<uint8_t *>(m));
		std::mt19937_64 rng(seed);
		for (size_t i = 0; i < count; i += 8) {
			uint64_t v = rng();
			std::memcpy(data.get() + i, &v, std::min<size_t>(8, count - i));
		}
	}
	struct Free {
		void operator()(uint8_t *p) const { free(p); }
	};
	std::unique_ptr<uint8_t, Free> data;
	size_t bytes;
};

// An O_DIRECT descriptor of the exported file, closed on destruction.
struct DirectFd {
	explicit DirectFd(const std::string &path) : fd(open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC)) {}
	~DirectFd()
	{
		if (fd >= 0)
			close(fd);
	}
	int fd;
};

// Whether [off, off + want.bytes) of fd holds `want`.
bool holds(int fd, uint64_t off, const Pattern &want)
{
	Pattern got(want.bytes, 0);
	return pread(fd, got.data.get(), got.bytes, off_t(off)) == ssize_t(got.bytes) &&
	       std::memcmp(got.data.get(), want.data.get(), got.bytes) == 0;
}

// A loop device on a file, detached on destruction.
struct Loop {
	explicit Loop(const std::string &file)
	{
		ProgramResult r = run_program({"losetup", "--find", "--show", file});
		if (r.status == 0)
			dev = r.out.substr(0, r.out.find('\n'));
		err = r.err;
	}
	~Loop()
	{
		if (!dev.empty())
			run_program({"losetup", "-d", dev});
	}
	std::string dev, err;
};

// A temporary directory to mount on: unmounted (if still) and removed on
// destruction.
struct MountDir {
	MountDir()
	{
		char t[] = "/tmp/mkdp-export-fs-XXXXXX";
		if (mkdtemp(t))
			path = t;
	}
	~MountDir()
	{
		if (path.empty())
			return;
		if (bench::is_mounted(path))
			umount2(path.c_str(), MNT_DETACH);
		rmdir(path.c_str());
	}
	bool mount(const std::string &dev) const { return run_program({"mount", dev, path}).status == 0; }
	bool umount() const { return ::umount(path.c_str()) == 0; }
	std::string path;
};

class SdpExport : public PartitionFixture {};

TEST_F(SdpExport, ExportedFileHasTheVolumesSizeAndFioVerifiesEveryBlock)
{
	VolumeBed bed(64);
	UP_OR_FAIL(bed);
	MkdpExport exp("f0", mountpoint("fio"));
	struct stat st {};
	ASSERT_EQ(stat(exp.path().c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(uint64_t(st.st_size), 64u << 20);
	for (const char *bs : {"4k", "64k", "1m"})
		for (const char *qd : {"1", "16"}) {
			std::string what = std::string("bs ") + bs + " iodepth " + qd;
			auto r = run_bounded({"fio", "--name=verify", "--filename=" + exp.path(), "--rw=randwrite",
					      std::string("--bs=") + bs, std::string("--iodepth=") + qd, "--direct=1",
					      "--ioengine=libaio", "--size=16m", "--verify=crc32c", "--do_verify=1",
					      "--verify_fatal=1", "--verify_state_save=0", "--output-format=json"});
			ASSERT_TRUE(r) << what << ": fio hangs";
			ASSERT_EQ(r->status, 0) << what << ": " << r->err << r->out;
			json d = json::parse(r->out.substr(r->out.find('{')));
			const json &job = d["jobs"][0];
			EXPECT_EQ(job["error"], 0) << what;
			// Every block written was read back and checked.
			EXPECT_EQ(job["write"]["io_bytes"], 16u << 20) << what;
			EXPECT_EQ(job["read"]["io_bytes"], 16u << 20) << what;
		}
}

TEST_F(SdpExport, Ext4ThroughALoopDeviceSurvivesFsckAndARemount)
{
	VolumeBed bed(64);
	UP_OR_FAIL(bed);
	MkdpExport exp("f0", mountpoint("ext4"));
	Loop loop(exp.path());
	ASSERT_FALSE(loop.dev.empty()) << "losetup: " << loop.err;
	ProgramResult mk = run_program({"mkfs.ext4", "-q", "-F", loop.dev});
	ASSERT_EQ(mk.status, 0) << mk.err;
	MountDir dir;
	ASSERT_FALSE(dir.path.empty());
	ASSERT_TRUE(dir.mount(loop.dev));
	// Files of known content, 1 to 5 MiB.
	std::vector<Pattern> files;
	for (uint64_t i = 0; i < 5; i++) {
		files.emplace_back((i + 1) << 20, 100 + i);
		std::ofstream f(dir.path + "/f" + std::to_string(i), std::ios::binary);
		f.write(reinterpret_cast<const char *>(files[i].data.get()), std::streamsize(files[i].bytes));
		ASSERT_TRUE(f.good());
	}
	ASSERT_TRUE(dir.umount()) << std::strerror(errno);
	ProgramResult fsck = run_program({"fsck.ext4", "-f", "-n", loop.dev});
	EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
	ASSERT_TRUE(dir.mount(loop.dev));
	for (uint64_t i = 0; i < files.size(); i++) {
		std::ifstream f(dir.path + "/f" + std::to_string(i), std::ios::binary);
		std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
		ASSERT_EQ(got.size(), files[i].bytes) << "f" << i;
		EXPECT_EQ(std::memcmp(got.data(), files[i].data.get(), got.size()), 0) << "f" << i << " differs";
	}
	EXPECT_TRUE(dir.umount()) << std::strerror(errno);
}

TEST_F(SdpExport, AProgramsErrnoReachesTheClient)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	MkdpExport exp("v0", mountpoint("ro"));
	DirectFd f(exp.path());
	ASSERT_GE(f.fd, 0) << std::strerror(errno);
	Pattern before(65536, 1), after(65536, 2);
	ASSERT_EQ(pwrite(f.fd, before.data.get(), before.bytes, 0), ssize_t(before.bytes)) << std::strerror(errno);
	ProgramResult a = mkdp_cli({"sdp", "attach", "v0", MKDP_SDP_EXAMPLES "/readonly_range.bpf.o", "--map",
				    "ro_range u32:0 = u64:0 u64:2048"});
	ASSERT_EQ(a.status, 0) << a.err;
	// In [0, 1 MiB): refused with the program's errno, nothing written.
	errno = 0;
	EXPECT_EQ(pwrite(f.fd, after.data.get(), after.bytes, 0), -1);
	EXPECT_EQ(errno, EROFS) << std::strerror(errno);
	EXPECT_TRUE(holds(f.fd, 0, before)) << "a refused write wrote";
	// Outside: written.
	ASSERT_EQ(pwrite(f.fd, after.data.get(), after.bytes, 2 << 20), ssize_t(after.bytes)) << std::strerror(errno);
	EXPECT_TRUE(holds(f.fd, 2 << 20, after));
}

// Writes that start or end inside a sector (a buffered client's, an
// editor's) keep the bytes around them: the export reads the edge sectors
// first. Reads at any offset return exactly the bytes asked for.
TEST_F(SdpExport, UnalignedWritesKeepTheBytesAroundThem)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	MkdpExport exp("v0", mountpoint("odd"));	// direct: the client's offsets reach the export as they are
	int fd = open(exp.path().c_str(), O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0) << std::strerror(errno);
	constexpr size_t kSpan = 3 << 20;
	std::vector<uint8_t> want(kSpan);
	for (size_t i = 0; i < kSpan; i++)
		want[i] = uint8_t(i * 7 + 3);
	ASSERT_EQ(pwrite(fd, want.data(), kSpan, 0), ssize_t(kSpan)) << std::strerror(errno);
	std::mt19937_64 rng(42);
	struct Case {
		uint64_t off, len;
	};
	std::vector<Case> cases = {{1, 3}, {511, 2}, {1000, 5000}, {4095, 1}, {130000, 200000}, {1 << 20, 1}};
	for (int i = 0; i < 40; i++)
		cases.push_back({rng() % (kSpan - 300000), 1 + rng() % 300000});
	for (const Case &c : cases) {
		std::vector<uint8_t> d(c.len);
		for (auto &b : d)
			b = uint8_t(rng());
		ASSERT_EQ(pwrite(fd, d.data(), d.size(), off_t(c.off)), ssize_t(d.size()))
			<< c.off << "+" << c.len << ": " << std::strerror(errno);
		std::memcpy(want.data() + c.off, d.data(), d.size());
		uint64_t roff = c.off > 700 ? c.off - 700 : 0, rlen = std::min<uint64_t>(c.len + 1400, kSpan - roff);
		std::vector<uint8_t> got(rlen);
		ASSERT_EQ(pread(fd, got.data(), rlen, off_t(roff)), ssize_t(rlen)) << std::strerror(errno);
		ASSERT_EQ(std::memcmp(got.data(), want.data() + roff, rlen), 0) << "around " << c.off << "+" << c.len;
	}
	std::vector<uint8_t> all(kSpan);
	ASSERT_EQ(pread(fd, all.data(), kSpan, 0), ssize_t(kSpan));
	EXPECT_EQ(all, want);
	close(fd);
}

// fallocate's zero-range becomes write-zeroes (the range reads back as
// zeros, the bytes around it untouched), punch-hole becomes discard, fsync
// a flush; all answer success.
TEST_F(SdpExport, FallocateAndFsyncReachTheVolume)
{
	VolumeBed bed;
	UP_OR_FAIL(bed);
	MkdpExport exp("v0", mountpoint("falloc"));
	DirectFd f(exp.path());
	ASSERT_GE(f.fd, 0) << std::strerror(errno);
	Pattern all(1 << 20, 3), zeros(256 << 10, 0);
	std::memset(zeros.data.get(), 0, zeros.bytes);
	ASSERT_EQ(pwrite(f.fd, all.data.get(), all.bytes, 0), ssize_t(all.bytes)) << std::strerror(errno);
	ASSERT_EQ(fallocate(f.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 256 << 10, 256 << 10), 0)
		<< std::strerror(errno);
	Pattern got(all.bytes, 0);
	ASSERT_EQ(pread(f.fd, got.data.get(), got.bytes, 0), ssize_t(got.bytes));
	EXPECT_EQ(std::memcmp(got.data.get(), all.data.get(), 256 << 10), 0);
	EXPECT_EQ(std::memcmp(got.data.get() + (256 << 10), zeros.data.get(), zeros.bytes), 0) << "not zeroed";
	EXPECT_EQ(std::memcmp(got.data.get() + (512 << 10), all.data.get() + (512 << 10), 512 << 10), 0);
	EXPECT_EQ(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 64 << 10), 0) << std::strerror(errno);
	EXPECT_EQ(fsync(f.fd), 0) << std::strerror(errno);
	EXPECT_EQ(fdatasync(f.fd), 0) << std::strerror(errno);
	// Not whole sectors: refused, as a block device refuses them.
	errno = 0;
	EXPECT_EQ(fallocate(f.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 100, 1000), -1);
	EXPECT_EQ(errno, EINVAL);
}

// A topology's `export` key: `up` mounts it (making the file), `status`
// lists it, clients use it, and `down` unmounts it and removes the file it
// made.
TEST_F(SdpExport, TheTopologysExportsComeUpWithItAndGoAtDown)
{
	VolumeBed bed;
	std::string path = "/tmp/" + bed.netns() + "-f0.img";
	// The last table of the bed's file is f0's.
	std::ofstream(bed.file(), std::ios::app) << "export = \"" << path << "\"\nexport_writable = true\n";
	UP_OR_FAIL(bed);
	ASSERT_TRUE(bench::is_mounted(path));
	json st = supervisor_request({{"cmd", "status"}});
	ASSERT_EQ(st["exports"].size(), 1u) << st.dump();
	EXPECT_EQ(st["exports"][0]["volume"], "f0");
	EXPECT_EQ(st["exports"][0]["mountpoint"], path);
	EXPECT_EQ(st["exports"][0]["writable"], true);
	{
		DirectFd f(path);
		ASSERT_GE(f.fd, 0) << std::strerror(errno);
		Pattern p(1 << 20, 9);
		ASSERT_EQ(pwrite(f.fd, p.data.get(), p.bytes, 4 << 20), ssize_t(p.bytes)) << std::strerror(errno);
		EXPECT_TRUE(holds(f.fd, 4 << 20, p));
	}
	ProgramResult d = mkdp_cli({"topology", "down"});
	ASSERT_EQ(d.status, 0) << d.err;
	EXPECT_FALSE(bench::is_mounted(path));
	struct stat sb {};
	EXPECT_NE(stat(path.c_str(), &sb), 0) << path << " left behind";
}

TEST_F(SdpExport, OwnerKilledUnderFioFailsItThenServesAgainWithFlushedDataIntact)
{
	VolumeBed bed(64);
	UP_OR_FAIL(bed);
	MkdpExport exp("f0", mountpoint("kill"));	// f0: owned by p1
	Pattern flushed(4 << 20, 7);
	{
		DirectFd f(exp.path());
		ASSERT_GE(f.fd, 0) << std::strerror(errno);
		ASSERT_EQ(pwrite(f.fd, flushed.data.get(), flushed.bytes, 0), ssize_t(flushed.bytes));
		ASSERT_EQ(fsync(f.fd), 0) << std::strerror(errno);
	}
	// fio writes elsewhere for far longer than the test waits for it.
	uint64_t served0 = volume_status("f0")["requests_by_partition"].value("p1", 0ULL);
	RunningProgram fio({"fio", "--name=victim", "--filename=" + exp.path(), "--rw=randwrite", "--bs=64k",
			    "--iodepth=16", "--direct=1", "--ioengine=libaio", "--offset=8m", "--size=32m",
			    "--time_based", "--runtime=600", "--output-format=json"});
	ASSERT_TRUE(wait_until([&] { return volume_status("f0")["requests_by_partition"].value("p1", 0ULL) > served0 + 64; },
			       30000))
		<< "fio's writes do not reach p1";
	ProgramResult k = mkdp_cli({"part", "kill", "p1"});
	ASSERT_EQ(k.status, 0) << k.err;
	auto r = fio.wait(kClientTimeoutMs);
	ASSERT_TRUE(r) << "fio hangs on the export of a volume whose owner died";
	EXPECT_NE(r->status, 0) << "fio reported no error: " << r->out;
	ProgramResult s = mkdp_cli({"part", "start", "p1"});
	ASSERT_EQ(s.status, 0) << s.err;
	// The export serves again: the data fsync'd before the kill is there,
	// and a new write reads back.
	DirectFd f(exp.path());
	ASSERT_GE(f.fd, 0) << std::strerror(errno);
	ASSERT_TRUE(wait_until([&] { return holds(f.fd, 0, flushed); }, 10000))
		<< "data fsync'd before the kill does not read back after the restart";
	Pattern later(65536, 8);
	ASSERT_EQ(pwrite(f.fd, later.data.get(), later.bytes, 40 << 20), ssize_t(later.bytes)) << std::strerror(errno);
	EXPECT_TRUE(holds(f.fd, 40 << 20, later));
}

} // namespace
} // namespace mkdp::test
