"""What each code edit of the build (microcircuit/build/edits.py) is for, tested on the module `python build.py` built.

tests/test_build.py checks that the edits still find their code in NESTML's output (a NESTML
upgrade makes those tests, and the build, stop); the tests here check the behaviour each edit
group is there for, so that undoing an edit makes one of them (or the build) fail:

========================================  ==========================================================
edits                                     behaviour, test
========================================  ==========================================================
unit round trip (0.001 * w * 1000)        I_syn bit-identical to iaf_psc_exp: test_summed_weights_...
flag buffers, spike port vector,          heap bytes per neuron (2 and 80 ring-buffer slots):
sizing of the inline ring buffer          test_heap_memory_per_neuron
random-deviate members (header)           object size: test_neuron_size_is_the_sum_of_its_members
spike port member, flag writes/reads      spike input reaches the neuron, no access to an emptied
                                          vector: tests/nest/test_neuron.py (same spikes and V_m)
current port (flag, latched value)        DC drives the neuron like iaf_psc_exp: test_dc_current_...
53-bit uniform number                     speed only (no observable change): test_background_draw_...
layout: state aligned, hot internal       the members a step reads share the state's cache lines:
variables first, per-step parameter       test_values_a_step_reads_share_the_state_cache_lines;
copies, logger only when recorded         parameters set between runs take effect: test_parameters_
                                          changed_between_runs_take_effect; multimeter recordings,
                                          also when connected after a run: test_multimeter_...,
                                          tests/nest/test_neuron.py (same V_m as iaf_psc_exp)
========================================  ==========================================================

``python tests/build_mutations.py`` builds the module with each edit undone and records which of
these tests catch it (its table is in docs/model.md, "The build's code edits").
Needs the module from ``python build.py`` (CI builds it before the tests); ``MICROCIRCUIT_BUILD_DIR``
points them at another build folder.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from microcircuit import install_neuron_module
from microcircuit.build import manifest
from microcircuit.network import neuron_parameters
from microcircuit.parameters import NeuronParams

from ..conftest import ROOT

H = 0.1  # ms


def _pair(nest, **extra):
    """One NESTML and one built-in neuron with the PD14 parameters, V_m at rest."""
    model = install_neuron_module()
    p = NeuronParams()
    common = dict(V_m=p.E_L, **extra)
    nestml = nest.Create(model, params=dict(neuron_parameters("nestml", p), **common))
    builtin = nest.Create("iaf_psc_exp", params=dict(neuron_parameters("builtin", p), **common))
    return nestml, builtin


# ---- the unit round trip -------------------------------------------------------------------------

def compare_synaptic_current(nest, t_stop: float = 2000.0) -> dict:
    """I_syn of the NESTML neuron against I_syn_ex / I_syn_in of iaf_psc_exp under the same single-sign input.

    Three spike generators at ~1.5 kHz each (several spikes in one step are common) with weights
    87.81 pA x U(0.5, 1.5) (excitatory) or -351 pA x U(0.5, 1.5) (inhibitory), delay 1 ms. Returns,
    per sign, the number of recorded steps, of steps whose I_syn differs in any bit, the largest
    relative difference, and whether the spike times agree.
    """
    out = {}
    for sign, name, seed in ((1, "I_syn_ex", 7), (-1, "I_syn_in", 8)):
        nestml, builtin = _pair(nest)
        rng = np.random.default_rng(seed)
        for _ in range(3):
            times = np.unique(np.round(rng.uniform(1.0, t_stop, int(1.5 * t_stop)), 1))
            weights = (87.81 if sign > 0 else -351.23) * rng.uniform(0.5, 1.5, times.size)
            sg = nest.Create("spike_generator", params={"spike_times": times, "spike_weights": weights})
            nest.Connect(sg, nestml + builtin, syn_spec={"delay": 1.0})
        mm = [nest.Create("multimeter", params={"interval": H, "record_from": [r]}) for r in ("I_syn", name)]
        sr = [nest.Create("spike_recorder") for _ in range(2)]
        for m, s, n in zip(mm, sr, (nestml, builtin)):
            nest.Connect(m, n)
            nest.Connect(n, s)
        out[name] = (mm, sr)
    nest.Simulate(t_stop)
    result = {}
    for name, (mm, sr) in out.items():
        a, b = mm[0].events["I_syn"], mm[1].events[name]
        differ = a != b
        result[name] = {"steps": int(a.size), "differ": int(differ.sum()),
                        "max_rel": float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) if a.size else 0.0,
                        # steps in which spikes arrived: I_syn is more than its decayed previous value
                        "input_steps": int(np.count_nonzero(np.abs(b[1:] - np.exp(-H / 0.5) * b[:-1]) > 1.0)),
                        "same_spikes": bool(np.array_equal(sr[0].events["times"], sr[1].events["times"]))}
    return result


def test_summed_weights_enter_I_syn_bit_identically_to_builtin(nest_kernel):
    """The unit edit: the summed weights of a step are added to I_syn as NEST's iaf_psc_exp adds them.

    NESTML emits ``(0.001 * sum) * 1000`` ("1/s" times "pA s"); in floating point that round trip
    changes the last bit of about 15 % of these sums (of 10^5 weights 87.81 x U(0.5, 1.5): 15.1 %).
    The built-in model computes ``I_syn_ex = P11 I_syn_ex + sum`` (its ``+ (1 - P11) i_1`` term adds an
    exact 0 without a filtered current input); so does the edited NESTML neuron, with the same P11 =
    exp(-h / tau_syn) and the same order of additions within a step. With one sign of input the
    NESTML current equals the built-in's current of that sign bit for bit, in every recorded step.
    (V_m cannot be compared bit for bit: the built-in model integrates V_m relative to E_L and adds the
    two currents separately, so V_m agrees only to a few ulp; tests/nest/test_neuron.py, 1e-9 mV, a
    tolerance that a last-bit change of a weight does not reach.)
    """
    result = compare_synaptic_current(nest_kernel)
    for name, r in result.items():
        # spikes arrive in ~1/3 of the steps (4.5 kHz, 0.1 ms), else a bit-identity would prove little
        assert r["input_steps"] > 0.25 * r["steps"], (name, r)
        assert r["differ"] == 0, (name, r)
        assert r["same_spikes"], (name, r)


# ---- what each neuron holds ----------------------------------------------------------------------

# Sizes of the members, in bytes, on x86-64 Linux (LP64; libstdc++): double and long 8, int 4, bool 1,
# padded to the 8-byte alignment of the next member; std::vector 24 (three pointers);
# nest::UniversalDataLogger 32 (a reference to its node and a std::vector of loggers);
# nest::MultiChannelInputBuffer one std::vector (24).
BUILTIN_MEMBERS = {  # nest::iaf_psc_exp, NEST 3.10 (include/nest/iaf_psc_exp.h), besides nest::ArchivingNode
    "Parameters_: Tau_, C_, t_ref_, E_L_, I_e_, Theta_, V_reset_, tau_ex_, tau_in_, rho_, delta_": 11 * 8,
    "State_: i_0_, i_1_, i_syn_ex_, i_syn_in_, V_m_ (double), r_ref_ (int, padded)": 5 * 8 + 8,
    "Variables_: P20_, P11ex_, P11in_, P21ex_, P21in_, P22_, weighted_spikes_ex_/in_, RefractoryCounts_ (int)":
        8 * 8 + 8,
    "Buffers_: input_buffer_ (MultiChannelInputBuffer), logger_": 24 + 32,
}
PARAMETERS = 10 * 8  # iaf_psc_exp_pd14's Parameters_: C_m, tau_m, tau_syn, t_ref, E_L, V_reset, V_th, I_e, bg_rate, bg_weight
NESTML_MEMBERS = {  # iaf_psc_exp_pd14 as edited (models/iaf_psc_exp_pd14.nestml), besides nest::ArchivingNode
    "Parameters_": PARAMETERS,
    "State_: V_m, I_syn, refr_count; has_current_input_, has_logger_ (two bools, padded), I_stim_ (edits)":
        3 * 8 + 8 + 8,
    # h, __h, P11, P22, P21, P20, V_drive, refr_steps, bg_rate_ms, bg_mean, bg_p0, bg_c0..bg_c6, bg_p7, bg_c7,
    # bg_max, I_flush, psc_unit; the layout edit's copies V_th_, V_reset_, bg_weight_
    "Variables_: 26 doubles and longs (propagators, drive, the background's distribution function, copies)": 26 * 8,
    "Buffers_: logger_, six std::vectors NESTML declares (spike_inputs_, spike_inputs_grid_sum_, "
    "spike_input_received_, its grid sum, continuous_inputs_, its grid sum)": 32 + 6 * 24,
    "Buffers_: spike_input_, the ring buffer inside the neuron (64 slots and a heap fallback vector)": 64 * 8 + 24,
}
# NESTML's template also declares a nest::normal_distribution (std::normal_distribution<double>: mean,
# sd, a saved value and its flag, 32 bytes) and a nest::poisson_distribution (std::poisson_distribution:
# 9 doubles of parameters and a normal distribution, 104 bytes) in every neuron; the model never draws
# from them and the header edit removes them: 136 bytes.
UNUSED_DEVIATES = 32 + 104


def test_neuron_size_is_the_sum_of_its_members(nest_kernel):
    """NEST's ``elementsize`` of the model: the size of one neuron object.

    Both models derive from nest::ArchivingNode; its size follows from the built-in iaf_psc_exp
    (its elementsize minus its own members, listed above), and the NESTML neuron must be that plus
    exactly the members it is meant to have. The random-deviate objects of NESTML's template (136
    bytes, unused) must not be among them: without the header edit that removes them the size is
    136 bytes larger and this fails.

    The layout edit starts the state at a cache line (64 bytes): the parameters are followed by padding
    up to the next multiple of 64, and the object's size is a multiple of 64. Without that edit the
    size differs and this fails too.
    """
    nest = nest_kernel
    model = install_neuron_module()
    archiving_node = nest.GetDefaults("iaf_psc_exp")["elementsize"] - sum(BUILTIN_MEMBERS.values())
    assert archiving_node % 8 == 0 and 300 < archiving_node < 600  # sanity of the derivation
    line = 64
    rest = sum(NESTML_MEMBERS.values()) - PARAMETERS
    state_offset = -(-(archiving_node + PARAMETERS) // line) * line
    expected = -(-(state_offset + rest) // line) * line
    size = nest.GetDefaults(model)["elementsize"]
    assert size != expected + UNUSED_DEVIATES, "the unused random-deviate objects are members again"
    assert size == expected


# Measures the heap bytes per neuron in a fresh Python (the test's own process has loaded other things):
# glibc's mallinfo2() counts the bytes of every malloc'd block in use, before and after creating N neurons
# and simulating one step (which sizes the buffers).
_MEMORY_SCRIPT = textwrap.dedent("""
    import ctypes, json, sys
    import nest
    from microcircuit import install_neuron_module

    class MallInfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def in_use():
        m = libc.mallinfo2()
        return m.uordblks + m.hblkhd

    nest.verbosity = nest.VerbosityLevel.ERROR
    model = install_neuron_module() if sys.argv[1] == "nestml" else sys.argv[1]
    n, max_delay = int(sys.argv[2]), float(sys.argv[3])
    nest.set(min_delay=0.1, max_delay=max_delay)  # the ring buffers' slots: (min_delay + max_delay) / 0.1 ms
    nest.Create(model, 10)
    nest.Simulate(0.1)  # the kernel's one-time allocations happen before the baseline
    before = in_use()
    nest.Create(model, n)
    nest.Simulate(0.1)
    after = in_use()
    slots = round((nest.min_delay + nest.max_delay) / nest.resolution)
    print(json.dumps({"per_neuron": (after - before) / n, "elementsize": nest.GetDefaults(model)["elementsize"],
                      "slots": slots}))
