pytest_plugins = ["tests.peers.fixtures", "tests.phoneproc"]
