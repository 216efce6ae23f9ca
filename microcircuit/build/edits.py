"""The documented edits of the C++ code that NESTML generates for our neuron, applied before compiling.

Each edit is (what it does, regular expression, replacement, how often it must match). An
edit that matches a different number of times stops the build: a NESTML version that
generates different code needs these edits reviewed, not silently skipped.
tests/test_build.py checks that every edit still finds its code in what NESTML generated in the last
build; tests/nest/test_edits.py checks the behaviour each edit is there for, and
``python tests/build_mutations.py`` builds the module with each edit undone in turn and records
which test (or the build) fails (docs/model.md, "The build's code edits").
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import BuildError

# Edits of the C++ that NESTML 9.0 generates, applied before it is compiled. NESTML's templates
# give every spike input port a second ring buffer of "spike received" flags, written for every
# incoming spike and read every step, for the benefit of ``onReceive`` blocks. Our model has no
# ``onReceive`` block, so the flags are never used: dropping them halves the ring-buffer writes
# on the hottest path of a network simulation (spike delivery) and saves a buffer per neuron.
# The unit edit removes a conversion that NESTML emits as two multiplications
# (0.001 * weights * 1000, "1/s" times "pA s"). In floating point the round trip is not the
# identity: it changes the last bit of about 13 % of the summed weights. Without it the
# summed weights enter I_syn exactly as NEST's built-in iaf_psc_exp adds them.
# The remaining edits cut the memory touched per neuron and time step, which is what limits the
# neuron update (perf: most of its time is spent waiting for the ring-buffer and vector cache lines
# of ~10^4 neurons per step): the one spike port's summed weights are read straight into a local
# instead of through a heap-allocated vector, and the current port (used only by the transient DC
# stimulus) is read only by neurons that a current source is connected to; the others skip its
# ring buffer and vector entirely (flag and value sit in the state, beside V_m). The current
# arriving in step k still enters V_m in step k + 1, as in NEST's iaf_psc_exp. The latched value
# needs no reset: it starts at 0 in every neuron (a copy of the never-simulated prototype), and
# NEST initialises a neuron's buffers only once, before its first update.
# The spike port's ring buffer is a member of the neuron (as in NEST's built-in models) instead of
# the one element of a heap-allocated vector: every delivered spike and every step then follow one
# pointer fewer (measured in docs/benchmarks.md).
# The in-neuron background's uniform number is made from the top 53 of 64 random bits of the
# neuron's NEST generator (its raw output through uniform_int_distribution's full range, the
# standard construction of a double in [0, 1)), instead of drand(), whose libstdc++
# std::generate_canonical computes in long double (about twice the time per draw in isolation).
# u differs from drand()'s only in rounding below 2^-53, so the spikes are those of drand()
# (the same spike counts in every benchmark configuration of docs/benchmarks.md).
# NESTML's template also gives every neuron a normal and a Poisson random-deviate object (136 bytes:
# 1 560 instead of 1 424 bytes per neuron before the layout edits below; NEST's iaf_psc_exp has 672)
# that our model never draws from: the header edit drops them.
# The values a step reads sit together, in as few cache lines as possible (before, a step read six cache
# lines of the 1 424-byte neuron besides the node's own two and the ring buffer's slot; a scale-0.05
# network simulated 1.28 times slower on one thread, a full-scale one 1.46 times on two):
# the state starts a cache line and is followed by the propagators, the threshold, the reset and the
# background's weight (copies of the parameters, refreshed with the internal variables: before every run
# and after every change of parameters), then the background's
# distribution function; the rest of the internal variables comes after them. The data logger, whose
# vector of recording devices every step read, is called only in a neuron that a multimeter records.
# docs/benchmarks.md ("What a step reads, in two cache lines") has the layout and the measurements.
_FLAG_BUFFER = re.escape("spike_input_received_( std::vector< nest::RingBuffer >( NUM_SPIKE_RECEPTORS ) )")
CODE_EDITS = [
    ("flag buffers are not allocated (constructors)",
     _FLAG_BUFFER, "spike_input_received_()", 2),
    ("flag buffers are not resized before a run",
     r"\n\s*B_\.spike_input_received_\.resize\(NUM_SPIKE_RECEPTORS\);", "", 1),
    ("no flag is written per incoming spike",
     r"\n\s*B_\.spike_input_received_\[ nestml_buffer_idx - MIN_SPIKE_RECEPTOR \]\.add_value\(\s*"
     r"e\.get_rel_delivery_steps\( nest::kernel\(\)\.simulation_manager\.get_slice_origin\(\) \),\s*1\. \);",
     "", 1),
    ("no flag is read per step",
     r"\n\s*get_spike_input_received_grid_sum_\(\)\[i\] = get_spike_input_received_\(\)\[i\]\.get_value\(lag\);",
     "", 1),
    ("summed spike weights enter I_syn without the 0.001 * ... * 1000 unit round trip",
     re.escape("(0.001 * B_.spike_inputs_grid_sum_[SPIKES - MIN_SPIKE_RECEPTOR]) * V_.psc_unit"),
     "spike_input_sum", 1),
    ("the one spike port is read into a local, not through a vector",
     r"for \(long i = 0; i < NUM_SPIKE_RECEPTORS; \+\+i\)\s*\{\s*"
     r"get_spike_inputs_grid_sum_\(\)\[i\] = get_spike_inputs_\(\)\[i\]\.get_value\(lag\);\s*\}",
     "const double spike_input_sum = B_.spike_input_.get_value(lag);", 1),
    ("the spike port's ring buffer is a member, not the element of a heap-allocated vector (constructors)",
     re.escape("spike_inputs_( std::vector< nest::RingBuffer >( NUM_SPIKE_RECEPTORS ) )"), "spike_inputs_()", 2),
    ("the spike port's ring buffer is cleared (and sized) with the other buffers",
     re.escape("get_spike_inputs_().clear();"), "B_.spike_input_.clear();", 1),
    ("the empty vector is not resized before a run",
     r"\n\s*B_\.spike_inputs_\.resize\(NUM_SPIKE_RECEPTORS\);", "", 1),
    ("incoming spikes are added to the member ring buffer",
     r"\n\s*assert\(e\.get_rport\(\) < B_\.spike_inputs_\.size\(\)\);(.*?)"
     r"B_\.spike_inputs_\[ nestml_buffer_idx - MIN_SPIKE_RECEPTOR \]\.add_value\(",
     "\\1B_.spike_input_.add_value(", 1),
    ("the current port is read only by neurons with a current source",
     r"for \(long i = 0; i < NUM_CONTINUOUS_INPUT_PORTS; \+\+i\)\s*\{\s*"
     r"get_continuous_inputs_grid_sum_\(\)\[i\] = get_continuous_inputs_\(\)\[i\]\.get_value\(lag\);\s*\}",
     "if (S_.has_current_input_)\n    {\n      S_.I_stim_ = B_.continuous_inputs_[I_STIM].get_value(lag);\n    }", 1),
    ("a uniform number in [0, 1) is made from 53 random bits of the same NEST generator, without "
     "std::generate_canonical",
     re.escape("((0) + (1) * nest::get_vp_specific_rng( get_thread() )->drand())"),
     "( [this] { std::uniform_int_distribution< unsigned long > all_bits;"
     " return static_cast< double >( ( *nest::get_vp_specific_rng( get_thread() ) )( all_bits ) >> 11 ) * 0x1.0p-53; }() )", 1),
    ("V_m reads the current port's value from a member",
     re.escape("B_.continuous_inputs_grid_sum_[I_STIM]"), "S_.I_stim_", 1),
    ("the per-step copies of parameters are refreshed with the internal variables (before every run and "
     "after every set_status)",
     r"(void \w+::recompute_internal_variables\(bool exclude_timestep\)\n\{(?:(?!\n\}\n).)*?\n  \}\n)(\}\n)",
     "\\1  V_.V_th_ = P_.V_th;  // microcircuit build.py: per-step copies, beside the state\n"
     "  V_.V_reset_ = P_.V_reset;\n  V_.bg_weight_ = P_.bg_weight;\n\\2", 1),
    ("the threshold is read from its per-step copy", re.escape("S_.V_m >= P_.V_th"), "S_.V_m >= V_.V_th_", 1),
    ("the reset value is read from its per-step copy", re.escape("S_.V_m = P_.V_reset;"), "S_.V_m = V_.V_reset_;", 1),
    ("the background weight is read from its per-step copy",
     re.escape("S_.I_syn += P_.bg_weight * n;"), "S_.I_syn += V_.bg_weight_ * n;", 1),
    ("the data logger is called only in a neuron a multimeter records",
     re.escape("B_.logger_.record_data(origin.get_steps() + lag);"),
     "if (S_.has_logger_)\n    {\n      B_.logger_.record_data(origin.get_steps() + lag);\n    }", 1),
]
# The spike port's ring buffer keeps its slots inside the neuron (inline_ring_buffer.h, copied next to the
# generated code): 64 slots cover min_delay + max_delay of PD14 at 0.1 ms resolution (the longest of
# 3·10^8 delays drawn from N(1.5 ms, 0.75 ms) is about 6 ms); longer delays fall back to a heap vector.
INLINE_RING_BUFFER = "inline_ring_buffer.h"
INLINE_SLOTS = 64
# Edits of the generated header, for the current-port and ring-buffer edits above.
HEADER_EDITS = [
    ("the state gets the current-port flag and value, next to V_m and I_syn",
     re.escape("long refr_count;\n\n    State_();"),
     "long refr_count;\n"
     "    bool has_current_input_ = false;  // microcircuit build.py: a current source is connected\n"
     "    bool has_logger_ = false;  // microcircuit build.py: a multimeter records this neuron\n"
     "    double I_stim_ = 0.;  // microcircuit build.py: current-port value of the last step (pA)\n\n"
     "    State_();", 1),
    ("the buffers get the spike port's ring buffer as a member, its slots inside the neuron",
     re.escape("    std::vector< nest::RingBuffer > spike_inputs_;\n"),
     "    std::vector< nest::RingBuffer > spike_inputs_;  // microcircuit build.py: left empty\n"
     f"    microcircuit::InlineRingBuffer< {INLINE_SLOTS} > spike_input_;  // microcircuit build.py: the one spike "
     "port's ring buffer\n", 1),
    ("the neuron's header includes the inline ring buffer",
     re.escape('#include "ring_buffer.h"\n'), '#include "ring_buffer.h"\n#include "' + INLINE_RING_BUFFER + '"\n', 1),
    ("the random-deviate objects NESTML's template declares for every neuron, unused by our model, are "
     "not members (136 bytes of each neuron)",
     r"\n\s*nest::normal_distribution normal_dev_;[^\n]*\n\s*nest::poisson_distribution poisson_dev_;[^\n]*", "", 1),
    ("connecting a current source sets the flag",
     r"(handles_test_event\(nest::CurrentEvent&, nest_port_t receptor_type\)\n\{.*?)"
     r"(\n  return receptor_type;)",
     "\\1\n  S_.has_current_input_ = true;  // microcircuit build.py\\2", 1),
    ("connecting a multimeter sets the flag",
     r"(handles_test_event\(nest::DataLoggingRequest& dlr, nest_port_t receptor_type\)\n\{"
     r"(?:(?!\n\}\n).)*?\n)  return (B_\.logger_\.connect_logging_device\(dlr, recordablesMap_\));",
     "\\1  const nest_port_t port = \\2;\n  S_.has_logger_ = true;  // microcircuit build.py: once connected\n"
     "  return port;", 1),
    ("the state starts a cache line", re.escape("  State_            S_;"), "  alignas( 64 ) State_ S_;", 1),
    ("the empty struct of delayed variables takes no space between the state and the internal variables",
     re.escape("  DelayedVariables_ DV_;"), "  [[no_unique_address]] DelayedVariables_ DV_;", 1),
    ("the internal variables a step reads come first, with per-step copies of three parameters",
     r"(struct Variables_\n  \{[^\n]*\n)(.*?)(\n  \};)", lambda m: m[1] + _hot_first(m[2]) + m[3], 1),
]
# The internal variables read in every step (generator background) or with the in-neuron background,
# in this order; with the 40-byte state before them and the state at the start of a cache line, the
# first eleven fill the state's two cache lines (128 bytes), the distribution function the next one.
HOT_VARIABLES = ("P11", "P22", "P21", "P20", "V_drive", "refr_steps", "bg_mean", "I_flush",
                 "V_th_", "V_reset_", "bg_weight_", *(f"bg_c{k}" for k in range(8)))
_COPIES = {"V_th_": "spike threshold", "V_reset_": "reset potential", "bg_weight_": "background PSC amplitude"}


def _hot_first(body: str) -> str:
    """The members of NESTML's Variables_ struct with HOT_VARIABLES first (each with its comment lines)."""
    lines = body.split("\n")
    members = {}   # name -> (first line of its comments, its declaration line)
    for i, line in enumerate(lines):
        found = re.fullmatch(r"\s*(?:double|long) (\w+);", line)
        if found:
            start = i
            while start > 0 and lines[start - 1].strip().startswith("//"):
                start -= 1
            members[found[1]] = (start, i)
    missing = [name for name in HOT_VARIABLES if name not in members and name not in _COPIES]
    if missing:
        raise BuildError(f"the internal variables {', '.join(missing)} are not in the generated code "
                         "(the model changed?): the layout edit does not apply")
    hot, taken = [], set()
    for name in HOT_VARIABLES:
        if name in _COPIES:
            hot.append(f"    double {name};  // microcircuit build.py: copy of the {_COPIES[name]}, read every step")
            continue
        start, end = members[name]
        hot += lines[start:end + 1]
        taken.update(range(start, end + 1))
    return "\n".join(hot + [line for i, line in enumerate(lines) if i not in taken])


