"""Run one refresh through ``Services`` (the real hook, publisher and ledger) and SIGKILL this very process around
the change notice's post (for tests/test_change_notices.py).

    python tests/fakes/change_notice_crash_helper.py CONFIG NOW_ISO (--kill-after-post | --kill-before-post)

Settings come from CONFIG and the environment (BESTBEFORE_HOME, SLACK_BOT_TOKEN, SLACK_API_URL), as in production.
``--kill-after-post``: the reply is in Slack, the ledger still says "posting". ``--kill-before-post``: claimed, not
posted. Prints the refresh's JSON record when it is not killed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bestbefore.services import Services  # noqa: E402
from bot.publisher import ChangeNoticeContent, SlackPublisher  # noqa: E402
from rag.config import load_settings  # noqa: E402


class KillingPublisher(SlackPublisher):
    def __init__(self, publisher: SlackPublisher, *, before: bool, after: bool) -> None:
        super().__init__(publisher.client)
        self.before, self.after = before, after

    def post_change_notice(self, channel: str, thread_ts: str, notices: Sequence[ChangeNoticeContent]) -> str:
        if self.before:
            os.kill(os.getpid(), signal.SIGKILL)
        ts = super().post_change_notice(channel, thread_ts, notices)
        if self.after:
            os.kill(os.getpid(), signal.SIGKILL)
        return ts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("now")
    parser.add_argument("--kill-after-post", action="store_true")
    parser.add_argument("--kill-before-post", action="store_true")
    args = parser.parse_args()
    services = Services(load_settings(args.config))
    publisher = services.publisher
    assert publisher is not None, "SLACK_BOT_TOKEN is not set"
    services.__dict__["publisher"] = KillingPublisher(
        publisher, before=args.kill_before_post, after=args.kill_after_post
    )
    report = services.indexer.refresh(services.settings.app.sources, now=datetime.fromisoformat(args.now))
    services.close()
    print(json.dumps(report.total().to_json()))


if __name__ == "__main__":
    main()
