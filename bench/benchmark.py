"""Speed of the model, measured here rather than in timed tests (`make bench`).

Every figure is measured in one run and printed beside its target; the results go to
bench/results.json and docs/performance.md with the machine they ran on. Absolute
times depend on the machine and on whatever else runs on it (the load average is
printed and written); the ratios are measured against a fixed bare-SimPy workload timed
in the same process, interleaved with the model, and hold up on a busy machine.

Figures (targets from the performance issue):
- ms per replication (simulation, analysis and tables: what a run pays per replication)
  of the default scenario and of a large one (target N 1600), and each against a bare
  SimPy workload of 300 processes x 15 timeouts (4,500 timeouts): default <= 0.75;
- the event loop's time per randomised participant (the coordinator's loop and the ESW
  asks it has served; no SimPy events since issue 25, which replaced the clock by an
  exact recursion, so the old targets on events per participant no longer apply);
- log-log slope of time in target N (400, 800, 1600, sites and ESWs scaled): <= 1.05;
- mailshot packs x10 and x100 with the same repliers against x1: within 10%;
- n_jobs=2 against n_jobs=1 for 1000 replications: >= 1.7x (idle 2-core machine);
- peak resident memory of a 10,000-replication run, in a subprocess: < 400 MB;
- the partially nested REML fit on default-size datasets: <= 0.5 ms;
- the trial analysis under each analysis.missing_data (issue 20), as a run computes it
  (primary, secondary, delta sensitivity): complete cases, the repeated-measures model
  (aim: <= 5 ms) and multiple imputation (m = 20, partially nested per completed
  dataset), ms per trial analysed;
- wall time of `simulate.py mode=design` on the default scenario (n_jobs=2): < 2 min;
- the default command (`simulate.py`, 200 replications): wall time to the answer and to
  its exit, figures and report drawn;
- log-log slope of time per replication in target N from 300 to 10,000.

A second table lists the targets of the time-to-answer issue (issue 25) against what was
measured: default command <= 3 s wall, default replication <= 0.3x the bare workload,
mode=design < 30 s, slope in N up to 10,000 <= 1.0, 10,000 replications < 400 MB. A
target missed says NOT MET; one not measured (--quick, --no-design) says skipped.

    python bench/benchmark.py            # everything (several minutes)
    python bench/benchmark.py --quick    # fewer replications, no design or memory run
    python bench/benchmark.py --no-design  # everything but mode=design (minutes)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
import simpy
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trialsim.model.trial as trial_module  # noqa: E402
from trialsim.analysis.partially_nested import fit_partially_nested  # noqa: E402
from trialsim.analysis.partially_nested_batch import fit_partially_nested_many  # noqa: E402
from trialsim.analysis.trial_analysis import MI_STREAM, TrialData, analyse_trial  # noqa: E402
from trialsim.analysis.trial_batch import prefit  # noqa: E402
from trialsim.experiments.runner import (  # noqa: E402
    BLOCK,
    _block,
    _one,
    block_ranges,
    run_replications,
    without_gc,
)
from trialsim.inputs.compose import compose_config  # noqa: E402
from trialsim.inputs.params import ModelParams, build_params  # noqa: E402
from trialsim.model.recruitment import Recruitment  # noqa: E402
from trialsim.model.trial import simulate_pathway, simulate_replication  # noqa: E402
from trialsim.streams import Streams  # noqa: E402

SEED = 20171101
BARE_PROCESSES, BARE_TIMEOUTS = 300, 15  # 4,500 timeouts
PACKAGES = ("numpy", "scipy", "simpy", "pandas", "joblib", "hydra-core", "matplotlib")


# --- what is timed ---------------------------------------------------------------------
# the event loop of a replication: the coordinator's queue, which has delivery serve the
# ESW asks due before each randomisation as it goes (the asks left after it are served
# with the OT's appointments, Delivery.finish)
# the per-participant loops, compiled (trialsim.compiled): the coordinator's queue with
# randomisation, then delivery's pass (ESW places, employment paths, the OTs' queue)
EVENT_LOOP = ((Recruitment, "run_compiled"), (trial_module, "deliver"))


def bare_simpy() -> simpy.Environment:
    """The fixed workload: BARE_PROCESSES processes of BARE_TIMEOUTS timeouts each."""
    env = simpy.Environment()

    def proc(env):
        for _ in range(BARE_TIMEOUTS):
            yield env.timeout(1.0)

    for _ in range(BARE_PROCESSES):
        env.process(proc(env))
    env.run()
    return env


def params_for(*overrides: str) -> ModelParams:
    return build_params(compose_config(overrides))


def scaled(n: int) -> tuple[str, ...]:
    """The default scenario grown to target N: services and ESWs in proportion (16 and
    1 per locality at 300), opening over the same 16 months."""
    sites = round(16 * n / 300)
    return ("trial.target_n=" + str(n), f"sites.pain_services.count={sites}",
            f"sites.pain_services.opening.interval_months={16 / sites:.6g}",
            f"delivery.esw.per_locality={max(1, round(n / 300))}")


def packs(factor: int) -> tuple[str, ...]:
    """Primary care with everyone recruitable, `factor` times the mailshot packs and a
    `factor` times smaller reply: the same repliers from many more packs."""
    return ("scenario=primary_care", "trial.target_n=100000",
            f"sites.gp_practices.mailshot.packs_per_1000={5.085 * factor:g}",
            f"sites.gp_practices.mailshot.reply={{k:62,n:{1017 * factor}}}")


def interleaved(tasks: dict, rounds: int) -> dict:
    """CPU seconds per call of each task, the tasks run in turn, round after round
    (task(i) runs its i-th share), so that load that comes and goes falls on all alike.
    CPU time (time.process_time) rather than wall time: another process on the same core
    then slows the figures far less, though it still does (shared caches)."""
    return {name: statistics.fmean(times) for name, times in per_round(tasks, rounds).items()}


def per_round(tasks: dict, rounds: int) -> dict[str, list[float]]:
    """interleaved's CPU seconds of each task, round by round: what the task returns, or
    if it returns None, the time it took."""
    spent: dict[str, list[float]] = {name: [] for name in tasks}
    names = list(tasks)
    with threadpool_limits(limits=1):
        for i in range(rounds):
            for name in names[i % len(names):] + names[:i % len(names)]:
                start = time.process_time()
                took = tasks[name](i)
                spent[name].append(time.process_time() - start if took is None else took)
    return spent


def per_replication(params: ModelParams, count: int) -> Callable[[int], float]:
    """One round: `count` replications as a run pays for them (simulation, analysis,
    tables and figure data, each run as the runner runs it: without_gc), replications
    i*count ... of the seed; returns their CPU seconds. One replication runs first,
    untimed: after another task has run, the first replication pays for the caches that
    task took (as the bare workload's first run does, which the median of its runs
    leaves out), and a run's replications, back to back, do not."""
    one = partial(_one, params, SEED, keep_participants=False)
    block = partial(_block, params, SEED, keep_participants=False)

    def task(i: int) -> float:
        without_gc(one, 10**6 + i)  # a replication no round times
        start = time.process_time()
        for reps in block_ranges(i * count, count):  # as the runner cuts them
            without_gc(block, reps)
        return time.process_time() - start
    return task


