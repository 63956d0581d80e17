"""Field ownership (``metadata.managedFields``) and server-side apply, with the semantics of
Kubernetes' structured-merge-diff (``merge/update.go``) and kube-apiserver's field manager
(``k8s.io/apimachinery/pkg/util/managedfields``).

* A *field set* is a tree of path elements spelled as in kube's ``FieldsV1``: ``f:spec``;
  ``k:{"type":"Ready"}`` for an item of an ``x-kubernetes-list-type: map`` list. Every other
  list is one atomic field: Calico's ``set`` lists too, so a network set of 60,000 nets does
  not carry 60,000 ownership entries, which would take it past what etcd stores.
  ``x-kubernetes-map-type: atomic`` maps are atomic as well; free-form maps (labels) are
  owned key by key.
* An update (create, PUT, PATCH) adds the fields it changed to its manager's ``Update``
  entry and takes them from every other manager (`record_update`).
* An apply makes its manager's ``Apply`` entry exactly the fields of its configuration,
  merges the configuration into the object, removes what the manager applied last time and
  no one manages any more, and raises a 409 `Conflict` naming manager and field when it
  would change a field another manager owns, unless forced, which takes the field over
  (`applied`).
* ``kubectl apply --server-side`` after client-side ``kubectl apply`` (manager ``kubectl``,
  object annotated with its last-applied-configuration) may take the fields that annotation
  still holds, and keeps the annotation up to date, as kube-apiserver lets it.
* Server-owned metadata is never owned. A kind with a status subresource has its
  ``status`` owned only through it, and everything else only through the object.

All functions take the object's `Shape` (compiled once per kind with `shape_of`) and never
mutate their inputs, except `record_update`, which sets the new object's managedFields.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from calicomodel.catalog import API_VERSION
from calicomodel.errors import BadRequest, Cause, Conflict

FIELDS_TYPE = "FieldsV1"
BEFORE_FIRST_APPLY = "before-first-apply"   # owns what an object held before its first apply
ANCIENT_CHANGES = "ancient-changes"         # owns what the oldest of too many updaters did
MAX_UPDATERS = 10                           # Update entries an object keeps (kube's default)
KUBECTL = "kubectl"                         # kubectl apply --server-side's field manager
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# ObjectMeta's map lists and their keys, as kube-apiserver types them (CRDs leave them out).
_OBJECT_META_KEYS = {"ownerReferences": ["uid"]}


class _Missing:
    """An absent value (``None`` is JSON null)."""


MISSING: Any = _Missing()


# -- shapes -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Shape:
    """How structured-merge-diff sees one place of an object: a ``map`` (its declared
    ``fields``; ``elements`` for any other key), a granular ``list`` of ``elements`` keyed by
    ``keys``, an atomic ``leaf``, or ``deduced`` from the value (free-form data)."""

    type: str
    fields: dict[str, Shape] = field(default_factory=dict)
    elements: Shape | None = None
    keys: tuple[str, ...] = ()

    def child(self, element: str) -> Shape:
        """The shape at path element ``element`` below this one."""
        if self.type == "map" and element.startswith("f:"):
            return self.fields.get(element[2:]) or self.elements or DEDUCED
        if self.type == "list":
            return self.elements or DEDUCED
        return DEDUCED if self.type == "deduced" else LEAF


LEAF = Shape("leaf")
DEDUCED = Shape("deduced")
_DEDUCED_MAP = Shape("map", elements=DEDUCED)


def shape_of(schema: dict) -> Shape:
    """The shape of a kind's objects, from its JSON Schema."""
    meta = schema.get("properties", {}).get("metadata")
    if isinstance(meta, dict):
        fields = meta.get("properties", {})
        lists = {name: {**fields[name], "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": keys}
                 for name, keys in _OBJECT_META_KEYS.items() if name in fields}
        meta = {**meta, "properties": {**fields, **lists}}
        schema = {**schema, "properties": {**schema["properties"], "metadata": meta}}
    return _shape(schema)


def _shape(schema: dict) -> Shape:
    kind = schema.get("type")
    if kind == "array":
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        if schema.get("x-kubernetes-list-type") != "map" or not keys:
            return LEAF
        return Shape("list", elements=_shape(schema.get("items") or {}), keys=keys)
    if kind == "object" or "properties" in schema:
        if schema.get("x-kubernetes-map-type") == "atomic":
            return LEAF
        extra = schema.get("additionalProperties")
        return Shape("map", {name: _shape(sub) for name, sub in
                             schema.get("properties", {}).items()},
                     _shape(extra) if isinstance(extra, dict) else DEDUCED)
    return LEAF


