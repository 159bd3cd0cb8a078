"""The names of the dbt project's models and of what reads them, read from the project's own files.

Python never retypes a model or table name it can find here. The registry reads the same files
dbt builds its manifest from (through `importlib.resources`, so it works from a wheel), without
running dbt:

- the models: every `.sql` file under the project's model paths, its layer the folder it sits in
  (`staging`, `intermediate`, `marts`, `kpi`), and from its `.yml` the `config: meta:` and the
  columns its unique tests declare (a `unique_combination` test, else the first column with a
  `unique` test): the model's grain;
- the sources, with their `config: meta:`;
- the exposures of `models/exposures.yml`: the `ref()`s and `source()`s each one depends on, in
  the order written, which is the order its consumer reads and writes them.

A table netflix-elt itself depends on is found by its role, `config: meta: {role: ...}` in its
yml: `current` (the current catalog), `history` (its SCD2 history), `bridge` (with the
`dimension` it splits out), `staging` (the staged batch), `batch` (the batch being processed),
`changes` (its change set), `guards` and `retitled_keys` (what the drop guards judge),
and, on a source table, `raw`. A project without one raises RegistryError naming the role.

The KPIs have one order, `kpi_models()`: the order the exposures list them (read top to bottom),
then any KPI no exposure reads, by name. Every exposure lists its KPIs in that order
(tests/transform/test_registry.py), so the exports, the LookML and BigQuery agree on it.

It imports nothing above `core`, so every stage from `transform` up (quality, bi, ops) can use it.
The tables below (the raw table and the ledger, created by `warehouse.migrations`) keep their one
name in `warehouse.ledger`; the project declares them as sources, and the tests check the two agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

import yaml

from netflix_elt.core.errors import PipelineError

PROJECT_DIR = "dbt_project"
EXPOSURES_FILE = "exposures.yml"
KPI_LAYER = "kpi"

_REF = re.compile(r"""^\s*ref\(\s*(['"])(\w+)\1\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*(['"])(\w+)\1\s*,\s*(['"])(\w+)\3\s*\)\s*$""")


class RegistryError(PipelineError):
    """The packaged dbt project does not declare something netflix-elt needs (a role, an exposure,
    a model an exposure names). Not the user's fault: the project and the code disagree. Exit 1."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str  # the folder under the model path: staging, intermediate, marts, kpi ("" at its top)
    meta: Mapping[str, Any] = field(default_factory=dict)
    unique_key: tuple[str, ...] = ()  # the grain its yml's unique tests declare; () when none


@dataclass(frozen=True)
class Exposure:
    name: str
    models: tuple[str, ...]  # the ref()s, in the order written
    sources: tuple[tuple[str, str], ...]  # the source()s as (source, table), in the order written


