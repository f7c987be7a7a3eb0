"""Doctor findings: one line each, OK / WARN / FAIL, with what to do; text and JSON forms."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backend import __version__


class Status(StrEnum):
    """Verdict of one finding; FAIL makes ``coachiq doctor`` exit non-zero."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


_RANK = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor looked at: what it found and, unless OK, what to do about it."""

    check: str
    status: Status
    summary: str
    action: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "check": self.check,
            "status": self.status.value,
            "summary": self.summary,
            "action": self.action,
            "details": self.details,
        }


@dataclass(slots=True)
class Report:
    """Every finding of one doctor run."""

    findings: list[Finding] = field(default_factory=list)
    generated_at: float = field(default_factory=time.time)

    def add(
        self, check: str, status: Status, summary: str, action: str = "", **details: Any
    ) -> Finding:
        """Append a finding and return it."""
        finding = Finding(check, status, summary, action, details)
        self.findings.append(finding)
        return finding

    @property
    def status(self) -> Status:
        """The worst status of all findings (OK when there are none)."""
        worst = Status.OK
        for finding in self.findings:
            if _RANK[finding.status] > _RANK[worst]:
                worst = finding.status
        return worst

    @property
    def exit_code(self) -> int:
        """1 when any finding failed, else 0."""
        return 1 if self.status is Status.FAIL else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: version, time, overall status and the findings."""
        return {
            "coachiq_version": __version__,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.generated_at)),
            "status": self.status.value,
            "counts": {s.value: sum(f.status is s for f in self.findings) for s in Status},
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def to_text(self) -> str:
        """Lines to read or paste into a forum post: status, check, summary, then the action."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.generated_at))
        lines = [f"CoachIQ doctor {__version__} at {stamp}"]
        width = max((len(f.check) for f in self.findings), default=0)
        for finding in self.findings:
            lines.append(f"{finding.status.value:<4}  {finding.check:<{width}}  {finding.summary}")
            if finding.action and finding.status is not Status.OK:
                lines.append(f"{'':<4}  {'':<{width}}  -> {finding.action}")
        counts = self.to_dict()["counts"]
        lines.append(
            f"{self.status.value}: {counts['OK']} OK, {counts['WARN']} WARN, {counts['FAIL']} FAIL"
        )
        return "\n".join(lines)
