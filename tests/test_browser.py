"""The HTML report in a real browser: Debian's Chromium driven by Selenium through Debian's chromedriver.

Skipped when Selenium, /usr/bin/chromium or /usr/bin/chromedriver is missing (``.ci/run`` installs
``chromium`` and ``chromium-driver``; Selenium is in the ``test`` extra). Selenium is pointed at the
installed driver, so nothing is downloaded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainlog_doctor.api import analyze
from trainlog_doctor.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[test])")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Debian chromium / chromium-driver are not installed", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def page(sample_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report.html"
    out.write_text(render_html(analyze(sample_logs), title="browser check"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400",
                "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(drv, condition, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    return WebDriverWait(drv, timeout, poll_frequency=0.1).until(condition)


def _tensorboard_ema(ys: list[float | None], w: float) -> list[float | None]:
    """TensorBoard's scalar smoothing, written out: EMA from 0, divided by 1 - w^n; gaps stay gaps."""
    out: list[float | None] = []
    last, n = 0.0, 0
    for y in ys:
        if y is None:
            out.append(None)
            continue
        last = last * w + (1 - w) * y
        n += 1
        out.append(last / (1 - w**n))
    return out


def _canvas_ink(drv, fig) -> int:  # type: ignore[no-untyped-def]
    """How many pixels of the chart's canvas are not blank (transparent or white)."""
    return int(drv.execute_script(
        "var c = arguments[0].querySelector('canvas'); if (!c) return -1;"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;"
        "for (var i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;"
        "return n;", fig))  # fmt: skip


def _y_labels(fig) -> str:  # type: ignore[no-untyped-def]
    """The y axis labels the chart last drew (uPlot draws them on the canvas; the page keeps a copy)."""
    return str(fig.get_attribute("data-yticks") or "")


