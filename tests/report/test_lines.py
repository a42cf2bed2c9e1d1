"""lab.lines: a cell never makes a line longer than the console and a
word is never cut in two, for any text and width."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lab.lines import ELLIPSIS, fit, fit_name, lines

WORDS = st.lists(st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=1,
                         max_size=14), max_size=12)


@given(WORDS, st.integers(min_value=0, max_value=60))
def test_fit_keeps_whole_words_within_the_width(words, width):
    text = " ".join(words)
    cut = fit(text, width)
    assert len(cut) <= width
    if cut == text:
        return
    assert cut.endswith(ELLIPSIS) or cut == ""
    kept = cut.removesuffix(ELLIPSIS).split()
    assert kept == words[:len(kept)]


@given(st.lists(st.sampled_from(["storage", "red-vm1", "data1", "randread", "control"]), min_size=1,
                max_size=6), st.integers(min_value=1, max_value=40))
def test_fit_name_cuts_after_a_separator(parts, width):
    name = ".".join(parts)
    cut = fit_name(name, width)
    assert len(cut) <= width
    if cut != name:
        head = cut.removesuffix(ELLIPSIS)
        assert name.startswith(head) and (not head or head[-1] in "./-:")


def test_rows_fit_the_width_and_leading_columns_align():
    rows = [("FAIL", "fabric.no_flooding", "14 flooded frames seen at the ToR; target 0 frames"),
            ("pass", "tenant.red.isolation", "0 foreign endpoints reached")]
    out = [line.plain for line in lines(rows, 60)]
    assert all(len(line) <= 60 for line in out)
    assert out[0].index("14") == out[1].index("0 foreign")
    assert out[0].endswith(ELLIPSIS) and out[1].endswith("reached")
