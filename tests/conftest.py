pytest_plugins = ["tests.peers.fixtures", "tests.phoneproc"]


def pytest_addoption(parser):
    parser.addoption("--snapshot-update", action="store_true", default=False,
                     help="write the TUI screen snapshots under tests/tui/snapshots/ instead of comparing them")
