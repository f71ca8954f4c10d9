"""Go's text/template as zeroserve implements it (zeroserve.config.gotemplate).

Expected outputs and messages are Go's (text/template lex.go, parse.go, exec.go, funcs.go; fmt),
for the values Knative passes: config.DomainTemplateValues, config.TagTemplateValues and
v1.ObjectMeta (knative/networking pkg/config/config.go, knative/serving pkg/apis/config/defaults.go).
"""

from __future__ import annotations

import pytest

from zeroserve.config.gotemplate import ExecError, ParseError, Struct, Template
from zeroserve.config.gotemplate.printf import sprintf
from zeroserve.config.gotemplate.values import Value, format_float

DATA = Struct(
    "config.DomainTemplateValues",
    {
        "Name": "foo",
        "Namespace": "bar",
        "Domain": "baz.com",
        "Annotations": {"team": "a", "zone": "eu"},
        "Labels": {},
    },
)


def run(text: str, data: Value = DATA) -> str:
    return Template.parse("domain-template", text).execute(data)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param("{{.Name}}.{{.Namespace}}.{{.Domain}}", "foo.bar.baz.com", id="default"),
        pytest.param("{{ .Name}}.{{ .Namespace }}.{{.Domain   }}", "foo.bar.baz.com", id="any-spacing"),
        pytest.param("{{\t.Name\n}}", "foo", id="tabs-and-newlines"),
        pytest.param("a  {{- .Name -}}  .b", "afoo.b", id="trim-markers"),
        pytest.param("{{- /* a comment */ -}} {{.Name}}", "foo", id="comment"),
        pytest.param('{{index .Annotations "team"}}-{{.Name}}', "a-foo", id="index-map"),
        pytest.param('{{index .Annotations "missing"}}', "", id="index-missing-is-zero"),
        pytest.param("{{.Annotations.zone}}", "eu", id="map-key-as-field"),
        pytest.param("{{.Annotations.missing}}", "<no value>", id="missing-key-no-value"),
        pytest.param("{{.Labels.missing}}", "<no value>", id="empty-map"),
        pytest.param('{{.Name | printf "%s-x"}}', "foo-x", id="pipeline"),
        pytest.param('{{printf "%s.%s" .Name .Domain | printf "%.6s"}}', "foo.ba", id="chained-pipeline"),
        pytest.param('{{if eq .Name "foo"}}y{{else}}n{{end}}', "y", id="if-eq"),
        pytest.param('{{if ne .Name "foo"}}y{{else if .Domain}}d{{else}}n{{end}}', "d", id="else-if"),
        pytest.param('{{if index .Annotations "x"}}y{{else}}n{{end}}', "n", id="if-empty-string"),
        pytest.param("{{with .Annotations.team}}[{{.}}]{{end}}", "[a]", id="with"),
        pytest.param("{{with .Labels.x}}y{{else}}none{{end}}", "none", id="with-else"),
        pytest.param("{{range $k, $v := .Annotations}}{{$k}}={{$v}};{{end}}", "team=a;zone=eu;", id="range-map"),
        pytest.param("{{range .Labels}}x{{else}}empty{{end}}", "empty", id="range-else"),
        pytest.param("{{range $i := 5}}{{if eq $i 3}}{{break}}{{end}}{{$i}}{{end}}", "012", id="range-break"),
        pytest.param("{{$n := .Name}}{{$n = .Domain}}{{$n}}", "baz.com", id="variables"),
        pytest.param("{{$.Name}}", "foo", id="root-variable"),
        pytest.param("{{(index .Annotations `team`)}}", "a", id="parens-raw-string"),
        pytest.param("{{len .Name}} {{len .Annotations}}", "3 2", id="len"),
        pytest.param("{{slice .Domain 4}}", "com", id="slice"),
        pytest.param("{{index .Name 0}}", "102", id="index-string-byte"),
        pytest.param('{{and .Name ""}}|{{or "" .Domain}}|{{not .Name}}', "|baz.com|false", id="logic"),
        pytest.param("{{lt 1 2}} {{le 2 2}} {{gt 1.5 2.5}} {{ge `b` `a`}}", "true true false true", id="compare"),
        pytest.param("{{eq .Name `x` `foo`}}", "true", id="eq-any-of"),
        pytest.param('{{eq .Annotations.missing ""}}', "false", id="eq-no-value"),
        pytest.param('{{print 1 2 "a" "b" 3}}', "1 2ab3", id="print-spacing"),
        pytest.param("{{1.5}} {{1e6}} {{0x1F}} {{'a'}} {{017}} {{1_000}}", "1.5 1e+06 31 97 15 1000", id="numbers"),
        pytest.param(
            "{{urlquery `a b&c`}} {{html `<a href='x'>`}}", "a+b%26c &lt;a href=&#39;x&#39;&gt;", id="escapers"
        ),
        pytest.param("{{js `<a=b>`}}", "\\u003Ca\\u003Db\\u003E", id="js"),
        pytest.param("{{.}}", "{foo bar baz.com map[team:a zone:eu] map[]}", id="whole-struct"),
        pytest.param("{{.Name}}}}", "foo}}", id="closing-braces-as-text"),
    ],
)
def test_execute(text: str, want: str) -> None:
    assert run(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{{.Name}", 'template: domain-template:1: unexpected "}" in operand', id="one-brace"),
        pytest.param("{{.Name", "template: domain-template:1: unclosed action", id="unclosed"),
        pytest.param("{{foo .Name}}", 'template: domain-template:1: function "foo" not defined', id="no-function"),
        pytest.param("{{end}}", "template: domain-template:1: unexpected {{end}}", id="stray-end"),
        pytest.param("{{if .Name}}x", "template: domain-template:1: unexpected EOF", id="no-end"),
        pytest.param("{{}}", "template: domain-template:1: missing value for command", id="empty"),
        pytest.param("{{$x}}", 'template: domain-template:1: undefined variable "$x"', id="undefined-var"),
        pytest.param("{{/* x", "template: domain-template:1: unclosed comment", id="unclosed-comment"),
        pytest.param(
            '{{.Name | "x"}}',
            "template: domain-template:1: non executable command in pipeline stage 2",
            id="literal-in-pipeline",
        ),
        pytest.param("{{break}}", "template: domain-template:1: {{break}} outside {{range}}", id="break-outside"),
        pytest.param('{{"\\q"}}', "template: domain-template:1: invalid syntax", id="bad-escape"),
        pytest.param("{{3x}}", 'template: domain-template:1: bad number syntax: "3x"', id="bad-number"),
        pytest.param("a\n{{.Name", "template: domain-template:2: unclosed action", id="line-number"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        Template.parse("domain-template", text)
    assert str(info.value) == message


AT = 'template: domain-template:1:{col}: executing "domain-template" at <{node}>: '


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "{{.Tag}}",
            AT.format(col=2, node=".Tag") + "can't evaluate field Tag in type config.DomainTemplateValues",
            id="unknown-field",
        ),
        pytest.param(
            "x{{.Name.Foo}}",
            AT.format(col=8, node=".Name.Foo") + "can't evaluate field Foo in type string",
            id="field-of-string",
        ),
        pytest.param(
            "{{index .Annotations 1}}",
            AT.format(col=2, node="index .Annotations 1") + "error calling index: value has type int; should be string",
            id="index-key-type",
        ),
        pytest.param(
            "{{index .Name 9}}",
            AT.format(col=2, node="index .Name 9") + "error calling index: index out of range: 9",
            id="index-range",
        ),
        pytest.param(
            "{{eq .Name 1}}",
            AT.format(col=2, node="eq .Name 1") + "error calling eq: incompatible types for comparison",
            id="eq-types",
        ),
        pytest.param(
            "{{lt .Annotations 1}}",
            AT.format(col=2, node="lt .Annotations 1") + "error calling lt: invalid type for comparison",
            id="lt-map",
        ),
        pytest.param(
            "{{printf}}",
            AT.format(col=2, node="printf") + "wrong number of args for printf: want at least 1 got 0",
            id="printf-no-args",
        ),
        pytest.param(
            "{{not 1 2}}", AT.format(col=2, node="not") + "wrong number of args for not: want 1 got 2", id="arity"
        ),
        pytest.param("{{printf 3}}", AT.format(col=9, node="3") + "expected string; found 3", id="printf-format-type"),
        pytest.param(
            '{{.Name "x"}}',
            AT.format(col=2, node=".Name") + "Name has arguments but cannot be invoked as function",
            id="field-with-args",
        ),
        pytest.param("{{nil}}", AT.format(col=2, node="nil") + "nil is not a command", id="nil-command"),
        pytest.param(
            "{{range .Name}}{{end}}", AT.format(col=8, node=".Name") + "range can't iterate over foo", id="range-string"
        ),
    ],
)
def test_exec_errors(text: str, message: str) -> None:
    with pytest.raises(ExecError) as info:
        run(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("fmt", "args", "want"),
    [
        pytest.param("%s-%d", ["a", 3], "a-3", id="basic"),
        pytest.param("%5s|%-5s|%.2s", ["ab", "ab", "abc"], "   ab|ab   |ab", id="width-precision"),
        pytest.param("%05d|%+d|%x|%X|%o|%b", [42, 42, 255, 255, 8, 5], "00042|+42|ff|FF|10|101", id="ints"),
        pytest.param("%q|%v|%t", ['a"b', 1.5, True], '"a\\"b"|1.5|true', id="quote-value-bool"),
        pytest.param("%.2f|%e|%g", [3.14159, 1234.5, 0.000001], "3.14|1.234500e+03|1e-06", id="floats"),
        pytest.param("%x", ["hi"], "6869", id="hex-string"),
        pytest.param("%d", ["x"], "%!d(string=x)", id="bad-verb"),
        pytest.param("%s %s", ["x"], "x %!s(MISSING)", id="missing"),
        pytest.param("%s", ["x", 1], "x%!(EXTRA int=1)", id="extra"),
        pytest.param("%s", [None], "%!s(<nil>)", id="nil"),
        pytest.param("100%%", [], "100%", id="percent"),
        pytest.param("%", [], "%!(NOVERB)", id="no-verb"),
        pytest.param("%*d", [4, 7], "   7", id="star-width"),
        pytest.param("%v", [{"b": "2", "a": "1"}], "map[a:1 b:2]", id="map"),
    ],
)
def test_sprintf(fmt: str, args: list[Value], want: str) -> None:
    assert sprintf(fmt, args) == want


@pytest.mark.parametrize(
    ("x", "want"),
    [
        pytest.param(1.5, "1.5", id="plain"),
        pytest.param(100000.0, "100000", id="integral"),
        pytest.param(1e6, "1e+06", id="exponent-from-6"),
        pytest.param(1.234567e6, "1.234567e+06", id="exponent-digits"),
        pytest.param(0.0001, "0.0001", id="small"),
        pytest.param(0.00001, "1e-05", id="smaller"),
        pytest.param(-2.0, "-2", id="negative"),
    ],
)
def test_go_float_formatting(x: float, want: str) -> None:
    assert format_float(x) == want


def test_parsed_templates_are_cached() -> None:
    assert Template.parse("t", "{{.Name}}") is Template.parse("t", "{{.Name}}")
