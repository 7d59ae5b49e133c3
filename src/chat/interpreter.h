// Evaluation state of one render: variables in nested scopes, the resource limits, and the objects the template
// creates (namespaces, macros), which are released together when the render ends because they may reference each
// other in cycles.
#pragma once

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/ast.h"
#include "chat/options.h"
#include "chat/value.h"

namespace amusd::chat {

// Variables of one scope: the template's top level, one loop iteration, one macro call, one {% set %} block.
// Lookups walk up through parents; assignments go to the innermost scope (as in jinja2, where a {% set %} inside a
// loop does not change the variable outside it).
struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;
};

// raise_exception(message) of the template: an EvalError reported as "chat template raised an error ...".
class RaisedError : public EvalError {
 public:
  using EvalError::EvalError;
};

class Renderer {
 public:
  Renderer(const RenderLimits& limits, const std::tm& now)
      : limits_(limits), now_(now), started_(std::chrono::steady_clock::now()) {}
  ~Renderer();  // empties the namespaces and macros made during the render, breaking reference cycles
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  const RenderLimits& limits() const { return limits_; }
  const std::tm& now() const { return now_; }  // what strftime_now() formats

  // Appends text to an output buffer. Throws EvalError past the output limits.
  void emit(std::string& out, std::string_view text);
  // Appends text to a string being built as a value (join, replace, indent, ...). Throws EvalError when the string
  // would exceed max_output_bytes or the render would build more than max_bytes_built.
  void append(std::string& s, std::string_view text);
  // Accounts for a string (or list) of `bytes` about to be built; throws EvalError past the limits.
  void charge_bytes(uint64_t bytes);
  // Accounts for `n` loop iterations / macro calls / range() items; throws EvalError past max_steps (and, as
  // charge_bytes too, past max_milliseconds).
  void charge_steps(uint64_t n = 1);

  // Registers objects to be emptied when the render ends.
  void track(const std::shared_ptr<Dict>& ns) { namespaces_.push_back(ns); }
  void track(const std::shared_ptr<Callable>& macro) { macros_.push_back(macro); }

  // One more level of evaluation nesting while alive; throws EvalError past max_depth.
  class Nest {
   public:
    explicit Nest(Renderer& r);
    ~Nest() { --r_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Renderer& r_;
  };

 private:
  void check_time() const;

  const RenderLimits& limits_;
  const std::tm now_;
  const std::chrono::steady_clock::time_point started_;
  uint64_t bytes_built_ = 0;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::vector<std::weak_ptr<Dict>> namespaces_;
  std::vector<std::weak_ptr<Callable>> macros_;
};

// Where an expression or statement runs: the render state and the current scope.
class Context {
 public:
  Context(Renderer& r, std::shared_ptr<Scope> scope) : renderer_(r), scope_(std::move(scope)) {}

  Renderer& renderer() const { return renderer_; }
  const std::shared_ptr<Scope>& scope() const { return scope_; }

  // The variable's value, or Undefined ("'name' is undefined").
  Value lookup(const std::string& name) const;
  // Sets the variable in the innermost scope.
  void assign(const std::string& name, Value v) { scope_->vars[name] = std::move(v); }
  // A context with a new, empty innermost scope.
  Context child() const { return Context(renderer_, std::make_shared<Scope>(Scope{scope_, {}})); }

 private:
  Renderer& renderer_;
  std::shared_ptr<Scope> scope_;
};

// Renders a parsed template. `variables` become the template's top-level variables, on top of the global functions
// range, namespace, dict, raise_exception and strftime_now. Throws amusd::Error with the template position.
std::string render_template(const Body& body, const std::unordered_map<std::string, Value>& variables,
                            const RenderLimits& limits, const std::tm& now);

}  // namespace amusd::chat
