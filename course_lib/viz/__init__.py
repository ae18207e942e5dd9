"""Plots used across the course: one module per topic, all matplotlib, no other plotting backend."""

from .curves import *  # noqa: F403
from .losses import *  # noqa: F403
from .activations import *  # noqa: F403
from .decision import *  # noqa: F403
from .trajectories import *  # noqa: F403
from .images import *  # noqa: F403
from .embeddings import *  # noqa: F403
from .attention import *  # noqa: F403
from .tokens import *  # noqa: F403
from .broadcasting import *  # noqa: F403
from .conv import *  # noqa: F403
from .precision import *  # noqa: F403
from .histograms import *  # noqa: F403
from .lora import *  # noqa: F403
