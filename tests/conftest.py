import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

# Property tests draw the same examples on every run (CI is reproducible: a failure fails for
# everyone, and the next run does not hide it); HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
