"""train --resume RUN_DIR: 4 epochs then 4 more give what 8 straight give, bit for bit on CPU, even after a
Ctrl-C in mid-epoch; anything that would make it another training is one Error line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from lstmcast.cli import app
from lstmcast.data import generate_sine
from lstmcast.windows import WindowSet

runner = CliRunner()
# Two layers with dropout: the resumed run must also restore torch's generator (the dropout masks).
TINY = ["--n-prev", "10", "--hidden", "8", "--batch-size", "32", "--device", "cpu", "--ensemble", "2", "--layers", "2",
        "--dropout", "0.3", "--lr", "0.01", "--patience", "3", "--quiet", "--training", "windows", "--val-size", "0.05"]
FIXTURES = Path(__file__).parent / "fixtures"


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: 8 epochs in one go, on the data file the other runs use."""
    root = tmp_path_factory.mktemp("resume")
    generate_sine(steps_per_cycle=20, cycles=8, noise=0.05, seed=0).to_csv(root / "sine.csv", index=False)
    result = invoke("train", root / "sine.csv", "--out", root / "straight", *TINY, "--epochs", "8")
    assert result.exit_code == 0, result.output
    return root / "straight"


def assert_same_run(a: Path, b: Path, epochs: int = 8) -> None:
    """Same weights of both models, scores, predictions, losses and settings (all but the time taken)."""
    pa, pb = (torch.load(p / "model.pt", weights_only=True) for p in (a, b))
    for model in ("model", "eval"):
        wa, wb = (pa[model], pb[model]) if model == "model" else (pa["eval"]["model"], pb["eval"]["model"])
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), model
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert ma["notes"] == mb["notes"], (ma["notes"], mb["notes"])
    assert ma == mb
    ha, hb = (pd.read_csv(p / "history.csv").drop(columns="seconds") for p in (a, b))
    pd.testing.assert_frame_equal(ha, hb)
    assert (a / "test_predictions.csv").read_text() == (b / "test_predictions.csv").read_text()
    ca, cb = ((p / "config.toml").read_text().splitlines() for p in (a, b))
    assert ca[2:] == cb[2:] and f"epochs = {epochs}" in ca  # all but the header line naming the folder


def test_four_epochs_resumed_to_eight_equal_eight_straight(tmp_path: Path, straight: Path) -> None:
    notes = json.loads((straight / "metrics.json").read_text())["notes"]
    assert "early stop at epoch 5: no better validation loss for 3 epochs" in notes  # after epoch 4: state carried
    data = straight.parent / "sine.csv"
    run = tmp_path / "run"
    assert invoke("train", data, "--out", run, *TINY, "--epochs", "4").exit_code == 0
    before = (run / "model.pt").read_bytes()
    first_four = pd.read_csv(run / "history.csv")["seconds"]
    elsewhere = invoke("train", "--resume", run, "--epochs", "8", "--out", tmp_path / "copy", "--json")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert (run / "model.pt").read_bytes() == before  # --out elsewhere leaves the run as it was
    assert json.loads(elsewhere.stdout)["notes"][0] == f"resumed {run} after 4 epochs, to 8 epochs"
    assert_same_run(tmp_path / "copy", straight)
    # the first 4 epochs were carried over, not trained again: their recorded times are the first run's
    pd.testing.assert_series_equal(pd.read_csv(tmp_path / "copy" / "history.csv")["seconds"][:4], first_four)
    result = invoke("train", "--resume", run, "--epochs", "8")
    assert result.exit_code == 0, result.output
    assert_same_run(run, straight)


def test_a_mixed_ensemble_resumed_equals_straight(tmp_path: Path, straight: Path) -> None:
    """--training both (windows networks, then forking ones): each kind's state is carried over."""
    data = straight.parent / "sine.csv"
    both = [*TINY[:-2], "--training", "both", "--ensemble", "2"]
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert invoke("train", data, "--out", ref, *both, "--epochs", "6").exit_code == 0
    assert invoke("train", data, "--out", run, *both, "--epochs", "3").exit_code == 0
    result = invoke("train", "--resume", run, "--epochs", "6")
    assert result.exit_code == 0, result.output
    assert_same_run(run, ref, epochs=6)
    assert len([k for k in torch.load(run / "model.pt", weights_only=True)["model"] if k.endswith("head.bias")]) == 2


