#include "orchestrator/docker/json_codec.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/orchestrator/docker/engine_json_testdata.h"

using nlohmann::json;
using orch::Code;
using namespace orch::docker;

namespace {

const std::string kImageId =
    "sha256:6a8f0c7583b078980b7f3a52a7e968d3ad906bc0282e189acb5069ab24f00ad1";
const std::string kDigest =
    "sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad";

}  // namespace

TEST_CASE("decode_container maps a running container with a failing healthcheck", "[json]") {
  auto c = decode_container(testdata::kInspectRunning);
  REQUIRE(c.is_ok());
  CHECK(c->id == "40cb2b40ab50741ca6e7aff46c825ab0e4dbaf14f87489a9873a9d900c725840");
  CHECK(c->name == "cap2");
  CHECK(c->image_id == kImageId);
  CHECK(c->image == "127.0.0.1:5055/demo@" + kDigest);
  CHECK(c->labels == Labels{{"app", "web"}, {"rollgate.deployment", "42"}});
  CHECK(c->restart_count == 0);
  CHECK(c->state.status == "running");
  CHECK(c->state.running);
  CHECK_FALSE(c->state.restarting);
  CHECK_FALSE(c->state.oom_killed);
  CHECK_FALSE(c->state.dead);
  CHECK(c->state.pid == 14493);
  CHECK(c->state.exit_code == 0);
  CHECK(c->state.error.empty());
  CHECK(c->state.started_at == "2026-11-26T21:48:54.562573818Z");
  CHECK(c->state.finished_at == "0001-01-01T00:00:00Z");
  CHECK(c->state.health_status == "unhealthy");
  CHECK(c->state.failing_streak == 3);
}

TEST_CASE("decode_container maps a created container without healthcheck", "[json]") {
  auto c = decode_container(testdata::kInspectCreated);
  REQUIRE(c.is_ok());
  CHECK(c->name == "cap3");
  CHECK(c->state.status == "created");
  CHECK_FALSE(c->state.running);
  CHECK(c->state.health_status.empty());
  CHECK(c->state.failing_streak == 0);
  CHECK(c->labels.empty());
}

TEST_CASE("decode_container tolerates null labels and reports broken shapes", "[json]") {
  json j = json::parse(testdata::kInspectRunning);
  j["Config"]["Labels"] = nullptr;
  j["State"]["ExitCode"] = 137;
  j["State"]["OOMKilled"] = true;
  j["RestartCount"] = 4;
  auto c = decode_container(j.dump());
  REQUIRE(c.is_ok());
  CHECK(c->labels.empty());
  CHECK(c->state.exit_code == 137);
  CHECK(c->state.oom_killed);
  CHECK(c->restart_count == 4);

  auto [mutate, needle] = GENERATE(
      table<std::string, std::string>({{"no-id", "missing Id"},
                                       {"id-number", "Id is not a string"},
                                       {"no-state", "missing State"},
                                       {"state-string", "State is not an object"},
                                       {"no-status", "missing State.Status"},
                                       {"running-string", "State.Running is not a boolean"},
                                       {"streak-string", "State.Health.FailingStreak"},
                                       {"label-number", "Config.Labels.app"}}));
  json bad = json::parse(testdata::kInspectRunning);
  if (mutate == "no-id") {
    bad.erase("Id");
  } else if (mutate == "id-number") {
    bad["Id"] = 7;
  } else if (mutate == "no-state") {
    bad.erase("State");
  } else if (mutate == "state-string") {
    bad["State"] = "running";
  } else if (mutate == "no-status") {
    bad["State"].erase("Status");
  } else if (mutate == "running-string") {
    bad["State"]["Running"] = "yes";
  } else if (mutate == "streak-string") {
    bad["State"]["Health"]["FailingStreak"] = "3";
  } else if (mutate == "label-number") {
    bad["Config"]["Labels"]["app"] = 1;
  }
  INFO(mutate);
  auto r = decode_container(bad.dump());
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kInternal);
  CHECK_THAT(r.status().message(), Catch::StartsWith("unexpected response: "));
  CHECK_THAT(r.status().message(), Catch::Contains(needle));
}

TEST_CASE("decoders refuse bodies that are not JSON objects", "[json]") {
  auto body = GENERATE(as<std::string>{}, "", "not json", "[1]", "null", "{\"Id\":", "42");
  INFO(body);
  CHECK(decode_container(body).status().code() == Code::kInternal);
  CHECK(decode_version(body).status().code() == Code::kInternal);
  CHECK(decode_image(body).status().code() == Code::kInternal);
  CHECK(decode_distribution(body).status().code() == Code::kInternal);
  CHECK(decode_create_response(body).status().code() == Code::kInternal);
}

TEST_CASE("decode_container_list maps rows", "[json]") {
  auto list = decode_container_list(testdata::kList);
  REQUIRE(list.is_ok());
  REQUIRE(list->size() == 2);
  const ContainerSummary& created = (*list)[0];
  CHECK(created.id == "68ac9f7bfdb7517588ddba68efa50b613973a3d4ecc9bf15ff61d005158f306b");
  CHECK(created.name == "cap3");
  CHECK(created.state == "created");
  CHECK(created.status == "Created");
  CHECK(created.labels.empty());
  const ContainerSummary& running = (*list)[1];
  CHECK(running.name == "cap2");
  CHECK(running.image == "127.0.0.1:5055/demo@" + kDigest);
  CHECK(running.image_id == kImageId);
  CHECK(running.labels == Labels{{"app", "web"}, {"rollgate.deployment", "42"}});
  CHECK(running.state == "running");
  CHECK(running.status == "Up 4 seconds (unhealthy)");
}

