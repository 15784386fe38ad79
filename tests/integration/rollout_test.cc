// The rollgate binary against the real testbed ([docker]; needs `scripts/testbed up`).
//
// Every test starts from an empty fleet (`scripts/testbed clean-apps`), runs the built binary
// (ROLLGATE_BIN) with a generated manifest for every testbed host, and checks the result with
// tools independent of rollgate: the engines' HTTP API and the app's own port, through curl,
// and the registry for digests. App name "itest"; it publishes 8080 on every host.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"

using nlohmann::json;
using rgtest::describe;
using rgtest::events_of;
using rgtest::json_lines;
using rgtest::ProcResult;
using rgtest::run_process;
using rgtest::run_rollgate;
using rgtest::TempManifest;
using rgtest::Testbed;

namespace {

const std::string kApp = "itest";

// The fleet every test uses: the testbed, cleaned.
using rgtest::fleet::fresh_fleet;
using rgtest::fleet::image;

// The manifest of the brief: 3+ hosts, port 8080, fast health settings, batch size 1.
std::string manifest_yaml(const Testbed& tb, const std::string& image_ref,
                          const std::string& on_failure = "rollback") {
  return rgtest::fleet::manifest_yaml(tb, kApp, image_ref, on_failure);
}

// ---- The engines, through curl ------------------------------------------------------------

// "tcp://10.231.7.11:2375" -> "http://10.231.7.11:2375/v1.41".
std::string engine_base(const Testbed& tb, const std::string& host) {
  std::string e = tb.engine(host);
  REQUIRE(e.rfind("tcp://", 0) == 0);
  return "http://" + e.substr(6) + "/v1.41";
}

json engine_get(const Testbed& tb, const std::string& host, const std::string& path) {
  auto reply = rgtest::http_get(engine_base(tb, host) + path);
  INFO(host << " GET " << path << ": " << reply.error << reply.body);
  REQUIRE(reply.ok);
  REQUIRE(reply.status == 200);
  auto j = json::parse(reply.body, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

struct Container {
  std::string id;
  std::string name;
  std::string state;  // running, exited, ...
  std::string image;
  json labels;
  bool operator==(const Container& o) const {
    return id == o.id && name == o.name && state == o.state && image == o.image &&
           labels == o.labels;
  }
};

// Every container on the host, by name.
std::map<std::string, Container> containers(const Testbed& tb, const std::string& host) {
  std::map<std::string, Container> out;
  for (const auto& c : engine_get(tb, host, "/containers/json?all=1")) {
    Container k;
    k.id = c.at("Id").get<std::string>();
    k.name = c.at("Names").at(0).get<std::string>().substr(1);  // "/itest" -> "itest"
    k.state = c.at("State").get<std::string>();
    k.image = c.at("Image").get<std::string>();
    k.labels = c.value("Labels", json::object());
    out[k.name] = k;
  }
  return out;
}

using FleetSnapshot = std::map<std::string, std::map<std::string, Container>>;

FleetSnapshot snapshot(const Testbed& tb) {
  FleetSnapshot s;
  for (const auto& h : tb.hosts()) {
    s[h] = containers(tb, h);
  }
  return s;
}

std::string names(const std::map<std::string, Container>& cs) {
  std::string s;
  for (const auto& [name, c] : cs) {
    s += name + "(" + c.state + ", " + c.id.substr(0, 12) + ") ";
  }
  return s;
}

// The container named `name` on `host`; fails the test when absent.
Container container(const Testbed& tb, const std::string& host, const std::string& name) {
  auto cs = containers(tb, host);
  INFO(host << " has: " << names(cs));
  auto it = cs.find(name);
  REQUIRE(it != cs.end());
  return it->second;
}

// What the app answers on GET / at the host's published port ("" when nothing answers).
std::string served(const Testbed& tb, const std::string& host) {
  auto reply = rgtest::http_get("http://" + tb.addr(host) + ":8080/");
  return reply.ok && reply.status == 200 ? reply.body : "(" + reply.error + ")";
}

void check_fleet_serves(const Testbed& tb, const std::string& tag) {
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(served(tb, h) == "demo " + tag + "\n");
    CHECK(container(tb, h, kApp).state == "running");
  }
}

// The registry's digest of demo:<tag> (Docker-Content-Digest of the schema-2 manifest).
std::string registry_digest(const Testbed& tb, const std::string& tag) {
  const std::string repo = tb.image().substr(tb.registry().size() + 1);  // "demo"
  auto r = run_process({"curl", "-sS", "-m", "10", "-I", "-H",
                        "Accept: application/vnd.docker.distribution.manifest.v2+json",
                        "http://" + tb.registry() + "/v2/" + repo + "/manifests/" + tag});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  std::string lower = r.out;
  for (auto& ch : lower) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  const std::string key = "docker-content-digest:";
  const size_t at = lower.find(key);
  REQUIRE(at != std::string::npos);
  size_t begin = at + key.size();
  while (r.out[begin] == ' ') {
    ++begin;
  }
  const size_t end = r.out.find_first_of("\r\n", begin);
  std::string digest = r.out.substr(begin, end - begin);
  REQUIRE(digest.rfind("sha256:", 0) == 0);
  return digest;
}

// `rollgate apply` with JSON output; the image from the manifest unless `image_ref` is given.
ProcResult apply_json(const TempManifest& m, const std::string& image_ref = "") {
  std::vector<std::string> args = {"apply", "-f", m.path(), "--output", "json"};
  if (!image_ref.empty()) {
    args.push_back("--image");
    args.push_back(image_ref);
  }
  return run_rollgate(args);
}

// Deploys `tag` and requires success: the setup step of most tests.
void deploy_ok(const Testbed& tb, const TempManifest& m, const std::string& tag) {
  auto r = apply_json(m, image(tb, tag));
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
}

// The last "rollout" event must say it finished with `code`.
void check_done_event(const std::vector<json>& events, int code) {
  auto done = events_of(events, "rollout");
  REQUIRE(!done.empty());
  CHECK(done.back().value("phase", "") == "done");
  CHECK(done.back().value("exit_code", -1) == code);
}

std::set<std::string> host_set(const Testbed& tb) {
  const auto hosts = tb.hosts();
  return std::set<std::string>(hosts.begin(), hosts.end());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("rollgate apply: a fresh deploy of v1 runs v1 on every host, labelled", "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  const std::string digest = registry_digest(tb, "v1");

  // plan reports the digest the registry has, and changes nothing.
  auto p = run_rollgate({"plan", "-f", m.path(), "--output", "json"});
  INFO(describe(p));
  REQUIRE(p.exit_code == 0);
  auto plan = json_lines(p.out);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].value("digest", "") == digest);
  CHECK(plan[0].value("revision", 0) == 1);
  for (const auto& h : tb.hosts()) {
    CHECK(containers(tb, h).empty());
  }

  auto r = apply_json(m);
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  auto events = json_lines(r.out);
  check_done_event(events, 0);

  check_fleet_serves(tb, "v1");
  std::set<std::string> rollout_ids;
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    auto all = containers(tb, h);
    INFO("containers: " << names(all));
    CHECK(all.size() == 1);
    auto c = container(tb, h, kApp);
    CHECK(c.labels.value("rollgate.app", "") == kApp);
    CHECK(c.labels.value("rollgate.revision", "") == "1");
    CHECK(c.labels.value("rollgate.digest", "") == digest);
    CHECK(!c.labels.value("rollgate.rollout", "").empty());
    rollout_ids.insert(c.labels.value("rollgate.rollout", ""));
    CHECK(contains(c.image, digest));  // runs repo@digest, not the moving tag
  }
  CHECK(rollout_ids.size() == 1);  // one rollout id across the fleet
}

