"""Every explorer, proven in a real browser: JupyterLab 4 + Debian's Chromium, driven by Playwright.

One JupyterLab server (127.0.0.1, a free port, a random token) serves a temporary copy of the
explorer notebooks, so autosave never writes into the course. One page of one Chromium holds
JupyterLab; it opens each notebook in a tab of its own (File > Open from Path), runs every cell
from the Run menu (``COURSE_FAST=1``), saves it (into the copy) and checks:

- every code cell ran, and no cell stored an error output;
- each explorer cell shows at least one explorer (controls plus an Output widget with a figure),
  and every control is visible;
- no "Error displaying widget", "model not found", "Click to show javascript error", raw
  ``interactive(`` / ``VBox(children=`` text, nor any disconnected widget;
- moving the first control of each explorer (the keyboard on a slider's handle, or typing into its
  readout when the keyboard does nothing) changes the figure, and the new figure carries no error.

Most of a notebook's time is its kernel running the cells, so the notebooks overlap: while one
is checked, the next ones (up to ``$COURSE_BROWSER_JOBS`` at once, default 3) are already open in
their tabs and running, each with its own kernel (``Pipeline``). Each notebook is still one test
with its own report. One page rather than one per notebook: loading JupyterLab costs Chromium about
5 s of CPU each time, a third of the whole test's browser time.

One screenshot per notebook (the first explorer scrolled into view) goes to
``build/browser-screens/`` (or ``$COURSE_SCREENSHOT_DIR``); the test prints the folder. Two fixture
notebooks test the test: ``tests/fixtures/explorer_ok.ipynb`` must pass, and
``tests/fixtures/explorer_broken.ipynb`` (its draw function raises once a slider moves) must fail.

Skipped, with a one-line reason, when Chromium (``/usr/bin/chromium`` or ``$COURSE_CHROMIUM``) or
Playwright's Python package is missing. Never run ``playwright install``: Debian's Chromium is used.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from colab_widgets_check import explorer_cells, explorer_notebooks

from course_lib import kernel

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("COURSE_SCREENSHOT_DIR", ROOT / "build" / "browser-screens"))
RUN_TIMEOUT = float(os.environ.get("COURSE_BROWSER_TIMEOUT", "300"))  # s for "Run All Cells"
MOVE_TIMEOUT = 45.0  # s for the figure to change after a control moves
JOBS = max(1, int(os.environ.get("COURSE_BROWSER_JOBS", "3")))  # notebooks open and running at once
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
FORBIDDEN = [
    "Error displaying widget",
    "model not found",
    "Click to show javascript error",
    "interactive(",
    "VBox(children=",
]
ERROR_TEXT = re.compile(r"Traceback|\b\w*(Error|Exception)\b")
# JupyterLab user settings: no news or update notification over the page, every cell in the DOM
# (no windowing), no autosave racing the explicit save.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,  # no "Select Kernel" dialog while kernel specs load
    },
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


def _missing() -> str | None:
    if sync_playwright is None:
        return "Playwright's Python package is not installed (pip install -r requirements.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


# --------------------------------------------------------------------------- the server


@dataclass
class Lab:
    url: str
    token: str
    root: Path  # the temporary folder the server serves

    def api(self, method: str, path: str) -> object:
        """One call of the server's REST API (``path`` after ``/api/``); its JSON reply, if any."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def stop_kernel(self, rel: str) -> None:
        """Shut down the kernel of notebook ``rel`` (a closed page leaves it running)."""
        for session in self.api("GET", "sessions"):
            if session.get("path") == rel:
                self.api("DELETE", f"sessions/{session['id']}")

    def open_url(self, rel: str) -> str:
        """``rel`` in a fresh workspace named after it: no layout saved earlier comes back."""
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", rel)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{rel}?reset&token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_notebooks(root: Path) -> dict[str, str]:
    """Copy every explorer notebook and the fixtures under ``root``; name -> path in the copy."""
    rels = {}
    for path in [*explorer_notebooks(), *sorted(FIXTURES.glob("*.ipynb"))]:
        rel = path.relative_to(ROOT).as_posix()
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, root / rel)
        rels[path.name] = rel
    return rels


