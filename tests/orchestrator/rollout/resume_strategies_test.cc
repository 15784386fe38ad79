// kill -9 at every step boundary of a routed rollout -- after every engine call and after every
// router call -- for blue-green (start beside, gate, switch, bake, retire), rolling start-first
// and rolling stop-first, then `resume` from what the journal kept. Every run must:
//   - converge: one revision on every host, the live colour (or entry) serving it, the other
//     slot stopped, no orphan container;
//   - keep RouterFleet's invariants across both processes: no container stopped while routed,
//     and no traffic sent to a container that has not passed a probe *in the same process*
//     (forget_probes() between the two), so a resumed blue-green never switches to a colour
//     that has not passed its gate in this run;
//   - never leave a host unserved, at any call of either process.
#include <catch2/catch.hpp>
#include <regex>

#include "orchestrator/journal/replay.h"
#include "orchestrator/rollout/resume.h"
#include "tests/fakes/mem_file.h"
#include "tests/orchestrator/rollout/router_fleet.h"

namespace orch::rollout {
namespace {

using test::Colour;
using test::kBad;
using test::kRepo;
using test::kV1;
using test::kV2;
using test::Mode;
using test::RouterFleet;

constexpr int kHosts = 3;
constexpr std::chrono::seconds kBake{2};

const char* name(Mode m) {
  switch (m) {
    case Mode::kBlueGreen:
      return "blue-green";
    case Mode::kStartFirst:
      return "start-first";
    case Mode::kStopFirst:
      return "stop-first";
  }
  return "?";
}

// v1 serving on every host, as the previous rollout left it.
void seed_v1(RouterFleet& f, Mode mode) {
  if (mode == Mode::kBlueGreen) {
    f.seed("web-blue", kV1, 1, "running", "blue");
    f.router.live = Colour::kBlue;
  } else {
    f.seed("web", kV1, 1, "running");
  }
}

ApplyOptions fresh(const std::string& tag, Mode mode) {
  ApplyOptions o{kRepo + ":" + tag, "r-killed"};
  o.bake = mode == Mode::kBlueGreen ? kBake : std::chrono::milliseconds(0);
  return o;
}

// Where the first process dies: right after engine call n, or right after router call n.
struct KillAt {
  bool router = false;
  int n = 0;
};

struct Run {
  std::optional<Outcome> resumed;  // nullopt: killed before the rollout was journaled
  size_t worst_unserved = 0;       // the most hosts unserved at any call of either process
};

Run kill_and_resume(RouterFleet& f, Mode mode, const std::string& tag, KillAt kill) {
  auto memfile = std::make_unique<testing::MemFile>();
  auto* mem = memfile.get();
  auto first = journal::Journal::open(std::move(memfile));
  REQUIRE(first);
  f.journal = &*first;
  Run run;
  auto engine_check = f.world.after_call;
  f.world.after_call = [&] {
    engine_check();
    run.worst_unserved = std::max(run.worst_unserved, f.unserved().size());
  };
  int router_calls = 0;
  f.on_router_call = [&](const std::string&) {
    run.worst_unserved = std::max(run.worst_unserved, f.unserved().size());
    if (kill.router && ++router_calls == kill.n) {
      f.world.killed = true;  // every later engine call throws too
      throw testing::Killed{};
    }
  };
  f.world.kill_at = kill.router ? 0 : kill.n;
  f.run([&](Controller& c) -> Task<Outcome> { co_return co_await c.apply(fresh(tag, mode)); });
  REQUIRE(f.world.killed);

  // A new process: it has what was synced, and nothing it probed.
  mem->crash();
  auto reopened = journal::Journal::open(std::make_unique<testing::MemFile>(mem->synced()));
  REQUIRE(reopened);
  f.journal = &*reopened;
  f.world.killed = false;
  f.world.kill_at = 0;
  f.on_router_call = [&](const std::string&) {
    run.worst_unserved = std::max(run.worst_unserved, f.unserved().size());
  };
  f.forget_probes();
  auto rollouts = journal::replay(reopened->records());
  REQUIRE(rollouts);
  if (rollouts->empty() || !resumable(rollouts->back())) {
    return run;
  }
  ApplyOptions o;
  prepare_resume(rollouts->back(), o);
  o.bake = fresh(tag, mode).bake;
  run.resumed =
      f.run([&](Controller& c) -> Task<Outcome> { co_return co_await c.apply(std::move(o)); });
  REQUIRE_FALSE(f.killed);
  return run;
}

// The container serving the router's traffic on host i: the live colour's port (blue-green),
// else the ready entry's port.
const testing::FakeEngine::Container* served(RouterFleet& f, Mode mode, int i) {
  const std::string host = f.engine(i).host_name();
  if (mode == Mode::kBlueGreen) {
    return f.router.live ? f.serving(host, *f.router.live == Colour::kBlue ? test::kBluePort
                                                                           : test::kGreenPort)
                         : nullptr;
  }
  for (const auto& [entry, e] : f.router.entries) {
    if (entry.substr(0, entry.find('-')) == host && e.state == testing::FakeRouter::State::kReady) {
      if (const auto* c = f.serving(host, e.port)) {
        return c;
      }
    }
  }
  return nullptr;
}

std::string calls(const RouterFleet& f) {
  std::string out;
  for (const auto& line : f.world.log) {
    out += "  " + line + "\n";
  }
  out += "events of both processes:\n";
  for (const auto& e : f.events.events) {
    if (e.type != "probe") {
      out += "  " + e.type + " " + e.host + " " + e.message + "\n";
    }
  }
  return out;
}

void check_converged(RouterFleet& f, Mode mode, const std::string& digest) {
  const std::regex allowed("web(-blue|-green)?|web-r[0-9]+(-[0-9a-f]+)?|web-r[0-9]+-failed");
  for (int i = 0; i < kHosts; ++i) {
    auto& e = f.engine(i);
    CAPTURE(e.host_name());
    e.settle();
    const auto* live = served(f, mode, i);
    REQUIRE(live);
    CHECK(live->digest == digest);
    int running = 0;
    for (const auto& [id, c] : e.containers) {
      CAPTURE(c.name, c.status);
      running += c.status == "running";
      CHECK(std::regex_match(c.name, allowed));
    }
    CHECK(running == 1);
    if (mode != Mode::kBlueGreen) {
      CHECK(live->name == "web");
    }
  }
}

TEST_CASE("kill -9 at every engine and router call of a routed rollout, then resume",
          "[resume][faults][router]") {
  const Mode mode = GENERATE(Mode::kBlueGreen, Mode::kStartFirst, Mode::kStopFirst);
  const std::string tag = GENERATE(as<std::string>{}, "v2", "bad");
  CAPTURE(name(mode), tag);
  int engine_calls = 0;
  int router_calls = 0;
  {
    RouterFleet clean(kHosts, mode);
    seed_v1(clean, mode);
    auto file = journal::Journal::open(std::make_unique<testing::MemFile>());
    REQUIRE(file);
    clean.journal = &*file;
    auto out = clean.apply(tag, fresh(tag, mode).bake);
    INFO(out.summary);
    REQUIRE(out.code == (tag == "v2" ? ExitCode::kDone : ExitCode::kRolledBack));
    engine_calls = clean.world.calls;
    router_calls = static_cast<int>(clean.router.calls.size());
  }
  REQUIRE(engine_calls > 0);
  REQUIRE(router_calls > 0);
  std::vector<KillAt> points;
  for (int n = 1; n <= engine_calls; ++n) {
    points.push_back(KillAt{false, n});
  }
  for (int n = 1; n <= router_calls; ++n) {
    points.push_back(KillAt{true, n});
  }
  for (const auto& kill : points) {
    CAPTURE(kill.router ? "after router call" : "at engine call", kill.n);
    RouterFleet f(kHosts, mode);
    seed_v1(f, mode);
    const Run run = kill_and_resume(f, mode, tag, kill);
    INFO(f.report());
    INFO("engine and router calls of both processes:\n" << calls(f));
    CHECK(f.violations.empty());
    // Only stop-first takes a host out of service, one batch (of one host) at a time.
    CHECK(run.worst_unserved <= (mode == Mode::kStopFirst ? 1u : 0u));
    if (!run.resumed) {
      // Killed in pre-flight: nothing was touched.
      for (const auto& line : f.world.log) {
        CHECK(line.find(" create ") == std::string::npos);
        CHECK(line.find(" stop ") == std::string::npos);
      }
      check_converged(f, mode, kV1);
      continue;
    }
    INFO(run.resumed->summary);
    if (tag == "v2") {
      CHECK(run.resumed->code == ExitCode::kDone);
      check_converged(f, mode, kV2);
    } else {
      CHECK(run.resumed->code == ExitCode::kRolledBack);
      check_converged(f, mode, kV1);
    }
  }
}

}  // namespace
}  // namespace orch::rollout
