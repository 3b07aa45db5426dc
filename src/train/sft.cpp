#include "train/sft.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/rng.h"
#include "model/model.h"

namespace nanoseek {

SftStage::SftStage(const LanguageModel& m, ChatPacker tr, std::optional<ChatPacker> va, LossConfig lc,
                   std::string init_dir)
    : ws(m.plan(tr.B, tr.T, true)),
      train(std::move(tr)),
      val(std::move(va)),
      lc_(lc),
      init_dir_(std::move(init_dir)) {
  check(!val || (val->B == train.B && val->T == train.T), "sft: validation batches must have the training shape");
}

MicroResult SftStage::micro_step(LanguageModel& m, int64_t, int) {
  const Batch b = train.next();
  StepStats s = m.forward(b, *ws, lc_);
  m.backward(b, *ws, lc_);
  MicroResult out;
  out.tokens = b.B * b.T;
  out.metrics = {{"loss", s.loss}, {"ce_loss", s.ce}, {"target_tokens", double(s.ce_count)}};
  if (m.has_mtp()) out.metrics["mtp_loss"] = s.mtp;
  out.expert_load = std::move(s.expert_load);
  return out;
}

nlohmann::json SftStage::state() const { return {{"epoch", train.pos().epoch}, {"cursor", train.pos().cursor}}; }

void SftStage::restore(const nlohmann::json& j) {
  train.set_pos({j.at("epoch").get<int64_t>(), j.at("cursor").get<int64_t>()});
}

std::map<std::string, double> SftStage::evaluate(LanguageModel& m, int64_t) {
  if (!val) return {};
  const LossConfig main_only{0.0, 0.0};
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < val->rows(); r += val->B) {
    const Batch b = val->rows_at(r);
    const StepStats s = m.forward(b, *ws, main_only);
    sum += s.ce * double(s.ce_count);
    count += s.ce_count;
  }
  return {{"val_loss", count ? sum / double(count) : 0.0}};
}

void SftStage::save_extra(const std::string& dir) const {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"})
    if (file_exists(init_dir_ + "/" + f)) write_file_atomic(dir + "/" + f, read_file(init_dir_ + "/" + f));
}

namespace {

double mib(double bytes) { return bytes / double(1 << 20); }

void check_options(const SftOptions& o) {
  check(!o.model_dir.empty() && !o.data.empty() && !o.out_dir.empty(), "sft: model dir, data file and out dir are "
        "required");
  check(o.steps >= 0 && (o.steps > 0 || o.epochs > 0), "sft: need steps > 0 or epochs > 0 (steps {}, epochs {})",
        o.steps, o.epochs);
  check(o.batch_size > 0 && o.seq_len > 1 && o.grad_accum > 0, "sft: batch_size, seq_len (> 1) and grad_accum must "
        "be positive (got {}, {}, {})", o.batch_size, o.seq_len, o.grad_accum);
  o.optim.check("sft");
  check(o.val_fraction >= 0 && o.val_fraction < 1, "sft: val_fraction must be in [0, 1), got {}", o.val_fraction);
  check(o.mtp_lambda >= 0 && o.gamma >= 0, "sft: mtp_lambda and gamma must be >= 0");
}

// A finished run (OUT/final/eval.json, written with final/ as one rename): its metrics, and nothing to do.
bool finished(const std::string& out, SftResult& res, bool quiet) {
  const std::string ev = out + "/final/eval.json";
  if (!file_exists(ev)) return false;
  const auto j = nlohmann::json::parse(read_file(ev), nullptr, false);
  check(!j.is_discarded() && j.is_object(), "{}: not a JSON object", ev);
  res.completed = true;
  res.final_dir = out + "/final";
  res.steps = j.value("steps", int64_t(0));
  res.train_seconds = j.value("train_seconds", 0.0);
  res.initial_val_loss = std::nan("");
  for (const auto& [k, v] : j.items())
    if (v.is_number()) res.final_eval[k] = v.get<double>();
  if (!quiet) fmt::print("{}: the run is complete ({} steps; final model {}); nothing to resume\n", out, res.steps,
                         res.final_dir);
  return true;
}

// Held-out samples: a seeded choice of round(val_fraction·n) (at least 1 when the fraction is > 0), never all.
std::vector<bool> held_out(int64_t n, double frac, uint64_t seed) {
  std::vector<bool> is_val(size_t(n), false);
  if (frac <= 0) return is_val;
  const int64_t k = std::max<int64_t>(1, std::llround(frac * double(n)));
  check(k < n, "sft: val_fraction {} of {} samples leaves nothing to train on (use --val-fraction 0)", frac, n);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  Rng r = Rng::derive(seed, 0x5f7);
  for (int64_t i = 0; i < k; ++i) std::swap(idx[size_t(i)], idx[size_t(i) + r.below(uint64_t(n - i))]);
  for (int64_t i = 0; i < k; ++i) is_val[size_t(idx[size_t(i)])] = true;
  return is_val;
}

}  // namespace

