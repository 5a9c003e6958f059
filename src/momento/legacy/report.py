"""What a run of `momento legacy import` did (or, with --dry-run, would do), and its text form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Keys listed per kind of changed or deleted row (the count is always complete).
LISTED = 20


@dataclass
class Listing:
    count: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass
class Report:
    source: str
    dry_run: bool = False
    run_id: int | None = None
    snapshot_at: str = ""
    imported: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    changed: dict[str, Listing] = field(default_factory=dict)
    deleted: dict[str, Listing] = field(default_factory=dict)

    def count(self, table: dict[str, int], what: str, n: int) -> None:
        if n:
            table[what] = table.get(what, 0) + n

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        lines = [
            f"{'Plan (dry run, nothing written)' if self.dry_run else 'Import'} from {self.source}"
        ]
        lines.append(f"  source snapshot at {self.snapshot_at}")
        lines.append(f"{verb}:")
        for kind in ("users", "identities", "profiles", "events", "members", "photos", "likes"):
            lines.append(f"  {kind:<12} {self.imported.get(kind, 0)}")
        lines.append("repaired (by the stated rules):" if self.repairs else "repaired: nothing")
        lines += [f"  {n:>8}  {rule}" for rule, n in sorted(self.repairs.items())]
        lines.append("not imported:" if self.skipped else "not imported: nothing")
        lines += [f"  {n:>8}  {why}" for why, n in sorted(self.skipped.items())]
        for title, table in (
            ("changed at the source since imported (NOT applied)", self.changed),
            ("deleted at the source since imported (kept here)", self.deleted),
        ):
            if not any(x.count for x in table.values()):
                continue
            lines.append(f"{title}:")
            for kind, listing in sorted(table.items()):
                if listing.count:
                    more = "" if listing.count <= len(listing.keys) else " ..."
                    lines.append(f"  {kind}: {listing.count}: {', '.join(listing.keys)}{more}")
        return "\n".join(lines)
