"""Shared fixtures: the real labelled datasets in ../shared/data (beside the repository)."""
from pathlib import Path

import anndata as ad
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__import__("os").environ.get("SCLSTM_DATA", REPO.parent / "shared" / "data"))
# as the session began, before anything started R (tests/test_io_r.py checks R leaves it so)
LD_LIBRARY_PATH_AT_START = __import__("os").environ.get("LD_LIBRARY_PATH")


# "true" (set by `make test-py`, so CI): a skipped test fails, unless the machine itself decides
# it (a GPU test on a machine without one, and its twin on a machine with one; an anndata too old
# for the feature). A missing R, rpy2 or dask would otherwise turn dozens of tests into skips.
STRICT = __import__("os").environ.get("SCLSTM_TEST_STRICT", "").lower() in ("1", "true", "yes")
SKIPS_THE_MACHINE_DECIDES = ("CUDA GPU", "anndata < 0.11")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if (STRICT and report.skipped and not hasattr(report, "wasxfail")
            and not any(reason in str(report.longrepr) for reason in SKIPS_THE_MACHINE_DECIDES)):
        report.outcome = "failed"
        report.longrepr = f"skipped, and SCLSTM_TEST_STRICT is set, so this is a failure: {report.longrepr}"


def dataset_path(name: str) -> Path:
    path = DATA / f"{name}.h5ad"
    if not path.exists():
        pytest.fail(f"test data missing: {path} (set SCLSTM_DATA to the folder with the .h5ad files)")
    return path


def load(name: str) -> ad.AnnData:
    return ad.read_h5ad(dataset_path(name))


@pytest.fixture(scope="session")
def biase():
    return load("biase")


@pytest.fixture(scope="session")
def blakeley():
    return load("blakeley")


@pytest.fixture(scope="session")
def pollen():
    return load("pollen")
