// Internal to orchestrator/manifest/: included only by its .cc files, never from outside.
//
// The section readers of the validator, one file each: hosts.cc (hosts, their tls, and
// registry_auth), container.cc, strategy.cc (strategy, and check_strategy, the rules that span
// sections), health.cc and router.cc. Each read_* checks one part of the document, reports
// every problem to the Validator with its path, and fills `out` with what was valid; the caller
// (validate in parse.cc) turns any error into a failed LoadResult.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/docker/types.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/manifest/validator.h"

namespace orch::manifest {

inline constexpr std::array<std::string_view, 2> kColourKeys = {"blue", "green"};
inline constexpr const char* kPortExpected = "a port number 1-65535";

// j is the document's "hosts" value.
void read_hosts(Validator& v, const Json& j, std::vector<Host>& out);

// j is the document's "registry_auth" value; sets m.registry_auth when valid.
void read_registry_auth(Validator& v, const Json& j, Manifest& m);

void read_container(Validator& v, const Json& j, Container& out);

void read_strategy(Validator& v, const Json& j, Strategy& out);

void read_health(Validator& v, const Json& j, Health& out);

// j is the document's "router" value; sets m.router.
void read_router(Validator& v, const Json& j, Manifest& m);

// Rules that span sections: what blue-green and start-first need from the container, health
// and router sections. Runs only when every section parsed, so the fields are meaningful.
// REQUIRES: v has no errors yet; doc is the whole document. May fill defaults (map_key).
void check_strategy(Validator& v, const Json& doc, Manifest& m);

// Reads j, a "unix:///path" or "tcp://host:port" string, with docker::parse_endpoint: the
// parser rollgate connects with, so a manifest accepts exactly the addresses that can be used.
// On a mismatch reports `got VALUE: expected EXPECTED; REASON` at path and returns nullopt.
std::optional<docker::Endpoint> read_endpoint(Validator& v, const std::string& path, const Json& j,
                                              const std::string& expected);

}  // namespace orch::manifest
