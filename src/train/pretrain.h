// Pretraining: the next-token (+ MTP, + optional balance loss) stage plugged into the shared Trainer, and the
// whole `nanoseek pretrain` pipeline (recipe → corpus → model → train → DIR/final) as a library call so tests
// can run it end to end. The recipe's [model] picks the architecture: DeepSeek-V3 (model_type "deepseek_v3") or a
// dense Qwen2/Llama model ("qwen2" / "llama": next-token loss only; how a distillation student gets its base).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "tokenizer/tokenizer.h"
#include "train/eval.h"
#include "train/pretrain_spec.h"
#include "train/trainer.h"

namespace nanoseek {

class PretrainStage : public TrainStage {
 public:
  PretrainStage(const PretrainSpec& r, const LanguageModel& m, std::shared_ptr<const Shard> train,
                std::shared_ptr<const Shard> val, Tokenizer tok, std::string tokenizer_dir);
  MicroResult micro_step(LanguageModel& m, int64_t step, int micro) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& j) override;
  std::map<std::string, double> evaluate(LanguageModel& m, int64_t step) override;
  void save_extra(const std::string& dir) const override;  // tokenizer.json + tokenizer_config.json

  std::unique_ptr<Activations> ws;  // planned with grad for B×T

 private:
  const PretrainSpec& r_;
  std::shared_ptr<const Shard> train_, val_;
  DataLoader loader_;
  Tokenizer tok_;
  std::string tok_dir_;
  LossConfig lc_;
};

struct PretrainResult {
  bool completed = false;            // false when stopped by SIGINT
  int64_t steps = 0;
  double train_seconds = 0, total_seconds = 0;
  std::vector<double> losses;        // per step run in this call
  std::map<std::string, double> final_eval;
};

// Pretraining from a recipe's base sections: builds (or reuses OUT/corpus) the corpus, trains, writes OUT/final (a
// model dir with the tokenizer) and OUT/final/eval.json (final metrics, prompt_format, tasks). resume continues from
// the newest OUT/ckpt-STEP. (`nanoseek pretrain RECIPE` is pipeline/recipe.h's run_pretrain over a TOML file.)
PretrainResult run_pretrain(PretrainSpec spec, const std::string& out_dir, bool resume, bool quiet = false);

}  // namespace nanoseek
