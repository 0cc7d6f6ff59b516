"""Assurance: parameters drawn from their pilot evidence, once per piece of evidence,
reproducibly, and saved with the flags they led to."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import CONF_DIR, make_cfg
from scipy import stats

from trialsim.app import run
from trialsim.cli import preflight
from trialsim.inputs import predictive
from trialsim.inputs.params import build_params
from trialsim.inputs.uncertainty import STREAM, draw_evidence, draw_inputs, sample_params
from trialsim.inputs.validation import find_problems
from trialsim.reporting import figures
from trialsim.reporting import sensitivity as sens
from trialsim.reporting.outputs import ASSURANCE_PARAMETERS
from trialsim.streams import Streams
from trialsim.units import DAYS_PER_MONTH

N_DRAWS = 2500


def _within(x: np.ndarray, mean: float, sd: float, k: float = 4.0) -> bool:
    """The sample mean of draws is within k Monte Carlo SE of the mean."""
    return abs(x.mean() - mean) <= k * sd / math.sqrt(len(x))


def _var_within(x: np.ndarray, dist, k: float = 4.0) -> bool:
    """The sample variance is within k Monte Carlo SE of the distribution's
    (SE from its fourth central moment: Var(s^2) ~ (mu4 - sigma^4) / n)."""
    var, kurt = (float(v) for v in dist.stats(moments="vk"))
    se = math.sqrt((kurt + 2) * var**2 / len(x))
    return abs(x.var(ddof=1) - var) <= k * se


@pytest.fixture(scope="module")
def mixed_draws():
    """Draws of the mixed scenario (practices and services); the practices' sites
    identical (frailty shape inf), so that their reply is the pooled Jeffreys draw."""
    params = build_params(make_cfg("scenario=mixed", "uncertainty.mode=pilot",
                                   "sites.gp_practices.frailty_shape=inf"))
    rng = np.random.default_rng(6)
    return params, [draw_inputs(params, rng) for _ in range(N_DRAWS)]


def test_draws_follow_the_jeffreys_posteriors_and_keep_assumptions_fixed(mixed_draws):
    params, pairs = mixed_draws
    draws = [d for d, _ in pairs]
    reply = np.array([d.site_types[0].channels[0].reply.value for d in draws])
    k, n = 62, 1017  # Table 3
    jeffreys = stats.beta(k + 0.5, n - k + 0.5)
    assert _within(reply, jeffreys.mean(), jeffreys.std()) and _var_within(reply, jeffreys)
    loss = np.array([d.employment.loss_per_day.value for d in draws]) * DAYS_PER_MONTH
    e, x = params.employment.loss_per_day.events, params.employment.loss_per_day.exposure
    assert _within(loss, (e + 0.5) / x, math.sqrt(e + 0.5) / x)
    effect = np.array([d.outcome.effect_m12 for d in draws])
    assert _within(effect, 1.0, 0.5)
    assert abs(effect.std() - 0.5) <= 0.05
    # plain numbers are assumptions: fixed
    assert {d.site_types[0].channels[0].uptake for d in draws} == {1.0}
    assert {d.employment.ready_primary_care.value for d in draws} == {0.4}
    assert {d.site_types[0].channels[3].stages.eligible.value for d in draws} == {0.0}
    assert all(d.uncertainty is None for d in draws[:5])
    # the employment effect stays the planner's; the supported rate follows each draw
    # (capped at the most the drawn rates can reach)
    assert {d.employment.ips_relative_risk_m12 for d in draws} == {1.5}
    # (about 1 draw in 5 of the pilot's employment evidence cannot reach 1.5: capped)
    solved = [sample_params(params, np.random.default_rng(s)) for s in range(8)]
    for d in solved:
        e = d.employment
        reachable = min(1.5, e.relative_risk_max)
        assert e.expected_m12_ips / e.expected_m12_tau == pytest.approx(reachable, rel=2e-3)
    free = [d.employment.supported_entry_per_day for d in solved
            if d.employment.relative_risk_max > 1.5]
    assert len(free) >= 4 and len(set(free)) == len(free)


def test_a_funnel_of_the_same_people_is_drawn_once(mixed_draws):
    """Pain clinics' 13/13/13 (Table 3: 13 approached, 13 recruited) is one piece of
    evidence: the stages' product has the mean and variance of one Beta(13.5, 0.5)
    draw, and equals the recorded conversion; drawn stage by stage its mean would be
    (13.5 / 14)^3 = 0.897. The mailshot's stages (62 > 57 > 26 > 26) lose different
    people at each stage: each is its own draw, so their product has the mean of the
    product of three independent Beta means."""
    _, pairs = mixed_draws
    clinics = [d.site_types[1].channels[0].stages for d, _ in pairs]
    product = np.array([s.contact.value * s.eligible.value * s.consent.value
                        for s in clinics])
    one = stats.beta(13.5, 0.5)
    assert _within(product, one.mean(), one.std()) and _var_within(product, one)
    assert abs(product.mean() - (13.5 / 14) ** 3) > 20 * one.std() / math.sqrt(N_DRAWS)
    recorded = np.array([v["sites.pain_services.clinics.conversion"] for _, v in pairs])
    np.testing.assert_allclose(product, recorded, rtol=1e-12)
    # equal stages share equally: each is the cube root of the conversion
    np.testing.assert_allclose([s.contact.value for s in clinics], recorded ** (1 / 3))
    assert not any("clinics.contact" in name for name in pairs[0][1])
    mail = [d.site_types[0].channels[0].stages for d, _ in pairs]
    mail_product = np.array([s.contact.value * s.eligible.value * s.consent.value
                             for s in mail])
    means = [(k + 0.5) / (n + 1) for k, n in ((57, 62), (26, 57), (26, 26))]
    second = np.prod([(k + 0.5) * (k + 1.5) / ((n + 1) * (n + 2))
                      for k, n in ((57, 62), (26, 57), (26, 26))])
    assert _within(mail_product, np.prod(means), math.sqrt(second - np.prod(means) ** 2))
    assert {f"sites.gp_practices.mailshot.{s}" for s in ("contact", "eligible", "consent")} \
        <= set(pairs[0][1])


def test_funnel_runs_and_the_split_keep_each_stage_share():
    p = predictive
    from trialsim.inputs.evidence import Proportion as P

    same = [P(1.0, 13, 13), P(1.0, 13, 13), P(1.0, 13, 13)]
    mail = [P(57 / 62, 57, 62), P(26 / 57, 26, 57), P(1.0, 26, 26)]
    tail = [P(10 / 12, 10, 12), P(1.0, 10, 10), P(0.8, 8, 10)]
    assert p.funnel_runs(same) == [[0, 1, 2]]
    assert p.funnel_runs(mail) == [[0], [1], [2]]
    assert p.funnel_runs(tail) == [[0], [1, 2]]  # 10 eligible of 10: the same 10 consent
    assert p.funnel_runs([P(1.0), P(1.0, 5, 5)]) == [[0], [1]]  # a plain number stays alone
    split = p.split_conversion(0.7, tail[1:])
    assert math.prod(split) == pytest.approx(0.7)
    w = [math.log(10.5 / 11), math.log(8.5 / 11)]
    assert split == pytest.approx(tuple(0.7 ** (x / sum(w)) for x in w))


def test_a_new_site_rate_carries_the_variation_between_sites():
    """13 events in 10 service-months from J = 2 services, frailty shape a = 2 fixed: a
    new service's mean rate mu = c theta / fbar, theta ~ Gamma(13.5) / 10 (the pilot
    services' rate), fbar ~ Gamma(J a, 1 / (J a)) (their mean frailty), c = (J a - 1) /
    (J a) = 3/4, so mu x 10 / (c J a) ~ BetaPrime(13.5, J a): the predictive's spread,
    re-centred on the pooled mean 13.5 / 10 = 1.35 per month (not 4/3 of it, 1.8).
    Kolmogorov-Smirnov distance below its 0.1% critical value; the mean within 4 MC SE."""
    params = build_params(make_cfg("uncertainty.mode=pilot", "uncertainty.frailty_shape_log_sd=0"))
    rng = np.random.default_rng(11)
    pairs = [draw_inputs(params, rng) for _ in range(2000)]
    mu = np.array([v["sites.pain_services.clinics.rate"] for _, v in pairs])
    ja = 2 * 2.0
    law = stats.betaprime(13.5, ja)
    ks = stats.kstest(mu * 10 / (0.75 * ja), law.cdf).statistic
    assert ks < 1.949 / math.sqrt(len(mu))
    assert _within(mu, 1.35, 0.75 * ja / 10 * law.std())
    assert mu.std() > 1.5 * math.sqrt(13.5) / 10  # wider than the pooled posterior
    # the site kind's shape is not drawn here, and every site would use it
    assert {d.site_types[1].frailty_shape for d, _ in pairs} == {2.0}
    # identical sites (shape inf): the pooled Jeffreys posterior
    flat = build_params(make_cfg("uncertainty.mode=pilot", "sites.pain_services.frailty_shape=inf"))
    pooled = np.array([draw_inputs(flat, rng)[1]["sites.pain_services.clinics.rate"]
                       for _ in range(1000)])
    assert _within(pooled, 1.35, math.sqrt(13.5) / 10)


def test_pooled_new_sites_draw_the_pilot_sites_pooled_rate():
    """uncertainty.new_site=pooled (a sensitivity): a new service's mean rate is the pilot
    services' pooled Jeffreys posterior Gamma(13.5) / 10 even with frailty (shape 2):
    mean 1.35 a month within 4 MC SE, with the pooled posterior's (narrower) spread."""
    params = build_params(make_cfg("uncertainty.mode=pilot", "uncertainty.new_site=pooled",
                                   "uncertainty.frailty_shape_log_sd=0"))
    rng = np.random.default_rng(12)
    mu = np.array([draw_inputs(params, rng)[1]["sites.pain_services.clinics.rate"]
                   for _ in range(1000)])
    assert _within(mu, 1.35, math.sqrt(13.5) / 10)


