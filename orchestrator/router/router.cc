#include "orchestrator/router/router.h"

namespace orch::router {

std::unique_ptr<Router> make_haproxy_router(const manifest::Manifest& m, Clock& clock);
std::unique_ptr<Router> make_command_router(const manifest::Manifest& m, Clock& clock);

std::unique_ptr<Router> make_router(const manifest::Manifest& m, Clock& clock) {
  if (m.router->haproxy) {
    return make_haproxy_router(m, clock);
  }
  return make_command_router(m, clock);
}

std::string server_name(const std::string& host, std::optional<Colour> slot) {
  return slot ? host + "-" + manifest::to_string(*slot) : host;
}

}  // namespace orch::router
