"""Drive Roundcube in a real browser: runs INSIDE a browser test host (tests/harness/testhost/browser_layer.py).

    python3 /root/webmail_browser_driver.py < job.json

Debian's chromium, headless, driven by Debian's python3-selenium through Debian's chromedriver (given by path:
Selenium Manager is never asked, REFERENCE-stack §9). The job (JSON on stdin) names the webmail's host, a user
and its password, what to read and what to send. The stages, as a user clicks through them: a wrong password
shows the error; the login shows the inbox with the message that arrived over SMTP; opening it shows its UTF-8
body; a message is written and sent; the identity's address cannot be changed nor an identity added; the
out-of-office reply is switched on and saved; the password is changed; then a CSP violation on purpose (the
control); last (with `ban_after` in the job), wrong passwords until fail2ban bans the browser's address. A PNG
screenshot of each stage goes to /root/webmail-shots/; the browser's console (CSP violations show there) is
collected; the last stdout line is a JSON summary; the exit status is 0 only if every stage was
seen.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

SHOTS = Path("/root/webmail-shots")
BAN_LOAD_TIMEOUT = 5  # s: the login page loads in well under one here; a banned browser gets no answer
# Nothing but the page: no component updates, sync, first-run pages or background requests of Chromium's own.
QUIET = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--lang=en-US")


def browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in QUIET:
        options.add_argument(arg)
    options.accept_insecure_certs = True  # the self-signed certificate: the user accepts it once
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


class Driver:
    def __init__(self, d: WebDriver, job: dict[str, Any]) -> None:
        self.d, self.job = d, job
        self.base = f"https://{job['hostname']}"
        self.seen: dict[str, Any] = {"stages": [], "console": []}
        self.began = time.monotonic()

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f} s] {text}", flush=True)

    def console(self) -> None:
        for entry in self.d.get_log("browser"):
            self.seen["console"].append(f"{entry.get('level')} {entry.get('message')}")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.d.save_screenshot(str(SHOTS / f"{len(self.seen['stages']):02d}-{name}.png"))
        self.console()
        self.seen["stages"].append(name)
        self.log(f"stage {name}")

    def wait(self, what: str, condition: Any, timeout: float = 30) -> Any:
        try:
            return WebDriverWait(self.d, timeout).until(condition)
        except TimeoutException:
            self.shot(f"timeout-{what.replace(' ', '-')}")
            raise AssertionError(f"timed out waiting for {what} at {self.d.current_url}:\n"
                                 + self.d.find_element(By.TAG_NAME, "body").text[:3000]) from None

    def go(self, path: str) -> None:
        # Chromium drops a load when it sees the host's network change (a fresh test host's addresses settling):
        # its error page says ERR_NETWORK_CHANGED, and a user would press Reload. Seen once in 6 walks.
        for _ in range(5):
            self.d.get(self.base + path)
            if "ERR_NETWORK_CHANGED" not in self.d.page_source:
                return
            self.log("ERR_NETWORK_CHANGED: loading again")
            time.sleep(1)

    def text_of(self, selector: str) -> str:
        return str(self.d.find_element(By.CSS_SELECTOR, selector).text)

    # ------------------------------------------------------------ stages

    def login(self, password: str) -> None:
        self.go("/")
        user = self.wait("the login form", ec.element_to_be_clickable((By.ID, "rcmloginuser")))
        user.clear()
        user.send_keys(self.job["user"])
        box = self.d.find_element(By.ID, "rcmloginpwd")
        box.clear()
        box.send_keys(password)
        self.d.find_element(By.ID, "rcmloginsubmit").click()

    def wrong_password(self) -> None:
        self.go("/")
        self.wait("the login form", ec.element_to_be_clickable((By.ID, "rcmloginuser")))
        self.shot("login")
        self.login(self.job["password"] + "-wrong")
        self.wait("the login error", ec.text_to_be_present_in_element((By.ID, "messagestack"), "Login failed"))
        self.seen["wrong_password"] = self.text_of("#messagestack")
        self.shot("login-failed")

    def inbox(self) -> None:
        self.login(self.job["password"])
        subject = self.job["inbox_subject"]
        self.wait("the message in the inbox", ec.text_to_be_present_in_element((By.ID, "messagelist"), subject))
        self.shot("inbox")
        row = next(r for r in self.d.find_elements(By.CSS_SELECTOR, "#messagelist tbody tr") if subject in r.text)
        ActionChains(self.d).double_click(row).perform()  # opens the message on its own page
        self.wait("the message page", lambda d: "_action=show" in d.current_url)
        body = self.wait("the message body", ec.visibility_of_element_located((By.ID, "messagebody")))
        self.seen["read_subject"] = self.text_of("h2.subject") if self.d.find_elements(By.CSS_SELECTOR,
                                                                                         "h2.subject") else ""
        self.seen["read_body"] = body.text
        self.shot("message")

    def send(self) -> None:
        self.go("/?_task=mail&_action=compose")
        to = self.wait("the compose form", ec.element_to_be_clickable(
            (By.CSS_SELECTOR, "#compose_to .recipient-input input, .recipient-input input")))
        to.send_keys(self.job["to"] + ", ")
        self.d.find_element(By.ID, "compose-subject").send_keys(self.job["sent_subject"])
        self.d.find_element(By.ID, "composebody").send_keys(self.job["sent_body"])
        self.shot("compose")
        self.d.find_element(By.CSS_SELECTOR, "button.send, a.send").click()
        # Sent: Roundcube leaves the compose screen for the mailbox and says so.
        self.wait("the message to be sent", lambda d: "_action=compose" not in d.current_url, timeout=60)
        self.seen["after_send"] = self.d.current_url
        self.shot("sent")

    def identities(self) -> None:
        # identities_level 3: one identity, its address the login's; adding one is refused by Roundcube itself.
        self.go("/?_task=settings&_action=add-identity&_framed=1")
        self.wait("the refusal", ec.presence_of_element_located((By.TAG_NAME, "body")))
        time.sleep(1)
        self.seen["add_identity_page"] = self.d.page_source[-20000:]
        self.go("/?_task=settings&_action=identities")
        self.wait("the identities list", ec.presence_of_element_located((By.ID, "identities-table")))
        rows = self.d.find_elements(By.CSS_SELECTOR, "#identities-table tbody tr")
        self.seen["identities"] = [r.text for r in rows]
        iid = str(rows[0].get_attribute("id")).removeprefix("rcmrow")
        self.go(f"/?_task=settings&_action=edit-identity&_iid={iid}&_framed=1")
        email = self.wait("the identity form", ec.presence_of_element_located((By.NAME, "_email")))
        self.seen["identity_email_editable"] = bool(email.is_enabled() and not email.get_attribute("readonly")
                                                    and not email.get_attribute("disabled"))
        self.shot("identity")

    def vacation(self) -> None:
        self.go("/?_task=settings&_action=plugin.managesieve-vacation")
        subject = self.wait("the out-of-office form", ec.element_to_be_clickable((By.ID, "vacation_subject")))
        subject.clear()
        subject.send_keys(self.job["vacation_subject"])
        reason = self.d.find_element(By.ID, "vacation_reason")
        reason.clear()
        reason.send_keys(self.job["vacation_body"])
        Select(self.d.find_element(By.ID, "vacation_status")).select_by_value("on")
        interval = self.d.find_element(By.ID, "vacation_interval")
        interval.clear()
        interval.send_keys("1")
        self.shot("vacation")
        self.d.find_element(By.CSS_SELECTOR, ".formbuttons .submit").click()
        self.wait("the save", ec.text_to_be_present_in_element((By.ID, "messagestack"), "saved successfully"))
        self.seen["vacation_saved"] = self.text_of("#messagestack")
        self.shot("vacation-saved")


    def password(self) -> None:
        self.go("/?_task=settings&_action=plugin.password")
        current = self.wait("the password form", ec.element_to_be_clickable((By.ID, "curpasswd")))
        current.send_keys(self.job["password"])
        self.d.find_element(By.ID, "newpasswd").send_keys(self.job["new_password"])
        self.d.find_element(By.ID, "confpasswd").send_keys(self.job["new_password"])
        self.shot("password")
        self.d.find_element(By.CSS_SELECTOR, ".formbuttons .submit").click()
        self.wait("the password save", ec.text_to_be_present_in_element((By.ID, "messagestack"), "Successfully saved"))
        self.seen["password_saved"] = self.text_of("#messagestack")
        self.shot("password-saved")

    def csp_control(self) -> None:
        """The positive control of "no CSP violation": a worker from a blob: URL, which the policy does not allow
        (script-src has no blob:), must show in the console the way a violation by Roundcube would."""
        self.console()
        self.d.execute_script("try { new Worker(URL.createObjectURL(new Blob(['1'], {type: 'text/javascript'}))); }"
                              " catch (e) { console.error('worker: ' + e); }")
        time.sleep(1)
        self.seen["control_console"] = [f"{e.get('level')} {e.get('message')}" for e in self.d.get_log("browser")]

    def refused(self) -> str:
        """"" while the login page loads; else what the browser met instead (its error page, or no answer)."""
        try:
            self.d.get(self.base + "/")
        except TimeoutException:
            return f"no answer within {BAN_LOAD_TIMEOUT} s"
        if self.d.find_elements(By.ID, "rcmloginuser"):
            return ""
        return self.d.current_url + " " + self.d.find_element(By.TAG_NAME, "body").text[:200]

    def banned(self) -> None:
        """Wrong passwords typed into the login form until the site stops answering this browser (fail2ban's
        roundcube-auth jail bans its address on 80 and 443): what the browser then shows."""
        self.d.delete_all_cookies()
        self.d.set_page_load_timeout(BAN_LOAD_TIMEOUT)
        deadline = time.monotonic() + 60
        attempts = 0
        while not (refusal := self.refused()):
            assert time.monotonic() < deadline, f"not banned after {attempts} failed logins"
            if attempts < self.job["ban_after"] + 1:  # the jail's max_retry, and one more; then wait for the ban
                attempts += 1
                # Banned meanwhile (the page does not load, or the form never shows): the next look says so.
                with contextlib.suppress(TimeoutException, AssertionError):
                    self.login(f"{self.job['password']}-wrong-{attempts}")
                    WebDriverWait(self.d, 8).until(ec.text_to_be_present_in_element((By.ID, "messagestack"),
                                                                                    "Login failed"))
            else:
                time.sleep(1)
        self.seen["banned"] = {"attempts": attempts, "browser_shows": refusal}
        self.log(f"banned after {attempts} failed logins: {refusal[:120]}")


def main() -> int:
    job = json.loads(sys.stdin.read())
    d = browser()
    driver = Driver(d, job)
    try:
        driver.wrong_password()
        driver.inbox()
        driver.send()
        driver.identities()
        driver.vacation()
        if job.get("new_password"):  # (the README's screenshots keep the password)
            driver.password()
        driver.csp_control()
        if job.get("ban_after"):  # the last stage: the site no longer answers this browser afterwards
            driver.banned()
        driver.seen["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the summary, with the screen
        driver.seen["ok"] = False
        driver.seen["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        with contextlib.suppress(Exception):
            driver.console()
    finally:
        d.quit()
    print(json.dumps(driver.seen))
    return 0 if driver.seen.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
