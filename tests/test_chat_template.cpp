// Chat templates (src/chat): renderings compared exactly with real Jinja2, Jinja language features, errors with
// positions, and the resource limits that keep hostile templates from crashing or running away.
//
// tests/data/chat_expectations.json is made by scripts/gen_chat_expectations.py with jinja2 configured as Hugging Face
// apply_chat_template configures it. It records outcomes only: the template sources are read here at test time (from
// ../shared/templates, from the GGUF files under ../shared, and from the library's built-ins) and checked against the
// size and FNV-1a hash the expectations were made from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "support.h"

namespace amusd::chat {
namespace {

using json = nlohmann::ordered_json;
using ::testing::HasSubstr;

// ---- expectations -------------------------------------------------------------------------------------------------

std::string data_path(const std::string& rel) {
  return (std::filesystem::path(__FILE__).parent_path() / "data" / rel).string();
}

const json& expectations() {
  static const json j = json::parse(test::read_file(data_path("chat_expectations.json")));
  return j;
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The template the expectations were made from must be the one we read now.
void expect_same_source(const json& info, std::string_view source, const std::string& what) {
  EXPECT_EQ(info.at("bytes").get<size_t>(), source.size()) << what << " changed: rerun scripts/gen_chat_expectations.py";
  EXPECT_EQ(info.at("fnv1a64").get<std::string>(), hex64(fnv1a64(source)))
      << what << " changed: rerun scripts/gen_chat_expectations.py";
}

std::tm fixed_now() {  // the time the generator gives strftime_now: 2024-09-05 14:30:00
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 8;
  tm.tm_mday = 5;
  tm.tm_hour = 14;
  tm.tm_min = 30;
  tm.tm_wday = 4;
  tm.tm_yday = 248;
  return tm;
}

// Plain {role, content} messages go through render(), anything else through render_json().
bool is_plain(const json& messages) {
  for (const auto& m : messages)
    if (m.size() != 2 || !m.contains("role") || !m.contains("content") || !m["content"].is_string()) return false;
  return true;
}

std::string render_case(const ChatTemplate& t, const json& conversation, bool add_generation_prompt,
                        const json& template_info) {
  RenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = template_info.at("bos").get<std::string>();
  o.eos_token = template_info.at("eos").get<std::string>();
  o.extra_vars = conversation.at("extra");
  o.now = fixed_now();
  const json& messages = conversation.at("messages");
  if (!is_plain(messages)) return t.render_json(messages, o);
  std::vector<Message> plain;
  for (const auto& m : messages) plain.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  return t.render(plain, o);
}

// Checks one recorded outcome: the text, an error raised by raise_exception (its message), or any other error.
void check_outcome(const json& expected, const std::function<std::string()>& run, const std::string& label) {
  SCOPED_TRACE(label);
  if (expected.contains("expected")) {
    try {
      EXPECT_EQ(run(), expected["expected"].get<std::string>());
    } catch (const Error& e) {
      ADD_FAILURE() << "threw: " << e.what();
    }
    return;
  }
  try {
    const std::string got = run();
    ADD_FAILURE() << "rendered " << got.size() << " bytes, expected an error like Jinja2's: "
                  << (expected.contains("raised") ? expected["raised"] : expected["error"]).get<std::string>();
  } catch (const Error& e) {
    if (expected.contains("raised")) {
      EXPECT_THAT(e.what(), HasSubstr("chat template raised an error at line "));
      EXPECT_THAT(e.what(), HasSubstr(expected["raised"].get<std::string>()));
    }
  }
}

// Renders every recorded case of `template_id` with `t`; returns how many there were.
size_t check_renders(const ChatTemplate& t, const std::string& template_id, const json& template_info) {
  const json& e = expectations();
  size_t n = 0;
  for (const auto& r : e.at("renders")) {
    if (r.at("template") != template_id) continue;
    ++n;
    const std::string conv = r.at("conversation").get<std::string>();
    const bool agp = r.at("add_generation_prompt").get<bool>();
    check_outcome(r, [&] { return render_case(t, e.at("conversations").at(conv), agp, template_info); },
                  template_id + " / " + conv + (agp ? " / generation prompt" : ""));
  }
  return n;
}

// ---- renderings of real templates, compared with Jinja2 -------------------------------------------------------------

TEST(ChatTemplateJinja2, SharedTemplatesRenderAsJinja2) {
  const json& known = expectations().at("shared_templates");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::shared_path("templates"))) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".jinja") continue;
    ++files;
    SCOPED_TRACE(name);
    ASSERT_TRUE(known.contains(name)) << "no expectations for " << name << ": rerun scripts/gen_chat_expectations.py";
    const std::string source = test::read_file(entry.path().string());
    expect_same_source(known[name], source, name);
    ChatTemplate t = ChatTemplate::parse(source);
    EXPECT_GE(check_renders(t, name, known[name]), 20u);
  }
  EXPECT_EQ(files, known.size());
}

