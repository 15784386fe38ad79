// Engine JSON <-> docker types, as pure functions (no I/O), so they are unit- and fuzz-testable.
//
// Decoders never throw: malformed JSON or a missing/ill-typed required field gives
// kInternal "unexpected response: <what>"; the caller adds host, method and path.
// JSON null counts as absent (the engine writes "Labels": null, "RepoTags": null, ...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"

namespace orch::docker {

// GET /version
Result<VersionInfo> decode_version(std::string_view body);
// GET /distribution/{name}/json
Result<DistributionInfo> decode_distribution(std::string_view body);
// GET /images/{name}/json
Result<ImageInfo> decode_image(std::string_view body);
// GET /containers/json
Result<std::vector<ContainerSummary>> decode_container_list(std::string_view body);
// GET /containers/{id}/json
Result<ContainerInfo> decode_container(std::string_view body);
// POST /containers/create (201): the new container's id.
Result<std::string> decode_create_response(std::string_view body);

// The body of POST /containers/create for `spec` (the name goes in the query, not here).
std::string encode_create_body(const ContainerSpec& spec);

// The engine's error text from an error response body ({"message": "..."}); for a body that is
// not such JSON, the body itself (trimmed, shortened); `fallback` when the body is empty.
std::string engine_error_message(std::string_view body, std::string_view fallback);

}  // namespace orch::docker
