// fake_engine_server: many fake Docker engines in one process, for bench/run's scale runs.
//
// Host i (0-based) is the loopback address 127.0.(i/254).(i%254+1): 127.0.0.1, 127.0.0.2, ...,
// 127.0.0.254, 127.0.1.1, ... On that address it serves
//   --port (default 23750): just enough of the Engine API v1.41 for `rollgate apply`, with a
//                           stateful container and image table per host;
//   --app-port (default 28080): the "app": any GET answers 200 when a container of this host is
//                           running (503 otherwise; 200 always with --app-ok).
// Every engine call waits (asio timer, never blocking) for its configured latency before
// answering: --pull-ms, --create-ms, --start-ms, --stop-ms (default --other-ms), --other-ms.
// --die-image SUBSTR --die-after-ms X [--die-jitter-ms J] [--die-mode exit|http]: a container
// whose image reference contains SUBSTR (or whose digest came from such a reference) fails
// X (+ uniform [0, J)) ms after it starts: with mode "exit" (default) it reports "exited" and its
// host's app answers 503; with "http" it keeps running and only the app answers 503. The server
// prints "dies_at <unix ms> <address> <container name>" on stdout at the start.
// One io_context, one thread. Prints "ready" on stdout when every acceptor listens.
// Not part of rollgate: a benchmark fixture (no TLS, no exec, no auth).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::awaitable;
using net::use_awaitable;
using nlohmann::json;
using tcp = net::ip::tcp;

namespace {

struct Options {
  int hosts = 1;
  uint16_t port = 23750;
  uint16_t app_port = 28080;
  int pull_ms = 200;
  int create_ms = 20;
  int start_ms = 50;
  int stop_ms = -1;  // -1: other_ms
  int other_ms = 0;
  bool app_ok = false;
  std::string die_image;
  int die_after_ms = 0;
  int die_jitter_ms = 0;  // adds a uniform [0, jitter) ms to die_after_ms, per container
  bool die_http = false;  // --die-mode http: only /health fails, the container keeps running
};

using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string fake_hex(const std::string& seed, int len) {
  std::string out;
  size_t h = std::hash<std::string>{}(seed);
  static constexpr char kHex[] = "0123456789abcdef";
  while (static_cast<int>(out.size()) < len) {
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    out += kHex[(h >> 59) & 0xf];
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view kv = q.substr(0, amp);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) {
      out[percent_decode(kv)] = "";
    } else {
      out[percent_decode(kv.substr(0, eq))] = percent_decode(kv.substr(eq + 1));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    q.remove_prefix(amp + 1);
  }
  return out;
}

// Digests of references that contain --die-image start with this, so that a container created
// from "repo@sha256:dead..." (rollgate pins the digest) is known to die.
constexpr std::string_view kDyingDigest = "sha256:dead";

struct Image {
  std::string id;
  std::vector<std::string> refs;  // "repo@sha256:..." and "repo:tag"
};

struct Container {
  std::string id;
  std::string name;
  std::string image;     // as given at create
  std::string image_id;  // resolved
  json labels = json::object();
  bool running = false;
  bool ever_started = false;
  int exit_code = 0;
  std::optional<Clock::time_point> dies_at;
  std::string started_at = "0001-01-01T00:00:00Z";
  std::string finished_at = "0001-01-01T00:00:00Z";
};

// One fake host: its images and containers.
class Host {
 public:
  explicit Host(std::string address, const Options& opt)
      : address_(std::move(address)), opt_(opt) {}

  const std::string& address() const { return address_; }

  std::string digest_of(const std::string& ref) const {
    std::string hex = fake_hex(ref, 64);
    if (!opt_.die_image.empty() && ref.find(opt_.die_image) != std::string::npos) {
      return std::string(kDyingDigest) + hex.substr(4);
    }
    if (hex.rfind("dead", 0) == 0) {
      hex[0] = '0';
    }
    return "sha256:" + hex;
  }

