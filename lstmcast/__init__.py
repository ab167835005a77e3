"""lstmcast: honest LSTM time-series forecasts from the command line."""

__version__ = "0.1.0"

from .api import LSTMForecaster  # noqa: E402
from .checkpoint import load_checkpoint  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .errors import LstmcastError  # noqa: E402
from .run import plot_run, predict_run, train_run  # noqa: E402

__all__ = ["__version__", "LSTMForecaster", "TrainConfig", "LstmcastError", "load_checkpoint", "train_run",
           "predict_run", "plot_run"]
