// The one training loop every stage shares (pretraining, SFT, GRPO, distillation): the stage supplies the loss,
// the Trainer owns everything else — AdamW, LR schedule, gradient accumulation and clipping, the aux-loss-free
// router-bias update, checkpoints (atomic, resumable bit-exactly), metrics.jsonl, the progress line, SIGINT/SIGTERM.
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

#include "core/stop.h"
#include "model/language_model.h"
#include "ops/gemm_bf16.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace nanoseek {

// One optimizer spec for every stage (AdamW, LR schedule, clip, the matmuls' precision): the same keys in each section of a recipe — train.*,
// grpo.*, sft.*, distill.* — with each stage's own defaults (the paper's values beside them in pipeline/recipe.cpp).
struct OptimSpec {
  double lr = 1e-3, min_lr = 1e-4;
  int64_t warmup = 0;               // linear warmup steps
  LrKind schedule = LrKind::Cosine;
  double decay_frac = 0.2;          // wsd: share of steps in the final decay
  double weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip = 1.0;                // global gradient-norm clip (0 = off)
  Precision precision = Precision::Fp32;   // the training matmuls: fp32, or bf16 compute (ops/gemm_bf16.h)
  // Error naming `where` (e.g. "recipe.toml [train]") when a value is out of range (warmup >= 0; stages that need
  // warmup < steps check that themselves).
  void check(const std::string& where) const;
};

struct TrainConfig {
  int64_t steps = 100, grad_accum = 1;
  LrSchedule lr;
  AdamWConfig adamw;
  double clip = 1.0;          // global-norm clip (0 = off)
  // bf16: each micro-step's matmuls on the BF16 units (ops/gemm_bf16.h), reading a bf16 copy of the weights rounded
  // after every optimizer step; fp32 master weights, gradients and AdamW; evaluations stay fp32. Needs
  // bf16_compute_available() (the Trainer's constructor says why not).
  Precision precision = Precision::Fp32;
  double gamma = 0.001;       // aux-loss-free bias update speed γ (0 = off; spec §2.4)
  double gamma_until = 1.0;   // γ applies for the first gamma_until·steps steps (V3 freezes the bias at the end)
  int64_t log_every = 10;     // progress line period
  int64_t eval_every = 0;     // 0 = only at the end
  int64_t ckpt_every = 0;     // 0 = only at the end / on SIGINT or SIGTERM
  int keep_ckpts = 2;         // newest checkpoints kept
  std::string out_dir;
  bool quiet = false;
  uint64_t seed = 0;              // recorded in trainer_state.json (with the thread count)
  // What must not change between a run and its --resume (the stage's settings: model, data, batch shape, seed...):
  // stored in every checkpoint and compared at resume(); a difference is an Error naming the keys. null = unchecked.
  nlohmann::json fingerprint;
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
  // Per-step JSONL logs the stage appends to in out_dir besides metrics.jsonl, each line with the 0-based "step" of
  // micro_step: resume() drops the lines of steps the checkpoint has not done, as it does metrics.jsonl's.
  virtual std::vector<std::string> logs() const { return {}; }
};

class Trainer {
 public:
  // Enables m's gradients; AdamW updates m.trainable_spans(), the bias rule m.router_bias(layer).
  Trainer(LanguageModel& m, TrainConfig c, TrainStage& stage);
  // Newest checkpoint's step (0 if none); the lines of metrics.jsonl and of the stage's logs() past it are dropped.
  // Error when the checkpoint's fingerprint differs from c.fingerprint.
  int64_t resume();
  // Steps until c.steps (or until step `until` when > 0, e.g. to test resume); saves a checkpoint and returns false
  // when it stops early (SIGINT, SIGTERM or `until`), true when training is complete. The last step's checkpoint is
  // written before the final evaluation; a run resumed from it redoes only that evaluation.
  bool run(int64_t until = 0);
  void save_checkpoint();    // out_dir/ckpt-<step> (via out_dir/ckpt-tmp + rename)
  // A model directory (config.json, model.safetensors, the stage's extras, plus `files`: name → bytes, e.g.
  // eval.json), written into DIR.tmp-PID and renamed onto DIR, replacing what was there.
  void save_final(const std::string& dir, const std::map<std::string, std::string>& files = {});
  int64_t step() const { return step_; }
  std::vector<double> losses;                 // loss of each step run by this object
  std::map<std::string, double> last_eval;    // the latest evaluate() result
  double train_seconds = 0;                   // wall time in steps (excl. eval / checkpoints) this session

 private:
  void log_step(nlohmann::json& j);
  void save_model(const std::string& dir);
  void check_fingerprint(const nlohmann::json& saved, const std::string& ckpt) const;
  LanguageModel& m_;
  TrainConfig c_;
  TrainStage& stage_;
  AdamW opt_;
  int64_t step_ = 0, tokens_seen_ = 0;
  double elapsed_ = 0, step_time_ema_ = 0;
  bool redo_final_eval_ = false;   // resume() found the last step's checkpoint
  std::vector<uint16_t> bf16_params_;   // precision = bf16: the weights rounded after each optimizer step
  nlohmann::json last_log_;   // the latest step's metrics line (kept in checkpoints for a redone final evaluation)
};

// Memory preflight before a model of `config` is allocated for training: params + grads + AdamW moments against
// MemAvailable (core/fs.h check_memory; NANOSEEK_NO_MEM_CHECK=1 skips it).
void preflight_training_memory(const nlohmann::json& config, const std::string& label);


std::string latest_checkpoint(const std::string& out_dir);  // "" if none
std::string format_duration(double seconds);                 // "4m12s"

}  // namespace nanoseek
