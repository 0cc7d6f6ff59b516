"""OmegaConf's loader over libyaml's parser (trialsim.inputs.yaml_loader) reads every YAML
file trialsim reads, and YAML's corner cases, to the same values and types as OmegaConf's
own pure-Python loader; what libyaml refuses is read, or refused in the same words, by
OmegaConf's own; the two forms only libyaml reads are pinned."""

from __future__ import annotations

import math
import pathlib
import re
from pathlib import Path

import hydra
import omegaconf._utils as omegaconf_utils
import pytest
import yaml
from omegaconf import OmegaConf

from trialsim.inputs import yaml_loader
from trialsim.inputs.compose import CONF_DIR, compose_config, prepare_omegaconf
from trialsim.inputs.config_sources import scenario_names

pytestmark = pytest.mark.skipif(not yaml_loader.HAS_LIBYAML,
                                reason="PyYAML without libyaml: OmegaConf's own loader is used")

ROOT = CONF_DIR.parent
FILES = sorted({*ROOT.glob("conf/**/*.yaml"), *ROOT.glob("scenarios/*.yaml"),
                *Path(hydra.__file__).parent.glob("conf/**/*.yaml")})

CORNERS = """
floats: [1e5, 1E-3, -2.5e+3, 1_000.5, .5, +.5, 3., .inf, -.Inf, +.INF, .nan, 1:30.5, 1_000]
ints: [0, -7, +7, 0o17, 0x1F, 1_000, 012, 1:30]
bools: [true, True, TRUE, false, yes, no, on, off, y, n]
nulls: [null, Null, ~, ]
dates: [2018-06-30, 2018-06-30T10:00:00Z, 2001-12-14 21:59:43.10 -5]
strings: ['1e5', "2.0", 1e, 1_, e5, 0b101, 1.2.3, '', "tab\\tnewline\\n", plain text]  # a comment
block: |
  two lines
  kept
folded: >
  folded
  text
anchor: &a {x: 1, y: [1, 2]}
alias: *a
merged: {<<: *a, y: 3}
path: !!python/object/apply:pathlib.Path [a, b]
nested: {"quoted key": 1, 2: two, 3.5: x, null: y, true: z}
unicode: "caf\\u00e9 \\U0001F600"
"""


def tagged(value):
    """A value with the type of every part, NaN made comparable."""
    if isinstance(value, dict):
        return {tagged(k): tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return ("nan", float)
    return (value, type(value))


def read(text: str, loader):
    return tagged(yaml.load(text, Loader=loader))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_yaml_file_reads_the_same(path):
    text = path.read_text()
    assert read(text, yaml_loader.omegaconf_loader()) == read(text, yaml_loader.PURE())


def test_corner_cases_read_the_same():
    fast = yaml.load(CORNERS, Loader=yaml_loader.omegaconf_loader())
    assert read(CORNERS, yaml_loader.omegaconf_loader()) == read(CORNERS, yaml_loader.PURE())
    assert fast["floats"][0] == 1e5 and isinstance(fast["floats"][0], float)  # OmegaConf's
    assert all(isinstance(d, str) for d in fast["dates"])  # timestamps stay strings
    assert fast["path"] == pathlib.Path("a", "b") and fast["merged"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text", [
    "a: 1\nb: 2\na: 3\n",  # OmegaConf refuses duplicate keys
    "a: {x: 1, x: 2}\n",
    "key: !!python/object/apply:os.system [echo]\n",  # not a safe tag
    "a: [1, 2\n",  # not YAML
    "a: 'open\n",
    "a:\n  - 1\n b: 2\n",
    "a: *missing\n",
    "a: b\udc80\n",  # a lone surrogate: refused by libyaml's encoding, then by OmegaConf
])
def test_a_refused_document_gets_omegaconfs_own_error(text):
    errors = []
    for loader in (yaml_loader.omegaconf_loader(), yaml_loader.PURE()):
        with pytest.raises(yaml.YAMLError) as ex:
            yaml.load(text, Loader=loader)
        errors.append((type(ex.value), str(ex.value)))
    assert errors[0] == errors[1]


class Text(str):
    pass


@pytest.mark.parametrize("text", [
    'a: "\\udc80x"\n',  # how OmegaConf.save writes a lone surrogate: libyaml refuses it
    "a: 1\n\ufeffb: 2\n",  # a byte-order mark within the text
    "%YAML 1.3\n---\na: 1\n",
    Text("a: 1\n"),  # not a str itself
])
def test_what_libyaml_refuses_omegaconfs_own_loader_reads(text):
    assert read(text, yaml_loader.omegaconf_loader()) == read(text, yaml_loader.PURE())


def test_the_two_forms_only_libyaml_reads_are_as_documented():
    """A tab as spacing (PyYAML refuses it) and the bare tag `!` (libyaml: an empty
    string; PyYAML: null): yaml_loader's docstring names them; no config has either."""
    fast = yaml_loader.omegaconf_loader()
    assert yaml.load("a: 1\t\n", Loader=fast) == {"a": 1}
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: 1\t\n", Loader=yaml_loader.PURE())
    assert yaml.load("a: !\n", Loader=fast) == {"a": ""}
    assert yaml.load("a: !\n", Loader=yaml_loader.PURE()) == {"a": None}
    for path in FILES:
        text = path.read_text()
        assert "\t" not in text and not re.search(r"(^|[\s:,\[{])!(\s|$)", text), path


def test_omegaconf_reads_with_the_c_parser_once_prepared(tmp_path):
    """A file only libyaml reads (a tab as spacing) loads: OmegaConf.load uses it."""
    prepare_omegaconf()
    assert omegaconf_utils.get_yaml_loader is yaml_loader.omegaconf_loader
    path = tmp_path / "c.yaml"
    path.write_text("a: 1e5\t\nb: ${a}\n")
    cfg = OmegaConf.load(path)
    assert cfg.b == 1e5 and isinstance(cfg.b, float)


@pytest.mark.parametrize("scenario", scenario_names(CONF_DIR))
def test_every_scenario_composes_the_same(scenario, monkeypatch):
    fast = OmegaConf.to_yaml(compose_config([f"scenario={scenario}"]))
    monkeypatch.setattr(omegaconf_utils, "get_yaml_loader", yaml_loader.PURE)
    monkeypatch.setattr("trialsim.inputs.compose.use_libyaml", lambda: None)
    assert OmegaConf.to_yaml(compose_config([f"scenario={scenario}"])) == fast


def test_plain_data_reads_as_pyyaml_safe_load():
    path = CONF_DIR / "config.yaml"
    assert tagged(yaml_loader.safe_load(path)) == tagged(yaml.safe_load(path.read_text()))


def test_without_libyaml_omegaconf_keeps_its_own(monkeypatch):
    monkeypatch.setattr(yaml_loader, "HAS_LIBYAML", False)
    loader = yaml_loader.omegaconf_loader()
    assert issubclass(loader, yaml.SafeLoader) and yaml_loader.CParser not in loader.__mro__
