#include "engine/session.h"

#include <algorithm>

#include "core/error.h"

namespace amusd::engine {

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Length: return "length";
    case StopReason::EndOfGeneration: return "eog";
    case StopReason::StopString: return "stop";
    case StopReason::Cancelled: return "cancelled";
    case StopReason::ContextFull: return "context_full";
  }
  return "?";
}

namespace {

// Applies the length limit, end-of-generation tokens and stop strings to the strategy's tokens, and streams text.
class OutputSink final : public decode::TokenSink {
 public:
  OutputSink(const tok::Tokenizer& tok, const GenerateOptions& opt, Streamer* streamer, Result& result,
             decode::Clock::time_point t_start)
      : tok_(tok), opt_(opt), streamer_(streamer), result_(result), decoder_(tok), t_start_(t_start) {
    for (const auto& s : opt.stop) max_stop_len_ = std::max(max_stop_len_, s.size());
  }

  bool accept(std::span<const int32_t> tokens) override {
    for (int32_t t : tokens) {
      if (done_) return false;
      if (!take(t)) {
        done_ = true;
        break;
      }
    }
    t_last_ = decode::Clock::now();
    if (!first_seen_ && !result_.tokens.empty()) {
      first_seen_ = true;
      result_.stats.first_token_ms = decode::ms_between(t_start_, t_last_);
    }
    return !done_;
  }

  // Sends text still held back (end of generation without a stop string).
  void finish() {
    if (reason_ != StopReason::StopString) {
      text_ += decoder_.flush();
      emit(text_.size());
    }
    result_.text = text_.substr(0, sent_);
  }

  StopReason reason() const { return reason_; }
  bool stopped() const { return done_; }
  decode::Clock::time_point t_last() const { return t_last_; }

 private:
  // Handles one token; false when generation must end.
  bool take(int32_t t) {
    if (!opt_.ignore_eos && tok_.is_eog(t)) {
      reason_ = StopReason::EndOfGeneration;
      return false;
    }
    result_.tokens.push_back(t);
    if (streamer_) streamer_->on_token(t);
    text_ += decoder_.feed(t);
    if (!opt_.stop.empty() && check_stop()) {
      reason_ = StopReason::StopString;
      return false;
    }
    emit(text_.size() - held_back());
    if (int64_t(result_.tokens.size()) >= opt_.max_new_tokens) {
      reason_ = StopReason::Length;
      return false;
    }
    return true;
  }

  // True (and text cut) if a stop string now occurs in the text.
  bool check_stop() {
    const size_t from = sent_ > max_stop_len_ ? sent_ - max_stop_len_ : 0;
    size_t best = std::string::npos;
    for (const auto& s : opt_.stop)
      if (!s.empty()) best = std::min(best, text_.find(s, from));
    if (best == std::string::npos) return false;
    text_.resize(std::max(best, sent_));
    emit(text_.size());
    return true;
  }

  // Bytes at the end of the text that could be the start of a stop string.
  size_t held_back() const {
    size_t hold = 0;
    for (const auto& s : opt_.stop)
      if (!s.empty())
        for (size_t len = std::min(s.size() - 1, text_.size() - sent_); len > hold; --len)
        if (text_.compare(text_.size() - len, len, s, 0, len) == 0) {
          hold = len;
          break;
        }
    return hold;
  }

  void emit(size_t upto) {
    if (upto <= sent_) return;
    if (streamer_) streamer_->on_text(std::string_view(text_).substr(sent_, upto - sent_));
    sent_ = upto;
  }

  const tok::Tokenizer& tok_;
  const GenerateOptions& opt_;
  Streamer* streamer_;
  Result& result_;
  tok::StreamDecoder decoder_;
  decode::Clock::time_point t_start_, t_last_;
  std::string text_;
  size_t sent_ = 0;
  size_t max_stop_len_ = 0;
  bool done_ = false;
  bool first_seen_ = false;
  StopReason reason_ = StopReason::Length;
};

}  // namespace

Session::Session(const tok::Tokenizer& tokenizer, decode::Strategy& strategy)
    : tokenizer_(tokenizer), strategy_(strategy) {}

Result Session::generate(std::vector<int32_t> prompt, const GenerateOptions& options, Streamer* streamer,
                         std::stop_token stop) {
  AMUSD_CHECK(options.max_new_tokens >= 0, "the number of tokens to generate must be >= 0, got ",
              options.max_new_tokens);
  sampling::validate(options.sampling);
  Result result;
  result.stats.strategy = std::string(strategy_.name());
  result.stats.n_prompt = int64_t(prompt.size());
  if (options.max_new_tokens == 0) return result;

  decode::Request request{std::move(prompt), options.max_new_tokens, options.sampling};
  const auto t_start = decode::Clock::now();
  OutputSink sink(tokenizer_, options, streamer, result, t_start);
  const decode::Outcome outcome = strategy_.generate(request, sink, result.stats, stop);
  const auto t_end = decode::Clock::now();
  sink.finish();

  if (sink.stopped()) result.reason = sink.reason();
  else if (outcome == decode::Outcome::Cancelled) result.reason = StopReason::Cancelled;
  else if (outcome == decode::Outcome::ContextFull) result.reason = StopReason::ContextFull;
  decode::Stats& s = result.stats;
  s.n_generated = int64_t(result.tokens.size());
  s.total_ms = decode::ms_between(t_start, t_end);
  s.generate_ms = result.tokens.empty() ? 0 : decode::ms_between(t_start, sink.t_last()) - s.prefill_ms;
  return result;
}

Result Session::generate_text(std::string_view prompt, const GenerateOptions& options, Streamer* streamer,
                              std::stop_token stop) {
  return generate(tokenizer_.encode(prompt, /*add_special=*/true), options, streamer, stop);
}

}  // namespace amusd::engine
