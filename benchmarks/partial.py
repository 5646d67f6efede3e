"""The fallback partial read of the training input, against a full load.

Where training did not load the input, the dry run reads its first rows from the
catalog entry (``kedro_mlflow_dryrun.stages.sample.read_partial``): that must cost
the same at a small and at a large size.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from measure import Children, log, median, ratio
from projects import generate_csv
from suite_tables import size_label


def bench_partial(
    workdir: Path, children: Children, sizes: list[int], repeats: int, sample_size: int
) -> dict[str, Any]:
    """Times ``read_partial``; every round reads each size once, so drifts hit all alike."""
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro_datasets.pandas import CSVDataset, ParquetDataset

    from kedro_mlflow_dryrun.stages.sample import PARTIAL_READ, read_partial

    kinds = ("CSVDataset", "ParquetDataset")
    cases: dict[tuple[str, int], Any] = {}
    files: dict[tuple[str, int], Path] = {}
    for rows in sizes:
        csv = generate_csv(workdir, rows, children)
        parquet = workdir / "data" / f"houses_{rows}.parquet"
        if not parquet.exists():
            # Written as a user would: kedro-datasets' ParquetDataset, pyarrow's defaults.
            ParquetDataset(filepath=str(parquet)).save(pd.read_csv(csv))
        for kind, dataset, path in (
            ("CSVDataset", CSVDataset(filepath=str(csv)), csv),
            ("ParquetDataset", ParquetDataset(filepath=str(parquet)), parquet),
        ):
            catalog = DataCatalog({"houses": dataset})
            sample = read_partial(catalog, "houses", sample_size)
            if sample.source != PARTIAL_READ or sample.rows != min(sample_size, rows):
                raise SystemExit(f"read_partial of {kind}: {sample.source}, {sample.rows} rows")
            cases[(kind, rows)], files[(kind, rows)] = catalog, path

    partial: dict[tuple[str, int], list[float]] = {key: [] for key in cases}
    for round_ in range(repeats + 1):  # round 0 is a warm-up
        for key, catalog in cases.items():
            start = time.perf_counter()
            read_partial(catalog, "houses", sample_size)
            if round_:
                partial[key].append(time.perf_counter() - start)

    results: dict[str, Any] = {"sample_size": sample_size, "sizes": {}}
    for (kind, rows), catalog in cases.items():
        dataset = catalog.get("houses")
        full = []
        for _ in range(1 if rows >= 1_000_000 else 3):
            start = time.perf_counter()
            dataset.load()
            full.append(time.perf_counter() - start)
        results["sizes"].setdefault(str(rows), {})[kind] = {
            "partial_s": partial[(kind, rows)],
            "median_partial_ms": median(partial[(kind, rows)]) * 1000,
            "full_load_s": median(full),
            "file_mb": files[(kind, rows)].stat().st_size / 1e6,
        }
        log(
            f"read_partial {kind} {size_label(rows)} rows: "
            f"{median(partial[(kind, rows)]) * 1000:.2f} ms (full load {median(full):.2f} s)"
        )

    def ratios(numerator: int, denominator: int) -> dict[str, float | None]:
        return {
            kind: ratio(
                results["sizes"][str(numerator)][kind]["median_partial_ms"],
                results["sizes"][str(denominator)][kind]["median_partial_ms"],
            )
            for kind in kinds
        }

    results["ratio_large_over_small"] = ratios(sizes[-1], sizes[0])
    if len(sizes) > 2:
        results["ratio_large_over_next"] = {"from": sizes[-2], **ratios(sizes[-1], sizes[-2])}
    return results
