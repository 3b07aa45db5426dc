// nanoseek sft --model DIR --data FILE.jsonl --out DIR [--steps N | --epochs E] [--lr ...] [--resume]
// Supervised fine-tuning on chat JSONL (loss on assistant tokens only), with the shared Trainer: checkpoints,
// metrics.jsonl, Ctrl-C saves OUT/ckpt-STEP and exits 130. OUT/final is a model directory (with eval.json).
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "cli/command.h"
#include "train/sft.h"

namespace nanoseek {
namespace {

int run(const SftOptions& o) {
  const SftResult r = run_sft(o);
  if (!r.completed) return 130;
  std::string tail;
  if (r.final_eval.count("val_loss"))
    tail = fmt::format("; val_loss {:.4f} -> {:.4f}", r.initial_val_loss, r.final_eval.at("val_loss"));
  fmt::print("done: {} steps, train loss {:.4f} -> {:.4f}{}; {} training, {} total\n", r.steps,
             r.losses.empty() ? std::nan("") : r.losses.front(), r.losses.empty() ? std::nan("") : r.losses.back(),
             tail, format_duration(r.train_seconds), format_duration(r.total_seconds));
  return 0;
}

const bool registered = cli::add_command({"sft", "Supervised fine-tuning on chat JSONL (loss on assistant tokens; "
                                          "packed samples, resumable checkpoints)", 45,
    [](CLI::App& app) -> cli::Runner {
      auto o = std::make_shared<SftOptions>();
      app.add_option("--model", o->model_dir, "Initial model directory (weights + tokenizer [+ eval.json])")
          ->required();
      app.add_option("--data", o->data, "Chat JSONL: {\"messages\":[{\"role\",\"content\"},...]} per line")->required();
      app.add_option("--out", o->out_dir, "Output directory (checkpoints, metrics.jsonl, final/)")->required();
      app.add_option("--steps", o->steps, "Optimizer steps (0 = from --epochs)")->capture_default_str();
      app.add_option("--epochs", o->epochs, "Epochs over the training samples when --steps is 0")->capture_default_str();
      app.add_option("--batch-size", o->batch_size, "Rows per micro-batch")->capture_default_str();
      app.add_option("--seq-len", o->seq_len, "Tokens per row (longer samples are truncated)")->capture_default_str();
      app.add_option("--grad-accum", o->grad_accum, "Micro-batches per optimizer step")->capture_default_str();
      app.add_option("--lr", o->lr, "Peak learning rate")->capture_default_str();
      app.add_option("--min-lr", o->min_lr, "Final learning rate")->capture_default_str();
      app.add_option("--warmup", o->warmup, "Warmup steps")->capture_default_str();
      app.add_option("--schedule", o->schedule, "cosine | wsd | constant")->capture_default_str();
      app.add_option("--weight-decay", o->weight_decay, "AdamW weight decay")->capture_default_str();
      app.add_option("--clip", o->clip, "Global gradient-norm clip (0 = off)")->capture_default_str();
      app.add_option("--mtp-lambda", o->mtp_lambda, "MTP loss weight (0 = main head only)")->capture_default_str();
      app.add_option("--gamma", o->gamma, "Aux-loss-free router bias speed (0 = keep)")->capture_default_str();
      app.add_option("--rendering", o->rendering, "auto | plain | r1-zero | template | template:NAME")
          ->capture_default_str();
      app.add_option("--val-fraction", o->val_fraction, "Share of samples held out for val_loss")
          ->capture_default_str();
      app.add_option("--threads", o->threads, "OpenMP threads (0 = default)")->capture_default_str();
      app.add_option("--seed", o->seed, "Held-out split and shuffling seed")->capture_default_str();
      app.add_option("--log-every", o->log_every, "Progress line period (steps)")->capture_default_str();
      app.add_option("--eval-every", o->eval_every, "val_loss period (0 = at the end)")->capture_default_str();
      app.add_option("--ckpt-every", o->ckpt_every, "Checkpoint period (0 = at the end / Ctrl-C)")
          ->capture_default_str();
      app.add_flag("--resume", o->resume, "Continue from the newest OUT/ckpt-STEP");
      app.add_flag("--quiet", o->quiet, "No progress output");
      return [o] { return run(*o); };
    }});

}  // namespace
}  // namespace nanoseek