  void settle(Container& c) const {
    if (c.running && c.dies_at && Clock::now() >= *c.dies_at && !opt_.die_http) {
      c.running = false;
      c.exit_code = 1;
      c.finished_at = "2024-01-01T00:00:01Z";
    }
  }

  bool any_running() {
    for (auto& [id, c] : containers_) {
      settle(c);
      if (c.running && !(c.dies_at && Clock::now() >= *c.dies_at)) {
        return true;
      }
    }
    return false;
  }

  Container* find_container(const std::string& key) {
    if (auto it = containers_.find(key); it != containers_.end()) {
      return &it->second;
    }
    Container* prefix = nullptr;
    int matches = 0;
    for (auto& [id, c] : containers_) {
      if (c.name == key) {
        return &c;
      }
      if (id.rfind(key, 0) == 0) {
        prefix = &c;
        ++matches;
      }
    }
    return matches == 1 ? prefix : nullptr;
  }

  Image* find_image(const std::string& key) {
    for (auto& img : images_) {
      if (img.id == key || img.id == "sha256:" + key) {
        return &img;
      }
      for (const auto& r : img.refs) {
        if (r == key) {
          return &img;
        }
      }
    }
    return nullptr;
  }

  // Returns {status, body}. `delay_ms` is set to the call's latency.
  std::pair<http::status, std::string> handle(http::verb verb, std::string_view target,
                                              const std::string& body, int& delay_ms,
                                              bool& stream) {
    delay_ms = opt_.other_ms;
    std::string_view path = target;
    std::string_view query;
    if (const size_t q = target.find('?'); q != std::string_view::npos) {
      path = target.substr(0, q);
      query = target.substr(q + 1);
    }
    const auto params = parse_query(query);
    if (path.rfind("/v1.", 0) == 0) {
      const size_t slash = path.find('/', 1);
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
    const std::string p(path);
    auto starts = [&](std::string_view prefix) { return p.rfind(prefix, 0) == 0; };
    auto ends = [&](std::string_view suffix) {
      return p.size() >= suffix.size() &&
             p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    auto error = [](http::status s, const std::string& msg) {
      return std::pair{s, json{{"message", msg}}.dump()};
    };

    if (p == "/_ping") {
      return {http::status::ok, "OK"};
    }
    if (p == "/version") {
      return {http::status::ok, json{{"Version", "20.10.24-fake"},
                                     {"ApiVersion", "1.41"},
                                     {"MinAPIVersion", "1.12"},
                                     {"Os", "linux"},
                                     {"Arch", "amd64"},
                                     {"KernelVersion", "fake"}}
                                    .dump()};
    }
    if (starts("/distribution/") && ends("/json")) {
      const std::string ref = percent_decode(p.substr(14, p.size() - 14 - 5));
      return {http::status::ok,
              json{{"Descriptor",
                    {{"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                     {"digest", digest_of(ref)},
                     {"size", 528}}}}
                  .dump()};
    }
    if (verb == http::verb::post && p == "/images/create") {
      delay_ms = opt_.pull_ms;
      const std::string repo = params.count("fromImage") ? params.at("fromImage") : "";
      const std::string tag = params.count("tag") ? params.at("tag") : "latest";
      const bool by_digest = tag.rfind("sha256:", 0) == 0;
      const std::string ref = repo + (by_digest ? "@" : ":") + tag;
      if (find_image(ref) == nullptr) {
        images_.push_back(Image{"sha256:" + fake_hex("image " + ref, 64), {ref}});
      }
      stream = true;
      std::string out = json{{"status", "Pulling from " + repo}, {"id", tag}}.dump() + "\r\n";
      out += json{{"status", "Digest: " + tag}}.dump() + "\r\n";
      out += json{{"status", "Status: Downloaded newer image for " + ref}}.dump() + "\r\n";
      return {http::status::ok, out};
    }
    if (verb == http::verb::get && starts("/images/") && ends("/json")) {
      const std::string name = percent_decode(p.substr(8, p.size() - 8 - 5));
      const Image* img = find_image(name);
      if (img == nullptr) {
        return error(http::status::not_found, "No such image: " + name);
      }
      json digests = json::array();
      for (const auto& r : img->refs) {
        if (r.find('@') != std::string::npos) {
          digests.push_back(r);
        }
      }
      return {http::status::ok,
              json{{"Id", img->id}, {"RepoTags", json::array()}, {"RepoDigests", digests}}.dump()};
    }
    if (verb == http::verb::get && p == "/containers/json") {
      std::vector<std::string> wanted;
      if (auto it = params.find("filters"); it != params.end()) {
        json f = json::parse(it->second, nullptr, false);
        if (f.is_object() && f.contains("label")) {
          const json& l = f["label"];
          if (l.is_array()) {
            for (const auto& s : l) {
              wanted.push_back(s.get<std::string>());
            }
          } else if (l.is_object()) {
            for (const auto& [k, v] : l.items()) {
              wanted.push_back(k);
            }
          }
        }
      }
      json out = json::array();
      for (auto& [id, c] : containers_) {
        settle(c);
        bool match = true;
        for (const auto& w : wanted) {
          const size_t eq = w.find('=');
          const std::string k = w.substr(0, eq);
          if (!c.labels.contains(k) ||
              (eq != std::string::npos && c.labels[k].get<std::string>() != w.substr(eq + 1))) {
            match = false;
          }
        }
        if (!match) {
          continue;
        }
        const std::string state = c.running ? "running" : (c.ever_started ? "exited" : "created");
        out.push_back({{"Id", c.id},
                       {"Names", {"/" + c.name}},
                       {"Image", c.image},
                       {"ImageID", c.image_id},
                       {"Labels", c.labels},
                       {"State", state},
                       {"Status", state}});
      }
      return {http::status::ok, out.dump()};
    }
    if (verb == http::verb::post && p == "/containers/create") {
      delay_ms = opt_.create_ms;
      const std::string name = params.count("name") ? params.at("name") : "";
      json spec = json::parse(body, nullptr, false);
      if (!spec.is_object() || !spec.contains("Image")) {
        return error(http::status::bad_request, "config without Image");
      }
      if (!name.empty() && find_container(name) != nullptr && find_container(name)->name == name) {
        return error(http::status::conflict,
                     "Conflict. The container name \"/" + name + "\" is already in use");
      }
      const std::string image = spec["Image"].get<std::string>();
      const Image* img = find_image(image);
      if (img == nullptr) {
        return error(http::status::not_found, "No such image: " + image);
      }
      Container c;
      c.id = fake_hex("container " + std::to_string(++counter_) + address_, 64);
      c.name = name.empty() ? "c" + std::to_string(counter_) : name;
      c.image = image;
      c.image_id = img->id;
      if (spec.contains("Labels") && spec["Labels"].is_object()) {
        c.labels = spec["Labels"];
      }
      const std::string id = c.id;
      containers_.emplace(id, std::move(c));
      return {http::status::created, json{{"Id", id}, {"Warnings", json::array()}}.dump()};
    }
    if (starts("/containers/")) {
      std::string rest = p.substr(12);
      std::string action;
      if (const size_t slash = rest.find('/'); slash != std::string::npos) {
        action = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
      }
      const std::string key = percent_decode(rest);
      Container* c = find_container(key);
      if (c == nullptr) {
        return error(http::status::not_found, "No such container: " + key);
      }
      settle(*c);
      if (verb == http::verb::get && action == "json") {
        const std::string status =
            c->running ? "running" : (c->ever_started ? "exited" : "created");
        return {http::status::ok, json{{"Id", c->id},
                                       {"Name", "/" + c->name},
                                       {"Image", c->image_id},
                                       {"RestartCount", 0},
                                       {"Config", {{"Image", c->image}, {"Labels", c->labels}}},
                                       {"State",
                                        {{"Status", status},
                                         {"Running", c->running},
                                         {"Paused", false},
                                         {"Restarting", false},
                                         {"OOMKilled", false},
                                         {"Dead", false},
                                         {"Pid", c->running ? 4242 : 0},
                                         {"ExitCode", c->exit_code},
                                         {"Error", ""},
                                         {"StartedAt", c->started_at},
                                         {"FinishedAt", c->finished_at}}}}
                                      .dump()};
      }
      if (verb == http::verb::post && action == "start") {
        delay_ms = opt_.start_ms;
        if (c->running) {
          return {http::status::not_modified, ""};
        }
        c->running = true;
        c->ever_started = true;
        c->exit_code = 0;
        c->started_at = "2024-01-01T00:00:00Z";
        c->dies_at.reset();
        if (!opt_.die_image.empty() && (c->image.find(opt_.die_image) != std::string::npos ||
                                        c->image.find(kDyingDigest) != std::string::npos)) {
          // The latency is applied before the answer; the container "starts" when answered.
          int after = delay_ms + opt_.die_after_ms;
          if (opt_.die_jitter_ms > 0) {
            after += std::uniform_int_distribution<int>(0, opt_.die_jitter_ms - 1)(rng_);
          }
          c->dies_at = Clock::now() + std::chrono::milliseconds(after);
          std::printf("dies_at %lld %s %s\n", static_cast<long long>(unix_ms() + after),
                      address_.c_str(), c->name.c_str());
          std::fflush(stdout);
        }
        return {http::status::no_content, ""};
      }
      if (verb == http::verb::post && action == "stop") {
        delay_ms = opt_.stop_ms < 0 ? opt_.other_ms : opt_.stop_ms;
        if (!c->running) {
          return {http::status::not_modified, ""};
        }
        c->running = false;
        c->exit_code = 0;
        c->finished_at = "2024-01-01T00:00:01Z";
        return {http::status::no_content, ""};
      }
      if (verb == http::verb::post && action == "rename") {
        const std::string new_name = params.count("name") ? params.at("name") : "";
        Container* other = find_container(new_name);
        if (new_name.empty() || (other != nullptr && other->name == new_name && other != c)) {
          return error(http::status::conflict, "name \"" + new_name + "\" is already in use");
        }
        c->name = new_name;
        return {http::status::no_content, ""};
      }
      if (verb == http::verb::delete_ && action.empty()) {
        const bool force =
            params.count("force") && params.at("force") != "0" && params.at("force") != "false";
        if (c->running && !force) {
          return error(http::status::conflict,
                       "You cannot remove a running container " + c->id + ". Stop it first");
        }
        containers_.erase(c->id);
        return {http::status::no_content, ""};
      }
    }
    return error(http::status::not_found, "fake engine: no route for " + std::string(target));
  }

 private:
  std::string address_;
  const Options& opt_;
  std::vector<Image> images_;
  std::map<std::string, Container> containers_;
  int counter_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

awaitable<void> serve_engine(tcp::socket socket, Host& host) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(socket, buffer, req, net::redirect_error(use_awaitable, ec));
    if (ec) {
      co_return;
    }
    int delay_ms = 0;
    bool stream = false;
    auto [status, body] = host.handle(req.method(), req.target(), req.body(), delay_ms, stream);
    if (delay_ms > 0) {
      net::steady_timer timer(socket.get_executor(), std::chrono::milliseconds(delay_ms));
      co_await timer.async_wait(net::redirect_error(use_awaitable, ec));
    }
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "Docker/20.10.24-fake (linux)");
    res.set("API-Version", "1.41");
    res.set("Ostype", "linux");
    res.set(http::field::content_type, req.target() == "/_ping" || req.target().ends_with("/_ping")
                                           ? "text/plain"
                                           : "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    if (status != http::status::no_content && status != http::status::not_modified) {
      res.prepare_payload();
    }
    co_await http::async_write(socket, res, net::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) {
      break;
    }
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> serve_app(tcp::socket socket, Host& host, bool always_ok) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(socket, buffer, req, net::redirect_error(use_awaitable, ec));
    if (ec) {
      co_return;
    }
    const bool ok = always_ok || host.any_running();
    http::response<http::string_body> res{ok ? http::status::ok : http::status::service_unavailable,
                                          req.version()};
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(req.keep_alive());
    res.body() = ok ? "ok\n" : "no running container\n";
    res.prepare_payload();
    co_await http::async_write(socket, res, net::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) {
      break;
    }
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> accept_loop(tcp::acceptor acceptor, Host& host, bool app, bool always_ok) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == net::error::operation_aborted) {
        co_return;
      }
      // EMFILE and friends: back off instead of spinning.
      std::fprintf(stderr, "accept on %s: %s\n", host.address().c_str(), ec.message().c_str());
      net::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await t.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (app) {
      net::co_spawn(acceptor.get_executor(), serve_app(std::move(socket), host, always_ok),
                    net::detached);
    } else {
      net::co_spawn(acceptor.get_executor(), serve_engine(std::move(socket), host), net::detached);
    }
  }
}

std::string host_address(int i) {
  return "127.0." + std::to_string(i / 254) + "." + std::to_string(i % 254 + 1);
}

int usage() {
  std::fprintf(stderr,
               "usage: fake_engine_server [--hosts N] [--port P] [--app-port P] [--pull-ms MS]\n"
               "  [--create-ms MS] [--start-ms MS] [--stop-ms MS] [--other-ms MS] [--app-ok]\n"
               "  [--die-image SUBSTR --die-after-ms MS [--die-jitter-ms MS]\n"
               "  [--die-mode exit|http]]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::exit(usage());
      }
      return argv[++i];
    };
    if (a == "--hosts") {
      opt.hosts = std::atoi(next());
    } else if (a == "--port") {
      opt.port = static_cast<uint16_t>(std::atoi(next()));
    } else if (a == "--app-port") {
      opt.app_port = static_cast<uint16_t>(std::atoi(next()));
    } else if (a == "--pull-ms") {
      opt.pull_ms = std::atoi(next());
    } else if (a == "--create-ms") {
      opt.create_ms = std::atoi(next());
    } else if (a == "--start-ms") {
      opt.start_ms = std::atoi(next());
    } else if (a == "--stop-ms") {
      opt.stop_ms = std::atoi(next());
    } else if (a == "--other-ms") {
      opt.other_ms = std::atoi(next());
    } else if (a == "--app-ok") {
      opt.app_ok = true;
    } else if (a == "--die-image") {
      opt.die_image = next();
    } else if (a == "--die-after-ms") {
      opt.die_after_ms = std::atoi(next());
    } else if (a == "--die-jitter-ms") {
      opt.die_jitter_ms = std::atoi(next());
    } else if (a == "--die-mode") {
      const std::string mode = next();
      if (mode != "exit" && mode != "http") {
        return usage();
      }
      opt.die_http = mode == "http";
    } else {
      return usage();
    }
  }
  if (opt.hosts < 1 || opt.hosts > 254 * 256) {
    return usage();
  }
  net::io_context io{1};
  std::vector<std::unique_ptr<Host>> hosts;
  try {
    for (int i = 0; i < opt.hosts; ++i) {
      hosts.push_back(std::make_unique<Host>(host_address(i), opt));
      const auto addr = net::ip::make_address(hosts.back()->address());
      for (const bool app : {false, true}) {
        tcp::acceptor acc(io, tcp::endpoint(addr, app ? opt.app_port : opt.port),
                          /*reuse_addr=*/true);
        acc.listen(1024);
        net::co_spawn(io, accept_loop(std::move(acc), *hosts.back(), app, opt.app_ok),
                      net::detached);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake_engine_server: listen: %s\n", e.what());
    return 1;
  }
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) { io.stop(); });
  std::printf("ready %d hosts on %s..%s ports %u (engine) %u (app)\n", opt.hosts,
              host_address(0).c_str(), host_address(opt.hosts - 1).c_str(), opt.port, opt.app_port);
  std::fflush(stdout);
  io.run();
  return 0;
}
