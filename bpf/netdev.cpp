// SPDX-License-Identifier: BSD-2-Clause
#include "netdev.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <mkdp/error.h>

namespace mkdp {

int ifindex_of(const std::string &ifname)
{
	unsigned idx = if_nametoindex(ifname.c_str());
	if (!idx)
		throw Error("unknown interface '" + ifname + "'", ENODEV);
	return int(idx);
}

std::string ifname_of(int ifindex)
{
	char buf[IF_NAMESIZE] = "";
	return if_indextoname(unsigned(ifindex), buf) ? buf : "ifindex " + std::to_string(ifindex);
}

void check_ifname(const std::string &ifname)
{
	if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != ifname.npos || ifname == "." ||
	    ifname == "..")
		throw Error("bad interface name '" + ifname + "'", EINVAL);
}

// Asked through a socket, so the answer holds in the caller's namespace.
uint32_t rx_queues_of(const std::string &ifname)
{
	int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return 0;
	ethtool_channels ch{};
	ch.cmd = ETHTOOL_GCHANNELS;
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
	ifr.ifr_data = reinterpret_cast<char *>(&ch);
	int rc = ::ioctl(sock, SIOCETHTOOL, &ifr);
	::close(sock);
	return rc ? 0 : ch.rx_count + ch.combined_count;
}

} // namespace mkdp