TEST_CASE("decode_container_list picks the primary name and checks shapes", "[json]") {
  auto list = decode_container_list(
      R"([{"Id":"a","Names":["/other/db","/db"],"State":"running","Labels":null}])");
  REQUIRE(list.is_ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "db");

  auto empty = decode_container_list("[]");
  REQUIRE(empty.is_ok());
  CHECK(empty->empty());

  CHECK(decode_container_list("{}").status().code() == Code::kInternal);
  CHECK(decode_container_list("[1]").status().code() == Code::kInternal);
  auto no_state = decode_container_list(R"([{"Id":"a","Names":["/x"]}])");
  REQUIRE_FALSE(no_state.is_ok());
  CHECK_THAT(no_state.status().message(), Catch::Contains("missing [0].State"));
}

TEST_CASE("decode_version reads the engine version", "[json]") {
  auto v = decode_version(testdata::kVersion);
  REQUIRE(v.is_ok());
  CHECK(v->version == "20.10.24+dfsg1");
  CHECK(v->api_version == "1.41");
  CHECK(v->min_api_version == "1.12");
  CHECK(v->os == "linux");
  CHECK(v->arch == "amd64");
  CHECK_FALSE(v->kernel_version.empty());
  CHECK(decode_version(R"({"Version":"20.10.24"})").status().message() ==
        "unexpected response: missing ApiVersion");
}

TEST_CASE("decode_image reads id, tags and digests", "[json]") {
  auto img = decode_image(testdata::kImage);
  REQUIRE(img.is_ok());
  CHECK(img->id == kImageId);
  CHECK(img->repo_tags == std::vector<std::string>{"127.0.0.1:5055/demo:v1"});
  CHECK(img->repo_digests == std::vector<std::string>{"127.0.0.1:5055/demo@" + kDigest});
  auto local = decode_image(R"({"Id":"sha256:1","RepoTags":null,"RepoDigests":[]})");
  REQUIRE(local.is_ok());
  CHECK(local->repo_tags.empty());
  CHECK(local->repo_digests.empty());
}

TEST_CASE("decode_distribution reads the descriptor", "[json]") {
  auto d = decode_distribution(
      R"({"Descriptor":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad","size":736},"Platforms":[{"architecture":"amd64","os":"linux"}]})");
  REQUIRE(d.is_ok());
  CHECK(d->digest == kDigest);
  CHECK(d->media_type == "application/vnd.docker.distribution.manifest.v2+json");
  CHECK(d->size == 736);
  CHECK(decode_distribution(R"({"Descriptor":{}})").status().message() ==
        "unexpected response: missing Descriptor.digest");
  CHECK(decode_distribution(R"({"Platforms":[]})").status().message() ==
        "unexpected response: missing Descriptor");
}

TEST_CASE("decode_create_response returns the id", "[json]") {
  auto id = decode_create_response(R"({"Id":"e90e34656806","Warnings":[]})");
  REQUIRE(id.is_ok());
  CHECK(*id == "e90e34656806");
  CHECK(decode_create_response(R"({"Warnings":null})").status().code() == Code::kInternal);
  CHECK(decode_create_response(R"({"Id":""})").status().code() == Code::kInternal);
}

TEST_CASE("encode_create_body maps a full spec", "[json]") {
  ContainerSpec spec;
  spec.name = "web-1";
  spec.image = "10.231.7.1:5000/demo@" + kDigest;
  spec.env = {"A=1", "B=two"};
  spec.cmd = {"/bin/httpd", "-f", "-p", "8080"};
  spec.labels = {{"rollgate.app", "web"}, {"rollgate.deployment", "42"}};
  spec.ports = {PortBinding{18080, 8080, "tcp", ""}, PortBinding{0, 53, "udp", "127.0.0.1"}};
  spec.restart_policy = "on-failure";
  spec.restart_max_retries = 3;
  spec.stop_timeout_s = 20;

  const json body = json::parse(encode_create_body(spec));
  const json expected = json::parse(R"({
    "Image": "10.231.7.1:5000/demo@sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad",
    "Env": ["A=1", "B=two"],
    "Cmd": ["/bin/httpd", "-f", "-p", "8080"],
    "Labels": {"rollgate.app": "web", "rollgate.deployment": "42"},
    "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
    "HostConfig": {
      "PortBindings": {
        "8080/tcp": [{"HostIp": "", "HostPort": "18080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
      },
      "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}
    },
    "StopTimeout": 20
  })");
  CHECK(body == expected);
}

TEST_CASE("encode_create_body omits what the spec leaves unset", "[json]") {
  ContainerSpec spec;
  spec.image = "demo@sha256:1";
  const json body = json::parse(encode_create_body(spec));
  CHECK(body == json::parse(R"({"Image":"demo@sha256:1","Env":[],"Labels":{}})"));

  spec.restart_policy = "unless-stopped";
  spec.restart_max_retries = 5;  // meaningless without on-failure; the engine would refuse it
  const json with_policy = json::parse(encode_create_body(spec));
  CHECK(with_policy["HostConfig"] == json::parse(R"({"RestartPolicy":{"Name":"unless-stopped"}})"));
}

TEST_CASE("engine_error_message extracts the engine's message", "[json]") {
  CHECK(engine_error_message(R"({"message":"No such container: nope"})", "Not Found") ==
        "No such container: nope");
  CHECK(engine_error_message("", "Not Found") == "Not Found");
  CHECK(engine_error_message("  page not found\n", "Not Found") == "page not found");
  CHECK(engine_error_message(R"({"message":""})", "Conflict") == R"({"message":""})");
  const std::string long_body(1000, 'x');
  CHECK(engine_error_message(long_body, "x").size() == 303);
}
