from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.cli import build_parser, main
from pipeline.options import unknown_beam_flags, with_local_runner
from tests.conftest import REPO


def test_help_lists_every_job_and_its_flags():
    text = build_parser().format_help()
    for word in ("seeds", "synth", "all", "--input", "--output", "--config", "--set", "--llm_endpoint",
                 "--serve_model", "--runner=DataflowRunner"):
        assert word in text


def test_module_help_runs():
    out = subprocess.run([sys.executable, "-m", "pipeline", "--help"], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert "jobs and their flags" in out.stdout
    assert out.stderr == ""  # no "apitools not found" or any other library's chatter


def test_local_runner_is_the_default_and_never_prism():
    argv = with_local_runner(["--output", "x"])
    assert "--runner=FnApiRunner" in argv and "--direct_num_workers=0" in argv
    assert with_local_runner(["--runner=DataflowRunner"]) == ["--runner=DataflowRunner"]


def test_beam_flags_pass_and_typos_fail():
    assert unknown_beam_flags(["--runner=DataflowRunner", "--project=p", "--temp_location=gs://b/t"]) == []
    assert unknown_beam_flags(["--ouput=x"]) == ["--ouput=x"]


def test_typo_flag_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["seeds", "--output", "/tmp/x", "--inptu", "a.warc.gz"])
    assert exc.value.code == 2
    assert "--inptu" in capsys.readouterr().err


def test_seeds_without_input_says_what_to_pass(tmp_path, capsys):
    assert main(["seeds", "--output", str(tmp_path)]) == 2
    assert "seeds needs --input" in capsys.readouterr().err


def test_synth_without_llm_says_exactly_how_to_run_it(tmp_path, capsys):
    assert main(["synth", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"python -m pipeline synth --output {tmp_path} --llm_endpoint" in err
    assert "--serve_model" in err


def test_synth_without_seeds_is_a_clear_error(tmp_path, capsys):
    assert main(["synth", "--output", str(tmp_path), "--llm_endpoint", "http://127.0.0.1:9/v1"]) == 2
    assert "run the seeds job first" in capsys.readouterr().err


def test_bad_config_override_is_a_clear_error(tmp_path, capsys):
    assert main(["seeds", "--output", str(tmp_path), "--input", "x", "--set", "extract.nope=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err
