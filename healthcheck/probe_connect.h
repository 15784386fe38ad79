// Internal to the probes (http_probe.cc, tcp_probe.cc): connecting a Beast tcp_stream and
// turning network errors into ProbeResults. Includes Beast; do not include from public headers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "healthcheck/observation.h"

namespace health::detail {

// kUnobservable for errors that mean rollgate cannot reach the host at all (no route, network
// unreachable or down, name does not resolve); kFail for everything else (refused, reset,
// timed out, protocol errors).
ProbeResult::Outcome outcome_for_error(const boost::system::error_code& ec);

// "10.0.0.1:8080", "[fd00::1]:8080", "web.internal:8080".
std::string endpoint_text(const std::string& address, uint16_t port);

// A failed ProbeResult for `ec` during `what` ("connect 10.0.0.1:8080", "read response").
// Timeouts read "timed out after <timeout> (<what>)"; other errors "<what>: <message>".
ProbeResult failure(std::string probe, const std::string& what, const boost::system::error_code& ec,
                    Millis timeout, std::chrono::steady_clock::time_point start);

// Resolves `address` (IP literal or name) and connects `stream`, whose deadline the caller has
// set. Returns nullopt once connected, else the failed ProbeResult.
boost::asio::awaitable<std::optional<ProbeResult>> connect(
    boost::beast::tcp_stream& stream, const std::string& probe, const std::string& address,
    uint16_t port, Millis timeout, std::chrono::steady_clock::time_point start);

// A latency for details: "0ms", "3ms", "1.5s".
std::string format_latency(Millis latency);

// Milliseconds since `start`, for latencies (I/O measurement, not decision time).
Millis elapsed_since(std::chrono::steady_clock::time_point start);

}  // namespace health::detail
