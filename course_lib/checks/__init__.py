"""One checker per exercise, named ``exNN_topic``: call it with your function or answer.

>>> from course_lib import checks
>>> checks.ex00_shape_of_broadcast((3, 4))   # prints one pass line, or the failing case and a hint
"""

from ._core import Check, CaseFailed, CheckResult, checker
from .ch00 import *  # noqa: F403
from .ch01 import *  # noqa: F403
from .ch02 import *  # noqa: F403
from .ch03 import *  # noqa: F403
from .ch04 import *  # noqa: F403
from .ch05 import *  # noqa: F403
from .ch06 import *  # noqa: F403
from .ch07 import *  # noqa: F403
from .ch08 import *  # noqa: F403
from .ch09 import *  # noqa: F403
from .ch10 import *  # noqa: F403
from .ch11 import *  # noqa: F403
from .ch12 import *  # noqa: F403
from .ch13 import *  # noqa: F403
from .ch14 import *  # noqa: F403

__all__ = ["Check", "CaseFailed", "CheckResult", "checker"]
