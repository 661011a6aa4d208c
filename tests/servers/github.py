"""A small but faithful GitHub REST API server for tests, on 127.0.0.1.

It serves repositories built in Python (commits, branches, tags, pull requests, issues,
releases) in the JSON shapes of GitHub's REST API (version 2022-11-28), so that the project's
real ``httpx`` client can be pointed at it. It behaves like GitHub where the sync depends on it:

- ``ETag`` (weak, over the body) on every 200, and ``304 Not Modified`` to a matching
  ``If-None-Match``; ``Last-Modified`` on pulls and issues, honouring ``If-Modified-Since``.
- ``X-RateLimit-Limit/-Remaining/-Reset/-Used/-Resource`` per resource (``core``: 60 requests
  without a token, 5000 with one; ``search``: 10 and 30). A 304 to an authorised request is
  free, as on GitHub. An exhausted limit answers ``403`` with ``X-RateLimit-Remaining: 0``.
- Secondary rate limits (``403`` with ``Retry-After``), and chosen errors (404, 410, 5xx) on
  path globs.
- Pagination with ``per_page`` / ``page`` and ``Link`` headers (``rel="next"``, ``"last"``...).
- ``compare`` computed on the commit graph: ``ahead``, ``behind``, ``identical`` or ``diverged``
  with ``ahead_by`` / ``behind_by`` and the merge base.

Every request is recorded (:attr:`GitHubAPIServer.requests`) with its status.

Quick start::

    with GitHubAPIServer(token="t0ken") as server:
        k8s = server.repo("kubernetes/kubernetes")
        k8s.commit("master")
        k8s.tag("v1.29.0")
        k8s.branch("release-1.29", "master")
        pr = k8s.pull(122204, "Fix race condition", base="master", merged=True)
        ...

Endpoints: ``GET /repos/{o}/{r}/pulls/{n}``, ``/repos/{o}/{r}/issues/{n}``,
``/repos/{o}/{r}/issues/{n}/timeline``, ``/repos/{o}/{r}/issues/{n}/events``,
``/repos/{o}/{r}/tags``, ``/repos/{o}/{r}/releases``, ``/repos/{o}/{r}/compare/{base}...{head}``,
``/search/issues?q=``, ``/rate_limit``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.servers.loopback import LoopbackHTTPServer, Stoppable

__all__ = ["FakeRepo", "GitHubAPIServer", "RecordedRequest"]

JSON = dict[str, Any]

_DOCS = "https://docs.github.com/rest"
_ANONYMOUS_HINT = (
    " (But here's the good news: Authenticated requests get a higher rate limit. Check out the"
    " documentation for more details.)"
)
_EPOCH_START = datetime(2023, 1, 1, tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _user(login: str) -> JSON:
    uid = int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "followers_url": f"https://api.github.com/users/{login}/followers",
        "following_url": f"https://api.github.com/users/{login}/following{{/other_user}}",
        "gists_url": f"https://api.github.com/users/{login}/gists{{/gist_id}}",
        "starred_url": f"https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"https://api.github.com/users/{login}/subscriptions",
        "organizations_url": f"https://api.github.com/users/{login}/orgs",
        "repos_url": f"https://api.github.com/users/{login}/repos",
        "events_url": f"https://api.github.com/users/{login}/events{{/privacy}}",
        "received_events_url": f"https://api.github.com/users/{login}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


# --------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------


@dataclass
class _Commit:
    sha: str
    parents: tuple[str, ...]
    message: str
    at: datetime
    order: int


@dataclass
class _Pull:
    number: int
    title: str
    base: str
    head: str
    body: str
    user: str
    state: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    milestone: str | None = None


@dataclass
class _Issue:
    number: int
    title: str
    body: str
    user: str
    state: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    events: list[JSON] = field(default_factory=list)


class FakeRepo:
    """One repository of the server; build it with the methods below (thread-safe).

    Times advance by one minute per change unless given, starting at 2023-01-01.
    """

    def __init__(self, server: GitHubAPIServer, full_name: str, default_branch: str) -> None:
        self._server = server
        self.full_name = full_name
        self.owner, self.name = full_name.split("/")
        self.default_branch = default_branch
        self.id = int(hashlib.sha1(full_name.encode()).hexdigest()[:7], 16)
        self.commits: dict[str, _Commit] = {}
        self.branches: dict[str, str] = {}
        self.tags: list[tuple[str, str]] = []
        self.releases: list[JSON] = []
        self.pulls: dict[int, _Pull] = {}
        self.issues: dict[int, _Issue] = {}
        self._clock = _EPOCH_START
        self.commit(default_branch, "Initial commit")

    # -- building -----------------------------------------------------------------------------

    def _tick(self, at: datetime | None) -> datetime:
        self._clock = at if at is not None else self._clock + timedelta(minutes=1)
        return self._clock

    def _new_sha(self, text: str) -> str:
        seed = f"{self.full_name}:{len(self.commits)}:{text}:{uuid.uuid4()}"
        return hashlib.sha1(seed.encode()).hexdigest()

    def commit(self, branch: str, message: str = "Change", at: datetime | None = None) -> str:
        """Add a commit on top of ``branch`` (created from nothing if new); returns its sha."""
        with self._server.lock:
            parent = self.branches.get(branch)
            sha = self._new_sha(message)
            self.commits[sha] = _Commit(sha, (parent,) if parent else (), message,
                                        self._tick(at), len(self.commits))  # fmt: skip
            self.branches[branch] = sha
            return sha

    def branch(self, name: str, start: str) -> str:
        """Create branch ``name`` at ``start`` (a branch, tag or sha); returns the sha."""
        with self._server.lock:
            sha = self.resolve(start)
            if sha is None:
                raise KeyError(start)
            self.branches[name] = sha
            return sha

    def tag(self, name: str, ref: str | None = None, *, release: bool = True) -> str:
        """Tag ``ref`` (default: the default branch's head); with a GitHub release if asked."""
        with self._server.lock:
            sha = self.resolve(ref or self.default_branch)
            if sha is None:
                raise KeyError(ref)
            self.tags.append((name, sha))
            if release:
                at = self._tick(None)
                rid = 100000 + len(self.releases)
                base = f"https://api.github.com/repos/{self.full_name}/releases"
                self.releases.append(
                    {
                        "url": f"{base}/{rid}",
                        "assets_url": f"{base}/{rid}/assets",
                        "upload_url": f"https://uploads.github.com/repos/{self.full_name}/"
                        f"releases/{rid}/assets{{?name,label}}",
                        "html_url": f"https://github.com/{self.full_name}/releases/tag/{name}",
                        "id": rid,
                        "author": _user("release-bot"),
                        "node_id": f"RE_kwDO{rid}",
                        "tag_name": name,
                        "target_commitish": sha,
                        "name": name,
                        "draft": False,
                        "immutable": False,
                        "prerelease": bool(re.search(r"-(alpha|beta|rc)", name)),
                        "created_at": _iso(at),
                        "updated_at": _iso(at),
                        "published_at": _iso(at),
                        "assets": [],
                        "tarball_url": f"https://api.github.com/repos/{self.full_name}/"
                        f"tarball/{name}",
                        "zipball_url": f"https://api.github.com/repos/{self.full_name}/"
                        f"zipball/{name}",
                        "body": f"Release {name}",
                    }
                )
            return sha

    def pull(
        self,
        number: int,
        title: str,
        *,
        base: str | None = None,
        merged: bool = True,
        state: str | None = None,
        labels: Iterable[str] = (),
        milestone: str | None = None,
        body: str = "",
        user: str = "contributor",
        at: datetime | None = None,
    ) -> _Pull:
        """Open a PR against ``base``; merge it (a merge commit on ``base``) when ``merged``.

        ``state="closed"`` with ``merged=False`` closes it unmerged; it still gets a
        ``merge_commit_sha`` (GitHub's test merge, on no branch).
        """
        with self._server.lock:
            base = base or self.default_branch
            created = self._tick(at)
            pull = _Pull(number, title, base, f"{user}:fix-{number}", body, user, "open",
                         created, created, labels=list(labels), milestone=milestone)  # fmt: skip
            pull.merge_commit_sha = self._new_sha(f"test merge {number}")
            self.pulls[number] = pull
            self._cross_reference(pull)
            if merged:
                self.merge(number)
            elif state == "closed":
                pull.state = "closed"
                pull.closed_at = pull.updated_at = self._tick(None)
            return pull

    def merge(self, number: int, at: datetime | None = None) -> str:
        """Merge an open PR: a merge commit on its base; closes the issues it says it fixes."""
        with self._server.lock:
            pull = self.pulls[number]
            when = self._tick(at)
            sha = self.commit(pull.base, f"Merge pull request #{number} from {pull.head}", when)
            pull.state, pull.merged_at, pull.closed_at = "closed", when, when
            pull.merge_commit_sha, pull.updated_at = sha, when
            for fixed in re.findall(r"(?i)\b(?:fixes|closes|resolves)\s+#(\d+)", pull.body):
                issue = self.issues.get(int(fixed))
                if issue is not None and issue.state == "open":
                    self._close(issue, when, commit=sha)
            return sha

    def issue(
        self,
        number: int,
        title: str,
        *,
        body: str = "",
        labels: Iterable[str] = (),
        user: str = "reporter",
        at: datetime | None = None,
    ) -> _Issue:
        """Open an issue (close it with :meth:`close_issue` or a PR that says ``Fixes #N``)."""
        with self._server.lock:
            when = self._tick(at)
            issue = _Issue(number, title, body, user, "open", when, when, labels=list(labels))
            self.issues[number] = issue
            for index in range(3):
                # A realistic timeline has comments and labels before anything else.
                issue.events.append(self._event("commented", when, body=f"comment {index}"))
            for label in labels:
                issue.events.append(self._event("labeled", when, label=label))
            return issue

    def close_issue(self, number: int, at: datetime | None = None) -> None:
        """Close an issue by hand (no PR)."""
        with self._server.lock:
            self._close(self.issues[number], self._tick(at), commit=None)

    def reopen_issue(self, number: int, at: datetime | None = None) -> None:
        """Reopen a closed issue."""
        with self._server.lock:
            issue = self.issues[number]
            when = self._tick(at)
            issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
            issue.updated_at = when
            issue.events.append(self._event("reopened", when))

    def _close(self, issue: _Issue, when: datetime, commit: str | None) -> None:
        issue.state, issue.closed_at, issue.state_reason = "closed", when, "completed"
        issue.updated_at = when
        issue.events.append(self._event("closed", when, commit_id=commit))

    def _cross_reference(self, pull: _Pull) -> None:
        for mentioned in re.findall(r"#(\d+)", pull.body):
            issue = self.issues.get(int(mentioned))
            if issue is None:
                continue
            issue.events.append(
                {
                    "event": "cross-referenced",
                    "actor": _user(pull.user),
                    "created_at": _iso(pull.created_at),
                    "updated_at": _iso(pull.created_at),
                    "source": {"type": "issue", "issue": ("pull", pull.number)},
                }
            )

    def _event(self, kind: str, when: datetime, **extra: Any) -> JSON:
        eid = 9_000_000_000 + sum(len(i.events) for i in self.issues.values()) + len(self.tags)
        base = f"https://api.github.com/repos/{self.full_name}/issues/events/{eid}"
        if kind == "commented":
            return {
                "url": f"https://api.github.com/repos/{self.full_name}/issues/comments/{eid}",
                "html_url": f"https://github.com/{self.full_name}/issues/1#issuecomment-{eid}",
                "issue_url": f"https://api.github.com/repos/{self.full_name}/issues/1",
                "id": eid,
                "node_id": f"IC_kwDO{eid}",
                "user": _user("commenter"),
                "created_at": _iso(when),
                "updated_at": _iso(when),
                "author_association": "MEMBER",
                "body": extra.get("body", ""),
                "reactions": {"url": f"{base}/reactions", "total_count": 0},
                "performed_via_github_app": None,
                "event": "commented",
                "actor": _user("commenter"),
            }
        event: JSON = {
            "id": eid,
            "node_id": f"IE_lADO{eid}",
            "url": base,
            "actor": _user("maintainer"),
            "event": kind,
            "commit_id": None,
            "commit_url": None,
            "created_at": _iso(when),
            "performed_via_github_app": None,
        }
        if kind == "labeled":
            event["label"] = {"name": extra["label"], "color": "e11d21"}
        if kind in ("closed", "reopened"):
            event["state_reason"] = "completed" if kind == "closed" else "reopened"
        commit = extra.get("commit_id")
        if commit:
            event["commit_id"] = commit
            event["commit_url"] = f"https://api.github.com/repos/{self.full_name}/commits/{commit}"
        return event

    # -- reading ------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """A branch, tag or (abbreviated) sha to a commit sha."""
        if ref in self.branches:
            return self.branches[ref]
        for name, sha in self.tags:
            if name == ref:
                return sha
        if ref in self.commits:
            return ref
        if len(ref) >= 7:
            found = [sha for sha in self.commits if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def ancestors(self, sha: str) -> set[str]:
        """The commit and every commit reachable from it."""
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.commits[current].parents)
        return seen


# --------------------------------------------------------------------------------------------
# JSON shapes
# --------------------------------------------------------------------------------------------


def _repo_json(repo: FakeRepo) -> JSON:
    api = f"https://api.github.com/repos/{repo.full_name}"
    return {
        "id": repo.id,
        "node_id": f"MDEwOlJlcG9zaXRvcnk{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": {**_user(repo.owner), "type": "Organization"},
        "html_url": f"https://github.com/{repo.full_name}",
        "description": f"{repo.name} repository",
        "fork": False,
        "url": api,
        "pulls_url": f"{api}/pulls{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "tags_url": f"{api}/tags",
        "releases_url": f"{api}/releases{{/id}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "created_at": "2014-06-06T22:56:04Z",
        "updated_at": _iso(repo._clock),
        "pushed_at": _iso(repo._clock),
        "default_branch": repo.default_branch,
        "visibility": "public",
        "archived": False,
        "disabled": False,
    }


def _label_json(repo: FakeRepo, name: str) -> JSON:
    lid = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
    return {
        "id": lid,
        "node_id": f"MDU6TGFiZWw{lid}",
        "url": f"https://api.github.com/repos/{repo.full_name}/labels/{quote(name)}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def _milestone_json(repo: FakeRepo, title: str | None) -> JSON | None:
    if title is None:
        return None
    number = int(re.sub(r"\D", "", title) or "1")
    return {
        "url": f"https://api.github.com/repos/{repo.full_name}/milestones/{number}",
        "html_url": f"https://github.com/{repo.full_name}/milestone/{number}",
        "labels_url": f"https://api.github.com/repos/{repo.full_name}/milestones/{number}/labels",
        "id": 1000 + number,
        "node_id": f"MDk6TWlsZXN0b25l{number}",
        "number": number,
        "title": title,
        "description": "",
        "creator": _user("release-team"),
        "open_issues": 3,
        "closed_issues": 120,
        "state": "open",
        "created_at": "2023-01-01T00:00:00Z",
        "updated_at": "2023-06-01T00:00:00Z",
        "due_on": None,
        "closed_at": None,
    }


def _issue_json(repo: FakeRepo, number: int) -> JSON | None:
    """The issue object (``GET /issues/{n}``); PRs have a ``pull_request`` member."""
    api = f"https://api.github.com/repos/{repo.full_name}"
    pull = repo.pulls.get(number)
    issue = repo.issues.get(number)
    item: _Pull | _Issue | None = pull or issue
    if item is None:
        return None
    kind = "pull" if pull else "issues"
    out: JSON = {
        "url": f"{api}/issues/{number}",
        "repository_url": api,
        "labels_url": f"{api}/issues/{number}/labels{{/name}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "events_url": f"{api}/issues/{number}/events",
        "html_url": f"https://github.com/{repo.full_name}/{kind}/{number}",
        "id": 1_000_000 + number,
        "node_id": f"I_kwDO{number}",
        "number": number,
        "title": item.title,
        "user": _user(item.user),
        "labels": [_label_json(repo, name) for name in item.labels],
        "state": item.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": _milestone_json(repo, pull.milestone if pull else None),
        "comments": 3,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "closed_at": _iso(item.closed_at),
        "author_association": "MEMBER",
        "type": None,
        "active_lock_reason": None,
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "body": item.body,
        "closed_by": _user("maintainer") if item.closed_at else None,
        "reactions": {"url": f"{api}/issues/{number}/reactions", "total_count": 0},
        "timeline_url": f"{api}/issues/{number}/timeline",
        "performed_via_github_app": None,
        "state_reason": item.state_reason if isinstance(item, _Issue) else None,
    }
    if pull is not None:
        out["draft"] = False
        out["pull_request"] = {
            "url": f"{api}/pulls/{number}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}",
            "diff_url": f"https://github.com/{repo.full_name}/pull/{number}.diff",
            "patch_url": f"https://github.com/{repo.full_name}/pull/{number}.patch",
            "merged_at": _iso(pull.merged_at),
        }
    return out


def _pull_json(repo: FakeRepo, number: int) -> JSON | None:
    """The pull request object (``GET /pulls/{n}``)."""
    pull = repo.pulls.get(number)
    if pull is None:
        return None
    api = f"https://api.github.com/repos/{repo.full_name}"
    web = f"https://github.com/{repo.full_name}/pull/{number}"
    repo_json = _repo_json(repo)
    base_sha = repo.branches.get(pull.base, "")
    merged = pull.merged_at is not None
    return {
        "url": f"{api}/pulls/{number}",
        "id": 2_000_000 + number,
        "node_id": f"PR_kwDO{number}",
        "html_url": web,
        "diff_url": f"{web}.diff",
        "patch_url": f"{web}.patch",
        "issue_url": f"{api}/issues/{number}",
        "number": number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": _user(pull.user),
        "body": pull.body,
        "created_at": _iso(pull.created_at),
        "updated_at": _iso(pull.updated_at),
        "closed_at": _iso(pull.closed_at),
        "merged_at": _iso(pull.merged_at),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [_label_json(repo, name) for name in pull.labels],
        "milestone": _milestone_json(repo, pull.milestone),
        "draft": False,
        "commits_url": f"{api}/pulls/{number}/commits",
        "review_comments_url": f"{api}/pulls/{number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/{pull.merge_commit_sha}",
        "head": {
            "label": pull.head,
            "ref": pull.head.split(":", 1)[1],
            "sha": hashlib.sha1(pull.head.encode()).hexdigest(),
            "user": _user(pull.user),
            "repo": None,
        },
        "base": {
            "label": f"{repo.owner}:{pull.base}",
            "ref": pull.base,
            "sha": base_sha,
            "user": repo_json["owner"],
            "repo": repo_json,
        },
        "_links": {
            "self": {"href": f"{api}/pulls/{number}"},
            "html": {"href": web},
            "issue": {"href": f"{api}/issues/{number}"},
            "comments": {"href": f"{api}/issues/{number}/comments"},
            "review_comments": {"href": f"{api}/pulls/{number}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{number}/commits"},
            "statuses": {"href": f"{api}/statuses/{pull.merge_commit_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": merged,
        "mergeable": None if pull.state == "closed" else True,
        "rebaseable": None if pull.state == "closed" else True,
        "mergeable_state": "unknown" if pull.state == "closed" else "clean",
        "merged_by": _user("k8s-ci-robot") if merged else None,
        "comments": 5,
        "review_comments": 2,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 12,
        "deletions": 3,
        "changed_files": 2,
    }


def _commit_json(repo: FakeRepo, commit: _Commit) -> JSON:
    api = f"https://api.github.com/repos/{repo.full_name}"
    author = {"name": "Dev", "email": "dev@example.com", "date": _iso(commit.at)}
    return {
        "sha": commit.sha,
        "node_id": f"C_kwDO{commit.sha[:10]}",
        "commit": {
            "author": author,
            "committer": author,
            "message": commit.message,
            "tree": {
                "sha": hashlib.sha1(commit.sha.encode()).hexdigest(),
                "url": f"{api}/git/trees/{commit.sha}",
            },
            "url": f"{api}/git/commits/{commit.sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "url": f"{api}/commits/{commit.sha}",
        "html_url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
        "comments_url": f"{api}/commits/{commit.sha}/comments",
        "author": _user("dev"),
        "committer": _user("web-flow"),
        "parents": [
            {
                "sha": p,
                "url": f"{api}/commits/{p}",
                "html_url": f"https://github.com/{repo.full_name}/commit/{p}",
            }
            for p in commit.parents
        ],
    }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the server received (``status`` once answered)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None = None

    @property
    def conditional(self) -> bool:
        """True when it carried ``If-None-Match`` or ``If-Modified-Since``."""
        return "If-None-Match" in self.headers or "If-Modified-Since" in self.headers


_RECORDED_HEADERS = (
    "Accept",
    "Authorization",
    "User-Agent",
    "If-None-Match",
    "If-Modified-Since",
    "X-GitHub-Api-Version",
)


@dataclass
class _Bucket:
    limit: int
    used: int = 0
    reset: int = 0


class _Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class _HTTPServer(LoopbackHTTPServer):
    def __init__(self, api: GitHubAPIServer) -> None:
        self.api = api
        super().__init__(_Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that went away; answers to bugs are 500s recorded in handler_errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    # Headers and body in one write, without Nagle: no 40 ms delayed-ACK stall per request.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        self.server.api._handle(self)

    def do_POST(self) -> None:
        self.server.api._handle(self)


class GitHubAPIServer(Stoppable):
    """The server (see the module docstring). Starts at construction on a free port.

    Args:
        token: the one valid token; a request with another ``Authorization`` gets 401. Requests
            without one are anonymous (lower rate limits, 304s counted).
        per_page_max: the largest ``per_page`` honoured (GitHub: 100).
        now: the server's clock for rate-limit resets (defaults to the real time).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        per_page_max: int = 100,
        now: Any = None,
    ) -> None:
        self.token = token
        self.per_page_max = per_page_max
        self._now = now or time.time
        self.lock = threading.RLock()
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[RecordedRequest] = []
        self.handler_errors: list[BaseException] = []
        self._buckets: dict[tuple[bool, str], _Bucket] = {}
        self._failures: list[tuple[str, int, int | None]] = []
        self._secondary: list[list[Any]] = []
        self._httpd = _HTTPServer(self)
        self.port: int = self._httpd.server_port
        #: Base URL of the API, e.g. ``http://127.0.0.1:41234``.
        self.url = f"http://127.0.0.1:{self.port}"
        self._httpd.start(f"github-{self.port}")

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and close open connections."""
        self._httpd.stop()

    # -- scenario -----------------------------------------------------------------------------

    def repo(self, full_name: str, default_branch: str = "master") -> FakeRepo:
        """The repository ``owner/name``, created on first use."""
        with self.lock:
            if full_name not in self.repos:
                self.repos[full_name] = FakeRepo(self, full_name, default_branch)
            return self.repos[full_name]

    def fail(self, path_glob: str, status: int, times: int | None = None) -> None:
        """Answer ``status`` (404, 410, 500, 502, 503...) on matching paths (``times`` times)."""
        with self.lock:
            self._failures.append((path_glob, status, times))

    def secondary_limit(self, path_glob: str = "*", *, retry_after: int = 60, times: int = 1,
                        status: int = 403) -> None:  # fmt: skip
        """The next ``times`` matching requests hit a secondary rate limit (with Retry-After)."""
        with self.lock:
            self._secondary.append([path_glob, times, retry_after, status])

    def exhaust(self, resource: str = "core", *, authenticated: bool | None = None,
                reset_in: int = 3600) -> None:  # fmt: skip
        """Spend the whole primary limit of ``resource``; it resets in ``reset_in`` seconds."""
        with self.lock:
            for auth in (True, False) if authenticated is None else (authenticated,):
                bucket = self._bucket(auth, resource)
                bucket.used = bucket.limit
                bucket.reset = int(self._now()) + reset_in

    def set_remaining(self, remaining: int, resource: str = "core", *,
                      authenticated: bool | None = None) -> None:  # fmt: skip
        """Set how many requests of ``resource`` are left before the primary limit."""
        with self.lock:
            for auth in (True, False) if authenticated is None else (authenticated,):
                bucket = self._bucket(auth, resource)
                bucket.used = max(0, bucket.limit - remaining)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self.lock:
            self.requests.clear()

    # -- handling -----------------------------------------------------------------------------

    def _bucket(self, authenticated: bool, resource: str) -> _Bucket:
        key = (authenticated, resource)
        if key not in self._buckets:
            limits = {("core", True): 5000, ("core", False): 60, ("search", True): 30,
                      ("search", False): 10}  # fmt: skip
            window = 60 if resource == "search" else 3600
            self._buckets[key] = _Bucket(limit=limits[(resource, authenticated)],
                                         reset=int(self._now()) + window)  # fmt: skip
        bucket = self._buckets[key]
        if bucket.reset <= int(self._now()):
            bucket.used = 0
            bucket.reset = int(self._now()) + (60 if resource == "search" else 3600)
        return bucket

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {h: handler.headers[h] for h in _RECORDED_HEADERS if h in handler.headers}
        record = RecordedRequest(handler.command, path, query, headers)
        with self.lock:
            self.requests.append(record)
        status, body, extra = 500, None, {}
        try:
            status, body, extra = self._respond(handler, path, query, split.query)
        except _Answer as answer:
            status, body, extra = answer.status, answer.body, answer.headers
        except Exception as exc:  # a bug in the server: answer 500 and keep it for the test
            with self.lock:
                self.handler_errors.append(exc)
            status, body = 500, {"message": "Server Error"}
        record.status = status
        data = b"" if body is None else json.dumps(body, indent=1).encode()
        handler.send_response(status)
        handler.send_header("Date", format_datetime(datetime.now(UTC), usegmt=True))
        if status != 304:
            handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        handler.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        handler.send_header("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper())
        handler.send_header("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if data:
            handler.wfile.write(data)

    def _identity(self, handler: _Handler) -> bool:
        auth = handler.headers.get("Authorization")
        if auth is None:
            return False
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or value != self.token or not value:
            raise _Answer(401, {"message": "Bad credentials", "documentation_url": _DOCS,
                                "status": "401"})  # fmt: skip
        return True

    def _respond(
        self, handler: _Handler, path: str, query: dict[str, str], raw_query: str
    ) -> tuple[int, Any, dict[str, str]]:
        authenticated = self._identity(handler)
        resource = "search" if path.startswith("/search/") else "core"
        if path == "/rate_limit":
            return 200, self._rate_limit_json(authenticated), {}
        with self.lock:
            for entry in self._secondary:
                glob, times, retry_after, status = entry
                if times > 0 and fnmatch.fnmatchcase(path, glob):
                    entry[1] -= 1
                    raise _Answer(
                        status,
                        {
                            "message": "You have exceeded a secondary rate limit. Please wait a "
                            "few minutes before you try again. If you reach out to GitHub "
                            "Support for help, please include the request ID "
                            f"{uuid.uuid4().hex[:20].upper()}.",
                            "documentation_url": "https://docs.github.com/free-pro-team@latest/"
                            "rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-"
                            "limits",
                        },
                        {"Retry-After": str(retry_after)},
                    )
            bucket = self._bucket(authenticated, resource)
            limit_headers = {
                "X-RateLimit-Limit": str(bucket.limit),
                "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
                "X-RateLimit-Reset": str(bucket.reset),
                "X-RateLimit-Used": str(bucket.used),
                "X-RateLimit-Resource": resource,
            }
            if bucket.used >= bucket.limit:
                message = "API rate limit exceeded for 127.0.0.1."
                if not authenticated:
                    message += _ANONYMOUS_HINT
                raise _Answer(403, {"message": message, "documentation_url": _DOCS +
                                    "/overview/rate-limits-for-the-rest-api"},
                              {**limit_headers, "X-RateLimit-Remaining": "0"})  # fmt: skip
            for glob, status, times in list(self._failures):
                if fnmatch.fnmatchcase(path, glob) and (times is None or times > 0):
                    if times is not None:
                        self._failures.remove((glob, status, times))
                        if times > 1:
                            self._failures.append((glob, status, times - 1))
                    bucket.used += 1
                    raise _Answer(status, _error_body(status), _limits(bucket, resource))
            try:
                status, body, extra = self._route(path, query, raw_query)
            except _Answer as answer:
                bucket.used += 1
                answer.headers.update(_limits(bucket, resource))
                raise
            etag = (
                'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
            )
            extra["ETag"] = etag
            extra["Cache-Control"] = (
                "private, max-age=60, s-maxage=60"
                if authenticated
                else "public, max-age=60, s-maxage=60"
            )
            not_modified = _matches(handler.headers.get("If-None-Match"), etag)
            if handler.headers.get("If-None-Match") is None and "Last-Modified" in extra:
                since = handler.headers.get("If-Modified-Since")
                if since is not None:
                    with contextlib.suppress(TypeError, ValueError):
                        not_modified = parsedate_to_datetime(extra["Last-Modified"]) <= (
                            parsedate_to_datetime(since)
                        )
            # GitHub: a 304 to an authorised conditional request does not count.
            if not (not_modified and authenticated):
                bucket.used += 1
            extra.update(_limits(bucket, resource))
            if not_modified:
                return 304, None, extra
            return status, body, extra

    def _route(
        self, path: str, query: dict[str, str], raw_query: str
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/search/issues":
            return self._search(query)
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.+)", path)
        if match is None or match.group(1) not in self.repos:
            raise _Answer(404, _error_body(404))
        repo = self.repos[match.group(1)]
        rest = match.group(2)
        if m := re.fullmatch(r"pulls/(\d+)", rest):
            body = _pull_json(repo, int(m.group(1)))
            if body is None:
                raise _Answer(404, _error_body(404))
            return 200, body, {"Last-Modified": _http_date(body["updated_at"])}
        if m := re.fullmatch(r"issues/(\d+)", rest):
            body = _issue_json(repo, int(m.group(1)))
            if body is None:
                raise _Answer(404, _error_body(404))
            return 200, body, {"Last-Modified": _http_date(body["updated_at"])}
        if m := re.fullmatch(r"issues/(\d+)/(timeline|events)", rest):
            issue = repo.issues.get(int(m.group(1)))
            if issue is None:
                raise _Answer(404, _error_body(404))
            events = [self._expand(repo, e) for e in issue.events]
            if m.group(2) == "events":
                events = [e for e in events if e["event"] not in ("commented", "cross-referenced")]
            return self._page(path, query, events)
        if rest == "tags":
            # GitHub lists tags newest name first (by ref name, descending), not by version.
            tags = sorted(repo.tags, key=lambda t: t[0], reverse=True)
            api = f"https://api.github.com/repos/{repo.full_name}"
            items = [
                {
                    "name": name,
                    "zipball_url": f"{api}/zipball/refs/tags/{name}",
                    "tarball_url": f"{api}/tarball/refs/tags/{name}",
                    "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
                    "node_id": "MDM6UmVmcmVmcy90YWdzL"
                    + hashlib.sha1(name.encode()).hexdigest()[:8],
                }
                for name, sha in tags
            ]
            return self._page(path, query, items)
        if rest == "releases":
            return self._page(path, query, list(reversed(repo.releases)))
        if m := re.fullmatch(r"compare/(.+)\.\.\.(.+)", rest):
            return self._compare(repo, m.group(1), m.group(2), query)
        raise _Answer(404, _error_body(404))

    def _expand(self, repo: FakeRepo, event: JSON) -> JSON:
        source = event.get("source")
        if source and isinstance(source.get("issue"), tuple):
            issue = _issue_json(repo, source["issue"][1])
            issue = dict(issue or {})
            issue["repository"] = _repo_json(repo)
            return {**event, "source": {"type": "issue", "issue": issue}}
        return event

    def _page(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", "30") or 30), self.per_page_max)
        page = max(1, int(query.get("page", "1") or 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(number: int, rel: str) -> str:
            params = {k: v for k, v in query.items() if k != "page"}
            params["page"] = str(number)
            return f'<{self.url}{path}?{urlencode(params)}>; rel="{rel}"'

        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _compare(
        self, repo: FakeRepo, base_ref: str, head_ref: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        base, head = repo.resolve(base_ref), repo.resolve(head_ref)
        if base is None or head is None:
            raise _Answer(404, _error_body(404))
        base_anc, head_anc = repo.ancestors(base), repo.ancestors(head)
        ahead = sorted(head_anc - base_anc, key=lambda s: repo.commits[s].order)
        behind = head_anc.symmetric_difference(base_anc) & base_anc
        common = base_anc & head_anc
        merge_base = max(common, key=lambda s: repo.commits[s].order) if common else base
        if not ahead and not behind:
            status = "identical"
        elif ahead and not behind:
            status = "ahead"
        elif behind and not ahead:
            status = "behind"
        else:
            status = "diverged"
        per_page = min(int(query.get("per_page", "250") or 250), 250)
        page = max(1, int(query.get("page", "1") or 1))
        api = f"https://api.github.com/repos/{repo.full_name}"
        web = f"https://github.com/{repo.full_name}"
        body = {
            "url": f"{api}/compare/{base_ref}...{head_ref}",
            "html_url": f"{web}/compare/{base_ref}...{head_ref}",
            "permalink_url": f"{web}/compare/{repo.owner}:{base[:7]}...{repo.owner}:{head[:7]}",
            "diff_url": f"{web}/compare/{base_ref}...{head_ref}.diff",
            "patch_url": f"{web}/compare/{base_ref}...{head_ref}.patch",
            "base_commit": _commit_json(repo, repo.commits[base]),
            "merge_base_commit": _commit_json(repo, repo.commits[merge_base]),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [
                _commit_json(repo, repo.commits[s])
                for s in ahead[(page - 1) * per_page : page * per_page]
            ],
            "files": [],
        }
        return 200, body, {}

    def _search(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        q = query.get("q", "")
        terms = re.findall(r'"[^"]*"|\S+', q)
        repo_name, kind, words = None, None, []
        for term in terms:
            if term.startswith("repo:"):
                repo_name = term[5:]
            elif term in ("is:pr", "type:pr"):
                kind = "pull"
            elif term in ("is:issue", "type:issue"):
                kind = "issue"
            elif term.startswith(("in:", "is:", "state:")):
                continue
            else:
                words.append(term.strip('"').lower())
        if repo_name is None or repo_name not in self.repos:
            raise _Answer(422, {
                "message": "Validation Failed",
                "errors": [{"message": "The listed users and repositories cannot be searched "
                            "either because the resources do not exist or you do not have "
                            "permission to view them.", "resource": "Search", "field": "q",
                            "code": "invalid"}],
                "documentation_url": _DOCS + "/search/search#search-issues-and-pull-requests",
                "status": "422",
            })  # fmt: skip
        repo = self.repos[repo_name]
        numbers = list(repo.pulls) if kind == "pull" else list(repo.issues)
        if kind is None:
            numbers = list(repo.pulls) + list(repo.issues)
        items = []
        for number in sorted(numbers, reverse=True):
            item = _issue_json(repo, number)
            assert item is not None
            text = f"{item['title']}\n{item['body']}".lower()
            if all(re.search(rf"(?<![\w]){re.escape(w)}(?![\w])", text) for w in words):
                items.append({**item, "score": 1.0})
        per_page = min(int(query.get("per_page", "30") or 30), self.per_page_max)
        return 200, {"total_count": len(items), "incomplete_results": False,
                     "items": items[:per_page]}, {}  # fmt: skip

    def _rate_limit_json(self, authenticated: bool) -> JSON:
        with self.lock:
            resources = {}
            for name in ("core", "search"):
                bucket = self._bucket(authenticated, name)
                resources[name] = {
                    "limit": bucket.limit,
                    "used": bucket.used,
                    "remaining": max(0, bucket.limit - bucket.used),
                    "reset": bucket.reset,
                }
        return {"resources": resources, "rate": resources["core"]}

    # -- assertions helpers -------------------------------------------------------------------

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        with self.lock:
            return [r.path for r in self.requests]

    def statuses(self) -> list[int | None]:
        """The statuses answered, in order."""
        with self.lock:
            return [r.status for r in self.requests]

    def iter_requests(self) -> Iterator[RecordedRequest]:
        """A snapshot of the recorded requests."""
        with self.lock:
            return iter(list(self.requests))


def _limits(bucket: _Bucket, resource: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
        "X-RateLimit-Reset": str(bucket.reset),
        "X-RateLimit-Used": str(bucket.used),
        "X-RateLimit-Resource": resource,
    }


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso), usegmt=True)


def _error_body(status: int) -> JSON:
    messages = {
        404: "Not Found",
        410: "Gone",
        500: "Server Error",
        502: "Server Error",
        503: "Service Unavailable",
    }
    return {"message": messages.get(status, "Error"), "documentation_url": _DOCS,
            "status": str(status)}  # fmt: skip