def _assert_lab_overrides(url: str, token: str) -> None:
    """JupyterLab applies ``kernel.LAB_OVERRIDES`` (so the test sees the settings a learner gets)."""
    for plugin, values in kernel.LAB_OVERRIDES.items():
        with urllib.request.urlopen(f"{url}/lab/api/settings/{plugin}?token={token}") as r:
            reply = json.load(r)  # overrides.json becomes the schema's defaults
        for key, value in values.items():
            now = reply["settings"].get(key, reply["schema"]["properties"][key].get("default"))
            assert now == value, f"JupyterLab's {plugin} {key} is {now!r}, not {value!r}"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """JupyterLab 4 on 127.0.0.1 serving a temporary copy of the notebooks; stopped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="course-lab-"))
    root = tmp / "course"
    root.mkdir()
    _copy_notebooks(root)
    kernel.ensure_lab_settings()  # what `make lab` writes: widget messages on the main thread
    settings = tmp / "settings"
    for name, values in LAB_SETTINGS.items():
        f = settings / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    env = dict(
        os.environ,
        COURSE_FAST="1",
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp / "lab.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}"
                    )
                time.sleep(0.3)
        _assert_lab_overrides(url, token)
        yield Lab(url, token, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[object]:
    """A Chromium context with a fresh user-data dir, shared by the notebooks of this module."""
    profile = tempfile.mkdtemp(prefix="course-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- one notebook


@dataclass
class Report:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"{self.name}: {len(self.problems)} problem(s) in {self.seconds:.0f} s"]
        lines += [f"  - {p}" for p in self.problems]
        lines += [f"  ok: {n}" for n in self.notes]
        lines.append(f"  screenshot: {self.screenshot} (folder {SHOTS})")
        return "\n".join(lines)


# The text and figure of an explorer's Output widget, and any error shown in it.
_OUTPUT_STATE = """root => {
  const out = root.querySelector(':scope > .widget-output');
  if (!out) return {sig: '', images: 0, text: '', error: ''};
  const imgs = [...out.querySelectorAll('img')].map(i => i.src);
  const err = [...out.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.innerText).join('\\n');
  return {sig: imgs.join('|') + '\\n' + out.innerText, images: imgs.length,
          text: out.innerText, error: err};
}"""


IDLE = '.jp-Notebook-ExecutionIndicator[data-status="idle"]'


# Where a notebook's run stands, in one call: any dialog, the input prompts ("[3]:", "[*]:") and
# whether its kernel is busy. textContent, not innerText: reading it lays nothing out, and the
# test asks twice a second for minutes.
_RUN_STATE = """panel => ({
  dialog: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText).join(' '),
  prompts: [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent),
  busy: panel.querySelector('.jp-Notebook-ExecutionIndicator[data-status="busy"]') !== null,
})"""


def _wait_for_run(panel, timeout: float) -> None:
    """Wait until no code cell of ``panel`` is queued or running ("[*]") and its kernel is idle."""
    start = time.monotonic()
    deadline = start + timeout
    stable_since = None
    prompts: list[str] = []
    while time.monotonic() < deadline:
        state = panel.evaluate(_RUN_STATE)
        if state["dialog"]:
            text = " ".join(state["dialog"].split())
            raise RuntimeError(f"a dialog blocks the notebook: {text[:200]}")
        prompts = state["prompts"]
        if time.monotonic() - start > 60 and not any(re.search(r"\[[\d*]+\]", p) for p in prompts):
            raise RuntimeError(f"Run All Cells did not start any cell in 60 s: {prompts}")
        started = any(re.search(r"\[\d+\]", p) for p in prompts)
        if started and not state["busy"] and not any("*" in p for p in prompts):
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since > 1.0:
                return
        else:
            stable_since = None
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout:.0f} s: {prompts}")


def _wait_for_kernel(page, panel, timeout: float = 90) -> None:
    """Wait until the kernel of ``panel`` (the current tab) is idle, accepting a "Select Kernel"
    dialog if one comes."""
    deadline = time.monotonic() + timeout
    status = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle"))
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():  # its choice is the notebook's own kernel spec
            dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        if status.count() and panel.locator(IDLE).count():
            return
        time.sleep(0.25)
    raise TimeoutError(f"the kernel was not idle after {timeout:.0f} s")


def _wait_idle(panel, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if panel.locator(IDLE).count():
            return
        time.sleep(0.2)


def _settled(root, panel, deadline: float) -> dict:
    """The Output state of explorer ``root`` once the kernel is idle and the state holds still.

    A redraw clears the Output widget before it fills it again: one read at the wrong moment (a
    busy machine stretches that moment) would see an empty figure that is not the final one.
    """
    last = None
    while True:
        _wait_idle(panel)
        state = root.evaluate(_OUTPUT_STATE)
        shown = state["images"] or state["text"].strip()
        if (last is not None and shown and state["sig"] == last["sig"]) or (
            time.monotonic() > deadline
        ):
            return state
        last = state
        time.sleep(0.5)


def _save_and_read(page, path: Path, timeout: float = 30) -> nbformat.NotebookNode:
    """Save the notebook from the File menu and read what JupyterLab wrote (into the copy)."""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Save Notebook")).first.click()
    deadline = time.monotonic() + timeout
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)
    return nbformat.read(path, as_version=4)


def _move(root, problems: list[str], label: str) -> str:
    """Move the first control of the explorer ``root``; return how (or '' if nothing moved)."""
    slider = root.locator(".widget-slider").first
    if slider.count():
        handle = slider.locator(".noUi-handle").first
        readout = slider.locator(".widget-readout").first
        now = float(handle.get_attribute("aria-valuenow"))
        low = float(handle.get_attribute("aria-valuemin"))
        top = float(handle.get_attribute("aria-valuemax"))
        shown = readout.inner_text()
        handle.scroll_into_view_if_needed()
        handle.focus()
        handle.press("ArrowLeft" if now >= top else "ArrowRight")
        for _ in range(20):  # aria-valuenow is rounded (0.8 -> 0.85 still reads 0.8): use both
            if readout.inner_text() != shown or float(handle.get_attribute("aria-valuenow")) != now:
                return "keyboard on the slider handle"
            time.sleep(0.1)
        readout.click()
        page = root.page
        page.keyboard.press("Control+a")
        page.keyboard.type(f"{low if now >= top else top:g}")
        page.keyboard.press("Enter")
        return "typing into the slider readout"
    select = root.locator(".widget-dropdown select").first
    if select.count():
        options = select.locator("option").all_inner_texts()
        index = select.evaluate("s => s.selectedIndex")
        if len(options) > 1:
            select.select_option(index=(index + 1) % len(options))
            return "choosing another dropdown option"
    problems.append(f"{label}: no slider or dropdown to move")
    return ""


def _menu(page, menu: str, item: str) -> None:
    """Click ``item`` (the start of its label) in the menu bar's ``menu``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(f"^{re.escape(item)}")).first.click()


