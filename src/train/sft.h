// Supervised fine-tuning (R1 §2.3.1 cold start, §2.3.3 the SFT round): next-token cross-entropy on the assistant
// tokens of chat samples (data/chat_data.h masks, data/chat_pack.h packing), plugged into the shared Trainer.
// The mean is over the masked targets of each micro-batch. The MTP modules see the same masked targets (a module
// predicting past its sample or into a prompt gets −1), weighted by mtp_lambda (0 by default: SFT trains the main
// head; the modules keep their pretrained weights). Either architecture: a DeepSeek-V3 model or a dense student.
//
//   SftOptions o; o.model_dir = "runs/tiny-base/final"; o.data = "cold.jsonl"; o.out_dir = "runs/sft";
//   SftResult r = run_sft(o);     // OUT/final is a model dir (config, weights, tokenizer, eval.json)
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/chat_pack.h"
#include "train/trainer.h"

namespace nanoseek {

class SftStage : public TrainStage {
 public:
  // val may be empty (no held-out samples): evaluate() then reports nothing.
  SftStage(const LanguageModel& m, ChatPacker train, std::optional<ChatPacker> val, LossConfig lc,
           std::string init_dir);
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& j) override;
  std::map<std::string, double> evaluate(LanguageModel& m, int64_t step) override;  // "val_loss": CE over val targets
  void save_extra(const std::string& dir) const override;                    // tokenizer files of the init dir

  std::unique_ptr<Activations> ws;  // planned with grad for B×T; evaluation reuses it forward-only
  ChatPacker train;
  std::optional<ChatPacker> val;

 private:
  LossConfig lc_;
  std::string init_dir_;
};

struct SftOptions {
  std::string model_dir;               // init: a model directory with tokenizer files (eval.json optional)
  std::string data;                    // chat JSONL
  std::string out_dir;
  std::string rendering = "auto";      // auto | plain | r1-zero | template | template:NAME (data/chat_data.h)
  int64_t steps = 0;                   // optimizer steps; 0 = derive from epochs
  double epochs = 1.0;                 // used when steps == 0 (rows of epoch 0 / (batch_size·grad_accum))
  int64_t batch_size = 8, seq_len = 256, grad_accum = 1;
  OptimSpec optim{.lr = 1e-4, .min_lr = 1e-5, .warmup = 0, .weight_decay = 0.0};
  double mtp_lambda = 0.0;             // weight of the MTP loss (0 = main head only)
  double gamma = 0.0;                  // aux-loss-free bias update speed (0: keep the pretrained biases)
  int64_t threads = 0;                 // 0 = OpenMP default
  uint64_t seed = 1;                   // held-out split and shuffling
  double val_fraction = 0.05;          // share of samples held out for val_loss (at least 1 when > 0)
  int64_t log_every = 10, eval_every = 0, ckpt_every = 0;
  int64_t keep_ckpts = 2;
  bool resume = false, quiet = false;
};

struct SftResult {
  bool completed = false;              // false when stopped by SIGINT
  int64_t steps = 0, train_samples = 0, val_samples = 0, truncated = 0;
  double initial_val_loss = 0;         // before the first step (NaN without val samples or on resume)
  std::map<std::string, double> final_eval;
  std::vector<double> losses;          // per step run in this call
  double train_seconds = 0, total_seconds = 0;
  std::string final_dir;               // OUT/final when completed
};

SftResult run_sft(const SftOptions& o);

}  // namespace nanoseek
