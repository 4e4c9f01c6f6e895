"""`python -m bot config check` explains the Official Account's mode against its key (issue 11
§1), one Chinese line each, run as the operator runs it: a subprocess with the secrets in its
environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.paths import CONTENT, ROOT

KEY = "k" * 43
MODE_WORDS = ("明文模式", "兼容模式")  # every mode warning names one of them


def config_check(tmp_path, mode: str | None, key: str | None) -> subprocess.CompletedProcess:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "{tmp_path / "q.db"}"\n[content]\npath = "{CONTENT}"\n'
        '[sandbox]\nenabled = false\n[mp]\nenabled = true\napp_id = "wx1"\n'
        + (f'mode = "{mode}"\n' if mode else ""), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGFENG_")}
    env["QINGFENG_MP_TOKEN"] = "t"
    if key:
        env["QINGFENG_MP_ENCODING_AES_KEY"] = key
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(path), "config", "check"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def mode_lines(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if line.startswith("注意：") and any(word in line for word in MODE_WORDS)]


def test_plain_mode_with_a_key_warns_that_the_key_protects_nothing(tmp_path):
    result = config_check(tmp_path, "plain", KEY)
    assert result.returncode == 0, result.stderr
    [line] = mode_lines(result.stdout)
    assert 'mp.mode = "plain"' in line and "EncodingAESKey 起不到保护作用" in line
    assert "安全模式" in line and KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(("mode", "key", "words"), [
    (None, None, "按明文模式运行"),  # no key: plaintext mode by default
    ("plain", None, "请勿用于成员数据"),
    ("compatible", KEY, "只应在切换期间使用"),
])
def test_other_modes_are_explained_in_one_line(tmp_path, mode, key, words):
    result = config_check(tmp_path, mode, key)
    assert result.returncode == 0, result.stderr
    [line] = mode_lines(result.stdout)
    assert words in line


@pytest.mark.parametrize("mode", [None, "safe", "SAFE"])
def test_safe_mode_with_its_key_says_nothing(tmp_path, mode):
    result = config_check(tmp_path, mode, KEY)
    assert result.returncode == 0, result.stderr
    assert mode_lines(result.stdout) == [] and "配置正确" in result.stdout


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_an_encrypted_mode_without_its_key_stops_in_one_line(tmp_path, mode):
    result = config_check(tmp_path, mode, None)
    assert result.returncode == 1
    assert "mp.encoding_aes_key is missing" in result.stderr
    assert "QINGFENG_MP_ENCODING_AES_KEY" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
