// The four-stage DeepSeek-R1 pipeline (R1 §2.3) at laptop scale, config-driven from one recipe:
//   0. base model            OUT/base (as r1zero: pretrained unless grpo.init names one)
//   1. cold-start SFT        OUT/cold_start.jsonl (the task suite's readable long / self-check renders) → OUT/sft-cold
//   2. reasoning RL          GRPO ([grpo], rl1_steps) from the SFT model → OUT/rl-reasoning
//   3. rejection-sampling SFT  k samples per problem from stage 2, verified and well-formatted ones kept
//                            (OUT/rejection.jsonl) plus the cold-start data → SFT from the BASE model (as R1 retrains
//                            DeepSeek-V3-Base) → OUT/sft-rs
//   4. all-round RL          GRPO on r1.rl2_tasks with r1.rl2_rewards → OUT/rl-all
// Every stage is evaluated by the R1 protocol on the [r1zero] task and levels; OUT/summary.json has each stage's eval,
// OUT/report.md the table and the RL curves. A stage whose final directory exists is reused (re-running continues).
// Departures from R1: no general-purpose (writing, QA) data or helpfulness/harmlessness reward model — stage 4's
// "all-round" means all our tasks with rule rewards; the rejection filter checks answer and format only (R1 also
// drops mixed-language, long-paragraph and code-block reasoning; our language reward covers the first).
#pragma once
#include <string>
#include <vector>

#include "pipeline/r1zero.h"

namespace nanoseek {

R1ZeroResult run_r1(const std::string& recipe_path, const std::string& out_dir, const std::vector<std::string>& overrides,
                    bool quiet = false);

}  // namespace nanoseek
