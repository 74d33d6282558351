"""CloudWatch Logs filter patterns, as FilterLogEvents, metric and subscription filters use them.

A pattern is one of five kinds, told apart by how it starts:

* empty: every message matches;
* `%regex%`: the message contains a match of a restricted regular expression;
* `{ ... }`: a condition on the message parsed as a JSON object; a message that is not a JSON
  object never matches, whatever the condition (`NOT EXISTS` included);
* `[ ... ]`: a condition on the message split into space-delimited fields;
* anything else: terms, matched as case-sensitive substrings. Terms are ANDed; `-term` excludes;
  `?term` starts an alternative, and the unmarked terms that follow join it (the grouping the AWS
  CDK renders for `anyTermGroup`).

In string comparisons a leading or trailing `*` matches any text; a `*` inside the value is
literal, as documented ("Ev*ent will only match the actual string Ev*ent").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, cast

from berth.errors import BerthError

# FilterLogEvents' documented maximum for filterPattern.
MAX_PATTERN_LENGTH = 1024
# "There is a limit of 2 regex for each filter pattern when creating a delimited or JSON filter
# pattern."
MAX_REGEXES = 2
# Not a CloudWatch limit: bounds the parser's recursion on parentheses.
MAX_NESTING = 32

Operator = Literal["=", "!=", "<", "<=", ">", ">="]
CheckKind = Literal["IS NULL", "NOT EXISTS", "IS TRUE", "IS FALSE"]
Path = tuple[str | int, ...]

_ORDERING = frozenset({"<", "<=", ">", ">="})
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WORD_TERM = re.compile(r"\w+")
_TERM = re.compile(r'\s*([?-]?)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))', re.DOTALL)
_ESCAPE = re.compile(r'\\(["\\])')
_JSON_PATH = re.compile(r"\$(?:\.[A-Za-z0-9_-]+(?:\[[0-9]+\])*)+")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")
_FIELD_NAME = re.compile(r"\w+")
# The documented regex alphabet: alphanumerics, the symbols _ # = @ / ; , - (and :), and the
# operators ^ $ ? [ ] { } | \ * + . -- no parentheses, nothing multi-byte. Spaces are allowed too:
# Berth is lenient there rather than reject a pattern CloudWatch may accept.
_REGEX_ALPHABET = re.compile(r"[A-Za-z0-9_#=@/;,:\- ^$?\[\]{}|\\*+.]*")
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<and>&&)
    | (?P<or>\|\|)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<quoted>"(?:[^"\\]|\\.)*")
    | (?P<regex>%[^%]*%)
    | (?P<word>[^\s()&|,=!<>"%]+)
    """,
    re.VERBOSE | re.DOTALL,
)


class InvalidFilterPattern(BerthError):
    """CloudWatch Logs answers InvalidParameterException, "Invalid filter pattern"; the reason is
    Berth's own, for logs and tests."""

    def __init__(self, reason: str) -> None:
        super().__init__("Invalid filter pattern", reason=reason)
        self.reason = reason


# --- the compiled filter -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class Terms:
    """Alternatives, each a conjunction of terms."""

    groups: tuple[tuple[Term, ...], ...]


@dataclass(frozen=True, slots=True)
class Regex:
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    # Set for an unquoted number, which then compares numerically with numbers.
    number: Decimal | None = None
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    # A JSON selector's steps, or a space-delimited field's name as the only step.
    path: Path
    operator: Operator
    value: Value


@dataclass(frozen=True, slots=True)
class Check:
    path: Path
    kind: CheckKind


@dataclass(frozen=True, slots=True)
class AllOf:
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    operands: tuple[Condition, ...]


Condition = Comparison | Check | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class JsonPattern:
    condition: Condition


@dataclass(frozen=True, slots=True)
class Slot:
    """A space-delimited field: `...` spans any number of fields, a nameless slot exactly one."""

    name: str | None = None
    condition: Condition | None = None
    ellipsis: bool = False


@dataclass(frozen=True, slots=True)
class DelimitedPattern:
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class LogFilter:
    # None matches every message.
    body: Terms | Regex | JsonPattern | DelimitedPattern | None


# --- parsing -----------------------------------------------------------------------------------


