"""What every kubectl-like command needs: the config, an API client, the namespace to
use, and the translation of client errors into one line (never a traceback).

Contract: `open_session` exits with a one-line error when the config is unusable;
inside `session.errors()` every `ApiClientError` becomes `error: <one line>` on stderr
and exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from control_plane.api import paths
from control_plane.api.resources import Resource
from control_plane.cli.context import api_config
from control_plane.cli.output import fail
from control_plane.client import errors
from control_plane.client.apiclient import ApiClient
from control_plane.client.config import ClientConfig
from control_plane.client.errors import ApiClientError, StatusError, Unreachable

NAMESPACE_OPTION = typer.Option(None, "--namespace", "-n",
                                help="Namespace (default: the config's namespace, usually `default`).")


@dataclass
class Session:
    config: ClientConfig
    api: ApiClient

    def namespace(self, explicit: str | None) -> str:
        """`-n` if given, else the config's default namespace."""
        return explicit or self.config.namespace

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn client errors into `error: ...` and exit code 1."""
        try:
            yield
        except ApiClientError as err:
            fail(self.explain(err))

    def explain(self, err: ApiClientError) -> str:
        """One readable line for a client error."""
        if isinstance(err, Unreachable):
            tried = ", ".join(self.config.servers)
            return f"cannot reach the cluster (tried {tried}): {err.message}; see `skiff cluster status`"
        return err.message


def open_session(ctx: typer.Context, timeout: float = 30.0) -> Session:
    """A session from the root `--config` (exits with one line if the config is bad)."""
    config = api_config(ctx)
    return Session(config, config.client(timeout=timeout, user_agent="skiff-cli"))


def lookup(type_name: str) -> Resource:
    """The resource for `pods`, `po`, `pod`, `deployment`...; exits for an unknown type."""
    try:
        return paths.resource(type_name)
    except KeyError as err:
        fail(str(err.args[0]))


def split_type_name(type_arg: str, name: str | None) -> tuple[Resource, str | None]:
    """Accept both `get pod web` and `get pod/web`."""
    if "/" in type_arg and name is None:
        type_arg, name = type_arg.split("/", 1)
    return lookup(type_arg), name or None


def qualified(res: Resource) -> str:
    """`deployments.apps`, `pods`: the resource as kubectl names it in messages."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


def ref(res: Resource, name: str) -> str:
    """`deployment.apps/web`, `pod/web`: how kubectl names one object in its output."""
    kind = res.kind.lower()
    return f"{kind}.{res.group}/{name}" if res.group else f"{kind}/{name}"


def quoted(res: Resource, name: str) -> str:
    """`deployment.apps "web"`: how kubectl names an object it deleted."""
    kind = res.kind.lower()
    return f'{kind}.{res.group} "{name}"' if res.group else f'{kind} "{name}"'


def not_found(res: Resource, name: str, ns: str | None) -> str:
    where = f" in namespace {ns}" if res.namespaced and ns else ""
    return f'{qualified(res)} "{name}" not found{where}'


def is_object_not_found(err: ApiClientError, res: Resource, name: str) -> bool:
    """True when `err` says that this very object does not exist (not, say, its namespace)."""
    if not errors.is_not_found(err) or not isinstance(err, StatusError):
        return False
    details = err.status.get("details") or {}
    return details.get("kind") == res.plural and details.get("name") == name


def explain_object_error(session: Session, err: ApiClientError, res: Resource, name: str,
                         ns: str | None) -> str:
    """Like `Session.explain`, with kubectl's wording for a missing object."""
    if is_object_not_found(err, res, name):
        return not_found(res, name, ns)
    return session.explain(err)
