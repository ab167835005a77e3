"""Load a CSV/Parquet file into a validated Panel of one or many series, and split it by time."""

from __future__ import annotations

import bz2
import difflib
import gzip
import hashlib
import io
import itertools
import lzma
import os
import re
import stat
import sys
import warnings
import zipfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import LstmcastError
from .windows import concat_ranges

# read_csv's floats exactly as written: pandas before 3.1 misreads about a third of doubles by an ulp unless asked
# for the round-trip parser, which 3.1 made the default (and deprecated asking for)
EXACT_FLOATS: dict[str, str] = ({} if tuple(int(v) for v in re.findall(r"\d+", pd.__version__)[:2]) >= (3, 1)
                                else {"float_precision": "round_trip"})

__all__ = [
    "offset_of",
    "Panel",
    "load_table",
    "load_panel",
    "panel_from_frame",
    "generate_sine",
    "generate_memory",
    "split_points",
    "season_length_for",
    "fixed_step",
    "is_sub_daily",
    "file_fingerprint",
    "data_source",
    "STREAMS",
    "IN_MEMORY",
    "is_stream",
    "refuse_device",
    "read_bytes",
    "future_times",
    "read_written",
    "season_phase",
    "refill_training",
]

# Squares of the values (spreads, squared errors, their sums) must stay finite in float64 (max ~1.8e308).
MAX_ABS = 1e100

TIME_NAMES = ("t", "ts", "time", "date", "datetime", "timestamp", "ds", "period", "day", "week", "month", "quarter", "year")
# Period labels of statistical offices that pandas does not parse: 1990M01 / 1990-M1 (IMF, Eurostat,
# Statistics Norway), ISO weeks 1990-W01 (read as their Monday).
_MONTH_LABEL = re.compile(r"^\s*(\d{4})\s*-?\s*M(\d{1,2})\s*$", re.IGNORECASE)
_WEEK_LABEL = re.compile(r"^\s*(\d{4})\s*-?\s*W(\d{2})\s*$", re.IGNORECASE)
# quarters as spreadsheets and statistics offices write them: 1990 Q1, 1990/Q1, Q1 1990, Q1-1990 (and 1990Q1)
_QUARTER_LABEL = re.compile(r"^\s*(?:(\d{4})\s*[-/ ]?\s*Q([1-4])|Q([1-4])\s*[-/ ]?\s*(\d{4}))\s*$", re.IGNORECASE)
# Months by name with a year, as spreadsheets format them: Jan-18 or Jan 18 (Excel's mmm-yy), Jan-2018, January 2018
_MONTH_NAME_LABEL = re.compile(r"^\s*([A-Za-z]{3,9})\.?\s*[-/' ]?\s*(\d{2}|\d{4})\s*$")
# Fiscal years: FY2020, FY 2020 or FY20 (the year they are named after), 2012/13 or 2012-13 (the year they start in)
_FISCAL_LABEL = re.compile(r"^\s*(?:FY\s*-?\s*(\d{4}|\d{2})|(\d{4})\s*[-/]\s*(\d{2}))\s*$", re.IGNORECASE)
# Season length for the offset prefix pandas gives a frequency (hourly 24, daily 7, ...).
SEASONS = {"h": 24, "H": 24, "D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4,
           "Y": 1, "YS": 1, "YE": 1, "A": 1, "AS": 1, "min": 60, "T": 60}