def test_the_frailty_shape_is_drawn_and_used_by_every_site():
    params = build_params(make_cfg("uncertainty.mode=pilot"))
    shapes = []
    for rep in range(400):
        drawn, values = draw_inputs(params, Streams(5, rep)[STREAM])
        assert drawn.site_types[1].frailty_shape == values["sites.pain_services.frailty_shape"]
        shapes.append(values["sites.pain_services.frailty_shape"])
    logs = np.log(shapes)  # log-normal around sites.pain_services.frailty_shape = 2
    assert _within(logs, math.log(2.0), 0.5)
    from trialsim.model.sites import build_sites

    sites = build_sites(drawn, Streams(5, 399))
    assert {s.type.frailty_shape for s in sites if s.type.name == "pain_services"} == {
        shapes[-1]}


def test_priors_on_the_outcome():
    """SDs x sqrt(df / chi2_df): E[scale^-2] = 1 (Var 2 / df); Beta priors with the
    outcome's correlation and ICC as means and the configured SDs."""
    params = build_params(make_cfg("uncertainty.mode=pilot"))
    rng = np.random.default_rng(3)
    pairs = [draw_inputs(params, rng) for _ in range(2000)]
    scale = np.array([v["outcome.sd_scale"] for _, v in pairs])
    assert _within(scale**-2, 1.0, math.sqrt(2 / 24))
    d0 = pairs[0][0].outcome
    assert d0.ips_sds == pytest.approx(tuple(scale[0] * s for s in params.outcome.ips_sds))
    assert d0.control_sds == pytest.approx(
        tuple(scale[0] * s for s in params.outcome.control_sds))
    for name, mean, sd in (("within_person_corr", 0.5, 0.15), ("esw_icc", 0.05, 0.04)):
        x = np.array([getattr(d.outcome, name) for d, _ in pairs])
        assert _within(x, mean, sd) and abs(x.std() - sd) < 0.15 * sd
    fixed = build_params(make_cfg("uncertainty.mode=pilot", "uncertainty.outcome_sd_df=inf",
                                  "uncertainty.within_person_corr_sd=0",
                                  "uncertainty.esw_icc_sd=0",
                                  "uncertainty.frailty_shape_log_sd=0"))
    d, values = draw_inputs(fixed, rng)
    assert d.outcome.esw_icc == 0.05 and d.outcome.ips_sds == params.outcome.ips_sds
    assert not {"outcome.sd_scale", "outcome.esw_icc", "sites.pain_services.frailty_shape",
                "outcome.within_person_corr"} & set(values)


