// SPDX-License-Identifier: BSD-2-Clause
// The CLI as a reader meets it: every command's --help (noun then verb, no
// parser artefacts, --json on every command that reports), the man pages
// and the bash completion made from the same tree, and the exit status
// rule. Runs the real `mkdp`; touches nothing on the host.
#include <mkdp/subprocess.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using mkdp::ProgramResult;
using mkdp::run_program;

namespace {

ProgramResult cli(std::vector<std::string> args)
{
	args.insert(args.begin(), MKDP_CLI);
	return run_program(args);
}

std::vector<std::string> words(const std::string &s)
{
	std::istringstream in(s);
	std::vector<std::string> v;
	for (std::string w; in >> w;)
		v.push_back(w);
	return v;
}

// Every command path under `path`, read from the "Commands:" sections of
// the help, as a user would discover them.
void walk(const std::vector<std::string> &path, std::vector<std::vector<std::string>> &out)
{
	std::vector<std::string> a = path;
	a.push_back("--help");
	ProgramResult r = cli(a);
	ASSERT_EQ(r.status, 0) << r.err;
	out.push_back(path);
	std::istringstream in(r.out);
	bool in_cmds = false;
	for (std::string line; std::getline(in, line);) {
		if (line == "Commands:") {
			in_cmds = true;
			continue;
		}
		if (in_cmds && line.empty())
			break;
		if (in_cmds && line.size() > 2 && line[2] != ' ') {
			std::vector<std::string> p = path;
			p.push_back(words(line)[0]);
			walk(p, out);
		}
	}
}

std::string joined(const std::vector<std::string> &p)
{
	std::string s = "mkdp";
	for (const std::string &w : p)
		s += " " + w;
	return s;
}

const std::string kManDir = std::filesystem::path(MKDP_CLI).parent_path().parent_path() / "man";
const std::string kCompletion =
	std::filesystem::path(MKDP_CLI).parent_path().parent_path() / "completion" / "mkdp";

} // namespace

TEST(CliDocs, EveryHelpReadsWithoutParserArtefactsAndReportsTakeJson)
{
	std::vector<std::vector<std::string>> all;
	walk({}, all);
	ASSERT_GT(all.size(), 40u) << "the command tree was not found in the help";
	// CLI11's own notation, which means nothing to a reader.
	const std::regex artefact(R"(\{false\}|\{true\}|\bUINT\b|\bTEXT\b|\bFLOAT\b|\bINT\b|REQUIRED|Excludes:|in \[|Subcommands)");
	// Commands that print something other than a report.
	const std::set<std::string> no_report = {"mkdp", "mkdp demo", "mkdp demo ring", "mkdp completion", "mkdp exporter"};
	for (const auto &p : all) {
		std::vector<std::string> a = p;
		a.push_back("--help");
		ProgramResult r = cli(a);
		std::smatch m;
		EXPECT_FALSE(std::regex_search(r.out, m, artefact)) << joined(p) << " --help shows '" << m.str() << "'";
		bool group = r.out.find("\nCommands:\n") != std::string::npos;
		if (!group && !no_report.count(joined(p)))
			EXPECT_NE(r.out.find("-j, --json"), std::string::npos) << joined(p) << " has no -j, --json";
		EXPECT_NE(r.out.find("Usage: " + joined(p)), std::string::npos) << r.out;
	}
	// The grammar: nouns at the top, each with its verbs.
	std::set<std::string> top;
	for (const auto &p : all)
		if (p.size() == 1)
			top.insert(p[0]);
	EXPECT_EQ(top, (std::set<std::string>{"testbed", "steer", "topology", "part", "sdp", "bench", "demo", "version",
					      "completion", "exporter"}));
}

TEST(CliDocs, AttachHelpTeachesWithExamplesAndDefaults)
{
	ProgramResult r = cli({"steer", "attach", "--help"});
	ASSERT_EQ(r.status, 0);
	for (const char *want : {"Usage: mkdp steer attach [OPTIONS] IFACE", "Examples:",
				 "  mkdp steer attach mkdp0 --netns mkdp-tb", "--mode <native|skb>", "[default: native]",
				 "--partitions <n>", "[1..16, default: 2]", "--symmetric, --no-symmetric",
				 "[not with --indir-weights]", "-j, --json"})
		EXPECT_NE(r.out.find(want), std::string::npos) << "missing '" << want << "' in\n" << r.out;
}