TEST_CASE("rollgate apply: v1 -> v2 replaces every host and keeps r1, v2 again is a no-op",
          "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  deploy_ok(tb, m, "v1");
  check_fleet_serves(tb, "v1");
  const std::string v2_digest = registry_digest(tb, "v2");

  auto r = apply_json(m, image(tb, "v2"));
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  check_done_event(json_lines(r.out), 0);

  check_fleet_serves(tb, "v2");
  std::map<std::string, std::string> live_ids;
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    auto live = container(tb, h, kApp);
    CHECK(live.labels.value("rollgate.revision", "") == "2");
    CHECK(live.labels.value("rollgate.digest", "") == v2_digest);
    live_ids[h] = live.id;
    auto r1 = container(tb, h, kApp + "-r1");
    CHECK(r1.state == "exited");
    CHECK(r1.labels.value("rollgate.revision", "") == "1");
  }

  // The same image again: nothing to do, nothing recreated.
  auto again = run_rollgate({"apply", "-f", m.path(), "--image", image(tb, "v2")});
  INFO(describe(again));
  REQUIRE(again.exit_code == 0);
  CHECK(contains(again.out, "nothing to do"));
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container(tb, h, kApp).id == live_ids[h]);
  }
  check_fleet_serves(tb, "v2");
}

