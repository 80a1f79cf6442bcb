"""`skiff apply -f`: create or update objects from manifests, kubectl style.

Contract:
- Every document of every file is read and checked first (YAML, kind, name, namespace,
  and, unless `--no-validate`, the API server's own validation rules); one bad document
  means nothing is written.
- Then, in document order: create the object, or update it with a three-way merge
  (`threeway.py`) written with the resourceVersion it was read at; a 409 (someone else
  wrote in between) re-reads and retries, up to `CONFLICT_RETRIES` times.
- An error answer for one object (e.g. 422 from the server) is printed and the others
  are still applied, as kubectl does; the exit code is then 1.  Losing the cluster
  stops at once.
"""

from __future__ import annotations

import copy

import typer

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.cli import threeway
from control_plane.cli.manifests import Manifest, ManifestError, load
from control_plane.cli.output import error, fail
from control_plane.cli.session import NAMESPACE_OPTION, is_object_not_found, open_session, ref
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import StatusError

CONFLICT_RETRIES = 5
FILENAME_OPTION = typer.Option([], "--filename", "-f",
                               help="A YAML/JSON file, a directory of them, or - for stdin (repeatable).")


def apply(
    ctx: typer.Context,
    filenames: list[str] = FILENAME_OPTION,
    namespace: str | None = NAMESPACE_OPTION,
    validate: bool = typer.Option(True, "--validate/--no-validate",
                                  help="Check every object against the API's rules before writing any."),
) -> None:
    """Create or update the objects in manifests (several documents per file).

    Prints one line per object: `deployment.apps/web created|configured|unchanged`.
    Exit code 0 when every object was applied, 1 otherwise.

    Example:
      skiff apply -f web.yaml
      skiff apply -f manifests/ -n staging
      cat web.yaml | skiff apply -f -
    """
    session = open_session(ctx)
    try:
        manifests = load(filenames)
        targets = [(m, m.target_namespace(namespace, session.config.namespace)) for m in manifests]
    except ManifestError as err:
        fail(err.message)
    if validate:
        for m, ns in targets:
            problem = check(m, ns)
            if problem:
                fail(f"{m.where} ({ref(m.res, m.name)}): {problem}")
    failed = 0
    with session.errors():
        for m, ns in targets:
            try:
                outcome = apply_one(session.api, m, ns)
            except StatusError as err:
                error(f"{m.where} ({ref(m.res, m.name)}): {err.message}")
                failed += 1
                continue
            print(f"{ref(m.res, m.name)} {outcome}", flush=True)
    if failed:
        raise typer.Exit(1)


def check(m: Manifest, ns: str | None) -> str | None:
    """The API server's validation of the manifest, run locally: the message, or None."""
    from control_plane.apiserver.errors import ApiError
    from control_plane.apiserver.validation import validate

    try:
        validate(m.res, _placed(m.obj, ns), ns)
    except ApiError as err:
        return err.message
    return None


def apply_one(api: ApiClient, m: Manifest, ns: str | None) -> str:
    """Create or update one object; returns `created`, `configured` or `unchanged`."""
    desired = _placed(threeway.annotated(m.obj), ns)
    item = paths.path(m.res, ns, m.name)
    for _ in range(CONFLICT_RETRIES):
        try:
            current = api.get(item)
        except StatusError as err:
            if not is_object_not_found(err, m.res, m.name):
                raise
            try:
                api.create(paths.path(m.res, ns), desired)
            except StatusError as err:
                if err.code == 409 and err.reason == "AlreadyExists":
                    continue  # created by someone else meanwhile: update it instead
                raise
            return "created"
        merged = threeway.apply(current, threeway.last_applied(current), desired)
        if merged == current:
            return "unchanged"
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            api.replace(item, merged)
        except StatusError as err:
            if err.code == 409:
                continue
            raise
        return "configured"
    raise StatusError(409, "Conflict", f"{ref(m.res, m.name)} kept changing while it was applied "
                                       f"({CONFLICT_RETRIES} attempts); try again")


def _placed(obj: Obj, ns: str | None) -> Obj:
    out = copy.deepcopy(obj)
    if ns:
        out.setdefault("metadata", {})["namespace"] = ns
    return out
