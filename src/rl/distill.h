// Distillation (R1 §2.4 / issue #5 item 5b): the teacher (any model directory, DeepSeek-V3 or dense) samples k
// completions per training problem; the verified-correct, well-formatted ones become chat data; the student (any
// architecture; R1 distils into dense Qwen2/Llama models) learns them by SFT — loss on completion tokens only — plus,
// optionally, logit KD on the teacher's top-k (rl/kd_loss.h) at every completion position:
//   L = mean_t CE(student_t, y_t) + kd_weight · mean_t KL(p̃_teacher,t || q_student,t)     t ∈ completion tokens
// How this departs from R1: R1 distils 800K curated samples by SFT only (no KD term, no online teacher); here the
// teacher is sampled on the fly and KD is available because teacher and student share the tokenizer.
//
// OUT/distill.jsonl   the kept samples as chat JSONL ({"messages": [user, assistant], "prompt", "completion", ...})
// OUT/metrics.jsonl   one line per optimizer step (train/trainer.h); OUT/ckpt-STEP resumable checkpoints
// OUT/final/          HF model dir of the student: config.json, model.safetensors, the teacher's tokenizer files, eval.json
//                     (prompt_format and tasks for the next stage, distillation counts, student/teacher pass@1)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tasks/task.h"
#include "train/trainer.h"

namespace nanoseek {

struct DistillOptions {
  std::string teacher;              // model dir (DeepSeek-V3 or dense) with its tokenizer
  std::string student;              // CONFIG.json (any model_type; vocab_size := the teacher tokenizer's) or a model dir
  std::string out;
  std::string task = "add";
  std::vector<std::string> levels;  // empty = every level
  int64_t problems = 64;            // training problems per level
  int k = 4;                        // teacher samples per problem
  float temperature = 0.6f, top_p = 0.95f;
  int max_new_tokens = 256;
  std::string format;               // prompt format; "" = the teacher's eval.json prompt_format, else "r1-zero"
  std::string filter = "correct";   // "correct": accuracy and format reward both 1; "all": every sample (debugging)
  int kd_topk = 0;                  // teacher log-probs kept per completion position (0 = SFT only)
  double kd_weight = 0.0;           // weight of the KD term (needs kd_topk > 0)
  int64_t steps = 200, batch_size = 8, grad_accum = 1;
  OptimSpec optim{.lr = 1e-3, .min_lr = 1e-4, .warmup = -1, .weight_decay = 0.0};  // warmup -1 = steps / 10
  int64_t eval_problems = 0;        // per level, held-out TEST pass@1 of student and teacher at the end (0 = skip)
  int64_t max_batch = 64;           // engine slots
  uint64_t seed = 0;
  bool resume = false;              // continue training from the newest OUT/ckpt-STEP (samples are regenerated)
  bool quiet = false;
};

struct DistillResult {
  int64_t generated = 0, kept = 0;  // teacher samples, kept samples
  int64_t correct = 0, well_formatted = 0;
  int64_t completion_tokens = 0;    // in the kept samples (the SFT targets)
  bool completed = false;
  int64_t steps = 0;
  std::vector<double> losses;       // per step run in this call (total loss)
  double train_seconds = 0, generate_seconds = 0;
  nlohmann::json eval;              // student/teacher pass@1 when eval_problems > 0
  std::string final_dir;
};

DistillResult run_distill(const DistillOptions& o);

// The filter: the whole assistant text (prompt pre-fill + completion, rewards.h) is correct and well formatted.
struct SampleJudgement {
  bool correct = false, formatted = false;
};
SampleJudgement judge_sample(const Task& task, const Problem& p, std::string_view assistant_text);

// What the prompt already put on the assistant's side ("<think>\n" for the DeepSeek-R1 template), so the judged text
// is that plus the completion.
std::string assistant_prefill(std::string_view prompt_text);

}  // namespace nanoseek