def _resolved(shape: Shape, value: Any) -> Shape:
    if shape.type == "deduced":
        return _DEDUCED_MAP if isinstance(value, dict) else LEAF
    return shape


def _granular(shape: Shape, *values: Any) -> bool:
    """Whether ``values`` (each a container or MISSING) are walked item by item rather than
    compared whole: a map or list shape, containers of its type, not all empty."""
    container = {"map": dict, "list": list}.get(shape.type)
    present = [v for v in values if v is not MISSING]
    return container is not None and all(isinstance(v, container) for v in present) and \
        any(present)


def _item(shape: Shape, item: Any, index: int) -> str:
    """The path element of a list item: its keys, or its index when it lacks them."""
    if isinstance(item, dict) and all(k in item for k in shape.keys):
        return "k:" + _json({k: item[k] for k in shape.keys})
    return f"i:{index}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def same(a: Any, b: Any) -> bool:
    """JSON equality (``True`` is not ``1``; ``1`` is ``1.0``): Python's ``==`` (fast, and
    true of any two same values), then a walk for the booleans it confuses with numbers."""
    if a != b:
        return False
    if isinstance(a, dict):
        return all(type(v) is str or same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return all(type(x) is str or same(x, y) for x, y in zip(a, b))
    return isinstance(a, bool) == isinstance(b, bool)


# -- field sets -------------------------------------------------------------------------------
@dataclass
class FieldSet:
    """Owned paths as a tree: ``members`` are owned path elements (the field itself, as a
    whole), ``children`` the sets below path elements."""

    members: set[str] = field(default_factory=set)
    children: dict[str, FieldSet] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.members or self.children)

    def insert(self, path: tuple[str, ...]) -> None:
        node = self
        for element in path[:-1]:
            node = node.children.setdefault(element, FieldSet())
        node.members.add(path[-1])

    def union(self, other: FieldSet) -> FieldSet:
        children = dict(self.children)
        for element, child in other.children.items():
            children[element] = children[element].union(child) if element in children else child
        return FieldSet(self.members | other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of ``other`` leave; a member of ``other`` does not take the paths below
        it (structured-merge-diff's ``Difference``)."""
        children = {}
        for element, child in self.children.items():
            rest = child.difference(other.children[element]) if element in other.children \
                else child
            if rest:
                children[element] = rest
        return FieldSet(self.members - other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for element, child in self.children.items():
            if element in other.children and (both := child.intersection(other.children[element])):
                children[element] = both
        return FieldSet(self.members & other.members, children)

    def without(self, element: str) -> FieldSet:
        """This set less everything at and below the top-level ``element``."""
        return FieldSet(self.members - {element},
                        {k: v for k, v in self.children.items() if k != element})

    def only(self, element: str) -> FieldSet:
        """The part of this set at and below the top-level ``element``."""
        return FieldSet(self.members & {element},
                        {k: v for k, v in self.children.items() if k == element})

    def paths(self, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        for element in sorted(self.members | self.children.keys(), key=_order):
            if element in self.members:
                yield (*prefix, element)
            if element in self.children:
                yield from self.children[element].paths((*prefix, element))

    def to_json(self) -> dict:
        """``FieldsV1``: ``{"f:spec": {"f:cidr": {}}}``; a member that has children too
        holds ``".": {}``."""
        out: dict[str, dict] = {}
        for element in sorted(self.members | self.children.keys(), key=_order):
            node = self.children[element].to_json() if element in self.children else {}
            out[element] = {".": {}, **node} if element in self.members and node else node
        return out

    @classmethod
    def from_json(cls, data: Any) -> FieldSet:
        """Raises ValueError for anything that is not ``FieldsV1``."""
        if not isinstance(data, dict):
            raise ValueError("fieldsV1 must be an object")
        out = cls()
        for element, node in data.items():
            if element == ".":
                continue
            if not isinstance(node, dict) or element[:2] not in ("f:", "k:", "v:", "i:"):
                raise ValueError(f"invalid path element {element!r}")
            if not node or "." in node:
                out.members.add(element)
            child = cls.from_json(node)
            if child:
                out.children[element] = child
        return out


def _order(element: str) -> tuple[int, str]:
    return "fkvi".index(element[0]), element


def display(path: tuple[str, ...]) -> str:
    """A path as kube prints it: ``.spec.cidr``, ``.status.conditions[type="Ready"]``."""
    out = ""
    for element in path:
        tag, text = element[0], element[2:]
        if tag == "f":
            out += "." + text
        elif tag == "k":
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(text).items()) + "]"
        elif tag == "v":
            out += f"[={text}]"
        else:
            out += f"[{text}]"
    return out


# Fields the server owns: never in anyone's set (kube's stripMetaManager).
_SERVER_OWNED = FieldSet({"f:apiVersion", "f:kind", "f:metadata"}, {"f:metadata": FieldSet({
    f"f:{name}" for name in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                             "clusterName", "generation", "managedFields", "resourceVersion")})})


# -- walks over values ------------------------------------------------------------------------
def field_set(shape: Shape, value: Any) -> FieldSet:
    """The fields ``value`` sets (kube's ``ToFieldSet``): leaves, list items, map keys, and
    fields set to null or ``{}``. BadRequest for a map list with two items of one key."""
    out = FieldSet()
    _collect(shape, value, (), out)
    return out


def _collect(shape: Shape, value: Any, path: tuple[str, ...], out: FieldSet) -> None:
    shape = _resolved(shape, value)
    if shape.type == "map" and isinstance(value, dict):
        for key, child in value.items():
            sub = (*path, "f:" + key)
            _collect(shape.child(sub[-1]), child, sub, out)
            if child is None or child == {} or key not in shape.fields:
                out.insert(sub)
    elif shape.type == "list" and isinstance(value, list):
        seen = set()
        for index, item in enumerate(value):
            sub = (*path, _item(shape, item, index))
            if sub[-1] in seen:
                raise BadRequest(f"{display(path)}: duplicate entries for key {display(sub[-1:])}")
            seen.add(sub[-1])
            _collect(shape.child(sub[-1]), item, sub, out)
            out.insert(sub)
    elif path:
        out.insert(path)


@dataclass
class Comparison:
    """What changed between two versions of an object."""

    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def changed(self) -> FieldSet:
        return self.modified.union(self.added)

    def within(self, scope: Callable[[FieldSet], FieldSet]) -> Comparison:
        return Comparison(scope(self.added), scope(self.modified), scope(self.removed))


def compare(shape: Shape, old: Any, new: Any) -> Comparison:
    out = Comparison()
    _compare(shape, old, new, (), out)
    return out


def _compare(shape: Shape, old: Any, new: Any, path: tuple[str, ...], out: Comparison) -> None:
    shape = _resolved(shape, new if new is not MISSING else old)
    if _granular(shape, old, new):
        for element, before, after in _pairs(shape, old, new):
            sub = (*path, element)
            if isinstance(before, _Duplicates) or isinstance(after, _Duplicates):
                if not same(before, after):
                    out.modified.insert(sub)
            else:
                _compare(shape.child(element), before, after, sub, out)
    elif path and old is not MISSING and new is not MISSING:
        if not same(old, new):
            out.modified.insert(path)
        return
    if path and old is MISSING:
        out.added.insert(path)
    elif path and new is MISSING:
        out.removed.insert(path)


class _Duplicates(list):
    """The items of a list that share one key (compared only as a whole)."""


def _pairs(shape: Shape, old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    """(path element, old value, new value) for every key or item of either container."""
    if shape.type == "map":
        before = old if isinstance(old, dict) else {}
        after = new if isinstance(new, dict) else {}
        for key in {**before, **after}:
            yield "f:" + key, before.get(key, MISSING), after.get(key, MISSING)
        return
    before, after = _indexed(shape, old), _indexed(shape, new)
    for element in {**before, **after}:
        yield element, before.get(element, MISSING), after.get(element, MISSING)


def _indexed(shape: Shape, items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, item in enumerate(items if isinstance(items, list) else ()):
        element = _item(shape, item, index)
        if element in out:
            previous = out[element]
            out[element] = _Duplicates([*previous, item] if isinstance(previous, _Duplicates)
                                       else [previous, item])
        else:
            out[element] = item
    return out


def merge(shape: Shape, live: Any, config: Any) -> Any:
    """``config`` merged into ``live``: maps key by key, map lists item by item (in the
    configuration's order, live-only items where they were), anything else replaced."""
    if config is MISSING:
        return live
    if live is MISSING:
        return copy.deepcopy(config)
    shape = _resolved(shape, config)
    if not _granular(shape, live, config):
        return copy.deepcopy(config)
    if shape.type == "map":
        out = {}
        for key in {**live, **config}:
            if key in config and config[key] is None:
                continue      # null in an applied configuration removes the field
            out[key] = merge(shape.child("f:" + key), live.get(key, MISSING),
                             config.get(key, MISSING))
        return out
    return _merge_items(shape, live, config)


def _merge_items(shape: Shape, live: list, config: list) -> list:
    """structured-merge-diff's order: items the configuration shares with the live list
    take the configuration's order; live-only items keep their place."""
    lives = [_item(shape, item, i) for i, item in enumerate(live)]
    configs = [_item(shape, item, i) for i, item in enumerate(config)]
    live_of, config_of = dict(zip(reversed(lives), reversed(live))), dict(zip(configs, config))
    shared = [element for element in configs if element in live_of]
    out, merged, next_shared, li, ri = [], set(), 0, 0, 0
    child = shape.child("")
    while li < len(lives) or ri < len(configs):
        if li < len(lives) and ri < len(configs):
            element = lives[li]
            if element == configs[ri]:
                merged.add(element)
                out.append(merge(child, live_of[element], config_of[element]))
                li, ri, next_shared = li + 1, ri + 1, next_shared + 1
                continue
            if element in config_of and next_shared < len(shared) and \
                    shared[next_shared] != element:
                li += 1
                continue
        if li < len(lives):
            element = lives[li]
            if element not in config_of:
                out.append(live[li])
                li += 1
                continue
            if element in merged:
                li += 1
        if ri < len(configs):
            element = configs[ri]
            merged.add(element)
            out.append(merge(child, live_of.get(element, MISSING), config_of[element]))
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == element:
                next_shared += 1
    return out


class _Emptied:
    """A container whose every entry was removed."""


_EMPTIED = _Emptied()


def remove(shape: Shape, value: Any, fields: FieldSet) -> Any:
    """``value`` without the fields, keys and items that are members of ``fields`` (kube's
    ``RemoveItems``); a container emptied that way goes too."""
    shape = _resolved(shape, value)
    if not fields or not _granular(shape, value):
        return value
    kept, emptied = [], False
    entries = value.items() if shape.type == "map" else \
        ((_item(shape, item, i), item) for i, item in enumerate(value))
    for key, child in entries:
        element = "f:" + key if shape.type == "map" else key
        if element in fields.members:
            continue
        if element in fields.children:
            child = remove(shape.child(element), child, fields.children[element])
            if child is _EMPTIED:
                emptied = True
                continue
        kept.append((key, child))
    if not kept and not emptied:
        return _EMPTIED
    return dict(kept) if shape.type == "map" else [child for _, child in kept]


def _named_fields(shape: Shape, fields: FieldSet) -> FieldSet:
    """``fields`` with every declared field that has owned paths below it owned too (kube's
    ``EnsureNamedFieldsAreMembers``), so that removing it is a decision about the field."""
    members = set(fields.members)
    children = {}
    for element, child in fields.children.items():
        if shape.type == "map" and element[2:] in shape.fields and element.startswith("f:"):
            members.add(element)
        children[element] = _named_fields(shape.child(element), child)
    return FieldSet(members, children)


# -- managers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Writer:
    """Who writes, as ``managedFields`` names it: a field manager and the subresource it
    writes through ("" for the object itself); ``status_apart`` when the kind has a status
    subresource."""

    manager: str
    subresource: str = ""
    status_apart: bool = False

    def scope(self, fields: FieldSet) -> FieldSet:
        """The part of ``fields`` this write owns: only ``status`` through the status
        subresource, all but ``status`` through an object that has one (kube's reset
        fields)."""
        if self.subresource == "status":
            return fields.only("f:status")
        return fields.without("f:status") if self.status_apart else fields


@dataclass
class _Entry:
    """One managedFields entry: who wrote how (Apply or Update) and when, and what it owns."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Who an entry belongs to: an applier across versions, an updater per version."""
        version = "" if self.operation == "Apply" else self.api_version
        return self.manager, self.operation, version, self.subresource

    def as_json(self) -> dict:
        out = {"manager": self.manager, "operation": self.operation,
               "apiVersion": self.api_version, "time": self.time, "fieldsType": FIELDS_TYPE,
               "fieldsV1": self.fields.to_json(), "subresource": self.subresource}
        return {k: v for k, v in out.items() if v not in ("", None)}

    def who(self) -> str:
        """The manager as a conflict message names it."""
        name = json.dumps(self.manager)
        if self.subresource:
            name += f" with subresource {json.dumps(self.subresource)}"
        return f"{name} using {self.api_version}" if self.operation == "Update" else name


Managers = dict[tuple[str, str, str, str], _Entry]


def _decoded(entries: Any) -> Managers:
    """The managers of a managedFields list. Raises ValueError for a malformed one."""
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    out: Managers = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("operation") not in ("Apply", "Update") \
                or not entry.get("apiVersion") or entry.get("fieldsType") != FIELDS_TYPE \
                or not isinstance(entry.get("time", ""), (str, type(None))):
            raise ValueError("a managedFields entry needs an operation (Apply or Update), an "
                             "apiVersion and fieldsType FieldsV1")
        decoded = _Entry(str(entry.get("manager", "")), entry["operation"], entry["apiVersion"],
                         str(entry.get("subresource", "")), entry.get("time"),
                         FieldSet.from_json(entry.get("fieldsV1", {})))
        out[decoded.key] = decoded
    return out


def _encoded(managers: Managers) -> list[dict]:
    """kube's order: Apply before Update, then by time, manager, version, subresource."""
    entries = [e for e in managers.values() if e.fields]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version,
                                e.subresource))
    return [e.as_json() for e in entries]


def _managers(obj: dict | None) -> Managers:
    """The managers an object records; none when it records none or garbage."""
    try:
        return _decoded((obj or {}).get("metadata", {}).get("managedFields") or [])
    except ValueError:
        return {}


def _set_managers(obj: dict, managers: Managers) -> None:
    entries = _encoded(managers)
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)


def _update_managers(shape: Shape, old: Any, new: Any, managers: Managers,
                     writer: tuple[str, str, str, str] | None,
                     scope: Callable[[FieldSet], FieldSet], *, force: bool,
                     allowed: FieldSet) -> Comparison:
    """Take what changed between ``old`` and ``new`` from every manager but ``writer``;
    raise the apply Conflict instead when any owned a changed field, unless ``force`` or
    the field is ``allowed``."""
    changes = compare(shape, old, new).within(scope)
    changed = changes.changed()
    conflicts = [(entry, path) for key, entry in managers.items() if key != writer
                 for path in entry.fields.intersection(changed).difference(allowed).paths()]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for key, entry in managers.items():
        if key != writer:
            entry.fields = entry.fields.difference(changed).difference(changes.removed)
    return changes


def _conflict_error(conflicts: list[tuple[_Entry, tuple[str, ...]]]) -> Conflict:
    """kube's apply conflict: 409 with one ``FieldManagerConflict`` cause per field."""
    causes = [Cause(display(path), f"conflict with {entry.who()}", "FieldManagerConflict")
              for entry, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.who()}: {display(path)}"
    else:
        lines = []
        for who in sorted({entry.who() for entry, _ in conflicts}):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {display(path)}" for entry, path in conflicts if entry.who() == who]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return Conflict(message, causes=causes)


def _empty_object(obj: dict) -> dict:
    """What a create starts from: an object of the kind with nothing set."""
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind")}


def record_update(shape: Shape, live: dict | None, new: dict, writer: Writer | None,
                  now: str) -> None:
    """Set ``new``'s managedFields for an update of ``live`` (a create when None) by
    ``writer`` (None for the server's own writes, which own nothing).

    The managedFields ``new`` carries are kept when it carries some (a client may rewrite
    them, except through a subresource; ``[{}]`` clears them), the live object's otherwise. The fields that changed go to
    the writer's ``Update`` entry, stamped ``now``, and leave every other manager. An
    existing object that records no managers is left so, as kube-apiserver does."""
    given = None if writer is not None and writer.subresource else \
        new["metadata"].get("managedFields")
    try:
        managers = {} if given == [{}] else _decoded(given) if given else _managers(live)
    except ValueError:
        managers = _managers(live)
    if writer is not None and (managers or live is None):
        base = live if live is not None else _empty_object(new)
        changes = _update_managers(shape, base, new, managers, None, writer.scope, force=True,
                                   allowed=FieldSet())
        changed = changes.changed().difference(_SERVER_OWNED)
        if changed:
            entry = _Entry(writer.manager, "Update", API_VERSION, writer.subresource, now,
                           FieldSet())
            entry = managers.setdefault(entry.key, entry)
            entry.fields, entry.time = entry.fields.union(changed), now
            _cap_updaters(managers)
    _set_managers(new, managers)


def _cap_updaters(managers: Managers) -> None:
    """At most MAX_UPDATERS ``Update`` entries: the oldest merge into ANCIENT_CHANGES (kube's
    capManagersManager), so an object written by ever new clients stays small."""
    while sum(e.operation == "Update" for e in managers.values()) > MAX_UPDATERS:
        oldest = min((e for e in managers.values()
                      if e.operation == "Update" and e.manager != ANCIENT_CHANGES),
                     key=lambda e: (e.time or "", e.key))
        del managers[oldest.key]
        bucket = _Entry(ANCIENT_CHANGES, "Update", oldest.api_version, "", oldest.time,
                        FieldSet())
        bucket = managers.setdefault(bucket.key, bucket)
        bucket.fields = bucket.fields.union(oldest.fields)
        bucket.time = max(bucket.time or "", oldest.time or "") or None


def applied(shape: Shape, live: dict | None, config: dict, writer: Writer, now: str, *,
            force: bool) -> dict:
    """The object after ``writer`` applies ``config`` to ``live`` (None: it does not exist
    yet), with its managedFields. Raises Conflict (409) when a field another manager owns
    would change and not ``force``; BadRequest for a configuration that is not one."""
    if "managedFields" in (config.get("metadata") or {}):
        raise BadRequest("metadata.managedFields must be nil")
    base = live if live is not None else _empty_object(config)
    managers = _managers(base)
    if live is not None and not managers:
        base = copy.deepcopy(base)
        record_update(shape, None, base, Writer(BEFORE_FIRST_APPLY, "", writer.status_apart),
                      now)
        managers = _managers(base)
    scope = writer.scope
    allowed = _still_last_applied(shape, base) if writer.manager == KUBECTL else FieldSet()
    entry = _Entry(writer.manager, "Apply", API_VERSION, writer.subresource, now,
                   scope(field_set(shape, config)))
    last = managers.pop(entry.key, None)
    managers[entry.key] = entry
    merged = merge(shape, base, config)
    if last is not None:
        owned = FieldSet()
        for other in managers.values():
            owned = owned.union(other.fields)
        gone = _named_fields(shape, last.fields).difference(_named_fields(shape, owned))
        merged = remove(shape, merged, gone)
    _update_managers(shape, base, merged, managers, entry.key, scope, force=force,
                     allowed=allowed)
    entry.fields = entry.fields.difference(_SERVER_OWNED)
    _set_managers(merged, managers)
    annotations = merged["metadata"].get("annotations") or {}
    if writer.manager == KUBECTL and annotations.get(LAST_APPLIED):
        applied_now = copy.deepcopy(config)
        (applied_now["metadata"].get("annotations") or {}).pop(LAST_APPLIED, None)
        merged["metadata"]["annotations"] = {**annotations, LAST_APPLIED: _json(applied_now)}
    return merged


def _still_last_applied(shape: Shape, live: dict) -> FieldSet:
    """The fields of ``live``'s last-applied-configuration annotation (client-side kubectl
    apply's) that still hold the values it applied: kubectl's server-side apply may take
    them from their owners (kube's lastAppliedManager)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(text) if text else None
        if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
            return FieldSet()
        changes = compare(shape, last, live)
        return field_set(shape, last).difference(changes.changed()).difference(changes.removed)
    except (ValueError, BadRequest):
        return FieldSet()


def same_object(a: dict, b: dict) -> bool:
    """Whether two versions of an object are the same apart from their resourceVersion and
    the times in their managedFields: a write of one over the other changes nothing."""
    def essence(obj: dict) -> dict:
        meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        if "managedFields" in meta:
            meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                                     if isinstance(e, dict) else e for e in meta["managedFields"]]
        return {**obj, "metadata": meta}
    return same(essence(a), essence(b))
