# Start-up file of the `course-colab` kernel (tests/colab_widgets_check.py): IPython runs it in the
# notebook's namespace with this folder on sys.path, so it imports the check and leaves no names.
import colab_widgets_check as _colab_widgets_check

_colab_widgets_check.install_hooks(get_ipython())  # noqa: F821 - IPython's own builtin
del _colab_widgets_check
