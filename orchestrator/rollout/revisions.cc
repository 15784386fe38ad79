#include "orchestrator/rollout/revisions.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "orchestrator/docker/image_ref.h"
#include "orchestrator/rollout/last_rollout.h"
#include "orchestrator/rollout/observe.h"
#include "orchestrator/rollout/resume.h"

namespace orch::rollout {

namespace {

// The rollout that deployed `revision` and ended rolled back (its gate found it worse), if any.
const journal::RolloutRecord* rolled_back(const std::vector<journal::RolloutRecord>& rollouts,
                                          int revision) {
  for (const auto& r : rollouts) {
    if (r.start && r.start->revision == revision && r.end &&
        r.end->result == journal::EndResult::kRolledBack) {
      return &r;
    }
  }
  return nullptr;
}

}  // namespace

Result<RollbackChoice> revision_target(const manifest::Manifest& m,
                                       const std::vector<journal::RolloutRecord>& rollouts,
                                       const std::vector<HostObservation>& observed,
                                       int to_revision) {
  std::map<int, std::string> digests;  // revision -> digest, from kept containers
  int live = 0;
  for (const auto& h : observed) {
    for (const auto& c : app_containers(h.containers)) {
      if (c.failed() || c.digest.empty()) {
        continue;
      }
      digests[c.revision] = c.digest;
      if (c.name == m.app) {
        live = std::max(live, c.revision);
      }
    }
  }
  if (to_revision != 0) {
    if (const auto* r = rolled_back(rollouts, to_revision); r && digests.count(to_revision)) {
      return Status(Code::kFailedPrecondition,
                    fmt::format("revision {} was rolled back by rollout {} (it failed its gate); "
                                "nothing was changed",
                                to_revision, r->rollout));
    }
  }
  int target = to_revision;
  if (target == 0) {
    for (const auto& [rev, digest] : digests) {
      if (rev < live && !rolled_back(rollouts, rev)) {
        target = rev;  // ascending: the newest one below the live revision wins
      }
    }
  }
  auto it = digests.find(target);
  if (target == 0 || it == digests.end()) {
    std::vector<std::string> kept;
    for (const auto& [rev, digest] : digests) {
      kept.push_back(std::to_string(rev));
    }
    return Status(
        Code::kFailedPrecondition,
        fmt::format("{} is not kept on any host (revisions on the hosts: {}); nothing "
                    "was changed",
                    target == 0 ? "no earlier revision" : fmt::format("revision {}", target),
                    kept.empty() ? "none" : fmt::format("{}", fmt::join(kept, ", "))));
  }
  auto ref = docker::parse_image_ref(m.image);
  if (!ref) {
    return Status(Code::kInvalidArgument, "image: " + ref.status().message());
  }
  return RollbackChoice{RollbackChoice::Kind::kToRevision, "", target, ref->pinned(it->second)};
}

Task<Result<RollbackChoice>> choose_rollback(const manifest::Manifest& m,
                                             const std::vector<HostBinding>& bindings,
                                             const std::vector<journal::RolloutRecord>& rollouts,
                                             int to_revision) {
  auto last = last_rollout(rollouts);
  if (to_revision == 0 && last && resumable(*last)) {
    if (m.strategy.two_slots()) {
      co_return Status(Code::kFailedPrecondition,
                       fmt::format("the interrupted start-first rollout {} is not rolled back "
                                   "from the journal; run apply again (it removes the unrouted "
                                   "new container), or rollback --to-revision N; nothing was "
                                   "changed",
                                   last->rollout));
    }
    // An interrupted or paused rollout: put every host it touched back.
    co_return RollbackChoice{RollbackChoice::Kind::kFinishRollout, last->rollout,
                             last->start->revision, ""};
  }
  auto listed = co_await list_app(bindings, m.app);
  std::vector<HostObservation> observed;
  for (size_t i = 0; i < listed.size(); ++i) {
    if (!listed[i]) {
      co_return Status(listed[i].status().code(),
                       fmt::format("{}: {}; nothing was changed", bindings[i].name,
                                   listed[i].status().message()));
    }
    observed.push_back(HostObservation{bindings[i].name, std::move(*listed[i])});
  }
  co_return revision_target(m, rollouts, observed, to_revision);
}

}  // namespace orch::rollout
