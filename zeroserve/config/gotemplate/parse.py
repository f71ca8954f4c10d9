"""The parser of Go's ``text/template/parse`` (``parse.go``, ``node.go``): a tree of nodes whose
``str()`` is Go's ``Node.String`` (execution errors quote it), with Go's parse errors.

``define``, ``template`` and ``block`` (named sub-templates) are refused: a Knative template is one
expression, and nothing calls a sub-template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from zeroserve.config.gotemplate.lex import T, Token, lex
from zeroserve.config.gotemplate.values import TemplateError, quote

BUILTINS: Final = frozenset(
    {"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery"}
    | {"eq", "ge", "gt", "le", "lt", "ne"}
)


class ParseError(TemplateError):
    """``template: NAME:LINE: message``, as Go's ``Tree.errorf``."""


# ----------------------------------------------------------------------------- nodes


@dataclass
class Node:
    pos: int


@dataclass
class TextNode(Node):
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class FieldNode(Node):
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass
class VariableNode(Node):
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass
class IdentifierNode(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass
class BoolNode(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass
class NumberNode(Node):
    text: str
    int_value: int | None
    float_value: float | None

    def __str__(self) -> str:
        return self.text


@dataclass
class StringNode(Node):
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass
class PipeNode(Node):
    line: int
    decl: list[VariableNode] = field(default_factory=list)
    is_assign: bool = False
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass
class ChainNode(Node):
    node: Node
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + f for f in self.fields)


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass
class ActionNode(Node):
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass
class BranchNode(Node):
    """``if``, ``with`` and ``range``."""

    keyword: str
    line: int
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None

    def __str__(self) -> str:
        tail = "{{else}}" + str(self.else_list) if self.else_list is not None else ""
        return "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list) + tail + "{{end}}"


@dataclass
class BreakNode(Node):
    def __str__(self) -> str:
        return "{{break}}"


@dataclass
class ContinueNode(Node):
    def __str__(self) -> str:
        return "{{continue}}"


@dataclass
class _EndNode(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class _ElseNode(Node):
    def __str__(self) -> str:
        return "{{else}}"


# ----------------------------------------------------------------------------- parser


class Parser:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.tokens = lex(text)
        self.i = 0
        self.current: Token | None = None
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0

    def errorf(self, message: str) -> ParseError:
        line = self.current.line if self.current is not None else 1
        return ParseError(f"template: {self.name}:{line}: {message}")

    def unexpected(self, token: Token, context: str) -> ParseError:
        if token.typ is T.ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(f"{token}{extra}")
        return self.errorf(f"unexpected {token} in {context}")

    # --- token stream -------------------------------------------------------------------

    def next(self) -> Token:
        token = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.current = token
        return token

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Token:
        return self.tokens[min(self.i, len(self.tokens) - 1)]

    def next_non_space(self) -> Token:
        token = self.next()
        while token.typ is T.SPACE:
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.backup()
        return token

    def expect(self, typ: T, context: str) -> Token:
        token = self.next_non_space()
        if token.typ is not typ:
            raise self.unexpected(token, context)
        return token

    # --- structure ----------------------------------------------------------------------

    def parse(self) -> ListNode:
        root = ListNode(0)
        while self.peek().typ is not T.EOF:
            node = self.text_or_action()
            if isinstance(node, (_EndNode, _ElseNode)):
                raise self.errorf(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.typ is T.TEXT:
            return TextNode(token.pos, token.val)
        if token.typ is T.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(token, "input")

    def item_list(self) -> tuple[ListNode, Node]:
        nodes = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ is not T.EOF:
            node = self.text_or_action()
            if isinstance(node, (_EndNode, _ElseNode)):
                return nodes, node
            nodes.nodes.append(node)
        raise self.errorf("unexpected EOF")

    def action(self) -> Node:
        token = self.next_non_space()
        if token.typ is T.ELSE:
            peek = self.peek_non_space()
            if peek.typ in (T.IF, T.WITH):  # "else if" / "else with": handled by the parent
                return _ElseNode(peek.pos)
            return _ElseNode(self.expect(T.RIGHT_DELIM, "else").pos)
        if token.typ is T.END:
            return _EndNode(self.expect(T.RIGHT_DELIM, "end").pos)
        if token.typ in (T.IF, T.WITH, T.RANGE):
            return self.control(token.val)
        if token.typ in (T.BREAK, T.CONTINUE):
            if self.range_depth == 0:
                raise self.errorf(f"{{{{{token.val}}}}} outside {{{{range}}}}")
            pos = self.expect(T.RIGHT_DELIM, f"{{{{{token.val}}}}}").pos
            return BreakNode(pos) if token.typ is T.BREAK else ContinueNode(pos)
        if token.typ in (T.DEFINE, T.TEMPLATE, T.BLOCK):
            raise self.errorf(f"{{{{{token.val}}}}} is not supported by zeroserve")
        self.backup()
        pipe = self.pipeline("command", T.RIGHT_DELIM)
        return ActionNode(pipe.pos, pipe.line, pipe)

    def control(self, keyword: str) -> BranchNode:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(keyword, T.RIGHT_DELIM)
            self.range_depth += keyword == "range"
            body, nxt = self.item_list()
            self.range_depth -= keyword == "range"
            else_list: ListNode | None = None
            if isinstance(nxt, _ElseNode):
                if keyword in ("if", "with") and self.peek().typ.name == keyword.upper():
                    self.next()
                    else_list = ListNode(nxt.pos, [self.control(keyword)])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, _EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
            return BranchNode(pipe.pos, keyword, pipe.line, pipe, body, else_list)
        finally:
            del self.vars[mark:]

    # --- pipelines ----------------------------------------------------------------------

    def pipeline(self, context: str, end: T) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        self._declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.typ is end:
                self._check(pipe, context)
                return pipe
            if token.typ in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        """``$x :=`` / ``$x =`` / ``$i, $e :=`` (range) before the commands; a lone ``$x`` is an operand."""
        while (v := self.peek_non_space()).typ is T.VARIABLE:
            self.next_non_space()
            at_variable = self.i - 1
            nxt = self.peek_non_space()
            if nxt.typ in (T.ASSIGN, T.DECLARE):
                pipe.is_assign = nxt.typ is T.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, (v.val,)))
                self.vars.append(v.val)
                return
            if nxt.typ is T.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, (v.val,)))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (T.VARIABLE, T.RIGHT_DELIM, T.RIGHT_PAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            self.i = at_variable
            return

    def _check(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ is T.SPACE:
                continue
            if token.typ in (T.RIGHT_DELIM, T.RIGHT_PAREN):
                self.backup()
            elif token.typ is not T.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().typ is not T.FIELD:
            return node
        chain = ChainNode(self.peek().pos, node)
        while self.peek().typ is T.FIELD:
            chain.fields.append(self.next().val[1:])
        if isinstance(node, FieldNode):
            return FieldNode(chain.pos, (*node.ident, *chain.fields))
        if isinstance(node, VariableNode):
            return VariableNode(chain.pos, (*node.ident, *chain.fields))
        if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
            raise self.errorf(f"unexpected . after term {_go_q(str(node))}")
        return chain

    def term(self) -> Node | None:
        token = self.next_non_space()
        if token.typ is T.IDENTIFIER:
            if token.val not in BUILTINS:
                raise self.errorf(f"function {_go_q(token.val)} not defined")
            return IdentifierNode(token.pos, token.val)
        if token.typ is T.DOT:
            return DotNode(token.pos)
        if token.typ is T.NIL:
            return NilNode(token.pos)
        if token.typ is T.VARIABLE:
            return self.use_var(token)
        if token.typ is T.FIELD:
            return FieldNode(token.pos, tuple(token.val[1:].split(".")))
        if token.typ is T.BOOL:
            return BoolNode(token.pos, token.val == "true")
        if token.typ in (T.CHAR_CONSTANT, T.COMPLEX, T.NUMBER):
            return self.number(token)
        if token.typ is T.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", T.RIGHT_PAREN)
        if token.typ in (T.STRING, T.RAW_STRING):
            return StringNode(token.pos, token.val, self.unquote(token.val))
        self.backup()
        return None

    def use_var(self, token: Token) -> VariableNode:
        name, *fields = token.val.split(".")
        if name not in self.vars:
            raise self.errorf(f"undefined variable {_go_q(name)}")
        return VariableNode(token.pos, (name, *fields))

    def number(self, token: Token) -> NumberNode:
        text = token.val
        if token.typ is T.COMPLEX:
            raise self.errorf(f"complex constants are not supported by zeroserve: {text}")
        if token.typ is T.CHAR_CONSTANT:
            value = self.unquote(text)
            if len(value) != 1:
                raise self.errorf(f"malformed character constant: {text}")
            return NumberNode(token.pos, text, ord(value), float(ord(value)))
        as_int = _go_int(text)
        as_float = _go_float(text)
        if as_int is None and as_float is None:
            raise self.errorf(f"illegal number syntax: {_go_q(text)}")
        if as_int is None and as_float is not None and as_float.is_integer() and abs(as_float) < 2**63:
            as_int = int(as_float)
        if as_int is not None and as_float is None:
            as_float = float(as_int)
        return NumberNode(token.pos, text, as_int, as_float)

    def unquote(self, quoted: str) -> str:
        try:
            return go_unquote(quoted)
        except ValueError:
            raise self.errorf("invalid syntax") from None


_OPERAND_START: Final = frozenset(
    {
        T.BOOL,
        T.CHAR_CONSTANT,
        T.COMPLEX,
        T.DOT,
        T.FIELD,
        T.IDENTIFIER,
        T.NUMBER,
        T.NIL,
        T.RAW_STRING,
        T.STRING,
        T.VARIABLE,
        T.LEFT_PAREN,
    }
)


def _go_q(s: str) -> str:
    return quote(s)


_SIMPLE_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def go_unquote(quoted: str) -> str:
    """Go's ``strconv.Unquote`` of a string, raw string or character literal; ValueError if invalid."""
    q, body = quoted[0], quoted[1:-1]
    if len(quoted) < 2 or quoted[-1] != q:
        raise ValueError(quoted)
    if q == "`":
        return body.replace("\r", "")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == q or ch == "\n":
            raise ValueError(quoted)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _SIMPLE_ESCAPES and not (esc in "'\"" and esc != q):
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(esc)
        if width is not None:
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(quoted)
            code = int(digits, 16)
            if esc != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
                raise ValueError(quoted)
            out.append(chr(code))
            i += 2 + width
            continue
        digits = body[i + 1 : i + 4]
        if len(digits) == 3 and all("0" <= c <= "7" for c in digits) and int(digits, 8) <= 255:
            out.append(chr(int(digits, 8)))
            i += 4
            continue
        raise ValueError(quoted)
    text = "".join(out)
    if q == "'" and len(text) != 1:
        raise ValueError(quoted)
    return text


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``: ``0x``, ``0o``, ``0b``, a leading-0 octal, ``_`` separators."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or body[:1] in "+-":
        return None
    try:
        value = int("0o" + body[1:] if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB" else body, 0)
    except ValueError:
        return None
    value = -value if text.startswith("-") else value
    return value if -(2**63) <= value < 2**63 else None


def _go_float(text: str) -> float | None:
    if "_" in text or text.lower().lstrip("+-").startswith("0x"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse(name: str, text: str) -> ListNode:
    return Parser(name, text).parse()
