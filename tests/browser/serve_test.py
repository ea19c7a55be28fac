#!/usr/bin/env python3
"""alara serve in a real browser: headless Chromium driven through WebDriver (Debian
chromium-driver, PyPI selenium). Run by tests/it/serve.rs against a served generated hospital.

Checks: a page without a session goes to the login form; logging in; acknowledging an alert in
one click; recording an explanation and seeing the finding move to "explained"; downloading a
query as CSV; a form whose CSRF token was tampered with is refused. Takes a full-page screenshot
of every page in French and in English (--shots DIR) for a person to look at.
Exits non-zero with a message on the first failed check.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def driver(download_dir):
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {
        "download.default_directory": download_dir,
        "download.prompt_for_download": False,
    })
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    return d


def shot(d, shots, name):
    os.makedirs(shots, exist_ok=True)
    height = d.execute_script("return Math.max(document.body.scrollHeight, 600)")
    d.set_window_size(1280, min(height + 40, 6000))
    d.save_screenshot(os.path.join(shots, f"{name}.png"))
    d.set_window_size(1280, 900)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--shots", required=True)
    a = p.parse_args()
    base = a.base
    downloads = os.path.join(a.shots, "downloads")
    os.makedirs(downloads, exist_ok=True)
    d = driver(downloads)
    wait = WebDriverWait(d, 60)
    try:
        # No session: the login form.
        d.get(base + "/alerts")
        check(d.current_url.endswith("/login"), f"without a session /alerts went to {d.current_url}")
        shot(d, a.shots, "login-fr")
        d.get(base + "/login?lang=en")
        shot(d, a.shots, "login-en")
        d.get(base + "/login?lang=fr")
        d.find_element(By.ID, "name").send_keys(a.user)
        d.find_element(By.ID, "password").send_keys(a.password)
        d.find_element(By.ID, "login").click()
        wait.until(EC.url_to_be(base + "/"))
        check("À traiter" in d.page_source, "the start page is in French")
        check(d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr", "html lang=fr")

        # Every page, both languages.
        worker = d.find_element(By.CSS_SELECTOR, ".att h3 a").get_attribute("href")
        pages = {"today": "/", "alerts": "/alerts", "findings": "/findings", "worker": worker.replace(base, ""),
                 "departments": "/departments", "quality": "/quality", "reports": "/reports", "sql": "/sql"}
        for lang in ["en", "fr"]:
            for name, path in pages.items():
                d.get(base + path + ("&" if "?" in path else "?") + "lang=" + lang)
                check(d.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang, f"{name} in {lang}")
                check("template error" not in d.page_source, f"{name} renders")
                shot(d, a.shots, f"{name}-{lang}")

        # Acknowledge the first open alert in one click.
        d.get(base + "/alerts")
        row = d.find_element(By.CSS_SELECTOR, "#open ~ .table-wrap tbody tr")
        alert_id = row.get_attribute("id")
        row.find_element(By.NAME, "note").send_keys("appelé le médecin du travail")
        row.find_element(By.CSS_SELECTOR, "button.ack").click()
        wait.until(EC.presence_of_element_located((By.ID, "flash")))
        acked = d.find_element(By.ID, alert_id)
        check("acquittée par" in acked.text and a.user in acked.text, f"the alert shows acknowledged by {a.user}: {acked.text}")
        check("appelé le médecin du travail" in acked.text, "the note is shown")
        shot(d, a.shots, "alerts-after-ack")

        # Explain the first explainable finding; it moves to the explained list.
        d.get(base + "/findings")
        form_row = d.find_element(By.XPATH, "//tr[@class='finding'][.//textarea]")
        fw, fs = form_row.get_attribute("data-worker"), form_row.get_attribute("data-signal")
        before = len(d.find_elements(By.CSS_SELECTOR, f"tr.finding[data-worker='{fw}'][data-signal='{fs}']"))
        form_row.find_element(By.NAME, "reason").send_keys("dosimètre oublié dans la salle")
        form_row.find_element(By.CSS_SELECTOR, "button.explain").click()
        wait.until(EC.presence_of_element_located((By.ID, "flash")))
        after = len(d.find_elements(By.CSS_SELECTOR, f"tr.finding[data-worker='{fw}'][data-signal='{fs}']"))
        check(after < before, f"the finding left the open ones ({before} -> {after})")
        explained = d.find_element(By.ID, "explained").find_element(By.XPATH, "following-sibling::div[1]").text
        check("dosimètre oublié dans la salle" in explained and fw in explained, "it is listed as explained")
        shot(d, a.shots, "findings-after-explain")

        # Download a query as CSV.
        d.get(base + "/sql")
        q = d.find_element(By.ID, "q")
        q.clear()
        q.send_keys("SELECT worker_id, level FROM overexposure ORDER BY worker_id, level LIMIT 5")
        d.find_element(By.ID, "csv").click()
        path = os.path.join(downloads, "alara-query.csv")
        deadline = time.time() + 60
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.2)
        check(os.path.exists(path), "the CSV was downloaded")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        check(lines[0] == "worker_id,level" and len(lines) == 6, f"CSV content: {lines}")
        d.find_element(By.ID, "run").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "table")))
        shot(d, a.shots, "sql-result")

        # A form without its CSRF token is refused (the token is removed before submitting).
        d.get(base + "/alerts")
        forms = d.find_elements(By.CSS_SELECTOR, "form[action='/alerts/ack']")
        check(forms, "an open alert remains to try")
        d.execute_script("arguments[0].querySelector('input[name=csrf]').value = 'forged'", forms[0])
        forms[0].find_element(By.CSS_SELECTOR, "button.ack").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.error")))
        check("CSRF" in d.page_source, "refused for its CSRF token")
        shot(d, a.shots, "csrf-refused")

        # Logged out: pages go back to the login form.
        d.delete_all_cookies()
        d.get(base + "/findings")
        check(d.current_url.endswith("/login"), "no session after the cookies are gone")
    finally:
        d.quit()
    print("ok")


if __name__ == "__main__":
    main()