TEST(ChatTemplateJinja2, GgufEmbeddedTemplatesRenderAsJinja2) {
  const json& known = expectations().at("gguf_templates");
  ASSERT_FALSE(known.empty());
  for (const auto& [rel, info] : known.items()) {
    SCOPED_TRACE(rel);
    auto file = gguf::File::open(test::shared_path(rel));
    const std::string_view source = file->get_string("tokenizer.chat_template");
    expect_same_source(info, source, rel);
    EXPECT_GE(check_renders(ChatTemplate::parse(source), "gguf:" + rel, info), 20u);
  }
}

TEST(ChatTemplateJinja2, BuiltinTemplatesRenderAsJinja2) {
  const json& known = expectations().at("builtin_templates");
  EXPECT_EQ(known.size(), builtin_names().size());
  for (const std::string& name : builtin_names()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(known.contains(name)) << "rerun scripts/gen_chat_expectations.py";
    const std::string_view source = builtin_template(name);
    expect_same_source(known[name], source, "built-in " + name);
    EXPECT_GE(check_renders(ChatTemplate::parse(source), "builtin:" + name, known[name]), 20u);
  }
}

// The built-ins write what the official templates write for plain conversations, except where their comments say.
TEST(ChatTemplateJinja2, BuiltinsMatchOfficialTemplates) {
  struct Pair {
    const char* builtin;
    const char* official;
    std::set<std::string> differs;  // conversations where the built-in deliberately differs
  };
  const std::set<std::string> with_system = {"system_user", "multi_turn", "whitespace", "unicode", "empty_content",
                                             "long_conversation", "system_only"};
  const std::set<std::string> no_system = {"user_only",    "multi_turn_no_system", "special_chars", "think",
                                           "non_alternating", "assistant_first"};
  const Pair pairs[] = {
      {"chatml", "Qwen-Qwen2.5-7B-Instruct.jinja", no_system},  // Qwen adds its default system message
      {"mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja", {}},
      {"phi3", "microsoft-Phi-3.5-mini-instruct.jinja", {}},
      {"gemma2", "google-gemma-2-2b-it.jinja", with_system},  // Gemma 2 rejects system messages
      {"deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", {}},
      {"deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", {}},
  };
  const json& renders = expectations().at("renders");
  auto find = [&](const std::string& id, const json& like) -> const json* {
    for (const auto& r : renders)
      if (r["template"] == id && r["conversation"] == like["conversation"] &&
          r["add_generation_prompt"] == like["add_generation_prompt"])
        return &r;
    return nullptr;
  };
  for (const Pair& p : pairs) {
    size_t compared = 0;
    for (const auto& r : renders) {
      if (r["template"] != std::string("builtin:") + p.builtin) continue;
      const std::string conv = r["conversation"].get<std::string>();
      if (p.differs.count(conv)) continue;
      const json* official = find(p.official, r);
      ASSERT_NE(official, nullptr);
      SCOPED_TRACE(std::string(p.builtin) + " vs " + p.official + " / " + conv);
      if (official->contains("expected")) {
        EXPECT_EQ(r.value("expected", "<error>"), (*official)["expected"].get<std::string>());
      } else {
        EXPECT_FALSE(r.contains("expected")) << "the official template fails here, the built-in does not";
      }
      ++compared;
    }
    EXPECT_GE(compared, 8u) << p.builtin;
  }
}

// ---- Jinja language features, compared with Jinja2 -------------------------------------------------------------------

