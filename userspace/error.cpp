// SPDX-License-Identifier: BSD-2-Clause
#include <mkdp/error.h>

#include <cstring>

namespace mkdp {

void throw_errno(const std::string &what, int err)
{
	throw Error(what + ": " + std::strerror(err), err);
}

} // namespace mkdp
