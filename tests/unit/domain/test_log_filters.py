from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.log_filters import (
    MAX_PATTERN_LENGTH,
    InvalidFilterPattern,
    LogFilter,
    matches,
    parse_filter,
)
from berth.errors import BerthError


def match(pattern: str, message: str) -> bool:
    return matches(parse_filter(pattern), message)


def invalid(pattern: str) -> InvalidFilterPattern:
    with pytest.raises(InvalidFilterPattern) as info:
        parse_filter(pattern)
    assert info.value.message == "Invalid filter pattern"
    return info.value


# --- empty pattern -----------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["", "   ", "\t\n"])
def test_an_empty_pattern_matches_everything(pattern: str) -> None:
    assert parse_filter(pattern) == LogFilter(None)
    assert match(pattern, "anything")
    assert match(pattern, "")
    assert match(pattern, '{"json": true}')


# --- terms -------------------------------------------------------------------------------------


def test_documented_single_term() -> None:
    assert match("ERROR", "[ERROR] A fatal exception has occurred")
    assert match("ERROR", "Exiting with ERRORCODE: -1")
    assert match('"ERROR"', "Exiting with ERRORCODE: -1")
    assert not match("ERROR", "all good")


def test_terms_are_case_sensitive() -> None:
    assert not match("ERROR", "[error] lower case")
    assert not match("error", "[ERROR] upper case")


def test_documented_include_and_exclude() -> None:
    pattern = '"ERROR" - "Exiting"'
    assert match(pattern, "[ERROR] A fatal exception has occurred")
    assert not match(pattern, "Exiting with ERRORCODE: -1")


def test_documented_multiple_terms() -> None:
    assert match("ERROR Exception", "[ERROR] Caught IllegalArgumentException")
    assert match("ERROR Exception", "[ERROR] Unhandled Exception")
    assert not match("ERROR Exception", "[ERROR] Unhandled failure")
    pattern = "Failed to process the request"
    assert match(pattern, "[WARN] Failed to process the request")
    assert match(pattern, "[ERROR] Unable to continue: Failed to process the request")
    # Unquoted, the words need not be adjacent.
    assert match(pattern, "the request: process Failed to")


def test_a_quoted_phrase_must_appear_as_written() -> None:
    pattern = '"Failed to process the request"'
    assert match(pattern, "[WARN] Failed to process the request")
    assert not match(pattern, "the request: process Failed to")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # The documented OR example, over its three messages.
        ("ERROR", [True, True, False]),
        ("?ERROR ?WARN", [True, True, True]),
        ("ERROR WARN", [True, False, False]),
        ("ERROR -WARN", [False, True, False]),
    ],
)
def test_documented_or_terms(pattern: str, expected: list[bool]) -> None:
    messages = ["ERROR WARN message", "ERROR message", "WARN message"]
    assert [match(pattern, message) for message in messages] == expected


def test_term_groups() -> None:
    # What the AWS CDK renders for anyTermGroup(["ERROR", "MainThread"], ["WARN", "Deadlock"]).
    pattern = '?"ERROR" "MainThread" ?"WARN" "Deadlock"'
    assert match(pattern, "ERROR in MainThread")
    assert match(pattern, "WARN: Deadlock detected")
    assert not match(pattern, "ERROR in worker")
    assert not match(pattern, "WARN: MainThread slow")


def test_only_exclusions() -> None:
    assert match("-DEBUG", "INFO started")
    assert not match("-DEBUG", "DEBUG details")


def test_quoted_terms_with_escapes_and_symbols() -> None:
    assert match('"[ERROR]"', "[ERROR] boom")
    assert not match('"[ERROR]"', "ERROR boom")
    assert match('"say \\"hi\\""', 'they say "hi" twice')
    assert match('"C:\\\\temp"', "wrote C:\\temp")
    assert match('"ERROR 401"', "[ERROR 401] UNAUTHORIZED REQUEST")


def test_unicode_word_terms() -> None:
    assert match("échec", "une échec grave")


@pytest.mark.parametrize(
    "pattern", ["ERROR:", "ERROR-500", "user@example.com", '"unterminated', "a.b", "?-x"]
)
def test_unquoted_terms_must_be_words(pattern: str) -> None:
    invalid(pattern)


# --- regular expressions -----------------------------------------------------------------------


def test_documented_regex() -> None:
    assert match("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST")
    assert match("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST")
    assert not match("%AUTHORIZED%", "[SUCCESS 200] OK")


