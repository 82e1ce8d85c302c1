"""``python -m bench``: the real bridge vs the minimal direct client, on the same fakes.

Prints a table, writes JSON (``--json``) and a PNG chart (``--png``, needs matplotlib).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.driver import DriveConfig
from bench.proc import ROOT
from bench.report import ratios, table, write_json, write_png
from bench.run import RunConfig, measure


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--chats", type=int, default=100, help="concurrent chats (default 100)")
    p.add_argument("--messages", type=int, default=3, help="messages per chat (default 3)")
    p.add_argument("--ttft-ms", type=float, default=300.0, help="upstream time to first token")
    p.add_argument("--tokens-per-s", type=float, default=20.0, help="upstream tokens per second")
    p.add_argument("--answer-tokens", type=int, default=200, help="tokens (SSE deltas) per answer")
    p.add_argument(
        "--think-s", type=float, default=2.0, help="user pause between messages (±50%%)"
    )
    p.add_argument(
        "--ramp-s",
        type=float,
        default=None,
        help="first messages spread over this many seconds (default: one answer's duration)",
    )
    p.add_argument("--global-per-s", type=float, default=25.0, help="bridge's bot-wide budget")
    p.add_argument(
        "--demand-x",
        type=float,
        default=None,
        help="set the bot-wide budget so that chats × one edit/s is this many times it",
    )
    p.add_argument("--edit-interval-s", type=float, default=1.0, help="bridge per-chat pacing")
    p.add_argument(
        "--onset",
        action="store_true",
        help="flood onset: every chat's first message at the same instant (no ramp)",
    )
    p.add_argument("--cpu-hog", type=int, default=0, help="busy processes beside the bridge")
    p.add_argument("--groups", type=int, default=0, help="group chats besides the private ones")
    p.add_argument(
        "--group-edit-interval-s", type=float, default=3.0, help="bridge per-group pacing"
    )
    p.add_argument(
        "--bridge-root",
        type=Path,
        default=None,
        help="import the bridge from this checkout (measure another version)",
    )
    p.add_argument("--reply-timeout-s", type=float, default=None, help="give up on a reply")
    p.add_argument("--no-floor", action="store_true", help="skip the minimal-client run")
    p.add_argument("--bridge-module", default="bridge", help="module run as `python -m M run`")
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the bridge under pyinstrument and write its report here (.html or .txt)",
    )
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--png", type=Path, default=None, help="write the chart here")
    p.add_argument("--title", default="", help="title for the chart")
    return p


def config(args: argparse.Namespace) -> RunConfig:
    stream_s = args.ttft_ms / 1000 + args.answer_tokens / max(args.tokens_per_s, 1e-9)
    budget = args.global_per_s
    if args.demand_x:
        budget = round(args.chats / args.edit_interval_s / args.demand_x, 3)
    drive = DriveConfig(
        chats=args.chats,
        messages=args.messages,
        tokens=args.answer_tokens,
        ramp_s=0.0 if args.onset else stream_s if args.ramp_s is None else args.ramp_s,
        think_s=args.think_s,
        reply_timeout_s=args.reply_timeout_s or stream_s + 60.0 + args.chats * 2 / budget,
        groups=args.groups,
    )
    return RunConfig(
        drive=drive,
        ttft_s=args.ttft_ms / 1000,
        tokens_per_s=args.tokens_per_s,
        global_per_s=budget,
        edit_interval_s=args.edit_interval_s,
        group_edit_interval_s=args.group_edit_interval_s,
        cpu_hog=args.cpu_hog,
        bridge_root=(args.bridge_root or ROOT).resolve(),
    )


def targets(cfg: RunConfig) -> dict[str, str]:
    interval_ms = cfg.edit_interval_s * 1000
    return {
        "lost": "0",
        "duplicates": "0",
        "platform_429": "0",
        "platform_calls_peak_per_s.all": f"<= {cfg.global_per_s:g} (budget)",
        "onset_first_text_slack_ms.p95": "<= 150 (onset)",
        "first_visible_overhead_ms.p99": "<= 150 (under budget)",
        "final_overhead_ms.p99": f"<= {interval_ms:g} (under budget)",
        "cpu_s_per_1000_replies": "ratio <= 1.3",
        "rss_peak_mb": "<= 150 @1000 streams",
        "ready_s": "<= 1.5",
    }


async def _both(args: argparse.Namespace, cfg: RunConfig) -> dict[str, Any]:
    module = [args.bridge_module]
    if args.profile is not None:
        renderer = "html" if args.profile.suffix == ".html" else "text"
        out = str(args.profile.resolve())
        module = ["pyinstrument", "-r", renderer, "-o", out, "-m", args.bridge_module]
    doc: dict[str, Any] = await measure("bridge", cfg, module)
    if not args.no_floor:
        floor = await measure("floor", cfg)
        floor.pop("priority", None)
        doc["floor"] = floor
        doc["ratios"] = ratios(doc, floor)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cfg = config(args)
    doc = asyncio.run(_both(args, cfg))
    d = cfg.drive
    demand = d.chats / cfg.edit_interval_s / cfg.global_per_s
    extras = [
        "onset" if args.onset else "",
        f"{d.groups} groups" if d.groups else "",
        f"cpu-hog {cfg.cpu_hog}" if cfg.cpu_hog else "",
    ]
    doc["title"] = args.title or (
        f"{d.chats} chats × {d.messages} msgs, {args.answer_tokens} tokens @ "
        f"{args.tokens_per_s:g}/s, budget {cfg.global_per_s:g}/s (demand {demand:.1f}×)"
        + "".join(f", {e}" for e in extras if e)
    )
    doc["config"] = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "global_per_s": cfg.global_per_s,
        "demand_x": round(demand, 2),
        "ramp_s": round(d.ramp_s, 3),
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    doc["targets"] = targets(cfg)
    print(doc["title"])
    print(table(doc))
    if args.json is not None:
        write_json(doc, args.json)
        print(f"JSON: {args.json}")
    if args.png is not None:
        print(f"PNG: {args.png}" if write_png(doc, args.png) else "PNG skipped: no matplotlib")
    return 0
