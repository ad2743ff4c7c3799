// SPDX-License-Identifier: BSD-2-Clause
// Documents made from the command tree itself, so they cannot drift from
// the help: the man pages (mkdp.8 and one page per command group, as
// bpftool-prog(8)) and the bash completion.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>

namespace mkdp::cli {

// File name -> roff text: "mkdp.8", "mkdp-steer.8", ...
std::map<std::string, std::string> man_pages(const CLI::App &root, const std::string &version,
					     const std::string &date);

// A bash completion script for root (source it, or install it under
// /usr/share/bash-completion/completions/mkdp).
std::string bash_completion(const CLI::App &root);

// `mkdp completion bash`, `mkdp man --dir DIR` (hidden: `make` runs it).
void register_docs(CLI::App &app);

} // namespace mkdp::cli
