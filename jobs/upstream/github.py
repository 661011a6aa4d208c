"""The GitHub REST API adapter: the only module that imports ``httpx``.

:class:`GitHubSource` answers the questions of :class:`~jobs.upstream.port.UpstreamSource`
with an ``httpx.Client`` built elsewhere (:func:`build_client`, called by the composition root;
tests hand it a client pointed at a server on 127.0.0.1).

What it does for every request:

- **Conditional requests.** The last answer of every URL is kept in an
  :class:`~jobs.upstream.port.AnswerCache` with its ``ETag`` and ``Last-Modified``; the next
  request sends ``If-None-Match`` / ``If-Modified-Since`` and a 304 reuses the stored body. With
  a token, GitHub does not count a 304 against the rate limit.
  See: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
- **Freshness within a pass.** An answer confirmed at or after ``fresh_since`` is used without a
  request: a run that resumes an interrupted pass does not pay again for what it already read.
  A comparison of two commits never changes, so it is asked once.
- **A budget** of requests per run (for runs without a token: 60 requests an hour).
- **Rate limits.** ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` per resource (``core``,
  ``search``), ``Retry-After`` and secondary limits (403/429): wait when the wait is within
  ``max_wait``, else raise :class:`~jobs.upstream.errors.RateLimited` so the run stops cleanly.
  See: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
- **Failures** of one URL (404, 410, 5xx after retries, timeouts) raise
  :class:`~jobs.upstream.errors.ReferenceFailed`; the caller goes on with other references.

The token lives only in the client's headers: it is never logged, never part of a message.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NotRequired, TypedDict, cast

import httpx

from jobs import metrics
from jobs.checks import CheckResult, CheckStatus
from jobs.upstream.errors import (
    BudgetExhausted,
    NotCached,
    RateLimited,
    UpstreamBadAnswer,
    UpstreamDown,
    UpstreamForbidden,
    UpstreamNotFound,
    UpstreamServerError,
    UpstreamUnreachable,
)
from jobs.upstream.models import IssueInfo, Mention, PullInfo, RepoName, Tag
from jobs.upstream.port import AnswerCache, StoredAnswer

__all__ = [
    "DEFAULT_API_URL",
    "GitHubSource",
    "RequestStats",
    "build_client",
    "check_access",
]

_log = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://api.github.com"

#: The REST API version this adapter reads (sent as ``X-GitHub-Api-Version``).
API_VERSION: Final = "2022-11-28"

#: An issue's closing PR is merged within this much of the issue's ``closed`` event.
_CLOSE_WINDOW: Final = timedelta(minutes=2)

_SECONDARY_DEFAULT_WAIT: Final = 60.0
"""GitHub: without ``Retry-After`` or a reset time, wait at least one minute."""


def build_client(
    base_url: str = DEFAULT_API_URL,
    token: str | None = None,
    *,
    timeout: float = 20.0,
    user_agent: str = "netadvisor",
) -> httpx.Client:
    """An ``httpx.Client`` for the GitHub REST API; the caller closes it.

    ``token`` goes into the ``Authorization`` header and nowhere else.
    """
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": user_agent,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
    )


# ---------------------------------------------------------------------------------------------
# GitHub's JSON, as far as this adapter reads it
# ---------------------------------------------------------------------------------------------


class _BranchJSON(TypedDict):
    ref: str
    sha: str


class _LabelJSON(TypedDict):
    name: str


class _MilestoneJSON(TypedDict):
    title: str


class _PullJSON(TypedDict):
    """``GET /repos/{owner}/{repo}/pulls/{pull_number}``."""

    number: int
    title: str
    state: str
    merged: NotRequired[bool]
    merged_at: str | None
    merge_commit_sha: str | None
    base: _BranchJSON
    labels: list[_LabelJSON]
    milestone: _MilestoneJSON | None


class _IssuePullJSON(TypedDict):
    merged_at: NotRequired[str | None]


class _IssueJSON(TypedDict):
    """``GET /repos/{owner}/{repo}/issues/{issue_number}``, and search and timeline items."""

    number: int
    title: str
    state: str
    closed_at: str | None
    state_reason: NotRequired[str | None]
    body: NotRequired[str | None]
    labels: list[_LabelJSON]
    repository_url: NotRequired[str]
    pull_request: NotRequired[_IssuePullJSON]


class _SourceJSON(TypedDict):
    type: str
    issue: NotRequired[_IssueJSON]


class _TimelineEventJSON(TypedDict):
    """One element of ``GET /repos/{owner}/{repo}/issues/{issue_number}/timeline``."""

    event: str
    created_at: NotRequired[str]
    commit_id: NotRequired[str | None]
    source: NotRequired[_SourceJSON]


class _TagCommitJSON(TypedDict):
    sha: str


class _TagJSON(TypedDict):
    """One element of ``GET /repos/{owner}/{repo}/tags``."""

    name: str
    commit: _TagCommitJSON


class _CompareJSON(TypedDict):
    """``GET /repos/{owner}/{repo}/compare/{base}...{head}``."""

    status: str
    ahead_by: int
    behind_by: int


class _SearchJSON(TypedDict):
    """``GET /search/issues``."""

    total_count: int
    incomplete_results: bool
    items: list[_IssueJSON]


_Shape = Mapping[str, type | tuple[type, ...]]

_PULL_SHAPE: Final[_Shape] = {
    "number": int,
    "title": str,
    "state": str,
    "merged_at": (str, type(None)),
    "merge_commit_sha": (str, type(None)),
    "base": dict,
    "labels": list,
}
_ISSUE_SHAPE: Final[_Shape] = {
    "number": int,
    "title": str,
    "state": str,
    "closed_at": (str, type(None)),
    "labels": list,
}
_TAG_SHAPE: Final[_Shape] = {"name": str, "commit": dict}
_COMPARE_SHAPE: Final[_Shape] = {"status": str, "ahead_by": int, "behind_by": int}
_SEARCH_SHAPE: Final[_Shape] = {"total_count": int, "items": list}


def _check(value: Any, shape: _Shape, url: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UpstreamBadAnswer(f"{what}: expected a JSON object", url)
    for key, kind in shape.items():
        if not isinstance(value.get(key), kind):
            raise UpstreamBadAnswer(f"{what}: field {key!r} missing or of the wrong type", url)
    return value


def _when(text: str | None, url: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UpstreamBadAnswer(f"not a timestamp: {text[:40]!r}", url) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _labels(raw: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(item["name"]) for item in raw if isinstance(item, dict) and "name" in item)


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


@dataclass
class RequestStats:
    """What a run cost: requests sent and how they were answered."""

    sent: int = 0
    not_modified: int = 0
    """Answered 304 (free with a token)."""
    reused: int = 0
    """Answered from the store without a request (fresh in this pass, or immutable)."""
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class _Limit:
    remaining: int | None = None
    reset: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class GitHubSource:
    """:class:`~jobs.upstream.port.UpstreamSource` over the GitHub REST API (see the module).

    Args:
        client: from :func:`build_client` (or any ``httpx.Client`` with a GitHub base URL).
        cache: where answers and their validators are kept between runs.
        fresh_since: answers confirmed at or after this moment are reused without a request.
        budget: requests this run may send (None: no limit but GitHub's).
        max_wait: the longest a rate limit is waited out, in seconds; a longer one stops the run.
        retries: extra attempts after a 5xx, a timeout or a waited-out rate limit.
        offline: send nothing; answer from the cache or raise ``NotCached``.
        max_pages: the most pages read of one paginated list.
        down_after: after this many failures in a row (5xx or no answer, retries included),
            the API is down: :class:`~jobs.upstream.errors.UpstreamDown` stops the run.
        sleep, clock: injectable for tests.
    """

    def __init__(
        self,
        client: httpx.Client,
        cache: AnswerCache,
        *,
        fresh_since: datetime | None = None,
        budget: int | None = None,
        max_wait: float = 60.0,
        retries: int = 2,
        offline: bool = False,
        max_pages: int = 50,
        down_after: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._client = client
        self._cache = cache
        self._fresh_since = fresh_since
        self._budget = budget
        self._max_wait = max_wait
        self._retries = retries
        self._offline = offline
        self._max_pages = max_pages
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._limits: dict[str, _Limit] = {}
        self._paused_until: datetime | None = None
        self._down_after = down_after
        self._down_streak = 0
        self.stats = RequestStats()

    # -- UpstreamSource -----------------------------------------------------------------------

    def pull(self, repo: RepoName, number: int) -> PullInfo:
        """``GET /repos/{repo}/pulls/{number}``."""
        url = self._url(f"/repos/{repo}/pulls/{number}")
        data = cast(_PullJSON, _check(self._json(url), _PULL_SHAPE, url, "pull request"))
        merged_at = _when(data["merged_at"], url)
        # A closed, unmerged PR still has a merge_commit_sha (GitHub's test merge); only
        # ``merged`` / ``merged_at`` say whether it was merged.
        merged = data.get("merged") is True or merged_at is not None
        base = data["base"].get("ref")
        if not isinstance(base, str):
            raise UpstreamBadAnswer("pull request: base.ref missing", url)
        milestone = data["milestone"] if isinstance(data.get("milestone"), dict) else None
        return PullInfo(
            number=data["number"],
            title=data["title"],
            state=data["state"],
            merged=merged,
            merged_at=merged_at,
            merge_commit=data["merge_commit_sha"] if merged else None,
            base=base,
            labels=_labels(data["labels"]),
            milestone=str(milestone["title"]) if milestone and "title" in milestone else None,
        )

    def issue(self, repo: RepoName, number: int) -> IssueInfo:
        """``GET /repos/{repo}/issues/{number}``, and its timeline when it is closed."""
        url = self._url(f"/repos/{repo}/issues/{number}")
        data = cast(_IssueJSON, _check(self._json(url), _ISSUE_SHAPE, url, "issue"))
        closed_at = _when(data["closed_at"], url)
        closed_by: tuple[int, ...] = ()
        if data["state"] == "closed":
            timeline_url = self._url(f"/repos/{repo}/issues/{number}/timeline", per_page=100)
            events = [e for page in self._pages(timeline_url) for e in page]
            closed_by = self._closing_pulls(repo, events, timeline_url)
        reason = data.get("state_reason")
        return IssueInfo(
            number=data["number"],
            title=data["title"],
            state=data["state"],
            closed_at=closed_at,
            state_reason=reason if isinstance(reason, str) else None,
            closed_by=closed_by,
        )

    def mentions(self, repo: RepoName, number: int) -> Sequence[Mention]:
        """``GET /search/issues?q=repo:{repo} is:pr in:title,body {number}`` (one page of 100)."""
        query = f"repo:{repo} is:pr in:title,body {number}"
        url = self._url("/search/issues", q=query, per_page=100)
        data = cast(_SearchJSON, _check(self._json(url), _SEARCH_SHAPE, url, "search"))
        out = []
        for raw in data["items"]:
            item = cast(_IssueJSON, _check(raw, _ISSUE_SHAPE, url, "search item"))
            if "pull_request" not in item or item["number"] == number:
                continue
            body = item.get("body")
            out.append(
                Mention(
                    number=item["number"],
                    title=item["title"],
                    body=body[:4000] if isinstance(body, str) else "",
                    labels=_labels(item["labels"]),
                )
            )
        return out

    def tags(self, repo: RepoName) -> Sequence[Tag]:
        """``GET /repos/{repo}/tags``, every page."""
        url = self._url(f"/repos/{repo}/tags", per_page=100)
        out = []
        for page in self._pages(url):
            for raw in page:
                item = cast(_TagJSON, _check(raw, _TAG_SHAPE, url, "tag"))
                sha = item["commit"].get("sha")
                if isinstance(sha, str):
                    out.append(Tag(name=item["name"], sha=sha))
        return out

    def contains(self, repo: RepoName, commit: str, tag: Tag) -> bool:
        """``GET /repos/{repo}/compare/{commit}...{tag sha}``: ``ahead`` or ``identical``.

        The tag's commit is compared rather than its name, so that the answer is about two
        fixed commits and can be kept for good.
        """
        url = self._url(f"/repos/{repo}/compare/{commit}...{tag.sha}", per_page=1)
        data = cast(
            _CompareJSON, _check(self._json(url, immutable=True), _COMPARE_SHAPE, url, "compare")
        )
        return data["status"] in ("ahead", "identical")

    # -- reading ------------------------------------------------------------------------------

    def _closing_pulls(self, repo: RepoName, events: Sequence[Any], url: str) -> tuple[int, ...]:
        """PRs of ``repo`` cross-referenced on the timeline and merged when the issue closed.

        GitHub's REST API does not name the PR that closed an issue; a PR that references the
        issue and was merged within a short window of the last ``closed`` event did.
        """
        timeline = [cast(_TimelineEventJSON, e) for e in events if isinstance(e, dict)]
        closes = [e for e in timeline if e.get("event") == "closed" and "created_at" in e]
        if not closes:
            return ()
        closed = _when(closes[-1]["created_at"], url)
        assert closed is not None
        found: list[int] = []
        for event in timeline:
            source = event.get("source")
            if event.get("event") != "cross-referenced" or not isinstance(source, dict):
                continue
            issue = source.get("issue")
            if not isinstance(issue, dict) or not isinstance(issue.get("pull_request"), dict):
                continue
            if not str(issue.get("repository_url", "")).endswith(f"/repos/{repo}"):
                continue
            merged = _when(issue["pull_request"].get("merged_at"), url)
            if merged is not None and abs(merged - closed) <= _CLOSE_WINDOW:
                number = issue.get("number")
                if isinstance(number, int) and number not in found:
                    found.append(number)
        return tuple(found)

    def _url(self, path: str, **params: str | int) -> str:
        return str(self._client.build_request("GET", path, params=params).url)

    def _json(self, url: str, *, immutable: bool = False) -> Any:
        return self._decode(self._fetch(url, immutable=immutable))

    def _decode(self, answer: StoredAnswer) -> Any:
        try:
            return json.loads(answer.body)
        except ValueError:
            raise UpstreamBadAnswer("answer is not JSON", answer.url) from None

    def _pages(self, url: str) -> Iterator[list[Any]]:
        base = str(self._client.base_url)
        next_url: str | None = url
        for _ in range(self._max_pages):
            if next_url is None:
                return
            answer = self._fetch(next_url)
            page = self._decode(answer)
            if not isinstance(page, list):
                raise UpstreamBadAnswer("expected a JSON array", next_url)
            yield page
            next_url = answer.next_url
            # The token goes with every request of the client: follow links only on its host.
            if next_url is not None and not next_url.startswith(base.rstrip("/")):
                raise UpstreamBadAnswer("pagination link leaves the API", next_url)
        if next_url is not None:
            _log.warning("stopped after %d pages of %s", self._max_pages, url)

    # -- requesting ---------------------------------------------------------------------------

    @contextmanager
    def _one_at_a_time(self, url: str) -> Iterator[None]:
        with self._lock:
            lock = self._url_locks.setdefault(url, threading.Lock())
        with lock:
            yield

    def _fetch(self, url: str, *, immutable: bool = False) -> StoredAnswer:
        # Threads asking for the same URL (two references of one repository want its tags)
        # wait for the first answer instead of sending the request twice.
        with self._one_at_a_time(url):
            stored = self._cache.get(url)
            if stored is not None and (self._offline or immutable or self._fresh(stored)):
                with self._lock:
                    self.stats.reused += 1
                return stored
            if self._offline:
                raise NotCached("offline, and no stored answer", url)
            return self._request(url, stored)

    def _fresh(self, stored: StoredAnswer) -> bool:
        return (
            self._fresh_since is not None
            and stored.fetched_at is not None
            and stored.fetched_at >= self._fresh_since
        )

    def _request(self, url: str, stored: StoredAnswer | None) -> StoredAnswer:
        resource = "search" if "/search/" in url else "core"
        failures = 0
        while True:
            self._wait_for_limits(resource, url)
            self._spend(url)
            headers = {}
            if stored is not None and stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored is not None and stored.last_modified:
                headers["If-Modified-Since"] = stored.last_modified
            try:
                response = self._client.get(url, headers=headers)
            except httpx.TimeoutException:
                failure: Exception = UpstreamUnreachable("timed out", url)
            except httpx.TransportError as exc:
                failure = UpstreamUnreachable(f"no answer: {type(exc).__name__}", url)
            else:
                self._note_limits(response, resource)
                with self._lock:
                    self.stats.statuses[response.status_code] += 1
                _log.debug("GET %s -> %d", url, response.status_code)
                if response.status_code < 500:
                    with self._lock:
                        self._down_streak = 0
                answer = self._answer(url, stored, response)
                if answer is not None:
                    return answer
                failure = self._failure(url, response)
            failures += 1
            if not self._retryable(failure) or failures > self._retries:
                self._note_down(failure, url)
                raise failure
            if isinstance(failure, UpstreamServerError | UpstreamUnreachable):
                self._sleep(min(2.0**failures, self._max_wait))

    def _note_down(self, failure: Exception, url: str) -> None:
        """Stop the run when the API itself keeps failing, rather than every reference in turn."""
        if not isinstance(failure, UpstreamServerError | UpstreamUnreachable):
            return
        with self._lock:
            self._down_streak += 1
            down = self._down_streak >= self._down_after
        if down:
            raise UpstreamDown(
                f"the API failed {self._down_after} times in a row (last: {failure})", url
            ) from failure

    def _answer(
        self, url: str, stored: StoredAnswer | None, response: httpx.Response
    ) -> StoredAnswer | None:
        now = self._clock()
        if response.status_code == 304 and stored is not None:
            with self._lock:
                self.stats.not_modified += 1
            answer = replace(
                stored,
                fetched_at=now,
                etag=response.headers.get("ETag") or stored.etag,
                last_modified=response.headers.get("Last-Modified") or stored.last_modified,
            )
            self._cache.put(answer)
            return answer
        if response.status_code == 200:
            link = response.links.get("next", {}).get("url")
            answer = StoredAnswer(
                url=url,
                body=response.text,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                next_url=link,
                fetched_at=now,
            )
            self._cache.put(answer)
            return answer
        return None

    def _failure(self, url: str, response: httpx.Response) -> Exception:
        status = response.status_code
        message = _message(response)
        if status in (403, 429):
            wait = self._rate_limit_wait(response, message)
            if wait is not None:
                until = self._clock() + timedelta(seconds=wait)
                if wait > self._max_wait:
                    return RateLimited(
                        f"{status} {message}; requests resume at {until:%Y-%m-%d %H:%M:%S} UTC",
                        url,
                        until=until,
                    )
                with self._lock:
                    self._paused_until = max(self._paused_until or until, until)
                return _WaitAndRetry(url)
            return UpstreamForbidden(f"{status} {message}", url)
        if status == 401:
            return UpstreamForbidden(f"401 {message} (check the GitHub token)", url)
        if status in (404, 410):
            return UpstreamNotFound(f"{status} {message}", url)
        if status >= 500:
            return UpstreamServerError(f"{status} {message}", url)
        return UpstreamBadAnswer(f"unexpected answer {status} {message}", url)

    @staticmethod
    def _retryable(failure: Exception) -> bool:
        return isinstance(failure, _WaitAndRetry | UpstreamServerError | UpstreamUnreachable)

    def _rate_limit_wait(self, response: httpx.Response, message: str) -> float | None:
        """Seconds to wait when a 403/429 is a rate limit; None when it is not one."""
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return _SECONDARY_DEFAULT_WAIT
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = _reset_time(response)
            if reset is not None:
                return max(0.0, (reset - self._clock()).total_seconds()) + 1.0
            return _SECONDARY_DEFAULT_WAIT
        if "rate limit" in message.lower() or response.status_code == 429:
            return _SECONDARY_DEFAULT_WAIT
        return None

    def _note_limits(self, response: httpx.Response, resource: str) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None or not remaining.isdigit():
            return
        name = response.headers.get("X-RateLimit-Resource", resource)
        metrics.GITHUB_RATE_LIMIT_REMAINING.labels(resource=name).set(int(remaining))
        with self._lock:
            self._limits[name] = _Limit(int(remaining), _reset_time(response))

    def _wait_for_limits(self, resource: str, url: str) -> None:
        """Wait out a known exhausted limit when it is short; raise RateLimited when not."""
        while True:
            now = self._clock()
            with self._lock:
                limit = self._limits.get(resource, _Limit())
                until = self._paused_until
                if limit.remaining == 0 and limit.reset is not None:
                    until = max(until or limit.reset, limit.reset + timedelta(seconds=1))
            if until is None or until <= now:
                return
            wait = (until - now).total_seconds()
            if wait > self._max_wait:
                raise RateLimited(
                    f"rate limit of {resource} requests reached; requests resume at "
                    f"{until:%Y-%m-%d %H:%M:%S} UTC",
                    url,
                    until=until,
                )
            _log.info("rate limited: waiting %.0f s", wait)
            self._sleep(wait)

    def _spend(self, url: str) -> None:
        with self._lock:
            if self._budget is not None:
                if self._budget <= 0:
                    raise BudgetExhausted("the request budget of this run is spent", url)
                self._budget -= 1
            self.stats.sent += 1


class _WaitAndRetry(Exception):
    """Internal: a rate limit within the wait bound; the request is sent again after it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)


