"""syrupy extensions: one readable text file per snapshot, reviewed as a diff."""

from __future__ import annotations

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

__all__ = ["PythonSnapshot", "TextSnapshot"]


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class PythonSnapshot(SingleFileSnapshotExtension):
    # `.py.snap` keeps pytest, ruff and mypy away from generated modules.
    _write_mode = WriteMode.TEXT
    file_extension = "py.snap"
