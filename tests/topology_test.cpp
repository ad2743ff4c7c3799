// SPDX-License-Identifier: BSD-2-Clause
// Topology parsing and conflict checking: each conflict named, each with
// its line; bad syntax, unknown keys and wrong types refused.
#include <mkdp/error.h>
#include <mkdp/topology.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_dir.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

using namespace mkdp;
using ::testing::HasSubstr;

namespace {

MachineFacts two_cpus(uint32_t queues = 2)
{
	MachineFacts m;
	m.cpus = 2;
	m.device_queues = queues;
	return m;
}

const char *kGood = R"(
[machine]
interface = "veth0"

[[partition]]
name = "a"
cpus = [0]
queues = [0, 1]

[[partition]]
name = "b"
cpus = "1"
queues = [1]
wakeup = "polled"

[[region]]
name = "umem"
size = "4MiB"
frame_size = 2048
shared_with = ["a", "b"]

[[volume]]
name = "vol"
backend = "memory"
size = "1MiB"
owner = "a"
)";

std::vector<std::string> conflicts(const std::string &text, MachineFacts m = two_cpus())
{
	std::vector<std::string> out;
	for (auto &c : check(Topology::parse(text, "t.toml"), m))
		out.push_back(std::to_string(c.line) + ": " + c.what);
	return out;
}

std::string with(const std::string &extra) { return std::string(kGood) + extra; }

} // namespace

TEST(Topology, GoodFileParsesAndChecksClean)
{
	Topology t = Topology::parse(kGood, "t.toml");
	ASSERT_EQ(t.partitions.size(), 2u);
	EXPECT_EQ(t.interface, "veth0");
	EXPECT_EQ(t.partitions[0].queues, (std::vector<uint32_t>{0, 1}));
	EXPECT_EQ(t.partitions[1].cpus, (std::vector<int>{1}));
	EXPECT_EQ(t.partitions[1].wakeup, "polled");
	EXPECT_EQ(t.partitions[0].wakeup, "adaptive");
	ASSERT_EQ(t.regions.size(), 1u);
	EXPECT_EQ(t.regions[0].size, 4u << 20);
	EXPECT_EQ(t.regions[0].shared_with, (std::vector<std::string>{"a", "b"}));
	EXPECT_EQ(t.volumes[0].size, 1u << 20);
	EXPECT_EQ(t.volumes[0].owner, "a");
	EXPECT_EQ(t.volumes[0].partitions, (std::vector<std::string>{"a"})) << "the owner serves it";
	EXPECT_EQ(t.volumes[0].wakeup, "adaptive");
	EXPECT_EQ(t.volumes[0].program, "");
	EXPECT_THAT(conflicts(kGood), ::testing::IsEmpty());
}

TEST(Topology, BuiltinIsValidOnThisMachine)
{
	Topology t = Topology::builtin();
	EXPECT_EQ(t.partitions.size(), 2u);
	MachineFacts m = probe_machine(t);
	m.device_queues = 2; // the testbed's default, whether or not it is up
	m.device_refused.clear();
	EXPECT_THAT(check(t, m), ::testing::IsEmpty());
	// The demo's storage: one memory volume owned by p0, served by both.
	ASSERT_EQ(t.volumes.size(), 1u);
	EXPECT_EQ(t.volumes[0].name, "v0");
	EXPECT_EQ(t.volumes[0].backend, "memory");
	EXPECT_EQ(t.volumes[0].size, 64u << 20);
	EXPECT_EQ(t.volumes[0].owner, "p0");
	EXPECT_EQ(t.volumes[0].partitions, (std::vector<std::string>{"p0", "p1"}));
	// What tests write for `mkdp topology up FILE` is the same topology.
	Topology tb = Topology::parse(Topology::testbed_toml("mkdp-lab"), "tb.toml");
	EXPECT_EQ(tb.netns, "mkdp-lab");
	ASSERT_EQ(tb.volumes.size(), 1u);
	EXPECT_EQ(tb.volumes[0].owner, "p0");
	EXPECT_THAT(check(tb, m), ::testing::IsEmpty());
}