@dataclass(frozen=True)
class Project:
    """One dbt project's models, sources and exposures (see the module docstring)."""

    models: Mapping[str, Model]  # by layer (staging, intermediate, marts, kpi), then by name
    sources: Mapping[tuple[str, str], Mapping[str, Any]]  # (source, table) -> meta
    exposures: Mapping[str, Exposure]  # in the order of exposures.yml
    where: str = "the dbt project"

    def exposure(self, name: str) -> Exposure:
        try:
            return self.exposures[name]
        except KeyError:
            raise RegistryError(
                f"{self.where}: no exposure {name!r} in models/{EXPOSURES_FILE} (it has {', '.join(self.exposures)})"
            ) from None

    def exposure_models(self, name: str) -> tuple[str, ...]:
        """The models exposure `name` reads, in the order written (the order its output uses)."""
        return self.exposure(name).models

    def layer(self, model: str) -> str:
        return self.model(model).layer

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise RegistryError(f"{self.where}: no model {name!r}") from None

    def layer_models(self, layer: str) -> tuple[str, ...]:
        return tuple(m.name for m in self.models.values() if m.layer == layer)

    def kpi_models(self) -> tuple[str, ...]:
        """Every KPI model, in the one KPI order (the exposures', then by name)."""
        return self.layer_models(KPI_LAYER)

    def kpis(self, tables: tuple[str, ...]) -> tuple[str, ...]:
        """The KPI models among `tables` (an exposure's list), in the order given."""
        return tuple(t for t in tables if self.layer(t) == KPI_LAYER)

    def with_role(self, role: str) -> tuple[str, ...]:
        """The models whose `config: meta: role` is `role`, by name."""
        return tuple(sorted(m.name for m in self.models.values() if m.meta.get("role") == role))

    def role(self, role: str) -> str:
        """The one model with `config: meta: {role: <role>}`; RegistryError if none or several."""
        found = self.with_role(role)
        if len(found) != 1:
            what = "no model declares" if not found else f"{len(found)} models ({', '.join(found)}) declare"
            raise RegistryError(
                f"{self.where}: {what} `config: meta: {{role: {role}}}` in its yml; "
                f"netflix-elt needs exactly one {role} table"
            )
        return found[0]

    def bridges(self) -> tuple[str, ...]:
        """The bridge tables (`role: bridge`), by name; RegistryError if there are none."""
        found = self.with_role("bridge")
        if not found:
            raise RegistryError(f"{self.where}: no model declares `config: meta: {{role: bridge}}` in its yml")
        return found

    def bridge(self, dimension: str) -> str:
        """The bridge table of `dimension` (`meta: {role: bridge, dimension: <dimension>}`)."""
        found = [b for b in self.bridges() if self.models[b].meta.get("dimension") == dimension]
        if len(found) != 1:
            raise RegistryError(
                f"{self.where}: {len(found)} models declare `config: meta: {{role: bridge, dimension: {dimension}}}`; "
                "netflix-elt needs exactly one"
            )
        return found[0]

    def source_role(self, role: str) -> tuple[str, str]:
        """The one source table (source, table) with `config: meta: {role: <role>}`."""
        found = [key for key, meta in self.sources.items() if meta.get("role") == role]
        if len(found) != 1:
            raise RegistryError(
                f"{self.where}: {len(found)} source tables declare `config: meta: {{role: {role}}}`; "
                "netflix-elt needs exactly one"
            )
        return found[0]


def _yaml(file: Traversable) -> dict[str, Any]:
    try:
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{file.name}: not valid YAML ({' '.join(str(exc).split())})") from None
    return doc if isinstance(doc, dict) else {}


