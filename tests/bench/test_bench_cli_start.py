"""`deskpi bench cli --json --quick`: the JSON's shape, and a desk the commands cannot use reported as such.

No timing is asserted: the ratios are what the bench reports, not what the suite checks.
"""
from __future__ import annotations

import math

COMMAND_KEYS = {"median_ms", "p90_ms", "ratio", "met", "exit_codes", "expected_exit_codes", "importtime_total_us",
                "importtime_own_us", "modules", "top_imports", "heavy_modules"}
COMMANDS = {"status --json", "user list --json", "stats --json", "audit --json", "--help"}


def positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def test_bench_cli_quick_reports_each_command_beside_a_bare_python(cli):
    doc = cli.json("bench", "cli", "--json", "--quick", timeout=300)
    assert doc.keys() >= {"python", "runs", "quick", "limit_ratio", "options", "bytecode", "bare_python", "commands",
                          "met", "problems"}
    assert doc["quick"] is True and doc["runs"] == 5 and doc["limit_ratio"] == 5.5
    bare = doc["bare_python"]
    assert positive(bare["median_ms"]) and bare["median_ms"] <= bare["p90_ms"]
    assert bare["samples"] == doc["runs"] * (1 + len(COMMANDS))      # one reference beside every command run
    assert positive(bare["importtime_total_us"])
    assert set(doc["commands"]) == COMMANDS
    for name, c in doc["commands"].items():
        assert c.keys() >= COMMAND_KEYS, (name, COMMAND_KEYS - c.keys())
        assert positive(c["median_ms"]) and c["median_ms"] <= c["p90_ms"], name
        assert c["ratio"] == round(c["median_ms"] / bare["median_ms"], 2), name
        assert c["met"] is (c["ratio"] <= doc["limit_ratio"]), name
        assert set(c["exit_codes"]) <= set(c["expected_exit_codes"]), (name, c["exit_codes"])
        assert positive(c["importtime_total_us"]) and c["modules"] > 0, name
        assert c["importtime_own_us"] == c["importtime_total_us"] - bare["importtime_total_us"]
        assert 0 < len(c["top_imports"]) <= 5, name
        tops = [t["cumulative_us"] for t in c["top_imports"]]
        assert tops == sorted(tops, reverse=True) and all(isinstance(t["module"], str) for t in c["top_imports"])
        assert c["heavy_modules"] == [], (name, c["heavy_modules"])
    assert doc["problems"] == []
    assert doc["met"] is all(c["met"] for c in doc["commands"].values())


def test_bench_cli_says_when_the_commands_cannot_use_the_desk_it_was_pointed_at(cli, tmp_path):
    """An empty data directory: the people and statistics commands fail, so their times mean nothing."""
    doc = cli.json("--data-dir", str(tmp_path), "bench", "cli", "--json", "--runs", "1", timeout=300)
    assert doc["met"] is False and doc["options"] == ["--data-dir", str(tmp_path)]
    for name in ("user list --json", "stats --json", "audit --json"):
        c = doc["commands"][name]
        assert c["met"] is False and c["exit_codes"] != [0], (name, c)
        assert any(f"`deskpi {name}` exited" in p for p in doc["problems"]), doc["problems"]
    assert doc["commands"]["status --json"]["exit_codes"] == [3]       # still "no daemon": that is its job


def test_the_commands_run_compiled_as_installed_even_where_the_shell_says_not_to(monkeypatch, tmp_path):
    """pip compiles an installed deskpi; a shell's PYTHONDONTWRITEBYTECODE must not make every timed run
    compile deskpi's sources again (the compiled files go to the bench's own directory)."""
    from deskpi.bench import cli_start

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = cli_start._env(tmp_path / "pycache")
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    argv = cli_start._argv(["--help"], [])
    cli_start._time(argv, env)
    compiled = [p for p in (tmp_path / "pycache").rglob("main*.pyc")
                if (p.parent.parent.name, p.parent.name) == ("deskpi", "cli")]
    assert compiled, "the warm-up run left no compiled deskpi.cli.main"
