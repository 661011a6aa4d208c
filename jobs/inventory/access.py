"""Whether netadvisor can read a cluster: reachable, authenticated, and every permission
inventory needs granted (``netadvisor doctor``).

Each permission of :data:`~jobs.inventory.resources.PERMISSIONS` is asked of the API server
with a SelfSubjectAccessReview, which every authenticated user may create (the default
``system:basic-user`` role), so one denied grant is named without reading anything.
See: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from kubernetes.client import (
    AuthorizationV1Api,
    V1ResourceAttributes,
    V1SelfSubjectAccessReview,
    V1SelfSubjectAccessReviewSpec,
    VersionApi,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from jobs.checks import CheckResult, CheckStatus
from jobs.inventory.resources import PERMISSIONS, Permission

__all__ = ["NAMESPACE", "check_access", "review_attributes"]

NAMESPACE: Final = "kube-system"
"""Where namespaced permissions are asked: inventory reads kube-system in every cluster."""
_TIMEOUT: Final = 10.0
_FIX_RBAC: Final = (
    "apply the read-only role netadvisor needs in this cluster "
    "(kubectl apply -k deploy/overlays/watched-cluster), or grant the missing verb to the "
    "identity of this context"
)


def review_attributes(grant: Permission, verb: str) -> dict[str, str | None]:
    """The resource attributes asked for one verb of one grant (group, resource, verb,
    namespace, name)."""
    namespace = None if grant.scope == "cluster" else NAMESPACE
    name = grant.resource_names[0] if grant.resource_names else None
    return {
        "group": grant.group,
        "resource": grant.resource,
        "verb": verb,
        "namespace": namespace,
        "name": name,
    }


def _subject(attributes: dict[str, str | None]) -> str:
    group = attributes["group"] or "core"
    where = f" in {attributes['namespace']}" if attributes["namespace"] else " (cluster-wide)"
    name = f"/{attributes['name']}" if attributes["name"] else ""
    return f"{attributes['verb']} {attributes['resource']}{name} [{group}]{where}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def check_access(
    cluster: str,
    connect: Callable[[], Any],
    permissions: Sequence[Permission] = PERMISSIONS,
    *,
    timeout: float = _TIMEOUT,
) -> list[CheckResult]:
    """One result per check of ``cluster``: reachable, authenticated, then one per permission.

    ``connect`` builds the ``ApiClient`` (:attr:`jobs.inventory.kube.KubeReader.connect`). A
    cluster that cannot be reached or does not accept the credentials gets no permission lines:
    they could not be asked.
    """

    def result(subject: str, status: CheckStatus, message: str, fix: str = "") -> CheckResult:
        return CheckResult("kubernetes", f"{cluster}: {subject}", status, message, fix)

    try:
        api = connect()
    except (ConfigException, OSError, ValueError) as exc:
        return [
            result(
                "credentials",
                CheckStatus.FAIL,
                f"cannot build a client: {_short(exc)}",
                "check the context's cluster, user and exec plugin in the kubeconfig "
                "(kubectl --context NAME version)",
            )
        ]
    out: list[CheckResult] = []
    try:
        try:
            version = VersionApi(api).get_code(_request_timeout=timeout)
        except ApiException as exc:
            if exc.status in (401, 403):
                out.append(result("reachable", CheckStatus.OK, "the API server answers"))
                out.append(
                    result(
                        "authenticated",
                        CheckStatus.FAIL,
                        f"the API server refused the credentials (HTTP {exc.status})",
                        "renew the token or certificate of this context (an expired token or "
                        "a deleted ServiceAccount), then rerun doctor",
                    )
                )
                return out
            out.append(
                result(
                    "reachable",
                    CheckStatus.FAIL,
                    f"HTTP {exc.status} from /version",
                    "check the API server's health and the context's server URL",
                )
            )
            return out
        except Exception as exc:  # urllib3 and ssl errors come in many types
            out.append(
                result(
                    "reachable",
                    CheckStatus.FAIL,
                    f"cannot reach the API server: {type(exc).__name__}: {_short(exc)}",
                    "check the server URL, the network path (VPN, proxy, firewall) and the CA "
                    "of this context",
                )
            )
            return out
        out.append(result("reachable", CheckStatus.OK, f"Kubernetes {version.git_version} answers"))
        authorization = AuthorizationV1Api(api)
        authenticated = False
        for grant in permissions:
            for verb in grant.verbs:
                attributes = review_attributes(grant, verb)
                subject = _subject(attributes)
                review = V1SelfSubjectAccessReview(
                    spec=V1SelfSubjectAccessReviewSpec(
                        resource_attributes=V1ResourceAttributes(
                            group=attributes["group"],
                            resource=attributes["resource"],
                            verb=attributes["verb"],
                            namespace=attributes["namespace"],
                            name=attributes["name"],
                        )
                    )
                )
                try:
                    answer = authorization.create_self_subject_access_review(
                        review, _request_timeout=timeout
                    )
                except ApiException as exc:
                    if exc.status == 401:
                        out.append(
                            result(
                                "authenticated",
                                CheckStatus.FAIL,
                                "the API server refused the credentials (HTTP 401)",
                                "renew the token or certificate of this context",
                            )
                        )
                        return out
                    out.append(
                        result(
                            subject,
                            CheckStatus.WARN,
                            f"could not ask (SelfSubjectAccessReview: HTTP {exc.status})",
                            "allow creating selfsubjectaccessreviews (system:basic-user) to "
                            "let doctor check permissions",
                        )
                    )
                    continue
                except Exception as exc:
                    out.append(
                        result(
                            subject,
                            CheckStatus.FAIL,
                            f"no answer: {type(exc).__name__}: {_short(exc)}",
                            "rerun doctor; check the network path",
                        )
                    )
                    continue
                if not authenticated:
                    authenticated = True
                    out.append(result("authenticated", CheckStatus.OK, "credentials accepted"))
                status = answer.status
                if status is not None and status.allowed:
                    out.append(result(subject, CheckStatus.OK, "granted"))
                else:
                    reason = f" ({status.reason})" if status is not None and status.reason else ""
                    out.append(
                        result(
                            subject,
                            CheckStatus.FAIL,
                            f"denied{reason}: inventory needs it for {grant.why}",
                            _FIX_RBAC,
                        )
                    )
    finally:
        close = getattr(api, "close", None)
        if callable(close):
            close()
    return out
