// HttpEngine over mutual TLS against an in-process TLS engine on 127.0.0.1 (port 0).
//
// TlsDockerd is a real TLS server (Asio ssl::stream, client certificates required and verified
// against the test CA) that answers every request with a small JSON reply and records the
// client certificate's common name. Certificates come from tls_testdata.h and are written to a
// temporary directory, since the engine takes file paths as the manifest does.
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/docker/http_engine.h"
#include "tests/orchestrator/docker/tls_testdata.h"
#include "tests/support/run_task.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using orch::Code;
using orch::Result;
using orch::Status;
using orch::Task;
using orch::testing::run_task;
using namespace orch::docker;

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// A directory of PEM files, removed at the end of the test.
struct CertDir : orch::testing::TempDir {
  CertDir() : TempDir("rg-tls-test-", "/tmp") {
    write("ca.pem", tls_testdata::kCa);
    write("wrong-ca.pem", tls_testdata::kWrongCa);
    write("cert.pem", tls_testdata::kClientCert);
    write("key.pem", tls_testdata::kClientKey);
    write("rogue-cert.pem", tls_testdata::kRogueCert);
    write("rogue-key.pem", tls_testdata::kRogueKey);
  }
  TlsFiles good() const { return TlsFiles{file("ca.pem"), file("cert.pem"), file("key.pem")}; }
};

class TlsDockerd {
 public:
  // `server_cert`/`server_key`: which certificate the engine presents.
  TlsDockerd(net::io_context& io, const char* server_cert, const char* server_key)
      : io_(io),
        ctx_(ssl::context::tls_server),
        acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}) {
    ctx_.use_certificate_chain(net::buffer(std::string_view(server_cert)));
    ctx_.use_private_key(net::buffer(std::string_view(server_key)), ssl::context::pem);
    ctx_.add_certificate_authority(net::buffer(std::string_view(tls_testdata::kCa)));
    // Like dockerd --tlsverify: a client certificate signed by the CA is required.
    ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // OpenSSL resumes sessions of a server that verifies clients only within a named context.
    static const unsigned char kContext[] = "rollgate-test";
    SSL_CTX_set_session_id_context(ctx_.native_handle(), kContext, sizeof(kContext) - 1);
    net::co_spawn(io_, accept_loop(), net::detached);
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // true: answer without "Connection: close" and wait for the next request, as dockerd does.
  bool keep_alive = false;

  std::vector<std::string> targets;     // requests that got through
  std::vector<std::string> client_cns;  // the client certificate's CN, per request
  int handshakes_failed = 0;
  int handshakes = 0;
  int resumed = 0;  // handshakes that resumed an earlier session

 private:
  Task<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec) {
        co_return;
      }
      net::co_spawn(io_, serve(std::move(socket)), net::detached);
    }
  }

  Task<void> serve(net::ip::tcp::socket socket) {
    ssl::stream<net::ip::tcp::socket> stream(std::move(socket), ctx_);
    if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple); ec) {
      ++handshakes_failed;
      co_return;
    }
    ++handshakes;
    resumed += SSL_session_reused(stream.native_handle()) == 1 ? 1 : 0;
    beast::flat_buffer buffer;
    for (int served = 0;; ++served) {
      http::request<http::string_body> req;
      if (auto [ec, n] = co_await http::async_read(stream, buffer, req, kUseTuple); ec) {
        if (served == 0) {
          ++handshakes_failed;  // with TLS 1.3 a refused client certificate surfaces here
        }
        co_return;
      }
      if (!co_await answer(stream, req)) {
        co_return;
      }
    }
  }

  // Answers one request; true when the connection stays open for the next.
  Task<bool> answer(ssl::stream<net::ip::tcp::socket>& stream,
                    const http::request<http::string_body>& req) {
    targets.push_back(std::string(req.target()));
    std::string cn;
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle()); peer != nullptr) {
      char buf[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
      cn = buf;
      X509_free(peer);
    }
    client_cns.push_back(cn);
    std::string body = R"({"Version":"20.10.24","ApiVersion":"1.41"})";
    if (req.target().find("/containers/json") != std::string_view::npos) {
      body = R"([{"Id":"abc","Names":["/web"],"Image":"demo:v1","ImageID":"sha256:1",)"
             R"("Labels":{},"State":"running","Status":"Up"}])";
    } else if (req.target() == "/_ping") {
      body = "OK";
    }
    const std::string reply =
        "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
    co_await net::async_write(stream, net::buffer(reply), kUseTuple);
    if (keep_alive) {
      co_return true;
    }
    co_await stream.async_shutdown(kUseTuple);
    co_return false;
  }

  net::io_context& io_;
  ssl::context ctx_;
  net::ip::tcp::acceptor acceptor_;
};

