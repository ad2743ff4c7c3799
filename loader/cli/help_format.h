// SPDX-License-Identifier: BSD-2-Clause
// How `mkdp ... --help` reads: options as xdp-loader and ip show them
// ("--mode <native|skb>", "[default: native]"), without CLI11's type
// names, and the tree walks the man pages and the completion are made of.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mkdp::cli {

// Installed on the root app before any command registers: subcommands
// inherit it.
std::shared_ptr<CLI::Formatter> help_formatter();

// A flag takes no value (--force, -j).
bool is_flag(const CLI::Option *o);

// "<native|skb>", "<count>", or "" for a flag or a positional.
std::string option_metavar(const CLI::Option *o);

// What the help appends to an option's description: "[1..16, default: 2]".
std::string option_facts(const CLI::Option *o);

// "-j, --json", "--symmetric, --no-symmetric", "IFACE".
std::string option_names(const CLI::Option *o);

// The values an option takes, when it names them ({native,skb}): empty
// otherwise.
std::vector<std::string> option_choices(const CLI::Option *o);

// The commands under app a user sees (not the hidden ones).
std::vector<const CLI::App *> visible_commands(const CLI::App *app);

// "mkdp steer attach": the words that reach app from the root.
std::string command_path(const CLI::App *app);

} // namespace mkdp::cli
