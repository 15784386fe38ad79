// rollgate: the only main(). Parses arguments and dispatches to cli/commands.h.
// rollgate runs in the foreground and never daemonizes: CI waits for its exit code.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "orchestrator/cli/commands.h"
#include "orchestrator/core/duration.h"

namespace {

constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

void add_common(CLI::App* cmd, orch::cli::CommonOptions& o, bool with_output,
                bool with_state = false) {
  cmd->add_option("-f,--file", o.manifest_path, "Manifest (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  if (with_state) {
    cmd->add_option("--state-dir", o.state_dir,
                    "Journal and control files (default: $ROLLGATE_STATE_DIR, "
                    "$XDG_STATE_HOME/rollgate, ~/.local/state/rollgate)");
  }
  if (with_output) {
    cmd->add_option("-o,--output", o.output, "Output format: text (default) or json lines")
        ->check(CLI::IsMember({"text", "json"}));
    cmd->add_flag("-v,--verbose", o.verbose, "Text output: also show every probe round");
  }
}

// --lock-wait/--lock-lease take durations as manifests do ("30s", "5m").
void add_lock_options(CLI::App* cmd, std::string& wait, std::string& lease) {
  const auto duration = CLI::Validator(
      [](std::string& v) {
        return orch::parse_duration(v)
                   ? std::string()
                   : "expected a duration like 30s, 5m or 1h, got \"" + v + "\"";
      },
      "DURATION");
  cmd->add_option("--lock-wait", wait,
                  "Wait this long for another rollout of the app to release its lock (default: "
                  "fail at once with exit 5)")
      ->check(duration);
  cmd->add_option("--lock-lease", lease,
                  "How long this rollout's lock is unquestionably its own (default 1h); an "
                  "expired lock may be taken over")
      ->check(duration);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "rollgate rolls prebuilt container images out to Docker hosts, host by host, through "
      "each engine's HTTP API, and gates every batch on health against the baseline measured "
      "before the rollout.\n\n"
      "Exit codes (apply): 0 done, 1 internal error, 2 bad input, 3 rolled back, 4 paused, "
      "5 locked, 6 pre-flight failed (nothing touched).\n"
      "SIGINT/SIGTERM: the batch in flight is finished or reverted, then exit 4; a second signal "
      "stops at once."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rollgate 0.1.0");

  orch::cli::CommonOptions common;
  std::string image;
  std::string lock_wait;
  std::string lock_lease;

  auto* validate = app.add_subcommand("validate", "Check a manifest; report every error");
  add_common(validate, common, false);

  auto* plan = app.add_subcommand("plan",
                                  "Show, per batch and host, the exact engine calls and router "
                                  "commands apply would make. Changes nothing");
  add_common(plan, common, true);
  plan->add_option("--image", image, "Deploy this image instead of the manifest's");

  auto* apply = app.add_subcommand("apply", "Roll the image out, gating every batch on health");
  add_common(apply, common, true, true);
  apply->add_option("--image", image, "Deploy this image instead of the manifest's");
  add_lock_options(apply, lock_wait, lock_lease);

  auto* status = app.add_subcommand(
      "status",
      "Per host: the app's container, digest, revision, state and health; and whether the last "
      "rollout was interrupted, and what resume would do");
  add_common(status, common, true, true);

  auto* ping = app.add_subcommand("ping", "Check that every engine answers; show version, latency");
  add_common(ping, common, true);

  auto* history = app.add_subcommand(
      "history", "Past rollouts of the app from the journal: revision, digest, result, timings");
  add_common(history, common, true, true);

  // Requests to the apply running for the app, from another terminal.
  struct Request {
    const char* name;
    const char* help;
    CLI::App* cmd = nullptr;
  };
  Request requests[] = {
      {"pause", "Hold the running apply at its next gate check"},
      {"promote", "End the running apply's bake now and declare success"},
  };
  for (auto& r : requests) {
    r.cmd = app.add_subcommand(r.name, r.help);
    add_common(r.cmd, common, false, true);
  }
  bool force = false;
  auto* unlock = app.add_subcommand(
      "unlock", "Show who holds the app's rollout lock; with --force, remove it (holder dead)");
  add_common(unlock, common, false, true);
  unlock->add_flag("--force", force, "Remove the lock whoever holds it (the journal records it)");
  auto* resume = app.add_subcommand(
      "resume",
      "Let a paused running apply go on; or, with none running, continue the journal's "
      "interrupted or paused rollout after reconciling it with the engines");
  add_common(resume, common, true, true);
  add_lock_options(resume, lock_wait, lock_lease);
  int to_revision = 0;
  auto* rollback = app.add_subcommand(
      "rollback",
      "Roll the running apply back; or finish an interrupted rollout's rollback; or return to "
      "an earlier revision still kept on the hosts (checked before anything is touched)");
  add_common(rollback, common, true, true);
  add_lock_options(rollback, lock_wait, lock_lease);
  rollback
      ->add_option("--to-revision", to_revision,
                   "Revision to return to (default: the one before the live one)")
      ->check(CLI::PositiveNumber);

  auto* switch_back = app.add_subcommand(
      "switch-back",
      "Blue-green: make the other colour live again: restart its containers, gate them, switch "
      "the router, then stop the colour that was live (it keeps serving until the switch)");
  add_common(switch_back, common, true, true);
  add_lock_options(switch_back, lock_wait, lock_lease);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitBadInput;
  }

  if (!lock_wait.empty()) {
    common.lock_wait = *orch::parse_duration(lock_wait);
  }
  if (!lock_lease.empty()) {
    common.lock_lease =
        std::chrono::duration_cast<std::chrono::seconds>(*orch::parse_duration(lock_lease));
  }

  try {
    if (validate->parsed()) {
      return orch::cli::validate(common);
    }
    if (plan->parsed()) {
      return orch::cli::plan(common, image);
    }
    if (apply->parsed()) {
      return orch::cli::apply(common, image);
    }
    if (status->parsed()) {
      return orch::cli::status(common);
    }
    if (ping->parsed()) {
      return orch::cli::ping(common);
    }
    if (history->parsed()) {
      return orch::cli::history(common);
    }
    if (unlock->parsed()) {
      return orch::cli::unlock(common, force);
    }
    if (resume->parsed()) {
      return orch::cli::resume(common);
    }
    if (rollback->parsed()) {
      return orch::cli::rollback(common, to_revision);
    }
    if (switch_back->parsed()) {
      return orch::cli::switch_back(common);
    }
    for (const auto& r : requests) {
      if (r.cmd->parsed()) {
        return orch::cli::request(common, r.name);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rollgate: internal error: %s\n", e.what());
    return kExitInternal;
  }
  return kExitBadInput;
}
