# From Loss to Transformer: `make lab` to learn, `make test` to check everything.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WORKERS ?= auto
LAB_ARGS ?=
NB := $(wildcard notebooks/[0-9][0-9]_*.ipynb solutions/[0-9][0-9]_*.ipynb)

.PHONY: install kernel lab update test lint format notebooks exercises colab-check gpu-check clean

install: $(STAMP)

# Create the virtual environment once; reinstall only when the requirements change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq -r requirements.txt
	$(PY) -m pip install -qq --no-deps -e .
	@touch $(STAMP)

# The clone's own kernel, inside .venv (never user-wide); rewritten only when it points elsewhere.
# Run as a script: importing the package would load torch, and this runs on every `make lab`.
kernel: install
	@$(PY) course_lib/kernel.py

# JUPYTER_PREFER_ENV_PATH: the kernel in .venv wins over any user-wide one of the same name.
lab: kernel
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(LAB_ARGS)

# Set run lectures back (edited ones are kept in my_work/), pull, list workbooks with a newer version.
update: install
	$(PY) -m course_lib.workbook update

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check course_lib tests bench

format: install
	$(VENV)/bin/ruff format course_lib tests bench
	$(VENV)/bin/ruff check --fix .

test: lint colab-check
	$(PY) -m course_lib.workbook check
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(WORKERS) --dist loadfile -q \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		tests $(NB)

# Colab's widget version: the course's pinned packages, but ipywidgets 7.7.1 as on Colab.
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
COLAB_STAMP := $(COLAB_VENV)/.installed
# Not needed by the headless check: the browser test and the dev tools.
COLAB_SKIP := ipywidgets|jupyterlab|playwright|ruff|nbval|pytest|pytest-xdist|hypothesis

$(COLAB_STAMP): requirements.txt pyproject.toml
	@test -x $(COLAB_PY) || $(PYTHON) -m venv $(COLAB_VENV)
	grep -v -E '^($(COLAB_SKIP))==' requirements.txt > $(COLAB_VENV)/requirements.txt
	$(COLAB_PY) -m pip install -qq -r $(COLAB_VENV)/requirements.txt ipywidgets==7.7.1
	$(COLAB_PY) -m pip install -qq --no-deps -e .
	@touch $(COLAB_STAMP)

# Run every explorer notebook under ipywidgets 7.7.1 and move every control.
colab-check: $(COLAB_STAMP)
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(COLAB_PY) tests/colab_widgets_check.py

# On a machine with a CUDA GPU: the CUDA unit tests, every notebook and solution on the GPU (FAST
# mode), then the GPU benchmark; one summary line. Uses .venv when there is one, else $(PYTHON).
gpu-check:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) tests/gpu_check.py $(GPU_CHECK_ARGS)

# Re-execute lectures and solutions in full mode to refresh their stored outputs.
notebooks: install
	$(PY) -m course_lib.notebooks run $(NB)
	$(PY) -m course_lib.workbook generate

exercises: install
	$(PY) -m course_lib.workbook generate

clean:
	rm -rf $(VENV) $(COLAB_VENV) build/browser-screens .pytest_cache .ruff_cache
