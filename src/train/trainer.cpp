#include "train/trainer.h"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <algorithm>

#include "core/dtype.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/fs.h"
#include "core/safetensors.h"
#include "core/stop.h"
#include "model/memory_preflight.h"
#include "model/model.h"
#include "ops/linear.h"

namespace nanoseek {
namespace fs = std::filesystem;
namespace {


double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Keeps the lines of a per-step log (metrics.jsonl, completions.jsonl) whose step is <= keep_step (a resumed run
// rewrites what follows).
void truncate_log(const std::string& path, int64_t keep_step) {
  if (!file_exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = parse_json_line(line, path);
    } catch (const Error&) {
      continue;   // a line cut short by the interruption
    }
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer() || j["step"].get<int64_t>() > keep_step)
      continue;
    out += line + "\n";
  }
  write_file_atomic(path, out);
}

// The step of a checkpoint directory "ckpt-<digits>"; a number beyond int64 is an Error naming the directory.
int64_t ckpt_step(const std::string& dir_path, const std::string& digits) {
  int64_t s = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), s);
  check(ec == std::errc() && end == digits.data() + digits.size(),
        "{}: checkpoint directory name has a step number out of range (at most {})", dir_path,
        std::numeric_limits<int64_t>::max());
  return s;
}

}  // namespace


std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const int64_t t = int64_t(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

std::string latest_checkpoint(const std::string& out_dir) {
  if (!dir_exists(out_dir)) return "";
  int64_t best = -1;
  std::string path;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("ckpt-", 0) != 0 || name == "ckpt-tmp") continue;
    const std::string num = name.substr(5);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!file_exists(e.path().string() + "/trainer_state.json")) continue;
    const int64_t s = ckpt_step(e.path().string(), num);
    if (s > best) best = s, path = e.path().string();
  }
  return path;
}

void OptimSpec::check(const std::string& where) const {
  nanoseek::check(lr > 0 && min_lr >= 0, "{}: lr must be > 0 and min_lr >= 0 (got {}, {})", where, lr, min_lr);
  nanoseek::check(warmup >= 0, "{}: warmup must be >= 0 (got {})", where, warmup);
  nanoseek::check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "{}: AdamW betas must be in [0, 1) (got {}, {})",
                  where, beta1, beta2);
  nanoseek::check(eps > 0 && weight_decay >= 0 && clip >= 0, "{}: eps must be > 0, weight_decay and clip >= 0", where);
  nanoseek::check(decay_frac >= 0 && decay_frac <= 1, "{}: decay_frac must be in [0, 1] (got {})", where, decay_frac);
}

void set_optimizer(TrainConfig& c, const OptimSpec& o) {
  c.lr = LrSchedule{o.schedule, o.lr, o.min_lr, o.warmup, c.steps, o.decay_frac};
  c.adamw = AdamWConfig{o.beta1, o.beta2, o.eps, o.weight_decay};
  c.clip = o.clip;
  c.precision = o.precision;
}

namespace {
void check_train_config(const TrainConfig& c) {
  check(!c.out_dir.empty(), "trainer: out_dir is empty");
  check(c.steps > 0 && c.grad_accum > 0, "trainer: steps ({}) and grad_accum ({}) must be > 0", c.steps,
        c.grad_accum);
  check(c.log_every >= 1, "trainer: log_every must be >= 1 (got {})", c.log_every);
  check(c.eval_every >= 0 && c.ckpt_every >= 0, "trainer: eval_every ({}) and ckpt_every ({}) must be >= 0",
        c.eval_every, c.ckpt_every);
  check(c.keep_ckpts >= 1, "trainer: keep_ckpts must be >= 1 (got {})", c.keep_ckpts);
}

// Leftovers of a run killed mid-write (the caller holds OUT: no other writer is there): final.tmp-PID directories
// and AtomicFile temporaries (NAME.tmp.PID.N) at the top level.
void remove_stale_temps(const std::string& out) {
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("final.tmp-", 0) == 0 || n == "ckpt-tmp" || n.find(".tmp.") != std::string::npos) {
      std::error_code ec;
      fs::remove_all(e.path(), ec);
    }
  }
}
}  // namespace

