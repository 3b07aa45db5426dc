// The one training loop every stage shares (pretraining, SFT, GRPO, distillation): the stage supplies the loss,
// the Trainer owns everything else — AdamW, LR schedule, gradient accumulation and clipping, the aux-loss-free
// router-bias update, checkpoints (atomic, resumable bit-exactly), metrics.jsonl, the progress line, SIGINT.
//
//   struct MyStage : TrainStage { MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override {...} };
//   Trainer t(model, cfg, stage);    // any LanguageModel: DeepSeek-V3 or a dense Qwen2/Llama student
//   t.resume();            // from the newest DIR/ckpt-STEP, if any
//   t.run();               // false if interrupted (a checkpoint was saved)
//
// One optimizer step = grad_accum micro-steps; each micro-step's backward ACCUMULATES the gradient of its own mean
// loss into model.grads, and the Trainer divides by grad_accum before clipping, so the update is that of the mean.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/language_model.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace nanoseek {

// One optimizer spec for every stage (AdamW, LR schedule, clip): the same keys in each section of a recipe — train.*,
// grpo.*, sft.*, distill.* — with each stage's own defaults (the paper's values beside them in pipeline/recipe.cpp).
struct OptimSpec {
  double lr = 1e-3, min_lr = 1e-4;
  int64_t warmup = 0;               // linear warmup steps
  LrKind schedule = LrKind::Cosine;
  double decay_frac = 0.2;          // wsd: share of steps in the final decay
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip = 1.0;                // global gradient-norm clip (0 = off)
  // Error naming `where` (e.g. "recipe.toml [train]") when a value is out of range (warmup >= 0; stages that need
  // warmup < steps check that themselves).
  void check(const std::string& where) const;
};

struct TrainConfig {
  int64_t steps = 100, grad_accum = 1;
  LrSchedule lr;
  AdamWConfig adamw;
  double clip = 1.0;          // global-norm clip (0 = off)
  double gamma = 0.001;       // aux-loss-free bias update speed γ (0 = off; spec §2.4)
  double gamma_until = 1.0;   // γ applies for the first gamma_until·steps steps (V3 freezes the bias at the end)
  int64_t log_every = 10;     // progress line period
  int64_t eval_every = 0;     // 0 = only at the end
  int64_t ckpt_every = 0;     // 0 = only at the end / on SIGINT
  int keep_ckpts = 2;         // newest checkpoints kept
  std::string out_dir;
  bool quiet = false;
};

// c.lr, c.adamw and c.clip from the spec, for c.steps steps.
void set_optimizer(TrainConfig& c, const OptimSpec& o);

struct MicroResult {
  int64_t tokens = 0;                              // tokens processed (throughput)
  std::map<std::string, double> metrics;           // must contain "loss"; averaged over micro-steps
  std::vector<std::vector<int64_t>> expert_load;   // [total_layers][E] or empty; summed over micro-steps
};

// A training stage: supplies the loss of each micro-batch; the Trainer does the rest.
class TrainStage {
 public:
  virtual ~TrainStage() = default;
  // Forward + backward of micro-batch `micro` of optimizer step `step`, accumulating into m's gradients.
  virtual MicroResult micro_step(LanguageModel& m, int64_t step, int micro) = 0;
  // Periodic evaluation (every eval_every steps and at the end); keys become metrics of that step.
  virtual std::map<std::string, double> evaluate(LanguageModel&, int64_t step) { return {}; }
  virtual nlohmann::json state() const { return nlohmann::json::object(); }  // saved in checkpoints
  virtual void restore(const nlohmann::json&) {}
  // Extra files written into every checkpoint and final directory (e.g. the tokenizer).
  virtual void save_extra(const std::string& dir) const {}
  // State a resume needs that lives in files of the checkpoint only (PPO: the critic's weights and moments); read
  // back by resume() before restore().
  virtual void save_resume_files(const std::string& ckpt_dir) const {}
  virtual void load_resume_files(const std::string& ckpt_dir) {}
};

class Trainer {
 public:
  // Enables m's gradients; AdamW updates m.trainable_spans(), the bias rule m.router_bias(layer).
  Trainer(LanguageModel& m, TrainConfig c, TrainStage& stage);
  int64_t resume();          // newest checkpoint's step (0 if none); metrics.jsonl lines past it are dropped
  // Steps until c.steps (or until step `until` when > 0, e.g. to test resume); saves a checkpoint and returns false
  // when it stops early (SIGINT or `until`), true when training is complete.
  bool run(int64_t until = 0);
  void save_checkpoint();    // out_dir/ckpt-<step> (via out_dir/ckpt-tmp + rename)
  void save_final(const std::string& dir);  // a model directory: config.json, model.safetensors, extras
  int64_t step() const { return step_; }
  std::vector<double> losses;                 // loss of each step run by this object
  std::map<std::string, double> last_eval;    // the latest evaluate() result
  double train_seconds = 0;                   // wall time in steps (excl. eval / checkpoints) this session

 private:
  void log_step(nlohmann::json& j);
  LanguageModel& m_;
  TrainConfig c_;
  TrainStage& stage_;
  AdamW opt_;
  int64_t step_ = 0, tokens_seen_ = 0;
  double elapsed_ = 0, step_time_ema_ = 0;
};

std::string latest_checkpoint(const std::string& out_dir);  // "" if none
std::string format_duration(double seconds);                 // "4m12s"

}  // namespace nanoseek