TEST_CASE("rollgate apply: v2 -> unhealthy rolls back after the first host", "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  deploy_ok(tb, m, "v1");
  deploy_ok(tb, m, "v2");  // revision 2
  check_fleet_serves(tb, "v2");
  const auto hosts = tb.hosts();
  const FleetSnapshot before = snapshot(tb);

  auto r = apply_json(m, image(tb, "unhealthy"));  // revision 3
  INFO(describe(r));
  REQUIRE(r.exit_code == 3);
  auto events = json_lines(r.out);
  check_done_event(events, 3);

  bool rolled_back = false;
  for (const auto& d : events_of(events, "decision")) {
    if (d.value("action", "") == "rollback") {
      CHECK(d.value("rule", "") == "worse-than-baseline");
      rolled_back = true;
    }
  }
  CHECK(rolled_back);
  CHECK(!events_of(events, "rollback").empty());

  check_fleet_serves(tb, "v2");
  // h1 is back on its v2 container, and keeps the failed one for inspection.
  CHECK(container(tb, hosts[0], kApp).id == before.at(hosts[0]).at(kApp).id);
  auto failed = container(tb, hosts[0], kApp + "-r3-failed");
  CHECK(failed.state != "running");
  CHECK(failed.labels.value("rollgate.revision", "") == "3");
  // The other hosts were never touched.
  for (size_t i = 1; i < hosts.size(); ++i) {
    INFO("host " << hosts[i]);
    auto now = containers(tb, hosts[i]);
    CHECK(now.at(kApp).id == before.at(hosts[i]).at(kApp).id);
    CHECK(now == before.at(hosts[i]));
  }
}

TEST_CASE("rollgate apply: v2 -> crash rolls back", "[docker]") {
  // health.http.keep_alive: the probes reuse their connections, and a crashed container still
  // fails its probes (its kept connection closes with it).
  const bool keep_alive = GENERATE(false, true);
  CAPTURE(keep_alive);
  Testbed tb = fresh_fleet();
  std::string yaml = manifest_yaml(tb, image(tb, "v2"));
  if (keep_alive) {
    const std::string http = "{port: 8080, path: /health}";
    const size_t at = yaml.find(http);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, http.size(), "{port: 8080, path: /health, keep_alive: true}");
  }
  TempManifest m(yaml);
  deploy_ok(tb, m, "v2");
  check_fleet_serves(tb, "v2");
  const auto hosts = tb.hosts();
  const FleetSnapshot before = snapshot(tb);

  auto r = apply_json(m, image(tb, "crash"));
  INFO(describe(r));
  REQUIRE(r.exit_code == 3);
  check_done_event(json_lines(r.out), 3);

  check_fleet_serves(tb, "v2");
  for (const auto& h : hosts) {
    INFO("host " << h);
    CHECK(container(tb, h, kApp).id == before.at(h).at(kApp).id);
  }
  CHECK(container(tb, hosts[0], kApp + "-r2-failed").state != "running");
}

TEST_CASE("rollgate apply: an image tag that does not exist fails pre-flight, touching nothing",
          "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  deploy_ok(tb, m, "v1");
  const FleetSnapshot before = snapshot(tb);
  const std::string missing = image(tb, "does-not-exist");

  auto r = run_rollgate({"apply", "-f", m.path(), "--image", missing});
  INFO(describe(r));
  CHECK(r.exit_code == 6);
  CHECK(contains(r.out + r.err, missing));

  auto j = apply_json(m, missing);
  INFO(describe(j));
  CHECK(j.exit_code == 6);
  check_done_event(json_lines(j.out), 6);

  CHECK(snapshot(tb) == before);
  check_fleet_serves(tb, "v1");
}

