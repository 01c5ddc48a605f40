"""Grandstream dial plan (SPEC §9, seed 3.15): parse a plan, check and transform dialed numbers.

Syntax, as the GXP documents it: ``{ rule | rule | ... }``; digits ``0-9 * # A-D`` (letters in any
case); ``x`` (or ``X``) any digit 0-9; ``[147]`` / ``[3-5]`` classes; ``+`` after an element repeats it
one or more times; ``\\+`` is a literal plus; ``^`` starting a rule blocks what it matches;
``<a=b>`` matches the literal ``a`` and dials ``b`` instead (``<=1617>`` adds, ``<1617=>`` strips).
Whitespace is ignored.

``.`` after an element means the same as ``+`` (one or more, not zero or more): the seed (3.15) does
not mention ``.``; SPEC §9 says "``.`` as ``+``" and Grandstream's own manuals read "xx+ or xx. - at
least 2 digit numbers", so that is what we follow.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_PLAN", "DialPlan", "DialPlanError", "Rule", "Verdict"]

DEFAULT_PLAN = "{ x+ | \\+x+ | *x+ | *xx*x+ }"

_DIGITS = "0123456789"
_LITERALS = frozenset(_DIGITS + "*#ABCD")  # what may be dialed on the keypad, upper-cased
_ALPHABET = tuple(sorted(_LITERALS | {"+"}))  # every symbol a number may hold
_ANY_DIGIT = frozenset(_DIGITS)
# Exploring the number space in state() is bounded; beyond it we answer "incomplete" (safe: never sends early).
_STATE_LIMIT = 20_000

State = Literal["complete", "incomplete", "invalid"]


class DialPlanError(ValueError):
    """A dial plan that cannot be parsed; ``column`` is 1-based, ``reason`` says what is wrong."""

    def __init__(self, column: int, reason: str) -> None:
        super().__init__(f"dial plan: column {column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class _Element:
    """One dialed position: the symbols it accepts, and whether ``+``/``.`` repeats it."""

    chars: frozenset[str]
    repeat: bool = False

    def regex(self) -> str:
        body = "".join(re.escape(c) for c in sorted(self.chars))
        one = re.escape(next(iter(self.chars))) if len(self.chars) == 1 else f"[{body}]"
        return one + ("+" if self.repeat else "")


@dataclass(frozen=True)
class _Replace:
    """``<find=put>``: matches the literal ``find`` and dials ``put`` in its place."""

    find: str
    put: str


@dataclass(frozen=True)
class Rule:
    """One rule of a plan: its text as written, whether it blocks, and its compiled matcher."""

    text: str
    blocking: bool
    parts: tuple[_Element | _Replace, ...]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """The rule as a regex; each ``<a=b>`` is a capturing group so it can be replaced."""
        pieces = []
        for part in self.parts:
            if isinstance(part, _Replace):
                pieces.append(f"({re.escape(part.find)})")
            else:
                pieces.append(f"(?:{part.regex()})")
        return re.compile("".join(pieces), re.IGNORECASE | re.ASCII)

    @functools.cached_property
    def elements(self) -> tuple[_Element, ...]:
        """The rule as a flat sequence of positions (``<a=b>`` becomes the literals of ``a``)."""
        flat: list[_Element] = []
        for part in self.parts:
            if isinstance(part, _Replace):
                flat.extend(_Element(frozenset(c)) for c in part.find)
            else:
                flat.append(part)
        return tuple(flat)

    def transform(self, match: re.Match[str]) -> str:
        """The number to dial: the matched number with every ``<a=b>`` applied."""
        number, out, last = match.string, [], 0
        replaces = [p for p in self.parts if isinstance(p, _Replace)]
        for group, part in enumerate(replaces, start=1):
            start, end = match.span(group)
            out += [number[last:start], part.put]
            last = end
        out.append(number[last:])
        return "".join(out)


@dataclass(frozen=True)
class Verdict:
    """What the dial plan says about one number."""

    allowed: bool
    blocked: bool
    number: str
    rule: str | None
    reason: str


class _Parser:
    """Reads plan text left to right, keeping the column of every complaint."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, pos: int | None = None) -> DialPlanError:
        return DialPlanError((self.pos if pos is None else pos) + 1, reason)

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def plan(self) -> tuple[Rule, ...]:
        self.skip_space()
        if self.peek() is None:
            raise self.fail("the dial plan is empty: write at least {x+}")
        if self.peek() != "{":
            raise self.fail(f"missing '{{': a dial plan starts with '{{', found {self.peek()!r}")
        self.pos += 1
        rules: list[Rule] = []
        while True:
            rules.append(self.rule(first=not rules))
            if self.peek() == "|":
                self.pos += 1
                continue
            if self.peek() is None:
                raise self.fail("missing '}': end the dial plan with '}'")
            self.pos += 1  # the closing '}'
            break
        self.skip_space()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r} after the closing '}}': remove it")
        return tuple(rules)

    def rule(self, first: bool) -> Rule:
        self.skip_space()
        start = self.pos
        blocking = self.peek() == "^"
        if blocking:
            self.pos += 1
        parts: list[_Element | _Replace] = []
        while True:
            self.skip_space()
            c = self.peek()
            if c is None or c in "|}":
                break
            parts.append(self.part(parts))
        if not parts:
            if c == "}" and first and not blocking:
                raise self.fail("the dial plan has no rules: write at least {x+}")
            if blocking:
                raise self.fail("empty rule: '^' needs a rule to block, like ^1900x+")
            raise self.fail("empty rule: write a rule or remove the extra '|'")
        return Rule(self.text[start : self.pos].strip(), blocking, tuple(parts))

    def part(self, parts: list[_Element | _Replace]) -> _Element | _Replace:
        c = self.text[self.pos]
        up = c.upper()
        if up in _LITERALS:
            self.pos += 1
            return _Element(frozenset(up))
        if up == "X":
            self.pos += 1
            return _Element(_ANY_DIGIT)
        if c == "\\":
            return _Element(frozenset(self.escaped()))
        if c == "[":
            return self.char_class()
        if c == "<":
            return self.replace()
        if c in "+.":
            return self.repeat(parts)
        if c == "^":
            raise self.fail("'^' blocks a rule only at its start: move it right after '{' or '|'")
        if c in "]>=":
            raise self.fail(f"unexpected {c!r}: it closes nothing")
        if c == "{":
            raise self.fail("unexpected '{': a dial plan has one pair of braces")
        raise self.fail(f"unknown character {c!r}: use digits, * # + A-D, x, [ ], < = >, ^ and |")

    def repeat(self, parts: list[_Element | _Replace]) -> _Element:
        c = self.text[self.pos]
        prev = parts[-1] if parts else None
        if prev is None:
            raise self.fail(f"{c!r} has nothing to repeat: write \\+ for a plus sign")
        if isinstance(prev, _Replace):
            raise self.fail(f"{c!r} cannot repeat a <...> replacement")
        if prev.repeat:
            raise self.fail(f"{c!r} after a repeat: the element already repeats")
        self.pos += 1
        parts.pop()
        return _Element(prev.chars, repeat=True)

    def escaped(self) -> str:
        at = self.pos
        self.pos += 1
        c = self.peek()
        if c is None or (c != "+" and c.upper() not in _LITERALS):
            raise self.fail("'\\' must be followed by '+' (a plus sign) or a digit", at)
        self.pos += 1
        return c.upper()

    def char_class(self) -> _Element:
        opened = self.pos
        self.pos += 1
        chars: set[str] = set()
        while True:
            self.skip_space()
            c = self.peek()
            if c is None or c in "|}[" or not self.closes_later("]"):
                raise self.fail("unclosed '[': close the class with ']'", opened)
            if c == "]":
                self.pos += 1
                break
            up = c.upper()
            if c == "\\":
                chars.add(self.escaped())
            elif up == "X":
                chars |= _ANY_DIGIT
                self.pos += 1
            elif up in _LITERALS or c == "+":
                self.pos += 1
                chars |= self.range_from(up) if self.next_is_dash() else {up}
            elif c == "-":
                raise self.fail("'-' needs a digit on both sides, like [3-5]")
            else:
                raise self.fail(f"unknown character {c!r} inside '[...]'")
        if not chars:
            raise self.fail("empty '[]': put the digits it allows inside, like [147]", opened)
        return _Element(frozenset(chars))

    def next_is_dash(self) -> bool:
        self.skip_space()
        return self.peek() == "-"

    def range_from(self, low: str) -> set[str]:
        dash = self.pos
        self.pos += 1
        self.skip_space()
        high = self.peek()
        if low not in _DIGITS or high is None or high not in _DIGITS:
            raise self.fail("a range runs between two digits, like [3-5]", dash)
        if high < low:
            raise self.fail(f"the range {low}-{high} runs backwards: write {high}-{low}", dash)
        self.pos += 1
        return {str(d) for d in range(int(low), int(high) + 1)}

    def closes_later(self, closer: str) -> bool:
        """Whether ``closer`` comes before the rule ends, so a bad character is reported as itself."""
        rest = re.split(r"[|}]", self.text[self.pos :], maxsplit=1)[0]
        return closer in rest

    def replace(self) -> _Replace:
        opened = self.pos
        self.pos += 1
        sides: list[list[str]] = [[]]
        while True:
            self.skip_space()
            c = self.peek()
            if c is None or c in "|}<" or not self.closes_later(">"):
                raise self.fail("unclosed '<': close the replacement with '>'", opened)
            if c == ">":
                self.pos += 1
                break
            if c == "=":
                if len(sides) == 2:
                    raise self.fail("a second '=' inside '<...>': write <from=to>")
                sides.append([])
                self.pos += 1
            elif c == "\\":
                sides[-1].append(self.escaped())
            elif c.upper() in _LITERALS or c == "+":
                sides[-1].append(c.upper())
                self.pos += 1
            else:
                raise self.fail(f"{c!r} inside '<...>': only digits, * # + and A-D are dialed literally")
        if len(sides) != 2:
            raise self.fail("missing '=' in '<...>': write <from=to>, like <=1617>", opened)
        find, put = ("".join(s) for s in sides)
        if not find and not put:
            raise self.fail("'<=>' changes nothing: remove it", opened)
        return _Replace(find, put)


