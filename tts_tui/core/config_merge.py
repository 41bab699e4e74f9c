"""The three-way merge behind the config sync, on plain data (DESIGN section 2).

A config is held as a `Snapshot`: `keypath -> value` leaves for everything
outside services, and each service's leaves under its name. `merge` combines
*mine* and *theirs* against *base* key by key; `pending_changes` lists what to
write to turn base into mine. No file access here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tts_tui.core.config_writer import DELETE, Change, KeyPath

Leaves = dict[KeyPath, Any]
MISSING: Any = object()  # "no such key" inside a Snapshot


@dataclass
class Conflict:
    """A key changed in the UI and in the file to different values.

    `keypath` is a value's path, or `("services", NAME)` when one side removed
    the service and the other edited it; then `mine`, `theirs` and `base` are
    the service's table (a dict with its name) or None where it does not exist
    (or, for `base`, is not known). For a value, None means the key is absent
    on that side.
    """

    keypath: KeyPath
    mine: Any
    theirs: Any
    base: Any


@dataclass
class Snapshot:
    """Plain config data as leaves: values outside services, and services by name."""

    top: Leaves = field(default_factory=dict)
    services: dict[str, Leaves] = field(default_factory=dict)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Snapshot:
        """Flatten validated TOML data (every service has a unique name)."""
        top = _flat({k: v for k, v in data.items() if k != "services"}, ())
        services = {
            t["name"]: _flat({k: v for k, v in t.items() if k != "name"}, ())
            for t in data.get("services", [])
        }
        return cls(top, services)

    def copy(self) -> Snapshot:
        return Snapshot(dict(self.top), {n: dict(leaves) for n, leaves in self.services.items()})

    def data(self) -> dict[str, Any]:
        """Nested plain data, as tomllib would give it."""
        data = _nest(self.top)
        data["services"] = [_table(n, leaves) for n, leaves in self.services.items()]
        return data

    def get(self, path: KeyPath) -> Any:
        """The leaf at `path`, or MISSING."""
        if path[0] == "services":
            return self.services.get(path[1], {}).get(path[2:], MISSING)
        return self.top.get(path, MISSING)

    def shown(self, path: KeyPath) -> Any:
        """What a Conflict shows for `path`: a value, a service table, or None."""
        if is_service(path):
            return _table(path[1], self.services.get(path[1]))
        return _public(self.get(path))

    def with_value(self, path: KeyPath, value: Any) -> Snapshot:
        """A copy with the value or table at `path` replaced (DELETE removes it).

        `path` must not be a whole service, and its service must exist.
        """
        new = self.copy()
        if path[0] == "services":
            new.services[path[1]] = _replace(self.services[path[1]], path[2:], value)
        else:
            new.top = _replace(self.top, path, value)
        return new

    def with_service(self, name: str, leaves: Leaves | None, order: list[str]) -> Snapshot:
        """A copy with service `name` set to `leaves` (None removes it), placed as in `order`."""
        new = self.copy()
        new.services.pop(name, None)
        if leaves is not None:
            new.services[name] = dict(leaves)
        new.services = {n: new.services[n] for n in _order(order, list(self.services), new.services)}
        return new

    def taken_from(self, source: Snapshot, path: KeyPath) -> Snapshot:
        """A copy where `path` (a value or a whole service) is as it is in `source`."""
        if is_service(path):
            return self.with_service(path[1], source.services.get(path[1]), list(source.services))
        if path[0] == "services" and path[1] not in self.services:
            return self.copy()
        return self.with_value(path, _or_delete(source.get(path)))

    def rename(self, old: str, new: str) -> None:
        """Rename a service in place, keeping its position."""
        self.services = {new if n == old else n: leaves for n, leaves in self.services.items()}

    def same_as(self, other: Snapshot) -> bool:
        return _same_leaves(self.top, other.top) and self.services.keys() == other.services.keys() and all(
            _same_leaves(leaves, other.services[n]) for n, leaves in self.services.items()
        )


def is_service(path: KeyPath) -> bool:
    """True for `("services", NAME)`: a whole service rather than one of its values."""
    return len(path) == 2 and path[0] == "services"


def flat_service(table: dict[str, Any]) -> Leaves:
    """A service table's leaves (its name is the key it is stored under)."""
    return _flat({k: v for k, v in table.items() if k != "name"}, ())


def merge(base: Snapshot, mine: Snapshot, theirs: Snapshot, conflicts: dict[KeyPath, Conflict]) -> Snapshot:
    """Merge mine and theirs against base; returns the new mine.

    `conflicts` is updated in place: new ones added, settled ones removed. A
    conflicted key keeps mine's value.
    """
    result = Snapshot(top=_merge_leaves((), base.top, mine.top, theirs.top, conflicts))
    kept: dict[str, Leaves] = {}
    for name in dict.fromkeys([*theirs.services, *mine.services, *base.services]):
        b, m, t = (s.services.get(name) for s in (base, mine, theirs))
        leaves = _merge_service(name, b, m, t, conflicts)
        if leaves is not None:
            kept[name] = leaves
    result.services = {n: kept[n] for n in _order(list(theirs.services), list(mine.services), kept)}
    return result