TEST_CASE("rollgate validate/apply: an invalid manifest exits 2 naming each field", "[docker]") {
  Testbed tb = fresh_fleet();
  const std::string good = manifest_yaml(tb, image(tb, "v1"));

  struct Case {
    std::string what;
    std::string text;
    std::vector<std::string> paths;  // each must appear in stderr
  };
  std::string typo = good + "helth:\n  interval: 1s\n";
  std::string bad_duration = good;
  bad_duration.replace(bad_duration.find("interval: 250ms"), 15, "interval: 2x");
  std::string no_hosts = "app: " + kApp + "\nimage: " + image(tb, "v1") + "\nhosts: []\n";
  std::string all_three = no_hosts + "health:\n  interval: 2x\nhelth:\n  interval: 1s\n";
  const std::vector<Case> cases = {
      {"unknown key", typo, {"helth"}},
      {"bad duration", bad_duration, {"health.interval"}},
      {"empty hosts", no_hosts, {"hosts"}},
      {"all at once", all_three, {"helth", "health.interval", "hosts"}},
  };

  const FleetSnapshot before = snapshot(tb);
  for (const auto& c : cases) {
    SECTION(c.what) {
      TempManifest m(c.text);
      INFO("manifest:\n" << c.text);
      for (const std::string cmd : {"validate", "apply"}) {
        auto r = run_rollgate({cmd, "-f", m.path()});
        INFO(describe(r));
        CHECK(r.exit_code == 2);
        for (const auto& path : c.paths) {
          // "<file>: <path>: <what was wrong>", one line per error.
          CHECK(contains(r.err, ": " + path + ": "));
        }
      }
      // The bad duration names the offending value too.
      if (c.what == "bad duration") {
        auto r = run_rollgate({"validate", "-f", m.path()});
        CHECK(contains(r.err, "2x"));
      }
    }
  }
  CHECK(snapshot(tb) == before);
}

TEST_CASE("rollgate apply: on_failure pause leaves h1 on the bad image and exits 4", "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v2"), "pause"));
  deploy_ok(tb, m, "v2");
  const auto hosts = tb.hosts();
  const FleetSnapshot before = snapshot(tb);
  const std::string bad_digest = registry_digest(tb, "unhealthy");

  auto r = apply_json(m, image(tb, "unhealthy"));
  INFO(describe(r));
  REQUIRE(r.exit_code == 4);
  auto events = json_lines(r.out);
  check_done_event(events, 4);
  CHECK(events_of(events, "rollback").empty());

  auto h1 = container(tb, hosts[0], kApp);
  CHECK(h1.state == "running");
  CHECK(h1.labels.value("rollgate.digest", "") == bad_digest);
  CHECK(h1.labels.value("rollgate.revision", "") == "2");
  CHECK(served(tb, hosts[0]) == "demo unhealthy\n");
  CHECK(container(tb, hosts[0], kApp + "-r1").state == "exited");
  for (size_t i = 1; i < hosts.size(); ++i) {
    INFO("host " << hosts[i]);
    CHECK(served(tb, hosts[i]) == "demo v2\n");
    CHECK(containers(tb, hosts[i]) == before.at(hosts[i]));
  }
}

TEST_CASE("rollgate apply: a fleet whose v1 is down is healed by deploying v2 (the incident)",
          "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  deploy_ok(tb, m, "v1");
  for (const auto& h : tb.hosts()) {
    auto reply =
        rgtest::http_request("POST", engine_base(tb, h) + "/containers/" + kApp + "/stop?t=1");
    INFO(h << ": " << reply.error << reply.body);
    REQUIRE(reply.ok);
    REQUIRE((reply.status == 204 || reply.status == 304));
    REQUIRE(container(tb, h, kApp).state == "exited");
    REQUIRE(served(tb, h) != "demo v1\n");
  }

  auto r = apply_json(m, image(tb, "v2"));
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  auto events = json_lines(r.out);
  check_done_event(events, 0);

  auto baselines = events_of(events, "baseline");
  std::set<std::string> seen;
  for (const auto& b : baselines) {
    INFO(b.dump());
    CHECK(contains(b.value("message", ""), "unhealthy"));
    CHECK(b.value("baseline", "") == "unhealthy");
    seen.insert(b.value("host", ""));
  }
  CHECK(seen == host_set(tb));
  check_fleet_serves(tb, "v2");
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container(tb, h, kApp).labels.value("rollgate.revision", "") == "2");
  }
}