def apply(source: Path, edits) -> None:
    text = source.read_text()
    for what, pattern, replacement, count in edits:
        text, n = re.subn(pattern, replacement, text, flags=re.S)
        if n != count:
            raise BuildError(f"{source.name}: edit '{what}' matched {n} times, expected {count}; "
                             "the generated code changed (another NESTML version?)")
    source.write_text(text)


def edit_generated_code(source: Path) -> None:
    """Apply CODE_EDITS to a generated .cpp file and HEADER_EDITS to its header.

    Raises BuildError if the code is not as the edits expect.
    """
    text = source.read_text()
    header = source.with_suffix(".h")
    if "spike_input_received_grid_sum_[" in text:
        raise BuildError(f"{source.name} reads spike flags (an onReceive block?): the flag-buffer edits do not apply")
    if "V_.psc_unit = 1000.;" not in text:
        raise BuildError(f"{source.name}: psc_unit is not 1000 (pA s): the unit edit does not apply")
    if not re.search(r"NUM_CONTINUOUS_INPUT_PORTS = 1\b", header.read_text()):
        raise BuildError(f"{header.name}: the model must have exactly one current port for the current-port edits")
    if re.search(r"\b(normal|poisson)_dev_\b", text):
        raise BuildError(f"{source.name} draws from normal_dev_/poisson_dev_: the edit removing them does not apply")
    apply(source, CODE_EDITS)
    apply(header, HEADER_EDITS)