def _walk(folder: Traversable, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    """Every file under `folder` with the folders leading to it, in name order."""
    for child in sorted(folder.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child, (*parts, child.name))
        elif child.is_file():
            yield parts, child


def _meta(entry: Mapping[str, Any]) -> dict[str, Any]:
    """`meta:` and `config: meta:` of a yml entry, merged as dbt merges them (config wins)."""
    config = entry.get("config") or {}
    return {**(entry.get("meta") or {}), **(config.get("meta") or {})}


def _tests(entry: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(test name, its arguments) of the `data_tests:` (or older `tests:`) of a yml entry."""
    for test in [*(entry.get("data_tests") or []), *(entry.get("tests") or [])]:
        if isinstance(test, str):
            yield test, {}
        elif isinstance(test, dict) and len(test) == 1:
            ((name, body),) = test.items()
            body = body if isinstance(body, dict) else {}
            yield str(name), {**body, **(body.get("arguments") or {})}


def _unique_key(entry: Mapping[str, Any]) -> tuple[str, ...]:
    for name, args in _tests(entry):
        if name == "unique_combination":
            return tuple(args.get("columns") or ())
    for column in entry.get("columns") or []:
        if any(name == "unique" for name, _ in _tests(column)):
            return (str(column["name"]),)
    return ()


def _exposure(entry: Mapping[str, Any], where: str) -> Exposure:
    name = str(entry.get("name"))
    models: list[str] = []
    sources: list[tuple[str, str]] = []
    for dep in entry.get("depends_on") or []:
        ref, source = _REF.match(str(dep)), _SOURCE.match(str(dep))
        if ref:
            models.append(ref[2])
        elif source:
            sources.append((source[2], source[4]))
        else:
            raise RegistryError(
                f"{where}: exposure {name}: depends_on entry {dep!r} is not ref('model') or source('source', 'table')"
            )
    return Exposure(name, tuple(models), tuple(sources))


def load(root: Traversable | None = None) -> Project:
    """Read the dbt project at `root` (default: the packaged one). Not cached: see `project()`."""
    root = root if root is not None else resources.files("netflix_elt") / PROJECT_DIR
    where = str(root)
    config = _yaml(root / "dbt_project.yml")
    found: dict[str, tuple[str, ...]] = {}  # model -> folders under the model path
    entries: dict[str, Mapping[str, Any]] = {}  # model -> its yml entry
    sources: dict[tuple[str, str], Mapping[str, Any]] = {}
    exposures: dict[str, Exposure] = {}
    for model_path in config.get("model-paths") or ["models"]:
        folder = root / model_path
        if not folder.is_dir():
            continue
        for parts, file in _walk(folder):
            if file.name.endswith(".sql"):
                found[file.name[: -len(".sql")]] = parts
            elif file.name.endswith((".yml", ".yaml")):
                doc = _yaml(file)
                for entry in doc.get("models") or []:
                    entries[str(entry["name"])] = entry
                for source in doc.get("sources") or []:
                    for table in source.get("tables") or []:
                        sources[(str(source["name"]), str(table["name"]))] = _meta(table)
                for entry in doc.get("exposures") or []:
                    exposure = _exposure(entry, f"{where}/{model_path}/{'/'.join((*parts, file.name))}")
                    exposures[exposure.name] = exposure
    models = {
        name: Model(name, parts[0] if parts else "", _meta(entries.get(name, {})), _unique_key(entries.get(name, {})))
        for name, parts in found.items()
    }
    for exposure in exposures.values():
        for name in exposure.models:
            if name not in models:
                raise RegistryError(f"{where}: exposure {exposure.name} depends on ref('{name}'), which is no model")
        for key in exposure.sources:
            if key not in sources:
                raise RegistryError(
                    f"{where}: exposure {exposure.name} depends on source{key!r}, which is not declared"
                )
    # The one KPI order: as the exposures list them, then by name.
    listed = [m for e in exposures.values() for m in e.models if models[m].layer == KPI_LAYER]
    kpi_rank = {name: i for i, name in enumerate(dict.fromkeys(listed))}
    layers = {"staging": 0, "intermediate": 1, "marts": 2, KPI_LAYER: 3}

    def rank(m: Model) -> tuple[int, int, str]:
        return (layers.get(m.layer, len(layers)), kpi_rank.get(m.name, len(kpi_rank)), m.name)

    ordered = {m.name: m for m in sorted(models.values(), key=rank)}
    return Project(ordered, sources, exposures, where)


@functools.cache
def project() -> Project:
    """The packaged dbt project, read once per process."""
    return load()


def exposure_models(name: str) -> tuple[str, ...]:
    """The models exposure `name` of the packaged project reads, in its order."""
    return project().exposure_models(name)


def exposure_sources(name: str) -> tuple[tuple[str, str], ...]:
    """The source tables (source, table) exposure `name` of the packaged project reads."""
    return project().exposure(name).sources


def kpi_models() -> tuple[str, ...]:
    """Every KPI model of the packaged project, in the one KPI order."""
    return project().kpi_models()


def kpis(tables: tuple[str, ...]) -> tuple[str, ...]:
    """The KPI models among `tables`, in the order given."""
    return project().kpis(tables)


def layer(model: str) -> str:
    return project().layer(model)


def unique_key(model: str) -> tuple[str, ...]:
    """The columns model's yml declares unique together (its grain); () when it declares none."""
    return project().model(model).unique_key


def bridge(dimension: str) -> str:
    """The bridge table of `dimension` (country, genre, cast, director)."""
    return project().bridge(dimension)


CURRENT: Final[str] = project().role("current")
HISTORY: Final[str] = project().role("history")
STAGING: Final[str] = project().role("staging")
BATCH: Final[str] = project().role("batch")
CHANGES: Final[str] = project().role("changes")  # the batch's change set
GUARDS: Final[str] = project().role("guards")  # the drop guards' figures, one row
RETITLED_KEYS: Final[str] = project().role("retitled_keys")  # the key-remap guard's evidence
BRIDGES: Final[tuple[str, ...]] = project().bridges()
RAW: Final[str] = project().source_role("raw")[1]


@dataclass(frozen=True)
class Column:
    """A column of a model as its yml documents it: the contract's type, the description, the meta."""

    name: str
    description: str = ""
    data_type: str = ""  # rendered for the target (`timestamptz` on DuckDB, `timestamp` on BigQuery); "" if none
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDocs:
    """A model's documentation: its description, `config: meta:` and columns, in the yml's order."""

    name: str
    description: str
    meta: Mapping[str, Any]
    columns: tuple[Column, ...]


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


_CONDITIONAL_TYPE = re.compile(
    r"""^\{\{\s*(['"])(\w+)\1\s+if\s+target\.type\s*(==|!=)\s*(['"])(\w+)\4\s+else\s+(['"])(\w+)\6\s*\}\}$"""
)


def _render_type(data_type: Any, target: str) -> str:
    """A contract's `data_type` for a target of type `target`. It may be Jinja of the one form the
    project uses, `{{ 'timestamp' if target.type == 'bigquery' else 'timestamptz' }}`, interpreted
    here (no Jinja: the registry imports only the standard library and yaml)."""
    text = str(data_type or "").strip()
    if "{" not in text:
        return text
    m = _CONDITIONAL_TYPE.match(text)
    if m is None:
        raise RegistryError(
            f"data_type {text!r}: netflix-elt reads a plain type or "
            "\"{{ 'a' if target.type == 'x' else 'b' }}\", not other Jinja"
        )
    then, op, value, other = m[2], m[3], m[5], m[7]
    return then if (target == value) == (op == "==") else other


def load_docs(root: Traversable | None = None, target: str = "duckdb") -> dict[str, ModelDocs]:
    """Every documented model of the dbt project at `root` (default: the packaged one): its
    description, meta and columns (description, rendered `data_type`, `meta` merged with
    `config: meta`), as the yml files declare them. Read without dbt or a warehouse."""
    root = root if root is not None else resources.files("netflix_elt") / PROJECT_DIR
    config = _yaml(root / "dbt_project.yml")
    docs: dict[str, ModelDocs] = {}
    for model_path in config.get("model-paths") or ["models"]:
        folder = root / model_path
        if not folder.is_dir():
            continue
        for _, file in _walk(folder):
            if not file.name.endswith((".yml", ".yaml")):
                continue
            for entry in _yaml(file).get("models") or []:
                columns = tuple(
                    Column(
                        str(c["name"]),
                        _one_line(c.get("description")),
                        _render_type(c.get("data_type"), target),
                        _meta(c),
                    )
                    for c in entry.get("columns") or []
                )
                name = str(entry["name"])
                docs[name] = ModelDocs(name, _one_line(entry.get("description")), _meta(entry), columns)
    return docs


@functools.cache
def _packaged_docs(target: str) -> dict[str, ModelDocs]:
    return load_docs(target=target)


def model_docs(model: str, target: str = "duckdb") -> ModelDocs:
    """The packaged project's documentation of `model` (see `load_docs`); RegistryError if its yml
    does not document it."""
    try:
        return _packaged_docs(target)[model]
    except KeyError:
        raise RegistryError(f"the dbt project: no yml documents model {model!r}") from None


def columns(model: str, target: str = "duckdb") -> tuple[Column, ...]:
    """The columns of `model` as its yml documents them (name, description, data_type, meta)."""
    return model_docs(model, target).columns
