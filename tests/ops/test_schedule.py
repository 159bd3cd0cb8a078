"""`netflix-elt schedule`: cron -> systemd OnCalendar conversion and the rendered crontab/service/timer text."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from netflix_elt.core.errors import InputError
from netflix_elt.ops.schedule import ScheduleFiles, cron_to_oncalendar, render_schedule

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# .ci/run installs systemd, so in CI these tests always run (a missing tool fails them there).
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None and not os.environ.get("CI"), reason="systemd-analyze is not installed"
)

# Each expected value is also exactly systemd's own "Normalized form" of it (checked below when possible).
CASES = [
    # the brief's examples
    ("0 6 * * *", "*-*-* 06:00:00"),
    ("*/15 * * * *", "*-*-* *:00/15:00"),
    ("30 2 * * 1-5", "Mon..Fri *-*-* 02:30:00"),
    ("0 0 1 * *", "*-*-01 00:00:00"),
    ("0 12 * * 0,6", "Sat,Sun *-*-* 12:00:00"),
    # minutes and hours
    ("* * * * *", "*-*-* *:*:00"),
    ("0,30 * * * *", "*-*-* *:00,30:00"),
    ("30,0,15 * * * *", "*-*-* *:00,15,30:00"),
    ("5/10 * * * *", "*-*-* *:05/10:00"),
    ("10-50/20 * * * *", "*-*-* *:10,30,50:00"),
    ("*/7 * * * *", "*-*-* *:00/7:00"),
    ("*/59 * * * *", "*-*-* *:00/59:00"),
    ("*/60 * * * *", "*-*-* *:00:00"),  # only minute 0 matches; systemd refuses "00/60"
    ("*/1 * * * *", "*-*-* *:*:00"),
    ("0-59 * * * *", "*-*-* *:*:00"),
    ("5-5 * * * *", "*-*-* *:05:00"),
    ("00 06 * * *", "*-*-* 06:00:00"),
    ("0 */2 * * *", "*-*-* 00/2:00:00"),
    ("0 9-17 * * *", "*-*-* 09..17:00:00"),
    ("0 9-17/4 * * *", "*-*-* 09,13,17:00:00"),
    ("0 23/2 * * *", "*-*-* 23:00:00"),
    ("15 8,20 * * *", "*-*-* 08,20:15:00"),
    # day of month and month
    ("0 0 */2 * *", "*-*-01/2 00:00:00"),
    ("0 0 */10 * *", "*-*-01/10 00:00:00"),
    ("0 0 1,15 * *", "*-*-01,15 00:00:00"),
    ("0 0 1-31 * *", "*-*-* 00:00:00"),
    ("0 0 31 2 *", "*-02-31 00:00:00"),  # never fires, in cron or systemd
    ("0 0 1 1 *", "*-01-01 00:00:00"),
    ("0 0 1 */3 *", "*-01/3-01 00:00:00"),
    ("0 0 1 jan,jul *", "*-01,07-01 00:00:00"),
    ("0 0 1 Feb-Apr *", "*-02..04-01 00:00:00"),
    ("0 0 * 12/1 *", "*-12-* 00:00:00"),
    # day of week: 0 and 7 are Sunday; output is Monday-first like systemd's
    ("0 12 * * 6,7", "Sat,Sun *-*-* 12:00:00"),
    ("0 0 * * 7", "Sun *-*-* 00:00:00"),
    ("0 0 * * sun", "Sun *-*-* 00:00:00"),
    ("0 0 * * MON-FRI", "Mon..Fri *-*-* 00:00:00"),
    ("0 0 * * */2", "Tue,Thu,Sat,Sun *-*-* 00:00:00"),
    ("0 0 * * 1-5/2", "Mon,Wed,Fri *-*-* 00:00:00"),
    ("0 0 * * 1,2,3,5,6", "Mon..Wed,Fri,Sat *-*-* 00:00:00"),
    ("0 0 * * 5-7", "Fri..Sun *-*-* 00:00:00"),
    ("0 0 * * 4-7,1", "Mon,Thu..Sun *-*-* 00:00:00"),
    ("0 0 * * 0-7", "*-*-* 00:00:00"),
    ("0 0 */2 * 1", "Mon *-*-01/2 00:00:00"),  # day-of-month starts with * -> cron ANDs, like systemd
    ("  0   6  *  *  *  ", "*-*-* 06:00:00"),
    # macros, in their cron meaning (@weekly is Sunday)
    ("@hourly", "*-*-* *:00:00"),
    ("@daily", "*-*-* 00:00:00"),
    ("@midnight", "*-*-* 00:00:00"),
    ("@weekly", "Sun *-*-* 00:00:00"),
    ("@monthly", "*-*-01 00:00:00"),
    ("@yearly", "*-01-01 00:00:00"),
    ("@annually", "*-01-01 00:00:00"),
    ("@Daily", "*-*-* 00:00:00"),
]

INVALID = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("0 6 * *", "expected 5 fields"),
    ("0 6 * * * *", "expected 5 fields"),
    ("every day", "expected 5 fields"),
    ("0 25 * * *", "hour 25 is out of range 0-23"),
    ("60 * * * *", "minute 60 is out of range 0-59"),
    ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month 32 is out of range 1-31"),
    ("0 0 1 13 *", "month 13 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
    ("*/0 * * * *", "minute step '0'"),
    ("*/61 * * * *", "minute step '61'"),
    ("*/x * * * *", "minute step 'x'"),
    ("*/ * * * *", "minute step ''"),
    ("1/2/3 * * * *", "minute step '2/3'"),
    ("0 17-9 * * *", "hour range 17-9 runs backwards"),
    ("0 0 * * fri-mon", "day-of-week range fri-mon runs backwards"),
    ("x * * * *", "minute value 'x' is not a number"),
    ("0 6 * * funday", "day-of-week value 'funday' is not a number or a name"),
    ("0 0 1 * jan", "day-of-week value 'jan'"),  # month names are not weekdays
    ("0 6 * foo *", "month value 'foo'"),
    ("-5 * * * *", "minute item '-5'"),
    ("5- * * * *", "minute item '5-'"),
    ("1,,2 * * * *", "empty item"),
    ("0 6 ? * *", "day-of-month value '?'"),
    ("0 6 L * *", "day-of-month value 'L'"),
    ("0 6 * * 1#2", "day-of-week value '1#2'"),
    ("0 0 1 * 1", "EITHER the day-of-month or the day-of-week"),
    ("0 0 1-7 * mon", "EITHER the day-of-month or the day-of-week"),
    ("@reboot", "@reboot has no timer equivalent"),
    ("@often", "unknown macro @often"),
    ("٣ * * * *", "minute value '٣' is not a number"),  # a non-ASCII digit
]


# -- cron_to_oncalendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(("cron", "expected"), CASES)
def test_cron_to_oncalendar(cron: str, expected: str) -> None:
    assert cron_to_oncalendar(cron) == expected


@pytest.mark.parametrize(("cron", "fragment"), INVALID)
def test_invalid_cron_raises_a_helpful_input_error(cron: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        cron_to_oncalendar(cron)
    message = str(caught.value)
    assert fragment in message
    assert message.startswith(f'schedule "{" ".join(cron.split())}": ')
    assert "\n" not in message
    assert caught.value.exit_code == 2
    # every message ends with what to do
    assert any(hint in message for hint in ('such as "0 6 * * *"', "smaller value first", "one of those two fields"))


def test_out_of_range_message_matches_the_documented_wording() -> None:
    with pytest.raises(InputError) as caught:
        cron_to_oncalendar("0 25 * * *")
    assert str(caught.value) == (
        'schedule "0 25 * * *": hour 25 is out of range 0-23; give a 5-field cron expression such as "0 6 * * *"'
    )


# -- render_schedule -----------------------------------------------------------------------------------


def _render(tmp_path: Path, every: str = "0 6 * * *", **kwargs: object) -> ScheduleFiles:
    home = kwargs.pop("home", tmp_path / "home")
    executable = kwargs.pop("executable", tmp_path / "venv" / "bin" / "netflix-elt")
    inbox = kwargs.pop("inbox", None)
    return render_schedule(every, home=home, executable=executable, inbox=inbox, **kwargs)  # type: ignore[arg-type]


def _unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_render_crontab_line_is_exact(tmp_path: Path) -> None:
    files = _render(tmp_path)
    home, exe = tmp_path / "home", tmp_path / "venv" / "bin" / "netflix-elt"
    comment, line = files.crontab.split("\n")
    assert comment.startswith("# ") and "crontab -e" in comment
    assert line == (
        f"0 6 * * * mkdir -p {home}/logs && cd {home} && "
        f"{exe} --home {home} --quiet run --inbox {home}/inbox >> {home}/logs/cron.log 2>&1"
    )
    assert not files.crontab.endswith("\n")


def test_render_service_is_exact_and_has_no_shell_redirection(tmp_path: Path) -> None:
    files = _render(tmp_path)
    home, exe = tmp_path / "home", tmp_path / "venv" / "bin" / "netflix-elt"
    assert _unit_values(files.service, "ExecStart") == [f"{exe} --home {home} --quiet run --inbox {home}/inbox"]
    assert _unit_values(files.service, "WorkingDirectory") == [str(home)]
    assert _unit_values(files.service, "Type") == ["oneshot"]
    assert _unit_values(files.service, "Environment") == ["DO_NOT_TRACK=1"]
    assert _unit_values(files.service, "Description")
    body = [line for line in files.service.splitlines() if line and not line.startswith("#")]
    assert body[0] == "[Unit]" and "[Service]" in body
    assert ">>" not in files.service and "2>&1" not in files.service
    assert files.service.endswith("\n")


def test_render_timer(tmp_path: Path) -> None:
    files = _render(tmp_path, "30 2 * * 1-5")
    assert files.on_calendar == "Mon..Fri *-*-* 02:30:00"
    assert _unit_values(files.timer, "OnCalendar") == ["Mon..Fri *-*-* 02:30:00"]
    assert _unit_values(files.timer, "Persistent") == ["true"]
    assert _unit_values(files.timer, "WantedBy") == ["timers.target"]
    assert _unit_values(files.timer, "Description")
    sections = [line for line in files.timer.splitlines() if line.startswith("[")]
    assert sections == ["[Unit]", "[Timer]", "[Install]"]


@pytest.mark.parametrize("attr", ["service", "timer"])
def test_units_start_with_install_steps(tmp_path: Path, attr: str) -> None:
    text = getattr(_render(tmp_path), attr)
    header = text.split("[Unit]")[0]
    assert all(line.startswith("#") for line in header.splitlines() if line)
    assert "~/.config/systemd/user/" in header
    assert "systemctl --user daemon-reload" in header
    assert "systemctl --user enable --now netflix-elt.timer" in header


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = render_schedule("0 6 * * *", home=Path("h"), executable=Path("bin/netflix-elt"), inbox=Path("drops/../in"))
    base = tmp_path.resolve()
    command = f"{base / 'bin/netflix-elt'} --home {base / 'h'} --quiet run --inbox {base / 'in'}"
    assert f"cd {base / 'h'} && {command} >> {base / 'h/logs/cron.log'} 2>&1" in files.crontab
    assert _unit_values(files.service, "ExecStart") == [command]
    assert _unit_values(files.service, "WorkingDirectory") == [str(base / "h")]


def test_explicit_inbox_and_lock_timeout(tmp_path: Path) -> None:
    inbox = tmp_path / "drops"
    files = _render(tmp_path, inbox=inbox, lock_timeout=30)
    tail = f"--quiet run --inbox {inbox} --lock-timeout 30"
    assert f"{tail} >> " in files.crontab
    assert _unit_values(files.service, "ExecStart")[0].endswith(tail)


def test_lock_timeout_zero_is_kept_and_negative_is_refused(tmp_path: Path) -> None:
    assert "--lock-timeout 0 " in _render(tmp_path, lock_timeout=0).crontab
    with pytest.raises(InputError, match="lock timeout must be 0 or more seconds, got -1"):
        _render(tmp_path, lock_timeout=-1)


def test_macro_is_kept_in_the_crontab_line(tmp_path: Path) -> None:
    files = _render(tmp_path, " @Weekly ")
    assert files.crontab.split("\n")[1].startswith("@weekly mkdir -p ")
    assert files.on_calendar == "Sun *-*-* 00:00:00"


def test_crontab_uses_the_cron_expression_single_spaced(tmp_path: Path) -> None:
    files = _render(tmp_path, "*/15   *\t* * 1-5")
    assert files.crontab.split("\n")[1].startswith("*/15 * * * 1-5 mkdir -p ")


def test_paths_with_spaces_and_quotes_are_shell_quoted(tmp_path: Path) -> None:
    home = tmp_path / "my home" / "it's here"
    exe = tmp_path / "my venv" / "bin" / "netflix-elt"
    inbox = tmp_path / "in box"
    files = _render(tmp_path, home=home, executable=exe, inbox=inbox)
    line = files.crontab.split("\n")[1]
    assert f"cd {shlex.quote(str(home))} && " in line
    command = line.split(" && ")[-1]
    argv = shlex.split(command)
    log = str(home / "logs" / "cron.log")
    assert argv == [str(exe), "--home", str(home), "--quiet", "run", "--inbox", str(inbox), ">>", log, "2>&1"]
    exec_start = _unit_values(files.service, "ExecStart")[0]
    assert exec_start.startswith(f"'{exe}' --home {shlex.quote(str(home))} ")
    assert shlex.split(exec_start) == [str(exe), "--home", str(home), "--quiet", "run", "--inbox", str(inbox)]
    assert _unit_values(files.service, "WorkingDirectory") == [str(home)]  # systemd takes it verbatim


def test_percent_and_dollar_are_escaped_for_cron_and_systemd(tmp_path: Path) -> None:
    home = tmp_path / "100% $HOME"
    exe = tmp_path / "50%" / "netflix-elt"
    files = _render(tmp_path, home=home, executable=exe)
    line = files.crontab.split("\n")[1]
    # cron turns a bare % into a newline; \% reaches the shell as %
    assert "%" not in line.replace("\\%", "")
    assert shlex.split(line.replace("\\%", "%").split(" && ")[-1])[:3] == [str(exe), "--home", str(home)]
    # systemd: %% is a literal %, $$ a literal $ in arguments; the executable gets no $ expansion
    exec_start = _unit_values(files.service, "ExecStart")[0]
    assert exec_start.startswith(f"{tmp_path}/50%%/netflix-elt --home '{tmp_path}/100%% $$HOME' ")
    assert _unit_values(files.service, "WorkingDirectory") == [str(home).replace("%", "%%")]


@pytest.mark.parametrize(
    ("which", "bad", "fragment"),
    [
        ("home", "new\nline", "control character"),
        ("inbox", "tab\there", "control character"),
        ("executable", "back\\slash", "backslash"),
        ("executable", "it's", "contains a quote"),
        ("executable", 'say "hi"', "contains a quote"),
    ],
)
def test_unrepresentable_paths_are_refused(tmp_path: Path, which: str, bad: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as caught:
        _render(tmp_path, **{which: tmp_path / bad / "netflix-elt"})
    assert "\n" not in str(caught.value)


def test_invalid_schedule_is_refused_by_render(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="hour 25 is out of range"):
        _render(tmp_path, "0 25 * * *")


def test_render_changes_nothing_on_disk(tmp_path: Path) -> None:
    _render(tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- checked against systemd itself --------------------------------------------------------------------


def _systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = {**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""}
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True, env=env, timeout=60)


@needs_systemd_analyze
@pytest.mark.parametrize(("cron", "expected"), CASES)
def test_systemd_accepts_each_oncalendar(cron: str, expected: str) -> None:
    spec = cron_to_oncalendar(cron)
    result = _systemd_analyze("calendar", spec)
    assert result.returncode == 0, result.stderr
    normalized = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if "Normalized form:" in line]
    assert normalized == [spec]


_MACRO_FORMS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
_NAMES = {
    **{n: i for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun"), start=1)},
    **{n: i for i, n in enumerate(("jul", "aug", "sep", "oct", "nov", "dec"), start=7)},
    **{n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}


def _cron_values(text: str, low: int, high: int) -> set[int]:
    """A deliberately separate, minimal reading of one cron field (test oracle)."""
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(_NAMES.get(x.lower(), x)) for x in base.split("-"))
        else:
            first = int(_NAMES.get(base.lower(), base))
            last = high if step else first
        values.update(range(first, last + 1, int(step or 1)))
    return values


def _cron_fire_times(cron: str, after: dt.datetime, count: int) -> list[dt.datetime]:
    minute, hour, dom, month, dow = _MACRO_FORMS.get(cron, cron).split()
    minutes, hours = sorted(_cron_values(minute, 0, 59)), sorted(_cron_values(hour, 0, 23))
    days, months = _cron_values(dom, 1, 31), _cron_values(month, 1, 12)
    weekdays = {d % 7 for d in _cron_values(dow, 0, 7)}
    found: list[dt.datetime] = []
    day = after.date()
    while len(found) < count:
        if day.day in days and day.month in months and (day.weekday() + 1) % 7 in weekdays:
            for h in hours:
                for m in minutes:
                    when = dt.datetime(day.year, day.month, day.day, h, m)
                    if when > after and len(found) < count:
                        found.append(when)
        day += dt.timedelta(days=1)
    return found


EQUIVALENCE = [
    "0 6 * * *",
    "*/15 * * * *",
    "30 2 * * 1-5",
    "0 0 1 * *",
    "0 12 * * 0,6",
    "5/10 * * * *",
    "10-50/20 * * * *",
    "*/7 * * * *",
    "0 */5 * * *",
    "0 9-17/4 * * *",
    "0 0 */10 * *",
    "0 0 1 */3 *",
    "0 0 1 Feb-Apr *",
    "0 0 * * */2",
    "0 0 * * 4-7,1",
    "0 0 */2 * 1",
    "@hourly",
    "@weekly",
    "@monthly",
]


@needs_systemd_analyze
@pytest.mark.parametrize("cron", EQUIVALENCE)
def test_systemd_fires_when_cron_would(cron: str) -> None:
    """The next firings systemd computes for the OnCalendar spec are the ones cron would pick."""
    after = dt.datetime(2026, 1, 1, 0, 0)
    count = 12
    result = _systemd_analyze(
        "calendar", f"--iterations={count}", "--base-time=2026-01-01 00:00:00 UTC", cron_to_oncalendar(cron)
    )
    assert result.returncode == 0, result.stderr
    fired = [
        dt.datetime.strptime(" ".join(line.split(": ", 1)[1].split()[1:3]), "%Y-%m-%d %H:%M:%S")
        for line in result.stdout.splitlines()
        if line.strip().startswith(("Next elapse:", "Iter. #"))
    ]
    assert fired == _cron_fire_times(cron, after, count)


@needs_systemd_analyze
def test_systemd_verifies_the_rendered_units(tmp_path: Path) -> None:
    """systemd parses ExecStart= back to the real executable even through spaces, quotes, % and $."""
    home = tmp_path / "my home 100% $HOME" / "it's"
    exe = tmp_path / "my venv 50% $x" / "bin" / "netflix-elt"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    files = _render(tmp_path, "30 2 * * 1-5", home=home, executable=exe, lock_timeout=30)
    units = tmp_path / "units"
    units.mkdir()
    (units / "netflix-elt.service").write_text(files.service)
    (units / "netflix-elt.timer").write_text(files.timer)
    result = _systemd_analyze("verify", str(units / "netflix-elt.service"), str(units / "netflix-elt.timer"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "netflix-elt" not in result.stderr, result.stderr


@needs_systemd_analyze
def test_systemd_verify_would_notice_a_wrong_executable(tmp_path: Path) -> None:
    """Guard for the test above: verify does fail when ExecStart= names a missing program."""
    files = _render(tmp_path, executable=tmp_path / "no such dir" / "netflix-elt")
    unit = tmp_path / "netflix-elt.service"
    unit.write_text(files.service)
    assert _systemd_analyze("verify", str(unit)).returncode != 0