# --- the figures -------------------------------------------------------------------------

@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "<= 0.75"; empty: reported, no target
    met: bool | None = None
    note: str = ""


def check(value: float, target: str) -> bool:
    op, bound = target.split()
    bound = float(bound)
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]


def figure(name: str, value: float, unit: str, target: str = "", note: str = "") -> Figure:
    return Figure(name, value, unit, target, check(value, target) if target else None, note)


def timing_figures(reps: int) -> list[Figure]:
    default = params_for()
    large = params_for(*scaled(1600))
    rounds = 20
    per = max(1, reps // rounds)
    big = max(1, per // 4)
    bare_runs: list[list[float]] = []

    def bare_task(i: int) -> None:
        """Three runs after an untimed one (as the model's rounds), with the garbage
        collector paused (as the model's replications); each run timed, so that the
        median leaves out a rare pause (a burst of other work)."""
        without_gc(lambda _: bare_simpy(), 0)
        runs = []
        for _ in range(3):
            start = time.process_time()
            without_gc(lambda _: bare_simpy(), 0)
            runs.append(time.process_time() - start)
        bare_runs.append(runs)

    count = {"default": per, "large": big}  # replications a round
    t = per_round({"bare": bare_task, "default": per_replication(default, per),
                   "large": per_replication(large, big)}, rounds)
    # each round's model time against the same round's bare workload: on a shared
    # machine the load drifts between rounds, and a ratio within a round cancels it
    bare_round = [statistics.median(runs) for runs in bare_runs]
    ratio = {name: [t[name][i] / n / bare_round[i] for i in range(rounds)]
             for name, n in count.items()}
    bare = statistics.median(b for runs in bare_runs for b in runs)
    ms_default, ms_large = (1000 * statistics.median(x / n for x in t[name])
                            for name, n in count.items())

    def spread(name: str) -> str:
        q = statistics.quantiles(ratio[name], n=4)
        return (f"median over {rounds} rounds of {count[name]} replications, each "
                f"against its round's bare workload; quartiles {q[0]:.2f} to {q[2]:.2f}")

    out = [
        figure("bare SimPy workload (300 processes x 15 timeouts): CPU time", 1000 * bare, "ms",
               note=f"median of {3 * rounds} runs interleaved with the model's"),
        figure("default scenario: CPU time per replication", ms_default, "ms",
               note=f"median over {rounds} rounds"),
        figure("default scenario: time per replication / bare workload",
               statistics.median(ratio["default"]), "x", "<= 0.75", spread("default")),
        figure("large scenario (N 1600): CPU time per replication", ms_large, "ms",
               note=f"median over {rounds} rounds"),
        figure("large scenario (N 1600): time per replication / bare workload",
               statistics.median(ratio["large"]), "x", note=spread("large")),
    ]

    # the event loop's time per randomised participant (no SimPy events since issue 25:
    # the ESW asks are served by an exact recursion), with the garbage collector paused
    # as for the bare workload's median
    clock, randomised = {"loop": 0.0}, 0
    with timing(((owner, name, "loop") for owner, name in EVENT_LOOP), clock):
        for rep in range(rounds * per):
            randomised += len(without_gc(partial(simulate_replication, default, SEED),
                                         rep).participants)
    out.append(figure("default scenario: event loop per randomised participant",
                      1e6 * clock["loop"] / randomised, "us",
                      note=f"the coordinator's loop and delivery's pass, compiled; "
                           f"{randomised / (rounds * per):.0f} randomised per replication"))

    # scaling with target N, and with mailshot packs
    ns = (400, 800, 1600)
    t = interleaved({n: per_replication(params_for(*scaled(n)), max(1, per * 300 // n))
                     for n in ns}, rounds)
    ms = [1000 * t[n] / max(1, per * 300 // n) for n in ns]
    slope = float(np.polyfit(np.log(ns), np.log(ms), 1)[0])
    out.append(figure("scaling: log-log slope of time in target N (400, 800, 1600)", slope,
                      "", "<= 1.05", ", ".join(f"N {n}: {m:.1f} ms" for n, m in zip(
                          ns, ms, strict=True))))
    factors = (1, 10, 100)
    per_packs = max(1, per // 3)
    t = interleaved({f: per_replication(params_for(*packs(f)), per_packs) for f in factors},
                    rounds)
    ms = {f: 1000 * t[f] / per_packs for f in factors}
    for f in factors[1:]:
        out.append(figure(f"mailshot packs x{f} / x1 (same repliers)", ms[f] / ms[1], "x",
                          "<= 1.10", f"x1 {ms[1]:.1f} ms, x{f} {ms[f]:.1f} ms"))
    return out


def _descendants_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each process below this one (joblib's workers),
    from /proc; empty where there is no /proc."""
    tick, parents, cpu = os.sysconf("SC_CLK_TCK"), {}, {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    mine, grew = {os.getpid()}, True
    while grew:
        below = {pid for pid, ppid in parents.items() if ppid in mine} - mine
        grew, mine = bool(below), mine | below
    return {pid: cpu[pid] for pid in mine - {os.getpid()}}


def _reaped_cpu() -> float:
    """CPU seconds of this process's children that have exited and been waited for (0
    where there is no `resource` module)."""
    try:
        import resource
    except ImportError:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parallel_figures(reps: int) -> list[Figure]:
    """Wall time of n_jobs=1 and n_jobs=2 (a fresh pool: start-up included), and the
    speed-up their CPU times imply on an idle machine: n_jobs=1's CPU over the busiest
    worker's plus the parent's (a load-free reading of the same run)."""
    params = params_for()
    wall, cpu = {}, {}
    for n_jobs in (1, 2):  # n_jobs=2 on a fresh pool of workers
        before, start, own = _descendants_cpu(), time.perf_counter(), time.process_time()
        reaped = _reaped_cpu()
        run_replications(params, reps, SEED, n_jobs=n_jobs)
        wall[n_jobs] = time.perf_counter() - start
        after = _descendants_cpu()
        workers = [c - before.get(pid, 0.0) for pid, c in after.items()]
        if not workers and n_jobs > 1:  # forked workers have exited (and been reaped):
            workers = [(_reaped_cpu() - reaped) / n_jobs]  # their mean, not the busiest
        cpu[n_jobs] = (time.process_time() - own, max(workers, default=0.0))
    implied = cpu[1][0] / (cpu[2][0] + cpu[2][1]) if cpu[2][1] else math.nan
    start = time.perf_counter()  # again, on the workers the run above started
    run_replications(params, reps, SEED, n_jobs=2)
    warm = time.perf_counter() - start
    return [
        figure(f"n_jobs=2 speed-up over n_jobs=1 ({reps} replications, wall time)",
               wall[1] / wall[2], "x", ">= 1.7",
               f"{wall[1]:.1f} s and {wall[2]:.1f} s, worker start-up included; needs an idle "
               "machine"),
        figure("n_jobs=2 speed-up, workers already started (wall time)", wall[1] / warm, "x",
               note=f"the same run again: {warm:.1f} s"),
        figure("n_jobs=2 speed-up implied by CPU times (idle machine)", implied, "x",
               note=f"n_jobs=1: {cpu[1][0]:.1f} CPU s; n_jobs=2: busiest worker "
                    f"{cpu[2][1]:.1f} s + parent {cpu[2][0]:.1f} s"),
    ]


def _wrap(owner, name: str, spent: dict, key: str):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] += time.process_time() - start
    setattr(owner, name, timed)
    return owner, name, original


@contextmanager
def timing(parts, spent: dict):
    """Within the block, each (owner, name, key) of `parts` adds its CPU seconds to
    spent[key]; the originals are put back after it."""
    undo = [_wrap(owner, name, spent, key) for owner, name, key in parts]
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def breakdown(reps: int) -> list[Figure]:
    """Where a default replication's CPU time goes, by wrapping the functions a
    replication calls (the wrappers cost a little; nested parts are "of which")."""
    import trialsim.analysis.trial_batch as trial_batch
    import trialsim.experiments.runner as runner
    import trialsim.model.trial as trial
    parts = [
        (Recruitment, "__init__", "set-up: sites, allocation, streams"),
        (Recruitment, "start", "responders drawn in bulk (numpy)"),
        (Recruitment, "run_compiled", "event loop: coordinator's queue, randomisation "
                                      "(compiled)"),
        (trial, "deliver", "event loop: delivery's pass, ESW places, employment, OT "
                           "(compiled)"),
        (trial, "follow_up_trials", "follow-up (followup.py, a block at a time)"),
        (trial, "scores_of_trials", "outcomes (outcomes.py, a block at a time)"),
        (runner, "analysis_columns_batch", "the trial's analysis, a block at a time (analysis/)"),
        (trial_batch, "fit_mmrm_batch", "  of which repeated-measures fits (batched)"),
        (trial_batch, "mmrm_slopes_batch", "  of which delta slopes (batched)"),
        (runner, "replication_row", "replication row (costs, review, pathway)"),
        (runner, "replication_extras", "figure data"),
    ]
    spent = {key: 0.0 for *_, key in parts}
    params = params_for()
    with timing(parts, spent), threadpool_limits(limits=1):
        start = time.process_time()
        block = partial(_block, params, SEED, keep_participants=False)
        for reps_ in block_ranges(0, reps):  # as the runner runs them
            without_gc(block, reps_)
        total = time.process_time() - start
    top = [key for key in spent if not key.startswith(" ")]
    spent["other (Cohort arrays, curve, glue)"] = total - sum(spent[k] for k in top)
    out = [figure(f"breakdown: {key.strip()}", 1000 * v / reps, "ms",
                  note="of the line above" if key.startswith(" ") else "")
           for key, v in spent.items()]
    return [figure("breakdown: total CPU per default replication (wrapped)",
                   1000 * total / reps, "ms"), *out]


SIMULATION = ("set-up: sites", "responders drawn", "event loop", "ESW asks after",
              "follow-up", "outcomes")  # the breakdown's lines that are the simulation


def _value(figures: list[Figure], prefix: str) -> float:
    return next(f.value for f in figures if f.name.startswith(prefix))


def _simulation_ms(figures: list[Figure]) -> float:
    """The breakdown's simulation lines, summed (ms per default replication)."""
    return sum(f.value for f in figures if f.name.startswith("breakdown: ")
               and f.name[len("breakdown: "):].startswith(SIMULATION))


def replication_floor(figures: list[Figure]) -> Figure:
    """The default replication's simulation alone (the breakdown's simulation lines,
    no analysis, tables or glue) against the bare workload: the ratio this
    per-replication engine could not go below if everything else were free."""
    bare, sim = _value(figures, "bare SimPy workload"), _simulation_ms(figures)
    return figure("default replication floor: its simulation alone / bare workload (this "
                  "engine)", sim / bare, "x", "<= 0.3",
                  f"{sim:.2f} ms of simulation (the breakdown's set-up, responders, event "
                  f"loop, asks, follow-up and outcomes) against {bare:.2f} ms")


def replication_floor_any(figures: list[Figure]) -> Figure:
    """Everything in the default replication but its simulation (the analysis, the
    replication row, the figure data and the glue: the breakdown's total less its
    simulation lines) against the bare workload: the ratio no engine could go below,
    however fast it simulated, while the trial is analysed as pre-specified."""
    bare = _value(figures, "bare SimPy workload")
    total = _value(figures, "breakdown: total CPU per default replication")
    rest = total - _simulation_ms(figures)
    analysis = _value(figures, "breakdown: the trial's analysis")
    return figure("default replication floor with any engine: all but its simulation / "
                  "bare workload", rest / bare, "x", "<= 0.3",
                  f"{rest:.2f} ms of a {total:.2f} ms replication is not simulation (the "
                  f"analysis {analysis:.2f} ms; the row, figure data and glue) against "
                  f"{bare:.2f} ms")


MEMORY_SCRIPT = """
import resource, sys
sys.path.insert(0, {root!r})
from hydra import compose, initialize_config_dir
from trialsim.app import run
from trialsim.inputs.schema import register_configs
register_configs()
with initialize_config_dir(config_dir={conf!r}, version_base="1.3"):
    cfg = compose("config", overrides=["replications={reps}", "output.charts=false",
                                       "output.report=false"])
run(cfg, {out!r})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory_figure(reps: int) -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        script = MEMORY_SCRIPT.format(root=str(ROOT), conf=str(ROOT / "conf"), reps=reps,
                                      out=str(Path(tmp) / "run"))
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={**os.environ, "CI": "1"})
        seconds = time.perf_counter() - start
    peak_mb = int(proc.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux
    return figure(f"peak memory of a {reps}-replication run (default scenario)", peak_mb,
                  "MB", "< 400", f"the whole run and its files, n_jobs=1, {seconds:.0f} s")


def engine_figures(reps: int, rounds: int = 5) -> list[Figure]:
    """A replication's pathway (recruitment, delivery, employment: what the compiled
    loops replace) at the design search's recommended size, by the compiled engine and by
    the reference engine (the same values to the last bit), interleaved; best round."""
    params = params_for("trial.target_n=750", "delivery.esw.per_locality=5",
                        "delivery.esw.fte=0.5", "sites.pain_services.count=39",
                        "trial.recruitment_months=48")

    def pathways(engine: str) -> Callable[[], float]:
        def run(_round: int = 0) -> float:
            start = time.process_time()
            for rep in range(reps):
                simulate_pathway(params, SEED, rep, engine=engine)
            return (time.process_time() - start) / reps
        return run

    pathways("compiled")()  # the compiled code loaded (compiled once, then cached)
    best = {k: min(v) for k, v in per_round(
        {e: pathways(e) for e in ("compiled", "reference")}, rounds).items()}
    how = f"N 750, 39 pain services, 48 months; {reps} pathways a round, best of {rounds}"
    return [figure("pathway at N 750, compiled engine: CPU per replication",
                   1000 * best["compiled"], "ms", note=how),
            figure("pathway at N 750, reference engine (plain Python): CPU per replication",
                   1000 * best["reference"], "ms", note=how),
            figure("pathway at N 750: compiled / reference engine",
                   best["compiled"] / best["reference"], "x", note="the same values to "
                   "the last bit (tests/test_delivery_pass.py)")]


def reml_figures(datasets: int) -> list[Figure]:
    """The REML fit on the complete cases of default replications, as the trial's
    analysis gives it (trialsim.analysis.estimators.partially_nested)."""
    params = params_for()
    data = []
    for rep in range(datasets):
        d = TrialData.from_replication(simulate_replication(params, SEED, rep))
        cc = d.returned_m12
        ips, esw = d.ips[cc], d.esw[cc]
        x = np.column_stack([np.ones(cc.sum()), ips.astype(float), d.rtw_se_m0[cc]])
        cluster = np.where(esw >= 0, esw, -1 - np.arange(len(esw)))
        data.append((d.rtw_se_m12[cc], x, ips, cluster))
    runs = []
    with threadpool_limits(limits=1):
        for _ in range(5):
            start = time.process_time()
            for y, x, ips, cluster in data:
                fit_partially_nested(y, x, ips, cluster, observed_df=False)  # as KR runs it
            runs.append((time.process_time() - start) / len(data))
    n = statistics.mean(len(y) for y, *_ in data)
    # multiple imputation's way: 20 outcomes on one design (here each dataset's scores
    # with noise added), fitted in step (trialsim.analysis.partially_nested_batch)
    noise = np.random.default_rng(SEED)
    copies = [(y + noise.normal(0, 0.5, (20, len(y))), x, ips, cluster)
              for y, x, ips, cluster in data]
    in_step = []
    with threadpool_limits(limits=1):
        for _ in range(5):
            start = time.process_time()
            for ys, x, ips, cluster in copies:
                fit_partially_nested_many(ys, x, ips, cluster, observed_df=False)
            in_step.append((time.process_time() - start) / (20 * len(copies)))
    return [figure("partially nested REML fit (default-size data)", 1000 * min(runs), "ms",
                   "<= 0.5", f"{datasets} datasets of about {n:.0f} complete cases; best of 5"),
            figure("partially nested REML fits in step, per fit (20 outcomes on one design)",
                   1000 * min(in_step), "ms", "",
                   "multiple imputation's completed datasets: the same datasets' scores with "
                   "noise, 20 a design, trialsim.analysis.partially_nested_batch; best of 5")]


def missing_data_figures(datasets: int) -> list[Figure]:
    """The RTW-SE analysis of one default trial as a run computes it
    (trialsim.analysis.trial_analysis.analyse_trial: the primary, the employment
    secondary and the delta sensitivity), under each `analysis.missing_data`: complete
    cases (the partially nested REML fit), the repeated-measures model (every wave, the
    ESW term, Kenward-Roger) and multiple imputation (m = analysis.imputations, each
    completed dataset by the partially nested model, Rubin's rules); CPU ms per trial."""
    out = []
    for missing, target in (("complete_case", ""), ("repeated_measures", "<= 5"),
                            ("multiple_imputation", "")):
        params = params_for(f"analysis.missing_data={missing}")
        a = params.analysis
        data = [TrialData.from_replication(simulate_replication(params, SEED, rep),
                                           every_wave=missing != "complete_case")
                for rep in range(datasets)]

        def task(a=a, data=data, batched=False):
            for start in range(0, len(data), BLOCK):
                block = data[start:start + BLOCK]
                fits = prefit(block, a) if batched else [None] * len(block)
                for rep, (d, p) in enumerate(zip(block, fits, strict=True), start):
                    analyse_trial(d, a, lambda rep=rep: Streams(SEED, rep)[MI_STREAM], p)

        n = statistics.mean(len(d.ips) for d in data)
        extra = f", m = {a.imputations}" if missing == "multiple_imputation" else ""
        ways = [(False, "", "one trial at a time" + (
            ", its completed datasets' fits in step (partially_nested_batch)"
            if missing == "multiple_imputation" else ""))]
        if missing == "repeated_measures":  # the runner's way: fits made a block at a time
            ways = [(False, ", one at a time", "fit_mmrm per trial"),
                    (True, f", in blocks of {BLOCK}", "as a run makes them: "
                     "trialsim.analysis.trial_batch")]
        for batched, how, words in ways:
            runs = []
            with threadpool_limits(limits=1):
                for _ in range(3):
                    start = time.process_time()
                    task(batched=batched)
                    runs.append((time.process_time() - start) / len(data))
            out.append(figure(f"trial analysis, missing_data={missing}{extra}{how}",
                              1000 * min(runs), "ms", target if batched or not how else "",
                              f"{datasets} default trials of {n:.0f} randomised; primary, "
                              f"secondary and delta sensitivity, {words}; best of 3"))
    return out


def frontier_inversions(frontier: list[dict]) -> int:
    """Pairs of the design search's frontier, within an allocation ratio, where more ESWs
    per locality need a larger N: the frontier the targets ask for is monotone, none."""
    by_ratio: dict[str, list[tuple[int, int]]] = {}
    for row in frontier:
        if row.get("target_n") is not None:
            by_ratio.setdefault(row.get("allocation_ratio") or "", []).append(
                (row["esw_per_locality"], row["target_n"]))
    return sum(n_a < n_b for rows in by_ratio.values()
               for (e_a, n_a) in rows for (e_b, n_b) in rows if e_a < e_b)


def design_figures() -> list[Figure]:
    """The default search's wall time, and what the targets ask of its answer: as many
    replications per decision as before (200) and a frontier monotone in the ESWs."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "simulate.py"), "mode=design",
                               "n_jobs=2", f"hydra.run.dir={Path(tmp) / 'design'}"],
                              capture_output=True, text=True, cwd=tmp,
                              env={**os.environ, "CI": "1"})
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"mode=design failed: {proc.stderr.strip()[-500:]}")
        design = json.loads((Path(tmp) / "design" / "design.json").read_text())
    found = (f"recommended {design['recommended']}" if design.get("recommended")
             else "no target N in the grid reaches the power goal"
             if design.get("target_n") is None else "no feasible design")
    return [figure("mode=design on the default scenario (n_jobs=2, wall time)", seconds / 60,
                   "min", "< 2", f"simulate.py mode=design n_jobs=2 (default design keys, "
                   f"{design['replications']} replications per candidate): "
                   f"{len(design['evaluations'])} candidates evaluated, {found}"),
            figure("mode=design: replications per decision", design["replications"], "",
                   ">= 200", "every candidate's goal decided on this many (after screening)"),
            figure("mode=design: frontier pairs where more ESWs need a larger N",
                   frontier_inversions(design.get("frontier") or []), "", "<= 0",
                   f"{len(design.get('frontier') or [])} ESW counts on the frontier")]


def design_floor_figures() -> list[Figure]:
    """What the default design search spends simulating and analysing, run in this
    process on one core with the simulation's two entry points (a trial in full,
    recruitment alone) and the trial analysis timed: half of each is the shortest wall
    time two cores could give with this per-replication engine even if everything
    else (the tables, configs, the parent's fits) cost nothing. Above 30 s, the target
    needs a faster engine (the issue's item 2), not a leaner search around it; the
    analysis is batched already, and larger batches are no faster (batch_fit_timing)."""
    import trialsim.experiments.candidates as candidates
    import trialsim.experiments.runner as runner
    from trialsim.experiments.design import run_design

    spent = {"trial": 0.0, "recruitment": 0.0, "analysis": 0.0}
    parts = [(runner, "simulate_replication", "trial"),
             # the check's outcome sensitivities: pathways simulated once, outcomes each
             (runner, "simulate_pathway", "trial"), (runner, "outcomes_of_trials", "trial"),
             (candidates, "recruit_only", "recruitment"),
             (runner, "analysis_columns_batch", "analysis"),
             (runner, "analysis_columns", "analysis")]
    cfg = compose_config(["mode=design", "n_jobs=1", "output.charts=false",
                          "output.report=false"])
    with timing(parts, spent), threadpool_limits(limits=1):
        start = time.process_time()
        result = run_design(cfg, None)
        total = time.process_time() - start
    simulated = spent["trial"] + spent["recruitment"]
    note = (f"{result['work']['replications']} replications; CPU on one core: trials "
            f"simulated {spent['trial']:.0f} s, recruitment alone "
            f"{spent['recruitment']:.0f} s, analyses {spent['analysis']:.0f} s, the whole "
            f"search {total:.0f} s")
    return [figure("mode=design: CPU of the whole search on one core", total, "s",
                   note=note),
            figure("mode=design floor: its simulation alone over 2 cores (this engine)",
                   simulated / 2, "s", "< 30", note=note),
            figure("mode=design floor: its simulation and analyses over 2 cores (this "
                   "engine)", (simulated + spent["analysis"]) / 2, "s", "< 30", note=note)]


def _wall(args: list[str], cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True,
                          env={**os.environ, "CI": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode()[-300:]}")
    return time.perf_counter() - start


DRAWING_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import pandas, trialsim.app  # what a run has loaded when it comes to its figures
start = time.perf_counter()
from trialsim.reporting.report import build
build({run!r}, processes=2)
print(time.perf_counter() - start)
"""


def _drawing(run_dir: Path) -> float:
    """Wall seconds a finished run's figures and report take to draw again on two
    processes, in a process that has loaded what a run has (matplotlib not yet)."""
    proc = subprocess.run([sys.executable, "-c", DRAWING_SCRIPT.format(
        root=str(ROOT), run=str(run_dir))], capture_output=True, text=True,
        env={**os.environ, "CI": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"drawing failed: {proc.stderr[-300:]}")
    return float(proc.stdout.split()[-1])


def default_command_figures(runs: int = 3) -> list[Figure]:
    """Wall time of the default command (`simulate.py`, 200 replications, figures and
    report), from its start to the answer's last line and to its exit; median of `runs`.
    Beside it, the floor any engine would leave: the same command with one replication
    and no figures (start-up, config, checks, files), plus the figures and report drawn
    again from a finished run directory on the run's two processes (the same drawing,
    matplotlib's import included)."""
    answer, done, bare, drawn = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, str(ROOT / "simulate.py"),
                                     f"hydra.run.dir={Path(tmp) / str(i)}"], cwd=tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True, env={**os.environ, "CI": "1"})
            told = math.nan
            for line in proc.stdout:
                if line.strip().startswith("results in"):
                    told = time.perf_counter() - start
            if proc.wait() != 0:
                raise RuntimeError("the default command failed")
            done.append(time.perf_counter() - start)
            answer.append(told)
        for i in range(runs):
            bare.append(_wall([str(ROOT / "simulate.py"), "replications=1",
                               "output.charts=false", "output.report=false",
                               f"hydra.run.dir={Path(tmp) / f'bare{i}'}"], tmp))
            drawn.append(_drawing(Path(tmp) / str(i)))
    note = f"simulate.py with defaults, median of {runs} runs (wall, start-up included)"
    floor = statistics.median(bare) + statistics.median(drawn)
    return [figure("default command: wall time to the answer", statistics.median(answer), "s",
                   note=note),
            figure("default command: wall time to exit (figures and report drawn)",
                   statistics.median(done), "s", note=note),
            figure("default command floor: no simulation, then the figures and report", floor,
                   "s", "<= 3", f"simulate.py replications=1 without figures "
                   f"{statistics.median(bare):.2f} s, then the figures and report drawn "
                   f"again from a default run's files on two processes, matplotlib's "
                   f"import included, {statistics.median(drawn):.2f} s; medians of {runs}")]


def slope_figure(ns: tuple[int, ...] = (300, 1000, 3000, 10_000), rounds: int = 5) -> Figure:
    """Log-log slope of CPU time per replication in target N up to 10,000 (scaled)."""
    t = interleaved({n: per_replication(params_for(*scaled(n)), 1) for n in ns}, rounds)
    ms = [1000 * t[n] for n in ns]
    slope = float(np.polyfit(np.log(ns), np.log(ms), 1)[0])
    return figure("scaling: log-log slope of time in target N (300 to 10,000)", slope, "",
                  "<= 1.0", ", ".join(f"N {n}: {m:.0f} ms" for n, m in zip(ns, ms,
                                                                          strict=True))
                  + f"; one replication a round, {rounds} rounds")


# the performance issue's targets (ratios and times in one run of this script): its name in
# the table, the figure it is read from, the target
TARGETS = (
    ("default command (200 replications), wall", "default command: wall time to exit", "<= 3"),
    ("  floor with any engine: start-up, then the figures and report",
     "default command floor", "<= 3"),
    ("default command, wall to the answer", "default command: wall time to the answer",
     "<= 3"),
    ("default replication / bare SimPy workload",
     "default scenario: time per replication / bare workload", "<= 0.3"),
    ("  floor with this engine: the simulation alone / bare",
     "default replication floor: its simulation alone", "<= 0.3"),
    ("  floor with any engine: all but the simulation / bare",
     "default replication floor with any engine", "<= 0.3"),
    ("mode=design at defaults, wall (30 s)", "mode=design on the default scenario", "< 0.5"),
    ("  floor with this engine: the search's simulation alone over 2 cores",
     "mode=design floor: its simulation alone", "< 30"),
    ("  floor with this engine: its simulation and analyses over 2 cores",
     "mode=design floor: its simulation and", "< 30"),
    ("  with at least as many replications per decision (200)",
     "mode=design: replications per decision", ">= 200"),
    ("  and a frontier monotone in N and ESWs (pairs out of order)",
     "mode=design: frontier pairs where", "<= 0"),
    ("log-log slope in N up to 10,000", "scaling: log-log slope of time in target N (300",
     "<= 1.0"),
    ("memory of 10,000 replications", "peak memory of a 10000-replication run", "< 400"),
)


def target_rows(figures: list[Figure], skipped: dict[str, str]) -> list[tuple[str, ...]]:
    """One row per target: the measured value, the target and met / NOT MET / skipped."""
    rows = []
    for name, prefix, target in TARGETS:
        f = next((f for f in figures if f.name.startswith(prefix)), None)
        if f is None:
            why = next((v for k, v in skipped.items() if prefix.startswith(k)), "not measured")
            rows.append((name, "-", target, f"skipped ({why})"))
            continue
        met = check(f.value, target)
        rows.append((name, f"{show(f.value)} {f.unit}".strip(), f"{target} {f.unit}".strip(),
                     "met" if met else "NOT MET"))
    return rows


def target_table(rows: list[tuple[str, ...]]) -> list[str]:
    rows = [("issue-25 target", "measured", "target", "met"), *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


# --- the machine and the report -------------------------------------------------------------

def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "packages": versions}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def show(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table(figures: list[Figure]) -> list[str]:
    rows = [("figure", "value", "target", "met")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f"{show(f.value)} {f.unit}".strip(), f.target or "-", met))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


NOTES = [
    "- Times are CPU time of this process (time.process_time) unless they say wall "
    "time: another process on the same core then slows them much less, though shared "
    "caches still do. A replication's time is what a run pays for it: simulation, the "
    "trial's analysis, the tables and the figure data (runner._one).",
    "- The model draws who comes forward and how far screening takes them in bulk, "
    "serves the coordinator's queue in one compiled loop that waits on nothing, then the "
    "IPS participants' asks for a caseload place, the employment paths and the OT's "
    "queue in one compiled pass, in the order an event recursion would: it runs no "
    "SimPy events (a SimPy clock served the asks until issue 25). The replications "
    "timed here use the compiled engine; the plain-Python reference gives the same "
    "values (tests/test_delivery_pass.py) and runs a short run (fewer than 100,000 "
    "target participant-replications, as the default command, unless the process has "
    "loaded the compiled loops already). The bare SimPy workload "
    "stays the yardstick the ratios are measured against.",
    "- The breakdown wraps the functions a replication calls (a little overhead each); "
    "lines starting 'of which' are part of the line above. The employment paths, "
    "follow-up, outcomes and the trial's analysis (the REML fit above all) are modules "
    "of their own; the default scenario's ratio to the bare workload falls as they do.",
    "- The n_jobs speed-up is wall time, worker start-up included, so it needs an idle "
    "machine with two free cores to mean anything: with other work running (see the "
    "load average) it falls far below what the same machine gives idle. Start-up (a "
    "fresh Python process per worker importing numpy, scipy.special, joblib and the "
    "model: about half a second) is paid once per run, and weighs more the cheaper a "
    "replication is; the same run again on the workers already started shows the "
    "speed-up without it. That has come out above 2 in some runs: per replication, the "
    "workers then used less CPU than the parent running alone (not traced further).",
    "- mode=design's wall time depends on how far the search gets: with the default "
    "design keys it stops when no target N in the grid reaches the power goal.",
]


def markdown(figures: list[Figure], info: dict, before: list[float], after: list[float],
             seconds: float, targets: list[tuple[str, ...]] = ()) -> str:
    lines = [
        "# Performance", "",
        "Written by `make bench` (`bench/benchmark.py`), which measures every figure in one "
        "run; bench/results.json has the same numbers. Ratios are measured against a bare "
        "SimPy workload (300 processes x 15 timeouts) timed in the same process, "
        "interleaved with the model, each round's model time against the same round's "
        "bare workload: they hold up on a busy machine far better than absolute times "
        "(see the load average), though on a shared 2-core machine the default "
        "scenario's ratio still moved by up to about 10% between runs.", "",
        "## Issue-25 targets", "", "| target | measured | bound | met |", "|---|---|---|---|",
        *(f"| {' | '.join(r)} |" for r in targets), "",
        "## Every figure", "",
        "| figure | value | target | met | how |", "|---|---|---|---|---|",
    ]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {show(f.value)} {f.unit} | {f.target or '-'} | {met} | "
                     f"{f.note} |")
    lines += ["", "## How to read it", "", *NOTES]
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines += [
        "", "## Machine", "",
        f"- CPU: {info['cpu']}, {info['cores']} cores ({info['platform']})",
        f"- Python {info['python']}; {pk}",
        f"- load average (1, 5, 15 min) at the start: {before}; at the end: {after} "
        f"(other work was running if these are well above 0)",
        f"- the benchmark took {seconds / 60:.1f} minutes", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer replications; skip the memory, design and N 10,000 runs")
    ap.add_argument("--no-design", action="store_true",
                    help="skip mode=design (minutes): its target is then reported as skipped")
    args = ap.parse_args(argv)
    os.environ.setdefault("CI", "1")  # no progress bars
    info, before, start = machine(), load(), time.perf_counter()
    print(f"trialsim benchmark on {info['cpu']} ({info['cores']} cores), Python "
          f"{info['python']}; load average {before}", flush=True)
    figures = timing_figures(40 if args.quick else 200)
    figures += breakdown(20 if args.quick else 100)
    figures += [replication_floor(figures), replication_floor_any(figures)]
    figures += engine_figures(5 if args.quick else 20)
    figures += reml_figures(10 if args.quick else 40)
    figures += missing_data_figures(5 if args.quick else 50)
    figures += parallel_figures(200 if args.quick else 1000)
    figures += default_command_figures(1 if args.quick else 3)
    skipped = {}
    if args.quick:
        skipped = {"scaling": "--quick", "peak memory": "--quick", "mode=design": "--quick"}
    else:
        figures.append(slope_figure())
        figures.append(memory_figure(10_000))
        if args.no_design:
            skipped["mode=design"] = "--no-design"
        else:
            figures.extend(design_figures())
            figures += design_floor_figures()
    after, seconds = load(), time.perf_counter() - start
    print("\n".join(table(figures)))
    targets = target_rows(figures, skipped)
    print()
    print("\n".join(target_table(targets)))
    print(f"load average at the start {before}, at the end {after}: absolute times (ms, s, "
          "min) and the n_jobs speed-up depend on it; the ratios to the bare workload hardly")
    results = {"machine": info, "load_average_start": before, "load_average_end": after,
               "seconds": round(seconds, 1), "quick": args.quick,
               "figures": [f.__dict__ for f in figures],
               "targets": [dict(zip(("target", "measured", "bound", "met"), r, strict=True))
                           for r in targets]}
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick:
        (ROOT / "docs" / "performance.md").write_text(
            markdown(figures, info, before, after, seconds, targets))
    print("written: bench/results.json" + ("" if args.quick else ", docs/performance.md"))
    return 0  # a missed target is reported, not an error


if __name__ == "__main__":
    raise SystemExit(main())
