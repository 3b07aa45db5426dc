// Graceful stops. Inside a StopOnSignals scope, SIGINT (Ctrl-C) and SIGTERM (docker stop, batch schedulers) do not
// kill the process: they set a flag that the long loops poll at a safe point — the end of a training step (which
// then saves a checkpoint), the end of a batch of generations (eval, rejection-sample, which then stop without
// writing a partial output). A second signal kills as usual. The exit status is 128 + the signal (130 / 143).
#pragma once
#include <string>

#include "core/error.h"

namespace nanoseek {

class StopOnSignals {
 public:
  StopOnSignals();    // installs the handlers; the outermost scope clears any earlier request
  ~StopOnSignals();   // restores the previous handlers
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  void (*prev_int_)(int);
  void (*prev_term_)(int);
};

int stop_requested();       // the signal that asked to stop in the current scope, 0 if none
int stop_exit_code();       // 128 + the last stop signal (130 when none was seen)
std::string stop_name(int sig);  // "interrupted (SIGINT)" / "terminated (SIGTERM)"

// Thrown by a loop that stops on request without anything to save; main prints its message and exits with
// stop_exit_code().
struct Interrupted : Error {
  using Error::Error;
};

// Throws Interrupted("<stop_name>: <what>") when a stop was requested.
void throw_if_stop_requested(const std::string& what);

// The command line that continues a stopped run (printed when a signal stops it); set once by the CLI.
void set_resume_hint(std::string command);
std::string resume_hint();   // "the same command with --resume" when none was set

}  // namespace nanoseek