def test_charts_render_hover_log_zoom_and_stay_offline(driver, page: Path) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    driver.get(page.as_uri())
    assert driver.title == "browser check"
    assert "js" in driver.find_element(By.TAG_NAME, "html").get_attribute("class")

    # The first run's charts render once visible; the canvas has ink; runs further down wait until scrolled to.
    fig = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "figure.chart[data-rendered]"))
    assert _canvas_ink(driver, fig) > 500
    total = len(driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-chart]"))
    rendered = len(driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-rendered]"))
    assert total > 8 and 0 < rendered < total
    assert not fig.find_element(By.CSS_SELECTOR, ".static").is_displayed()  # the SVG fallback is for no-JS / print
    for other in driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-rendered]"):
        assert _canvas_ink(driver, other) > 300, other.get_attribute("id")

    # Hover: the tooltip names the step and epoch and shows a value.
    over = fig.find_element(By.CSS_SELECTOR, ".u-over")
    ActionChains(driver).move_to_element_with_offset(over, -over.size["width"] // 4, 0).perform()
    tip = fig.find_element(By.CSS_SELECTOR, ".tip")
    _wait(driver, lambda d: tip.is_displayed())
    text = tip.text
    assert "step " in text and "epoch " in text and ": " in text
    assert any(ch.isdigit() for ch in text.rsplit(": ", 1)[-1])

    # The log/linear toggle changes the y axis (its labels and the scale the chart reports).
    before, scale = _y_labels(fig), fig.get_attribute("data-scale")
    button = fig.find_element(By.CSS_SELECTOR, "button.logbtn")
    assert button.is_enabled()
    button.click()
    _wait(driver, lambda d: fig.get_attribute("data-scale") != scale)
    fig = driver.find_element(By.ID, fig.get_attribute("id"))
    after = _y_labels(fig)
    assert before and after and after != before

    # Drag to zoom narrows the x range; a double-click resets it.
    def x_range() -> str:
        return str(fig.get_attribute("data-xticks"))

    full = x_range()
    over = fig.find_element(By.CSS_SELECTOR, ".u-over")
    w = over.size["width"]
    ActionChains(driver).move_to_element_with_offset(over, -w // 4, 0).click_and_hold().move_by_offset(w // 5, 0) \
        .release().perform()
    _wait(driver, lambda d: x_range() != full)
    ActionChains(driver).double_click(over).perform()
    _wait(driver, lambda d: x_range() == full)

    # Smoothing re-draws every rendered chart, and the hover then shows the smoothed value too.
    driver.execute_script("var s = document.getElementById('smoothing'); s.value = '0.6';"
                          "s.dispatchEvent(new Event('input'));")  # fmt: skip
    time.sleep(0.3)
    fig = driver.find_element(By.ID, fig.get_attribute("id"))
    over = fig.find_element(By.CSS_SELECTOR, ".u-over")
    ActionChains(driver).move_to_element_with_offset(over, w // 5, 0).perform()
    _wait(driver, lambda d: "smoothed" in fig.find_element(By.CSS_SELECTOR, ".tip").text)

    # The smoothing is TensorBoard's debiased EMA.
    ys = [1.0, 3.0, None, 2.0, 8.0, 4.0]
    got = driver.execute_script("return window.trainlogDoctorCharts.ema(arguments[0], 0.6)", ys)
    assert got == pytest.approx(_tensorboard_ema(ys, 0.6)) and got[2] is None
    assert driver.execute_script("return window.trainlogDoctorCharts.ema([2, 2, 2], 0.9)") == [2, 2, 2]

    # The x axis switches to relative time on charts whose points have wall times.
    timed = driver.execute_script(
        "return window.trainlogDoctorCharts.charts.filter(function (c) { return !!c.data.series[0].t; })"
        ".map(function (c) { return c.fig.id; });")  # fmt: skip
    assert timed
    tfig = driver.find_element(By.ID, timed[0])
    driver.execute_script("var d = arguments[0].closest('details'); if (d) d.open = true; arguments[0].scrollIntoView();", tfig)
    _wait(driver, lambda d: tfig.get_attribute("data-rendered") == "1")
    steps_axis = tfig.get_attribute("data-xticks")
    driver.execute_script("var x = document.getElementById('xaxis'); x.value = 'time'; x.dispatchEvent(new Event('change'));")
    _wait(driver, lambda d: tfig.get_attribute("data-xticks") != steps_axis)
    assert re.search(r"\d(\.\d)? s|\dm \d\ds|\dh \d\dm", tfig.get_attribute("data-xticks"))
    assert tfig.find_element(By.CSS_SELECTOR, ".xlab").text == "relative time"

    # Change points outside findings appear only behind the toggle.
    hidden = driver.execute_script(
        "return window.trainlogDoctorCharts.charts.filter(function (c) { return c.plot &&"
        " c.data.cps.some(function (p) { return !p.f; }); }).map(function (c) { return c.fig.id; });")  # fmt: skip
    if hidden:
        cfig = driver.find_element(By.ID, hidden[0])
        shot = "return arguments[0].querySelector('canvas').toDataURL();"
        before_cps = driver.execute_script(shot, cfig)
        driver.execute_script("var b = document.getElementById('show-cps'); b.click();")
        with_cps = driver.execute_script(shot, cfig)
        assert with_cps != before_cps
        driver.execute_script("document.getElementById('show-cps').click();")
        assert driver.execute_script(shot, cfig) != with_cps

    # In print the static SVG replaces the canvas.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert tfig.find_element(By.CSS_SELECTOR, ".static").is_displayed()
    assert not tfig.find_element(By.CSS_SELECTOR, ".live").is_displayed()
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    # Scrolling to the last run renders its charts.
    last = driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-chart]")[-1]
    driver.execute_script("var f = arguments[0]; var d = f.closest('details'); if (d) d.open = true;"
                          "f.scrollIntoView();", last)  # fmt: skip
    _wait(driver, lambda d: last.get_attribute("data-rendered") == "1")
    assert _canvas_ink(driver, last) > 300

    # Nothing but the file itself was requested, and no script error was logged.
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    assert [u for u in urls if u.startswith("file://")] == [page.as_uri()]
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []
    assert time.monotonic() - t0 < 40