def test_a_fitted_value_is_drawn_with_the_uncertainty_of_its_fit():
    """Any {estimate, se}: the Gamma (rate), Beta (proportion) or truncated Normal
    (estimate) with that mean and SD."""
    from trialsim.inputs.evidence import parse_estimate

    cfg = make_cfg("uncertainty.mode=pilot")
    fit = cfg.employment.self_job_entry_per_month  # the calibration script's {estimate, se}
    params = build_params(cfg)
    rng = np.random.default_rng(4)
    entry = np.array([draw_evidence(params, rng).employment.self_entry_per_day.value
                      for _ in range(2000)]) * DAYS_PER_MONTH
    assert _within(entry, fit.estimate, fit.se)
    assert _var_within(entry, stats.gamma((fit.estimate / fit.se) ** 2,
                                          scale=fit.se**2 / fit.estimate))
    est = parse_estimate("employment.example", {"estimate": 0.3, "se": 0.1}, lo=0.0)
    x = np.array([predictive.estimate_draw(est, rng) for _ in range(2000)])
    assert x.min() >= 0 and _within(x, 0.3, 0.1)


JOINT = ("employment.self_job_entry_per_month", "employment.job_loss_per_month",
         "employment.self_job_entry_years_exponent")


def _normal_score_correlations(values: list[dict[str, float]]) -> np.ndarray:
    x = np.array([[v[k] for k in JOINT] for v in values])
    ranks = np.apply_along_axis(stats.rankdata, 0, x)
    return np.corrcoef(stats.norm.ppf((ranks - 0.5) / len(x)).T)


