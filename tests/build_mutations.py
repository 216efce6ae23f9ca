"""Undo each code edit of the build in turn and record which test catches it (not collected by pytest).

    python tests/build_mutations.py [--scratch DIR] [--only C4 H3 ...] [--markdown]

For every edit of microcircuit/build/edits.py (``C0``... for CODE_EDITS, ``H0``... for HEADER_EDITS, in
list order) and for the groups of edits that only make sense undone together, it builds the module
without them into a scratch folder (``builder.build(build_dir=..., force=True)`` with the edit lists
patched, in a fresh Python), then runs the behavioural tests (tests/nest/test_edits.py and
tests/nest/test_neuron.py, not the slow one) against that module (``MICROCIRCUIT_BUILD_DIR``), and
prints one row per mutant: "build refuses" (a later edit no longer matches, or the compiler fails),
the tests that fail (or crash NEST), or "not caught". The scratch folder defaults to a temporary one.

About 45 s per mutant on 2 cores (NESTML and the compiler; more when NEST crashes and the tests are run
one by one to name the crashing ones), 26 mutants: 19 min on 2026-12-04; the nine layout edits added on
2026-12-06 (``--only C13 ... H8``): 6 min.
The tables it printed are in docs/model.md ("The build's code edits").
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/nest/test_edits.py", "tests/nest/test_neuron.py"]


def unit_edit_undone(code_edits):
    """CODE_EDITS with the unit edit replaced by its undoing on the local sum: ``(0.001 * sum) * psc_unit``.

    Removing the edit outright would leave the expression reading a vector nobody writes (the spike-port
    edits replaced it by a local); this keeps every other edit and restores exactly the round trip.
    """
    out = []
    for what, pattern, replacement, count in code_edits:
        if replacement == "spike_input_sum" and "unit round trip" in what:
            replacement = "(0.001 * spike_input_sum) * V_.psc_unit"
        out.append((what, pattern, replacement, count))
    assert out != list(code_edits), "the unit edit was not found in CODE_EDITS"
    return out


def mutants(code_edits, header_edits) -> list[tuple[str, str, list[str]]]:
    """(name, description, the edits removed) of every mutant; ``C4*`` is :func:`unit_edit_undone`."""
    one = [(f"C{k}", e[0], [f"C{k}"]) for k, e in enumerate(code_edits)]
    one += [(f"H{k}", e[0], [f"H{k}"]) for k, e in enumerate(header_edits)]
    by_text = {e[0]: f"C{k}" for k, e in enumerate(code_edits)} | {e[0]: f"H{k}" for k, e in enumerate(header_edits)}

    def ids(*fragments):
        return [by_text[w] for w in by_text if any(f in w for f in fragments)]

    spike_port = ids("unit round trip", "read into a local", "spike port's ring buffer", "empty vector is not resized",
                     "member ring buffer", "inline ring buffer")
    groups = [
        ("C4*", "unit round trip restored on the local sum (all other edits kept)", ["C4*"]),
        ("C4+C5", "the unit edit and the local read undone (the smallest group with the local read that compiles)",
         ids("unit round trip", "read into a local")),
        ("C3+C4+C5", "the flag read, the unit edit and the local read undone (the smallest group with the flag "
                     "read that compiles)", ids("no flag is read", "unit round trip", "read into a local")),
        ("flag buffers", "the four flag-buffer edits undone", ids("flag buffers", "no flag is")),
        ("spike port", "the spike port as NESTML generates it, flag edits kept (unit, local read, member ring "
                       "buffer and its header edits undone)", spike_port),
        ("spike side", "all spike-input edits undone: flags, unit, local read, member ring buffer",
         sorted(set(spike_port) | set(ids("flag buffers", "no flag is")))),
        ("current port", "the current port as NESTML generates it (every neuron reads it each step)",
         ids("current port", "current-port flag", "current source sets the flag")),
    ]
    return one + groups


BUILD = textwrap.dedent("""
    import sys
    from microcircuit.build import builder, edits
    from tests.build_mutations import unit_edit_undone
    drop = set(sys.argv[2:])
    code = edits.CODE_EDITS
    if "C4*" in drop:
        code = unit_edit_undone(code)
    edits.CODE_EDITS = [e for k, e in enumerate(code) if f"C{k}" not in drop]
    edits.HEADER_EDITS = [e for k, e in enumerate(edits.HEADER_EDITS) if f"H{k}" not in drop]
    builder.build(build_dir=sys.argv[1], force=True, log=lambda m: None)
