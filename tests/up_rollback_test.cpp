// SPDX-License-Identifier: BSD-2-Clause
// Ground that holds: `mkdp topology up` interrupted at any point leaves nothing
// (the commit between the command and its supervisor, up_handshake.h);
// cgroups whose tasks are still exiting are removed, not left behind; what
// a SIGKILLed supervisor left is cleaned by the next `down` or `up`; and a
// steering program the user attached before `up` is named, changed only
// where up needs it and given back by `down`.
//
// Interrupts land at known points through the daemon's test hook
// MKDP_UP_HOLD=<phase> (it waits at that checkpoint until interrupted,
// after creating /run/mkdp/hold-<phase>), and also at fixed delays after
// the command starts, where either outcome is fine but never half of one.
#include "child_process.h"
#include "partition_harness.h"

#include <mkdp/subprocess.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

namespace mkdp::test {
namespace {

class UpRollbackTest : public PartitionFixture {};

// `mkdp topology up` on the bed's topology, not waited for; with MKDP_UP_HOLD set in
// its environment when `hold` is given.
std::unique_ptr<RunningProgram> start_up(const PartitionBed &bed, const std::string &hold = {})
{
	if (!hold.empty())
		setenv("MKDP_UP_HOLD", hold.c_str(), 1);
	auto up = std::make_unique<RunningProgram>(std::vector<std::string>{MKDP_CLI, "topology", "up", bed.file()});
	unsetenv("MKDP_UP_HOLD");
	return up;
}

// The command's result, waiting at most timeout_ms.
ProgramResult finish(RunningProgram &p, int timeout_ms = 30000)
{
	std::optional<ProgramResult> r = p.wait(timeout_ms);
	if (!r) {
		ADD_FAILURE() << "the command did not exit within " << timeout_ms << " ms";
		return {};
	}
	return *r;
}

// Until `up` waits at the hold of `phase`; fails if it exits first or the
// bound passes. The wait for its exit (10 ms at a time) paces the polling.
::testing::AssertionResult reaches_hold(RunningProgram &up, const std::string &phase, int timeout_ms = 20000)
{
	std::string marker = std::string(kRunDir) + "/hold-" + phase;
	uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000;
	while (!std::filesystem::exists(marker)) {
		if (std::optional<ProgramResult> r = up.wait(10))
			return ::testing::AssertionFailure() << "mkdp topology up exited (status " << r->status << ") before the "
							     << phase << " hold: " << r->err;
		if (now_ns() > end)
			return ::testing::AssertionFailure() << "mkdp topology up did not reach the " << phase << " hold in "
							     << timeout_ms << " ms";
	}
	return ::testing::AssertionSuccess();
}

// nothing_left() with a longer bound than its own 2 s: for a daemon that
// rolls back on its own after its command was killed.
::testing::AssertionResult nothing_left_within(const std::string &netns, int timeout_ms)
{
	uint64_t end = now_ns() + uint64_t(timeout_ms) * 1'000'000;
	std::string l;
	do {
		l = leftovers(netns);	// itself waits up to 2 s for things to go
		if (l.empty())
			return ::testing::AssertionSuccess();
	} while (now_ns() < end);
	return ::testing::AssertionFailure() << "left behind after " << timeout_ms << " ms: " << l;
}

size_t lines(const std::string &s)
{
	return size_t(std::count(s.begin(), s.end(), '\n'));
}

// The interrupted command's verdict: exit 128 + signal, one line saying
// that everything was removed, and nothing indeed left.
void expect_rolled_back(const ProgramResult &r, int sig, const PartitionBed &bed)
{
	EXPECT_EQ(r.status, 128 + sig) << r.out << r.err;
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("mkdp topology up: interrupted; everything it had set up was removed"), std::string::npos) << r.err;
	EXPECT_EQ(r.out, "");
	EXPECT_TRUE(nothing_left(bed.netns()));
	EXPECT_EQ(supervisor_pid(), 0);
}

// The cgroup directory of partition `name` in the running supervisor's
// status ("" when it runs on affinity alone).
std::string cgroup_of(const std::string &name)
{
	std::string placement = part(status(), name).value("placement", "");
	if (placement.find("cgroup") == std::string::npos)
		return {};
	return placement.substr(placement.rfind(' ') + 1);
}

// A process of ours that sleeps in cgroup `dir` until killed. With
// `ballast_mb`, it first fills that much memory, which it frees as it dies:
// a task takes that long (tens of ms) between SIGKILL and leaving its
// cgroup, so a `down` started right after the kill meets it still there.
std::unique_ptr<Child> stranger_in(const std::string &dir, size_t ballast_mb = 0)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC))
		return nullptr;
	auto c = std::make_unique<Child>([&] {
		if (ballast_mb && mmap(nullptr, ballast_mb << 20, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) == MAP_FAILED)
			return 1;
		(void)!write(ready[1], "r", 1);
		pause();
		return 0;
	});
	close(ready[1]);
	// Populating the ballast takes a moment on an idle machine and far
	// longer on a loaded one: the bound only catches a child that died.
	pollfd p{ready[0], POLLIN, 0};
	bool ok = poll(&p, 1, 120000) == 1;
	close(ready[0]);
	if (!ok)
		return nullptr;
	std::ofstream(dir + "/cgroup.procs") << c->pid() << "\n";
	return c;
}