""")


def _heap_per_neuron(model: str, slots: int, n: int = 20_000) -> dict:
    env = dict(os.environ, PYNEST_QUIET="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    max_delay = round((slots - 1) * H, 1)
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, model, str(n), str(max_delay)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def malloc_block(n: int) -> int:
    """Bytes glibc's malloc takes for a request of n bytes on 64-bit Linux: n + 8, rounded up to 16, at least 32."""
    return max(32, (n + 8 + 15) // 16 * 16)


@pytest.mark.parametrize("slots", [2, 80], ids=["2-slots", "80-slots-heap"])
def test_heap_memory_per_neuron(slots):
    """Heap bytes per neuron, NESTML neuron minus iaf_psc_exp, equal what the edited neuron is meant to allocate.

    Per neuron, beyond what both models share (nest::ArchivingNode's spike history, NEST's node tables,
    which cancel in the difference):

    * iaf_psc_exp: its object (elementsize) and its input buffer of S slots x 4 channels of doubles
      (S = min_delay + max_delay in steps: 2 without connections, 80 with max_delay 7.9 ms);
    * NESTML neuron: its object; three std::vector<double> of one element (the grid sums NESTML
      declares, 8 bytes each), the current port's std::vector<RingBuffer> of one element (24 bytes)
      and that ring buffer's S doubles; the spike port's ring buffer is inside the object up to 64
      slots, beyond that its S doubles are on the heap. The flag buffers of onReceive and the vector
      that held the spike port's ring buffer stay empty.

    Undoing an edit that stops a per-neuron allocation (the flag buffers' construction or resize,
    the spike-port vector's construction or resize) adds at least one 32-byte block per neuron; one
    that stops sizing the spike ring buffer at the start loses its heap slots beyond 64 (its slot 65
    then lies outside the neuron's buffer: wrong memory, but no visible error in a run).
    The tolerance of 4 bytes per neuron covers the rounding of NEST's growing node tables (measured:
    the difference is 832.0 +- 0.1 bytes for 20 000 to 200 000 neurons with 2 slots, before the layout
    edit). The layout edit aligns the NESTML neuron to a cache line (64 bytes); glibc's aligned
    allocation hands back the space before the aligned start but keeps a remainder after the object that
    is smaller than its smallest block (32 bytes), i.e. 0 or 16 bytes: the NESTML side may exceed the
    sum by up to 16 bytes per neuron (measured: 14.4 with 2 slots, 7.9 with 80). An undone allocation
    edit adds at least 32. Needs glibc's mallinfo2.
    """
    try:
        ctypes.CDLL("libc.so.6").mallinfo2  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("needs glibc >= 2.33 (mallinfo2) to count heap bytes")
    builtin, nestml = _heap_per_neuron("iaf_psc_exp", slots), _heap_per_neuron("nestml", slots)
    assert nestml["slots"] == builtin["slots"] == slots
    spike_ring_buffer = malloc_block(8 * slots) if slots > 64 else 0
    expected = (malloc_block(nestml["elementsize"]) + 3 * malloc_block(8) + malloc_block(24) + malloc_block(8 * slots)
                + spike_ring_buffer - malloc_block(builtin["elementsize"]) - malloc_block(4 * 8 * slots))
    aligned_remainder = 16
    assert expected - 4.0 <= nestml["per_neuron"] - builtin["per_neuron"] <= expected + aligned_remainder + 4.0, \
        (expected, nestml, builtin)


# ---- the current port ----------------------------------------------------------------------------

def test_dc_current_drives_the_neuron_like_builtin_and_only_where_connected(nest_kernel):
    """The current-port edits: a dc_generator (as the transient DC stimulus uses) drives V_m exactly as in
    iaf_psc_exp, and a neuron without a current source follows the same V_m as a built-in one without.

    The edited neuron reads the port only if a current source was connected (a flag set when NEST
    checks the connection) and keeps the latched value beside V_m. 200 pA from 100 to 300 ms moves V_m
    by ~8 mV (checked, so the comparison is not vacuous); a neuron that ignored its source, or one
    reading a value nobody writes, is off by that much. Tolerance 1e-9 mV as in tests/nest/test_neuron.py
    (the models add the same terms in a different order: a few ulp). The flag itself saves time in the
    neurons without a source (most of a network); that is not observable in their V_m.
    """
    nest = nest_kernel
    with_dc = _pair(nest, I_e=100.0)
    without = _pair(nest, I_e=100.0)
    dc = nest.Create("dc_generator", params={"amplitude": 200.0, "start": 100.0, "stop": 300.0})
    for n in with_dc:
        nest.Connect(dc, n)
    vms = []
    for n in (*with_dc, *without):
        vm = nest.Create("voltmeter", params={"interval": H})
        nest.Connect(vm, n)
        vms.append(vm)
    nest.Simulate(500.0)
    v = [vm.events["V_m"] for vm in vms]
    np.testing.assert_allclose(v[0], v[1], rtol=0, atol=1e-9)  # NESTML vs built-in, with the source
    np.testing.assert_allclose(v[2], v[3], rtol=0, atol=1e-9)  # NESTML vs built-in, without
    assert np.max(np.abs(v[0] - v[2])) > 5.0  # the current did move V_m
    np.testing.assert_array_equal(v[0][:1000], v[2][:1000])  # not before the source starts (100 ms)


def built_file(*parts: str):
    """A file of the last build (e.g. the edited source the module was compiled from), or skip without it."""
    path = manifest.default_build_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} missing: run `python build.py --force`")
    return path


