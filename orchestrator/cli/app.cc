#include "orchestrator/cli/app.h"

#include <cstdio>

#include "orchestrator/core/limits.h"
#include "orchestrator/docker/http_engine.h"
#include "orchestrator/docker/registry_auth.h"
#include "orchestrator/manifest/parse.h"
#include "orchestrator/rollout/app_state.h"

namespace orch::cli {

std::optional<App> load_app(const CommonOptions& o, Needs needs) {
  auto loaded = manifest::load_manifest(o.manifest_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::fprintf(stderr, "%s: %s\n", o.manifest_path.c_str(), e.to_string().c_str());
    }
    std::fprintf(stderr, "%s: %zu error(s); nothing was changed\n", o.manifest_path.c_str(),
                 loaded.errors.size());
    return std::nullopt;
  }
  App app{std::move(*loaded.manifest), "", nullptr};
  if (needs.state != Needs::State::kNone) {
    auto dir = rollout::app_state_dir(o.state_dir, app.m.app, true);
    if (!dir) {
      std::fprintf(stderr, "rollgate: state directory: %s; nothing was changed\n",
                   dir.status().message().c_str());
      return std::nullopt;
    }
    app.dir = std::move(*dir);
  }
  if (needs.connect && !connect(app)) {
    return std::nullopt;
  }
  return app;
}

bool connect(App& app) {
  const auto& m = app.m;
  auto fleet = std::make_unique<Fleet>();
  // Registry credentials (docs/tls.md): ~/.docker/config.json, and registry_auth.env for the
  // manifest image's registry. Messages name the file or variable, never the secret.
  auto auth = docker::load_registry_auth(m.image, m.registry_auth ? m.registry_auth->env : "");
  if (!auth) {
    std::fprintf(stderr, "%s\n", auth.status().message().c_str());
    return false;
  }
  const uint64_t needed = open_files_needed(m.hosts.size());
  if (const FileLimit limit = raise_open_file_limit(needed); !limit.enough) {
    std::fprintf(stderr,
                 "rollgate: warning: open files are limited to %llu (the hard limit), and %zu "
                 "hosts may need %llu at once; raise it (ulimit -Hn, or LimitNOFILE= in a "
                 "systemd unit), or calls will fail with \"Too many open files\"\n",
                 static_cast<unsigned long long>(limit.after), m.hosts.size(),
                 static_cast<unsigned long long>(needed));
  }
  docker::HttpEngineOptions options;
  options.registry_auth = std::make_shared<const docker::RegistryAuth>(std::move(*auth));
  for (const auto& h : m.hosts) {
    auto ep = docker::parse_endpoint(h.engine);
    if (!ep) {
      // Validation already checked the syntax; this is the transport's own check.
      std::fprintf(stderr, "hosts[%s].engine: %s\n", h.name.c_str(), ep.status().message().c_str());
      return false;
    }
    if (h.tls) {
      ep->tls = docker::resolve_tls_files(h.tls->ca, h.tls->cert, h.tls->key, h.tls->cert_path);
    }
    fleet->engines.push_back(
        docker::make_http_engine(fleet->io, fleet->clock, h.name, *ep, options));
    fleet->bindings.push_back(rollout::HostBinding{h.name, h.address, fleet->engines.back().get()});
  }
  if (m.router) {
    fleet->router = router::make_router(m, fleet->clock);
  }
  app.fleet = std::move(fleet);
  return true;
}

std::map<std::string, docker::Engine*> engine_map(const Fleet& fleet) {
  std::map<std::string, docker::Engine*> engines;
  for (const auto& b : fleet.bindings) {
    engines[b.name] = b.engine;
  }
  return engines;
}

}  // namespace orch::cli
