// What rollgate's two keep-alive HTTP clients ask of a connection: the engine client's
// ConnectionPool (orchestrator/docker/connection_pool.h) and the HTTP probe with keep_alive
// (probe.h). Written once here, the lowest module, so that both judge a kept connection and a
// peer's hang-up the same way.
#pragma once

#include <boost/system/error_code.hpp>

struct ssl_st;  // OpenSSL's SSL, so this header needs no OpenSSL include

namespace health {

// For a connection that sat idle: true when the peer has not closed it and nothing unread is
// waiting. A non-blocking peek on `fd` finds neither bytes nor the end of the stream, and, for
// TLS (`tls` non-null), OpenSSL holds no decrypted bytes nobody asked for. Bytes after a
// complete answer (or a TLS alert) mean the connection is not trusted with another request.
bool kept_connection_usable(int fd, const ssl_st* tls);

// The peer hung up (end of stream, reset, broken pipe, a TLS stream cut short): on a kept
// connection, the next request finding this before any byte of an answer means the peer had
// dropped the idle connection, not that it answered.
bool is_hang_up(const boost::system::error_code& ec);

}  // namespace health
