import os

pytest_plugins = ["tests.peers.fixtures", "tests.phoneproc"]


def pytest_addoption(parser):
    parser.addoption("--snapshot-update", action="store_true", default=False,
                     help="write the TUI screen snapshots under tests/tui/snapshots/ instead of comparing them")


def pytest_collection_modifyitems(config, items):
    """On an xdist worker, the longest files first (tests/file_order.py says why); every worker sorts the
    same way, so their collections stay the same."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        from tests.file_order import longest_first

        items[:] = longest_first(items)
