// The HTTP probe's https scheme, body_contains and max_latency, against real local servers
// (cpp-httplib, built with OpenSSL on Debian) bound to 127.0.0.1 port 0. The TLS certificate is
// a throwaway self-signed one made with the openssl tool into a temporary directory.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "healthcheck/probe.h"
#include "tests/support/run_task.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

namespace health {
namespace {

using Outcome = ProbeResult::Outcome;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// A temporary directory with cert.pem/key.pem: a self-signed P-256 certificate whose only
// subject alternative name is `san` (e.g. "DNS:localhost").
class TempCert {
 public:
  explicit TempCert(const std::string& san) : dir_("rg-cert-") {
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=rollgate-test -addext subjectAltName=" +
        san + " -keyout " + key() + " -out " + cert() + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  std::string cert() const { return dir_.file("cert.pem"); }
  std::string key() const { return dir_.file("key.pem"); }

 private:
  orch::testing::TempDir dir_;
};

// Routes shared by the plain and the TLS server.
void add_routes(httplib::Server& server) {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content("status: ok, db: connected", "text/plain");
  });
  server.Get("/degraded", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content("status: degraded\ndb: down", "text/plain");
  });
  server.Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(std::string(256 * 1024, 'x') + "marker", "text/plain");
  });
}

// Runs `server` (already bound) on its own thread until destroyed.
class Running {
 public:
  explicit Running(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {
    add_routes(*server_);
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) {
      std::this_thread::yield();
    }
  }
  ~Running() {
    server_->stop();
    thread_.join();
  }
  uint16_t port() const { return static_cast<uint16_t>(port_); }

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

std::unique_ptr<httplib::Server> tls_server(const TempCert& cert) {
  auto server = std::make_unique<httplib::SSLServer>(cert.cert().c_str(), cert.key().c_str());
  REQUIRE(server->is_valid());
  return server;
}

// Points OpenSSL's default verify paths (the "system CAs") at one file while alive, so a
// verifying probe trusts exactly the test certificate.
class TrustOnly {
 public:
  explicit TrustOnly(const std::string& ca_file) : env_("SSL_CERT_FILE", ca_file) {}

 private:
  orch::testing::ScopedEnv env_;
};

ProbeResult run(Probe& probe, const std::string& address = "127.0.0.1") {
  return orch::testing::run_task(probe.run(Target{"h1", address, ""}));
}

HttpProbeConfig https_config(uint16_t port, std::string path) {
  HttpProbeConfig c;
  c.scheme = "https";
  c.port = port;
  c.path = std::move(path);
  return c;
}

TEST_CASE("HTTPS probe: tls_skip_verify accepts a self-signed certificate", "[probe][https]") {
  TempCert cert("DNS:localhost");
  Running server(tls_server(cert));
  HttpProbeConfig c = https_config(server.port(), "/healthz");
  c.tls_skip_verify = true;
  auto probe = make_http_probe(c);
  ProbeResult r = run(*probe);
  INFO(r.detail);
  CHECK(r.probe == "https");
  CHECK(r.outcome == Outcome::kPass);
  CHECK_THAT(r.detail, StartsWith("HTTP 200 in "));
}

TEST_CASE("HTTPS probe: an untrusted certificate fails the handshake", "[probe][https]") {
  TempCert cert("DNS:localhost");
  Running server(tls_server(cert));
  auto probe = make_http_probe(https_config(server.port(), "/healthz"));
  ProbeResult r = run(*probe, "localhost");
  CHECK(r.outcome == Outcome::kFail);
  CHECK_THAT(r.detail,
             StartsWith("TLS handshake with localhost:" + std::to_string(server.port()) + ": "));
  CHECK_THAT(r.detail, Contains("certificate verify failed"));
}

TEST_CASE("HTTPS probe: a trusted certificate is checked against the host name", "[probe][https]") {
  TempCert cert("DNS:localhost");
  Running server(tls_server(cert));
  TrustOnly trust(cert.cert());
  auto probe = make_http_probe(https_config(server.port(), "/healthz"));

  ProbeResult by_name = run(*probe, "localhost");
  INFO(by_name.detail);
  CHECK(by_name.outcome == Outcome::kPass);

  // The certificate names localhost only, so the same server reached by IP is refused.
  ProbeResult by_ip = run(*probe, "127.0.0.1");
  CHECK(by_ip.outcome == Outcome::kFail);
  CHECK_THAT(by_ip.detail, StartsWith("TLS handshake with 127.0.0.1:"));
}

TEST_CASE("HTTPS probe: an IP address in the certificate verifies", "[probe][https]") {
  TempCert cert("IP:127.0.0.1");
  Running server(tls_server(cert));
  TrustOnly trust(cert.cert());
  HttpProbeConfig c = https_config(server.port(), "/healthz");
  c.body_contains = "db: connected";
  auto probe = make_http_probe(c);
  ProbeResult r = run(*probe, "127.0.0.1");
  INFO(r.detail);
  CHECK(r.outcome == Outcome::kPass);
}

TEST_CASE("HTTPS probe: plain HTTP on the port fails, it is not unobservable", "[probe][https]") {
  Running plain(std::make_unique<httplib::Server>());
  HttpProbeConfig c = https_config(plain.port(), "/healthz");
  c.tls_skip_verify = true;
  auto probe = make_http_probe(c);
  ProbeResult r = run(*probe);
  CHECK(r.outcome == Outcome::kFail);
  CHECK_THAT(r.detail, StartsWith("TLS handshake with 127.0.0.1:"));
}

TEST_CASE("HTTP probe: body_contains", "[probe][http]") {
  Running server(std::make_unique<httplib::Server>());
  HttpProbeConfig c;
  c.port = server.port();
  c.path = "/healthz";
  c.body_contains = "db: connected";
  auto ok = make_http_probe(c);
  ProbeResult r = run(*ok);
  INFO(r.detail);
  CHECK(r.outcome == Outcome::kPass);
  CHECK_THAT(r.detail, StartsWith("HTTP 200 in "));

  c.path = "/degraded";
  auto degraded = make_http_probe(c);
  ProbeResult d = run(*degraded);
  CHECK(d.outcome == Outcome::kFail);
  CHECK_THAT(d.detail, StartsWith("HTTP 200 in "));
  CHECK_THAT(d.detail, Contains(" but the body does not contain \"db: connected\""));

  // Only the first 64 KiB of a body are searched.
  c.path = "/big";
  c.body_contains = "marker";
  auto big = make_http_probe(c);
  ProbeResult b = run(*big);
  CHECK(b.outcome == Outcome::kFail);
  CHECK_THAT(b.detail, Contains("does not contain \"marker\""));
  c.body_contains = "xxxx";
  auto big_ok = make_http_probe(c);
  CHECK(run(*big_ok).outcome == Outcome::kPass);
}

TEST_CASE("HTTP probe: max_latency", "[probe][http]") {
  Running server(std::make_unique<httplib::Server>());
  HttpProbeConfig c;
  c.port = server.port();
  c.path = "/healthz";
  // Any real answer takes longer than zero.
  c.max_latency = Millis{0};
  auto strict = make_http_probe(c);
  ProbeResult r = run(*strict);
  CHECK(r.outcome == Outcome::kFail);
  CHECK_THAT(r.detail, StartsWith("HTTP 200 in "));
  CHECK_THAT(r.detail, Contains(" exceeds max_latency 0s"));

  c.max_latency = Millis{60000};
  auto lenient = make_http_probe(c);
  ProbeResult l = run(*lenient);
  INFO(l.detail);
  CHECK(l.outcome == Outcome::kPass);
}

}  // namespace
}  // namespace health
