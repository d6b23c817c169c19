"""The page in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium against `tfgancomp serve` on
127.0.0.1. Skips where no browser can be had; `.ci/run` installs one."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tfgancomp.deploy.shipped import SAMPLE_PHOTO

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("no chromium and chromedriver here (apt-get install "
                "chromium chromium-driver)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tfgancomp", "serve", "--port",
             str(port), "--models", "default-gan", "--log_level",
             "warning"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if json.load(r)["status"] == "ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                pytest.fail("the server did not start:\n" + log.read_text())
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1500",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    except Exception as e:  # a browser that cannot start here
        pytest.skip(f"chromium does not start: {str(e).splitlines()[0]}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(condition)
        if value:
            return value
        time.sleep(0.2)
    error = driver.execute_script("return $('error').textContent")
    raise AssertionError(f"timed out waiting for {condition} ({error})")


def cells(driver) -> dict:
    return driver.execute_script("""
        const rows = {};
        for (const tr of document.querySelectorAll('#metrics tbody tr')) {
          rows[tr.dataset.codec] = {};
          for (const td of tr.querySelectorAll('td[data-metric]'))
            rows[tr.dataset.codec][td.dataset.metric] = td.textContent;
        }
        return rows;""")


def test_upload_a_photo_and_see_the_numbers(server, browser, tmp_path):
    photo = tmp_path / "photo.png"
    shutil.copy(SAMPLE_PHOTO, photo)  # the shipped cat, 451x300
    width, height = Image.open(photo).size
    browser.get(server + "/")
    wait(browser, "return document.body.dataset.ready === '1'")
    assert browser.execute_script("return $('model').value") == "default-gan"
    browser.find_element("id", "files").send_keys(str(photo))
    wait(browser, "return !$('results').hidden && "
                  "$('metrics').tBodies[0].rows.length >= 3")
    wait(browser, "return $('left').naturalWidth && $('right').naturalWidth")
    rows = cells(browser)
    assert set(rows) == {"tfgancomp", "jpeg-420", "webp"}
    ours = rows["tfgancomp"]
    size = int(ours["bytes"].replace(",", ""))
    assert float(ours["bpp"]) == pytest.approx(8 * size / (width * height),
                                               abs=5e-4)
    for row in rows.values():
        assert 15 < float(row["psnr"]) < 60
        assert 0.5 < float(row["ms_ssim"]) <= 1
        # JPEG and WebP at the same size: within 15% of ours.
        assert float(row["bpp"]) == pytest.approx(float(ours["bpp"]),
                                                  rel=0.15)
    link = browser.find_element("id", "download-tfgc").get_attribute("href")
    with urllib.request.urlopen(link) as response:
        assert response.read()[:4] == b"TFGC"
    assert browser.execute_script("return $('zoom-right').toDataURL()"
                                  ).startswith("data:image/png")
    browser.save_screenshot(str(tmp_path / "page.png"))
    print("screenshot:", tmp_path / "page.png")

    # A .tfgc dropped on the page is decoded.
    browser.execute_script("""
        const blob = await (await fetch(arguments[0])).blob();
        const data = new DataTransfer();
        data.items.add(new File([blob], 'photo.tfgc'));
        $('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: data,
                                                       bubbles: true}));
    """, link)
    wait(browser, "const r = $('metrics').tBodies[0].rows; return "
                  "r.length === 1 && $('left-tag').textContent === 'decoded'")
    assert cells(browser)["tfgancomp"]["bytes"].replace(",", "") == str(size)

    # A phone-sized screen: nothing wider than the screen.
    browser.set_window_size(390, 844)
    wait(browser, "return document.documentElement.scrollWidth <= "
                  "window.innerWidth + 1", timeout=10)
    browser.save_screenshot(str(tmp_path / "phone.png"))
    shots = os.environ.get("TFGANCOMP_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        for name in ("page.png", "phone.png"):
            shutil.copy(tmp_path / name, Path(shots) / name)
