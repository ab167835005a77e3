"""lstmcast: honest LSTM time-series forecasts from the command line."""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The API is imported on first use (PEP 562), not with the package: `import torch` takes seconds, and the command
# line's entry point (lstmcast.__main__) must be running before it starts, to catch a Ctrl-C that comes meanwhile.
_API = {"LSTMForecaster": "api", "load_checkpoint": "checkpoint", "TrainConfig": "config", "LstmcastError": "errors",
        "train_run": "run", "predict_run": "run", "plot_run": "run"}

if TYPE_CHECKING:
    from .api import LSTMForecaster
    from .checkpoint import load_checkpoint
    from .config import TrainConfig
    from .errors import LstmcastError
    from .run import plot_run, predict_run, train_run

__all__ = ["__version__", "LSTMForecaster", "TrainConfig", "LstmcastError", "load_checkpoint", "train_run",
           "predict_run", "plot_run"]


def __getattr__(name: str) -> object:
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
