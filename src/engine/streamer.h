// Output goes through streamers; measurement and printing are just different streamers.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace amusd::engine {

class Streamer {
 public:
  virtual ~Streamer() = default;
  // Final text, in order; never part of a UTF-8 character and never part of a stop string.
  virtual void on_text(std::string_view) {}
  // Each emitted token, in order.
  virtual void on_token(int32_t) {}
};

// Forwards to several streamers.
class StreamerGroup final : public Streamer {
 public:
  explicit StreamerGroup(std::vector<Streamer*> members) : members_(std::move(members)) {}
  void on_text(std::string_view s) override {
    for (auto* m : members_) m->on_text(s);
  }
  void on_token(int32_t t) override {
    for (auto* m : members_) m->on_token(t);
  }

 private:
  std::vector<Streamer*> members_;
};

}  // namespace amusd::engine
