// Command-line options shared by the commands that run an Engine (generate, serve): context, KV cache type,
// devices and speculative decoding settings, so each is spelled and documented once.
#pragma once

#include <string>

#include "args.h"
#include "engine/engine.h"

namespace amusd::app {

// Registers -c, --kv-type, --cpus, -t, --cpus-verify, --cpus-draft, --threads-verify, --threads-draft, --draft-max,
// --draft-adaptive, --draft-p-min and --draft-ahead. Their values land in `eo`, except --kv-type in `kv_type`
// (a name, turned into eo.ctx.kv_type by finish_engine_options after parsing).
void add_engine_options(ArgParser& args, engine::EngineOptions& eo, std::string& kv_type);

// After parsing: checks the ranges of those options and sets eo.ctx.kv_type from its name. Throws Error naming the
// option for a value out of range or a KV type other than f16 / f32.
void finish_engine_options(const std::string& kv_type, engine::EngineOptions& eo);

}  // namespace amusd::app