def test_regex_operators() -> None:
    assert match("%^ERROR [0-9]{3}$%", "ERROR 404")
    assert not match("%^ERROR [0-9]{3}$%", "ERROR 4040")
    assert match("%gray|grey%", "a grey cat")
    assert match("%colou?r%", "color")
    assert match("%10\\.10\\.0\\.1%", "from 10.10.0.1")
    assert not match("%10\\.10\\.0\\.1%", "from 10a10b0c1")


@pytest.mark.parametrize(
    "pattern",
    ["%something!%", "%(group)%", "%é%", "%[%", "%a{2,1}%", "%%"],
)
def test_unsupported_regexes(pattern: str) -> None:
    invalid(pattern)


# --- JSON --------------------------------------------------------------------------------------

DOCUMENTED_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.eventType = UpdateTrail }",
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
        "{$.eventType=UpdateTrail}",
        "{ $.eventType = %Trail$% }",
    ],
)
def test_documented_json_filters_match(pattern: str) -> None:
    assert match(pattern, DOCUMENTED_EVENT)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "updatetrail" }',
        "{ $.sourceIPAddress != 111.111.* }",
        '{ $.arrayKey[1] = "value" }',
        '{ $.arrayKey[2] = "value" }',
        "{ $.objectList[1].id = 1 }",
        "{ $.objectList[0].missing = 1 }",
        "{ $.eventType[0] = UpdateTrail }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.ThisFlag IS NULL }",
        "{ $.Missing IS NULL }",
        "{ $.SomeObject NOT EXISTS }",
        "{ $.eventType NOT EXISTS }",
    ],
)
def test_documented_json_filters_that_do_not_match(pattern: str) -> None:
    assert not match(pattern, DOCUMENTED_EVENT)


def test_json_is_false_and_keywords_in_any_case() -> None:
    assert match("{ $.flag IS FALSE }", '{"flag": false}')
    assert not match("{ $.flag IS FALSE }", '{"flag": 0}')
    assert match("{ $.flag is true }", '{"flag": true}')


def test_json_or_documented_example() -> None:
    assert match("{$.foo = bar}", '{"foo": "bar"}')
    assert not match("{$.foo = baz }", '{"foo": "bar"}')
    assert match("{$.foo = bar || $.foo = baz }", '{"foo": "bar"}')
    assert match("{$.foo = bar || $.foo = baz }", '{"foo": "baz"}')
    assert not match("{$.foo = bar || $.foo = baz }", '{"foo": "qux"}')


COMPOUND_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
            " && $.actions[2] = nomatch }",
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch)'
            " && $.actions[2] = nomatch }",
            False,
        ),
        ("{ $.coordinates[2][0] = 7 }", True),
        ("{ (($.user.id = 1)) }", True),
    ],
)
def test_documented_compound_conditions(pattern: str, expected: bool) -> None:
    assert match(pattern, COMPOUND_EVENT) is expected


def test_selectors_on_arrays_and_objects_match_neither_equal_nor_unequal() -> None:
    assert not match("{ $.users = 1 }", '{"users": [1, 2, 3]}')
    assert not match("{ $.users != 1 }", '{"users": [1, 2, 3]}')
    assert not match("{ $.user != 1 }", '{"user": {"id": 1}}')
    assert not match("{ $.missing != 1 }", '{"user": 1}')


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("{ $.latency >= 500 }", {"latency": 500}, True),
        ("{ $.latency >= 500 }", {"latency": 499.9}, False),
        ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, True),
        ("{ $.numbers[0] < 10e3 }", {"numbers": [10000]}, False),
        ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.009]}, True),
        ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.01]}, False),
        (
            "{ $.processes[4].averageRuntime <= 55.5 }",
            {"processes": [0, 1, 2, 3, {"averageRuntime": 55.5}]},
            True,
        ),
        ("{ $.errorCode = 400 }", {"errorCode": 400}, True),
        ("{ $.errorCode = 400 }", {"errorCode": 400.0}, True),
        ("{ $.errorCode = 400 }", {"errorCode": 401}, False),
        ("{ $.errorCode != 500 }", {"errorCode": 400}, True),
        ("{ $.errorCode != 500 }", {"errorCode": 500}, False),
        ("{ $.latency > +1000 }", {"latency": 1001}, True),
        ("{ $.latency > -1 }", {"latency": 0}, True),
        ("{ $.latency > 1 }", {"latency": "5"}, False),
        ("{ $.latency > 1 }", {"latency": True}, False),
        ("{ $.latency < 1 }", {"latency": None}, False),
    ],
)
def test_documented_numeric_comparisons(pattern: str, event: object, expected: bool) -> None:
    assert match(pattern, json.dumps(event)) is expected


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("*Event", "PutEvent", True),
        ("*Event", "GetEvent", True),
        ("*Event", "EventName", False),
        ("Event*", "EventId", True),
        ("Event*", "EventName", True),
        ("Event*", "PutEvent", False),
        ("*vent*", "PutEvents", True),
        ("Ev*ent", "Ev*ent", True),
        ("Ev*ent", "Event", False),
        ("Ev*ent", "Evxent", False),
        ("*", "anything", True),
        ('"*Event"', "PutEvent", True),
    ],
)
def test_documented_wildcards(value: str, text: str, expected: bool) -> None:
    assert match(f"{{ $.eventName = {value} }}", json.dumps({"eventName": text})) is expected