def test_the_fitted_employment_rates_are_drawn_with_their_fit_correlation(mixed_draws):
    """One fit gave entry, loss and exponent: their normal scores correlate as the fit's
    estimates do (employment.fit_correlation), each within 4 MC SE, (1 - r^2) / sqrt(n);
    the marginals stay each fit's Gamma (the tests above)."""
    params, pairs = mixed_draws
    r = params.employment.fit_correlation
    got = _normal_score_correlations([v for _, v in pairs])
    for (i, j), want in zip(((0, 1), (0, 2), (1, 2)), r, strict=True):
        assert abs(got[i, j] - want) <= 4 * (1 - want**2) / math.sqrt(len(pairs)), (i, j)


def test_zero_fit_correlations_draw_the_rates_independently():
    params = build_params(make_cfg("uncertainty.mode=pilot",
                                   *(f"employment.fit_correlation.{k}=0" for k in
                                     ("entry_loss", "entry_exponent", "loss_exponent"))))
    rng = np.random.default_rng(8)
    values = [draw_inputs(params, rng)[1] for _ in range(1500)]
    got = _normal_score_correlations(values)
    assert np.abs(got[np.triu_indices(3, 1)]).max() <= 4 / math.sqrt(1500)


def test_assurance_is_reported_beside_power_and_is_reproducible(tmp_path):
    over = ("uncertainty.mode=pilot", "replications=30", "output.charts=false",
            "sites.pain_services.count=8", "trial.target_n=100")
    a = run(make_cfg(*over), tmp_path / "a")
    b = run(make_cfg(*over, "n_jobs=2"), tmp_path / "b")
    assert a == b
    assert set(a["assurance"]) >= {"primary", "recruitment", "joint"}
    assert a["assurance"]["joint"] <= min(a["assurance"]["primary"],
                                          a["assurance"]["recruitment"])
    plain = run(make_cfg(*over[1:]), None)
    assert plain["power"] == a["power"] and "assurance" not in plain
    assert (tmp_path / "a" / "replications_assurance.csv").exists()
    # each replication's drawn inputs: identical whatever n_jobs
    csv_a = (tmp_path / "a" / ASSURANCE_PARAMETERS).read_bytes()
    assert csv_a == (tmp_path / "b" / ASSURANCE_PARAMETERS).read_bytes()
    table = pd.read_csv(tmp_path / "a" / ASSURANCE_PARAMETERS)
    reps = pd.read_csv(tmp_path / "a" / "replications_assurance.csv")
    assert list(table["rep"]) == list(range(30))
    assert list(table[sens.SUCCESS]) == list(reps["primary_reject"].astype(int))
    assert list(table[sens.TARGET]) == list(reps["target_reached"].astype(int))
    # only what was drawn: no practices (count 0), no plain numbers, no solved rates
    assert not [c for c in table if c.startswith("sites.gp_practices")]
    assert "employment.readiness_per_month" not in table
    assert {"outcome.effect_m12", "sites.pain_services.clinics.conversion",
            "sites.pain_services.clinics.rate", "employment.self_job_entry_per_month",
            "outcome.esw_icc"} <= set(table)
    # the very values the replications ran with
    params = build_params(make_cfg(*over))
    used = sample_params(params, Streams(params_seed := 20171101, 7)[STREAM])
    assert params_seed == a["seed"]
    assert table.loc[7, "outcome.effect_m12"] == pytest.approx(used.outcome.effect_m12)
    assert table.loc[7, "sites.pain_services.clinics.rate"] == pytest.approx(
        used.site_types[1].channels[0].rate.value)
    # the ranked sensitivity in summary.json is the figure's, on the saved table
    ranked = a["assurance"]["sensitivity"]
    assert [r["input"] for r in ranked] == list(sens.sensitivity(table)["input"])
    assert figures.assurance.sensitivity is sens.sensitivity
    diffs = [abs(r["difference"]) for r in ranked]
    assert diffs == sorted(diffs, reverse=True)
    assert all(r["n_low"] == r["n_high"] == 10 for r in ranked)  # thirds of 30
    top = ranked[0]
    assert top["difference"] == pytest.approx(top["high"] - top["low"])
    assert top["difference_mc_se"] == pytest.approx(math.sqrt(
        top["low"] * (1 - top["low"]) / 10 + top["high"] * (1 - top["high"]) / 10))
    s = a["assurance"]
    reached = s["replications_target_reached"]
    assert s["joint"] * 30 == pytest.approx(s["primary_if_target_reached"] * reached)
    assert s["primary"] * 30 == pytest.approx(
        s["joint"] * 30 + s["primary_if_target_missed"] * (30 - reached))
    assert s["sensitivity_target"][0]["input"] == "sites.pain_services.clinics.rate"