def _current_tab(page) -> str:
    """The widget id of the main area's current tab (its panel's DOM id)."""
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").first.get_attribute(
        "data-id"
    )


@dataclass
class Started:
    """A notebook open in its own tab, its cells running (or the error that stopped that)."""

    report: Report
    lab: Lab
    page: object
    copy: Path
    start: float
    panel_id: str = ""
    js_errors: list[tuple[float, str]] = field(default_factory=list)  # the page's: (when, what)
    error: Exception | None = None

    @property
    def panel(self):
        """The notebook's panel (toolbar, cells, outputs); the other tabs' are hidden."""
        return self.page.locator(f"[id='{self.panel_id}']")


def start_notebook(page, lab: Lab, rel: str, js_errors: list[tuple[float, str]]) -> Started:
    """Open ``rel`` (a path inside the served copy) in a new tab and click "Run All Cells".

    The first notebook loads JupyterLab with it (its own workspace, so an earlier run's layout
    never comes back); the others open from File > Open from Path. ``js_errors`` is the page's
    list of JavaScript errors; the notebook's report gets those from its start on.
    """
    run = Started(Report(rel), lab, page, lab.root / rel, time.monotonic(), js_errors=js_errors)
    try:
        if page.url == "about:blank":
            page.goto(lab.open_url(rel))
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        else:
            before = _current_tab(page)
            _menu(page, "File", "Open from Path")
            dialog = page.locator(".jp-Dialog")
            dialog.locator("input").fill(rel)
            dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
            deadline = time.monotonic() + 60
            while _current_tab(page) == before:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{rel} did not open in a tab in 60 s")
                time.sleep(0.1)
        run.panel_id = _current_tab(page)
        # Collapse the file browser (opening a path shows it): more room for the screenshots.
        current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if current.count():
            current.first.click()
        run.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        _wait_for_kernel(page, run.panel)
        _menu(page, "Run", "Run All Cells")
    except Exception as e:  # reported, with a screenshot, by finish_notebook
        run.error = e
    return run


