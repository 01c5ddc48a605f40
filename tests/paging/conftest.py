from tests.paging.netns import netns  # noqa: F401  (the fixture)