def pending_changes(
    base: Snapshot, mine: Snapshot, conflicts: dict[KeyPath, Conflict], renames: dict[str, str]
) -> list[Change]:
    """What to write to turn base into mine, leaving conflicted keys alone.

    Renames come first (later paths use the new names), removals before
    values are set, so an emptied inline table is reused rather than rebuilt.
    """
    out: list[Change] = [(("services", old, "name"), new) for new, old in renames.items()]
    deletes: list[Change] = []
    sets: list[Change] = []
    adds: list[Change] = []
    for name in base.services:
        if name not in mine.services and ("services", name) not in conflicts:
            out.append((("services", name), DELETE))
    _diff((), base.top, mine.top, conflicts, deletes, sets)
    for name, leaves in mine.services.items():
        key = ("services", name)
        if key in conflicts:
            continue
        if name in base.services:
            _diff(key, base.services[name], leaves, conflicts, deletes, sets)
        else:
            adds.append((key, _nest(leaves)))
    return out + deletes + sets + adds


def _merge_service(
    name: str, b: Leaves | None, m: Leaves | None, t: Leaves | None, conflicts: dict[KeyPath, Conflict]
) -> Leaves | None:
    key = ("services", name)
    if key in conflicts:
        if m is None or t is None:
            if m is None and t is None:
                del conflicts[key]
            else:
                conflicts[key].theirs = _table(name, t)
            return m
        del conflicts[key]  # both have it again: merge its values
    if b is None:
        if m is None or t is None:
            return t if m is None else m
        return _merge_leaves(key, {}, m, t, conflicts)
    if m is None or t is None:
        other = t if m is None else m
        if other is None or _same_leaves(other, b):
            return None  # removed on one side, untouched on the other
        _drop_under(conflicts, key)
        conflicts[key] = Conflict(key, _table(name, m), _table(name, t), _table(name, b))
        return m
    return _merge_leaves(key, b, m, t, conflicts)


def _merge_leaves(prefix: KeyPath, b: Leaves, m: Leaves, t: Leaves, conflicts: dict[KeyPath, Conflict]) -> Leaves:
    out: Leaves = {}
    for k in dict.fromkeys([*t, *m, *b]):
        bv, mv, tv = b.get(k, MISSING), m.get(k, MISSING), t.get(k, MISSING)
        path = prefix + k
        conflict = conflicts.get(path)
        if conflict is not None:
            if _same(mv, tv):
                del conflicts[path]
            else:
                conflict.mine, conflict.theirs = _public(mv), _public(tv)
            value = mv
        elif _same(mv, bv):
            value = tv
        elif _same(tv, bv) or _same(mv, tv):
            value = mv
        else:
            conflicts[path] = Conflict(path, _public(mv), _public(tv), _public(bv))
            value = mv
        if value is not MISSING:
            out[k] = value
    return out


def _diff(
    prefix: KeyPath, b: Leaves, m: Leaves, conflicts: dict[KeyPath, Conflict], deletes: list, sets: list
) -> None:
    for k, v in m.items():
        if prefix + k not in conflicts and not _same(v, b.get(k, MISSING)):
            sets.append((prefix + k, v))
    for k in b:
        if k in m or prefix + k in conflicts:
            continue
        if any(len(o) > len(k) and o[: len(k)] == k for o in m):
            continue  # the table stays, holding mine's new keys
        deletes.append((prefix + k, DELETE))


def _order(first: list[str], second: list[str], kept: dict[str, Any]) -> list[str]:
    """`first`'s order, with names only `second` has placed after their predecessor there."""
    result = [n for n in first if n in kept]
    for i, name in enumerate(second):
        if name in kept and name not in result:
            pos = 0
            for prev in reversed(second[:i]):
                if prev in result:
                    pos = result.index(prev) + 1
                    break
            result.insert(pos, name)
    return result + [n for n in kept if n not in result]


def _drop_under(conflicts: dict[KeyPath, Conflict], key: KeyPath) -> None:
    for path in [p for p in conflicts if len(p) > len(key) and p[: len(key)] == key]:
        del conflicts[path]


def _replace(leaves: Leaves, rel: KeyPath, value: Any) -> Leaves:
    """`leaves` with the value or table at `rel` replaced, keeping the key's place."""
    new = {} if value is DELETE else _flat(value, rel) if isinstance(value, dict) and value else {rel: value}
    out: Leaves = {}
    placed = False
    for k, v in leaves.items():
        if k[: len(rel)] == rel or rel[: len(k)] == k:
            if not placed:
                out.update(new)
                placed = True
            continue
        out[k] = v
    if not placed:
        out.update(new)
    return out


def _flat(value: dict[str, Any], prefix: KeyPath) -> Leaves:
    out: Leaves = {}
    for k, v in value.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v  # an empty table stays, so `extra = { }` is not lost
    return out


def _nest(leaves: Leaves) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in leaves.items():
        node = root
        for k in path[:-1]:
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        if not (value == {} and isinstance(node.get(path[-1]), dict)):
            node[path[-1]] = value
    return root


def _table(name: str, leaves: Leaves | None) -> dict[str, Any] | None:
    return None if leaves is None else {"name": name, **_nest(leaves)}


def _same(a: Any, b: Any) -> bool:
    """Equal as config values: 1 == 1.0, but True is not 1."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _same_leaves(a: Leaves, b: Leaves) -> bool:
    return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())


def _public(value: Any) -> Any:
    return None if value is MISSING else value


def _or_delete(value: Any) -> Any:
    return DELETE if value is MISSING else value