def _close_tab(run: Started) -> None:
    """Shut down the notebook's kernel and close its tab (its memory back for the next ones)."""
    page = run.page
    run.lab.stop_kernel(run.report.name)
    if not run.panel_id:
        return
    tab = page.locator(f"#jp-main-dock-panel .lm-TabBar-tab[data-id='{run.panel_id}']")
    if tab.count():
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        dialog = page.locator(".jp-Dialog")
        try:  # a notebook changed since its save asks; the copy is thrown away anyway
            dialog.wait_for(timeout=300)
            dialog.locator(".jp-Dialog-button", has_text=re.compile("Discard|Close")).first.click()
        except PlaywrightTimeout:
            pass
    if page.locator(".jp-Dialog").count():  # nothing left over to block the next notebook
        page.keyboard.press("Escape")


def finish_notebook(run: Started) -> Report:
    """Wait for the cells of a started notebook, run every check on it, close its tab."""
    report, page, copy, js_errors = run.report, run.page, run.copy, run.js_errors
    rel = report.name
    problems = report.problems
    nb = nbformat.read(copy, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    explorers = explorer_cells(nb)
    try:
        if run.error is not None:
            raise run.error
        page.locator(f"#jp-main-dock-panel .lm-TabBar-tab[data-id='{run.panel_id}']").click()
        panel = run.panel
        panel.wait_for(state="visible", timeout=30_000)
        _wait_for_run(panel, RUN_TIMEOUT)

        saved = _save_and_read(page, copy)
        for i in code_cells:
            cell = saved.cells[i]
            if cell.get("execution_count") is None:
                problems.append(f"cell {i} did not run (an earlier cell failed?)")
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    problems.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")

        cells = panel.locator(".jp-Notebook .jp-Cell")
        if cells.count() != len(nb.cells):
            problems.append(f"{cells.count()} cells in the page, {len(nb.cells)} in the notebook")
        outputs_text = "\n".join(panel.locator(".jp-Notebook .jp-OutputArea").all_inner_texts())
        for bad in FORBIDDEN:
            if bad in outputs_text:
                problems.append(f"the page shows {bad!r}")
        first_root = None
        for i in explorers:
            roots = cells.nth(i).locator(".jp-Cell-outputArea .widget-vbox:has(> .widget-output)")
            if roots.count() == 0:
                problems.append(f"cell {i}: no explorer is displayed (controls + Output widget)")
            for k in range(roots.count()):
                root = roots.nth(k)
                first_root = first_root or root
                label = f"cell {i} explorer {k}"
                controls = root.locator(".widget-inline-hbox")
                if controls.count() == 0:
                    problems.append(f"{label}: no controls")
                for c in range(controls.count()):
                    box = controls.nth(c).bounding_box()
                    if not box or box["width"] < 10 or box["height"] < 5:
                        problems.append(f"{label}: control {c} is not visible")
                before = root.evaluate(_OUTPUT_STATE)
                if before["error"]:
                    problems.append(
                        f"{label}: error in the default figure: {before['error'][:300]}"
                    )
                if not before["images"] and not before["text"].strip():
                    problems.append(f"{label}: the default figure is missing")
                how = _move(root, problems, label)
                if not how:
                    continue
                deadline = time.monotonic() + MOVE_TIMEOUT
                after = before
                while time.monotonic() < deadline:
                    after = root.evaluate(_OUTPUT_STATE)
                    if after["sig"] != before["sig"] and (after["images"] or after["text"].strip()):
                        after = _settled(root, panel, deadline)
                        break
                    time.sleep(0.2)
                if after["error"] or ERROR_TEXT.search(after["text"]):
                    text = (after["error"] or after["text"]).strip().splitlines()
                    problems.append(f"{label}: error after {how}: {text[-1][:300] if text else ''}")
                elif after["sig"] == before["sig"]:
                    problems.append(f"{label}: the figure did not change after {how}")
                elif not after["images"] and not after["text"].strip():
                    problems.append(f"{label}: the figure disappeared after {how}")
                else:
                    report.notes.append(
                        f"{label}: {controls.count()} controls, figure changed after {how}"
                    )
        if panel.locator(".jupyter-widgets-disconnected").count():
            problems.append("a widget shows as disconnected")
        problems += [f"JavaScript error: {e[:300]}" for t, e in js_errors if t >= run.start]

        SHOTS.mkdir(parents=True, exist_ok=True)
        report.screenshot = SHOTS / f"{Path(rel).stem}.png"
        if first_root is not None:
            first_root.evaluate("e => e.scrollIntoView({block: 'start'})")
            time.sleep(0.3)
        page.screenshot(path=str(report.screenshot))
    except Exception as e:  # a timeout or a missing element is a failure with a screenshot
        problems.append(f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        report.screenshot = SHOTS / f"{Path(rel).stem}.png"
        page.screenshot(path=str(report.screenshot))
    finally:
        _close_tab(run)
    report.seconds = time.monotonic() - run.start
    return report


class Pipeline:
    """Checks notebooks in ``order``, keeping up to ``jobs`` of them open and running at once.

    ``report(rel)`` first starts ``rel`` and the next notebooks of ``order`` (so that their kernels
    run while ``rel`` is checked), then finishes ``rel``. One Chromium, one JupyterLab server, one
    page, and one tab and one kernel per notebook. A JavaScript error goes to the report of every
    notebook open (or opening) when it happens.
    """

    def __init__(self, context, lab: Lab, order: list[str], jobs: int = JOBS) -> None:
        self.lab, self.order, self.jobs = lab, order, jobs
        self.page = context.new_page()
        self.running: dict[str, Started] = {}
        self.done: set[str] = set()
        self.js_errors: list[tuple[float, str]] = []
        self.page.on("pageerror", lambda e: self.js_errors.append((time.monotonic(), str(e))))

    def _start(self, rel: str) -> None:
        if rel not in self.running and rel not in self.done:
            self.running[rel] = start_notebook(self.page, self.lab, rel, self.js_errors)

    def report(self, rel: str) -> Report:
        self._start(rel)
        later = self.order[self.order.index(rel) + 1 :] if rel in self.order else []
        for nxt in later:
            if len(self.running) >= self.jobs:
                break
            self._start(nxt)
        self.done.add(rel)
        return finish_notebook(self.running.pop(rel))

    def close(self) -> None:
        for run in self.running.values():  # started but never asked for (-x stopped the run)
            run.lab.stop_kernel(run.report.name)
        self.running.clear()
        self.page.close()


def _selected_notebooks(session: pytest.Session) -> list[str]:
    """The ``rel`` of every test of this module that this run will call, in the order it will."""
    return [
        item.callspec.params["rel"]
        for item in session.items
        if getattr(item, "module", None) is sys.modules[__name__]
        and hasattr(item, "callspec")
        and item.callspec.params.get("rel")
    ]


@pytest.fixture(scope="module")
def pipeline(lab: Lab, browser, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    runner = Pipeline(browser, lab, _selected_notebooks(request.session))
    try:
        yield runner
    finally:
        runner.close()


def _run(pipeline: Pipeline, rel: str, capsys: pytest.CaptureFixture[str]) -> Report:
    report = pipeline.report(rel)
    with capsys.disabled():
        print(f"\n[browser] {report.text()}")
    return report


# --------------------------------------------------------------------------- the tests

NOTEBOOKS = [p.relative_to(ROOT).as_posix() for p in explorer_notebooks()]


@pytest.mark.parametrize(
    "rel",
    NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no explorer notebooks yet"))],
)
def test_explorer_notebook_in_jupyterlab(pipeline: Pipeline, rel: str, capsys) -> None:
    report = _run(pipeline, rel, capsys)
    assert not report.problems, report.text()


@pytest.mark.parametrize("rel", ["tests/fixtures/explorer_ok.ipynb"])
def test_working_fixture_passes(pipeline: Pipeline, rel: str, capsys) -> None:
    report = _run(pipeline, rel, capsys)
    assert not report.problems, report.text()


@pytest.mark.parametrize("rel", ["tests/fixtures/explorer_broken.ipynb"])
def test_broken_fixture_is_caught(pipeline: Pipeline, rel: str, capsys) -> None:
    """The test of the test: an explorer whose callback raises must be reported."""
    report = _run(pipeline, rel, capsys)
    assert any("error after" in p and "broken on purpose" in p for p in report.problems), (
        report.text()
    )
