# From Loss to Transformer: `make lab` to learn, `make test` to check everything.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WORKERS ?= auto
LAB_ARGS ?=
NB := $(wildcard notebooks/[0-9][0-9]_*.ipynb solutions/[0-9][0-9]_*.ipynb)

.PHONY: install kernel lab update test test-notebook lint format notebooks exercises colab-env colab-check gpu-check clean

install: $(STAMP)

# Python keeps each module's compiled bytecode after its first import, so the later processes of
# `make test` (some sixty kernels, workers and scripts, nearly all importing torch) skip compiling:
# import torch takes 1.5 s of CPU instead of 3.7. Some machines set PYTHONDONTWRITEBYTECODE (the
# project's development machine does), which makes every process compile torch again; the
# course's commands write bytecode (into .venv and the clone's own __pycache__ folders).
unexport PYTHONDONTWRITEBYTECODE

# Create the virtual environment once; reinstall only when the requirements change.
# --no-compile: Python compiles each module when it is first imported (and keeps it: see above),
# not the ~14,000 files of torch, transformers, sympy, ... that the course never imports (most of
# an install's time).
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --no-compile -r requirements.txt
	$(PY) -m pip install -qq --no-deps -e .
	@$(PY) course_lib/kernel.py
	@touch $(STAMP)

# The clone's own kernel, inside .venv (never user-wide); rewritten only when it points elsewhere.
# Also JupyterLab's settings for .venv (widget messages on the kernel's main thread; kernel.py says why).
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

# `make test`: install, lint, workbook sync, then one pytest run (parallel workers) of the unit
# tests, every notebook in FAST mode and the real-browser widget test; the seconds of each phase
# are printed at the end, with the slowest files. The notebooks run on the `course-colab` kernel
# (.venv-colab's Python, Colab's ipywidgets 7.7.1), which also moves every control of every
# explorer and fails on any error: nbval and the Colab-widget check in one run of each notebook
# (tests/colab_widgets_check.py); the browser test covers ipywidgets 8 in JupyterLab. Each file
# is one unit of work (--dist loadfile); tests/conftest.py hands out the longest first (the
# browser test, then the notebooks), so no worker is left alone with a long one at the end.
PYTEST_ARGS ?=
NBVAL = COURSE_FAST=1 OMP_NUM_THREADS=1 COURSE_COLAB_PYTHON="$(CURDIR)/$(COLAB_PY)" $(PY) -m pytest \
	--nbval-lax --nbval-kernel-name=course-colab --nbval-cell-timeout=900
test:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory install colab-env || exit 1; t1=$$(date +%s); \
	$(MAKE) --no-print-directory lint || exit 1; t2=$$(date +%s); \
	$(PY) -m course_lib.workbook check || exit 1; t3=$$(date +%s); \
	echo "pytest -n $(WORKERS): unit tests, $(words $(NB)) notebooks (FAST, Colab widgets), browser test"; \
	$(NBVAL) -n $(WORKERS) --dist loadfile --no-loadscope-reorder -q \
		-rs --durations=10 --durations-min=5 --slowest-files=15 $(PYTEST_ARGS) \
		tests $(NB); \
	rc=$$?; end=$$(date +%s); \
	echo "make test phases: install $$((t1 - start)) s, lint $$((t2 - t1)) s," \
		"workbook check $$((t3 - t2)) s, pytest $$((end - t3)) s; total $$((end - start)) s"; \
	exit $$rc

# Some notebooks exactly as `make test` runs them (FAST, course-colab kernel, every control moved):
# make test-notebook NOTEBOOK="notebooks/02_activations.ipynb solutions/02_activations.ipynb".
# tests/conftest.py is named because it sets that kernel up; pytest loads it only for paths in tests/.
NOTEBOOK ?=
test-notebook: $(COLAB_STAMP)
	@test -n "$(NOTEBOOK)" || { echo 'name the notebooks: make test-notebook NOTEBOOK=notebooks/02_activations.ipynb'; exit 2; }
	$(NBVAL) -q tests/conftest.py $(NOTEBOOK)

# Colab's widget version without a second install: a small environment that sees every package of
# $(VENV) through a .pth file and holds only ipywidgets 7.7.1 in front of them, with the
# widgetsnbextension it pins (--no-deps: that one's own requirement, the classic notebook server,
# plays no part in a kernel). Rebuilt, in a second or two, whenever $(VENV) is.
COLAB_VENV ?= .venv-colab
COLAB_PY := $(COLAB_VENV)/bin/python
COLAB_STAMP := $(COLAB_VENV)/.installed
COLAB_WIDGETS := ipywidgets==7.7.1 widgetsnbextension==3.6.10 ipython_genutils==0.2.0
SITE_PACKAGES := import sysconfig; print(sysconfig.get_path("purelib"))

colab-env: $(COLAB_STAMP)

$(COLAB_STAMP): $(STAMP)
	rm -rf $(COLAB_VENV)
	$(PY) -m venv --without-pip $(COLAB_VENV)
	echo "import site; site.addsitedir('$$($(PY) -c '$(SITE_PACKAGES)')')" \
		> "$$($(COLAB_PY) -c '$(SITE_PACKAGES)')/course-venv.pth"
	$(COLAB_PY) -m pip install -qq --no-compile --no-deps $(COLAB_WIDGETS)
	@touch $(COLAB_STAMP)

# Run every explorer notebook under ipywidgets 7.7.1 and move every control, without pytest (make
# test runs every notebook on the same kernel under nbval).
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
