"""The executor of Go's ``text/template/exec.go``: walks the tree over a :class:`Struct`, with Go's
rules (a missing map key is ``<no value>``, ``index`` of one is ``""``, ``if`` on zero values is
false) and Go's errors: ``template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE``.

Methods of the data are called as Go calls them (``.Request.UserAgent``, ``.Request.Header.Get
"X-Id"``): a name is looked up among the receiver's methods before its fields or map keys, with
Go's argument checks and ``error calling NAME: ...`` for a method's error.
"""

from __future__ import annotations

from typing import Final, NoReturn, TypeAlias

from zeroserve.config.gotemplate.funcs import BUILTINS, FuncError
from zeroserve.config.gotemplate.parse import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TextNode,
    VariableNode,
)
from zeroserve.config.gotemplate.values import (
    NO_VALUE,
    Method,
    Struct,
    TemplateError,
    Value,
    methods_of,
    sprint_value,
    truth,
    type_name,
)


class ExecError(TemplateError):
    """An execution error, worded as Go's ``state.errorf``."""


class _Missing:
    """Go's ``missingVal``: no value piped in from a previous command."""


MISSING: Final = _Missing()
Piped: TypeAlias = "Value | _Missing"


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    def __init__(self, name: str, text: str, data: Value) -> None:
        self.name = name
        self.text = text
        self.node: Node | None = None
        self.vars: list[list[object]] = [["$", data]]
        self.out: list[str] = []

    # --- errors and variables -----------------------------------------------------------

    def at(self, node: Node) -> None:
        self.node = node

    def errorf(self, message: str) -> NoReturn:
        if self.node is None:
            raise ExecError(f"template: {self.name}: {message}")
        pos = self.node.pos
        before = self.text[:pos]
        newline = before.rfind("\n")
        col = pos if newline < 0 else pos - newline - 1
        location = f"{self.name}:{1 + before.count(chr(10))}:{col}"
        raise ExecError(f'template: {location}: executing "{self.name}" at <{self.node}>: {message}')

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Value) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def var_value(self, name: str) -> Value:
        for var in reversed(self.vars):
            if var[0] == name:
                return var[1]  # type: ignore[return-value]
        self.errorf(f"undefined variable: {name}")

    # --- walking ------------------------------------------------------------------------

    def walk(self, dot: Value, node: Node) -> None:
        self.at(node)
        if isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.at(node)
                self.out.append(sprint_value(value))
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Value, node: BranchNode) -> None:
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.keyword == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Value, node: BranchNode) -> None:
        self.at(node)
        outer = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            items: list[tuple[Value, Value]]
            if isinstance(value, list):
                items = list(enumerate(value))
            elif isinstance(value, dict):
                items = [(k, value[k]) for k in sorted(value)]
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(node.pipe.decl) > 1:
                    self.errorf(f"can't use {value} to iterate over more than one variable")
                items = [(i, i) for i in range(value)]
            elif value is NO_VALUE:
                items = []
            else:
                self.errorf(f"range can't iterate over {sprint_value(value)}")
            try:
                for key, elem in items:
                    self._iteration(node, key, elem)
            except _Break:
                return
            if not items and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(outer)

    def _iteration(self, node: BranchNode, key: Value, elem: Value) -> None:
        mark = self.mark()
        decl = node.pipe.decl
        if decl:
            if node.pipe.is_assign:
                self.set_var(decl[0].ident[0], key if len(decl) > 1 else elem)
            else:
                self.vars[-1][1] = elem
        if len(decl) > 1:
            if node.pipe.is_assign:
                self.set_var(decl[1].ident[0], elem)
            else:
                self.vars[-2][1] = key
        try:
            self.walk(elem, node.list)
        except _Continue:
            pass
        finally:
            self.pop(mark)

    # --- evaluation ---------------------------------------------------------------------

    def eval_pipeline(self, dot: Value, pipe: PipeNode) -> Value:
        self.at(pipe)
        value: Piped = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # an empty interface{}: dig down to nothing
                value = NO_VALUE
        assert not isinstance(value, _Missing)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: list[Node], final: Piped) -> None:
        if len(args) > 1 or final is not MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Value, cmd: CommandNode, final: Piped) -> Value:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            self.at(first)
            return self.eval_field_chain(dot, dot, first, list(first.ident), cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        self.errorf(f"can't evaluate command {first}")

    def ideal_constant(self, n: NumberNode) -> Value:
        self.at(n)
        text = n.text
        is_hex = len(text) > 2 and text.lstrip("+-")[:2].lower() == "0x" and not any(c in text for c in "pP")
        if n.float_value is not None and not is_hex and not text.startswith("'") and any(c in text for c in ".eEpP"):
            return n.float_value
        if n.int_value is not None:
            return n.int_value
        self.errorf(f"{text} overflows int")

    def eval_chain(self, dot: Value, chain: ChainNode, args: list[Node], final: Piped) -> Value:
        self.at(chain)
        if isinstance(chain.node, NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "untyped", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Value, var: VariableNode, args: list[Node], final: Piped) -> Value:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, list(var.ident[1:]), args, final)

    def eval_field_chain(
        self, dot: Value, receiver: Value, node: Node, ident: list[str], args: list[Node], final: Piped
    ) -> Value:
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, [], MISSING, receiver)
        return self.eval_field(dot, ident[-1], args, final, receiver)

    def eval_field(self, dot: Value, name: str, args: list[Node], final: Piped, receiver: Value) -> Value:
        if receiver is NO_VALUE or receiver is None:
            return NO_VALUE
        method = methods_of(receiver).get(name)
        if method is not None:
            return self.eval_method(dot, method, name, args, final)
        has_args = len(args) > 1 or final is not MISSING
        if isinstance(receiver, Struct) and name in receiver.fields:
            if has_args:
                self.errorf(f"{name} has arguments but cannot be invoked as function")
            return receiver.fields[name]
        if isinstance(receiver, dict):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            return receiver.get(name, NO_VALUE)
        self.errorf(f"can't evaluate field {name} in type {type_name(receiver)}")

    # --- calls --------------------------------------------------------------------------

    def eval_method(self, dot: Value, method: Method, name: str, args: list[Node], final: Piped) -> Value:
        """Go's ``evalCall`` for a method of the data (``args[0]`` is the field naming it)."""
        node = self.node
        rest = args[1:]
        given = len(rest) + (final is not MISSING)
        if given != len(method.params):
            self.errorf(f"wrong number of args for {name}: want {len(method.params)} got {given}")
        argv = [self.eval_arg(dot, kind, arg) for kind, arg in zip(method.params, rest, strict=False)]
        if not isinstance(final, _Missing):
            argv.append(self.validate(final, method.params[-1]))
        try:
            return method.fn(*argv)
        except FuncError as err:
            if node is not None:
                self.at(node)
            self.errorf(f"error calling {name}: {err}")

    def eval_function(
        self, dot: Value, node: IdentifierNode, cmd: Node, args: list[Node] | None, final: Piped
    ) -> Value:
        self.at(node)
        sig = BUILTINS.get(node.name)
        if sig is None:
            self.errorf(f'"{node.name}" is not a defined function')
        rest = (args or [])[1:]
        given = len(rest) + (final is not MISSING)
        fixed = len(sig.params)
        if sig.variadic is not None and given < fixed:
            self.errorf(f"wrong number of args for {node.name}: want at least {fixed} got {len(rest)}")
        if sig.variadic is None and given != fixed:
            self.errorf(f"wrong number of args for {node.name}: want {fixed} got {given}")
        kinds = [*sig.params, *[sig.variadic or ""] * (len(rest) - fixed)]
        if node.name in ("and", "or"):
            value: Value = NO_VALUE
            for arg in rest:
                value = self.eval_arg(dot, "value", arg)
                if truth(value) == (node.name == "or"):
                    return value
            return value if isinstance(final, _Missing) else self.validate(final, "value")
        argv = [self.eval_arg(dot, kind, arg) for kind, arg in zip(kinds, rest, strict=False)]
        if not isinstance(final, _Missing):
            last = sig.params[given - 1] if given - 1 < fixed else sig.variadic or ""
            argv.append(self.validate(final, last))
        try:
            if node.name == "call":
                return self._call(rest[0] if rest else cmd, argv)
            return sig.fn(*argv)
        except FuncError as err:
            self.at(cmd)
            self.errorf(f"error calling {node.name}: {err}")

    @staticmethod
    def _call(callee: Node, argv: list[Value]) -> Value:
        fn = argv[0]
        if fn is NO_VALUE or fn is None:
            raise FuncError("call of nil")
        raise FuncError(f"non-function {callee} of type {type_name(fn)}")

    def validate(self, value: Value, kind: str) -> Value:
        """``validateType``: an invalid value becomes nil where Go allows one."""
        if value is NO_VALUE:
            if kind in ("value", "untyped"):
                return NO_VALUE
            if kind == "any":
                return None
            self.errorf(f"invalid value; expected {kind}")
        if kind == "string" and not isinstance(value, str):
            self.errorf(f"wrong type for value; expected string; got {type_name(value)}")
        return value

    def eval_arg(self, dot: Value, kind: str, n: Node) -> Value:
        self.at(n)
        if isinstance(n, DotNode):
            return self.validate(dot, kind)
        if isinstance(n, NilNode):
            if kind == "string":
                self.errorf("cannot assign nil to string")
            return NO_VALUE if kind == "value" else None
        if isinstance(n, FieldNode):
            return self.validate(self.eval_field_chain(dot, dot, n, list(n.ident), [n], MISSING), kind)
        if isinstance(n, VariableNode):
            return self.validate(self.eval_variable(dot, n, [], MISSING), kind)
        if isinstance(n, PipeNode):
            return self.validate(self.eval_pipeline(dot, n), kind)
        if isinstance(n, IdentifierNode):
            return self.validate(self.eval_function(dot, n, n, None, MISSING), kind)
        if isinstance(n, ChainNode):
            return self.validate(self.eval_chain(dot, n, [], MISSING), kind)
        if kind == "string":
            if isinstance(n, StringNode):
                return n.text
            self.errorf(f"expected string; found {n}")
        if isinstance(n, BoolNode):
            return n.value
        if isinstance(n, NumberNode):
            return self.ideal_constant(n)
        if isinstance(n, StringNode):
            return n.text
        self.errorf(f"can't handle assignment of {n} to empty interface argument")


def execute(name: str, text: str, root: ListNode, data: Value) -> str:
    state = State(name, text, data)
    state.walk(data, root)
    return "".join(state.out)
