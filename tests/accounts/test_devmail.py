"""The development SMTP sink and the DEBUG-only /dev/mail page."""

import smtplib
import subprocess
import sys
from email.message import EmailMessage

from devtools.devmail import MailSink
from devtools.embedded import free_port
from railsaas.platform.captured_mail import links_in
from tests.support import wait_until


def _send(port, to="dev@example.com", body="Open http://localhost:5000/verify/abc?x=1&y=2 now"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "app@example.com", to, "Hello"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(msg)


def test_sink_writes_each_message_as_an_eml_file(tmp_path):
    sink = MailSink(tmp_path).start()
    try:
        _send(sink.port)
        message = sink.wait_for(to="dev@example.com", timeout=5)
    finally:
        sink.stop()
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert links_in(message) == ["http://localhost:5000/verify/abc?x=1&y=2"]


def test_devmail_runs_as_a_command(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.devmail", "--port", str(port), "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "SMTP on" in proc.stdout.readline()
        _send(port)
        wait_until(
            lambda: list(tmp_path.glob("*.eml")),
            timeout=5,
            interval=0.05,
            message="the mail in the sink's directory",
        )
        assert len(list(tmp_path.glob("*.eml"))) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_dev_mail_page_is_404_unless_debug(client):
    assert client.get("/dev/mail").status_code == 404


def test_dev_mail_page_lists_captured_mail_with_clickable_links(app, client, mail_sink):
    _send(mail_sink.port, body="Click http://localhost:5000/verify/tok<script> please")
    mail_sink.wait_for(to="dev@example.com", timeout=5)
    app.config.update(DEBUG=True, MAIL_CAPTURE_DIR=str(mail_sink.directory))
    try:
        html = client.get("/dev/mail").get_data(as_text=True)
    finally:
        app.config.update(DEBUG=False, MAIL_CAPTURE_DIR="")
    assert 'data-testid="dev-mail"' in html
    assert "dev@example.com" in html
    assert '<a href="http://localhost:5000/verify/tok">' in html
    assert "&lt;script&gt;" in html  # the rest of the text stays text