def parse_filter(text: str) -> LogFilter:
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidFilterPattern(f"longer than {MAX_PATTERN_LENGTH} characters")
    pattern = text.strip()
    if not pattern:
        return LogFilter(None)
    if pattern.startswith("{"):
        if not pattern.endswith("}"):
            raise InvalidFilterPattern("a JSON pattern must end with '}'")
        return LogFilter(JsonPattern(_Parser(pattern[1:-1], json_paths=True).whole()))
    if pattern.startswith("["):
        if not pattern.endswith("]"):
            raise InvalidFilterPattern("a space-delimited pattern must end with ']'")
        return LogFilter(_delimited(pattern[1:-1]))
    if len(pattern) >= 2 and pattern.startswith("%") and pattern.endswith("%"):
        return LogFilter(Regex(_compile_regex(pattern[1:-1])))
    return LogFilter(_terms(pattern))


def _terms(pattern: str) -> Terms:
    groups: list[list[Term]] = [[]]
    position = 0
    while position < len(pattern):
        if pattern[position:].isspace():
            break
        found = _TERM.match(pattern, position)
        if found is None:
            raise InvalidFilterPattern(f"invalid term at {position}: {pattern[position:]!r}")
        mark, quoted, word = found.groups()
        if quoted is not None:
            text = _ESCAPE.sub(r"\1", quoted)
        elif _WORD_TERM.fullmatch(word):
            text = word
        else:
            # Documented: terms with characters other than alphanumerics and underscore must be
            # quoted.
            raise InvalidFilterPattern(f"invalid character(s) in term {word!r}")
        if mark == "?" and groups[-1]:
            groups.append([])
        groups[-1].append(Term(text, excluded=mark == "-"))
        position = found.end()
    return Terms(tuple(tuple(group) for group in groups))


def _compile_regex(body: str) -> re.Pattern[str]:
    if not body:
        raise InvalidFilterPattern("empty regular expression")
    if not _REGEX_ALPHABET.fullmatch(body):
        raise InvalidFilterPattern(f"unsupported character in regular expression {body!r}")
    try:
        return re.compile(body)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise InvalidFilterPattern(f"invalid regular expression {body!r}: {exc}") from None


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise InvalidFilterPattern(f"unexpected {text[position]!r} at {position}")
        kind = found.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, found.group()))
        position = found.end()
    return tokens


class _Parser:
    """Recursive descent over `||` (loosest), `&&`, parentheses and conditions."""

    def __init__(
        self,
        source: str | list[tuple[str, str]],
        *,
        json_paths: bool,
        regexes: list[int] | None = None,
    ) -> None:
        self.tokens = _tokenize(source) if isinstance(source, str) else source
        self.position = 0
        self.json_paths = json_paths
        # Shared between the slots of one space-delimited pattern.
        self.regexes = regexes if regexes is not None else [0]

    def whole(self) -> Condition:
        if not self.tokens:
            raise InvalidFilterPattern("empty condition")
        condition = self.disjunction(0)
        if self.position != len(self.tokens):
            raise InvalidFilterPattern(f"unexpected {self.tokens[self.position][1]!r}")
        return condition

    def peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise InvalidFilterPattern("unexpected end of pattern")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def disjunction(self, depth: int) -> Condition:
        operands = [self.conjunction(depth)]
        while self.peek() == "or":
            self.position += 1
            operands.append(self.conjunction(depth))
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def conjunction(self, depth: int) -> Condition:
        operands = [self.primary(depth)]
        while self.peek() == "and":
            self.position += 1
            operands.append(self.primary(depth))
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def primary(self, depth: int) -> Condition:
        if self.peek() != "open":
            return self.condition()
        if depth >= MAX_NESTING:
            raise InvalidFilterPattern("parentheses nested too deeply")
        self.position += 1
        condition = self.disjunction(depth + 1)
        if self.take()[0] != "close":
            raise InvalidFilterPattern("missing ')'")
        return condition

    def condition(self) -> Condition:
        kind, text = self.take()
        if kind != "word":
            raise InvalidFilterPattern(f"expected a selector, found {text!r}")
        path = _json_path(text) if self.json_paths else _field_name(text)
        kind, text = self.take()
        if kind == "op":
            operator = cast(Operator, text)
            return Comparison(path, operator, self.value(operator))
        if self.json_paths and kind == "word":
            second = self.take()[1].upper() if self.peek() == "word" else ""
            check = f"{text.upper()} {second}"
            if check in ("IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"):
                return Check(path, cast(CheckKind, check))
        raise InvalidFilterPattern(f"expected an operator after {path!r}")

    def value(self, operator: Operator) -> Value:
        kind, text = self.take()
        if kind == "quoted":
            value = Value(_ESCAPE.sub(r"\1", text[1:-1]))
        elif kind == "regex":
            self.regexes[0] += 1
            if self.regexes[0] > MAX_REGEXES:
                raise InvalidFilterPattern(f"more than {MAX_REGEXES} regular expressions")
            value = Value(text, regex=_compile_regex(text[1:-1]))
        elif kind == "word":
            value = Value(text, number=_number(text))
        else:
            raise InvalidFilterPattern(f"expected a value, found {text!r}")
        if operator in _ORDERING and value.number is None:
            raise InvalidFilterPattern(f"{operator} needs a number, found {text!r}")
        return value