Endpoint tls_endpoint(uint16_t port, TlsFiles files, const std::string& host = "127.0.0.1") {
  auto ep = parse_endpoint("tcp://" + host + ":" + std::to_string(port));
  REQUIRE(ep.is_ok());
  ep->tls = std::move(files);
  return *ep;
}

}  // namespace

TEST_CASE("ping, version and list over mutual TLS", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  auto engine =
      make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), certs.good()));

  auto ping = run_task(io, engine->ping());
  INFO(ping.status().to_string());
  REQUIRE(ping.is_ok());
  CHECK(ping->api_version == "1.41");
  auto version = run_task(io, engine->version());
  REQUIRE(version.is_ok());
  CHECK(version->version == "20.10.24");
  auto list = run_task(io, engine->list_containers({"rollgate.app=web"}));
  REQUIRE(list.is_ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "web");

  REQUIRE(server.targets.size() == 3);
  CHECK(server.targets[0] == "/_ping");
  CHECK(server.targets[1] == "/v1.41/version");
  CHECK(server.client_cns == std::vector<std::string>(3, "rollgate-test-client"));
}

namespace {

void three_versions(net::io_context& io, Engine& engine) {
  for (int i = 0; i < 3; ++i) {
    auto version = run_task(io, engine.version());
    INFO(version.status().to_string());
    REQUIRE(version.is_ok());
  }
}

}  // namespace

TEST_CASE("a new TLS connection resumes the engine's last session", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  auto engine =
      make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), certs.good()));
  // The server closes after each answer, so each call needs a new connection and handshake.
  three_versions(io, *engine);
  CHECK(server.handshakes == 3);
  CHECK(server.resumed == 2);
  const ConnectionStats st = connection_stats(*engine).value();
  CHECK(st.opened == 3);
  CHECK(st.tls_resumed == 2);
  // A resumed session still carries the client certificate the engine verified.
  CHECK(server.client_cns == std::vector<std::string>(3, "rollgate-test-client"));
}

TEST_CASE("TLS connections are kept alive between calls", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  server.keep_alive = true;
  auto engine =
      make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), certs.good()));
  three_versions(io, *engine);
  CHECK(server.handshakes == 1);
  CHECK(server.targets.size() == 3);
  const ConnectionStats st = connection_stats(*engine).value();
  CHECK(st.opened == 1);
  CHECK(st.reused == 2);
}

TEST_CASE("a DNS name in the certificate is verified too (SNI + name check)", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  auto engine = make_http_engine(io, test_clock, "h-tls",
                                 tls_endpoint(server.port(), certs.good(), "localhost"));
  auto ping = run_task(io, engine->ping());
  INFO(ping.status().to_string());
  CHECK(ping.is_ok());
}

TEST_CASE("an engine certificate from another CA fails the handshake: check tls.ca", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  TlsFiles files = certs.good();
  files.ca = certs.file("wrong-ca.pem");
  auto engine = make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), files));
  auto ping = run_task(io, engine->ping());
  REQUIRE_FALSE(ping.is_ok());
  CHECK(ping.status().code() == Code::kUnavailable);
  const std::string m = ping.status().message();
  CHECK_THAT(m, Catch::StartsWith("h-tls: TLS handshake with tcp://127.0.0.1:" +
                                  std::to_string(server.port()) + " failed: "));
  CHECK_THAT(m, Catch::Contains("certificate verify failed"));
  CHECK_THAT(m, Catch::Contains("check tls.ca"));
  CHECK(server.targets.empty());
}

