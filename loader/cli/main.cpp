// SPDX-License-Identifier: BSD-2-Clause
// mkdp: the command-line front end. Every failure ends here as one line on
// stderr and a non-zero exit; commands undo what they set up before they
// throw.
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>

#include "cli_docs.h"
#include "commands.h"
#include "exit_status.h"
#include "help_format.h"

namespace {

// The command line the user got as far as: "mkdp steer rule add".
CLI::App *deepest(CLI::App *app, std::string &path)
{
	path += app->get_name();
	for (CLI::App *sub : app->get_subcommands())
		return deepest(sub, path += " ");
	return app;
}

// CLI11's parse errors as one line saying what was wrong and what would
// be right.
std::string explain(const CLI::ParseError &e, CLI::App &app)
{
	std::string m = e.what(), path;
	CLI::App *at = deepest(&app, path);
	auto after = [&](const char *prefix) {
		return m.rfind(prefix, 0) == 0 ? m.substr(std::string(prefix).size()) : std::string();
	};
	std::string subs;
	for (const CLI::App *s : at->get_subcommands([](const CLI::App *) { return true; }))
		if (!s->get_group().empty() && !s->get_description().empty())	// not internal
			subs += (subs.empty() ? "" : ", ") + s->get_name();
	std::string x = after("The following argument was not expected: ");
	if (x.empty())
		x = after("The following arguments were not expected: ");
	if (!x.empty()) {
		// CLI11 lists the leftovers in no useful order ("1 --listne"):
		// an unknown option explains the rest, so it is named first.
		std::istringstream words(x);
		std::string first, w;
		words >> first;
		for (words.clear(), words.str(x); words >> w;)
			if (w[0] == '-')
				return "unknown option '" + w.substr(0, w.find('=')) + "' for '" + path + "'";
		if (!subs.empty())
			return "unknown command '" + first + "' (" + path + " commands: " + subs + ")";
		return "unexpected argument '" + first + "' for '" + path + "'";
	}
	if (m == "A subcommand is required") {
		std::vector<std::string> rest = at->remaining();
		if (!rest.empty() && rest[0][0] != '-')
			return "unknown command '" + rest[0] + "' (" + path + " commands: " + subs + ")";
		return path + " needs a command: " + subs;
	}
	// "--interval: Value abc not in range 0.050000 to 3600.000000"
	if (auto v = m.find(": Value "), r = m.find(" not in range "), to = m.find(" to ", r + 1);
	    v != m.npos && r != m.npos && to != m.npos) {
		auto num = [](std::string x) {
			if (x.find('.') != x.npos) {
				x.erase(x.find_last_not_of('0') + 1);
				if (x.back() == '.')
					x.pop_back();
			}
			return x;
		};
		std::string val = m.substr(v + 8, r - v - 8);
		bool is_num = !val.empty() && val.find_first_not_of("0123456789.-+eE") == val.npos;
		return m.substr(0, v) + ": '" + val + "' is " + (is_num ? "out of range" : "not a number") + ", expected " +
		       num(m.substr(r + 14, to - r - 14)) + ".." + num(m.substr(to + 4));
	}
	if (std::string c = after("Could not convert: "); !c.empty()) {
		auto eq = c.find(" = ");
		return c.substr(0, eq) + ": '" + (eq == c.npos ? "" : c.substr(eq + 3)) + "' is not a valid number";
	}
	return m;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"mkdp: an eBPF data plane for kernel partitions.\n"
		     "XDP steering into per-partition AF_XDP rings, SDP (BPF programs that judge\n"
		     "storage requests) into per-partition storage rings, shared-memory rings between\n"
		     "partitions, and the benchmarks that compare them with KVM and namespaces.\n"
		     "Commands are a noun, then a verb: mkdp steer attach, mkdp part list.\n"
		     "Examples:\n"
		     "  mkdp testbed up && mkdp topology up && mkdp topology status\n"
		     "  mkdp steer attach mkdp0 --netns mkdp-tb --policy rules,hash\n"
		     "  mkdp sdp io v0 --op write --size 4M --bs 64k --qd 8",
		     "mkdp"};
	app.formatter(mkdp::cli::help_formatter());
	app.set_help_flag("-h,--help", "show this help and exit");
	app.require_subcommand(1);
	app.set_version_flag("--version", "mkdp " MKDP_VERSION, "show the version and exit");
	app.footer("Run 'mkdp COMMAND --help' for what a command does, its options and examples;\n"
		   "man mkdp for the exit status, files and the manual pages of each command.");

	// In the order a new user meets them: a place to run, steering, a
	// topology of partitions, storage, then the measurements.
	mkdp::cli::register_testbed(app);
	mkdp::cli::register_steer(app);
	mkdp::cli::register_topology(app);
	mkdp::cli::register_part(app);
	mkdp::cli::register_sdp(app);
	mkdp::cli::register_exporter(app);
	mkdp::cli::register_bench(app);
	mkdp::cli::register_demo(app);
	mkdp::cli::register_version(app);
	mkdp::cli::register_docs(app);

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForVersion &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		std::string path;
		deepest(&app, path);
		std::fprintf(stderr, "mkdp: %s (try '%s --help')\n", explain(e, app).c_str(), path.c_str());
		return mkdp::cli::kExitUsage;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "mkdp: %s\n", e.what());
		return mkdp::cli::kExitFailed;
	}
	return mkdp::cli::kExitOk;
}
