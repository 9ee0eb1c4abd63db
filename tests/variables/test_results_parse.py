"""The results line protocol and its caps (app/domain/results.py)."""

from __future__ import annotations

from app.domain.results import MAX_BYTES, MAX_NAMES, check_results, parse_results


def test_lines_values_and_skips() -> None:
    raw = b'# comment\n\nn=3\nok=true\ns=hello world\nj={"a": [1]}\nbad line\n1x=2\nn=4\n'
    parsed = parse_results(raw)
    assert parsed.values == {"n": 4, "ok": True, "s": "hello world", "j": {"a": [1]}}
    assert parsed.note == "2 results line(s) not NAME=VALUE were skipped"


def test_caps() -> None:
    many = "".join(f"v{i}={i}\n" for i in range(MAX_NAMES + 3)).encode()
    parsed = parse_results(many)
    assert len(parsed.values) == MAX_NAMES and "v100" not in parsed.values
    assert parsed.note and "3 results over the cap" in parsed.note
    big = parse_results(b"a=" + b"x" * (MAX_BYTES + 10) + b"\nb=1\n", truncated=True)
    assert big.values == {} and big.note and "over 64 KiB" in big.note
    assert check_results({"ok": 1, "bad name": 2}).values == {"ok": 1}
    assert check_results({f"k{i}": i for i in range(MAX_NAMES + 1)}).note
