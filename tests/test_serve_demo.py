"""`surveyd serve --demo` as a newcomer runs it: a real process, real port, embedded dispatcher."""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from tests.conftest import free_port


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_serve_demo_migrates_seeds_dispatches_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    env.update(SURVEYD_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", SURVEYD_SECRET_KEY="demo-test-secret-0123")
    process = subprocess.Popen([sys.executable, "-m", "surveyd.cli", "serve", "--demo", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline:
            try:
                status, page = _get(base + "/sandbox")
                if status == 200 and page.count('data-channel="') >= 5:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert page.count('data-channel="') >= 5, "the embedded dispatcher did not deliver the demo invitations"
        agents = ""
        while time.monotonic() < deadline:
            agents = _get(base + "/sandbox?view=agents")[1]
            if agents.count('data-audience="agent"') >= 8:
                break
            time.sleep(0.3)
        # An email and a Telegram message for each of the three alerts, and again when one escalated; Claim under
        # the open alert's message and both of the escalated one's, not under the claimed one's.
        assert agents.count('data-audience="agent"') == 8, "the relay did not tell agents of the demo alerts"
        assert agents.count('aria-label="Claim alert #') == 3 and "linked to <strong>agent@demo.test</strong>" in agents
        assert _get(base + "/readyz")[0] == 200
        links = re.findall(r'href="(http://localhost:%d/s/[^"]+)"' % port, page)
        assert links, "sandbox messages carry survey links on the public URL"
        status, survey_page = _get(links[0].replace("localhost", "127.0.0.1"))
        assert status == 200 and 'name="score"' in survey_page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            # SIGABRT: serve's faulthandler writes every thread's stack, then the process ends and the pipe closes.
            process.send_signal(signal.SIGABRT)
            try:
                stuck, _ = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                stuck, _ = process.communicate()
            raise AssertionError(f"serve did not stop within 20 s of SIGINT; its output:\n{stuck[-30000:]}") from None
    assert "demo: API key for trying the API: sk_" in output
    assert sorted(re.findall(r"demo: staff user (\S+) \((\w+)\), password: \S{16}", output)) == [
        ("admin@demo.test", "admin"), ("agent@demo.test", "agent"), ("designer@demo.test", "designer")]
    assert re.search(r"INFO surveyd.request: GET /sandbox 200 [\d.]+ms", output)
    assert "/s/…" in output and not re.search(r"/s/[A-Za-z0-9_-]{10,}", output.split("Serving on")[-1])
