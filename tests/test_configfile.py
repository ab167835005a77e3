from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmcast.checkpoint import load_checkpoint
from lstmcast.cli import app
from lstmcast.config import TrainConfig
from lstmcast.configfile import coerce, flags_from_config, to_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

runner = CliRunner()
RUN_TOML = """\
# tiny settings for a fast test
n_prev = 10
hidden = 8
epochs = 5
batch_size = 32
device = "cpu"
ensemble = 1
lr = 0.01
window_norm = "last"
"""


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_file_plus_overriding_flag_equals_flags_alone(tmp_path: Path, sine_csv: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(RUN_TOML)
    a, b = tmp_path / "a", tmp_path / "b"
    result = invoke("train", sine_csv, "--out", a, "--config", toml, "--epochs", "2")
    assert result.exit_code == 0, result.output
    result = invoke("train", sine_csv, "--out", b, "--n-prev", "10", "--hidden", "8", "--epochs", "2", "--batch-size",
                    "32", "--device", "cpu", "--ensemble", "1", "--lr", "0.01", "--window-norm", "last")
    assert result.exit_code == 0, result.output
    want = TrainConfig(n_prev=10, hidden=8, epochs=2, batch_size=32, device="cpu", ensemble=1, lr=0.01,
                       window_norm="last")
    assert load_checkpoint(a).config == load_checkpoint(b).config == want
    for name in ("test_predictions.csv", "metrics.json"):
        assert (a / name).read_text() == (b / name).read_text()

    # the run folder holds the effective settings, and replaying them gives the same run again
    written = tomllib.loads((a / "config.toml").read_text())
    assert written["epochs"] == 2 and written["n_prev"] == "10" and written["window_norm"] == "last"
    assert written["horizon"] == 1 and written["samples"] == 200 and "column" not in written  # unset: a comment
    assert not {"out", "config", "json_out", "quiet", "data"} & set(written)
    c = tmp_path / "c"
    assert invoke("train", sine_csv, "--out", c, "--config", a / "config.toml").exit_code == 0
    assert load_checkpoint(c).config == want
    assert (c / "test_predictions.csv").read_text() == (a / "test_predictions.csv").read_text()


def test_backtest_and_compare_read_a_config(tmp_path: Path, sine_csv: Path) -> None:
    toml = tmp_path / "bt.toml"
    toml.write_text(RUN_TOML + 'horizon = 4\nfolds = 2\nstrategy = ["direct", "recursive"]\n')
    result = invoke("backtest", sine_csv, "--out", tmp_path / "bt", "--config", toml, "--epochs", "1")
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert m["folds"] == 2 and m["horizon"] == 4 and set(m["models"]) == {"lstm_direct", "lstm_recursive"}
    assert m["models"]["lstm_direct"]["epochs"] == 1 and m["models"]["lstm_direct"]["window_norm"] == "last"
    assert tomllib.loads((tmp_path / "bt" / "backtest.toml").read_text())["strategy"] == "direct,recursive"

    toml.write_text(RUN_TOML + 'cells = ["lstm", "gru"]\nseeds = 1\n')
    result = invoke("compare", sine_csv, "--out", tmp_path / "cmp", "--config", toml, "--epochs", "1")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert rows["cell"].tolist() == ["lstm", "gru"]
    assert tomllib.loads((tmp_path / "cmp" / "compare.toml").read_text())["cells"] == "lstm,gru"


@pytest.mark.parametrize("text, message", [
    ("epoch = 2\n", "unknown key 'epoch'; did you mean 'epochs'?"),
    ("epochs = \"two\"\n", "epochs must be a whole number, got 'two'"),
    ("lr = \"fast\"\n", "lr must be a number, got 'fast'"),
    ("refit = \"no\"\n", "refit must be true or false, got 'no'"),
    ("features = { a = 1 }\n", "features must be a string (or a list, for a comma-separated flag), got {'a': 1}"),
    ("out = \"elsewhere\"\n", "'out' cannot be set in a config file; give it on the command line"),
    ("zzz = 1\n", "unknown key 'zzz'; keys are the command's flags with _ for -, e.g. n_prev"),
    ("[train]\nhorizon = 3\n", "[train] is a TOML table, but settings are read only from the top of the file; "
                                "remove the section header and keep its key = value lines"),
    ("cell = \"LSTM\"\n", "cell must be one of lstm, gru, rnn, peephole, cifg; got 'LSTM'"),
    ("fill = \"mean\"\n", "fill must be one of interpolate, ffill, zero, drop; got 'mean'"),
])
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, sine_csv: Path, text: str, message: str) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    result = invoke("train", sine_csv, "--out", tmp_path / "r", "--config", toml)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: config file {toml}: {message}\n" and result.stdout == ""
    assert not (tmp_path / "r").exists()


def test_unreadable_config(tmp_path: Path, sine_csv: Path) -> None:
    result = invoke("train", sine_csv, "--out", tmp_path / "r", "--config", tmp_path / "none.toml")
    assert result.exit_code == 2 and result.stderr == f"Error: config file {tmp_path / 'none.toml'} does not exist\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("n_prev = \n")
    result = invoke("train", sine_csv, "--out", tmp_path / "r", "--config", bad)
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: cannot read config file {bad}: Invalid value")
    assert len(result.stderr.splitlines()) == 1


def test_toml_round_trip() -> None:
    flags = flags_from_config(TrainConfig(features=["a", "b"], quantiles=[0.05, 0.95], n_prev=24, lr=1e-4), 50)
    back = tomllib.loads(to_toml(flags, ["a comment"]))
    assert back["features"] == "a,b" and back["quantiles"] == "0.05,0.95" and back["n_prev"] == "24"
    assert back["lr"] == 1e-4 and back["samples"] == 50 and back["refit"] is True and "epochs" not in back
    assert tomllib.loads(to_toml({"s": 'quote " back\\slash \x7f'}, []))["s"] == 'quote " back\\slash \x7f'
    assert coerce(Path("f"), "n_prev", 24, str) == "24" and coerce(Path("f"), "lr", 1, float) == 1.0
