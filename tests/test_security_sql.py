"""SQL is built only with parameters: every f-string, %-format, .format() or + that makes SQL
in the service's code is read here (with the ast module), and each value it interpolates must
be code, not data: a constant (UPPER_CASE name), "?" placeholders, or an entry in the short,
justified ALLOWED list below. Anything else fails the test: bind it as a parameter instead.
"""

from __future__ import annotations

import ast
import re

from tests.paths import ROOT

PACKAGES = ("bot", "handlers", "schedules")
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|CREATE|DROP|ALTER|WHERE|VALUES|"
                 r"ORDER BY|GROUP BY|LIMIT|JOIN)\b")
PLACEHOLDERS = re.compile(r"""^["'], ?["']\.join\(\s*["']\?["']\s*\*.*\)$|^["'],\s*["']\.join\(\[["']\?["']\]\s*\*.*\)$""")

# (file, interpolated expression) -> why it cannot carry a member's or a stranger's text.
ALLOWED: dict[tuple[str, str], str] = {
    ("bot/store/__init__.py", "BUSY_TIMEOUT_MS"): "an int constant (PRAGMA takes no parameters)",
    ("bot/store/migrations.py", "version + 1"): "an int from PRAGMA user_version",
    ("bot/store/__init__.py", "left_ms"): "max(1, int(...)): an int, the time budget left",
    ("bot/backup.py", "table"): "table names from the fixed tuple COUNTED",
}
ALLOWED |= {
    ("bot/report.py", "','.join((str(t.id) for t in tasks))"):
        "integer task ids read from the store, each through str(int)",
    ("bot/report.py", "cases"): "'WHEN <task id> THEN <bit>': integers only",
    ("bot/report.py", "sql"): "the statement above it, of integers only (cases, task ids)",
    ("bot/store/tasks.py", "sets"): "'<column> = ?' for columns checked against EDITABLE",
    ("bot/tasks.py", "sets"): "'<column> = ?' for columns checked against EDITABLE",
    ("bot/console/dashboard_data.py", "where"):
        "_branch_sql: ' AND <alias>.branch = ?', the alias a table alias in the code",
    ("bot/store/members.py", "columns"):
        "differs: column names checked against UPSERT_FIELDS just above, values bound",
    ("bot/console/members.py", "where"):
        "_query: fixed clauses, column names looped from a fixed tuple, values bound",
}


