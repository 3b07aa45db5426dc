#include "core/stop.h"

#include <atomic>
#include <csignal>

namespace nanoseek {
namespace {

std::atomic<int> g_stop{0};
std::atomic<int> g_last_stop{0};
int g_depth = 0;   // nested scopes (a pipeline around its trainers) keep a request made in the outer one
std::string g_resume_hint;

extern "C" void on_stop_signal(int sig) {
  g_stop = sig;
  g_last_stop = sig;
  std::signal(sig, SIG_DFL);  // a second one kills
}

}  // namespace

StopOnSignals::StopOnSignals() {
  if (g_depth++ == 0) g_stop = 0;
  prev_int_ = std::signal(SIGINT, on_stop_signal);
  prev_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopOnSignals::~StopOnSignals() {
  --g_depth;
  std::signal(SIGINT, prev_int_ == SIG_ERR ? SIG_DFL : prev_int_);
  std::signal(SIGTERM, prev_term_ == SIG_ERR ? SIG_DFL : prev_term_);
}

int stop_requested() { return g_stop.load(); }
int stop_exit_code() { return 128 + (g_last_stop ? g_last_stop.load() : SIGINT); }

std::string stop_name(int sig) { return sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted (SIGINT)"; }

void throw_if_stop_requested(const std::string& what) {
  if (const int sig = stop_requested()) throw Interrupted(stop_name(sig) + ": " + what);
}

void set_resume_hint(std::string command) { g_resume_hint = std::move(command); }
std::string resume_hint() { return g_resume_hint.empty() ? "the same command with --resume" : g_resume_hint; }

}  // namespace nanoseek
