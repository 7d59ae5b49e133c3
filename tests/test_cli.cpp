// The `amusd` binary end to end: output, exit codes and error messages.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

namespace amusd {
namespace {

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs the amusd binary with `args` (a shell-quoted string), capturing stdout and stderr.
CliResult amusd(const std::string& args) {
  // Unique names: ctest runs tests of this file in parallel processes.
  const auto dir = std::filesystem::temp_directory_path();
  const std::string tag = std::to_string(getpid());
  const std::string out_path = (dir / ("amusd-cli-" + tag + ".out")).string();
  const std::string err_path = (dir / ("amusd-cli-" + tag + ".err")).string();
  const std::string cmd = test::amusd_binary() + " " + args + " >" + out_path + " 2>" + err_path;
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(out_path);
  r.err = test::read_file(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

std::string model(const std::string& name) { return test::shared_path("models/" + name + ".gguf"); }

TEST(Cli, GenerateMatchesReference) {
  const auto ref = test::read_jsonl(test::shared_path("reference/stories260K.greedy.jsonl"))[0];
  const CliResult r = amusd("generate -m " + model("stories260K") + " -p 'Once upon a time' -n 128 --temp 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, test::raw_bytes(ref["generated_text"].get<std::string>()) + "\n");
  EXPECT_NE(r.err.find("prompt:"), std::string::npos);
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos);
}

TEST(Cli, StrategiesPrintTheSameTextAndStatistics) {
  const std::string base = "generate -m " + model("stories260K") + " -md " + model("stories260K-draft") +
                           " -p 'Lily and Tom went to the park' -n 60 --temp 0 --strategy ";
  const CliResult ar = amusd(base + "ar");
  ASSERT_EQ(ar.code, 0) << ar.err;
  for (const char* s : {"sd", "amusd"}) {
    const auto json_path =
        (std::filesystem::temp_directory_path() / ("amusd-cli-stats-" + std::to_string(getpid()) + ".json")).string();
    const CliResult r = amusd(base + s + " --draft-max 6 --stats-json " + json_path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, ar.out) << s;
    for (const char* field : {"acceptance rate", "mean accepted length", "rollbacks", "busy", "idle", "ms/token"})
      EXPECT_NE(r.err.find(field), std::string::npos) << s << " lacks " << field;
    const auto j = nlohmann::json::parse(test::read_file(json_path));
    EXPECT_EQ(j["strategy"], s);
    EXPECT_EQ(j["n_generated"], 60);
    EXPECT_FALSE(j["timeline"].empty());
    bool has_draft = false, has_verify = false;
    for (const auto& e : j["timeline"]) {
      has_draft |= e["kind"] == "draft";
      has_verify |= e["kind"] == "verify";
      EXPECT_LE(e["start_ms"].get<double>(), e["end_ms"].get<double>());
    }
    EXPECT_TRUE(has_draft && has_verify) << s;
  }
}

TEST(Cli, Tokenize) {
  const auto ref = test::read_jsonl(test::shared_path("reference/stories260K.greedy.jsonl"))[0];
  std::string expected;
  for (int id : ref["prompt_tokens"]) expected += (expected.empty() ? "" : " ") + std::to_string(id);
  CliResult r = amusd("tokenize -m " + model("stories260K") + " -p 'Once upon a time'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected + "\n");
  r = amusd("tokenize -m " + model("stories260K") + " -p 'Once upon a time' --no-special");
  EXPECT_EQ(r.out, expected.substr(2) + "\n");  // without BOS (id 1)
  r = amusd("tokenize -m " + model("stories260K") + " -p 'Once' --pieces");
  EXPECT_NE(r.out.find(":'"), std::string::npos);
}

TEST(Cli, Inspect) {
  const CliResult r = amusd("inspect " + model("mini-target-q4_k_m"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"architecture:  llama", "llama.block_count", "chat template", "blk.0.attn_q.weight",
                        "q4_K", "q6_K", "total:", "parameters"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(Cli, Help) {
  for (const char* cmd : {"generate --help", "tokenize --help", "inspect --help", "--help"}) {
    const CliResult r = amusd(cmd);
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("usage"), std::string::npos) << cmd;
  }
}

// Bad input: a clear message on stderr naming the problem, a non-zero exit, never a crash.
TEST(Cli, ErrorsAreClear) {
  const std::string m = " -m " + model("stories260K");
  const std::string pair = m + " -md " + model("stories260K-draft");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"frobnicate", "unknown command"},
      {"generate -p hi", "missing -m"},
      {"generate -m /nonexistent.gguf -p hi", "cannot open model file"},
      {"generate" + m + " -p hi -n abc", "invalid value 'abc' for -n"},
      {"generate" + m + " -p hi --bogus", "unknown option '--bogus'"},
      {"generate" + m + " -p hi --temp", "needs a value"},
      {"generate" + m + " -p hi --top-p 2", "top-p must be in [0, 1]"},
      {"generate" + m + " -p hi --cpus 99", "CPU 99"},
      {"generate" + m + " -p hi --strategy fast", "unknown strategy 'fast'"},
      {"generate" + m + " -p hi --strategy sd", "needs a draft model"},
      {"generate" + m + " -md " + model("qwen2-tiny-f16") + " -p hi --strategy sd", "vocabular"},
      {"generate" + pair + " -p hi --strategy sd --draft-max 0", "--draft-max"},
      {"generate" + pair + " -p hi --strategy amusd --cpus-draft 0 --cpus-verify 0", "disjoint"},
      {"generate" + m + " -p hi --kv-type q8_0", "--kv-type"},
      {"generate" + m + " -p 'Once upon a time there was' -c 4", "does not fit in the context"},
      {"generate -m " + test::shared_path("vocab/ggml-vocab-gpt-2.gguf") + " -p hi", "is not supported"},
      {"generate -m " + test::shared_path("reference/stories260K.greedy.jsonl") + " -p hi", "not a GGUF file"},
      {"inspect", "missing argument"},
      {"tokenize" + m, "missing -p"},
  };
  for (const auto& [args, msg] : cases) {
    const CliResult r = amusd(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_LT(r.code, 128) << args << " crashed";
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << "\nstderr: " << r.err;
  }
}

}  // namespace
}  // namespace amusd
