"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory, a Unix socket
in that directory (no TCP port), stopped and removed afterwards.

Debian keeps initdb and pg_ctl in /usr/lib/postgresql/VERSION/bin, off PATH; the server refuses
to run as root, so as root the cluster runs as the 'postgres' user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PASSWORD_USER, PASSWORD = "pw_user", "s3cret-Pa55"


def find_bindir() -> Path | None:
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("pg_config"):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    for c in candidates:
        if c and (Path(c) / "initdb").exists():
            return Path(c)
    return None


class Cluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="loader-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.dir, postgres.pw_uid, postgres.pw_gid)
            self.as_user = ["setpriv", f"--reuid={postgres.pw_uid}", f"--regid={postgres.pw_gid}",
                            "--init-groups"]

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, cwd=self.dir)

    def start(self) -> "Cluster":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "loader", "--auth=trust",
                  "-E", "UTF8", "--no-locale")
        with open(self.data / "pg_hba.conf", "w") as hba:
            # one user needs a password: the tests check it never shows up in output
            hba.write(f"local all {PASSWORD_USER} scram-sha-256\nlocal all all trust\n")
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.dir / "server.log"), "-w", "start")
        self.execute("postgres", f"create user {PASSWORD_USER} password '{PASSWORD}' createdb")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str, user: str = "loader", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@/{database}?host={self.dir}"

    def execute(self, database: str, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)