@dataclass
class Panel:
    """Series stored end to end: values[starts[s]:starts[s+1]] is series s, oldest first."""

    values: np.ndarray  # (N,) float64 target
    starts: np.ndarray  # (S+1,) int64 offsets into values
    ids: list[str]  # (S,) series keys ("" for a single unnamed series)
    time: np.ndarray  # (N,) datetime64[ns] or float64 step values
    is_datetime: bool
    time_name: str
    target: str
    freq: str | None  # pandas offset alias for datetimes, or the integer step as a string
    covariates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (N, F) past features
    feature_names: list[str] = field(default_factory=list)
    id_name: str | None = None
    notes: list[str] = field(default_factory=list)  # things the user should be told (fills, gaps)
    observed: np.ndarray = field(default_factory=lambda: np.ones(0, bool))  # (N,) False where a value was filled in
    dayfirst: bool = False  # dates were read day first (31/01/2020): new data for the model is read alike
    utc: bool = False  # times within the day were read from UTC offsets: they are UTC, and written so
    sha256: str | None = None  # of the bytes the panel was read from (load_panel), as a run records them

    def __post_init__(self) -> None:
        """An empty `observed` means every value came from the file."""
        if len(self.observed) != len(self.values):
            if len(self.observed):
                raise ValueError(f"observed has {len(self.observed)} entries for {len(self.values)} values")
            self.observed = np.ones(len(self.values), bool)

    @property
    def n_series(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def series_index(self) -> np.ndarray:
        """(N,) the series number of every point."""
        return np.repeat(np.arange(self.n_series), self.lengths)

    def select(self, keep: np.ndarray) -> Panel:
        """A panel with only the series where `keep` (S,) is True."""
        idx = np.flatnonzero(keep)
        pts = concat_ranges(self.starts[idx], self.starts[idx + 1])
        lengths = self.lengths[idx]
        return Panel(
            values=self.values[pts], starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            ids=[self.ids[i] for i in idx], time=self.time[pts], is_datetime=self.is_datetime,
            time_name=self.time_name, target=self.target, freq=self.freq,
            covariates=self.covariates[pts] if self.covariates.size else self.covariates,
            feature_names=self.feature_names, id_name=self.id_name, notes=list(self.notes),
            observed=self.observed[pts], dayfirst=self.dayfirst, utc=self.utc,
        )


STDIN = Path("-")  # the data argument that reads stdin
# Formats people pass that are not tables lstmcast reads: what they are, by suffix and by their first bytes.
UNSUPPORTED = {".xlsx": "an Excel workbook", ".xlsm": "an Excel workbook", ".xls": "an Excel workbook",
               ".ods": "an OpenDocument spreadsheet", ".numbers": "a Numbers spreadsheet", ".json": "a JSON file",
               ".feather": "a Feather file", ".arrow": "an Arrow file", ".h5": "an HDF5 file", ".hdf5": "an HDF5 file",
               ".pkl": "a pickle", ".pickle": "a pickle", ".db": "a database", ".sqlite": "a database"}
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
WHITESPACE = r"\s+"  # the separator of a table whose columns stand apart by spaces
_stdin: list[tuple[object, bytes]] = []  # stdin read once per process (per stream, for CliRunner's tests)
# pipes and FIFOs (<(cat f), mkfifo) read once per process, as stdin is; by path and inode (/dev/fd/N comes back)
_pipes: dict[tuple[str, int, int], bytes] = {}
# What a run records as the path of data read from a stream, which cannot be read again, and how messages name it.
# A DataFrame fitted with the Python API is recorded as "<DataFrame>": its bytes were a temporary file's.
STREAMS = {"<stdin>": "stdin", "<pipe>": "a pipe", "<DataFrame>": "a DataFrame (the Python API)"}
IN_MEMORY = "<DataFrame>"


def is_stream(path: Path) -> bool:
    """Whether `path` is stdin (`-`) or a pipe, FIFO or socket: data that is gone once read."""
    return Path(path) == STDIN or _pipe_key(path) is not None


def _pipe_key(path: Path) -> tuple[str, int, int] | None:
    """The key of a pipe, FIFO or socket in the cache of streams read; None for anything else."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino) if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode) else None


def refuse_device(path: Path) -> None:
    """A character or block device (/dev/zero, /dev/sda) is not a data file: reading one may never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: the read says so
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise LstmcastError(f"{path} is a device, not a data file")


def read_bytes(path: Path) -> bytes:
    """The bytes of a data file. Stdin (`-`) and other streams (a pipe, a FIFO) are read once per process, so the
    loader and the fingerprint agree; a device is refused before anything is read."""
    if Path(path) == STDIN:
        if sys.stdin is None:  # `<&-`
            raise LstmcastError("standard input is closed; `-` reads the data from it, so pipe a CSV in or give the "
                                "file's name")
        if not _stdin or _stdin[0][0] is not sys.stdin:
            _stdin[:] = [(sys.stdin, sys.stdin.buffer.read())]
        return _stdin[0][1]
    refuse_device(path)
    key = _pipe_key(path)
    if key is None:
        return Path(path).read_bytes()
    if key not in _pipes:
        _pipes[key] = Path(path).read_bytes()
    return _pipes[key]


def file_fingerprint(path: Path) -> str:
    """sha256 of the file's bytes, so a run records exactly which data it saw (of the bytes read, for a stream)."""
    if is_stream(path):
        return hashlib.sha256(read_bytes(path)).hexdigest()
    refuse_device(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_source(path: Path, rows: int, sha256: str | None = None) -> dict[str, object]:
    """What a run records of its data: the absolute path (`<stdin>` for -, `<pipe>` for a pipe or FIFO), the sha256 of
    the bytes read (`sha256`: the panel's, from its one read; else the file is hashed) and the rows read."""
    where = "<stdin>" if Path(path) == STDIN else "<pipe>" if is_stream(path) else str(Path(path).resolve())
    return {"path": where, "sha256": sha256 or file_fingerprint(path), "rows": int(rows)}


def _decompress(raw: bytes, path: Path) -> bytes:
    """A .gz/.bz2/.xz/.zip file's content (pandas read these by suffix; lstmcast reads the bytes itself)."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.decompress(raw)
    if suffix == ".bz2":
        return bz2.decompress(raw)
    if suffix == ".xz":
        return lzma.decompress(raw)
    if suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise LstmcastError(f"{path} holds {len(names)} files; lstmcast reads a zip with exactly one CSV in it")
            return z.read(names[0])
    return raw


def _format_problem(raw: bytes, path: Path) -> str | None:
    """What an unreadable file is (an Excel workbook, binary data), or None for text and Parquet."""
    if raw[:4] == b"PK\x03\x04" and (b"xl/" in raw[:4096] or path.suffix.lower() in UNSUPPORTED):
        return UNSUPPORTED.get(path.suffix.lower(), "an Excel workbook")
    if raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "an old Excel (.xls) workbook"
    if path.suffix.lower() in UNSUPPORTED:
        return UNSUPPORTED[path.suffix.lower()]
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "binary data, not text"
    return None


def _decode(raw: bytes) -> tuple[str, str]:
    """Text and the encoding that read it: UTF-16 by its byte-order mark, else UTF-8 (with or without a
    byte-order mark), else Windows-1252 when bytes 0x80-0x9F occur (Excel's CSV in Western Europe: 0x80 is its
    €, a control character in Latin-1) and it reads them all, else Latin-1 (which reads any bytes)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    if re.search(b"[\x80-\x9f]", raw):
        try:
            return raw.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90 and 0x9D are not in Windows-1252
            pass
    return raw.decode("latin-1"), "Latin-1"


def _consistent_separator(lines: list[str]) -> tuple[str, int] | None:
    """The separator whose count is the same, and above zero, on every line (quoted fields aside), with that
    count; the one giving the most columns wins. None when no separator is consistent."""
    unquoted = [re.sub(r'"[^"]*"', "", ln) for ln in lines]
    best: tuple[str, int] | None = None
    for sep in SEPARATORS:
        counts = {ln.count(sep) for ln in unquoted}
        if len(counts) == 1 and (n := counts.pop()) > (best[1] if best else 0):
            best = (sep, n)
    return best


def _sniff_separator(text: str) -> str:
    """The separator consistent on the header and the next lines (_consistent_separator); else runs of spaces
    when every one of those lines splits on them into the same number (above one) of fields, as aligned
    text tables and some instruments write them; else a comma."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    found = _consistent_separator(lines)
    if found:
        return found[0]
    widths = {len(ln.split()) for ln in lines}
    return WHITESPACE if len(widths) == 1 and widths.pop() > 1 else ","


# A cell that holds a value, not a name: a number, a date or a time (100,5  -$12  2015-01-01  01/02/2015  13:00)
_VALUE_CELL = re.compile(r"[-+(]?[$€£¥]?\s*\d[\d.,:/'\-\s]*[%$€£¥)]?")


def _cells(line: str, sep: str) -> list[str]:
    """A head line's cells, stripped, with quoted ones unquoted (their separators dropped: only their kind counts)."""
    return [c.strip() for c in re.sub(r'"([^"]*)"', lambda m: m[1].replace(sep, ""), line).split(sep)]


def _padded(line: str, sep: str) -> bool:
    """A title or blank line that a spreadsheet padded to the table's width (`Sales report,,`, `;`): every cell
    empty but one or two that hold text, not values."""
    cells = _cells(line, sep)
    full = [c for c in cells if c]
    return len(full) < len(cells) and len(full) <= 2 and not any(_VALUE_CELL.fullmatch(c) for c in full)


def _past_padding(lines: list[str], k: int, sep: str) -> int:
    """The header's line from line k on: past padded titles and blank lines (_padded), when the first line after
    them names columns (holds no values); else k (a header with empty names, `,sales`, over its data)."""
    h = next((i for i in range(k, len(lines)) if lines[i].strip() and not _padded(lines[i], sep)), k)
    return h if not any(_VALUE_CELL.fullmatch(c) for c in _cells(lines[h], sep)) else k


def _footer(text: str, sep: str) -> tuple[str, str | None, int]:
    """Notes that reports put below a table after a blank line (`Source: company records`, a footnote): the text
    without them, the first one and how many; (text, None, 0) when the table runs to the end. A note holds text and
    no value (a data row with a missing value is not one), and at most 10 such lines are taken for notes."""
    lines = text.splitlines(keepends=True)
    if not lines or sep not in lines[0]:
        return text, None, 0

    def note(line: str) -> bool:
        full = [c for c in _cells(line, sep) if c]
        return (sep not in line or _padded(line, sep)) and bool(full) and not any(_VALUE_CELL.fullmatch(c) for c in full)

    k = len(lines)
    while k > 1 and len(lines) - k < 20 and (not lines[k - 1].strip() or note(lines[k - 1])):
        k -= 1
    below = [ln for ln in lines[k:] if ln.strip()]
    if not below or len(below) > 10 or all(ln.strip() for ln in lines[k:]):  # no blank line between: not a footer
        return text, None, 0
    return "".join(lines[:k]), below[0].strip().strip(",;\t|").strip(), len(below)


def _preamble(text: str) -> int:
    """How many lines above the table's header to skip: a title, a source line, '#' comments and blank lines, as
    reports and database exports put there. The header is the first line from which the next lines (up to 50)
    all hold the same number (above zero) of one separator, and every line above it is blank, a comment, holds
    none of that separator or is a title padded with it (_padded: spreadsheets pad every row to the table's
    width, so such titles may hold the same number of separators as the table, and are skipped from there);
    0 when that is the first line (or no such line is among the first ten)."""
    lines = [ln.rstrip("\r\n") for ln in itertools.islice(io.StringIO(text), 60)]  # the head only: files are big
    for k in range(min(10, len(lines))):
        if not lines[k].strip():
            continue
        rest = [ln for ln in lines[k:] if ln.strip()]
        if len(rest) < 2:
            return 0
        found = _consistent_separator(rest)
        if found:
            sep = found[0]
            above = [ln for ln in lines[:k] if ln.strip() and not ln.lstrip().startswith("#")]
            return _past_padding(lines, k, sep) if all(sep not in ln or _padded(ln, sep) for ln in above) else 0
    return 0


def load_table(path: Path, ids: str | None = None) -> pd.DataFrame:
    """Read a CSV (separator and encoding sniffed) or Parquet file, or a CSV on stdin for `-`, turning every
    reading problem into one LstmcastError line. df.attrs["notes"] says how a file that is not plain
    comma-separated UTF-8 was read. `ids`: the series id column, kept as written (a CSV's text: 007 is not 7;
    Parquet's own type), never turned into numbers."""
    path = Path(path)
    name = "stdin" if path == STDIN else str(path)
    if path != STDIN:
        if not path.exists():
            raise LstmcastError(f"data file {path} does not exist")
        if path.is_dir():
            raise LstmcastError(f"{path} is a folder, not a data file")
    notes: list[str] = []
    skip = 0  # lines above the header
    again: list[int] = []  # lines repeating the header
    try:
        blob = read_bytes(path)
        raw = _decompress(blob, path)
        if raw[:4] == b"PAR1":
            df = _parquet_index(pd.read_parquet(io.BytesIO(raw)))
            notes += _text_numbers(df, ".", typed=True, keep=ids)
        else:
            problem = _format_problem(raw, path)
            if problem:
                raise LstmcastError(f"{name} is {problem}; lstmcast reads CSV (comma, semicolon or tab separated) or "
                                    "Parquet files: export the table as CSV and pass that")
            text, encoding = _decode(raw)
            if not text.strip():
                raise pd.errors.EmptyDataError
            skip = _preamble(text)
            if skip:
                above = list(itertools.islice(io.StringIO(text), skip))
                # the first line that says something, without a spreadsheet's padding (none: blank lines only)
                title = next((t for ln in above if (t := ln.strip().strip(",;\t|").strip())), None)
                notes.append(f"skipped {skip} line{'s' if skip > 1 else ''} above the header of {name}"
                             + (f" ({title!r})" if title else ""))
                text = text[sum(map(len, above)):]
            text, again = _repeated_headers(text)
            if again:
                shown = ", ".join(str(n + skip) for n in again[:5]) + (" ..." if len(again) > 5 else "")
                notes.append(f"left out {len(again)} line{'s' * (len(again) > 1)} of {name} repeating the header "
                             f"(line{'s' * (len(again) > 1)} {shown})")
            sep = _sniff_separator(text)
            text, footnote, below = _footer(text, sep)
            if below:
                notes.append(f"left out {below} line{'s' * (below > 1)} of notes below the table of {name} "
                             f"({footnote!r})")
            # A semicolon file is usually a European export, where the decimal mark is a comma (1,5).
            # (a currency or per cent sign may stand beside the number: 12,50 €)
            comma = sep == ";" and re.search(r"(?:^|;)\s*\(?-?[$€£¥]?\s*-?(?:\d{1,3}(?:[.' \u00a0\u202f]\d{3})+|\d+),\d+\s*"
                                             r"[%$€£¥]?\s*\)?\s*(?:;|$)", text, re.M)
            decimal = "," if comma else "."
            # index_col=False: a separator at the end of each data row is not a first column of row labels
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header: no guess
                try:
                    df = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, index_col=False,
                                     **EXACT_FLOATS)
                except pd.errors.ParserWarning:
                    raise LstmcastError(f"cannot read {name}: some rows have more values than the header has "
                                        "column names; name every column in the first line") from None
            df = _ids_as_written(df, io.StringIO(text), ids, sep=sep)
            df = _trim(df)
            notes += _text_numbers(df, decimal, keep=ids)
            if decimal == ",":
                notes += _thousands_doubt(df, text, sep)
            if sep != "," or encoding not in ("UTF-8",):
                notes.append(f"read {name} as {SEPARATORS.get(sep, 'space')}-separated {encoding}"
                             + (" with decimal commas" if decimal == "," else ""))
    except pd.errors.EmptyDataError:
        raise LstmcastError(f"data file {name} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, ImportError, EOFError,
            zipfile.BadZipFile, lzma.LZMAError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LstmcastError(f"cannot read {name}: {first}") from None
    if df.shape[0] == 0:
        raise LstmcastError(f"data file {name} has a header but no rows")
    df, more = _row_index(df)
    notes += more
    df.attrs["notes"] = notes
    df.attrs["sha256"] = hashlib.sha256(blob).hexdigest()  # of the bytes read: a stream cannot be read again
    df.attrs["skipped_lines"] = skip
    df.attrs["left_out_lines"] = [n + skip for n in again]  # header lines repeated below the header
    df.columns = [str(c).strip() for c in df.columns]
    twice = df.columns[df.columns.duplicated()]
    if len(twice):
        raise LstmcastError(f"data file {path} has two columns named {twice[0]!r} (spaces around names are ignored); "
                            "rename one")
    return df


def _ids_as_written(df: pd.DataFrame, source: Any, name: str | None, sep: str = ",") -> pd.DataFrame:
    """`df` (read from the CSV `source`) with its id column `name` (spaces around header names aside) as the file
    writes it: ids such as 007 or 1.0 are labels that numbers would change or merge (1, 01 and 1.0), and read_csv
    takes NA, null, None or nan for a missing value even in a text column, where as ids they are names (Namibia,
    North America); only a blank id is missing."""
    cols = [c for c in df.columns if str(c).strip() == name] if name is not None else []
    if cols:
        if hasattr(source, "seek"):
            source.seek(0)
        raw = pd.read_csv(source, sep=sep, index_col=False, usecols=cols[:1], dtype=str, keep_default_na=False)[cols[0]]
        df[cols[0]] = raw.where(raw.str.strip() != "", None)
    return df


def read_written(source: Any, id_name: str | None, **kw: Any) -> pd.DataFrame:
    """A CSV lstmcast wrote (predictions, forecasts), its id column `id_name` as written (_ids_as_written)."""
    return _ids_as_written(pd.read_csv(source, **kw), source, id_name)


def _parquet_index(df: pd.DataFrame) -> pd.DataFrame:
    """A Parquet table with its index levels as columns where they carry data: named ones (df.set_index('date')
    .to_parquet(), the common way to save a series, keeps its dates only there) and unnamed dates; a row
    counter (a RangeIndex, even a named one, or the unnamed row numbers a filter leaves) is dropped, as it was.
    An unnamed date index becomes a column 'date' (pandas would call it 'index'), and periods (pandas' Period
    columns, as a CSV's '2015-01' labels) their first days."""
    if isinstance(df.index, pd.RangeIndex):
        df = df.reset_index(drop=True)
    else:
        def dated(i: int) -> bool:
            level = df.index.get_level_values(i)
            return level.dtype.kind == "M" or isinstance(level.dtype, pd.PeriodDtype)

        drop = [i for i, name in enumerate(df.index.names) if name is None and not dated(i)]
        if len(drop) == df.index.nlevels:
            df = df.reset_index(drop=True)
        else:
            df = df.reset_index(level=drop, drop=True) if drop else df
            free = next(n for n in ("date", "time", "ds", "index") if n not in df.columns)
            df = df.rename_axis([free if n is None else n for n in df.index.names]).reset_index()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.PeriodDtype):
            df[c] = df[c].dt.to_timestamp()
    return df


def _trim(df: pd.DataFrame) -> pd.DataFrame:
    """What spreadsheet exports leave around a table: columns with no name and no value (a separator at the
    end of every line), and rows with no value at the end."""
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed: ") and df[c].isna().all()]
    df = df.drop(columns=unnamed)
    filled = df.notna().any(axis=1).to_numpy()
    if len(filled) and not filled[-1] and filled.any():
        df = df.iloc[:int(np.flatnonzero(filled)[-1]) + 1]
    return df


def _repeated_headers(text: str) -> tuple[str, list[int]]:
    """The table's text without the lines below the header that repeat it (files exported in pages, several
    exports pasted one under another), and those lines' numbers (the header's line is 1)."""
    end = text.find("\n")
    header = text[:end if end >= 0 else len(text)].rstrip("\r")
    if end < 0 or not header.strip():
        return text, []
    found = list(itertools.islice(re.finditer(f"^{re.escape(header)}\r?(?:\n|$)", text[end + 1:], re.M), 10_000))
    if not found:
        return text, []
    lines, pos, line, kept = [], end + 1, 2, [text[:end + 1]]
    for m in found:
        start = end + 1 + m.start()
        kept.append(text[pos:start])
        line += text.count("\n", pos, start)  # counted from the last match on: one pass over the text
        lines.append(line)
        pos, line = end + 1 + m.end(), line + 1
    kept.append(text[pos:])
    return "".join(kept), lines


def _row_index(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The table without a first column that has no name and counts the rows 0, 1, 2, ... (or 1, 2, 3, ...):
    the row index that pandas' to_csv and R's write.csv write unless told not to."""
    first = df.columns[0]
    col = df[first]
    if (len(df.columns) < 2 or not (str(first).startswith("Unnamed: ") or str(first).strip() == "")
            or col.dtype.kind not in "iu" or len(col) < 2):
        return df, []
    steps = col.to_numpy()
    if not ((steps[0] in (0, 1)) and (np.diff(steps) == 1).all()):
        return df, []
    return df.drop(columns=[first]), [f"ignored the first column, which has no name and counts the rows ({steps[0]}, "
                                      f"{steps[1]}, ...): a row index, as pandas' to_csv writes one"]


# 1,234 or -12,345,678.5: digits grouped in threes by commas, as spreadsheets export formatted numbers (quoted)
# or 10 013,50 / 10.013,50 where the decimal mark is a comma; the groups may also be set apart by an apostrophe
# (Switzerland) or a no-break space (France), one kind throughout a number
_GROUPS = {".": ",' \u00a0\u202f", ",": ".' \u00a0\u202f"}
# One alternative per group mark, not a back-reference: pandas 3.0 runs .str regexes on Arrow strings with RE2,
# which has none ("invalid escape sequence: \1" refused every file there)
_GROUPED = {d: re.compile(r"[-+]?\d{1,3}(?:" + "|".join(rf"(?:[{m}]\d{{3}})+" for m in g) + rf")(?:[{d}]\d*)?")
            for d, g in _GROUPS.items()}
_PLAIN = {".": re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"), ",": re.compile(r"[-+]?\d+(?:,\d*)?")}
# A unit written on every number of a column: a currency sign before it ($1,234.50, -$12) or after it (12,50 €),
# or a per cent sign after it (10.5%). Groups: sign, sign before, number, sign after.
# The number ends in a digit (or a decimal mark), so that the no-break space of "12,50\u00a0€" (French
# spreadsheets) is the gap before the sign, not part of the number; spaces are spelt out with the no-break ones,
# as the actual characters: RE2 (pandas 3.0's Arrow strings) has no \u escape and its \s is ASCII only.
_SPACE = "[\\s\u00a0\u202f]*"
_UNIT = (f"([-+]?){_SPACE}([$€£¥])?{_SPACE}([-+]?[\\d.,'\u00a0\u202f]*\\d[.,]?(?:[eE][-+]?\\d+)?){_SPACE}"
         "([$€£¥%])?")
# Marks for a missing number that pandas does not know: FRED's ".", the World Bank's "..", a dash, a "?", "na",
# a blank cell (spaces only: pandas reads only an empty one as missing) and Excel's error cells (a formula that
# had no value to give: #DIV/0! for a rate over an empty month).
MISSING_MARKS = (".", "..", "...", "-", "--", "?", "n.a.", "na", "", "#DIV/0!", "#VALUE!", "#REF!", "#NUM!", "#NAME?",
                 "#NULL!")


def _strip_unit(text: pd.Series) -> tuple[str | None, pd.Series]:
    """(the one currency or per cent sign that every value is written with, the values without it), or (None,
    the values) when they do not all carry one and the same sign (`text`: missing marks left out)."""
    parts = text.str.extract(f"^{_UNIT}$")
    before, after = parts[1], parts[3]
    signs = pd.Series(np.where(before.notna(), before, after), index=text.index, dtype=object)
    if (not len(text) or parts[2].isna().any() or signs.isna().any() or signs.nunique() != 1
            or (before.notna() & after.notna()).any()):
        return None, text
    return str(signs.iloc[0]), parts[0] + parts[2]


def _comma_decimals(text: pd.Series, missing: pd.Series) -> pd.Series | None:
    """When every value of a column (`text`, stripped; `missing`: its missing marks) reads as a number with a
    decimal comma (100,50; 3,14159; 1.234,5) and one has a comma: which of them may instead be grouped in
    thousands (1,234, as a comma-separated file's quoted numbers usually are); else None."""
    comma = text.str.contains(",", regex=False)
    fits = text.str.fullmatch(_PLAIN[","]) | text.str.fullmatch(_GROUPED[","]) | missing
    if not comma.any() or not fits.all():
        return None
    return comma & text.str.fullmatch(_GROUPED["."])


def _thousands_doubt(df: pd.DataFrame, text: str, sep: str) -> list[str]:
    """A note for each column of a file read with decimal commas whose every value has exactly three digits after
    a single comma (1,000 ... 1,941): those may be thousands, 1000 ... 1941, written with a comma."""
    raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, index_col=False, keep_default_na=False)
    notes = []
    for c in df.columns:
        if df[c].dtype.kind != "f" or c not in raw.columns:
            continue
        written = raw[c].str.strip()
        written = written[written != ""]
        if len(written) and written.str.fullmatch(r"-?\d{1,3},\d{3}").all():
            notes.append(f"read {c!r} with decimal commas ({written.iloc[0]!r} as {float(written.iloc[0].replace(',', '.')):g}), "
                         "as every value has three digits after its comma; if the commas set thousands apart, write the "
                         "numbers without them")
    return notes


def _text_numbers(df: pd.DataFrame, decimal: str, typed: bool = False, keep: str | None = None) -> list[str]:
    """Turn text columns of numbers into numbers, in place, when every value is a number, one at least, and
    some are written with thousands separators (1,234), with one currency or per cent sign throughout
    ($1,234.50, 10.5%), or are a missing mark (MISSING_MARKS, then NaN, as pandas reads an empty cell); a
    note for each. In a file read with decimal points, a column whose every number has a decimal comma
    (_comma_decimals: tab-separated, or quoted "100,50") is read with decimal commas unless a value may be
    grouped in thousands (1,234 beside 1,5: left as text, and _numeric's error says what to change). `typed`:
    the frame comes from a typed file (Parquet, a DataFrame), where nothing parsed plain numbers stored as text
    (1.5); those are turned too. `keep`: a column left as it is (the series ids)."""
    notes = []
    for c in df.columns:
        if df[c].dtype.kind not in "OSU" or str(c).strip() == keep:
            continue
        raw = df[c].dropna().astype(str)
        text = raw.str.strip()
        missing = text.isin(MISSING_MARKS)
        written = text  # the note quotes the first value as written
        minus = text.str.contains("\u2212", regex=False)  # the typographic minus sign (tables typeset for print)
        if minus.any():
            text = text.str.replace("\u2212", "-", regex=False)
        negative = text.str.fullmatch(r"\(.*\)")  # accounting's negatives: (4.05) is -4.05
        if negative.any():
            text = text.mask(negative, "-" + text.str[1:-1].str.strip())
        unit, bare = _strip_unit(text[~missing])
        if unit is not None:
            text = text.mask(~missing, bare)
        mark = decimal
        number = text.str.fullmatch(_PLAIN[mark])
        grouped = text.str.fullmatch(_GROUPED[mark])
        if decimal == "." and not (number | grouped | missing).all():
            maybe = _comma_decimals(text, missing)
            if maybe is not None and not maybe.any():
                mark = ","
                number, grouped = text.str.fullmatch(_PLAIN[mark]), text.str.fullmatch(_GROUPED[mark])
        if (not (number | grouped).any() or not (number | grouped | missing).all()
                or not (typed or mark != decimal or (grouped | missing | negative | minus).any() or unit is not None)):
            continue
        if typed:
            notes.append(f"read {c!r}, stored as text, as numbers")
        digits = text.where(~missing).str.replace(f"[{_GROUPS[mark]}]", "", regex=True)
        df[c] = pd.to_numeric(digits.str.replace(",", ".", regex=False)).reindex(df.index).astype(np.float64)
        if mark != decimal:
            i = text.index[int(np.argmax(text.str.contains(",", regex=False).to_numpy()))]
            notes.append(f"read {c!r} with decimal commas ({written[i]!r} as {df[c].loc[i]:g})")
        if minus.any():
            i = int(np.argmax(minus.to_numpy()))
            notes.append(f"read {c!r} with the minus sign \u2212 as - ({written.iloc[i]!r} as {df[c].dropna().iloc[i]:g})")
        if negative.any():
            i = int(np.argmax(negative.to_numpy()))
            notes.append(f"read {c!r} with negative numbers in parentheses ({written.iloc[i]!r} as "
                         f"{df[c].dropna().iloc[i]:g})")
        if unit is not None:
            notes.append(f"read {c!r} as numbers without their {unit!r} sign ({written.iloc[0]!r} as "
                         f"{df[c].dropna().iloc[0]:g})")
        elif grouped.any():
            i = int(np.argmax(grouped.to_numpy()))
            notes.append(f"read {c!r} with thousands separators ({text.iloc[i]!r} as {df[c].dropna().iloc[i]:g})")
        if missing.any():
            marks = sorted(set(text[missing].mask(text[missing] == "", raw[missing])))  # a blank cell as written
            k = int(missing.sum())
            notes.append(f"read {', '.join(map(repr, marks))} in {c!r} as missing ({k} value{'s' if k > 1 else ''})")
    return notes


def load_panel(
    path: Path,
    column: str | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
    features: list[str] | None = None,
    fill: str | None = None,
    freq: str | None = None,
) -> Panel:
    """Read `path` and validate it into a Panel."""
    df = load_table(path, ids=id_column)
    panel = panel_from_frame(df, column, time_column, id_column, features, fill, freq,
                             source="stdin" if Path(path) == STDIN else str(path))
    panel.notes[:0] = df.attrs.get("notes", [])
    panel.sha256 = df.attrs.get("sha256")
    return panel


def _columns_list(df: pd.DataFrame) -> str:
    return ", ".join(map(str, df.columns))


def _need_column(df: pd.DataFrame, name: str, flag: str) -> None:
    if name not in df.columns:
        cols = [str(c) for c in df.columns]
        near = [c for c in cols if c.casefold() == name.casefold()] or difflib.get_close_matches(name, cols, n=1)
        raise LstmcastError(f"{flag} {name!r} not found" + (f" (did you mean {near[0]!r}?)" if near else "")
                            + f"; columns are: {_columns_list(df)}")


def _detect_time_column(df: pd.DataFrame, exclude: set[str]) -> str | None:
    """A column named like time, or a text column that parses as datetimes."""
    for c in df.columns:
        if c in exclude:
            continue
        if c.lower() in TIME_NAMES:
            return c
    for c in df.columns:
        if c in exclude or df[c].dtype.kind not in "OSUM":
            continue
        if df[c].dtype.kind == "M":
            return c
        sample = df[c].dropna().astype(str).head(50)
        if len(sample) and (_period_labels(sample) is not None
                            or pd.to_datetime(sample, errors="coerce", format="mixed", utc=True).notna().all()):
            return c
    return None


# The label of a row that a report puts under its data: "Total", "Grand total:", "Sum", "Average", ...
_SUMMARY = re.compile(r"\s*(?:grand\s+|sub-?)?(?:totals?|sum|average|avg|mean|overall)\s*:?\s*", re.I)


def _summary_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The table without the rows (up to three) at its end that a spreadsheet report adds below the data, a
    total or an average labelled so in a text column where that label appears once; a note naming them."""
    text = [c for c in df.columns if df[c].dtype.kind in "OSU"]
    labels: list[str] = []
    while len(labels) < min(3, len(df) - 1):
        row = df.iloc[len(df) - 1 - len(labels)]
        label = next((row[c] for c in text if isinstance(row[c], str) and _SUMMARY.fullmatch(row[c])
                      and int((df[c] == row[c]).sum()) == 1), None)
        if label is None:
            break
        labels.insert(0, label)
    if not labels:
        return df, None
    k = len(df) - len(labels)
    lines = [_line(df, r) for r in range(k, len(df))]
    kept = df.iloc[:k]
    kept.attrs = dict(df.attrs)
    where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
    return kept, f"left out {where} ({', '.join(map(repr, labels))}): a summary under the data, not a point of the series"


def _line(df: pd.DataFrame, row: int) -> int:
    """The file line of data row `row` (the header on line 1, after any lines skipped above it)."""
    line = row + 2 + int(df.attrs.get("skipped_lines", 0))
    for left_out in df.attrs.get("left_out_lines", []):  # in order: each one before the row moves it down a line
        line += left_out <= line
    return line


def _numeric(df: pd.DataFrame, name: str, flag: str) -> np.ndarray:
    """Column as float64, or an error naming the first value that is not a number."""
    col = df[name]
    if col.dtype.kind in "biuf":
        return col.to_numpy(dtype=np.float64)
    if col.dtype.kind == "M":
        raise LstmcastError(f"{flag} {name!r} holds datetimes, not numbers; pass it as --time-column")
    conv = pd.to_numeric(col, errors="coerce")
    bad = conv.isna() & col.notna()
    culprit = bad & ~col.astype(str).str.strip().isin(MISSING_MARKS)  # a gap mark beside a word is not the culprit
    bad = culprit if culprit.any() else bad
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        where = _comma_doubt(df, col) or f"line {_line(df, row)} has {str(col.iloc[row])!r}"
        raise LstmcastError(f"{flag} {name!r} is not numeric: {where}")
    return conv.to_numpy(dtype=np.float64)


def _comma_doubt(df: pd.DataFrame, col: pd.Series) -> str | None:
    """Why a text column of decimal commas was not read as numbers: a value that may be grouped in thousands
    (1,234 beside 1,5; _comma_decimals), named with its line and what to change; None for other text."""
    text = col.dropna().astype(str).str.strip()
    maybe = _comma_decimals(text, text.isin(MISSING_MARKS))
    if maybe is None or not maybe.any():
        return None
    rows = np.flatnonzero(col.notna().to_numpy())  # each value's row
    i = int(np.argmax(maybe.to_numpy()))
    j = int(np.argmax((text.str.contains(",", regex=False) & ~maybe).to_numpy()))
    return (f"line {_line(df, rows[i])} has {text.iloc[i]!r}, a thousands separator or a decimal comma as in "
            f"{text.iloc[j]!r} on line {_line(df, rows[j])}; write the numbers with decimal points, or with "
            "decimal commas and no thousands separators")


# a UTC offset after a time of day: 2020-03-29T02:00:00+01:00, ...Z, "2020-03-29 02:00 +0100"
_OFFSET = re.compile(r"(\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|[+-]\d{2}:?\d{2})$")


def _dates(col: pd.Series, name: str, dayfirst: bool | None = None) -> tuple[pd.Series, str | None, bool]:
    """Parse date strings with one format for the whole column: the first value's, month first as pandas
    reads it, or day first (31/01/2020). When both readings fit every value (no day above 12) and differ,
    the one with a regular frequency wins: 01/02/2020, 01/03/2020, ... are months read day first, not
    days of January. Only when no one format fits is each value read on its own. `dayfirst` (the reading
    of the model's training data) settles a tie: a few new rows may not show a frequency. Dates with dots
    (01.02.2020) are day first when both readings fit: no country writes the month first with dots.
    Returns (parsed, note, whether read day first)."""
    readings: list[pd.Series] = []
    year_first = col.dtype.kind not in "OSU" or bool(re.match(r"\s*\d{4}\D", str(col.iloc[0])))
    dotted = col.dtype.kind in "OSU" and bool(re.match(r"\s*\d{1,2}\.\d{1,2}\.\d{2,4}\b", str(col.iloc[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": handled below
        for first in (False,) if year_first else (False, True):
            try:
                readings.append(pd.to_datetime(col, dayfirst=first))
            except (ValueError, TypeError, OverflowError):
                readings.append(None)  # type: ignore[arg-type]
    month, day = (readings + [None])[:2]
    if day is not None and (month is None or not month.equals(day) and (
            dayfirst if dayfirst is not None else dotted or _regular(day) and not _regular(month))):
        i = int(np.argmax((day.dt.day != day.dt.month).to_numpy()))  # an example that shows the order
        return day, f"read the dates in {name!r} day first ({col.iloc[i]!r} as {day.iloc[i]:%Y-%m-%d})", True
    if month is not None:
        return month, None, False
    return pd.to_datetime(col, format="mixed"), None, False


def _period_labels(col: pd.Series) -> pd.Series | None:
    """Month labels 1990M01 as the month's first day, ISO week labels 1990-W01 as the week's Monday (NaT
    where a label names no such month or week), quarter labels 1990 Q1 or Q1 1990 as the quarter's first
    day; None unless every value is one kind of label."""
    text = col.astype(str)
    for pattern, sep, fmt, day in ((_MONTH_LABEL, "-", "%Y-%m-%d", "-01"), (_WEEK_LABEL, "-W", "%G-W%V-%u", "-1")):
        parts = text.str.extract(pattern)
        if parts.notna().all().all():
            return pd.to_datetime(parts[0] + sep + parts[1].str.zfill(2) + day, format=fmt, errors="coerce")
    parts = text.str.extract(_QUARTER_LABEL)
    if parts.notna().any(axis=1).all():  # each label matched one of the two orders
        year = pd.Series(np.where(parts[0].notna(), parts[0], parts[3]), dtype=str)
        quarter = pd.Series(np.where(parts[1].notna(), parts[1], parts[2])).astype(int)
        return pd.to_datetime(year + "-" + (3 * quarter - 2).astype(str).str.zfill(2) + "-01", format="%Y-%m-%d")
    parts = text.str.extract(_MONTH_NAME_LABEL)
    if parts.notna().all().all():
        months = pd.to_datetime(parts[0].str[:3].str.title() + " " + _full_year(parts[1]), format="%b %Y",
                                errors="coerce")
        return months if months.notna().all() else None  # a word that is no month's name: not month labels
    parts = text.str.extract(_FISCAL_LABEL)
    if parts.notna().any(axis=1).all():
        starts = parts[1].dropna().astype(int)
        if ((starts + 1) % 100 != parts[2].dropna().astype(int)).any():
            return None  # 2011-12 is December 2011 unless every label's second part is the next year
        year = _full_year(pd.Series(np.where(parts[0].notna(), parts[0], parts[1]), dtype=str))
        return pd.to_datetime(year + "-01-01", format="%Y-%m-%d")
    return None


def _label_note(col: pd.Series, labels: pd.Series, name: str) -> str | None:
    """A note when period labels were read in a way worth checking: two-digit years, fiscal years."""
    first = str(col.iloc[0]).strip()
    if _FISCAL_LABEL.match(first):
        return f"read the fiscal years in {name!r} as years ({first!r} as {labels.iloc[0].year})"
    if (m := _MONTH_NAME_LABEL.match(first)) and len(m[2]) == 2:
        return f"read the months in {name!r} with two-digit years ({first!r} as {labels.iloc[0]:%Y-%m})"
    return None


def _full_year(year: pd.Series) -> pd.Series:
    """Four-digit years from two-digit ones as Excel reads them (00-29: 2000s, 30-99: 1900s)."""
    short = year.str.len() == 2
    two = pd.to_numeric(year.where(short, "0")).astype(int)
    return year.where(~short, (np.where(two < 30, 2000, 1900) + two).astype(str))


def _regular(times: pd.Series) -> bool:
    """Whether the distinct times have a frequency pandas can name."""
    u = pd.DatetimeIndex(times.drop_duplicates().sort_values())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset: either is fine
            return len(u) >= 3 and pd.infer_freq(u) is not None
    except (ValueError, TypeError):
        return False


def _compact_dates(col: pd.Series, regular: bool) -> pd.Series | None:
    """Integers written as dates, 20200131 (yyyymmdd) or 202001 (yyyymm), parsed; None when they are not: a
    value of another length or not a valid date, or (with `regular`) dates without a frequency, or yyyymm
    values evenly spaced as numbers (step numbers that happen to read as months)."""
    v = col.to_numpy()
    digits = {len(str(int(x))) for x in (v.min(), v.max())} if len(v) else set()
    fmt = {8: "%Y%m%d", 6: "%Y%m"}.get(digits.pop()) if len(digits) == 1 else None
    if fmt is None:
        return None
    parsed = pd.to_datetime(pd.Series(v.astype(str)), format=fmt, errors="coerce")
    if parsed.isna().any() or ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)).any():
        return None  # (a year before 1677 or after 2262 does not fit in nanoseconds: step numbers, then)
    if regular and (not _regular(parsed) or (fmt == "%Y%m" and len(np.unique(np.diff(v))) <= 1)):
        return None
    return parsed


def _parse_time(df: pd.DataFrame, name: str, dayfirst: bool | None = None,
                dates: bool | None = None) -> tuple[np.ndarray, bool, str | None, bool, bool]:
    """(N,) datetime64[ns] or float64 times, whether they are datetimes, a note on how they were read,
    whether they were read day first (see _dates), and whether they are UTC times read from offsets or a
    time zone. Integers that read as regular dates (20200131, 202001)
    are dates; `dates` (whether the model's training times were) settles it for a few new rows.

    Times with UTC offsets are put on one clock: date-only times (every one at local midnight: daily or
    coarser data) keep their local dates, the offset dropped; times within the day go to UTC, so a
    change of offset (summer time) leaves no duplicate or missing hour."""
    col = df[name]
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise LstmcastError(f"time column {name!r} has {int(col.isna().sum())} empty values "
                            f"(first at line {_line(df, row)})")
    if col.dtype.kind in "iu" and dates is not False:
        compact = _compact_dates(col, regular=dates is None)
        if compact is not None:
            return compact.to_numpy(dtype="datetime64[ns]"), True, f"read the integers in {name!r} as dates", False, False
    if col.dtype.kind in "biuf":
        t = col.to_numpy(dtype=np.float64)
        if not np.isfinite(t).all():  # inf - inf is NaN: the order check would not see a duplicate
            row = int(np.flatnonzero(~np.isfinite(t))[0])
            raise LstmcastError(f"time column {name!r} has a value that is not a finite number: line {_line(df, row)} has "
                                f"{t[row]:g}")
        return t, False, None, False, False
    note, day, utc = None, False, False
    try:
        # offsets are looked for in the first values only: a column carries them throughout or not at all
        if col.dtype.kind in "OSU" and any(_OFFSET.search(str(v).strip()) for v in col.head(50)):
            local, note, day = _dates(col.astype(str).str.strip().str.replace(_OFFSET, r"\1", regex=True), name, dayfirst)
            if (local == local.dt.normalize()).all():
                parsed = local
                note = f"dropped the UTC offsets of the dates in {name!r}" + (f"; {note}" if note else "")
            else:
                parsed = pd.to_datetime(col, utc=True, format="mixed")
                note, utc = f"times in {name!r} carry UTC offsets: read as UTC", True
        else:
            labels = _period_labels(col) if col.dtype.kind in "OSU" else None
            if labels is not None and labels.isna().any():
                row = int(np.flatnonzero(labels.isna().to_numpy())[0])
                raise LstmcastError(f"time column {name!r} has a period that does not exist: line {_line(df, row)} has "
                                    f"{str(col.iloc[row])!r}")
            parsed, note, day = (labels, _label_note(col, labels, name), False) if labels is not None else _dates(
                col, name, dayfirst)
    except (ValueError, TypeError, OverflowError) as e:
        conv = pd.to_datetime(col, errors="coerce", format="mixed", utc=True)
        if conv.isna().any():
            row = int(np.flatnonzero(conv.isna().to_numpy())[0])
            if isinstance(e, pd.errors.OutOfBoundsDatetime):  # pandas 2 refuses what pandas 3 reads, then finds out
                raise LstmcastError(_outside(name, _line(df, row), col.iloc[row], None)) from None
            raise LstmcastError(
                f"time column {name!r} is not a date or number: line {_line(df, row)} has {str(col.iloc[row])!r}"
            ) from None
        raise LstmcastError(f"cannot parse time column {name!r}: {e}") from None
    if getattr(parsed.dt, "tz", None) is not None:  # a time zone (a DataFrame's column, or offsets read as UTC)
        local = parsed.dt.tz_localize(None)
        if utc or not (local == local.dt.normalize()).all():
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)  # one clock; the offset is not a feature
            note, utc = note or f"times in {name!r} carry a time zone: read as UTC", True
        else:
            parsed = local  # dates at local midnight keep their local day, as dates with offsets do
    outside = ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)).to_numpy()
    if outside.any():  # nanosecond times hold 1677-2262 only: a date beyond would wrap round silently
        row = int(np.flatnonzero(outside)[0])
        raise LstmcastError(_outside(name, _line(df, row), col.iloc[row], parsed.iloc[row].date()))
    return parsed.to_numpy(dtype="datetime64[ns]"), True, note, day, utc


def _outside(name: str, line: int, value: object, read_as: object) -> str:
    return (f"time column {name!r} has a date outside the years 1677-2262 that lstmcast can hold: line {line} has "
            f"{str(value)!r}{f' (read as {read_as})' if read_as is not None else ''}; write whole years as plain "
            f"numbers (1500, 1501, ...), or give a date with its year")


def _fill(values: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """Fill NaNs inside each series at load time, when the split is not known yet.

    Right for forecasting past the end (all of it is history): interior gaps linear, a trailing gap carries
    the last value forward, a leading one takes the first value. Once a split is known, `refill_training`
    fills again so that no training point reads a test value and no test point reads a later one.
    """
    s = pd.Series(values)
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    g = s.groupby(sid)
    if how == "interpolate":
        filled = g.transform(lambda x: x.interpolate(limit_area="inside").ffill().bfill())
    elif how == "ffill":
        filled = g.transform(lambda x: x.ffill().bfill())  # a leading gap has no past: use the first value
    elif how == "zero":
        filled = s.fillna(0.0)
    else:
        raise AssertionError(how)
    return filled.to_numpy(dtype=np.float64)


_TIME_OF_DAY = re.compile(r"\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*")


def _join_time_of_day(df: pd.DataFrame, time_column: str | None, taken: set[str]
                      ) -> tuple[pd.DataFrame, str | None, str | None]:
    """A date column beside a time-of-day column (date 2022-01-01, time 13:00, as loggers and databases export
    them) becomes one time column, under the date column's name; the time-of-day column is dropped. Returns
    (table, time column, note or None); the table unchanged when there is no such pair."""
    if time_column is None:
        return df, time_column, None

    def text(c: object) -> pd.Series | None:
        return df[c].astype(str) if df[c].dtype.kind in "OSU" and df[c].notna().all() else None

    clock = [c for c in df.columns
             if c not in taken and (t := text(c)) is not None and t.str.fullmatch(_TIME_OF_DAY).all()]
    if not clock:
        return df, time_column, None
    if time_column in clock:  # the time-of-day column was taken for the time: the dates are elsewhere
        others = [c for c in df.columns if c not in taken and c not in clock and text(c) is not None]
        dated = [c for c in others if pd.to_datetime(df[c].head(50), errors="coerce", format="mixed").notna().all()]
        if not dated:
            return df, time_column, None
        day, tod = dated[0], time_column
    else:
        day, tod = time_column, clock[0]
        t = text(day)
        if t is None or t.str.contains(":").any():  # the time column already holds times of day
            return df, time_column, None
    df = df.copy()
    df[day] = df[day].astype(str).str.strip() + " " + df[tod].astype(str).str.strip()
    df = df.drop(columns=[tod])
    return df, str(day), f"joined the dates in {day!r} and the times of day in {tod!r} into one time"


_MONTH_NAMES = {m.lower(): i + 1 for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                                          "Oct", "Nov", "Dec"))}


def _join_year_and_period(df: pd.DataFrame, time_column: str | None, taken: set[str]
                          ) -> tuple[pd.DataFrame, str | None, str | None]:
    """A year column beside a month or quarter column (year 2016, month 1..12 or Jan..December; quarter 1..4 or
    Q1..Q4), as statistics tables write them, becomes one date column (the period's first day) named 'date'
    (or 'period'), in place of both. Returns (table, time column, note or None); unchanged without such a pair,
    or when --time-column names another column."""
    names = {str(c).strip().lower(): c for c in df.columns if c not in taken}
    year = next((names[n] for n in ("year", "yr") if n in names), None)
    if year is None:
        return df, time_column, None
    years = pd.to_numeric(df[year], errors="coerce")
    if years.isna().any() or not ((years % 1 == 0) & years.between(1678, 2261)).all():
        return df, time_column, None
    for kind, options, top in (("months", ("month", "mon"), 12), ("quarters", ("quarter", "qtr", "q"), 4)):
        col = next((names[n] for n in options if n in names), None)
        if col is None or time_column not in (None, year, col):
            continue
        text = df[col].astype(str).str.strip().str.lower()
        if kind == "months":
            number = pd.to_numeric(text, errors="coerce").fillna(text.str[:3].map(_MONTH_NAMES))
        else:
            number = pd.to_numeric(text.str.removeprefix("q"), errors="coerce")
        if number.isna().any() or not ((number % 1 == 0) & number.between(1, top)).all():
            continue
        month = number.astype(int) if kind == "months" else 3 * number.astype(int) - 2
        into = next(n for n in ("date", "period", "time", "ds") if n not in names and n not in map(str, df.columns))
        dates = pd.to_datetime(pd.DataFrame({"year": years.astype(int), "month": month, "day": 1}))
        df = df.drop(columns=[year, col])
        df.insert(0, into, dates)
        return df, into, f"joined the years in {year!r} and the {kind} in {col!r} into one date column {into!r}"
    return df, time_column, None


def panel_from_frame(
    df: pd.DataFrame,
    column: str | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
    features: list[str] | None = None,
    fill: str | None = None,
    freq: str | None = None,
    source: str = "data",
    dayfirst: bool | None = None,
    dates: bool | None = None,
    freq_flag: str = "--freq",
) -> Panel:
    """Validate a table into a Panel: pick columns, parse times, check order, handle NaNs. `dayfirst` and
    `dates`: how the model's training times were read, for new data (None: decide from this table); `freq_flag`:
    where `freq` came from, for messages ("--freq", or "model" for a trained model's)."""
    features = list(features or [])
    df, summary = _summary_rows(df)
    notes: list[str] = [summary] if summary else []
    if freq is not None and freq_flag == "--freq":
        new = _current_alias(freq)
        if new != freq:
            notes.append(f"read --freq {freq} as {new}, pandas' current name for it")
            freq = new
    if id_column is not None:
        _need_column(df, id_column, "--id-column")
    twice = next((f for i, f in enumerate(features) if f in features[:i]), None)
    if twice is not None:
        raise LstmcastError(f"--features names {twice!r} twice")
    for f in features:
        _need_column(df, f, "--features column")
    if time_column is not None:
        _need_column(df, time_column, "--time-column")
    else:
        time_column = _detect_time_column(df, {c for c in [column, id_column, *features] if c})
    df, time_column, joined = _join_year_and_period(df, time_column, {c for c in [column, id_column, *features] if c})
    if joined:
        notes.append(joined)
    df, time_column, joined = _join_time_of_day(df, time_column, {c for c in [column, id_column, *features] if c})
    if joined:
        notes.append(joined)
    if column is not None:
        _need_column(df, column, "--column")
        if column == time_column:
            raise LstmcastError(f"--column {column!r} is the time column; name the value column to forecast")
    else:
        taken = {c for c in [time_column, id_column, *features] if c}
        numeric = [c for c in df.columns if c not in taken and df[c].dtype.kind in "biuf"]
        if len(numeric) != 1:
            others = [c for c in df.columns if c not in taken]
            if not numeric:
                if len(others) == 1:  # the one candidate holds text: say where
                    _numeric(df, others[0], "column")
                used = [f"{c!r} is the --id-column" if c == id_column else f"{c!r} is a --features column"
                        for c in [id_column, *features] if c is not None and df[c].dtype.kind in "biuf"]
                raise LstmcastError(f"no numeric column to forecast in {source}; columns are: {_columns_list(df)}"
                                    + (f" ({'; '.join(used)})" if used else ""))
            raise LstmcastError(
                f"{source} has {len(numeric)} numeric columns ({', '.join(numeric)}); choose one with --column"
                + (f" (columns: {', '.join(others)})" if len(others) != len(numeric) else "")
                + (", or for one model of all of them, write the file long (a series id, a time and a value "
                   "column per row) and pass --id-column" if id_column is None and not features else "")
            )
        column = numeric[0]

    # Group rows by series (stable, keeps each series' own order), then check each is in time order.
    if id_column is not None:
        if df[id_column].isna().any():
            raise LstmcastError(f"--id-column {id_column!r} has empty values")
        keys = df[id_column].astype(str)
        order = np.argsort(pd.factorize(keys, sort=True)[0], kind="stable")
        df = df.iloc[order].reset_index(drop=True)
        keys = keys.iloc[order].reset_index(drop=True)
        codes, uniques = pd.factorize(keys, sort=True)
        ids = [str(u) for u in uniques]
        lengths = np.bincount(codes, minlength=len(ids))
    else:
        ids = [""]
        lengths = np.array([len(df)])
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    values = _numeric(df, column, "--column")
    covs = np.stack([_numeric(df, f, "--features column") for f in features], axis=1) if features else np.zeros((len(df), 0))
    for j, f in enumerate(features):
        n_bad = int(np.isnan(covs[:, j]).sum())
        if n_bad:
            row = int(np.flatnonzero(np.isnan(covs[:, j]))[0])
            raise LstmcastError(
                f"--features column {f!r} has {n_bad} missing values (first at line {_line(df, row)}); fill them in the file"
            )

    if time_column is not None:
        time, is_dt, how, day, utc = _parse_time(df, time_column, dayfirst, dates)
        time_name = time_column
        if how:
            notes.append(how)
    else:
        time = np.concatenate([np.arange(n, dtype=np.float64) for n in lengths])
        is_dt, time_name, day, utc = False, "t", False, False
    flip = _newest_first(time, starts, is_dt)
    if flip is not None:  # a file exported newest first (common for prices): read it oldest first
        time, values, covs = time[flip], values[flip], covs[flip]
        notes.append(f"rows run newest first in {time_name!r}: read in reverse")
    guess = None
    if id_column is None:  # a text column that repeats is likely the series' name
        guess = next((str(c) for c in df.columns if c not in (time_column, column) and df[c].dtype.kind in "OSU"
                      and 2 <= df[c].nunique() <= len(df) // 2), None)
    _check_order(time, starts, ids, time_name, is_dt, guess)
    if is_dt and len(ids) > 1 and fill is None:
        _one_frequency(time, starts, ids)
    absent, on_grid = 0, (time, starts)
    if is_dt:  # dates the calendar skips become rows with a missing value (and missing features)
        stamps = time.astype("datetime64[ns]")
        if freq is None:
            grid = _calendar_gaps(stamps, starts)
        else:  # --freq must fit dates that have a step of their own; irregular ones have none, so there it only
            # chooses the forecast's step (as the "could not infer" note advises), and new rows at predict are
            # read on the model's step as given
            longest = int(np.argmax(np.diff(starts)))
            own = _calendar_gaps(stamps, starts) is not None or _regular(
                pd.Series(stamps[starts[longest]:starts[longest + 1]]))
            grid = _freq_gaps(stamps, starts, freq, strict=freq_flag == "--freq" and own)
        if grid is not None:
            time, rows, starts = grid
            absent = len(time) - len(values)
            values, given = np.full(len(time), np.nan), values
            values[rows] = given
            covs, known = np.full((len(time), covs.shape[1]), np.nan), covs
            covs[rows] = known
            lengths = np.diff(starts)
            on_grid = time, starts  # the step, even if --fill drop takes the added rows out again

    nan = np.isnan(values)
    if nan.any():
        n_nan, first = int(nan.sum()), int(np.flatnonzero(nan)[0])
        where = f"first at {time_name}={_fmt_time(time[first], is_dt)}"
        if id_column is not None:
            where += f" in series {ids[int(np.searchsorted(starts, first, side='right')) - 1]!r}"
        if absent:
            where += f"; {absent} of them dates with no row in the file"
        if fill is None:
            raise LstmcastError(
                f"column {column!r} has {n_nan} missing values ({where}); use --fill interpolate|ffill|zero|drop"
            )
        sid = np.repeat(np.arange(len(ids)), lengths)
        has = np.bincount(sid, ~nan, minlength=len(ids)) > 0
        if not has.all() and (len(ids) == 1 or not has.any()):
            raise LstmcastError(f"series {ids[int(np.argmin(has))] or column!r} has no values at all in column "
                                f"{column!r}")
        if not has.all():  # a dead series in a many-series file: left out and named, as a short one is
            empty = [ids[i] for i in np.flatnonzero(~has)]
            keep = has[sid]
            values, time, covs, nan = values[keep], time[keep], covs[keep], nan[keep]
            ids, lengths = [ids[i] for i in np.flatnonzero(has)], lengths[has]
            starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            on_grid = time, starts
            notes.append(f"left out {len(empty)} series with no value at all in {column!r}: "
                         f"{', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''}")
            if nan.any():
                n_nan, first = int(nan.sum()), int(np.flatnonzero(nan)[0])
                where = (f"first at {time_name}={_fmt_time(time[first], is_dt)} in series "
                         f"{ids[int(np.searchsorted(starts, first, side='right')) - 1]!r}")
        if not nan.any():
            pass
        elif fill == "drop":
            keep = ~nan
            values, time, covs = values[keep], time[keep], covs[keep]
            sid = np.repeat(np.arange(len(ids)), lengths)[keep]
            lengths = np.bincount(sid, minlength=len(ids))
            starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            notes.append(f"dropped {n_nan} row{'s' * (n_nan != 1)} with missing {column!r} ({where})")
        else:
            values = _fill(values, starts, fill)
            notes.append(f"filled {n_nan} missing values of {column!r} with --fill {fill} ({where})")
            if absent and features:  # the added dates have no features either: filled the same way
                covs = np.stack([_fill(covs[:, j], starts, fill) for j in range(len(features))], axis=1)
                notes.append(f"filled the --features {', '.join(features)} on the {absent} dates with no row the same way")
    if not np.isfinite(values).all():
        first = int(np.flatnonzero(~np.isfinite(values))[0])
        raise LstmcastError(f"column {column!r} has infinite values (first at {time_name}={_fmt_time(time[first], is_dt)})")
    for name, col in [(column, values), *((f, covs[:, j]) for j, f in enumerate(features))]:
        huge = ~(np.abs(col) <= MAX_ABS)
        if huge.any():
            first = int(np.flatnonzero(huge)[0])
            raise LstmcastError(f"column {name!r} has values beyond ±{MAX_ABS:g} (first at {time_name}="
                                f"{_fmt_time(time[first], is_dt)}: {col[first]:g}); divide the column by a power of ten")

    inferred, freq_notes = _infer_freq(*on_grid, is_dt, freq, time_name)
    if is_dt and len(ids) > 1 and freq is None:
        _one_grid(time, starts, ids, inferred, time_name)
    notes.extend(freq_notes)
    observed = ~nan if fill not in (None, "drop") else np.ones(len(values), bool)
    return Panel(values=values, starts=starts, ids=ids, time=time, is_datetime=is_dt, time_name=time_name,
                 target=column, freq=inferred, covariates=covs, feature_names=features, id_name=id_column, notes=notes,
                 observed=observed, dayfirst=day, utc=utc)


def _calendar_gaps(time: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Dates on a calendar grid with some steps skipped (a month missing from a monthly file, a holiday from a
    business-day one): the full grid of each series, (M,) times, (N,) the grid row of each given date and
    (S + 1,) new starts; None when nothing is skipped, or the dates fit no grid, or more than half would be
    added. The grid: months (1, 3 or 12, all on the 1st or all on the last day), weekdays (no date on a
    weekend), or the usual fixed step."""
    if len(time) < 3:
        return None
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    _, d, inside = _steps(time, starts, True)
    if not inside.any():
        return None
    step = int(d[inside].min())  # the grid's step: a gap is a multiple of it
    day = 86_400 * 10**9
    month = time.astype("datetime64[M]")
    first_day, last_day = month.astype("datetime64[ns]"), (month + 1).astype("datetime64[ns]") - day
    weekday = (time.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday 0
    months = next((k for k, lo, hi in ((1, 28, 31), (3, 89, 92), (12, 365, 366)) if lo * day <= step <= hi * day), 0)
    if months and ((time == first_day).all() or (time == last_day).all()):
        m = month.astype(np.int64)
        pos, ok = np.divmod(m - m[starts[:-1]][sid], months)
        if ok.any():
            return None
        at_end = bool((time == last_day).all())

        def grid_time(k: np.ndarray, s: np.ndarray) -> np.ndarray:
            m0 = month[starts[:-1]][s] + k * months
            return (m0 + 1).astype("datetime64[ns]") - day if at_end else m0.astype("datetime64[ns]")
    elif step == day and (weekday < 5).all() and (time == time.astype("datetime64[D]")).all():
        d = time.astype("datetime64[D]")
        pos = np.busday_count(d[starts[:-1]][sid], d)

        def grid_time(k: np.ndarray, s: np.ndarray) -> np.ndarray:
            return np.busday_offset(d[starts[:-1]][s], k).astype("datetime64[ns]")
    else:
        return _fixed_grid(time, starts, step)
    return _grid(pos, sid, len(starts) - 1, grid_time)


def _fixed_grid(time: np.ndarray, starts: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`_calendar_gaps` for a fixed step in nanoseconds (hours, days): each series' grid from its first date."""
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    first = time[starts[:-1]]
    if step <= 0:
        return None
    pos, ok = np.divmod((time - first[sid]).astype(np.int64), step)
    if ok.any():
        return None
    return _grid(pos, sid, len(first), lambda k, s: first[s] + (k * step).astype("timedelta64[ns]"))


def _grid(pos: np.ndarray, sid: np.ndarray, n_series: int, grid_time: Callable[[np.ndarray, np.ndarray], np.ndarray]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The full grid from each given date's position `pos` (N,) on its series' grid (series `sid`): (M,) times
    from grid_time(position, series), (N,) the grid row of each given date, (S + 1,) new starts; None when
    nothing is skipped or more than half of the grid would be added."""
    sizes = np.zeros(n_series, np.int64)
    np.maximum.at(sizes, sid, pos + 1)
    if sizes.sum() == len(pos) or sizes.sum() > 2 * len(pos):
        return None
    new_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    new_sid = np.repeat(np.arange(n_series), sizes)
    k = np.arange(int(sizes.sum())) - new_starts[:-1][new_sid]
    return grid_time(k, new_sid), new_starts[:-1][sid] + pos, new_starts


def _freq_gaps(time: np.ndarray, starts: np.ndarray, freq: str, strict: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`_calendar_gaps` on the grid of a known frequency (--freq, or a trained model's for its new rows): each
    series' dates from its first to its last at that step. None when nothing is skipped; when
    a date is off that grid or more than half the grid would be added (dates further apart than the step, which
    would glue steps together or fill in mostly made-up values), an error if `strict`, else None (as given)."""
    try:
        off = offset_of(freq)
    except ValueError:
        return None  # reported by _infer_freq
    what, fix = f"--freq {freq}", "leave --freq out to infer the step from the dates, or give the step they are on"
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    first, last = time[starts[:-1]], time[starts[1:] - 1]

    def sparse() -> LstmcastError:
        return LstmcastError(f"with {what} the dates skip more than half of the steps from the first to the last "
                             f"({len(time)} dates from {_fmt_time(first[0], True)} to {_fmt_time(last[0], True)}): "
                             f"they are further apart than {freq}; {fix}")

    step = fixed_step(freq)
    if step is not None:  # hours, days: every series' grid at once, from its first date
        pos, rem = np.divmod((time - first[sid]).astype(np.int64), step)
        off_grid = rem != 0
        sizes = pos[starts[1:] - 1] + 1
    else:  # months, weeks, business days have no fixed length: a date_range per series, stopped when too long
        grids: list[np.ndarray] = []
        for t0, t1 in zip(first, last):
            grids.append(pd.date_range(t0, t1, freq=off).to_numpy(dtype="datetime64[ns]"))
            if sum(map(len, grids)) > 2 * len(time):
                if not strict:
                    return None
                raise sparse()
        sizes = np.array([len(g) for g in grids], np.int64)
        flat, offsets = np.concatenate(grids), np.concatenate([[0], np.cumsum(sizes)])[:-1]
        pos = np.concatenate([np.searchsorted(g, time[starts[s]:starts[s + 1]]) for s, g in enumerate(grids)])
        at = offsets[sid] + pos
        off_grid = (pos >= sizes[sid]) | (flat[np.minimum(at, len(flat) - 1)] != time) if len(flat) else pos >= 0
    if not strict and (off_grid.any() or sizes.sum() > 2 * len(time)):
        return None
    if off_grid.any():
        i = int(np.flatnonzero(off_grid)[0])
        start = f" (every {freq} from {_fmt_time(first[sid[i]], True)})" if step is not None else ""
        raise LstmcastError(f"{_fmt_time(time[i], True)} is not on the grid of {what}{start}; {fix}")
    if sizes.sum() > 2 * len(time):
        raise sparse()
    return _grid(pos, sid, len(first), (lambda k, s: first[s] + (k * step).astype("timedelta64[ns]"))
                 if step is not None else (lambda k, s: flat[offsets[s] + k]))  # None when nothing is skipped


def _step_text(ns: int) -> str:
    """A step in words: 'a month' (28-31 days), 'a quarter', 'a year', 'a week', '3 days', '2h'."""
    day = 86_400 * 10**9
    if ns % day:
        return _alias(pd.Timedelta(int(ns)))
    days = ns // day
    named = next((w for w, lo, hi in (("a day", 1, 1), ("a week", 7, 7), ("a month", 28, 31), ("a quarter", 89, 92),
                                      ("a year", 365, 366)) if lo <= days <= hi), None)
    return named or f"{days} days"


def _one_frequency(time: np.ndarray, starts: np.ndarray, ids: list[str]) -> None:
    """Refuse a many-series file in which a series never takes the file's step (the shortest step of any series):
    a quarterly series beside monthly ones would otherwise become a monthly series with two missing months in
    three, and --fill would invent them."""
    _, d, inside = _steps(time, starts, True)
    sid = np.repeat(np.arange(len(ids)), np.diff(starts))[:-1][inside]
    if len(sid) == 0:
        return
    d = d[inside]
    step = int(d.min())
    smallest = np.full(len(ids), np.iinfo(np.int64).max)
    np.minimum.at(smallest, sid, d)
    coarse = (np.bincount(sid, minlength=len(ids)) >= 2) & (smallest >= 1.5 * step)
    if step <= 0 or not coarse.any():
        return
    i, j = int(np.flatnonzero(coarse)[0]), int(sid[np.argmin(d)])
    raise LstmcastError(f"series {ids[i]!r} never steps less than {_step_text(int(smallest[i]))}, while series "
                        f"{ids[j]!r} steps by {_step_text(step)}: a file holds one frequency, so put series of another "
                        f"in a file of their own (or, if {ids[i]!r} only has missing steps, use --fill "
                        "interpolate|ffill|zero|drop)")


def _one_grid(time: np.ndarray, starts: np.ndarray, ids: list[str], freq: str | None, time_name: str) -> None:
    """Refuse a many-series file whose series are on different grids of one calendar frequency (month starts
    and month ends, weeks ending Sunday and Monday): each would be forecast on the grid inferred from the
    longest series, the first forecast date of another falling inside its own history."""
    if freq is None or fixed_step(freq) is not None:
        return
    try:
        off = offset_of(freq)
        idx = pd.DatetimeIndex(time.astype("datetime64[ns]"))
        day = _DAY_OF_MONTH.fullmatch(freq)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PerformanceWarning: an offset pandas applies date by date
            # a date on the grid comes back to itself (months on a day: every date on that day)
            on = idx.day.to_numpy() == int(day[2]) if day else np.asarray((idx - off) + off == idx)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return
    if on.all():
        return
    i = int(np.flatnonzero(~on)[0])
    s, longest = int(np.searchsorted(starts, i, side="right")) - 1, int(np.argmax(np.diff(starts)))
    raise LstmcastError(f"series {ids[s]!r} has dates off the {freq} grid of series {ids[longest]!r} (the longest, "
                        f"whose dates set the file's step), first {time_name}={_fmt_time(time[i], True)}: the series of "
                        "a file must share one calendar grid (all month starts or all month ends, one weekday for "
                        "weeks); move its dates onto it, or put it in a file of its own")


def _fmt_time(t: object, is_dt: bool) -> str:
    if is_dt:
        return str(pd.Timestamp(t))
    f = float(t)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() else str(f)


def _steps(time: np.ndarray, starts: np.ndarray, is_dt: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) times as numbers (int64 ns for datetimes), (N-1,) the steps between rows, and (N-1,) whether each
    step lies inside a series (not the step from one series to the next)."""
    t = time.astype("datetime64[ns]").astype(np.int64) if is_dt else time
    inside = np.ones(max(len(t) - 1, 0), bool)
    inside[starts[1:-1] - 1] = False
    return t, np.diff(t), inside


def _newest_first(time: np.ndarray, starts: np.ndarray, is_dt: bool) -> np.ndarray | None:
    """Row order that reverses each series, when every series with two or more rows runs strictly backwards in
    time; None otherwise (any other disorder stays an error: it may be a misread date)."""
    if len(time) < 2:
        return None
    _, d, inside = _steps(time, starts, is_dt)
    if not inside.any() or not (d[inside] < 0).all():
        return None
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    pos = np.arange(len(time)) - starts[:-1][sid]
    return starts[:-1][sid] + (np.diff(starts)[sid] - 1 - pos)


def _check_order(time: np.ndarray, starts: np.ndarray, ids: list[str], name: str, is_dt: bool,
                 id_guess: str | None = None) -> None:
    """Every series strictly increasing in time: report the first duplicate or step back. `id_guess`: a
    column that may name the series of a file read as one."""
    if len(time) < 2:
        return
    t, d, inside = _steps(time, starts, is_dt)
    sid = np.repeat(np.arange(len(ids)), np.diff(starts))
    for bad, what in ((inside & (d == 0), "duplicated"), (inside & (d < 0), "not sorted")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            series = f" in series {ids[sid[i]]!r}" if ids[sid[i]] else ""
            detail = (f"{_fmt_time(time[i + 1], is_dt)} appears twice" if what == "duplicated"
                      else f"{_fmt_time(time[i + 1], is_dt)} comes after {_fmt_time(time[i], is_dt)}")
            hint = "; remove duplicate rows" if what == "duplicated" else "; sort the file by time"
            if id_guess is not None:
                hint = f"; if {id_guess!r} names the series, pass --id-column {id_guess}" + hint.replace("; ", ", else ")
            elif what == "duplicated" and len(ids) == 1:
                hint += " (or pass --id-column if the file holds several series)"
            if what == "duplicated" and is_dt and _clock_change(t, bad):
                hint += ("; if these are local times where the clocks went back, write them with their UTC offset "
                         "(2021-10-31T02:00:00+01:00) or in UTC")
            k = int(bad.sum())
            raise LstmcastError(f"time column {name!r} is {what}{series}: {detail} ({k} such row{'s' * (k > 1)}){hint}")


def _clock_change(t: np.ndarray, dup: np.ndarray) -> bool:
    """Whether duplicated times (int64 ns, `dup` marking the steps that repeat) look like the hour a clock change
    repeats: within the day (not midnight), at most one or two a year."""
    repeated = t[1:][dup]
    day = 86_400 * 10**9
    if (repeated % day == 0).any():
        return False
    years = max(1.0, (t[-1] - t[0]) / (365.25 * day))
    return len(repeated) <= 2 * (years + 1)


def _number_step(freq: str | None, time_name: str) -> float | None:
    """--freq for a time column of step numbers: a positive number, or None when not given."""
    if freq is None:
        return None
    try:
        step = float(freq)
    except ValueError:
        raise LstmcastError(f"--freq {freq} is a calendar frequency, but {time_name!r} holds step numbers, not dates; "
                            "leave --freq out (or name a date column with --time-column)") from None
    if not (np.isfinite(step) and step > 0):
        raise LstmcastError(f"--freq {freq}: a step must be a positive number")
    return step


def _infer_freq(time: np.ndarray, starts: np.ndarray, is_dt: bool, freq: str | None, time_name: str = "t"
                ) -> tuple[str | None, list[str]]:
    """The series' step (pandas alias, or integer step), and a note on gaps or irregular steps."""
    notes: list[str] = []
    longest = int(np.argmax(np.diff(starts)))
    t = time[starts[longest]:starts[longest + 1]]
    if not is_dt:
        given = _number_step(freq, time_name)
        if len(t) < 2:
            return freq or "1", notes
        d = np.diff(t)
        step = float(np.median(d))
        if given is not None and not np.isclose(given, step):
            raise LstmcastError(f"--freq {freq} does not match {time_name!r}, whose usual step is {step:g}; leave "
                                "--freq out for step numbers")
        irregular = int((~np.isclose(d, step)).sum())
        if irregular:
            notes.append(f"time steps are irregular: {irregular} steps differ from the usual {step:g}")
        return freq or (str(int(step)) if step.is_integer() else str(step)), notes
    if freq is not None:
        try:
            offset_of(freq)
        except ValueError:
            raise LstmcastError(f"--freq {freq!r} is not a pandas frequency (e.g. h, D, W, MS, QS, YS; M@15 for months "
                                "on their 15th)") from None
        return freq, notes
    idx = pd.DatetimeIndex(t)
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset; accept both
        warnings.simplefilter("ignore")
        found = pd.infer_freq(idx) if len(idx) >= 3 else None
    inferred = _canonical(getattr(found, "freqstr", found))
    if inferred is None and len(idx) == 2:
        inferred = _two_dates(idx)
    if inferred is None:
        inferred = _day_of_month(idx)
    if inferred is None and len(idx) >= 2:
        d = np.diff(idx.asi8)
        step = pd.Timedelta(int(np.median(d)))
        gaps = int((d > np.median(d) * 1.5).sum())
        alias = _alias(step)
        notes.append(
            f"only 2 dates, {step} apart: assuming {alias}; set --freq to choose" if len(idx) == 2 else
            f"could not infer a regular frequency: {gaps} gaps longer than the usual step {step}"
            f"{f' (first after {idx[int(np.flatnonzero(d > np.median(d) * 1.5)[0])]})' if gaps else ''}; "
            f"assuming {alias}; set --freq to choose"
        )
        inferred = alias
    return inferred, notes


# Months (or k months) on one day of the month that is neither the first nor the last (2015-01-15, 2015-02-15,
# ...), which pandas has no name for: "M@15", "3M@15". Steps of calendar months keep the day.
_DAY_OF_MONTH = re.compile(r"(\d*)M@(\d{1,2})")


def offset_of(freq: str) -> pd.DateOffset:
    """The pandas offset of a frequency: a pandas alias, or k months on day d ("M@15", "3M@15")."""
    day = _DAY_OF_MONTH.fullmatch(freq.strip())
    if day:
        k, d = int(day[1] or 1), int(day[2])
        if k < 1 or not 2 <= d <= 28:
            raise ValueError(f"invalid frequency {freq!r}")
        return pd.DateOffset(months=k)
    return pd.tseries.frequencies.to_offset(freq)


def _day_of_month(idx: pd.DatetimeIndex) -> str | None:
    """"M@d" (or "3M@d", "12M@d") when every date is midnight on day d (2-28) and each step is the same number of
    calendar months (1, 3 or 12); None otherwise."""
    if len(idx) < 2 or not (idx == idx.normalize()).all():
        return None
    days = idx.day.to_numpy()
    if not (days == days[0]).all() or not 2 <= days[0] <= 28:
        return None
    steps = np.diff(idx.year.to_numpy() * 12 + idx.month.to_numpy())
    if not (steps == steps[0]).all() or steps[0] not in (1, 3, 12):
        return None
    return f"{'' if steps[0] == 1 else steps[0]}M@{days[0]}"


# The frequency names pandas 2.2 deprecated and pandas 3 refuses, with their current names.
_OLD_ALIASES = {"M": "ME", "Q": "QE", "Y": "YE", "A": "YE", "BM": "BME", "BQ": "BQE", "BA": "BYE", "BY": "BYE",
                "SM": "SME", "CBM": "CBME", "AS": "YS", "BAS": "BYS", "H": "h", "BH": "bh", "CBH": "cbh", "T": "min",
                "S": "s", "L": "ms", "U": "us", "N": "ns"}


def _current_alias(freq: str) -> str:
    """A frequency under its current pandas name: 'M' -> 'ME', '2Q-DEC' -> '2QE-DEC', 'H' -> 'h', 'A-JUN' ->
    'YE-JUN'; any other text unchanged (to_offset judges it)."""
    m = re.fullmatch(r"(\d*)([A-Za-z]+)(-[A-Za-z]{3})?", freq.strip())
    if m is None or m[2] not in _OLD_ALIASES:
        return freq
    new = f"{m[1]}{_OLD_ALIASES[m[2]]}{(m[3] or '').upper()}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.tseries.frequencies.to_offset(new)
    except ValueError:
        return freq
    return new


def _two_dates(idx: pd.DatetimeIndex) -> str | None:
    """The calendar frequency of a series of two dates, which pd.infer_freq cannot name (it needs three): month,
    quarter or year starts (both on the 1st at midnight) or ends (both on the month's last day); None otherwise."""
    a, b = idx[0], idx[1]
    months = (b.year - a.year) * 12 + b.month - a.month
    if months not in (1, 3, 12) or a != a.normalize() or b != b.normalize():
        return None
    kind = "S" if a.day == b.day == 1 else "E" if a.is_month_end and b.is_month_end else None
    if kind is None:
        return None
    anchor = "" if months == 1 else f"-{_MONTHS[a.month - 1]}"
    return _canonical(f"{dict([(1, 'M'), (3, 'Q'), (12, 'Y')])[months]}{kind}{anchor}")


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _canonical(alias: str | None) -> str | None:
    """One name for a quarterly frequency whatever pandas version inferred it: quarters that start in January,
    April, July and October are QS-JAN (pandas 3.0 says QS-OCT, 3.1 QS-JAN); quarter ends keep the last month of
    the year (QE-DEC), as every version says."""
    m = re.fullmatch(r"(B?Q[SE]?)-([A-Z]{3})", alias or "")  # 2QS-APR (Apr, Oct) is not 2QS-JAN
    if m is None or m[2] not in _MONTHS:
        return alias
    k = _MONTHS.index(m[2]) % 3
    return f"{m[1]}-{_MONTHS[k] if m[1].endswith('S') else _MONTHS[9 + k]}"


def _alias(step: pd.Timedelta) -> str:
    """A readable pandas alias for a fixed step: 1 day -> 'D', 2 hours -> '2h'."""
    for unit, nanos in (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9)):
        if step.value % nanos == 0:
            k = step.value // nanos
            return unit if k == 1 else f"{k}{unit}"
    return f"{step.value}ns"


def fixed_step(freq: str | None) -> int | None:
    """A pandas frequency's step in nanoseconds when it has a fixed length (hours, days); None for months,
    quarters, years, weeks anchored on a weekday, business days, or no frequency."""
    if not freq:
        return None
    try:
        offset = offset_of(freq)
        # pandas 3.0 made a day a calendar day (no Timedelta of its own, for daylight saving): still 24 hours here
        step = offset.n * 86_400 * 10**9 if isinstance(offset, pd.offsets.Day) else int(pd.Timedelta(offset).value)
    except (ValueError, TypeError):
        return None  # an offset with no fixed length, or no frequency pandas knows
    return step if step > 0 else None


def is_sub_daily(freq: str | None) -> bool:
    """Whether a pandas frequency is a fixed step shorter than a day (hours, minutes; not days or months)."""
    step = fixed_step(freq)
    return step is not None and step < 86_400 * 10**9


def season_length_for(freq: str | None, is_datetime: bool) -> int | None:
    """Season length implied by a frequency: hourly 24, daily 7, weekly 52, monthly 12, quarterly 4, yearly 1;
    a day for other steps that divide one (5min 288, 2h 12)."""
    if not is_datetime or freq is None:
        return None
    day = _DAY_OF_MONTH.fullmatch(freq)
    if day:
        return {1: 12, 3: 4, 12: 1}.get(int(day[1] or 1))
    try:
        off = offset_of(freq)
    except ValueError:
        return None
    if off.n != 1:  # a multiple: a day's steps when it divides a day (30min -> 48)
        step, day = fixed_step(freq), 86_400 * 10**9
        return day // step if step and step < day and day % step == 0 else None
    return SEASONS.get(off.rule_code.split("-")[0])


def future_times(last: object, n: int, freq: str | None, is_datetime: bool, asked: int | None = None) -> np.ndarray:
    """(n,) the n timestamps (or steps) after `last`, continuing the series' frequency. Dates past pandas' last
    (2262-04-11) are an error naming how many fit; `asked`: the steps the user asked for, when n pads them to whole
    blocks of a direct model."""
    if is_datetime:
        off = offset_of(freq or "D")
        start = pd.Timestamp(last)
        fit = _dates_left(start, off)
        if n <= fit:  # last + off rolls onto the next anchor even when `last` is off-anchor (Jan 31 + MS = Feb 1)
            return pd.date_range(start + off, periods=n, freq=off).to_numpy(dtype="datetime64[ns]")
        pad = n - (asked or n)
        raise LstmcastError(f"a forecast of {asked or n} steps after {start} would pass the last date pandas can hold "
                            f"({pd.Timestamp.max:%Y-%m-%d}); at most {max(0, fit - pad)} steps fit")
    step = float(freq) if freq else 1.0
    return float(last) + step * np.arange(1, n + 1, dtype=np.float64)  # type: ignore[arg-type]


def _dates_left(start: pd.Timestamp, off: pd.DateOffset) -> int:
    """How many steps of `off` after `start` stay within pandas' dates: by division for a fixed step, else by
    listing them (calendar steps are at least a business day: some tens of thousands at most)."""
    step = fixed_step(off.freqstr)
    if step is not None:
        return int((pd.Timestamp.max - start).value // step)
    with suppress(pd.errors.OutOfBoundsDatetime, OverflowError):
        return len(pd.date_range(start.as_unit("us") + off, pd.Timestamp.max.as_unit("us"), freq=off, unit="us"))
    return 0


def season_phase(time: np.ndarray, freq: str | None, is_datetime: bool, m: int) -> np.ndarray:
    """(N,) each time's position in a season of m steps, from the calendar (month of year, hour of day,
    ...) so that any stretch of the same series, and its future, agrees on it."""
    if m <= 1:
        return np.zeros(len(time), np.int64)
    if not is_datetime:
        step = float(freq) if freq else 1.0
        return np.round(np.asarray(time, dtype=np.float64) / step).astype(np.int64) % m
    idx = pd.DatetimeIndex(time)
    day = _DAY_OF_MONTH.fullmatch(freq or "")
    if day:  # k months on day d: months counted, k at a time
        return ((idx.year.to_numpy() * 12 + idx.month.to_numpy() - 1) // int(day[1] or 1)).astype(np.int64) % m
    off = offset_of(freq or "D")
    code = off.rule_code.split("-")[0]
    if code in ("M", "MS", "ME", "SM", "BM", "BMS", "BME"):
        ordinal = idx.year.to_numpy() * 12 + idx.month.to_numpy() - 1
    elif code in ("Q", "QS", "QE", "BQ", "BQS", "BQE"):
        ordinal = idx.year.to_numpy() * 4 + (idx.month.to_numpy() - 1) // 3
    elif code in ("Y", "YS", "YE", "A", "AS", "BY", "BYS"):
        ordinal = idx.year.to_numpy()
    else:
        step = (fixed_step(freq or "D") or 0) if code != "W" else 7 * 86_400 * 10**9 * off.n
        if step <= 0:  # business days and other irregular offsets: count steps from the first point
            return np.arange(len(time), dtype=np.int64) % m
        return (idx.as_unit("ns").asi8 // step) % m
    return (ordinal // max(1, off.n)).astype(np.int64) % m


def refill_training(values: np.ndarray, observed: np.ndarray, starts: np.ndarray, train_ends: np.ndarray,
                    how: str | None, ids: list[str] | None = None) -> np.ndarray:
    """(N,) values with every unobserved point filled again once the split (S,) train_ends is known.

    A training point reads only its series' training observations (interpolate: linear between them;
    a trailing gap carries the last one forward, a leading gap takes the first). A test point carries
    the last observation before it forward (for interpolate too): a test value is a model input for later
    origins, and interpolating it would read a target. zero fills 0; drop or None leaves values as they are.
    """
    v = np.asarray(values, dtype=np.float64)
    obs = np.asarray(observed, dtype=bool)
    if how in (None, "drop") or obs.all():
        return v.copy()
    if how == "zero":
        return np.where(obs, v, 0.0)
    if how not in ("interpolate", "ffill"):
        raise ValueError(f"unknown fill {how!r}")
    n = len(v)
    idx = np.arange(n)
    sid = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    first, end_train = np.asarray(starts)[:-1][sid], np.asarray(train_ends)[sid]
    train = idx < end_train
    prev = np.maximum.accumulate(np.where(obs, idx, -1))  # last observation at or before each point
    has_prev = prev >= first
    # first training observation at or after each point; one in a later series lies past this train end
    nxt = np.minimum.accumulate(np.where(obs & train, idx, n)[::-1])[::-1]
    has_next = train & (nxt < end_train)
    lost = train & ~has_prev & ~has_next
    if lost.any():
        s = int(sid[np.flatnonzero(lost)[0]])
        name = repr(ids[s]) if ids else str(s + 1)
        raise LstmcastError(f"series {name} has no observed value in its {int(train_ends[s] - starts[s])} training "
                            "points; its gaps cannot be filled from the past; use --fill drop or a smaller --test-size")
    p, q = np.where(has_prev, prev, 0), np.where(has_next, nxt, 0)
    carried = np.where(has_prev, v[p], v[q])  # forward fill; a leading gap takes the next training value
    if how == "interpolate":
        inside = train & has_prev & has_next
        w = np.where(inside, (idx - p) / np.maximum(q - p, 1), 0.0)
        carried = np.where(inside, v[p] + w * (v[q] - v[p]), carried)
    return np.where(obs, v, carried)


def split_points(lengths: np.ndarray, test_size: float) -> np.ndarray:
    """(S,) training points per series: the first round((1 - test_size) * n); the rest are test points."""
    n_train = np.round(lengths * (1.0 - test_size)).astype(np.int64)
    return np.minimum(n_train, lengths - 1)  # at least one test point per series


def generate_sine(steps_per_cycle: int = 80, cycles: int = 50, noise: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """The tutorial's noisy sine: t = 0..steps*cycles, sin_t = sin(2*pi*t/steps + U(-noise, noise))."""
    if steps_per_cycle < 2:
        raise LstmcastError(f"--steps-per-cycle must be at least 2, got {steps_per_cycle}")
    if cycles < 1:
        raise LstmcastError(f"--cycles must be at least 1, got {cycles}")
    if noise < 0:
        raise LstmcastError(f"--noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    t = np.arange(steps_per_cycle * cycles + 1)
    phase_noise = rng.uniform(-noise, noise, size=len(t))
    return pd.DataFrame({"t": t, "sin_t": np.sin(2.0 * np.pi * t / steps_per_cycle + phase_noise)})


def generate_memory(n: int = 4000, lag: int = 40, p: float = 0.05, echo: float = 0.8, noise: float = 0.05,
                    seed: int = 0) -> pd.DataFrame:
    """A long-dependency series: random spikes s_t (+-1 with probability p) that come back as an
    echo `lag` steps later, y_t = s_t + echo * s_{t-lag} + N(0, noise). Only a model that remembers
    `lag` steps can predict the echo; the spikes themselves are unpredictable."""
    if lag < 1 or n <= 2 * lag:
        raise LstmcastError(f"--lag must be at least 1 and --points more than twice the lag; got lag {lag}, points {n}")
    if not 0.0 < p < 1.0:
        raise LstmcastError(f"--p must be in (0, 1), got {p}")
    rng = np.random.default_rng(seed)
    spikes = rng.choice([-1.0, 1.0], size=n) * (rng.random(n) < p)
    y = spikes.copy()
    y[lag:] += echo * spikes[:-lag]
    y += rng.normal(0.0, noise, n)
    return pd.DataFrame({"t": np.arange(n), "y": y})