# ---- the uniform number of the in-neuron background ----------------------------------------------

def test_background_draw_uses_53_bits_not_drand():
    """The 53-bit uniform edit changes speed only; this checks the code the module was compiled from.

    Its u is the top 53 of the generator's 64 random bits times 2^-53; drand() (libstdc++'s
    std::generate_canonical) rounds the same 64 bits to 53 instead of truncating them, so the two
    differ by at most 2^-53. A background count changes only when one of the ~8 values of the
    distribution function lies in that gap: about 10^-15 per step, never in any run this package
    makes, so no spike or V_m shows the edit (tests/nest/test_background.py checks that the counts
    follow the Poisson distribution, with or without it). What can be checked is that the compiled
    code no longer calls drand(); the module's manifest ties the module to that code.
    """
    code = built_file("target", f"{manifest.NESTML_MODEL}.cpp").read_text()
    assert "drand()" not in code
    assert code.count("0x1.0p-53") == 1


# ---- the memory layout of what a step reads --------------------------------------------------------

# The program's data are the offsets of private members (compiled to assembly, not linked, with GCC's
# -fno-access-control, which lets it name them); NEST's config.h first, as the module's sources include it.
_OFFSETS_PROGRAM = """
#include "config.h"
#include "{header}"
extern "C" const unsigned long microcircuit_offsets[] = {{ alignof({model}), offsetof({model}, S_), {members} }};
"""
LINE = 64  # bytes in a cache line (x86-64)


