"""tfgancomp models: the shipped models and their cards."""

from __future__ import annotations

import json

from tfgancomp.cli.common import say


def add_parsers(commands):
    p = commands.add_parser("models", help="list the shipped models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=models)


def models(args):
    from tfgancomp.deploy import shipped
    rows = []
    for name, directory in shipped.shipped_models().items():
        card = shipped.card(name)
        rows.append({"name": name, "default": name == shipped.DEFAULT_MODEL,
                     "megabytes": shipped.size_bytes(directory) / 1e6,
                     "description": card.get("description", ""),
                     "results": card.get("results", {}),
                     "retired": card.get(shipped.RETIRED),
                     "path": str(directory)})
    if args.json:
        say(json.dumps(rows, indent=2))
        return
    if not rows:
        say("no shipped models")
        return
    for row in rows:
        results = row["results"]
        measured = ", ".join(
            f"{key} {results[key]:.4g}" for key in
            ("bpp", "psnr", "ms_ssim", "detail_ratio") if key in results)
        status = (" (default)" if row["default"] else
                  f" (retired: {row['retired']})" if row["retired"] else "")
        say(f"{row['name']}{status}: {row['description']} "
            f"[{row['megabytes']:.1f} MB]")
        if measured:
            say(f"    on {results.get('images', 'test images')}: "
                f"{measured}")
