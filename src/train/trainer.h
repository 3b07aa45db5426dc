// The one training loop every stage shares (pretraining, SFT, GRPO, distillation): the stage supplies the loss,
// the Trainer owns everything else — AdamW, LR schedule, gradient accumulation and clipping, the aux-loss-free
// router-bias update, checkpoints (atomic, resumable bit-exactly), metrics.jsonl, the progress line, SIGINT.
//
//   struct MyStage : TrainStage { MicroResult micro_step(Model& m, int64_t step, int micro) override {...} };
//   Trainer t(model, cfg, stage);
//   (a dense student, model/dense.h: DenseTrainStage + Trainer(dense_model, cfg, stage), the same loop)
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
#include <type_traits>
#include <vector>

#include "model/dense.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace nanoseek {

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

struct MicroResult {
  int64_t tokens = 0;                              // tokens processed (throughput)
  std::map<std::string, double> metrics;           // must contain "loss"; averaged over micro-steps
  std::vector<std::vector<int64_t>> expert_load;   // [total_layers][E] or empty; summed over micro-steps
};

// What every stage shares whatever the model: its resumable state and extra files.
class StageBase {
 public:
  virtual ~StageBase() = default;
  virtual nlohmann::json state() const { return nlohmann::json::object(); }  // saved in checkpoints
  virtual void restore(const nlohmann::json&) {}
  // Extra files written into every checkpoint and final directory (e.g. the tokenizer).
  virtual void save_extra(const std::string& dir) const {}
};

class TrainStage : public StageBase {
 public:
  // Forward + backward of micro-batch `micro` of optimizer step `step`, accumulating into m.grads.
  virtual MicroResult micro_step(Model& m, int64_t step, int micro) = 0;
  // Periodic evaluation (every eval_every steps and at the end); keys become metrics of that step.
  virtual std::map<std::string, double> evaluate(Model&, int64_t step) { return {}; }
};

// The same for a dense student (no experts: MicroResult::expert_load stays empty).
class DenseTrainStage : public StageBase {
 public:
  virtual MicroResult micro_step(DenseModel& m, int64_t step, int micro) = 0;
  virtual std::map<std::string, double> evaluate(DenseModel&, int64_t step) { return {}; }
};

// Stage base and planned activations for a model type: M = Model (DeepSeek-V3) or DenseModel (Qwen2/Llama).
template <class M>
using StageFor = std::conditional_t<std::is_same_v<M, Model>, TrainStage, DenseTrainStage>;
template <class M>
using ActsFor = std::conditional_t<std::is_same_v<M, Model>, Workspace, DenseActs>;
inline Workspace plan_acts(const Model& m, int64_t B, int64_t T, bool grad) {
  return plan_workspace(m.cfg, B, T, grad);
}
inline DenseActs plan_acts(const DenseModel& m, int64_t B, int64_t T, bool) { return plan_dense_acts(m.cfg, B, T); }
inline size_t acts_bytes(const Workspace& a) { return a.bytes; }
inline size_t acts_bytes(const DenseActs& a) { return a.bytes(); }

// What the Trainer updates, whatever the architecture: flat params/grads, the optimizer's spans, the router biases
// the aux-loss-free rule moves (none for dense), and how a checkpoint saves/loads the weights.
struct Trainable {
  float* params = nullptr;
  float* grads = nullptr;
  size_t total = 0;                    // floats in params and grads
  std::vector<AdamW::Span> spans;      // what AdamW updates (and how)
  int64_t layers = 0;                  // layers the stage may report expert load for
  std::function<float*(int64_t layer)> router_bias;          // nullptr result: no bias in that layer
  std::function<void(const std::string& dir)> save;          // a model directory (config.json + weights)
  std::function<void(const std::string& dir)> load_weights;  // from a directory written by save
};
Trainable trainable(Model& m);        // enables grads
Trainable trainable(DenseModel& m);   // enables grads

class Trainer {
 public:
  // M = Model (stage: TrainStage) or DenseModel (stage: DenseTrainStage).
  template <class M>
  Trainer(M& m, TrainConfig c, StageFor<M>& stage)
      : Trainer(trainable(m), std::move(c), stage,
                [&m, &stage](int64_t step, int k) { return stage.micro_step(m, step, k); },
                [&m, &stage](int64_t step) { return stage.evaluate(m, step); }) {}
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
  Trainer(Trainable t, TrainConfig c, StageBase& stage, std::function<MicroResult(int64_t, int)> micro,
          std::function<std::map<std::string, double>(int64_t)> eval);
  void log_step(nlohmann::json& j);
  Trainable t_;
  TrainConfig c_;
  StageBase& stage_;
  std::function<MicroResult(int64_t, int)> micro_;
  std::function<std::map<std::string, double>(int64_t)> eval_;
  AdamW opt_;
  int64_t step_ = 0, tokens_seen_ = 0;
  double elapsed_ = 0, step_time_ema_ = 0;
};

std::string latest_checkpoint(const std::string& out_dir);  // "" if none
std::string format_duration(double seconds);                 // "4m12s"

}  // namespace nanoseek