""")


def env_for(build_dir: Path | None = None) -> dict:
    env = dict(os.environ, PYNEST_QUIET="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    if build_dir is not None:
        env["MICROCIRCUIT_BUILD_DIR"] = str(build_dir)
    return env


def run_tests(build_dir: Path, report: Path) -> list[str]:
    """Names of the failing tests (with ``(crash)`` when NEST died), running each test alone after a crash."""
    cmd = [sys.executable, "-m", "pytest", "-m", "not slow", "-p", "no:cacheprovider", *TESTS]
    report.unlink(missing_ok=True)
    out = subprocess.run([*cmd, "-q", f"--junitxml={report}"], cwd=ROOT, env=env_for(build_dir),
                         capture_output=True, text=True)
    if out.returncode in (0, 1) and report.exists():
        tree = ET.parse(report)
        return [c.get("name") for c in tree.iter("testcase")
                if c.find("failure") is not None or c.find("error") is not None]
    # NEST crashed (segmentation fault): run the tests one by one to name the ones that crash
    ids = subprocess.run([*cmd, "--collect-only", "-q"], cwd=ROOT, env=env_for(build_dir), capture_output=True,
                         text=True).stdout.split()
    assert any("::" in i for i in ids), "no tests collected"
    failed = []
    for test_id in (i for i in ids if "::" in i):
        one = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_id], cwd=ROOT,
                             env=env_for(build_dir), capture_output=True, text=True)
        if one.returncode != 0:
            failed.append(test_id.split("::")[-1] + (" (crash)" if one.returncode not in (0, 1) else ""))
    return failed


def condense(failed: list[str]) -> str:
    """``a[x], a[y], b`` -> ``a[x, y], b`` (the cases of a parametrized test on one line), in first-seen order."""
    cases: dict[str, list[str]] = {}
    for name in failed:
        crash = name.endswith(" (crash)")
        base, _, case = name.removesuffix(" (crash)").partition("[")
        cases.setdefault(base + (" (crash)" if crash else ""), []).append(case.rstrip("]"))
    return ", ".join(base.replace(" (crash)", "") + (f"[{', '.join(c)}]" if any(c) else "")
                     + (" (crash)" if base.endswith(" (crash)") else "") for base, c in cases.items())


def build_error(stderr: str) -> str:
    line = next((x for x in reversed(stderr.strip().splitlines()) if "BuildError" in x), "")
    m = re.search(r"edit '(.*?)' matched (\d+) times", line)
    if m:
        return f"build refuses (edit '{m.group(1)[:50]}...' then matches {m.group(2)} times)"
    if "compiling the generated code failed" in line:
        return "build refuses (the compiler fails)"
    return "build refuses (" + (line.split(": ", 1)[-1][:80] or stderr.strip().splitlines()[-1][:80]) + ")"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scratch", type=Path, help="build folder for the mutants (default: a temporary folder)")
    p.add_argument("--only", nargs="+", help="names of the mutants to run (default: all)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from microcircuit.build import edits

    todo = mutants(edits.CODE_EDITS, edits.HEADER_EDITS)
    if args.only:
        todo = [m for m in todo if m[0] in args.only]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = args.scratch or Path(tmp) / "build"
        for name, what, dropped in todo:
            b = subprocess.run([sys.executable, "-c", BUILD, str(scratch), *dropped], cwd=ROOT, env=env_for(),
                               capture_output=True, text=True)
            if b.returncode != 0:
                result = build_error(b.stderr)
            else:
                failed = run_tests(scratch, Path(tmp) / "report.xml")
                result = ("fails: " + condense(failed)) if failed else "not caught"
            rows.append((name, what, result))
            print(f"{name:13s} {what[:70]:70s} {result}", flush=True)
    if args.markdown:
        print("\n| undone | edit | result |\n|---|---|---|")
        for name, what, result in rows:
            print(f"| {name} | {what} | {result} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
