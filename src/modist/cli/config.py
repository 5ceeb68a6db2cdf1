"""``modist config show|keys``: what a run would use, without starting one.

``modist config show [RECIPE ...] [key=value ...]`` prints the fully resolved config as
YAML: the defaults, each recipe (with its ``base:`` chain) merged in order, then the
overrides, validated exactly as ``modist pretrain`` does. Its output is itself a recipe
(``modist pretrain --config shown.yaml`` trains the same run).

``modist config keys [SECTION]`` lists every key with its type, default, one line of help
and, for named choices, the values it accepts.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

from modist import configs
from modist.config import CHOICES, KEY_HELP, PretrainConfig, load_config, to_yaml
from modist.configs import recipe_path
from modist.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Show the resolved config of recipes and overrides, or list every config key."
    shipped = ", ".join(sorted(p.stem for p in Path(configs.__file__).parent.glob("*.yaml")))
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the resolved config as YAML (what `modist pretrain` would use)",
                          description="Print the resolved config as YAML: defaults, then each RECIPE in order "
                                      "(later ones win), then the key=value overrides.")
    show.add_argument("items", nargs="*", metavar="RECIPE|key=value",
                      help=f"a shipped recipe ({shipped}), a .yaml file, or a dotted override such as "
                           "train.steps=10; none: the built-in defaults")
    show.set_defaults(func=run_show)
    keys = sub.add_parser("keys", help="list every config key with its type, default and accepted values",
                          description="List every config key with its type, default and accepted values.")
    keys.add_argument("section", nargs="?", default="",
                      help="only this section: data, motion, model, method, optim or train")
    keys.set_defaults(func=run_keys)


def run_show(args: argparse.Namespace) -> int:
    recipes = [item for item in args.items if "=" not in item]
    overrides = [item for item in args.items if "=" in item]
    cfg = load_config([recipe_path(spec) for spec in recipes], overrides)
    origin = ", ".join(recipes) if recipes else "the built-in defaults (no recipe)"
    print(f"# resolved from {origin}" + (f" with {' '.join(overrides)}" if overrides else ""))
    print(to_yaml(cfg), end="")
    return 0


def key_table(section: str = "") -> list[tuple[str, str, str, str, str]]:
    """``(key, type, default, accepted values, help)`` for every config key, in declaration order.

    Example:
        >>> row = next(r for r in key_table("method") if r[0] == "method.cross_view")
        >>> row[:3]
        ('method.cross_view', 'str', 'same')
    """
    sections = {f.name: f for f in dataclasses.fields(PretrainConfig)}
    if section and section not in sections:
        raise ConfigError(f"unknown config section {section!r}; choose from {', '.join(sections)}")
    rows = []
    for name, outer in sections.items():
        if section and name != section:
            continue
        default_section = outer.default_factory()
        hints = typing.get_type_hints(type(default_section))
        for f in dataclasses.fields(default_section):
            key = f"{name}.{f.name}"
            kind = getattr(hints[f.name], "__name__", None) or str(hints[f.name]).replace("typing.", "")
            kind = kind.replace("NoneType", "None")
            allowed = ", ".join(CHOICES[key]) if key in CHOICES else ""
            rows.append((key, kind, repr(getattr(default_section, f.name)).strip("'"), allowed, KEY_HELP.get(key, "")))
    return rows


def run_keys(args: argparse.Namespace) -> int:
    rows = key_table(args.section)
    width = max(len(r[0]) for r in rows)
    kind_width = max(len(r[1]) for r in rows)
    default_width = min(max(len(r[2]) for r in rows), 24)
    for key, kind, default, allowed, help_text in rows:
        line = f"{key:<{width}}  {kind:<{kind_width}}  {default:<{default_width}}  {help_text}"
        print(line + (f" [{allowed}]" if allowed else ""))
    return 0
