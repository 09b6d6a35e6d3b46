"""`make screenshots`: headless Chromium (Debian's chromium and chromium-driver) photographs the Streamlit
front end's main pages and Swagger UI, served by a `FRONTEND=1 make dev` this script starts and stops.
The pictures go to docs/ (docs/development.md shows them).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from infra import ROOT
from infra.commands.dev_stack import READY_SECONDS, dev_stack
from infra.local.servers import free_port, wait_until_answering

DOCS = ROOT / "docs"
ADMIN_EMAIL = "admin@example.com"
DEMO_ITEMS = [
    {"title": "Arrival", "type": "movie", "year": 2016, "status": "completed", "rating": 9},
    {"title": "Severance", "type": "show", "year": 2022, "status": "watching", "rating": 10},
    {"title": "Dune: Part Two", "type": "movie", "year": 2024, "status": "planned"},
    {"title": "The Bear", "type": "show", "year": 2022, "status": "watching", "rating": 8},
    {"title": "Perfect Days", "type": "movie", "year": 2023, "status": "planned"},
]


def _http(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 (loopback)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


@contextmanager
def swagger_ui_assets() -> Iterator[str]:
    """Swagger UI's files (npm's swagger-ui-dist) over HTTP on loopback: this machine has no CDN to reach."""
    directory = ROOT / "node_modules" / "swagger-ui-dist"
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def frontend_stack(password: str) -> Iterator[tuple[str, str]]:
    """`make dev` with the front end, Swagger UI's assets on loopback; yields (API URL, front end URL)."""
    frontend_port = str(free_port())
    with (
        swagger_ui_assets() as assets,
        dev_stack(
            ADMIN_EMAIL, password, FRONTEND="1", FRONTEND_PORT=frontend_port, SWAGGER_UI_ASSETS_URL=assets
        ) as stack,
    ):
        frontend = f"http://127.0.0.1:{frontend_port}"
        wait_until_answering(frontend, [stack.process], READY_SECONDS)
        yield stack.api, frontend


def browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for_text(driver: WebDriver, text: str) -> None:
    WebDriverWait(driver, 30).until(
        expected_conditions.presence_of_element_located((By.XPATH, f"//*[contains(text(), {json.dumps(text)})]"))
    )
    time.sleep(1.0)  # let Streamlit finish drawing (fonts, tables)


def choose_page(driver: WebDriver, page: str, expect: str) -> None:
    driver.find_element(By.XPATH, f"//section[@data-testid='stSidebar']//label[.//p[text()='{page}']]").click()
    wait_for_text(driver, expect)


def main() -> int:
    password = secrets.token_urlsafe(12)
    DOCS.mkdir(exist_ok=True)
    with frontend_stack(password) as (api, frontend):
        token = _http("POST", api + "/v1/auth/login", {"email": ADMIN_EMAIL, "password": password})["access_token"]
        for item in DEMO_ITEMS:
            _http("POST", api + "/v1/watchlists/items", item, token)
        for name in ("ada", "grace"):
            _http("POST", api + "/v1/auth/register", {"email": f"{name}@example.com", "password": password})
        driver = browser()
        try:
            driver.get(api + "/docs")
            WebDriverWait(driver, 30).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .opblock"))
            )
            time.sleep(1.0)
            driver.save_screenshot(str(DOCS / "swagger.png"))

            driver.get(frontend)
            wait_for_text(driver, "Log in")
            email = driver.find_elements(By.CSS_SELECTOR, "input[aria-label='E-mail']")[0]
            email.send_keys(ADMIN_EMAIL)
            secret = driver.find_elements(By.CSS_SELECTOR, "input[type='password']")[0]
            secret.send_keys(password)
            driver.find_element(By.XPATH, "//button[.//p[text()='Log in']]").click()
            wait_for_text(driver, "My watchlist")
            wait_for_text(driver, "5 items")
            driver.save_screenshot(str(DOCS / "frontend-watchlist.png"))

            choose_page(driver, "Admin", "Administration")
            driver.save_screenshot(str(DOCS / "frontend-admin.png"))

            choose_page(driver, "GitHub", "GitHub lookup")
            driver.find_element(By.CSS_SELECTOR, "input[aria-label='GitHub username']").send_keys("octocat")
            driver.find_element(By.XPATH, "//button[.//p[text()='Look up']]").click()
            wait_for_text(driver, "The Octocat")
            driver.save_screenshot(str(DOCS / "frontend-github.png"))

            choose_page(driver, "Health", "dynamodb")
            driver.save_screenshot(str(DOCS / "frontend-health.png"))
        finally:
            driver.quit()
    for picture in sorted(DOCS.glob("*.png")):
        print(picture.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
