#!/usr/bin/env python3
"""The web pages fault 5 (tests/faults/05-mail-sms-down.sh) drives, as a browser would, timing every request.

    web_flows.py enroll BASE_URL CLIENT_IP ACCOUNT PASSWORD
        GET /enroll, POST /enroll/login, POST /enroll/device/start (reads the initial key), POST
        /enroll/device/confirm with the TOTP code of that key: a device is bound, and motpd sends the owner its
        notice by mail and SMS in the background.
    web_flows.py reset-sms BASE_URL CLIENT_IP ACCOUNT PHONE
        GET /account/reset, POST /account/reset (the account), GET the methods page, POST /account/reset/sms
        (the number): motpd sends a code by SMS in the background.

CLIENT_IP goes in X-Forwarded-For (motpd must trust 127.0.0.1 as a proxy), so that each flow counts as its own
visitor for the per-address limits. Prints one JSON object: {"ok": bool, "requests": [[name, seconds,
status], ...], "max_seconds": float}. Exit status 0 when the flow reached its end page, 1 otherwise.
"""

import base64
import hashlib
import hmac
import html
import http.cookiejar
import json
import re
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 20


class Browser:
    def __init__(self, base, client_ip):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.addheaders = [("X-Forwarded-For", client_ip), ("Accept-Language", "en")]
        self.requests = []

    def go(self, name, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        started = time.monotonic()
        try:
            with self.opener.open(self.base + path, data=data, timeout=TIMEOUT) as response:
                status, body = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode("utf-8", "replace")
        except OSError as error:
            status, body = 0, str(error)
        self.requests.append([name, round(time.monotonic() - started, 3), status])
        return status, body


def field(body, name):
    match = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), body)
    return html.unescape(match.group(1)) if match else ""


def totp(key_base32, now=None):
    key = base64.b32decode(key_base32.replace(" ", "").upper() + "=" * (-len(key_base32.replace(" ", "")) % 8))
    counter = int((now or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def enroll(browser, account, password):
    _, body = browser.go("GET /enroll", "/enroll")
    _, body = browser.go("POST /enroll/login", "/enroll/login",
                         {"csrf": field(body, "csrf"), "account": account, "password": password})
    if 'id="unbound"' not in body:
        return False
    _, body = browser.go("POST /enroll/device/start", "/enroll/device/start",
                         {"csrf": field(body, "csrf"), "label": "fault test"})
    key = re.search(r'id="initial-key">([^<]*)<', body)
    if not key:
        return False
    _, body = browser.go("POST /enroll/device/confirm", "/enroll/device/confirm",
                         {"csrf": field(body, "csrf"), "device": field(body, "device"),
                          "code": totp(html.unescape(key.group(1)))})
    return 'id="bound"' in body


def reset_sms(browser, account, phone):
    _, body = browser.go("GET /account/reset", "/account/reset")
    status, body = browser.go("POST /account/reset", "/account/reset",
                              {"csrf": field(body, "csrf"), "account": account})
    if status != 200:
        return False
    status, body = browser.go("POST /account/reset/sms", "/account/reset/sms",
                              {"csrf": field(body, "csrf"), "phone": phone})
    return status == 200 and 'id="sms-code"' in body


def main():
    flow, base, client_ip, account, secret = sys.argv[1:6]
    browser = Browser(base, client_ip)
    done = enroll(browser, account, secret) if flow == "enroll" else reset_sms(browser, account, secret)
    print(json.dumps({"ok": done, "requests": browser.requests,
                      "max_seconds": max((r[1] for r in browser.requests), default=0.0)}))
    sys.exit(0 if done else 1)


if __name__ == "__main__":
    main()
