"""A real headless Chromium opens the live page and sees the annotated stream and detections.

Needs Debian's chromium + chromium-driver and selenium (tools/serve/install_browser.sh, run by
.ci/run). Missing pieces fail this test: they are part of the test environment."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from nanodet_ncnn.draw import class_color
from serve_helpers import Server, zidane_clip

CHROMIUM = os.environ.get("NANODET_NCNN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NANODET_NCNN_CHROMEDRIVER", "/usr/bin/chromedriver")


def _driver():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run tools/serve/install_browser.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,800", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def test_browser_shows_live_annotated_stream(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    clip = zidane_clip(tmp_path / "zidane.mp4")
    server = Server(clip, "--track")
    driver = _driver()
    try:
        driver.get(f"http://127.0.0.1:{server.port}/")
        wait = WebDriverWait(driver, 60, poll_frequency=0.25)
        wait.until(lambda d: "person" in d.find_element(By.ID, "detections").text)
        wait.until(lambda d: d.execute_script(
            "const i = document.getElementById('stream'); return i.complete && i.naturalWidth > 0;"))
        time.sleep(0.5)
        fps = float(driver.find_element(By.ID, "fps").text)
        latency = float(driver.find_element(By.ID, "latency").text)
        rows = driver.find_element(By.ID, "detections").text
        shot = tmp_path / "serve.png"
        driver.save_screenshot(str(shot))
        rect = driver.find_element(By.ID, "stream").rect
    finally:
        driver.quit()
        server.stop()
    assert fps > 0 and latency > 0
    assert "#" in rows  # tracker ids listed beside class and score
    page = cv2.imread(str(shot))
    x, y, w, h = (int(round(rect[k])) for k in ("x", "y", "width", "height"))
    view = page[y:y + h, x:x + w]
    assert view.size and view.std() > 20, "the stream area is blank"
    # the person boxes are drawn in class 0's colour
    near = np.all(np.abs(view.astype(int) - np.array(class_color(0))) <= 40, axis=2)
    assert near.sum() >= 300, f"only {near.sum()} pixels of the box colour in the stream"
    out = os.environ.get("NANODET_NCNN_SCREENSHOT")
    if out:
        shutil.copy(shot, out)