def _json_path(text: str) -> Path:
    if not _JSON_PATH.fullmatch(text):
        raise InvalidFilterPattern(f"invalid selector {text!r}")
    return tuple(name if name else int(index) for name, index in _PATH_STEP.findall(text[1:]))


def _field_name(text: str) -> Path:
    if not _FIELD_NAME.fullmatch(text):
        raise InvalidFilterPattern(f"invalid field name {text!r}")
    return (text,)


def _number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _delimited(inner: str) -> DelimitedPattern:
    tokens = _tokenize(inner)
    if not tokens:
        raise InvalidFilterPattern("empty space-delimited pattern")
    pieces: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == "comma":
            pieces.append([])
        else:
            pieces[-1].append(token)
    regexes = [0]
    slots: list[Slot] = []
    for piece in pieces:
        if not piece:
            # An empty slot is one field of any value: in AWS's example
            # `[..., request=*.html*, status_code=4*,]` the trailing comma stands for the bytes.
            slots.append(Slot())
        elif piece == [("word", "...")]:
            slots.append(Slot(ellipsis=True))
        elif len(piece) == 1 and piece[0][0] == "word":
            slots.append(Slot(str(_field_name(piece[0][1])[0])))
        else:
            condition = _Parser(piece, json_paths=False, regexes=regexes).whole()
            slots.append(Slot(str(_first_path(condition)[0]), condition))
    return DelimitedPattern(tuple(slots))


def _first_path(condition: Condition) -> Path:
    while isinstance(condition, (AllOf, AnyOf)):
        condition = condition.operands[0]
    return condition.path


# --- matching ----------------------------------------------------------------------------------


class _Absent:
    pass


_ABSENT: Final = _Absent()


def matches(f: LogFilter, message: str) -> bool:
    body = f.body
    if body is None:
        return True
    if isinstance(body, Terms):
        return any(
            all((term.text in message) != term.excluded for term in group) for group in body.groups
        )
    if isinstance(body, Regex):
        return body.regex.search(message) is not None
    if isinstance(body, JsonPattern):
        document = _json_object(message)
        if document is None:
            return False
        return _evaluate(body.condition, lambda path: _resolve(document, path), from_text=False)
    return _match_delimited(body.slots, _fields(message))


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _json_object(message: str) -> dict[str, Any] | None:
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError, ArithmeticError):
        return None
    return document if isinstance(document, dict) else None


def _resolve(document: Any, path: Path) -> Any:
    current = document
    for step in path:
        if isinstance(step, str):
            if not isinstance(current, dict) or step not in current:
                return _ABSENT
        elif not isinstance(current, list) or step >= len(current):
            return _ABSENT
        current = current[step]
    return current


