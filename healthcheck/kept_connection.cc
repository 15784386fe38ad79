#include "healthcheck/kept_connection.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>

namespace health {

bool kept_connection_usable(int fd, const ssl_st* tls) {
  if (tls != nullptr && SSL_pending(tls) > 0) {
    return false;
  }
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read and no end of stream: the peer still holds the connection open. 0 is the
  // peer's close; a byte is unasked-for data; any other error (EBADF: closed here) is no too.
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_hang_up(const boost::system::error_code& ec) {
  namespace net = boost::asio;
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::ssl::error::stream_truncated ||
         ec == boost::beast::http::error::end_of_stream;
}

}  // namespace health