TEST(Topology, OverlappingCpus)
{
	auto c = conflicts(with("[[partition]]\nname = \"c\"\ncpus = \"0-1\"\n"));
	ASSERT_EQ(c.size(), 2u);
	EXPECT_THAT(c[0], HasSubstr("'a' and 'c' overlap on CPU 0"));
	EXPECT_THAT(c[1], HasSubstr("'b' and 'c' overlap on CPU 1"));
	EXPECT_THAT(c[0], ::testing::StartsWith("27: "));
}

TEST(Topology, CpuTheMachineLacks)
{
	auto c = conflicts(with("[[partition]]\nname = \"c\"\ncpus = [5]\n"));
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("CPU 5 does not exist (the machine has 2)"));
}

TEST(Topology, QueueBeyondTheDevice)
{
	auto c = conflicts(kGood, two_cpus(1));
	ASSERT_EQ(c.size(), 2u);
	EXPECT_THAT(c[0], HasSubstr("partition 'a': queue 1 is beyond the device (1 queues)"));
	EXPECT_THAT(c[1], HasSubstr("partition 'b': queue 1"));
}

TEST(Topology, QueueCountPinnedInFileMustMatchDevice)
{
	std::string t = kGood;
	t.replace(t.find("interface"), 0, "queues = 4\n");
	auto c = conflicts(t, two_cpus(2));
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("says 4 queues but veth0 has 2"));
}

TEST(Topology, RegionTooSmallForItsFrames)
{
	std::string t = kGood;
	t.replace(t.find("\"4MiB\""), 6, "\"64k\"");
	auto c = conflicts(t);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("64 KiB holds 32 frames of 2048 B, too small for 2 partitions x 64 frames"));
}

TEST(Topology, FramesPerPartition)
{
	std::string t = kGood;
	// 4 MiB / 2048 B = 2048 frames: an equal share is 1024 each.
	Topology top = Topology::parse(t, "t.toml");
	EXPECT_EQ(frames_per_partition(top.regions[0]), 1024u);
	t.replace(t.find("frame_size = 2048"), 0, "frames_per_partition = 32\n");
	auto c = conflicts(t);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("frames_per_partition 32 is below the minimum of 64"));
	t.replace(t.find("= 32"), 4, "= 1500");
	c = conflicts(t);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("holds 2048 frames of 2048 B, too small for 2 partitions x 1500 frames"));
	t.replace(t.find("= 1500"), 6, "= 512");
	EXPECT_THAT(conflicts(t), ::testing::IsEmpty());
	EXPECT_EQ(frames_per_partition(Topology::parse(t, "t.toml").regions[0]), 512u);
}

// `up` needs one UMEM for every partition that receives: check says so too.
TEST(Topology, NoRegionSharedByEveryReceivingPartition)
{
	std::string t = kGood;
	t.replace(t.find("[\"a\", \"b\"]"), 10, "[\"a\"]");
	auto c = conflicts(t);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("no region is shared by every partition that receives from veth0"));
	Topology good = Topology::parse(kGood, "t.toml");
	EXPECT_EQ(umem_region(good), &good.regions[0]);
}

// Network safety: an interface outside a testbed namespace is a conflict,
// whatever else the file says (no namespace is created or touched here).
TEST(Topology, OnlyTestbedDevicesMayCarryTraffic)
{
	Topology t = Topology::parse(kGood, "t.toml");
	t.interface = "eth0";
	t.netns.clear();
	MachineFacts m = probe_machine(t);
	EXPECT_THAT(m.device_refused, HasSubstr("refusing to use eth0: mkdp attaches only to a testbed device"));
	auto c = check(t, m);
	ASSERT_FALSE(c.empty());
	EXPECT_THAT(c[0].what, HasSubstr("[machine] interface: refusing to use eth0"));

	t.interface = "mkdp0";
	t.netns = "mkdp-t-absent-" + std::to_string(getpid());
	EXPECT_THAT(probe_machine(t).device_refused, HasSubstr("network namespace " + t.netns + " does not exist"));
	t.netns = "not-mkdp";
	EXPECT_THAT(probe_machine(t).device_refused, ::testing::Not(::testing::IsEmpty()));
}