def _evaluate(condition: Condition, lookup: Callable[[Path], Any], *, from_text: bool) -> bool:
    if isinstance(condition, AllOf):
        return all(_evaluate(item, lookup, from_text=from_text) for item in condition.operands)
    if isinstance(condition, AnyOf):
        return any(_evaluate(item, lookup, from_text=from_text) for item in condition.operands)
    value = lookup(condition.path)
    if isinstance(condition, Check):
        if condition.kind == "NOT EXISTS":
            return value is _ABSENT
        if condition.kind == "IS NULL":
            return value is None
        return value is (condition.kind == "IS TRUE")
    # Documented: a selector that points at an array or an object (or at nothing) matches
    # neither `=` nor `!=`.
    if value is _ABSENT or isinstance(value, (dict, list)):
        return False
    number = _as_number(value, from_text=from_text)
    expected = condition.value
    if condition.operator in ("=", "!="):
        equal = _equals(value, number, expected)
        return equal if condition.operator == "=" else not equal
    if number is None or expected.number is None:
        return False
    if condition.operator == "<":
        return number < expected.number
    if condition.operator == "<=":
        return number <= expected.number
    if condition.operator == ">":
        return number > expected.number
    return number >= expected.number


def _as_number(value: Any, *, from_text: bool) -> Decimal | None:
    # In JSON only numbers are numbers; a space-delimited field is text that may spell one.
    if from_text:
        return _number(value) if isinstance(value, str) else None
    return value if isinstance(value, Decimal) and value.is_finite() else None


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equals(value: Any, number: Decimal | None, expected: Value) -> bool:
    if expected.regex is not None:
        return expected.regex.search(_text(value)) is not None
    if expected.number is not None and number is not None:
        return number == expected.number
    return _star_match(expected.text, _text(value))


def _star_match(pattern: str, text: str) -> bool:
    if pattern == "*":
        return True
    leading = pattern.startswith("*")
    trailing = pattern.endswith("*")
    core = pattern[1 if leading else 0 : len(pattern) - 1 if trailing else len(pattern)]
    if leading and trailing:
        return core in text
    if leading:
        return text.endswith(core)
    if trailing:
        return text.startswith(core)
    return text == core


def _fields(message: str) -> list[str]:
    # Text between double quotes or square brackets is one field, without its delimiters.
    fields: list[str] = []
    position = 0
    while position < len(message):
        char = message[position]
        if char.isspace():
            position += 1
            continue
        if char in '"[':
            close = message.find('"' if char == '"' else "]", position + 1)
            if close < 0:
                fields.append(message[position + 1 :])
                break
            fields.append(message[position + 1 : close])
            position = close + 1
            continue
        end = position
        while end < len(message) and not message[end].isspace():
            end += 1
        fields.append(message[position:end])
        position = end
    return fields


def _match_delimited(slots: tuple[Slot, ...], fields: list[str]) -> bool:
    segments: list[list[Slot]] = [[]]
    for slot in slots:
        if slot.ellipsis:
            segments.append([])
        else:
            segments[-1].append(slot)
    if len(segments) == 1:
        return len(fields) == len(slots) and _satisfied(list(zip(slots, fields, strict=True)))
    first, *middle, last = segments
    if sum(len(segment) for segment in segments) > len(fields):
        return False
    placed = list(zip(first, fields, strict=False))
    tail = list(zip(last, fields[len(fields) - len(last) :], strict=True))
    position, end = len(first), len(fields) - len(last)
    # The anchored ends are fixed; each middle segment takes its leftmost position that holds,
    # which leaves the most room for the segments after it.
    for segment in middle:
        for start in range(position, end - len(segment) + 1):
            trial = list(zip(segment, fields[start : start + len(segment)], strict=True))
            if _satisfied(placed + trial + tail, only=trial):
                placed += trial
                position = start + len(segment)
                break
        else:
            return False
    return _satisfied(placed + tail)


def _satisfied(bound: list[tuple[Slot, str]], only: list[tuple[Slot, str]] | None = None) -> bool:
    bindings = {slot.name: field for slot, field in bound if slot.name is not None}
    for slot, field in bound if only is None else only:
        if slot.condition is None:
            continue

        def lookup(path: Path, own: str = field, name: str | None = slot.name) -> Any:
            if path[0] == name:
                return own
            return bindings.get(str(path[0]), _ABSENT)

        if not _evaluate(slot.condition, lookup, from_text=True):
            return False
    return True
