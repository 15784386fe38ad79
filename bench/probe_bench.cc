// probe_bench: rollgate's HTTP prober (health::make_http_probe) in a loop, for bench/run.
//
// Runs C coroutines on one io_context (one thread, as rollgate does), each probing
// http://ADDRESS:PORT/PATH back to back for T seconds, and prints one JSON line:
// {"concurrency":C,"seconds":T,"requests":N,"passes":P,"rps":N/T,"first_failure":"..."}.
// --keep-alive turns on health.http.keep_alive; worker i then probes 127.0.0.(i+1) (run the
// fake server with --hosts C).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "healthcheck/probe.h"

namespace net = boost::asio;

namespace {

struct Totals {
  long requests = 0;
  long passes = 0;
  std::string first_failure;
};

net::awaitable<void> worker(health::Probe& probe, health::Target target,
                            std::chrono::steady_clock::time_point until, Totals& totals) {
  while (std::chrono::steady_clock::now() < until) {
    const health::ProbeResult r = co_await probe.run(target);
    ++totals.requests;
    if (r.outcome == health::ProbeResult::Outcome::kPass) {
      ++totals.passes;
    } else if (totals.first_failure.empty()) {
      totals.first_failure = r.detail;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  int port = 28080;
  std::string path = "/health";
  int concurrency = 16;
  double seconds = 5;
  bool keep_alive = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--keep-alive") {
      keep_alive = true;
      --i;  // a flag: no value
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "probe_bench: %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[i + 1];
    if (a == "--address") {
      address = v;
    } else if (a == "--port") {
      port = std::atoi(v);
    } else if (a == "--path") {
      path = v;
    } else if (a == "--concurrency") {
      concurrency = std::atoi(v);
    } else if (a == "--seconds") {
      seconds = std::atof(v);
    } else {
      std::fprintf(stderr,
                   "usage: probe_bench [--address A] [--port P] [--path /p] [--concurrency C] "
                   "[--seconds T] [--keep-alive]\n");
      return 2;
    }
  }
  health::HttpProbeConfig config;
  config.port = static_cast<uint16_t>(port);
  config.path = path;
  config.timeout = health::Millis(2000);
  config.keep_alive = keep_alive;
  auto probe = health::make_http_probe(config);

  net::io_context io{1};
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(seconds));
  for (int i = 0; i < concurrency; ++i) {
    // With keep-alive, each worker probes its own host, as a rollout does (one probe per host
    // at a time): the fake server's host i answers on 127.0.0.(i+1). The probe keeps two
    // connections per host, so workers sharing one address would mostly open new ones.
    const std::string target = keep_alive ? "127.0.0." + std::to_string(i % 254 + 1) : address;
    net::co_spawn(io, worker(*probe, health::Target{"bench", target, ""}, until, totals),
                  net::detached);
  }
  io.run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"concurrency\":%d,\"seconds\":%.3f,\"requests\":%ld,\"passes\":%ld,\"rps\":%.1f,"
      "\"first_failure\":\"%s\"}\n",
      concurrency, elapsed, totals.requests, totals.passes, totals.requests / elapsed,
      totals.first_failure.c_str());
  return totals.passes == totals.requests ? 0 : 1;
}