// `up` gives the UMEM a return ring with a slot for every frame, and the
// ring ABI's rings hold at most MKDP_RING_MAX slots: check refuses a region
// beyond that with its line, as `up` would (it used to pass check and fail
// in up on an internal ring 'ret0').
TEST(Topology, RegionBeyondTheRingAbi)
{
	std::string t = kGood;
	t.replace(t.find("\"4MiB\""), 6, "\"1024GiB\"");
	auto c = conflicts(t);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "16: region 'umem': 1 TiB holds 536870912 frames of 2048 B, more than a ring can return "
			"(16777216, the ring ABI's MKDP_RING_MAX): at most 32 GiB with this frame size");
	Topology big = Topology::parse(t, "t.toml");
	EXPECT_EQ(frames_per_partition(big.regions[0]), 0u) << "a share that does not fit a ring";
	EXPECT_THROW(region_layout(big, big.regions[0]), Error);

	// Exactly MKDP_RING_MAX frames fits, and is the layout up creates.
	t.replace(t.find("\"1024GiB\""), 9, "\"32GiB\"");
	EXPECT_THAT(conflicts(t), ::testing::IsEmpty());
	Topology top = Topology::parse(t, "t.toml");
	std::vector<mkdp_region_entry> table = region_layout(top, top.regions[0]).table();
	std::map<std::string, uint32_t> rings;
	for (const mkdp_region_entry &e : table)
		rings[e.name] = e.entries;
	EXPECT_EQ(rings, (std::map<std::string, uint32_t>{
				 {"frames", 0}, {"ret0", MKDP_RING_MAX}, {"ret1", MKDP_RING_MAX},
				 {"fwd0-1", kForwardRingEntries}, {"fwd1-0", kForwardRingEntries}}));
}

// Any other refusal of the ring ABI comes from check too: a data region
// that is not a whole number of frames.
TEST(Topology, RegionLayoutTheAbiRefuses)
{
	auto c = conflicts(with("[[region]]\nname = \"r2\"\nsize = 1049576\nshared_with = [\"a\"]\n"));
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: region 'r2': area 'data': frame size 2048 must be a power of two dividing the area size");
}

// A region is populated when up creates it: more than the machine's memory
// cannot be, alone or together with the others.
TEST(Topology, RegionsBeyondTheMachinesMemory)
{
	MachineFacts m = two_cpus();
	m.mem_total = 64ull << 20;
	EXPECT_THAT(conflicts(kGood, m), ::testing::IsEmpty());
	std::string t = kGood;
	t.replace(t.find("\"4MiB\""), 6, "\"128MiB\"");
	auto c = conflicts(t, m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], ::testing::StartsWith("16: region 'umem' needs 129."));
	EXPECT_THAT(c[0], ::testing::EndsWith(" MiB, more than the machine's memory (64 MiB, MemTotal)"));

	// Each fits, not both.
	t = with("[[region]]\nname = \"r2\"\nsize = \"62MiB\"\nshared_with = [\"a\"]\n");
	c = conflicts(t, m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("0: the regions and memory volumes need 67.")) << "kGood's 1 MiB volume too";
	EXPECT_THAT(c[0], HasSubstr("MiB together, more than the machine's memory (64 MiB, MemTotal)"));
}

// Huge-page regions against the free huge pages, alone and together.
TEST(Topology, HugePageRegionsBeyondTheFreePages)
{
	MachineFacts m = two_cpus();
	m.hugetlbfs = true;
	m.huge_page_size = 2u << 20;
	m.huge_pages_free = 2;
	std::string t = kGood;
	t.replace(t.find("frame_size = 2048"), 0, "hugepages = true\n");
	auto c = conflicts(t, m);	// 4 MiB of frames and the rings: 3 pages
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "16: region 'umem' needs 3 huge pages of 2 MiB, but 2 are free");
	m.huge_pages_free = 3;
	EXPECT_THAT(conflicts(t, m), ::testing::IsEmpty());
	t += "[[region]]\nname = \"r2\"\nsize = \"1MiB\"\nhugepages = true\nshared_with = [\"a\"]\n";
	c = conflicts(t, m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "0: the huge-page regions need 4 huge pages together, but 3 are free");
}

TEST(Topology, RegionFrameSizeMustSuitAfXdp)
{
	std::string t = kGood;
	t.replace(t.find("frame_size = 2048"), 17, "frame_size = 1000");
	auto c = conflicts(t);
	ASSERT_GE(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("frame_size 1000 must be 2048 or 4096"));
}

