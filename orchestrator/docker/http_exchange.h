// One HTTP/1.1 request and its reply over an open Connection (transport.h): HttpEngine's wire
// step, kept apart from what the calls mean. Included by http_engine.cc and http_exchange.cc
// only (it brings Beast's verb type and the transport's stream types).
//
// Errors name the call (`Request::prefix`) and the engine: kTimeout when the deadline passed,
// naming it ("call", "pull", "stop", "exec"); kCancelled; else kUnavailable with the phase
// that failed. Over TLS, a connection closed at the first exchange gets the client-certificate
// hint, because with TLS 1.3 that is how an engine refuses rollgate's certificate.
//
// Keep-alive: exchange() leaves the connection open and says whether it can carry another
// request (Exchanged::reusable); the caller pools it or drops it (connection_pool.h).
#pragma once

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/core/status.h"
#include "orchestrator/docker/pull_stream.h"
#include "orchestrator/docker/transport.h"

namespace orch::docker {

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;  // without the version prefix, e.g. "/containers/json?all=1"
  bool versioned = true;
  std::optional<std::string> json_body;
  std::chrono::milliseconds timeout{0};
  std::string_view deadline_name = "call";  // for timeout messages: "call", "pull", "stop"
  std::string what;  // extra context for messages when the path alone is not enough
  // X-Registry-Auth value. A secret: never put into a message.
  std::optional<std::string> registry_auth;
  // false: "Connection: close", on a connection of its own (a pull stream, an attached exec).
  bool keep_alive = true;

  // "h1: POST /containers/create (what)": messages name the path, not the query.
  std::string prefix(const std::string& host_name) const;
};

struct Reply {
  unsigned status = 0;
  std::string reason;
  std::string body;
  std::string api_version;  // "API-Version" header
  std::string os_type;      // "OSType" header
};

// Who is on the other end, for the request line and for messages.
struct Peer {
  std::string host_name;  // the manifest host ("h1")
  std::string endpoint;   // Endpoint::to_string()
  std::string host_header;
};

struct Exchanged {
  Result<Reply> reply;
  // The reply was read to its end, neither side asked to close, and nothing extra arrived:
  // the connection can carry the next request.
  bool reusable = false;
  // The engine closed the connection before any byte of a reply arrived. On a kept-alive
  // connection that is the engine dropping it while idle, not an answer.
  bool closed_before_reply = false;
  // ... and it did so while the request was still being written: it never read a whole request.
  bool unsent = false;
};

// Writes `req` and reads the reply, all by `deadline` on `clock`. `sink`, when set, receives a
// 200 body as it arrives (a pull stream) instead of it being buffered in Reply::body; its
// errors fail the exchange. The connection stays open (see Exchanged::reusable).
Task<Exchanged> exchange(Connection& conn, const Request& req, const Peer& peer, const Clock& clock,
                         TimePoint deadline, PullStreamParser* sink);

}  // namespace orch::docker
