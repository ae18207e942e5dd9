"""Explorers: small interactive figures (ipywidgets) that also render without a widget frontend."""

from .core import Explorer, dropdown, explorer, slider
from .losses import *  # noqa: F403
from .activations import *  # noqa: F403
from .optim import *  # noqa: F403
from .attention import *  # noqa: F403
from .sampling import *  # noqa: F403
from .tokens import *  # noqa: F403
from .broadcasting import *  # noqa: F403
from .autograd import *  # noqa: F403
from .conv import *  # noqa: F403
from .mlp import *  # noqa: F403
from .embeddings import *  # noqa: F403
from .seq2seq import *  # noqa: F403
from .precision import *  # noqa: F403
from .regularization import *  # noqa: F403
from .lora import *  # noqa: F403

__all__ = ["Explorer", "dropdown", "explorer", "slider"]