TEST_CASE("an engine certificate for another name fails: the name is checked", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kOtherCert, tls_testdata::kOtherKey);
  auto engine =
      make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), certs.good()));
  auto ping = run_task(io, engine->ping());
  REQUIRE_FALSE(ping.is_ok());
  CHECK_THAT(ping.status().message(), Catch::Contains("IP address mismatch"));
  CHECK_THAT(ping.status().message(), Catch::Contains("does not name 127.0.0.1"));
  CHECK(server.targets.empty());
}

TEST_CASE("a client certificate the engine does not trust is refused, naming tls.cert", "[tls]") {
  CertDir certs;
  net::io_context io;
  TlsDockerd server(io, tls_testdata::kServerCert, tls_testdata::kServerKey);
  TlsFiles files = certs.good();
  files.cert = certs.file("rogue-cert.pem");
  files.key = certs.file("rogue-key.pem");
  auto engine = make_http_engine(io, test_clock, "h-tls", tls_endpoint(server.port(), files));
  auto ping = run_task(io, engine->ping());
  REQUIRE_FALSE(ping.is_ok());
  CHECK(ping.status().code() == Code::kUnavailable);
  CHECK_THAT(ping.status().message(), Catch::StartsWith("h-tls: "));
  CHECK_THAT(ping.status().message(),
             Catch::Contains("rollgate's client certificate") && Catch::Contains("check tls.cert"));
  CHECK(server.targets.empty());
  CHECK(server.handshakes_failed == 1);
}

TEST_CASE("missing or mismatched TLS files are invalid arguments naming the field", "[tls]") {
  CertDir certs;
  net::io_context io;
  struct Case {
    TlsFiles files;
    std::string field;
    std::string why;
  };
  TlsFiles no_cert = certs.good();
  no_cert.cert = certs.file("absent.pem");
  TlsFiles no_ca = certs.good();
  no_ca.ca = certs.file("absent-ca.pem");
  TlsFiles wrong_key = certs.good();
  wrong_key.key = certs.file("rogue-key.pem");
  TlsFiles not_pem = certs.good();
  certs.write("garbage.pem", "not a certificate\n");
  not_pem.ca = certs.file("garbage.pem");
  const std::vector<Case> cases = {
      {no_cert, "tls.cert", "No such file or directory"},
      {no_ca, "tls.ca", "No such file or directory"},
      {wrong_key, "tls.key", "matching tls.cert"},
      {not_pem, "tls.ca", "not a PEM CA certificate"},
  };
  for (const Case& c : cases) {
    auto engine = make_http_engine(io, test_clock, "h-tls", tls_endpoint(1, c.files));
    auto ping = run_task(io, engine->ping());
    INFO(c.field);
    REQUIRE_FALSE(ping.is_ok());
    CHECK(ping.status().code() == Code::kInvalidArgument);
    CHECK_THAT(ping.status().message(), Catch::StartsWith("h-tls: TLS: cannot use " + c.field));
    CHECK_THAT(ping.status().message(), Catch::Contains(c.why));
    // Files are loaded once: the same error comes back without re-reading.
    auto again = run_task(io, engine->ping());
    CHECK(again.status().message() == ping.status().message());
  }
}

TEST_CASE("resolve_tls_files: explicit files, cert_path, DOCKER_CERT_PATH, ~/.docker", "[tls]") {
  TlsFiles explicit_files = resolve_tls_files("a/ca", "b/cert", "c/key", "");
  CHECK(explicit_files.ca == "a/ca");
  CHECK(explicit_files.cert == "b/cert");
  CHECK(explicit_files.key == "c/key");

  TlsFiles dir = resolve_tls_files("", "", "", "/etc/certs/");
  CHECK(dir.ca == "/etc/certs/ca.pem");
  CHECK(dir.cert == "/etc/certs/cert.pem");
  CHECK(dir.key == "/etc/certs/key.pem");

  orch::testing::ScopedEnv cert_path("DOCKER_CERT_PATH", "/env/certs");
  CHECK(resolve_tls_files("", "", "", "").key == "/env/certs/key.pem");
  cert_path.set(nullptr);
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    CHECK(resolve_tls_files("", "", "", "").ca == std::string(home) + "/.docker/ca.pem");
  }
}