bool in_cgroup(const std::string &dir, int pid)
{
	std::ifstream f(dir + "/cgroup.procs");
	for (int p; f >> p;)
		if (p == pid)
			return true;
	return false;
}

TEST_F(UpRollbackTest, SigintAtEachSetUpPhaseRemovesEverything)
{
	PartitionBed bed;
	for (std::string phase : {"region", "sockets", "steering", "partitions", "ready"}) {
		SCOPED_TRACE("held at " + phase);
		std::unique_ptr<RunningProgram> up = start_up(bed, phase);
		ASSERT_TRUE(reaches_hold(*up, phase));
		// What exists at the hold, so the roll-back is seen to remove it.
		if (phase == "steering" || phase == "partitions" || phase == "ready") {
			EXPECT_NE(xdp_on(bed.netns()), "") << "the program is attached by then";
		}
		if (phase == "partitions") {
			// The partition may still be inside execve at the hold: between
			// the fork and the new image, /proc/PID/cmdline can read empty.
			EXPECT_TRUE(wait_until([] { return mkdp_processes().size() >= 3; }, 10000))
				<< "the command, the supervisor and a partition; found " << mkdp_processes().size();
		}
		kill(up->pid(), SIGINT);
		expect_rolled_back(finish(*up), SIGINT, bed);
	}
	// And then up works as usual.
	ProgramResult u = bed.up();
	EXPECT_EQ(u.status, 0) << u.err;
	EXPECT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

TEST_F(UpRollbackTest, SigtermAndSighupDuringSetUpRemoveEverything)
{
	PartitionBed bed;
	for (int sig : {SIGTERM, SIGHUP}) {
		SCOPED_TRACE(strsignal(sig));
		std::unique_ptr<RunningProgram> up = start_up(bed, "partitions");
		ASSERT_TRUE(reaches_hold(*up, "partitions"));
		kill(up->pid(), sig);
		expect_rolled_back(finish(*up), sig, bed);
	}
}

// The command dies without a word (SIGKILL closes its end of the report
// socket): the supervisor notices at its hold and rolls back by itself.
TEST_F(UpRollbackTest, KilledCommandLeavesNothing)
{
	PartitionBed bed;
	for (std::string phase : {"sockets", "steering", "partitions"}) {
		SCOPED_TRACE("held at " + phase);
		std::unique_ptr<RunningProgram> up = start_up(bed, phase);
		ASSERT_TRUE(reaches_hold(*up, phase));
		kill(up->pid(), SIGKILL);
		EXPECT_EQ(finish(*up).status, 128 + SIGKILL);
		EXPECT_TRUE(nothing_left_within(bed.netns(), 20000));
		EXPECT_EQ(supervisor_pid(), 0);
	}
}

// `down` while a supervisor is still setting up stops it (it has no control
// socket yet): the set-up is rolled back and `up` fails with one line.
TEST_F(UpRollbackTest, DownDuringSetUpRollsItBack)
{
	PartitionBed bed;
	std::unique_ptr<RunningProgram> up = start_up(bed, "partitions");
	ASSERT_TRUE(reaches_hold(*up, "partitions"));
	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("stopped during set-up"), std::string::npos) << d.out;
	ProgramResult r = finish(*up);
	EXPECT_EQ(r.status, 1) << r.out << r.err;
	EXPECT_EQ(lines(r.err), 1u) << r.err;
	EXPECT_NE(r.err.find("interrupted by SIGTERM"), std::string::npos) << r.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// No hook: a Ctrl-C lands wherever the command is. Either up completed
// (exit 0, and down then works) or it was rolled back (exit 130, nothing
// left); never anything in between. Besides fixed early offsets, fractions
// of how long an up takes in this run, so that some land near the commit
// whatever the machine's load.
TEST_F(UpRollbackTest, SigintAtTimedOffsetsIsAllOrNothing)
{
	PartitionBed bed;
	uint64_t t0 = now_ns();
	ProgramResult u = bed.up();
	int up_ms = int((now_ns() - t0) / 1'000'000);
	ASSERT_EQ(u.status, 0) << u.err;
	ASSERT_EQ(mkdp_cli({"topology", "down"}).status, 0);
	std::vector<int> offsets{0, 5, 20, 50};
	for (int pct : {50, 80, 90, 95, 100, 110})
		offsets.push_back(up_ms * pct / 100);
	std::string outcomes;
	for (int round = 0; round < 2; round++) {
		for (int ms : offsets) {
			SCOPED_TRACE("SIGINT " + std::to_string(ms) + " ms after the start");
			std::unique_ptr<RunningProgram> up = start_up(bed);
			// The delay is the stimulus under test, not a synchronisation.
			std::this_thread::sleep_for(std::chrono::milliseconds(ms));
			kill(up->pid(), SIGINT);
			ProgramResult r = finish(*up);
			if (r.status == 0) {
				outcomes += std::to_string(ms) + "ms:up ";
				EXPECT_GT(supervisor_pid(), 0);
				ProgramResult d = mkdp_cli({"topology", "down"});
				EXPECT_EQ(d.status, 0) << d.err;
			} else {
				outcomes += std::to_string(ms) + "ms:rolled-back ";
				EXPECT_EQ(r.status, 128 + SIGINT) << r.out << r.err;
				// Before it blocks signals, SIGINT just ends it (nothing
				// was set up yet); after, it says what it did.
				if (!r.err.empty()) {
					EXPECT_EQ(lines(r.err), 1u) << r.err;
					EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
				}
			}
			EXPECT_TRUE(nothing_left(bed.netns()));
		}
	}
	std::printf("an up takes %d ms here; outcomes: %s\n", up_ms, outcomes.c_str());
}

// A task still in a partition's cgroup when down runs (killed just before,
// so still exiting) does not make down leave the cgroup behind: neither for
// a live supervisor nor after one that was SIGKILLed. The task carries
// ballast so that its exit outlasts the start of `down` (without the wait
// in the cgroup removal, every round fails); repeated for good measure.
TEST_F(UpRollbackTest, DownRemovesCgroupsWhoseTasksAreStillExiting)
{
	PartitionBed bed;
	for (int round = 0; round < 4; round++) {
		for (bool dead : {false, true}) {
			SCOPED_TRACE(std::string(dead ? "dead" : "live") + " supervisor, round " + std::to_string(round));
			ProgramResult u = bed.up();
			ASSERT_EQ(u.status, 0) << u.err;
			std::string cg = cgroup_of("p1");
			if (cg.empty())
				GTEST_SKIP() << "partitions run without a cpuset cgroup here";
			if (dead) {
				int pid = supervisor_pid();
				kill(pid, SIGKILL);
				ASSERT_TRUE(wait_for_exit(pid, 5000));
			}
			std::unique_ptr<Child> c = stranger_in(cg, 1024);
			ASSERT_TRUE(c) << "the task with ballast did not start";
			ASSERT_TRUE(in_cgroup(cg, c->pid())) << "the task did not join " << cg;
			kill(c->pid(), SIGKILL);
			ProgramResult d = mkdp_cli({"topology", "down"});
			EXPECT_EQ(d.status, 0) << d.err;
			if (dead) {
				EXPECT_NE(d.out.find("died"), std::string::npos) << d.out;
			}
			EXPECT_FALSE(std::filesystem::exists(cg));
			EXPECT_EQ(c->wait(5000), 128 + SIGKILL);
			EXPECT_TRUE(nothing_left(bed.netns()));
		}
	}
}

// A task that stays is waited for (bounded), then named: down fails with
// one line instead of pretending; once it is gone, down finishes the job.
TEST_F(UpRollbackTest, DownNamesATaskThatStaysInACgroup)
{
	PartitionBed bed;
	ProgramResult u = bed.up();
	ASSERT_EQ(u.status, 0) << u.err;
	std::string cg = cgroup_of("p0");
	if (cg.empty())
		GTEST_SKIP() << "partitions run without a cpuset cgroup here";
	std::unique_ptr<Child> c = stranger_in(cg);
	ASSERT_TRUE(c && in_cgroup(cg, c->pid()));
	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_NE(d.status, 0) << d.out;
	EXPECT_EQ(lines(d.err), 1u) << d.err;
	EXPECT_NE(d.err.find("pid " + std::to_string(c->pid())), std::string::npos) << d.err;
	EXPECT_TRUE(std::filesystem::exists(cg));
	kill(c->pid(), SIGKILL);
	EXPECT_EQ(c->wait(5000), 128 + SIGKILL);
	ProgramResult again = mkdp_cli({"topology", "down"});
	EXPECT_EQ(again.status, 0) << again.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// What a SIGKILLed supervisor left (pins, XDP, cgroups with partitions
// still exiting, /run/mkdp) is removed by the next up, which says so in
// one line on stderr and then comes up.
TEST_F(UpRollbackTest, UpCleansUpAfterASupervisorThatDied)
{
	PartitionBed bed;
	ProgramResult u = bed.up();
	ASSERT_EQ(u.status, 0) << u.err;
	for (int round = 0; round < 4; round++) {
		SCOPED_TRACE("round " + std::to_string(round));
		int pid = supervisor_pid();
		ASSERT_GT(pid, 0);
		kill(pid, SIGKILL);
		ASSERT_TRUE(wait_for_exit(pid, 5000));
		u = bed.up();
		ASSERT_EQ(u.status, 0) << u.err;
		EXPECT_EQ(lines(u.err), 1u) << u.err;
		EXPECT_NE(u.err.find("mkdp topology up: removed what a supervisor that died had left"), std::string::npos) << u.err;
		EXPECT_NE(supervisor_pid(), pid);
		EXPECT_EQ(status()["partitions"].size(), 2u);
	}
	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_TRUE(nothing_left(bed.netns()));
}

// ---- a steering program the user attached before up -------------------------

json steering_status(const PartitionBed &bed)
{
	ProgramResult s = mkdp_cli({"steer", "status", "mkdp0", "--netns", bed.netns(), "--json"});
	EXPECT_EQ(s.status, 0) << s.err;
	json j = json::parse(s.out, nullptr, false);
	if (j.is_discarded() || !j.contains("interfaces") || j["interfaces"].empty())
		return json::object();
	return j["interfaces"][0];
}

// The user's attachment: policy queue, default drop, 4 partitions, seed 7,
// one rule.
void attach_as_user(PartitionBed &bed)
{
	ProgramResult a = mkdp_cli({"steer", "attach", "mkdp0", "--netns", bed.netns(), "--policy", "queue", "--default", "drop",
				    "--partitions", "4", "--seed", "7"});
	ASSERT_EQ(a.status, 0) << a.err;
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5001 10.77.0.1:7001 part 1").status, 0);
}

void expect_users(const json &st)
{
	EXPECT_EQ(st.value("policy", ""), "queue") << st.dump();
	EXPECT_EQ(st.value("default_verdict", ""), "drop");
	EXPECT_EQ(st.value("partition_count", 0), 4);
	EXPECT_EQ(st.value("hash_seed", 0), 7);
	EXPECT_EQ(st.value("rule_count", 0), 1);
}

TEST_F(UpRollbackTest, UpOverAUserAttachmentNamesTheChangesAndDownGivesItBack)
{
	PartitionBed bed;
	attach_as_user(bed);
	json before = steering_status(bed);
	expect_users(before);

	ProgramResult u = bed.up();
	ASSERT_EQ(u.status, 0) << u.err;
	EXPECT_NE(u.out.find("was attached before up: up changes policy queue -> rules,hash,queue, default drop -> pass, "
			     "partitions 4 -> 2"),
		  std::string::npos)
		<< u.out;
	EXPECT_NE(u.out.find("down gives it back as it was (policy queue, default drop, 4 partitions, 1 rule)"),
		  std::string::npos)
		<< u.out;
	json during = steering_status(bed);
	EXPECT_EQ(during.value("partition_count", 0), 2);
	EXPECT_EQ(during.value("hash_seed", 0), 7) << "up keeps what it has no say in";
	EXPECT_EQ(during.value("prog_id", 0), before.value("prog_id", 1)) << "the user's program, not a new one";
	// A rule added while up runs is up's time, not the user's program.
	ASSERT_EQ(bed.rule("exact udp 10.77.0.2:5002 10.77.0.1:7002 part 0").status, 0);

	ProgramResult d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("given back as attached before up"), std::string::npos) << d.out;
	json after = steering_status(bed);
	expect_users(after);
	EXPECT_EQ(after.value("prog_id", 0), before.value("prog_id", 1));
	EXPECT_EQ(after["indirection"], before["indirection"]);
	EXPECT_EQ(after["queue_map"], before["queue_map"]);
	EXPECT_TRUE(after.value("attached", false));

	// The same after a supervisor that was killed: down gives it back from
	// the state file.
	u = bed.up();
	ASSERT_EQ(u.status, 0) << u.err;
	int pid = supervisor_pid();
	kill(pid, SIGKILL);
	ASSERT_TRUE(wait_for_exit(pid, 5000));
	d = mkdp_cli({"topology", "down"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("given back as attached before up"), std::string::npos) << d.out;
	expect_users(steering_status(bed));

	// And after an interrupted up.
	std::unique_ptr<RunningProgram> up = start_up(bed, "partitions");
	ASSERT_TRUE(reaches_hold(*up, "partitions"));
	kill(up->pid(), SIGINT);
	ProgramResult r = finish(*up);
	EXPECT_EQ(r.status, 128 + SIGINT) << r.err;
	expect_users(steering_status(bed));

	EXPECT_EQ(mkdp_cli({"steer", "detach", "mkdp0", "--netns", bed.netns()}).status, 0);
	EXPECT_TRUE(nothing_left(bed.netns()));
}

} // namespace
} // namespace mkdp::test
