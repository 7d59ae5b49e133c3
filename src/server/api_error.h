// Errors a request can get back, in the OpenAI shape:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": null}}
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace amusd::server {

// Thrown while handling a request; the HTTP layer turns it into `status` + error_body().
class ApiError : public std::runtime_error {
 public:
  // status: HTTP status (4xx for the client's mistakes, 5xx for ours); param: the offending request field or "";
  // code: a machine-readable code ("context_length_exceeded") or "".
  ApiError(int status, std::string message, std::string param = "", std::string code = "")
      : std::runtime_error(message), status_(status), param_(std::move(param)), code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string param_, code_;
};

// The OpenAI error type for an HTTP status: "invalid_request_error" (4xx), "server_error" (5xx and 503).
std::string error_type(int status);

// {"error": {"message", "type", "param", "code"}}; empty param / code become null.
nlohmann::ordered_json error_body(int status, const std::string& message, const std::string& param = "",
                                  const std::string& code = "");
inline nlohmann::ordered_json error_body(const ApiError& e) {
  return error_body(e.status(), e.what(), e.param(), e.code());
}

}  // namespace amusd::server
