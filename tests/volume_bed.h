// SPDX-License-Identifier: BSD-2-Clause
// What the volume tests share: the built-in testbed topology (memory volume
// v0, owner p0, also served by p1) plus a file volume f0 owned by p1, its
// image removed with the bed; and a volume's entry in the supervisor's
// sdp-status.
#pragma once

#include "partition_harness.h"

namespace mkdp::test {

class VolumeBed : public PartitionBed {
public:
	explicit VolumeBed(uint32_t file_mib = 32)
	{
		img_ = "/tmp/" + netns() + ".img";
		std::ofstream(file(), std::ios::app) << "\n[[volume]]\nname = \"f0\"\nbackend = \"file\"\npath = \"" << img_
						   << "\"\nsize = \"" << file_mib << "MiB\"\nowner = \"p1\"\n";
	}
	~VolumeBed() { std::remove(img_.c_str()); }
	const std::string &image() const { return img_; }

private:
	std::string img_;
};

inline json volume_status(const std::string &name)
{
	json st = supervisor_request({{"cmd", "sdp-status"}});
	for (const auto &v : st["volumes"])
		if (v["volume"] == name)
			return v;
	return {};
}

#define UP_OR_FAIL(bed)                                                                  \
	do {                                                                             \
		ProgramResult r_ = (bed).up();                                           \
		ASSERT_EQ(r_.status, 0) << r_.out << r_.err;                             \
	} while (0)

} // namespace mkdp::test
