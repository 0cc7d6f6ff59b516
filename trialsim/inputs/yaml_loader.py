"""YAML read by libyaml's parser, under OmegaConf's own rules.

OmegaConf 2.4 reads YAML with PyYAML's C parser where PyYAML has it (omry/omegaconf#1150);
Hydra 1.3 holds OmegaConf below 2.4, and 2.3 reads it in pure Python. conf/config.yaml is
mostly the comments that give each value its source, which the pure-Python scanner reads
a character at a time: about 60 ms a composition, and a command composes three times (the
preflight's, then Hydra's two). `use_libyaml` gives OmegaConf.load and OmegaConf.create
(from a string) OmegaConf's loader class as it is (duplicate keys refused, its float
forms, no timestamps, its pathlib tags) over the C parser. A document the C parser or
its encoding refuses (a lone surrogate escaped by OmegaConf.save, say) is read again by
OmegaConf's own loader, so nothing it read is refused and every refusal is its own, in
its words. Where both read a document the values and types are the same, but for two
forms libyaml reads and PyYAML does not: a tab as spacing (`a: 1<TAB>`, refused by
PyYAML) and the bare tag `!` (an empty string, not null). No config of trialsim's has
either, and a user's scenario file is checked by PyYAML's own loader first
(trialsim.inputs.scenario_files). Tested in tests/test_yaml_loader.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import omegaconf._utils as omegaconf_utils
import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

try:
    from yaml.cyaml import CParser
except ImportError:  # PyYAML built without libyaml: OmegaConf's own loader
    CParser = None

PURE = omegaconf_utils.get_yaml_loader  # OmegaConf's own, kept before use_libyaml replaces it
HAS_LIBYAML = CParser is not None


def omegaconf_loader() -> Any:
    """OmegaConf's loader class (made afresh each call, as OmegaConf makes it) over the C
    parser; OmegaConf's own where PyYAML was built without libyaml."""
    pure = PURE()
    if not HAS_LIBYAML:
        return pure

    class OmegaConfCLoader(CParser, pure):  # the C parser first: it, not the Python
        def __init__(self, stream: Any) -> None:  # reader, scanner and parser, is used
            self.text = stream.read() if hasattr(stream, "read") else stream
            try:
                CParser.__init__(self, self.text)
                self.refused = False
            except (UnicodeError, TypeError):  # not for libyaml: a lone surrogate, say
                CParser.__init__(self, "")
                self.refused = True
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        def get_single_data(self) -> Any:
            if not self.refused:
                try:
                    return super().get_single_data()
                except (yaml.YAMLError, UnicodeError, TypeError):
                    pass
            return yaml.load(self.text, Loader=pure)  # OmegaConf's own verdict

    return OmegaConfCLoader


def use_libyaml() -> None:
    """OmegaConf.load and OmegaConf.create(str) read YAML with `omegaconf_loader` from now
    on in this process (each looks the loader up when called)."""
    omegaconf_utils.get_yaml_loader = omegaconf_loader


def safe_load(path: Path) -> Any:
    """A plain-data YAML file, by PyYAML's safe rules, with the C parser where there is one."""
    loader = yaml.CSafeLoader if HAS_LIBYAML else yaml.SafeLoader
    return yaml.load(path.read_text(), Loader=loader)
