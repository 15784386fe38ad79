// rollout::revisions: what `rollgate rollback` does when no apply of the app is running.
//
// Two answers, from the journal and the engines:
//  - the journal's last rollout was interrupted or paused (and no revision was asked for):
//    finish that rollout's rollback, putting every host it touched back;
//  - otherwise: return to an earlier revision that is still kept on the hosts, found by the
//    labels of the containers kept for it (revision, digest). Without --to-revision it is the
//    newest kept revision below the live one. A revision is never a target when it was itself
//    unhealthy: its containers were renamed "-failed" by a rollback, or the journal says its
//    rollout ended rolled back.
// Nothing here prints or changes anything; the caller runs the choice through the controller.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/journal/replay.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/plan.h"

namespace orch::rollout {

struct RollbackChoice {
  enum class Kind {
    kFinishRollout,  // `rollout` (the journal's last one): finish its rollback from the journal
    kToRevision,     // deploy `pinned`, the digest kept for `revision`
  };
  Kind kind = Kind::kToRevision;
  std::string rollout;  // kFinishRollout
  int revision = 0;     // kFinishRollout: that rollout's revision; kToRevision: the target
  std::string pinned;   // kToRevision: repo@digest, from the manifest's image repository
};

// The earlier revision to return to. Pure. `to_revision` 0: the newest kept revision below the
// live one (the container named <app>). `rollouts` is the journal's replay (to skip revisions
// whose rollout ended rolled back). Errors: kFailedPrecondition "revision N is not kept on any
// host (revisions on the hosts: ...)" / "no earlier revision ..." / "revision N was rolled
// back ..."; kInvalidArgument when the manifest's image does not parse.
// REQUIRES: observed has one entry per manifest host.
Result<RollbackChoice> revision_target(const manifest::Manifest& m,
                                       const std::vector<journal::RolloutRecord>& rollouts,
                                       const std::vector<HostObservation>& observed,
                                       int to_revision);

// The whole choice: finishing the journal's interrupted or paused rollout when `to_revision`
// is 0, else revision_target() on what the engines list now. Errors: kFailedPrecondition when
// nothing can be rolled back to (messages say why, and what to run instead: an interrupted
// start-first rollout is not rolled back from the journal); an engine's error (host named)
// when a host cannot be listed. Engines are borrowed from `bindings`.
Task<Result<RollbackChoice>> choose_rollback(const manifest::Manifest& m,
                                             const std::vector<HostBinding>& bindings,
                                             const std::vector<journal::RolloutRecord>& rollouts,
                                             int to_revision);

}  // namespace orch::rollout