def _reset_time(response: httpx.Response) -> datetime | None:
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is None or not reset.isdigit():
        return None
    return datetime.fromtimestamp(int(reset), UTC)


_MESSAGE_LIMIT: Final = 200


def _message(response: httpx.Response) -> str:
    """GitHub's error ``message``, shortened; the reason phrase when there is none."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = re.sub(r"\s+", " ", data["message"]).strip()
        return text[:_MESSAGE_LIMIT]
    return response.reason_phrase


def check_access(client: httpx.Client, *, token_given: bool, now: datetime) -> list[CheckResult]:
    """``doctor``'s GitHub lines: the token is accepted, and how much of the core rate limit
    is left (``GET /rate_limit``, which costs nothing against the limit).

    See: https://docs.github.com/en/rest/rate-limit/rate-limit
    """
    base = str(client.base_url)
    try:
        response = client.get("/rate_limit")
    except httpx.HTTPError as exc:
        return [
            CheckResult(
                "github",
                "reachable",
                CheckStatus.FAIL,
                f"cannot reach {base}: {type(exc).__name__}",
                "check github_api_url and the network path (proxy, firewall)",
            )
        ]
    if response.status_code == 401:
        return [
            CheckResult(
                "github",
                "token",
                CheckStatus.FAIL,
                f"{base} refused the token (401 Bad credentials)",
                "create a new token (no scopes needed for public repositories) and set "
                "GITHUB_TOKEN",
            )
        ]
    try:
        response.raise_for_status()
        core = response.json()["resources"]["core"]
        limit, remaining = int(core["limit"]), int(core["remaining"])
        reset = datetime.fromtimestamp(int(core["reset"]), UTC)
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
        return [
            CheckResult(
                "github",
                "rate limit",
                CheckStatus.FAIL,
                f"unexpected answer from {base}/rate_limit: {type(exc).__name__}",
                "check github_api_url (GitHub Enterprise: https://HOST/api/v3)",
            )
        ]
    out = []
    if token_given:
        out.append(CheckResult("github", "token", CheckStatus.OK, "accepted"))
    else:
        out.append(
            CheckResult(
                "github",
                "token",
                CheckStatus.WARN,
                f"none: anonymous requests, {limit} an hour",
                "set GITHUB_TOKEN for 5,000 requests an hour",
            )
        )
    minutes = max(0, int((reset - now).total_seconds() // 60))
    low = remaining < max(10, limit // 10)
    out.append(
        CheckResult(
            "github",
            "rate limit",
            CheckStatus.WARN if low else CheckStatus.OK,
            f"{remaining} of {limit} requests left, reset in {minutes} min",
            "upstream sync waits for the reset; lower github_budget or add a token" if low else "",
        )
    )
    return out
