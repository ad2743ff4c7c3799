// SPDX-License-Identifier: BSD-2-Clause
// The supervisor's storage commands (`mkdp sdp ...` through the control
// socket), answered by the storage plane (storage_plane.h).
#include "supervisor_daemon.h"

namespace mkdp {

void Supervisor::setup_storage()
{
	if (topo_.volumes.empty())
		return;
	storage_.emplace(topo_);
	storage_->start();
}

// After the partitions are up: the exports the topology names.
void Supervisor::start_exports()
{
	for (const VolumeSpec &v : topo_.volumes)
		if (!v.export_path.empty())
			exports_.start(*storage_, {v.name, v.export_path, v.export_writable, v.export_direct, true});
}

void Supervisor::handle_sdp(int fd, const ControlRequest &req)
{
	const std::string &cmd = req.cmd;
	try {
		if (!storage_)
			throw Error("the topology has no volume (add a [[volume]] to it, docs/topology.md)");
		json r{{"ok", true}};
		if (cmd == "sdp-open") {
			// The session keeps the connection: no reply line.
			return storage_->open_session(fd, req.volume, req.as);
		} else if (cmd == "sdp-status") {
			r.update(storage_->status());
			r["exports"] = exports_.list();
		} else if (cmd == "sdp-load") {
			r["program"] = storage_->load(req.path, req.prog);
		} else if (cmd == "sdp-unload") {
			storage_->unload(req.prog);
		} else if (cmd == "sdp-attach") {
			r.update(storage_->attach(req.volume, req.prog, req.maps));
		} else if (cmd == "sdp-detach") {
			storage_->detach(req.volume);
		} else if (cmd == "sdp-export") {
			exports_.start(*storage_, {req.volume, req.mountpoint, req.writable, req.direct});
			r["exports"] = exports_.list();
		} else if (cmd == "sdp-unexport") {
			exports_.stop(req.mountpoint);
		} else {
			throw Error("unknown command '" + cmd + "'");
		}
		ControlServer::reply(fd, r);
	} catch (const std::exception &e) {
		ControlServer::reply(fd, {{"ok", false}, {"error", e.what()}});
	}
}

} // namespace mkdp
