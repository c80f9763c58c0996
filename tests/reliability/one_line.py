"""What a failed command must look like: a non-zero exit and exactly one line, the last one,
saying what is wrong; no traceback and never the token."""

from __future__ import annotations

import subprocess

TOKEN = "sandbox-token"
WRONG = "wrong-token-0123456789"


def one_clear_line(result: subprocess.CompletedProcess, program: str, expected: str) -> None:
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if line.startswith(f"{program}:")]
    assert len(said) == 1, result.stderr[-2000:]
    assert said[0] == result.stderr.strip().splitlines()[-1]
    assert expected in said[0], said[0]
    assert "Traceback" not in result.stderr
    for secret in (TOKEN, WRONG):
        assert secret not in result.stderr + result.stdout
