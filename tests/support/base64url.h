// decode_base64url: what a test needs to read an X-Registry-Auth header back (base64url with
// padding, as the Docker API takes it), decoded with OpenSSL.
#pragma once

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <string>

namespace orch::testing {

inline std::string decode_base64url(std::string s) {
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    }
  }
  std::string out(s.size(), '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  REQUIRE(n >= 0);
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\0') {
    out.pop_back();
  }
  return out;
}

}  // namespace orch::testing
