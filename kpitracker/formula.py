"""Formula metrics: untrusted arithmetic over metric values, checked and then evaluated safely.

A formula is written by a server admin of any server the bot is in, so it is hostile input. It
goes through two gates:

1. `parse_formula` parses it with `ast` and walks the tree against an allow-list: numbers,
   metric names, `+ - * / **`, unary signs, parentheses and calls to `min`, `max`, `abs` and
   `round`. Anything else (attributes, strings, f-strings, comprehensions, lambdas, indexing,
   comparisons, keywords, statements) is refused with its column. Parts made of numbers only
   are folded with the same checked arithmetic, so `10**10**10` or `(9**9999)**9999` are
   refused here, before anything is evaluated.
2. `evaluate` runs the checked tree in a fresh asteval `Interpreter` whose symbol table holds
   only the formula's metric values and the four functions, with every other node type
   switched off. Arithmetic is done in floats through checked operators (exponent and result
   size limits, a time bound), and asteval's recorded error is read back: a division by zero,
   an input with no data, NaN or infinity make the result "no data", never 0.
"""

from __future__ import annotations

import ast
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from asteval import Interpreter

MAX_FORMULA_LENGTH = 500
MAX_NUMBER = 1e12  # the largest number a formula may spell out
MAX_VALUE = 1e15  # the largest value any step of a formula may reach
MAX_EXPONENT = 100
MAX_DEPTH = 40
MAX_ROUND_DIGITS = 10
TIME_LIMIT_SECONDS = 0.05

FUNCTIONS = ("min", "max", "abs", "round")
ALLOWED = "metric names, numbers, + - * / **, parentheses and min, max, abs, round"

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

# What a person would call each construct a formula may not use.
_REFUSED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Slice: "slicing",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Lambda: "lambda functions",
    ast.NamedExpr: "assignments",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "if-expressions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dictionaries",
    ast.Starred: "unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class FormulaError(ValueError):
    """A formula that is refused; the message says where and why, in one sentence."""


class NoData(ArithmeticError):
    """A step of an evaluation that has no meaningful value (division by zero, overflow)."""


@dataclass(frozen=True)
class Formula:
    """A checked formula: its text, its tree, and the metrics it reads."""

    text: str
    tree: ast.Expression = field(compare=False, repr=False)
    # written name -> full metric name, in the order the names first appear
    inputs: dict[str, str] = field(compare=False)

    @property
    def metrics(self) -> list[str]:
        """The full names of the metrics the formula reads, without repeats."""
        return list(dict.fromkeys(self.inputs.values()))


@dataclass(frozen=True)
class Evaluation:
    """A formula's value, or None ("no data") with the reason."""

    value: float | None
    reason: str | None = None


def _where(node: ast.AST) -> str:
    return f"at column {getattr(node, 'col_offset', 0) + 1}"


def _check_number(value: float, node: ast.AST, limit: float, what: str) -> float:
    if not math.isfinite(value) or abs(value) > limit:
        raise FormulaError(f"{what} {_where(node)} is larger than {limit:g}; use smaller numbers.")
    return value


# -- checked arithmetic, used both to fold constants and by the interpreter --------------------