def interpolations(node: ast.AST) -> list[ast.expr] | None:
    """The values a SQL-building expression interpolates, or None if it is not one."""
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if SQL.search(text):
            return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) \
            and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str) \
            and SQL.search(node.left.value):
        right = node.right
        return list(right.elts) if isinstance(right, ast.Tuple) else [right]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "format" and isinstance(node.func.value, ast.Constant) \
            and isinstance(node.func.value.value, str) and SQL.search(node.func.value.value):
        return [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        sides = [node.left, node.right]
        if any(isinstance(s, ast.Constant) and isinstance(s.value, str) and SQL.search(s.value)
               for s in sides):
            return [s for s in sides if not isinstance(s, ast.Constant | ast.JoinedStr)]
    return None


def is_code(expr: ast.expr) -> bool:
    """A constant's name (UPPER_CASE, maybe module.NAME), or "?" placeholders."""
    if isinstance(expr, ast.Name | ast.Attribute):
        name = expr.id if isinstance(expr, ast.Name) else expr.attr
        return name.lstrip("_").isupper()
    if isinstance(expr, ast.Constant):
        return True
    return bool(PLACEHOLDERS.match(ast.unparse(expr)))


def is_fixed_sql(expr: ast.expr, scope: ast.AST, depth: int = 0) -> bool:
    """Built only from string literals, constants and placeholders, through names assigned in
    the same function (a WHERE clause put together from fixed clauses, values bound apart)."""
    if depth > 6:
        return False
    if is_code(expr):
        return True
    again = lambda e: is_fixed_sql(e, scope, depth + 1)  # noqa: E731
    if isinstance(expr, ast.JoinedStr):
        return all(again(v.value) for v in expr.values if isinstance(v, ast.FormattedValue))
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return again(expr.left) and again(expr.right)
    if isinstance(expr, ast.IfExp):
        return again(expr.body) and again(expr.orelse)
    if isinstance(expr, ast.List | ast.Tuple):
        return all(again(e) for e in expr.elts)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
            and expr.func.attr == "join" and isinstance(expr.func.value, ast.Constant):
        return all(again(a) for a in expr.args)
    if isinstance(expr, ast.GeneratorExp | ast.ListComp):
        return again(expr.elt)
    if isinstance(expr, ast.Call) and getattr(expr, "helper", None) is not None:
        return is_fixed_sql(expr.args[0], expr.helper, depth + 1)  # a helper's return value
    if isinstance(expr, ast.Name):
        values = assigned(expr.id, scope)
        return bool(values) and all(again(v) for v in values)
    return False


def assigned(name: str, scope: ast.AST) -> list[ast.expr]:
    """Every value given to `name` in `scope`: =, +=, .append(), .extend(); `where, params =
    helper()` follows helper's returns; loop variables are refused (they come from data)."""
    values: list[ast.expr] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            values.append(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            names = [t.id if isinstance(t, ast.Name) else "" for t in node.targets[0].elts]
            if name in names:
                values.extend(unpacked(node.value, names.index(name), scope))
        elif isinstance(node, ast.AugAssign | ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == name and node.value is not None:
            values.append(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("append", "extend", "insert") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name:
            values.extend(node.args[-1:])
        elif isinstance(node, ast.For | ast.comprehension) and any(
                isinstance(t, ast.Name) and t.id == name for t in ast.walk(node.target)):
            values.append(ast.Name(id="<loop variable>"))  # data: never fixed
    return values


def findings() -> list[tuple[str, int, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for scope, node in walk_with_scope(tree):
                for expr in interpolations(node) or []:
                    source = ast.unparse(expr)
                    if (relative, source) in ALLOWED or is_fixed_sql(expr, scope):
                        continue
                    found.append((relative, node.lineno, source))
    return found


MODULE: dict[int, ast.Module] = {}  # id(function) -> its module, for following helpers


def unpacked(value: ast.expr, index: int, scope: ast.AST) -> list[ast.expr]:
    """Element `index` of a tuple-valued expression: a tuple, a conditional of tuples, or a
    call to a function of the same module (its return statements)."""
    if isinstance(value, ast.Tuple) and index < len(value.elts):
        return [value.elts[index]]
    if isinstance(value, ast.IfExp):
        return unpacked(value.body, index, scope) + unpacked(value.orelse, index, scope)
    module = MODULE.get(id(scope), scope)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        for helper in ast.walk(module):
            if isinstance(helper, ast.FunctionDef) and helper.name == value.func.id:
                MODULE[id(helper)] = module
                found = []
                for ret in ast.walk(helper):
                    if isinstance(ret, ast.Return) and ret.value is not None:
                        found += [ast.Call(func=ast.Name(id="<in>"), args=[e], keywords=[],
                                           helper=helper)
                                  for e in unpacked(ret.value, index, helper)]
                return found
    return [ast.Name(id="<unknown>")]


def walk_with_scope(tree: ast.Module):
    """(the enclosing function, or the module, and each node in it)."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    MODULE.update({id(f): tree for f in functions})
    inner = {id(child) for f in functions for child in ast.walk(f) if child is not f}
    for scope in [tree, *functions]:
        for node in ast.walk(scope):
            if scope is tree and id(node) in inner:
                continue
            yield scope, node


def test_sql_interpolates_only_code():
    problems = findings()
    assert not problems, "SQL built from values, not parameters (bind them, or justify in " \
        "ALLOWED):\n" + "\n".join(f"  {f}:{line}: {{{expr}}}" for f, line, expr in problems)


def test_the_check_catches_what_it_should(tmp_path):
    """The detector itself: a value in an f-string, %, .format and + is caught; constants,
    placeholders and parameters are not."""
    bad = ['db.execute(f"SELECT * FROM members WHERE name = \'{name}\'")',
           'db.execute("SELECT * FROM members WHERE id = %s" % member_id)',
           'db.execute("DELETE FROM kv WHERE key = {}".format(key))',
           'db.execute("SELECT * FROM t WHERE a = " + value)']
    good = ['db.execute(f"SELECT {_COLUMNS} FROM members WHERE id = ?", [member_id])',
            "db.execute(f\"SELECT 1 FROM t WHERE id IN ({','.join('?' * len(ids))})\", ids)",
            'db.execute("SELECT * FROM members WHERE name = ?", [name])',
            'log.info(f"imported {count} rows")']
    bad.append("where = ' AND '.join(f\"{c} = '{v}'\" for c, v in filters)\n"
               "db.execute(f'SELECT 1 FROM t WHERE {where}')")
    good.append("clauses = ['active = 1']\nclauses.append('branch = ?')\n"
                "where = ' AND '.join(clauses)\ndb.execute(f'SELECT 1 FROM t WHERE {where}', p)")

    def caught(code: str) -> list[ast.expr]:
        tree = ast.parse(code)
        return [e for node in ast.walk(tree) for e in (interpolations(node) or [])
                if not is_fixed_sql(e, tree)]

    for code in bad:
        assert caught(code), code
    for code in good:
        assert not caught(code), code


def test_allow_lists_name_real_code():
    """An entry for code that is gone must go too, or the list grows stale."""
    for file, expr in ALLOWED:
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        sources = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.expr)}
        assert expr in sources, (file, expr)
