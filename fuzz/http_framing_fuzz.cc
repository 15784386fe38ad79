// http_framing_fuzz: a raw HTTP response read the way docker::exchange (http_exchange.cc)
// reads one.
//
// http_exchange.cc parses responses inside a coroutine over a socket, so there is no pure
// function to call. This harness repeats exchange()'s read sequence with the same Beast calls,
// synchronously, over a stream that hands out the input in slices: a
// response_parser<string_body> with the same body limits (64 MiB for ordinary calls, none for a
// pull), read_header, then either read (ordinary calls) or read_some + PullStreamParser::feed
// per slice (a pull answered 200), and finally the project's decoding of the body: the
// json_codec decoder the call would use on 2xx, engine_error_message otherwise.
//
// Input layout: byte 0 selects the call (bit 0: pull or ordinary; bits 1-3: which decoder);
// byte 1 = the slice size the stream hands out (1-256); the rest is the raw response.
// Checks: nothing throws or crashes (Beast reports malformed framing as error codes, which
// exchange() turns into a Status); for a pull answered 200 whose body reads completely, the
// bytes fed to the PullStreamParser equal the body that a buffered read of the same response
// gives, and the streamed verdict equals the verdict on that whole body.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/optional.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "orchestrator/docker/json_codec.h"
#include "orchestrator/docker/pull_stream.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The limit exchange() sets for every reply that is not a streamed pull (http_exchange.cc).
constexpr uint64_t kMaxBody = 64ull << 20;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// A SyncReadStream over fixed bytes, at most `slice` bytes per read_some, then end of file,
// like a peer that writes the response in segments and closes.
class SliceStream {
 public:
  SliceStream(std::string_view data, size_t slice) : data_(data), slice_(slice) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
    if (pos_ == data_.size()) {
      ec = net::error::eof;
      return 0;
    }
    ec = {};
    const size_t want = std::min({slice_, data_.size() - pos_, net::buffer_size(buffers)});
    const size_t n = net::buffer_copy(buffers, net::buffer(data_.data() + pos_, want));
    pos_ += n;
    return n;
  }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) {
      throw beast::system_error(ec);  // never used: the harness calls the error_code overloads
    }
    return n;
  }

 private:
  std::string_view data_;
  size_t slice_;
  size_t pos_ = 0;
};

struct Reply {
  bool read_ok = false;  // the whole exchange read without a framing/IO error
  unsigned status = 0;
  std::string reason;
  std::string body;  // buffered body (ordinary calls)
};

// exchange() for an ordinary call: header, then the whole body under kMaxBody.
Reply read_buffered(std::string_view raw, size_t slice, bool unlimited) {
  SliceStream stream(raw, slice);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  if (unlimited) {
    parser.body_limit(boost::none);
  } else {
    parser.body_limit(kMaxBody);
  }
  Reply reply;
  beast::error_code ec;
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    return reply;
  }
  reply.status = parser.get().result_int();
  reply.reason = std::string(parser.get().reason());
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return reply;
  }
  reply.body = std::move(parser.get().body());
  reply.read_ok = true;
  return reply;
}

struct Streamed {
  bool header_ok = false;
  bool body_complete = false;  // the parser reached the end of the body without an error
  unsigned status = 0;
  std::string fed;  // every byte handed to the PullStreamParser, in order
  orch::Status verdict;
};

// exchange() for a pull: no body limit, and a 200 body goes to the PullStreamParser slice by
// slice, stopping at the first error it reports.
Streamed read_pull(std::string_view raw, size_t slice) {
  SliceStream stream(raw, slice);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  Streamed out;
  beast::error_code ec;
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    return out;
  }
  out.header_ok = true;
  out.status = parser.get().result_int();
  if (out.status != 200) {
    return out;
  }
  orch::docker::PullStreamParser sink;
  while (!parser.is_done()) {
    http::read_some(stream, buffer, parser, ec);
    if (ec) {
      return out;
    }
    std::string& body = parser.get().body();
    out.fed += body;
    out.verdict = sink.feed(body);
    body.clear();
    if (!out.verdict.is_ok()) {
      return out;
    }
  }
  out.verdict = sink.finish();
  out.body_complete = true;
  return out;
}

void decode(unsigned which, const Reply& reply) {
  if (reply.status < 200 || reply.status >= 300) {
    const std::string message = orch::docker::engine_error_message(reply.body, reply.reason);
    (void)message;
    return;
  }
  switch (which % 6) {
    case 0:
      (void)orch::docker::decode_version(reply.body);
      break;
    case 1:
      (void)orch::docker::decode_distribution(reply.body);
      break;
    case 2:
      (void)orch::docker::decode_image(reply.body);
      break;
    case 3:
      (void)orch::docker::decode_container_list(reply.body);
      break;
    case 4:
      (void)orch::docker::decode_container(reply.body);
      break;
    default:
      (void)orch::docker::decode_create_response(reply.body);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const bool pull = (data[0] & 1) != 0;
  const unsigned which = (data[0] >> 1) & 7;
  const size_t slice = static_cast<size_t>(data[1]) + 1;
  const std::string_view raw(reinterpret_cast<const char*>(data) + 2, size - 2);

  if (!pull) {
    const Reply reply = read_buffered(raw, slice, /*unlimited=*/false);
    if (reply.read_ok) {
      decode(which, reply);
    }
    return 0;
  }

  const Streamed streamed = read_pull(raw, slice);
  const Reply buffered = read_buffered(raw, slice, /*unlimited=*/true);
  if (!streamed.header_ok || streamed.status != 200) {
    if (buffered.read_ok) {
      decode(which, buffered);  // a refused pull: the error body becomes the message
    }
    return 0;
  }
  if (streamed.body_complete) {
    // Streaming and buffering the same bytes must see the same body and the same verdict.
    check(buffered.read_ok);
    check(streamed.fed == buffered.body);
    orch::docker::PullStreamParser whole;
    (void)whole.feed(buffered.body);
    const orch::Status verdict = whole.finish();
    check(verdict.code() == streamed.verdict.code());
    check(verdict.message() == streamed.verdict.message());
  } else if (buffered.read_ok) {
    // The stream stopped early (a pull error, or a framing error seen while streaming): what it
    // fed is a prefix of the body.
    check(std::string_view(buffered.body).starts_with(streamed.fed));
  }
  return 0;
}