Trainer::Trainer(LanguageModel& m, TrainConfig c, TrainStage& stage)
    : m_((m.enable_grad(), m)), c_(std::move(c)), stage_(stage), opt_(m_, c_.adamw) {
  check_train_config(c_);
  if (c_.precision == Precision::Bf16) {
    check(bf16_compute_available(), "precision = bf16: {}", bf16_compute_unavailable());
    bf16_params_.resize(m_.param_buffer().size());
  }
  make_dirs(c_.out_dir);
  remove_stale_temps(c_.out_dir);
}

void Trainer::save_model(const std::string& dir) {
  m_.save(dir, DType::F32);
  stage_.save_extra(dir);
}

void Trainer::save_final(const std::string& dir, const std::map<std::string, std::string>& files) {
  // Written whole into DIR.tmp-PID, then renamed: a reader (or a resumed run) sees no final/ or a complete one.
  const std::string tmp = fmt::format("{}.tmp-{}", dir, getpid());
  fs::remove_all(tmp);
  save_model(tmp);
  for (const auto& [name, bytes] : files) write_file_atomic(tmp + "/" + name, bytes);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) fail("{}: cannot replace the previous final directory: {}", dir, ec.message());
  fs::rename(tmp, dir, ec);
  if (ec) fail("{}: rename from {} failed: {}", dir, tmp, ec.message());
}

void Trainer::save_checkpoint() {
  const std::string final_dir = fmt::format("{}/ckpt-{}", c_.out_dir, step_);
  if (dir_exists(final_dir)) return;  // already saved at this step
  const std::string tmp = c_.out_dir + "/ckpt-tmp";
  fs::remove_all(tmp);
  save_model(tmp);
  stage_.save_resume_files(tmp);
  const std::vector<int64_t> shape{int64_t(opt_.m.size())};
  const TensorWrite moments[] = {{"exp_avg", DType::F32, shape, opt_.m.data()},
                                 {"exp_avg_sq", DType::F32, shape, opt_.v.data()}};
  write_safetensors(tmp + "/optimizer.safetensors", moments);
  // threads and seed: a run is bitwise reproducible for a fixed seed and thread count, so both are recorded
  const nlohmann::json st = {{"step", step_}, {"adam_t", opt_.t}, {"tokens_seen", tokens_seen_},
                             {"elapsed_s", elapsed_}, {"stage", stage_.state()}, {"threads", omp_get_max_threads()},
                             {"seed", c_.seed}, {"fingerprint", c_.fingerprint}, {"last_log", last_log_}};
  write_file_atomic(tmp + "/trainer_state.json", st.dump(1) + "\n");  // written last: marks a complete checkpoint
  fs::rename(tmp, final_dir);  // atomic on POSIX: readers see no checkpoint or a whole one
  // Drop the oldest checkpoints beyond keep_ckpts.
  std::vector<std::pair<int64_t, std::string>> all;
  for (const auto& e : fs::directory_iterator(c_.out_dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("ckpt-", 0) == 0 && n != "ckpt-tmp" &&
        n.find_first_not_of("0123456789", 5) == std::string::npos)
      all.push_back({ckpt_step(e.path().string(), n.substr(5)), e.path().string()});
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + size_t(std::max(1, c_.keep_ckpts)) < all.size(); ++i) fs::remove_all(all[i].second);
}

