"""The scanner of Go's ``text/template/parse/lex.go``: text, ``{{ }}`` actions with trim markers
(``{{- `` and `` -}}``), comments, and the tokens inside an action.

The whole input is scanned at once; a lexical error becomes the last token (``ERROR``), which the
parser reports when it reaches it, so errors come in the order Go reports them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum, auto
from typing import Final

from zeroserve.config.gotemplate.values import quote, rune_u


class T(Enum):
    ERROR = auto()
    BOOL = auto()
    CHAR = auto()
    CHAR_CONSTANT = auto()
    COMPLEX = auto()
    ASSIGN = auto()
    DECLARE = auto()
    EOF = auto()
    FIELD = auto()
    IDENTIFIER = auto()
    LEFT_DELIM = auto()
    LEFT_PAREN = auto()
    NUMBER = auto()
    PIPE = auto()
    RAW_STRING = auto()
    RIGHT_DELIM = auto()
    RIGHT_PAREN = auto()
    SPACE = auto()
    STRING = auto()
    TEXT = auto()
    VARIABLE = auto()
    # keywords
    BLOCK = auto()
    BREAK = auto()
    CONTINUE = auto()
    DOT = auto()
    DEFINE = auto()
    ELSE = auto()
    END = auto()
    IF = auto()
    NIL = auto()
    RANGE = auto()
    TEMPLATE = auto()
    WITH = auto()


KEYWORDS: Final = {
    ".": T.DOT,
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "range": T.RANGE,
    "nil": T.NIL,
    "template": T.TEMPLATE,
    "with": T.WITH,
}
_KEYWORD_TYPES: Final = frozenset(KEYWORDS.values())

LEFT, RIGHT = "{{", "}}"
SPACES: Final = " \t\r\n"


@dataclass(frozen=True)
class Token:
    typ: T
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        """Go's ``item.String``, as quoted in "unexpected ..." errors."""
        if self.typ is T.EOF:
            return "EOF"
        if self.typ is T.ERROR:
            return self.val
        if self.typ in _KEYWORD_TYPES:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


def is_space(ch: str) -> bool:
    return ch in SPACES and ch != ""


def is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or (ch != "" and unicodedata.category(ch) == "Nd")


