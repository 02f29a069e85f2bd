"""The audit log as mirrored segments: consecutive runs of whole lines, each an immutable
object named by the seqs of its first and last line (`00000001-00000042.jsonl`).

Names sort as numbers do, so a listing in key order is the log in order, and a watcher asks
only for keys after the last one it has. Verifying a mirror is verifying the log its
segments make: every segment must start where the one before ended, and its lines must
chain on from the previous head, exactly as the lines of the file do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cockpit.audit.verify import ChainCheck, VerifyReport, split_lines

_NAME = re.compile(r"(\d{8,})-(\d{8,})\.jsonl")


def segment_name(first: int, last: int) -> str:
    return f"{first:08d}-{last:08d}.jsonl"


def segment_range(name: str) -> tuple[int, int] | None:
    """(first, last) seq of a segment's object name (its last path part), else None."""
    match = _NAME.fullmatch(name.rsplit("/", 1)[-1])
    return (int(match[1]), int(match[2])) if match else None


@dataclass
class MirroredChain:
    """The chain of a mirrored log, checked segment by segment as they are downloaded.

    Once broken it stays broken: nothing after the break is trusted or shown.
    """

    name: str

    def __post_init__(self) -> None:
        self.check = ChainCheck(self.name)
        self.problem: str | None = None
        self.first_bad_seq: int | None = None

    @property
    def head_seq(self) -> int:
        return self.check.good

    @property
    def head_hash(self) -> str:
        return self.check.head_hash

    def feed(self, key: str, data: bytes) -> list[bytes]:
        """The segment's lines that chain on; [] (and `problem` set) from the break on."""
        if self.problem is not None:
            return []
        span = segment_range(key)
        if span is None:
            return self._broken(self.head_seq + 1, f"{key}: not a segment name")
        if span[0] != self.head_seq + 1:
            return self._broken(self.head_seq + 1, f"{key} follows seq {self.head_seq}: "
                                                   f"seq {self.head_seq + 1} is missing")
        lines, tail = split_lines(data)
        good: list[bytes] = []
        for line in lines:
            if not self.check.feed(line):
                report = self.check.report(None)
                return self._broken(report.first_bad_seq or self.head_seq + 1,
                                    f"{key}: {report.reason}", good)
            good.append(line)
        if tail is not None or self.head_seq != span[1]:
            return self._broken(self.head_seq + 1,
                                f"{key}: holds lines up to seq {self.head_seq}, "
                                f"its name says {span[1]}", good)
        return good

    def _broken(self, seq: int, why: str, good: list[bytes] | None = None) -> list[bytes]:
        self.problem, self.first_bad_seq = why, seq
        return good or []

    def report(self) -> VerifyReport:
        """The verdict on what was fed, in `cockpit audit verify`'s words."""
        if self.problem is None:
            return self.check.report(None)
        head = self.check.report(None).head  # of the lines that verify, broken or not
        return VerifyReport(self.name, "altered", self.head_seq,
                            first_bad_seq=self.first_bad_seq,
                            first_bad_line=self.head_seq + 1, reason=self.problem, head=head)


def first_difference(local: bytes, mirrored: bytes) -> int | None:
    """The seq of the first line where two logs differ (one ending early counts), else
    None. A re-chained forgery verifies on its own: only the locked copy shows it."""
    ours, theirs = split_lines(local)[0], split_lines(mirrored)[0]
    for seq, (a, b) in enumerate(zip(ours, theirs, strict=False), 1):
        if a != b:
            return seq
    if len(ours) != len(theirs):
        return min(len(ours), len(theirs)) + 1
    return None
