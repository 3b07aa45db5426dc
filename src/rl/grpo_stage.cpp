#include "rl/grpo_stage.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "rl/ppo_stage.h"
#include "train/pretrain_spec.h"

namespace nanoseek {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

PromptFormat model_prompt_format(const std::string& dir) {
  const std::string p = dir + "/eval.json";
  if (!file_exists(p)) return PromptFormat::R1Zero;
  const nlohmann::json j = read_json_file(p);
  check(j.is_object(), "{}: not a JSON object", p);
  if (!j.contains("prompt_format")) return PromptFormat::R1Zero;
  check(j["prompt_format"].is_string(), "{}: prompt_format must be a string", p);
  return parse_prompt_format(j["prompt_format"].get<std::string>());
}

GrpoStage::GrpoStage(const GrpoSpec& s, LanguageModel& policy, Tokenizer tok, PromptFormat fmt, std::string init_dir,
                     std::string out_dir, bool quiet)
    : RlStage(s, policy, std::move(tok), fmt, std::move(init_dir), std::move(out_dir), quiet) {
  check(s.algo == RlAlgo::Grpo, "GrpoStage: grpo.algo is '{}' (run_grpo picks the stage from it)",
        rl_algo_name(s.algo));
}

MicroResult GrpoStage::micro_step(LanguageModel& m, int64_t step, int micro) {
  if (micro == 0 && begin_step(m, step)) {
    Rollout ro = sample(step);  // P problems → prompts → G completions each, with π_old's log-probs
    score(ro);                  // rule rewards
    install(std::move(ro), step);
    // advantages: the group is the baseline, A_i = (r_i − mean of its group) / (std of its group + eps)
    adv_ = group_advantages(ro_.rewards, int(s_.group), s_.scale_std, nullptr);
    report(step, adv_);
  }
  PolicyPass p = forward_policy(m, micro);
  const int64_t R = s_.micro_rows;
  GrpoConfig gc = clip_config();
  PolicyBatch pb{p.ch.offsets, p.logp_new, p.ch.logp_old, {}, {},
                 std::span<const float>(adv_).subspan(size_t(p.ch.row0), size_t(R)), {}};
  std::vector<float> logp_ref;
  if (ref_) {  // KL to the frozen reference, k3 in the loss
    logp_ref = reference_logp(p.ch, p.b);
    gc.beta = s_.beta;
    pb.logp_ref = logp_ref;
  }
  double factor = 0;
  const PolicyLossOut out = backward_policy(m, p, gc, pb, &factor);
  MicroResult res = policy_result(p, out, factor);
  res.metrics["kl"] = out.kl;
  return res;
}

namespace {

// The stage grpo.algo names.
std::unique_ptr<RlStage> make_rl_stage(const GrpoSpec& g, LanguageModel& m, const std::string& init,
                                       const std::string& out, bool quiet) {
  if (g.algo == RlAlgo::Ppo)
    return std::make_unique<PpoStage>(g, m, Tokenizer::load(init), model_prompt_format(init), init, out, quiet);
  return std::make_unique<GrpoStage>(g, m, Tokenizer::load(init), model_prompt_format(init), init, out, quiet);
}

GrpoRunResult run_grpo_with(LanguageModel& m, const GrpoSpec& g, const PretrainSpec& base, const std::string& init,
                            const std::string& out, bool resume,
                            bool quiet, double t0) {
  m.enable_grad();
  const std::unique_ptr<RlStage> owned = make_rl_stage(g, m, init, out, quiet);
  RlStage& stage = *owned;
  TrainConfig tc;
  tc.steps = g.steps;
  tc.grad_accum = stage.grad_accum();
  g.optim.check(base.path + " [grpo]");
  set_optimizer(tc, g.optim);
  tc.gamma = m.has_router_bias() ? g.gamma : 0.0;
  tc.log_every = g.log_every;
  tc.eval_every = g.eval_every;
  tc.ckpt_every = base.ckpt_every;
  tc.keep_ckpts = int(base.keep_ckpts);
  tc.out_dir = out;
  tc.quiet = quiet;
  tc.seed = g.seed;
  tc.fingerprint = {{"init", init},         {"algo", rl_algo_name(g.algo)}, {"tasks", g.tasks},
                    {"levels", g.levels},   {"rewards", g.rewards},         {"prompts", g.prompts},
                    {"group", g.group},     {"micro_rows", g.micro_rows},   {"mu", g.mu},
                    {"seed", g.seed}};
  if (!quiet) {
    fmt::print("grpo: {} from {} ({}) | {} prompts x G {} = {} samples/rollout, mu {} | {} micro-batches of {} rows | "
               "{} | beta {} eps [{}, {}] agg {} std-scaling {} | rewards {} | {} threads\n",
               fmt::join(g.tasks, ","), init, m.model_type(), g.prompts, g.group,
               g.prompts * g.group, g.mu, stage.grad_accum(), g.micro_rows, rl_algo_name(g.algo),
               g.beta, g.eps_low, g.eps_high, agg_name(g.agg), g.scale_std,
               fmt::join(g.rewards, "+"), omp_get_max_threads());
    fmt::print("{}\n", stage.memory_plan());
  }
  // a fresh (not resumed) run starts its logs afresh
  for (const char* f : {"/completions.jsonl", "/metrics.jsonl"})
    if (!resume && file_exists(out + f)) write_file_atomic(out + f, "");
  Trainer trainer(m, tc, stage);
  if (resume) trainer.resume();
  GrpoRunResult res;
  res.completed = trainer.run();
  res.steps = trainer.step();
  res.train_seconds = trainer.train_seconds;
  if (res.completed) {
    trainer.save_final(out + "/final");   // with eval.json (RlStage::save_extra)
    if (!quiet) fmt::print("final model: {}/final\n", out);
  }
  res.total_seconds = now_s() - t0;
  return res;
}

}  // namespace

GrpoRunResult run_grpo(const GrpoSpec& g, const PretrainSpec& base, const std::string& init_dir,
                       const std::string& out, bool resume,
                       bool quiet) {
  const double t0 = now_s();
  const std::string init = init_dir.empty() ? g.init : init_dir;
  check(!init.empty(), "{}: grpo.init is empty: name the model directory to start from (--set grpo.init=DIR)", base.path);
  check(file_exists(init + "/config.json"), "grpo.init '{}': no config.json there (a model directory is expected)",
        init);
  check(file_exists(init + "/tokenizer.json"), "grpo.init '{}': no tokenizer.json in the model directory", init);
  if (base.threads > 0) omp_set_num_threads(int(base.threads));
  make_dirs(out);
  if (resume && file_exists(out + "/final/eval.json")) {   // final/ is written whole, as one rename
    if (!quiet) fmt::print("{}: the run is complete (final model {}/final); nothing to resume\n", out, out);
    GrpoRunResult done;
    done.completed = true;
    done.steps = g.steps;
    done.total_seconds = now_s() - t0;
    return done;
  }
  {
    const auto cj = nlohmann::json::parse(read_file(init + "/config.json"), nullptr, false);
    check(!cj.is_discarded(), "{}/config.json: invalid JSON", init);
    preflight_training_memory(cj, init + "/config.json");
  }
  const std::unique_ptr<LanguageModel> m = load_language_model(init);
  return run_grpo_with(*m, g, base, init, out, resume, quiet, t0);
}

}  // namespace nanoseek
