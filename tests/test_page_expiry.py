"""Page-expiry conventions in front matter (GOV.UK tech-docs and common variants) drive staleness and owners (#12)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from rag.answer.staleness import StalenessPolicy
from rag.config import SourceConfig
from rag.durations import add_period
from rag.ingest.page_expiry import page_owner, review_rule, reviewed_on, tech_docs_config, tech_docs_default_owner
from rag.ingest.readers import split_front_matter
from rag.ingest.sources import scan_source
from rag.models import DateOrigin, DocMeta

runner = CliRunner()


def test_review_rules_from_front_matter() -> None:
    assert review_rule({"review_in": "6 months"}).review_in == "6 months"
    assert review_rule({"review_in": "{period}"}).review_in is None  # a template placeholder: no rule, no crash
    assert review_rule({"Review_By": "2025-03-01"}).review_by == datetime(2025, 3, 1, tzinfo=UTC)
    assert review_rule({"expires": "2025-03-01", "review_in": "1 year"}).review_by is not None  # absolute wins
    assert review_rule({"next_review": "soon"}) == review_rule({})
    assert reviewed_on({"last_reviewed_on": "yyyy-mm-dd"}) is None
    assert reviewed_on({"last_reviewed_on": datetime(2024, 7, 23).date()}) == datetime(2024, 7, 23, tzinfo=UTC)
    assert add_period(datetime(2024, 7, 23, tzinfo=UTC), "6 months") == datetime(2025, 1, 23, tzinfo=UTC)
    assert add_period(datetime(2024, 8, 31, tzinfo=UTC), "6 months") == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_period(datetime(2024, 1, 1, tzinfo=UTC), "2 weeks") == datetime(2024, 1, 15, tzinfo=UTC)


def test_owners() -> None:
    assert page_owner({"owner_slack": "#frontend", "owner": "a@b.c"}) == "#frontend"
    assert page_owner({"owner": "a@b.c"}) == "a@b.c"
    assert page_owner({"reviewers": ["@ann", "@bo"]}) == "@ann, @bo"
    assert page_owner({}, "#gds-way") == "#gds-way"


def meta(updated: datetime, **rule: object) -> DocMeta:
    return DocMeta("s:a.md", "s", "a.md", "A", "h", updated, DateOrigin.FRONT_MATTER, **rule)  # type: ignore[arg-type]


def test_a_page_rule_beats_source_and_path_thresholds() -> None:
    policy = StalenessPolicy(default=timedelta(days=30), by_source=(("s", timedelta(days=10)),))
    now = datetime(2025, 1, 24, tzinfo=UTC)
    reviewed = datetime(2024, 7, 23, tzinfo=UTC)
    assert policy.check(meta(reviewed, review_in="6 months"), now) is not None  # due 2025-01-23
    assert policy.check(meta(reviewed, review_in="6 months"), datetime(2025, 1, 22, tzinfo=UTC)) is None
    assert policy.check(meta(reviewed, review_in="1 year"), now) is None  # the source says 10 days
    later = datetime(2025, 6, 1, tzinfo=UTC)
    assert policy.check(meta(reviewed, review_by=later), now) is None
    assert policy.check(meta(reviewed, review_by=later), later + timedelta(hours=1)) is not None
    assert policy.check(meta(reviewed), now) is not None  # no rule of its own: the source's 10 days


def test_unparsable_review_date_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: A\nlast_reviewed_on: yyyy-mm-dd\nreview_in: 6 months\n---\n\nBody.\n")
    scan = scan_source(SourceConfig(name="s", path=tmp_path))
    (doc,) = scan.documents
    assert doc.updated_at is None and doc.date_origin is None  # the index then dates it by first sight
    assert doc.review_in == "6 months"


def expected_expired(source: Path, now: datetime) -> dict[str, str]:
    """GOV.UK tech-docs, written out independently: under review when review_in is set; expired when
    last_reviewed_on + review_in (calendar months) is before now. Owner: owner_slack or default_owner_slack."""
    default = "#gds-way"
    out: dict[str, str] = {}
    for page in source.rglob("*.html.md.erb"):
        data, _ = split_front_matter(page.read_text(encoding="utf-8"))
        period = str(data.get("review_in") or "")
        try:
            reviewed = date.fromisoformat(str(data.get("last_reviewed_on")))
        except ValueError:
            continue  # no review date: not under review in the tech-docs sense
        if not period.endswith(("month", "months")):
            continue
        months = reviewed.month - 1 + int(period.split()[0])
        due = datetime(reviewed.year + months // 12, months % 12 + 1, reviewed.day, tzinfo=UTC)
        if due < now:
            out[f"gds-way:{page.relative_to(source).as_posix()}"] = data.get("owner_slack") or default
    return out


@pytest.mark.usefixtures("home")
def test_stale_on_the_gds_way_lists_exactly_the_expired_pages_with_owners(gds_way_clone: Path, tmp_path: Path) -> None:
    source = gds_way_clone / "source"
    assert tech_docs_default_owner(tech_docs_config(source)) == "#gds-way"
    config = tmp_path / "bestbefore.toml"
    config.write_text(
        f'[[sources]]\nname = "gds-way"\npath = "{source}"\n'
        'url_base = "https://gds-way.digital.cabinet-office.gov.uk"\nurl = "{base}/{path_html}"\n'
        '[index]\nembedder = "hashing"\n'
    )
    ingest = runner.invoke(app, ["-c", str(config), "ingest", "--json"], catch_exceptions=False)
    assert ingest.exit_code == 0, ingest.output
    result = runner.invoke(app, ["-c", str(config), "stale", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    expected = expected_expired(source, datetime.now(UTC))
    assert 5 < len(expected) < 60
    assert {row["doc_id"]: row["owner"] for row in listed} == expected
    some = next(row for row in listed if row["owner"] != "#gds-way")
    assert some["url"].endswith(".html") and some["review_by"] < datetime.now(UTC).isoformat()