def test_a_star_matches_any_value() -> None:
    assert match("{ $.latency = * }", '{"latency": 12}')
    assert not match("{ $.latency = * }", '{"other": 12}')


def test_numbers_and_strings_in_json() -> None:
    assert match("{ $.code = 400 }", '{"code": "400"}')
    assert match('{ $.code = "400" }', '{"code": 400}')
    assert not match("{ $.code = 400 }", '{"code": "400.0"}')


def test_non_json_messages_never_match_json_patterns() -> None:
    assert not match("{ $.missing NOT EXISTS }", "plain text")
    assert not match("{ $.missing NOT EXISTS }", '["a", "json", "array"]')
    assert not match("{ $.missing NOT EXISTS }", '{"truncated": ')
    assert not match("{ $.a = 1 }", '{"a": NaN}')
    assert match("{ $.missing NOT EXISTS }", '  {"a": 1}  ')


def test_json_with_huge_numbers() -> None:
    big = "9" * 5000
    assert match("{ $.n > 1 }", f'{{"n": {big}}}')


@pytest.mark.parametrize(
    "pattern",
    [
        "{",
        "{}",
        "{ }",
        "{ $.a }",
        "{ $.a = }",
        "{ $.a == 1 }",
        "{ a = 1 }",
        "{ $a = 1 }",
        "{ $.a. = 1 }",
        "{ $[0] = 1 }",
        "{ $.a[x] = 1 }",
        "{ $.a > abc }",
        '{ $.a > "1" }',
        "{ $.a > %1% }",
        "{ $.a IS MISSING }",
        "{ $.a NOT THERE }",
        "{ $.a = 1 && }",
        "{ $.a = 1 || || $.b = 2 }",
        "{ ($.a = 1 }",
        "{ $.a = 1) }",
        "{ $.a = 1 $.b = 2 }",
        "{ $.a = 1 & $.b = 2 }",
        "{ $.a = %x% || $.b = %y% || $.c = %z% }",
        "{ " + "(" * 40 + "$.a = 1" + ")" * 40 + " }",
    ],
)
def test_invalid_json_patterns(pattern: str) -> None:
    invalid(pattern)


# --- space-delimited ---------------------------------------------------------------------------

APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 403 800',
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", [1, 1, 1, 1, 1]),
        ("[..., status_code, bytes]", [1, 1, 1, 1, 1]),
        ("[ip, user, ..., status_code, bytes]", [1, 1, 1, 1, 1]),
        ("[ip, user, ...]", [1, 1, 1, 1, 1]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [1, 1, 1, 1, 0]),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", [1, 0, 1, 0, 0]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [0, 0, 0, 1, 1]),
        (
            "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]",
            [0, 0, 0, 1, 1],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403,"
            " bytes]",
            [0, 0, 0, 1, 0],
        ),
        ("[..., request=*.html*, status_code=4*,]", [0, 0, 0, 1, 1]),
        ("[ip, user, username, timestamp, request, status_code]", [0, 0, 0, 0, 0]),
        ('[ip = "127.0.0.1", ...]', [1, 1, 1, 1, 1]),
        ("[ip = 127.0.0.2, ...]", [0, 0, 0, 0, 0]),
        ("[..., timestamp = *13:25:15*, request, status_code, bytes]", [1, 0, 0, 1, 1]),
        ("[..., bytes < 1000]", [0, 0, 0, 0, 1]),
        ("[..., status_code >= 400, bytes]", [0, 1, 0, 1, 1]),
        # Between two ellipses a slot takes any field that satisfies it: here the bytes do.
        ("[..., status_code >= 400, ...]", [1, 1, 1, 1, 1]),
        ("[ip, ..., status_code = 500, ...]", [0, 1, 0, 0, 0]),
    ],
)
def test_documented_space_delimited_filters(pattern: str, expected: list[int]) -> None:
    assert [int(match(pattern, line)) for line in APACHE] == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # The documented OR example over its three messages.
        ("[w1=ERROR, w2]", [False, True, False]),
        ("[w1=ERROR || w1=WARN, w2]", [False, True, True]),
        ("[w1, w2, w3]", [True, False, False]),
        ("[w1, w2=message]", [False, True, True]),
        ("[w1 != ERROR, ...]", [False, False, True]),
    ],
)
def test_documented_space_delimited_or(pattern: str, expected: list[bool]) -> None:
    messages = ["ERROR WARN message", "ERROR message", "WARN message"]
    assert [match(pattern, message) for message in messages] == expected