@dataclass(frozen=True)
class DialPlan:
    """A parsed dial plan; immutable, so parsed plans are cached and shared."""

    text: str
    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> DialPlan:
        """Parse ``text``; raises DialPlanError naming the column and the reason."""
        return _parse_cached(text)

    def __str__(self) -> str:
        return self.text

    def allow(self, number: str) -> bool:
        """True when the plan lets ``number`` be dialed."""
        return self.check(number).allowed

    def check(self, number: str, prefix: str = "") -> Verdict:
        """Decide on ``number``: blocked, not allowed, or allowed and dialed as ``prefix`` + transformed."""
        shown = number or "An empty number"
        for rule in self.rules:
            if rule.blocking and rule.pattern.fullmatch(number):
                reason = f"{shown} is blocked by the dial plan rule {rule.text}"
                return Verdict(False, True, number, rule.text, reason)
        for rule in self.rules:
            match = None if rule.blocking else rule.pattern.fullmatch(number)
            if match:
                dialed = prefix + rule.transform(match)
                reason = f"{shown} is allowed by the dial plan rule {rule.text}"
                if dialed != number:
                    reason += f" and dialed as {dialed}"
                return Verdict(True, False, dialed, rule.text, reason)
        return Verdict(False, False, number, None, f"{shown} is not allowed by the dial plan")

    def state(self, partial: str) -> State:
        """While dialing: "complete" (send now, nothing longer is allowed), "incomplete", or "invalid"."""
        current = self._start()
        for c in partial.upper():
            current = self._step(current, c)
            if not self._can_allow(current):
                return "invalid"
        grows = self._allowed_after(current)
        if grows is None:  # search too large to finish: never claim "complete" or "invalid"
            return "incomplete"
        if self._accepts(current):
            return "incomplete" if grows else "complete"
        return "incomplete" if grows else "invalid"

    # The matcher below walks all rules at once as a small automaton: a state is the set of
    # (rule index, elements matched so far), so state() can ask about every longer number.

    def _start(self) -> frozenset[tuple[int, int]]:
        return frozenset((i, 0) for i in range(len(self.rules)))

    def _step(self, current: frozenset[tuple[int, int]], c: str) -> frozenset[tuple[int, int]]:
        nxt = set()
        for i, at in current:
            elements = self.rules[i].elements
            if at < len(elements) and c in elements[at].chars:
                nxt.add((i, at + 1))
            if at > 0 and elements[at - 1].repeat and c in elements[at - 1].chars:
                nxt.add((i, at))
        return frozenset(nxt)

    def _accepts(self, current: frozenset[tuple[int, int]]) -> bool:
        done = [i for i, at in current if at == len(self.rules[i].elements)]
        return any(not self.rules[i].blocking for i in done) and all(
            not self.rules[i].blocking for i in done
        )

    def _can_allow(self, current: frozenset[tuple[int, int]]) -> bool:
        return any(not self.rules[i].blocking for i, _ in current)

    def _allowed_after(self, current: frozenset[tuple[int, int]]) -> bool | None:
        """Whether some longer number (one or more symbols more) is allowed; None if undecided."""
        seen = {current}
        queue = deque([current])
        while queue:
            state = queue.popleft()
            for c in _ALPHABET:
                nxt = self._step(state, c)
                if not self._can_allow(nxt):
                    continue
                if self._accepts(nxt):
                    return True
                if nxt in seen:
                    continue
                if len(seen) >= _STATE_LIMIT:
                    return None
                seen.add(nxt)
                queue.append(nxt)
        return False


@functools.lru_cache(maxsize=64)
def _parse_cached(text: str) -> DialPlan:
    return DialPlan(text, _Parser(text).plan())