SftResult run_sft(const SftOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  check_options(o);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  SftResult done;
  if (o.resume && finished(o.out_dir, done, o.quiet)) return done;
  {
    const std::string cfg = o.model_dir + "/config.json";
    const auto cj = nlohmann::json::parse(read_file(cfg), nullptr, false);
    check(!cj.is_discarded(), "{}: invalid JSON", cfg);
    preflight_training_memory(cj, cfg);
  }
  const std::unique_ptr<LanguageModel> mp = load_language_model(o.model_dir);
  LanguageModel& m = *mp;
  check(file_exists(o.model_dir + "/tokenizer.json"), "{}: no tokenizer.json in the model directory", o.model_dir);
  const Tokenizer tok = Tokenizer::load(o.model_dir);
  check(tok.vocab_size() <= m.vocab_size(), "{}: the tokenizer has {} ids but the model's vocab_size is {}",
        o.model_dir, tok.vocab_size(), m.vocab_size());
  check(o.seq_len <= m.max_positions(), "sft: seq_len {} exceeds the model's max_position_embeddings {}", o.seq_len,
        m.max_positions());
  const ChatRendering rendering = rendering_for_model(o.model_dir, tok, o.rendering);

  // Data: read, split, tokenize.
  const std::vector<ChatSample> samples = read_chat_jsonl(o.data);
  check(!samples.empty(), "{}: no samples", o.data);
  const std::vector<bool> is_val = held_out(int64_t(samples.size()), o.val_fraction, o.seed);
  std::vector<TokenizedSample> tr, va;
  for (size_t i = 0; i < samples.size(); ++i) (is_val[i] ? va : tr).push_back(tokenize_chat(samples[i], tok, rendering));
  const int32_t pad = tok.eos_id() >= 0 ? tok.eos_id() : 0;
  SftResult res;
  res.train_samples = int64_t(tr.size());
  res.val_samples = int64_t(va.size());
  ChatPacker train(std::move(tr), o.batch_size, o.seq_len, o.seed, true, pad);
  std::optional<ChatPacker> val;
  if (!va.empty()) val.emplace(std::move(va), o.batch_size, o.seq_len, o.seed, false, pad);
  res.truncated = train.truncated() + (val ? val->truncated() : 0);
  check(train.loss_tokens() > 0, "{}: no assistant token is left to train on within seq_len {}", o.data, o.seq_len);

  const int64_t per_step_rows = o.batch_size * o.grad_accum;
  const int64_t steps = o.steps > 0 ? o.steps
                                    : std::max<int64_t>(1, int64_t(std::ceil(o.epochs * double(train.rows()) /
                                                                             double(per_step_rows))));
  check(o.optim.warmup < steps, "sft: warmup ({}) must be < steps ({})", o.optim.warmup, steps);

  m.enable_grad();
  SftStage stage(m, std::move(train), std::move(val), LossConfig{o.mtp_lambda, 0.0}, o.model_dir);
  TrainConfig tc;
  tc.steps = steps;
  tc.grad_accum = o.grad_accum;
  set_optimizer(tc, o.optim);
  tc.gamma = m.has_router_bias() ? o.gamma : 0.0;
  tc.log_every = o.log_every;
  tc.eval_every = o.eval_every;
  tc.ckpt_every = o.ckpt_every;
  tc.keep_ckpts = o.keep_ckpts;
  tc.out_dir = o.out_dir;
  tc.quiet = o.quiet;
  tc.seed = o.seed;
  tc.fingerprint = {{"model", o.model_dir}, {"data", o.data}, {"batch_size", o.batch_size}, {"seq_len", o.seq_len},
                    {"grad_accum", o.grad_accum}, {"seed", o.seed}, {"val_fraction", o.val_fraction},
                    {"rendering", rendering.name()}};

  if (!o.quiet) {
    const ChatPacker& t = stage.train;
    const ModelSummary mc = summarize_config(m.config_json(), o.model_dir, o.seq_len);
    fmt::print("model: {} ({}, {} params, {} active/token, {} MTP); rendering {}\n", o.model_dir, mc.model_type,
               mc.total_params, mc.active_params_per_token, mc.mtp_params, rendering.name());
    fmt::print("data: {}: {} train + {} val samples; {} truncated to seq_len {}; {} rows/epoch ({:.0f}% filled), "
               "{} target tokens/epoch\n", o.data, res.train_samples, res.val_samples, res.truncated, o.seq_len,
               t.rows(), 100 * t.fill(), t.loss_tokens());
    fmt::print("batch: B {} x T {} x accum {} = {} rows ({} positions)/step; {} steps = {:.2f} epochs\n",
               o.batch_size, o.seq_len, o.grad_accum, per_step_rows, per_step_rows * o.seq_len, steps,
               double(steps * per_step_rows) / double(t.rows()));
    const double pb = double(m.param_buffer().size() * sizeof(float));
    const double cb = tc.precision == Precision::Bf16 ? pb / 2 : 0;   // the trainer's bf16 weight copy
    fmt::print("memory: params {:.1f} MiB, grads {:.1f} MiB, Adam moments {:.1f} MiB, activations {:.1f} MiB "
               "(B x T = {} x {}){}, total {:.1f} MiB; {} threads\n",
               mib(pb), mib(pb), mib(2 * pb), mib(double(stage.ws->bytes)), o.batch_size, o.seq_len,
               cb > 0 ? fmt::format(", bf16 weight copy {:.1f} MiB", mib(cb)) : "",
               mib(4 * pb + double(stage.ws->bytes) + cb), omp_get_max_threads());
  }

  Trainer trainer(m, tc, stage);
  res.initial_val_loss = std::nan("");
  if (!(o.resume && trainer.resume() > 0) && stage.val) {
    res.initial_val_loss = stage.evaluate(m, 0).at("val_loss");
    if (!o.quiet) fmt::print("val_loss before training: {:.4f}\n", res.initial_val_loss);
  }
  res.completed = trainer.run();
  res.steps = trainer.step();
  res.losses = trainer.losses;
  res.train_seconds = trainer.train_seconds;
  res.final_eval = trainer.last_eval;
  if (res.completed) {
    res.final_dir = o.out_dir + "/final";
    nlohmann::json ev = nlohmann::json::object();
    const std::string init_ev = o.model_dir + "/eval.json";
    if (file_exists(init_ev)) {
      const auto j = read_json_file(init_ev);
      check(j.is_object(), "{}: not a JSON object", init_ev);
      for (const char* k : {"prompt_format", "tasks"})
        if (j.contains(k)) ev[k] = j[k];
    }
    if (!rendering.use_template) ev["prompt_format"] = prompt_format_name(rendering.format);
    ev["stage"] = "sft";
    ev["init"] = o.model_dir;
    ev["data"] = o.data;
    ev["rendering"] = rendering.name();
    ev["steps"] = res.steps;
    ev["train_seconds"] = res.train_seconds;
    ev["threads"] = omp_get_max_threads();
    ev["seed"] = o.seed;
    for (const auto& [k, v] : res.final_eval) ev[k] = v;
    trainer.save_final(res.final_dir, {{"eval.json", ev.dump(1) + "\n"}});
    if (!o.quiet) fmt::print("final model: {}\n", res.final_dir);
  }
  res.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace nanoseek
