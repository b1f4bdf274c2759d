"""Our stylesheets are hand-written: a brace left open turns every later rule into part of the
block before it (an unclosed @media once scoped the admin, billing and API styles to phones)."""

import re
from pathlib import Path

import pytest

CSS = sorted((Path(__file__).resolve().parents[2] / "railsaas" / "static" / "css").glob("*.css"))


@pytest.mark.parametrize("path", CSS, ids=lambda p: p.name)
def test_every_block_is_closed_where_it_should_be(path):
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"{path.name}:{number}: '}}' closes nothing"
        # Only @media / @supports blocks nest, and never more than one level here.
        assert depth <= 2, f"{path.name}:{number}: blocks nested {depth} deep"
    assert depth == 0, f"{path.name}: {depth} block(s) never closed"