BAD_PRIORS = [
    ("uncertainty.frailty_shape_log_sd=-0.1", "a number >= 0 and <= 3"),
    ("uncertainty.frailty_shape_log_sd=4", "a number >= 0 and <= 3"),
    ("uncertainty.outcome_sd_df=0.5", "a number >= 1 and <= 1e+09 (inf allowed)"),
    ("uncertainty.outcome_sd_df=abc", "could not be converted to Float"),  # the schema's
    ("uncertainty.within_person_corr_sd=-0.2", "a number >= 0 and < 0.5"),
    ("uncertainty.within_person_corr_sd=0.5", "a number >= 0 and < 0.5"),
    ("uncertainty.esw_icc_sd=nan", "a number >= 0 and < 0.5"),
    ("uncertainty.new_site=optimistic", "one of predictive, pooled"),
    ("sites.pain_services.clinics.rate.sites=0", "the number of pilot sites"),
    ("sites.pain_services.clinics.rate.sites=2.5", "the number of pilot sites"),
    ("sites.gp_practices.mailshot.reply.sites=-1", "the number of pilot sites"),
]


@pytest.mark.parametrize(("override", "allowed"), BAD_PRIORS)
def test_a_bad_prior_is_one_line_naming_key_value_and_allowed(override, allowed):
    key = override.split("=")[0].removesuffix(".sites")
    lines = preflight([override, "uncertainty.mode=pilot"], CONF_DIR)
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert f"{key}=" in lines[0] and allowed in lines[0]


