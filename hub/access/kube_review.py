"""`--kube-auth`: a bearer token the hub did not issue is checked with the hub cluster's
API server, so a console proxy that forwards its user's token (OpenShift's plugin proxy
with `authorization: UserToken`) reaches the hub as that user. A TokenReview says who the
token is; SubjectAccessReviews say which role that user holds, by the rights below, the
highest first. Verdicts are kept briefly, by the token's hash, so a page's requests cost
the API server one review; the hub's own `cclm_` tokens are never sent to it.

| role     | the user may                        | as `kubectl auth can-i`               |
|----------|-------------------------------------|---------------------------------------|
| admin    | update policies.cclm.io             | `can-i update policies.cclm.io`       |
| operator | create migrations.cclm.io           | `can-i create migrations.cclm.io`     |
| viewer   | get clusters.cclm.io                | `can-i get clusters.cclm.io`          |

The hub chart's ClusterRoles cclm-admin, cclm-operator and cclm-viewer grant exactly these."""

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field

from cachetools import TTLCache
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from hub.access import tokens
from hub.errors import Forbidden, Unavailable
from hub.models.api import Role
from hub.service import Principal

log = logging.getLogger("cclm.kube-auth")
GROUP = "cclm.io"
RIGHTS = (
    (Role.ADMIN, "update", "policies"),
    (Role.OPERATOR, "create", "migrations"),
    (Role.VIEWER, "get", "clusters"),
)
"""Checked in this order; the first the user holds is its role."""
TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Reviewed:
    principal: Principal | None
    """None: the user is known but holds none of the rights (refused with 403)."""
    username: str


@dataclass(slots=True)
class KubeReviewer:
    api: client.ApiClient
    known: TTLCache[str, Reviewed] = field(default_factory=lambda: TTLCache(10_000, 30.0))
    unknown: TTLCache[str, bool] = field(default_factory=lambda: TTLCache(10_000, 10.0))
    reviews: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    """At most this many reviews in flight: a flood of bad tokens waits, the API server
    is not flooded."""

    async def principal(self, token: str) -> Principal | None:
        """The token's principal, None when the API server does not know the token; raises
        Forbidden (not Unauthorized) for a user who holds no role, since the token is good
        and only the rights are missing, and Unavailable when the API cannot answer."""
        if tokens.split(token) is not None:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        found = self.known.get(key)
        if found is None and key not in self.unknown:
            async with self.reviews:
                # A page's burst of requests with one new token waits for the first review.
                found = self.known.get(key)
                if found is None and key not in self.unknown:
                    found = await asyncio.to_thread(self._review, token, key)
                    if found is None:
                        self.unknown[key] = True
                    else:
                        self.known[key] = found
        if found is None:
            return None
        if found.principal is None:
            raise Forbidden(
                f"{found.username} holds no role on this hub: it needs one of "
                + ", ".join(
                    f"{verb} {resource}.{GROUP} ({role.value})" for role, verb, resource in RIGHTS
                ),
                details={"user": found.username},
            )
        return found.principal

    def _review(self, token: str, key: str) -> Reviewed | None:
        try:
            return self._reviewed(token, key)
        except ApiException as error:
            if error.status in (401, 403):
                # Retrying cannot help: say what the hub's administrator must fix.
                log.error(
                    "the hub may not review tokens (%s %s): bind its service account to the "
                    "ClusterRole system:auth-delegator (the hub chart's kubeAuth.enabled does)",
                    error.status,
                    error.reason,
                )
                raise Unavailable(
                    "the hub is not allowed to check tokens with its cluster's API server; "
                    "its administrator must grant it system:auth-delegator"
                ) from None
            raise self._unreachable(error) from None
        except (HTTPError, OSError) as error:
            raise self._unreachable(error) from None

    def _unreachable(self, error: Exception) -> Unavailable:
        log.warning("the hub cluster's API server could not review a token: %s", error)
        return Unavailable(
            "the hub could not check this token with its cluster's API server; retry soon"
        )

    def _reviewed(self, token: str, key: str) -> Reviewed | None:
        review = client.AuthenticationV1Api(self.api).create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)),
            _request_timeout=TIMEOUT,
        )
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user = status.user
        authorization = client.AuthorizationV1Api(self.api)
        for role, verb, resource in RIGHTS:
            access = client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user=user.username,
                    groups=user.groups,
                    uid=user.uid,
                    extra=user.extra,
                    resource_attributes=client.V1ResourceAttributes(
                        group=GROUP, resource=resource, verb=verb
                    ),
                )
            )
            answer = authorization.create_subject_access_review(access, _request_timeout=TIMEOUT)
            if answer.status is not None and answer.status.allowed:
                name = f"kube:{user.username}"
                return Reviewed(Principal(f"kube:{key[:16]}", name, role), str(user.username))
        return Reviewed(None, str(user.username))
