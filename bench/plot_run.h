// SPDX-License-Identifier: BSD-2-Clause
// The benchmarks draw their PNGs with small matplotlib scripts kept beside
// their C++ (bench/plot_*.py): C++ measures and writes JSON, Python plots.
#pragma once

#include <string>

namespace mkdp::bench {

// Runs `python3 SCRIPT DIR`, where SCRIPT is found as: $ENV_VAR, else
// bench/SCRIPT above the running binary (build/bin/mkdp -> bench/),
// else share/mkdp/SCRIPT beside an installed bin/, else the source tree
// this was compiled from. Returns "" when the plots were drawn, else why
// not (script not found, python3 or matplotlib missing): never fatal,
// the figures are in the JSON either way.
std::string run_plot_script(const std::string &script, const char *env_var, const std::string &dir);

} // namespace mkdp::bench
