"""Turn a cron expression into a ready crontab line and an equivalent systemd user service/timer pair.

Pure text rendering: nothing here touches the system. `cron_to_oncalendar` translates the standard 5-field
cron syntax (and the @daily-style macros) into a systemd `OnCalendar=` spec; `render_schedule` builds the
three files `netflix-elt schedule` prints.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netflix_elt.core.errors import InputError

UNIT_NAME = "netflix-elt"
_HINT = 'give a 5-field cron expression such as "0 6 * * *"'

# Each macro is replaced by its 5-field cron meaning, so it converts exactly like the long form.
# (@weekly is Sunday in cron; systemd's own "weekly" would be Monday, hence the explicit forms.)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# systemd's weekday names, indexed like cron (0 = Sunday); output is ordered Monday first, as systemd does.
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONDAY_FIRST = (1, 2, 3, 4, 5, 6, 0)


@dataclass(frozen=True)
class ScheduleFiles:
    crontab: str  # '# how to install' comment line, then the crontab line (no trailing newline)
    service: str  # full text of netflix-elt.service
    timer: str  # full text of netflix-elt.timer
    on_calendar: str  # the OnCalendar= value used in the timer


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _WEEKDAYS),
)


def _shown(expr: str) -> str:
    return " ".join(expr.split())


def _bad(expr: str, problem: str, hint: str = _HINT) -> InputError:
    return InputError(f'schedule "{_shown(expr)}": {problem}; {hint}')


def _split(expr: str) -> list[str]:
    """The five cron fields of `expr`, with a macro replaced by its long form."""
    text = expr.strip()
    if not text:
        raise _bad(expr, "the expression is empty")
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            raise _bad(expr, "@reboot has no timer equivalent")
        if macro not in _MACROS:
            known = ", ".join(_MACROS)
            raise _bad(expr, f"unknown macro {text}", f"use one of {known} or {_HINT}")
        text = _MACROS[macro]
    fields = text.split()
    if len(fields) != len(_FIELDS):
        raise _bad(expr, f"expected 5 fields (minute hour day-of-month month day-of-week) but found {len(fields)}")
    return fields


def _number(expr: str, field: _Field, token: str) -> int:
    word = token.lower()
    if field.names and word in field.names:
        return field.names[word]
    if not word.isascii() or not word.isdigit():
        allowed = "a number"
        if field.names:
            allowed += f" or a name ({', '.join(field.names)})"
        raise _bad(expr, f"{field.name} value {token!r} is not {allowed}")
    value = int(word)
    if not field.low <= value <= field.high:
        raise _bad(expr, f"{field.name} {value} is out of range {field.low}-{field.high}")
    return value


def _step(expr: str, field: _Field, token: str) -> int:
    span = field.high - field.low + 1
    if not token.isascii() or not token.isdigit() or not 1 <= int(token) <= span:
        raise _bad(expr, f"{field.name} step {token!r} is not a whole number from 1 to {span}")
    return int(token)


# One parsed list item: ("all",), ("value", v), ("range", a, b), ("repeat", start, step), ("values", (v, ...)).
_Item = tuple[Any, ...]


def _parse_item(expr: str, field: _Field, item: str) -> _Item:
    base, slash, step_text = item.partition("/")
    step = _step(expr, field, step_text) if slash else None
    if base == "*":
        return ("all",) if step in (None, 1) else ("repeat", field.low, step)
    first, dash, last = base.partition("-")
    if not first or (dash and not last):
        raise _bad(expr, f"{field.name} item {item!r} is not a number, range (a-b), list (a,b) or step (*/n)")
    start = _number(expr, field, first)
    if not dash:
        return ("value", start) if step is None else ("repeat", start, step)
    end = _number(expr, field, last)
    if start > end:
        raise _bad(expr, f"{field.name} range {base} runs backwards", "write the smaller value first")
    if step is None:
        return ("range", start, end)
    return ("values", tuple(range(start, end + 1, step)))


def _parse_field(expr: str, field: _Field, text: str) -> list[_Item]:
    items = text.split(",")
    if any(not item for item in items):
        raise _bad(expr, f"{field.name} list {text!r} has an empty item")
    return [_parse_item(expr, field, item) for item in items]


def _numeric_spec(field: _Field, items: list[_Item]) -> str:
    """The systemd form of a minute, hour, day-of-month or month field."""
    parts: dict[str, tuple[int, int]] = {}  # token -> sort key

    def add(token: str, start: int, end: int) -> None:
        parts[token] = (start, end)

    for item in items:
        kind = item[0]
        if kind == "all":
            return "*"
        if kind == "value":
            add(f"{item[1]:02d}", item[1], item[1])
        elif kind == "values":
            for v in item[1]:
                add(f"{v:02d}", v, v)
        elif kind == "range":
            start, end = item[1], item[2]
            if (start, end) == (field.low, field.high):
                return "*"
            if start == end:
                add(f"{start:02d}", start, start)
            else:
                add(f"{start:02d}..{end:02d}", start, end)
        else:  # repeat: start, start+step, ... up to the field's maximum
            start, step = item[1], item[2]
            if step == 1 and start == field.low:
                return "*"
            if start + step > field.high:  # only `start` itself matches; systemd rejects such a step
                add(f"{start:02d}", start, start)
            elif step == 1:
                add(f"{start:02d}..{field.high:02d}", start, field.high)
            else:
                add(f"{start:02d}/{step}", start, field.high)
    return ",".join(sorted(parts, key=lambda token: (parts[token], token)))


def _weekdays(field: _Field, items: list[_Item]) -> set[int]:
    """The set of cron weekdays (0 = Sunday .. 6 = Saturday) a day-of-week field matches."""
    days: set[int] = set()
    for item in items:
        kind = item[0]
        if kind == "all":
            values: range | tuple[int, ...] = range(field.low, field.high + 1)
        elif kind == "value":
            values = (item[1],)
        elif kind == "values":
            values = item[1]
        elif kind == "range":
            values = range(item[1], item[2] + 1)
        else:
            values = range(item[1], field.high + 1, item[2])
        days.update(v % 7 for v in values)
    return days


def _weekday_spec(days: set[int]) -> str:
    """systemd weekday list, Monday first: runs of three or more days become `A..B`."""
    ordered = [d for d in _MONDAY_FIRST if d in days]
    runs: list[list[int]] = []
    for d in ordered:
        if runs and _MONDAY_FIRST.index(d) == _MONDAY_FIRST.index(runs[-1][-1]) + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    tokens: list[str] = []
    for run in runs:
        if len(run) >= 3:
            tokens.append(f"{_SYSTEMD_DAYS[run[0]]}..{_SYSTEMD_DAYS[run[-1]]}")
        else:
            tokens.extend(_SYSTEMD_DAYS[d] for d in run)
    return ",".join(tokens)


def cron_to_oncalendar(expr: str) -> str:
    """Convert a 5-field cron expression (or @daily, @hourly, ...) to a systemd OnCalendar= spec.

    The result reads `[DOW ]*-MM-DD HH:MM:00`, e.g. "30 2 * * 1-5" -> "Mon..Fri *-*-* 02:30:00".
    Raises InputError for anything cron would not accept, and for a restricted day-of-month together with
    a restricted day-of-week: cron runs when *either* matches, which one OnCalendar= cannot express.
    """
    fields = _split(expr)
    minute, hour, dom, month, dow = (
        _parse_field(expr, field, text) for field, text in zip(_FIELDS, fields, strict=True)
    )
    if not fields[2].startswith("*") and not fields[4].startswith("*"):
        raise _bad(
            expr,
            "cron runs when EITHER the day-of-month or the day-of-week matches, which a systemd timer cannot express",
            "set one of those two fields to *",
        )
    days = _weekdays(_FIELDS[4], dow)
    prefix = "" if len(days) == 7 else _weekday_spec(days) + " "
    minute_s, hour_s, dom_s, month_s = (
        _numeric_spec(field, items) for field, items in zip(_FIELDS[:4], (minute, hour, dom, month), strict=True)
    )
    return f"{prefix}*-{month_s}-{dom_s} {hour_s}:{minute_s}:00"


def _cron_expression(expr: str) -> str:
    """`expr` as it goes in the crontab line: fields single-spaced, a macro in lower case."""
    text = _shown(expr)
    return text.lower() if text.startswith("@") else text


def _check_path(what: str, path: Path) -> None:
    """Refuse what neither a crontab line nor a unit file can carry safely (both give `\\` a meaning)."""
    text = str(path)
    if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(
            f"{what} path {text!r} contains a backslash or a control character (such as a newline), which a "
            "crontab line or systemd unit cannot hold safely; use a path without one"
        )
    if what == "executable" and any(c in "'\"" for c in text):
        raise InputError(
            f"executable path {text!r} contains a quote, which systemd refuses in ExecStart=; "
            "install or symlink netflix-elt under a path without quotes and try again"
        )


def _systemd_executable(path: Path) -> str:
    """The executable as the first word of ExecStart=: systemd expands %-specifiers there, but not $VARS."""
    return shlex.quote(str(path)).replace("%", "%%")


def _systemd_arg(arg: str) -> str:
    """One ExecStart= argument: shell-quoted (systemd understands that quoting), then `%` and `$` doubled."""
    return shlex.quote(arg).replace("%", "%%").replace("$", "$$")


def _install_comment() -> str:
    return (
        f"# Install (as your user, no root needed):\n"
        f"#   1. copy {UNIT_NAME}.service and {UNIT_NAME}.timer to ~/.config/systemd/user/\n"
        f"#   2. systemctl --user daemon-reload\n"
        f"#   3. systemctl --user enable --now {UNIT_NAME}.timer\n"
        f'# To let the timer fire while you are logged out: loginctl enable-linger "$USER"\n'
        f"# Output goes to the journal: journalctl --user -u {UNIT_NAME}.service\n"
    )


def render_schedule(
    every: str, *, home: Path, executable: Path, inbox: Path | None, lock_timeout: int | None = None
) -> ScheduleFiles:
    """The crontab line and the systemd service/timer pair that run `netflix-elt run` on schedule `every`."""
    on_calendar = cron_to_oncalendar(every)
    cron_expr = _cron_expression(every)
    home = Path(home).expanduser().resolve()
    executable = Path(executable).expanduser().absolute()
    inbox = home / "inbox" if inbox is None else Path(inbox).expanduser().resolve()
    for what, path in (("home", home), ("executable", executable), ("inbox", inbox)):
        _check_path(what, path)
    if lock_timeout is not None and lock_timeout < 0:
        raise InputError(f"lock timeout must be 0 or more seconds, got {lock_timeout}; give --lock-timeout SECONDS")

    args = ["--home", str(home), "--quiet", "run", "--inbox", str(inbox)]
    if lock_timeout is not None:
        args += ["--lock-timeout", str(lock_timeout)]

    command = " ".join(shlex.quote(word) for word in [str(executable), *args])
    log_file = shlex.quote(str(home / "logs" / "cron.log"))
    # cron turns an unescaped % in the command into a newline, even inside quotes.
    logs_dir = shlex.quote(str(home / "logs"))
    line = (f"{cron_expr} mkdir -p {logs_dir} && cd {shlex.quote(str(home))} && {command} >> {log_file} 2>&1").replace(
        "%", "\\%"
    )
    comment = f"# {UNIT_NAME}: add the next line with `crontab -e`; it runs in the home and appends to logs/cron.log"
    crontab = f"{comment}\n{line}"

    exec_start = " ".join([_systemd_executable(executable), *(_systemd_arg(a) for a in args)])
    service = (
        f"# {UNIT_NAME}.service - one pipeline run; started by {UNIT_NAME}.timer.\n"
        f"{_install_comment()}"
        f"\n"
        f"[Unit]\n"
        f"Description=netflix-elt pipeline run\n"
        f"\n"
        f"[Service]\n"
        f"Type=oneshot\n"
        f"WorkingDirectory={str(home).replace('%', '%%')}\n"
        f"ExecStart={exec_start}\n"
        f"Environment=DO_NOT_TRACK=1\n"
    )
    timer = (
        f"# {UNIT_NAME}.timer - starts {UNIT_NAME}.service on the schedule (cron: {cron_expr}).\n"
        f"{_install_comment()}"
        f"\n"
        f"[Unit]\n"
        f"Description=netflix-elt pipeline run on schedule ({cron_expr})\n"
        f"\n"
        f"[Timer]\n"
        f"OnCalendar={on_calendar}\n"
        f"Persistent=true\n"
        f"\n"
        f"[Install]\n"
        f"WantedBy=timers.target\n"
    )
    return ScheduleFiles(crontab=crontab, service=service, timer=timer, on_calendar=on_calendar)