def _update_function(code: str) -> str:
    start = code.index(f"void {manifest.NESTML_MODEL}::update(")
    return code[start:code.index("\n}\n", start)]


def test_values_a_step_reads_share_the_state_cache_lines(tmp_path):
    """Every member of the neuron its update reads (the compiled code) lies in the state's first cache lines.

    The layout edits exist for speed: a step of the generator-background network reads the state, the
    propagators, the threshold and reset, and the flush limit, which should take two cache lines (128
    bytes from the state, which starts a line); the in-neuron background's weight and distribution
    function must lie within three. Only the tail search (bg_p7, bg_max; more than seven background
    inputs in a step) reads further. The offsets come from compiling a small program against
    the module's edited header with NEST's headers (the build's nest-config); undoing the alignment,
    the order of the internal variables, the per-step copies of the parameters or the removal of the
    empty struct's byte makes a member fall outside and this fail. The data logger must be called only
    under the flag that a multimeter sets.
    """
    source = built_file("target", f"{manifest.NESTML_MODEL}.cpp")
    target = source.parent
    nest_config = built_file("nest_prefix", "bin", "nest-config")
    update = _update_function(source.read_text())
    read = sorted(set(re.findall(r"\b([SVP]_\.\w+)", update)))
    assert "S_.V_m" in read and "V_.P22" in read  # sanity of the parsing
    model = manifest.NESTML_MODEL
    program = tmp_path / "offsets.cpp"
    program.write_text(_OFFSETS_PROGRAM.format(header=source.with_suffix(".h"), model=model,
                                               members=", ".join(f"offsetof({model}, {m})" for m in read)))
    flags = [*subprocess.run([str(nest_config), "--cflags"], capture_output=True, text=True, check=True).stdout.split(),
             *subprocess.run([str(nest_config), "--includes"], capture_output=True, text=True, check=True).stdout.split()]
    compiler = subprocess.run([str(nest_config), "--compiler"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run([compiler, *flags, "-O0", "-fno-access-control", "-Wno-invalid-offsetof", f"-I{target}", "-S", str(program),
                          "-o", "-"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    data = out.stdout[out.stdout.index("microcircuit_offsets:"):]
    values = [int(v) for v in re.findall(r"^\s*\.quad\s+(\d+)", data, flags=re.M)[:2 + len(read)]]
    offsets = dict(zip(["alignof", "S_", *read], values))
    assert offsets["alignof"] % LINE == 0 and offsets["S_"] % LINE == 0, offsets
    tail = {"V_.bg_p7", "V_.bg_max"}
    background = {m for m in read if re.fullmatch(r"V_\.bg_(c\d|weight_)", m)}
    for member in read:
        if member in tail:
            continue
        lines_allowed = 3 if member in background else 2
        assert offsets["S_"] <= offsets[member] < offsets["S_"] + lines_allowed * LINE, (member, offsets)
    calls = [m.start() for m in re.finditer(r"B_\.logger_\.record_data\(", update)]
    assert len(calls) == 1 and re.search(r"if \(S_\.has_logger_\)\s*\{\s*$", update[:calls[0]]), \
        "the data logger is called in every step"


def test_parameters_changed_between_runs_take_effect(nest_kernel):
    """Threshold, reset and background weight set between two runs are used in the second (per-step copies).

    The update reads copies of V_th, V_reset and bg_weight next to the state, refreshed with the internal
    variables, which NESTML's set_status recomputes, so a change takes effect also between two
    ``nest.Run`` calls of one ``Prepare`` (no ``pre_run_hook`` in between), as in iaf_psc_exp, which reads
    its parameters directly: given the same changes it must spike at the same times. The in-neuron
    background with its weight set to 0 (between two ``Simulate`` calls) must stop driving the neuron
    (I_syn decays to 0 and V_m relaxes below threshold: no spike in the last 400 ms).
    """
    nest = nest_kernel
    nestml, builtin = _pair(nest, I_e=500.0)
    recorders = []
    for n in (nestml, builtin):
        sr = nest.Create("spike_recorder")
        nest.Connect(n, sr)
        recorders.append(sr)
    nest.Prepare()
    nest.Run(200.0)
    first = [sr.get("n_events") for sr in recorders]
    nestml.set(V_th=-47.0, V_reset=-60.0)  # I_e drives V_m towards -45 mV
    builtin.set(V_th=-47.0, V_reset=-60.0)
    nest.Run(200.0)
    nest.Cleanup()
    times = [sr.get("events")["times"] for sr in recorders]
    assert first[0] > 3 and times[0].size > first[0] + 3  # it fires in both runs
    np.testing.assert_array_equal(times[0], times[1])
    isi = np.diff(times[0])
    assert abs(isi[-1] - isi[first[0] - 2]) > 1.0  # the new threshold and reset changed the firing period

    background = nest.Create(install_neuron_module(), params=dict(neuron_parameters("nestml", NeuronParams()),
                                                                 V_m=-58.0, bg_rate=8000.0, bg_weight=87.8))
    sr = nest.Create("spike_recorder")
    nest.Connect(background, sr)
    nest.Simulate(200.0)
    driven = sr.get("n_events")
    background.set(bg_weight=0.0)
    t_switch = nest.biological_time
    nest.Simulate(600.0)
    spikes = sr.get("events")["times"]
    assert driven > 2, "the background drives the neuron above threshold"
    assert np.sum(spikes > t_switch + 200.0) == 0
    assert background.get("I_syn") == 0.0


def test_multimeter_connected_after_a_first_run_records_like_builtin(nest_kernel):
    """A multimeter connected between two runs records V_m as it does for iaf_psc_exp (the logger flag).

    The update calls the data logger only in neurons a multimeter was connected to; the flag is set when
    the connection is made, which may be after the neuron has already been simulated.
    """
    nest = nest_kernel
    nest.set(min_delay=0.1, max_delay=1.0)  # the multimeter's connection (delay 1 ms) comes after a run
    neurons = _pair(nest, I_e=400.0)
    nest.Simulate(50.0)
    meters = []
    for n in neurons:
        mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
        nest.Connect(mm, n)
        meters.append(mm)
    nest.Simulate(100.0)
    v = [mm.get("events")["V_m"] for mm in meters]
    assert v[0].size == v[1].size > 900  # 100 ms at 0.1 ms
    np.testing.assert_allclose(v[0], v[1], rtol=0, atol=1e-9)
    assert np.ptp(v[0]) > 5.0  # the neuron spikes and resets in the recorded window


# ---- one edit undone, for real -------------------------------------------------------------------

_BUILD_WITHOUT_UNIT_EDIT = textwrap.dedent("""
    import sys
    from microcircuit.build import builder, edits
    from tests.build_mutations import unit_edit_undone
    edits.CODE_EDITS = unit_edit_undone(edits.CODE_EDITS)
    builder.build(build_dir=sys.argv[1], force=True, log=lambda m: None)
""")
_COMPARE = textwrap.dedent("""
    import json
    import nest
    from tests.nest.test_edits import compare_synaptic_current
    nest.verbosity = nest.VerbosityLevel.ERROR
    print(json.dumps(compare_synaptic_current(nest)))
""")


@pytest.mark.slow
def test_without_the_unit_edit_I_syn_is_no_longer_bit_identical(tmp_path):
    """Builds the module with the unit round trip restored (everything else edited as usual) into tmp_path.

    Then the comparison of test_summed_weights_enter_I_syn_bit_identically_to_builtin finds
    differences in the last bits (relative < 1e-15) while the spikes stay the same: the behaviour the
    edit exists for, and the proof that the bit-identity test can fail. ~25 s (mostly the compiler).
    """
    env = dict(os.environ, PYNEST_QUIET="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    build = subprocess.run([sys.executable, "-c", _BUILD_WITHOUT_UNIT_EDIT, str(tmp_path / "build")], env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    code = (tmp_path / "build" / "target" / f"{manifest.NESTML_MODEL}.cpp").read_text()
    assert "(0.001 * spike_input_sum) * V_.psc_unit" in code
    env["MICROCIRCUIT_BUILD_DIR"] = str(tmp_path / "build")
    out = subprocess.run([sys.executable, "-c", _COMPARE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for name, r in result.items():
        assert r["differ"] > 0.01 * r["steps"], (name, r)
        assert r["max_rel"] < 1e-14, (name, r)  # rounding, nothing else
        assert r["same_spikes"], (name, r)
