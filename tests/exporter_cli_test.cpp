// SPDX-License-Identifier: BSD-2-Clause
// `mkdp exporter`'s refusals: one line on stderr, a non-zero exit, nothing
// left listening. None of these gets as far as binding a socket.
#include <mkdp/subprocess.h>

#include <gtest/gtest.h>

namespace mkdp {
namespace {

ProgramResult exporter(std::vector<std::string> args)
{
	args.insert(args.begin(), {MKDP_CLI, "exporter"});
	return run_program(args);
}

void expect_one_line_error(const ProgramResult &r, const std::string &says)
{
	EXPECT_NE(r.status, 0);
	EXPECT_EQ(r.out, "");
	ASSERT_FALSE(r.err.empty());
	EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
	EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
}

TEST(ExporterCli, BadListenIsOneLineAndNonZero)
{
	for (const char *bad : {"nonsense", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http",
				"256.1.1.1:9477", "::1:9477", "[::1:9477", ":9477"})
		expect_one_line_error(exporter({"--listen", bad}), "--listen");
}

TEST(ExporterCli, MissingNamespaceIsOneLineAndNonZero)
{
	expect_one_line_error(exporter({"--listen", "127.0.0.1:0", "--netns", "mkdp-no-such-netns-for-sure"}),
			      "mkdp-no-such-netns-for-sure");
}

TEST(ExporterCli, UnknownOptionIsOneLine)
{
	expect_one_line_error(exporter({"--listne"}), "--listne");
}

} // namespace
} // namespace mkdp