TEST_CASE("rollgate plan, status and ping report the fleet without changing it", "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  deploy_ok(tb, m, "v1");
  const std::string v1_digest = registry_digest(tb, "v1");
  const FleetSnapshot before = snapshot(tb);

  {  // plan lists the engine calls and changes nothing
    auto p = run_rollgate({"plan", "-f", m.path(), "--image", image(tb, "v2")});
    INFO(describe(p));
    CHECK(p.exit_code == 0);
    CHECK(contains(p.out, "POST /v1.41/containers/create"));
    CHECK(contains(p.out, "/stop"));
    for (const auto& h : tb.hosts()) {
      CHECK(contains(p.out, h));
    }
    auto pj =
        run_rollgate({"plan", "-f", m.path(), "--image", image(tb, "v2"), "--output", "json"});
    INFO(describe(pj));
    CHECK(pj.exit_code == 0);
    auto plan = json_lines(pj.out);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].value("digest", "") == registry_digest(tb, "v2"));
    CHECK(plan[0].value("revision", 0) == 2);
    CHECK(plan[0].at("batches").size() == tb.hosts().size());
    CHECK(snapshot(tb) == before);
    check_fleet_serves(tb, "v1");
  }

  {  // status reports the live container, revision and digest per host
    auto s = run_rollgate({"status", "-f", m.path(), "--output", "json"});
    INFO(describe(s));
    REQUIRE(s.exit_code == 0);
    auto lines = json_lines(s.out);
    REQUIRE(lines.size() == 1);
    const json& rows = lines[0];
    REQUIRE(rows.is_array());
    std::set<std::string> seen;
    for (const auto& row : rows) {
      INFO(row.dump());
      const std::string host = row.value("host", "");
      seen.insert(host);
      REQUIRE(row.contains("containers"));
      int live = 0;
      for (const auto& c : row.at("containers")) {
        if (c.value("live", false)) {
          ++live;
          CHECK(c.value("container", "") == kApp);
          CHECK(c.value("revision", 0) == 1);
          CHECK(c.value("digest", "") == v1_digest);
          CHECK(c.value("state", "") == "running");
        }
      }
      CHECK(live == 1);
    }
    CHECK(seen == host_set(tb));
    CHECK(snapshot(tb) == before);
  }

  {  // ping prints every engine's version
    auto p = run_rollgate({"ping", "-f", m.path()});
    INFO(describe(p));
    CHECK(p.exit_code == 0);
    for (const auto& h : tb.hosts()) {
      const std::string version = engine_get(tb, h, "/version").value("Version", "");
      REQUIRE(!version.empty());
      CHECK(contains(p.out, h));
      CHECK(contains(p.out, version));
    }
  }
}

TEST_CASE("rollgate raises its open-file limit for the fleet, and says when it cannot",
          "[docker]") {
  Testbed tb = rgtest::load_testbed();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  const std::string hosts = std::to_string(tb.hosts().size());
  const std::string needed = std::to_string(4 * tb.hosts().size() + 64);
  // A soft limit below the fleet's need, under a hard limit that allows it: raised silently.
  auto raised =
      rgtest::run_process({"prlimit", "--nofile=40:4096", ROLLGATE_BIN, "ping", "-f", m.path()});
  INFO(describe(raised));
  CHECK(raised.exit_code == 0);
  CHECK_FALSE(contains(raised.err, "open files"));
  // A hard limit below it: rollgate says so, names the figures, and goes on.
  auto capped =
      rgtest::run_process({"prlimit", "--nofile=40:40", ROLLGATE_BIN, "ping", "-f", m.path()});
  INFO(describe(capped));
  CHECK(capped.exit_code == 0);
  CHECK(contains(capped.err,
                 "rollgate: warning: open files are limited to 40 (the hard limit), "
                 "and " +
                     hosts + " hosts may need " + needed + " at once"));
}

TEST_CASE("rollgate rollback --to-revision returns to a kept revision, checked before anything",
          "[docker]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  rgtest::fleet::StateDir state_dir;
  const std::string state = "--state-dir=" + state_dir.path();
  auto deploy = [&](const std::string& tag) {
    auto r = run_rollgate({"apply", "-f", m.path(), state, "--image", image(tb, tag)});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
  };
  deploy("v1");
  deploy("v2");
  check_fleet_serves(tb, "v2");

  // A revision no host keeps: refused before anything is touched.
  const auto before = snapshot(tb);
  auto r = run_rollgate({"rollback", "-f", m.path(), state, "--to-revision", "9"});
  INFO(describe(r));
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "revision 9 is not kept"));
  CHECK(snapshot(tb) == before);

  // Revision 1 is kept (itest-r1): the fleet returns to its digest, gated like any rollout.
  r = run_rollgate({"rollback", "-f", m.path(), state, "--to-revision", "1"});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  check_fleet_serves(tb, "v1");
  for (const auto& h : tb.hosts()) {
    auto cs = containers(tb, h);
    REQUIRE(cs.count(kApp));
    CHECK(cs.at(kApp).labels.value("rollgate.digest", "") == registry_digest(tb, "v1"));
  }

  // With no revision named: the one before the live one (revision 2, v2).
  r = run_rollgate({"rollback", "-f", m.path(), state});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  check_fleet_serves(tb, "v2");
}
