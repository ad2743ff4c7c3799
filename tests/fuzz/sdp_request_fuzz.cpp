// SPDX-License-Identifier: BSD-2-Clause
// SDP on batches of requests the fuzzer writes: the executor (BPF_PROG_RUN
// of a real example program, sdp/examples/) on the raw batch, then the whole
// storage path in one thread: the front end validates, judges and routes the
// same requests into three partitions' storage rings, whose storage workers
// check them against the volumes (memory backends) and complete them.
//
// Input: u8 program (kPrograms, or none), then 28-byte requests:
//   u8 op, u8 flags, u16 volume, u16 tag, u64 sector, u32 len, u32 part,
//   u16 queue, u32 target (what the caller left in sdp_md.target)
//
// Invariants:
// - executor: one verdict per request, each a defined sdp_action; a DROP
//   carries a positive errno, a REDIRECT a partition of the program's map;
//   the program changes nothing but err and target; and the verdict is the
//   one the program's rule (written here) gives.
// - storage path: every request completes exactly once; a request outside
//   its volume or the alignment rules (request_ok(), written here) never
//   succeeds, a valid one succeeds unless the program refused it; a DROP
//   completes with a negative errno.
#include <frontend.h>
#include <storage_worker.h>

#include <mkdp/region.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "fuzz.h"

namespace {

using namespace mkdp::sdp;

constexpr uint32_t kEntries = 16;		// tags per lane
constexpr uint32_t kSlot = 64 * 1024;		// bytes per tag: the largest request
constexpr uint64_t kVolSize[] = {8 << 20, (1 << 20) + 512};	// volumes 0 and 1
constexpr uint32_t kLanes = 3;			// partitions 0..2; 3 has none
constexpr size_t kMaxRequests = 200;		// a few BPF_PROG_RUN batches
constexpr uint32_t kMaxBuffer = 4 * kSlot;	// larger requests get no client buffer

enum Prog { kReadonly, kSteer, kZeroFill, kTokens, kNone };
const char *const kPrograms[] = {"readonly_range", "sector_steer", "zero_fill", "token_bucket"};
// readonly_range: sectors [2048, 4096) refuse writes; sector_steer: range
// r of 2048 sectors (mod 64) goes to kSteerTo[r] when set; token_bucket:
// partition 1 has 3 tokens and earns no more within a run.
constexpr uint64_t kRoFirst = 2048, kRoEnd = 4096;
const std::map<uint32_t, uint32_t> kSteerTo = {{1, 1}, {2, 2}, {3, 3}};
constexpr uint32_t kLimited = 1, kBurst = 3;

struct Env {
	std::unique_ptr<Program> progs[kNone];
	std::vector<uint8_t> vols[2];
	std::vector<mkdp::Region> regions;
	std::vector<std::unique_ptr<StorageWorker>> workers;
};
Env *g;

template <class K, class V> void set(Program &p, const char *map, K k, V v)
{
	p.set_map(map, {reinterpret_cast<const uint8_t *>(&k), sizeof(k)},
		  {reinterpret_cast<const uint8_t *>(&v), sizeof(v)});
}

// Zeroes a stateful program's array map in one system call, so that every
// input starts from the same state.
void clear_map(Program &p, const char *name)
{
	bpf_map *m = bpf_object__find_map_by_name(p.object(), name);
	FUZZ_CHECK(m);
	uint32_t n = bpf_map__max_entries(m);
	std::vector<uint32_t> keys(n);
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	std::vector<uint8_t> zeros(size_t(n) * bpf_map__value_size(m));
	FUZZ_CHECK(bpf_map_update_batch(bpf_map__fd(m), keys.data(), zeros.data(), &n, nullptr) == 0);
}

void reset(Prog p)
{
	if (p == kZeroFill)
		clear_map(*g->progs[p], "written");
	if (p == kTokens)
		clear_map(*g->progs[p], "buckets");
}

// ---------------------------------------------------------------- the rules

// The request rule of the storage path: a known op; FLUSH carries no range;
// any other op a range of whole sectors inside its volume; READ and WRITE
// at least one sector (and, to reach a partition, at most one lane buffer:
// checked apart, as a program may answer a longer one itself).
bool request_ok(const Request &r)
{
	if (r.op > SDP_OP_MAX || r.volume >= 2)
		return false;
	if (r.op == SDP_OP_FLUSH)
		return true;
	uint64_t size = kVolSize[r.volume];
	bool rw = r.op == SDP_OP_READ || r.op == SDP_OP_WRITE;
	if (r.len % 512 || (rw && r.len == 0))
		return false;
	return r.sector <= size / 512 && r.len <= size - r.sector * 512;
}

struct Verdict {
	uint8_t action;
	int32_t err = 0;	// DROP
	uint32_t target = 0;	// REDIRECT
};

// What the example programs decide, with their u64 arithmetic (wrapping).
struct Model {
	Prog prog;
	std::vector<uint64_t> written = std::vector<uint64_t>(1024);	// zero_fill's bitmap
	uint32_t tokens = kBurst;					// token_bucket's partition 1

