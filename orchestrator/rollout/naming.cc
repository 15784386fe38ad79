// Naming on a host (naming.h): which of the app's containers is which, from names and labels.
#include "orchestrator/rollout/naming.h"

#include <algorithm>
#include <charconv>

namespace orch::rollout {

namespace {

constexpr char kFailedSuffix[] = "-failed";

int parse_revision(const docker::Labels& labels) {
  auto it = labels.find(kLabelRevision);
  if (it == labels.end()) {
    return 0;
  }
  int rev = 0;
  auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), rev);
  if (ec != std::errc() || ptr != it->second.data() + it->second.size() || rev < 0) {
    return 0;
  }
  return rev;
}

std::string label_or_empty(const docker::Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

}  // namespace

bool AppContainer::failed() const {
  return name.size() > sizeof(kFailedSuffix) - 1 &&
         name.compare(name.size() - (sizeof(kFailedSuffix) - 1), std::string::npos,
                      kFailedSuffix) == 0;
}

std::vector<AppContainer> app_containers(const std::vector<docker::ContainerSummary>& list) {
  std::vector<AppContainer> out;
  out.reserve(list.size());
  for (const auto& c : list) {
    out.push_back(
        AppContainer{c.id, c.name, parse_revision(c.labels), label_or_empty(c.labels, kLabelDigest),
                     label_or_empty(c.labels, kLabelRollout), c.state,
                     label_or_empty(c.labels, kLabelColour) == "green" ? manifest::Colour::kGreen
                                                                       : manifest::Colour::kBlue});
  }
  std::sort(out.begin(), out.end(), [](const AppContainer& a, const AppContainer& b) {
    return a.revision != b.revision ? a.revision > b.revision : a.name < b.name;
  });
  return out;
}

std::string slot_name(const std::string& app, manifest::Colour c) {
  return app + "-" + manifest::to_string(c);
}

std::optional<AppContainer> slot_holder(const std::string& app, manifest::Colour c,
                                        const std::vector<AppContainer>& containers) {
  for (const auto& k : containers) {
    if (k.name == slot_name(app, c) || (c == manifest::Colour::kBlue && k.name == app)) {
      return k;
    }
  }
  return std::nullopt;
}

std::optional<AppContainer> live_container(const std::string& app,
                                           const std::vector<AppContainer>& containers) {
  for (const auto& c : containers) {
    if (c.name == app) {
      return c;
    }
  }
  return std::nullopt;
}

std::vector<AppContainer> containers_to_prune(const std::string& app,
                                              std::vector<AppContainer> containers, int keep) {
  std::sort(containers.begin(), containers.end(),
            [](const AppContainer& a, const AppContainer& b) { return a.revision > b.revision; });
  std::vector<AppContainer> prune;
  // The live container always stays and uses one of the `keep` slots; so do the holders of the
  // blue-green slots (the live colour and the stopped one switch-back returns to), whatever
  // their revisions: after a switch-back the standby is the newer one.
  auto holds_slot = [&](const AppContainer& c) {
    return c.name == app || c.name == slot_name(app, manifest::Colour::kBlue) ||
           c.name == slot_name(app, manifest::Colour::kGreen);
  };
  int kept = static_cast<int>(std::count_if(containers.begin(), containers.end(), holds_slot));
  for (const auto& c : containers) {
    if (holds_slot(c)) {
      continue;
    }
    if (!c.failed() && kept < keep) {
      ++kept;
      continue;
    }
    prune.push_back(c);
  }
  return prune;
}

}  // namespace orch::rollout