TEST(Topology, RegionSharedWithUnknownPartition)
{
	std::string t = kGood;
	t.replace(t.find("[\"a\", \"b\"]"), 10, "[\"a\", \"ghost\"]");
	auto c = conflicts(t);
	ASSERT_EQ(c.size(), 2u);
	EXPECT_THAT(c[1], HasSubstr("shared with unknown partition 'ghost'"));
	// ...and so b, which receives, shares no UMEM with a (a file-wide
	// conflict: line 0 sorts first).
	EXPECT_THAT(c[0], HasSubstr("no region is shared by every partition that receives"));
}

TEST(Topology, DuplicateNames)
{
	auto c = conflicts(with("[[region]]\nname = \"a\"\nsize = \"1MiB\"\nshared_with = [\"a\"]\n"));
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("duplicate name 'a'"));
}

TEST(Topology, BadNames)
{
	auto c = conflicts(with("[[partition]]\nname = \"bad/name\"\n"));
	ASSERT_GE(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("must be 1-15 characters"));
}

TEST(Topology, HugePagesWhenNoneAreAvailable)
{
	std::string t = kGood;
	t.replace(t.find("frame_size = 2048"), 0, "hugepages = true\n");
	MachineFacts m = two_cpus();
	m.hugetlbfs = false;
	auto c = conflicts(t, m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("asks for huge pages"));
	m.hugetlbfs = true;
	EXPECT_THAT(conflicts(t, m), ::testing::IsEmpty());
}

TEST(Topology, VolumeConflicts)
{
	auto c = conflicts(with("[[volume]]\nname = \"v2\"\nbackend = \"file\"\nsize = 1000\n"
				"owner = \"a\"\npartitions = [\"zz\"]\n"));
	ASSERT_EQ(c.size(), 3u);
	EXPECT_THAT(c[0], HasSubstr("unknown partition 'zz'"));
	EXPECT_EQ(c[1], "27: volume 'v2': size 1000 must be a multiple of 4096 (O_DIRECT and page-size buffers)");
	EXPECT_THAT(c[2], HasSubstr("needs a path"));
}

namespace {

// kGood plus one volume made of `keys` (name "v2"), and what check says.
std::vector<std::string> volume_conflicts(const std::string &keys, MachineFacts m = two_cpus())
{
	return conflicts(with("[[volume]]\nname = \"v2\"\n" + keys), m);
}

} // namespace

TEST(Topology, VolumeWithoutOwner)
{
	auto c = volume_conflicts("size = \"1MiB\"\npartitions = [\"a\"]\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2' has no owner: name the partition that serves it (owner = \"p0\")");
}

TEST(Topology, VolumeOwnerUnknown)
{
	auto c = volume_conflicts("size = \"1MiB\"\nowner = \"ghost\"\n");
	ASSERT_EQ(c.size(), 1u) << "said once, not again as an unknown serving partition";
	EXPECT_EQ(c[0], "27: volume 'v2': owner 'ghost' is not a partition");
}

// The owner is one of the serving partitions: first when the file leaves
// it out, where the file put it otherwise.
TEST(Topology, VolumeOwnerIsAServingPartition)
{
	Topology t = Topology::parse(with("[[volume]]\nname = \"v2\"\nsize = \"1MiB\"\nowner = \"b\"\n"
					  "partitions = [\"a\"]\n"
					  "[[volume]]\nname = \"v3\"\nsize = \"1MiB\"\nowner = \"b\"\n"
					  "partitions = [\"a\", \"b\"]\n"),
				     "t.toml");
	EXPECT_EQ(t.volumes[1].partitions, (std::vector<std::string>{"b", "a"}));
	EXPECT_EQ(t.volumes[2].partitions, (std::vector<std::string>{"a", "b"}));
}