TEST(ChatTemplateJinja2, LanguageFeaturesRenderAsJinja2) {
  const json& features = expectations().at("features");
  ASSERT_GE(features.size(), 50u);
  for (const auto& f : features) {
    const std::string name = f.at("name").get<std::string>();
    check_outcome(
        f,
        [&] {
          RenderOptions o;
          o.now = fixed_now();
          o.extra_vars = f.at("variables");
          return ChatTemplate::parse(f.at("template").get<std::string>()).render({}, o);
        },
        name);
  }
}

// ---- helpers for the direct tests ---------------------------------------------------------------------------------

std::string render_source(std::string_view source, const json& vars = json::object(), RenderLimits limits = {}) {
  RenderOptions o;
  o.extra_vars = vars;
  o.now = fixed_now();
  o.limits = limits;
  return ChatTemplate::parse(source).render({}, o);
}

// The message of the amusd::Error that parsing or rendering `source` throws ("" if none is thrown).
std::string error_of(std::string_view source, const json& vars = json::object(), RenderLimits limits = {}) {
  try {
    render_source(source, vars, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---- the public API ------------------------------------------------------------------------------------------------

TEST(ChatTemplate, RendersMessagesAndOptions) {
  ChatTemplate t = ChatTemplate::parse(builtin_template("chatml"));
  RenderOptions o;
  EXPECT_EQ(t.render({{"system", "Be brief."}, {"user", "Hi"}}, o),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  o.add_generation_prompt = false;
  EXPECT_EQ(t.render({{"user", "Hi"}}, o), "<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(t.source(), builtin_template("chatml"));
  ChatTemplate copy = t;  // copies share the parsed template
  EXPECT_EQ(copy.render({}, o), "");
}

TEST(ChatTemplate, DefaultVariablesAndExtraVarsOverride) {
  const std::string source =
      "{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} [{{ bos_token }}] {{ custom }}";
  EXPECT_EQ(render_source(source, {{"custom", 7}}), "True True True [] 7");
  EXPECT_EQ(render_source(source, {{"tools", json::array()}, {"custom", "x"}}), "False True True [] x");
}

TEST(ChatTemplate, RenderJsonTakesAnyFieldsAndRejectsNonArrays) {
  ChatTemplate t = ChatTemplate::parse(
      "{% for m in messages %}{{ m.role }}:{{ m.content if m.content is not none else '-' }}"
      "{% for c in m.tool_calls | default([]) %}[{{ c.function.name }} {{ c.function.arguments | tojson }}]"
      "{% endfor %};{% endfor %}");
  json messages = json::parse(R"([{"role": "user", "content": "hi"},
      {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": 2}}}]}])");
  EXPECT_EQ(t.render_json(messages, {}), "user:hi;assistant:-[f {\"b\": 1, \"a\": 2}];");
  EXPECT_THROW(t.render_json(json::object(), {}), Error);
  RenderOptions bad;
  bad.extra_vars = json::array();
  EXPECT_THROW(t.render_json(json::array(), bad), Error);
}

TEST(ChatTemplate, BuiltinNamesAndUnknownName) {
  EXPECT_EQ(builtin_names(), (std::vector<std::string>{"chatml", "llama3", "mistral", "phi3", "gemma2", "deepseek-r1"}));
  for (const auto& name : builtin_names()) EXPECT_NO_THROW(ChatTemplate::parse(builtin_template(name))) << name;
  try {
    builtin_template("vicuna");
    FAIL() << "no error for an unknown name";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown built-in chat template 'vicuna'"));
    EXPECT_THAT(e.what(), HasSubstr("chatml, llama3, mistral, phi3, gemma2, deepseek-r1"));
  }
}

TEST(ChatTemplate, StrftimeNowUsesTheGivenTimeOrTheClock) {
  EXPECT_EQ(render_source("{{ strftime_now('%d %b %Y') }}"), "05 Sep 2024");
  RenderOptions o;  // no fixed time: today's date, some 4-digit year
  const std::string year = ChatTemplate::parse("{{ strftime_now('%Y') }}").render({}, o);
  EXPECT_EQ(year.size(), 4u);
}

TEST(ChatTemplate, ConcurrentRendersShareOneTemplate) {
  const std::string source = test::read_file(test::shared_path("templates/meta-llama-Llama-3.1-8B-Instruct.jinja"));
  const ChatTemplate t = ChatTemplate::parse(source);
  RenderOptions o;
  o.now = fixed_now();
  const std::vector<Message> conv = {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  const std::string want = t.render(conv, o);
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) got[i] = t.render(conv, o);
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

// ---- errors ----------------------------------------------------------------------------------------------------------

TEST(ChatTemplateErrors, RaiseExceptionBecomesAnErrorWithTheMessage) {
  const std::string source = test::read_file(test::shared_path("templates/mistralai-Mistral-Nemo-Instruct-2407.jinja"));
  ChatTemplate t = ChatTemplate::parse(source);
  try {
    t.render({{"user", "a"}, {"user", "b"}}, {});
    FAIL() << "no error for non-alternating roles";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("chat template raised an error at line 18, column "));
    EXPECT_THAT(e.what(), HasSubstr(": After the optional system message, conversation roles must alternate "
                                    "user/assistant/user/assistant/..."));
  }
  EXPECT_EQ(error_of("\n  {{ raise_exception('bad ' ~ 1) }}"), "chat template raised an error at line 2, column 6: bad 1");
}

TEST(ChatTemplateErrors, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_EQ(error_of("hello\n{{ 1 + }}"), "chat template syntax error at line 2, column 8: unexpected end of print "
                                           "statement ('}}'), expected an expression");
  EXPECT_EQ(error_of("{% if x %}\nno end"),
            "chat template syntax error at line 2, column 7: unexpected end of template, expected 'elif' or 'else' or "
            "'endif'");
  EXPECT_EQ(error_of("ab\n  {{ 'unterminated }}"), "chat template syntax error at line 2, column 6: unterminated string "
                                                  "literal");
  EXPECT_EQ(error_of("é {{ x | nosuch }}"), "chat template syntax error at line 1, column 10: no filter named 'nosuch'");
  EXPECT_EQ(error_of("{{ x is nosuch }}"), "chat template syntax error at line 1, column 9: no test named 'nosuch'");
  EXPECT_EQ(error_of("{% endfor %}"), "chat template syntax error at line 1, column 4: unknown or unexpected tag 'endfor'");
  EXPECT_EQ(error_of("{{ (1 }}"), "chat template syntax error at line 1, column 7: unexpected '}', expected ')'");
  EXPECT_EQ(error_of("{# open"), "chat template syntax error at line 1, column 1: missing end of comment tag");
  EXPECT_EQ(error_of("{{ 1 $ 2 }}"), "chat template syntax error at line 1, column 6: unexpected character '$'");
  EXPECT_EQ(error_of("{% break %}"), "chat template syntax error at line 1, column 4: 'break' outside of a loop");
  EXPECT_EQ(error_of("x\r\n{{ }}"), "chat template syntax error at line 2, column 4: unexpected end of print statement "
                                    "('}}'), expected an expression");
}

TEST(ChatTemplateErrors, UnsupportedConstructsAreNamed) {
  EXPECT_EQ(error_of("{% include 'other.jinja' %}"), "chat template syntax error at line 1, column 4: unsupported tag "
                                                    "'include'");
  EXPECT_THAT(error_of("{% extends 'base' %}"), HasSubstr("unsupported tag 'extends'"));
  EXPECT_THAT(error_of("{% macro m() %}{% endmacro %}{% call m() %}{% endcall %}"), HasSubstr("unsupported tag 'call'"));
  EXPECT_THAT(error_of("{% for x in xs recursive %}{% endfor %}"), HasSubstr("recursive for loops are not supported"));
  EXPECT_THAT(error_of("{{ f(*args) }}"), HasSubstr("*args and **kwargs in calls are not supported"));
  EXPECT_THAT(error_of("{{ '%s' % 1 }}"), HasSubstr("printf-style string formatting ('%') is not supported"));
}

TEST(ChatTemplateErrors, RenderErrorsHaveThePosition) {
  EXPECT_EQ(error_of("line\n  {{ 'a' + 1 }}"), "chat template error at line 2, column 10: can only concatenate str (not "
                                              "\"int\") to str");
  EXPECT_EQ(error_of("{{ missing.attr }}"), "chat template error at line 1, column 11: 'missing' is undefined");
  EXPECT_EQ(error_of("{% for x in 5 %}{% endfor %}"), "chat template error at line 1, column 13: 'int' object is not "
                                                      "iterable");
  EXPECT_THAT(error_of("{{ l.append(1) }}", {{"l", json::array()}}),
              HasSubstr("access to attribute 'append' of 'list' object is unsafe."));
  EXPECT_THAT(error_of("{{ 9223372036854775807 + 1 }}"), HasSubstr("integer overflow"));
  EXPECT_THAT(error_of("{{ 1 // 0 }}"), HasSubstr("division or modulo by zero"));
}

// ---- limits and hostile templates ---------------------------------------------------------------------------------

TEST(ChatTemplateLimits, HugeRangeStopsAtTheStepLimit) {
  EXPECT_THAT(error_of("{% for i in range(10**9) %}x{% endfor %}"), HasSubstr("loop iterations"));
  EXPECT_THAT(error_of("{% for i in range(-9223372036854775807 - 1, 9223372036854775807) %}{% endfor %}"),
              HasSubstr("loop iterations"));
  EXPECT_THAT(error_of("{% for i in range(9223372036854775807, -9223372036854775807 - 1, -1) %}{% endfor %}"),
              HasSubstr("loop iterations"));
  // Nested loops that are each short but long together.
  RenderLimits limits;
  limits.max_steps = 100000;
  EXPECT_THAT(error_of("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", json::object(),
                       limits),
              HasSubstr("more than 100000 loop iterations"));
  EXPECT_THAT(error_of("{% for i in range(10) %}{{ range(200000) | length }}{% endfor %}"), HasSubstr("loop iterations"));
  EXPECT_EQ(render_source("{{ range(9223372036854775807, 9223372036854775806, -1) | list }}"), "[9223372036854775807]");
}

TEST(ChatTemplateLimits, SlowStepsStopAtTheTimeLimit) {
  RenderLimits limits;
  limits.max_milliseconds = 200;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(error_of("{% set s = 'xé' * 5000000 %}{% for i in range(100000) %}{% set t = s.upper() %}{% endfor %}",
                       json::object(), limits),
              HasSubstr("the template ran longer than 200 ms"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0);
}

TEST(ChatTemplateLimits, RunawayMacroRecursionIsAnError) {
  const std::string err = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_THAT(err, HasSubstr("chat template error at line 1, column "));
  EXPECT_THAT(err, HasSubstr("nests deeper than 400 levels"));
  // Mutual recursion, and a recursion that is deep but within the limit.
  EXPECT_THAT(error_of("{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(1) }}"),
              HasSubstr("nests deeper than"));
  EXPECT_EQ(render_source("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(30) }}"),
            "done");
}

TEST(ChatTemplateLimits, HugeStringsAndOutputAreErrors) {
  EXPECT_THAT(error_of("{{ 'x' * 10**9 }}"), HasSubstr("string repetition longer than"));
  EXPECT_THAT(error_of("{{ [1, 2] * 10**9 }}"), HasSubstr("list repetition longer than"));
  // Doubling a string in a loop trips the per-string limit.
  EXPECT_THAT(error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"),
              HasSubstr("bytes"));
  EXPECT_THAT(error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
              HasSubstr("bytes"));
  EXPECT_THAT(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
              HasSubstr("bytes"));
  // Results that multiply their input: join, replace, indent, printing and tojson of a list of one long string.
  RenderLimits one_mb;
  one_mb.max_output_bytes = 1 << 20;
  const std::string big = "{% set s = 'x' * 100000 %}{% set l = [s] * 100000 %}";
  for (const char* expr : {"l | join(s)", "s.join(l)", "s.replace('x', s)", "s | replace('', s)", "('a\\n' * 1000) | indent(s)",
                           "l", "l | string", "'a' ~ l", "l | tojson", "[[[[[range(100000) | list]]]]] | tojson(indent=100)"}) {
    SCOPED_TRACE(expr);
    EXPECT_THAT(error_of(big + "{{ " + expr + " }}", json::object(), one_mb), HasSubstr("bytes"));
  }
  RenderLimits small;
  small.max_output_bytes = 1000;
  EXPECT_THAT(error_of("{% for i in range(200) %}0123456789{% endfor %}", json::object(), small),
              HasSubstr("the output would exceed 1000 bytes"));
  EXPECT_EQ(render_source("{% for i in range(100) %}0123456789{% endfor %}", json::object(), small).size(), 1000u);
  small.max_bytes_built = 5000;
  small.max_output_bytes = 1 << 20;
  EXPECT_THAT(error_of("{% for i in range(100) %}{% set s = 'x' * 100 %}{% endfor %}", json::object(), small),
              HasSubstr("bytes of strings and lists"));
}

TEST(ChatTemplateLimits, IteratingAHugeStringIsBounded) {
  RenderLimits small;
  small.max_bytes_built = 10 << 20;
  EXPECT_THAT(error_of("{% for c in 'abcd' * 10**6 %}{% endfor %}", json::object(), small), HasSubstr("bytes"));
  EXPECT_THAT(error_of("{{ ('abcd' * 10**6) | list | length }}", json::object(), small), HasSubstr("bytes"));
}

TEST(ChatTemplateLimits, SmallStepLimit) {
  RenderLimits small;
  small.max_steps = 100;
  EXPECT_EQ(render_source("{% for i in range(50) %}{% endfor %}ok", json::object(), small), "ok");
  EXPECT_THAT(error_of("{% for i in range(60) %}{% for j in [1, 2] %}{% endfor %}{% endfor %}", json::object(), small),
              HasSubstr("more than 100 loop iterations"));
}

TEST(ChatTemplateLimits, DeeplyNestedSourceIsASyntaxErrorNotACrash) {
  const int n = 100000;
  EXPECT_THAT(error_of("{{ " + std::string(n, '(') + "1" + std::string(n, ')') + " }}"),
              HasSubstr("nests deeper than 256 levels"));
  EXPECT_THAT(error_of("{{ " + std::string(n, '[') + std::string(n, ']') + " }}"), HasSubstr("nests deeper than"));
  std::string negs = "{{ ";
  for (int i = 0; i < n; ++i) negs += "not ";
  EXPECT_THAT(error_of(negs + "x }}"), HasSubstr("nests deeper than"));
  std::string sums = "{{ 1";
  for (int i = 0; i < n; ++i) sums += " + 1";
  EXPECT_THAT(error_of(sums + " }}"), HasSubstr("nests deeper than"));
  std::string attrs = "{{ x";
  for (int i = 0; i < n; ++i) attrs += ".a";
  EXPECT_THAT(error_of(attrs + " }}"), HasSubstr("nests deeper than"));
  std::string filters = "{{ x";
  for (int i = 0; i < n; ++i) filters += " | trim";
  EXPECT_THAT(error_of(filters + " }}"), HasSubstr("nests deeper than"));
  std::string ifs;
  for (int i = 0; i < n; ++i) ifs += "{% if true %}";
  EXPECT_THAT(error_of(ifs), HasSubstr("nests deeper than"));
  // Within the limits, nesting works.
  EXPECT_EQ(render_source("{{ " + std::string(100, '(') + "7" + std::string(100, ')') + " }}"), "7");
}

TEST(ChatTemplateLimits, DeeplyNestedValuesAreErrors) {
  json deep = json::array();
  for (int i = 0; i < 1000; ++i) deep = json::array({deep});
  EXPECT_THAT(error_of("{{ v }}", {{"v", deep}}), HasSubstr("nests deeper than"));
  // A list that contains itself through a namespace prints up to the depth limit, then fails.
  EXPECT_THAT(error_of("{% set ns = namespace() %}{% set ns.l = [ns] %}{{ ns }}"), HasSubstr("nest deeper than"));
  EXPECT_THAT(error_of("{% set ns = namespace(l=[]) %}{% for i in range(300) %}{% set ns.l = [ns.l] %}{% endfor %}"),
              HasSubstr("nest deeper than"));
}

TEST(ChatTemplateLimits, LongLinesLexInLinearTime) {
  // 200k tokens on one line: positions must not be recomputed from the line start for each token.
  std::string source = "{{ 0";
  for (int i = 0; i < 100000; ++i) source += ",1";
  source += " }}";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(render_source(source).size(), 3 + 3 * 100000u);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20.0);
}

}  // namespace
}  // namespace amusd::chat