class Lexer:
    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []

    # --- primitives ---------------------------------------------------------------------

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += ch != ""
        return ch

    def backup(self) -> None:
        self.pos -= 1

    def _line(self) -> int:
        return 1 + self.input.count("\n", 0, self.start)

    def emit(self, typ: T) -> None:
        self.tokens.append(Token(typ, self.start, self.input[self.start : self.pos], self._line()))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def error(self, message: str) -> None:
        self.tokens.append(Token(T.ERROR, self.start, message, self._line()))

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch and ch in valid:
            return True
        if ch:
            self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def at_terminator(self) -> bool:
        ch = self.peek()
        return ch == "" or is_space(ch) or ch in ".,|:)(" or ch == RIGHT[0]

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.input[self.pos :]
        if rest.startswith(RIGHT):
            return True, False
        if len(rest) >= 2 and is_space(rest[0]) and rest[1] == "-" and rest[2:].startswith(RIGHT):
            return True, True
        return False, False

    # --- states -------------------------------------------------------------------------

    def run(self) -> list[Token]:
        """Scan everything: the tokens, ending with EOF or ERROR."""
        while self._text():
            if self._left_delim():
                while self._inside_action():
                    pass
            if self.tokens and self.tokens[-1].typ is T.ERROR:
                break
        return self.tokens

    def _text(self) -> bool:
        """Text up to the next ``{{``; False at the end (EOF emitted)."""
        x = self.input.find(LEFT, self.pos)
        if x < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self.emit(T.TEXT)
            self.emit(T.EOF)
            return False
        self.pos = x
        trim = 0
        after = self.input[x + len(LEFT) :]
        if len(after) >= 2 and after[0] == "-" and is_space(after[1]):
            text = self.input[self.start : x]
            trim = len(text) - len(text.rstrip(SPACES))
        self.pos -= trim
        if self.pos > self.start:
            self.emit(T.TEXT)
        self.pos += trim
        self.ignore()
        return True

    def _left_delim(self) -> bool:
        """After ``{{``: True for an action, False for a comment (skipped, or an ERROR token)."""
        self.pos += len(LEFT)
        rest = self.input[self.pos :]
        marker = 2 if len(rest) >= 2 and rest[0] == "-" and is_space(rest[1]) else 0
        if rest[marker:].startswith("/*"):
            self.pos += marker
            self.ignore()
            self._comment()
            return False
        self.emit(T.LEFT_DELIM)
        self.pos += marker
        self.ignore()
        self.paren_depth = 0
        return True

    def _comment(self) -> None:
        self.pos += 2
        end = self.input.find("*/", self.pos)
        if end < 0:
            self.error("unclosed comment")
            self.pos = len(self.input)
            return
        self.pos = end + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            self.pos = len(self.input)
            return
        self.pos += (2 if trim else 0) + len(RIGHT)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACES))
        self.ignore()

    def _right_delim(self) -> None:
        trim = self.at_right_delim()[1]
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT)
        self.emit(T.RIGHT_DELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACES))
            self.ignore()

    def _inside_action(self) -> bool:
        """One token inside an action; False once the action closed or failed."""
        if self.at_right_delim()[0]:
            if self.paren_depth == 0:
                self._right_delim()
                return False
            self.error("unclosed left paren")
            return False
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return False
        if is_space(ch):
            self.backup()
            return self._space()
        simple = {"=": T.ASSIGN, "|": T.PIPE}
        if ch in simple:
            self.emit(simple[ch])
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
                return False
            self.emit(T.DECLARE)
        elif ch == '"':
            return self._quote('"', T.STRING, "unterminated quoted string")
        elif ch == "`":
            return self._raw_quote()
        elif ch == "'":
            return self._quote("'", T.CHAR_CONSTANT, "unterminated character constant")
        elif ch == "$":
            return self._field_or_variable(T.VARIABLE)
        elif ch == "." and not "0" <= self.peek() <= "9":
            return self._field_or_variable(T.FIELD)
        elif ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self._number()
        elif is_alnum(ch):
            self.backup()
            return self._identifier()
        elif ch == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(T.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {rune_u(ch)}")
                return False
        elif " " <= ch <= "~":
            self.emit(T.CHAR)
        else:
            self.error(f"unrecognized character in action: {rune_u(ch)}")
            return False
        return True

    def _space(self) -> bool:
        spaces = 0
        while is_space(self.peek()):
            self.next()
            spaces += 1
        rest = self.input[self.pos - 1 :]
        if len(rest) >= 2 and rest[1] == "-" and rest[2:].startswith(RIGHT):
            self.backup()  # the space belongs to the trim marker " -}}"
            if spaces == 1:
                self._right_delim()
                return False
        self.emit(T.SPACE)
        return True

    def _identifier(self) -> bool:
        while is_alnum(self.peek()):
            self.next()
        if not self.at_terminator():
            self.error(f"bad character {rune_u(self.peek())}")
            return False
        word = self.input[self.start : self.pos]
        if word in KEYWORDS:
            self.emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self.emit(T.BOOL)
        else:
            self.emit(T.IDENTIFIER)
        return True

    def _field_or_variable(self, typ: T) -> bool:
        if self.at_terminator():  # "." or "$" alone
            self.emit(T.VARIABLE if typ is T.VARIABLE else T.DOT)
            return True
        while is_alnum(self.peek()):
            self.next()
        if not self.at_terminator():
            self.error(f"bad character {rune_u(self.peek())}")
            return False
        self.emit(typ)
        return True

    def _quote(self, close: str, typ: T, unterminated: str) -> bool:
        while True:
            ch = self.next()
            if ch == "\\":
                ch = self.next()
                if ch not in ("", "\n"):
                    continue
            if ch in ("", "\n"):
                self.error(unterminated)
                return False
            if ch == close:
                break
        self.emit(typ)
        return True

    def _raw_quote(self) -> bool:
        end = self.input.find("`", self.pos)
        if end < 0:
            self.error("unterminated raw quoted string")
            return False
        self.pos = end + 1
        self.emit(T.RAW_STRING)
        return True

    def _scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 10 + 1 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 16 + 6 + 1 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.next()
            return False
        return True

    def _number(self) -> bool:
        if not self._scan_number():
            self.error(f"bad number syntax: {quote(self.input[self.start : self.pos])}")
            return False
        if self.peek() in ("+", "-") and self.peek():
            if not self._scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {quote(self.input[self.start : self.pos])}")
                return False
            self.emit(T.COMPLEX)
        else:
            self.emit(T.NUMBER)
        return True


def lex(text: str) -> list[Token]:
    return Lexer(text).run()
