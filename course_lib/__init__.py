"""course_lib: the shared library of *From Loss to Transformer*.

One module per topic, in notebook order. Importing the package is cheap; topic modules are
imported where used (``from course_lib import losses``).
"""

from .config import FAST, pick
from .device import describe, get_device, seed_everything

__version__ = "0.1.0"
__all__ = ["FAST", "describe", "get_device", "pick", "seed_everything", "__version__"]
