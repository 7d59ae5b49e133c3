#include "engine_args.h"

#include "core/dtype.h"
#include "core/error.h"

namespace amusd::app {

void add_engine_options(ArgParser& args, engine::EngineOptions& eo, std::string& kv_type) {
  args.option({"-c", "--ctx-size"}, "N", "context size (default: the model's, at most 4096)", &eo.ctx.n_ctx);
  args.option({"--kv-type"}, "TYPE", "KV cache type: f16 (default) or f32", &kv_type);
  args.flag({"--no-amx"}, "keep Q8_0 / Q4_0 / Q4_K / Q6_K weights row-major instead of repacking them into panels "
            "for AMX (on CPUs with AMX-INT8, where batched verification and prefill use it)", &eo.load.keep_row_major);
  args.option({"--cpus"}, "LIST", "CPU cores for ar and sd, e.g. 0-1 (default: all)", &eo.cpus);
  args.option({"-t", "--threads"}, "N", "threads for ar and sd (default: one per core)", &eo.threads);
  args.option({"--cpus-verify"}, "LIST", "amusd: cores of the verifier (default: all but the first)", &eo.cpus_verify);
  args.option({"--cpus-draft"}, "LIST", "amusd: cores of the draft (default: the first)", &eo.cpus_draft);
  args.option({"--threads-verify"}, "N", "amusd: verifier threads (default: one per core)", &eo.threads_verify);
  args.option({"--threads-draft"}, "N", "amusd: draft threads (default: one per core)", &eo.threads_draft);
  args.option({"--draft-max"}, "K", "most draft tokens per verification (default 8)", &eo.spec.draft_max);
  args.flag({"--draft-adaptive"}, "sd: grow K after full acceptance, shrink after a rejection", &eo.spec.adaptive);
  args.option({"--draft-p-min"}, "P", "sd: stop drafting when the draft's top probability < P (default 0 = off)",
              &eo.spec.draft_p_min);
  args.option({"--draft-ahead"}, "N", "amusd: most tokens the draft runs ahead (default 2 x draft-max)",
              &eo.spec.draft_ahead);
}

void finish_engine_options(const std::string& kv_type, engine::EngineOptions& eo) {
  AMUSD_CHECK(eo.ctx.n_ctx >= 0 && eo.ctx.n_ctx <= (1 << 20), "--ctx-size must be in 0..1048576, got ", eo.ctx.n_ctx);
  for (int t : {eo.threads, eo.threads_verify, eo.threads_draft})
    AMUSD_CHECK(t >= 0 && t <= 256, "thread counts must be in 0..256, got ", t);
  const auto kv = dtype_from_name(kv_type);
  AMUSD_CHECK(kv && (*kv == DType::F16 || *kv == DType::F32), "--kv-type must be f16 or f32, got '", kv_type, "'");
  eo.ctx.kv_type = *kv;
}

}  // namespace amusd::app