def test_a_beta_prior_wider_than_its_mean_allows_is_refused_with_assurance_on():
    """sd < sqrt(m (1 - m)): with outcome.esw_icc = 0.05 at most 0.218."""
    over = ("uncertainty.esw_icc_sd=0.3",)
    problems = find_problems(make_cfg(*over, "uncertainty.mode=pilot"))
    assert [p.key for p in problems] == ["uncertainty.esw_icc_sd"]
    assert "0.218" in problems[0].allowed and "outcome.esw_icc" in problems[0].allowed
    assert find_problems(make_cfg(*over)) == []  # unused without assurance
    problems = find_problems(make_cfg("uncertainty.mode=pilot", "outcome.within_person_corr=0"))
    assert [p.key for p in problems] == ["uncertainty.within_person_corr_sd"]
    # sites only where a site's frailty applies (a channel's rate, reply or yield)
    problems = find_problems(make_cfg(
        "+delivery.esw.disengage_after_assessment.sites=2"))
    assert [p.key for p in problems] == ["delivery.esw.disengage_after_assessment"]


def test_a_bad_prior_on_the_command_line_exits_2_without_output(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.run(
        [sys.executable, str(ROOT / "simulate.py"), f"hydra.run.dir={tmp_path / 'run'}",
         "uncertainty.mode=pilot", "uncertainty.esw_icc_sd=0.3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert lines[0].startswith("trialsim: error: uncertainty.esw_icc_sd=0.3")
    assert "outcome.esw_icc" in lines[0]
    assert not (tmp_path / "run").exists()


def test_the_new_site_factor_and_the_discount_in_assurance():
    """The re-centring factor (a - 1) / (a fbar) has mean 1 (a = J shape > 1), is 1 for
    identical sites, and with a <= 1 (no predictive mean) is 1 after drawing fbar all the
    same; the model multiplies the drawn rate by the kind's discount (and the frailty)."""
    rng = np.random.default_rng(3)
    f = np.array([predictive.new_site_factor(2, 2.0, rng) for _ in range(4000)])
    law = stats.invgamma(4.0, scale=3.0)  # (a - 1) / (a fbar) with fbar ~ Gamma(4, 1/4)
    assert _within(f, 1.0, law.std())
    assert predictive.new_site_factor(2, math.inf, rng) == 1.0
    a, b = np.random.default_rng(4), np.random.default_rng(4)
    assert predictive.new_site_factor(1, 0.8, a) == 1.0
    predictive.pilot_sites_mean_frailty(1, 0.8, b)
    assert a.random() == b.random()  # the generator moved on as if fbar were used
    from trialsim.model.recruitment import Recruitment
    params = build_params(make_cfg("uncertainty.mode=pilot", "sites.pain_services.count=3"))
    drawn = sample_params(params, Streams(9, 0)[STREAM])
    rec = Recruitment(drawn, Streams(9, 0))
    rec.start()
    clinics = drawn.site_types[1].channels[0].rate.value
    for src in rec._poisson:
        assert src.rate == pytest.approx(0.7 * clinics / DAYS_PER_MONTH * src.site.frailty)