TEST(Topology, VolumeSizeMustBeWholePages)
{
	auto c = volume_conflicts("size = 2048\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2': size 2048 must be a multiple of 4096 (O_DIRECT and page-size buffers)");
	c = volume_conflicts("size = 12800\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("size 12800 must be a multiple of 4096"));
	EXPECT_THAT(volume_conflicts("size = 8192\nowner = \"a\"\n"), ::testing::IsEmpty());
}

TEST(Topology, FileVolumeInADirectoryThatDoesNotExist)
{
	mkdp::test::TempDir d("topo");
	std::string path = (d.path / "no-such-dir" / "vol.img").string();
	auto c = volume_conflicts("backend = \"file\"\npath = \"" + path + "\"\nsize = \"1MiB\"\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2': directory " + (d.path / "no-such-dir").string() + " of " + path +
				" does not exist");
	// A file that does not exist yet in a directory that does: up creates it.
	path = (d.path / "vol.img").string();
	EXPECT_THAT(volume_conflicts("backend = \"file\"\npath = \"" + path + "\"\nsize = \"1MiB\"\nowner = \"a\"\n"),
		    ::testing::IsEmpty());
}

TEST(Topology, FileVolumeThatIsNotARegularFile)
{
	mkdp::test::TempDir d("topo");
	auto c = volume_conflicts("backend = \"file\"\npath = \"" + d.path.string() +
				  "\"\nsize = \"1MiB\"\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2': " + d.path.string() + " is not a regular file");
}

TEST(Topology, BlockVolumeThatDoesNotExist)
{
	mkdp::test::TempDir d("topo");
	std::string path = (d.path / "nodev").string();
	auto c = volume_conflicts("backend = \"block\"\npath = \"" + path + "\"\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u) << "and no size needed: a block volume takes the device's";
	EXPECT_EQ(c[0], "27: volume 'v2': block device " + path + " does not exist");
}

TEST(Topology, BlockVolumeThatIsNotABlockDevice)
{
	mkdp::test::TempDir d("topo");
	std::string path = d.file("img");
	auto c = volume_conflicts("backend = \"block\"\npath = \"" + path + "\"\nowner = \"a\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2': " + path + " is not a block device");
}

TEST(Topology, TwoVolumesOnOnePath)
{
	mkdp::test::TempDir d("topo");
	std::string path = d.file("img");
	std::string vol = "backend = \"file\"\nsize = \"1MiB\"\nowner = \"a\"\npath = \"";
	auto c = conflicts(with("[[volume]]\nname = \"va\"\n" + vol + path + "\"\n" +
				"[[volume]]\nname = \"vb\"\n" + vol + d.path.string() + "/./img\"\n"));
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "33: volume 'vb' uses the same path as volume 'va'");
}

TEST(Topology, VolumeProgramThatDoesNotExist)
{
	auto c = volume_conflicts("size = \"1MiB\"\nowner = \"a\"\nprogram = \"/nonexistent/gate.bpf.o\"\n");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2': program /nonexistent/gate.bpf.o does not exist");
}

// A relative program path is the topology file's, not the caller's.
TEST(Topology, VolumeProgramRelativeToTheFile)
{
	mkdp::test::TempDir d("topo");
	std::string prog = d.file("gate.bpf.o", "not really an object");
	std::string text = with("[[volume]]\nname = \"v2\"\nsize = \"1MiB\"\nowner = \"a\"\n"
				"program = \"gate.bpf.o\"\n");
	EXPECT_EQ(Topology::parse(text, "<built-in>").volumes[1].program, "gate.bpf.o") << "parse leaves it";
	Topology t = Topology::load(d.file("t.toml", text));
	EXPECT_EQ(t.volumes[1].program, prog);
	EXPECT_THAT(check(t, two_cpus()), ::testing::IsEmpty());
}

TEST(Topology, VolumeWakeup)
{
	auto volume = [](const std::string &wakeup) {
		return Topology::parse(with("[[volume]]\nname = \"v2\"\nsize = \"1MiB\"\nowner = \"a\"\n"
					    "wakeup = \"" + wakeup + "\"\n"),
				       "t.toml");
	};
	EXPECT_EQ(volume("polled").volumes[1].wakeup, "polled");
	EXPECT_EQ(volume("interrupt").volumes[1].wakeup, "interrupt");
	for (const char *bad : {"monitor", "sometimes"}) {
		try {
			volume(bad);
			ADD_FAILURE() << bad << " accepted";
		} catch (const Error &e) {
			EXPECT_THAT(e.what(), HasSubstr("t.toml:31: 'wakeup' must be polled, interrupt or adaptive"));
		}
	}
}

// Memory volumes are memory too: each, and together with the regions.
TEST(Topology, MemoryVolumesBeyondTheMachinesMemory)
{
	MachineFacts m = two_cpus();
	m.mem_total = 64ull << 20;
	auto c = volume_conflicts("size = \"128MiB\"\nowner = \"a\"\n", m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0], "27: volume 'v2' needs 128 MiB, more than the machine's memory (64 MiB, MemTotal)");
	c = volume_conflicts("size = \"62MiB\"\nowner = \"a\"\n", m);
	ASSERT_EQ(c.size(), 1u);
	EXPECT_THAT(c[0], HasSubstr("0: the regions and memory volumes need 67."));
	EXPECT_THAT(c[0], HasSubstr("together, more than the machine's memory (64 MiB, MemTotal)"));
}

