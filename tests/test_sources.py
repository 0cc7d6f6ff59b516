"""Each key of conf/config.yaml gets exactly its own comment in the parameter-source table
(no continuation line of one key's comment attached to another key). Deterministic: parses
the committed YAML text only."""

from trialsim.reporting.sources import CONFIG, _comment_for, yaml_comments

COMMENTS = yaml_comments(CONFIG.read_text())


def _source(key: str) -> str:
    return _comment_for(key, COMMENTS) or "not documented"


def test_pinned_keys_cite_their_tables():
    assert "Table 4" in _source("participants.years_out_of_work.q25")
    assert "Table 4" in _source("participants.years_out_of_work.long_term_from")
    assert "Table 8" in _source("follow_up.returns.ips.m6_after_miss")
    assert "Table 8" in _source("follow_up.returns.tau.m12_after_miss")
    assert "per locality" in _source("delivery.esw.per_locality")
    assert "inferred" in _source("delivery.esw.disengage_after_assessment")


def test_continuation_lines_stay_with_their_key():
    text = ("a:\n"
            "  b: 1    # first line of b's comment,\n"
            "          # its second line\n"
            "  c: 2\n"
            "          # above d\n"
            "  d: 3\n"
            "  e:      # e's own comment\n"
            "    f: 4  # f's own\n"
            "  g:\n"
            "    # g's comment on its own line\n"
            "    h: 5\n")
    c = yaml_comments(text)
    assert c["a.b"] == "first line of b's comment, its second line"
    assert "a.c" not in c
    assert c["a.d"] == "above d"
    assert c["a.e"] == "e's own comment" and c["a.e.f"] == "f's own"
    assert c["a.g"] == "g's comment on its own line" and "a.g.h" not in c


def test_no_key_carries_another_keys_text():
    """A comment's first words never continue a sentence of the key above (a lowercase
    start that is a continuation of the previous comment's last line would show here)."""
    for key in ("participants.years_out_of_work.q25", "follow_up.returns.ips",
                "follow_up.share_in_work.ips.first",
                "participants.years_out_of_work.long_term_from"):
        own = COMMENTS.get(key, "")
        parent = COMMENTS.get(key.rsplit(".", 1)[0], "")
        assert not own or own not in parent, key