def checked_power(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise NoData(f"the exponent {exponent:g} is larger than {MAX_EXPONENT}")
    if base == 0 and exponent < 0:
        raise NoData("zero has no negative power")
    if base < 0 and not float(exponent).is_integer():
        raise NoData("a negative number has no fractional power")
    if base != 0 and exponent * math.log10(abs(base)) > math.log10(MAX_VALUE):
        raise NoData(f"the power grows past {MAX_VALUE:g}")
    return float(base) ** float(exponent)


def checked_binary(op: ast.operator, left: float, right: float) -> float:
    """`left op right` on floats, refusing results past MAX_VALUE and impossible powers."""
    for operand in (left, right):
        if not isinstance(operand, float) or not math.isfinite(operand):
            raise NoData("a value in the formula is not a finite number")
    if isinstance(op, ast.Add):
        result = left + right
    elif isinstance(op, ast.Sub):
        result = left - right
    elif isinstance(op, ast.Mult):
        result = left * right
    elif isinstance(op, ast.Div):
        if right == 0:
            raise NoData("division by zero")
        result = left / right
    elif isinstance(op, ast.Pow):
        result = checked_power(left, right)
    else:
        raise NoData("that operator is not allowed")
    if not math.isfinite(result) or abs(result) > MAX_VALUE:
        raise NoData(f"a step of the formula grows past {MAX_VALUE:g}")
    return result


def _finite(values: tuple) -> tuple[float, ...]:
    for value in values:
        if not isinstance(value, float) or not math.isfinite(value):
            raise NoData("a value in the formula is not a finite number")
    return values


def _min(*values: float) -> float:
    return min(_finite(values))


def _max(*values: float) -> float:
    return max(_finite(values))


def _abs(value: float) -> float:
    return abs(_finite((value,))[0])


def _round(value: float, digits: float = 0.0) -> float:
    return float(round(_finite((value,))[0], int(digits)))


_FUNCTION_TABLE = {"min": _min, "max": _max, "abs": _abs, "round": _round}
_ARITY = {"min": (2, 20), "max": (2, 20), "abs": (1, 1), "round": (1, 2)}


# -- parsing and the allow-list ----------------------------------------------------------------


def parse_formula(text: str, resolve: Callable[[str], str]) -> Formula:
    """Check a formula; `resolve` maps a written metric name to its full name or raises
    `ValueError` with a sentence. Raises `FormulaError` saying where and why."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError(
            "The formula is empty; write arithmetic such as `dau * 0.6 + wau * 0.4`."
        )
    text = text.strip()
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"The formula is {len(text):,} characters long; the limit is {MAX_FORMULA_LENGTH}."
        )
    tree = _parse(text)
    inputs: dict[str, str] = {}
    _Checker(resolve, inputs).check(tree.body, 0)
    return Formula(text, tree, inputs)


def _parse(text: str) -> ast.Expression:
    try:
        return _in_characters(ast.parse(text, mode="eval"), text)
    except SyntaxError as error:
        if _is_statement(text):
            raise FormulaError(
                "Statements such as `import` or `=` are not allowed; a formula is one "
                f"arithmetic expression of {ALLOWED}."
            ) from None
        column = f" at column {error.offset}" if error.offset else ""
        reason = (error.msg or "invalid syntax").rstrip(".")
        raise FormulaError(f"The formula is not valid arithmetic{column}: {reason}.") from None
    except (ValueError, RecursionError, MemoryError):
        raise FormulaError("The formula could not be read; write plain arithmetic.") from None


def _in_characters(tree: ast.Expression, text: str) -> ast.Expression:
    """The tree with its columns counted in characters: `ast` counts UTF-8 bytes, so a column
    after `ｄａｕ` would be past where a person sees it."""
    lines = [line.encode("utf-8") for line in text.splitlines() or [""]]

    def characters(line: int, offset: int) -> int:
        encoded = lines[line - 1] if 0 < line <= len(lines) else b""
        return len(encoded[:offset].decode("utf-8", errors="ignore"))

    for node in ast.walk(tree):
        if getattr(node, "col_offset", None) is not None and hasattr(node, "lineno"):
            node.col_offset = characters(node.lineno, node.col_offset)
        if getattr(node, "end_col_offset", None) is not None and node.end_lineno is not None:
            node.end_col_offset = characters(node.end_lineno, node.end_col_offset)
    return tree


def _is_statement(text: str) -> bool:
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(not isinstance(statement, ast.Expr) for statement in module.body)


class _Checker:
    def __init__(self, resolve: Callable[[str], str], inputs: dict[str, str]) -> None:
        self.resolve = resolve
        self.inputs = inputs

    def check(self, node: ast.AST, depth: int) -> float | None:
        """Check `node`; return its value when it is made of numbers only, else None."""
        if depth > MAX_DEPTH:
            raise FormulaError(
                f"The formula is nested more than {MAX_DEPTH} levels deep {_where(node)}; "
                "simplify it."
            )
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            self.name(node)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.check(node.operand, depth + 1)
            if value is None:
                return None
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            self.call(node, depth)
            return None
        raise FormulaError(self.refusal(node))

    def refusal(self, node: ast.AST) -> str:
        if isinstance(node, ast.UnaryOp):
            what = "`not` and `~`"
        elif isinstance(node, ast.BinOp):
            what = "that operator"
        else:
            what = _REFUSED.get(type(node), f"`{type(node).__name__}` expressions")
        return (
            f"{what[0].upper()}{what[1:]} ({_where(node)}) cannot be used; "
            f"a formula uses {ALLOWED}."
        )

    def constant(self, node: ast.Constant) -> float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "Text (strings)" if isinstance(value, (str, bytes)) else f"`{value!r}`"
            raise FormulaError(
                f"{kind} ({_where(node)}) cannot be used; a formula uses {ALLOWED}."
            )
        if isinstance(value, int) and abs(value) > MAX_NUMBER:
            raise FormulaError(
                f"The number {_where(node)} is larger than {MAX_NUMBER:g}; use smaller numbers."
            )
        return _check_number(float(value), node, MAX_NUMBER, "The number")

    def name(self, node: ast.Name) -> None:
        written = node.id
        if written in FUNCTIONS:
            raise FormulaError(
                f"`{written}` {_where(node)} is a function; call it, as in `{written}(dau, wau)`."
            )
        if written.startswith("_"):
            raise FormulaError(
                f"`{written}` {_where(node)} is not allowed; metric names do not start with `_`."
            )
        try:
            self.inputs.setdefault(written, self.resolve(written))
        except ValueError as error:
            raise FormulaError(f"Unknown name {_where(node)}: {error}") from None

    def binary(self, node: ast.BinOp, depth: int) -> float | None:
        if type(node.op) not in _OPERATORS:
            raise FormulaError(self.refusal(node))
        left = self.check(node.left, depth + 1)
        right = self.check(node.right, depth + 1)
        if isinstance(node.op, ast.Pow) and right is not None and abs(right) > MAX_EXPONENT:
            raise FormulaError(
                f"The exponent {_where(node.right)} is {right:g}; the largest allowed is "
                f"{MAX_EXPONENT}."
            )
        if left is None or right is None:
            return None
        try:
            return checked_binary(node.op, left, right)
        except NoData as reason:
            raise FormulaError(f"The part {_where(node)} cannot be computed: {reason}.") from None

    def call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name):
            self.check(node.func, depth + 1)  # refuses attribute access, calls of calls, ...
            raise FormulaError(
                f"That call {_where(node)} is not allowed; only min, max, abs and round can be "
                "called."
            )
        function = node.func.id
        if function not in FUNCTIONS:
            raise FormulaError(
                f"`{function}` {_where(node)} is not an allowed function; use min, max, abs or "
                "round."
            )
        if node.keywords:
            raise FormulaError(
                f"Keyword arguments {_where(node)} are not allowed; write `{function}(a, b)`."
            )
        for argument in node.args:
            self.check(argument, depth + 1)
        low, high = _ARITY[function]
        if not low <= len(node.args) <= high:
            wanted = f"{low}" if low == high else f"{low} to {high}"
            raise FormulaError(
                f"`{function}` {_where(node)} takes {wanted} values, not {len(node.args)}."
            )
        if function == "round" and len(node.args) == 2:
            digits = node.args[1]
            if not (
                isinstance(digits, ast.Constant)
                and type(digits.value) is int
                and 0 <= digits.value <= MAX_ROUND_DIGITS
            ):
                raise FormulaError(
                    f"The digits of `round` {_where(digits)} must be a whole number from 0 to "
                    f"{MAX_ROUND_DIGITS}."
                )


# -- evaluation --------------------------------------------------------------------------------


class _TimeUp(RuntimeError):
    pass


class _FormulaInterpreter(Interpreter):
    """asteval with float-only, checked operators and a deadline on every step."""

    def __init__(self, symbols: dict, deadline: float) -> None:
        disabled = {f"no_{node}": True for node in _DISABLED_NODES}
        super().__init__(
            symtable=symbols,
            minimal=True,
            use_numpy=False,
            builtins_readonly=True,
            max_statement_length=MAX_FORMULA_LENGTH,
            **disabled,
        )
        self.symtable.pop("print", None)
        self.deadline = deadline

    def run(self, node, *args, **kwargs):
        if time.perf_counter() > self.deadline:
            raise _TimeUp("the formula took too long to evaluate")
        return super().run(node, *args, **kwargs)

    def on_constant(self, node):
        return float(node.value)

    def on_unaryop(self, node):
        value = self.run(node.operand)
        if not isinstance(value, float):
            raise NoData("a value in the formula is not a number")
        return -value if isinstance(node.op, ast.USub) else value

    def on_binop(self, node):
        return checked_binary(node.op, self.run(node.left), self.run(node.right))

    def on_call(self, node):
        # The checker allowed only min, max, abs and round, by name, with positional values.
        function = _FUNCTION_TABLE[node.func.id]
        return function(*[self.run(argument) for argument in node.args])


# Every asteval node handler but the ones a checked formula needs.
_DISABLED_NODES = (
    "arg assert assign attribute augassign boolop break compare continue delete dict dictcomp "
    "excepthandler extslice for functiondef if ifexp import importfrom index interrupt lambda "
    "list listcomp pass raise repr return set setcomp slice subscript try tuple while with "
    "formattedvalue joinedstr"
).split()


def evaluate(formula: Formula, values: Mapping[str, float | None]) -> Evaluation:
    """The formula's value for the metric values given by full name; no data says why."""
    symbols: dict[str, object] = {}
    for written, metric in formula.inputs.items():
        value = values.get(metric)
        if value is None:
            return Evaluation(None, f"`{metric}` has no data")
        value = float(value)
        if not math.isfinite(value):
            return Evaluation(None, f"`{metric}` is not a finite number")
        symbols[written] = value
    symbols.update(_FUNCTION_TABLE)

    interpreter = _FormulaInterpreter(symbols, time.perf_counter() + TIME_LIMIT_SECONDS)
    try:
        result = interpreter.eval(formula.tree.body, raise_errors=True, show_errors=False)
    except Exception:  # asteval has recorded the error; it is read below
        result = None
    if interpreter.error:
        error = interpreter.error[0]
        column = getattr(error, "col_offset", 0) + 1
        reason = error.msg or getattr(error.exc, "__name__", "an error")
        return Evaluation(None, f"{reason} at column {column}")
    if not isinstance(result, (int, float)) or isinstance(result, bool):
        return Evaluation(None, "the formula did not give a number")
    result = float(result)
    if not math.isfinite(result):
        return Evaluation(None, "the result is not a finite number")
    return Evaluation(result)
