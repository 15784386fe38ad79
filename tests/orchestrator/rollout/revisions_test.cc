// Rollback-target selection (rollout/revisions.h): the containers kept on FakeEngines and a real
// journal on disk decide what `rollgate rollback` returns to, and what it refuses.
#include "orchestrator/rollout/revisions.h"

#include <catch2/catch.hpp>

#include "tests/fakes/fake_engine.h"
#include "tests/orchestrator/rollout/cli_api_support.h"

namespace orch::rollout {
namespace {

using Catch::Matchers::Contains;
using orch::testing::FakeEngine;
using orch::testing::FakeWorld;
using orch::testing::run_task;
using orch::testing::TempDir;

std::string pinned(int rev) { return "reg/web@sha256:v" + std::to_string(rev); }

struct Bed {
  FakeWorld world;
  FakeEngine h1{world, "h1"};
  FakeEngine h2{world, "h2"};
  manifest::Manifest m;
  TempDir dir;
  journal::Journal journal = testing::open_journal(dir);
  Bed() {
    m.app = "web";
    m.image = "reg/web:v9";
    m.hosts = {{"h1", "tcp://h1:2375", "h1"}, {"h2", "tcp://h2:2375", "h2"}};
  }
  // Both hosts: the live revision `live`, archives of each of `kept` (stopped).
  void seed(int live, const std::vector<int>& kept) {
    for (auto* e : {&h1, &h2}) {
      e->seed("web", pinned(live), live, "web");
      for (int rev : kept) {
        e->seed("web-r" + std::to_string(rev), pinned(rev), rev, "web", "exited");
      }
    }
  }
  std::vector<HostBinding> bindings() { return {{"h1", "h1", &h1}, {"h2", "h2", &h2}}; }
  Result<RollbackChoice> choose(int to_revision) {
    return run_task(
        choose_rollback(m, bindings(), testing::replayed(dir.file("journal.log")), to_revision));
  }
};

TEST_CASE("rollback returns to the newest kept revision below the live one") {
  Bed bed;
  bed.seed(3, {2, 1});
  auto c = bed.choose(0);
  REQUIRE(c.is_ok());
  CHECK(c->kind == RollbackChoice::Kind::kToRevision);
  CHECK(c->revision == 2);
  CHECK(c->pinned == pinned(2));
}

TEST_CASE("rollback never returns to a revision that was itself unhealthy") {
  Bed bed;
  SECTION("its containers were renamed -failed by a rollback") {
    bed.seed(3, {1});
    bed.h1.seed("web-r2-failed", pinned(2), 2, "web", "exited");
    auto c = bed.choose(0);
    REQUIRE(c.is_ok());
    CHECK(c->revision == 1);
    auto asked = bed.choose(2);
    REQUIRE_FALSE(asked.is_ok());
    CHECK_THAT(asked.status().message(), Contains("revision 2 is not kept on any host"));
  }
  SECTION("the journal says its rollout ended rolled back") {
    bed.seed(3, {2, 1});
    testing::journal_rollout(bed.journal, "R1", 1, journal::EndResult::kDone);
    testing::journal_rollout(bed.journal, "R2", 2, journal::EndResult::kRolledBack);
    testing::journal_rollout(bed.journal, "R3", 3, journal::EndResult::kDone);
    auto c = bed.choose(0);
    REQUIRE(c.is_ok());
    CHECK(c->revision == 1);
    auto asked = bed.choose(2);
    REQUIRE_FALSE(asked.is_ok());
    CHECK(asked.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(asked.status().message(), Contains("revision 2 was rolled back by rollout R2"));
  }
}

TEST_CASE("rollback --to-revision N: present on any host, or refused naming what is kept") {
  Bed bed;
  bed.seed(3, {2});
  bed.h2.seed("web-r1", pinned(1), 1, "web", "exited");  // kept on h2 only

  auto one = bed.choose(1);
  REQUIRE(one.is_ok());
  CHECK(one->revision == 1);
  CHECK(one->pinned == pinned(1));

  auto absent = bed.choose(7);
  REQUIRE_FALSE(absent.is_ok());
  CHECK(absent.status().code() == Code::kFailedPrecondition);
  CHECK(absent.status().message() ==
        "revision 7 is not kept on any host (revisions on the hosts: 1, 2, 3); nothing was "
        "changed");
}

TEST_CASE("rollback without an earlier revision is refused") {
  Bed bed;
  bed.seed(1, {});
  auto c = bed.choose(0);
  REQUIRE_FALSE(c.is_ok());
  CHECK_THAT(c.status().message(),
             Contains("no earlier revision is not kept on any host (revisions on the hosts: 1)"));
}

TEST_CASE("rollback finishes the journal's interrupted or paused rollout before anything else") {
  Bed bed;
  bed.seed(3, {2});
  testing::journal_rollout(bed.journal, "R4", 4, std::nullopt, {"rollback"});
  bed.h1.down = true;  // the choice is the journal's: no engine is asked
  auto c = bed.choose(0);
  REQUIRE(c.is_ok());
  CHECK(c->kind == RollbackChoice::Kind::kFinishRollout);
  CHECK(c->rollout == "R4");
  CHECK(c->revision == 4);

  SECTION("--to-revision N still deploys N, and needs every engine") {
    auto asked = bed.choose(2);
    REQUIRE_FALSE(asked.is_ok());
    CHECK_THAT(asked.status().message(), Contains("h1: "));
    bed.h1.down = false;
    auto two = bed.choose(2);
    REQUIRE(two.is_ok());
    CHECK(two->kind == RollbackChoice::Kind::kToRevision);
    CHECK(two->revision == 2);
  }
  SECTION("a start-first rollout is not rolled back from the journal") {
    bed.m.strategy.order = manifest::Order::kStartFirst;
    REQUIRE(bed.m.strategy.two_slots());
    auto refused = bed.choose(0);
    REQUIRE_FALSE(refused.is_ok());
    CHECK(refused.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(refused.status().message(), Contains("start-first rollout R4"));
  }
}

TEST_CASE("a rollout that ended is history: rollback picks a kept revision") {
  Bed bed;
  bed.seed(3, {2});
  testing::journal_rollout(bed.journal, "R3", 3, journal::EndResult::kDone);
  auto c = bed.choose(0);
  REQUIRE(c.is_ok());
  CHECK(c->kind == RollbackChoice::Kind::kToRevision);
  CHECK(c->revision == 2);
}

}  // namespace
}  // namespace orch::rollout
