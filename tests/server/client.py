"""Minimal HTTP / Server-Sent Events client for the amusd server tests (Python standard library only)."""

import http.client
import json
import socket
import time


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=120):
        self.host, self.port, self.timeout = host, port, timeout

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = self.connect()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path):
        status, _, data = self.request("GET", path)
        return status, json.loads(data)

    def post(self, path, body):
        """POST a JSON body (dict, or raw str/bytes); returns (status, parsed JSON)."""
        status, _, data = self.request("POST", path, body)
        return status, json.loads(data)

    def stream(self, path, body, on_event=None):
        """POST with stream: true; returns (status, content-type, list of parsed events, saw_done).

        on_event(index, event) may return False to stop reading (the connection is then closed at once)."""
        conn = self.connect()
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            ctype = resp.getheader("Content-Type", "")
            if resp.status != 200:
                return resp.status, ctype, [json.loads(resp.read())], False
            events, done = [], False
            for data in sse_data(resp):
                if data == "[DONE]":
                    done = True
                    break
                events.append(json.loads(data))
                if on_event and on_event(len(events) - 1, events[-1]) is False:
                    break
            return resp.status, ctype, events, done
        finally:
            conn.close()

    def health(self):
        try:
            return self.get_json("/health")[1]
        except (OSError, ValueError):
            return None

    def metrics(self):
        """Prometheus samples as {'name{labels}': value}."""
        _, _, data = self.request("GET", "/metrics")
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def wait_idle(self, timeout):
        """Waits until nothing runs or waits; returns the seconds it took, or None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h = self.health()
            if h and h["running"] == 0 and h["queued"] == 0:
                return time.monotonic() - t0
            time.sleep(0.005)
        return None

    def raw(self, data, read=True):
        """Sends raw bytes on a new socket; returns the first line of the answer (or b'' when read is False)."""
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
            s.sendall(data)
            if not read:
                return b""
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            return buf.split(b"\r\n", 1)[0]


def sse_data(resp):
    """Yields the data of each Server-Sent Event of an http.client response (comments and other fields skipped)."""
    data_lines = []
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data_lines:
                yield "\n".join(data_lines)
                data_lines = []
        elif line.startswith("data:"):
            value = line[5:]
            data_lines.append(value[1:] if value.startswith(" ") else value)


def streamed_text(events, chat):
    """Concatenated text of streamed chunks."""
    out = ""
    for e in events:
        for c in e.get("choices", []):
            out += (c.get("delta", {}).get("content") or "") if chat else c.get("text", "")
    return out