	bool zf_bit(uint64_t extent, bool mark)
	{
		uint32_t w = uint32_t(extent / 64);
		if (w >= written.size())
			return !mark;	// no word: reads pass, writes mark nothing
		if (mark)
			written[w] |= 1ull << (extent % 64);
		return written[w] >> (extent % 64) & 1;
	}
	Verdict judge(const sdp_md &m)
	{
		uint64_t end = m.sector + (m.len >> 9);
		switch (prog) {
		case kReadonly:
			if (m.op == SDP_OP_READ || m.op == SDP_OP_FLUSH)
				return {SDP_PASS};
			return m.sector < kRoEnd && end > kRoFirst ? Verdict{SDP_DROP, EROFS} : Verdict{SDP_PASS};
		case kSteer: {
			auto it = kSteerTo.find(uint32_t(m.sector >> 11) % 64);
			if (m.op == SDP_OP_FLUSH || it == kSteerTo.end())
				return {SDP_PASS};
			return {SDP_REDIRECT, 0, it->second};
		}
		case kZeroFill: {
			uint64_t first = m.sector >> 11, last = (end - 1) >> 11;
			if (m.op == SDP_OP_FLUSH || !m.len || last - first > 1)
				return {SDP_PASS};
			if (m.op != SDP_OP_READ) {
				zf_bit(first, true);
				zf_bit(last, true);
				return {SDP_PASS};
			}
			return zf_bit(first, false) || zf_bit(last, false) ? Verdict{SDP_PASS} : Verdict{SDP_COMPLETE};
		}
		case kTokens:
			if (m.part % 64 != kLimited || m.op == SDP_OP_FLUSH)
				return {SDP_PASS};
			if (tokens) {
				tokens--;
				return {SDP_PASS};
			}
			return {SDP_DROP, EAGAIN};
		case kNone:
			break;
		}
		return {SDP_PASS};
	}
};

// ---------------------------------------------------------------- the runs

// The executor alone, on the batch as the fuzzer wrote it.
void run_executor(Prog p, std::vector<sdp_md> mds)
{
	const std::vector<sdp_md> in = mds;
	std::vector<uint8_t> verdicts(mds.size(), 0xff);
	reset(p);
	g->progs[p]->run(mds, verdicts.data());
	Model model{p};
	for (size_t i = 0; i < mds.size(); i++) {
		const sdp_md &a = in[i], &b = mds[i];
		FUZZ_CHECK(verdicts[i] <= SDP_ACTION_MAX);
		// Everything before err is the executor's to write, not the program's.
		FUZZ_CHECK(std::memcmp(&a, &b, offsetof(sdp_md, err)) == 0);
		Verdict want = model.judge(a);
		FUZZ_CHECK(verdicts[i] == want.action);
		if (verdicts[i] == SDP_DROP)
			FUZZ_CHECK(b.err == want.err && b.err > 0 && b.err < 4096);
		else
			FUZZ_CHECK(b.err == a.err);
		if (verdicts[i] == SDP_REDIRECT)
			FUZZ_CHECK(b.target == want.target);
		else
			FUZZ_CHECK(b.target == a.target);
	}
}

// The front end, the lanes and their workers, all in this thread.
void run_path(Prog p, std::vector<Request> reqs)
{
	std::vector<std::vector<uint8_t>> bufs(reqs.size());
	for (size_t i = 0; i < reqs.size(); i++) {
		reqs[i].tag = uint32_t(i);	// the client's tag: how completions are matched
		bool rw = reqs[i].op == SDP_OP_READ || reqs[i].op == SDP_OP_WRITE;
		if (rw && reqs[i].len <= kMaxBuffer) {
			bufs[i].assign(reqs[i].len, 0xa5);	// exactly len bytes: ASan sees any overrun
			reqs[i].data = bufs[i].data();
		}
	}
	std::vector<Lane> lanes;
	for (uint32_t l = 0; l < kLanes; l++) {
		mkdp::Region &r = g->regions[l];
		lanes.push_back({r.producer<mkdp_sreq_desc>("sq"), r.completions("cq", "sq"), r.area("data"), l});
	}
	reset(p);
	Frontend fe(p == kNone ? nullptr : g->progs[p].get(), std::move(lanes),
		    {{kVolSize[0], 0}, {kVolSize[1], 1}});
	fe.submit(reqs);
	std::vector<Completion> got;
	for (int spins = 0; fe.outstanding() && spins < 1000; spins++) {
		for (auto &w : g->workers)
			w->poll();
		Completion c[64];
		uint32_t n = fe.reap(c);
		got.insert(got.end(), c, c + n);
	}
	FUZZ_CHECK(fe.outstanding() == 0);
	for (auto &w : g->workers)
		FUZZ_CHECK(w->poll() == 0 && w->in_flight() == 0);
	Completion c[64];
	FUZZ_CHECK(fe.reap(c) == 0);

	FUZZ_CHECK(got.size() == reqs.size());
	std::vector<uint8_t> seen(reqs.size());
	for (const Completion &c : got) {
		FUZZ_CHECK(c.tag < reqs.size() && !seen[c.tag]++);
		const Request &r = reqs[c.tag];
		bool rw = r.op == SDP_OP_READ || r.op == SDP_OP_WRITE;
		FUZZ_CHECK(c.verdict <= SDP_ACTION_MAX);
		FUZZ_CHECK(c.status <= 0 && c.status >= -4095);
		if (!request_ok(r)) {
			FUZZ_CHECK(c.status == -EINVAL);
			continue;
		}
		switch (c.verdict) {
		case SDP_DROP:
			FUZZ_CHECK(c.status == (p == kTokens ? -EAGAIN : -EROFS));
			break;
		case SDP_REDIRECT:
			FUZZ_CHECK(p == kSteer);
			// A partition without a lane cannot serve it: EIO.
			if (kSteerTo.at(uint32_t(r.sector >> 11) % 64) >= kLanes) {
				FUZZ_CHECK(c.status == -EIO);
				break;
			}
			[[fallthrough]];
		case SDP_PASS:
			if (rw && r.len > kSlot) {
				FUZZ_CHECK(c.status == -EINVAL);	// larger than a lane buffer
				break;
			}
			FUZZ_CHECK(c.status == 0 && c.bytes == (rw ? r.len : 0));
			break;
		case SDP_COMPLETE:
			FUZZ_CHECK(r.op == SDP_OP_READ && p == kZeroFill);
			FUZZ_CHECK(c.status == 0 && c.bytes == r.len);
			if (r.data)
				FUZZ_CHECK(r.data[0] == 0 && r.data[r.len - 1] == 0);	// zeros
			break;
		default:
			FUZZ_CHECK(c.status == -EIO);
		}
	}
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	g = new Env;
	for (int p = 0; p < kNone; p++)
		g->progs[p] = std::make_unique<Program>(
			Program::load(std::string(MKDP_SDP_EXAMPLES) + "/" + kPrograms[p] + ".bpf.o"));
	set(*g->progs[kReadonly], "ro_range", uint32_t(0), std::array<uint64_t, 2>{kRoFirst, kRoEnd});
	for (auto [range, part] : kSteerTo)
		set(*g->progs[kSteer], "range_part", range, part);
	set(*g->progs[kTokens], "limits", kLimited, std::array<uint64_t, 2>{1, kBurst});
	for (int v = 0; v < 2; v++)
		g->vols[v].assign(kVolSize[v], 0);
	for (uint32_t l = 0; l < kLanes; l++) {
		g->regions.push_back(mkdp::Region::create(mkdp::RegionLayout()
								  .area("data", uint64_t(kEntries) * kSlot)
								  .ring("sq", MKDP_DESC_SREQ, kEntries, "data")
								  .ring("cq", MKDP_DESC_SCPL, kEntries, "data")));
		mkdp::Region &r = g->regions.back();
		std::vector<Backend> backends;
		for (int v = 0; v < 2; v++)
			backends.push_back({-1, g->vols[v], kVolSize[v], false});
		g->workers.push_back(std::make_unique<StorageWorker>(r.requests("sq", 2), r.producer<mkdp_scpl_desc>("cq"),
								     r.area("data"), std::move(backends), kEntries));
	}
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mkdp::fuzz::Input in(data, size);
	Prog p = Prog(in.take<uint8_t>() % (kNone + 1));
	std::vector<sdp_md> mds;
	std::vector<Request> reqs;
	while (!in.empty() && mds.size() < kMaxRequests) {
		sdp_md m{};
		m.op = in.take<uint8_t>();
		m.flags = in.take<uint8_t>();
		m.volume = in.take<uint16_t>();
		m.tag = in.take<uint16_t>();
		m.sector = in.take<uint64_t>();
		m.len = in.take<uint32_t>();
		m.part = in.take<uint32_t>();
		m.queue = in.take<uint16_t>();
		m.target = in.take<uint32_t>();
		mds.push_back(m);
		reqs.push_back({.op = m.op, .flags = m.flags, .volume = m.volume, .tag = m.tag, .sector = m.sector,
				.len = m.len, .data = nullptr, .part = m.part, .queue = m.queue});
	}
	if (p != kNone)
		run_executor(p, mds);
	run_path(p, reqs);
	return 0;
}
