"""Shapes IAM and STS never use (maps, flattened lists, locationNames, floats, blobs, other
timestamp formats), on a hand-made Query model, both ways through botocore."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import ServiceModel

from berth.api.query.wire import QueryError, QueryModel
from tests.unit.api.query.conftest import botocore_form, botocore_parse

MEMBERS: dict[str, Any] = {
    "Name": {"shape": "Name", "locationName": "TheName"},
    "Count": {"shape": "Long"},
    "Ratio": {"shape": "Double"},
    "Flag": {"shape": "Boolean"},
    "Data": {"shape": "Blob"},
    "When": {"shape": "Time"},
    "Epoch": {"shape": "EpochTime"},
    "Http": {"shape": "HttpTime"},
    "Items": {"shape": "Items"},
    "NamedItems": {"shape": "NamedItems"},
    "FlatItems": {"shape": "FlatItems"},
    "FlatNamedItems": {"shape": "FlatNamedItems"},
    "Attributes": {"shape": "Attributes"},
    "NamedAttributes": {"shape": "NamedAttributes"},
    "FlatAttributes": {"shape": "FlatAttributes", "locationName": "Attribute"},
    "Nested": {"shape": "Nested"},
    "Matrix": {"shape": "Matrix"},
}
SPEC: dict[str, Any] = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "example",
        "protocol": "query",
        "serviceId": "Example",
        "signatureVersion": "v4",
        "xmlNamespace": "https://example.amazonaws.com/doc/2020-01-01/",
    },
    "operations": {
        "Echo": {
            "name": "Echo",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "EchoInput"},
            "output": {"shape": "EchoOutput", "resultWrapper": "EchoResult"},
        },
        "Bare": {
            "name": "Bare",
            "http": {"method": "POST", "requestUri": "/"},
            "output": {"shape": "BareOutput"},
        },
    },
    "shapes": {
        "EchoInput": {"type": "structure", "required": ["Name"], "members": MEMBERS},
        "EchoOutput": {"type": "structure", "members": copy.deepcopy(MEMBERS)},
        "BareOutput": {"type": "structure", "members": {"Name": {"shape": "Name"}}},
        "Name": {"type": "string", "min": 1, "max": 10, "pattern": "[a-z.]+"},
        "Text": {"type": "string"},
        "Long": {"type": "long", "min": -1},
        "Double": {"type": "double"},
        "Boolean": {"type": "boolean"},
        "Blob": {"type": "blob", "max": 8},
        "Time": {"type": "timestamp"},
        "EpochTime": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
        "HttpTime": {"type": "timestamp", "timestampFormat": "rfc822"},
        "Items": {"type": "list", "member": {"shape": "Text"}},
        "NamedItems": {"type": "list", "member": {"shape": "Text", "locationName": "Item"}},
        "FlatItems": {"type": "list", "member": {"shape": "Text"}, "flattened": True},
        "FlatNamedItems": {
            "type": "list",
            "member": {"shape": "Text", "locationName": "FlatItem"},
            "flattened": True,
        },
        "Attributes": {
            "type": "map",
            "key": {"shape": "Text"},
            "value": {"shape": "Text"},
            "max": 3,
        },
        "NamedAttributes": {
            "type": "map",
            "key": {"shape": "Text", "locationName": "Name"},
            "value": {"shape": "Nested", "locationName": "Value"},
        },
        "FlatAttributes": {
            "type": "map",
            "key": {"shape": "Text", "locationName": "Name"},
            "value": {"shape": "Text", "locationName": "Value"},
            "flattened": True,
        },
        "Nested": {
            "type": "structure",
            "required": ["Inner"],
            "members": {"Inner": {"shape": "Text"}, "Deeper": {"shape": "Nested"}},
        },
        "Matrix": {"type": "list", "member": {"shape": "Items"}},
    },
}
EXAMPLE = QueryModel("example", model=ServiceModel(SPEC, "example"))
WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
PARAMS: dict[str, Any] = {
    "Name": "a.b",
    "Count": 2**40,
    "Ratio": -0.125,
    "Flag": False,
    "Data": b"\x00\xff\r\n",
    "When": WHEN,
    "Epoch": WHEN,
    "Http": WHEN,
    "Items": ["x", "", "z & <"],
    "NamedItems": ["n1", "n2"],
    "FlatItems": ["f1", "f2"],
    "FlatNamedItems": ["g1"],
    "Attributes": {"k1": "v1", "k 2": ""},
    "NamedAttributes": {"n": {"Inner": "i", "Deeper": {"Inner": "j"}}},
    "FlatAttributes": {"a": "1", "b": "2"},
    "Nested": {"Inner": "top", "Deeper": {"Inner": "down", "Deeper": {"Inner": "bottom"}}},
    "Matrix": [["a", "b"], [], ["c"]],
}


def test_botocore_requests_decode_to_their_params() -> None:
    form = botocore_form(EXAMPLE, "Echo", PARAMS)
    keys = {key for key, _ in form}
    assert {
        "TheName",
        "NamedItems.Item.1",
        "FlatItems.1",
        "FlatItem.1",
        "Attributes.entry.2.key",
        "NamedAttributes.entry.1.Name",
        "NamedAttributes.entry.1.Value.Deeper.Inner",
        "Attribute.2.Value",
        "Matrix.member.1.member.2",
        "Matrix.member.2",
    } <= keys
    assert EXAMPLE.parse_request(form) == ("Echo", PARAMS)


def test_botocore_reads_back_the_result() -> None:
    body = EXAMPLE.serialize_response("Echo", PARAMS, "req-1")
    text = body.decode()
    for fragment in (
        "<TheName>a.b</TheName>",
        "<NamedItems><Item>n1</Item><Item>n2</Item></NamedItems>",
        "<FlatItems>f1</FlatItems><FlatItems>f2</FlatItems>",
        "<FlatItem>g1</FlatItem>",
        "<Attributes><entry><key>k1</key><value>v1</value></entry>",
        "<Attribute><Name>a</Name><Value>1</Value></Attribute>",
        "<Epoch>1704164645</Epoch>",
        "<Http>Tue, 02 Jan 2024 03:04:05 GMT</Http>",
        "<Data>AP8NCg==</Data>",
        "<Ratio>-0.125</Ratio>",
    ):
        assert fragment in text
    parsed = botocore_parse(EXAMPLE, "Echo", body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == PARAMS


def test_output_without_result_wrapper_sits_in_the_response() -> None:
    body = EXAMPLE.serialize_response("Bare", {"Name": "n"}, "r")
    assert body.startswith(b'<BareResponse xmlns="https://example.amazonaws.com/doc/2020-01-01/">')
    assert b"<BareResponse" in body and b"<Name>n</Name>" in body
    assert botocore_parse(EXAMPLE, "Bare", body)["Name"] == "n"


@pytest.mark.parametrize(
    ("value", "text"),
    [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (3, "3.0")],
)
def test_special_floats(value: float, text: str) -> None:
    body = EXAMPLE.serialize_response("Echo", {"Ratio": value}, "r")
    assert f"<Ratio>{text}</Ratio>".encode() in body
    parsed = botocore_parse(EXAMPLE, "Echo", body)["Ratio"]
    assert parsed == value or (parsed != parsed and value != value)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ({"Ratio": "1e3"}, {"Ratio": 1000.0}),
        ({"Ratio": "-.5"}, {"Ratio": -0.5}),
        ({"Ratio": "NaN"}, {"Ratio": float("nan")}),
        ({"Count": "+7"}, {"Count": 7}),
        ({"Flag": "TRUE"}, {"Flag": True}),
        (
            {"When": "2024-01-02T03:04:05.5+02:00"},
            {"When": datetime(2024, 1, 2, 1, 4, 5, 500000, UTC)},
        ),
        ({"When": "2024-01-02T03:04:05"}, {"When": WHEN}),
        ({"When": "1704164645"}, {"When": WHEN}),
        ({"Http": "Tue, 02 Jan 2024 03:04:05 GMT"}, {"Http": WHEN}),
        ({"Data": ""}, {"Data": b""}),
        ({"Attributes": ""}, {"Attributes": {}}),
        ({"Attribute.1.Value": "no key"}, {}),
        ({"Items": "not empty"}, {}),
        ({"Nested": ""}, {}),
    ],
)
def test_scalar_and_edge_forms(pairs: dict[str, str], expected: dict[str, Any]) -> None:
    operation, params = EXAMPLE.parse_request({"Action": "Echo", "TheName": "n", **pairs})
    assert operation == "Echo"
    params.pop("Name")
    if expected.get("Ratio") != expected.get("Ratio"):  # NaN
        assert params["Ratio"] != params["Ratio"]
    else:
        assert params == expected


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({"Ratio": "1_000"}, "Value '1_000' at 'ratio' is not a valid Double"),
        ({"Ratio": "0x10"}, "Value '0x10' at 'ratio' is not a valid Double"),
        (
            {"Count": "9223372036854775808"},
            "Value '9223372036854775808' at 'count' is not a valid Long",
        ),
        ({"Count": "\u0661"}, "Value '\u0661' at 'count' is not a valid Long"),
        ({"When": "yesterday"}, "Value 'yesterday' at 'when' is not a valid Date"),
        ({"When": "1e400"}, "Value '1e400' at 'when' is not a valid Date"),
        ({"Data": "AP8"}, "Value 'AP8' at 'data' is not a valid ByteBuffer"),
        (
            {"Matrix.member.1.member.1": "x", "Flag": "1"},
            "Value '1' at 'flag' is not a valid Boolean",
        ),
    ],
)
def test_malformed(pairs: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        EXAMPLE.parse_request({"Action": "Echo", "TheName": "n", **pairs})
    assert (caught.value.code, caught.value.message) == ("MalformedInput", message)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (
            # A structure given only unknown keys is still there, missing its required member.
            {"Nested.Inner": "i", "Nested.Deeper.Deeper": "?"},
            "Value null at 'nested.deeper.inner' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {"Attributes.entry.1.key": "k"},
            "Value '{k=null}' at 'attributes' failed to satisfy constraint: "
            "Map value must satisfy constraint: [Member must not be null]",
        ),
        (
            {"Matrix.member.1.member.1": "x", "Matrix.member.2.other": "y"},
            "Value null at 'matrix.2.member' failed to satisfy constraint: Member must not be null",
        ),
    ],
)
def test_invalid_nesting(pairs: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        EXAMPLE.parse_request({"Action": "Echo", "TheName": "n", **pairs})
    assert caught.value.code == "ValidationError"
    assert caught.value.message == f"1 validation error detected: {message}"


def test_map_and_blob_constraints() -> None:
    pairs = {
        "Action": "Echo",
        "Data": "AAAAAAAAAAAA",  # 9 bytes
        "Attributes.entry.1.key": "a",
        "Attributes.entry.1.value": "1",
        "Attributes.entry.2.key": "b",
        "Attributes.entry.2.value": "2",
        "Attributes.entry.3.key": "c",
        "Attributes.entry.3.value": "3",
        "Attributes.entry.4.key": "d",
        "Attributes.entry.4.value": "4",
        "NamedAttributes.entry.1.Name": "n",
        "NamedAttributes.entry.1.Value.Deeper.Inner": "x",
    }
    with pytest.raises(QueryError) as caught:
        EXAMPLE.parse_request(pairs)
    assert caught.value.message == (
        "4 validation errors detected: "
        "Value null at 'name' failed to satisfy constraint: Member must not be null; "
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=9 cap=9]' at 'data' failed to satisfy "
        "constraint: "
        "Member must have length less than or equal to 8; "
        "Value '{a=1, b=2, c=3, d=4}' at 'attributes' failed to satisfy constraint: "
        "Member must have length less than or equal to 3; "
        "Value null at 'namedAttributes.n.member.inner' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_model_must_speak_query() -> None:
    spec = copy.deepcopy(SPEC)
    spec["metadata"]["protocol"] = "json"
    with pytest.raises(ValueError, match="Query protocol"):
        QueryModel("example", model=ServiceModel(spec, "example"))
    with pytest.raises(ValueError, match="Query protocol"):
        QueryModel("ecr")
