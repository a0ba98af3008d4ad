import os

import matplotlib
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

matplotlib.use("Agg")

# Property tests draw the same examples on every run (CI is reproducible: a failure fails for
# everyone, and the next run does not hide it); HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("default", derandomize=True)
settings.register_profile(  # failing examples are kept in .hypothesis/ and replayed first
    "explore", derandomize=False, database=DirectoryBasedExampleDatabase(".hypothesis/examples")
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