int64_t Trainer::resume() {
  const std::string dir = latest_checkpoint(c_.out_dir);
  if (dir.empty()) return 0;
  const std::string state_path = dir + "/trainer_state.json";
  const auto st = read_json_file(state_path);
  const int64_t step = json_int(st, "step", state_path), adam_t = json_int(st, "adam_t", state_path);
  const int64_t tokens_seen = json_int(st, "tokens_seen", state_path);
  const double elapsed = json_number(st, "elapsed_s", state_path);
  check(step >= 0 && adam_t >= 0 && tokens_seen >= 0, "{}: step, adam_t and tokens_seen must be >= 0", state_path);
  m_.load_weights(dir);
  const Checkpoint ck = Checkpoint::open(dir + "/optimizer.safetensors");
  const std::vector<int64_t> shape{int64_t(opt_.m.size())};
  ck.read_f32("exp_avg", shape, opt_.m.data());
  ck.read_f32("exp_avg_sq", shape, opt_.v.data());
  step_ = step;
  opt_.t = adam_t;
  tokens_seen_ = tokens_seen;
  elapsed_ = elapsed;
  check_fingerprint(st.value("fingerprint", nlohmann::json()), dir);
  stage_.load_resume_files(dir);
  try {   // the stage's own fields (loader position ...): a wrong type there names the file too
    stage_.restore(json_need(st, "stage", state_path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: field 'stage': {}", state_path, e.what());
  }
  last_log_ = st.value("last_log", nlohmann::json::object());
  // A run resumed at its last step stopped between that checkpoint and the end (the final evaluation): run() redoes
  // the evaluation and writes the step's line again, so it is dropped here with the lines that follow.
  redo_final_eval_ = step_ >= c_.steps;
  const int64_t keep = redo_final_eval_ ? step_ - 1 : step_;
  truncate_log(c_.out_dir + "/metrics.jsonl", keep);
  for (const std::string& log : stage_.logs()) truncate_log(c_.out_dir + "/" + log, step_ - 1);  // steps from 0
  if (!c_.quiet) fmt::print("resumed from {} (step {}, {} tokens seen)\n", dir, step_, tokens_seen_);
  return step_;
}

void Trainer::check_fingerprint(const nlohmann::json& saved, const std::string& ckpt) const {
  if (saved.is_null() || c_.fingerprint.is_null() || saved == c_.fingerprint) return;
  std::string diff;
  auto show = [](const nlohmann::json& v) { return v.is_null() ? std::string("(absent)") : v.dump(); };
  if (saved.is_object() && c_.fingerprint.is_object()) {
    for (const auto& [k, v] : c_.fingerprint.items())
      if (!saved.contains(k) || saved[k] != v)
        diff += fmt::format("\n  {}: checkpoint {} vs now {}", k, show(saved.value(k, nlohmann::json())), show(v));
    for (const auto& [k, v] : saved.items())
      if (!c_.fingerprint.contains(k)) diff += fmt::format("\n  {}: checkpoint {} vs now (absent)", k, show(v));
  }
  fail("{}: --resume with a different recipe than the run was started with:{}\n(resume with the original settings, "
       "or start a new run with --overwrite or another --out)", ckpt, diff.empty() ? " " + c_.fingerprint.dump() : diff);
}

void Trainer::log_step(nlohmann::json& j) { append_line(c_.out_dir + "/metrics.jsonl", j.dump()); }

bool Trainer::run(int64_t until) {
  // SIGINT and SIGTERM stop the run at the end of the current step, with a checkpoint (core/stop.h)
  const StopOnSignals stop_scope;
  if (redo_final_eval_) {
    redo_final_eval_ = false;
    // resumed after the last step's checkpoint, before the end: the final evaluation again, then its log line
    nlohmann::json j = last_log_.is_object() ? last_log_ : nlohmann::json::object();
    j["step"] = step_;
    last_eval = stage_.evaluate(m_, step_);
    for (auto& [name, v] : last_eval) j[name] = v;
    log_step(j);
  }
  const int64_t L = m_.routed_layers();
  bool interrupted = false;
  while (step_ < c_.steps) {
    const double t0 = now_s();
    m_.zero_grad();
    std::map<std::string, double> sums;
    std::vector<std::vector<int64_t>> load(L);
    int64_t tokens = 0;
    const bool bf16 = c_.precision == Precision::Bf16;
    if (bf16)   // the weights as this step's matmuls read them (ops/gemm_bf16.h)
      f32_to_bf16_n(bf16_params_.data(), m_.param_buffer().data(), bf16_params_.size());
    for (int k = 0; k < c_.grad_accum; ++k) {
      const Bf16ComputeScope compute(bf16);
      const Bf16WeightScope weights(bf16 ? m_.param_buffer().data() : nullptr, bf16_params_.data(),
                                    bf16_params_.size());
      MicroResult r = stage_.micro_step(m_, step_, k);
      tokens += r.tokens;
      for (auto& [name, v] : r.metrics) sums[name] += v;
      for (size_t l = 0; l < r.expert_load.size() && l < size_t(L); ++l) {
        if (load[l].empty()) load[l].assign(r.expert_load[l].size(), 0);
        for (size_t e = 0; e < r.expert_load[l].size(); ++e) load[l][e] += r.expert_load[l][e];
      }
    }
    if (c_.grad_accum > 1) scale_grads(opt_, m_.grad_buffer().data(), 1.f / float(c_.grad_accum));
    const double gnorm = grad_norm(opt_, m_.grad_buffer().data());
    if (c_.clip > 0 && gnorm > c_.clip) scale_grads(opt_, m_.grad_buffer().data(), float(c_.clip / gnorm));
    const double lr = c_.lr.at(step_);
    opt_.step(m_.param_buffer().data(), m_.grad_buffer().data(), lr);
    // Aux-loss-free balancing (spec §2.4): after the optimizer step, from the whole step's load.
    const bool gamma_on = c_.gamma > 0 && double(step_) < c_.gamma_until * double(c_.steps);
    nlohmann::json loads = nlohmann::json::array();
    for (int64_t l = 0; l < L; ++l) {
      if (load[l].empty()) continue;
      const int64_t E = int64_t(load[l].size());
      int64_t mx = 0, tot = 0;
      for (int64_t x : load[l]) mx = std::max(mx, x), tot += x;
      loads.push_back(tot ? double(mx) * double(E) / double(tot) : 0.0);
      float* bias = gamma_on ? m_.router_bias(l) : nullptr;
      if (bias) update_router_bias(bias, load[l].data(), E, float(c_.gamma));
    }
    ++step_;
    tokens_seen_ += tokens;
    const double dt = now_s() - t0;
    train_seconds += dt;
    elapsed_ += dt;
    step_time_ema_ = step_time_ema_ == 0 ? dt : 0.9 * step_time_ema_ + 0.1 * dt;

    nlohmann::json j = {{"step", step_}, {"learning_rate", lr}, {"grad_norm", gnorm}, {"tokens", tokens_seen_},
                        {"tokens_per_s", double(tokens) / dt}, {"elapsed_s", elapsed_}};
    for (auto& [name, v] : sums) j[name] = v / double(c_.grad_accum);
    if (!loads.empty()) {
      double mean = 0, mx = 0;
      for (auto& x : loads) mean += x.get<double>(), mx = std::max(mx, x.get<double>());
      j["expert_load_max_over_mean"] = loads;  // per MoE layer: max load / mean load (1 = perfectly balanced)
      j["expert_load_max_over_mean_avg"] = mean / double(loads.size());
    }
    const double loss = j.value("loss", 0.0);
    losses.push_back(loss);
    check(std::isfinite(loss), "training diverged: loss is {} at step {}", loss, step_);

    if (stop_requested()) interrupted = true;
    const bool pause = !interrupted && until > 0 && step_ >= until && step_ < c_.steps;
    const bool last = step_ == c_.steps;
    if (last) {   // the last checkpoint before the final evaluation: a failure there costs no training
      last_log_ = j;
      save_checkpoint();
    }
    if (!interrupted && ((c_.eval_every > 0 && step_ % c_.eval_every == 0) || last)) {
      last_eval = stage_.evaluate(m_, step_);
      for (auto& [name, v] : last_eval) j[name] = v;
    }
    log_step(j);
    if (!c_.quiet && (step_ % c_.log_every == 0 || last || step_ == 1 || interrupted)) {
      std::string extra;
      for (auto& [name, v] : last_eval)
        if (j.contains(name)) extra += fmt::format(" {} {:.4g}", name, v);
      fmt::print("step {}/{} | loss {:.4f} | lr {:.2e} | gnorm {:.3f} | {:.0f} tok/s | ETA {}{}\n", step_,
                 c_.steps, loss, lr, gnorm, double(tokens) / dt,
                 format_duration(step_time_ema_ * double(c_.steps - step_)), extra);
      std::fflush(stdout);
    }
    last_log_ = j;
    if (interrupted || pause || (c_.ckpt_every > 0 && step_ % c_.ckpt_every == 0)) save_checkpoint();
    if (pause) {
      interrupted = true;
      break;
    }
    if (interrupted) {
      if (!c_.quiet || stop_requested()) {
        const std::string how = resume_hint();
        fmt::print("{}: saved {}/ckpt-{}; continue with: {}\n",
                   stop_requested() ? stop_name(stop_requested()) : "paused", c_.out_dir, step_, how);
        std::fflush(stdout);
      }
      break;
    }
  }
  return !interrupted;
}

void preflight_training_memory(const nlohmann::json& config, const std::string& label) {
  preflight_model_memory(config, label, MemUse::Train);
}

}  // namespace nanoseek
