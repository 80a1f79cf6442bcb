"""One SSH connection to a host (paramiko): run commands, upload files.

Contracts: host keys are checked against the known-hosts files given (and the user's
own); an unknown or changed host key is refused unless `accept_new` (then a new key is
added to the first known-hosts file, like OpenSSH's `StrictHostKeyChecking accept-new`).
Every command has a deadline; a dead host fails with `RemoteError`, never hangs.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import paramiko

from control_plane.provision.errors import RemoteError


class Remote:
    def __init__(
        self,
        host: str,
        key_file: Path,
        user: str = "root",
        port: int = 22,
        known_hosts: list[Path] | None = None,
        accept_new: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.user, self.timeout = host, user, timeout
        self.client = paramiko.SSHClient()
        files = [p.expanduser() for p in (known_hosts or [])]
        default = Path("~/.ssh/known_hosts").expanduser()
        if default.exists():
            self.client.load_system_host_keys(str(default))
        for f in files:
            if f.exists():
                self.client.load_host_keys(str(f))
        policy = paramiko.AutoAddPolicy() if accept_new else paramiko.RejectPolicy()
        self.client.set_missing_host_key_policy(policy)
        try:
            self.client.connect(
                host,
                port=port,
                username=user,
                key_filename=str(key_file.expanduser()),
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException:
            raise RemoteError(
                f"{host}: its host key changed (not the one in known_hosts); refusing"
            ) from None
        except paramiko.SSHException as err:
            if "not found in known_hosts" in str(err):
                raise RemoteError(
                    f"{host}: unknown host key; add it to known_hosts or pass --accept-new-host-key"
                ) from None
            raise RemoteError(f"{host}: {err}") from None
        except (TimeoutError, OSError) as err:
            raise RemoteError(f"{host}: cannot connect on port {port}: {err}") from None
        if accept_new and files:
            files[0].parent.mkdir(parents=True, exist_ok=True)
            self.client.save_host_keys(str(files[0]))  # remember a newly accepted key
        transport = self.client.get_transport()
        if transport is not None:
            transport.set_keepalive(5)  # a partitioned host fails the next read, not never

    def run(
        self, command: str | list[str], timeout: float = 120.0, check: bool = True
    ) -> tuple[int, str, str]:
        """Run a command; returns (exit code, stdout, stderr); raises RemoteError if `check`
        and it fails, or at the deadline."""
        text = command if isinstance(command, str) else shlex.join(command)
        try:
            _, out, err = self.client.exec_command(text, timeout=timeout)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
            code = out.channel.recv_exit_status()
        except (TimeoutError, paramiko.SSHException, OSError) as exc:
            raise RemoteError(f"{self.host}: `{text}` failed: {exc or 'timed out'}") from None
        if check and code != 0:
            detail = (stderr.strip() or stdout.strip()).splitlines()[-1:] or [""]
            raise RemoteError(f"{self.host}: `{text}` exited with {code}: {detail[0]}")
        return code, stdout, stderr

    def put(self, local: Path, remote: str, mode: int = 0o644) -> None:
        def copy(sftp: paramiko.SFTPClient) -> None:
            sftp.put(str(local), remote)
            sftp.chmod(remote, mode)

        self._sftp(copy)

    def put_text(self, text: str, remote: str, mode: int = 0o600) -> None:
        def write(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(remote, "w") as f:
                f.chmod(mode)  # before the content: secrets are never readable by others
                f.write(text)

        self._sftp(write)

    def _sftp(self, action: Callable[[paramiko.SFTPClient], object]) -> None:
        try:
            sftp = self.client.open_sftp()
            try:
                channel = sftp.get_channel()
                if channel is not None:
                    channel.settimeout(self.timeout * 4)
                action(sftp)
            finally:
                sftp.close()
        except (paramiko.SSHException, OSError) as err:
            raise RemoteError(f"{self.host}: copying a file failed: {err}") from None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