def test_space_delimited_conditions_may_name_other_fields() -> None:
    pattern = "[a, b = x && a = 1]"
    assert match(pattern, "1 x")
    assert not match(pattern, "2 x")


def test_space_delimited_regex() -> None:
    assert match("[..., request = %index\\.html%, status, bytes]", APACHE[3])
    assert not match("[..., request = %index\\.html%, status, bytes]", APACHE[0])


def test_space_delimited_unterminated_quote_runs_to_the_end() -> None:
    assert match('[a, b = "x y*"]', 'one "x y z')


def test_space_delimited_numbers_in_text() -> None:
    assert match("[a = 1]", "1.0")
    assert match("[a > 1e2]", "101")
    assert not match("[a > 1]", "abc")


@pytest.mark.parametrize(
    "pattern",
    [
        "[",
        "[]",
        "[ ]",
        "[a b]",
        "[a = ]",
        "[a > x]",
        "[$.a = 1]",
        "[a IS NULL]",
        "[a = %x%, b = %y%, c = %z%]",
        "[a = 1 && ]",
    ],
)
def test_invalid_space_delimited_patterns(pattern: str) -> None:
    invalid(pattern)


# --- limits and errors -------------------------------------------------------------------------


def test_pattern_length_limit() -> None:
    assert match("a" * MAX_PATTERN_LENGTH, "a" * MAX_PATTERN_LENGTH)
    error = invalid("a" * (MAX_PATTERN_LENGTH + 1))
    assert "1024" in error.reason


def test_invalid_filter_pattern_is_a_berth_error() -> None:
    error = invalid("ERROR:")
    assert isinstance(error, BerthError)
    assert error.detail == {"reason": error.reason}


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_patterns_only_ever_raise_invalid_filter_pattern(text: str) -> None:
    with contextlib.suppress(InvalidFilterPattern):
        parse_filter(text)


pattern_pieces = st.sampled_from(
    [
        *("{", "}", "[", "]", "(", ")", "$.a", "$.b[0]", "a", "...", ",", "=", "!=", "<", ">="),
        *("&&", "||", "IS", "NULL", "NOT", "EXISTS", "1", "-2.5", '"x y"', "*x", "%a+%", "?", "-"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(pattern_pieces, max_size=12), st.text(max_size=40))
def test_matching_never_raises(pieces: list[str], message: str) -> None:
    try:
        compiled = parse_filter(" ".join(pieces))
    except InvalidFilterPattern:
        return
    assert matches(compiled, message) in (True, False)


json_messages = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2)
    ),
    max_leaves=10,
).map(json.dumps)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "{ $.a = 1 }",
            "{ $.a != x* }",
            "{ $.a[0].b > 2 || $.b IS NULL }",
            "{ $.a NOT EXISTS && $.b IS TRUE }",
            "{ $.b = %a% }",
            "[a, ..., b > 1]",
            "[..., a = *x*, ..., b]",
        ]
    ),
    json_messages | st.text(max_size=30),
)
def test_matching_structured_patterns_never_raises(pattern: str, message: str) -> None:
    assert matches(parse_filter(pattern), message) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\w{1,6}", fullmatch=True), st.text(max_size=30))
def test_a_word_term_is_a_substring_search(term: str, message: str) -> None:
    assert match(term, message) == (term in message)
    assert match(f"-{term}", message) == (term not in message)
