"""A private Dovecot IMAP server for the e-mail tests (Debian's `dovecot-imapd`).

`Dovecot.start(folder)` writes a dovecot.conf (127.0.0.1 on a free port, no SSL, users
from a passwd-file, maildirs of its own) and runs `dovecot -F -c CONF`; `new_user()`
adds a user (Dovecot re-reads the passwd-file), `deliver()` APPENDs a letter over IMAP.
Run as root, Dovecot's mail processes may not be root: the maildirs then belong to
`nobody` in a folder of their own. No Dovecot: a failure in CI, a skip elsewhere.

Dovecot slows down failed logins per client address, more with each one (up to 15 s):
a test that needs a refused login starts a Dovecot of its own (`lonely_dovecot`).
"""

from __future__ import annotations

import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.kit_server import free_port

BINARY = shutil.which("dovecot") or "/usr/sbin/dovecot"
_users = itertools.count(0)
# Written once at the start (a passwd-file changed within the same second may be missed).
ACCOUNTS = [(f"user{n}@example.org", f"app-password-{n}") for n in range(400)]


def dovecot_or_skip() -> str:
    if os.path.exists(BINARY):
        return BINARY
    message = "Dovecot is not installed (apt-get install dovecot-imapd)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


CONF = """\
base_dir = {run}
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:{mail}/%n/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
  default_fields = uid={uid} gid={gid} home={mail}/%n
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    base: Path
    mail: Path
    port: int
    process: subprocess.Popen[bytes]
    run: Path
    users: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"

    @classmethod
    def start(cls, base: Path) -> Dovecot:
        binary = dovecot_or_skip()
        base.mkdir(parents=True, exist_ok=True)
        run = Path(tempfile.mkdtemp(prefix="dv-"))  # short: unix socket paths are limited
        me = pwd.getpwuid(os.getuid())
        if os.getuid() == 0:
            runner = pwd.getpwnam("nobody")
            mail = Path(tempfile.mkdtemp(prefix="trubka-mail-"))
            os.chown(mail, runner.pw_uid, runner.pw_gid)
            internal, internal_group = "root", "root"
        else:
            runner = me
            mail = base / "mail"
            mail.mkdir()
            internal, internal_group = me.pw_name, _group(me.pw_gid)
        port = free_port()
        (base / "passwd").write_text(
            "".join(f"{login}:{{PLAIN}}{password}::::::\n" for login, password in ACCOUNTS)
        )
        conf = base / "dovecot.conf"
        conf.write_text(
            CONF.format(
                base=base,
                run=run,
                mail=mail,
                port=port,
                internal=internal,
                internal_group=internal_group,
                login_user=runner.pw_name,
                uid=runner.pw_uid,
                gid=runner.pw_gid,
            )
        )
        process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        server = cls(base, mail, port, process, run)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"dovecot exited: {output} {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer: {self.log()}")

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        if not self.mail.is_relative_to(self.base):
            shutil.rmtree(self.mail, ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)

    def new_user(self) -> tuple[str, str]:
        """A mail user no test has used yet (login, password)."""
        login, password = ACCOUNTS[next(_users)]
        self.users.append(login)
        return login, password

    def imap(self, login: str, password: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(login, password)
        except imaplib.IMAP4.error:
            client.shutdown()
            raise
        return client

    def deliver(self, login: str, password: str, raw: bytes, folder: str = "INBOX") -> None:
        client = self.imap(login, password)
        try:
            status, answer = client.append(f'"{folder}"', None, None, raw)
            assert status == "OK", answer
        finally:
            client.logout()

    def recreate(self, login: str, password: str, folder: str) -> None:
        """Delete and create `folder` again: a new UIDVALIDITY, UIDs from 1."""
        client = self.imap(login, password)
        try:
            client.delete(f'"{folder}"')
            status, answer = client.create(f'"{folder}"')
            assert status == "OK", answer
        finally:
            client.logout()

    def create(self, login: str, password: str, folder: str) -> None:
        client = self.imap(login, password)
        try:
            status, answer = client.create(f'"{folder}"')
            assert status == "OK", answer
        finally:
            client.logout()

    def uidvalidity(self, login: str, password: str, folder: str) -> int:
        client = self.imap(login, password)
        try:
            client.select(f'"{folder}"', readonly=True)
            value = client.response("UIDVALIDITY")[1][0]
            assert value is not None
            return int(value)
        finally:
            client.logout()

    def letters(self, login: str, password: str, folder: str) -> list[bytes]:
        """Every letter of `folder`, in UID order."""
        client = self.imap(login, password)
        try:
            client.select(f'"{folder}"', readonly=True)
            _, data = client.uid("search", None, "ALL")
            found = []
            for uid in (data[0] or b"").split():
                _, parts = client.uid("fetch", uid, "(BODY.PEEK[])")
                found.extend(p[1] for p in parts if isinstance(p, tuple))
            return found
        finally:
            client.logout()


def _group(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name