TEST(Topology, ParseErrorsNameTheLine)
{
	auto msg = [](const std::string &text) {
		try {
			Topology::parse(text, "x.toml");
		} catch (const Error &e) {
			return std::string(e.what());
		}
		return std::string("no error");
	};
	EXPECT_THAT(msg("[[partition]]\nname = \"a\"\ncpu = [0]\n"),
		    HasSubstr("x.toml:3: unknown key 'cpu' in [[partition]]"));
	EXPECT_THAT(msg("[[partition]]\nname = 5\n"), HasSubstr("x.toml:2: 'name' must be a string"));
	EXPECT_THAT(msg("[[partition]]\nname = \"a\"\ncpus = [-1]\n"), HasSubstr("x.toml:3:"));
	EXPECT_THAT(msg("[[partition]]\nname = \"a\"\ncpus = \"3-1\"\n"), HasSubstr("bad CPU list"));
	EXPECT_THAT(msg("[[partition]]\nname = \"a\"\ncpus = [0, 0]\n"), HasSubstr("listed twice"));
	EXPECT_THAT(msg("[[partition]]\nname = \"a\"\nwakeup = \"sometimes\"\n"),
		    HasSubstr("'wakeup' must be polled, interrupt or adaptive"));
	EXPECT_THAT(msg("[[region]]\nname = \"r\"\nsize = \"12parsecs\"\n"), HasSubstr("unknown unit"));
	EXPECT_THAT(msg("[machine\n"), HasSubstr("x.toml:1:"));
	EXPECT_THAT(msg("partition = 3\n"), HasSubstr("[[partition]] tables"));
}

TEST(Topology, SizesAndCpuLists)
{
	EXPECT_EQ(parse_size("4096"), 4096u);
	EXPECT_EQ(parse_size("64k"), 65536u);
	EXPECT_EQ(parse_size("16MiB"), 16u << 20);
	EXPECT_EQ(parse_size("2G"), 2ull << 30);
	EXPECT_THROW(parse_size("M"), Error);
	EXPECT_THROW(parse_size("99999999999999999999G"), Error);
	EXPECT_EQ(parse_cpu_list("0-3,6"), (std::vector<int>{0, 1, 2, 3, 6}));
	EXPECT_THROW(parse_cpu_list(""), Error);
	EXPECT_THROW(parse_cpu_list("1,,2"), Error);
	EXPECT_THROW(parse_cpu_list("a"), Error);
}

TEST(TopologyCli, CheckReportsEveryConflictAndFails)
{
	char path[] = "/tmp/mkdp-topo-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	std::ofstream(path) << with("[[partition]]\nname = \"c\"\ncpus = [0]\n"
				    "[[region]]\nname = \"r2\"\nsize = \"4MiB\"\nshared_with = [\"nobody\"]\n");
	std::string cmd = std::string(MKDP_CLI) + " topology check --json " + path;
	FILE *p = popen(cmd.c_str(), "r");
	ASSERT_NE(p, nullptr);
	std::string out;
	char buf[4096];
	while (size_t n = fread(buf, 1, sizeof(buf), p))
		out.append(buf, n);
	int status = pclose(p);
	unlink(path);
	EXPECT_NE(WEXITSTATUS(status), 0);
	EXPECT_THAT(out, HasSubstr("\"result\": \"conflicts\""));
	EXPECT_THAT(out, HasSubstr("overlap on CPU 0"));
	EXPECT_THAT(out, HasSubstr("unknown partition 'nobody'"));
}
