// Noticing that an HTTP client went away while its request waits or generates. cpp-httplib 0.11 gives handlers no
// access to the connection's socket, so the socket is found by its addresses (the request's local and remote
// address and port identify one live TCP connection), then polled for a hang-up.
#pragma once

#include <string>

namespace amusd::server {

class ConnectionWatch {
 public:
  // Finds this process's TCP socket connected from remote_addr:remote_port to local port `local_port`. When none
  // is found (an unexpected address form), closed() stays false and disconnects are noticed only by failed writes.
  ConnectionWatch(const std::string& remote_addr, int remote_port, int local_port);

  // True once the peer closed or reset the connection (POLLRDHUP / POLLHUP / POLLERR). Data the client sends after
  // its request (a pipelined request) does not count. A client that half-closes its side after sending the request
  // looks like a disconnect; HTTP clients do not do that.
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;  // borrowed: the HTTP server owns and closes it after the handler returns
};

}  // namespace amusd::server