TEST(CliDocs, ManPagesCoverEveryCommandAndRender)
{
	ASSERT_TRUE(std::filesystem::exists(kManDir + "/man8/mkdp.8")) << "make builds the man pages into " << kManDir;
	std::vector<std::vector<std::string>> all;
	walk({}, all);
	// Each noun has its page, naming every command under it.
	std::map<std::string, std::string> page;
	for (const auto &p : all) {
		if (p.empty())
			continue;
		if (!page.count(p[0])) {
			ProgramResult r = run_program({"man", "-M", kManDir, "mkdp-" + p[0]});
			ASSERT_EQ(r.status, 0) << "man mkdp-" << p[0] << ": " << r.err;
			page[p[0]] = r.out;
		}
		EXPECT_NE(page[p[0]].find(joined(p)), std::string::npos) << "mkdp-" << p[0] << "(8) lacks " << joined(p);
	}
	ProgramResult top = run_program({"man", "-M", kManDir, "mkdp"});
	ASSERT_EQ(top.status, 0) << top.err;
	for (const char *want : {"NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "128+N", "SEE ALSO", "mkdp-steer(8)"})
		EXPECT_NE(top.out.find(want), std::string::npos) << "mkdp(8) lacks " << want;
	ProgramResult steer = run_program({"man", "-M", kManDir, "mkdp-steer"});
	EXPECT_NE(steer.out.find("--partitions <n>"), std::string::npos);
}

// What bash offers after the words typed so far (the last one partial).
std::string complete(const std::string &typed)
{
	std::vector<std::string> w = words(typed);
	if (typed.back() == ' ')
		w.push_back("");
	std::string arr;
	for (const std::string &x : w)
		arr += " '" + x + "'";
	ProgramResult r = run_program({"bash", "-c", "source '" + kCompletion + "' && COMP_WORDS=(" + arr +
							  ") && COMP_CWORD=" + std::to_string(w.size() - 1) +
							  " && _mkdp && echo \"${COMPREPLY[*]}\""});
	EXPECT_EQ(r.status, 0) << r.err;
	return r.out.substr(0, r.out.find('\n'));
}

TEST(CliDocs, BashCompletionFollowsTheGrammar)
{
	ASSERT_TRUE(std::filesystem::exists(kCompletion)) << "make builds the completion into " << kCompletion;
	EXPECT_EQ(complete("mkdp ste"), "steer");
	EXPECT_EQ(complete("mkdp steer "), "attach detach status rule stats");
	EXPECT_EQ(complete("mkdp steer rule "), "add del list");
	EXPECT_EQ(complete("mkdp steer attach mkdp0 --mo"), "--mode");
	EXPECT_EQ(complete("mkdp steer attach mkdp0 --mode "), "native skb");
	EXPECT_EQ(complete("mkdp part list -"), "-h --help -j --json");
	// The script `mkdp completion bash` prints is the one make installs.
	EXPECT_EQ(cli({"completion", "bash"}).out, [] {
		std::ifstream f(kCompletion);
		return std::string(std::istreambuf_iterator<char>(f), {});
	}());
}

TEST(CliDocs, ExitStatusRule)
{
	// 2: the command line is wrong; one line says why.
	for (std::vector<std::string> bad : {std::vector<std::string>{"nosuch"}, {"steer"}, {"steer", "attach"},
					     {"steer", "stats", "mkdp0", "--interval", "abc"}, {"version", "--nosuch"}}) {
		ProgramResult r = cli(bad);
		EXPECT_EQ(r.status, 2) << joined(bad) << ": " << r.err;
		EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
	}
	// An unknown option is named, whatever follows it.
	ProgramResult u = cli({"steer", "stats", "mkdp0", "--cont", "3"});
	EXPECT_EQ(u.status, 2);
	EXPECT_NE(u.err.find("unknown option '--cont'"), std::string::npos) << u.err;
	// 0: nothing to do is not a failure (no namespace, no pins: nothing
	// of mkdp's to detach; a name no other test uses, whose pins could
	// exist elsewhere and make this a refusal).
	ProgramResult d = cli({"steer", "detach", "clidocs0", "--netns", "mkdp-clidocs-absent"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("nothing to do"), std::string::npos) << d.out;
	d = cli({"steer", "detach", "clidocs0", "--netns", "mkdp-clidocs-absent", "-j"});
	EXPECT_EQ(d.status, 0) << d.err;
	EXPECT_NE(d.out.find("\"unchanged\""), std::string::npos) << d.out;
	// 1: a question about what does not exist.
	ProgramResult s = cli({"testbed", "show", "--name", "mkdp-clidocs-absent"});
	EXPECT_EQ(s.status, 1);
	EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
	ProgramResult v = cli({"version", "-j"});
	EXPECT_EQ(v.status, 0);
	EXPECT_NE(v.out.find("\"version\": \"" MKDP_VERSION_STR "\""), std::string::npos) << v.out;
}