def test_ctrl_c_in_mid_epoch_then_resume_equals_straight(tmp_path: Path, straight: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C halfway through an epoch of the second network, then again in the refit: each resume goes on
    from the last finished epoch, and the third finishes the run as if nothing had happened."""
    data = straight.parent / "sine.csv"
    run = tmp_path / "run"
    real = WindowSet.__getitem__

    def ctrl_c_at(windows: int, n: int) -> None:
        """Ctrl-C as the n-th batch is cut from the set of `windows` windows (128 training the evaluation
        model, 151 the refit), after the batches before it in that epoch have updated the weights."""
        calls = [0]

        def getitem(self: WindowSet, b: object) -> object:
            calls[0] += len(self) == windows
            if len(self) == windows and calls[0] == n:
                raise KeyboardInterrupt
            return real(self, b)  # type: ignore[arg-type]

        monkeypatch.setattr(WindowSet, "__getitem__", getitem)

    ctrl_c_at(128, 4 * 5 + 4 + 3)  # 4 batches an epoch; network 1 stops early after 5: network 2, epoch 2, batch 3
    result = invoke("train", data, "--out", run, *TINY, "--epochs", "8")
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1].endswith(f"; `lstmcast train --resume {run}` continues it")
    assert json.loads((run / "metrics.json").read_text())["interrupted"] is True
    ctrl_c_at(151, 5 + 3)  # resumed: network 2 finishes, then Ctrl-C in the refit's second epoch (5 batches each)
    result = invoke("train", "--resume", run)
    assert result.exit_code == 130, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["final_model"]["refit"] is True
    monkeypatch.setattr(WindowSet, "__getitem__", real)
    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert_same_run(run, straight)


@pytest.fixture
def finished(tmp_path: Path, straight: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    return run


def error_line(*args: object) -> str:
    result = invoke(*args)
    assert result.exit_code == 2 and result.stdout == "", result.output
    return result.stderr


def test_a_checkpoint_without_optimiser_state(tmp_path: Path) -> None:
    run = tmp_path / "old"
    run.mkdir()
    shutil.copy(FIXTURES / "model_v1.pt", run / "model.pt")
    assert error_line("train", "--resume", run, "--epochs", "3") == (
        f"Error: --resume {run}: {run / 'model.pt'} holds no optimiser state to continue from (it was saved by an "
        f"lstmcast that did not keep it); start a new training from its weights with --init-from {run}\n")


def test_other_model_flags_are_refused(finished: Path) -> None:
    assert error_line("train", "--resume", finished, "--epochs", "9", "--hidden", "16", "--no-refit", "--n-prev",
                      "auto") == (
        f"Error: --resume {finished}: --n-prev auto, --no-refit, --hidden 16 differ from the run's --n-prev 10, "
        f"--refit, --hidden 8; a resumed run continues the same training, so only --epochs, --patience, --device, "
        f"--precision and --threads may change (--init-from {finished} starts a new training from its weights)\n")
    assert error_line("train", "--resume", finished, "--init-from", finished) == (
        "Error: --resume continues a run's own training and --init-from starts a new one from a run's weights; give "
        "one of them\n")


def test_other_data_is_refused(finished: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("t,sin_t\n0,1\n")
    assert error_line("train", other, "--resume", finished, "--epochs", "9") == (
        f"Error: --resume {finished}: {other} is not the file the run trained on (its sha256 differs from the one in "
        f"{finished / 'model.pt'}); to train on other data from this run's weights use --init-from {finished}\n")
    missing = tmp_path / "gone.csv"
    assert error_line("train", missing, "--resume", finished) == (
        f"Error: --resume {finished}: its training data {missing} is not there; give the file: lstmcast train FILE "
        f"--resume {finished}\n")


def test_nothing_left_or_fewer_epochs(finished: Path) -> None:
    assert error_line("train", "--resume", finished, "--epochs", "12") == (
        f"Error: --resume {finished}: nothing left to train: every network stopped early under --patience 3; a larger "
        "--patience lets them go on\n")
    notes = json.loads((finished / "metrics.json").read_text())["notes"]
    ran = max(int(n.split()[4].rstrip(":")) for n in notes if n.startswith("early stop at epoch"))
    assert 5 < ran < 9  # the networks stopped early after different epochs, the last one between 6 and 8
    assert error_line("train", "--resume", finished, "--epochs", "5") == (
        f"Error: --resume {finished}: the run has trained {ran} epochs already and --epochs 5 asks for fewer; --epochs "
        f"is the total number of epochs, so ask for more than {ran}\n")
    result = invoke("train", "--resume", finished, "--patience", "10", "--epochs", "9", "--quiet")
    assert result.exit_code == 0, result.output  # the networks that had stopped early go on to epoch 9
    assert pd.read_csv(finished / "history.csv")["epoch"].tolist() == list(range(1, 10))
    settings = (finished / "config.toml").read_text().splitlines()
    assert "patience = 10" in settings and "epochs = 9" in settings
    assert error_line("train", "--resume", finished) == (
        f"Error: --resume {finished}: nothing left to train: every network has run its 9 epochs; --epochs is the "
        "total, so ask for more (e.g. --epochs 18)\n")


def test_train_without_data_or_out(tmp_path: Path, sine_csv: Path) -> None:
    assert error_line("train", "--out", tmp_path / "r") == "Error: Missing argument 'DATA'.\n"
    assert error_line("train", sine_csv) == "Error: Missing option '--out'.\n"
    assert not (tmp_path / "r").exists()
