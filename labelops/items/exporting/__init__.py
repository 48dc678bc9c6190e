"""Exporting items: `service` selects the items and reads them in keyset
batches, `formats` builds each row's provenance and writes JSONL, CSV, Label
Studio JSON or Parquet, `files` reads stored item files safely.

    options = ExportOptions(format="csv", status="approved")
    record_export(actor=user, project=project, options=options)
    for chunk in format_for("csv", project).stream(iter_rows(project, options)):
        ...
"""

from labelops.items.exporting.formats import FORMAT_CLASSES, ExportFormat, ExportRow, ParquetFormat, format_for
from labelops.items.exporting.service import (
    ExportOptions,
    export_to_path,
    items_to_export,
    iter_rows,
    record_export,
)

__all__ = [
    "FORMAT_CLASSES",
    "ExportFormat",
    "ExportOptions",
    "ExportRow",
    "ParquetFormat",
    "export_to_path",
    "format_for",
    "items_to_export",
    "iter_rows",
    "record_export",
]
