// HAProxy Runtime API: one command per connection (the non-interactive mode), and parsers for
// the answers rollgate reads. The parsers are pure so that unit tests feed them real output.
//
// Protocol (HAProxy management guide, "Unix Socket commands"): connect to a stats socket, write
// one line, read until HAProxy closes the connection. "set ..." commands answer an empty line
// on success and a message on error ("No such server.", "entry not found", ...).
// It dials through docker::Transport, the one unix/tcp connect code; Beast stays in the .cc.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"

namespace orch::docker {
class Transport;
}

namespace orch::router {

class RuntimeApi {
 public:
  // `address`: "unix:///path" or "tcp://host:port" (validated by the manifest loader). The
  // Clock measures the timeout; it is borrowed and must outlive this.
  RuntimeApi(std::string address, std::chrono::milliseconds timeout, const Clock& clock);
  ~RuntimeApi();
  RuntimeApi(const RuntimeApi&) = delete;
  RuntimeApi& operator=(const RuntimeApi&) = delete;

  // Sends one command line and returns HAProxy's whole answer. Bounded by the timeout
  // (connect, write and read together): kTimeout when it passes, kUnavailable when the socket
  // cannot be reached, kInvalidArgument for an address that does not parse.
  Task<Result<std::string>> send(std::string command);

  // send() for commands that answer nothing on success: any text back is the error.
  Task<Status> command(std::string command);

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::chrono::milliseconds timeout_;
  const Clock& clock_;
  // Null when the address does not parse; send() then reports address_error_.
  std::unique_ptr<docker::Transport> transport_;
  Status address_error_;
};

// "show map <map>": lines "<ref> <key> <value>". The value of `key`, if the map has it.
std::optional<std::string> map_value(const std::string& show_map, const std::string& key);

// A map file's text with `key`'s value replaced by `value` (every line whose first field is the
// key; appended when none is). Comments, blank lines and other entries are kept as they are.
std::string rewrite_map_file(const std::string& text, const std::string& key,
                             const std::string& value);

// One row of "show stat" (CSV, header "# pxname,svname,qcur,qmax,scur,...").
struct StatRow {
  std::string proxy;   // pxname
  std::string server;  // svname: a server, or FRONTEND / BACKEND
  int queued = 0;      // qcur: requests waiting for a connection slot
  int sessions = 0;    // scur: streams in flight
  std::string status;  // UP, DOWN, MAINT, DRAIN, no check, ...
};
// Rows of a "show stat" answer; kInvalidArgument when there is no header or a column is missing.
Result<std::vector<StatRow>> parse_stat(const std::string& csv);

// One server of "show servers state <backend>" (header "# be_id be_name srv_id srv_name
// srv_addr ... srv_port ...").
struct ServerState {
  std::string backend;
  std::string server;
  std::string address;
  int port = 0;
  int admin_state = 0;  // srv_admin_state bits: 0x01 forced maintenance, 0x08 forced drain
};
Result<std::vector<ServerState>> parse_servers_state(const std::string& text);

}  // namespace orch::router
